"""Train on the best device JAX has (GPU, TPU or CPU): ``.to(device)`` as in PyTorch, the step compiled.

    python examples/accelerator.py [--steps 200] [--hidden 2048]
"""
from __future__ import annotations

import argparse
import time

import jax

import funcgrad as torch


def best_device():
    for platform, name in (("gpu", "cuda"), ("tpu", "tpu")):
        try:
            if jax.devices(platform):
                return torch.device(name)
        except RuntimeError:
            pass
    return torch.device("cpu")


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=512)
    args = ap.parse_args(argv)
    device = best_device()
    print("device:", device, "->", device.jax_device())
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(784, args.hidden), torch.nn.ReLU(),
                                torch.nn.Linear(args.hidden, args.hidden), torch.nn.ReLU(),
                                torch.nn.Linear(args.hidden, 10)).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x = torch.randn(args.batch, 784).to(device)
    y = torch.randint(0, 10, (args.batch,)).to(device)
    loss_fn = torch.nn.CrossEntropyLoss()

    @torch.compile
    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    first = step().item()
    for _ in range(5):
        step()
    step().item()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    last = loss.item()
    dt = (time.perf_counter() - t0) / args.steps
    print(f"loss {first:.4f} -> {last:.4f}; {dt * 1e3:.3f} ms/step over {args.steps} steps "
          f"({model[0].weight.device}, {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters)")
    return first, last, dt


if __name__ == "__main__":
    main()
