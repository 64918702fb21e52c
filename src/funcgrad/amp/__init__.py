"""``torch.amp``: ``autocast`` and ``GradScaler``."""
from .autocast_mode import autocast, get_autocast_dtype, is_autocast_available, is_autocast_enabled, custom_fwd, custom_bwd
from .grad_scaler import GradScaler

__all__ = ["autocast", "GradScaler", "get_autocast_dtype", "is_autocast_available", "is_autocast_enabled",
           "custom_fwd", "custom_bwd"]
