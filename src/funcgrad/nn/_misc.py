"""The rest of ``torch.nn.functional``: dropout variants (funcgrad's random stream, torch's arithmetic),
``bilinear``, ``embedding_bag``, ``cosine_similarity`` (torch's composition) and ``linear_cross_entropy``."""
from __future__ import annotations

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from .._ops import creation
from .._ops.registry import ABSENT, Const, autocast_op, broadcast_shape, defop
from .._lazy import concrete
from ..autograd import grad_mode

__all__ = ["dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "feature_alpha_dropout", "bilinear",
           "embedding_bag", "cosine_similarity", "linear_cross_entropy"]

_ALPHA = 1.7580993408473766


def _check_p(p):
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _dropout_impl(input, p, train, inplace, feature, alpha):
    """torch's ``_dropout_impl``: noise drawn per element (or per channel), scaled as torch scales it."""
    if p == 0 or not train or input.numel() == 0:
        return input
    if p == 1:
        out = input * creation.zeros((), dtype=input.dtype, device=input.device)
        return input._inplace_assign(out) if inplace else out
    with grad_mode.no_grad():
        shape = tuple(input._shape[:2]) + (1,) * (input.dim() - 2) if feature else tuple(input._shape)
        noise = (creation.rand(shape, dtype=input.dtype, device=input.device) < 1 - p).to(input.dtype)
        if alpha:
            a = 1.0 / math.sqrt((_ALPHA * _ALPHA * p + 1) * (1 - p))
            b = (noise - 1) * (_ALPHA * a) + _ALPHA * a * p
            noise = noise * a
        else:
            noise = noise / (1 - p)
    out = input * noise
    if alpha:
        out = out + b
    return input._inplace_assign(out) if inplace else out


def _feature(input, p, training, inplace, alpha, ndim, name):
    _check_p(p)
    d = input.dim()
    if d not in (ndim, ndim + 1):
        if name == "dropout2d":
            warnings.warn(f"dropout2d: Received a {d}-D input to dropout2d, which is deprecated and will result in "
                          "an error in a future release. To retain the behavior and silence this warning, please "
                          "use dropout instead. Note that dropout2d exists to provide channel-wise dropout on inputs "
                          "with 2 spatial dimensions, a channel dimension, and an optional batch dimension (i.e. 3D "
                          "or 4D inputs).", UserWarning, stacklevel=3)
        else:
            raise RuntimeError(f"{name}: Expected {ndim}D or {ndim + 1}D input, but received a {d}D input. Note that "
                               f"{name} exists to provide channel-wise dropout on inputs with {ndim - 1} spatial "
                               f"dimension(s), a channel dimension, and an optional batch dimension (i.e. {ndim}D or "
                               f"{ndim + 1}D inputs).")
    if name == "dropout2d" and d == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel dim. "
                      "This behavior will change in a future release to interpret the input as one without a batch "
                      "dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout behavior, please "
                      "switch to using dropout1d instead.", UserWarning, stacklevel=3)
        return _dropout_impl(input, p, training, inplace, True, alpha)
    unbatched = d == ndim
    if unbatched:
        x = input.unsqueeze(0)
        out = _dropout_impl(x, p, training, False, True, alpha).squeeze(0)
        return input._inplace_assign(out) if inplace and out is not input else out
    return _dropout_impl(input, p, training, inplace, True, alpha)


def dropout1d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, L) or (C, L) input with probability ``p``."""
    return _feature(input, p, training, inplace, False, 2, "dropout1d")


def dropout2d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, H, W) or (C, H, W) input with probability ``p``."""
    return _feature(input, p, training, inplace, False, 3, "dropout2d")


def dropout3d(input, p=0.5, training=True, inplace=False):
    """Zero whole channels of (N, C, D, H, W) or (C, D, H, W) input with probability ``p``."""
    return _feature(input, p, training, inplace, False, 4, "dropout3d")


def alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Dropout that keeps SELU's self-normalising mean and variance."""
    _check_p(p)
    return _dropout_impl(input, p, training, inplace, False, True)


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False):
    """Alpha dropout of whole channels."""
    _check_p(p)
    return _dropout_impl(input, p, training, inplace, True, True)


# -- bilinear ------------------------------------------------------------------------------------------------
@defop(lambda a, w, b: jnp.einsum("bi,oij,bj->bo", a, w, b), node="TrilinearBackward0",
       saves={0: (1, 2), 1: (0, 2), 2: (0, 1)}, promote=True, method=False, function=False, name="bilinear")
def _trilinear(x1, weight, x2):
    return (x1, weight, x2), ()


@autocast_op("bilinear")
def bilinear(input1, input2, weight, bias=None):
    """``x1^T A x2 + b`` over the last dims (leading dims are batch dims)."""
    if input1.dim() != input2.dim():
        raise RuntimeError(f"bilinear(): input dimensions do not match: got {input1.dim()} and {input2.dim()}")
    if input1._shape[:-1] != input2._shape[:-1]:
        raise RuntimeError(f"bilinear(): input batch dimensions do not match: got {list(input1._shape[:-1])} and "
                           f"{list(input2._shape[:-1])}")
    if input1._shape[-1] != weight._shape[1]:
        raise RuntimeError(f"bilinear(): input1 size does not match weight size: got {input1._shape[-1]} but "
                           f"expected {weight._shape[1]}")
    if input2._shape[-1] != weight._shape[2]:
        raise RuntimeError(f"bilinear(): input2 size does not match weight size: got {input2._shape[-1]} but "
                           f"expected {weight._shape[2]}")
    lead = tuple(input1._shape[:-1])
    out = _trilinear(input1.reshape(-1, input1._shape[-1]), weight, input2.reshape(-1, input2._shape[-1]))
    out = out.view(*lead, weight._shape[0])
    return out + bias if bias is not None else out


# -- embedding_bag ---------------------------------------------------------------------------------------------
def _bag_fwd(w, idx, seg, *psw, mode, nbags, keep, has_psw):
    rows = jnp.take(w, idx, axis=0)
    keep = jnp.asarray(keep)
    if has_psw:
        rows = rows * psw[0][:, None]
    if mode == "max":
        rows = jnp.where(keep[:, None], rows, -jnp.inf)
        out = jax.ops.segment_max(rows, seg, nbags)
        return jnp.where(jnp.isneginf(out), 0, out).astype(w.dtype)
    rows = jnp.where(keep[:, None], rows, 0)
    out = jax.ops.segment_sum(rows, seg, nbags)
    if mode == "mean":
        cnt = jax.ops.segment_sum(keep.astype(w.dtype), seg, nbags)
        out = out / jnp.maximum(cnt, 1)[:, None]
    return out


@defop(_bag_fwd, node="EmbeddingBagBackward0", saves={0: (1, 2, 3), 3: (0, 1, 2, 3)}, method=False, function=False,
       name="embedding_bag")
def _bag(weight, idx, seg, psw, mode, nbags, keep):
    return (weight, Const(idx), Const(seg), ABSENT if psw is None else psw), \
        (("mode", mode), ("nbags", int(nbags)), ("keep", keep), ("has_psw", psw is not None))


def embedding_bag(input, weight, offsets=None, max_norm=None, norm_type=2, scale_grad_by_freq=False, mode="mean",
                  sparse=False, per_sample_weights=None, include_last_offset=False, padding_idx=None):
    """Sums, means or maxes of bags of embedding rows (bags given by 2-D ``input`` rows or by ``offsets``)."""
    if max_norm is not None:
        raise NotImplementedError("embedding_bag: max_norm is not supported by funcgrad")
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"mode has to be one of sum, mean or max")
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only "
                                      f"supported for mode='sum' (got mode='{mode}'). Please open a feature request "
                                      f"on GitHub.")
        if tuple(per_sample_weights._shape) != tuple(input._shape):
            raise ValueError(f"embedding_bag: If per_sample_weights ({tuple(per_sample_weights._shape)}) is not None, "
                             f"then it must have the same shape as the input ({tuple(input._shape)})")
    idx = np.asarray(concrete(input._array()))
    if idx is None:
        raise NotImplementedError("embedding_bag: indices must be concrete values (not traced)")
    n = weight._shape[0]
    if padding_idx is not None and padding_idx < 0:
        padding_idx += n
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError("if input is 2D, then offsets has to be None, as input is treated is a mini-batch of "
                             "fixed length sequences.")
        nbags, length = idx.shape
        seg = np.repeat(np.arange(nbags), length)
        flat = idx.reshape(-1)
        psw = per_sample_weights.reshape(-1) if per_sample_weights is not None else None
    elif input.dim() == 1:
        if offsets is None:
            raise ValueError("offsets has to be a 1D Tensor but got None")
        off = np.asarray(concrete(offsets._array()), dtype=np.int64).reshape(-1)
        flat = idx
        if include_last_offset:
            starts, nbags = off[:-1], len(off) - 1
        else:
            starts, nbags = off, len(off)
        seg = np.searchsorted(starts, np.arange(len(flat)), side="right") - 1 if len(flat) else np.zeros(0, np.int64)
        seg = np.clip(seg, 0, max(nbags - 1, 0))
        psw = per_sample_weights
    else:
        raise ValueError(f"input has to be 1D or 2D Tensor, but got Tensor of dimension {input.dim()}")
    if flat.size and (flat.max() >= n or flat.min() < 0):
        raise IndexError("index out of range in self")
    keep = tuple(bool(k) for k in (flat != padding_idx)) if padding_idx is not None else tuple([True] * flat.size)
    return _bag(weight, flat.astype(np.int64), seg.astype(np.int64), psw, mode, nbags, keep)


# -- cosine similarity ----------------------------------------------------------------------------------------------
@autocast_op("cosine_similarity")
def cosine_similarity(x1, x2, dim=1, eps=1e-8):
    """``sum(x1/|x1| * x2/|x2|)`` along ``dim``, each norm clamped at ``eps`` (torch's composition)."""
    from .._ops.views import broadcast_to
    from ..tensor import _wrap_dim

    if x1._shape != x2._shape:
        shape = broadcast_shape(tuple(x1._shape), tuple(x2._shape))
        x1 = x1.expand(*shape) if x1._shape != shape else x1
        x2 = x2.expand(*shape) if x2._shape != shape else x2
    del broadcast_to
    d = _wrap_dim(dim, x1.dim())
    n1 = x1.norm(2, d, keepdim=True).clone()
    n2 = x2.norm(2, d, keepdim=True).clone()
    with grad_mode.no_grad():
        n1.clamp_min_(eps)
        n2.clamp_min_(eps)
    return ((x1 / n1) * (x2 / n2)).sum(d)


def linear_cross_entropy(input, linear_weight, target, *, linear_bias=None, weight=None, reduction="mean",
                         ignore_index=None, label_smoothing=0.0, options=None):
    """``cross_entropy(linear(input, linear_weight, linear_bias), target, ...)``; a weight of shape
    (C, d1, ..., dK, in) gives K-dimensional logits. ``options`` (torch's chunked path) computes the same
    loss unchunked here: XLA fuses the whole program anyway."""
    from . import functional as F

    if input.dim() < 1 or input.dim() > 2:
        raise RuntimeError(f"expected input with dimensionality 1 or 2, got {input.dim()}")
    if linear_weight.dim() < 2:
        raise RuntimeError(f"expected linear_weight with dimensionality at least 2, got {linear_weight.dim()}")
    num_batches = tuple(input._shape[:-1])
    in_features = input._shape[-1]
    if in_features != linear_weight._shape[-1]:
        raise RuntimeError("expected equal input and linear_weight last dimensions (in_features), "
                           f"got {in_features} and {linear_weight._shape[-1]}, respectively")
    num_classes = linear_weight._shape[0]
    out_features = tuple(linear_weight._shape[1:-1])
    if linear_bias is not None and tuple(linear_bias._shape) != (num_classes, *out_features):
        raise RuntimeError(f"expected linear_bias shape {(num_classes, *out_features)}, got "
                           f"{tuple(linear_bias._shape)}")
    if out_features and not num_batches:
        raise RuntimeError(f"K-dimensional loss defined by linear_weight shape {tuple(linear_weight._shape)} requires"
                           f" batched input, (N, {in_features}), got unbatched input with shape "
                           f"{tuple(input._shape)}")
    logits_shape = (*num_batches, num_classes, *out_features)
    if tuple(target._shape) == logits_shape and ignore_index is not None:
        raise RuntimeError("ignore_index cannot be specified when target contains probabilities")
    ignore_index = ignore_index if ignore_index is not None else -100
    if out_features:
        k = math.prod(out_features) * num_classes
        linear_weight = linear_weight.reshape(k, in_features)
        if linear_bias is not None:
            linear_bias = linear_bias.reshape(k)
    logits = F.linear(input, linear_weight, linear_bias).reshape(logits_shape)
    return F.cross_entropy(logits, target, weight=weight, reduction=reduction, ignore_index=ignore_index,
                           label_smoothing=label_smoothing)


def _torch_level():
    """The ``torch.*`` (and ``Tensor``) spellings of functional ops whose signature is the same there."""
    from .._ops.registry import public
    from . import functional as F

    def softmax(input, dim, dtype=None):
        return F.softmax(input, dim, dtype=dtype)

    def log_softmax(input, dim, dtype=None):
        return F.log_softmax(input, dim, dtype=dtype)

    def dropout(input, p, train):
        return F.dropout(input, p, train)

    def alpha_dropout(input, p, train):
        return F.alpha_dropout(input, p, train)

    def feature_alpha_dropout(input, p, train):
        return F.feature_alpha_dropout(input, p, train)

    def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5, cudnn_enable=True):
        return F.layer_norm(input, normalized_shape, weight, bias, eps)

    def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5, cudnn_enabled=True):
        return F.group_norm(input, num_groups, weight, bias, eps)

    for fn in (softmax, log_softmax, dropout, alpha_dropout, feature_alpha_dropout, layer_norm, group_norm):
        public(fn)
    public(F.cdist, name="cdist")
    public(F.pdist, name="pdist")
    public(F.cosine_similarity, name="cosine_similarity")
    public(F.pairwise_distance, name="pairwise_distance")
    public(F.bilinear, name="bilinear")
    public(F.rms_norm, name="rms_norm")
    public(F.celu, name="celu")
    public(F.selu, name="selu")
    public(F.rrelu, name="rrelu")
    public(F.threshold, name="threshold")
    public(F.celu_, name="celu_")
    public(F.selu_, name="selu_")
    public(F.rrelu_, name="rrelu_")
    public(F.threshold_, name="threshold_")
    public(F.prelu, name="prelu", method=True)
    public(F.hardshrink, name="hardshrink", method=True)
