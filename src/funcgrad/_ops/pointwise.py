"""Elementwise ops: arithmetic with torch's type promotion and broadcasting, math, comparisons."""
from __future__ import annotations

import builtins as _b
import math

import jax
import jax.numpy as jnp
import numpy as np
from jax.custom_derivatives import SymbolicZero

from .. import _dtypes
from ..tensor import Tensor
from .registry import ABSENT, Const, _promote, defop, methods, public
from .indexing import nonzero

_PI = math.pi


def torch_grad(f, *rules):
    """``f`` with torch's derivative formulas (derivatives.yaml) where they differ from JAX's at edge
    points: ``rules[i](out, *xs, **params)`` is d out / d xs[i] (``None``: no derivative). The result
    is a ``jax.custom_jvp`` function, so forward mode, the vjp (its transpose) and higher orders all
    follow torch's formula."""
    cache = {}

    def build(params):
        kw = dict(params)
        g = jax.custom_jvp(lambda *xs: f(*xs, **kw))

        def jvp(primals, tangents):
            out = f(*primals, **kw)
            t = None
            for r, dx in zip(rules, tangents):
                if r is None or type(dx) is SymbolicZero:
                    continue
                term = r(out, *primals, **kw) * dx
                t = term if t is None else t + term
            t = jnp.zeros_like(out) if t is None else jnp.broadcast_to(t, out.shape).astype(out.dtype)
            return out, t

        g.defjvp(jvp, symbolic_zeros=True)
        return g

    def h(*xs, **params):
        key = tuple(sorted(params.items()))
        g = cache.get(key)
        if g is None:
            g = cache[key] = build(key)
        return g(*xs)

    h.__name__ = getattr(f, "__name__", "op")
    return h


def _is_float(x):
    return x._dtype.is_floating_point or x._dtype.is_complex


def _is_intlike(x):
    if isinstance(x, Tensor):
        return not _is_float(x)
    return isinstance(x, (bool, int)) or x is None


def _floatify(*xs):
    """torch's ``promote_integer_inputs_to_float``: integer/bool arguments computed in the default dtype."""
    if all(_is_intlike(x) for x in xs):
        d = _dtypes.get_default_dtype()
        return tuple(x.to(d) if isinstance(x, Tensor) else (None if x is None else float(x)) for x in xs)
    return xs


def _need_tensors(name, **args):
    """torch's TypeError for a number where its signature takes only Tensors:
    ``atan2(): argument 'other' (position 2) must be Tensor, not int``."""
    for pos, (arg, v) in enumerate(args.items(), 1):
        if not isinstance(v, Tensor):
            raise TypeError(f"{name}(): argument '{arg}' (position {pos}) must be Tensor, not {type(v).__name__}")


def _need_tensor_input(name, input, other, scalar_self=False):
    """torch's TypeError when no overload takes these python numbers (``eq(2, t)``, ``pow(2, 3)``)."""
    if isinstance(input, Tensor) or (scalar_self and isinstance(other, Tensor)):
        return
    raise TypeError(f"{name}() received an invalid combination of arguments - got ({type(input).__name__}, "
                    f"{type(other).__name__}), but expected one of:")


def _check_int_zero_div(input, other):
    """torch raises ``ZeroDivisionError`` (a RuntimeError) for integer division/modulus by zero."""
    if not (_is_intlike(input) and _is_intlike(other)):
        return
    if isinstance(other, Tensor):
        if bool((other == 0).any()):
            raise RuntimeError("ZeroDivisionError")
    elif other == 0:
        raise RuntimeError("ZeroDivisionError")


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
        if jnp.issubdtype(a.dtype, jnp.floating):
            return jnp.trunc(jnp.true_divide(a, b))
        a, b = jnp.broadcast_arrays(a, b)
        return jax.lax.div(a, jnp.where(b == 0, 1, b))
    if jnp.issubdtype(a.dtype, jnp.integer):
        b = jnp.where(b == 0, 1, b)
    return jnp.floor_divide(a, b)


def _scaled(b, alpha):
    return b if alpha is None else b * alpha


def _alpha(alpha, *xs):
    if alpha is None:
        return ()
    if isinstance(alpha, (bool, np.bool_)) and not all(
            x._dtype is _dtypes.bool if isinstance(x, Tensor) else isinstance(x, bool) for x in xs):
        raise RuntimeError("Boolean alpha only supported for Boolean results.")
    if isinstance(alpha, float) and all(_is_intlike(x) for x in xs):
        raise RuntimeError("For integral input tensors, argument alpha must not be a floating point number.")
    return (("alpha", alpha),)


@defop(lambda a, b, alpha=None: jnp.add(a, _scaled(b, alpha)), node="AddBackward0", saves={0: (), 1: ()},
       promote=True, inplace=True, fast=True)
def add(input, other, *, alpha=None):
    """``input + alpha * other`` with broadcasting and torch's type promotion."""
    _broadcast_check(input, other)
    return (input, other), _alpha(alpha, input, other)


def _no_bool_sub(input, other):
    if (isinstance(input, Tensor) and input._dtype.name == "bool") and (
            isinstance(other, Tensor) and other._dtype.name == "bool"):
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
                           "`logical_xor()` operator instead.")
    if (isinstance(input, Tensor) and input._dtype.name == "bool") or (
            isinstance(other, Tensor) and other._dtype.name == "bool"):
        raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying "
                           "to invert a mask, use the `~` or `logical_not()` operator instead.")


@defop(lambda a, b, alpha=None: jnp.subtract(a, _scaled(b, alpha)), node="SubBackward0", saves={0: (), 1: ()},
       promote=True, inplace=True, aliases=("subtract",), fast=True)
def sub(input, other, *, alpha=None):
    """``input - alpha * other``."""
    _no_bool_sub(input, other)
    _broadcast_check(input, other)
    return (input, other), _alpha(alpha, input, other)


subtract = sub


@defop(lambda a, b, alpha=None: jnp.subtract(b, _scaled(a, alpha)), node="RsubBackward0", saves={0: ()},
       promote=True, method=False)
def rsub(input, other, *, alpha=None):
    """``other - alpha * input`` (what ``number - tensor`` calls)."""
    _need_tensor_input("rsub", input, other, scalar_self=False)
    _no_bool_sub(input, other)
    _broadcast_check(input, other)
    if isinstance(other, Tensor):
        return (input, other), _alpha(alpha, input, other)
    return (input, Const(other)), _alpha(alpha, input, other), "RsubBackward1"


@defop(jnp.multiply, node="MulBackward0", saves={0: (1,), 1: (0,)}, promote=True, inplace=True,
       aliases=("multiply",), fast=True)
def mul(input, other):
    """``input * other`` with broadcasting."""
    _broadcast_check(input, other)
    return (input, other), ()


multiply = mul


@defop(_div_fwd, node="DivBackward0", saves={0: (1,), 1: (0, 1)}, promote=True, inplace=True,
       aliases=("divide", "true_divide"), fast=True)
def div(input, other, *, rounding_mode=None):
    """True division (``rounding_mode=None``), or ``'trunc'``/``'floor'`` rounding."""
    _broadcast_check(input, other)
    if rounding_mode is None:
        # integer / integer gives the default float dtype, as in torch
        if _is_intlike(input) and _is_intlike(other):
            input = input.to(_dtypes.get_default_dtype()) if isinstance(input, Tensor) else float(input)
        return (input, other), ()
    if rounding_mode not in ("trunc", "floor"):
        raise RuntimeError(f"div expected rounding_mode to be one of None, 'trunc', or 'floor' but found '{rounding_mode}'")
    _check_int_zero_div(input, other)
    return (input, other), (("rounding_mode", rounding_mode),), "DivBackward2"


divide = true_divide = div


@defop(jnp.reciprocal, node="ReciprocalBackward0", saves={0: ("result",)}, inplace=True)
def reciprocal(input):
    """``1 / input``."""
    if not _is_float(input):
        input = input.to(_dtypes.get_default_dtype())
    return (input,), ()


def _remainder_fwd(a, b):
    if jnp.issubdtype(a.dtype, jnp.integer):
        b = jnp.where(b == 0, 1, b)
    return jnp.remainder(a, b)


def _fmod_fwd(a, b):
    if jnp.issubdtype(a.dtype, jnp.integer):
        b = jnp.where(b == 0, 1, b)
    return jnp.fmod(a, b)


# torch: d/dother = -floor(a / b) (remainder) or -trunc(a / b) (fmod)
_remainder = torch_grad(_remainder_fwd, lambda out, a, b: jnp.ones_like(out),
                        lambda out, a, b: -jnp.floor_divide(a, b))
_fmod = torch_grad(_fmod_fwd, lambda out, a, b: jnp.ones_like(out), lambda out, a, b: -jnp.trunc(a / b))


@defop(_remainder, node="RemainderBackward1", saves={0: (), 1: (0, 1)}, promote=True, inplace=True)
def remainder(input, other):
    """Python-style modulus (sign of the divisor)."""
    _need_tensor_input("remainder", input, other, scalar_self=True)
    _broadcast_check(input, other)
    _check_int_zero_div(input, other)
    return (input, other), (), ("RemainderBackward1" if isinstance(other, Tensor) and isinstance(input, Tensor)
                                else "RemainderBackward0")


@defop(_fmod, node="FmodBackward1", saves={0: (), 1: (0, 1)}, promote=True, inplace=True)
def fmod(input, other):
    """C-style modulus (sign of the dividend)."""
    _need_tensor_input("fmod", input, other, scalar_self=False)
    _broadcast_check(input, other)
    _check_int_zero_div(input, other)
    return (input, other), (), "FmodBackward1" if isinstance(other, Tensor) else "FmodBackward0"


@defop(lambda a, b: _div_fwd(a, b, "floor"), node="FloorDivideBackward0", promote=True, inplace=True)
def floor_divide(input, other):
    _need_tensor_input("floor_divide", input, other, scalar_self=False)
    _broadcast_check(input, other)
    _check_int_zero_div(input, other)
    return (input, other), ()


def _int_pow(a, b):
    """torch's integer power: negative exponents give 0 except for bases 1 and -1."""
    b = jnp.asarray(b)
    neg = b < 0
    pos = jnp.power(a, jnp.where(neg, 0, b).astype(a.dtype))
    odd = (b % 2) != 0
    small = jnp.where(a == 1, 1, jnp.where(a == -1, jnp.where(odd, -1, 1), 0)).astype(a.dtype)
    return jnp.where(neg, small, pos)


def _pow_any(a, b):
    if jnp.issubdtype(a.dtype, jnp.integer) or a.dtype == jnp.bool_:
        if a.dtype == jnp.bool_:
            return _int_pow(a.astype(jnp.int8), b).astype(jnp.bool_)
        return _int_pow(a, b)
    return jnp.power(a, b)


def _pow_scalar_fwd(x, exponent):
    if isinstance(exponent, int) and not isinstance(exponent, bool):
        if jnp.issubdtype(x.dtype, jnp.integer) or x.dtype == jnp.bool_:
            return _pow_any(x, exponent)
        return jax.lax.integer_pow(x, exponent) if exponent >= 0 else jnp.power(x, jnp.asarray(exponent, x.dtype))
    return jnp.power(x, jnp.asarray(exponent, x.dtype))


def _pow_scalar_grad(out, x, exponent):
    if exponent == 0:
        return jnp.zeros_like(x)
    return exponent * _pow_scalar_fwd(x, exponent - 1)


def _pow_self_grad(out, a, b):
    return jnp.where(b == 0, 0, b * jnp.power(a, b - 1))


def _pow_exp_grad(out, a, b):
    # torch: no gradient where the base is 0 and the exponent is >= 0 (0 ** b is flat there)
    return jnp.where((a == 0) & (jnp.real(b) >= 0), 0, out * jnp.log(a))


_pow_ts = torch_grad(_pow_scalar_fwd, _pow_scalar_grad)
_pow_tt = torch_grad(_pow_any, _pow_self_grad, _pow_exp_grad)


@defop(_pow_ts, node="PowBackward0", saves={0: (0,)}, method=False, function=False)
def _pow_tensor_scalar(input, exponent):
    return (input,), (("exponent", exponent),)


@defop(_pow_tt, node="PowBackward1", saves={0: (0, 1), 1: (0, "result")}, promote=True, method=False,
       function=False)
def _pow_tensor_tensor(input, exponent):
    return (input, exponent), ()


@defop(_pow_tt, node="PowBackward2", saves={1: (0, "result")}, promote=True, method=False, function=False)
def _pow_scalar_tensor(base, exponent):
    return (Const(base), exponent), ()


@public(method=True, inplace=True)
def pow(input, exponent):  # noqa: A001 - torch's name
    """``input ** exponent``; either may be a number (one must be a tensor)."""
    _need_tensor_input("pow", input, exponent, scalar_self=True)
    if not isinstance(input, Tensor):
        if not isinstance(input, (bool, int, float, _b.complex)):
            raise TypeError(f"pow() received an invalid combination of arguments - got ({type(input).__name__}, "
                            f"{type(exponent).__name__}), but expected one of:")
        return _pow_scalar_tensor(input, exponent)
    if isinstance(exponent, Tensor):
        _broadcast_check(input, exponent)
        return _pow_tensor_tensor(input, exponent)
    if not isinstance(exponent, (bool, int, float, _b.complex)):
        raise TypeError(f"pow() received an invalid combination of arguments - got (Tensor, {type(exponent).__name__}), "
                        "but expected one of:")
    if not _is_float(input):
        if isinstance(exponent, (float, _b.complex)):
            return _pow_tensor_tensor(input, exponent)
        if exponent < 0:
            raise RuntimeError("Integers to negative integer powers are not allowed.")
    return _pow_tensor_scalar(input, exponent)


@public(method=True)
def float_power(input, exponent):
    """``input ** exponent`` computed in double precision (complex128 for complex arguments)."""
    _need_tensor_input("float_power", input, exponent, scalar_self=True)
    cplx = any((isinstance(x, Tensor) and x._dtype.is_complex) or isinstance(x, _b.complex) for x in (input, exponent))
    dt = _dtypes.complex128 if cplx else _dtypes.float64
    if isinstance(input, Tensor):
        input = input.to(dt)
    else:
        input = _b.complex(input) if cplx else float(input)
    if isinstance(exponent, Tensor):
        exponent = exponent.to(dt)
    else:
        exponent = _b.complex(exponent) if cplx else float(exponent)
    return pow(input, exponent)


@public(name="float_power_", method=True, function=False)
def _float_power_(self, exponent):
    res = float_power(self, exponent)
    if res._dtype is not self._dtype:
        raise RuntimeError(f"the base given to float_power_ has dtype {_dt_word(self._dtype)} but the operation's "
                           f"result requires dtype {_dt_word(res._dtype)}")
    return self._inplace_assign(res)


@defop(jnp.maximum, node="MaximumBackward0", saves={0: (0, 1), 1: (0, 1)}, promote=True)
def maximum(input, other):
    _need_tensors("maximum", input=input, other=other)
    _broadcast_check(input, other)
    return (input, other), ()


@defop(jnp.minimum, node="MinimumBackward0", saves={0: (0, 1), 1: (0, 1)}, promote=True)
def minimum(input, other):
    _need_tensors("minimum", input=input, other=other)
    _broadcast_check(input, other)
    return (input, other), ()


def _fmax_keep(a, b):
    return (a >= b) | jnp.isnan(b)


def _fmin_keep(a, b):
    return (a <= b) | jnp.isnan(b)


_fmax = torch_grad(jnp.fmax, lambda o, a, b: _fmax_keep(a, b).astype(o.dtype),
                   lambda o, a, b: (~_fmax_keep(a, b)).astype(o.dtype))
_fmin = torch_grad(jnp.fmin, lambda o, a, b: _fmin_keep(a, b).astype(o.dtype),
                   lambda o, a, b: (~_fmin_keep(a, b)).astype(o.dtype))


@defop(_fmax, node="FmaxBackward0", saves={0: (0, 1), 1: (0, 1)}, promote=True)
def fmax(input, other):
    """Elementwise maximum ignoring NaN (NaN only where both are NaN)."""
    _need_tensors("fmax", input=input, other=other)
    _broadcast_check(input, other)
    return (input, other), ()


@defop(_fmin, node="FminBackward0", saves={0: (0, 1), 1: (0, 1)}, promote=True)
def fmin(input, other):
    """Elementwise minimum ignoring NaN."""
    _need_tensors("fmin", input=input, other=other)
    _broadcast_check(input, other)
    return (input, other), ()


def _atan2_den(a, b):
    return a * a + b * b


_atan2 = torch_grad(jnp.arctan2,
                    lambda o, a, b: jnp.where(_atan2_den(a, b) == 0, 0, b / _atan2_den(a, b)),
                    lambda o, a, b: jnp.where(_atan2_den(a, b) == 0, 0, -a / _atan2_den(a, b)))


@defop(_atan2, node="Atan2Backward0", saves={0: (0, 1), 1: (0, 1)}, promote=True, inplace=True,
       aliases=("arctan2",))
def atan2(input, other):
    """Elementwise ``atan(input / other)`` in the right quadrant."""
    _need_tensors("atan2", input=input, other=other)
    _broadcast_check(input, other)
    return _floatify(input, other), ()


arctan2 = atan2

_hypot = torch_grad(jnp.hypot, lambda o, a, b: a / o, lambda o, a, b: b / o)


@defop(_hypot, node="HypotBackward0", saves={0: (0, 1, "result"), 1: (0, 1, "result")}, promote=True,
       inplace=True)
def hypot(input, other):
    """``sqrt(input**2 + other**2)``."""
    _need_tensors("hypot", input=input, other=other)
    _broadcast_check(input, other)
    return (input, other), ()


_copysign = torch_grad(jnp.copysign, lambda o, a, b: jnp.where(a == 0, 0, o / a), lambda o, a, b: jnp.zeros_like(o))


@defop(_copysign, node="CopysignBackward0", saves={0: (0, "result")}, promote=True, inplace=True)
def copysign(input, other):
    """``input``'s magnitude with ``other``'s sign."""
    _need_tensor_input("copysign", input, other, scalar_self=False)
    _broadcast_check(input, other)
    a, b = _floatify(input, other)
    if not isinstance(b, Tensor):
        return (a, Const(b)), (), "CopysignBackward1"
    return (a, b), ()


def _xlogy_fwd(x, y):
    return jnp.where(jnp.isnan(y), jnp.nan, jnp.where(x == 0, 0, x * jnp.log(y))).astype(jnp.result_type(x, y))


def _xlog1py_fwd(x, y):
    return jnp.where(jnp.isnan(y), jnp.nan, jnp.where(x == 0, 0, x * jnp.log1p(y))).astype(jnp.result_type(x, y))


_xlogy = torch_grad(_xlogy_fwd, lambda o, x, y: _xlogy_fwd((x != 0).astype(o.dtype), y), lambda o, x, y: x / y)
_xlog1py = torch_grad(_xlog1py_fwd, lambda o, x, y: _xlog1py_fwd((x != 0).astype(o.dtype), y),
                      lambda o, x, y: x / (y + 1))


def _xlog_binder(node):
    def binder(input, other):
        _broadcast_check(input, other)
        a, b = _floatify(input, other)
        if not isinstance(a, Tensor):
            return (Const(a), b), (), node + "1"
        if not isinstance(b, Tensor):
            return (a, Const(b)), (), node + "2"
        return (a, b), (), node + "0"
    return binder


@defop(_xlogy, node="XlogyBackward0", saves={0: (0, 1), 1: (0, 1)}, promote=True, inplace=True,
       namespace=("torch", "special"))
def xlogy(input, other):
    """``input * log(other)``, 0 where ``input`` is 0 (NaN where ``other`` is NaN)."""
    _need_tensor_input("xlogy", input, other, scalar_self=True)
    return _xlog_binder("XlogyBackward")(input, other)


@defop(_xlog1py, node="SpecialXlog1PyBackward0", saves={0: (0, 1), 1: (0, 1)}, promote=True, method=False,
       namespace="special")
def xlog1py(input, other):
    """``input * log1p(other)``, 0 where ``input`` is 0."""
    _need_tensor_input("special_xlog1py", input, other, scalar_self=True)
    return _xlog_binder("SpecialXlog1PyBackward")(input, other)


def _lerp_fwd(a, b, w):
    return a + w * (b - a)


@defop(_lerp_fwd, node="LerpBackward0", promote=True, inplace=True)
def lerp(input, end, weight):
    _broadcast_check(input, end)
    if isinstance(end, Tensor) and end._dtype is not input._dtype:
        raise RuntimeError(f"expected dtype {_dtypes.ctype_name(input._dtype)} for `end` but got dtype "
                           f"{_dtypes.ctype_name(end._dtype)}")
    if isinstance(weight, Tensor):
        return (input, end, weight), (), "LerpBackward1"
    return (input, end, Const(weight)), (), "LerpBackward0"


@defop(lambda a, b, c, value=None: a + _scaled(b * c, value), node="AddcmulBackward0",
       saves={1: (2,), 2: (1,)}, promote=True, inplace=True)
def addcmul(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 * tensor2``."""
    return (input, tensor1, tensor2), () if value == 1 else (("value", value),)


@defop(lambda a, b, c, value=None: a + _scaled(b / c, value), node="AddcdivBackward0",
       saves={1: (2,), 2: (1, 2)}, promote=True, inplace=True)
def addcdiv(input, tensor1, tensor2, *, value=1):
    """``input + value * tensor1 / tensor2``."""
    if _is_intlike(tensor1) and _is_intlike(tensor2):
        raise RuntimeError("Integer division with addcdiv is no longer supported, and in a future release addcdiv "
                           "will perform a true division of tensor1 and tensor2. The historic addcdiv behavior can be "
                           "implemented as (input + value * torch.trunc(tensor1 / tensor2)).to(input.dtype) for "
                           "integer inputs and as (input + value * tensor1 / tensor2) for float inputs. The future "
                           "addcdiv behavior is just the latter implementation: (input + value * tensor1 / tensor2), "
                           "for all dtypes.")
    return (input, tensor1, tensor2), () if value == 1 else (("value", value),)


def _logaddexp_fwd(a, b):
    if not jnp.iscomplexobj(a):
        return jnp.logaddexp(a, b)
    # torch: max + log1p(exp(min - max)), ordered by real part (the imaginary part is not wrapped)
    a, b = jnp.broadcast_arrays(a, b)
    first = jnp.real(a) >= jnp.real(b)
    hi, lo = jnp.where(first, a, b), jnp.where(first, b, a)
    return hi + jnp.log1p(jnp.exp(lo - hi))


_logaddexp = torch_grad(_logaddexp_fwd, lambda o, a, b: 1 / (1 + jnp.exp(b - a)),
                        lambda o, a, b: 1 / (1 + jnp.exp(a - b)))
_logaddexp2 = torch_grad(jnp.logaddexp2, lambda o, a, b: 1 / (1 + jnp.exp2(b - a)),
                         lambda o, a, b: 1 / (1 + jnp.exp2(a - b)))


@defop(_logaddexp, node="LogaddexpBackward0", saves={0: (0, 1), 1: (0, 1)}, promote=True)
def logaddexp(input, other):
    """``log(exp(input) + exp(other))`` without overflow."""
    _need_tensors("logaddexp", input=input, other=other)
    _broadcast_check(input, other)
    return _floatify(input, other), ()


@defop(_logaddexp2, node="Logaddexp2Backward0", saves={0: (0, 1), 1: (0, 1)}, promote=True)
def logaddexp2(input, other):
    """``log2(2**input + 2**other)``."""
    _need_tensors("logaddexp2", input=input, other=other)
    _broadcast_check(input, other)
    return _floatify(input, other), ()


_ldexp = torch_grad(lambda a, b: a * jnp.exp2(b.astype(a.dtype)), lambda o, a, b: jnp.exp2(b.astype(o.dtype)),
                   lambda o, a, b: o * math.log(2))


@defop(_ldexp, node="LdexpBackward0", saves={0: (1,)}, promote=(0,), inplace=True)
def ldexp(input, other):
    """``input * 2 ** other``."""
    _need_tensors("ldexp", input=input, other=other)
    _broadcast_check(input, other)
    if not _is_float(other):
        if not _is_float(input):
            input = input.to(_dtypes.get_default_dtype())
    return (input, other), ()


_nextafter = torch_grad(jnp.nextafter, lambda o, a, b: jnp.ones_like(o), lambda o, a, b: jnp.zeros_like(o))


@defop(_nextafter, node="NextafterBackward0", promote=True, inplace=True)
def nextafter(input, other):
    """The next floating-point value after ``input`` towards ``other``."""
    _need_tensors("nextafter", input=input, other=other)
    _broadcast_check(input, other)
    return (input, other), ()


@defop(lambda a, b: jnp.heaviside(a, b).astype(a.dtype), node="", promote=True, inplace=True, nondiff_out=True)
def heaviside(input, values):
    """0 where ``input < 0``, 1 where ``input > 0``, ``values`` where it is 0."""
    _need_tensors("heaviside", input=input, values=values)
    if isinstance(values, Tensor) and values._dtype is not input._dtype:
        raise RuntimeError("heaviside is not yet implemented for tensors with different dtypes")
    _broadcast_check(input, values)
    return (input, values), ()


def _intonly(name):
    def check(*xs):
        for x in xs:
            if isinstance(x, Tensor) and _is_float(x):
                raise RuntimeError(f'"{name}_cpu" not implemented for \'{_dt_word(x._dtype)}\'')
    return check


def _dt_word(d):
    return {"float32": "Float", "float64": "Double", "float16": "Half", "bfloat16": "BFloat16",
            "complex64": "ComplexFloat", "complex128": "ComplexDouble"}.get(d.name, d.name)


@defop(jnp.gcd, node="", promote=True, inplace=True, nondiff_out=True)
def gcd(input, other):
    """Greatest common divisor (non-negative)."""
    _need_tensors("gcd", input=input, other=other)
    _intonly("gcd")(input, other)
    return (input, other), ()


@defop(lambda a, b: jnp.abs(jnp.lcm(a, b)), node="", promote=True, inplace=True, nondiff_out=True)
def lcm(input, other):
    """Least common multiple (non-negative)."""
    _need_tensors("lcm", input=input, other=other)
    _intonly("lcm")(input, other)
    return (input, other), ()


def _shift_fwd(a, b, left):
    bits = a.dtype.itemsize * 8
    b = b.astype(a.dtype)
    out_of_range = (b < 0) | (b >= bits)
    sb = jnp.where(out_of_range, 0, b)
    if left:
        return jnp.where(out_of_range, 0, jnp.left_shift(a, sb))
    return jnp.where(out_of_range, jnp.where(a < 0, -1, 0).astype(a.dtype), jnp.right_shift(a, sb))


@defop(lambda a, b: _shift_fwd(a, b, True), node="", promote=True, inplace=True, nondiff_out=True)
def bitwise_left_shift(input, other):
    """``input << other`` (0 once the shift reaches the bit width)."""
    _need_tensor_input("bitwise_left_shift", input, other, scalar_self=True)
    for x in (input, other):
        if (isinstance(x, Tensor) and _is_float(x)) or isinstance(x, float):
            raise NotImplementedError(f"\"lshift_cpu\" not implemented for '{_dt_word(x._dtype) if isinstance(x, Tensor) else 'Float'}'")
    return (input, other), ()


@defop(lambda a, b: _shift_fwd(a, b, False), node="", promote=True, inplace=True, nondiff_out=True)
def bitwise_right_shift(input, other):
    """``input >> other`` (arithmetic shift)."""
    _need_tensor_input("bitwise_right_shift", input, other, scalar_self=True)
    for x in (input, other):
        if (isinstance(x, Tensor) and _is_float(x)) or isinstance(x, float):
            raise NotImplementedError(f"\"rshift_cpu\" not implemented for '{_dt_word(x._dtype) if isinstance(x, Tensor) else 'Float'}'")
    return (input, other), ()


# -- unary math -----------------------------------------------------------------------------------
def _float_input(x):
    if not (x._dtype.is_floating_point or x._dtype.is_complex):
        return x.to(_dtypes.get_default_dtype())
    return x


def _unary(name, fwd, node, saves=("self",), float_only=True, doc="", namespace=None):
    saves = {0: tuple(0 if s == "self" else s for s in saves)}

    def binder(input):
        if name == "abs" and isinstance(input, Tensor) and input._dtype is _dtypes.bool:
            raise NotImplementedError("\"abs_cpu\" not implemented for 'Bool'")
        if name == "neg" and input._dtype is _dtypes.bool:
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you are trying "
                               "to invert a mask, use the `~` or `logical_not()` operator instead.")
        return ((_float_input(input) if float_only else input),), ()

    binder.__name__ = name
    binder.__doc__ = doc or f"Elementwise ``{name}``."
    return defop(fwd, node=node, saves=saves, inplace=True, namespace=namespace, fast=True)(binder)


def _trigamma(x):
    """torch's trigamma (reflection for x < 1/2, then recurrence and the asymptotic series)."""
    sign = jnp.where(x < 0.5, -1.0, 1.0).astype(x.dtype)
    refl = jnp.where(x < 0.5, -(_PI ** 2) / jnp.square(jnp.sin(_PI * x)), 0.0).astype(x.dtype)
    x = jnp.where(x < 0.5, 1 - x, x)
    res = jnp.zeros_like(x)
    for _ in range(6):
        res = res + 1 / (x * x)
        x = x + 1
    ixx = 1 / (x * x)
    res = res + (1 + 1 / (2 * x) + ixx * (1.0 / 6 - ixx * (1.0 / 30 - ixx * (1.0 / 42)))) / x
    return sign * (res + refl)


def _digamma_fwd(x):
    # torch: +-0 gives -+inf (the sign of the pole's side), negative integers NaN
    return jnp.where(x == 0, jnp.copysign(jnp.inf, -x).astype(x.dtype), jax.scipy.special.digamma(x))


_digamma = torch_grad(_digamma_fwd, lambda o, x: _trigamma(x))


def _sinc_fwd(x):
    px = _PI * x
    return jnp.where(x == 0, jnp.ones_like(x), jnp.sin(px) / jnp.where(x == 0, 1, px))


def _sinc_grad(o, x):
    px = _PI * x
    safe = jnp.where(x == 0, 1, x)
    return jnp.where(x == 0, 0, (px * jnp.cos(px) - jnp.sin(px)) / (_PI * safe * safe))


_sinc = torch_grad(_sinc_fwd, _sinc_grad)
_i0 = torch_grad(jax.scipy.special.i0, lambda o, x: jax.scipy.special.i1(x))


def _rad(x):
    return x * jnp.asarray(_PI / 180, x.dtype)


def _deg(x):
    return x * jnp.asarray(180 / _PI, x.dtype)


def _lgamma_fwd(x):
    # float32 through float64: JAX's float32 lgamma is off by several ulp (lgamma(1) != 0)
    if x.dtype in (jnp.float32, jnp.float16, jnp.bfloat16):
        return jax.scipy.special.gammaln(x.astype(jnp.float64)).astype(x.dtype)
    return jax.scipy.special.gammaln(x)


_lgamma = torch_grad(_lgamma_fwd, lambda o, x: _digamma_fwd(x))


def real_sign(x):
    """torch's ``sign`` of a real array: ``(0 < x) - (x < 0)``, so 0 (never -0.0) at +-0 and at NaN,
    where ``jnp.sign`` gives -0.0 and NaN; torch's derivatives use it (``self.sgn()``)."""
    if x.dtype == jnp.bool_:
        return x
    if not jnp.issubdtype(x.dtype, jnp.floating):
        return jnp.sign(x)
    return (x > 0).astype(x.dtype) - (x < 0).astype(x.dtype)


def _sgn_fwd(x):
    if not jnp.iscomplexobj(x):
        return real_sign(x)
    a = jnp.abs(x)
    return jnp.where(a == 0, 0, x / jnp.where(a == 0, 1, a))


_abs_real = torch_grad(jnp.abs, lambda o, x: real_sign(x))  # d|x|/dx = sgn(x): 0 at +-0 and NaN, as torch


def _abs_fwd(x):
    if jnp.iscomplexobj(x) or not jnp.issubdtype(x.dtype, jnp.floating):
        return jnp.abs(x)
    return _abs_real(x)


@jax.custom_jvp
def _relu_fwd(x):
    return jnp.maximum(x, jnp.zeros((), x.dtype))


@_relu_fwd.defjvp
def _relu_jvp(primals, tangents):
    """torch's ``threshold_backward(grad, result, 0)``: the gradient passes (selected, not multiplied:
    a NaN or inf gradient is dropped where the result is <= 0) where the result is not <= 0, so at
    NaN too (jax.nn.relu's passes only where x > 0)."""
    (x,), (t,) = primals, tangents
    o = _relu_fwd(x)
    return o, jnp.where(o <= 0, jnp.zeros_like(t), t)


_UNARY = [
    # name, jax forward, torch node, what torch's formula saves, promote ints to float, namespaces
    ("exp", jnp.exp, "ExpBackward0", ("result",), True, None),
    ("exp2", jnp.exp2, "Exp2Backward0", ("result",), True, ("torch", "special")),
    ("expm1", jnp.expm1, "Expm1Backward0", ("result",), True, ("torch", "special")),
    ("log", jnp.log, "LogBackward0", ("self",), True, None),
    ("log2", jnp.log2, "Log2Backward0", ("self",), True, None),
    ("log10", jnp.log10, "Log10Backward0", ("self",), True, None),
    ("log1p", jnp.log1p, "Log1PBackward0", ("self",), True, ("torch", "special")),
    ("sqrt", jnp.sqrt, "SqrtBackward0", ("result",), True, None),
    ("rsqrt", jax.lax.rsqrt, "RsqrtBackward0", ("result",), True, None),
    ("sin", jnp.sin, "SinBackward0", ("self",), True, None),
    ("cos", jnp.cos, "CosBackward0", ("self",), True, None),
    ("tan", jnp.tan, "TanBackward0", ("result",), True, None),
    ("asin", jnp.arcsin, "AsinBackward0", ("self",), True, None),
    ("acos", jnp.arccos, "AcosBackward0", ("self",), True, None),
    ("atan", jnp.arctan, "AtanBackward0", ("self",), True, None),
    ("sinh", jnp.sinh, "SinhBackward0", ("self",), True, None),
    ("cosh", jnp.cosh, "CoshBackward0", ("self",), True, None),
    ("tanh", jnp.tanh, "TanhBackward0", ("result",), True, None),
    ("asinh", jnp.arcsinh, "AsinhBackward0", ("self",), True, None),
    ("acosh", jnp.arccosh, "AcoshBackward0", ("self",), True, None),
    ("atanh", jnp.arctanh, "AtanhBackward0", ("self",), True, None),
    ("sigmoid", jax.nn.sigmoid, "SigmoidBackward0", ("result",), True, None),
    ("erf", jax.scipy.special.erf, "ErfBackward0", ("self",), True, ("torch", "special")),
    ("erfc", jax.scipy.special.erfc, "ErfcBackward0", ("self",), True, ("torch", "special")),
    ("erfinv", jax.scipy.special.erfinv, "ErfinvBackward0", ("self",), True, ("torch", "special")),
    ("lgamma", _lgamma, "LgammaBackward0", ("self",), True, None),
    ("digamma", _digamma, "DigammaBackward0", ("self",), True, ("torch", "special")),
    ("i0", _i0, "I0Backward0", ("self",), True, ("torch", "special")),
    ("sinc", _sinc, "SincBackward0", ("self",), True, ("torch", "special")),
    ("deg2rad", _rad, "Deg2RadBackward0", (), True, None),
    ("rad2deg", _deg, "Rad2DegBackward0", (), True, None),
    ("neg", jnp.negative, "NegBackward0", (), False, None),
    ("abs", _abs_fwd, "AbsBackward0", ("self",), False, None),
    ("sign", real_sign, "SignBackward0", (), False, None),
    ("sgn", _sgn_fwd, "SgnBackward0", ("self", "result"), False, None),
    ("relu", _relu_fwd, "ReluBackward0", ("result",), False, None),
    ("square", jnp.square, "PowBackward0", ("self",), False, None),
    ("floor", jnp.floor, "FloorBackward0", (), False, None),
    ("ceil", jnp.ceil, "CeilBackward0", (), False, None),
    ("trunc", jnp.trunc, "TruncBackward0", (), False, None),
    ("frac", lambda x: x - jnp.trunc(x), "FracBackward0", (), False, None),
]
for _n, _f, _node, _saves, _fl, _ns in _UNARY:
    globals()[_n] = _unary(_n, _f, _node, _saves, _fl, namespace=_ns)
negative, absolute, arcsin, arccos, arctan = neg, abs, asin, acos, atan  # noqa: F821 - made above
fix = trunc  # noqa: F821
special_expit = sigmoid  # noqa: F821
public(sigmoid, name="expit", namespace="special")  # noqa: F821
public(digamma, name="psi", namespace="special")  # noqa: F821
public(lgamma, name="gammaln", namespace="special")  # noqa: F821


def _round_fwd(x, decimals=None):
    if decimals is None or not jnp.issubdtype(x.dtype, jnp.floating):
        return jnp.round(x)
    if decimals >= 0:
        p = jnp.asarray(10.0 ** decimals, x.dtype)
        return jnp.round(x * p) / p
    p = jnp.asarray(10.0 ** -decimals, x.dtype)
    return jnp.round(x / p) * p


@defop(_round_fwd, node="RoundBackward0", inplace=True, namespace=("torch", "special"))
def round(input, *, decimals=None):  # noqa: A001 - torch's name
    """Round half to even; with ``decimals``, to that many decimal places."""
    if decimals is None:
        return (input,), ()
    if not _is_float(input) and decimals != 0:
        raise RuntimeError("round_cpu not implemented for integer inputs with decimals")
    return (input,), (("decimals", int(decimals)),), "RoundBackward1"


def _logit_fwd(x, eps=None):
    if eps is not None:
        x = jnp.clip(x, eps, 1 - eps)
    return jnp.log(x / (1 - x))


def _logit_grad(o, x, eps=None):
    d = 1 / (x * (1 - x))
    if eps is None:
        return jnp.where((x < 0) | (x > 1), jnp.nan, d)
    return jnp.where((x < eps) | (x > 1 - eps), 0, d)


@defop(torch_grad(_logit_fwd, _logit_grad), node="LogitBackward0", saves={0: (0,)}, inplace=True,
       namespace=("torch", "special"))
def logit(input, eps=None):
    """``log(p / (1 - p))``; with ``eps``, ``p`` clamped to ``[eps, 1 - eps]`` first."""
    return (_float_input(input),), () if eps is None else (("eps", float(eps)),)


def _nan_to_num_fwd(x, nan=0.0, posinf=None, neginf=None):
    if not jnp.issubdtype(x.dtype, jnp.inexact):
        return x
    return jnp.nan_to_num(x, nan=nan, posinf=posinf, neginf=neginf)


_nan_to_num = torch_grad(_nan_to_num_fwd, lambda o, x, **kw: jnp.isfinite(x).astype(o.dtype))


@defop(_nan_to_num, node="NanToNumBackward0", inplace=True)
def nan_to_num(input, nan=0.0, posinf=None, neginf=None):
    """NaN, +inf and -inf replaced by ``nan``, ``posinf``, ``neginf`` (default: the dtype's extremes)."""
    return (input,), (("nan", float(nan)), ("posinf", None if posinf is None else float(posinf)),
                      ("neginf", None if neginf is None else float(neginf)))


def _angle_fwd(x):
    if jnp.iscomplexobj(x):
        return jnp.angle(x)
    return jnp.where(jnp.isnan(x), x, jnp.where(x < 0, jnp.asarray(_PI, x.dtype), jnp.zeros_like(x)))


_angle_real = torch_grad(_angle_fwd, lambda o, x: jnp.zeros_like(o))


def _angle(x):
    return jnp.angle(x) if jnp.iscomplexobj(x) else _angle_real(x)


@defop(_angle, node="AngleBackward0")
def angle(input):
    """The argument of each element (``pi`` for negative reals, 0 otherwise)."""
    return (_float_input(input),), ()


def _frexp_m(x):
    return jnp.frexp(x)[0]


@defop(torch_grad(_frexp_m, lambda o, x: 1 / jnp.exp2(jnp.frexp(x)[1].astype(o.dtype))), node="FrexpBackward0",
       method=False, function=False, name="frexp_mantissa")
def _frexp_mantissa(input):
    return (input,), ()


@defop(lambda x: jnp.frexp(x)[1].astype(jnp.int32), node="", nondiff_out=True, method=False, function=False,
       name="frexp_exponent")
def _frexp_exponent(input):
    return (input,), ()


_frexp_t = None


@public(method=True)
def frexp(input):
    """``(mantissa, exponent)`` with ``input = mantissa * 2 ** exponent`` and ``0.5 <= |mantissa| < 1``."""
    global _frexp_t
    if not input._dtype.is_floating_point:
        raise RuntimeError("torch.frexp() only supports floating-point dtypes")
    if _frexp_t is None:
        import collections

        _frexp_t = collections.namedtuple("frexp", ["mantissa", "exponent"])
    return _frexp_t(_frexp_mantissa(input), _frexp_exponent(input))


def _mvlgamma_fwd(x, p):
    j = jnp.arange(p, dtype=x.dtype)
    return (jnp.sum(jax.scipy.special.gammaln(x[..., None] - j / 2), axis=-1)
            + jnp.asarray(p * (p - 1) / 4 * math.log(_PI), x.dtype))


def _mvlgamma_grad(o, x, p):
    j = jnp.arange(p, dtype=x.dtype)
    return jnp.sum(_digamma_fwd(x[..., None] - j / 2), axis=-1)


@defop(torch_grad(_mvlgamma_fwd, _mvlgamma_grad), node="MvlgammaBackward0", saves={0: (0,)}, inplace=True)
def mvlgamma(input, p):
    """The multivariate log-gamma function of dimension ``p``."""
    if p < 1:
        raise RuntimeError("p has to be greater than or equal to 1")
    return (_float_input(input),), (("p", int(p)),)


public(mvlgamma, name="multigammaln", namespace="special")


def _polygamma_fwd(x, n):
    if n == 0:
        return _digamma_fwd(x)
    if n == 1:
        return _trigamma(x)
    from .special import zeta_impl

    return ((1.0 if n % 2 else -1.0) * math.exp(math.lgamma(n + 1.0)) * zeta_impl(float(n + 1), x)).astype(x.dtype)


_polygamma = torch_grad(_polygamma_fwd, lambda o, x, n: _polygamma_fwd(x, n + 1))


@defop(_polygamma, node="PolygammaBackward0", saves={0: (0,)}, method=False, namespace=("torch", "special"))
def polygamma(n, input):
    """The ``n``-th derivative of the digamma function."""
    if n < 0:
        raise RuntimeError("polygamma(n, x) does not support negative n.")
    return (_float_input(input),), (("n", int(n)),)


def _polygamma_method(self, n):
    return polygamma(n, self)


def _polygamma_inplace(self, n):
    return self._inplace_assign(polygamma(n, self))


public(_polygamma_method, name="polygamma", method=True, function=False)
public(_polygamma_inplace, name="polygamma_", method=True, function=False)


# -- complex parts and the identity-like ops -----------------------------------------------------------
@public(method=True)
def positive(input):
    """``input`` itself (``+input``); an error for bool tensors."""
    if input._dtype is _dtypes.bool:
        raise RuntimeError("The `+` operator, on a bool tensor is not supported.")
    return input


@defop(jnp.conj, node="ConjBackward0", method=True)
def _conj_complex(input):
    return (input,), ()


@defop(jnp.conj, node="ConjPhysicalBackward0", method=False, function=False, name="conj_physical_op")
def _conj_physical(input):
    return (input,), ()


@public(method=True)
def conj(input):
    """The complex conjugate (``input`` itself for real dtypes)."""
    return _conj_complex(input) if input._dtype.is_complex else input


@public(method=True, inplace=True)
def conj_physical(input):
    """The complex conjugate, materialised (``input`` itself for real dtypes)."""
    return _conj_physical(input) if input._dtype.is_complex else input


@public(method=True)
def resolve_conj(input):
    """``input`` (funcgrad never holds lazily-conjugated tensors)."""
    return input


@public(method=True)
def resolve_neg(input):
    """``input`` (funcgrad never holds lazily-negated tensors)."""
    return input


@public(method=True)
def is_conj(input):
    return False


@public(method=True)
def is_neg(input):
    return False


@defop(jnp.real, node="SelectBackward0", method=False, function=False, name="real_part")
def _real(input):
    return (input,), ()


@defop(jnp.imag, node="SelectBackward0", method=False, function=False, name="imag_part")
def _imag(input):
    return (input,), ()


@public
def real(input):
    """The real part (``input`` itself for real dtypes)."""
    return _real(input) if input._dtype.is_complex else input


@public
def imag(input):
    """The imaginary part; an error for real dtypes."""
    if not input._dtype.is_complex:
        raise RuntimeError("imag is not implemented for tensors with non-complex dtypes.")
    return _imag(input)


methods({"real": property(real), "imag": property(imag)})


@defop(lambda x: jnp.stack([jnp.real(x), jnp.imag(x)], axis=-1), node="ViewAsRealBackward0", method=False)
def view_as_real(input):
    """A complex tensor as a real one with a trailing dimension of size 2."""
    if not input._dtype.is_complex:
        raise RuntimeError("view_as_real is only supported for complex tensors")
    return (input,), ()


@defop(lambda x: jax.lax.complex(x[..., 0], x[..., 1]), node="ViewAsComplexBackward0", method=False)
def view_as_complex(input):
    """A real tensor with a trailing dimension of size 2 as a complex one."""
    if input._dtype not in (_dtypes.float32, _dtypes.float64):
        raise RuntimeError("view_as_complex is only supported for float and double tensors, but got a tensor of "
                           f"scalar type: {_dt_word(input._dtype)}")
    if not input._shape or input._shape[-1] != 2:
        raise RuntimeError("Tensor must have a last dimension of size 2")
    return (input,), ()


def _complex_fwd(re, im):
    return jax.lax.complex(*jnp.broadcast_arrays(re, im))


@defop(_complex_fwd, node="ComplexBackward0", promote=True, method=False)
def complex(real, imag):  # noqa: A001 - torch's name
    """``real + 1j * imag`` (both float32 or both float64)."""
    if isinstance(real, Tensor) and real._dtype is _dtypes.float16:
        raise NotImplementedError("torch.complex of float16 tensors gives complex32 (torch.chalf), which JAX lacks")
    _need_tensors("complex", real=real, imag=imag)
    if not (real._dtype.is_floating_point and imag._dtype.is_floating_point) or real._dtype is not imag._dtype:
        raise RuntimeError(f"Expected object of scalar type {_dt_word(real._dtype)} but got scalar type "
                           f"{_dt_word(imag._dtype)} for second argument")
    _broadcast_check(real, imag)
    return (real, imag), ()


@defop(lambda a, t: _complex_fwd(a * jnp.cos(t), a * jnp.sin(t)), node="PolarBackward0", promote=True,
       method=False)
def polar(abs, angle):  # noqa: A002 - torch's names
    """``abs * (cos(angle) + 1j * sin(angle))``."""
    _need_tensors("polar", abs=abs, angle=angle)
    if abs._dtype is not angle._dtype:
        raise RuntimeError(f"Expected object of scalar type {_dt_word(abs._dtype)} but got scalar type "
                           f"{_dt_word(angle._dtype)} for second argument")
    _broadcast_check(abs, angle)
    return (abs, angle), ()


@defop(lambda x, negative_slope: jnp.where(x > 0, x, x * negative_slope), node="LeakyReluBackward0",
       saves={0: (0,)}, method=False, function=False)
def _leaky_relu(input, negative_slope=0.01):
    return (input,), (("negative_slope", float(negative_slope)),)


# -- clamp ----------------------------------------------------------------------------------------
def _clamp_fwd(x, lo=None, hi=None):
    # written with where (not maximum/minimum): at a bound the gradient passes whole, as in torch
    # (JAX splits ties between max's operands); a NaN input stays NaN
    # a NaN bound makes the result NaN, as torch's min(max(x, lo), hi)
    if lo is not None:
        lo = lo.astype(x.dtype) if hasattr(lo, "astype") else lo
        x = jnp.where(x < lo, lo, x)
        if jnp.issubdtype(x.dtype, jnp.inexact):
            x = jnp.where(lo != lo, lo, x)
    if hi is not None:
        hi = hi.astype(x.dtype) if hasattr(hi, "astype") else hi
        x = jnp.where(x > hi, hi, x)
        if jnp.issubdtype(x.dtype, jnp.inexact):
            x = jnp.where(hi != hi, hi, x)
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


def _clamp_promote(input, *bounds):
    """torch computes clamp in ``result_type(input, min, max)``: an integer tensor with float bounds
    gives a float result."""
    dt = _promote([input, *[b for b in bounds if b is not None]], True)
    return input.to(dt) if dt is not input._dtype else input


def clamp(input, min=None, max=None):  # noqa: A002 - torch's names
    """Limit values to ``[min, max]``; bounds are numbers or tensors (one may be None)."""

    if min is None and max is None:
        raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
    if min is not None and max is not None and isinstance(min, Tensor) != isinstance(max, Tensor):
        raise TypeError(f"clamp() received an invalid combination of arguments - got (max={type(max).__name__}, "
                        f"min={type(min).__name__}, ), but expected one of:")
    input = _clamp_promote(input, min, max)
    if isinstance(min, Tensor) or isinstance(max, Tensor):
        return _clamp_tensor(input, min, max)
    if max is None:
        return _clamp_min_only(input, min)
    if min is None:
        return _clamp_max_only(input, max)
    return _clamp_both(input, min, max)


clip = clamp


@defop(lambda x, lo: _clamp_fwd(x, lo, None), node="ClampMinBackward0", saves={0: (0,)},
       method=False, function=False, name="clamp_min_scalar")
def _clamp_min_s(input, min):  # noqa: A002
    return (input, Const(min)), ()


@defop(lambda x, hi: _clamp_fwd(x, None, hi), node="ClampMaxBackward0", saves={0: (0,)},
       method=False, function=False, name="clamp_max_scalar")
def _clamp_max_s(input, max):  # noqa: A002
    return (input, Const(max)), ()


@defop(lambda x, lo: _clamp_fwd(x, lo, None), node="ClampMinBackward1", saves={0: (0, 1), 1: (0, 1)},
       method=False, function=False, name="clamp_min_tensor")
def _clamp_min_t(input, min):  # noqa: A002
    _broadcast_check(input, min)
    return (input, min), ()


@defop(lambda x, hi: _clamp_fwd(x, None, hi), node="ClampMaxBackward1", saves={0: (0, 1), 1: (0, 1)},
       method=False, function=False, name="clamp_max_tensor")
def _clamp_max_t(input, max):  # noqa: A002
    _broadcast_check(input, max)
    return (input, max), ()


@public(method=True, inplace=True)
def clamp_min(input, min):  # noqa: A002
    """``max(input, min)`` elementwise (``min`` a number or a tensor)."""
    _need_tensors("clamp_min", input=input)
    input = _clamp_promote(input, min)
    return _clamp_min_t(input, min) if isinstance(min, Tensor) else _clamp_min_s(input, min)


@public(method=True, inplace=True)
def clamp_max(input, max):  # noqa: A002
    """``min(input, max)`` elementwise (``max`` a number or a tensor)."""
    _need_tensors("clamp_max", input=input)
    input = _clamp_promote(input, max)
    return _clamp_max_t(input, max) if isinstance(max, Tensor) else _clamp_max_s(input, max)


@defop(lambda c, a, b: jnp.where(c, a, b), node="WhereBackward0", saves={1: (0,), 2: (0,)}, promote=(1, 2),
       nondiff=(0,), method=False, function=False, name="where")
def _where(condition, input, other):
    if not isinstance(condition, Tensor) or condition._dtype.name != "bool":
        raise RuntimeError("where expected condition to be a boolean tensor, but got a tensor with dtype "
                           + (_dtypes.scalar_type_name(condition._dtype) if isinstance(condition, Tensor)
                              else type(condition).__name__))
    return (condition, input, other), ()


def where(condition, input=None, other=None):
    """``input`` where ``condition`` holds, else ``other`` (broadcasting); with only ``condition``,
    the indices where it holds (``nonzero(as_tuple=True)``)."""
    if input is None and other is None:
        return nonzero(condition, as_tuple=True)
    return _where(condition, input, other)


# -- comparisons and logic (outputs do not require grad) -------------------------------------------
def _compare(name, fwd, alias=None):
    def binder(input, other):
        _need_tensor_input(name, input, other)
        _broadcast_check(input, other)
        if name not in ("eq", "ne") and any(isinstance(x, _b.complex) or isinstance(x, Tensor) and x._dtype.is_complex
                                            for x in (input, other)):
            raise NotImplementedError(f'"{name}_cpu" not implemented for '
                                      f"'{_dtypes.scalar_type_name(_promote([input, other], True))}'")
        return (input, other), ()

    binder.__name__ = name
    binder.__doc__ = f"Elementwise ``{name}`` comparison; a bool tensor."
    return defop(fwd, node="", promote=True, inplace=True, nondiff_out=True, aliases=(alias,) if alias else (),
                 fast="all")(binder)


eq = _compare("eq", jnp.equal)
ne = _compare("ne", jnp.not_equal, "not_equal")
lt = _compare("lt", jnp.less, "less")
le = _compare("le", jnp.less_equal, "less_equal")
gt = _compare("gt", jnp.greater, "greater")
ge = _compare("ge", jnp.greater_equal, "greater_equal")
greater, greater_equal, less, less_equal, not_equal = gt, ge, lt, le, ne


def _logic(name, fwd):
    def binder(input, other):
        _need_tensors(name, input=input, other=other)
        return (input, other), ()

    binder.__name__ = name
    return defop(fwd, node="", inplace=True, nondiff_out=True)(binder)


logical_and = _logic("logical_and", jnp.logical_and)
logical_or = _logic("logical_or", jnp.logical_or)
logical_xor = _logic("logical_xor", jnp.logical_xor)


def _bitwise(name, fwd):
    def binder(input, other):
        _need_tensor_input(name, input, other, scalar_self=True)
        for x in (input, other):
            if (isinstance(x, Tensor) and _is_float(x)) or isinstance(x, (float, _b.complex)):
                raise NotImplementedError(f"\"{name}_cpu\" not implemented for "
                                          f"'{_dt_word(x._dtype) if isinstance(x, Tensor) else 'Float'}'")
        _broadcast_check(input, other)
        return (input, other), ()

    binder.__name__ = name
    binder.__doc__ = f"Elementwise ``{name}`` of integer or bool tensors."
    return defop(fwd, node="", promote=True, inplace=True, nondiff_out=True)(binder)


bitwise_and = _bitwise("bitwise_and", jnp.bitwise_and)
bitwise_or = _bitwise("bitwise_or", jnp.bitwise_or)
bitwise_xor = _bitwise("bitwise_xor", jnp.bitwise_xor)


@defop(jnp.logical_not, node="", nondiff_out=True, inplace=True)
def logical_not(input):
    return (input,), ()


@defop(jnp.invert, node="", nondiff_out=True, inplace=True)
def bitwise_not(input):
    if _is_float(input):
        raise NotImplementedError(f"\"bitwise_not_cpu\" not implemented for '{_dt_word(input._dtype)}'")
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
isposinf = _unary_pred("isposinf", jnp.isposinf)
isneginf = _unary_pred("isneginf", jnp.isneginf)
isreal = _unary_pred("isreal", lambda x: jnp.imag(x) == 0 if jnp.iscomplexobj(x) else jnp.ones(x.shape, bool))


def _isclose_fwd(a, b, rtol, atol, equal_nan):
    if not (jnp.issubdtype(a.dtype, jnp.inexact)):
        return (a == b) | (jnp.abs(a.astype(jnp.float64) - b) <= atol + rtol * jnp.abs(b.astype(jnp.float64)))
    close = a == b
    if equal_nan:
        close = close | (jnp.isnan(a) & jnp.isnan(b))
    diff = jnp.abs(a - b)
    allowed = atol + rtol * jnp.abs(b)
    return close | (jnp.isfinite(diff) & (diff <= allowed))


@defop(_isclose_fwd, node="", promote=True, nondiff_out=True)
def isclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """Elementwise ``|input - other| <= atol + rtol * |other|`` (NaNs equal with ``equal_nan``)."""
    if isinstance(other, Tensor) and other._dtype is not input._dtype:
        raise RuntimeError(f"{input._dtype} did not match {other._dtype}")
    if rtol < 0:
        raise RuntimeError(f"rtol must be greater than or equal to zero, but got {rtol}")
    if atol < 0:
        raise RuntimeError(f"atol must be greater than or equal to zero, but got {atol}")
    _broadcast_check(input, other)
    return (input, other), (("rtol", float(rtol)), ("atol", float(atol)), ("equal_nan", bool(equal_nan)))


@public(method=True)
def allclose(input, other, rtol=1e-05, atol=1e-08, equal_nan=False):
    """``isclose(...).all()`` as a python bool."""
    return bool(isclose(input, other, rtol, atol, equal_nan).all())


@public(method=True)
def equal(input, other):
    """True when both tensors have the same shape and elements."""
    if input._shape != other._shape:
        return False
    return bool(eq(input, other).all())


@defop(lambda e, t, invert=False: jnp.isin(e, t, invert=invert), node="", nondiff_out=True, promote=True,
       method=False)
def isin(elements, test_elements, *, assume_unique=False, invert=False):
    """Whether each of ``elements`` is in ``test_elements``."""
    if not isinstance(elements, Tensor) and not isinstance(test_elements, Tensor):
        raise TypeError("isin() received an invalid combination of arguments")
    return (elements, test_elements), (("invert", bool(invert)),)


def _igamma_dx(o, a, x):
    return jnp.exp((a - 1) * jnp.log(x) - x - jax.scipy.special.gammaln(a))


_igamma = torch_grad(jax.scipy.special.gammainc, None, _igamma_dx)
_igammac = torch_grad(jax.scipy.special.gammaincc, None, lambda o, a, x: -_igamma_dx(o, a, x))


@defop(_igamma, node="IgammaBackward0", saves={1: (0, 1)}, promote=True, inplace=True)
def igamma(input, other):
    """The regularized lower incomplete gamma function P(input, other)."""
    _need_tensors("igamma", input=input, other=other)
    _broadcast_check(input, other)
    return _floatify(input, other), ()


@defop(_igammac, node="IgammacBackward0", saves={1: (0, 1)}, promote=True, inplace=True)
def igammac(input, other):
    """The regularized upper incomplete gamma function Q(input, other)."""
    _need_tensors("igammac", input=input, other=other)
    _broadcast_check(input, other)
    return _floatify(input, other), ()


public(igamma, name="gammainc", namespace="special")
public(igammac, name="gammaincc", namespace="special")
