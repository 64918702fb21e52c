"""Scatter-style indexing ops: scatter/scatter_add/scatter_reduce, index_add/copy/fill/reduce/put,
put/take/take_along_dim, masked_scatter, repeat_interleave and the tril/triu index helpers.

Index bounds are checked eagerly, with torch's exception and wording, when the index has a value;
inside funcgrad.compile or a JAX transform (traced indices) the check is skipped."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .. import _dtypes, _lazy
from ..tensor import Tensor
from .indexing import _check_gather_shape, _gather_fwd, _idx, gather, index_select
from .registry import Const, defop, public, scalar_value
from .views import _wrap
from . import views
from .creation import clone, tensor
from .indexing import _bshape, _check_broadcastable, _index_arrays, _index_put, _region_shape
from .shape import _broadcast_shape_of

__all__ = []


def _grid(idx, axis, size):
    dims = list(jnp.indices(idx.shape, sparse=True))
    dims[axis] = jnp.where(idx < 0, idx + size, idx)
    return tuple(dims)


def _src_part(src, shape):
    return src[tuple(slice(0, s) for s in shape)]


def _scatter_fwd(x, src, idx, axis, reduce):
    if x.ndim == 0:
        x1, s1, i1 = x.reshape(1), src.reshape(-1)[:1] if src.ndim else src.reshape(1), idx.reshape(-1)
        return _scatter_fwd(x1, s1, i1, 0, reduce).reshape(()) if idx.size else x
    if idx.ndim == 0:
        idx = idx.reshape((1,) * x.ndim)
    src = _src_part(src, idx.shape) if src.ndim else jnp.broadcast_to(src, idx.shape)
    src = src.astype(x.dtype)
    at = x.at[_grid(idx, axis, x.shape[axis])]
    if reduce is None:
        return at.set(src)
    if reduce == "add":
        return at.add(src)
    return at.multiply(src)


def _no_grad_scatter(x, src, idx, axis, reduce):
    @jax.custom_vjp
    def f(x, src):
        return _scatter_fwd(x, src, idx, axis, reduce)

    def fwd(x, src):
        return f(x, src), None

    def bwd(_, g):
        raise RuntimeError("derivative for aten::scatter is not implemented")

    f.defvjp(fwd, bwd)
    return f(x, src)


def _check_index(input, index, d, name, src=None):
    arr, host = _idx(index, f"{name}(): Expected dtype int32/int64")
    _check_gather_shape(input, index, d, name, src)
    if host is not None and host.size:
        n = input._shape[d] if input.dim() else 1
        bad = host[(host >= n) | (host < 0)]
        if bad.size:
            raise RuntimeError(f"index {int(bad.reshape(-1)[0])} is out of bounds for dimension {d} with size {n}")
    return arr


@defop(_scatter_fwd, node="ScatterBackward0", saves={0: (2,), 1: (2,)}, method=False, function=False,
       name="scatter_plain")
def _scatter_plain(input, src, arr, params, node):
    return (input, src, Const(arr)), params, node


@defop(lambda x, src, idx, axis, reduce: _no_grad_scatter(x, src, idx, axis, reduce), node="NotImplemented",
       saves={}, method=False, function=False, name="scatter_legacy_reduce")
def _scatter_legacy(input, src, arr, params):
    return (input, src, Const(arr)), params


@public(method=True, inplace=True)
def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    """``input`` with ``src`` (tensor or number) written at ``index`` along ``dim``; ``reduce`` 'add'/'multiply'
    combines instead of overwriting (no derivative, as torch's)."""
    d = _wrap(dim, input.dim())
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter() missing required argument 'src' or 'value'")
    arr = _check_index(input, index, d, "scatter", src if isinstance(src, Tensor) else None)
    if reduce is not None and reduce not in ("add", "multiply"):
        raise RuntimeError("reduce argument must be either add or multiply.")
    node = "ScatterBackward0" if isinstance(src, Tensor) else "ScatterBackward1"
    if not isinstance(src, Tensor):
        src = Const(np.asarray(src, dtype=input._dtype.np))
    elif src._dtype is not input._dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    params = (("axis", d), ("reduce", reduce))
    if reduce is not None:
        return _scatter_legacy(input, src, arr, params)
    return _scatter_plain(input, src, arr, params, node)


@defop(_scatter_fwd, node="ScatterAddBackward0", saves={1: (2,)}, inplace=True)
def scatter_add(input, dim, index, src):
    """``input`` with ``src`` added at ``index`` along ``dim``."""
    d = _wrap(dim, input.dim())
    arr = _check_index(input, index, d, "scatter_add", src)
    if src._dtype is not input._dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    return (input, src, Const(arr)), (("axis", d), ("reduce", "add"))


def _scatter_reduce_fwd(x, src, idx, axis, reduce, include_self):
    if x.ndim == 0:
        return _scatter_reduce_fwd(x.reshape(1), src.reshape(1), idx.reshape(1), 0, reduce,
                                   include_self).reshape(()) if idx.size else x
    src = _src_part(src, idx.shape).astype(x.dtype)
    g = _grid(idx, axis, x.shape[axis])
    floating = jnp.issubdtype(x.dtype, jnp.floating) or jnp.issubdtype(x.dtype, jnp.complexfloating)
    if reduce in ("sum", "mean"):
        base = x if include_self else x.at[g].set(0)
        out = base.at[g].add(src)
        if reduce == "mean":
            cnt = jnp.zeros(x.shape, jnp.int64).at[g].add(1) + (1 if include_self else 0)
            cnt = jnp.maximum(cnt, 1)
            out = out / cnt if floating else jnp.floor_divide(out, cnt).astype(x.dtype)
            out = out.astype(x.dtype)
        return out
    if reduce == "prod":
        base = x if include_self else x.at[g].set(1)
        return base.at[g].multiply(src)
    if reduce == "amax":
        low = -jnp.inf if floating else jnp.iinfo(x.dtype).min if x.dtype != jnp.bool_ else False
        base = x if include_self else x.at[g].set(low)
        return base.at[g].max(src)
    low = jnp.inf if floating else jnp.iinfo(x.dtype).max if x.dtype != jnp.bool_ else True
    base = x if include_self else x.at[g].set(low)
    return base.at[g].min(src)


def _scatter_reduce_grad(x, src, idx, axis, reduce, include_self):
    """torch's ScatterReduceBackward0 (derivatives.yaml: scatter_reduce_backward)."""

    @jax.custom_jvp
    def f(x, src):
        return _scatter_reduce_fwd(x, src, idx, axis, reduce, include_self)

    @f.defjvp
    def f_jvp(primals, tangents):
        x, src = primals
        tx, ts = tangents
        out = f(x, src)
        if x.ndim == 0:
            return out, _scatter_reduce_lin(x.reshape(1), src.reshape(1), idx.reshape(1), 0, reduce, include_self,
                                            out.reshape(1), tx.reshape(1), ts.reshape(1)).reshape(())
        return out, _scatter_reduce_lin(x, src, idx, axis, reduce, include_self, out, tx, ts)

    return f(x, src)


def _scatter_reduce_lin(x, src, idx, axis, reduce, include_self, out, tx, ts):
    """The tangent of scatter_reduce: torch's scatter_reduce_backward, written forward (each term is a
    fixed scaling, so JAX's transpose of it is torch's backward)."""
    src = _src_part(src, idx.shape)
    ts = _src_part(ts, idx.shape)
    g = _grid(idx, axis, x.shape[axis])
    hit = jnp.zeros(x.shape, bool).at[g].set(True)
    self_on = jnp.logical_or(include_self, ~hit)
    if reduce == "sum":
        return jnp.where(self_on, tx, 0).at[g].add(ts)
    if reduce == "mean":
        n = jnp.where(include_self, 1, 0) + jnp.zeros(x.shape, x.dtype).at[g].add(1)
        n = jnp.where(n == 0, 1, n)
        return jnp.where(self_on, tx, 0).at[g].add(ts) / n
    if reduce == "prod":
        masked_self = jnp.where(x == 0, 1, x)
        masked_self_result = _scatter_reduce_fwd(masked_self, src, idx, axis, reduce, include_self)
        c_self = masked_self_result / masked_self
        src_zero = src == 0
        nz = jnp.zeros(x.shape, x.dtype).at[g].add(src_zero.astype(x.dtype))[g]
        single = src_zero & (nz == 1)
        masked_src_result = _scatter_reduce_fwd(x, jnp.where(single, 1, src), idx, axis, reduce, include_self)
        c_src = jnp.where(single, masked_src_result[g], out[g] / jnp.where(src_zero, 1, src))
        return jnp.where(self_on, tx * c_self, 0).at[g].add(ts * c_src)
    value = out[g]
    self_is = (x == out).astype(x.dtype)
    src_is = (src == value).astype(x.dtype)
    n = self_is.at[g].add(src_is)
    n = jnp.where(n == 0, 1, n)
    return (jnp.where(self_on, tx * self_is, 0).at[g].add(ts * src_is)) / n


@defop(_scatter_reduce_grad, node="ScatterReduceBackward0", saves={0: (1, 2, "result"), 1: (0, 2, "result")},
       inplace=True)
def scatter_reduce(input, dim, index, src, reduce, *, include_self=True):
    """``input`` with ``src`` reduced ('sum', 'prod', 'mean', 'amax', 'amin') into it at ``index`` along ``dim``."""
    if reduce not in ("sum", "prod", "mean", "amax", "amin"):
        raise RuntimeError(f"reduce argument must be either sum, prod, mean, amax or amin, got {reduce}")
    d = _wrap(dim, input.dim())
    arr = _check_index(input, index, d, "scatter_reduce", src)
    if src._dtype is not input._dtype:
        raise RuntimeError("scatter(): Expected self.dtype to be equal to src.dtype")
    return (input, src, Const(arr)), (("axis", d), ("reduce", reduce), ("include_self", bool(include_self)))


# -- index_* --------------------------------------------------------------------------------------------
def _index_arg(input, dim, index, name, n_src=None):
    arr, host = _idx(index, f"{name}(): Expected dtype int32/int64")
    if index.dim() > 1:
        raise IndexError(f"{name}(): Index is supposed to be a vector")
    d = _wrap(dim, input.dim())
    n = input._shape[d] if input.dim() else 1
    if host is not None and host.size:
        bad = host[(host >= n) | (host < (-n if name == "index_fill" else 0))]
        if bad.size:
            if name in ("index_add", "index_reduce"):
                raise IndexError("index out of range in self")
            pre = "index_copy_(): " if name == "index_copy" else ""
            raise IndexError(f"{pre}index {int(bad.reshape(-1)[0])} is out of bounds for dimension {d} with size {n}")
    return arr.reshape(-1), d


def _moved(x, d):
    return jnp.moveaxis(x, d, 0) if x.ndim else x.reshape(1)


def _unmoved(y, d, like):
    return jnp.moveaxis(y, 0, d) if like.ndim else y.reshape(())


def _index_add_fwd(x, src, idx, axis, alpha):
    xm, sm = _moved(x, axis), _moved(src, axis) if src.ndim else src.reshape(1)
    n = xm.shape[0]
    idx = jnp.where(idx < 0, idx + n, idx)
    s = sm.astype(x.dtype) if alpha is None else (sm * alpha).astype(x.dtype)
    return _unmoved(xm.at[idx].add(s), axis, x)


def _check_source(input, source, d, index, name):
    if source._dtype is not input._dtype:
        a, b = (t._dtype._legacy.replace("Tensor", "") for t in (input, source))
        if name == "index_add":
            raise RuntimeError(f"index_add_(): self ({a}) and source ({b}) must have the same scalar type")
        if name == "index_copy":
            raise RuntimeError(f"index_copy_(): self and source expected to have the same dtype, but got (self) {a} "
                               f"and (source) {b}")
    if source.dim() != input.dim() and not (source.dim() <= 1 and input.dim() <= 1):
        raise (RuntimeError if name == "index_add" else IndexError)(f"{name}(): Source/destination tensor must have same slice shapes. Destination slice "
                         f"shape: {list(input._shape[:d] + input._shape[d + 1:])} at dimension {d} and source slice "
                         f"shape: {list(source._shape[:d] + source._shape[d + 1:])} at dimension 0.")
    ns = source._shape[d] if source.dim() else 1
    if ns != index.numel() and name == "index_add":
        raise RuntimeError(f"index_add_(): Number of indices ({index.numel()}) should be equal to source.size(dim): "
                           f"({ns}), for dim: {d}")
    if ns != index.numel():
        raise RuntimeError(f"{name}(): Number of indices ({index.numel()}) should be equal to source.size(dim) ({ns})")


@defop(_index_add_fwd, node="IndexAddBackward0", saves={1: (2,)}, inplace=True)
def index_add(input, dim, index, source, *, alpha=1):
    """``input`` with ``alpha * source`` slices added at ``index`` along ``dim``."""
    arr, d = _index_arg(input, dim, index, "index_add")
    _check_source(input, source, d, index, "index_add")
    return (input, source, Const(arr)), (("axis", d), ("alpha", None if alpha == 1 else alpha))


def _index_copy_fwd(x, src, idx, axis):
    xm, sm = _moved(x, axis), _moved(src, axis)
    n = xm.shape[0]
    return _unmoved(xm.at[jnp.where(idx < 0, idx + n, idx)].set(sm.astype(x.dtype)), axis, x)


@defop(_index_copy_fwd, node="IndexCopyBackward0", saves={0: (2,), 1: (2,)}, inplace=True)
def index_copy(input, dim, index, source):
    """``input`` with the slices at ``index`` along ``dim`` replaced by ``source``'s."""
    arr, d = _index_arg(input, dim, index, "index_copy")
    _check_source(input, source, d, index, "index_copy")
    return (input, source, Const(arr)), (("axis", d),)


def _index_fill_fwd(x, value, idx, axis):
    xm = _moved(x, axis)
    n = xm.shape[0]
    return _unmoved(xm.at[jnp.where(idx < 0, idx + n, idx)].set(value.astype(x.dtype)), axis, x)


@defop(_index_fill_fwd, node="IndexFillBackward0", saves={0: (2,), 1: (2,)}, inplace=True)
def index_fill(input, dim, index, value):
    """``input`` with the slices at ``index`` along ``dim`` set to ``value``."""
    arr, d = _index_arg(input, dim, index, "index_fill")
    if isinstance(value, Tensor):
        if value.dim():
            raise RuntimeError("index_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value.dim()} dimension(s).")
        return (input, value, Const(arr)), (("axis", d),), "IndexFillBackward1"
    return (input, Const(scalar_value(value, input._dtype.np)), Const(arr)), (("axis", d),)


def _index_reduce_fwd(x, src, idx, axis, reduce, include_self):
    xm, sm = _moved(x, axis), _moved(src, axis)
    n = xm.shape[0]
    idx = jnp.where(idx < 0, idx + n, idx)
    # an index_reduce along dim is scatter_reduce along 0 of the moved tensors with a broadcast index
    full = jnp.broadcast_to(idx.reshape((-1,) + (1,) * (sm.ndim - 1)), sm.shape)
    y = _scatter_reduce_grad(xm, sm.astype(x.dtype), full, 0, reduce, include_self)
    return _unmoved(y, axis, x)


@defop(_index_reduce_fwd, node="IndexReduceBackward0", saves={0: (1, 2, "result"), 1: (0, 2, "result")},
       inplace=True)
def index_reduce(input, dim, index, source, reduce, *, include_self=True):
    """``input`` with ``source`` slices reduced ('prod', 'mean', 'amax', 'amin') into it at ``index``."""
    if reduce not in ("prod", "mean", "amax", "amin"):
        raise RuntimeError(f"index_reduce(): Expected reduce to be one of prod, mean, amax or amin but got {reduce}.")
    arr, d = _index_arg(input, dim, index, "index_reduce")
    _check_source(input, source, d, index, "index_reduce")
    return (input, source, Const(arr)), (("axis", d), ("reduce", reduce), ("include_self", bool(include_self)))


# -- put / take -------------------------------------------------------------------------------------------
def _flat_index(input, index, name):
    if not isinstance(index, Tensor):
        raise TypeError(f"{name}(): argument 'index' must be Tensor, not {type(index).__name__}")
    if index._dtype is not _dtypes.int64:
        raise RuntimeError(f"{name}(): Expected a long tensor for index, but got {index._dtype.name.capitalize()}")
    arr = index._array()
    host = _lazy.concrete(arr)
    n = input.numel()
    if host is not None and host.size:
        bad = host[(host >= n) | (host < -n)]
        if bad.size:
            raise IndexError(f"out of range: tried to access index {int(bad.reshape(-1)[0])} on a tensor of {n} "
                             "elements.")
    return arr


def _take_fwd(x, idx):
    flat = x.reshape(-1)
    n = flat.shape[0]
    return flat[jnp.where(idx < 0, idx + n, idx)] if n else jnp.zeros(idx.shape, x.dtype)


@defop(_take_fwd, node="TakeBackward0", saves={0: (1,)})
def take(input, index):
    """The elements of ``input`` (as if flattened) at ``index``; result shaped like ``index``."""
    arr = _flat_index(input, index, "take")
    if input.numel() == 0 and index.numel():
        raise IndexError("take(): tried to take from an empty tensor")
    return (input, Const(arr)), ()


def _put_fwd(x, src, idx, accumulate):
    flat = x.reshape(-1)
    n = flat.shape[0]
    i = jnp.where(idx < 0, idx + n, idx).reshape(-1)
    s = src.reshape(-1).astype(x.dtype)
    return (flat.at[i].add(s) if accumulate else flat.at[i].set(s)).reshape(x.shape)


@defop(_put_fwd, node="PutBackward0", saves={0: (2,), 1: (2,)}, inplace=True)
def put(input, index, source, accumulate=False):
    """``input`` with ``source`` written (or added) at the flat positions ``index``."""
    arr = _flat_index(input, index, "put")
    if source.numel() != index.numel():
        raise RuntimeError(f"put_(): Expected source and index to have the same number of elements, but got "
                           f"source.numel() = {source.numel()}, index.numel() = {index.numel()}")
    if source._dtype is not input._dtype:
        raise RuntimeError(f"put_(): self and source expected to have the same dtype, but got self.dtype = "
                           f"{input._dtype.name.capitalize()} and source.dtype = {source._dtype.name.capitalize()}")
    return (input, source, Const(arr)), (("accumulate", bool(accumulate)),)


@public(method=True)
def take_along_dim(input, indices, dim=None):
    """``gather`` with broadcasting of ``input`` and ``indices`` (flattened when ``dim`` is None)."""
    if indices._dtype not in (_dtypes.int64, _dtypes.int32):
        raise RuntimeError(f"torch.take_along_dim(): dtype of indices should be int64 but got "
                           f"{indices._dtype.name.capitalize()} instead")
    if dim is None:
        return gather(views.reshape(input, (-1,)), 0, views.reshape(indices, (-1,)))
    if input.dim() != indices.dim():
        raise RuntimeError(f"torch.take_along_dim(): input and indices should have the same number of dimensions, "
                           f"but got {input.dim()} dimensions for input, and {indices.dim()} dimensions for indices")
    d = _wrap(dim, input.dim())
    si, sx = list(input._shape), list(indices._shape)
    si[d] = sx[d] = 1
    b = [max(a, c) if a == 1 or c == 1 or a == c else None for a, c in zip(si, sx)]
    if None in b:
        k = b.index(None)
        raise RuntimeError(f"The size of tensor a ({si[k]}) must match the size of tensor b ({sx[k]}) at "
                           f"non-singleton dimension {k}")
    xs = list(b)
    xs[d] = input._shape[d]
    js = list(b)
    js[d] = indices._shape[d]
    x = views.expand(input, xs) if tuple(xs) != input._shape else input
    j = views.expand(indices, js) if tuple(js) != indices._shape else indices
    return _take_along(x, d, j)


@defop(_gather_fwd, node="GatherBackward0", saves={0: (1,)}, method=False, function=False, name="take_along")
def _take_along(input, d, index):
    arr, host = _idx(index, "gather(): Expected dtype int32/int64")
    n = input._shape[d]
    if host is not None and host.size:
        bad = host[(host >= n) | (host < -n)]
        if bad.size:
            raise RuntimeError(f"index {int(bad.reshape(-1)[0])} is out of bounds for dimension {d} with size {n}")
    return (input, Const(arr)), (("axis", d),)


# -- masked_scatter -----------------------------------------------------------------------------------------
def _masked_scatter_fwd(x, mask, src):
    shape = jnp.broadcast_shapes(x.shape, mask.shape)
    x, mask = jnp.broadcast_to(x, shape), jnp.broadcast_to(mask, shape)
    pos = jnp.cumsum(mask.reshape(-1)) - 1
    flat = src.reshape(-1)
    vals = flat[jnp.clip(pos, 0, max(flat.shape[0] - 1, 0))].reshape(x.shape) if flat.shape[0] else x
    return jnp.where(mask, vals.astype(x.dtype), x)


@defop(_masked_scatter_fwd, node="MaskedScatterBackward0", saves={0: (1,), 2: (1,)}, inplace=True, nondiff=(1,))
def masked_scatter(input, mask, source):
    """``input`` with the positions where ``mask`` is True filled, in order, from ``source``."""
    if mask._dtype is not _dtypes.bool:
        raise RuntimeError(f"masked_scatter_ only supports boolean masks, but got mask with dtype "
                           f"{mask._dtype.name}")
    if source._dtype is not input._dtype:
        raise RuntimeError(f"masked_scatter: expected self and source to have same dtypes but got "
                           f"{input._dtype.name.capitalize()} and {source._dtype.name.capitalize()}")
    m = _lazy.concrete(mask._array())
    if m is not None:
        n = int(np.broadcast_to(m, _bshape(mask._shape, input._shape)).sum())
        if n > source.numel():
            raise RuntimeError("masked_scatter: expected source to have at least as many elements as the number "
                               "of ones in mask")
    return (input, mask, source), ()


# -- repeat_interleave, triangle indices ------------------------------------------------------------------
@public(method=True)
def repeat_interleave(input, repeats=None, dim=None, *, output_size=None):
    """Repeat each element (or slice along ``dim``) ``repeats`` times."""
    if repeats is None:  # torch.repeat_interleave(repeats): indices repeated by their counts
        r = np.asarray(input._array())
        if r.ndim > 1:
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        if input._dtype not in (_dtypes.int64, _dtypes.int32):
            raise RuntimeError("repeats has to be Long or Int tensor")
        if r.size and r.min() < 0:
            raise RuntimeError("repeats can not be negative")
        return tensor(np.repeat(np.arange(r.size), r).astype(input._dtype.np), device=input.device)
    x = input
    if dim is None:
        x = views.reshape(input, (-1,))
        d = 0
    else:
        d = _wrap(dim, input.dim())
    n = x._shape[d] if x.dim() else 1
    if isinstance(repeats, Tensor):
        if repeats.dim() > 1:
            raise RuntimeError("repeat_interleave only accept 1D vector as repeat")
        r = np.asarray(repeats._array()).reshape(-1)
        if r.size == 1 and n != 1:
            r = np.repeat(r, n)
        elif r.size != n:
            raise RuntimeError("repeats must have the same size as input along dim, but got repeats.size(0) = "
                               f"{r.size} and input.size({d}) = {n}")
        if r.size and r.min() < 0:
            raise RuntimeError("repeats can not be negative")
        idx = tensor(np.repeat(np.arange(n), r).astype(np.int64), device=input.device)
        return index_select(x, d, idx)
    r = int(repeats)
    if r < 0:
        raise RuntimeError("repeats can not be negative")
    if x.dim() == 0:
        x = views.reshape(x, (1,))
    s = x._shape
    e = views.expand(views.unsqueeze(x, d + 1), s[:d + 1] + (r,) + s[d + 1:])
    return views.view(clone(e), s[:d] + (s[d] * r,) + s[d + 1:])


def _tri_indices(lower, row, col, offset, dtype, device):
    dt = _dtypes.as_dtype(dtype) or _dtypes.int64
    if dt not in (_dtypes.int64, _dtypes.int32):
        name = "tril_indices" if lower else "triu_indices"
        raise RuntimeError(f"\"{name}\" not implemented for '{dt._legacy.replace('Tensor', '')}'")
    if row < 0:
        raise RuntimeError(f"row must be non-negative, got{row}")
    if col < 0:
        raise RuntimeError(f"col must be non-negative, got{col}")
    r, c = (np.tril_indices if lower else np.triu_indices)(row, offset, col)
    return tensor(np.stack([r, c]).astype(dt.np).reshape(2, -1), device=device)


@public
def tril_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    return _tri_indices(True, row, col, offset, dtype, device)


@public
def triu_indices(row, col, offset=0, *, dtype=None, device=None, layout=None):
    return _tri_indices(False, row, col, offset, dtype, device)


@public(method=True)
def index_put(input, indices, values, accumulate=False):
    """``input`` with ``values`` put at the advanced index ``indices`` (a copy; ``Tensor.index_put_`` in place)."""
    spec, arrays = _index_arrays(input._shape, tuple(indices))
    if isinstance(values, Tensor):
        _check_broadcastable(values._shape, _region_shape(input, spec, arrays))
    return _index_put(input, values, arrays, spec, "IndexPutBackward0", accumulate)
