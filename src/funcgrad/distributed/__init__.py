"""``funcgrad.distributed``: torch.distributed on JAX's multi-process runtime.

Processes (one per device, launched by ``python -m funcgrad.distributed.run`` or torchrun) join a
process group with :func:`init_process_group`; collectives (``all_reduce``, ``all_gather``,
``reduce_scatter_tensor``, ``broadcast``, ``all_to_all``...) are XLA programs over a mesh of one
device per process (gloo between CPU processes). ``funcgrad.nn.parallel.DistributedDataParallel``,
``funcgrad.distributed.fsdp`` and ``funcgrad.utils.data.DistributedSampler`` build on it;
:func:`shard` places tensors and modules on a ``jax.sharding`` mesh of the devices of one process.
"""
from __future__ import annotations

from . import distributed_c10d
from .distributed_c10d import *  # noqa: F401,F403
from .distributed_c10d import __all__ as _c10d_all
from ._sharding import shard
from . import nn  # noqa: F401 - torch.distributed.nn.functional

__all__ = [*_c10d_all, "shard", "nn"]
