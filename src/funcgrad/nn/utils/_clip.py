"""Gradient clipping and parameter/vector conversion (``torch.nn.utils.clip_grad``, ``convert_parameters``)."""
from __future__ import annotations

import functools
import types
import warnings

import jax.numpy as jnp
import numpy as np

from ... import _lazy, _ops
from ..._ops.linalg_ext import _vnorm_value
from ..._ops.registry import const
from ...autograd import grad_mode
from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm",
           "parameters_to_vector", "vector_to_parameters"]


def _no_grad(fn):
    @functools.wraps(fn)
    def run(*args, **kwargs):
        with grad_mode.no_grad():
            return fn(*args, **kwargs)
    return run


def _as_list(tensors):
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The ``norm_type``-norm of the norms of ``tensors`` (as if all were concatenated into one vector)."""
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if len(tensors) == 0:
        return _ops.creation.tensor(0.0)
    first_device = tensors[0].device
    norms = [_ops.linalg_ext.vector_norm(t, norm_type) for t in tensors]
    total = _ops.linalg_ext.vector_norm(_ops.indexing.stack([n.to(first_device) for n in norms]), norm_type)
    if error_if_nonfinite and bool(_ops.pointwise.logical_or(total.isnan(), total.isinf())):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so "
                           "it cannot be clipped. To disable this error and scale the gradients by the non-finite "
                           "norm anyway, set `error_if_nonfinite=False`")
    return total


@_no_grad
def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale the gradients of ``parameters`` by ``min(1, max_norm / (total_norm + 1e-6))`` in place."""
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    if not grads:
        return
    coef = (float(max_norm) / (total_norm + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(coef.to(g.device))


@_no_grad
def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scale gradients in place so their joint norm is at most ``max_norm``; returns the total norm (before)."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    else:
        is_generator = isinstance(parameters, types.GeneratorType)
        parameters = list(parameters)
        if is_generator and len(parameters) == 0:
            warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.", stacklevel=3)
    grads = [p.grad for p in parameters if p.grad is not None]
    total = _fused_clip(grads, max_norm, norm_type) if not error_if_nonfinite else None
    if total is not None:
        return total
    total = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total, foreach)
    return total


def _clip_impl(params, max_norm, *grads):
    # the same arithmetic as get_total_norm + clip_grads_with_norm_, op for op
    ord = params
    total = _vnorm_value(jnp.stack([_vnorm_value(g, ord, None, False) for g in grads]), ord, None, False)
    coef = jnp.minimum(max_norm / (total + 1e-6), 1.0)
    return (total,) + tuple(g * coef for g in grads)


_CLIP = _lazy.Prim("clip_grad_norm", _clip_impl)


def _fused_clip(grads, max_norm, norm_type):
    """``clip_grad_norm_`` as one tape entry (norms, total, scaled gradients) instead of two ops per
    gradient: same values, the gradients written in place (a version bump each, as ``mul_``);
    None where the general path is needed (mixed dtypes or devices, complex, eager or traced)."""
    if not grads or not _lazy.is_lazy() or _lazy._state.tracing:
        return None
    dt, dev = grads[0]._dtype, grads[0]._st.device
    if not dt.is_floating_point or any(g._dtype is not dt or g._st.device != dev or g._inference for g in grads):
        return None
    ord = float(norm_type)
    if ord < 0 or any(g.numel() == 0 for g in grads):
        return None  # the empty-tensor errors of vector_norm
    npd = np.dtype(dt.np)
    args = [const(float(max_norm), npd)] + [g._value() for g in grads]
    total, *new = _lazy.record_tuple(_CLIP, ord, args, [((), npd)] + [(g._shape, npd) for g in grads])
    for g, v in zip(grads, new):
        g._set_value(v)
    return Tensor._make(total, dev)


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of `torch.nn.utils.clip_grad_norm_`.",
                  FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


@_no_grad
def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp every gradient to ``[-clip_value, clip_value]`` in place."""
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            p.grad.clamp_(min=-clip_value, max=clip_value)


def parameters_to_vector(parameters):
    """One flat vector holding every parameter's values, in order (differentiable)."""
    device = None
    vec = []
    for p in parameters:
        device = _check_param_device(p, device)
        vec.append(p.view(-1))
    return _ops.indexing.cat(vec)


def vector_to_parameters(vec, parameters):
    """Replace each parameter's data by the next slice of ``vec`` (the inverse of ``parameters_to_vector``)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    device = None
    i = 0
    for p in parameters:
        device = _check_param_device(p, device)
        n = p.numel()
        p.data = vec[i:i + n].view_as(p).data
        i += n


def _check_param_device(param, old_param_device):
    if old_param_device is None:
        return param.device.index if param.is_cuda else -1
    warn = False
    if param.is_cuda:
        warn = param.device.index != old_param_device
    else:
        warn = old_param_device != -1
    if warn:
        raise TypeError("Found two parameters on different devices, this is currently not supported.")
    return old_param_device
