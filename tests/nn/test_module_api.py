"""nn.Module API against torch: hooks (forward/pre with kwargs, always_call, full backward and backward-pre,
state_dict and load_state_dict hooks), load_state_dict (strict, assign, errors, _IncompatibleKeys),
get/set_submodule, get_parameter/get_buffer, to_empty, extra state, containers, functional_call."""
import numpy as np
import pytest
import torch

import funcgrad

RNG = np.random.default_rng(0)


def both(make):
    """The same module in both libraries (funcgrad's weights copied from torch's)."""
    torch.manual_seed(0)
    tm = make(torch)
    fm = make(funcgrad)
    fm.load_state_dict({k: funcgrad.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return tm, fm


def arr(x):
    return x.detach().numpy() if x is not None else None


def close(a, b, tol=1e-5):
    if a is None or b is None:
        assert a is None and b is None
        return
    np.testing.assert_allclose(arr(a), arr(b), rtol=tol, atol=tol)


def err(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - compared below
        return type(e).__name__, str(e)
    return None


class Net:
    @staticmethod
    def make(L):
        class M(L.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = L.nn.Linear(3, 4)
                self.act = L.nn.Tanh()
                self.fc2 = L.nn.Linear(4, 2)
                self.register_buffer("scale", L.ones(2))
                self.register_buffer("tmp", L.zeros(1), persistent=False)

            def forward(self, x, y=None, *, mult=1.0):
                out = self.fc2(self.act(self.fc1(x))) * self.scale * mult
                return out if y is None else out + y

        return M()


def test_forward_hooks_order_kwargs_and_results():
    logs = {}
    outs = {}
    x = RNG.standard_normal((2, 3)).astype(np.float32)
    for L, m in zip((torch, funcgrad), both(Net.make)):
        log = logs[L.__name__] = []
        m.register_forward_pre_hook(lambda mod, args: log.append(("pre", len(args))))
        m.register_forward_pre_hook(lambda mod, args, kw: (log.append(("pre_kw", sorted(kw))),
                                                           (args, {**kw, "mult": 2.0}))[1], with_kwargs=True)
        m.register_forward_pre_hook(lambda mod, args: log.append(("first",)), prepend=True)
        m.register_forward_hook(lambda mod, args, out: log.append(("post", tuple(out.shape))))
        m.register_forward_hook(lambda mod, args, kw, out: out + kw["mult"], with_kwargs=True)
        h = m.register_forward_hook(lambda mod, args, out: log.append(("removed",)))
        h.remove()
        outs[L.__name__] = m(L.tensor(x), mult=1.0)
    assert logs["torch"] == logs["funcgrad"]
    close(outs["torch"], outs["funcgrad"])


def test_forward_hook_always_call_and_pre_hook_errors():
    res = {}
    for L in (torch, funcgrad):
        m = L.nn.Linear(2, 2)
        seen = []
        m.register_forward_hook(lambda mod, a, out: seen.append(out), always_call=True)
        m.register_forward_hook(lambda mod, a, out: seen.append("not-always"))
        e = err(lambda: m(L.ones(3, 5)))
        m2 = L.nn.Linear(2, 2)
        m2.register_forward_pre_hook(lambda mod, a, kw: 5, with_kwargs=True)
        e2 = err(lambda: m2(L.ones(1, 2)))
        res[L.__name__] = (seen, e[0], e2)
    assert res["torch"][0] == res["funcgrad"][0] == [None]
    assert res["torch"][1] == res["funcgrad"][1] == "RuntimeError"
    assert res["torch"][2] == res["funcgrad"][2]


@pytest.mark.parametrize("input_requires_grad", [True, False])
def test_full_backward_hooks(input_requires_grad):
    x = RNG.standard_normal((2, 3)).astype(np.float32)
    y = RNG.standard_normal((2, 2)).astype(np.float32)
    got = {}
    for L, m in zip((torch, funcgrad), both(Net.make)):
        log = []

        def pre(mod, gout):
            log.append(("pre", [arr(g) for g in gout]))
            return (gout[0] * 3,)

        def hook(mod, gin, gout):
            log.append(("hook", [arr(g) for g in gin], [arr(g) for g in gout]))
            if input_requires_grad:
                return tuple(None if g is None else g * 2 for g in gin)

        m.register_full_backward_pre_hook(pre)
        m.register_full_backward_hook(hook)
        xt = L.tensor(x, requires_grad=input_requires_grad)
        yt = L.tensor(y)
        out = m(xt, yt)
        assert out.grad_fn.name() == "BackwardHookFunctionBackward"
        (out * 1.5).sum().backward()
        got[L.__name__] = (log, arr(xt.grad), [arr(p.grad) for p in m.parameters()])
    (lt, xt_g, pt), (lf, xf_g, pf) = got["torch"], got["funcgrad"]
    assert [e[0] for e in lt] == [e[0] for e in lf]
    for et, ef in zip(lt, lf):
        for gt, gf in zip(et[1:], ef[1:]):
            assert len(gt) == len(gf)
            for a, b in zip(gt, gf):
                close(a if a is None else torch.tensor(a), b if b is None else torch.tensor(b))
    if input_requires_grad:
        np.testing.assert_allclose(xf_g, xt_g, rtol=1e-5, atol=1e-6)
    for a, b in zip(pt, pf):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)


def test_backward_hook_kinds_cannot_mix():
    for L in (torch, funcgrad):
        m = L.nn.Linear(2, 2)
        m.register_full_backward_hook(lambda *a: None)
        e = err(lambda: m.register_backward_hook(lambda *a: None))
        assert e == ("RuntimeError", "Cannot use both regular backward hooks and full backward hooks on a single "
                                     "Module. Please use only one of them.")


def test_state_dict_hooks_and_metadata():
    res = {}
    for L in (torch, funcgrad):
        m = Net.make(L)
        log = []
        m.register_state_dict_pre_hook(lambda mod, prefix, keep_vars: log.append(("pre", prefix, keep_vars)))
        m.fc1.register_state_dict_pre_hook(lambda mod, prefix, keep_vars: log.append(("pre1", prefix)))

        def post(mod, sd, prefix, meta):
            sd[prefix + "extra"] = L.zeros(1)
            log.append(("post", prefix, sorted(meta)))

        m.register_state_dict_post_hook(post)
        m._register_state_dict_hook(lambda mod, sd, prefix, meta: {k: v for k, v in sd.items() if "fc2" not in k})
        sd = m.state_dict()
        res[L.__name__] = (log, list(sd.keys()), type(sd).__name__)
        m2 = Net.make(L)
        m2.register_state_dict_post_hook(post)
        sd2 = m2.state_dict()
        res[L.__name__] += (list(sd2.keys()), dict(sd2._metadata))
    assert res["torch"] == res["funcgrad"]


def test_state_dict_post_hook_must_return_none():
    for L in (torch, funcgrad):
        m = L.nn.Linear(1, 1)
        m.register_state_dict_post_hook(lambda *a: {})
        assert err(m.state_dict) == ("RuntimeError", "state_dict post-hook must return None")


def test_load_state_dict_strict_false_and_errors():
    res = {}
    for L in (torch, funcgrad):
        m = Net.make(L)
        sd = m.state_dict()
        sd.pop("fc1.bias")
        sd["fc3.weight"] = L.zeros(1)
        sd["scale_extra"] = L.zeros(1)
        r = m.load_state_dict(sd, strict=False)
        e = err(lambda: m.load_state_dict(sd))
        sd2 = m.state_dict()
        sd2["fc1.weight"] = L.zeros(5, 3)
        sd2["fc2.bias"] = "not a tensor"
        e2 = err(lambda: m.load_state_dict(sd2, strict=False))
        e3 = err(lambda: m.load_state_dict([1]))
        ok = m.load_state_dict(m.state_dict())
        res[L.__name__] = (repr(r), r.missing_keys, r.unexpected_keys, e, e2, e3, repr(ok), str(ok))
    assert res["torch"][:5] == res["funcgrad"][:5]
    assert res["torch"][5][0] == res["funcgrad"][5][0]
    assert res["torch"][6:] == res["funcgrad"][6:]


def test_load_state_dict_post_and_pre_hooks():
    res = {}
    for L in (torch, funcgrad):
        m = Net.make(L)
        log = []
        def post(mod, inc):
            log.append(("post", list(inc.missing_keys)))
            inc.missing_keys.clear()

        m.register_load_state_dict_post_hook(post)
        m.fc1.register_load_state_dict_pre_hook(
            lambda mod, sd, prefix, meta, strict, missing, unexpected, errors: log.append(("pre", prefix, strict)))
        sd = m.state_dict()
        sd.pop("fc2.bias")
        r = m.load_state_dict(sd)
        res[L.__name__] = (log, repr(r))
    assert res["torch"] == res["funcgrad"]


def test_load_state_dict_assign():
    res = {}
    for L in (torch, funcgrad):
        m = L.nn.Linear(2, 3)
        w = L.arange(6.0).view(3, 2)
        m.load_state_dict({"weight": w, "bias": L.zeros(3)}, assign=True)
        res[L.__name__] = (type(m.weight).__name__, m.weight.requires_grad, arr(m.weight).tolist(),
                           m.weight.data_ptr() == w.data_ptr() if L is torch else None)
    assert res["torch"][:3] == res["funcgrad"][:3]


def test_extra_state():
    res = {}
    for L in (torch, funcgrad):
        class E(L.nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = L.nn.Linear(1, 1)
                self.count = 3

            def get_extra_state(self):
                return {"count": self.count}

            def set_extra_state(self, state):
                self.count = state["count"]

        e = E()
        sd = e.state_dict()
        e2 = E()
        e2.count = 0
        e2.load_state_dict(sd)
        sd.pop("_extra_state")
        res[L.__name__] = (list(e.state_dict().keys()), e2.count, err(lambda: E().load_state_dict(sd)))
    assert res["torch"] == res["funcgrad"]


def test_submodule_parameter_buffer_access():
    res = {}
    for L in (torch, funcgrad):
        m = L.nn.Sequential(L.nn.Linear(2, 2), L.nn.Sequential(L.nn.BatchNorm1d(2)))
        out = [type(m.get_submodule("1.0")).__name__, tuple(m.get_parameter("0.weight").shape),
               tuple(m.get_buffer("1.0.running_mean").shape), m.get_submodule("") is m]
        for bad in (lambda: m.get_submodule("2"), lambda: m.get_submodule("0.weight"),
                    lambda: m.get_parameter("1.0.running_mean"), lambda: m.get_buffer("0.weight"),
                    lambda: m.get_parameter("0.nope"), lambda: m.set_submodule("", L.nn.ReLU()),
                    lambda: m.set_submodule("0.weight", L.nn.ReLU()), lambda: m.set_submodule("1.5", L.nn.ReLU(), strict=True),
                    lambda: m.set_submodule("1.0", 3)):
            out.append(err(bad))
        m.set_submodule("1.0", L.nn.ReLU())
        m.set_submodule("1.new", L.nn.Tanh())
        out.append(repr(m))
        res[L.__name__] = out
    assert res["torch"] == res["funcgrad"]


def test_to_empty_bfloat16_and_init_args():
    res = {}
    for L in (torch, funcgrad):
        m = L.nn.Linear(3, 2)
        w = m.weight
        m.to_empty(device="cpu")
        out = [m.weight is w, tuple(m.weight.shape), m.weight.dtype == L.float32]
        m.bfloat16()
        out += [str(m.weight.dtype), m(L.ones(1, 3, dtype=L.bfloat16)).dtype == L.bfloat16]
        out.append(err(lambda: L.nn.Module(3)))
        out.append(err(lambda: L.nn.Module(foo=3)))
        res[L.__name__] = out
    assert res["torch"] == res["funcgrad"]


def test_buffer_assignment():
    res = {}
    for L in (torch, funcgrad):
        m = L.nn.Module()
        m.b = L.nn.Buffer(L.ones(2))
        m.c = L.nn.Buffer(L.ones(1), persistent=False)
        res[L.__name__] = (list(m.state_dict().keys()), [n for n, _ in m.named_buffers()],
                           isinstance(m.b, L.nn.Buffer), isinstance(L.ones(1), L.nn.Buffer))
    assert res["torch"] == res["funcgrad"]


def test_containers():
    res = {}
    for L in (torch, funcgrad):
        out = []
        ml = L.nn.ModuleList([L.nn.Linear(2, 2) for _ in range(3)] + [L.nn.ReLU(), L.nn.ReLU()])
        out.append(repr(ml))
        ml.insert(1, L.nn.Tanh())
        out.append(type(ml.pop(0)).__name__)
        del ml[-1]
        out += [repr(ml), len(ml + ml), repr(ml[1:3]), err(lambda: ml[10])]
        s = L.nn.Sequential(L.nn.Linear(2, 2), L.nn.ReLU())
        s.insert(0, L.nn.Tanh())
        s.extend([L.nn.Sigmoid()])
        out += [repr(s), repr(s * 2), repr(s[::2]), type(s.pop(1)).__name__, repr(s + s)]
        md = L.nn.ModuleDict({"b": L.nn.ReLU(), "a": L.nn.Tanh()})
        md.update([("c", L.nn.Sigmoid())])
        out += [list(md.keys()), type(md.pop("a")).__name__, "b" in md, repr(md)]
        md.clear()
        out.append(len(md))
        pl = L.nn.ParameterList([L.ones(2), L.nn.Parameter(L.zeros(3)), "x"])
        pl.append(L.ones(1))
        pl.extend([L.ones(4)])
        out += [repr(pl), len(pl), [type(p).__name__ for p in pl], [n for n, _ in pl.named_parameters()]]
        pd = L.nn.ParameterDict({"w": L.ones(2), "b": L.nn.Parameter(L.zeros(1))})
        pd["z"] = L.ones(3)
        pd.update({"y": L.ones(1), "a": L.zeros(1)})
        out += [repr(pd), list(pd.keys()), [n for n, _ in pd.named_parameters()], type(pd.pop("w")).__name__,
                pd.get("nope", 5), list(pd.popitem())[0], "b" in pd, list((pd | L.nn.ParameterDict({"q": L.ones(1)})).keys()),
                err(lambda: pd[3]), err(lambda: pd(1)), err(lambda: pl(1))]
        pd.setdefault("s", L.ones(2))
        out.append(list(pd.keys()))
        res[L.__name__] = out
    for a, b in zip(res["torch"], res["funcgrad"]):
        assert a == b


def test_functional_call():
    x = RNG.standard_normal((2, 3)).astype(np.float32)
    res = {}
    for L, m in zip((torch, funcgrad), both(Net.make)):
        new_w = L.ones(4, 3, requires_grad=True)
        out = L.func.functional_call(m, {"fc1.weight": new_w}, (L.tensor(x),))
        out.sum().backward()
        out2 = L.func.functional_call(m, ({"fc1.bias": L.zeros(4)}, {"scale": L.full((2,), 2.0)}), L.tensor(x),
                                      {"mult": 3.0})
        e1 = err(lambda: L.func.functional_call(m, {"fc1.bias": L.zeros(4), "nope": L.zeros(1)}, (L.tensor(x),),
                                                strict=True))
        e2 = err(lambda: L.func.functional_call(m, ({"scale": L.ones(2)}, {"scale": L.ones(2)}), (L.tensor(x),)))
        res[L.__name__] = (arr(out), arr(new_w.grad), arr(out2), e1, e2, m.fc1.weight.grad is None,
                           arr(m(L.tensor(x))))
    t, f = res["torch"], res["funcgrad"]
    for a, b in zip(t[:3], f[:3]):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    assert t[3:6] == f[3:6]
    np.testing.assert_allclose(f[6], t[6], rtol=1e-5, atol=1e-6)


def test_functional_call_tied_weights():
    res = {}
    for L in (torch, funcgrad):
        emb = L.nn.Embedding(4, 3)
        dec = L.nn.Linear(3, 4, bias=False)
        dec.weight = emb.weight
        m = L.nn.Sequential(emb, dec)
        out = L.func.functional_call(m, {"0.weight": L.ones(4, 3)}, (L.tensor([1, 2]),))
        out2 = L.func.functional_call(m, {"0.weight": L.ones(4, 3)}, (L.tensor([1, 2]),), tie_weights=False)
        res[L.__name__] = (arr(out).tolist(), np.allclose(arr(out2), arr(out)))
    assert res["torch"] == res["funcgrad"]
