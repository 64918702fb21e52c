"""``funcgrad.nn``: modules, parameters, layers and losses, as ``torch.nn``."""
import sys as _sys

from . import functional, init, utils
from . import _attention, _rnn
from ._attention import (MultiheadAttention, Transformer, TransformerDecoder, TransformerDecoderLayer,  # noqa: F401
                         TransformerEncoder, TransformerEncoderLayer)
from ._rnn import GRU, LSTM, RNN, GRUCell, LSTMCell, RNNBase, RNNCell, RNNCellBase  # noqa: F401
from .module import Module
from ._containers import Container, ParameterDict  # noqa: F401
from .modules import *  # noqa: F401,F403 - the layer classes
from .modules import __all__ as _layers
from .parameter import Buffer, Parameter
from ._modules_ext import *  # noqa: F401,F403 - more layers, activations and losses
from ._modules_ext import __all__ as _more
from ._lazy_modules import *  # noqa: F401,F403 - Lazy* layers, UninitializedParameter/Buffer
from ._lazy_modules import __all__ as _lazy

# ``torch.nn.utils.rnn``: packing helpers live with the recurrent layers
utils.rnn = _rnn
_sys.modules[__name__ + ".utils.rnn"] = _rnn
from . import attention, grad, modules  # noqa: E402 - (nn.parallel sits above nn: it attaches nn.DataParallel)
from ._adaptive import AdaptiveLogSoftmaxWithLoss  # noqa: E402,F401
from ._torch_paths import install as _install_paths  # noqa: E402

_install_paths(_sys.modules[__name__], modules)  # torch.nn.modules.{module,conv,batchnorm,utils,...}
functional.grad = grad

__all__ = ["Module", "AdaptiveLogSoftmaxWithLoss", "attention", "grad", "modules", "Container", "ParameterDict", "Parameter", "Buffer", "functional", "init", "utils", "MultiheadAttention", "Transformer",
           "TransformerDecoder", "TransformerDecoderLayer", "TransformerEncoder", "TransformerEncoderLayer", "GRU",
           "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNBase", "RNNCell", "RNNCellBase", *_layers, *_more, *_lazy]
