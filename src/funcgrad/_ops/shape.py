"""Shape ops built from views and joins: atleast_*, broadcasting, splits, flips/rotations, grids,
diagonals, the ``*_scatter`` ops (a view's slot overwritten, out of place) and padding."""
from __future__ import annotations

import itertools

import math

import jax
import jax.numpy as jnp
import numpy as np

from .. import _dtypes
from .._size import Size
from ..tensor import Tensor
from . import indexing, views
from .registry import defop, public
from .views import _wrap
from .creation import tensor

__all__ = []


def _seq_arg(tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return tuple(tensors[0]), True
    return tuple(tensors), len(tensors) != 1


# -- atleast_* / broadcasting --------------------------------------------------------------------------
def _atleast(n, fn):
    def f(*tensors):
        ts, many = _seq_arg(tensors)
        out = tuple(fn(t) if t.dim() < n else t for t in ts)
        return out if many else out[0]

    return f


atleast_1d = public(_atleast(1, lambda t: views.reshape(t, (1,))), name="atleast_1d")
atleast_2d = public(_atleast(2, lambda t: views.unsqueeze(t, 0) if t.dim() == 1 else views.reshape(t, (1, 1))),
                    name="atleast_2d")
atleast_3d = public(_atleast(3, lambda t: views.unsqueeze(t, -1) if t.dim() == 2 else
                             views.unsqueeze(views.unsqueeze(t, 0), -1) if t.dim() == 1 else views.reshape(t, (1, 1, 1))),
                    name="atleast_3d")


@public
def broadcast_shapes(*shapes):
    """The shape that ``shapes`` broadcast to (RuntimeError as torch's when they don't)."""
    out = []
    norm = []
    for s in shapes:
        if isinstance(s, (int, np.integer)):
            s = (int(s),)
        s = tuple(int(v) for v in s)
        for v in s:
            if v < 0:
                raise RuntimeError(f"Trying to create tensor with negative dimension {v}: {list(s)}")
        norm.append(s)
    n = max((len(s) for s in norm), default=0)
    out = [1] * n
    for k, s in enumerate(norm):
        for i, v in enumerate(s):
            j = n - len(s) + i
            if out[j] == 1:
                out[j] = v
            elif v != 1 and v != out[j]:
                raise RuntimeError(f"Attempting to broadcast a dimension of length {v} at {i - len(s)}! Mismatching "
                                   f"argument at index {k} had {s}; but expected shape should be broadcastable to "
                                   f"{out}")
    return Size(out)


@public
def broadcast_tensors(*tensors):
    ts, _ = _seq_arg(tensors)
    shape = _broadcast_shape_of(ts)
    return tuple(t if t._shape == shape else views.expand(t, shape) for t in ts)


def _broadcast_shape_of(ts):
    n = max((t.dim() for t in ts), default=0)
    out = [1] * n
    for t in ts:
        for i, v in enumerate(t._shape):
            j = n - t.dim() + i
            if out[j] == 1:
                out[j] = v
            elif v != 1 and v != out[j]:
                raise RuntimeError(f"The size of tensor a ({out[j]}) must match the size of tensor b ({v}) at "
                                   f"non-singleton dimension {j}")
    return tuple(out)


# -- stacking -------------------------------------------------------------------------------------------
@public
def column_stack(tensors):
    ts = [views.reshape(t, (t.numel(), 1)) if t.dim() <= 1 else t for t in tensors]
    return indexing.cat(ts, 1)


@public
def dstack(tensors):
    if not len(tensors):
        raise RuntimeError("dstack expects a non-empty TensorList")
    return indexing.cat(list(atleast_3d(*list(tensors)) if len(tensors) != 1 else (atleast_3d(tensors[0]),)), 2)


@public
def row_stack(tensors):
    return indexing.vstack(tensors)


# -- splits ---------------------------------------------------------------------------------------------
@public(method=True)
def tensor_split(input, indices_or_sections, dim=0):
    """Split into ``sections`` nearly equal views, or at the given ``indices`` (numpy.array_split)."""
    if input.dim() == 0:
        raise RuntimeError("tensor_split expected at least a 1-dimensional tensor, but got a tensor with 0 dims")
    d = _wrap(dim, input.dim())
    n = input._shape[d]
    ios = indices_or_sections
    if isinstance(ios, Tensor):
        if ios._dtype is not _dtypes.int64:
            raise RuntimeError(f"tensor_split expected tensor_indices_or_sections to have dtype of long, but got "
                               f"{ios._dtype}")
        if ios.dim() > 1:
            raise RuntimeError("tensor_split expected tensor_indices_or_sections to be a zero-dimensional or "
                               f"one-dimensional tensor, but got a tensor with {ios.dim()} dims")
        ios = ios.item() if ios.dim() == 0 else ios.tolist()
    if isinstance(ios, (int, np.integer)):
        k = int(ios)
        if k <= 0:
            raise RuntimeError(f"number of sections must be larger than 0, got {k}")
        q, r = divmod(n, k)
        bounds, start = [], 0
        for i in range(k):
            size = q + (1 if i < r else 0)
            bounds.append((start, start + size))
            start += size
    else:
        idx = [int(i) for i in ios]
        bounds, start = [], 0
        for i in idx + [n]:
            stop = i + n if i < 0 else i
            stop = min(max(stop, 0), n)
            a = min(start, n)
            bounds.append((a, max(stop, a)))
            start = stop
    return tuple(views.slice_dim(input, d, a, b, 1) for a, b in bounds)


def _dsplit(name, dim, need):
    def f(input, indices_or_sections):
        if isinstance(indices_or_sections, (int, np.integer)) and indices_or_sections == 0:
            raise RuntimeError(f"torch.{name} attempted to split along dimension {dim}, but the size of the "
                               f"dimension is not divisible by the split_size 0!")
        if input.dim() < need:
            raise RuntimeError(f"torch.{name} requires a tensor with at least {need} dimension, but got a tensor with "
                               f"{input.dim()} dimensions!")
        d = dim if input.dim() > 1 or name != "hsplit" else 0
        if isinstance(indices_or_sections, (int, np.integer)) and input._shape[d] % indices_or_sections:
            raise RuntimeError(f"torch.{name} attempted to split along dimension {d}, but the size of the dimension "
                               f"{input._shape[d]} is not divisible by the split_size {indices_or_sections}!")
        return tensor_split(input, indices_or_sections, d)

    f.__name__ = name
    return public(f, method=True)


hsplit = _dsplit("hsplit", 1, 1)
vsplit = _dsplit("vsplit", 0, 2)
dsplit = _dsplit("dsplit", 2, 3)


# -- flips and rotations --------------------------------------------------------------------------------
@public(method=True)
def fliplr(input):
    if input.dim() < 2:
        raise RuntimeError("Input must be >= 2-d.")
    return indexing.flip(input, (1,))


@public(method=True)
def flipud(input):
    if input.dim() < 1:
        raise RuntimeError("Input must be >= 1-d.")
    return indexing.flip(input, (0,))


@defop(lambda x, k, axes: jnp.rot90(x, k, axes), node="Rot90Backward0", saves={0: ()})
def rot90(input, k=1, dims=(0, 1)):
    """Rotate by 90 degrees ``k`` times in the plane ``dims``."""
    dims = tuple(dims)
    n = input.dim()
    if len(dims) != 2:
        raise RuntimeError(f"expected total rotation dims == 2, but got dims = {len(dims)}")
    if n < 2:
        raise RuntimeError(f"expected total dims >= 2, but got total dims = {n}")
    a, b = _wrap(dims[0], n), _wrap(dims[1], n)
    if a == b:
        raise RuntimeError(f"expected rotation dims to be different, but got dim0 = {a} and dim1 = {b}")
    return (input,), (("k", int(k) % 4), ("axes", (a, b)))


# -- grids and products ---------------------------------------------------------------------------------
@public
def meshgrid(*tensors, indexing=None):
    ts, _ = _seq_arg(tensors)
    if indexing is None:
        indexing = "ij"
    if indexing not in ("ij", "xy"):
        raise RuntimeError(f"torch.meshgrid: indexing must be one of \"xy\" or \"ij\", but received: {indexing}")
    for t in ts:
        if t.dim() > 1:
            raise RuntimeError(f"torch.meshgrid: Expected 0D or 1D tensor in the tensor list but got: {t}")
    shape = [t.numel() for t in ts]
    swap = indexing == "xy" and len(ts) >= 2
    if swap:
        shape[0], shape[1] = shape[1], shape[0]
    out = []
    for i, t in enumerate(ts):
        j = i
        if swap and i < 2:
            j = 1 - i
        s = [1] * len(ts)
        s[j] = -1
        out.append(views.expand(views.view(t, s), shape))
    return tuple(out)


@public
def cartesian_prod(*tensors):
    ts, _ = _seq_arg(tensors)
    if len(ts) == 1:
        return ts[0]
    grids = meshgrid(*ts, indexing="ij")
    return indexing.stack([views.flatten(g) for g in grids], 1)


@public
def combinations(input, r=2, with_replacement=False):
    if input.dim() != 1:
        raise RuntimeError(f"Expect a 1D vector, but got shape {list(input._shape)}")
    if r < 0:
        raise RuntimeError(f"Expect a non-negative number, but got {r}")
    if r == 0:
        return input.new_empty(0)
    n = input._shape[0]
    gen = itertools.combinations_with_replacement if with_replacement else itertools.combinations
    combos = np.array(list(gen(range(n), r)), dtype=np.int64).reshape(-1, r)
    cols = [indexing._index(input, [combos[:, k]], (("t",),)) for k in range(r)]
    return indexing.stack(cols, 1)


@public
def unravel_index(indices, shape):
    if isinstance(indices, Tensor):
        if not (indices._dtype.is_floating_point is False and indices._dtype is not _dtypes.bool
                and not indices._dtype.is_complex):
            raise TypeError(f"expected 'indices' to be integer dtype, but got {indices._dtype}")
    else:
        raise TypeError(f"expected 'indices' to be integer dtype, but got {type(indices).__name__}")
    shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
    for s in shape:
        if s < 0:
            raise ValueError("'shape' cannot have negative values, but got " + str(tuple(shape)))
    numel = 1
    for s in shape:
        numel *= s
    arr = np.asarray(indices._array()).astype(np.int64)
    if arr.size and (arr.min() < -numel or arr.max() >= numel):
        raise ValueError(f"'indices' must be in range [{-numel}, {numel - 1}]")
    arr = np.where(arr < 0, arr + numel, arr)
    out = []
    for s in reversed(shape):
        out.append(arr % s if s else arr)
        arr = arr // s if s else arr
    return tuple(tensor(o.astype(np.int64), device=indices.device) for o in reversed(out))


# -- diagonals ------------------------------------------------------------------------------------------
def _diag_embed_fwd(x, offset, dim1, dim2):
    n = x.shape[-1]
    m = n + abs(offset)
    out_nd = x.ndim + 1
    eye = jnp.zeros((n, m, m), x.dtype)
    r = jnp.arange(n)
    rows, cols = (r, r + offset) if offset >= 0 else (r - offset, r)
    eye = eye.at[r, rows, cols].set(1)
    y = jnp.einsum("...k,kij->...ij", x, eye) if x.dtype != jnp.bool_ else \
        jnp.zeros(x.shape[:-1] + (m, m), x.dtype).at[..., rows, cols].set(x)
    if not jnp.issubdtype(x.dtype, jnp.floating) and not jnp.issubdtype(x.dtype, jnp.complexfloating):
        y = jnp.zeros(x.shape[:-1] + (m, m), x.dtype).at[..., rows, cols].set(x)
    # y: (..., m, m) with the new dims last; move them to dim1, dim2
    order = list(range(out_nd - 2))
    src = [out_nd - 2, out_nd - 1]
    res = [None] * out_nd
    res[dim1], res[dim2] = src
    rest = iter(order)
    res = [r_ if r_ is not None else next(rest) for r_ in res]
    return jnp.transpose(y, res)


@defop(_diag_embed_fwd, node="DiagEmbedBackward0", saves={0: ()})
def diag_embed(input, offset=0, dim1=-2, dim2=-1):
    """Tensors whose (dim1, dim2) diagonals (at ``offset``) are filled by the last dim of ``input``."""
    n = input.dim() + 1
    a, b = _wrap(dim1, n), _wrap(dim2, n)
    if a == b:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return (input,), (("offset", int(offset)), ("dim1", a), ("dim2", b))


@public(method=True)
def diag(input, diagonal=0):
    if input.dim() == 1:
        return diag_embed(input, diagonal, 0, 1)
    if input.dim() == 2:
        return views.diagonal_copy(input, diagonal, 0, 1)
    raise RuntimeError("diag(): Supports 1D or 2D tensors. Got " + f"{input.dim()}D")


@public(method=True)
def diagflat(input, offset=0):
    return diag_embed(views.reshape(input, (-1,)) if input.dim() != 1 else input, offset, 0, 1)


# -- scatter ops: src written into a view slot of a copy of input ----------------------------------
def _chain_fwd(x, src, chain):
    return views._write_impl(chain, x, src)


def _scatter_op(node, name):
    @defop(_chain_fwd, node=node, saves={}, name=name, promote=True)
    def f(input, src, chain):
        return (input, src), (("chain", chain),)

    return f


_diag_scatter = _scatter_op("DiagonalScatterBackward0", "_diagonal_scatter")
_select_scatter = _scatter_op("SelectScatterBackward0", "_select_scatter")
_slice_scatter = _scatter_op("SliceScatterBackward0", "_slice_scatter")
_as_strided_scatter = _scatter_op("AsStridedScatterBackward0", "_as_strided_scatter")


def _check_src(view_shape, src, name):
    if tuple(src._shape) != tuple(view_shape):
        raise RuntimeError(f"{name}: Expected src to have a size equal to the slice of self. src size = "
                           f"{list(src._shape)}, slice size = {list(view_shape)}")


def _scatter_into(fn, view_fn, name, input, src, *args):
    v = view_fn(input.detach(), *args)
    _check_src(v._shape, src, name)
    return fn(input, src, v._view[len(input.detach()._view or ()):])


@public(method=True)
def diagonal_scatter(input, src, offset=0, dim1=0, dim2=1):
    return _scatter_into(_diag_scatter, views.diagonal, "diagonal_scatter", input, src, offset, dim1, dim2)


@public(method=True)
def select_scatter(input, src, dim, index):
    return _scatter_into(_select_scatter, views.select, "select_scatter", input, src, dim, index)


@public(method=True)
def slice_scatter(input, src, dim=0, start=None, end=None, step=1):
    d = _wrap(dim, input.dim())
    size = input._shape[d]
    st, sp, k = slice(start, end, step).indices(size)
    sp = max(sp, st)
    return _scatter_into(_slice_scatter, views.slice_dim, "slice_scatter", input, src, d, st, sp, k)


@public(method=True)
def as_strided_scatter(input, src, size, stride, storage_offset=None):
    v = views.as_strided(input.detach(), size, stride, storage_offset)
    _check_src(v._shape, src, "as_strided_scatter")
    return _as_strided_scatter(input, src, v._view[-1:])


def _slice(input, dim=0, start=None, end=None, step=1):
    """``aten::slice``: the view ``input[..., start:end:step]`` along ``dim``."""
    d = _wrap(dim, input.dim())
    st, sp, k = slice(start, end, step).indices(input._shape[d])
    if step <= 0:
        raise RuntimeError("slice step must be positive")
    return views.slice_dim(input, d, st, max(sp, st), k)


# -- padding --------------------------------------------------------------------------------------------
def _pad_fwd(x, pads, value, negzero=False):
    cfg = [(lo, hi, 0) for lo, hi in pads]
    return jax.lax.pad(x, jnp.asarray(-0.0 if negzero else value, x.dtype), cfg)


def _pad_shape(params, avals):
    (shape, dtype), pads = avals[0], params[0][1]
    return tuple([n + lo + hi for n, (lo, hi) in zip(shape, pads)]), dtype


@defop(_pad_fwd, node="ConstantPadNdBackward0", saves={}, shape=_pad_shape)
def constant_pad_nd(input, pad, value=0):
    """Pad the last ``len(pad) // 2`` dims by (before, after) pairs, last dim first; negative pads crop."""
    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise RuntimeError(f"Length of pad must be even but instead it equals {len(pad)}")
    n = input.dim()
    if len(pad) // 2 > n:
        raise RuntimeError(f"Length of pad should be no more than twice the number of dimensions of the input. Pad "
                           f"length is {len(pad)} while the input has {n} dimensions.")
    pads = [(0, 0)] * n
    for i in range(len(pad) // 2):
        d = n - 1 - i
        pads[d] = (pad[2 * i], pad[2 * i + 1])
        new = input._shape[d] + pad[2 * i] + pad[2 * i + 1]
        if new < 0:
            raise RuntimeError("narrow(): length must be non-negative.")
    if isinstance(value, bool) or input._dtype is _dtypes.bool:
        v = bool(value)
    elif input._dtype.is_floating_point or input._dtype.is_complex:
        v = value
    else:
        v = int(value)
    if type(v) is float and v == 0 and math.copysign(1.0, v) < 0:
        # -0.0 == 0.0: as a parameter alone it would share 0.0's cached kernels and programs
        return (input,), (("pads", tuple(pads)), ("value", v), ("negzero", True))
    return (input,), (("pads", tuple(pads)), ("value", v))


public(views.broadcast_to, name="broadcast_to", method=True)
