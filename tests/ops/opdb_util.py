"""Run torch's own OpInfo database (``op_db``) through torch and funcgrad and compare.

Used by ``tests/ops/test_opdb.py`` (one pytest test per implemented OpInfo) and by
``tools/opdb_coverage.py`` (the coverage report, ``OPDB.md``). torch is imported here and only
here (and in tests); ``src/funcgrad`` never imports it.

The pieces:

- ``OP_DB``: torch's ``op_db`` (about 700 OpInfos, 636 names), loaded once (~8 s).
- ``resolve(opinfo)``: the funcgrad callable for an OpInfo (``"linalg.det"`` ->
  ``funcgrad.linalg.det``; OpInfos whose ``op`` is a lambda from torch's testing modules run that
  lambda with ``torch`` rebound to funcgrad), or ``None`` when funcgrad lacks the op.
- ``to_fg``/``to_np``: torch sample inputs -> funcgrad (recursively, aliasing kept); outputs ->
  numpy for comparison.
- ``check_sample(opinfo, sample, dtype)``: run both libraries on one ``SampleInput`` and compare
  outputs (values, shapes, dtypes, NaN positions), errors (same exception class), reverse-mode
  grads (seeded random cotangents, ``autograd.grad``), forward-mode AD and the ``grad_fn`` name.
- ``check_opinfo(opinfo)``: a capped set of samples (``samples_for``) plus the method and
  in-place variants, giving a list of ``SampleResult``.
- ``XFAIL``: every ``tests/ops/xfail_*.py`` module's ``XFAIL`` dict merged.
"""
from __future__ import annotations

import contextlib
import dataclasses
import glob
import importlib.util
import itertools
import math
import os
import signal
import types
import warnings

import numpy as np
import torch

import funcgrad


with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from torch.testing._internal.common_methods_invocations import op_db as OP_DB  # noqa: N811
    from torch.testing._internal.opinfo import core as _core

LONG = bool(os.environ.get("FUNCGRAD_LONG"))

# Caps: samples per dtype (the knob that sets the cost of test_opdb.py; FUNCGRAD_LONG=1 lifts them).
CAPS = {torch.float32: 3, torch.int64: 2}
FALLBACK_CAP = 2
ERROR_CAP = 2  # torch's error_inputs per OpInfo
BATCH_RUNS = 12  # samples whose funcgrad work runs as one lazy program
LONG_DTYPES = (torch.float32, torch.float64, torch.int64, torch.int32, torch.bool, torch.complex64, torch.float16,
               torch.bfloat16, torch.uint8)
SAMPLE_TIMEOUT_S = 60

# Ops whose values are random or uninitialised memory: compared by shape and dtype only (grads too).
NONDETERMINISTIC = {
    "bernoulli", "normal", "rand_like", "randn", "randn_like", "randint", "randint_like", "multinomial", "uniform",
    "cauchy", "exponential", "geometric", "log_normal", "randperm", "empty", "empty_like", "empty_strided",
    "empty_permuted", "new_empty", "new_empty_strided", "nn.functional.dropout", "nn.functional.dropout2d",
    "nn.functional.dropout3d", "nn.functional.alpha_dropout", "nn.functional.feature_alpha_dropout",
    "nn.functional.rrelu", "nn.functional.fractional_max_pool2d", "nn.functional.fractional_max_pool3d",
    "svd_lowrank", "pca_lowrank", "nn.functional.gumbel_softmax", "torch.ops.aten._efficient_attention_forward",
    "torch.ops.aten._flash_attention_forward", "nn.functional.multi_head_attention_forward",
}
# Ops random on some samples only: name -> predicate on the SampleInput.
RANDOM_SAMPLES = {
    "nn.functional.scaled_dot_product_attention": lambda s: (s.kwargs.get("dropout_p") or 0.0) > 0,
}


def _arg(sample, i, name, default):
    return sample.args[i] if len(sample.args) > i else sample.kwargs.get(name, default)


# Random fills: no value equality (as torch's own OpInfo tests); the draws must lie in the
# distribution's support, and drawing again under the same seed must give the same values.
RANDOM_SUPPORT = {
    "uniform": lambda s, a: (a >= _arg(s, 0, "from", 0.0)) & (a <= _arg(s, 1, "to", 1.0)),
    "exponential": lambda s, a: a >= 0,
    "geometric": lambda s, a: (a >= 1) & (a == np.round(a)),
    "log_normal": lambda s, a: a >= 0,
    "cauchy": lambda s, a: ~np.isnan(a),
}


def values_comparable(op, sample):
    if op.name in NONDETERMINISTIC or (op.name, op.variant_test_name) in NONDETERMINISTIC:
        return False
    pred = RANDOM_SAMPLES.get(op.name)
    return not (pred and pred(sample))


# ----------------------------------------------------------------------------------------------
# Families
# ----------------------------------------------------------------------------------------------

_LINALG = {"addmm", "addmv", "addbmm", "baddbmm", "addr", "dot", "vdot", "bmm", "mm", "mv", "matmul", "__rmatmul__",
           "inner", "outer", "ger", "kron", "tensordot", "einsum", "chain_matmul", "cholesky", "cholesky_inverse",
           "cholesky_solve", "det", "logdet", "slogdet", "inverse", "pinverse", "matrix_exp", "lu", "lu_solve",
           "lu_unpack", "qr", "svd", "svd_lowrank", "pca_lowrank", "triangular_solve", "geqrf", "ormqr", "trace",
           "cdist", "pdist", "cross", "tril", "triu", "diag_embed", "block_diag", "cov", "corrcoef", "renorm",
           "frobenius_norm", "nuclear_norm", "dist", "symeig", "eig", "orgqr", "householder_product"}
_VIEWS = {"view", "view_as", "reshape", "reshape_as", "permute", "transpose", "t", "T", "H", "mT", "mH", "adjoint",
          "squeeze", "unsqueeze", "flatten", "unflatten", "expand", "expand_as", "expand_copy", "narrow",
          "narrow_copy", "select", "select_scatter", "slice_scatter", "diagonal", "diagonal_scatter", "as_strided",
          "as_strided_scatter", "as_strided_copy", "movedim", "moveaxis", "swapaxes", "swapdims", "split",
          "split_with_sizes", "split_with_sizes_copy", "tensor_split", "hsplit", "vsplit", "dsplit", "chunk",
          "unbind", "unbind_copy", "unfold", "unfold_copy", "contiguous", "view_copy", "__getitem__", "index_select",
          "index_add", "index_copy", "index_fill", "index_put", "index_reduce", "gather", "scatter", "scatter_add",
          "scatter_reduce", "take", "take_along_dim", "put", "masked_fill", "masked_scatter", "masked_select", "cat",
          "stack", "hstack", "vstack", "dstack", "column_stack", "row_stack", "atleast_1d", "atleast_2d",
          "atleast_3d", "broadcast_to", "broadcast_tensors", "broadcast_shapes", "flip", "fliplr", "flipud", "roll",
          "rot90", "repeat", "repeat_interleave", "tile", "nonzero", "nonzero_static", "argwhere", "where", "sort",
          "argsort", "msort", "topk", "kthvalue", "unique", "unique_consecutive", "searchsorted", "bucketize",
          "resize_", "resize_as_", "squeeze_copy", "permute_copy", "transpose_copy", "t_copy", "diag", "alias_copy",
          "sum_to_size", "ravel", "combinations", "cartesian_prod", "meshgrid", "tril_indices", "triu_indices",
          "histc", "histogram", "histogramdd", "bincount", "diff", "trapz", "trapezoid", "cumulative_trapezoid",
          "_unsafe_masked_index", "_unsafe_masked_index_put_accumulate", "view_as_real", "view_as_complex",
          "real", "imag", "conj", "conj_physical", "resolve_conj", "resolve_neg", "clone", "to", "item", "fill",
          "zero_", "new_full", "new_ones", "new_zeros", "new_empty", "new_empty_strided", "bool", "byte", "char",
          "double", "float", "half", "int", "long", "short", "bfloat16", "chalf", "cdouble", "cfloat", "to_sparse",
          "_chunk_cat", "equal", "allclose", "isclose", "argmax", "argmin", "count_nonzero", "searchsorted",
          "unsafe_chunk", "unsafe_split", "slice", "diagonal_copy", "unsqueeze_copy", "unravel_index", "diagflat"}
_NN_INTERNAL = {"_softmax_backward_data", "native_group_norm", "native_layer_norm", "native_batch_norm",
                "_native_batch_norm_legit", "_batch_norm_with_update", "constant_pad_nd", "_upsample_bilinear2d_aa",
                "max_pool2d_with_indices_backward", "native_dropout_backward", "grid_sampler_2d", "grid_sampler_3d"}
_CREATION = {"arange", "linspace", "logspace", "zeros", "ones", "full", "eye", "empty", "zeros_like", "ones_like",
             "full_like", "empty_like", "empty_strided", "empty_permuted", "rand_like", "randn", "randn_like",
             "randint", "randint_like", "bernoulli", "normal", "multinomial", "uniform", "cauchy", "exponential",
             "geometric", "log_normal", "randperm", "tensor", "as_tensor", "asarray", "scalar_tensor",
             "signal.windows", "new_empty", "new_empty_strided"}
FAMILIES = ("pointwise", "reduction", "linalg", "fft", "special", "nn.functional", "masked", "signal",
            "views/indexing", "creation/random", "other")


def family(op) -> str:
    name = op.name
    for prefix, fam in (("linalg.", "linalg"), ("fft.", "fft"), ("special.", "special"),
                        ("nn.functional.", "nn.functional"), ("masked.", "masked"), ("signal.", "signal")):
        if name.startswith(prefix):
            return fam
    if name in _CREATION:
        return "creation/random"
    if name in _NN_INTERNAL:
        return "nn.functional"
    if name in ("stft", "istft"):
        return "fft"
    if name in _LINALG:
        return "linalg"
    if isinstance(op, _core.ReductionOpInfo) or name in {"cumsum", "cumprod", "cummax", "cummin", "logcumsumexp",
                                                           "median", "nanmedian", "mode", "max", "min", "aminmax",
                                                           "var_mean", "std_mean", "logsumexp", "std", "var",
                                                           "nansum", "mean", "nanmean", "sum", "prod", "amax",
                                                           "amin", "all", "any", "norm", "quantile", "nanquantile"}:
        return "reduction"
    if name in _VIEWS:
        return "views/indexing"
    if isinstance(op, (_core.UnaryUfuncInfo, _core.BinaryUfuncInfo)) or name.startswith("__r"):
        return "pointwise"
    if name in {"clamp", "clamp_min", "clamp_max", "addcmul", "addcdiv", "lerp", "polygamma", "mvlgamma", "clip",
                "float_power", "ldexp", "logit", "nan_to_num", "softmax", "log_softmax", "heaviside", "xlogy",
                "isin", "frexp", "positive", "signbit", "sgn", "angle", "isreal", "logaddexp2", "gradient"}:
        return "pointwise"
    return "other"


# ----------------------------------------------------------------------------------------------
# Resolving the funcgrad side
# ----------------------------------------------------------------------------------------------

def _lookup(root, path):
    obj = root
    for part in path.split("."):
        obj = getattr(obj, part, None)
        if obj is None:
            return None
    return obj


def _fg_attr(name):
    """funcgrad object at torch's dotted ``name`` (``linalg.det``), else a ``Tensor`` attribute."""
    obj = _lookup(funcgrad, name)
    if obj is not None and callable(obj) and not isinstance(obj, (funcgrad.dtype, type)):
        return obj
    if "." not in name:
        attr = getattr(funcgrad.Tensor, name, None)
        if attr is not None:
            return attr
    return None


_TORCH_MODULES = {torch: funcgrad, torch.nn: funcgrad.nn, torch.nn.functional: funcgrad.nn.functional,
                  torch.linalg: funcgrad.linalg, torch.special: funcgrad.special, torch.fft: funcgrad.fft}
for _m in ("masked", "signal"):
    if hasattr(funcgrad, _m):
        _TORCH_MODULES[getattr(torch, _m)] = getattr(funcgrad, _m)


class _Missing:
    """Stands for a torch object funcgrad lacks: any use raises AttributeError naming it."""

    def __init__(self, what):
        self._what = what

    def __getattr__(self, name):
        raise AttributeError(f"funcgrad lacks {self._what}.{name}")

    def __call__(self, *a, **k):
        raise AttributeError(f"funcgrad lacks {self._what}")


def _map_global(value, memo):
    """The funcgrad counterpart of a global a torch testing function refers to."""
    if isinstance(value, types.ModuleType):
        if value in _TORCH_MODULES:
            return _TORCH_MODULES[value]
        if value.__name__.startswith("torch."):
            sub = _lookup(funcgrad, value.__name__[len("torch."):])
            return sub if sub is not None else _Missing(value.__name__.replace("torch", "funcgrad", 1))
        return value
    if isinstance(value, types.FunctionType):
        mod = getattr(value, "__module__", "") or ""
        if value.__name__ == "wrapper_set_seed":
            return _fg_wrapper_set_seed
        if mod.startswith("torch.testing"):
            return rebind(value, memo)
        return value
    if isinstance(value, types.BuiltinFunctionType) and (getattr(value, "__module__", "") or "").startswith("torch"):
        fg = _lookup(funcgrad, value.__name__)
        return fg if fg is not None else _Missing("funcgrad." + value.__name__)
    if value is torch.Tensor:
        return funcgrad.Tensor
    return value


def _fg_wrapper_set_seed(op, *args, **kwargs):
    funcgrad.manual_seed(42)
    return op(*args, **kwargs)


def _code_names(code):
    names = set(code.co_names)
    for c in code.co_consts:
        if isinstance(c, types.CodeType):
            names |= _code_names(c)
    return names


def rebind(f, memo=None):
    """``f`` (a python function from torch's testing modules) with ``torch`` meaning funcgrad."""
    memo = {} if memo is None else memo
    if f in memo:
        return memo[f]
    g = dict(f.__globals__)
    closure = None
    if f.__closure__:
        closure = tuple(types.CellType(_map_global(to_fg(c.cell_contents, {}), memo)) if _cell_ok(c)
                        else types.CellType() for c in f.__closure__)
    new = types.FunctionType(f.__code__, g, f.__name__, _map_const(f.__defaults__), closure)
    new.__kwdefaults__ = _map_const(f.__kwdefaults__)
    memo[f] = new
    for name in _code_names(f.__code__):
        if name in g:
            g[name] = _map_global(g[name], memo)
    memo[f] = new
    return new


def _cell_ok(c):
    try:
        c.cell_contents
        return True
    except ValueError:
        return False


def _map_const(x):
    if x is None:
        return None
    return to_fg(x, {})


def _is_testing_function(f):
    return isinstance(f, types.FunctionType) and (getattr(f, "__module__", "") or "").startswith("torch.testing")


def _aten_path(op):
    """``(name, overload)`` when the OpInfo's op is ``torch.ops.aten.<name>[.<overload>]``, else None."""
    o = op.op
    if isinstance(o, torch._ops.OpOverload):
        return o._schema.name.split("::")[-1], o._overloadname
    if isinstance(o, torch._ops.OpOverloadPacket):
        return o._qualified_op_name.split("::")[-1], None
    return None


def _fg_aten(name, overload=None):
    """``funcgrad.ops.aten.<name>[.<overload>]``, or None."""
    aten = getattr(getattr(funcgrad, "ops", None), "aten", None)
    try:
        packet = getattr(aten, name)
        return packet if overload is None else getattr(packet, overload)
    except AttributeError:
        return None


def resolve(op):
    """The funcgrad callable for OpInfo ``op``, or None when funcgrad lacks the op.

    ``torch.ops.aten.X.overload`` resolves to ``funcgrad.ops.aten.X.overload``; a lambda from torch's
    testing modules runs with ``torch`` meaning funcgrad where funcgrad has the op under the OpInfo's
    name, its in-place form (the random fills: ``cauchy`` -> ``Tensor.cauchy_``) or an ATen name
    (``max_pool2d_with_indices_backward``)."""
    path = _aten_path(op)
    if path is not None:
        return _fg_aten(*path)
    target = _fg_attr(op.name)
    if target is None:
        if _is_testing_function(op.op) and "." not in op.name and (
                getattr(funcgrad.Tensor, op.name + "_", None) is not None or _fg_aten(op.name) is not None):
            return rebind(op.op)
        return None
    if _is_testing_function(op.op):
        return rebind(op.op)
    if isinstance(op.op, types.FunctionType) and op.op.__module__ == "torch._tensor":
        return getattr(funcgrad.Tensor, op.op.__name__, None)
    if isinstance(target, (types.FunctionType, types.BuiltinFunctionType)) or callable(target):
        return target
    return None


def _variant_name(v):
    return getattr(v, "__name__", None)


def resolve_method(op):
    """(torch method, funcgrad method) for the OpInfo's method variant, or None."""
    v = op.method_variant
    if v is None or _is_testing_function(v):
        return None
    name = _variant_name(v)
    return (v, getattr(funcgrad.Tensor, name, None)) if name else None


def resolve_inplace(op):
    v = op.inplace_variant
    if v is None or _is_testing_function(v):
        return None
    name = _variant_name(v)
    return (v, getattr(funcgrad.Tensor, name, None)) if name else None


# ----------------------------------------------------------------------------------------------
# Conversion
# ----------------------------------------------------------------------------------------------

class Unsupported(Exception):
    """A sample input funcgrad has no counterpart for: ``status`` "skip" where funcgrad need not have
    one (sparse layouts), "missing" where funcgrad lacks a torch constant (a memory format)."""

    def __init__(self, msg, status="skip"):
        super().__init__(msg)
        self.status = status


def fg_dtype(dt):
    name = str(dt).split(".")[-1]
    out = getattr(funcgrad, name, None)
    if not isinstance(out, funcgrad.dtype):
        raise Unsupported(f"funcgrad lacks dtype {dt}", "missing")
    return out


def _tensor_to_fg(t):
    if t.layout != torch.strided:
        raise Unsupported(f"layout {t.layout}")
    d = t.detach().resolve_conj().resolve_neg().cpu()
    dt = fg_dtype(t.dtype)
    try:
        arr = d.float().numpy() if t.dtype == torch.bfloat16 else d.numpy()
    except Exception as e:  # noqa: BLE001 - numpy can't hold it (more than 64 dims, ...)
        raise Unsupported(f"numpy can't hold the input: {e}") from None
    return funcgrad.tensor(arr.copy(), dtype=dt, requires_grad=t.requires_grad)


# Ops that address the input's storage: their input is rebuilt as the same view of the same storage.
STORAGE_OPS = {"as_strided", "as_strided_copy", "as_strided_scatter"}


def _tensor_to_fg_storage(t):
    """``t`` as a funcgrad view of (a copy of) its whole storage, with its sizes, strides and offset."""
    n = t.untyped_storage().nbytes() // t.element_size()
    if t.is_contiguous() and t.storage_offset() == 0 and n == t.numel():
        return _tensor_to_fg(t)
    flat = torch.empty(0, dtype=t.dtype).set_(t.untyped_storage(), 0, (n,), (1,))
    base = _tensor_to_fg(flat.detach())
    if t.requires_grad:
        base.requires_grad_(True)
    return base.as_strided(tuple(t.shape), t.stride(), t.storage_offset())


def to_fg(x, memo):
    """torch -> funcgrad, recursively; the same torch tensor maps to the same funcgrad tensor."""
    if isinstance(x, torch.Tensor):
        if id(x) not in memo:
            memo[id(x)] = (x, _tensor_to_fg(x))
        return memo[id(x)][1]
    if isinstance(x, torch.dtype):
        return fg_dtype(x)
    if isinstance(x, torch.Size):
        return funcgrad.Size(tuple(x))
    if isinstance(x, torch.device):
        return funcgrad.device(str(x))
    if isinstance(x, (torch.memory_format, torch.layout)):
        name = str(x).split(".")[-1]
        out = getattr(funcgrad, name, None)
        if out is None:
            raise Unsupported(f"funcgrad lacks {x}", "missing")
        return out
    if isinstance(x, torch.Generator):
        gen = getattr(funcgrad, "Generator", None)
        if gen is None:
            raise Unsupported("funcgrad lacks torch.Generator", "missing")
        return gen().manual_seed(x.initial_seed())
    if isinstance(x, torch.nn.Module):
        return _module_to_fg(x)
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*(to_fg(v, memo) for v in x))
    if isinstance(x, (list, tuple)):
        return type(x)(to_fg(v, memo) for v in x)
    if isinstance(x, dict):
        return {k: to_fg(v, memo) for k, v in x.items()}
    return x


def _module_to_fg(m):
    """A parameter-free torch module given as an argument (``distance_function=nn.PairwiseDistance()``):
    funcgrad's module of the same class with the same hyperparameters."""
    cls = getattr(funcgrad.nn, type(m).__name__, None)
    if cls is None or any(True for _ in m.parameters()) or any(True for _ in m.buffers()):
        raise Unsupported(f"funcgrad lacks a counterpart of {type(m).__name__}", "missing")
    out = cls()
    for k, v in vars(m).items():
        if not k.startswith("_") and isinstance(v, (bool, int, float, str, tuple, type(None))):
            setattr(out, k, v)
    return out


def tree_map(fn, x, is_leaf):
    if is_leaf(x):
        return fn(x)
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*(tree_map(fn, v, is_leaf) for v in x))
    if isinstance(x, (list, tuple)):
        return type(x)(tree_map(fn, v, is_leaf) for v in x)
    if isinstance(x, dict):
        return {k: tree_map(fn, v, is_leaf) for k, v in x.items()}
    return x


def leaves(x, pred):
    out = []
    tree_map(lambda v: out.append(v), x, pred)
    return out


def _is_t(x):
    return isinstance(x, torch.Tensor)


def _is_f(x):
    return isinstance(x, funcgrad.Tensor)


def to_np(t):
    """A funcgrad or torch tensor as a numpy array (bfloat16 as float32)."""
    if isinstance(t, torch.Tensor):
        if torch._is_zerotensor(t):  # torch's symbolic zero grads (sgn, ...)
            t = torch.zeros(t.shape, dtype=t.dtype)
        t = t.detach().resolve_conj().resolve_neg()
        if t.dtype == torch.bfloat16:
            t = t.float()
        return t.cpu().numpy()
    a = np.asarray(t.detach().numpy())
    if a.dtype.name == "bfloat16":
        a = a.astype(np.float32)
    return a


# ----------------------------------------------------------------------------------------------
# Comparison
# ----------------------------------------------------------------------------------------------

_TOL = {  # (rtol, atol): torch.testing.assert_close's defaults, float32's rtol loosened for XLA's kernels
    "float16": (1e-3, 1e-5), "bfloat16": (1.6e-2, 1e-5), "float32": (1e-5, 1e-5), "float64": (1e-7, 1e-7),
    "complex64": (1e-5, 1e-5), "complex128": (1e-7, 1e-7),
}
_LOOSE_FAMILIES = {"reduction", "linalg", "fft", "nn.functional", "masked", "special", "signal", "other"}


def tolerance(dtype_name, fam, grad=False):
    rtol, atol = _TOL.get(dtype_name, (0.0, 0.0))
    if rtol == 0.0:
        return rtol, atol
    scale = 1.0
    if fam in _LOOSE_FAMILIES:
        scale *= 10.0
    if grad:
        scale *= 10.0
    return rtol * scale, atol * scale


class Mismatch(AssertionError):
    pass


def compare_tensor(tt, ft, fam, where, values=True, grad=False):
    if not isinstance(ft, funcgrad.Tensor):
        raise Mismatch(f"{where}: expected a Tensor, got {type(ft).__name__}")
    if tuple(tt.shape) != tuple(ft.shape):
        raise Mismatch(f"{where}: shape {tuple(ft.shape)} != torch {tuple(tt.shape)}")
    if str(tt.dtype) != str(ft.dtype):
        raise Mismatch(f"{where}: dtype {ft.dtype} != torch {tt.dtype}")
    if not values:
        return
    a, b = to_np(tt), to_np(ft)
    if a.dtype.kind == "b" or a.dtype.kind in "iu":
        if not np.array_equal(a, b):
            bad = int(np.sum(a != b))
            raise Mismatch(f"{where}: {bad}/{a.size} elements differ (exact dtype {tt.dtype})")
        return
    rtol, atol = tolerance(str(tt.dtype).split(".")[-1], fam, grad)
    a64 = a.astype(np.complex128 if a.dtype.kind == "c" else np.float64)
    b64 = b.astype(a64.dtype)
    nan_a, nan_b = np.isnan(a64), np.isnan(b64)
    if not np.array_equal(nan_a, nan_b):
        raise Mismatch(f"{where}: NaN positions differ ({int(nan_b.sum())} NaN vs torch {int(nan_a.sum())})")
    ok = np.isclose(b64, a64, rtol=rtol, atol=atol, equal_nan=True)
    if not ok.all():
        diff = np.abs(b64 - a64)
        diff[~np.isfinite(diff)] = np.inf
        diff[ok] = 0
        i = np.unravel_index(int(np.argmax(diff)), diff.shape) if diff.ndim else ()
        raise Mismatch(f"{where}: {int((~ok).sum())}/{a.size} elements differ, worst at {tuple(int(j) for j in i)}: "
                       f"{b64[i]!r} vs torch {a64[i]!r} (rtol={rtol:g}, atol={atol:g})")


def compare(tout, fout, fam, where="output", values=True):
    """Compare a torch result with a funcgrad result (tensors, tuples, namedtuples, lists, scalars)."""
    if isinstance(tout, torch.Tensor):
        return compare_tensor(tout, fout, fam, where, values)
    if tout is NotImplemented or fout is NotImplemented:
        if fout is not tout:
            raise Mismatch(f"{where}: {fout!r} != torch {tout!r}")
        return None
    if isinstance(tout, (tuple, list)) and not isinstance(tout, torch.Size):
        if not isinstance(fout, (tuple, list)):
            raise Mismatch(f"{where}: expected a {type(tout).__name__}, got {type(fout).__name__}")
        if len(tout) != len(fout):
            raise Mismatch(f"{where}: {len(fout)} items != torch {len(tout)}")
        tf = getattr(tout, "_fields", None)
        if tf is not None and tuple(getattr(fout, "_fields", ())) != tuple(tf):
            raise Mismatch(f"{where}: fields {getattr(fout, '_fields', None)} != torch {tf}")
        for i, (a, b) in enumerate(zip(tout, fout)):
            compare(a, b, fam, f"{where}[{i}]", values)
        return None
    if isinstance(tout, torch.Size):
        if tuple(fout) != tuple(tout):
            raise Mismatch(f"{where}: {tuple(fout)} != torch {tuple(tout)}")
        return None
    if isinstance(tout, torch.dtype):
        if str(fout) != str(tout):
            raise Mismatch(f"{where}: {fout} != torch {tout}")
        return None
    if isinstance(tout, bool) or tout is None or isinstance(tout, str):
        if fout != tout or type(fout) is not type(tout):
            raise Mismatch(f"{where}: {fout!r} != torch {tout!r}")
        return None
    if isinstance(tout, (int, float, complex)):
        if isinstance(fout, funcgrad.Tensor) or not isinstance(fout, (int, float, complex)):
            raise Mismatch(f"{where}: expected python {type(tout).__name__}, got {type(fout).__name__}")
        if type(fout) is not type(tout):
            raise Mismatch(f"{where}: python {type(fout).__name__} != torch {type(tout).__name__}")
        if not values:
            return None
        if isinstance(tout, int):
            ok = fout == tout
        else:
            ok = (math.isnan(abs(tout)) and math.isnan(abs(fout))) or abs(fout - tout) <= 1e-5 + 1e-5 * abs(tout)
        if not ok:
            raise Mismatch(f"{where}: {fout!r} != torch {tout!r}")
        return None
    if fout != tout:
        raise Mismatch(f"{where}: {fout!r} != torch {tout!r}")
    return None


# ----------------------------------------------------------------------------------------------
# Running one sample
# ----------------------------------------------------------------------------------------------

@dataclasses.dataclass
class SampleResult:
    op: str                  # OpInfo name
    variant: str             # OpInfo variant_test_name
    dtype: str
    index: int               # sample index within (op, dtype); -1 for method/inplace checks
    kind: str = "function"   # "function", "method", "inplace", "error" (torch's error_inputs)
    forward: str = "pass"    # pass | fail | notimpl | missing | skip
    grad: str = "n/a"        # pass | fail | n/a
    fwad: str = "n/a"        # pass | fail | n/a
    grad_fn: str = "n/a"     # pass | fail | n/a
    message: str = ""        # first problem, one line
    desc: str = ""           # sample summary

    @property
    def ok(self):
        if self.kind == "error":  # NotImplementedError for an input torch rejects is honest enough
            return self.forward in ("pass", "skip", "notimpl", "missing")
        return self.forward in ("pass", "skip") and "fail" not in (self.grad, self.fwad, self.grad_fn)

    def line(self):
        where = f"{self.op}{'.' + self.variant if self.variant else ''} {self.kind} {self.dtype} #{self.index}"
        return f"{where}: {self.message}  [{self.desc}]" if self.desc else f"{where}: {self.message}"


class SampleTimeout(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds):
    """Raise SampleTimeout after ``seconds`` (main thread only; a no-op elsewhere)."""
    try:
        old = signal.signal(signal.SIGALRM, _alarm)
    except ValueError:
        yield
        return
    signal.alarm(int(seconds))
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _alarm(signum, frame):
    raise SampleTimeout(f"sample ran over {SAMPLE_TIMEOUT_S}s")


def _short(e, n=240):
    msg = f"{type(e).__name__}: {e}".replace("\n", " ")
    return msg if len(msg) <= n else msg[:n] + "..."


def _is_missing_attr(e):
    if not isinstance(e, AttributeError):
        return False
    s = str(e)
    return "funcgrad" in s or "'Tensor'" in s or "type object 'Tensor'" in s


def _same_exception(te, fe):
    if type(te).__name__ == type(fe).__name__:
        return True
    for base in type(te).__mro__:
        if base.__module__ == "builtins" and base is not Exception and base is not BaseException:
            return isinstance(fe, base)
    return False


def _summary(sample):
    try:
        s = sample.summary()
    except Exception:  # noqa: BLE001
        s = repr(sample)
    s = " ".join(s.split())
    return s if len(s) <= 160 else s[:160] + "..."


def _cotangent(t, rng):
    shape = tuple(t.shape)
    if t.dtype.is_complex:
        a = rng.standard_normal(shape) + 1j * rng.standard_normal(shape)
    else:
        a = rng.standard_normal(shape)
    return np.asarray(a)


def _mk_torch(a, like):
    out = torch.from_numpy(np.array(a))
    return out.to(like.dtype)


def _mk_fg(a, like):
    return funcgrad.tensor(np.array(a, dtype=np.complex64 if like.dtype.is_complex else np.float32)
                           if str(like.dtype).endswith(("bfloat16",)) else np.array(a), dtype=like.dtype)


def _differentiable(t):
    return isinstance(t, torch.Tensor) and t.requires_grad and (t.dtype.is_floating_point or t.dtype.is_complex)


def _grad_fn_name(t):
    gf = getattr(t, "grad_fn", None)
    return None if gf is None else type(gf).__name__


def _first_tensor(x, pred):
    ls = leaves(x, pred)
    return ls[0] if ls else None


def _call(fn, sample_in, args, kwargs):
    return fn(sample_in, *args, **kwargs)


class _Run:
    """One sample through torch and funcgrad, in stages so that many samples' funcgrad work can be
    recorded first and run as one lazy program (one XLA compile for a whole OpInfo):
    ``record`` (both forwards; funcgrad's only recorded), ``grad_request`` (torch's grads, and what
    funcgrad must differentiate), ``finish`` (funcgrad's values read, everything compared),
    ``fwad`` (forward-mode AD, its own program)."""

    def __init__(self, op, sample, dtype, index=0, fg_fn=None, kind="function", torch_fn=None, seed=0,
                 check_grads=True, check_fwad=True):
        self.op, self.sample, self.dtype, self.index, self.kind = op, sample, dtype, index, kind
        self.fam = family(op)
        self.res = SampleResult(op.name, op.variant_test_name, str(dtype).split(".")[-1], index, kind,
                                desc=_summary(sample))
        self.fg_fn = fg_fn if fg_fn is not None else resolve(op)
        self.torch_fn = torch_fn if torch_fn is not None else op.op
        self.values = values_comparable(op, sample)
        self.check_grads, self.check_fwad = check_grads, check_fwad
        self.rng = np.random.default_rng(seed + 1000 * index)
        self.done = False
        self.tgrads = self.fgrads = self.gerr = self.fw_state = None
        self.diff_idx = []

    def fresh(self):
        return _Run(self.op, self.sample, self.dtype, self.index, self.fg_fn, self.kind, self.torch_fn,
                    check_grads=self.check_grads, check_fwad=self.check_fwad)

    def _end(self, forward, message):
        self.res.forward, self.res.message = forward, message
        self.done = True

    def record(self):
        res, sample = self.res, self.sample
        if self.fg_fn is None:
            return self._end("missing", f"funcgrad lacks {self.op.name}")
        process = sample.output_process_fn_grad
        self.process = process
        self.fg_process = rebind(process) if _is_testing_function(process) else process
        self.memo = {}
        try:
            if self.op.name in STORAGE_OPS and isinstance(sample.input, torch.Tensor):
                self.memo[id(sample.input)] = (sample.input, _tensor_to_fg_storage(sample.input))
            f_in, f_args, f_kwargs = to_fg((sample.input, sample.args, sample.kwargs), self.memo)
            f_args = tuple(f_args)
        except Unsupported as e:
            return self._end(e.status, f"unsupported input: {e}")
        self.pairs = [v for v in self.memo.values() if _differentiable(v[0])]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.tout = _call(self.torch_fn, sample.input, sample.args, sample.kwargs)
                self.tproc = process(self.tout)
            terr = None
        except Exception as e:  # noqa: BLE001
            terr = e
        if isinstance(terr, NotImplementedError):
            return self._end("skip", f"torch raises {_short(terr, 80)}")
        try:
            with warnings.catch_warnings(), time_limit(SAMPLE_TIMEOUT_S):
                warnings.simplefilter("ignore")
                self.fout = _call(self.fg_fn, f_in, f_args, f_kwargs)
                if terr is None:
                    self.fproc = self.fg_process(self.fout)
                else:  # value-dependent errors surface when the values are computed
                    for t in leaves(self.fout, _is_f):
                        to_np(t)
            ferr = None
        except Exception as e:  # noqa: BLE001
            ferr = e
        if terr is not None:
            if ferr is None:
                self._end("fail", f"torch raises {_short(terr, 120)}; funcgrad does not")
            elif isinstance(ferr, NotImplementedError):
                self._end("notimpl", _short(ferr))
            elif _is_missing_attr(ferr):
                self._end("missing", _short(ferr))
            elif not _same_exception(terr, ferr):
                self._end("fail", f"torch raises {type(terr).__name__}, funcgrad {_short(ferr, 160)}")
            else:
                self._end("pass", "both raise " + type(terr).__name__)
            return None
        if ferr is not None:
            _forward_error(res, ferr)
            self.done = True
            return None
        self.touts = leaves(self.tproc, _is_t)
        self.fouts = leaves(self.fproc, _is_f)
        self.do_grads = self.check_grads and self.op.supports_autograd and bool(self.pairs)
        return None

    def grad_request(self):
        """torch's grads; returns (outputs, inputs, cotangents) for funcgrad, or None."""
        if self.done or not self.do_grads:
            return None
        self.diff_idx = [i for i, t in enumerate(self.touts) if _differentiable(t)]
        if not self.diff_idx or len(self.fouts) != len(self.touts):
            return None
        cots = [_cotangent(self.touts[i], self.rng) for i in self.diff_idx]
        try:
            self.tgrads = torch.autograd.grad([self.touts[i] for i in self.diff_idx], [p[0] for p in self.pairs],
                                              [_mk_torch(c, self.touts[i]) for c, i in zip(cots, self.diff_idx)],
                                              allow_unused=True)
        except Exception:  # noqa: BLE001 - torch can't differentiate this sample: nothing to compare
            self.tgrads = None
            return None
        bad = [i for i in self.diff_idx if not (isinstance(self.fouts[i], funcgrad.Tensor)
                                                and self.fouts[i].requires_grad)]
        if bad:
            self.gerr = Mismatch(f"output[{bad[0]}] does not require grad (torch's does)")
            return None
        return ([self.fouts[i] for i in self.diff_idx], [p[1] for p in self.pairs],
                [_mk_fg(c, self.fouts[i]) for c, i in zip(cots, self.diff_idx)])

    def run_grads(self, req):
        try:
            with time_limit(SAMPLE_TIMEOUT_S):
                self.fgrads = funcgrad.autograd.grad(req[0], req[1], req[2], allow_unused=True)
        except Exception as e:  # noqa: BLE001
            self.gerr = e

    def finish(self):
        res = self.res
        if self.done:
            return res
        try:
            with time_limit(SAMPLE_TIMEOUT_S):
                for t in self.fouts:
                    to_np(t)
        except Exception as e:  # noqa: BLE001
            return _forward_error(res, e)
        try:
            compare(self.tproc, self.fproc, self.fam, "output", self.values)
        except Mismatch as e:
            res.forward, res.message = "fail", str(e)
            return res
        except Exception as e:  # noqa: BLE001
            res.forward, res.message = "fail", "comparing: " + _short(e)
            return res
        if self.op.name in RANDOM_SUPPORT and self.kind != "error":
            msg = self._random_check()
            if msg:
                res.forward, res.message = "fail", msg
                return res
        if not self.do_grads:
            return res
        t_first = _first_tensor(self.tout, _is_t)
        f_first = _first_tensor(self.fout, _is_f)
        if t_first is not None and t_first.grad_fn is not None:
            tn, fn_ = _grad_fn_name(t_first), _grad_fn_name(f_first) if f_first is not None else None
            res.grad_fn = "pass" if tn == fn_ else "fail"
            if tn != fn_:
                res.message = res.message or f"grad_fn {fn_} != torch {tn}"
        if self.tgrads is not None or self.gerr is not None:
            res.grad = _compare_grads(res, self.tgrads, self.fgrads, self.gerr, self.fam, self.values)
        return res

    def _random_check(self):
        """A random fill's draws: inside the distribution's support, and the same again under the seed."""
        vals = [to_np(t) for t in leaves(self.fout, _is_f)]
        for v in vals:
            if v.size and not np.all(RANDOM_SUPPORT[self.op.name](self.sample, v.astype(np.float64))):
                return f"random draws outside the distribution's support: {v.ravel()[:6]!r}"
        try:
            f_in, f_args, f_kwargs = to_fg((self.sample.input, self.sample.args, self.sample.kwargs), {})
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                again = [to_np(t) for t in leaves(_call(self.fg_fn, f_in, tuple(f_args), f_kwargs), _is_f)]
        except Exception as e:  # noqa: BLE001
            return "drawing again: " + _short(e)
        if len(again) != len(vals) or not all(np.array_equal(a, b, equal_nan=True) for a, b in zip(vals, again)):
            return "drawing again under the same manual_seed gave different values"
        return None

    def fwad_record(self):
        self.fw_state = None
        if self.done or not self.do_grads or not self.check_fwad or not self.op.supports_forward_ad:
            return
        self.fw_state = _fwad_record(self)

    def fwad(self):
        if self.fw_state is None or self.res.forward != "pass":
            return self.res
        self.res.fwad = _fwad_compare(self.res, self.fw_state, self.fam, self.values)
        return self.res


def check_sample(op, sample, dtype, index=0, fg_fn=None, kind="function", torch_fn=None, seed=0,
                 check_grads=True, check_fwad=True):
    """Run ``sample`` through torch and funcgrad; returns a SampleResult.

    funcgrad's forward and backward are recorded lazily and run as one program: the forward
    values are read after ``autograd.grad`` has run.
    """
    return run_batch([_Run(op, sample, dtype, index, fg_fn, kind, torch_fn, seed, check_grads, check_fwad)])[0]


def run_batch(runs, batched=True):
    """Run many ``_Run``s: all recorded (forward-mode AD included, inside one dual level), then one
    ``autograd.grad`` for all of them, then compared, so funcgrad compiles one program for the
    batch. A failure in the shared backward is attributed by redoing the batch one sample at a time."""
    if len(runs) > BATCH_RUNS:  # XLA's compile time grows faster than the program
        return [r for k in range(0, len(runs), BATCH_RUNS) for r in run_batch(runs[k:k + BATCH_RUNS], batched)]
    fw = funcgrad.autograd.forward_ad
    with fw.dual_level():
        ok = _run_batch(runs, batched)
    if not ok:
        return run_batch([r.fresh() for r in runs], batched=False)
    return [r.res for r in runs]


def _run_batch(runs, batched):
    for r in runs:
        try:
            r.record()
            r.fwad_record()
        except Exception as e:  # noqa: BLE001 - the harness must not stop on one sample
            r._end("fail", "harness: " + _short(e))
    reqs = []
    for r in runs:
        try:
            req = r.grad_request()
        except Exception as e:  # noqa: BLE001
            r.gerr, req = e, None
        if req is not None:
            reqs.append((r, req))
    if batched and len(reqs) > 1:
        outs = [t for _, q in reqs for t in q[0]]
        ins = [t for _, q in reqs for t in q[1]]
        cots = [t for _, q in reqs for t in q[2]]
        try:
            with time_limit(SAMPLE_TIMEOUT_S):
                grads = funcgrad.autograd.grad(outs, ins, cots, allow_unused=True)
        except Exception:  # noqa: BLE001 - find out which sample it was
            return False
        k = 0
        for r, q in reqs:
            r.fgrads = grads[k:k + len(q[1])]
            k += len(q[1])
    else:
        for r, q in reqs:
            r.run_grads(q)
    for r in runs:
        try:
            r.finish()
            r.fwad()
        except Exception as e:  # noqa: BLE001
            r._end("fail", "harness: " + _short(e))
    return True


def _forward_error(res, e):
    if isinstance(e, NotImplementedError):
        res.forward, res.message = "notimpl", _short(e)
    elif _is_missing_attr(e):
        res.forward, res.message = "missing", _short(e)
    else:
        res.forward, res.message = "fail", _short(e)
    return res


def _compare_grads(res, tgrads, fgrads, gerr, fam, values):
    if gerr is not None:
        res.message = res.message or (str(gerr) if isinstance(gerr, Mismatch) else "backward: " + _short(gerr))
        return "fail"
    try:
        for k, (tg, fg) in enumerate(zip(tgrads, fgrads)):
            if tg is None and fg is None:
                continue
            if tg is None:
                if np.any(to_np(fg) != 0):
                    raise Mismatch(f"grad[{k}]: torch's is None, funcgrad's is nonzero")
                continue
            if fg is None:
                if np.any(to_np(tg) != 0):
                    raise Mismatch(f"grad[{k}]: funcgrad's is None, torch's is nonzero")
                continue
            compare_tensor(tg, fg, fam, f"grad[{k}]", values, grad=True)
        return "pass"
    except Mismatch as e:
        res.message = res.message or str(e)
    except Exception as e:  # noqa: BLE001
        res.message = res.message or "backward: " + _short(e)
    return "fail"


def _fwad_record(run):
    """Forward-mode AD of one sample: torch's tangents computed, funcgrad's recorded (read later,
    in the same program as the rest of the batch); inside funcgrad's dual level (see run_batch)."""
    import torch.autograd.forward_ad as tfw

    fw = funcgrad.autograd.forward_ad
    sample, pairs = run.sample, run.pairs
    tans = [_cotangent(p[0], run.rng) for p in pairs]
    try:
        with tfw.dual_level():
            tmap = {id(p[0]): tfw.make_dual(p[0].detach(), _mk_torch(a, p[0])) for p, a in zip(pairs, tans)}
            sub = tree_map(lambda t: tmap.get(id(t), t), (sample.input, sample.args, sample.kwargs), _is_t)
            tout = run.process(_call(run.torch_fn, sub[0], sub[1], sub[2]))
            ttan = [tfw.unpack_dual(t).tangent for t in leaves(tout, _is_t)]
            ttan = [None if t is None else t.clone() for t in ttan]
    except Exception:  # noqa: BLE001 - torch has no forward formula here
        return None
    try:
        with time_limit(SAMPLE_TIMEOUT_S):
            fmap = {id(p[1]): fw.make_dual(p[1].detach(), _mk_fg(a, p[1])) for p, a in zip(pairs, tans)}
            fsub = tree_map(lambda t: fmap.get(id(t), t),
                            to_fg((sample.input, sample.args, sample.kwargs), run.memo), _is_f)
            fout = run.fg_process(_call(run.fg_fn, fsub[0], tuple(fsub[1]), fsub[2]))
            ftan = [fw.unpack_dual(t).tangent for t in leaves(fout, _is_f)]
        return ttan, ftan, None
    except Exception as e:  # noqa: BLE001
        return ttan, None, e


def _fwad_compare(res, state, fam, values):
    ttan, ftan, err = state
    try:
        if err is not None:
            raise err
        if len(ftan) != len(ttan):
            raise Mismatch(f"forward AD: {len(ftan)} outputs != torch {len(ttan)}")
        for k, (tt, ft) in enumerate(zip(ttan, ftan)):
            if tt is None and ft is None:
                continue
            if tt is None:
                if np.any(to_np(ft) != 0):
                    raise Mismatch(f"tangent[{k}]: torch's is None, funcgrad's is nonzero")
                continue
            if ft is None:
                if np.any(to_np(tt) != 0):
                    raise Mismatch(f"tangent[{k}]: funcgrad's is None, torch's is nonzero")
                continue
            compare_tensor(tt, ft, fam, f"tangent[{k}]", values, grad=True)
        return "pass"
    except Mismatch as e:
        res.message = res.message or str(e)
    except Exception as e:  # noqa: BLE001
        res.message = res.message or "forward AD: " + _short(e)
    return "fail"


# ----------------------------------------------------------------------------------------------
# Samples and whole OpInfos
# ----------------------------------------------------------------------------------------------

def test_dtypes(op, long=LONG):
    """The dtypes test_opdb runs for ``op``: float32 and int64 where supported (else one dtype it supports)."""
    supported = op.supported_dtypes("cpu")
    if long:
        return [d for d in LONG_DTYPES if d in supported]
    out = [d for d in (torch.float32, torch.int64) if d in supported]
    if not out:
        for d in (torch.float64, torch.bool, torch.int32, torch.complex64, torch.uint8, torch.float16):
            if d in supported:
                return [d]
    return out


def samples_for(op, dtype, long=LONG):
    """The first samples of ``op`` for ``dtype`` (requires_grad where the op and dtype allow it)."""
    rg = op.supports_autograd and (dtype.is_floating_point or dtype.is_complex) and \
        dtype in op.supported_backward_dtypes("cpu")
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # sample_inputs_func directly: OpInfo.sample_inputs wraps it in a tracker whose
        # inspect.stack() costs ~0.25 s per call under pytest
        gen = op.sample_inputs_func(op, "cpu", dtype, rg)
        cap = None if long else CAPS.get(dtype, FALLBACK_CAP)
        return list(itertools.islice(gen, cap))


def check_opinfo(op, long=LONG, dtypes=None, verbose_cb=None, batched=True):
    """Every capped sample of ``op`` (function variant), plus its method and in-place variants on
    the first sample of the first dtype; funcgrad runs them all as one program (see ``run_batch``)."""
    fg_fn = resolve(op)
    name = op.name
    if fg_fn is None:
        return [SampleResult(name, op.variant_test_name, "-", -1, forward="missing",
                             message=f"funcgrad lacks {name}")]
    runs, early = [], []
    for k, dtype in enumerate(dtypes or test_dtypes(op, long)):
        try:
            samples = samples_for(op, dtype, long)
        except Exception as e:  # noqa: BLE001
            early.append(SampleResult(name, op.variant_test_name, str(dtype).split(".")[-1], -1, forward="skip",
                                      message="torch's sample generator raised " + _short(e, 120)))
            continue
        for i, s in enumerate(samples):
            runs.append(_Run(op, s, dtype, i, fg_fn, check_fwad=long or (i == 0 and k == 0)))
        if k == 0 and samples:
            runs += _variant_runs(op, dtype, samples[0], early)
    results = early + run_batch(runs, batched=batched)
    if verbose_cb:
        for r in results:
            verbose_cb(r)
    return results


def check_errors(op, long=LONG):
    """torch's ``error_inputs`` for ``op`` (those without ``out=``): funcgrad must raise the
    exception class torch raises. Returns SampleResults (kind "error"); [] when there are none."""
    fg_fn = resolve(op)
    if fg_fn is None or op.error_inputs_func is None:
        return []
    early = []
    runs = _error_runs(op, fg_fn, long, early)
    return early + run_batch(runs)


def _error_runs(op, fg_fn, long, early):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gen = op.error_inputs_func(op, "cpu")
            errs = (e for e in gen if "out" not in e.sample_input.kwargs)  # out= is not modelled
            errs = list(itertools.islice(errs, None if long else ERROR_CAP))
    except Exception as e:  # noqa: BLE001
        early.append(SampleResult(op.name, op.variant_test_name, "-", -1, "error", forward="skip",
                                  message="torch's error_inputs raised " + _short(e, 120)))
        return []
    return [_Run(op, e.sample_input, getattr(e.sample_input.input, "dtype", "-"), i, fg_fn, "error",
                 check_grads=False) for i, e in enumerate(errs)]


def _variant_runs(op, dtype, sample, early):
    """Method and in-place variants on one sample, without autograd (in-place on a leaf that
    requires grad is an error)."""
    out = []
    sample = sample.transform(lambda t: t.detach().clone() if isinstance(t, torch.Tensor) else t)
    for kind, pair in (("method", resolve_method(op)), ("inplace", resolve_inplace(op))):
        if pair is None:
            continue
        tfn, ffn = pair
        if ffn is None:
            early.append(SampleResult(op.name, op.variant_test_name, str(dtype).split(".")[-1], 0, kind,
                                      forward="missing", message=f"funcgrad.Tensor lacks {_variant_name(tfn)}"))
        else:
            out.append(_Run(op, sample, dtype, 0, ffn, kind, tfn, check_grads=False))
    return out


# ----------------------------------------------------------------------------------------------
# Known differences
# ----------------------------------------------------------------------------------------------

def load_xfail(attr="XFAIL"):
    """Merge ``XFAIL`` (or ``XFAIL_ERRORS``, for torch's error_inputs) from every
    ``tests/ops/xfail_*.py``: keys ``"name"`` or ``("name", "variant")``."""
    merged = {}
    here = os.path.dirname(os.path.abspath(__file__))
    for path in sorted(glob.glob(os.path.join(here, "xfail_*.py"))):
        spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        merged.update(getattr(mod, attr, {}))
    return merged


XFAIL = load_xfail()
XFAIL_ERRORS = load_xfail("XFAIL_ERRORS")


def xfail_reason(op, table=None):
    """The reason ``op`` is expected to fail (``("name", "variant")`` first, then ``"name"``), or None."""
    table = XFAIL if table is None else table
    return table.get((op.name, op.variant_test_name)) or table.get(op.name)


def verdict(results, errors=False):
    """What test_opdb (``errors=False``) or test_opdb_errors says about one OpInfo's results: None
    when they pass, else a message (first lines = the failing checks)."""
    if errors:
        bad = [r for r in results if not r.ok]
        return (f"{len(bad)} error inputs differ from torch:\n" + "\n".join(r.line() for r in bad[:8])) if bad \
            else None
    usable = [r for r in results if r.forward != "skip"]
    if not usable:
        reasons = sorted({r.message for r in results})[:3]
        return f"resolves in funcgrad but has no usable torch sample: {reasons}"
    bad = [r for r in results if not r.ok]
    if not bad:
        return None
    more = f"\n... and {len(bad) - 8} more" if len(bad) > 8 else ""
    return f"{len(bad)}/{len(results)} checks differ from torch:\n" + "\n".join(r.line() for r in bad[:8]) + more


def op_id(op):
    return op.name + ("." + op.variant_test_name if op.variant_test_name else "")
