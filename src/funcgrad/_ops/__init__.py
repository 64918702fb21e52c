"""Op families. Importing this package registers every op and derives the Tensor methods,
the ``funcgrad.*`` functions and the in-place variants from the registry."""
from __future__ import annotations

from . import creation, indexing, linalg, masked, pointwise, reduction, sorting, views  # noqa: F401 - registration
from . import scatter, shape  # noqa: F401 - registration (views family)
from . import fft, linalg_ext  # noqa: F401 - registration (torch.linalg, torch.fft)
from . import special  # noqa: F401 - registration (torch.special)
from . import internal  # noqa: F401 - registration (torch._chunk_cat, segment_reduce, aten.slice)
from .registry import _METHODS, OPS, _PUBLIC, method_form

__all__ = ["OPS", "install"]


def _inplace(fn, name):
    def method(self, *args, **kwargs):
        try:
            res = fn(self, *args, **kwargs)
        except TypeError as e:  # torch names the in-place form: "add_(): argument 'other' ..."
            msg = str(e)
            if not msg.startswith(name + "()") and not msg.startswith(name + "(): "):
                raise
            raise TypeError(name + "_" + msg[len(name):]) from None
        return self._inplace_assign(res)

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
    def put_method(name, value, fn):
        if name in Tensor.__dict__:
            raise ImportError(f"funcgrad registry: Tensor.{name} is defined in tensor.py and published by "
                              f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', '?')}: keep one")
        setattr(Tensor, name, value)

    for name, fn in _METHODS.items():
        put_method(name, fn, fn)
    for name, entries in _PUBLIC.items():
        for fn, method, nss, inplace, _ in entries:
            for ns in nss:
                mod = _module(ns, namespace)
                if mod.get(name, fn) not in (fn, getattr(fn, "__wrapped__", fn)):
                    raise ImportError(f"funcgrad registry: {ns}.{name} is defined by hand and published by "
                                      f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', '?')}")
                mod[name] = fn
            if method:
                put_method(name, method_form(fn), fn)
            if inplace:
                put_method(name + "_", _inplace(method_form(fn), name), fn)
