"""Reductions: sum, mean, prod, max/min (all, or along dims), var/std, norms, logsumexp, argmax..."""
from __future__ import annotations

from ..tensor import Tensor  # noqa: E402 - _ops load after tensor

import collections

import jax.numpy as jnp

from .. import _dtypes
from .registry import defop

__all__ = []

values_indices = collections.namedtuple("return_types", ["values", "indices"])


def _dims(dim, ndim):
    from ..tensor import _wrap_dim

    if dim is None:
        return None
    if isinstance(dim, int):
        dim = (dim,)
    if len(dim) == 0:
        return None
    out = tuple(sorted(_wrap_dim(d, ndim) for d in dim))
    if len(set(out)) != len(out):
        raise RuntimeError(f"dim {out[0]} appears multiple times in the list of dims")
    return out


def _acc_dtype(x, dtype):
    if dtype is not None:
        return _dtypes.as_dtype(dtype)
    if not (x._dtype.is_floating_point or x._dtype.is_complex):
        return _dtypes.int64
    return None


def _reduce(fn):
    def fwd(x, axis=None, keepdims=False, dtype=None):
        if dtype is not None:
            x = x.astype(dtype)
        return fn(x, axis=axis, keepdims=keepdims)
    return fwd


@defop(_reduce(jnp.sum), node="SumBackward0", saves={0: ()})
def sum(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A001
    """Sum of all elements, or over ``dim`` (int or tuple)."""
    dims = _dims(dim, input.dim())
    dt = _acc_dtype(input, dtype)
    params = (("axis", dims), ("keepdims", bool(keepdim)), ("dtype", dt.np if dt else None))
    return (input,), params, "SumBackward0" if dim is None else "SumBackward1"


@defop(_reduce(jnp.nansum), node="NansumBackward0", saves={0: (0,)})
def nansum(input, dim=None, keepdim=False, *, dtype=None):
    dims = _dims(dim, input.dim())
    dt = _acc_dtype(input, dtype)
    return (input,), (("axis", dims), ("keepdims", bool(keepdim)), ("dtype", dt.np if dt else None))


@defop(_reduce(jnp.mean), node="MeanBackward0", saves={0: ()})
def mean(input, dim=None, keepdim=False, *, dtype=None):
    """Mean of all elements, or over ``dim``; floating point inputs only."""
    if dtype is None and not (input._dtype.is_floating_point or input._dtype.is_complex):
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. "
            f"Got: {input._dtype.name.capitalize() if input._dtype.name != 'int64' else 'Long'}")
    dims = _dims(dim, input.dim())
    dt = _dtypes.as_dtype(dtype)
    return (input,), (("axis", dims), ("keepdims", bool(keepdim)), ("dtype", dt.np if dt else None)), \
        "MeanBackward0" if dim is None else "MeanBackward1"


@defop(_reduce(jnp.prod), node="ProdBackward0", saves={0: (0, "result")})
def prod(input, dim=None, keepdim=False, *, dtype=None):
    """Product of all elements, or along one ``dim``."""
    dims = _dims(dim, input.dim())
    dt = _acc_dtype(input, dtype)
    return (input,), (("axis", dims), ("keepdims", bool(keepdim)), ("dtype", dt.np if dt else None)), \
        "ProdBackward0" if dim is None else "ProdBackward1"


def _var_fwd(x, axis, correction, keepdims, sqrt):
    v = jnp.var(x, axis=axis, ddof=correction, keepdims=keepdims)
    return jnp.sqrt(v) if sqrt else v


def _var_params(input, dim, unbiased, keepdim, correction, sqrt):
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    return (input,), (("axis", _dims(dim, input.dim())), ("correction", correction), ("keepdims", bool(keepdim)),
                      ("sqrt", sqrt))


@defop(_var_fwd, node="VarBackward0", saves={0: (0,)})
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance (Bessel-corrected unless ``unbiased=False``/``correction=0``)."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return _var_params(input, dim, unbiased, keepdim, correction, False)


@defop(_var_fwd, node="StdBackward0", saves={0: (0, "result")})
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Standard deviation."""
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    return _var_params(input, dim, unbiased, keepdim, correction, True)


def _lse(x, axis, keepdims):
    import jax.scipy.special as sp

    return sp.logsumexp(x, axis=axis, keepdims=keepdims)


@defop(_lse, node="LogsumexpBackward0", saves={0: (0, "result")})
def logsumexp(input, dim, keepdim=False):
    return (input,), (("axis", _dims(dim, input.dim())), ("keepdims", bool(keepdim)))


def _amax_fwd(x, axis, keepdims, kind):
    return (jnp.max if kind == "max" else jnp.min)(x, axis=axis, keepdims=keepdims)


@defop(_amax_fwd, node="MaxBackward1", saves={0: (0, "result")}, method=False, function=False, name="max_all")
def _max_all(input, kind):
    if input.numel() == 0:
        raise RuntimeError(f"{kind}(): Expected reduction dim to be specified for input.numel() == 0. "
                           "Specify the reduction dim with the 'dim' argument.")
    return (input,), (("axis", None), ("keepdims", False), ("kind", kind)), \
        "MaxBackward1" if kind == "max" else "MinBackward1"


@defop(_amax_fwd, node="AmaxBackward0", saves={0: (0, "result")})
def amax(input, dim=(), keepdim=False):
    return (input,), (("axis", _dims(dim, input.dim())), ("keepdims", bool(keepdim)), ("kind", "max"))


@defop(_amax_fwd, node="AminBackward0", saves={0: (0, "result")})
def amin(input, dim=(), keepdim=False):
    return (input,), (("axis", _dims(dim, input.dim())), ("keepdims", bool(keepdim)), ("kind", "min"))


def _arg_fwd(x, axis, keepdims, kind):
    f = jnp.argmax if kind == "max" else jnp.argmin
    if axis is None:
        r = f(x.reshape(-1))
        return r.reshape((1,) * x.ndim) if keepdims else r
    return f(x, axis=axis, keepdims=keepdims).astype(jnp.int64)


@defop(_arg_fwd, node="", nondiff_out=True)
def argmax(input, dim=None, keepdim=False):
    """Index of the largest value (flattened when ``dim`` is None)."""
    return (input,), (("axis", None if dim is None else _dims(dim, input.dim())[0]), ("keepdims", bool(keepdim)),
                      ("kind", "max"))


@defop(_arg_fwd, node="", nondiff_out=True)
def argmin(input, dim=None, keepdim=False):
    return (input,), (("axis", None if dim is None else _dims(dim, input.dim())[0]), ("keepdims", bool(keepdim)),
                      ("kind", "min"))


def _max_dim_fwd(x, idx, axis, keepdims):
    # values picked with the indices, so the gradient flows to that one element (torch's rule)
    return jnp.take_along_axis(x, jnp.expand_dims(idx, axis) if not keepdims else idx, axis=axis).reshape(idx.shape)


@defop(_max_dim_fwd, node="MaxBackward0", saves={0: (1,)}, method=False, function=False, name="max_dim",
       nondiff=(1,))
def _values_at(input, indices, axis, keepdim, node):
    return (input, indices), (("axis", axis), ("keepdims", keepdim)), node


def _minmax(kind, input, dim=None, keepdim=False):

    if dim is None:
        return _max_all(input, kind)
    if isinstance(dim, Tensor):
        from .pointwise import maximum, minimum

        return (maximum if kind == "max" else minimum)(input, dim)
    d = _dims(dim, input.dim())[0] if input.dim() else 0
    if input.dim() and input._shape[d] == 0:
        raise IndexError(f"{kind}(): Expected reduction dim {d} to have non-zero size.")
    idx = (argmax if kind == "max" else argmin)(input, d, keepdim) if input.dim() else \
        Tensor._make(jnp.zeros((), jnp.int64), input.device)
    if not input.dim():
        return values_indices(input.clone(), idx)
    vals = _values_at(input, idx, d, bool(keepdim), "MaxBackward0" if kind == "max" else "MinBackward0")
    return values_indices(vals, idx)


def max(input, dim=None, keepdim=False):  # noqa: A001
    """Largest element; with ``dim``: (values, indices); with a tensor: elementwise maximum."""
    return _minmax("max", input, dim, keepdim)


def min(input, dim=None, keepdim=False):  # noqa: A001
    """Smallest element; with ``dim``: (values, indices); with a tensor: elementwise minimum."""
    return _minmax("min", input, dim, keepdim)


@defop(lambda x, axis, keepdims: jnp.all(x, axis=axis, keepdims=keepdims), node="", nondiff_out=True)
def all(input, dim=None, keepdim=False):  # noqa: A001
    return (input,), (("axis", _dims(dim, input.dim())), ("keepdims", bool(keepdim)))


@defop(lambda x, axis, keepdims: jnp.any(x, axis=axis, keepdims=keepdims), node="", nondiff_out=True)
def any(input, dim=None, keepdim=False):  # noqa: A001
    return (input,), (("axis", _dims(dim, input.dim())), ("keepdims", bool(keepdim)))


@defop(lambda x, axis: jnp.count_nonzero(x, axis=axis).astype(jnp.int64), node="", nondiff_out=True)
def count_nonzero(input, dim=None):
    return (input,), (("axis", _dims(dim, input.dim())),)


def _safe_root(s, power):
    """``s ** (1/power)`` whose gradient at s == 0 is 0 (torch's norm subgradient), not NaN."""
    zero = s == 0
    return jnp.where(zero, 0.0, jnp.where(zero, 1.0, s) ** (1.0 / power)).astype(s.dtype)


def _norm_fwd(x, ord, axis, keepdims):
    if ord == 2 or ord == "fro":
        return _safe_root(jnp.sum(jnp.square(jnp.abs(x)), axis=axis, keepdims=keepdims), 2)
    if ord == float("inf"):
        return jnp.max(jnp.abs(x), axis=axis, keepdims=keepdims)
    if ord == 1:
        return jnp.sum(jnp.abs(x), axis=axis, keepdims=keepdims)
    if ord == 0:
        return jnp.sum(x != 0, axis=axis, keepdims=keepdims).astype(x.dtype)
    return _safe_root(jnp.sum(jnp.abs(x) ** ord, axis=axis, keepdims=keepdims), ord)


@defop(_norm_fwd, node="LinalgVectorNormBackward0", saves={0: (0, "result")})
def norm(input, p="fro", dim=None, keepdim=False, dtype=None):
    """Vector p-norm over all elements or ``dim`` (Frobenius by default)."""
    if p is None:
        p = 2
    return (input,), (("ord", p), ("axis", _dims(dim, input.dim())), ("keepdims", bool(keepdim)))


def _cum_fwd(x, axis, kind):
    return (jnp.cumsum if kind == "sum" else jnp.cumprod)(x, axis=axis)


@defop(_cum_fwd, node="CumsumBackward0", saves={0: ()})
def cumsum(input, dim, *, dtype=None):
    from ..tensor import _wrap_dim

    if dtype is not None:
        input = input.to(dtype)
    return (input,), (("axis", _wrap_dim(dim, input.dim())), ("kind", "sum"))


@defop(_cum_fwd, node="CumprodBackward0", saves={0: (0, "result")})
def cumprod(input, dim, *, dtype=None):
    from ..tensor import _wrap_dim

    if dtype is not None:
        input = input.to(dtype)
    return (input,), (("axis", _wrap_dim(dim, input.dim())), ("kind", "prod"))
