"""``funcgrad.nn``: modules, parameters, layers and losses, as ``torch.nn``."""
from . import functional, init, utils
from .module import Module
from .modules import *  # noqa: F401,F403 - the layer classes
from .modules import __all__ as _layers
from .parameter import Buffer, Parameter
from ._modules_ext import *  # noqa: F401,F403 - more layers, activations and losses
from ._modules_ext import __all__ as _more

__all__ = ["Module", "Parameter", "Buffer", "functional", "init", "utils", *_layers, *_more]
