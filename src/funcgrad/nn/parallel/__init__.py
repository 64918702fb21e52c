"""``torch.nn.parallel``: DistributedDataParallel over ``funcgrad.distributed``."""
from .distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
