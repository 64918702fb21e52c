"""Custom autograd Functions: seed 001's LinearFunction and a ReLU, checked by gradcheck.

    python examples/custom_function.py
"""
from __future__ import annotations

import funcgrad as torch


class LinearFunction(torch.autograd.Function):
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
        return grad_input, grad_weight, grad_bias


class MyReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return input.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        grad_input = grad_output.clone()
        grad_input[input < 0] = 0
        return grad_input


def main(argv=None):
    torch.manual_seed(0)
    x = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    w = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    b = torch.randn(3, dtype=torch.float64, requires_grad=True)
    out = LinearFunction.apply(x, w, b)
    print("output:", out.shape, out.grad_fn.name(), out.grad_fn.next_functions)
    print("gradcheck LinearFunction:", torch.autograd.gradcheck(LinearFunction.apply, (x, w, b)))
    y = MyReLU.apply(LinearFunction.apply(x, w, b))
    y.sum().backward()
    print("x.grad:\n", x.grad)
    print("gradcheck MyReLU:", torch.autograd.gradcheck(MyReLU.apply, (torch.randn(6, dtype=torch.float64,
                                                                                    requires_grad=True),)))
    return out


if __name__ == "__main__":
    main()
