"""Forward-mode AD: ``dual_level``, ``make_dual``, ``unpack_dual``.

Every registry op propagates tangents by ``jax.jvp`` of its forward, so forward mode works for
every op (torch lacks forward formulas for some). Tangents ride on tensors as ``_fw_grad`` while a
``dual_level`` is active; they are recorded lazily like any other op. The level state lives below
``Tensor`` (:mod:`funcgrad._autograd.forward_ad`); this module adds what makes tensors.
"""
from __future__ import annotations

import weakref

from .._autograd import _publish, forward_ad as _state_module
from .._autograd.forward_ad import (UnpackedDualTensor, _live_duals, _state, dual_level, enter_dual_level,  # noqa: F401
                                    exit_dual_level, is_active)
from .._ops.views import alias
from ..tensor import Tensor

__all__ = ["dual_level", "make_dual", "unpack_dual", "enter_dual_level", "exit_dual_level", "UnpackedDualTensor"]


def make_dual(tensor, tangent, *, level=None):
    """A view of ``tensor`` whose tangent is ``tangent`` (same shape)."""
    if _state.level < 0:
        raise RuntimeError("To create a dual Tensor, you need to be inside a forward AD level. You can enter one "
                           "using the `torch.autograd.forward_ad.dual_level` context manager")
    if not isinstance(tangent, Tensor) or tangent.shape != tensor.shape:
        raise RuntimeError(f"Trying to set a forward gradient that has a different size than that of the original "
                           f"Tensor, this is not supported. Tensor is of size {tensor.shape} while the given forward "
                           f"gradient is of size {getattr(tangent, 'shape', None)}.")
    if not (tensor.dtype.is_floating_point or tensor.dtype.is_complex):
        raise ValueError(f"Expected primal to be floating point or complex, but got: {tensor.dtype}")
    out = alias(tensor)
    out._fw_grad = tangent.detach().to(tensor.dtype)
    _live_duals.append(weakref.ref(out))
    return out


def unpack_dual(tensor, *, level=None):
    """``(primal, tangent)``: tangent is None outside a level or for tensors without one."""
    tangent = tensor.__dict__.get("_fw_grad") if _state.level >= 0 else None
    if tangent is None:
        return UnpackedDualTensor(tensor, None)
    primal = alias(tensor)
    primal.__dict__.pop("_fw_grad", None)
    return UnpackedDualTensor(primal, tangent)


_publish(_state_module, __name__)
