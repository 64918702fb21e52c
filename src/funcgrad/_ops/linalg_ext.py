"""``torch.linalg`` and the old matrix-function names: decompositions, solvers, inverses, norms.

Each decomposition with several outputs (``eigh``, ``svd``, ``qr``, ``slogdet``...) is ONE registry
op whose static parameter ``k`` picks the output: the outputs carry torch's node name
(``LinalgEighBackward0``) and their gradients add up as torch's single node would add them. Where
torch's derivative differs from ``jax.vjp`` of JAX's routine (norms at zero, ``svd`` with
``full_matrices=True``, ``eig``'s eigenvectors, ``pinv``), the forward is a ``jax.custom_jvp``
following torch's formula, so reverse and forward mode both follow it. Results come back as
torch's named tuples (``torch.return_types.linalg_eigh(eigenvalues=..., eigenvectors=...)``).

Checks that need the data (a singular matrix, a matrix that is not positive-definite) run eagerly,
as torch's do, and raise ``funcgrad.linalg.LinAlgError``; inside ``funcgrad.compile`` and JAX
transforms they are skipped (the result then holds NaN/inf, as the ``*_ex`` variants would).
"""
from __future__ import annotations

import collections
import functools
import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .. import _dtypes, _lazy
from .._size import _wrap_dim
from ..tensor import Tensor
from .pointwise import _sgn_fwd  # torch's sgn: 0 at NaN
from .registry import autocast_op, defop, dispatch, public
from .creation import ones as _ones, randn, zeros
from .indexing import cat
from .linalg import matmul, mm, vdot
from .pointwise import add, log, mul, where
from .reduction import _dims, amax, amin, cumprod, sum as rsum
from .views import diagonal, permute, view

__all__ = ["LinAlgError", "return_type"]


class LinAlgError(RuntimeError):
    """torch's ``torch.linalg.LinAlgError`` (``torch._C._LinAlgError``): a RuntimeError."""


LinAlgError.__name__ = LinAlgError.__qualname__ = "_LinAlgError"
public(LinAlgError, name="LinAlgError", namespace="linalg")

_RT: dict = {}


def return_type(name, fields):
    """A named tuple printed as torch's ``torch.return_types.<name>(\\nfield=...,\\n...)``."""
    cls = _RT.get(name)
    if cls is None:
        base = collections.namedtuple(name, fields)

        def __repr__(self):
            body = ",\n".join(f"{f}={v!r}" for f, v in zip(self._fields, self))
            return f"torch.return_types.{name}(\n{body})"

        cls = _RT[name] = type(name, (base,), {"__slots__": (), "__repr__": __repr__})
        cls.__module__ = "funcgrad.return_types"
    return cls


# ------------------------------------------------------------------------------------ helpers
def _copy_out(res, out):
    """torch's ``out=``: the result written into the given tensor(s), which are returned."""
    if out is None:
        return res
    if isinstance(res, tuple):
        if not isinstance(out, (tuple, list)) or len(out) != len(res):
            raise TypeError(f"out must be a tuple of {len(res)} tensors")
        for o, r in zip(out, res):
            o.copy_(r) if o._shape == r._shape else o._adopt(r.detach().clone())
        return type(res)(*out) if hasattr(res, "_fields") else tuple(out)
    if out._shape != res._shape:
        out._adopt(res.detach().clone())
    else:
        out.copy_(res)
    return out


def _public(fn=None, **kw):
    """``public`` for functions with an ``out=`` argument (handled here, never ignored)."""
    def deco(f):
        @functools.wraps(f)
        def wrapper(*args, out=None, **kwargs):
            return _copy_out(f(*args, **kwargs), out)

        public(wrapper, **kw)
        return wrapper

    return deco(fn) if fn is not None else deco


def _name(d):
    return _dtypes._dt_name(d)


def _float_check(A, fname, what="A"):
    if not (A._dtype.is_floating_point or A._dtype.is_complex) or A._dtype.name in ("float16", "bfloat16"):
        raise RuntimeError(f"{fname}: Expected a floating point or complex tensor as input. Got {_name(A._dtype)}")


def _square_check(A, fname, what="A"):
    if A.dim() < 2:
        raise RuntimeError(f"{fname}: The input tensor {what} must have at least 2 dimensions.")
    if A._shape[-1] != A._shape[-2]:
        raise RuntimeError(f"{fname}: {what} must be batches of square matrices, but they are "
                           f"{A._shape[-2]} by {A._shape[-1]} matrices")


def _matrix_check(A, fname, what="A"):
    if A.dim() < 2:
        raise RuntimeError(f"{fname}: The input tensor {what} must have at least 2 dimensions.")


def _same_dtype(A, B, fname):
    if A._dtype is not B._dtype:
        raise RuntimeError(f"{fname}: Expected A and B to have the same dtype, but found A of type "
                           f"{_name(A._dtype)} and B of type {_name(B._dtype)} instead")


def _host(t):
    """The tensor's value on the host, or None while tracing (checks that need data are skipped)."""
    return _lazy.concrete(t._array())


def _batch_prefix(idx, nbatch):
    return f"(Batch element {idx}): " if nbatch else ""


def _mT(x):
    return jnp.swapaxes(x, -1, -2)


def _mH(x):
    return jnp.conj(jnp.swapaxes(x, -1, -2))


def _real_dtype(d):
    return {"complex64": _dtypes.float32, "complex128": _dtypes.float64}.get(d.name, d)


def _multi(name, node, saves=None, jvp=None):
    """Declare a function with several outputs as one op whose static ``k`` picks an output
    (``jvp``: the several-output forward whose ``jax.jvp`` gives forward mode, see ``defop``)."""

    def deco(fwd):
        def forward(*xs, k, **kw):
            return fwd(*xs, **kw)[k]

        def jvp_forward(*xs, k, **kw):
            return jvp(*xs, **kw)[k]

        def binder(inputs, params, k, node_name=None):
            return tuple(inputs), tuple(params) + (("k", k),), node_name or node

        binder.__name__ = "_" + name
        op = defop(forward, node=node, saves=saves, method=False, function=False, name="_" + name,
                   jvp=jvp_forward if jvp is not None else None)(binder)

        def run(inputs, params, n, node_name=None):
            return tuple(op(inputs, params, k, node_name) for k in range(n))

        run.op = op
        run.fwd = fwd
        return run

    return deco


# ------------------------------------------------------------------------------------ det & co
@jax.custom_jvp
def _det(a):
    return jnp.linalg.det(a)


@_det.defjvp
def _det_jvp(primals, tangents):
    """torch's ``linalg_det_backward``/``_jvp``: ``det * A^{-H}`` through the LU factors; at an exactly
    singular matrix (a zero pivot, ``det == 0``) that gives 0 (torch's first-order result)."""
    (a,), (da,) = primals, tangents
    d = _det(a)
    singular = d == 0
    safe = jnp.where(singular[..., None, None], jnp.eye(a.shape[-1], dtype=a.dtype), a)
    tr = jnp.trace(jnp.linalg.solve(safe, da), axis1=-2, axis2=-1)
    return d, jnp.where(singular, 0, d * tr).astype(d.dtype)


@defop(_det, node="LinalgDetBackward0", saves={0: (0, "result")}, namespace=("torch", "linalg"),
       method=True)
def det(A):
    """Determinant of a (batch of) square matrices."""
    _square_check(A, "linalg.det")
    _float_check(A, "linalg.det")
    return (A,), ()


def _slogdet_fwd(a):
    s, l = jnp.linalg.slogdet(a)
    return s.astype(a.dtype), l.astype(_real_dtype(_dtypes.as_dtype(a.dtype)).np)


_slogdet = _multi("slogdet", "LinalgSlogdetBackward0")(_slogdet_fwd)


@_public(namespace="linalg", name="slogdet")
def linalg_slogdet(A, *, out=None):
    """``(sign, logabsdet)`` of the determinant."""
    _square_check(A, "linalg.slogdet")
    _float_check(A, "linalg.slogdet")
    return return_type("linalg_slogdet", ["sign", "logabsdet"])(*_slogdet((A,), (), 2))


@public(method=True, name="slogdet")
def slogdet(input):
    _square_check(input, "linalg.slogdet")
    _float_check(input, "linalg.slogdet")
    return return_type("slogdet", ["sign", "logabsdet"])(*_slogdet((input,), (), 2))


@public(method=True)
def logdet(input):
    """``log(det(input))``: NaN for a negative determinant, ``-inf`` for zero."""
    sign, lad = slogdet(input)
    if input._dtype.is_complex:
        return add(log(sign), lad)
    return where(sign == -1, float("nan"), lad)


# ------------------------------------------------------------------------------------ inverse
def _inv_info(a):
    """LAPACK getrf's info: 1 + the first zero pivot of the LU factorization (0 when invertible)."""
    if a.shape[-1] == 0:
        return jnp.zeros(a.shape[:-2], jnp.int32)
    lu, _, _ = lax.linalg.lu(a)
    d = jnp.diagonal(lu, axis1=-2, axis2=-1)
    zero = d == 0
    first = jnp.argmax(zero, axis=-1) + 1
    return jnp.where(jnp.any(zero, axis=-1), first, 0).astype(jnp.int32)


@defop(_inv_info, node="", nondiff_out=True, method=False, function=False, name="_lu_info")
def _lu_info(A):
    return (A,), ()


def _raise_singular(info, fname, kind):
    if info is None:
        return
    info = np.asarray(info)
    bad = np.argwhere(info.reshape(-1) > 0)
    if bad.size:
        i = int(bad[0][0])
        pre = _batch_prefix(i, info.ndim)
        if kind == "inv":
            raise LinAlgError(f"{fname}: {pre}The diagonal element {int(info.reshape(-1)[i])} is zero, the inversion "
                              "could not be completed because the input matrix is singular.")
        raise LinAlgError(f"{fname}: {pre}The solver failed because the input matrix is singular.")


@defop(jnp.linalg.inv, node="LinalgInvExBackward0", saves={0: ("result",)}, method=False, function=False,
       name="_inv")
def _inv(A):
    return (A,), ()


def _inv_checked(A, fname):
    _square_check(A, fname)
    _float_check(A, fname)
    if A.numel():
        _raise_singular(_host(_lu_info(A)), fname, "inv")
    return _inv(A)


@_public(namespace="linalg")
def inv(A, *, out=None):
    """Inverse of a (batch of) square matrices; raises LinAlgError for a singular one."""
    return _inv_checked(A, "linalg.inv")


@_public(method=True)
def inverse(input, *, out=None):
    return _inv_checked(input, "linalg.inv")


@_public(namespace="linalg")
def inv_ex(A, *, check_errors=False, out=None):
    """``(inverse, info)`` without raising (unless ``check_errors``)."""
    _square_check(A, "linalg.inv_ex")
    _float_check(A, "linalg.inv_ex")
    info = _lu_info(A)
    if check_errors and A.numel():
        _raise_singular(_host(info), "linalg.inv_ex", "inv")
    return return_type("linalg_inv_ex", ["inverse", "info"])(_inv(A), info)


# ------------------------------------------------------------------------------------ solve
def _is_vector_rhs(A, B):
    return B.dim() == 1 or (B.dim() == A.dim() - 1 and B._shape == A._shape[:-1])


def _solve_fwd(a, b, left, vector):
    if vector:
        b = b[..., None]
    if not left:
        a, b = _mT(a), _mT(b)
    batch = jnp.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = jnp.broadcast_to(a, batch + a.shape[-2:])
    b = jnp.broadcast_to(b, batch + b.shape[-2:])
    x = jnp.linalg.solve(a, b)
    if not left:
        x = _mT(x)
    return x[..., 0] if vector else x


@defop(_solve_fwd, node="LinalgSolveExBackward0", saves={0: (0, "result"), 1: (0,)}, method=False,
       function=False, name="_solve", promote=False)
def _solve(A, B, left, vector):
    return (A, B), (("left", bool(left)), ("vector", bool(vector)))


def _solve_checks(A, B, fname, left):
    _square_check(A, fname)
    _float_check(A, fname)
    _same_dtype(A, B, fname)
    vector = _is_vector_rhs(A, B)
    if vector and not left:
        vector = B.dim() == 1
    Bm = B._shape + (1,) if vector else B._shape
    if len(Bm) < 2:
        raise RuntimeError(f"{fname}: The input tensor B must have at least 2 dimensions.")
    n = A._shape[-1]
    if (Bm[-2] if left else Bm[-1]) != n:
        if left:
            raise RuntimeError(f"{fname}: Incompatible shapes of A and B for the equation AX = B "
                               f"({A._shape[-2]}x{A._shape[-1]} and {Bm[-2]}x{Bm[-1]})")
        raise RuntimeError(f"{fname}: Incompatible shapes of A and B for the equation XA = B "
                           f"({A._shape[-2]}x{A._shape[-1]} and {Bm[-2]}x{Bm[-1]})")
    return vector


@_public(namespace="linalg")
def solve(A, B, *, left=True, out=None):
    """Solve ``A X = B`` (or ``X A = B`` with ``left=False``); raises LinAlgError for a singular A."""
    vector = _solve_checks(A, B, "linalg.solve", left)
    if A.numel():
        _raise_singular(_host(_lu_info(A)), "torch.linalg.solve", "solve")
    return _solve(A, B, left, vector)


@_public(namespace="linalg")
def solve_ex(A, B, *, left=True, check_errors=False, out=None):
    vector = _solve_checks(A, B, "linalg.solve_ex", left)
    info = _lu_info(A)
    if check_errors and A.numel():
        _raise_singular(_host(info), "torch.linalg.solve_ex", "solve")
    return return_type("linalg_solve_ex", ["result", "info"])(_solve(A, B, left, vector), info)


# ------------------------------------------------------------------------------------ cholesky
def _chol_fwd(a, upper):
    l = lax.linalg.cholesky(a, symmetrize_input=False)
    # torch reads only the lower (or upper) triangle; JAX's routine reads the lower one
    return _mH(l) if upper else l


def _chol_input(a, upper):
    return _mH(a) if upper else a


def _cholesky_fwd(a, upper):
    return _chol_fwd(_chol_input(a, upper), upper)


def _chol_sym(a, upper):
    """The Hermitian matrix that torch's Cholesky reads (one triangle mirrored)."""
    tri = jnp.triu(a) if upper else jnp.tril(a)
    d = jnp.diagonal(tri, axis1=-2, axis2=-1)
    return tri + _mH(tri) - jnp.vectorize(jnp.diag, signature="(n)->(n,n)")(d.real.astype(a.dtype) if a.dtype.kind == "c" else d)


def _chol_value(a, upper):
    return _chol_fwd(_chol_sym(a, upper), upper)


def _torch_jvp_pair(value, tangent):
    """Two ``jax.custom_jvp`` versions of ``value(a, flag)``: the first's derivative symmetrises ``dA``
    (torch's backward formula, which reads one triangle for the value and returns a Hermitian
    gradient: used by reverse mode), the second's reads all of ``dA`` (torch's forward-mode jvp
    formula). ``tangent(flag, primals, tangents, sym)`` computes both."""
    pair = []
    for sym in (True, False):
        f = jax.custom_jvp(value, nondiff_argnums=(1,))
        f.defjvp(functools.partial(lambda sym, flag, primals, tangents: tangent(flag, primals, tangents, sym), sym))
        pair.append(f)
    return pair


def _chol_tangent(upper, primals, tangents, sym):
    (a,), (da,) = primals, tangents
    l = _chol_fwd(_chol_sym(a, upper), False)
    if sym:
        da = (da + _mH(da)) / 2
    t = lax.linalg.triangular_solve(l, da, left_side=False, lower=True, transpose_a=True, conjugate_a=True)
    t = lax.linalg.triangular_solve(l, t, left_side=True, lower=True)
    phi = jnp.tril(t) - 0.5 * t * jnp.eye(t.shape[-1], dtype=t.dtype)
    dl = l @ phi
    return (_mH(l), _mH(dl)) if upper else (l, dl)


# torch's Cholesky derivative ``dL = L Phi(L^{-1} dA L^{-H})`` (its backward symmetrises dA)
_chol_cj, _chol_cj_fw = _torch_jvp_pair(_chol_value, _chol_tangent)


@defop(_chol_cj, node="LinalgCholeskyExBackward0", saves={0: ("result",)}, method=False, function=False,
       name="_cholesky", jvp=_chol_cj_fw)
def _cholesky(A, upper, node):
    return (A,), (("upper", bool(upper)),), node


def _chol_info(a, upper):
    """LAPACK potrf's info: the order of the first leading minor that is not positive-definite."""
    a = _chol_sym(a, upper)
    n = a.shape[-1]
    if n == 0:
        return jnp.zeros(a.shape[:-2], jnp.int32)
    idx = jnp.arange(n)
    # leading minor of order k: A with rows/cols >= k replaced by the identity
    keep = (idx[None, :, None] < jnp.arange(1, n + 1)[:, None, None]) & (idx[None, None, :] < jnp.arange(1, n + 1)[:, None, None])
    eye = jnp.eye(n, dtype=a.dtype)
    minors = jnp.where(keep, a[..., None, :, :], eye)
    sign, _ = jnp.linalg.slogdet(minors)
    bad = jnp.real(sign) <= 0
    l = _chol_fwd(a, False)
    failed = jnp.any(jnp.isnan(l), axis=(-2, -1)) | jnp.any(bad, axis=-1)
    return jnp.where(failed, jnp.argmax(bad, axis=-1) + 1, 0).astype(jnp.int32)


@defop(_chol_info, node="", nondiff_out=True, method=False, function=False, name="_chol_info")
def _cholesky_info(A, upper):
    return (A,), (("upper", bool(upper)),)


def _raise_not_pd(info, fname):
    if info is None:
        return
    info = np.asarray(info)
    bad = np.argwhere(info.reshape(-1) > 0)
    if bad.size:
        i = int(bad[0][0])
        raise LinAlgError(f"{fname}: {_batch_prefix(i, info.ndim)}The factorization could not be completed because "
                          f"the input is not positive-definite (the leading minor of order "
                          f"{int(info.reshape(-1)[i])} is not positive-definite).")


@_public(namespace="linalg", name="cholesky")
def linalg_cholesky(A, *, upper=False, out=None):
    """Cholesky factor ``L`` (``A = L L^H``), or ``U`` with ``upper=True``."""
    _square_check(A, "linalg.cholesky")
    _float_check(A, "linalg.cholesky")
    if A.numel():
        _raise_not_pd(_host(_cholesky_info(A, upper)), "linalg.cholesky")
    return _cholesky(A, upper, "LinalgCholeskyExBackward0")


@_public(namespace="linalg")
def cholesky_ex(A, *, upper=False, check_errors=False, out=None):
    _square_check(A, "linalg.cholesky_ex")
    _float_check(A, "linalg.cholesky_ex")
    info = _cholesky_info(A, upper)
    if check_errors and A.numel():
        _raise_not_pd(_host(info), "linalg.cholesky_ex")
    return return_type("linalg_cholesky_ex", ["L", "info"])(_cholesky(A, upper, "LinalgCholeskyExBackward0"), info)


@_public(method=True)
def cholesky(input, upper=False, *, out=None):
    warnings.warn("torch.cholesky is deprecated in favor of torch.linalg.cholesky and will be removed in a future "
                  "PyTorch release.", UserWarning, stacklevel=2)
    _square_check(input, "cholesky")
    _float_check(input, "cholesky")
    if input.numel():
        _raise_not_pd(_host(_cholesky_info(input, upper)), "cholesky")
    return _cholesky(input, upper, "CholeskyBackward0")


def _chol_solve_fwd(b, l, upper):
    if upper:
        l = _mH(l)
    batch = jnp.broadcast_shapes(b.shape[:-2], l.shape[:-2])
    b = jnp.broadcast_to(b, batch + b.shape[-2:])
    l = jnp.broadcast_to(l, batch + l.shape[-2:])
    y = lax.linalg.triangular_solve(l, b, left_side=True, lower=True)
    return lax.linalg.triangular_solve(l, y, left_side=True, lower=True, transpose_a=True, conjugate_a=True)


def _tri_part(l, upper):
    return jnp.triu(l) if upper else jnp.tril(l)


def _tri_value_full_derivative(f):
    """``f`` evaluated on the triangle torch reads, differentiated as torch's formula does: as if the
    factor were the full matrix (torch's gradients for the factor are not masked to the triangle)."""

    @functools.partial(jax.custom_jvp, nondiff_argnums=(2,))
    def g(x, l, upper):
        return f(x, _tri_part(l, upper), upper)

    @g.defjvp
    def g_jvp(upper, primals, tangents):
        x, l = primals
        return jax.jvp(lambda x_, l_: f(x_, l_, upper), (x, _tri_part(l, upper)), tangents)

    return g


def _chol_solve_full(b, l, upper):
    batch = jnp.broadcast_shapes(b.shape[:-2], l.shape[:-2])
    b = jnp.broadcast_to(b, batch + b.shape[-2:])
    l = jnp.broadcast_to(l, batch + l.shape[-2:])
    a = _mH(l) @ l if upper else l @ _mH(l)
    return jnp.linalg.solve(a, b)


_chol_solve_cj = _tri_value_full_derivative(_chol_solve_full)
_chol_inv_cj = _tri_value_full_derivative(
    lambda x, l, upper: jnp.linalg.inv(_mH(l) @ l if upper else l @ _mH(l)) + 0 * x)


@defop(lambda b, l, upper: _chol_solve_cj(b, l, upper), node="CholeskySolveBackward0",
       saves={0: (1, "result"), 1: (1, "result")}, method=True)
def cholesky_solve(B, L, upper=False, *, out=None):
    """Solve ``A X = B`` given the Cholesky factor of ``A``."""
    _same_dtype(B, L, "cholesky_solve")
    return (B, L), (("upper", bool(upper)),)


def _chol_inv_fwd(l, upper):
    return _chol_inv_cj(jnp.zeros((), l.dtype), l, upper)


@defop(_chol_inv_fwd, node="CholeskyInverseBackward0", saves={0: (0, "result")}, method=True)
def cholesky_inverse(L, upper=False, *, out=None):
    """Inverse of ``A`` from its Cholesky factor."""
    _square_check(L, "cholesky_inverse", "input")
    return (L,), (("upper", bool(upper)),)


# ------------------------------------------------------------------------------------ eigh / eig
def _eigh_value(a, lower):
    v, w = lax.linalg.eigh(a, lower=lower, symmetrize_input=False)
    return w.astype(_real_dtype(_dtypes.as_dtype(a.dtype)).np), v


def _eigh_tangent(lower, primals, tangents, sym):
    (a,), (da,) = primals, tangents
    w, v = _eigh_cj(a, lower)  # its own derivative again (double backward follows torch)
    if sym:
        da = (da + _mH(da)) / 2
    vdav = _mH(v) @ da @ v
    dw = jnp.real(jnp.diagonal(vdav, axis1=-2, axis2=-1)).astype(w.dtype)
    e = w[..., None, :] - w[..., :, None]
    eye = jnp.eye(w.shape[-1], dtype=bool)
    f = jnp.where(eye, 0, vdav / jnp.where(eye, 1, e).astype(v.dtype))
    dv = v @ f
    return (w, v), (dw, dv)


# torch's ``linalg_eig_backward`` (Hermitian case) / ``linalg_eig_jvp`` (forward mode, all of dA)
_eigh_cj, _eigh_cj_fw = _torch_jvp_pair(_eigh_value, _eigh_tangent)


def _eigh_fwd(a, lower):
    return _eigh_cj(a, lower)


def _eigh_fw(a, lower):
    return _eigh_cj_fw(a, lower)


_eigh = _multi("eigh", "LinalgEighBackward0", jvp=_eigh_fw)(_eigh_fwd)


def _uplo(UPLO, fname):
    if UPLO not in ("L", "U", "l", "u"):
        raise RuntimeError(f"Expected UPLO argument to be 'L' or 'U', but got {UPLO}")
    return UPLO in ("L", "l")


@_public(namespace="linalg")
def eigh(A, UPLO="L", *, out=None):
    """Eigen-decomposition of a Hermitian matrix: ``(eigenvalues, eigenvectors)``, ascending."""
    _square_check(A, "linalg.eigh")
    _float_check(A, "linalg.eigh")
    return return_type("linalg_eigh", ["eigenvalues", "eigenvectors"])(*_eigh((A,), (("lower", _uplo(UPLO, "")),), 2))


@_public(namespace="linalg")
def eigvalsh(A, UPLO="L", *, out=None):
    _square_check(A, "linalg.eigvalsh")
    _float_check(A, "linalg.eigvalsh")
    return _eigh.op((A,), (("lower", _uplo(UPLO, "")),), 0)


def _cdtype(d):
    return {"float32": np.complex64, "float64": np.complex128}.get(np.dtype(d).name, d)


def _eig_tangent(a, w, v, da):
    """torch's ``linalg_eig_jvp``: eigenvectors of norm 1 (LAPACK's normalisation)."""
    da = da.astype(v.dtype)
    vinv_da_v = jnp.linalg.solve(v, da @ v)
    dw = jnp.diagonal(vinv_da_v, axis1=-2, axis2=-1)
    e = w[..., None, :] - w[..., :, None]
    n = w.shape[-1]
    eye = jnp.eye(n, dtype=bool)
    f = jnp.where(eye, 0, vinv_da_v / jnp.where(eye, 1, e))
    dv = v @ f
    dv = dv - v * jnp.real(jnp.sum(jnp.conj(v) * dv, axis=-2))[..., None, :].astype(v.dtype)
    return dw, dv


@jax.custom_jvp
def _eig_pair(a):
    w, v = jnp.linalg.eig(a)
    return w, v


@_eig_pair.defjvp
def _eig_pair_jvp(primals, tangents):
    (a,), (da,) = primals, tangents
    w, v = _eig_pair(a)
    return (w, v), _eig_tangent(a, w, v, da)


_eig = _multi("eig", "LinalgEigBackward0")(lambda a: _eig_pair(a))


@_public(namespace="linalg")
def eig(A, *, out=None):
    """Eigen-decomposition of a general square matrix (complex results)."""
    _square_check(A, "linalg.eig")
    _float_check(A, "linalg.eig")
    return return_type("linalg_eig", ["eigenvalues", "eigenvectors"])(*_eig((A,), (), 2))


@_public(namespace="linalg")
def eigvals(A, *, out=None):
    _square_check(A, "linalg.eigvals")
    _float_check(A, "linalg.eigvals")
    return _eig.op((A,), (), 0)


# ------------------------------------------------------------------------------------ svd
def _svd_tangent(a, da, u, s, vh):
    """JAX's / torch's SVD jvp for the reduced factors (``u``: m x k, ``vh``: k x n)."""
    ut, v = _mH(u), _mH(vh)
    s_dim = s[..., None, :]
    ds_mat = ut @ da @ v
    ds = jnp.real(jnp.diagonal(ds_mat, axis1=-2, axis2=-1)).astype(s.dtype)
    s_diffs = (s_dim + _mT(s_dim)) * (s_dim - _mT(s_dim))
    eye = jnp.eye(s.shape[-1], dtype=s.dtype)
    f = 1 / (s_diffs + eye) - eye
    dss = s_dim.astype(a.dtype) * ds_mat
    sds = _mT(s_dim).astype(a.dtype) * ds_mat
    s_zeros = (s == 0).astype(s.dtype)
    s_inv = 1 / (s + s_zeros) - s_zeros
    s_inv_mat = s_inv[..., None, :] * eye
    dudv_diag = 0.5 * (ds_mat - _mH(ds_mat)) * s_inv_mat.astype(a.dtype)
    du = u @ (f.astype(a.dtype) * (dss + _mH(dss)) + dudv_diag)
    dv = v @ (f.astype(a.dtype) * (sds + _mH(sds)))
    m, n = a.shape[-2:]
    if m > n:
        dav = da @ v
        du = du + (dav - u @ (ut @ dav)) / s_dim.astype(a.dtype)
    if n > m:
        dahu = _mH(da) @ u
        dv = dv + (dahu - v @ (vh @ dahu)) / s_dim.astype(a.dtype)
    return du, ds, _mH(dv)


@functools.partial(jax.custom_jvp, nondiff_argnums=(1,))
def _svd3(a, full):
    u, s, vh = jnp.linalg.svd(a, full_matrices=full)
    return u, s.astype(_real_dtype(_dtypes.as_dtype(a.dtype)).np), vh


@_svd3.defjvp
def _svd3_jvp(full, primals, tangents):
    (a,), (da,) = primals, tangents
    u, s, vh = _svd3(a, full)
    k = s.shape[-1]
    # torch differentiates the first k columns/rows only (derivatives.yaml narrows grad_U / grad_Vh)
    du, ds, dvh = _svd_tangent(a, da, u[..., :, :k], s, vh[..., :k, :])
    if full:
        du = jnp.concatenate([du, jnp.zeros(u.shape[:-1] + (u.shape[-1] - k,), du.dtype)], -1)
        dvh = jnp.concatenate([dvh, jnp.zeros(vh.shape[:-2] + (vh.shape[-2] - k, vh.shape[-1]), dvh.dtype)], -2)
    return (u, s, vh), (du, ds, dvh)


_svd = _multi("svd", "LinalgSvdBackward0")(lambda a, full: _svd3(a, full))


def _svdvals_fwd(a):
    return _svd3(a, False)[1]


@_public(namespace="linalg", name="svd")
def linalg_svd(A, full_matrices=True, *, driver=None, out=None):
    """``(U, S, Vh)`` with ``A = U diag(S) Vh``."""
    _matrix_check(A, "linalg.svd")
    _float_check(A, "linalg.svd")
    return return_type("linalg_svd", ["U", "S", "Vh"])(*_svd((A,), (("full", bool(full_matrices)),), 3))


@_public(namespace="linalg")
def svdvals(A, *, driver=None, out=None):
    _matrix_check(A, "linalg.svdvals")
    _float_check(A, "linalg.svdvals")
    return _svd.op((A,), (("full", False),), 1)


@_public(method=True)
def svd(input, some=True, compute_uv=True, *, out=None):
    """The old ``torch.svd``: ``(U, S, V)`` (V, not Vh)."""
    _matrix_check(input, "linalg.svd")
    _float_check(input, "linalg.svd")
    U, S, Vh = _svd((input,), (("full", not some),), 3)
    if not compute_uv:
        m, n = input._shape[-2:]
        z = functools.partial(zeros, dtype=input.dtype, device=input.device)
        return return_type("svd", ["U", "S", "V"])(z(*input._shape[:-2], m, m if not some else min(m, n)), S,
                                                    z(*input._shape[:-2], n, n if not some else min(m, n)))
    return return_type("svd", ["U", "S", "V"])(U, S, Vh.mH)


# ------------------------------------------------------------------------------------ qr
def _qr_fwd(a, mode):
    if mode == "r":
        r = jnp.linalg.qr(a, mode="r")
        return jnp.zeros((0,), a.dtype), r
    return jnp.linalg.qr(a, mode=mode)


_qr = _multi("qr", "LinalgQrBackward0")(_qr_fwd)


@_public(namespace="linalg", name="qr")
def linalg_qr(A, mode="reduced", *, out=None):
    """``(Q, R)``; ``mode`` is ``'reduced'``, ``'complete'`` or ``'r'`` (Q empty)."""
    _matrix_check(A, "linalg.qr")
    _float_check(A, "linalg.qr")
    if mode not in ("reduced", "complete", "r"):
        raise RuntimeError(f"qr received unrecognized mode '{mode}' but expected one of 'reduced' (default), "
                           "'r', or 'complete'")
    return return_type("linalg_qr", ["Q", "R"])(*_qr((A,), (("mode", mode),), 2))


@_public(method=True)
def qr(input, some=True, *, out=None):
    _matrix_check(input, "linalg.qr")
    _float_check(input, "linalg.qr")
    return return_type("qr", ["Q", "R"])(*_qr((input,), (("mode", "reduced" if some else "complete"),), 2))


def _geqrf_fwd(a):
    from jax._src.lax import linalg as _lx

    return _lx.geqrf(a)


_geqrf = _multi("geqrf", "GeqrfBackward0")(_geqrf_fwd)


@_public(method=True)
def geqrf(input, *, out=None):
    """LAPACK's geqrf: ``(a, tau)``, the Householder reflectors of a QR factorization."""
    _matrix_check(input, "geqrf", "input")
    return return_type("geqrf", ["a", "tau"])(*_geqrf((input,), (), 2))


def _householder(a, tau, m_cols):
    """``H_1 ... H_k`` applied to the first ``m_cols`` columns of the identity."""
    m = a.shape[-2]
    k = tau.shape[-1]
    q = jnp.broadcast_to(jnp.eye(m, m_cols, dtype=a.dtype), a.shape[:-2] + (m, m_cols))
    rows = jnp.arange(m)
    for i in reversed(range(k)):
        v = jnp.where(rows == i, 1, jnp.where(rows > i, a[..., :, i], 0)).astype(a.dtype)
        # q <- (I - tau v v^H) q
        vq = jnp.einsum("...i,...ij->...j", jnp.conj(v), q)
        q = q - tau[..., i, None, None] * v[..., :, None] * vq[..., None, :]
    return q


@defop(lambda a, tau: _householder(a, tau, a.shape[-1]), node="LinalgHouseholderProductBackward0",
       saves={0: (0, 1), 1: (0, 1)}, namespace="linalg")
def householder_product(A, tau, *, out=None):
    """The first n columns of the product of Householder matrices ``H_1 ... H_k``."""
    _matrix_check(A, "torch.linalg.householder_product", "input")
    if A._shape[-2] < A._shape[-1]:
        raise RuntimeError("torch.linalg.householder_product: input.shape[-2] must be greater than or equal to "
                           "input.shape[-1]")
    if tau._shape[-1] > A._shape[-1]:
        raise RuntimeError("torch.linalg.householder_product: input.shape[-1] must be greater than or equal to "
                           "tau.shape[-1]")
    return (A, tau), ()


orgqr = householder_product


def _ormqr_fwd(a, tau, c, left, transpose):
    q = _householder(a, tau, a.shape[-2])
    if transpose:
        q = _mH(q)
    return q @ c if left else c @ q


@defop(_ormqr_fwd, node="OrmqrBackward0", saves={0: (0, 1, 2), 1: (0, 1, 2), 2: (0, 1)}, method=True)
def ormqr(input, tau, other, left=True, transpose=False, *, out=None):
    """Multiply ``other`` by the Q of a geqrf factorization."""
    for t, what in ((input, "input"), (other, "other")):
        if t.dim() < 2:
            raise RuntimeError(f"torch.ormqr: {what} must have at least 2 dimensions.")
    if other._shape[-2 if left else -1] != input._shape[-2]:
        d = -2 if left else -1
        raise RuntimeError(f"torch.ormqr: other.shape[{d}] must be equal to input.shape[-2]")
    if tau._shape[-1:] and tau._shape[-1] > input._shape[-1]:
        raise RuntimeError("torch.ormqr: tau.shape[-1] must be less than or equal to input.shape[-1]")
    return (input, tau, other), (("left", bool(left)), ("transpose", bool(transpose)))


# ------------------------------------------------------------------------------------ LU
def _lu_factor_fwd(a):
    lu, piv, _ = lax.linalg.lu(a)
    return lu, (piv + 1).astype(jnp.int32), jnp.zeros(a.shape[:-2], jnp.int32)


_lu_factor = _multi("lu_factor", "LinalgLuFactorExBackward0")(_lu_factor_fwd)


def _pivot_check(pivot, fname):
    if not pivot:
        raise RuntimeError(f"{fname}: LU without pivoting is not implemented on the CPU")


@_public(namespace="linalg")
def lu_factor_ex(A, *, pivot=True, check_errors=False, out=None):
    _matrix_check(A, "torch.linalg.lu_factor_ex")
    _float_check(A, "linalg.lu_factor_ex")
    _pivot_check(pivot, "linalg.lu_factor")
    LU, piv, info = _lu_factor((A,), (), 3)
    info = _lu_info(A) if A._shape[-1] == A._shape[-2] else info
    return return_type("linalg_lu_factor_ex", ["LU", "pivots", "info"])(LU, piv, info)


@_public(namespace="linalg")
def lu_factor(A, *, pivot=True, out=None):
    """``(LU, pivots)``: the packed LU factorization with partial pivoting (pivots 1-based, as LAPACK's)."""
    _matrix_check(A, "torch.linalg.lu_factor")
    _float_check(A, "linalg.lu_factor")
    _pivot_check(pivot, "linalg.lu_factor")
    LU, piv, _ = _lu_factor((A,), (), 3)
    if A._shape[-1] == A._shape[-2] and A.numel():
        info = _host(_lu_info(A))
        if info is not None and (np.asarray(info) > 0).any():
            i = int(np.argwhere(np.asarray(info).reshape(-1) > 0)[0][0])
            raise RuntimeError(f"torch.linalg.lu_factor: {_batch_prefix(i, np.asarray(info).ndim)}U[{int(np.asarray(info).reshape(-1)[i])},"
                              f"{int(np.asarray(info).reshape(-1)[i])}] is zero and using it on lu_solve would result "
                              "in a division by zero. If you still want to perform the factorization, consider "
                              "calling linalg.lu(A, pivot) or linalg.lu_factor_ex(A, pivot)")
    return return_type("linalg_lu_factor", ["LU", "pivots"])(LU, piv)


@_public(method=True, name="lu")
def lu_old(A, pivot=True, get_infos=False, out=None):
    """The old ``torch.lu``: ``(LU, pivots)`` or ``(LU, pivots, infos)``."""
    _pivot_check(pivot, "linalg.lu_factor")
    LU, piv, info = lu_factor_ex(A, pivot=pivot)
    return (LU, piv, info) if get_infos else (LU, piv)


def _unpack(lu, perm_or_none):
    m, n = lu.shape[-2:]
    k = min(m, n)
    L = jnp.tril(lu[..., :, :k], -1) + jnp.eye(m, k, dtype=lu.dtype)
    U = jnp.triu(lu[..., :k, :])
    return L, U


def _perm_matrix(perm, m, dtype):
    # A[perm] = L U  =>  A = P L U with P = I[perm]^T
    return jnp.swapaxes(jax.nn.one_hot(perm, m, dtype=dtype), -1, -2)


def _lu_fwd(a):
    lu, _, perm = lax.linalg.lu(a)
    L, U = _unpack(lu, None)
    return _perm_matrix(perm, a.shape[-2], a.dtype), L, U


_lu = _multi("lu", "LinalgLuBackward0")(_lu_fwd)


@_public(namespace="linalg", name="lu")
def linalg_lu(A, *, pivot=True, out=None):
    """``(P, L, U)`` with ``A = P L U``."""
    _matrix_check(A, "linalg.lu")
    _float_check(A, "linalg.lu")
    _pivot_check(pivot, "linalg.lu")
    P, L, U = _lu((A,), (), 3)
    return return_type("linalg_lu", ["P", "L", "U"])(P.detach(), L, U)


def _lu_unpack_fwd(lu, piv, unpack_data, unpack_pivots):
    m = lu.shape[-2]
    if unpack_pivots:
        perm = lax.linalg.lu_pivots_to_permutation((piv - 1).astype(jnp.int32), m)
        P = _perm_matrix(perm, m, lu.dtype)
    else:
        P = jnp.zeros((0,), lu.dtype)
    if unpack_data:
        L, U = _unpack(lu, None)
    else:
        L = U = jnp.zeros((0,), lu.dtype)
    return P, L, U


_lu_unpack = _multi("lu_unpack", "LuUnpackBackward0")(_lu_unpack_fwd)


@_public()
def lu_unpack(LU_data, LU_pivots, unpack_data=True, unpack_pivots=True, *, out=None):
    """``(P, L, U)`` from a packed LU factorization."""
    P, L, U = _lu_unpack((LU_data, LU_pivots), (("unpack_data", bool(unpack_data)),
                                                 ("unpack_pivots", bool(unpack_pivots))), 3)
    return return_type("lu_unpack", ["P", "L", "U"])(P.detach(), L, U)


def _lu_solve_fwd(lu, piv, b, left, adjoint):
    batch = jnp.broadcast_shapes(lu.shape[:-2], b.shape[:-2], piv.shape[:-1])
    lu = jnp.broadcast_to(lu, batch + lu.shape[-2:])
    piv = jnp.broadcast_to(piv, batch + piv.shape[-1:])
    b = jnp.broadcast_to(b, batch + b.shape[-2:])
    p = (piv - 1).astype(jnp.int32)
    cplx = jnp.iscomplexobj(lu)
    if left:
        trans = (2 if cplx else 1) if adjoint else 0
        return jax.scipy.linalg.lu_solve((lu, p), b, trans=trans)
    # X A = B  <=>  A^T X^T = B^T ;  X A^H = B  <=>  A X^H = B^H
    if adjoint:
        return _mH(jax.scipy.linalg.lu_solve((lu, p), _mH(b), trans=0))
    return _mT(jax.scipy.linalg.lu_solve((lu, p), _mT(b), trans=1))


@defop(_lu_solve_fwd, node="LinalgLuSolveBackward0", saves={0: (0, 1, 2, "result"), 2: (0, 1)},
       namespace="linalg", method=False, nondiff=(1,))
def lu_solve(LU, pivots, B, *, left=True, adjoint=False, out=None):
    """Solve ``A X = B`` from ``lu_factor``'s ``(LU, pivots)``."""
    _same_dtype(LU, B, "linalg.lu_solve")
    return (LU, pivots, B), (("left", bool(left)), ("adjoint", bool(adjoint)))


@_public(method=True, name="lu_solve")
def lu_solve_old(input, LU_data, LU_pivots, *, out=None):
    """The old ``torch.lu_solve(b, LU, pivots)``."""
    return lu_solve(LU_data, LU_pivots, input)


# ------------------------------------------------------------------------------------ triangular
def _tri_solve_fwd(a, b, upper, left, unit):
    batch = jnp.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = jnp.broadcast_to(a, batch + a.shape[-2:])
    b = jnp.broadcast_to(b, batch + b.shape[-2:])
    a = jnp.triu(a) if upper else jnp.tril(a)
    return lax.linalg.triangular_solve(a, b, left_side=left, lower=not upper, unit_diagonal=unit)


@defop(_tri_solve_fwd, node="LinalgSolveTriangularBackward0", saves={0: (0, "result"), 1: (0,)},
       namespace="linalg", method=False)
def solve_triangular(A, B, *, upper, left=True, unitriangular=False, out=None):
    """Solve a triangular system ``A X = B`` (``X A = B`` with ``left=False``)."""
    _matrix_check(A, "linalg.solve_triangular")
    _same_dtype(A, B, "linalg.solve_triangular")
    return (A, B), (("upper", bool(upper)), ("left", bool(left)), ("unit", bool(unitriangular)))


def _tri_solve_old_fwd(b, a, upper, transpose, unit):
    batch = jnp.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = jnp.broadcast_to(a, batch + a.shape[-2:])
    b = jnp.broadcast_to(b, batch + b.shape[-2:])
    t = jnp.triu(a) if upper else jnp.tril(a)
    x = lax.linalg.triangular_solve(t, b, left_side=True, lower=not upper, transpose_a=transpose, unit_diagonal=unit)
    return x, a


@functools.partial(jax.custom_jvp, nondiff_argnums=(2, 3, 4))
def _tri_old_fw(b, a, upper, transpose, unit):
    return _tri_solve_old_fwd(b, a, upper, transpose, unit)


@_tri_old_fw.defjvp
def _tri_old_fw_jvp(upper, transpose, unit, primals, tangents):
    """torch's ``triangular_solve_jvp``: ``dX = triangular_solve(dB - dA @ X, A)`` on all of ``dA`` (its
    backward masks the gradient to the triangle)."""
    (b, a), (db, da) = primals, tangents
    x, ab = _tri_solve_old_fwd(b, a, upper, transpose, unit)
    da = jnp.broadcast_to(da, ab.shape)
    dx, _ = _tri_solve_old_fwd(jnp.broadcast_to(db, x.shape) - da @ x, a, upper, transpose, unit)
    return (x, ab), (dx, da)


_tri_old = _multi("triangular_solve", "TriangularSolveBackward0", jvp=_tri_old_fw)(_tri_solve_old_fwd)


@_public(method=True)
def triangular_solve(b, A, upper=True, transpose=False, unitriangular=False, *, out=None):
    """The old ``torch.triangular_solve``: ``(solution, cloned_coefficient)``."""
    warnings.warn("torch.triangular_solve is deprecated in favor of torch.linalg.solve_triangular and will be "
                  "removed in a future PyTorch release.", UserWarning, stacklevel=2)
    x, a = _tri_old((b, A), (("upper", bool(upper)), ("transpose", bool(transpose)), ("unit", bool(unitriangular))), 2)
    return return_type("triangular_solve", ["solution", "cloned_coefficient"])(x, a)


# ------------------------------------------------------------------------------------ pinv / rank
def _tol(s, atol, rtol, m, n):
    eps = jnp.finfo(s.dtype).eps
    smax = jnp.max(s, axis=-1, keepdims=True) if s.shape[-1] else jnp.zeros(s.shape[:-1] + (1,), s.dtype)
    if rtol is None:
        rtol = (eps * max(m, n)) if (atol is None or (not hasattr(atol, "shape") and atol == 0)) else 0.0
    return jnp.maximum(0.0 if atol is None else atol, rtol * smax)


def _pinv_value(a, atol, rtol, hermitian):
    m, n = a.shape[-2:]
    if hermitian:
        v, w = lax.linalg.eigh(a, lower=True, symmetrize_input=False)
        s = jnp.abs(w)
        tol = _tol(s, atol, rtol, m, n)
        winv = jnp.where(s > tol, 1 / jnp.where(s > tol, w, 1), 0).astype(a.dtype)
        return (v * winv[..., None, :]) @ _mH(v)
    u, s, vh = jnp.linalg.svd(a, full_matrices=False)
    tol = _tol(s, atol, rtol, m, n)
    sinv = jnp.where(s > tol, 1 / jnp.where(s > tol, s, 1), 0).astype(a.dtype)
    return (_mH(vh) * sinv[..., None, :]) @ _mH(u)


@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2, 3))
def _pinv_cj(a, atol, rtol, hermitian):
    return _pinv_value(a, atol, rtol, hermitian)


@_pinv_cj.defjvp
def _pinv_jvp(atol, rtol, hermitian, primals, tangents):
    (a,), (a_dot,) = primals, tangents
    p = _pinv_cj(a, atol, rtol, hermitian)
    return p, _pinv_tangent(a, a_dot, p)


def _pinv_tangent(a, a_dot, p):
    """Golub & Pereyra's derivative of the pseudo-inverse (torch's ``pinv_backward``, JAX's ``pinv`` jvp)."""
    m, n = a.shape[-2:]
    if m >= n:
        s = (p @ _mH(p)) @ _mH(a_dot)
        t = (_mH(a_dot) @ _mH(p)) @ p
        p_dot = -(p @ a_dot) @ p + s - (s @ a) @ p + t - (p @ a) @ t
    else:
        s = p @ (_mH(p) @ _mH(a_dot))
        t = _mH(a_dot) @ (_mH(p) @ p)
        p_dot = -p @ (a_dot @ p) + s - s @ (a @ p) + t - p @ (a @ t)
    return p_dot


def _scalar_tol(x):
    if isinstance(x, Tensor):
        if x.dim():
            raise NotImplementedError("funcgrad: tensor-valued atol/rtol in torch.linalg.pinv/matrix_rank")
        return float(x.item())
    return None if x is None else float(x)


def _pinv_op_fwd(a, *tols, atol, rtol, hermitian):
    if tols:
        tl = list(tols)
        at = tl.pop(0) if atol == "t" else atol
        rt = tl.pop(0) if rtol == "t" else rtol
        return _pinv_tensor_tol(a, at, rt, hermitian)
    return _pinv_cj(a, atol, rtol, hermitian)


def _pinv_tensor_tol(a, atol, rtol, hermitian):
    """pinv with per-matrix tolerances (tensors): the tolerance enters as a broadcast array."""
    m, n = a.shape[-2:]
    at = None if atol is None else jnp.asarray(atol)[..., None]
    rt = None if rtol is None else jnp.asarray(rtol)[..., None]

    @jax.custom_jvp
    def f(x):
        if hermitian:
            v, w = lax.linalg.eigh(x, lower=True, symmetrize_input=False)
            sv = jnp.abs(w)
            tol = _tol(sv, at, rt, m, n)
            winv = jnp.where(sv > tol, 1 / jnp.where(sv > tol, w, 1), 0).astype(x.dtype)
            return (v * winv[..., None, :]) @ _mH(v)
        u, sv, vh = jnp.linalg.svd(x, full_matrices=False)
        tol = _tol(sv, at, rt, m, n)
        sinv = jnp.where(sv > tol, 1 / jnp.where(sv > tol, sv, 1), 0).astype(x.dtype)
        return (_mH(vh) * sinv[..., None, :]) @ _mH(u)

    @f.defjvp
    def f_jvp(primals, tangents):
        p = f(primals[0])
        return p, _pinv_tangent(primals[0], tangents[0], p)

    return f(a)


@defop(_pinv_op_fwd, node="LinalgPinvBackward0",
       saves={0: (0, "result")}, namespace="linalg", method=False)
def pinv(A, rcond=None, hermitian=False, *, atol=None, rtol=None, out=None):
    """Moore-Penrose pseudo-inverse (singular values below ``max(atol, rtol * s_max)`` dropped)."""
    _matrix_check(A, "linalg.pinv")
    _float_check(A, "linalg.pinv")
    if rcond is not None:
        rtol = rcond
    if isinstance(atol, Tensor) and atol.dim() or isinstance(rtol, Tensor) and rtol.dim():
        return (A,) + tuple(t.to(_real_dtype(A._dtype)) if isinstance(t, Tensor) else t
                            for t in (atol, rtol) if isinstance(t, Tensor)), \
            (("atol", "t" if isinstance(atol, Tensor) else _scalar_tol(atol)),
             ("rtol", "t" if isinstance(rtol, Tensor) else _scalar_tol(rtol)), ("hermitian", bool(hermitian)))
    return (A,), (("atol", _scalar_tol(atol)), ("rtol", _scalar_tol(rtol)), ("hermitian", bool(hermitian)))


@public(method=True)
def pinverse(input, rcond=1e-15):
    return pinv(input, rtol=rcond)


def _rank_fwd(a, *tols, atol, rtol, hermitian):
    m, n = a.shape[-2:]
    if hermitian:
        s = jnp.abs(lax.linalg.eigh(a, lower=True, symmetrize_input=False)[1])
    else:
        s = jnp.linalg.svd(a, compute_uv=False)
    if tols:
        tl = list(tols)
        atol = tl.pop(0)[..., None] if atol == "t" else atol
        rtol = tl.pop(0)[..., None] if rtol == "t" else rtol
    return jnp.sum(s > _tol(s, atol, rtol, m, n), axis=-1).astype(jnp.int64)


@defop(_rank_fwd, node="", nondiff_out=True, namespace="linalg", method=False)
def matrix_rank(A, tol=None, hermitian=False, *, atol=None, rtol=None, out=None):
    """Numerical rank: singular values above ``max(atol, rtol * s_max)``."""
    _matrix_check(A, "torch.linalg.matrix_rank")
    _float_check(A, "linalg.matrix_rank")
    if tol is not None:
        atol, rtol = tol, 0.0
    ins, params = [A], []
    for name, v in (("atol", atol), ("rtol", rtol)):
        if isinstance(v, Tensor):
            ins.append(v.to(_real_dtype(A._dtype)))
            params.append((name, "t"))
        else:
            params.append((name, None if v is None else float(v)))
    return tuple(ins), tuple(params) + (("hermitian", bool(hermitian)),)


# ------------------------------------------------------------------------------------ lstsq
def _lstsq_fwd(a, b, rcond, vector, driver, residuals):
    if vector:
        b = b[..., None]
    batch = jnp.broadcast_shapes(a.shape[:-2], b.shape[:-2])
    a = jnp.broadcast_to(a, batch + a.shape[-2:])
    b = jnp.broadcast_to(b, batch + b.shape[-2:])
    rdt = _real_dtype(_dtypes.as_dtype(a.dtype)).np
    x = _pinv_cj(a, None, rcond, False) @ b
    if residuals:
        r = jnp.sum(jnp.abs(a @ x - b) ** 2, axis=-2).astype(rdt)
        if vector:
            r = r[..., 0]
    else:
        r = jnp.zeros((0,), rdt)
    if vector:
        x = x[..., 0]
    s = jnp.linalg.svd(a, compute_uv=False).astype(rdt)
    if driver == "gels":
        rank = jnp.zeros((0,), jnp.int64)
    else:
        rank = jnp.sum(s > _tol(s, None, rcond, *a.shape[-2:]), axis=-1).astype(jnp.int64)
    sv = s if driver in ("gelsd", "gelss") else jnp.zeros((0,), rdt)
    return x, r, rank, sv


_lstsq = _multi("lstsq", "LinalgLstsqBackward0")(_lstsq_fwd)


@public(namespace="linalg")
def lstsq(A, B, rcond=None, *, driver=None):
    """Least-squares solution of ``A X = B``: ``(solution, residuals, rank, singular_values)``.

    As torch's CPU drivers: ``gelsy`` (default) gives no residuals nor singular values; the others give
    residuals when m > n and every matrix has full rank."""
    driver = driver or "gelsy"
    if driver not in ("gelsy", "gelsd", "gelss", "gels"):
        raise RuntimeError(f"torch.linalg.lstsq: parameter `driver` should be one of (gels, gelsy, gelsd, gelss)")
    _matrix_check(A, "torch.linalg.lstsq")
    _same_dtype(A, B, "torch.linalg.lstsq")
    if not (A.dim() >= B.dim() and A.dim() - B.dim() <= 1):
        raise RuntimeError("torch.linalg.lstsq: input.dim() must be greater or equal to other.dim() and "
                           "(input.dim() - other.dim()) <= 1")
    vector = B.dim() == A.dim() - 1
    m, n = A._shape[-2:]
    if (B._shape[-1] if vector else B._shape[-2]) != m:
        raise RuntimeError(f"torch.linalg.lstsq: input.size(-2) should match other.size(-{1 if vector else 2})")
    params = (("rcond", None if rcond is None else float(rcond)), ("vector", vector), ("driver", driver))
    res = False
    if m > n and driver != "gelsy":
        rank = matrix_rank(A)
        host = _host(rank)
        res = host is not None and bool((np.asarray(host) == n).all())
    x, r, rank, sv = _lstsq((A, B), params + (("residuals", res),), 4)
    return return_type("linalg_lstsq", ["solution", "residuals", "rank", "singular_values"])(x, r, rank, sv.detach())


# ------------------------------------------------------------------------------------ norms
def _vnorm_value(x, ord, axis, keepdims):
    ax = jnp.abs(x)
    if ord == 0:
        return jnp.sum(x != 0, axis=axis, keepdims=keepdims).astype(ax.dtype)
    if ord == math.inf:
        return jnp.max(ax, axis=axis, keepdims=keepdims, initial=None) if ax.size else \
            jnp.zeros(jnp.sum(ax, axis=axis, keepdims=keepdims).shape, ax.dtype)
    if ord == -math.inf:
        return jnp.min(ax, axis=axis, keepdims=keepdims)
    if ord == 1:
        return jnp.sum(ax, axis=axis, keepdims=keepdims)
    if ord == 2:
        return jnp.sqrt(jnp.sum(ax * ax, axis=axis, keepdims=keepdims))
    return jnp.sum(ax ** ord, axis=axis, keepdims=keepdims) ** (1.0 / ord)


def _vnorm_coeff(x, norm, ord, axis):
    """d norm / d x as torch's ``norm_backward`` has it (the grad is ``coeff * grad``)."""
    n = norm if axis is None and False else _expand_norm(norm, x, axis)
    ax = jnp.abs(x)
    if ord == 0:
        return jnp.zeros_like(x)
    if ord == 1:
        return _sgn_fwd(x)
    if ord == 2:
        return jnp.where(n == 0, 0, x / jnp.where(n == 0, 1, n))
    if ord in (math.inf, -math.inf):
        eq = ((ax == n) | (jnp.isnan(x) & jnp.isnan(n))).astype(ax.dtype)
        cnt = jnp.sum(eq, axis=axis, keepdims=True)
        return _sgn_fwd(x) * eq / cnt
    if ord < 1:
        scaled = _sgn_fwd(x) * jnp.where(x == 0, 0, ax ** (ord - 1))
        return scaled * n ** (1 - ord)
    if ord < 2:
        scaled = _sgn_fwd(x) * ax ** (ord - 1)
    else:
        scaled = x * ax ** (ord - 2)
    return scaled * jnp.where(n == 0, 0, 1 / jnp.where(n == 0, 1, n) ** (ord - 1))


def _expand_norm(norm, x, axis):
    if axis is None:
        return jnp.reshape(norm, (1,) * x.ndim) if norm.ndim != x.ndim else norm
    if norm.ndim != x.ndim:
        return jnp.expand_dims(norm, axis)
    return norm


@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2, 3))
def _vnorm(x, ord, axis, keepdims):
    return _vnorm_value(x, ord, axis, keepdims)


@_vnorm.defjvp
def _vnorm_jvp(ord, axis, keepdims, primals, tangents):
    (x,), (dx,) = primals, tangents
    n = _vnorm(x, ord, axis, keepdims)
    c = _vnorm_coeff(x, n, ord, axis)
    dn = jnp.sum(jnp.real(jnp.conj(c) * dx) if jnp.iscomplexobj(c) else c * dx, axis=axis, keepdims=keepdims)
    return n, dn.astype(n.dtype)


def _vnorm_fwd(x, ord, axis, keepdims, dtype):
    if dtype is not None:
        x = x.astype(dtype)
    return _vnorm(x, ord, axis, keepdims)


def _dims_of(dim, ndim):
    return _dims(dim, ndim)


def _ord(ord):
    if isinstance(ord, Tensor):
        ord = ord.item()
    return float(ord)


@defop(_vnorm_fwd, node="LinalgVectorNormBackward0", saves={0: (0, "result")}, namespace="linalg", method=False)
def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None, out=None):
    """Vector ``ord``-norm over ``dim`` (all elements by default); torch's subgradients at zero."""
    if not (x._dtype.is_floating_point or x._dtype.is_complex):
        raise RuntimeError(f"linalg.vector_norm: Expected a floating point or complex tensor as input. "
                           f"Got {_name(x._dtype)}")
    if isinstance(ord, str):
        raise TypeError(f"linalg_vector_norm(): argument 'ord' must be Number, not str")
    o = _ord(ord)
    dims = _dims_of(dim, x.dim()) if x.dim() else None
    if o < 0 and x.numel() == 0:
        raise RuntimeError(f"linalg.vector_norm cannot compute the {ord} norm on an empty tensor because the "
                           "operation does not have an identity")
    if o == math.inf and x.numel() == 0 and (dims is None or any(x._shape[d] == 0 for d in dims)):
        raise RuntimeError(f"linalg.vector_norm cannot compute the {ord} norm on an empty tensor because the "
                           "operation does not have an identity")
    dt = _dtypes.as_dtype(dtype)
    if dt is not None:
        dt = dt.np
    return (x,), (("ord", o), ("axis", dims), ("keepdims", bool(keepdim)), ("dtype", dt))


def _mdims(dim, ndim, fname):
    if ndim < 2:
        raise RuntimeError(f"{fname}: The input tensor A must have at least 2 dimensions.")
    d = tuple(_wrap_dim(x, ndim) for x in dim)
    if len(d) != 2:
        raise RuntimeError(f"{fname}: dim must be a 2-tuple. Got {' '.join(map(str, dim))}")
    if d[0] == d[1]:
        raise RuntimeError(f"{fname}: dims must be different. Got ({dim[0]}, {dim[1]})")
    return d


@_public(namespace="linalg")
def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None, out=None):
    """Matrix norm: ``'fro'``, ``'nuc'``, ``inf``, ``-inf``, ``1``, ``-1``, ``2``, ``-2``."""
    d = _mdims(dim, A.dim(), "linalg.matrix_norm")
    if dtype is not None:
        A = A.to(dtype)
    _float_check(A, "linalg.matrix_norm")
    if ord == "fro" or (ord == 2 and min(A._shape[d[0]], A._shape[d[1]]) == 0):
        return vector_norm(A, 2, d, keepdim)
    if ord == "nuc" or ord in (2, -2):
        # torch: move the two dims last, svdvals, reduce; keepdim: unsqueeze and permute back
        rest = [i for i in range(A.dim()) if i not in d]
        perm = rest + list(d)
        At = permute(A, *perm) if perm != list(range(A.dim())) else A
        s = svdvals(At)
        r = rsum(s, -1) if ord == "nuc" else (amax if ord == 2 else amin)(s, -1)
        if keepdim:
            r = r.unsqueeze(-1).unsqueeze(-1)
            r = permute(r, *[perm.index(i) for i in range(A.dim())])  # torch permutes back even when trivial
        return r
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    o = float(ord)
    if abs(o) not in (1.0, math.inf):
        raise RuntimeError(f"linalg.matrix_norm: Order {ord} not supported.")
    # torch: vector_norm(A, 1, dim[0], keepdim).amax(dim[1], keepdim) (dims swapped for inf)
    red, keep = (d[0], d[1]) if abs(o) == 1 else (d[1], d[0])
    if o > 0 and A._shape[keep] == 0:  # torch: the max over no columns/rows is 0
        return vector_norm(A, 2, d, keepdim)
    if not keepdim and red < keep:
        keep -= 1
    return (amax if o > 0 else amin)(vector_norm(A, 1, red, keepdim), keep, keepdim)


@_public(namespace="linalg")
def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None, out=None):
    """``vector_norm`` or ``matrix_norm`` as torch.linalg.norm picks them from ``ord`` and ``dim``."""
    if dim is not None and not isinstance(dim, int):
        dim = tuple(dim)
        if len(dim) == 1:
            dim = dim[0]
    if ord is None:
        if dim is None:
            return vector_norm(A, 2, None, keepdim, dtype=dtype)
        if isinstance(dim, int):
            return vector_norm(A, 2, dim, keepdim, dtype=dtype)
        return matrix_norm(A, "fro", dim, keepdim, dtype=dtype)
    if dim is None:
        if A.dim() == 1:
            dim = 0
        elif A.dim() == 2:
            dim = (-2, -1)
        else:
            raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. "
                               f"Got {A.dim()}D.")
    if isinstance(dim, int):
        if isinstance(ord, str):
            raise RuntimeError(f"linalg.norm: If dim is specified, it mut be of length 1 or 2. Got [{dim}]")
        return vector_norm(A, ord, dim, keepdim, dtype=dtype)
    return matrix_norm(A, ord, dim, keepdim, dtype=dtype)


@_public(namespace="linalg")
def cond(A, p=None, *, out=None):
    """Condition number in the ``p`` norm (2-norm by default: ``s_max / s_min``)."""
    _matrix_check(A, "linalg.cond")
    _float_check(A, "linalg.cond")
    if p is None or p in (2, -2):
        s = svdvals(A)
        big, small = s.narrow(-1, 0, 1), s.narrow(-1, s.shape[-1] - 1, 1)
        r = big / small if p in (None, 2) else small / big
        return r.squeeze(-1)
    _square_check(A, "linalg.cond")
    info = _lu_info(A)
    return _cond_fix(matrix_norm(A, p) * matrix_norm(_inv(A), p), info)


@defop(lambda r, info: jnp.where(info > 0, jnp.inf, jnp.nan_to_num(r, nan=jnp.inf, posinf=jnp.inf)).astype(r.dtype),
       node="NanToNumBackward0", saves={0: (0,)}, method=False, function=False, name="_cond_fix")
def _cond_fix(r, info):
    return (r, info), ()


# ------------------------------------------------------------------------------------ powers, exp
@defop(lambda a: jnp.broadcast_to(jnp.eye(a.shape[-1], dtype=a.dtype), a.shape), node="CopyBackwards",
       saves={0: ()}, method=False, function=False, name="_matrix_power0")
def _eye_like(A):
    return (A,), ()


@_public(namespace="linalg", name="matrix_power")
def linalg_matrix_power(A, n, *, out=None):
    """``A`` to the integer power ``n`` (negative: powers of the inverse), by repeated squaring."""
    _square_check(A, "linalg.matrix_power")
    if not isinstance(n, int):
        raise TypeError(f"matrix_power(): argument 'n' must be int, not {type(n).__name__}")
    if n == 0:
        return _eye_like(A)
    if n == -1:
        return inv(A)
    if n < 0:
        A = inv(A)
        n = -n
    if n == 1:
        return A.clone()
    if n == 2:
        return matmul(A, A)
    if n == 3:
        return matmul(matmul(A, A), A)
    z = result = None
    while n > 0:
        bit, n = n % 2, n // 2
        z = A if z is None else matmul(z, z)
        if bit:
            result = z if result is None else matmul(result, z)
    return result


public(linalg_matrix_power, name="matrix_power", method=True)


def _expm(a):
    if a.ndim == 2:
        return jax.scipy.linalg.expm(a)
    flat = a.reshape((-1,) + a.shape[-2:])
    return jax.vmap(jax.scipy.linalg.expm)(flat).reshape(a.shape)


@defop(_expm, node="LinalgMatrixExpBackward0", saves={0: (0,)}, namespace=("torch", "linalg"), method=True)
def matrix_exp(A):
    """Matrix exponential."""
    _square_check(A, "linalg.matrix_exp")
    return (A,), ()


# ------------------------------------------------------------------------------------ small ones
@public(namespace="linalg", name="diagonal")
def linalg_diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    return diagonal(A, offset, dim1, dim2)


@defop(jnp.conj, node="ConjBackward0", method=False, function=False, name="_linalg_conj")
def _conj(input):
    return (input,), ()


@_public(namespace="linalg")
@autocast_op("linalg_vecdot")
def vecdot(x, y, *, dim=-1, out=None):
    """``sum(conj(x) * y, dim)``."""
    if x._dtype is not y._dtype:
        raise RuntimeError(f"linalg.vecdot: Expected x and y to have the same dtype, but found x of type "
                           f"{_name(x._dtype)} and y of type {_name(y._dtype)} instead")
    if x.dim() == 1 and y.dim() == 1:
        return vdot(x, y)
    if x._dtype.is_complex:
        x = _conj(x)
    return rsum(mul(x, y), dim)


def _cross_fwd(a, b, axis):
    shape = jnp.broadcast_shapes(a.shape, b.shape)
    return jnp.cross(jnp.broadcast_to(a, shape), jnp.broadcast_to(b, shape), axis=axis)


@defop(_cross_fwd, node="LinalgCrossBackward0", saves={0: (1,), 1: (0,)}, method=False, function=False,
       promote=True, name="linalg_cross")
def _linalg_cross(input, other, *, dim=-1, out=None):
    if input.dim() != other.dim():
        raise RuntimeError(f"linalg.cross: inputs must have the same number of dimensions.")
    shape = tuple(np.broadcast_shapes(input._shape, other._shape))
    d = _wrap_dim(dim, len(shape))
    if input._shape[d] != 3 or other._shape[d] != 3:
        raise RuntimeError(f"linalg.cross: inputs dimension {dim} must have length 3. Got {input._shape[d]} and "
                           f"{other._shape[d]}")
    return (input, other), (("axis", d),)


public(_linalg_cross, name="cross", namespace="linalg")


@_public(method=True)
@autocast_op("cross")
def cross(input, other, dim=None, *, out=None):
    """Cross product along ``dim`` (default: the first dimension of size 3, with torch's warning)."""
    if dim is None:
        warnings.warn("Using torch.cross without specifying the dim arg is deprecated.\nPlease either pass the dim "
                      "explicitly or simply use torch.linalg.cross.\nThe default value of dim will change to agree "
                      "with that of linalg.cross in a future release.", UserWarning, stacklevel=2)
        shape = tuple(np.broadcast_shapes(input._shape, other._shape))
        dim = next((i for i, s in enumerate(shape) if s == 3), -1)
    return _linalg_cross(input, other, dim=dim)


@_public(namespace="linalg")
def multi_dot(tensors, *, out=None):
    """Product of two or more matrices (the first/last may be vectors), in the cheapest order."""
    tensors = list(tensors)
    n = len(tensors)
    if n < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {n}")
    first, last = tensors[0], tensors[-1]
    for i, t in enumerate(tensors):
        if 0 < i < n - 1 and t.dim() != 2:
            raise RuntimeError(f"multi_dot(): tensor {i} must be 2D but got {t.dim()}D")
    if first.dim() not in (1, 2):
        raise RuntimeError(f"multi_dot(): the first tensor must be 1D or 2D but got {first.dim()}D")
    if last.dim() not in (1, 2):
        raise RuntimeError(f"multi_dot(): the last tensor must be 1D or 2D but got {last.dim()}D")
    out_shape = ()
    if first.dim() == 1:
        tensors[0] = first.unsqueeze(0)
    else:
        out_shape += (first._shape[0],)
    if last.dim() == 1:
        tensors[-1] = last.unsqueeze(-1)
    else:
        out_shape += (last._shape[1],)
    for i in range(n - 1):
        if tensors[i]._shape[1] != tensors[i + 1]._shape[0]:
            raise RuntimeError(f"multi_dot(): tensors {i} and {i + 1} with shapes {tuple(tensors[i]._shape)} and "
                               f"{tuple(tensors[i + 1]._shape)} cannot be multiplied")
    if n == 2:
        r = mm(tensors[0], tensors[1])
    elif n == 3:
        a, b, c = (t._shape for t in tensors)
        cost_1 = (a[0] * c[1]) * (a[1] + b[1])
        cost_2 = (a[1] * c[0]) * (a[0] + c[1]) if False else (b[0] * c[1]) * (a[0] + b[1])
        # torch: cost_1 = (a * c) * (b + d) for (AB)C, cost_2 = (b * d) * (a + c) for A(BC)
        a0, b0, c0, d0 = a[0], a[1], b[1], c[1]
        cost_1 = (a0 * c0) * (b0 + d0)
        cost_2 = (b0 * d0) * (a0 + c0)
        if cost_1 > cost_2:
            r = mm(tensors[0], mm(tensors[1], tensors[2]))
        else:
            r = mm(mm(tensors[0], tensors[1]), tensors[2])
    else:
        p = [t._shape[0] for t in tensors] + [tensors[-1]._shape[1]]
        cost = [[0] * n for _ in range(n)]
        order = [[0] * n for _ in range(n)]
        for length in range(1, n):
            for i in range(n - length):
                j = i + length
                cost[i][j] = None
                for k in range(i, j):
                    q = cost[i][k] + cost[k + 1][j] + p[i] * p[k + 1] * p[j + 1]
                    if cost[i][j] is None or q < cost[i][j]:
                        cost[i][j] = q
                        order[i][j] = k

        def chain(i, j):
            if i == j:
                return tensors[i]
            return mm(chain(i, order[i][j]), chain(order[i][j] + 1, j))

        r = chain(0, n - 1)
    return r.view(out_shape)


@_public()
def chain_matmul(*matrices, out=None):
    warnings.warn("torch.chain_matmul is deprecated and will be removed in a future PyTorch release. Use "
                  "torch.linalg.multi_dot instead, which accepts a list of two or more tensors rather than "
                  "multiple parameters.", UserWarning, stacklevel=2)
    if len(matrices) == 1:
        return matrices[0].clone()
    return multi_dot(matrices)


@public(namespace="linalg")
def vander(x, *, N=None):
    """Vandermonde matrix: columns ``x ** 0, x ** 1, ..., x ** (N - 1)``."""
    if x.dim() < 1:
        x = x.unsqueeze(0)
    n = x._shape[-1] if N is None else N
    if n <= 1:
        if n < 1:
            raise RuntimeError("N must be greater than 1.")
        return x.unsqueeze(-1).new_ones(*x._shape, 1)
    ones = x.unsqueeze(-1).new_ones(*x._shape, 1) if x._dtype.is_floating_point or x._dtype.is_complex else None
    if ones is None:
        ones = _ones(*x._shape, 1, dtype=x.dtype)
    pw = cumprod(x.unsqueeze(-1).expand(*x._shape, n - 1), -1)
    return cat([ones, pw], -1)


@_public(namespace="linalg")
def tensorinv(A, ind=2, *, out=None):
    """Inverse of a tensor seen as a matrix of shape ``(prod(shape[:ind]), prod(shape[ind:]))``."""
    if ind <= 0:
        raise RuntimeError(f"Expected a strictly positive integer for 'ind', but got {ind}")
    out_shape = A._shape[ind:] + A._shape[:ind]
    rows = int(np.prod(A._shape[:ind]))
    cols = int(np.prod(A._shape[ind:]))
    if rows != cols:
        raise RuntimeError("Expected self to satisfy the requirement prod(self.shape[ind:]) == "
                           "prod(self.shape[:ind]), but got " f"{cols} != {rows}")
    r = inv(A.reshape(rows, cols))
    return dispatch(view.op, (r,), (("shape", tuple(out_shape)),), "ReshapeAliasBackward0")


@_public(namespace="linalg")
def tensorsolve(A, B, dims=None, *, out=None):
    """Solve ``tensordot(A, X, X.ndim) = B``."""
    if dims is not None:
        nd = A.dim()
        dims = [d % nd for d in dims]
        rest = [i for i in range(nd) if i not in dims]
        A = A.permute(*rest, *dims)
    res_shape = A._shape[B.dim():]
    n = int(np.prod(res_shape))
    m = int(np.prod(B._shape))
    if int(np.prod(A._shape[:B.dim()])) != m or A.numel() != m * n or m != n:
        raise RuntimeError("Expected self to satisfy the requirement prod(self.shape[other.ndim:]) == "
                           "prod(self.shape[:other.ndim]), but got " f"{n} != {m}")
    return solve(A.reshape(m, n), B.reshape(m)).view(res_shape)


# ------------------------------------------------------------------------------------ LDL (LAPACK sytrf)
# JAX has no Bunch-Kaufman factorisation: LAPACK's own sytrf/hetrf and sytrs/hetrs (through SciPy, which
# JAX depends on) run on the host, as torch runs them; torch does not differentiate these ops.
_LAPACK_PREFIX = {"float32": "s", "float64": "d", "complex64": "c", "complex128": "z"}


def _lapack_fn(dtype, name, hermitian):
    import scipy.linalg.lapack as lapack  # noqa: PLC0415 - SciPy loads only when LDL is used

    p = _LAPACK_PREFIX[np.dtype(dtype).name]
    if hermitian and p in "cz":
        name = name.replace("sy", "he")
    return getattr(lapack, p + name)


def _ldl_host(t, fname):
    a = _host(t)
    if a is None:
        raise NotImplementedError(f"funcgrad: torch.linalg.{fname} needs the data (LAPACK on the host); it cannot "
                                  "be traced")
    return np.asarray(a)


def _ldl_factor(A, hermitian, fname):
    _square_check(A, f"linalg.{fname}")
    _float_check(A, f"linalg.{fname}")
    a = _ldl_host(A, fname)
    batch, n = a.shape[:-2], a.shape[-1]
    ld = np.zeros_like(a)
    piv = np.zeros(batch + (n,), np.int32)
    info = np.zeros(batch, np.int32)
    if n:
        f = _lapack_fn(a.dtype, "sytrf", hermitian)
        for idx in np.ndindex(*batch):
            r, p, i = f(a[idx], lower=1)
            ld[idx], piv[idx], info[idx] = np.tril(r), p, i
    from .creation import tensor

    dev = A.device
    return tensor(ld, device=dev), tensor(piv, device=dev), tensor(info, device=dev)


@_public(namespace="linalg")
def ldl_factor_ex(A, *, hermitian=False, check_errors=False, out=None):
    """Bunch-Kaufman LDL factorisation (LAPACK sytrf): ``(LD, pivots, info)``."""
    ld, piv, info = _ldl_factor(A, hermitian, "ldl_factor_ex")
    if check_errors and (info._array() != 0).any():
        raise LinAlgError("torch.linalg.ldl_factor_ex: The factorization could not be completed because the input "
                          "is not invertible.")
    return return_type("linalg_ldl_factor_ex", ["LD", "pivots", "info"])(ld, piv, info)


@_public(namespace="linalg")
def ldl_factor(A, *, hermitian=False, out=None):
    """Bunch-Kaufman LDL factorisation (LAPACK sytrf): ``(LD, pivots)``."""
    ld, piv, _ = _ldl_factor(A, hermitian, "ldl_factor")
    return return_type("linalg_ldl_factor", ["LD", "pivots"])(ld, piv)


@_public(namespace="linalg")
def ldl_solve(LD, pivots, B, *, hermitian=False, out=None):
    """Solve ``A X = B`` from :func:`ldl_factor`'s ``(LD, pivots)`` (LAPACK sytrs)."""
    _square_check(LD, "linalg.ldl_solve", "LD")
    if B.dim() < 2:
        raise RuntimeError(f"torch.linalg.ldl_solve: Expected B to have at least 2 dimensions, but it has "
                           f"{B.dim()} dimensions instead")
    if LD._dtype is not B._dtype:
        raise RuntimeError(f"torch.linalg.ldl_solve: Expected LD and B to have the same dtype, but found LD of type "
                           f"{_name(LD._dtype)} and B of type {_name(B._dtype)} instead")
    if pivots._dtype is not _dtypes.int32:
        raise RuntimeError(f"torch.linalg.ldl_solve: Expected pivots to be integers. Got {_name(pivots._dtype)}")
    ld, piv, b = _ldl_host(LD, "ldl_solve"), _ldl_host(pivots, "ldl_solve"), _ldl_host(B, "ldl_solve")
    batch = np.broadcast_shapes(ld.shape[:-2], b.shape[:-2], piv.shape[:-1])
    ld = np.broadcast_to(ld, batch + ld.shape[-2:])
    piv = np.broadcast_to(piv, batch + piv.shape[-1:])
    b = np.broadcast_to(b, batch + b.shape[-2:])
    x = np.zeros(b.shape, b.dtype)
    if ld.shape[-1] and b.shape[-1]:
        f = _lapack_fn(ld.dtype, "sytrs", hermitian)
        for idx in np.ndindex(*batch):
            x[idx] = f(ld[idx], piv[idx], b[idx], lower=1)[0]
    from .creation import tensor

    return tensor(x, device=B.device)


# ------------------------------------------------------------------------------------ low-rank (random)
def _approximate_basis(A, q, niter, M):
    R = randn(A._shape[-1], q, dtype=A.dtype, device=A.device)
    X = A @ R
    if M is not None:
        X = X - M @ R
    Q = linalg_qr(X).Q
    for _ in range(niter):
        X = A.mH @ Q
        if M is not None:
            X = X - M.mH @ Q
        Q = linalg_qr(X).Q
        X = A @ Q
        if M is not None:
            X = X - M @ Q
        Q = linalg_qr(X).Q
    return Q


def _svd_lowrank(A, q, niter, M):
    q = 6 if q is None else q
    niter = 2 if niter is None else niter
    m, n = A._shape[-2:]
    if M is not None:
        M = M.broadcast_to(A._shape)
    if m < n:
        A = A.mH
        if M is not None:
            M = M.mH
    Q = _approximate_basis(A, q, niter, M)
    B = Q.mH @ A
    if M is not None:
        B = B - Q.mH @ M
    U, S, Vh = linalg_svd(B, full_matrices=False)
    V = Vh.mH
    U = Q @ U
    if m < n:
        U, V = V, U
    return U, S, V


@public()
def svd_lowrank(A, q=6, niter=2, M=None):
    """Randomized SVD (Halko et al.), as torch's ``svd_lowrank``: ``(U, S, V)`` with q columns.

    The random projection comes from funcgrad's generator, so U, S, V match torch's only up to the
    randomness (exactly, up to signs, when ``q`` is at least the rank of ``A``)."""
    return _svd_lowrank(A, q, niter, M)


@public()
def pca_lowrank(A, q=None, center=True, niter=2):
    """PCA of a low-rank matrix through ``svd_lowrank`` of the centred data (torch's ``pca_lowrank``)."""
    m, n = A._shape[-2:]
    if q is None:
        q = min(6, m, n)
    elif not (0 <= q <= min(m, n)):
        raise ValueError(f"q(={q}) must be non-negative integer and not greater than min(m, n)={min(m, n)}")
    if not niter >= 0:
        raise ValueError(f"niter(={niter}) must be non-negative integer")
    if not center:
        return _svd_lowrank(A, q, niter, None)
    C = A.mean(dim=-2, keepdim=True)
    return _svd_lowrank(A - C, q, niter, None)
