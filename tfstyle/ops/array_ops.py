"""Array ops: placeholders, identity, casts, shapes and reshaping, filling."""

import builtins
import functools

import jax.numpy as jnp
import numpy as np

from tfstyle.framework import dtypes, ops
from tfstyle.framework import registry as _registry
from tfstyle.framework import tensor_shape as _shape

from . import _base
from .constant_op import constant

# ``slice`` and ``range`` below are TF's ops.
_pyslice = builtins.slice
_pyrange = builtins.range


def _outputs(values):
    """The lowering result of an op with a variable number of outputs (one is not a tuple)."""
    values = tuple(values)
    return values[0] if len(values) == 1 else values


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


@_base.host_evaluator("Identity")
def _identity_host(op, x):
    return x


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
        xp = np if isinstance(x, np.ndarray | np.generic) else jnp
        if np.issubdtype(x.dtype, np.complexfloating) and not np.issubdtype(dt, np.complexfloating):
            x = xp.real(x)
        # Known values cast with NumPy: its out-of-range float->int conversion is C's, as TF's.
        return xp.asarray(x).astype(dt)

    return fn


_base.register_simple("Cast", lambda op: [(op._attrs["DstT"], op._inputs[0]._shape)], _cast_lower)


@_base.host_evaluator("Cast")
def _cast_host(op, x):
    return _cast_lower(op)(np.asarray(x))


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


def shape(input, name=None, out_type=dtypes.int32, optimize=True):  # noqa: A002
    """The shape of ``input`` as a 1-D int32 (or ``out_type``) tensor: a constant when the static
    shape is fully known (as TF does), else op ``Shape``."""
    out_type = dtypes.as_dtype(out_type)
    with ops.name_scope(name, "Shape", [input]) as scope:
        x = _base.to_tensor(input)
        if optimize and x.shape.is_fully_defined():
            return constant(x.shape.as_list(), dtype=out_type, name=scope)
        return _base.output("Shape", [x], {"T": x.dtype, "out_type": out_type}, name=scope)


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


def size(input, name=None, out_type=dtypes.int32, optimize=True):  # noqa: A002
    """The number of elements of ``input``: a constant when the static shape is fully known."""
    out_type = dtypes.as_dtype(out_type)
    with ops.name_scope(name, "Size", [input]) as scope:
        x = _base.to_tensor(input)
        if optimize and x.shape.is_fully_defined():
            return constant(x.shape.num_elements(), dtype=out_type, name=scope)
        return _base.output("Size", [x], {"T": x.dtype, "out_type": out_type}, name=scope)


def rank(input, name=None):  # noqa: A002
    """The number of dimensions of ``input``: a constant when the static rank is known."""
    with ops.name_scope(name, "Rank", [input]) as scope:
        x = _base.to_tensor(input)
        if x.shape.ndims is not None:
            return constant(x.shape.ndims, dtype=dtypes.int32, name=scope)
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
    elif xs is not None and not unknown and any(d is not None for d in xs):
        # Part of the input is known: the target's size must be a multiple of it.
        known = int(np.prod([d for d in xs if d is not None]))
        total = int(np.prod(target))
        if known and total % known:
            raise _shape_error(
                op, f"Dimension size must be evenly divisible by {known} but is {total}"
            )
    return [(x.dtype, target)]


def _reshape_lower(op):
    def fn(x, s):
        shape_ = tuple(int(d) for d in _base.static_ints(s, "a reshape's shape"))
        return jnp.reshape(x, shape_)

    return fn


_base.register_simple("Reshape", _reshape_infer, _reshape_lower)


@_base.host_evaluator("Reshape")
def _reshape_host(op, x, s):
    return np.reshape(x, _ints(s, "a reshape's shape"))


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
        dims_ = tuple(int(x) for x in _base.static_ints(d, "fill's dims"))
        if isinstance(v, (np.ndarray, np.generic)):
            # A constant fill (the zeros of initialisers and optimizer slots) stays NumPy: the
            # same values, without an eager XLA compile for each new shape (about 25 ms each).
            return np.full(dims_, v, dtype=v.dtype)
        return jnp.full(dims_, v, dtype=v.dtype)

    return fn


_base.register_simple("Fill", _fill_infer, _fill_lower)


@_base.host_evaluator("Fill")
def _fill_host(op, d, v):
    return _fill_lower(op)(d, np.asarray(v))


def fill(dims, value, name=None):
    with ops.name_scope(name, "Fill", [dims, value]) as scope:
        d = (
            _base.to_tensor(dims, dtype=dtypes.int32, name="dims")
            if not isinstance(dims, ops.Tensor)
            else dims
        )
        v = _base.to_tensor(value, name="value")
        return _base.output("Fill", [d, v], {"T": v.dtype, "index_type": d.dtype}, name=scope)


def _filled(shape_, dtype, value, name, default):
    dtype = dtypes.as_dtype(dtype)
    if dtype == dtypes.bool:
        value = bool(value)
    with ops.name_scope(name, default, [shape_]) as scope:
        if not isinstance(shape_, ops.Tensor):
            if isinstance(shape_, (list, tuple)) and _contains_tensor(shape_):
                shape_ = ops.convert_to_tensor(shape_, dtype=dtypes.int32)
            else:
                static = _shape.as_shape(shape_)
                if isinstance(shape_, (list, tuple, _shape.TensorShape)) and (
                    static.is_fully_defined() and static.num_elements() < 1000
                ):
                    return constant(value, dtype=dtype, shape=static.as_list(), name=scope)
                if not static.is_fully_defined():
                    raise ValueError(
                        f"Cannot convert a partially known TensorShape {static} to a Tensor."
                    )
                shape_ = constant(static.as_list(), dtype=dtypes.int32, name="shape_as_tensor")
        if _base.dims(shape_) == ():
            shape_ = reshape(shape_, [-1])
        return fill(shape_, constant(value, dtype=dtype), name=scope)


def zeros(shape, dtype=dtypes.float32, name=None):
    """A tensor of zeros; ``shape`` is a list, a ``TensorShape`` or a 1-D int tensor."""
    return _filled(shape, dtype, 0, name, "zeros")


def ones(shape, dtype=dtypes.float32, name=None):
    """A tensor of ones; ``shape`` is a list, a ``TensorShape`` or a 1-D int tensor."""
    return _filled(shape, dtype, 1, name, "ones")


def zeros_like(tensor, dtype=None, name=None, optimize=True):
    """Zeros with the shape of ``tensor`` (op ``ZerosLike``, or a constant when the shape is
    fully known)."""
    with ops.name_scope(name, "zeros_like", [tensor]) as scope:
        x = _base.to_tensor(tensor, name="tensor")
        dt = dtypes.as_dtype(dtype) if dtype is not None else x.dtype
        if optimize and x.shape.is_fully_defined():
            return zeros(x.shape.as_list(), dt, name=scope)
        if dt != x.dtype:
            return zeros(shape(x, optimize=optimize), dt, name=scope)
        return _base.output("ZerosLike", [x], {"T": x.dtype}, name=scope)


def ones_like(tensor, dtype=None, name=None, optimize=True):
    """Ones with the shape of ``tensor`` (a ``Fill`` of its shape)."""
    with ops.name_scope(name, "ones_like", [tensor]) as scope:
        x = _base.to_tensor(tensor, name="tensor")
        dt = dtypes.as_dtype(dtype) if dtype is not None else x.dtype
        if optimize and x.shape.is_fully_defined():
            with ops.name_scope(None, "Shape"):
                s = constant(x.shape.as_list(), dtype=dtypes.int32, name="shape_as_tensor")
        else:
            s = shape(x, optimize=optimize)
        result = ones(s, dt, name=scope)
        result.set_shape(x.shape)
        return result


# == Shared helpers for the shape-manipulating ops =============================================
def _ints(value, what):
    """A concrete int tuple from a lowering argument (see ``_base.static_ints``)."""
    return tuple(int(d) for d in np.reshape(_base.static_ints(value, what), [-1]))


def _concrete(value):
    """``value`` as a NumPy array if it is known while tracing (not a JAX tracer), else None."""
    import jax

    if isinstance(value, jax.core.Tracer):
        return None
    return np.asarray(value)


def _static(t):
    """The static value of tensor ``t`` as a NumPy array, or None."""
    return _base.constant_value(t)


def _partial_ints(t):
    """Per-element static values of a 1-D int tensor: a tuple of int/None, None if its length
    is unknown. A ``Pack`` of scalars is known element by element, as in TF's shape functions."""
    v = _static(t)
    if v is not None:
        return tuple(int(d) for d in np.reshape(v, [-1]))
    if t.op.type == "Pack" and all(_base.dims(x) == () for x in t.op.inputs):
        return tuple(None if (c := _static(x)) is None else int(c) for x in t.op.inputs)
    if t.op.type == "Shape":
        return _base.dims(t.op.inputs[0])
    n = _base.dims(t)
    if n is not None and len(n) == 1 and n[0] is not None:
        return (None,) * n[0]
    return None


def _fmt_dims(d):
    if d is None:
        return "?"
    return "[" + ",".join("?" if x is None else str(x) for x in d) + "]"


def _shape_error(op, message):
    """A construction-time ``ValueError`` worded as TF's shape functions word it."""
    attrs = []
    for k in sorted(op._attrs):
        v = op._attrs[k]
        if isinstance(v, dtypes.DType):
            v = "DT_" + ("FLOAT" if v is dtypes.float32 else v.name.upper())
        elif isinstance(v, (list, tuple)):
            v = "[" + ", ".join(str(x) for x in v) + "]"
        attrs.append(f"{k}={v}")
    inputs = ", ".join(t.op.name if t.value_index == 0 else t.name for t in op._inputs)
    shapes = ", ".join(_fmt_dims(_base.dims(t)) for t in op._inputs)
    return ValueError(
        f"{message} for '{{{{node {op.name}}}}} = {op.type}[{', '.join(attrs)}]({inputs})' "
        f"with input shapes: {shapes}."
    )


def _int_tensor(value, name, dtype=dtypes.int32):
    if isinstance(value, ops.Tensor) or hasattr(value, "_as_graph_element"):
        return _base.to_tensor(value)
    return _base.to_tensor(value, dtype=dtype, name=name)


def _canonical_axis(axis, rank, op):
    if rank is None:
        return None
    if not -rank <= axis < rank:
        raise _shape_error(op, f"Expected axis in the range [{-rank}, {rank}), but got {axis}")
    return axis % rank


def _merge_dims(a, b):
    """Merges two static shapes, or None if incompatible."""
    if a is None:
        return b
    if b is None:
        return a
    if len(a) != len(b):
        return None
    out = []
    for x, y in zip(a, b):
        if x is not None and y is not None and x != y:
            return None
        out.append(x if x is not None else y)
    return tuple(out)


def _convert_list(values, name, op_type):
    """Converts a list input as TF's op wrappers do: Python values take the first tensor's dtype;
    tensors of different dtypes are a ``TypeError``."""
    dtype = None
    for v in values:
        if isinstance(v, ops.Tensor) or hasattr(v, "_as_graph_element"):
            # A variable's dtype without converting it: a conversion would add a read.
            dtype = v.dtype.base_dtype if hasattr(v, "dtype") else _base.to_tensor(v).dtype
            break
    out = []
    for i, v in enumerate(values):
        if isinstance(v, ops.Tensor) or hasattr(v, "_as_graph_element"):
            out.append(_base.to_tensor(v))
        else:
            out.append(_base.to_tensor(v, dtype=dtype, name=f"{name}_{i}"))
    kinds = [t.dtype.name for t in out]
    if len(set(kinds)) > 1:
        raise TypeError(
            f"Tensors in list passed to '{name}' of '{op_type}' Op have types "
            f"[{', '.join(kinds)}] that don't all match."
        )
    return out


# == Automatic packing: a list that contains tensors converts to a ``Pack`` ======================
def _contains_tensor(value):
    for v in value:
        if isinstance(v, (list, tuple)):
            if _contains_tensor(v):
                return True
        elif isinstance(v, ops.Tensor) or hasattr(v, "_as_graph_element"):
            return True
    return False


def _first_dtype(value):
    for v in value:
        if isinstance(v, (list, tuple)):
            d = _first_dtype(v)
            if d is not None:
                return d
        elif isinstance(v, ops.Tensor) or hasattr(v, "_as_graph_element"):
            return _base.to_tensor(v).dtype
    return None


def _autopack(value, dtype, name):
    with ops.name_scope(name) as scope:
        elems = []
        for i, v in enumerate(value):
            if isinstance(v, (list, tuple)) and _contains_tensor(v):
                elems.append(_autopack(v, dtype, str(i)))
            elif isinstance(v, ops.Tensor) or hasattr(v, "_as_graph_element"):
                t = _base.to_tensor(v)
                if t.dtype != dtype:
                    raise TypeError(
                        f"Cannot convert a list containing a tensor of dtype {t.dtype.name} to "
                        f"{dtype.name} (Tensor is: {t!r})"
                    )
                elems.append(t)
            else:
                elems.append(constant(v, dtype=dtype, name=str(i)))
        return _pack(elems, 0, scope)


def _list_to_tensor(value, dtype=None, name=None, as_ref=False):
    if not _contains_tensor(value):
        from .constant_op import _convert_value

        return _convert_value(value, dtype=dtype, name=name)
    inferred = _first_dtype(value)
    if dtype is not None and dtypes.as_dtype(dtype) != inferred:
        raise TypeError(
            f"Cannot convert a list containing a tensor of dtype {inferred.name} to "
            f"{dtypes.as_dtype(dtype).name}"
        )
    return _autopack(value, inferred, name or "packed")


ops.register_tensor_conversion_function((list, tuple), _list_to_tensor, priority=99)


# == ExpandDims, Squeeze ==========================================================================
def _expand_dims_infer(op):
    x, d = op._inputs
    xs = _base.dims(x)
    v = _static(d)
    if xs is None or v is None:
        return [(x.dtype, None if xs is None else (None,) * (len(xs) + 1))]
    axis = int(np.reshape(v, [-1])[0])
    n = len(xs)
    if not -n - 1 <= axis <= n:
        raise _shape_error(op, f"dim {axis} not in the interval [{-n - 1}, {n}].")
    axis = axis % (n + 1)
    return [(x.dtype, xs[:axis] + (1,) + xs[axis:])]


def _expand_dims_lower(op):
    def fn(x, d):
        return jnp.expand_dims(x, _ints(d, "expand_dims' axis")[0])

    return fn


_base.register_simple("ExpandDims", _expand_dims_infer, _expand_dims_lower)


@_base.host_evaluator("ExpandDims")
def _expand_dims_host(op, v, d):
    return np.expand_dims(v, int(np.reshape(d, [-1])[0]))


def expand_dims(input, axis=None, name=None, dim=None):  # noqa: A002
    """Inserts a dimension of size 1 at ``axis`` (``dim`` is its deprecated alias)."""
    if axis is not None and dim is not None:
        raise ValueError("Cannot specify both 'dim' and 'axis'.")
    if dim is not None:
        axis = dim
    if axis is None:
        raise ValueError(
            "Must specify an axis argument to tf.expand_dims()\nUse the `axis` argument instead"
        )
    with ops.name_scope(name, "ExpandDims", [input]) as scope:
        x = _base.to_tensor(input, name="input")
        d = _int_tensor(axis, "dim")
        return _base.output("ExpandDims", [x, d], {"T": x.dtype, "Tdim": d.dtype}, name=scope)


def _squeeze_infer(op):
    x = op._inputs[0]
    xs = _base.dims(x)
    axes = op._attrs["squeeze_dims"]
    if xs is None:
        return [(x.dtype, None)]
    n = len(xs)
    if not axes:
        if None in xs:
            return [(x.dtype, None)]
        return [(x.dtype, tuple(d for d in xs if d != 1))]
    keep = []
    wanted = set()
    for a in axes:
        if not -n <= a < n:
            raise _shape_error(
                op, f"Tried to squeeze dim index {a} for tensor with {n} dimensions."
            )
        wanted.add(a % n)
    for i, d in enumerate(xs):
        if i in wanted:
            if d is not None and d != 1:
                raise _shape_error(
                    op, f"Can not squeeze dim[{i}], expected a dimension of 1, got {d}"
                )
        else:
            keep.append(d)
    return [(x.dtype, tuple(keep))]


def _squeeze_lower(op):
    axes = tuple(op._attrs["squeeze_dims"]) or None

    def fn(x):
        return jnp.squeeze(_host_check(x, op), axes)

    return fn


_base.register_simple("Squeeze", _squeeze_infer, _squeeze_lower)


@_base.host_evaluator("Squeeze")
def _squeeze_host(op, x):
    return np.squeeze(x, tuple(op._attrs["squeeze_dims"]) or None)


def squeeze(input, axis=None, name=None, squeeze_dims=None):  # noqa: A002
    """Removes dimensions of size 1 (all of them, or those listed in ``axis``)."""
    if axis is not None and squeeze_dims is not None:
        raise ValueError("Cannot specify both 'squeeze_dims' and 'axis'")
    if squeeze_dims is not None:
        axis = squeeze_dims
    if np.isscalar(axis):
        axis = [axis]
    with ops.name_scope(name, "Squeeze", [input]) as scope:
        x = _base.to_tensor(input, name="input")
        axes = [int(a) for a in (axis or [])]
        return _base.output("Squeeze", [x], {"T": x.dtype, "squeeze_dims": axes}, name=scope)


# == ConcatV2 =====================================================================================
def _concat_infer(op):
    *xs, axis_t = op._inputs
    dt = xs[0].dtype
    shapes = [_base.dims(x) for x in xs]
    known = [s for s in shapes if s is not None]
    rank = len(known[0]) if known else None
    for s in known:
        if len(s) != rank:
            raise _shape_error(op, f"Shape must be rank {rank} but is rank {len(s)}")
    if rank is None:
        return [(dt, None)]
    v = _static(axis_t)
    if v is None:
        return [(dt, (None,) * rank)]
    axis = int(v)
    if not -rank <= axis < rank:
        raise _shape_error(op, f"Shape must be at least rank {axis + 1} but is rank {rank}")
    axis %= rank
    out = list(known[0])
    out[axis] = 0
    for s in known:
        for i, d in enumerate(s):
            if i == axis:
                continue
            if out[i] is not None and d is not None and out[i] != d:
                a = [x for j, x in enumerate(known[0]) if j != axis]
                b = [x for j, x in enumerate(s) if j != axis]
                raise _shape_error(
                    op,
                    f"Dimension {i if i < axis else i - 1} in both shapes must be equal, but are "
                    f"{out[i]} and {d}. Shapes are {_fmt_dims(a)} and {_fmt_dims(b)}.",
                )
            if out[i] is None:
                out[i] = d
    total = 0
    for s in shapes:
        d = None if s is None else s[axis]
        total = None if d is None or total is None else total + d
    out[axis] = total
    return [(dt, tuple(out))]


def _concat_lower(op):
    def fn(*args):
        from tfstyle.compiler.lowering import HostValue

        *xs, axis = args
        axis = _ints(axis, "concat's axis")[0]
        if any(isinstance(x, HostValue) for x in xs):
            # Strings (the names report_uninitialized_variables lists) are joined on the host.
            hosts = [x if isinstance(x, HostValue) else _as_host_value(x) for x in xs]
            return HostValue.combine(lambda *vals: np.concatenate(vals, axis=axis), *hosts)
        return jnp.concatenate(xs, axis=axis)

    return fn


def _as_host_value(x):
    from tfstyle.compiler.lowering import HostValue

    if isinstance(x, np.ndarray) and x.dtype == object:
        # A string constant is already on the host: no array to compute.
        return HostValue(lambda: x)
    return HostValue(np.asarray, x)


_base.register_simple("ConcatV2", _concat_infer, _concat_lower)


@_base.host_evaluator("ConcatV2")
def _concat_host(op, *vals):
    return np.concatenate(vals[:-1], axis=int(np.reshape(vals[-1], [-1])[0]))


def concat(values, axis, name="concat"):
    """Concatenates tensors along ``axis`` (op ``ConcatV2``; one tensor gives an ``Identity``)."""
    if not isinstance(values, (list, tuple)):
        values = [values]
    if len(values) == 1:
        with ops.name_scope(name) as scope:
            _int_tensor(axis, "concat_dim")
            return identity(values[0], name=name)
    with ops.name_scope(name, "concat", values) as scope:
        xs = _convert_list(values, "values", "ConcatV2")
        a = _int_tensor(axis, "axis")
        return _base.output(
            "ConcatV2",
            [*xs, a],
            {"N": len(xs), "T": xs[0].dtype, "Tidx": a.dtype},
            name=scope,
        )


# == Pack, Unpack ====================================================================================
def _pack_infer(op):
    xs = op._inputs
    shape = _base.dims(xs[0])
    for i, x in enumerate(xs[1:], 1):
        s = _base.dims(x)
        if shape is not None and s is not None and len(shape) != len(s):
            raise _shape_error(
                op,
                f"Shapes must be equal rank, but are {len(shape)} and {len(s)}\n\t"
                "From merging shape 0 with other shapes.",
            )
        merged = _merge_dims(shape, s)
        if merged is None:
            bad = next(j for j, (p, q) in enumerate(zip(shape, s)) if p != q and None not in (p, q))
            raise _shape_error(
                op,
                f"Dimension {bad} in both shapes must be equal, but are {shape[bad]} and "
                f"{s[bad]}. Shapes are {_fmt_dims(shape)} and {_fmt_dims(s)}.\n\t"
                f"From merging shape {i - 1} with other shapes.",
            )
        shape = merged
    if shape is None:
        return [(xs[0].dtype, None)]
    axis = op._attrs["axis"] % (len(shape) + 1)
    return [(xs[0].dtype, shape[:axis] + (len(xs),) + shape[axis:])]


def _pack_lower(op):
    axis = op._attrs["axis"]

    def fn(*xs):
        from tfstyle.compiler.lowering import HostValue

        if any(isinstance(x, HostValue) for x in xs):
            # Strings (the sharded Saver's shard names) are stacked on the host.
            hosts = [x if isinstance(x, HostValue) else HostValue(lambda a: a, x) for x in xs]
            return HostValue.combine(lambda *vals: np.stack(vals, axis=axis), *hosts)
        return jnp.stack(xs, axis=axis)

    return fn


_base.register_simple("Pack", _pack_infer, _pack_lower)


@_base.host_evaluator("Pack")
def _pack_host(op, *vals):
    return np.stack(vals, axis=op._attrs["axis"])


def _pack(values, axis, name):
    return _base.output(
        "Pack", values, {"N": len(values), "T": values[0].dtype, "axis": axis}, name=name
    )


def stack(values, axis=0, name="stack"):
    """Stacks a list of rank-R tensors into one rank-(R+1) tensor (op ``Pack``)."""
    if axis == 0:
        try:
            return ops.convert_to_tensor(values, name=name)
        except (TypeError, ValueError):
            pass  # the list holds tensors that do not pack automatically
    first = _base.to_tensor(values[0], name=name)
    rank = first.shape.ndims
    if rank is not None and not -rank - 1 <= axis < rank + 1:
        raise ValueError(f"Argument `axis` = {axis} not in range [{-rank - 1}, {rank + 1})")
    with ops.name_scope(name) as scope:
        xs = _convert_list(values, "values", "Pack")
        return _pack(xs, axis, scope)


def _unpack_infer(op):
    x = op._inputs[0]
    xs = _base.dims(x)
    num, axis = op._attrs["num"], op._attrs["axis"]
    if xs is None:
        return [(x.dtype, None)] * num
    axis %= len(xs)
    if xs[axis] is not None and xs[axis] != num:
        raise _shape_error(op, f"Dimension must be {num} but is {xs[axis]}")
    return [(x.dtype, xs[:axis] + xs[axis + 1 :])] * num


def _unpack_lower(op):
    axis = op._attrs["axis"]

    def fn(x):
        return _outputs(jnp.moveaxis(x, axis, 0))

    return fn


_base.register_simple("Unpack", _unpack_infer, _unpack_lower)


def unstack(value, num=None, axis=0, name="unstack"):
    """Splits ``value`` along ``axis`` into a list of ``num`` tensors (op ``Unpack``)."""
    with ops.name_scope(name) as scope:
        x = _base.to_tensor(value)
        shape = x.shape
        if axis is not None and shape.ndims is not None:
            if not -shape.ndims <= axis < shape.ndims:
                raise ValueError(
                    f"Argument `axis` = {axis} not in range [{-shape.ndims}, {shape.ndims})"
                )
        if num is None:
            if shape.ndims is None or shape[axis] is None:
                raise ValueError(f"Cannot infer argument `num` from shape {shape}")
            num = shape[axis]
        op = _base.make_op("Unpack", [x], {"T": x.dtype, "num": num, "axis": axis}, name=scope)
        return list(op.outputs)


# == Split, SplitV ===================================================================================
def _split_infer(op):
    d, x = op._inputs
    n = op._attrs["num_split"]
    xs = _base.dims(x)
    v = _static(d)
    if xs is None:
        return [(x.dtype, None)] * n
    if v is None:
        return [(x.dtype, (None,) * len(xs))] * n
    axis = int(v)
    rank = len(xs)
    if not -rank <= axis < rank:
        raise _shape_error(
            op, f"Dimension size, given by scalar input {axis} must be in range [{-rank}, {rank})"
        )
    axis %= rank
    size = xs[axis]
    if size is not None and size % n:
        raise _shape_error(
            op,
            f"Dimension size must be evenly divisible by {n} but is {size}\n\tNumber of ways "
            "to split should evenly divide the split dimension",
        )
    out = list(xs)
    out[axis] = None if size is None else size // n
    return [(x.dtype, tuple(out))] * n


def _split_lower(op):
    n = op._attrs["num_split"]

    def fn(d, x):
        return _outputs(jnp.split(x, n, axis=_ints(d, "split's axis")[0]))

    return fn


_base.register_simple("Split", _split_infer, _split_lower)


def _splitv_sizes(sizes, total):
    """Resolves one -1 entry of ``sizes`` against ``total`` (None when unknown)."""
    if sizes.count(-1) == 1 and total is not None:
        rest = total - sum(s for s in sizes if s != -1)
        return [rest if s == -1 else s for s in sizes]
    return [None if s == -1 else s for s in sizes]


def _splitv_infer(op):
    x, s, d = op._inputs
    n = op._attrs["num_split"]
    xs = _base.dims(x)
    if xs is None:
        return [(x.dtype, None)] * n
    v = _static(d)
    if v is None:
        return [(x.dtype, (None,) * len(xs))] * n
    rank = len(xs)
    axis = int(v)
    if not -rank <= axis < rank:
        raise _shape_error(
            op, f"Dimension size, given by scalar input {axis} must be in range [{-rank}, {rank})"
        )
    axis %= rank
    sizes = _partial_ints(s)
    if sizes is None or None in sizes:
        out = [list(xs) for _ in _pyrange(n)]
        for o in out:
            o[axis] = None
        return [(x.dtype, tuple(o)) for o in out]
    if sizes.count(-1) > 1:
        raise _shape_error(op, "size_splits can only have one -1")
    total = xs[axis]
    if total is not None:
        known = sum(z for z in sizes if z != -1)
        if (-1 not in sizes and known != total) or (-1 in sizes and known > total):
            raise _shape_error(
                op,
                f"can't split axis of size {total} into pieces of size "
                f"[{','.join(str(z) for z in sizes)}]",
            )
    result = []
    for z in _splitv_sizes(list(sizes), total):
        o = list(xs)
        o[axis] = z
        result.append((x.dtype, tuple(o)))
    return result


def _splitv_lower(op):
    def fn(x, s, d):
        axis = _ints(d, "split's axis")[0]
        sizes = _splitv_sizes(list(_ints(s, "split's sizes")), x.shape[axis])
        cuts = np.cumsum(sizes)[:-1]
        return _outputs(jnp.split(x, cuts, axis=axis))

    return fn


_base.register_simple("SplitV", _splitv_infer, _splitv_lower)


def split(value, num_or_size_splits, axis=0, num=None, name="split"):
    """Splits ``value`` along ``axis`` into ``num_or_size_splits`` equal parts (op ``Split``) or
    into parts of the given sizes, one of which may be -1 (op ``SplitV``)."""
    if isinstance(num_or_size_splits, (int, np.integer)) and not isinstance(
        num_or_size_splits, bool
    ):
        with ops.name_scope(name, "split", [value]) as scope:
            d = _int_tensor(axis, "split_dim")
            x = _base.to_tensor(value, name="value")
            op = _base.make_op(
                "Split", [d, x], {"T": x.dtype, "num_split": int(num_or_size_splits)}, name=scope
            )
            return list(op.outputs)
    sizes = _base.to_tensor(num_or_size_splits)
    if num is None:
        s = sizes.shape
        if s.ndims is None or s.ndims != 1 or s[0] is None:
            raise ValueError(f"Cannot infer argument `num` from shape {s}")
        num = s[0]
    with ops.name_scope(name, "split", [value]) as scope:
        x = _base.to_tensor(value, name="value")
        d = _int_tensor(axis, "split_dim")
        op = _base.make_op(
            "SplitV",
            [x, sizes, d],
            {"T": x.dtype, "num_split": int(num), "Tlen": sizes.dtype},
            name=scope,
        )
        return list(op.outputs)


# == Slice ===========================================================================================
def _slice_infer(op):
    x, b, s = op._inputs
    xs = _base.dims(x)
    begin, size = _partial_ints(b), _partial_ints(s)
    if xs is None and size is None:
        return [(x.dtype, None)]
    n = len(xs) if xs is not None else len(size)
    if xs is None:
        xs = (None,) * n
    if size is None:
        return [(x.dtype, (None,) * n)]
    if len(size) != n or (begin is not None and len(begin) != n):
        raise _shape_error(op, f"Shape must be rank {n} but is rank {len(size)}")
    begin = begin or (None,) * n
    out = []
    for i, (d, bb, ss) in enumerate(zip(xs, begin, size)):
        if ss is not None and ss >= 0:
            if d is not None and bb is not None and bb + ss > d:
                raise _shape_error(
                    op,
                    f"Expected size[{i}] in [0, {d - bb}], but got {ss}",
                )
            out.append(ss)
        elif ss == -1 and d is not None and bb is not None:
            out.append(d - bb)
        else:
            out.append(None)
    return [(x.dtype, tuple(out))]


def _slice_lower(op):
    import jax

    static_begin = _partial_static(op._inputs[1])

    def fn(x, b, s):
        size = _ints(s, "slice's size")
        begin = _concrete(b)
        if begin is None:
            # A fed begin works when every size is static (-1 needs that dimension's begin).
            full = []
            for k, (d, z) in enumerate(zip(np.shape(x), size)):
                if z == -1:
                    if k >= len(static_begin) or static_begin[k] is None:
                        _ints(b, "slice's begin where the size is -1")
                    z = d - static_begin[k]
                full.append(z)
            return jax.lax.dynamic_slice(x, list(b), full)
        return _slice_known(x, begin, size)

    return fn


def _slice_known(x, begin, size):
    """``Slice`` at a begin known while tracing (NumPy indexing of a NumPy ``x``)."""
    begin = [int(v) for v in np.reshape(begin, [-1])]
    size = [d - bb if z == -1 else z for d, bb, z in zip(np.shape(x), begin, size)]
    return x[tuple(_pyslice(bb, bb + z) for bb, z in zip(begin, size))]


_base.register_simple("Slice", _slice_infer, _slice_lower)


@_base.host_evaluator("Slice")
def _slice_host(op, x, b, s):
    return _slice_known(np.asarray(x), b, _ints(s, "slice's size"))


def slice(input_, begin, size, name=None):  # noqa: A001 - TF's public name
    """Extracts ``size`` elements from ``begin`` (a size of -1 takes all the rest)."""
    with ops.name_scope(name, "Slice", [input_]) as scope:
        x = _base.to_tensor(input_, name="input")
        b = _int_tensor(begin, "begin")
        s = _int_tensor(size, "size", b.dtype)
        return _base.output("Slice", [x, b, s], {"T": x.dtype, "Index": b.dtype}, name=scope)


# == StridedSlice and Python indexing ===============================================================
def _strided_spec(op, rank):
    """TF's sparse-to-dense expansion of a strided slice: a list with one entry per dimension of
    the result's processing space. Entries are ("new",), ("full", dim) or ("index", i, dim) where
    ``i`` indexes begin/end/strides."""
    a = op._attrs
    n = _base.dims(op._inputs[1])[0]
    ellipsis, new_axis = a["ellipsis_mask"], a["new_axis_mask"]
    if bin(ellipsis).count("1") > 1:
        raise _shape_error(op, "Multiple ellipses in slice spec not allowed")
    spec, dim = [], 0
    seen_ellipsis = False
    for i in _pyrange(n):
        if ellipsis & (1 << i):
            seen_ellipsis = True
            after = sum(1 for j in _pyrange(i + 1, n) if not new_axis & (1 << j))
            stop = max(dim, rank - after)
            spec.extend(("full", k) for k in _pyrange(dim, stop))
            dim = stop
        elif new_axis & (1 << i):
            spec.append(("new",))
        else:
            if dim >= rank:
                raise _shape_error(
                    op, f"Index out of range using input dim {dim}; input has only {rank} dims"
                )
            spec.append(("index", i, dim))
            dim += 1
    if not seen_ellipsis:
        spec.extend(("full", k) for k in _pyrange(dim, rank))
    return spec


def _strided_slice_infer(op):
    x, b, e, s = op._inputs
    xs = _base.dims(x)
    a = op._attrs
    strides = _static(s)
    if xs is None or _base.dims(b) in (None, (None,)) or strides is None:
        return [(x.dtype, None)]
    begin, end = _static(b), _static(e)
    strides = [int(v) for v in strides]
    out = []
    for entry in _strided_spec(op, len(xs)):
        if entry[0] == "new":
            out.append(1)
            continue
        if entry[0] == "full":
            out.append(xs[entry[1]])
            continue
        _, i, dim = entry
        d, st = xs[dim], strides[i]
        if st == 0:
            raise _shape_error(op, f"strides[{i}] must be non-zero")
        if a["shrink_axis_mask"] & (1 << i):
            if d is not None and begin is not None:
                idx = int(begin[i])
                idx = idx + d if idx < 0 else idx
                if not 0 <= idx < d:
                    raise _shape_error(op, f"slice index {idx} of dimension {dim} out of bounds.")
            continue
        bm, em = a["begin_mask"] & (1 << i), a["end_mask"] & (1 << i)
        if d is None or (begin is None and not bm) or (end is None and not em):
            out.append(None)
            continue
        lo = None if bm else int(begin[i])
        hi = None if em else int(end[i])
        out.append(len(_pyrange(*_pyslice(lo, hi, st).indices(d))))
    return [(x.dtype, tuple(out))]


def _partial_static(t):
    """Static elements of a begin/end/strides input even when others are fed (``x[i, 1:3]``)."""
    p = _partial_ints(t)
    return p if p is not None else ()


def _strided_slice_lower(op):
    a = op._attrs
    x_in, b_in, e_in, s_in = op._inputs
    static_b, static_e = _partial_static(b_in), _partial_static(e_in)
    dims = _base.dims(b_in)  # unknown in a function imported from a TF 1.x loop
    n = dims[0] if dims else None

    def fn(x, b, e, s, xp=jnp):
        strides = _ints(s, "a strided slice's strides")
        cb, ce = _concrete(b), _concrete(e)
        index = []
        for i in _pyrange(len(strides) if n is None else n):
            bit = 1 << i
            if a["ellipsis_mask"] & bit:
                index.append(Ellipsis)
            elif a["new_axis_mask"] & bit:
                index.append(None)
            elif a["shrink_axis_mask"] & bit:
                index.append(int(cb[i]) if cb is not None else b[i])
            else:
                lo = hi = None
                if not a["begin_mask"] & bit:
                    lo = int(cb[i]) if cb is not None else static_b[i]
                if not a["end_mask"] & bit:
                    hi = int(ce[i]) if ce is not None else static_e[i]
                # A bound known only when the step runs would give a size XLA cannot have.
                if lo is None and not a["begin_mask"] & bit:
                    _ints(b, "the bounds of a slice (not a single index)")
                if hi is None and not a["end_mask"] & bit:
                    _ints(e, "the bounds of a slice (not a single index)")
                index.append(_pyslice(lo, hi, strides[i]))
        return xp.asarray(x)[tuple(index)]

    return fn


_base.register_simple("StridedSlice", _strided_slice_infer, _strided_slice_lower)


@_base.host_evaluator("StridedSlice")
def _strided_slice_host(op, v, b, e, s):
    return np.asarray(_strided_slice_lower(op)(v, b, e, s, xp=np))


def strided_slice(
    input_,
    begin,
    end,
    strides=None,
    begin_mask=0,
    end_mask=0,
    ellipsis_mask=0,
    new_axis_mask=0,
    shrink_axis_mask=0,
    var=None,
    name=None,
):
    """Extracts a strided slice; the masks say which begin/end entries are ignored and which
    entries are an ellipsis, a new axis or a single index, as in TF."""
    if strides is None:
        strides = ones_like(begin)
    with ops.name_scope(name, "StridedSlice", [input_]) as scope:
        x = _base.to_tensor(input_, name="input")
        b = _int_tensor(begin, "begin")
        e = _int_tensor(end, "end", b.dtype)
        s = _int_tensor(strides, "strides", b.dtype)
        return _base.output(
            "StridedSlice",
            [x, b, e, s],
            {
                "T": x.dtype,
                "Index": b.dtype,
                "begin_mask": begin_mask,
                "end_mask": end_mask,
                "ellipsis_mask": ellipsis_mask,
                "new_axis_mask": new_axis_mask,
                "shrink_axis_mask": shrink_axis_mask,
            },
            name=scope,
        )


newaxis = None

_SLICE_TYPE_ERROR = (
    "Only integers, slices (`:`), ellipsis (`...`), tf.newaxis (`None`) and scalar "
    "tf.int32/tf.int64 tensors are valid indices"
)


def _check_index(idx):
    if isinstance(idx, (int, np.integer, _shape.Dimension)) and not isinstance(idx, bool):
        return
    dtype = getattr(idx, "dtype", None)
    if (
        dtype is None
        or dtypes.as_dtype(dtype) not in (dtypes.int16, dtypes.int32, dtypes.int64)
        or (getattr(idx, "shape", None) is not None and len(idx.shape or ()) == 1)
    ):
        raise TypeError(_SLICE_TYPE_ERROR + f", got {idx!r}")


def _undefined_dim(v):
    return isinstance(v, _shape.Dimension) and v.value is None


def _getitem(tensor, slice_spec):
    """``tensor[...]``: integers, slices, ``...``, ``tf.newaxis`` and scalar int tensors, encoded
    as one ``StridedSlice`` exactly as TF encodes them; a boolean mask gives ``boolean_mask``."""
    if (
        isinstance(slice_spec, bool)
        or (isinstance(slice_spec, ops.Tensor) and slice_spec.dtype == dtypes.bool)
        or (isinstance(slice_spec, np.ndarray) and slice_spec.dtype == bool)
    ):
        return boolean_mask(tensor, slice_spec)
    if not isinstance(slice_spec, (list, tuple)):
        slice_spec = [slice_spec]
    begin, end, strides = [], [], []
    masks = {"begin": 0, "end": 0, "ellipsis": 0, "new_axis": 0, "shrink_axis": 0}
    for index, s in enumerate(slice_spec):
        bit = 1 << index
        if isinstance(s, _pyslice):
            dtype = None
            for t in (s.start, s.stop, s.step):
                if isinstance(t, ops.Tensor):
                    if t.dtype == dtypes.int64:
                        dtype = dtypes.int64
                    elif t.dtype == dtypes.int32 and dtype != dtypes.int64:
                        dtype = dtypes.int32
                    elif t.dtype == dtypes.int16 and dtype is None:
                        dtype = dtypes.int16
            for value, lst, mask, default in (
                (s.start, begin, "begin", 0),
                (s.stop, end, "end", 0),
                (s.step, strides, None, 1),
            ):
                if value is not None and not _undefined_dim(value):
                    _check_index(value)
                    lst.append(value)
                else:
                    lst.append(default if dtype is None else constant(default, dtype=dtype))
                    if mask:
                        masks[mask] |= bit
        elif s is Ellipsis:
            begin.append(0)
            end.append(0)
            strides.append(1)
            masks["ellipsis"] |= bit
        elif s is None:
            begin.append(0)
            end.append(0)
            strides.append(1)
            masks["new_axis"] |= bit
        else:
            _check_index(s)
            begin.append(s)
            end.append(s + 1)
            if isinstance(s, ops.Tensor) and s.dtype in (dtypes.int16, dtypes.int64):
                strides.append(constant(1, dtype=s.dtype))
            else:
                strides.append(1)
            masks["shrink_axis"] |= bit
    with ops.name_scope(None, "strided_slice", [tensor]) as name:
        if begin:
            pb, pe, ps = stack(begin), stack(end), stack(strides)
            if dtypes.int64 in (pb.dtype, pe.dtype, ps.dtype):
                pb, pe, ps = (cast(p, dtypes.int64) for p in (pb, pe, ps))
        else:
            pb = pe = ps = constant([], dtype=dtypes.int32)
        return strided_slice(
            tensor,
            pb,
            pe,
            ps,
            begin_mask=masks["begin"],
            end_mask=masks["end"],
            shrink_axis_mask=masks["shrink_axis"],
            new_axis_mask=masks["new_axis"],
            ellipsis_mask=masks["ellipsis"],
            name=name,
        )


ops.Tensor.__getitem__ = _getitem


# == GatherV2, GatherNd ==============================================================================
def _host_check(value, op):
    """Values computed on the host (e.g. ``Where`` of a fed mask) have no static shape."""
    from tfstyle.compiler.lowering import HostValue

    if isinstance(value, HostValue):
        from tfstyle.framework import errors

        raise errors.InvalidArgumentError(
            None,
            op,
            f"{op.name} ({op.type}) needs an input whose size depends on the values of a fed "
            "tensor or a variable (such as tf.boolean_mask or tf.where with a fed mask). XLA "
            "compiles every shape ahead of the run, so tfstyle can only compute it when the mask "
            "is known at graph construction; keep shapes fixed instead, e.g. multiply by a 0/1 "
            "mask or use tf.where(cond, x, y).",
        )
    return value


def _gather_infer(op):
    p, i, a = op._inputs
    ps, is_ = _base.dims(p), _base.dims(i)
    bd = op._attrs["batch_dims"]
    v = _static(a)
    if ps is None or is_ is None or v is None:
        return [(p.dtype, None)]
    axis = int(v)
    if not -len(ps) <= axis < len(ps):
        raise _shape_error(op, f"Shape must be at least rank {axis + 1} but is rank {len(ps)}")
    axis %= len(ps)
    if bd < 0:
        bd += len(is_)
    return [(p.dtype, ps[:axis] + is_[bd:] + ps[axis + 1 :])]


def _check_indices(op, indices, limit):
    from tfstyle.framework import errors

    bad = np.flatnonzero((indices < 0) | (indices >= limit))
    if bad.size:
        k = int(bad[0])
        pos = ",".join(str(j) for j in np.unravel_index(k, indices.shape)) if indices.ndim else ""
        raise errors.InvalidArgumentError(
            None,
            op,
            f"indices[{pos}] = {indices.reshape(-1)[k]} is not in [0, {limit})\n\t"
            f" [[{{{{node {op.name}}}}}]]",
        )


def _gather_lower(op):
    import jax

    bd = op._attrs["batch_dims"]

    def fn(p, i, a):
        _host_check(i, op)
        axis = _ints(a, "gather's axis")[0] % np.ndim(p)
        batch = bd + np.ndim(i) if bd < 0 else bd
        ci = _concrete(i)
        if ci is not None:
            _check_indices(op, ci, np.shape(p)[axis])

        if not batch and jnp is np:
            return np.take(p, i, axis=axis)

        def take(pp, ii):
            return jnp.take(pp, ii, axis=axis - batch)

        for _ in _pyrange(batch):
            take = jax.vmap(take)
        return take(p, i)

    return fn


_base.register_simple("GatherV2", _gather_infer, _gather_lower)


def _fed_index_check(op, limit):
    """A ``fed_checks`` check of indices in ``[0, limit)``: one reduction on the host, TF's
    message only for a bad value."""

    def check(indices):
        if _base.any_outside(indices, limit):
            _check_indices(op, np.asarray(indices), limit)

    return check


def _partition_of(indices):
    """``(a, p, d, rows)`` where ``indices`` are a partitioned lookup's rows of partition ``p``:
    ``SelectV2(Equal(a, p), d, rows)`` (``tfstyle.nn.embedding_lookup``, and TF's lookup as
    imported), where ``a`` is each id's partition, ``d`` its row there, and the ids of other
    partitions read the row ``rows`` past the end on purpose; else ``None``."""
    t = indices
    while t.op.type in ("Identity", "IdentityN"):
        t = t.op.inputs[t.value_index]
    if t.op.type != "SelectV2":
        return None
    member, d, past = t.op.inputs
    rows = _static_rows(past)
    if member.op.type != "Equal" or rows is None or np.ndim(rows):
        return None
    a, p = member.op.inputs
    if _static(p) is None:
        a, p = p, a
    p = _static(p)
    return None if p is None or np.ndim(p) else (a, int(p), d, int(rows))


def _static_rows(t):
    """``t``'s static value, also where it is a variable's row count that TF reads at run time
    (``VariableShape(v)[0]`` in TF's lookups as imported): a variable's shape is static here."""
    v = _static(t)
    if v is not None or t.op.type != "StridedSlice" or t.op.inputs[0].op.type != "VariableShape":
        return v
    handle = ops.variable_handle_op(t.op.inputs[0].op.inputs[0])
    shape = None if handle is None else _shape.as_shape(handle._attrs.get("shape"))
    if shape is None or not shape.is_fully_defined():
        return None
    rest = [_static(x) for x in t.op.inputs[1:]]
    if any(x is None for x in rest):
        return None
    return t.op._def.host_value(t.op, np.asarray(shape.as_list(), np.int32), *rest)


_GATHERS = ("GatherV2", "ResourceGather")


def _gathers_of(t, uses):
    """The gathers that read ``t`` as their indices, directly or through identities."""
    for c in uses.get(t, ()):
        if c.type in _GATHERS and c.inputs[1] is t:
            yield c
        elif c.type in ("Identity", "IdentityN"):
            for k, x in enumerate(c.inputs):
                if x is t:
                    yield from _gathers_of(c.outputs[k], uses)


@functools.lru_cache(maxsize=8)
def _partitions(a, num_ops):
    """``[(rows, gather), ...]`` of the partitions ``0 .. n-1`` that ``a`` assigns ids to, as
    ``_partition_of`` finds them among its consumers, or ``None``. Cached for the gathers of
    one lookup (``num_ops``: the graph's size, which only grows)."""
    uses = {}
    for op in a.graph._ops:
        for t in op._inputs:
            uses.setdefault(t, []).append(op)
    parts = {}
    for member in uses.get(a, ()):
        if member.type != "Equal":
            continue
        for select in uses.get(member.outputs[0], ()):
            if select.type != "SelectV2" or select.inputs[0] is not member.outputs[0]:
                continue
            part = _partition_of(select.outputs[0])
            gathers = list(_gathers_of(select.outputs[0], uses))
            if part is not None and part[0] is a and len(gathers) == 1:
                parts[part[1]] = (part[3], gathers[0])
    order = [*_pyrange(len(parts))]
    return [parts[p] for p in order] if sorted(parts) == order else None


class _PartitionCheck:
    """TF's errors for the ids of a partitioned lookup, given each id's partition ``a`` and row
    ``d``: TF partitions the ids (rejecting a partition out of range), then gathers each
    partition's rows, counting positions among that partition's ids. Its gathers run in
    parallel, so which of several bad ids it reports varies; here it is the first. Every
    partition's gather declares this check; being equal, it runs once per run."""

    def __init__(self, a, d, partitions):
        self._key = (a, d)
        self._rows = [rows for rows, _ in partitions]
        self._gathers = [g for _, g in partitions]
        self._limits = np.asarray(self._rows)
        self._fewest = min(self._rows)

    def __eq__(self, other):
        return isinstance(other, _PartitionCheck) and all(
            x is y for x, y in zip(self._key, other._key)
        )

    def __hash__(self):
        return hash(tuple(id(x) for x in self._key))

    def __call__(self, a, d):
        n = len(self._rows)
        if not _base.any_outside(a, n) and not _base.any_outside(d, self._fewest):
            return  # every row is in every partition's range
        a, d = np.asarray(a).reshape(-1), np.asarray(d).reshape(-1)
        op = self._gathers[0]
        if _base.any_outside(a, n):
            from tfstyle.framework import errors

            k = int(np.flatnonzero((a < 0) | (a >= n))[0])
            scope = op.name.rpartition("/")[0]
            # TF's two DynamicPartitions (of the ids, of their positions) both reject it;
            # which one reports it varies between runs.
            node = f"{scope}/DynamicPartition" if scope else "DynamicPartition"
            raise errors.InvalidArgumentError(
                None, op, f"partitions[{k}] = {a[k]} is not in [0, {n})\n\t [[{{{{node {node}}}}}]]"
            )
        bad = np.flatnonzero((d < 0) | (d >= self._limits[a]))
        if bad.size:
            p = a[bad[0]]
            _check_indices(self._gathers[p], d[a == p], self._rows[p])


def _index_checks(op, indices, limit):
    if limit is None:
        return []
    part = _partition_of(indices)
    if part is not None and part[3] == limit:
        a, _, d, _ = part
        partitions = _partitions(a, len(a.graph._ops))
        if partitions is None or all(g is not op for _, g in partitions):
            return []
        return [((a, d), _PartitionCheck(a, d, partitions))]
    return [((indices,), _fed_index_check(op, limit))]


def _static_axis(axis):
    """A gather's axis (a Python int or a tensor) as an int where it is a known scalar, else
    None."""
    if isinstance(axis, (int, np.integer)):
        return int(axis)
    v = _static(axis) if isinstance(axis, ops.Tensor) else None
    return None if v is None or np.ndim(v) else int(v)


def _gather_fed_checks(op):
    p, i, a = op._inputs
    ps, axis = _base.dims(p), _static_axis(a)
    if ps is None or axis is None or not -len(ps) <= axis < len(ps):
        return []
    return _index_checks(op, i, ps[axis % len(ps)])


_registry.get("GatherV2").fed_checks = _gather_fed_checks


def _resource_gather_infer(op):
    handle, i = op._inputs
    shape = op._attrs.get("_shape")
    if shape is None:  # imported from a GraphDef: the shape of the variable's handle op
        h = ops.variable_handle_op(handle)
        shape = h._attrs.get("shape") if h is not None else None
    ps = None if shape is None else _shape.as_shape(shape)._dims
    is_ = _base.dims(i)
    bd = op._attrs.get("batch_dims", 0)
    if ps is None or is_ is None:
        return [(op._attrs["dtype"], None)]
    return [(op._attrs["dtype"], is_[:bd] + is_[bd:] + ps[bd + 1 :])]


def _resource_gather_lower(op):
    import jax

    bd = op._attrs.get("batch_dims", 0)

    def fn(ctx, handle, i):
        _host_check(i, op)
        p = ctx.read_variable(op)
        batch = bd + np.ndim(i) if bd < 0 else bd
        ci = _concrete(i)
        if ci is not None:
            _check_indices(op, ci, np.shape(p)[batch])

        def take(pp, ii):
            return jnp.take(pp, ii, axis=0)

        for _ in _pyrange(batch):
            take = jax.vmap(take)
        return take(p, i)

    return fn


_base.register_simple("ResourceGather", _resource_gather_infer, None)
_registry.lowering("ResourceGather", uses_context=True, reads_resource=True)(_resource_gather_lower)


def _resource_gather_fed_checks(op):
    handle, i = op._inputs
    bd = op._attrs.get("batch_dims", 0)
    h = op._attrs.get("_shape")
    if h is None:  # imported from a GraphDef: the shape of the variable's handle op
        v = ops.variable_handle_op(handle)
        h = v._attrs.get("shape") if v is not None else None
    dims = None if h is None else _shape.as_shape(h)._dims
    if dims is None or not 0 <= bd < len(dims):
        return []
    return _index_checks(op, i, dims[bd])


_registry.get("ResourceGather").fed_checks = _resource_gather_fed_checks


def resource_gather(variable, indices, name, batch_dims=0):
    """``variable.sparse_read(indices)``: the rows of a variable at ``indices``, read as the
    run orders it (op ``ResourceGather``; its gradient is an ``IndexedSlices``)."""
    handle = variable.handle
    graph = handle.graph
    if ops.get_default_graph()._can_capture_from(graph):
        graph = ops.get_default_graph()  # inside a cond/while function graph
    with graph.as_default(), ops.name_scope(name, "Gather", [handle, indices]) as scope:
        i = _int_tensor(indices, "indices")
        control = [variable._parent_op] if getattr(variable, "_parent_op", None) else []
        with ops.control_dependencies(control):
            return _base.output(
                "ResourceGather",
                [handle, i],
                {
                    "batch_dims": batch_dims,
                    "validate_indices": True,
                    "dtype": variable.dtype.base_dtype,
                    "Tindices": i.dtype,
                    "_shape": variable.shape,
                },
                name=scope,
            )


def gather(params, indices, validate_indices=None, name=None, axis=None, batch_dims=0):
    """Gathers slices of ``params`` along ``axis`` at ``indices`` (op ``GatherV2``; a variable
    gathered along its first axis is read with ``ResourceGather``, as in TF)."""
    if axis is None:
        axis = batch_dims
    if hasattr(params, "sparse_read") and _static_axis(axis) == 0:
        return params.sparse_read(indices, name=name)
    with ops.name_scope(name, "GatherV2", [params, indices]) as scope:
        p = _base.to_tensor(params, name="params")
        i = _int_tensor(indices, "indices")
        a = _int_tensor(axis, "axis")
        return _base.output(
            "GatherV2",
            [p, i, a],
            {"Tparams": p.dtype, "Tindices": i.dtype, "Taxis": a.dtype, "batch_dims": batch_dims},
            name=scope,
        )


def _gather_nd_infer(op):
    p, i = op._inputs
    ps, is_ = _base.dims(p), _base.dims(i)
    bd = op._attrs.get("batch_dims", 0)
    if ps is None or is_ is None or is_[-1] is None:
        return [(p.dtype, None)]
    k = is_[-1]
    if k + bd > len(ps):
        raise _shape_error(
            op, f"indices.shape[-1] must be <= params.rank, but saw indices shape: {list(is_)}"
        )
    return [(p.dtype, is_[:-1] + ps[bd + k :])]


def _gather_nd_lower(op):
    import jax

    bd = op._attrs.get("batch_dims", 0)

    def fn(p, i):
        def one(pp, ii):
            return pp[tuple(jnp.moveaxis(ii, -1, 0))]

        for _ in _pyrange(bd):
            one = jax.vmap(one)
        return one(p, i)

    return fn


_base.register_simple("GatherNd", _gather_nd_infer, _gather_nd_lower)


def gather_nd(params, indices, name=None, batch_dims=0):
    """Gathers slices of ``params`` addressed by the last dimension of ``indices``."""
    with ops.name_scope(name, "GatherNd", [params, indices]) as scope:
        p = _base.to_tensor(params, name="params")
        i = _int_tensor(indices, "indices")
        if batch_dims:
            # TF builds this from reshapes and a plain GatherNd; one op does the same here.
            attrs = {"Tparams": p.dtype, "Tindices": i.dtype, "batch_dims": batch_dims}
        else:
            attrs = {"Tparams": p.dtype, "Tindices": i.dtype, "bad_indices_policy": b""}
        return _base.output("GatherNd", [p, i], attrs, name=scope)


# == Tile, Pad, MirrorPad ==========================================================================
def _tile_infer(op):
    x, m = op._inputs
    xs = _base.dims(x)
    mult = _partial_ints(m)
    if xs is None:
        return [(x.dtype, None if mult is None else (None,) * len(mult))]
    if mult is not None and len(mult) != len(xs):
        raise _shape_error(op, f"Shape must be rank {len(xs)} but is rank {len(mult)}")
    if mult is None:
        return [(x.dtype, (None,) * len(xs))]
    return [(x.dtype, tuple(None if d is None or k is None else d * k for d, k in zip(xs, mult)))]


_base.register_simple(
    "Tile", _tile_infer, lambda op: lambda x, m: jnp.tile(x, _ints(m, "tile's multiples"))
)


@_base.host_evaluator("Tile")
def _tile_host(op, x, m):
    return np.tile(x, _ints(m, "tile's multiples"))


def tile(input, multiples, name=None):  # noqa: A002
    """Repeats ``input`` ``multiples[i]`` times along each dimension ``i``."""
    with ops.name_scope(name, "Tile", [input, multiples]) as scope:
        x = _base.to_tensor(input, name="input")
        m = _int_tensor(multiples, "multiples")
        return _base.output("Tile", [x, m], {"T": x.dtype, "Tmultiples": m.dtype}, name=scope)


def _pad_infer(op):
    x, p = op._inputs[:2]
    xs = _base.dims(x)
    ps = _base.dims(p)
    if ps is not None and len(ps) != 2:
        raise _shape_error(op, f"Shape must be rank 2 but is rank {len(ps)}")
    if xs is not None and ps is not None and ps[0] is not None and ps[0] != len(xs):
        raise _shape_error(op, f"Shape must be rank {ps[0]} but is rank {len(xs)}")
    v = _static(p)
    if xs is None:
        return [(x.dtype, None if ps is None or ps[0] is None else (None,) * ps[0])]
    if v is None:
        return [(x.dtype, (None,) * len(xs))]
    return [
        (x.dtype, tuple(None if d is None else d + int(lo) + int(hi) for d, (lo, hi) in zip(xs, v)))
    ]


def _pad_lower(op):
    # A GraphDef import gives the mode as str, tfstyle's constructor as bytes.
    mode = op._attrs.get("mode")
    mode = {b"REFLECT": "reflect", b"SYMMETRIC": "symmetric"}.get(
        mode.encode() if isinstance(mode, str) else mode
    )

    def fn(x, p, c=None):
        pads = np.reshape(_ints(p, "pad's paddings"), (-1, 2)).tolist()
        if mode is not None:
            # Like TF's kernel: REFLECT pads less than the dimension, SYMMETRIC at most it.
            limit = 1 if mode == "reflect" else 0
            for d, (lo, hi) in zip(np.shape(x), pads):
                if lo < 0 or hi < 0 or lo > d - limit or hi > d - limit:
                    from tfstyle.framework import errors

                    raise errors.InvalidArgumentError(
                        None,
                        op,
                        f"paddings must be less than{' or equal to' if limit == 0 else ''} "
                        f"the dimension size: {lo}, {hi} not less than {d}",
                    )
        if mode is not None:
            return jnp.pad(x, pads, mode=mode)
        return jnp.pad(x, pads, constant_values=0 if c is None else c)

    return fn


for _t in ("Pad", "PadV2", "MirrorPad"):
    _base.register_simple(_t, _pad_infer, _pad_lower)


def _paddings_partial(paddings):
    """Per-entry static values of a paddings argument given as nested lists (TF refines the
    static shape with them)."""
    if isinstance(paddings, ops.Tensor):
        v = _static(paddings)
        return None if v is None else v.tolist()
    if isinstance(paddings, np.ndarray):
        return paddings.tolist()
    if isinstance(paddings, (list, tuple)):
        out = []
        for row in paddings:
            if not isinstance(row, (list, tuple, np.ndarray)):
                return None
            out.append(
                [
                    (None if (c := _static(e)) is None else int(c))
                    if isinstance(e, ops.Tensor)
                    else int(e)
                    for e in row
                ]
            )
        return out
    return None


def pad(tensor, paddings, mode="CONSTANT", name=None, constant_values=0):
    """Pads ``tensor``; ``mode`` is "CONSTANT" (with ``constant_values``), "REFLECT" or
    "SYMMETRIC", case-insensitive."""
    mode = mode.upper()
    if mode == "CONSTANT":
        plain = (
            not isinstance(constant_values, ops.Tensor)
            and np.ndim(constant_values) == 0
            and constant_values == np.zeros_like(constant_values)
        )
        if plain:
            with ops.name_scope(name, "Pad", [tensor, paddings]) as scope:
                x = _base.to_tensor(tensor, name="input")
                p = _int_tensor(paddings, "paddings")
                result = _base.output("Pad", [x, p], {"T": x.dtype, "Tpaddings": p.dtype}, scope)
        else:
            with ops.name_scope(name, "PadV2", [tensor, paddings]) as scope:
                x = _base.to_tensor(tensor, name="input")
                p = _int_tensor(paddings, "paddings")
                c = _base.to_tensor(constant_values, dtype=x.dtype, name="constant_values")
                result = _base.output(
                    "PadV2", [x, p, c], {"T": x.dtype, "Tpaddings": p.dtype}, scope
                )
    elif mode in ("REFLECT", "SYMMETRIC"):
        with ops.name_scope(name, "MirrorPad", [tensor, paddings]) as scope:
            x = _base.to_tensor(tensor, name="input")
            p = _int_tensor(paddings, "paddings")
            result = _base.output(
                "MirrorPad",
                [x, p],
                {"T": x.dtype, "Tpaddings": p.dtype, "mode": mode.encode()},
                scope,
            )
    else:
        raise ValueError(
            'Value of argument `mode` expected to be one of "CONSTANT", "REFLECT", or '
            f'"SYMMETRIC". Received `mode` = {mode}'
        )
    # Like TF, refine the static shape with the paddings known element by element.
    partial = _paddings_partial(paddings)
    in_dims = _base.dims(result.op.inputs[0])
    if in_dims is not None and partial is not None and not result.shape.is_fully_defined():
        refined = [
            None if d is None or None in row else d + sum(row) for row, d in zip(partial, in_dims)
        ]
        result.set_shape(refined)
    return result


# == Transpose, ReverseV2 ========================================================================
def _transpose_infer(op):
    x, p = op._inputs
    xs = _base.dims(x)
    perm = _static(p)
    ps = _base.dims(p)
    if perm is None:
        n = len(xs) if xs is not None else (ps[0] if ps is not None else None)
        return [(x.dtype, None if n is None else (None,) * n)]
    perm = [int(v) for v in perm]
    if xs is None:
        return [(x.dtype, (None,) * len(perm))]
    if len(perm) != len(xs):
        raise _shape_error(op, f"Dimension must be {len(xs)} but is {len(perm)}")
    for v in perm:
        if not 0 <= v < len(xs):
            raise _shape_error(op, f"perm dim {v} is out of range of input rank {len(xs)}")
    return [(x.dtype, tuple(xs[v] for v in perm))]


def _transpose_lower(op):
    conj = op.type == "ConjugateTranspose"

    def fn(x, p):
        y = jnp.transpose(x, _ints(p, "transpose's perm"))
        return jnp.conj(y) if conj else y

    return fn


_base.register_simple("Transpose", _transpose_infer, _transpose_lower)
_base.register_simple("ConjugateTranspose", _transpose_infer, _transpose_lower)


@_base.host_evaluator("Transpose")
def _transpose_host(op, x, p):
    return np.transpose(x, _ints(p, "transpose's perm"))


def transpose(a, perm=None, name="transpose", conjugate=False):
    """Permutes the dimensions of ``a``; without ``perm`` the order is reversed."""
    with ops.name_scope(name, "transpose", [a]) as scope:
        x = _base.to_tensor(a, name="a")
        op_type = "ConjugateTranspose" if conjugate and x.dtype.is_complex else "Transpose"
        if perm is None:
            n = x.shape.ndims
            if n is None:
                # TF computes Range(rank - 1, -1, -1); the reversed Range(0, rank) is the same
                # permutation and stays concrete while the step is traced.
                perm = reverse(_range_op(0, rank(x), 1, name="Range"), [0])
            else:
                perm = np.arange(n - 1, -1, -1, dtype=np.int32)
        p = _int_tensor(perm, "perm")
        return _base.output(op_type, [x, p], {"T": x.dtype, "Tperm": p.dtype}, name=scope)


def _reverse_infer(op):
    x, a = op._inputs
    ad = _base.dims(a)
    if ad is not None and len(ad) != 1:
        raise _shape_error(op, f"Shape must be rank 1 but is rank {len(ad)}")
    xs = _base.dims(x)
    v = _static(a)
    if xs is not None and v is not None:
        for ax in v:
            if not -len(xs) <= ax < len(xs):
                raise _shape_error(
                    op, f"'axis'[{ax}] = {ax} is out of valid range [{-len(xs)}, {len(xs) - 1}]"
                )
    return [(x.dtype, xs)]


_base.register_simple(
    "ReverseV2",
    _reverse_infer,
    lambda op: lambda x, a: jnp.flip(x, _ints(a, "reverse's axis")),
)


def reverse(tensor, axis, name=None):
    """Reverses ``tensor`` along the dimensions in ``axis`` (op ``ReverseV2``)."""
    with ops.name_scope(name, "ReverseV2", [tensor, axis]) as scope:
        x = _base.to_tensor(tensor, name="tensor")
        a = _int_tensor(axis, "axis")
        return _base.output("ReverseV2", [x, a], {"T": x.dtype, "Tidx": a.dtype}, name=scope)


reverse_v2 = reverse


# == OneHot ==========================================================================================
def _one_hot_infer(op):
    i, d, on, _ = op._inputs
    xs = _base.dims(i)
    axis = op._attrs["axis"]
    depth = _static(d)
    depth = None if depth is None else int(depth)
    if xs is None:
        return [(on.dtype, None)]
    if not -1 <= axis <= len(xs):
        raise _shape_error(
            op, f"Expected axis to be -1 or between [0, {len(xs) + 1}).  But received: {axis}"
        )
    pos = len(xs) if axis == -1 else axis
    return [(on.dtype, xs[:pos] + (depth,) + xs[pos:])]


def _one_hot_lower(op):
    axis = op._attrs["axis"]

    def fn(i, d, on, off):
        depth = _ints(d, "one_hot's depth")[0]
        hot = jnp.expand_dims(i, -1) == jnp.arange(depth, dtype=jnp.result_type(i))
        out = jnp.where(hot, on, off)
        return out if axis == -1 else jnp.moveaxis(out, -1, axis)

    return fn


_base.register_simple("OneHot", _one_hot_infer, _one_hot_lower)


def one_hot(indices, depth, on_value=None, off_value=None, axis=None, dtype=None, name=None):
    """A one-hot tensor: ``on_value`` where the position equals the index, ``off_value``
    elsewhere; the new dimension of size ``depth`` goes at ``axis`` (last by default)."""
    with ops.name_scope(name, "one_hot", [indices, depth, on_value, off_value]) as scope:
        if dtype is not None:
            dtype = dtypes.as_dtype(dtype)
        on_dtype = off_dtype = None
        if on_value is not None:
            on_value = _base.to_tensor(on_value, preferred_dtype=dtype)
            on_dtype = on_value.dtype
        if off_value is not None:
            off_value = _base.to_tensor(off_value, preferred_dtype=dtype)
            off_dtype = off_value.dtype
        if on_dtype is not None or off_dtype is not None:
            if dtype is not None:
                if on_dtype is not None and on_dtype != dtype:
                    raise TypeError(
                        f"dtype {on_dtype.name} of on_value does not match dtype parameter "
                        f"{dtype.name}"
                    )
                if off_dtype is not None and off_dtype != dtype:
                    raise TypeError(
                        f"dtype {off_dtype.name} of off_value does not match dtype parameter "
                        f"{dtype.name}"
                    )
            else:
                dtype = on_dtype or off_dtype
            if on_dtype is not None and off_dtype is not None and on_dtype != off_dtype:
                raise TypeError(
                    f"dtype {on_dtype.name} of on_value does not match dtype {off_dtype.name} "
                    "of off_value"
                )
        else:
            dtype = dtype or dtypes.float32
        if on_value is None:
            on_value = constant(1, dtype=dtype, name="on_value")
        if off_value is None:
            off_value = constant(0, dtype=dtype, name="off_value")
        i = _base.to_tensor(indices, name="indices")
        d = _int_tensor(depth, "depth")
        return _base.output(
            "OneHot",
            [i, d, on_value, off_value],
            {"T": dtype, "TI": i.dtype, "axis": -1 if axis is None else axis},
            name=scope,
        )


# == Range, LinSpace =================================================================================
def _range_size(start, limit, delta, op):
    if delta == 0:
        raise _shape_error(op, "Requires delta != 0")
    if delta > 0 and start > limit:
        raise _shape_error(op, f"Requires start <= limit when delta > 0: {start}/{limit}")
    if delta < 0 and start < limit:
        raise _shape_error(op, f"Requires start >= limit when delta < 0: {start}/{limit}")
    if isinstance(start, (int, np.integer)) and isinstance(delta, (int, np.integer)):
        return (abs(int(limit) - int(start)) + abs(int(delta)) - 1) // abs(int(delta))
    return int(np.ceil(abs((limit - start) / delta)))


def _range_infer(op):
    dt = op._attrs["Tidx"]
    vals = [_static(t) for t in op._inputs]
    if any(v is None for v in vals):
        return [(dt, (None,))]
    start, limit, delta = (v.item() for v in vals)
    return [(dt, (_range_size(start, limit, delta, op),))]


def _range_lower(op):
    dt = op._attrs["Tidx"].as_numpy_dtype

    def fn(start, limit, delta):
        vals = []
        for v in (start, limit, delta):
            c = _concrete(v)
            if c is None:
                _ints(v, "range's start, limit and delta")
            vals.append(c.item())
        n = _range_size(*vals, op)
        # TF adds ``delta`` repeatedly in the output type; ``start + i * delta`` agrees with it.
        return (np.asarray(vals[0], dt) + np.arange(n, dtype=dt) * np.asarray(vals[2], dt)).astype(
            dt
        )

    return fn


_base.register_simple("Range", _range_infer, _range_lower)


@_base.host_evaluator("Range")
def _range_host(op, start, limit, delta):
    return _range_lower(op)(start, limit, delta)


def _range_op(start, limit, delta, name=None):
    with ops.name_scope(name, "Range") as scope:
        s = _base.to_tensor(start, name="start")
        lim = _base.to_tensor(limit, dtype=s.dtype, name="limit")
        d = _base.to_tensor(delta, dtype=s.dtype, name="delta")
        return _base.output("Range", [s, lim, d], {"Tidx": s.dtype}, name=scope)


_RANGE_TYPES = (
    dtypes.int32,
    dtypes.int64,
    dtypes.float16,
    dtypes.bfloat16,
    dtypes.float32,
    dtypes.float64,
)


def range(start, limit=None, delta=1, dtype=None, name="range"):  # noqa: A001 - TF's name
    """``[start, start + delta, ...)`` up to ``limit`` (op ``Range``); with one argument it is
    the limit. Without ``dtype``: the widest of the arguments' types (ints are int32, floats
    float32)."""
    if limit is None:
        start, limit = 0, start
    with ops.name_scope(name, "Range", [start, limit, delta]) as scope:
        if dtype is not None:
            dtype = dtypes.as_dtype(dtype)
        args = []
        for v, n in ((start, "start"), (limit, "limit"), (delta, "delta")):
            if not isinstance(v, ops.Tensor):
                v = _base.to_tensor(v, dtype=dtype, name=n)
            args.append(v)
        if dtype is None:
            for a in args:
                if a.dtype not in _RANGE_TYPES:
                    raise TypeError(f"Unsupported dtype for tf.range: {a.dtype.name}")
            dtype = max((a.dtype for a in args), key=_RANGE_TYPES.index)
        args = [cast(a, dtype) for a in args]
        return _base.output("Range", args, {"Tidx": dtype}, name=scope)


def _linspace_infer(op):
    start, _, n = op._inputs
    num = _static(n)
    num = None if num is None else int(num)
    s = _base.dims(start)
    if s is None:
        return [(start.dtype, None)]
    axis = op._attrs.get("axis", 0) % (len(s) + 1)
    return [(start.dtype, s[:axis] + (num,) + s[axis:])]


def _linspace_lower(op):
    axis = op._attrs.get("axis", 0)
    dt = op._outputs[0].dtype.as_numpy_dtype

    def fn(start, stop, n):
        num = _ints(n, "linspace's num")[0]
        return jnp.linspace(start, stop, num, axis=axis).astype(dt)

    return fn


_base.register_simple("LinSpace", _linspace_infer, _linspace_lower)


def linspace(start, stop, num, name=None, axis=0):
    """``num`` evenly spaced values from ``start`` to ``stop`` inclusive, along a new ``axis``
    (integer bounds give float64, as in TF)."""
    with ops.name_scope(name, "linspace", [start, stop]) as scope:
        s = _base.to_tensor(start, name="start")
        if s.dtype.is_integer:
            s = cast(s, dtypes.float64)
        e = _base.to_tensor(stop, name="stop")
        e = cast(e, s.dtype) if e.dtype != s.dtype else e
        n = _int_tensor(num, "num")
        attrs = {"T": s.dtype, "Tidx": n.dtype}
        if axis:
            attrs["axis"] = axis
        # TF assembles linspace from several ops; its result is the op ``Slice`` in the scope.
        del scope
        return _base.output("LinSpace", [s, e, n], attrs, name="Slice")


lin_space = linspace


# == ShapeN, BroadcastTo, BroadcastArgs ==============================================================
_base.register_simple(
    "ShapeN",
    lambda op: [
        (op._attrs["out_type"], (None if (d := _base.dims(t)) is None else len(d),))
        for t in op._inputs
    ],
    lambda op: (
        lambda *xs: _outputs(
            [np.asarray(np.shape(x), dtype=op._attrs["out_type"].as_numpy_dtype) for x in xs]
        )
    ),
)


def shape_n(input, out_type=dtypes.int32, name=None):  # noqa: A002
    """The shapes of several tensors (op ``ShapeN``, one output per tensor)."""
    with ops.name_scope(name, "ShapeN", input) as scope:
        xs = _convert_list(input, "input", "ShapeN")
        op = _base.make_op(
            "ShapeN",
            xs,
            {"N": len(xs), "T": xs[0].dtype, "out_type": dtypes.as_dtype(out_type)},
            name=scope,
        )
        return list(op.outputs)


def _broadcast_to_infer(op):
    x, s = op._inputs
    target = _partial_ints(s)
    xs = _base.dims(x)
    if target is None:
        return [(x.dtype, None)]
    target = tuple(None if d is not None and d < 0 else d for d in target)
    if xs is not None:
        if len(xs) > len(target):
            raise _shape_error(
                op,
                f"Rank of input ({len(xs)}) must be no greater than rank of output shape "
                f"({len(target)})",
            )
        for d, t in zip(reversed(xs), reversed(target)):
            if d is not None and t is not None and d != 1 and d != t:
                raise _shape_error(op, f"Dimensions must be equal, but are {d} and {t}")
    return [(x.dtype, target)]


_base.register_simple(
    "BroadcastTo",
    _broadcast_to_infer,
    lambda op: lambda x, s: jnp.broadcast_to(x, _ints(s, "broadcast_to's shape")),
)


def broadcast_to(input, shape, name=None):  # noqa: A002
    """Broadcasts ``input`` to ``shape`` by NumPy's rules."""
    with ops.name_scope(name, "BroadcastTo", [input, shape]) as scope:
        x = _base.to_tensor(input, name="input")
        s = _int_tensor(shape, "shape")
        return _base.output("BroadcastTo", [x, s], {"T": x.dtype, "Tidx": s.dtype}, name=scope)


def _broadcast_args_infer(op):
    a, b = (_base.dims(t) for t in op._inputs)
    n = None if a is None or b is None or None in a or None in b else max(a[0], b[0])
    return [(op._inputs[0].dtype, (n,))]


def _broadcast_args_lower(op):
    dt = op._inputs[0].dtype.as_numpy_dtype

    def fn(a, b):
        try:
            shape = np.broadcast_shapes(_ints(a, "a shape"), _ints(b, "a shape"))
        except ValueError:
            from tfstyle.framework import errors

            raise errors.InvalidArgumentError(
                None,
                op,
                f"Incompatible shapes: [{_fmt_dims(tuple(a))}] vs. [{_fmt_dims(tuple(b))}]",
            ) from None
        return np.asarray(shape, dtype=dt)

    return fn


_base.register_simple("BroadcastArgs", _broadcast_args_infer, _broadcast_args_lower)


@_base.host_evaluator("BroadcastArgs")
def _broadcast_args_host(op, a, b):
    return _broadcast_args_lower(op)(a, b)


def broadcast_dynamic_shape(shape_x, shape_y):
    """The broadcast of two shape tensors (op ``BroadcastArgs``)."""
    with ops.name_scope(None, "BroadcastArgs", [shape_x, shape_y]) as scope:
        a = _int_tensor(shape_x, "s0")
        b = _int_tensor(shape_y, "s1", a.dtype)
        return _base.output("BroadcastArgs", [a, b], {"T": a.dtype}, name=scope)


def broadcast_static_shape(shape_x, shape_y):
    """The broadcast of two ``TensorShape``s; ``ValueError`` if they are incompatible."""
    a, b = _shape.as_shape(shape_x), _shape.as_shape(shape_y)
    try:
        return _shape.TensorShape(_base.broadcast_dims(a.as_tuple(), b.as_tuple()))
    except ValueError:
        raise ValueError(
            "Incompatible shapes for broadcasting. Two shapes are compatible if for each "
            f"dimension pair they are either equal or one of them is 1. Received: {a} and {b}."
        ) from None


# == boolean_mask, sequence_mask, meshgrid ========================================================
def boolean_mask(tensor, mask, name="boolean_mask", axis=None):
    """The elements (or slices along ``axis``) of ``tensor`` where ``mask`` is true.

    The result's size depends on the mask's values; XLA needs it when the graph is compiled, so
    tfstyle computes it when the mask is known then (a constant or computed from constants) and
    raises ``InvalidArgumentError`` at run time when the mask depends on a fed value or a
    variable.
    """
    with ops.name_scope(name, "boolean_mask", [tensor, mask]):
        x = _base.to_tensor(tensor, name="tensor")
        m = _base.to_tensor(mask, name="mask")
        mshape, xshape = m.shape, x.shape
        nm = mshape.ndims
        if nm == 0:
            raise ValueError("mask cannot be scalar.")
        if nm is None:
            raise ValueError(
                "Number of mask dimensions must be specified, even if some dimensions are None."
                "  E.g. shape=[None] is ok, but shape=None is not."
            )
        axis = 0 if axis is None else axis
        axis_value = _static(axis) if isinstance(axis, ops.Tensor) else axis
        if axis_value is not None:
            axis = int(axis_value)
            xshape[axis : axis + nm].assert_is_compatible_with(mshape)
        full = shape(x)
        # TF multiplies the masked dimensions out with ``Prod``; -1 gives the same reshape.
        x = reshape(x, concat([full[:axis], [-1], full[axis + nm :]], 0))
        if axis_value is not None and xshape.ndims is not None:
            first = xshape[axis : axis + nm].num_elements()
            x.set_shape(list(xshape[:axis]) + [first] + list(xshape[axis + nm :]))
        m = reshape(m, [-1])
        from .math_ops import where

        indices = squeeze(where(m), axis=[1])
        return gather(x, indices, axis=axis)


def _fold_max(t):
    v, axes = (_static(x) for x in t.op.inputs)
    if v is None or axes is None:
        return None
    keep = bool(t.op._attrs.get("keep_dims", False))
    return np.max(v, axis=tuple(np.reshape(axes, [-1]).tolist()), keepdims=keep)


def _fold_maximum(t):
    a, b = (_static(x) for x in t.op.inputs)
    return None if a is None or b is None else np.maximum(a, b).astype(a.dtype)


# sequence_mask's default maxlen is max(lengths), known when the lengths are: TF folds it into
# the static shape. (Only where the ops' own modules register no folder.)
_base._CONSTANT_FOLDERS.setdefault("Max", _fold_max)
_base._CONSTANT_FOLDERS.setdefault("Maximum", _fold_maximum)


def sequence_mask(lengths, maxlen=None, dtype=dtypes.bool, name=None):
    """``mask[i..., j] = j < lengths[i...]`` for ``j < maxlen`` (default: the largest length)."""
    with ops.name_scope(name, "SequenceMask", [lengths, maxlen]):
        lengths = _base.to_tensor(lengths)
        if maxlen is None:
            from .math_ops import maximum
            from .reduction_ops import reduce_max

            rank_l = lengths.shape.ndims
            axes = (
                constant(np.arange(rank_l, dtype=np.int32))
                if rank_l is not None
                else _range_op(0, rank(lengths), 1)
            )
            maxlen = reduce_max(lengths, axes)
            maxlen = maximum(constant(0, maxlen.dtype), maxlen)
        else:
            maxlen = _base.to_tensor(maxlen)
        if maxlen.shape.ndims is not None and maxlen.shape.ndims != 0:
            raise ValueError(
                f"Argument `maxlen` must be scalar for sequence_mask, received `maxlen` = {maxlen}."
            )
        row = _range_op(constant(0, maxlen.dtype), maxlen, constant(1, maxlen.dtype))
        matrix = _base.output(
            "Cast",
            [expand_dims(lengths, -1)],
            {"SrcT": lengths.dtype, "DstT": maxlen.dtype, "Truncate": False},
            name="Cast",
        )
        result = row < matrix
        dtype = dtypes.as_dtype(dtype)
        if dtype == dtypes.bool:
            return result
        return _base.output(
            "Cast", [result], {"SrcT": dtypes.bool, "DstT": dtype, "Truncate": False}, name="Cast"
        )


def meshgrid(*args, **kwargs):
    """Coordinate matrices from coordinate vectors; ``indexing`` is "xy" (default) or "ij"."""
    indexing = kwargs.pop("indexing", "xy")
    name = kwargs.pop("name", "meshgrid")
    if kwargs:
        key = list(kwargs)[0]
        raise TypeError(f"'{key}' is an invalid keyword argument for this function")
    if indexing not in ("xy", "ij"):
        raise ValueError(
            f"Argument `indexing` parameter must be either 'xy' or 'ij', got '{indexing}'"
        )
    with ops.name_scope(name, "meshgrid", args):
        ndim = len(args)
        s0 = (1,) * ndim
        if not ndim:
            return []
        output = []
        for i, x in enumerate(args):
            output.append(reshape(stack(x), s0[:i] + (-1,) + s0[i + 1 :]))
        shapes = [size(x) for x in args]
        out_dtype = _base.to_tensor(args[0]).dtype
        if indexing == "xy" and ndim > 1:
            output[0] = reshape(output[0], (1, -1) + (1,) * (ndim - 2))
            output[1] = reshape(output[1], (-1, 1) + (1,) * (ndim - 2))
            shapes[0], shapes[1] = shapes[1], shapes[0]
        mult = ones(shapes, out_dtype)
        return [x * mult for x in output]


# == ScatterNd, Unique, MatrixBandPart ===========================================================
def _scatter_nd_infer(op):
    i, u, s = op._inputs
    return [(u.dtype, _base.constant_shape(s))]


def _scatter_nd_lower(op):
    def fn(i, u, s):
        shape = _ints(s, "scatter_nd's shape")
        k = np.shape(i)[-1]
        idx = tuple(jnp.moveaxis(jnp.asarray(i), -1, 0)) if k else ()
        return jnp.zeros(shape, jnp.result_type(u)).at[idx].add(u)

    return fn


_base.register_simple("ScatterNd", _scatter_nd_infer, _scatter_nd_lower)


def scatter_nd(indices, updates, shape, name=None):
    """A zero tensor of ``shape`` with ``updates`` added at ``indices`` (duplicates sum)."""
    with ops.name_scope(name, "ScatterNd", [indices, updates, shape]) as scope:
        i = _int_tensor(indices, "indices")
        u = _base.to_tensor(updates, name="updates")
        s = _int_tensor(shape, "shape", i.dtype)
        return _base.output(
            "ScatterNd",
            [i, u, s],
            {"T": u.dtype, "Tindices": i.dtype, "bad_indices_policy": b""},
            name=scope,
        )


def _unique_lower(op):
    out_idx = op._attrs["out_idx"].as_numpy_dtype

    def fn(x):
        v = _concrete(x)
        if v is None:
            from tfstyle.framework import errors

            raise errors.InvalidArgumentError(
                None,
                op,
                f"{op.name} (Unique): the number of unique elements decides the output's size, "
                "which XLA needs when the graph is compiled; tfstyle computes it only for inputs "
                "known at graph construction, and this one depends on a fed value or a variable.",
            )
        _, first, inverse = np.unique(v, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")  # TF keeps the order of first occurrence
        rank_of = np.empty_like(order)
        rank_of[order] = np.arange(order.size)
        return v[np.sort(first)], rank_of[inverse.reshape(-1)].astype(out_idx)

    return fn


_base.register_simple(
    "Unique",
    lambda op: [
        (op._inputs[0].dtype, (None,)),
        (op._attrs["out_idx"], _base.dims(op._inputs[0])),
    ],
    _unique_lower,
)


def unique(x, out_idx=dtypes.int32, name=None):
    """The unique elements of a 1-D tensor in order of first occurrence, and for each element
    its index in them. Only for inputs known at graph construction (see ``boolean_mask``)."""
    from collections import namedtuple

    with ops.name_scope(name, "Unique", [x]) as scope:
        t = _base.to_tensor(x, name="x")
        op = _base.make_op(
            "Unique", [t], {"T": t.dtype, "out_idx": dtypes.as_dtype(out_idx)}, name=scope
        )
    return namedtuple("Unique", ["y", "idx"])(*op.outputs)


def _unique_with_counts_lower(op):
    unique_fn = _unique_lower(op)

    def fn(x):
        y, idx = unique_fn(x)
        return y, idx, np.bincount(idx, minlength=len(y)).astype(idx.dtype)

    return fn


_base.register_simple(
    "UniqueWithCounts",
    lambda op: [
        (op._inputs[0].dtype, (None,)),
        (op._attrs["out_idx"], _base.dims(op._inputs[0])),
        (op._attrs["out_idx"], (None,)),
    ],
    _unique_with_counts_lower,
)


def unique_with_counts(x, out_idx=dtypes.int32, name=None):
    """``unique`` plus how often each unique element occurs."""
    from collections import namedtuple

    with ops.name_scope(name, "UniqueWithCounts", [x]) as scope:
        t = _base.to_tensor(x, name="x")
        op = _base.make_op(
            "UniqueWithCounts",
            [t],
            {"T": t.dtype, "out_idx": dtypes.as_dtype(out_idx)},
            name=scope,
        )
    return namedtuple("UniqueWithCounts", ["y", "idx", "count"])(*op.outputs)


def _band_part_lower(op):
    def fn(x, lo, hi):
        lo, hi = _ints(lo, "num_lower")[0], _ints(hi, "num_upper")[0]
        m, n = np.shape(x)[-2:]
        r = np.arange(m)[:, None]
        c = np.arange(n)[None, :]
        keep = ((lo < 0) | (r - c <= lo)) & ((hi < 0) | (c - r <= hi))
        return jnp.where(keep, x, jnp.zeros_like(x))

    return fn


_base.register_simple("MatrixBandPart", _base.same_as_input, _band_part_lower)


def matrix_band_part(input, num_lower, num_upper, name=None):  # noqa: A002
    """Keeps a band of each innermost matrix (negative counts keep the whole triangle)."""
    with ops.name_scope(name, "MatrixBandPart", [input, num_lower, num_upper]) as scope:
        x = _base.to_tensor(input, name="input")
        lo = _int_tensor(num_lower, "num_lower", dtypes.int64)
        hi = _int_tensor(num_upper, "num_upper", lo.dtype)
        return _base.output(
            "MatrixBandPart", [x, lo, hi], {"T": x.dtype, "Tindex": lo.dtype}, name=scope
        )


# -- ops of TF's gradient graphs ----------------------------------------------------------------
def _invert_permutation_lower(op):
    dt = op._outputs[0].dtype.as_numpy_dtype

    def fn(x):
        return jnp.argsort(jnp.asarray(x)).astype(dt)  # inv[p[i]] = i

    return fn


_base.register_simple("InvertPermutation", _base.same_as_input, _invert_permutation_lower)


def _concat_offset_infer(op):
    return [(t.dtype, _base.dims(t)) for t in op._inputs[1:]]


def _concat_offset_lower(op):
    dt = op._inputs[1].dtype.as_numpy_dtype

    def fn(concat_dim, *shapes):
        # Where each input of a ConcatV2 starts in its output (shapes are static in tfstyle).
        shapes = [_base.static_ints(s, "the shapes of " + op.name) for s in shapes]
        axis = int(_base.static_ints(concat_dim, "the axis of " + op.name)) % len(shapes[0])
        offsets, start = [], 0
        for s in shapes:
            o = np.zeros(len(s), dt)
            o[axis] = start
            start += int(s[axis])
            offsets.append(o)
        return tuple(offsets)

    return fn


_base.register_simple("ConcatOffset", _concat_offset_infer, _concat_offset_lower)


def _broadcast_gradient_args_lower(op):
    dt = op._outputs[0].dtype.as_numpy_dtype

    def fn(s0, s1):
        # The axes to sum each input's gradient over: those where its shape (padded with
        # leading 1s) is 1; none when the shapes are equal (as TF).
        a = _base.static_ints(s0, "the shapes of " + op.name).tolist()
        b = _base.static_ints(s1, "the shapes of " + op.name).tolist()
        if a == b:
            return np.zeros([0], dt), np.zeros([0], dt)
        n = max(len(a), len(b))
        a, b = [1] * (n - len(a)) + a, [1] * (n - len(b)) + b
        axes = builtins.range(n)  # ``range`` here is tf.range
        return (np.asarray([i for i in axes if a[i] == 1], dt),
                np.asarray([i for i in axes if b[i] == 1], dt))  # fmt: skip

    return fn


_base.register_simple(
    "BroadcastGradientArgs",
    lambda op: [(op._inputs[0].dtype, (None,)), (op._inputs[0].dtype, (None,))],
    _broadcast_gradient_args_lower,
)
