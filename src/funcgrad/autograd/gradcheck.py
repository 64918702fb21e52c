"""``gradcheck``/``gradgradcheck``: analytical gradients against central finite differences."""
from __future__ import annotations

import warnings

import numpy as np

from .._autograd import grad_mode
from .._ops.creation import tensor, zeros_like
from ..tensor import Tensor
from .engine import grad as autograd_grad
from .functional import jvp

__all__ = ["gradcheck", "gradgradcheck", "GradcheckError"]


class GradcheckError(RuntimeError):
    """Raised by gradcheck when analytical and numerical gradients disagree (as torch's)."""



def _as_tuple(x):
    return x if isinstance(x, tuple) else (x,)


def _numerical(func, inputs, i, eps):
    """d outputs / d inputs[i] by central differences, one column per input element."""

    x = inputs[i]
    base = x.detach().numpy().astype(x.dtype.np)
    cols = []
    for k in range(base.size):
        outs = []
        for sign in (1, -1):
            pert = base.copy().reshape(-1)
            pert[k] += sign * eps
            args = list(inputs)
            args[i] = Tensor._make(pert.reshape(base.shape).copy())
            if x.requires_grad:
                args[i].requires_grad_(True)
            with grad_mode.enable_grad():
                outs.append([np.asarray(o.detach().numpy(), np.float64).reshape(-1)
                             for o in _as_tuple(func(*args)) if isinstance(o, Tensor)])
        cols.append([(a - b) / (2 * eps) for a, b in zip(*outs)])
    return [np.stack([c[j] for c in cols], axis=1) if cols else None for j in range(len(cols[0]) if cols else 0)]


def _analytical(func, inputs, i):

    with grad_mode.enable_grad():
        outs = [o for o in _as_tuple(func(*inputs)) if isinstance(o, Tensor)]
    res = []
    for o in outs:
        rows = []
        flat = o.reshape(-1)
        for k in range(flat.numel()):
            if not o.requires_grad:
                rows.append(np.zeros(inputs[i].numel()))
                continue
            g, = autograd_grad(flat[k], inputs[i], retain_graph=True, allow_unused=True)
            rows.append(np.zeros(inputs[i].numel()) if g is None else np.asarray(g.detach().numpy(), np.float64).reshape(-1))
        res.append(np.stack(rows) if rows else np.zeros((0, inputs[i].numel())))
    return res


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True, nondet_tol=0.0,
              check_undefined_grad=True, check_grad_dtypes=False, check_batched_grad=False,
              check_batched_forward_grad=False, check_forward_ad=False, check_backward_ad=True, fast_mode=False,
              masked=None):
    """True when ``func``'s gradients w.r.t. every input that requires grad match finite differences."""
    inputs = _as_tuple(inputs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if not diff:
        raise ValueError("gradcheck expects at least one input tensor to require gradient, but none of the them have "
                         "requires_grad=True.")
    for i in diff:
        if inputs[i].dtype.name not in ("float64", "complex128"):
            warnings.warn(f"Input #{i} requires gradient and is not a double precision floating point or complex. "
                          "This check will likely fail if all the inputs are not of double precision floating point "
                          "or complex. ", UserWarning, stacklevel=2)
    for i in diff:
        num = _numerical(func, inputs, i, eps)
        ana = _analytical(func, inputs, i)
        for j, (n, a) in enumerate(zip(num, ana)):
            if n.shape != a.shape or not np.allclose(a, n, rtol=rtol, atol=atol):
                if not raise_exception:
                    return False

                raise GradcheckError(f"Jacobian mismatch for output {j} with respect to input {i},\n"
                                     f"numerical:{tensor(n)}\nanalytical:{tensor(a)}\n")
    if check_forward_ad:

        for i in diff:
            num = _numerical(func, inputs, i, eps)
            for k in range(inputs[i].numel()):

                v = zeros_like(inputs[i]).reshape(-1)
                v[k] = 1.0
                vs = tuple(v.reshape(inputs[i].shape) if m == i else zeros_like(inputs[m]) for m in diff)
                _, t = jvp(lambda *d: func(*[d[diff.index(m)] if m in diff else inputs[m]
                                             for m in range(len(inputs))]),
                           tuple(inputs[m] for m in diff), vs)
                for j, tj in enumerate(_as_tuple(t)):
                    if not np.allclose(np.asarray(tj.numpy(), np.float64).reshape(-1), num[j][:, k], rtol=rtol,
                                       atol=atol):
                        if not raise_exception:
                            return False
                        raise GradcheckError(f"Jacobian computed with forward mode mismatch for output {j} with "
                                             f"respect to input {i}")
    return True


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3, gen_non_contig_grad_outputs=False,
                  raise_exception=True, nondet_tol=0.0, check_undefined_grad=True, check_grad_dtypes=False,
                  check_batched_grad=False, check_fwd_over_rev=False, check_rev_over_rev=True, fast_mode=False,
                  masked=False):
    """gradcheck of the gradient: second derivatives against finite differences of the first."""

    inputs = _as_tuple(inputs)
    diff = [i for i, x in enumerate(inputs) if isinstance(x, Tensor) and x.requires_grad]
    if grad_outputs is None:

        with grad_mode.no_grad():
            outs = _as_tuple(func(*inputs))
        rng = np.random.default_rng(0)
        grad_outputs = tuple(tensor(rng.standard_normal(tuple(o.shape)), dtype=o.dtype, requires_grad=True)
                             for o in outs)
    grad_outputs = _as_tuple(grad_outputs)
    n_in = len(inputs)

    def first(*args):
        xs, gos = args[:n_in], args[n_in:]
        outs = _as_tuple(func(*xs))
        gs = autograd_grad(outs, [xs[i] for i in diff], gos, create_graph=True, allow_unused=True)
        return tuple(g for g in gs if g is not None)

    return gradcheck(first, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol, raise_exception=raise_exception)
