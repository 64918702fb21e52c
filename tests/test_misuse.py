"""Misuse, differentially: each case runs under torch and funcgrad; the exception class and message
(or its absence) must match, and so must the state the case leaves behind (``state`` returns what a
user would inspect afterwards: values, grads, leaf-ness, versions).

A case is ``(code, state)``: ``code`` is run with ``torch`` bound to the library; it may define
names that ``state`` reads back. Messages are compared up to the first line after masking object
addresses; ``DIFFERENCES`` lists the cases funcgrad deliberately answers differently, with why.
"""
import copy
import re
import textwrap

import numpy as np
import pytest
import torch

import funcgrad

ADDR = re.compile(r"0x[0-9a-fA-F]+")

SETUP = """
x = torch.ones(4, requires_grad=True)
a = torch.ones(2, requires_grad=True)
"""

CASES = {
    # in-place edits through views of leaves (state: the leaf untouched and still a leaf)
    "view_of_leaf_mul_": ("x.view(4).mul_(2)", "x, x.is_leaf, x._version"),
    "slice_of_leaf_add_": ("x[1:].add_(1)", "x, x.is_leaf, x._version"),
    "leaf_add_": ("x.add_(1)", "x, x.is_leaf, x._version"),
    "view_of_leaf_under_no_grad": ("with torch.no_grad():\n    x.view(4).mul_(2)", "x, x.is_leaf, x._version"),
    "leaf_setitem": ("x[0] = 3.0", "x, x.is_leaf"),
    # hooks: returned gradients are validated; in-place edits of the given grad are applied
    "hook_changes_size": ("a.register_hook(lambda g: torch.ones(5))\n(a * 2).sum().backward()", "a.grad"),
    "hook_changes_dtype": ("a.register_hook(lambda g: g.double())\n(a * 2).sum().backward()", "a.grad"),
    "hook_returns_non_tensor": ("a.register_hook(lambda g: 3)\n(a * 2).sum().backward()", "a.grad"),
    "hook_edits_in_place_nonleaf": ("b = a * 1\ndef h(g):\n    g.mul_(3)\nb.register_hook(h)\n"
                                    "(b * 2).sum().backward()", "a.grad"),
    "hook_edits_in_place_leaf": ("def h(g):\n    g.mul_(3)\na.register_hook(h)\n(a * 2).sum().backward()",
                                 "a.grad"),
    "hook_on_non_grad_tensor": ("torch.ones(2).register_hook(lambda g: g)", "None"),
    # custom Functions: returned gradients are checked and cast like torch's
    "function_returns_double": ("""
class F(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2
    @staticmethod
    def backward(ctx, g):
        return g.double()
F.apply(a).sum().backward()
""", "a.grad, a.grad.dtype"),
    "function_returns_wrong_shape": ("""
class G(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2
    @staticmethod
    def backward(ctx, g):
        return torch.ones(3)
G.apply(a).sum().backward()
""", "a.grad"),
    "function_mark_dirty_on_leaf": ("""
class H(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.mark_dirty(x)
        return x
    @staticmethod
    def backward(ctx, g):
        return g
H.apply(a)
""", "a, a.is_leaf"),
    "function_too_many_grads": ("""
class K(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2
    @staticmethod
    def backward(ctx, g):
        return g, g
K.apply(a).sum().backward()
""", "a.grad"),
    # .grad assignment
    "grad_wrong_size": ("a.grad = torch.ones(3)", "a.grad"),
    "grad_wrong_dtype": ("a.grad = torch.ones(2, dtype=torch.float64)", "a.grad"),
    "grad_not_tensor": ("a.grad = [1.0, 2.0]", "a.grad"),
    # backward misuse
    "backward_non_scalar": ("(a * 2).backward()", "a.grad"),
    "backward_twice": ("y = (a * a).sum()\ny.backward()\ny.backward()", "a.grad"),
    "backward_no_grad_fn": ("torch.ones(2).sum().backward()", "None"),
    "backward_wrong_gradient_shape": ("(a * 2).backward(torch.ones(3))", "a.grad"),
    "grad_of_non_scalar": ("torch.autograd.grad(a * 2, a)", "a.grad"),
    "grad_unused_input": ("b = torch.ones(2, requires_grad=True)\ntorch.autograd.grad((a * 2).sum(), [a, b])",
                          "a.grad"),
    "requires_grad_on_int": ("torch.ones(2, dtype=torch.int64).requires_grad_()", "None"),
    "requires_grad_on_non_leaf": ("(a * 2).requires_grad_(False)", "None"),
    "saved_tensor_modified": ("y = a.sigmoid()\nz = y * 1\ny.mul_(2)\nz.sum().backward()\nw = a.exp()\n"
                              "w.add_(1)\nw.sum().backward()", "a.grad"),
    "detach_then_inplace_saved": ("y = a.exp()\ny.detach().zero_()\ny.sum().backward()", "a.grad"),
    # nn / optim
    "module_to_int": ("m = torch.nn.Linear(2, 2)\nm.to(torch.int64)", "m.weight.dtype, m.weight.requires_grad"),
    "linear_wrong_in_features": ("torch.nn.Linear(3, 2)(torch.ones(4, 2))", "None"),
    "optimizer_non_leaf": ("torch.optim.SGD([a * 2], lr=0.1)", "None"),
    "optimizer_empty": ("torch.optim.SGD([], lr=0.1)", "None"),
    "optimizer_negative_lr": ("torch.optim.Adam([a], lr=-1.0)", "None"),
    "optimizer_param_twice_in_groups": ("torch.optim.SGD([{'params': [a]}, {'params': [a]}], lr=0.1)", "None"),
    "optimizer_tensor_params": ("torch.optim.SGD(a, lr=0.1)", "None"),
    "load_state_dict_missing_key": ("m = torch.nn.Linear(2, 2)\nm.load_state_dict({'weight': torch.ones(2, 2)})",
                                    "m.weight.shape"),
    "load_state_dict_wrong_shape": ("m = torch.nn.Linear(2, 2)\n"
                                    "m.load_state_dict({'weight': torch.ones(3, 2), 'bias': torch.ones(2)})",
                                    "m.weight.shape, m.bias.tolist() != [1.0, 1.0]"),
    "cross_entropy_bad_target": ("torch.nn.functional.cross_entropy(torch.ones(2, 3), torch.tensor([0, 3]))", "None"),
    "dropout_bad_p": ("torch.nn.functional.dropout(a, p=1.5)", "None"),
    # ops
    "matmul_shape_mismatch": ("torch.ones(2, 3) @ torch.ones(2, 3)", "None"),
    "add_shape_mismatch": ("torch.ones(2, 3) + torch.ones(4)", "None"),
    "sub_bool": ("torch.ones(2, dtype=torch.bool) - torch.ones(2, dtype=torch.bool)", "None"),
    "inplace_broadcast_result": ("t = torch.ones(3)\nt.add_(torch.ones(2, 3))", "t"),
    "inplace_dtype_promotion": ("t = torch.ones(3, dtype=torch.int64)\nt.add_(1.5)", "t"),
    "view_bad_shape": ("torch.ones(6).view(4, 2)", "None"),
    "reshape_bad_shape": ("torch.ones(6).reshape(4, -1)", "None"),
    "item_of_many": ("torch.ones(2).item()", "None"),
    "bool_of_many": ("bool(torch.ones(2))", "None"),
    "index_out_of_range": ("torch.ones(3)[5]", "None"),
    "dim_out_of_range": ("torch.ones(2, 3).sum(5)", "None"),
    "numpy_of_requires_grad": ("a.numpy()", "None"),
    "cat_dim_mismatch": ("torch.cat([torch.ones(2, 3), torch.ones(3, 2)])", "None"),
    "tensor_hash_and_eq": ("d = {a: 1}", "len(d)"),
}

# deliberate differences: case -> why (the README's "Things to know" lists them)
DIFFERENCES = {}


def _run(lib, code, state):
    ns = {"torch": lib, "np": np}
    exec(textwrap.dedent(SETUP), ns)
    err = None
    try:
        exec(textwrap.dedent(code).strip(), ns)
    except Exception as e:  # noqa: BLE001 - compared with torch's
        err = (type(e).__name__, ADDR.sub("0x?", str(e).split("\n")[0]))
    try:
        st = eval(state, ns)
    except Exception as e:  # noqa: BLE001
        st = ("state raised", type(e).__name__)
    return err, _plain(st)


def _plain(v):
    if isinstance(v, tuple):
        return tuple(_plain(x) for x in v)
    if isinstance(v, (torch.Tensor, funcgrad.Tensor)):
        return ("tensor", str(v.dtype), tuple(v.shape), np.asarray(v.detach().tolist()).round(5).tolist(),
                v.requires_grad, v.is_leaf)
    if isinstance(v, (torch.dtype, funcgrad.dtype)):
        return str(v)
    return v


@pytest.mark.parametrize("name", sorted(CASES))
def test_misuse_matches_torch(name):
    import warnings

    code, state = CASES[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = _run(torch, code, state)
        got = _run(funcgrad, code, state)
    if name in DIFFERENCES:
        pytest.xfail(DIFFERENCES[name])
    assert got == expected


def test_copy_copy_shares_storage_like_torch():
    for lib in (torch, funcgrad):
        t = lib.ones(2)
        c = copy.copy(t)
        c.add_(1)
        assert t.tolist() == [2.0, 2.0]
