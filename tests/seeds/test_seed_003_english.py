"""Seed 003 (English): autograd tutorial cells and the two-layer MLP trained by hand and by autograd."""
from difftest import assert_same, run_cells

import funcgrad

AUTOGRAD = [
    "x = torch.ones(2, 2, requires_grad=True)\nprint(x)",
    "y = x + 2\nprint(y)",
    "print(y.grad_fn)",
    "z = y * y * 3\nout = z.mean()\n\nprint(z, out)",
    """a = torch.randn(2, 2)
a = ((a * 3) / (a - 1))
print(a.requires_grad)
a.requires_grad_(True)
print(a.requires_grad)
b = (a * a).sum()
print(b.grad_fn)""",
    "out.backward()",
    "print(x.grad)",
    "x.data",
    "out.grad",
    "out.retain_grad()\n\nout.backward()",
    "y = x + 2\nz = y * y * 3\nout = z.mean()\n\nout.retain_grad()\n\nout.backward(create_graph=True, retain_graph=True)",
    "x.grad",
    "x.grad.zero_()\nx.grad",
    "out.backward()",
    "x.grad",
    "out.grad",
    "y.grad",
    "print(x.requires_grad)\nprint((x ** 2).requires_grad)\n\nwith torch.no_grad():\n    print((x ** 2).requires_grad)",
    "print(x.requires_grad)\ny = x.detach()\nprint(y.requires_grad)\nprint(x.eq(y).all())",
]

SETUP = """dtype = torch.float
device = torch.device("cpu")
N, D_in, H, D_out = 64, 1000, 100, 10
x = torch.randn(N, D_in, device=device, dtype=dtype)
y = torch.randn(N, D_out, device=device, dtype=dtype)
"""

MANUAL = [SETUP + """w1 = torch.randn(D_in, H, device=device, dtype=dtype)
w2 = torch.randn(H, D_out, device=device, dtype=dtype)
learning_rate = 1e-6""", """for t in range(500):
    h = x.mm(w1)  # x * w
    h_relu = h.clamp(min=0)
    y_pred = h_relu.mm(w2)
    loss = (y_pred - y).pow(2).sum().item()
    if t % 50 == 0:
        print(t, loss)
    grad_y_pred = 2.0 * (y_pred - y)
    grad_w2 = h_relu.t().mm(grad_y_pred)
    grad_h_relu = grad_y_pred.mm(w2.t())
    grad_h = grad_h_relu.clone()
    grad_h[h < 0] = 0
    grad_w1 = x.t().mm(grad_h)
    w1 -= learning_rate * grad_w1
    w2 -= learning_rate * grad_w2
print('Final Loss: ', loss)"""]

AUTOGRAD_MLP = [SETUP + """w1 = torch.randn(D_in, H, device=device, dtype=dtype, requires_grad=True)
w2 = torch.randn(H, D_out, device=device, dtype=dtype, requires_grad=True)""", """learning_rate = 1e-6
for t in range(500):
    y_pred = x.mm(w1).clamp(min=0).mm(w2)
    loss = (y_pred - y).pow(2).sum()
    if t % 50 == 0:
        print(t, loss.item())
    loss.backward()
    with torch.no_grad():
        w1 -= learning_rate * w1.grad
        w2 -= learning_rate * w2.grad
        w1.grad.zero_()
        w2.grad.zero_()""", "y_pred.grad_fn, loss.grad_fn, w1.is_leaf, w1.grad.shape"]


def test_seed_003_autograd_cells_match_torch():
    assert_same(AUTOGRAD)


def test_seed_003_autograd_values():
    out, _ = run_cells(AUTOGRAD, funcgrad)
    assert out[6]["stdout"] == "tensor([[4.5000, 4.5000],\n        [4.5000, 4.5000]])\n"
    assert out[9]["error"][0] == "RuntimeError"
    assert out[11]["value"] == "tensor([[9., 9.],\n        [9., 9.]], grad_fn=<AddBackward0>)"
    assert out[15]["value"] == "tensor(2.)"


def test_seed_003_manual_mlp_matches_torch():
    # 500 float32 steps: XLA and torch sum in different orders, so losses agree to ~1e-3 relative
    ref, got = assert_same(MANUAL, rtol=2e-3, atol=1e-3)
    assert got[1]["stdout"].startswith("0 ")


def test_seed_003_autograd_mlp_matches_torch():
    ref, got = assert_same(AUTOGRAD_MLP, rtol=2e-3, atol=1e-3)
    losses = [float(line.split()[1]) for line in got[1]["stdout"].splitlines()]
    assert losses[-1] < losses[0] * 1e-3
