"""``torch.signal``: window functions (``funcgrad.signal.windows``)."""
from . import windows  # noqa: F401

__all__ = ["windows"]
