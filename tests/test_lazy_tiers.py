"""Tiered lazy execution (``funcgrad/_lazy.py``): op-by-op and fused runs give torch's numbers
(inf, NaN, -0.0 included), a shape-varying loop compiles a bounded number of programs, and an
interrupted flush leaves its values pending. torch is the oracle."""
import os
import sys

import numpy as np
import pytest
import torch

import funcgrad as fg
from funcgrad import _lazy
from lazy_util import fresh  # noqa: F401  (a fixture)

HERE = os.path.join(os.path.dirname(__file__), "..", "benchmarks")


@pytest.fixture(params=["ops", "fused"])
def tier(request, monkeypatch):
    monkeypatch.setattr(_lazy, "_tier", request.param)
    return request.param


def same(f_out, t_out):
    a, b = f_out.detach().numpy(), t_out.detach().numpy()
    assert a.dtype == b.dtype and a.shape == b.shape
    num = ~np.isnan(b)  # a NaN's sign bit is not part of torch's semantics
    np.testing.assert_array_equal(np.signbit(a)[num], np.signbit(b)[num])
    np.testing.assert_array_equal(np.isfinite(a), np.isfinite(b))
    np.testing.assert_allclose(a, b, rtol=1e-6, atol=0)  # inf, -inf and NaN where torch has them


EDGE = [1000.0, -1000.0, 0.0, -0.0, float("inf"), float("-inf"), float("nan"), 1e30, -3.0]


@pytest.mark.parametrize("name,fn", [
    ("exp_log", lambda lib, x, y: x.exp().log()),
    ("exp_mul_exp", lambda lib, x, y: x.exp() * y.exp()),
    ("exp_div_exp", lambda lib, x, y: x.exp() / y.exp()),
    ("sqrt_of_square", lambda lib, x, y: (x * x).sqrt()),
    ("log_of_sqrt", lambda lib, x, y: x.sqrt().log()),
    ("pow_of_exp", lambda lib, x, y: x.exp() ** 0.5),
    ("nan_chain", lambda lib, x, y: ((x * 0.0).exp() + y).tanh().log1p() * x),
    ("neg_zero_consts", lambda lib, x, y: x * -0.0 + -0.0),
    ("neg_zero_add", lambda lib, x, y: lib.tensor(-0.0) + x * 0.0),
])
def test_tiers_match_torch_at_edges(tier, name, fn):
    xs = np.array(EDGE, np.float32)
    ys = np.array(EDGE[::-1], np.float32)
    t = fn(torch, torch.tensor(xs), torch.tensor(ys))
    for _ in range(3):  # the first run and the cached program
        f = fn(fg, fg.tensor(xs), fg.tensor(ys))
        same(f, t)


def test_neg_zero_scalar_constants_keep_their_sign():
    for v in (-0.0, 0.0):
        x = np.array([1.0, -2.0, 0.0, -0.0], np.float32)
        same(fg.tensor(x) * v, torch.tensor(x) * v)
        same(fg.tensor(x) + v, torch.tensor(x) + v)
        same(fg.tensor(v) * 1.0, torch.tensor(v) * 1.0)
        same(fg.full((2,), v), torch.full((2,), v))


def test_grads_equal_in_both_tiers(tier):
    rng = np.random.default_rng(0)
    data = rng.standard_normal((4, 5)).astype(np.float32)
    grads = {}
    for lib in (torch, fg):
        x = lib.tensor(data, requires_grad=True)
        y = (x.exp().log() * x.tanh()).sum(1).sqrt().mean()
        y.backward()
        grads[lib] = (y, x.grad)
    same(grads[fg][0], grads[torch][0].to(torch.float32))
    np.testing.assert_allclose(grads[fg][1].numpy(), grads[torch][1].numpy(), rtol=1e-5, atol=1e-6)


def _varlen_step(lib, data, lengths, starts, w):
    xs = [data[i:i + L] for i, L in zip(starts, lengths)]
    x = lib.stack([lib.nn.functional.pad(s, (0, 0, 0, 12 - s.shape[0])) for s in xs])
    loss = (x @ w).tanh().sum()
    loss.backward()
    with lib.no_grad():
        w -= 0.01 * w.grad
        w.grad.zero_()
    return loss.item()


@pytest.fixture
def nofold(monkeypatch):
    """No pad-of-slice folds (``_lazy._fold``): each step's front keeps its per-length structure,
    as a front the folds do not cover has (the segment machinery under test)."""
    monkeypatch.setattr(_lazy, "_folds", {})


def test_shape_varying_loop_compiles_a_bounded_number_of_programs(fresh, nofold):
    rng = np.random.default_rng(0)
    data_np = rng.standard_normal((200, 3)).astype(np.float32)
    plans = [(rng.integers(3, 7, 4).tolist(), rng.integers(0, 180, 4).tolist()) for _ in range(30)]
    w_np = rng.standard_normal((3, 2)).astype(np.float32)
    out = {}
    for lib in (torch, fg):
        data, w = lib.tensor(data_np), lib.tensor(w_np, requires_grad=True)
        start = _lazy.stats()
        out[lib] = [_varlen_step(lib, data, L, s, w) for L, s in plans[:15]]
        if lib is fg:
            mid = _lazy.stats()
        out[lib] += [_varlen_step(lib, data, L, s, w) for L, s in plans[15:]]
        if lib is fg:
            end = _lazy.stats()
    np.testing.assert_allclose(out[fg], out[torch], rtol=1e-5)
    # the first steps fused whole; then the part after the pads (the same every step) one segment
    # program, each slice with its pad one per length (4 lengths; starts are program arguments)
    # and a few per-op kernels; no program per step
    assert mid["programs"] + mid["segments"] - start["programs"] - start["segments"] <= 10, (start, mid)
    assert end["xla_compiles"] - mid["xla_compiles"] <= 2, (mid, end)
    assert end["split_runs"] - mid["split_runs"] >= 10, (mid, end)


def test_fixed_shape_loop_is_fused_once(fresh):
    x = fg.randn(8, 8, requires_grad=True)
    for _ in range(2):  # the first backward sets .grad, later ones accumulate: two structures
        (x.tanh() * 2).sum().backward()
    x.grad.numpy()  # a backward's gradients stay pending until observed or the next forward
    before = _lazy.stats()
    for _ in range(6):
        (x.tanh() * 2).sum().backward()
    _lazy.flush()
    after = _lazy.stats()
    assert after["programs"] - before["programs"] <= 1
    assert after["kernels"] == before["kernels"]
    assert after["fused_runs"] - before["fused_runs"] == 6


def _edge_step(lib, data, rows, w, hook=None):
    """Per-sample slices of ``data`` padded (with -0.0) to 6 rows and stacked: new shapes every
    step. The rest is the same every step, made of op pairs XLA rewrites across when fused without
    barriers (log(exp(z)), sqrt(z * z), exp(a) * exp(b), log(sqrt(z))), with inf, NaN and -0.0."""
    xs = [data[i:i + L] for i, L in rows]
    if hook is not None:
        xs[0] = hook(xs[0])
    x = lib.stack([lib.nn.functional.pad(s, (0, 0, 0, 6 - s.shape[0]), value=-0.0) for s in xs])
    z = x * w
    y = z.exp().log() + (z * z).sqrt() + z.exp() * (-z).exp() + z.sqrt().log() * -0.0
    y.sum().backward()
    g, w.grad = w.grad, None
    return y.detach(), g


def _edge_data():
    rng = np.random.default_rng(3)
    data = rng.standard_normal((40, 3)).astype(np.float32)
    data[::5, 0] = EDGE[:8]
    data[1::10, 1] = [100.0, -100.0, 0.0, -0.0]
    data[2::10, 2] = [-0.0, 90.0, -90.0, float("nan")]
    plans = [[(int(rng.integers(0, 34)), int(rng.integers(1, 7))) for _ in range(4)] for _ in range(12)]
    return data, plans, np.array([1.0, -0.5, 2.0], np.float32)


def _edge_run(lib, data_np, plans, w_np):
    w, data = lib.tensor(w_np, requires_grad=True), lib.tensor(data_np)
    return [t.numpy() for rows in plans for t in _edge_step(lib, data, rows, w)]


def test_churning_tape_runs_its_recurring_part_as_one_program(fresh, nofold, monkeypatch):
    data, plans, w = _edge_data()
    expected = _edge_run(torch, data, plans, w)
    monkeypatch.setattr(_lazy, "CHURN", 0)  # structures churn from the start: a new one is not fused whole
    before = _lazy.stats()
    got = _edge_run(fg, data, plans, w)
    after = _lazy.stats()
    monkeypatch.setattr(_lazy, "_tier", "ops")
    ops = _edge_run(fg, data, plans, w)
    for f, o, t in zip(got, ops, expected):
        same(fg.tensor(f), torch.tensor(t))
        same(fg.tensor(f), torch.tensor(o))  # segments give the op-by-op numbers (inf, NaN, signs; to an ulp)
    # the first step is fused whole (its kernels are new), the second runs op by op (the first
    # step's tape differs: no gradient existed yet); from the third on, the part after the pads
    # (forward and backward) is one program found by matching the third tape's tail with the
    # second's, compiled once; each slice with its pad one program per length
    assert after["split_runs"] - before["split_runs"] >= len(plans) - 2, (before, after)
    assert after["op_runs"] - before["op_runs"] <= 1, (before, after)
    assert after["programs"] - before["programs"] <= 2, (before, after)
    # the suffix; a slice and its pad per length (6), and per length of the slices starting at 0
    assert after["segments"] - before["segments"] <= 1 + 2 * 6, (before, after)


def test_failed_split_flush_names_the_failure(fresh, nofold, monkeypatch):
    data_np, plans, w_np = _edge_data()
    monkeypatch.setattr(_lazy, "CHURN", 0)
    w, data = fg.tensor(w_np, requires_grad=True), fg.tensor(data_np)
    for rows in plans[:4]:
        y, g = _edge_step(fg, data, rows, w)  # the values held as below: the same outputs
        y.numpy()
    armed = []

    def impl(params, x):
        if armed:
            raise _Timeout("segment ran over 60s")
        return x * 1

    boom = _lazy.Prim("boom_segment_test", impl)
    hook = lambda s: fg.Tensor._make(_lazy.record(boom, (), [s._value()]))  # noqa: E731
    before = _lazy.stats()
    y, g = _edge_step(fg, data, plans[4], w, hook)
    armed.append(1)
    with pytest.raises(_Timeout):
        _lazy.flush()
    assert _lazy.stats()["split_runs"] == before["split_runs"] + 1  # it ran as segments
    for use in (lambda: y.tolist(), lambda: g + 1):
        with pytest.raises(RuntimeError, match="the flush computing it failed .*segment ran over 60s"):
            use()
    armed.clear()
    y, g = _edge_step(fg, data, plans[5], w)
    yt, gt = _edge_step(torch, torch.tensor(data_np), plans[5], torch.tensor(w_np, requires_grad=True))
    same(y, yt)
    same(g, gt)


def test_hot_structure_run_op_by_op_is_then_fused(monkeypatch):
    monkeypatch.setattr(_lazy, "CHURN", 0)  # as if structures kept changing: new ones run op by op
    x = fg.randn(5, 7)
    x.add(1).mul(3).sum().item()  # its kernels are known from here on
    before = _lazy.stats()
    vals = [(x.add(1).mul(3).sum() + k).item() for k in range(4)]
    after = _lazy.stats()
    np.testing.assert_allclose(vals, [(x.numpy() + 1).__mul__(3).sum() + k for k in range(4)], rtol=1e-5)
    assert after["op_runs"] - before["op_runs"] >= 1
    assert after["programs"] - before["programs"] == 1  # fused once it recurred (HOT)


class _Timeout(Exception):
    pass


def test_interrupted_flush_names_the_failure_and_later_work_runs():
    calls = []

    def impl(params, x):
        calls.append(1)
        if len(calls) == 2:  # the first call is the shape inference at record time
            raise _Timeout("sample ran over 60s")  # as the op_db harness's alarm landing in a compile
        return x + 1

    boom = _lazy.Prim("boom_test", impl)
    x = fg.tensor([1.0, 2.0])
    y = x * 3
    z = fg.Tensor._make(_lazy.record(boom, (), [y._value()]))
    with pytest.raises(_Timeout):
        _lazy.flush()
    for use in (lambda: y.tolist(), lambda: y + 1, lambda: z.sum()):
        with pytest.raises(RuntimeError, match="the flush computing it failed .*sample ran over 60s"):
            use()
    assert (x * 3).tolist() == [3.0, 6.0]  # nothing else is poisoned


def test_many_sdpa_samples_in_one_program():
    outs = {}
    for lib in (torch, fg):
        res, leaves = [], []
        r = np.random.default_rng(1)
        for i in range(24):
            q, k, v = (lib.tensor(r.standard_normal((2, 3, 4 + i % 3, 8)).astype(np.float32), requires_grad=True)
                       for _ in range(3))
            mask = lib.tensor(r.standard_normal((4 + i % 3, 4 + i % 3)).astype(np.float32) > 0) if i % 2 else None
            res.append(lib.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=i % 4 == 1
                                                                       and mask is None))
            leaves += [q, k, v]
        sum((o * o).sum() for o in res).backward()
        outs[lib] = [o.detach().numpy() for o in res] + [t.grad.numpy() for t in leaves]
    for a, b in zip(outs[fg], outs[torch]):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_varlen_benchmark_quick_matches_torch(capsys):
    sys.path.insert(0, HERE)
    import varlen

    varlen.main(["--quick"])  # asserts losses and parameters equal torch's
    assert "XLA programs compiled" in capsys.readouterr().out


@pytest.mark.parametrize("pad", [(1, 2), (0, 0, 3, 0), (-1, 2, 0, -2), (2, 1, 1, 1, 1, 1), (-3, 0)])
@pytest.mark.parametrize("dtype", ["float32", "int64", "bool"])
def test_shape_rule_equals_eval_shape_and_torch(pad, dtype):
    """A primitive's ``shape`` rule (constant_pad_nd's: no ``jax.eval_shape`` per new shape) gives
    what tracing its forward gives, and torch's shape."""
    import jax
    a = np.ones((3, 4, 5)).astype(dtype)
    fx = fg.tensor(a)
    out = fg.nn.functional.pad(fx, pad, value=1)
    prim = fg._ops.shape.constant_pad_nd.op.prim
    assert prim.shape is not None
    params = (("pads", ((0, 0),) * (3 - len(pad) // 2) + tuple((pad[2 * i], pad[2 * i + 1])
                                                             for i in reversed(range(len(pad) // 2)))), ("value", 1))
    traced = jax.eval_shape(lambda x: prim.impl(params, x), jax.ShapeDtypeStruct(a.shape, a.dtype))
    assert prim.shape(params, [(a.shape, a.dtype)]) == (tuple(traced.shape), np.dtype(traced.dtype))
    assert tuple(out.shape) == tuple(traced.shape) == tuple(torch.nn.functional.pad(torch.tensor(a), pad, value=1).shape)
    np.testing.assert_array_equal(out.numpy(), torch.nn.functional.pad(torch.tensor(a), pad, value=1).numpy())


def test_many_shapes_of_one_structure_warn_once(fresh, monkeypatch):
    """A step structure compiled at FAMILY_WARN different shapes warns (once) that each new shape
    compiles, and says what to do; shapes met before run their programs and count nothing."""
    import warnings
    monkeypatch.setattr(_lazy, "FAMILY_WARN", 3)
    monkeypatch.setattr(_lazy, "_families", {})
    w = fg.tensor([1.5, -2.0, 0.25], requires_grad=True)

    def step(n):
        x = fg.arange(3 * n, dtype=fg.float32).reshape(n, 3) * 0.1
        loss = ((x * w).tanh() + 1.0).sum()
        loss.backward()
        return loss.item(), w.grad.numpy().copy()

    got = []
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        for n in (2, 3, 2, 3, 2):  # two shapes, met again: no warning
            got.append(step(n))
        assert not [r for r in rec if issubclass(r.category, _lazy.RecompileWarning)]
        for n in (5, 6, 7, 8):
            got.append(step(n))
    hits = [r for r in rec if issubclass(r.category, _lazy.RecompileWarning)]
    assert len(hits) == 1 and "Pad batches to a few fixed lengths" in str(hits[0].message)
    # the values are torch's
    tw = torch.tensor([1.5, -2.0, 0.25], requires_grad=True)
    for n, (loss, grad) in zip((2, 3, 2, 3, 2, 5, 6, 7, 8), got):
        x = torch.arange(3 * n, dtype=torch.float32).reshape(n, 3) * 0.1
        tl = ((x * tw).tanh() + 1.0).sum()
        tl.backward()
        np.testing.assert_allclose(loss, tl.item(), rtol=1e-6)
        np.testing.assert_allclose(grad, tw.grad.numpy(), rtol=1e-6)
