"""``funcgrad.autograd``: reverse-mode differentiation with torch's API and semantics."""
from __future__ import annotations

import sys as _sys

# The floor below Tensor (grad modes, anomaly mode, graph nodes) keeps torch's names here:
# ``torch.autograd.grad_mode``, ``.anomaly_mode`` and ``.graph`` are these very modules.
from .._autograd import _publish, anomaly_mode, grad_mode, graph
for _m in (anomaly_mode, grad_mode, graph):
    _name = f"{__name__}.{_m.__name__.rsplit('.', 1)[1]}"
    _sys.modules[_name] = _m
    _publish(_m, _name)
del _m, _name

from . import forward_ad, functional  # noqa: E402
from .anomaly_mode import detect_anomaly, is_anomaly_enabled, set_detect_anomaly  # noqa: E402
from .engine import backward, grad, run_backward  # noqa: E402
from .function import Function, FunctionCtx, once_differentiable  # noqa: E402
from .gradcheck import gradcheck, gradgradcheck  # noqa: E402
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled,  # noqa: E402
                        no_grad, set_grad_enabled)

__all__ = ["backward", "grad", "Function", "FunctionCtx", "once_differentiable", "no_grad", "enable_grad",
           "set_grad_enabled", "inference_mode", "is_grad_enabled", "is_inference_mode_enabled", "detect_anomaly",
           "set_detect_anomaly", "is_anomaly_enabled", "gradcheck", "gradgradcheck", "functional", "forward_ad",
           "graph", "Variable"]


def Variable(data, requires_grad=False, volatile=False):  # noqa: N802 - deprecated torch API
    """Deprecated: returns ``data`` (a Tensor), with ``requires_grad`` set."""
    if requires_grad:
        data.requires_grad_(True)
    return data
