"""torch.fft against torch: values, dtypes, node names, gradients (real inputs), forward-mode tangents."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import funcgrad
from tests.ops.test_linalg import check, rand

R = rand(4, 6)
C = rand(4, 6) + 1j * rand(4, 6)

CASES = {}
for name in ("fft", "ifft", "fft2", "ifft2", "fftn", "ifftn", "rfft", "rfft2", "rfftn", "ihfft", "ihfft2", "ihfftn",
             "irfft", "irfft2", "irfftn", "hfft", "hfft2", "hfftn"):
    CASES[name] = (lambda L, x, name=name: getattr(L.fft, name)(x), [R])
    for norm in ("forward", "ortho"):
        CASES[f"{name}_{norm}"] = (lambda L, x, name=name, norm=norm: getattr(L.fft, name)(x, norm=norm), [R])
CASES.update({
    "fft_n_pad": (lambda L, x: L.fft.fft(x, n=8, dim=0), [R]),
    "fft_n_crop": (lambda L, x: L.fft.fft(x, n=3), [R]),
    "rfft_n": (lambda L, x: L.fft.rfft(x, n=9), [R]),
    "irfft_n": (lambda L, x: L.fft.irfft(x, n=7), [R]),
    "irfftn_s": (lambda L, x: L.fft.irfftn(x, s=(3, 5)), [R]),
    "fftn_dim": (lambda L, x: L.fft.fftn(x, dim=(0,)), [R]),
    "rfftn_s_dim": (lambda L, x: L.fft.rfftn(x, s=(5, 3), dim=(1, 0)), [R]),
    "hfft_n": (lambda L, x: L.fft.hfft(x, n=5), [R]),
    "fftshift": (lambda L, x: L.fft.fftshift(x), [rand(5, 4)]),
    "ifftshift_dim": (lambda L, x: L.fft.ifftshift(x, dim=0), [rand(5, 4)]),
    "fft_chain": (lambda L, x: L.fft.irfft(L.fft.rfft(x) * 2, n=6), [R]),
})


@pytest.mark.parametrize("name", list(CASES))
def test_fft_vs_torch(name):
    fn, arrays = CASES[name]
    check(fn, arrays, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("name", ["fft", "ifft", "fftn", "irfft", "hfft"])
def test_fft_complex_input_values(name):
    t = getattr(torch.fft, name)(torch.tensor(C))
    f = getattr(funcgrad.fft, name)(funcgrad.tensor(C))
    assert str(t.dtype).replace("torch.", "") == f.dtype.name
    np.testing.assert_allclose(np.asarray(funcgrad.to_jax(f)), t.numpy(), rtol=1e-6, atol=1e-8)


def test_fft_float32_dtype():
    x = rand(8).astype(np.float32)
    assert funcgrad.fft.fft(funcgrad.tensor(x)).dtype == funcgrad.complex64
    assert funcgrad.fft.irfft(funcgrad.fft.rfft(funcgrad.tensor(x))).dtype == funcgrad.float32


def test_fftfreq():
    for n, d in ((5, 1.0), (8, 0.5)):
        np.testing.assert_allclose(funcgrad.fft.fftfreq(n, d).numpy(), torch.fft.fftfreq(n, d).numpy())
        np.testing.assert_allclose(funcgrad.fft.rfftfreq(n, d).numpy(), torch.fft.rfftfreq(n, d).numpy())
        assert funcgrad.fft.fftfreq(n).dtype == funcgrad.float32


def test_rfft_complex_error():
    with pytest.raises(RuntimeError) as t:
        torch.fft.rfft(torch.tensor(C))
    with pytest.raises(RuntimeError) as f:
        funcgrad.fft.rfft(funcgrad.tensor(C))
    assert str(t.value) == str(f.value)


@pytest.mark.parametrize("center,onesided", [(True, None), (True, False)])
def test_stft_istft(center, onesided):
    x = rand(40)

    def fn2(L, x):
        w = L.tensor(torch.hann_window(8, dtype=torch.float64).numpy())
        s = L.stft(x, 8, hop_length=2, window=w, center=center, onesided=onesided, return_complex=True)
        return s, L.istft(s, 8, hop_length=2, window=w, center=center, onesided=onesided, length=40 if center else None)

    check(fn2, [x], names=False)
