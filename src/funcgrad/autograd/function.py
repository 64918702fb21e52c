"""Custom differentiable functions: ``class F(Function)`` with ``forward``/``backward`` and ``ctx``."""
from __future__ import annotations

import functools

from .._autograd import grad_mode
from .._autograd.anomaly_mode import _state as _anomaly, anomaly_hint, capture_trace
from .._autograd.graph import FREED_MSG, Node, _edge, _saved_desc, node_class
from .._ops.creation import zeros
from ..tensor import Tensor

__all__ = ["Function", "FunctionCtx", "BackwardCFunction", "once_differentiable"]


class FunctionCtx:
    """What ``forward`` gets as ``ctx``: saves tensors and flags for ``backward``."""

    def save_for_backward(self, *tensors):
        for t in tensors:
            if t is not None and not isinstance(t, Tensor):
                raise TypeError(f"save_for_backward can only save variables, but argument {tensors.index(t)} is of "
                                f"type {type(t).__name__}")
        self._to_save = tensors

    def save_for_forward(self, *tensors):
        self._to_save_fwd = tensors

    def mark_dirty(self, *tensors):
        self._dirty = tensors

    def mark_non_differentiable(self, *tensors):
        self._non_diff = tensors

    def set_materialize_grads(self, value: bool):
        self._materialize = bool(value)

    @property
    def saved_tensors(self):
        if getattr(self, "_freed", False):
            raise RuntimeError(FREED_MSG)
        saved = getattr(self, "_saved_list", None)
        if saved is None:
            return tuple(getattr(self, "_to_save", ()))
        out = []
        for t, version in saved:
            if t is not None and t._st.version != version:
                desc = _saved_desc(t)
                raise RuntimeError(
                    "one of the variables needed for gradient computation has been modified by an inplace "
                    f"operation: [{desc[0]} {list(desc[1])}]{desc[2]} is at version {t._st.version}; expected "
                    f"version {version} instead. " + anomaly_hint())
            out.append(t)
        return tuple(out)

    saved_variables = saved_tensors


class BackwardCFunction(Node, FunctionCtx):
    """The node of a custom Function; it is also the ``ctx`` its forward and backward see."""

    _function = None

    def __init__(self):
        Node.__init__(self, ())
        self._materialize = True
        self._n_out = 1

    def _num_outputs(self):
        return self._n_out

    def apply(self, grads, create_graph):
        if getattr(self, "_freed", False) and getattr(self, "_saved_list", None):
            raise RuntimeError(FREED_MSG)
        if self._materialize:
            grads = [zeros(s, dtype=d, device=dev) if g is None else g
                     for g, (s, d, dev) in zip(grads, self._out_meta)]
        cls = self._function
        res = cls.backward(self, *grads)
        if not isinstance(res, tuple):
            res = (res,)
        n_args = len(self._arg_is_tensor)
        if len(res) < n_args:
            raise RuntimeError(f"function {self.name()} returned an incorrect number of gradients "
                               f"(expected {n_args}, got {len(res)})")
        extra = res[n_args:]
        if any(e is not None for e in extra):
            raise RuntimeError(f"function {self.name()} returned an incorrect number of gradients "
                               f"(expected {n_args}, got {len(res)})")
        out = []
        k = 0
        for i, is_t in enumerate(self._arg_is_tensor):
            g = res[i]
            if not is_t:
                if g is not None:
                    raise RuntimeError(f"function {self.name()} returned a gradient different than None at position "
                                       f"{i + 1}, but the corresponding forward input was not a Variable")
                continue
            shape = self._in_shapes[k]
            dtype = self._in_dtypes[k]
            if g is not None and g.dtype != dtype and g.dtype.is_floating_point == dtype.is_floating_point:
                g = g.to(dtype)  # torch casts a returned gradient to its input's dtype
            if g is not None and tuple(g.shape) != shape:
                if _broadcastable_to(tuple(g.shape), shape):
                    g = g.sum_to_size(shape) if tuple(g.shape) != shape else g
                else:
                    raise RuntimeError(f"Function {self.name()} returned an invalid gradient at index {k} - got "
                                       f"{list(g.shape)} but expected shape compatible with {list(shape)}")
            out.append(g)
            k += 1
        return out

    def _release(self):
        if getattr(self, "_saved_list", None):
            self._freed = True
            self._saved_list = [(None, 0) for _ in self._saved_list]


def _broadcastable_to(src, dst):
    if len(src) < len(dst):
        return False
    return all(a == b or b == 1 for a, b in zip(reversed(src), reversed(dst)))


class _FunctionMeta(type):
    def __init__(cls, name, bases, attrs):
        super().__init__(name, bases, attrs)
        node = node_class(name + "Backward", BackwardCFunction)
        node._function = cls
        cls._backward_cls = node


class Function(FunctionCtx, metaclass=_FunctionMeta):
    """Base class of custom autograd functions (``forward``/``backward`` static methods, ``apply``)."""

    def __init__(self, *args, **kwargs):
        raise RuntimeError("Legacy autograd function with non-static forward method is deprecated. Please use new-style "
                           "autograd function with static forward method. (Example: "
                           "https://pytorch.org/docs/stable/autograd.html#torch.autograd.Function)")

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError("You must implement the forward function for custom autograd.Function.")

    @staticmethod
    def setup_context(ctx, inputs, output):
        raise NotImplementedError("setup_context is not implemented.")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("You must implement either the backward or vjp method for your custom "
                                  "autograd.Function to use it with backward mode AD.")

    vjp = backward

    @staticmethod
    def jvp(ctx, *grad_inputs):
        raise NotImplementedError("You must implement the jvp function for custom autograd.Function to use it with "
                                  "forward mode AD.")

    @classmethod
    def apply(cls, *args, **kwargs):
        ctx = cls._backward_cls.__new__(cls._backward_cls)
        BackwardCFunction.__init__(ctx)
        is_t = tuple(isinstance(a, Tensor) for a in args)
        ctx.needs_input_grad = tuple(isinstance(a, Tensor) and a.requires_grad for a in args)
        uses_setup = cls.setup_context is not Function.setup_context
        with grad_mode.no_grad():
            if uses_setup:
                outputs = cls.forward(*args, **kwargs)
            else:
                outputs = cls.forward(ctx, *args, **kwargs)
        if uses_setup:
            cls.setup_context(ctx, args, outputs)
        single = not isinstance(outputs, tuple)
        outs = (outputs,) if single else outputs
        track = grad_mode.is_grad_enabled() and any(ctx.needs_input_grad)
        dirty = {id(t) for t in getattr(ctx, "_dirty", ())}
        if grad_mode.is_grad_enabled():
            for t in getattr(ctx, "_dirty", ()):
                if t.grad_fn is None and t.requires_grad:
                    raise RuntimeError("a leaf Variable that requires grad has been used in an in-place operation.")
        non_diff = {id(t) for t in getattr(ctx, "_non_diff", ())}
        inputs_by_id = {id(a): a for a in args if isinstance(a, Tensor)}
        result = []
        for o in outs:
            if not isinstance(o, Tensor):
                result.append(o)
                continue
            if id(o) in inputs_by_id and id(o) not in dirty:
                was_non_diff = id(o) in non_diff
                o = o.detach() if not track else _alias(o)
                if was_non_diff:  # marked on the input object that forward returned: keep the mark on its alias
                    non_diff.add(id(o))
            result.append(o)
        if track:
            ctx.next_functions = tuple(_edge(a) if a._rg else (None, 0) for a in args if isinstance(a, Tensor))
            ctx._arg_is_tensor = is_t
            ctx._in_shapes = tuple(tuple(a.shape) for a in args if isinstance(a, Tensor))
            ctx._in_dtypes = tuple(a.dtype for a in args if isinstance(a, Tensor))
            ctx._out_meta = [(o._shape, o.dtype, o.device) if isinstance(o, Tensor) else ((), None, None) for o in result]
            ctx._n_out = len(result)
            if _anomaly.enabled:
                ctx._anomaly_trace = capture_trace()
            for i, o in enumerate(result):
                if not isinstance(o, Tensor) or id(o) in non_diff or not (o.dtype.is_floating_point or o.dtype.is_complex):
                    continue
                o.grad_fn = ctx
                o._output_nr = i
                o._rg = True
        elif dirty:
            pass
        to_save = getattr(ctx, "_to_save", ())
        ctx._saved_list = [(t, t._st.version if t is not None else 0) for t in to_save]
        return result[0] if single else tuple(result)


def _alias(t):
    a = t.detach()
    return a


def once_differentiable(fn):
    """Run ``backward`` under no_grad: its result cannot be differentiated again."""

    @functools.wraps(fn)
    def wrapper(ctx, *args):
        with grad_mode.no_grad():
            return fn(ctx, *args)

    return wrapper
