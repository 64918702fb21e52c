"""``torch.ops.aten``: ATen operators by their schema names (``torch.ops.aten.slice.Tensor(x, 1, 0, 2)``).

``funcgrad.ops.aten.<name>`` is an operator packet: callable, and any overload name
(``.default``, ``.Tensor``, ``.int``, ...) gives the same callable back. A name resolves to the
function registered here with :func:`aten_op` (ops whose ATen signature differs from any
``torch.*`` spelling, or which torch publishes only under ``torch.ops.aten``: ``slice``,
``native_dropout_backward``, ``_batch_norm_with_update``, ``max_pool2d_with_indices_backward``...),
else to the registry op published as ``torch.<name>`` (whose signature is ATen's).
"""
from __future__ import annotations

from .registry import _PUBLIC

__all__ = ["ops", "aten_op", "ATEN"]

ATEN: dict = {}


def aten_op(name):
    """Register ``fn`` as ``torch.ops.aten.<name>`` (its ATen signature)."""

    def deco(fn):
        if name in ATEN and ATEN[name] is not fn:
            raise ImportError(f"funcgrad: torch.ops.aten.{name} is defined twice")
        ATEN[name] = fn
        return fn

    return deco


def _find(name):
    fn = ATEN.get(name)
    if fn is not None:
        return fn
    for fn, _method, nss, _inplace, _ in _PUBLIC.get(name, ()):
        if "torch" in nss:
            return fn
    return None


class OpOverload:
    """One overload (``aten.slice.Tensor``): calls the op."""

    def __init__(self, name, overload, fn):
        self._name, self._overloadname, self._fn = name, overload, fn
        self.__name__ = f"{name}.{overload}"

    def __call__(self, *args, **kwargs):
        return self._fn(*args, **kwargs)

    def __repr__(self):
        return f"aten.{self._name}.{self._overloadname}"


class OpOverloadPacket:
    """``torch.ops.aten.<name>``: callable; ``.default`` / ``.<overload>`` are :class:`OpOverload`."""

    def __init__(self, name, fn):
        self._name, self._fn = name, fn
        self.__name__ = name

    def __call__(self, *args, **kwargs):
        return self._fn(*args, **kwargs)

    def __getattr__(self, overload):
        if overload.startswith("__"):
            raise AttributeError(overload)
        return OpOverload(self._name, overload, self._fn)

    def __repr__(self):
        return f"aten.{self._name}"


class _OpNamespace:
    def __init__(self, name):
        self.name = name

    def __getattr__(self, op):
        if op.startswith("__"):
            raise AttributeError(op)
        fn = _find(op)
        if fn is None:
            raise AttributeError(f"'_OpNamespace' '{self.name}' object has no attribute '{op}'")
        return OpOverloadPacket(op, fn)


class _Ops:
    """``torch.ops``: holds the ``aten`` namespace."""

    aten = _OpNamespace("aten")

    def __repr__(self):
        return "<module 'torch.ops' (funcgrad)>"


ops = _Ops()
