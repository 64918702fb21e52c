"""funcgrad.compile: compiled steps leave every tensor as eager execution would."""
import numpy as np
import pytest

import funcgrad as fg


class Twice(fg.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * 2

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return g * 2 + 0 * x


def build(kind, seed=0):
    fg.manual_seed(seed)
    layers = [fg.nn.Linear(6, 16)]
    if "bn" in kind:
        layers.append(fg.nn.BatchNorm1d(16))
    layers.append(fg.nn.ReLU())
    if "dropout" in kind:
        layers.append(fg.nn.Dropout(0.3))
    layers.append(fg.nn.Linear(16, 3))
    model = fg.nn.Sequential(*layers)
    opt = {"sgd": lambda p: fg.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-3),
           "adam": lambda p: fg.optim.Adam(p, lr=0.01),
           "adamw": lambda p: fg.optim.AdamW(p, lr=0.01, weight_decay=0.05)}[kind.split("+")[0]](model.parameters())
    if "hook" in kind:
        model[0].weight.register_hook(lambda g: g * 0.5)
    return model, opt


def make_step(model, opt, kind):
    loss_fn = fg.nn.CrossEntropyLoss()

    def step(x, y):
        opt.zero_grad()
        h = model(x)
        if "function" in kind:
            h = Twice.apply(h)
        loss = loss_fn(h, y)
        loss.backward()
        opt.step()
        return loss
    return step


KINDS = ["sgd", "adam", "adamw", "sgd+hook", "adam+function", "sgd+dropout", "adam+bn", "adamw+bn+dropout"]


@pytest.mark.parametrize("kind", KINDS)
def test_compiled_matches_eager_for_100_steps(kind):
    rng = np.random.default_rng(0)
    data = [(fg.tensor(rng.standard_normal((8, 6)).astype(np.float32)), fg.tensor(rng.integers(0, 3, 8)))
            for _ in range(5)]
    results = []
    for compiled in (False, True):
        model, opt = build(kind)
        step = make_step(model, opt, kind)
        if compiled:
            step = fg.compile(step)
        losses = [step(*data[i % 5]).item() for i in range(100)]
        results.append((losses, {k: v.numpy() for k, v in model.state_dict().items()},
                        {k: (None if p.grad is None else p.grad.numpy()) for k, p in model.named_parameters()},
                        model[0].weight._version, opt.state_dict()["state"], step))
    (el, es, eg, ev, eo, _), (cl, cs, cg, cv, co, cstep) = results
    np.testing.assert_allclose(cl, el, rtol=2e-5, atol=1e-6)
    for k in es:
        np.testing.assert_allclose(cs[k], es[k], rtol=2e-5, atol=1e-6, err_msg=k)
    for k in eg:
        np.testing.assert_allclose(cg[k], eg[k], rtol=2e-5, atol=1e-6, err_msg=k)
    assert cv == ev  # in-place updates bumped the version as eager did
    assert sorted(co[0]) == sorted(eo[0])
    info = cstep.cache_info()
    assert info["eager_calls"] == 0 and info["programs"] <= 3, info


def test_captured_tensor_is_an_input_not_a_constant():
    w = fg.ones(3)

    @fg.compile
    def f(x):
        return (x * w).sum()

    x = fg.ones(3)
    assert f(x).item() == 3.0
    with fg.no_grad():
        w.mul_(2)
    assert f(x).item() == 6.0
    assert f.cache_info()["programs"] == 1


def test_guards_retrace_on_shape_dtype_and_mode():
    model = fg.nn.Sequential(fg.nn.Linear(4, 4), fg.nn.Dropout(0.5))

    @fg.compile
    def f(x, scale):
        return model(x).sum() * scale

    f(fg.ones(2, 4), 1.0)
    f(fg.ones(2, 4), 1.0)
    assert f.cache_info()["programs"] == 1
    f(fg.ones(3, 4), 1.0)
    f(fg.ones(2, 4), 2.0)
    model.eval()
    f(fg.ones(2, 4), 1.0)
    with fg.no_grad():
        f(fg.ones(2, 4), 1.0)
    assert f.cache_info()["programs"] == 5


def test_scheduler_lr_is_an_input_no_recompiles():
    model, opt = build("sgd")
    sched = fg.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
    step = fg.compile(make_step(model, opt, "sgd"))
    x, y = fg.randn(8, 6), fg.tensor([0, 1, 2, 0, 1, 2, 0, 1])
    model2, opt2 = build("sgd")
    sched2 = fg.optim.lr_scheduler.StepLR(opt2, step_size=2, gamma=0.5)
    eager = make_step(model2, opt2, "sgd")
    for _ in range(8):
        step(x, y)
        sched.step()
        eager(x, y)
        sched2.step()
    assert opt.param_groups[0]["lr"] == opt2.param_groups[0]["lr"] == 0.05 * 0.5 ** 4
    np.testing.assert_allclose(model[0].weight.detach().numpy(), model2[0].weight.detach().numpy(), rtol=1e-5,
                               atol=1e-7)
    assert step.cache_info()["programs"] == 2  # first call (no grads/state yet) and the steady state


def test_graph_break_falls_back_with_warning_or_raises_with_fullgraph():
    w = fg.ones(2, requires_grad=True)

    def f(x):
        y = (x * w).sum()
        if y.item() > 0:  # needs a concrete value
            return y * 2
        return y

    g = fg.compile(f)
    with pytest.warns(UserWarning, match="cannot be traced"):
        assert g(fg.ones(2)).item() == 4.0
    assert g(fg.ones(2)).item() == 4.0 and g.cache_info()["eager_calls"] == 2
    assert w.grad is None and w._version == 0  # the abandoned trace left nothing behind
    h = fg.compile(f, fullgraph=True)
    with pytest.raises(fg.compile.__globals__["GraphBreak"], match=r"test_compile.py:\d+"):
        h(fg.ones(2))


@pytest.mark.parametrize("write", ["grad", "in_place"])
def test_step_writing_to_a_tensor_argument_runs_eagerly_with_a_warning(write):
    """A tensor argument is traced as a fresh tensor: its .grad or an in-place edit would be lost.
    The call runs eagerly (with a warning; fullgraph=True raises) and gives eager's results."""
    import torch

    def run(lib, compile_):
        x = lib.tensor([[1.0, 2.0, -3.0], [0.5, 0.0, 4.0]])
        w = lib.tensor([0.5, -1.0, 2.0], requires_grad=(write == "grad"))

        def step(x, w):
            if write == "grad":
                loss = (x * w).sum()
                loss.backward()
            else:
                w.mul_(2.0)
                loss = (x * w).sum()
            return loss

        f = lib.compile(step) if compile_ else step
        losses = [f(x, w).item() for _ in range(3)]
        return losses, (w.grad if write == "grad" else w).detach().numpy().copy(), f

    losses_t, w_t, _ = run(torch, False)
    with pytest.warns(UserWarning, match="writes to a tensor argument"):
        losses, w_f, f = run(fg, True)
    assert losses == losses_t
    np.testing.assert_array_equal(w_f, w_t)
    assert f.cache_info()["eager_calls"] == 3
    strict = fg.compile(lambda x, w: (w.mul_(2.0) * x).sum(), fullgraph=True)
    with pytest.raises(fg.compile.__globals__["GraphBreak"], match="writes to a tensor argument"):
        strict(fg.ones(3), fg.ones(3))


def test_compile_module_for_inference():
    model = fg.nn.Sequential(fg.nn.Linear(4, 3), fg.nn.Tanh())
    fast = fg.compile(model)
    x = fg.randn(5, 4)
    with fg.no_grad():
        np.testing.assert_allclose(fast(x).numpy(), model(x).numpy(), rtol=1e-6)
    assert fast._compiled_forward.cache_info()["programs"] == 1


# -- patterns that must never be silently different from eager (issue: state that cannot be missed) --
class _MomentumSGD(fg.optim.Optimizer):
    """A user optimizer as torch's tutorials write one: lazily created state, python hyper-parameters."""

    def __init__(self, params, lr=0.1, momentum=0.9):
        super().__init__(params, dict(lr=lr, momentum=momentum))

    @fg.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if "buf" not in st:
                    st["buf"] = p.grad.clone()
                else:
                    st["buf"].mul_(group["momentum"]).add_(p.grad)
                p.add_(st["buf"], alpha=-group["lr"])


def _pattern_losses(kind, compiled, steps=8):
    import functools

    rng = np.random.default_rng(0)
    x = fg.tensor(rng.standard_normal((16, 4)).astype(np.float32))
    y = fg.tensor(rng.integers(0, 2, 16))
    fg.manual_seed(0)
    m = fg.nn.Sequential(fg.nn.Linear(4, 8), fg.nn.ReLU(), fg.nn.Dropout(0.25), fg.nn.Linear(8, 2))
    opt = _MomentumSGD(m.parameters()) if kind == "user_optimizer" else \
        fg.optim.Adadelta(m.parameters()) if kind == "adadelta_steplr_dropout" else \
        fg.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    sched = fg.optim.lr_scheduler.StepLR(opt, 2, 0.5)

    def body(model, optimizer, x, y):
        optimizer.zero_grad()
        loss = fg.nn.functional.cross_entropy(model(x), y)
        loss.backward()
        optimizer.step()
        return loss

    if kind == "partial":
        step = functools.partial(body, m, opt)
    else:
        def step(x, y, model=m, optimizer=opt):
            return body(model, optimizer, x, y)
    f = fg.compile(step) if compiled else step
    out = []
    for _ in range(steps):
        out.append(f(x, y).item())
        sched.step()
    return out, [p.detach().numpy() for p in m.parameters()], f


@pytest.mark.parametrize("kind", ["user_optimizer", "default_args", "partial", "adadelta_steplr_dropout"])
def test_compiled_equals_eager_for_state_reached_indirectly(kind):
    el, ep, _ = _pattern_losses(kind, False)
    cl, cp, f = _pattern_losses(kind, True)
    np.testing.assert_allclose(cl, el, rtol=1e-5, atol=1e-6)
    for a, b in zip(cp, ep):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    assert f.cache_info()["calls"] >= 4  # compiled, not silently eager


def test_user_step_counts_for_schedulers():
    w = fg.ones(2, requires_grad=True)
    opt = _MomentumSGD([w])
    (w * 2).sum().backward()
    opt.step()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fg.optim.lr_scheduler.StepLR(opt, 1).step()  # no "scheduler before optimizer" warning


def test_compile_module_returns_a_module_like_torch():
    import torch

    m = fg.nn.Sequential(fg.nn.Linear(3, 2), fg.nn.Dropout(0.1))
    c = fg.compile(m)
    tm = torch.compile(torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.Dropout(0.1)))
    assert repr(c) == repr(tm)
    assert list(c.state_dict()) == list(tm.state_dict())
    assert isinstance(c, fg.nn.Module) and len(list(c.parameters())) == 2
    y = c(fg.ones(4, 3))
    y.sum().backward()  # differentiable
    assert m[0].weight.grad is not None
    c.eval()
    assert not m.training
