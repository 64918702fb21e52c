"""Cold start of eager training (``funcgrad/_lazy.py``): a GPT-like loop compiles its step's programs
once, in its first step (no per-op kernels, nothing in later steps), with torch's numbers; a tuple
entry's pick needs no XLA kernel; the per-op kernel cache is bounded. torch is the oracle."""
import os
import sys

import numpy as np
import pytest
import torch

import funcgrad as fg
from funcgrad import _lazy
from lazy_util import fresh  # noqa: F401  (a fixture)

V, D, H, T, B = 32, 16, 2, 8, 2
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks"))
import suite  # noqa: E402


def _gpt(lib):
    """The benchmark suite's small GPT (nanoGPT's shape), at this test's tiny sizes."""
    sizes = suite.GPT
    suite.GPT = dict(sizes, vocab=V, d=D, heads=H, layers=1, seq=T, batch=B)
    try:
        return suite.gpt_model(lib)
    finally:
        suite.GPT = sizes


def _train(lib, sd, idx, tgt, steps, on_step=None):
    lib.manual_seed(0)
    model = _gpt(lib)  # initialised (pending in funcgrad), then overwritten, as a loaded checkpoint
    model.load_state_dict({k: lib.tensor(v) for k, v in sd.items()})
    decay = [p for p in model.parameters() if p.dim() >= 2]
    rest = [p for p in model.parameters() if p.dim() < 2]
    opt = lib.optim.AdamW([{"params": decay, "weight_decay": 0.1}, {"params": rest, "weight_decay": 0.0}], lr=1e-3)
    xs, ys = lib.tensor(idx), lib.tensor(tgt)
    losses = []
    for t in range(steps):
        before = _lazy.stats()
        opt.zero_grad()
        loss = lib.nn.functional.cross_entropy(model(xs).reshape(-1, V), ys.reshape(-1))
        loss.backward()
        lib.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        if on_step is not None:
            on_step(t, before, _lazy.stats())
    return losses, {n: p.detach().numpy().copy() for n, p in model.named_parameters()}


def test_gpt_like_loop_compiles_its_step_once_and_matches_torch(fresh):
    rng = np.random.default_rng(0)
    idx, tgt = rng.integers(0, V, (B, T)), rng.integers(0, V, (B, T))
    torch.manual_seed(0)
    sd = {k: v.detach().numpy().copy() for k, v in _gpt(torch).state_dict().items()}
    t_losses, t_params = _train(torch, sd, idx, tgt, 4)
    seen = []

    def on_step(t, a, b):
        seen.append({k: b[k] - a[k] for k in ("programs", "segments", "kernels", "xla_compiles", "op_runs")})

    f_losses, f_params = _train(fg, sd, idx, tgt, 4, on_step)
    np.testing.assert_allclose(f_losses, t_losses, rtol=1e-4, atol=1e-5)
    for name, b in t_params.items():
        a = f_params[name]
        if name == "blocks.0.qkv.bias":
            # the keys' bias has a gradient of exactly zero in exact arithmetic (softmax ignores a
            # constant added to every score), rounding noise in float32, which Adam scales to +-lr
            a, b = np.delete(a, np.s_[D:2 * D]), np.delete(b, np.s_[D:2 * D])
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=name)
    # the first step: its forward and its backward + update, each one fused program (the
    # parameters' initialisation ran when the optimizer was built); no per-op kernels
    assert seen[0]["programs"] <= 2 and seen[0]["kernels"] == 0 and seen[0]["segments"] == 0, seen
    assert seen[0]["op_runs"] == 0, seen
    # later steps have the first step's structure: nothing to compile
    for s in seen[1:]:
        assert s["programs"] == s["kernels"] == s["segments"] == s["xla_compiles"] == 0, seen


def test_tuple_picks_run_without_kernels(monkeypatch):
    """An optimizer update is one tuple entry and one pick per output: op by op, a pick is python
    indexing, not an XLA compile per position."""
    monkeypatch.setattr(_lazy, "_tier", "ops")
    rng = np.random.default_rng(1)
    w_np = [rng.standard_normal(s).astype(np.float32) for s in ((3, 5), (5,), (2,))]
    out = {}
    for lib in (torch, fg):
        ws = [lib.tensor(w, requires_grad=True) for w in w_np]
        opt = lib.optim.SGD(ws, lr=0.1, momentum=0.9)
        for _ in range(2):
            opt.zero_grad()
            ((ws[0] @ ws[1]).tanh().sum() * ws[2].sum()).backward()
            opt.step()
        out[lib] = [w.detach().numpy() for w in ws]
    for a, b in zip(out[fg], out[torch]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    picks = [fn for k, fn in _lazy._kernels.items() if k[0].name == "getitem"]
    assert picks and not any(hasattr(fn, "lower") for fn in picks)  # plain python, not jax.jit


def test_kernel_cache_is_bounded(monkeypatch):
    monkeypatch.setattr(_lazy, "_tier", "ops")
    monkeypatch.setattr(_lazy, "MAX_KERNELS", 8)
    monkeypatch.setattr(_lazy, "_kernels", {})
    for n in range(1, 13):
        x = np.arange(n, dtype=np.float32)
        f = (fg.tensor(x).tanh() * 3).numpy()
        np.testing.assert_allclose(f, (torch.tensor(x).tanh() * 3).numpy(), rtol=1e-6)
        assert len(_lazy._kernels) <= 8


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc_trim")
def test_malloc_trim_found_on_glibc():
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc")
    assert _lazy._trim is not None and _lazy._trim(0) in (0, 1)
