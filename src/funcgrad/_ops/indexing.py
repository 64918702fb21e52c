"""Indexing (``__getitem__``/``__setitem__``), joining (cat/stack) and gathering ops."""
from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from .. import _dtypes, _lazy
from .._autograd import grad_mode as _gm
from .._size import _wrap_dim
from ..tensor import Tensor
from .registry import _NUMBER, Const, defop, public, scalar_value
from .views import _wrap, build_index
from . import views
from .creation import tensor

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
    if not shape and len(index) == 1 and isinstance(index[0], (int, np.integer)) and not isinstance(index[0], bool):
        raise IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` in C++ "
                         "to convert a 0-dim tensor to a number")
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


def _as_int(item):
    """A 0-d integer tensor index is an int (a select), as in torch, when its value is known."""
    if isinstance(item, Tensor) and not item._shape and not item._dtype.is_floating_point and \
            item._dtype is not _dtypes.bool and not item._dtype.is_complex:
        v = _lazy.concrete(item._array())
        if v is not None:
            return int(v)
    return item


def _select_ints(self, index):
    """torch applies integer indices first (basic indexing: selects), then the advanced ones on what is
    left; so ``x[:, [0, 1], :, 0]`` keeps the advanced dims in place where numpy would move them first."""
    if not any(isinstance(i, (int, np.integer)) and not isinstance(i, bool) for i in index):
        return self, index
    def ndims(item):
        if item is None or item is Ellipsis:
            return 0
        if isinstance(item, Tensor) and item._dtype is _dtypes.bool:
            return item.dim()
        if isinstance(item, np.ndarray) and item.dtype == np.bool_:
            return item.ndim
        if isinstance(item, bool):
            return 0
        return 1
    n_real = sum(ndims(i) for i in index)
    if n_real > self.dim():
        raise IndexError(f"too many indices for tensor of dimension {self.dim()}")
    expanded = []
    for item in index:
        if item is Ellipsis:
            expanded.extend([slice(None)] * (self.dim() - n_real))
        else:
            expanded.append(item)
    out, dim, rest = self, 0, []
    for item in expanded:
        if isinstance(item, (int, np.integer)) and not isinstance(item, bool):
            size = out._shape[dim]
            i = int(item)
            if not -size <= i < size:
                raise IndexError(f"index {i} is out of bounds for dimension {dim} with size {size}")
            out = views.select(out, dim, i)
            continue
        rest.append(item)
        dim += ndims(item)
    return out, tuple(rest)


def _slice(t, dim, item, always):
    """``t`` sliced by ``item`` along ``dim`` (a view op; a full slice is no op unless ``always``)."""
    size = t._shape[dim]
    st, sp, step = item.indices(size)
    if step <= 0:
        raise ValueError("step must be greater than zero")
    sp = max(sp, st)
    if not always and st == 0 and sp == size and step == 1:
        return t
    return views.slice_view(t, dim, st, sp, step)


def _unsqueezes(self, index):
    """``self[index]`` for an index of Nones and full slices (``:``) only, at least one None and no
    more slices than dims: one unsqueeze per None, as the general loop makes them; else None."""
    dims = []
    d = 0
    for item in index:
        if item is None:
            dims.append(d)
        elif type(item) is not slice or item.start is not None or item.stop is not None or item.step is not None:
            return None
        d += 1
    if not dims or d - len(dims) > len(self._shape):
        return None
    out = self
    for d in dims:
        out = views.unsqueeze_view(out, d)
    return out


def getitem(self, index):
    """``self[index]``: basic indices become a chain of view ops, as torch builds them."""
    if type(index) is slice and self._shape:  # seq[i:j]: the common case, straight to its view op
        a, b, k = index.start, index.stop, index.step
        if (a is None or type(a) is int) and (b is None or type(b) is int) and (k is None or type(k) is int):
            st, sp, step = index.indices(self._shape[0])
            if step > 0:  # _slice(self, 0, index, True), inlined
                return views.slice_view(self, 0, st, sp if sp > st else st, step)
    elif type(index) is tuple and self._shape:  # x[None, :], x[:, None], m[:, :, None]: unsqueezes only
        out = _unsqueezes(self, index)
        if out is not None:
            return out
    single_slice = isinstance(index, slice)
    if single_slice and not self._shape:
        raise IndexError("slice() cannot be applied to a 0-dim tensor.")
    index = tuple(_as_int(i) for i in _normalize(index))
    if not all(_is_basic(i) for i in index):
        base, index = _select_ints(self, index)
        spec, arrays = _index_arrays(base._shape, index)
        return _index(base, arrays, spec)
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
            out = _slice(out, dim, item, single_slice)
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
    index = tuple(_as_int(i) for i in _normalize(index))
    if not all(_is_basic(i) for i in index):
        base, rest = _select_ints(self, index)
        if base is not self:  # ints first (a select view), then the advanced index into that view
            return setitem(base, rest, value)
    if all(_is_basic(i) for i in index):
        spec, _ = parse_basic(self._shape, index)
        node = "CopySlices"
        if self._vmeta is not None and _gm._mode.grad and (self._rg or isinstance(value, Tensor) and value._rg):
            # torch writes through a view of self: its error names that view's op
            last = next((it[0] for it in reversed(spec) if it[0] in "isn"), None)
            raise views.rebase_error(self, {"i": "Select", "s": "Slice", "n": "Unsqueeze"}.get(last))
        if self._rg and self.grad_fn is None and _gm._mode.grad:
            # torch writes through a view of self here
            raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")
    else:
        spec, arrays = _index_arrays(self._shape, index)
        node = "IndexPutBackward0"
    if not isinstance(value, Tensor):
        if not isinstance(value, _NUMBER):
            raise TypeError(f"can't assign a {type(value).__name__} to a {self.type()}")
        value = Const(np.asarray(value, dtype=self._dtype.np))
    else:
        dst = _region_shape(self, spec, [] if node == "CopySlices" else arrays)
        src = value._shape
        if len(src) > len(dst):  # torch drops the value's leading size-1 dimensions
            k = 0
            while len(src) - k > len(dst) and src[k] == 1:
                k += 1
            if k:
                value = views.reshape(value, src[k:])
        if node == "CopySlices":  # torch copies into the view: expand's message
            views._expand_shape(value._shape, dst)
        else:
            _check_broadcastable(value._shape, dst)
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
def _cat_fwd(*xs, axis, skip=()):
    keep = [x for i, x in enumerate(xs) if i not in skip]
    return jnp.concatenate(keep, axis=axis)


@defop(_cat_fwd, node="CatBackward0", saves={}, promote=True)
def cat(tensors, dim=0):
    """Concatenate tensors along an existing dimension."""
    if isinstance(tensors, Tensor):
        raise TypeError("cat(): argument 'tensors' (position 1) must be tuple of Tensors, not Tensor")
    tensors = list(tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got {type(t).__name__}")
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
    skip = tuple(i for i, t in enumerate(tensors) if t._shape == (0,) and ref._shape != (0,))
    return tuple(tensors), (("axis", d), ("skip", skip))


concat = concatenate = cat


@public(method=True)
def stack(tensors, dim=0, *, out=None):
    """Stack tensors of equal shape along a new dimension."""
    if out is None and type(tensors) is list and tensors and type(dim) is int:
        # plain tensors of one shape, dtype and device: checked and bound once per (count, shape,
        # dtype, dim), then recorded directly
        t0 = tensors[0]
        if type(t0) is Tensor:
            shape, dt, dev = t0._shape, t0._dtype, t0._st.device
            for t in tensors:
                if type(t) is not Tensor or t._shape != shape or t._dtype is not dt or t._st.device is not dev:
                    break
            else:
                key = (len(tensors), shape, dt, dim)
                r = _stack_routes.get(key)
                if r is not None:
                    res = views.direct_many(_stack.op, tensors, r[0], r[1], dt, "StackBackward0")
                    if res is not None:
                        return res
                res = _stack(tensors, dim)
                if r is None and res._dtype is dt:
                    if len(_stack_routes) > 4096:
                        _stack_routes.clear()
                    _stack_routes[key] = ((dt.np,) + _stack.__wrapped__(tensors, dim)[1], res._shape)
                return res
    return _stack(tensors, dim, out=out)


_stack_routes: dict = {}


@defop(lambda *xs, axis: jnp.stack(xs, axis=axis), node="StackBackward0", saves={}, promote=True, method=False,
       function=False, name="stack")
def _stack(tensors, dim=0):
    if isinstance(tensors, Tensor):
        raise TypeError("stack(): argument 'tensors' (position 1) must be tuple of Tensors, not Tensor")
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    for i, t in enumerate(tensors):
        if not isinstance(t, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got {type(t).__name__}")
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
    if not tensors:
        raise RuntimeError("hstack expects a non-empty TensorList")
    return cat(tensors, 0 if tensors[0].dim() == 1 else 1)


def vstack(tensors):
    if not len(tensors):
        raise RuntimeError("vstack expects a non-empty TensorList")
    return cat([t if t.dim() > 1 else t.unsqueeze(0) for t in tensors], 0)


def _idx(index, what):
    """``index``'s array (int32/int64 only, as torch) and its host copy (None while traced)."""
    if not isinstance(index, Tensor):
        raise TypeError(f"{what.split('(')[0]}(): argument 'index' must be Tensor, not {type(index).__name__}")
    if index._dtype not in (_dtypes.int64, _dtypes.int32) and (index.numel() or index._dtype.is_floating_point):
        raise RuntimeError(f"{what} for index")
    arr = index._array()
    return arr, _lazy.concrete(arr)


def _gather_fwd(x, idx, axis):
    if idx.size == 0 and idx.ndim != x.ndim:
        return jnp.zeros(idx.shape, x.dtype)
    if x.ndim == 0:
        return jnp.reshape(x, idx.shape) if idx.size else jnp.zeros(idx.shape, x.dtype)
    dims = list(jnp.indices(idx.shape, sparse=True))
    dims[axis] = jnp.where(idx < 0, idx + x.shape[axis], idx)
    return x[tuple(dims)]


def _check_gather_shape(input, index, d, name, src=None):
    if index.dim() != input.dim() and index.numel() and not (index.dim() <= 1 and input.dim() <= 1):
        raise RuntimeError("Index tensor must have the same number of dimensions as "
                           f"{'input' if name == 'gather' else 'self'} tensor")
    if index.numel() == 0:
        return
    for k in range(index.dim()):
        ish = input._shape[k] if input.dim() else 1
        if k != d and index._shape[k] > ish:
            raise RuntimeError(f"Size does not match at dimension {k} expected index {list(index._shape)} to be no "
                               f"larger than self {list(input._shape)} apart from dimension {d}")
        if src is not None and src.dim() and index._shape[k] > src._shape[k]:
            raise RuntimeError(f"Expected index {list(index._shape)} to be no larger than self "
                               f"{list(input._shape)} apart from dimension {d} and to be no larger size than src "
                               f"{list(src._shape)}")


def _check_bounds(host, size, d, exc=RuntimeError, fmt="index {i} is out of bounds for dimension {d} with size {n}"):
    if host is None or host.size == 0:
        return
    bad = host[(host >= size) | (host < -size)] if exc is not RuntimeError or True else None
    if bad.size:
        raise exc(fmt.format(i=int(bad.reshape(-1)[0]), d=d, n=size))


@defop(_gather_fwd, node="GatherBackward0", saves={0: (1,)})
def gather(input, dim, index, *, sparse_grad=False):
    """Values of ``input`` at ``index`` along ``dim`` (index may be smaller than input off ``dim``)."""
    arr, host = _idx(index, "gather(): Expected dtype int32/int64")
    d = _wrap(dim, input.dim())
    _check_gather_shape(input, index, d, "gather")
    if host is not None and host.size:
        n = input._shape[d] if input.dim() else 1
        bad = host[(host >= n) | (host < 0)]
        if bad.size:
            raise RuntimeError(f"index {int(bad[0])} is out of bounds for dimension {d} with size {n}")
    return (input, Const(arr)), (("axis", d),)


def _index_select_fwd(x, idx, axis):
    if x.ndim == 0:
        return x
    return jnp.take(x, idx.reshape(-1), axis=axis)


@defop(_index_select_fwd, node="IndexSelectBackward0", saves={0: (1,)})
def index_select(input, dim, index):
    """The slices of ``input`` at ``index`` (0-D or 1-D) along ``dim``."""
    arr, host = _idx(index, "index_select(): Expected dtype int32 or int64")
    if index.dim() > 1:
        raise IndexError("index_select(): Index is supposed to be a vector")
    d = _wrap(dim, input.dim())
    n = input._shape[d] if input.dim() else 1
    if host is not None and host.size and (host.min() < 0 or host.max() >= n):
        raise IndexError("index out of range in self")
    return (input, Const(arr)), (("axis", d),)


def _masked_fill_fwd(x, mask, value):
    return jnp.where(mask, value.astype(x.dtype), x)


@defop(_masked_fill_fwd, node="MaskedFillBackward0", saves={0: (1,), 2: (1,)}, inplace=True, nondiff=(1,))
def masked_fill(input, mask, value):
    """``value`` where ``mask`` is True, else ``input``."""
    if mask._dtype is not _dtypes.bool:
        raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype {_dtypes.ctype_name(mask._dtype)}")
    if isinstance(value, Tensor):
        if value.dim():
            raise RuntimeError("masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                               f"{value.dim()} dimension(s).")
        return (input, mask, value), (), "MaskedFillBackward1"
    if isinstance(value, complex) and not input._dtype.is_complex:
        raise RuntimeError(f"value cannot be converted to type {_dtypes.ctype_name(input._dtype)} without overflow")
    return (input, mask, Const(scalar_value(value, input._dtype.np))), ()


def _masked_select_fwd(x, idx, shape):
    return jnp.broadcast_to(x, shape).reshape(-1)[idx]


@defop(_masked_select_fwd, node="MaskedSelectBackward0", saves={0: ()})
def masked_select(input, mask):
    """The elements of ``input`` where ``mask`` (broadcast) is True, as a 1-D tensor (needs the mask's values)."""
    if mask._dtype is not _dtypes.bool:
        raise RuntimeError(f"masked_select: expected BoolTensor for mask")
    shape = _bshape(mask._shape, input._shape)
    m = np.broadcast_to(np.asarray(mask._array()), shape).reshape(-1)
    return (input, Const(np.nonzero(m)[0].astype(np.int64))), (("shape", shape),)


def _bshape(a, b):
    try:
        return tuple(np.broadcast_shapes(a, b))
    except ValueError:
        for i in range(1, min(len(a), len(b)) + 1):
            if a[-i] != b[-i] and a[-i] != 1 and b[-i] != 1:
                raise RuntimeError(f"The size of tensor a ({a[-i]}) must match the size of tensor b ({b[-i]}) at "
                                   f"non-singleton dimension {max(len(a), len(b)) - i}") from None
        raise


def nonzero(input, *, as_tuple=False):
    """Indices of the non-zero elements: an (n, ndim) int64 tensor, or a tuple of 1-D tensors."""
    a = np.asarray(input._array())
    if a.ndim == 0:
        nz = (np.nonzero(a.reshape(1))[0],)
        if as_tuple:
            return (tensor(nz[0].astype(np.int64), device=input.device),)
        return tensor(np.zeros((nz[0].size, 0), np.int64), device=input.device)
    nz = np.nonzero(a)
    if as_tuple:
        return tuple(tensor(x.astype(np.int64), device=input.device) for x in nz)
    return tensor(np.stack(nz, axis=1).astype(np.int64), device=input.device)


@public(method=True)
def argwhere(input):
    return nonzero(input)


@public(method=True)
def nonzero_static(input, *, size, fill_value=-1):
    """``nonzero`` padded with ``fill_value`` (or truncated) to ``size`` rows."""
    if size < 0:
        raise RuntimeError(f"nonzero_static: 'size' must be an non-negative integer, but got {size}")
    a = np.asarray(input._array())
    nz = np.stack(np.nonzero(a), axis=1).astype(np.int64) if a.ndim else np.zeros((int(a != 0), 0), np.int64)
    out = np.full((size, a.ndim), fill_value, np.int64)
    k = min(size, nz.shape[0])
    out[:k] = nz[:k]
    return tensor(out, device=input.device)


def _flip_fwd(x, axes):
    return jnp.flip(x, axes)


@defop(_flip_fwd, node="FlipBackward0", saves={0: ()})
def flip(input, *args, dims=None):
    if dims is None:
        dims = args[0] if len(args) == 1 and not isinstance(args[0], (int, np.integer)) else args
    dims = (dims,) if isinstance(dims, (int, np.integer)) else tuple(dims)
    axes = tuple(_wrap_dim(d, input.dim()) for d in dims)
    for i, d in enumerate(axes):
        if d in axes[:i]:
            raise RuntimeError(f"dim {d} appears multiple times in the list of dims")
    return (input,), (("axes", axes),)


@defop(lambda x, shifts, axes: jnp.roll(x, shifts, axes), node="RollBackward0", saves={0: ()})
def roll(input, shifts, dims=None):
    shifts = (int(shifts),) if isinstance(shifts, (int, np.integer)) else tuple(int(v) for v in shifts)
    dims = None if dims is None else ((dims,) if isinstance(dims, (int, np.integer)) else tuple(dims))
    if dims is None or not dims:
        if len(shifts) != 1:
            raise RuntimeError(f"`shifts` required to be of size 1 when `dims` is empty, got {len(shifts)}")
        dims = None
    elif len(shifts) != len(dims):
        raise RuntimeError(f"shifts and dimensions must align. shifts: {len(shifts)}, dims:{len(dims)}")
    else:
        dims = tuple(_wrap(d, input.dim()) for d in dims)
    return (input,), (("shifts", shifts if dims is not None else shifts[0]), ("axes", dims))


@defop(lambda x, reps: jnp.tile(x, reps), node="RepeatBackward0", saves={0: ()})
def repeat(input, *sizes):
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list)):
        sizes = tuple(sizes[0])
    if len(sizes) < input.dim():
        raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions of tensor")
    pad = (1,) * (len(sizes) - input.dim()) + input._shape
    target = [a * b for a, b in zip(pad, sizes)]
    if any(v < 0 for v in target):
        bad = next(v for v in target if v < 0)
        raise RuntimeError(f"Trying to create tensor with negative dimension {bad}: {target}")
    return (input,), (("reps", tuple(sizes)),)


def tile(input, dims):
    dims = tuple(dims)
    dims = (1,) * (input.dim() - len(dims)) + dims
    return repeat(input, dims)


@defop(lambda x, k: jnp.tril(x, k), node="TrilBackward0", saves={0: ()}, inplace=True)
def tril(input, diagonal=0):
    if input.dim() < 2:
        raise RuntimeError("tril: input tensor must have at least 2 dimensions")
    return (input,), (("k", diagonal),)


@defop(lambda x, k: jnp.triu(x, k), node="TriuBackward0", saves={0: ()}, inplace=True)
def triu(input, diagonal=0):
    if input.dim() < 2:
        raise RuntimeError("triu: input tensor must have at least 2 dimensions")
    return (input,), (("k", diagonal),)
