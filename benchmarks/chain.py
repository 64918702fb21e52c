"""Forward+backward of a 200-op chain (mul, add, tanh), scalar and 100x100: torch eager vs funcgrad eager.

Also times the same chain as one hand-written ``jax.jit`` program for reference.
Prints microseconds per op and the funcgrad/torch ratio, all measured in this run.

    python benchmarks/chain.py [--quick]
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

N_OPS = 200


def chain(lib, x, n=N_OPS):
    y = x
    for i in range(n // 3):
        y = y * 1.0001
        y = y + 0.001
        y = lib.tanh(y)
    return y.sum()


def bench(fn, reps, warm=3):
    for _ in range(warm):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def run(shape, reps):
    import jax
    import jax.numpy as jnp
    import torch

    import funcgrad

    data = np.random.default_rng(0).standard_normal(shape).astype(np.float32) * 0.1
    n_ops = (N_OPS // 3) * 3 + 1
    res = {}

    def torch_step():
        x = torch.tensor(data, requires_grad=True)
        chain(torch, x).backward()
        return x.grad.sum().item()

    def fg_step():
        x = funcgrad.tensor(data, requires_grad=True)
        chain(funcgrad, x).backward()
        return x.grad.sum().item()

    def jax_loss(x):
        return chain(jnp, x)

    g = jax.jit(jax.grad(jax_loss))
    xj = jnp.asarray(data)

    def jax_step():
        return float(g(xj).sum())

    assert abs(torch_step() - fg_step()) <= 1e-3 * max(1.0, abs(torch_step()))
    for name, fn in (("torch eager", torch_step), ("funcgrad eager", fg_step), ("jax.jit", jax_step)):
        res[name] = bench(fn, reps) / n_ops * 1e6
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    reps = 5 if args.quick else 30
    print(f"{'workload':<22}{'torch µs/op':>12}{'funcgrad µs/op':>16}{'jax.jit µs/op':>15}{'funcgrad/torch':>16}")
    for label, shape in (("chain scalar", ()), ("chain 100x100", (100, 100))):
        r = run(shape, reps)
        print(f"{label:<22}{r['torch eager']:>12.2f}{r['funcgrad eager']:>16.2f}{r['jax.jit']:>15.2f}"
              f"{r['funcgrad eager'] / r['torch eager']:>15.2f}x")


if __name__ == "__main__":
    main()
