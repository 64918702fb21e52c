"""Matrix products, named and composed as torch's ``matmul`` composes them (so node names match)."""
from __future__ import annotations


import jax.numpy as jnp

from .registry import defop


def _dtype_check(a, b, name):
    if a._dtype is not b._dtype:
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {a._dtype.name.replace('float32', 'float')} "
                           f"!= {b._dtype.name.replace('float32', 'float')}")


@defop(jnp.matmul, node="MmBackward0", saves={0: (1,), 1: (0,)})
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


inner = dot


@defop(lambda x, a, b, beta, alpha: beta * x + alpha * jnp.matmul(a, b), node="AddmmBackward0",
       saves={0: (), 1: (2,), 2: (1,)})
def addmm(input, mat1, mat2, *, beta=1, alpha=1):
    """``beta * input + alpha * (mat1 @ mat2)``."""
    if mat1._shape[1] != mat2._shape[0]:
        raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({mat1._shape[0]}x{mat1._shape[1]} and "
                           f"{mat2._shape[0]}x{mat2._shape[1]})")
    return (input, mat1, mat2), (("beta", beta), ("alpha", alpha))


@defop(jnp.matmul, node="UnsafeViewBackward0", saves={0: (1,), 1: (0,)}, method=False, function=False,
       name="matmul_nd")
def _matmul_nd(input, other):
    return (input, other), ()


def matmul(input, other):
    """Matrix product with torch's broadcasting rules (1-D, 2-D and batched)."""
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
        from .registry import dispatch
        from .views import squeeze

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
        out = mm(input.reshape(-1, k), other)
        return _unsafe_view(out, input._shape[:-1] + (other._shape[-1],))
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


def outer(input, vec2):
    return input.unsqueeze(1) * vec2.unsqueeze(0)


ger = outer


def einsum(equation, *operands):
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    return _einsum(equation, *operands)


@defop(lambda *xs, equation: jnp.einsum(equation, *xs), node="EinsumBackward0", method=False, function=False,
       name="einsum")
def _einsum_op(equation, *operands):
    return tuple(operands), (("equation", equation),)


_einsum = _einsum_op
