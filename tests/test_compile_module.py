"""``funcgrad.compile(model)``: a forward that needs a graph is one op whose node is torch's
``CompiledFunctionBackward`` and whose backward is one compiled vjp; grads equal eager's (and torch's)."""
import numpy as np
import torch

import funcgrad as fg


def _pair(build):
    torch.manual_seed(0)
    tm = build(torch)
    fm = build(fg)
    with fg.no_grad():
        for p, q in zip(fm.state_dict().values(), tm.state_dict().values()):
            p.copy_(fg.tensor(q.detach().numpy()))
    return tm, fm


def _train(tm, fm, x, steps=3, eval_after=True):
    cf = fg.compile(fm)
    topt = torch.optim.SGD(tm.parameters(), lr=0.1, momentum=0.9)
    fopt = fg.optim.SGD(cf.parameters(), lr=0.1, momentum=0.9)
    for _ in range(steps):
        tl = tm(torch.tensor(x)).square().mean()
        fl = cf(fg.tensor(x)).square().mean()
        topt.zero_grad()
        fopt.zero_grad()
        tl.backward()
        fl.backward()
        for p, q in zip(cf.parameters(), tm.parameters()):
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-6)
        topt.step()
        fopt.step()
        np.testing.assert_allclose(fl.item(), tl.item(), rtol=1e-5)
    if eval_after:
        cf.eval()
        tm.eval()
        with fg.no_grad(), torch.no_grad():
            np.testing.assert_allclose(cf(fg.tensor(x)).numpy(), tm(torch.tensor(x)).numpy(), rtol=1e-5, atol=1e-6)
    return cf


def test_compiled_module_forward_is_one_node_with_eager_grads():
    tm, fm = _pair(lambda lib: lib.nn.Sequential(lib.nn.Linear(4, 8), lib.nn.Tanh(), lib.nn.Linear(8, 2)))
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    cf = _train(tm, fm, x)
    cf.train()
    y = cf(fg.tensor(x))
    assert type(y.grad_fn).__name__ == "CompiledFunctionBackward"
    # (torch.compile(tm)'s output prints <torch.autograd.function.CompiledFunctionBackward ...>; building
    # it here would run inductor, minutes on a small CPU)
    # every parameter hangs off that one node
    edges = [type(f).__name__ for f, _ in y.grad_fn.next_functions]
    assert edges == ["AccumulateGrad"] * 4 + ["NoneType"]  # 4 parameters, then the input


def test_compiled_module_input_grad():
    tm, fm = _pair(lambda lib: lib.nn.Sequential(lib.nn.Linear(3, 3), lib.nn.GELU()))
    x = np.random.default_rng(1).standard_normal((2, 3)).astype(np.float32)
    tx, fx = torch.tensor(x, requires_grad=True), fg.tensor(x, requires_grad=True)
    tm(tx).sum().backward()
    fg.compile(fm)(fx).sum().backward()
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=1e-5, atol=1e-6)


def test_compiled_module_with_state_writes_runs_eagerly_and_matches():
    # batch norm in training writes its running statistics: the forward runs eagerly, still equal
    tm, fm = _pair(lambda lib: lib.nn.Sequential(lib.nn.Linear(4, 6), lib.nn.BatchNorm1d(6), lib.nn.ReLU(),
                                                 lib.nn.Linear(6, 1)))
    x = np.random.default_rng(2).standard_normal((8, 4)).astype(np.float32)
    cf = _train(tm, fm, x)
    for a, b in zip(cf.state_dict().values(), tm.state_dict().values()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
