"""nn.functional activations/losses/norms and their modules against torch: gradients at edge points
(where a naive jax.vjp gives NaN or another subgradient), forward-mode AD there, module reprs and
state_dict keys."""
import math

import numpy as np
import pytest
import torch
import torch.autograd.forward_ad as tfwd

import funcgrad
import funcgrad.autograd.forward_ad as ffwd


def _pair(values, dtype="float64"):
    a = np.asarray(values, dtype=dtype)
    return (torch.tensor(a, requires_grad=True), funcgrad.tensor(a, requires_grad=True))


def _np(t):
    return t.detach().numpy()


def _check(tf, ff, inputs, rtol=1e-6, atol=1e-8, fwd=True):
    """Same value, grad_fn name, gradients (seeded cotangent) and forward-mode tangents."""
    tx = [t for t, _ in inputs]
    fx = [f for _, f in inputs]
    ty, fy = tf(*tx), ff(*fx)
    np.testing.assert_allclose(_np(fy), _np(ty), rtol=rtol, atol=atol, equal_nan=True)
    assert fy.grad_fn.name() == type(ty.grad_fn).__name__
    cot = np.random.default_rng(0).standard_normal(tuple(ty.shape))
    tg = torch.autograd.grad(ty, tx, torch.tensor(cot), allow_unused=True)
    fg = funcgrad.autograd.grad(fy, fx, funcgrad.tensor(cot), allow_unused=True)
    for a, b in zip(tg, fg):
        if a is None:
            assert b is None or not np.any(_np(b))
            continue
        np.testing.assert_allclose(_np(b), _np(a), rtol=rtol, atol=atol, equal_nan=True)
    if not fwd:
        return
    tan = [np.random.default_rng(i + 1).standard_normal(tuple(t.shape)) for i, t in enumerate(tx)]
    with tfwd.dual_level():
        to = tf(*[tfwd.make_dual(t.detach(), torch.tensor(d)) for t, d in zip(tx, tan)])
        tt = tfwd.unpack_dual(to).tangent
    with ffwd.dual_level():
        fo = ff(*[ffwd.make_dual(f.detach(), funcgrad.tensor(d)) for f, d in zip(fx, tan)])
        ft = ffwd.unpack_dual(fo).tangent
    np.testing.assert_allclose(_np(ft), _np(tt), rtol=rtol, atol=atol, equal_nan=True)


EDGE = [-1e4, -300.0, -20.0, -3.0, -1.0, -0.5, 0.0, 0.5, 1.0, 3.0, 20.0, 300.0, 1e4]

ACTIVATIONS = {
    "softplus": lambda F: (lambda x: F.softplus(x)),
    "softplus_beta": lambda F: (lambda x: F.softplus(x, beta=2.0, threshold=5.0)),
    "elu": lambda F: (lambda x: F.elu(x, 0.7)),
    "celu": lambda F: (lambda x: F.celu(x, 2.0)),
    "selu": lambda F: F.selu,
    "hardswish": lambda F: F.hardswish,
    "hardsigmoid": lambda F: F.hardsigmoid,
    "hardshrink": lambda F: (lambda x: F.hardshrink(x, 0.5)),
    "softshrink": lambda F: (lambda x: F.softshrink(x, 0.5)),
    "threshold": lambda F: (lambda x: F.threshold(x, 0.5, -2.0)),
    "logsigmoid": lambda F: F.logsigmoid,
    "mish": lambda F: F.mish,
    "silu": lambda F: F.silu,
    "softsign": lambda F: F.softsign,
    "tanhshrink": lambda F: F.tanhshrink,
    "relu6": lambda F: F.relu6,
    "hardtanh": lambda F: F.hardtanh,
    "leaky_relu": lambda F: (lambda x: F.leaky_relu(x, 0.1)),
    "rrelu_eval": lambda F: (lambda x: F.rrelu(x, 0.1, 0.3, training=False)),
}


@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
def test_activation_edges(name):
    """Large inputs and kinks: torch's values and gradients (no NaN from an overflowing branch)."""
    _check(ACTIVATIONS[name](torch.nn.functional), ACTIVATIONS[name](funcgrad.nn.functional), [_pair(EDGE)])


def test_prelu_kink_and_weight_grad():
    """At x == 0 torch's backward takes the weight's slope but its forward-mode formula passes the
    whole tangent; one JAX derivative serves both, so funcgrad follows the backward there."""
    x, w = _pair([-2.0, 0.0, 3.0]), _pair([0.25])
    _check(lambda a, b: torch.nn.functional.prelu(a, b), lambda a, b: funcgrad.nn.functional.prelu(a, b), [x, w],
           fwd=False)
    x, w = _pair([-2.0, 0.5, 3.0]), _pair([0.25])
    _check(lambda a, b: torch.nn.functional.prelu(a, b), lambda a, b: funcgrad.nn.functional.prelu(a, b), [x, w])


def test_glu_and_softmin():
    x = _pair(np.linspace(-3, 3, 12).reshape(3, 4))
    _check(lambda a: torch.nn.functional.glu(a, 1), lambda a: funcgrad.nn.functional.glu(a, 1), [x])
    _check(lambda a: torch.nn.functional.softmin(a, 0), lambda a: funcgrad.nn.functional.softmin(a, 0), [x])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_at_zero_and_one(reduction):
    """torch clamps the log at -100 and its gradient divides by max(x(1-x), 1e-12): finite, no NaN."""
    x = _pair([0.0, 1.0, 0.0, 1.0, 0.3])
    y = _pair([0.0, 0.0, 1.0, 1.0, 0.5])
    _check(lambda a, b: torch.nn.functional.binary_cross_entropy(a, b, reduction=reduction),
           lambda a, b: funcgrad.nn.functional.binary_cross_entropy(a, b, reduction=reduction), [x, y], rtol=1e-6)


def test_cross_entropy_every_target_ignored():
    """Mean over no targets: NaN value (0/0) as torch, but a zero gradient, not NaN."""
    logits = _pair(np.random.default_rng(0).standard_normal((3, 4)))
    t = np.array([-100, -100, -100])
    _check(lambda a: torch.nn.functional.cross_entropy(a, torch.tensor(t)),
           lambda a: funcgrad.nn.functional.cross_entropy(a, funcgrad.tensor(t)), [logits], fwd=False)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_probability_targets_4d(reduction):
    """Class-probability targets of (N, C, H, W) input: 'mean' divides by N*H*W, as torch."""
    rng = np.random.default_rng(1)
    x = _pair(rng.standard_normal((2, 3, 2, 2)))
    p = rng.random((2, 3, 2, 2))
    p = p / p.sum(1, keepdims=True)
    _check(lambda a: torch.nn.functional.cross_entropy(a, torch.tensor(p), reduction=reduction),
           lambda a: funcgrad.nn.functional.cross_entropy(a, funcgrad.tensor(p), reduction=reduction), [x])


def test_nll_loss_2d_node():
    rng = np.random.default_rng(2)
    x = _pair(rng.standard_normal((2, 3, 2, 2)))
    t = rng.integers(0, 3, (2, 2, 2))
    _check(lambda a: torch.nn.functional.nll_loss(a, torch.tensor(t)),
           lambda a: funcgrad.nn.functional.nll_loss(a, funcgrad.tensor(t)), [x])


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, math.inf])
def test_distances_at_zero(p):
    """Coincident points: torch's subgradient 0, not NaN."""
    a = np.array([[0.0, 1.0], [0.0, 1.0], [2.0, -1.0]])
    # torch has no forward-mode AD for pdist/cdist
    if p != 0.0:
        _check(lambda x: torch.nn.functional.pdist(x, p), lambda x: funcgrad.nn.functional.pdist(x, p), [_pair(a)],
               fwd=False)
    _check(lambda x, y: torch.cdist(x, y, p, compute_mode="donot_use_mm_for_euclid_dist"),
           lambda x, y: funcgrad.cdist(x, y, p, compute_mode="donot_use_mm_for_euclid_dist"),
           [_pair(a), _pair(a[::-1].copy())], fwd=False)
    _check(lambda x, y: torch.nn.functional.pairwise_distance(x, y, p, eps=0.0),
           lambda x, y: funcgrad.nn.functional.pairwise_distance(x, y, p, eps=0.0), [_pair(a), _pair(a)])


def test_losses_match():
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((4, 5)), rng.standard_normal((4, 5))
    cls = rng.integers(0, 5, (4,))
    sign = np.array([1.0, -1.0, 1.0, -1.0])
    T, F = torch.nn.functional, funcgrad.nn.functional

    def both(fn_name, *extra, **kw):
        return (lambda *a: getattr(T, fn_name)(*a, *[torch.tensor(e) for e in extra], **kw),
                lambda *a: getattr(F, fn_name)(*a, *[funcgrad.tensor(e) for e in extra], **kw))

    cases = [
        (both("soft_margin_loss", np.sign(y)), [_pair(x)]),
        (both("multi_margin_loss", cls, p=2, margin=0.7), [_pair(x)]),
        (both("multilabel_soft_margin_loss", (y > 0).astype(float)), [_pair(x)]),
        (both("hinge_embedding_loss", np.sign(y), margin=0.5), [_pair(x)]),
        (both("poisson_nll_loss", np.abs(y) * 3, full=True), [_pair(x)]),
        (both("gaussian_nll_loss", y, np.abs(y) + 0.1, full=True), [_pair(x)]),
        (both("cosine_embedding_loss", sign, margin=0.2), [_pair(x), _pair(y)]),
        (both("margin_ranking_loss", np.sign(y), margin=0.1), [_pair(x), _pair(y)]),
        (both("triplet_margin_loss", swap=True), [_pair(x), _pair(y), _pair(x[::-1].copy())]),
    ]
    for (tf, ff), ins in cases:
        _check(tf, ff, ins, fwd=False)


def test_multilabel_margin_loss():
    x = _pair(np.random.default_rng(4).standard_normal((2, 4)))
    t = np.array([[3, 0, -1, 1], [1, 2, 3, -1]])
    _check(lambda a: torch.nn.functional.multilabel_margin_loss(a, torch.tensor(t)),
           lambda a: funcgrad.nn.functional.multilabel_margin_loss(a, funcgrad.tensor(t)), [x], fwd=False)


def test_ctc_loss():
    rng = np.random.default_rng(5)
    lp = np.log(rng.dirichlet(np.ones(5), size=(7, 2)))
    tg = np.array([[1, 2, 2], [3, 1, 0]])
    il, tl = [7, 6], [3, 2]
    for red in ("none", "mean", "sum"):
        _check(lambda a: torch.nn.functional.ctc_loss(a, torch.tensor(tg), il, tl, reduction=red),
               lambda a: funcgrad.nn.functional.ctc_loss(a, funcgrad.tensor(tg), il, tl, reduction=red),
               [_pair(lp)], rtol=1e-5, atol=1e-7, fwd=False)


def test_norms():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((2, 4, 3))
    w, b = rng.standard_normal(4), rng.standard_normal(4)
    T, F = torch.nn.functional, funcgrad.nn.functional
    _check(lambda a, c, d: T.group_norm(a, 2, c, d), lambda a, c, d: F.group_norm(a, 2, c, d),
           [_pair(x), _pair(w), _pair(b)])
    _check(lambda a: T.instance_norm(a), lambda a: F.instance_norm(a), [_pair(x)])
    _check(lambda a: T.rms_norm(a, (3,)), lambda a: F.rms_norm(a, (3,)), [_pair(x)])
    _check(lambda a: T.local_response_norm(a, 3), lambda a: F.local_response_norm(a, 3), [_pair(x)])


MODULES = [
    "ELU(alpha=0.5, inplace=True)", "CELU()", "SELU()", "GLU(0)", "GELU('tanh')", "Hardshrink(0.3)",
    "Hardsigmoid()", "Hardswish()", "Hardtanh(-2.0, 2.0)", "LeakyReLU(0.2)", "LogSigmoid()", "Mish()", "PReLU(3)",
    "ReLU(inplace=True)", "ReLU6()", "RReLU(0.1, 0.3)", "SiLU()", "Softmin(1)", "Softmax(0)", "Softmax2d()",
    "LogSoftmax(1)", "Softplus(2.0, 10.0)", "Softshrink()", "Softsign()", "Tanhshrink()", "Threshold(0.1, 20.0)",
    "GroupNorm(2, 4)", "GroupNorm(2, 4, affine=False)", "InstanceNorm1d(3)",
    "InstanceNorm2d(3, affine=True, track_running_stats=True)", "InstanceNorm3d(2)", "RMSNorm([3, 4])",
    "LocalResponseNorm(2)", "BatchNorm3d(3)", "LayerNorm(4, bias=False)", "EmbeddingBag(10, 3, mode='sum')",
    "Identity(3, unused=1)", "Bilinear(2, 3, 4)", "Unflatten(1, (2, 3))", "Dropout1d(0.2)", "Dropout2d()",
    "Dropout3d(inplace=True)", "AlphaDropout(0.1)", "FeatureAlphaDropout()", "CosineSimilarity(0)",
    "PairwiseDistance(1.0)", "CTCLoss(blank=1)", "GaussianNLLLoss(full=True)", "PoissonNLLLoss(False)",
    "MarginRankingLoss(0.5)", "HingeEmbeddingLoss()", "CosineEmbeddingLoss()", "MultiMarginLoss(p=2)",
    "MultiLabelMarginLoss()", "MultiLabelSoftMarginLoss()", "SoftMarginLoss()", "TripletMarginLoss(swap=True)",
    "TripletMarginWithDistanceLoss(margin=2.0)", "NLLLoss2d()", "LinearCrossEntropyLoss(4, 3, out_features=(2,))",
    "LinearCrossEntropyLoss(4, 3, bias=True, label_smoothing=0.1)", "BatchNorm1d(3, affine=False)",
]


@pytest.mark.parametrize("expr", MODULES)
def test_module_repr_and_state(expr):
    tm = eval("torch.nn." + expr)
    fm = eval("funcgrad.nn." + expr)
    assert repr(fm) == repr(tm)
    assert list(fm.state_dict().keys()) == list(tm.state_dict().keys())
    for (k, a), b in zip(tm.state_dict().items(), fm.state_dict().values()):
        assert tuple(a.shape) == tuple(b.shape), k


def test_module_forward_matches():
    rng = np.random.default_rng(7)
    x = rng.standard_normal((2, 4, 3, 3)).astype(np.float32)
    for expr in ["PReLU(4)", "GroupNorm(2, 4)", "InstanceNorm2d(4, affine=True)", "LocalResponseNorm(3)",
                 "Softmax2d()", "CELU(0.5)", "Hardswish()"]:
        tm = eval("torch.nn." + expr)
        fm = eval("funcgrad.nn." + expr)
        fm.load_state_dict({k: funcgrad.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
        np.testing.assert_allclose(_np(fm(funcgrad.tensor(x))), _np(tm(torch.tensor(x))), rtol=1e-5, atol=1e-6)


INPLACE = {
    "elu": lambda F, y: F.elu(y, inplace=True), "celu": lambda F, y: F.celu(y, inplace=True),
    "selu": lambda F, y: F.selu(y, inplace=True), "leaky_relu": lambda F, y: F.leaky_relu(y, inplace=True),
    "hardtanh": lambda F, y: F.hardtanh(y, inplace=True), "threshold": lambda F, y: F.threshold(y, 0.1, 0.0, True),
    "rrelu": lambda F, y: F.rrelu(y, inplace=True), "silu": lambda F, y: F.silu(y, inplace=True),
    "hardswish": lambda F, y: F.hardswish(y, inplace=True), "relu6": lambda F, y: F.relu6(y, inplace=True),
}


@pytest.mark.parametrize("name", sorted(INPLACE))
def test_inplace_activation_nodes(name):
    """In place, several of torch's nodes are the ``...Backward1`` formulas that read the result."""
    t, f = _pair([-2.0, -0.5, 0.3, 2.0])
    to = INPLACE[name](torch.nn.functional, t * 1)
    fo = INPLACE[name](funcgrad.nn.functional, f * 1)
    assert fo.grad_fn.name() == type(to.grad_fn).__name__
    np.testing.assert_allclose(_np(fo), _np(to), rtol=1e-6)
    to.sum().backward()
    fo.sum().backward()
    np.testing.assert_allclose(_np(f.grad), _np(t.grad), rtol=1e-6)
