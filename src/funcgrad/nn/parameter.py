"""``Parameter``: a leaf tensor that a Module registers as trainable."""
from __future__ import annotations

from ..tensor import Tensor


class Parameter(Tensor):
    """A Tensor that is a module parameter: a leaf, ``requires_grad=True`` unless told otherwise.

    It shares storage with ``data`` (as torch's does) and prints as ``Parameter containing:``.
    """

    def __new__(cls, data=None, requires_grad=True):
        if data is None:
            from .._ops.creation import empty

            data = empty(0)
        p = object.__new__(cls)
        src = data.detach()
        p._st = src._st
        p._shape = src._shape
        p._dtype = src._dtype
        p._rg = False
        p.grad_fn = None
        if src._view is not None:
            p._view = src._view
            p._vcache = src._vcache
        if requires_grad:
            p._set_requires_grad(True, "Only Tensors of floating point and complex dtype can require gradients")
        return p

    def __init__(self, data=None, requires_grad=True):
        pass

    def _is_param_repr(self):
        return True

    def __reduce_ex__(self, proto):
        import numpy as np

        return (_rebuild_param, (np.asarray(self._array()).copy(), self.requires_grad))

    def __deepcopy__(self, memo):
        if id(self) in memo:
            return memo[id(self)]
        from .._ops.creation import tensor

        p = Parameter(tensor(self.detach().numpy(), dtype=self.dtype, device=self.device), self.requires_grad)
        if self._grad is not None:
            p._grad = self._grad.__deepcopy__(memo)
        memo[id(self)] = p
        return p


def _rebuild_param(arr, requires_grad):
    from .._ops.creation import tensor

    return Parameter(tensor(arr), requires_grad)


class _BufferMeta(type):
    # a Buffer is a plain Tensor marked ``_is_buffer`` (as torch's): isinstance checks the mark
    def __instancecheck__(cls, instance):
        return isinstance(instance, Tensor) and getattr(instance, "_is_buffer", False)


class Buffer(metaclass=_BufferMeta):
    """Marks a tensor to be registered as a module buffer when assigned as an attribute."""

    def __new__(cls, data=None, *, persistent=True):
        from .._ops.creation import empty

        t = (data if data is not None else empty(0)).detach()
        t.persistent = persistent
        t._is_buffer = True
        return t
