"""The op registry: each op is declared once and everything else is derived from that entry.

An entry (:class:`OpDef`) holds the op's JAX forward, its torch node name(s), which inputs its
torch derivative formula saves (for version-counter checks) and whether it is a view. From it
come the ``funcgrad.<name>`` function, the ``Tensor.<name>`` method, the in-place ``<name>_``
variant, the backward node class and its vjp (``jax.vjp`` of the forward, itself an op, so
gradients can be differentiated again).

Declaring an op::

    @defop(lambda a, b: jnp.multiply(a, b), node="MulBackward0", saves={0: (1,), 1: (0,)},
           promote=True, inplace=True)
    def mul(input, other):
        "Multiply ``input`` by ``other`` (tensor or number), broadcasting."
        return (input, other), ()

The decorated *binder* maps torch's signature onto ``(inputs, params)`` (or
``(inputs, params, node_name)``); ``params`` is a hashable tuple of static arguments passed to
the forward as keywords.
"""
from __future__ import annotations

import functools
import inspect
from weakref import ref as _weakref

import jax
import jax.numpy as jnp
import numpy as np

from .. import _dtypes, _lazy
from .._autograd import forward_ad as _fwd
from .._autograd import grad_mode as _gm
from .._autograd.anomaly_mode import _state as _anomaly, capture_trace
from .._autograd.graph import _edge, _format_desc, _saved_desc, _seq, dropped, node_class  # noqa: F401 - also used from here
from .._device import _CPU
from ..tensor import Tensor

__all__ = ["OpDef", "defop", "public", "dispatch", "OPS", "vjp_op"]

OPS: dict = {}
_mode = _gm._mode


class OpDef:
    __slots__ = ("name", "forward", "node", "saves", "promote", "view", "prim", "_vjps", "nondiff_out",
                 "nondiff", "__weakref__")

    def __init__(self, name, forward, node, saves, promote, view, nondiff_out, nondiff=()):
        self.name = name
        self.forward = forward
        self.node = node
        self.saves = saves
        self.promote = promote
        self.view = view
        self.nondiff_out = nondiff_out
        self.nondiff = frozenset(nondiff)
        self._vjps = {}
        if promote:
            idx = None if promote is True else frozenset(promote)

            def impl(params, *xs, _f=forward, _idx=idx):
                cast = params[0]
                xs = [x.astype(cast) if (_idx is None or i in _idx) and x.dtype != cast else x
                      for i, x in enumerate(xs)]
                return _f(*xs, **dict(params[1:]))
        else:
            def impl(params, *xs, _f=forward):
                return _f(*xs, **dict(params))
        self.prim = _lazy.Prim(name, impl)

    def __repr__(self):
        return f"<op {self.name}>"



def defop(forward, *, node, saves=None, promote=False, view=False, inplace=False, method=True,
          function=True, name=None, nondiff_out=False, nondiff=(), namespace=None, aliases=()):
    """Register an op; see the module docstring. Returns the public function.

    ``namespace`` says where the function is published (``"torch"``, ``"linalg"``, ``"special"``,
    ``"fft"``, ``"nn.functional"`` or a tuple of them; default ``"torch"`` when ``function``);
    ``aliases`` are further names for the function, the method and the in-place form."""

    def deco(binder):
        opname = name or binder.__name__.rstrip("_")
        op = OpDef(opname, forward, node, {0: ()} if view and saves is None else saves, promote, view,
                   nondiff_out, nondiff)
        OPS[opname] = op
        try:
            _ARGNAMES[opname] = tuple(inspect.signature(binder).parameters)
        except (TypeError, ValueError):
            pass

        @functools.wraps(binder)
        def fn(*args, **kwargs):
            out = kwargs.pop("out", None) if kwargs else None
            try:
                bound = binder(*args, **kwargs)
            except (AttributeError, TypeError) as e:
                _bad_call(opname, binder, args, e)
                raise
            if len(bound) == 3:
                inputs, params, nname = bound
            else:
                (inputs, params), nname = bound, None
            if params and any(type(kv[1]) is Tensor or isinstance(kv[1], Tensor) for kv in params):
                params = _scalar_params(op, params)
            res = dispatch(op, inputs, params, nname)
            if out is not None:
                out.copy_(res)
                return out
            return res

        fn.op = op
        fn.__qualname__ = fn.__name__ = opname
        _publish(opname, fn, method, function, inplace, namespace, aliases)
        return fn

    return deco


_PUBLIC: dict = {}


def _type_name(v):
    return "NoneType" if v is None else type(v).__name__


def _bad_call(opname, binder, args, e):
    """A binder that failed on its arguments: torch's TypeError when a non-tensor stands where the
    input tensor goes, and the op's own name (not the binder's) in python's call-signature errors."""
    if isinstance(e, AttributeError):
        names = _ARGNAMES.get(opname) or ()
        for i, v in enumerate(args):
            if not isinstance(v, Tensor) and (i == 0 or v is None or isinstance(v, (list, str, dict))):
                arg = names[i] if i < len(names) else "input"
                raise TypeError(f"{opname}(): argument '{arg}' (position {i + 1}) must be Tensor, "
                                f"not {_type_name(v)}") from None
    msg = str(e)
    q = getattr(binder, "__qualname__", "") + "()"
    if isinstance(e, TypeError) and msg.startswith(q):
        raise TypeError(f"{opname}()" + msg[len(q):]) from None


def _arg_error(op, inputs, i, v):
    names = _ARGNAMES.get(op.name) or ()
    arg = names[i] if i < len(names) else "other"
    return TypeError(f"{op.name}(): argument '{arg}' (position {i + 1}) must be Tensor, not {_type_name(v)}")


_ARGNAMES: dict = {}


def _scalar_params(op, params):
    """A tensor given where torch takes a Scalar (``alpha=t``, ``value=t``): torch reads its value,
    so do we (a one-element tensor); anything bigger is torch's error."""
    out = []
    for k, v in params:
        if isinstance(v, Tensor):
            if v.numel() != 1:
                raise RuntimeError(f"{op.name}(): a Tensor with {v.numel()} elements cannot be converted to Scalar")
            v = v.item()
        out.append((k, v))
    return tuple(out)


def _publish(name, fn, method, function, inplace, namespace, aliases):
    if namespace is None:
        namespace = ("torch",) if function else ()
    elif isinstance(namespace, str):
        namespace = (namespace,)
    entry = (fn, bool(method), tuple(namespace), bool(inplace), name)
    for n in (name, *aliases):
        for ns in entry[2]:
            _claim(("ns", ns, n), fn)
        if method:
            _claim(("method", n), fn)
            if inplace:
                _claim(("method", n + "_"), fn)
        _PUBLIC.setdefault(n, []).append(entry)


_CLAIMS: dict = {}


def _claim(key, fn):
    prev = _CLAIMS.get(key)
    if prev is not None and prev is not fn:
        kind = "Tensor method" if key[0] == "method" else f"{key[1]} function"
        raise ImportError(f"funcgrad registry: {kind} {key[-1]!r} is defined twice "
                          f"({getattr(prev, '__module__', '?')}.{getattr(prev, '__qualname__', '?')} and "
                          f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', '?')})")
    _CLAIMS[key] = fn


_METHODS: dict = {}


def methods(table):
    """Publish hand-written Tensor members (operators, properties, protocol methods) through the
    registry, so they and registry ops claim names from one table: a duplicate is an ImportError."""
    for name, fn in table.items():
        _claim(("method", name), fn)
        _METHODS[name] = fn


def public(fn=None, *, name=None, method=False, function=True, inplace=False, namespace=None, aliases=()):
    """Publish a composite op (a python function built from registry ops) on the API surface.

    Same placement rules as :func:`defop`: ``funcgrad.<name>`` (or ``funcgrad.<namespace>.<name>``),
    ``Tensor.<name>`` when ``method``, ``Tensor.<name>_`` when ``inplace`` (computed out of place,
    then written into ``self`` with torch's in-place checks), one entry per alias. A name claimed
    twice is an ImportError at import time::

        @public(method=True, aliases=("arccosh",))
        def acosh(input): ...
    """
    def deco(f):
        _publish(name or f.__name__, f, method, function, inplace, namespace, aliases)
        return f

    return deco(fn) if fn is not None else deco


class Const:
    """A python number that is an input of the program (no recompiles) but not a graph edge."""

    __slots__ = ("v",)

    def __init__(self, v):
        self.v = v


class _Absent:
    """An optional tensor argument left out: a ``(None, 0)`` edge, like torch's, and no value."""

    def __repr__(self):
        return "ABSENT"


ABSENT = _Absent()


def _check_device(tensors):
    d = None
    for t in tensors:
        td = t._st.device
        if d is None:
            d = td
        elif td != d:
            raise RuntimeError(
                f"Expected all tensors to be on the same device, but found at least two devices, {d} and {td}!"
            )
    return d


_consts: dict = {}


def const(v, np_dtype):
    """A python number as a cached, uncommitted JAX array of ``np_dtype`` (one transfer per value).

    While funcgrad.compile traces, a numpy scalar instead: device arrays captured by a trace become
    hoisted constant arguments, which JAX 0.10's AOT call path miscounts."""
    if _lazy._state.tracing:
        try:
            return np.asarray(v, dtype=np_dtype)
        except OverflowError:
            return np.asarray(v).astype(np_dtype)
    key = (type(v), v, np_dtype)
    try:
        return _consts[key]
    except (KeyError, TypeError):
        pass
    if len(_consts) > 4096:
        _consts.clear()
    try:
        a = np.asarray(v, dtype=np_dtype)
    except OverflowError:  # torch wraps an out-of-range python int into a small int dtype
        a = np.asarray(v).astype(np_dtype)
    a = jax.device_put(a)
    try:
        _consts[key] = a
    except TypeError:
        pass
    return a


_const_lazy: dict = {}


def _const_lazy_new(v, np_dtype):
    """``const(v)`` wrapped in a computed Lazy (its shape and dtype read without touching the
    jax.Array); cached like ``const`` (not while tracing: a trace's numbers are numpy scalars)."""
    c = _lazy.wrap(const(v, np_dtype))
    if not _lazy._state.tracing:
        if len(_const_lazy) > 4096:
            _const_lazy.clear()
        try:
            _const_lazy[(type(v), v, np_dtype)] = c
        except TypeError:
            pass
    return c


_promote_cache: dict = {}


def _promote(inputs, which):
    if which is not True:
        inputs = [x for i, x in enumerate(inputs) if i in which]
    key = tuple([(x._dtype, bool(x._shape)) if isinstance(x, Tensor) else type(x.v if type(x) is Const else x)
                 for x in inputs if x is not None])
    r = _promote_cache.get(key)
    if r is None:
        metas = [k for k in key if type(k) is tuple]
        scalars = [{bool: True, int: 1, float: 1.0, complex: 1j}.get(k, 1.0) for k in key if type(k) is not tuple]
        r = _promote_cache[key] = _dtypes.result_type([(d, int(nd)) for d, nd in metas], scalars)
    return r


def _scalar_like(v, inputs):
    """A number beside tensors takes their dtype (as torch computes ``clamp(x, 0.5)`` in x's dtype)
    unless that would lose its kind (a float next to an integer tensor)."""
    sd = _dtypes.scalar_dtype(v)
    for x in inputs:
        if isinstance(x, Tensor):
            if _dtypes._category(sd) <= _dtypes._category(x._dtype):
                return x._dtype
            return sd
    return sd


_DIFF = frozenset(d for d in _dtypes._ALL if d.is_floating_point or d.is_complex)


def dispatch(op, inputs, params, node_name=None):
    """Run (record) ``op`` on ``inputs`` (Tensors, python scalars or None) and build its graph node."""
    if _lazy._deferred and _mode.grad:
        _lazy.flush()  # a new forward: the last backward's program runs first (see _lazy.defer)
    vals = []
    needs_grad = False
    cast = None
    if op.promote:
        if len(inputs) == 2 and op.promote is True:
            a, b = inputs
            tb = type(b)
            if type(a) is Tensor and (tb is float and a._dtype.is_floating_point or tb is Tensor and b._dtype is a._dtype):
                cast = a._dtype
            else:
                cast = _promote(inputs, True)
        else:
            cast = _promote(inputs, op.promote)
        params = (cast.np,) + params
    dev = None
    for i, x in enumerate(inputs):
        if type(x) is Tensor or isinstance(x, Tensor):
            vals.append(x._st.value if x._view is None else x._value())
            d = x._st.device
            if dev is None:
                dev = d
            elif d is not dev and d != dev and x._shape:
                _check_device([t for t in inputs if isinstance(t, Tensor)])
            if x._rg:
                needs_grad = True
        elif x is None or x is ABSENT:
            continue
        else:
            v = x.v if type(x) is Const else x
            if isinstance(v, (np.ndarray, jax.Array)):
                vals.append(v)
            elif not isinstance(v, (bool, int, float, complex, np.generic)):
                raise _arg_error(op, inputs, i, v)
            else:
                npd = (cast or _scalar_like(v, inputs)).np
                c = _const_lazy.get((type(v), v, npd)) if not _lazy._state.tracing else None
                if c is None:
                    c = _const_lazy_new(v, npd)
                vals.append(c)
    try:
        lz = _lazy.record(op.prim, params, vals)
    except (TypeError, ValueError) as e:
        for i, x in enumerate(inputs):
            if x is None and op.name in _ARGNAMES and i < len(_ARGNAMES[op.name]):
                raise _arg_error(op, inputs, i, x) from None
        raise RuntimeError(f"{op.name}: {e}") from None
    out = Tensor._make(lz, dev or _CPU)
    if op.view:
        src = inputs[0]
        out._st = src._st
        out._view = (src._view or ()) + ((op.prim, params),)
        out._vcache = (src._st.version, lz)
        out._base = src._base if src._base is not None else src
    if needs_grad and _mode.grad and not op.nondiff_out and out._dtype in _DIFF:
        _attach_node(op, node_name or (op.node if isinstance(op.node, str) else op.node(params)),
                     inputs, vals, params, out)
    if _fwd._state.level >= 0 and not op.nondiff_out:
        _forward_tangent(op, inputs, vals, params, out)
    return out


def _forward_tangent(op, inputs, vals, params, out):
    """Forward mode: the output's tangent is ``jax.jvp`` of the forward over the dual inputs."""
    tangents = []
    pos = []
    k = 0
    for x in inputs:
        if x is None or x is ABSENT:
            continue
        if isinstance(x, Tensor):
            t = x.__dict__.get("_fw_grad")
            if t is not None and (x._dtype.is_floating_point or x._dtype.is_complex):
                tangents.append(t._value())
                pos.append(k)
        k += 1
    if not pos or not (out._dtype.is_floating_point or out._dtype.is_complex):
        return
    jop = jvp_op(op, tuple(pos), len(vals))
    with _gm.no_grad():
        lz = _lazy.record(jop.prim, (("params", params),), list(vals) + tangents, out._shape, out._dtype.np)
    out._fw_grad = Tensor._make(lz, out._st.device)


def jvp_op(op, positions, n_inputs):
    """The op computing ``op``'s output tangent from (inputs..., tangents of ``positions``)."""
    key = ("jvp", positions, n_inputs)
    v = op._vjps.get(key)
    if v is None:
        prim = op.prim

        def forward(*args, params):
            xs, ts = list(args[:n_inputs]), args[n_inputs:]

            def f(*dual):
                ys = list(xs)
                for p, d in zip(positions, dual):
                    ys[p] = d
                return prim.impl(params, *ys)

            return jax.jvp(f, tuple(xs[p] for p in positions), tuple(ts))[1]

        v = OpDef(f"{op.name}_jvp", forward, None, None, False, False, False)
        op._vjps[key] = v
    return v


def _attach_node(op, name, inputs, vals, params, out):
    cls = _node_classes.get(name)
    if cls is None:
        cls = _node_classes[name] = node_class(name)
    node = cls.__new__(cls)
    edges = []
    pos = []
    k = 0
    want = None
    saves = op.saves
    nondiff = op.nondiff
    drop_ok = op.view or op.name in _DROPS
    fmask = 0  # float tensor inputs whose values may be left out of the graph (see below)
    for x in inputs:
        if x is None:
            continue
        if x is ABSENT:
            edges.append(_NO_EDGE)
            pos.append(-1)
            continue
        if type(x) is Const or k in nondiff:
            k += 1
            continue
        if type(x) is Tensor or isinstance(x, Tensor):
            if drop_ok and x._dtype in _DIFF:
                fmask |= 1 << k
            if x._rg:
                fn = x.grad_fn
                edges.append((fn, x._output_nr) if fn is not None else (x._accumulate_node(), 0))
                if saves is not None:
                    s = saves.get(k)
                    if s:
                        want = s if want is None else tuple(set(want).union(s))
                    elif s is None:
                        drop_ok = False
            else:
                edges.append(_NO_EDGE)
        else:
            edges.append(_NO_EDGE)
        pos.append(k)
        k += 1
    node.next_functions = tuple(edges)
    node._seq = next(_seq)
    pos = tuple(pos)
    if len(_interned) > 50_000:
        _interned.clear()
    node._pos = _interned.setdefault(pos, pos)
    node.op = op
    node.params = params
    node._dropped = False
    if drop_ok and fmask:
        # torch saves only what the derivative reads: the other inputs' values are not kept alive by
        # the graph (nor materialised when pending), only their shapes. Only float tensors' values:
        # numbers and Consts (clamp's bounds) are parameters torch keeps, integer and bool tensors
        # are indices and masks the formula reads; and only ops whose ``saves`` were audited
        keep = _keep_mask.get(want)
        if keep is None:
            keep = _keep_mask[want] = -1 if want is not None and "result" in want else \
                sum(1 << w for w in (want or ()))
        fmask &= ~keep
    else:
        fmask = 0
    if fmask:
        node.vals = tuple([dropped(v) if fmask >> j & 1 else v for j, v in enumerate(vals)])
        node._dropped = True
    else:
        node.vals = tuple(vals)
    o = (out._shape, out._dtype)
    node._out = _interned.setdefault(o, o)
    saved = ()
    if want:
        tensors = [x for x in inputs if x is not None and x is not ABSENT]
        saved = []
        for w in want:
            if w == "result":
                # a weak reference: the result's value is not kept alive by its own graph (when every
                # tensor on that storage is gone nothing can modify it), and no node <-> saved cycle
                saved.append((_weakref(out._st), out._st.version, (out._dtype, out._shape, out._st.device, None, 0),
                              -1))
            elif isinstance(tensors[w], Tensor):
                t = tensors[w]
                if t._inference:
                    raise RuntimeError(
                        "Inference tensors cannot be saved for backward. Please do not use Tensors created in "
                        "inference mode in computation tracked by autograd. To work around this, you can make a "
                        "clone to get a normal tensor and use it in autograd, or use `torch.no_grad()` instead of "
                        "`torch.inference_mode()`.")
                saved.append((t._st, t._st.version, (t._dtype, t._shape, t._st.device, t.grad_fn, t._output_nr),
                              w if t._view is None else -1))
        saved = tuple(saved)
    node._saved = saved
    node._needed = bool(want) or saves is None
    node._freed = False
    if _anomaly.enabled:
        node._anomaly_trace = capture_trace()
    out.grad_fn = node
    out._rg = True


_NO_EDGE = (None, 0)
# Ops whose ``saves`` were checked to list every value their gradients read (a declaration made
# for version checks may list less: native_group_norm's omits the weight its input grad reads);
# other ops keep all input values, as before.
_keep_mask: dict = {}
_DROPS = frozenset({"add", "sub", "mul", "div", "mm", "bmm", "addmm", "sum", "mean"})
# small tuples many nodes share (input positions, output shape and dtype): one object each
_interned: dict = {}
_node_classes: dict = {}


def vjp_op(op, i, n_inputs):
    """The op computing the gradient of ``op``'s input ``i`` from (inputs..., grad_output)."""
    key = (i, n_inputs)
    v = op._vjps.get(key)
    if v is None:
        prim = op.prim

        def forward(*args, params):
            xs, g = list(args[:-1]), args[-1]

            def f(xi):
                ys = list(xs)
                ys[i] = xi
                return prim.impl(params, *ys)

            if not (np.iscomplexobj(g) or np.iscomplexobj(xs[i])):
                return jax.vjp(f, xs[i])[1](g)[0]
            # torch's complex gradients are the conjugate of JAX's cotangents: conj(vjp(conj(g)))
            r = jax.vjp(f, xs[i])[1](jax.numpy.conj(g))[0]
            return jax.numpy.conj(r) if np.iscomplexobj(r) else r

        v = OpDef(f"{op.name}_vjp{i}", forward, None, None, False, False, False)
        op._vjps[key] = v
    return v
