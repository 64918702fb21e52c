"""``torch.backends.cuda``: ``matmul.allow_tf32`` (maps onto JAX's default matmul precision),
``matmul.allow_fp16_reduced_precision_reduction``, ``is_built``, SDP kernel flags (accepted)."""
from .. import _env

__all__ = ["is_built", "matmul", "enable_flash_sdp", "enable_mem_efficient_sdp", "enable_math_sdp",
           "flash_sdp_enabled", "mem_efficient_sdp_enabled", "math_sdp_enabled", "sdp_kernel"]


def is_built():
    from .. import cuda

    return cuda.is_available()


class _Matmul:
    allow_fp16_reduced_precision_reduction = True
    allow_bf16_reduced_precision_reduction = True

    @property
    def allow_tf32(self):
        return _env.get_float32_matmul_precision() != "highest"

    @allow_tf32.setter
    def allow_tf32(self, flag):
        _env.set_float32_matmul_precision("high" if flag else "highest")

    def __setattr__(self, name, value):
        if name not in ("allow_tf32", "allow_fp16_reduced_precision_reduction", "allow_bf16_reduced_precision_reduction",
                        "fp32_precision"):
            raise AttributeError("Unknown attribute " + name)
        object.__setattr__(self, name, value)


matmul = _Matmul()
_sdp = {"flash": True, "mem_efficient": True, "math": True}


def enable_flash_sdp(enabled):
    _sdp["flash"] = bool(enabled)


def enable_mem_efficient_sdp(enabled):
    _sdp["mem_efficient"] = bool(enabled)


def enable_math_sdp(enabled):
    _sdp["math"] = bool(enabled)


def flash_sdp_enabled():
    return _sdp["flash"]


def mem_efficient_sdp_enabled():
    return _sdp["mem_efficient"]


def math_sdp_enabled():
    return _sdp["math"]


class sdp_kernel:
    def __init__(self, enable_flash=True, enable_math=True, enable_mem_efficient=True, enable_cudnn=True):
        self.new = {"flash": enable_flash, "math": enable_math, "mem_efficient": enable_mem_efficient}

    def __enter__(self):
        self.old = dict(_sdp)
        _sdp.update(self.new)

    def __exit__(self, *exc):
        _sdp.update(self.old)
