"""Seed 000 (Czech): leaves, grad_fn, next_functions, accumulation, retain_grad, diamond graphs."""
from difftest import assert_same, run_cells

import funcgrad

CELLS = [
    "u = torch.tensor(2., requires_grad=True)\nu",
    "v = torch.tensor(3., requires_grad=True)\nv",
    "w = u * v\nw, w.requires_grad",
    "w.grad_fn.name()",
    "w.grad_fn.next_functions",
    "u_ = w.grad_fn.next_functions[0][0].variable\nu_, u_ is u",
    "w.backward()",
    "u.grad, v.grad",
    "x1 = torch.tensor(1., requires_grad=True)\nx1",
    "a = torch.tensor(2., requires_grad=True)\na",
    "x2 = torch.tensor(3., requires_grad=True)\nx2",
    "y = x1 + a * x2\ny",
    "z = y ** 2\nz",
    "z.backward()",
    "x1.grad",
    "y.grad",
    """x1 = torch.tensor(1., requires_grad=True)
a = torch.tensor(2., requires_grad=True)
x2 = torch.tensor(3., requires_grad=True)
y = x1 + a * x2
y.retain_grad()
z = y ** 2
z.backward(retain_graph=True)
y.grad""",
    "x1.grad, a.grad, x2.grad, y.grad, z.grad",
    """x = torch.tensor(2., requires_grad=True)

s = x ** 2; s.retain_grad()
p = s + 1; p.retain_grad()
m = s - 1; m.retain_grad()
q = p * m
s, p, m, q""",
    "q.backward()",
    "p.grad, m.grad",
    "s.grad",
    "x.grad",
    "x1.grad, a.grad, x2.grad, y.grad, z.grad",
    "z.backward()",
    "x1.grad, a.grad, x2.grad, y.grad, z.grad",
    "z.backward()",
]


def test_seed_000_matches_torch():
    assert_same(CELLS)


def test_seed_000_values_as_the_tutorial_shows():
    out, ns = run_cells(CELLS, funcgrad)
    assert out[2]["value"] == "(tensor(6., grad_fn=<MulBackward0>), True)"
    assert out[7]["value"] == "(tensor(3.), tensor(2.))"
    assert out[17]["value"] == "(tensor(14.), tensor(42.), tensor(28.), tensor(14.), None)"
    assert out[18]["value"].startswith("(tensor(4., grad_fn=<PowBackward0>),")
    assert out[21]["value"] == "tensor(8.)" and out[22]["value"] == "tensor(32.)"
    assert out[25]["value"] == "(tensor(28.), tensor(84.), tensor(56.), tensor(28.), None)"
    assert out[26]["error"][0] == "RuntimeError" and "backward through the graph a second time" in out[26]["error"][1]
    assert out[15]["warnings"] and "not a leaf Tensor" in out[15]["warnings"][0][1]
