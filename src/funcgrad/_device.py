"""torch-style devices mapped onto JAX devices."""
from __future__ import annotations

import jax

_ALIASES = {"cuda": "gpu", "gpu": "gpu", "cpu": "cpu", "tpu": "tpu", "mps": "gpu"}


class device:
    """``device('cpu')``, ``device('cuda:0')``, ``device('cuda', 1)``; prints like torch."""

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):  # noqa: A002 - torch's argument name
        if isinstance(type, device):
            self.type, self.index = type.type, type.index
            return
        if not isinstance(type, str):
            raise TypeError(f"device() received an invalid combination of arguments - got ({type!r})")
        if ":" in type:
            if index is not None:
                raise RuntimeError(f"type (string) must not include an index because index was passed explicitly: {type}")
            type, idx = type.split(":", 1)
            try:
                index = int(idx)
            except ValueError:
                raise RuntimeError(f"Invalid device string: '{type}:{idx}'") from None
        if type not in _ALIASES:
            raise RuntimeError(
                # torch's list of device types (funcgrad runs cpu, cuda and, beyond torch, tpu)
                "Expected one of cpu, cuda, ipu, xpu, mkldnn, opengl, opencl, ideep, hip, ve, fpga, maia, xla, lazy, "
                "vulkan, mps, meta, hpu, mtia, privateuseone device type at start of device string: " + type
            )
        self.type, self.index = type, index

    def __repr__(self):
        return f"device(type='{self.type}'" + (f", index={self.index})" if self.index is not None else ")")

    def __str__(self):
        return self.type + (f":{self.index}" if self.index is not None else "")

    def __eq__(self, other):
        if isinstance(other, str):
            other = device(other)
        return isinstance(other, device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def jax_device(self):
        """The JAX device this names; RuntimeError when JAX has none of that kind."""
        platform = _ALIASES[self.type]
        try:
            devs = jax.local_devices(backend=platform)  # this process's (torch: cuda:0 is the local GPU 0)
        except RuntimeError:
            devs = []
        if not devs:
            raise RuntimeError(
                f"Found no {self.type.upper()} device: JAX sees only {[d.platform for d in jax.devices()]}. "
                "Install a JAX build with that backend or use device='cpu'."
            )
        i = self.index or 0
        if i >= len(devs):
            raise RuntimeError(f"{self.type} device index {i} out of range: JAX has {len(devs)} such device(s)")
        return devs[i]


def from_jax(d) -> device:
    if d.platform == "cpu":
        return device("cpu")
    t = "cuda" if d.platform == "gpu" or d.platform == "cuda" or d.platform == "rocm" else d.platform
    return device(t, d.id if t != "cpu" else None)


def as_device(d):
    if d is None or isinstance(d, device):
        return d
    if isinstance(d, int):
        return device("cuda", d)
    return device(d)


_CPU = device("cpu")


def default_jax_device():
    return jax.local_devices(backend="cpu")[0]
