"""Process-wide settings PyTorch scripts call: ``finfo``/``iinfo``, thread counts, deterministic
algorithms, float32 matmul precision (mapped onto JAX's ``jax_default_matmul_precision``)."""
from __future__ import annotations

import os
import warnings

import jax
import numpy as np

from . import _dtypes

__all__ = ["finfo", "iinfo", "set_num_threads", "get_num_threads", "set_num_interop_threads",
           "get_num_interop_threads", "use_deterministic_algorithms", "are_deterministic_algorithms_enabled",
           "is_deterministic_algorithms_warn_only_enabled", "set_float32_matmul_precision",
           "get_float32_matmul_precision"]


def _fmt(v):
    return f"{v:.6g}"


class finfo:
    """``torch.finfo(dtype)``: bits, eps, max, min, tiny/smallest_normal, resolution, dtype (a str)."""

    def __init__(self, type=None):  # noqa: A002 - torch's name
        d = _dtypes.get_default_dtype() if type is None else type
        if not isinstance(d, _dtypes.dtype) or not (d.is_floating_point or d.is_complex):
            raise TypeError("torch.finfo() requires a floating point input type. Use torch.iinfo to handle "
                            "'torch.finfo'")
        d = d.to_real()
        if d.name == "bfloat16":
            import ml_dtypes

            f = ml_dtypes.finfo(d.np)
        else:
            f = np.finfo(d.np)
        self.bits = int(f.bits)
        self.eps = float(f.eps)
        self.max = float(f.max)
        self.min = float(f.min)
        self.tiny = self.smallest_normal = float(f.smallest_normal)
        self.resolution = float(10.0 ** -int(f.precision))
        self.dtype = d.name

    def __repr__(self):
        return (f"finfo(resolution={_fmt(self.resolution)}, min={_fmt(self.min)}, max={_fmt(self.max)}, "
                f"eps={_fmt(self.eps)}, smallest_normal={_fmt(self.smallest_normal)}, tiny={_fmt(self.tiny)}, "
                f"dtype={self.dtype})")


class iinfo:
    """``torch.iinfo(dtype)``: bits, max, min, dtype (a str)."""

    def __init__(self, type):  # noqa: A002
        if not isinstance(type, _dtypes.dtype) or type.is_floating_point or type.is_complex:
            raise TypeError("torch.iinfo() requires an integer input type. Use torch.finfo to handle "
                            "'torch.iinfo'")
        i = np.iinfo(type.np) if type.name != "bool" else None
        if i is None:
            self.bits, self.min, self.max = 8, 0, 1
        else:
            self.bits, self.min, self.max = int(i.bits), int(i.min), int(i.max)
        self.dtype = type.name

    def __repr__(self):
        return f"iinfo(min={_fmt(self.min)}, max={_fmt(self.max)}, dtype={self.dtype})"


def _cpu_count():
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        return os.cpu_count() or 1


_threads = {"intra": None, "inter": None}


def set_num_threads(int):  # noqa: A002 - torch's argument name
    """Recorded for ``get_num_threads``; XLA sizes its CPU thread pool once, at start-up."""
    if not isinstance(int, (type(1),)) or int <= 0:
        raise RuntimeError("set_num_threads expects a positive integer")
    _threads["intra"] = int


def get_num_threads():
    return _threads["intra"] or _cpu_count()


def set_num_interop_threads(int):  # noqa: A002
    if int <= 0:
        raise RuntimeError("Number of inter-op threads must be positive")
    _threads["inter"] = int


def get_num_interop_threads():
    return _threads["inter"] or _cpu_count()


_det = {"mode": False, "warn_only": False}


def use_deterministic_algorithms(mode, *, warn_only=False):
    """Accepted: XLA's CPU and GPU kernels used by funcgrad are deterministic run to run."""
    _det["mode"], _det["warn_only"] = bool(mode), bool(warn_only)


def are_deterministic_algorithms_enabled():
    return _det["mode"]


def is_deterministic_algorithms_warn_only_enabled():
    return _det["warn_only"]


_PRECISION_TO_JAX = {"highest": "float32", "high": "tensorfloat32", "medium": "bfloat16"}
_precision = ["highest"]


def set_float32_matmul_precision(precision):
    """``'highest'``/``'high'``/``'medium'`` set JAX's default matmul precision to float32 /
    tensorfloat32 / bfloat16 passes (what torch means on GPUs; CPU matmuls stay float32)."""
    if precision not in _PRECISION_TO_JAX:
        warnings.warn(f"{precision} is not one of 'highest', 'high', or 'medium'; the current"
                      "setFloat32MatmulPrecision call has no effect.", UserWarning, stacklevel=2)
        return
    _precision[0] = precision
    jax.config.update("jax_default_matmul_precision", _PRECISION_TO_JAX[precision])


def get_float32_matmul_precision():
    return _precision[0]
