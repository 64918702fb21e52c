"""The default process group and torch's collectives, on JAX's multi-process runtime.

``init_process_group`` rendezvous through a :class:`TCPStore` at ``MASTER_ADDR:MASTER_PORT`` (torch's
timeouts and errors), then starts JAX's distributed runtime (``jax.distributed.initialize``; CPU
processes talk through gloo). Every collective is a cached XLA program over a one-axis mesh of one
device per process (see ``_spmd``); results are written into the given tensors in place, as torch does.
"""
from __future__ import annotations

import atexit
import enum
import os
import pickle
import socket
import sys
from datetime import timedelta

import jax
import jax.numpy as jnp
import numpy as np

from .. import _lazy
from .._autograd import grad_mode
from ..compile import _set_spmd_program
from ..tensor import Tensor
from . import _spmd
from ._store import DistBackendError, DistError, DistNetworkError, DistStoreError, TCPStore

__all__ = ["init_process_group", "destroy_process_group", "is_initialized", "is_available", "get_rank",
           "get_world_size", "get_backend", "barrier", "monitored_barrier", "ReduceOp", "Work", "ProcessGroup",
           "group", "GroupMember", "new_group", "get_process_group_ranks", "get_global_rank", "get_group_rank",
           "all_reduce", "all_gather", "all_gather_into_tensor", "reduce_scatter", "reduce_scatter_tensor",
           "broadcast", "reduce", "all_to_all", "all_to_all_single", "gather", "scatter", "send", "recv",
           "all_gather_object", "broadcast_object_list", "gather_object", "scatter_object_list",
           "is_gloo_available", "is_nccl_available", "is_mpi_available", "is_torchelastic_launched", "Backend",
           "TCPStore", "DistError", "DistBackendError", "DistNetworkError", "DistStoreError"]

_NOT_INIT = "Default process group has not been initialized, please make sure to call init_process_group."
_DEFAULT_TIMEOUT = timedelta(minutes=30)


class ReduceOp(enum.Enum):
    """Reduction of a collective (``ReduceOp.SUM`` prints as torch's ``RedOpType.SUM``)."""

    SUM = 0
    AVG = 1
    PRODUCT = 2
    MIN = 3
    MAX = 4
    BAND = 5
    BOR = 6
    BXOR = 7
    PREMUL_SUM = 8

    def __str__(self):
        return f"RedOpType.{self.name}"

    def __repr__(self):
        return f"<RedOpType.{self.name}: {self.value}>"


ReduceOp.RedOpType = ReduceOp


class Backend(str):
    GLOO = "gloo"
    NCCL = "nccl"
    MPI = "mpi"
    UNDEFINED = "undefined"


class ProcessGroup:
    """The default group: every process (sub-groups are not supported)."""

    def __init__(self, rank, world_size, backend):
        self._rank = rank
        self._world = world_size
        self._backend = backend

    def rank(self):
        return self._rank

    def size(self):
        return self._world

    def name(self):
        return self._backend

    def __repr__(self):
        return f"<funcgrad.distributed.ProcessGroup rank={self._rank} size={self._world} backend={self._backend}>"


class Work:
    """What ``async_op=True`` returns. The collective is already issued (JAX dispatches asynchronously);
    ``wait()`` blocks until its results are ready."""

    def __init__(self, outputs=()):
        self._outputs = list(outputs)

    def wait(self, timeout=None):
        for t in self._outputs:
            v = t._value()
            if not isinstance(v, _lazy.Lazy) and not _spmd.is_traced(v):
                v.block_until_ready()
        return True

    def is_completed(self):
        return True

    def is_success(self):
        return True

    def exception(self):
        return None

    def result(self):
        return list(self._outputs)

    def get_future(self):
        raise NotImplementedError("funcgrad.distributed.Work.get_future (torch.futures) is not implemented")


class _Group:
    def __init__(self, rank, world_size, backend, store, timeout, rt):
        self.rank = rank
        self.world_size = world_size
        self.backend = backend
        self.store = store
        self.timeout = timeout
        self.rt = rt
        self.seq = 0
        self.pg = ProcessGroup(rank, world_size, backend)

    def next_key(self, what):
        self.seq += 1
        return f"{what}/{self.seq}"


_group = None


class group:  # noqa: N801 - torch's name
    WORLD = None


class GroupMember:
    WORLD = None
    NON_GROUP_MEMBER = -100


def _default():
    if _group is None:
        raise ValueError(_NOT_INIT)
    return _group


def _check_group(g):
    if g is not None and g is not group.WORLD:
        raise NotImplementedError("funcgrad.distributed: process sub-groups (new_group) are not implemented; "
                                  "collectives run over the default group")


def is_available():
    return True


def is_initialized():
    return _group is not None


def is_gloo_available():
    return True


def is_nccl_available():
    return False


def is_mpi_available():
    return False


def is_torchelastic_launched():
    return os.environ.get("TORCHELASTIC_RUN_ID") is not None


def get_rank(group=None):
    _check_group(group)
    return _default().rank


def get_world_size(group=None):
    _check_group(group)
    return _default().world_size


def get_backend(group=None):
    _check_group(group)
    return _default().backend


def new_group(ranks=None, timeout=None, backend=None, pg_options=None, use_local_synchronization=False,
              group_desc=None):
    g = _default()
    if ranks is None or sorted(ranks) == list(range(g.world_size)):
        return group.WORLD
    raise NotImplementedError("funcgrad.distributed.new_group: sub-groups of processes are not implemented")


def get_process_group_ranks(group):
    return list(range(_default().world_size))


def get_global_rank(group, group_rank):
    return group_rank


def get_group_rank(group, global_rank):
    return global_rank


# ---------------------------------------------------------------------------------------------------
# init / destroy

def _env(name, method):
    v = os.environ.get(name)
    if v is None:
        raise ValueError(f"Error initializing torch.distributed using {method} rendezvous: environment variable "
                         f"{name} expected, but not set")
    return v


def _seconds(timeout):
    return timeout.total_seconds() if isinstance(timeout, timedelta) else float(timeout)


def _free_port(host):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("", 0))
        return s.getsockname()[1]


def init_process_group(backend=None, init_method=None, timeout=None, world_size=-1, rank=-1, store=None,
                       group_name="", pg_options=None, device_id=None):
    """Join the default process group and start JAX's multi-process runtime.

    ``init_method`` ``"env://"`` (default: ``MASTER_ADDR``, ``MASTER_PORT``, ``RANK``, ``WORLD_SIZE`` as
    torchrun sets them) or ``"tcp://host:port"``; ``rank``/``world_size`` given here win over the
    environment. Must run before the process computes anything (JAX starts its devices once).
    A rank that does not arrive within ``timeout`` makes the others raise ``DistStoreError``; a master
    nobody answers, ``DistNetworkError``.

    Example::

        dist.init_process_group("gloo")          # under funcgrad.distributed.run / torchrun
        t = torch.ones(2) * dist.get_rank()
        dist.all_reduce(t)                       # t = sum over ranks
    """
    global _group
    if _group is not None:
        raise ValueError("trying to initialize the default process group twice!")
    if backend is not None and str(backend).split(":")[-1].lower() not in ("gloo", "nccl", "cpu:gloo", "xla"):
        if "mpi" in str(backend).lower() or "ucc" in str(backend).lower():
            raise NotImplementedError(f"funcgrad.distributed: backend {backend!r} is not implemented (gloo and nccl "
                                      "both map to JAX's collectives)")
    timeout = _DEFAULT_TIMEOUT if timeout is None else timeout
    secs = _seconds(timeout)
    if init_method is None:
        init_method = "env://"
    if store is not None:
        raise NotImplementedError("funcgrad.distributed.init_process_group(store=...): pass init_method instead")
    if init_method.startswith("env://"):
        method = "env://"
        addr = _env("MASTER_ADDR", method)
        port = int(_env("MASTER_PORT", method))
        if rank is None or rank < 0:
            rank = int(_env("RANK", method))
        if world_size is None or world_size < 0:
            world_size = int(_env("WORLD_SIZE", method))
    elif init_method.startswith("tcp://"):
        hostport = init_method[len("tcp://"):].split("?")[0].rstrip("/")
        addr, _, p = hostport.rpartition(":")
        port = int(p)
        if rank is None or rank < 0:
            rank = int(_env("RANK", "tcp://"))
        if world_size is None or world_size < 0:
            world_size = int(_env("WORLD_SIZE", "tcp://"))
    else:
        raise NotImplementedError(f"funcgrad.distributed.init_process_group: init_method {init_method!r} "
                                  "(only env:// and tcp:// are implemented)")
    if not 0 <= rank < world_size:
        raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {world_size - 1}]")
    backend = "gloo" if backend is None else str(backend).split(":")[-1].lower()

    if world_size > 1:
        from jax._src import xla_bridge

        if xla_bridge.backends_are_initialized():
            raise RuntimeError("funcgrad.distributed.init_process_group must be called before the process computes "
                               "anything with tensors: JAX's multi-process runtime starts together with its devices")
    st = TCPStore(addr, port, world_size, is_master=rank == 0, timeout=timeout)
    st.add("funcgrad/joined", 1)
    if rank == 0:
        ok, n = st.wait_value("funcgrad/joined", world_size, secs)
        if not ok:
            st.close()
            raise DistStoreError(f"Timed out after {int(secs) + 1} seconds waiting for clients. "
                                 f"{n}/{world_size} clients joined.")
        coord = f"{addr}:{_free_port(addr)}" if world_size > 1 else ""
        st.set("funcgrad/coordinator", coord)
    else:
        try:
            coord = st.get("funcgrad/coordinator", secs).decode()
        except DistNetworkError:
            raise DistStoreError(f"rank 0 gave up waiting for the {world_size} ranks of the group (closed the store "
                                 "before this rank got the rendezvous result): are WORLD_SIZE and the number of "
                                 "processes started equal?") from None

    if world_size > 1:
        if os.environ.get("JAX_PLATFORMS", "cpu").split(",")[0] in ("", "cpu"):
            jax.config.update("jax_cpu_collectives_implementation", "gloo")
        kwargs = {}
        local_rank = os.environ.get("LOCAL_RANK") if device_id is None else getattr(device_id, "index", device_id)
        if local_rank is not None and os.environ.get("JAX_PLATFORMS", "") not in ("cpu",):
            kwargs["local_device_ids"] = [int(local_rank)]
        t = max(5, int(secs))
        # JAX's preemption service catches SIGTERM; torch's workers die of it (launchers stop workers so)
        jax.config.update("jax_enable_preemption_service", False)
        jax.distributed.initialize(coord, world_size, rank, initialization_timeout=t,
                                   heartbeat_timeout_seconds=max(10, min(t, 100)),
                                   shutdown_timeout_seconds=max(5, min(t, 300)), **kwargs)
        atexit.register(_skip_shutdown_if_broken)  # runs before JAX's own exit handler (registered earlier)
    rt = _spmd.Runtime(world_size, rank, secs)
    _group = _Group(rank, world_size, backend, st, secs, rt)
    group.WORLD = GroupMember.WORLD = _group.pg
    _install_fault_hook()
    _set_spmd_program(lambda pure: _spmd.SpmdJit(rt, pure))


def destroy_process_group(group=None):
    """Leave the default group (every rank must call it); the JAX runtime shuts down with it."""
    global _group
    g = _default()
    _check_group(group)
    _set_spmd_program(None)
    _group = None
    globals()["group"].WORLD = GroupMember.WORLD = None
    if g.world_size > 1:
        jax.distributed.shutdown()
    _store_barrier(g, "destroy")
    g.store.close()


def _skip_shutdown_if_broken():
    """After a failed collective, end the process here, without JAX's shutdown handshake: the dead
    peer never reaches it, and the runtime would abort this process after its heartbeat timeout.
    The exit status is 1 (python does not tell exit handlers the status it was going to use)."""
    if _spmd.broken:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(1)


_hooked = False


def _install_fault_hook():
    """An uncaught exception on one rank ends its process at once (no shutdown handshake that would wait
    for the others): its peers' collectives then fail fast with ``DistBackendError`` instead of hanging."""
    global _hooked
    if _hooked:
        return
    _hooked = True
    prev = sys.excepthook

    def hook(tp, value, tb):
        prev(tp, value, tb)
        if _group is not None and _group.world_size > 1:
            try:
                sys.stdout.flush()
                sys.stderr.flush()
            finally:
                os._exit(1)

    sys.excepthook = hook


def _store_barrier(g, what, timeout=None):
    key = g.next_key(what)
    g.store.add(key, 1)
    t = g.timeout if timeout is None else timeout
    ok, n = g.store.wait_value(key, g.world_size, t)
    if not ok:
        raise DistBackendError(f"funcgrad.distributed.{what}: timed out after {t:g}s: {n}/{g.world_size} ranks "
                               "arrived (a rank has exited, hangs, or does not call it)")


def barrier(group=None, async_op=False, device_ids=None):
    """Block until every rank has called ``barrier``; a missing rank raises within the group's timeout."""
    _check_group(group)
    g = _default()
    if g.world_size > 1:
        _store_barrier(g, "barrier")
    return Work() if async_op else None


def monitored_barrier(group=None, timeout=None, wait_all_ranks=False):
    _check_group(group)
    g = _default()
    if g.world_size > 1:
        _store_barrier(g, "monitored_barrier", None if timeout is None else _seconds(timeout))


# ---------------------------------------------------------------------------------------------------
# collectives

def _check_tensor(t, name, what):
    if not isinstance(t, Tensor):
        raise TypeError(f"{what}(): argument '{name}' must be Tensor, not {type(t).__name__}")


def _op(op):
    if isinstance(op, ReduceOp):
        return op
    raise TypeError(f"funcgrad.distributed: op must be a ReduceOp, got {op!r}")


def _reduce_rows(x, op):
    """Reduce a gathered (world, ...) array over its first axis with ``op``."""
    if op is ReduceOp.PRODUCT:
        return jnp.prod(x, axis=0, dtype=x.dtype)
    if op is ReduceOp.BAND:
        ones = jnp.array(True) if x.dtype == jnp.bool_ else jnp.array(~0, x.dtype)
        return jax.lax.reduce(x, ones, jax.lax.bitwise_and, (0,))
    if op is ReduceOp.BOR:
        return jax.lax.reduce(x, jnp.zeros((), x.dtype), jax.lax.bitwise_or, (0,))
    if op is ReduceOp.BXOR:
        return jax.lax.reduce(x, jnp.zeros((), x.dtype), jax.lax.bitwise_xor, (0,))
    raise NotImplementedError(op)


def _allreduce(x, op, world):
    """The all-reduce of ``x`` over the rank axis (inside an spmd body)."""
    ax = _spmd.AXIS
    if op in (ReduceOp.SUM, ReduceOp.AVG) and x.dtype == jnp.bool_:
        return jax.lax.psum(x.astype(jnp.int32), ax) > 0
    if op is ReduceOp.SUM:
        return jax.lax.psum(x, ax)
    if op is ReduceOp.AVG:
        s = jax.lax.psum(x, ax)
        return (s // world if jnp.issubdtype(x.dtype, jnp.integer) else s / world).astype(x.dtype)
    if op in (ReduceOp.MAX, ReduceOp.MIN):
        f = jax.lax.pmax if op is ReduceOp.MAX else jax.lax.pmin
        if x.dtype == jnp.bool_:
            return f(x.astype(jnp.int32), ax) > 0
        return f(x, ax)
    if op is ReduceOp.PREMUL_SUM:
        raise NotImplementedError("funcgrad.distributed: ReduceOp.PREMUL_SUM is not implemented")
    return _reduce_rows(jax.lax.all_gather(x, ax), op)


def _gather(x):
    return jax.lax.all_gather(x, _spmd.AXIS)


def _run(g, key, body, arrays, what):
    return _spmd.run(g.rt, key, body, arrays, what)


def _set(t, value):
    """Write ``value`` into ``t`` in place (bumps its version, as torch's in-place collectives do)."""
    with grad_mode.no_grad():
        t._set_value(value)


def _done(async_op, outputs):
    return Work(outputs) if async_op else None


def all_reduce(tensor, op=ReduceOp.SUM, group=None, async_op=False):
    """Reduce ``tensor`` over all ranks, in place (``ReduceOp.SUM``/``AVG``/``MAX``/``MIN``/``PRODUCT``...)."""
    _check_group(group)
    _check_tensor(tensor, "tensor", "all_reduce")
    g = _default()
    op = _op(op)
    w = g.world_size
    (res,) = _run(g, ("all_reduce", op), lambda x: (_allreduce(x, op, w),), [tensor._array()], "all_reduce")
    _set(tensor, res)
    return _done(async_op, [tensor])


def reduce(tensor, dst=0, op=ReduceOp.SUM, group=None, async_op=False, group_dst=None):
    """Reduce ``tensor`` over all ranks into rank ``dst``'s tensor (the others keep theirs)."""
    _check_group(group)
    g = _default()
    op = _op(op)
    w = g.world_size
    (res,) = _run(g, ("all_reduce", op), lambda x: (_allreduce(x, op, w),), [tensor._array()], "reduce")
    if g.rank == (dst if group_dst is None else group_dst):
        _set(tensor, res)
    return _done(async_op, [tensor])


def all_gather_into_tensor(output_tensor, input_tensor, group=None, async_op=False):
    """``output_tensor`` (``world * n`` rows, or shape ``(world, *input.shape)``) = every rank's input."""
    _check_group(group)
    g = _default()
    w = g.world_size
    x = input_tensor._array()
    out_shape = output_tensor._shape
    if int(np.prod(out_shape)) != w * int(np.prod(x.shape)):
        raise ValueError("output tensor size must be equal to world_size times input tensor size")
    (res,) = _run(g, ("all_gather_into", out_shape), lambda a: (_gather(a).reshape(out_shape),), [x],
                  "all_gather_into_tensor")
    _set(output_tensor, res.astype(output_tensor._array().dtype) if not _spmd.is_traced(res) else res)
    return _done(async_op, [output_tensor])


def all_gather(tensor_list, tensor, group=None, async_op=False):
    """``tensor_list[i]`` = rank ``i``'s ``tensor`` (the list holds ``world_size`` tensors of its shape)."""
    _check_group(group)
    g = _default()
    if len(tensor_list) != g.world_size:
        raise ValueError(f"all_gather: tensor_list must hold world_size ({g.world_size}) tensors, got "
                         f"{len(tensor_list)}")
    for t in tensor_list:
        if t._shape != tensor._shape:
            raise NotImplementedError("funcgrad.distributed.all_gather: tensors of different shapes per rank")
    (res,) = _run(g, ("all_gather",), lambda a: (_gather(a),), [tensor._array()], "all_gather")
    for i, t in enumerate(tensor_list):
        _set(t, res[i])
    return _done(async_op, list(tensor_list))


def _reduce_scatter(x, op, world):
    """Rank r's share of the reduction of ``x`` = (world, ...) rows (inside an spmd body)."""
    ax = _spmd.AXIS
    if op in (ReduceOp.SUM, ReduceOp.AVG) and x.dtype != jnp.bool_:
        s = jax.lax.psum_scatter(x, ax, scatter_dimension=0, tiled=False)
        if op is ReduceOp.AVG:
            s = (s // world if jnp.issubdtype(x.dtype, jnp.integer) else s / world).astype(x.dtype)
        return s
    full = _allreduce(x, op, world)
    return jnp.take(full, jax.lax.axis_index(ax), axis=0)


def reduce_scatter_tensor(output, input, op=ReduceOp.SUM, group=None, async_op=False):
    """``output`` = this rank's block of the reduction of every rank's ``input`` (``world`` blocks)."""
    _check_group(group)
    g = _default()
    op = _op(op)
    w = g.world_size
    x = input._array()
    out_shape = output._shape
    if int(np.prod(x.shape)) != w * int(np.prod(out_shape)):
        raise ValueError("input tensor must be the same size as output size times world size")
    (res,) = _run(g, ("reduce_scatter", op, out_shape),
                  lambda a: (_reduce_scatter(a.reshape((w,) + out_shape), op, w),), [x], "reduce_scatter_tensor")
    _set(output, res)
    return _done(async_op, [output])


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None, async_op=False):
    """``output`` = the reduction over ranks of ``input_list[rank]``."""
    _check_group(group)
    g = _default()
    op = _op(op)
    w = g.world_size
    if len(input_list) != w:
        raise ValueError(f"reduce_scatter: input_list must hold world_size ({w}) tensors")
    xs = [t._array() for t in input_list]
    (res,) = _run(g, ("reduce_scatter_list", op, len(xs)),
                  lambda *a: (_reduce_scatter(jnp.stack(a), op, w),), xs, "reduce_scatter")
    _set(output, res)
    return _done(async_op, [output])


def broadcast(tensor, src=0, group=None, async_op=False, group_src=None):
    """Every rank's ``tensor`` becomes rank ``src``'s, in place."""
    _check_group(group)
    g = _default()
    src = src if group_src is None else group_src
    if not 0 <= src < g.world_size:
        raise ValueError(f"Invalid src rank {src} for world size {g.world_size}")
    (res,) = _run(g, ("broadcast", src), lambda a: (_gather(a)[src],), [tensor._array()], "broadcast")
    _set(tensor, res)
    return _done(async_op, [tensor])


def all_to_all_single(output, input, output_split_sizes=None, input_split_sizes=None, group=None, async_op=False):
    """Block ``j`` of ``input`` (split on dim 0 in ``world`` equal blocks) goes to rank ``j``; ``output``
    holds the blocks received, in rank order."""
    _check_group(group)
    g = _default()
    w = g.world_size
    for s in (output_split_sizes, input_split_sizes):
        if s is not None and len(set(s)) > 1:
            raise NotImplementedError("funcgrad.distributed.all_to_all_single: unequal split sizes")
    x = input._array()
    if x.shape[0] % w or output._shape != x.shape:
        raise ValueError("all_to_all_single: input and output must have the same shape, dim 0 divisible by "
                         "world_size")
    (res,) = _run(g, ("all_to_all_single",),
                  lambda a: (jax.lax.all_to_all(a, _spmd.AXIS, 0, 0, tiled=True),), [x], "all_to_all_single")
    _set(output, res)
    return _done(async_op, [output])


def all_to_all(output_tensor_list, input_tensor_list, group=None, async_op=False):
    """``output_tensor_list[j]`` = rank ``j``'s ``input_tensor_list[rank]``."""
    _check_group(group)
    g = _default()
    w = g.world_size
    xs = [t._array() for t in input_tensor_list]
    if len(xs) != w or len(output_tensor_list) != w or len({x.shape for x in xs}) > 1:
        raise NotImplementedError("funcgrad.distributed.all_to_all: world_size tensors of one shape per list")

    def body(*a):
        r = jax.lax.all_to_all(jnp.stack(a), _spmd.AXIS, 0, 0, tiled=True)
        return tuple(r[i] for i in range(w))

    res = _run(g, ("all_to_all", w), body, xs, "all_to_all")
    for t, r in zip(output_tensor_list, res):
        _set(t, r)
    return _done(async_op, list(output_tensor_list))


def gather(tensor, gather_list=None, dst=0, group=None, async_op=False, group_dst=None):
    """Rank ``dst``'s ``gather_list[i]`` = rank ``i``'s ``tensor``."""
    _check_group(group)
    g = _default()
    dst = dst if group_dst is None else group_dst
    (res,) = _run(g, ("all_gather",), lambda a: (_gather(a),), [tensor._array()], "gather")
    if g.rank == dst:
        if gather_list is None or len(gather_list) != g.world_size:
            raise ValueError("Argument ``gather_list`` must be specified on destination rank.")
        for i, t in enumerate(gather_list):
            _set(t, res[i])
    elif gather_list:
        raise ValueError("Argument ``gather_list`` must NOT be specified on non-destination ranks.")
    return _done(async_op, list(gather_list or []))


def scatter(tensor, scatter_list=None, src=0, group=None, async_op=False, group_src=None):
    """``tensor`` = rank ``src``'s ``scatter_list[rank]``."""
    _check_group(group)
    g = _default()
    w = g.world_size
    src = src if group_src is None else group_src
    x = tensor._array()
    if g.rank == src:
        if scatter_list is None or len(scatter_list) != w:
            raise ValueError("Argument ``scatter_list`` must be specified on source rank.")
        stacked = jnp.stack([t._array() for t in scatter_list]).astype(x.dtype)
    else:
        if scatter_list:
            raise ValueError("Argument ``scatter_list`` must NOT be specified on non-source ranks.")
        stacked = jnp.zeros((w,) + x.shape, x.dtype)
    (res,) = _run(g, ("scatter", src), lambda a: (_gather(a)[src][jax.lax.axis_index(_spmd.AXIS)],), [stacked],
                  "scatter")
    _set(tensor, res)
    return _done(async_op, [tensor])


def send(tensor, dst, group=None, tag=0):
    raise NotImplementedError("funcgrad.distributed.send/recv (point-to-point) are not implemented: use collectives")


def recv(tensor, src=None, group=None, tag=0):
    raise NotImplementedError("funcgrad.distributed.send/recv (point-to-point) are not implemented: use collectives")


isend = send
irecv = recv


# ---------------------------------------------------------------------------------------------------
# python objects (through the store)

def _obj_exchange(g, what, obj, ranks):
    key = g.next_key(what)
    if obj is not _NOTHING:
        g.store.set(f"{key}/{g.rank}", pickle.dumps(obj))
    return [pickle.loads(g.store.get(f"{key}/{r}", g.timeout)) for r in ranks]


_NOTHING = object()


def all_gather_object(object_list, obj, group=None):
    """``object_list[i]`` = rank ``i``'s ``obj`` (picklable)."""
    _check_group(group)
    g = _default()
    res = _obj_exchange(g, "all_gather_object", obj, range(g.world_size))
    object_list[:len(res)] = res
    _store_barrier(g, "all_gather_object")


def gather_object(obj, object_gather_list=None, dst=0, group=None, group_dst=None):
    _check_group(group)
    g = _default()
    dst = dst if group_dst is None else group_dst
    res = _obj_exchange(g, "gather_object", obj, range(g.world_size) if g.rank == dst else ())
    if g.rank == dst:
        object_gather_list[:len(res)] = res
    _store_barrier(g, "gather_object")


def broadcast_object_list(object_list, src=0, group=None, device=None, group_src=None):
    """Every rank's ``object_list`` becomes rank ``src``'s (same length on every rank)."""
    _check_group(group)
    g = _default()
    src = src if group_src is None else group_src
    (res,) = _obj_exchange(g, "broadcast_object_list", list(object_list) if g.rank == src else _NOTHING, [src])
    object_list[:] = res
    _store_barrier(g, "broadcast_object_list")


def scatter_object_list(scatter_object_output_list, scatter_object_input_list=None, src=0, group=None,
                        group_src=None):
    _check_group(group)
    g = _default()
    src = src if group_src is None else group_src
    (res,) = _obj_exchange(g, "scatter_object_list", list(scatter_object_input_list) if g.rank == src else _NOTHING,
                           [src])
    scatter_object_output_list[0] = res[g.rank]
    _store_barrier(g, "scatter_object_list")


@atexit.register
def _close_store():
    g = _group
    if g is not None and g.world_size > 1:
        # rank 0 serves the store: it stays until the others are done with it (bounded by the timeout)
        try:
            _store_barrier(g, "exit", min(g.timeout, 30))
        except DistError:
            pass
