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
           "decoupled_weight_decay", "negate", "scale_by_torch_adadelta", "scale_by_torch_adamax",
           "scale_by_torch_nadam", "scale_by_torch_radam", "scale_by_torch_asgd", "scale_by_torch_rprop",
           "scale_by_torch_adafactor", "scale_by_torch_muon"]

def _fresh_zeros(params):
    """A maker of zeros like ``params``, a new array each call (state fields sharing one array would
    read as one input of the first step's program, whose structure then differs from the next's)."""
    return lambda: jax.tree.map(jnp.zeros_like, params)


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
        z = _fresh_zeros(params)
        return AdamState(jnp.zeros([], jnp.float64), z(), z(), z())

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
        z = _fresh_zeros(params)
        return RMSpropState(jnp.zeros([], jnp.int32), z(), z(), z())

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


# -- small pieces the newer optimizers chain --------------------------------------------------------
def negate():
    """torch's ``maximize=True``: the gradient's sign flipped before anything else."""
    return optax.GradientTransformation(lambda params: optax.EmptyState(),
                                        lambda grads, state, params=None: (jax.tree.map(jnp.negative, grads), state))


def _sq_avg(s, g, rho):
    # square_avg.mul_(rho).addcmul_(grad, grad, value=1 - rho)
    return s * _f(rho, g) + (_f(1 - jnp.asarray(rho, jnp.float64), g) * g) * g


class AdadeltaState(NamedTuple):
    step: jax.Array
    square_avg: optax.Updates
    acc_delta: optax.Updates


def scale_by_torch_adadelta(lr, rho=0.9, eps=1e-6):
    """torch's Adadelta (lr folded in as torch's ``param.add_(delta, alpha=-lr)``)."""
    def init(params):
        z = _fresh_zeros(params)
        return AdadeltaState(jnp.zeros([], jnp.float64), z(), z())

    def update(grads, state, params=None):
        sq = jax.tree.map(lambda s, g: _sq_avg(s, g, rho), state.square_avg, grads)
        delta = jax.tree.map(lambda a, s, g: jnp.sqrt(a + _f(eps, a)) / jnp.sqrt(s + _f(eps, s)) * g,
                             state.acc_delta, sq, grads)
        acc = jax.tree.map(lambda a, d: _sq_avg(a, d, rho), state.acc_delta, delta)
        updates = jax.tree.map(lambda d: _f(-jnp.asarray(lr, jnp.float64), d) * d, delta)
        return updates, AdadeltaState(state.step + 1, sq, acc)

    return optax.GradientTransformation(init, update)


class AdamaxState(NamedTuple):
    step: jax.Array
    exp_avg: optax.Updates
    exp_inf: optax.Updates


def scale_by_torch_adamax(lr, b1=0.9, b2=0.999, eps=1e-8):
    def init(params):
        z = _fresh_zeros(params)
        return AdamaxState(jnp.zeros([], jnp.float64), z(), z())

    def update(grads, state, params=None):
        step = state.step + 1
        m = jax.tree.map(lambda m, g: _lerp(m, g, _f(1 - jnp.asarray(b1, jnp.float64), g)), state.exp_avg, grads)
        u = jax.tree.map(lambda u, g: jnp.maximum(u * _f(b2, u), jnp.abs(g) + _f(eps, g)), state.exp_inf, grads)
        clr = jnp.asarray(lr, jnp.float64) / (1 - jnp.asarray(b1, jnp.float64) ** step)
        updates = jax.tree.map(lambda m_, u_: (_f(-clr, m_) * m_) / u_, m, u)
        return updates, AdamaxState(step, m, u)

    return optax.GradientTransformation(init, update)


class NAdamState(NamedTuple):
    step: jax.Array
    mu_product: jax.Array
    exp_avg: optax.Updates
    exp_avg_sq: optax.Updates


def scale_by_torch_nadam(lr, b1=0.9, b2=0.999, eps=1e-8, momentum_decay=4e-3):
    """torch's NAdam; ``mu_product`` is a float32 scalar as in torch's state."""
    def init(params):
        z = _fresh_zeros(params)
        return NAdamState(jnp.zeros([], jnp.float64), jnp.ones([], jnp.float32), z(), z())

    def update(grads, state, params=None):
        step = state.step + 1
        b1_, b2_, lr_ = (jnp.asarray(v, jnp.float64) for v in (b1, b2, lr))
        bc2 = 1 - b2_ ** step
        mu = b1_ * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))
        mu_next = b1_ * (1.0 - 0.5 * 0.96 ** ((step + 1) * momentum_decay))
        mp = state.mu_product * mu.astype(jnp.float32)
        mp64 = mp.astype(jnp.float64)
        m = jax.tree.map(lambda m, g: _lerp(m, g, _f(1 - b1_, g)), state.exp_avg, grads)
        v = jax.tree.map(lambda v, g: _sq_avg(v, g, b2_), state.exp_avg_sq, grads)
        c1 = -lr_ * (1.0 - mu) / (1.0 - mp64)
        c2 = (-lr_ * mu_next) / (1.0 - mp64 * mu_next)

        def upd(g, m_, v_):
            denom = jnp.sqrt(v_ / _f(bc2, v_)) + _f(eps, v_)
            return (_f(c1, g) * g) / denom + (_f(c2, m_) * m_) / denom

        return jax.tree.map(upd, grads, m, v), NAdamState(step, mp, m, v)

    return optax.GradientTransformation(init, update)


class RAdamState(NamedTuple):
    step: jax.Array
    exp_avg: optax.Updates
    exp_avg_sq: optax.Updates


def scale_by_torch_radam(lr, b1=0.9, b2=0.999, eps=1e-8):
    def init(params):
        z = _fresh_zeros(params)
        return RAdamState(jnp.zeros([], jnp.float64), z(), z())

    def update(grads, state, params=None):
        step = state.step + 1
        b1_, b2_, lr_ = (jnp.asarray(v, jnp.float64) for v in (b1, b2, lr))
        m = jax.tree.map(lambda m, g: _lerp(m, g, _f(1 - b1_, g)), state.exp_avg, grads)
        v = jax.tree.map(lambda v, g: _sq_avg(v, g, b2_), state.exp_avg_sq, grads)
        bc1, bc2 = 1 - b1_ ** step, 1 - b2_ ** step
        rho_inf = 2 / (1 - b2_) - 1
        rho_t = rho_inf - 2 * step * (b2_ ** step) / bc2
        rect = jnp.sqrt(jnp.abs((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t)))

        def upd(m_, v_):
            corrected = m_ / _f(bc1, m_) * _f(lr_, m_)
            adaptive = _f(jnp.sqrt(bc2), v_) / (jnp.sqrt(v_) + _f(eps, v_))
            return -jnp.where(rho_t > 5.0, corrected * adaptive * _f(rect, m_), corrected)

        return jax.tree.map(upd, m, v), RAdamState(step, m, v)

    return optax.GradientTransformation(init, update)


class ASGDState(NamedTuple):
    step: jax.Array
    eta: jax.Array
    mu: jax.Array
    ax: optax.Updates


def scale_by_torch_asgd(lr, lambd=1e-4, alpha=0.75, t0=1e6):
    """torch's ASGD. Its decay term scales the parameter, so the update is the parameter change
    ``p * (1 - lambd * eta) - eta * g - p``; ``ax`` (the average) is kept as torch keeps it."""
    def init(params):
        return ASGDState(jnp.zeros([], jnp.float64), jnp.asarray(lr, jnp.float32), jnp.ones([], jnp.float32),
                         jax.tree.map(jnp.zeros_like, params))

    def update(grads, state, params=None):
        step = state.step + 1
        eta = state.eta.astype(jnp.float64)
        new_p = jax.tree.map(lambda p, g: p * _f(1 - lambd * eta, p) + _f(-eta, g) * g, params, grads)
        mu = state.mu.astype(jnp.float64)
        ax = jax.tree.map(lambda a, p: jnp.where(mu != 1, a + (p - a) * _f(mu, p), p), state.ax, new_p)
        lr_ = jnp.asarray(lr, jnp.float64)
        new_eta = (lr_ / ((1 + lambd * lr_ * step) ** alpha)).astype(jnp.float32)
        new_mu = (1 / jnp.maximum(1.0, step - t0)).astype(jnp.float32)
        updates = jax.tree.map(lambda n, p: n - p, new_p, params)
        return updates, ASGDState(step, new_eta, new_mu, ax)

    return optax.GradientTransformation(init, update)


class RpropState(NamedTuple):
    step: jax.Array
    prev: optax.Updates
    step_size: optax.Updates


def _sign_of_product(a, b):
    """``(a * b).sign()`` as torch's CPU kernels compute it: XLA flushes float32 denormal products to
    zero (a sign of 0), torch keeps them, so the product is formed in float64 and only what torch
    rounds to zero (below half the smallest float32 denormal) counts as zero."""
    if a.dtype == jnp.float32:
        p = a.astype(jnp.float64) * b.astype(jnp.float64)
        return jnp.sign(jnp.where(jnp.abs(p) <= 2.0 ** -150, 0.0, p)).astype(a.dtype)
    return jnp.sign(a * b)


def scale_by_torch_rprop(lr, etaminus=0.5, etaplus=1.2, step_size_min=1e-6, step_size_max=50.0):
    def init(params):
        return RpropState(jnp.zeros([], jnp.float64), jax.tree.map(jnp.zeros_like, params),
                          jax.tree.map(lambda p: jnp.full_like(p, lr), params))

    def update(grads, state, params=None):
        def one(g, prev, ss):
            s = _sign_of_product(g, prev)
            factor = jnp.where(s > 0, _f(etaplus, g), jnp.where(s < 0, _f(etaminus, g), jnp.ones_like(g)))
            ss = jnp.clip(ss * factor, _f(step_size_min, g), _f(step_size_max, g))
            g = jnp.where(s < 0, jnp.zeros_like(g), g)
            return -(jnp.sign(g) * ss), g, ss

        out = jax.tree.map(one, grads, state.prev, state.step_size)
        tup = lambda i: jax.tree.map(lambda o: o[i], out, is_leaf=lambda x: isinstance(x, tuple) and len(x) == 3)
        return tup(0), RpropState(state.step + 1, tup(1), tup(2))

    return optax.GradientTransformation(init, update)


class AdafactorState(NamedTuple):
    step: jax.Array
    row_var: tuple      # per parameter: (..., m, 1) for matrices, a (0,) placeholder for vectors
    col_var: tuple      # per parameter: (..., 1, n) for matrices, placeholder otherwise
    variance: tuple     # per parameter: like the parameter for vectors, placeholder otherwise


def scale_by_torch_adafactor(lr, beta2_decay=-0.8, eps1=None, eps2=1e-3, d=1.0, weight_decay=0.0):
    """torch's Adafactor (``_single_tensor_adafactor``): factored second moments for matrices, the
    relative step size ``max(eps2, RMS(p)) * min(lr, 1/sqrt(t))``, update clipping by ``d``. Its decay
    and step both scale by the parameter's norm, so the update is the parameter change."""
    def init(params):
        def parts(p):
            if p.ndim > 1:
                return (jnp.zeros(p.shape[:-1] + (1,), p.dtype), jnp.zeros(p.shape[:-2] + (1,) + p.shape[-1:], p.dtype),
                        jnp.zeros((0,), p.dtype))
            return jnp.zeros((0,), p.dtype), jnp.zeros((0,), p.dtype), jnp.zeros_like(p)

        ps = [parts(p) for p in params]
        return AdafactorState(jnp.zeros([], jnp.float64), tuple(x[0] for x in ps), tuple(x[1] for x in ps),
                              tuple(x[2] for x in ps))

    def update(grads, state, params=None):
        step = state.step + 1
        lr_ = jnp.asarray(lr, jnp.float64)
        one_minus_beta2_t = step ** beta2_decay
        rho_t = jnp.minimum(lr_, 1 / step ** 0.5)
        rows, cols, variances, updates = [], [], [], []
        for g, p, rv, cv, var in zip(grads, params, state.row_var, state.col_var, state.variance):
            e1 = float(jnp.finfo(p.dtype).eps) if eps1 is None else eps1
            norm_p = jnp.sqrt(jnp.sum(jnp.square(p))).astype(jnp.float64)
            alpha = jnp.maximum(eps2, norm_p / (p.size ** 0.5)) * rho_t
            new_p = p * _f(1 - lr_ * weight_decay, p) if weight_decay != 0 else p
            w = _f(one_minus_beta2_t, g)
            if g.ndim > 1:
                row_mean = jnp.square(jnp.sqrt(jnp.sum(jnp.square(g), axis=-1, keepdims=True))) / g.shape[-1]
                rv = _lerp(rv, row_mean, w)
                col_mean = jnp.square(jnp.sqrt(jnp.sum(jnp.square(g), axis=-2, keepdims=True))) / g.shape[-2]
                cv = _lerp(cv, col_mean, w)
                est = jnp.matmul(rv, cv) / jnp.maximum(jnp.mean(rv, axis=-2, keepdims=True), _f(e1, rv))
            else:
                var = _lerp(var, g * g, w)
                est = var
            u = jax.lax.rsqrt(jnp.maximum(est, _f(e1 * e1, est))) * g
            denom = jnp.maximum(1.0, jnp.sqrt(jnp.sum(jnp.square(u))).astype(jnp.float64) / ((u.size ** 0.5) * d))
            new_p = new_p + _f(-alpha / denom, u) * u
            rows.append(rv)
            cols.append(cv)
            variances.append(var)
            updates.append(new_p - p)
        return tuple(updates), AdafactorState(step, tuple(rows), tuple(cols), tuple(variances))

    return optax.GradientTransformation(init, update)


class MuonState(NamedTuple):
    momentum_buffer: optax.Updates


def _newton_schulz(g, coefficients, steps, eps):
    """torch's ``_zeropower_via_newtonschulz``: quintic Newton-Schulz orthogonalisation in bfloat16."""
    a, b, c = coefficients
    x = g.astype(jnp.bfloat16)
    tall = g.shape[0] > g.shape[1]
    if tall:
        x = x.T
    x = x / jnp.maximum(jnp.sqrt(jnp.sum(jnp.square(x.astype(jnp.float32)))).astype(jnp.bfloat16),
                        jnp.asarray(eps, jnp.bfloat16))
    for _ in range(steps):
        gram16 = jnp.matmul(x, x.T, preferred_element_type=jnp.float32).astype(jnp.bfloat16)
        upd = (b * gram16.astype(jnp.float32) + c * jnp.matmul(gram16, gram16, preferred_element_type=jnp.float32)
               ).astype(jnp.bfloat16)
        x = (a * x.astype(jnp.float32) + jnp.matmul(upd, x, preferred_element_type=jnp.float32)).astype(jnp.bfloat16)
    return x.T if tall else x


def scale_by_torch_muon(lr, weight_decay=0.1, momentum=0.95, nesterov=True, ns_coefficients=(3.4445, -4.775, 2.0315),
                        eps=1e-7, ns_steps=5, adjust_lr_fn=None):
    """torch's Muon for 2-D parameters: momentum (``lerp``), Nesterov, Newton-Schulz orthogonalised
    update, decoupled weight decay and torch's shape-adjusted learning rate."""
    def init(params):
        return MuonState(jax.tree.map(jnp.zeros_like, params))

    def update(grads, state, params=None):
        bufs, updates = [], []
        lr_ = jnp.asarray(lr, jnp.float64)
        for g, p, buf in zip(grads, params, state.momentum_buffer):
            buf = _lerp(buf, g, _f(1 - jnp.asarray(momentum, jnp.float64), g))
            u = _lerp(g, buf, _f(momentum, g)) if nesterov else buf
            u = _newton_schulz(u, ns_coefficients, ns_steps, eps)
            A, B = p.shape[:2]
            if adjust_lr_fn is None or adjust_lr_fn == "original":
                ratio = max(1, A / B) ** 0.5
            elif adjust_lr_fn == "match_rms_adamw":
                ratio = 0.2 * max(A, B) ** 0.5
            else:
                ratio = 1.0
            new_p = p * _f(1 - lr_ * weight_decay, p)
            new_p = new_p + _f(-(lr_ * ratio), p) * u.astype(p.dtype)
            bufs.append(buf)
            updates.append(new_p - p)
        return tuple(updates), MuonState(tuple(bufs))

    return optax.GradientTransformation(init, update)
