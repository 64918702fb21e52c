"""funcgrad.nn against torch.nn: same weights, same inputs -> same outputs, grads, node names, reprs, errors."""
import numpy as np
import pytest
import torch

import funcgrad

RNG = np.random.default_rng(0)


def twin(make):
    """The same module in both libraries, funcgrad's weights copied from torch's."""
    torch.manual_seed(0)
    tm = make(torch)
    fm = make(funcgrad)
    fm.load_state_dict({k: funcgrad.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return tm, fm


MODULES = {
    "linear": (lambda L: L.nn.Linear(4, 3), (5, 4)),
    "linear_3d": (lambda L: L.nn.Linear(4, 3), (2, 5, 4)),
    "linear_nobias": (lambda L: L.nn.Linear(4, 3, bias=False), (5, 4)),
    "mlp": (lambda L: L.nn.Sequential(L.nn.Linear(4, 8), L.nn.ReLU(), L.nn.Linear(8, 2), L.nn.Tanh()), (5, 4)),
    "gelu_sigmoid": (lambda L: L.nn.Sequential(L.nn.GELU(), L.nn.Sigmoid()), (3, 4)),
    "gelu_tanh": (lambda L: L.nn.GELU(approximate="tanh"), (3, 4)),
    "leaky": (lambda L: L.nn.LeakyReLU(0.2), (3, 4)),
    "elu_silu": (lambda L: L.nn.Sequential(L.nn.ELU(), L.nn.SiLU()), (3, 4)),
    "softplus": (lambda L: L.nn.Softplus(beta=2.0), (3, 4)),
    "softmax": (lambda L: L.nn.Softmax(dim=1), (3, 4)),
    "logsoftmax": (lambda L: L.nn.LogSoftmax(dim=-1), (3, 4)),
    "layernorm": (lambda L: L.nn.LayerNorm(4), (3, 4)),
    "batchnorm1d": (lambda L: L.nn.BatchNorm1d(4), (6, 4)),
    "batchnorm2d": (lambda L: L.nn.BatchNorm2d(2), (3, 2, 4, 4)),
    "conv2d": (lambda L: L.nn.Conv2d(2, 3, 3, padding=1), (2, 2, 5, 5)),
    "conv2d_stride_groups": (lambda L: L.nn.Conv2d(4, 4, 3, stride=2, groups=2), (1, 4, 7, 7)),
    "maxpool": (lambda L: L.nn.MaxPool2d(2), (1, 2, 4, 4)),
    "avgpool": (lambda L: L.nn.AvgPool2d(2, stride=1), (1, 2, 4, 4)),
    "flatten": (lambda L: L.nn.Flatten(), (2, 3, 4)),
    "hardtanh": (lambda L: L.nn.Hardtanh(), (3, 4)),
}


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_matches_torch(name):
    make, shape = MODULES[name]
    tm, fm = twin(make)
    x = RNG.standard_normal(shape).astype(np.float32)
    tx = torch.tensor(x, requires_grad=True)
    fx = funcgrad.tensor(x, requires_grad=True)
    to, fo = tm(tx), fm(fx)
    np.testing.assert_allclose(fo.detach().numpy(), to.detach().numpy(), rtol=1e-5, atol=1e-5)
    assert type(fo.grad_fn).__name__ == type(to.grad_fn).__name__
    g = RNG.standard_normal(tuple(to.shape)).astype(np.float32)
    to.backward(torch.tensor(g))
    fo.backward(funcgrad.tensor(g))
    np.testing.assert_allclose(fx.grad.numpy(), tx.grad.numpy(), rtol=1e-4, atol=1e-5)
    for (tn, tp), (fn, fp) in zip(tm.named_parameters(), fm.named_parameters()):
        assert tn == fn
        np.testing.assert_allclose(fp.grad.numpy(), tp.grad.numpy(), rtol=1e-4, atol=1e-4)
    for (tn, tb), (fn, fb) in zip(tm.named_buffers(), fm.named_buffers()):
        assert tn == fn
        np.testing.assert_allclose(np.asarray(fb.tolist()), np.asarray(tb.tolist()), rtol=1e-5, atol=1e-6)
    assert repr(fm) == repr(tm)


def test_batchnorm_eval_uses_running_stats():
    tm, fm = twin(lambda L: L.nn.BatchNorm1d(3))
    x = RNG.standard_normal((8, 3)).astype(np.float32)
    for _ in range(3):
        tm(torch.tensor(x))
        fm(funcgrad.tensor(x))
    tm.eval()
    fm.eval()
    np.testing.assert_allclose(fm(funcgrad.tensor(x)).detach().numpy(), tm(torch.tensor(x)).detach().numpy(),
                               rtol=1e-5, atol=1e-6)


def test_dropout_train_and_eval():
    d = funcgrad.nn.Dropout(0.5)
    x = funcgrad.ones(1000)
    y = d(x)
    vals = set(np.unique(y.numpy()).tolist())
    assert vals <= {0.0, 2.0} and 300 < int((y == 0).sum()) < 700
    d.eval()
    assert d(x) is x
    assert repr(d) == repr(torch.nn.Dropout(0.5))


def test_embedding_matches_torch():
    tm, fm = twin(lambda L: L.nn.Embedding(10, 3, padding_idx=0))
    idx = np.array([[1, 0, 3], [9, 9, 2]])
    to, fo = tm(torch.tensor(idx)), fm(funcgrad.tensor(idx))
    np.testing.assert_allclose(fo.detach().numpy(), to.detach().numpy())
    assert type(fo.grad_fn).__name__ == type(to.grad_fn).__name__ == "EmbeddingBackward0"
    to.sum().backward()
    fo.sum().backward()
    np.testing.assert_allclose(fm.weight.grad.numpy(), tm.weight.grad.numpy())
    with pytest.raises(IndexError, match="index out of range in self"):
        fm(funcgrad.tensor([10]))


LOSSES = {
    "mse": lambda L, x, y, t: L.nn.MSELoss(reduction=R)(x, y),
    "l1": lambda L, x, y, t: L.nn.L1Loss(reduction=R)(x, y),
    "huber": lambda L, x, y, t: L.nn.HuberLoss(reduction=R, delta=0.5)(x, y),
    "smooth_l1": lambda L, x, y, t: L.nn.SmoothL1Loss(reduction=R, beta=0.5)(x, y),
    "bce": lambda L, x, y, t: L.nn.BCELoss(reduction=R)(x.sigmoid(), y.sigmoid()),
    "bce_logits_pos_weight": lambda L, x, y, t: L.nn.BCEWithLogitsLoss(reduction=R, pos_weight=L.ones(4) * 2)(
        x, y.sigmoid()),
    "ce_indices": lambda L, x, y, t: L.nn.CrossEntropyLoss(reduction=R)(x, t),
    "ce_weight_ignore": lambda L, x, y, t: L.nn.CrossEntropyLoss(weight=L.tensor([1., 2., 0.5, 1.]),
                                                                 ignore_index=1, reduction=R)(x, t),
    "ce_label_smoothing": lambda L, x, y, t: L.nn.CrossEntropyLoss(label_smoothing=0.1, reduction=R)(x, t),
    "ce_probs": lambda L, x, y, t: L.nn.CrossEntropyLoss(reduction=R)(x, y.softmax(1)),
    "nll": lambda L, x, y, t: L.nn.NLLLoss(reduction=R)(x.log_softmax(1), t),
    "kl_batchmean": lambda L, x, y, t: L.nn.KLDivLoss(reduction="batchmean" if R == "mean" else R)(
        x.log_softmax(1), y.softmax(1)),
}
R = "mean"


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_loss_matches_torch(name, reduction):
    global R
    R = reduction
    x = RNG.standard_normal((5, 4)).astype(np.float32)
    y = RNG.standard_normal((5, 4)).astype(np.float32)
    t = np.array([0, 3, 1, 2, 1])
    outs = []
    for lib in (torch, funcgrad):
        xt, yt = lib.tensor(x, requires_grad=True), lib.tensor(y, requires_grad=True)
        out = LOSSES[name](lib, xt, yt, lib.tensor(t))
        (out.sum() if out.dim() else out).backward()
        outs.append((out, xt.grad, yt.grad))
    (to, tgx, tgy), (fo, fgx, fgy) = outs
    np.testing.assert_allclose(fo.detach().numpy(), to.detach().numpy(), rtol=1e-5, atol=1e-6)
    assert type(fo.grad_fn).__name__ == type(to.grad_fn).__name__
    np.testing.assert_allclose(fgx.numpy(), tgx.numpy(), rtol=1e-4, atol=1e-6)
    assert (fgy is None) == (tgy is None)
    if tgy is not None:
        np.testing.assert_allclose(fgy.numpy(), tgy.numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("call", [
    "L.nn.functional.cross_entropy(L.ones(2, 3), L.tensor([0, 3]))",
    "L.nn.functional.cross_entropy(L.ones(2, 3), L.tensor([0, 1, 2]))",
    "L.nn.functional.nll_loss(L.ones(2, 3), L.tensor([0., 1.]))",
    "L.nn.functional.binary_cross_entropy(L.ones(3) * 2, L.ones(3))",
    "L.nn.functional.binary_cross_entropy_with_logits(L.ones(3), L.ones(2))",
    "L.nn.MSELoss(reduction='bogus')(L.ones(2), L.ones(2))",
    "L.nn.Linear(3, 2)(L.ones(4, 5))",
    "L.nn.functional.softmax(L.ones(2, 3), dim=3)",
])
def test_loss_and_layer_errors_match_torch(call):
    errs = []
    for L in (torch, funcgrad):
        try:
            eval(call)
            errs.append(None)
        except Exception as e:  # noqa: BLE001
            errs.append((type(e).__name__, str(e)))
    assert errs[0] is not None and errs[1] is not None, errs
    assert errs[0][0] == errs[1][0], errs
    key = errs[0][1].split("(")[0][:40]
    assert key in errs[1][1], errs


def test_module_api():
    class Net(funcgrad.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = funcgrad.nn.Linear(3, 2)
            self.register_buffer("scale", funcgrad.ones(2))
            self.blocks = funcgrad.nn.ModuleList([funcgrad.nn.ReLU(), funcgrad.nn.Tanh()])

        def forward(self, x):
            y = self.fc(x) * self.scale
            for b in self.blocks:
                y = b(y)
            return y

    net = Net()
    assert [n for n, _ in net.named_parameters()] == ["fc.weight", "fc.bias"]
    assert list(net.state_dict()) == ["scale", "fc.weight", "fc.bias"]  # own buffers before children, as torch
    assert [type(m).__name__ for m in net.modules()] == ["Net", "Linear", "ModuleList", "ReLU", "Tanh"]
    net.eval()
    assert not net.training and not net.fc.training
    calls = []
    h = net.register_forward_hook(lambda m, a, o: calls.append(tuple(o.shape)))
    net(funcgrad.ones(4, 3)).sum().backward()
    h.remove()
    net(funcgrad.ones(1, 3))
    assert calls == [(4, 2)]
    assert net.fc.weight.grad is not None
    net.zero_grad()
    assert net.fc.weight.grad is None
    with pytest.raises(RuntimeError, match='Missing key\\(s\\) in state_dict: "scale"'):
        net.load_state_dict({"fc.weight": funcgrad.ones(2, 3), "fc.bias": funcgrad.ones(2)})
    r = net.load_state_dict({"fc.weight": funcgrad.ones(2, 3), "fc.bias": funcgrad.ones(2)}, strict=False)
    assert r.missing_keys == ["scale"] and net.fc.weight.tolist() == [[1.0] * 3] * 2
    with pytest.raises(RuntimeError, match="size mismatch for fc.bias"):
        net.load_state_dict({"fc.weight": funcgrad.ones(2, 3), "fc.bias": funcgrad.ones(3), "scale": funcgrad.ones(2)})
    net.double()
    assert net.fc.weight.dtype == funcgrad.float64 and isinstance(net.fc.weight, funcgrad.nn.Parameter)
    p = funcgrad.nn.Parameter(funcgrad.ones(2))
    assert repr(p) == repr(torch.nn.Parameter(torch.ones(2)))


def test_init_statistics():
    w = funcgrad.empty(400, 300)
    funcgrad.nn.init.kaiming_uniform_(w, a=0, nonlinearity="relu")
    bound = np.sqrt(6 / 300)
    a = w.numpy()
    assert a.min() >= -bound and a.max() <= bound and abs(a.std() - bound / np.sqrt(3)) < 0.01 * bound
    funcgrad.nn.init.xavier_normal_(w)
    assert abs(w.numpy().std() - np.sqrt(2 / 700)) < 0.02 * np.sqrt(2 / 700)
    funcgrad.nn.init.normal_(w, 1.0, 0.5)
    assert abs(w.numpy().mean() - 1.0) < 0.01 and abs(w.numpy().std() - 0.5) < 0.01
    funcgrad.nn.init.trunc_normal_(w, std=1.0, a=-1.0, b=1.0)
    assert w.numpy().min() >= -1 and w.numpy().max() <= 1
    funcgrad.nn.init.constant_(w, 0.25)
    assert (w == 0.25).all()
    assert funcgrad.nn.init.calculate_gain("leaky_relu", 0.2) == torch.nn.init.calculate_gain("leaky_relu", 0.2)
    assert not w.requires_grad


def test_clip_grad_matches_torch():
    res = []
    for L in (torch, funcgrad):
        a = L.tensor([3.0, 4.0], requires_grad=True)
        b = L.tensor([[1.0, -2.0]], requires_grad=True)
        ((a * a).sum() + (b * 3).sum()).backward()
        n = L.nn.utils.clip_grad_norm_([a, b], 1.0)
        L.nn.utils.clip_grad_value_([b], 0.5)
        res.append((n.item(), a.grad.tolist(), b.grad.tolist(),
                    L.nn.utils.parameters_to_vector([a, b]).tolist()))
    np.testing.assert_allclose(np.array(res[1][0]), np.array(res[0][0]), rtol=1e-6)
    for x, y in zip(res[0][1:], res[1][1:]):
        np.testing.assert_allclose(np.array(y), np.array(x), rtol=1e-5)
