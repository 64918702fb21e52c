"""Forward-mode AD (``dual_level``, ``make_dual``, ``unpack_dual``): not built yet, see issue 4."""
from __future__ import annotations

__all__ = []
