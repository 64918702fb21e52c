"""Edits through ``.data`` between a forward and its backward (no version bump, as in torch). A saved
input is read as it is now, as torch's backward reads it; a saved result or view was saved as the
forward computed it, so an edit of it after the forward warns (the gradient differs from torch's)
instead of being silently not seen. Edits before the forward (weight clipping after ``opt.step()``)
change nothing and warn about nothing."""
import warnings

import numpy as np
import pytest
import torch

import funcgrad
from funcgrad.autograd import engine


def _x(lib):
    return lib.tensor([1.0, 2.0, 3.0], requires_grad=True)


def _saved_input(lib):
    w, x = lib.tensor([0.5, -1.0, 2.0], requires_grad=True), _x(lib)
    y = (w * x).sum()
    w.data.mul_(2)
    y.backward()
    return [x.grad, w.grad]


def _saved_result(op, scale, edit):
    """A case: ``op`` of ``x * scale``, whose node saves its result, then ``edit`` of the result's ``.data``."""
    def case(lib):
        x = _x(lib)
        h = getattr(x * scale, op)()
        edit(h.data)
        h.sum().backward()
        return [x.grad]
    return case


def _linear_weight_view(lib):
    x = _x(lib)
    lin = lib.nn.Linear(3, 2)
    with lib.no_grad():
        lin.weight.copy_(lib.tensor(np.arange(6, dtype=np.float32).reshape(2, 3) / 10))
        lin.bias.zero_()
    z = lin(x[None]).sum()
    lin.weight.data.mul_(3)
    z.backward()
    return [x.grad, lin.weight.grad]


def _clip_before_forward(lib):
    """WGAN-style clipping through ``.data`` after each step: the next forward reads the clipped weight."""
    torch.manual_seed(0)
    lin = lib.nn.Linear(3, 2)
    with lib.no_grad():
        lin.weight.copy_(lib.tensor(np.linspace(-2, 2, 6, dtype=np.float32).reshape(2, 3)))
        lin.bias.fill_(0.5)
    opt = lib.optim.SGD(lin.parameters(), lr=0.5)
    out = []
    for _ in range(4):
        loss = lin(_x(lib)[None]).tanh().sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
        for p in lin.parameters():
            p.data.clamp_(-0.3, 0.3)
        out += [loss.detach(), lin.weight.detach().clone()]
    return out


SEEN = {"saved_input": _saved_input, "clip_before_forward": _clip_before_forward}
UNSEEN = {"tanh_result": _saved_result("tanh", 0.3, lambda d: d.mul_(2)),
          "exp_result": _saved_result("exp", 0.1, lambda d: d.add_(1)),
          "linear_weight_view": _linear_weight_view}


def _np(ts):
    return [t.detach().numpy().copy() for t in ts]


@pytest.mark.parametrize("name", sorted(SEEN))
def test_edits_torch_sees_match_without_warning(name):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning at all
        got = _np(SEEN[name](funcgrad))
    for a, b in zip(got, _np(SEEN[name](torch))):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def _unedited(fn, lib, monkeypatch):
    """``fn`` with its ``.data`` edits made no-ops: the gradients at the forward's values."""

    class NoEdit:
        def __init__(self, t):
            self.t = t

        def mul_(self, *a):
            return self.t

        add_ = mul_

    with monkeypatch.context() as m:
        m.setattr(lib.Tensor, "data", property(NoEdit))
        return _np(fn(lib))


@pytest.mark.parametrize("name", sorted(UNSEEN))
@pytest.mark.parametrize("planned", [False, True])
def test_edit_of_saved_result_or_view_warns(name, planned, monkeypatch):
    """The backward warns once, naming the node, and computes with the forward's values: torch's
    gradients without the edit. ``planned``: the same graph ran unedited first, so its backward plan
    is tried for the edited one and hands it to the general walk."""
    monkeypatch.setattr(engine, "_plans", {})
    fn = UNSEEN[name]
    if planned:
        _unedited(fn, funcgrad, monkeypatch)
    with pytest.warns(UserWarning, match=r"saved by \w+Backward0\) was changed through `\.data` after the forward") as rec:
        got = _np(fn(funcgrad))
    assert len([r for r in rec if "changed through" in str(r.message)]) == 1
    with_edit = _np(fn(torch))
    assert any(not np.allclose(a, b) for a, b in zip(got, with_edit))  # torch sees the edit
    for a, b in zip(got, _unedited(fn, torch, monkeypatch)):
        np.testing.assert_allclose(a, b, rtol=1e-6)
