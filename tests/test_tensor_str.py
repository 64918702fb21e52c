"""Tensor printing compared with torch's: complex tensors (real and imaginary parts formatted
separately, as torch/_tensor_str.py does)."""
import numpy as np
import pytest
import torch

import funcgrad

_R = np.random.RandomState(0)
CASES = [
    np.array([1 + 2j, -0.5j, 3.25 + 0j]),
    np.array([1.123456789 + 2.5j, 1e-5 - 3j]),
    np.array([[1e5 + 1j, 2j], [0, -1 - 1j]]),
    np.array(1.5 + 2j),
    np.array([1 + 2j, float("nan") + 1j, float("inf") - 2j]),
    _R.randn(40) + 1j * _R.randn(40),
    _R.randn(60, 60) + 1j * _R.randn(60, 60),
    (_R.randn(3, 5) + 1j * _R.randn(3, 5)) * 1e6,
    np.zeros(3) + 0j,
    -(np.ones(3) + 1j),
]


@pytest.mark.parametrize("dtype", ["complex64", "complex128"])
@pytest.mark.parametrize("k", range(len(CASES)))
def test_complex_repr(k, dtype):
    a = CASES[k]
    t = torch.tensor(a, dtype=getattr(torch, dtype))
    f = funcgrad.tensor(a, dtype=getattr(funcgrad, dtype))
    assert repr(f) == repr(t)
    assert str(f * 2) == str(t * 2)


def test_complex_repr_grad_fn():
    t = torch.tensor([1 + 1j, 2 + 2j], requires_grad=True)
    f = funcgrad.tensor([1 + 1j, 2 + 2j], requires_grad=True)
    assert repr(f * 2) == repr(t * 2)
    assert repr(f) == repr(t)
