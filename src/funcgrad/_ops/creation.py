"""Factories, random numbers, copies, dtype/device moves and the in-place-only ops."""
from __future__ import annotations

import math
import threading
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from .. import _dtypes, _lazy
from .._autograd import grad_mode
from .._autograd.grad_mode import is_grad_enabled
from .._device import _CPU, as_device
from ..tensor import Storage, Tensor
from .registry import Const, _attach_node, _invalid_combination, defop, methods, public, new_result, scalar_value

__all__ = ["tensor", "as_tensor", "from_numpy", "zeros", "ones", "full", "empty", "eye", "arange", "linspace",
           "logspace", "zeros_like", "ones_like", "full_like", "empty_like", "rand", "randn", "randint",
           "rand_like", "randn_like", "randint_like", "randperm", "manual_seed", "seed", "initial_seed",
           "clone", "normal", "bernoulli", "multinomial", "Generator", "get_rng_state", "set_rng_state"]



_default_device = []


def _put_owned(arr, jdev):
    """A numpy array this module owns (made for the call) onto ``jdev``: jax's own transfer, below
    ``jax.device_put``'s dispatch (a fifth of ``jnp.asarray``'s time for small arrays, the
    factories' common case). It may alias ``arr`` (float16 on CPU does): never pass an array
    anyone else holds. None where this jax has no such call."""
    if _xfer is None:
        return None
    sharding = _shardings.get(jdev)
    if sharding is None:
        sharding = _shardings[jdev] = jax.sharding.SingleDeviceSharding(jdev)
    key = (arr.shape, arr.dtype)
    aval = _avals.get(key)
    if aval is None:  # one (immutable) abstract value per shape and dtype, not one per call
        if len(_avals) > 1024:
            _avals.clear()
        aval = _avals[key] = _ShapedArray(arr.shape, arr.dtype)
    try:
        return _xfer(aval, sharding, [arr], [jdev], False)
    except Exception:  # a layout or dtype the raw transfer does not take: the public path
        return None


_avals: dict = {}


try:  # private to jax: guarded, with jnp.asarray as the fallback
    from jax._src.core import ShapedArray as _ShapedArray
    from jax._src.lib import xla_client as _xla_client

    _xfer = _xla_client.batched_device_put
except Exception:  # pragma: no cover - another jax
    _xfer = None
_shardings: dict = {}


def _place(arr, device, owned=False):
    dev = as_device(device) or _CPU
    jdev = dev.jax_device()
    if not _default_device:
        _default_device.append(jax.devices()[0])
    if jdev == _default_device[0] and isinstance(arr, np.ndarray):
        if owned and arr.flags.c_contiguous:
            a = _put_owned(arr, jdev)
            if a is not None:
                return a, dev
        return jnp.asarray(arr), dev  # the default device: half the cost of device_put
    return jax.device_put(arr, jdev), dev


def _kw(fname, dtype, requires_grad):
    """torch's argument parser: ``dtype`` is a torch.dtype (or a python type), ``requires_grad`` a bool."""
    if dtype is not None and not isinstance(dtype, _dtypes.dtype) and dtype not in (float, int, bool, complex):
        raise TypeError(f"{fname}(): argument 'dtype' must be torch.dtype, not {type(dtype).__name__}")
    if not isinstance(requires_grad, (bool, np.bool_)):
        raise TypeError(f"{fname}(): argument 'requires_grad' must be bool, not {type(requires_grad).__name__}")


def _new(arr, dtype=None, device=None, requires_grad=False, owned=False):
    """A leaf tensor of numpy ``arr``; ``owned``: made for this call, held by no one else."""
    arr, dev = _place(arr, device, owned)
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
    if isinstance(data, int) and not isinstance(data, bool) and not -2**63 <= data < 2**63:
        raise ValueError("Overflow when unpacking long long")
    if isinstance(data, (bool, int, float, complex)):
        if want is not None and not (isinstance(data, complex) and want.kind != "c"):
            return np.asarray(data, dtype=want)
        return np.asarray(data, dtype=_dtypes.scalar_dtype(data).np)
    if hasattr(data, "__jax_array__") or isinstance(data, jax.Array):
        return np.asarray(data)
    if isinstance(data, (list, tuple)):
        _check_nested(data)
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
        for v in flat:
            if not isinstance(v, (bool, int, float, complex, np.generic)):
                if isinstance(v, str):
                    raise TypeError("new(): invalid data type 'str'")
                raise RuntimeError(f"Could not infer dtype of {type(v).__name__}")
        if want is not None and want.kind in "iu":
            info = np.iinfo(want)
            for v in flat:
                if isinstance(v, (float, np.floating)) and not math.isfinite(v) or isinstance(
                        v, (int, np.integer)) and not isinstance(v, bool) and not info.min <= v <= info.max:
                    raise RuntimeError(f"value cannot be converted to type {want.name} without overflow")
        if all(isinstance(v, (int, bool)) for v in flat) and any(
                not isinstance(v, bool) and not -2**63 <= v < 2**63 for v in flat):
            raise ValueError("Overflow when unpacking long long")
        try:
            arr = np.array(_unwrap(data), dtype=np.float64 if any(isinstance(v, float) for v in flat) else None)
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
    if isinstance(data, str):
        raise TypeError("new(): invalid data type 'str'")
    raise RuntimeError(f"Could not infer dtype of {type(data).__name__}")


def _check_nested(data):
    """torch's shape check of nested sequences: the sizes come from the first elements, then every
    sequence must match them (``expected sequence of length 2 at dim 1 (got 1)``)."""
    sizes = []
    x = data
    while isinstance(x, (list, tuple)):
        sizes.append(len(x))
        if not x:
            break
        x = x[0]
    if isinstance(x, str):
        raise ValueError("too many dimensions 'str'")

    def check(x, d):
        if d == len(sizes):
            return
        if not isinstance(x, (list, tuple)):
            raise TypeError("not a sequence")
        if len(x) != sizes[d]:
            raise ValueError(f"expected sequence of length {sizes[d]} at dim {d} (got {len(x)})")
        for y in x:
            check(y, d + 1)

    check(data, 0)


def _unwrap(x):
    if isinstance(x, (list, tuple)):
        return [_unwrap(y) for y in x]
    if isinstance(x, Tensor):
        return x.item()
    return x


def _flat(data):
    """``tensor(data)`` for a flat, non-empty list of python ints (int64) or of python floats (the
    default dtype, float32 or float64): one numpy array, placed on the CPU device with no checks or
    walk (a batch's lengths and targets, built every step); None for anything else."""
    kinds = set(map(type, data))
    if len(kinds) != 1:
        return None
    kind = kinds.pop()
    if kind is int:
        try:
            arr = np.array(data, np.int64)
        except OverflowError:  # beyond int64: the general path words torch's error
            return None
        dt = _dtypes.int64
    elif kind is float:
        dt = _dtypes.get_default_dtype()
        if dt is not _dtypes.float32 and dt is not _dtypes.float64:
            return None  # float16/bfloat16 defaults round as the general path does
        if dt is _dtypes.float64 or -_F32_MAX <= min(data) and max(data) <= _F32_MAX:  # (a NaN first: not)
            arr = np.array(data, dt.np)
        else:
            with np.errstate(over="ignore"):  # 1e300 is inf in float32, silently (as torch)
                arr = np.array(data, dt.np)
    else:
        return None
    return _leaf(arr, dt)


def _leaf(arr, dt, a=None, shape=None):
    """A leaf tensor of ``arr`` (C-contiguous, made for the call, of ``dt``'s numpy dtype) on the CPU
    when the CPU is JAX's default device: ``_new(arr, owned=True)`` with nothing looked up; else None.
    Or of ``a``, a JAX array of ``shape`` and ``dt`` already there."""
    if a is None:
        if not _flat_dev:
            jdev = _CPU.jax_device()
            _flat_dev.append(jdev if jdev == jax.devices()[0] else None)  # the CPU is JAX's default device
        jdev = _flat_dev[0]
        if jdev is None:
            return None
        a = _put_owned(arr, jdev)
        if a is None:
            return None
        shape = arr.shape
    lz = _new_obj(_lazy.Lazy)  # _lazy.wrap(a), its shape and dtype known
    lz.shape = shape
    lz.dtype = dt.np
    lz.value = a
    lz.gen = lz.idx = -1
    return new_result(lz, shape, dt, _CPU)


_new_obj = object.__new__
_F32_MAX = float(np.finfo(np.float32).max)
_flat_dev: list = []
_aranges: dict = {}


def tensor(data, *, dtype=None, device=None, requires_grad=False, pin_memory=False):
    """A new leaf tensor copied from ``data`` (number, nested list, numpy array or tensor)."""
    if type(data) is list and data and dtype is None and device is None and requires_grad is False:
        t = _flat(data)
        if t is not None:
            return t
    _kw("tensor", dtype, requires_grad)
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
    return _new(np.array(arr, copy=True), device=device, requires_grad=requires_grad, owned=True)


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


def _size(size, fname=None):
    if len(size) == 1 and isinstance(size[0], (tuple, list)):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (int, np.integer)):
            if fname:
                raise TypeError(f"{fname}(): argument 'size' (position 1) must be tuple of ints, "
                                f"not {type(s).__name__}")
            raise TypeError(f"expected a sequence of integers or a single integer, got {type(s).__name__}")
        if s < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {s}: {list(size)}")
    return tuple(int(s) for s in size)


def _fill(shape, value, dtype, device, requires_grad):
    dt = _dtypes.as_dtype(dtype) or _dtypes.get_default_dtype()
    if isinstance(value, float) and not math.isfinite(value) and dt.np.kind in "iu":
        raise RuntimeError(f"value cannot be converted to type {dt.name}_t without overflow")
    return _new(np.full(shape, value, dtype=dt.np), device=device, requires_grad=requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    """A tensor of zeros of the given size."""
    _kw("zeros", dtype, requires_grad)
    return _fill(_size(size, "zeros"), 0, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    """A tensor of ones of the given size."""
    _kw("ones", dtype, requires_grad)
    return _fill(_size(size, "ones"), 1, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False, out=None, layout=None, memory_format=None):
    """An uninitialised tensor (zeros, in funcgrad)."""
    _kw("empty", dtype, requires_grad)
    return _fill(_size(size, "empty"), 0, dtype, device, requires_grad)


def full(size, fill_value, *, dtype=None, device=None, requires_grad=False):
    _kw("full", dtype, requires_grad)
    if not isinstance(size, (tuple, list)):
        raise TypeError(f"full(): argument 'size' (position 1) must be tuple of ints, not {type(size).__name__}")
    if dtype is None:
        dtype = _dtypes.scalar_dtype(fill_value)
    if type(fill_value) is int and not -2 ** 63 <= fill_value < 2 ** 63:
        if fill_value >= 2 ** 64 or fill_value < -2 ** 63:
            raise OverflowError("int too big to convert" if fill_value > 0 else "can't convert negative int to unsigned")
        if not _dtypes.as_dtype(dtype).is_floating_point:
            raise RuntimeError("value cannot be converted to type int64_t without overflow")
    return _fill(_size((size,)), fill_value, dtype, device, requires_grad)


def _like(t, dtype, device, fname="zeros_like"):
    if not isinstance(t, Tensor):
        raise TypeError(f"{fname}(): argument 'input' (position 1) must be Tensor, not {type(t).__name__}")
    return dtype or t.dtype, device or t.device


def zeros_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    _kw("zeros_like", dtype, requires_grad)
    dt, dev = _like(input, dtype, device)
    return _fill(input._shape, 0, dt, dev, requires_grad)


def ones_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    _kw("ones_like", dtype, requires_grad)
    dt, dev = _like(input, dtype, device, "ones_like")
    return _fill(input._shape, 1, dt, dev, requires_grad)


def empty_like(input, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    return zeros_like(input, dtype=dtype, device=device, requires_grad=requires_grad)


def full_like(input, fill_value, *, dtype=None, device=None, requires_grad=False, memory_format=None):
    _kw("full_like", dtype, requires_grad)
    dt, dev = _like(input, dtype, device, "full_like")
    return _fill(input._shape, fill_value, dt, dev, requires_grad)


def eye(n, m=None, *, dtype=None, device=None, requires_grad=False):
    """The identity matrix (n x m)."""
    _kw("eye", dtype, requires_grad)
    dt = _dtypes.as_dtype(dtype) or _dtypes.get_default_dtype()
    if n < 0:
        raise RuntimeError(f"n must be greater or equal to 0, got {n}")
    if m is not None and m < 0:
        raise RuntimeError(f"m must be greater or equal to 0, got {m}")
    return _new(np.eye(n, m if m is not None else n, dtype=dt.np), device=device, requires_grad=requires_grad)


def _num(v):
    return v.item() if isinstance(v, Tensor) or (hasattr(v, "item") and not isinstance(v, (int, float))) else v


def arange(start, end=None, step=1, *, dtype=None, device=None, requires_grad=False, out=None, layout=None,
           pin_memory=False):
    """Values from ``start`` to ``end`` (exclusive) by ``step``; int64 unless a bound is a float."""
    if end is None:
        if type(start) is int and start >= 0 and dtype is None and device is None and requires_grad is False \
                and out is None:
            # arange(n): the common case. Its array is cached per n (JAX arrays are immutable: an
            # in-place op gives a tensor a new value; only a donation deletes one, then it is made again)
            a = _aranges.get(start)
            if a is not None and not a.is_deleted():
                return _leaf(None, _dtypes.int64, a, (start,))
            t = _leaf(np.arange(start, dtype=np.int64), _dtypes.int64)
            if t is not None:
                if len(_aranges) > 256:
                    _aranges.clear()
                _aranges[start] = t._st.value.value
                return t
        start, end = 0, start
    vals = [_num(v) for v in (start, end, step)]
    if dtype is None:
        dtype = _dtypes.get_default_dtype() if any(isinstance(v, float) for v in vals) else _dtypes.int64
    dt = _dtypes.as_dtype(dtype)
    if not dt.is_floating_point and not dt.is_complex:
        vals = [int(v) for v in vals]  # torch casts the bounds to the integer type first
    a, b, k = vals
    if k == 0:
        raise RuntimeError("step must be nonzero")
    if not (np.isfinite(a) and np.isfinite(b)):
        raise RuntimeError(f"unsupported range: {a} -> {b}")
    if (k > 0 and b < a) or (k < 0 and b > a):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    n = max(int(np.ceil((b - a) / k)), 0)
    arr = (a + np.arange(n, dtype=np.float64) * k).astype(dt.np) if dt.is_floating_point else \
        np.arange(a, b, k).astype(dt.np)
    return _new(arr, device=device, requires_grad=requires_grad, owned=True)


def _space(name, start, end, steps, dtype, base=None):
    start, end = _num(start), _num(end)
    if isinstance(steps, Tensor):
        steps = steps.item()
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool):
        raise TypeError(f"{name}() received an invalid combination of arguments - got steps of type "
                        f"{type(steps).__name__}, but expected int")
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    dt = _dtypes.as_dtype(dtype) or _dtypes.get_default_dtype()
    if dt is _dtypes.bool:
        raise NotImplementedError(f"\"{name}_cpu\" not implemented for 'Bool'")
    integral = not (dt.is_floating_point or dt.is_complex)
    if integral:
        start, end = int(start), int(end)
    work = np.float64 if integral else np.dtype(dt.np).type
    i = np.arange(steps)
    if steps == 1:
        t = np.asarray([start], dtype=work)
    else:
        st = (work(end) - work(start)) / work(max(steps - 1, 1))
        half = steps // 2
        t = np.where(i < half, work(start) + st * i, work(end) - st * (steps - i - 1)).astype(work)
    if base is not None:
        t = np.power(np.asarray(base, dtype=np.float64 if integral else work), t)
    return t.astype(dt.np)


def linspace(start, end, steps, *, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    """``steps`` evenly spaced values from ``start`` to ``end`` (torch's two-sided formula)."""
    return _new(_space("linspace", start, end, steps, dtype), device=device, requires_grad=requires_grad)


def logspace(start, end, steps, base=10.0, *, dtype=None, device=None, requires_grad=False, out=None, layout=None):
    """``base ** linspace(start, end, steps)``."""
    return _new(_space("logspace", start, end, steps, dtype, base), device=device, requires_grad=requires_grad)


@public
def scalar_tensor(s, *, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
    """A 0-d tensor of ``s`` (default dtype unless ``dtype``)."""
    dt = _dtypes.as_dtype(dtype) or _dtypes.get_default_dtype()
    return _new(np.asarray(_num(s), dtype=dt.np), device=device, requires_grad=requires_grad)


@public
def empty_strided(size, stride, *, dtype=None, device=None, requires_grad=False, layout=None, pin_memory=False):
    """An uninitialised tensor (zeros in funcgrad); funcgrad's storage is always contiguous."""
    if len(tuple(size)) != len(tuple(stride)):
        raise RuntimeError(f"mismatch in length of strides and shape")
    return empty(tuple(size), dtype=dtype, device=device, requires_grad=requires_grad)


@public
def empty_permuted(size, physical_layout, *, dtype=None, device=None, requires_grad=False, layout=None,
                   pin_memory=False):
    size, perm = tuple(size), tuple(physical_layout)
    if len(size) != len(perm) or sorted(perm) != list(range(len(size))):
        raise RuntimeError(f"Number of dimensions in size does not match the length of the physical_layout; "
                           f"i.e. len(size) = {len(size)} is not equal to len(physical_layout) = {len(perm)}")
    return empty(size, dtype=dtype, device=device, requires_grad=requires_grad)


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
        """The state as a ``torch.uint8`` tensor (funcgrad's: seed and draw counter, 16 bytes)."""
        st = np.array([self._seed % (2**64), int(self._count)], dtype=np.uint64).view(np.uint8)
        return _new(st.copy())

    def set_state(self, new_state):
        if isinstance(new_state, tuple):  # funcgrad's old (seed, counter) form
            seed, count = new_state
        else:
            if not isinstance(new_state, Tensor) or new_state.dtype is not _dtypes.uint8:
                raise TypeError("expected a torch.ByteTensor, but got " + type(new_state).__name__)
            if new_state.numel() != 16:
                raise RuntimeError(f"Expected either a PhiloxCudaState or a CPUGeneratorImplState of size 16, got "
                                   f"{new_state.numel()} (funcgrad's generator state is 16 bytes)")
            seed, count = (int(v) for v in np.asarray(new_state.numpy()).view(np.uint64))
        self.manual_seed(seed)
        self._count = count
        return self

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
    if kind in _DISTS:
        u = jax.random.uniform(k, shape, jnp.float64 if dtype == np.float64 else jnp.float32,
                               minval=np.finfo(np.float32).tiny, maxval=1.0)
        return _DISTS[kind](u, low, high).astype(dtype)
    if kind == "normal_ms":
        return (jax.random.normal(k, shape, jnp.float64 if dtype == np.float64 else jnp.float32) * high + low).astype(dtype)
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


def _float_only(kernel, dtype):
    dt = _dtypes.as_dtype(dtype)
    if dt is not None and not (dt.is_floating_point or dt.is_complex):
        raise NotImplementedError(f"\"{kernel}\" not implemented for '{dt._legacy.replace('Tensor', '')}'")


def randn(*size, dtype=None, device=None, requires_grad=False, generator=None, out=None, layout=None,
          pin_memory=False):
    """Standard normal samples of the given size."""
    _float_only("normal_kernel_cpu", dtype)
    return _random("normal", size, dtype, device, requires_grad, generator)


def rand(*size, dtype=None, device=None, requires_grad=False, generator=None, out=None, layout=None,
         pin_memory=False):
    """Uniform samples in [0, 1) of the given size."""
    _float_only("check_uniform_bounds", dtype)
    return _random("uniform", size, dtype, device, requires_grad, generator)


def randint(low, high=None, size=None, *, dtype=None, device=None, requires_grad=False, generator=None):
    """Integers uniform in [low, high)."""
    pos = [v for v in (low, high, size) if v is not None]
    if high is None or (size is not None and not isinstance(size, (tuple, list))):
        raise _invalid_combination("randint", pos, {})
    if size is None and not isinstance(high, (tuple, list)):
        raise TypeError(f"randint(): argument 'size' (position 2) must be tuple of ints, not {type(high).__name__}")
    if size is None:
        low, high, size = 0, low, high
    if high is None:
        low, high = 0, low
    low, high = int(low), int(high)
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
    dt = _dtypes.as_dtype(dtype) or _dtypes.int64
    if dt is _dtypes.bool and high > 2:
        raise RuntimeError("to - 1 is out of bounds for bool")
    if dt.is_floating_point:
        t = _random("randint", (tuple(size),), _dtypes.int64, device, False, generator, low, high).to(dt)
        return t.requires_grad_(True) if requires_grad else t
    return _random("randint", (tuple(size),), dt, device, requires_grad, generator, low, high)


def randperm(n, *, dtype=None, device=None, requires_grad=False, generator=None):
    return _random("perm", (n,), dtype or _dtypes.int64, device, requires_grad, generator)


def randn_like(input, *, dtype=None, device=None, requires_grad=False):
    return randn(input._shape, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad)


def rand_like(input, *, dtype=None, device=None, requires_grad=False):
    return rand(input._shape, dtype=dtype or input.dtype, device=device or input.device, requires_grad=requires_grad)


def randint_like(input, low, high=None, *, dtype=None, device=None, requires_grad=False, layout=None,
                 memory_format=None, generator=None):
    if high is None:
        low, high = 0, low
    return randint(low, high, input._shape, dtype=dtype or input.dtype, device=device or input.device,
                   requires_grad=requires_grad, generator=generator)


def normal(mean=0.0, std=1.0, size=None, *, generator=None, dtype=None, device=None, requires_grad=False, out=None,
           layout=None, pin_memory=False):
    """Normal samples with (tensor or number) ``mean`` and ``std``."""
    if isinstance(std, Tensor):
        s_ = _lazy_concrete(std)
        if s_ is not None and (s_ < 0).any():
            raise RuntimeError("normal expects all elements of std >= 0.0")
    elif std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
    if size is not None:
        _float_only("normal_kernel_cpu", dtype)
        t = randn(size, generator=generator, dtype=dtype, device=device) * std + mean
        return t.requires_grad_(True) if requires_grad else t
    ref = [x for x in (mean, std) if isinstance(x, Tensor)]
    if not ref:
        raise TypeError("normal() received an invalid combination of arguments")
    from .shape import _broadcast_shape_of

    shape = _broadcast_shape_of(ref)
    dt = ref[0].dtype
    if not (dt.is_floating_point or dt.is_complex):
        raise NotImplementedError(f"\"normal_kernel_cpu\" not implemented for '{dt._legacy.replace('Tensor', '')}'")
    with grad_mode.no_grad():
        z = randn(shape, generator=generator, dtype=dt, device=ref[0].device)
    return _normal_op(mean, std, z)


# torch's derivative of normal(mean, std) is zero for both (derivatives.yaml)
@defop(lambda m, s, z: z * jax.lax.stop_gradient(s) + jax.lax.stop_gradient(m), node="NormalBackward3", saves={}, method=False, function=False,
       name="normal_tensor", nondiff=(2,), promote=(0, 1))
def _normal_op(mean, std, z):
    node = ("NormalBackward3" if isinstance(mean, Tensor) and isinstance(std, Tensor) else
            "NormalBackward1" if isinstance(mean, Tensor) else "NormalBackward2")
    return (mean, std, z), (), node


def _lazy_concrete(t):
    return _lazy.concrete(t._array())


def bernoulli(input, p=None, *, generator=None, out=None):
    """0/1 samples, 1 with probability ``input`` (or ``p``); differentiable with zero gradient, as torch."""
    probs = input if p is None else p
    if isinstance(probs, Tensor):
        host = _lazy_concrete(probs)
        if host is not None and ((host < 0) | (host > 1)).any():
            raise RuntimeError("Expected p_in >= 0 && p_in <= 1 to be true, but got false.  (Could this error message "
                               "be improved?  If so, please report an enhancement request to PyTorch.)")
    with grad_mode.no_grad():
        s = (rand(input._shape, generator=generator, dtype=input.dtype) < probs).to(input.dtype)
    return _sample_into(input, s, "BernoulliBackward0" if p is None else "BernoulliBackward1")


def multinomial(input, num_samples, replacement=False, *, generator=None, out=None):
    """Indices drawn from the rows of ``input`` (non-negative weights), with or without replacement."""
    if not (input._dtype.is_floating_point):
        raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                           f"{input._dtype._legacy.replace('Tensor', '')}")
    if input.dim() not in (1, 2):
        raise RuntimeError("prob_dist must be 1 or 2 dim")
    if num_samples <= 0:
        raise RuntimeError("cannot sample n_sample <= 0 samples")
    if not replacement and num_samples > input._shape[-1]:
        raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
    host = _lazy_concrete(input)
    if host is not None:
        if not np.isfinite(host).all() or (host < 0).any():
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
        if (host.sum(-1) <= 0).any():
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
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
       name="to_copy", fast="static")
def _to_copy(input, dtype):
    return (input,), (("dtype", dtype.np),)


def _parse_to(args, kwargs, tensor_to=True):
    if isinstance(kwargs.get("dtype"), str):
        raise _invalid_combination("to", (), kwargs, True)
    dtype, device = kwargs.pop("dtype", None), kwargs.pop("device", None)
    kwargs.pop("memory_format", None)
    if args and type(args[0]) in (bool, float):
        # torch's parser reads a python bool or float in the dtype position as that python type's dtype
        dtype, args = (_dtypes.bool if type(args[0]) is bool else _dtypes.float64), args[1:]
    flags = [a for a in args if isinstance(a, bool)]
    args = [a for a in args if not isinstance(a, bool)]
    if flags:
        kwargs.setdefault("non_blocking", flags[0])
    if len(flags) > 1:
        kwargs.setdefault("copy", flags[1])
    for a in args:
        if isinstance(a, _dtypes.dtype):
            dtype = a
        elif isinstance(a, Tensor):
            dtype, device = a.dtype, a.device
        elif a is not None:
            device = a
    if isinstance(device, str) and tensor_to:  # Tensor.to's parser words a bad string its own way
        try:
            device = as_device(device)
        except RuntimeError:
            raise RuntimeError(f"Invalid device string: '{device}'") from None
    return _dtypes.as_dtype(dtype), as_device(device), kwargs.pop("copy", False)


def _to(self, *args, **kwargs):
    if not kwargs and len(args) == 1 and type(args[0]) is _dtypes.dtype:  # ``t.to(dtype)``
        return self if args[0] is self._dtype else _to_copy(self, args[0])
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
        _attach_node(_identity.op, "ToCopyBackward0", (t,), (t._value(),), (), out)
    return out


def _lazy_grad_enabled():
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


# -- in-place samplers: Tensor.uniform_/normal_/exponential_/geometric_/log_normal_/cauchy_/random_/bernoulli_ --
_DISTS = {
    "exponential": lambda u, lambd, _: -jnp.log(u) / lambd,
    "geometric": lambda u, p, _: jnp.ceil(jnp.log(u) / jnp.log1p(-p)),
    "log_normal": lambda u, mean, std: jnp.exp(mean + std * jnp.sqrt(2.0) * jax.scipy.special.erfinv(2 * u - 1)),
    "cauchy": lambda u, median, sigma: median + sigma * jnp.tan(jnp.pi * (u - 0.5)),
    "bernoulli_p": lambda u, p, _: (u <= p),
}


@defop(lambda x, r: jnp.broadcast_to(r.astype(x.dtype), x.shape), node="UniformBackward0", saves={},
       method=False, function=False, name="sample_into", nondiff=(1,))
def _sample_into(input, sample, node):
    return (input, sample), (), node


def _sample_(self, kind, node, low, high, generator, dtype=None):
    dt = dtype or self._dtype
    t = _draw(kind, self._shape, dt if (dt.is_floating_point or kind == "randint") else _dtypes.float64,
              generator, low, high)
    return self._inplace_assign(_sample_into(self, t, node))


def _continuous(self, name, long_name=None):
    if not (self._dtype.is_floating_point or self._dtype.is_complex):
        tn = long_name or self._dtype._legacy.replace("Tensor", "")
        raise RuntimeError(f"{name} distribution is a continuous probability distribution. dtype must be a floating "
                           f"point but you specified {tn}")


def uniform_(self, a=0.0, b=1.0, *, generator=None):
    """Fill with samples uniform in [a, b)."""
    if not (self._dtype.is_floating_point or self._dtype.is_complex):
        raise NotImplementedError(f"\"check_uniform_bounds\" not implemented for "
                                  f"'{self._dtype._legacy.replace('Tensor', '')}'")
    if a > b:
        raise RuntimeError(f"uniform_ expects to return a [from, to) range, but found from={a} > to={b}")
    return _sample_(self, "uniform", "UniformBackward0", float(a), float(b), generator)


def normal_(self, mean=0.0, std=1.0, *, generator=None):
    """Fill with normal samples."""
    if not (self._dtype.is_floating_point or self._dtype.is_complex):
        raise NotImplementedError(f"\"normal_kernel_cpu\" not implemented for "
                                  f"'{self._dtype._legacy.replace('Tensor', '')}'")
    if std < 0:
        raise RuntimeError(f"normal expects std >= 0.0, but found std {std:g}")
    return _sample_(self, "normal_ms", "NormalBackward0", float(mean), float(std), generator)


def exponential_(self, lambd=1.0, *, generator=None):
    _continuous(self, "Exponential")
    if not lambd > 0:
        raise RuntimeError(f"exponential_ expects lambda > 0.0, but found lambda={lambd}")
    return _sample_(self, "exponential", "ExponentialBackward0", float(lambd), 0.0, generator)


def geometric_(self, p, *, generator=None):
    if not 0 < p < 1:
        raise RuntimeError(f"geometric_ expects p to be in (0, 1), but got p={p}")
    return _sample_(self, "geometric", "GeometricBackward0", float(p), 0.0, generator)


def log_normal_(self, mean=1.0, std=2.0, *, generator=None):
    _continuous(self, "Log Normal")
    if not std > 0:
        raise RuntimeError(f"log_normal_ expects std > 0.0, but found std={std}")
    return _sample_(self, "log_normal", "LogNormalBackward0", float(mean), float(std), generator)


def cauchy_(self, median=0.0, sigma=1.0, *, generator=None):
    _continuous(self, "Cauchy", {"int64": "long int", "int32": "int"}.get(self._dtype.name))
    if not sigma > 0:
        raise RuntimeError(f"cauchy_ expects sigma > 0.0, but found sigma={sigma}")
    return _sample_(self, "cauchy", "CauchyBackward0", float(median), float(sigma), generator)


def random_(self, from_=None, to=None, *, generator=None):
    """Fill with integers uniform in [from, to) (default [0, 2**mantissa] for floats, the dtype's range for ints)."""
    node = "RandomBackward2" if from_ is None else "RandomBackward1" if to is None else "RandomBackward0"
    if from_ is not None and to is None:
        from_, to = 0, from_
    if from_ is None:
        from_ = 0
        if self._dtype.is_floating_point:
            to = 2 ** {"float16": 11, "bfloat16": 8, "float32": 24}.get(self._dtype.name, 53) + 1
        elif self._dtype is _dtypes.bool:
            to = 2
        else:
            to = int(np.iinfo(self._dtype.np).max)
    if from_ >= to:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={from_} >= to={to}")
    t = _draw("randint", self._shape, _dtypes.int64, generator, int(from_), int(to))
    return self._inplace_assign(_sample_into(self, t, node))


def bernoulli_(self, p=0.5, *, generator=None):
    """Fill with 0/1 samples: 1 with probability ``p`` (number or tensor)."""
    if isinstance(p, Tensor):
        u = rand(self._shape, generator=generator, dtype=p._dtype if p._dtype.is_floating_point else None)
        with grad_mode.no_grad():
            t = (u < p)
        return self._inplace_assign(_sample_into(self, t, "BernoulliBackward1"))
    if not 0 <= p <= 1:
        raise RuntimeError(f"bernoulli_ expects p to be in [0, 1], but got p={p}")
    return _sample_(self, "bernoulli_p", "BernoulliBackward2", float(p), 0.0, generator)


def new_empty_strided(self, size, stride, *, dtype=None, device=None, requires_grad=False, layout=None,
                      pin_memory=False):
    return empty_strided(size, stride, dtype=dtype or self._dtype, device=device or self.device,
                         requires_grad=requires_grad)


for _f in (uniform_, normal_, exponential_, geometric_, log_normal_, cauchy_, random_, bernoulli_):
    public(_f, method=True, function=False)
public(new_empty_strided, method=True, function=False)


@defop(lambda x, v: jnp.broadcast_to(v.astype(x.dtype), x.shape), node="FillBackward0", saves={}, method=False,
       name="fill")
def fill(input, value):
    """A tensor shaped like ``input`` filled with ``value`` (number or 0-d tensor)."""
    if isinstance(value, Tensor):
        if value.dim():
            raise RuntimeError(f"fill_ only supports 0-dimension value tensor but got tensor with {value.dim()} "
                               "dimensions.")
        return (input, value), (), "FillBackward1"
    return (input, Const(scalar_value(value, input._dtype.np))), ()


@public(name="zero_")
def _zero_fn(input):
    return input.zero_()


def resize_(self, *sizes, memory_format=None):
    """Change the shape in place, keeping the leading elements (new elements are zeros in funcgrad)."""
    from .views import _shape_args

    if self._rg:
        raise RuntimeError("cannot resize variables that require grad")
    size = _size(_shape_args(sizes))
    n = int(np.prod(size)) if size else 1
    if size == self._shape:
        return self
    flat = np.asarray(self._array()).reshape(-1)
    new = np.zeros(n, dtype=flat.dtype)
    new[:min(n, flat.size)] = flat[:n]
    ver = self._st.version
    self._st = Storage(_lazy_wrap(jax.device_put(new.reshape(size), self.device.jax_device())), self.device)
    self._st.version = ver + 1
    self._view, self._vcache, self._base = None, None, None
    self._shape = size
    return self


def resize_as_(self, the_template, memory_format=None):
    return resize_(self, the_template._shape)


def _lazy_wrap(a):
    return _lazy.wrap(a)


public(resize_, method=True, function=False)
public(resize_as_, method=True)


class memory_format:
    """torch's memory-format constants (funcgrad's storage is always contiguous; accepted and ignored
    where torch would only choose a layout)."""

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return "torch." + self._name

    def __reduce__(self):
        return (memory_format, (self._name,))


class layout:
    """torch's layout constants (funcgrad has strided tensors only)."""

    def __init__(self, name):
        self._name = name

    def __repr__(self):
        return "torch." + self._name


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")
strided = layout("strided")


# -- Tensor members that make tensors: installed on Tensor from here (tensor.py sits below the ops) -----------
def _tensor_init(self, *args, **kwargs):  # torch.Tensor(2, 3) / torch.Tensor([1, 2]) legacy forms
    self._adopt(_legacy_new(_dtypes.get_default_dtype(), args, kwargs))


def _convert(self, dt, memory_format):
    # a layout change (channels_last) is a copy in torch even when the dtype already matches
    if memory_format is not None and "channels_last" in str(memory_format):
        return _to_copy(self, dt)
    return self.to(dt)


def _new_tensor(self, data, dtype=None, device=None, requires_grad=False):
    return tensor(data, dtype=dtype or self._dtype, device=device or self.device, requires_grad=requires_grad)


_to.__name__, _to.__qualname__ = "to", "Tensor.to"
_to.__doc__ = "``to(dtype)``, ``to(device)``, ``to(device, dtype)``, ``to(other)``; ``copy=``, ``non_blocking=``."
_tensor_init.__name__, _tensor_init.__qualname__ = "__init__", "Tensor.__init__"
_new_tensor.__name__, _new_tensor.__qualname__ = "new_tensor", "Tensor.new_tensor"
methods({"__init__": _tensor_init, "to": _to, "_convert": _convert, "new_tensor": _new_tensor})
