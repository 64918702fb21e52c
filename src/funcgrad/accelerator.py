"""``torch.accelerator``: the current accelerator (a JAX GPU when present), as torch reports it."""
from __future__ import annotations

__all__ = ["is_available", "current_accelerator", "device_count", "current_device_index", "set_device_index",
           "synchronize"]


def is_available():
    from . import cuda

    return cuda.is_available()


def current_accelerator(check_available=False):
    from . import cuda
    from ._device import device

    if cuda.is_available():
        return device("cuda")
    return None


def device_count():
    from . import cuda

    return cuda.device_count()


def current_device_index():
    from . import cuda

    return cuda.current_device() if cuda.is_available() else -1


current_device_idx = current_device_index


def set_device_index(device):
    from . import cuda

    if cuda.is_available():
        cuda.set_device(device)


set_device_idx = set_device_index


def synchronize(device=None):
    from . import cuda

    if cuda.is_available():
        cuda.synchronize(device)
