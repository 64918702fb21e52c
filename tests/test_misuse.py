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
    "roll_shifts_none": ("torch.roll(torch.ones(3), None)", "None"),
    "roll_shifts_none_method": ("torch.ones(3).roll(None)", "None"),
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

# nn modules: wrong inputs, state dicts, registration
CASES.update({
    "conv1d_wrong_channels": ("torch.nn.Conv1d(3, 4, 3)(torch.ones(1, 2, 5))", "None"),
    "conv3d_wrong_ndim": ("torch.nn.Conv3d(1, 1, 1)(torch.ones(1, 1, 2, 2))", "None"),
    "conv2d_padding_same_strided": ("torch.nn.Conv2d(1, 1, 3, stride=2, padding='same')", "None"),
    # torch prints the allowed strings as a set (its order varies per process): compare the phrase
    "conv2d_padding_bad_string": ("try:\n    torch.nn.Conv2d(1, 1, 3, padding='foo')\nexcept ValueError as e:\n"
                                  "    r = str(e).split(',')[0]", "r"),
    "conv_transpose_wrong_channels": ("torch.nn.ConvTranspose2d(3, 4, 3)(torch.ones(1, 2, 5, 5))", "None"),
    "conv2d_weight_dtype_mismatch": ("torch.nn.Conv2d(1, 1, 1)(torch.ones(1, 1, 2, 2, dtype=torch.float64))", "None"),
    "linear_3d_wrong": ("torch.nn.Linear(3, 2)(torch.ones(2, 2, 4))", "None"),
    "linear_0d_input": ("torch.nn.Linear(1, 1)(torch.tensor(1.0))", "None"),
    "rnn_wrong_input_size": ("torch.nn.RNN(3, 4)(torch.ones(5, 2, 2))", "None"),
    "lstm_1d_input": ("torch.nn.LSTM(3, 4)(torch.ones(3))", "None"),
    "gru_wrong_h0": ("torch.nn.GRU(3, 4)(torch.ones(5, 2, 3), torch.ones(1, 3, 4))", "None"),
    "lstm_h0_not_tuple": ("torch.nn.LSTM(3, 4)(torch.ones(5, 2, 3), torch.ones(1, 2, 4))", "None"),
    "mha_not_divisible": ("torch.nn.MultiheadAttention(5, 2)", "None"),
    "mha_wrong_embed": ("m = torch.nn.MultiheadAttention(4, 2)\nq = torch.ones(3, 2, 5)\nm(q, q, q)", "None"),
    "sdpa_shape_mismatch": ("torch.nn.functional.scaled_dot_product_attention(torch.ones(2, 3, 4), "
                            "torch.ones(2, 5, 3), torch.ones(2, 5, 4))", "None"),
    "embedding_padding_idx_out_of_range": ("torch.nn.Embedding(3, 2, padding_idx=5)", "None"),
    "embedding_functional_out_of_range": ("torch.nn.functional.embedding(torch.tensor([5]), torch.ones(3, 2))",
                                          "None"),
    "load_state_dict_unexpected_key": ("m = torch.nn.Linear(2, 2)\nm.load_state_dict({'weight': torch.zeros(2, 2), "
                                       "'bias': torch.zeros(2), 'extra': torch.ones(1)})",
                                       "m.weight.tolist() == [[0.0, 0.0], [0.0, 0.0]]"),
    "load_state_dict_strict_false": ("m = torch.nn.Linear(2, 2)\nr = m.load_state_dict({'weight': torch.zeros(2, 2), "
                                     "'extra': torch.ones(1)}, strict=False)",
                                     "r.missing_keys, r.unexpected_keys, m.weight"),
    "load_state_dict_strict_false_wrong_shape": ("m = torch.nn.Linear(2, 2)\n"
                                                 "m.load_state_dict({'weight': torch.zeros(3, 2)}, strict=False)",
                                                 "m.weight.shape"),
    "load_state_dict_not_mapping": ("torch.nn.Linear(2, 2).load_state_dict([1, 2])", "None"),
    "register_buffer_non_tensor": ("m = torch.nn.Module()\nm.register_buffer('b', 3)", "None"),
    "register_buffer_existing_attr": ("m = torch.nn.Linear(2, 2)\nm.register_buffer('weight', torch.ones(2))",
                                      "type(m.weight).__name__"),
    "parameter_before_init": ("class M(torch.nn.Module):\n    def __init__(self):\n"
                              "        self.w = torch.nn.Parameter(torch.ones(2))\nM()", "None"),
    "submodule_before_init": ("class M(torch.nn.Module):\n    def __init__(self):\n"
                              "        self.l = torch.nn.Linear(1, 1)\nM()", "None"),
    "module_call_without_init": ("class M(torch.nn.Module):\n    def __init__(self):\n        pass\n"
                                 "    def forward(self, x):\n        return x\nM()(1)", "None"),
    "module_to_float64_ok": ("m = torch.nn.Linear(2, 2).to(torch.float64)", "m.weight.dtype, m.weight.requires_grad"),
    "module_to_bad_device": ("m = torch.nn.Linear(2, 2)\nm.to('foo')", "m.weight.dtype"),
    "add_module_bad_name": ("torch.nn.Module().add_module('a.b', torch.nn.ReLU())", "None"),
    "add_module_non_module": ("torch.nn.Module().add_module('x', 3)", "None"),
    "sequential_index_out_of_range": ("torch.nn.Sequential(torch.nn.ReLU())[3]", "None"),
    "modulelist_append_non_module": ("torch.nn.ModuleList().append(3)", "None"),
    "module_train_non_bool": ("torch.nn.Linear(2, 2).train('x')", "None"),
    "relu_inplace_leaf": ("torch.nn.functional.relu(a, inplace=True)", "a, a.is_leaf"),
    "batch_norm_eval_no_running": ("torch.nn.functional.batch_norm(torch.ones(4, 2), None, None, training=False)",
                                   "None"),
    "layer_norm_weight_shape": ("torch.nn.functional.layer_norm(torch.ones(4, 2), (2,), torch.ones(3))", "None"),
    "group_norm_not_divisible": ("torch.nn.GroupNorm(3, 4)", "None"),
    "group_norm_functional_not_divisible": ("torch.nn.functional.group_norm(torch.ones(2, 4), 3)", "None"),
    "instance_norm_running_shape": ("torch.nn.functional.instance_norm(torch.ones(4, 2, 3), torch.zeros(3), "
                                    "torch.ones(3))", "None"),
    "max_pool_stride_zero": ("torch.nn.functional.max_pool2d(torch.ones(1, 1, 4, 4), 2, stride=0)", "None"),
    "avg_pool_too_big": ("torch.nn.functional.avg_pool2d(torch.ones(1, 1, 2, 2), 3)", "None"),
    "pad_too_many": ("torch.nn.functional.pad(torch.ones(2), (1, 1, 1, 1))", "None"),
    "pad_reflect_too_big": ("torch.nn.functional.pad(torch.ones(1, 1, 2), (3, 3), mode='reflect')", "None"),
    "interpolate_no_size": ("torch.nn.functional.interpolate(torch.ones(1, 1, 4))", "None"),
    "interpolate_size_and_scale": ("torch.nn.functional.interpolate(torch.ones(1, 1, 4), size=2, scale_factor=2.0)",
                                   "None"),
})
# optim and lr_scheduler misuse (state: the optimizer unchanged after the error)
CASES.update({
    "sgd_negative_lr": ("torch.optim.SGD([a], lr=-0.1)", "None"),
    "adam_negative_weight_decay": ("torch.optim.Adam([a], weight_decay=-1.0)", "None"),
    "sgd_default_lr_ok": ("o = torch.optim.SGD([a])", "o.param_groups[0]['lr']"),
    "adam_step_no_grads": ("o = torch.optim.Adam([a], lr=0.1)\no.step()", "a, len(o.state)"),
    "optimizer_load_group_size_mismatch": ("b = torch.ones(2, requires_grad=True)\no = torch.optim.SGD([a], lr=0.1)\n"
                                           "o2 = torch.optim.SGD([a, b], lr=0.5)\no.load_state_dict(o2.state_dict())",
                                           "o.param_groups[0]['lr']"),
    "optimizer_load_missing_groups": ("o = torch.optim.SGD([a], lr=0.1)\no.load_state_dict({'state': {}})",
                                      "o.param_groups[0]['lr']"),
    "optimizer_add_group_no_params": ("o = torch.optim.SGD([a], lr=0.1)\no.add_param_group({'lr': 0.1})",
                                      "len(o.param_groups)"),
    "optimizer_add_group_set": ("o = torch.optim.SGD([a], lr=0.1)\n"
                                "o.add_param_group({'params': {torch.ones(1, requires_grad=True)}})",
                                "len(o.param_groups)"),
    "optimizer_params_generator_twice": ("b = torch.ones(2, requires_grad=True)\nps = (p for p in [a, b])\n"
                                         "o = torch.optim.SGD(ps, lr=0.1)", "len(o.param_groups[0]['params'])"),
    "lambdalr_wrong_count": ("o = torch.optim.SGD([a], lr=0.1)\n"
                             "torch.optim.lr_scheduler.LambdaLR(o, [lambda e: 1.0, lambda e: 1.0])",
                             "o.param_groups[0]['lr']"),
    "onecycle_no_total_steps": ("o = torch.optim.SGD([a], lr=0.1)\ntorch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.1)",
                                "o.param_groups[0]['lr']"),
    "plateau_bad_mode": ("o = torch.optim.SGD([a], lr=0.1)\n"
                         "torch.optim.lr_scheduler.ReduceLROnPlateau(o, mode='foo')", "None"),
    "plateau_bad_factor": ("o = torch.optim.SGD([a], lr=0.1)\n"
                           "torch.optim.lr_scheduler.ReduceLROnPlateau(o, factor=1.5)", "None"),
    "steplr_ok_state": ("o = torch.optim.SGD([a], lr=0.1)\ns = torch.optim.lr_scheduler.StepLR(o, 1, gamma=0.5)\n"
                        "o.step()\ns.step()", "o.param_groups[0]['lr'], s.get_last_lr()"),
    "optimizer_state_edited_in_place": ("o = torch.optim.SGD([a], lr=0.1, momentum=0.9)\n(a * 2).sum().backward()\n"
                                        "o.step()\no.state[a]['momentum_buffer'].mul_(0)\no.step()", "a"),
    "clip_grad_norm_no_grads": ("r = torch.nn.utils.clip_grad_norm_([a], 1.0)", "r"),
    "clip_grad_norm_bad_type": ("a.grad = torch.ones(2)\ntorch.nn.utils.clip_grad_norm_([a], 1.0, norm_type='x')",
                                "a.grad"),
})
# data utilities
CASES.update({
    "dataloader_batch_size_zero": ("torch.utils.data.DataLoader([1, 2, 3], batch_size=0)", "None"),
    "dataloader_sampler_and_shuffle": ("torch.utils.data.DataLoader([1, 2], shuffle=True, "
                                       "sampler=torch.utils.data.SequentialSampler([1, 2]))", "None"),
    "dataloader_batch_sampler_and_batch_size": (
        "bs = torch.utils.data.BatchSampler(torch.utils.data.SequentialSampler([1, 2]), 1, False)\n"
        "torch.utils.data.DataLoader([1, 2], batch_sampler=bs, batch_size=2)", "None"),
    "dataloader_negative_workers": ("torch.utils.data.DataLoader([1, 2], num_workers=-1)", "None"),
    "random_split_bad_lengths": ("torch.utils.data.random_split([1, 2, 3], [1, 1])", "None"),
    "random_split_fractions_ok": ("r = [len(s) for s in torch.utils.data.random_split(range(10), [0.5, 0.5])]", "r"),
    "random_split_bad_fractions": ("torch.utils.data.random_split(range(10), [0.5, 0.6])", "None"),
    "tensor_dataset_size_mismatch": ("torch.utils.data.TensorDataset(torch.ones(3), torch.ones(4))", "None"),
    "subset_index_out_of_range": ("torch.utils.data.Subset([1, 2], [5])[0]", "None"),
    "batch_sampler_zero": ("torch.utils.data.BatchSampler(torch.utils.data.SequentialSampler([1]), 0, False)",
                           "None"),
    "default_collate_mixed_shapes": ("torch.utils.data.default_collate([torch.ones(2), torch.ones(3)])", "None"),
})
# serialization
CASES.update({
    "load_non_weights_only_object": ("import io, datetime\nbuf = io.BytesIO()\n"
                                     "torch.save({'d': datetime.date(2020, 1, 1)}, buf)\nbuf.seek(0)\ntorch.load(buf)",
                                     "None"),
    "load_weights_only_false_ok": ("import io, datetime\nbuf = io.BytesIO()\n"
                                   "torch.save({'d': datetime.date(2020, 1, 1)}, buf)\nbuf.seek(0)\n"
                                   "r = torch.load(buf, weights_only=False)['d'].year", "r"),
    "load_bad_map_location": ("import io\nbuf = io.BytesIO()\ntorch.save(torch.ones(2), buf)\nbuf.seek(0)\n"
                              "torch.load(buf, map_location='foo')", "None"),
    "load_missing_file": ("torch.load('/nonexistent/funcgrad_misuse.pt')", "None"),
    "save_to_missing_dir": ("torch.save(torch.ones(2), '/nonexistent/dir/x.pt')", "None"),
    "load_not_a_checkpoint": ("import io\ntorch.load(io.BytesIO(b'not a checkpoint'))", "None"),
    "save_load_roundtrip_ok": ("import io\nbuf = io.BytesIO()\ntorch.save({'t': torch.arange(3.0)}, buf)\nbuf.seek(0)\n"
                               "r = torch.load(buf)['t']", "r"),
})
# autograd: re-entrancy, create_graph, grad_outputs, unused inputs
CASES.update({
    "backward_inside_function_backward": ("""
b = torch.ones(2, requires_grad=True)
class F(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2
    @staticmethod
    def backward(ctx, g):
        (b * 3).sum().backward()
        return g * 2
F.apply(a).sum().backward()
""", "a.grad, b.grad"),
    "grad_inside_hook": ("b = torch.ones(2, requires_grad=True)\nout = []\n"
                         "def h(g):\n    out.append(torch.autograd.grad((b * b).sum(), b)[0])\n    return g\n"
                         "a.register_hook(h)\n(a * 3).sum().backward()", "a.grad, out[0], b.grad"),
    "double_backward_create_graph": ("y = (a ** 3).sum()\ng, = torch.autograd.grad(y, a, create_graph=True)\n"
                                     "g.sum().backward()", "a.grad, g.requires_grad"),
    "double_backward_without_create_graph": ("y = (a ** 3).sum()\ng, = torch.autograd.grad(y, a)\n"
                                             "g.sum().backward()", "a.grad, g.requires_grad"),
    "backward_create_graph_grad_requires_grad": ("(a * a).sum().backward(create_graph=True)",
                                                 "a.grad, a.grad.requires_grad"),
    "grad_outputs_shape_mismatch": ("torch.autograd.grad(a * 2, a, torch.ones(3))", "None"),
    "grad_outputs_count_mismatch": ("torch.autograd.grad([a * 2], [a], [torch.ones(2), torch.ones(2)])", "None"),
    "grad_inputs_empty": ("torch.autograd.grad((a * 2).sum(), [])", "None"),
    "grad_allow_unused_materialize": ("b = torch.ones(2, requires_grad=True)\n"
                                      "r = torch.autograd.grad((a * 2).sum(), [a, b], allow_unused=True, "
                                      "materialize_grads=True)", "r[1]"),
    "grad_materialize_without_allow_unused": ("b = torch.ones(2, requires_grad=True)\n"
                                              "r = torch.autograd.grad((a * 2).sum(), [a, b], materialize_grads=True)",
                                              "r[1]"),
    "grad_output_not_requiring_grad": ("torch.autograd.grad(torch.ones(2).sum(), a)", "None"),
    "no_grad_inplace_on_leaf_ok": ("with torch.no_grad():\n    a.mul_(2)", "a, a.is_leaf, a.requires_grad"),
    "set_data_wrong_type": ("a.data = [1.0, 2.0]", "a"),
    "set_data_new_shape_ok": ("a.data = torch.ones(3)", "a"),
    "requires_grad_false_on_nonleaf": ("b = a * 2\nb.requires_grad = False", "b.requires_grad"),
    "register_hook_non_callable": ("a.register_hook(3)\n(a * 2).sum().backward()", "a.grad"),
    "inference_tensor_in_grad_op_unsaved_ok": ("with torch.inference_mode():\n    t = torch.ones(2)\n"
                                               "y = (a + t).sum()\ny.backward()", "a.grad"),
    "inference_tensor_requires_grad_ctor": ("with torch.inference_mode():\n    t = torch.ones(2, requires_grad=True)",
                                            "t.requires_grad, t.is_inference()"),
    "saved_self_after_free": ("y = a * a\ny.sum().backward()\ny.grad_fn._saved_self", "a.grad"),
    "saved_other_value": ("y = a * torch.full((2,), 3.0)", "y.grad_fn._saved_other"),
    "saved_result_value": ("y = a.exp()", "y.grad_fn._saved_result"),
    "saved_unknown_name": ("y = a * a\ny.grad_fn._saved_foo", "None"),
    "backward_inputs_leaf_and_nonleaf": ("b = a * 2\n(b * 3).sum().backward(inputs=[b, a])", "a.grad, b.grad"),
})
# NaN / inf through more ops and their gradients
CASES.update({
    "nan_sum": ("r = torch.tensor([float('nan'), 1.0]).sum()", "r"),
    "nan_min": ("r = torch.tensor([1.0, float('nan')]).min()", "r"),
    "nan_cumsum": ("r = torch.tensor([1.0, float('nan'), 1.0]).cumsum(0)", "r"),
    "nan_topk": ("r = torch.tensor([1.0, float('nan'), 2.0]).topk(2).values", "r"),
    "nan_median": ("r = torch.tensor([1.0, float('nan'), 2.0]).median()", "r"),
    "nan_argmin": ("r = torch.tensor([1.0, float('nan'), 0.0]).argmin()", "r"),
    "inf_std": ("r = torch.tensor([float('inf'), 1.0]).std()", "r"),
    "log_negative": ("r = torch.tensor([-1.0, 0.0]).log()", "r"),
    "acos_out_of_range": ("r = torch.tensor([2.0]).acos()", "r"),
    "zero_div_zero": ("r = torch.tensor([0.0]) / 0.0", "r"),
    "exp_overflow_grad": ("t = torch.tensor([1000.0], requires_grad=True)\nt.exp().sum().backward()", "t.grad"),
    "log_softmax_neg_inf_grad": ("t = torch.tensor([float('-inf'), 0.0], requires_grad=True)\n"
                                 "t.log_softmax(0).sum().backward()", "t.grad"),
    "norm_inf_grad": ("t = torch.tensor([1.0, -3.0, 3.0], requires_grad=True)\nt.norm(float('inf')).backward()",
                      "t.grad"),
    "clamp_nan_bound": ("r = torch.tensor([1.0, 2.0]).clamp(min=float('nan'))", "r"),
    "inf_to_int": ("r = torch.tensor([float('inf')]).long()", "r.dtype"),
    "tanh_large_grad": ("t = torch.tensor([100.0], requires_grad=True)\nt.tanh().sum().backward()", "t.grad"),
    "pow_negative_fractional": ("r = torch.tensor([-8.0]) ** (1.0 / 3)", "r"),
    "sqrt_negative_grad": ("t = torch.tensor([-1.0], requires_grad=True)\nt.sqrt().sum().backward()", "t.grad"),
    "asin_one_grad": ("t = torch.tensor([1.0], requires_grad=True)\nt.asin().sum().backward()", "t.grad"),
    "log1p_minus_one_grad": ("t = torch.tensor([-1.0], requires_grad=True)\nt.log1p().sum().backward()", "t.grad"),
    "nan_grad_through_max": ("t = torch.tensor([float('nan'), 1.0], requires_grad=True)\nt.max().backward()",
                             "t.grad"),
    "div_by_zero_tensor_grad": ("t = torch.tensor([0.0], requires_grad=True)\n(1.0 / t).sum().backward()", "t.grad"),
})
# integer overflow
CASES.update({
    "int32_add_wraps": ("r = torch.tensor([2 ** 31 - 1], dtype=torch.int32) + 1", "r"),
    "int64_mul_wraps": ("r = torch.tensor([2 ** 62]) * 4", "r"),
    "uint8_sub_wraps": ("r = torch.tensor([0], dtype=torch.uint8) - 1", "r"),
    "int8_neg_min": ("r = -torch.tensor([-128], dtype=torch.int8)", "r"),
    "int32_sum_promotes": ("r = torch.tensor([2 ** 31 - 1, 1], dtype=torch.int32).sum()", "r"),
    "add_python_int_too_big": ("torch.tensor([1]) + 2 ** 64", "None"),
    "int8_add_python_int_out_of_range": ("r = torch.tensor([1], dtype=torch.int8) + 300", "r"),
    "abs_int64_min": ("r = torch.tensor([-2 ** 63]).abs()", "r"),
    "full_int_overflow": ("torch.full((1,), 2 ** 63)", "None"),
})
# empty tensors through reductions and friends
CASES.update({
    "argmax_dim_empty": ("torch.zeros(0, 3).argmax(0)", "None"),
    "max_dim_nonempty_reduced_ok": ("r = torch.zeros(3, 0).max(0).values", "r"),
    "topk_empty_ok": ("r = torch.zeros(0).topk(0).values", "r"),
    "sort_empty_ok": ("r = torch.zeros(0).sort().values", "r"),
    "cumsum_empty_ok": ("r = torch.zeros(0).cumsum(0)", "r"),
    "mean_dim_empty": ("r = torch.zeros(0, 3).mean(0)", "r"),
    "prod_dim_empty_ok": ("r = torch.zeros(0, 3).prod(0)", "r"),
    "amin_empty": ("torch.zeros(0).amin()", "None"),
    "aminmax_empty": ("torch.zeros(0).aminmax()", "None"),
    "norm_empty_ok": ("r = torch.zeros(0).norm()", "r"),
    "quantile_empty": ("r = torch.zeros(0).quantile(0.5)", "r"),
    "mode_empty": ("torch.zeros(0).mode()", "None"),
    "median_dim_empty": ("torch.zeros(0, 2).median(0)", "None"),
    "cat_with_empty_ok": ("r = torch.cat([torch.zeros(0), torch.ones(2)])", "r"),
    "matmul_empty_inner_ok": ("r = torch.ones(2, 0) @ torch.ones(0, 3)", "r"),
    "min_max_dim_empty_keepdim": ("torch.zeros(2, 0).max(1, keepdim=True)", "None"),
})
# dtypes of in-place results and out=
CASES.update({
    "int_mul_float_tensor_inplace": ("t = torch.tensor([1])\nt.mul_(torch.tensor([1.5]))", "t"),
    "bool_mul_int_inplace": ("t = torch.tensor([True])\nt.mul_(2)", "t"),
    "float_add_complex_inplace": ("t = torch.ones(2)\nt.add_(1j)", "t"),
    "out_dtype_mismatch": ("r = torch.zeros(2, dtype=torch.int64)\ntorch.add(torch.ones(2), torch.ones(2), out=r)",
                           "r"),
    "out_resized": ("r = torch.zeros(3)\ntorch.add(torch.ones(2), torch.ones(2), out=r)", "r"),
    "out_requires_grad": ("torch.add(torch.ones(2), torch.ones(2), out=a)", "a"),
    "copy_float_to_int_truncates": ("t = torch.zeros(2, dtype=torch.int64)\nt.copy_(torch.tensor([1.7, -1.7]))", "t"),
    "copy_broadcast_fail": ("t = torch.zeros(2)\nt.copy_(torch.ones(3))", "t"),
    "fill_non_scalar_tensor": ("t = torch.zeros(2)\nt.fill_(torch.ones(2))", "t"),
    "index_put_bool_mask_shape": ("t = torch.zeros(3)\nt.index_put_((torch.tensor([True, False]),), torch.tensor(1.0))",
                                  "t"),
    "index_put_values_shape": ("t = torch.zeros(3)\nt.index_put_((torch.tensor([0, 1]),), torch.ones(3))", "t"),
    "masked_fill_int_mask": ("torch.zeros(3).masked_fill(torch.tensor([1, 0, 1]), 1.0)", "None"),
    "masked_fill_inplace_non_bool": ("t = torch.zeros(3)\nt.masked_fill_(torch.tensor([1, 0, 1]), 1.0)", "t"),
    "masked_fill_float_value_int_tensor": ("t = torch.zeros(3, dtype=torch.int64)\n"
                                           "t.masked_fill_(torch.tensor([True, False, True]), 1.5)", "t"),
    "masked_select_non_bool": ("torch.zeros(3).masked_select(torch.tensor([1, 0, 1]))", "None"),
    "masked_scatter_shape": ("torch.zeros(3).masked_scatter(torch.ones(4) > 0, torch.ones(4))", "None"),
    "scatter_src_dtype_mismatch": ("torch.zeros(3).scatter(0, torch.tensor([0]), torch.ones(1, dtype=torch.float64))",
                                   "None"),
    "index_add_dtype_mismatch": ("torch.zeros(3).index_add(0, torch.tensor([0]), torch.ones(1, dtype=torch.float64))",
                                 "None"),
    "setitem_leading_ones_ok": ("t = torch.zeros(3)\nt[:2] = torch.ones(1, 2)", "t"),
    "setitem_slice_too_many_dims": ("t = torch.zeros(3)\nt[:2] = torch.ones(2, 2)", "t"),
    "setitem_int_row_mismatch": ("t = torch.zeros(2, 3)\nt[0] = torch.ones(2)", "t"),
})
# argument parsing: types, positions and parser texts for methods and functions
CASES.update({
    "method_dim_float": ("torch.ones(2, 3).cumsum(1.5)", "None"),
    "method_dim_kw_float": ("torch.ones(2, 3).cumsum(dim=1.5)", "None"),
    "function_dim_float": ("torch.cumsum(torch.ones(2, 3), 1.5)", "None"),
    "transpose_float_dim": ("torch.ones(2, 3).transpose(0.5, 1)", "None"),
    "unsqueeze_str": ("torch.ones(2).unsqueeze('a')", "None"),
    "index_select_list_index": ("torch.ones(3).index_select(0, [1])", "None"),
    "gather_list_index": ("torch.ones(3).gather(0, [1])", "None"),
    "topk_float_k": ("torch.ones(3).topk(1.5)", "None"),
    "chunk_float": ("torch.ones(4).chunk(1.5)", "None"),
    "select_float_index": ("torch.ones(2, 3).select(1, 1.5)", "None"),
    "softmax_float_dim": ("torch.softmax(torch.ones(2), 0.5)", "None"),
    "max_dim_float": ("torch.ones(2, 3).max(dim=1.5)", "None"),
    "sum_kwarg_only_float": ("torch.ones(2, 3).sum(dim=1.5)", "None"),
    "sum_function_kwarg_float": ("torch.sum(torch.ones(2, 3), dim=1.5)", "None"),
    "sum_positional_and_unknown_kwarg": ("torch.ones(2, 3).sum(1, dimm=0)", "None"),
    "view_float_sizes": ("torch.ones(6).view(2.0, 3)", "None"),
    "reshape_float_single": ("torch.ones(6).reshape(6.0)", "None"),
    "reshape_tuple_with_float": ("torch.ones(6).reshape((2.0, 3))", "None"),
    "expand_float_sizes": ("torch.ones(3).expand(2.0, 3)", "None"),
    "tril_float_diagonal": ("torch.ones(2, 2).tril(1.5)", "None"),
    "flatten_float": ("torch.ones(2, 2).flatten(0.5)", "None"),
    "tensor_ragged_deeper": ("torch.tensor([[[1, 2]], [[3]]])", "None"),
    "tensor_list_of_str": ("torch.tensor(['a'])", "None"),
    "tensor_of_dict": ("torch.tensor({1: 2})", "None"),
    "to_true_is_bool": ("r = torch.ones(2).to(True)", "r"),
    "randint_one_arg": ("torch.randint(5)", "None"),
    "device_bad_string": ("torch.ones(2, device='cpux')", "None"),
    # a non-number where torch takes a Scalar: torch's TypeError, never a NaN fill (state: t untouched)
    "index_fill_none": ("t = torch.ones(3)\nt.index_fill_(0, torch.tensor([0]), None)", "t"),
    "masked_fill_str": ("t = torch.ones(3)\nt.masked_fill(t > 0, 'a')", "t"),
    "masked_fill_inplace_none": ("t = torch.ones(3)\nt.masked_fill_(t > 0, None)", "t"),
    "fill_none": ("t = torch.ones(3)\nt.fill_(None)", "t"),
    "setitem_none": ("t = torch.ones(3)\nt[0] = None", "t"),
    "setitem_tensor_index_str": ("t = torch.ones(3)\nt[torch.tensor([0])] = 'a'", "t"),
    "requires_grad_str": ("t = torch.ones(3)\nt.requires_grad_('yes')", "t.requires_grad"),
    "requires_grad_int": ("t = torch.ones(3)\nt.requires_grad_(1)", "t.requires_grad"),
    "to_dtype_str": ("torch.ones(2).to(dtype='float')", "None"),
    "cumsum_dtype_str": ("torch.ones(2).cumsum(0, dtype='float')", "None"),
    "sum_dtype_str": ("torch.ones(2).sum(dtype='float')", "None"),
    "inplace_add_none_names_add_": ("t = torch.ones(3)\nt.add_(None)", "t"),
    "inplace_mul_str_names_mul_": ("t = torch.ones(3)\nt.mul_('a')", "t"),
})

# a python number/None/str/list where only a Tensor goes: torch's parser TypeError, not python's AttributeError
CASES.update({
    "mm_int_operand": ("t = torch.ones(2, 2)\ntorch.mm(t, 3)", "t"),
    "addmm_int_operand": ("t = torch.ones(2, 2)\ntorch.addmm(t, t, 5)", "t"),
    # mixed dtypes: torch's error (self vs mat2 first, then mat1 vs mat2), never a silent float64 result
    "addmm_mat_dtypes": ("t = torch.zeros(2)\ntorch.addmm(t, torch.ones(3, 4).double(), torch.ones(4, 2))", "t"),
    "addmm_self_dtype": ("t = torch.zeros(2)\ntorch.addmm(t, torch.ones(3, 4).double(), torch.ones(4, 2).double())", "t"),
    "addmm_inplace_dtypes": ("t = torch.zeros(3, 2)\nt.addmm_(torch.ones(3, 4).half(), torch.ones(4, 2))", "t"),
    "mv_int_operand": ("torch.mv(torch.ones(2, 2), 3)", "None"),
    "outer_int_operand": ("torch.outer(torch.ones(2), 3)", "None"),
    "outer_method_str": ("torch.ones(2).outer('a')", "None"),
    "ger_2d": ("torch.ger(torch.ones(2, 2), torch.ones(2))", "None"),
    "expand_as_int": ("torch.ones(2).expand_as(3)", "None"),
    "view_as_none": ("torch.ones(2).view_as(None)", "None"),
    "reshape_as_list": ("torch.ones(2).reshape_as([1])", "None"),
    "bmm_list_operand": ("torch.bmm(torch.ones(1, 2, 2), [1])", "None"),
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
