"""Random programs over registry ops, for property tests and the differential fuzzer.

A program is a list of steps applied to a pool of tensors; every step picks an op and its inputs
from the pool (shapes chosen so the op is valid), optionally marks a result with retain_grad,
detaches it, runs an in-place op under no_grad on a fresh copy, etc. The same program runs under
any ``lib`` (torch or funcgrad) from the same numpy inputs.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

UNARY = ["exp", "tanh", "sigmoid", "sin", "cos", "relu", "neg", "abs", "square", "log1p_abs", "sqrt_abs",
         "clamp", "softplus"]
BINARY = ["add", "sub", "mul", "div_safe", "maximum", "pow_safe", "where"]
REDUCE = ["sum", "mean", "sum_dim", "max_dim", "logsumexp", "norm", "prod_small"]
SHAPE = ["t", "reshape", "unsqueeze_squeeze", "expand", "getitem", "cat", "flip", "permute"]
ALL = UNARY + BINARY + REDUCE + SHAPE + ["mm", "softmax", "detach_mul", "inplace_copy"]


def apply(lib, name, a, b, rng_int):
    """The op ``name`` on pool tensors a, b (same shape or broadcastable); returns a tensor."""
    if name == "exp":
        return (a * 0.3).exp()
    if name == "log1p_abs":
        return a.abs().log1p()
    if name == "sqrt_abs":
        return (a.abs() + 0.5).sqrt()
    if name == "square":
        return a * a
    if name == "clamp":
        return a.clamp(-0.5, 0.7)
    if name == "softplus":
        return lib.nn.functional.softplus(a)
    if name in ("tanh", "sigmoid", "sin", "cos", "relu", "neg", "abs"):
        return getattr(a, name)()
    if name == "add":
        return a + b
    if name == "sub":
        return a - 2.5 * b
    if name == "mul":
        return a * b
    if name == "div_safe":
        return a / (b.abs() + 1.0)
    if name == "maximum":
        return lib.maximum(a, b)
    if name == "pow_safe":
        return (a.abs() + 0.5) ** 1.5
    if name == "where":
        return lib.where(a > b, a, b * 0.5)
    if name == "sum":
        return a.sum() + b * 0
    if name == "mean":
        return a.mean() * b
    if name == "sum_dim":
        return a.sum(-1, keepdim=True) * b
    if name == "max_dim":
        return a.max(-1, keepdim=True)[0] + b
    if name == "logsumexp":
        return a.logsumexp(-1, keepdim=True) + b
    if name == "norm":
        return a.norm() + b
    if name == "prod_small":
        return (a * 0.1 + 1).prod(-1, keepdim=True) * b
    if name == "t":
        return a.t().t() + b
    if name == "reshape":
        return a.reshape(-1).reshape(a.shape) * b
    if name == "unsqueeze_squeeze":
        return a.unsqueeze(0).squeeze(0) - b
    if name == "expand":
        return a[:1].expand(a.shape) + b
    if name == "getitem":
        return a[:, rng_int % a.shape[1]:].sum(-1, keepdim=True) + b
    if name == "cat":
        return lib.cat([a, b], 0)[: a.shape[0]] * 2
    if name == "flip":
        return a.flip(0) * b
    if name == "permute":
        return a.permute(1, 0).permute(1, 0) + b
    if name == "mm":
        return a.mm(b.t()).mm(b) * 0.1
    if name == "softmax":
        return a.softmax(-1) * b
    if name == "detach_mul":
        return a.detach() * b
    if name == "inplace_copy":
        c = a * 1.0
        c.mul_(b.tanh())
        c.add_(1.0)
        return c
    raise ValueError(name)


def programs(max_steps=6):
    shape = st.tuples(st.integers(1, 4), st.integers(1, 4))
    step = st.tuples(st.sampled_from(ALL), st.integers(0, 100), st.integers(0, 100), st.integers(0, 100),
                     st.booleans())
    return st.tuples(shape, st.lists(step, min_size=1, max_size=max_steps), st.integers(0, 2**31 - 1))


def run(lib, program, dtype="float64"):
    """Run a program; returns (outputs, grads of the two leaves, grads of retained tensors, node names)."""
    (n, m), steps, seed = program
    rng = np.random.default_rng(seed)
    leaves = [lib.tensor(rng.uniform(-1.5, 1.5, (n, m)).astype(dtype), requires_grad=True) for _ in range(2)]
    pool = list(leaves)
    retained = []
    names = []
    for name, i, j, k, retain in steps:
        a, b = pool[i % len(pool)], pool[j % len(pool)]
        out = apply(lib, name, a, b, k)
        if retain and out.requires_grad and out.grad_fn is not None:
            out.retain_grad()
            retained.append(out)
        names.append(None if out.grad_fn is None else type(out.grad_fn).__name__)
        pool.append(out)
    loss = sum((t * (idx + 1)).sum() for idx, t in enumerate(pool[2:]) if t.requires_grad)
    if isinstance(loss, int) or not loss.requires_grad:
        return [t.detach().numpy() for t in pool[2:]], [None, None], [], names
    loss.backward()
    grads = [None if x.grad is None else x.grad.numpy() for x in leaves]
    return [t.detach().numpy() for t in pool[2:]], grads, [r.grad.numpy() for r in retained], names
