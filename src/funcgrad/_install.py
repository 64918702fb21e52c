"""``funcgrad.install()``: make ``import torch`` (and every ``torch.*`` submodule) resolve to funcgrad.

A ``sys.meta_path`` finder placed first maps ``torch`` to ``funcgrad`` and ``torch.X.Y`` to
``funcgrad.X.Y``; the module objects are shared (``sys.modules['torch'] is funcgrad``), so
``import torch.nn.functional as F``, ``from torch.utils.data import DataLoader`` and
``from torch import nn, optim`` all give funcgrad's modules. Real torch is never imported while
the finder is installed, even when it is installed in the environment: a torch submodule that
funcgrad lacks raises ``ModuleNotFoundError`` naming the torch API.
"""
from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

__all__ = ["install", "uninstall", "is_installed"]


def _target(fullname):
    return "funcgrad" + fullname[len("torch"):]


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, module):
        self.module = module

    def create_module(self, spec):
        return self.module

    def exec_module(self, module):
        pass


class TorchAliasFinder(importlib.abc.MetaPathFinder):
    """Finds ``torch[.X...]`` as the funcgrad module of the same path."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "torch" and not fullname.startswith("torch."):
            return None
        name = _target(fullname)
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name is None or not (name == e.name or name.startswith(e.name + ".")):
                raise
            parent, _, leaf = name.rpartition(".")
            obj = getattr(sys.modules.get(parent), leaf, None)
            if type(obj) is type(sys):
                mod = obj
            else:
                raise ModuleNotFoundError(
                    f"No module named '{fullname}': funcgrad does not implement the torch API '{fullname}' "
                    f"(running under funcgrad.install(), real torch is never loaded)", name=fullname) from None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(mod), is_package=hasattr(mod, "__path__"))


_finder = None
_stashed = {}  # real torch modules that were imported before install(), restored by uninstall()


def is_installed():
    return _finder is not None


def install():
    """Make ``import torch`` give funcgrad in this process (idempotent).

    Torch modules already imported are set aside (and given back by :func:`uninstall`)."""
    global _finder
    if _finder is not None:
        return
    import funcgrad

    for k in [k for k in sys.modules if k == "torch" or k.startswith("torch.")]:
        _stashed[k] = sys.modules.pop(k)
    _finder = TorchAliasFinder()
    sys.meta_path.insert(0, _finder)
    sys.modules["torch"] = funcgrad


def uninstall():
    """Undo :func:`install`: drop the ``torch`` aliases and restore any real torch modules."""
    global _finder
    if _finder is None:
        return
    try:
        sys.meta_path.remove(_finder)
    except ValueError:
        pass
    _finder = None
    for k in [k for k in sys.modules if k == "torch" or k.startswith("torch.")]:
        m = sys.modules[k]
        if getattr(m, "__name__", "").startswith("funcgrad"):
            del sys.modules[k]
    sys.modules.update(_stashed)
    _stashed.clear()
