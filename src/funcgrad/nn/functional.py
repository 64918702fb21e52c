"""``funcgrad.nn.functional``: activations, layers and losses, each a registry op or a composition
built the way torch builds it (so ``grad_fn`` names and ``next_functions`` match torch's)."""
from __future__ import annotations

import functools
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from .. import _dtypes
from .._ops import creation, linalg, pointwise, views
from .._ops.pointwise import _leaky_relu, sigmoid, tanh  # noqa: F401 - re-exported
from .._ops.pointwise import relu as _relu
from .._ops.reduction import _log_softmax, _softmax, _softmax_dim, log_softmax, softmax  # noqa: F401 - re-exported
from .._ops.registry import ABSENT, Const, autocast_op, defop, dispatch, upcast_half
from .._lazy import Lazy, concrete
from ..autograd import grad_mode
from .._ops import registry as _registry
from ..tensor import Tensor
from .parameter import Parameter

_registry._FAST_TYPES.add(Parameter)  # a Parameter takes the ops' fast paths as a plain Tensor does
from ._spatial import *  # noqa: F401,F403 - convolution, pooling, padding, resampling
from ._spatial import __all__ as _spatial_all

__all__ = ["linear", "relu", "relu6", "sigmoid", "tanh", "leaky_relu", "gelu", "elu", "silu", "softplus", "hardtanh",
           "softmax", "log_softmax", "dropout", "layer_norm", "batch_norm", "embedding", "mse_loss",
           "l1_loss", "nll_loss", "cross_entropy", "binary_cross_entropy",
           "binary_cross_entropy_with_logits", "huber_loss", "smooth_l1_loss", "kl_div", "one_hot",
           "normalize", "cosine_similarity"]

__all__ += [n for n in _spatial_all if not n.startswith("_")]

_REDUCTIONS = ("none", "mean", "sum")


def _reduce(x, reduction):
    if reduction == "mean":
        return jnp.mean(x)
    if reduction == "sum":
        return jnp.sum(x)
    return x


def _reduction(reduction, size_average=None, reduce=None):
    if reduction == "batchmean":
        return reduction
    if size_average is not None or reduce is not None:
        size_average = True if size_average is None else size_average
        reduce = True if reduce is None else reduce
        reduction = "none" if not reduce else ("mean" if size_average else "sum")
        warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{reduction}' instead.",
                      UserWarning, stacklevel=3)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _same_shape(input, target, name):
    if target.shape != input.shape:
        warnings.warn(
            f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). This will "
            "likely lead to incorrect results due to broadcasting. Please ensure they have the same size.",
            UserWarning, stacklevel=3)


# -- linear -------------------------------------------------------------------------------------------
@autocast_op("linear")
def linear(input, weight, bias=None):
    """``input @ weight.T + bias``, built as torch builds it (addmm for 2-D input, node names as torch's)."""
    if not input._shape or not weight._shape:
        raise RuntimeError(f"both arguments to linear need to be at least 1D, but they are {input.dim()}D and "
                           f"{weight.dim()}D")
    if input._dtype is not weight._dtype:
        if bias is not None:
            raise RuntimeError(f"mat1 and mat2 must have the same dtype, but got {_dtypes.scalar_type_name(input._dtype)}"
                               f" and {_dtypes.scalar_type_name(weight._dtype)}")
        raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {_dtypes.ctype_name(input._dtype)} "
                           f"!= {_dtypes.ctype_name(weight._dtype)}")
    if bias is not None and bias._dtype is not weight._dtype:
        raise RuntimeError(f"self and mat2 must have the same dtype, but got {_dtypes.scalar_type_name(bias._dtype)}"
                           f" and {_dtypes.scalar_type_name(weight._dtype)}")
    # views.t/view, linalg.addmm/mm directly: their fast paths (Parameters and views included)
    nd = len(input._shape)
    if nd == 2 and bias is not None:
        return linalg.addmm(bias, input, views.t(weight))
    if nd == 2:
        return linalg.mm(input, views.t(weight))
    out_f = weight._shape[0] if weight._shape else 1
    if nd == 1 and bias is None:
        out = input.unsqueeze(0).mm(weight.t())
        return dispatch(views.squeeze.op, (out,), (("shape", tuple(out._shape[1:])),), "SqueezeBackward4")
    lead = input._shape[:-1]
    # a tensor that is not a view is contiguous: its reshape is a view
    contiguous = input._view is None or input.is_contiguous()
    flat = views.view(input, (-1, input._shape[-1])) if contiguous else input.reshape(-1, input._shape[-1])
    if bias is not None and contiguous:
        return views.view(linalg.addmm(bias, flat, views.t(weight)), tuple(lead) + (out_f,))
    out = views._unsafe_view(linalg.mm(flat, views.t(weight)), tuple(lead) + (out_f,))
    if bias is not None:  # torch: matmul, then add_ (its AddBackward0, version 1)
        out.add_(bias)
    return out


# -- activations ----------------------------------------------------------------------------------------
def _act(name, fwd, node, doc):
    def binder(input):
        return (input,), ()

    binder.__name__ = name
    binder.__doc__ = doc
    return defop(fwd, node=node, saves={0: (0,)}, method=False, function=False, name="nn_" + name)(binder)


_SQRT1_2 = 0.7071067811865476  # torch's kAlpha (M_SQRT1_2)
_INV_SQRT_2PI = 0.3989422804014327  # torch's kBeta (M_2_SQRTPI * M_SQRT1_2 * 0.5)


@jax.custom_jvp
def _gelu_erf(x):
    # torch's formula (x * 0.5 * (1 + erf(x / sqrt 2))), not jax.nn.gelu's erfc: one erf, no exp, cheaper
    # on CPU; the derivative is torch's GeluBackward formula, cdf + x * pdf
    return x * 0.5 * (1 + jax.lax.erf(x * _SQRT1_2))


@_gelu_erf.defjvp
def _gelu_erf_jvp(primals, tangents):
    (x,), (tx,) = primals, tangents
    cdf = 0.5 * (1 + jax.lax.erf(x * _SQRT1_2))
    pdf = jnp.exp(x * x * -0.5) * _INV_SQRT_2PI
    return x * cdf, (cdf + x * pdf) * tx


_gelu = {
    "none": _act("gelu", upcast_half(_gelu_erf), "GeluBackward0", "GELU (exact, erf)."),
    "tanh": _act("gelu_tanh", lambda x: jax.nn.gelu(x, approximate=True), "GeluBackward0", "GELU, tanh approximation."),
}
_silu = _act("silu", jax.nn.silu, "SiluBackward0", "x * sigmoid(x).")
_mish = _act("mish", lambda x: x * jnp.tanh(jax.nn.softplus(x)), "MishBackward0", "x * tanh(softplus(x)).")


def gelu(input, approximate="none"):
    if approximate not in _gelu:
        raise RuntimeError("approximate argument must be either none or tanh.")
    return _gelu[approximate](input)


def silu(input, inplace=False):
    out = _silu(input)
    return input._inplace_assign(out) if inplace else out


def mish(input, inplace=False):
    out = _mish(input)
    return input._inplace_assign(out) if inplace else out


def leaky_relu(input, negative_slope=0.01, inplace=False):
    if inplace:  # torch's in-place node is LeakyReluBackward1
        return input._inplace_assign(dispatch(_leaky_relu.op, (input,), (("negative_slope", float(negative_slope)),),
                                              "LeakyReluBackward1"))
    return _leaky_relu(input, negative_slope)


@defop(lambda x, lo, hi: jnp.where(x <= lo, lo, jnp.where(x >= hi, hi, x)).astype(x.dtype), node="HardtanhBackward0",
       saves={0: (0,)}, method=False,
       function=False, name="hardtanh")
def _hardtanh(input, min_val, max_val):
    return (input,), (("lo", float(min_val)), ("hi", float(max_val)))


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    if min_val > max_val:
        raise ValueError("min_val cannot be greater than max_val")
    out = _hardtanh(input, min_val, max_val)
    return input._inplace_assign(out) if inplace else out


def relu(input, inplace=False):
    """``max(input, 0)``; ``inplace`` writes it into ``input`` (torch's ``relu_``)."""
    return input._inplace_assign(_relu(input)) if inplace else _relu(input)


def relu6(input, inplace=False):
    return hardtanh(input, 0.0, 6.0, inplace)


def dropout(input, p=0.5, training=True, inplace=False):
    """Zero elements with probability ``p`` and scale the rest by ``1/(1-p)`` (identity when not training)."""
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
    if not training or p == 0.0:
        return input
    with grad_mode.no_grad():
        if p == 1.0:
            mask = creation.zeros_like(input)
        else:
            mask = (creation.rand(input._shape, dtype=input.dtype, device=input.device) >= p).to(input.dtype) \
                / (1.0 - p)
    out = input * mask
    return input._inplace_assign(out) if inplace else out


# -- normalisation --------------------------------------------------------------------------------------
def _normalized(x, axes, eps):
    mean = jnp.mean(x, axis=axes, keepdims=True)
    var = jnp.mean(jnp.square(x - mean), axis=axes, keepdims=True)
    rstd = jax.lax.rsqrt(var + eps)
    return (x - mean) * rstd, rstd


@functools.partial(jax.custom_jvp, nondiff_argnums=(0, 1, 2))
def _layer_norm_core(axes, eps, has_w, x, *wb):
    y = _normalized(x, axes, eps)[0]
    wb = list(wb)
    if has_w:
        y = y * wb.pop(0)
    if wb:
        y = y + wb.pop(0)
    return y.astype(x.dtype)  # torch keeps the input's type with float32 weights (autocast on CPU)


@functools.partial(_layer_norm_core.defjvp, symbolic_zeros=True)
def _layer_norm_jvp(axes, eps, has_w, primals, tangents):
    # torch's NativeLayerNormBackward formula, written as the (linear) tangent map JAX transposes:
    # d xhat = rstd * (dx - mean(dx) - xhat * mean(dx * xhat)); dy = d xhat * w + xhat * dw + db.
    # Its transpose is torch's backward, fewer passes than the vjp of the mean/var/rsqrt forward
    x, *wb = primals
    dx, *dwb = tangents
    zero = jax.custom_derivatives.SymbolicZero
    xhat, rstd = _normalized(x, axes, eps)
    w = wb[0] if has_w else None
    y = xhat * w if has_w else xhat
    if len(wb) > has_w:
        y = y + wb[-1]
    dy = None
    if type(dx) is not zero:
        dy = rstd * (dx - jnp.mean(dx, axis=axes, keepdims=True)
                     - xhat * jnp.mean(dx * xhat, axis=axes, keepdims=True))
        if has_w:
            dy = dy * w
    if has_w and type(dwb[0]) is not zero:
        t = xhat * dwb[0]
        dy = t if dy is None else dy + t
    if len(wb) > has_w and type(dwb[-1]) is not zero:
        dy = jnp.broadcast_to(dwb[-1], y.shape) if dy is None else dy + dwb[-1]
    out = y.astype(x.dtype)
    return out, jnp.zeros_like(out) if dy is None else dy.astype(x.dtype)


def _layer_norm_fwd(x, *wb, axes, eps, has_w, has_b):
    return _layer_norm_core(axes, eps, has_w, x, *wb)


@defop(upcast_half(_layer_norm_fwd), node="NativeLayerNormBackward0", method=False, function=False, name="layer_norm")
def _layer_norm(input, normalized_shape, weight, bias, eps):
    n = len(normalized_shape)
    if tuple(input._shape[-n:]) != tuple(normalized_shape):
        raise RuntimeError(f"Given normalized_shape={list(normalized_shape)}, expected input with shape "
                           f"[*, {', '.join(map(str, normalized_shape))}], but got input of size{list(input._shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t._shape) != tuple(normalized_shape):
            raise RuntimeError(f"Expected {name} to be of same shape as normalized_shape, but got {name} of shape "
                               f"{list(t._shape)} and normalized_shape = {list(normalized_shape)}")
    axes = tuple(range(input.dim() - n, input.dim()))
    return (input, ABSENT if weight is None else weight, ABSENT if bias is None else bias), \
        (("axes", axes), ("eps", float(eps)), ("has_w", weight is not None), ("has_b", bias is not None))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):
    """Normalise over the last ``len(normalized_shape)`` dims, then scale and shift."""
    if isinstance(normalized_shape, int):
        normalized_shape = (normalized_shape,)
    return _layer_norm(input, tuple(normalized_shape), weight, bias, eps)


def _bn_fwd(x, *rest, axes, eps, training, has_w, has_b):
    rest = list(rest)
    if training:
        mean = jnp.mean(x, axis=axes, keepdims=True)
        var = jnp.mean(jnp.square(x - mean), axis=axes, keepdims=True)
    else:
        shape = [1] * x.ndim
        shape[1] = x.shape[1]
        mean = rest.pop(0).reshape(shape)
        var = rest.pop(0).reshape(shape)
    y = (x - mean) * jax.lax.rsqrt(var + eps)
    shape = [1] * x.ndim
    shape[1] = x.shape[1]
    if has_w:
        y = y * rest.pop(0).reshape(shape)
    if has_b:
        y = y + rest.pop(0).reshape(shape)
    return y.astype(x.dtype)  # torch keeps the input's type with float32 parameters


@defop(upcast_half(_bn_fwd), node="NativeBatchNormBackward0", method=False, function=False, name="batch_norm")
def _batch_norm(input, running, weight, bias, eps, training):
    axes = (0,) + tuple(range(2, input.dim()))
    stats = () if training else tuple(Const(r._array()) for r in running)
    return (input, *stats, ABSENT if weight is None else weight, ABSENT if bias is None else bias), \
        (("axes", axes), ("eps", float(eps)), ("training", bool(training)), ("has_w", weight is not None),
         ("has_b", bias is not None))


def _check_channel_params(c, running_mean, running_var, weight, bias, times=1):
    """torch's "running_mean should contain 2 elements not 3" (before any shape reaches JAX)."""
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        if t is not None and t.numel() != c:
            raise RuntimeError(f"{name} should contain {c * times} elements not {t.numel() * times}")


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5):
    """Batch normalisation; in training the running statistics are updated in place (unbiased variance)."""
    if input.numel() == 0:
        # torch: a clone (not a view, not a fresh empty tensor), scaled and shifted by the first channel's affine
        out = input.clone()
        if weight is not None:
            out = out * weight[0]
        if bias is not None:
            out = out + bias[0]
        return out
    if input.dim() < 2:
        raise ValueError(f"expected 2D or 3D input (got {input.dim()}D input)")
    _check_channel_params(input._shape[1], running_mean, running_var, weight, bias)
    if not training:
        for name, t in (("running_mean", running_mean), ("running_var", running_var)):
            if t is None:
                raise RuntimeError(f"{name} must be defined in evaluation mode")
    n = input.numel() // input._shape[1]
    if training and n <= 1:
        raise ValueError(f"Expected more than 1 value per channel when training, got input size {input.shape}")
    use_batch = training or running_mean is None
    out = _batch_norm(input, (running_mean, running_var), weight, bias, eps, use_batch)
    if training and running_mean is not None:
        with grad_mode.no_grad():
            axes = (0,) + tuple(range(2, input.dim()))
            x = input.detach()
            mean = x.mean(axes)
            var = x.var(axes, unbiased=True) if n > 1 else x.var(axes, unbiased=False)
            running_mean.mul_(1 - momentum).add_(mean * momentum)
            running_var.mul_(1 - momentum).add_(var * momentum)
    return out


_reshaped: dict = {}
_VIEW_PRIM = views.view.op.prim


def _index_array(t):
    """The concrete array of an index tensor (class targets), without flushing the tape when it is
    a reshape of computed data (``y.reshape(-1)`` of a language model's targets): the pending
    forward then fuses with its backward and update instead of running as a program of its own."""
    chain = t._view
    if chain is not None:
        base = t._st.value
        if type(base) is Lazy:
            base = base.value
        if base is not None and all(prim is _VIEW_PRIM for prim, _ in chain):
            if isinstance(base, jax.core.Tracer):
                return jnp.reshape(base, t._shape)
            key = (id(base), t._shape)
            hit = _reshaped.get(key)
            if hit is not None and hit[0] is base:
                return hit[1]
            if len(_reshaped) > 16:
                _reshaped.clear()
            out = jnp.reshape(base, t._shape)
            _reshaped[key] = (base, out)
            return out
    return t._array()


_in_bounds: dict = {}


def _in_range_once(arr, key, error):
    """Raise ``error(host array)`` (an exception, or None when in range) for index array ``arr``; an
    array found in range is remembered by identity under ``key`` (the bounds), so a training loop's
    fixed indices are read from the device once, not every step. Skipped while traced."""
    key = (id(arr),) + key
    if _in_bounds.get(key) is arr:
        return
    host = concrete(arr)
    if host is None:
        return
    err = error(host)
    if err is not None:
        raise err
    if len(_in_bounds) > 16:
        _in_bounds.clear()
    _in_bounds[key] = arr


def _check_bounds(arr, n_cls, ignore_index):
    """torch's ``Target k is out of bounds.`` for class targets ``arr``."""
    def error(t):
        bad = t[(t != ignore_index) & ((t < 0) | (t >= n_cls))]
        return IndexError(f"Target {int(bad.flat[0])} is out of bounds.") if len(bad) else None

    _in_range_once(arr, (n_cls, ignore_index), error)


def _embedding_fwd(w, idx, padding_idx):
    out = jnp.take(w, idx, axis=0)
    if padding_idx is not None:
        out = jnp.where((idx == padding_idx)[..., None], jax.lax.stop_gradient(out), out)
    return out


@defop(_embedding_fwd, node="EmbeddingBackward0", saves={0: (1,)}, method=False, function=False, name="embedding")
def _embedding(weight, indices, padding_idx):
    return (weight, Const(indices)), (("padding_idx", padding_idx),)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False,
              sparse=False):
    """Rows of ``weight`` at the integer ``input`` indices."""
    if input._dtype not in (_dtypes.int64, _dtypes.int32):
        raise RuntimeError("Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, "
                           f"Int; but got {input.type()} instead (while checking arguments for embedding)")
    if weight.dim() != 2:
        raise RuntimeError("'weight' must be 2-D")
    if padding_idx is not None:
        if not -weight._shape[0] <= padding_idx < weight._shape[0]:
            raise AssertionError("Padding_idx must be within num_embeddings")
        if padding_idx < 0:
            padding_idx += weight._shape[0]
    idx = _index_array(input)
    n = weight._shape[0]
    _in_range_once(idx, (n, None), lambda h: IndexError("index out of range in self")
                   if h.size and (h.max() >= n or h.min() < 0) else None)
    if padding_idx is not None and padding_idx < 0:
        padding_idx += n
    return _embedding(weight, idx, padding_idx)


# -- losses ---------------------------------------------------------------------------------------------
def _mse_fwd(x, y, reduction):
    return _reduce(jnp.square(x - y), reduction)


@defop(_mse_fwd, node="MseLossBackward0", saves={0: (0, 1), 1: (0, 1)}, promote=True, method=False, function=False,
       name="mse_loss", fast="static")
def _mse(input, target, reduction):
    return (input, target), (("reduction", reduction),)


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean squared error."""
    if size_average is not None or reduce is not None or reduction not in _REDUCTIONS:
        reduction = _reduction(reduction, size_average, reduce)
    if type(target) is not Tensor or type(input) is not Tensor or target._shape != input._shape:
        _same_shape(input, target, "mse_loss")
    return _mse(input, target, reduction)


@autocast_op("l1_loss")
def l1_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None):
    """Mean absolute error (torch composes it: ``(input - target).abs().mean()``)."""
    reduction = _reduction(reduction, size_average, reduce)
    _same_shape(input, target, "l1_loss")
    d = (input - target).abs()
    return d.mean() if reduction == "mean" else d.sum() if reduction == "sum" else d


def _nll_fwd(x, t, *w, reduction, ignore_index, has_w):
    # x: (N, C, ...) or (C,) log-probabilities; t: (N, ...) or () class indices
    if x.ndim == 1:
        out = _nll_fwd(x[None], t[None], *w, reduction=reduction, ignore_index=ignore_index, has_w=has_w)
        return out[0] if reduction == "none" else out
    safe = jnp.where(t == ignore_index, 0, t)
    picked = jnp.take_along_axis(x, jnp.expand_dims(safe, 1), axis=1).squeeze(1)
    wt = w[0][safe] if has_w else jnp.ones_like(picked)
    wt = jnp.where(t == ignore_index, 0, wt).astype(x.dtype)
    loss = -picked * wt
    if reduction == "mean":
        # every target ignored: torch's value is 0/0 = NaN but its gradient is 0 (no NaN from 0/0 here)
        total = jnp.sum(wt)
        empty = total == 0
        return jnp.where(empty, jnp.nan, jnp.sum(loss) / jnp.where(empty, 1, total)).astype(x.dtype)
    if reduction == "sum":
        return jnp.sum(loss)
    return loss


@defop(_nll_fwd, node="NllLossBackward0", saves={0: (1,)}, method=False, function=False, name="nll_loss")
def _nll(input, target, weight, reduction, ignore_index):
    ins = (input, Const(_index_array(target))) + ((Const(weight._array()),) if weight is not None else ())
    return ins, (("reduction", reduction), ("ignore_index", int(ignore_index)), ("has_w", weight is not None)), \
        "NllLoss2DBackward0" if input.dim() == 4 else "NllLossBackward0"


def _check_targets(input, target):
    # torch's order: batch size, target dims, then the target's dtype
    n_cls = input._shape[1] if input.dim() > 1 else input._shape[0]
    exp = (input._shape[0],) + input._shape[2:] if input.dim() > 1 else ()
    bad_shape = tuple(target._shape) != exp
    if bad_shape and input.dim() > 1 and target.dim() >= 1 and target._shape[0] != input._shape[0]:
        raise ValueError(f"Expected input batch_size ({input._shape[0]}) to match target batch_size "
                         f"({target._shape[0]}).")
    if bad_shape and input.dim() <= 2 and target.dim() > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if target._dtype.is_floating_point:
        from .._tensor_methods import _dt_name

        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {_dt_name(target._dtype)}")
    if bad_shape:
        raise RuntimeError(f"Expected target size {list(exp)}, got {list(target._shape)}")
    return n_cls


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean"):
    """Negative log-likelihood of class indices ``target`` under log-probabilities ``input``."""
    reduction = _reduction(reduction, size_average, reduce)
    n_cls = _check_targets(input, target)
    _check_bounds(_index_array(target), n_cls, ignore_index)
    if input.dim() == 3 or input.dim() > 4:
        # torch folds the spatial dims into (N, C, 1, -1) and calls nll_loss2d
        n, c = input._shape[0], input._shape[1]
        tshape = tuple(target._shape)
        out = _nll(input.contiguous().view(n, c, 1, -1) if hasattr(input, "contiguous") else input.view(n, c, 1, -1),
                   target.view(n, 1, -1), weight, reduction, ignore_index)
        return out.view(*tshape) if reduction == "none" else out
    return _nll(input, target, weight, reduction, ignore_index)


@autocast_op("cross_entropy_loss")
def cross_entropy(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean",
                  label_smoothing=0.0):
    """Cross entropy of logits ``input`` with class indices or class probabilities ``target``."""
    reduction = _reduction(reduction, size_average, reduce)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    class_dim = 0 if input.dim() == 1 else 1
    lsm = log_softmax(input, class_dim)
    if target._dtype.is_floating_point and target._shape == input._shape:  # else torch reads class indices
        n_cls = input._shape[class_dim]
        if label_smoothing > 0:
            target = target * (1 - label_smoothing) + label_smoothing / n_cls
        prod = lsm * target if weight is None else lsm * target * weight.reshape(
            (-1,) + (1,) * (input.dim() - class_dim - 1))
        if reduction == "none":
            return -prod.sum(class_dim)
        loss = -prod.sum()
        if reduction == "mean":
            # torch divides by the number of samples, spatial positions included (N * d1 * ...)
            count = input.numel() // n_cls if input.dim() > 1 else 1
            return dispatch(pointwise.div.op, (loss, float(count)), (), "DivBackward1")
        return loss
    nll = nll_loss(lsm, target, weight, None, ignore_index, None, reduction)
    if label_smoothing <= 0:
        return nll
    n_cls = input._shape[class_dim]
    smooth = -(lsm if weight is None else lsm * weight.reshape((-1,) + (1,) * (input.dim() - class_dim - 1))) \
        .sum(class_dim)
    mask = (target != ignore_index).to(lsm.dtype)
    smooth = smooth * mask
    if reduction == "mean":
        denom = mask.sum() if weight is None else (weight[target.clamp(min=0)] * mask).sum()
        smooth = smooth.sum() / denom
    elif reduction == "sum":
        smooth = smooth.sum()
    return dispatch(pointwise.mul.op, (nll, 1 - label_smoothing), (), "MulBackward1") + \
        dispatch(pointwise.mul.op, (smooth, label_smoothing / n_cls), (), "MulBackward1")


@jax.custom_jvp
def _bce_elem(x, y):
    return -(y * jnp.maximum(jnp.log(x), -100.0) + (1 - y) * jnp.maximum(jnp.log1p(-x), -100.0))


@_bce_elem.defjvp
def _bce_elem_jvp(primals, tangents):
    # torch's derivatives.yaml: d/dx = (x - y) / max(x (1 - x), 1e-12) (finite at x = 0 or 1, where the
    # clamped log's derivative would be NaN), d/dy = -logit(x) (unclamped)
    x, y = primals
    tx, ty = tangents
    out = _bce_elem(x, y)
    dx = (x - y) / jnp.maximum((1 - x) * x, 1e-12)
    dy = jnp.log1p(-x) - jnp.log(x)
    return out, dx * tx + dy * ty


def _bce_fwd(x, y, *w, reduction, has_w):
    loss = _bce_elem(x, y)
    if has_w:
        loss = loss * w[0]
    return _reduce(loss, reduction)


@defop(_bce_fwd, node="BinaryCrossEntropyBackward0", saves={0: (0, 1, 2), 1: (0, 1, 2)}, promote=(0, 1), method=False,
       function=False, name="binary_cross_entropy")
def _bce(input, target, weight, reduction):
    return (input, target) + ((weight,) if weight is not None else ()), \
        (("reduction", reduction), ("has_w", weight is not None))


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean"):
    """Binary cross entropy of probabilities ``input`` (log clamped at -100, as torch)."""
    reduction = _reduction(reduction, size_average, reduce)
    if target._shape != input._shape:
        raise ValueError(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}) "
                         "is deprecated. Please ensure they have the same size.")
    a = concrete(input.detach()._array())
    if a is not None and a.size and not ((a >= 0) & (a <= 1)).all():  # NaN fails too, as in torch
        raise RuntimeError("all elements of input should be between 0 and 1")
    return _bce(input, target, weight, reduction)


def _bce_logits_fwd(x, y, *rest, reduction, has_weight, has_pos):
    rest = list(rest)
    w = rest.pop(0) if has_weight else None
    pw = rest.pop(0) if has_pos else None
    log_sig = jax.nn.log_sigmoid(x)
    log_one_minus = jax.nn.log_sigmoid(-x)
    if pw is not None:
        loss = -(pw * y * log_sig + (1 - y) * log_one_minus)
    else:
        loss = -(y * log_sig + (1 - y) * log_one_minus)
    if w is not None:
        loss = loss * w
    return _reduce(loss, reduction)


@defop(_bce_logits_fwd, node="BinaryCrossEntropyWithLogitsBackward0", saves={0: (0, 1, 2, 3), 1: (0, 1, 2, 3)},
       promote=True, method=False, function=False)
def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean",
                                     pos_weight=None):
    """Sigmoid + binary cross entropy in one numerically stable op (``pos_weight`` weighs positives)."""
    reduction = _reduction(reduction, size_average, reduce)
    if target.shape != input.shape:
        raise ValueError(f"Target size ({target.shape}) must be the same as input size ({input.shape})")
    ins = [input, target] + ([weight] if weight is not None else []) + ([pos_weight] if pos_weight is not None else [])
    return tuple(ins), (("reduction", reduction), ("has_weight", weight is not None),
                        ("has_pos", pos_weight is not None))


def _huber_fwd(x, y, reduction, delta, kind):
    d = jnp.abs(x - y)
    if kind == "huber":
        loss = jnp.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta))
    else:
        loss = jnp.where(d < delta, 0.5 * d * d / delta, d - 0.5 * delta) if delta > 0 else d
    return _reduce(loss, reduction)


@defop(_huber_fwd, node="HuberLossBackward0", saves={0: (0, 1), 1: (0, 1)}, promote=True, method=False,
       function=False, name="huber_loss")
def _huber(input, target, reduction, delta, kind, node):
    return (input, target), (("reduction", reduction), ("delta", float(delta)), ("kind", kind)), node


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None):
    if delta <= 0:
        raise RuntimeError("huber_loss does not support non-positive values for delta.")
    _same_shape(input, target, "huber_loss")
    return _huber(input, target, _reduction(reduction), delta, "huber", "HuberLossBackward0")


@autocast_op("smooth_l1_loss")
def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0):
    _same_shape(input, target, "smooth_l1_loss")
    if beta == 0.0:  # torch computes l1_loss then
        return l1_loss(input, target, size_average, reduce, reduction)
    return _huber(input, target, _reduction(reduction, size_average, reduce), beta, "smooth_l1",
                  "SmoothL1LossBackward0")


def _xlogy(x, y):
    return jnp.where(x == 0, 0.0, x * jnp.log(jnp.where(x == 0, 1.0, y)))


@defop(lambda t: _xlogy(t, t), node="XlogyBackward0", saves={0: (0,)}, method=False, function=False,
       name="xlogy_self")
def _xlogy_self(target):
    return (target,), ()


@autocast_op("kl_div")
def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False):
    """KL divergence with ``input`` given as log-probabilities."""
    reduction = _reduction(reduction, size_average, reduce)
    if reduction == "mean":
        warnings.warn("reduction: 'mean' divides the total loss by both the batch size and the support size."
                      "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
                      "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
                      UserWarning, stacklevel=2)
    if log_target:
        loss = target.exp() * (target - input)
    else:
        loss = _xlogy_self(target) - target * input
    if reduction == "batchmean":
        return loss.sum() / input._shape[0]
    return loss.mean() if reduction == "mean" else loss.sum() if reduction == "sum" else loss


# -- utilities -------------------------------------------------------------------------------------------
def one_hot(tensor, num_classes=-1):
    if tensor._dtype is not _dtypes.int64:
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    t = np.asarray(tensor._array())
    if t.size and t.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    if num_classes < 0:
        num_classes = int(t.max()) + 1 if t.size else 0
    if t.size and (t.min() < 0 or t.max() >= num_classes):
        raise RuntimeError("Class values must be smaller than num_classes.")
    return creation.tensor(np.eye(num_classes, dtype=np.int64)[t], device=tensor.device)


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None):
    """``input / max(||input||_p, eps)`` along ``dim``; with ``out``, written into ``out`` (returned)."""
    n = input.norm(p, dim, keepdim=True).clamp_min(eps)
    res = input / n.expand_as(input)
    if out is not None:
        out.copy_(res)
        return out
    return res


# -- the rest of torch.nn.functional (activations, losses, normalisation, misc) -------------------------
from ._activations import *  # noqa: E402,F401,F403
from ._activations import __all__ as _act_all  # noqa: E402
from ._losses import *  # noqa: E402,F401,F403
from ._losses import __all__ as _loss_all  # noqa: E402
from ._norms import *  # noqa: E402,F401,F403
from ._norms import __all__ as _norm_all  # noqa: E402
from ._misc import *  # noqa: E402,F401,F403
from ._misc import __all__ as _misc_all  # noqa: E402

__all__ += [n for n in (*_act_all, *_loss_all, *_norm_all, *_misc_all) if n not in __all__]
from ._misc import _torch_level  # noqa: E402

_torch_level()  # torch.softmax, torch.cdist, Tensor.prelu, ...
from . import _native  # noqa: E402,F401 - torch.native_layer_norm & co, aten-only backward ops
del _torch_level
