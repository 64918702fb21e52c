"""``funcgrad.nn.utils``: gradient clipping, parameter/vector conversion, parametrizations (``parametrize``,
``parametrizations``), old-style weight/spectral norm, ``stateless.functional_call``, fusion, pruning, and
``rnn`` (packing helpers, attached by ``funcgrad.nn``)."""
from __future__ import annotations

import inspect

from . import fusion, parametrizations, parametrize, prune, stateless  # noqa: F401
from ._clip import (clip_grad_norm, clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_,  # noqa: F401
                    get_total_norm, parameters_to_vector, vector_to_parameters)
from .fusion import fuse_conv_bn_eval, fuse_conv_bn_weights, fuse_linear_bn_eval, fuse_linear_bn_weights  # noqa: F401
from .spectral_norm import remove_spectral_norm, spectral_norm  # noqa: F401
from .weight_norm import remove_weight_norm, weight_norm  # noqa: F401

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm",
           "parameters_to_vector", "vector_to_parameters", "fuse_conv_bn_eval", "fuse_conv_bn_weights",
           "fuse_linear_bn_eval", "fuse_linear_bn_weights", "remove_spectral_norm", "spectral_norm",
           "remove_weight_norm", "weight_norm", "skip_init", "convert_conv2d_weight_memory_format",
           "convert_conv3d_weight_memory_format", "parametrizations", "parametrize", "stateless", "fusion", "prune",
           "rnn"]


def skip_init(module_cls, *args, **kwargs):
    """Build ``module_cls(*args, **kwargs)`` with uninitialised parameters and buffers (``to_empty``)."""
    from ..module import Module

    if not issubclass(module_cls, Module):
        raise RuntimeError(f"Expected a Module; got {module_cls}")
    if "device" not in inspect.signature(module_cls).parameters:
        raise RuntimeError("Module must support a 'device' arg to skip initialization")
    final_device = kwargs.pop("device", "cpu")
    return module_cls(*args, **kwargs).to_empty(device=final_device)


def convert_conv2d_weight_memory_format(module, memory_format):
    """Accepted for torch compatibility: funcgrad tensors have one layout, so weights are left as they are."""
    return module


def convert_conv3d_weight_memory_format(module, memory_format):
    """Accepted for torch compatibility: funcgrad tensors have one layout, so weights are left as they are."""
    return module
