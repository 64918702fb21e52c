"""Autograd semantics, run as snippets under torch and funcgrad and compared (difftest)."""
import pytest
from difftest import assert_same

SNIPPETS = {
    "leaf_flags": ["x = torch.ones(3, requires_grad=True)\ny = x * 2\n(x.is_leaf, y.is_leaf, x.grad_fn, y.requires_grad)"],
    "detach_shares_storage": ["x = torch.ones(3, requires_grad=True)\nd = x.detach()\nwith torch.no_grad():\n    d.add_(1)\nx",
                              "x._version, d._version, d.requires_grad, d.is_leaf"],
    "inplace_on_leaf": ["x = torch.ones(3, requires_grad=True)\nx.add_(1)"],
    "inplace_on_leaf_no_grad": ["x = torch.ones(3, requires_grad=True)\nwith torch.no_grad():\n    x.mul_(3)\nx, x.grad_fn"],
    "inplace_nonleaf_graph": ["x = torch.tensor([1., 2.], requires_grad=True)\ny = x * 2\ny.add_(1)\ny.mul_(y)\n"
                              "print(y, y.grad_fn, y.grad_fn.next_functions)\ny.sum().backward()\nx.grad"],
    "inplace_saved_result": ["x = torch.tensor([1., 2.], requires_grad=True)\ny = x.exp()\ny.add_(1)\ny.sum().backward()"],
    "inplace_saved_input_ok": ["x = torch.tensor([1., 2.], requires_grad=True)\ny = x * 2\nz = y + 3\ny.add_(1)\n"
                               "z.sum().backward()\nx.grad"],
    "inplace_saved_input_err": ["x = torch.tensor([1., 2.], requires_grad=True)\ny = x * 2\nz = y * y\ny.add_(1)\n"
                                "z.sum().backward()"],
    "view_inplace_writes_base": ["a = torch.zeros(2, 3)\nv = a[0]\nv.add_(5)\na[:, 1] = 7\nprint(a, v, a._version, v._version)"],
    "view_chain": ["a = torch.arange(12.).reshape(3, 4)\nb = a.t()[1:, ::2]\nb.mul_(10)\na"],
    "copyslices_graph": ["x = torch.ones(3, requires_grad=True)\ny = x.clone()\ny[1] = 5 * x[0]\nprint(y.grad_fn)\n"
                         "y.sum().backward()\nx.grad"],
    "index_put_mask": ["x = torch.tensor([1., -2., 3.], requires_grad=True)\ny = x * 1\ny[y < 0] = 0\nprint(y, y.grad_fn)\n"
                       "y.sum().backward()\nx.grad"],
    "backward_non_scalar": ["x = torch.ones(2, requires_grad=True)\n(x * 2).backward()"],
    "backward_no_grad_tensor": ["torch.ones(2).sum().backward()"],
    "backward_wrong_shape_grad": ["x = torch.ones(2, requires_grad=True)\n(x * 2).backward(torch.ones(3))"],
    "second_backward_error": ["x = torch.ones(2, requires_grad=True)\ny = (x * x).sum()\ny.backward()\ny.backward()"],
    "second_backward_no_saved_ok": ["x = torch.ones(2, requires_grad=True)\ny = (x + 1).sum()\ny.backward()\ny.backward()\nx.grad"],
    "retain_graph_twice": ["x = torch.ones(2, requires_grad=True)\ny = (x * x).sum()\ny.backward(retain_graph=True)\n"
                           "y.backward()\nx.grad"],
    "create_graph_grad_has_fn": ["x = torch.tensor(3., requires_grad=True)\ny = x ** 3\ny.backward(create_graph=True)\n"
                                 "g = x.grad\nprint(g, g.requires_grad)\nx.grad = None\ng.backward()\nx.grad"],
    "autograd_grad": ["x = torch.tensor([1., 2.], requires_grad=True)\ny = (x ** 2).sum()\n"
                      "torch.autograd.grad(y, x), x.grad"],
    "autograd_grad_unused": ["x = torch.tensor(1., requires_grad=True)\nz = torch.tensor(1., requires_grad=True)\n"
                             "torch.autograd.grad(x * 2, [x, z])"],
    "autograd_grad_unused_allowed": ["x = torch.tensor(1., requires_grad=True)\nz = torch.tensor(1., requires_grad=True)\n"
                                     "torch.autograd.grad(x * 2, [x, z], allow_unused=True)"],
    "autograd_grad_no_req": ["x = torch.tensor(1., requires_grad=True)\nz = torch.tensor(1.)\n"
                             "torch.autograd.grad(x * 2, [z])"],
    "grad_modes": ["x = torch.ones(1, requires_grad=True)\nwith torch.no_grad():\n    with torch.enable_grad():\n"
                   "        y = x * 2\n    z = x * 2\nprint(y.requires_grad, z.requires_grad, torch.is_grad_enabled())\n"
                   "torch.set_grad_enabled(False)\nw = x * 2\ntorch.set_grad_enabled(True)\n"
                   "@torch.no_grad()\ndef f(t):\n    return t * 2\nprint(w.requires_grad, f(x).requires_grad)\n"
                   "with torch.inference_mode():\n    q = x * 2\nq.requires_grad"],
    "requires_grad_errors": ["y = torch.ones(2, requires_grad=True) * 2\ny.requires_grad_(False)"],
    "requires_grad_int": ["torch.tensor([1, 2]).requires_grad_()"],
    "retain_grad_accumulates": ["x = torch.ones(2, requires_grad=True)\ny = x * 3\ny.retain_grad()\nz = (y * y).sum()\n"
                                "z.backward(retain_graph=True)\nz.backward()\ny.grad, x.grad"],
    "hooks": ["x = torch.ones(2, requires_grad=True)\ny = x * 3\nh = y.register_hook(lambda g: g * 10)\n"
              "y.sum().backward()\nprint(x.grad)\nh.remove()\ny2 = x * 3\ny2.sum().backward()\nx.grad"],
    "leaf_hook": ["x = torch.ones(2, requires_grad=True)\nx.register_hook(lambda g: print('hook', g))\n(x * 2).sum().backward()\nx.grad"],
    "dtype_promotion": ["a = torch.tensor([1, 2])\nb = torch.tensor([1., 2.])\nc = torch.tensor(1., dtype=torch.float64)\n"
                        "(a + 1.5, a * 2, a / 2, a + b, b + c, a + c, (a > 1), a // 2, torch.tensor(True) + 1)"],
    "int_inplace_float": ["a = torch.tensor([1, 2])\na += 1.5"],
    "broadcast_error": ["torch.ones(2, 3) + torch.ones(4)"],
    "mm_error": ["torch.ones(2, 3).mm(torch.ones(4, 5))"],
    "index_error": ["torch.ones(3)[5]"],
    "cat_error": ["torch.cat([torch.ones(2, 3), torch.ones(2, 4)], 0)"],
    "view_error": ["torch.ones(2, 3).view(4, 2)"],
    "item_error": ["torch.ones(2).item()"],
    "numpy_requires_grad": ["torch.ones(2, requires_grad=True).numpy()"],
    "bool_ambiguous": ["bool(torch.ones(2))"],
    "repr_variety": ["print(torch.tensor([1e-5, 1e5]))\nprint(torch.tensor([[1.5, -2.25], [3.125, 4.0]]))\n"
                     "print(torch.arange(20).reshape(4, 5))\nprint(torch.zeros(2, 0))\nprint(torch.tensor([True, False]))\n"
                     "print(torch.tensor([1., float('nan'), float('inf')]))\nprint(torch.ones(3, dtype=torch.float64) / 3)\n"
                     "print(torch.arange(2000.))\nprint(torch.tensor(2.5).item(), torch.tensor([1, 2]).tolist())\n"
                     "print(torch.ones(2, 3).shape, torch.ones(2, 3).size(1), torch.ones(2,3).dtype)"],
    "next_functions_chain": ["x = torch.ones(2, requires_grad=True)\nw = torch.ones(2, requires_grad=True)\n"
                             "l = ((x * w).sum() + (x - 1).pow(2).mean())\n"
                             "def walk(fn, depth=0):\n    print(' ' * depth + type(fn).__name__)\n"
                             "    for n, _ in getattr(fn, 'next_functions', ()):\n        if n is not None:\n"
                             "            walk(n, depth + 1)\nwalk(l.grad_fn)"],
    "diamond_accumulates": ["x = torch.tensor(2., requires_grad=True)\ns = x ** 2\nq = (s + 1) * (s - 1)\nq.backward()\nx.grad"],
    "zero_grad_none": ["x = torch.ones(2, requires_grad=True)\n(x * 2).sum().backward()\ng = x.grad\n"
                       "(x * 2).sum().backward()\nprint(g is x.grad)\nx.grad = None\n(x * 2).sum().backward()\nx.grad"],
    "data_no_version": ["x = torch.ones(2, requires_grad=True)\ny = x * x\nx.data.mul_(2)\ny.sum().backward()\nx.grad, x._version"],
}


@pytest.mark.parametrize("name", sorted(SNIPPETS))
def test_snippet_matches_torch(name):
    assert_same(SNIPPETS[name])
