"""SGD, Adam, AdamW, RMSprop, Adagrad: torch's classes over the optax rules in ``transforms``."""
from __future__ import annotations

import optax

from . import transforms as T
from .optimizer import Optimizer, required

__all__ = ["SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]


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
        sgd = T.torch_sgd(h["lr"], h["momentum"], h["dampening"], nesterov, maximize, use_momentum=use_m)
        return optax.chain(T.add_decayed_weights(h["weight_decay"]), sgd) if wd else sgd

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
        adam = T.torch_adam(h["lr"], h["beta1"], h["beta2"], h["eps"], amsgrad, maximize)
        return optax.chain(T.add_decayed_weights(h["weight_decay"]), adam) if wd and not decoupled else adam

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
        r = T.torch_rmsprop(h["lr"], h["alpha"], h["eps"], h["momentum"], centered, maximize, use_momentum=use_m)
        return optax.chain(T.add_decayed_weights(h["weight_decay"]), r) if wd else r

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
        a = T.torch_adagrad(h["lr"], h["lr_decay"], h["eps"], init, maximize)
        return optax.chain(T.add_decayed_weights(h["weight_decay"]), a) if wd else a

    def _state_names(self, st):
        inner = _inner(st)
        return {"step": inner.step, "sum": inner.sum}
