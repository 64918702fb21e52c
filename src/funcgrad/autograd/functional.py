"""``funcgrad.autograd.functional``: not built yet, see issue 4."""
from __future__ import annotations

__all__ = []
