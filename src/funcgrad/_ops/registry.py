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
import re
import warnings
from weakref import ref as _weakref

import jax
import jax.numpy as jnp
import numpy as np

from .. import _autocast, _dtypes, _lazy
from .._autograd import forward_ad as _fwd
from .._autograd import grad_mode as _gm
from .._autograd.anomaly_mode import _state as _anomaly, capture_trace
from .._autograd.graph import Dropped, NodePlan, _dropped_cache, _edge, _format_desc, _saved_desc, _seq, dropped, node_class  # noqa: F401 - also used from here
from .._device import _CPU
from ..tensor import Storage, Tensor

__all__ = ["OpDef", "defop", "public", "dispatch", "OPS", "vjp_op", "autocast_op"]

OPS: dict = {}
_mode = _gm._mode
_ac = _autocast.state


class OpDef:
    __slots__ = ("name", "forward", "node", "saves", "promote", "view", "prim", "_vjps", "nondiff_out",
                 "nondiff", "jvp_impl", "__weakref__")

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
        self.jvp_impl = None  # forward-mode's own forward (defop's ``jvp=``), else the forward's
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

    def saved_attr(self, node, key, freed_msg):
        """``node._saved_<key>``: the input (torch calls the first one ``self``) or result that
        torch's derivative formula saves, per this op's ``saves``; torch's error once freed."""
        names = _ARGNAMES.get(self.name) or ()
        for w in sorted(set().union(*self.saves.values()) if self.saves else (), key=str):
            if w == "result":
                nm = "result"
            elif w < len(names):
                nm = "self" if names[w] == "input" else names[w]
            else:
                continue
            if nm != key:
                continue
            if node.vals is None or node._freed:
                raise RuntimeError(freed_msg)
            if w == "result":
                for st, _, meta, k in node._saved:
                    if k == -1 and (meta[3] is node or meta[3] is None):
                        st = st() if type(st) is _weakref else st
                        # held weakly: once its tensors are gone, recomputed from the saved inputs
                        value = st.value if st is not None else _lazy.record(self.prim, node.params, list(node.vals))
                        t = Tensor._make(value, meta[2])
                        t.grad_fn, t._rg = node, True
                        return t
                break
            if type(node.vals[w]) is Dropped:
                return None  # torch did not save it either (its gradient formula does not read it)
            e = node._pos.index(w) if w in node._pos else -1
            fn, nr = node.next_functions[e] if e >= 0 else (None, 0)
            if fn is not None and hasattr(fn, "variable"):
                return fn.variable  # a leaf: torch gives back the leaf itself
            v = node.vals[w]
            t = Tensor._make(v, _CPU) if not isinstance(v, (int, float, complex, bool)) else v
            if fn is not None:
                t.grad_fn, t._output_nr, t._rg = fn, nr, True
            return t
        raise AttributeError(f"'{type(node).__name__}' object has no attribute '_saved_{key}'")



def defop(forward, *, node, saves=None, promote=False, view=False, inplace=False, method=True,
          function=True, name=None, nondiff_out=False, nondiff=(), namespace=None, aliases=(), jvp=None,
          fast=False, shape=None):
    """Register an op; see the module docstring. Returns the public function.

    ``shape``: ``shape(params, avals) -> (shape, numpy dtype)``, the output's shape and dtype from the
    op's parameters and its arguments' (shape, dtype) pairs, where it is cheap to say (``Prim.shape``:
    no ``jax.eval_shape`` for each new shape).

    ``jvp``: a second JAX forward (same signature and value) whose ``jax.jvp`` gives the op's
    forward-mode tangents, for ops whose torch jvp formula is not the transpose of torch's backward
    (cholesky, eigh: the backward symmetrises ``dA``, the jvp reads all of it).

    ``namespace`` says where the function is published (``"torch"``, ``"linalg"``, ``"special"``,
    ``"fft"``, ``"nn.functional"`` or a tuple of them; default ``"torch"`` when ``function``);
    ``aliases`` are further names for the function, the method and the in-place form.

    ``fast``: the binder's outcome for floating-point tensors and python floats depends only on their
    dtypes and shapes (never on values) and is ``((args...), ())``: such calls take the op's
    fast path (``_fast_path``), which remembers that outcome instead of calling the binder again;
    ``fast="all"``: the same for tensors of every dtype (comparisons). ``fast="static"``: the binder's
    outcome depends only on its tensors' dtypes, shapes (and view chains: ``_LAYOUT_BINDERS``) and on
    the values of its other arguments (ints, dims, dtypes: ``sum(x, 1)``, ``x.view(-1, 4)``), every
    tensor argument is an input, and the call has no ``out=``: ``_static_path`` remembers it per such key."""

    def deco(binder):
        opname = name or binder.__name__.rstrip("_")
        op = OpDef(opname, forward, node, {0: ()} if view and saves is None else saves, promote, view,
                   nondiff_out, nondiff)
        op.prim.shape = shape
        OPS[opname] = op
        if jvp is not None:
            op.jvp_impl = OpDef(opname + "_jvpfwd", jvp, None, None, promote, False, False).prim.impl
        try:
            _ARGNAMES[opname] = tuple(inspect.signature(binder).parameters)
        except (TypeError, ValueError):
            pass

        bind_fast = (_static_path(op, binder) if fast == "static" else _fast_path(op, binder, fast == "all")) \
            if fast else None

        def make(method_call):
            # one closure for the function, one for the method: torch counts argument positions
            # from the method's first argument, so the method knows it was called as one
            @functools.wraps(binder)
            def fn(*args, **kwargs):
                out = kwargs.pop("out", None) if kwargs else None
                try:
                    bound = binder(*args, **kwargs)
                except (AttributeError, TypeError, ValueError, RuntimeError, IndexError) as e:
                    _check_args(opname, binder, args, kwargs, method_call)
                    if isinstance(e, (AttributeError, TypeError)):
                        _bad_call(opname, binder, args, kwargs, e, method_call)
                    raise
                if len(bound) == 3:
                    inputs, params, nname = bound
                else:
                    (inputs, params), nname = bound, None
                for kv in params:
                    if isinstance(kv[1], Tensor):
                        params = _scalar_params(op, params)
                        break
                try:
                    res = dispatch(op, inputs, params, nname)
                except (TypeError, RuntimeError) as e:
                    _check_args(opname, binder, args, kwargs, method_call)
                    if method_call and isinstance(e, TypeError):
                        m = _as_method_error(e, opname)
                        if m is not None:
                            raise m from None
                    raise
                if out is not None:
                    return _write_out(opname, inputs, res, out)
                return res

            if bind_fast is not None:
                # calls on plain float tensors and python floats take the op's fast path
                general = fn
                fn = functools.wraps(binder)(bind_fast(general))
                fn._general = general
            fn.op = op
            fn._bind_fast = bind_fast
            fn.__qualname__ = fn.__name__ = opname
            return fn

        fn = make(False)
        if method:
            _METHOD_FNS[fn] = _as_tensor_member(make(True), opname)
        _publish(opname, fn, method, function, inplace, namespace, aliases)
        return fn

    return deco


_PUBLIC: dict = {}


def _write_out(opname, inputs, res, out):
    """``out=``: torch refuses autograd through it and a result type that can't be cast; a wrong
    shape is resized (as torch does, with its warning when ``out`` was not empty)."""
    if _mode.grad and (out._rg or any(isinstance(x, Tensor) and x._rg for x in inputs)):
        raise RuntimeError(f"{opname}(): functions with out=... arguments don't support automatic differentiation, "
                           "but one of the arguments requires grad.")
    if res._dtype is not out._dtype and _dtypes._category(res._dtype) > _dtypes._category(out._dtype):
        raise RuntimeError(f"result type {_dtypes.scalar_type_name(res._dtype)} can't be cast to the desired output "
                           f"type {_dtypes.scalar_type_name(out._dtype)}")
    if res._shape != out._shape:
        if out.numel():
            warnings.warn(f"An output with one or more elements was resized since it had shape {list(out._shape)}, "
                          "which does not match the required output shape "
                          f"{list(res._shape)}. This behavior is deprecated, and in a future PyTorch release outputs "
                          "will not be resized unless they have zero elements. You can explicitly reuse an out "
                          "tensor t by resizing it, inplace, to zero elements with t.resize_(0).", UserWarning,
                          stacklevel=3)
        out.resize_(res._shape)
    out.copy_(res)
    return out


def _type_name(v):
    return "NoneType" if v is None else type(v).__name__


def _bad_call(opname, binder, args, kwargs, e, method_call=False):
    """A binder that failed on its arguments: torch's TypeError when a non-tensor stands where the
    input tensor goes, torch's argument parser's "invalid combination of arguments" for ops with
    several signatures, and the op's own name (not the binder's) in python's call-signature errors."""
    shift = 1 if method_call else 0
    if isinstance(e, AttributeError):
        names = _ARGNAMES.get(opname) or ()
        m = _NOT_A_TENSOR.match(str(e))  # the python value the op tried to use as a tensor
        for i, v in enumerate(args):
            if not isinstance(v, Tensor) and (i == 0 or v is None or isinstance(v, (list, str, dict)) or
                                              (m is not None and _type_name(v) == m.group(1))):
                arg = names[i] if i < len(names) else "input"
                raise TypeError(f"{opname}(): argument '{arg}' (position {i + 1 - shift}) must be Tensor, "
                                f"not {_type_name(v)}") from None
    msg = str(e)
    q = getattr(binder, "__qualname__", "") + "()"
    rest = None
    if msg.startswith(opname + "()"):
        rest = msg[len(opname) + 2:]
    elif isinstance(e, TypeError) and msg.startswith(q):
        rest = msg[len(q):]
    if rest is not None:
        if rest.startswith(" got an unexpected keyword") and opname in _OVERLOADED and \
                len(args) + len(kwargs) - shift < (2 if method_call else 3):
            raise _invalid_combination(opname, args, kwargs, method_call) from None
        e = TypeError(f"{opname}()" + rest)
        if method_call:
            e = _as_method_error(e, opname) or e
        raise e from None
    if isinstance(e, TypeError) and opname in _OVERLOADED:
        raise _invalid_combination(opname, args, kwargs, method_call) from None


# what torch's parser requires of an argument, by the argument's name (error paths only)
_INT_ARGS = frozenset(("dim", "dim0", "dim1", "dim2", "offset", "diagonal", "k", "chunks", "start_dim", "end_dim"))
_TENSOR_ARGS = frozenset(("index", "mask"))
_INT_LIST_DIM = frozenset(("logsumexp", "amax", "amin", "nansum", "flip", "roll"))
_ARG_OVERRIDES = {"select": {"index": "int"}}
_SIGS: dict = {}


def _expected(opname, pname):
    kind = _ARG_OVERRIDES.get(opname, {}).get(pname)
    if kind is not None:
        return kind
    if pname in ("dims", "shifts") or (pname == "dim" and opname in _INT_LIST_DIM):
        return "tuple of ints"
    if pname in _INT_ARGS:
        return "int"
    if pname in _TENSOR_ARGS:
        return "Tensor"
    if pname == "alpha":
        return "Number"
    if pname == "dtype":
        return "torch.dtype"
    return None


def _is_int(v):
    return type(v) is not bool and (isinstance(v, (int, np.integer)) or isinstance(v, Tensor))


def _fits(kind, v):
    if kind == "int":  # a dim may also be a list of dims (the op's own check words that)
        return _is_int(v) or (isinstance(v, (list, tuple)) and all(_is_int(x) for x in v))
    if kind == "Tensor":
        return isinstance(v, Tensor)
    if kind == "Number":
        return isinstance(v, (bool, int, float, complex, np.generic, Tensor))
    if kind == "torch.dtype":
        return not isinstance(v, str)
    if isinstance(v, (list, tuple)):
        return all(_is_int(x) for x in v)
    return _is_int(v)


def _misfit(fn, opname, args, kwargs, method_call):
    """The first argument of the wrong python type for torch's parser: (name, kind, value, where)."""
    sig = _SIGS.get(fn)
    if sig is None:
        try:
            sig = _SIGS[fn] = inspect.signature(fn)
        except (TypeError, ValueError):
            return None
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError:
        return None
    npos = len(args)
    for i, (pname, v) in enumerate(bound.arguments.items()):
        kind = _expected(opname, pname)
        if kind is None or _fits(kind, v):
            continue
        default = sig.parameters[pname].default
        if v is None and default is not inspect.Parameter.empty and (kind != "int" or default is None):
            continue  # None where the signature has a default (torch's optional arguments)
        if pname in kwargs or i >= npos:
            where = ""
        else:
            where = f" (position {i + 1 - (1 if method_call else 0)})"
        return pname, kind, v, where
    return None


def _check_args(opname, fn, args, kwargs, method_call):
    """torch's parser's "X(): argument 'dim' (position 1) must be int, not float" for an argument of
    the wrong python type, or its "invalid combination of arguments" for an op with several
    signatures (checked after a call failed: never on the hot path)."""
    bad = _misfit(fn, opname, args, kwargs, method_call)
    if bad is None:
        return
    if opname in _OVERLOADED:
        raise _invalid_combination(opname, args, kwargs, method_call) from None
    pname, kind, v, where = bad
    raise TypeError(f"{opname}(): argument '{pname}'{where} must be {kind}, not {_type_name(v)}") from None


_MASK_FIRST = frozenset(("masked_fill", "masked_scatter"))


# parameters that take only a Tensor in torch's signatures: a python value there that made the op
# fail (``mm(t, 3)``: "'int' object has no attribute ...") is torch's "must be Tensor" TypeError
_TENSOR_ONLY = frozenset(("input", "mat1", "mat2", "vec", "vec1", "vec2", "batch1", "batch2", "tensor",
                          "tensor1", "tensor2", "self"))
_NOT_A_TENSOR = re.compile(r"^'(\w+)' object (has no attribute|is not subscriptable|is not iterable)")


def _non_tensor_operand(pname, f, args, kwargs, e, method_call):
    m = _NOT_A_TENSOR.match(str(e))
    sig = _SIGS.get(f)
    if m is None:
        return
    if sig is None:
        try:
            sig = _SIGS[f] = inspect.signature(f)
        except (TypeError, ValueError):
            return
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError:
        return
    for i, (name, v) in enumerate(bound.arguments.items()):
        if isinstance(v, Tensor) or _type_name(v) != m.group(1):
            continue
        if name in _TENSOR_ONLY or (name in ("other", "target", "weight") and isinstance(v, (str, list, tuple))):
            where = "" if name in kwargs or i >= len(args) else f" (position {i + 1 - (1 if method_call else 0)})"
            if method_call and i == 0:
                return
            raise TypeError(f"{pname}(): argument '{name}'{where} must be Tensor, not {_type_name(v)}") from None


def _public_error(pname, f, args, kwargs, e, method_call):
    _check_args(pname, f, args, kwargs, method_call)
    if isinstance(e, (AttributeError, TypeError)):
        _non_tensor_operand(pname, f, args, kwargs, e, method_call)
    if isinstance(e, ValueError) and "broadcast" in str(e):
        err = broadcast_error([x._shape for x in args if isinstance(x, Tensor)])
        if err is not None:
            raise err from None
    if not isinstance(e, TypeError):
        return
    if pname in _OVERLOADED and not str(e).startswith(pname + "("):
        raise _invalid_combination(pname, args, kwargs, method_call) from None
    if method_call:
        m = _as_method_error(e, pname)
        if m is not None:
            raise m from None


# ops whose torch python binding has several signatures: torch's parser answers a call none of
# them takes with "invalid combination of arguments" (ops with one signature name the argument)
_OVERLOADED = frozenset("""
add addbmm addcdiv addcmul addmm addmv addr all any argsort baddbmm bitwise_and bitwise_left_shift
bitwise_or bitwise_right_shift bitwise_xor bucketize clamp clamp_max clamp_min clip copysign count_nonzero
cumulative_trapezoid divide eq fill float_power fmod ge gradient greater greater_equal gt histogram
histogramdd index_fill isin le lerp less less_equal lt masked_fill max mean median min moveaxis movedim
multiply nanmedian nanquantile narrow ne not_equal pow prod quantile remainder repeat_interleave round rsub
scatter searchsorted sort squeeze std std_mean sub subtract sum tensor_split trapezoid trapz var var_mean
view where xlogy""".split())


def _parser_type(v):
    if isinstance(v, Tensor):
        return type(v).__name__ if type(v).__name__ == "Parameter" else "Tensor"
    return _type_name(v)


def _invalid_combination(opname, args, kwargs, method_call=False):
    """torch's parser's first line: ``sum() received an invalid combination of arguments - got
    (Tensor, dim=float), but expected one of:`` (a method call leaves self out)."""
    pos = [_parser_type(v) for v in args[1 if method_call else 0:]]
    kw = [f"{k}={_parser_type(v)}" for k, v in reversed(list(kwargs.items()))]
    desc = ", ".join(pos + kw) if pos else "".join(k + ", " for k in kw)
    return TypeError(f"{opname}() received an invalid combination of arguments - got ({desc}), "
                     f"but expected one of:")


_POSITION = re.compile(r"\(position (\d+)\)")
_TAKES = re.compile(r" takes (\d+) positional arguments? but (\d+) were given")


def _as_method_error(e, opname):
    """``e`` (worded for ``funcgrad.<op>(self, ...)``) as torch words it for ``self.<op>(...)``:
    positions count from the method's first argument and the parser's type list leaves self out."""
    msg = str(e)
    if not msg.startswith(opname + "()"):
        return None
    if "(position " in msg:
        return TypeError(_POSITION.sub(lambda m: f"(position {int(m.group(1)) - 1})", msg, count=1))
    m = _TAKES.match(msg, len(opname) + 2)
    if m:
        n, k = int(m.group(1)) - 1, int(m.group(2)) - 1
        return TypeError(f"{opname}() takes {n} positional argument{'s' if n != 1 else ''} but {k} "
                         f"{'were' if k != 1 else 'was'} given")
    head = "received an invalid combination of arguments - got (Tensor"
    if head in msg:
        i = msg.index(head) + len(head)
        rest = msg[i:]
        if rest.startswith(", "):
            rest = rest[2:]
        return TypeError(msg[:msg.index(head)] + head[:-6] + rest)
    return None


_METHOD_FNS: dict = {}


def _as_tensor_member(m, name):
    m.__module__, m.__qualname__, m.__name__ = "funcgrad", "Tensor." + name, name
    return m


def method_form(fn):
    """The callable installed as ``Tensor.<name>`` for the published function ``fn``."""
    return _METHOD_FNS.get(fn, fn)


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
        pname = name or f.__name__

        def make(method_call):
            # the failure path words a bad argument as torch's parser does (nothing on success)
            @functools.wraps(f)
            def wrapper(*args, **kwargs):
                try:
                    return f(*args, **kwargs)
                except (TypeError, RuntimeError, ValueError, IndexError, AttributeError) as e:
                    _public_error(pname, f, args, kwargs, e, method_call)
                    raise

            return wrapper

        if isinstance(f, type):  # a published class (linalg.LinAlgError) stays the class itself
            _publish(pname, f, method, function, inplace, namespace, aliases)
            return f
        g = make(False)
        # pickled by reference to where it is published (the package's own calls use ``f``)
        ns = namespace if isinstance(namespace, str) else (namespace[0] if namespace else "torch")
        g.__module__ = "funcgrad" if ns == "torch" else "funcgrad." + ns
        g.__qualname__ = g.__name__ = pname
        if method or inplace:
            _METHOD_FNS[g] = _as_tensor_member(make(True), pname)
        _publish(pname, g, method, function, inplace, namespace, aliases)
        return f  # the package's own calls skip the wrapper

    return deco(fn) if fn is not None else deco


_NUMBER = (bool, int, float, complex, np.generic)


def scalar_value(value, np_dtype):
    """A python number given where torch takes a Scalar, as a numpy value of ``np_dtype``; anything
    else (None, a string) is a TypeError, never a silent NaN."""
    if not isinstance(value, _NUMBER):
        raise TypeError(f"expected a number, not {_type_name(value)}")
    return np.asarray(value, dtype=np_dtype)


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


_HALF = (np.dtype(jnp.float16), np.dtype(jnp.bfloat16))


def upcast_half(forward):
    """``forward`` computed in float32 when its first input is float16/bfloat16, the result rounded once to
    that dtype: torch's accumulate type for reductions and normalisations (layer_norm, softmax...)."""

    @functools.wraps(forward)
    def f(*xs, **kw):
        dt = getattr(xs[0], "dtype", None) if xs else None
        if dt not in _HALF:
            return forward(*xs, **kw)
        ys = [x.astype(jnp.float32) if getattr(x, "dtype", None) in _HALF else x for x in xs]
        return jax.tree_util.tree_map(lambda y: y.astype(dt) if y.dtype == jnp.float32 else y, forward(*ys, **kw))

    return f


def _check_int_range(v):
    """torch reads a python int as int64 or uint64; beyond both, its OverflowError."""
    if type(v) is int:
        if v >= 2 ** 64:
            raise OverflowError("int too big to convert")
        if v < -2 ** 63:
            raise OverflowError("can't convert negative int to unsigned")


def const(v, np_dtype):
    """A python number as a cached, uncommitted JAX array of ``np_dtype`` (one transfer per value).

    While funcgrad.compile traces, a numpy scalar instead: device arrays captured by a trace become
    hoisted constant arguments, which JAX 0.10's AOT call path miscounts."""
    if _lazy._state.tracing:
        try:
            return np.asarray(v, dtype=np_dtype)
        except OverflowError:
            _check_int_range(v)
            return np.asarray(v).astype(np_dtype)
    key = (type(v), v, np_dtype)
    if not v and type(v) is not int:  # -0.0 == 0.0 (and hashes alike): the sign is part of the key
        key = (type(v), v, np_dtype, repr(v))
    try:
        return _consts[key]
    except (KeyError, TypeError):
        pass
    if len(_consts) > 4096:
        _consts.clear()
    try:
        a = np.asarray(v, dtype=np_dtype)
    except OverflowError:  # torch wraps an out-of-range python int into a small int dtype
        _check_int_range(v)
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
    # a float zero is never cached here: -0.0 == 0.0 (and hashes alike), so either would find the other
    if not _lazy._state.tracing and (v or isinstance(v, (int, np.integer))):
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


def _fast_path(op, binder, any_dtype=False):
    """The fused binder + dispatch + node attach of ``op`` for positional calls on one or two
    floating-point tensors (``any_dtype``: of any dtype; Parameters and views too) or a tensor and a
    python float, in grad or no-grad mode with no
    autocast, forward AD, inference mode, anomaly mode or tracing: returns the output, or None
    when the call is not of that kind (the caller then takes the general path).

    What the general path would work out from the inputs' dtypes and shapes (the binder's
    verdict, promotion, the output's shape and dtype, the node's layout) is worked out once per
    (dtypes, shapes) and kept in ``routes``."""
    routes = {}
    prim = op.prim
    record = _lazy.record
    lstate = _lazy._state
    fwd = _fwd._state
    nondiff = op.nondiff_out

    def learn(args, key):
        # what the general path works out, checked to be of the kind a route remembers; anything
        # else (an error included: the general path words it) is remembered as no route
        routes[key] = False
        for x in args:
            if isinstance(x, Tensor) and not (any_dtype or x._dtype.is_floating_point):
                return None
        try:
            bound = binder(*args)
        except Exception:
            return None
        if len(bound) != 2 or bound[1] != () or len(bound[0]) != len(args) or \
                any(x is not y for x, y in zip(bound[0], args)):
            return None
        inputs = tuple(args)
        cast = _promote(inputs, op.promote) if op.promote else None
        params = (cast.np,) if cast is not None else ()
        cnp = None
        if len(args) == 2 and type(args[1]) in _PY_SCALARS:
            cnp = (cast or _scalar_like(args[1], inputs)).np
        vals = [x._value() if isinstance(x, Tensor) else _const_lazy_new(x, cnp) for x in inputs]
        try:
            shape, npdt = _lazy.infer(prim, params, vals)
        except Exception:
            return None
        dt = _NP2DT[npdt]
        name = op.node if type(op.node) is str else op.node(params)
        attach = not nondiff and dt in _DIFF
        if len(routes) > 1024:
            routes.clear()
        params = _interned.setdefault(params, params)
        o = _interned.setdefault((shape, dt), (shape, dt))
        pin = (params, o)
        r = routes[key] = (params, shape, npdt, dt, cnp, pin, attach, [None] * 16, name, {})
        return r

    def plan_of(r, args, vals, bits):
        # the node's layout, and which of its values it drops: (plan, Dropped or None per value,
        # whether a node's values can be one shared tuple when its float is a cached constant)
        sig = (op, r[8]) + tuple([x._rg + 2 * (x._dtype in _DIFF) + 4 * (x._view is not None)
                                  if type(x) not in _PY_SCALARS else -4 for x in args])
        p = _plans.get(sig)
        if p is None:
            p = _plan(sig, op, r[8])
        cls, nplan, edge_idx, fmask, saved_plan, _ = p
        dsel = tuple([dropped(vals[j]) if j in fmask else None for j in range(len(args))])
        shared = all(d is not None or type(x) in _PY_SCALARS for d, x in zip(dsel, args))
        edge1 = edge_idx[0] if len(edge_idx) == 1 and edge_idx[0] >= 0 else -1
        e = r[7][bits] = (cls, nplan, edge1, edge_idx, dsel, shared, bool(fmask), saved_plan)
        return e

    def bind(fallback):
        # one fast function per caller: ``fallback`` (the general function, or the Tensor dunder's
        # general form) answers every call the fast path does not take, with the same arguments

        def fast(a=_NOARG, b=_NOARG, *rest, **kwargs):
            ta = type(a)
            if rest or kwargs or (ta is not Tensor and ta not in _FAST_TYPES) or lstate.tracing or \
                    not lstate.lazy or _ac.live is not None or fwd.level >= 0 or _mode.inference or _anomaly.enabled:
                return fallback(*_args(a, b, rest), **kwargs)
            grad = _mode.grad
            if _lazy._deferred and grad:
                _lazy.flush()  # a new forward: the last backward's program runs first (see _lazy.defer)
            st = a._st
            dev = st.device
            if a._view is None:
                va = st.value
                bits = a._rg
            else:
                va = a._value()
                bits = a._rg + 4
            if b is _NOARG:
                key = (a._dtype, a._shape)
                args = (a,)
                vals = [va]
            else:
                tb = type(b)
                if tb is float or tb is int:
                    key = (a._dtype, a._shape, tb)
                    args = (a, b)
                    vals = None
                elif (tb is Tensor or tb in _FAST_TYPES) and b._st.device is dev:
                    key = (a._dtype, a._shape, b._dtype, b._shape)
                    args = (a, b)
                    if b._view is None:
                        vals = [va, b._st.value]
                        bits += 2 * b._rg
                    else:
                        vals = [va, b._value()]
                        bits += 2 * b._rg + 8
                else:
                    return fallback(a, b)
            rgbits = bits & 3
            r = routes.get(key)
            if not r:
                if r is None:
                    r = learn(args, key)
                if not r:
                    return fallback(*args)
            params, shape, npdt, dt, cnp, pin, attach, plans, _, consts = r
            cached = False
            if vals is None:
                # the float's constant: the route's own small cache first (keyed by the float alone;
                # zeros never, -0.0 == 0.0), then dispatch's
                c = consts.get(b)
                if c is None:
                    c = _const_lazy.get((tb, b, cnp))
                    if c is None:
                        c = _const_lazy_new(b, cnp)
                    elif b and len(consts) < 64:
                        consts[b] = c
                        cached = True
                    else:
                        cached = True
                else:
                    cached = True
                vals = [va, c]
            lz = record(prim, params, vals, shape, npdt)
            if type(lz) is not Lazy:
                lz = _lazy.wrap(lz)
            out = _new_tensor(Tensor)
            out._st = ost = _new_tensor(Storage)
            ost.value = lz
            ost.version = 0
            ost.device = dev
            ost.last_fn = None
            out._shape = shape
            out._dtype = dt
            out._rg = False
            out.grad_fn = None
            if not (rgbits and grad and attach):
                return out
            # the node (``_attach_planned`` for this layout, inlined)
            e = plans[bits]
            if e is None:
                e = plan_of(r, args, vals, bits)
            cls, nplan, edge1, edge_idx, dsel, shared, dropped_, saved_plan = e
            node = _new_tensor(cls)
            if edge1 >= 0:
                x = args[edge1]
                fn = x.grad_fn
                node._next = (fn, x._output_nr) if fn is not None else (x._accumulate_node(), 0)
            else:
                node._next = _flat_edges(args, edge_idx)
            node._seq = next(_seq)
            node._p = nplan
            node.params, node._out = pin
            if len(vals) == 1:
                d = dsel[0]
                dv = (d,) if d is not None else (vals[0],)
            else:
                d, d1 = dsel
                dv = (d if d is not None else vals[0], d1 if d1 is not None else vals[1])
            if shared and (cached or type(b) not in _PY_SCALARS):
                dv = _interned.setdefault(dv, dv)
            node.vals = dv
            node._dropped = dropped_
            node._saved = _saved_of(saved_plan, args, out) if saved_plan else ()
            node._freed = False
            out.grad_fn = node
            out._rg = True
            return out

        return fast

    return bind


_T0 = (0,)
# static ops whose binder reads its input's layout (strides): their route keys hold the view chain
_LAYOUT_BINDERS = frozenset(("view",))


def _static_key(args, kwargs, layout):
    """``_static_path``'s route key of a call: per tensor argument its dtype, shape and whether it is
    a view (``layout``: its view chain, which the op's binder reads), per other argument its type and value (ints, bools, None, dtypes, strings, tuples of ints;
    anything else, ``out=`` or tensors on two devices: no key); with the tensors' positions and
    device. ``(None, None, None)`` when the call has no key."""
    key = []
    tpos = []
    dev = None
    i = 0
    for x in args:
        tx = type(x)
        if tx is Tensor or tx in _FAST_TYPES:
            d = x._st.device
            if dev is None:
                dev = d
            elif d is not dev:
                return None, None, None
            key.append(x._dtype)
            key.append(x._shape)
            key.append(x._view if layout else x._view is not None)
            tpos.append(i)
        elif tx is int or tx is bool or x is None or tx is _dtypes.dtype or tx is str or \
                tx is tuple and all(type(v) is int for v in x):
            key.append(tx)
            key.append(x)
        else:
            return None, None, None
        i += 1
    if dev is None:
        return None, None, None
    for k, x in kwargs.items():
        tx = type(x)
        if k == "out" or not (tx is int or tx is bool or x is None or tx is _dtypes.dtype or tx is str
                              or tx is tuple and all(type(v) is int for v in x)):
            return None, None, None
        key.append(k)
        key.append(tx)
        key.append(x)
    return tuple(key), tpos, dev


def _static_path(op, binder):
    """The fast path of an op whose binder's outcome depends only on its tensors' dtypes, shapes (and
    view chains, for ``_LAYOUT_BINDERS``) and on its other arguments' values (``defop(fast="static")``: reductions over a dim,
    views, casts, addmm): per key of those, the binder's inputs, params and node name, the promoted
    dtype and the output's shape and dtype are worked out once; a call of a known key records the op
    and builds its node (``_attach_planned``) with no binder, promotion or shape inference. Calls it
    does not take (tracing, autocast, forward AD, inference or anomaly mode, ``out=``, a tensor inside
    another argument, an error) go to the general function."""
    routes = {}
    prim = op.prim
    record = _lazy.record
    lstate = _lazy._state
    fwd = _fwd._state
    is_view = op.view
    nondiff = op.nondiff_out
    layout = op.name in _LAYOUT_BINDERS

    def learn(args, kwargs, key, tpos):
        routes[key] = False
        try:
            bound = binder(*args, **kwargs)
        except Exception:
            return None
        if len(bound) == 3:
            inputs, params, nname = bound
        else:
            (inputs, params), nname = bound, None
        # every tensor argument is an input, in order (a tensor read for its value, an int-like
        # size, would make the outcome depend on values); no python numbers among the inputs
        if len(inputs) != len(tpos) or any(x is not args[i] for x, i in zip(inputs, tpos)):
            return None
        for kv in params:
            if isinstance(kv[1], Tensor):
                return None
        if is_view and tpos[0] != 0:
            return None
        if op.promote:
            params = (_promote(inputs, op.promote).np,) + tuple(params)
        vals = [x._value() for x in inputs]
        try:
            shape, npdt = _lazy.infer(prim, params, vals)
        except Exception:
            return None
        dt = _NP2DT[npdt]
        name = nname or (op.node if type(op.node) is str else op.node(params))
        attach = not nondiff and dt in _DIFF
        if len(routes) > 1024:
            routes.clear()
        params = _interned.setdefault(params, params)
        chain = ((prim, params),) if is_view else None  # the view entry this op adds
        o = _interned.setdefault((shape, dt), (shape, dt))
        r = routes[key] = (tpos, params, shape, npdt, dt, attach, name, chain, {}, o)
        return r

    def plan_of(r, inputs, vals, bits):
        # the node's layout for inputs that require grad as ``bits`` says: (node class, plan, edge
        # positions, Dropped or None per value, what to save, whether values are dropped, the one
        # shared values tuple when every value is dropped)
        name = r[6]
        sig = (op, name) + tuple([x._rg + 2 * (x._dtype in _DIFF) + 4 * (x._view is not None) for x in inputs])
        p = _plans.get(sig)
        if p is None:
            p = _plan(sig, op, name)
        cls, nplan, edge_idx, fmask, saved_plan, _ = p
        dsel = tuple([dropped(vals[j]) if j in fmask else None for j in range(len(inputs))])
        shared = None
        if fmask and len(fmask) == len(inputs):
            shared = _interned.setdefault(dsel, dsel)
        e = r[8][bits] = (cls, nplan, edge_idx, dsel, saved_plan, bool(fmask), shared)
        return e

    def bind(fallback):
        def fast(*args, **kwargs):
            if lstate.tracing or not lstate.lazy or _ac.live is not None or fwd.level >= 0 or _mode.inference or \
                    _anomaly.enabled:
                return fallback(*args, **kwargs)
            grad = _mode.grad
            if _lazy._deferred and grad:
                _lazy.flush()  # a new forward: the last backward's program runs first (see _lazy.defer)
            key = None
            if not kwargs and 0 < len(args) < 3:
                # one tensor, alone or with a dim, a shape or a dtype: the key without the loop below
                # (the same key the loop builds)
                a = args[0]
                ta = type(a)
                if ta is Tensor or ta in _FAST_TYPES:
                    av = a._view if layout else a._view is not None
                    if len(args) == 1:
                        key = (a._dtype, a._shape, av)
                    else:
                        x = args[1]
                        tx = type(x)
                        if tx is int or tx is _dtypes.dtype or tx is tuple and all(type(v) is int for v in x):
                            key = (a._dtype, a._shape, av, tx, x)
                    tpos = _T0
                    dev = a._st.device
            if key is None:
                key, tpos, dev = _static_key(args, kwargs, layout)
                if key is None:
                    return fallback(*args, **kwargs)
            try:
                r = routes.get(key)
            except TypeError:  # a view chain with an unhashable parameter
                return fallback(*args, **kwargs)
            if not r:
                if r is None:
                    r = learn(args, kwargs, key, tuple(tpos))
                if not r:
                    return fallback(*args, **kwargs)
            tpos, params, shape, npdt, dt, attach, name, chain, plans, o = r
            if len(tpos) == 1:
                x = args[tpos[0]]
                inputs = (x,)
                vals = [x._st.value if x._view is None else x._value()]
            else:
                inputs = tuple([args[j] for j in tpos])
                vals = [x._st.value if x._view is None else x._value() for x in inputs]
            lz = record(prim, params, vals, shape, npdt)
            if type(lz) is not Lazy:
                lz = _lazy.wrap(lz)
            if chain is not None:
                out = new_view(lz, shape, dt, inputs[0], chain)
            else:
                out = new_result(lz, shape, dt, dev)
            if not attach or not grad:
                return out
            bits = 0
            k = 1
            for x in inputs:
                if x._rg:
                    bits |= k
                k += k
            if not bits:
                return out
            # the node (``_attach_planned`` for this layout, inlined; its dropped values are the
            # route's: a Dropped depends on the value's shape and dtype only)
            e = plans.get(bits)
            if e is None:
                e = plan_of(r, inputs, vals, bits)
            cls, nplan, edge_idx, dsel, saved_plan, dflag, shared = e
            node = _new_node(cls, nplan, edge_idx, inputs, params, o)
            if shared is not None:
                node.vals = shared
            elif dflag:
                node.vals = tuple([v if d is None else d for d, v in zip(dsel, vals)])
            else:
                node.vals = tuple(vals)
            node._dropped = dflag
            node._saved = _saved_of(saved_plan, inputs, out) if saved_plan else ()
            node._freed = False
            out.grad_fn = node
            out._rg = True
            return out

        return fast

    return bind


def _args(a, b, rest):
    if a is _NOARG:
        return rest
    if b is _NOARG:
        return (a,) + rest
    return (a, b) + rest


def _saved_of(saved_plan, inputs, out):
    """A node's saved values: per ``(j, w)`` of its plan, input ``j``'s storage, version and
    metadata, or (``j < 0``) the result's storage as a weak reference: the result's value is not
    kept alive by its own graph (when every tensor on that storage is gone nothing can modify it),
    and no node <-> saved cycle."""
    saved = []
    for j, w in saved_plan:
        if j < 0:
            ost = out._st
            rmeta = (out._dtype, out._shape, ost.device, None, 0)
            saved.append((_weakref(ost), ost.version, _interned.setdefault(rmeta, rmeta), -1))
        else:
            t = inputs[j]
            if t._inference:
                raise RuntimeError(_INFERENCE_SAVED)
            tst = t._st
            saved.append((tst, tst.version, (t._dtype, t._shape, tst.device, t.grad_fn, t._output_nr), w))
    return tuple(saved)


_INFERENCE_SAVED = (
    "Inference tensors cannot be saved for backward. Please do not use Tensors created in inference mode in "
    "computation tracked by autograd. To work around this, you can make a clone to get a normal tensor and use "
    "it in autograd, or use `torch.no_grad()` instead of `torch.inference_mode()`.")


_NOARG = object()
_PY_SCALARS = (float, int)
# Tensor subclasses whose calls take the ops' fast paths as plain Tensors do (nn adds Parameter)
_FAST_TYPES: set = set()


def dispatch(op, inputs, params, node_name=None):
    """Run (record) ``op`` on ``inputs`` (Tensors, python scalars or None) and build its graph node."""
    if _lazy._deferred and _mode.grad:
        _lazy.flush()  # a new forward: the last backward's program runs first (see _lazy.defer)
    if _ac.live is not None:
        inputs = _autocast_inputs(op.name, inputs, _ac.live, params)
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
    sig = [op]  # the inputs' kinds, for the node's layout (``_attach_node``)
    for x in inputs:
        if type(x) is Tensor or isinstance(x, Tensor):
            st = x._st
            if x._view is None:
                vals.append(st.value)
                sig.append(x._rg + 2 * (x._dtype in _DIFF))
            else:
                vals.append(x._value())
                sig.append(x._rg + 2 * (x._dtype in _DIFF) + 4)
            d = st.device
            if dev is None:
                dev = d
            elif d is not dev and d != dev and x._shape:
                _check_device([t for t in inputs if isinstance(t, Tensor)])
            if x._rg:
                needs_grad = True
        elif x is None:
            sig.append(-1)
        elif x is ABSENT:
            sig.append(-2)
        else:
            if type(x) is Const:
                v = x.v
                sig.append(-3)
            else:
                v = x
                sig.append(-4)
            tv = type(v)
            if tv is float or tv is int or tv is bool:  # python numbers first: isinstance(v, jax.Array) is slow
                npd = (cast or _scalar_like(v, inputs)).np
                c = _const_lazy.get((tv, v, npd)) if not _lazy._state.tracing else None
                if c is None:
                    c = _const_lazy_new(v, npd)
                vals.append(c)
            elif isinstance(v, (np.ndarray, jax.Array)):
                vals.append(v)
            elif not isinstance(v, (bool, int, float, complex, np.generic)):
                raise _arg_error(op, inputs, next(i for i, y in enumerate(inputs) if y is x), v)
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
        if "broadcast" in str(e):
            shapes = [x._shape for x in inputs if isinstance(x, Tensor)]
            if op.name in _MASK_FIRST:  # torch broadcasts the mask against self
                shapes[:2] = shapes[1::-1]
            err = broadcast_error(shapes)
            if err is not None:
                raise err from None
        raise RuntimeError(f"{op.name}: {e}") from None
    if type(lz) is not Lazy:
        lz = _lazy.wrap(lz)
    dt = _NP2DT[lz.dtype]
    if op.view:
        out = new_view(lz, lz.shape, dt, inputs[0], ((op.prim, params),))
    else:
        out = new_result(lz, lz.shape, dt, dev or _CPU)
    if needs_grad and _mode.grad and not op.nondiff_out and dt in _DIFF:
        name = node_name or (op.node if type(op.node) is str else op.node(params))
        sig.insert(1, name)
        sig = tuple(sig)
        plan = _plans.get(sig)
        if plan is None:
            plan = _plan(sig, op, name)
        _attach_planned(plan, op, inputs, vals, params, out)
    if _fwd._state.level >= 0 and not op.nondiff_out:
        _forward_tangent(op, inputs, vals, params, out)
    return out


def view_meta(out, src):
    """What the view ``out`` of ``src`` takes from the mode it is made in (torch's CreationMeta): made
    with grad mode off it requires grad as ``src`` does (with no node) and may not be edited in place
    under grad mode; a view of an inference tensor is one, a view of a normal tensor is not."""
    if src._inference:
        out._inference = True
    m = src._vmeta
    if not _mode.grad:
        if m != "inference":
            m = "inference" if _mode.inference else "no_grad"
        if src._rg:
            out._rg = True
    if m is not None:
        out._vmeta = m


def new_result(lz, shape, dt, device):
    """The tensor of a recorded op's result ``lz`` (a Lazy of ``shape``, dtype ``dt``) on a new
    storage (``Tensor._make`` without its lookups); an inference tensor in inference mode."""
    out = _new_tensor(Tensor)
    out._st = st = _new_tensor(Storage)
    st.value = lz
    st.version = 0
    st.device = device
    st.last_fn = None
    out._shape = shape
    out._dtype = dt
    out._rg = False
    out.grad_fn = None
    if _mode.inference:
        out._inference = True
    return out


def new_view(lz, shape, dt, src, chain):
    """The view of ``src`` whose value is ``lz``, ``chain`` (its view entries) added to ``src``'s."""
    out = _new_tensor(Tensor)
    out._st = st = src._st
    out._view = chain if src._view is None else src._view + chain
    out._vcache = (st.version, lz)
    out._base = src._base if src._base is not None else src
    out._shape = shape
    out._dtype = dt
    out._rg = False
    out.grad_fn = None
    if not _mode.grad or src._vmeta is not None or src._inference:
        view_meta(out, src)
    return out


_new_tensor = object.__new__
Lazy = _lazy.Lazy
_NP2DT = _dtypes._FROM_NP


# -- autocast: torch's per-op policy (``_autocast`` holds the tables), applied here and only here -----
def _autocast_rule(name, tensors, live, params=()):
    """(target dtype or None, device type) for op ``name`` on ``tensors`` under the live autocast state."""
    first = next((t for t in tensors if isinstance(t, Tensor)), None)
    if first is None:
        return None, None
    dev = first._st.device.type
    entry = live.get(dev)
    if entry is None:
        return None, None
    table, low = entry
    policy = table.get(name)
    if callable(policy):
        policy = policy(params)
    if policy is None:
        return None, None
    if policy is _autocast.LOWER:
        return low, dev
    if policy is _autocast.FP32:
        return _dtypes.float32, dev
    if policy is _autocast.FP32_SET_OPT_DTYPE:
        return (_dtypes.float32 if _ac_eligible(first, dev) else None), dev
    if policy is _autocast.BANNED:
        raise RuntimeError(_autocast.BANNED_MESSAGE)
    to = low  # promote: float32 wins over the lower type; float64 tensors are left out
    for t in tensors:
        if _ac_eligible(t, dev):
            if to is _dtypes.float32 or t._dtype is _dtypes.float32:
                to = _dtypes.float32
            elif t._dtype is not low:
                raise RuntimeError("Unexpected floating ScalarType in at::autocast::prioritize")
    return to, dev


def _ac_eligible(t, dev):
    return isinstance(t, Tensor) and t._dtype.is_floating_point and t._dtype is not _dtypes.float64 and \
        t._st.device.type == dev


def _ac_cast(t, to, dev, first_only=False):
    """torch's ``cached_cast``: eligible tensors cast (a ToCopyBackward0 in the graph, so gradients come
    back in the tensor's own dtype); casts of float32 leaf parameters are cached for the region."""
    if not _ac_eligible(t, dev) or t._dtype is to:
        return t
    if to is _ac.dtype.get(dev) and t._dtype is _dtypes.float32 and t._rg and t.grad_fn is None and \
            t._view is None and _ac.cache_enabled:
        hit = _ac.cache.get((id(t), to))
        if hit is not None and hit[0] is t:
            return hit[1]
        out = t.to(to)
        _ac.cache[(id(t), to)] = (t, out)
        return out
    return t.to(to)


def _autocast_inputs(name, inputs, live, params):
    to, dev = _autocast_rule(name, [x for x in inputs if isinstance(x, Tensor)], live, params)
    if to is None:
        return inputs
    _ac.live = None  # the casts themselves are not autocast
    try:
        if live[dev][0].get(name) is _autocast.FP32_SET_OPT_DTYPE:  # only the first tensor (its dtype= argument)
            first = next(i for i, x in enumerate(inputs) if isinstance(x, Tensor))
            return inputs[:first] + type(inputs)([_ac_cast(inputs[first], to, dev)]) + inputs[first + 1:]
        return type(inputs)(_ac_cast(x, to, dev) if isinstance(x, Tensor) else x for x in inputs)
    finally:
        _ac.live = live


def autocast_op(name):
    """Decorate a composite entry point (``linear``, ``conv2d``, ``cross_entropy``...) that torch's
    autocast treats as one op ``name``: under autocast its tensor arguments (lists of tensors too) are
    cast by the policy first and the body runs with autocast excluded, as torch's wrappers do."""
    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            live = _ac.live
            if live is None:
                return fn(*args, **kwargs)
            flat = [t for a in (*args, *kwargs.values())
                    for t in (a if isinstance(a, (list, tuple)) else (a,)) if isinstance(t, Tensor)]
            to, dev = _autocast_rule(name, flat, live)
            if to is None:
                return fn(*args, **kwargs)
            _ac.live = None
            try:
                only_first = live[dev][0].get(name) is _autocast.FP32_SET_OPT_DTYPE
                seen = []

                def c(a):
                    if isinstance(a, Tensor):
                        if only_first and seen:
                            return a
                        seen.append(a)
                        return _ac_cast(a, to, dev)
                    if isinstance(a, (list, tuple)) and any(isinstance(x, Tensor) for x in a):
                        return type(a)(c(x) for x in a)
                    return a

                args = tuple(c(a) for a in args)
                kwargs = {k: c(v) for k, v in kwargs.items()}
                return fn(*args, **kwargs)
            finally:
                _ac.live = live

        wrapper.__wrapped_autocast__ = name
        return wrapper

    return deco


def broadcast_error(shapes):
    """torch's error for shapes that do not broadcast (its ``infer_size``, pairwise left to right),
    or None when they do."""
    out = tuple(shapes[0]) if shapes else ()
    for s in shapes[1:]:
        n = max(len(out), len(s))
        res = []
        for i in range(n - 1, -1, -1):
            k = n - 1 - i
            a = out[len(out) - 1 - k] if k < len(out) else 1
            b = s[len(s) - 1 - k] if k < len(s) else 1
            if a != b and a != 1 and b != 1:
                return RuntimeError(f"The size of tensor a ({a}) must match the size of tensor b ({b}) at "
                                    f"non-singleton dimension {i}")
            res.append(b if a == 1 else a)
        out = tuple(reversed(res))
    return None


@functools.lru_cache(maxsize=4096)
def broadcast_shape(*shapes):
    """The broadcast of ``shapes`` (tuples), or torch's RuntimeError naming the mismatch (cached)."""
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        raise broadcast_error(list(shapes)) from None


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
        impl = op.jvp_impl or op.prim.impl

        def forward(*args, params):
            xs, ts = list(args[:n_inputs]), args[n_inputs:]

            def f(*dual):
                ys = list(xs)
                for p, d in zip(positions, dual):
                    ys[p] = d
                return impl(params, *ys)

            return jax.jvp(f, tuple(xs[p] for p in positions), tuple(ts))[1]

        v = OpDef(f"{op.name}_jvp", forward, None, None, False, False, False)
        op._vjps[key] = v
    return v


def _attach_node(op, name, inputs, vals, params, out):
    # what the node's layout depends on (which inputs are tensors that require grad, their dtype
    # kinds, views...) is one small key; the layout itself is planned once per key (``_plan``)
    sig = [op, name]
    for x in inputs:
        if type(x) is Tensor or isinstance(x, Tensor):
            sig.append(x._rg + 2 * (x._dtype in _DIFF) + (4 if x._view is not None else 0))
        elif x is None:
            sig.append(-1)
        elif x is ABSENT:
            sig.append(-2)
        elif type(x) is Const:
            sig.append(-3)
        else:
            sig.append(-4)
    sig = tuple(sig)
    plan = _plans.get(sig)
    if plan is None:
        plan = _plan(sig, op, name)
    _attach_planned(plan, op, inputs, vals, params, out)


def _flat_edges(inputs, edge_idx):
    """A node's edges, flat: (grad_fn or AccumulateGrad, output number) per input position of
    ``edge_idx`` ((None, 0) where it is -1: an input without a gradient)."""
    edges = []
    for j in edge_idx:
        if j < 0:
            edges.append(None)
            edges.append(0)
        else:
            x = inputs[j]
            fn = x.grad_fn
            if fn is not None:
                edges.append(fn)
                edges.append(x._output_nr)
            else:
                edges.append(x._accumulate_node())
                edges.append(0)
    return tuple(edges)


def _new_node(cls, nplan, edge_idx, inputs, params, o):
    """A node of class ``cls`` with plan ``nplan``: its edges to ``inputs`` at ``edge_idx`` (one edge
    stored as a bare pair), its sequence number, ``params`` and output meta ``o`` (interned)."""
    node = _new_tensor(cls)
    if len(edge_idx) == 1 and edge_idx[0] >= 0:
        x = inputs[edge_idx[0]]
        fn = x.grad_fn
        node._next = (fn, x._output_nr) if fn is not None else (x._accumulate_node(), 0)
    else:
        node._next = _flat_edges(inputs, edge_idx)
    node._seq = next(_seq)
    node._p = nplan
    node.params = params
    node._out = o
    return node


def _attach_planned(plan, op, inputs, vals, params, out):
    """Build ``out``'s node by ``plan`` (see ``_plan``)."""
    cls, nplan, edge_idx, fmask, saved_plan, num_pos = plan
    p = _interned.get(params)  # one tuple per distinct params, not one per node (promote prepends the dtype)
    if p is None:
        p = _interned[params] = params
    o = (out._shape, out._dtype)
    o2 = _interned.get(o)
    if o2 is None:
        if len(_interned) > 50_000:
            _interned.clear()
        o2 = _interned[o] = o
    node = _new_node(cls, nplan, edge_idx, inputs, p, o2)
    if fmask:
        # torch saves only what the derivative reads: the other inputs' values are not kept alive by
        # the graph (nor materialised when pending), only their shapes (see ``_plan``)
        vals = list(vals)
        for j in fmask:
            v = vals[j]
            d = _dropped_cache.get((v.shape, v.dtype)) if type(v) is Lazy else None
            vals[j] = d if d is not None else dropped(v)
        vals = tuple(vals)
        if len(fmask) + len(num_pos) == len(vals):
            # only Dropped and python numbers: when every number is dispatch's cached constant, one shared tuple
            for j, k in num_pos:
                x = inputs[j]
                c = vals[k]
                if not (type(x) in _NUMBER_TYPES and type(c) is Lazy and _const_lazy.get((type(x), x, c.dtype)) is c):
                    break
            else:
                vals = _interned.setdefault(vals, vals)
        node.vals = vals
        node._dropped = True
    else:
        node.vals = tuple(vals)
        node._dropped = False
    node._saved = _saved_of(saved_plan, inputs, out) if saved_plan else ()
    node._freed = False
    if _anomaly.enabled:
        node._anomaly_trace = capture_trace()
    out.grad_fn = node
    out._rg = True


def _plan(sig, op, name):
    """The layout of ``op``'s node for inputs of signature ``sig`` (see ``_attach_node``): node class,
    input positions of the edges, which input values to drop, what to save for version checks."""
    cls = _node_classes.get(name)
    if cls is None:
        cls = _node_classes[name] = node_class(name)
    edge_idx = []
    pos = []
    k = 0
    want = None
    saves = op.saves
    nondiff = op.nondiff
    drop_ok = saves is not None and op.name not in _KEEP_ALL
    fmask = 0  # float tensor inputs whose values may be left out of the graph
    val_input = []  # input index of each value
    num_pos = []  # (input index, value index) of the python numbers (see ``_attach_planned``)
    for j, c in enumerate(sig[2:]):
        if c == -1:
            continue
        if c == -2:
            edge_idx.append(-1)
            pos.append(-1)
            continue
        if c == -3 or k in nondiff:
            val_input.append(j)
            k += 1
            continue
        val_input.append(j)
        if c >= 0:
            if drop_ok and c & 2:
                fmask |= 1 << k
            if c & 1:
                edge_idx.append(j)
                if saves is not None:
                    s = saves.get(k)
                    if s:
                        want = s if want is None else tuple(set(want).union(s))
                    elif s is None:
                        drop_ok = False
            else:
                edge_idx.append(-1)
        else:
            edge_idx.append(-1)
            num_pos.append((j, k))
        pos.append(k)
        k += 1
    pos = tuple(pos)
    pos = _interned.setdefault(pos, pos)
    if drop_ok and fmask:
        # only float tensors' values: numbers and Consts (clamp's bounds) are parameters torch keeps,
        # integer and bool tensors are indices and masks the formula reads
        keep = -1 if want is not None and "result" in want else sum(1 << w for w in (want or ()))
        fmask &= ~keep
    else:
        fmask = 0
    saved_plan = []
    for w in (want or ()):
        if w == "result":
            saved_plan.append((-1, -1))
        elif w < len(val_input):  # an optional input may be absent
            j = val_input[w]
            c = sig[2 + j]
            if c >= 0:  # a tensor (a number saves nothing)
                saved_plan.append((j, w if not c & 4 else -1))
    fmask = tuple(j for j in range(k) if fmask >> j & 1)  # the value positions to drop
    plan = (cls, NodePlan(op, pos, bool(want) or saves is None), tuple(edge_idx), fmask, tuple(saved_plan),
            tuple(num_pos))
    if len(_plans) > 20_000:
        _plans.clear()
    _plans[sig] = plan
    return plan


_plans: dict = {}


# Nodes keep only the float inputs their op's ``saves`` names (what torch's formula saves;
# tests/autograd/test_saves_coverage.py checks it covers what each vjp reads). Ops without ``saves``
# and these, whose vjp reads a value torch's decomposition does not save (so it must not be
# version-checked), keep every input value.
_NUMBER_TYPES = frozenset({int, float, bool, complex})
# quantile_: its vjp reads q; torch saves ranks derived from q, not q. embedding_bag: mode="max"'s
# vjp reads the weight (torch saves the forward's max indices, not the weight)
_KEEP_ALL = frozenset({"quantile_", "embedding_bag"})
# small tuples many nodes share (input positions, output shape and dtype): one object each
_interned: dict = {}
_node_classes: dict = {}


def _torch_vjp(f, primals, g):
    """The cotangents of ``primals`` for output gradient ``g``, as a tuple, in torch's convention:
    torch's complex gradients are the conjugate of JAX's cotangents, ``conj(vjp(conj(g)))``."""
    if not (np.iscomplexobj(g) or any(np.iscomplexobj(x) for x in primals)):
        return tuple(jax.vjp(f, *primals)[1](g))
    rs = jax.vjp(f, *primals)[1](jax.numpy.conj(g))
    return tuple(jax.numpy.conj(r) if np.iscomplexobj(r) else r for r in rs)


def vjp_op(op, i, n_inputs):
    """The op computing the gradient of ``op``'s input ``i`` from (inputs..., grad_output)."""
    return _vjp_def(op, (i, n_inputs), f"{op.name}_vjp{i}", (i,), True)


def _vjp_def(op, key, name, positions, single):
    """The (cached) op computing the gradients of ``op``'s inputs at ``positions`` from (inputs...,
    grad_output) in one vjp: a tuple, or with ``single`` the one gradient."""
    v = op._vjps.get(key)
    if v is None:
        prim = op.prim

        def forward(*args, params):
            xs, g = list(args[:-1]), args[-1]

            def f(*sel):
                ys = list(xs)
                for p, s in zip(positions, sel):
                    ys[p] = s
                return prim.impl(params, *ys)

            r = _torch_vjp(f, [xs[p] for p in positions], g)
            return r[0] if single else r

        v = op._vjps[key] = OpDef(name, forward, None, None, False, False, False)
    return v


# Ops whose backward computes the gradients of all its inputs in ONE vjp (``joint_vjp_op``), not one
# vjp per input: for an op whose forward is a loop (an RNN layer's ``lax.scan``), per-input vjps are
# separate backward loops that XLA cannot merge; its module adds the op here.
JOINT_VJP: set = set()


def joint_vjp_op(op, positions, n_inputs):
    """The op computing the gradients of ``op``'s inputs at ``positions`` (a tuple) from
    (inputs..., grad_output), as a tuple: one reverse pass for all of them."""
    return _vjp_def(op, (positions, n_inputs), f"{op.name}_vjp{'_'.join(map(str, positions))}", positions, False)
