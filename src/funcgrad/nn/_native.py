"""torch's native (ATen-level) normalisation, softmax and dropout ops, as torch publishes them:
``torch.native_layer_norm``, ``torch.native_batch_norm``, ``torch._native_batch_norm_legit``,
``torch.native_group_norm``, ``torch._softmax_backward_data``, ``torch._safe_softmax`` and, under
``torch.ops.aten`` only, ``_batch_norm_with_update``, ``native_dropout_backward`` and
``max_pool2d_with_indices_backward``. Each returns torch's tuple of outputs; the main output is
the op ``F.layer_norm``/``F.batch_norm``/``F.group_norm`` records (torch's node names), the saved
statistics are computed beside it (not differentiable where torch's are not)."""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from .. import _dtypes
from .._ops import creation
from .._ops.aten import aten_op
from .._ops.registry import defop, dispatch, public, upcast_half
from ..autograd import grad_mode
from . import _norms
from . import functional as F

__all__: list = []


# -- layer norm -----------------------------------------------------------------------------------------
@public
def native_layer_norm(input, normalized_shape, weight, bias, eps):
    """``(layer_norm(input), mean, rstd)``; ``mean``/``rstd`` have ``input``'s leading dims and ones after."""
    normalized_shape = tuple(normalized_shape)
    out = F._layer_norm(input, normalized_shape, weight, bias, eps)
    axes = tuple(range(input.dim() - len(normalized_shape), input.dim()))
    with grad_mode.no_grad():
        x = input.detach()
        if x.numel() == 0:
            mean = x.sum(axes, keepdim=True)
            return out, mean, mean.clone()
        mean = x.mean(axes, keepdim=True)
        rstd = (x.var(axes, unbiased=False, keepdim=True) + eps).rsqrt()
    return out, mean, rstd


# -- batch norm -----------------------------------------------------------------------------------------
def _bn(input, weight, bias, running_mean, running_var, training, momentum, eps, node):
    use_batch = training or running_mean is None
    inputs, params = F._batch_norm.__wrapped__(input, (running_mean, running_var), weight, bias, eps, use_batch)
    out = dispatch(F._batch_norm.op, inputs, params, node)
    c = input._shape[1]
    axes = (0,) + tuple(range(2, input.dim()))
    with grad_mode.no_grad():
        x = input.detach()
        if training:
            mean = x.mean(axes)
            var = x.var(axes, unbiased=False)
            invstd = (var + eps).rsqrt()
            if running_mean is not None:
                n = input.numel() // c
                unbiased = var * (n / (n - 1)) if n > 1 else var
                running_mean.mul_(1 - momentum).add_(mean * momentum)
                running_var.mul_(1 - momentum).add_(unbiased * momentum)
        else:
            mean = creation.empty((0,), dtype=input.dtype)
            invstd = creation.empty((0,), dtype=input.dtype)
    return out, mean, invstd


def _bn_check(input):
    if input.dim() < 2:
        raise RuntimeError(f"batch_norm: expected input with at least 2 dimensions, got {input.dim()}")


@public
def native_batch_norm(input, weight, bias, running_mean, running_var, training, momentum, eps):
    """``(batch_norm(input), save_mean, save_invstd)``; the saved statistics are empty when not training."""
    _bn_check(input)
    return _bn(input, weight, bias, running_mean, running_var, training, momentum, eps, "NativeBatchNormBackward0")


@public
def _native_batch_norm_legit(input, weight, bias, *args):
    """``_native_batch_norm_legit(input, weight, bias, running_mean, running_var, training, momentum, eps)`` or,
    without running statistics, ``(input, weight, bias, training, momentum, eps)``."""
    _bn_check(input)
    if len(args) == 5:
        rm, rv, training, momentum, eps = args
        return _bn(input, weight, bias, rm, rv, training, momentum, eps, "NativeBatchNormLegitBackward0")
    if len(args) == 3:
        training, momentum, eps = args
        return _bn(input, weight, bias, None, None, training, momentum, eps, "NativeBatchNormLegitBackward1")
    raise TypeError("_native_batch_norm_legit() takes (input, weight, bias, [running_mean, running_var,] training, "
                    "momentum, eps)")


@aten_op("_batch_norm_with_update")
def _batch_norm_with_update(input, weight, bias, running_mean, running_var, momentum, eps):
    """``(out, save_mean, save_rstd, reserve)``: training batch norm updating the running statistics."""
    _bn_check(input)
    out, mean, rstd = _bn(input, weight, bias, running_mean, running_var, True, momentum, eps,
                          "BatchNormWithUpdateBackward0")
    return out, mean, rstd, creation.empty((0,), dtype=_dtypes.uint8)


# -- group norm -----------------------------------------------------------------------------------------
def _gn_stats_fwd(x, *, groups, eps, k):
    n = x.shape[0]
    xg = x.reshape(n, groups, math.prod(x.shape[1:]) // groups)
    mean = jnp.mean(xg, axis=-1)
    if k == 0:
        return mean
    var = jnp.mean(jnp.square(xg - mean[..., None]), axis=-1)
    return jax.lax.rsqrt(var + eps)


@defop(upcast_half(_gn_stats_fwd), node="NativeGroupNormBackward0", saves={0: (0,)}, method=False, function=False,
       name="group_norm_stats")
def _gn_stats(input, groups, eps, k):
    return (input,), (("groups", int(groups)), ("eps", float(eps)), ("k", k))


@public
def native_group_norm(input, weight, bias, N, C, HxW, group, eps):
    """``(group_norm(input), mean, rstd)``; ``mean``/``rstd`` are ``(N, group)``."""
    if input.numel() != N * C * HxW:
        raise RuntimeError(f"Expected input to have {N * C * HxW} elements, got {input.numel()}")
    out = _norms._group_norm_op(input, group, weight, bias, eps)
    return out, _gn_stats(input, group, eps, 0), _gn_stats(input, group, eps, 1)


# -- softmax --------------------------------------------------------------------------------------------
def _safe_softmax_fwd(x, axis):
    if x.ndim == 0:
        return _safe_softmax_fwd(x[None], 0)[0]
    empty = jnp.all(x == -jnp.inf, axis=axis, keepdims=True)
    y = jax.nn.softmax(jnp.where(empty, jnp.zeros((), x.dtype), x), axis=axis)
    return jnp.where(empty, jnp.zeros((), x.dtype), y)


@defop(upcast_half(_safe_softmax_fwd), node="SafeSoftmaxBackward0", saves={0: ("result",)}, method=False)
def _safe_softmax(input, dim, dtype=None):
    """Softmax along ``dim`` that gives 0 (not NaN) on rows that are all ``-inf``."""
    if dtype is not None:
        input = input.to(dtype)
    if not (input._dtype.is_floating_point or input._dtype.is_complex):
        raise NotImplementedError(f"\"softmax_kernel_impl\" not implemented for "
                                  f"'{input._dtype._legacy.replace('Tensor', '')}'")
    return (input,), (("axis", F._softmax_dim(input, dim, "softmax")),)


def _softmax_bwd_fwd(g, y, *, axis, dtype):
    if y.ndim == 0:
        return jnp.zeros((), dtype)
    if g.dtype in (jnp.float16, jnp.bfloat16):  # torch accumulates in float32 and rounds once
        g, y = g.astype(jnp.float32), y.astype(jnp.float32)
    return (y * (g - jnp.sum(g * y, axis=axis, keepdims=True))).astype(dtype)


@defop(_softmax_bwd_fwd, node="SoftmaxBackwardDataBackward0", saves={0: (1,), 1: (0, 1)}, method=False)
def _softmax_backward_data(grad_output, output, dim, input_dtype):
    """softmax's backward: ``output * (grad_output - sum(grad_output * output, dim))``, in ``input_dtype``."""
    dt = _dtypes.as_dtype(input_dtype)
    return (grad_output, output), (("axis", F._softmax_dim(output, dim, "softmax")), ("dtype", dt.np))


# -- dropout / pooling backward (torch.ops.aten only) ---------------------------------------------------
def _dropout_bwd_fwd(g, mask, *, scale, dtype):
    return (g.astype(dtype) * mask.astype(dtype) * jnp.asarray(scale, dtype)).astype(dtype)


@aten_op("native_dropout_backward")
@defop(_dropout_bwd_fwd, node="NativeDropoutBackwardBackward0", saves={0: (1,)}, method=False, function=False,
       name="native_dropout_backward")
def native_dropout_backward(grad_output, mask, scale):
    """dropout's backward: ``grad_output * mask * scale``."""
    dt = grad_output._dtype if (grad_output._dtype.is_floating_point or grad_output._dtype.is_complex) \
        else _dtypes.get_default_dtype()
    return (grad_output, mask), (("scale", float(scale)), ("dtype", dt.np))


def _pool_bwd_fwd(g, x, idx):
    lead = x.shape[:-2]
    hw = x.shape[-2] * x.shape[-1]
    g2 = g.reshape((-1, g.shape[-2] * g.shape[-1]))
    i2 = idx.reshape(g2.shape)
    out = jax.vmap(lambda gi, ii: jnp.zeros((hw,), g.dtype).at[ii].add(gi))(g2, i2)
    return out.reshape(lead + x.shape[-2:])


@aten_op("max_pool2d_with_indices_backward")
@defop(_pool_bwd_fwd, node="MaxPool2DWithIndicesBackwardBackward0", saves={0: (2,)}, method=False, function=False,
       name="max_pool2d_with_indices_backward")
def max_pool2d_with_indices_backward(grad_output, input, kernel_size, stride, padding, dilation, ceil_mode,
                                     indices):
    """max_pool2d's backward: ``grad_output`` added into an input-shaped zero tensor at ``indices``."""
    if tuple(indices._shape) != tuple(grad_output._shape):
        raise RuntimeError(f"max_pool2d_with_indices_backward: indices shape {list(indices._shape)} != grad_output "
                           f"shape {list(grad_output._shape)}")
    return (grad_output, input, indices), ()

