"""``torch.distributed.fsdp``: fully sharded data parallelism over funcgrad's process group.

``fully_shard(module)`` (FSDP2's API) replaces every parameter of ``module``'s subtree (not already
sharded by an inner ``fully_shard``) with this rank's 1/world block of it: the parameter flattened,
padded to a multiple of ``world_size`` and split, so parameters, their gradients and the optimizer
state built on ``module.parameters()`` take 1/world of the memory on every rank. Each forward
all-gathers the full parameters (one program for all of them) through an autograd function whose
backward reduce-scatters the gradients (one program, averaged over ranks like DDP), so ``.grad``
of every shard is its block of the averaged gradient and the optimizer steps on shards only.
``state_dict()`` gathers full tensors under the original names; ``load_state_dict`` takes them.
Eager, and inside ``funcgrad.compile`` (the gathers and reduce-scatters are compiled in).
"""
from __future__ import annotations

import contextlib

import jax
import jax.numpy as jnp
import numpy as np

from ..._autograd import grad_mode
from ...autograd.function import Function
from ...nn.module import Module
from ...nn.parallel.distributed import _sync_module_states
from ...nn.parameter import Parameter
from ...tensor import Tensor
from .. import _spmd
from .. import distributed_c10d as c10d

__all__ = ["fully_shard", "FSDPModule", "FullyShardedDataParallel", "ShardingStrategy", "MixedPrecisionPolicy",
           "StateDictType", "FullStateDictConfig"]


class ShardingStrategy:
    FULL_SHARD = "FULL_SHARD"
    SHARD_GRAD_OP = "SHARD_GRAD_OP"
    NO_SHARD = "NO_SHARD"
    HYBRID_SHARD = "HYBRID_SHARD"


class StateDictType:
    FULL_STATE_DICT = "FULL_STATE_DICT"
    SHARDED_STATE_DICT = "SHARDED_STATE_DICT"
    LOCAL_STATE_DICT = "LOCAL_STATE_DICT"


class FullStateDictConfig:
    def __init__(self, offload_to_cpu=False, rank0_only=False):
        self.offload_to_cpu = offload_to_cpu
        self.rank0_only = rank0_only


class MixedPrecisionPolicy:
    def __init__(self, param_dtype=None, reduce_dtype=None, output_dtype=None, cast_forward_inputs=True):
        if param_dtype is not None or reduce_dtype is not None:
            raise NotImplementedError("fully_shard(mp_policy=MixedPrecisionPolicy(param_dtype/reduce_dtype)) is not "
                                      "implemented")


class _Slot:
    """One sharded parameter: where it lives, its full shape, and its block."""

    def __init__(self, owners, shape, numel, k, shard):
        self.owners = owners  # [(module, attribute name)] (tied parameters have several)
        self.shape = shape
        self.numel = numel
        self.k = k  # elements per rank
        self.shard = shard  # the Parameter holding this rank's block


def _groups(dtypes):
    out = {}
    for i, dt in enumerate(dtypes):
        out.setdefault(jnp.dtype(dt), []).append(i)
    return out


class _State:
    def __init__(self, slots, world, rank, rt):
        self.slots = slots
        self.world = world
        self.rank = rank
        self.rt = rt
        self.key = id(self)
        self.unsharded = False

    def gather_body(self, *shards):
        """Blocks of every rank -> full parameters (one all-gather per dtype)."""
        out = [None] * len(shards)
        for _, idx in _groups([s.dtype for s in shards]).items():
            g = jax.lax.all_gather(jnp.concatenate([shards[i] for i in idx]), _spmd.AXIS)  # (world, K)
            off = 0
            for i in idx:
                sl = self.slots[i]
                out[i] = g[:, off:off + sl.k].reshape(-1)[:sl.numel].reshape(sl.shape)
                off += sl.k
        return tuple(out)

    def scatter_body(self, *grads):
        """Full gradients of every rank -> this rank's block of their average (one reduce-scatter per dtype)."""
        out = [None] * len(grads)
        w = self.world
        for dt, idx in _groups([g.dtype for g in grads]).items():
            cols = []
            for i in idx:
                sl = self.slots[i]
                flat = jnp.pad(grads[i].reshape(-1), (0, w * sl.k - sl.numel))
                cols.append(flat.reshape(w, sl.k))
            red = jax.lax.psum_scatter(jnp.concatenate(cols, axis=1), _spmd.AXIS, scatter_dimension=0, tiled=False)
            red = (red / w).astype(dt)
            off = 0
            for i in idx:
                out[i] = red[off:off + self.slots[i].k]
                off += self.slots[i].k
        return tuple(out)

    def gather(self):
        arrays = [sl.shard._array() for sl in self.slots]
        return _spmd.run(self.rt, ("fsdp_gather", self.key), self.gather_body, arrays, "fully_shard (all-gather)")


class _Unshard(Function):
    """Shards -> full parameters; backward: gradients reduce-scattered and averaged back to the shards."""

    @staticmethod
    def forward(ctx, st, *shards):
        ctx.st = st
        return tuple(Tensor._make(f, s.device) for f, s in zip(st.gather(), shards))

    @staticmethod
    def backward(ctx, *grads):
        st = ctx.st
        arrays = [g._array() if g is not None else jnp.zeros(sl.shape, sl.shard._array().dtype)
                  for g, sl in zip(grads, st.slots)]
        blocks = _spmd.run(st.rt, ("fsdp_reduce_scatter", st.key), st.scatter_body, arrays,
                           "fully_shard (reduce-scatter)")
        return (None,) + tuple(Tensor._make(b, sl.shard.device) for b, sl in zip(blocks, st.slots))


class FSDPModule:
    """Mixed into a module by :func:`fully_shard` (its class becomes ``FSDP<Class>``, as in torch)."""

    def forward(self, *args, **kwargs):
        st = self._fsdp_state
        if st.unsharded or not st.slots:
            return super().forward(*args, **kwargs)
        fulls = _Unshard.apply(st, *[sl.shard for sl in st.slots])
        try:
            _put(st, fulls)
            return super().forward(*args, **kwargs)
        finally:
            _put(st, [sl.shard for sl in st.slots])

    def unshard(self, async_op=False):
        """Hold full parameters (plain Parameters, no gradient link to the shards) until :meth:`reshard`."""
        st = self._fsdp_state
        if not st.unsharded:
            with grad_mode.no_grad():
                fulls = [Parameter(Tensor._make(f, sl.shard.device), requires_grad=sl.shard.requires_grad)
                         for f, sl in zip(st.gather(), st.slots)]
            _put(st, fulls)
            st.unsharded = True
        return None

    def reshard(self):
        """Back to shards; values written into the full parameters meanwhile are kept (their blocks)."""
        st = self._fsdp_state
        if not st.unsharded:
            return
        with grad_mode.no_grad():
            for sl in st.slots:
                full = getattr(sl.owners[0][0], sl.owners[0][1])._array()
                flat = jnp.pad(full.reshape(-1), (0, st.world * sl.k - sl.numel))
                sl.shard._set_value(flat[st.rank * sl.k:(st.rank + 1) * sl.k].astype(sl.shard._array().dtype))
        _put(st, [sl.shard for sl in st.slots])
        st.unsharded = False

    def _fsdp_subtree(self):
        return [m for m in self.modules() if isinstance(m, FSDPModule)]

    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        """Full (gathered) tensors under the original parameter names, on every rank."""
        mods = [m for m in self._fsdp_subtree() if not m._fsdp_state.unsharded]
        for m in mods:
            m.unshard()
        try:
            return super().state_dict(*args, destination=destination, prefix=prefix, keep_vars=keep_vars)
        finally:
            for m in reversed(mods):
                _put(m._fsdp_state, [sl.shard for sl in m._fsdp_state.slots])
                m._fsdp_state.unsharded = False

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Load full tensors (as :meth:`state_dict` gives them); every rank keeps its blocks."""
        mods = [m for m in self._fsdp_subtree() if not m._fsdp_state.unsharded]
        for m in mods:
            m.unshard()
        try:
            return super().load_state_dict(state_dict, strict=strict, assign=assign)
        finally:
            for m in reversed(mods):
                m.reshard()

    def set_requires_gradient_sync(self, requires_gradient_sync, *, recurse=True):
        if not requires_gradient_sync:
            raise NotImplementedError("fully_shard: set_requires_gradient_sync(False) is not implemented")

    def set_reshard_after_forward(self, reshard_after_forward, recurse=True):
        pass


def _put(st, tensors):
    for sl, t in zip(st.slots, tensors):
        for mod, name in sl.owners:
            mod._parameters[name] = t


def fully_shard(module, *, mesh=None, reshard_after_forward=True, shard_placement_fn=None, mp_policy=None,
                offload_policy=None, ignored_params=None):
    """Shard ``module``'s parameters over the ranks of the default process group (FSDP2's ``fully_shard``).

    Call it on inner blocks first, then on the root; build the optimizer afterwards (it sees the
    shards). Every rank must start from the same parameter values. Returns ``module`` (its class
    becomes ``FSDP<Class>``).

    Example::

        for block in model.blocks:
            fully_shard(block)
        fully_shard(model)
        opt = torch.optim.AdamW(model.parameters())   # 1/world of the state per rank
    """
    if mesh is not None:
        raise NotImplementedError("fully_shard(mesh=...): only the default process group is implemented")
    if offload_policy is not None:
        raise NotImplementedError("fully_shard(offload_policy=...) is not implemented")
    if isinstance(module, FSDPModule):
        return module
    g = c10d._default()
    w, r = g.world_size, g.rank
    ignored = {id(p) for p in (ignored_params or ())}
    slots = {}
    for mod in module.modules():
        if isinstance(mod, FSDPModule) and mod is not module:
            continue
        if any(isinstance(a, FSDPModule) and mod in set(a.modules()) for a in module.modules() if a is not module):
            continue
        for name, p in list(mod._parameters.items()):
            if p is None or id(p) in ignored:
                continue
            sl = slots.get(id(p))
            if sl is None:
                numel = int(np.prod(p._shape)) if p._shape else 1
                k = max(1, -(-numel // w))
                flat = jnp.pad(p._array().reshape(-1), (0, w * k - numel))
                shard = Parameter(Tensor._make(flat[r * k:(r + 1) * k], p.device), requires_grad=p.requires_grad)
                sl = slots[id(p)] = _Slot([], tuple(p._shape), numel, k, shard)
            sl.owners.append((mod, name))
    st = _State(list(slots.values()), w, r, g.rt)
    _put(st, [sl.shard for sl in st.slots])
    cls = type(module)
    module.__class__ = type(f"FSDP{cls.__name__}", (FSDPModule, cls), {})
    object.__setattr__(module, "_fsdp_state", st)
    return module


class FullyShardedDataParallel(Module):
    """FSDP1's wrapper: ``FullyShardedDataParallel(module)`` = :func:`fully_shard` of ``module`` behind a
    wrapper Module; ``state_dict()`` gives the full tensors under the wrapped module's names.
    ``sync_module_states=True`` first broadcasts rank 0's parameters and buffers."""

    def __init__(self, module, process_group=None, sharding_strategy=None, cpu_offload=None, auto_wrap_policy=None,
                 backward_prefetch=None, mixed_precision=None, ignored_modules=None, param_init_fn=None,
                 device_id=None, sync_module_states=False, forward_prefetch=False, limit_all_gathers=True,
                 use_orig_params=False, ignored_states=None, device_mesh=None):
        super().__init__()
        if sharding_strategy not in (None, ShardingStrategy.FULL_SHARD):
            raise NotImplementedError(f"FullyShardedDataParallel(sharding_strategy={sharding_strategy}): only "
                                      "FULL_SHARD is implemented")
        if mixed_precision is not None or cpu_offload is not None or auto_wrap_policy is not None:
            raise NotImplementedError("FullyShardedDataParallel: mixed_precision, cpu_offload and auto_wrap_policy "
                                      "are not implemented (use fully_shard on the blocks)")
        if sync_module_states:
            _sync_module_states(list(module.parameters()) + list(module.buffers()))
        self._fsdp_wrapped_module = fully_shard(module)

    @property
    def module(self):
        return self._fsdp_wrapped_module

    def forward(self, *args, **kwargs):
        return self._fsdp_wrapped_module(*args, **kwargs)

    def state_dict(self, *args, destination=None, prefix="", keep_vars=False):
        return self._fsdp_wrapped_module.state_dict(destination=destination, prefix=prefix, keep_vars=keep_vars)

    def load_state_dict(self, state_dict, strict=True, assign=False):
        return self._fsdp_wrapped_module.load_state_dict(state_dict, strict=strict, assign=assign)

    @staticmethod
    @contextlib.contextmanager
    def state_dict_type(module, state_dict_type, state_dict_config=None, optim_state_dict_config=None):
        if state_dict_type != StateDictType.FULL_STATE_DICT:
            raise NotImplementedError(f"FullyShardedDataParallel.state_dict_type({state_dict_type}): only "
                                      "FULL_STATE_DICT is implemented")
        yield
