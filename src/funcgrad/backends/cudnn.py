"""``torch.backends.cudnn``: flags accepted and stored (XLA picks GPU kernels itself)."""
import sys
import types

__all__ = ["is_available", "version", "enabled", "benchmark", "deterministic", "allow_tf32", "flags"]


def _gpu():
    from .. import cuda

    return cuda.is_available()


def is_available():
    return _gpu()


def version():
    return None


class _CudnnModule(types.ModuleType):
    enabled = True
    benchmark = False
    benchmark_limit = 10
    deterministic = False
    _allow_tf32 = True

    @property
    def allow_tf32(self):
        return self._allow_tf32

    @allow_tf32.setter
    def allow_tf32(self, flag):
        self._allow_tf32 = bool(flag)


class flags:
    """``with torch.backends.cudnn.flags(enabled=..., benchmark=..., deterministic=..., allow_tf32=...)``."""

    def __init__(self, enabled=False, benchmark=False, benchmark_limit=10, deterministic=False, allow_tf32=True):
        self.new = dict(enabled=enabled, benchmark=benchmark, benchmark_limit=benchmark_limit,
                        deterministic=deterministic, allow_tf32=allow_tf32)

    def __enter__(self):
        mod = sys.modules[__name__]
        self.old = {k: getattr(mod, k) for k in self.new}
        for k, v in self.new.items():
            setattr(mod, k, v)

    def __exit__(self, *exc):
        mod = sys.modules[__name__]
        for k, v in self.old.items():
            setattr(mod, k, v)


sys.modules[__name__].__class__ = _CudnnModule
