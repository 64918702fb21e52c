"""Lazy recording of JAX work, flushed as one cached ``jax.jit`` program.

Every funcgrad op (forward or backward) records a :class:`Lazy` node: a primitive, its static
parameters and its arguments (concrete ``jax.Array`` values or other pending nodes). Nothing
runs until a value is observed (``print``, ``.item()``, ``.numpy()``, ``bool()``, the end of
``backward()``...). Then :func:`materialize` collects the pending sub-graph, keys it by its
structure (primitives, parameters, wiring, input shapes and dtypes) and runs one jitted program
that is compiled once per structure and cached. Every pending value still referenced from
outside the sub-graph is returned by that program too, so no work is ever recomputed.

Shapes and dtypes of pending values are known at record time through a cached
``jax.eval_shape``; so shape errors still surface at the op that caused them.
"""
from __future__ import annotations

import sys
import threading

import jax
import numpy as np

__all__ = ["Prim", "Lazy", "record", "materialize", "value_of", "set_lazy", "is_lazy", "cache_info"]

_getrefcount = sys.getrefcount
_ArrayTypes = (jax.Array, np.ndarray, np.generic)

# A pending chain deeper than this is flushed where it stands, which bounds compile times and
# memory of programs that are never observed (long loops with no print/item/backward).
MAX_DEPTH = 400


class Prim:
    """A JAX primitive of funcgrad: ``impl(params, *arrays) -> array``. Identity-hashed."""

    __slots__ = ("name", "impl", "__weakref__")

    def __init__(self, name, impl):
        self.name = name
        self.impl = impl

    def __repr__(self):
        return f"Prim({self.name})"


class Lazy:
    """A pending value: ``prim.impl(params, *args)``, of known ``shape`` and ``dtype``."""

    __slots__ = ("prim", "params", "args", "shape", "dtype", "value", "depth")

    def __init__(self, prim, params, args, shape, dtype, depth):
        self.prim = prim
        self.params = params
        self.args = args
        self.shape = shape
        self.dtype = dtype
        self.value = None
        self.depth = depth


class _State(threading.local):
    lazy = True


_state = _State()


def set_lazy(flag: bool) -> None:
    """Turn lazy recording on (default) or off for this thread; off runs every op at once."""
    _state.lazy = bool(flag)


def is_lazy() -> bool:
    return _state.lazy


_shape_cache: dict = {}
_program_cache: dict = {}
_stats = {"programs": 0, "flushes": 0, "eval_shape": 0}


def cache_info():
    """How many fused programs were compiled and how many flushes ran (for tests/benchmarks)."""
    return dict(_stats, cached_programs=len(_program_cache))


def _aval(x):
    if type(x) is Lazy:
        v = x.value
        if v is None:
            return x.shape, x.dtype
        x = v
    return x.shape, x.dtype


def infer(prim, params, args):
    """(shape, numpy dtype) of ``prim(params, *args)``; cached by shapes and dtypes."""
    avals = tuple(_aval(a) for a in args)
    key = (prim, params, avals)
    try:
        return _shape_cache[key]
    except KeyError:
        pass
    _stats["eval_shape"] += 1
    out = jax.eval_shape(lambda *xs: prim.impl(params, *xs), *[jax.ShapeDtypeStruct(s, d) for s, d in avals])
    res = (tuple(out.shape), np.dtype(out.dtype))
    _shape_cache[key] = res
    return res


def record(prim, params, args, shape=None, dtype=None):
    """Record ``prim(params, *args)``; returns a Lazy (or a concrete array when lazy mode is off)."""
    if shape is None:
        shape, dtype = infer(prim, params, args)
    depth = 0
    for a in args:
        if type(a) is Lazy and a.value is None and a.depth > depth:
            depth = a.depth
    node = Lazy(prim, params, args, shape, dtype, depth + 1)
    if not _state.lazy or depth >= MAX_DEPTH:
        return materialize((node,))[0]
    return node


def value_of(x):
    """The concrete array of an array or Lazy, flushing if needed."""
    if type(x) is Lazy:
        v = x.value
        if v is None:
            v = materialize((x,))[0]
        return v
    return x


def materialize(targets):
    """Compute the pending ``targets`` (Lazy nodes) in one fused program; returns their arrays."""
    pending = [t for t in targets if type(t) is Lazy and t.value is None]
    if not pending:
        return [t.value if type(t) is Lazy else t for t in targets]
    order = []  # pending nodes in topological order
    pos = {}  # id(node) -> index in order
    inputs = []  # concrete arrays fed to the program
    in_pos = {}
    internal = []  # per node: references held by other nodes of this flush
    stack = [(t, False) for t in reversed(pending)]
    while stack:
        node, done = stack.pop()
        nid = id(node)
        if done:
            if nid not in pos:
                pos[nid] = len(order)
                order.append(node)
                internal.append(0)
            continue
        if nid in pos:
            continue
        stack.append((node, True))
        for a in reversed(node.args):
            if type(a) is Lazy and a.value is None and id(a) not in pos:
                stack.append((a, False))
    spec = []
    for node in order:
        codes = []
        for a in node.args:
            if type(a) is Lazy:
                v = a.value
                if v is None:
                    i = pos[id(a)]
                    internal[i] += 1
                    codes.append(i)
                    continue
                a = v
            k = id(a)
            j = in_pos.get(k)
            if j is None:
                j = in_pos[k] = len(inputs)
                inputs.append(a)
            codes.append(-1 - j)
        spec.append((node.prim, node.params, tuple(codes)))
    target_ids = {id(t) for t in pending}
    counts = _refcounts(order)
    outs = [i for i in range(len(order)) if counts[i] > _BASE_REFS + internal[i] or id(order[i]) in target_ids]
    key = (tuple(spec), tuple((a.shape, a.dtype) for a in inputs), tuple(outs))
    fn = _program_cache.get(key)
    if fn is None:
        fn = _program_cache[key] = _build(spec, outs)
        _stats["programs"] += 1
    _stats["flushes"] += 1
    results = fn(*inputs)
    for i, r in zip(outs, results):
        n = order[i]
        n.value = r
        n.args = None
    return [t.value if type(t) is Lazy else t for t in targets]


def _refcounts(nodes):
    return [_getrefcount(n) for n in nodes]


# References a node held only by the list passed to _refcounts has there; more means the node is
# also held from outside the flushed sub-graph (a live Tensor, a saved value, a pending consumer).
_BASE_REFS = _refcounts([object()])[0]


def _build(spec, outs):
    spec = list(spec)
    outs = list(outs)

    def program(*inputs):
        vals = []
        for prim, params, codes in spec:
            vals.append(prim.impl(params, *[vals[c] if c >= 0 else inputs[-1 - c] for c in codes]))
        return [vals[i] for i in outs]

    return jax.jit(program)
