"""Losses of ``torch.nn.functional`` beyond mse/l1/nll/cross-entropy/bce/huber/kl: registry ops named as
torch's backward nodes (``SoftMarginLossBackward0``, ``MultiMarginLossBackward0``, ...) or compositions
built as torch's ATen composites build them (hinge/cosine-embedding/margin-ranking/poisson/gaussian/
triplet losses), so ``grad_fn`` chains match torch's."""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from .._ops import creation
from .._ops.registry import Const, defop, autocast_op
from .._lazy import concrete
from ..autograd import grad_mode

__all__ = ["soft_margin_loss", "margin_ranking_loss", "hinge_embedding_loss", "cosine_embedding_loss",
           "multi_margin_loss", "multilabel_margin_loss", "multilabel_soft_margin_loss", "poisson_nll_loss",
           "gaussian_nll_loss", "triplet_margin_loss", "triplet_margin_with_distance_loss", "pairwise_distance",
           "pdist", "cdist", "ctc_loss"]


def _red(reduction, size_average=None, reduce=None):
    from .functional import _reduction

    return _reduction(reduction, size_average, reduce)


def _apply(loss, reduction):
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _reduce(x, reduction):
    if reduction == "mean":
        return jnp.mean(x)
    if reduction == "sum":
        return jnp.sum(x)
    return x


def _scalar(v, like):
    return creation.tensor(v, dtype=like.dtype, device=like.device)


# -- soft margin ----------------------------------------------------------------------------------------
def _soft_margin_fwd(x, y, reduction):
    return _reduce(jnp.log1p(jnp.exp(-y * x)), reduction)


@defop(_soft_margin_fwd, node="SoftMarginLossBackward0", saves={0: (0, 1), 1: (0, 1)}, promote=True, method=False,
       function=False, name="soft_margin_loss")
def _soft_margin(input, target, reduction):
    return (input, target), (("reduction", reduction),)


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """``log(1 + exp(-y * x))``, averaged."""
    return _soft_margin(input, target, _red(reduction, size_average, reduce))


# -- composites as torch's ATen builds them ---------------------------------------------------------------
@autocast_op("margin_ranking_loss")
def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """``max(0, -y * (x1 - x2) + margin)``."""
    reduction = _red(reduction, size_average, reduce)
    if input1.dim() != input2.dim() or input1.dim() != target.dim():
        raise RuntimeError(f"margin_ranking_loss : All input tensors should have same dimension but got sizes: "
                           f"input1: {input1.shape}, input2: {input2.shape}, target: {target.shape} ")
    out = (-target * (input1 - input2) + margin).clamp_min(0)
    return _apply(out, reduction)


@autocast_op("hinge_embedding_loss")
def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean"):
    """``x`` where ``y == 1``, ``max(0, margin - x)`` where ``y == -1``."""
    from .._ops.creation import zeros_like
    from .._ops.pointwise import where

    reduction = _red(reduction, size_average, reduce)
    zeros = zeros_like(input)
    margin_clamp = (_scalar(margin, input) - input).clamp_min(0)
    output_margin = where(target != 1, margin_clamp, zeros)
    output_self = where(target != -1, input, zeros)
    return _apply(output_margin + output_self, reduction)


@autocast_op("cosine_embedding_loss")
def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean"):
    """``1 - cos(x1, x2)`` where ``y == 1``, ``max(0, cos(x1, x2) - margin)`` where ``y == -1``."""
    from .._ops.creation import zeros_like
    from .._ops.pointwise import where

    reduction = _red(reduction, size_average, reduce)
    tdim = target.dim()
    if tdim > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if tdim == 1:
        if input1.dim() != 2 or input2.dim() != 2:
            raise RuntimeError(f"1D target tensor expects 2D input tensors, but found inputs with sizes "
                               f"{list(input1._shape)} and {list(input2._shape)}.")
    elif input1.dim() != 1 or input2.dim() != 1:
        raise RuntimeError(f"0D target tensor expects 1D input tensors, but found inputs with sizes "
                           f"{list(input1._shape)} and {list(input2._shape)}.")
    eps = 1e-12
    prod_sum = (input1 * input2).sum(tdim)
    mag1 = (input1 * input1).sum(tdim) + eps
    mag2 = (input2 * input2).sum(tdim) + eps
    denom = (mag1 * mag2).sqrt()
    cos = prod_sum / denom
    zeros = zeros_like(cos)
    pos = _scalar(1, cos) - cos
    neg = (cos - margin).clamp_min(0)
    out = where(target == 1, pos, zeros) + where(target == -1, neg, zeros)
    return _apply(out, reduction)


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Binary logistic loss per class, averaged over classes."""
    from ._activations import logsigmoid

    reduction = _red(reduction, size_average, reduce)
    loss = -(target * logsigmoid(input) + (1 - target) * logsigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input.dim() - 1
    loss = loss.sum(class_dim) / input._shape[class_dim]
    return _apply(loss, reduction)


@autocast_op("poisson_nll_loss")
def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None,
                     reduction="mean"):
    """Poisson negative log likelihood (``full`` adds Stirling's term where ``target > 1``)."""
    reduction = _red(reduction, size_average, reduce)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        stirling = target * target.log() - target + dispatch_mul(target.mul(2 * math.pi).log(), 0.5)
        loss = loss + stirling.masked_fill(target <= 1, 0)
    return _apply(loss, reduction)


def dispatch_mul(t, s):
    from .._ops import pointwise
    from .._ops.registry import dispatch

    return dispatch(pointwise.mul.op, (t, float(s)), (), "MulBackward1")


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean"):
    """Gaussian negative log likelihood with predicted variance ``var`` (clamped at ``eps`` without gradient)."""
    from .._ops.creation import ones_like
    from ..tensor import Tensor

    if not isinstance(var, Tensor):
        if var < 0:
            raise ValueError("var has negative entry/entries")
        var = var * ones_like(input)
    else:
        v = concrete(var.detach()._array())
        if v is not None and (v < 0).any():
            raise ValueError("var has negative entry/entries")
    if tuple(var._shape) != tuple(input._shape):
        if tuple(input._shape[:-1]) == tuple(var._shape):
            var = var.unsqueeze(-1)
        elif input.dim() == var.dim() and sum(y for x, y in zip(input._shape, var._shape) if x != y) == 1:
            pass
        else:
            raise ValueError("var is of incorrect size")
    if reduction not in ("mean", "sum", "none"):
        raise ValueError(reduction + " is not valid")
    var = var.clone()
    with grad_mode.no_grad():
        var.clamp_(min=eps)
    loss = _mul_scalar_left(0.5, var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _apply(loss, reduction)


def _mul_scalar_left(s, t):
    # python's ``0.5 * tensor``: torch records MulBackward0 (the number becomes a wrapped tensor)
    return _scalar(s, t) * t


# -- multi-class margins ------------------------------------------------------------------------------------
def _multi_margin_fwd(x, y, *w, p, margin, reduction, has_w):
    c = x.shape[-1]
    xy = jnp.take_along_axis(x, y[..., None], axis=-1)
    z = jnp.maximum(margin - xy + x, 0)
    if p == 2:
        z = z * z
    if has_w:
        z = z * w[0][y][..., None]
    z = jnp.where(jax.nn.one_hot(y, c, dtype=bool), 0, z)
    loss = jnp.sum(z, axis=-1) / c
    return _reduce(loss, reduction)


@defop(_multi_margin_fwd, node="MultiMarginLossBackward0", saves={0: (0, 1)}, method=False, function=False,
       name="multi_margin_loss")
def _multi_margin(input, target, weight, p, margin, reduction):
    ins = (input, Const(target._array())) + ((Const(weight._array()),) if weight is not None else ())
    return ins, (("p", int(p)), ("margin", float(margin)), ("reduction", reduction), ("has_w", weight is not None))


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None,
                      reduction="mean"):
    """Multi-class hinge loss ``sum_{i != y} max(0, margin - x[y] + x[i]) ** p / C``."""
    reduction = _red(reduction, size_average, reduce)
    if p not in (1, 2):
        raise ValueError("only p == 1 and p == 2 supported")
    if weight is not None and weight.dim() != 1:
        raise ValueError("weight must be one-dimensional")
    if input.dim() > 2 or (input.dim() == 2 and target.dim() != 1) or \
            (input.dim() <= 1 and target.dim() > 1):
        raise RuntimeError(f"Expected non-empty vector or matrix with optional 0-dim batch size, but got: "
                           f"{list(input._shape)}")
    c = input._shape[-1] if input.dim() else 1
    t = concrete(target._array())
    if t is not None and t.size and (t.min() < 0 or t.max() >= c):
        raise RuntimeError("target out of range")
    x = input.reshape(1) if input.dim() == 0 else input
    tg = target.reshape(()) if input.dim() <= 1 else target
    return _multi_margin(x, tg, weight, p, margin, reduction)


def _multilabel_margin_fwd(x, y, reduction):
    c = x.shape[-1]
    # targets are the prefix of y before the first -1
    valid = jnp.cumprod(y >= 0, axis=-1).astype(bool)
    safe = jnp.where(valid, y, 0)
    is_target = jnp.any(jax.nn.one_hot(safe, c, dtype=bool) & valid[..., None], axis=-2)
    xy = jnp.take_along_axis(x, safe, axis=-1)  # (..., C) values at target positions
    z = jnp.maximum(1 - (xy[..., :, None] - x[..., None, :]), 0)
    z = jnp.where(valid[..., :, None] & ~is_target[..., None, :], z, 0)
    loss = jnp.sum(z, axis=(-2, -1)) / c
    return _reduce(loss, reduction)


@defop(_multilabel_margin_fwd, node="MultilabelMarginLossBackward0", saves={0: (0, 1)}, method=False,
       function=False, name="multilabel_margin_loss")
def _multilabel_margin(input, target, reduction):
    return (input, Const(target._array())), (("reduction", reduction),)


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean"):
    """Multi-label hinge loss; ``target`` holds class indices, ended by the first ``-1``."""
    reduction = _red(reduction, size_average, reduce)
    if input.dim() > 2 or tuple(target._shape) != tuple(input._shape):
        raise RuntimeError(f"inconsistent target size: {list(target._shape)} for input of size: "
                           f"{list(input._shape)}")
    c = input._shape[-1] if input.dim() else 1
    t = concrete(target._array())
    if t is not None and t.size and (t.min() < -1 or t.max() >= c):
        raise RuntimeError("target out of range")
    zero_dim = input.dim() == 0
    x, tg = (input.reshape(1), target.reshape(1)) if zero_dim else (input, target)
    out = _multilabel_margin(x, tg, reduction)
    if reduction == "none" and zero_dim:
        out = out.reshape(())
    return out


# -- distances -----------------------------------------------------------------------------------------------
def _pnorm_grad(d, dist, p):
    """torch's derivative of ``||d||_p`` over the last dim (0 where the distance is 0)."""
    dist = dist[..., None]
    zero = dist == 0
    safe = jnp.where(zero, 1, dist)
    if p == 0:
        return jnp.zeros_like(d)
    if p == 1:
        g = jnp.sign(d)
    elif p == 2:
        g = d / safe
    elif math.isinf(p):
        g = jnp.sign(d) * (jnp.abs(d) == safe)
    else:
        ad = jnp.abs(d)
        g = jnp.sign(d) * jnp.where(ad == 0, 0, jnp.where(ad == 0, 1, ad) ** (p - 1)) / safe ** (p - 1)
    return jnp.where(zero, 0, g)


def _pnorm_value(d, p):
    ad = jnp.abs(d)
    if p == 0:
        return jnp.sum((ad != 0).astype(d.dtype), axis=-1)
    if math.isinf(p):
        return jnp.max(ad, axis=-1, initial=0) if p > 0 else jnp.min(ad, axis=-1)
    if p == 1:
        return jnp.sum(ad, axis=-1)
    if p == 2:
        return jnp.sqrt(jnp.sum(ad * ad, axis=-1))
    return jnp.sum(ad ** p, axis=-1) ** (1.0 / p)


_pnorm = jax.custom_jvp(lambda d, p: _pnorm_value(d, p), nondiff_argnums=(1,))


@_pnorm.defjvp
def _pnorm_jvp2(p, primals, tangents):
    (d,), (td,) = primals, tangents
    dist = _pnorm(d, p)
    return dist, jnp.sum(_pnorm_grad(d, dist, p) * td, axis=-1)


def _pairwise_fwd(a, b, p, eps, keepdim):
    out = _pnorm(a - b + eps, p)
    return out[..., None] if keepdim else out


@defop(_pairwise_fwd, node="NormBackward1", saves={0: (0, 1), 1: (0, 1)}, promote=True, method=False,
       function=False, name="pairwise_distance")
def _pairwise(x1, x2, p, eps, keepdim):
    return (x1, x2), (("p", float(p)), ("eps", float(eps)), ("keepdim", bool(keepdim)))


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False):
    """``||x1 - x2 + eps||_p`` over the last dim."""
    from .. import _dtypes

    if not (x1._dtype.is_floating_point or x1._dtype.is_complex):  # eps makes it floating, as in torch
        x1 = x1.to(_dtypes.get_default_dtype())
    if x1.dim() == 0 and x2.dim() == 0:
        return _pairwise(x1.reshape(1), x2.reshape(1), p, eps, keepdim).reshape(()) if not keepdim else \
            _pairwise(x1.reshape(1), x2.reshape(1), p, eps, keepdim)
    return _pairwise(x1, x2, p, eps, keepdim)


def _pdist_fwd(x, p):
    n = x.shape[0]
    i, j = np.triu_indices(n, 1)
    return _pnorm(x[i] - x[j], p)


@defop(_pdist_fwd, node="PdistBackward0", saves={0: (0, "result")}, method=False, function=False, name="pdist")
def _pdist(input, p):
    return (input,), (("p", float(p)),)


def pdist(input, p=2):
    """Distances between every pair of rows of a 2-D ``input`` (upper triangle, row-major)."""
    if input.dim() != 2:
        raise RuntimeError(f"pdist only supports 2D tensors, got: {input.dim()}D")
    if p < 0:
        raise RuntimeError("pdist only supports non-negative p values")
    return _pdist(input, p)


def _cdist_fwd(x1, x2, p):
    return _pnorm(x1[..., :, None, :] - x2[..., None, :, :], p)


@defop(_cdist_fwd, node="CdistBackward0", saves={0: (0, 1, "result"), 1: (0, 1, "result")}, promote=True,
       method=False, function=False, name="cdist")
def _cdist(x1, x2, p, node):
    return (x1, x2), (("p", float(p)),), node


def cdist(x1, x2, p=2.0, compute_mode="use_mm_for_euclid_dist_if_necessary"):
    """p-norm distances between the rows of ``x1`` (..., P, M) and ``x2`` (..., R, M)."""
    if x1.dim() < 2 or x2.dim() < 2:
        raise RuntimeError(f"cdist only supports at least 2D tensors, X1 got: {x1.dim()}D")
    if x1._shape[-1] != x2._shape[-1]:
        raise RuntimeError(f"X1 and X2 must have the same number of columns. X1: {x1._shape[-1]} "
                           f"X2: {x2._shape[-1]}")
    if p < 0:
        raise RuntimeError("cdist only supports non-negative p values")
    if compute_mode not in ("use_mm_for_euclid_dist_if_necessary", "use_mm_for_euclid_dist",
                            "donot_use_mm_for_euclid_dist"):
        raise ValueError(f"{compute_mode} is not a valid value for compute_mode")
    r1, r2 = x1._shape[-2], x2._shape[-2]
    empty = 0 in (r1, r2) or 0 in tuple(x1._shape[:-2]) or 0 in tuple(x2._shape[:-2])
    mm = not empty and p == 2 and (compute_mode == "use_mm_for_euclid_dist" or
                     (compute_mode == "use_mm_for_euclid_dist_if_necessary" and (r1 > 25 or r2 > 25)))
    out = _cdist(x1, x2, p, "EuclideanDistBackward0" if mm else "CdistBackward0")
    return out.view(*out._shape) if mm else out


# -- triplet -----------------------------------------------------------------------------------------------
@autocast_op("triplet_margin_loss")
def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2, eps=1e-6, swap=False, size_average=None,
                        reduce=None, reduction="mean"):
    """``max(d(a, p) - d(a, n) + margin, 0)`` with ``d`` the pairwise p-norm distance."""
    from .._ops.pointwise import minimum

    reduction = _red(reduction, size_average, reduce)
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    a, pd, nd = anchor.dim(), positive.dim(), negative.dim()
    if not (a == pd == nd):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {a}D, positive {pd}D, and negative {nd}D inputs")
    dpos = pairwise_distance(anchor, positive, p, eps)
    dneg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        dneg = minimum(dneg, pairwise_distance(positive, negative, p, eps))
    return _apply((margin + dpos - dneg).clamp_min(0), reduction)


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0, swap=False,
                                      reduction="mean"):
    """Triplet loss with a custom ``distance_function`` (default :func:`pairwise_distance`)."""
    from .._ops.pointwise import minimum

    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    if margin <= 0:
        raise ValueError(f"margin must be greater than 0, got {margin}")
    a, pd, nd = anchor.dim(), positive.dim(), negative.dim()
    if not (a == pd == nd):
        raise RuntimeError(f"The anchor, positive, and negative tensors are expected to have the same number of "
                           f"dimensions, but got: anchor {a}D, positive {pd}D, and negative {nd}D inputs")
    dist = distance_function if distance_function is not None else pairwise_distance
    dpos = dist(anchor, positive)
    dneg = dist(anchor, negative)
    if swap:
        dneg = minimum(dneg, dist(positive, negative))
    loss = (_scalar(margin, dpos) + dpos - dneg).clamp_min(0)
    return _apply(loss, reduction)


# -- CTC -----------------------------------------------------------------------------------------------------
def _ctc_fwd(lp, targets, in_len, tg_len, blank=0):
    # lp: (T, N, C) log-probabilities; targets: (N, S) padded; per-sample negative log likelihood
    T, N, C = lp.shape
    S = targets.shape[1]
    L = 2 * S + 1
    ext = jnp.full((N, L), blank, dtype=targets.dtype).at[:, 1::2].set(targets)
    neg_inf = jnp.asarray(-jnp.inf, lp.dtype)
    same = jnp.concatenate([jnp.ones((N, 2), bool), ext[:, 2:] == ext[:, :-2]], axis=1)
    lpe = jnp.take_along_axis(lp, jnp.broadcast_to(ext[None], (T, N, L)), axis=2)  # (T, N, L)
    pos = jnp.arange(L)
    alpha0 = jnp.where(pos[None] < 2, lpe[0], neg_inf)
    alpha0 = jnp.where((pos[None] == 1) & (tg_len[:, None] == 0), neg_inf, alpha0)

    def lse(*xs):
        m = xs[0]
        for x in xs[1:]:
            m = jnp.maximum(m, x)
        finite = jnp.isfinite(m)
        safe = jnp.where(finite, m, 0)
        s = jnp.where(finite, sum(jnp.exp(x - safe) for x in xs), 1)  # no log(0) even in the untaken branch
        return jnp.where(finite, safe + jnp.log(s), m)

    def step(alpha, inp):
        t, lpt = inp
        a1 = jnp.concatenate([jnp.full((N, 1), neg_inf), alpha[:, :-1]], axis=1)
        a2 = jnp.concatenate([jnp.full((N, 2), neg_inf), alpha[:, :-2]], axis=1)
        a2 = jnp.where(same, neg_inf, a2)
        new = lse(alpha, a1, a2) + lpt
        new = jnp.where((t < in_len)[:, None], new, alpha)
        return new, None

    alpha, _ = jax.lax.scan(step, alpha0, (jnp.arange(1, T), lpe[1:]))
    last = 2 * tg_len
    a_last = jnp.take_along_axis(alpha, last[:, None], axis=1)[:, 0]
    a_prev = jnp.where(tg_len > 0, jnp.take_along_axis(alpha, jnp.maximum(last - 1, 0)[:, None], axis=1)[:, 0],
                       neg_inf)
    return -lse(a_last, a_prev)


def _ctc_core(lp, targets, in_len, tg_len, blank):
    return _ctc_fwd(lp, targets, in_len, tg_len, blank)


_ctc_core = jax.custom_jvp(_ctc_core, nondiff_argnums=(4,))


@_ctc_core.defjvp
def _ctc_core_jvp(blank, primals, tangents):
    # torch's ctc_loss_backward returns exp(log_probs) - posterior (the gradient with respect to the
    # logits when log_probs come from log_softmax, through which the extra exp(log_probs) cancels);
    # the true derivative is -posterior. Add the exp(log_probs) term for the valid time steps.
    lp, targets, in_len, tg_len = primals
    t = tangents[0]
    out, dout = jax.jvp(lambda x: _ctc_fwd(x, targets, in_len, tg_len, blank), (lp,), (t,))
    valid = (jnp.arange(lp.shape[0])[:, None] < in_len[None, :])[..., None]
    extra = jnp.sum(jnp.where(valid, jnp.exp(lp) * t, 0), axis=(0, 2))
    return out, dout + extra


def _ctc_torch(lp, targets, in_len, tg_len, blank):
    return _ctc_core(lp, targets, in_len, tg_len, blank)


@defop(_ctc_torch, node="CtcLossBackward0", saves={0: (0,)}, method=False, function=False, name="ctc_loss")
def _ctc(log_probs, targets, input_lengths, target_lengths, blank):
    return (log_probs, Const(targets), Const(input_lengths), Const(target_lengths)), (("blank", int(blank)),)


def ctc_loss(log_probs, targets, input_lengths, target_lengths, blank=0, reduction="mean", zero_infinity=False):
    """Connectionist temporal classification loss of ``log_probs`` (T, N, C) against ``targets``."""
    from .._ops.creation import zeros_like
    from .._ops.pointwise import where
    from ..tensor import Tensor

    if reduction not in ("mean", "sum", "none"):
        raise ValueError(f"{reduction} is not a valid value for reduction")
    unbatched = log_probs.dim() == 2
    if unbatched:
        log_probs = log_probs.unsqueeze(1)
        targets = targets.unsqueeze(0) if targets.dim() == 1 else targets

    def host(v):
        if isinstance(v, Tensor):
            a = concrete(v._array())
            if a is None:
                raise NotImplementedError("ctc_loss: lengths must be concrete values (not traced)")
            return np.asarray(a, dtype=np.int64).reshape(-1)
        return np.asarray(v, dtype=np.int64).reshape(-1)

    il, tl = host(input_lengths), host(target_lengths)
    T, N = log_probs._shape[0], log_probs._shape[1]
    tg = np.asarray(concrete(targets._array()), dtype=np.int64)
    if tg.ndim == 1:  # concatenated targets
        offs = np.concatenate([[0], np.cumsum(tl)])
        S = int(tl.max()) if tl.size else 0
        padded = np.zeros((N, max(S, 1)), np.int64)
        for i in range(N):
            padded[i, :tl[i]] = tg[offs[i]:offs[i + 1]]
    else:
        padded = tg if tg.shape[1] else np.zeros((N, 1), np.int64)
    if (il > T).any():
        raise RuntimeError(f"Expected input_lengths to have value at most {T}, but got value {int(il.max())}")
    nll = _ctc(log_probs, padded, il, tl, blank)
    if zero_infinity:
        nll = where(nll == float("inf"), zeros_like(nll), nll)
    if reduction == "mean":
        lens = creation.tensor(np.maximum(tl, 1), dtype=nll.dtype, device=nll.device)
        return (nll / lens).mean()
    if reduction == "sum":
        return nll.sum()
    return nll.squeeze(0) if unbatched else nll
