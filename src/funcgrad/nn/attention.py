"""``torch.nn.attention``: ``SDPBackend`` and the ``sdpa_kernel`` context manager. funcgrad has one
``scaled_dot_product_attention`` (an XLA program, numerically torch's math backend), so choosing a backend is
accepted and checked but changes nothing."""
from __future__ import annotations

import contextlib
from enum import IntEnum

__all__ = ["SDPBackend", "sdpa_kernel", "WARN_FOR_UNFUSED_KERNELS"]

WARN_FOR_UNFUSED_KERNELS = False


class SDPBackend(IntEnum):
    """The attention implementations torch can pick from (``torch.nn.attention.SDPBackend``)."""
    ERROR = -1
    MATH = 0
    FLASH_ATTENTION = 1
    EFFICIENT_ATTENTION = 2
    CUDNN_ATTENTION = 3
    OVERRIDEABLE = 4


@contextlib.contextmanager
def sdpa_kernel(backends, set_priority=False):
    """Limit ``scaled_dot_product_attention`` to ``backends`` inside the block (accepted; see the module doc)."""
    if not isinstance(backends, (list, SDPBackend)):
        raise AssertionError("Backend must be an instance of SDPBackend or a list of SDPBackend instances")
    for b in backends if isinstance(backends, list) else [backends]:
        if not isinstance(b, SDPBackend):
            raise AssertionError("Backend must be an instance of SDPBackend or a list of SDPBackend instances")
    yield {}
