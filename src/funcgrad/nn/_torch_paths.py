"""torch's module paths under ``torch.nn.modules`` (``torch.nn.modules.module``, ``.conv``, ``.batchnorm``,
``.utils``, ...), which programs import base classes and helpers from (``from torch.nn.modules.utils import _pair``,
``isinstance(m, torch.nn.modules.batchnorm._BatchNorm)``). Each is a namespace over funcgrad's nn classes."""
from __future__ import annotations

import collections.abc
import sys
import types
from itertools import repeat


def _ntuple(n, name="parse"):
    def parse(x):
        if isinstance(x, collections.abc.Iterable):
            return tuple(x)
        return tuple(repeat(x, n))

    parse.__name__ = name
    return parse


_single = _ntuple(1, "_single")
_pair = _ntuple(2, "_pair")
_triple = _ntuple(3, "_triple")
_quadruple = _ntuple(4, "_quadruple")


def _reverse_repeat_tuple(t, n):
    return tuple(x for x in reversed(t) for _ in range(n))


def _list_with_default(out_size, defaults):
    if isinstance(out_size, (int, type(None))):
        return out_size
    if len(defaults) <= len(out_size):
        raise ValueError(f"Input dimension should be at least {len(out_size) + 1}")
    return [v if v is not None else d for v, d in zip(out_size, defaults[-len(out_size):])]


_SUBMODULES = ("activation", "adaptive", "batchnorm", "channelshuffle", "container", "conv", "distance", "dropout",
               "flatten", "fold", "instancenorm", "lazy", "linear", "loss", "normalization", "padding",
               "pixelshuffle", "pooling", "rnn", "sparse", "transformer", "upsampling")


def install(nn, modules):
    """Attach ``nn.modules.<sub>`` namespaces (and ``nn.modules.module``/``.utils``) and register them in
    ``sys.modules`` so ``import torch.nn.modules.conv`` works under ``funcgrad.install()``."""
    from . import _attention, _lazy_modules, _modules_ext, _rnn, _spatial_modules, module
    from . import modules as _modules

    modules.__path__ = []  # a package to the import system, so its submodules resolve from sys.modules
    names = {}
    for src in (_modules, _modules_ext, _spatial_modules, _rnn, _attention, _lazy_modules, nn):
        names.update({k: v for k, v in vars(src).items() if isinstance(v, type)})
    for sub in _SUBMODULES:
        ns = types.ModuleType(f"{modules.__name__}.{sub}")
        ns.__dict__.update(names)
        setattr(modules, sub, ns)
        sys.modules[ns.__name__] = ns
    utils = types.ModuleType(f"{modules.__name__}.utils")
    utils.__dict__.update(_single=_single, _pair=_pair, _triple=_triple, _quadruple=_quadruple, _ntuple=_ntuple,
                          _reverse_repeat_tuple=_reverse_repeat_tuple, _list_with_default=_list_with_default)
    modules.utils = utils
    sys.modules[utils.__name__] = utils
    modules.module = module
    sys.modules[f"{modules.__name__}.module"] = module
