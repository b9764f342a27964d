"""``Const``: ``tf.constant`` and the conversion of Python and NumPy values to tensors."""

import numbers

import numpy as np

from tfstyle.framework import dtypes, ops
from tfstyle.framework import tensor_shape as _shape

from . import _base


def _infer_dtype(value):
    """TF's dtype for a Python/NumPy value: floats are float32, ints int32 (int64 if large)."""
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        if value.dtype.kind in ("U", "S", "O"):
            return dtypes.string
        return dtypes.as_dtype(value.dtype)
    if isinstance(value, (bool, np.bool_)):
        return dtypes.bool
    if isinstance(value, numbers.Integral):
        return dtypes.int32 if -(2**31) <= value < 2**31 else dtypes.int64
    if isinstance(value, float):
        return dtypes.float32
    if isinstance(value, complex):
        return dtypes.complex128
    if isinstance(value, (str, bytes)):
        return dtypes.string
    if isinstance(value, (list, tuple)):
        kinds = {_infer_dtype(v) for v in _flat(value)}
        for k in (dtypes.string, dtypes.complex128, dtypes.float64, dtypes.float32):
            if k in kinds:
                return k
        if not kinds or kinds == {dtypes.bool}:
            return dtypes.bool if kinds else dtypes.float32
        if dtypes.int64 in kinds:
            return dtypes.int64
        return kinds.pop() if len(kinds) == 1 else dtypes.int32
    arr = np.asarray(value)
    return _infer_dtype(arr)


def _flat(value):
    for v in value:
        if isinstance(v, (list, tuple)):
            yield from _flat(v)
        else:
            yield v


def _to_array(value, dtype):
    """``value`` as a NumPy array of ``dtype``, refusing lossy Python conversions as TF does."""
    if dtype is dtypes.string:
        arr = np.asarray(value, dtype=object)
        return (
            np.vectorize(lambda s: s.encode() if isinstance(s, str) else bytes(s), otypes=[object])(
                arr
            )
            if arr.size
            else arr
        )
    np_dtype = dtype.as_numpy_dtype
    # An empty list has no elements to refuse: ``constant([], tf.int32)`` is fine.
    empty = isinstance(value, (list, tuple)) and next(_flat(value), None) is None
    if not isinstance(value, (np.ndarray, np.generic)) and not empty:
        inferred = _infer_dtype(value)
        if (dtype.is_integer or dtype.is_bool) and inferred.is_floating:
            raise TypeError(
                f"Expected {dtype.name}, but got {value!r} of type '{type(value).__name__}'."
            )
        if dtype.is_bool and not inferred.is_bool:
            raise TypeError(f"Expected bool, but got {value!r} of type '{type(value).__name__}'.")
        if inferred is dtypes.string:
            raise TypeError(
                f"Expected {dtype.name}, but got {value!r} of type '{type(value).__name__}'."
            )
    arr = np.asarray(value)
    if dtype.is_integer and arr.dtype.kind in "iu" and arr.size:
        info = np.iinfo(np_dtype)
        if arr.min() < info.min or arr.max() > info.max:
            raise TypeError(f"Value out of range for {dtype.name}: {value!r}")
    return arr.astype(np_dtype, copy=False)


def constant(value, dtype=None, shape=None, name="Const", verify_shape=False):
    """Creates a constant tensor from a Python or NumPy value (broadcast to ``shape`` if given)."""
    if dtype is not None:
        dtype = dtypes.as_dtype(dtype)
    else:
        dtype = _infer_dtype(value)
    arr = _to_array(value, dtype)
    if shape is not None:
        shape = tuple(_shape.as_shape(shape).as_list())
        if arr.shape != shape:
            if verify_shape:
                raise TypeError(f"Expected Tensor's shape: {shape}, got {arr.shape}.")
            if arr.size == 1:
                arr = np.broadcast_to(arr.reshape(()), shape).copy()
            elif arr.size == int(np.prod(shape)):
                arr = arr.reshape(shape)
            else:
                raise TypeError(
                    f"Eager execution of tf.constant with unsupported shape. Tensor {value!r} "
                    f"(converted from {value!r}) has {arr.size} elements, but got `shape` "
                    f"{shape} with {int(np.prod(shape))} elements)."
                )
    arr.flags.writeable = False
    return _base.output(
        "Const",
        [],
        {"value": arr, "dtype": dtype},
        name=name or "Const",
        graph=ops.get_default_graph(),
    )


def _const_infer(op):
    v = op._attrs["value"]
    return [(op._attrs["dtype"], v.shape)]


def _const_lower(op):
    v = op._attrs["value"]
    if v.dtype == object:
        from tfstyle.compiler.lowering import HostValue

        return lambda: HostValue(lambda: v)
    return lambda: v


_base.register_simple("Const", _const_infer, _const_lower)


@_base.constant_folder("Const")
def _fold_const(t):
    return t.op._attrs["value"]


def _convert_value(value, dtype=None, name=None, as_ref=False):
    return constant(value, dtype=dtype, name=name or "Const")


for _t in (
    np.ndarray,
    np.generic,
    list,
    tuple,
    float,
    int,
    bool,
    complex,
    str,
    bytes,
    _shape.TensorShape,
    _shape.Dimension,
):
    ops.register_tensor_conversion_function(_t, _convert_value, priority=200)


def _convert_shape(value, dtype=None, name=None, as_ref=False):
    if not value.is_fully_defined():
        raise ValueError(f"Cannot convert a partially known TensorShape {value} to a Tensor.")
    return constant(value.as_list(), dtype=dtype or dtypes.int32, name=name or "Const")


def _convert_dimension(value, dtype=None, name=None, as_ref=False):
    if value.value is None:
        raise ValueError("Cannot convert an unknown Dimension to a Tensor.")
    return constant(value.value, dtype=dtype or dtypes.int32, name=name or "Const")


ops.register_tensor_conversion_function(_shape.TensorShape, _convert_shape, priority=100)
ops.register_tensor_conversion_function(_shape.Dimension, _convert_dimension, priority=100)
