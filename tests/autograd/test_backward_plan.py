"""Backward plans (``autograd/engine.py``: ``_BackwardPlan``): a recurring graph structure's walk is
replayed. The replay records the general walk's tape entries, gives torch's gradients, and every
difference a graph can have from its plan (hooks, retained grads, set grads, create_graph, inputs=,
anomaly mode, modified or freed saved values, other edges or sharing) goes to the general walk."""
import warnings

import numpy as np
import pytest
import torch

import funcgrad
from funcgrad import _lazy
from funcgrad.autograd import engine


@pytest.fixture
def replays(monkeypatch):
    """The result of every plan replay tried (True: it ran; False: the general walk ran)."""
    got = []
    orig = engine._BackwardPlan.replay

    def spy(self, *a):
        r = orig(self, *a)
        got.append(r)
        return r

    monkeypatch.setattr(engine, "_plans", {})
    monkeypatch.setattr(engine._BackwardPlan, "replay", spy)
    return got


def _setup(lib, seed=0):
    rng = np.random.default_rng(seed)
    shapes = [(5, 3), (5,), (1, 5), (1,)]
    ps = [lib.tensor(rng.standard_normal(s).astype(np.float32), requires_grad=True) for s in shapes]
    x = lib.tensor(rng.standard_normal((4, 6, 3)).astype(np.float32))
    m = lib.tensor((rng.random((4, 6)) > 0.3).astype(np.float32))
    t = lib.tensor(rng.standard_normal(4).astype(np.float32))
    return ps, x, m, t


def _forward(lib, ps, x, m, t):
    """The varlen benchmark's step: linear, tanh, masked mean, linear, squeeze, mse."""
    F = lib.nn.functional
    h = lib.tanh(F.linear(x, ps[0], ps[1]))
    pooled = (h * m[:, :, None]).sum(1) / m.sum(1)[:, None]
    pred = F.linear(pooled, ps[2], ps[3]).squeeze(1)
    return F.mse_loss(pred, t), h


def _grads(ps):
    return [None if p.grad is None else p.grad.detach().numpy().copy() for p in ps]


def _run(lib, case=None, steps=5, at=2):
    """``steps`` training steps' gradients; step ``at`` runs ``case(lib, ps, loss, h)`` instead of
    ``loss.backward()`` (what it returns is compared too)."""
    ps, x, m, t = _setup(lib)
    out = []
    for i in range(steps):
        for p in ps:
            p.grad = None
        loss, h = _forward(lib, ps, x, m, t)
        if i == at and case is not None:
            got = case(lib, ps, loss, h)
            out.append([None if g is None else np.asarray(g.detach().numpy() if hasattr(g, "numpy") else g)
                        for g in got or ()])
        else:
            loss.backward()
        out.append(_grads(ps))
        with lib.no_grad():
            for p in ps:
                if p.grad is not None:
                    p -= 0.1 * p.grad
    return out


def _close(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b):
        assert len(x) == len(y)
        for u, v in zip(x, y):
            if u is None or v is None:
                assert u is None and v is None
            else:
                np.testing.assert_allclose(u, v, rtol=1e-5, atol=1e-6)


def test_replay_matches_torch(replays):
    _close(_run(funcgrad), _run(torch))
    assert replays == [True] * 4  # the first step builds the plan, the others replay it


def test_replay_records_the_general_walks_entries(replays, monkeypatch):
    ps, x, m, t = _setup(funcgrad)

    def step():
        for p in ps:
            p.grad = None
        loss, _ = _forward(funcgrad, ps, x, m, t)
        loss.backward()
        entries = [(e[0], e[1], e[2]) for e in _lazy._tape.entries]
        return entries, _grads(ps)

    step()
    fast, gf = step()
    assert replays == [True]
    monkeypatch.setattr(engine._BackwardPlan, "replay", lambda *a: False)
    general, gg = step()
    assert fast == general
    for a, b in zip(gf, gg):
        np.testing.assert_array_equal(a, b)


def _tensor_hook(lib, ps, loss, h):
    h.register_hook(lambda g: g * 2)
    loss.backward()


def _retain_grad(lib, ps, loss, h):
    h.retain_grad()
    loss.backward()
    return [h.grad]


def _node_hooks(lib, ps, loss, h):
    log = []
    loss.grad_fn.register_prehook(lambda go: log.append("pre") or None)
    h.grad_fn.register_hook(lambda gi, go: log.append("post") or None)
    loss.backward()
    return [np.array(len(log))]


def _leaf_hook(lib, ps, loss, h):
    handle = ps[0].register_hook(lambda g: g * 3)
    loss.backward()
    handle.remove()


def _post_acc_hook(lib, ps, loss, h):
    log = []
    handle = ps[1].register_post_accumulate_grad_hook(lambda p: log.append(p.grad.sum().item()))
    loss.backward()
    handle.remove()
    return [np.array(log)]


def _acc_node_hook(lib, ps, loss, h):
    log = []
    acc = _find_acc(loss.grad_fn, ps[1])
    handle = acc.register_hook(lambda gi, go: log.append(go[0].sum().item()) or None)
    loss.backward()
    handle.remove()
    return [np.array(log)]


def _find_acc(fn, leaf):
    for f, _ in fn.next_functions:
        if f is None:
            continue
        if getattr(f, "variable", None) is leaf:
            return f
        r = _find_acc(f, leaf)
        if r is not None:
            return r
    return None


def _grads_set(lib, ps, loss, h):
    for p in ps:
        p.grad = lib.ones_like(p)
    loss.backward()


def _retain_graph(lib, ps, loss, h):
    loss.backward(retain_graph=True)
    first = _grads(ps)
    loss.backward(retain_graph=True)  # accumulates
    loss.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        loss.backward()
    return first


def _create_graph(lib, ps, loss, h):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loss.backward(create_graph=True)
    g = ps[0].grad
    return [g, lib.autograd.grad(g.sum(), ps[2])[0]]


def _inputs(lib, ps, loss, h):
    loss.backward(inputs=[ps[0], h])
    return [h.grad]


def _autograd_grad(lib, ps, loss, h):
    return list(lib.autograd.grad(loss, ps))


def _anomaly(lib, ps, loss, h):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with lib.autograd.detect_anomaly():
            loss.backward()


def _no_grad_mode(lib, ps, loss, h):
    with lib.no_grad():
        loss.backward()


def _freed(lib, ps, loss, h):
    loss.backward()
    first = _grads(ps)
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        loss.backward()
    return first


def _frozen(lib, ps, loss, h):
    ps[2].requires_grad_(False)
    loss, _ = _forward(lib, ps, *_setup(lib)[1:])
    loss.backward()
    ps[2].requires_grad_(True)


CASES = [_tensor_hook, _retain_grad, _node_hooks, _leaf_hook, _post_acc_hook, _acc_node_hook, _grads_set,
         _retain_graph, _create_graph, _inputs, _autograd_grad, _anomaly, _no_grad_mode, _freed,
         _frozen]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__.strip("_"))
def test_fallbacks_match_torch(replays, case):
    _close(_run(funcgrad, case), _run(torch, case))
    if case in (_retain_graph, _freed):
        # the first backward replays; the next ones find grads set or values freed
        assert replays[:2] == [True, True] and False in replays[2:-2] and replays[-2:] == [True, True], replays
    elif case is _no_grad_mode:
        assert replays == [True] * 4
    elif case is _acc_node_hook:  # the AccumulateGrad node stays special while it lives (each graph holds it)
        assert replays[:2] == [True, False], replays
    elif case is _frozen:  # the frozen step's plan replaced the other one for a step
        assert replays == [True, False, False, True], replays
    else:
        assert replays[:1] == [True] and replays[-2:] == [True, True] and len(replays) <= 4, replays
        if len(replays) == 4:
            assert replays[1] is False  # tried: the graph differs from its plan, the general walk ran


def test_modified_saved_value_raises_torchs_error(replays):
    out = {}
    for lib in (torch, funcgrad):
        ps, x, m, t = _setup(lib)
        for _ in range(2):
            for p in ps:
                p.grad = None
            loss, _ = _forward(lib, ps, x, m, t)
            loss.backward()
        loss, h = _forward(lib, ps, x, m, t)
        with lib.no_grad():
            h.mul_(1.0)
        with pytest.raises(RuntimeError) as e:
            loss.backward()
        out[lib] = str(e.value).split(" Hint")[0]
    assert out[funcgrad] == out[torch]
    assert replays == [True, False]


def _shared_graph(lib, w, x, share):
    u = lib.tanh(x @ w)
    v = u if share else lib.tanh(x @ w)
    return ((u + v).sum(1) ** 2).mean()


@pytest.mark.parametrize("order", [(False, True, False), (True, False, True)])
def test_node_sharing_differs_from_plan(replays, order):
    res = {}
    for lib in (torch, funcgrad):
        rng = np.random.default_rng(1)
        w = lib.tensor(rng.standard_normal((3, 2)).astype(np.float32), requires_grad=True)
        x = lib.tensor(rng.standard_normal((4, 3)).astype(np.float32))
        res[lib] = []
        for share in order + order:
            w.grad = None
            _shared_graph(lib, w, x, share).backward()
            res[lib].append(w.grad.detach().numpy().copy())
    for a, b in zip(res[funcgrad], res[torch]):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert False in replays  # a plan of the other sharing was tried and refused


def test_leaf_reached_twice_and_root_grad(replays):
    res = {}
    for lib in (torch, funcgrad):
        w = lib.tensor([[1.0, -2.0], [0.5, 3.0]], requires_grad=True)
        res[lib] = []
        for k in range(3):
            w.grad = None
            y = (w * w).sum() + (w.tanh() * 2).sum()
            y.backward(lib.tensor(float(k + 1)))
            res[lib].append(w.grad.detach().numpy().copy())
    for a, b in zip(res[funcgrad], res[torch]):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    assert replays == [True, True]


def test_replay_under_eager_mode(replays):
    _lazy.set_lazy(False)
    try:
        _close(_run(funcgrad), _run(torch))
    finally:
        _lazy.set_lazy(True)
    assert replays == [True] * 4


def test_replay_across_lengths_matches_torch_and_general_walk(replays, monkeypatch):
    """Batches of another length give nodes other params (view shapes): one plan replays them all,
    recording what the general walk records, with torch's gradients."""
    rng = np.random.default_rng(3)
    lengths = [6, 4, 9, 4, 6, 2]
    xs = [rng.standard_normal((4, T, 3)).astype(np.float32) for T in lengths]
    ms = [(rng.random((4, T)) > 0.3).astype(np.float32) + np.eye(4, T, dtype=np.float32) for T in lengths]

    def run(lib, tapes=None):
        ps, _, _, t = _setup(lib)
        out = []
        for x, m in zip(xs, ms):
            for p in ps:
                p.grad = None
            loss, _ = _forward(lib, ps, lib.tensor(x), lib.tensor(m), t)
            loss.backward()
            if tapes is not None:
                tapes.append([(e[0], e[1], e[2]) for e in _lazy._tape.entries])
            out.append(_grads(ps))
        return out

    fast_tapes = []
    fast = run(funcgrad, fast_tapes)
    assert replays == [True] * (len(lengths) - 1)
    _close(fast, run(torch))
    monkeypatch.setattr(engine._BackwardPlan, "replay", lambda *a: False)
    general_tapes = []
    general = run(funcgrad, general_tapes)
    assert fast_tapes == general_tapes
    for a, b in zip(fast, general):
        for u, v in zip(a, b):
            np.testing.assert_array_equal(u, v)
