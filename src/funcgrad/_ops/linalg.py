"""Matrix products, named and composed as torch's ``matmul`` composes them (so node names match)."""
from __future__ import annotations


import jax.numpy as jnp

from .. import _autocast, _dtypes
from ..tensor import Tensor
from .registry import autocast_op, broadcast_shape, defop, dispatch, public
from .views import squeeze


def _dtype_check(a, b, name):
    if a._dtype is not b._dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: "
                           f"{_dtypes.ctype_name(a._dtype)} != {_dtypes.ctype_name(b._dtype)}")


@defop(jnp.matmul, node="MmBackward0", saves={0: (1,), 1: (0,)}, fast="static")
def mm(input, mat2):
    """Matrix product of two 2-D tensors."""
    if input.dim() != 2:
        raise RuntimeError("self must be a matrix")
    if mat2.dim() != 2:
        raise RuntimeError("mat2 must be a matrix")
    if input._shape[1] != mat2._shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({input._shape[0]}x{input._shape[1]} and "
                           f"{mat2._shape[0]}x{mat2._shape[1]})")
    _dtype_check(input, mat2, "mm")
    return (input, mat2), ()


@defop(jnp.matmul, node="BmmBackward0", saves={0: (1,), 1: (0,)})
def bmm(input, mat2):
    """Batched matrix product of two 3-D tensors."""
    if input.dim() != 3 or mat2.dim() != 3:
        raise RuntimeError(f"batch1 must be a 3D tensor" if input.dim() != 3 else "batch2 must be a 3D tensor")
    if input._shape[0] != mat2._shape[0] or input._shape[2] != mat2._shape[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{input._shape[0]}, "
                           f"{input._shape[2]}] but got: [{mat2._shape[0]}, {mat2._shape[1]}].")
    _dtype_check(input, mat2, "bmm")
    return (input, mat2), ()


@defop(jnp.matmul, node="MvBackward0", saves={0: (1,), 1: (0,)})
def mv(input, vec):
    if input.dim() != 2 or vec.dim() != 1 or input._shape[1] != vec._shape[0]:
        raise RuntimeError(f"size mismatch, got input ({input._shape[0] if input.dim() else 0}), mat "
                           f"({'x'.join(map(str, input._shape))}), vec ({vec._shape[0] if vec.dim() else 0})")
    _dtype_check(input, vec, "mv")
    return (input, vec), ()


@defop(jnp.dot, node="DotBackward0", saves={0: (1,), 1: (0,)})
def dot(input, other):
    if input.dim() != 1 or other.dim() != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.dim()}D and {other.dim()}D tensors")
    if input._shape != other._shape:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{input._shape[0]}] and src [{other._shape[0]}] "
                           "to have the same number of elements, but got "
                           f"{input._shape[0]} and {other._shape[0]} elements respectively")
    _dtype_check(input, other, "dot")
    return (input, other), ()


@defop(jnp.vdot, node="VdotBackward0", saves={0: (1,), 1: (0,)}, method=True)
def vdot(input, other, *, out=None):
    """``sum(conj(input) * other)`` of two 1-D tensors."""
    if input.dim() != 1 or other.dim() != 1:
        raise RuntimeError(f"1D tensors expected, but got {input.dim()}D and {other.dim()}D tensors")
    if input._shape != other._shape:
        raise RuntimeError(f"inconsistent tensor size, expected tensor [{input._shape[0]}] and src [{other._shape[0]}] "
                           "to have the same number of elements, but got "
                           f"{input._shape[0]} and {other._shape[0]} elements respectively")
    _dtype_check(input, other, "vdot")
    return (input, other), ()


def _addx(x, prod, beta, alpha):
    """``beta * x + alpha * prod`` as torch computes it: with ``beta == 0`` ``x`` is ignored (NaN and all);
    integer tensors take the scalars truncated to integers."""
    if jnp.issubdtype(prod.dtype, jnp.integer) or prod.dtype == jnp.bool_:
        beta, alpha = int(beta), int(alpha)
    if beta == 0:
        r = prod if alpha == 1 else alpha * prod
        return jnp.broadcast_to(r, jnp.broadcast_shapes(x.shape, prod.shape)).astype(prod.dtype)
    r = (x if beta == 1 else beta * x) + (prod if alpha == 1 else alpha * prod)
    return r.astype(prod.dtype)


def _scal(v):
    return v.item() if isinstance(v, Tensor) else v


def _check_out_shape(input, shape, name):
    try:
        b = broadcast_shape(input._shape, tuple(shape))  # cached per shape pair
    except RuntimeError:
        b = None
    if b != tuple(shape):
        raise RuntimeError(f"The expanded size of the tensor ({shape[-1]}) must match the existing size "
                           f"({input._shape[-1]}) at non-singleton dimension {input.dim() - 1}.  Target sizes: "
                           f"[{', '.join(map(str, shape))}].  Tensor sizes: [{', '.join(map(str, input._shape))}]")


@defop(lambda x, a, b, beta, alpha: _addx(x, jnp.matmul(a, b), beta, alpha), node="AddmmBackward0",
       saves={0: (), 1: (2,), 2: (1,)}, inplace=True, fast="static")
def addmm(input, mat1, mat2, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * (mat1 @ mat2)``."""
    if mat1.dim() != 2 or mat2.dim() != 2:
        raise RuntimeError("mat1 must be a matrix, got {}-D tensor".format(mat1.dim()) if mat1.dim() != 2 else
                           "mat2 must be a matrix, got {}-D tensor".format(mat2.dim()))
    if mat1._shape[1] != mat2._shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({mat1._shape[0]}x{mat1._shape[1]} and "
                           f"{mat2._shape[0]}x{mat2._shape[1]})")
    _check_out_shape(input, (mat1._shape[0], mat2._shape[1]), "addmm")
    for name, a in (("self", input), ("mat1", mat1)):  # torch checks in this order (autocast casts first)
        if isinstance(a, Tensor) and a._dtype is not mat2._dtype and _autocast.state.live is None:
            raise RuntimeError(f"{name} and mat2 must have the same dtype, but got "
                               f"{_dtypes.scalar_type_name(a._dtype)} and {_dtypes.scalar_type_name(mat2._dtype)}")
    return (input, mat1, mat2), (("beta", _scal(beta)), ("alpha", _scal(alpha)))


@defop(lambda x, a, b, beta, alpha: _addx(x, jnp.matmul(a, b), beta, alpha), node="AddmvBackward0",
       saves={0: (), 1: (2,), 2: (1,)}, inplace=True)
def addmv(input, mat, vec, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * (mat @ vec)``."""
    if mat.dim() != 2 or vec.dim() != 1 or mat._shape[1] != vec._shape[0]:
        raise RuntimeError(f"size mismatch, got input ({input._shape[0] if input.dim() else 1}), mat "
                           f"({'x'.join(map(str, mat._shape))}), vec ({vec._shape[0] if vec.dim() else 1})")
    _check_out_shape(input, (mat._shape[0],), "addmv")
    return (input, mat, vec), (("beta", _scal(beta)), ("alpha", _scal(alpha)))


@defop(lambda x, a, b, beta, alpha: _addx(x, jnp.outer(a, b), beta, alpha), node="AddrBackward0",
       saves={0: (), 1: (2,), 2: (1,)}, inplace=True)
def addr(input, vec1, vec2, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * outer(vec1, vec2)``."""
    if vec1.dim() != 1 or vec2.dim() != 1:
        raise RuntimeError(f"addr: Expected 1-D argument vec1, but got {vec1.dim()}-D" if vec1.dim() != 1 else
                           f"addr: Expected 1-D argument vec2, but got {vec2.dim()}-D")
    _check_out_shape(input, (vec1._shape[0], vec2._shape[0]), "addr")
    return (input, vec1, vec2), (("beta", _scal(beta)), ("alpha", _scal(alpha)))


def _bmm_check(b1, b2):
    if b1.dim() != 3 or b2.dim() != 3:
        raise RuntimeError("batch1 must be a 3D tensor" if b1.dim() != 3 else "batch2 must be a 3D tensor")
    if b1._shape[0] != b2._shape[0] or b1._shape[2] != b2._shape[1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{b1._shape[0]}, "
                           f"{b1._shape[2]}] but got: [{b2._shape[0]}, {b2._shape[1]}].")


@defop(lambda x, a, b, beta, alpha: _addx(x, jnp.matmul(a, b), beta, alpha), node="BaddbmmBackward0",
       saves={0: (), 1: (2,), 2: (1,)}, inplace=True)
def baddbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * (batch1 @ batch2)`` per batch."""
    _bmm_check(batch1, batch2)
    _check_out_shape(input, (batch1._shape[0], batch1._shape[1], batch2._shape[2]), "baddbmm")
    return (input, batch1, batch2), (("beta", _scal(beta)), ("alpha", _scal(alpha)))


@defop(lambda x, a, b, beta, alpha: _addx(x, jnp.einsum("bij,bjk->ik", a, b), beta, alpha), node="AddbmmBackward0",
       saves={0: (), 1: (2,), 2: (1,)}, inplace=True)
def addbmm(input, batch1, batch2, *, beta=1, alpha=1, out=None):
    """``beta * input + alpha * sum_b(batch1[b] @ batch2[b])``."""
    _bmm_check(batch1, batch2)
    _check_out_shape(input, (batch1._shape[1], batch2._shape[2]), "addbmm")
    return (input, batch1, batch2), (("beta", _scal(beta)), ("alpha", _scal(alpha)))


@defop(lambda x: jnp.trace(x), node="TraceBackward0", saves={0: ()})
def trace(input):
    """Sum of the main diagonal of a 2-D tensor."""
    if input.dim() != 2:
        raise RuntimeError(f"trace: expected a matrix, but got tensor with dim {input.dim()}")
    return (input,), ()


@defop(lambda a, b: jnp.kron(a, b), node="UnsafeViewBackward0", saves={0: (1,), 1: (0,)}, promote=True)
def kron(input, other, *, out=None):
    """Kronecker product."""
    return (input, other), ()


def _block_diag_fwd(*xs):
    import jax.scipy.linalg as jsl

    return jsl.block_diag(*xs)


@defop(_block_diag_fwd, node="BlockDiagBackward0", saves={}, method=False, promote=True)
def block_diag(*tensors):
    """Block-diagonal matrix from 0-D, 1-D (a row) and 2-D tensors."""
    for i, t in enumerate(tensors):
        if t.dim() > 2:
            raise RuntimeError(f"torch.block_diag: Input tensors must have 2 or fewer dimensions. Input {i} has "
                               f"{t.dim()} dimensions")
    return tuple(tensors), ()


@autocast_op("tensordot")
def tensordot(a, b, dims=2, out=None):
    """Contract ``dims`` dimensions of ``a`` with ``b`` (an int: the last of ``a``, the first of ``b``)."""
    if isinstance(dims, Tensor):
        dims = dims.tolist()
    if isinstance(dims, int):
        if dims < 0:
            raise RuntimeError(f"tensordot expects dims >= 0, but got dims={dims}")
        if dims > min(a.dim(), b.dim()):
            raise RuntimeError(f"tensordot expects dims < ndim_a or ndim_b, but got dims={dims}")
        da = list(range(a.dim() - dims, a.dim()))
        db = list(range(dims))
    else:
        da, db = dims
        da = [da] if isinstance(da, int) else list(da)
        db = [db] if isinstance(db, int) else list(db)
        if len(da) != len(db):
            raise RuntimeError("both dimension lists should have same length")
        da = [d % max(a.dim(), 1) for d in da]
        db = [d % max(b.dim(), 1) for d in db]
    for x, y in zip(da, db):
        if a._shape[x] != b._shape[y] and 1 in (a._shape[x], b._shape[y]):
            # torch sums a size-1 side's partner dimension away (keepdim) and contracts the 1s
            if a._shape[x] == 1:
                b = b.sum(y, keepdim=True)
            else:
                a = a.sum(x, keepdim=True)
        elif a._shape[x] != b._shape[y]:
            raise RuntimeError(f"contracted dimensions need to match, but first has size {a._shape[x]} in dim {x} "
                               f"and second has size {b._shape[y]} in dim {y}")
    fa = [i for i in range(a.dim()) if i not in da]
    fb = [i for i in range(b.dim()) if i not in db]
    size = 1
    for d in da:
        size *= a._shape[d]
    m = 1
    for d in fa:
        m *= a._shape[d]
    n = 1
    for d in fb:
        n *= b._shape[d]
    pa = a.permute(*(fa + da)) if fa + da != list(range(a.dim())) else a
    pb = b.permute(*(db + fb)) if db + fb != list(range(b.dim())) else b
    r = mm(pa.reshape(m, size), pb.reshape(size, n))
    return r.view(tuple(a._shape[i] for i in fa) + tuple(b._shape[i] for i in fb))


def inner(input, other, *, out=None):
    """Inner product over the last dimension (a scalar times a tensor when one is 0-D)."""
    if input.dim() == 0 or other.dim() == 0:
        return input * other
    if input._shape[-1] != other._shape[-1]:
        raise RuntimeError(f"inner() the last dimension must match on both input tensors but got shapes "
                           f"[{', '.join(map(str, input._shape))}] and [{', '.join(map(str, other._shape))}]")
    return tensordot(input, other, ([-1], [-1]))


@defop(jnp.matmul, node="UnsafeViewBackward0", saves={0: (1,), 1: (0,)}, method=False, function=False,
       name="matmul_nd")
def _matmul_nd(input, other):
    return (input, other), ()


@autocast_op("matmul")
def matmul(input, other):
    """Matrix product with torch's broadcasting rules (1-D, 2-D and batched)."""
    for i, (n, v) in enumerate((("input", input), ("other", other))):
        if not isinstance(v, Tensor):
            raise TypeError(f"matmul(): argument '{n}' (position {i + 1}) must be Tensor, not {type(v).__name__}")
    da, db = input.dim(), other.dim()
    if da == 0 or db == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {da}D and {db}D")
    if da == 1 and db == 1:
        return dot(input, other)
    if da == 2 and db == 1:
        return mv(input, other)
    if da == 1 and db == 2:
        if input._shape[0] != other._shape[0]:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied (1x{input._shape[0]} and "
                               f"{other._shape[0]}x{other._shape[1]})")
        r = mm(input.unsqueeze(0), other)  # torch: mm(unsqueeze(0)).squeeze_(0), hence SqueezeBackward4
        return dispatch(squeeze.op, (r,), (("shape", r._shape[1:]),), "SqueezeBackward4")
    if da == 2 and db == 2:
        return mm(input, other)
    if input._shape[-1] != other._shape[-2 if db > 1 else -1]:
        raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: "
                           f"[{input._shape[0]}, {input._shape[-1]}] but got: [{other._shape[0]}, {other._shape[-2 if db > 1 else 0]}].")
    if da >= 3 and db == 2:
        # torch folds the batch into rows: mm(a.reshape(-1, k), b) then _unsafe_view
        k = input._shape[-1]
        rows = 1
        for s_ in input._shape[:-1]:
            rows *= s_
        out = mm(input.reshape(rows, k), other)
        return _unsafe_view(out, input._shape[:-1] + (other._shape[-1],))
    if da == 2 and db >= 3:
        # torch folds the other way: (other^T @ input^T)^T, made contiguous (a clone unless empty)
        r = matmul(other.mT, input.mT).mT
        return r.clone() if r.numel() else r
    if da >= 2 and db >= 2:
        import numpy as np

        batch = tuple(np.broadcast_shapes(input._shape[:-2], other._shape[:-2]))
        a = input if input._shape[:-2] == batch else input.expand(*batch, *input._shape[-2:])
        b = other if other._shape[:-2] == batch else other.expand(*batch, *other._shape[-2:])
        n = 1
        for s in batch:
            n *= s
        out = bmm(a.reshape(n, *a._shape[-2:]), b.reshape(n, *b._shape[-2:]))
        return _unsafe_view(out, batch + out._shape[-2:])
    return _matmul_nd(input, other)


@defop(lambda x, shape: jnp.reshape(x, shape), node="UnsafeViewBackward0", saves={0: ()}, method=False,
       function=False, name="unsafe_view")
def _unsafe_view(input, shape):
    return (input,), (("shape", tuple(shape)),)


public(tensordot)
public(inner, method=True)


def outer(input, vec2):
    for n, v in (("self", input), ("vec2", vec2)):
        if v.dim() != 1:
            raise RuntimeError(f"outer: Expected 1-D argument {n}, but got {v.dim()}-D")
    return input.unsqueeze(1) * vec2.unsqueeze(0)


public(outer, method=True, aliases=("ger",))
ger = outer


@autocast_op("einsum")
def einsum(equation, *operands):
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    return _einsum(equation, *operands)


@defop(lambda *xs, equation: jnp.einsum(equation, *xs), node="EinsumBackward0", method=False, function=False,
       name="einsum")
def _einsum_op(equation, *operands):
    return tuple(operands), (("equation", equation),)


_einsum = _einsum_op
