"""TF's ``DType``: the element types of tensors, with TF's names and ``DataType`` enum values."""

import ml_dtypes
import numpy as np


class DType:
    """An element type, as ``tf.float32`` etc.; compares equal to its name-like peers."""

    __slots__ = ("_name", "_enum", "_np", "_ref")

    def __init__(self, name, enum, np_type):
        self._name = name
        self._enum = enum
        self._np = np_type
        self._ref = None

    @property
    def name(self):
        return self._name

    @property
    def as_datatype_enum(self):
        return self._enum

    @property
    def as_numpy_dtype(self):
        return self._np

    @property
    def base_dtype(self):
        return self

    @property
    def _as_ref(self):
        """The reference type of this type (``float32_ref``): what TF 1.x gives a ref
        variable's own output ``w:0``."""
        if self._ref is None:
            self._ref = _RefDType(self)
        return self._ref

    @property
    def _is_ref_dtype(self):
        return False

    @property
    def real_dtype(self):
        if self is complex64:
            return float32
        if self is complex128:
            return float64
        return self

    @property
    def is_floating(self):
        return self._name in ("float16", "float32", "float64", "bfloat16")

    @property
    def is_integer(self):
        return self._name.startswith(("int", "uint"))

    @property
    def is_unsigned(self):
        return self._name.startswith("uint") or self._name == "bool"

    @property
    def is_bool(self):
        return self is bool

    @property
    def is_complex(self):
        return self._name.startswith("complex")

    @property
    def is_numpy_compatible(self):
        return self._name not in ("resource", "variant")

    @property
    def size(self):
        if self._np is object or self._np is None:
            return 1
        return np.dtype(self._np).itemsize

    @property
    def min(self):
        if self.is_floating:
            return float(ml_dtypes.finfo(self._np).min)
        if self.is_integer:
            return int(np.iinfo(self._np).min)
        if self is bool:
            return False
        raise TypeError(f"Cannot find minimum value of {self}.")

    @property
    def max(self):
        if self.is_floating:
            return float(ml_dtypes.finfo(self._np).max)
        if self.is_integer:
            return int(np.iinfo(self._np).max)
        if self is bool:
            return True
        raise TypeError(f"Cannot find maximum value of {self}.")

    def is_compatible_with(self, other):
        return self is as_dtype(other).base_dtype

    def __eq__(self, other):
        if other is None:
            return False
        if isinstance(other, DType):
            return self is other
        try:
            return self is as_dtype(other)
        except TypeError:
            return False

    def __ne__(self, other):
        return not self.__eq__(other)

    def __hash__(self):
        return self._enum

    def __reduce__(self):
        return as_dtype, (self._name,)

    def __repr__(self):
        return f"tf.{self._name}"

    def __str__(self):
        return f"<dtype: '{self._name}'>"


class _RefDType(DType):
    """A reference type (``float32_ref``): the type of a TF 1.x ref variable's output. It is
    its base type in all but name, enum (base + 100) and identity."""

    __slots__ = ("_base",)

    def __init__(self, base):
        DType.__init__(self, base._name + "_ref", base._enum + 100, base._np)
        self._base = base
        self._ref = self

    @property
    def base_dtype(self):
        return self._base

    @property
    def _is_ref_dtype(self):
        return True

    is_floating = property(lambda self: self._base.is_floating)
    is_integer = property(lambda self: self._base.is_integer)
    is_unsigned = property(lambda self: self._base.is_unsigned)
    is_bool = property(lambda self: self._base.is_bool)
    is_complex = property(lambda self: self._base.is_complex)
    is_numpy_compatible = property(lambda self: self._base.is_numpy_compatible)
    min = property(lambda self: self._base.min)
    max = property(lambda self: self._base.max)

    @property
    def real_dtype(self):
        real = self._base.real_dtype
        return self if real is self._base else real

    def is_compatible_with(self, other):
        return self is as_dtype(other)

    def __reduce__(self):
        return _ref_of, (self._base._name,)


def _ref_of(name):
    return as_dtype(name)._as_ref


float16 = DType("float16", 19, np.float16)
half = float16
float32 = DType("float32", 1, np.float32)
float64 = DType("float64", 2, np.float64)
double = float64
bfloat16 = DType("bfloat16", 14, ml_dtypes.bfloat16)
int8 = DType("int8", 6, np.int8)
int16 = DType("int16", 5, np.int16)
int32 = DType("int32", 3, np.int32)
int64 = DType("int64", 9, np.int64)
uint8 = DType("uint8", 4, np.uint8)
uint16 = DType("uint16", 17, np.uint16)
uint32 = DType("uint32", 22, np.uint32)
uint64 = DType("uint64", 23, np.uint64)
bool = DType("bool", 10, np.bool_)  # noqa: A001 - TF's public name
string = DType("string", 7, object)
complex64 = DType("complex64", 8, np.complex64)
complex128 = DType("complex128", 18, np.complex128)
resource = DType("resource", 20, object)
variant = DType("variant", 21, object)

_ALL = [
    float16,
    float32,
    float64,
    bfloat16,
    int8,
    int16,
    int32,
    int64,
    uint8,
    uint16,
    uint32,
    uint64,
    bool,
    string,
    complex64,
    complex128,
    resource,
    variant,
]
_BY_NAME = {d.name: d for d in _ALL}
_BY_NAME.update({"half": float16, "float": float32, "double": float64})
_BY_ENUM = {d.as_datatype_enum: d for d in _ALL}
# TF1 graphs serialise reference types as enum + 100 (``float32_ref``).
_BY_ENUM.update({d.as_datatype_enum + 100: d for d in _ALL})
_BY_NP = {np.dtype(d.as_numpy_dtype): d for d in _ALL if d.as_numpy_dtype is not object}
# As TF: Python ``int`` is not a dtype (its width is ambiguous); ``object`` means strings.
_PY_TYPES = {float: float32, type(True): bool, object: string}


def as_dtype(type_value):
    """Converts a DType, name (``"float"`` is float32), NumPy type or enum to a ``DType``."""
    if isinstance(type_value, DType):
        return type_value
    if isinstance(type_value, str):
        name = type_value[:-4] if type_value.endswith("_ref") else type_value
        if name in _BY_NAME:
            return _BY_NAME[name]
    elif isinstance(type_value, int) and not isinstance(type_value, type(True)):
        if type_value in _BY_ENUM:
            return _BY_ENUM[type_value]
    elif isinstance(type_value, type) and type_value in _PY_TYPES:
        return _PY_TYPES[type_value]
    elif type_value is int:
        pass
    else:
        try:
            npd = np.dtype(type_value)
        except (TypeError, ValueError):
            npd = None
        if npd is not None:
            if npd in _BY_NP:
                return _BY_NP[npd]
            if npd.kind in ("S", "U", "O"):
                return string
        dt = getattr(type_value, "dtype", None)
        if isinstance(dt, DType):
            return dt
    raise TypeError(
        f"Cannot convert the argument `type_value`: {type_value!r} to a TensorFlow DType."
    )


def is_64bit(dtype):
    return dtype in (int64, uint64, float64, complex128)
