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
