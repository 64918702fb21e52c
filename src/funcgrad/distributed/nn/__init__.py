"""``torch.distributed.nn``: differentiable collectives (``functional``)."""
from . import functional  # noqa: F401
from .functional import all_gather, all_reduce, all_to_all, broadcast, reduce_scatter  # noqa: F401

__all__ = ["functional", "all_gather", "all_reduce", "all_to_all", "broadcast", "reduce_scatter"]
