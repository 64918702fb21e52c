"""Seed 002 (Japanese): loss grad_fn names, vector-Jacobian products, accumulation, no_grad, detach."""
from difftest import assert_same, run_cells

import funcgrad

CELLS = [
    """x = torch.ones(5)
y = torch.zeros(3)

w = torch.randn(5, 3, requires_grad=True)
b = torch.randn(3, requires_grad=True)

z = torch.matmul(x, w) + b
loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)""",
    """print(f'Gradient function for z = {z.grad_fn}')
print(f'Gradient function for loss = {loss.grad_fn}')

loss.backward()
print(w.grad)
print(b.grad)""",
    "loss.backward()",
    """z1 = torch.matmul(x, w) + b
print(z1.requires_grad)

with torch.no_grad():
    z2 = torch.matmul(x, w) + b
    print(z2.requires_grad)

z3 = torch.matmul(x, w) + b
z_det = z3.detach()
print(z_det.requires_grad)""",
    """inp = torch.eye(5, requires_grad=True)
out = (inp+1).pow(2)

out.backward(torch.ones_like(inp), retain_graph=True)
print("First call\\n", inp.grad)

out.backward(torch.ones_like(inp), retain_graph=True)
print("\\nSecond call\\n", inp.grad)

inp.grad.zero_()

out.backward(torch.ones_like(inp), retain_graph=True)
print("\\nCall after zeroing gradients\\n", inp.grad)""",
    "out.backward()",
    "out.backward(torch.ones_like(inp))",
]


def test_seed_002_matches_torch():
    assert_same(CELLS)


def test_seed_002_jacobian_rows_accumulate():
    out, _ = run_cells(CELLS, funcgrad)
    assert "tensor([[4., 2., 2., 2., 2.]," in out[4]["stdout"]
    assert "tensor([[8., 4., 4., 4., 4.]," in out[4]["stdout"]
    assert out[2]["error"][0] == "RuntimeError"
    assert "<BinaryCrossEntropyWithLogitsBackward0 object at" in out[1]["stdout"]
