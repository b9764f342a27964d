"""Array ops: placeholders, identity, casts, shapes and reshaping, filling."""

import jax.numpy as jnp
import numpy as np

from tfstyle.framework import dtypes, ops
from tfstyle.framework import tensor_shape as _shape

from . import _base
from .constant_op import constant

# -- Placeholder -----------------------------------------------------------------------------


def _placeholder_lower(op):
    def fn():
        # Only reached when a placeholder is needed but not fed (fed tensors are never lowered).
        from tfstyle.framework import errors

        shape = op._attrs["shape"]
        shape_str = (
            "<unknown>"
            if shape.ndims is None
            else "[" + ",".join("?" if d is None else str(d) for d in shape.as_list()) + "]"
        )
        dt = op._attrs["dtype"]
        dt_name = "float" if dt is dtypes.float32 else dt.name
        raise errors.InvalidArgumentError(
            None,
            op,
            f"You must feed a value for placeholder tensor '{op.name}' with dtype {dt_name} "
            f"and shape {shape_str}\n\t [[{{{{node {op.name}}}}}]]",
        )

    return fn


_base.register_simple(
    "Placeholder", lambda op: [(op._attrs["dtype"], op._attrs["shape"])], _placeholder_lower
)


def placeholder(dtype, shape=None, name=None):
    """A tensor that must be fed in ``Session.run``; ``shape=None`` accepts any shape."""
    dtype = dtypes.as_dtype(dtype)
    shape = _shape.as_shape(shape)
    return _base.output(
        "Placeholder",
        [],
        {"dtype": dtype, "shape": shape},
        name=name or "Placeholder",
        graph=ops.get_default_graph(),
    )


_base.register_simple(
    "PlaceholderWithDefault",
    lambda op: [(op._inputs[0].dtype, op._attrs["shape"])],
    lambda op: lambda x: x,
)


def placeholder_with_default(input, shape, name=None):  # noqa: A002 - TF's argument name
    """A placeholder that takes the value of ``input`` when not fed."""
    with ops.name_scope(name, "PlaceholderWithDefault", [input]) as scope:
        x = _base.to_tensor(input, name="input")
        shape = _shape.as_shape(shape)
        if not x.shape.is_compatible_with(shape):
            raise ValueError(
                f"Shapes must be compatible: the default {x.shape} and the shape {shape}"
            )
        return _base.output(
            "PlaceholderWithDefault", [x], {"dtype": x.dtype, "shape": shape}, name=scope
        )


# -- Identity, NoOp ---------------------------------------------------------------------------
_base.register_simple("Identity", _base.same_as_input, lambda op: lambda x: x)
_base.register_simple("StopGradient", _base.same_as_input, lambda op: lambda x: _stop(x))
_base.register_simple("NoOp", lambda op: [], lambda op: lambda: None)


def _stop(x):
    import jax

    return jax.lax.stop_gradient(x)


@_base.constant_folder("Identity")
def _fold_identity(t):
    return _base.constant_value(t.op.inputs[0])


def identity(input, name=None):  # noqa: A002
    """Returns a tensor with the same value; reading a variable gives its current value."""
    with ops.name_scope(name, "Identity", [input]) as scope:
        x = _base.to_tensor(input, name="input")
        return _base.output("Identity", [x], {"T": x.dtype}, name=scope)


def stop_gradient(input, name=None):  # noqa: A002
    with ops.name_scope(name, "StopGradient", [input]) as scope:
        x = _base.to_tensor(input, name="input")
        return _base.output("StopGradient", [x], {"T": x.dtype}, name=scope)


def no_op(name=None):
    return _base.make_op("NoOp", [], {}, name=name or "NoOp", graph=ops.get_default_graph())


# -- Cast ------------------------------------------------------------------------------------
def _cast_lower(op):
    dt = op._attrs["DstT"].as_numpy_dtype

    def fn(x):
        if jnp.issubdtype(jnp.result_type(x), jnp.complexfloating) and not np.issubdtype(
            dt, np.complexfloating
        ):
            x = jnp.real(x)
        return jnp.asarray(x).astype(dt)

    return fn


_base.register_simple("Cast", lambda op: [(op._attrs["DstT"], op._inputs[0]._shape)], _cast_lower)


@_base.constant_folder("Cast")
def _fold_cast(t):
    v = _base.constant_value(t.op.inputs[0])
    return None if v is None else np.asarray(v).astype(t.dtype.as_numpy_dtype)


def cast(x, dtype, name=None):
    """Casts ``x`` to ``dtype`` (a no-op returning ``x`` when the dtype already matches)."""
    dtype = dtypes.as_dtype(dtype)
    with ops.name_scope(name, "Cast", [x]) as scope:
        x = _base.to_tensor(x, name="x")
        if x.dtype == dtype:
            return x
        return _base.output(
            "Cast", [x], {"SrcT": x.dtype, "DstT": dtype, "Truncate": False}, name=scope
        )


def to_float(x, name="ToFloat"):
    return cast(x, dtypes.float32, name=name)


def to_int32(x, name="ToInt32"):
    return cast(x, dtypes.int32, name=name)


def to_int64(x, name="ToInt64"):
    return cast(x, dtypes.int64, name=name)


def to_double(x, name="ToDouble"):
    return cast(x, dtypes.float64, name=name)


def saturate_cast(value, dtype, name=None):
    dtype = dtypes.as_dtype(dtype)
    with ops.name_scope(name, "saturate_cast", [value]) as scope:
        from .math_ops import maximum, minimum

        value = _base.to_tensor(value, name="value")
        if value.dtype.is_floating and dtype.is_integer or value.dtype.min < dtype.min:
            value = maximum(value, cast(constant(dtype.min), value.dtype))
        if value.dtype.is_floating and dtype.is_integer or value.dtype.max > dtype.max:
            value = minimum(value, cast(constant(dtype.max), value.dtype))
        return cast(value, dtype, name=scope)


# -- Shape, Size, Rank -------------------------------------------------------------------------
def _shape_infer(op):
    x = _base.dims(op._inputs[0])
    return [(op._attrs["out_type"], (None if x is None else len(x),))]


_base.register_simple(
    "Shape",
    _shape_infer,
    lambda op: lambda x: np.asarray(np.shape(x), dtype=op._attrs["out_type"].as_numpy_dtype),
)


@_base.constant_folder("Shape")
def _fold_shape(t):
    x = t.op.inputs[0]
    if not x.shape.is_fully_defined():
        return None
    return np.asarray(x.shape.as_list(), dtype=t.dtype.as_numpy_dtype)


def shape(input, name=None, out_type=dtypes.int32):  # noqa: A002
    """The dynamic shape of ``input`` as a 1-D int32 (or ``out_type``) tensor."""
    with ops.name_scope(name, "Shape", [input]) as scope:
        x = _base.to_tensor(input, name="input")
        return _base.output(
            "Shape", [x], {"T": x.dtype, "out_type": dtypes.as_dtype(out_type)}, name=scope
        )


_base.register_simple(
    "Size",
    lambda op: [(op._attrs["out_type"], ())],
    lambda op: lambda x: np.asarray(np.size(x), dtype=op._attrs["out_type"].as_numpy_dtype),
)
_base.register_simple(
    "Rank",
    lambda op: [(dtypes.int32, ())],
    lambda op: lambda x: np.asarray(np.ndim(x), dtype=np.int32),
)


@_base.constant_folder("Size")
def _fold_size(t):
    n = t.op.inputs[0].shape.num_elements()
    return None if n is None else np.asarray(n, dtype=t.dtype.as_numpy_dtype)


@_base.constant_folder("Rank")
def _fold_rank(t):
    n = t.op.inputs[0].shape.ndims
    return None if n is None else np.asarray(n, dtype=np.int32)


def size(input, name=None, out_type=dtypes.int32):  # noqa: A002
    with ops.name_scope(name, "Size", [input]) as scope:
        x = _base.to_tensor(input, name="input")
        return _base.output(
            "Size", [x], {"T": x.dtype, "out_type": dtypes.as_dtype(out_type)}, name=scope
        )


def rank(input, name=None):  # noqa: A002
    with ops.name_scope(name, "Rank", [input]) as scope:
        x = _base.to_tensor(input, name="input")
        return _base.output("Rank", [x], {"T": x.dtype}, name=scope)


# -- Reshape -----------------------------------------------------------------------------------
def _reshape_infer(op):
    x, s = op._inputs
    target = _base.constant_shape(s)
    if target is None:
        return [(x.dtype, None)]
    xs = _base.dims(x)
    unknown = [i for i, d in enumerate(target) if d is None]
    v = _base.constant_value(s)
    if xs is not None and None not in xs and len(unknown) == 1 and v is not None:
        known = int(np.prod([d for d in target if d is not None]))
        total = int(np.prod(xs))
        if known == 0 or total % known:
            raise ValueError(
                f"Cannot reshape a tensor with {total} elements to shape "
                f"{[int(d) for d in np.reshape(v, [-1])]} ({known} elements) for "
                f"'{{{{node {op.name}}}}} = Reshape[T=DT_{x.dtype.name.upper()}, "
                f"Tshape=DT_INT32]({x.op.name}, {s.op.name})' with input shapes: "
                f"{list(xs)}, [{len(target)}] and with input tensors computed as partial "
                f"shapes: input[1] = [{','.join('?' if d is None else str(d) for d in target)}]."
            )
        target = tuple(total // known if d is None else d for d in target)
    elif xs is not None and None not in xs and not unknown:
        if int(np.prod(xs)) != int(np.prod(target)):
            raise ValueError(
                f"Cannot reshape a tensor with {int(np.prod(xs))} elements to shape "
                f"{list(target)} ({int(np.prod(target))} elements) for '{{{{node {op.name}}}}} "
                f"= Reshape[T=DT_{x.dtype.name.upper()}, Tshape=DT_INT32]({x.op.name}, "
                f"{s.op.name})' with input shapes: {list(xs)}, [{len(target)}] and with input "
                f"tensors computed as partial shapes: input[1] = "
                f"[{','.join(str(d) for d in target)}]."
            )
    return [(x.dtype, target)]


def _reshape_lower(op):
    def fn(x, s):
        return jnp.reshape(x, tuple(int(d) for d in _base.static_ints(s, "a reshape's shape")))

    return fn


_base.register_simple("Reshape", _reshape_infer, _reshape_lower)


@_base.constant_folder("Reshape")
def _fold_reshape(t):
    v = _base.constant_value(t.op.inputs[0])
    s = _base.constant_value(t.op.inputs[1])
    return None if v is None or s is None else np.reshape(v, s)


def reshape(tensor, shape, name=None):
    """Reshapes ``tensor``; one ``-1`` in ``shape`` is inferred."""
    with ops.name_scope(name, "Reshape", [tensor, shape]) as scope:
        x = _base.to_tensor(tensor, name="tensor")
        s = (
            _base.to_tensor(shape, dtype=dtypes.int32, name="shape")
            if not isinstance(shape, ops.Tensor)
            else shape
        )
        return _base.output("Reshape", [x, s], {"T": x.dtype, "Tshape": s.dtype}, name=scope)


# -- Fill, zeros, ones ---------------------------------------------------------------------------
def _fill_infer(op):
    dims_t, value = op._inputs
    return [(value.dtype, _base.constant_shape(dims_t))]


def _fill_lower(op):
    def fn(d, v):
        return jnp.full(tuple(int(x) for x in _base.static_ints(d, "fill's dims")), v)

    return fn


_base.register_simple("Fill", _fill_infer, _fill_lower)


@_base.constant_folder("Fill")
def _fold_fill(t):
    d = _base.constant_value(t.op.inputs[0])
    v = _base.constant_value(t.op.inputs[1])
    return None if d is None or v is None else np.full(d, v)


def fill(dims, value, name=None):
    with ops.name_scope(name, "Fill", [dims, value]) as scope:
        d = (
            _base.to_tensor(dims, dtype=dtypes.int32, name="dims")
            if not isinstance(dims, ops.Tensor)
            else dims
        )
        v = _base.to_tensor(value, name="value")
        return _base.output("Fill", [d, v], {"T": v.dtype, "index_type": d.dtype}, name=scope)


def _filled(shape, dtype, value, name, default):
    dtype = dtypes.as_dtype(dtype)
    with ops.name_scope(name, default, [shape]) as scope:
        if isinstance(shape, ops.Tensor):
            return fill(shape, constant(value, dtype=dtype), name=scope)
        static = _shape.as_shape(shape)
        if static.is_fully_defined() and static.num_elements() < 1000:
            return constant(value, dtype=dtype, shape=static.as_list(), name=scope)
        return fill(
            constant(static.as_list(), dtype=dtypes.int32, name="shape"),
            constant(value, dtype=dtype, name="Const"),
            name=scope,
        )


def zeros(shape, dtype=dtypes.float32, name=None):
    return _filled(shape, dtype, 0, name, "zeros")


def ones(shape, dtype=dtypes.float32, name=None):
    return _filled(shape, dtype, 1, name, "ones")


def zeros_like(tensor, dtype=None, name=None, optimize=True):
    with ops.name_scope(name, "zeros_like", [tensor]) as scope:
        x = _base.to_tensor(tensor, name="tensor")
        dt = dtypes.as_dtype(dtype) if dtype is not None else x.dtype
        if optimize and x.shape.is_fully_defined():
            return zeros(x.shape.as_list(), dt, name=scope)
        if dt != x.dtype:
            return zeros(shape(x), dt, name=scope)
        return _base.output("ZerosLike", [x], {"T": x.dtype}, name=scope)


def ones_like(tensor, dtype=None, name=None, optimize=True):
    with ops.name_scope(name, "ones_like", [tensor]) as scope:
        x = _base.to_tensor(tensor, name="tensor")
        dt = dtypes.as_dtype(dtype) if dtype is not None else x.dtype
        if optimize and x.shape.is_fully_defined():
            return ones(x.shape.as_list(), dt, name=scope)
        return ones(shape(x), dt, name=scope)
