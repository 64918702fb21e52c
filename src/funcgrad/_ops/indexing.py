"""Indexing (``__getitem__``/``__setitem__``), joining (cat/stack) and gathering ops."""
from __future__ import annotations

from ..tensor import Tensor  # noqa: E402 - _ops load after tensor

import jax.numpy as jnp
import numpy as np

from .. import _dtypes, _lazy
from ..autograd import grad_mode as _gm
from .registry import Const, defop
from .views import build_index

__all__ = ["getitem", "setitem"]



def _normalize(index):
    if not isinstance(index, tuple):
        index = (index,)
    return index


def _is_basic(item):
    return item is None or item is Ellipsis or isinstance(item, (int, slice, np.integer)) and not isinstance(item, bool)


def parse_basic(shape, index):
    """A hashable spec and node name for a basic index; IndexError as torch for bad ints."""
    n_real = sum(1 for i in index if i is not None and i is not Ellipsis)
    if n_real > len(shape):
        raise IndexError(f"too many indices for tensor of dimension {len(shape)}")
    spec, dim, name = [], 0, None
    for item in index:
        if item is Ellipsis:
            spec.append(("e",))
            dim += len(shape) - n_real
        elif item is None:
            spec.append(("n",))
            name = "UnsqueezeBackward0"
        elif isinstance(item, slice):
            size = shape[dim]
            st, sp, step = item.indices(size)
            spec.append(("s", st, sp, step))
            if not (st == 0 and sp >= size and step == 1) or name is None:
                name = "SliceBackward0"
            dim += 1
        else:
            size = shape[dim]
            i = int(item)
            if not -size <= i < size:
                raise IndexError(f"index {i} is out of bounds for dimension {dim} with size {size}")
            spec.append(("i", i % size))
            name = "SelectBackward0"
            dim += 1
    return tuple(spec), name or "AliasBackward0"


def _advanced_impl(x, *idx_arrays, spec):
    return x[build_index(spec, idx_arrays)]


@defop(_advanced_impl, node="IndexBackward0", saves={0: ()}, method=False, function=False, name="index")
def _index(input, indices, spec):
    return (input, *[Const(i) for i in indices]), (("spec", spec),)


def _index_arrays(shape, index):
    """Turn tensor/list/bool items into integer index arrays (bool masks need their values)."""
    items, arrays, dim = [], [], 0
    n_real = 0
    for item in index:
        if item is None or item is Ellipsis:
            continue
        if isinstance(item, Tensor) and item._dtype is _dtypes.bool or (
                isinstance(item, np.ndarray) and item.dtype == np.bool_):
            n_real += item.dim() if isinstance(item, Tensor) else item.ndim
        else:
            n_real += 1
    if n_real > len(shape):
        raise IndexError(f"too many indices for tensor of dimension {len(shape)}")
    for item in index:
        if item is Ellipsis:
            items.append(("e",))
            dim += len(shape) - n_real
            continue
        if item is None:
            items.append(("n",))
            continue
        if isinstance(item, slice):
            st, sp, step = item.indices(shape[dim])
            items.append(("s", st, sp, step))
            dim += 1
            continue
        if isinstance(item, bool):
            item = np.array(item)
        if isinstance(item, (int, np.integer)):
            size = shape[dim]
            if not -size <= int(item) < size:
                raise IndexError(f"index {int(item)} is out of bounds for dimension {dim} with size {size}")
            items.append(("i", int(item) % size))
            dim += 1
            continue
        arr = item._array() if isinstance(item, Tensor) else np.asarray(item)
        if np.dtype(arr.dtype) != np.bool_:
            if np.dtype(arr.dtype).kind not in "iu":
                raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
            size = shape[dim]
            host = _lazy.concrete(arr)
            if host is None:  # traced: no bounds check possible; negative indices wrap as torch's do
                items.append(("t",))
                arrays.append(jnp.where(arr < 0, arr + size, arr).astype(jnp.int64))
                dim += 1
                continue
            arr = host
        else:
            arr = np.asarray(arr)  # the result's shape depends on the mask: needs its values (a graph break)
        if arr.dtype == np.bool_:
            want = shape[dim:dim + arr.ndim]
            if arr.shape != tuple(want):
                for k, (a, b) in enumerate(zip(arr.shape, want)):
                    if a != b:
                        raise IndexError(f"The shape of the mask [{', '.join(map(str, arr.shape))}] at index {k} does "
                                         f"not match the shape of the indexed tensor [{', '.join(map(str, shape))}] at "
                                         f"index {dim + k}")
            for nz in np.nonzero(arr):
                items.append(("t",))
                arrays.append(nz.astype(np.int64))
            dim += arr.ndim
            continue
        if arr.dtype.kind not in "iu":
            raise IndexError("tensors used as indices must be long, int, byte or bool tensors")
        size = shape[dim]
        if arr.size and (arr.max() >= size or arr.min() < -size):
            bad = arr.max() if arr.max() >= size else arr.min()
            raise IndexError(f"index {bad} is out of bounds for dimension {dim} with size {size}")
        items.append(("t",))
        arrays.append(np.where(arr < 0, arr + size, arr).astype(np.int64))
        dim += 1
    return tuple(items), arrays


def getitem(self, index):
    """``self[index]``: basic indices become a chain of view ops, as torch builds them."""
    from . import views

    single_slice = isinstance(index, slice)
    index = _normalize(index)
    if not all(_is_basic(i) for i in index):
        spec, arrays = _index_arrays(self._shape, index)
        return _index(self, arrays, spec)
    parse_basic(self._shape, index)  # bounds and arity errors, as torch words them
    n_real = sum(1 for i in index if i is not None and i is not Ellipsis)
    out, dim = self, 0
    for item in index:
        if item is Ellipsis:
            dim += self.dim() - n_real
        elif item is None:
            out = views.unsqueeze(out, dim)
            dim += 1
        elif isinstance(item, slice):
            size = out._shape[dim]
            st, sp, step = item.indices(size)
            if step <= 0:
                raise ValueError("step must be greater than zero")
            sp = max(sp, st)
            if single_slice or not (st == 0 and sp == size and step == 1):
                out = views.slice_dim(out, dim, st, sp, step)
            dim += 1
        else:
            out = views.select(out, dim, int(item))
    return views.alias(out) if out is self else out


def _index_put_impl(x, v, *idx_arrays, spec, accumulate=False):
    idx = build_index(spec, idx_arrays)
    region = x[idx]
    v = jnp.broadcast_to(v.astype(x.dtype), region.shape)
    return x.at[idx].add(v) if accumulate else x.at[idx].set(v)


@defop(_index_put_impl, node="IndexPutBackward0", saves={0: (), 1: ()}, method=False, function=False,
       name="index_put")
def _index_put(input, value, arrays, spec, node, accumulate=False):
    return (input, value, *[Const(a) for a in arrays]), (("spec", spec), ("accumulate", accumulate)), node


def setitem(self, index, value):
    """``self[index] = value`` as an in-place op (CopySlices / IndexPutBackward0 in the graph)."""
    index = _normalize(index)
    if all(_is_basic(i) for i in index):
        spec, _ = parse_basic(self._shape, index)
        node = "CopySlices"
        if self._rg and self.grad_fn is None and _gm._mode.grad:
            # torch writes through a view of self here
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")
    else:
        spec, arrays = _index_arrays(self._shape, index)
        node = "IndexPutBackward0"
    if not isinstance(value, Tensor):
        value = Const(np.asarray(value, dtype=self._dtype.np))
    else:
        _check_broadcastable(value._shape, _region_shape(self, spec, [] if node == "CopySlices" else arrays))
    res = _index_put(self, value, [] if node == "CopySlices" else arrays, spec, node)
    self._inplace_assign(res)


def _region_shape(self, spec, arrays):
    sds = _lazy.infer(_index.op.prim, (("spec", spec),), [self._value(), *arrays])
    return sds[0]


def _check_broadcastable(src, dst):
    ok = len(src) <= len(dst) and all(a == b or a == 1 for a, b in zip(reversed(src), reversed(dst)))
    if not ok:
        raise RuntimeError(f"shape mismatch: value tensor of shape [{', '.join(map(str, src))}] cannot be broadcast to "
                           f"indexing result of shape [{', '.join(map(str, dst))}]")


# -- joining ---------------------------------------------------------------------------------------
@defop(lambda *xs, axis: jnp.concatenate(xs, axis=axis), node="CatBackward0", saves={}, promote=True)
def cat(tensors, dim=0):
    """Concatenate tensors along an existing dimension."""
    from ..tensor import _wrap_dim

    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("torch.cat(): expected a non-empty list of Tensors")
    ref = next((t for t in tensors if t._shape != (0,)), tensors[0])
    d = _wrap_dim(dim, ref.dim())
    for i, t in enumerate(tensors):
        if t._shape == (0,):
            continue
        if t.dim() != ref.dim():
            raise RuntimeError(f"Tensors must have same number of dimensions: got {ref.dim()} and {t.dim()}")
        for k, (a, b) in enumerate(zip(ref._shape, t._shape)):
            if k != d and a != b:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {d}. Expected size {a} but got "
                                   f"size {b} for tensor number {i} in the list.")
    tensors = [t for t in tensors if t._shape != (0,)] or tensors[:1]
    return tuple(tensors), (("axis", d),)


concat = concatenate = cat


@defop(lambda *xs, axis: jnp.stack(xs, axis=axis), node="StackBackward0", saves={}, promote=True)
def stack(tensors, dim=0):
    """Stack tensors of equal shape along a new dimension."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    n = tensors[0].dim() + 1
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    for i, t in enumerate(tensors):
        if t._shape != tensors[0]._shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(tensors[0]._shape)} at entry 0 "
                               f"and {list(t._shape)} at entry {i}")
    return tuple(tensors), (("axis", dim % n),)


def hstack(tensors):
    tensors = list(tensors)
    return cat(tensors, 0 if tensors[0].dim() == 1 else 1)


def vstack(tensors):
    return cat([t if t.dim() > 1 else t.unsqueeze(0) for t in tensors], 0)


@defop(lambda x, idx, axis: jnp.take_along_axis(x, idx, axis=axis), node="GatherBackward0", saves={0: (1,)})
def gather(input, dim, index):
    """Values of ``input`` at ``index`` along ``dim``."""
    from ..tensor import _wrap_dim

    if index._dtype is not _dtypes.int64:
        raise RuntimeError("gather(): Expected dtype int64 for index")
    return (input, Const(index._array())), (("axis", _wrap_dim(dim, input.dim())),)


@defop(lambda x, idx, axis: jnp.take(x, idx, axis=axis), node="IndexSelectBackward0", saves={0: (1,)})
def index_select(input, dim, index):
    from ..tensor import _wrap_dim

    return (input, Const(index._array())), (("axis", _wrap_dim(dim, input.dim())),)


def _masked_fill_fwd(x, mask, value):
    return jnp.where(mask, value.astype(x.dtype), x)


@defop(_masked_fill_fwd, node="MaskedFillBackward0", saves={0: (1,), 2: (1,)}, inplace=True, nondiff=(1,))
def masked_fill(input, mask, value):
    """``value`` where ``mask`` is True, else ``input``."""
    if mask._dtype is not _dtypes.bool:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype {mask._dtype.name}")
    if isinstance(value, Tensor):
        return (input, mask, value), (), "MaskedFillBackward1"
    return (input, mask, Const(np.asarray(value, dtype=input._dtype.np))), ()


def masked_select(input, mask):
    return getitem(input.expand(*_bshape(input._shape, mask._shape)) if input._shape != mask._shape else input,
                   mask.expand(*_bshape(input._shape, mask._shape)) if input._shape != mask._shape else mask)


def _bshape(a, b):
    return tuple(np.broadcast_shapes(a, b))


def nonzero(input, *, as_tuple=False):
    from .creation import tensor

    nz = np.nonzero(np.asarray(input._array()))
    if as_tuple:
        return tuple(tensor(a.astype(np.int64), device=input.device) for a in nz)
    return tensor(np.stack(nz, axis=1).astype(np.int64) if nz else np.zeros((0, 0), np.int64), device=input.device)


def _scatter_fwd(x, src, idx, axis, reduce):
    dims = list(jnp.indices(idx.shape, sparse=True))
    dims[axis] = idx
    dims = tuple(dims)
    if reduce == "add":
        return x.at[dims].add(src[tuple(slice(0, s) for s in idx.shape)].astype(x.dtype))
    return x.at[dims].set(src[tuple(slice(0, s) for s in idx.shape)].astype(x.dtype))


@defop(_scatter_fwd, node="ScatterBackward0", saves={0: (2,), 1: (2,)}, inplace=True)
def scatter(input, dim, index, src=None, *, value=None, reduce=None):
    from ..tensor import _wrap_dim

    if src is None:
        src = value
    if not isinstance(src, Tensor):
        src = Const(np.full(index._shape, src, dtype=input._dtype.np))
    return (input, src, Const(index._array())), (("axis", _wrap_dim(dim, input.dim())), ("reduce", None)), \
        "ScatterBackward0" if isinstance(src, Tensor) else "ScatterBackward1"


@defop(_scatter_fwd, node="ScatterAddBackward0", saves={1: (2,)}, inplace=True)
def scatter_add(input, dim, index, src):
    from ..tensor import _wrap_dim

    return (input, src, Const(index._array())), (("axis", _wrap_dim(dim, input.dim())), ("reduce", "add"))


def _flip_fwd(x, axes):
    return jnp.flip(x, axes)


@defop(_flip_fwd, node="FlipBackward0", saves={0: ()})
def flip(input, dims):
    from ..tensor import _wrap_dim

    dims = (dims,) if isinstance(dims, int) else tuple(dims)
    return (input,), (("axes", tuple(_wrap_dim(d, input.dim()) for d in dims)),)


@defop(lambda x, shifts, axes: jnp.roll(x, shifts, axes), node="RollBackward0", saves={0: ()})
def roll(input, shifts, dims=None):
    shifts = (shifts,) if isinstance(shifts, int) else tuple(shifts)
    dims = None if dims is None else ((dims,) if isinstance(dims, int) else tuple(dims))
    return (input,), (("shifts", shifts), ("axes", dims))


@defop(lambda x, reps: jnp.tile(x, reps), node="RepeatBackward0", saves={0: ()})
def repeat(input, *sizes):
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    if len(sizes) < input.dim():
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor")
    return (input,), (("reps", tuple(sizes)),)


def tile(input, dims):
    dims = tuple(dims)
    dims = (1,) * (input.dim() - len(dims)) + dims
    return repeat(input, dims)


@defop(lambda x, k: jnp.tril(x, k), node="TrilBackward0", saves={0: ()}, inplace=True)
def tril(input, diagonal=0):
    return (input,), (("k", diagonal),)


@defop(lambda x, k: jnp.triu(x, k), node="TriuBackward0", saves={0: ()}, inplace=True)
def triu(input, diagonal=0):
    return (input,), (("k", diagonal),)
