"""Reductions and scans: sum, mean, prod, var/std, max/min (all, or along dims), norms, logsumexp,
argmax, cumsum/cumprod/cummax/logcumsumexp, and the small composites built on them (diff,
trapezoid, cov, corrcoef...).

Gradients follow torch's ``derivatives.yaml`` where it differs from ``jax.vjp`` of the forward:
``max()``/``median()`` spread the gradient evenly over tied elements, ``max(dim)``-style ops send
it to the returned index, norms and ``logsumexp`` use torch's formulas at their edge points.
Those forwards are ``jax.custom_jvp`` functions, so forward mode and backward agree with torch."""
from __future__ import annotations

import builtins
import functools
import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .. import _dtypes, return_types
from .._size import _wrap_dim
from ..tensor import Tensor
from .registry import defop, dispatch, public, upcast_half
from .creation import clone, zeros
from .indexing import cat
from .linalg import mm
from .pointwise import _sgn_fwd, div, isnan, logical_not, logical_xor, maximum, minimum, mul, sqrt, sub, true_divide
from .views import diagonal, narrow, permute, select, unsqueeze, view

__all__ = []

_INF = float("inf")


# ----------------------------------------------------------------------------------------- helpers

def np_aliases(binder):
    """torch's argument parser accepts numpy's ``axis=``/``keepdims=`` for ``dim``/``keepdim``."""
    @functools.wraps(binder)
    def b(*args, **kw):
        if kw:
            if "axis" in kw:
                kw["dim"] = kw.pop("axis")
            if "keepdims" in kw:
                kw["keepdim"] = kw.pop("keepdims")
        return binder(*args, **kw)
    return b


def _wrap(dim, ndim):
    if isinstance(dim, Tensor):
        dim = int(dim)
    return _wrap_dim(dim, ndim)


def _dims(dim, ndim):
    """torch's dim argument (None, int or sequence; empty = all) as sorted axes, or None for all.
    A 0-d tensor accepts dim 0/-1 and reduces nothing (``()``)."""
    if dim is None:
        return None
    if isinstance(dim, (int, Tensor)):
        dim = (dim,)
    if len(dim) == 0:
        return None
    out = [_wrap(d, ndim) for d in dim]
    for i, d in enumerate(out):
        if d in out[:i]:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    return () if ndim == 0 else tuple(sorted(out))


def _dim1(dim, ndim):
    """A single dim, wrapped; for a 0-d tensor ``None`` (nothing to reduce)."""
    d = _wrap(dim, ndim)
    return None if ndim == 0 else d


def _acc_dtype(x, dtype):
    """torch's output dtype of sum/prod/cumsum: ``dtype`` if given, int64 for integer/bool input."""
    if dtype is not None:
        return _dtypes.as_dtype(dtype)
    if not (x._dtype.is_floating_point or x._dtype.is_complex):
        return _dtypes.int64
    return None


def _float_of(x):
    return x._dtype if (x._dtype.is_floating_point or x._dtype.is_complex) else _dtypes.get_default_dtype()


def _dtname(dt):
    return {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool",
            "float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16"}.get(dt.name, dt.name)


def _check_nonempty(name, input, dims, cls=IndexError, all_msg=None):
    """torch's errors for reductions without identity (max, argmax, ...) over empty dims."""
    if input.numel():
        return
    if dims is None:
        raise (RuntimeError if all_msg is None else IndexError)(
            f"{name}(): Expected reduction dim to be specified for input.numel() == 0." +
            ("" if all_msg is not None else " Specify the reduction dim with the 'dim' argument."))
    for d in dims:
        if input._shape[d] == 0:
            raise cls(f"{name}(): Expected reduction dim {d} to have non-zero size.")


def _reduce(fn):
    def fwd(x, axis=None, keepdims=False, dtype=None):
        if dtype is not None:
            x = x.astype(dtype)
        return fn(x, axis=axis, keepdims=keepdims)
    return fwd


def _kd(a, axis, keepdims):
    """Broadcast a reduced result back against the input (restore the reduced dims)."""
    if keepdims or axis is None and a.ndim == 0:
        return a
    if axis is None:
        return a
    return jnp.expand_dims(a, axis)


def _reduce_params(dims, keepdim, dt):
    return (("axis", dims), ("keepdims", bool(keepdim)), ("dtype", dt.np if dt is not None else None))


# ------------------------------------------------------------------------------ sum, mean, prod

@defop(_reduce(jnp.sum), node="SumBackward0", saves={0: ()}, fast="static")
@np_aliases
def sum(input, dim=None, keepdim=False, *, dtype=None):  # noqa: A001
    """Sum of all elements, or over ``dim`` (int or tuple); integer and bool inputs sum to int64."""
    dims = _dims(dim, input.dim())
    return (input,), _reduce_params(dims, keepdim, _acc_dtype(input, dtype)), \
        "SumBackward0" if dim is None else "SumBackward1"


@defop(_reduce(jnp.nansum), node="NansumBackward0", saves={0: (0,)})
@np_aliases
def nansum(input, dim=None, keepdim=False, *, dtype=None):
    """Sum treating NaN as zero."""
    return (input,), _reduce_params(_dims(dim, input.dim()), keepdim, _acc_dtype(input, dtype))


@defop(_reduce(jnp.mean), node="MeanBackward0", saves={0: ()}, fast="static")
@np_aliases
def mean(input, dim=None, keepdim=False, *, dtype=None):
    """Mean of all elements, or over ``dim``; floating point inputs only."""
    if dtype is None and not (input._dtype.is_floating_point or input._dtype.is_complex):
        raise RuntimeError(
            "mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. "
            f"Got: {_dtname(input._dtype)}")
    if dtype is not None and not (_dtypes.as_dtype(dtype).is_floating_point or _dtypes.as_dtype(dtype).is_complex):
        raise RuntimeError(
            "mean(): could not infer output dtype. Optional dtype must be either a floating point or complex dtype. "
            f"Got: {_dtname(_dtypes.as_dtype(dtype))}")
    dims = _dims(dim, input.dim())
    return (input,), _reduce_params(dims, keepdim, _dtypes.as_dtype(dtype) if dtype is not None else None), \
        "MeanBackward0" if dim is None else "MeanBackward1"


@public(method=True)
@np_aliases
def nanmean(input, dim=None, keepdim=False, *, dtype=None):
    """Mean over the non-NaN elements (``nansum / count of non-NaN``, as torch composes it)."""
    if not (input._dtype.is_floating_point or input._dtype.is_complex):
        raise RuntimeError("nanmean(): expected input to have floating point or complex dtype but got "
                           f"{_dtname(input._dtype)}")
    cnt = sum(logical_not(isnan(input)), dim, keepdim)
    return nansum(input, dim, keepdim, dtype=dtype) / cnt


@defop(_reduce(jnp.prod), node="ProdBackward0", saves={0: (0, "result")})
@np_aliases
def prod(input, dim=None, keepdim=False, *, dtype=None):
    """Product of all elements, or along one ``dim``; integer and bool inputs multiply in int64."""
    dims = None if dim is None else _dims((dim,), input.dim())
    return (input,), _reduce_params(dims, keepdim, _acc_dtype(input, dtype)), \
        "ProdBackward0" if dim is None else "ProdBackward1"


@public(method=True, function=False)
def sum_to_size(input, *size):
    """Sum ``input`` down to ``size`` (the reverse of broadcasting ``size`` to ``input.shape``)."""
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    shape = input._shape
    lead = len(shape) - len(size)
    ok = lead >= 0 and builtins.all(s == t or s == 1 for s, t in zip(size, shape[lead:]))
    if not ok:
        raise RuntimeError(f"size {{{', '.join(map(str, size))}}} is not expandable to size "
                           f"{{{', '.join(map(str, shape))}}}.")
    if not size:
        return sum(input)
    dims = list(range(lead)) + [lead + i for i, s in enumerate(size) if s == 1 and shape[lead + i] != 1]
    if not dims:
        return input
    out = sum(input, dims, keepdim=True)
    if lead:
        out = view(out, tuple(size))
    return out


# -------------------------------------------------------------------------------------- var / std

def _var_fwd(x, axis, correction, keepdims, sqrt):
    n = x.size if axis is None else math.prod(x.shape[a] for a in axis)
    m = jnp.mean(x, axis=axis, keepdims=True)
    d = x - m
    s = jnp.sum(jnp.real(d * jnp.conj(d)), axis=axis, keepdims=keepdims)
    v = s / builtins.max(n - correction, 0)
    return _std_sqrt(v) if sqrt else v


@jax.custom_jvp
def _std_sqrt(v):
    return jnp.sqrt(v)


@_std_sqrt.defjvp
def _std_sqrt_jvp(primals, tangents):
    (v,), (t,) = primals, tangents
    r = jnp.sqrt(v)
    # torch's std_backward: grad / (2 * result), masked to 0 where the result is 0 (a constant input)
    return r, jnp.where(r == 0, jnp.zeros((), r.dtype), t / (2 * jnp.where(r == 0, jnp.ones((), r.dtype), r)))


def _var_params(input, dim, unbiased, keepdim, correction, sqrt, name="var"):
    if not (input._dtype.is_floating_point or input._dtype.is_complex):
        raise RuntimeError("std and var only support floating point and complex dtypes")
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    if correction is None:
        correction = 1 if unbiased is None or unbiased else 0
    dims = _dims(dim, input.dim())
    n = input.numel() if dims is None else math.prod(input._shape[d] for d in dims)
    if n - correction <= 0:
        import warnings

        warnings.warn(f"{name}(): degrees of freedom is <= 0. Correction should be strictly less than the "
                      "reduction factor (input numel divided by output numel).", UserWarning, stacklevel=4)
    return (input,), (("axis", dims), ("correction", correction), ("keepdims", bool(keepdim)), ("sqrt", sqrt))


@defop(_var_fwd, node="VarBackward0", saves={0: (0,)})
@np_aliases
def var(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Variance (Bessel-corrected unless ``unbiased=False``/``correction=0``)."""
    return _var_params(input, dim, unbiased, keepdim, correction, False)


@defop(_var_fwd, node="StdBackward0", saves={0: (0, "result")})
@np_aliases
def std(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """Standard deviation."""
    return _var_params(input, dim, unbiased, keepdim, correction, True, "std")


def _var_mean(input, dim, unbiased, keepdim, correction, sqrt):
    inputs, params = _var_params(input, dim, unbiased, keepdim, correction, sqrt, "std" if sqrt else "var")
    node = "StdMeanBackward0" if sqrt else "VarMeanBackward0"
    v = dispatch((std if sqrt else var).op, inputs, params, node)
    m = dispatch(mean.op, inputs, _reduce_params(params[0][1], keepdim, None), node)
    return v, m


@public
@np_aliases
def var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(var, mean)`` in one call."""
    return _var_mean(input, dim, unbiased, keepdim, correction, False)


@public
@np_aliases
def std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None):
    """``(std, mean)`` in one call."""
    return _var_mean(input, dim, unbiased, keepdim, correction, True)


# --------------------------------------------------------------------------------- logsumexp

@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2))
def _lse(x, axis, keepdims):
    import jax.scipy.special as sp

    if x.size == 0:
        return jnp.log(jnp.sum(jnp.exp(x), axis=axis, keepdims=keepdims))
    return sp.logsumexp(x, axis=axis, keepdims=keepdims)


@_lse.defjvp
def _lse_jvp(axis, keepdims, primals, tangents):
    (x,), (t,) = primals, tangents
    r = _lse(x, axis, keepdims)
    # torch: grad * exp(self - result) (NaN where both are -inf, as torch)
    return r, jnp.sum(t * jnp.exp(x - _kd(r, axis, keepdims)), axis=axis, keepdims=keepdims)


@defop(lambda x, axis, keepdims, cast: _lse(x.astype(cast) if cast else x, axis, keepdims),
       node="LogsumexpBackward0", saves={0: (0, "result")})
@np_aliases
def logsumexp(input, dim=None, keepdim=False):
    """``log(sum(exp(input)))`` over ``dim``, computed stably; integer inputs give floats."""
    if dim is None:
        raise TypeError("logsumexp() missing 1 required positional arguments: \"dim\"")
    cast = None if input._dtype.is_floating_point or input._dtype.is_complex else _dtypes.get_default_dtype().np
    return (input,), (("axis", _dims(dim, input.dim())), ("keepdims", bool(keepdim)), ("cast", cast))


# --------------------------------------------------------------------- max / min and friends

def _amax_fwd(x, axis, keepdims, kind):
    return (jnp.max if kind == "max" else jnp.min)(x, axis=axis, keepdims=keepdims)


def _evenly_value(x, kind):
    if kind == "max":
        return jnp.max(x)
    if kind == "min":
        return jnp.min(x)
    # median / nanmedian: the lower middle of the sorted values (NaNs sort last)
    f = x.reshape(-1)
    if f.size == 0:
        return jnp.array(jnp.nan, x.dtype)
    s = jnp.sort(f)
    if kind == "median":
        if jnp.issubdtype(x.dtype, jnp.floating):
            return jnp.where(jnp.any(jnp.isnan(f)), jnp.nan, s[(f.size - 1) // 2]).astype(x.dtype)
        return s[(f.size - 1) // 2]
    c = jnp.sum(~jnp.isnan(f))
    return s[jnp.maximum((c - 1) // 2, 0)]


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _evenly(x, kind):
    return _evenly_value(x, kind)


@_evenly.defjvp
def _evenly_jvp(kind, primals, tangents):
    (x,), (t,) = primals, tangents
    r = _evenly(x, kind)
    # torch's evenly_distribute_backward: the gradient is shared by the elements equal to the
    # result (or by the NaNs when the result is NaN)
    mask = jnp.where(jnp.isnan(r), jnp.isnan(x), x == r) if jnp.issubdtype(x.dtype, jnp.floating) else x == r
    return r, jnp.sum(jnp.where(mask, t, 0)) / jnp.sum(mask)


@defop(lambda x, kind: _evenly(x, kind), node="MaxBackward1", saves={0: (0, "result")}, method=False,
       function=False, name="evenly_reduce")
def _evenly_reduce(input, kind, node):
    return (input,), (("kind", kind),), node


@defop(_amax_fwd, node="AmaxBackward0", saves={0: (0, "result")})
@np_aliases
def amax(input, dim=(), keepdim=False):
    """Largest value over ``dim`` (all dims by default); ties share the gradient evenly."""
    dims = _dims(dim, input.dim())
    _check_nonempty("amax", input, dims)
    return (input,), (("axis", dims), ("keepdims", bool(keepdim)), ("kind", "max"))


@defop(_amax_fwd, node="AminBackward0", saves={0: (0, "result")})
@np_aliases
def amin(input, dim=(), keepdim=False):
    """Smallest value over ``dim`` (all dims by default); ties share the gradient evenly."""
    dims = _dims(dim, input.dim())
    _check_nonempty("amin", input, dims)
    return (input,), (("axis", dims), ("keepdims", bool(keepdim)), ("kind", "min"))


@public(method=True)
@np_aliases
def aminmax(input, *, dim=None, keepdim=False):
    """``(min, max)`` over ``dim`` (or all elements) as ``torch.return_types.aminmax``."""
    dims = None if dim is None else _dims((dim,), input.dim())
    if input.numel() == 0 and (dims is None or builtins.any(input._shape[d] == 0 for d in dims)):
        raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation has no "
                           "identity.")
    outs = []
    for kind, op in (("min", amin), ("max", amax)):
        outs.append(dispatch(op.op, (input,), (("axis", dims), ("keepdims", bool(keepdim)), ("kind", kind)),
                             "AminmaxBackward0"))
    return return_types.aminmax(*outs)


# ---- index-valued reductions and the "values at indices" op (torch's value_selecting_reduction)

def _moveaxis_last(x, axis):
    return x if axis is None else jnp.moveaxis(x, axis, -1)


def _stable_argsort(x, descending):
    return jnp.argsort(x, axis=-1, stable=True, descending=descending)


def _mode_index(x):
    """Index (last occurrence) of the most frequent value; the smallest value wins count ties."""
    n = x.shape[-1]
    counts = jnp.sum(x[..., :, None] == x[..., None, :], axis=-1)
    best = counts == jnp.max(counts, axis=-1, keepdims=True)
    big = jnp.array(jnp.inf, x.dtype) if jnp.issubdtype(x.dtype, jnp.floating) else \
        jnp.array(jnp.iinfo(x.dtype).max if x.dtype != jnp.bool_ else True, x.dtype)
    v = jnp.min(jnp.where(best, x, big), axis=-1, keepdims=True)
    sel = best & (x == v)
    return jnp.max(jnp.where(sel, jnp.arange(n), -1), axis=-1)


def _cum_index(x, kind):
    """cummax/cummin indices: the latest position of the running extreme (NaN wins and sticks)."""
    n = x.shape[-1]
    idx = jnp.broadcast_to(jnp.arange(n), x.shape)
    isf = jnp.issubdtype(x.dtype, jnp.floating)

    def comb(a, b):
        av, ai = a
        bv, bi = b
        take_b = (bv >= av) if kind == "max" else (bv <= av)
        if isf:
            take_b = (take_b & ~jnp.isnan(av)) | jnp.isnan(bv)
        return jnp.where(take_b, bv, av), jnp.where(take_b, bi, ai)

    return lax.associative_scan(comb, (x, idx), axis=x.ndim - 1)[1]


def _quickselect(row, k):
    """torch's CPU ``quick_select_template`` (median-of-three quickselect) on one row; returns the
    original index that lands at position ``k``, so tied values resolve to torch's choice."""
    n = row.shape[0]
    isf = jnp.issubdtype(row.dtype, jnp.floating)

    def gt(a, b):
        return ((jnp.isnan(a) & ~jnp.isnan(b)) | (a > b)) if isf else a > b

    def swap(v, ix, a, b):
        va, vb, ia, ib = v[a], v[b], ix[a], ix[b]
        return v.at[a].set(vb).at[b].set(va), ix.at[a].set(ib).at[b].set(ia)

    def cswap(c, v, ix, a, b):
        v2, ix2 = swap(v, ix, a, b)
        return jnp.where(c, v2, v), jnp.where(c, ix2, ix)

    def body(st):
        v, ix, L, R, done = st
        two = R == L + 1
        # two elements: order them and stop
        v2, ix2 = cswap(gt(v[L], v[R]), v, ix, L, R)
        # general step
        P = L + (R - L) // 2
        g = swap(v, ix, P, L + 1)
        g = cswap(gt(g[0][L + 1], g[0][R]), *g, L + 1, R)
        g = cswap(gt(g[0][L], g[0][R]), *g, L, R)
        g = cswap(gt(g[0][L + 1], g[0][L]), *g, L + 1, L)
        gv, gix = g
        piv = gv[L]

        def part_cond(ps):
            return ~ps[4]

        def part_body(ps):
            pv, pix, i, j, _ = ps
            # bounded by R and L (where torch's sentinels stop them) so that rows already done,
            # which a vmapped loop keeps stepping, terminate too
            i = lax.while_loop(lambda i: (i < R) & gt(piv, pv[i]), lambda i: i + 1, i + 1)
            j = lax.while_loop(lambda j: (j > L) & gt(pv[j], piv), lambda j: j - 1, j - 1)
            stop = j < i
            pv, pix = cswap(~stop, pv, pix, i, j)
            return pv, pix, i, j, stop

        gv, gix, i, j, _ = lax.while_loop(part_cond, part_body, (gv, gix, L + 1, R, jnp.array(False)))
        gv, gix = swap(gv, gix, L, j)
        nL = jnp.where(j <= k, i, L)
        nR = jnp.where(j >= k, j - 1, R)
        v = jnp.where(two, v2, gv)
        ix = jnp.where(two, ix2, gix)
        return v, ix, jnp.where(two, L, nL), jnp.where(two, R, nR), two | done

    def cond(st):
        _, _, L, R, done = st
        return ~done & (R > L)

    init = (row, jnp.arange(n), jnp.array(0), jnp.array(n - 1), jnp.array(False))
    return lax.while_loop(cond, body, init)[1][k]


def _topk_row(row, k, largest, sorted_):
    """torch's CPU topk on one row: libstdc++ ``nth_element`` (introselect: median-of-three
    unguarded partitions, then insertion sort) and ``sort`` of the first k-1 (insertion sort,
    i.e. stable, up to 16 elements), so tied values come out in torch's order."""
    n = row.shape[0]
    isf = jnp.issubdtype(row.dtype, jnp.floating)
    if k * 64 <= n:  # torch's partial_sort path: heap order of ties not reproduced (stable instead)
        return _stable_argsort(row, largest)[:k]

    def comp(a, b):
        if largest:
            return ((jnp.isnan(a) & ~jnp.isnan(b)) | (a > b)) if isf else a > b
        return ((~jnp.isnan(a) & jnp.isnan(b)) | (a < b)) if isf else a < b

    def swap(v, ix, a, b):
        va, vb, ia, ib = v[a], v[b], ix[a], ix[b]
        return v.at[a].set(vb).at[b].set(va), ix.at[a].set(ib).at[b].set(ia)

    pos = jnp.arange(n)

    def stable_range(v, ix, lo, hi):
        # insertion sort of [lo, hi) == a stable sort of that range by comp
        order = _stable_argsort(v, largest)
        rank = jnp.zeros(n, jnp.int64).at[order].set(jnp.arange(n))
        seg = jnp.where(pos < lo, 0, jnp.where(pos < hi, 1, 2))
        key = jnp.where(seg == 1, rank, 0)
        perm = jnp.lexsort((pos, key, seg))
        return v[perm], ix[perm]

    nth = k - 1

    def step(st):
        v, ix, lo, hi = st
        mid = lo + (hi - lo) // 2
        a, b, c = lo + 1, mid, hi - 1
        cab, cbc, cac = comp(v[a], v[b]), comp(v[b], v[c]), comp(v[a], v[c])
        tgt = jnp.where(cab, jnp.where(cbc, b, jnp.where(cac, c, a)), jnp.where(cac, a, jnp.where(cbc, c, b)))
        v, ix = swap(v, ix, lo, tgt)
        piv = v[lo]

        def pbody(ps):
            pv, pix, first, last, _ = ps
            first = lax.while_loop(lambda f: (f < hi - 1) & comp(pv[f], piv), lambda f: f + 1, first)
            last = lax.while_loop(lambda l: (l > lo) & comp(piv, pv[l]), lambda l: l - 1, last - 1)
            stop = ~(first < last)
            pv2, pix2 = swap(pv, pix, first, last)
            pv = jnp.where(stop, pv, pv2)
            pix = jnp.where(stop, pix, pix2)
            return pv, pix, jnp.where(stop, first, first + 1), last, stop

        v, ix, cut, _, _ = lax.while_loop(lambda ps: ~ps[4], pbody, (v, ix, lo + 1, hi, jnp.array(False)))
        return v, ix, jnp.where(cut <= nth, cut, lo), jnp.where(cut <= nth, hi, cut)

    v, ix, lo, hi = lax.while_loop(lambda st: st[3] - st[2] > 3, step,
                                   (row, jnp.arange(n), jnp.array(0), jnp.array(n)))
    v, ix = stable_range(v, ix, lo, hi)
    if sorted_ and k - 1 > 0:
        v, ix = stable_range(v, ix, 0, k - 1)
    return ix[:k]


def _index_fwd(x, axis, kind, k=None, keepdims=False):
    if x.ndim == 0:
        return jnp.zeros((), jnp.int64)
    flat = axis is None
    y = x.reshape(-1) if flat else _moveaxis_last(x, axis)
    if kind in ("argmax", "argmin"):
        r = (jnp.argmax if kind == "argmax" else jnp.argmin)(y, axis=-1)
    elif kind in ("sort", "sort_desc"):
        r = _stable_argsort(y, kind == "sort_desc")
    elif kind in ("topk", "topk_small", "topk_unsorted", "topk_small_unsorted"):
        if k == 0:
            r = jnp.zeros(y.shape[:-1] + (0,), jnp.int64)
        else:
            flat2 = y.reshape((-1, y.shape[-1]))
            f = functools.partial(_topk_row, k=k, largest=kind.startswith("topk") and "small" not in kind,
                                  sorted_="unsorted" not in kind)
            r = jax.vmap(f)(flat2).reshape(y.shape[:-1] + (k,))
    elif kind == "kthvalue":
        flat2 = y.reshape((-1, y.shape[-1]))
        r = jax.vmap(lambda row: _quickselect(row, k - 1))(flat2).reshape(y.shape[:-1])
    elif kind in ("median", "nanmedian"):
        o = _stable_argsort(y, False)
        n = y.shape[-1]
        if jnp.issubdtype(y.dtype, jnp.floating):
            nn = jnp.sum(~jnp.isnan(y), axis=-1, keepdims=True)
            pos = jnp.where(nn == n, (n - 1) // 2, nn) if kind == "median" else jnp.maximum((nn - 1) // 2, 0)
        else:
            pos = jnp.full(y.shape[:-1] + (1,), (n - 1) // 2)
        r = jnp.take_along_axis(o, pos, axis=-1)[..., 0]
    elif kind == "mode":
        r = _mode_index(y)
    elif kind in ("cummax", "cummin"):
        r = _cum_index(y, kind[3:])
    else:
        raise ValueError(kind)
    r = r.astype(jnp.int64)
    if r.ndim == y.ndim and not flat:
        return jnp.moveaxis(r, -1, axis)
    if flat:
        return r.reshape((1,) * x.ndim) if keepdims else r
    return jnp.expand_dims(r, axis) if keepdims else r


@defop(_index_fwd, node="", nondiff_out=True, method=False, function=False, name="indices_of")
def _indices(input, axis, kind, k=None, keepdims=False):
    return (input,), (("axis", axis), ("kind", kind), ("k", k), ("keepdims", bool(keepdims)))


def _take_fwd(x, idx, axis, squeeze):
    if x.ndim == 0:
        return x
    i = jnp.expand_dims(idx, axis) if squeeze else idx
    r = jnp.take_along_axis(x, i, axis=axis)
    return jnp.squeeze(r, axis) if squeeze else r


@defop(_take_fwd, node="MaxBackward0", saves={0: (1,)}, method=False, function=False, name="values_at",
       nondiff=(1,))
def _values_at(input, indices, axis, squeeze, node):
    return (input, indices), (("axis", axis), ("squeeze", bool(squeeze))), node


def value_selecting(input, kind, dim, keepdim, node, rtype, k=None, reduce=True):
    """``(values, indices)`` where values are ``input`` taken at the computed indices, so the
    gradient flows to exactly those elements (torch's ``value_selecting_reduction_backward``)."""
    axis = _dim1(dim, input.dim())
    idx = _indices(input, axis, kind, k, keepdim and reduce)
    vals = _values_at(input, idx, axis, reduce and not keepdim, node)
    return rtype(vals, idx)


def _arg(kind, input, dim, keepdim):
    if dim is None:
        _check_nonempty(kind, input, None, all_msg=True)
        return _indices(input, None, kind, None, keepdim)
    axis = _dim1(dim, input.dim())
    if axis is not None:
        _check_nonempty(kind, input, (axis,))
    return _indices(input, axis, kind, None, keepdim)


@public(method=True)
@np_aliases
def argmax(input, dim=None, keepdim=False):
    """Index of the largest value (of the flattened input when ``dim`` is None); first of ties."""
    return _arg("argmax", input, dim, keepdim)


@public(method=True)
@np_aliases
def argmin(input, dim=None, keepdim=False):
    """Index of the smallest value (of the flattened input when ``dim`` is None); first of ties."""
    return _arg("argmin", input, dim, keepdim)


def _minmax(kind, input, dim=None, keepdim=False, out=None):
    if not isinstance(input, Tensor):
        raise TypeError(f"{kind}() received an invalid combination of arguments - got ({type(input).__name__}, "
                        f"{type(dim).__name__}), but expected one of: (Tensor input, ...)")
    if dim is None:
        _check_nonempty(kind, input, None)
        return _evenly_reduce(input, kind, "MaxBackward1" if kind == "max" else "MinBackward1")
    if isinstance(dim, Tensor):
        return (maximum if kind == "max" else minimum)(input, dim)
    axis = _dim1(dim, input.dim())
    if axis is not None:
        _check_nonempty(kind, input, (axis,))
    return value_selecting(input, "arg" + kind, dim, keepdim, "MaxBackward0" if kind == "max" else "MinBackward0",
                           getattr(return_types, kind))


@public(method=True)
@np_aliases
def max(input, dim=None, keepdim=False, *, other=None):  # noqa: A001
    """Largest element; with ``dim``: ``(values, indices)``; with a tensor: elementwise maximum."""
    if dim is None and other is None and isinstance(input, Tensor) and input._dtype.is_complex:
        raise NotImplementedError(f'"max_all" not implemented for \'{_dtypes.scalar_type_name(input._dtype)}\'')
    return _minmax("max", input, other if other is not None else dim, keepdim)


@public(method=True)
@np_aliases
def min(input, dim=None, keepdim=False, *, other=None):  # noqa: A001
    """Smallest element; with ``dim``: ``(values, indices)``; with a tensor: elementwise minimum."""
    if dim is None and other is None and isinstance(input, Tensor) and input._dtype.is_complex:
        raise NotImplementedError(f'"min_all" not implemented for \'{_dtypes.scalar_type_name(input._dtype)}\'')
    return _minmax("min", input, other if other is not None else dim, keepdim)


def _bool_reduce(fn):
    def fwd(x, axis, keepdims):
        r = fn(x, axis=axis, keepdims=keepdims)
        return r.astype(jnp.uint8) if x.dtype == jnp.uint8 else r
    return fwd


@defop(_bool_reduce(jnp.all), node="", nondiff_out=True)
@np_aliases
def all(input, dim=None, keepdim=False):  # noqa: A001
    """True when every element (over ``dim``) is nonzero."""
    return (input,), (("axis", _dims(dim, input.dim())), ("keepdims", bool(keepdim)))


@defop(_bool_reduce(jnp.any), node="", nondiff_out=True)
@np_aliases
def any(input, dim=None, keepdim=False):  # noqa: A001
    """True when some element (over ``dim``) is nonzero."""
    return (input,), (("axis", _dims(dim, input.dim())), ("keepdims", bool(keepdim)))


@defop(lambda x, axis: jnp.count_nonzero(x, axis=axis).astype(jnp.int64), node="", nondiff_out=True)
@np_aliases
def count_nonzero(input, dim=None):
    """Number of nonzero elements (over ``dim``)."""
    return (input,), (("axis", _dims(dim, input.dim())),)


# ------------------------------------------------------------------------------------- norms

def _vnorm_value(x, ord, axis, keepdims):
    a = jnp.abs(x)
    if ord == _INF:
        return jnp.max(a, axis=axis, keepdims=keepdims) if a.size else jnp.zeros(
            jnp.sum(a, axis=axis, keepdims=keepdims).shape, a.dtype)
    if ord == -_INF:
        return jnp.min(a, axis=axis, keepdims=keepdims)
    if ord == 0:
        return jnp.sum(a != 0, axis=axis, keepdims=keepdims).astype(a.dtype)
    if ord == 1:
        return jnp.sum(a, axis=axis, keepdims=keepdims)
    if ord == 2:
        return jnp.sqrt(jnp.sum(a * a, axis=axis, keepdims=keepdims))
    return jnp.sum(a ** ord, axis=axis, keepdims=keepdims) ** (1.0 / ord)


@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2, 3))
def _vnorm(x, ord, axis, keepdims):
    return _vnorm_value(x, ord, axis, keepdims)


@_vnorm.defjvp
def _vnorm_jvp(ord, axis, keepdims, primals, tangents):
    (x,), (t,) = primals, tangents
    r = _vnorm(x, ord, axis, keepdims)
    n = _kd(r, axis, keepdims)
    sgn = _sgn_fwd(x)  # torch's: 0 at NaN
    zero = jnp.zeros((), x.dtype)
    # torch's linalg_vector_norm_backward, term by term
    if ord == 0:
        c = jnp.zeros_like(x)
    elif ord == 1:
        c = sgn
    elif ord == 2:
        c = jnp.where(n == 0, zero, x / n)
    elif math.isinf(ord):
        a = jnp.abs(x)
        mask = (a == n) | jnp.isnan(a)
        c = sgn * mask / jnp.sum(mask, axis=axis, keepdims=True)
    elif ord < 1:
        c = sgn * jnp.where(x == 0, zero, jnp.abs(x) ** (ord - 1)) * n ** (1 - ord)
    elif ord < 2:
        c = sgn * jnp.abs(x) ** (ord - 1) * jnp.where(n == 0, zero, 1 / n ** (ord - 1))
    else:
        c = x * jnp.abs(x) ** (ord - 2) * jnp.where(n == 0, zero, 1 / n ** (ord - 1))
    return r, jnp.sum(c * t, axis=axis, keepdims=keepdims)


def _norm_fwd(x, ord, axis, keepdims, dtype=None):
    if dtype is not None:
        x = x.astype(dtype)
    return _vnorm(x, ord, axis, keepdims)


@defop(_norm_fwd, node="LinalgVectorNormBackward0", saves={0: (0, "result")}, function=False, method=False,
       name="vector_norm_")
def _vector_norm(input, ord=2, dim=None, keepdim=False, *, dtype=None):
    if not (input._dtype.is_floating_point or input._dtype.is_complex):
        raise RuntimeError("linalg.vector_norm: Expected a floating point or complex tensor as input. "
                           f"Got {_dtname(input._dtype)}")
    ord = float(ord)
    dims = _dims(dim, input.dim())
    if ord < 0 or math.isinf(ord):
        if input.numel() == 0 and (dims is None or builtins.any(input._shape[d] == 0 for d in dims)):
            if ord < 0 or dims is None:
                raise RuntimeError(f"linalg.vector_norm cannot compute the {ord} norm on an empty tensor because "
                                   "the operation does not have an identity")
    dt = _dtypes.as_dtype(dtype) if dtype is not None else None
    return (input,), (("ord", ord), ("axis", dims), ("keepdims", bool(keepdim)), ("dtype", dt.np if dt else None))


@public(method=True)
def norm(input, p="fro", dim=None, keepdim=False, out=None, dtype=None):
    """Vector p-norm over all elements or ``dim`` (Frobenius by default); torch's subgradients at
    zero (``p=1``: ``sign``, ``p=2``: 0, ``p=inf``: shared by the ties)."""
    if isinstance(p, str):
        if p == "nuc":
            return _nuclear_norm(input, dim, keepdim)
        if p != "fro" or (dim is not None and not isinstance(dim, int) and len(dim) > 2):
            raise RuntimeError(f"linalg.matrix_norm: Order {p} not supported.")
        p = 2
    if p is None:
        p = 2
    r = _vector_norm(input, p, dim, keepdim, dtype=dtype)
    if out is not None:
        out.copy_(r)
        return out
    return r


@defop(lambda x: jnp.linalg.svd(x, compute_uv=False), node="LinalgSvdBackward0", saves={0: (0,)},
       method=False, function=False, name="norm_svdvals")
def _svdvals(input):
    return (input,), ()


def _nuclear_norm(input, dim, keepdim):
    """torch.norm(p='nuc'): the sum of singular values over two dims (``linalg.matrix_norm``)."""
    nd = input.dim()
    dims = (nd - 2, nd - 1) if dim is None else tuple(_wrap(d, nd) for d in dim)
    if nd < 2 or len(dims) != 2:
        raise RuntimeError(f"linalg.matrix_norm: The input tensor A must have at least 2 dimensions.")
    rest = [i for i in range(nd) if i not in dims]
    x = permute(input, tuple(rest) + dims)
    r = sum(_svdvals(x), -1)
    if keepdim:
        for d in sorted(dims):
            r = unsqueeze(r, d)
    return r


def _dist_fwd(x, y, ord):
    return _vnorm(x - y, ord, None, False)


@defop(_dist_fwd, node="DistBackward0", saves={0: (0, 1, "result"), 1: (0, 1, "result")}, promote=True)
def dist(input, other, p=2):
    """``norm(input - other, p)`` (broadcasting)."""
    return (input, other), (("ord", float(p)),)


def _renorm_fwd(x, p, axis, maxnorm):
    red = tuple(i for i in range(x.ndim) if i != axis)
    n = _vnorm(x, p, red, True)
    factor = jnp.where(n > maxnorm, maxnorm / (n + 1e-7), 1.0).astype(x.dtype)
    return x * factor


@defop(_renorm_fwd, node="RenormBackward0", saves={0: (0,)}, inplace=True)
def renorm(input, p, dim, maxnorm):
    """Rescale each slice along ``dim`` whose ``p``-norm exceeds ``maxnorm`` down to ``maxnorm``."""
    if input.dim() <= 1:
        raise RuntimeError(f"renorm: input needs at least 2 dimensions, got {input.dim()} dimensions")
    if not p > 0:
        raise RuntimeError(f"renorm: non-positive-norm not supported")
    if maxnorm < 0:
        raise RuntimeError(f"renorm: expected maxnorm to be >= 0 but got {maxnorm}")
    return (input,), (("p", float(p)), ("axis", _wrap(dim, input.dim())), ("maxnorm", float(maxnorm)))


# --------------------------------------------------------------------------------------- scans

def _cum_fwd(x, axis, kind, dtype=None):
    if dtype is not None:
        x = x.astype(dtype)
    if x.ndim == 0:
        return x
    if kind == "sum":
        return jnp.cumsum(x, axis=axis, dtype=x.dtype)
    if kind == "prod":
        return jnp.cumprod(x, axis=axis, dtype=x.dtype)
    return _logcumsumexp(x, axis)


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _logcumsumexp(x, axis):
    return lax.cumlogsumexp(x, axis=axis)


@_logcumsumexp.defjvp
def _logcumsumexp_jvp(axis, primals, tangents):
    (x,), (t,) = primals, tangents
    # torch's logcumsumexp_jvp: exp-normalized running sums, zero where they vanish
    m = lax.stop_gradient(jnp.max(x, axis=axis, keepdims=True))
    m = jnp.where(jnp.isfinite(m), m, jnp.zeros((), x.dtype))
    e = jnp.exp(x - m)
    den = jnp.cumsum(e, axis=axis)
    num = jnp.cumsum(e * t, axis=axis)
    num = jnp.where(den < 1e-13, jnp.zeros((), x.dtype), num)
    return _logcumsumexp(x, axis), num / den


def _cum_params(input, dim, dtype, kind):
    dt = _acc_dtype(input, dtype)
    return (input,), (("axis", _wrap(dim, input.dim())), ("kind", kind), ("dtype", dt.np if dt is not None else None))


@defop(_cum_fwd, node="CumsumBackward0", saves={0: ()}, inplace=True)
@np_aliases
def cumsum(input, dim, *, dtype=None):
    """Running sum along ``dim``; integer and bool inputs accumulate in int64."""
    return _cum_params(input, dim, dtype, "sum")


@defop(_cum_fwd, node="CumprodBackward0", saves={0: (0, "result")}, inplace=True)
@np_aliases
def cumprod(input, dim, *, dtype=None):
    """Running product along ``dim``; integer and bool inputs accumulate in int64."""
    return _cum_params(input, dim, dtype, "prod")


@defop(_cum_fwd, node="LogcumsumexpBackward0", saves={0: (0, "result")})
@np_aliases
def logcumsumexp(input, dim):
    """Running ``logsumexp`` along ``dim``."""
    if not (input._dtype.is_floating_point or input._dtype.is_complex):
        raise NotImplementedError(f"\"logcumsumexp_out_cpu\" not implemented for '{_dtname(input._dtype)}'")
    return (input,), (("axis", _wrap(dim, input.dim())), ("kind", "lse"), ("dtype", None))


@public(method=True)
@np_aliases
def cummax(input, dim):
    """Running maximum along ``dim`` and where it was found (the latest of ties)."""
    return value_selecting(input, "cummax", dim, False, "CummaxBackward0", return_types.cummax, reduce=False)


@public(method=True)
@np_aliases
def cummin(input, dim):
    """Running minimum along ``dim`` and where it was found (the latest of ties)."""
    return value_selecting(input, "cummin", dim, False, "CumminBackward0", return_types.cummin, reduce=False)


# ------------------------------------------------------- composites (torch builds them the same way)

@public(method=True)
def diff(input, n=1, dim=-1, prepend=None, append=None):
    """``n``-th forward difference along ``dim``, after concatenating ``prepend``/``append``."""
    if input.dim() == 0:
        raise RuntimeError("diff expects input to be at least one-dimensional")
    if n < 0:
        raise RuntimeError(f"order must be non-negative but got {n}")
    d = _wrap(dim, input.dim())
    if n == 0:
        return dispatch(clone.op, (input,), (), "CopyBackwards")
    if prepend is not None or append is not None:
        parts = [t for t in (prepend, input, append) if t is not None]
        input = cat(parts, d)
    out_len = input._shape[d] - 1
    for _ in range(builtins.min(n, input._shape[d])):
        a, b = narrow(input, d, 1, out_len), narrow(input, d, 0, out_len)
        input = logical_xor(a, b) if input._dtype is _dtypes.bool else sub(a, b)
        out_len -= 1
    return input


def _div_scalar(t, v):
    # torch divides by a C++ Scalar here: DivBackward1
    return dispatch(div.op, (t, float(v)), (("rounding_mode", None),), "DivBackward1")


def _zeros_except(y, d):
    return zeros(tuple(s for i, s in enumerate(y._shape) if i != d), dtype=y._dtype, device=y.device)


def _x_spacing(y, x, d):
    """torch's trapezoid view of sample points ``x`` against ``y``, then ``dx`` along ``d``."""
    if x.dim() == 1:
        if x._shape[0] != y._shape[d]:
            raise RuntimeError("trapezoid: There must be one `x` value for each sample point")
        shape = [1] * y.dim()
        shape[d] = x._shape[0]
        x = x.view(tuple(shape))
    elif x.dim() < y.dim():
        x = x.view((1,) * (y.dim() - x.dim()) + tuple(x._shape))
    n = x._shape[d]
    return narrow(x, d, 1, n - 1) - narrow(x, d, 0, n - 1)


def _halves(y, d):
    n = y._shape[d]
    if n == 0:
        return y, y
    return narrow(y, d, 0, n - 1), narrow(y, d, 1, n - 1)


@public
def trapezoid(y, x=None, *, dx=None, dim=-1):
    """Trapezoid rule along ``dim`` with sample points ``x`` or spacing ``dx`` (default 1)."""
    d = _wrap(dim, y.dim())
    if isinstance(x, Tensor):
        if dx is not None:
            raise RuntimeError("trapezoid: received both x and dx")
        if y._shape[d] == 0:
            return _zeros_except(y, d)
        left, right = _halves(y, d)
        return _div_scalar(sum(_x_spacing(y, x, d) * (left + right), d), 2.0)
    if y._shape[d] == 0:
        return _zeros_except(y, d)
    step = 1.0 if dx is None and x is None else (dx if dx is not None else x)
    # torch multiplies by the python number dx as a Scalar: MulBackward1
    return dispatch(mul.op, ((sum(y, d) - (select(y, d, 0) + select(y, d, -1)) * 0.5), step), (), "MulBackward1")


@public
def trapz(y, x=None, *, dx=None, dim=-1):
    """Alias of :func:`trapezoid`."""
    return trapezoid(y, x, dx=dx, dim=dim)


@public
def cumulative_trapezoid(y, x=None, *, dx=None, dim=-1):
    """Running trapezoid rule along ``dim``."""
    d = _wrap(dim, y.dim())
    left, right = _halves(y, d)
    if isinstance(x, Tensor):
        return _div_scalar(cumsum(_x_spacing(y, x, d) * (left + right), d), 2.0)
    step = 1.0 if dx is None and x is None else (dx if dx is not None else x)
    return cumsum((step / 2.0) * (left + right), d)


@public(method=True)
def cov(input, *, correction=1, fweights=None, aweights=None):
    """Covariance of the rows (variables) of ``input`` over its columns (observations)."""
    if input.dim() > 2:
        raise RuntimeError(f"cov(): expected input to have two or fewer dimensions but got an input with "
                           f"{input.dim()} dimensions")
    if input._dtype is _dtypes.bool:
        raise RuntimeError("cov(): bool dtype is not supported for input")
    x = input.view(1, -1) if input.dim() < 2 else input
    nobs = x._shape[1]
    w = None
    if fweights is not None:
        if fweights.dim() > 1:
            raise RuntimeError(f"cov(): expected fweights to have one or fewer dimensions but got fweights with "
                               f"{fweights.dim()} dimensions")
        if fweights._dtype.is_floating_point or fweights._dtype.is_complex:
            raise RuntimeError(f"cov(): expected fweights to have integral dtype but got fweights with "
                               f"{_dtname(fweights._dtype)} dtype")
        w = fweights
    if aweights is not None:
        if not aweights._dtype.is_floating_point:
            raise RuntimeError(f"cov(): expected aweights to have floating point dtype but got aweights with "
                               f"{_dtname(aweights._dtype)} dtype")
        w = aweights if w is None else w * aweights
    if w is not None:
        w_sum = w.sum()
        if bool(w_sum == 0):
            raise RuntimeError("cov(): weights sum to zero, can't be normalized")
        avg = (x * w).sum(1) / w_sum
    else:
        w_sum = Tensor._make(jnp.asarray(nobs, jnp.int64), input.device)
        avg = x.sum(1) / w_sum
    if w is not None and aweights is not None and correction != 0:
        norm_factor = w_sum - correction * (w * aweights).sum() / w_sum
    else:
        norm_factor = w_sum - correction
    if bool(norm_factor <= 0):
        import warnings

        warnings.warn("cov(): degrees of freedom is <= 0. Correction should be strictly less than the number of "
                      "observations.", UserWarning, stacklevel=2)
        norm_factor = norm_factor * 0
    x = x - avg.unsqueeze(1)
    c = mm(x, (x if w is None else x * w).t().conj() if x._dtype.is_complex else (x if w is None else x * w).t())
    return true_divide(c, norm_factor).squeeze()


@public(method=True)
def corrcoef(input):
    """Pearson correlation coefficients of the rows of ``input``."""
    c = cov(input)
    if c.dim() == 0:
        return c / c
    d = diagonal(c)
    sd = sqrt(d)
    c = c / sd.view(-1, 1)
    c = c / sd.view(1, -1)
    return c.clip(-1, 1)


@public
def gradient(input, *, spacing=1, dim=None, edge_order=1):
    """Second-order accurate central differences along each of ``dim`` (torch.gradient), with
    scalar spacings or 1-D coordinate tensors."""
    nd = input.dim()
    if dim is None:
        dims = list(range(nd))
    elif isinstance(dim, int):
        dims = [_wrap(dim, nd)]
    else:
        dims = [_wrap(d, nd) for d in dim]
    if spacing is None:
        spacing = 1
    sp = list(spacing) if isinstance(spacing, (list, tuple)) else [spacing] * len(dims)
    if len(sp) != len(dims):
        raise RuntimeError(f"torch.gradient expected spacing to be unspecified, a scalar or it's spacing and dim "
                           f"arguments to have the same length, but got a spacing argument of length {len(sp)} "
                           f"and a dim argument of length {len(dims)}.")
    if edge_order not in (1, 2):
        raise RuntimeError("torch.gradient only supports edge_order=1 and edge_order=2.")
    for d in dims:
        if input._shape[d] < edge_order + 1:
            raise RuntimeError("torch.gradient expected each dimension size to be at least edge_order+1")

    def sl(d, a, b=None):
        n = input._shape[d]
        a = a + n if a < 0 else a
        b = n if b is None else (b + n if b < 0 else b)
        return narrow(input, d, a, b - a)

    outs = []
    for d, h in zip(dims, sp):
        if isinstance(h, Tensor) and h.dim() == 1:
            ax = diff(h, 1, 0)
            shape = [1] * nd
            shape[d] = -1
            dx1, dx2 = narrow(ax, 0, 0, ax._shape[0] - 1), narrow(ax, 0, 1, ax._shape[0] - 1)
            a = (-dx2 / (dx1 * (dx1 + dx2))).reshape(shape)
            b = ((dx2 - dx1) / (dx1 * dx2)).reshape(shape)
            c = (dx1 / (dx2 * (dx1 + dx2))).reshape(shape)
            center = a * sl(d, 0, -2) + b * sl(d, 1, -1) + c * sl(d, 2)
            if edge_order == 1:
                first = (sl(d, 1, 2) - sl(d, 0, 1)) / ax[0]
                last = (sl(d, -1) - sl(d, -2, -1)) / ax[-1]
            else:
                a = -(2.0 * ax[0] + ax[1]) / (ax[0] * (ax[0] + ax[1]))
                b = (ax[0] + ax[1]) / (ax[0] * ax[1])
                c = (-ax[0]) / (ax[1] * (ax[0] + ax[1]))
                first = a * sl(d, 0, 1) + b * sl(d, 1, 2) + c * sl(d, 2, 3)
                a = (ax[-1]) / (ax[-2] * (ax[-1] + ax[-2]))
                b = -(ax[-1] + ax[-2]) / (ax[-1] * ax[-2])
                c = (2 * ax[-1] + ax[-2]) / (ax[-1] * (ax[-1] + ax[-2]))
                last = a * sl(d, -3, -2) + b * sl(d, -2, -1) + c * sl(d, -1)
            outs.append(cat([first, center, last], d))
            continue
        if isinstance(h, Tensor):
            h = h.item()
        center = _div_scalar(sl(d, 2) - sl(d, 0, -2), h)
        if edge_order == 1:
            first = _div_scalar(sl(d, 1, 2) - sl(d, 0, 1), h)
            last = _div_scalar(sl(d, -1) - sl(d, -2, -1), h)
        else:
            first = _div_scalar(sl(d, 0, 1) * -1.5 + sl(d, 1, 2) * 2 - sl(d, 2, 3) * 0.5, h)
            last = _div_scalar(sl(d, -3, -2) * 0.5 + sl(d, -2, -1) * -2 + sl(d, -1) * 1.5, h)
        outs.append(cat([first, _div_scalar(center, 2), last], d))
    return tuple(outs)


# -- softmax / log_softmax (torch.nn.functional re-exports these) ------------------------------------------
def _softmax_dim(input, dim, name):
    if dim is None:
        warnings.warn(f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as "
                      "an argument.", UserWarning, stacklevel=3)
        dim = 0 if input.dim() in (0, 1, 3) else 1
    return _wrap_dim(dim, input.dim())


def _on_vector(f):
    # a 0-d input is its own softmax axis (torch accepts dim 0 or -1)
    return lambda x, axis: f(x[None], axis=0)[0] if x.ndim == 0 else f(x, axis=axis)


@defop(upcast_half(_on_vector(jax.nn.softmax)), node="SoftmaxBackward0", saves={0: ("result",)},
       method=False, function=False, name="softmax")
def _softmax(input, axis):
    return (input,), (("axis", axis),)


@defop(upcast_half(_on_vector(jax.nn.log_softmax)), node="LogSoftmaxBackward0", saves={0: ("result",)},
       method=False, function=False, name="log_softmax")
def _log_softmax(input, axis):
    return (input,), (("axis", axis),)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """Softmax along ``dim``."""
    if dtype is not None:
        input = input.to(dtype)
    return _softmax(input, _softmax_dim(input, dim, "softmax"))


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """Log-softmax along ``dim`` (numerically stable)."""
    if dtype is not None:
        input = input.to(dtype)
    return _log_softmax(input, _softmax_dim(input, dim, "log_softmax"))
