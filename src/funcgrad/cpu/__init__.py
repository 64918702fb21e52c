"""``torch.cpu``: the CPU device module (``amp``, ``is_available``, ``device_count``, ``synchronize``)."""
from . import amp

__all__ = ["amp", "is_available", "device_count", "current_device", "synchronize", "set_device"]


def is_available():
    return True


def device_count():
    return 1


def current_device():
    return "cpu"


def set_device(device):
    pass


def synchronize(device=None):
    pass
