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


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True, strict=False):
    """Call ``module`` with some parameters/buffers replaced by the given tensors (the module is restored after).

    ``parameter_and_buffer_dicts`` is a dict of dotted names or a sequence of them (a name may appear in only one);
    with ``tie_weights`` a tensor given for one of several tied names replaces all of them; with ``strict``
    the names must be exactly the module's parameters and buffers."""
    if isinstance(parameter_and_buffer_dicts, dict):
        merged = parameter_and_buffer_dicts
    elif isinstance(parameter_and_buffer_dicts, (list, tuple)):
        counts = {}
        for d in parameter_and_buffer_dicts:
            for k in d.keys():
                counts[k] = counts.get(k, 0) + 1
        repeated = [k for k, n in counts.items() if n > 1]
        if repeated:
            raise ValueError(f"{repeated} appeared in multiple dictionaries; behavior of functional call is ambiguous")
        merged = {k: v for d in parameter_and_buffer_dicts for k, v in d.items()}
    else:
        raise ValueError(f"Expected parameter_and_buffer_dicts to be a dict, or a list/tuple of dicts, but got "
                         f"{type(parameter_and_buffer_dicts)}")
    return _functional_call(module, merged, args, kwargs, tie_weights=tie_weights, strict=strict)


_MISSING = object()


def _untie(module, given):
    named = dict(module.named_parameters(remove_duplicate=False))
    named.update(module.named_buffers(remove_duplicate=False))
    by_tensor = {}
    for name, t in named.items():
        by_tensor.setdefault(id(t), set()).add(name)
    tied = {n: names for names in by_tensor.values() if len(names) > 1 for n in names}
    given_tied = {n for n in given if n in tied}
    for n in given_tied:
        names = tied[n]
        if len(names & given_tied) > 1 and len({id(given[t]) for t in names if t in given}) != 1:
            raise ValueError(f"functional_call got multiple values for keys {sorted(names)}, which are tied. "
                             "Consider using tie_weights=False")
    out = dict(given)
    for n in given_tied:
        for t in tied[n]:
            out[t] = given[n]
    return out


def _swap(module, name, tensor):
    prefix, _, attr = name.rpartition(".")
    mod = module.get_submodule(prefix)
    for store in (mod._parameters, mod._buffers):
        if attr in store:
            orig = store[attr]
            if tensor is _MISSING:
                del store[attr]
            else:
                store[attr] = tensor
            return orig
    orig = getattr(mod, attr) if hasattr(mod, attr) else _MISSING
    if tensor is _MISSING:
        if orig is not _MISSING:
            delattr(mod, attr)
    else:
        setattr(mod, attr, tensor)
    return orig


def _functional_call(module, parameters_and_buffers, args=None, kwargs=None, *, tie_weights=True, strict=False):
    named = _untie(module, parameters_and_buffers) if tie_weights else parameters_and_buffers
    if strict:
        valid = {n for n, _ in module.named_parameters(remove_duplicate=False)}
        valid |= {n for n, _ in module.named_buffers(remove_duplicate=False)}
        missing, unexpected = sorted(valid - set(named)), sorted(set(named) - valid)
        msgs = []
        if unexpected:
            msgs.append(f"Unexpected key(s): {', '.join(map(repr, unexpected))}.")
        if missing:
            msgs.append(f"Missing key(s): {', '.join(map(repr, missing))}.")
        if msgs:
            raise RuntimeError("Error(s) in reparametrizing for {}:\n\t{}".format(module._get_name(), "\n\t".join(msgs)))
    if kwargs is None:
        kwargs = {}
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    orig = {}
    try:
        for name, t in named.items():
            orig[name] = _swap(module, name, t)
        return module(*args, **kwargs)
    finally:
        for name, t in orig.items():
            _swap(module, name, t)


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
