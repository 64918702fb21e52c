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

T = "torch.ones(2, 3)"
I = "torch.arange(6).reshape(2, 3)"
# argument types: a wrong python type where a Tensor / int / dtype is expected
CASES.update({
    "add_none": ("torch.ones(2).add(None)", "None"),
    "add_str": ("torch.ones(2).add('a')", "None"),
    "add_list": ("torch.add(torch.ones(2), [1.0, 2.0])", "None"),
    "mul_none": ("torch.ones(2).mul(None)", "None"),
    "op_plus_none": ("torch.ones(2) + None", "None"),
    "op_plus_str": ("torch.ones(2) + 'a'", "None"),
    "op_mul_list": ("torch.ones(2) * [1, 2]", "None"),
    "torch_add_list_first": ("torch.add([1.0], torch.ones(2))", "None"),
    "exp_of_list": ("torch.exp([1.0, 2.0])", "None"),
    "exp_of_int": ("torch.exp(1)", "None"),
    "exp_of_none": ("torch.exp(None)", "None"),
    "sum_dim_str": ("torch.ones(2).sum('a')", "None"),
    "sum_dim_float": ("torch.ones(2).sum(0.5)", "None"),
    "matmul_list": ("torch.matmul(torch.ones(2), [1.0, 2.0])", "None"),
    "mm_none": ("torch.mm(torch.ones(2, 2), None)", "None"),
    "cat_tensor_not_list": ("torch.cat(torch.ones(2, 2), torch.ones(2, 2))", "None"),
    "cat_with_none": ("torch.cat([torch.ones(2), None])", "None"),
    "stack_empty": ("torch.stack([])", "None"),
    "cat_empty": ("torch.cat([])", "None"),
    "where_non_bool_cond": ("torch.where(torch.ones(2), torch.ones(2), torch.zeros(2))", "None"),
    "add_alpha_true": ("torch.ones(2).add(1, alpha=True)", "None"),
    "add_alpha_float_int_tensor": ("torch.ones(2, dtype=torch.int64).add(1, alpha=0.5)", "None"),
    "ones_dtype_str": ("torch.ones(2, dtype='float32')", "None"),
    "ones_requires_grad_str": ("torch.ones(2, requires_grad='yes')", "None"),
    "ones_size_float": ("torch.ones(2.5)", "None"),
    "ones_size_negative": ("torch.ones(-1)", "None"),
    "zeros_size_str": ("torch.zeros('a')", "None"),
    "reshape_float": ("torch.ones(6).reshape(2.0, 3)", "None"),
    "view_none": ("torch.ones(6).view(None)", "None"),
    "to_str_dtype": ("torch.ones(2).to('float64x')", "None"),
    "tensor_of_str": ("torch.tensor('abc')", "None"),
    "tensor_ragged": ("torch.tensor([[1, 2], [3]])", "None"),
    "tensor_of_none": ("torch.tensor([1.0, None])", "None"),
    "tensor_int_overflow": ("torch.tensor([2 ** 64])", "None"),
    "tensor_int_overflow_int8": ("torch.tensor([300], dtype=torch.int8)", "None"),
    "tensor_requires_grad_int": ("torch.tensor([1, 2], requires_grad=True)", "None"),
    "clamp_no_bounds": ("torch.ones(2).clamp()", "None"),
    "clamp_tensor_min_scalar_max": ("torch.ones(2).clamp(min=torch.zeros(2), max=1.0)", "None"),
    "pow_str": ("torch.ones(2).pow('a')", "None"),
    "unknown_kwarg": ("torch.ones(2).sum(dimm=0)", "None"),
    "too_many_args": ("torch.exp(torch.ones(2), torch.ones(2), 3)", "None"),
})
# shapes and broadcasting
CASES.update({
    "mul_shape_mismatch": ("torch.ones(3) * torch.ones(4)", "None"),
    "mm_shape_mismatch": ("torch.mm(torch.ones(2, 3), torch.ones(2, 3))", "None"),
    "mm_1d": ("torch.mm(torch.ones(3), torch.ones(3))", "None"),
    "bmm_2d": ("torch.bmm(torch.ones(2, 3), torch.ones(3, 2))", "None"),
    "bmm_batch_mismatch": ("torch.bmm(torch.ones(2, 2, 3), torch.ones(3, 3, 2))", "None"),
    "matmul_0d": ("torch.matmul(torch.tensor(1.0), torch.ones(2))", "None"),
    "dot_mismatch": ("torch.dot(torch.ones(3), torch.ones(4))", "None"),
    "dot_2d": ("torch.dot(torch.ones(2, 2), torch.ones(2, 2))", "None"),
    "mv_mismatch": ("torch.mv(torch.ones(2, 3), torch.ones(2))", "None"),
    "outer_2d": ("torch.outer(torch.ones(2, 2), torch.ones(2))", "None"),
    "expand_bad": ("torch.ones(3).expand(4)", "None"),
    "expand_fewer_dims": ("torch.ones(2, 3).expand(3)", "None"),
    "expand_negative_new_dim": ("torch.ones(3).expand(-1, 3)", "None"),
    "broadcast_to_bad": ("torch.broadcast_to(torch.ones(3), (2, 4))", "None"),
    "where_shape_mismatch": ("torch.where(torch.ones(3) > 0, torch.ones(3), torch.ones(4))", "None"),
    "stack_shape_mismatch": ("torch.stack([torch.ones(2), torch.ones(3)])", "None"),
    "cat_ndim_mismatch": ("torch.cat([torch.ones(2, 2), torch.ones(2)])", "None"),
    "cat_dim_out_of_range": ("torch.cat([torch.ones(2), torch.ones(2)], dim=1)", "None"),
    "reshape_two_minus_one": ("torch.ones(6).reshape(-1, -1)", "None"),
    "view_non_contiguous": ("torch.ones(2, 3).t().view(6)", "None"),
    "view_neg_size": ("torch.ones(6).view(-2, 3)", "None"),
    "permute_wrong_len": ("torch.ones(2, 3).permute(0)", "None"),
    "permute_repeated": ("torch.ones(2, 3).permute(0, 0)", "None"),
    "transpose_out_of_range": ("torch.ones(2, 3).transpose(0, 2)", "None"),
    "t_of_3d": ("torch.ones(2, 3, 4).t()", "None"),
    "squeeze_0d_dim": ("torch.tensor(1.0).squeeze(10)", "None"),
    "squeeze_dim_out_of_range": ("torch.ones(2, 1).squeeze(3)", "None"),
    "unsqueeze_out_of_range": ("torch.ones(2).unsqueeze(3)", "None"),
    "flatten_bad_dims": ("torch.ones(2, 3, 4).flatten(2, 1)", "None"),
    "unflatten_bad": ("torch.ones(6).unflatten(0, (4, 2))", "None"),
    "roll_mismatched": ("torch.ones(3, 3).roll((1, 2), (0,))", "None"),
    "roll_dim_out_of_range": ("torch.ones(3).roll(1, 2)", "None"),
    "flip_repeated_dim": ("torch.ones(3, 3).flip(0, 0)", "None"),
    "repeat_fewer_dims": ("torch.ones(2, 3).repeat(2)", "None"),
    "repeat_negative": ("torch.ones(2).repeat(-1)", "None"),
    "chunk_zero": ("torch.ones(4).chunk(0)", "None"),
    "split_zero_size": ("torch.ones(4).split(0)", "None"),
    "split_sizes_wrong_sum": ("torch.ones(4).split([1, 2])", "None"),
    "narrow_out_of_range": ("torch.ones(4).narrow(0, 2, 3)", "None"),
    "select_out_of_range": ("torch.ones(2, 3).select(1, 3)", "None"),
    "unbind_0d": ("torch.tensor(1.0).unbind()", "None"),
    "diag_3d": ("torch.diag(torch.ones(2, 2, 2))", "None"),
    "tril_1d": ("torch.tril(torch.ones(3))", "None"),
    "inplace_broadcast_mul_": ("t = torch.ones(1)\nt.mul_(torch.ones(3))", "t"),
    "index_bool_mask_shape": ("torch.ones(3)[torch.tensor([True, False])]", "None"),
    "setitem_shape_mismatch": ("t = torch.ones(3)\nt[:2] = torch.ones(3)", "t"),
    "too_many_indices": ("torch.ones(3)[0, 0]", "None"),
    "index_0d": ("torch.tensor(1.0)[0]", "None"),
})
# dtypes
CASES.update({
    "float_bitwise_and": ("torch.ones(2) & torch.ones(2)", "None"),
    "float_bitwise_or_int": ("torch.ones(2) | 1", "None"),
    "float_invert": ("~torch.ones(2)", "None"),
    "float_shift": ("torch.ones(2) << 1", "None"),
    "randn_int": ("torch.randn(2, dtype=torch.int64)", "None"),
    "rand_int": ("torch.rand(2, dtype=torch.int64)", "None"),
    "int_floordiv_zero": ("torch.tensor([5]) // 0", "None"),
    "int_remainder_zero": ("torch.tensor([5]) % 0", "None"),
    "int_floordiv_zero_tensor": ("torch.tensor([5]) // torch.tensor([0])", "None"),
    "int_div_zero_true": ("torch.tensor([5]) / 0", "None"),
    "float_floordiv_zero": ("torch.tensor([5.0, -5.0, 0.0]) // 0", "None"),
    "float_remainder_zero": ("torch.tensor([5.0]) % 0", "None"),
    "int_pow_negative": ("torch.tensor([2]) ** -1", "None"),
    "int_pow_negative_tensor": ("torch.tensor([2]).pow(torch.tensor([-1]))", "None"),
    "bool_neg": ("-torch.tensor([True])", "None"),
    "mm_dtype_mismatch": ("torch.mm(torch.ones(2, 2), torch.ones(2, 2, dtype=torch.float64))", "None"),
    "matmul_int_float": ("torch.ones(2, 2, dtype=torch.int64) @ torch.ones(2, 2)", "None"),
    "inplace_int_true_div": ("t = torch.tensor([4])\nt.div_(2)", "t"),
    "inplace_bool_add": ("t = torch.tensor([True])\nt.add_(1)", "t"),
    "inplace_int_sqrt": ("t = torch.tensor([4])\nt.sqrt_()", "t"),
    "index_with_float": ("torch.ones(3)[torch.tensor([0.0])]", "None"),
    "index_select_float_index": ("torch.ones(3).index_select(0, torch.tensor([0.0]))", "None"),
    "gather_int32_index": ("torch.ones(3).gather(0, torch.tensor([0], dtype=torch.int32))", "None"),
    "mean_of_int": ("torch.tensor([1, 2]).mean()", "None"),
    "std_of_int": ("torch.tensor([1, 2]).std()", "None"),
    "exp_of_bool_ok": ("r = torch.tensor([True]).exp()", "r"),
    "sqrt_int_ok": ("r = torch.tensor([4]).sqrt()", "r"),
    "lerp_dtype_mismatch": ("torch.lerp(torch.ones(2), torch.ones(2, dtype=torch.float64), 0.5)", "None"),
    "abs_bool": ("torch.tensor([True]).abs()", "None"),
    "sign_bool_ok": ("r = torch.tensor([True]).sign()", "r"),
    "to_bad_type": ("torch.ones(2).to(3.5)", "None"),
    "type_bad_string": ("torch.ones(2).type('torch.Foo')", "None"),
    "bool_of_int_tensor_grad": ("torch.ones(2, dtype=torch.int64, requires_grad=True)", "None"),
    "complex_lt": ("torch.ones(2, dtype=torch.complex64) < 1", "None"),
    "complex_max": ("torch.ones(2, dtype=torch.complex64).max()", "None"),
})
# creation
CASES.update({
    "linspace_negative_steps": ("torch.linspace(0, 1, -1)", "None"),
    "logspace_negative_steps": ("torch.logspace(0, 1, -1)", "None"),
    "linspace_zero_ok": ("r = torch.linspace(0, 1, 0)", "r"),
    "eye_negative": ("torch.eye(-1)", "None"),
    "eye_negative_m": ("torch.eye(2, -1)", "None"),
    "arange_zero_step": ("torch.arange(0, 5, 0)", "None"),
    "arange_wrong_sign": ("torch.arange(0, 5, -1)", "None"),
    "arange_inf": ("torch.arange(0, float('inf'))", "None"),
    "arange_nan": ("torch.arange(0, float('nan'))", "None"),
    "randint_low_ge_high": ("torch.randint(5, 2, (3,))", "None"),
    "randint_no_size": ("torch.randint(5, 2)", "None"),
    "randint_float_dtype_ok": ("r = torch.randint(0, 1, (2,), dtype=torch.float32)", "r"),
    "randperm_negative": ("torch.randperm(-1)", "None"),
    "normal_negative_std": ("torch.normal(0.0, -1.0, (2,))", "None"),
    "normal_negative_std_tensor": ("torch.normal(torch.zeros(2), -torch.ones(2))", "None"),
    "normal_inplace_negative_std": ("t = torch.zeros(2)\nt.normal_(0, -1)", "t"),
    "uniform_from_gt_to": ("t = torch.zeros(2)\nt.uniform_(1, 0)", "t"),
    "bernoulli_p_gt_1": ("torch.bernoulli(torch.full((2,), 1.5))", "None"),
    "multinomial_negative": ("torch.multinomial(torch.tensor([1.0, -1.0]), 1)", "None"),
    "multinomial_zero_sum": ("torch.multinomial(torch.tensor([0.0, 0.0]), 1)", "None"),
    "multinomial_too_many": ("torch.multinomial(torch.tensor([1.0, 1.0]), 3)", "None"),
    "multinomial_3d": ("torch.multinomial(torch.ones(2, 2, 2), 1)", "None"),
    "multinomial_nan": ("torch.multinomial(torch.tensor([1.0, float('nan')]), 1)", "None"),
    "multinomial_int": ("torch.multinomial(torch.tensor([1, 1]), 1)", "None"),
    "full_bool_fill_int": ("r = torch.full((2,), True)", "r"),
    "full_no_size": ("torch.full(2, 1.0)", "None"),
    "empty_negative": ("torch.empty(2, -3)", "None"),
    "zeros_like_list": ("torch.zeros_like([1, 2])", "None"),
    "ones_like_bad_dtype": ("torch.ones_like(torch.ones(2), dtype='x')", "None"),
    "tensor_from_tensor_list": ("r = torch.tensor([torch.tensor(1.0), torch.tensor(2.0)])", "r"),
    "tensor_multi_element_in_list": ("torch.tensor([torch.ones(2), 1.0])", "None"),
    "as_tensor_str": ("torch.as_tensor('a')", "None"),
    "from_numpy_list": ("torch.from_numpy([1, 2])", "None"),
    "manual_seed_negative_ok": ("torch.manual_seed(-1)\nr = 1", "r"),
    "manual_seed_str": ("torch.manual_seed('a')", "None"),
    "tensor_nan_int": ("torch.tensor([float('nan')], dtype=torch.int64)", "None"),
    "full_nan_int": ("torch.full((2,), float('nan'), dtype=torch.int64)", "None"),
})
# indexing
CASES.update({
    "gather_out_of_range": ("torch.ones(3).gather(0, torch.tensor([5]))", "None"),
    "gather_negative": ("torch.ones(3).gather(0, torch.tensor([-1]))", "None"),
    "gather_ndim_mismatch": ("torch.ones(3, 3).gather(0, torch.tensor([0]))", "None"),
    "index_select_out_of_range": ("torch.ones(3).index_select(0, torch.tensor([3]))", "None"),
    "index_select_2d_index": ("torch.ones(3).index_select(0, torch.tensor([[0]]))", "None"),
    "scatter_out_of_range": ("torch.zeros(3).scatter(0, torch.tensor([3]), torch.ones(1))", "None"),
    "scatter_inplace_out_of_range": ("t = torch.zeros(3)\nt.scatter_(0, torch.tensor([3]), 1.0)", "t"),
    "scatter_add_out_of_range": ("torch.zeros(3).scatter_add(0, torch.tensor([4]), torch.ones(1))", "None"),
    "index_add_out_of_range": ("torch.zeros(3).index_add(0, torch.tensor([3]), torch.ones(1))", "None"),
    "index_add_wrong_source": ("torch.zeros(3).index_add(0, torch.tensor([0]), torch.ones(2))", "None"),
    "index_fill_out_of_range": ("torch.zeros(3).index_fill(0, torch.tensor([3]), 1.0)", "None"),
    "index_copy_out_of_range": ("torch.zeros(3).index_copy(0, torch.tensor([3]), torch.ones(1))", "None"),
    "take_out_of_range": ("torch.ones(3).take(torch.tensor([3]))", "None"),
    "tensor_index_out_of_range": ("torch.ones(3)[torch.tensor([3])]", "None"),
    "tensor_index_negative_ok": ("r = torch.arange(3.0)[torch.tensor([-1])]", "r"),
    "tensor_index_too_negative": ("torch.ones(3)[torch.tensor([-4])]", "None"),
    "setitem_index_out_of_range": ("t = torch.zeros(3)\nt[torch.tensor([3])] = 1.0", "t"),
    "setitem_int_out_of_range": ("t = torch.zeros(3)\nt[3] = 1.0", "t"),
    "index_put_out_of_range": ("t = torch.zeros(3)\nt.index_put_((torch.tensor([5]),), torch.tensor(1.0))", "t"),
    "masked_fill_non_bool": ("torch.zeros(3).masked_fill(torch.ones(3), 1.0)", "None"),
    "masked_fill_tensor_value_nd": ("torch.zeros(3).masked_fill(torch.ones(3) > 0, torch.ones(3))", "None"),
    "masked_select_shape": ("torch.zeros(3).masked_select(torch.ones(4) > 0)", "None"),
    "one_hot_out_of_range": ("torch.nn.functional.one_hot(torch.tensor([3]), 3)", "None"),
    "one_hot_negative": ("torch.nn.functional.one_hot(torch.tensor([-1]), 3)", "None"),
    "one_hot_float": ("torch.nn.functional.one_hot(torch.tensor([1.0]), 3)", "None"),
    "embedding_out_of_range": ("torch.nn.Embedding(3, 2)(torch.tensor([3]))", "None"),
    "embedding_float_index": ("torch.nn.Embedding(3, 2)(torch.tensor([1.0]))", "None"),
    "bincount_negative": ("torch.bincount(torch.tensor([-1]))", "None"),
    "bincount_float": ("torch.bincount(torch.tensor([1.0]))", "None"),
    "topk_too_large": ("torch.ones(3).topk(4)", "None"),
    "kthvalue_out_of_range": ("torch.ones(3).kthvalue(4)", "None"),
    "diagonal_same_dims": ("torch.ones(2, 2).diagonal(0, 0, 0)", "None"),
    "index_with_list_out_of_range": ("torch.ones(3)[[0, 5]]", "None"),
})
# reductions and empty inputs
CASES.update({
    "argmax_empty": ("torch.zeros(0).argmax()", "None"),
    "argmin_empty": ("torch.zeros(0).argmin()", "None"),
    "max_empty": ("torch.zeros(0).max()", "None"),
    "min_empty": ("torch.zeros(0).min()", "None"),
    "amax_empty": ("torch.zeros(0).amax()", "None"),
    "max_dim_empty": ("torch.zeros(0, 3).max(0)", "None"),
    "sum_empty_ok": ("r = torch.zeros(0).sum()", "r"),
    "prod_empty_ok": ("r = torch.zeros(0).prod()", "r"),
    "mean_empty_nan": ("r = torch.zeros(0).mean()", "r"),
    "std_single_nan": ("r = torch.ones(1).std()", "r"),
    "var_empty": ("r = torch.zeros(0).var()", "r"),
    "median_empty": ("torch.zeros(0).median()", "None"),
    "kthvalue_empty": ("torch.zeros(0).kthvalue(1)", "None"),
    "logsumexp_empty_ok": ("r = torch.zeros(0).logsumexp(0)", "r"),
    "softmax_empty_ok": ("r = torch.zeros(0).softmax(0)", "r"),
    "sum_repeated_dim": ("torch.ones(2, 3).sum((0, 0))", "None"),
    "mean_dim_out_of_range": ("torch.ones(2).mean(1)", "None"),
    "softmax_no_dim_2d_ok": ("r = torch.ones(2).softmax(0)", "r"),
    "cumsum_dim_out_of_range": ("torch.ones(2).cumsum(1)", "None"),
    "norm_bad_p": ("torch.ones(2).norm(p='foo')", "None"),
    "max_of_0d_dim1": ("torch.tensor(1.0).max(1)", "None"),
    "sum_0d_dim0_ok": ("r = torch.tensor(2.0).sum(0)", "r"),
    "all_on_float_ok": ("r = torch.tensor([1.0, 0.0]).all()", "r"),
    "quantile_out_of_range": ("torch.ones(3).quantile(1.5)", "None"),
    "quantile_int": ("torch.tensor([1, 2]).quantile(0.5)", "None"),
    "histc_int": ("torch.tensor([1, 2]).histc()", "None"),
})
# autograd misuse
CASES.update({
    "inference_tensor_backward_saved": ("with torch.inference_mode():\n    t = torch.ones(2)\n"
                                        "y = (a * t).sum()\ny.backward()", "a.grad"),
    "inference_tensor_inplace_outside": ("with torch.inference_mode():\n    t = torch.ones(2)\nt.add_(1)", "t"),
    "inference_tensor_requires_grad": ("with torch.inference_mode():\n    t = torch.ones(2)\n"
                                       "t.requires_grad_()", "t.requires_grad"),
    "inference_mode_output_no_grad": ("with torch.inference_mode():\n    y = a * 2\n", "y.requires_grad, y.grad_fn"),
    "inference_tensor_view_inplace": ("with torch.inference_mode():\n    t = torch.ones(2)\nt[0] = 5.0", "t"),
    "inference_is_inference": ("with torch.inference_mode():\n    t = torch.ones(2)\n", "t.is_inference()"),
    "backward_inside_hook": ("b = torch.ones(2, requires_grad=True)\n"
                             "def h(g):\n    (b * 2).sum().backward()\n    return g\n"
                             "a.register_hook(h)\n(a * 3).sum().backward()", "a.grad, b.grad"),
    "hook_returns_wrong_shape_nonleaf": ("b = a * 1\nb.register_hook(lambda g: torch.ones(3))\n"
                                         "(b * 2).sum().backward()", "a.grad"),
    "hook_raises": ("def h(g):\n    raise ValueError('boom')\na.register_hook(h)\n(a * 2).sum().backward()",
                    "a.grad"),
    "hook_remove_twice": ("h = a.register_hook(lambda g: g * 2)\nh.remove()\nh.remove()\n(a * 2).sum().backward()",
                          "a.grad"),
    "grad_set_on_nonleaf": ("b = a * 2\nb.grad = torch.ones(2)", "b.grad"),
    "grad_set_none_ok": ("(a * 2).sum().backward()\na.grad = None", "a.grad"),
    "grad_set_int_tensor": ("a.grad = torch.ones(2, dtype=torch.int64)", "a.grad"),
    "grad_of_int_leaf": ("t = torch.ones(2, dtype=torch.int64)\nt.grad = torch.ones(2)", "t.grad"),
    "autograd_grad_no_graph": ("torch.autograd.grad(torch.ones(1).sum(), torch.ones(1))", "None"),
    "autograd_grad_input_not_rg": ("t = torch.ones(2)\ntorch.autograd.grad((a * 2).sum(), t)", "None"),
    "autograd_grad_twice": ("y = (a * a).sum()\ntorch.autograd.grad(y, a)\ntorch.autograd.grad(y, a)", "a.grad"),
    "autograd_grad_allow_unused": ("b = torch.ones(2, requires_grad=True)\n"
                                   "r = torch.autograd.grad((a * 2).sum(), [a, b], allow_unused=True)", "r[1]"),
    "backward_grad_dtype_mismatch": ("(a * 2).backward(torch.ones(2, dtype=torch.float64))", "a.grad"),
    "backward_grad_int": ("(a * 2).backward(torch.ones(2, dtype=torch.int64))", "a.grad"),
    "backward_inputs_not_leaf_ok": ("b = a * 2\n(b * 3).sum().backward(inputs=[b])", "a.grad, b.grad"),
    "backward_inputs_empty": ("(a * 2).sum().backward(inputs=[])", "a.grad"),
    "retain_grad_no_rg": ("torch.ones(2).retain_grad()", "None"),
    "detach_inplace_on_view": ("b = a * 1\nv = b[0:1]\nv.detach_()", "v.requires_grad"),
    "inplace_on_leaf_under_grad_view_of_view": ("x[1:][1:].mul_(2)", "x, x._version"),
    "inplace_on_multi_output_view": ("b = a * 1\nu, w = b.unbind()\nu.mul_(2)", "b"),
    "inplace_on_split_view": ("b = a * 1\nu, w = b.split(1)\nu.mul_(2)", "b"),
    "inplace_on_chunk_view": ("b = a * 1\nu, w = b.chunk(2)\nu.mul_(2)", "b"),
    "no_grad_then_backward": ("with torch.no_grad():\n    y = (a * 2).sum()\ny.backward()", "a.grad"),
    "set_grad_enabled_str": ("torch.set_grad_enabled('x')", "None"),
    "function_forward_returns_non_tensor": ("""
class F(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return 3
    @staticmethod
    def backward(ctx, g):
        return g
F.apply(a)
""", "None"),
    "function_backward_returns_none_ok": ("""
class F(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2
    @staticmethod
    def backward(ctx, g):
        return None
F.apply(a).sum().backward()
""", "a.grad"),
    "function_too_few_grads": ("""
class F(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, y):
        return x * y
    @staticmethod
    def backward(ctx, g):
        return g
F.apply(a, a).sum().backward()
""", "a.grad"),
    "function_save_non_tensor": ("""
class F(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(3)
        return x * 2
    @staticmethod
    def backward(ctx, g):
        return g
F.apply(a)
""", "None"),
    "function_saved_modified": ("""
class F(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * 2
    @staticmethod
    def backward(ctx, g):
        x, = ctx.saved_tensors
        return g * x
b = a * 1
y = F.apply(b)
b.mul_(2)
y.sum().backward()
""", "a.grad"),
    "function_call_directly": ("""
class F(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2
    @staticmethod
    def backward(ctx, g):
        return g
F()(a)
""", "None"),
    "function_no_backward": ("""
class F(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2
F.apply(a).sum().backward()
""", "a.grad"),
    "function_grad_for_non_tensor": ("""
class F(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, k):
        return x * k
    @staticmethod
    def backward(ctx, g):
        return g * 2, torch.ones(1)
F.apply(a, 2).sum().backward()
""", "a.grad"),
    "saved_tensors_twice_free": ("y = a.exp()\ny.sum().backward()\ny.grad_fn._saved_result", "None"),
    "jacobian_non_tensor": ("torch.autograd.functional.jacobian(lambda t: 3, a)", "None"),
})
# nn and optim
CASES.update({
    "linear_1d_wrong": ("torch.nn.Linear(3, 2)(torch.ones(4))", "None"),
    "linear_int_input": ("torch.nn.Linear(2, 2)(torch.ones(2, dtype=torch.int64))", "None"),
    "linear_double_input": ("torch.nn.Linear(2, 2)(torch.ones(2, dtype=torch.float64))", "None"),
    "linear_negative_features": ("torch.nn.Linear(-1, 2)", "None"),
    "conv2d_wrong_channels": ("torch.nn.Conv2d(3, 4, 3)(torch.ones(1, 2, 5, 5))", "None"),
    "conv2d_too_small": ("torch.nn.Conv2d(1, 1, 3)(torch.ones(1, 1, 2, 2))", "None"),
    "conv2d_2d_input": ("torch.nn.Conv2d(1, 1, 1)(torch.ones(5, 5))", "None"),
    "conv1d_wrong_ndim": ("torch.nn.Conv1d(1, 1, 1)(torch.ones(1, 1, 5, 5))", "None"),
    "conv2d_groups_bad": ("torch.nn.Conv2d(3, 4, 3, groups=2)", "None"),
    "maxpool_too_big": ("torch.nn.functional.max_pool2d(torch.ones(1, 1, 2, 2), 3)", "None"),
    "maxpool_pad_too_big": ("torch.nn.functional.max_pool2d(torch.ones(1, 1, 4, 4), 2, padding=2)", "None"),
    "batchnorm_wrong_features": ("torch.nn.BatchNorm1d(3)(torch.ones(4, 2))", "None"),
    "batchnorm_single_value": ("torch.nn.BatchNorm1d(3)(torch.ones(1, 3))", "None"),
    "layernorm_wrong_shape": ("torch.nn.LayerNorm(3)(torch.ones(2, 4))", "None"),
    "embedding_neg_index": ("torch.nn.Embedding(3, 2)(torch.tensor([-1]))", "None"),
    "mse_shape_mismatch_warns": ("r = torch.nn.functional.mse_loss(torch.ones(2), torch.ones(3))", "None"),
    "cross_entropy_float_target_shape": ("torch.nn.functional.cross_entropy(torch.ones(2, 3), torch.ones(2))",
                                         "None"),
    "cross_entropy_batch_mismatch": ("torch.nn.functional.cross_entropy(torch.ones(2, 3), torch.tensor([0]))",
                                     "None"),
    "nll_loss_negative_target": ("torch.nn.functional.nll_loss(torch.ones(2, 3), torch.tensor([0, -5]))", "None"),
    "bce_out_of_range": ("torch.nn.functional.binary_cross_entropy(torch.tensor([1.5]), torch.tensor([1.0]))",
                         "None"),
    "bce_target_shape": ("torch.nn.functional.binary_cross_entropy(torch.tensor([0.5]), torch.tensor([1.0, 0.0]))",
                         "None"),
    "softmax_dim_out_of_range": ("torch.nn.functional.softmax(torch.ones(2), dim=1)", "None"),
    "dropout_negative_p": ("torch.nn.Dropout(-0.1)", "None"),
    "sequential_bad_module": ("torch.nn.Sequential(3)", "None"),
    "module_setattr_param_non_param": ("m = torch.nn.Linear(2, 2)\nm.weight = torch.ones(2, 2)",
                                       "type(m.weight).__name__, m.weight.shape"),
    "register_parameter_bad_name": ("m = torch.nn.Module()\nm.register_parameter('a.b', None)", "None"),
    "register_parameter_tensor": ("m = torch.nn.Module()\nm.register_parameter('w', torch.ones(2))", "None"),
    "module_call_no_forward": ("torch.nn.Module()(1)", "None"),
    "module_getattr_missing": ("torch.nn.Linear(2, 2).foo", "None"),
    "parameter_of_int": ("torch.nn.Parameter(torch.ones(2, dtype=torch.int64))", "None"),
    "optimizer_same_param_twice": ("torch.optim.SGD([a, a], lr=0.1)\nr = 1", "r"),
    "optimizer_bad_momentum": ("torch.optim.SGD([a], lr=0.1, momentum=-1)", "None"),
    "optimizer_nesterov_no_momentum": ("torch.optim.SGD([a], lr=0.1, nesterov=True)", "None"),
    "adam_bad_beta": ("torch.optim.Adam([a], betas=(1.5, 0.9))", "None"),
    "adam_bad_eps": ("torch.optim.Adam([a], eps=-1)", "None"),
    "optimizer_state_dict_aliasing": ("o = torch.optim.SGD([a], lr=0.1, momentum=0.9)\n(a * 2).sum().backward()\n"
                                      "o.step()\nsd = o.state_dict()\no.step()",
                                      "sd['state'][0]['momentum_buffer']"),
    "optimizer_load_wrong_groups": ("o = torch.optim.SGD([a], lr=0.1)\n"
                                    "o.load_state_dict({'state': {}, 'param_groups': []})", "None"),
    "optimizer_param_not_tensor": ("torch.optim.SGD([1.0], lr=0.1)", "None"),
    "optimizer_add_param_group_dup": ("o = torch.optim.SGD([a], lr=0.1)\no.add_param_group({'params': [a]})", "None"),
    "optimizer_step_no_grad_ok": ("o = torch.optim.SGD([a], lr=0.1)\no.step()", "a"),
    "clip_grad_norm_nan": ("a.grad = torch.tensor([float('nan'), 1.0])\n"
                           "torch.nn.utils.clip_grad_norm_([a], 1.0, error_if_nonfinite=True)", "a.grad"),
    "lr_scheduler_not_optimizer": ("torch.optim.lr_scheduler.StepLR(3, 1)", "None"),
})
# NaN and inf through ops and their grads
CASES.update({
    "sqrt_negative_nan": ("r = torch.tensor([-1.0]).sqrt()", "r"),
    "log_zero_grad": ("t = torch.tensor([0.0, 1.0], requires_grad=True)\nt.log().sum().backward()", "t.grad"),
    "sqrt_zero_grad": ("t = torch.tensor([0.0], requires_grad=True)\nt.sqrt().sum().backward()", "t.grad"),
    "div_zero_grad": ("t = torch.tensor([1.0], requires_grad=True)\n(t / torch.tensor([0.0])).sum().backward()",
                      "t.grad"),
    "pow_zero_zero_grad": ("t = torch.tensor([0.0], requires_grad=True)\n(t ** 0).sum().backward()", "t.grad"),
    "pow_zero_half_grad": ("t = torch.tensor([0.0], requires_grad=True)\n(t ** 0.5).sum().backward()", "t.grad"),
    "abs_zero_grad": ("t = torch.tensor([0.0], requires_grad=True)\nt.abs().sum().backward()", "t.grad"),
    "relu_zero_grad": ("t = torch.tensor([0.0], requires_grad=True)\nt.relu().sum().backward()", "t.grad"),
    "max_tie_grad": ("t = torch.tensor([1.0, 1.0], requires_grad=True)\nt.max().backward()", "t.grad"),
    "norm_zero_grad": ("t = torch.zeros(2, requires_grad=True)\nt.norm().backward()", "t.grad"),
    "exp_inf": ("r = torch.tensor([1000.0]).exp()", "r"),
    "nan_max": ("r = torch.tensor([1.0, float('nan')]).max()", "r"),
    "nan_argmax": ("r = torch.tensor([1.0, float('nan')]).argmax()", "r"),
    "nan_sort": ("r = torch.tensor([float('nan'), 1.0, 0.0]).sort().values", "r"),
    "nan_clamp": ("r = torch.tensor([float('nan')]).clamp(0, 1)", "r"),
    "nan_maximum": ("r = torch.maximum(torch.tensor([float('nan')]), torch.tensor([1.0]))", "r"),
    "nan_relu": ("r = torch.tensor([float('nan')]).relu()", "r"),
    "inf_minus_inf": ("r = torch.tensor([float('inf')]) - float('inf')", "r"),
    "softmax_inf": ("r = torch.tensor([float('inf'), 1.0]).softmax(0)", "r"),
    "softmax_all_neg_inf": ("r = torch.tensor([float('-inf'), float('-inf')]).softmax(0)", "r"),
    "log_softmax_inf": ("r = torch.tensor([float('-inf'), 0.0]).log_softmax(0)", "r"),
    "logsumexp_all_neg_inf": ("r = torch.tensor([float('-inf'), float('-inf')]).logsumexp(0)", "r"),
    "logsumexp_inf_grad": ("t = torch.tensor([float('inf'), 1.0], requires_grad=True)\n"
                           "t.logsumexp(0).backward()", "t.grad"),
    "nan_to_num_default": ("r = torch.tensor([float('nan'), float('inf'), -float('inf')]).nan_to_num()", "r"),
    "int_of_nan": ("r = torch.tensor([float('nan')]).long()", "r.dtype"),
    "item_nan": ("r = torch.tensor(float('nan')).item()", "r != r"),
    "nan_eq": ("r = torch.tensor([float('nan')]) == torch.tensor([float('nan')])", "r"),
    "isclose_nan": ("r = torch.isclose(torch.tensor([float('nan')]), torch.tensor([float('nan')]), equal_nan=True)",
                    "r"),
    "sigmoid_large_grad": ("t = torch.tensor([-1000.0, 1000.0], requires_grad=True)\n"
                           "t.sigmoid().sum().backward()", "t.grad"),
    "atan2_zero_grad": ("t = torch.tensor([0.0], requires_grad=True)\n"
                        "torch.atan2(t, torch.tensor([0.0])).sum().backward()", "t.grad"),
    "nan_mean_grad": ("t = torch.tensor([float('nan'), 1.0], requires_grad=True)\nt.mean().backward()", "t.grad"),
    "nansum_grad": ("t = torch.tensor([float('nan'), 1.0], requires_grad=True)\nt.nansum().backward()", "t.grad"),
    "inf_times_zero_grad": ("t = torch.tensor([float('inf')], requires_grad=True)\n(t * 0).sum().backward()",
                            "t.grad"),
    "where_nan_grad": ("t = torch.tensor([0.0, 1.0], requires_grad=True)\n"
                       "torch.where(t > 0, t.log(), torch.zeros(2)).sum().backward()", "t.grad"),
    "detect_anomaly_nan": ("with torch.autograd.detect_anomaly():\n"
                           "    t = torch.tensor([0.0], requires_grad=True)\n"
                           "    (t.sqrt() * 0).sum().backward()", "None"),
    "cumprod_zero_grad": ("t = torch.tensor([2.0, 0.0, 3.0], requires_grad=True)\nt.cumprod(0).sum().backward()",
                          "t.grad"),
    "prod_zero_grad": ("t = torch.tensor([2.0, 0.0, 3.0], requires_grad=True)\nt.prod().backward()", "t.grad"),
    "std_zero_grad": ("t = torch.ones(3, requires_grad=True)\nt.std().backward()", "t.grad"),
})

# deliberate differences: case -> why (the README's "Things to know" lists them)
DIFFERENCES: dict = {}


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


def _nan(v):
    """NaN compares equal to NaN in a case's state."""
    if isinstance(v, list):
        return [_nan(x) for x in v]
    return "nan" if v != v else v


def _plain(v):
    if isinstance(v, tuple):
        return tuple(_plain(x) for x in v)
    if isinstance(v, (torch.Tensor, funcgrad.Tensor)):
        vals = np.asarray(v.detach().tolist())
        if vals.dtype.kind in "fc":
            vals = vals.round(5)
        return ("tensor", str(v.dtype), tuple(v.shape), _nan(vals.tolist()), v.requires_grad, v.is_leaf)
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
