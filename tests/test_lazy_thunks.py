"""Slices of computed tensors stay off the tape until read (``_lazy.THUNK``): observed, read by other ops,
padded (folded into one window entry at record time), sliced again, edited in place through the
base or the slice, read inside ``funcgrad.compile`` and from threads, all as torch gives them."""
from __future__ import annotations

import threading

import numpy as np
import pytest
import torch

import funcgrad as fg
from funcgrad import _lazy
from lazy_util import fresh, same  # noqa: F401  (fresh: a fixture)


def _seq(n=30, d=3):
    x = np.random.default_rng(4).standard_normal((n, d)).astype(np.float32)
    x[3, :3] = [-0.0, float("nan"), float("inf")]
    return x


def _both(fn, *args):
    """``fn(lib, *args)`` under torch and funcgrad: lists of arrays, compared exactly."""
    got, expected = fn(fg, *args), fn(torch, *args)
    assert len(got) == len(expected)
    for g, t in zip(got, expected):
        same(g, t)


def _np(t):
    return t.detach().numpy().copy()


def test_slice_of_a_computed_tensor_is_not_recorded_until_read(fresh):
    x = fg.tensor(_seq())
    x.numpy()
    _lazy.flush()
    before = _lazy.stats()
    s = x[2:9]
    t = x[0:4]  # a slice from 0 (not a lifted start)
    assert _lazy.stats()["pending"] == 0 and _lazy.stats()["flushes"] == before["flushes"]
    same(s.numpy(), _seq()[2:9])
    same(t.numpy(), _seq()[0:4])
    assert repr(s) == repr(torch.tensor(_seq())[2:9])


def test_slices_read_by_ops_values_and_grads(fresh):
    def run(lib, seq):
        x = lib.tensor(seq, requires_grad=True)
        s, u = x[2:9], x[0:7]
        v = x[1:20][3:10]  # a slice of a slice
        y = (s * u).nan_to_num(0.0, 5.0, -5.0)
        z = lib.cat([s, v]).abs().nan_to_num(0.0, 5.0) * lib.nn.functional.pad(u, (1, 0, 0, 9), value=0.5)[:14, 1:]
        (y.sum() + z.sum()).backward()
        assert s.grad_fn.name() == "SliceBackward0"
        return [_np(y), _np(z), _np(x.grad), _np(s), _np(v)]

    _both(run, _seq())


@pytest.mark.parametrize("pending_base", [False, True])
def test_pads_of_slices_fold_and_equal_torch(fresh, monkeypatch, pending_base):
    """Right pads of slices of a computed sequence fold at record time; of a pending sequence, at
    the flush (``_lazy._fold``); both equal the unfolded ops and torch, with their gradients."""
    seq = _seq()
    seq[np.isinf(seq) | np.isnan(seq)] = 2.0

    def run(lib):
        base = lib.tensor(seq, requires_grad=True)
        out = []
        for i, L in ((0, 5), (4, 7), (23, 7), (10, 1)):
            x = base * 1.5 if pending_base else base
            xs = [x[i:i + L], x[i // 2:i // 2 + 3]]
            p = lib.stack([lib.nn.functional.pad(s, (0, 0, 0, 7 - s.shape[0]), value=-0.0) for s in xs])
            (p * p).sum().backward()
            out += [_np(p), _np(base.grad), _np(xs[0])]
            base.grad = None
        return out

    expected = run(torch)
    got = run(fg)
    monkeypatch.setattr(_lazy, "_folds", {})
    unfolded = run(fg)
    for g, u, t in zip(got, unfolded, expected):
        same(g, t)
        same(g, u)


def test_in_place_edits_through_base_and_slice(fresh):
    def run(lib, seq):
        x = lib.tensor(seq)
        s = x[2:6]
        r = x[5:8]
        x.add_(1.0)  # the slices see the edit (views)
        a = _np(s)
        s.mul_(2.0)  # the base and the overlapping slice see this one
        return [a, _np(x), _np(r), _np(s)]

    _both(run, _seq())


def test_padded_slices_not_folded_go_on_the_tape(fresh):
    def run(lib, seq):
        x = lib.tensor(seq)
        F = lib.nn.functional
        s = x[3:8]
        return [_np(F.pad(s, (1, 1))), _np(F.pad(s[None], (0, 0, 2, 2), mode="reflect")),
                _np(F.pad(s, (0, 0, 1, 2), value=7.0)), _np(s.unsqueeze(0) * 2)]

    _both(run, _seq())


def test_lazy_off_and_slices(fresh):
    fg.set_lazy(False)
    try:
        x = fg.tensor(_seq())
        s = x[4:9]
        assert type(s._value()) is not _lazy.Lazy or s._value().value is not None
        same(s.numpy(), _seq()[4:9])
    finally:
        fg.set_lazy(True)


def test_slices_made_outside_read_inside_compile(fresh):
    seq = _seq()
    seq[~np.isfinite(seq)] = 0.5

    def make(lib):
        x = lib.tensor(seq)
        w = lib.tensor(np.ones(3, np.float32), requires_grad=True)
        return x, w

    x, w = make(fg)

    def step(x, held):
        p = fg.nn.functional.pad(x[4:9], (0, 0, 0, 2))
        loss = ((p + held) * w).sum()
        loss.backward()
        return loss

    compiled = fg.compile(step, fullgraph=True)
    res = []
    for k in range(3):
        held = x[k:k + 7]  # a slice made outside, read in the compiled step
        res.append((compiled(x, held).item(), w.grad.numpy().copy(), held.numpy().copy()))
        w.grad = None
    assert compiled.cache_info()["eager_calls"] == 0
    xt, wt = make(torch)
    for k in range(3):
        held = xt[k:k + 7]
        p = torch.nn.functional.pad(xt[4:9], (0, 0, 0, 2))
        loss = ((p + held) * wt).sum()
        loss.backward()
        np.testing.assert_allclose(res[k][0], loss.item(), rtol=1e-6)
        same(res[k][1], wt.grad.numpy(), exact=False)
        same(res[k][2], held.numpy())
        wt.grad = None


def test_threads_slicing_one_sequence(fresh):
    seq = _seq(200, 4)
    x = fg.tensor(seq)

    def work(k, out):
        acc = []
        for i in range(40):
            a = (k * 7 + i) % 150
            s = x[a:a + 1 + i % 30]
            p = fg.nn.functional.pad(s, (0, 0, 0, 30 - s.shape[0]))
            acc.append((p.sum().item(), s.numpy().copy()))
        out[k] = acc

    serial, threaded = {}, {}
    for k in range(3):
        work(k, serial)
    threads = [threading.Thread(target=work, args=(k, threaded)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(3):
        for (a, sa), (b, sb) in zip(serial[k], threaded[k]):
            same(a, b, exact=False)  # a sum: fused with other threads' work, its order may differ by an ulp
            same(sa, sb)
