"""The spatial part of ``torch.nn.functional``: convolutions, pooling, padding, resampling, folding,
shuffles and grid sampling, each a registry op (XLA convolutions and ``lax.reduce_window`` where
torch has one kernel) or composed the way torch composes it (``max_pool1d`` = unsqueeze ->
``max_pool2d`` -> squeeze), so ``grad_fn`` names and ``next_functions`` match torch's."""
from __future__ import annotations

import functools
import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from .. import _lazy
from .._lazy import concrete
from .._ops.registry import ABSENT, defop, public, autocast_op
from ..tensor import Tensor

__all__ = ["conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
           "max_pool1d", "max_pool2d", "max_pool3d", "max_pool1d_with_indices", "max_pool2d_with_indices",
           "max_pool3d_with_indices", "avg_pool1d", "avg_pool2d", "avg_pool3d", "adaptive_avg_pool1d",
           "adaptive_avg_pool2d", "adaptive_avg_pool3d", "adaptive_max_pool1d", "adaptive_max_pool2d",
           "adaptive_max_pool3d", "adaptive_max_pool1d_with_indices", "adaptive_max_pool2d_with_indices",
           "adaptive_max_pool3d_with_indices", "max_unpool1d", "max_unpool2d", "max_unpool3d",
           "fractional_max_pool2d", "fractional_max_pool3d", "fractional_max_pool2d_with_indices",
           "fractional_max_pool3d_with_indices", "lp_pool1d", "lp_pool2d", "lp_pool3d", "pad", "interpolate",
           "upsample", "upsample_nearest", "upsample_bilinear", "unfold", "fold", "pixel_shuffle",
           "pixel_unshuffle", "channel_shuffle", "native_channel_shuffle", "grid_sample", "affine_grid",
           "_pair", "_single", "_triple"]


# -- argument helpers ---------------------------------------------------------------------------------
def _ntuple(v, n):
    if isinstance(v, (tuple, list)):
        v = tuple(int(a) for a in v)
        return v * n if len(v) == 1 and n > 1 else v
    return (int(v),) * n


def _single(v):
    return _ntuple(v, 1)


def _pair(v):
    return _ntuple(v, 2)


def _triple(v):
    return _ntuple(v, 3)


def _lowest(dtype):
    return -jnp.inf if jnp.issubdtype(dtype, jnp.floating) else jnp.iinfo(dtype).min


def _dims_str(xs, sep=" x "):
    return sep.join(str(int(a)) for a in xs)


def _float_input(input, name):
    """torch's CPU kernels for these ops are dispatched for floating types only."""
    if not (input._dtype.is_floating_point or input._dtype.is_complex):
        from .._tensor_methods import _dt_name

        raise NotImplementedError(f"\"{name}\" not implemented for '{_dt_name(input._dtype)}'")


_C_TYPES = {"float32": "float", "float64": "double", "int64": "long int", "int32": "int", "int16": "short int",
            "int8": "signed char", "uint8": "unsigned char", "bool": "bool", "float16": "c10::Half",
            "bfloat16": "c10::BFloat16", "complex64": "c10::complex<float>", "complex128": "c10::complex<double>"}


def _c_type(t):
    return _C_TYPES.get(str(t._dtype).replace("torch.", ""), str(t._dtype))


def _gm_enabled():
    from ..autograd import grad_mode

    return grad_mode.is_grad_enabled()


# -- convolution ----------------------------------------------------------------------------------------
_SPATIAL = {1: "H", 2: "HW", 3: "DHW"}


def _conv_fwd(x, w, *b, stride, padding, dilation, groups, transposed, output_padding, has_b):
    nd = x.ndim - 2
    sp = _SPATIAL[nd]
    dn = ("NC" + sp, "OI" + sp, "NC" + sp)
    if not transposed:
        y = lax.conv_general_dilated(x, w, stride, padding, rhs_dilation=dilation, dimension_numbers=dn,
                                     feature_group_count=groups)
    else:
        # a transposed convolution is the convolution of the stride-dilated input with the flipped,
        # (in, out)-swapped kernel, padded by dilation * (k - 1) - padding
        cin, coutg, k = w.shape[0], w.shape[1], w.shape[2:]
        w2 = w.reshape((groups, cin // groups, coutg) + k).swapaxes(1, 2).reshape((groups * coutg, cin // groups) + k)
        w2 = jnp.flip(w2, axis=tuple(range(2, 2 + nd)))
        pads = [(d * (kk - 1) - p[0], d * (kk - 1) - p[1] + op)
                for kk, d, p, op in zip(k, dilation, padding, output_padding)]
        y = lax.conv_general_dilated(x, w2, (1,) * nd, pads, lhs_dilation=stride, rhs_dilation=dilation,
                                     dimension_numbers=dn, feature_group_count=groups)
    if has_b:
        y = y + b[0].reshape((1, -1) + (1,) * nd)
    return y.astype(x.dtype)


@defop(_conv_fwd, node="ConvolutionBackward0", saves={0: (1,), 1: (0,), 2: ()}, method=False, function=False,
       name="convolution_nd")
def _convolution(input, weight, bias, stride, padding, dilation, groups, transposed, output_padding):
    return (input, weight, ABSENT if bias is None else bias), \
        (("stride", stride), ("padding", padding), ("dilation", dilation), ("groups", groups),
         ("transposed", transposed), ("output_padding", output_padding), ("has_b", bias is not None))


def _conv_check_common(name, input, weight, bias, nd, stride, dilation, groups):
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(f"Expected {nd + 1}D (unbatched) or {nd + 2}D (batched) input to {name}, but got input of "
                           f"size: {list(input._shape)}")
    if weight.dim() != nd + 2:
        raise RuntimeError(f"expected stride to be a single integer value or a list of {weight.dim() - 2} values to "
                           f"match the convolution dimensions, but got stride={list(stride)}")
    if any(s <= 0 for s in stride):
        raise RuntimeError("non-positive stride is not supported")
    if any(d <= 0 for d in dilation):
        raise RuntimeError("dilation should be greater than zero")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")


def _conv_dtypes(input, weight, bias):
    if bias is not None and bias._dtype != input._dtype:
        raise RuntimeError(f"Input type ({_c_type(input)}) and bias type ({_c_type(bias)}) should be the same")
    if weight._dtype != input._dtype:
        from .._tensor_methods import _dt_name

        raise RuntimeError(f"expected scalar type {_dt_name(input._dtype)} but found {_dt_name(weight._dtype)}")


def _conv(name, nd, input, weight, bias, stride, padding, dilation, groups):
    stride, dilation = _ntuple(stride, nd), _ntuple(dilation, nd)
    _conv_check_common(name, input, weight, bias, nd, stride, dilation, groups)
    unbatched = input.dim() == nd + 1
    if unbatched:
        input = input.unsqueeze(0)
    shape, ws = input._shape, weight._shape
    if ws[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but "
                           f"got weight of size [{list(ws)}] instead")
    _conv_dtypes(input, weight, bias)
    if shape[1] != ws[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {list(ws)}, expected input{list(shape)} to have "
                           f"{ws[1] * groups} channels, but got {shape[1]} channels instead")
    if bias is not None and (bias.dim() != 1 or bias._shape[0] != ws[0]):
        raise RuntimeError(f"Given weight of size {list(ws)}, expected bias to be 1-dimensional with {ws[0]} "
                           f"elements, but got bias of size {list(bias._shape)} instead")
    eff = [d * (k - 1) + 1 for d, k in zip(dilation, ws[2:])]
    if isinstance(padding, str):
        if padding == "valid":
            pads = ((0, 0),) * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise RuntimeError("padding='same' is not supported for strided convolutions")
            pads = tuple(((e - 1) // 2, e - 1 - (e - 1) // 2) for e in eff)
        else:
            raise RuntimeError(f"Invalid padding string: '{padding}'")
    else:
        p = _ntuple(padding, nd)
        if any(a < 0 for a in p):
            raise RuntimeError("negative padding is not supported")
        pads = tuple((a, a) for a in p)
    padded = [s + lo + hi for s, (lo, hi) in zip(shape[2:], pads)]
    if any(pi < e for pi, e in zip(padded, eff)):
        raise RuntimeError(f"Calculated padded input size per channel: ({_dims_str(padded)}). Kernel size: "
                           f"({_dims_str(eff)}). Kernel size can't be greater than actual input size")
    out = _convolution(input, weight, bias, stride, pads, dilation, groups, False, (0,) * nd)
    return out.squeeze(0) if unbatched else out


def _conv_transpose(name, nd, input, weight, bias, stride, padding, output_padding, groups, dilation):
    stride, dilation = _ntuple(stride, nd), _ntuple(dilation, nd)
    padding, output_padding = _ntuple(padding, nd), _ntuple(output_padding, nd)
    _conv_check_common(name, input, weight, bias, nd, stride, dilation, groups)
    if any(a < 0 for a in padding):
        raise RuntimeError("negative padding is not supported")
    if any(a < 0 for a in output_padding):
        raise RuntimeError("negative output_padding is not supported")
    unbatched = input.dim() == nd + 1
    if unbatched:
        input = input.unsqueeze(0)
    shape, ws = input._shape, weight._shape
    if ws[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but "
                           f"got weight of size [{list(ws)}] instead")
    _conv_dtypes(input, weight, bias)
    if shape[1] != ws[0]:
        raise RuntimeError(f"Given transposed=1, weight of size {list(ws)}, expected input{list(shape)} to have "
                           f"{ws[0]} channels, but got {shape[1]} channels instead")
    cout = ws[1] * groups
    if bias is not None and (bias.dim() != 1 or bias._shape[0] != cout):
        raise RuntimeError(f"Given transposed=1, weight of size {list(ws)}, expected bias to be 1-dimensional with "
                           f"{cout} elements, but got bias of size {list(bias._shape)} instead")
    if any(op >= s and op >= d for op, s, d in zip(output_padding, stride, dilation)):
        if nd == 2:
            raise RuntimeError(
                f"output padding must be smaller than either stride or dilation, but got output_padding_height: "
                f"{output_padding[0]} output_padding_width: {output_padding[1]} stride_height: {stride[0]} "
                f"stride_width: {stride[1]} dilation_height: {dilation[0]} dilation_width: {dilation[1]}")
        raise RuntimeError("output padding must be smaller than either stride or dilation, but got output_padding: "
                           f"{list(output_padding)} stride: {list(stride)} dilation: {list(dilation)}")
    outs = [(i - 1) * s - 2 * p + d * (k - 1) + op + 1
            for i, s, p, d, k, op in zip(shape[2:], stride, padding, dilation, ws[2:], output_padding)]
    if any(o <= 0 for o in outs):
        raise RuntimeError(f"Given input size per channel: ({_dims_str(shape[2:])}). Calculated output size per "
                           f"channel: ({_dims_str(outs)}). Output size is too small")
    out = _convolution(input, weight, bias, stride, tuple((p, p) for p in padding), dilation, groups, True,
                       output_padding)
    return out.squeeze(0) if unbatched else out


@autocast_op("conv1d")
def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution over (N, C, L) input with (O, C/groups, k) weights (``lax.conv_general_dilated``)."""
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


@autocast_op("conv2d")
def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution over NCHW input with OIHW weights; ``padding`` may be ``'same'`` or ``'valid'``."""
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


@autocast_op("conv3d")
def conv3d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """3-D convolution over NCDHW input with OIDHW weights."""
    return _conv("conv3d", 3, input, weight, bias, stride, padding, dilation, groups)


@autocast_op("conv_transpose1d")
def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 1-D convolution (the gradient of conv1d w.r.t. its input); weight (C_in, C_out/groups, k)."""
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


@autocast_op("conv_transpose2d")
def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 2-D convolution; weight (C_in, C_out/groups, kH, kW)."""
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


@autocast_op("conv_transpose3d")
def conv_transpose3d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1, dilation=1):
    """Transposed 3-D convolution; weight (C_in, C_out/groups, kD, kH, kW)."""
    return _conv_transpose("conv_transpose3d", 3, input, weight, bias, stride, padding, output_padding, groups,
                           dilation)


# -- pooling ------------------------------------------------------------------------------------------
def _pool_out(size, k, p, s, d, ceil_mode):
    out = (size + 2 * p - d * (k - 1) - 1 + (s - 1 if ceil_mode else 0)) // s + 1
    if ceil_mode and (out - 1) * s >= size + p:
        out -= 1
    return out


def _pool_args(name, input, nd, kernel_size, stride, padding, dilation, ceil_mode):
    k = _ntuple(kernel_size, nd)
    s = _ntuple(stride, nd) if stride is not None and stride != [] and stride != () else k
    p = _ntuple(padding, nd)
    d = _ntuple(dilation, nd)
    if len(k) != nd:
        raise RuntimeError(f"{name}: kernel_size must either be a single int, or a tuple of {nd} ints")
    if len(s) != nd:
        raise RuntimeError(f"{name}: stride must either be omitted, a single int, or a tuple of {nd} ints")
    if len(p) != nd:
        raise RuntimeError(f"{name}: padding must either be a single int, or a tuple of {nd} ints")
    if input.dim() not in (nd + 1, nd + 2) or input.numel() == 0 and input.dim() == nd + 1:
        if nd == 3:
            raise RuntimeError("non-empty 4D or 5D (batch mode) tensor expected for input")
        raise RuntimeError("non-empty 3D or 4D (batch mode) tensor expected for input")
    if any(a == 0 for a in s):  # torch's output-shape helper checks this first
        raise RuntimeError("stride should not be zero")
    if any(a <= 0 for a in k):
        raise RuntimeError(f"kernel size should be greater than zero, but got {_kv('k', k)}")
    if any(a <= 0 for a in s):
        raise RuntimeError(f"stride should be greater than zero, but got {_kv('d', s)}")
    if any(a <= 0 for a in d):
        raise RuntimeError(f"dilation should be greater than zero, but got {_kv('dilation', d)}")
    for pi, ki, di in zip(p, k, d):
        if pi < 0 or pi > ((ki - 1) * di + 1) // 2:
            raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={pi}, "
                               f"kernel_size={ki} and dilation={di}")
    size = input._shape[-nd:]
    out = tuple(_pool_out(*a, ceil_mode) for a in zip(size, k, p, s, d))
    if any(o < 1 for o in out):
        c = input._shape[-nd - 1]
        raise RuntimeError(f"Given input size: ({c}x{_dims_str(size, 'x')}). Calculated output size: "
                           f"({c}x{_dims_str(out, 'x')}). Output size is too small")
    return k, s, p, d, out


def _kv(name, v):
    if len(v) == 2:
        return f"{name}H: {v[0]} {name}W: {v[1]}"
    if len(v) == 3:
        return f"{name}T: {v[0]} {name}H: {v[1]} {name}W: {v[2]}"
    return f"{name}: {v[0]}"


def _pool_pads(shape, kernel, stride, padding, dilation, out):
    """lax padding (lo, hi, 0) so a VALID window sweep yields exactly ``out`` windows (hi may crop)."""
    nd = len(kernel)
    lead = len(shape) - nd
    return [(0, 0, 0)] * lead + [(p, (o - 1) * s + d * (k - 1) + 1 - n - p, 0)
                                 for n, k, s, p, d, o in zip(shape[lead:], kernel, stride, padding, dilation, out)]


def _tiles(x, kernel, out):
    """(..., o1, o2, .., k1 * k2 * ..): the non-overlapping windows of ``x`` (stride = kernel, no
    padding or dilation; what does not fill a window is cropped), each flattened row-major."""
    nd = len(kernel)
    lead = x.ndim - nd
    x = x[(Ellipsis,) + tuple(slice(0, o * k) for o, k in zip(out, kernel))]
    x = x.reshape(x.shape[:lead] + tuple(d for o, k in zip(out, kernel) for d in (o, k)))
    perm = tuple(range(lead)) + tuple(lead + 2 * i for i in range(nd)) + tuple(lead + 2 * i + 1 for i in range(nd))
    return x.transpose(perm).reshape(x.shape[:lead] + tuple(out) + (math.prod(kernel),))


def _tile_pick(w):
    """The window position torch's max pooling picks: the first maximum, or the last NaN."""
    i = jnp.argmax(w, -1)
    if jnp.issubdtype(w.dtype, jnp.floating):
        nan = jnp.isnan(w)
        i = jnp.where(nan.any(-1), w.shape[-1] - 1 - jnp.argmax(nan[..., ::-1], -1), i)
    return i


@functools.partial(jax.custom_jvp, nondiff_argnums=(1, 2))
def _max_pool_tiled(x, kernel, out):
    """Max pooling over non-overlapping windows by a reshape. Its derivative routes through a
    one-hot of the picked position (elementwise, both ways): XLA's transpose of ``reduce_window``
    (select-and-scatter) is several times slower on CPU."""
    w = _tiles(x, kernel, out)
    return jnp.take_along_axis(w, _tile_pick(w)[..., None], -1)[..., 0]


@_max_pool_tiled.defjvp
def _max_pool_tiled_jvp(kernel, out, primals, tangents):
    w = _tiles(primals[0], kernel, out)
    i = _tile_pick(w)
    hot = jnp.arange(w.shape[-1]) == i[..., None]
    t = _tiles(tangents[0], kernel, out)
    return jnp.take_along_axis(w, i[..., None], -1)[..., 0], jnp.sum(jnp.where(hot, t, jnp.zeros((), t.dtype)), -1)


def _max_pool_fwd(x, kernel, stride, padding, dilation, out):
    if tuple(stride) == tuple(kernel) and not any(padding) and all(d == 1 for d in dilation) and \
            all(o * k <= n for o, k, n in zip(out, kernel, x.shape[x.ndim - len(kernel):])) and x.size:
        return _max_pool_tiled(x, tuple(kernel), tuple(out))
    lead = x.ndim - len(kernel)
    low = np.asarray(_lowest(x.dtype), x.dtype)  # a concrete identity: lax picks its differentiable max window
    xp = lax.pad(x, low, _pool_pads(x.shape, kernel, stride, padding, dilation, out))
    return lax.reduce_window(xp, low, lax.max, (1,) * lead + kernel, (1,) * lead + stride, "VALID",
                             window_dilation=(1,) * lead + dilation)


def _argmax_pair(a, b):
    """Reducer of (value, flat index) pairs: torch's scan keeps the first maximum and the last NaN."""
    av, ai = a
    bv, bi = b
    an, bn = jnp.isnan(av) if jnp.issubdtype(av.dtype, jnp.floating) else False, \
        jnp.isnan(bv) if jnp.issubdtype(bv.dtype, jnp.floating) else False
    pick_a = (av > bv) | ((av == bv) & (ai < bi)) | (an & ~bn) | (an & bn & (ai > bi))
    return jnp.where(pick_a, av, bv), jnp.where(pick_a, ai, bi)


def _max_pool_idx_fwd(x, kernel, stride, padding, dilation, out):
    nd = len(kernel)
    lead = x.ndim - nd
    sp = x.shape[lead:]
    idx = jnp.broadcast_to(jnp.arange(math.prod(sp), dtype=jnp.int64).reshape(sp), x.shape)
    low = jnp.asarray(_lowest(x.dtype), x.dtype)
    big = jnp.asarray(np.iinfo(np.int64).max, jnp.int64)
    pads = _pool_pads(x.shape, kernel, stride, padding, dilation, out)
    xp, ip = lax.pad(x, low, pads), lax.pad(idx, big, pads)
    return lax.reduce_window((xp, ip), (low, big), _argmax_pair, (1,) * lead + kernel, (1,) * lead + stride,
                             "VALID", window_dilation=(1,) * lead + dilation)[1]


@defop(_max_pool_fwd, node="MaxPool2DWithIndicesBackward0", saves={0: (0,)}, method=False, function=False,
       name="max_pool_nd")
def _max_pool(input, kernel, stride, padding, dilation, out):
    return (input,), (("kernel", kernel), ("stride", stride), ("padding", padding), ("dilation", dilation),
                      ("out", out)), f"MaxPool{len(kernel)}DWithIndicesBackward0"


@defop(_max_pool_idx_fwd, node="", method=False, function=False, name="max_pool_nd_indices", nondiff_out=True)
def _max_pool_indices(input, kernel, stride, padding, dilation, out):
    return (input,), (("kernel", kernel), ("stride", stride), ("padding", padding), ("dilation", dilation),
                      ("out", out))


def _max_pool_nd(name, nd, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices):
    if nd == 1:
        if input.dim() not in (2, 3):
            raise RuntimeError(f"max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size "
                               f"for input, but got:{list(input._shape)}")
        if not return_indices and not (input.requires_grad and _gm_enabled()):
            _float_input(input, "max_pool1d_impl")
        k, s, p, d = (_single(a) for a in (kernel_size, stride if stride not in (None, [], ()) else kernel_size,
                                           padding, dilation))
        if s[0] <= 0:
            raise RuntimeError(f"max_pool1d() stride must be greater than zero, but got {s[0]}")
        r = _max_pool_nd("max_pool2d", 2, input.unsqueeze(-2), (1,) + k, (1,) + s, (0,) + p, (1,) + d, ceil_mode,
                         return_indices)
        if return_indices:
            return r[0].squeeze(-2), r[1].squeeze(-2)
        return r.squeeze(-2)
    k, s, p, d, out = _pool_args(name, input, nd, kernel_size, stride, padding, dilation, ceil_mode)
    if any(di != 1 for di in d):
        # JAX has no vjp for a dilated max window: the values are gathered at the indices instead
        idx = _max_pool_indices(input, k, s, p, d, out)
        vals = _take_plane(input, idx, nd, f"MaxPool{nd}DWithIndicesBackward0")
        return (vals, idx) if return_indices else vals
    vals = _max_pool(input, k, s, p, d, out)
    if return_indices:
        return vals, _max_pool_indices(input, k, s, p, d, out)
    return vals


def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over windows of (N, C, L) input (as torch: unsqueeze, ``max_pool2d``, squeeze)."""
    return _max_pool_nd("max_pool1d", 1, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over windows of NCHW input (``lax.reduce_window``); indices are flat positions in each input plane."""
    return _max_pool_nd("max_pool2d", 2, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


@autocast_op("max_pool3d")
def max_pool3d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over windows of NCDHW input."""
    return _max_pool_nd("max_pool3d", 3, input, kernel_size, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return max_pool1d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def max_pool3d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                            return_indices=True):
    return max_pool3d(input, kernel_size, stride, padding, dilation, ceil_mode, True)


def _avg_divisor(shape, kernel, stride, padding, out, count_include_pad, divisor_override):
    if divisor_override:
        return np.float64(divisor_override)
    div = np.ones((), np.float64)
    for n, k, s, p, o in zip(shape, kernel, stride, padding, out):
        start = np.arange(o) * s - p
        end = np.minimum(start + k, n + p)
        if count_include_pad:
            c = end - start
        else:
            c = np.minimum(end, n) - np.maximum(start, 0)
        div = np.multiply.outer(div, c.astype(np.float64))
    return div


def _avg_pool_fwd(x, kernel, stride, padding, out, count_include_pad, divisor_override):
    nd = len(kernel)
    lead = x.ndim - nd
    ones = (1,) * nd
    xp = lax.pad(x, jnp.zeros((), x.dtype), _pool_pads(x.shape, kernel, stride, padding, ones, out))
    s = lax.reduce_window(xp, np.zeros((), x.dtype), lax.add, (1,) * lead + kernel, (1,) * lead + stride, "VALID")
    div = _avg_divisor(x.shape[lead:], kernel, stride, padding, out, count_include_pad, divisor_override)
    if not divisor_override:
        div = np.maximum(div, 1)  # windows wholly in the padding: torch writes 0 (their sum)
    if not jnp.issubdtype(x.dtype, jnp.inexact):  # torch's integer kernel: C division, truncating
        return lax.div(s, jnp.broadcast_to(jnp.asarray(div.astype(np.int64), x.dtype), s.shape))
    return (s / jnp.asarray(div, x.dtype)).astype(x.dtype)


@defop(_avg_pool_fwd, node="AvgPool2DBackward0", saves={0: (0,)}, method=False, function=False, name="avg_pool_nd")
def _avg_pool(input, kernel, stride, padding, out, count_include_pad, divisor_override):
    return (input,), (("kernel", kernel), ("stride", stride), ("padding", padding), ("out", out),
                      ("count_include_pad", bool(count_include_pad)), ("divisor_override", divisor_override)), \
        f"AvgPool{len(kernel)}DBackward0"


def _avg_pool_nd(name, nd, input, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    if nd == 1:
        if input.dim() not in (2, 3):
            raise RuntimeError(f"avg_pool1d() Expected 2D or 3D input tensor, but got {list(input._shape)}")
        k, s, p = (_single(a) for a in (kernel_size, stride if stride not in (None, [], ()) else kernel_size,
                                        padding))
        return _avg_pool_nd("avg_pool2d", 2, input.unsqueeze(-2), (1,) + k, (1,) + s, (0,) + p, ceil_mode,
                            count_include_pad, None).squeeze(-2)
    if input.dim() < nd + 1:
        from ..tensor import _wrap_dim

        _wrap_dim(-nd - 1, input.dim())  # torch's IndexError for too few dims
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    k, s, p, _, out = _pool_args(name, input, nd, kernel_size, stride, padding, 1, ceil_mode)
    return _avg_pool(input, k, s, p, out, count_include_pad, divisor_override)


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over windows of (N, C, L) input (as torch: unsqueeze, ``avg_pool2d``, squeeze)."""
    return _avg_pool_nd("avg_pool1d", 1, input, kernel_size, stride, padding, ceil_mode, count_include_pad, None)


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over windows of NCHW input, divisors as torch's (padding counted or not, ``ceil_mode`` windows
    clipped)."""
    return _avg_pool_nd("avg_pool2d", 2, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                        divisor_override)


@autocast_op("avg_pool3d")
def avg_pool3d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """Mean over windows of NCDHW input."""
    return _avg_pool_nd("avg_pool3d", 3, input, kernel_size, stride, padding, ceil_mode, count_include_pad,
                        divisor_override)


# -- adaptive pooling -----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=256)
def _adaptive_windows(n, o):
    """torch's adaptive windows [floor(i*n/o), ceil((i+1)*n/o)) as a padded (o, K) index table and mask."""
    i = np.arange(o)
    start = (i * n) // o
    end = -((-(i + 1) * n) // o)
    kmax = int((end - start).max()) if o else 1
    idx = start[:, None] + np.arange(kmax)[None, :]
    valid = idx < end[:, None]
    return np.minimum(idx, n - 1), valid, (end - start)


def _adaptive_gather(x, out):
    """(..., *sp) -> (..., *out, *K) windows, their validity mask and flat plane indices."""
    nd = len(out)
    lead = x.ndim - nd
    sp = x.shape[lead:]
    g = x
    flat = np.zeros((), np.int64)
    mask = np.ones((), bool)
    for j, (n, o) in enumerate(zip(sp, out)):
        idx, valid, _ = _adaptive_windows(n, o)
        g = jnp.take(g, jnp.asarray(idx.reshape(-1)), axis=lead + 2 * j)
        g = g.reshape(g.shape[:lead + 2 * j] + idx.shape + g.shape[lead + 2 * j + 1:])
        flat = np.add.outer(flat * n, idx)
        mask = np.logical_and.outer(mask, valid)
    # axes now (lead, o1, k1, o2, k2, ...) -> (lead, o1, o2, ..., k1, k2, ...)
    perm_o = [lead + 2 * j for j in range(nd)]
    perm_k = [lead + 2 * j + 1 for j in range(nd)]
    g = g.transpose(tuple(range(lead)) + tuple(perm_o) + tuple(perm_k))
    perm = list(range(0, 2 * nd, 2)) + list(range(1, 2 * nd, 2))
    return g, mask.transpose(perm), flat.transpose(perm)


def _adaptive_avg_fwd(x, out):
    nd = len(out)
    g, mask, _ = _adaptive_gather(x, out)
    s = jnp.sum(jnp.where(jnp.asarray(mask), g, 0), axis=tuple(range(-nd, 0)))
    cnt = np.ones((), np.float64)
    for n, o in zip(x.shape[-nd:], out):
        cnt = np.multiply.outer(cnt, _adaptive_windows(n, o)[2].astype(np.float64))
    return (s / jnp.asarray(cnt, x.dtype)).astype(x.dtype)


def _adaptive_max_idx_fwd(x, out):
    nd = len(out)
    g, mask, flat = _adaptive_gather(x, out)
    lead = g.shape[:g.ndim - 2 * nd]
    k = math.prod(g.shape[g.ndim - nd:])
    g = jnp.where(jnp.asarray(mask), g, jnp.asarray(_lowest(x.dtype), x.dtype)).reshape(lead + tuple(out) + (k,))
    flat = jnp.asarray(np.where(mask, flat, np.iinfo(np.int64).max).reshape(tuple(out) + (k,)))
    flat = jnp.broadcast_to(flat, g.shape)
    _, i = lax.reduce((g, flat), (jnp.asarray(_lowest(x.dtype), x.dtype), jnp.asarray(np.iinfo(np.int64).max)),
                      _argmax_pair, (g.ndim - 1,))
    return i


def _take_plane_fwd(x, idx, nd):
    lead = x.ndim - nd
    xf = x.reshape(x.shape[:lead] + (-1,))
    i = idx.reshape(idx.shape[:lead] + (-1,))
    return jnp.take_along_axis(xf, i, axis=-1).reshape(idx.shape)


@defop(_adaptive_avg_fwd, node="AdaptiveAvgPool2DBackward0", saves={0: (0,)}, method=False, function=False,
       name="adaptive_avg_pool_nd")
def _adaptive_avg(input, out):
    return (input,), (("out", out),), f"AdaptiveAvgPool{len(out)}DBackward0"


@defop(_adaptive_max_idx_fwd, node="", method=False, function=False, name="adaptive_max_pool_nd_indices",
       nondiff_out=True)
def _adaptive_max_indices(input, out):
    return (input,), (("out", out),)


@defop(_take_plane_fwd, node="AdaptiveMaxPool2DBackward0", saves={0: (1,)}, method=False, function=False,
       name="take_plane", nondiff=(1,))
def _take_plane(input, indices, nd, node):
    """Values of each input plane at flat ``indices`` (a max-pool's values; gradients scatter back)."""
    return (input, indices), (("nd", nd),), node


def _adaptive_size(name, input, nd, output_size):
    if isinstance(output_size, (tuple, list)) and input.dim() <= len(output_size):
        raise ValueError(f"Input dimension should be at least {len(output_size) + 1}")
    if input.dim() not in (nd + 1, nd + 2):
        sep = ": " if "max" in name else ""
        raise RuntimeError(f"{name}(): Expected {nd + 1}D or {nd + 2}D tensor, but got{sep or ' '}"
                           f"{list(input._shape)}")
    o = list(output_size) if isinstance(output_size, (tuple, list)) else [output_size] * nd
    if len(o) != nd:
        raise RuntimeError(f"{name}: internal error: output_size.size() must be {nd}")
    o = [input._shape[-nd + i] if v is None else int(v) for i, v in enumerate(o)]
    for i in range(1, input.dim()):
        if input._shape[i] == 0:
            raise RuntimeError(f"{name}(): Expected input to have non-zero size for non-batch dimensions, but input "
                               f"has sizes {list(input._shape)} with dimension {i} being empty")
    if any(v < 0 for v in o):
        raise RuntimeError(f"{name}: elements of output_size must be greater than or equal to 0 but received "
                           f"{{{', '.join(map(str, o))}}}")
    return tuple(o)


def adaptive_avg_pool1d(input, output_size):
    """Mean over torch's adaptive windows of (N, C, L) input (via ``adaptive_avg_pool2d``)."""
    if input.dim() not in (2, 3):
        raise RuntimeError(f"adaptive_avg_pool1d() argument 'input' (position 1) must be 2D or 3D, got "
                           f"{list(input._shape)}")
    o = _single(output_size)
    return adaptive_avg_pool2d(input.unsqueeze(-2), (1,) + o).squeeze(-2)


def adaptive_avg_pool2d(input, output_size):
    """Mean over torch's adaptive windows ``[floor(i*n/o), ceil((i+1)*n/o))`` of NCHW input."""
    o = _adaptive_size("adaptive_avg_pool2d", input, 2, output_size)
    _float_input(input, "adaptive_avg_pool2d")
    if o == (1, 1):
        return input.mean((-1, -2), keepdim=True)
    return _adaptive_avg(input, o)


@autocast_op("adaptive_avg_pool3d")
def adaptive_avg_pool3d(input, output_size):
    o = _adaptive_size("adaptive_avg_pool3d", input, 3, output_size)
    _float_input(input, "adaptive_avg_pool3d")
    if o == (1, 1, 1):
        return input.mean((-1, -2, -3), keepdim=True)
    return _adaptive_avg(input, o)


def _adaptive_max(nd, input, output_size, return_indices):
    o = _adaptive_size(f"adaptive_max_pool{nd}d", input, nd, output_size)
    _float_input(input, f"adaptive_max_pool{nd}d")
    idx = _adaptive_max_indices(input, o)
    vals = _take_plane(input, idx, nd, f"AdaptiveMaxPool{nd}DBackward0")
    return (vals, idx) if return_indices else vals


def adaptive_max_pool1d(input, output_size, return_indices=False):
    if input.dim() not in (2, 3):
        raise RuntimeError(f"adaptive_max_pool1d() argument 'input' (position 1) must be 2D or 3D, got "
                           f"{list(input._shape)}")
    r = _adaptive_max(2, input.unsqueeze(-2), (1,) + _single(output_size), return_indices)
    return (r[0].squeeze(-2), r[1].squeeze(-2)) if return_indices else r.squeeze(-2)


def adaptive_max_pool2d(input, output_size, return_indices=False):
    """Max over torch's adaptive windows of NCHW input; indices are flat positions in each plane."""
    return _adaptive_max(2, input, output_size, return_indices)


@autocast_op("adaptive_max_pool3d")
def adaptive_max_pool3d(input, output_size, return_indices=False):
    return _adaptive_max(3, input, output_size, return_indices)


def adaptive_max_pool1d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool1d(input, output_size, True)


def adaptive_max_pool2d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool2d(input, output_size, True)


def adaptive_max_pool3d_with_indices(input, output_size, return_indices=True):
    return adaptive_max_pool3d(input, output_size, True)


# -- max unpooling ----------------------------------------------------------------------------------------
def _max_unpool_fwd(x, idx, out):
    nd = len(out)
    lead = x.shape[:x.ndim - nd]
    n = math.prod(out)
    k = math.prod(x.shape[x.ndim - nd:])
    xf = x.reshape((-1, k))
    i = jnp.broadcast_to(idx, x.shape).reshape((-1, k))
    # unique_indices: the tangent is written like the value (torch's forward formula) and the
    # gradient gathers at every index, duplicates included (torch's backward)
    z = jnp.zeros((xf.shape[0], n), x.dtype)
    y = jax.vmap(lambda zz, ii, vv: zz.at[ii].set(vv, unique_indices=True))(z, i, xf)
    return y.reshape(lead + tuple(out))


@defop(_max_unpool_fwd, node="MaxUnpool2DBackward0", saves={0: (1,)}, method=False, function=False,
       name="max_unpool_nd", nondiff=(1,))
def _max_unpool(input, indices, out):
    return (input, indices), (("out", out),), f"MaxUnpool{len(out)}DBackward0"


def _unpool_output_size(input, kernel_size, stride, padding, output_size):
    nd = len(kernel_size)
    default = [(input._shape[-nd + d] - 1) * stride[d] + kernel_size[d] - 2 * padding[d] for d in range(nd)]
    if output_size is None:
        return default
    if len(output_size) == nd + 2:
        output_size = output_size[2:]
    if len(output_size) != nd:
        raise ValueError(f"output_size should be a sequence containing {nd} or {nd + 2} elements, but it has a length "
                         f"of '{len(output_size)}'")
    for d in range(nd):
        lo, hi = default[d] - stride[d], default[d] + stride[d]
        if not lo < output_size[d] < hi:
            raise ValueError(f'invalid output_size "{output_size}" (dim {d} must be between {lo} and {hi})')
    return output_size


def _max_unpool_nd(nd, input, indices, kernel_size, stride, padding, output_size):
    k = _ntuple(kernel_size, nd)
    s = _ntuple(stride, nd) if stride is not None else k
    p = _ntuple(padding, nd)
    out = tuple(int(v) for v in _unpool_output_size(input, k, s, p, output_size))
    if nd == 1:
        return _max_unpool_nd(2, input.unsqueeze(-1), indices.unsqueeze(-1), (k[0], 1), (s[0], 1), (p[0], 0),
                              (out[0], 1)).squeeze(-1)
    if indices._dtype.is_floating_point or indices._dtype.is_complex:
        raise RuntimeError(f"elements in indices should be type int64 but got: {indices._dtype._legacy}")
    if tuple(indices._shape) != tuple(input._shape):
        raise RuntimeError(f"Expected shape of indices to be same as that of the input tensor ({list(input._shape)}) "
                           f"but got indices tensor with shape: {list(indices._shape)}")
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(f"Input to max_unpooling{nd}d should be a {nd + 1}d or {nd + 2}d Tensor, but got a "
                           f"tensor with {input.dim()} dimensions.")
    _float_input(input, f"max_unpool{nd}d")
    host = concrete(indices._array())
    n = math.prod(out)
    if host is not None and host.size and (host.min() < 0 or host.max() >= n):
        bad = host[(host < 0) | (host >= n)].flat[0]
        raise RuntimeError(f"Found an invalid max index: {int(bad)} (output volumes are of size "
                           f"{'x'.join(map(str, out))}")
    return _max_unpool(input, indices, out)


def max_unpool1d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of ``max_pool1d``: values placed at their indices, zeros elsewhere."""
    return _max_unpool_nd(1, input, indices, kernel_size, stride, padding, output_size)


@autocast_op("max_unpool2d")
def max_unpool2d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    """Partial inverse of ``max_pool2d``: values placed at their flat plane indices, zeros elsewhere."""
    return _max_unpool_nd(2, input, indices, kernel_size, stride, padding, output_size)


@autocast_op("max_unpool3d")
def max_unpool3d(input, indices, kernel_size, stride=None, padding=0, output_size=None):
    return _max_unpool_nd(3, input, indices, kernel_size, stride, padding, output_size)


# -- fractional max pooling ------------------------------------------------------------------------------
def _frac_idx_fwd(x, samples, kernel, out):
    """Windows as torch's generate_intervals; samples (N, C, nd), sample j drives the j-th dim from the last
    for 2-D (W then H) and the j-th dim for 3-D (T, H, W)."""
    nd = len(kernel)
    batched = x.ndim == nd + 2
    xb = x if batched else x[None]
    sp = xb.shape[2:]
    dt = samples.dtype
    order = (1, 0) if nd == 2 else (0, 1, 2)
    idxs = []
    for j in range(nd):
        n, k, o = sp[j], kernel[j], out[j]
        u = samples[..., order[j]]  # (N, C)
        if o > 1:
            alpha = jnp.asarray(n - k, dt) / jnp.asarray(o - 1, dt)
            i = jnp.arange(o - 1, dtype=dt)
            seq = ((i + u[..., None]) * alpha).astype(jnp.int32) - (u[..., None] * alpha).astype(jnp.int32)
            seq = jnp.concatenate([seq, jnp.full(u.shape + (1,), n - k, jnp.int32)], -1)
        else:
            seq = jnp.full(u.shape + (1,), n - k, jnp.int32)
        idxs.append((seq[..., :, None] + jnp.arange(k)[None, :]).astype(jnp.int64))  # (N, C, o, k)
    # gather the windows dim by dim: g axes (N, C, o1, k1, ..., rest)
    g = xb
    for j in range(nd):
        ax = 2 + 2 * j
        idx = idxs[j]
        shp = g.shape
        ii = idx.reshape(shp[:2] + (1,) * (2 * j) + (-1,) + (1,) * (len(shp) - ax - 1))
        g = jnp.take_along_axis(g, ii, axis=ax)
        g = g.reshape(shp[:ax] + idx.shape[2:] + shp[ax + 1:])
    perm = (0, 1) + tuple(2 + 2 * j for j in range(nd)) + tuple(3 + 2 * j for j in range(nd))
    g = g.transpose(perm)
    f = jnp.zeros(xb.shape[:2] + (1,) * (2 * nd), jnp.int64)
    for j in range(nd):
        shape = [xb.shape[0], xb.shape[1]] + [1] * (2 * nd)
        shape[2 + j], shape[2 + nd + j] = out[j], kernel[j]
        f = f * sp[j] + idxs[j].reshape(shape)
    kk = math.prod(kernel)
    g = g.reshape(xb.shape[:2] + tuple(out) + (kk,))
    f = jnp.broadcast_to(f, xb.shape[:2] + tuple(out) + kernel).reshape(g.shape)
    low = jnp.asarray(_lowest(x.dtype), x.dtype)
    _, i = lax.reduce((g, f), (low, jnp.asarray(np.iinfo(np.int64).max)), _argmax_pair, (g.ndim - 1,))
    return i if batched else i[0]


@defop(_frac_idx_fwd, node="", method=False, function=False, name="fractional_max_pool_indices", nondiff_out=True)
def _frac_indices(input, samples, kernel, out):
    return (input, samples), (("kernel", kernel), ("out", out))


def _fractional(nd, input, kernel_size, output_size, output_ratio, return_indices, _random_samples):
    name = f"fractional_max_pool{nd}d"
    if output_size is None and output_ratio is None:
        raise ValueError(f"{name} requires specifying either an output_size or an output_ratio")
    k = _ntuple(kernel_size, nd)
    if input.dim() not in (nd + 1, nd + 2):
        raise RuntimeError(f"{name}(): Expected {nd + 1}D or {nd + 2}D tensor, but got: {list(input._shape)}")
    sp = input._shape[-nd:]
    if output_size is None:
        ratio = output_ratio if isinstance(output_ratio, (tuple, list)) else (output_ratio,) * nd
        out = tuple(int(sp[i] * ratio[i]) for i in range(nd))
    else:
        out = _ntuple(output_size, nd)
    for i in range(nd):
        if out[i] + k[i] - 1 > sp[i]:
            what = ("time", "height", "width")[3 - nd + i]
            raise RuntimeError(f"{name}{'_out' if nd == 3 else ''}(): pool {what} {k[i]} too large relative to input {what} {sp[i]}")
    _float_input(input, "check_uniform_bounds")
    n = input._shape[0] if input.dim() == nd + 2 else 1
    c = input._shape[-nd - 1]
    if _random_samples is None:
        from .._ops import creation

        _random_samples = creation.rand(n, c, nd, dtype=input.dtype, device=input.device)
    idx = _frac_indices(input, _random_samples.detach(), k, out)
    vals = _take_plane(input, idx, nd, f"FractionalMaxPool{nd}DBackward0")
    return (vals, idx) if return_indices else vals


def fractional_max_pool2d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    """Fractional max pooling (Graham): pseudo-random windows from ``_random_samples`` (N, C, 2) in [0, 1)."""
    return _fractional(2, input, kernel_size, output_size, output_ratio, return_indices, _random_samples)


def fractional_max_pool3d(input, kernel_size, output_size=None, output_ratio=None, return_indices=False,
                          _random_samples=None):
    return _fractional(3, input, kernel_size, output_size, output_ratio, return_indices, _random_samples)


def fractional_max_pool2d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=True, _random_samples=None):
    return fractional_max_pool2d(input, kernel_size, output_size, output_ratio, True, _random_samples)


def fractional_max_pool3d_with_indices(input, kernel_size, output_size=None, output_ratio=None,
                                       return_indices=True, _random_samples=None):
    return fractional_max_pool3d(input, kernel_size, output_size, output_ratio, True, _random_samples)


# -- power-average pooling (composite, as torch) ---------------------------------------------------------
def _lp_pool(nd, input, norm_type, kernel_size, stride, ceil_mode):
    from .._ops import pointwise

    k = _ntuple(kernel_size, nd)
    mp, ap = {1: (max_pool1d, avg_pool1d), 2: (max_pool2d, avg_pool2d), 3: (max_pool3d, avg_pool3d)}[nd]
    if isinstance(norm_type, (int, float)):
        if norm_type == float("inf"):
            return mp(input.abs(), kernel_size, stride, 0, 1, ceil_mode)
        if norm_type == -float("inf"):
            return -mp(-input.abs(), kernel_size, stride, 0, 1, ceil_mode)
    if stride is not None:
        out = ap(input.pow(norm_type), kernel_size, stride, 0, ceil_mode)
    else:
        out = ap(input.pow(norm_type), kernel_size, padding=0, ceil_mode=ceil_mode)
    return (pointwise.sign(out) * pointwise.relu(out.abs())).mul(math.prod(k) if nd > 1 else k[0]) \
        .pow(1.0 / norm_type)


def lp_pool1d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    """Power-average pooling: ``(sum over the window of x**p) ** (1/p)``, composed as torch composes it."""
    return _lp_pool(1, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool2d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(2, input, norm_type, kernel_size, stride, ceil_mode)


def lp_pool3d(input, norm_type, kernel_size, stride=None, ceil_mode=False):
    return _lp_pool(3, input, norm_type, kernel_size, stride, ceil_mode)


# -- padding --------------------------------------------------------------------------------------------
# constant padding is the registry's constant_pad_nd (views family): one definition
from .._ops.shape import _pad_shape, constant_pad_nd  # noqa: E402
from .._ops.views import _SLICE_AT, direct as _direct, slice_dim as _slice_dim  # noqa: E402


def _index_pad_fwd(x, tables):
    nd = len(tables)
    for j, t in enumerate(tables):
        x = jnp.take(x, jnp.asarray(np.asarray(t, np.int64)), axis=x.ndim - nd + j)
    return x


@defop(_index_pad_fwd, node="ReflectionPad2DBackward0", saves={0: (0,)}, method=False, function=False,
       name="index_pad")
def _index_pad(input, tables, node):
    return (input,), (("tables", tables),), node


def _pad_table(n, lo, hi, mode):
    """Source index of each output position. reflect/replicate index the input at positions
    -lo .. n-1+hi; circular crops negative amounts first and wraps around what is left (as torch)."""
    if mode == "circular":
        start, stop = max(-lo, 0), n - max(-hi, 0)
        m = stop - start
        t = np.mod(np.arange(-max(lo, 0), m + max(hi, 0)), m) + start
    else:
        t = np.arange(-lo, n + hi)
        if mode == "reflect":
            t = np.abs(t)
            t = np.where(t > n - 1, 2 * (n - 1) - t, t)
        else:
            t = np.clip(t, 0, n - 1)
    return tuple(int(v) for v in t)


def _window_impl(params, x, start, length, lo):
    """``constant_pad_nd(x[start:start + length] along dim)`` to ``size`` with ``lo`` before: one
    fixed-shape program for every start, length and ``lo`` (a gather clipped into range, masked; a
    batch padded on the left pads each sample by its own amount)."""
    dim, size, (kind, text) = params
    pos = jnp.arange(size, dtype=jnp.int64) - lo
    g = jnp.take(x, jnp.clip(start + pos, 0, x.shape[dim] - 1), axis=dim, mode="clip")
    valid = ((pos >= 0) & (pos < length)).reshape((1,) * dim + (size,) + (1,) * (x.ndim - dim - 1))
    value = text == "True" if kind is bool else kind(text)
    return jnp.where(valid, g, jnp.asarray(value, x.dtype))


_WINDOW = _lazy.Prim("pad_window", _window_impl)


def _window_rule(params, pprim, pparams):
    """A constant pad of a step-1 slice along one dim, by non-negative amounts along that dim only,
    as ``_WINDOW`` (see ``_lazy._fold``): (prim, params, ints appended to the slice's arguments)."""
    if pprim is _SLICE_AT:
        dim, span, step = pparams
        start = ()
    else:
        (_, dim), (_, start), (_, stop), (_, step) = pparams
        span = stop - start
        start = (start,)
    if step != 1 or span <= 0:
        return None
    p = dict(params)
    pads, value = p["pads"], -0.0 if p.get("negzero") else p["value"]
    lo, hi = pads[dim]
    if lo < 0 or hi < 0 or any(p != (0, 0) for j, p in enumerate(pads) if j != dim):
        return None
    # the value as its type and text: -0.0 and nan stay apart from 0.0 and equal themselves in keys; one
    # params object per window (interned: a cached structure then matches it by identity)
    params = (dim, lo + span + hi, (type(value), repr(value)))
    if len(_window_params) > 4096:
        _window_params.clear()
    params = _window_params.setdefault(params, params)
    return _WINDOW, params, start + (span, lo)


_window_params: dict = {}


_lazy._folds[constant_pad_nd.op.prim] = _window_rule
_lazy._voidable.update((_SLICE_AT, _slice_dim.op.prim))


_PAD_NAMES = {"reflect": "ReflectionPad{}DBackward0", "replicate": "ReplicationPad{}DBackward0",
              "circular": "CopySlices"}


def pad(input, pad, mode="constant", value=None):
    """Pad the last ``len(pad) // 2`` dims (``pad`` lists (left, right) from the last dim backwards); modes
    ``constant`` (negative amounts crop), ``reflect``, ``replicate``, ``circular``."""
    if value is None and type(pad) is tuple and mode == "constant" and isinstance(input, Tensor):
        # F.pad(x, (0, 0, 0, n))
        for p in pad:
            if type(p) is not int:
                break
        else:
            return routed_pad(input, pad, None, lambda: _pad(input, pad, mode, value))
    return _pad(input, pad, mode, value)


def routed_pad(input, pad, value, slow):
    """A constant pad of Tensor ``input`` by ``pad`` (a tuple of ints, last dim first) with ``value``
    (None: 0): ``slow()`` (the checked call) the first time per (shape, dtype, pad, value), then
    recorded directly with the params it bound. Where no amount crops, the params depend on the
    input's rank only: a new shape of a known rank (a sample of another length) takes them too."""
    shape = input._shape
    vkey = None if value is None else (type(value), repr(value))  # -0.0 and nan apart from 0.0
    key = (shape, input._dtype, pad, vkey)
    r = _pad_routes.get(key)
    if r is None and min(pad, default=0) >= 0:
        params = _pad_routes.get((len(shape), input._dtype, pad, vkey))
        if params is not None:
            r = _route(key, (params, _pad_shape(params, ((shape, None),))[0]))
    if r is not None:
        out = _direct(constant_pad_nd.op, input, r[0], r[1], "ConstantPadNdBackward0")
        if out is not None:
            return out
    out = slow()
    if r is None:
        params = constant_pad_nd.__wrapped__(input, list(pad), 0.0 if value is None else value)[1]
        _route(key, (params, out._shape))
        if min(pad, default=0) >= 0:
            _route((len(shape), input._dtype, pad, vkey), params)
    return out


def _route(key, r):
    if len(_pad_routes) > 4096:
        _pad_routes.clear()
    _pad_routes[key] = r
    return r


_pad_routes: dict = {}


def _pad(input, pad, mode, value):
    pad = [int(p) for p in pad]
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) > input.dim() * 2:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input dimension but got "
                           f"padding length {len(pad)} and input of dimension {input.dim()}")
    if mode == "constant":
        return constant_pad_nd(input, pad, 0.0 if value is None else value)
    if mode not in _PAD_NAMES:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise RuntimeError(f"Padding mode \"{mode}\" doesn't take in value argument")
    k = len(pad) // 2
    if not (k in (1, 2, 3) and input.dim() in (k + 1, k + 2)):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {input.dim()}D input tensor.\n"
            "Supported combinations for non-constant padding:\n"
            "  - 2D or 3D input: padding size = 2 (pads last dimension)\n"
            "  - 3D or 4D input: padding size = 4 (pads last 2 dimensions)\n"
            "  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    tables = []
    for j in range(k):
        d = input.dim() - k + j
        i = k - 1 - j
        lo, hi, n = pad[2 * i], pad[2 * i + 1], input._shape[d]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(f"Argument #4: Padding size should be less than the corresponding input dimension, "
                               f"but got: padding ({lo}, {hi}) at dimension {d} of input {list(input._shape)}")
        if mode == "circular" and (lo > n or hi > n):
            raise RuntimeError("Padding value causes wrapping around more than once.")
        if mode == "replicate" and n + lo + hi <= 0 or mode != "replicate" and n + lo + hi < 0:
            raise RuntimeError(f"input (H: {n}) is too small. Calculated output H: {n + lo + hi}")
        if n == 0 and mode != "circular":
            raise RuntimeError(f"Expected {k + 1}D or {k + 2}D (batch mode) tensor with possibly 0 batch size and "
                               f"other non-zero dimensions for input, but got: {list(input._shape)}")
        tables.append(_pad_table(n, lo, hi, mode))
    return _index_pad(input, tuple(tables), _PAD_NAMES[mode].format(k))


# -- resampling -------------------------------------------------------------------------------------------
def _scale_value(scale, n_in, n_out, dt):
    return dt(1.0 / scale) if scale is not None and scale > 0 else dt(n_in) / dt(n_out)


def _area_scale(n_in, n_out, align_corners, scale, dt):
    if align_corners:
        return dt(n_in - 1) / dt(n_out - 1) if n_out > 1 else dt(0)
    return _scale_value(scale, n_in, n_out, dt)


def _src_index(scale, i, align_corners, cubic, dt):
    if align_corners:
        return scale * i.astype(dt)
    s = scale * (i.astype(dt) + dt(0.5)) - dt(0.5)
    return s if cubic else np.maximum(s, dt(0))


def _cubic_coeffs(t, a):
    def c1(x):
        return ((a + 2) * x - (a + 3)) * x * x + 1

    def c2(x):
        return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a

    return np.stack([c2(t + 1), c1(t), c1(1 - t), c2(2 - t)], -1)


@functools.lru_cache(maxsize=512)
def _resample_table(mode, n_in, n_out, align_corners, scale, antialias, dtname):
    """(index (o, T), weight (o, T) or None): output i = sum_t weight[i, t] * input[index[i, t]], as torch."""
    dt = np.float64 if dtname == "float64" else np.float32
    i = np.arange(n_out)
    if mode in ("nearest", "nearest-exact"):
        if n_out == n_in:
            src = i
        elif mode == "nearest" and n_out == 2 * n_in:
            src = i >> 1
        else:
            s = _scale_value(scale, n_in, n_out, np.float32)
            off = np.float32(0.5) if mode == "nearest-exact" else np.float32(0)
            src = np.minimum(np.floor((i.astype(np.float32) + off) * s).astype(np.int64), n_in - 1)
        return src[:, None], None
    if antialias:
        interp = 2 if mode == "linear" else 4
        sc = float(_area_scale(n_in, n_out, align_corners, scale, np.float64))
        support = interp * 0.5 * sc if sc >= 1.0 else interp * 0.5
        width = int(math.ceil(support)) * 2 + 1
        idx = np.zeros((n_out, width), np.int64)
        w = np.zeros((n_out, width), np.float64)
        inv = 1.0 / sc if sc >= 1.0 else 1.0
        for o in range(n_out):
            center = sc * (o + 0.5)
            xmin = max(int(center - support + 0.5), 0)
            xsize = min(int(center + support + 0.5), n_in) - xmin
            xs = (np.arange(xsize) + xmin - center + 0.5) * inv
            if mode == "linear":
                ws = np.maximum(1 - np.abs(xs), 0)
            else:
                ax = np.abs(xs)
                a = -0.5
                ws = np.where(ax < 1, ((a + 2) * ax - (a + 3)) * ax * ax + 1,
                              np.where(ax < 2, ((a * ax - 5 * a) * ax + 8 * a) * ax - 4 * a, 0.0))
            tot = ws.sum()
            if tot != 0:
                ws = ws / tot
            idx[o, :xsize] = xmin + np.arange(xsize)
            w[o, :xsize] = ws
        return np.minimum(idx, n_in - 1), w.astype(dt)
    sc = _area_scale(n_in, n_out, align_corners, scale, dt)
    if mode == "linear":
        if n_out == n_in:
            return np.stack([i, i], -1), np.stack([np.ones(n_out, dt), np.zeros(n_out, dt)], -1)
        real = _src_index(sc, i, align_corners, False, dt)
        i0 = np.minimum(np.floor(real).astype(np.int64), n_in - 1)
        lam1 = np.clip(real - i0.astype(dt), 0, 1).astype(dt)
        i1 = i0 + (i0 < n_in - 1)
        return np.stack([i0, i1], -1), np.stack([dt(1) - lam1, lam1], -1)
    # cubic (A = -0.75), taps clamped into the input
    real = _src_index(sc, i, align_corners, True, dt)
    i0 = np.minimum(np.floor(real).astype(np.int64), n_in - 1)
    t = np.clip(real - i0.astype(dt), 0, 1).astype(dt)
    idx = np.clip(i0[:, None] - 1 + np.arange(4)[None, :], 0, n_in - 1)
    return idx, _cubic_coeffs(t, dt(-0.75)).astype(dt)


def _resample_fwd(x, mode, out, align_corners, scales, antialias):
    nd = len(out)
    dtname = "float64" if x.dtype == jnp.float64 else "float32"
    for j in reversed(range(nd)):
        ax = x.ndim - nd + j
        idx, w = _resample_table(mode, x.shape[ax], out[j], align_corners, scales[j], antialias, dtname)
        if w is None:
            x = jnp.take(x, jnp.asarray(idx[:, 0]), axis=ax)
            continue
        g = jnp.take(x, jnp.asarray(idx.reshape(-1)), axis=ax)
        g = g.reshape(x.shape[:ax] + idx.shape + x.shape[ax + 1:])
        wshape = idx.shape + (1,) * (x.ndim - ax - 1)
        x = jnp.sum(g * jnp.asarray(w.reshape(wshape), x.dtype), axis=ax + 1)
    return x


@defop(_resample_fwd, node="UpsampleNearest2DBackward0", saves={0: ()}, method=False, function=False,
       name="upsample_nd")
def _resample(input, mode, out, align_corners, scales, antialias, node):
    return (input,), (("mode", mode), ("out", out), ("align_corners", bool(align_corners)), ("scales", scales),
                      ("antialias", bool(antialias))), node


_UP_NAMES = {"nearest": "UpsampleNearest{}DBackward0", "nearest-exact": "UpsampleNearestExact{}DBackward0",
             "linear": "UpsampleLinear1DBackward0", "bilinear": "UpsampleBilinear2DBackward0",
             "trilinear": "UpsampleTrilinear3DBackward0", "bicubic": "UpsampleBicubic2DBackward0"}


def _upsample(input, mode, output_size, scale_factors, align_corners=False, antialias=False, scales=None):
    nd = input.dim() - 2
    if output_size is None:
        output_size = [int(math.floor(input._shape[2 + i] * scale_factors[i])) for i in range(nd)]
        scales = tuple(float(s) for s in scale_factors)
    else:
        scales = tuple(None if s is None else float(s) for s in scales) if scales is not None else (None,) * nd
    out = tuple(int(o) for o in output_size)
    if any(o <= 0 for o in out) or any(s <= 0 for s in input._shape[2:]):
        names = "DHW"[3 - nd:]
        raise RuntimeError("Input and output sizes should be greater than 0, but got input ("
                           + ", ".join(f"{a}: {b}" for a, b in zip(names, input._shape[2:])) + ") output ("
                           + ", ".join(f"{a}: {b}" for a, b in zip(names, out)) + ")")
    _float_input(input, f"upsample_{mode.replace('-', '_')}{nd}d")
    kind = {"linear": "linear", "bilinear": "linear", "trilinear": "linear", "bicubic": "cubic"}.get(mode, mode)
    node = _UP_NAMES[mode].format(nd)
    if antialias:
        node = node.replace("2DBackward0", "2DAaBackward0")
    return _resample(input, kind, out, align_corners, scales, antialias, node)


def _is_integer(x):
    return isinstance(x, int) or isinstance(x, Tensor) and not x._dtype.is_floating_point and x.dim() == 0 or \
        isinstance(x, np.integer)


def interpolate(input, size=None, scale_factor=None, mode="nearest", align_corners=None, recompute_scale_factor=None,
                antialias=False):
    """Resample the spatial dims (modes nearest, nearest-exact, linear, bilinear, bicubic, trilinear, area;
    ``antialias`` for bilinear/bicubic), with torch's source-index arithmetic."""
    if mode in ("nearest", "area", "nearest-exact"):
        if align_corners is not None:
            raise ValueError("align_corners option can only be set with the interpolating modes: "
                             "linear | bilinear | bicubic | trilinear")
    elif align_corners is None:
        align_corners = False
    dim = input.dim() - 2
    if size is not None and scale_factor is not None:
        raise ValueError("only one of size or scale_factor should be defined")
    elif size is not None:
        scale_factors = None
        if isinstance(size, (list, tuple)):
            if len(size) != dim:
                raise ValueError(
                    "Input and output must have the same number of spatial dimensions, but got "
                    f"input with spatial dimensions of {list(input._shape[2:])} and output size of {size}. "
                    "Please provide input tensor in (N, C, d1, d2, ...,dK) format and "
                    "output size in (o1, o2, ...,oK) format.")
            if not all(_is_integer(x) for x in size):
                raise TypeError("expected size to be one of int or Tuple[int] or Tuple[int, int] or "
                                f"Tuple[int, int, int], but got size with types {[type(x) for x in size]}")
            output_size = [int(s) for s in size]
        else:
            output_size = [int(size)] * dim
    elif scale_factor is not None:
        output_size = None
        if isinstance(scale_factor, (list, tuple)):
            if len(scale_factor) != dim:
                raise ValueError(
                    "Input and scale_factor must have the same number of spatial dimensions, but "
                    f"got input with spatial dimensions of {list(input._shape[2:])} and "
                    f"scale_factor of shape {scale_factor}. "
                    "Please provide input tensor in (N, C, d1, d2, ...,dK) format and "
                    "scale_factor in (s1, s2, ...,sK) format.")
            scale_factors = list(scale_factor)
        else:
            scale_factors = [scale_factor] * dim
    else:
        raise ValueError("either size or scale_factor should be defined")
    if recompute_scale_factor is not None and recompute_scale_factor and size is not None:
        raise ValueError("recompute_scale_factor is not meaningful with an explicit size.")
    if mode == "area" and output_size is None:
        recompute_scale_factor = True
    if recompute_scale_factor is not None and recompute_scale_factor:
        output_size = [int(math.floor(float(input._shape[i + 2]) * scale_factors[i])) for i in range(dim)]
        scale_factors = None
    if antialias and not (mode in ("bilinear", "bicubic", "lanczos") and input.dim() == 4):
        raise ValueError("Anti-alias option is restricted to bilinear, bicubic, and lanczos modes and requires a 4-D "
                         "tensor as input")
    d = input.dim()
    if mode in ("nearest", "nearest-exact") and d in (3, 4, 5):
        return _upsample(input, mode, output_size, scale_factors)
    if mode == "area" and d in (3, 4, 5):
        return (adaptive_avg_pool1d, adaptive_avg_pool2d, adaptive_avg_pool3d)[d - 3](input, output_size)
    if (mode, d) in (("linear", 3), ("bilinear", 4), ("trilinear", 5), ("bicubic", 4)):
        return _upsample(input, mode, output_size, scale_factors, align_corners, antialias)
    if mode == "lanczos" and d == 4:
        raise NotImplementedError("interpolate: mode='lanczos' is not supported by funcgrad yet")
    want = {"linear": 3, "bilinear": 4, "trilinear": 5}
    if mode in want and d in (3, 4, 5):
        raise NotImplementedError(f"Got {d}D input, but {mode} mode needs {want[mode]}D input")
    raise NotImplementedError(
        "Input Error: Only 3D, 4D and 5D input Tensors supported"
        f" (got {d}D) for the modes: nearest | linear | bilinear | bicubic | trilinear | lanczos | area | nearest-exact"
        f" (got {mode})")


def upsample(input, size=None, scale_factor=None, mode="nearest", align_corners=None):
    """Deprecated alias of :func:`interpolate` (warns as torch)."""
    warnings.warn(f"`nn.functional.upsample` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode, align_corners)


def upsample_nearest(input, size=None, scale_factor=None):
    warnings.warn("`nn.functional.upsample_nearest` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="nearest")


def upsample_bilinear(input, size=None, scale_factor=None):
    warnings.warn("`nn.functional.upsample_bilinear` is deprecated. Use `nn.functional.interpolate` instead.",
                  stacklevel=2)
    return interpolate(input, size, scale_factor, mode="bilinear", align_corners=True)


def _aa_public(mode):
    def f(input, output_size, align_corners, scale_factors=None, scales_h=None, scales_w=None):
        if scales_h is not None or scales_w is not None:  # the (output_size, scales_h, scales_w) overload
            return _upsample(input, mode, list(output_size), None, align_corners, True, (scales_h, scales_w))
        if (output_size is None) == (scale_factors is None):
            raise RuntimeError("Must specify exactly one of output_size and scale_factors")
        scales = list(scale_factors) if scale_factors is not None else None
        return _upsample(input, mode, None if output_size is None else list(output_size), scales, align_corners, True)

    f.__name__ = f"_upsample_{mode}2d_aa"
    f.__doc__ = f"torch's ``_upsample_{mode}2d_aa`` (antialiased resampling of NCHW input)."
    return f


# aten's _upsample_{bilinear,bicubic}2d_aa.vec, published as funcgrad._upsample_bilinear2d_aa (op_db's name)
_upsample_bilinear2d_aa = public(_aa_public("bilinear"), name="_upsample_bilinear2d_aa")
_upsample_bicubic2d_aa = public(_aa_public("bicubic"), name="_upsample_bicubic2d_aa")


# -- im2col / col2im -----------------------------------------------------------------------------------
@functools.lru_cache(maxsize=256)
def _im2col_table(n, k, d, p, s):
    o = (n + 2 * p - d * (k - 1) - 1) // s + 1
    return (np.arange(k)[:, None] * d + np.arange(o)[None, :] * s).astype(np.int64), o  # into the padded input


def _unfold_fwd(x, kernel, dilation, padding, stride):
    # x (N, C, H, W) -> (N, C*kh*kw, L)
    if x.ndim == 3:
        return _unfold_fwd(x[None], kernel, dilation, padding, stride)[0]
    n, c, h, w = x.shape
    xp = jnp.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    th, oh = _im2col_table(h, kernel[0], dilation[0], padding[0], stride[0])
    tw, ow = _im2col_table(w, kernel[1], dilation[1], padding[1], stride[1])
    g = xp[:, :, jnp.asarray(th)[:, None, :, None], jnp.asarray(tw)[None, :, None, :]]  # (N, C, kh, kw, oh, ow)
    return g.reshape(n, c * kernel[0] * kernel[1], oh * ow)


def _fold_fwd(x, out, kernel, dilation, padding, stride):
    if x.ndim == 2:
        return _fold_fwd(x[None], out, kernel, dilation, padding, stride)[0]
    n, ck, _ = x.shape
    c = ck // (kernel[0] * kernel[1])
    th, oh = _im2col_table(out[0], kernel[0], dilation[0], padding[0], stride[0])
    tw, ow = _im2col_table(out[1], kernel[1], dilation[1], padding[1], stride[1])
    cols = x.reshape(n, c, kernel[0], kernel[1], oh, ow)
    z = jnp.zeros((n, c, out[0] + 2 * padding[0], out[1] + 2 * padding[1]), x.dtype)
    z = z.at[:, :, jnp.asarray(th)[:, None, :, None], jnp.asarray(tw)[None, :, None, :]].add(cols)
    return z[:, :, padding[0]:padding[0] + out[0], padding[1]:padding[1] + out[1]]


@defop(_unfold_fwd, node="Im2ColBackward0", saves={0: ()}, method=False, function=False, name="im2col")
def _im2col(input, kernel, dilation, padding, stride):
    return (input,), (("kernel", kernel), ("dilation", dilation), ("padding", padding), ("stride", stride))


@defop(_fold_fwd, node="Col2ImBackward0", saves={0: ()}, method=False, function=False, name="col2im")
def _col2im(input, out, kernel, dilation, padding, stride):
    return (input,), (("out", out), ("kernel", kernel), ("dilation", dilation), ("padding", padding),
                      ("stride", stride))


def _fold_check(kernel, dilation, padding, stride):
    if any(k <= 0 for k in kernel):
        raise RuntimeError(f"kernel size should be greater than zero, but got kernel_height: {kernel[0]} "
                           f"kernel_width: {kernel[1]}")
    if any(d <= 0 for d in dilation):
        raise RuntimeError(f"dilation should be greater than zero, but got dilation_height: {dilation[0]} "
                           f"dilation_width: {dilation[1]}")
    if any(p < 0 for p in padding):
        raise RuntimeError(f"padding should be non-negative, but got pad_height: {padding[0]} pad_width: "
                           f"{padding[1]}")
    if any(s <= 0 for s in stride):
        raise RuntimeError(f"stride should be greater than zero, but got stride_height: {stride[0]} stride_width: "
                           f"{stride[1]}")


def unfold(input, kernel_size, dilation=1, padding=0, stride=1):
    """im2col: sliding local blocks of (N, C, H, W) input as columns (N, C*kh*kw, L)."""
    k, d, p, s = _pair(kernel_size), _pair(dilation), _pair(padding), _pair(stride)
    if input.dim() not in (3, 4):
        from ..tensor import _wrap_dim

        _wrap_dim(2, input.dim())
        raise NotImplementedError(f"Input Error: Only 3D or 4D input Tensors are supported (got {input.dim()}D)")
    _fold_check(k, d, p, s)
    _float_input(input, "im2col_out_cpu")
    h, w = input._shape[-2:]
    oh = (h + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    ow = (w + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    if oh < 1 or ow < 1:
        raise RuntimeError(f"Given input with spatial size ({h}, {w}), kernel_size=({k[0]}, {k[1]}), dilation=({d[0]}, "
                           f"{d[1]}), padding=({p[0]}, {p[1]}), calculated shape of the array of sliding blocks as "
                           f"({oh}, {ow}), but its components must be at least one.")
    return _im2col(input, k, d, p, s)


def fold(input, output_size, kernel_size, dilation=1, padding=0, stride=1):
    """col2im: sum columns (N, C*kh*kw, L) back into an (N, C, *output_size) image (overlaps add up)."""
    o, k, d, p, s = _pair(output_size), _pair(kernel_size), _pair(dilation), _pair(padding), _pair(stride)
    if input.dim() not in (2, 3):
        raise NotImplementedError(f"Input Error: Only unbatched (2D) or batched (3D) input Tensors are supported "
                                  f"(got {input.dim()}D)")
    _fold_check(k, d, p, s)
    _float_input(input, "col2im_out_cpu")
    ck, n_blocks = input._shape[-2], input._shape[-1]
    if ck % (k[0] * k[1]):
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product of kernel_size, but "
                           f"got input.size(1)={ck} and kernel_size=({k[0]}, {k[1]}).")
    bh = (o[0] + 2 * p[0] - d[0] * (k[0] - 1) - 1) // s[0] + 1
    bw = (o[1] + 2 * p[1] - d[1] * (k[1] - 1) - 1) // s[1] + 1
    if bh < 1 or bw < 1:
        raise RuntimeError(f"Given output_size=({o[0]}, {o[1]}), kernel_size=({k[0]}, {k[1]}), dilation=({d[0]}, "
                           f"{d[1]}), padding=({p[0]}, {p[1]}), stride=({s[0]}, {s[1]}), calculated shape of the array "
                           f"of sliding blocks as ({bh}, {bw}), which is too small (non-positive)")
    if bh * bw != n_blocks:
        raise RuntimeError(f"Given output_size=({o[0]}, {o[1]}), kernel_size=({k[0]}, {k[1]}), dilation=({d[0]}, "
                           f"{d[1]}), padding=({p[0]}, {p[1]}), stride=({s[0]}, {s[1]}), expected size of input's "
                           f"dimension 2 to match the calculated number of sliding blocks {bh} * {bw} = {bh * bw}, "
                           f"but got input.size(2)={n_blocks}.")
    return _col2im(input, o, k, d, p, s)


# -- shuffles -------------------------------------------------------------------------------------------
def _pixel_shuffle_fwd(x, r, inverse):
    lead = x.shape[:-3]
    c, h, w = x.shape[-3:]
    nl = len(lead)
    if not inverse:
        oc = c // (r * r)
        y = x.reshape(lead + (oc, r, r, h, w))
        y = y.transpose(tuple(range(nl)) + tuple(nl + a for a in (0, 3, 1, 4, 2)))
        return y.reshape(lead + (oc, h * r, w * r))
    y = x.reshape(lead + (c, h // r, r, w // r, r))
    y = y.transpose(tuple(range(nl)) + tuple(nl + a for a in (0, 2, 4, 1, 3)))
    return y.reshape(lead + (c * r * r, h // r, w // r))


@defop(_pixel_shuffle_fwd, node="PixelShuffleBackward0", saves={0: ()}, method=False, function=False,
       name="pixel_shuffle_op")
def _pixel_shuffle(input, r, inverse):
    return (input,), (("r", r), ("inverse", inverse)), \
        "PixelUnshuffleBackward0" if inverse else "PixelShuffleBackward0"


def pixel_shuffle(input, upscale_factor):
    """(*, C*r^2, H, W) -> (*, C, H*r, W*r)."""
    r = int(upscale_factor)
    if input.dim() < 3:
        raise RuntimeError(f"pixel_shuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.dim()} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_shuffle expects a positive upscale_factor, but got {r}")
    c = input._shape[-3]
    if c % (r * r):
        raise RuntimeError(f"pixel_shuffle expects its input's 'channel' dimension to be divisible by the square of "
                           f"upscale_factor, but input.size(-3)={c} is not divisible by {r * r}")
    return _pixel_shuffle(input, r, False)


def pixel_unshuffle(input, downscale_factor):
    """(*, C, H*r, W*r) -> (*, C*r^2, H, W)."""
    r = int(downscale_factor)
    if input.dim() < 3:
        raise RuntimeError(f"pixel_unshuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.dim()} dimension(s)")
    if r <= 0:
        raise RuntimeError(f"pixel_unshuffle expects a positive downscale_factor, but got {r}")
    h, w = input._shape[-2:]
    if h % r:
        raise RuntimeError(f"pixel_unshuffle expects height to be divisible by downscale_factor, but input.size(-2)={h}"
                           f" is not divisible by {r}")
    if w % r:
        raise RuntimeError(f"pixel_unshuffle expects width to be divisible by downscale_factor, but input.size(-1)={w}"
                           f" is not divisible by {r}")
    return _pixel_shuffle(input, r, True)


def _channel_shuffle_fwd(x, groups):
    n, c = x.shape[:2]
    rest = x.shape[2:]
    return x.reshape((n, groups, c // groups) + rest).swapaxes(1, 2).reshape(x.shape)


@defop(_channel_shuffle_fwd, node="ChannelShuffleBackward0", saves={0: ()}, method=False, function=False,
       name="channel_shuffle_op")
def _channel_shuffle(input, groups):
    return (input,), (("groups", groups),)


def channel_shuffle(input, groups):
    """Interleave the channels of ``groups`` groups: (N, g, C/g, *) -> (N, C/g, g, *)."""
    groups = int(groups)
    if input.dim() <= 2:
        raise RuntimeError(f"channel_shuffle expects input to have at least 3 dimensions, but got input with "
                           f"{input.dim()} dimension(s)")
    if groups <= 0:
        raise RuntimeError(f"Number of groups to divide channels in must be positive. Value of groups:{groups}")
    c = input._shape[1]
    if c % groups:
        raise RuntimeError(f"Number of channels must be divisible by groups. Got {c} channels and {groups} groups.")
    return _channel_shuffle(input, groups)


native_channel_shuffle = channel_shuffle


# -- grid sampling --------------------------------------------------------------------------------------
def _unnormalize(coord, size, align_corners):
    if align_corners:
        return (coord + 1) / 2 * (size - 1)
    return ((coord + 1) * size - 1) / 2


def _reflect(x, twice_low, twice_high):
    if twice_low == twice_high:
        return jnp.zeros_like(x)
    mn = twice_low / 2
    span = (twice_high - twice_low) / 2
    x = jnp.abs(x - mn)
    extra = jnp.fmod(x, span)
    flips = jnp.floor(x / span)
    return jnp.where(jnp.fmod(flips, 2) == 0, extra + mn, span - extra + mn)


def _compute_coords(x, size, padding_mode, align_corners):
    if padding_mode == 1:
        x = jnp.clip(x, 0, size - 1)
    elif padding_mode == 2:
        x = _reflect(x, 0, 2 * (size - 1)) if align_corners else _reflect(x, -1, 2 * size - 1)
        x = jnp.clip(x, 0, size - 1)
    return x


def _grid_sample_fwd(x, grid, interp, padding_mode, align_corners):
    nd = x.ndim - 2
    n, c = x.shape[:2]
    sp = x.shape[2:]  # (H, W) or (D, H, W)
    out = grid.shape[1:-1]
    xf = x.reshape(n, c, -1)
    # grid[..., 0] indexes the last dim (W), grid[..., 1] H, grid[..., 2] D
    coords = [_unnormalize(grid[..., nd - 1 - j], sp[j], align_corners) for j in range(nd)]  # per spatial dim

    def gather(idx_list, w):
        valid = jnp.ones(idx_list[0].shape, bool)
        flat = jnp.zeros(idx_list[0].shape, jnp.int64)
        for j, ii in enumerate(idx_list):
            valid = valid & (ii >= 0) & (ii < sp[j])
            flat = flat * sp[j] + jnp.clip(ii, 0, sp[j] - 1).astype(jnp.int64)
        v = jax.vmap(lambda a, i: a[:, i])(xf, flat.reshape(n, -1)).reshape((n, c) + out)
        return v * (w * valid).astype(x.dtype)[:, None]

    if interp == 2:  # bicubic (2-D only): taps clamped/reflected one by one, as torch
        ix, iy = coords[1], coords[0]
        x0, y0 = jnp.floor(ix), jnp.floor(iy)
        tx, ty = ix - x0, iy - y0
        a = -0.75

        def coeffs(t):
            def c1(z):
                return ((a + 2) * z - (a + 3)) * z * z + 1

            def c2(z):
                return ((a * z - 5 * a) * z + 8 * a) * z - 4 * a

            return [c2(t + 1), c1(t), c1(1 - t), c2(2 - t)]

        cx, cy = coeffs(tx), coeffs(ty)
        res = 0
        for i in range(4):
            for j in range(4):
                xx = _compute_coords(x0 - 1 + i, sp[1], padding_mode, align_corners)
                yy = _compute_coords(y0 - 1 + j, sp[0], padding_mode, align_corners)
                res = res + gather([yy.astype(jnp.int64), xx.astype(jnp.int64)], cx[i] * cy[j])
        return res
    coords = [_compute_coords(cd, sp[j], padding_mode, align_corners) for j, cd in enumerate(coords)]
    if interp == 1:  # nearest, ties to even (nearbyint)
        idx = [jnp.round(cd).astype(jnp.int64) for cd in coords]
        return gather(idx, jnp.ones(idx[0].shape, x.dtype))
    lows = [jnp.floor(cd) for cd in coords]
    fr = [cd - lo for cd, lo in zip(coords, lows)]
    res = 0
    for corner in range(2 ** nd):
        bits = [(corner >> (nd - 1 - j)) & 1 for j in range(nd)]
        idx = [(lo + b).astype(jnp.int64) for lo, b in zip(lows, bits)]
        w = 1
        for f, b in zip(fr, bits):
            w = w * (f if b else 1 - f)
        res = res + gather(idx, w)
    return res


@defop(_grid_sample_fwd, node="GridSampler2DBackward0", saves={0: (0, 1), 1: (0, 1)}, promote=True, method=False,
       function=False, name="grid_sampler_nd")
def _grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners):
    nd = input.dim() - 2
    return (input, grid), (("interp", int(interpolation_mode)), ("padding_mode", int(padding_mode)),
                           ("align_corners", bool(align_corners))), f"GridSampler{nd}DBackward0"


def _grid_check(input, grid, interpolation_mode):
    if input.dim() not in (4, 5) or grid.dim() != input.dim():
        raise RuntimeError(f"grid_sampler(): expected 4D or 5D input and grid with same number of dimensions, but got "
                           f"input with sizes {list(input._shape)} and grid with sizes {list(grid._shape)}")
    if input._shape[0] != grid._shape[0]:
        raise RuntimeError(f"grid_sampler(): expected grid and input to have same batch size, but got input with "
                           f"sizes {list(input._shape)} and grid with sizes {list(grid._shape)}")
    nd = input.dim() - 2
    if grid._shape[-1] != nd:
        raise RuntimeError(f"grid_sampler(): expected grid to have size {nd} in last dimension, but got grid with "
                           f"sizes {list(grid._shape)}")
    if nd == 3 and interpolation_mode == 2:
        raise RuntimeError("grid_sampler(): bicubic interpolation only supports 4D input")
    _float_input(input, f"grid_sampler_{nd}d_cpu_kernel_impl")


@public
def grid_sampler_2d(input, grid, interpolation_mode, padding_mode, align_corners):
    """torch.grid_sampler_2d (modes as ints: bilinear 0, nearest 1, bicubic 2; zeros 0, border 1, reflection 2)."""
    _grid_check(input, grid, interpolation_mode)
    return _grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners)


@public
def grid_sampler_3d(input, grid, interpolation_mode, padding_mode, align_corners):
    _grid_check(input, grid, interpolation_mode)
    return _grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners)


@public
@autocast_op("grid_sampler")
def grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners):
    _grid_check(input, grid, interpolation_mode)
    return _grid_sampler(input, grid, interpolation_mode, padding_mode, align_corners)


_ALIGN_WARNING = ("Default grid_sample and affine_grid behavior has changed to align_corners=False since 1.3.0. Please "
                  "specify align_corners=True if the old behavior is desired. See the documentation of grid_sample "
                  "for details.")


def grid_sample(input, grid, mode="bilinear", padding_mode="zeros", align_corners=None):
    """Sample ``input`` at the normalised ``grid`` locations ([-1, 1]); modes bilinear, nearest, bicubic (2-D);
    padding zeros, border, reflection."""
    if mode not in ("bilinear", "nearest", "bicubic"):
        raise ValueError(f"nn.functional.grid_sample(): expected mode to be 'bilinear', 'nearest' or 'bicubic', but "
                         f"got: '{mode}'")
    if padding_mode not in ("zeros", "border", "reflection"):
        raise ValueError("nn.functional.grid_sample(): expected padding_mode to be 'zeros', 'border', or "
                         f"'reflection', but got: '{padding_mode}'")
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    _grid_check(input, grid, {"bilinear": 0, "nearest": 1, "bicubic": 2}[mode])
    return _grid_sampler(input, grid, {"bilinear": 0, "nearest": 1, "bicubic": 2}[mode],
                         {"zeros": 0, "border": 1, "reflection": 2}[padding_mode], align_corners)


def _linspace_base(n, align_corners, dt):
    if n <= 1:
        return np.zeros(max(n, 1), dt)[:n] if n == 0 else np.zeros(1, dt)
    r = np.linspace(-1, 1, n, dtype=np.float64)
    if not align_corners:
        r = r * (n - 1) / n
    return r.astype(dt)


def _affine_grid_fwd(theta, size, align_corners):
    nd = len(size) - 2
    sp = size[2:]
    dt = np.float64 if theta.dtype == jnp.float64 else np.float32
    axes = [_linspace_base(s, align_corners, dt) for s in sp]  # D?, H, W
    mesh = np.meshgrid(*axes, indexing="ij")
    comps = [mesh[nd - 1 - j] for j in range(nd)] + [np.ones(tuple(sp), dt)]  # x (W), y (H), z (D), 1
    base = np.stack(comps, -1).reshape(-1, nd + 1)
    out = jnp.einsum("pk,nik->npi", jnp.asarray(base, theta.dtype), theta)
    return out.reshape((size[0],) + tuple(sp) + (nd,))


@defop(_affine_grid_fwd, node="AffineGridGeneratorBackward0", saves={0: ()}, method=False, function=False,
       name="affine_grid_generator")
def affine_grid_generator(theta, size, align_corners):
    """torch.affine_grid_generator: sampling grids (N, *sp, nd) from affine matrices (N, nd, nd + 1)."""
    return (theta,), (("size", tuple(int(s) for s in size)), ("align_corners", bool(align_corners)))


def affine_grid(theta, size, align_corners=None):
    """Sampling grid for :func:`grid_sample` from a batch of affine matrices ``theta``."""
    if align_corners is None:
        warnings.warn(_ALIGN_WARNING, stacklevel=2)
        align_corners = False
    if not theta._dtype.is_floating_point:
        raise ValueError(f"Expected theta to have floating point type, but got {theta.dtype}")
    if len(size) == 4:
        if theta.dim() != 3 or tuple(theta._shape[-2:]) != (2, 3):
            raise ValueError(f"Expected a batch of 2D affine matrices of shape Nx2x3 for size {size}. Got "
                             f"{theta.shape}.")
        spatial = list(size[-2:])
    elif len(size) == 5:
        if theta.dim() != 3 or tuple(theta._shape[-2:]) != (3, 4):
            raise ValueError(f"Expected a batch of 3D affine matrices of shape Nx3x4 for size {size}. Got "
                             f"{theta.shape}.")
        spatial = list(size[-3:])
    else:
        raise NotImplementedError(f"affine_grid only supports 4D and 5D sizes, for 2D and 3D affine transforms, "
                                  f"respectively. Got size {size}.")
    if align_corners and min(spatial) == 1:
        warnings.warn("Since version 1.3.0, affine_grid behavior has changed for unit-size grids when "
                      "align_corners=True. This is not an issue for standard usage, but may cause issues "
                      "when constructing grids that need to be interpreted precisely.", stacklevel=2)
    elif min(size) <= 0:
        raise ValueError(f"Expected non-zero, positive output size. Got {size}")
    return affine_grid_generator(theta, size, align_corners)


# torch also has these at the top level (torch.conv2d, torch.max_pool2d, torch.pixel_shuffle, ...)
for _name, _f in (("conv1d", conv1d), ("conv2d", conv2d), ("conv3d", conv3d), ("conv_transpose1d", conv_transpose1d),
                  ("conv_transpose2d", conv_transpose2d), ("conv_transpose3d", conv_transpose3d),
                  ("max_pool1d", max_pool1d), ("max_pool2d", max_pool2d), ("max_pool3d", max_pool3d),
                  ("max_pool1d_with_indices", max_pool1d_with_indices), ("avg_pool1d", avg_pool1d),
                  ("adaptive_avg_pool1d", adaptive_avg_pool1d), ("pixel_shuffle", pixel_shuffle),
                  ("pixel_unshuffle", pixel_unshuffle), ("channel_shuffle", channel_shuffle),
                  ("native_channel_shuffle", native_channel_shuffle)):
    public(_f, name=_name)
del _name, _f
