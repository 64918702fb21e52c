"""torch's underscore-named tensor ops that torch publishes as ``torch.*``: ``_chunk_cat``,
``_unsafe_masked_index``, ``_unsafe_masked_index_put_accumulate``, ``segment_reduce``
(``torch._segment_reduce`` too), and ATen's ``slice`` (``torch.ops.aten.slice``)."""
from __future__ import annotations

import math

import jax.numpy as jnp
import numpy as np

from .._size import _wrap_dim
from ..tensor import Tensor
from . import indexing, shape
from .creation import tensor as _tensor
from .aten import aten_op
from .registry import defop, public

__all__ = ["_chunk_cat", "_unsafe_masked_index", "_unsafe_masked_index_put_accumulate", "segment_reduce"]

aten_op("slice")(shape._slice)


@public
def _chunk_cat(tensors, dim, num_chunks, *, out=None):
    """Split each tensor into ``num_chunks`` chunks along ``dim`` (zero-padding the last), flatten each
    chunk's trailing dims and concatenate the chunks' rows: shape ``(*lead, num_chunks, total)``."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("_chunk_cat expects a non-empty input tensor list")
    if num_chunks < 1:
        raise RuntimeError("_chunk_cat expects positive num_chunks")
    nd = tensors[0].dim()
    d = _wrap_dim(dim, nd)
    lead = tuple(tensors[0]._shape[:d])
    parts = []
    for t in tensors:
        if t.dim() != nd or tuple(t._shape[:d]) != lead:
            raise RuntimeError("_chunk_cat expects same sizes of 0,...,dim-1 dimensions for all tensors")
        size = t._shape[d]
        cs = -(-size // num_chunks)
        pad = cs * num_chunks - size
        if pad:
            t = shape.constant_pad_nd(t, [0, 0] * (nd - d - 1) + [0, pad], 0)
        parts.append(t.reshape(lead + (num_chunks, cs * math.prod(t._shape[d + 1:]))))
    res = indexing.cat(parts, d + 1)
    if out is not None:
        out.copy_(res)
        return out
    return res


def _masked_index_fwd(x, mask, *idx, fill):
    return jnp.where(mask, x[tuple(idx)], jnp.asarray(fill, x.dtype))


@defop(_masked_index_fwd, node="UnsafeMaskedIndexBackward0", saves={0: (1, 2)}, method=False)
def _unsafe_masked_index(input, mask, indices, fill):
    """``where(mask, input[indices], fill)``; indices need be in range only where ``mask`` is True."""
    if any(i is None for i in indices):
        raise NotImplementedError("torch._unsafe_masked_index with None indices is not supported by funcgrad")
    return (input, mask, *indices), (("fill", fill.item() if isinstance(fill, Tensor) else fill),)


def _masked_put_fwd(x, mask, values, *idx):
    return x.at[tuple(idx)].add(jnp.where(mask, values, jnp.zeros((), values.dtype)).astype(x.dtype), mode="drop")


@defop(_masked_put_fwd, node="UnsafeMaskedIndexPutAccumulateBackward0", saves={0: (), 2: (1,)}, method=False)
def _unsafe_masked_index_put_accumulate(input, mask, indices, values):
    """``input.index_put(indices, where(mask, values, 0), accumulate=True)``."""
    if any(i is None for i in indices):
        raise NotImplementedError("torch._unsafe_masked_index_put_accumulate with None indices is not supported "
                                  "by funcgrad")
    return (input, mask, values, *indices), ()


# -- segment_reduce ------------------------------------------------------------------------------------
_IDENT = {"sum": 0.0, "mean": 0.0, "prod": 1.0, "max": -np.inf, "min": np.inf}


def _segment_fwd(x, seg, *, axis, k, reduce, initial):
    # seg: (*lead, D) segment ids (k = past the last segment); x: (*lead, D, *trail)
    trail = x.ndim - axis - 1
    ids = jnp.arange(k).reshape((1,) * axis + (k, 1))
    member = (seg[..., None, :] == ids).reshape(seg.shape[:axis] + (k, seg.shape[axis]) + (1,) * trail)
    xe = jnp.expand_dims(x, axis)
    ident = jnp.asarray(_IDENT[reduce], x.dtype)
    picked = jnp.where(member, xe, ident)
    red = {"sum": jnp.sum, "mean": jnp.sum, "prod": jnp.prod, "max": jnp.max, "min": jnp.min}[reduce]
    r = red(picked, axis=axis + 1)
    if reduce == "mean":
        cnt = jnp.sum(member, axis=axis + 1).astype(x.dtype)
        if initial is not None:
            r = jnp.where(cnt == 0, jnp.asarray(initial, x.dtype), (r + initial) / jnp.where(cnt == 0, 1, cnt))
        else:
            r = r / cnt
        return r
    if initial is not None:
        init = jnp.asarray(initial, x.dtype)
        r = {"sum": lambda a: a + init, "prod": lambda a: a * init, "max": lambda a: jnp.maximum(a, init),
             "min": lambda a: jnp.minimum(a, init)}[reduce](r)
    return r


@defop(_segment_fwd, node="SegmentReduceBackward0", saves={0: (0, "result")}, method=False, function=False,
       name="segment_reduce_op")
def _segment_op(data, seg, axis, k, reduce, initial):
    return (data, seg), (("axis", axis), ("k", k), ("reduce", reduce), ("initial", initial))


@public(aliases=("_segment_reduce",))
def segment_reduce(data, reduce, *, lengths=None, indices=None, offsets=None, axis=0, unsafe=False, initial=None):
    """Reduce ``data`` along ``axis`` over consecutive segments given by ``lengths`` (or ``offsets``)."""
    if reduce not in _IDENT:
        raise RuntimeError(f"reduce argument must be either sum, prod, max, min, mean, got {reduce}")
    if indices is not None:
        raise NotImplementedError("torch.segment_reduce with indices= is not supported by funcgrad")
    if lengths is None and offsets is None:
        raise RuntimeError("segment_reduce(): Either lengths or offsets must be defined")
    if lengths is not None:
        lens = np.asarray(lengths.detach().numpy()).astype(np.int64)
    else:
        off = np.asarray(offsets.detach().numpy()).astype(np.int64)
        lens = np.diff(off, axis=-1)
    axis = _wrap_dim(axis, data.dim())
    if axis != lens.ndim - 1:
        raise RuntimeError(f"segment_reduce(): Expected axis to be the last dimension of lengths but got {axis}.")
    n = data._shape[axis]
    if not unsafe and (lens < 0).any():
        raise RuntimeError("segment_reduce(): lengths contains negative value!")
    if not unsafe and lengths is not None and not (lens.sum(-1) == n).all():
        raise RuntimeError("segment_reduce(): Expected all rows of lengths along axis to sum to "
                           "data.size(lengths.dim()-1) when !unsafe.")
    k = lens.shape[-1]
    ends = np.cumsum(lens, axis=-1)
    pos = np.arange(n)
    seg = (pos[None, :] >= ends[..., :, None]).sum(-2).astype(np.int64)  # (*lead, n): each position's segment
    return _segment_op(data, _tensor(seg), axis, k, reduce, None if initial is None else float(initial))
