"""torch's native (ATen-level) ops and ``torch.ops.aten`` against torch: the running statistics the
batch-norm ops update in place (op_db compares only their outputs), segment_reduce on every
reduction, ``_chunk_cat``, and the ``torch.ops.aten`` namespace."""
import numpy as np
import pytest
import torch

import funcgrad


def _pair(shape, seed=0):
    a = np.random.RandomState(seed).randn(*shape).astype(np.float32)
    return torch.tensor(a), funcgrad.tensor(a)


def _close(t, f, tol=1e-5):
    np.testing.assert_allclose(np.asarray(f.detach().numpy()), t.detach().numpy(), rtol=tol, atol=tol)


@pytest.mark.parametrize("name", ["native_batch_norm", "_native_batch_norm_legit", "_batch_norm_with_update"])
def test_batch_norm_running_stats(name):
    xt, xf = _pair((4, 3, 5))
    rmt, rmf = _pair((3,), 1)
    rvt, rvf = torch.ones(3), funcgrad.ones(3)
    if name == "_batch_norm_with_update":
        to = torch.ops.aten._batch_norm_with_update(xt, None, None, rmt, rvt, 0.3, 1e-5)
        fo = funcgrad.ops.aten._batch_norm_with_update.default(xf, None, None, rmf, rvf, 0.3, 1e-5)
        assert fo[3].dtype == funcgrad.uint8 and tuple(fo[3].shape) == (0,)
    else:
        to = getattr(torch, name)(xt, None, None, rmt, rvt, True, 0.3, 1e-5)
        fo = getattr(funcgrad, name)(xf, None, None, rmf, rvf, True, 0.3, 1e-5)
    for t, f in zip(to[:3], fo[:3]):
        _close(t, f)
    _close(rmt, rmf)
    _close(rvt, rvf)


def test_native_batch_norm_eval_saves_nothing():
    xt, xf = _pair((4, 3))
    to = torch.native_batch_norm(xt, None, None, torch.zeros(3), torch.ones(3), False, 0.1, 1e-5)
    fo = funcgrad.native_batch_norm(xf, None, None, funcgrad.zeros(3), funcgrad.ones(3), False, 0.1, 1e-5)
    assert [tuple(t.shape) for t in to] == [tuple(f.shape) for f in fo]


@pytest.mark.parametrize("reduce", ["max", "min", "sum", "prod", "mean"])
@pytest.mark.parametrize("initial", [None, 2.0])
def test_segment_reduce(reduce, initial):
    xt, xf = _pair((5, 3))
    xt.requires_grad_()
    xf.requires_grad_()
    yt = torch.segment_reduce(xt, reduce, lengths=torch.tensor([0, 1, 2, 2]), initial=initial)
    yf = funcgrad.segment_reduce(xf, reduce, lengths=funcgrad.tensor([0, 1, 2, 2]), initial=initial)
    _close(yt, yf)
    g = np.random.RandomState(2).randn(*yt.shape).astype(np.float32)
    gt, = torch.autograd.grad(yt, xt, torch.tensor(g))
    gf, = funcgrad.autograd.grad(yf, xf, funcgrad.tensor(g))
    _close(gt, gf, 1e-4)
    assert type(yf.grad_fn).__name__ == type(yt.grad_fn).__name__


def test_chunk_cat():
    at, af = _pair((2, 3, 5))
    bt, bf = _pair((2, 3, 7), 1)
    for dim, n in ((0, 2), (1, 2), (2, 3), (-1, 4)):
        _close(torch._chunk_cat([at, bt], dim, n), funcgrad._chunk_cat([af, bf], dim, n))


def test_aten_namespace():
    xt, xf = _pair((4, 6))
    _close(torch.ops.aten.slice.Tensor(xt, 1, 1, 5, 2), funcgrad.ops.aten.slice.Tensor(xf, 1, 1, 5, 2))
    _close(torch.ops.aten.add.Tensor(xt, xt), funcgrad.ops.aten.add.Tensor(xf, xf))
    _close(torch.ops.aten._safe_softmax.default(xt, 0), funcgrad.ops.aten._safe_softmax.default(xf, 0))
    with pytest.raises(AttributeError):
        funcgrad.ops.aten.no_such_op  # noqa: B018


def test_safe_softmax_masked_rows():
    a = np.array([[-np.inf, -np.inf], [0.5, -np.inf]], np.float32)
    xt, xf = torch.tensor(a, requires_grad=True), funcgrad.tensor(a, requires_grad=True)
    yt, yf = torch._safe_softmax(xt, 1), funcgrad._safe_softmax(xf, 1)
    _close(yt, yf)
    gt, = torch.autograd.grad(yt.sum() + (yt * yt).sum(), xt)
    gf, = funcgrad.autograd.grad(yf.sum() + (yf * yf).sum(), xf)
    _close(gt, gf)
