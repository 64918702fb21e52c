"""Seed 004 (Russian): dynamic graph, manual MLP, autograd MLP, nn.MSELoss + optim.Adam, grad-mode nesting."""
from difftest import assert_same, run_cells

import funcgrad

SETUP = """device = torch.device('cpu')
dtype = torch.float
batch_size = 64
input_size = 3
hidden_size = 2
output_size = 1
x = torch.randn(batch_size, input_size, device=device, dtype=dtype)
y = torch.randn(batch_size, output_size, device=device, dtype=dtype)"""

CELLS = [
    SETUP,
    """w1 = torch.randn(input_size, hidden_size, device=device, dtype=dtype)
w2 = torch.randn(hidden_size, output_size, device=device, dtype=dtype)

learning_rate = 1e-6
for t in range(500):
    h_1 = x.mm(w1)
    h_relu = h_1.clamp(min=0)
    out = h_relu.mm(w2)
    loss = (out - y).pow(2).sum().item()
    dloss_out = 2 * (out - y)
    grad_w2 = h_relu.t().mm(dloss_out)
    grad_h_relu = dloss_out.mm(w2.t())
    grad_h_relu[h_1 <0] = 0
    grad_w1 = x.t().mm(grad_h_relu)
    w1 -= learning_rate * grad_w1
    w2 -= learning_rate * grad_w2
    if t % 100 == 99:
        print('Loss on iteration {} = {}'.format(t, loss))""",
    "loss",
    """w1 = torch.randn(input_size, hidden_size, device=device, dtype=dtype, requires_grad=True)
w2 = torch.randn(hidden_size, output_size, device=device, dtype=dtype, requires_grad=True)""",
    """learning_rate = 1e-6
for t in range(500):
    y_pred = x.mm(w1).clamp(min=0).mm(w2)
    loss = (y_pred - y).pow(2).sum()
    if t % 100 == 99:
        print(t, loss.item())
    loss.backward()
    with torch.no_grad():
        w1 -= learning_rate * w1.grad
        w2 -= learning_rate * w2.grad
        w1.grad.zero_()
        w2.grad.zero_()""",
    """w1 = torch.randn(input_size, hidden_size, device=device, dtype=dtype, requires_grad=True)
w2 = torch.randn(hidden_size, output_size, device=device, dtype=dtype, requires_grad=True)""",
    """import torch.optim as optim

loss_fn = torch.nn.MSELoss(reduction='sum')

learning_rate = 1e-6
optimizer = torch.optim.Adam([w1, w2], lr=learning_rate)

for t in range(500):
    optimizer.zero_grad()
    y_pred = x.mm(w1).clamp(min=0).mm(w2)
    loss = loss_fn(y_pred, y)
    if t % 100 == 99:
        print(t, loss.item())
    loss.backward()
    optimizer.step()""",
    "y_pred.grad_fn",
    """x = torch.tensor([1.], requires_grad=True)
with torch.no_grad():
    with torch.enable_grad():
        y = x * 2
y.requires_grad""",
]


def test_seed_004_matches_torch():
    assert_same(CELLS, rtol=1e-4, atol=1e-4)


def test_seed_004_adam_loop_decreases_loss():
    out, _ = run_cells(CELLS, funcgrad)
    losses = [float(line.split()[1]) for line in out[6]["stdout"].splitlines()]
    assert len(losses) == 5 and losses[-1] < losses[0]
    assert out[7]["value"].startswith("<MmBackward0 object at") and out[8]["value"] == "True"
