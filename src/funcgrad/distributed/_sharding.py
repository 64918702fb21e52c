"""Placing tensors and modules on a ``jax.sharding`` mesh of this process's devices (public API)."""
from __future__ import annotations

import jax
from jax.sharding import NamedSharding, PartitionSpec

from .. import _lazy
from ..nn.module import Module
from ..tensor import Tensor

__all__ = ["shard"]


def shard(obj, mesh, spec=None):
    """Place ``obj`` on ``mesh`` with ``PartitionSpec`` ``spec`` (``None``: replicated), in place.

    ``obj`` is a Tensor (its value moves; the tensor object, its ``.grad`` link and autograd identity
    stay) or a Module (every parameter and buffer, replicated unless ``spec`` is given). A
    ``NamedSharding`` may be passed as ``mesh`` (then ``spec`` is omitted). Returns ``obj``.
    Operations on sharded tensors run as SPMD programs: XLA partitions them and inserts the
    collectives (a batch split on ``"data"`` with replicated parameters is data parallelism).

    Example::

        mesh = Mesh(np.array(jax.devices()), ("data",))
        shard(model, mesh)                      # parameters replicated
        shard(x, mesh, PartitionSpec("data"))   # batch split over devices
    """
    if isinstance(mesh, NamedSharding):
        sharding = mesh
    else:
        if spec is None:
            spec = PartitionSpec()
        elif not isinstance(spec, PartitionSpec):
            spec = PartitionSpec(*spec) if isinstance(spec, (tuple, list)) else PartitionSpec(spec)
        sharding = NamedSharding(mesh, spec)
    if isinstance(obj, Module):
        for t in list(obj.parameters()) + list(obj.buffers()):
            _place(t, sharding)
        return obj
    if isinstance(obj, Tensor):
        return _place(obj, sharding)
    raise TypeError(f"funcgrad.distributed.shard: expected a Tensor or a Module, got {type(obj).__name__}")


def _place(t, sharding):
    if t._view is not None:
        raise ValueError("funcgrad.distributed.shard: a view cannot be placed on its own; shard its base tensor")
    t._st.value = _lazy.wrap(jax.device_put(t._array(), sharding))
    if t._grad is not None:
        t._grad._st.value = _lazy.wrap(jax.device_put(t._grad._array(), sharding))
    return t
