"""``torch.nn.parallel``: DistributedDataParallel over ``funcgrad.distributed``; ``DataParallel`` and
``data_parallel`` run the module on the one device JAX computes on (torch does the same when it sees no CUDA
devices, keeping the ``module.`` wrapper and its state_dict prefix)."""
import sys as _sys

from ..module import Module
from .distributed import DistributedDataParallel

__all__ = ["DataParallel", "DistributedDataParallel", "data_parallel"]


class DataParallel(Module):
    """Wraps ``module`` (``self.module``); ``forward`` calls it on the whole batch (no replicas: one device)."""

    def __init__(self, module, device_ids=None, output_device=None, dim=0):
        super().__init__()
        self.module = module
        self.device_ids = []
        self.dim = dim
        self.output_device = output_device
        self.src_device_obj = None

    def forward(self, *inputs, **kwargs):
        return self.module(*inputs, **kwargs)


def data_parallel(module, inputs, device_ids=None, output_device=None, dim=0, module_kwargs=None):
    """``module(*inputs, **module_kwargs)`` (one device, see ``DataParallel``)."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,) if inputs is not None else ()
    return module(*inputs, **(module_kwargs or {}))


# ``torch.nn.DataParallel``, attached from here because nn.parallel sits above nn in the layers
_sys.modules[__name__.rpartition(".")[0]].DataParallel = DataParallel
