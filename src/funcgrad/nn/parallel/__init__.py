"""``torch.nn.parallel``: ``DataParallel`` and ``data_parallel`` run the module on the one device JAX computes on
(torch does the same when it sees no CUDA devices, keeping the ``module.`` wrapper and its state_dict prefix).
``DistributedDataParallel`` can be imported (scripts import it unconditionally) but not built: funcgrad has no
process groups to reduce gradients over."""
from __future__ import annotations

from ..module import Module

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


class DistributedDataParallel(Module):
    """Not supported: building one raises NotImplementedError naming the torch API."""

    def __init__(self, module, *args, **kwargs):
        raise NotImplementedError("torch.nn.parallel.DistributedDataParallel: funcgrad runs one process and has no "
                                  "process groups (torch.distributed) to reduce gradients over; train without DDP")
