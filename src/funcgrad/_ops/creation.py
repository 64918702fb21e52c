"""Factories, random numbers, copies, dtype/device moves and the in-place-only ops."""
from __future__ import annotations

from ..tensor import Tensor  # noqa: E402 - _ops load after tensor

import threading
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from .. import _dtypes
from .._device import _CPU, as_device
from .registry import Const, defop

__all__ = ["tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "empty", "eye", "arange", "linspace",
           "logspace", "zeros_like", "ones_like", "full_like", "empty_like", "rand", "randn", "randint",
           "rand_like", "randn_like", "randint_like", "randperm", "manual_seed", "seed", "initial_seed",
           "clone", "normal", "bernoulli", "multinomial", "Generator", "get_rng_state", "set_rng_state"]



def _place(arr, device):
    dev = as_device(device) or _CPU
    return jax.device_put(arr, dev.jax_device()), dev


def _new(arr, dtype=None, device=None, requires_grad=False):
    arr, dev = _place(arr, device)
    t = Tensor._make(arr, dev)
    if requires_grad:
        t._set_requires_grad(True, "Only Tensors of floating point and complex dtype can require gradients")
    return t


def _infer_np(data, want=None):
    """numpy array for python data with torch's dtype inference; python numbers go straight to
    ``want`` (a numpy dtype) when given, so ``tensor([0.3], dtype=float64)`` never passes through float32."""
    if isinstance(data, Tensor):
        return np.asarray(data._array())
    if isinstance(data, np.ndarray):
        return data
    if isinstance(data, np.generic):
        return np.asarray(data)
    if isinstance(data, (bool, int, float, complex)):
        if want is not None and not (isinstance(data, complex) and want.kind != "c"):
            return np.asarray(data, dtype=want)
        return np.asarray(data, dtype=_dtypes.scalar_dtype(data).np)
    if hasattr(data, "__jax_array__") or isinstance(data, jax.Array):
        return np.asarray(data)
    if isinstance(data, (list, tuple)):
        flat = []

        def walk(x):
            if isinstance(x, (list, tuple)):
                for y in x:
                    walk(y)
            elif isinstance(x, Tensor):
                if x.numel() != 1:
                    raise ValueError("only one element tensors can be converted to Python scalars")
                flat.append(x.item())
            else:
                flat.append(x)
        walk(data)
        try:
            arr = np.array(_unwrap(data))
        except ValueError as e:
            raise ValueError(f"expected sequence of equal length: {e}") from None
        if arr.dtype == object:
            raise TypeError(f"Could not infer dtype of {type(flat[0]).__name__}")
        if want is not None and (arr.dtype.kind in "biuf" or want.kind == "c"):
            return arr.astype(want)
        if arr.dtype.kind == "f":
            arr = arr.astype(_dtypes.get_default_dtype().np)
        elif arr.dtype.kind in "iu":
            arr = arr.astype(np.int64)
        elif arr.dtype.kind == "c":
            arr = arr.astype(np.complex64)
        return arr
    raise TypeError(f"Could not infer dtype of {type(data).__name__}")


def _unwrap(x):
    if isinstance(x, (list, tuple)):
        return [_unwrap(y) for y in x]
    if isinstance(x, Tensor):
        return x.item()
    return x


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new leaf tensor copied from ``data`` (number, nested list, numpy array or tensor)."""
    if isinstance(data, Tensor):
        warnings.warn(
            "To copy construct from a tensor, it is recommended to use sourceTensor.detach().clone() or "
            "sourceTensor.detach().clone().requires_grad_(True), rather than torch.tensor(sourceTensor).",
            UserWarning, stacklevel=2)
    dt = _dtypes.as_dtype(dtype)
    arr = _infer_np(data, None if dt is None else dt.np)
    if dt is not None:
        arr = arr.astype(dt.np)
    else:
        arr = arr.astype(_dtypes.from_numpy_dtype(arr.dtype).np, copy=False)
    return _new(np.array(arr, copy=True), device=device, requires_grad=requires_grad)


def as_tensor(data, dtype=None, device=None):
    if isinstance(data, Tensor):
        return data.to(device=device, dtype=dtype) if (dtype or device) else data
    return tensor(data, dtype=dtype, device=device)


asarray = as_tensor


def from_numpy(ndarray):
    """A tensor holding ``ndarray``'s values (copied: JAX arrays are immutable)."""
    if not isinstance(ndarray, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(ndarray).__name__})")
    _dtypes.from_numpy_dtype(ndarray.dtype)
    return _new(np.array(ndarray, copy=True))


def _size(size):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (int, np.integer)):
            raise TypeError(f"expected a sequence of integers or a single integer, got {type(s).__name__}")
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
    return tuple(int(s) for s in size)


def _fill(shape, value, dtype, device, requires_grad):
    dt = _dtypes.as_dtype(dtype) or _dtypes.get_default_dtype()
    return _new(np.full(shape, value, dtype=dt.np), device=device, requires_grad=requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    """A tensor of zeros of the given size."""
    return _fill(_size(size), 0, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    """A tensor of ones of the given size."""
    return _fill(_size(size), 1, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None, memory_format=None):
    """An uninitialised tensor (zeros, in funcgrad)."""
    return _fill(_size(size), 0, dtype, device, requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False):
    if dtype is None:
        dtype = _dtypes.scalar_dtype(fill_value)
    return _fill(_size((size,)), fill_value, dtype, device, requires_grad)


def _like(t, dtype, device):
    return dtype or t.dtype, device or t.device


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    dt, dev = _like(input, dtype, device)
    return _fill(input._shape, 0, dt, dev, requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    dt, dev = _like(input, dtype, device)
    return _fill(input._shape, 1, dt, dev, requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    return zeros_like(input, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    dt, dev = _like(input, dtype, device)
    return _fill(input._shape, fill_value, dt, dev, requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    """The identity matrix (n x m)."""
    dt = _dtypes.as_dtype(dtype) or _dtypes.get_default_dtype()
    return _new(np.eye(n, m if m is not None else n, dtype=dt.np), device=device, requires_grad=requires_grad)


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False):
    """Values from ``start`` to ``end`` (exclusive) by ``step``; int64 unless a bound is a float."""
    if end is None:
        start, end = 0, start
    vals = [v.item() if hasattr(v, "item") and not isinstance(v, (int, float)) else v for v in (start, end, step)]
    if step == 0:
        raise RuntimeError("step must be nonzero")
    if dtype is None:
        dtype = _dtypes.get_default_dtype() if any(isinstance(v, float) for v in vals) else _dtypes.int64
    dt = _dtypes.as_dtype(dtype)
    n = max(int(np.ceil((vals[1] - vals[0]) / vals[2])), 0)
    arr = (vals[0] + np.arange(n, dtype=np.float64) * vals[2]).astype(dt.np) if dt.is_floating_point else \
        np.arange(vals[0], vals[1], vals[2]).astype(dt.np)
    return _new(arr, device=device, requires_grad=requires_grad)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False):
    dt = _dtypes.as_dtype(dtype) or _dtypes.get_default_dtype()
    return _new(np.linspace(start, end, steps, dtype=np.float64).astype(dt.np), device=device,
                requires_grad=requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False):
    dt = _dtypes.as_dtype(dtype) or _dtypes.get_default_dtype()
    return _new(np.logspace(start, end, steps, base=base).astype(dt.np), device=device, requires_grad=requires_grad)


# -- random numbers: a counter folded into one key, drawn inside the fused program -----------------
class Generator:
    """Random state: a JAX key and a draw counter (reproducible after ``manual_seed``)."""

    def __init__(self, device="cpu"):
        self.device = as_device(device)
        self.manual_seed(np.random.SeedSequence().entropy % (2**63))

    def manual_seed(self, seed):
        self._seed = int(seed)
        self._key = jax.random.key_data(jax.random.key(self._seed % (2**63)))
        self._count = 0
        return self

    def initial_seed(self):
        return self._seed

    def seed(self):
        s = np.random.SeedSequence().entropy % (2**63)
        self.manual_seed(s)
        return s

    def get_state(self):
        return (self._seed, self._count)

    def set_state(self, state):
        self.manual_seed(state[0])
        self._count = state[1]

    _draws = 0  # draws ever made (a python int, even while the counter is traced)

    def _next(self):
        c = self._count
        self._count = c + 1
        self._draws += 1
        # inside funcgrad.compile the counter is a traced input, so each call draws fresh numbers
        return Const(self._key), Const(c.astype(np.uint32) if hasattr(c, "astype") else np.asarray(c, np.uint32))


class _DefaultGen(threading.local):
    gen = None


_default = _DefaultGen()


def default_generator():
    if _default.gen is None:
        _default.gen = Generator()
    return _default.gen


def manual_seed(seed):
    """Seed the default generator (funcgrad's stream differs from torch's but is reproducible)."""
    return default_generator().manual_seed(seed)


def seed():
    return default_generator().seed()


def initial_seed():
    return default_generator().initial_seed()


def get_rng_state():
    return default_generator().get_state()


def set_rng_state(state):
    default_generator().set_state(state)


def _draw_fwd(key, counter, kind, shape, dtype, low=0, high=1):
    k = jax.random.fold_in(jax.random.wrap_key_data(key), counter)
    if kind == "normal":
        return jax.random.normal(k, shape, dtype)
    if kind == "uniform":
        return jax.random.uniform(k, shape, dtype, minval=low, maxval=high)
    if kind == "randint":
        return jax.random.randint(k, shape, low, high, dtype)
    if kind == "perm":
        return jax.random.permutation(k, shape[0]).astype(dtype)
    raise ValueError(kind)


@defop(_draw_fwd, node="", method=False, function=False, name="random")
def _draw(kind, shape, dtype, generator=None, low=0, high=1):
    g = generator or default_generator()
    key, counter = g._next()
    return (key, counter), (("kind", kind), ("shape", shape), ("dtype", dtype.np), ("low", low), ("high", high))


def _random(kind, size, dtype, device, requires_grad, generator, low=0, high=1):
    dt = _dtypes.as_dtype(dtype) or _dtypes.get_default_dtype()
    t = _draw(kind, _size(size), dt, generator, low, high)
    dev = as_device(device)
    if dev is not None and dev != _CPU:
        t = t.to(dev)
    if requires_grad:
        t.requires_grad_(True)
    return t


def randn(*size, dtype=None, device=None, requires_grad=False, generator=None, out=None):
    """Standard normal samples of the given size."""
    return _random("normal", size, dtype, device, requires_grad, generator)


def rand(*size, dtype=None, device=None, requires_grad=False, generator=None, out=None):
    """Uniform samples in [0, 1) of the given size."""
    return _random("uniform", size, dtype, device, requires_grad, generator)


def randint(low, high=None, size=None, *, dtype=None, device=None, requires_grad=False, generator=None):
    """Integers uniform in [low, high)."""
    if size is None:
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    return _random("randint", (tuple(size),), dtype or _dtypes.int64, device, requires_grad, generator, int(low),
                   int(high))


def randperm(n, *, dtype=None, device=None, requires_grad=False, generator=None):
    return _random("perm", (n,), dtype or _dtypes.int64, device, requires_grad, generator)


def randn_like(input, *, dtype=None, device=None, requires_grad=False):
    return randn(input._shape, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad)


def rand_like(input, *, dtype=None, device=None, requires_grad=False):
    return rand(input._shape, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad)


def randint_like(input, low, high=None, *, dtype=None, device=None):
    return randint(low, high, input._shape, dtype=dtype or input.dtype, device=device or input.device)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False):
    if size is not None:
        return randn(size, generator=generator, dtype=dtype, device=device, requires_grad=requires_grad) * std + mean
    shape = (mean if isinstance(mean, Tensor) else std)._shape
    return randn(shape, generator=generator) * std + mean


def bernoulli(input, p=None, *, generator=None):
    probs = input if p is None else p
    return (rand(input._shape, generator=generator, dtype=input.dtype) < probs).to(input.dtype)


def multinomial(input, num_samples, replacement=False, *, generator=None):
    g = generator or default_generator()
    key, counter = g._next()
    k = jax.random.fold_in(jax.random.wrap_key_data(key.v), int(counter.v))
    p = input._array()
    logits = jnp.log(p / p.sum(-1, keepdims=True))
    if replacement:
        out = jax.random.categorical(k, logits, shape=(num_samples,) + p.shape[:-1])
        out = jnp.moveaxis(out, 0, -1)
    else:
        gumbel = jax.random.gumbel(k, p.shape) + logits
        out = jnp.argsort(-gumbel, axis=-1)[..., :num_samples]
    return _new(np.asarray(out).astype(np.int64), device=input.device)


# -- copies, dtype and device moves ------------------------------------------------------------------
@defop(lambda x: jnp.array(x, copy=True), node="CloneBackward0", saves={0: ()})
def clone(input, *, memory_format=None):
    """A copy with its own storage that stays in the graph."""
    return (input,), ()


@defop(lambda x, dtype: x.astype(dtype), node="ToCopyBackward0", saves={0: ()}, method=False, function=False,
       name="to_copy")
def _to_copy(input, dtype):
    return (input,), (("dtype", dtype.np),)


def _parse_to(args, kwargs):
    dtype, device = kwargs.pop("dtype", None), kwargs.pop("device", None)
    for a in args:
        if isinstance(a, _dtypes.dtype):
            dtype = a
        elif isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif a is not None:
            device = a
    return _dtypes.as_dtype(dtype), as_device(device), kwargs.pop("copy", False)


def _to(self, *args, **kwargs):
    dtype, device, copy = _parse_to(args, kwargs)
    out = self
    if dtype is not None and dtype is not self._dtype:
        out = _to_copy(out, dtype)
    if device is not None and device != out.device:
        out = _move(out, device)
    if copy and out is self:
        out = clone(self)
    return out


def _move(t, device):
    arr = jax.device_put(t._array(), device.jax_device())
    out = Tensor._make(arr, device)
    if t._rg and _lazy_grad_enabled():
        from .registry import _attach_node

        _attach_node(_identity.op, "ToCopyBackward0", (t,), (t._value(),), (), out)
    return out


def _lazy_grad_enabled():
    from ..autograd.grad_mode import is_grad_enabled

    return is_grad_enabled()


@defop(lambda x: x, node="ToCopyBackward0", method=False, function=False, name="identity")
def _identity(input):
    return (input,), ()


# -- in-place-only ops (used through Tensor.zero_/fill_/copy_) ---------------------------------------
@defop(jnp.zeros_like, node="ZeroBackward0", saves={0: ()}, method=False, function=False, name="zero")
def _zero(input):
    return (input,), ()


@defop(lambda x, v: jnp.broadcast_to(v.astype(x.dtype), x.shape), node="FillBackward0", method=False,
       function=False, name="fill")
def _fill_op(input, value):
    if isinstance(value, Tensor):
        if value.dim():
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with {value.dim()} dimensions.")
        return (input, value), (), "FillBackward3"
    return (input, Const(np.asarray(value, dtype=input._dtype.np))), (), "FillBackward2"


@defop(lambda x, src: jnp.broadcast_to(src.astype(x.dtype), x.shape), node="CopyBackwards", saves={0: (), 1: ()},
       method=False, function=False, name="copy")
def _copy_op(input, src):
    if not isinstance(src, Tensor):
        raise TypeError(f"copy_(): argument 'src' must be Tensor, not {type(src).__name__}")
    s, d = src._shape, input._shape
    if not (len(s) <= len(d) and all(a == b or a == 1 for a, b in zip(reversed(s), reversed(d)))):
        raise RuntimeError(f"The size of tensor a ({d[-1] if d else 1}) must match the size of tensor b "
                           f"({s[-1] if s else 1}) at non-singleton dimension {max(len(d) - 1, 0)}")
    if src.device != input.device:
        src = src.to(input.device)
    return (input, src), ()


def _legacy_new(dtype, args, kwargs):
    """``torch.FloatTensor(2, 3)`` / ``torch.FloatTensor([1, 2])`` / ``torch.Tensor(...)``."""
    if len(args) == 1 and not isinstance(args[0], int):
        return tensor(args[0], dtype=dtype)
    return zeros(*args, dtype=dtype)
