"""Seed 003's two-layer network trained three ways from the same weights and data.

(a) funcgrad: ``nn`` + ``optim`` exactly as PyTorch code is written, run eagerly, and the very same
    step under ``funcgrad.compile`` (one XLA program per step);
(b) plain JAX + optax: ``jax.value_and_grad`` of a pure loss, ``jax.jit`` of the whole step;
(c) PyTorch eager, when torch is installed.

Prints the loss every 50 steps side by side, then the time per step of each.

    python examples/mlp_three_ways.py [--steps 500] [--device cpu|cuda]
"""
from __future__ import annotations

import argparse
import time

import numpy as np

N, D_IN, H, D_OUT = 64, 1000, 100, 10
LR, MOMENTUM = 1e-5, 0.9
WARMUP = 10


def progress(iterable, desc):
    try:
        from tqdm import tqdm

        return tqdm(iterable, desc=desc, leave=False, ncols=80)
    except ImportError:
        return iterable


def init(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, D_IN)).astype(np.float32)
    y = rng.standard_normal((N, D_OUT)).astype(np.float32)
    b1, b2 = 1 / np.sqrt(D_IN), 1 / np.sqrt(H)  # nn.Linear's default ranges
    params = {
        "0.weight": rng.uniform(-b1, b1, (H, D_IN)).astype(np.float32),
        "0.bias": rng.uniform(-b1, b1, (H,)).astype(np.float32),
        "2.weight": rng.uniform(-b2, b2, (D_OUT, H)).astype(np.float32),
        "2.bias": rng.uniform(-b2, b2, (D_OUT,)).astype(np.float32),
    }
    return x, y, params


def train_torch_style(lib, x, y, params, steps, device="cpu", compiled=False):
    """The PyTorch way; ``lib`` is funcgrad or torch (``compiled``: the step under funcgrad.compile)."""
    model = lib.nn.Sequential(lib.nn.Linear(D_IN, H), lib.nn.ReLU(), lib.nn.Linear(H, D_OUT)).to(device)
    model.load_state_dict({k: lib.tensor(v) for k, v in params.items()})
    xs, ys = lib.tensor(x).to(device), lib.tensor(y).to(device)
    loss_fn = lib.nn.MSELoss(reduction="sum")
    opt = lib.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    def step():
        opt.zero_grad()
        loss = loss_fn(model(xs), ys)
        loss.backward()
        opt.step()
        return loss

    if compiled:
        step = lib.compile(step)
    losses = {}
    t0 = None
    for t in progress(range(steps), lib.__name__ + (" compiled" if compiled else "")):
        if t == WARMUP:
            loss.item()
            t0 = time.perf_counter()
        loss = step()
        if t % 50 == 0 or t == steps - 1:
            losses[t] = loss.item()  # waits for the step: wall time below includes everything
    return losses, (time.perf_counter() - t0) / (steps - WARMUP)


def train_jax(x, y, params, steps):
    """Plain JAX + optax: the same network as a pure function, the whole step jitted."""
    import jax
    import jax.numpy as jnp
    import optax

    p = {k: jnp.asarray(v) for k, v in params.items()}
    xs, ys = jnp.asarray(x), jnp.asarray(y)

    def loss_fn(p):
        h = jax.nn.relu(xs @ p["0.weight"].T + p["0.bias"])
        return jnp.sum(jnp.square(h @ p["2.weight"].T + p["2.bias"] - ys))

    tx = optax.sgd(LR, momentum=MOMENTUM)
    state = tx.init(p)

    @jax.jit
    def step(p, state):
        loss, g = jax.value_and_grad(loss_fn)(p)
        updates, state = tx.update(g, state, p)
        return optax.apply_updates(p, updates), state, loss

    losses = {}
    t0 = None
    for t in progress(range(steps), "jax+optax"):
        if t == WARMUP:
            loss.block_until_ready()
            t0 = time.perf_counter()
        p, state, loss = step(p, state)
        if t % 50 == 0 or t == steps - 1:
            losses[t] = float(loss)
    return losses, (time.perf_counter() - t0) / (steps - WARMUP)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--device", default="cpu", help="cpu or cuda (funcgrad uses JAX's GPU)")
    args = ap.parse_args(argv)
    if args.steps <= WARMUP:
        ap.error(f"--steps must be more than the {WARMUP} warm-up steps")

    import funcgrad

    x, y, params = init()
    runs = {"funcgrad eager": train_torch_style(funcgrad, x, y, params, args.steps, args.device),
            "funcgrad compiled": train_torch_style(funcgrad, x, y, params, args.steps, args.device, compiled=True),
            "jax.jit + optax": train_jax(x, y, params, args.steps)}
    try:
        import torch

        runs["torch eager"] = train_torch_style(torch, x, y, params, args.steps)
    except ImportError:
        print("(torch is not installed: skipping the PyTorch column)")

    names = list(runs)
    print(f"{'step':>6}" + "".join(f"{n:>20}" for n in names))
    for t in runs[names[0]][0]:
        print(f"{t:>6}" + "".join(f"{runs[n][0][t]:>20.7g}" for n in names))
    print()
    for n in names:
        print(f"{n:<18} {runs[n][1] * 1e6:10.1f} µs/step (wall time over steps {WARMUP}..{args.steps - 1})")
    ref = runs[names[0]][0]
    worst = max(abs(runs[n][0][t] - ref[t]) / abs(ref[t]) for n in names for t in ref if ref[t])
    print(f"\nlargest relative difference between the loss curves: {worst:.2e}")
    return runs


if __name__ == "__main__":
    main()
