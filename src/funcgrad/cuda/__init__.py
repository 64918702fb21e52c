"""``torch.cuda``: answers from JAX's GPU devices. Without a GPU it answers as a CPU-only torch build
(``is_available()`` False, memory counters 0, device queries raise ``AssertionError``)."""
from __future__ import annotations

import jax

from .._ops import creation as _creation

__all__ = ["is_available", "device_count", "current_device", "set_device", "get_device_name",
           "get_device_capability", "get_device_properties", "synchronize", "manual_seed", "manual_seed_all", "seed",
           "seed_all", "initial_seed", "get_rng_state", "set_rng_state", "get_rng_state_all", "set_rng_state_all", "is_bf16_supported", "is_initialized", "init", "memory_allocated",
           "max_memory_allocated", "memory_reserved", "max_memory_reserved", "reset_peak_memory_stats",
           "reset_max_memory_allocated", "empty_cache", "memory_stats", "device", "amp"]

_current = [0]


def _gpus():
    try:
        return jax.local_devices(backend="gpu")
    except RuntimeError:
        return []


def _require():
    if not _gpus():
        raise AssertionError("Torch not compiled with CUDA enabled")


def is_available():
    return len(_gpus()) > 0


def device_count():
    return len(_gpus())


def is_initialized():
    return is_available()


def init():
    _require()


def current_device():
    _require()
    return _current[0]


def set_device(device):
    from .._device import as_device

    d = as_device(device)
    idx = d if isinstance(d, int) else (d.index or 0)
    if is_available():
        _current[0] = idx


def _dev(device=None):
    _require()
    from .._device import device as _device_cls

    if device is None:
        i = _current[0]
    elif isinstance(device, int):
        i = device
    else:
        i = _device_cls(device).index or 0
    gpus = _gpus()
    if i >= len(gpus):
        raise AssertionError("Invalid device id")
    return gpus[i]


def get_device_name(device=None):
    return _dev(device).device_kind


def get_device_capability(device=None):
    cc = getattr(_dev(device), "compute_capability", None)
    if cc is None:
        return (0, 0)
    major, _, minor = str(cc).partition(".")
    return (int(major), int(minor or 0))


class _DeviceProperties:
    def __init__(self, d):
        self.name = d.device_kind
        self.major, self.minor = get_device_capability(d.id)
        stats = d.memory_stats() or {}
        self.total_memory = int(stats.get("bytes_limit", 0))
        self.multi_processor_count = int(getattr(d, "core_count", 0) or 0)

    def __repr__(self):
        return (f"_CudaDeviceProperties(name='{self.name}', major={self.major}, minor={self.minor}, "
                f"total_memory={self.total_memory // (1024 * 1024)}MB, "
                f"multi_processor_count={self.multi_processor_count})")


def get_device_properties(device=None):
    return _DeviceProperties(_dev(device))


def synchronize(device=None):
    """Waits for all pending funcgrad work on the device (flushes the lazy tape too)."""
    _require()
    (jax.device_put(0.0, _dev(device)) + 0).block_until_ready()


def is_bf16_supported(including_emulation=True):
    return is_available()


def manual_seed(seed):
    """Seeds funcgrad's generator when a GPU exists (funcgrad has one stream for all devices);
    without one it is a no-op, as in torch (lazy CUDA seeding)."""
    if is_available():
        _creation.manual_seed(seed)


manual_seed_all = manual_seed


def seed():
    if is_available():
        _creation.seed()


seed_all = seed


def initial_seed():
    _require()
    return _creation.initial_seed()


def get_rng_state(device="cuda"):
    """funcgrad has one random stream for all devices: its state (needs a GPU, as in torch)."""
    _require()
    return _creation.get_rng_state()


def set_rng_state(new_state, device="cuda"):
    _require()
    _creation.set_rng_state(new_state)


def get_rng_state_all():
    return [_creation.get_rng_state() for _ in range(device_count())]


def set_rng_state_all(new_states):
    for st in list(new_states)[:1]:
        _creation.set_rng_state(st)


def memory_stats(device=None):
    if not is_available():
        return {}
    return dict(_dev(device).memory_stats() or {})


def _stat(key, device):
    if not is_available():
        return 0
    return int((_dev(device).memory_stats() or {}).get(key, 0))


def memory_allocated(device=None):
    return _stat("bytes_in_use", device)


def max_memory_allocated(device=None):
    return _stat("peak_bytes_in_use", device)


def memory_reserved(device=None):
    return _stat("bytes_reserved", device) or _stat("bytes_in_use", device)


def max_memory_reserved(device=None):
    return _stat("peak_bytes_reserved", device) or _stat("peak_bytes_in_use", device)


def reset_peak_memory_stats(device=None):
    """Accepted (XLA keeps its own peak counter, which cannot be reset)."""
    _require()


reset_max_memory_allocated = reset_peak_memory_stats


def empty_cache():
    pass


class device:
    """``with torch.cuda.device(i):`` selects the current CUDA device index."""

    def __init__(self, device):
        self.idx = device if isinstance(device, int) else (getattr(device, "index", None) or 0)

    def __enter__(self):
        self.prev = _current[0]
        if is_available():
            _current[0] = self.idx

    def __exit__(self, *exc):
        _current[0] = self.prev


from . import amp  # noqa: E402
