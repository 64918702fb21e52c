"""Lazy recording of JAX work, flushed as one cached ``jax.jit`` program.

Every funcgrad op (forward or backward) appends an entry to the *tape*: a primitive, its static
parameters and where its arguments come from (an earlier entry of the tape, or a concrete
``jax.Array`` fed to the program). The op returns a :class:`Lazy` placeholder of known shape
and dtype (from a cached ``jax.eval_shape``, so shape errors still surface at the op that
caused them). Nothing runs until a value is observed (``print``, ``.item()``, ``.numpy()``,
``bool()``, the end of ``backward()``...). Then :func:`flush` turns the tape into one jitted
program, keyed by its structure (entries, input shapes and dtypes, which entries are still
referenced) and cached, so a training loop compiles once. Every pending value still referenced
from outside the tape is returned by that program, so no work is ever recomputed; values
nobody holds are never materialised (XLA removes their computation).
"""
from __future__ import annotations

import collections
import sys
import threading

import jax
import numpy as np

__all__ = ["Prim", "Lazy", "record", "flush", "materialize", "value_of", "set_lazy", "is_lazy", "cache_info"]

_getrefcount = sys.getrefcount

# A tape longer than this is flushed where it stands: it bounds compile time and memory of
# programs that are never observed (long loops with no print/item/backward).
MAX_TAPE = 2000


class Prim:
    """A JAX primitive of funcgrad: ``impl(params, *arrays) -> array``. Identity-hashed."""

    __slots__ = ("name", "impl", "__weakref__")

    def __init__(self, name, impl):
        self.name = name
        self.impl = impl

    def __repr__(self):
        return f"Prim({self.name})"


class Lazy:
    """A pending value: entry ``idx`` of tape generation ``gen``; ``value`` once computed."""

    __slots__ = ("shape", "dtype", "value", "gen", "idx")

    def __init__(self, shape, dtype, gen, idx):
        self.shape = shape
        self.dtype = dtype
        self.value = None
        self.gen = gen
        self.idx = idx


class _Tape:
    __slots__ = ("gen", "nodes", "entries", "inputs", "in_pos")

    def __init__(self, gen):
        self.gen = gen
        self.nodes = []  # Lazy placeholders, one per entry
        self.entries = []  # (prim, params, arg codes): code >= 0 is an entry, < 0 an input
        self.inputs = []  # concrete arrays fed to the program
        self.in_pos = {}  # id(array) -> input index


class _State(threading.local):
    lazy = True
    tracing = False  # inside funcgrad.compile's trace


_state = _State()
_tape = _Tape(0)
# One tape for the process; recording and flushing hold this lock, the flush until every value
# of the tape it ran is filled in, so a thread never sees a value of a tape another thread is
# still running (threads training separate models interleave their ops on the tape).
_lock = threading.RLock()


def set_lazy(flag: bool) -> None:
    """Turn lazy recording on (default) or off for this thread; off runs every op at once."""
    _state.lazy = bool(flag)


def is_lazy() -> bool:
    return _state.lazy


_shape_cache: dict = {}
_program_cache: "collections.OrderedDict" = collections.OrderedDict()
# Compiled programs kept: XLA executables hold memory and memory maps; a process that keeps
# meeting new graph structures (a fuzzer, an interactive session) must not grow without bound.
MAX_PROGRAMS = 512
_stats = {"programs": 0, "flushes": 0, "eval_shape": 0}


def cache_info():
    """How many fused programs were compiled and how many flushes ran (for tests/benchmarks)."""
    return dict(_stats, cached_programs=len(_program_cache), pending=len(_tape.entries))


def _aval(x):
    if type(x) is Lazy:
        v = x.value
        if v is None:
            return x.shape, x.dtype
        x = v
    return x.shape, x.dtype


def infer(prim, params, args):
    """(shape, numpy dtype) of ``prim(params, *args)``; cached by shapes and dtypes."""
    key = [prim, params]
    for a in args:
        s, d = _aval(a)
        key.append(s)
        key.append(d)
    return _infer_key(tuple(key), prim, params, args)


def _infer_key(key, prim, params, args):
    try:
        return _shape_cache[key]
    except KeyError:
        pass
    _stats["eval_shape"] += 1
    if len(_shape_cache) > 100_000:
        _shape_cache.clear()
    avals = [_aval(a) for a in args]
    out = jax.eval_shape(lambda *xs: prim.impl(params, *xs), *[jax.ShapeDtypeStruct(s, d) for s, d in avals])
    res = (tuple(out.shape), np.dtype(out.dtype))
    _shape_cache[key] = res
    return res


def record(prim, params, args, shape=None, dtype=None):
    """Append ``prim(params, *args)`` to the tape; returns its Lazy (or the array when not lazy).

    The output's shape and dtype come from a cache keyed by (prim, params, input shapes and
    dtypes): after warm-up no ``jax.eval_shape`` runs, and a recorded op costs one tape entry
    and one Lazy."""
    with _lock:
        tape = _tape
        gen = tape.gen
        codes = []
        key = None if shape is not None else [prim, params]
        for a in args:
            if type(a) is Lazy:
                if key is not None:
                    key.append(a.shape)
                    key.append(a.dtype)
                v = a.value
                if v is None:
                    if a.gen == gen:
                        codes.append(a.idx)
                        continue
                    raise RuntimeError("funcgrad internal error: a pending value outlived its tape")
                a = v
            elif key is not None:
                key.append(a.shape)
                key.append(a.dtype)
            j = tape.in_pos.get(id(a))
            if j is None:
                j = tape.in_pos[id(a)] = len(tape.inputs)
                tape.inputs.append(a)
            codes.append(-1 - j)
        if key is not None:
            key = tuple(key)
            sd = _shape_cache.get(key)
            if sd is None:
                sd = _infer_key(key, prim, params, args)
            shape, dtype = sd
        nodes = tape.nodes
        n = len(nodes)
        node = Lazy(shape, dtype, gen, n)
        nodes.append(node)
        tape.entries.append((prim, params, tuple(codes)))
    if n + 1 >= MAX_TAPE or not _state.lazy:
        flush()
        return node.value
    return node


def wrap(array):
    """A computed Lazy holding ``array`` (Tensors keep their values wrapped: cheap shape lookups)."""
    node = Lazy(tuple(array.shape), np.dtype(array.dtype), -1, -1)
    node.value = array
    return node


def concrete(array):
    """``array`` as numpy, or None while it is a JAX tracer (inside funcgrad.compile/func transforms):
    value checks that need the data (index bounds, target ranges) are skipped there."""
    if isinstance(array, jax.core.Tracer):
        return None
    return np.asarray(array)


def value_of(x):
    """The concrete array of an array or Lazy, flushing if needed."""
    if type(x) is Lazy:
        v = x.value
        if v is None:
            flush()
            v = x.value
        return v
    return x


def materialize(targets):
    """Compute everything pending (the targets included); returns the targets' arrays."""
    if any(type(t) is Lazy and t.value is None for t in targets):
        flush()
    return [t.value if type(t) is Lazy else t for t in targets]


def discard():
    """Drop everything pending (used when a traced call is abandoned: its entries hold tracers)."""
    global _tape, _deferred
    with _lock:
        _deferred = False
        _tape = _Tape(_tape.gen + 1)


def _refcounts(nodes):
    return [_getrefcount(n) for n in nodes]


# References a node held only by a list passed to _refcounts has there; more means the node is
# also held from outside the tape (a live Tensor, a saved value, a view cache...).
_BASE_REFS = _refcounts([object()])[0]


# A backward pass that ended with its gradients pending: the next op recorded with grad mode on
# (the next forward) flushes them first, so a program never spans two training steps; work under
# no_grad in between (clip_grad_norm_, a hand-written update) and an optimizer step (which takes
# the flag, ``take_deferred``, and flushes after recording its update) join the backward's program.
_deferred = False


def defer():
    """Leave the tape pending (the end of a backward): flushed by the next op, observation or step."""
    global _deferred
    with _lock:
        _deferred = bool(_tape.entries)


def take_deferred():
    """True (and clears the flag) when a backward's gradients are still pending on the tape."""
    global _deferred
    with _lock:
        d, _deferred = _deferred, False
        return d


def pending():
    return bool(_tape.entries)


def flush():
    """Run the tape as one cached jitted program and fill in the values still referenced."""
    global _tape, _deferred
    with _lock:
        _deferred = False
        tape = _tape
        if not tape.entries:
            return
        _tape = _Tape(tape.gen + 1)
        _run(tape)


def _run(tape):
    nodes = tape.nodes
    counts = _refcounts(nodes)
    base = _BASE_REFS
    outs = tuple([i for i, c in enumerate(counts) if c > base])
    inputs = tape.inputs
    if not outs:
        return
    key = (tuple(tape.entries), tuple([(a.shape, a.dtype) for a in inputs]), outs)
    fn = _program_cache.get(key)
    if fn is None:
        fn = _program_cache[key] = _build(tape.entries, outs)
        _stats["programs"] += 1
        if len(_program_cache) > MAX_PROGRAMS:
            _program_cache.popitem(last=False)
    else:
        _program_cache.move_to_end(key)
    _stats["flushes"] += 1
    results = fn(*inputs)
    for i, r in zip(outs, results):
        nodes[i].value = r


def _build(entries, outs):
    entries = list(entries)
    outs = list(outs)

    def program(*inputs):
        vals = []
        for prim, params, codes in entries:
            vals.append(prim.impl(params, *[vals[c] if c >= 0 else inputs[-1 - c] for c in codes]))
        return [vals[i] for i in outs]

    return jax.jit(program)
