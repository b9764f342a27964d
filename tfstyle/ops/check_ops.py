"""``tf.assert_equal``, ``tf.assert_less``, ``tf.assert_rank``... (``tf.debugging``), as TF 1.x
builds them in a graph: ``tf.Assert`` of a reduced condition with TF's messages, checked at
graph construction instead when the values (or ranks, dtypes) are known then."""

import numpy as np

from tfstyle.framework import dtypes, errors, ops

from . import _base, array_ops, math_ops, reduction_ops
from .control_flow_ops import Assert, with_dependencies


def _message_prefix(message):
    return f"{message}.  " if message else ""


def _static_text(item):
    """An item of ``data`` as the error raised at graph construction shows it."""
    if not isinstance(item, ops.Tensor):
        return str(item)
    value = _base.constant_value(item)
    return str(value) if value is not None else item


def _assert_static(condition, data):
    if not condition:
        raise errors.InvalidArgumentError(None, None, "\n".join(str(_static_text(x)) for x in data))


def _binary_assert(sym, opname, op_func, static_func, x, y, data, summarize, message, name):
    with ops.name_scope(name, opname, [x, y, data]):
        x = ops.convert_to_tensor(x, name="x")
        y = ops.convert_to_tensor(y, name="y")
        if data is None:
            data = [
                f"Condition x {sym} y did not hold element-wise:",
                f"x ({x.name}) = ",
                x,
                f"y ({y.name}) = ",
                y,
            ]
        if message is not None:
            data = [message, *data]
        condition = reduction_ops.reduce_all(op_func(x, y))
        x_static, y_static = _base.constant_value(x), _base.constant_value(y)
        if x_static is not None and y_static is not None:
            _assert_static(bool(np.all(static_func(x_static, y_static))), data)
        return Assert(condition, data, summarize=summarize)


def assert_equal(x, y, data=None, summarize=None, message=None, name=None):
    """Asserts ``x == y`` elementwise (a no-op when ``x`` is ``y``)."""
    with ops.name_scope(name, "assert_equal", [x, y, data]):  # TF takes a scope name here too
        if x is y:
            return array_ops.no_op()
    return _binary_assert(
        "==", "assert_equal", math_ops.equal, np.equal, x, y, data, summarize, message, name
    )


def assert_none_equal(x, y, data=None, summarize=None, message=None, name=None):
    """Asserts ``x != y`` elementwise."""
    return _binary_assert(
        "!=", "assert_none_equal", math_ops.not_equal, np.not_equal, x, y, data, summarize,
        message, name,
    )  # fmt: skip


def assert_less(x, y, data=None, summarize=None, message=None, name=None):
    """Asserts ``x < y`` elementwise."""
    return _binary_assert(
        "<", "assert_less", math_ops.less, np.less, x, y, data, summarize, message, name
    )


def assert_less_equal(x, y, data=None, summarize=None, message=None, name=None):
    """Asserts ``x <= y`` elementwise."""
    return _binary_assert(
        "<=", "assert_less_equal", math_ops.less_equal, np.less_equal, x, y, data, summarize,
        message, name,
    )  # fmt: skip


def assert_greater(x, y, data=None, summarize=None, message=None, name=None):
    """Asserts ``x > y`` elementwise."""
    return _binary_assert(
        ">", "assert_greater", math_ops.greater, np.greater, x, y, data, summarize, message, name
    )


def assert_greater_equal(x, y, data=None, summarize=None, message=None, name=None):
    """Asserts ``x >= y`` elementwise."""
    return _binary_assert(
        ">=", "assert_greater_equal", math_ops.greater_equal, np.greater_equal, x, y, data,
        summarize, message, name,
    )  # fmt: skip


def _sign_assert(condition_text, opname, compare, zero_first, x, data, summarize, message, name):
    message = _message_prefix(message)
    with ops.name_scope(name, opname, [x, data]):
        x = ops.convert_to_tensor(x, name="x")
        if data is None:
            data = [message, condition_text, f"x ({x.name}) = ", x]
        zero = ops.convert_to_tensor(0, dtype=x.dtype)
        pair = (zero, x) if zero_first else (x, zero)
        return compare(*pair, data=data, summarize=summarize)


def assert_positive(x, data=None, summarize=None, message=None, name=None):
    """Asserts ``x > 0`` elementwise."""
    return _sign_assert("Condition x > 0 did not hold element-wise:", "assert_positive",
                        assert_less, True, x, data, summarize, message, name)  # fmt: skip


def assert_negative(x, data=None, summarize=None, message=None, name=None):
    """Asserts ``x < 0`` elementwise."""
    return _sign_assert("Condition x < 0 did not hold element-wise:", "assert_negative",
                        assert_less, False, x, data, summarize, message, name)  # fmt: skip


def assert_non_negative(x, data=None, summarize=None, message=None, name=None):
    """Asserts ``x >= 0`` elementwise."""
    return _sign_assert("Condition x >= 0 did not hold element-wise:", "assert_non_negative",
                        assert_less_equal, True, x, data, summarize, message, name)  # fmt: skip


def assert_non_positive(x, data=None, summarize=None, message=None, name=None):
    """Asserts ``x <= 0`` elementwise. (TF's message runs its condition and the ``x (...) =``
    part together, without a separator; so does this one.)"""
    message = _message_prefix(message)
    with ops.name_scope(name, "assert_non_positive", [x, data]):
        x = ops.convert_to_tensor(x, name="x")
        if data is None:
            data = [message, f"Condition x <= 0 did not hold element-wise:x ({x.name}) = ", x]
        zero = ops.convert_to_tensor(0, dtype=x.dtype)
        return assert_less_equal(x, zero, data=data, summarize=summarize)


def assert_near(x, y, rtol=None, atol=None, data=None, summarize=None, message=None, name=None):
    """Asserts ``|x - y| < atol + rtol * |y|`` elementwise (tolerances ten machine epsilons
    of ``x``'s dtype by default)."""
    message = _message_prefix(message)
    with ops.name_scope(name, "assert_near", [x, y, rtol, atol, data]):
        x = ops.convert_to_tensor(x, name="x")
        y = ops.convert_to_tensor(y, name="y", dtype=x.dtype)
        dtype = x.dtype.real_dtype if x.dtype.is_complex else x.dtype
        eps = np.finfo(dtype.as_numpy_dtype).eps
        rtol = ops.convert_to_tensor(10 * eps if rtol is None else rtol, name="rtol", dtype=dtype)
        atol = ops.convert_to_tensor(10 * eps if atol is None else atol, name="atol", dtype=dtype)
        if data is None:
            data = [
                message,
                f"x and y not equal to tolerance rtol = {rtol}, atol = {atol}",
                f"x ({x.name}) = ",
                x,
                f"y ({y.name}) = ",
                y,
            ]
        tolerance = atol + rtol * math_ops.abs(y)
        condition = reduction_ops.reduce_all(math_ops.less(math_ops.abs(x - y), tolerance))
        return Assert(condition, data, summarize=summarize)


def _rank_assert(x, rank, static_condition, dynamic_condition, data, summarize):
    assert_type(rank, dtypes.int32)
    rank_static = _base.constant_value(rank)
    if rank_static is not None:
        if np.ndim(rank_static) != 0:
            raise ValueError("Rank must be a scalar.")
        x_rank = x.get_shape().ndims
        if x_rank is not None:
            if not static_condition(x_rank, int(rank_static)):
                raise ValueError("Static rank condition failed", x_rank, int(rank_static))
            return array_ops.no_op(name="static_checks_determined_all_ok")
    condition = dynamic_condition(array_ops.rank(x), rank)
    if rank_static is None:
        check = assert_rank(rank, 0, data=["Rank must be a scalar. Received rank: ", rank])
        condition = with_dependencies([check], condition)
    return Assert(condition, data, summarize=summarize)


def _rank_check(opname, words, static_condition, dynamic_condition, x, rank, data, summarize,
                message, name):  # fmt: skip
    with ops.name_scope(name, opname, (x, rank, *(data or []))):
        x = ops.convert_to_tensor(x, name="x")
        rank = ops.convert_to_tensor(rank, name="rank")
        message = _message_prefix(message)
        if data is None:
            data = [message, f"Tensor {x.name} must have {words}", rank, "Received shape: ",
                    array_ops.shape(x)]  # fmt: skip
        try:
            return _rank_assert(x, rank, static_condition, dynamic_condition, data, summarize)
        except ValueError as e:
            if e.args[0] != "Static rank condition failed":
                raise
            raise ValueError(
                f"{message}Tensor {x.name} must have {words} {e.args[2]}.  Received rank "
                f"{e.args[1]}, shape {x.get_shape()}"
            ) from None


def assert_rank(x, rank, data=None, summarize=None, message=None, name=None):
    """Asserts that ``x`` has rank ``rank`` (a no-op when known at graph construction)."""
    return _rank_check("assert_rank", "rank", lambda a, b: a == b, math_ops.equal, x, rank,
                       data, summarize, message, name)  # fmt: skip


def assert_rank_at_least(x, rank, data=None, summarize=None, message=None, name=None):
    """Asserts that ``x`` has rank ``rank`` or more."""
    return _rank_check("assert_rank_at_least", "rank at least", lambda a, b: a >= b,
                       math_ops.greater_equal, x, rank, data, summarize, message, name)  # fmt: skip


def assert_integer(x, message=None, name=None):
    """Raises ``TypeError`` unless ``x`` has an integer dtype."""
    with ops.name_scope(name, "assert_integer", [x]):
        x = ops.convert_to_tensor(x, name="x")
        if not x.dtype.is_integer:
            raise TypeError(
                f'{_message_prefix(message)}Expected "x" to be integer type.  Found: {x.name} '
                f"of dtype {x.dtype}"
            )
        return array_ops.no_op("statically_determined_was_integer")


def assert_type(tensor, tf_type, message=None, name=None):
    """Raises ``TypeError`` unless ``tensor`` has dtype ``tf_type``."""
    tf_type = dtypes.as_dtype(tf_type)
    with ops.name_scope(name, "assert_type", [tensor]):
        tensor = ops.convert_to_tensor(tensor, name="tensor")
        if tensor.dtype != tf_type:
            raise TypeError(
                f"{_message_prefix(message)}{tensor.name} must be of type {tf_type!r}; got "
                f"{tensor.dtype!r}"
            )
        return array_ops.no_op("statically_determined_correct_type")


def assert_scalar(tensor, name=None, message=None):
    """Returns ``tensor``; raises ``ValueError`` unless its static shape is a scalar's."""
    with ops.name_scope(name, "assert_scalar", [tensor]) as scope:
        tensor = ops.convert_to_tensor(tensor, name=scope)
        shape = tensor.get_shape()
        if shape.ndims != 0:
            raise ValueError(
                f"{_message_prefix(message)}Expected scalar shape for {tensor.name}, saw "
                f"shape: {shape}."
            )
        return tensor


def is_numeric_tensor(tensor):
    """Whether ``tensor`` is a ``Tensor`` of a numeric dtype."""
    numeric = {
        dtypes.float16, dtypes.bfloat16, dtypes.float32, dtypes.float64, dtypes.int8,
        dtypes.int16, dtypes.int32, dtypes.int64, dtypes.uint8, dtypes.uint16, dtypes.uint32,
        dtypes.uint64, dtypes.complex64, dtypes.complex128,
    }  # fmt: skip
    return isinstance(tensor, ops.Tensor) and tensor.dtype in numeric
