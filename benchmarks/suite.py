"""Benchmark suite: workloads x systems, all measured in one run; writes benchmarks/RESULTS.md.

Systems: PyTorch eager (the oracle install), plain JAX (``jax.jit`` + optax, written by hand),
funcgrad eager, funcgrad compiled (``funcgrad.compile``). Times are medians after warm-up;
ratios are against torch eager and against hand-written JAX, from the same run.

    python benchmarks/suite.py            # full (under 5 minutes on a 2-core CPU)
    python benchmarks/suite.py --quick    # a few iterations: proves it runs (CI)
    python benchmarks/suite.py --device cuda   # or FUNCGRAD_BENCH_DEVICE=cuda: JAX's GPU
"""
from __future__ import annotations

import argparse
import datetime
import os
import platform
import resource
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from chain import bench as timeit  # noqa: E402 - one timing helper for both scripts


# -- workloads: each returns {system: seconds per unit} ------------------------------------------------
def chain(shape, reps, warm, device):
    import jax
    import jax.numpy as jnp
    import torch

    import funcgrad

    from chain import N_OPS, chain as build

    data = np.random.default_rng(0).standard_normal(shape).astype(np.float32) * 0.1
    n_ops = (N_OPS // 3) * 3 + 1

    def t_step():
        x = torch.tensor(data, requires_grad=True)
        build(torch, x).backward()
        return x.grad.sum().item()

    def f_step():
        x = funcgrad.tensor(data, requires_grad=True, device=device)
        build(funcgrad, x).backward()
        return x.grad.sum().item()

    @funcgrad.compile
    def f_compiled(x):
        x.requires_grad_(True)
        build(funcgrad, x).backward()
        return x.grad.sum()

    xf = funcgrad.tensor(data, device=device)
    g = jax.jit(jax.grad(lambda a: build(jnp, a)))
    xj = jax.device_put(data, funcgrad.device(device).jax_device())
    res = {"torch eager": timeit(t_step, reps, warm) / n_ops if device == "cpu" else None,
           "funcgrad eager": timeit(f_step, reps, warm) / n_ops,
           "funcgrad compiled": timeit(lambda: f_compiled(xf).item(), reps, warm) / n_ops,
           "jax.jit": timeit(lambda: float(g(xj).sum()), reps, warm) / n_ops}
    return res


def _mlp_data(sizes, n, n_out, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, sizes[0])).astype(np.float32)
    y = rng.integers(0, n_out, n) if n_out else rng.standard_normal((n, sizes[-1])).astype(np.float32)
    ws = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        bound = 1 / np.sqrt(a)
        ws.append((rng.uniform(-bound, bound, (b, a)).astype(np.float32), rng.uniform(-bound, bound, b).astype(np.float32)))
    return x, y, ws


def mlp_step(sizes, n, opt_name, classification, reps, warm, device):
    """One training step of an MLP (ReLU between layers) under the four systems."""
    import jax
    import jax.numpy as jnp
    import optax
    import torch

    import funcgrad

    x, y, ws = _mlp_data(sizes, n, sizes[-1] if classification else 0)

    def torch_like(lib, dev):
        layers = []
        for i, (w, b) in enumerate(ws):
            lin = lib.nn.Linear(w.shape[1], w.shape[0])
            with lib.no_grad():
                lin.weight.copy_(lib.tensor(w))
                lin.bias.copy_(lib.tensor(b))
            layers.append(lin)
            if i < len(ws) - 1:
                layers.append(lib.nn.ReLU())
        model = lib.nn.Sequential(*layers).to(dev)
        opt = lib.optim.SGD(model.parameters(), lr=1e-4, momentum=0.9) if opt_name == "sgd" else \
            lib.optim.Adam(model.parameters(), lr=1e-3)
        loss_fn = lib.nn.CrossEntropyLoss() if classification else lib.nn.MSELoss(reduction="sum")
        xs, ys = lib.tensor(x).to(dev), lib.tensor(y).to(dev)

        def step():
            opt.zero_grad()
            loss = loss_fn(model(xs), ys)
            loss.backward()
            opt.step()
            return loss
        return step

    t_step = torch_like(torch, "cpu") if device == "cpu" else None
    f_step = torch_like(funcgrad, device)
    f_comp = funcgrad.compile(torch_like(funcgrad, device))

    params = [(jnp.asarray(w), jnp.asarray(b)) for w, b in ws]
    xj, yj = jnp.asarray(x), jnp.asarray(y)

    def loss_fn(p):
        h = xj
        for i, (w, b) in enumerate(p):
            h = h @ w.T + b
            if i < len(p) - 1:
                h = jax.nn.relu(h)
        if classification:
            return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(h), yj[:, None], axis=1))
        return jnp.sum(jnp.square(h - yj))

    tx = optax.sgd(1e-4, momentum=0.9) if opt_name == "sgd" else optax.adam(1e-3)
    state = [tx.init(params)]
    pbox = [params]

    @jax.jit
    def jstep(p, s):
        loss, g = jax.value_and_grad(loss_fn)(p)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, loss

    def j_step():
        pbox[0], state[0], loss = jstep(pbox[0], state[0])
        return loss

    def sync(step, kind):
        if kind == "jax":
            return lambda: step().block_until_ready()
        return lambda: step().item()

    return {"torch eager": timeit(sync(t_step, "t"), reps, warm) if t_step else None,
            "funcgrad eager": timeit(sync(f_step, "f"), reps, warm),
            "funcgrad compiled": timeit(sync(f_comp, "f"), reps, warm),
            "jax.jit": timeit(sync(j_step, "jax"), reps, warm)}


def cnn_step(reps, warm, device):
    import jax
    import jax.numpy as jnp
    import optax
    import torch

    import funcgrad

    rng = np.random.default_rng(0)
    x = rng.standard_normal((32, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 32)

    def build(lib, dev):
        lib.manual_seed(0)
        model = lib.nn.Sequential(lib.nn.Conv2d(1, 8, 3, padding=1), lib.nn.ReLU(), lib.nn.MaxPool2d(2),
                                  lib.nn.Conv2d(8, 16, 3, padding=1), lib.nn.ReLU(), lib.nn.MaxPool2d(2),
                                  lib.nn.Flatten(), lib.nn.Linear(16 * 7 * 7, 10)).to(dev)
        return model

    tm = build(torch, "cpu")
    sd = {k: v.detach().numpy() for k, v in tm.state_dict().items()}

    def torch_like(lib, model, dev):
        opt = lib.optim.Adam(model.parameters(), lr=1e-3)
        xs, ys = lib.tensor(x).to(dev), lib.tensor(y).to(dev)
        loss_fn = lib.nn.CrossEntropyLoss()

        def step():
            opt.zero_grad()
            loss = loss_fn(model(xs), ys)
            loss.backward()
            opt.step()
            return loss
        return step

    def fmodel():
        m = build(funcgrad, device)
        m.load_state_dict({k: funcgrad.tensor(v) for k, v in sd.items()})
        return m

    t_step = torch_like(torch, tm, "cpu") if device == "cpu" else None
    f_step = torch_like(funcgrad, fmodel(), device)
    f_comp = funcgrad.compile(torch_like(funcgrad, fmodel(), device))
    p = {k: jnp.asarray(v) for k, v in sd.items()}
    xj, yj = jnp.asarray(x), jnp.asarray(y)

    def conv(h, w, b):
        h = jax.lax.conv_general_dilated(h, w, (1, 1), ((1, 1), (1, 1)), dimension_numbers=("NCHW", "OIHW", "NCHW"))
        return h + b[None, :, None, None]

    def pool(h):
        return jax.lax.reduce_window(h, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")

    def loss_fn(p):
        h = pool(jax.nn.relu(conv(xj, p["0.weight"], p["0.bias"])))
        h = pool(jax.nn.relu(conv(h, p["3.weight"], p["3.bias"])))
        h = h.reshape(h.shape[0], -1) @ p["7.weight"].T + p["7.bias"]
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(h), yj[:, None], axis=1))

    tx = optax.adam(1e-3)
    box = [p, tx.init(p)]

    @jax.jit
    def jstep(p, s):
        loss, g = jax.value_and_grad(loss_fn)(p)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, loss

    def j_step():
        box[0], box[1], loss = jstep(box[0], box[1])
        return loss.block_until_ready()

    return {"torch eager": timeit(lambda: t_step().item(), reps, warm) if t_step else None,
            "funcgrad eager": timeit(lambda: f_step().item(), reps, warm),
            "funcgrad compiled": timeit(lambda: f_comp().item(), reps, warm),
            "jax.jit": timeit(j_step, reps, warm)}


def hvp(reps, warm, device):
    import jax
    import jax.numpy as jnp
    import torch

    import funcgrad

    rng = np.random.default_rng(0)
    w = rng.standard_normal((300, 300)).astype(np.float32) / 20
    x = rng.standard_normal(300).astype(np.float32)
    v = rng.standard_normal(300).astype(np.float32)

    def f(lib, W):
        return lambda t: (lib.tanh(W @ t) ** 2).sum()

    tw, fw = torch.tensor(w), funcgrad.tensor(w, device=device)
    tx_, tv = torch.tensor(x), torch.tensor(v)
    fx, fv = funcgrad.tensor(x, device=device), funcgrad.tensor(v, device=device)

    def fg_hvp_fn(a, b):
        return funcgrad.autograd.functional.hvp(f(funcgrad, fw), a, b)[1]

    fg_comp = funcgrad.compile(fg_hvp_fn)
    wj, xj, vj = jnp.asarray(w), jnp.asarray(x), jnp.asarray(v)
    jh = jax.jit(lambda a, b: jax.jvp(jax.grad(lambda t: jnp.sum(jnp.tanh(wj @ t) ** 2)), (a,), (b,))[1])
    return {"torch eager": timeit(lambda: torch.autograd.functional.hvp(f(torch, tw), tx_, tv)[1].sum().item(),
                                  reps, warm) if device == "cpu" else None,
            "funcgrad eager": timeit(lambda: fg_hvp_fn(fx, fv).sum().item(), reps, warm),
            "funcgrad compiled": timeit(lambda: fg_comp(fx, fv).sum().item(), reps, warm),
            "jax.jit": timeit(lambda: float(jh(xj, vj).sum()), reps, warm)}


def rss_over_steps(steps, device):
    """Peak RSS growth of funcgrad eager training (seed MLP): graphs and residuals must be freed."""
    import gc

    import funcgrad

    x, y, ws = _mlp_data((1000, 100, 10), 64, 0)
    model = funcgrad.nn.Sequential(funcgrad.nn.Linear(1000, 100), funcgrad.nn.ReLU(), funcgrad.nn.Linear(100, 10))
    model.to(device)
    opt = funcgrad.optim.SGD(model.parameters(), lr=1e-5, momentum=0.9)
    xs, ys = funcgrad.tensor(x, device=device), funcgrad.tensor(y, device=device)
    loss_fn = funcgrad.nn.MSELoss(reduction="sum")
    marks = {}
    for t in range(steps):
        opt.zero_grad()
        loss = loss_fn(model(xs), ys)
        loss.backward()
        opt.step()
        if t + 1 in (steps // 10, steps):
            loss.item()
            gc.collect()
            marks[t + 1] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return marks


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--device", default=os.environ.get("FUNCGRAD_BENCH_DEVICE", "cpu"))
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    args = ap.parse_args(argv)
    q = args.quick
    dev = args.device
    t_start = time.time()
    rows = []

    def run(name, unit, fn):
        t0 = time.time()
        r = fn()
        rows.append((name, unit, r))
        print(f"{name:<34} done in {time.time() - t0:5.1f}s", flush=True)

    run("chain of 200 ops fwd+bwd, scalar", "µs/op", lambda: chain((), 3 if q else 30, 2 if q else 5, dev))
    run("chain of 200 ops fwd+bwd, 100x100", "µs/op", lambda: chain((100, 100), 3 if q else 20, 2 if q else 5, dev))
    run("seed MLP step 64x1000-100-10, SGD", "µs/step",
        lambda: mlp_step((1000, 100, 10), 64, "sgd", False, 5 if q else 200, 3 if q else 20, dev))
    run("wide MLP step 512x784-1024-1024-10, Adam", "µs/step",
        lambda: mlp_step((784, 1024, 1024, 10), 512, "adam", True, 3 if q else 20, 2 if q else 5, dev))
    run("small CNN step 32x1x28x28, Adam", "µs/step", lambda: cnn_step(3 if q else 30, 2 if q else 5, dev))
    run("Hessian-vector product, 300x300", "µs/call", lambda: hvp(3 if q else 50, 2 if q else 5, dev))
    n_rss = 200 if q else 10000
    marks = rss_over_steps(n_rss, dev)

    import jax
    import torch

    import funcgrad

    systems = ["torch eager", "jax.jit", "funcgrad eager", "funcgrad compiled"]
    lines = [
        "# funcgrad benchmark results",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; mode: {'quick' if q else 'full'}",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform()}; JAX devices: "
        f"{[d.device_kind for d in jax.devices()]}; benchmark device: {dev}",
        f"- versions: python {platform.python_version()}, funcgrad {funcgrad.__version__}, jax {jax.__version__}, "
        f"torch {torch.__version__}, numpy {np.__version__}",
        "- medians after warm-up; every number in a row was measured in the same run. `jax.jit` is the same "
        "workload written by hand in JAX (+ optax); for the chain rows it is one jitted gradient of the chain.",
        "",
        "| workload | unit | " + " | ".join(systems) + " | funcgrad eager / torch | funcgrad compiled / jax.jit |",
        "|---|---|" + "---|" * (len(systems) + 2),
    ]
    for name, unit, r in rows:
        cells = [f"{r[s] * 1e6:.1f}" if r.get(s) is not None else "n/a" for s in systems]
        eager_ratio = f"{r['funcgrad eager'] / r['torch eager']:.2f}x" if r.get("torch eager") else "n/a"
        comp_ratio = f"{r['funcgrad compiled'] / r['jax.jit']:.2f}x"
        lines.append(f"| {name} | {unit} | " + " | ".join(cells) + f" | {eager_ratio} | {comp_ratio} |")
    (a, ra), (b, rb) = sorted(marks.items())
    lines += ["", f"Peak RSS, funcgrad eager seed-MLP training: {ra:.0f} MiB after {a} steps, {rb:.0f} MiB after {b} "
              f"steps ({rb - ra:+.0f} MiB).", "", f"Suite ran in {time.time() - t_start:.0f} s."]
    text = "\n".join(lines) + "\n"
    print(text)
    if not q or args.out != os.path.join(HERE, "RESULTS.md"):
        with open(args.out, "w") as fh:
            fh.write(text)
    return rows


if __name__ == "__main__":
    main()
