"""Elementwise math: unary and binary ops, comparisons, logical and bitwise ops, ``add_n``,
``clip_by_value``, ``where``, ``cumsum``, and the Python operators on tensors (``x + 1`` is op
``add`` of type ``AddV2``, as in TF)."""

import builtins

import jax
import jax.numpy as jnp
import numpy as np

from tfstyle.framework import dtypes, ops
from tfstyle.framework.ops import Tensor

from . import _base

# -- the dtypes each op accepts (TF's op definitions, in TF's order: it is the error message) --
_FLOAT = "bfloat16 float16 float32 float64"
_FLOAT_C = _FLOAT + " complex64 complex128"
_SIGNED = "bfloat16 float16 float32 float64 int8 int16 int32 int64 complex64 complex128"
_INTS = "int8 int16 int32 int64 uint8 uint16 uint32 uint64"
_ARITH = (
    "bfloat16 float16 float32 float64 uint8 int8 uint16 int16 int32 uint32 uint64 int64 "
    "complex64 complex128"
)
_REAL = "float32 float64 int32 uint8 int16 int8 int64 bfloat16 uint16 float16 uint32 uint64"
_MINMAX = "bfloat16 float16 float32 float64 int8 uint8 int16 uint16 int32 uint32 int64 uint64"
NUMBER = (
    "float32 float64 int32 uint8 int16 int8 complex64 int64 qint8 quint8 qint32 bfloat16 qint16 "
    "quint16 uint16 complex128 float16 uint32 uint64"
)


def _zeros_like(x):
    # A variant value (a TensorList) gives a list of zeros of its own length.
    zeros = getattr(x, "zeros_like", None)
    return zeros() if zeros is not None else jnp.zeros_like(x)


def _selu(x):
    # TF's gradient at 0 is scale (the positive branch); jax.nn.selu takes the negative one.
    scale, alpha = 1.0507009873554805, 1.6732632423543772
    neg = scale * alpha * jnp.expm1(jnp.minimum(x, 0))
    return jnp.where(x >= 0, scale * x, neg)


def _abs(x):
    # TF's gradient of |x| is sign(x), so 0 at 0; JAX's is 1 there.
    if jnp.issubdtype(jnp.result_type(x), jnp.floating):
        return x * jnp.sign(x)
    return jnp.abs(x)


# -- unary ops: TF op type -> (lowering, allowed dtypes) -------------------------------------
_UNARY = {
    "Neg": (jnp.negative, _SIGNED),
    "Abs": (_abs, "bfloat16 float16 float32 float64 int8 int16 int32 int64"),
    "Square": (jnp.square, _SIGNED.replace("int64", "int64 uint8 uint16 uint32 uint64")),
    "Sqrt": (jnp.sqrt, _FLOAT_C),
    "Rsqrt": (jax.lax.rsqrt, _FLOAT_C),
    "Exp": (jnp.exp, _FLOAT_C),
    "Expm1": (jnp.expm1, _FLOAT_C),
    "Log": (jnp.log, _FLOAT_C),
    "Log1p": (jnp.log1p, _FLOAT_C),
    "Sign": (jnp.sign, _SIGNED),
    "Floor": (jnp.floor, _FLOAT),
    "Ceil": (jnp.ceil, _FLOAT),
    "Round": (jnp.round, _SIGNED),
    "Rint": (jnp.rint, _FLOAT),
    "Reciprocal": (jnp.reciprocal, _SIGNED),
    "Sigmoid": (jax.nn.sigmoid, _FLOAT_C),
    "Tanh": (jnp.tanh, _FLOAT_C),
    "Sin": (jnp.sin, _FLOAT_C),
    "Cos": (jnp.cos, _FLOAT_C),
    "Tan": (jnp.tan, _FLOAT_C),
    "Asin": (jnp.arcsin, _FLOAT_C),
    "Acos": (jnp.arccos, _FLOAT_C),
    "Atan": (jnp.arctan, _FLOAT_C),
    "Sinh": (jnp.sinh, _FLOAT_C),
    "Cosh": (jnp.cosh, _FLOAT_C),
    "Asinh": (jnp.arcsinh, _FLOAT_C),
    "Acosh": (jnp.arccosh, _FLOAT_C),
    "Atanh": (jnp.arctanh, _FLOAT_C),
    "Erf": (jax.scipy.special.erf, _FLOAT),
    "Erfc": (jax.scipy.special.erfc, _FLOAT),
    "Lgamma": (jax.scipy.special.gammaln, _FLOAT),
    "Digamma": (jax.scipy.special.digamma, _FLOAT),
    "IsNan": (jnp.isnan, _FLOAT),
    "IsInf": (jnp.isinf, _FLOAT),
    "IsFinite": (jnp.isfinite, _FLOAT),
    "LogicalNot": (jnp.logical_not, None),
    "Invert": (jnp.invert, _INTS),
    "ZerosLike": (_zeros_like, None),
    "OnesLike": (jnp.ones_like, None),
    "Softplus": (jax.nn.softplus, _FLOAT),
    "Softsign": (jax.nn.soft_sign, _FLOAT),
    "Relu": (jax.nn.relu, _REAL),
    "Relu6": (jax.nn.relu6, _REAL),
    "Elu": (jax.nn.elu, _FLOAT),
    "Selu": (_selu, _FLOAT),
}
_BOOL_OUT = {"IsNan", "IsInf", "IsFinite"}

# -- binary ops (broadcasting) ---------------------------------------------------------------


def _floordiv(x, y):
    if jnp.issubdtype(jnp.result_type(x), jnp.floating):
        return jnp.floor(x / y)
    return jnp.floor_divide(x, y)


def _truncdiv(x, y):
    if jnp.issubdtype(jnp.result_type(x), jnp.integer):
        return jax.lax.div(x, y)
    return x / y


def _tf_extreme(pick):
    # TF sends the gradient of a tie to x (x >= y for Maximum), and NaN propagates.
    def fn(x, y):
        out = jnp.where(pick(x, y), x, y)
        if jnp.issubdtype(jnp.result_type(x), jnp.inexact):
            out = jnp.where(jnp.isnan(x) | jnp.isnan(y), x + y, out)
        return out

    return fn


def _div_no_nan(x, y):
    safe = jnp.where(y == 0, jnp.ones_like(y), y)
    return jnp.where(y == 0, jnp.zeros_like(x / safe), x / safe)


_BINARY = {
    "Add": (jnp.add, None),
    "AddV2": (
        jnp.add,
        "bfloat16 float16 float32 float64 uint8 uint16 uint32 uint64 int8 int16 int32 int64 "
        "complex64 complex128",
    ),
    "Sub": (
        jnp.subtract,
        "bfloat16 float16 float32 float64 uint8 int8 uint16 int16 int32 int64 complex64 "
        "complex128 uint32 uint64",
    ),
    "Mul": (jnp.multiply, _ARITH),
    "RealDiv": (jnp.true_divide, _ARITH),
    "Div": (_truncdiv, _ARITH),
    "FloorDiv": (_floordiv, _ARITH),
    "TruncateDiv": (_truncdiv, _ARITH),
    "FloorMod": (jnp.mod, _INTS + " " + _FLOAT),
    "TruncateMod": (jnp.fmod, "int32 int64 " + _FLOAT),
    "Pow": (
        jnp.power,
        "bfloat16 float32 float16 float64 int8 int16 int32 int64 complex64 complex128",
    ),
    "Maximum": (_tf_extreme(jnp.greater_equal), _MINMAX),
    "Minimum": (_tf_extreme(jnp.less_equal), _MINMAX),
    "SquaredDifference": (
        lambda x, y: jnp.square(x - y),
        "bfloat16 float16 float32 float64 int32 int64 complex64 complex128",
    ),
    "DivNoNan": (_div_no_nan, "float16 float32 bfloat16 float64 complex64 complex128"),
    "Atan2": (jnp.arctan2, _FLOAT),
    "Xdivy": (lambda x, y: jnp.where(x == 0, jnp.zeros_like(x), x / y), _FLOAT_C),
    "Xlogy": (jax.scipy.special.xlogy, _FLOAT_C),
    "BitwiseAnd": (jnp.bitwise_and, _INTS),
    "BitwiseOr": (jnp.bitwise_or, _INTS),
    "BitwiseXor": (jnp.bitwise_xor, _INTS),
}
_COMPARE = {
    "Less": (jnp.less, _REAL),
    "LessEqual": (jnp.less_equal, _REAL),
    "Greater": (jnp.greater, _REAL),
    "GreaterEqual": (jnp.greater_equal, _REAL),
    "Equal": (jnp.equal, None),
    "NotEqual": (jnp.not_equal, None),
    "LogicalAnd": (jnp.logical_and, None),
    "LogicalOr": (jnp.logical_or, None),
}
_BOOL_INPUTS = {"LogicalAnd", "LogicalOr", "LogicalNot"}

_ALLOWED = {}


def allow(op_type, allowed):
    """Declares the dtypes op ``op_type`` accepts (a space-separated list of TF dtype names)."""
    _ALLOWED[op_type] = allowed.split()


def check_dtype(op_type, param, dtype):
    """Raises TF's ``TypeError`` when ``dtype`` is not one ``op_type`` accepts."""
    allowed = _ALLOWED.get(op_type)
    if allowed is not None and dtype.name not in allowed:
        raise TypeError(
            f"Value passed to parameter '{param}' has DataType {dtype.name} not in list of "
            f"allowed values: {', '.join(allowed)}"
        )


def _cast_like(fn):
    # Keep the input dtype: JAX may promote (e.g. integer power), TF never does.
    def lower(op):
        if op._outputs[0].dtype is dtypes.variant:
            return fn  # a TensorList is a pytree of arrays (ZerosLike of one)
        dt = op._outputs[0].dtype.as_numpy_dtype

        def f(*xs):
            out = jnp.asarray(fn(*xs))
            return out.astype(dt)

        return f

    return lower


def _bool_like_input(op):
    return [(dtypes.bool, op._inputs[0]._shape)]


def broadcast_rule(op):
    """NumPy broadcasting of the first two inputs; TF's ``ValueError`` when they cannot."""
    a, b = op._inputs[0], op._inputs[1]
    try:
        shape = _base.broadcast_dims(_base.dims(a), _base.dims(b))
    except ValueError as e:
        raise node_error(op, str(e).split(" for shapes")[0]) from None
    return [(a._dtype, shape)]


def _bool_broadcast_rule(op):
    return [(dtypes.bool, broadcast_rule(op)[0][1])]


for _name, (_fn, _allowed) in _UNARY.items():
    _base.register_simple(
        _name, _bool_like_input if _name in _BOOL_OUT else _base.same_as_input, _cast_like(_fn)
    )
    if _allowed:
        allow(_name, _allowed)
# TF's gradients of Sigmoid and Tanh from their outputs (in its gradient graphs).
_base.register_simple(
    "SigmoidGrad", _base.same_as_input, _cast_like(lambda y, dy: dy * y * (1 - y))
)
_base.register_simple("TanhGrad", _base.same_as_input, _cast_like(lambda y, dy: dy * (1 - y * y)))
for _name, (_fn, _allowed) in _BINARY.items():
    _base.register_simple(_name, broadcast_rule, _cast_like(_fn))
    if _allowed:
        allow(_name, _allowed)
for _name, (_fn, _allowed) in _COMPARE.items():
    _base.register_simple(_name, _bool_broadcast_rule, lambda op, f=_fn: f)
    if _allowed:
        allow(_name, _allowed)


# -- error messages in TF's words ------------------------------------------------------------
def dt_enum_name(dtype):
    """``DT_FLOAT`` for float32, as TF prints dtypes in node descriptions."""
    special = {"float32": "FLOAT", "float64": "DOUBLE", "float16": "HALF"}
    return "DT_" + special.get(dtype.name, dtype.name.upper())


def _attr_str(v):
    if isinstance(v, dtypes.DType):
        return dt_enum_name(v)
    if isinstance(v, builtins.bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return f'"{v}"'
    return str(v)


def shape_str(d):
    return (
        "<unknown>" if d is None else "[" + ",".join("?" if x is None else str(x) for x in d) + "]"
    )


def node_error(op, message):
    """A ``ValueError`` as TF's shape functions raise it: the message, then the node."""
    attrs = ", ".join(
        f"{k}={_attr_str(v)}" for k, v in sorted(op._attrs.items()) if not k.startswith("_")
    )
    inputs = ", ".join(
        t.op.name if t.value_index == 0 else f"{t.op.name}:{t.value_index}" for t in op._inputs
    )
    shapes = ", ".join(shape_str(_base.dims(t)) for t in op._inputs)
    return ValueError(
        f"{message} for '{{{{node {op.name}}}}} = {op.type}[{attrs}]({inputs})' with input "
        f"shapes: {shapes}."
    )


def merge_dims(a, b):
    """Merges two static shapes as TF's shape functions do; ``ValueError`` (without the node)."""
    if a is None:
        return b
    if b is None:
        return a
    if len(a) != len(b):
        raise ValueError(f"Shapes must be equal rank, but are {len(a)} and {len(b)}")
    out = []
    for i, (x, y) in enumerate(zip(a, b)):
        if x is not None and y is not None and x != y:
            raise ValueError(
                f"Dimension {i} in both shapes must be equal, but are {x} and {y}. Shapes are "
                f"{shape_str(a)} and {shape_str(b)}."
            )
        out.append(x if x is not None else y)
    return tuple(out)


# -- converting inputs as TF's generated op wrappers do ----------------------------------------
def _is_tensor_like(v):
    return isinstance(v, Tensor) or hasattr(v, "_as_graph_element")


def match_input(v, dtype, arg, op_type, first_arg=None):
    """Converts input ``arg`` of ``op_type`` to ``dtype`` (fixed by an earlier input, or by the
    op definition when ``first_arg`` is None), raising TF's ``TypeError`` when it cannot."""
    if _is_tensor_like(v):
        t = ops.convert_to_tensor(v)
        if t.dtype != dtype:
            expected = (
                f"type {dtype.name} of argument '{first_arg}'"
                if first_arg
                else f"expected type of {dtype.name}"
            )
            raise TypeError(
                f"Input '{arg}' of '{op_type}' Op has type {t.dtype.name} that does not match "
                f"{expected}."
            )
        return t
    try:
        return _base.to_tensor(v, dtype=dtype, name=arg)
    except TypeError as e:
        raise TypeError(
            f"Expected {dtype.name} passed to parameter '{arg}' of op '{op_type}', got {v!r} of "
            f"type '{type(v).__name__}' instead. Error: {e}"
        ) from None


def gen_inputs(op_type, values, arg_names, dtype=None):
    """TF's rule for ops whose inputs share one type attr: inputs are converted in order, the
    first one (a tensor, or a Python value with its default dtype) fixes the type."""
    out, first = [], None
    for v, arg in zip(values, arg_names):
        if dtype is None:
            t = _base.to_tensor(v, name=arg)
            dtype, first = t.dtype, arg
            check_dtype(op_type, arg, dtype)
        else:
            t = match_input(v, dtype, arg, op_type, first)
        out.append(t)
    return out


def _gen_binary(op_type, x, y, name):
    """A generated two-input op ``op_type(x, y)``: TF's names (``Mul``, ``Mul/y``), dtypes and
    errors."""
    with ops.name_scope(name, op_type, [x, y]) as scope:
        dtype = dtypes.bool if op_type in _BOOL_INPUTS else None
        x, y = gen_inputs(op_type, [x, y], ("x", "y"), dtype)
        attrs = {} if dtype is dtypes.bool else {"T": x.dtype}
        if op_type in ("Equal", "NotEqual"):
            attrs["incompatible_shape_error"] = True
        return _base.output(op_type, [x, y], attrs, name=scope)


def _unary(op_type, x, name, default_name=None):
    with ops.name_scope(name, default_name or op_type, [x]) as scope:
        if op_type in _BOOL_INPUTS:
            x = match_input(x, dtypes.bool, "x", op_type)
            return _base.output(op_type, [x], {}, name=scope)
        x = _base.to_tensor(x, name="x")
        check_dtype(op_type, "x", x.dtype)
        return _base.output(op_type, [x], {"T": x.dtype}, name=scope)


def _hinted(y, dtype):
    """``convert_to_tensor(y, dtype_hint=dtype)``: Python values prefer the other's dtype."""
    if _is_tensor_like(y):
        return ops.convert_to_tensor(y)
    return _base.to_tensor(y, preferred_dtype=dtype, name="y")


# -- binary functions --------------------------------------------------------------------------
def add(x, y, name=None):
    """``x + y`` elementwise (op ``AddV2``); a Python ``y`` prefers ``x``'s dtype."""
    with ops.name_scope(name, "Add", [x]) as scope:
        x = _base.to_tensor(x, name="x")
        return _gen_binary("AddV2", x, _hinted(y, x.dtype), scope)


def _gen_fn(op_type, default_name=None, doc=None):
    def fn(x, y, name=None):
        if default_name is None:
            return _gen_binary(op_type, x, y, name)
        with ops.name_scope(name, default_name, [x, y]) as scope:
            return _gen_binary(op_type, x, y, scope)

    fn.__name__ = op_type
    fn.__doc__ = doc or f"Elementwise ``{op_type}`` with NumPy broadcasting."
    return fn


subtract = _gen_fn("Sub")
multiply = _gen_fn("Mul")
floordiv = _gen_fn("FloorDiv", "floordiv", "Floor division, rounding toward negative infinity.")
floor_div = _gen_fn("FloorDiv")
truncatediv = _gen_fn("TruncateDiv")
realdiv = _gen_fn("RealDiv")
mod = _gen_fn("FloorMod", None, "Remainder of floor division (the sign of ``y``, as Python's).")
floormod = mod
truncatemod = _gen_fn("TruncateMod")
pow = _gen_fn("Pow", "Pow", "``x ** y`` elementwise.")  # noqa: A001 - TF's public name
maximum = _gen_fn("Maximum")
minimum = _gen_fn("Minimum")
squared_difference = _gen_fn("SquaredDifference")
atan2 = _gen_fn("Atan2")
xdivy = _gen_fn("Xdivy")
xlogy = _gen_fn("Xlogy")
bitwise_and = _gen_fn("BitwiseAnd")
bitwise_or = _gen_fn("BitwiseOr")
bitwise_xor = _gen_fn("BitwiseXor")
less = _gen_fn("Less")
less_equal = _gen_fn("LessEqual")
greater = _gen_fn("Greater")
greater_equal = _gen_fn("GreaterEqual")
equal = _gen_fn("Equal")
not_equal = _gen_fn("NotEqual")
logical_and = _gen_fn("LogicalAnd")
logical_or = _gen_fn("LogicalOr")


def logical_xor(x, y, name="LogicalXor"):
    """``(x | y) & ~(x & y)``, built from TF's logical ops as TF does."""
    return _gen_binary(
        "LogicalAnd", logical_or(x, y), logical_not(logical_and(x, y)), name or "LogicalXor"
    )


# int32 / int32 is float64 in TF (Python 3 semantics); bool cannot be divided.
_TRUEDIV = {
    "uint8": dtypes.float32,
    "int8": dtypes.float32,
    "uint16": dtypes.float32,
    "int16": dtypes.float32,
    "uint32": dtypes.float64,
    "int32": dtypes.float64,
    "uint64": dtypes.float64,
    "int64": dtypes.float64,
    "bfloat16": None,
    "float16": None,
    "float32": None,
    "float64": None,
    "complex64": None,
    "complex128": None,
}


def truediv(x, y, name=None):
    """``x / y``; integers are first cast to floating point (int32 -> float64) as in TF."""
    with ops.name_scope(name, "truediv", [x, y]) as scope:
        x = _base.to_tensor(x, name="x")
        y = _hinted(y, x.dtype)
        if x.dtype != y.dtype:
            raise TypeError(
                f"`x` and `y` must have the same dtype, got {x.dtype!r} != {y.dtype!r}."
            )
        if x.dtype.name not in _TRUEDIV:
            allowed = ", ".join(f"tf.{n}" for n in _TRUEDIV)
            raise TypeError(
                f"Invalid dtype {x.dtype!r} in __truediv__. Expected one of {{{allowed}}}."
            )
        target = _TRUEDIV[x.dtype.name]
        if target is not None:
            from .array_ops import cast

            x = cast(x, target)
            y = cast(y, target)
        return _gen_binary("RealDiv", x, y, scope)


def divide(x, y, name=None):
    """``x / y`` (op ``truediv`` unless ``name`` is given)."""
    if name is not None:
        return truediv(x, y, name=name)
    if not _is_tensor_like(x):
        x = _base.to_tensor(x, dtype=y.dtype if _is_tensor_like(y) else None)
    return x / y


def div(x, y, name=None):
    """TF1's ``tf.div``: floor division for integers, true division for floats."""
    with ops.name_scope(name, "div", [x, y]) as scope:
        x = _base.to_tensor(x, name="x")
        try:
            y = _base.to_tensor(y, dtype=x.dtype, name="y")
        except ValueError as e:
            raise ValueError(f"y: {e}") from None
        op_type = "RealDiv" if x.dtype.is_floating or x.dtype.is_complex else "FloorDiv"
        return _gen_binary(op_type, x, y, scope)


def div_no_nan(x, y, name=None):
    """``x / y``, but 0 where ``y`` is 0."""
    with ops.name_scope(name, "div_no_nan", [x, y]) as scope:
        if not _is_tensor_like(x) and _is_tensor_like(y):
            x = _base.to_tensor(x, dtype=ops.convert_to_tensor(y).dtype, name="x")
        x = _base.to_tensor(x, name="x")
        y = _base.to_tensor(y, dtype=x.dtype, name="y")
        return _gen_binary("DivNoNan", x, y, scope)


divide_no_nan = div_no_nan


def scalar_mul(scalar, x, name=None):
    """``scalar * x`` for a 0-D ``scalar`` converted to ``x``'s dtype."""
    scalar = _base.to_tensor(scalar, dtype=x.dtype, name="scalar")
    if scalar.shape.ndims != 0:
        raise ValueError(f"The input scalar must be a 0-D value. Received shape {scalar.shape}.")
    return _gen_binary("Mul", scalar, x, name)


# -- unary functions ---------------------------------------------------------------------------
def _unary_fn(op_type, doc=None):
    def fn(x, name=None):
        return _unary(op_type, x, name)

    fn.__name__ = op_type
    fn.__doc__ = doc or f"Elementwise ``{op_type}``."
    return fn


negative = _unary_fn("Neg")
neg = negative
square = _unary_fn("Square")
sqrt = _unary_fn("Sqrt")
rsqrt = _unary_fn("Rsqrt", "``1 / sqrt(x)`` elementwise.")
exp = _unary_fn("Exp")
expm1 = _unary_fn("Expm1")
log = _unary_fn("Log")
log1p = _unary_fn("Log1p", "``log(1 + x)`` elementwise, accurate for small ``x``.")
sign = _unary_fn("Sign", "-1, 0 or 1 by the sign of ``x``.")
floor = _unary_fn("Floor")
ceil = _unary_fn("Ceil")
rint = _unary_fn("Rint")
reciprocal = _unary_fn("Reciprocal")
sigmoid = _unary_fn("Sigmoid")
tanh = _unary_fn("Tanh")
sin = _unary_fn("Sin")
cos = _unary_fn("Cos")
tan = _unary_fn("Tan")
asin = _unary_fn("Asin")
acos = _unary_fn("Acos")
atan = _unary_fn("Atan")
sinh = _unary_fn("Sinh")
cosh = _unary_fn("Cosh")
asinh = _unary_fn("Asinh")
acosh = _unary_fn("Acosh")
atanh = _unary_fn("Atanh")
erf = _unary_fn("Erf")
erfc = _unary_fn("Erfc")
lgamma = _unary_fn("Lgamma")
digamma = _unary_fn("Digamma")
is_nan = _unary_fn("IsNan")
is_inf = _unary_fn("IsInf")
is_finite = _unary_fn("IsFinite")
logical_not = _unary_fn("LogicalNot")
invert = _unary_fn("Invert", "Bitwise NOT of an integer tensor.")
zeros_like_op = _unary_fn("ZerosLike")


def abs(x, name=None):  # noqa: A001 - TF's public name
    """``|x|`` elementwise."""
    with ops.name_scope(name, "Abs", [x]) as scope:
        x = _base.to_tensor(x, name="x")
        return _unary("Abs", x, scope)


def round(x, name=None):  # noqa: A001 - TF's public name
    """Rounds half to even, as TF does; integer tensors are returned unchanged."""
    x = _base.to_tensor(x, name="x")
    if x.dtype.is_integer:
        return x
    return _unary("Round", x, name)


# -- AddN, accumulate_n -------------------------------------------------------------------------
def _add_n_infer(op):
    shape = None
    try:
        for i, t in enumerate(op._inputs):
            shape = _base.dims(t) if i == 0 else merge_dims(shape, _base.dims(t))
    except ValueError as e:
        raise node_error(op, f"{e}\n\tFrom merging shape 0 with other shapes.") from None
    return [(op._inputs[0].dtype, shape)]


def _add_n_lower(op):
    dt = op._outputs[0].dtype.as_numpy_dtype
    variant = op._outputs[0].dtype is dtypes.variant

    def fn(*xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        if variant:
            return out  # TensorLists (gradients of lists) add elementwise
        return jnp.asarray(out).astype(dt)

    return fn


_base.register_simple("AddN", _add_n_infer, _add_n_lower)
allow("AddN", NUMBER + " variant")


def add_n(inputs, name=None):
    """Adds all ``inputs`` (tensors of one dtype and shape) elementwise."""
    if not inputs or not isinstance(inputs, (list, tuple)):
        raise ValueError(
            "Inputs must be an iterable of at least one Tensor/IndexedSlices with the same dtype "
            "and shape."
        )
    inputs = [ops.convert_to_tensor(v) for v in inputs]
    if len(inputs) == 1:
        if name:
            from .array_ops import identity

            return identity(inputs[0], name=name)
        return inputs[0]
    with ops.name_scope(name or "AddN") as scope:
        if len({t.dtype for t in inputs}) > 1:
            raise TypeError(
                "Tensors in list passed to 'inputs' of 'AddN' Op have types "
                f"[{', '.join(t.dtype.name for t in inputs)}] that don't all match."
            )
        check_dtype("AddN", "inputs", inputs[0].dtype)
        return _base.output("AddN", inputs, {"N": len(inputs), "T": inputs[0].dtype}, name=scope)


def accumulate_n(inputs, shape=None, tensor_dtype=None, name=None):
    """Like ``add_n`` (TF computes it as ``add_n`` too)."""
    error = ValueError("inputs must be a list of at least one Tensor with the same dtype and shape")
    if not inputs or not isinstance(inputs, (list, tuple)):
        raise error
    inputs = [ops.convert_to_tensor(v) for v in inputs]
    if not all(t.dtype == inputs[0].dtype for t in inputs):
        raise error
    from tfstyle.framework import tensor_shape

    merged = tensor_shape.as_shape(shape) if shape is not None else tensor_shape.unknown_shape()
    for t in inputs:
        merged = merged.merge_with(t.shape)
    if tensor_dtype is not None and dtypes.as_dtype(tensor_dtype) != inputs[0].dtype:
        raise TypeError(
            f"tensor_dtype is {tensor_dtype}, but input is of type {inputs[0].dtype.name}"
        )
    return add_n(inputs, name=name)


# -- clip_by_value -------------------------------------------------------------------------------
def clip_by_value(t, clip_value_min, clip_value_max, name=None):
    """Clips ``t`` to ``[clip_value_min, clip_value_max]``; the bounds may not broaden ``t``."""
    with ops.name_scope(name, "clip_by_value", [t, clip_value_min, clip_value_max]) as scope:
        values = _base.to_tensor(t, name="t")
        t_min = minimum(values, clip_value_max)
        values.shape.assert_is_compatible_with(t_min.shape)
        t_max = maximum(t_min, clip_value_min, name=scope)
        values.shape.assert_is_compatible_with(t_max.shape)
        return t_max


# -- Select, SelectV2, Where ----------------------------------------------------------------------
def _select_infer(op):
    c, t, e = (_base.dims(x) for x in op._inputs)
    try:
        data = merge_dims(t, e)
        if c is None or data is None or len(c) == 0:
            pass
        elif len(c) != 1 or len(data) == 0:
            data = merge_dims(data, c)
        else:
            merge_dims(c, (data[0],))
    except ValueError as err:
        raise node_error(op, str(err)) from None
    return [(op._inputs[1].dtype, data)]


def _select_lower(op):
    def fn(c, t, e):
        from tfstyle.compiler.lowering import HostValue

        if any(isinstance(v, HostValue) for v in (c, t, e)):
            # Strings (the sharded Saver's file name suffix) are selected on the host.
            hosts = [
                v if isinstance(v, HostValue) else HostValue(lambda a: a, v) for v in (c, t, e)
            ]
            return HostValue.combine(lambda *vals: fn(*vals), *hosts)
        if isinstance(t, np.ndarray) and t.dtype == object:
            c = np.asarray(c)
            if c.ndim == 1 and t.ndim > 1:
                c = c.reshape(c.shape + (1,) * (t.ndim - 1))
            return np.where(c, t, e)
        c = jnp.asarray(c)
        if c.ndim == 1 and jnp.ndim(t) > 1:
            c = c.reshape(c.shape + (1,) * (jnp.ndim(t) - 1))
        return jnp.where(c, t, e)

    return fn


def _select_v2_infer(op):
    c, t, e = op._inputs
    try:
        shape = _base.broadcast_dims(_base.dims(t), _base.dims(e))
        shape = _base.broadcast_dims(_base.dims(c), shape)
    except ValueError as err:
        raise node_error(op, str(err).split(" for shapes")[0]) from None
    return [(t.dtype, shape)]


_base.register_simple("Select", _select_infer, _select_lower)
_base.register_simple("SelectV2", _select_v2_infer, lambda op: jnp.where)


def _where_infer(op):
    d = _base.dims(op._inputs[0])
    return [(dtypes.int64, (None, None if d is None else len(d)))]


def _where_lower(op):
    def fn(c):
        if isinstance(c, np.ndarray):  # known when the graph is compiled: an ordinary array
            return np.argwhere(c).astype(np.int64)
        from tfstyle.compiler.lowering import HostValue

        # The number of rows depends on the values, which XLA cannot express: the coordinates
        # are computed on the host, so the result can be fetched but not computed on further.
        return HostValue(lambda v: np.argwhere(v).astype(np.int64), c)

    return fn


_base.register_simple("Where", _where_infer, _where_lower)
allow("Where", NUMBER + " bool")


def _where_coords(condition, name):
    with ops.name_scope(name, "Where", [condition]) as scope:
        c = _base.to_tensor(condition, preferred_dtype=dtypes.bool, name="condition")
        check_dtype("Where", "input", c.dtype)
        return _base.output("Where", [c], {"T": c.dtype}, name=scope)


def _select(op_type, condition, x, y, name):
    with ops.name_scope(name or op_type) as scope:
        c = match_input(condition, dtypes.bool, "condition", op_type)
        t, e = gen_inputs(op_type, [x, y], ("t", "e"))
        return _base.output(op_type, [c, t, e], {"T": t.dtype}, name=scope)


def where(condition, x=None, y=None, name=None):
    """TF1's ``where``: the int64 coordinates of true elements (``x``, ``y`` omitted), or
    elements from ``x`` or ``y`` by ``condition``, which has their shape, or is a vector along
    their first dimension, or is a scalar."""
    if x is None and y is None:
        return _where_coords(condition, name)
    if x is not None and y is not None:
        return _select("Select", condition, x, y, name)
    raise ValueError("x and y must both be non-None or both be None.")


def where_v2(condition, x=None, y=None, name=None):
    """``where`` with NumPy broadcasting of ``condition``, ``x`` and ``y``."""
    if x is None and y is None:
        return _where_coords(condition, name)
    if x is not None and y is not None:
        return _select("SelectV2", condition, x, y, name)
    raise ValueError("x and y must both be non-None or both be None.")


# -- Cumsum, Cumprod ----------------------------------------------------------------------------
# op type -> (scan, the first value of an exclusive scan); special_math_ops registers
# CumulativeLogsumexp with this lowering too.
_CUM_SCANS = {
    "Cumsum": (jax.lax.cumsum, 0),
    "Cumprod": (jax.lax.cumprod, 1),
    "CumulativeLogsumexp": (jax.lax.cumlogsumexp, -jnp.inf),
}


def _cum_lower(op):
    exclusive = op._attrs["exclusive"]
    reverse = op._attrs["reverse"]
    scan, identity = _CUM_SCANS[op.type]

    def fn(x, axis):
        x = jnp.asarray(x)
        a = int(_base.static_ints(axis, "the cumulative axis"))
        if not -x.ndim <= a < x.ndim:
            raise ValueError(f"axis must be in range [-{x.ndim}, {x.ndim}), but got {a}") from None
        a %= x.ndim
        out = scan(x, axis=a, reverse=reverse)
        if exclusive and x.shape[a]:
            n = x.shape[a]
            pad = jnp.full_like(jax.lax.slice_in_dim(x, 0, 1, axis=a), identity)
            if reverse:
                out = jnp.concatenate([jax.lax.slice_in_dim(out, 1, n, axis=a), pad], axis=a)
            else:
                out = jnp.concatenate([pad, jax.lax.slice_in_dim(out, 0, n - 1, axis=a)], axis=a)
        return out

    return fn


for _name in ("Cumsum", "Cumprod"):
    _base.register_simple(_name, _base.same_as_input, _cum_lower)
    allow(_name, NUMBER)


def _cumulative(op_type, x, axis, exclusive, reverse, name):
    with ops.name_scope(name, op_type, [x]) as scope:
        x = _base.to_tensor(x, name="x")
        check_dtype(op_type, "x", x.dtype)
        axis = _base.to_tensor(axis, name="axis")
        return _base.output(
            op_type,
            [x, axis],
            {"T": x.dtype, "Tidx": axis.dtype, "exclusive": exclusive, "reverse": reverse},
            name=scope,
        )


def cumsum(x, axis=0, exclusive=False, reverse=False, name=None):
    """Cumulative sum along ``axis`` (``exclusive`` leaves out the current element)."""
    return _cumulative("Cumsum", x, axis, exclusive, reverse, name)


def cumprod(x, axis=0, exclusive=False, reverse=False, name=None):
    """Cumulative product along ``axis``."""
    return _cumulative("Cumprod", x, axis, exclusive, reverse, name)


# -- Python operators on tensors -------------------------------------------------------------
def _forward_operator(default_name, build):
    """``x <op> y`` for a tensor ``x``: in a name scope ``default_name`` (``add``, ``mul``)."""

    def forward(x, y):
        with ops.name_scope(None, default_name, [x, y]) as scope:
            x = ops.convert_to_tensor(x)  # an imported ref variable's ``w:0`` reads it
            return build(x, y, scope)

    def reverse(y, x):
        with ops.name_scope(None, default_name, [x, y]) as scope:
            y = ops.convert_to_tensor(y)
            x = _base.to_tensor(x, dtype=y.dtype, name="x")
            return build(x, y, scope)

    return forward, reverse


def _add_op(x, y, scope):
    return _gen_binary("AddV2", x, _hinted(y, x.dtype), scope)


def _bool_or_bitwise(logical, bitwise):
    def build(x, y, scope):
        if ops.convert_to_tensor(x).dtype == dtypes.bool:
            return _gen_binary(logical, x, y, scope)
        return _gen_binary(bitwise, x, y, None)

    return build


def _xor(x, y, scope):
    if ops.convert_to_tensor(x).dtype == dtypes.bool:
        return logical_xor(x, y, name=scope)
    return _gen_binary("BitwiseXor", x, y, None)


def _invert_operator(x):
    if x.dtype == dtypes.bool:
        return _unary("LogicalNot", x, None)
    return _unary("Invert", x, None)


def _install_operators():
    table = {
        "add": _add_op,
        "sub": lambda x, y, s: _gen_binary("Sub", x, y, s),
        "mul": lambda x, y, s: _gen_binary("Mul", x, y, s),
        "truediv": lambda x, y, s: truediv(x, y, name=s),
        "floordiv": lambda x, y, s: _gen_binary("FloorDiv", x, y, s),
        "mod": lambda x, y, s: _gen_binary("FloorMod", x, y, s),
        "pow": lambda x, y, s: _gen_binary("Pow", x, y, s),
        "and": _bool_or_bitwise("LogicalAnd", "BitwiseAnd"),
        "or": _bool_or_bitwise("LogicalOr", "BitwiseOr"),
        "xor": _xor,
    }
    for py, build in table.items():
        fwd, rev = _forward_operator(py, build)
        setattr(Tensor, f"__{py}__", fwd)
        setattr(Tensor, f"__r{py}__", rev)
    Tensor.__div__ = Tensor.__truediv__
    Tensor.__rdiv__ = Tensor.__rtruediv__
    Tensor.__neg__ = lambda x: _unary("Neg", x, None)
    Tensor.__abs__ = lambda x: abs(x)
    Tensor.__invert__ = _invert_operator
    Tensor.__lt__ = lambda x, y: _gen_binary("Less", x, y, None)
    Tensor.__le__ = lambda x, y: _gen_binary("LessEqual", x, y, None)
    Tensor.__gt__ = lambda x, y: _gen_binary("Greater", x, y, None)
    Tensor.__ge__ = lambda x, y: _gen_binary("GreaterEqual", x, y, None)

    def matmul_op(x, y):
        from .linalg_ops import matmul

        with ops.name_scope(None, "matmul", [x, y]) as scope:
            return matmul(x, y, name=scope)

    def rmatmul_op(y, x):
        from .linalg_ops import matmul

        with ops.name_scope(None, "matmul", [x, y]) as scope:
            y = ops.convert_to_tensor(y)
            x = _base.to_tensor(x, dtype=y.dtype, name="x")
            return matmul(x, y, name=scope)

    Tensor.__matmul__ = matmul_op
    Tensor.__rmatmul__ = rmatmul_op


_install_operators()

# NumPy for the elementwise ops of shape arithmetic (constant folding, values known while
# tracing).
for _name, _fn in (("AddV2", np.add), ("Sub", np.subtract), ("Mul", np.multiply)):

    @_base.host_evaluator(_name)
    def _host(op, a, b, f=_fn):
        return np.asarray(f(a, b)).astype(np.result_type(a))


def _host_floor(f):
    def host(op, a, b):
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype.kind in "iu" and not b.all():
            raise ValueError("Integer division by zero")  # TF's kernel rejects it
        return np.asarray(f(a, b)).astype(a.dtype, copy=False)

    return host


# Integer index arithmetic (a partitioned lookup's partitions and rows), computed on the host
# for the checks of fed ids (compiler/fed_checks.py) as for values known while tracing.
_base.host_evaluator("FloorMod")(_host_floor(np.mod))
_base.host_evaluator("FloorDiv")(_host_floor(np.floor_divide))
for _name, _fn in (("Maximum", np.maximum), ("Minimum", np.minimum)):

    @_base.host_evaluator(_name)
    def _host_extreme(op, a, b, f=_fn):
        return np.asarray(f(a, b)).astype(np.result_type(a))


@_base.host_evaluator("Less")
def _host_less(op, a, b):
    return np.less(a, b)


@_base.host_evaluator("Greater")
def _host_greater(op, a, b):
    return np.greater(a, b)


@_base.host_evaluator("Select")
def _host_select(op, c, t, e):
    c = np.asarray(c)
    if c.ndim == 1 and np.ndim(t) > 1:  # a vector condition picks rows
        c = c.reshape(c.shape + (1,) * (np.ndim(t) - 1))
    return np.where(c, t, e)
