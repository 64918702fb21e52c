"""Views, indexing, shape, creation and random ops against torch: errors (class and key phrase), view
semantics (shared storage, version counters, strides), torch's indexing rules, in-place variants and
edge cases that torch's OpInfo samples do not reach."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch

import funcgrad

warnings.filterwarnings("ignore", category=UserWarning)

A = np.arange(2 * 3 * 4 * 5, dtype=np.float32).reshape(2, 3, 4, 5)


def both(expr, data=A, requires_grad=True):
    """Evaluate ``expr`` (with ``L`` the library and ``x`` a tensor of ``data``) in torch and funcgrad."""
    out = []
    for L in (torch, funcgrad):
        x = L.tensor(data, requires_grad=requires_grad)
        out.append((x, eval(expr, {"L": L, "x": x, "np": np})))
    return out


def node(t):
    g = t.grad_fn
    return None if g is None else (type(g).__name__ if isinstance(t, torch.Tensor) else type(g).__name__)


def check_same(t, f):
    assert tuple(t.shape) == tuple(f.shape)
    assert str(t.dtype).split(".")[-1] == f.dtype.name if hasattr(f.dtype, "name") else True
    np.testing.assert_allclose(t.detach().numpy(), np.asarray(f.detach().numpy()), rtol=1e-6, atol=1e-6)
    assert node(t) == node(f)


# -- torch's indexing rules (int indices are selects, applied before the advanced ones) --------------
INDEX_CASES = ["x[0, [1, 2]]", "x[[0, 1], :, 0]", "x[:, [0, 1], 0]", "x[:, [0, 1], :, 0]", "x[0, :, [1, 2]]",
               "x[:, 0, :, [1, 2]]", "x[1, ..., [0, 2]]", "x[None, 0, [1, 2]]", "x[0, [1, 2], [0, 1]]",
               "x[[0, 1], 1, [1, 2]]", "x[:, [[0], [1]], 0, [1, 2]]", "x[L.tensor(1), [0, 2]]", "x[x > 50]",
               "x[0][x[0] > 10]", "x[..., 1]", "x[:, 1:3, ::2]"]


@pytest.mark.parametrize("expr", INDEX_CASES)
def test_indexing_like_torch(expr):
    (tx, t), (fx, f) = both(expr)
    check_same(t, f)
    g = np.random.default_rng(0).standard_normal(tuple(t.shape)).astype(np.float32)
    (gt,) = torch.autograd.grad(t, tx, torch.tensor(g))
    (gf,) = funcgrad.autograd.grad(f, fx, funcgrad.tensor(g))
    np.testing.assert_allclose(gt.numpy(), gf.numpy())


@pytest.mark.parametrize("expr", ["x[:, [0, 1], :, 0]", "x[0, [1, 2]]", "x[[0, 1], 2]"])
def test_setitem_like_torch(expr):
    res = []
    for L in (torch, funcgrad):
        x = L.tensor(A, requires_grad=True)
        y = x * 1
        region = eval(expr, {"x": y})
        v = L.tensor(np.full(tuple(region.shape), -1.0, np.float32), requires_grad=True)
        exec(f"{expr} = v", {"x": y, "v": v})
        gx, gv = L.autograd.grad((y * y).sum(), [x, v])
        res.append((y.detach().numpy().copy(), gx.numpy(), gv.numpy(), node(y)))
    for a, b in zip(*res):
        if isinstance(a, str):
            assert a == b
        else:
            np.testing.assert_allclose(a, np.asarray(b))


# -- errors: torch's exception class and message --------------------------------------------------------
ERRORS = [
    "L.zeros(()).squeeze(10)", "L.roll(L.zeros(3, 3), (1, 2), (0,))", "L.linspace(0, 1, 3, dtype=L.bool)",
    "L.linspace(0, 1, -1)", "L.eye(-1)", "L.randint(5, 2, (3,))", "L.normal(L.zeros(3), -1.0)",
    "L.normal(0., -1., (3,))", "L.randn(3, dtype=L.int64)", "L.multinomial(L.tensor([-1., 2]), 1)",
    "L.multinomial(L.tensor([0., 0]), 1)", "L.multinomial(L.tensor([1., 2]), 3)", "L.cat([])", "L.zeros(3).chunk(0)",
    "L.tensor([2**64])", "L.tensor(2**63)", "L.zeros(3).gather(0, L.tensor([5]))",
    "L.zeros(3).index_select(0, L.tensor([5]))", "L.zeros(3).scatter(0, L.tensor([5]), 1.)",
    "L.zeros(3).scatter_add(0, L.tensor([5]), L.ones(1))", "L.zeros(3)[L.tensor([5])]",
    "L.zeros(3).take(L.tensor([5]))", "L.zeros(3).index_add(0, L.tensor([5]), L.ones(1))",
    "L.zeros(3).index_copy(0, L.tensor([5]), L.ones(1))", "L.zeros(3).index_fill(0, L.tensor([5]), 1)",
    "L.zeros(3).put(L.tensor([5]), L.ones(1))", "L.zeros(3).uniform_(2, 1)", "L.zeros(3).exponential_(-1)",
    "L.zeros(3).geometric_(2)", "L.zeros(3).bernoulli_(2.)", "L.zeros(3).log_normal_(0, -1)",
    "L.zeros(3).cauchy_(0, -1)", "L.zeros(3, dtype=L.int64).normal_()", "L.zeros(3, dtype=L.int64).uniform_()",
    "L.arange(0, 10, -1)", "L.zeros(3, 4).t().view(12)", "L.zeros(3, 4).gather(0, L.zeros(2, 5, dtype=L.long))",
    "L.zeros(3, 4).gather(0, L.zeros(2, dtype=L.long))", "L.zeros(3, 4).gather(1, L.tensor([[-1]]))",
    "L.zeros(3, 4).scatter(0, L.zeros(2, 2, dtype=L.long), 1., reduce='max')",
    "L.zeros(3, 4).scatter_reduce(0, L.zeros(2, 2, dtype=L.long), L.zeros(3, 4), reduce='foo')",
    "L.zeros(3).view(-1, -1)", "L.zeros(3).view(4)", "L.zeros(2, 3).permute(0, 0)", "L.zeros(2, 3).transpose(0, 5)",
    "L.zeros(2, 3).expand(3, 3)", "L.zeros(2, 3).narrow(1, 2, 5)", "L.zeros(2, 3).select(1, 5)",
    "L.zeros(2, 3).unflatten(1, (2, 2))", "L.zeros(2, 3).flatten(1, 0)", "L.zeros(2, 3).split([1, 2])", "L.zeros(2, 3).split([1, 2], 1)",
    "L.zeros(2, 3).repeat(2)", "L.zeros(2, 3).unfold(1, 5, 1)", "L.zeros(2, 3).diag_embed(0, 1, 1)",
    "L.zeros(2, 3)[5]", "L.zeros(2, 3)[0, 0, 0]", "L.zeros(2, 3).movedim((0, 1), (0,))",
    "L.stack([L.zeros(2), L.zeros(3)])", "L.zeros(2).unbind(3)", "L.tensor_split(L.zeros(()), 2)",
    "L.zeros(2, 3).index_select(0, L.zeros(2, 2, dtype=L.long))", "L.zeros(3).masked_fill(L.zeros(3), 1.)",
    "L.constant_pad_nd(L.zeros(2, 3), [-2, -2])", "L.constant_pad_nd(L.zeros(2, 3), [1])",
    "L.zeros(2, 2).as_strided((3, 3), (1, 1))", "L.rot90(L.zeros(2, 2), 1, (0, 0))",
    "L.zeros(3, 4).masked_select(L.zeros(2, dtype=L.bool))", "L.broadcast_shapes((2, 3), (4,))",
    "L.broadcast_tensors(L.zeros(2, 3), L.zeros(4))", "L.zeros(2, 3).tile((-1,))", "L.zeros(5).split(0)",
    "L.zeros(3).H", "L.zeros(3).mT", "L.zeros(2, 3, 4).H", "L.zeros(3).index_add(0, L.tensor([-1]), L.ones(1))",
    "L.zeros(3, requires_grad=True).resize_(4)", "L.signal.windows.hann(-1)", "L.signal.windows.gaussian(4, std=0)",
    "L.signal.windows.hann(4, dtype=L.int64)", "L.signal.windows.exponential(4, center=1.0)",
]


@pytest.mark.parametrize("expr", ERRORS)
def test_errors_like_torch(expr):
    res = []
    for L in (torch, funcgrad):
        try:
            eval(expr, {"L": L})
            res.append(None)
        except Exception as e:  # noqa: BLE001 - the class is what is compared
            res.append((type(e).__name__, str(e).split("\n")[0]))
    if res[0] is None:
        assert res[1] is None, f"torch accepted it, funcgrad raised {res[1]}"
        return
    assert res[1] is not None, f"funcgrad accepted it; torch raised {res[0]}"
    assert res[0][0] == res[1][0]
    assert res[0][1][:30] == res[1][1][:30], (res[0][1], res[1][1])


def test_errors_skipped_while_traced():
    """Out-of-range checks need the index values: inside funcgrad.compile they are skipped, not crashed."""
    x = funcgrad.arange(5.)

    @funcgrad.compile
    def f(x, i):
        return x.gather(0, i) * 2

    np.testing.assert_allclose(f(x, funcgrad.tensor([4, 0])).numpy(), [8., 0.])


# -- view semantics: storage, version counter, strides ---------------------------------------------------
VIEWS = ["x.view(6, 20)", "x.reshape(6, 20)", "x.transpose(0, 2)", "x.permute(3, 1, 0, 2)", "x[1]", "x[:, 1:3]",
         "x[..., ::2]", "x.unsqueeze(2)", "x[0, :1].squeeze(0)", "x.expand(3, 2, 3, 4, 5)", "x.narrow(2, 1, 2)",
         "x.select(3, 4)", "x.diagonal(0, 1, 2)", "x.unfold(3, 2, 2)", "x.movedim(0, -1)", "x.split(1, 1)[1]",
         "x.chunk(2, 3)[1]", "x.unbind(1)[2]", "x.flatten(1)", "x.unflatten(3, (1, 5))", "x.mT", "x.as_strided((2, 3), (7, 2), 3)",
         "x.transpose(1, 2).contiguous()", "x.transpose(1, 2).reshape(-1)", "x.transpose(1, 2).flatten()",
         "x.t() if x.dim() <= 2 else x[0, 0].t()", "x.tensor_split(3, 3)[1]", "x.swapaxes(0, 1)[:, 1]"]


@pytest.mark.parametrize("expr", VIEWS)
def test_view_semantics(expr):
    """Same values, node, is_contiguous(), stride(), storage_offset(), whether it is a view (``_base``), and an
    in-place edit of the result seen by the source (shared storage and version counter) exactly when torch's is."""
    res = []
    for L in (torch, funcgrad):
        x = L.tensor(A.copy())
        y = eval(expr, {"x": x})
        info = [tuple(y.shape), y.is_contiguous(), tuple(y.stride()), y.storage_offset(), y._base is not None]
        v0 = x._version
        try:
            y.mul_(-1)
        except RuntimeError as e:
            info.append(str(e)[:40])
        info += [x._version - v0, float(x.sum()), y._version]
        res.append(info)
    assert res[0] == res[1]


def test_version_counter_errors_through_views():
    for L in (torch, funcgrad):
        a = L.tensor(A[0, 0].copy(), requires_grad=True)
        b = a * 2
        v = b.t()
        c = b.sin()
        v.add_(1)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            c.sum().backward()


def test_view_of_view_writes_through_and_grads():
    res = []
    for L in (torch, funcgrad):
        a = L.tensor(A[0].copy(), requires_grad=True)
        b = a * 1
        v = b.transpose(0, 1)[1:3]
        v.mul_(2)
        (g,) = L.autograd.grad((b ** 2).sum(), a)
        res.append((b.detach().numpy().copy(), g.numpy(), node(b), node(v)))
    np.testing.assert_allclose(res[0][0], res[1][0])
    np.testing.assert_allclose(res[0][1], res[1][1])
    assert res[0][2:] == res[1][2:]


def test_reshape_of_noncontiguous_is_a_copy():
    for L in (torch, funcgrad):
        x = L.tensor(A[0].copy())
        y = x.transpose(0, 1).reshape(-1)
        y.zero_()
        assert float(x.sum()) == float(A[0].sum())


# -- in-place variants ---------------------------------------------------------------------------------
INPLACE = [
    "y.scatter_(1, L.tensor([[0, 1], [2, 0]]), 5.)", "y.scatter_add_(1, L.tensor([[0, 1], [2, 0]]), y[:2, :2] * 1)",
    "y.scatter_reduce_(1, L.tensor([[0, 1], [0, 0]]), y[:2, :2] * 3, 'amax')",
    "y.index_add_(0, L.tensor([1, 0, 1]), y * 2)", "y.index_copy_(1, L.tensor([2, 0]), y[:, :2] * 3)",
    "y.index_fill_(1, L.tensor([0, -1]), -2.)", "y.masked_fill_(y > 4, 0.)", "y.masked_scatter_(y > 4, y * 10)",
    "y.put_(L.tensor([0, 5]), L.tensor([9., 8.]))", "y.index_reduce_(0, L.tensor([1, 1, 0]), y * 2, 'prod')",
    "y.tril_(-1)", "y.triu_(1)", "y.fill_(3.)", "y.zero_()", "y.index_put_((L.tensor([0, 2]),), L.tensor(1.))",
    "y.scatter_(1, L.tensor([[0, 1], [2, 0]]), y[:, :2] * 2, reduce='add')",
]


@pytest.mark.parametrize("expr", INPLACE)
def test_inplace_variants(expr):
    res = []
    for L in (torch, funcgrad):
        x = L.tensor(np.arange(9, dtype=np.float32).reshape(3, 3) - 3, requires_grad=True)
        y = x * 1
        out = eval(expr, {"L": L, "y": y})
        assert out is y
        info = [y.detach().numpy().copy(), node(y), y._version]
        try:
            (g,) = L.autograd.grad((y * y).sum(), x)
            info.append(g.numpy())
        except RuntimeError as e:
            info.append(str(e)[:40])
        res.append(info)
    np.testing.assert_allclose(res[0][0], res[1][0])
    assert res[0][1:3] == res[1][1:3]
    if isinstance(res[0][3], str) or isinstance(res[1][3], str):
        assert str(res[0][3])[:20] == str(res[1][3])[:20]
    else:
        np.testing.assert_allclose(res[0][3], res[1][3], rtol=1e-6)


# -- edge points of gradients ----------------------------------------------------------------------------
GRAD_EDGES = [
    ("L.zeros(3).scatter_reduce(0, L.tensor([0, 0, 1]), x, 'amax')", [1., 1., 2.]),
    ("L.ones(3).scatter_reduce(0, L.tensor([0, 0, 1]), x, 'amin', include_self=False)", [0., 0., 2.]),
    ("L.ones(3).scatter_reduce(0, L.tensor([0, 0, 0]), x, 'prod')", [0., 2., 3.]),
    ("L.ones(3).scatter_reduce(0, L.tensor([0, 0, 0]), x, 'prod')", [0., 0., 3.]),
    ("L.full((3,), 2.).scatter_reduce(0, L.tensor([0, 0, 2]), x, 'mean', include_self=False)", [1., 2., 3.]),
    ("L.ones(2).index_reduce(0, L.tensor([0, 0, 1]), x, 'amax')", [1., 1., 0.5]),
    ("x.gather(0, L.tensor([0, 0, 2]))", [1., 2., 3.]),
    ("x.take_along_dim(L.tensor([-1, 0]), 0)", [1., 2., 3.]),
    ("L.constant_pad_nd(x, [-1, 2], 5.)", [1., 2., 3.]),
    ("x.as_strided((2, 2), (1, 1))", [1., 2., 3.]),
    ("x.unfold(0, 2, 1)", [1., 2., 3.]),
    ("x.repeat_interleave(L.tensor([2, 0, 1]))", [1., 2., 3.]),
]


@pytest.mark.parametrize("expr,data", GRAD_EDGES)
def test_gradient_edge_points(expr, data):
    res = []
    for L in (torch, funcgrad):
        x = L.tensor(data, requires_grad=True)
        y = eval(expr, {"L": L, "x": x})
        g = np.arange(1, 1 + int(np.prod(tuple(y.shape)))).reshape(tuple(y.shape)).astype(np.float32)
        (gx,) = L.autograd.grad(y, x, L.tensor(g))
        res.append((y.detach().numpy(), gx.numpy(), node(y)))
    np.testing.assert_allclose(res[0][0], res[1][0])
    np.testing.assert_allclose(res[0][1], res[1][1])
    assert res[0][2] == res[1][2]


def test_scatter_reduce_arg_is_honoured_and_not_differentiable():
    for L in (torch, funcgrad):
        x = L.ones(3, requires_grad=True)
        y = x.scatter(0, L.tensor([0, 0]), L.tensor([2., 3.]), reduce="multiply")
        np.testing.assert_allclose(y.detach().numpy(), [6., 1., 1.])
        with pytest.raises(RuntimeError, match="derivative for aten::scatter is not implemented"):
            y.sum().backward()


# -- creation and random --------------------------------------------------------------------------------
CREATION = ["L.arange(-3.5, 3.2, 1.7, dtype=L.int64)", "L.arange(-8.000001, -4.0, dtype=L.int64)",
            "L.linspace(-3, 50, 10, dtype=L.int64)", "L.logspace(1.2, 2, 5, dtype=L.int64)",
            "L.linspace(0, 1, 7)", "L.logspace(0, 2, 5, base=2.)", "L.scalar_tensor(3)",
            "L.scalar_tensor(3, dtype=L.int64)", "L.tril_indices(4, 3, -1)", "L.triu_indices(3, 5, 2)",
            "L.eye(3, 0)", "L.full((2,), 1.5, dtype=L.int64)", "L.nonzero(L.tensor(5.))", "L.nonzero(L.tensor(0.))",
            "L.argwhere(L.tensor([[0., 1], [2, 0]]))", "L.tensor([1.5, 2**64])",
            "L.zeros(3, 4).nonzero_static(size=2, fill_value=-7)", "L.signal.windows.hann(7, sym=False)",
            "L.signal.windows.gaussian(6, std=0.7)", "L.signal.windows.bartlett(1)", "L.signal.windows.nuttall(5)",
            "L.unravel_index(L.tensor([7, -1]), (3, 4))[1]", "L.combinations(L.tensor([1., 2, 3]), 2, True)"]


@pytest.mark.parametrize("expr", CREATION)
def test_creation_like_torch(expr):
    t, f = (eval(expr, {"L": L}) for L in (torch, funcgrad))
    assert tuple(t.shape) == tuple(f.shape)
    assert str(t.dtype) == str(f.dtype)
    np.testing.assert_allclose(t.numpy(), np.asarray(f.numpy()), rtol=1e-6)


SAMPLERS = [("uniform_", (2., 5.), 3.5, 0.75 ** 0.5), ("normal_", (1., 2.), 1., 2.), ("exponential_", (2.,), 0.5, 0.5),
            ("geometric_", (0.25,), 4., (0.75 / 0.25 ** 2) ** 0.5), ("log_normal_", (0., 0.5), np.exp(0.125), None),
            ("bernoulli_", (0.3,), 0.3, (0.21) ** 0.5), ("random_", (3, 8), 5., 2 ** 0.5)]


@pytest.mark.parametrize("name,args,mean,std", SAMPLERS)
def test_inplace_samplers_statistics(name, args, mean, std):
    """Values can't match torch's stream; dtype, shape, node and the distribution's moments must."""
    funcgrad.manual_seed(0)
    x = funcgrad.zeros(200_000)
    out = getattr(x, name)(*args)
    assert out is x and x.dtype is funcgrad.float32 and x._version == 1
    v = x.numpy()
    assert abs(v.mean() - mean) < 0.02 * max(1, abs(mean)) + 0.01
    if std is not None:
        assert abs(v.std() - std) < 0.03 * std + 0.01
    tx = torch.zeros(3, requires_grad=True).clone()
    fx = funcgrad.zeros(3, requires_grad=True).clone()
    assert node(getattr(tx, name)(*args)) == node(getattr(fx, name)(*args))


def test_random_factories_dtypes_and_shapes():
    for expr in ["L.randint(3, 9, (2, 3))", "L.randint(10, (5,), dtype=L.float32)", "L.rand_like(L.zeros(2, 2))",
                 "L.randn_like(L.zeros(2, dtype=L.float64))", "L.randint_like(L.zeros(4), 7)",
                 "L.normal(L.zeros(2, 3), 1.)", "L.normal(0., L.ones(4))", "L.normal(2., 3., (2, 2))",
                 "L.multinomial(L.tensor([[1., 2., 0.], [0., 1., 1.]]), 2)", "L.bernoulli(L.full((3,), 0.5))",
                 "L.empty_strided((2, 3), (1, 2))", "L.empty_permuted((2, 3, 4), (2, 0, 1))",
                 "L.zeros(2).new_empty_strided((3,), (1,))"]:
        t, f = (eval(expr, {"L": L}) for L in (torch, funcgrad))
        assert tuple(t.shape) == tuple(f.shape), expr
        assert str(t.dtype) == str(f.dtype), expr
    f = funcgrad.multinomial(funcgrad.tensor([[1., 2., 0.], [0., 1., 1.]]), 2).numpy()
    assert (f[0] != 2).all() and (f[1] != 0).all() and (f[:, 0] != f[:, 1]).all()
