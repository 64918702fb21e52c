"""``torch.nn.parallel.DistributedDataParallel`` on funcgrad's process group.

At wrap time the parameters and buffers of rank 0 are broadcast to every rank (one program). Each
parameter gets a post-accumulate-grad hook; the first one to fire in a backward pass queues an
end-of-backward callback on the autograd engine, which averages every gradient over the ranks as
ONE collective program: gradients flattened and concatenated per dtype (a bucket), one ``psum``
per bucket, split back. Eager, that program runs when ``backward()`` ends; inside a step compiled
by ``funcgrad.compile`` the same code traces into the compiled step.
"""
from __future__ import annotations

import contextlib

import jax
import jax.numpy as jnp
import numpy as np

from ... import distributed as dist
from ..._autograd import grad_mode
from ...autograd.engine import queue_callback
from ...distributed import _spmd
from ...tensor import Tensor
from ..module import Module

__all__ = ["DistributedDataParallel"]


def _flat_psum(arrays, world, mean):
    """Sum (or mean) over ranks of every array, one concatenated psum per dtype."""
    out = [None] * len(arrays)
    by_dtype = {}
    for i, a in enumerate(arrays):
        by_dtype.setdefault(jnp.dtype(a.dtype), []).append(i)
    for dt, idx in by_dtype.items():
        flat = jnp.concatenate([arrays[i].reshape(-1) for i in idx])
        red = jax.lax.psum(flat, _spmd.AXIS)
        if mean:
            red = (red / world).astype(dt)
        off = 0
        for i in idx:
            n = int(np.prod(arrays[i].shape))
            out[i] = red[off:off + n].reshape(arrays[i].shape)
            off += n
    return out


def _sync_module_states(tensors, src=0):
    """Every rank's tensors become rank ``src``'s (one program for all of them)."""
    if not tensors:
        return
    g = dist.distributed_c10d._default()
    arrays = [t._array() for t in tensors]

    def body(*xs):
        by_dtype = {}
        for i, a in enumerate(xs):
            by_dtype.setdefault(jnp.dtype(a.dtype), []).append(i)
        out = [None] * len(xs)
        for dt, idx in by_dtype.items():
            flat = jnp.concatenate([xs[i].reshape(-1) for i in idx])
            full = jax.lax.all_gather(flat, _spmd.AXIS)[src]
            off = 0
            for i in idx:
                n = int(np.prod(xs[i].shape))
                out[i] = full[off:off + n].reshape(xs[i].shape)
                off += n
        return tuple(out)

    res = _spmd.run(g.rt, ("ddp_sync", src, len(arrays)), body, arrays, "DistributedDataParallel (broadcast)")
    with grad_mode.no_grad():
        for t, r in zip(tensors, res):
            t._set_value(r)


class DistributedDataParallel(Module):
    """Data parallelism over processes: wrap the model after ``init_process_group``; each rank runs
    forward/backward on its own batch and ``backward()`` leaves the gradient averaged over ranks.

    ``device_ids``, ``output_device``, ``bucket_cap_mb``, ``gradient_as_bucket_view`` and
    ``static_graph`` are accepted (one bucket per dtype, XLA schedules the program);
    ``find_unused_parameters`` is accepted: a parameter without a gradient on some rank counts as
    zero there, and one unused on every rank keeps ``grad=None``. ``no_sync()`` accumulates locally.

    Example::

        dist.init_process_group("gloo")
        model = DistributedDataParallel(Net())
        loss = loss_fn(model(x_local), y_local); loss.backward()   # grads averaged over ranks
    """

    def __init__(self, module, device_ids=None, output_device=None, dim=0, broadcast_buffers=True,
                 process_group=None, bucket_cap_mb=None, find_unused_parameters=False, check_reduction=False,
                 gradient_as_bucket_view=False, static_graph=False, delay_all_reduce_named_params=None,
                 param_to_hook_all_reduce=None, mixed_precision=None, device_mesh=None, init_sync=True):
        super().__init__()
        if process_group is not None and process_group is not dist.group.WORLD:
            raise NotImplementedError("DistributedDataParallel(process_group=...): sub-groups are not implemented")
        if mixed_precision is not None:
            raise NotImplementedError("DistributedDataParallel(mixed_precision=...) is not implemented")
        g = dist.distributed_c10d._default()
        if not any(p.requires_grad for p in module.parameters()):
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter "
                               "that requires a gradient.")
        self.module = module
        self.device_ids = device_ids
        self.output_device = output_device
        self.dim = dim
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.gradient_as_bucket_view = gradient_as_bucket_view
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self.require_forward_param_sync = True
        object.__setattr__(self, "_world", g.world_size)
        object.__setattr__(self, "_params", [p for p in module.parameters() if p.requires_grad])
        object.__setattr__(self, "_queued", False)
        if init_sync:
            _sync_module_states(list(module.parameters()) + list(module.buffers()))
        for p in self._params:
            p.register_post_accumulate_grad_hook(self._grad_ready)

    def _grad_ready(self, param):
        if self.require_backward_grad_sync and not self._queued:
            object.__setattr__(self, "_queued", True)
            queue_callback(self._reduce_grads)

    def _reduce_grads(self):
        """Average every parameter's gradient over the ranks: one program, one psum per dtype bucket."""
        object.__setattr__(self, "_queued", False)
        params = self._params
        world = self._world
        g = dist.distributed_c10d._default()
        grads = [p.grad for p in params]
        arrays = [gr._array() if gr is not None else jnp.zeros(p._shape, p._array().dtype)
                  for p, gr in zip(params, grads)]
        used = np.array([gr is not None for gr in grads], np.float32)
        traced = any(_spmd.is_traced(a) for a in arrays)

        def body(flags, *xs):
            return (jax.lax.psum(flags, _spmd.AXIS),) + tuple(_flat_psum(list(xs), world, True))

        res = _spmd.run(g.rt, ("ddp_reduce", len(arrays)), body, [jnp.asarray(used)] + arrays,
                        "DistributedDataParallel (gradient all-reduce)")
        counts, new = res[0], res[1:]
        counts = None if traced else np.asarray(counts)
        with grad_mode.no_grad():
            for i, (p, gr, v) in enumerate(zip(params, grads, new)):
                if gr is not None:
                    gr._set_value(v)
                elif counts is None or counts[i] > 0:
                    p.grad = Tensor._make(v, p.device)

    def forward(self, *inputs, **kwargs):
        if self.broadcast_buffers and self.require_forward_param_sync:
            bufs = list(self.module.buffers())
            if bufs and self._world > 1:
                _sync_module_states(bufs)
        return self.module(*inputs, **kwargs)

    @contextlib.contextmanager
    def no_sync(self):
        """Inside, ``backward()`` accumulates gradients locally (no all-reduce); the first backward
        after it averages the accumulated gradients."""
        old = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = old

    def join(self, *args, **kwargs):
        raise NotImplementedError("DistributedDataParallel.join (uneven inputs) is not implemented")

    def register_comm_hook(self, state, hook):
        raise NotImplementedError("DistributedDataParallel.register_comm_hook is not implemented")
