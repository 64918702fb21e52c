"""Spatial nn ops and layers against torch: values, gradients, forward-mode tangents, grad_fn names,
indices, module reprs/state_dicts and errors."""
import warnings

import numpy as np
import pytest
import torch

import funcgrad

RNG = np.random.default_rng(0)


def _run(lib, fn, arrays, dtype, grad):
    ts = [lib.tensor(a, requires_grad=grad and a.dtype.kind == "f") if a.dtype.kind == "f" else lib.tensor(a)
          for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(lib, lib.nn.functional, *ts)
    return ts, out


def _first(out):
    return out[0] if isinstance(out, (tuple, list)) else out


def check(fn, *shapes, dtype=np.float64, rtol=1e-6, atol=1e-7, fwd=True, grad=True, arrays=None):
    """``fn(lib, F, *tensors)`` in torch and funcgrad: same outputs, node name, input grads and tangents."""
    arrays = arrays if arrays is not None else [RNG.standard_normal(s).astype(dtype) for s in shapes]
    tt, to = _run(torch, fn, arrays, dtype, grad)
    ft, fo = _run(funcgrad, fn, arrays, dtype, grad)
    touts = to if isinstance(to, (tuple, list)) else (to,)
    fouts = fo if isinstance(fo, (tuple, list)) else (fo,)
    assert len(touts) == len(fouts)
    for a, b in zip(touts, fouts):
        assert tuple(a.shape) == tuple(b.shape)
        assert str(a.dtype) == str(b.dtype)
        np.testing.assert_allclose(b.detach().numpy(), a.detach().numpy(), rtol=rtol, atol=atol)
    t0, f0 = _first(to), _first(fo)
    if not grad:
        return
    assert (t0.grad_fn is None) == (f0.grad_fn is None)
    if t0.grad_fn is None:
        return
    assert type(f0.grad_fn).__name__ == type(t0.grad_fn).__name__
    g = RNG.standard_normal(tuple(t0.shape)).astype(dtype)
    t0.backward(torch.tensor(g))
    f0.backward(funcgrad.tensor(g))
    for a, b in zip(tt, ft):
        if a.requires_grad:
            assert (a.grad is None) == (b.grad is None)
            if a.grad is not None:
                np.testing.assert_allclose(b.grad.numpy(), a.grad.numpy(), rtol=rtol * 10, atol=atol * 10)
    if fwd:
        _check_forward_ad(fn, arrays, rtol, atol)


def _check_forward_ad(fn, arrays, rtol, atol):
    tans = [RNG.standard_normal(a.shape).astype(a.dtype) if a.dtype.kind == "f" else None for a in arrays]
    res = []
    for lib in (torch, funcgrad):
        fa = lib.autograd.forward_ad
        with fa.dual_level():
            ts = [fa.make_dual(lib.tensor(a), lib.tensor(t)) if t is not None else lib.tensor(a)
                  for a, t in zip(arrays, tans)]
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    out = _first(fn(lib, lib.nn.functional, *ts))
            except (NotImplementedError, RuntimeError):
                if lib is torch:  # torch has no forward formula for this op
                    return
                raise
            res.append(fa.unpack_dual(out).tangent.numpy())
    np.testing.assert_allclose(res[1], res[0], rtol=rtol * 10, atol=atol * 10)


# -- convolution ----------------------------------------------------------------------------------------
CONV = {
    "conv1d": (lambda L, F, x, w, b: F.conv1d(x, w, b), (2, 3, 9), (4, 3, 3), (4,)),
    "conv1d_stride_pad_dil": (lambda L, F, x, w, b: F.conv1d(x, w, b, 2, 2, 2), (2, 3, 9), (4, 3, 3), (4,)),
    "conv1d_same": (lambda L, F, x, w, b: F.conv1d(x, w, b, padding="same", dilation=2), (2, 3, 9), (4, 3, 4), (4,)),
    "conv1d_unbatched": (lambda L, F, x, w, b: F.conv1d(x, w, b), (3, 9), (4, 3, 3), (4,)),
    "conv2d": (lambda L, F, x, w, b: F.conv2d(x, w, b, padding=1), (2, 3, 6, 7), (4, 3, 3, 3), (4,)),
    "conv2d_groups": (lambda L, F, x, w, b: F.conv2d(x, w, b, stride=(2, 1), groups=2), (2, 4, 7, 7), (6, 2, 3, 2),
                      (6,)),
    "conv2d_same_even": (lambda L, F, x, w, b: F.conv2d(x, w, b, padding="same"), (1, 2, 5, 6), (3, 2, 4, 2), (3,)),
    "conv2d_valid": (lambda L, F, x, w, b: F.conv2d(x, w, None, padding="valid", dilation=(1, 2)), (1, 2, 5, 6),
                     (3, 2, 2, 2), (3,)),
    "conv3d": (lambda L, F, x, w, b: F.conv3d(x, w, b, padding=(1, 0, 1), stride=2), (2, 2, 5, 6, 5),
               (3, 2, 3, 2, 3), (3,)),
    "conv_transpose1d": (lambda L, F, x, w, b: F.conv_transpose1d(x, w, b, stride=2, padding=1, output_padding=1),
                         (2, 3, 5), (3, 4, 3), (4,)),
    "conv_transpose2d": (lambda L, F, x, w, b: F.conv_transpose2d(x, w, b, stride=(2, 3), padding=(1, 2),
                                                                  output_padding=(1, 0), dilation=(1, 2)),
                         (2, 4, 4, 5), (4, 3, 3, 3), (3,)),
    "conv_transpose2d_groups": (lambda L, F, x, w, b: F.conv_transpose2d(x, w, b, stride=2, groups=2),
                                (2, 4, 3, 3), (4, 3, 2, 2), (6,)),
    "conv_transpose2d_bigpad": (lambda L, F, x, w, b: F.conv_transpose2d(x, w, b, padding=2), (1, 2, 5, 5),
                                (2, 3, 2, 2), (3,)),
    "conv_transpose3d": (lambda L, F, x, w, b: F.conv_transpose3d(x, w, b, stride=2, padding=1), (1, 2, 3, 4, 3),
                         (2, 2, 3, 3, 2), (2,)),
    "conv_transpose2d_unbatched": (lambda L, F, x, w, b: F.conv_transpose2d(x, w, b), (2, 3, 3), (2, 3, 2, 2), (3,)),
}


@pytest.mark.parametrize("name", sorted(CONV))
def test_conv(name):
    fn, *shapes = CONV[name]
    check(fn, *shapes)


def test_conv_float32():
    check(lambda L, F, x, w: F.conv2d(x, w, padding=1), (2, 3, 8, 8), (5, 3, 3, 3), dtype=np.float32, rtol=1e-4,
          atol=1e-5)


# -- pooling ------------------------------------------------------------------------------------------
POOL = {
    "max_pool1d": (lambda L, F, x: F.max_pool1d(x, 3, 2, 1), (2, 3, 10)),
    "max_pool1d_indices": (lambda L, F, x: F.max_pool1d(x, 2, return_indices=True, ceil_mode=True), (2, 3, 9)),
    "max_pool2d": (lambda L, F, x: F.max_pool2d(x, 2), (2, 3, 6, 6)),
    "max_pool2d_ceil_pad": (lambda L, F, x: F.max_pool2d(x, 3, 2, 1, ceil_mode=True, return_indices=True),
                            (2, 3, 6, 7)),
    "max_pool2d_dilation": (lambda L, F, x: F.max_pool2d(x, (2, 3), (1, 2), (1, 1), dilation=(2, 1),
                                                         return_indices=True), (1, 2, 7, 8)),
    "max_pool2d_unbatched": (lambda L, F, x: F.max_pool2d(x, 2, 1, return_indices=True), (3, 5, 5)),
    "max_pool3d": (lambda L, F, x: F.max_pool3d(x, 2, 2, 1, ceil_mode=True, return_indices=True), (1, 2, 5, 4, 5)),
    "avg_pool1d": (lambda L, F, x: F.avg_pool1d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False), (2, 3, 10)),
    "avg_pool2d": (lambda L, F, x: F.avg_pool2d(x, 2), (2, 3, 6, 6)),
    "avg_pool2d_ceil_pad": (lambda L, F, x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True), (2, 3, 6, 7)),
    "avg_pool2d_ceil_pad_excl": (lambda L, F, x: F.avg_pool2d(x, 3, 2, 1, ceil_mode=True, count_include_pad=False),
                                 (2, 3, 6, 7)),
    "avg_pool2d_divisor": (lambda L, F, x: F.avg_pool2d(x, (2, 3), (2, 1), (1, 1), divisor_override=5),
                           (2, 3, 5, 6)),
    "avg_pool3d": (lambda L, F, x: F.avg_pool3d(x, 2, 2, 1, ceil_mode=True), (1, 2, 5, 4, 5)),
    "adaptive_avg_pool1d": (lambda L, F, x: F.adaptive_avg_pool1d(x, 4), (2, 3, 10)),
    "adaptive_avg_pool2d": (lambda L, F, x: F.adaptive_avg_pool2d(x, (3, 4)), (2, 3, 7, 9)),
    "adaptive_avg_pool2d_none": (lambda L, F, x: F.adaptive_avg_pool2d(x, (None, 2)), (2, 3, 5, 7)),
    "adaptive_avg_pool2d_1": (lambda L, F, x: F.adaptive_avg_pool2d(x, 1), (2, 3, 5, 7)),
    "adaptive_avg_pool3d": (lambda L, F, x: F.adaptive_avg_pool3d(x, (2, 3, 2)), (1, 2, 5, 7, 4)),
    "adaptive_max_pool1d": (lambda L, F, x: F.adaptive_max_pool1d(x, 4, return_indices=True), (2, 3, 10)),
    "adaptive_max_pool2d": (lambda L, F, x: F.adaptive_max_pool2d(x, (3, 4), return_indices=True), (2, 3, 7, 9)),
    "adaptive_max_pool3d": (lambda L, F, x: F.adaptive_max_pool3d(x, (2, 3, 2), True), (1, 2, 5, 7, 4)),
    "lp_pool1d": (lambda L, F, x: F.lp_pool1d(x.abs() + 0.1, 2.0, 3, 2), (2, 3, 10)),
    "lp_pool2d": (lambda L, F, x: F.lp_pool2d(x.abs() + 0.1, 3, (2, 3), ceil_mode=True), (2, 3, 7, 8)),
    "lp_pool3d": (lambda L, F, x: F.lp_pool3d(x.abs() + 0.1, 2, 2), (1, 2, 4, 4, 4)),
}


@pytest.mark.parametrize("name", sorted(POOL))
def test_pool(name):
    fn, *shapes = POOL[name]
    check(fn, *shapes)


def test_max_pool_ties_pick_first():
    x = np.array([[[[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 0.0]]]])
    check(lambda L, F, x: F.max_pool2d(x, 2, 1, return_indices=True), arrays=[x])


def test_max_unpool():
    for nd, shape in ((1, (2, 3, 8)), (2, (2, 3, 6, 6)), (3, (1, 2, 4, 4, 4))):
        def fn(L, F, x, nd=nd):
            pool = getattr(F, f"max_pool{nd}d")
            v, i = pool(x, 2, return_indices=True)
            return getattr(F, f"max_unpool{nd}d")(v, i, 2)
        check(fn, shape)
    # overlapping windows: an input picked twice gets both gradients (torch's gather)
    check(lambda L, F, x: F.max_unpool2d(*F.max_pool2d(x, 3, 2, 1, return_indices=True), 3, 2, 1,
                                         output_size=(7, 8)), (1, 2, 7, 8))


def test_fractional_max_pool_with_samples():
    s2 = RNG.random((2, 3, 2))
    check(lambda L, F, x: F.fractional_max_pool2d(x, 2, output_size=(4, 3), return_indices=True,
                                                  _random_samples=L.tensor(s2)), (2, 3, 9, 7))
    check(lambda L, F, x: F.fractional_max_pool2d(x, (3, 2), output_ratio=(0.5, 0.7),
                                                  _random_samples=L.tensor(s2)[:1]), (1, 3, 9, 7))
    s3 = RNG.random((1, 2, 3))
    check(lambda L, F, x: F.fractional_max_pool3d(x, (2, 3, 2), output_size=(3, 2, 3), return_indices=True,
                                                  _random_samples=L.tensor(s3)), (1, 2, 6, 7, 5))


def test_fractional_max_pool_random_shapes():
    x = funcgrad.randn(2, 3, 9, 9, requires_grad=True)
    y, i = funcgrad.nn.functional.fractional_max_pool2d(x, 3, output_ratio=0.5, return_indices=True)
    assert tuple(y.shape) == (2, 3, 4, 4) and y.grad_fn.name() == "FractionalMaxPool2DBackward0"
    xf = x.detach().numpy().reshape(2, 3, -1)
    np.testing.assert_array_equal(np.take_along_axis(xf, i.numpy().reshape(2, 3, -1), -1).reshape(y.shape),
                                  y.detach().numpy())


# -- padding ------------------------------------------------------------------------------------------
PAD = {
    "constant": (lambda L, F, x: F.pad(x, (1, 2, 0, 3), value=1.5), (2, 3, 4, 5)),
    "constant_negative": (lambda L, F, x: F.pad(x, (-1, 2, 1, -2)), (2, 3, 4, 5)),
    "reflect1d": (lambda L, F, x: F.pad(x, (2, 3), mode="reflect"), (2, 3, 5)),
    "reflect2d": (lambda L, F, x: F.pad(x, (2, 1, 1, 3), mode="reflect"), (2, 3, 4, 5)),
    "reflect3d": (lambda L, F, x: F.pad(x, (1, 1, 2, 0, 1, 2), mode="reflect"), (1, 2, 3, 4, 5)),
    "reflect_negative": (lambda L, F, x: F.pad(x, (-1, 2), mode="reflect"), (2, 3, 5)),
    "replicate1d": (lambda L, F, x: F.pad(x, (3, 1), mode="replicate"), (3, 4)),
    "replicate2d": (lambda L, F, x: F.pad(x, (2, 1, 6, 3), mode="replicate"), (2, 3, 4, 5)),
    "replicate3d": (lambda L, F, x: F.pad(x, (1, 1, 2, 0, 1, 2), mode="replicate"), (2, 3, 4, 5)),
    "circular1d": (lambda L, F, x: F.pad(x, (2, -2), mode="circular"), (2, 3, 5)),
    "circular2d": (lambda L, F, x: F.pad(x, (2, 1, 4, 3), mode="circular"), (2, 3, 4, 5)),
    "circular3d": (lambda L, F, x: F.pad(x, (1, 1, 2, 0, 1, 2), mode="circular"), (1, 2, 3, 4, 5)),
    "constant_pad_nd": (lambda L, F, x: L.constant_pad_nd(x, (1, -1), 2.0), (3, 4)),
}


@pytest.mark.parametrize("name", sorted(PAD))
def test_pad(name):
    fn, *shapes = PAD[name]
    check(fn, *shapes)


# -- resampling ---------------------------------------------------------------------------------------
INTERP = {
    "nearest1d": (lambda L, F, x: F.interpolate(x, scale_factor=1.7), (2, 3, 7)),
    "nearest2d_size": (lambda L, F, x: F.interpolate(x, size=(5, 11)), (2, 3, 4, 5)),
    "nearest2d_x2": (lambda L, F, x: F.interpolate(x, scale_factor=2), (2, 3, 4, 5)),
    "nearest3d_down": (lambda L, F, x: F.interpolate(x, size=(2, 3, 3)), (1, 2, 5, 6, 7)),
    "nearest_exact2d": (lambda L, F, x: F.interpolate(x, scale_factor=(1.5, 0.6), mode="nearest-exact"),
                        (2, 3, 5, 9)),
    "nearest_exact3d": (lambda L, F, x: F.interpolate(x, size=4, mode="nearest-exact"), (1, 2, 3, 5, 6)),
    "linear": (lambda L, F, x: F.interpolate(x, scale_factor=2.5, mode="linear"), (2, 3, 6)),
    "linear_align": (lambda L, F, x: F.interpolate(x, size=9, mode="linear", align_corners=True), (2, 3, 6)),
    "bilinear": (lambda L, F, x: F.interpolate(x, size=(7, 4), mode="bilinear"), (2, 3, 5, 6)),
    "bilinear_scale": (lambda L, F, x: F.interpolate(x, scale_factor=(1.3, 2.1), mode="bilinear"), (2, 3, 5, 6)),
    "bilinear_recompute": (lambda L, F, x: F.interpolate(x, scale_factor=1.3, mode="bilinear",
                                                         recompute_scale_factor=True), (2, 3, 5, 6)),
    "bilinear_align": (lambda L, F, x: F.interpolate(x, size=(9, 3), mode="bilinear", align_corners=True),
                       (2, 3, 5, 6)),
    "bicubic": (lambda L, F, x: F.interpolate(x, size=(9, 4), mode="bicubic"), (2, 3, 5, 6)),
    "bicubic_align": (lambda L, F, x: F.interpolate(x, scale_factor=1.5, mode="bicubic", align_corners=True),
                      (2, 3, 5, 6)),
    "trilinear": (lambda L, F, x: F.interpolate(x, size=(4, 7, 3), mode="trilinear"), (1, 2, 3, 5, 6)),
    "trilinear_align": (lambda L, F, x: F.interpolate(x, scale_factor=1.5, mode="trilinear", align_corners=True),
                        (1, 2, 3, 5, 6)),
    "area1d": (lambda L, F, x: F.interpolate(x, size=4, mode="area"), (2, 3, 10)),
    "area2d": (lambda L, F, x: F.interpolate(x, scale_factor=0.5, mode="area"), (2, 3, 7, 9)),
    "area3d": (lambda L, F, x: F.interpolate(x, size=(2, 3, 2), mode="area"), (1, 2, 5, 7, 4)),
    "bilinear_aa_down": (lambda L, F, x: F.interpolate(x, size=(3, 4), mode="bilinear", antialias=True),
                         (2, 3, 9, 11)),
    "bilinear_aa_up": (lambda L, F, x: F.interpolate(x, scale_factor=1.7, mode="bilinear", antialias=True),
                       (2, 3, 4, 5)),
    "bicubic_aa_down": (lambda L, F, x: F.interpolate(x, size=(4, 3), mode="bicubic", antialias=True),
                        (2, 3, 9, 11)),
    "bicubic_aa_align": (lambda L, F, x: F.interpolate(x, size=(4, 7), mode="bicubic", antialias=True,
                                                       align_corners=True), (2, 3, 9, 5)),
    "upsample_bilinear": (lambda L, F, x: F.upsample_bilinear(x, scale_factor=2), (2, 3, 4, 5)),
    "upsample_nearest": (lambda L, F, x: F.upsample_nearest(x, size=(6, 7)), (2, 3, 4, 5)),
}


@pytest.mark.parametrize("name", sorted(INTERP))
def test_interpolate(name):
    fn, *shapes = INTERP[name]
    check(fn, *shapes)


def test_interpolate_float32():
    # atol: a few float32 ulps of the O(1) inputs (torch and XLA round the weighted sums differently, and
    # the inputs come from the module's RNG: they depend on which tests ran before in this process)
    check(lambda L, F, x: F.interpolate(x, scale_factor=1.37, mode="bilinear"), (2, 3, 11, 13), dtype=np.float32,
          rtol=1e-5, atol=5e-6)
    check(lambda L, F, x: F.interpolate(x, scale_factor=1.37), (2, 3, 11, 13), dtype=np.float32, rtol=1e-5,
          atol=5e-6)


# -- folding, shuffles, grids -------------------------------------------------------------------------
MISC = {
    "unfold": (lambda L, F, x: F.unfold(x, (2, 3), dilation=(1, 2), padding=1, stride=(2, 1)), (2, 3, 6, 7)),
    "unfold_unbatched": (lambda L, F, x: F.unfold(x, 2), (3, 4, 4)),
    "fold": (lambda L, F, x: F.fold(x, (5, 6), (2, 3), padding=(1, 0), stride=(2, 1)), (2, 12, 12)),
    "fold_unbatched": (lambda L, F, x: F.fold(x, (4, 4), 2), (8, 9)),
    "pixel_shuffle": (lambda L, F, x: F.pixel_shuffle(x, 2), (2, 8, 3, 4)),
    "pixel_shuffle_5d": (lambda L, F, x: F.pixel_shuffle(x, 3), (2, 2, 9, 2, 3)),
    "pixel_unshuffle": (lambda L, F, x: F.pixel_unshuffle(x, 2), (2, 3, 4, 6)),
    "channel_shuffle": (lambda L, F, x: F.channel_shuffle(x, 3), (2, 6, 3, 4)),
    "affine_grid": (lambda L, F, t: F.affine_grid(t, (2, 3, 4, 5), align_corners=False), (2, 2, 3)),
    "affine_grid_align": (lambda L, F, t: F.affine_grid(t, [2, 3, 4, 5], align_corners=True), (2, 2, 3)),
    "affine_grid3d": (lambda L, F, t: F.affine_grid(t, (2, 3, 3, 4, 5), align_corners=False), (2, 3, 4)),
}


@pytest.mark.parametrize("name", sorted(MISC))
def test_misc(name):
    fn, *shapes = MISC[name]
    check(fn, *shapes)


@pytest.mark.parametrize("mode", ["bilinear", "nearest", "bicubic"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("align_corners", [False, True])
def test_grid_sample_2d(mode, padding_mode, align_corners):
    x = RNG.standard_normal((2, 3, 5, 6))
    g = RNG.uniform(-1.3, 1.3, (2, 4, 3, 2))
    check(lambda L, F, x, g: F.grid_sample(x, g, mode, padding_mode, align_corners), arrays=[x, g], rtol=1e-5,
          atol=1e-6)


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding_mode", ["zeros", "border", "reflection"])
def test_grid_sample_3d(mode, padding_mode):
    x = RNG.standard_normal((2, 2, 4, 5, 3))
    g = RNG.uniform(-1.2, 1.2, (2, 3, 2, 4, 3))
    check(lambda L, F, x, g: F.grid_sample(x, g, mode, padding_mode, False), arrays=[x, g], rtol=1e-5, atol=1e-6)


def test_grid_sampler_2d_function():
    x = RNG.standard_normal((1, 2, 4, 4))
    g = RNG.uniform(-1, 1, (1, 3, 3, 2))
    check(lambda L, F, x, g: L.grid_sampler_2d(x, g, 0, 0, False), arrays=[x, g])


# -- modules ------------------------------------------------------------------------------------------
def twin(make):
    torch.manual_seed(0)
    tm = make(torch)
    fm = make(funcgrad)
    fm.load_state_dict({k: funcgrad.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return tm, fm


MODULES = {
    "Conv1d": (lambda L: L.nn.Conv1d(3, 4, 3, stride=2, padding=1), (2, 3, 9)),
    "Conv1d_circular": (lambda L: L.nn.Conv1d(3, 4, 3, padding=2, padding_mode="circular"), (2, 3, 9)),
    "Conv2d": (lambda L: L.nn.Conv2d(2, 4, 3, padding=1, bias=False), (2, 2, 5, 5)),
    "Conv2d_reflect": (lambda L: L.nn.Conv2d(2, 4, (3, 2), padding=(1, 2), padding_mode="reflect"), (2, 2, 5, 5)),
    "Conv2d_replicate_same": (lambda L: L.nn.Conv2d(2, 4, 4, padding="same", padding_mode="replicate"),
                              (2, 2, 6, 5)),
    "Conv2d_groups": (lambda L: L.nn.Conv2d(4, 6, 3, stride=2, groups=2, dilation=2), (1, 4, 9, 9)),
    "Conv3d": (lambda L: L.nn.Conv3d(2, 3, 2, padding=1, padding_mode="zeros"), (1, 2, 4, 4, 3)),
    "ConvTranspose1d": (lambda L: L.nn.ConvTranspose1d(3, 2, 3, stride=2), (2, 3, 5)),
    "ConvTranspose2d": (lambda L: L.nn.ConvTranspose2d(4, 2, 3, stride=2, padding=1, output_padding=1, groups=2),
                        (2, 4, 4, 4)),
    "ConvTranspose3d": (lambda L: L.nn.ConvTranspose3d(2, 3, 2, stride=2, bias=False), (1, 2, 3, 2, 3)),
    "MaxPool1d": (lambda L: L.nn.MaxPool1d(3, 2, 1), (2, 3, 9)),
    "MaxPool2d": (lambda L: L.nn.MaxPool2d(3, 2, 1, ceil_mode=True), (2, 3, 8, 7)),
    "MaxPool3d": (lambda L: L.nn.MaxPool3d(2), (1, 2, 4, 4, 4)),
    "AvgPool1d": (lambda L: L.nn.AvgPool1d(3, 2, 1), (2, 3, 9)),
    "AvgPool2d": (lambda L: L.nn.AvgPool2d(3, 2, 1, ceil_mode=True, count_include_pad=False), (2, 3, 8, 7)),
    "AvgPool3d": (lambda L: L.nn.AvgPool3d(2, divisor_override=3), (1, 2, 4, 4, 4)),
    "AdaptiveAvgPool1d": (lambda L: L.nn.AdaptiveAvgPool1d(4), (2, 3, 9)),
    "AdaptiveAvgPool2d": (lambda L: L.nn.AdaptiveAvgPool2d((3, None)), (2, 3, 7, 5)),
    "AdaptiveAvgPool3d": (lambda L: L.nn.AdaptiveAvgPool3d(2), (1, 2, 5, 4, 3)),
    "AdaptiveMaxPool1d": (lambda L: L.nn.AdaptiveMaxPool1d(4), (2, 3, 9)),
    "AdaptiveMaxPool2d": (lambda L: L.nn.AdaptiveMaxPool2d(3), (2, 3, 7, 5)),
    "AdaptiveMaxPool3d": (lambda L: L.nn.AdaptiveMaxPool3d(2), (1, 2, 5, 4, 3)),
    "LPPool1d": (lambda L: L.nn.LPPool1d(2, 3), (2, 3, 9)),
    "LPPool2d": (lambda L: L.nn.LPPool2d(1.5, 2), (2, 3, 6, 6)),
    "Upsample": (lambda L: L.nn.Upsample(scale_factor=2, mode="bilinear"), (2, 3, 4, 5)),
    "Upsample_size": (lambda L: L.nn.Upsample(size=(3, 7)), (2, 3, 4, 5)),
    "UpsamplingNearest2d": (lambda L: L.nn.UpsamplingNearest2d(scale_factor=3), (2, 3, 2, 3)),
    "UpsamplingBilinear2d": (lambda L: L.nn.UpsamplingBilinear2d(size=(5, 7)), (2, 3, 3, 4)),
    "PixelShuffle": (lambda L: L.nn.PixelShuffle(2), (2, 8, 3, 3)),
    "PixelUnshuffle": (lambda L: L.nn.PixelUnshuffle(2), (2, 2, 4, 6)),
    "ChannelShuffle": (lambda L: L.nn.ChannelShuffle(2), (2, 4, 3, 3)),
    "Fold": (lambda L: L.nn.Fold((4, 5), 2), (2, 8, 12)),
    "Unfold": (lambda L: L.nn.Unfold(2, padding=1), (2, 2, 4, 5)),
    "ZeroPad1d": (lambda L: L.nn.ZeroPad1d((1, 2)), (2, 3, 4)),
    "ZeroPad2d": (lambda L: L.nn.ZeroPad2d((1, 2, 0, 1)), (2, 3, 4, 4)),
    "ZeroPad3d": (lambda L: L.nn.ZeroPad3d(1), (1, 2, 3, 3, 3)),
    "ConstantPad1d": (lambda L: L.nn.ConstantPad1d(2, 3.5), (2, 3, 4)),
    "ConstantPad2d": (lambda L: L.nn.ConstantPad2d((1, 0, 2, 1), -1.0), (2, 3, 4, 4)),
    "ConstantPad3d": (lambda L: L.nn.ConstantPad3d(1, 0.5), (1, 2, 3, 3, 3)),
    "ReflectionPad1d": (lambda L: L.nn.ReflectionPad1d(2), (2, 3, 4)),
    "ReflectionPad2d": (lambda L: L.nn.ReflectionPad2d((1, 2, 2, 1)), (2, 3, 4, 4)),
    "ReflectionPad3d": (lambda L: L.nn.ReflectionPad3d(1), (1, 2, 3, 3, 3)),
    "ReplicationPad1d": (lambda L: L.nn.ReplicationPad1d(3), (2, 3, 4)),
    "ReplicationPad2d": (lambda L: L.nn.ReplicationPad2d((1, 2, 2, 1)), (2, 3, 4, 4)),
    "ReplicationPad3d": (lambda L: L.nn.ReplicationPad3d(1), (1, 2, 3, 3, 3)),
    "CircularPad1d": (lambda L: L.nn.CircularPad1d(2), (2, 3, 4)),
    "CircularPad2d": (lambda L: L.nn.CircularPad2d((1, 2, 2, 1)), (2, 3, 4, 4)),
    "CircularPad3d": (lambda L: L.nn.CircularPad3d(1), (1, 2, 3, 3, 3)),
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module(name):
    make, shape = MODULES[name]
    tm, fm = twin(make)
    assert repr(fm) == repr(tm)
    assert list(fm.state_dict()) == list(tm.state_dict())
    x = RNG.standard_normal(shape).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    fx = funcgrad.tensor(x, requires_grad=True)
    to, fo = tm(tx), fm(fx)
    np.testing.assert_allclose(fo.detach().numpy(), to.detach().numpy(), rtol=1e-5, atol=1e-5)
    assert fo.grad_fn.name() == to.grad_fn.name()
    g = RNG.standard_normal(tuple(to.shape)).astype(np.float32)
    to.backward(torch.tensor(g))
    fo.backward(funcgrad.tensor(g))
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    for (tn, tp), (fn, fp) in zip(tm.named_parameters(), fm.named_parameters()):
        assert tn == fn
        np.testing.assert_allclose(fp.grad.numpy(), tp.grad.numpy(), rtol=1e-4, atol=1e-4)


def test_module_init_shapes_and_ranges():
    for make in (lambda L: L.nn.Conv2d(4, 6, (3, 2), groups=2), lambda L: L.nn.ConvTranspose2d(4, 6, 3, groups=2),
                 lambda L: L.nn.Conv1d(3, 5, 4), lambda L: L.nn.ConvTranspose3d(2, 3, 2)):
        tm, fm = make(torch), make(funcgrad)
        for (tn, tp), (fn, fp) in zip(tm.named_parameters(), fm.named_parameters()):
            assert tn == fn and tuple(tp.shape) == tuple(fp.shape)
            bound = np.abs(tp.detach().numpy()).max() * 1.5 + 1e-6
            assert np.abs(fp.detach().numpy()).max() <= bound


def test_module_misc_reprs():
    for make in (lambda L: L.nn.MaxPool2d(2, 1, 1, 2, True, True), lambda L: L.nn.MaxUnpool2d(2),
                 lambda L: L.nn.MaxUnpool1d(3, 1), lambda L: L.nn.FractionalMaxPool2d(2, output_size=3),
                 lambda L: L.nn.FractionalMaxPool3d(2, output_ratio=0.5), lambda L: L.nn.LPPool3d(2, 2),
                 lambda L: L.nn.AdaptiveMaxPool2d(3, True), lambda L: L.nn.Conv2d(2, 4, 3, padding="same"),
                 lambda L: L.nn.Conv2d(2, 4, 3, padding="valid", padding_mode="circular")):
        tm, fm = make(torch), make(funcgrad)
        assert repr(fm) == repr(tm)
        assert list(fm.state_dict()) == list(tm.state_dict())


def test_max_unpool_module():
    tp, fp = torch.nn.MaxPool2d(2, return_indices=True), funcgrad.nn.MaxPool2d(2, return_indices=True)
    tu, fu = torch.nn.MaxUnpool2d(2), funcgrad.nn.MaxUnpool2d(2)
    x = RNG.standard_normal((1, 2, 5, 5)).astype(np.float32)
    to = tu(*tp(torch.tensor(x)), output_size=[1, 2, 5, 5])
    fo = fu(*fp(funcgrad.tensor(x)), output_size=[1, 2, 5, 5])
    np.testing.assert_array_equal(fo.numpy(), to.numpy())


def test_conv_transpose_output_size():
    tm, fm = twin(lambda L: L.nn.ConvTranspose2d(2, 3, 3, stride=2))
    x = RNG.standard_normal((1, 2, 4, 4)).astype(np.float32)
    to = tm(torch.tensor(x), output_size=[10, 10])
    fo = fm(funcgrad.tensor(x), output_size=[10, 10])
    np.testing.assert_allclose(fo.detach().numpy(), to.detach().numpy(), rtol=1e-5, atol=1e-5)


# -- errors -------------------------------------------------------------------------------------------
ERRORS = {
    "conv_kernel_too_big": lambda L, F: F.conv2d(L.ones(1, 3, 4, 4), L.ones(2, 3, 5, 5)),
    "conv1d_kernel_too_big": lambda L, F: F.conv1d(L.ones(1, 3, 4), L.ones(2, 3, 5)),
    "conv3d_kernel_too_big": lambda L, F: F.conv3d(L.ones(1, 3, 4, 4, 4), L.ones(2, 3, 5, 5, 5), padding=0),
    "conv_dilated_too_big": lambda L, F: F.conv2d(L.ones(1, 3, 4, 4), L.ones(2, 3, 3, 3), dilation=2),
    "conv_rank": lambda L, F: F.conv2d(L.ones(3, 4), L.ones(2, 3, 3, 3)),
    "conv_rank5": lambda L, F: F.conv2d(L.ones(1, 1, 3, 4, 4), L.ones(2, 3, 3, 3)),
    "conv_channels": lambda L, F: F.conv2d(L.ones(1, 2, 4, 4), L.ones(2, 3, 3, 3)),
    "conv_channels_unbatched": lambda L, F: F.conv2d(L.ones(2, 4, 4), L.ones(2, 3, 3, 3)),
    "conv_groups": lambda L, F: F.conv2d(L.ones(1, 4, 4, 4), L.ones(3, 2, 3, 3), groups=2),
    "conv_bias": lambda L, F: F.conv2d(L.ones(1, 3, 4, 4), L.ones(2, 3, 3, 3), L.ones(3)),
    "conv_same_strided": lambda L, F: F.conv2d(L.ones(1, 3, 4, 4), L.ones(2, 3, 3, 3), padding="same", stride=2),
    "conv_bad_padding": lambda L, F: F.conv2d(L.ones(1, 3, 4, 4), L.ones(2, 3, 3, 3), padding="foo"),
    "conv_negative_padding": lambda L, F: F.conv2d(L.ones(1, 3, 4, 4), L.ones(2, 3, 3, 3), padding=-1),
    "conv_stride0": lambda L, F: F.conv2d(L.ones(1, 3, 4, 4), L.ones(2, 3, 3, 3), stride=0),
    "convT_channels": lambda L, F: F.conv_transpose2d(L.ones(1, 3, 4, 4), L.ones(2, 3, 3, 3)),
    "convT_output_padding": lambda L, F: F.conv_transpose2d(L.ones(1, 3, 4, 4), L.ones(3, 3, 3, 3),
                                                            output_padding=2),
    "maxpool_pad": lambda L, F: F.max_pool2d(L.ones(1, 3, 4, 4), 2, padding=2),
    "maxpool_small": lambda L, F: F.max_pool2d(L.ones(1, 3, 4, 4), 5),
    "maxpool_rank": lambda L, F: F.max_pool2d(L.ones(4, 4), 2),
    "maxpool1d_rank": lambda L, F: F.max_pool1d(L.ones(4), 2),
    "avgpool_pad": lambda L, F: F.avg_pool2d(L.ones(1, 3, 4, 4), 2, padding=2),
    "avgpool_small": lambda L, F: F.avg_pool2d(L.ones(1, 3, 4, 4), 5),
    "avgpool_rank": lambda L, F: F.avg_pool2d(L.ones(4, 4), 2),
    "adaptive_avg_rank": lambda L, F: F.adaptive_avg_pool2d(L.ones(4), 2),
    "adaptive_max_rank": lambda L, F: F.adaptive_max_pool2d(L.ones(4), 2),
    "reflect_too_big": lambda L, F: F.pad(L.ones(1, 3, 3), (3, 3), mode="reflect"),
    "reflect2d_too_big": lambda L, F: F.pad(L.ones(1, 3, 4, 4), (4, 1, 1, 1), mode="reflect"),
    "replicate_rank": lambda L, F: F.pad(L.ones(3), (1, 1), mode="replicate"),
    "circular_wrap": lambda L, F: F.pad(L.ones(1, 3, 3), (4, 1), mode="circular"),
    "pad_bad_mode": lambda L, F: F.pad(L.ones(1, 3, 3), (1, 1), mode="foo"),
    "pad_odd": lambda L, F: F.pad(L.ones(1, 3, 3), (1,)),
    "pad_too_long": lambda L, F: F.pad(L.ones(1, 3, 3), (1, 1) * 4),
    "pad_value_reflect": lambda L, F: F.pad(L.ones(1, 3, 3), (1, 1), mode="reflect", value=1),
    "interp_both": lambda L, F: F.interpolate(L.ones(1, 3, 4, 4), size=3, scale_factor=2),
    "interp_none": lambda L, F: F.interpolate(L.ones(1, 3, 4, 4)),
    "interp_bad_mode": lambda L, F: F.interpolate(L.ones(1, 3, 4, 4), size=3, mode="foo"),
    "interp_linear_4d": lambda L, F: F.interpolate(L.ones(1, 3, 4, 4), size=3, mode="linear"),
    "interp_nearest_align": lambda L, F: F.interpolate(L.ones(1, 3, 4, 4), size=3, mode="nearest",
                                                       align_corners=True),
    "interp_aa_nearest": lambda L, F: F.interpolate(L.ones(1, 3, 4, 4), size=3, antialias=True),
    "pixel_shuffle": lambda L, F: F.pixel_shuffle(L.ones(1, 3, 2, 2), 2),
    "pixel_unshuffle": lambda L, F: F.pixel_unshuffle(L.ones(1, 3, 3, 2), 2),
    "channel_shuffle": lambda L, F: F.channel_shuffle(L.ones(1, 3, 2, 2), 2),
    "unfold_rank": lambda L, F: F.unfold(L.ones(3, 4), 2),
    "unfold_big": lambda L, F: F.unfold(L.ones(1, 3, 4, 4), 5),
    "fold_blocks": lambda L, F: F.fold(L.ones(1, 12, 10), (4, 4), 2),
    "fold_divisible": lambda L, F: F.fold(L.ones(1, 11, 9), (4, 4), 2, stride=1),
    "fractional_too_big": lambda L, F: F.fractional_max_pool2d(L.ones(1, 2, 5, 5), 4, output_size=3),
    "unpool_output_size": lambda L, F: F.max_unpool2d(*F.max_pool2d(L.ones(1, 1, 4, 4), 2, return_indices=True), 2,
                                                      output_size=(9, 9)),
    "affine_grid_shape": lambda L, F: F.affine_grid(L.ones(2, 3, 3), (2, 3, 4, 4), align_corners=False),
    "grid_sample_mode": lambda L, F: F.grid_sample(L.ones(1, 1, 2, 2), L.ones(1, 2, 2, 2), mode="foo"),
    "grid_sample_3d_bicubic": lambda L, F: F.grid_sample(L.ones(1, 1, 2, 2, 2), L.ones(1, 2, 2, 2, 3),
                                                         mode="bicubic"),
    "module_conv_groups": lambda L, F: L.nn.Conv2d(3, 4, 3, groups=2),
    "module_convT_padding_mode": lambda L, F: L.nn.ConvTranspose2d(3, 4, 3, padding_mode="reflect"),
    "module_fractional_args": lambda L, F: L.nn.FractionalMaxPool2d(2),
}


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_errors(name):
    fn = ERRORS[name]
    with pytest.raises(Exception) as te:
        fn(torch, torch.nn.functional)
    with pytest.raises(Exception) as fe:
        fn(funcgrad, funcgrad.nn.functional)
    assert type(fe.value).__name__ == type(te.value).__name__
    assert str(fe.value) == str(te.value)


def test_upsample_warns():
    x = funcgrad.ones(1, 1, 2, 2)
    with pytest.warns(UserWarning, match="upsample_bilinear` is deprecated"):
        funcgrad.nn.functional.upsample_bilinear(x, scale_factor=2)


def test_conv_padding_mode_error_like_torch():
    # the message prints a python set, whose order can differ between two sets built alike
    for lib in (torch, funcgrad):
        with pytest.raises(ValueError, match=r"padding_mode must be one of \{.*\}, but got padding_mode='foo'"):
            lib.nn.Conv2d(3, 4, 3, padding_mode="foo")
