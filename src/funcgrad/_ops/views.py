"""View ops: results share storage and version counter with their input (torch's views).

Each is a pure data-movement JAX function, so writing into a view is the same chain applied to
an index array, then a scatter into the storage's value (:func:`write_through`).
"""
from __future__ import annotations


import operator
import re

import jax
import jax.numpy as jnp
import numpy as np

from .. import _autocast, _dtypes, _lazy
from .._autograd import forward_ad as _fwd
from .._autograd import grad_mode as _gm
from .._layout import (_RULES, _WRITE, _write_impl, compute_stride, contiguous_strides,  # noqa: F401
                       is_contiguous_layout, layout, write_through)
from .._size import _wrap_dim as _wrap
from ..tensor import Tensor
from .registry import _DIFF, _attach_node, defop, node_class, new_result, new_view, public
from .creation import clone

__all__ = ["write_through"]


def _infer_shape(shape, numel):
    shape = list(shape)
    neg = [i for i, s in enumerate(shape) if s == -1]
    if len(neg) > 1:
        raise RuntimeError("only one dimension can be inferred")
    known = 1
    for i, s in enumerate(shape):
        if s != -1:
            if s < 0:
                raise RuntimeError(f"invalid shape dimension {s} at index {i} of shape {list(shape)}")
            known *= s
    if neg:
        if known == 0 or numel % known:
            raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
        shape[neg[0]] = numel // known
    elif known != numel:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {numel}")
    return tuple(shape)


def _is_size(s):
    return isinstance(s, (int, np.integer)) or (isinstance(s, Tensor) and not s._dtype.is_floating_point
                                                 and s.numel() == 1)


def _shape_args(shape, op=None, arg="size"):
    """torch's int-list argument (varargs or one sequence); ``op`` names it in torch's parser errors
    (worded for the function form, ``self`` first; the method form counts one less)."""
    if op is None:
        if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
            shape = tuple(shape[0])
        if not all(_is_size(s) for s in shape):
            raise TypeError("sizes must be ints")
    elif len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        seq = shape[0]
        for k, s in enumerate(seq):
            if not _is_size(s):
                raise TypeError(f"{op}(): argument '{arg}' (position 2) must be tuple of ints, but found element of "
                                f"type {type(s).__name__} at pos {k}")
        shape = tuple(seq)
    else:
        for s in shape:
            if not _is_size(s):
                if len(shape) == 1:
                    raise TypeError(f"{op}(): argument '{arg}' (position 2) must be tuple of ints, not "
                                    f"{'NoneType' if s is None else type(s).__name__}")
                raise TypeError(f"{op}() takes 2 positional arguments but {len(shape) + 1} were given")
    return tuple(int(s) for s in shape)


@defop(lambda x, shape: jnp.reshape(x, shape), node="ViewBackward0", view=True, fast="static")
def view(input, *shape):
    """A view of ``input`` with a new shape (one dimension may be -1); its strides must allow it."""
    if len(shape) == 1 and isinstance(shape[0], _dtypes.dtype):
        if shape[0] is input._dtype:
            return (input,), (("shape", input._shape),)
        raise NotImplementedError("view(dtype) reinterprets bits; funcgrad does not support it")
    new = _infer_shape(_shape_args(shape), input.numel())  # view has overloads: the parser's message
    shp, st, _ = layout(input)
    if compute_stride(shp, st, new) is None:
        raise RuntimeError("view size is not compatible with input tensor's size and stride (at least one dimension "
                           "spans across two contiguous subspaces). Use .reshape(...) instead.")
    return (input,), (("shape", new),)


@defop(lambda x, shape: jnp.reshape(x, shape), node="UnsafeViewBackward0", saves={0: ()}, method=False,
       function=False, name="_unsafe_view", fast="static")
def _unsafe_view(input, shape):
    return (input,), (("shape", shape),)


@public(method=True)
def reshape(input, *shape):
    """``input`` with a new shape: a view when its strides allow it, else a copy (as torch)."""
    new = _infer_shape(_shape_args(shape, "reshape", "shape"), input.numel())
    shp, st, _ = layout(input)
    if compute_stride(shp, st, new) is not None:
        return view(input, new)
    return _unsafe_view(input, new)


@public(method=True)
def flatten(input, start_dim=0, end_dim=-1):
    """Flatten dims ``start_dim``..``end_dim`` into one."""
    s = input._shape
    if not s:
        return reshape(input, (1,))
    a, b = _wrap(start_dim, len(s)), _wrap(end_dim, len(s))
    if a > b:
        raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
    if a == b:
        return input
    n = 1
    for d in s[a:b + 1]:
        n *= d
    return reshape(input, s[:a] + (n,) + s[b + 1:])


@public(method=True)
def ravel(input):
    """The elements as a 1-D tensor (a view when contiguous)."""
    return view(contiguous(input), -1)


@defop(lambda x, shape: jnp.reshape(x, shape), node="ViewBackward0", view=True)
def unflatten(input, dim, sizes):
    s = input._shape
    d = _wrap(dim, len(s))
    sizes = tuple(int(v) for v in sizes)
    if not sizes:
        raise RuntimeError("unflatten: sizes must be non-empty")
    known = 1
    for v in sizes:
        known *= v if v != -1 else 1
    if (-1 not in sizes and known != s[d]) or (-1 in sizes and (known == 0 or s[d] % known)):
        raise RuntimeError(f"unflatten: Provided sizes {list(sizes)} don't multiply up to the size of dim {d} "
                           f"({s[d]}) in the input tensor")
    sizes = _infer_shape(sizes, s[d])
    return (input,), (("shape", s[:d] + sizes + s[d + 1:]),)


@defop(lambda x, axes: jnp.transpose(x, axes), node="PermuteBackward0", view=True)
def permute(input, *dims):
    """Reorder the dimensions."""
    dims = _shape_args(dims, "permute", "dims")
    n = input.dim()
    if len(dims) != n:
        raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match "
                           f"the length of the desired ordering of dimensions i.e. input.dim() = {n} is not "
                           f"equal to len(dims) = {len(dims)}")
    axes = tuple(_wrap(d, n) for d in dims)
    if len(set(axes)) != n:
        raise RuntimeError("permute(): duplicate dims are not allowed.")
    return (input,), (("axes", axes),)


@defop(lambda x, axes: jnp.transpose(x, axes), node="TransposeBackward0", view=True, fast="static")
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


@defop(lambda x, axes: jnp.transpose(x, axes), node="TBackward0", view=True, fast="static")
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


@defop(lambda x, shape: jnp.reshape(x, shape), node="SqueezeBackward0", view=True, fast="static")
def squeeze(input, dim=None):
    """Remove dimensions of size 1 (all, or the given ``dim``/tuple of dims)."""
    s = input._shape
    if dim is None:
        return (input,), (("shape", tuple(d for d in s if d != 1)),), "SqueezeBackward0"
    dims = (dim,) if isinstance(dim, int) else tuple(dim)
    ds = {_wrap(d, len(s)) for d in dims}
    node = "SqueezeBackward1" if isinstance(dim, int) else "SqueezeBackward2"
    return (input,), (("shape", tuple(d for i, d in enumerate(s) if not (i in ds and d == 1))),), node


@defop(lambda x, shape: jnp.reshape(x, shape), node="UnsqueezeBackward0", view=True, fast="static")
def unsqueeze(input, dim):
    """Insert a dimension of size 1 at ``dim``."""
    s = input._shape
    n = len(s) + 1
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    d = dim % n
    return (input,), (("shape", s[:d] + (1,) + s[d:]),)


def _expand_shape(src, sizes):
    sizes = _shape_args(sizes, "expand")
    if len(sizes) < len(src):
        raise RuntimeError(
            f"expand(torch.FloatTensor{{{list(src)}}}, size=[{', '.join(map(str, sizes))}]): the number of sizes "
            f"provided ({len(sizes)}) must be greater or equal to the number of dimensions in the tensor ({len(src)})")
    out = list(sizes)
    off = len(sizes) - len(src)
    for j in range(len(sizes) - 1, -1, -1):  # torch checks from the last dimension
        want = sizes[j]
        if j < off:
            if want < 0:
                raise RuntimeError(f"The expanded size of the tensor ({want}) isn't allowed in a leading, "
                                   f"non-existing dimension {j}")
            continue
        s = src[j - off]
        if want == -1:
            out[j] = s
        elif s != want and s != 1:
            raise RuntimeError(
                f"The expanded size of the tensor ({want}) must match the existing size ({s}) at non-singleton "
                f"dimension {j}.  Target sizes: [{', '.join(map(str, sizes))}].  Tensor sizes: {list(src)}")
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
    if not input._shape:
        raise RuntimeError("narrow() cannot be applied to a 0-dim tensor.")
    d = _wrap(dim, input.dim())
    size = input._shape[d]
    start = int(start)
    if start < 0:
        start += size
    if start < 0 or start + length > size:
        raise RuntimeError(f"start ({start}) + length ({length}) exceeds dimension size ({size}).")
    return (input,), (("dim", d), ("start", start), ("length", int(length)))


def direct(op, x, params, shape, name, lifted=None, thunk=False):
    """``dispatch(op, (x,), params)`` for one tensor input ``x`` whose result has ``shape`` and x's dtype
    (view ops, constant pads): recorded and built with none of dispatch's general machinery (no
    binder, no shape inference). None where a mode needs that machinery (autocast, forward AD, a
    trace, eager mode): the caller then calls the op. ``lifted``: what ``op.prim.lift(params)``
    gives, known to the caller (then recorded as that). ``thunk``: of a computed ``x``, the result is
    a thunk, off the tape until read (``_lazy.THUNK``: slices)."""
    if _ac.live is not None or _fwd_state.level >= 0 or _lstate.tracing or not _lstate.lazy:
        return None
    grad = _mode.grad
    if _lazy._deferred and grad:
        _lazy.flush()  # a new forward: the last backward's program runs first (see _lazy.defer)
    dt = x._dtype
    st = x._st
    v = st.value if x._view is None else x._value()
    a = v.value if type(v) is _Lazy else v
    if thunk and _concrete(a):
        if lifted is None:
            lz = _lazy.thunk(op.prim, params, (a,), shape, dt.np)
        else:
            lz = _lazy.thunk(lifted[0], lifted[1], (a, _lazy._int_arg(lifted[2])), shape, dt.np)
    elif lifted is None:
        lz = _lazy.record(op.prim, params, [v], shape, dt.np)
    else:
        lz = _lazy.record(lifted[0], lifted[1], [v, _lazy._int_arg(lifted[2])], shape, dt.np)
    if type(lz) is not _Lazy:
        lz = _lazy.wrap(lz)
    if op.view:
        out = new_view(lz, shape, dt, x, ((op.prim, params),))
    else:
        out = new_result(lz, shape, dt, st.device)
    if x._rg and grad and dt in _DIFF:
        _attach_node(op, name, (x,), (v,), params, out)
    return out


def direct_many(op, xs, params, shape, dt, name):
    """``direct`` for a non-view op of several tensor inputs ``xs`` (one device), whose result has
    ``shape`` and dtype ``dt`` (stack's inputs)."""
    if _ac.live is not None or _fwd_state.level >= 0 or _lstate.tracing or not _lstate.lazy:
        return None
    grad = _mode.grad
    if _lazy._deferred and grad:
        _lazy.flush()
    rg = False
    vals = []
    for x in xs:
        vals.append(x._st.value if x._view is None else x._value())
        if x._rg:
            rg = True
    lz = _lazy.record(op.prim, params, vals, shape, dt.np)
    if type(lz) is not _Lazy:
        lz = _lazy.wrap(lz)
    out = new_result(lz, shape, dt, xs[0]._st.device)
    if rg and grad and dt in _DIFF:
        _attach_node(op, name, tuple(xs), vals, params, out)
    return out


_Lazy = _lazy.Lazy
_ARRAYS: set = set()  # the types of concrete jax.Arrays met (not tracers)


def _concrete(a):
    """Whether ``a`` is a concrete jax.Array (not a tracer, not a Lazy)."""
    t = type(a)
    if t in _ARRAYS:
        return True
    if isinstance(a, jax.Array) and not isinstance(a, jax.core.Tracer):
        _ARRAYS.add(t)
        return True
    return False


_ac = _autocast.state
_fwd_state = _fwd._state
_lstate = _lazy._state
_mode = _gm._mode


def slice_view(x, dim, start, stop, step):
    """``slice_dim(x, dim, start, stop, step)`` (bounds normalised, ``stop >= start``) by ``direct``."""
    s = x._shape
    n = (stop - start + step - 1) // step
    # the slice's start as an argument (``_slice_lift``, done here)
    lifted = (_SLICE_AT, (dim, (n - 1) * step + 1, step), start) if start != 0 and n > 0 else None
    out = direct(slice_dim.op, x, (("dim", dim), ("start", start), ("stop", stop), ("step", step)),
                 s[:dim] + (n,) + s[dim + 1:], "SliceBackward0", lifted, True)
    if out is None:
        out = slice_dim(x, dim, start, stop, step)
    elif out._vcache[1].gen == _lazy.THUNK:
        return out
    _lazy.note_slices()  # on the tape: its flush looks for pads of it (``_lazy._fold``)
    return out


def unsqueeze_view(x, d):
    """``unsqueeze(x, d)`` for ``0 <= d <= x.dim()`` by ``direct``."""
    s = x._shape
    shape = s[:d] + (1,) + s[d:]
    params = _unsqueeze_params.get(shape)
    if params is None:  # one params object per shape: a cached structure then matches it by identity
        if len(_unsqueeze_params) > 4096:
            _unsqueeze_params.clear()
        params = _unsqueeze_params[shape] = (("shape", shape),)
    out = direct(unsqueeze.op, x, params, shape, "UnsqueezeBackward0")
    return out if out is not None else unsqueeze(x, d)


_unsqueeze_params: dict = {}  # shape (ints) -> unsqueeze's params


def _slice_impl(x, dim, start, stop, step):
    return x[(slice(None),) * dim + (slice(start, stop, step),)]


@defop(_slice_impl, node="SliceBackward0", view=True, method=False, function=False, name="slice")
def slice_dim(input, dim, start, stop, step):
    """The view ``input[..., start:stop:step, ...]`` along ``dim`` (bounds already normalised)."""
    return (input,), (("dim", dim), ("start", start), ("stop", stop), ("step", step))


def _slice_at_impl(params, x, start):
    dim, span, step = params
    y = jax.lax.dynamic_slice_in_dim(x, start, span, axis=dim)
    return y if step == 1 else jax.lax.slice_in_dim(y, 0, span, step, axis=dim)


_SLICE_AT = _lazy.Prim("slice_at", _slice_at_impl)


def _slice_lift(params):
    """A slice's start as an argument: ``seq[i:i + n]`` for every ``i`` is one kernel (one program)."""
    (_, dim), (_, start), (_, stop), (_, step) = params
    if start == 0 or stop <= start:
        return None
    span = (stop - start - 1) // step * step + 1
    return _SLICE_AT, (dim, span, step), (start,)


slice_dim.op.prim.lift = _slice_lift


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
    index = operator.index(index)  # a float index is torch's TypeError (worded by the registry), never floored
    if not -size <= index < size:
        raise IndexError(f"select(): index {index} out of range for tensor of size {list(input._shape)} at dimension {d}")
    return (input,), (("dim", d), ("index", index % size))


_SELECT_AT = _lazy.Prim("select_at", lambda dim, x, index: jax.lax.dynamic_index_in_dim(x, index, dim, keepdims=False))


def _select_lift(params):
    (_, dim), (_, index) = params
    return None if index == 0 else (_SELECT_AT, dim, (index,))


select.op.prim.lift = _select_lift


@defop(_narrow_impl, node="SplitBackward0", view=True, method=False, function=False, name="split_narrow")
def _split_narrow(input, dim, start, length, node):
    return (input,), (("dim", dim), ("start", start), ("length", length)), node


@defop(_select_impl, node="UnbindBackward0", view=True, method=False, function=False, name="unbind_select")
def _unbind_select(input, dim, index):
    return (input,), (("dim", dim), ("index", index))


@public(method=True)
def unbind(input, dim=0):
    """The slices along ``dim``, as a tuple of views (UnbindBackward0)."""
    if not input._shape:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    d = _wrap(dim, input.dim())
    return _multi(tuple(_unbind_select(input, d, i) for i in range(input._shape[d])), "Unbind")


def _multi(outs, name):
    """torch forbids in-place edits of the views a multi-output view op returns (when they need grad)."""
    for i, t in enumerate(outs):
        if t.grad_fn is not None:
            t._multi_view = (name, i)
    return outs


def _split_sizes(n, size):
    if size < 0:
        raise RuntimeError(f"split expects split_size be non-negative, but got split_size={size}")
    if size == 0:
        if n:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {n}")
        return [0]
    return [min(size, n - i) for i in range(0, n, size)] or [0]


def _split_run(input, d, sizes, node):
    out, start = [], 0
    for s in sizes:
        out.append(_split_narrow(input, d, start, s, node))
        start += s
    return _multi(tuple(out), node[:-len("Backward0")])


def _check_dims(input):
    if not input._shape:
        raise RuntimeError("split expects at least a 1-dimensional tensor")


@public(method=True)
def split_with_sizes(input, split_sizes, dim=0):
    _check_dims(input)
    d = _wrap(dim, input.dim())
    n = input._shape[d]
    sizes = [int(x) for x in split_sizes]
    if sum(sizes) != n or any(x < 0 for x in sizes):
        raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {n} (input tensor's size at "
                           f"dimension {d}), but got split_sizes={sizes}")
    return _split_run(input, d, sizes, "SplitWithSizesBackward0")


@public(method=True)
def split(input, split_size_or_sections, dim=0):
    """Split into chunks of ``split_size`` (an int) or of the given sizes (a list), as views."""
    if not isinstance(split_size_or_sections, (int, np.integer)):
        return split_with_sizes(input, split_size_or_sections, dim)
    _check_dims(input)
    d = _wrap(dim, input.dim())
    return _split_run(input, d, _split_sizes(input._shape[d], int(split_size_or_sections)), "SplitBackward0")


@public(method=True)
def unsafe_split(input, split_size, dim=0):
    _check_dims(input)
    d = _wrap(dim, input.dim())
    return tuple(_split_copy(x, "UnsafeSplitBackward0") for x in
                 _split_run(input, d, _split_sizes(input._shape[d], int(split_size)), "SplitBackward0"))


@public(method=True)
def unsafe_split_with_sizes(input, split_sizes, dim=0):
    return tuple(_split_copy(x, "UnsafeSplitWithSizesBackward0") for x in split_with_sizes(input, split_sizes, dim))


def _chunk_size(input, chunks, dim):
    if chunks <= 0:
        raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
    if not input._shape:
        raise RuntimeError("chunk expects at least a 1-dimensional tensor")
    d = _wrap(dim, input.dim())
    n = input._shape[d]
    return d, -(-n // chunks) if n else 0


@public(method=True)
def chunk(input, chunks, dim=0):
    """Split into ``chunks`` pieces (the last may be smaller; fewer when the size does not allow)."""
    d, size = _chunk_size(input, chunks, dim)
    if size == 0:
        return split_with_sizes(input, [0] * chunks, d)
    return split(input, size, d)


@public(method=True)
def unsafe_chunk(input, chunks, dim=0):
    d, size = _chunk_size(input, chunks, dim)
    if size == 0:
        return unsafe_split_with_sizes(input, [0] * chunks, d)
    return unsafe_split(input, size, d)


@defop(lambda x: x, node="UnsafeSplitBackward0", saves={}, method=False, function=False, name="split_copy")
def _split_copy(input, node):
    return (input,), (), node


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
    d1, d2 = _wrap(dim1, n), _wrap(dim2, n)
    if d1 == d2:
        raise RuntimeError(f"diagonal dimensions cannot be identical {dim1}, {dim2}")
    return (input,), (("offset", offset), ("dim1", d1), ("dim2", d2))


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


@public(method=True, function=False)
def contiguous(input, memory_format=None):
    """``input`` itself when contiguous, else a contiguous copy (CloneBackward0)."""
    if input._view is None:
        return input
    shape, st, _ = layout(input)
    if is_contiguous_layout(shape, st):
        return input
    return clone(input)


# -- more views ----------------------------------------------------------------------------------------
def _as_strided_impl(x, size, stride, offset):
    flat = x.reshape(-1)
    idx = np.full(tuple(size), offset, dtype=np.int64)
    for d, (n, k) in enumerate(zip(size, stride)):
        shp = [1] * len(size)
        shp[d] = n
        idx = idx + (np.arange(n, dtype=np.int64) * k).reshape(shp)
    if flat.size == 0 or idx.size == 0:
        return jnp.zeros(tuple(size), x.dtype)
    return flat[jnp.asarray(idx)]


def _root(t):
    """The tensor whose value is ``t``'s storage (what as_strided addresses): ``t`` itself unless it is a
    view that does not cover its storage in order."""
    if t._view is None:
        return t
    shape, st, off = layout(t)
    b = t._base
    if b is None or b._view is not None or (off == 0 and t.numel() == b.numel() and is_contiguous_layout(shape, st)):
        return t
    return b


@defop(_as_strided_impl, node="AsStridedBackward0", view=True)
def as_strided(input, size, stride, storage_offset=None):
    """A view with explicit sizes and strides over ``input``'s storage."""
    size, stride = tuple(int(v) for v in size), tuple(int(v) for v in stride)
    if len(size) != len(stride):
        raise RuntimeError(f"mismatch in length of strides and shape")
    if any(v < 0 for v in stride):
        raise RuntimeError("as_strided: Negative strides are not supported at the moment, got strides: "
                           f"[{', '.join(map(str, stride))}]")
    root = _root(input)
    off = layout(input)[2] if storage_offset is None else int(storage_offset)
    need = off + sum((n - 1) * k for n, k in zip(size, stride)) + 1 if all(size) else 0
    if need > root.numel():
        raise RuntimeError(f"setStorage: sizes [{', '.join(map(str, size))}], strides [{', '.join(map(str, stride))}],"
                           f" storage offset {off}, and itemsize {input._dtype.itemsize} requiring a storage size of "
                           f"{need * input._dtype.itemsize} are out of bounds for storage of size "
                           f"{root.numel() * input._dtype.itemsize}")
    if root is not input:
        # as_strided addresses the storage: apply it to the base, as a view of it
        return (root,), (("size", size), ("stride", stride), ("offset", off))
    return (input,), (("size", size), ("stride", stride), ("offset", off))


def _unfold_impl(x, dim, size, step):
    if x.ndim == 0:
        return jnp.reshape(x, (1,))
    n = (x.shape[dim] - size) // step + 1
    idx = (np.arange(n)[:, None] * step + np.arange(size)[None, :])
    y = jnp.take(x, jnp.asarray(idx.reshape(-1)), axis=dim)
    y = y.reshape(x.shape[:dim] + (n, size) + x.shape[dim + 1:])
    return jnp.moveaxis(y, dim + 1, -1)


@defop(_unfold_impl, node="UnfoldBackward0", view=True, function=False)
def unfold(input, dimension, size, step):
    """All slices of ``size`` elements along ``dimension``, ``step`` apart (a view; new last dimension)."""
    n = input.dim()
    d = _wrap(dimension, n)
    ext = input._shape[d] if n else 1
    if size > ext:
        raise RuntimeError(f"maximum size for tensor at dimension {d} is {ext} but size is {size}")
    if size < 0:
        raise RuntimeError(f"size is {size} but must be >= 0")
    if step <= 0:
        raise RuntimeError(f"step is {step} but must be > 0")
    return (input,), (("dim", d), ("size", int(size)), ("step", int(step)))


@public(method=True)
def movedim(input, source, destination):
    """Move dims ``source`` to positions ``destination`` (a permute view)."""
    n = input.dim()
    src = (source,) if isinstance(source, int) else tuple(source)
    dst = (destination,) if isinstance(destination, int) else tuple(destination)
    if len(src) != len(dst):
        raise RuntimeError(f"movedim: Invalid source or destination dims: source ({list(src)} dims) should contain "
                           f"the same number of dims as destination ({list(dst)} dims)")
    src = [_wrap(d, n) for d in src]
    dst = [_wrap(d, n) for d in dst]
    if len(set(src)) != len(src):
        raise RuntimeError(f"movedim: repeated dim in `source` ({list(source)})")
    if len(set(dst)) != len(dst):
        raise RuntimeError(f"movedim: repeated dim in `destination` ({list(destination)})")
    order = [None] * n
    for s_, d_ in zip(src, dst):
        order[d_] = s_
    rest = iter(d for d in range(n) if d not in src)
    order = [o if o is not None else next(rest) for o in order]
    return permute(input, order)


moveaxis = public(movedim, name="moveaxis", method=True)


@public(method=True)
def adjoint(input):
    return _mH(input)


def _H(self):
    n = self.dim()
    if n == 0:
        return self
    if n != 2:
        extra = ". For batches of matrices, consider using tensor.mH" if n > 2 else ""
        raise RuntimeError(f"tensor.H is only supported on matrices (2-D tensors). Got {n}-D tensor{extra}")
    return _mH(self)


def _mH(self):
    n = self.dim()
    if n < 2:
        raise RuntimeError(f"tensor.mH is only supported on matrices or batches of matrices. Got {n}-D tensor.")
    out = _mT(self)
    if self._dtype.is_complex:
        from .pointwise import conj

        out = conj(out)
    return out


def _T(self):
    n = self.dim()
    if n != 2 and n != 0:
        import warnings

        warnings.warn("The use of `x.T` on tensors of dimension other than 2 to reverse their shape is deprecated "
                      "and it will throw an error in a future release. Consider `x.mT` to transpose batches of "
                      "matrices or `x.permute(*torch.arange(x.ndim - 1, -1, -1))` to reverse the dimensions of a "
                      "tensor.", UserWarning, stacklevel=3)
    return permute(self, *reversed(range(n)))


# -- the *_copy functions: the view's value in a storage of its own (node "<View>Backward0_copy") -----
def _copy_variant(view_fn, cname):
    op = view_fn.op
    binder = view_fn.__wrapped__

    def b(*args, **kwargs):
        bound = binder(*args, **kwargs)
        if len(bound) == 3:
            inputs, params, node = bound
        else:
            (inputs, params), node = bound, op.node
        return inputs, params, node if node.endswith("CopyBackward0") else node + "_copy"

    b.__name__ = cname
    return defop(op.forward, node=op.node + "_copy", saves={0: ()}, method=False, name=cname)(b)


view_copy = _copy_variant(view, "view_copy")
permute_copy = _copy_variant(permute, "permute_copy")
transpose_copy = _copy_variant(transpose, "transpose_copy")
t_copy = _copy_variant(t, "t_copy")
squeeze_copy = _copy_variant(squeeze, "squeeze_copy")
unsqueeze_copy = _copy_variant(unsqueeze, "unsqueeze_copy")
expand_copy = _copy_variant(expand, "expand_copy")
diagonal_copy = _copy_variant(diagonal, "diagonal_copy")
select_copy = _copy_variant(select, "select_copy")
alias_copy = _copy_variant(alias, "alias_copy")
as_strided_copy = _copy_variant(as_strided, "as_strided_copy")
unfold_copy = _copy_variant(unfold, "unfold_copy")
_narrow_copy = _copy_variant(_split_narrow, "_narrow_copy_named")
_unbind_copy = _copy_variant(_unbind_select, "_unbind_copy_one")


@public
def unbind_copy(input, dim=0):
    if not input._shape:
        raise IndexError("Dimension specified as 0 but tensor has no dimensions")
    d = _wrap(dim, input.dim())
    return tuple(_unbind_copy(input, d, i) for i in range(input._shape[d]))


@public
def split_with_sizes_copy(input, split_sizes, dim=0):
    d = _wrap(dim, input.dim())
    views = split_with_sizes(input, split_sizes, d)
    out, start = [], 0
    for v in views:
        out.append(_narrow_copy(input, d, start, v._shape[d], "SplitWithSizesBackward0"))
        start += v._shape[d]
    return tuple(out)


@public
def split_copy(input, split_size, dim=0):
    d = _wrap(dim, input.dim())
    views = split(input, split_size, d)
    out, start = [], 0
    for v in views:
        out.append(_narrow_copy(input, d, start, v._shape[d], "SplitBackward0"))
        start += v._shape[d]
    return tuple(out)


@public(method=True)
def narrow_copy(input, dim, start, length):
    if input.dim() and dim >= input.dim():  # torch's narrow_copy checks a too-large dim before wrapping it
        raise RuntimeError("Expected dim < static_cast<int64_t>(self_sizes.size()) to be true, but got false.")
    b = narrow.__wrapped__(input, dim, start, length)
    return _narrow_copy(input, dict(b[1])["dim"], dict(b[1])["start"], dict(b[1])["length"], "NarrowCopyBackward0")


def check_internal_overlap(t):
    """torch refuses to write into a view where several elements share one memory location (expand)."""
    shape, st, _ = layout(t)
    if any(k == 0 and n > 1 for n, k in zip(shape, st)):
        raise RuntimeError("unsupported operation: more than one element of the written-to tensor refers to a "
                           "single memory location. Please clone() the tensor before performing the operation.")


# -- in-place view ops: the tensor itself takes the view's shape (t_, transpose_, squeeze_, unsqueeze_) --
_REBASE = (" is being modified inplace {}. Given that this use case is ambiguous and error-prone, it is forbidden. You "
           "can clarify your code by moving both the view and the inplace either both inside the {} block (if you "
           "don't want the inplace to be tracked) or both outside (if you want the inplace to be tracked).")


def rebase_error(t, name=None):
    """torch's error for an in-place edit under grad mode of a view made in no_grad or inference mode
    (``name``: the view op the edit goes through, e.g. "Select" for ``t[0] = x``)."""
    if name is None and t.grad_fn is not None:
        name = re.sub(r"Backward(0$)?", "", type(t.grad_fn).__name__)
    head = (f"Output {t._output_nr if t.grad_fn is not None else 0} of {name} is a view of a view which was created in"
            if name else "A view was created in")
    if t._vmeta == "inference":
        return RuntimeError(head + " inference mode and" + _REBASE.format("in normal mode", "inference_mode"))
    return RuntimeError(head + " no_grad mode and" + _REBASE.format("with grad mode enabled", "no_grad"))


def check_inplace(t):
    """torch's refusals of an in-place op on ``t`` that requires grad, under grad mode (check_inplace)."""
    multi = t.__dict__.get("_multi_view")
    if multi is not None:
        raise RuntimeError(f"Output {multi[1]} of {multi[0]} is a view and is being modified inplace. This view is "
                           "the output of a function that returns multiple views. Such functions do not allow the "
                           "output views to be modified inplace. You should replace the inplace operation by an "
                           "out-of-place one.")
    if t._vmeta is not None:
        raise rebase_error(t)
    b = t._base
    if b is not None and t._view is not None and b.grad_fn is None and b._rg:
        raise RuntimeError("a view of a leaf Variable that requires grad is being used in an in-place operation.")
    if t.grad_fn is None:
        raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")


# torch's nodes of the in-place forms (derivatives.yaml's overloads of t_, transpose_, squeeze_...)
_INPLACE_NODES = {"TBackward0": "TBackward1", "TransposeBackward0": "TransposeBackward1",
                  "SqueezeBackward0": "SqueezeBackward3", "SqueezeBackward1": "SqueezeBackward4",
                  "SqueezeBackward2": "SqueezeBackward5", "UnsqueezeBackward0": "UnsqueezeBackward1",
                  "AsStridedBackward0": "AsStridedBackward1"}


def _inplace_view(fn, name):
    def method(self, *args, **kwargs):
        if self._rg and _mode.grad:
            check_inplace(self)
        v = fn(self, *args, **kwargs)
        st = self._st
        st.version += 1  # torch bumps the version of a tensor whose metadata changes in place
        self._view, self._vcache, self._shape = v._view, (st.version, v._vcache[1]), v._shape
        if self._base is None and v._base is not self:
            self._base = v._base
        node = v.grad_fn
        if node is not None:
            cls = type(node)
            node.__class__ = node_class(_INPLACE_NODES.get(cls.__name__, cls.__name__), cls.__bases__[0])
            self.grad_fn, self._output_nr = node, v._output_nr
            if self._base is None:  # what version errors name this storage's tensor as
                st.last_fn = (node, v._output_nr)
        return self

    method.__name__ = name
    return public(method, name=name, method=True, function=False)


t_ = _inplace_view(t, "t_")
transpose_ = _inplace_view(transpose, "transpose_")
squeeze_ = _inplace_view(squeeze, "squeeze_")
unsqueeze_ = _inplace_view(unsqueeze, "unsqueeze_")
swapaxes_ = _inplace_view(transpose, "swapaxes_")
swapdims_ = _inplace_view(transpose, "swapdims_")
as_strided_ = _inplace_view(as_strided, "as_strided_")
