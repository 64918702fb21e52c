"""Autograd graph nodes: the base ``Node``, ``AccumulateGrad`` and the op nodes made by the registry."""
from __future__ import annotations

import itertools
import re
import weakref

import jax
import numpy as np
from jax.core import Tracer as _Tracer

from .. import _lazy
from .anomaly_mode import anomaly_hint

__all__ = ["Node", "AccumulateGrad", "OpNode", "node_class", "RemovableHandle"]

# Storage -> when ``.data`` last changed its value (a number of ``_seq``, which numbers graph nodes in
# the order they are made: an edit after a node was made has a greater one; ``tensor._DataStorage``): such an edit
# bumps no version, and torch's backward then computes with the edited value. A saved input is read
# again as it is now (``_check_saved``); a saved result or view was saved as computed at the forward,
# and an edit of it after that is warned about rather than silently not seen.
data_edits: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_DATA_EDIT_MSG = (
    "funcgrad: a value saved for backward ({}) was changed through `.data` after the forward; torch's backward "
    "computes with the changed value, funcgrad's with the value of the forward, so gradients differ from "
    "torch's. Edit it before the forward, or under torch.no_grad() (whose version check then raises), or run "
    "the forward again.")

_seq = itertools.count()

FREED_MSG = (
    "Trying to backward through the graph a second time (or directly access saved tensors after they "
    "have already been freed). Saved intermediate values of the graph are freed when you call .backward() "
    "or autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time "
    "or if you need to access saved tensors after calling backward."
)


class RemovableHandle:
    """Returned by ``register_hook``-style calls; ``remove()`` takes the hook out."""

    _ids = itertools.count()

    def __init__(self, store):
        self._store = weakref.ref(store) if store is not None else None
        self.id = next(RemovableHandle._ids)

    def remove(self):
        store = self._store() if self._store is not None else None
        if store is not None:
            store.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class _HookDict(dict):
    pass


class Node:
    """A node of the backward graph (``torch.autograd.graph.Node``).

    ``next_functions`` is a tuple of ``(node, output_nr)`` pairs, one per input of the forward op,
    with ``(None, 0)`` for inputs that do not require grad.
    """

    __slots__ = ("_seq", "__dict__", "__weakref__")

    # Rarely set state: class defaults, shadowed in the instance __dict__ once set.
    _hooks = None
    _pre_hooks = None
    _tensor_pre_hooks = None  # {output_nr: _HookDict}
    _retained = None  # {output_nr: weakref to a non-leaf tensor that retains grad}
    _anomaly_trace = None
    _special = False  # any hook or retained grad: the engine takes its slow path

    def __init__(self, next_functions=()):
        self.next_functions = next_functions
        self._seq = next(_seq)

    def name(self) -> str:
        n = type(self).__name__
        # nodes torch defines in C++ only report their qualified name
        return "torch::autograd::" + n if n in ("CopySlices", "AccumulateGrad") else n

    @property
    def metadata(self):
        return {}

    def register_hook(self, fn):
        """``fn(grad_inputs, grad_outputs)`` runs after this node; may return new grad_inputs."""
        if self._hooks is None:
            self._hooks = _HookDict()
        self._special = True
        h = RemovableHandle(self._hooks)
        self._hooks[h.id] = fn
        return h

    def register_prehook(self, fn):
        """``fn(grad_outputs)`` runs before this node; may return new grad_outputs."""
        if self._pre_hooks is None:
            self._pre_hooks = _HookDict()
        self._special = True
        h = RemovableHandle(self._pre_hooks)
        self._pre_hooks[h.id] = fn
        return h

    def _add_tensor_pre_hook(self, nr, fn):
        if self._tensor_pre_hooks is None:
            self._tensor_pre_hooks = {}
        self._special = True
        d = self._tensor_pre_hooks.setdefault(nr, _HookDict())
        h = RemovableHandle(d)
        d[h.id] = fn
        return h

    def _num_outputs(self):
        return 1

    def apply(self, grads, create_graph):  # pragma: no cover - abstract
        raise NotImplementedError

    def _release(self):
        pass


class AccumulateGrad(Node):
    """Sink of the graph for a leaf: adds incoming gradients into ``variable.grad``."""

    __slots__ = ("variable", "_post_acc_hooks")

    next_functions = ()

    def __init__(self, variable):
        self._seq = next(_seq)
        self.variable = variable
        self._post_acc_hooks = None


AccumulateGrad.__module__ = "builtins"


class NodePlan:
    """What every node of one op with one layout of inputs shares (planned once by the registry):
    the op, the input position of each edge, whether the derivative reads saved values."""

    __slots__ = ("op", "pos", "needed", "vjps")

    def __init__(self, op, pos, needed):
        self.op = op
        self.pos = pos
        self.needed = needed
        self.vjps = None  # the engine's vjp primitive per edge, filled when first needed


class OpNode(Node):
    """The backward of one registry op: gradients come from ``jax.vjp`` of the op's forward.

    Edges are kept flat (``_next = (node0, nr0, node1, nr1, ...)``); ``next_functions`` builds
    torch's tuple of pairs when asked (a new tuple each time, as torch's is)."""

    # every field is a slot set by the registry's node constructor: no per-node __dict__
    __slots__ = ("_next", "_p", "params", "vals", "_saved", "_out", "_freed", "_dropped")

    @property
    def next_functions(self):
        e = self._next
        return tuple([(e[i], e[i + 1]) for i in range(0, len(e), 2)])

    @property
    def op(self):
        return self._p.op

    @property
    def _pos(self):
        return self._p.pos

    @property
    def _needed(self):
        return self._p.needed

    def _check_saved(self):
        """Version checks of what torch's formula saved. Returns the values to differentiate at:
        a saved input changed through ``.data`` (no version bump) is read as it is now, as torch does."""
        if self._freed:
            raise RuntimeError(FREED_MSG)
        vals = self.vals
        for st, version, meta, k in self._saved:
            if type(st) is weakref.ref:  # a saved result: gone means nothing can have modified it
                st = st()
                if st is None:
                    continue
                if meta[3] is None:
                    meta = meta[:3] + (self, meta[4])
            if st.version == version:
                if k >= 0 and st.value is not vals[k]:
                    vals = vals[:k] + (st.value,) + vals[k + 1:]
                elif k < 0 and data_edits and data_edits.get(st, -1) > self._seq:
                    import warnings
                    what = ("its result" if meta[3] is self else "a view it read") + ", saved by " + self.name()
                    warnings.warn(_DATA_EDIT_MSG.format(what), UserWarning, stacklevel=4)
                continue
            if k >= 0 and st.last_fn is not None:  # an input: torch names what it is now the output of
                fn = st.last_fn[0]
                o = getattr(fn, "_out", None)  # and its shape now (t_ and squeeze_ change it)
                shape = o[0] if type(o) is tuple and len(o) == 2 and type(o[0]) is tuple else meta[1]
                meta = (meta[0], shape, meta[2]) + st.last_fn
            desc = _format_desc(meta)
            raise RuntimeError(
                "one of the variables needed for gradient computation has been modified by an inplace "
                f"operation: [{desc[0]} {list(desc[1])}]{desc[2]} is at version {st.version}; expected "
                f"version {version} instead. " + anomaly_hint()
            )
        return vals

    def __getattr__(self, name):
        # torch's ``grad_fn._saved_self`` / ``_saved_other`` / ``_saved_result``: what the op's
        # ``saves`` declaration names (looked up only when normal attributes miss)
        op = self.op if name.startswith("_saved_") else None
        if op is not None:
            return op.saved_attr(self, name[len("_saved_"):], FREED_MSG)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def _release(self):
        """Free saved values; a formula that reads none of them can still run on zeros of their shape."""
        vals = self.vals
        if self._freed or vals is None:
            return
        if self._p.needed:
            self._freed = True
            self.vals = None
        else:
            # the formula reads no value: keep only shapes and dtypes (the vjp runs on zeros); a
            # node holding nothing but those and 0-d constants has nothing to free
            if self._dropped:
                for v in vals:
                    if type(v) is not Dropped and v.shape:
                        break
                else:
                    return
            self.vals = tuple([dropped(v) for v in vals])
            self._dropped = True


class Dropped:
    """Stands in ``OpNode.vals`` for an input whose value the op's derivative does not read (torch
    does not save it): the graph keeps only its shape and dtype, so the value can be freed (and a
    pending one is never materialised); the vjp runs on zeros there."""

    __slots__ = ("shape", "dtype", "zeros")

    def __init__(self, shape, dtype):
        self.shape = shape
        self.dtype = dtype
        self.zeros = None  # the last recorded zeros of this shape and dtype (see ``undrop``)


_dropped_cache: dict = {}


def dropped(v):
    """The (shared) ``Dropped`` of a value's shape and dtype."""
    key = _lazy._aval(v)
    d = _dropped_cache.get(key)
    if d is None:
        if len(_dropped_cache) > 4096:
            _dropped_cache.clear()
        d = _dropped_cache[key] = Dropped(*key)
    return d


def undrop(vals):
    """``vals`` with zeros where a value was dropped: one zeros per ``Dropped`` (one per shape and
    dtype), reused while it stays usable (computed and not a JAX tracer, or pending on the current
    tape). Outside a trace it is placed on the device at once (no program): recorded, it would join
    the first backward's program only, whose structure then differs from every later backward's
    (one more compile)."""
    out = []
    for v in vals:
        if type(v) is Dropped:
            z = v.zeros
            zv = z.value if z is not None else None
            if z is None or (zv is None and z.gen != _lazy._tape.gen) or (
                    zv is not None and type(zv) not in _array_types and _not_array(zv)):
                if _lazy._state.tracing:
                    z = _lazy.record(_ZEROS, (v.shape, v.dtype), (), v.shape, v.dtype)
                else:
                    z = jax.device_put(np.zeros(v.shape, v.dtype))
                    _lazy.note_zeros(z)  # a constant of fused programs, not one of their inputs
                if type(z) is not _lazy.Lazy:  # placed (or lazy recording off: computed at once)
                    z = _lazy.wrap(z)
                v.zeros = z
            v = z
        out.append(v)
    return tuple(out)


_array_types: set = set()


def _not_array(v):
    """Whether ``v`` is a JAX tracer (not a concrete array); concrete array types are remembered."""
    if isinstance(v, _Tracer):
        return True
    _array_types.add(type(v))
    return False


def _zeros_impl(params, *_):
    import jax.numpy as jnp

    shape, dtype = params
    return jnp.zeros(shape, dtype)


_ZEROS = _lazy.Prim("zeros", _zeros_impl)

_classes: dict = {}


def node_class(name, base=OpNode):
    """The node class called ``name`` (e.g. ``MulBackward0``), made once and printed as torch does."""
    key = (name, base)
    cls = _classes.get(key)
    if cls is None:
        cls = type(name, (base,), {"__slots__": ()})
        cls.__module__ = "builtins"  # so repr is <MulBackward0 object at 0x...>, like torch's C++ nodes
        _classes[key] = cls
    return cls


# -- edges and what version errors name (used by the op registry and by Function) ------------------
def _edge(t):
    if t.grad_fn is not None:
        return (t.grad_fn, t._output_nr)
    if t._rg:
        return (t._accumulate_node(), 0)
    return (None, 0)


def _saved_desc(t, node=None, nr=0):
    """What a version error names: ``(type string, shape, ", which is output N of XBackward0,")``."""
    return _format_desc((t._dtype, t._shape, t._st.device, node if node is not None else t.grad_fn,
                         nr if node is not None else t._output_nr))


def _format_desc(meta):
    dtype, shape, dev, fn, nr = meta
    prefix = "torch.cuda." if dev.type == "cuda" else "torch."
    # torch names the forward op here: "output 0 of Mul" for a tensor made by MulBackward0's op ("T1"
    # for TBackward1: only "Backward0" goes whole)
    extra = f", which is output {nr} of {re.sub(r'Backward(0$)?', '', fn.name())}," if fn is not None else ""
    return (prefix + dtype._legacy, shape, extra)
