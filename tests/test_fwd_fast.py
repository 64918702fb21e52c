"""The forward fast routes of the variable-length step (tensor() of a flat list, data slices made
inline, pads of slices, three-tensor static keys, the module call's no-hook path): each gives what
the general route and real torch give."""
import numpy as np
import pytest
import torch

import funcgrad


def _np(t):
    return t.detach().numpy()


@pytest.mark.parametrize("data", [[5, 6, 7], [0.5, -1.25, 3.0], [1e300, -1e300, float("nan")], [2 ** 62, -3]])
def test_tensor_flat_list(data):
    f, t = funcgrad.tensor(data), torch.tensor(data)
    assert str(f.dtype) == str(t.dtype) and tuple(f.shape) == tuple(t.shape)
    np.testing.assert_array_equal(_np(f), _np(t))
    assert f.tolist() == pytest.approx(t.tolist(), nan_ok=True)
    assert repr(f) == repr(t)
    assert f.is_leaf and f.grad_fn is None and not f.requires_grad and f._version == 0
    # read by recorded ops, indexing, in place
    np.testing.assert_array_equal(_np(f * 2), _np(t * 2))
    np.testing.assert_array_equal(_np(f[:, None] + f[None, :]), _np(t[:, None] + t[None, :]))
    np.testing.assert_array_equal(_np(f[1:]), _np(t[1:]))
    f.add_(1), t.add_(1)
    np.testing.assert_array_equal(_np(f), _np(t))
    assert f._version == t._version


def test_tensor_flat_list_in_a_graph():
    lengths = [3, 1, 2]
    targets = [0.5, -1.0, 2.0]
    outs = []
    for lib in (torch, funcgrad):
        w = lib.ones(3, requires_grad=True)
        ln = lib.tensor(lengths)
        pred = (w * 2) / ln.to(w.dtype)
        loss = lib.nn.functional.mse_loss(pred, lib.tensor(targets))
        loss.backward()
        outs.append((loss.item(), _np(w.grad), loss.grad_fn.name()))
        idx = lib.arange(4)[None, :] < ln[:, None]
        outs.append(_np(idx).tolist())
    assert outs[0][0] == pytest.approx(outs[2][0]) and outs[0][2] == outs[2][2]
    np.testing.assert_allclose(outs[0][1], outs[2][1], rtol=1e-6)
    assert outs[1] == outs[3]


def test_tensor_flat_list_under_compile():
    g = funcgrad.tensor([1.0, 2.0])
    fn = funcgrad.compile(lambda x: x * g + funcgrad.tensor([1.0, 1.0]))
    np.testing.assert_array_equal(_np(fn(funcgrad.tensor([3.0, 4.0]))), [4.0, 9.0])
    np.testing.assert_array_equal(_np(fn(funcgrad.tensor([1.0, 1.0]))), [2.0, 3.0])


def _slices(lib, rg=False):
    base = lib.arange(40.0).reshape(10, 4)
    if rg:
        base.requires_grad_()
    return base, [base[i:i + n] for i, n in ((0, 3), (2, 5), (7, 3), (9, 1), (4, 0), (3, 20))]


@pytest.mark.parametrize("mode", ["grad", "no_grad", "inference"])
def test_data_slices(mode):
    res = []
    for lib in (torch, funcgrad):
        ctx = {"grad": lib.enable_grad, "no_grad": lib.no_grad, "inference": lib.inference_mode}[mode]
        with ctx():
            base, xs = _slices(lib)
            pads = [lib.nn.functional.pad(s, (0, 0, 0, 6 - min(s.shape[0], 6))) for s in xs]
        row = [(tuple(s.shape), _np(s).tolist(), s._base is base, s.is_leaf, s.requires_grad, s.grad_fn,
                s.is_inference(), s._version if mode != "inference" else None) for s in xs]
        row += [(tuple(p.shape), _np(p).tolist(), p.grad_fn is None) for p in pads]
        if mode != "inference":
            base.mul_(2)  # a write to the base shows through its views, bumps their version
            row += [(_np(s).tolist(), s._version) for s in xs]
        res.append(row)
    assert res[0] == res[1]


def test_slices_and_pads_of_a_leaf_requiring_grad():
    res = []
    for lib in (torch, funcgrad):
        base, xs = _slices(lib, rg=True)
        x = lib.stack([lib.nn.functional.pad(s, (0, 0, 0, 20 - s.shape[0])) for s in xs])
        (x * lib.arange(20.0)[None, :, None]).sum().backward()
        res.append(([s.grad_fn.name() for s in xs], x.grad_fn.name(), _np(base.grad).tolist()))
    assert res[0] == res[1]


def test_addmm_three_tensors():
    rng = np.random.default_rng(0)
    b, m, w = rng.standard_normal(3), rng.standard_normal((2, 4)), rng.standard_normal((3, 4))
    res = []
    for lib in (torch, funcgrad):
        tb, tm, tw = (lib.tensor(a, dtype=lib.float32, requires_grad=True) for a in (b, m, w))
        for _ in range(2):  # the learned route, then the known one
            out = lib.addmm(tb, tm, tw.t())
            out.sum().backward()
        res.append((_np(out).round(5).tolist(), out.grad_fn.name(), [_np(t.grad).round(5).tolist() for t in (tb, tm, tw)]))
        y = lib.nn.functional.linear(lib.ones(2, 5, 4), tw, tb)
        res.append((tuple(y.shape), y.grad_fn.name(), y.grad_fn.next_functions[0][0].name()))
    assert res[0] == res[2] and res[1] == res[3]


def test_module_call_hooks_and_indexing():
    logs = []
    for lib in (torch, funcgrad):
        nn = lib.nn
        log = []
        model = nn.Sequential(nn.Linear(4, 3), nn.Tanh(), nn.Linear(3, 1))
        x = lib.ones(2, 4)
        log.append([type(model[i]).__name__ for i in (0, 1, 2, -1, -3)])
        for bad in (3, -4):
            with pytest.raises(IndexError):
                model[bad]
        log.append(model[1:].__class__.__name__)
        h1 = model[0].register_forward_pre_hook(lambda m, a: log.append("pre0"))
        h2 = model[0].register_forward_hook(lambda m, a, o: log.append("post0"))
        h3 = nn.modules.module.register_module_forward_hook(lambda m, a, o: log.append("g:" + type(m).__name__))
        model(x)
        h3.remove()
        model(x)
        h1.remove(), h2.remove()
        model(x)
        log.append(model[0].bias is None)
        model[2].register_parameter("bias", None)
        log.append((model[2].bias, tuple(model[2](lib.ones(1, 3)).shape)))
        model[0].register_buffer("buf", lib.zeros(1))
        log.append(tuple(model[0].buf.shape))
        with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
            model[0].nothing

        class NoInit(nn.Module):
            def __init__(self):
                pass

            def forward(self, x):
                return x

        with pytest.raises(AttributeError):
            NoInit()(x)
        logs.append(log)
    assert logs[0] == logs[1]
