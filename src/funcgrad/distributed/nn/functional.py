"""``torch.distributed.nn.functional``: collectives that autograd differentiates through, as torch's.

``all_reduce``'s backward all-reduces the gradient (same op); ``all_gather``'s backward gives each
rank the sum over ranks of the gradient of its slot (a reduce-scatter); ``broadcast``'s sums the
gradients into ``src`` (zero elsewhere); ``reduce_scatter``'s all-gathers.
"""
from __future__ import annotations

from ...autograd.function import Function
from ..._ops.creation import zeros_like
from ..._ops.indexing import stack
from .. import distributed_c10d as c10d
from ..distributed_c10d import ReduceOp

__all__ = ["all_reduce", "all_gather", "broadcast", "reduce_scatter", "all_to_all"]


class _AllReduce(Function):
    @staticmethod
    def forward(ctx, op, group, tensor):
        ctx.op = op
        ctx.group = group
        out = tensor.clone()
        c10d.all_reduce(out, op=op, group=group)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        return (None, None, _AllReduce.apply(ctx.op, ctx.group, grad_output))


class _AllGather(Function):
    @staticmethod
    def forward(ctx, group, tensor):
        ctx.group = group
        out = [zeros_like(tensor) for _ in range(c10d.get_world_size(group))]
        c10d.all_gather(out, tensor, group=group)
        return tuple(out)

    @staticmethod
    def backward(ctx, *grad_outputs):
        g = grad_outputs[0]
        out = zeros_like(g)
        c10d.reduce_scatter_tensor(out, stack([x if x is not None else zeros_like(g) for x in grad_outputs]),
                                   op=ReduceOp.SUM, group=ctx.group)
        return (None, out)


class _Broadcast(Function):
    @staticmethod
    def forward(ctx, src, group, tensor):
        ctx.src = src
        ctx.group = group
        out = tensor.clone()
        c10d.broadcast(out, src, group=group)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        g = grad_output.clone()
        c10d.reduce(g, ctx.src, op=ReduceOp.SUM, group=ctx.group)
        if c10d.get_rank(ctx.group) != ctx.src:
            g = zeros_like(g)
        return (None, None, g)


class _ReduceScatter(Function):
    @staticmethod
    def forward(ctx, op, group, output, *input_list):
        ctx.group = group
        out = output.clone()
        c10d.reduce_scatter(out, list(input_list), op=op, group=group)
        return out

    @staticmethod
    def backward(ctx, grad_output):
        grads = [zeros_like(grad_output) for _ in range(c10d.get_world_size(ctx.group))]
        c10d.all_gather(grads, grad_output.contiguous(), group=ctx.group)
        return (None, None, None) + tuple(grads)


class _AllToAll(Function):
    @staticmethod
    def forward(ctx, group, out_tensor_list, *tensors):
        ctx.group = group
        out = [zeros_like(t) for t in out_tensor_list]
        c10d.all_to_all(out, list(tensors), group=group)
        return tuple(out)

    @staticmethod
    def backward(ctx, *grad_outputs):
        grads = [zeros_like(g) for g in grad_outputs]
        c10d.all_to_all(grads, list(grad_outputs), group=ctx.group)
        return (None, None) + tuple(grads)


def all_reduce(tensor, op=ReduceOp.SUM, group=None):
    """A new tensor: ``tensor`` reduced over ranks; the gradient is all-reduced back."""
    return _AllReduce.apply(op, group, tensor)


def all_gather(tensor, group=None):
    """A tuple of ``world_size`` tensors, rank ``i``'s ``tensor`` at ``i``; differentiable."""
    return _AllGather.apply(group, tensor)


def broadcast(tensor, src=0, group=None):
    return _Broadcast.apply(src, group, tensor)


def reduce_scatter(output, input_list, op=ReduceOp.SUM, group=None):
    return _ReduceScatter.apply(op, group, output, *input_list)


def all_to_all(output_tensor_list, input_tensor_list, group=None):
    return _AllToAll.apply(group, output_tensor_list, *input_tensor_list)
