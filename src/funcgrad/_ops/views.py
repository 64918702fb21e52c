"""View ops: results share storage and version counter with their input (torch's views).

Each is a pure data-movement JAX function, so writing into a view is the same chain applied to
an index array, then a scatter into the storage's value (:func:`write_through`).
"""
from __future__ import annotations


import jax.numpy as jnp

from .. import _lazy
from .registry import defop

__all__ = ["write_through"]


def _write_impl(chain, root, new):
    idx = jnp.arange(root.size, dtype=jnp.int32 if root.size < 2**31 else jnp.int64).reshape(root.shape)
    for prim, params in chain:
        idx = prim.impl(params, idx)
    new = jnp.broadcast_to(new.astype(root.dtype), idx.shape)
    return root.reshape(-1).at[idx.reshape(-1)].set(new.reshape(-1)).reshape(root.shape)


_WRITE = _lazy.Prim("view_write", _write_impl)


def write_through(root, chain, new):
    """The storage value after writing ``new`` into the view ``chain`` of ``root``."""
    return _lazy.record(_WRITE, chain, [root, new])


def _wrap(d, n):
    from ..tensor import _wrap_dim

    return _wrap_dim(d, n)


def _infer_shape(shape, numel):
    shape = list(shape)
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for s in shape:
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s}")
            known *= s
    if neg:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape[neg[0]] = numel // known
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return tuple(shape)


def _shape_args(shape):
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    return tuple(int(s) for s in shape)


@defop(lambda x, shape: jnp.reshape(x, shape), node="ViewBackward0", view=True)
def view(input, *shape):
    """A view of ``input`` with a new shape (one dimension may be -1)."""
    from .._dtypes import dtype

    if len(shape) == 1 and isinstance(shape[0], dtype):
        raise NotImplementedError("view(dtype) reinterprets bits; funcgrad does not support it")
    return (input,), (("shape", _infer_shape(_shape_args(shape), input.numel())),)


@defop(lambda x, shape: jnp.reshape(x, shape), node="ViewBackward0", view=True)
def reshape(input, *shape):
    """``input`` with a new shape; a view (funcgrad never needs to copy)."""
    return (input,), (("shape", _infer_shape(_shape_args(shape), input.numel())),)


@defop(lambda x, shape: jnp.reshape(x, shape), node="ViewBackward0", view=True)
def flatten(input, start_dim=0, end_dim=-1):
    """Flatten dims ``start_dim``..``end_dim`` into one."""
    s = input._shape
    if not s:
        return (input,), (("shape", (1,)),)
    a, b = _wrap(start_dim, len(s)), _wrap(end_dim, len(s))
    if a > b:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    n = 1
    for d in s[a:b + 1]:
        n *= d
    return (input,), (("shape", s[:a] + (n,) + s[b + 1:]),)


@defop(lambda x, shape: jnp.reshape(x, shape), node="ViewBackward0", view=True)
def unflatten(input, dim, sizes):
    s = input._shape
    d = _wrap(dim, len(s))
    sizes = _infer_shape(tuple(sizes), s[d])
    return (input,), (("shape", s[:d] + sizes + s[d + 1:]),)


@defop(lambda x, axes: jnp.transpose(x, axes), node="PermuteBackward0", view=True)
def permute(input, *dims):
    """Reorder the dimensions."""
    dims = _shape_args(dims)
    n = input.dim()
    if len(dims) != n:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match "
                           f"the length of the desired ordering of dimensions i.e. input.dim() = {n} is not "
                           f"equal to len(dims) = {len(dims)}")
    axes = tuple(_wrap(d, n) for d in dims)
    if len(set(axes)) != n:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return (input,), (("axes", axes),)


@defop(lambda x, axes: jnp.transpose(x, axes), node="TransposeBackward0", view=True)
def transpose(input, dim0, dim1):
    """Swap two dimensions."""
    n = input.dim()
    axes = list(range(n))
    if n:
        a, b = _wrap(dim0, n), _wrap(dim1, n)
        axes[a], axes[b] = axes[b], axes[a]
    return (input,), (("axes", tuple(axes)),)


swapaxes = transpose
swapdims = transpose


@defop(lambda x, axes: jnp.transpose(x, axes), node="TBackward0", view=True)
def t(input):
    """Transpose a tensor of at most 2 dimensions."""
    n = input.dim()
    if n > 2:
        raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {n}D")
    return (input,), (("axes", tuple(reversed(range(n)))),)


@defop(lambda x, axes: jnp.transpose(x, axes), node="TransposeBackward0", view=True, method=False, function=False)
def _mT(input):
    n = input.dim()
    if n < 2:
        raise RuntimeError("tensor.mT is only supported on matrices or batches of matrices. Got 1-D tensor.")
    axes = list(range(n))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return (input,), (("axes", tuple(axes)),)


@defop(lambda x, shape: jnp.reshape(x, shape), node="SqueezeBackward0", view=True)
def squeeze(input, dim=None):
    """Remove dimensions of size 1 (all, or the given ``dim``/tuple of dims)."""
    s = input._shape
    if dim is None:
        return (input,), (("shape", tuple(d for d in s if d != 1)),), "SqueezeBackward0"
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    ds = {_wrap(d, len(s)) for d in dims} if s else set()
    node = "SqueezeBackward1" if isinstance(dim, int) else "SqueezeBackward2"
    return (input,), (("shape", tuple(d for i, d in enumerate(s) if not (i in ds and d == 1))),), node


@defop(lambda x, shape: jnp.reshape(x, shape), node="UnsqueezeBackward0", view=True)
def unsqueeze(input, dim):
    """Insert a dimension of size 1 at ``dim``."""
    s = input._shape
    n = len(s) + 1
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    d = dim % n
    return (input,), (("shape", s[:d] + (1,) + s[d:]),)


def _expand_shape(src, sizes):
    sizes = _shape_args(sizes)
    if len(sizes) < len(src):
        raise RuntimeError(
            f"expand(torch.FloatTensor{{{list(src)}}}, size=[{', '.join(map(str, sizes))}]): the number of sizes "
            f"provided ({len(sizes)}) must be greater or equal to the number of dimensions in the tensor ({len(src)})")
    out = list(sizes)
    off = len(sizes) - len(src)
    for i, s in enumerate(src):
        want = sizes[off + i]
        if want == -1:
            out[off + i] = s
        elif s != want and s != 1:
            raise RuntimeError(
                f"The expanded size of the tensor ({want}) must match the existing size ({s}) at non-singleton "
                f"dimension {off + i}.  Target sizes: [{', '.join(map(str, sizes))}].  Tensor sizes: {list(src)}")
    return tuple(out)


@defop(lambda x, shape: jnp.broadcast_to(x, shape), node="ExpandBackward0", view=True)
def expand(input, *sizes):
    """Broadcast size-1 dimensions to ``sizes`` without copying (-1 keeps a dimension)."""
    return (input,), (("shape", _expand_shape(input._shape, sizes)),)


def expand_as(input, other):
    return expand(input, other._shape)


def broadcast_to(input, shape):
    return expand(input, shape)


def _narrow_impl(x, dim, start, length):
    idx = [slice(None)] * x.ndim
    idx[dim] = slice(start, start + length)
    return x[tuple(idx)]


@defop(_narrow_impl, node="SliceBackward0", view=True)
def narrow(input, dim, start, length):
    """The slice ``start:start+length`` of dimension ``dim``."""
    d = _wrap(dim, input.dim())
    size = input._shape[d]
    start = int(start)
    if start < 0:
        start += size
    if start < 0 or start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    return (input,), (("dim", d), ("start", start), ("length", int(length)))


def _slice_impl(x, dim, start, stop, step):
    return x[(slice(None),) * dim + (slice(start, stop, step),)]


@defop(_slice_impl, node="SliceBackward0", view=True, method=False, function=False, name="slice")
def slice_dim(input, dim, start, stop, step):
    """The view ``input[..., start:stop:step, ...]`` along ``dim`` (bounds already normalised)."""
    return (input,), (("dim", dim), ("start", start), ("stop", stop), ("step", step))


@defop(lambda x: x, node="AliasBackward0", view=True, method=False, function=False, name="alias")
def alias(input):
    return (input,), ()


def _select_impl(x, dim, index):
    return x[(slice(None),) * dim + (index,)]


@defop(_select_impl, node="SelectBackward0", view=True)
def select(input, dim, index):
    """The sub-tensor at ``index`` of dimension ``dim`` (that dimension removed)."""
    d = _wrap(dim, input.dim())
    size = input._shape[d]
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(input._shape)} at dimension {d}")
    return (input,), (("dim", d), ("index", index % size))


def unbind(input, dim=0):
    d = _wrap(dim, input.dim())
    return tuple(select(input, d, i) for i in range(input._shape[d]))


def split(input, split_size_or_sections, dim=0):
    d = _wrap(dim, input.dim())
    n = input._shape[d]
    if isinstance(split_size_or_sections, int):
        sizes = [min(split_size_or_sections, n - i) for i in range(0, n, split_size_or_sections)] or [0]
    else:
        sizes = list(split_size_or_sections)
        if sum(sizes) != n:
            raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at "
                               f"dimension {d}), but got split_sizes={sizes}")
    out, start = [], 0
    for s in sizes:
        out.append(narrow(input, d, start, s))
        start += s
    return tuple(out)


def chunk(input, chunks, dim=0):
    d = _wrap(dim, input.dim())
    n = input._shape[d]
    size = -(-n // chunks) if n else 0
    return split(input, size, d) if size else (input,)


# -- basic indexing: ints, slices, None and Ellipsis ------------------------------------------------
def build_index(spec, arrays=()):
    """A numpy-style index from a hashable spec: ("i", n), ("s", start, stop, step), ("n",) for None,
    ("e",) for Ellipsis and ("t",) for the next of ``arrays`` (integer index arrays)."""
    idx, k = [], 0
    for item in spec:
        kind = item[0]
        if kind == "t":
            idx.append(arrays[k])
            k += 1
        elif kind == "i":
            idx.append(item[1])
        elif kind == "s":
            idx.append(slice(item[1], item[2], item[3]))
        elif kind == "n":
            idx.append(None)
        else:
            idx.append(Ellipsis)
    return tuple(idx)


def _diag_impl(x, offset, dim1, dim2):
    return jnp.diagonal(x, offset, dim1, dim2)


@defop(_diag_impl, node="DiagonalBackward0", view=True)
def diagonal(input, offset=0, dim1=0, dim2=1):
    n = input.dim()
    return (input,), (("offset", offset), ("dim1", _wrap(dim1, n)), ("dim2", _wrap(dim2, n)))


@defop(lambda root, new, chain: _write_impl(chain, root, new), node="CopySlices", saves={0: (), 1: ()},
       method=False, function=False, name="copy_slices")
def copy_slices(base, value, chain):
    """``base`` with ``value`` written into its view ``chain`` (the graph of an in-place op on a view)."""
    return (base, value), (("chain", chain),)


def _replay(x, chain):
    for prim, params in chain:
        x = prim.impl(params, x)
    return x


@defop(_replay, node="AsStridedBackward0", saves={0: ()}, method=False, function=False, name="view_replay")
def view_replay(base, chain):
    """The view ``chain`` of ``base`` regenerated after ``base`` changed in place."""
    return (base,), (("chain", chain),)
