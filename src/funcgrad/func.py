"""``funcgrad.func`` (like ``torch.func``): JAX's transforms over functions of funcgrad tensors.

Each transform runs the function on tensors wrapping JAX tracers: every funcgrad op records on
the tape as usual and the tape is flushed inside the transform, so ``grad``, ``vmap``,
``jacrev``... see one pure JAX program.
"""
from __future__ import annotations

import functools

import jax

from . import _lazy
from .autograd import grad_mode
from .tensor import Tensor

__all__ = ["grad", "grad_and_value", "vjp", "jvp", "jacrev", "jacfwd", "hessian", "vmap", "functional_call"]


def _to_arrays(tree):
    return jax.tree_util.tree_map(lambda t: t._array() if isinstance(t, Tensor) else t, tree,
                                  is_leaf=lambda t: isinstance(t, Tensor))


def _to_tensors(tree):
    return jax.tree_util.tree_map(lambda a: Tensor._make(a) if isinstance(a, jax.Array) else a, tree)


def _pure(func):
    @functools.wraps(func)
    def f(*arrays, **kwargs):
        with grad_mode.no_grad():
            out = func(*_to_tensors(arrays), **kwargs)
        res = _to_arrays(out)
        _lazy.flush()
        return res
    return f


def _wrap_transform(transform):
    def make(func, *targs, **tkw):
        g = transform(_pure(func), *targs, **tkw)

        @functools.wraps(func)
        def run(*args, **kwargs):
            _lazy.flush()
            return _to_tensors(g(*_to_arrays(args), **kwargs))
        return run
    return make


grad = _wrap_transform(jax.grad)
grad_and_value = _wrap_transform(jax.value_and_grad)
jacrev = _wrap_transform(jax.jacrev)
jacfwd = _wrap_transform(jax.jacfwd)
hessian = _wrap_transform(jax.hessian)
vmap = _wrap_transform(jax.vmap)


def vjp(func, *primals):
    """``(func(*primals), vjp_fn)``; ``vjp_fn(cotangent)`` returns a tuple of gradients."""
    _lazy.flush()
    out, fn = jax.vjp(_pure(func), *_to_arrays(primals))

    def vjp_fn(ct):
        _lazy.flush()
        return _to_tensors(fn(_to_arrays(ct)))
    return _to_tensors(out), vjp_fn


def jvp(func, primals, tangents):
    _lazy.flush()
    out, t = jax.jvp(_pure(func), tuple(_to_arrays(primals)), tuple(_to_arrays(tangents)))
    return _to_tensors(out), _to_tensors(t)


def functional_call(module, parameter_and_buffer_dicts, args=(), kwargs=None, *, tie_weights=True, strict=False):
    """Call ``module`` with some parameters/buffers replaced by the given tensors (nothing is kept)."""
    if isinstance(parameter_and_buffer_dicts, (list, tuple)):
        merged = {}
        for d in parameter_and_buffer_dicts:
            merged.update(d)
    else:
        merged = dict(parameter_and_buffer_dicts)
    if not isinstance(args, tuple):
        args = (args,)
    saved = []
    try:
        for name, value in merged.items():
            mod_path, _, attr = name.rpartition(".")
            mod = module.get_submodule(mod_path)
            store = mod._parameters if attr in mod._parameters else mod._buffers if attr in mod._buffers else None
            if store is None:
                if strict:
                    raise RuntimeError(f"Unexpected key(s): '{name}'.")
                continue
            saved.append((store, attr, store[attr]))
            store[attr] = value
        return module(*args, **(kwargs or {}))
    finally:
        for store, attr, old in reversed(saved):
            store[attr] = old


def _flatten_tensor(t):
    return (t._array(),), t.requires_grad


def _unflatten_tensor(requires_grad, children):
    t = Tensor._make(children[0])
    if requires_grad and hasattr(children[0], "dtype") and jax.numpy.issubdtype(children[0].dtype, jax.numpy.inexact):
        t._rg = True
    return t


jax.tree_util.register_pytree_node(Tensor, _flatten_tensor, _unflatten_tensor)


def to_jax(t):
    """The ``jax.Array`` of a tensor (no copy)."""
    return t._array()


def from_jax(a, requires_grad=False):
    """A leaf tensor over a ``jax.Array`` (no copy)."""
    from ._device import _CPU
    from ._device import from_jax as dev

    placed = hasattr(a, "devices") and not isinstance(a, jax.core.Tracer)
    t = Tensor._make(a, dev(next(iter(a.devices()))) if placed else _CPU)
    if requires_grad:
        t.requires_grad_(True)
    return t
