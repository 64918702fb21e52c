"""Elementwise ops: arithmetic with torch's type promotion and broadcasting, math, comparisons."""
from __future__ import annotations

from .. import _dtypes
from ..tensor import Tensor  # noqa: E402 - _ops load after tensor

import jax
import jax.numpy as jnp

from .registry import ABSENT, Const, defop


def _broadcast_check(a, b):

    if isinstance(a, Tensor) and isinstance(b, Tensor):
        sa, sb = a._shape, b._shape
        if sa != sb:
            for i in range(1, min(len(sa), len(sb)) + 1):
                x, y = sa[-i], sb[-i]
                if x != y and x != 1 and y != 1:
                    raise RuntimeError(
                        f"The size of tensor a ({x}) must match the size of tensor b ({y}) at non-singleton "
                        f"dimension {max(len(sa), len(sb)) - i}")


# -- binary arithmetic --------------------------------------------------------------------------
def _div_fwd(a, b, rounding_mode=None):
    if rounding_mode is None:
        return jnp.true_divide(a, b)
    if rounding_mode == "trunc":
        q = jnp.true_divide(a, b) if jnp.issubdtype(a.dtype, jnp.floating) else jax.lax.div(a, b)
        return jnp.trunc(q) if jnp.issubdtype(a.dtype, jnp.floating) else q
    return jnp.floor_divide(a, b)


def _scaled(b, alpha):
    return b if alpha is None else b * alpha


@defop(lambda a, b, alpha=None: jnp.add(a, _scaled(b, alpha)), node="AddBackward0", saves={0: (), 1: ()},
       promote=True, inplace=True)
def add(input, other, *, alpha=None):
    """``input + alpha * other`` with broadcasting and torch's type promotion."""
    _broadcast_check(input, other)
    return (input, other), ((("alpha", alpha),) if alpha is not None else ())


@defop(lambda a, b, alpha=None: jnp.subtract(a, _scaled(b, alpha)), node="SubBackward0", saves={0: (), 1: ()},
       promote=True, inplace=True)
def sub(input, other, *, alpha=None):
    """``input - alpha * other``."""

    if (isinstance(input, Tensor) and input._dtype.name == "bool") and (
            isinstance(other, Tensor) and other._dtype.name == "bool"):
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
                           "`logical_xor()` operator instead.")
    if (isinstance(input, Tensor) and input._dtype.name == "bool") or (
            isinstance(other, Tensor) and other._dtype.name == "bool"):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying "
                           "to invert a mask, use the `~` or `logical_not()` operator instead.")
    _broadcast_check(input, other)
    return (input, other), ((("alpha", alpha),) if alpha is not None else ())


subtract = sub


@defop(lambda a, b: jnp.subtract(b, a), node="RsubBackward1", saves={0: ()}, promote=True, method=False)
def rsub(input, other):
    """``other - input`` (what ``number - tensor`` calls)."""
    return (input, Const(other)), ()


@defop(jnp.multiply, node="MulBackward0", saves={0: (1,), 1: (0,)}, promote=True, inplace=True)
def mul(input, other):
    """``input * other`` with broadcasting."""
    _broadcast_check(input, other)
    return (input, other), ()


multiply = mul


@defop(_div_fwd, node="DivBackward0", saves={0: (1,), 1: (0, 1)}, promote=True, inplace=True)
def div(input, other, *, rounding_mode=None):
    """True division (``rounding_mode=None``), or ``'trunc'``/``'floor'`` rounding."""
    from .. import _dtypes

    _broadcast_check(input, other)
    if rounding_mode is None:
        # integer / integer gives the default float dtype, as in torch
        def is_int(x):
            return (isinstance(x, Tensor) and not (x._dtype.is_floating_point or x._dtype.is_complex)) or (
                isinstance(x, (int, bool)))
        if is_int(input) and is_int(other):
            input = input.to(_dtypes.get_default_dtype()) if isinstance(input, Tensor) else float(input)
        return (input, other), ()
    if rounding_mode not in ("trunc", "floor"):
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'")
    return (input, other), (("rounding_mode", rounding_mode),), "DivBackward1"


divide = true_divide = div


@defop(jnp.reciprocal, node="ReciprocalBackward0", saves={0: ("result",)}, inplace=True)
def reciprocal(input):
    """``1 / input``."""
    if not (input._dtype.is_floating_point or input._dtype.is_complex):
        from .. import _dtypes

        input = input.to(_dtypes.get_default_dtype())
    return (input,), ()


@defop(lambda a, b: jnp.remainder(a, b), node="RemainderBackward0", saves={0: (), 1: (0, 1)}, promote=True,
       inplace=True)
def remainder(input, other):
    """Python-style modulus (sign of the divisor)."""
    return (input, other), ()


@defop(lambda a, b: jnp.fmod(a, b), node="FmodBackward0", saves={0: (), 1: (0, 1)}, promote=True, inplace=True)
def fmod(input, other):
    return (input, other), ()


@defop(lambda a, b: jnp.floor_divide(a, b), node="FloorDivideBackward0", promote=True, inplace=True)
def floor_divide(input, other):
    return (input, other), ()


def _pow_scalar(x, exponent):
    if isinstance(exponent, int) and not isinstance(exponent, bool):
        return jax.lax.integer_pow(x, exponent) if exponent >= 0 else jnp.power(x, exponent)
    return jnp.power(x, jnp.asarray(exponent, x.dtype))


@defop(_pow_scalar, node="PowBackward0", saves={0: (0,)}, method=False, function=False)
def _pow_tensor_scalar(input, exponent):
    return (input,), (("exponent", exponent),)


@defop(jnp.power, node="PowBackward1", saves={0: (0, 1), 1: (0, "result")}, promote=True, method=False,
       function=False)
def _pow_tensor_tensor(input, exponent):
    return (input, exponent), ()


@defop(jnp.power, node="PowBackward2", saves={1: (0, "result")}, promote=True, method=False, function=False)
def _pow_scalar_tensor(base, exponent):
    return (Const(base), exponent), ()


def pow(input, exponent):  # noqa: A001 - torch's name
    """``input ** exponent``; either may be a number (one must be a tensor)."""
    from .. import _dtypes

    if not isinstance(input, Tensor):
        return _pow_scalar_tensor(input, exponent)
    if isinstance(exponent, Tensor):
        _broadcast_check(input, exponent)
        return _pow_tensor_tensor(input, exponent)
    if not (input._dtype.is_floating_point or input._dtype.is_complex):
        if isinstance(exponent, float):
            input = input.to(_dtypes.get_default_dtype())
        elif isinstance(exponent, int) and exponent < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
    return _pow_tensor_scalar(input, exponent)


def float_power(input, exponent):
    from .. import _dtypes

    input = input.to(_dtypes.float64) if isinstance(input, Tensor) else float(input)
    exponent = exponent.to(_dtypes.float64) if isinstance(exponent, Tensor) else float(exponent)
    return pow(input, exponent)


@defop(jnp.maximum, node="MaximumBackward0", saves={0: (0, 1), 1: (0, 1)}, promote=True)
def maximum(input, other):
    _broadcast_check(input, other)
    return (input, other), ()


@defop(jnp.minimum, node="MinimumBackward0", saves={0: (0, 1), 1: (0, 1)}, promote=True)
def minimum(input, other):
    _broadcast_check(input, other)
    return (input, other), ()


@defop(jnp.arctan2, node="Atan2Backward0", saves={0: (0, 1), 1: (0, 1)}, promote=True, inplace=True)
def atan2(input, other):
    return (input, other), ()


arctan2 = atan2


def _lerp_fwd(a, b, w):
    return a + w * (b - a)


@defop(_lerp_fwd, node="LerpBackward0", promote=True, inplace=True)
def lerp(input, end, weight):

    if isinstance(weight, Tensor):
        return (input, end, weight), (), "LerpBackward1"
    return (input, end, Const(weight)), (), "LerpBackward0"


# -- unary math -----------------------------------------------------------------------------------
def _float_input(x):
    if not (x._dtype.is_floating_point or x._dtype.is_complex):
        return x.to(_dtypes.get_default_dtype())
    return x


def _unary(name, fwd, node, saves=("self",), float_only=True, doc=""):
    saves = {0: tuple(0 if s == "self" else s for s in saves)}

    def binder(input):
        return ((_float_input(input) if float_only else input),), ()

    binder.__name__ = name
    binder.__doc__ = doc or f"Elementwise ``{name}``."
    return defop(fwd, node=node, saves=saves, inplace=True)(binder)


_UNARY = [
    # name, jax forward, torch node, what torch's formula saves, promote ints to float
    ("exp", jnp.exp, "ExpBackward0", ("result",), True),
    ("exp2", jnp.exp2, "Exp2Backward0", ("result",), True),
    ("expm1", jnp.expm1, "Expm1Backward0", ("result",), True),
    ("log", jnp.log, "LogBackward0", ("self",), True),
    ("log2", jnp.log2, "Log2Backward0", ("self",), True),
    ("log10", jnp.log10, "Log10Backward0", ("self",), True),
    ("log1p", jnp.log1p, "Log1PBackward0", ("self",), True),
    ("sqrt", jnp.sqrt, "SqrtBackward0", ("result",), True),
    ("rsqrt", jax.lax.rsqrt, "RsqrtBackward0", ("result",), True),
    ("sin", jnp.sin, "SinBackward0", ("self",), True),
    ("cos", jnp.cos, "CosBackward0", ("self",), True),
    ("tan", jnp.tan, "TanBackward0", ("result",), True),
    ("asin", jnp.arcsin, "AsinBackward0", ("self",), True),
    ("acos", jnp.arccos, "AcosBackward0", ("self",), True),
    ("atan", jnp.arctan, "AtanBackward0", ("self",), True),
    ("sinh", jnp.sinh, "SinhBackward0", ("self",), True),
    ("cosh", jnp.cosh, "CoshBackward0", ("self",), True),
    ("tanh", jnp.tanh, "TanhBackward0", ("result",), True),
    ("asinh", jnp.arcsinh, "AsinhBackward0", ("self",), True),
    ("acosh", jnp.arccosh, "AcoshBackward0", ("self",), True),
    ("atanh", jnp.arctanh, "AtanhBackward0", ("self",), True),
    ("sigmoid", jax.nn.sigmoid, "SigmoidBackward0", ("result",), True),
    ("erf", jax.scipy.special.erf, "ErfBackward0", ("self",), True),
    ("erfc", jax.scipy.special.erfc, "ErfcBackward0", ("self",), True),
    ("erfinv", jax.scipy.special.erfinv, "ErfinvBackward0", ("self",), True),
    ("lgamma", jax.scipy.special.gammaln, "LgammaBackward0", ("self",), True),
    ("digamma", jax.scipy.special.digamma, "DigammaBackward0", ("self",), True),
    ("neg", jnp.negative, "NegBackward0", (), False),
    ("abs", lambda x: x * jnp.sign(x), "AbsBackward0", ("self",), False),  # d|x|/dx = sign(x): 0 at 0, as torch
    ("sign", jnp.sign, "SignBackward0", (), False),
    ("sgn", jnp.sign, "SgnBackward0", (), False),
    ("relu", jax.nn.relu, "ReluBackward0", ("result",), False),
    ("square", jnp.square, "PowBackward0", ("self",), False),
    ("floor", jnp.floor, "FloorBackward0", (), False),
    ("ceil", jnp.ceil, "CeilBackward0", (), False),
    ("round", jnp.round, "RoundBackward0", (), False),
    ("trunc", jnp.trunc, "TruncBackward0", (), False),
    ("frac", lambda x: x - jnp.trunc(x), "FracBackward0", (), False),
]
for _n, _f, _node, _saves, _fl in _UNARY:
    globals()[_n] = _unary(_n, _f, _node, _saves, _fl)
negative, absolute, arcsin, arccos, arctan = neg, abs, asin, acos, atan  # noqa: F821 - made above
fix = trunc  # noqa: F821
special_expit = sigmoid  # noqa: F821


@defop(lambda x, negative_slope: jnp.where(x > 0, x, x * negative_slope), node="LeakyReluBackward0",
       saves={0: (0,)}, method=False, function=False)
def _leaky_relu(input, negative_slope=0.01):
    return (input,), (("negative_slope", float(negative_slope)),)


# -- clamp ----------------------------------------------------------------------------------------
def _clamp_fwd(x, lo=None, hi=None):
    # written with where (not maximum/minimum): at a bound the gradient passes whole, as in torch
    # (JAX splits ties between max's operands); a NaN input stays NaN
    if lo is not None:
        lo = lo.astype(x.dtype) if hasattr(lo, "astype") else lo
        x = jnp.where(x < lo, lo, x)
    if hi is not None:
        hi = hi.astype(x.dtype) if hasattr(hi, "astype") else hi
        x = jnp.where(x > hi, hi, x)
    return x


@defop(lambda x, lo, hi: _clamp_fwd(x, lo, hi), node="ClampBackward1", saves={0: (0,)}, method=False,
       function=False, name="clamp_scalar2")
def _clamp_both(input, lo, hi):
    return (input, Const(lo), Const(hi)), ()


@defop(lambda x, lo: _clamp_fwd(x, lo, None), node="ClampBackward1", saves={0: (0,)}, method=False,
       function=False, name="clamp_scalar_min")
def _clamp_min_only(input, lo):
    return (input, Const(lo)), ()


@defop(lambda x, hi: _clamp_fwd(x, None, hi), node="ClampBackward1", saves={0: (0,)}, method=False,
       function=False, name="clamp_scalar_max")
def _clamp_max_only(input, hi):
    return (input, Const(hi)), ()


def _clamp_tensor_fwd(x, *bounds, has_lo, has_hi):
    bounds = list(bounds)
    lo = bounds.pop(0) if has_lo else None
    hi = bounds.pop(0) if has_hi else None
    return _clamp_fwd(x, lo, hi)


@defop(_clamp_tensor_fwd, node="ClampBackward0", method=False, function=False, name="clamp_tensor")
def _clamp_tensor(input, lo, hi):
    return (input, ABSENT if lo is None else lo, ABSENT if hi is None else hi), \
        (("has_lo", lo is not None), ("has_hi", hi is not None))


def clamp(input, min=None, max=None):  # noqa: A002 - torch's names
    """Limit values to ``[min, max]``; bounds are numbers or tensors (one may be None)."""

    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        return _clamp_tensor(input, min, max)
    if max is None:
        return _clamp_min_only(input, min)
    if min is None:
        return _clamp_max_only(input, max)
    return _clamp_both(input, min, max)


clip = clamp


@defop(lambda x, lo: _clamp_fwd(x, lo, None), node="ClampMinBackward0", saves={0: (0,)}, inplace=True)
def clamp_min(input, min):  # noqa: A002
    return (input, Const(min)), ()


@defop(lambda x, hi: _clamp_fwd(x, None, hi), node="ClampMaxBackward0", saves={0: (0,)}, inplace=True)
def clamp_max(input, max):  # noqa: A002
    return (input, Const(max)), ()


@defop(lambda c, a, b: jnp.where(c, a, b), node="WhereBackward0", saves={1: (0,), 2: (0,)}, promote=(1, 2),
       nondiff=(0,), method=False, function=False, name="where")
def _where(condition, input, other):
    if not isinstance(condition, Tensor) or condition._dtype.name != "bool":
        raise RuntimeError("where expected condition to be a boolean tensor, but got a tensor with dtype "
                           + str(getattr(condition, "dtype", type(condition).__name__)).replace("torch.", "").capitalize())
    return (condition, input, other), ()


def where(condition, input=None, other=None):
    """``input`` where ``condition`` holds, else ``other`` (broadcasting); with only ``condition``,
    the indices where it holds (``nonzero(as_tuple=True)``)."""
    if input is None and other is None:
        from .indexing import nonzero

        return nonzero(condition, as_tuple=True)
    return _where(condition, input, other)


# -- comparisons and logic (outputs do not require grad) -------------------------------------------
def _compare(name, fwd, alias=None):
    def binder(input, other):
        _broadcast_check(input, other)
        return (input, other), ()

    binder.__name__ = name
    binder.__doc__ = f"Elementwise ``{name}`` comparison; a bool tensor."
    return defop(fwd, node="", promote=True, inplace=True, nondiff_out=True)(binder)


eq = _compare("eq", jnp.equal)
ne = _compare("ne", jnp.not_equal)
lt = _compare("lt", jnp.less)
le = _compare("le", jnp.less_equal)
gt = _compare("gt", jnp.greater)
ge = _compare("ge", jnp.greater_equal)
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def _logic(name, fwd):
    def binder(input, other):
        return (input, other), ()

    binder.__name__ = name
    return defop(fwd, node="", inplace=True, nondiff_out=True)(binder)


logical_and = _logic("logical_and", jnp.logical_and)
logical_or = _logic("logical_or", jnp.logical_or)
logical_xor = _logic("logical_xor", jnp.logical_xor)
bitwise_and = _logic("bitwise_and", lambda a, b: jnp.bitwise_and(a, b.astype(a.dtype)))
bitwise_or = _logic("bitwise_or", lambda a, b: jnp.bitwise_or(a, b.astype(a.dtype)))
bitwise_xor = _logic("bitwise_xor", lambda a, b: jnp.bitwise_xor(a, b.astype(a.dtype)))


@defop(jnp.logical_not, node="", nondiff_out=True, inplace=True)
def logical_not(input):
    return (input,), ()


@defop(jnp.invert, node="", nondiff_out=True, inplace=True)
def bitwise_not(input):
    if input._dtype.is_floating_point:
        raise TypeError("bitwise_not is only supported for integer and boolean tensors")
    return (input,), ()


def _unary_pred(name, fwd):
    def binder(input):
        return (input,), ()

    binder.__name__ = name
    return defop(fwd, node="", nondiff_out=True)(binder)


isnan = _unary_pred("isnan", jnp.isnan)
isinf = _unary_pred("isinf", jnp.isinf)
isfinite = _unary_pred("isfinite", jnp.isfinite)
signbit = _unary_pred("signbit", jnp.signbit)
