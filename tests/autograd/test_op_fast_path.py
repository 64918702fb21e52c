"""The ops' fast path (``registry._fast_path``: plain float tensors and python floats, positional
arguments) and the general path give torch's results: node names, next_functions, saved values,
version errors, hooks, dtype promotion with python numbers and errors on bad arguments, each
snippet run under torch and funcgrad and compared. Each snippet repeats its op so that the second
call takes a route remembered by the first."""
import pytest
from difftest import assert_same

import funcgrad

SNIPPETS = {
    "names_and_edges": [
        "a = torch.tensor([1., 2.], requires_grad=True)\nb = torch.tensor([3., 4.], requires_grad=True)\n"
        "for i in range(2):\n"
        "    outs = [a + b, a - b, a * b, a / b, a + 1.5, a - 2.5, a * 0.5, a / 4.0, torch.add(a, b), "
        "torch.mul(a, 2.0), a.tanh(), torch.exp(a), torch.sigmoid(b), a.neg(), torch.sqrt(b), b.add(a), "
        "a.div(b), a.sub(1.0), a * 2, a + 1, a / 2, a - 0, 3 * a]\n"
        "    for o in outs:\n        print(o.grad_fn.name(), [(type(n).__name__ if n is not None else None, k) "
        "for n, k in o.grad_fn.next_functions])\n"
        "sum(o.sum() for o in outs).backward()\na.grad, b.grad"],
    "next_functions_fresh_tuple": [
        "x = torch.tensor([1.], requires_grad=True)\nfor i in range(2):\n    y = (x * 2.0).tanh()\n"
        "    print(y.grad_fn is y.grad_fn, y.grad_fn.next_functions == y.grad_fn.next_functions, "
        "y.grad_fn.next_functions[0][0].next_functions[0][0] is x.grad_fn, "
        "type(y.grad_fn.next_functions[0][0].next_functions[0][0]).__name__)"],
    "saved_values": [
        "x = torch.tensor([0.5, -1.], requires_grad=True)\nw = torch.tensor([2., 3.], requires_grad=True)\n"
        "for i in range(2):\n    y = x.tanh()\n    z = x * w\n    q = x * 3.0\n    d = x / w\n"
        "    print(y.grad_fn._saved_result, z.grad_fn._saved_self, z.grad_fn._saved_other, "
        "d.grad_fn._saved_other, d.grad_fn._saved_self is x)"],
    "version_error_saved_input": [
        "x = torch.tensor([0.5, -1.], requires_grad=True)\nfor i in range(2):\n    a = x * 1.0\n"
        "    z = a * x\n    a.add_(1.0)\n    try:\n        z.sum().backward()\n"
        "    except RuntimeError as e:\n        print(str(e)[:220])"],
    "version_error_saved_result": [
        "x = torch.tensor([0.5, -1.], requires_grad=True)\nfor i in range(2):\n    y = torch.exp(x)\n"
        "    w = y * 2.0\n    y.mul_(3.0)\n    try:\n        w.sum().backward()\n"
        "    except RuntimeError as e:\n        print(str(e)[:220])"],
    "hooks_and_retain_grad": [
        "x = torch.tensor([0.1, -0.2], requires_grad=True)\nfor i in range(2):\n    y = x * 3.0\n    y.retain_grad()\n"
        "    z = (y + 0.5).tanh()\n    y.register_hook(lambda g: print('y grad', g))\n"
        "    z.grad_fn.register_hook(lambda gi, go: print('post', gi, go))\n"
        "    z.sum().backward()\n    print(y.grad, x.grad)"],
    "promotion_with_python_numbers": [
        "for dt in (torch.float16, torch.bfloat16, torch.float64, torch.float32):\n"
        "    x = torch.tensor([1.5, 2.], dtype=dt, requires_grad=True)\n    for i in range(2):\n"
        "        outs = [x * 2.0, x + 1.0, x / 3.0, x - 0.5, x * 2, x + True, torch.tanh(x), x * torch.tensor(2.)]\n"
        "        print([(o.dtype, o.grad_fn.name()) for o in outs])\n"
        "    sum(o.sum() for o in outs).backward()\n    print(x.grad)"],
    "mixed_dtypes_and_ints": [
        "a = torch.tensor([1., 2.], requires_grad=True)\nb = torch.tensor([1., 2.], dtype=torch.float64)\n"
        "i = torch.tensor([1, 2])\nfor k in range(2):\n"
        "    print(a * b, a + i, i * 2.5, i + 1.5, torch.tanh(i), i / 2.0, torch.exp(i))"],
    "broadcasting_and_errors": [
        "a = torch.ones(2, 3, requires_grad=True)\nb = torch.ones(3)\nfor k in range(2):\n"
        "    print((a * b).shape, (a + 1.0).shape)\n"
        "for bad in (lambda: a * torch.ones(4), lambda: a + 'x', lambda: a * None, lambda: torch.tanh(3.0), "
        "lambda: torch.add(a, 'x'), lambda: torch.Tensor.__mul__(2.0, a), lambda: a.mul(b, 'x')):\n"
        "    for k in range(2):\n        try:\n            bad()\n"
        "        except (TypeError, RuntimeError) as e:\n            print(type(e).__name__, str(e)[:150])"],
    "keywords_and_out": [
        "a = torch.tensor([1., 2.], requires_grad=True)\nfor k in range(2):\n"
        "    print(torch.add(a, 1.0, alpha=2.0), torch.add(input=a, other=a), torch.mul(a, other=3.0), "
        "torch.div(a, 2.0, rounding_mode='floor'))\n"
        "o = torch.empty(2)\ntorch.add(a.detach(), 1.0, out=o)\no"],
    "modes": [
        "x = torch.tensor([1., 2.], requires_grad=True)\nfor k in range(2):\n    with torch.no_grad():\n"
        "        y = x * 2.0\n    with torch.inference_mode():\n        z = x.tanh()\n"
        "    print(y.requires_grad, y.grad_fn, z.requires_grad, z.is_inference())\n"
        "    try:\n        (z * x).sum().backward()\n    except RuntimeError as e:\n        print(str(e)[:80])\n"
        "    v = x[0:1]\n    print((v * 2.0).grad_fn, (v.tanh() + 1.0).grad_fn)"],
    "second_backward": [
        "x = torch.tensor([1., 2.], requires_grad=True)\nfor k in range(2):\n    y = (x * 2.0 + 1.0).tanh().sum()\n"
        "    y.backward(retain_graph=True)\n    y.backward()\n    try:\n        y.backward()\n"
        "    except RuntimeError as e:\n        print(str(e)[:60])\n    z = (x + 1.0).sum()\n    z.backward()\n"
        "    z.backward()\nx.grad"],
    "inplace_dunders": [
        "x = torch.tensor([1., 2.], requires_grad=True)\nfor k in range(2):\n    y = x * 1.0\n    y *= 2.0\n"
        "    y += x\n    y -= 1.0\n    y /= 2.0\n    print(y, y.grad_fn, y._version)\n    y.sum().backward()\nx.grad"],
    "parameters_and_views": [
        "p = torch.nn.Parameter(torch.tensor([[1., 2.], [3., 4.]]))\nx = torch.tensor([[0.5, -1.], [2., 1.]])\n"
        "for k in range(2):\n    v = x[:, :1]\n    outs = [p * x, x + p, p.tanh(), p * v, v * 2.0, v.exp(), p.t() * v, "
        "p.sum(1), p.t().sum(0), (p * 1.0).view(4), p.view(4) * 2.0]\n"
        "    for o in outs:\n        print(o.grad_fn.name(), [(type(n).__name__ if n is not None else None, j) "
        "for n, j in o.grad_fn.next_functions], o.shape, o.dtype)\n"
        "    sum(o.sum() for o in outs).backward()\n    print(p.grad)\n    p.grad = None",
        "v = p[0]\nw = v * 3.0\np.data.add_(0.)\nprint(w.grad_fn._saved_self if hasattr(w.grad_fn, '_saved_self') else 0)"],
    "view_input_version_error": [
        "x = torch.tensor([0.5, -1., 2.], requires_grad=True)\nfor k in range(2):\n    a = x * 1.0\n    v = a[1:]\n"
        "    z = v * v\n    t = v.tanh()\n    a.add_(1.0)\n    for out in (z, t):\n        try:\n            out.sum().backward()\n"
        "        except RuntimeError as e:\n"
        "            print(str(e)[:126], 'is at version 1; expected version 0' in str(e))"],
    "linear_shapes_names_saved": [
        "lin = torch.nn.Linear(4, 3)\nlin2 = torch.nn.Linear(4, 3, bias=False)\nwith torch.no_grad():\n    for m in (lin, lin2):\n        m.weight.copy_(torch.arange(12.).view(3, 4) / 10 - 0.5)\n    lin.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))\n"
        "def walk(fn, d=0):\n    print('  ' * d + (type(fn).__name__ if fn is not None else 'None'))\n"
        "    for n, _ in (fn.next_functions if fn is not None else ()):\n        walk(n, d + 1)\n"
        "for k in range(2):\n    for shape in ((2, 5, 4), (5, 4), (4,), (3, 2, 1, 4)):\n        for rg in (False, True):\n"
        "            x = torch.randn(*shape, requires_grad=rg)\n            for m in (lin, lin2):\n"
        "                y = m(x)\n                print(shape, rg, y.shape, y.grad_fn.name())\n                walk(y.grad_fn)\n"
        "                y.sum().backward()\n    print(lin.weight.grad, lin.bias.grad, lin2.weight.grad)\n"
        "    lin.zero_grad(); lin2.zero_grad()\n"
        "x = torch.randn(5, 4)\ny = lin(x)\n"
        "print(y.grad_fn._saved_mat1 is None, y.grad_fn._saved_mat2.shape, y.grad_fn._saved_mat2.grad_fn.name())\n"
        "x = torch.randn(2, 5, 4, requires_grad=True)\ny = lin(x)\ng = y.grad_fn.next_functions[0][0]\n"
        "print(g.name(), g._saved_mat1.shape, g._saved_mat1.grad_fn.name(), g._saved_mat2.grad_fn.name())",
        "y = torch.nn.functional.linear(x, lin.weight, lin.bias)\nwith torch.no_grad():\n    lin.weight.mul_(2.0)\n"
        "try:\n    y.sum().backward()\nexcept RuntimeError as e:\n    print(str(e)[:200])",
        "x = torch.randn(2, 5, 4, requires_grad=True)\nfor k in range(2):\n    y = lin(x.transpose(0, 1))\n"
        "    print(y.shape, y.grad_fn.name(), y.grad_fn.next_functions[0][0].name())\n    h = lin(x)\n    h.retain_grad()\n"
        "    h.register_hook(lambda g: print('hook', g.shape))\n    h.tanh().sum().backward()\n    print(h.grad.shape, x.grad.sum())",
        "for bad in (lambda: lin(torch.randn(2, 3)), lambda: lin(torch.randn(2, 4, dtype=torch.float64)), "
        "lambda: torch.nn.functional.linear(torch.randn(2, 4), lin.weight, torch.randn(3, dtype=torch.float64))):\n"
        "    for k in range(2):\n        try:\n            bad()\n        except RuntimeError as e:\n            print(str(e)[:150])"],
    "linear_modes": [
        "lin = torch.nn.Linear(4, 3)\nlin2 = torch.nn.Linear(4, 3)\nwith torch.no_grad():\n    for m in (lin, lin2):\n        m.weight.copy_(torch.arange(12.).view(3, 4) / 10 - 0.5)\n    lin.bias.copy_(torch.tensor([0.1, -0.2, 0.3]))\nx = torch.randn(2, 5, 4)\nfor k in range(2):\n    with torch.no_grad():\n"
        "        y = lin(x)\n    with torch.inference_mode():\n        z = lin(x)\n"
        "    print(y.requires_grad, y.grad_fn, z.requires_grad, z.is_inference(), lin(x).grad_fn.name())",
        "for dt in (torch.float64, torch.float16):\n    l2 = torch.nn.Linear(4, 2).to(dt)\n"
        "    for k in range(2):\n        y = l2(torch.ones(3, 2, 4, dtype=dt))\n        print(y.dtype, y.grad_fn.name())"],
    "reductions_casts_comparisons_squeeze": [
        "x = torch.tensor([[1., 2., 3.], [4., 5., 6.]], requires_grad=True)\ni = torch.tensor([[1, 2, 3], [4, 5, 6]])\n"
        "for k in range(2):\n    outs = [x.sum(1), x.sum(0, keepdim=True), torch.sum(x, dim=1), x.sum((0, 1)), x.sum(-1), "
        "x.mean(1), x.sum(), x.to(torch.float64), x.to(torch.float16), x.view(3, 2), x.view(-1), x.t(), "
        "x.transpose(0, 1), x.unsqueeze(0), x.unsqueeze(-1), x.sum(1, keepdim=True).squeeze(1), x[:, :1].squeeze(1), "
        "x.view(2, 3, 1).squeeze(), x.view(1, 6).squeeze(0)]\n"
        "    for o in outs:\n        print(o.grad_fn.name(), o.shape, o.dtype, o._version, o._base is x)\n"
        "    sum(o.sum().float() for o in outs).backward()\n    print(x.grad)\n    x.grad = None\n"
        "    print(i.sum(1), i.sum(1).dtype, i.sum(0, dtype=torch.float32), i.to(torch.float32), i < 3, i < 2.5, "
        "i < i.t().reshape(2, 3), x < i, x < 2.0, torch.lt(x, 3), i.view(-1).lt(4))",
        "x = torch.ones(2, 3, requires_grad=True)\nfor bad in (lambda: x.sum(2), lambda: x.view(4), lambda: x.t().view(6), "
        "lambda: x.squeeze(3), lambda: x < torch.ones(4), lambda: x.unsqueeze(5), lambda: x.view(-1, -1)):\n"
        "    for k in range(2):\n        try:\n            bad()\n        except (RuntimeError, IndexError) as e:\n"
        "            print(type(e).__name__, str(e)[:150])",
        "x = torch.ones(2, 3, requires_grad=True)\nfor k in range(2):\n    v = x * 1.0\n    w = v.view(6)\n"
        "    w.mul_(2.0)\n    print(v, v._version, w._version, v.grad_fn.name(), w.grad_fn.name())\n"
        "    v.sum().backward()\nx.grad"],
    "static_ops_on_slices": [
        "x = torch.arange(12.).view(6, 2).requires_grad_()\nfor i in range(4):\n    a = x * 1.0\n    s = a[i:i + 2]\n"
        "    outs = [s.t(), s.sum(1), s.unsqueeze(0), s.transpose(0, 1).sum(0), s.view(4), s.t().squeeze(0), "
        "s.to(torch.float64)]\n    print([(o.grad_fn.name(), o._base is a if o._base is not None else None) for o in outs])\n"
        "    a.mul_(2.0)\n    for o in outs:\n        print(o.detach())\n"
        "    try:\n        s.t().view(4)\n    except RuntimeError as e:\n        print(str(e)[:60])\n"
        "    print(s.t().reshape(4), a[:, i % 2].view(6), a[:, i % 2].sum(0))"],
    "mse_loss": [
        "a = torch.tensor([0.5, -1., 2.], requires_grad=True)\nb = torch.tensor([1., 1., 1.])\nfor k in range(2):\n"
        "    outs = [torch.nn.functional.mse_loss(a, b), torch.nn.functional.mse_loss(a, b, reduction='sum'), "
        "torch.nn.functional.mse_loss(a, b, reduction='none'), torch.nn.functional.mse_loss(b, a)]\n"
        "    for o in outs:\n        print(o, o.grad_fn.name(), o.grad_fn._saved_self, o.grad_fn._saved_target)\n"
        "    sum(o.sum() for o in outs).backward()\n    print(a.grad)\n    a.grad = None\n"
        "    print(torch.nn.functional.mse_loss(a.double(), b), torch.nn.functional.mse_loss(a, b, reduce=False))",
        "for k in range(2):\n    c = a * 1.0\n    l = torch.nn.functional.mse_loss(c, b)\n    c.add_(1.0)\n    try:\n"
        "        l.backward()\n    except RuntimeError as e:\n        print(str(e)[:150])",
        "torch.nn.functional.mse_loss(a, torch.ones(2, 3))",
        "torch.nn.functional.mse_loss(a, b, reduction='bad')"],
}


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_op_fast_path_matches_torch(name):
    assert_same(SNIPPETS[name])


def test_fast_and_general_paths_agree():
    """The same calls through the fast path and through the general function (``_general``) build
    the same nodes: names, edges, saved values and gradients."""
    torch = funcgrad
    x = torch.tensor([0.5, -1.0], requires_grad=True)
    w = torch.tensor([2.0, 3.0], requires_grad=True)
    for fast in (True, False):
        mul = torch.mul if fast else torch.mul._general
        add = torch.add if fast else torch.add._general
        tanh = torch.tanh if fast else torch.tanh._general
        outs = [tanh(add(mul(x, w), 1.5)), mul(x, 2.0), add(w, x)]
        desc = [(o.grad_fn.name(), [(type(n).__name__, k) for n, k in o.grad_fn.next_functions],
                 o.grad_fn._p.needed, o.grad_fn._dropped, len(o.grad_fn._saved)) for o in outs]
        x.grad = w.grad = None
        sum(o.sum() for o in outs).backward()
        res = (desc, x.grad.tolist(), w.grad.tolist())
        if fast:
            first = res
    assert res == first


def test_fast_path_remembers_routes_without_eval_shape():
    """After the first call of a kind, a recorded op runs no ``jax.eval_shape``."""
    from funcgrad import _lazy

    x = funcgrad.tensor([0.5, -1.0], requires_grad=True)
    y = funcgrad.tanh(x * 1.25 + 0.5)
    n = _lazy.stats()["eval_shape"]
    for _ in range(3):
        y = funcgrad.tanh(y * 1.25 + 0.5)
    y.sum().backward()
    assert _lazy.stats()["eval_shape"] == n


def test_static_fast_path_agrees_with_general():
    """``fast="static"`` ops (reductions over dims, views, casts, addmm, mse_loss) build the same
    nodes through their fast path and through their general function, Parameters included."""
    torch = funcgrad
    from funcgrad._ops import creation, linalg, reduction, views

    w = torch.nn.Parameter(torch.tensor([[0.5, -1.0, 2.0], [1.0, 0.25, -0.5]]))
    b = torch.nn.Parameter(torch.tensor([0.1, -0.2]))
    x = torch.tensor([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0], [7.0, 8.0, 9.0]], requires_grad=True)
    results = []
    for fast in (True, False):
        f = (lambda g: g) if fast else (lambda g: g._general)
        outs = [f(linalg.addmm)(b, x, f(views.t)(w)), f(reduction.sum)(x, 1), f(reduction.sum)(x, dim=0, keepdim=True),
                f(views.view)(f(linalg.mm)(x, f(views.t)(w)), (6,)), f(views.squeeze)(f(views.unsqueeze)(x, 0), 0),
                f(creation._to_copy)(x, torch.float64), f(torch.nn.functional._mse)(x, x * 0.5, "sum")]
        desc = [(o.grad_fn.name(), [(type(n).__name__, k) for n, k in o.grad_fn.next_functions], o.shape, o.dtype,
                 o.grad_fn._p.needed, o.grad_fn._dropped, len(o.grad_fn._saved), o._base is not None) for o in outs]
        x.grad = w.grad = b.grad = None
        sum(o.sum().float() for o in outs).backward()
        results.append((desc, x.grad.tolist(), w.grad.tolist(), b.grad.tolist()))
    assert results[0] == results[1]


def test_static_fast_path_takes_parameters_and_views():
    """Calls on Parameters and views take the fast paths (no binder call after the first)."""
    from funcgrad._ops import views

    torch = funcgrad
    from funcgrad import _lazy

    calls = []
    assert views.t._bind_fast is not None
    p = torch.nn.Parameter(torch.ones(3, 2))
    lin = torch.nn.Linear(2, 4)
    x = torch.ones(5, 7, 2)
    pv = p.sum(1).view(3, 1, 1)[:1]
    for k in range(4):
        if k == 1:
            n = _lazy.stats()["eval_shape"]
        y = (lin(x).tanh() * pv).sum(1) / p.t().sum(1).view(2, 1)[:1]
        calls.append(y.grad_fn.name())
    assert _lazy.stats()["eval_shape"] == n
    assert calls == ["DivBackward0"] * 4


def test_linear_forward_ad_matches_torch():
    """Forward-mode tangents through nn.Linear (3-D input: view, t, addmm, view) and sum over a dim,
    with the fast paths warm, equal torch's."""
    import warnings

    import numpy as np
    import torch as real

    rng = np.random.default_rng(0)
    arrs = [rng.standard_normal(s).astype(np.float32) for s in ((3, 4), (3,), (2, 3, 4), (2, 3, 4))]
    res = []
    for lib in (real, funcgrad):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fwAD = lib.autograd.forward_ad
            lin = lib.nn.Linear(4, 3)
            with lib.no_grad():
                lin.weight.copy_(lib.tensor(arrs[0]))
                lin.bias.copy_(lib.tensor(arrs[1]))
            x, t = lib.tensor(arrs[2]), lib.tensor(arrs[3])
            lin(x).sum(1)
            with fwAD.dual_level():
                d = fwAD.make_dual(x, t)
                out = []
                for _ in range(2):
                    y = lin(d)
                    out.append(fwAD.unpack_dual(y).tangent.detach().numpy())
                    out.append(fwAD.unpack_dual(y.sum(1)).tangent.detach().numpy())
                    out.append(fwAD.unpack_dual(y.tanh() * y.view(-1, 3)[:1].view(1, 1, 3)).tangent.detach().numpy())
        res.append(out)
    for a, b in zip(*res):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
