"""Reductions: ``reduce_sum/mean/max/min/prod/any/all`` (ops ``Sum``, ``Mean``, ... with the
``keep_dims`` attr and a ``reduction_indices`` input), ``reduce_logsumexp``, ``count_nonzero``,
and ``argmax``/``argmin``."""

import jax
import jax.numpy as jnp
import numpy as np

from tfstyle.framework import dtypes, errors, ops

from . import _base
from . import math_ops as _m

_MINMAX = (
    "float32 float64 int32 uint8 int16 int8 int64 bfloat16 uint16 float16 uint32 uint64 qint8 "
    "quint8 qint32 qint16 quint16"
)


# -- shape rules ----------------------------------------------------------------------------------
def _reduced_axes(values, rank):
    """The set of non-negative axes named by ``values``, or a ``ValueError`` in TF's words."""
    out = set()
    for v in np.reshape(values, [-1]):
        v = int(v)
        if not -rank <= v < rank:
            raise ValueError(f"Invalid reduction dimension {v} for input with {rank} dimensions.")
        out.add(v % rank if rank else v)
    return out


def _computed(values):
    v = np.asarray(values)
    return "<" + " ".join(str(int(x)) for x in v.reshape(-1)) + ">"


def _reduce_infer(op):
    x, idx = op._inputs
    xs, ids = _base.dims(x), _base.dims(idx)
    keep = op._attrs["keep_dims"]
    out_dtype = x.dtype
    if ids is not None and len(ids) > 1:
        raise _m.node_error(op, f"Shape must be at most rank 1 but is rank {len(ids)}")
    values = _base.constant_value(idx)
    if values is None or xs is None:
        if keep and xs is not None:
            return [(out_dtype, (None,) * len(xs))]
        return [(out_dtype, None)]
    try:
        axes = _reduced_axes(values, len(xs))
    except ValueError as e:
        raise ValueError(
            f"{str(_m.node_error(op, str(e)))[:-1]} and with computed input tensors: "
            f"input[1] = {_computed(values)}."
        ) from None
    dims = []
    for i, d in enumerate(xs):
        if i in axes:
            if keep:
                dims.append(1)
        else:
            dims.append(d)
    return [(out_dtype, tuple(dims))]


# -- lowerings ------------------------------------------------------------------------------------
def _mean(x, axis, keepdims):
    if jnp.issubdtype(x.dtype, jnp.integer):
        # TF divides the integer sum by the count, truncating toward zero.
        count = int(np.prod([x.shape[a] for a in axis])) if axis else 1
        total = jnp.sum(x, axis=axis, keepdims=keepdims, dtype=x.dtype)
        return jax.lax.div(total, jnp.asarray(max(count, 1), x.dtype))
    return jnp.mean(x, axis=axis, keepdims=keepdims, dtype=x.dtype)


def _extreme(fn, lowest):
    def reduce(x, axis, keepdims):
        if any(x.shape[a] == 0 for a in axis):
            dt = np.dtype(x.dtype)
            if dt.kind == "f" or dt.name in ("bfloat16", "float16"):
                init = -np.inf if lowest else np.inf
            else:
                info = np.iinfo(dt)
                init = info.min if lowest else info.max
            return fn(x, axis=axis, keepdims=keepdims, initial=init)
        return fn(x, axis=axis, keepdims=keepdims)

    return reduce


_REDUCERS = {
    "Sum": (lambda x, axis, keepdims: jnp.sum(x, axis=axis, keepdims=keepdims, dtype=x.dtype)),
    "Mean": _mean,
    "Max": _extreme(jnp.max, True),
    "Min": _extreme(jnp.min, False),
    "Prod": (lambda x, axis, keepdims: jnp.prod(x, axis=axis, keepdims=keepdims, dtype=x.dtype)),
    "Any": (lambda x, axis, keepdims: jnp.any(x, axis=axis, keepdims=keepdims)),
    "All": (lambda x, axis, keepdims: jnp.all(x, axis=axis, keepdims=keepdims)),
    "EuclideanNorm": (
        lambda x, axis, keepdims: jnp.sqrt(
            jnp.sum(x * jnp.conj(x), axis=axis, keepdims=keepdims, dtype=x.dtype)
        ).astype(x.dtype)
    ),
}


def _reduce_lower(op):
    reducer = _REDUCERS[op.type]
    keep = op._attrs["keep_dims"]

    def fn(x, idx):
        values = _base.static_ints(idx, "a reduction's axes").reshape(-1)
        axes = tuple(sorted(_reduced_axes(values, np.ndim(x))))
        if len(axes) != len(values):
            seen = [int(v) % np.ndim(x) for v in values]
            dup = next(int(v) for i, v in enumerate(values) if seen[i] in seen[:i])
            raise errors.InvalidArgumentError(
                None,
                op,
                "Invalid reduction arguments: Axes contains duplicate dimension: "
                f"{dup}\n\t [[{{{{node {op.name}}}}}]]",
            )
        return reducer(x, axes, keep)

    return fn


for _type in _REDUCERS:
    _base.register_simple(_type, _reduce_infer, _reduce_lower)


@_base.host_evaluator("Max")
def _host_max(op, x, idx):
    # Shape arithmetic such as bincount's and confusion_matrix's sizes from constant values.
    x = np.asarray(x)
    axes = tuple(sorted(_reduced_axes(idx, x.ndim)))
    lowest = -np.inf if x.dtype.kind == "f" else np.iinfo(x.dtype).min
    return np.max(x, axis=axes, keepdims=op._attrs["keep_dims"], initial=lowest).astype(x.dtype)


for _type in ("Sum", "Mean", "Prod", "EuclideanNorm"):
    _m.allow(_type, _m.NUMBER)
for _type in ("Max", "Min"):
    _m.allow(_type, _MINMAX)


# -- constructors ---------------------------------------------------------------------------------
def _lookup(new_name, new_value, old_name, old_value):
    """TF's handling of renamed arguments: either spelling, not both."""
    if old_value is None:
        return new_value
    if new_value is not None:
        raise ValueError(f"Cannot specify both '{old_name}' and '{new_name}'.")
    return old_value


def _index_input(value, op_type, param, allowed=("int32", "int64")):
    if _m._is_tensor_like(value):
        t = ops.convert_to_tensor(value)
    else:
        t = _base.to_tensor(value, preferred_dtype=dtypes.int32, name=param)
    if t.dtype.name not in allowed:
        raise TypeError(
            f"Value passed to parameter '{param}' has DataType {t.dtype.name} not in list of "
            f"allowed values: {', '.join(allowed)}"
        )
    return t


def _reduction_dims(x, axis):
    if axis is not None:
        return axis
    if isinstance(x, ops.Tensor) and x.shape.ndims:
        from .constant_op import constant

        return constant(np.arange(x.shape.ndims, dtype=np.int32))
    from .array_ops import range as _range
    from .array_ops import rank

    return _range(0, rank(x))


def _reduce_op(op_type, x, dims, keepdims, name):
    with ops.name_scope(name, op_type, [x]) as scope:
        if op_type in ("Any", "All"):
            x = _m.match_input(x, dtypes.bool, "input", op_type)
        else:
            x = _base.to_tensor(x, name="input")
            _m.check_dtype(op_type, "input", x.dtype)
        idx = _index_input(dims, op_type, "reduction_indices")
        attrs = {"keep_dims": keepdims, "Tidx": idx.dtype}
        if op_type not in ("Any", "All"):
            attrs["T"] = x.dtype
        return _base.output(op_type, [x, idx], attrs, name=scope)


def _may_reduce_to_scalar(keepdims, axis, output):
    if not output.shape.is_fully_defined() and not keepdims and axis is None:
        output.set_shape(())
    return output


def _reduction(op_type, doc):
    def fn(
        input_tensor,
        axis=None,
        keepdims=None,
        name=None,
        reduction_indices=None,
        keep_dims=None,
    ):
        axis = _lookup("axis", axis, "reduction_indices", reduction_indices)
        keepdims = _lookup("keepdims", keepdims, "keep_dims", keep_dims)
        keepdims = False if keepdims is None else bool(keepdims)
        out = _reduce_op(op_type, input_tensor, _reduction_dims(input_tensor, axis), keepdims, name)
        return _may_reduce_to_scalar(keepdims, axis, out)

    fn.__name__ = "reduce_" + op_type.lower()
    fn.__doc__ = (
        f"{doc} of ``input_tensor`` along ``axis`` (all axes when ``None``; "
        "``reduction_indices`` is the old name), keeping reduced axes with size 1 when "
        "``keepdims`` (old name ``keep_dims``)."
    )
    return fn


reduce_sum = _reduction("Sum", "The sum")
reduce_mean = _reduction("Mean", "The mean (integer means truncate, as in TF)")
reduce_max = _reduction("Max", "The maximum")
reduce_min = _reduction("Min", "The minimum")
reduce_prod = _reduction("Prod", "The product")
reduce_any = _reduction("Any", "The logical or")
reduce_all = _reduction("All", "The logical and")
reduce_euclidean_norm = _reduction("EuclideanNorm", "The Euclidean norm")
reduce_euclidean_norm.__name__ = "reduce_euclidean_norm"


def reduce_logsumexp(
    input_tensor, axis=None, keepdims=None, name=None, reduction_indices=None, keep_dims=None
):
    """``log(sum(exp(input_tensor)))`` along ``axis``, computed stably as TF does."""
    from .array_ops import reshape, shape, stop_gradient

    axis = _lookup("axis", axis, "reduction_indices", reduction_indices)
    keepdims = _lookup("keepdims", keepdims, "keep_dims", keep_dims)
    keepdims = False if keepdims is None else bool(keepdims)
    with ops.name_scope(name, "ReduceLogSumExp", [input_tensor]) as scope:
        raw_max = reduce_max(input_tensor, axis=axis, keepdims=True)
        my_max = stop_gradient(_m.where_v2(_m.is_finite(raw_max), raw_max, 0))
        result = _m.log(
            reduce_sum(_m.exp(_m.subtract(input_tensor, my_max)), axis=axis, keepdims=keepdims)
        )
        if not keepdims:
            my_max = reshape(my_max, shape(result, optimize=False))
        result = _m.add(result, my_max, name=scope)
        return _may_reduce_to_scalar(keepdims, axis, result)


def count_nonzero(
    input_tensor=None,
    axis=None,
    keepdims=None,
    dtype=dtypes.int64,
    name=None,
    reduction_indices=None,
    keep_dims=None,
    input=None,  # noqa: A002 - TF's argument name
):
    """The number of non-zero elements along ``axis`` (int64 unless ``dtype`` says otherwise)."""
    from .array_ops import cast, zeros

    input_tensor = _lookup("input", input, "input_tensor", input_tensor)
    axis = _lookup("axis", axis, "reduction_indices", reduction_indices)
    keepdims = _lookup("keepdims", keepdims, "keep_dims", keep_dims)
    keepdims = False if keepdims is None else bool(keepdims)
    with ops.name_scope(name, "count_nonzero", [input_tensor]):
        x = _base.to_tensor(input_tensor, name="input")
        if x.dtype != dtypes.bool:
            x = _m._gen_binary("NotEqual", x, zeros([], dtype=x.dtype), None)
        nonzero = cast(x, dtypes.int64)
        return cast(reduce_sum(nonzero, axis=axis, keepdims=keepdims), dtype=dtype)


# -- ArgMax, ArgMin -------------------------------------------------------------------------------
def _arg_infer(op):
    x, dim = op._inputs
    xs, ds = _base.dims(x), _base.dims(dim)
    out = op._attrs["output_type"]
    if ds is not None and len(ds) != 0:
        raise _m.node_error(op, f"Shape must be rank 0 but is rank {len(ds)}")
    if xs is None:
        return [(out, None)]
    if len(xs) <= 1:
        return [(out, ())]
    v = _base.constant_value(dim)
    if v is None:
        return [(out, (None,) * (len(xs) - 1))]
    v = int(v)
    axis = v + len(xs) if v < 0 else v
    if not 0 <= axis < len(xs):
        raise ValueError(
            f"{str(_m.node_error(op, _arg_range_message(v, len(xs))))[:-1]} and with computed "
            f"input tensors: input[1] = <{v}>."
        )
    return [(out, xs[:axis] + xs[axis + 1 :])]


def _arg_range_message(v, rank):
    return (
        f"Dimension ({v}) must be in the range [{-rank}, {rank}), where {rank} is the number of "
        "dimensions in the input."
    )


def _arg_lower(op):
    fn = jnp.argmax if op.type == "ArgMax" else jnp.argmin
    out = op._attrs["output_type"].as_numpy_dtype

    def lower(x, dim):
        x = jnp.asarray(x)
        v = int(_base.static_ints(dim, "the argmax axis"))
        if not -x.ndim <= v < max(x.ndim, 1):
            raise ValueError(_arg_range_message(v, x.ndim))
        return fn(x, axis=v % max(x.ndim, 1) if x.ndim else None).astype(out)

    return lower


for _type in ("ArgMax", "ArgMin"):
    _base.register_simple(_type, _arg_infer, _arg_lower)
    _m.allow(_type, _MINMAX.replace("quint16", "quint16 bool"))

_ARG_TIDX = {"ArgMax": ("int16", "int32", "int64"), "ArgMin": ("int32", "int64")}
_ARG_OUT = {"ArgMax": ("int16", "uint16", "int32", "int64"), "ArgMin": ("int32", "int64")}


def _arg(op_type, x, axis, name, dimension, output_type):
    axis = _lookup("axis", axis, "dimension", dimension)
    if axis is None:
        axis = 0
    output_type = dtypes.as_dtype(output_type)
    if output_type.name not in _ARG_OUT[op_type]:
        raise TypeError(
            f"Value passed to parameter 'output_type' has DataType {output_type.name} not in "
            f"list of allowed values: {', '.join(_ARG_OUT[op_type])}"
        )
    with ops.name_scope(name, op_type, [x]) as scope:
        x = _base.to_tensor(x, name="input")
        _m.check_dtype(op_type, "input", x.dtype)
        dim = _index_input(axis, op_type, "dimension", _ARG_TIDX[op_type])
        attrs = {"T": x.dtype, "Tidx": dim.dtype, "output_type": output_type}
        return _base.output(op_type, [x, dim], attrs, name=scope)


def argmax(
    input,  # noqa: A002 - TF's argument name
    axis=None,
    name=None,
    dimension=None,
    output_type=dtypes.int64,
):
    """The index of the largest value along ``axis`` (default 0; old name ``dimension``), as
    int64 unless ``output_type`` says otherwise."""
    return _arg("ArgMax", input, axis, name, dimension, output_type)


def argmin(
    input,  # noqa: A002 - TF's argument name
    axis=None,
    name=None,
    dimension=None,
    output_type=dtypes.int64,
):
    """The index of the smallest value along ``axis`` (default 0; old name ``dimension``)."""
    return _arg("ArgMin", input, axis, name, dimension, output_type)


def arg_max(input, dimension, output_type=dtypes.int64, name=None):  # noqa: A002
    """The raw ``ArgMax`` op (TF1's ``tf.arg_max``)."""
    return _arg("ArgMax", input, None, name, dimension, output_type)


def arg_min(input, dimension, output_type=dtypes.int64, name=None):  # noqa: A002
    """The raw ``ArgMin`` op (TF1's ``tf.arg_min``)."""
    return _arg("ArgMin", input, None, name, dimension, output_type)
