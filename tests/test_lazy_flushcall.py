"""The fused program's call (``_lazy._layout``): lifted ints passed packed as one int64 array, the zeros
standing for dropped values built inside the program, the structure key telling the layouts apart;
values and gradients equal op-by-op execution and torch. torch is the oracle."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import funcgrad as fg
from funcgrad import _lazy
from lazy_util import fresh, same  # noqa: F401  (fresh: a fixture)


@pytest.fixture(params=["fused", "ops"])
def tier(request, monkeypatch):
    monkeypatch.setattr(_lazy, "_tier", request.param)
    return request.param


def _data(n=50, d=3):
    rng = np.random.default_rng(7)
    x = rng.standard_normal((n, d)).astype(np.float32)
    x[-1] = [-0.0, float("nan"), float("inf")]
    x[3] = [float("-inf"), 0.0, -0.0]
    return x


def _many_ints(lib, data, starts):
    """Many lifted ints in one flush: a slice and a select per start, each with its own int."""
    parts = [data[i:i + 2].sum(0) for i in starts] + [data[i] for i in starts]
    return lib.stack(parts)


def test_many_distinct_ints_in_one_flush(fresh, tier):
    x = _data()
    starts_list = [list(range(1, 40)), list(range(39, 0, -1)), [7] * 39, [1, 48] * 19 + [5]]
    for starts in starts_list:  # one structure, other ints (and equal ints in separate slots)
        got = _many_ints(fg, fg.tensor(x), starts).numpy()
        same(got, _many_ints(torch, torch.tensor(x), starts).numpy())


def test_same_structure_other_ints_reuses_one_program(fresh, monkeypatch):
    monkeypatch.setattr(_lazy, "_tier", "fused")
    x = _data()
    data = fg.tensor(x)
    _many_ints(fg, data, range(1, 30)).numpy()
    before = _lazy.stats()["programs"]
    rng = np.random.default_rng(0)
    for _ in range(4):
        starts = [int(v) for v in rng.integers(1, 48, 29)]
        same(_many_ints(fg, data, starts).numpy(), _many_ints(torch, torch.tensor(x), starts).numpy())
    assert _lazy.stats()["programs"] == before


def test_layout_packs_ints_and_builds_zeros():
    import jax.numpy as jnp

    zeros = jnp.zeros((2, 3), jnp.float32)
    _lazy.note_zeros(zeros)
    a = jnp.ones((4,), jnp.float32)
    i1, i2 = _lazy._int_arg(5), _lazy._int_arg(-3)
    layout, args = _lazy._layout([a, i1, zeros, i2, np.zeros((2,), np.int64)])
    assert layout[1] == layout[3] == _lazy._INT
    assert layout[2] == ("zeros", (2, 3), np.dtype(np.float32))
    assert layout[0] == ((4,), np.dtype(np.float32)) and layout[4] == ((2,), np.dtype(np.int64))
    np.testing.assert_array_equal(args[0], [5, -3])
    assert args[1] is a and len(args) == 3  # packed ints, then the inputs passed as they are
    # a zeros array not noted is an input like any other: another layout, never confused with it
    other = jnp.zeros((2, 3), jnp.float32)
    layout2, args2 = _lazy._layout([a, i1, other, i2])
    assert layout2[2] == ((2, 3), np.dtype(np.float32)) and args2[2] is other
    k = id(zeros)
    del zeros, layout, args
    assert k not in _lazy._zero_ids  # not kept alive; its id may be another array's now


def _model_step(lib, x, w, b, signs):
    """A backward whose vjps drop values (mul by a constant, sum, div by a tensor not requiring
    grad): zeros placeholders in the fused program. -0.0 gradients where ``signs`` has -0.0."""
    y = (x * w).sum(1) / signs.abs().add(1.0)
    loss = (y * signs).sum() + (b * signs).sum() * 0.0
    loss.backward()
    return loss


def test_zeros_placeholders_match_torch(fresh, tier):
    rng = np.random.default_rng(3)
    xs = rng.standard_normal((4, 5, 3)).astype(np.float32)
    signs = np.array([-0.0, 0.0, 2.0, -1.5, float("inf")], np.float32)
    res = {}
    for lib in (torch, fg):
        w = lib.tensor(np.array([0.5, -0.0, 2.0], np.float32), requires_grad=True)
        b = lib.tensor(np.array([1.0, -2.0, 0.0, 3.0, -0.0], np.float32), requires_grad=True)
        s = lib.tensor(signs)
        out = []
        for x in xs:  # one structure every step: the cached program, new values
            loss = _model_step(lib, lib.tensor(x), w, b, s)
            out += [loss.detach().numpy().copy(), w.grad.numpy().copy(), b.grad.numpy().copy()]
            w.grad = None
            b.grad = None
        res[lib] = out
    for a, t in zip(res[fg], res[torch]):
        same(a, t, exact=False)


def test_training_loop_with_dropped_values_and_ints(fresh):
    """The varlen benchmark's shape: slices padded to one size (fold windows, at the sequence's end
    too), a model whose backward drops values, an SGD step with momentum; every step equal to torch."""
    x_np = _data(n=30, d=3)
    x_np[np.isnan(x_np) | np.isinf(x_np)] = 0.5
    rng = np.random.default_rng(11)
    T = 6
    plans = []
    for k in range(8):
        rows = []
        for _ in range(3):
            L = int(rng.integers(1, T + 1))
            rows.append((int(rng.integers(0, 30 - L + 1)), L))
        plans.append(rows)
    plans[1][0] = (30 - T, T)  # ends at the sequence end
    plans[2][1] = (29, 1)  # the last row alone
    plans[3][2] = (0, 4)  # starts at 0
    w0 = rng.standard_normal((3, 2)).astype(np.float32)
    res = {}
    for lib in (torch, fg):
        data = lib.tensor(x_np)
        w = lib.tensor(w0, requires_grad=True)
        opt = lib.optim.SGD([w], lr=0.1, momentum=0.9)
        out = []
        for rows in plans:
            xs = [data[i:i + L] for i, L in rows]
            lengths = lib.tensor([float(L) for _, L in rows])
            xb = lib.stack([lib.nn.functional.pad(s, (0, 0, 0, T - s.shape[0])) for s in xs])
            h = (xb @ w).tanh()
            mask = (lib.arange(T)[None, :] < lengths[:, None]).to(xb.dtype)
            pooled = (h * mask[:, :, None]).sum(1) / lengths[:, None]
            loss = (pooled ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            out += [loss.item(), w.detach().numpy().copy(), xs[-1].detach().numpy().copy()]
        res[lib] = out
    for a, t in zip(res[fg], res[torch]):
        same(np.asarray(a, np.float32), np.asarray(t, np.float32), exact=False)


def test_traced_flush_with_ints_and_zeros():
    """funcgrad.compile traces the tape inline: lifted ints and placeholders stay ordinary values."""
    x_np = _data(n=12, d=3)
    x_np[np.isnan(x_np) | np.isinf(x_np)] = 1.0
    res = {}
    for lib in (torch, fg):
        w = lib.tensor(np.array([1.0, -2.0, 0.5], np.float32), requires_grad=True)
        opt = lib.optim.SGD([w], lr=0.1, momentum=0.5)

        def step(x, w=w, opt=opt, lib=lib):
            opt.zero_grad()
            y = (x[3:7] * w).sum() + x[5].sum() * 2.0 + (x[2:9] * w / (w.detach().abs() + 1.0)).sum()
            y.backward()
            opt.step()
            return y

        f = fg.compile(step) if lib is fg else step
        out = []
        for k in range(4):
            y = f(lib.tensor(x_np + k))
            out += [y.detach().numpy().copy(), w.detach().numpy().copy()]
        res[lib] = out
    for a, t in zip(res[fg], res[torch]):
        same(a, t, exact=False)
