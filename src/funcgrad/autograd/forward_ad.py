"""Forward-mode AD: ``dual_level``, ``make_dual``, ``unpack_dual``.

Every registry op propagates tangents by ``jax.jvp`` of its forward, so forward mode works for
every op (torch lacks forward formulas for some). Tangents ride on tensors as ``_fw_grad`` while a
``dual_level`` is active; they are recorded lazily like any other op.
"""
from __future__ import annotations

import collections

__all__ = ["dual_level", "make_dual", "unpack_dual", "enter_dual_level", "exit_dual_level", "UnpackedDualTensor"]

UnpackedDualTensor = collections.namedtuple("UnpackedDualTensor", ["primal", "tangent"])


class _State:
    level = -1


_state = _State()


def enter_dual_level():
    if _state.level >= 0:
        raise RuntimeError("Nested forward mode AD is not supported at the moment")
    _state.level = 0
    return 0


def exit_dual_level(*, level=None):
    if _state.level < 0:
        raise RuntimeError("Trying to exit a forward AD level that was not the last one that was created. This is "
                           "not supported.")
    _state.level = -1
    from .. import _lazy

    _lazy.flush()
    _live_duals.clear()


_live_duals: list = []


class dual_level:
    """Context for forward AD: tensors made with ``make_dual`` inside carry tangents; they are
    cleared when the level exits, as in torch."""

    def __enter__(self):
        return enter_dual_level()

    def __exit__(self, *exc):
        for ref in _live_duals:
            t = ref()
            if t is not None:
                t.__dict__.pop("_fw_grad", None)
        exit_dual_level()


def make_dual(tensor, tangent, *, level=None):
    """A view of ``tensor`` whose tangent is ``tangent`` (same shape)."""
    import weakref

    from ..tensor import Tensor

    if _state.level < 0:
        raise RuntimeError("To create a dual Tensor, you need to be inside a forward AD level. You can enter one "
                           "using the `torch.autograd.forward_ad.dual_level` context manager")
    if not isinstance(tangent, Tensor) or tangent.shape != tensor.shape:
        raise RuntimeError(f"Trying to set a forward gradient that has a different size than that of the original "
                           f"Tensor, this is not supported. Tensor is of size {tensor.shape} while the given forward "
                           f"gradient is of size {getattr(tangent, 'shape', None)}.")
    if not (tensor.dtype.is_floating_point or tensor.dtype.is_complex):
        raise ValueError(f"Expected primal to be floating point or complex, but got: {tensor.dtype}")
    from .._ops.views import alias

    out = alias(tensor)
    out._fw_grad = tangent.detach().to(tensor.dtype)
    _live_duals.append(weakref.ref(out))
    return out


def unpack_dual(tensor, *, level=None):
    """``(primal, tangent)``: tangent is None outside a level or for tensors without one."""
    tangent = tensor.__dict__.get("_fw_grad") if _state.level >= 0 else None
    if tangent is None:
        return UnpackedDualTensor(tensor, None)
    from .._ops.views import alias
    from . import grad_mode

    primal = alias(tensor)
    primal.__dict__.pop("_fw_grad", None)
    del grad_mode
    return UnpackedDualTensor(primal, tangent)


def is_active():
    return _state.level >= 0
