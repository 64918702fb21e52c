"""Per-process programs over JAX's multi-process runtime.

torch.distributed is SPMD over processes: every rank runs the same python, holds its own local
tensors, and a collective combines them. JAX's multi-process model is SPMD over *global* arrays.
The bridge: a local array ``x`` of every rank is one row of a global array of shape
``(world, *x.shape)``, sharded over a one-axis mesh (one device per process, axis ``"ranks"``);
a ``shard_map`` body sees its own row, so ``jax.lax.psum(x, "ranks")`` is torch's all-reduce.
:func:`run` runs such a body eagerly on local arrays; :class:`SpmdJit` runs a whole traced
function (a ``funcgrad.compile`` step) under it, so collectives issued while tracing are part of the
compiled program.
"""
from __future__ import annotations

import os
import sys
import threading
import time

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from ._store import DistBackendError

__all__ = ["AXIS", "Runtime", "run", "SpmdJit", "in_body", "is_traced"]

AXIS = "ranks"


class _Local(threading.local):
    body = 0  # > 0 while tracing inside an spmd body (the axis name is bound)


_local = _Local()


def in_body():
    return _local.body > 0


def is_traced(x):
    return isinstance(x, jax.core.Tracer)


class _Watchdog:
    """torch's collective watchdog: a collective that has not finished ``timeout`` seconds after it
    started (a rank hung, or never calls it) ends this process with a message naming it, instead of
    blocking forever. One thread polls a deadline; arming it costs two assignments."""

    def __init__(self, timeout):
        self.timeout = timeout
        self.deadline = None
        self.what = None
        threading.Thread(target=self._watch, daemon=True, name="funcgrad-distributed-watchdog").start()

    def _watch(self):
        while True:
            time.sleep(min(1.0, max(0.05, self.timeout / 20)))
            d = self.deadline
            if d is not None and time.monotonic() > d:
                print(f"[funcgrad.distributed] watchdog: {self.what} did not finish within {self.timeout:g}s (the "
                      "timeout of init_process_group): a rank is hung, has died, or does not call it. Terminating "
                      "this process.", file=sys.stderr, flush=True)
                sys.stdout.flush()
                os._exit(1)

    def __enter__(self):
        self.deadline = time.monotonic() + self.timeout
        return self

    def __exit__(self, *exc):
        self.deadline = None


class Runtime:
    """The mesh of one device per process and the cache of collective programs."""

    def __init__(self, world_size, rank, timeout=1800.0):
        self.world_size = world_size
        self.rank = rank
        self.watchdog = _Watchdog(timeout) if world_size > 1 else None
        if world_size == 1:
            devs = [jax.local_devices()[0]]
        else:
            devs = [min((d for d in jax.devices() if d.process_index == p), key=lambda d: d.id)
                    for p in range(world_size)]
        self.device = jax.local_devices()[0]
        self.mesh = Mesh(np.array(devs), (AXIS,))
        self.sharding = NamedSharding(self.mesh, P(AXIS))
        self.programs = {}

    def to_global(self, x):
        x = jax.device_put(x, self.device)
        x = jax.numpy.expand_dims(x, 0)
        return jax.make_array_from_single_device_arrays((self.world_size,) + x.shape[1:], self.sharding, [x])

    def guard(self, what):
        if self.watchdog is None:
            return _NOGUARD
        self.watchdog.what = what
        return self.watchdog

    @staticmethod
    def to_local(g):
        return g.addressable_data(0)[0]

    def program(self, key, body, n_in):
        """The jitted shard_map of ``body`` (local arrays in, tuple of local arrays out)."""
        fn = self.programs.get(key)
        if fn is None:
            def f(*xs):
                _local.body += 1
                try:
                    outs = body(*[x[0] for x in xs])
                finally:
                    _local.body -= 1
                return tuple(jax.numpy.expand_dims(o, 0) for o in outs)

            fn = self.programs[key] = jax.jit(jax.shard_map(f, mesh=self.mesh, in_specs=(P(AXIS),) * n_in,
                                                            out_specs=P(AXIS), check_vma=False))
        return fn


class _NoGuard:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        pass


_NOGUARD = _NoGuard()


def run(rt, key, body, arrays, what="collective"):
    """Run ``body`` (local arrays -> tuple of local arrays, may use ``AXIS`` collectives) on every rank.

    Inside an spmd trace (a compiled step), ``body`` is applied to the traced values directly."""
    if any(is_traced(a) for a in arrays):
        if not in_body():
            raise RuntimeError(f"funcgrad.distributed.{what}: called on a traced value outside a step compiled by "
                               "funcgrad.compile under an initialized process group (jax transforms such as "
                               "funcgrad.func.vmap/grad cannot run collectives)")
        return list(body(*arrays))
    fn = rt.program(key, body, len(arrays))
    try:
        with rt.guard(what):
            outs = fn(*[rt.to_global(a) for a in arrays])
            res = [rt.to_local(o) for o in outs]
            for r in res:
                r.block_until_ready()
    except (jax.errors.JaxRuntimeError, ValueError, RuntimeError) as e:
        raise _backend_error(what, e) from None
    return res


broken = []  # set once a collective failed: the runtime's shutdown handshake would only wait and abort


def _backend_error(what, e):
    broken.append(what)
    msg = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return DistBackendError(f"funcgrad.distributed.{what} failed: {msg}. A peer process has probably exited or "
                            "crashed (see its output); this rank cannot continue.")


class SpmdJit:
    """``jax.jit(pure)`` run as every rank's own program: local pytrees in and out, the rank axis bound
    while tracing so collectives become part of the program. Used by ``funcgrad.compile``."""

    def __init__(self, rt, pure):
        self.rt = rt
        self.pure = pure

    def lower(self, *args):
        rt = self.rt
        pure = self.pure

        def f(*gargs):
            local = jax.tree_util.tree_map(lambda b: b[0], gargs)
            _local.body += 1
            try:
                out = pure(*local)
            finally:
                _local.body -= 1
            return jax.tree_util.tree_map(lambda o: jax.numpy.expand_dims(o, 0), out)

        fn = jax.jit(jax.shard_map(f, mesh=rt.mesh, in_specs=tuple(P(AXIS) for _ in args), out_specs=P(AXIS),
                                   check_vma=False))
        gargs = jax.tree_util.tree_map(rt.to_global, args)
        compiled = fn.lower(*gargs).compile()
        return _Lowered(rt, compiled)


class _Lowered:
    def __init__(self, rt, compiled):
        self.rt = rt
        self.compiled = compiled

    def compile(self):
        return self

    def __call__(self, *args):
        rt = self.rt
        try:
            # waited for under the watchdog: a rank missing from the step's collectives must not hang us
            with rt.guard("a compiled step's collectives"):
                out = self.compiled(*jax.tree_util.tree_map(rt.to_global, args))
                out = jax.tree_util.tree_map(rt.to_local, out)
                jax.block_until_ready(out)
            return out
        except (jax.errors.JaxRuntimeError, ValueError) as e:
            raise _backend_error("compiled step", e) from None
