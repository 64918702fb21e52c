"""``torch.signal.windows``: window functions, computed as torch computes them (a linspace, then the
window's formula), returned as new leaf tensors."""
from __future__ import annotations

import math

import numpy as np

from .. import _dtypes
from .._ops import creation, pointwise

__all__ = ["bartlett", "blackman", "cosine", "exponential", "gaussian", "general_cosine", "general_hamming",
           "hamming", "hann", "kaiser", "nuttall"]


def _checks(name, M, dtype, layout):
    if M < 0:
        raise ValueError(f"{name} requires non-negative window length, got M={M}")
    if layout is not None and str(layout) != "torch.strided":
        raise ValueError(f"{name} is implemented for strided tensors only, got: {layout}")
    dt = _dtypes.as_dtype(dtype) or _dtypes.get_default_dtype()
    if dt not in (_dtypes.float32, _dtypes.float64):
        raise ValueError(f"{name} expects float32 or float64 dtypes, got: {dt}")
    return dt


def _out(arr, dt, device, requires_grad):
    return creation.tensor(np.asarray(arr, dtype=np.float64).astype(dt.np), device=device, requires_grad=requires_grad)


def _lin(start, end, M, dt, device=None, requires_grad=False):
    return creation.linspace(start, end, M, dtype=dt, device=device, requires_grad=requires_grad)


def _trivial(M, dt, device, requires_grad):
    if M == 0:
        return _out(np.zeros(0), dt, device, requires_grad)
    if M == 1:
        return _out(np.ones(1), dt, device, requires_grad)
    return None


def exponential(M, *, center=None, tau=1.0, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """Exponential (Poisson) window: ``exp(-|n - center| / tau)``."""
    dt = _checks("exponential", M, dtype, layout)
    if tau <= 0:
        raise ValueError(f"Tau must be positive, got: {tau} instead.")
    if sym and center is not None:
        raise ValueError("Center must be None for symmetric windows")
    if M == 0:
        return _out(np.zeros(0), dt, device, requires_grad)
    if center is None:
        center = (M if not sym and M > 1 else M - 1) / 2.0
    c = 1 / tau
    k = _lin(-center * c, (-center + (M - 1)) * c, M, dt, device, requires_grad)
    return pointwise.exp(-pointwise.abs(k))


def cosine(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """Cosine (sine) window."""
    dt = _checks("cosine", M, dtype, layout)
    if M == 0:
        return _out(np.zeros(0), dt, device, requires_grad)
    start = 0.5
    c = math.pi / (M + 1 if not sym and M > 1 else M)
    k = _lin(start * c, (start + (M - 1)) * c, M, dt, device, requires_grad)
    return pointwise.sin(k)


def gaussian(M, *, std=1.0, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """Gaussian window of standard deviation ``std``."""
    dt = _checks("gaussian", M, dtype, layout)
    if std <= 0:
        raise ValueError(f"Standard deviation must be positive, got: {std} instead.")
    if M == 0:
        return _out(np.zeros(0), dt, device, requires_grad)
    start = -(M if not sym and M > 1 else M - 1) / 2.0
    c = 1 / (std * math.sqrt(2))
    k = _lin(start * c, (start + (M - 1)) * c, M, dt, device, requires_grad)
    return pointwise.exp(-k ** 2)


def kaiser(M, *, beta=12.0, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """Kaiser window of shape parameter ``beta``."""
    dt = _checks("kaiser", M, dtype, layout)
    if beta < 0:
        raise ValueError(f"beta must be non-negative, got: {beta} instead.")
    t = _trivial(M, dt, device, requires_grad)
    if t is not None:
        return t
    start = -beta
    c = 2.0 * beta / (M if not sym else M - 1)
    end = min(beta, start + (M - 1) * c)
    k = _lin(start, end, M, dt, device, requires_grad)
    if not hasattr(F, "i0"):
        raise NotImplementedError("signal.windows.kaiser needs torch.i0, not in funcgrad yet")
    return (pointwise.i0(pointwise.sqrt(beta * beta - pointwise.pow(k, 2)))
            / pointwise.i0(creation.tensor(beta, dtype=dt, device=device)))


def general_cosine(M, *, a, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """Sum of cosines ``sum_i (-1)^i a_i cos(2 pi i n / (M - 1))``."""
    dt = _checks("general_cosine", M, dtype, layout)
    if not hasattr(a, "__iter__"):
        raise TypeError("Coefficients must be a list/tuple")
    if not a:
        raise ValueError("Coefficients cannot be empty")
    t = _trivial(M, dt, device, requires_grad)
    if t is not None:
        return t
    c = 2 * math.pi / (M if not sym else M - 1)
    k = _lin(0, (M - 1) * c, M, dt, device, requires_grad)
    ai = creation.tensor([(-1) ** i * float(w) for i, w in enumerate(a)], device=device, dtype=dt)
    i = creation.arange(ai.shape[0], dtype=ai.dtype, device=device)
    return (ai.unsqueeze(-1) * pointwise.cos(i.unsqueeze(-1) * k)).sum(0)


def general_hamming(M, *, alpha=0.54, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """Generalised Hamming window ``alpha - (1 - alpha) cos(2 pi n / (M - 1))``."""
    return general_cosine(M, a=[alpha, 1.0 - alpha], sym=sym, dtype=dtype, layout=layout, device=device,
                          requires_grad=requires_grad)


def hamming(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    return general_hamming(M, sym=sym, dtype=dtype, layout=layout, device=device, requires_grad=requires_grad)


def hann(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    return general_hamming(M, alpha=0.5, sym=sym, dtype=dtype, layout=layout, device=device,
                           requires_grad=requires_grad)


def blackman(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    dt = _checks("blackman", M, dtype, layout)
    return general_cosine(M, a=[0.42, 0.5, 0.08], sym=sym, dtype=dt, layout=layout, device=device,
                          requires_grad=requires_grad)


def bartlett(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    """Triangular window ``1 - |2n / (M - 1) - 1|``."""
    dt = _checks("bartlett", M, dtype, layout)
    t = _trivial(M, dt, device, requires_grad)
    if t is not None:
        return t
    start = -1
    c = 2 / (M if not sym else M - 1)
    k = _lin(start, start + (M - 1) * c, M, dt, device, requires_grad)
    return 1 - pointwise.abs(k)


def nuttall(M, *, sym=True, dtype=None, layout=None, device=None, requires_grad=False):
    dt = _checks("nuttall", M, dtype, layout)
    return general_cosine(M, a=[0.3635819, 0.4891775, 0.1365995, 0.0106411], sym=sym, dtype=dt, layout=layout,
                          device=device, requires_grad=requires_grad)
