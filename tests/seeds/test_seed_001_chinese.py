"""Seed 001 (Chinese): matmul + BCE-with-logits, custom LinearFunction, no_grad, detach, the in-place error."""
from difftest import assert_same, run_cells

import funcgrad

SETUP = """x = torch.ones(5)  # input tensor
y = torch.zeros(3)  # expected output
w = torch.randn(5, 3, requires_grad=True)
b = torch.randn(3, requires_grad=True)
z = torch.matmul(x, w) + b
loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)"""

LINEAR = '''class LinearFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input, weight, bias=None):
        ctx.save_for_backward(input, weight, bias)
        output = input.mm(weight.t())
        if bias is not None:
            output += bias.unsqueeze(0).expand_as(output)
        return output

    @staticmethod
    def backward(ctx, grad_output):
        input, weight, bias = ctx.saved_tensors
        grad_input = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_input = grad_output.mm(weight)
        if ctx.needs_input_grad[1]:
            grad_weight = grad_output.t().mm(input)
        if bias is not None and ctx.needs_input_grad[2]:
            grad_bias = grad_output.sum(0)
        return grad_input, grad_weight, grad_bias'''

CELLS = [
    SETUP,
    'loss.backward()\nprint(f"grad of w is {w.grad}")',
    LINEAR,
    """inp = torch.randn(4, 5, requires_grad=True)
wt = torch.randn(3, 5, requires_grad=True)
bias = torch.randn(3, requires_grad=True)
out = LinearFunction.apply(inp, wt, bias)
print(out.grad_fn.name(), out.grad_fn.next_functions)
out.sum().backward()
print(inp.grad, wt.grad, bias.grad)""",
    "print(z.grad_fn)\nprint(z.grad_fn.next_functions)",
    "print(z.requires_grad)\nwith torch.no_grad():\n    z = torch.matmul(x, w) + b\nprint(z.requires_grad)",
    "z = torch.matmul(x, w.detach()) + b.detach()\nprint(z.requires_grad)",
    """print(f"x : {x}")
z = torch.matmul(x, w) + b
loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
x1 = x.detach()
x1[0] = 2
print(f"x : {x}")
loss.backward()""",
    """torch.autograd.set_detect_anomaly(True)
z = torch.matmul(x, w) + b
loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
x.detach()[1] = 3
try:
    loss.backward()
finally:
    torch.autograd.set_detect_anomaly(False)""",
    "w.requires_grad_(True).data.shape, w.data.requires_grad",
]


def test_seed_001_matches_torch():
    assert_same(CELLS)


def test_seed_001_inplace_error_text():
    out, _ = run_cells(CELLS, funcgrad)
    assert out[7]["error"] == ("RuntimeError",
                               "one of the variables needed for gradient computation has been modified by an inplace "
                               "operation: [torch.FloatTensor [1, 5]] is at version 1; expected version 0 instead. "
                               "Hint: enable anomaly detection to find the operation that failed to compute its "
                               "gradient, with torch.autograd.set_detect_anomaly(True, check_nan=False).")  # torch 2.13's hint
    assert out[7]["stdout"] == "x : tensor([1., 1., 1., 1., 1.])\nx : tensor([2., 1., 1., 1., 1.])\n"
    assert "SqueezeBackward4" in out[4]["stdout"]
