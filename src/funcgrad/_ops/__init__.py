"""Op families. Importing this package registers every op and derives the Tensor methods,
the ``funcgrad.*`` functions and the in-place variants from the registry."""
from __future__ import annotations

from . import creation, indexing, linalg, pointwise, reduction, special, views  # noqa: F401 - registration
from .registry import OPS, _PUBLIC

__all__ = ["OPS", "install"]


def _inplace(fn, name):
    def method(self, *args, **kwargs):
        return self._inplace_assign(fn(self, *args, **kwargs))

    method.__name__ = name + "_"
    method.__qualname__ = "Tensor." + name + "_"
    method.__doc__ = f"In-place version of :meth:`{name}`."
    return method


def _module(ns, top):
    if ns == "torch":
        return top
    import importlib

    return vars(importlib.import_module("funcgrad." + ns))


def install(Tensor, namespace):
    """Attach registry ops as Tensor methods (and ``name_`` in-place forms) and as functions of
    ``funcgrad`` (``namespace``) and its submodules (``funcgrad.linalg``, ``.special``, ``.fft``,
    ``.nn.functional``)."""
    for name, entries in _PUBLIC.items():
        for fn, method, nss, inplace, _ in entries:
            for ns in nss:
                _module(ns, namespace).setdefault(name, fn)
            if method and not hasattr(Tensor, name):
                setattr(Tensor, name, fn)
            if inplace and not hasattr(Tensor, name + "_"):
                setattr(Tensor, name + "_", _inplace(fn, name))
