"""Gradients reaching leaves in a plain ``loss.backward()`` (the engine's inline AccumulateGrad) against
torch, with hooks, retained grads and existing grads appearing only after a few warm steps."""
import numpy as np
import pytest
import torch

import funcgrad


def _run(lib, edit_at, edit, steps=5):
    rng = np.random.default_rng(0)
    w = lib.tensor(rng.standard_normal((3, 4)).astype(np.float32), requires_grad=True)
    b = lib.tensor(rng.standard_normal(3).astype(np.float32), requires_grad=True)
    x = lib.tensor(rng.standard_normal((5, 4)).astype(np.float32))
    log = []
    out = []
    for i in range(steps):
        if i == edit_at:
            edit(lib, w, b, log)
        w.grad = None if i != edit_at + 1 or edit is not _keep_grad else w.grad
        b.grad = None if i != edit_at + 1 or edit is not _keep_grad else b.grad
        h = x @ w.T + b
        loss = (h * h).sum() + (w * 2).sum()  # w reaches its AccumulateGrad twice
        loss.backward()
        out.append((w.grad.numpy().copy(), b.grad.numpy().copy()))
    return out, log


def _tensor_hook(lib, w, b, log):
    w.register_hook(lambda g: log.append("w") or g * 2)


def _post_acc_hook(lib, w, b, log):
    b.register_post_accumulate_grad_hook(lambda p: log.append(("b", p.grad.shape)))


def _node_hook(lib, w, b, log):
    h = (w * 1).grad_fn.next_functions[0][0]  # w's AccumulateGrad
    h.register_prehook(lambda gs: log.append("pre") or None)
    h.register_hook(lambda gi, go: log.append("post") or None)


def _keep_grad(lib, w, b, log):
    log.append("keep")


def _removed_hook(lib, w, b, log):
    h = w.register_hook(lambda g: log.append("never"))
    h.remove()


@pytest.mark.parametrize("edit", [_tensor_hook, _post_acc_hook, _node_hook, _keep_grad, _removed_hook])
def test_edit_after_warmup(edit):
    a, la = _run(funcgrad, 2, edit)
    t, lt = _run(torch, 2, edit)
    assert [str(x) for x in la] == [str(x) for x in lt]
    for (aw, ab), (tw, tb) in zip(a, t):
        np.testing.assert_allclose(aw, tw, rtol=1e-5)
        np.testing.assert_allclose(ab, tb, rtol=1e-5)


def test_grad_identity_kept_when_accumulating():
    for lib in (funcgrad, torch):
        w = lib.ones(3, requires_grad=True)
        (w * 2).sum().backward()
        g = w.grad
        (w * 3).sum().backward()
        assert w.grad is g
        assert w.grad.tolist() == [5.0, 5.0, 5.0]


def test_leaf_root_backward():
    for lib in (funcgrad, torch):
        w = lib.tensor(2.0, requires_grad=True)
        w.backward()
        assert w.grad.item() == 1.0
        with pytest.raises(RuntimeError, match="does not require grad"):
            lib.tensor(2.0).backward()
        with pytest.raises(RuntimeError, match="only for scalar outputs"):
            lib.ones(2, requires_grad=True).backward()
