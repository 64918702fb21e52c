"""``funcgrad.autograd``: reverse-mode differentiation with torch's API and semantics."""
from __future__ import annotations

from . import forward_ad, functional, graph
from .anomaly_mode import detect_anomaly, is_anomaly_enabled, set_detect_anomaly
from .engine import _retain, run_backward
from .function import Function, FunctionCtx, once_differentiable
from .gradcheck import gradcheck, gradgradcheck
from .grad_mode import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled, no_grad,
                        set_grad_enabled)

__all__ = ["backward", "grad", "Function", "FunctionCtx", "once_differentiable", "no_grad", "enable_grad",
           "set_grad_enabled", "inference_mode", "is_grad_enabled", "is_inference_mode_enabled", "detect_anomaly",
           "set_detect_anomaly", "is_anomaly_enabled", "gradcheck", "gradgradcheck", "functional", "forward_ad",
           "graph", "Variable"]


def _T():
    from ..tensor import Tensor

    return Tensor


def _as_tuple(x):
    if x is None:
        return ()
    if isinstance(x, (list, tuple)):
        return tuple(x)
    return (x,)


def _make_grads(outputs, grad_outputs, create_graph):
    from .._ops.creation import ones_like

    Tensor = _T()
    roots = []
    for i, (out, g) in enumerate(zip(outputs, grad_outputs)):
        if not isinstance(out, Tensor):
            raise TypeError(f"expected Tensor as element {i} in argument 0, but got {type(out).__name__}")
        if not out.requires_grad:
            raise RuntimeError(f"element {i} of tensors does not require grad and does not have a grad_fn")
        if g is None:
            if out.numel() != 1:
                raise RuntimeError("grad can be implicitly created only for scalar outputs")
            if not out.dtype.is_floating_point:
                raise RuntimeError(f"grad can be implicitly created only for real scalar outputs but got {out.dtype}")
            with no_grad():
                g = ones_like(out)
        else:
            if not isinstance(g, Tensor):
                raise TypeError(f"gradients can be either Tensors or None, but got {type(g).__name__}")
            if g.shape != out.shape:
                raise RuntimeError(f"Mismatch in shape: grad_output[{i}] has a shape of {g.shape} and output[{i}] "
                                   f"has a shape of {out.shape}.")
            if g.dtype is not out.dtype:
                with no_grad():
                    g = g.to(out.dtype)
            if not create_graph:
                g = g.detach()
        roots.append((out, g))
    return roots


_warned_cycle = False


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, grad_variables=None, inputs=None):
    """Accumulate gradients of ``tensors`` into the ``.grad`` of graph leaves (or only of ``inputs``)."""
    tensors = _as_tuple(tensors)
    grads = _as_tuple(grad_tensors if grad_tensors is not None else grad_variables)
    if not grads:
        grads = (None,) * len(tensors)
    if len(grads) != len(tensors):
        raise RuntimeError(f"grad can be implicitly created only for scalar outputs" if not grads else
                           f"got {len(grads)} gradients for {len(tensors)} tensors")
    roots = _make_grads(tensors, grads, create_graph)
    global _warned_cycle
    if create_graph and not _warned_cycle:  # torch warns once per process
        import warnings

        _warned_cycle = True
        warnings.warn(
            "Using backward() with create_graph=True will create a reference cycle between the parameter and its "
            "gradient which can cause a memory leak. We recommend using autograd.grad when creating the graph to "
            "avoid this. If you have to use this function, make sure to reset the .grad fields of your parameters "
            "to None after use to break the cycle and avoid the leak.", UserWarning, stacklevel=3)
    if inputs is not None:
        inputs = _as_tuple(inputs)
        if len(inputs) == 0:
            raise RuntimeError("`inputs` argument to `backward()` cannot be empty.")
    got = run_backward(roots, retain_graph, create_graph, inputs=inputs, capture=False)
    if inputs is not None:  # a non-leaf input accumulates into its .grad (as retain_grad does)
        for t, g in zip(inputs, got):
            if g is not None and t.grad_fn is not None:
                _retain(t, g, create_graph)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph=False, only_inputs=True,
         allow_unused=None, is_grads_batched=False, materialize_grads=False):
    """Gradients of ``outputs`` w.r.t. ``inputs`` as a tuple; ``.grad`` is left untouched."""
    outputs = _as_tuple(outputs)
    inputs_t = _as_tuple(inputs)
    if not inputs_t:
        raise RuntimeError("`inputs` argument to `grad()` cannot be empty.")
    grads = _as_tuple(grad_outputs) or (None,) * len(outputs)
    if allow_unused is None:
        allow_unused = materialize_grads
    if materialize_grads and allow_unused is False:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True, "
                         "but got: allow_unused=False.")
    roots = _make_grads(outputs, grads, create_graph)
    res = run_backward(roots, retain_graph, create_graph, inputs=inputs_t, capture=True, allow_unused=allow_unused)
    if materialize_grads:
        from .._ops.creation import zeros_like

        res = [zeros_like(t) if g is None else g for g, t in zip(res, inputs_t)]
    return tuple(res)


def Variable(data, requires_grad=False, volatile=False):  # noqa: N802 - deprecated torch API
    """Deprecated: returns ``data`` (a Tensor), with ``requires_grad`` set."""
    if requires_grad:
        data.requires_grad_(True)
    return data
