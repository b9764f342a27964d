"""Elementwise math: unary and binary ops, comparisons, logical ops, and the Python operators
on tensors (``x + 1`` is op ``add`` of type ``AddV2``, as in TF)."""

import jax
import jax.numpy as jnp
import numpy as np

from tfstyle.framework import dtypes, ops
from tfstyle.framework.ops import Tensor

from . import _base

# -- unary ops: TF op type -> lowering -------------------------------------------------------
_UNARY = {
    "Neg": jnp.negative,
    "Abs": jnp.abs,
    "Square": jnp.square,
    "Sqrt": jnp.sqrt,
    "Rsqrt": jax.lax.rsqrt,
    "Exp": jnp.exp,
    "Expm1": jnp.expm1,
    "Log": jnp.log,
    "Log1p": jnp.log1p,
    "Sign": jnp.sign,
    "Floor": jnp.floor,
    "Ceil": jnp.ceil,
    "Round": jnp.round,
    "Rint": jnp.rint,
    "Reciprocal": jnp.reciprocal,
    "Sigmoid": jax.nn.sigmoid,
    "Tanh": jnp.tanh,
    "Sin": jnp.sin,
    "Cos": jnp.cos,
    "Tan": jnp.tan,
    "Asin": jnp.arcsin,
    "Acos": jnp.arccos,
    "Atan": jnp.arctan,
    "Sinh": jnp.sinh,
    "Cosh": jnp.cosh,
    "Asinh": jnp.arcsinh,
    "Acosh": jnp.arccosh,
    "Atanh": jnp.arctanh,
    "Erf": jax.scipy.special.erf,
    "Erfc": jax.scipy.special.erfc,
    "Lgamma": jax.scipy.special.gammaln,
    "Digamma": jax.scipy.special.digamma,
    "IsNan": jnp.isnan,
    "IsInf": jnp.isinf,
    "IsFinite": jnp.isfinite,
    "LogicalNot": jnp.logical_not,
    "Invert": jnp.invert,
    "ZerosLike": jnp.zeros_like,
    "OnesLike": jnp.ones_like,
    "Softplus": jax.nn.softplus,
    "Softsign": jax.nn.soft_sign,
    "Relu": jax.nn.relu,
    "Relu6": jax.nn.relu6,
    "Elu": jax.nn.elu,
    "Selu": jax.nn.selu,
}
_BOOL_UNARY = {"IsNan", "IsInf", "IsFinite"}

# -- binary ops (broadcasting) ---------------------------------------------------------------


def _floordiv(x, y):
    if jnp.issubdtype(jnp.result_type(x), jnp.floating):
        return jnp.floor(x / y)
    return jnp.floor_divide(x, y)


def _truncdiv(x, y):
    if jnp.issubdtype(jnp.result_type(x), jnp.integer):
        return jax.lax.div(x, y)
    return x / y


def _div_no_nan(x, y):
    safe = jnp.where(y == 0, jnp.ones_like(y), y)
    return jnp.where(y == 0, jnp.zeros_like(x / safe), x / safe)


_BINARY = {
    "Add": jnp.add,
    "AddV2": jnp.add,
    "Sub": jnp.subtract,
    "Mul": jnp.multiply,
    "RealDiv": jnp.true_divide,
    "Div": _truncdiv,
    "FloorDiv": _floordiv,
    "TruncateDiv": _truncdiv,
    "FloorMod": jnp.mod,
    "TruncateMod": jnp.fmod,
    "Pow": jnp.power,
    "Maximum": jnp.maximum,
    "Minimum": jnp.minimum,
    "SquaredDifference": lambda x, y: jnp.square(x - y),
    "DivNoNan": _div_no_nan,
    "Atan2": jnp.arctan2,
    "Xdivy": lambda x, y: jnp.where(x == 0, jnp.zeros_like(x), x / y),
    "Xlogy": jax.scipy.special.xlogy,
    "BitwiseAnd": jnp.bitwise_and,
    "BitwiseOr": jnp.bitwise_or,
    "BitwiseXor": jnp.bitwise_xor,
}
_COMPARE = {
    "Less": jnp.less,
    "LessEqual": jnp.less_equal,
    "Greater": jnp.greater,
    "GreaterEqual": jnp.greater_equal,
    "Equal": jnp.equal,
    "NotEqual": jnp.not_equal,
    "LogicalAnd": jnp.logical_and,
    "LogicalOr": jnp.logical_or,
}


def _cast_like(fn):
    # Keep the input dtype: JAX may promote (e.g. integer power), TF never does.
    def lower(op):
        dt = op._outputs[0].dtype.as_numpy_dtype

        def f(*xs):
            return jnp.asarray(fn(*xs)).astype(dt)

        return f

    return lower


for _name, _fn in _UNARY.items():
    _base.register_simple(
        _name,
        (lambda op: [(dtypes.bool, op._inputs[0]._shape)])
        if _name in _BOOL_UNARY
        else _base.same_as_input,
        _cast_like(_fn),
    )
for _name, _fn in _BINARY.items():
    _base.register_simple(_name, _base.broadcast_rule, _cast_like(_fn))
for _name, _fn in _COMPARE.items():
    _base.register_simple(_name, _base.bool_broadcast_rule, lambda op, f=_fn: f)


# -- constructors ----------------------------------------------------------------------------
def _unary(op_type, x, name, default_name=None):
    with ops.name_scope(name, default_name or op_type, [x]) as scope:
        x = _base.to_tensor(x, name="x")
        return _base.output(op_type, [x], {"T": x.dtype}, name=scope)


def _binary(op_type, x, y, name, default_name=None, check_dtype=True):
    with ops.name_scope(name, default_name or op_type, [x, y]) as scope:
        x, y = _convert_pair(x, y, op_type)
        return _base.output(op_type, [x, y], {"T": x.dtype}, name=scope)


def _convert_pair(x, y, op_type):
    """TF's rule for binary ops: non-tensors adopt the tensor's dtype; tensors must agree."""
    if isinstance(x, Tensor) or not isinstance(y, Tensor):
        x = _base.to_tensor(x, name="x")
        y = _convert_other(y, x.dtype, "y", op_type, "x")
    else:
        y = _base.to_tensor(y, name="y")
        x = _convert_other(x, y.dtype, "x", op_type, "y")
    return x, y


def _convert_other(v, dtype, arg, op_type, other_arg):
    if hasattr(v, "_as_graph_element") or isinstance(v, Tensor):
        t = ops.convert_to_tensor(v)
        if t.dtype != dtype:
            first, second = (t, dtype) if arg == "y" else (t, dtype)
            raise TypeError(
                f"Input '{arg}' of '{op_type}' Op has type {first.dtype.name} that does not "
                f"match type {second.name} of argument '{other_arg}'."
            )
        return t
    return _base.to_tensor(v, dtype=dtype, name=arg)


def add(x, y, name=None):
    return _binary("AddV2", x, y, name, "Add")


def subtract(x, y, name=None):
    return _binary("Sub", x, y, name, "Sub")


def multiply(x, y, name=None):
    return _binary("Mul", x, y, name, "Mul")


def _real_div(x, y, name, default):
    return _binary("RealDiv", x, y, name, default)


def truediv(x, y, name=None):
    """``x / y``; integers are first cast to floating point (int32 -> float64) as in TF."""
    with ops.name_scope(name, "truediv", [x, y]) as scope:
        x, y = _convert_pair(x, y, "RealDiv")
        dt = x.dtype
        if dt.is_integer or dt.is_bool:
            target = dtypes.float32 if dt in (dtypes.int8, dtypes.int16, dtypes.uint8) else None
            target = target or dtypes.float64
            from .array_ops import cast

            x = cast(x, target)
            y = cast(y, target)
        return _base.output("RealDiv", [x, y], {"T": x.dtype}, name=scope)


def divide(x, y, name=None):
    if name is not None:
        return truediv(x, y, name=name)
    return truediv(x, y)


def div(x, y, name=None):
    """TF1's ``tf.div``: floor division for integers, true division for floats."""
    with ops.name_scope(name, "div", [x, y]) as scope:
        x, y = _convert_pair(x, y, "Div")
        op_type = "FloorDiv" if (x.dtype.is_integer or x.dtype.is_bool) else "RealDiv"
        return _base.output(op_type, [x, y], {"T": x.dtype}, name=scope)


def floordiv(x, y, name=None):
    return _binary("FloorDiv", x, y, name, "floordiv")


def floor_div(x, y, name=None):
    return _binary("FloorDiv", x, y, name, "FloorDiv")


def truncatediv(x, y, name=None):
    return _binary("TruncateDiv", x, y, name, "TruncateDiv")


def realdiv(x, y, name=None):
    return _binary("RealDiv", x, y, name, "RealDiv")


def div_no_nan(x, y, name=None):
    return _binary("DivNoNan", x, y, name, "div_no_nan")


def mod(x, y, name=None):
    return _binary("FloorMod", x, y, name, "FloorMod")


floormod = mod


def truncatemod(x, y, name=None):
    return _binary("TruncateMod", x, y, name, "TruncateMod")


def pow(x, y, name=None):  # noqa: A001 - TF's public name
    return _binary("Pow", x, y, name, "Pow")


def maximum(x, y, name=None):
    return _binary("Maximum", x, y, name, "Maximum")


def minimum(x, y, name=None):
    return _binary("Minimum", x, y, name, "Minimum")


def squared_difference(x, y, name=None):
    return _binary("SquaredDifference", x, y, name, "SquaredDifference")


def atan2(y, x, name=None):
    return _binary("Atan2", y, x, name, "Atan2")


def xdivy(x, y, name=None):
    return _binary("Xdivy", x, y, name, "Xdivy")


def xlogy(x, y, name=None):
    return _binary("Xlogy", x, y, name, "Xlogy")


def _compare(op_type):
    def fn(x, y, name=None):
        return _binary(op_type, x, y, name, op_type)

    fn.__name__ = op_type
    return fn


less = _compare("Less")
less_equal = _compare("LessEqual")
greater = _compare("Greater")
greater_equal = _compare("GreaterEqual")
equal = _compare("Equal")
not_equal = _compare("NotEqual")
logical_and = _compare("LogicalAnd")
logical_or = _compare("LogicalOr")


def logical_xor(x, y, name="LogicalXor"):
    with ops.name_scope(name, "LogicalXor", [x, y]):
        return logical_and(logical_or(x, y), logical_not(logical_and(x, y)))


def _unary_fn(op_type, public_default=None):
    def fn(x, name=None):
        return _unary(op_type, x, name, public_default)

    fn.__name__ = op_type
    return fn


negative = _unary_fn("Neg")
neg = negative
square = _unary_fn("Square")
sqrt = _unary_fn("Sqrt")
rsqrt = _unary_fn("Rsqrt")
exp = _unary_fn("Exp")
expm1 = _unary_fn("Expm1")
log = _unary_fn("Log")
log1p = _unary_fn("Log1p")
sign = _unary_fn("Sign")
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
zeros_like_op = _unary_fn("ZerosLike")


def abs(x, name=None):  # noqa: A001 - TF's public name
    return _unary("Abs", x, name)


def round(x, name=None):  # noqa: A001 - TF's public name
    """Rounds half to even, as TF does."""
    x = _base.to_tensor(x)
    if x.dtype.is_integer:
        return x
    return _unary("Round", x, name)


def _r(fn):
    return lambda y, x: fn(x, y)


# -- Python operators on tensors -------------------------------------------------------------
def _binary_operator(op_type, default_name):
    def forward(x, y):
        return _binary(op_type, x, y, None, default_name)

    def reverse(y, x):
        with ops.name_scope(None, default_name, [x, y]) as scope:
            y = _base.to_tensor(y, name="y")
            x = _convert_other(x, y.dtype, "x", op_type, "y")
            return _base.output(op_type, [x, y], {"T": x.dtype}, name=scope)

    return forward, reverse


def _truediv_operator(x, y):
    return truediv(x, y)


def _rtruediv_operator(y, x):
    with ops.name_scope(None, "truediv", [x, y]) as scope:
        y = _base.to_tensor(y, name="y")
        x = _convert_other(x, y.dtype, "x", "RealDiv", "y")
        return truediv(x, y, name=scope)


def _install_operators():
    table = {
        "add": ("AddV2", "add"),
        "sub": ("Sub", "sub"),
        "mul": ("Mul", "mul"),
        "floordiv": ("FloorDiv", "floordiv"),
        "mod": ("FloorMod", "mod"),
        "pow": ("Pow", "pow"),
        "and": ("LogicalAnd", "and"),
        "or": ("LogicalOr", "or"),
    }
    for py, (op_type, default) in table.items():
        fwd, rev = _binary_operator(op_type, default)
        setattr(Tensor, f"__{py}__", fwd)
        setattr(Tensor, f"__r{py}__", rev)
    Tensor.__truediv__ = _truediv_operator
    Tensor.__rtruediv__ = _rtruediv_operator
    Tensor.__div__ = _truediv_operator
    Tensor.__neg__ = lambda x: _unary("Neg", x, None)
    Tensor.__abs__ = lambda x: _unary("Abs", x, None)
    Tensor.__invert__ = lambda x: _unary("LogicalNot", x, None)
    Tensor.__xor__ = lambda x, y: logical_xor(x, y, name=None)
    Tensor.__lt__ = less
    Tensor.__le__ = less_equal
    Tensor.__gt__ = greater
    Tensor.__ge__ = greater_equal

    def matmul_op(x, y):
        from .linalg_ops import matmul

        return matmul(x, y)

    def rmatmul_op(y, x):
        from .linalg_ops import matmul

        return matmul(x, y)

    Tensor.__matmul__ = matmul_op
    Tensor.__rmatmul__ = rmatmul_op


_install_operators()

# A fast path for tf.constant folding of elementwise ops used in shape arithmetic.
for _name, _fn in (("AddV2", np.add), ("Sub", np.subtract), ("Mul", np.multiply)):

    @_base.constant_folder(_name)
    def _fold(t, f=_fn):
        a = _base.constant_value(t.op.inputs[0])
        b = _base.constant_value(t.op.inputs[1])
        if a is None or b is None:
            return None
        return f(a, b).astype(a.dtype)
