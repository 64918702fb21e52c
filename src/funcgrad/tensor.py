"""``Tensor``: a stateful, torch-like tensor over a (possibly pending) ``jax.Array``.

State lives in three places:

* a :class:`Storage` (the value and the version counter), shared by a tensor, its ``detach()``
  aliases and its views: an in-place edit of any of them is seen by all and bumps one counter;
* a view chain (``_view``): the view ops that lead from the storage's value to this tensor's;
* autograd state: ``requires_grad``, ``grad_fn``, ``.grad``, retain-grad and hooks.
"""
from __future__ import annotations

import warnings
import weakref

import jax
import numpy as np

from . import _dtypes, _lazy
from ._autograd import grad_mode as _gm
from ._autograd.graph import AccumulateGrad, RemovableHandle, _HookDict, _seq, data_edits
from ._device import _CPU, device as _device_cls
from ._layout import is_contiguous_layout, layout, write_through
from ._size import Size, _wrap_dim  # noqa: F401 - _wrap_dim: also imported from here by older code
from ._tensor_str import tensor_repr

__all__ = ["Tensor", "Storage"]

# Members that need ops or the autograd engine (``__init__``'s legacy forms, ``to``, ``new_tensor``,
# ``backward``, the operators ...) are installed on Tensor from the layers above through
# ``registry.methods`` (``_ops/creation.py``, ``_tensor_methods.py``, ``autograd/engine.py``):
# this module imports only from the layers below it.

_NP2DT = _dtypes._FROM_NP
_mode = _gm._mode
Lazy = _lazy.Lazy

NONLEAF_GRAD_WARNING = (
    "The .grad attribute of a Tensor that is not a leaf Tensor is being accessed. Its .grad attribute "
    "won't be populated during autograd.backward(). If you indeed want the .grad field to be populated "
    "for a non-leaf Tensor, use .retain_grad() on the non-leaf Tensor. If you access the non-leaf Tensor "
    "by mistake, make sure you access the leaf Tensor instead. See github.com/pytorch/pytorch/pull/30531 "
    "for more information."
)


# the C++ type names torch's messages use (``c10::toString`` of the element type)
_CPP_NAMES = {"float64": "double", "float32": "float", "float16": "c10::Half", "bfloat16": "c10::BFloat16",
              "int64": "long int", "int32": "int", "int16": "short int", "int8": "signed char",
              "uint8": "unsigned char", "bool": "bool", "complex64": "c10::complex<float>",
              "complex128": "c10::complex<double>"}


class Storage:
    """The value (array or pending Lazy) and version counter that aliases and views share.

    ``last_fn`` is the graph node of the last in-place op on it (named by version errors)."""

    __slots__ = ("value", "version", "device", "last_fn", "__weakref__")

    def __init__(self, value, device):
        self.value = value
        self.version = 0
        self.device = device
        self.last_fn = None


class _DataStorage(Storage):
    """What ``.data`` shares: the same value as its parent, but a version counter of its own
    (so edits through ``.data`` are invisible to autograd's checks, as in torch)."""

    __slots__ = ("parent",)

    def __init__(self, parent):
        self.parent = parent
        self.version = 0
        self.device = parent.device
        self.last_fn = None

    @property
    def value(self):
        return self.parent.value

    @value.setter
    def value(self, v):
        p = self.parent
        p.value = v
        data_edits[p] = next(_seq)  # after every node made so far (see ``graph.data_edits``)


_INFERENCE_INPLACE = ("Inplace update to inference tensor outside InferenceMode is not allowed.You can make a clone to "
                      "get a normal tensor before doing inplace update.See https://github.com/pytorch/rfcs/pull/17 "
                      "for more details.")


class Tensor:
    """A multi-dimensional array with PyTorch's autograd semantics, computed by XLA through JAX."""

    __slots__ = ("_st", "_shape", "_dtype", "_rg", "grad_fn", "__weakref__", "__dict__")

    # Rarely set state lives in the instance __dict__ only once set; these are the defaults.
    _view = None  # view chain from the storage value, or None
    _vcache = None  # (storage version, value) of a view
    _base = None  # the tensor this is a view of
    _output_nr = 0
    _grad = None
    _retains_grad = False
    _acc = None  # weakref to this leaf's AccumulateGrad
    _hooks = None
    _post_acc_hooks = None
    _inference = False  # made inside inference_mode
    # torch's CreationMeta of a view made where grad mode was off: "no_grad" or "inference" (in-place
    # edits under grad mode then raise, and the view gets no gradient of its own)
    _vmeta = None

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def _make(cls, value, device=_CPU, requires_grad=False):
        if type(value) is not Lazy:
            value = _lazy.wrap(value)
        t = object.__new__(cls)
        t._st = Storage(value, device)
        t._shape = value.shape
        t._dtype = _NP2DT[value.dtype]
        t._rg = requires_grad
        t.grad_fn = None
        if _mode.inference:
            t._inference = True
        return t

    def __new__(cls, *args, **kwargs):
        return object.__new__(cls)

    def _adopt(self, src):
        for k in ("_st", "_shape", "_dtype", "_rg", "grad_fn"):
            setattr(self, k, getattr(src, k))
        self.__dict__.update(src.__dict__)

    # -- values ---------------------------------------------------------------------------------
    def _value(self):
        """This tensor's current value: a jax.Array or a pending Lazy."""
        chain = self._view
        if chain is None:
            return self._st.value
        st = self._st
        ver, val = self._vcache
        if ver == st.version:
            return val
        val = st.value
        for prim, params in chain:
            val = _lazy.record(prim, params, [val])
        self._vcache = (st.version, val)
        return val

    def _array(self) -> jax.Array:
        """The concrete jax.Array (flushes pending work)."""
        v = self._value()
        if type(v) is Lazy:
            return _lazy.value_of(v)
        return v

    def _numpy_view(self) -> np.ndarray:
        return np.asarray(self._array())

    def _set_value(self, value):
        """Write a new value into this tensor (through its view chain) and bump the version."""
        st = self._st
        if self._view is None:
            st.value = value
        else:
            st.value = write_through(st.value, self._view, value)
        st.version += 1
        if self._view is not None:
            self._vcache = (st.version, value)
        if self._inference and not _mode.inference:  # torch writes, then its version bump refuses
            raise RuntimeError(_INFERENCE_INPLACE)

    # -- metadata -------------------------------------------------------------------------------
    @property
    def shape(self):
        return Size(self._shape)

    def size(self, dim=None):
        if dim is None:
            return self.shape
        return self._shape[_wrap_dim(dim, len(self._shape))]

    @property
    def dtype(self):
        return self._dtype

    @property
    def device(self):
        return self._st.device

    @property
    def is_cuda(self):
        return self._st.device.type == "cuda"

    @property
    def is_cpu(self):
        return self._st.device.type == "cpu"

    @property
    def ndim(self):
        return len(self._shape)

    def dim(self):
        return len(self._shape)

    ndimension = dim

    def numel(self):
        n = 1
        for s in self._shape:
            n *= s
        return n

    nelement = numel

    def element_size(self):
        return self._dtype.itemsize

    def is_floating_point(self):
        return self._dtype.is_floating_point

    def is_complex(self):
        return self._dtype.is_complex

    def is_contiguous(self, memory_format=None):
        if self._view is None:
            return True
        shape, st, _ = layout(self)
        return is_contiguous_layout(shape, st)

    def stride(self, dim=None):
        st = layout(self)[1]
        return st if dim is None else st[_wrap_dim(dim, len(self._shape))]

    def storage_offset(self):
        return layout(self)[2]

    def type(self, dtype=None):
        if dtype is None:
            return ("torch.cuda." if self.is_cuda else "torch.") + self._dtype._legacy
        if isinstance(dtype, str):
            name, given = dtype.rsplit(".", 1)[-1], dtype
            dtype = next((d for d in _dtypes._ALL if d._legacy == name), None)
            if dtype is None:
                raise ValueError(f"invalid type: '{given}'")
        return self.to(dtype)

    @property
    def itemsize(self):
        return self._dtype.itemsize

    @property
    def nbytes(self):
        return self.numel() * self._dtype.itemsize

    # -- autograd state --------------------------------------------------------------------------
    @property
    def requires_grad(self):
        return self._rg

    @requires_grad.setter
    def requires_grad(self, flag):
        self._set_requires_grad(flag)

    @property
    def is_leaf(self):
        return self.grad_fn is None

    @property
    def grad(self):
        if self.grad_fn is not None and not self._retains_grad and self._grad is None:
            warnings.warn(NONLEAF_GRAD_WARNING, UserWarning, stacklevel=2)
        return self._grad

    @grad.setter
    def grad(self, value):
        if value is not None:
            if not isinstance(value, Tensor):
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type {type(value).__name__}")
            if value._shape != self._shape:
                raise RuntimeError(f"attempting to assign a gradient of size '{list(value._shape)}' to a tensor of "
                                   f"size '{list(self._shape)}'. Please ensure that the gradient and the tensor are "
                                   "the same size")
            if value._dtype is not self._dtype:
                raise RuntimeError(
                    f"attempting to assign a gradient with dtype '{_CPP_NAMES.get(value._dtype.name, value._dtype.name)}' to a tensor with grad_dtype "
                    f"'{self._dtype._legacy[:-6]}'. The gradient must match the tensor's grad_dtype (defaults to the "
                    "tensor's dtype). You can set the tensor's grad_dtype attribute with a specific dtype, or None to "
                    "allow any dtype. Set grad_dtype with caution. Diverging the dtypes of a tensor and its gradient "
                    "may break downstream systems that assume they match.")
        self._grad = value

    @grad.deleter
    def grad(self):
        self._grad = None

    @property
    def retains_grad(self):
        return self._retains_grad

    @property
    def _version(self):
        if self._inference:
            raise RuntimeError("Inference tensors do not track version counter.")
        return self._st.version

    @property
    def data(self):
        t = self.detach()
        t._st = _DataStorage(self._st)
        return t

    @data.setter
    def data(self, other):
        if not isinstance(other, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(other).__name__}")
        self._st = Storage(other._value(), other._st.device)
        self._view = None
        self._vcache = None
        self._shape = other._shape
        self._dtype = other._dtype

    def _accumulate_node(self):
        if self._vmeta is not None:
            return None  # torch: a view made in no_grad mode requires grad through its base, has no accumulator
        acc = self._acc() if self._acc is not None else None
        if acc is None:
            acc = AccumulateGrad(self)
            self._acc = weakref.ref(acc)
        return acc

    def requires_grad_(self, requires_grad=True):
        """Set ``requires_grad`` in place (leaves only for ``False``); returns ``self``."""
        if type(requires_grad) is not bool:
            raise TypeError(f"requires_grad_(): argument 'requires_grad' (position 1) must be bool, not "
                            f"{type(requires_grad).__name__}")
        self._set_requires_grad(requires_grad, "only Tensors of floating point dtype can require gradients")
        return self

    def _set_requires_grad(self, flag, int_msg="only Tensors of floating point and complex dtype can require gradients"):
        flag = bool(flag)
        if self.grad_fn is not None:
            if not flag:
                raise RuntimeError(
                    "you can only change requires_grad flags of leaf variables. If you want to use a computed "
                    "variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach()."
                )
            return
        if not flag and self._vmeta is not None and self._base is not None and self._base._rg:
            return  # torch: such a view requires grad as long as its base does
        if flag and not (self._dtype.is_floating_point or self._dtype.is_complex):
            raise RuntimeError(int_msg)
        if flag and self._inference and not _mode.inference:
            raise RuntimeError("Setting requires_grad=True on inference tensor outside InferenceMode is not allowed.")
        self._rg = flag

    def retain_grad(self):
        """Keep ``.grad`` for this non-leaf tensor after backward (no-op on leaves)."""
        if self.grad_fn is None:
            if not self.requires_grad:
                raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
            return
        if self._retains_grad:
            return
        node = self.grad_fn
        if node._retained is None:
            node._retained = {}
        node._retained[self._output_nr] = weakref.ref(self)
        node._special = True
        self._retains_grad = True

    def register_hook(self, hook):
        """``hook(grad)`` runs when this tensor's gradient is computed; it may return a new grad."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is not None:
            return self.grad_fn._add_tensor_pre_hook(self._output_nr, hook)
        if self._hooks is None:
            self._hooks = _HookDict()
        h = RemovableHandle(self._hooks)
        self._hooks[h.id] = hook
        self._accumulate_node()
        return h

    def register_post_accumulate_grad_hook(self, hook):
        """``hook(tensor)`` runs after ``.grad`` of this leaf has been accumulated."""
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self._post_acc_hooks is None:
            self._post_acc_hooks = _HookDict()
        h = RemovableHandle(self._post_acc_hooks)
        self._post_acc_hooks[h.id] = hook
        return h

    def detach(self):
        """A new tensor sharing this one's storage and version counter, cut from the graph."""
        t = object.__new__(Tensor)
        t._st = self._st
        if self._view is not None:
            t._view = self._view
            t._vcache = (self._st.version, self._value())
        t._shape = self._shape
        t._dtype = self._dtype
        t._rg = False
        t.grad_fn = None
        if self._inference:
            t._inference = True
        return t

    def is_inference(self):
        """True for tensors made inside ``inference_mode``."""
        return self._inference

    def pin_memory(self, device=None):
        """Returns ``self``: JAX manages host staging buffers itself."""
        return self

    def is_pinned(self, device=None):
        return False

    def detach_(self):
        if self._view is not None and self._base is not None:  # any view, as torch
            raise RuntimeError("Can't detach views in-place. Use detach() instead. If you are using DistributedDataParallel "
                               "(DDP) for training, and gradient_as_bucket_view is set as True, gradients are views of "
                               "DDP buckets, and hence detach_() cannot be called on these gradients. To fix this error, "
                               "please refer to the Optimizer.zero_grad() function in torch/optim/optimizer.py as the "
                               "solution.")
        self.grad_fn = None
        self._rg = False
        return self

    # -- conversion ------------------------------------------------------------------------------
    def item(self):
        """The value of a one-element tensor as a python number."""
        if self._shape == () and self._view is None:  # a scalar's own value: no reshape, no view chain
            v = self._st.value
            if type(v) is Lazy:
                v = v.value if v.value is not None else _lazy.value_of(v)
            return np.asarray(v).item()
        if self.numel() != 1:
            raise RuntimeError(f"a Tensor with {self.numel()} elements cannot be converted to Scalar")
        return self._numpy_view().reshape(()).item()

    def tolist(self):
        return self._numpy_view().tolist()

    def numpy(self, *, force=False):
        """A numpy array of the value (read-only: JAX arrays are immutable)."""
        if self._rg and not force:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        if self.is_cuda and not force:
            raise TypeError("can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to copy the tensor to host memory first.")
        return np.asarray(self._array())

    def __array__(self, dtype=None, copy=None):
        a = np.asarray(self._array())
        return a.astype(dtype) if dtype is not None else a

    def __jax_array__(self):
        return self._array()

    def __bool__(self):
        if self.numel() != 1:
            raise RuntimeError(f"Boolean value of Tensor with more than one value is ambiguous")
        return bool(self.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._dtype.is_floating_point or self.numel() != 1:
            raise TypeError("only integer tensors of a single element can be converted to an index")
        return int(self.item())

    def __complex__(self):
        return complex(self.item())

    def __len__(self):
        if not self._shape:
            raise TypeError("len() of a 0-d tensor")
        return self._shape[0]

    def __iter__(self):
        if not self._shape:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self._shape[0]))

    def __hash__(self):
        return id(self)

    def __repr__(self, *, tensor_contents=None):
        if self._is_param_repr():
            return "Parameter containing:\n" + tensor_repr(self)
        return tensor_repr(self)

    def _is_param_repr(self):
        return False

    __str__ = __repr__

    def __format__(self, spec):
        if self.dim() == 0:
            return self.item().__format__(spec)
        return object.__format__(self, spec)

    def __reduce_ex__(self, proto):
        return (_rebuild, (self._numpy_view().copy(), self._rg))

    def __copy__(self):
        """``copy.copy``: a new tensor on the same storage (edits show through), as torch's."""
        t = self.detach()
        t._rg = self._rg
        return t

    def __deepcopy__(self, memo):
        if self.grad_fn is not None:
            raise RuntimeError("Only Tensors created explicitly by the user (graph leaves) support the deepcopy protocol at the moment.")
        t = type(self)._make(self._value(), self._st.device, False) if type(self) is Tensor else self._deepcopy_sub()
        t._rg = self._rg
        if self._grad is not None:
            t._grad = self._grad.__deepcopy__(memo)
        memo[id(self)] = t
        return t

    # -- devices and dtypes ----------------------------------------------------------------------
    def cpu(self):
        return self.to("cpu")

    def cuda(self, device=None, non_blocking=False):
        return self.to(_device_cls("cuda", device if isinstance(device, int) else None) if not isinstance(device, (str, _device_cls)) else device)

    def float(self, memory_format=None):
        return self._convert(_dtypes.float32, memory_format)

    def double(self, memory_format=None):
        return self._convert(_dtypes.float64, memory_format)

    def half(self, memory_format=None):
        return self._convert(_dtypes.float16, memory_format)

    def bfloat16(self, memory_format=None):
        return self._convert(_dtypes.bfloat16, memory_format)

    def long(self, memory_format=None):
        return self._convert(_dtypes.int64, memory_format)

    def int(self, memory_format=None):
        return self._convert(_dtypes.int32, memory_format)

    def short(self, memory_format=None):
        return self._convert(_dtypes.int16, memory_format)

    def bool(self, memory_format=None):
        return self._convert(_dtypes.bool, memory_format)

    def byte(self, memory_format=None):
        return self._convert(_dtypes.uint8, memory_format)

    def char(self, memory_format=None):
        return self._convert(_dtypes.int8, memory_format)

    def cfloat(self, memory_format=None):
        return self._convert(_dtypes.complex64, memory_format)

    def cdouble(self, memory_format=None):
        return self._convert(_dtypes.complex128, memory_format)

    def chalf(self, memory_format=None):
        raise NotImplementedError("torch.chalf (complex32): funcgrad has no complex32 dtype (JAX has none)")

    def type_as(self, other):
        return self.to(other.dtype)


def _rebuild(arr, requires_grad):
    """Unpickle a tensor (``__reduce_ex__``; pickles name ``funcgrad.tensor._rebuild``): a CPU leaf
    holding ``arr``, whose dtype is a tensor dtype already."""
    t = Tensor._make(jax.device_put(arr, _CPU.jax_device()), _CPU)
    if requires_grad:
        t._set_requires_grad(True, "Only Tensors of floating point and complex dtype can require gradients")
    return t
