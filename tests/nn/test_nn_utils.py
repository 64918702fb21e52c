"""torch.nn.utils against torch: parametrize (custom parametrizations, right_inverse, cached, removal, reprs,
state_dict keys), parametrizations.{orthogonal, weight_norm, spectral_norm}, old-style weight_norm/spectral_norm,
clip_grad_*, get_total_norm, parameters_to_vector, fusion, nn.init additions, LSTM(proj_size), bfloat16 printing."""
import warnings

import numpy as np
import pytest
import torch

import funcgrad

RNG = np.random.default_rng(0)
warnings.filterwarnings("ignore", category=FutureWarning)


def copy_into(fm, tm):
    """Load torch module ``tm``'s state (or a state dict snapshot of one) into funcgrad module ``fm``."""
    sd = tm if isinstance(tm, dict) else tm.state_dict()
    fm.load_state_dict({k: funcgrad.tensor(v.detach().numpy()) for k, v in sd.items()})


def snap(m):
    return {k: v.detach().clone() for k, v in m.state_dict().items()}


def arr(x):
    return x.detach().numpy()


def close(a, b, tol=1e-5):
    np.testing.assert_allclose(arr(b), arr(a), rtol=tol, atol=tol)


def err(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        return type(e).__name__, str(e)
    return None


def symmetric(L):
    class Symmetric(L.nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(-1, -2)

        def right_inverse(self, A):
            return A.triu()

    return Symmetric()


def test_register_parametrization_custom():
    res = {}
    w = RNG.standard_normal((3, 3)).astype(np.float32)
    x = RNG.standard_normal((2, 3)).astype(np.float32)
    for L in (torch, funcgrad):
        P = L.nn.utils.parametrize
        m = L.nn.Linear(3, 3)
        with L.no_grad():
            m.weight.copy_(L.tensor(w))
        P.register_parametrization(m, "weight", symmetric(L))
        out = [repr(m), type(m).__name__, list(m.state_dict().keys()), P.is_parametrized(m), P.is_parametrized(m, "bias"),
               P.type_before_parametrizations(m).__name__, arr(m.weight).tolist(),
               arr(m.parametrizations.weight.original).tolist(), [n for n, _ in m.named_parameters()]]
        y = m(L.tensor(x))
        y.sum().backward()
        out.append(np.round(arr(m.parametrizations.weight.original.grad), 5).tolist())
        m.weight = L.tensor(w)  # assigning goes through right_inverse
        out.append(arr(m.parametrizations.weight.original).tolist())
        with P.cached():
            a, b = m.weight, m.weight
            out.append(a is b)
        out.append(m.weight is m.weight)
        P.register_parametrization(m, "weight", symmetric(L))  # a second one chains
        out.append(repr(m.parametrizations))
        P.remove_parametrizations(m, "weight", leave_parametrized=True)
        out += [type(m).__name__, list(m.state_dict().keys()), arr(m.weight).tolist(), type(m.weight).__name__]
        out.append(err(lambda: P.remove_parametrizations(m, "weight")))
        out.append(err(lambda: P.register_parametrization(m, "nope", symmetric(L))) [0])
        res[L.__name__] = out
    for a, b in zip(res["torch"], res["funcgrad"]):
        if isinstance(a, list) and a and isinstance(a[0], list):
            np.testing.assert_allclose(np.array(b), np.array(a), rtol=1e-5, atol=1e-6)
        else:
            assert a == b


def test_parametrization_shape_check_and_unsafe():
    res = {}
    for L in (torch, funcgrad):
        class Half(L.nn.Module):
            def forward(self, X):
                return X[:1]

        m = L.nn.Linear(2, 2)
        e = err(lambda: L.nn.utils.parametrize.register_parametrization(m, "weight", Half()))
        L.nn.utils.parametrize.register_parametrization(m, "weight", Half(), unsafe=True)
        res[L.__name__] = (e, tuple(m.weight.shape))
    assert res["torch"] == res["funcgrad"]


def test_weight_norm_parametrization():
    x = RNG.standard_normal((4, 3)).astype(np.float32)
    got = {}
    for dim in (0, 1, None):
        for L in (torch, funcgrad):
            torch.manual_seed(0)
            m = L.nn.Linear(3, 5)
            if L is funcgrad:
                copy_into(m, tm)
            else:
                tm = snap(m)
            m = L.nn.utils.parametrizations.weight_norm(m, dim=dim)
            y = m(L.tensor(x))
            (y ** 2).sum().backward()
            g, v = m.parametrizations.weight.original0, m.parametrizations.weight.original1
            got[L.__name__] = (y, g.grad, v.grad, m.weight.grad_fn.name(), list(m.state_dict().keys()), repr(m))
        t, f = got["torch"], got["funcgrad"]
        for a, b in zip(t[:3], f[:3]):
            close(a, b)
        assert t[3:] == f[3:]


def test_weight_norm_old_state_dict_loads_into_parametrization():
    res = {}
    for L in (torch, funcgrad):
        old = L.nn.utils.weight_norm(L.nn.Linear(2, 3))
        new = L.nn.utils.parametrizations.weight_norm(L.nn.Linear(2, 3))
        r = new.load_state_dict(old.state_dict())
        res[L.__name__] = (repr(r), list(old.state_dict().keys()), np.allclose(arr(new.weight), arr(old.weight)))
    assert res["torch"] == res["funcgrad"]


@pytest.mark.parametrize("make", ["linear", "conv", "convT"])
def test_spectral_norm_parametrization(make):
    x = {"linear": (3, 4), "conv": (2, 2, 5, 5), "convT": (2, 3, 4, 4)}[make]
    x = RNG.standard_normal(x).astype(np.float32)
    got = {}
    for L in (torch, funcgrad):
        torch.manual_seed(0)
        m = {"linear": lambda: L.nn.Linear(4, 6), "conv": lambda: L.nn.Conv2d(2, 3, 3),
             "convT": lambda: L.nn.ConvTranspose2d(3, 2, 3)}[make]()
        m = L.nn.utils.parametrizations.spectral_norm(m)
        if L is funcgrad:
            copy_into(m, tm)
        else:
            tm = snap(m)
        outs = []
        for _ in range(2):
            y = m(L.tensor(x))
            (y ** 2).sum().backward()
            outs.append(y)
        m.eval()
        outs.append(m(L.tensor(x)))
        got[L.__name__] = (outs, m.parametrizations.weight.original.grad, m.parametrizations.weight[0]._u,
                           list(m.state_dict().keys()), m.weight.grad_fn.name())
    t, f = got["torch"], got["funcgrad"]
    for a, b in zip(t[0], f[0]):
        close(a, b, 1e-4)
    close(t[1], f[1], 1e-4)
    close(t[2], f[2], 1e-4)
    assert t[3:] == f[3:]


def test_orthogonal_parametrization():
    got = {}
    for shape, omap in [((4, 4), None), ((5, 3), None), ((3, 5), "householder"), ((4, 4), "cayley"),
                        ((3, 3), "householder")]:
        for L in (torch, funcgrad):
            torch.manual_seed(0)
            m = L.nn.Linear(shape[1], shape[0])
            if L is funcgrad:
                copy_into(m, tm)
            else:
                tm = snap(m)
            L.nn.utils.parametrizations.orthogonal(m, orthogonal_map=omap)
            if L is funcgrad:  # a tall/wide base is completed with random columns: take torch's
                copy_into(m, tm2)
            else:
                tm2 = snap(m)
            W = m.weight
            (W.sum() * 2).backward()
            got[L.__name__] = (W, m.parametrizations.weight.original.grad, list(m.state_dict().keys()))
        t, f = got["torch"], got["funcgrad"]
        close(t[0], f[0], 1e-4)
        close(t[1], f[1], 1e-4)
        assert t[2] == f[2]
    for L in (torch, funcgrad):
        assert err(lambda: L.nn.utils.parametrizations.orthogonal(L.nn.Linear(2, 2), orthogonal_map="x")) == (
            "ValueError", 'orthogonal_map has to be one of "matrix_exp", "cayley", "householder". Got: x')


def test_old_style_weight_and_spectral_norm():
    x = RNG.standard_normal((3, 4)).astype(np.float32)
    got = {}
    for L in (torch, funcgrad):
        torch.manual_seed(0)
        a = L.nn.utils.weight_norm(L.nn.Linear(4, 2), dim=None)
        b = L.nn.utils.spectral_norm(L.nn.Linear(4, 2))
        if L is funcgrad:
            copy_into(a, ta)
            copy_into(b, tb)
        else:
            ta, tb = snap(a), snap(b)
        ya, yb = a(L.tensor(x)), b(L.tensor(x))
        (ya.sum() + (yb ** 2).sum()).backward()
        keys = (list(a.state_dict().keys()), list(b.state_dict().keys()), dict(b.state_dict()._metadata))
        e = err(lambda: L.nn.utils.weight_norm(a))
        L.nn.utils.remove_weight_norm(a)
        L.nn.utils.remove_spectral_norm(b)
        got[L.__name__] = (ya, yb, a.weight_g.grad if hasattr(a, "weight_g") else None, b.weight_orig.grad
                           if hasattr(b, "weight_orig") else None, keys, e, list(a.state_dict().keys()),
                           list(b.state_dict().keys()), a.weight, b.weight,
                           err(lambda: L.nn.utils.remove_weight_norm(a)))
    t, f = got["torch"], got["funcgrad"]
    close(t[0], f[0])
    close(t[1], f[1])
    assert t[4:8] == f[4:8]
    close(t[8], f[8])
    close(t[9], f[9])
    assert t[10][0] == f[10][0]


def test_clip_and_vector_utils():
    grads = [RNG.standard_normal(s).astype(np.float32) * 3 for s in [(3, 2), (4,), (2, 2, 2)]]
    got = {}
    for L in (torch, funcgrad):
        ps = [L.nn.Parameter(L.zeros(g.shape)) for g in grads]
        for p, g in zip(ps, grads):
            p.grad = L.tensor(g)
        out = [L.nn.utils.get_total_norm([p.grad for p in ps], 3.0)]
        out.append(L.nn.utils.clip_grad_norm_(ps, 1.5, norm_type=2.0))
        out += [p.grad.clone() for p in ps]
        out.append(L.nn.utils.clip_grad_norm_(iter(ps), 0.5, norm_type="inf"))
        out += [p.grad.clone() for p in ps]
        L.nn.utils.clip_grad_value_(ps, 0.1)
        out += [p.grad.clone() for p in ps]
        L.nn.utils.clip_grads_with_norm_(ps, 1.0, L.tensor(4.0))
        out += [p.grad.clone() for p in ps]
        vec = L.nn.utils.parameters_to_vector(ps)
        L.nn.utils.vector_to_parameters(L.arange(float(vec.numel())), ps)
        out += [vec] + [p.detach().clone() for p in ps]
        ps[0].grad = L.tensor([[float("nan"), 1.0], [1.0, 1.0], [1.0, 1.0]])
        e = err(lambda: L.nn.utils.clip_grad_norm_(ps, 1.0, error_if_nonfinite=True))
        e2 = err(lambda: L.nn.utils.vector_to_parameters([1.0], ps))
        got[L.__name__] = (out, e, e2, float(L.nn.utils.clip_grad_norm_([], 1.0)))
    t, f = got["torch"], got["funcgrad"]
    for a, b in zip(t[0], f[0]):
        close(a, b)
    assert t[1:] == f[1:]


def test_fusion():
    x = RNG.standard_normal((2, 3, 6, 6)).astype(np.float32)
    got = {}
    for L in (torch, funcgrad):
        torch.manual_seed(0)
        conv, bn = L.nn.Conv2d(3, 4, 3), L.nn.BatchNorm2d(4)
        lin, bn1 = L.nn.Linear(5, 4), L.nn.BatchNorm1d(4)
        convT, bnT = L.nn.ConvTranspose2d(3, 4, 3, bias=False), L.nn.BatchNorm2d(4)
        mods = (conv, bn, lin, bn1, convT, bnT)
        if L is funcgrad:
            for m, tm_ in zip(mods, tmods):
                copy_into(m, tm_)
        else:
            for b in (bn, bn1, bnT):
                b.running_mean.uniform_(-1, 1)
                b.running_var.uniform_(0.5, 2)
                b.weight.data.uniform_(0.5, 2)
            tmods = [snap(m) for m in mods]
        for m in mods:
            m.eval()
        xi = L.tensor(x)
        with L.no_grad():
            a = L.nn.utils.fusion.fuse_conv_bn_eval(conv, bn)(xi)
            b = L.nn.utils.fuse_linear_bn_eval(lin, bn1)(xi[:, 0, 0, :5])
            c = L.nn.utils.fuse_conv_bn_eval(convT, bnT, transpose=True)(xi)
            ref = bn(conv(xi)), bn1(lin(xi[:, 0, 0, :5])), bnT(convT(xi))
        got[L.__name__] = (a, b, c, *ref)
        conv.train()
        assert err(lambda: L.nn.utils.fuse_conv_bn_eval(conv, bn)) == ("AssertionError", "Fusion only for eval!")
    for a, b in zip(got["torch"], got["funcgrad"]):
        close(a, b, 1e-4)
    for k in range(3):
        close(got["funcgrad"][k], got["funcgrad"][k + 3], 1e-4)


def test_init_additions():
    for L in (torch, funcgrad):
        for shape, groups in [((4, 2, 3), 1), ((4, 4, 3, 3), 2), ((2, 3, 3, 3, 3), 1), ((6, 2, 1, 2), 3)]:
            w = L.empty(shape)
            L.nn.init.dirac_(w, groups)
            t = torch.empty(shape)
            torch.nn.init.dirac_(t, groups)
            np.testing.assert_array_equal(arr(w), t.numpy())
        w = L.empty(10, 6)
        L.nn.init.sparse_(w, 0.3)
        assert (arr(w) == 0).sum(0).tolist() == [3] * 6
        with warnings.catch_warnings(record=True) as rec:
            warnings.simplefilter("always")
            L.nn.init.uniform(L.empty(2))
        assert str(rec[0].message) == "`nn.init.uniform` is now deprecated in favor of `nn.init.uniform_`."
        for bad in [lambda: L.nn.init.dirac_(L.empty(2, 2)), lambda: L.nn.init.dirac_(L.empty(3, 2, 2), 2),
                    lambda: L.nn.init.sparse_(L.empty(2, 2, 2), 0.1), lambda: L.nn.init.calculate_gain("gelu"),
                    lambda: L.nn.init.calculate_gain("leaky_relu", True)]:
            t_err = err(lambda: bad.__call__())
            assert t_err is not None
    names = [n for n in dir(torch.nn.init) if not n.startswith("_") and callable(getattr(torch.nn.init, n))
             and getattr(getattr(torch.nn.init, n), "__module__", "") == "torch.nn.init"]
    assert [n for n in names if not hasattr(funcgrad.nn.init, n)] == []
    for nl in ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d",
               "sigmoid", "tanh", "relu", "selu"]:
        assert funcgrad.nn.init.calculate_gain(nl) == torch.nn.init.calculate_gain(nl)
    for p in (None, 0.2, 1):
        assert funcgrad.nn.init.calculate_gain("leaky_relu", p) == torch.nn.init.calculate_gain("leaky_relu", p)


@pytest.mark.parametrize("bidirectional,num_layers,bias", [(False, 1, True), (True, 2, True), (False, 2, False)])
def test_lstm_proj_size(bidirectional, num_layers, bias):
    x = RNG.standard_normal((4, 3, 5)).astype(np.float32)
    got = {}
    for L in (torch, funcgrad):
        torch.manual_seed(0)
        m = L.nn.LSTM(5, 6, num_layers=num_layers, proj_size=2, bidirectional=bidirectional, bias=bias)
        if L is funcgrad:
            copy_into(m, tm)
        else:
            tm = snap(m)
        nd = 2 if bidirectional else 1
        h0 = L.tensor(np.full((num_layers * nd, 3, 2), 0.1, np.float32))
        c0 = L.tensor(np.full((num_layers * nd, 3, 6), -0.2, np.float32))
        xt = L.tensor(x, requires_grad=True)
        out, (h, c) = m(xt, (h0, c0))
        (out.sum() + (h ** 2).sum() + c.sum()).backward()
        got[L.__name__] = ([out, h, c, xt.grad] + [p.grad for p in m.parameters()], list(m.state_dict().keys()),
                           [tuple(p.shape) for p in m.parameters()], repr(m),
                           err(lambda: m(xt, (c0, c0))), err(lambda: m(xt, (h0, h0))))
    t, f = got["torch"], got["funcgrad"]
    for a, b in zip(t[0], f[0]):
        close(a, b, 1e-5)
    assert t[1:] == f[1:]
    for L in (torch, funcgrad):
        assert err(lambda: L.nn.LSTM(3, 4, proj_size=4)) == ("ValueError", "proj_size has to be smaller than hidden_size")
        assert err(lambda: L.nn.GRU(3, 4, proj_size=2)) == ("ValueError", "proj_size argument is only supported for "
                                                                          "LSTM, not RNN or GRU")


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_print(dtype):
    v = np.array([1.0009765625, 3.14159, -2.71828, 1e-3, 123.456, 65504.0, 0.1], np.float32)
    for vals in [v, v[:3], np.array([1.5, 2.25]), np.array([1e-5, 1.0]), np.array(0.7734375), np.array([3.0, -2.0]),
                 np.array([np.inf, np.nan, 1.0])]:
        a = funcgrad.tensor(vals, dtype=getattr(funcgrad, dtype))
        b = torch.tensor(vals, dtype=getattr(torch, dtype))
        assert repr(a) == repr(b)
        assert repr(a * 2) == repr(b * 2)


PRUNE_SCRIPT = """
import numpy as np
import torch
import torch.nn.utils.prune as prune
rng = np.random.default_rng(0)
m = torch.nn.Linear(6, 4)
with torch.no_grad():
    m.weight.copy_(torch.from_numpy(rng.standard_normal((4, 6)).astype(np.float32)))
    m.bias.copy_(torch.from_numpy(rng.standard_normal(4).astype(np.float32)))
prune.l1_unstructured(m, "weight", amount=0.3)
print(sorted(m.state_dict().keys()), [n for n, _ in m.named_parameters()], [n for n, _ in m.named_buffers()])
print(m.weight_mask)
prune.ln_structured(m, "weight", amount=1, n=2, dim=0)
print(m.weight_mask, prune.is_pruned(m))
print(m(torch.ones(1, 6)))
prune.l1_unstructured(m, "bias", amount=2, importance_scores=torch.arange(4.0))
print(m.bias)
prune.remove(m, "weight")
print(sorted(m.state_dict().keys()), m.weight)
m2 = torch.nn.Sequential(torch.nn.Linear(3, 3), torch.nn.Linear(3, 2))
with torch.no_grad():
    for p in m2.parameters():
        p.copy_(torch.from_numpy(rng.standard_normal(tuple(p.shape)).astype(np.float32)))
prune.global_unstructured([(m2[0], "weight"), (m2[1], "weight")], pruning_method=prune.L1Unstructured, amount=0.5)
print(m2[0].weight_mask, m2[1].weight_mask)
prune.custom_from_mask(m2[1], "bias", torch.tensor([1.0, 0.0]))
print(m2[1].bias, [type(h).__name__ for h in m2[1]._forward_pre_hooks.values()])
try:
    prune.l1_unstructured(m2[0], "bias", amount=5)
except Exception as e:
    print(type(e).__name__, e)
prune.identity(m2[0], "bias")
print(m2[0].bias_mask)
"""


def test_prune_against_torch(tmp_path):
    import subprocess
    import sys

    script = tmp_path / "prune_script.py"
    script.write_text(PRUNE_SCRIPT)
    outs = []
    for cmd in ([sys.executable, str(script)], [sys.executable, "-m", "funcgrad", str(script)]):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        outs.append(r.stdout)
    assert outs[0] == outs[1]
