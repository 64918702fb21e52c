"""A shape-polymorphic training loop: each batch is built from per-sample slices of a long sequence
(``seq[i:i + L]``, a variable length L drawn from 5..60 and a random start i), each padded to 60
steps (``F.pad``) and stacked, then fed to a small model (forward, backward, SGD step) that pools
over the valid steps only. Every step has new shapes and slice offsets; ``--pad longest`` pads to
the batch's longest sample instead (``pad_sequence``: the model's shapes vary too).

Runs torch eager and funcgrad eager in the same process on the same data and prints ms/step for
each (cold: the first ``--steps`` steps, compiles included; warm: the next ``--steps`` steps, on
the same distribution of lengths), their ratio, and how many XLA programs funcgrad compiled
(``funcgrad._lazy.stats()``: fused programs, segment programs, per-op kernels, every XLA compile).

    python benchmarks/varlen.py [--steps 40] [--batch 8] [--quick] [--rounds 5]

Then ``--rounds`` more warm rounds of ``--steps`` steps, torch and funcgrad interleaved on fresh
models: single runs vary by +-30% from process to process on a small machine, the median of the
per-round ratios less.
"""
from __future__ import annotations

import argparse
import time

import numpy as np

D, H = 16, 32


T = 60


def make_data(seed, n=2000):
    rng = np.random.default_rng(seed)
    seqs = [rng.standard_normal((n, D)).astype(np.float32)]
    w1 = rng.uniform(-0.25, 0.25, (H, D)).astype(np.float32)
    w2 = rng.uniform(-0.18, 0.18, (1, H)).astype(np.float32)
    return seqs, (w1, np.zeros(H, np.float32), w2, np.zeros(1, np.float32))


def plan(seed, steps, batch, seqs):
    """(sequence, start, length, target) per sample per step: the same draws for both libraries."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(steps):
        rows = []
        for _ in range(batch):
            j = int(rng.integers(len(seqs)))
            L = int(rng.integers(5, T + 1))
            i = int(rng.integers(0, len(seqs[j]) - L + 1))
            rows.append((j, i, L, float(rng.standard_normal())))
        out.append(rows)
    return out


def trainer(lib, seqs, weights, longest=False):
    nn = lib.nn
    model = nn.Sequential(nn.Linear(D, H), nn.Tanh(), nn.Linear(H, 1))
    with lib.no_grad():
        for p, w in zip(model.parameters(), weights):
            p.copy_(lib.tensor(w))
    opt = lib.optim.SGD(model.parameters(), lr=0.05)
    data = [lib.tensor(s) for s in seqs]
    pad = nn.utils.rnn.pad_sequence

    def step(rows):
        xs = [data[j][i:i + L] for j, i, L, _ in rows]
        lengths = lib.tensor([L for _, _, L, _ in rows])
        if longest:
            x = pad(xs, batch_first=True)  # (batch, longest, D)
        else:
            x = lib.stack([nn.functional.pad(s, (0, 0, 0, T - s.shape[0])) for s in xs])  # (batch, T, D)
        mask = (lib.arange(x.shape[1])[None, :] < lengths[:, None]).to(x.dtype)
        h = model[1](model[0](x))  # per time step
        pooled = (h * mask[:, :, None]).sum(1) / lengths[:, None].to(x.dtype)
        pred = model[2](pooled).squeeze(1)
        loss = nn.functional.mse_loss(pred, lib.tensor([t for *_, t in rows]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    return step, model


def run(lib, seqs, weights, steps_plan, mark=None, at=0, longest=False):
    """Train on every step of ``steps_plan``; ``mark()`` is called before step ``at``."""
    step, model = trainer(lib, seqs, weights, longest)
    losses, times, cpu = [], [], []
    for k, rows in enumerate(steps_plan):
        if k == at and mark is not None:
            mark()
        t0, c0 = time.perf_counter(), time.process_time()
        losses.append(step(rows))
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    return losses, (times, cpu), [p.detach().numpy().copy() for p in model.parameters()]


def measure(steps, batch, longest=False, cpu=None):
    """Run both libraries on the same ``2 * steps`` batches; returns per-step times, the funcgrad
    stats snapshots (before, after the first ``steps``, at the end); asserts equal results.
    ``cpu``, a list, receives the per-step process CPU times (torch's, funcgrad's): on a loaded
    machine they are steadier than wall time."""
    import torch

    import funcgrad
    from funcgrad import _lazy

    import jax

    compiles = [0, 0.0]  # every XLA compile in this process (torch compiles none)

    def on_compile(event, duration, **kw):
        if event == "/jax/core/compile/backend_compile_duration":
            compiles[0] += 1
            compiles[1] += duration

    jax.monitoring.register_event_duration_secs_listener(on_compile)

    def stats():
        st = dict(getattr(_lazy, "stats", _lazy.cache_info)())
        for k in ("kernels", "op_runs", "segments", "split_runs"):
            st.setdefault(k, 0)
        st.setdefault("fused_runs", st["flushes"] - st["op_runs"])
        st["xla_compiles"], st["compile_seconds"] = compiles
        return st

    seqs, weights = make_data(0)
    steps_plan = plan(1, 2 * steps, batch, seqs)
    t_losses, t_times, t_params = run(torch, seqs, weights, steps_plan, longest=longest)
    snaps = [stats()]
    f_losses, f_times, f_params = run(funcgrad, seqs, weights, steps_plan, lambda: snaps.append(stats()), steps,
                                   longest)
    snaps.append(stats())
    np.testing.assert_allclose(f_losses, t_losses, rtol=2e-4, atol=1e-5)
    for a, b in zip(f_params, t_params):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=1e-5)
    if cpu is not None:
        cpu[:] = [t_times[1], f_times[1]]
    return t_times[0], f_times[0], snaps


def rounds(n, steps, batch, longest=False):
    """``n`` more warm rounds of ``steps`` steps each, torch and funcgrad interleaved (a fresh model
    each, warmed on one round first): per round (torch median, funcgrad median) seconds per step.
    Single runs of this 2-core-sized loop vary by +-30% from process to process; the median of the
    per-round ratios is a steadier figure. Asserts equal losses."""
    import torch

    import funcgrad

    seqs, weights = make_data(0)
    plans = plan(2, (n + 1) * steps, batch, seqs)
    libs = {lib: trainer(lib, seqs, weights, longest)[0] for lib in (torch, funcgrad)}
    losses = {lib: [] for lib in libs}
    out = []
    for r in range(n + 1):
        meds = []
        for lib, step in libs.items():
            times = []
            for rows in plans[r * steps:(r + 1) * steps]:
                t0 = time.perf_counter()
                losses[lib].append(step(rows))
                times.append(time.perf_counter() - t0)
            meds.append(float(np.median(times)))
        if r:  # round 0 warms the new models up
            out.append(tuple(meds))
    np.testing.assert_allclose(losses[funcgrad], losses[torch], rtol=2e-4, atol=1e-5)
    return out


def suite_row(quick, device):
    """The row of ``benchmarks/suite.py``: median seconds per step after the first (cold) steps,
    torch eager and funcgrad eager (the loop has no compiled form: its shapes change every step)."""
    if device != "cpu":
        return None
    steps = 5 if quick else 40
    t_times, f_times, _ = measure(steps, 8)
    return {"torch eager": float(np.median(t_times[steps:])), "torch.compile": None, "jax.jit": None,
            "funcgrad eager": float(np.median(f_times[steps:])), "funcgrad compiled": None}


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--pad", choices=("fixed", "longest"), default="fixed")
    ap.add_argument("--rounds", type=int, default=5, help="more warm rounds, torch and funcgrad interleaved")
    args = ap.parse_args(argv)
    steps = 5 if args.quick else args.steps
    longest = args.pad == "longest"
    cpu = []
    t_times, f_times, snaps = measure(steps, args.batch, longest, cpu)

    def ms(ts, avg=np.median):
        return 1e3 * float(avg(ts))

    cold_t, warm_t = ms(t_times[:steps], np.mean), ms(t_times[steps:])
    cold_f, warm_f = ms(f_times[:steps], np.mean), ms(f_times[steps:])
    print(f"variable-length batches: {2 * steps} steps x batch {args.batch}, lengths 5..{T}, padded to "
          f"{'the longest' if longest else T}; losses and parameters equal torch's")
    print(f"{'':34s}{'torch eager':>12s}{'funcgrad eager':>16s}{'ratio':>8s}")
    print(f"{'first %d steps (mean ms/step)' % steps:34s}{cold_t:12.2f}{cold_f:16.2f}{cold_f / cold_t:7.2f}x")
    print(f"{'next %d steps (median ms/step)' % steps:34s}{warm_t:12.2f}{warm_f:16.2f}{warm_f / warm_t:7.2f}x")
    cpu_t, cpu_f = ms(cpu[0][steps:]), ms(cpu[1][steps:])
    print(f"{'  same, process CPU ms/step':34s}{cpu_t:12.2f}{cpu_f:16.2f}{cpu_f / cpu_t:7.2f}x")
    if args.rounds > 0:
        rs = rounds(args.rounds, steps, args.batch, longest)
        ratios = [f / t for t, f in rs]
        print(f"{'%d more rounds (median ms/step)' % len(rs):34s}{ms([t for t, _ in rs]):12.2f}"
              f"{ms([f for _, f in rs]):16.2f}{float(np.median(ratios)):7.2f}x  (median ratio; per round "
              f"{', '.join('%.2f' % r for r in sorted(ratios))})")
    for name, a, b in (("first %d steps" % steps, snaps[0], snaps[1]), ("next %d steps" % steps, snaps[1], snaps[2])):
        print(f"funcgrad, {name}: {b['xla_compiles'] - a['xla_compiles']} XLA programs compiled "
              f"({b['programs'] - a['programs']} fused, {b['segments'] - a['segments']} segments, "
              f"{b['kernels'] - a['kernels']} per-op kernels, {b['compile_seconds'] - a['compile_seconds']:.1f} s); "
              f"flushes run op by op {b['op_runs'] - a['op_runs']}, fused {b['fused_runs'] - a['fused_runs']}, "
              f"in segments {b['split_runs'] - a['split_runs']}")


if __name__ == "__main__":
    main()
