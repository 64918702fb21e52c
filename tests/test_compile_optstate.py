"""funcgrad.compile writes ``optimizer.state`` tensors from the program (they are part of the step's
state): after every call they hold what eager steps leave, as torch's optimizers (values, float32
``step``), including when the user replaces one between calls."""
import numpy as np
import pytest
import torch

import funcgrad as fg


def _steps(lib, opt_kind, n, compiled, mutate=None, at=()):
    lib.manual_seed(0)
    model = lib.nn.Linear(4, 2)
    with lib.no_grad():
        model.weight.copy_(lib.tensor(np.linspace(-1, 1, 8, dtype=np.float32).reshape(2, 4)))
        model.bias.copy_(lib.tensor([0.1, -0.2]))
    opt = (lib.optim.SGD(model.parameters(), lr=0.1, momentum=0.9) if opt_kind == "sgd"
           else lib.optim.Adam(model.parameters(), lr=0.05))
    x = lib.tensor(np.arange(12, dtype=np.float32).reshape(3, 4) / 10)
    y = lib.tensor(np.ones((3, 2), np.float32))

    def step():
        opt.zero_grad()
        loss = ((model(x) - y) ** 2).mean()
        loss.backward()
        opt.step()
        return loss

    if compiled:
        step = fg.compile(step)
    losses = []
    for i in range(n):
        if i in at:
            mutate(model, opt)
        losses.append(float(step()))
    return losses, model, opt, step


def _state(model, opt):
    return [{k: (v.dtype, v.detach().numpy().copy()) for k, v in opt.state[p].items()} for p in model.parameters()]


@pytest.mark.parametrize("opt_kind", ["sgd", "adam"])
def test_optimizer_state_after_compiled_steps_equals_eager_and_torch(opt_kind):
    el, em, eo, _ = _steps(fg, opt_kind, 6, False)
    cl, cm, co, cstep = _steps(fg, opt_kind, 6, True)
    tl, tm, to, _ = _steps(torch, opt_kind, 6, False)
    np.testing.assert_allclose(cl, tl, rtol=1e-5)
    np.testing.assert_allclose(el, tl, rtol=1e-5)
    for c, e, t in zip(_state(cm, co), _state(em, eo), _state(tm, to)):
        assert set(c) == set(e) == set(t)
        for k in t:
            assert str(c[k][0]).split(".")[-1] == str(t[k][1].dtype) == str(e[k][1].dtype)
            np.testing.assert_allclose(c[k][1], t[k][1], rtol=1e-5, atol=1e-7)
    assert cstep.cache_info()["fast_calls"] >= 3
    # nothing left pending for the next call (Adam's float32 step comes out of the program)
    assert not fg._lazy.pending()


def test_optimizer_state_tensor_replaced_between_calls():
    """torch's next step writes the momentum into whatever tensor ``optimizer.state`` then holds."""
    def mutate(model, opt):
        p = next(iter(model.parameters()))
        opt.state[p]["momentum_buffer"] = opt.state[p]["momentum_buffer"].clone()

    results = []
    for compiled in (False, True):
        losses, model, opt, _ = _steps(fg, "sgd", 6, compiled, mutate, at=(3,))
        results.append((losses, _state(model, opt)))
    tl, tm, to, _ = _steps(torch, "sgd", 6, False, mutate, at=(3,))
    for losses, st in results:
        np.testing.assert_allclose(losses, tl, rtol=1e-5)
        for s, t in zip(st, _state(tm, to)):
            np.testing.assert_allclose(s["momentum_buffer"][1], t["momentum_buffer"][1], rtol=1e-5, atol=1e-7)


def test_state_written_by_the_fast_path_is_read_eagerly():
    """Values the fast path stores (program arrays) behave as any tensor's: eager ops, in-place
    edits and a following eager step see them."""
    cl, cm, co, cstep = _steps(fg, "sgd", 5, True)
    el, em, eo, _ = _steps(fg, "sgd", 5, False)
    for a, b in zip(cm.parameters(), em.parameters()):
        np.testing.assert_allclose((a * 2 + 1).detach().numpy(), (b * 2 + 1).detach().numpy(), rtol=1e-6)
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-6)
    with fg.no_grad():
        next(iter(cm.parameters())).mul_(0.5)
        next(iter(em.parameters())).mul_(0.5)
    assert float(cstep()) == pytest.approx(_next_loss(em, eo), rel=1e-5)
    for a, b in zip(cm.parameters(), em.parameters()):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-7)


def _next_loss(model, opt):
    x = fg.tensor(np.arange(12, dtype=np.float32).reshape(3, 4) / 10)
    y = fg.tensor(np.ones((3, 2), np.float32))
    opt.zero_grad()
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    opt.step()
    return float(loss)


@pytest.mark.parametrize("opt_kind", ["sgd", "adam"])
def test_optimizer_state_edited_in_place_between_calls(opt_kind):
    """torch's next step reads ``optimizer.state`` tensors edited in place (eager funcgrad watches
    their versions): so does the compiled step."""
    name = "momentum_buffer" if opt_kind == "sgd" else "exp_avg"

    def mutate(model, opt):
        p = next(iter(model.parameters()))
        with torch.no_grad() if isinstance(p, torch.Tensor) else fg.no_grad():
            opt.state[p][name].mul_(0.5)

    tl, tm, to, _ = _steps(torch, opt_kind, 6, False, mutate, at=(3,))
    for compiled in (False, True):
        losses, model, opt, step = _steps(fg, opt_kind, 6, compiled, mutate, at=(3,))
        np.testing.assert_allclose(losses, tl, rtol=1e-5)
        for s, t in zip(_state(model, opt), _state(tm, to)):
            np.testing.assert_allclose(s[name][1], t[name][1], rtol=1e-5, atol=1e-7)
        for a, b in zip(model.parameters(), tm.parameters()):
            np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-5, atol=1e-7)
