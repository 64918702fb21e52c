"""``funcgrad.nn.functional``: losses and activations as registry ops."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from .._ops.pointwise import _leaky_relu, relu, sigmoid, tanh  # noqa: F401 - re-exported
from .._ops.registry import defop

__all__ = ["binary_cross_entropy_with_logits", "relu", "sigmoid", "tanh", "leaky_relu"]

_REDUCTIONS = ("none", "mean", "sum")


def _reduce(x, reduction):
    if reduction == "mean":
        return jnp.mean(x)
    if reduction == "sum":
        return jnp.sum(x)
    return x


def _check_reduction(reduction):
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _bce_logits_fwd(x, y, *rest, reduction, has_weight, has_pos):
    rest = list(rest)
    w = rest.pop(0) if has_weight else None
    pw = rest.pop(0) if has_pos else None
    log_sig = jax.nn.log_sigmoid(x)
    log_one_minus = jax.nn.log_sigmoid(-x)
    if pw is not None:
        loss = -(pw * y * log_sig + (1 - y) * log_one_minus)
    else:
        loss = -(y * log_sig + (1 - y) * log_one_minus)
    if w is not None:
        loss = loss * w
    return _reduce(loss, reduction)


@defop(_bce_logits_fwd, node="BinaryCrossEntropyWithLogitsBackward0", saves={0: (0, 1), 1: (0, 1)},
       promote=True, method=False, function=False)
def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    """Sigmoid + binary cross entropy in one numerically stable op."""
    _check_reduction(reduction)
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size ({input.shape})")
    ins = [input, target] + ([weight] if weight is not None else []) + ([pos_weight] if pos_weight is not None else [])
    return tuple(ins), (("reduction", reduction), ("has_weight", weight is not None),
                        ("has_pos", pos_weight is not None))


def leaky_relu(input, negative_slope=0.01, inplace=False):
    out = _leaky_relu(input, negative_slope)
    return input._inplace_assign(out) if inplace else out
