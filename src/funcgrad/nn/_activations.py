"""Activations of ``torch.nn.functional`` beyond relu/sigmoid/tanh: each a registry op named as torch's
backward node, or composed from ops the way torch composes it (``softsign``, ``tanhshrink``, ``softmin``).

Forwards are written so that ``jax.vjp``/``jax.jvp`` give torch's derivative (``derivatives.yaml``),
including at the kinks and where a naive formula overflows (``softplus``/``elu`` at large inputs: the
untaken branch of a ``where`` is fed a safe value, so no ``inf * 0`` NaN reaches the gradient)."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from .._ops import creation
from .._ops.registry import defop, autocast_op

__all__ = ["elu", "celu", "selu", "softplus", "hardshrink", "softshrink", "hardsigmoid", "hardswish", "logsigmoid",
           "glu", "threshold", "prelu", "rrelu", "softsign", "tanhshrink", "softmin", "softmax2d",
           "gumbel_softmax", "relu_", "elu_", "celu_", "selu_", "rrelu_", "threshold_", "leaky_relu_", "hardtanh_"]

_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _inplace(input, out, inplace):
    return input._inplace_assign(out) if inplace else out


def _elu_fwd(x, alpha, scale, input_scale):
    pos = x > 0
    neg = alpha * jnp.expm1(jnp.where(pos, 0, x) * input_scale)
    return jnp.where(pos, x * scale, neg * scale).astype(x.dtype)


def _elu_params(alpha, scale=1.0, input_scale=1.0):
    return (("alpha", float(alpha)), ("scale", float(scale)), ("input_scale", float(input_scale)))


@defop(_elu_fwd, node="EluBackward0", saves={0: (0,)}, method=False, function=False, name="elu")
def _elu(input, alpha, scale=1.0, input_scale=1.0, node="EluBackward0"):
    return (input,), _elu_params(alpha, scale, input_scale), node


@defop(_elu_fwd, node="CeluBackward0", saves={0: (0,)}, method=False, function=False, name="celu")
def _celu(input, alpha, node="CeluBackward0"):
    return (input,), _elu_params(alpha, 1.0, 1.0 / alpha), node


def elu(input, alpha=1.0, inplace=False):
    """``x`` if ``x > 0`` else ``alpha * (exp(x) - 1)``."""
    # in place, torch's node is EluBackward1 (its formula reads the result)
    return _inplace(input, _elu(input, alpha, node="EluBackward1" if inplace else "EluBackward0"), inplace)


def celu(input, alpha=1.0, inplace=False):
    """``max(0, x) + min(0, alpha * (exp(x / alpha) - 1))``."""
    if alpha == 0:
        raise RuntimeError("ZeroDivisionError")
    return _inplace(input, _celu(input, alpha, "CeluBackward1" if inplace else "CeluBackward0"), inplace)


def selu(input, inplace=False):
    """``scale * elu(x, alpha)`` with the self-normalising constants."""
    return _inplace(input, _elu(input, _SELU_ALPHA, _SELU_SCALE, 1.0, "EluBackward1" if inplace else "EluBackward0"),
                    inplace)


def elu_(input, alpha=1.0):
    return elu(input, alpha, True)


def celu_(input, alpha=1.0):
    return celu(input, alpha, True)


def selu_(input):
    return selu(input, True)


def _softplus_fwd(x, beta, threshold):
    xb = x * beta
    lin = xb > threshold
    return jnp.where(lin, x, jnp.log1p(jnp.exp(jnp.where(lin, 0, xb))) / beta).astype(x.dtype)


@defop(_softplus_fwd, node="SoftplusBackward0", saves={0: (0,)}, method=False, function=False, name="softplus")
def softplus(input, beta=1.0, threshold=20.0):
    """``log(1 + exp(beta * x)) / beta``, linear where ``beta * x > threshold``."""
    return (input,), (("beta", float(beta)), ("threshold", float(threshold)))


@defop(lambda x, lambd: jnp.where((x >= -lambd) & (x <= lambd), jnp.zeros_like(x), x), node="HardshrinkBackward0",
       saves={0: (0,)}, method=False, function=False, name="hardshrink")
def _hardshrink(input, lambd):
    return (input,), (("lambd", float(lambd)),)


def hardshrink(input, lambd=0.5):
    """``x`` where ``|x| > lambd``, else 0."""
    return _hardshrink(input, lambd)


def _softshrink_fwd(x, lambd):
    return jnp.where(x > lambd, x - lambd, jnp.where(x < -lambd, x + lambd, jnp.zeros_like(x))).astype(x.dtype)


@defop(_softshrink_fwd, node="SoftshrinkBackward0", saves={0: (0,)}, method=False, function=False,
       name="softshrink")
def _softshrink(input, lambd):
    return (input,), (("lambd", float(lambd)),)


def softshrink(input, lambd=0.5):
    """``x - lambd`` above ``lambd``, ``x + lambd`` below ``-lambd``, else 0."""
    if lambd < 0:
        raise RuntimeError(f"lambda must be greater or equal to 0, but found to be {lambd}.")
    return _softshrink(input, lambd)


def _hardsigmoid_fwd(x):
    # torch's derivative is 1/6 strictly inside (-3, 3) and 0 at and beyond the kinks
    inside = (x > -3) & (x < 3)
    return jnp.where(inside, x / 6 + 0.5, jnp.where(x <= -3, 0, 1)).astype(x.dtype)


@defop(_hardsigmoid_fwd, node="HardsigmoidBackward0", saves={0: (0,)}, method=False, function=False,
       name="hardsigmoid")
def _hardsigmoid(input):
    return (input,), ()


def hardsigmoid(input, inplace=False):
    """``relu6(x + 3) / 6``."""
    return _inplace(input, _hardsigmoid(input), inplace)


def _hardswish_fwd(x):
    # torch's derivative: 0 up to -3, x/3 + 1/2 strictly inside (-3, 3), 1 from 3 on
    return jnp.where(x <= -3, 0, jnp.where(x < 3, x * (x + 3) / 6, x)).astype(x.dtype)


@defop(_hardswish_fwd, node="HardswishBackward0", saves={0: (0,)}, method=False, function=False, name="hardswish")
def _hardswish(input):
    return (input,), ()


def hardswish(input, inplace=False):
    """``x * relu6(x + 3) / 6``."""
    return _inplace(input, _hardswish(input), inplace)


@defop(jax.nn.log_sigmoid, node="LogSigmoidBackward0", saves={0: (0,)}, method=False, function=False,
       name="logsigmoid")
def logsigmoid(input):
    """``log(sigmoid(x))``, computed stably."""
    return (input,), ()


def _glu_fwd(x, axis):
    a, b = jnp.split(x, 2, axis=axis)
    return a * jax.nn.sigmoid(b)


@defop(_glu_fwd, node="GluBackward0", saves={0: (0,)}, method=False, function=False, name="glu")
def _glu(input, axis):
    return (input,), (("axis", axis),)


def glu(input, dim=-1):
    """First half of ``input`` along ``dim`` gated by the sigmoid of the second half."""
    from ..tensor import _wrap_dim

    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = _wrap_dim(dim, input.dim())
    if input._shape[d] % 2:
        raise RuntimeError(f"Halving dimension must be even, but dimension {d} is size {input._shape[d]}")
    return _glu(input, d)


@defop(lambda x, threshold, value: jnp.where(x <= threshold, jnp.asarray(value, x.dtype), x),
       node="ThresholdBackward0", saves={0: (0,)}, method=False, function=False, name="threshold")
def _threshold(input, threshold, value, node="ThresholdBackward0"):
    return (input,), (("threshold", threshold), ("value", value)), node


def threshold(input, threshold, value, inplace=False):
    """``value`` where ``x <= threshold``, else ``x``."""
    return _inplace(input, _threshold(input, threshold, value, "ThresholdBackward1" if inplace else
                                      "ThresholdBackward0"), inplace)


def threshold_(input, threshold_value, value):
    return threshold(input, threshold_value, value, True)


def _prelu_fwd(x, w):
    # at x == 0 torch's backward takes the weight's slope (its forward-mode formula the identity's; one
    # JAX derivative serves both, so this follows the backward)
    return jnp.where(x > 0, x, w * x)


@defop(_prelu_fwd, node="PreluKernelBackward0", saves={0: (0, 1), 1: (0, 1)}, promote=True, method=False,
       function=False, name="prelu")
def _prelu(input, weight):
    return (input, weight), ()


@autocast_op("prelu")
def prelu(input, weight):
    """``max(0, x) + weight * min(0, x)``, one weight per channel (dim 1) or one shared."""
    if weight.numel() != 1:
        if input.dim() == 0:
            raise RuntimeError("Not allow zero-dim input tensor.")
        ch = input._shape[1] if input.dim() >= 2 else 1
        if weight.numel() != ch:
            raise RuntimeError(f"Mismatch of parameter numbers and input channel size. Found parameter numbers = "
                               f"{weight.numel()} and channel size = {ch}.")
    if weight.dim() > 1:
        raise RuntimeError(f"prelu: Expected `weight` to be a scalar or 1D tensor, but got: ndim = {weight.dim()}")
    if weight.dim() != input.dim():
        shape = [1] * input.dim()
        if input.dim() >= 2:
            shape[1] = weight.numel()
        weight = weight.reshape(shape)
    return _prelu(input, weight)


def _rrelu_fwd(x, noise):
    return jnp.where(x > 0, x, x * noise).astype(x.dtype)


@defop(_rrelu_fwd, node="RreluWithNoiseBackward0", saves={0: (0,)}, method=False, function=False, name="rrelu")
def _rrelu_noise(input, noise, node="RreluWithNoiseBackward0"):
    from .._ops.registry import Const

    return (input, Const(noise._array())), (), node


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False):
    """Randomized leaky ReLU: negative inputs scaled by a slope drawn from ``U(lower, upper)`` in training,
    by ``(lower + upper) / 2`` otherwise (funcgrad's random stream, not torch's)."""
    from ..autograd import grad_mode

    if lower > upper:
        raise RuntimeError("Lower bound should be less than or equal to the upper bound")
    with grad_mode.no_grad():
        if training:
            noise = creation.rand(input._shape, dtype=input.dtype, device=input.device) * (upper - lower) + lower
        else:
            noise = creation.full(input._shape, (lower + upper) / 2, dtype=input.dtype, device=input.device)
    return _inplace(input, _rrelu_noise(input, noise, "RreluWithNoiseBackward1" if inplace else
                                        "RreluWithNoiseBackward0"), inplace)


def rrelu_(input, lower=1.0 / 8, upper=1.0 / 3, training=False):
    return rrelu(input, lower, upper, training, True)


def relu_(input):
    return input.relu_()


def leaky_relu_(input, negative_slope=0.01):
    from . import functional as F

    return F.leaky_relu(input, negative_slope, True)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    from . import functional as F

    return F.hardtanh(input, min_val, max_val, True)


def softsign(input):
    """``x / (1 + |x|)`` (composed as torch composes it)."""
    return input / (input.abs() + 1)


def tanhshrink(input):
    """``x - tanh(x)``."""
    return input - input.tanh()


def softmin(input, dim=None, _stacklevel=3, dtype=None):
    """``softmax(-x)`` along ``dim``."""
    from . import functional as F

    if dtype is not None:
        input = input.to(dtype)
    return F.softmax(-input, F._softmax_dim(input, dim, "softmin"))


def softmax2d(input):
    """Softmax over the channel dim of (C, H, W) or (N, C, H, W) input."""
    from . import functional as F

    if input.dim() not in (3, 4):
        raise ValueError(f"Softmax2d: expected input to be 3D or 4D, got {input.dim()}D instead")
    return F.softmax(input, -3)


def gumbel_softmax(logits, tau=1.0, hard=False, eps=1e-10, dim=-1):
    """Samples from the Gumbel-softmax distribution (funcgrad's random stream); ``hard`` gives one-hot
    samples with the soft sample's gradient (straight-through)."""
    from ..autograd import grad_mode
    from . import functional as F

    with grad_mode.no_grad():
        gumbels = -creation.empty_like(logits).exponential_().log() if hasattr(logits, "exponential_") else \
            -(-creation.rand_like(logits).clamp_min(1e-20).log()).log()
    y_soft = F.softmax((logits + gumbels) / tau, dim)
    if not hard:
        return y_soft
    index = y_soft.max(dim, keepdim=True)[1]
    y_hard = creation.zeros_like(logits).scatter_(dim, index, 1.0)
    return y_hard - y_soft.detach() + y_soft
