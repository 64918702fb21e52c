"""Reductions, scans, sorting and statistics against real torch: values, dtypes, grad_fn names,
gradients at torch's edge points (ties, zeros, -inf, constant inputs), forward-mode AD, errors,
return types and their reprs."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch

import funcgrad

INF = float("inf")
NAN = float("nan")


def _mk(lib, v, dtype="float32", rg=False):
    return lib.tensor(v, dtype=getattr(lib, dtype), requires_grad=rg)


def _np(t):
    return np.asarray(t.detach().numpy())


def _flat(o):
    if isinstance(o, (tuple, list)):
        return [x for y in o for x in _flat(y)]
    return [o]


def _same(a, b, tol=1e-5):
    assert type(b).__name__ == type(a).__name__ or not isinstance(a, tuple), (type(b), type(a))
    for x, y in zip(_flat(a), _flat(b), strict=True):
        if isinstance(x, torch.Tensor):
            assert str(y.dtype) == str(x.dtype), (y.dtype, x.dtype)
            assert tuple(y.shape) == tuple(x.shape), (y.shape, x.shape)
            np.testing.assert_allclose(_np(y), _np(x), rtol=tol, atol=tol, equal_nan=True)
            gx = None if x.grad_fn is None else type(x.grad_fn).__name__
            gy = None if y.grad_fn is None else y.grad_fn.name()
            assert gy == gx, (gy, gx)
        else:
            assert x == y or (x != x and y != y)


def check(fn, *values, dtype="float32", grad=True, fwd=True, tol=1e-5):
    """Run ``fn(lib, *tensors)`` in both libraries: outputs, then gradients of every float
    output (weighted by fixed cotangents), then forward-mode tangents."""
    ts = [_mk(torch, v, dtype, grad) for v in values]
    fs = [_mk(funcgrad, v, dtype, grad) for v in values]
    a, b = fn(torch, *ts), fn(funcgrad, *fs)
    _same(a, b, tol)
    if not grad:
        return
    outs = [(x, y) for x, y in zip(_flat(a), _flat(b)) if isinstance(x, torch.Tensor) and x.requires_grad]
    if not outs:
        return
    rng = np.random.default_rng(0)
    cots = [rng.standard_normal(x.shape).astype(np.float32) for x, _ in outs]
    gt = torch.autograd.grad([x for x, _ in outs], ts, [torch.tensor(c) for c in cots], allow_unused=True)
    gf = funcgrad.autograd.grad([y for _, y in outs], fs, [funcgrad.tensor(c) for c in cots], allow_unused=True)
    for x, y in zip(gt, gf):
        if x is None:
            assert y is None or not np.any(_np(y))
            continue
        np.testing.assert_allclose(_np(y), _np(x), rtol=tol, atol=tol, equal_nan=True)
    if fwd:
        import torch.autograd.forward_ad as tfa

        fga = funcgrad.autograd.forward_ad
        tans = [rng.standard_normal(np.shape(v)).astype(np.float32) for v in values]
        with tfa.dual_level():
            o = fn(torch, *[tfa.make_dual(t.detach(), torch.tensor(c)) for t, c in zip(ts, tans)])
            tt = [tfa.unpack_dual(x).tangent for x in _flat(o) if isinstance(x, torch.Tensor)]
        with fga.dual_level():
            o = fn(funcgrad, *[fga.make_dual(t.detach(), funcgrad.tensor(c)) for t, c in zip(fs, tans)])
            ft = [fga.unpack_dual(x).tangent for x in _flat(o) if isinstance(x, funcgrad.Tensor)]
        for x, y in zip(tt, ft):
            if x is None:
                continue
            np.testing.assert_allclose(_np(y), _np(x), rtol=tol, atol=tol, equal_nan=True)


TIES = [3., 1., 3., 2., 1., 3.]


@pytest.mark.parametrize("fn", [
    lambda L, x: x.max(), lambda L, x: x.min(), lambda L, x: x.max(0), lambda L, x: x.min(0),
    lambda L, x: x.amax(), lambda L, x: L.aminmax(x), lambda L, x: x.median(), lambda L, x: x.median(0),
    lambda L, x: x.nanmedian(), lambda L, x: L.sort(x), lambda L, x: L.sort(x, descending=True),
    lambda L, x: L.kthvalue(x, 2), lambda L, x: L.kthvalue(x, 6), lambda L, x: L.mode(x),
    lambda L, x: L.cummax(x, 0), lambda L, x: L.cummin(x, 0),
    lambda L, x: L.msort(x), lambda L, x: L.quantile(x, 0.3), lambda L, x: L.nanquantile(x, 0.75),
    lambda L, x: x.norm(float("inf")), lambda L, x: L.argsort(x),
], ids=lambda f: "")
def test_tied_elements_get_torchs_gradient(fn):
    check(fn, TIES)


_NAN_FWD = [lambda L, x: x.max(), lambda L, x: x.median()]


@pytest.mark.parametrize("fn", [
    *_NAN_FWD, lambda L, x: x.max(0), lambda L, x: x.nanmedian(),
    lambda L, x: x.nanmedian(0), lambda L, x: L.sort(x), lambda L, x: L.cummax(x, 0), lambda L, x: x.argmax(),
    lambda L, x: L.nansum(x), lambda L, x: L.nanmean(x), lambda L, x: L.nanquantile(x, 0.5),
    lambda L, x: L.quantile(x, 0.5),
], ids=lambda f: "")
def test_nan(fn):
    # forward mode of max()/median() with a NaN: torch's evenly_read_jvp divides by a zero count
    # (NaN tangent) while its backward shares the gradient among the NaNs; one JAX rule gives the
    # latter for both
    check(fn, [1., NAN, 3., NAN, 0.5], fwd=fn not in _NAN_FWD)


@pytest.mark.parametrize("p", [1, 2, 3, 0.5, 1.5, INF, -INF, 0])
@pytest.mark.parametrize("x", [[0., 0., 0.], [0., 2., -2.], [1., -3., 0.5]])
def test_norm_edge_gradients(p, x):
    check(lambda L, t: t.norm(p), x)
    check(lambda L, t: L.dist(t, L.ones(3)), x)


@pytest.mark.parametrize("fn", [
    lambda L, x: x.std(), lambda L, x: x.var(), lambda L, x: L.std_mean(x), lambda L, x: L.var_mean(x),
    lambda L, x: x.std(0, correction=0),
])
def test_std_var_of_constant(fn):
    check(fn, [2., 2., 2.])


@pytest.mark.parametrize("x", [[-INF, 0., 1.], [-INF, -INF], [INF, 1.], [0., 0.]])
def test_logsumexp_infinities(x):
    check(lambda L, t: t.logsumexp(0), x)


@pytest.mark.parametrize("x", [[2., 0., 3.], [0., 0., 3.], [1., 2., 3.], [[0., 2.], [3., 0.]]])
def test_prod_with_zeros(x):
    check(lambda L, t: t.prod(), x)
    check(lambda L, t: t.prod(0), x)
    check(lambda L, t: t.cumprod(0), x)


@pytest.mark.parametrize("dtype,expect", [("int8", "int64"), ("int32", "int64"), ("uint8", "int64"),
                                          ("bool", "int64"), ("float32", "float32")])
def test_integer_sums_promote(dtype, expect):
    for f in (lambda L, t: t.sum(), lambda L, t: t.sum(0), lambda L, t: t.prod(), lambda L, t: t.cumsum(0),
              lambda L, t: t.cumprod(0), lambda L, t: L.nansum(t) if dtype != "bool" else t.sum()):
        a = f(torch, torch.tensor([1, 0, 1], dtype=getattr(torch, dtype)))
        b = f(funcgrad, funcgrad.tensor([1, 0, 1], dtype=getattr(funcgrad, dtype)))
        assert str(b.dtype) == str(a.dtype) == "torch." + expect
        assert b.tolist() == a.tolist()


def test_dims_aliases_and_zero_dim():
    check(lambda L, t: t.sum(axis=0, keepdims=True), [[1., 2.], [3., 4.]])
    check(lambda L, t: L.max(t, dim=1, keepdims=True), [[1., 2.], [3., 4.]])
    check(lambda L, t: t.mean((0, -1)), [[1., 2.], [3., 4.]])
    for f in (lambda L, t: t.sum(0), lambda L, t: t.sum(-1, keepdim=True), lambda L, t: t.max(0),
              lambda L, t: t.argmax(0), lambda L, t: t.cumsum(0), lambda L, t: t.sort(0), lambda L, t: t.median(-1),
              lambda L, t: t.logsumexp(0), lambda L, t: t.std(0), lambda L, t: t.amax(0), lambda L, t: t.norm(dim=0),
              lambda L, t: t.kthvalue(1), lambda L, t: t.topk(1), lambda L, t: t.mode(), lambda L, t: t.cummax(0)):
        check(f, 3.0)


def _err(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001
        return type(e).__name__, re.sub(r"0x[0-9a-f]+", "", str(e))
    return None


@pytest.mark.parametrize("fn", [
    lambda L: L.zeros(0).argmax(), lambda L: L.zeros(0).argmin(), lambda L: L.zeros(0).max(),
    lambda L: L.zeros(0).amax(), lambda L: L.zeros(0, 3).max(0), lambda L: L.zeros(0, 3).argmax(0),
    lambda L: L.zeros(3).sum(1), lambda L: L.zeros(()).sum(1), lambda L: L.zeros(2, 2).amax((0, 0)),
    lambda L: L.zeros(0).kthvalue(1), lambda L: L.zeros(3).kthvalue(4), lambda L: L.zeros(3).topk(4),
    lambda L: L.zeros(0).mode(), lambda L: L.zeros(0).aminmax(), lambda L: L.tensor([1, 2]).mean(),
    lambda L: L.tensor([1, 2]).std(), lambda L: L.tensor([1, 2]).norm(), lambda L: L.zeros(2, 2).quantile(1.5),
    lambda L: L.zeros(0).quantile(0.5), lambda L: L.tensor([1, 2]).nanmean(), lambda L: L.zeros(3).max(3),
    lambda L: L.zeros(2, 3).cumsum(2),
], ids=lambda f: "")
def test_errors_match_torch(fn):
    assert _err(lambda: fn(funcgrad)) == _err(lambda: fn(torch))


def test_empty_reductions():
    for f in (lambda L: L.zeros(0).sum(), lambda L: L.zeros(0).prod(), lambda L: L.zeros(0, 2).sum(0),
              lambda L: L.zeros(0).logsumexp(0), lambda L: L.zeros(0).median(), lambda L: L.zeros(0).sort()):
        _same(f(torch), f(funcgrad))


def test_return_type_reprs():
    for f in (lambda L, x: L.sort(x), lambda L, x: x.max(0), lambda L, x: L.topk(x, 2), lambda L, x: L.aminmax(x),
              lambda L, x: L.cummin(x, 0), lambda L, x: L.histogram(x, bins=3)):
        a = f(torch, torch.tensor([2., 1., 3.]))
        b = f(funcgrad, funcgrad.tensor([2., 1., 3.]))
        assert repr(b) == repr(a)
        assert type(b).__name__ == type(a).__name__ and b._fields == a._fields if hasattr(a, "_fields") else True
    v = funcgrad.sort(funcgrad.tensor([2., 1.]))
    assert v.values.tolist() == [1., 2.] and v[1].tolist() == [1, 0]


def test_masked():
    m = [[True, False, True], [False, False, True]]
    x = [[1., 2., 3.], [4., 5., 6.]]
    for f in (lambda L, t: L.masked.sum(t, 1, mask=L.tensor(m)), lambda L, t: L.masked.mean(t, mask=L.tensor(m)),
              lambda L, t: L.masked.amax(t, 1, mask=L.tensor(m)), lambda L, t: L.masked.softmax(t, 1, mask=L.tensor(m)),
              lambda L, t: L.masked.var(t, 1, mask=L.tensor(m)), lambda L, t: L.masked.norm(t, 2., 1, mask=L.tensor(m)),
              lambda L, t: L.masked.argmin(t, 1, mask=L.tensor(m)), lambda L, t: L.masked.prod(t, 1, mask=L.tensor(m)),
              lambda L, t: L.masked.cumsum(t, 1, mask=L.tensor(m)), lambda L, t: L.masked.median(t, 1, mask=L.tensor(m))):
        check(f, x)


def test_inplace_and_out():
    for f in (lambda L, t: t.clone().cumsum_(0), lambda L, t: t.clone().renorm_(2, 0, 1.0)):
        check(f, [[1., 2.], [3., 4.]], fwd=False)  # forward mode through in-place ops: registry-wide
    o = funcgrad.empty(())
    funcgrad.sum(funcgrad.tensor([1., 2.]), out=o)
    assert o.item() == 3.0


@pytest.mark.parametrize("fn", [
    lambda L, x: L.diff(x), lambda L, x: L.diff(x, 2, prepend=x[:1]), lambda L, x: L.trapezoid(x),
    lambda L, x: L.trapezoid(x, dx=0.5), lambda L, x: L.cumulative_trapezoid(x), lambda L, x: L.gradient(x),
    lambda L, x: L.cov(x.view(2, 3)), lambda L, x: L.corrcoef(x.view(2, 3)), lambda L, x: x.view(2, 3).sum_to_size(1, 3),
    lambda L, x: L.renorm(x.view(2, 3), 1, 0, 2.0), lambda L, x: L.logcumsumexp(x, 0),
], ids=lambda f: "")
def test_composites(fn):
    check(fn, [1., 4., 2., 8., 5., 7.])


def test_kthvalue_ties_pick_torchs_index():
    rng = np.random.default_rng(0)
    a = rng.integers(-3, 3, size=(20, 9))
    for k in (1, 4, 9):
        _same(torch.kthvalue(torch.tensor(a), k, 1), funcgrad.kthvalue(funcgrad.tensor(a), k, 1))
    check(lambda L, t: L.kthvalue(t, 3, 0), [[2., 1.], [2., 1.], [0., 1.], [2., 5.]])


@pytest.mark.parametrize("fn", [
    lambda L: L.histc(L.tensor([1., 2., 1., 7.]), bins=4, min=0, max=3),
    lambda L: L.histc(L.tensor([1., 2., 1., 7.]), bins=5),
    lambda L: L.histogram(L.tensor([1., 2., 1., 7.]), bins=3),
    lambda L: L.histogram(L.tensor([1., 2., 1., 7.]), bins=L.tensor([0., 1.5, 8.]), density=True),
    lambda L: L.histogramdd(L.tensor([[1., 2.], [1., 7.], [3., 3.]]), bins=[2, 3]),
    lambda L: L.bincount(L.tensor([1, 3, 3])), lambda L: L.bincount(L.tensor([1, 3, 3]), L.tensor([1., 2., 3.])),
    lambda L: L.bincount(L.tensor([1, 3, 3]), minlength=6),
    lambda L: L.searchsorted(L.tensor([1, 3, 5, 7, 9]), L.tensor([[3, 6, 9], [3, 6, 9]]), right=True),
    lambda L: L.searchsorted(L.tensor([[1., 3.], [2., 4.]]), L.tensor([[2.], [5.]])),
    lambda L: L.bucketize(L.tensor([3, 6]), L.tensor([1, 3, 5])),
    lambda L: L.unique(L.tensor([3, 1, 3, 2, 1]), return_inverse=True, return_counts=True),
    lambda L: L.unique(L.tensor([[1, 2], [1, 2], [0, 5]]), dim=0, return_counts=True),
    lambda L: L.unique_consecutive(L.tensor([3, 3, 1, 1, 3]), return_counts=True),
], ids=lambda f: "")
def test_counting_and_searching(fn):
    _same(fn(torch), fn(funcgrad))
