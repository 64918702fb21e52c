"""Held values a fused program computes from its inputs by a few entries, and reads itself, are not
returned by it (``_lazy._deferrable``): they become thunks of those entries, computed when read (at
once, by an op of a later step, after more steps) with torch's values (-0.0, NaN, inf included); once
one was read, the structure's program returns them all. A flush that observes a value returns it. A structure met again finds its program by flat comparisons
(``_lazy._hot``), and alternating structures each get their own."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import funcgrad as fg
from funcgrad import _lazy
from lazy_util import fresh, same  # noqa: F401  (fresh: a fixture)

T = 6


def _data():
    x = np.random.default_rng(7).standard_normal((40, 3)).astype(np.float32)
    x[5, :3] = [-0.0, float("nan"), float("inf")]
    x[11, 0] = float("-inf")
    return x


def _np(t):
    return t.detach().numpy().copy()


def _steps(lib, data_np, plans, read):
    """A varlen-like training step (padded batch of slices, mask from lengths, Linear, SGD); ``read``
    says when the held batch and mask are read: "now" (after the step), "later" (all after the loop),
    "next" (by an op of the next step)."""
    data = lib.tensor(data_np)
    lin = lib.nn.Linear(3, 1)
    with lib.no_grad():
        lin.weight.copy_(lib.tensor([[0.5, -0.25, 0.125]]))
        lin.bias.fill_(0.1)
    opt = lib.optim.SGD(lin.parameters(), lr=0.05)
    out, held = [], []
    prev = None
    for rows in plans:
        xs = [data[i:i + n] for i, n in rows]
        lengths = lib.tensor([n for _, n in rows])
        x = lib.stack([lib.nn.functional.pad(s, (0, 0, 0, T - s.shape[0])) for s in xs])
        mask = (lib.arange(T)[None, :] < lengths[:, None]).to(x.dtype)
        y = lin(x.nan_to_num(0.0, 3.0, -3.0)).squeeze(2) * mask
        loss = (y ** 2).sum() / mask.sum()
        if prev is not None and read == "next":
            out.append(_np(prev[0] * 2 + prev[1][:, :, None]))
        opt.zero_grad()
        loss.backward()
        opt.step()
        out.append(_np(loss))
        if read == "now":
            out += [_np(x), _np(mask)]
        held.append((x, mask))
        prev = (x, mask)
    if read == "later":
        out += [_np(t) for pair in held for t in pair]
    out += [_np(p) for p in lin.parameters()]
    return out


def _plans(steps=6):
    rng = np.random.default_rng(3)
    return [[(int(rng.integers(0, 30)), int(rng.integers(1, T + 1))) for _ in range(4)] for _ in range(steps)]


@pytest.mark.parametrize("read", ["now", "later", "next"])
def test_deferred_values_read_as_torch(fresh, read):
    data, plans = _data(), _plans()
    expected = _steps(torch, data, plans, read)
    got = _steps(fg, data, plans, read)
    assert len(got) == len(expected)
    for g, t in zip(got, expected):
        same(g, t, exact=False)


def test_held_input_function_read_inside_is_a_thunk_then_its_value(fresh, monkeypatch):
    monkeypatch.setattr(_lazy, "_tier", "fused")
    data = _data()
    a = fg.tensor(data)
    w = fg.tensor(np.linspace(-1, 1, 3, dtype=np.float32), requires_grad=True)
    for k in range(3):
        x = a[2 * k:2 * k + 9].abs() * 2  # a function of the inputs, read by the loss below
        loss = (x.nan_to_num(0.0, 1.0) * w).sum()
        loss.backward()
        _lazy.flush()
        v = x._st.value
        if k < 2:  # (a slice from 0, then one from 2: two structures)
            assert type(v) is _lazy.Lazy and v.value is None and v.gen == _lazy.THUNK
        else:  # read once: the structure's values are used, its program returns them all from then on
            assert v.value is not None
        ta = torch.tensor(data)
        same(_np(x), _np(ta[2 * k:2 * k + 9].abs() * 2))
        assert x._st.value.value is not None  # computed once, kept
        w.grad = None


def test_observed_value_is_returned_not_deferred(fresh, monkeypatch):
    monkeypatch.setattr(_lazy, "_tier", "fused")
    data = _data()
    a = fg.tensor(data)
    w = fg.tensor(np.ones(3, np.float32), requires_grad=True)
    x = a[1:8] * -1.0
    loss = (x.nan_to_num(0.0, 1.0, -1.0) * w).sum()
    arr = x.numpy()  # flushes to read x: x comes back from the program itself
    assert x._st.value.value is not None
    same(arr, (torch.tensor(data)[1:8] * -1.0).numpy())
    same(_np(loss), _np((torch.tensor(data)[1:8] * -1.0).nan_to_num(0.0, 1.0, -1.0).sum()))


def test_alternating_structures_use_their_own_programs(fresh, monkeypatch):
    monkeypatch.setattr(_lazy, "_tier", "fused")
    base = np.array([-0.0, 1.5, float("nan"), -2.0], np.float32)
    a = fg.tensor(base)
    tb = torch.tensor(base)
    for k in range(12):
        m = k % 3
        if m == 0:
            y = (a * 2 + 1).neg()
            e = (tb * 2 + 1).neg()
        elif m == 1:
            y = (a * 3 + 1).neg()
            e = (tb * 3 + 1).neg()
        else:
            y = (a * 2 - 1).neg().to(fg.float64)
            e = (tb * 2 - 1).neg().to(torch.float64)
        _lazy.flush()
        same(_np(y), _np(e))


def test_hot_structure_check_is_exact_about_parameters():
    """Parameters equal but of other hashes (a numpy dtype and its name) are another structure."""
    prim = _lazy.Prim("probe", lambda params, x: x)
    e1 = [(prim, (np.dtype(np.float32),), (-1,))]
    e2 = [(prim, ("float32",), (-1,))]
    assert e1[0][1] == e2[0][1] and hash(e1[0][1]) != hash(e2[0][1])
    saved = list(_lazy._hot)
    try:
        _lazy._hot[:] = []
        _lazy._hot_put((tuple(e1), ((2,), np.dtype(np.float32)), (0,), True), ("fn", (0,), ()))
        assert _lazy._hot_get(e1, ((2,), np.dtype(np.float32)), (0,)) == ("fn", (0,), ())
        e1b = [(prim, (np.dtype(np.float32),), (-1,))]  # equal, another tuple object
        assert _lazy._hot_get(e1b, ((2,), np.dtype(np.float32)), (0,)) == ("fn", (0,), ())
        assert _lazy._hot_get(e2, ((2,), np.dtype(np.float32)), (0,)) is None
        assert _lazy._hot_get(e1, ((2,), np.dtype(np.float32)), (1,)) is None
        assert _lazy._hot_get([(prim, (np.dtype(np.float32),), (-2,))], ((2,), np.dtype(np.float32)), (0,)) is None
    finally:
        _lazy._hot[:] = saved
