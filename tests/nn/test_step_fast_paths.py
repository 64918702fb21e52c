"""The whole-step fast paths against torch: RNN layers' backward from their saved forward loop (one
reverse loop for every input gradient), tiled max pooling's one-hot derivative."""
import numpy as np
import pytest
import torch

import funcgrad

RNG = np.random.default_rng(0)


def _rnn_run(lib, mode, sd, x_np, kw, packed, loss_on):
    m = getattr(lib.nn, mode)(4, 6, **kw)
    m.load_state_dict({k: lib.tensor(v) for k, v in sd.items()})
    x = lib.tensor(x_np, requires_grad=True)
    if packed:
        o, h = m(lib.nn.utils.rnn.pack_padded_sequence(x, [5, 3, 2], enforce_sorted=False))
        o = lib.nn.utils.rnn.pad_packed_sequence(o)[0]
    else:
        o, h = m(x)
    hs = h if isinstance(h, tuple) else (h,)
    terms = {"out": (o * o).sum(), "h": (hs[0] * 1.5).sum(), "c": (hs[-1] * hs[-1]).sum()}
    loss = sum(terms[k] for k in loss_on)
    loss.backward()
    return [o.detach().numpy(), *[t.detach().numpy() for t in hs], x.grad.numpy()] + \
        [p.grad.numpy() if p.grad is not None else np.zeros(tuple(p.shape), np.float32) for p in m.parameters()]


@pytest.mark.parametrize("mode,kw", [
    ("LSTM", {}), ("LSTM", {"bidirectional": True, "num_layers": 2}), ("LSTM", {"proj_size": 3}),
    ("LSTM", {"bias": False}), ("GRU", {"bidirectional": True}), ("RNN", {"nonlinearity": "relu"}),
])
@pytest.mark.parametrize("packed", [False, True])
@pytest.mark.parametrize("loss_on", [("out", "h", "c"), ("c",)])
def test_rnn_grads_match_torch(mode, kw, packed, loss_on):
    torch.manual_seed(0)
    sd = {k: v.numpy() for k, v in getattr(torch.nn, mode)(4, 6, **kw).state_dict().items()}
    x = RNG.standard_normal((5, 3, 4)).astype(np.float32)
    a = _rnn_run(torch, mode, sd, x, kw, packed, loss_on)
    b = _rnn_run(funcgrad, mode, sd, x, kw, packed, loss_on)
    for u, v in zip(a, b):
        np.testing.assert_allclose(v, u, rtol=1e-4, atol=1e-5)


def test_lstm_backward_reads_saved_loop():
    m = funcgrad.nn.LSTM(4, 5)
    o, (h, c) = m(funcgrad.randn(3, 2, 4))
    assert type(o.grad_fn).__name__ == "MkldnnRnnLayerBackward0"
    assert "_res" in o.grad_fn.__dict__  # backward reads the forward loop's intermediates


def test_gru_double_backward_matches_torch():
    torch.manual_seed(0)
    sd = {k: v.numpy() for k, v in torch.nn.GRU(3, 4).state_dict().items()}
    x_np = RNG.standard_normal((4, 2, 3)).astype(np.float32)
    out = []
    for lib in (torch, funcgrad):
        m = lib.nn.GRU(3, 4)
        m.load_state_dict({k: lib.tensor(v) for k, v in sd.items()})
        x = lib.tensor(x_np, requires_grad=True)
        o, _ = m(x)
        (g,) = lib.autograd.grad((o * o).sum(), x, create_graph=True)
        (g * g).sum().backward()
        out.append(x.grad.numpy())
    np.testing.assert_allclose(out[1], out[0], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape,k", [((2, 3, 8, 8), 2), ((2, 3, 9, 7), 2), ((2, 3, 9, 7), (2, 3)),
                                     ((2, 3, 4, 6, 6), 2)])
def test_tiled_max_pool_ties_and_nan_match_torch(shape, k):
    a = RNG.standard_normal(shape).astype(np.float32)
    a[0, 0, :2] = 1.0  # ties inside windows: torch routes the gradient to the first maximum
    a[0, 1, 0, 0] = np.nan
    a[1, 0, 0, 0] = a[1, 0, 0, 1] = np.nan  # two NaNs in one window: torch picks the last
    nd = len(shape) - 2
    res, g = [], None
    for lib in (torch, funcgrad):
        x = lib.tensor(a, requires_grad=True)
        y = getattr(lib.nn.functional, f"max_pool{nd}d")(x, k)
        if g is None:
            g = RNG.standard_normal(tuple(y.shape)).astype(np.float32)
        y.backward(lib.tensor(g))
        res.append((y.detach().numpy(), x.grad.numpy(), type(y.grad_fn).__name__))
    np.testing.assert_array_equal(res[1][0], res[0][0])
    np.testing.assert_array_equal(res[1][1], res[0][1])
    assert res[1][2] == res[0][2]


def test_tiled_max_pool_forward_ad_matches_torch():
    a = RNG.standard_normal((1, 2, 4, 4)).astype(np.float32)
    t = RNG.standard_normal((1, 2, 4, 4)).astype(np.float32)
    out = []
    for lib in (torch, funcgrad):
        with lib.autograd.forward_ad.dual_level():
            x = lib.autograd.forward_ad.make_dual(lib.tensor(a), lib.tensor(t))
            out.append(lib.autograd.forward_ad.unpack_dual(lib.nn.functional.max_pool2d(x, 2)).tangent.numpy())
    np.testing.assert_array_equal(out[1], out[0])


def test_cross_entropy_view_target():
    logits = RNG.standard_normal((2, 3, 5)).astype(np.float32)
    y = RNG.integers(0, 5, (2, 3))
    res = []
    for lib in (torch, funcgrad):
        x = lib.tensor(logits, requires_grad=True)
        loss = lib.nn.functional.cross_entropy((x * 2).reshape(-1, 5), lib.tensor(y).reshape(-1))
        loss.backward()
        res.append((loss.item(), x.grad.numpy()))
    assert abs(res[1][0] - res[0][0]) < 1e-5
    np.testing.assert_allclose(res[1][1], res[0][1], rtol=1e-5, atol=1e-6)
    bad = funcgrad.tensor(np.array([[0, 7, 1]])).reshape(-1)
    with pytest.raises(IndexError, match="Target 7 is out of bounds."):
        funcgrad.nn.functional.cross_entropy(funcgrad.randn(3, 5) * 2, bad)



def test_reshaped_targets_do_not_flush_the_forward():
    """``cross_entropy(logits, y.reshape(-1))`` and ``embedding(idx.reshape(...))`` read their
    computed index data without running the pending forward (it fuses with the backward);
    an out-of-range index still raises torch's error, also through a reshape."""
    from funcgrad import _lazy
    emb = funcgrad.nn.Embedding(5, 4)
    idx = funcgrad.tensor(np.array([[0, 4], [1, 2]]))
    y = funcgrad.tensor(np.array([[1, 0], [3, 2]]))
    h = emb(idx.reshape(4)) * 2
    before = _lazy.stats()["flushes"]
    loss = funcgrad.nn.functional.cross_entropy(h, y.reshape(-1))
    after = _lazy.stats()["flushes"]
    assert after == before
    w = torch.tensor(emb.weight.detach().numpy())
    t = torch.nn.functional.cross_entropy(torch.nn.functional.embedding(torch.tensor([0, 4, 1, 2]), w) * 2,
                                          torch.tensor([1, 0, 3, 2]))
    assert abs(loss.item() - t.item()) < 1e-5
    with pytest.raises(IndexError, match="index out of range in self"):
        emb(funcgrad.tensor(np.array([[0, 5]])).reshape(2))
    with pytest.raises(IndexError, match="Target 4 is out of bounds."):
        funcgrad.nn.functional.cross_entropy(funcgrad.randn(2, 4), funcgrad.tensor(np.array([[0, 4]])).reshape(-1))

@pytest.mark.parametrize("mode", ["LSTM", "GRU"])
def test_plain_backward_takes_the_joint_reverse_loop(mode, monkeypatch):
    """A plain ``loss.backward()`` (the engine's inline walk) runs an RNN layer's input gradients
    as one joint entry, as the general path does; its gradients equal torch's."""
    from funcgrad.autograd import engine
    calls = []
    orig = engine._joint_backward
    monkeypatch.setattr(engine, "_joint_backward", lambda *a: calls.append(1) or orig(*a))
    sd = {k: v.detach().numpy() for k, v in getattr(torch.nn, mode)(4, 6).state_dict().items()}
    x = RNG.standard_normal((5, 3, 4)).astype(np.float32)
    got = _rnn_run(funcgrad, mode, sd, x, {}, False, ("out",))
    want = _rnn_run(torch, mode, sd, x, {}, False, ("out",))
    assert calls, "the RNN layer's backward did not take its joint reverse loop"
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("max_norm,norm_type", [(0.5, 2.0), (100.0, 2.0), (0.3, float("inf")), (0.7, 1.0), (0.2, 3.0)])
def test_fused_clip_grad_norm_matches_torch(max_norm, norm_type):
    """``clip_grad_norm_`` (one tape entry for every gradient): total, clipped gradients, one version
    bump per gradient and a plain result tensor, as torch's."""
    ws = [RNG.standard_normal(s).astype(np.float32) for s in [(3, 4), (4,), (2, 2, 2)]]
    out = []
    for lib in (torch, funcgrad):
        ps = [lib.tensor(w, requires_grad=True) for w in ws]
        sum((p * p * p).sum() for p in ps).backward()
        v0 = [p.grad._version for p in ps]
        tot = lib.nn.utils.clip_grad_norm_(ps, max_norm, norm_type)
        out.append((tot.item(), [p.grad.numpy().copy() for p in ps], [p.grad._version - v for p, v in zip(ps, v0)],
                    str(tot.dtype), tot.requires_grad, tot.grad_fn))
    (t_tot, t_g, *t_rest), (f_tot, f_g, *f_rest) = out
    assert abs(t_tot - f_tot) <= 1e-5 * abs(t_tot)
    for a, b in zip(t_g, f_g):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-7)
    assert t_rest == f_rest
