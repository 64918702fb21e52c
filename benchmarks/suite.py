"""Benchmark suite: workloads x systems, all measured in one run; writes benchmarks/RESULTS.md.

Systems: PyTorch eager (the oracle install), ``torch.compile`` (inductor on CPU; a failure to compile
is printed and the cell left empty), plain JAX (``jax.jit`` + optax, written by hand), funcgrad eager,
funcgrad compiled (``funcgrad.compile``). Times are medians after warm-up; ratios are against torch
eager, hand-written JAX and torch.compile, from the same run. Memory rows: bytes per kept graph,
peak RSS of the training loops (one process per system) and RSS over many steps.

    python benchmarks/suite.py            # full (under 5 minutes on a 2-core CPU)
    python benchmarks/suite.py --quick    # a few iterations: proves it runs (CI)
    python benchmarks/suite.py --memory   # only the memory rows (own processes); rewrites only ## Memory
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


# torch.compile is measured in full runs (its first call compiles with inductor: tens of seconds)
TORCH_COMPILE = {"on": True}
# What a row's times are read from: wall time, or (``--clock cpu``, the default when the load average
# exceeds the core count) the process's CPU time summed over its threads. On an oversubscribed
# machine wall time mostly measures the scheduler (every hand-off between a program's threads waits
# for a time slice), CPU time measures the work each system does.
CLOCK = {"fn": time.perf_counter, "name": "wall"}
FAILURES = []  # (workload, system, why): printed under the table


def torch_compiled(label, fn, call):
    """``call(torch.compile(fn))`` timed by the caller; None (and why, printed) when torch.compile
    is off or fails on this workload."""
    if not TORCH_COMPILE["on"]:
        return None
    import torch

    try:
        c = torch.compile(fn)
        call(c)
        call(c)
        return c
    except Exception as e:  # noqa: BLE001 - any failure of torch.compile is a result to report
        why = f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0][:160]}"
        print(f"  torch.compile failed on {label}: {why}", flush=True)
        FAILURES.append((label, "torch.compile", why))
        return None


def time_systems(fns, reps, warm):
    """{system: median seconds} for the non-None callables, interleaved so load hits all alike."""
    import statistics

    live = {k: f for k, f in fns.items() if f is not None}
    for f in live.values():
        for _ in range(warm):
            f()
    ts = {k: [] for k in live}
    clock = CLOCK["fn"]
    for _ in range(reps):
        for k, f in live.items():
            t0 = clock()
            f()
            ts[k].append(clock() - t0)
    return {k: (statistics.median(ts[k]) if k in ts else None) for k in fns}


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
        # a leaf made inside the step: a gradient written to the argument itself would make compile
        # run the step eagerly (it would not pass the argument's .grad back)
        x = x.detach().requires_grad_(True)
        build(funcgrad, x).backward()
        return x.grad.sum()

    def t_loss(x):
        x.requires_grad_(True)
        build(torch, x).backward()
        return x.grad.sum()

    xf = funcgrad.tensor(data, device=device)
    xt = torch.tensor(data)
    g = jax.jit(jax.grad(lambda a: build(jnp, a)))
    xj = jax.device_put(data, funcgrad.device(device).jax_device())
    tc = torch_compiled(f"chain {shape}", t_loss, lambda c: c(xt.clone()).item()) if device == "cpu" else None
    res = time_systems({"torch eager": t_step if device == "cpu" else None,
                        "torch.compile": (lambda: tc(xt.clone()).item()) if tc else None,
                        "funcgrad eager": f_step,
                        "funcgrad compiled": lambda: f_compiled(xf).item(),
                        "jax.jit": lambda: float(g(xj).sum())}, reps, warm)
    return {k: (v / n_ops if v is not None else None) for k, v in res.items()}


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

    tc = torch_compiled(f"MLP {sizes}", torch_like(torch, "cpu"), lambda c: c().item()) if t_step else None
    return time_systems({"torch eager": sync(t_step, "t") if t_step else None,
                         "torch.compile": sync(tc, "t") if tc else None,
                         "funcgrad eager": sync(f_step, "f"),
                         "funcgrad compiled": sync(f_comp, "f"),
                         "jax.jit": sync(j_step, "jax")}, reps, warm)


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

    tc = torch_compiled("small CNN", torch_like(torch, build(torch, "cpu"), "cpu"), lambda c: c().item()) \
        if t_step else None
    return time_systems({"torch eager": (lambda: t_step().item()) if t_step else None,
                         "torch.compile": (lambda: tc().item()) if tc else None,
                         "funcgrad eager": lambda: f_step().item(),
                         "funcgrad compiled": lambda: f_comp().item(),
                         "jax.jit": j_step}, reps, warm)


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
    def t_hvp(a, b):
        return torch.autograd.functional.hvp(f(torch, tw), a, b)[1]

    # every system waits for its result the same way, a host copy of the 300 values (a ``.sum().item()``
    # would add one more op per system: an eager funcgrad op there costs more than a jnp one)
    tc = torch_compiled("hvp", t_hvp, lambda c: c(tx_, tv).numpy()) if device == "cpu" else None
    return time_systems({"torch eager": (lambda: t_hvp(tx_, tv).numpy()) if device == "cpu" else None,
                         "torch.compile": (lambda: tc(tx_, tv).numpy()) if tc else None,
                         "funcgrad eager": lambda: fg_hvp_fn(fx, fv).numpy(),
                         "funcgrad compiled": lambda: fg_comp(fx, fv).numpy(),
                         "jax.jit": lambda: np.asarray(jh(xj, vj))}, reps, warm)


def call_overhead(kind, reps, warm, device, inner=200):
    """Per-call cost of a tiny compiled function against the same function under ``jax.jit``: their
    difference is ``funcgrad.compile``'s own overhead (guards, state in and out). ``kind`` "x+1": no
    state; "step": a Linear(4, 1) SGD step (parameters, gradients, momentum written back each call).
    Nothing waits for the results (dispatch cost, as a training loop that does not sync each step)."""
    import jax
    import jax.numpy as jnp
    import torch

    import funcgrad

    if kind == "x+1":
        xf, xt, xj = funcgrad.ones(4, device=device), torch.ones(4), jnp.ones(4)

        def f_fn(x):
            return x + 1

        f_comp = funcgrad.compile(f_fn)
        j_fn = jax.jit(lambda x: x + 1)
        calls = {"torch eager": lambda: xt + 1, "funcgrad eager": lambda: f_fn(xf),
                 "funcgrad compiled": lambda: f_comp(xf), "jax.jit": lambda: j_fn(xj)}
    else:
        def torch_like(lib, dev):
            lib.manual_seed(0)
            model = lib.nn.Linear(4, 1).to(dev)
            opt = lib.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
            xs, ys = lib.ones(8, 4).to(dev), lib.zeros(8, 1).to(dev)

            def step():
                opt.zero_grad()
                loss = ((model(xs) - ys) ** 2).mean()
                loss.backward()
                opt.step()
                return loss
            return step

        import optax

        tx = optax.sgd(0.01, momentum=0.9)
        xj, yj = jnp.ones((8, 4)), jnp.zeros((8, 1))
        box = [(jnp.full((1, 4), 0.1), jnp.zeros(1))]
        box.append(tx.init(box[0]))

        @jax.jit
        def jstep(p, s):
            loss, g = jax.value_and_grad(lambda p: jnp.mean((xj @ p[0].T + p[1] - yj) ** 2))(p)
            u, s = tx.update(g, s, p)
            return optax.apply_updates(p, u), s, loss

        def j_step():
            box[0], box[1], loss = jstep(box[0], box[1])
            return loss

        calls = {"torch eager": torch_like(torch, "cpu") if device == "cpu" else None,
                 "funcgrad eager": torch_like(funcgrad, device),
                 "funcgrad compiled": funcgrad.compile(torch_like(funcgrad, device)), "jax.jit": j_step}

    def looped(f):
        def run():
            for _ in range(inner):
                f()
        return run

    res = time_systems({k: looped(f) if f is not None else None for k, f in calls.items()}, reps, warm)
    funcgrad._lazy.flush()
    return {k: (v / inner if v is not None else None) for k, v in res.items()}


def _train_step(lib, model, opt, xs, ys, loss_fn, clip=None):
    """The torch-shaped training step every system runs (funcgrad and torch share the code)."""
    def step():
        opt.zero_grad()
        loss = loss_fn(model(xs), ys)
        loss.backward()
        if clip is not None:
            lib.nn.utils.clip_grad_norm_(model.parameters(), clip)
        opt.step()
        return loss
    return step


def _jax_train(loss_fn, params, tx):
    """Hand-written JAX: one jitted value_and_grad + optax update."""
    import jax
    import optax

    box = [params, tx.init(params)]

    @jax.jit
    def jstep(p, s):
        loss, g = jax.value_and_grad(loss_fn)(p)
        u, s = tx.update(g, s, p)
        return optax.apply_updates(p, u), s, loss

    def step():
        box[0], box[1], loss = jstep(box[0], box[1])
        return loss.block_until_ready()
    return step


def _rows_of_systems(label, build, jax_step, reps, warm, device):
    """Time a torch-shaped step (``build(lib, dev) -> step``) in torch eager, torch.compile, funcgrad
    eager, funcgrad compiled, and the hand-written JAX step."""
    import torch

    import funcgrad

    t_step = build(torch, "cpu") if device == "cpu" else None
    f_step = build(funcgrad, device)
    f_comp = funcgrad.compile(build(funcgrad, device))
    tc = torch_compiled(label, build(torch, "cpu"), lambda c: c().item()) if t_step else None
    return time_systems({"torch eager": (lambda: t_step().item()) if t_step else None,
                         "torch.compile": (lambda: tc().item()) if tc else None,
                         "funcgrad eager": lambda: f_step().item(),
                         "funcgrad compiled": lambda: f_comp().item(),
                         "jax.jit": jax_step}, reps, warm)


GPT = dict(vocab=256, d=128, heads=4, layers=2, seq=64, batch=16)


def gpt_model(lib):
    """A small GPT (nanoGPT's shape): token + position embeddings, pre-LN blocks of causal
    self-attention and a GELU MLP, a final LayerNorm and an untied head."""
    nn, F = lib.nn, lib.nn.functional
    V, D, H, L, T = GPT["vocab"], GPT["d"], GPT["heads"], GPT["layers"], GPT["seq"]

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(D), nn.LayerNorm(D)
            self.qkv, self.proj = nn.Linear(D, 3 * D), nn.Linear(D, D)
            self.fc, self.out = nn.Linear(D, 4 * D), nn.Linear(4 * D, D)

        def forward(self, x):
            B = x.shape[0]
            q, k, v = self.qkv(self.ln1(x)).split(D, dim=2)
            q, k, v = (t.reshape(B, T, H, D // H).transpose(1, 2) for t in (q, k, v))
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).reshape(B, T, D))
            return x + self.out(F.gelu(self.fc(self.ln2(x))))

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.tok, self.pos = nn.Embedding(V, D), nn.Embedding(T, D)
            self.blocks = nn.ModuleList([Block() for _ in range(L)])
            self.ln, self.head = nn.LayerNorm(D), nn.Linear(D, V, bias=False)

        def forward(self, idx):
            x = self.tok(idx) + self.pos(lib.arange(T, device=idx.device))
            for b in self.blocks:
                x = b(x)
            return self.head(self.ln(x))

    return Model()


def gpt_step(reps, warm, device):
    """GPT training step: AdamW with weight-decay param groups (matrices decay, the rest not),
    ``clip_grad_norm_``, cross-entropy over the vocabulary."""
    import jax
    import jax.numpy as jnp
    import optax
    import torch

    import funcgrad

    V, D, H, L, T, B = (GPT[k] for k in ("vocab", "d", "heads", "layers", "seq", "batch"))
    rng = np.random.default_rng(0)
    idx = rng.integers(0, V, (B, T))
    tgt = rng.integers(0, V, (B, T))
    torch.manual_seed(0)
    sd = {k: v.detach().numpy().copy() for k, v in gpt_model(torch).state_dict().items()}

    def build(lib, dev):
        model = gpt_model(lib)
        model.load_state_dict({k: lib.tensor(v) for k, v in sd.items()})
        model.to(dev)
        decay = [p for p in model.parameters() if p.dim() >= 2]
        rest = [p for p in model.parameters() if p.dim() < 2]
        opt = lib.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}],
                              lr=3e-4)
        xs, ys = lib.tensor(idx).to(dev), lib.tensor(tgt).to(dev)

        def loss_fn(logits, y):
            return lib.nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
        return _train_step(lib, model, opt, xs, ys, loss_fn, clip=1.0)

    p = {k: jnp.asarray(v) for k, v in sd.items()}
    xj, yj = jnp.asarray(idx), jnp.asarray(tgt)
    mask = jnp.tril(jnp.ones((T, T), bool))

    def loss_fn(params):
        def ln(x, pre):
            m = x.mean(-1, keepdims=True)
            v = ((x - m) ** 2).mean(-1, keepdims=True)
            return (x - m) / jnp.sqrt(v + 1e-5) * params[pre + ".weight"] + params[pre + ".bias"]

        def lin(x, pre, bias=True):
            y = x @ params[pre + ".weight"].T
            return y + params[pre + ".bias"] if bias else y

        x = params["tok.weight"][xj] + params["pos.weight"][jnp.arange(T)]
        for i in range(L):
            b = f"blocks.{i}."
            q, k, v = jnp.split(lin(ln(x, b + "ln1"), b + "qkv"), 3, axis=2)
            q, k, v = (t.reshape(B, T, H, D // H).transpose(0, 2, 1, 3) for t in (q, k, v))
            att = jnp.where(mask, q @ k.transpose(0, 1, 3, 2) / float(np.sqrt(D // H)), -jnp.inf)
            y = jax.nn.softmax(att, -1) @ v
            x = x + lin(y.transpose(0, 2, 1, 3).reshape(B, T, D), b + "proj")
            x = x + lin(jax.nn.gelu(lin(ln(x, b + "ln2"), b + "fc"), approximate=False), b + "out")
        logits = lin(ln(x, "ln"), "head", bias=False).reshape(-1, V)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), yj.reshape(-1)[:, None], axis=1))

    wd_mask = {k: v.ndim >= 2 for k, v in p.items()}
    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(3e-4, weight_decay=0.1, mask=wd_mask))
    return _rows_of_systems("small GPT", build, _jax_train(loss_fn, p, tx), reps, warm, device)


LSTM = dict(vocab=256, emb=64, hidden=128, seq=35, batch=16)


def lstm_step(reps, warm, device):
    """LSTM language model (embedding, one LSTM layer, linear head), SGD with ``clip_grad_norm_``."""
    import jax
    import jax.numpy as jnp
    import optax
    import torch

    V, E, Hd, T, B = (LSTM[k] for k in ("vocab", "emb", "hidden", "seq", "batch"))
    rng = np.random.default_rng(0)
    idx = rng.integers(0, V, (B, T))
    tgt = rng.integers(0, V, (B, T))

    def model_of(lib):
        class LM(lib.nn.Module):
            def __init__(self):
                super().__init__()
                self.emb = lib.nn.Embedding(V, E)
                self.rnn = lib.nn.LSTM(E, Hd, batch_first=True)
                self.head = lib.nn.Linear(Hd, V)

            def forward(self, x):
                return self.head(self.rnn(self.emb(x))[0])
        return LM()

    torch.manual_seed(0)
    sd = {k: v.detach().numpy().copy() for k, v in model_of(torch).state_dict().items()}

    def build(lib, dev):
        model = model_of(lib)
        model.load_state_dict({k: lib.tensor(v) for k, v in sd.items()})
        model.to(dev)
        opt = lib.optim.SGD(model.parameters(), lr=0.5)
        xs, ys = lib.tensor(idx).to(dev), lib.tensor(tgt).to(dev)

        def loss_fn(logits, y):
            return lib.nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
        return _train_step(lib, model, opt, xs, ys, loss_fn, clip=0.25)

    p = {k: jnp.asarray(v) for k, v in sd.items()}
    xj, yj = jnp.asarray(idx), jnp.asarray(tgt)

    def loss_fn(p):
        x = p["emb.weight"][xj]
        wi, wh = p["rnn.weight_ih_l0"], p["rnn.weight_hh_l0"]
        b = p["rnn.bias_ih_l0"] + p["rnn.bias_hh_l0"]

        def cell(carry, xt):
            h, c = carry
            i, f, g, o = jnp.split(xt @ wi.T + h @ wh.T + b, 4, axis=-1)
            c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
            h = jax.nn.sigmoid(o) * jnp.tanh(c)
            return (h, c), h

        z = jnp.zeros((B, Hd), x.dtype)
        _, hs = jax.lax.scan(cell, (z, z), x.transpose(1, 0, 2))
        logits = (hs.transpose(1, 0, 2) @ p["head.weight"].T + p["head.bias"]).reshape(-1, V)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), yj.reshape(-1)[:, None], axis=1))

    tx = optax.chain(optax.clip_by_global_norm(0.25), optax.sgd(0.5))
    return _rows_of_systems("LSTM LM", build, _jax_train(loss_fn, p, tx), reps, warm, device)


def varlen_row(quick, device):
    """The variable-length batch loop of ``benchmarks/varlen.py`` (written with the lazy tape's
    execution work): its ``suite_row(quick, device)`` returns {system: seconds}; skipped without it."""
    try:
        import varlen
    except ImportError:
        return None
    fn = getattr(varlen, "suite_row", None)
    if fn is None:
        print("  benchmarks/varlen.py has no suite_row(quick, device): row skipped", flush=True)
        return None
    return fn(quick, device)


def _rss_now():
    """Current resident set size in bytes (Linux /proc; 0 where unavailable)."""
    try:
        with open("/proc/self/statm") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return 0


def _peak_kib():
    """This process's own peak RSS in KiB: /proc's VmHWM (``ru_maxrss`` would report the parent's
    peak, which a child started by fork + exec inherits), ``ru_maxrss`` where /proc is missing."""
    try:
        with open("/proc/self/status") as fh:
            for ln in fh:
                if ln.startswith("VmHWM:"):
                    return int(ln.split()[1])
    except (OSError, ValueError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _kept_graph_child(workload, system, n_graphs, device, quick):
    """In this (fresh) process: the RSS growth per kept graph (and, for funcgrad, tracemalloc's
    Python-side bytes) over ``n_graphs`` kept 200-op scalar chains."""
    import gc
    import tracemalloc

    from chain import chain as build

    lib = _child_lib(system)
    fg = system == "funcgrad"
    flush = lib._lazy.flush if fg else (lambda: None)
    dev = device if fg else "cpu"
    xs = [lib.tensor(np.float32(0.1 + i * 1e-3), requires_grad=True, device=dev) for i in range(n_graphs + 1)]
    warm = build(lib, xs.pop())  # one graph first: funcgrad's program compiled and cached
    flush()
    del warm
    gc.collect()

    def grow():
        kept = []
        for x in xs:
            kept.append(build(lib, x))
            flush()  # computed, as when its value is observed
        gc.collect()
        return kept

    r0 = _rss_now()
    kept = grow()
    print("KEPT_BYTES", (_rss_now() - r0) / n_graphs, flush=True)
    if fg:  # a second batch, traced (tracemalloc's own records would inflate the RSS above)
        tracemalloc.start()
        m0 = tracemalloc.get_traced_memory()[0]
        kept2 = grow()
        print("TRACEMALLOC_BYTES", (tracemalloc.get_traced_memory()[0] - m0) / n_graphs, flush=True)
        tracemalloc.stop()
        del kept2
    del kept


def kept_graph_bytes(n_graphs, device):
    """Bytes one kept autograd graph costs: a 200-op scalar chain whose output (and so its graph and
    saved values) is held, computed (funcgrad: flushed, as when its value is observed), no backward.
    RSS growth over ``n_graphs`` graphs for torch and funcgrad, each in its own process, and
    funcgrad's Python-side bytes by tracemalloc (torch's graph lives in C++, which tracemalloc cannot
    see)."""
    t = _run_child("--kept-child", "chain", "torch", n_graphs, device, False)
    f = _run_child("--kept-child", "chain", "funcgrad", n_graphs, device, False)
    return {"torch": t.get("KEPT_BYTES", 0), "funcgrad": f.get("KEPT_BYTES", 0),
            "funcgrad tracemalloc": f.get("TRACEMALLOC_BYTES", 0)}


_RSS_CHILD = {"seed MLP": "mlp", "small GPT": "gpt"}


def _rss_workload(lib, workload, device):
    """(step function, device) of a memory workload: the seed MLP (SGD + momentum) or the small GPT
    (AdamW + clip), built with ``lib`` (torch or funcgrad)."""
    dev = "cpu" if lib.__name__ == "torch" else device
    if workload == "mlp":
        x, y, ws = _mlp_data((1000, 100, 10), 64, 0)
        model = lib.nn.Sequential(lib.nn.Linear(1000, 100), lib.nn.ReLU(), lib.nn.Linear(100, 10)).to(dev)
        opt = lib.optim.SGD(model.parameters(), lr=1e-5, momentum=0.9)
        return _train_step(lib, model, opt, lib.tensor(x, device=dev), lib.tensor(y, device=dev),
                           lib.nn.MSELoss(reduction="sum"))
    V, T, B = GPT["vocab"], GPT["seq"], GPT["batch"]
    rng = np.random.default_rng(0)
    lib.manual_seed(0)
    model = gpt_model(lib).to(dev)
    opt = lib.optim.AdamW(model.parameters(), lr=3e-4)
    xs = lib.tensor(rng.integers(0, V, (B, T)), device=dev)
    ys = lib.tensor(rng.integers(0, V, (B, T)), device=dev)
    return _train_step(lib, model, opt, xs, ys,
                       lambda lg, t: lib.nn.functional.cross_entropy(lg.reshape(-1, V), t.reshape(-1)), clip=1.0)


def _child_lib(system):
    # only the measured system's library is imported in its process (torch's own libraries would
    # otherwise count in funcgrad's RSS, and JAX's in torch's)
    if system == "torch":
        import torch as lib
    else:
        import funcgrad as lib
    return lib


def _peak_rss_child(workload, system, steps, device, quick):
    """Run ``steps`` training steps of a workload in this (fresh) process; print the RSS after the
    imports and the setup, and the peak RSS (KiB)."""
    if quick:
        GPT.update(d=32, seq=16, batch=4)
    lib = _child_lib(system)
    if system == "torch" and os.getloadavg()[0] > (os.cpu_count() or 1):
        lib.set_num_threads(1)  # as the timed rows: its threads spin on an oversubscribed machine
    print("IMPORT_RSS_KIB", _rss_now() // 1024, flush=True)
    st0 = lib._lazy.stats() if system == "funcgrad" else None
    step = _rss_workload(lib, workload, device)
    for _ in range(steps):
        step().item()
    print("PEAK_RSS_KIB", _peak_kib(), flush=True)
    if st0 is not None:  # the XLA programs the loop compiled (its setup included) and the seconds it took
        st = lib._lazy.stats()
        print("COMPILES", st["xla_compiles"] - st0["xla_compiles"], st["compile_seconds"] - st0["compile_seconds"],
              flush=True)


def _steps_rss_child(workload, system, steps, device, quick):
    """RSS (now and peak, KiB) every ``steps // 10`` training steps, in this (fresh) process."""
    import gc

    lib = _child_lib(system)
    step = _rss_workload(lib, workload, device)
    every = max(1, steps // 10)
    for t in range(steps):
        loss = step()
        if (t + 1) % every == 0:
            loss.item()
            del loss
            gc.collect()
            print("RSS_AT", t + 1, _rss_now() // 1024, _peak_kib(), flush=True)


def _run_child(kind, workload, system, steps, device, quick):
    import subprocess

    cmd = [sys.executable, os.path.abspath(__file__), kind, workload, system, str(steps), device, str(int(quick))]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
    out = {}
    for ln in r.stdout.splitlines():
        parts = ln.split()
        if parts and parts[0] in ("IMPORT_RSS_KIB", "PEAK_RSS_KIB"):
            out[parts[0]] = int(parts[1]) / 1024
        elif parts and parts[0] in ("KEPT_BYTES", "TRACEMALLOC_BYTES"):
            out[parts[0]] = float(parts[1])
        elif parts and parts[0] == "COMPILES":
            out["COMPILES"] = (int(parts[1]), float(parts[2]))
        elif parts and parts[0] == "RSS_AT":
            out.setdefault("marks", {})[int(parts[1])] = (int(parts[2]) / 1024, int(parts[3]) / 1024)
    if r.returncode:
        print(f"  memory child failed ({kind} {workload} {system}): {r.stderr.strip().splitlines()[-1:]}", flush=True)
    return out


def peak_rss(workload, steps, device, quick=False):
    """Peak RSS (MiB) of a training loop, torch vs funcgrad eager, each in its own process:
    {system: {"PEAK_RSS_KIB": peak MiB, "IMPORT_RSS_KIB": MiB after the imports}}."""
    return {system: _run_child("--rss-child", workload, system, steps, device, quick)
            for system in ("torch", "funcgrad")}


def rss_over_steps(steps, device, quick=False):
    """RSS of funcgrad eager training (seed MLP), in its own process, every ``steps // 10`` steps:
    {step: (RSS MiB, peak RSS MiB)}; graphs and residuals must be freed, so it stays flat."""
    return _run_child("--rss-steps", "mlp", "funcgrad", steps, device, quick).get("marks", {})


def memory_section(graph, peaks, marks, n_graphs):
    """The ``## Memory`` section of RESULTS.md (lines)."""
    lines = ["## Memory", "",
             "| measure | torch | funcgrad | funcgrad / torch |", "|---|---|---|---|"]
    label = f"bytes per kept graph (200-op scalar chain, computed, RSS growth over {n_graphs} graphs, own process)"
    if graph["torch"] > 0:
        lines.append(f"| {label} | {graph['torch'] / 1e3:.0f} KB | {graph['funcgrad'] / 1e3:.0f} KB "
                     f"| {graph['funcgrad'] / graph['torch']:.2f}x |")
    else:
        lines.append(f"| {label} | n/a | {graph['funcgrad'] / 1e3:.0f} KB | n/a |")
    lines.append(f"| bytes per kept graph, Python side (tracemalloc) | n/a (C++) | "
                 f"{graph['funcgrad tracemalloc'] / 1e3:.0f} KB | |")
    for w, (steps, pk) in peaks.items():
        t, f = pk.get("torch", {}), pk.get("funcgrad", {})
        tp, fp = t.get("PEAK_RSS_KIB"), f.get("PEAK_RSS_KIB")
        ti, fi = t.get("IMPORT_RSS_KIB"), f.get("IMPORT_RSS_KIB")
        cell = lambda v: f"{v:.0f}" if v else "n/a"  # noqa: E731
        ratio = lambda a, b: f"{a / b:.2f}x" if a and b else "n/a"  # noqa: E731
        lines.append(f"| Peak RSS, {w} training loop ({steps} steps, own process), MiB | {cell(tp)} | {cell(fp)} "
                     f"| {ratio(fp, tp)} |")
        lines.append(f"| the same minus the RSS after importing the library, MiB | "
                     f"{cell(tp - ti if tp and ti else None)} | {cell(fp - fi if fp and fi else None)} "
                     f"| {ratio(fp - fi if fp and fi else None, tp - ti if tp and ti else None)} |")
        if f.get("COMPILES"):
            n, secs = f["COMPILES"]
            lines.append(f"| XLA programs funcgrad compiled in that loop (setup included; seconds compiling) | n/a | "
                         f"{n} ({secs:.1f} s) | |")
    if marks:
        steps = sorted(marks)
        lines += ["", f"RSS of funcgrad eager seed-MLP training (SGD + momentum) over {steps[-1]} steps, in its own "
                  f"process, sampled every {steps[0]} steps (after `gc.collect()`):", "",
                  "| step | " + " | ".join(str(k) for k in steps) + " |", "|---|" + "---|" * len(steps),
                  "| RSS, MiB | " + " | ".join(f"{marks[k][0]:.0f}" for k in steps) + " |",
                  "| peak RSS, MiB | " + " | ".join(f"{marks[k][1]:.0f}" for k in steps) + " |", "",
                  f"From step {steps[0]} to step {steps[-1]}: RSS {marks[steps[-1]][0] - marks[steps[0]][0]:+.1f} MiB, "
                  f"peak RSS {marks[steps[-1]][1] - marks[steps[0]][1]:+.1f} MiB."]
    return lines


def run_memory(quick, device):
    """Every memory row: (section lines, seconds it took)."""
    t0 = time.time()
    n_graphs = 50 if quick else 500
    marks = rss_over_steps(200 if quick else 10000, device, quick)
    graph = kept_graph_bytes(n_graphs, device)
    # the peak is reached within the first steps (each step's graph is freed by the next)
    n_peak = {"mlp": 10 if quick else 300, "gpt": 30}
    peaks = {w: (n_peak[code], peak_rss(code, n_peak[code], device, quick)) for w, code in _RSS_CHILD.items()
             if not quick or code == "mlp"}
    return memory_section(graph, peaks, marks, n_graphs), time.time() - t0


def write_memory_only(path, lines, quick, seconds):
    """Replace only the ``## Memory`` section of an existing RESULTS.md (``--memory``)."""
    with open(path) as fh:
        old = fh.read()
    head = ["", f"Measured {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC by "
            f"`python benchmarks/suite.py --memory{' --quick' if quick else ''}` in {seconds:.0f} s (load average "
            f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} at the end).", ""]
    text = "\n".join(lines[:1] + head + lines[2:]) + "\n"
    a = old.find("## Memory")
    b = old.find(NOTES_MARKER)
    if a < 0:
        a = b if b >= 0 else len(old)
    new = old[:a] + text + ("\n" + old[b:] if b >= 0 else "")
    with open(path, "w") as fh:
        fh.write(new)
    print(text)


NOTES_MARKER = "<!-- notes: kept when the suite rewrites this file -->"
SYSTEMS = ["torch eager", "torch.compile", "jax.jit", "funcgrad eager", "funcgrad compiled"]
RATIOS = [("funcgrad eager / torch", "funcgrad eager", "torch eager"),
          ("funcgrad compiled / jax.jit", "funcgrad compiled", "jax.jit"),
          ("funcgrad compiled / torch.compile", "funcgrad compiled", "torch.compile")]


def _ratio(r, a, b):
    return f"{r[a] / r[b]:.2f}x" if r.get(a) and r.get(b) else "n/a"


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--device", default=os.environ.get("FUNCGRAD_BENCH_DEVICE", "cpu"))
    ap.add_argument("--out", default=os.path.join(HERE, "RESULTS.md"))
    ap.add_argument("--no-torch-compile", action="store_true", help="leave the torch.compile column empty")
    ap.add_argument("--clock", choices=("wall", "cpu"), help="time rows by wall clock or process CPU time "
                    "(default: wall, or cpu when the load average exceeds the core count)")
    ap.add_argument("--torch-threads", type=int, default=0, help="torch.set_num_threads (default: torch's, or 1 "
                    "when the load average exceeds the core count)")
    ap.add_argument("--rows", help="only the rows whose name contains one of these comma-separated words "
                    "(case-insensitive), no memory rows; RESULTS.md is then left alone unless --out is given")
    ap.add_argument("--memory", action="store_true", help="run only the memory rows and rewrite only the "
                    "Memory section of --out")
    for kind in ("--rss-child", "--rss-steps", "--kept-child"):
        ap.add_argument(kind, nargs=5, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    for kind, fn in ((args.rss_child, _peak_rss_child), (args.rss_steps, _steps_rss_child),
                     (args.kept_child, _kept_graph_child)):
        if kind:
            w, system, steps, device, quick = kind
            fn(w, system, int(steps), device, quick == "1")
            return None
    q = args.quick
    dev = args.device
    if args.memory:
        lines, seconds = run_memory(q, dev)
        write_memory_only(args.out, lines, q, seconds)
        return lines
    import torch

    # torch's intra-op threads spin when the machine is oversubscribed (a shared 2-core box): then
    # one thread, as stated in the results; otherwise torch's default
    if args.torch_threads:
        torch.set_num_threads(args.torch_threads)
    elif os.getloadavg()[0] > (os.cpu_count() or 1):
        torch.set_num_threads(1)
    clock = args.clock or ("cpu" if os.getloadavg()[0] > (os.cpu_count() or 1) else "wall")
    CLOCK.update(fn=time.process_time if clock == "cpu" else time.perf_counter, name=clock)
    load_start = os.getloadavg()
    TORCH_COMPILE["on"] = not (q or args.no_torch_compile)
    FAILURES.clear()
    t_start = time.time()
    rows = []

    only = [w.strip().lower() for w in args.rows.split(",")] if args.rows else None

    def run(name, unit, fn):
        if only is not None and not any(w in name.lower() for w in only):
            return
        t0 = time.time()
        r = fn()
        if r is None:
            print(f"{name:<44} skipped", flush=True)
            return
        rows.append((name, unit, r))
        print(f"{name:<44} done in {time.time() - t0:5.1f}s  " +
              "  ".join(f"{k}={v * 1e6:.1f}" for k, v in r.items() if v is not None), flush=True)

    run("chain of 200 ops fwd+bwd, scalar", "µs/op", lambda: chain((), 3 if q else 30, 2 if q else 5, dev))
    run("chain of 200 ops fwd+bwd, 100x100", "µs/op", lambda: chain((100, 100), 3 if q else 20, 2 if q else 5, dev))
    run("seed MLP step 64x1000-100-10, SGD", "µs/step",
        lambda: mlp_step((1000, 100, 10), 64, "sgd", False, 5 if q else 200, 3 if q else 20, dev))
    run("wide MLP step 512x784-1024-1024-10, Adam", "µs/step",
        lambda: mlp_step((784, 1024, 1024, 10), 512, "adam", True, 3 if q else 20, 2 if q else 5, dev))
    run("small CNN step 32x1x28x28, Adam", "µs/step", lambda: cnn_step(3 if q else 30, 2 if q else 5, dev))
    if q:  # smaller models: the quick run proves the rows run, it measures nothing
        GPT.update(d=32, seq=16, batch=4)
        LSTM.update(hidden=32, seq=8, batch=4)
    run(f"small GPT step ({GPT['layers']} layers, d{GPT['d']}, T{GPT['seq']}, B{GPT['batch']}), AdamW+clip",
        "µs/step", lambda: gpt_step(3 if q else 30, 2 if q else 5, dev))
    run(f"LSTM LM step (h{LSTM['hidden']}, T{LSTM['seq']}, B{LSTM['batch']}), SGD+clip", "µs/step",
        lambda: lstm_step(3 if q else 30, 2 if q else 5, dev))
    run("variable-length batches (benchmarks/varlen.py)", "µs/batch", lambda: varlen_row(q, dev))
    run("Hessian-vector product, 300x300", "µs/call", lambda: hvp(3 if q else 50, 2 if q else 5, dev))
    run("compiled call overhead: x + 1 (no state)", "µs/call",
        lambda: call_overhead("x+1", 3 if q else 30, 1 if q else 3, dev, 20 if q else 200))
    run("compiled call overhead: Linear(4,1) SGD step", "µs/call",
        lambda: call_overhead("step", 3 if q else 30, 1 if q else 3, dev, 10 if q else 50))
    if only is not None:
        for name, unit, r in rows:
            print(f"{name}: " + "  ".join(f"{label} {_ratio(r, a, b)}" for label, a, b in RATIOS) +
                  (f"  compiled - jax.jit {(r['funcgrad compiled'] - r['jax.jit']) * 1e6:.1f} µs"
                   if r.get("funcgrad compiled") and r.get("jax.jit") else ""))
        return rows
    mem_lines, _ = run_memory(q, dev)

    import jax
    import torch

    import funcgrad

    lines = [
        "# funcgrad benchmark results",
        "",
        f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC; mode: {'quick' if q else 'full'}",
        f"- machine: {platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform()}; JAX devices: "
        f"{[d.device_kind for d in jax.devices()]}; benchmark device: {dev}; load average (1, 5, 15 min) at the "
        f"start {', '.join(f'{x:.1f}' for x in load_start)}, at the end {', '.join(f'{x:.1f}' for x in os.getloadavg())}",
        f"- clock: **{CLOCK['name']}**" + (" (process CPU time over all threads: the machine was oversubscribed, "
                                           "so wall time would mostly measure waiting for a core)"
                                           if CLOCK["name"] == "cpu" else ""),
        f"- versions: python {platform.python_version()}, funcgrad {funcgrad.__version__}, jax {jax.__version__}, "
        f"torch {torch.__version__} ({torch.get_num_threads()} intra-op threads), numpy {np.__version__}",
        "- medians after warm-up, the systems of a row interleaved in one run (so a loaded machine slows them "
        "alike); `jax.jit` is the same workload written by hand in JAX (+ optax); for the chain rows it is one "
        "jitted gradient of the chain. `torch.compile` is inductor on CPU, timed after its compiling calls.",
        "",
        "| workload | unit | " + " | ".join(SYSTEMS) + " | " + " | ".join(r[0] for r in RATIOS) + " |",
        "|---|---|" + "---|" * (len(SYSTEMS) + len(RATIOS)),
    ]
    for name, unit, r in rows:
        cells = [f"{r[s] * 1e6:.1f}" if r.get(s) is not None else "n/a" for s in SYSTEMS]
        lines.append(f"| {name} | {unit} | " + " | ".join(cells) + " | " +
                     " | ".join(_ratio(r, a, b) for _, a, b in RATIOS) + " |")
    if FAILURES:
        lines += [""] + [f"- {w}: {sys_} failed: {why}" for w, sys_, why in FAILURES]
    lines += [""] + mem_lines + ["", f"Suite ran in {time.time() - t_start:.0f} s."]
    text = "\n".join(lines) + "\n"
    print(text)
    if not q or args.out != os.path.join(HERE, "RESULTS.md"):
        # hand-written notes below the marker (the profile, what is left) survive a re-run
        notes = ""
        if os.path.exists(args.out):
            with open(args.out) as fh:
                old = fh.read()
            if NOTES_MARKER in old:
                notes = "\n" + old[old.index(NOTES_MARKER):]
        with open(args.out, "w") as fh:
            fh.write(text + notes)
    return rows


if __name__ == "__main__":
    main()
