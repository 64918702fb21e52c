"""Data-parallel training with ``jax.sharding``: the batch split over a mesh of devices, parameters
replicated (``funcgrad.distributed.shard``), the step compiled by ``funcgrad.compile`` (XLA
inserts the gradient all-reduce). One process; for several processes see ``ddp_gpt.py``.

On one CPU, pretend to have 8 devices:

    XLA_FLAGS=--xla_force_host_platform_device_count=8 python examples/data_parallel.py

The loss matches single-device training step for step.
"""
from __future__ import annotations

import argparse

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

import funcgrad as torch
from funcgrad.distributed import shard


def run(steps, mesh=None, seed=0):
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.Tanh(), torch.nn.Linear(64, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    rng = np.random.default_rng(seed)
    x = torch.tensor(rng.standard_normal((64, 16)).astype(np.float32))
    y = torch.tensor(rng.standard_normal((64, 1)).astype(np.float32))
    if mesh is not None:
        shard(model, mesh, P())  # parameters replicated
        shard(x, mesh, P("data"))  # batch split over devices
        shard(y, NamedSharding(mesh, P("data")))  # (a NamedSharding works too)

    @torch.compile
    def step():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        return loss

    losses = [step().item() for _ in range(steps)]
    return losses, torch.to_jax(model[0].weight).sharding


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=50)
    args = ap.parse_args(argv)
    devices = jax.devices()
    mesh = Mesh(np.array(devices), ("data",))
    print(f"{len(devices)} devices: {[str(d) for d in devices]}")
    single, _ = run(args.steps)
    parallel, sharding = run(args.steps, mesh)
    worst = max(abs(a - b) / max(abs(a), 1e-12) for a, b in zip(single, parallel))
    for t in range(0, args.steps, max(1, args.steps // 5)):
        print(f"step {t:3d}: single device {single[t]:.6f}   data parallel {parallel[t]:.6f}")
    print(f"parameters live on: {sharding}")
    print(f"largest relative difference: {worst:.2e}")
    return single, parallel


if __name__ == "__main__":
    main()
