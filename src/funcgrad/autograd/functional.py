"""``funcgrad.autograd.functional``: vjp, jvp, jacobian, hessian, hvp, vhp with torch's signatures.

``jacobian``/``hessian`` with ``vectorize=True`` (and no ``create_graph``) run the function under
``jax.jacrev``/``jax.jacfwd`` directly: one traced program instead of a Python loop over rows.
Otherwise rows come from ``autograd.grad`` (reverse) or columns from forward-mode duals.
"""
from __future__ import annotations

import jax

from .. import _lazy
from .._autograd import grad_mode
from .._ops.creation import ones_like, zeros, zeros_like
from .._ops.indexing import stack
from ..tensor import Tensor
from . import forward_ad as fwd
from .engine import grad as autograd_grad

__all__ = ["vjp", "jvp", "jacobian", "hessian", "hvp", "vhp"]


def _tuple(x, name, fn):
    is_tuple = isinstance(x, tuple)
    xs = x if is_tuple else (x,)
    if not is_tuple and not isinstance(x, Tensor):
        raise TypeError(f"The {name} given to {fn} must be either a Tensor or a tuple of Tensors but the given {name} "
                        f"has type {type(x)}.")
    for i, t in enumerate(xs):
        if not isinstance(t, Tensor):
            raise TypeError(f"The {name} given to {fn} must be either a Tensor or a tuple of Tensors but the value at "
                            f"index {i} has type {type(t)}.")
    return is_tuple, xs


def _grad_inputs(inputs, create_graph):

    with grad_mode.enable_grad():
        return tuple(t.detach().requires_grad_(True) if not (create_graph and t.requires_grad) else t.view_as(t)
                     for t in inputs)


def _grad(outputs, inputs, grad_outputs, create_graph, strict, retain_graph=None):

    pairs = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if not pairs:
        res = (None,) * len(inputs)
    else:
        res = autograd_grad([o for o, _ in pairs], inputs, [g for _, g in pairs], retain_graph=retain_graph
                            if retain_graph is not None else True, create_graph=create_graph, allow_unused=True)
    out = []
    for i, (g, x) in enumerate(zip(res, inputs)):
        if g is None:
            if strict:
                raise RuntimeError(f"The output of the user-provided function is independent of input {i}. This is "
                                   "not allowed in strict mode.")
            g = zeros_like(x)
        out.append(g)
    return tuple(out)


def vjp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T J)``."""

    is_in, inputs = _tuple(inputs, "inputs", "vjp")
    xs = _grad_inputs(inputs, create_graph)
    with grad_mode.enable_grad():
        out = func(*xs)
    is_out, outs = _tuple(out, "outputs of the user-provided function", "vjp")
    if v is None:
        if len(outs) != 1 or outs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the user-provided function returns a single Tensor "
                               "with a single element.")
        vs = (ones_like(outs[0]),)
    else:
        _, vs = _tuple(v, "v", "vjp")
    grads = _grad(outs, xs, vs, create_graph, strict)
    outs = tuple(o if create_graph else o.detach() for o in outs)
    return (outs if is_out else outs[0]), (grads if is_in else grads[0])


def jvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), J v)`` by forward-mode AD (``jax.jvp`` of every op)."""

    is_in, inputs = _tuple(inputs, "inputs", "jvp")
    if v is None:
        if len(inputs) != 1 or inputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the input to the user-provided function is a single "
                               "Tensor with a single element.")
        vs = (ones_like(inputs[0]),)
    else:
        _, vs = _tuple(v, "v", "jvp")
    with fwd.dual_level():
        duals = tuple(fwd.make_dual(x.detach(), t) for x, t in zip(inputs, vs))
        out = func(*duals)
        is_out, outs = _tuple(out, "outputs of the user-provided function", "jvp")
        res = []
        for o in outs:
            p, t = fwd.unpack_dual(o)
            if t is None:
                if strict:
                    raise RuntimeError("The output of the user-provided function is independent of the input. This "
                                       "is not allowed in strict mode.")

                t = zeros_like(o)
            res.append((p.detach(), t))
    prim = tuple(p for p, _ in res)
    tang = tuple(t for _, t in res)
    return (prim if is_out else prim[0]), (tang if is_out else tang[0])


def _jax_fn(func, n_in):
    """``func`` over funcgrad tensors as a pure function of JAX arrays (run under a JAX transform)."""

    def f(*arrays):
        with grad_mode.no_grad():
            out = func(*[Tensor._make(a) for a in arrays])
        if isinstance(out, tuple):
            res = tuple(o._array() for o in out)
        else:
            res = out._array()
        _lazy.flush()
        return res

    return f


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False, strategy="reverse-mode"):
    """The Jacobian of ``func`` at ``inputs``: shape ``output.shape + input.shape`` per pair."""


    if strategy not in ("reverse-mode", "forward-mode"):
        raise ValueError('Expected strategy to be either "forward-mode" or "reverse-mode". Hint: If your function '
                         'has more outputs than inputs, "forward-mode" tends to be more performant. Otherwise, prefer '
                         'to use "reverse-mode".')
    if strategy == "forward-mode" and not vectorize:
        raise NotImplementedError("torch.autograd.functional.jacobian: `strategy=\"forward-mode\"` requires "
                                  "`vectorize=True`.")
    is_in, inputs = _tuple(inputs, "inputs", "jacobian")
    if vectorize and not create_graph:
        _lazy.flush()
        jac = (jax.jacrev if strategy == "reverse-mode" else jax.jacfwd)(
            _jax_fn(func, len(inputs)), argnums=tuple(range(len(inputs))))(*[x._array() for x in inputs])
        with grad_mode.no_grad():
            probe = func(*[x.detach() for x in inputs])
        is_out = isinstance(probe, tuple)
        dev = inputs[0].device
        if not is_out:
            jac = (jac,)
        res = tuple(tuple(Tensor._make(j, dev) for j in row) for row in jac)
        if not is_in:
            res = tuple(r[0] for r in res)
        return res if is_out else res[0]
    xs = _grad_inputs(inputs, create_graph)
    with grad_mode.enable_grad():
        out = func(*xs)
    is_out, outs = _tuple(out, "outputs of the user-provided function", "jacobian")

    rows = []
    for o in outs:
        per_in = [[] for _ in xs]
        flat = o.reshape(-1)
        for k in range(flat.numel()):
            g = _grad((flat[k],), xs, (_ones_like_scalar(flat[k]),), create_graph, strict)
            for i, gi in enumerate(g):
                per_in[i].append(gi)
        blocks = []
        for i, x in enumerate(xs):
            if per_in[i]:
                j = stack(per_in[i]).reshape(tuple(o.shape) + tuple(x.shape))
            else:
                j = zeros(tuple(o.shape) + tuple(x.shape), dtype=x.dtype)
            blocks.append(j if create_graph else j.detach())
        rows.append(tuple(blocks))
    res = tuple(r if is_in else r[0] for r in rows)
    return res if is_out else res[0]


def _ones_like_scalar(t):

    return ones_like(t)


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False, outer_jacobian_strategy="reverse-mode"):
    """The Hessian of a scalar ``func`` at ``inputs``."""


    is_in, inputs = _tuple(inputs, "inputs", "hessian")
    if vectorize and not create_graph:
        _lazy.flush()
        h = jax.hessian(_jax_fn(func, len(inputs)), argnums=tuple(range(len(inputs))))(*[x._array() for x in inputs])
        dev = inputs[0].device
        res = tuple(tuple(Tensor._make(b, dev) for b in row) for row in h)
        return res if is_in else res[0][0]

    def jac_func(*xs):
        return jacobian(func, xs if is_in else xs[0], create_graph=True, strict=strict)

    return jacobian(jac_func, inputs if is_in else inputs[0], create_graph=create_graph, strict=strict)


def _hvp_fwd_rev(func, inputs, vs):
    """``(func(inputs), H v)`` as forward-over-reverse: ``jax.jvp`` of ``jax.value_and_grad`` of the
    function run on tracers (one traced program; the funcgrad ops inside fuse into it). None when
    the function cannot run under a JAX transform (a concrete value needed, a non-scalar or
    non-float output), or its derivative needs torch's checks: the caller then takes the
    reverse-over-reverse path."""
    if vs is None or len(vs) != len(inputs) or any(
            v._shape != x._shape or v._dtype is not x._dtype or not x._dtype.is_floating_point
            for x, v in zip(inputs, vs)):
        return None
    f = _jax_fn(func, len(inputs))
    argnums = tuple(range(len(inputs)))

    def vg(*xs):
        return jax.value_and_grad(f, argnums=argnums)(*xs)

    _lazy.flush()  # a failed trace below discards the tape: only its own entries may be on it
    try:
        (out, _), (_, hv) = jax.jvp(vg, tuple(x._array() for x in inputs), tuple(v._array() for v in vs))
    except (TypeError, AttributeError, jax.errors.ConcretizationTypeError, jax.errors.TracerArrayConversionError,
            jax.errors.TracerIntegerConversionError, jax.errors.TracerBoolConversionError):
        _lazy.discard()
        return None
    dev = inputs[0].device
    return Tensor._make(out, dev), tuple(Tensor._make(h, dev) for h in hv)


def vhp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), v^T H)``.

    Without ``create_graph``/``strict`` this is forward-over-reverse (``jax.jvp`` of the gradient,
    the Hessian being symmetric); otherwise the gradient's gradient, as torch computes it."""
    is_in, inputs = _tuple(inputs, "inputs", "vhp")
    _, vs = _tuple(v, "v", "vhp") if v is not None else (False, None)
    # under funcgrad.compile the program is traced once: forward-over-reverse there. Eagerly the
    # reverse-over-reverse ops fuse on the tape into one cached program, while a JAX transform
    # would re-trace the function on every call (measured ~4x slower eagerly)
    if not create_graph and not strict and _lazy._state.tracing:
        r = _hvp_fwd_rev(func, inputs, vs)
        if r is not None:
            return r[0], (r[1] if is_in else r[1][0])
    xs = _grad_inputs(inputs, True)
    with grad_mode.enable_grad():
        out = func(*xs)
        if out.numel() != 1:
            raise RuntimeError("The function given to hvp should return a single Tensor")

        g = autograd_grad(out, xs, create_graph=True, allow_unused=True)
        g = tuple(gi if gi is not None else xs[i] * 0 for i, gi in enumerate(g))
        res = _grad(g, xs, vs, create_graph, strict)
    out = out if create_graph else out.detach()
    return out, (res if is_in else res[0])


def hvp(func, inputs, v=None, create_graph=False, strict=False):
    """``(func(inputs), H v)`` (the Hessian is symmetric, so this is ``vhp``)."""
    return vhp(func, inputs, v, create_graph, strict)
