"""Normalisation functions beyond layer/batch norm: ``group_norm`` (one op, torch's
``NativeGroupNormBackward0``), ``instance_norm`` (batch norm over a ``(1, N*C, ...)`` view, as torch
composes it), ``rms_norm`` and ``local_response_norm`` (compositions, as torch's)."""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .._ops.registry import ABSENT, defop, public, upcast_half
from ..autograd import grad_mode

__all__ = ["group_norm", "instance_norm", "rms_norm", "local_response_norm"]


def _group_norm_fwd(x, *wb, groups, eps, has_w, has_b):
    wb = list(wb)
    n, c = x.shape[0], x.shape[1]
    xg = x.reshape(n, groups, (c // groups) * int(np.prod(x.shape[2:], dtype=np.int64)))
    mean = jnp.mean(xg, axis=-1, keepdims=True)
    var = jnp.mean(jnp.square(xg - mean), axis=-1, keepdims=True)
    y = ((xg - mean) * jax.lax.rsqrt(var + eps)).reshape(x.shape)
    shape = (1, c) + (1,) * (x.ndim - 2)
    if has_w:
        y = y * wb.pop(0).reshape(shape)
    if has_b:
        y = y + wb.pop(0).reshape(shape)
    return y.astype(x.dtype)  # torch keeps the input's type with float32 parameters


@defop(upcast_half(_group_norm_fwd), node="NativeGroupNormBackward0", saves={0: (0, 1), 1: (0, 1), 2: (0, 1)},
       method=False, function=False, name="group_norm")  # torch saves input and weight for all three
def _group_norm(input, groups, weight, bias, eps):
    return (input, ABSENT if weight is None else weight, ABSENT if bias is None else bias), \
        (("groups", int(groups)), ("eps", float(eps)), ("has_w", weight is not None), ("has_b", bias is not None))


@defop(upcast_half(_group_norm_fwd), node="NativeGroupNormBackward0", saves={0: (0,), 1: ()},
       method=False, function=False, name="group_norm_no_weight")
def _group_norm_no_weight(input, groups, bias, eps):
    # weight absent, bias given: the values are (input, bias), and torch saves only the input (its weight
    # slot is undefined), so ``_group_norm``'s saves would version-check the bias where torch doesn't
    return (input, bias), (("groups", int(groups)), ("eps", float(eps)), ("has_w", False), ("has_b", True))


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):
    """Normalise each of ``num_groups`` channel groups over the group's channels and spatial dims."""
    if input.dim() < 2:
        raise RuntimeError(f"Expected at least 2 dimensions for input tensor but received {input.dim()}")
    c = input._shape[1]
    if num_groups <= 0 or c % num_groups:
        raise RuntimeError(f"Expected number of channels in input to be divisible by num_groups, but got input of "
                           f"shape {list(input._shape)} and num_groups={num_groups}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and (t.dim() != 1 or t.numel() != c):
            raise RuntimeError(f"Expected {name} to be a vector of size equal to the number of channels in input, "
                               f"but got {name} of shape {list(t._shape)} and input of shape {list(input._shape)}")
    return _group_norm_op(input, num_groups, weight, bias, eps)


def _group_norm_op(input, groups, weight, bias, eps):
    """The op ``group_norm`` records (checked inputs): torch's saved variables depend on which of
    weight and bias are given."""
    if weight is None and bias is not None:
        return _group_norm_no_weight(input, groups, bias, eps)
    return _group_norm(input, groups, weight, bias, eps)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True,
                  momentum=0.1, eps=1e-5):
    """Normalise each (sample, channel) over its spatial dims; running statistics (if given) are
    updated with the mean over the batch of the per-instance statistics."""
    from . import functional as F

    if input.dim() < 3:
        raise ValueError(f"Expected 2D (unbatched) or 3D (batched) input to instance_norm, but got input of size: "
                         f"{list(input._shape)}")
    n, c = input._shape[0], input._shape[1]
    F._check_channel_params(c, running_mean, running_var, weight, bias, times=n)
    shape = (1, n * c) + tuple(input._shape[2:])
    if use_input_stats and input.numel() // (n * c) <= 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {list(input._shape)}")
    x = input.contiguous().view(*shape) if hasattr(input, "contiguous") else input.view(*shape)
    w = weight.repeat(n) if weight is not None else None
    b = bias.repeat(n) if bias is not None else None
    if use_input_stats:
        out = F._batch_norm(x, (None, None), w, b, eps, True)
        if running_mean is not None:
            with grad_mode.no_grad():
                axes = tuple(range(2, input.dim()))
                xd = input.detach()
                m = xd.mean(axes).mean(0)
                cnt = input.numel() // (n * c)
                v = xd.var(axes, unbiased=cnt > 1).mean(0)
                running_mean.mul_(1 - momentum).add_(m * momentum)
                if running_var is not None:
                    running_var.mul_(1 - momentum).add_(v * momentum)
    else:
        rm, rv = running_mean.repeat(n), running_var.repeat(n)
        out = F._batch_norm(x, (rm, rv), w, b, eps, False)
    return out.view(*input._shape)


def rms_norm(input, normalized_shape, weight=None, eps=None):
    """``x * rsqrt(mean(x**2 over the last dims) + eps) * weight`` (``eps`` defaults to the dtype's epsilon)."""
    from .. import _dtypes

    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    normalized_shape = tuple(normalized_shape)
    if not normalized_shape:
        raise RuntimeError("Expected normalized_shape to be at least 1-dimensional, i.e., containing at least one "
                           "element, but got normalized_shape = []")
    k = len(normalized_shape)
    if tuple(input._shape[input.dim() - k:]) != normalized_shape or k > input.dim():
        raise RuntimeError(f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, normalized_shape))}], but got input of size{list(input._shape)}")
    if eps is None:
        import numpy as np

        eps = float(np.finfo(input._dtype.np).eps) if input._dtype.is_floating_point else \
            float(np.finfo(_dtypes.get_default_dtype().np).eps)
    dims = tuple(range(input.dim() - k, input.dim()))
    rsq = input.pow(2).mean(dims, keepdim=True).add(eps).rsqrt()
    out = input * rsq
    return out * weight if weight is not None else out


def _lrn_window(x2, size):
    # mean of x**2 over a window of `size` channels (dim 1), zero padded (size // 2 before,
    # (size - 1) // 2 after), as torch's avg_pool over the padded channel dim
    pads = [(0, 0)] * x2.ndim
    pads[1] = (size // 2, (size - 1) // 2)
    xp = jnp.pad(x2, pads)
    c = x2.shape[1]
    s = sum(jax.lax.slice_in_dim(xp, i, i + c, axis=1) for i in range(size))
    return s / size


@defop(_lrn_window, node="AvgPool2DBackward0", saves={0: (0,)}, method=False, function=False, name="lrn_window")
def _lrn_avg(input, size, node):
    return (input,), (("size", int(size)),), node


def local_response_norm(input, size, alpha=1e-4, beta=0.75, k=1.0):
    """``x / (k + alpha * mean of x**2 over size neighbouring channels) ** beta``."""
    dim = input.dim()
    if dim < 3:
        raise ValueError(f"Expected 3D or higher dimensionality input (got {dim} dimensions)")
    if input.numel() == 0:
        return input
    if not (input._dtype.is_floating_point or input._dtype.is_complex):
        from .. import _dtypes

        input = input.to(_dtypes.get_default_dtype())
    div = input.mul(input)
    div = _lrn_avg(div, size, "AvgPool2DBackward0" if dim == 3 else "AvgPool3DBackward0")
    div = div.mul(alpha).add(k).pow(beta)
    return input / div


# -- weight normalisation (``torch._weight_norm``, ``torch.norm_except_dim``) ----------------------------
def _norm_except(v, dim):
    if dim == -1:
        return jnp.sqrt(jnp.sum(jnp.square(v)))
    axes = tuple(a for a in range(v.ndim) if a != dim)
    return jnp.sqrt(jnp.sum(jnp.square(v), axis=axes, keepdims=True))


def _weight_norm_fwd(v, g, dim):
    return (v * (g / _norm_except(v, dim))).astype(v.dtype)


@defop(_weight_norm_fwd, node="WeightNormInterfaceBackward0", saves={0: (0, 1)}, method=False, function=False,
       name="_weight_norm_interface")
def _weight_norm_interface(v, g, dim=0):
    return (v, g), (("dim", int(dim)),)


@public(name="_weight_norm")
def _weight_norm(v, g, dim=0):
    """``v * (g / norm_except_dim(v, 2, dim))``: the weight of a weight-normed layer (one fused op when ``dim`` is
    the first or last dim, as torch's)."""
    if dim == 0 or dim == v.dim() - 1:
        return _weight_norm_interface(v, g, dim)
    return v * (g / norm_except_dim(v, 2, dim))


@public(name="norm_except_dim")
def norm_except_dim(v, pow=2, dim=0):
    """The ``pow``-norm of ``v`` over every dim but ``dim`` (kept as size-1 dims); ``dim=-1``: over all."""
    if dim == -1:
        return v.norm(pow)
    if dim == 0:
        return v.contiguous().view(v.size(0), -1).norm(pow, 1).view([v.size(0)] + [1] * (v.dim() - 1))
    if dim == v.dim() - 1:
        return v.contiguous().view(-1, v.size(v.dim() - 1)).norm(pow, 0).view([1] * (v.dim() - 1) + [v.size(-1)])
    return norm_except_dim(v.transpose(0, dim), pow, 0).transpose(0, dim)
