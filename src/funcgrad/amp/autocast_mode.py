"""``torch.autocast``: the context manager / decorator and its state.

Without the device (``'cuda'`` with no GPU) autocast disables itself with torch's warning. An
autocast region that would actually change dtypes raises ``NotImplementedError``: funcgrad does not
run torch's per-op autocast policy yet, and running the region in float32 would silently differ.
"""
from __future__ import annotations

import functools
import threading
import warnings

from .. import _dtypes

__all__ = ["autocast", "is_autocast_enabled", "get_autocast_dtype", "is_autocast_available", "custom_fwd",
           "custom_bwd"]

_DEFAULT_DTYPE = {"cpu": _dtypes.bfloat16, "cuda": _dtypes.float16, "xpu": _dtypes.bfloat16, "mps": _dtypes.float16}


class _State(threading.local):
    def __init__(self):
        self.enabled = {}
        self.dtype = dict(_DEFAULT_DTYPE)


_state = _State()


def is_autocast_available(device_type):
    return device_type in _DEFAULT_DTYPE


def is_autocast_enabled(device_type=None):
    return bool(_state.enabled.get(device_type or "cuda", False))


def get_autocast_dtype(device_type):
    return _state.dtype[device_type]


class autocast:
    """``torch.autocast(device_type, dtype=None, enabled=True, cache_enabled=None)``."""

    def __init__(self, device_type, dtype=None, enabled=True, cache_enabled=None):
        if not isinstance(device_type, str):
            raise ValueError(f"Expected `device_type` of type `str`, got: `{type(device_type)}`")
        if device_type not in _DEFAULT_DTYPE:
            raise RuntimeError(f"User specified an unsupported autocast device_type '{device_type}'")
        self.device = device_type
        self.fast_dtype = _state.dtype[device_type] if dtype is None else dtype
        self._enabled = bool(enabled)
        self._cache_enabled = cache_enabled
        if self._enabled and device_type == "cuda":
            from .. import cuda

            if not cuda.is_available():
                warnings.warn("CUDA is not available or torch_xla is imported. Disabling autocast.", UserWarning,
                              stacklevel=2)
                self._enabled = False
        if self._enabled and device_type == "cpu" and self.fast_dtype not in (_dtypes.bfloat16, _dtypes.float16):
            warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling autocast.\n"
                          "CPU Autocast only supports dtype of torch.bfloat16, torch.float16 currently.",
                          UserWarning, stacklevel=2)
            self._enabled = False

    def __enter__(self):
        if self._enabled:
            raise NotImplementedError(
                f"torch.autocast(device_type='{self.device}', dtype={self.fast_dtype}) is not implemented in "
                "funcgrad (torch's per-op autocast policy); run the region in float32 or cast explicitly")
        self._prev = (_state.enabled.get(self.device, False), _state.dtype[self.device])
        _state.enabled[self.device] = False
        return self

    def __exit__(self, *exc):
        _state.enabled[self.device], _state.dtype[self.device] = self._prev
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with autocast(self.device, self.fast_dtype, self._enabled, self._cache_enabled):
                return fn(*args, **kwargs)
        return wrapper


def custom_fwd(fwd=None, *, device_type=None, cast_inputs=None):
    if fwd is None:
        return functools.partial(custom_fwd, device_type=device_type, cast_inputs=cast_inputs)
    return fwd


def custom_bwd(bwd=None, *, device_type=None):
    if bwd is None:
        return functools.partial(custom_bwd, device_type=device_type)
    return bwd
