"""torch's update rules as optax ``GradientTransformation``s.

Each follows torch's single-tensor CPU implementation operation by operation (``lerp`` for
Adam's first moment, ``addcmul``/``addcdiv`` evaluated left to right, bias corrections in
double precision then rounded), so trajectories match torch to the last bit or close to it.
optax's own ``scale_by_adam``/``scale_by_rms`` order the arithmetic differently (and put
RMSprop's epsilon inside the square root), and ``optax.add_decayed_weights`` multiplies by a
double scalar (which would promote float32 parameters under JAX's x64 mode), so each rule here
is written out; they still compose with any optax transformation (``optax.chain``).

Hyper-parameters may be JAX scalars (traced), so a changing learning rate never recompiles.
The updates follow optax's convention: ``new_param = param + update``.
"""
from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

__all__ = ["torch_sgd", "torch_adam", "torch_rmsprop", "torch_adagrad", "add_decayed_weights",
           "decoupled_weight_decay"]

def add_decayed_weights(weight_decay):
    """``grad + weight_decay * param`` (torch's L2 weight decay, ``grad.add(param, alpha=wd)``)."""

    def init(params):
        return optax.EmptyState()

    def update(grads, state, params=None):
        return jax.tree.map(lambda g, p: g + _f(weight_decay, p) * p, grads, params), state

    return optax.GradientTransformation(init, update)


def decoupled_weight_decay(params, lr, weight_decay):
    """AdamW's ``param * (1 - lr * weight_decay)``, applied to the parameters before the update."""
    f = 1 - jnp.asarray(lr, jnp.float64) * jnp.asarray(weight_decay, jnp.float64)
    return jax.tree.map(lambda p: p * _f(f, p), params)


def _f(x, like):
    """A python/double scalar as torch uses it inside a float kernel: rounded to the tensor's dtype."""
    return jnp.asarray(x, jnp.float64).astype(like.dtype)


def _lerp(a, b, w):
    # torch's lerp kernel: w < 0.5 ? a + w * (b - a) : b - (b - a) * (1 - w)
    return jnp.where(w < 0.5, a + w * (b - a), b - (b - a) * (1 - w))


class SGDState(NamedTuple):
    step: jax.Array
    momentum_buffer: optax.Updates


def torch_sgd(lr, momentum=0.0, dampening=0.0, nesterov=False, maximize=False, use_momentum=None):
    def init(params):
        return SGDState(jnp.zeros([], jnp.int32), jax.tree.map(jnp.zeros_like, params))

    def update(grads, state, params=None):
        grads = jax.tree.map(lambda g: -g, grads) if maximize else grads
        if use_momentum if use_momentum is not None else momentum != 0:
            def buf_of(g, b):
                m, d = _f(momentum, g), _f(1 - jnp.asarray(dampening, jnp.float64), g)
                return jnp.where(state.step == 0, g, b * m + d * g)

            bufs = jax.tree.map(buf_of, grads, state.momentum_buffer)
            if nesterov:
                grads = jax.tree.map(lambda g, b: g + _f(momentum, g) * b, grads, bufs)
            else:
                grads = bufs
        else:
            bufs = state.momentum_buffer
        updates = jax.tree.map(lambda g: _f(-jnp.asarray(lr, jnp.float64), g) * g, grads)
        return updates, SGDState(state.step + 1, bufs)

    return optax.GradientTransformation(init, update)


class AdamState(NamedTuple):
    step: jax.Array
    exp_avg: optax.Updates
    exp_avg_sq: optax.Updates
    max_exp_avg_sq: optax.Updates


def torch_adam(lr, b1=0.9, b2=0.999, eps=1e-8, amsgrad=False, maximize=False):
    def init(params):
        z = jax.tree.map(jnp.zeros_like, params)
        return AdamState(jnp.zeros([], jnp.float64), z, z, z)

    def update(grads, state, params=None):
        grads = jax.tree.map(lambda g: -g, grads) if maximize else grads
        step = state.step + 1
        b1_, b2_ = jnp.asarray(b1, jnp.float64), jnp.asarray(b2, jnp.float64)
        m = jax.tree.map(lambda m, g: _lerp(m, g, _f(1 - b1_, g)), state.exp_avg, grads)
        v = jax.tree.map(lambda v, g: v * _f(b2_, g) + (_f(1 - b2_, g) * g) * g, state.exp_avg_sq, grads)
        bc1 = 1 - b1_ ** step
        bc2_sqrt = jnp.sqrt(1 - b2_ ** step)
        step_size = jnp.asarray(lr, jnp.float64) / bc1
        if amsgrad:
            vmax = jax.tree.map(jnp.maximum, state.max_exp_avg_sq, v)
            den_src = vmax
        else:
            vmax = state.max_exp_avg_sq
            den_src = v
        updates = jax.tree.map(
            lambda m_, v_: (_f(-step_size, m_) * m_) / (jnp.sqrt(v_) / _f(bc2_sqrt, v_) + _f(eps, v_)), m, den_src)
        return updates, AdamState(step, m, v, vmax)

    return optax.GradientTransformation(init, update)


class RMSpropState(NamedTuple):
    step: jax.Array
    square_avg: optax.Updates
    grad_avg: optax.Updates
    momentum_buffer: optax.Updates


def torch_rmsprop(lr, alpha=0.99, eps=1e-8, momentum=0.0, centered=False, maximize=False, use_momentum=None):
    def init(params):
        z = jax.tree.map(jnp.zeros_like, params)
        return RMSpropState(jnp.zeros([], jnp.int32), z, z, z)

    def update(grads, state, params=None):
        grads = jax.tree.map(lambda g: -g, grads) if maximize else grads
        a = jnp.asarray(alpha, jnp.float64)
        sq = jax.tree.map(lambda s, g: s * _f(a, g) + (_f(1 - a, g) * g) * g, state.square_avg, grads)
        if centered:
            ga = jax.tree.map(lambda m, g: _lerp(m, g, _f(1 - a, g)), state.grad_avg, grads)
            avg = jax.tree.map(lambda s, m: jnp.sqrt(s + (-m) * m) + _f(eps, s), sq, ga)
        else:
            ga = state.grad_avg
            avg = jax.tree.map(lambda s: jnp.sqrt(s) + _f(eps, s), sq)
        neg_lr = -jnp.asarray(lr, jnp.float64)
        if use_momentum if use_momentum is not None else momentum > 0:
            buf = jax.tree.map(lambda b, g, d: b * _f(momentum, b) + g / d, state.momentum_buffer, grads, avg)
            updates = jax.tree.map(lambda b: _f(neg_lr, b) * b, buf)
        else:
            buf = state.momentum_buffer
            updates = jax.tree.map(lambda g, d: (_f(neg_lr, g) * g) / d, grads, avg)
        return updates, RMSpropState(state.step + 1, sq, ga, buf)

    return optax.GradientTransformation(init, update)


class AdagradState(NamedTuple):
    step: jax.Array
    sum: optax.Updates


def torch_adagrad(lr, lr_decay=0.0, eps=1e-10, initial_accumulator_value=0.0, maximize=False):
    def init(params):
        return AdagradState(jnp.zeros([], jnp.float64),
                            jax.tree.map(lambda p: jnp.full_like(p, initial_accumulator_value), params))

    def update(grads, state, params=None):
        grads = jax.tree.map(lambda g: -g, grads) if maximize else grads
        step = state.step + 1
        clr = jnp.asarray(lr, jnp.float64) / (1 + (step - 1) * jnp.asarray(lr_decay, jnp.float64))
        s = jax.tree.map(lambda s, g: s + g * g, state.sum, grads)
        updates = jax.tree.map(lambda g, s_: (_f(-clr, g) * g) / (jnp.sqrt(s_) + _f(eps, s_)), grads, s)
        return updates, AdagradState(step, s)

    return optax.GradientTransformation(init, update)
