"""``torch.masked`` on strided tensors, composed the way torch's ``torch/masked/_ops.py`` does:
masked-out elements are replaced by the reduction's identity (0 for sum, 1 for prod, -inf for
amax...), then the plain op runs, so values, dtypes and ``grad_fn`` names are torch's."""
from __future__ import annotations

import numpy as np

from .. import _dtypes
from ..tensor import Tensor
from . import creation, pointwise, reduction, sorting, views
from .registry import public

__all__ = []

_SMALL_INTS = ("uint8", "bool", "int8", "int16", "int32")


def _canonical_dim(dim, ndim):
    if dim == ():
        dim = None
    if dim is None:
        return tuple(range(ndim))
    ndim = max(ndim, 1)
    dims = []
    for d in ((dim,) if isinstance(dim, int) else dim):
        if d in dims:
            raise RuntimeError(f"dim={d} appears multiple times in the list of dims")
        if d >= ndim or d < -ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], but got {d})")
        dims.append(d % ndim)
    return tuple(sorted(dims))


def _identity(op_name, input, *args):
    dt = input._dtype
    fl = dt.is_floating_point
    info = None if fl or dt.is_complex or dt is _dtypes.bool else np.iinfo(dt.np)
    if op_name in ("sum", "cumsum"):
        v = 0
    elif op_name in ("prod", "cumprod"):
        v = 1
    elif op_name in ("amax", "argmax", "logaddexp", "logsumexp"):
        v = -float("inf") if fl else (info.min if info is not None else None)
    elif op_name in ("amin", "argmin"):
        v = float("inf") if fl else (info.max if info is not None else None)
    elif op_name == "norm":
        v = float("inf") if (args and args[0] == -float("inf")) else 0
    elif op_name == "median":
        return creation.tensor(float("nan"), dtype=dt if fl else _dtypes.float32, device=input.device)
    else:
        return None
    if v is None:
        raise NotImplementedError(f"identity of {op_name} on {dt} input")
    return creation.tensor(v, dtype=dt, device=input.device)


def _input_mask(input, mask):
    if mask is None:
        raise ValueError("_input_mask requires explicit mask")
    if mask._shape != input._shape:
        if mask.dim() > input.dim():
            raise IndexError("_input_mask expected broadcastable mask (got mask dimensionality higher than of the "
                             "input)")
        mask = views.broadcast_to(mask.clone(), input._shape)
    return mask.to(_dtypes.bool)


def _combine(op_name, input, mask, *args):
    if mask is None:
        return input
    return pointwise.where(_input_mask(input, mask), input, _identity(op_name, input, *args))


def _int_promoted(input, dtype):
    if dtype is None:
        dtype = input._dtype
        if dtype.name in _SMALL_INTS:
            dtype = _dtypes.int64
    return dtype


@public(namespace="masked")
def sum(input, dim=None, *, keepdim=False, dtype=None, mask=None):  # noqa: A001
    """Sum of the masked-in elements (masked-out ones count as 0)."""
    dtype = _int_promoted(input, dtype)
    dims = _canonical_dim(dim, input.dim())
    return reduction.sum(_combine("sum", input, mask), dims, bool(keepdim), dtype=dtype)


@public(namespace="masked")
def prod(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Product of the masked-in elements (masked-out ones count as 1)."""
    dtype = _int_promoted(input, dtype)
    dims = _canonical_dim(dim, input.dim())
    r = _combine("prod", input, mask).to(dtype)
    for d in reversed(dims):
        r = reduction.prod(r, d, bool(keepdim))
    return r


@public(namespace="masked")
def cumsum(input, dim, *, dtype=None, mask=None):
    """Running sum of the masked-in elements."""
    dtype = dtype or input._dtype
    d = _canonical_dim(dim, input.dim())[0]
    return reduction.cumsum(_combine("sum", input, mask), d, dtype=dtype).to(dtype)


@public(namespace="masked")
def cumprod(input, dim, *, dtype=None, mask=None):
    """Running product of the masked-in elements."""
    dtype = dtype or input._dtype
    d = _canonical_dim(dim, input.dim())[0]
    return reduction.cumprod(_combine("prod", input, mask), d, dtype=dtype).to(dtype)


@public(namespace="masked")
def amax(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Largest masked-in element."""
    dtype = dtype or input._dtype
    m = _combine("amax", input, mask)
    return reduction.amax(m, _canonical_dim(dim, m.dim()), bool(keepdim)).to(dtype)


@public(namespace="masked")
def amin(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Smallest masked-in element."""
    dtype = dtype or input._dtype
    m = _combine("amin", input, mask)
    return reduction.amin(m, _canonical_dim(dim, m.dim()), bool(keepdim)).to(dtype)


@public(namespace="masked")
def argmax(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Index of the largest masked-in element (in ``dtype``, the input's by default, as torch)."""
    dtype = dtype or input._dtype
    return reduction.argmax(_combine("argmax", input, mask), dim, bool(keepdim)).to(dtype)


@public(namespace="masked")
def argmin(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Index of the smallest masked-in element (in ``dtype``, the input's by default, as torch)."""
    dtype = dtype or input._dtype
    return reduction.argmin(_combine("argmin", input, mask), dim, bool(keepdim)).to(dtype)


@public(namespace="masked")
def mean(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Mean of the masked-in elements (NaN where all are masked out)."""
    src = "Optional"
    if dtype is None:
        dtype, src = input._dtype, "Input"
    dtype = _dtypes.as_dtype(dtype)
    if not (dtype.is_floating_point or dtype.is_complex):
        raise ValueError(f"mean(): Could not infer output dtype. {src} dtype must be either a floating point or "
                         f"complex dtype. Got: {dtype}")
    if mask is None:
        count = sum(creation.ones(input._shape, dtype=_dtypes.int64, device=input.device), dim, keepdim=keepdim)
        total = sum(input, dim, keepdim=keepdim, dtype=dtype)
    else:
        inmask = _input_mask(input, mask)
        count = reduction.sum(inmask, dim, bool(keepdim))
        total = sum(input, dim, keepdim=keepdim, dtype=dtype, mask=inmask)
    return total / count


@public(namespace="masked")
def median(input, dim=-1, *, keepdim=False, dtype=None, mask=None):
    """Median of the masked-in elements (``nanmedian`` over masked-out NaNs)."""
    dtype = dtype or input._dtype
    d = _canonical_dim(dim, input.dim())[0]
    is_float = input._dtype.is_floating_point
    if not is_float:
        input = input.to(_dtypes.float32)
    out = sorting.nanmedian(_combine("median", input, mask), d, keepdim).values
    if is_float:
        return out
    if not bool(pointwise.isnan(out).any()):
        return out.to(dtype)
    raise ValueError("masked median expects no fully masked out rows if dtype is not floating point")


@public(namespace="masked")
def logsumexp(input, dim=None, *, keepdim=False, dtype=None, mask=None):
    """``log(sum(exp))`` of the masked-in elements."""
    dtype = dtype or input._dtype
    dims = _canonical_dim(dim, input.dim())
    return reduction.logsumexp(_combine("logsumexp", input, mask), dims, keepdim=keepdim).to(dtype)


@public(namespace="masked")
def logaddexp(input, other, *, dtype=None, input_mask=None, other_mask=None):
    """``logaddexp`` with masked-out elements of either side treated as -inf."""
    dtype = dtype or input._dtype
    a = _combine("logaddexp", input, input_mask)
    b = _combine("logaddexp", other, other_mask)
    return pointwise.logaddexp(a, b).to(dtype)


@public(namespace="masked")
def norm(input, ord=2.0, dim=None, *, keepdim=False, dtype=None, mask=None):
    """Vector ``ord``-norm of the masked-in elements."""
    dtype = dtype or input._dtype
    m = _combine("norm", input, mask, ord)
    return reduction._vector_norm(m, ord, _canonical_dim(dim, input.dim()), bool(keepdim), dtype=dtype)


def _std_var(input, dim, unbiased, correction_opt, keepdim, dtype, mask, take_sqrt):
    if unbiased is not None and correction_opt is not None:
        raise AssertionError("Only one of unbiased and correction may be given")
    correction = 1.0
    if unbiased is not None:
        correction = 1.0 if unbiased else 0.0
    if correction_opt is not None:
        correction = float(correction_opt)
    if dtype is None:
        dtype = input._dtype
        if not (dtype.is_floating_point or dtype.is_complex):
            dtype = _dtypes.float32
    dtype = _dtypes.as_dtype(dtype)
    compute = dtype if (dtype.is_floating_point or dtype.is_complex) else _dtypes.float32
    if mask is None:
        count = sum(creation.ones(input._shape, dtype=_dtypes.int64, device=input.device), dim, keepdim=True)
        total0 = sum(input, dim, keepdim=True, dtype=dtype)
        inmask = None
    else:
        inmask = _input_mask(input, mask)
        count = reduction.sum(inmask, dim, True)
        total0 = sum(input, dim, keepdim=True, dtype=dtype, mask=inmask)
    x = input - pointwise.div(total0, count)
    total = sum(x * x, dim, keepdim=keepdim, dtype=compute, mask=inmask)
    if not keepdim:
        count = views.reshape(count, total._shape)
    if correction != 0:
        count = count.to(compute)
        count = count - correction
        count = pointwise.maximum(count, count.new_zeros([]))
    out = pointwise.div(total, count).to(dtype)
    return pointwise.sqrt(out) if take_sqrt else out


@public(namespace="masked")
def var(input, dim=None, unbiased=None, *, correction=None, keepdim=False, dtype=None, mask=None):
    """Variance of the masked-in elements."""
    return _std_var(input, dim, unbiased, correction, keepdim, dtype, mask, False)


@public(namespace="masked")
def std(input, dim=None, unbiased=None, *, correction=None, keepdim=False, dtype=None, mask=None):
    """Standard deviation of the masked-in elements."""
    return _std_var(input, dim, unbiased, correction, keepdim, dtype, mask, True)


def _softmax(name, input, dim, dtype, mask, identity, negate=False):
    dtype = dtype or input._dtype
    d = _canonical_dim(dim, input.dim())[0]
    m = _combine(identity, input, mask)
    if negate:
        m = -m
    return (reduction.log_softmax if name == "log_softmax" else reduction.softmax)(m, d, dtype=dtype)


@public(namespace="masked")
def softmax(input, dim, *, dtype=None, mask=None):
    """Softmax over the masked-in elements (masked-out ones get 0)."""
    return _softmax("softmax", input, dim, dtype, mask, "amax")


@public(namespace="masked")
def log_softmax(input, dim, *, dtype=None, mask=None):
    """Log-softmax over the masked-in elements."""
    return _softmax("log_softmax", input, dim, dtype, mask, "amax")


@public(namespace="masked")
def softmin(input, dim, *, dtype=None, mask=None):
    """Softmin over the masked-in elements."""
    return _softmax("softmax", input, dim, dtype, mask, "amin", negate=True)


@public(namespace="masked")
def normalize(input, ord, dim, *, eps=1e-12, dtype=None, mask=None):
    """``input`` divided by its masked ``ord``-norm along ``dim`` (at least ``eps``)."""
    dtype = dtype or input._dtype
    m = _combine("sum", input, mask)
    nrm = norm(input, ord, dim, keepdim=True, dtype=dtype, mask=mask)
    denom = pointwise.maximum(nrm, nrm.new_full([], eps))
    return pointwise.div(m, denom)
