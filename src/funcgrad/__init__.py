"""funcgrad: PyTorch's autograd semantics over JAX.

``import funcgrad as torch`` and PyTorch-style autograd code runs unchanged, printing what
PyTorch prints, while every kernel is an XLA program built by ``jax.jit``. Ops are recorded
lazily and flushed as fused, cached programs when a value is needed.

funcgrad turns on JAX's 64-bit mode (``jax_enable_x64``) at import, because torch has int64
and float64 tensors. funcgrad always passes explicit dtypes, so float32 stays float32; but raw
JAX code in the same process then defaults to 64-bit types (``jnp.array(1.0)`` is float64).
"""
from __future__ import annotations

import gc as _gc
import os as _os

import jax as _jax

_jax.config.update("jax_enable_x64", True)

from . import _dtypes  # noqa: E402
from ._device import device  # noqa: E402
from ._dtypes import (bfloat16, bool, cdouble, cfloat, complex64, complex128, double, dtype, float, float16,  # noqa: E402,A004
                      float32, float64, get_default_dtype, half, int, int8, int16, int32, int64, long, set_default_dtype,
                      short, uint8)
from ._dtypes import channels_last, channels_last_3d, contiguous_format, memory_format, preserve_format  # noqa: E402
from ._lazy import cache_info, set_lazy  # noqa: E402
from ._size import Size  # noqa: E402
from ._tensor_str import set_printoptions  # noqa: E402
from .tensor import Tensor  # noqa: E402
from . import _ops, _tensor_methods  # noqa: E402
from ._ops.creation import (Generator, arange, as_tensor, asarray, bernoulli, clone, empty, empty_like, eye,  # noqa: E402
                            from_numpy, full, full_like, get_rng_state, initial_seed, linspace, logspace, manual_seed,
                            multinomial, normal, ones, ones_like, rand, rand_like, randint, randint_like, randn,
                            randn_like, randperm, seed, set_rng_state, tensor, zeros, zeros_like)
from ._ops.indexing import (cat, concat, concatenate, gather, hstack, index_select, masked_select, nonzero,  # noqa: E402
                            stack, tile, vstack)
from ._ops.linalg import addmm, bmm, dot, einsum, matmul, mm, mv  # noqa: E402
from ._ops.pointwise import clamp, clip, float_power, pow, where  # noqa: E402,A004
from ._ops.reduction import max, min  # noqa: E402,A004
from ._ops.views import (broadcast_to, chunk, expand_as, split, swapaxes, swapdims, unbind)  # noqa: E402
from .autograd.grad_mode import (enable_grad, inference_mode, is_grad_enabled, is_inference_mode_enabled,  # noqa: E402
                                 no_grad, set_grad_enabled)
from . import autograd  # noqa: E402
from . import nn, optim  # noqa: E402
from . import func  # noqa: E402 - also registers Tensor as a JAX pytree
from .func import from_jax, to_jax  # noqa: E402
from .compile import compile  # noqa: E402,A004
from ._ops.aten import ops  # noqa: E402 - torch.ops.aten
from . import viz  # noqa: E402
from . import fft, linalg, masked, return_types, special  # noqa: E402 - namespaces filled by _ops.install
from . import signal  # noqa: E402 - torch.signal.windows
from ._ops.creation import channels_last, channels_last_3d, contiguous_format, layout, memory_format, preserve_format, strided  # noqa: E402,F401

_tensor_methods.install(Tensor)
_ops.install(Tensor, globals())

__version__ = "0.1.0"

# JAX leaves ~90k long-lived objects after import; every full cyclic-GC pass rescans them (a
# ~30 ms pause every few thousand ops, 10+ us per op amortised in eager loops). Move what exists
# now to the permanent generation; later objects are collected as usual.
if not _os.environ.get("FUNCGRAD_NO_GC_FREEZE"):
    _gc.collect()
    _gc.freeze()


def is_tensor(obj):
    return isinstance(obj, Tensor)


def numel(input):
    return input.numel()


def result_type(tensor1, tensor2):
    metas, scalars = [], []
    for x in (tensor1, tensor2):
        if isinstance(x, Tensor):
            metas.append((x.dtype, x.dim()))
        else:
            scalars.append(x)
    return _dtypes.result_type(metas, scalars)


def _legacy(dt):
    class _Legacy(Tensor):
        def __new__(cls, *args, **kwargs):
            from ._ops.creation import _legacy_new

            return _legacy_new(dt, args, kwargs)

    _Legacy.__name__ = dt._legacy
    return _Legacy


FloatTensor = _legacy(float32)
DoubleTensor = _legacy(float64)
LongTensor = _legacy(int64)
IntTensor = _legacy(int32)
BoolTensor = _legacy(bool)
ByteTensor = _legacy(uint8)
HalfTensor = _legacy(float16)

from . import _env, accelerator, amp, backends, cuda, multiprocessing, serialization, utils, version  # noqa: E402
from ._env import (are_deterministic_algorithms_enabled, finfo, get_float32_matmul_precision,  # noqa: E402
                   get_num_interop_threads, get_num_threads, iinfo, is_deterministic_algorithms_warn_only_enabled,
                   set_float32_matmul_precision, set_num_interop_threads, set_num_threads,
                   use_deterministic_algorithms)
from ._install import install, uninstall  # noqa: E402
from .amp import autocast  # noqa: E402
from .amp.autocast_mode import get_autocast_dtype, is_autocast_enabled  # noqa: E402
from .amp.autocast_mode import (autocast_decrement_nesting, autocast_increment_nesting,  # noqa: E402
                                clear_autocast_cache, is_autocast_cache_enabled, set_autocast_cache_enabled,
                                set_autocast_dtype, set_autocast_enabled, is_autocast_cpu_enabled,
                                set_autocast_cpu_enabled, get_autocast_cpu_dtype, set_autocast_cpu_dtype,
                                get_autocast_gpu_dtype, set_autocast_gpu_dtype)
from . import cpu  # noqa: E402
from .serialization import load, save  # noqa: E402
from . import distributed  # noqa: E402 - torch.distributed (needs nn, optim and compile above)
from .nn import parallel as _parallel  # noqa: E402,F401 - torch.nn.parallel (DDP needs distributed)
