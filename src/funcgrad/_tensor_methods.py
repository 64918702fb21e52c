"""Tensor methods that are compositions of registry ops (operators, in-place protocol, indexing)."""
from __future__ import annotations

import weakref

from . import _dtypes
from ._autograd import grad_mode as _gm
from ._dtypes import _dt_name  # noqa: F401 - also imported from here
from ._ops import creation, indexing, linalg, pointwise, reduction, views
from ._ops.registry import _check_args, methods
from .tensor import Tensor
import numpy as np

_mode = _gm._mode


def _inplace_assign(self, res):
    """Make ``self`` hold ``res`` in place: version bump, views written through, graph rebased."""
    multi = self.__dict__.get("_multi_view")
    if multi is not None and _mode.grad:
        views.check_inplace(self)
    if self._vmeta is not None and _mode.grad and (self._rg or res._rg):
        raise views.rebase_error(self)
    if _mode.grad and self.grad_fn is None and self._rg:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
    if self._view is not None:
        views.check_internal_overlap(self)
    if res._dtype is not self._dtype:
        if _dtypes._category(res._dtype) > _dtypes._category(self._dtype):
            raise RuntimeError(f"result type {_dt_name(res._dtype)} can't be cast to the desired output type "
                               f"{_dt_name(self._dtype)}")
        res = res.to(self._dtype)
    if res._shape != self._shape:
        raise RuntimeError(f"output with shape [{', '.join(map(str, self._shape))}] doesn't match the broadcast shape "
                           f"[{', '.join(map(str, res._shape))}]")
    base = self._base
    if base is not None and _mode.grad and base.grad_fn is None and base._rg and self._view is not None:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")
    if base is not None and self._view is not None and _mode.grad and (base._rg or res._rg):
        rel = self._view[len(base._view or ()):]
        new_base = views.copy_slices(base, res, rel)
        base._set_value(new_base._value())
        base.grad_fn, base._output_nr, base._rg = new_base.grad_fn, 0, True
        replay = views.view_replay(base, rel)
        self.grad_fn, self._output_nr, self._rg = replay.grad_fn, 0, True
        self._vcache = (self._st.version, res._value())
        return self
    self._set_value(res._value())
    fw = res.__dict__.get("_fw_grad")
    if fw is not None or "_fw_grad" in self.__dict__:
        self._fw_grad = fw  # forward AD: the tangent of the new value
    node = res.grad_fn
    if node is not None:
        saved = getattr(node, "_saved", None)
        if saved:
            # the op's result now lives in self (checked from this version on); self as an *input* was
            # saved by value (torch saves a clone of the original self for in-place ops), so no check
            node._saved = tuple((weakref.ref(self._st), self._st.version, d, k) if _deref(st) is res._st
                                else (st, v, d, k) for st, v, d, k in saved if not (k == 0 and _deref(st) is self._st))
        self.grad_fn, self._output_nr, self._rg = node, res._output_nr, True
        self._st.last_fn = (node, res._output_nr)
    return self


def _zero_(self):
    return self._inplace_assign(creation._zero(self))


def _fill_(self, value):
    if not isinstance(value, (Tensor, bool, int, float, complex, np.generic)):
        raise TypeError(f"fill_() received an invalid combination of arguments - got ({type(value).__name__}), "
                        "but expected one of:")
    return self._inplace_assign(creation._fill_op(self, value))


def _copy_(self, src, non_blocking=False):
    return self._inplace_assign(creation._copy_op(self, src))


def _new_factory(fn):
    def method(self, *size, dtype=None, device=None, requires_grad=False):
        return fn(*size, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad)
    return method


_OPERAND = (int, float, complex, bool)
_OPERAND_T = (Tensor, *_OPERAND)


def _deref(st):
    """A saved storage, held weakly for a saved result (None when gone)."""
    return st() if type(st) is weakref.ref else st


def _bin(fn, swap=False, name=None, python_level=False):
    # another type (None, a string) gives NotImplemented, so python answers as for torch:
    # ``t == None`` is False, ``t < None`` a TypeError. ``Tensor.__radd__(2, t)`` is torch's
    # descriptor TypeError (its python-level dunders, ``__rsub__``/``__rpow__``/``__rmod__``...,
    # answer NotImplemented instead)
    bind_fast = getattr(fn, "_bind_fast", None) if not swap else None

    def slow(self, other):
        if not isinstance(self, Tensor):
            if python_level:
                return NotImplemented
            raise TypeError(f"descriptor '{name}' for 'torch._C.TensorBase' objects doesn't apply to a "
                            f"'{type(self).__name__}' object")
        to = type(other)
        if to is not Tensor and to is not float and to is not int and not isinstance(other, _OPERAND_T) and \
                not _is_np_number(other):
            return NotImplemented
        return fn(other, self) if swap else fn(self, other)
    # the op's fast path first (plain float tensors and python floats), else ``slow``
    return bind_fast(slow) if bind_fast is not None else slow


def _dunders(table):
    return {k: (_bin(*v[:2], name=k, python_level=v[2]) if isinstance(v, tuple) else v) for k, v in table.items()}


def _is_np_number(x):
    import numpy as np

    return isinstance(x, np.generic)


def _ibin(fn):
    def op(self, other):
        return self._inplace_assign(fn(self, other))
    return op


def _rtruediv(self, other):
    if not isinstance(self, Tensor):  # torch's python-level self.reciprocal() * other
        raise AttributeError(f"'{type(self).__name__}' object has no attribute 'reciprocal'")
    return pointwise.mul(pointwise.reciprocal(self), other)


def _rpow(self, other):
    if not isinstance(self, Tensor):
        return NotImplemented
    return pointwise.pow(other, self)


def _rmatmul(self, other):
    return linalg.matmul(other, self)


def _getitem(self, index):
    return indexing.getitem(self, index)


def _setitem(self, index, value):
    indexing.setitem(self, index, value)


def _T(self):
    n = self.dim()
    if n > 2:
        import warnings

        warnings.warn("The use of `x.T` on tensors of dimension other than 2 to reverse their shape is deprecated "
                      "and it will throw an error in a future release.", UserWarning, stacklevel=2)
    return views.permute(self, *reversed(range(n)))


def _mT(self):
    return views._mT(self)


def _other_shape(name, other):
    """``other``'s shape for the ``*_as`` methods; a non-tensor is torch's parser TypeError."""
    if not isinstance(other, Tensor):
        raise TypeError(f"{name}(): argument 'other' (position 1) must be Tensor, not {type(other).__name__}")
    return other._shape


def _view_as(self, other):
    return views.view(self, _other_shape("view_as", other))


def _reshape_as(self, other):
    return views.reshape(self, _other_shape("reshape_as", other))


def _clamp_(self, min=None, max=None):  # noqa: A002
    return self._inplace_assign(pointwise.clamp(self, min, max))


def _pow_(self, exponent):
    return self._inplace_assign(pointwise.pow(self, exponent))


def _expand_as(self, other):
    return views.expand(self, _other_shape("expand_as", other))


def _apply_(self, fn):
    raise NotImplementedError("apply_ runs python per element; funcgrad does not support it")


def _index_put_(self, indices, values, accumulate=False):
    spec, arrays = indexing._index_arrays(self._shape, tuple(indices))
    if isinstance(values, Tensor):
        indexing._check_broadcastable(values._shape, indexing._region_shape(self, spec, arrays))
    return self._inplace_assign(indexing._index_put(self, values, arrays, spec, "IndexPutBackward0", accumulate))


def _invert(self):
    if self._dtype.is_floating_point or self._dtype.is_complex:
        raise TypeError("~ (operator.invert) is only implemented on integer and Boolean-type tensors")
    return pointwise.bitwise_not(self)


def _softmax(self, dim, dtype=None):
    try:
        return reduction.softmax(self, dim, dtype=dtype)
    except (TypeError, RuntimeError):
        _check_args("softmax", _softmax, (self, dim), {"dtype": dtype} if dtype is not None else {}, True)
        raise


def _log_softmax(self, dim, dtype=None):
    try:
        return reduction.log_softmax(self, dim, dtype=dtype)
    except (TypeError, RuntimeError):
        _check_args("log_softmax", _log_softmax, (self, dim), {"dtype": dtype} if dtype is not None else {}, True)
        raise


def install(Tensor):
    ops = {
        "_inplace_assign": _inplace_assign, "zero_": _zero_, "fill_": _fill_, "copy_": _copy_,
        "new_zeros": _new_factory(creation.zeros), "new_ones": _new_factory(creation.ones),
        "new_empty": _new_factory(creation.empty),
        "new_full": lambda self, size, fill_value, dtype=None, device=None, requires_grad=False: creation.full(
            size, fill_value, dtype=dtype or self.dtype, device=device or self.device, requires_grad=requires_grad),
        "__add__": (pointwise.add, False, False), "__radd__": (pointwise.add, False, False), "__iadd__": _ibin(pointwise.add),
        "__sub__": (pointwise.sub, False, False), "__rsub__": (pointwise.rsub, False, True), "__isub__": _ibin(pointwise.sub),
        "__mul__": (pointwise.mul, False, False), "__rmul__": (pointwise.mul, False, False), "__imul__": _ibin(pointwise.mul),
        "__truediv__": (pointwise.div, False, False), "__rtruediv__": _rtruediv, "__itruediv__": _ibin(pointwise.div),
        "__floordiv__": (pointwise.floor_divide, False, False), "__rfloordiv__": (pointwise.floor_divide, True, True),
        "__ifloordiv__": _ibin(pointwise.floor_divide),
        "__mod__": (pointwise.remainder, False, False), "__rmod__": (pointwise.remainder, True, True),
        "__pow__": (pointwise.pow, False, False), "__rpow__": _rpow, "__ipow__": _ibin(pointwise.pow),
        "__matmul__": (linalg.matmul, False, False), "__rmatmul__": _rmatmul,
        "__neg__": pointwise.neg, "__pos__": lambda self: self, "__abs__": pointwise.abs,
        "__invert__": _invert,
        "__and__": (pointwise.bitwise_and, False, False), "__or__": (pointwise.bitwise_or, False, False),
        "__xor__": (pointwise.bitwise_xor, False, False), "__rand__": (pointwise.bitwise_and, False, False),
        "__ror__": (pointwise.bitwise_or, False, False), "__iand__": _ibin(pointwise.bitwise_and),
        "__ior__": _ibin(pointwise.bitwise_or), "__rxor__": (pointwise.bitwise_xor, False, False),
        "__ixor__": _ibin(pointwise.bitwise_xor), "__rdiv__": _rtruediv, "__div__": (pointwise.div, False, False),
        "__idiv__": _ibin(pointwise.div),
        "__lshift__": (pointwise.bitwise_left_shift, False, False), "__rshift__": (pointwise.bitwise_right_shift, False, False),
        "__rlshift__": (pointwise.bitwise_left_shift, True, True),
        "__rrshift__": (pointwise.bitwise_right_shift, True, True),
        "__ilshift__": _ibin(pointwise.bitwise_left_shift), "__irshift__": _ibin(pointwise.bitwise_right_shift),
        "__eq__": (pointwise.eq, False, False), "__ne__": (pointwise.ne, False, False), "__lt__": (pointwise.lt, False, False),
        "__le__": (pointwise.le, False, False), "__gt__": (pointwise.gt, False, False), "__ge__": (pointwise.ge, False, False),
        "__getitem__": _getitem, "__setitem__": _setitem,
        "T": property(views._T), "mT": property(_mT), "H": property(views._H), "mH": property(views._mH),
        "view_as": _view_as, "reshape_as": _reshape_as, "expand_as": _expand_as,
        "clamp": pointwise.clamp, "clip": pointwise.clamp, "clamp_": _clamp_,
        "clip_": _clamp_, "matmul": linalg.matmul,
        "swapaxes": views.transpose, "swapdims": views.transpose, "nonzero": indexing.nonzero,
        "tile": indexing.tile, "index_put_": _index_put_, "negative": pointwise.neg, "absolute": pointwise.abs,
        "arcsin": pointwise.asin, "arccos": pointwise.acos, "arctan": pointwise.atan,
        "apply_": _apply_, "softmax": _softmax, "log_softmax": _log_softmax,
        "where": lambda self, condition, other: pointwise.where(condition, self, other), "bernoulli": creation.bernoulli, "multinomial": creation.multinomial,
    }
    methods(_dunders(ops))
