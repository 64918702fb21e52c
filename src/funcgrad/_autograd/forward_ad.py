"""Forward-mode AD state, below ``Tensor``: the active level, ``dual_level`` and the live duals.
``make_dual``/``unpack_dual`` (which make tensors) are in :mod:`funcgrad.autograd.forward_ad`.

Every registry op propagates tangents by ``jax.jvp`` of its forward, so forward mode works for
every op (torch lacks forward formulas for some). Tangents ride on tensors as ``_fw_grad`` while a
``dual_level`` is active; they are recorded lazily like any other op.
"""
from __future__ import annotations

import collections

from .. import _lazy

__all__ = ["dual_level", "enter_dual_level", "exit_dual_level", "UnpackedDualTensor", "is_active"]

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


def is_active():
    return _state.level >= 0
