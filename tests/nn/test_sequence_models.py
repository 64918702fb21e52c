"""Attention, Transformer and recurrent layers against torch: same weights, same inputs; outputs,
parameter gradients, grad_fn names, reprs and errors."""
import numpy as np
import pytest
import torch

import funcgrad

RNG = np.random.default_rng(0)


def arr(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def both(a, requires_grad=False):
    return (torch.tensor(a, requires_grad=requires_grad), funcgrad.tensor(a, requires_grad=requires_grad))


def copy_weights(tm, fm):
    fm.load_state_dict({k: funcgrad.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})


def close(f, t, rtol=1e-4, atol=1e-5):
    np.testing.assert_allclose(np.asarray(f.detach().numpy()), t.detach().numpy(), rtol=rtol, atol=atol)


def node(t):
    return type(t.grad_fn).__name__


def check_module_grads(tm, fm, tout, fout, rtol=1e-4, atol=1e-5):
    g = arr(*tout.shape)
    tout.backward(torch.tensor(g))
    fout.backward(funcgrad.tensor(g))
    fp = dict(fm.named_parameters())
    for name, p in tm.named_parameters():
        if p.grad is None:
            assert fp[name].grad is None, name
        else:
            close(fp[name].grad, p.grad, rtol, atol)


SDPA = {
    "plain": dict(),
    "bool_mask": dict(mask=lambda: RNG.random((4, 5)) > 0.3),
    "float_mask": dict(mask=lambda: arr(2, 1, 4, 5)),
    "causal": dict(is_causal=True),
    "scale": dict(scale=0.3),
}


@pytest.mark.parametrize("name", sorted(SDPA))
def test_sdpa_matches_torch(name):
    kw = dict(SDPA[name])
    q, k, v = arr(2, 3, 4, 8), arr(2, 3, 5, 8), arr(2, 3, 5, 6)
    if name == "causal":
        k, v = arr(2, 3, 4, 8), arr(2, 3, 4, 6)
    mask = kw.pop("mask", None)
    mask = mask() if mask is not None else None
    outs, grads = [], []
    for lib in (torch, funcgrad):
        ts = [lib.tensor(a, requires_grad=True) for a in (q, k, v)]
        m = lib.tensor(mask) if mask is not None else None
        out = lib.nn.functional.scaled_dot_product_attention(*ts, attn_mask=m, **kw)
        out.backward(lib.tensor(np.linspace(-1, 1, out.numel()).reshape(tuple(out.shape)).astype(np.float32)))
        outs.append(out)
        grads.append([t.grad for t in ts])
    close(outs[1], outs[0])
    assert node(outs[1]) == node(outs[0])
    for fg, tg in zip(grads[1], grads[0]):
        close(fg, tg)


def test_sdpa_3d_gqa_and_errors():
    q, k = arr(3, 4, 8), arr(3, 6, 8)
    tq, fq = both(q, True)
    tk, fk = both(k, True)
    to = torch.nn.functional.scaled_dot_product_attention(tq, tk, tk)
    fo = funcgrad.nn.functional.scaled_dot_product_attention(fq, fk, fk)
    close(fo, to)
    assert node(fo) == node(to)
    q4, k4 = arr(1, 4, 3, 8), arr(1, 2, 5, 8)
    to = torch.nn.functional.scaled_dot_product_attention(torch.tensor(q4), torch.tensor(k4), torch.tensor(k4),
                                                          enable_gqa=True)
    fo = funcgrad.nn.functional.scaled_dot_product_attention(funcgrad.tensor(q4), funcgrad.tensor(k4),
                                                             funcgrad.tensor(k4), enable_gqa=True)
    close(fo, to)
    # torch's CPU kernel applies an explicit mask and the causal mask together
    m = RNG.random((3, 3)) > 0.5
    outs = [lib.nn.functional.scaled_dot_product_attention(lib.tensor(q4), lib.tensor(q4), lib.tensor(q4),
                                                           attn_mask=lib.tensor(m), is_causal=True)
            for lib in (torch, funcgrad)]
    close(outs[1], outs[0])
    for lib in (torch, funcgrad):
        with pytest.raises(RuntimeError, match="must match the size of tensor b"):
            lib.nn.functional.scaled_dot_product_attention(lib.tensor(q4), lib.tensor(k4), lib.tensor(k4))


MHA = {
    "default": (dict(), dict()),
    "batch_first_kpm": (dict(batch_first=True), dict(kpm=True)),
    "no_weights": (dict(), dict(need_weights=False)),
    "per_head_weights": (dict(), dict(average_attn_weights=False)),
    "bias_kv_zero_attn": (dict(add_bias_kv=True, add_zero_attn=True), dict()),
    "kdim_vdim": (dict(kdim=5, vdim=3), dict()),
    "attn_mask": (dict(), dict(mask=True)),
}


@pytest.mark.parametrize("name", sorted(MHA))
def test_multihead_attention_matches_torch(name):
    ctor, call = MHA[name]
    torch.manual_seed(0)
    tm = torch.nn.MultiheadAttention(8, 2, **ctor)
    fm = funcgrad.nn.MultiheadAttention(8, 2, **ctor)
    copy_weights(tm, fm)
    assert repr(fm) == repr(tm)
    bf = ctor.get("batch_first", False)
    L, S, N = 4, 6, 3
    shape = (lambda n, e: (N, n, e)) if bf else (lambda n, e: (n, N, e))
    q, k, v = arr(*shape(L, 8)), arr(*shape(S, ctor.get("kdim", 8))), arr(*shape(S, ctor.get("vdim", 8)))
    kw = {k_: v_ for k_, v_ in call.items() if k_ in ("need_weights", "average_attn_weights")}
    kpm = (RNG.random((N, S)) > 0.7) if call.get("kpm") else None
    mask = arr(L, S) if call.get("mask") else None
    res = []
    for lib, m in ((torch, tm), (funcgrad, fm)):
        ts = [lib.tensor(a, requires_grad=True) for a in (q, k, v)]
        extra = dict(kw)
        if kpm is not None:
            extra["key_padding_mask"] = lib.tensor(kpm)
        if mask is not None:
            extra["attn_mask"] = lib.tensor(mask)
        out, w = m(*ts, **extra)
        res.append((out, w, ts))
    (to, tw, tts), (fo, fw, fts) = res
    close(fo, to)
    assert node(fo) == node(to)
    if tw is None:
        assert fw is None
    else:
        close(fw, tw)
    check_module_grads(tm, fm, to, fo)
    for f_, t_ in zip(fts, tts):
        close(f_.grad, t_.grad)


@pytest.mark.parametrize("norm_first", [False, True])
def test_transformer_encoder_decoder_match_torch(norm_first):
    torch.manual_seed(0)
    kw = dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=1, dim_feedforward=16, dropout=0.0,
              batch_first=True, norm_first=norm_first)
    tm = torch.nn.Transformer(**kw)
    fm = funcgrad.nn.Transformer(**kw)
    copy_weights(tm, fm)
    src, tgt = arr(2, 5, 8), arr(2, 3, 8)
    tmask = torch.nn.Transformer.generate_square_subsequent_mask(3)
    fmask = funcgrad.nn.Transformer.generate_square_subsequent_mask(3)
    close(fmask, tmask)
    to = tm(torch.tensor(src), torch.tensor(tgt), tgt_mask=tmask)
    fo = fm(funcgrad.tensor(src), funcgrad.tensor(tgt), tgt_mask=fmask)
    close(fo, to, rtol=2e-4, atol=2e-5)
    check_module_grads(tm, fm, to, fo, rtol=1e-3, atol=1e-4)
    assert sorted(dict(fm.named_parameters())) == sorted(dict(tm.named_parameters()))


def test_transformer_encoder_layer_repr_and_padding_mask():
    torch.manual_seed(0)
    tl = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0)
    fl = funcgrad.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0)
    copy_weights(tl, fl)
    te = torch.nn.TransformerEncoder(tl, 2, enable_nested_tensor=False)
    fe = funcgrad.nn.TransformerEncoder(fl, 2, enable_nested_tensor=False)
    for lib, layer in ((torch, tl), (funcgrad, fl)):
        with pytest.warns(UserWarning, match="enable_nested_tensor is True, but self.use_nested_tensor is False "
                                             "because encoder_layer.self_attn.batch_first was not True"):
            lib.nn.TransformerEncoder(layer, 1)
    copy_weights(te, fe)
    x = arr(5, 2, 8)
    kpm = np.array([[False] * 5, [False, False, False, True, True]])
    to = te(torch.tensor(x), src_key_padding_mask=torch.tensor(kpm))
    fo = fe(funcgrad.tensor(x), src_key_padding_mask=funcgrad.tensor(kpm))
    close(fo, to, rtol=2e-4, atol=2e-5)


RNNS = {
    "lstm": ("LSTM", dict()),
    "lstm_2layer_bidir_bf": ("LSTM", dict(num_layers=2, bidirectional=True, batch_first=True)),
    "gru": ("GRU", dict()),
    "gru_bidir_nobias": ("GRU", dict(bidirectional=True, bias=False)),
    "rnn_relu_2layer": ("RNN", dict(num_layers=2, nonlinearity="relu")),
    "rnn_tanh": ("RNN", dict()),
}


@pytest.mark.parametrize("name", sorted(RNNS))
@pytest.mark.parametrize("with_hx", [False, True])
def test_recurrent_layers_match_torch(name, with_hx):
    cls, kw = RNNS[name]
    torch.manual_seed(0)
    tm = getattr(torch.nn, cls)(5, 4, **kw)
    fm = getattr(funcgrad.nn, cls)(5, 4, **kw)
    copy_weights(tm, fm)
    assert repr(fm) == repr(tm)
    nd = (2 if kw.get("bidirectional") else 1) * kw.get("num_layers", 1)
    x = arr(3, 6, 5) if kw.get("batch_first") else arr(6, 3, 5)
    args_t, args_f = [torch.tensor(x)], [funcgrad.tensor(x)]
    if with_hx:
        h = arr(nd, 3, 4)
        if cls == "LSTM":
            c = arr(nd, 3, 4)
            args_t.append((torch.tensor(h), torch.tensor(c)))
            args_f.append((funcgrad.tensor(h), funcgrad.tensor(c)))
        else:
            args_t.append(torch.tensor(h))
            args_f.append(funcgrad.tensor(h))
    to, th = tm(*args_t)
    fo, fh = fm(*args_f)
    close(fo, to)
    if cls == "LSTM":
        close(fh[0], th[0])
        close(fh[1], th[1])
        assert node(fh[0]) == node(th[0])
        loss_t = to.sum() + th[0].pow(2).sum() + th[1].sum()
        loss_f = fo.sum() + fh[0].pow(2).sum() + fh[1].sum()
    else:
        close(fh, th)
        assert node(fh) == node(th)
        loss_t = to.sum() + th.pow(2).sum()
        loss_f = fo.sum() + fh.pow(2).sum()
    check_module_grads(tm, fm, loss_t, loss_f)


@pytest.mark.parametrize("cls", ["LSTM", "GRU"])
def test_packed_sequences_match_torch(cls):
    torch.manual_seed(0)
    tm = getattr(torch.nn, cls)(3, 4, bidirectional=True)
    fm = getattr(funcgrad.nn, cls)(3, 4, bidirectional=True)
    copy_weights(tm, fm)
    seqs = [arr(n, 3) for n in (2, 5, 3)]
    res = []
    for lib, m in ((torch, tm), (funcgrad, fm)):
        R = lib.nn.utils.rnn
        padded = R.pad_sequence([lib.tensor(s) for s in seqs])
        packed = R.pack_padded_sequence(padded, [2, 5, 3], enforce_sorted=False)
        out, h = m(packed)
        unpacked, lens = R.pad_packed_sequence(out, batch_first=True)
        res.append((padded, packed, unpacked, lens, h[0] if cls == "LSTM" else h))
    (tp, tpk, tu, tl, th), (fp, fpk, fu, fl, fh) = res
    close(fp, tp)
    close(fpk.data, tpk.data)
    assert fpk.batch_sizes.tolist() == tpk.batch_sizes.tolist()
    assert fpk.sorted_indices.tolist() == tpk.sorted_indices.tolist()
    close(fu, tu)
    assert fl.tolist() == tl.tolist()
    close(fh, th)
    check_module_grads(tm, fm, tu.pow(2).sum() + th.sum(), fu.pow(2).sum() + fh.sum())


@pytest.mark.parametrize("cls", ["RNNCell", "LSTMCell", "GRUCell"])
def test_cells_match_torch(cls):
    torch.manual_seed(0)
    tm = getattr(torch.nn, cls)(5, 4)
    fm = getattr(funcgrad.nn, cls)(5, 4)
    copy_weights(tm, fm)
    assert repr(fm) == repr(tm)
    x = arr(3, 5)
    to, fo = tm(torch.tensor(x)), fm(funcgrad.tensor(x))
    if cls == "LSTMCell":
        close(fo[0], to[0])
        close(fo[1], to[1])
        assert node(fo[0]) == node(to[0]) and node(fo[1]) == node(to[1])
        to, fo = to[0] * to[1], fo[0] * fo[1]
    else:
        close(fo, to)
        assert node(fo) == node(to)
    check_module_grads(tm, fm, to, fo)
    # unbatched input
    tu, fu = tm(torch.tensor(x[0])), fm(funcgrad.tensor(x[0]))
    close(fu[0] if cls == "LSTMCell" else fu, tu[0] if cls == "LSTMCell" else tu)


def test_recurrent_errors_match_torch():
    for lib in (torch, funcgrad):
        m = lib.nn.LSTM(5, 4)
        with pytest.raises(RuntimeError, match="input.size\\(-1\\) must be equal to input_size. Expected 5, got 3"):
            m(lib.zeros(2, 3, 3))
        with pytest.raises(ValueError, match="dropout should be a number in range"):
            lib.nn.GRU(5, 4, dropout=2)
        with pytest.raises(RuntimeError, match="must be sorted in decreasing order"):
            lib.nn.utils.rnn.pack_padded_sequence(lib.zeros(4, 2, 3), [2, 4])


def test_lstm_trains_like_torch():
    """A few SGD steps of an LSTM language-model head: same losses as torch."""
    losses = []
    for lib in (torch, funcgrad):
        torch.manual_seed(0)
        tm = torch.nn.LSTM(4, 6, num_layers=2, batch_first=True)
        head_t = torch.nn.Linear(6, 5)
        if lib is torch:
            m, head = tm, head_t
        else:
            m, head = funcgrad.nn.LSTM(4, 6, num_layers=2, batch_first=True), funcgrad.nn.Linear(6, 5)
            copy_weights(tm, m)
            copy_weights(head_t, head)
        opt = lib.optim.SGD(list(m.parameters()) + list(head.parameters()), lr=0.5)
        x = lib.tensor(np.random.default_rng(1).standard_normal((2, 7, 4)).astype(np.float32))
        y = lib.tensor(np.random.default_rng(2).integers(0, 5, (2, 7)))
        run = []
        for _ in range(5):
            opt.zero_grad()
            out, _ = m(x)
            loss = lib.nn.functional.cross_entropy(head(out).reshape(-1, 5), y.reshape(-1))
            loss.backward()
            opt.step()
            run.append(loss.item())
        losses.append(run)
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)


# pad_sequence: (sample shapes, dtypes, keywords); each sample i is arr(*shape) cast to its dtype
PAD_SEQ = {
    "right_seq_first": ([(2, 3), (5, 3), (1, 3)], None, {}),
    "batch_first_value": ([(4, 2), (2, 2), (4, 2)], None, {"batch_first": True, "padding_value": -0.0}),
    "left_nan": ([(3,), (1,), (6,)], None, {"padding_side": "left", "padding_value": float("nan"),
                                            "batch_first": True}),
    "left_3d": ([(2, 2, 3), (3, 2, 3)], None, {"padding_side": "left"}),
    "one_sample": ([(4, 2)], None, {"batch_first": True}),
    "first_dtype_wins": ([(2, 3), (3, 3)], ["int64", "float32"], {"padding_value": 7}),
    "int_value_truncates": ([(2,), (3,)], ["int64", "int64"], {"padding_value": 2.7}),
    "float64_after_float32": ([(2, 2), (3, 2)], ["float32", "float64"], {}),
    "broadcast_trailing": ([(2, 3), (3, 1), (1,)], None, {"batch_first": True}),
}
PAD_SEQ_ERRORS = {
    "trailing_mismatch": [(2, 3, 5), (3, 4, 6)],
    "more_dims": [(2,), (3, 3)],
    "more_dims_mismatch": [(2, 3), (3, 2, 3)],
    "empty": [],
}


def _pad_seq_inputs(lib, shapes, dtypes, grad):
    rng = np.random.default_rng(len(shapes))
    out = []
    for k, sh in enumerate(shapes):
        a = (rng.standard_normal(sh) * 3).astype(dtypes[k] if dtypes else np.float32)
        g = grad and a.dtype.kind == "f"
        out.append(lib.tensor(a, requires_grad=g))
    return out


@pytest.mark.parametrize("name", sorted(PAD_SEQ))
def test_pad_sequence_matches_torch(name):
    shapes, dtypes, kw = PAD_SEQ[name]
    res = {}
    for lib in (torch, funcgrad):
        xs = _pad_seq_inputs(lib, shapes, dtypes, True)
        out = lib.nn.utils.rnn.pad_sequence(xs, **kw)
        grads = []
        if out.requires_grad:
            (out.nan_to_num(0.0) * lib.arange(out.numel()).reshape(out.shape).to(out.dtype)).sum().backward()
            grads = [None if x.grad is None else x.grad.numpy() for x in xs]
        res[lib] = (out.detach().numpy(), out.dtype, out.requires_grad, grads)
    (t, tdt, trg, tg), (f, fdt, frg, fg) = res[torch], res[funcgrad]
    assert str(fdt) == str(tdt) and frg == trg
    np.testing.assert_array_equal(f, t)
    np.testing.assert_array_equal(np.signbit(f), np.signbit(t))
    assert len(fg) == len(tg)
    for a, b in zip(fg, tg):
        assert (a is None) == (b is None)
        if b is not None:
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", sorted(PAD_SEQ_ERRORS))
def test_pad_sequence_errors_match_torch(name):
    errs = []
    for lib in (torch, funcgrad):
        with pytest.raises(Exception) as e:
            lib.nn.utils.rnn.pad_sequence(_pad_seq_inputs(lib, PAD_SEQ_ERRORS[name], None, False))
        errs.append((type(e.value), str(e.value)))
    assert errs[1] == errs[0]
