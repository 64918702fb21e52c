"""SGD, Adam, AdamW, RMSprop, Adagrad: torch's classes over the optax rules in ``transforms``."""
from __future__ import annotations

import jax.numpy as jnp
import optax

from ..tensor import Tensor
from . import transforms as T
from .optimizer import Optimizer, required

__all__ = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "RAdam", "ASGD", "Rprop",
           "Adafactor", "Muon", "SparseAdam"]


def _inner(state):
    """The torch-rule state inside an ``optax.chain`` state (the last link)."""
    return state[-1] if isinstance(state, tuple) and not hasattr(state, "_fields") else state


def _check(name, value, ok, msg=None):
    if not ok:
        raise ValueError(msg or f"Invalid {name}: {value}")


class SGD(Optimizer):
    """Stochastic gradient descent with torch's momentum, dampening, Nesterov and weight decay."""

    _hyper = ("lr", "momentum", "dampening", "weight_decay")

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *, maximize=False,
                 foreach=None, differentiable=False, fused=None):
        _check("learning rate", lr, lr is required or lr >= 0.0)
        _check("momentum value", momentum, momentum >= 0.0)
        _check("weight_decay value", weight_decay, weight_decay >= 0.0)
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                                      nesterov=nesterov, maximize=maximize, foreach=foreach,
                                      differentiable=differentiable, fused=fused))

    def _statics(self, g):
        return (g["momentum"] != 0, bool(g["nesterov"]), bool(g["maximize"]), g["weight_decay"] != 0)

    def _transform(self, h, s):
        use_m, nesterov, maximize, wd = s
        # torch's order: the sign flip of maximize, then L2 decay, then the rule
        sgd = T.torch_sgd(h["lr"], h["momentum"], h["dampening"], nesterov, maximize and not wd, use_momentum=use_m)
        return _chain(*_common(h, maximize, wd), sgd) if wd else sgd

    def _state_names(self, st):
        inner = _inner(st)
        if all(g["momentum"] == 0 for g in self.param_groups):
            return {}  # torch keeps no state for plain SGD
        return {"momentum_buffer": inner.momentum_buffer}


class Adam(Optimizer):
    """Adam (``amsgrad`` optional); L2 ``weight_decay`` added to the gradient as torch does."""

    _hyper = ("lr", "beta1", "beta2", "eps", "weight_decay")
    _decoupled = False

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False, fused=None,
                 decoupled_weight_decay=False):
        _check("learning rate", lr, lr >= 0.0)
        _check("epsilon value", eps, eps >= 0.0)
        _check("beta parameter at index 0", betas[0], 0.0 <= betas[0] < 1.0)
        _check("beta parameter at index 1", betas[1], 0.0 <= betas[1] < 1.0)
        _check("weight_decay value", weight_decay, weight_decay >= 0.0)
        self._decoupled = self._decoupled or decoupled_weight_decay
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable, fused=fused,
                                      decoupled_weight_decay=self._decoupled))

    def _hyper_values(self, g):
        return {"lr": g["lr"], "eps": g["eps"], "weight_decay": g["weight_decay"], "beta1": g["betas"][0],
                "beta2": g["betas"][1]}

    def _statics(self, g):
        return (bool(g["amsgrad"]), bool(g["maximize"]), g["weight_decay"] != 0, self._decoupled)

    def _pre_update(self, params, h, s):
        if s[2] and s[3]:
            return T.decoupled_weight_decay(params, h["lr"], h["weight_decay"])
        return params

    def _transform(self, h, s):
        amsgrad, maximize, wd, decoupled = s
        l2 = wd and not decoupled
        adam = T.torch_adam(h["lr"], h["beta1"], h["beta2"], h["eps"], amsgrad, maximize and not l2)
        return _chain(*_common(h, maximize, True), adam) if l2 else adam

    def _state_names(self, st):
        inner = _inner(st)
        names = {"step": inner.step, "exp_avg": inner.exp_avg, "exp_avg_sq": inner.exp_avg_sq}
        if any(g["amsgrad"] for g in self.param_groups):
            names["max_exp_avg_sq"] = inner.max_exp_avg_sq
        return names


class AdamW(Adam):
    """Adam with decoupled weight decay (``param *= 1 - lr * weight_decay`` before the update)."""

    _decoupled = True

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *,
                 maximize=False, foreach=None, capturable=False, differentiable=False, fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, foreach=foreach, maximize=maximize,
                         capturable=capturable, differentiable=differentiable, fused=fused)


class RMSprop(Optimizer):
    _hyper = ("lr", "alpha", "eps", "weight_decay", "momentum")

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False):
        _check("learning rate", lr, lr >= 0.0)
        _check("epsilon value", eps, eps >= 0.0)
        _check("momentum value", momentum, momentum >= 0.0)
        _check("weight_decay value", weight_decay, weight_decay >= 0.0)
        _check("alpha value", alpha, alpha >= 0.0)
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                                      centered=centered, capturable=capturable, foreach=foreach, maximize=maximize,
                                      differentiable=differentiable))

    def _statics(self, g):
        return (g["momentum"] > 0, bool(g["centered"]), bool(g["maximize"]), g["weight_decay"] != 0)

    def _transform(self, h, s):
        use_m, centered, maximize, wd = s
        r = T.torch_rmsprop(h["lr"], h["alpha"], h["eps"], h["momentum"], centered, maximize and not wd,
                            use_momentum=use_m)
        return _chain(*_common(h, maximize, wd), r) if wd else r

    def _state_names(self, st):
        inner = _inner(st)
        names = {"step": inner.step, "square_avg": inner.square_avg}
        if any(g["momentum"] > 0 for g in self.param_groups):
            names["momentum_buffer"] = inner.momentum_buffer
        if any(g["centered"] for g in self.param_groups):
            names["grad_avg"] = inner.grad_avg
        return names


class Adagrad(Optimizer):
    _hyper = ("lr", "lr_decay", "weight_decay", "eps")

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None):
        _check("learning rate", lr, lr >= 0.0)
        _check("lr_decay value", lr_decay, lr_decay >= 0.0)
        _check("weight_decay value", weight_decay, weight_decay >= 0.0)
        _check("initial_accumulator_value value", initial_accumulator_value, initial_accumulator_value >= 0.0)
        _check("epsilon value", eps, eps >= 0.0)
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, fused=fused))

    def _statics(self, g):
        return (bool(g["maximize"]), g["weight_decay"] != 0, float(g["initial_accumulator_value"]))

    def _transform(self, h, s):
        maximize, wd, init = s
        a = T.torch_adagrad(h["lr"], h["lr_decay"], h["eps"], init, maximize and not wd)
        return _chain(*_common(h, maximize, wd), a) if wd else a

    def _state_names(self, st):
        inner = _inner(st)
        return {"step": inner.step, "sum": inner.sum}


def _chain(*pieces):
    pieces = [p for p in pieces if p is not None]
    return pieces[0] if len(pieces) == 1 else optax.chain(*pieces)


def _common(h, maximize, wd):
    """torch's order: the sign flip of ``maximize``, then L2 weight decay added to the gradient."""
    return (T.negate() if maximize else None, T.add_decayed_weights(h["weight_decay"]) if wd else None)


class Adadelta(Optimizer):
    _hyper = ("lr", "rho", "eps", "weight_decay")
    _capturable_devices = ("cuda", "xpu", "hpu", "privateuseone")

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False):
        _check("learning rate", lr, lr >= 0.0)
        _check("rho value", rho, 0.0 <= rho <= 1.0)
        _check("epsilon value", eps, eps >= 0.0)
        _check("weight_decay value", weight_decay, weight_decay >= 0.0)
        super().__init__(params, dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize,
                                      capturable=capturable, foreach=foreach, differentiable=differentiable))

    def _statics(self, g):
        return (bool(g["maximize"]), g["weight_decay"] != 0)

    def _transform(self, h, s):
        return _chain(*_common(h, *s), T.scale_by_torch_adadelta(h["lr"], h["rho"], h["eps"]))

    def _state_names(self, st):
        inner = _inner(st)
        return {"step": inner.step, "square_avg": inner.square_avg, "acc_delta": inner.acc_delta}


class _AdamLike(Optimizer):
    """Shared constructor checks and hyper-parameters of the Adam family (betas split in two)."""

    def _check_adam(self, lr, betas, eps, weight_decay):
        _check("learning rate", lr, lr >= 0.0)
        _check("epsilon value", eps, eps >= 0.0)
        _check("beta parameter at index 0", betas[0], 0.0 <= betas[0] < 1.0)
        _check("beta parameter at index 1", betas[1], 0.0 <= betas[1] < 1.0)
        _check("weight_decay value", weight_decay, weight_decay >= 0.0)

    def _hyper_values(self, g):
        h = {k: g[k] for k in self._hyper if k in g}
        h["beta1"], h["beta2"] = g["betas"]
        return h


class Adamax(_AdamLike):
    _hyper = ("lr", "eps", "weight_decay")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *,
                 maximize=False, differentiable=False, capturable=False):
        self._check_adam(lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize, differentiable=differentiable, capturable=capturable))

    def _statics(self, g):
        return (bool(g["maximize"]), g["weight_decay"] != 0)

    def _transform(self, h, s):
        return _chain(*_common(h, *s), T.scale_by_torch_adamax(h["lr"], h["beta1"], h["beta2"], h["eps"]))

    def _state_names(self, st):
        inner = _inner(st)
        return {"step": inner.step, "exp_avg": inner.exp_avg, "exp_inf": inner.exp_inf}


class _DecoupledMixin:
    def _statics(self, g):
        return (bool(g["maximize"]), g["weight_decay"] != 0 and not g["decoupled_weight_decay"],
                g["weight_decay"] != 0 and bool(g["decoupled_weight_decay"]))

    def _pre_update(self, params, h, s):
        return T.decoupled_weight_decay(params, h["lr"], h["weight_decay"]) if s[2] else params


class NAdam(_DecoupledMixin, _AdamLike):
    _hyper = ("lr", "eps", "weight_decay", "momentum_decay")
    _capturable_what = "params, mu_products and state_steps"

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False,
                 differentiable=False):
        self._check_adam(lr, betas, eps, weight_decay)
        _check("momentum_decay value", momentum_decay, momentum_decay >= 0.0)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                                      momentum_decay=momentum_decay, decoupled_weight_decay=decoupled_weight_decay,
                                      maximize=maximize, foreach=foreach, capturable=capturable,
                                      differentiable=differentiable))

    def _transform(self, h, s):
        return _chain(*_common(h, s[0], s[1]),
                      T.scale_by_torch_nadam(h["lr"], h["beta1"], h["beta2"], h["eps"], h["momentum_decay"]))

    def _state_names(self, st):
        inner = _inner(st)
        return {"step": inner.step, "mu_product": inner.mu_product, "exp_avg": inner.exp_avg,
                "exp_avg_sq": inner.exp_avg_sq}


class RAdam(_DecoupledMixin, _AdamLike):
    _hyper = ("lr", "eps", "weight_decay")

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False,
                 *, foreach=None, maximize=False, capturable=False, differentiable=False):
        self._check_adam(lr, betas, eps, weight_decay)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, foreach=foreach,
                                      maximize=maximize, capturable=capturable,
                                      decoupled_weight_decay=decoupled_weight_decay, differentiable=differentiable))

    def _transform(self, h, s):
        return _chain(*_common(h, s[0], s[1]), T.scale_by_torch_radam(h["lr"], h["beta1"], h["beta2"], h["eps"]))

    def _state_names(self, st):
        inner = _inner(st)
        return {"step": inner.step, "exp_avg": inner.exp_avg, "exp_avg_sq": inner.exp_avg_sq}


class ASGD(Optimizer):
    _hyper = ("lr", "lambd", "alpha", "t0", "weight_decay")
    _capturable_what = "params, mus, etas, and state_steps"

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None,
                 maximize=False, differentiable=False, capturable=False):
        _check("learning rate", lr, lr >= 0.0)
        _check("weight_decay value", weight_decay, weight_decay >= 0.0)
        super().__init__(params, dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize, capturable=capturable,
                                      differentiable=differentiable))

    def _statics(self, g):
        return (bool(g["maximize"]), g["weight_decay"] != 0)

    def _transform(self, h, s):
        return _chain(*_common(h, *s), T.scale_by_torch_asgd(h["lr"], h["lambd"], h["alpha"], h["t0"]))

    def _state_names(self, st):
        inner = _inner(st)
        return {"step": inner.step, "eta": inner.eta, "mu": inner.mu, "ax": inner.ax}


class Rprop(Optimizer):
    _hyper = ("lr",)

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False, foreach=None,
                 maximize=False, differentiable=False):
        _check("learning rate", lr, lr >= 0.0)
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        super().__init__(params, dict(lr=lr, etas=etas, step_sizes=step_sizes, foreach=foreach, maximize=maximize,
                                      differentiable=differentiable, capturable=capturable))

    def _hyper_values(self, g):
        return {"lr": g["lr"], "etaminus": g["etas"][0], "etaplus": g["etas"][1], "step_size_min": g["step_sizes"][0],
                "step_size_max": g["step_sizes"][1]}

    def _statics(self, g):
        return (bool(g["maximize"]),)

    def _transform(self, h, s):
        return _chain(T.negate() if s[0] else None,
                      T.scale_by_torch_rprop(h["lr"], h["etaminus"], h["etaplus"], h["step_size_min"],
                                             h["step_size_max"]))

    def _state_names(self, st):
        inner = _inner(st)
        return {"step": inner.step, "prev": inner.prev, "step_size": inner.step_size}


class Adafactor(Optimizer):
    """torch's Adafactor: factored second moments for matrices (``row_var``/``col_var``), a full
    ``variance`` for vectors, relative step sizes and update clipping."""

    _hyper = ("lr",)

    def __init__(self, params, lr=1e-2, beta2_decay=-0.8, eps=(None, 1e-3), d=1.0, weight_decay=0.0, *,
                 foreach=None, maximize=False):
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 >= beta2_decay:
            raise ValueError(f"beta2_decay should be <= 0 but is: {beta2_decay}")
        if eps[0] is not None and not 0.0 <= eps[0]:
            raise ValueError(f"epsilon1 should be >= 0 but is: {eps[0]}")
        if not 0.0 <= eps[1]:
            raise ValueError(f"epsilon2 should be >= 0 but is: {eps[1]}")
        if not 1.0 <= d:
            raise ValueError(f"Clipping threshold d should be >= 1 but is: {d}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight_decay should be >= 0 but is: {weight_decay}")
        super().__init__(params, dict(lr=lr, beta2_decay=beta2_decay, eps=eps, d=d, weight_decay=weight_decay,
                                      foreach=foreach, maximize=maximize))

    def _statics(self, g):
        return (bool(g["maximize"]), float(g["beta2_decay"]), g["eps"][0], float(g["eps"][1]), float(g["d"]),
                float(g["weight_decay"]))

    def _step_group(self, group):
        for p in group["params"]:
            if p.grad is not None and p.is_complex():
                raise RuntimeError("Adafactor does not support complex parameters")
        super()._step_group(group)

    def _transform(self, h, s):
        maximize, beta2_decay, eps1, eps2, d, wd = s
        return _chain(T.negate() if maximize else None,
                      T.scale_by_torch_adafactor(h["lr"], beta2_decay, eps1, eps2, d, wd))

    def _state_names(self, st):
        inner = _inner(st)
        return {"step": inner.step, "row_var": inner.row_var, "col_var": inner.col_var, "variance": inner.variance}

    def _expose_state(self, params, opt_state):
        super()._expose_state(params, opt_state)
        for p in params:  # torch keeps row_var/col_var for matrices, variance for vectors
            for k in (("variance",) if p.dim() > 1 else ("row_var", "col_var")):
                self.state[p].pop(k, None)
        return self._watch(params)

    def _adopt_state(self, params, state):
        if not any(p in self.state for p in params):
            return state
        inner = _inner(state)
        vals = {}
        for f in ("row_var", "col_var", "variance"):
            vals[f] = tuple(self.state[p][f]._array() if isinstance(self.state.get(p, {}).get(f), Tensor) else c
                            for p, c in zip(params, getattr(inner, f)))
        st = self.state.get(params[0], {})
        step = jnp.asarray(st["step"].item() if "step" in st else 0, jnp.float64)
        new = type(inner)(step=step, **vals)
        return new if inner is state else state[:-1] + (new,)


class Muon(Optimizer):
    """torch's Muon (2-D parameters): Nesterov momentum, a Newton-Schulz orthogonalised update in
    bfloat16, decoupled weight decay."""

    _hyper = ("lr",)

    def __init__(self, params, lr=1e-3, weight_decay=0.1, momentum=0.95, nesterov=True,
                 ns_coefficients=(3.4445, -4.775, 2.0315), eps=1e-7, ns_steps=5, adjust_lr_fn=None):
        if not 0.0 <= lr:
            raise ValueError(f"Learning rate should be >= 0 but is: {lr}")
        if not 0.0 <= momentum:
            raise ValueError(f"momentum should be >= 0 but is: {momentum}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"weight decay should be >= 0 but is: {weight_decay}")
        if adjust_lr_fn is not None and adjust_lr_fn not in ["original", "match_rms_adamw"]:
            raise ValueError(f"Adjust learning rate function {adjust_lr_fn} is not supported")
        super().__init__(params, dict(lr=lr, weight_decay=weight_decay, momentum=momentum, nesterov=nesterov,
                                      ns_coefficients=ns_coefficients, eps=eps, ns_steps=ns_steps,
                                      adjust_lr_fn=adjust_lr_fn))
        for g in self.param_groups:
            for p in g["params"]:
                if p.ndim != 2:
                    raise ValueError(f"Muon only supports 2D parameters whereas we found a parameter with size: "
                                     f"{p.size()}")

    def _statics(self, g):
        if g["ns_steps"] >= 100:
            raise ValueError("Number of steps must be less than 100 for computational efficiency")
        if len(g["ns_coefficients"]) != 3:
            raise ValueError("Coefficients must be a tuple of exactly 3 values")
        return (float(g["weight_decay"]), float(g["momentum"]), bool(g["nesterov"]),
                tuple(float(c) for c in g["ns_coefficients"]), float(g["eps"]), int(g["ns_steps"]),
                g["adjust_lr_fn"])

    def _transform(self, h, s):
        return T.scale_by_torch_muon(h["lr"], *s)

    def _state_names(self, st):
        return {"momentum_buffer": _inner(st).momentum_buffer}


class SparseAdam(Optimizer):
    """torch's SparseAdam. funcgrad has no sparse tensors, so every gradient is dense: ``step`` raises
    torch's error for dense gradients (use ``Adam``)."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, maximize=False):
        if not 0.0 < lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 < eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, maximize=maximize))
        complex_params = [[i, j] for i, g in enumerate(self.param_groups) for j, p in enumerate(g["params"])
                          if p.is_complex()]
        if complex_params:
            raise ValueError(f"Complex params at indices {complex_params}: SparseAdam does not support complex "
                             "parameters")

    def _step_group(self, group):
        if any(p.grad is not None for p in group["params"]):
            raise RuntimeError("SparseAdam does not support dense gradients, please consider Adam instead")
