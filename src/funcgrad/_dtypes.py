"""torch-style dtypes over numpy/JAX dtypes, and torch's type-promotion rules."""
from __future__ import annotations

import builtins as _b

import numpy as np

_py_float, _py_int, _py_bool, _py_complex = _b.float, _b.int, _b.bool, _b.complex


class dtype:
    """A torch-like dtype: prints as ``torch.float32`` and wraps a numpy dtype."""

    __slots__ = ("name", "np", "is_floating_point", "is_complex", "is_signed", "itemsize", "_legacy")

    def __init__(self, name, np_dtype, legacy):
        self.name = name
        self.np = np.dtype(np_dtype)
        self.is_floating_point = self.np.kind == "f"
        self.is_complex = self.np.kind == "c"
        self.is_signed = self.np.kind in "fic"
        self.itemsize = self.np.itemsize
        self._legacy = legacy

    def __repr__(self):
        return "torch." + self.name

    def __reduce__(self):
        return (_by_name, (self.name,))

    def to_real(self):
        return {"complex64": float32, "complex128": float64}.get(self.name, self)


def _by_name(name):
    return _NAMES[name]


float16 = dtype("float16", np.float16, "HalfTensor")
bfloat16 = dtype("bfloat16", "bfloat16" if hasattr(np, "bfloat16") else np.float32, "BFloat16Tensor")
float32 = dtype("float32", np.float32, "FloatTensor")
float64 = dtype("float64", np.float64, "DoubleTensor")
complex64 = dtype("complex64", np.complex64, "ComplexFloatTensor")
complex128 = dtype("complex128", np.complex128, "ComplexDoubleTensor")
uint8 = dtype("uint8", np.uint8, "ByteTensor")
int8 = dtype("int8", np.int8, "CharTensor")
int16 = dtype("int16", np.int16, "ShortTensor")
int32 = dtype("int32", np.int32, "IntTensor")
int64 = dtype("int64", np.int64, "LongTensor")
bool = dtype("bool", np.bool_, "BoolTensor")  # noqa: A001 - torch.bool

try:  # JAX ships ml_dtypes; bfloat16 maps onto it when available
    import ml_dtypes

    bfloat16.np = np.dtype(ml_dtypes.bfloat16)
    bfloat16.is_floating_point = True
    bfloat16.itemsize = 2  # was the float32 fallback's 4: bfloat16 + float32 must promote to float32
except ImportError:  # pragma: no cover
    pass

half, float, double = float16, float32, float64  # noqa: A001
cfloat, cdouble = complex64, complex128
short, int, long = int16, int32, int64  # noqa: A001

_ALL = (float16, bfloat16, float32, float64, complex64, complex128, uint8, int8, int16, int32, int64, bool)
_NAMES = {d.name: d for d in _ALL}
_FROM_NP = {d.np: d for d in _ALL}

_default_float = float32


def get_default_dtype():
    return _default_float


def set_default_dtype(d):
    global _default_float
    if d not in (float16, bfloat16, float32, float64):
        raise TypeError("only floating-point types are supported as the default type")
    _default_float = d


def from_numpy_dtype(np_dtype):
    try:
        return _FROM_NP[np.dtype(np_dtype)]
    except KeyError:
        raise TypeError(
            f"can't convert np.ndarray of type {np.dtype(np_dtype)}. The only supported types are: "
            "float64, float32, float16, complex64, complex128, int64, int32, int16, int8, uint8, and bool."
        ) from None


def as_dtype(d):
    """Accept a funcgrad dtype, a numpy/JAX dtype or a python type."""
    if d is None or isinstance(d, dtype):
        return d
    if d is _py_float:
        return _default_float
    if d is _py_int:
        return int64
    if d is _py_bool:
        return bool
    if isinstance(d, str):  # torch takes torch.dtype objects, never names
        raise TypeError(f"dtype must be torch.dtype, not str")
    return from_numpy_dtype(d)




def _category(d):
    """0 bool, 1 integer, 2 floating, 3 complex."""
    if d is bool:
        return 0
    if d.is_complex:
        return 3
    if d.is_floating_point:
        return 2
    return 1


def _promote_pair(a, b):
    if a is b:
        return a
    ca, cb = _category(a), _category(b)
    if ca != cb:
        hi, lo = (a, b) if ca > cb else (b, a)
        if _category(hi) == 3 and lo.is_floating_point and lo.itemsize > hi.itemsize // 2:
            return complex128
        return hi
    if ca == 2:
        if {a, b} == {float16, bfloat16}:
            return float32
        return a if a.itemsize >= b.itemsize else b
    if ca == 1:
        if a is uint8 or b is uint8:
            other = b if a is uint8 else a
            return int16 if other is int8 else other
        return a if a.itemsize >= b.itemsize else b
    return a if a.itemsize >= b.itemsize else b


def scalar_dtype(v):
    """The dtype torch gives a python scalar when it stands alone."""
    if isinstance(v, _py_bool):
        return bool
    if isinstance(v, _py_int):
        return int64
    if isinstance(v, _py_float):
        return _default_float
    if isinstance(v, _py_complex):
        return complex64 if _default_float is not float64 else complex128
    raise TypeError(f"unsupported scalar {v!r}")


def result_type(tensor_meta, scalars=()):
    """torch.result_type: ``tensor_meta`` is a list of (dtype, ndim); ``scalars`` python numbers.

    Priority tiers: tensors with dims > zero-dim tensors > python scalars. A lower tier only
    wins when its category (bool < int < float < complex) is higher.
    """
    dim_t = zero_t = None
    for d, nd in tensor_meta:
        if nd:
            dim_t = d if dim_t is None else _promote_pair(dim_t, d)
        else:
            zero_t = d if zero_t is None else _promote_pair(zero_t, d)
    res = dim_t
    if zero_t is not None:
        if res is None:
            res = zero_t
        elif _category(zero_t) > _category(res):
            res = zero_t
    if scalars:
        cat = max(_category(scalar_dtype(s)) for s in scalars)
        if res is None:
            sd = None
            for s in scalars:
                t = scalar_dtype(s)
                sd = t if sd is None else _promote_pair(sd, t)
            res = sd
        elif cat > _category(res):
            res = {0: bool, 1: int64, 2: _default_float, 3: complex64 if _default_float is not float64 else complex128}[cat]
            if cat == 3 and dim_t is not None and dim_t is float64:
                res = complex128
    return res


class memory_format:
    """torch's memory formats: funcgrad arrays have no strides, so these only name a layout (a
    conversion asked for ``channels_last`` copies, as torch does)."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return "torch." + self.name


contiguous_format = memory_format("contiguous_format")
preserve_format = memory_format("preserve_format")
channels_last = memory_format("channels_last")
channels_last_3d = memory_format("channels_last_3d")


_CTYPES = {"float32": "float", "float64": "double", "int64": "long int", "int32": "int", "int16": "short int",
           "int8": "signed char", "uint8": "unsigned char", "bool": "bool", "float16": "c10::Half",
           "bfloat16": "c10::BFloat16", "complex64": "c10::complex<float>", "complex128": "c10::complex<double>"}


def ctype_name(d):
    """The C++ type name torch's messages print for a dtype (``float``, ``long int``)."""
    return _CTYPES.get(d.name, d.name)


def scalar_type_name(d):
    """torch's ScalarType name (``Float``, ``Long``, ``ComplexFloat``)."""
    return d._legacy[:-len("Tensor")]


def _dt_name(d):
    """The scalar-type name torch's messages use (``Float``, ``Long``, ...)."""
    return {"float32": "Float", "float64": "Double", "int64": "Long", "int32": "Int", "bool": "Bool",
            "float16": "Half", "bfloat16": "BFloat16", "int16": "Short", "int8": "Char", "uint8": "Byte",
            "complex64": "ComplexFloat", "complex128": "ComplexDouble"}[d.name]
