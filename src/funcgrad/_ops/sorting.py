"""Sorting and selection (sort, topk, kthvalue, median, mode, quantile), searching (searchsorted,
bucketize) and counting (histc, histogram, bincount, unique).

Values are ``input`` taken at the computed indices, so gradients flow to exactly the selected
elements, as torch's ``value_selecting_reduction_backward``. Sorts are stable (torch's CPU sort
is): ties keep their input order, NaNs sort as the largest values."""
from __future__ import annotations

import builtins

import jax
import jax.numpy as jnp
import numpy as np

from .. import _dtypes, return_types
from ..tensor import Tensor
from .reduction import _check_nonempty, _dim1, _dtname, _evenly_reduce, _indices, _values_at, _wrap, np_aliases, \
    value_selecting
from .registry import defop, public
from .indexing import index_select
from .views import reshape, select

__all__ = []


def _size_at(input, axis):
    return 1 if axis is None else input._shape[axis]


@public(method=True)
@np_aliases
def sort(input, dim=-1, descending=False, stable=None):
    """Sorted values along ``dim`` and their original indices (stable: ties keep their order)."""
    # torch's sort.stable overload (any explicit ``stable=``) names its node SortBackward1
    return value_selecting(input, "sort_desc" if descending else "sort", dim, False,
                           "SortBackward0" if stable is None else "SortBackward1",
                           return_types.sort, reduce=False)


@public(method=True)
@np_aliases
def argsort(input, dim=-1, descending=False, stable=False):
    """Indices that sort ``input`` along ``dim``."""
    return _indices(input, _dim1(dim, input.dim()), "sort_desc" if descending else "sort")


@public(method=True)
def msort(input):
    """``sort(input, dim=0).values``."""
    return sort(input, 0).values


@public(method=True)
@np_aliases
def topk(input, k, dim=-1, largest=True, sorted=True):  # noqa: A002
    """The ``k`` largest (``largest=False``: smallest) values along ``dim`` and their indices."""
    axis = _dim1(dim, input.dim())
    if not 0 <= k <= _size_at(input, axis):
        raise RuntimeError("selected index k out of range")
    if input.dim() == 0:
        if k == 0:
            raise NotImplementedError("funcgrad: topk with k=0 of a 0-d tensor is not implemented")
    kind = ("topk" if largest else "topk_small") + ("" if sorted else "_unsorted")
    return value_selecting(input, kind, dim, False, "TopkBackward0",
                           return_types.topk, k=k, reduce=False)


@public(method=True)
@np_aliases
def kthvalue(input, k, dim=-1, keepdim=False):
    """The ``k``-th smallest value along ``dim`` and its index."""
    axis = _dim1(dim, input.dim())
    if axis is not None:
        _check_nonempty("kthvalue", input, (axis,))
    if not 1 <= k <= _size_at(input, axis):
        raise RuntimeError(f"kthvalue(): selected number k out of range for dimension {axis or 0}")
    return value_selecting(input, "kthvalue", dim, keepdim, "KthvalueBackward0", return_types.kthvalue, k=k)


def _median(kind, input, dim, keepdim):
    if dim is None:
        return _evenly_reduce(input, kind, "MedianBackward0" if kind == "median" else "NanmedianBackward0")
    axis = _dim1(dim, input.dim())
    if axis is not None:
        _check_nonempty(kind, input, (axis,))
    return value_selecting(input, kind, dim, keepdim, "MedianBackward1" if kind == "median" else "NanmedianBackward1",
                           getattr(return_types, kind))


@public(method=True)
@np_aliases
def median(input, dim=None, keepdim=False):
    """Lower median of all elements (gradient shared by ties), or ``(values, indices)`` along
    ``dim``; NaN when a NaN is present."""
    return _median("median", input, dim, keepdim)


@public(method=True)
@np_aliases
def nanmedian(input, dim=None, keepdim=False):
    """Lower median ignoring NaNs."""
    return _median("nanmedian", input, dim, keepdim)


@public(method=True)
@np_aliases
def mode(input, dim=-1, keepdim=False):
    """Most frequent value along ``dim`` (the smallest of equally frequent ones) and the index of
    its last occurrence."""
    axis = _dim1(dim, input.dim())
    if axis is not None:
        _check_nonempty("mode", input, (axis,))
    return value_selecting(input, "mode", dim, keepdim, "ModeBackward0", return_types.mode)


# ------------------------------------------------------------------------------------- quantile

def _quantile_fwd(x, q, axis, keepdims, interp, ignore_nan):
    if axis is None:
        s = x.reshape(-1)
        base = (1,) * x.ndim if keepdims else ()
    else:
        s = jnp.moveaxis(x, axis, -1)
        base = tuple(1 if i == axis else d for i, d in enumerate(x.shape)) if keepdims else \
            tuple(d for i, d in enumerate(x.shape) if i != axis)
    n = s.shape[-1]
    s = jnp.sort(s, axis=-1).reshape(base + (n,))
    qq = q.reshape(-1)
    if ignore_nan:
        cnt = jnp.sum(~jnp.isnan(s), axis=-1, keepdims=True)
        ranks = qq * (cnt - 1).astype(q.dtype)
        ranks = jnp.where(ranks < 0, jnp.zeros((), q.dtype), ranks)
    else:
        anynan = jnp.any(jnp.isnan(s), axis=-1, keepdims=True)
        ranks = jnp.where(anynan, jnp.asarray(n - 1, q.dtype), qq * jnp.asarray(n - 1, q.dtype))
    ranks = jnp.broadcast_to(ranks, base + (qq.shape[0],))
    if interp == "lower":
        ranks = jnp.floor(ranks)
    elif interp == "higher":
        ranks = jnp.ceil(ranks)
    elif interp == "nearest":
        ranks = jnp.round(ranks)
    below = ranks.astype(jnp.int64)
    vb = jnp.take_along_axis(s, below, axis=-1)
    if interp in ("linear", "midpoint"):
        w = jnp.full_like(ranks, 0.5) if interp == "midpoint" else ranks - below.astype(ranks.dtype)
        va = jnp.take_along_axis(s, jnp.ceil(ranks).astype(jnp.int64), axis=-1)
        # torch's lerp: from the nearer end
        vb = jnp.where(w < 0.5, vb + w * (va - vb), va - (va - vb) * (1 - w))
    if q.ndim == 0:
        return vb[..., 0]
    return jnp.moveaxis(vb, -1, 0)


@defop(_quantile_fwd, node="SqueezeBackward4", saves={0: (0,)}, name="quantile_", method=False, function=False)
def _quantile(input, q, axis, keepdim, interp, ignore_nan):
    return (input, q), (("axis", axis), ("keepdims", bool(keepdim)), ("interp", interp),
                        ("ignore_nan", ignore_nan))


def _quantile_impl(name, input, q, dim, keepdim, interpolation, ignore_nan):
    if input.numel() == 0:
        raise RuntimeError(f"{name}() input tensor must be non-empty")
    if input._dtype not in (_dtypes.float32, _dtypes.float64):
        raise RuntimeError(f"{name}() input tensor must be either float or double dtype")
    if isinstance(q, Tensor):
        if q.dim() > 1:
            raise RuntimeError(f"{name}() q must be a scalar or 1D tensor")
        if q._dtype is not input._dtype:
            raise RuntimeError(f"{name}() q tensor must be same dtype as the input tensor")
        qv = np.asarray(q.detach().numpy())
        if qv.size and not ((qv >= 0) & (qv <= 1)).all():
            raise RuntimeError(f"{name}() q values must be in the range [0, 1]")
    else:
        if not 0 <= q <= 1:
            raise RuntimeError(f"{name}() q must be in the range [0, 1] but got {q}")
        q = Tensor._make(jnp.asarray(q, input._dtype.np), input.device)
    if interpolation not in ("linear", "lower", "higher", "midpoint", "nearest"):
        raise RuntimeError(f"{name}() interpolation must be one of linear, lower, higher, midpoint or nearest. "
                           f"Got {interpolation}")
    axis = None if dim is None else _wrap(dim, input.dim())
    if axis is not None and input.dim() == 0:
        axis = None
    return _quantile(input, q, axis, keepdim, interpolation, ignore_nan)


@public(method=True)
@np_aliases
def quantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """``q``-th quantiles (scalar or 1-D ``q``) of all elements or along ``dim``; NaN if a NaN is present."""
    return _quantile_impl("quantile", input, q, dim, keepdim, interpolation, False)


@public(method=True)
@np_aliases
def nanquantile(input, q, dim=None, keepdim=False, *, interpolation="linear"):
    """``quantile`` ignoring NaNs."""
    return _quantile_impl("nanquantile", input, q, dim, keepdim, interpolation, True)


# ------------------------------------------------------------------------------------- searching

def _searchsorted_fwd(seq, v, *sorter, right, int32):
    sorter = sorter[0] if sorter else None
    side = "right" if right else "left"
    if sorter is not None:
        seq = jnp.take_along_axis(seq, sorter, axis=-1)
    if seq.ndim <= 1:
        r = jnp.searchsorted(seq, v, side=side, method="compare_all")
    else:
        lead = seq.shape[:-1]
        f = jax.vmap(lambda s, x: jnp.searchsorted(s, x, side=side, method="compare_all"))
        r = f(seq.reshape((-1, seq.shape[-1])), v.reshape((int(np.prod(lead)), -1))).reshape(v.shape)
    return r.astype(jnp.int32 if int32 else jnp.int64)


@defop(_searchsorted_fwd, node="", nondiff_out=True, method=False, name="searchsorted")
def searchsorted(sorted_sequence, input, *, out_int32=False, right=False, side=None, sorter=None):
    """Indices where ``input`` would be inserted into the innermost dim of ``sorted_sequence``."""
    if side is not None:
        if side not in ("left", "right"):
            raise RuntimeError(f"torch.searchsorted(): side can only be 'left' or 'right' but got {side}")
        if right and side == "left":
            raise RuntimeError("torch.searchsorted(): side and right can't be set to opposites, got side of left "
                               "while right was True")
        right = side == "right"
    if not isinstance(input, Tensor):
        input = Tensor._make(jnp.asarray(input, sorted_sequence._dtype.np), sorted_sequence.device)
    if sorted_sequence.dim() > 1 and sorted_sequence._shape[:-1] != input._shape[:-1]:
        raise RuntimeError("torch.searchsorted(): boundaries tensor should be 1 dimension or the first N-1 dimensions "
                           "of boundaries tensor and input value tensor must match, but we got boundaries tensor "
                           f"{list(sorted_sequence._shape)} and input value tensor {list(input._shape)}")
    if sorted_sequence._dtype is not input._dtype:
        dt = _dtypes.result_type([(sorted_sequence._dtype, 1), (input._dtype, 1)], [])
        sorted_sequence, input = sorted_sequence.to(dt), input.to(dt)
    ins = (sorted_sequence, input) if sorter is None else (sorted_sequence, input, sorter)
    return ins, (("right", bool(right)), ("int32", bool(out_int32)))


@public
def bucketize(input, boundaries, *, out_int32=False, right=False):
    """Index of the bucket of each element, with 1-D ``boundaries``."""
    if boundaries.dim() != 1:
        raise RuntimeError(f"boundaries tensor must be 1 dimension, but got dim({boundaries.dim()})")
    return searchsorted(boundaries, input, out_int32=out_int32, right=right)


# -------------------------------------------------------------------------------------- counting

def _hist_fwd(x, lo, hi, bins, weight=None):
    """torch's linear-interpolation histogram (histc): bin = (x - lo) * bins / (hi - lo)."""
    x = x.reshape(-1)
    lo = lo.astype(x.dtype)
    hi = hi.astype(x.dtype)
    pos = ((x - lo) * bins / (hi - lo))
    pos = jnp.where(jnp.isfinite(pos), pos, 0).astype(jnp.int64)
    pos = jnp.where(pos == bins, bins - 1, pos)
    inside = (x >= lo) & (x <= hi)
    w = jnp.ones_like(x) if weight is None else weight.reshape(-1).astype(x.dtype)
    return jnp.zeros((bins,), x.dtype).at[jnp.where(inside, pos, bins)].add(w, mode="drop")


def _histc_range(x, lo, hi):
    x = x.reshape(-1)
    if lo == hi and x.size:
        lo, hi = jnp.min(x), jnp.max(x)
    else:
        lo, hi = jnp.asarray(lo, x.dtype), jnp.asarray(hi, x.dtype)
    same = lo == hi
    return jnp.where(same, lo - 1, lo), jnp.where(same, hi + 1, hi)


@defop(lambda x, bins, lo, hi: _hist_fwd(x, *_histc_range(x, lo, hi), bins), node="HistcBackward0",
       nondiff_out=True)
def histc(input, bins=100, min=0, max=0):  # noqa: A002
    """Histogram of ``bins`` equal bins over ``[min, max]`` (the data's range when both are 0)."""
    if not input._dtype.is_floating_point:
        raise NotImplementedError(f"\"histogram_cpu\" not implemented for '{_dtname(input._dtype)}'")
    if bins <= 0:
        raise RuntimeError(f"torch.histc(): bins must be > 0, but got {bins} for dimension 0")
    if min > max:
        raise RuntimeError("torch.histc: max must be larger than min")
    return (input,), (("bins", int(bins)), ("lo", float(min)), ("hi", float(max)))


def _histogram_fwd(x, *rest, bins, lo, hi, density, has_weight, edges_given):
    rest = list(rest)
    weight = rest.pop() if has_weight else None
    x = x.reshape(-1)
    if edges_given:
        edges = rest[0].astype(x.dtype)
        nb = edges.shape[0] - 1
        pos = jnp.searchsorted(edges, x, side="right", method="compare_all") - 1
        pos = jnp.where(x == edges[-1], nb - 1, pos)
        inside = (x >= edges[0]) & (x <= edges[-1])
        w = jnp.ones_like(x) if weight is None else weight.reshape(-1).astype(x.dtype)
        hist = jnp.zeros((nb,), x.dtype).at[jnp.where(inside, pos, nb)].add(w, mode="drop")
    else:
        if lo is None:
            # torch's default range: the data's, or [0, 1] for an empty input
            lo_, hi_ = (jnp.min(x), jnp.max(x)) if x.size else (jnp.zeros((), x.dtype), jnp.ones((), x.dtype))
        else:
            lo_, hi_ = jnp.asarray(lo, x.dtype), jnp.asarray(hi, x.dtype)
        same = lo_ == hi_
        lo_, hi_ = jnp.where(same, lo_ - 0.5, lo_), jnp.where(same, hi_ + 0.5, hi_)
        edges = jnp.linspace(lo_, hi_, bins + 1, dtype=x.dtype)
        nb = bins
        pos = jnp.searchsorted(edges, x, side="right", method="compare_all") - 1
        pos = jnp.where(x == edges[-1], nb - 1, pos)
        inside = (x >= edges[0]) & (x <= edges[-1])
        w = jnp.ones_like(x) if weight is None else weight.reshape(-1).astype(x.dtype)
        hist = jnp.zeros((nb,), x.dtype).at[jnp.where(inside, pos, nb)].add(w, mode="drop")
    if density:
        hist = hist / (jnp.sum(hist) * jnp.diff(edges))
    return hist, edges


@defop(lambda *a, **k: _histogram_fwd(*a, **k)[0], node="", nondiff_out=True, method=False, function=False,
       name="histogram_hist")
def _histogram_hist(inputs, params):
    return inputs, params


@defop(lambda *a, **k: _histogram_fwd(*a, **k)[1], node="", nondiff_out=True, method=False, function=False,
       name="histogram_edges")
def _histogram_edges(inputs, params):
    return inputs, params


@public(method=True)
def histogram(input, bins=100, *, range=None, weight=None, density=False):  # noqa: A002
    """``(hist, bin_edges)``: counts (or ``weight`` sums, or a density) in ``bins`` bins."""
    if not input._dtype.is_floating_point:
        raise RuntimeError(f"torch.histogram: input tensor and bins tensors should have the same dtype, but got "
                           f"input {_dtname(input._dtype).lower()} and bins {_dtname(input._dtype).lower()}")
    given = isinstance(bins, Tensor)
    lo = hi = None
    if range is not None:
        lo, hi = float(range[0]), float(range[1])
        if lo > hi:
            raise RuntimeError(f"torch.histogram(): min should not exceed max, but got min {lo} max {hi}")
    ins = [input] + ([bins] if given else []) + ([weight] if weight is not None else [])
    params = (("bins", None if given else int(bins)), ("lo", lo), ("hi", hi), ("density", bool(density)),
              ("has_weight", weight is not None), ("edges_given", given))
    return return_types.histogram(_histogram_hist(ins, params), _histogram_edges(ins, params))


def _bincount_fwd(x, w=None, *, length):
    if w is None:
        return jnp.zeros((length,), jnp.int64).at[x].add(1)
    dt = w.dtype if jnp.issubdtype(w.dtype, jnp.floating) else jnp.float64
    return jnp.zeros((length,), dt).at[x].add(w.astype(dt))


@defop(_bincount_fwd, node="", nondiff_out=True)
def bincount(input, weights=None, minlength=0):
    """Count of each value in a 1-D tensor of non-negative integers (``weights`` sums instead)."""
    if input._dtype.is_floating_point or input._dtype.is_complex or input._dtype is _dtypes.bool:
        raise NotImplementedError(f"\"bincount_cpu\" not implemented for '{input._dtype._legacy.replace('Tensor', '')}'")
    if input.dim() != 1:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    if minlength < 0:
        raise RuntimeError("minlength should be >= 0")
    if weights is not None and weights._shape != input._shape:
        raise RuntimeError("weights should be 1-d and have the same length as input")
    a = np.asarray(input.numpy())
    if a.size and a.min() < 0:
        raise RuntimeError("bincount only supports 1-d non-negative integral inputs.")
    length = builtins.max(int(a.max()) + 1 if a.size else 0, int(minlength))
    return ((input,) if weights is None else (input, weights)), (("length", length),)


# -------------------------------------------------------------------------------------- unique

def _unique_np(a, dim, consecutive):
    """(unique values, inverse, counts, first-index of each unique) with numpy, as torch orders them."""
    if dim is None:
        f = a.reshape(-1)
        if consecutive:
            if f.size == 0:
                return f, np.zeros(a.shape, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
            change = np.concatenate([[True], f[1:] != f[:-1]])
            starts = np.nonzero(change)[0]
            inv = np.cumsum(change) - 1
            counts = np.diff(np.append(starts, f.size))
            return f[starts], inv.reshape(a.shape), counts, starts
        u, first, inv, counts = np.unique(f, return_index=True, return_inverse=True, return_counts=True)
        return u, inv.reshape(a.shape), counts, first
    m = np.moveaxis(a, dim, 0)
    rows = m.reshape(m.shape[0], int(np.prod(m.shape[1:])))
    if consecutive:
        if rows.shape[0] == 0:
            return m, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
        change = np.concatenate([[True], np.any(rows[1:] != rows[:-1], axis=1)])
        starts = np.nonzero(change)[0]
        inv = np.cumsum(change) - 1
        counts = np.diff(np.append(starts, rows.shape[0]))
    else:
        order = np.lexsort(rows.T[::-1]) if rows.shape[1] else np.arange(rows.shape[0])
        srt = rows[order]
        change = np.concatenate([[True], np.any(srt[1:] != srt[:-1], axis=1)]) if len(srt) else np.zeros(0, bool)
        grp = np.cumsum(change) - 1
        starts = order[np.nonzero(change)[0]]
        inv = np.empty(rows.shape[0], np.int64)
        inv[order] = grp
        counts = np.bincount(grp, minlength=int(change.sum())) if len(srt) else np.zeros(0, np.int64)
    return None, inv, counts, starts


def _unique(input, return_inverse, return_counts, dim, consecutive):
    a = np.asarray(input.detach().numpy())
    d = None if dim is None else _wrap(dim, input.dim())
    _, inv, counts, starts = _unique_np(a, d, consecutive)
    idx = Tensor._make(jnp.asarray(starts, jnp.int64), input.device)
    src = reshape(input, (-1,)) if d is None else input
    node = ("UniqueConsecutiveBackward0" if consecutive else "Unique2Backward0") if d is None else \
        ("UniqueConsecutiveBackward0" if consecutive else "UniqueDimBackward0")
    vals = _values_at(src, idx, 0 if d is None else d, False, node) if d is None else \
        _take_rows(src, idx, d, node)
    out = [vals]
    if return_inverse:
        out.append(Tensor._make(jnp.asarray(inv, jnp.int64), input.device))
    if return_counts:
        out.append(Tensor._make(jnp.asarray(counts, jnp.int64), input.device))
    return vals if len(out) == 1 else tuple(out)


def _take_rows(src, idx, d, node):
    shape = [1] * src.dim()
    shape[d] = idx._shape[0]
    full = list(src._shape)
    full[d] = idx._shape[0]
    i = Tensor._make(jnp.broadcast_to(np.asarray(idx.numpy()).reshape(shape), tuple(full)), src.device)
    return _values_at(src, i, d, False, node)


@public(method=True)
def unique(input, sorted=True, return_inverse=False, return_counts=False, dim=None):  # noqa: A002
    """Sorted unique elements (or slices along ``dim``), optionally with inverse indices and counts."""
    return _unique(input, return_inverse, return_counts, dim, False)


@public(method=True)
def unique_consecutive(input, return_inverse=False, return_counts=False, dim=None):
    """Collapse runs of equal consecutive elements (or slices along ``dim``)."""
    return _unique(input, return_inverse, return_counts, dim, True)


def _histdd_fwd(pts, *rest, has_weight, density):
    rest = list(rest)
    w = rest.pop().reshape(-1).astype(pts.dtype) if has_weight else jnp.ones(pts.shape[:1], pts.dtype)
    edges = [e.astype(pts.dtype) for e in rest]
    nbs = [e.shape[0] - 1 for e in edges]
    inside = jnp.ones(pts.shape[:1], bool)
    flat = jnp.zeros(pts.shape[:1], jnp.int64)
    for d, e in enumerate(edges):
        x = pts[:, d]
        pos = jnp.searchsorted(e, x, side="right", method="compare_all") - 1
        pos = jnp.where(x == e[-1], nbs[d] - 1, pos)
        inside = inside & (x >= e[0]) & (x <= e[-1])
        flat = flat * nbs[d] + jnp.clip(pos, 0, builtins.max(nbs[d] - 1, 0))
    total = int(np.prod(nbs))
    hist = jnp.zeros((total,), pts.dtype).at[jnp.where(inside, flat, total)].add(w, mode="drop").reshape(nbs)
    if density:
        vol = jnp.ones((), pts.dtype)
        for d, e in enumerate(edges):
            shape = [1] * len(edges)
            shape[d] = nbs[d]
            vol = vol * jnp.diff(e).reshape(shape)
        hist = hist / (jnp.sum(hist) * vol)
    return hist


@defop(_histdd_fwd, node="", nondiff_out=True, method=False, function=False, name="histogramdd_hist")
def _histdd(inputs, params):
    return inputs, params


@public
def histogramdd(input, bins=10, *, range=None, weight=None, density=False):  # noqa: A002
    """D-dimensional histogram of the points ``input[..., :D]``: ``(hist, bin_edges)``."""
    D = input._shape[-1]
    pts = reshape(input, (-1, D))
    if isinstance(bins, int):
        bins = [bins] * D
    if isinstance(bins, Tensor):
        bins = [bins]
    if len(bins) != D:
        raise RuntimeError(f"torch.histogramdd: expected {D} sequences of bin edges for each of the {D} "
                           f"dimensions of the input, but got {len(bins)}")
    edges = []
    for d, b in enumerate(bins):
        if isinstance(b, Tensor):
            edges.append(b)
            continue
        lo = hi = None
        if range is not None:
            lo, hi = float(range[2 * d]), float(range[2 * d + 1])
        col = select(pts, 1, d)
        edges.append(_histogram_edges([col], (("bins", int(b)), ("lo", lo), ("hi", hi), ("density", False),
                                              ("has_weight", False), ("edges_given", False))))
    ins = [pts, *edges] + ([weight] if weight is not None else [])
    hist = _histdd(ins, (("has_weight", weight is not None), ("density", bool(density))))
    return return_types.histogramdd(hist, tuple(edges))
