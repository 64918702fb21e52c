"""Pads of variable-length slices folded into one fixed-shape window (``_lazy._fold``): the values and
gradients of op-by-op execution and of torch at the edges, held slices read later, bounded compiles."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import funcgrad as fg
from funcgrad import _lazy
from lazy_util import fresh, same  # noqa: F401  (fresh: a fixture)

EDGE = [float("nan"), float("inf"), float("-inf"), -0.0, 0.0, 1e30, -1e30, 3.0]




def _data(n=40, d=3, dtype=np.float32):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((n, d)).astype(dtype)
    x[::5, 0] = EDGE
    x[-1] = [-0.0, float("nan"), float("inf")]  # the last row: slices ending at the sequence end read it
    return x


def _plans(n, steps=6, batch=4, T=7, seed=0):
    rng = np.random.default_rng(seed)
    plans = []
    for _ in range(steps):
        rows = []
        for _ in range(batch):
            L = int(rng.integers(1, T + 1))
            rows.append((int(rng.integers(0, n - L + 1)), L))
        plans.append(rows)
    plans[0][0] = (n - 3, 3)  # ends at the sequence end
    plans[1][1] = (0, 5)  # starts at 0 (a static slice)
    plans[2][2] = (n - T, T)  # the whole window, ending at the end
    return plans


# (pad, value): right pads with several values, left and right, both along dim 0
PADS = [((0, 0, 0, "R"), 0.0), ((0, 0, 0, "R"), -0.0), ((0, 0, 0, "R"), float("nan")),
        ((0, 0, 2, "R"), 2.5), ((0, 0, 0, "R"), float("-inf")), ((0, 0, 1, "R"), None)]


def _step(lib, data, rows, pad, value, w, T=7):
    xs = [data[i:i + L] for i, L in rows]
    lo = pad[2]
    kw = {} if value is None else {"value": value}
    x = lib.stack([lib.nn.functional.pad(s, (0, 0, lo, T - lo - s.shape[0] + lo * 0), **kw) for s in xs])
    loss = (x * w).nan_to_num(0.0, 1e3, -1e3).tanh().sum()
    return xs, x, loss


def _run(lib, data_np, plans, pad, value, read_later=True, grad_data=False):
    data = lib.tensor(data_np, requires_grad=grad_data)
    w = lib.tensor(np.linspace(-1, 1, data_np.shape[1], dtype=np.float32), requires_grad=True)
    out = []
    held = []
    for rows in plans:
        xs, x, loss = _step(lib, data, rows, pad, value, w)
        loss.backward()
        out += [(True, x.detach().numpy().copy()), (False, loss.detach().numpy().copy()),
                (False, w.grad.numpy().copy())]
        w.grad = None
        if grad_data:
            out.append((False, data.grad.numpy().copy()))  # tanh' to an ulp
            data.grad = None
        held.append(xs)
    if read_later:  # slices held over later steps (carried over, then computed): read now
        out += [(True, s.detach().numpy().copy()) for xs in held for s in xs]
    return out


@pytest.mark.parametrize("pad,value", PADS)
def test_folded_pads_equal_op_by_op_and_torch(fresh, monkeypatch, pad, value):
    data = _data()
    plans = _plans(len(data), steps=10)
    expected = _run(torch, data, plans, pad, value)
    before = _lazy.stats()
    got = _run(fg, data, plans, pad, value)
    after = _lazy.stats()
    monkeypatch.setattr(_lazy, "_folds", {})
    monkeypatch.setattr(_lazy, "_tier", "ops")
    ops = _run(fg, data, plans, pad, value)
    assert len(got) == len(expected) == len(ops)
    for (exact, g), (_, o), (_, t) in zip(got, ops, expected):
        same(g, t, exact)
        same(g, o, exact)
    # the slices stay off the tape (computed when read: ``_lazy.THUNK``), so every step, a slice from 0
    # included, has one structure: one program for all (two at most), not one per step. With a left
    # pad, a long slice gets a negative right pad (a crop), which does not fold: a few more.
    bound = 2 if pad[2] == 0 else 6
    assert after["segments"] + after["programs"] - before["segments"] - before["programs"] <= bound, (before, after)


def test_held_slices_read_at_once_and_later(fresh):
    data_np = _data()
    plans = _plans(len(data_np), steps=5)
    res = {}
    for lib in (torch, fg):
        data = lib.tensor(data_np)
        w = lib.tensor(np.ones(3, np.float32), requires_grad=True)
        vals = []
        prev = None
        for rows in plans:
            xs, x, loss = _step(lib, data, rows, (0, 0, 0, "R"), 0.0, w)
            loss.backward()
            vals.append((False, loss.item()))
            if prev is not None:  # a slice of the last step used in an op now, and read now
                vals.append((True, (prev[0] * 2).detach().numpy()))
                vals.append((True, prev[1].detach().numpy()))
            vals.append((True, xs[-1].detach().numpy()))  # read right after its step
            prev = xs
        res[lib] = vals
    for (exact, a), (_, b) in zip(res[fg], res[torch]):
        same(np.asarray(a), np.asarray(b), exact)


def test_grads_through_folded_pads_equal_torch(fresh):
    data = _data()
    data[np.isnan(data) | np.isinf(data)] = 1.5  # finite: the gradients flow into data
    plans = _plans(len(data))
    for pad, value in PADS[:4]:
        got = _run(fg, data, plans, pad, value, grad_data=True)
        expected = _run(torch, data, plans, pad, value, grad_data=True)
        for (exact, g), (_, t) in zip(got, expected):
            same(g, t, exact)


def test_int_and_bool_pads_fold(fresh):
    rng = np.random.default_rng(1)
    ints = rng.integers(-5, 5, (30, 2))
    for dtype, value in ((np.int64, 7), (np.int32, -1), (np.bool_, True)):
        res = {}
        for lib in (torch, fg):
            data = lib.tensor(ints.astype(dtype))
            out = []
            for rows in _plans(30, steps=4, batch=3):
                xs = [data[i:i + L] for i, L in rows]
                x = lib.stack([lib.nn.functional.pad(s, (0, 0, 0, 7 - s.shape[0]), value=value) for s in xs])
                out.append(x.numpy().copy())
                out += [s.numpy().copy() for s in xs]
            res[lib] = out
        for a, b in zip(res[fg], res[torch]):
            same(a, b)


def _linear_sgd(lib, out, bias):
    """A Linear(4, out) with fixed weights and SGD over it."""
    lin = lib.nn.Linear(4, out)
    with lib.no_grad():
        lin.weight.copy_(lib.tensor(np.linspace(-1, 1, 4 * out, dtype=np.float32).reshape(out, 4)))
        lin.bias.fill_(bias)
    return lin, lib.optim.SGD(lin.parameters(), lr=0.1)


def test_loop_over_new_lengths_compiles_a_bounded_number_of_programs(fresh):
    rng = np.random.default_rng(2)
    data_np = rng.standard_normal((500, 4)).astype(np.float32)
    plans = _plans(500, steps=40, batch=6, T=30, seed=3)
    res = {}
    for lib in (torch, fg):
        data = lib.tensor(data_np)
        lin, opt = _linear_sgd(lib, 2, 0.0)
        losses = []
        for k, rows in enumerate(plans):
            if lib is fg and k == 0:
                start = _lazy.stats()
            if lib is fg and k == 10:
                mid = _lazy.stats()
            xs = [data[i:i + L] for i, L in rows]
            x = lib.stack([lib.nn.functional.pad(s, (0, 0, 0, 30 - s.shape[0])) for s in xs])
            loss = lin(x).tanh().mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        res[lib] = losses
    end = _lazy.stats()
    np.testing.assert_allclose(res[fg], res[torch], rtol=1e-5, atol=1e-6)
    # every step has one structure (a slice from 0 too): one program (two at most), not one per
    # length (23 lengths here) or per step, and nothing compiled after the first steps
    assert end["programs"] + end["segments"] - start["programs"] - start["segments"] <= 2, (start, end)
    assert end["xla_compiles"] == mid["xla_compiles"], (mid, end)
    assert end["fused_runs"] - mid["fused_runs"] >= 28, (mid, end)


@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence_loop_compiles_once_per_longest_length(fresh, side):
    """``pad_sequence`` over per-sample slices pads each sample with one constant pad, folded into a
    window (start, length and amount as inputs): a step's structure depends on its longest length
    only, not on every sample's length or on which one is the longest, so the loop compiles one
    program per longest length, and a second pass over the same lengths compiles nothing."""
    rng = np.random.default_rng(4)
    data_np = rng.standard_normal((300, 4)).astype(np.float32)
    data_np[::7, 1] = -0.0
    longest = [5, 9, 5, 9, 9, 5, 12, 5, 12, 9, 5, 12]
    plans = []
    for T in longest:
        lens = [int(v) for v in rng.integers(1, T + 1, 4)]
        lens[int(rng.integers(4))] = T
        plans.append([(int(rng.integers(0, 300 - L + 1)), L) for L in lens])
    res = {}
    for lib in (torch, fg):
        data = lib.tensor(data_np)
        lin, opt = _linear_sgd(lib, 3, 0.25)
        out = []
        for k, rows in enumerate(plans * 2):
            if lib is fg and k == 0:
                start = _lazy.stats()
            if lib is fg and k == len(plans):
                mid = _lazy.stats()
            xs = [data[i:i + L] for i, L in rows]
            x = lib.nn.utils.rnn.pad_sequence(xs, batch_first=True, padding_value=-1.5, padding_side=side)
            lengths = lib.tensor([L for _, L in rows])
            mask = (lib.arange(x.shape[1])[None, :] < lengths[:, None]).to(x.dtype)
            if side == "left":
                mask = mask.flip(1)
            loss = ((lin(x).tanh() * mask[:, :, None]).sum(1) / lengths[:, None]).pow(2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            out.append(loss.item())
            out.append(x.numpy().copy())  # the padded batch read too (a deferred value computed)
        res[lib] = out + [p.detach().numpy().copy() for p in lin.parameters()]
    end = _lazy.stats()
    for a, b in zip(res[fg], res[torch]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # three longest lengths: a program each (and the structure returning everything, read), no per-op
    # kernels or segments per sample length; the second pass compiles nothing at all
    assert end["programs"] - start["programs"] <= 2 * len(set(longest)), (start, end)
    assert end["segments"] == start["segments"] and end["kernels"] - start["kernels"] <= 4, (start, end)
    assert end["xla_compiles"] == mid["xla_compiles"], (mid, end)
