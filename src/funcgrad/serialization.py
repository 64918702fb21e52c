"""``torch.save`` / ``torch.load`` in torch's own file format, without torch.

A checkpoint is torch's zip archive: ``<name>/data.pkl`` (a protocol-2 pickle whose tensors are
``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, requires_grad, hooks)`` calls on
persistent storage ids ``('storage', torch.FloatStorage, key, location, numel)``), the raw
little-endian storages under ``<name>/data/<key>``, and the ``byteorder``, ``version``,
``.format_version``, ``.storage_alignment`` and ``.data/serialization_id`` records. funcgrad writes
these with the same GLOBAL names torch writes (so ``torch.load(f, weights_only=True)`` reads them)
and reads them with an unpickler that maps torch's globals onto funcgrad's; ``weights_only=True``
(the default, as in torch 2.6+) accepts only torch's allow-list plus ``add_safe_globals``.

Tensors sharing one storage (views) are saved as one storage with offsets and strides, and loaded
back as views of one funcgrad storage when the layout is a slice/reshape/permutation of it.
"""
from __future__ import annotations

import collections
import io
import os
import pathlib
import pickle
import random
import struct
import sys
import zipfile

import numpy as np

from . import _dtypes, _lazy
from ._device import as_device, device as _device_cls
from ._size import Size
from .tensor import Tensor, _DataStorage

__all__ = ["save", "load", "add_safe_globals", "get_safe_globals", "clear_safe_globals", "safe_globals",
           "DEFAULT_PROTOCOL", "default_restore_location", "register_package"]

DEFAULT_PROTOCOL = 2

_STORAGE_NAMES = {
    "float32": "FloatStorage", "float64": "DoubleStorage", "float16": "HalfStorage", "bfloat16": "BFloat16Storage",
    "complex64": "ComplexFloatStorage", "complex128": "ComplexDoubleStorage", "uint8": "ByteStorage",
    "int8": "CharStorage", "int16": "ShortStorage", "int32": "IntStorage", "int64": "LongStorage",
    "bool": "BoolStorage",
}
_STORAGE_DTYPES = {v: _dtypes._NAMES[k] for k, v in _STORAGE_NAMES.items()}

UNSAFE_MESSAGE = (
    "In PyTorch 2.6, we changed the default value of the `weights_only` argument in `torch.load` from `False` to "
    "`True`. Re-running `torch.load` with `weights_only` set to `False` will likely succeed, but it can result in "
    "arbitrary code execution. Do it only if you got the file from a trusted source."
)
DOCS_MESSAGE = (
    "\n\nCheck the documentation of torch.load to learn more about types accepted by default with "
    "weights_only https://pytorch.org/docs/stable/generated/torch.load.html."
)


# ------------------------------------------------------------------------------------------------
# writing
class _TorchGlobal:
    """A name in torch's namespace, written as a pickle GLOBAL without importing torch."""

    _cache = {}

    def __new__(cls, module, name):
        key = (module, name)
        g = cls._cache.get(key)
        if g is None:
            g = cls._cache[key] = object.__new__(cls)
            g.module, g.name = module, name
        return g

    def __call__(self, *args, **kwargs):  # pickle's save_reduce insists on a callable
        raise TypeError(f"{self.module}.{self.name} is a placeholder for torch's global")


_REBUILD_V2 = _TorchGlobal("torch._utils", "_rebuild_tensor_v2")
_REBUILD_PARAM = _TorchGlobal("torch._utils", "_rebuild_parameter")
_DEVICE = _TorchGlobal("torch", "device")
_SIZE = _TorchGlobal("torch", "Size")


def _root_storage(st):
    while isinstance(st, _DataStorage):
        st = st.parent
    return st


def _contiguous_strides(shape):
    st, acc = [], 1
    for s in reversed(shape):
        st.append(acc)
        acc *= max(s, 1)
    return tuple(reversed(st))


def _concrete(v):
    return _lazy.value_of(v) if type(v) is _lazy.Lazy else v


def _affine_layout(idx):
    """(offset, strides) when the index array ``idx`` is an affine (torch-strided) map, else None."""
    if idx.size == 0:
        return 0, _contiguous_strides(idx.shape)
    offset = int(idx.reshape(-1)[0])
    strides = list(_contiguous_strides(idx.shape))
    for d, n in enumerate(idx.shape):
        if n > 1:
            sl = [0] * idx.ndim
            sl[d] = 1
            strides[d] = int(idx[tuple(sl)]) - offset
    if any(s < 0 for s in strides):
        return None
    expect = np.full(idx.shape, offset, dtype=np.int64)
    for d, n in enumerate(idx.shape):
        shape = [1] * idx.ndim
        shape[d] = n
        expect = expect + (np.arange(n, dtype=np.int64) * strides[d]).reshape(shape)
    if not np.array_equal(expect, idx):
        return None
    return offset, tuple(strides)


class _StorageRef:
    """What a saved tensor's persistent id points at: one flat array and its location."""

    __slots__ = ("key", "array", "dtype", "location")

    def __init__(self, key, array, dtype, location):
        self.key, self.array, self.dtype, self.location = key, array, dtype, location


def _location(dev):
    if dev.type == "cpu":
        return "cpu"
    return f"{dev.type}:{dev.index or 0}"


class _Pickler(pickle._Pickler):
    """Python pickler writing torch's GLOBALs for funcgrad tensors, parameters, dtypes, devices, sizes."""

    dispatch = dict(pickle._Pickler.dispatch)

    def __init__(self, file, protocol):
        super().__init__(file, protocol)
        self.storages = {}  # id(root Storage) -> _StorageRef
        self._keep = []

    def save_torch_global(self, obj):
        self.write(pickle.GLOBAL + bytes(f"{obj.module}\n{obj.name}\n", "utf-8"))
        self.memoize(obj)

    dispatch[_TorchGlobal] = save_torch_global

    def persistent_id(self, obj):
        if type(obj) is _StorageRef:
            return ("storage", _TorchGlobal("torch", _STORAGE_NAMES[obj.dtype.name]), obj.key, obj.location,
                    int(obj.array.size))
        return None

    def _storage_of(self, t):
        root = _root_storage(t._st)
        ref = self.storages.get(id(root))
        if ref is None:
            val = np.asarray(_concrete(root.value))
            ref = _StorageRef(str(len(self.storages)), val.reshape(-1), _dtypes._FROM_NP[val.dtype],
                              _location(t.device))
            self.storages[id(root)] = ref
            self._keep.append(root)
        return ref, root

    def _tensor_args(self, t):
        from .autograd.grad_mode import no_grad

        size = tuple(t._shape)
        if t._view is None and t._st.value is not None and tuple(_concrete(t._st.value).shape) == size:
            ref, _ = self._storage_of(t)
            if ref.dtype is t.dtype:
                return ref, 0, size, _contiguous_strides(size)
        if t._view is not None:
            ref, root = self._storage_of(t)
            if ref.dtype is t.dtype:
                idx = np.arange(ref.array.size, dtype=np.int64).reshape(np.asarray(_concrete(root.value)).shape)
                for prim, params in t._view:
                    idx = np.asarray(prim.impl(params, idx))
                lay = _affine_layout(idx) if idx.shape == size else None
                if lay is not None:
                    return ref, lay[0], size, lay[1]
        # not expressible as a strided view of its storage: saved as a storage of its own
        with no_grad():
            arr = np.ascontiguousarray(t.detach().cpu().numpy())
        ref = _StorageRef(str(len(self.storages)), arr.reshape(-1), t.dtype, _location(t.device))
        self.storages[("own", id(t))] = ref
        self._keep.append(t)
        return ref, 0, size, _contiguous_strides(size)

    def reducer_override(self, obj):
        from .nn.parameter import Parameter

        t = type(obj)
        if t is _TorchGlobal or t is _StorageRef:
            return NotImplemented
        if isinstance(obj, Tensor):
            if isinstance(obj, Parameter):
                data = obj.detach()
                return (_REBUILD_PARAM, (data, obj.requires_grad, collections.OrderedDict()))
            ref, off, size, stride = self._tensor_args(obj)
            return (_REBUILD_V2, (ref, off, size, stride, obj.requires_grad, collections.OrderedDict()))
        if t is _device_cls:
            return (_DEVICE, (obj.type,) if obj.index is None else (obj.type, obj.index))
        if t is Size:
            return (_SIZE, (tuple(obj),))
        return NotImplemented

    def save(self, obj, save_persistent_id=True):
        if type(obj) is _dtypes.dtype:
            obj = _TorchGlobal("torch", obj.name)
        return super().save(obj, save_persistent_id)


def _open_for_write(f):
    if isinstance(f, (str, os.PathLike)):
        parent = os.path.dirname(os.fspath(f))
        if parent and not os.path.isdir(parent):
            raise RuntimeError(f"Parent directory {parent} does not exist.")
        return open(f, "wb"), True
    if not hasattr(f, "write"):
        raise AttributeError(f"expected 'f' to be string, path, or a file-like object with a 'write' attribute, "
                             f"got {type(f).__name__}")
    return f, False


def _archive_name(f):
    if isinstance(f, (str, os.PathLike)):
        return pathlib.Path(os.fspath(f)).stem or "archive"
    return "archive"


def _write_record(zf, name, data, align=64):
    data = data.encode() if isinstance(data, str) else bytes(data)
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED
    info.create_system = 0
    start = zf.start_dir
    header = 30 + len(name.encode())
    pad = (-(start + header + 4)) % align
    info.extra = b"FB" + struct.pack("<H", pad) + b"Z" * pad
    zf.writestr(info, data)


def save(obj, f, pickle_module=pickle, pickle_protocol=DEFAULT_PROTOCOL, _use_new_zipfile_serialization=True,
         _disable_byteorder_record=False):
    """Save ``obj`` to ``f`` (a path, ``pathlib.Path`` or binary file object) in torch's zip format.

    >>> funcgrad.save(model.state_dict(), "model.pt")   # loadable by torch.load(..., weights_only=True)
    """
    if not _use_new_zipfile_serialization:
        raise NotImplementedError("torch.save(_use_new_zipfile_serialization=False): funcgrad writes only "
                                  "torch's zip format")
    if pickle_module is not pickle:
        raise NotImplementedError("torch.save(pickle_module=...): funcgrad writes with the standard pickle module")
    buf = io.BytesIO()
    pickler = _Pickler(buf, pickle_protocol)
    pickler.dump(obj)
    name = _archive_name(f)
    fh, close = _open_for_write(f)
    try:
        with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as zf:
            _write_record(zf, f"{name}/data.pkl", buf.getvalue())
            _write_record(zf, f"{name}/.format_version", "1")
            _write_record(zf, f"{name}/.storage_alignment", "64")
            if not _disable_byteorder_record:
                _write_record(zf, f"{name}/byteorder", sys.byteorder)
            for ref in sorted(pickler.storages.values(), key=lambda r: int(r.key)):
                arr = ref.array
                if arr.dtype.byteorder == ">":
                    arr = arr.byteswap().view(arr.dtype.newbyteorder("<"))
                _write_record(zf, f"{name}/data/{ref.key}", np.ascontiguousarray(arr).tobytes())
            _write_record(zf, f"{name}/version", "3\n")
            _write_record(zf, f"{name}/.data/serialization_id", "".join(random.choice("0123456789")
                                                                         for _ in range(40)))
    finally:
        if close:
            fh.close()


# ------------------------------------------------------------------------------------------------
# safe globals (weights_only)
_safe_globals = []


def add_safe_globals(safe_globals):
    """Allow these classes/functions (or ``(obj, "module.name")`` pairs) in ``weights_only`` loads."""
    _safe_globals.extend(safe_globals)


def get_safe_globals():
    return list(_safe_globals)


def clear_safe_globals():
    _safe_globals.clear()


class safe_globals:
    """``with torch.serialization.safe_globals([Foo]):`` allow ``Foo`` in ``weights_only`` loads."""

    def __init__(self, safe_globals):
        self.globs = list(safe_globals)

    def __enter__(self):
        self.n = len(_safe_globals)
        _safe_globals.extend(self.globs)

    def __exit__(self, *exc):
        del _safe_globals[self.n:]


def _user_safe(full):
    for g in _safe_globals:
        if isinstance(g, tuple):
            obj, name = g
            if name == full:
                return obj
            continue
        name = f"{getattr(g, '__module__', '')}.{getattr(g, '__qualname__', getattr(g, '__name__', ''))}"
        if name == full:
            return g
    return None


def register_package(priority, tagger, deserializer):
    raise NotImplementedError("torch.serialization.register_package is not supported by funcgrad")


def default_restore_location(storage, location):
    return storage


# ------------------------------------------------------------------------------------------------
# reading
class _StorageType:
    """Stands for ``torch.FloatStorage`` & co. in a pickle: only its dtype matters."""

    def __init__(self, dtype):
        self.dtype = dtype


class _LoadedStorage:
    """A storage read from the archive: a flat numpy array, its location and the tensors built on it."""

    def __init__(self, array, location):
        self.array = array
        self.location = location
        self.users = []  # [tensor, offset, size, stride]
        self.device = None

    # what map_location callables may call
    def cpu(self):
        self.location = "cpu"
        return self

    def cuda(self, device=None):
        self.location = f"cuda:{device if isinstance(device, int) else (getattr(device, 'index', None) or 0)}"
        return self

    def to(self, device):
        self.location = str(as_device(device))
        return self

    def nbytes(self):
        return self.array.nbytes

    def size(self):
        return self.array.size

    def __len__(self):
        return self.array.size


_current = []  # stack of active _Loader (for the rebuild functions called by pickle REDUCE)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False, backward_hooks=None,
                       metadata=None):
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    arr = storage.array
    n = int(np.prod(size)) if size else 1
    if n == 0:
        vals = np.zeros(size, arr.dtype)
    else:
        need = storage_offset + sum((s - 1) * st for s, st in zip(size, stride)) + 1
        if need > arr.size or storage_offset < 0:
            raise RuntimeError(f"setStorage: sizes {list(size)}, strides {list(stride)}, storage offset "
                               f"{storage_offset}, and itemsize {arr.itemsize} requiring a storage size of "
                               f"{need * arr.itemsize} are out of bounds for storage of size "
                               f"{arr.size * arr.itemsize}")
        vals = np.lib.stride_tricks.as_strided(arr[storage_offset:], size, [s * arr.itemsize for s in stride]).copy()
    t = _new_tensor(vals, storage.device)
    if requires_grad:
        t.requires_grad_(True)
    storage.users.append([t, int(storage_offset), size, stride])
    return t


def _new_tensor(vals, dev):
    from ._ops.creation import _new

    return _new(vals, device=dev)


def _rebuild_tensor(storage, storage_offset, size, stride):
    return _rebuild_tensor_v2(storage, storage_offset, size, stride)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks, dtype, metadata=None):
    return _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks, metadata)


def _rebuild_parameter(data, requires_grad, backward_hooks):
    from .nn.parameter import Parameter

    p = Parameter(data, requires_grad)
    for loader in _current[-1:]:
        loader.replace(data, p)
    return p


def _rebuild_parameter_with_state(data, requires_grad, backward_hooks, state):
    p = _rebuild_parameter(data, requires_grad, backward_hooks)
    _set_obj_state(p, state)
    return p


def _set_obj_state(obj, state):
    if isinstance(state, tuple):
        if not len(state) == 2:
            raise RuntimeError(f"Invalid serialized state: {state}")
        dict_state, slots_state = state
    else:
        dict_state, slots_state = state, None
    if dict_state:
        for k, v in dict_state.items():
            setattr(obj, k, v)
    if slots_state:
        for k, v in slots_state.items():
            setattr(obj, k, v)
    return obj


def _rebuild_from_type_v2(func, new_type, args, state):
    ret = func(*args)
    if new_type is not Tensor and type(ret) is not new_type and isinstance(ret, Tensor):
        from .nn.parameter import Parameter

        if new_type is Parameter:
            ret = Parameter(ret, ret.requires_grad)
        else:
            raise NotImplementedError(f"funcgrad.load: tensor subclass {new_type!r} is not supported")
    if state:
        _set_obj_state(ret, state)
    return ret


def _rebuild_device_tensor_from_cpu_tensor(data, dtype, device, requires_grad):
    t = data.to(dtype=dtype, device=device)
    if requires_grad:
        t.requires_grad_(True)
    return t


def _rebuild_device_tensor_from_numpy(data, dtype, device, requires_grad):
    from ._ops.creation import tensor

    return tensor(data, dtype=dtype, device=device, requires_grad=requires_grad)


def _get_layout(name):
    if name != "torch.strided":
        raise NotImplementedError(f"funcgrad.load: layout {name} is not supported")
    return name


def _unsupported(name):
    def f(*args, **kwargs):
        raise NotImplementedError(f"funcgrad.load: {name} (quantized/sparse/nested/meta tensors) is not supported")
    return f


def _torch_allowed():
    from .nn.parameter import Parameter

    rc = {
        "collections.OrderedDict": collections.OrderedDict,
        "collections.Counter": collections.Counter,
        "torch.nn.parameter.Parameter": Parameter,
        "torch.serialization._get_layout": _get_layout,
        "torch.Size": Size,
        "torch.Tensor": Tensor,
        "torch.device": _device_cls,
        "_codecs.encode": __import__("_codecs").encode,
        "builtins.bytearray": bytearray,
        "builtins.set": set,
        "builtins.complex": complex,
        "torch._utils._rebuild_tensor_v2": _rebuild_tensor_v2,
        "torch._utils._rebuild_tensor": _rebuild_tensor,
        "torch._utils._rebuild_tensor_v3": _rebuild_tensor_v3,
        "torch._utils._rebuild_parameter": _rebuild_parameter,
        "torch._utils._rebuild_parameter_with_state": _rebuild_parameter_with_state,
        "torch._utils._rebuild_device_tensor_from_cpu_tensor": _rebuild_device_tensor_from_cpu_tensor,
        "torch._utils._rebuild_device_tensor_from_numpy": _rebuild_device_tensor_from_numpy,
        "torch._tensor._rebuild_from_type_v2": _rebuild_from_type_v2,
        "torch.storage.UntypedStorage": _StorageType(_dtypes.uint8),
        "torch.UntypedStorage": _StorageType(_dtypes.uint8),
        "torch.storage.TypedStorage": _StorageType(None),
    }
    for n in ("_rebuild_qtensor", "_rebuild_sparse_tensor", "_rebuild_meta_tensor_no_storage",
              "_rebuild_nested_tensor", "_rebuild_wrapper_subclass"):
        rc["torch._utils." + n] = _unsupported(n)
    for d in _dtypes._ALL:
        rc["torch." + d.name] = d
    for sname, d in _STORAGE_DTYPES.items():
        rc["torch." + sname] = _StorageType(d)
    return rc


_ALLOWED = None


def _allowed():
    global _ALLOWED
    if _ALLOWED is None:
        import funcgrad

        rc = _torch_allowed()  # plus the legacy tensor classes (torch.FloatTensor, ...)
        for leg in ("FloatTensor", "DoubleTensor", "LongTensor", "IntTensor", "BoolTensor", "ByteTensor",
                    "HalfTensor"):
            rc["torch." + leg] = getattr(funcgrad, leg)
        _ALLOWED = rc
    return _ALLOWED


# pickles written by funcgrad's own Tensor/Parameter __reduce_ex__ (pickle.dumps) inside torch.save
_FUNCGRAD_SAFE = {"funcgrad.tensor._rebuild", "funcgrad.nn.parameter._rebuild_param", "funcgrad._dtypes._by_name"}


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, loader, weights_only, **kwargs):
        super().__init__(file, **kwargs)
        self.loader = loader
        self.weights_only = weights_only

    def find_class(self, module, name):
        import _compat_pickle

        if (module, name) in _compat_pickle.NAME_MAPPING:  # protocol-2 pickles name Python 2 modules
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        elif module in _compat_pickle.IMPORT_MAPPING:
            module = _compat_pickle.IMPORT_MAPPING[module]
        full = f"{module}.{name}"
        allowed = _allowed()
        if full in allowed:
            return allowed[full]
        obj = _user_safe(full)
        if obj is not None:
            return obj
        if self.weights_only:
            if full in _FUNCGRAD_SAFE:
                return super().find_class(module, name)
            if full.startswith("builtins."):  # torch names builtins bare
                full = full[len("builtins."):]
            raise pickle.UnpicklingError(
                f"Unsupported global: GLOBAL {full} was not an allowed global by default. Please use "
                f"`torch.serialization.add_safe_globals([{full}])` or the "
                f"`torch.serialization.safe_globals([{full}])` context manager to allowlist this global if you "
                "trust this class/function.")
        if module == "torch" or module.startswith("torch."):
            return _funcgrad_attr(module, name)
        return super().find_class(module, name)

    def persistent_load(self, pid):
        return self.loader.storage(pid)


def _funcgrad_attr(module, name):
    import importlib

    target = "funcgrad" + module[len("torch"):]
    try:
        mod = importlib.import_module(target)
        obj = mod
        for part in name.split("."):
            obj = getattr(obj, part)
        return obj
    except (ImportError, AttributeError):
        raise AttributeError(f"funcgrad.load: the checkpoint needs {module}.{name}, which funcgrad does not "
                             "implement") from None


def _wo_message(message):
    if "was not an allowed global by default" in message:
        msg = ("Weights only load failed. This file can still be loaded, to do so you have two options, "
               "\033[1mdo those steps only if you trust the source of the checkpoint\033[0m. "
               f"\n\t(1) {UNSAFE_MESSAGE}\n\t(2) Alternatively, to load with `weights_only=True` please check "
               "the recommended steps in the following error message.\n\tWeightsUnpickler error: " + message)
    else:
        msg = (f"Weights only load failed. {UNSAFE_MESSAGE}\nPlease file an issue with the following so that we "
               "can make `weights_only=True` compatible with your use case: WeightsUnpickler error: ")
        msg += "\n\n" + message
    return msg + DOCS_MESSAGE


class _Loader:
    def __init__(self, zf, prefix, map_location):
        self.zf, self.prefix, self.map_location = zf, prefix, map_location
        self.storages = {}

    def storage(self, pid):
        if not isinstance(pid, tuple) or not pid or pid[0] != "storage":
            raise pickle.UnpicklingError(f"Unknown typename for persistent_load, expected 'storage' but got "
                                         f"'{pid[0] if isinstance(pid, tuple) and pid else pid}'")
        _, stype, key, location, numel = pid
        st = self.storages.get(key)
        if st is not None:
            return st
        dt = stype.dtype if isinstance(stype, _StorageType) else getattr(stype, "dtype", None)
        if dt is None:
            raise NotImplementedError(f"funcgrad.load: storage type {stype!r} is not supported")
        raw = self.zf.read(f"{self.prefix}data/{key}")
        arr = np.frombuffer(raw, dtype=dt.np.newbyteorder("<") if dt.itemsize > 1 else dt.np).astype(dt.np)
        st = _LoadedStorage(arr, location)
        st = self._restore(st, location)
        st.device = self._device(st.location)
        self.storages[key] = st
        return st

    def _restore(self, st, location):
        ml = self.map_location
        if ml is None:
            return st
        if isinstance(ml, dict):
            st.location = ml.get(location, location)
            if isinstance(st.location, _device_cls):
                st.location = str(st.location)
            return st
        if isinstance(ml, (str, _device_cls)):
            try:
                st.location = str(as_device(ml))
            except RuntimeError:
                raise RuntimeError("don't know how to restore data location of torch.storage.UntypedStorage "
                                   f"(tagged with {ml})") from None
            return st
        if callable(ml):
            r = ml(st, location)
            if r is None:
                return st
            if isinstance(r, _LoadedStorage):
                return r
            raise NotImplementedError("funcgrad.load: a map_location callable must return the storage it was "
                                      "given (or storage.cpu()/.cuda()/.to(device))")
        raise ValueError(f"map_location should be a str, torch.device, a dict or a callable, got {type(ml)}")

    @staticmethod
    def _device(location):
        dev = as_device(location if location != "cuda" else "cuda:0")
        if dev.type == "cuda":
            from . import cuda

            if not cuda.is_available():
                raise RuntimeError(
                    "Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is False. "
                    "If you are running on a CPU-only machine, please use torch.load with "
                    "map_location=torch.device('cpu') to map your storages to the CPU.")
        return dev

    def replace(self, old, new):
        for st in self.storages.values():
            for u in st.users:
                if u[0] is old:
                    u[0] = new

    def share(self):
        """Make tensors that share a storage in the file views of one funcgrad storage again."""
        from ._ops.creation import _new
        from .autograd.grad_mode import no_grad

        for st in self.storages.values():
            if len({id(u[0]) for u in st.users}) < 2:
                continue
            with no_grad():
                base = _new(st.array.copy(), device=st.device)
                for t, off, size, stride in st.users:
                    v = _view_of(base, off, size, stride)
                    if v is not None:
                        t._st = v._st
                        if v._view is not None:
                            t._view = v._view
                            t._vcache = v._vcache
                    elif int(np.prod(size)) > 0:  # any other strided layout: a gather view of the storage
                        val = t._value()
                        t._st = base._st
                        t._view = ((_AS_STRIDED, (("offset", off), ("size", size), ("stride", stride))),)
                        t._vcache = (base._st.version, val)


def _as_strided_impl(params, x):
    import jax.numpy as jnp

    p = dict(params)
    idx = np.full(p["size"], p["offset"], dtype=np.int64)
    for d, (n, st) in enumerate(zip(p["size"], p["stride"])):
        shape = [1] * len(p["size"])
        shape[d] = n
        idx = idx + (np.arange(n, dtype=np.int64) * st).reshape(shape)
    return jnp.reshape(x, (-1,))[jnp.asarray(idx)]


_AS_STRIDED = _lazy.Prim("as_strided_view", _as_strided_impl)


def _view_of(base, off, size, stride):
    n = int(np.prod(size)) if size else 1
    if n == 0:
        return None
    dims = [d for d in range(len(size)) if size[d] != 1]
    order = sorted(dims, key=lambda d: -stride[d])
    acc = 1
    for d in reversed(order):
        if stride[d] != acc:
            return None
        acc *= size[d]
    flat = base[off:off + n]
    perm = order + [d for d in range(len(size)) if size[d] == 1]
    v = flat.view(*[size[d] for d in perm]) if perm else flat.view(())
    inv = [perm.index(d) for d in range(len(size))]
    if inv != list(range(len(size))):
        v = v.permute(*inv)
    return v


def _open_for_read(f):
    if isinstance(f, (str, os.PathLike)):
        return open(f, "rb"), True
    if not hasattr(f, "read"):
        raise AttributeError(f"expected 'f' to be string, path, or a file-like object with a 'read' attribute, "
                             f"got {type(f).__name__}")
    return f, False


def load(f, map_location=None, pickle_module=None, *, weights_only=None, mmap=None, **pickle_load_args):
    """Load an object saved by ``torch.save`` (torch's zip format) or :func:`save`.

    ``map_location`` (str, device, dict or callable) relocates storages; ``weights_only`` (default
    True, as in torch 2.6+) accepts only tensors, primitive containers and allow-listed globals.
    """
    if weights_only is None:
        weights_only = pickle_module is None
        env = os.environ
        if env.get("TORCH_FORCE_WEIGHTS_ONLY_LOAD", "0").lower() in ("1", "y", "yes", "true"):
            weights_only = True
        elif env.get("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "0").lower() in ("1", "y", "yes", "true"):
            weights_only = False
    if weights_only and pickle_module is not None:
        raise RuntimeError("Can not safely load weights when explicit pickle_module is specified")
    if "encoding" not in pickle_load_args:
        pickle_load_args["encoding"] = "utf-8"
    fh, close = _open_for_read(f)
    try:
        if hasattr(fh, "seekable") and not fh.seekable():
            fh = io.BytesIO(fh.read())
        start = fh.tell()
        if not zipfile.is_zipfile(fh):
            fh.seek(start)
            head = fh.read(1)
            if not head:
                raise EOFError()
            if head != b"\x80":  # not even a pickle: torch's unpickler fails on its first byte
                if weights_only:
                    raise pickle.UnpicklingError(
                        "Weights only load failed. In PyTorch 2.6, we changed the default value of the `weights_only` "
                        "argument in `torch.load` from `False` to `True`. Re-running `torch.load` with `weights_only` "
                        "set to `False` will likely succeed, but it can result in arbitrary code execution. Do it only "
                        "if you got the file from a trusted source.\n"
                        f"Unsupported operand {head[0]}: the file is not a pickle")
                raise pickle.UnpicklingError(f"invalid load key, {chr(head[0])!r}.")
            raise RuntimeError("funcgrad.load reads torch's zip checkpoint format (torch >= 1.6); this file is a "
                               "legacy or non-torch file")
        fh.seek(start)
        with zipfile.ZipFile(fh) as zf:
            names = zf.namelist()
            pkl = next((n for n in names if n.endswith("data.pkl") and n.count("/") == 1), None)
            if pkl is None:
                raise RuntimeError("PytorchStreamReader failed locating file data.pkl: file not found")
            prefix = pkl[:-len("data.pkl")]
            bo = prefix + "byteorder"
            if bo in names and zf.read(bo).decode() not in ("little", "big"):
                raise ValueError("Unknown endianness type: " + zf.read(bo).decode())
            if bo in names and zf.read(bo).decode() == "big":
                raise NotImplementedError("funcgrad.load: big-endian checkpoints are not supported")
            loader = _Loader(zf, prefix, map_location)
            up = _Unpickler(io.BytesIO(zf.read(pkl)), loader, weights_only, **pickle_load_args)
            _current.append(loader)
            try:
                try:
                    result = up.load()
                except pickle.UnpicklingError as e:
                    if weights_only:
                        raise pickle.UnpicklingError(_wo_message(str(e))) from None
                    raise
            finally:
                _current.pop()
            loader.share()
            return result
    finally:
        if close:
            fh.close()
