"""torch.autograd's public API under funcgrad: functional, forward AD, gradcheck, Function, hooks."""
import numpy as np
import pytest
import torch
from difftest import assert_same

import funcgrad
from funcgrad.autograd import forward_ad as ffw
from funcgrad.autograd import functional as FF

sys_path_ops = __import__("os").path.join(__import__("os").path.dirname(__file__), "..", "ops")
__import__("sys").path.insert(0, sys_path_ops)
from test_ops_vs_torch import CASES  # noqa: E402 - the registry's table of ops

A = np.array([0.3, 0.7, 1.1])
B = np.array([1.0, 2.0, 3.0])


def _f(x, y):
    return (x.sin() * y).sum() + (x * x).prod()


FUNCTIONAL = {
    "jacobian": lambda L, F: F.jacobian(lambda x: x.sin() * x, L.tensor(A)),
    "jacobian_vectorized": lambda L, F: F.jacobian(lambda x: x.sin() * x, L.tensor(A), vectorize=True),
    "jacobian_multi": lambda L, F: F.jacobian(lambda x, y: (x * y, x.exp()), (L.tensor(A), L.tensor(B))),
    "jacobian_forward": lambda L, F: F.jacobian(lambda x: x.tanh(), L.tensor(A), vectorize=True,
                                                strategy="forward-mode"),
    "hessian": lambda L, F: F.hessian(_f, (L.tensor(A), L.tensor(B))),
    "hessian_single_input": lambda L, F: F.hessian(lambda x: (x ** 3).sum() + (x[0] * x[1]).sin(), L.tensor(A)),
    "hessian_vectorized": lambda L, F: F.hessian(_f, (L.tensor(A), L.tensor(B)), vectorize=True),
    "vjp": lambda L, F: F.vjp(lambda x: x.exp(), L.tensor(A), L.tensor(B)),
    "jvp": lambda L, F: F.jvp(lambda x: x.exp() * x, L.tensor(A), L.tensor(B)),
    "hvp": lambda L, F: F.hvp(lambda x: (x ** 3).sum(), L.tensor(A), L.tensor(B)),
    "vhp": lambda L, F: F.vhp(lambda x: (x.sin() * x).sum(), L.tensor(A), L.tensor(B)),
}


def _flat(x):
    if isinstance(x, (tuple, list)):
        return [v for e in x for v in _flat(e)]
    return [np.asarray(x.detach().numpy())]


@pytest.mark.parametrize("name", sorted(FUNCTIONAL))
def test_functional_matches_torch(name):
    ref = _flat(FUNCTIONAL[name](torch, torch.autograd.functional))
    got = _flat(FUNCTIONAL[name](funcgrad, FF))
    assert len(ref) == len(got)
    for r, g in zip(ref, got):
        np.testing.assert_allclose(g, r, rtol=1e-10, atol=1e-12)


def test_functional_create_graph_and_strict():
    x = funcgrad.tensor(A, requires_grad=True)
    h = FF.jacobian(lambda v: v ** 3, x, create_graph=True)
    assert h.requires_grad
    (h.sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), 6 * A)
    for lib, F in ((torch, torch.autograd.functional), (funcgrad, FF)):
        with pytest.raises(RuntimeError, match="independent of input 1"):
            F.jacobian(lambda a, b: a * 2, (lib.tensor(A), lib.tensor(B)), strict=True)


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_mode_matches_reverse_mode_for_every_op(name):
    """J v by forward AD (jax.jvp of each op) equals the reverse-mode Jacobian times v."""
    fn, arrays = CASES[name]
    xs = [funcgrad.tensor(a.astype(np.float64)) for a in arrays]
    rng = np.random.default_rng(3)
    vs = [funcgrad.tensor(rng.standard_normal(a.shape)) for a in arrays]
    out, tangent = FF.jvp(lambda *t: fn(funcgrad, *t), tuple(xs), tuple(vs))
    jac = FF.jacobian(lambda *t: fn(funcgrad, *t), tuple(xs))
    expect = sum(np.tensordot(j.numpy(), v.numpy(), axes=v.dim()) for j, v in zip(jac, vs))
    np.testing.assert_allclose(tangent.numpy(), expect, rtol=1e-9, atol=1e-12)


def test_dual_api_matches_torch():
    out = []
    for lib, fw in ((torch, torch.autograd.forward_ad), (funcgrad, ffw)):
        x, v = lib.tensor([1.0, 2.0]), lib.tensor([1.0, 0.5])
        with fw.dual_level():
            d = fw.make_dual(x, v)
            y = (d * d).sin().sum()
            p, t = fw.unpack_dual(y)
            out.append((repr(y), p.item(), t.item(), fw.unpack_dual(x).tangent))
        out[-1] += (fw.unpack_dual(y).tangent,)
    from difftest import same_text

    assert out[0][1:] == pytest.approx(out[1][1:]) and same_text(out[0][0], out[1][0])


def test_gradcheck_and_its_failure_message():
    x = funcgrad.tensor([0.3, 0.4], dtype=funcgrad.float64, requires_grad=True)
    assert funcgrad.autograd.gradcheck(lambda a: (a.sin() * a.exp()).sum(), x)
    assert funcgrad.autograd.gradgradcheck(lambda a: (a.tanh() * a).sum(), x)
    assert funcgrad.autograd.gradcheck(lambda a: a.sigmoid(), x, check_forward_ad=True)

    def bad(lib):
        class Bad(lib.autograd.Function):
            @staticmethod
            def forward(ctx, v):
                return v * 2

            @staticmethod
            def backward(ctx, g):
                return g * 3
        return Bad.apply

    msgs = []
    for lib in (torch, funcgrad):
        with pytest.raises(RuntimeError) as e:
            lib.autograd.gradcheck(bad(lib), lib.tensor([1.0], dtype=lib.float64, requires_grad=True))
        msgs.append(str(e.value))
        assert type(e.value).__name__ == "GradcheckError"
        assert not lib.autograd.gradcheck(bad(lib), lib.tensor([1.0], dtype=lib.float64, requires_grad=True),
                                          raise_exception=False)
    assert msgs[0].split("\n")[0] == msgs[1].split("\n")[0]


FUNCTION_SNIPPETS = {
    "custom_relu": ["""class MyReLU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return input.clamp(min=0)

    @staticmethod
    def backward(ctx, grad_output):
        input, = ctx.saved_tensors
        grad_input = grad_output.clone()
        grad_input[input < 0] = 0
        return grad_input
x = torch.tensor([-1., 2., -3., 4.], requires_grad=True)
y = MyReLU.apply(x * 2)
print(y, y.grad_fn.name(), y.grad_fn.next_functions)
y.sum().backward()
x.grad"""],
    "setup_context_and_once_differentiable": ["""class Cube(torch.autograd.Function):
    @staticmethod
    def forward(x, k):
        return x ** 3 * k

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, k = inputs
        ctx.save_for_backward(x)
        ctx.k = k

    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * 3 * x ** 2 * ctx.k, None
x = torch.tensor([1., 2.], requires_grad=True)
y = Cube.apply(x, 2.0)
g, = torch.autograd.grad(y.sum(), x, create_graph=True)
print(g)
g.sum().backward()
x.grad"""],
    "needs_input_grad_and_nondiff": ["""class F(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b):
        print(ctx.needs_input_grad)
        idx = a.argmax()
        ctx.mark_non_differentiable(idx)
        return a * b, idx

    @staticmethod
    def backward(ctx, g, gidx):
        return g, None
a = torch.ones(3, requires_grad=True)
out, idx = F.apply(a, torch.ones(3))
print(idx.requires_grad, out.requires_grad)
out.sum().backward()
a.grad"""],
    "saved_tensors_freed": ["""class G(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a):
        ctx.save_for_backward(a)
        return a * 2

    @staticmethod
    def backward(ctx, g):
        a, = ctx.saved_tensors
        return g * 2
a = torch.ones(2, requires_grad=True)
y = G.apply(a).sum()
y.backward()
y.backward()"""],
    "wrong_number_of_grads": ["""class H(torch.autograd.Function):
    @staticmethod
    def forward(ctx, a, b):
        return a + b

    @staticmethod
    def backward(ctx, g):
        return (g,)
H.apply(torch.ones(1, requires_grad=True), torch.ones(1)).backward()"""],
    "hook_order": ["""x = torch.ones(2, requires_grad=True)
y = x * 2
z = y * 3
y.register_hook(lambda g: print('y hook', g))
z.register_hook(lambda g: print('z hook', g))
z.grad_fn.register_prehook(lambda go: print('z prehook', go))
z.grad_fn.register_hook(lambda gi, go: print('z post', gi, go))
x.register_post_accumulate_grad_hook(lambda t: print('acc', t.grad))
z.sum().backward()"""],
    "backward_inputs": ["""a = torch.ones(2, requires_grad=True)
b = torch.ones(2, requires_grad=True)
(a * b * 3).sum().backward(inputs=[a])
a.grad, b.grad"""],
    "grad_of_grad": ["""x = torch.tensor(2., requires_grad=True)
y = x ** 4
g, = torch.autograd.grad(y, x, create_graph=True)
h, = torch.autograd.grad(g, x, create_graph=True)
k, = torch.autograd.grad(h, x)
g.item(), h.item(), k, g.requires_grad, h.requires_grad, k.requires_grad"""],
    "anomaly_nan": ["""x = torch.tensor([0.0], requires_grad=True)
with torch.autograd.detect_anomaly():
    y = x.sqrt() * 0
    y.backward()"""],
}


@pytest.mark.parametrize("name", sorted(FUNCTION_SNIPPETS))
def test_function_and_hooks_match_torch(name):
    assert_same(FUNCTION_SNIPPETS[name])


def test_func_transforms_match_jax():
    import jax
    import jax.numpy as jnp

    x = funcgrad.tensor([0.1, 0.2, 0.3])
    g = funcgrad.func.grad(lambda v: (v.sin() * v).sum())(x)
    np.testing.assert_allclose(g.numpy(), jax.grad(lambda a: (jnp.sin(a) * a).sum())(x.numpy()), rtol=1e-6)
    vm = funcgrad.func.vmap(lambda v: v @ v)(funcgrad.ones(4, 3))
    assert vm.tolist() == [3.0] * 4
    m = funcgrad.nn.Linear(3, 1)
    out = funcgrad.func.functional_call(m, {"weight": funcgrad.ones(1, 3), "bias": funcgrad.zeros(1)}, (x,))
    assert out.tolist() == pytest.approx([0.6])
    assert m.weight.shape == (1, 3) and not (m.weight == 1).all()
    # a Tensor is a pytree: raw jax.jit over funcgrad code
    np.testing.assert_allclose(jax.jit(lambda t: t * 2 + 1)(x).numpy(), [1.2, 1.4, 1.6], rtol=1e-6)
    assert funcgrad.to_jax(x) is x._array() and funcgrad.from_jax(jnp.ones(2)).tolist() == [1.0, 1.0]


def test_double_backward_node_names_are_vjp_nodes():
    """A documented difference: the graph of a gradient is made of vjp nodes named after the node they
    differentiate (torch builds it from its hand-written formulas, e.g. MulBackward0)."""
    x = funcgrad.tensor(2.0, requires_grad=True)
    g, = funcgrad.autograd.grad(x ** 4, x, create_graph=True)
    h, = funcgrad.autograd.grad(g, x, create_graph=True)
    assert g.grad_fn.name() == "PowBackward0Backward"
    assert h.grad_fn.name() == "PowBackward0BackwardBackward"
    assert (g.item(), h.item()) == (32.0, 48.0)
