"""``funcgrad.nn``: modules, parameters, layers and losses."""
from . import functional  # noqa: F401
