"""``tf.nn``: activations, the softmax family, cross-entropies, normalisation, ``top_k``.

Kernel ops (``Softmax``, ``SoftmaxCrossEntropyWithLogits``, ``BiasAdd``, ``FusedBatchNormV3``,
``TopKV2``, ...) are registered here with their shape rules and lowerings; the functions TF
builds from other ops (``moments``, ``sigmoid_cross_entropy_with_logits``, ``dropout``, ...)
build the same graph of ops, with TF's names.
"""

import collections

import jax
import jax.numpy as jnp
import numpy as np

from tfstyle.framework import dtypes, errors, ops, registry
from tfstyle.ops import _base, array_ops, linalg_ops, math_ops, reduction_ops

from . import _util
from ._util import FLOATS, check_dtype, node_error, with_rank

_INTS = (dtypes.int8, dtypes.int16, dtypes.int32, dtypes.int64, dtypes.uint8, dtypes.uint16)
_REALS = FLOATS + _INTS


def _gen(op_type, inputs, attrs, name, default):
    """Creates one kernel op named like TF's generated wrappers: ``name`` or ``default``."""
    with ops.name_scope(name, default, inputs) as scope:
        return _base.make_op(op_type, inputs, attrs, name=scope)


def _convert(value, name=None, dtype=None):
    return _base.to_tensor(value, dtype=dtype, name=name)


# -- elementwise activations (ops registered in math_ops) ----------------------------------------
def _activation(op_type, allowed=_REALS):
    def fn(features, name=None):
        with ops.name_scope(name, op_type, [features]) as scope:
            x = _convert(features, "features")
            check_dtype(x, "features", allowed)
            return _base.output(op_type, [x], {"T": x.dtype}, name=scope)

    fn.__name__ = op_type.lower()
    fn.__doc__ = f"Computes ``{op_type}`` elementwise (op type ``{op_type}``)."
    return fn


relu = _activation("Relu")
relu6 = _activation("Relu6")
elu = _activation("Elu", FLOATS)
selu = _activation("Selu", FLOATS)
softplus = _activation("Softplus", FLOATS)
softsign = _activation("Softsign", FLOATS)
sigmoid = math_ops.sigmoid
tanh = math_ops.tanh


def _leaky_relu_lower(op):
    alpha = op._attrs["alpha"]

    def fn(x):
        return jnp.where(x > 0, x, x * jnp.asarray(alpha, x.dtype))

    return fn


_base.register_simple("LeakyRelu", _base.same_as_input, _leaky_relu_lower)


def leaky_relu(features, alpha=0.2, name=None):
    """``max(x, alpha * x)`` as op ``LeakyRelu``; integer inputs are first cast to float32."""
    with ops.name_scope(name, "LeakyRelu", [features, alpha]) as scope:
        x = _convert(features, "features")
        if x.dtype.is_integer:
            x = array_ops.cast(x, dtypes.float32)
        check_dtype(x, "features", FLOATS)
        if isinstance(alpha, np.ndarray):
            alpha = alpha.item()
        return _base.output("LeakyRelu", [x], {"alpha": float(alpha), "T": x.dtype}, name=scope)


# -- Softmax, LogSoftmax ---------------------------------------------------------------------------
def _rank_at_least_1(op):
    with_rank(op, 0, 1, at_least=True)
    return _base.same_as_input(op)


_base.register_simple("Softmax", _rank_at_least_1, lambda op: lambda x: jax.nn.softmax(x, axis=-1))
_base.register_simple(
    "LogSoftmax", _rank_at_least_1, lambda op: lambda x: jax.nn.log_softmax(x, axis=-1)
)


def _swap_axis(x, dim_index, last_index, name=None):
    """TF's transpose that swaps ``dim_index`` and ``last_index`` (built as TF builds it)."""
    perm = array_ops.concat(
        [
            array_ops.range(dim_index),
            [last_index],
            array_ops.range(dim_index + 1, last_index),
            [dim_index],
        ],
        0,
    )
    return array_ops.transpose(x, perm, name=name)


def _wrap_2d(op_type, param, logits, axis, name):
    x = _convert(logits)
    check_dtype(x, param, FLOATS)
    shape = x.shape
    if axis == -1 or axis == shape.ndims - 1:
        return _base.output(op_type, [x], {"T": x.dtype}, name=name or op_type)
    if shape.ndims is None:
        raise TypeError("unsupported operand type(s) for -: 'NoneType' and 'int'")
    if not -shape.ndims <= axis < shape.ndims:
        from tfstyle.framework import errors

        raise errors.InvalidArgumentError(
            None,
            None,
            f"`dim` must be in the range [{-shape.ndims}, {shape.ndims}) where {shape.ndims} "
            f"is the number of dimensions in the input. Received: dim={axis}",
        )
    array_ops.rank(x)
    input_rank = array_ops.rank(x)
    dim_axis = axis % shape.ndims
    x = _swap_axis(x, dim_axis, math_ops.subtract(input_rank, 1))
    out = _base.output(op_type, [x], {"T": x.dtype}, name=op_type)
    out = _swap_axis(out, dim_axis, math_ops.subtract(input_rank, 1), name=name)
    out.set_shape(shape)
    return out


def _axis_arg(axis, dim):
    if axis is not None and dim is not None:
        raise ValueError("Cannot specify both 'axis' and 'dim'")
    axis = dim if axis is None else axis
    return -1 if axis is None else axis


def softmax(logits, axis=None, name=None, dim=None):
    """``exp(logits) / reduce_sum(exp(logits), axis)`` as op ``Softmax``."""
    return _wrap_2d("Softmax", "logits", logits, _axis_arg(axis, dim), name)


def log_softmax(logits, axis=None, name=None, dim=None):
    """``logits - log(reduce_sum(exp(logits), axis))`` as op ``LogSoftmax``."""
    return _wrap_2d("LogSoftmax", "logits", logits, _axis_arg(axis, dim), name)


# -- SoftmaxCrossEntropyWithLogits ---------------------------------------------------------------
def _xent_infer(op):
    a = with_rank(op, 0, 2)
    b = with_rank(op, 1, 2)
    dt = op._inputs[0].dtype
    if a is None or b is None:
        d = a or b
        batch = None if d is None else d[0]
        classes = None if d is None else d[1]
    else:
        batch = _broadcast_dim(op, a[0], b[0])
        classes = _broadcast_dim(op, a[1], b[1])
    return [(dt, (batch,)), (dt, (batch, classes))]


def _broadcast_dim(op, a, b):
    if a == 1:
        return b
    if b == 1:
        return a
    return _util.merge_dim(op, a, b)


@jax.custom_vjp
def _xent(logits, labels):
    logp = jax.nn.log_softmax(logits, axis=-1)
    return -jnp.sum(labels * logp, axis=-1), jnp.exp(logp) - labels


def _xent_fwd(logits, labels):
    out = _xent(logits, labels)
    return out, (logits, out[1])


def _xent_bwd(res, g):
    # TF's gradient: the kernel's backprop times the loss gradient (exact only when labels sum
    # to 1), the labels get -log_softmax; a gradient into backprop goes through the softmax.
    logits, backprop = res
    g_loss, g_backprop = g
    d_logits = g_loss[:, None] * backprop
    sm = jax.nn.softmax(logits, axis=-1)
    d_logits = d_logits + (g_backprop - jnp.sum(g_backprop * sm, -1, keepdims=True)) * sm
    d_labels = -g_loss[:, None] * jax.nn.log_softmax(logits, axis=-1)
    return d_logits, d_labels


_xent.defvjp(_xent_fwd, _xent_bwd)


def _xent_lower(op):
    def fn(logits, labels):
        logits, labels = jnp.broadcast_arrays(logits, labels)
        return _xent(logits, labels)

    return fn


_base.register_simple("SoftmaxCrossEntropyWithLogits", _xent_infer, _xent_lower)


def _flatten_outer_dims(x):
    rank = array_ops.rank(x)
    last_dim_size = array_ops.slice(array_ops.shape(x), [math_ops.subtract(rank, 1)], [1])
    out = array_ops.reshape(x, array_ops.concat([[-1], last_dim_size], 0))
    d = _base.dims(x)
    if d is not None and None not in d[:-1]:
        out.set_shape([int(np.prod(d[:-1], dtype=np.int64)), d[-1]])
    return out


def softmax_cross_entropy_with_logits_v2(labels, logits, axis=None, name=None, dim=None):
    """Softmax cross entropy of ``logits`` against the distributions ``labels`` along ``axis``;
    gradients flow into both."""
    axis = _axis_arg(axis, dim)
    with ops.name_scope(name, "softmax_cross_entropy_with_logits", [logits, labels]) as name:
        logits = _convert(logits, "logits")
        labels = _convert(labels, "labels")
        to_f32 = logits.dtype in (dtypes.float16, dtypes.bfloat16)
        precise = array_ops.cast(logits, dtypes.float32) if to_f32 else logits
        labels = array_ops.cast(labels, precise.dtype)
        input_rank = array_ops.rank(precise)
        shape = logits.shape
        if axis != -1:

            def move_dim_to_end(t, dim_index, rank):
                perm = array_ops.concat(
                    [array_ops.range(dim_index), array_ops.range(dim_index + 1, rank), [dim_index]],
                    0,
                )
                return array_ops.transpose(t, perm)

            precise = move_dim_to_end(precise, axis, input_rank)
            labels = move_dim_to_end(labels, axis, input_rank)
        input_shape = array_ops.shape(precise)
        precise = _flatten_outer_dims(precise)
        labels = _flatten_outer_dims(labels)
        check_dtype(precise, "features", FLOATS)
        cost = _base.make_op(
            "SoftmaxCrossEntropyWithLogits", [precise, labels], {"T": precise.dtype}, name=name
        )._outputs[0]
        output_shape = array_ops.slice(input_shape, [0], [math_ops.subtract(input_rank, 1)])
        cost = array_ops.reshape(cost, output_shape)
        if shape.ndims is not None:
            s = shape.as_list()
            del s[axis]
            cost.set_shape(s)
        return array_ops.cast(cost, logits.dtype) if to_f32 else cost


def softmax_cross_entropy_with_logits(labels=None, logits=None, dim=-1, name=None, axis=None):
    """TF1's softmax cross entropy: like ``_v2`` but no gradient flows into ``labels``."""
    dim = _axis_arg(axis, dim)
    with ops.name_scope(name, "softmax_cross_entropy_with_logits_sg", [logits, labels]) as name:
        labels = array_ops.stop_gradient(labels, name="labels_stop_gradient")
    return softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits, axis=dim, name=name)


# -- SparseSoftmaxCrossEntropyWithLogits --------------------------------------------------------
def _sparse_xent_infer(op):
    a = with_rank(op, 0, 2)
    b = with_rank(op, 1, 1)
    dt = op._inputs[0].dtype
    batch = _util.merge_dim(op, None if a is None else a[0], None if b is None else b[0])
    classes = None if a is None else a[1]
    return [(dt, (batch,)), (dt, (batch, classes))]


def _sparse_xent_lower(op):
    def fn(logits, labels):
        n = logits.shape[-1]
        logp = jax.nn.log_softmax(logits, axis=-1)
        valid = (labels >= 0) & (labels < n)
        safe = jnp.where(valid, labels, 0).astype(jnp.int32)
        picked = jnp.take_along_axis(logp, safe[:, None], axis=-1)[:, 0]
        # TF's CPU kernel raises on an out-of-range label, its GPU kernel gives NaN. tfstyle
        # raises TF's error for fed labels before the run (fed_checks); labels computed inside
        # the step give NaN.
        nan = jnp.asarray(jnp.nan, logits.dtype)
        loss = jnp.where(valid, -picked, nan)
        backprop = jnp.exp(logp) - jax.nn.one_hot(safe, n, dtype=logits.dtype)
        return loss, jnp.where(valid[:, None], backprop, nan)

    return fn


_base.register_simple("SparseSoftmaxCrossEntropyWithLogits", _sparse_xent_infer, _sparse_xent_lower)


def _sparse_xent_fed_checks(op):
    logits, labels = op._inputs
    d = _base.dims(logits)
    n = None if d is None or len(d) != 2 else d[1]
    if n is None:
        return []

    def check(values):
        if not _base.any_outside(values, n):
            return
        lo, hi = values.min(), values.max()
        # TF names the lowest label where one is negative, else the highest.
        bad = lo if lo < 0 else hi
        listed = " ".join(str(v) for v in np.asarray(values).reshape(-1))
        raise errors.InvalidArgumentError(
            None,
            op,
            f"Received a label value of {bad} which is outside the valid range of [0, {n}).  "
            f"Label values: {listed}\n\t [[{{{{node {op.name}}}}}]]",
        )

    return [((labels,), check)]


registry.get("SparseSoftmaxCrossEntropyWithLogits").fed_checks = _sparse_xent_fed_checks


def sparse_softmax_cross_entropy_with_logits(labels=None, logits=None, name=None):
    """Softmax cross entropy of ``logits`` against integer class ``labels`` (int32/int64)."""
    with ops.name_scope(name, "SparseSoftmaxCrossEntropyWithLogits", [labels, logits]):
        labels = _convert(labels)
        logits = _convert(logits)
        precise = logits
        if logits.dtype in (dtypes.float16, dtypes.bfloat16):
            precise = array_ops.cast(logits, dtypes.float32)
        lshape = labels.shape
        xshape = logits.shape
        if xshape.ndims is not None and xshape.ndims == 0:
            raise ValueError(f"Logits cannot be scalars - received shape {xshape}.")
        if lshape.ndims is not None and xshape.ndims is not None:
            if lshape.ndims != xshape.ndims - 1:
                raise ValueError(
                    "`labels.shape.rank` must equal `logits.shape.rank - 1`. Received: "
                    f"labels.shape={_tuple_str(lshape)} of rank {lshape.ndims} and "
                    f"logits.shape={_tuple_str(xshape)} of rank {xshape.ndims}"
                )
            if not xshape[:-1].is_compatible_with(lshape):
                raise ValueError(
                    "`labels.shape` must equal `logits.shape` except for the last dimension. "
                    f"Received: labels.shape={_tuple_str(lshape)} and "
                    f"logits.shape={_tuple_str(xshape)}"
                )
        check_dtype(labels, "labels", (dtypes.int32, dtypes.int64))
        check_dtype(precise, "features", FLOATS)
        attrs = {"T": precise.dtype, "Tlabels": labels.dtype}
        if xshape.ndims != 2:
            # The op takes a matrix: flatten the leading dims, restored after.
            labels_shape = array_ops.shape(labels)
            num_classes = array_ops.shape(logits)[array_ops.rank(logits) - 1]
            precise = array_ops.reshape(precise, [-1, num_classes])
            labels = array_ops.reshape(labels, [-1])
        cost = _gen(
            "SparseSoftmaxCrossEntropyWithLogits",
            [precise, labels],
            attrs,
            name,
            "SparseSoftmaxCrossEntropyWithLogits",
        )._outputs[0]
        if xshape.ndims != 2:
            cost = array_ops.reshape(cost, labels_shape)
            cost.set_shape(lshape)
        if logits.dtype != precise.dtype:
            return array_ops.cast(cost, logits.dtype)
        return cost


def _tuple_str(shape):
    return str(tuple(shape.as_list())) if shape.ndims is not None else "<unknown>"


# -- cross entropies built from elementwise ops ------------------------------------------------
def sigmoid_cross_entropy_with_logits(_sentinel=None, labels=None, logits=None, name=None):
    """``max(x, 0) - x * z + log(1 + exp(-abs(x)))``, named ``logistic_loss`` as in TF."""
    if _sentinel is not None:
        raise ValueError(
            "Only call `sigmoid_cross_entropy_with_logits` with named arguments (labels=..., "
            "logits=..., ...). Received unnamed argument: " + str(_sentinel)
        )
    if labels is None or logits is None:
        raise ValueError("Both labels and logits must be provided.")
    with ops.name_scope(name, "logistic_loss", [logits, labels]) as name:
        logits = _convert(logits, "logits")
        labels = _convert(labels, "labels", dtype=logits.dtype)
        if not logits.shape.is_compatible_with(labels.shape):
            raise ValueError(
                "`logits` and `labels` must have the same shape, received "
                f"({_tuple_str(logits.shape)} vs {_tuple_str(labels.shape)})."
            )
        zeros = array_ops.zeros_like(logits, dtype=logits.dtype)
        cond = math_ops.greater_equal(logits, zeros)
        relu_logits = math_ops.where(cond, logits, zeros)
        neg_abs_logits = math_ops.where(cond, -logits, logits)
        return math_ops.add(
            relu_logits - logits * labels, math_ops.log1p(math_ops.exp(neg_abs_logits)), name=name
        )


def weighted_cross_entropy_with_logits(
    labels=None, logits=None, pos_weight=None, name=None, targets=None
):
    """Sigmoid cross entropy with the positive term weighted by ``pos_weight``."""
    if labels is not None and targets is not None:
        raise ValueError("Cannot specify both 'labels' and 'targets'")
    labels = targets if labels is None else labels
    with ops.name_scope(name, "logistic_loss", [logits, labels]) as name:
        logits = _convert(logits, "logits")
        labels = _convert(labels, "labels", dtype=logits.dtype)
        if not logits.shape.is_compatible_with(labels.shape):
            raise ValueError(
                "`logits` and `labels` must have the same shape, received "
                f"({_tuple_str(logits.shape)} vs {_tuple_str(labels.shape)})."
            )
        log_weight = 1 + (pos_weight - 1) * labels
        return math_ops.add(
            (1 - labels) * logits,
            log_weight * (math_ops.log1p(math_ops.exp(-math_ops.abs(logits))) + relu(-logits)),
            name=name,
        )


def log_poisson_loss(targets, log_input, compute_full_loss=False, name=None):
    """``exp(log_input) - log_input * targets`` (plus Stirling's term with
    ``compute_full_loss``)."""
    with ops.name_scope(name, "log_poisson_loss", [targets, log_input]) as name:
        log_input = _convert(log_input, "log_input")
        targets = _convert(targets, "targets")
        if not log_input.shape.is_compatible_with(targets.shape):
            raise ValueError(
                "`log_input` and `targets` must have the same shape, received "
                f"({_tuple_str(log_input.shape)} vs {_tuple_str(targets.shape)})."
            )
        result = math_ops.exp(log_input) - log_input * targets
        if not compute_full_loss:
            return result
        point_five = _base.to_tensor(0.5, dtype=targets.dtype)
        two_pi = _base.to_tensor(2 * np.pi, dtype=targets.dtype)
        stirling = (
            targets * math_ops.log(targets) - targets + point_five * math_ops.log(two_pi * targets)
        )
        zeros = array_ops.zeros_like(targets, dtype=targets.dtype)
        ones = array_ops.ones_like(targets, dtype=targets.dtype)
        cond = math_ops.logical_and(targets >= zeros, targets <= ones)
        return result + math_ops.where(cond, zeros, stirling)


# -- L2Loss, l2_normalize -------------------------------------------------------------------------
_base.register_simple(
    "L2Loss",
    lambda op: [(op._inputs[0].dtype, ())],
    lambda op: lambda x: jnp.sum(jnp.square(x)) / jnp.asarray(2, x.dtype),
)


def l2_loss(t, name=None):
    """``sum(t ** 2) / 2`` as op ``L2Loss``."""
    with ops.name_scope(name, "L2Loss", [t]) as scope:
        t = _convert(t, "t")
        check_dtype(t, "t", FLOATS)
        return _base.output("L2Loss", [t], {"T": t.dtype}, name=scope)


def l2_normalize(x, axis=None, epsilon=1e-12, name=None, dim=None):
    """``x / sqrt(max(sum(x ** 2, axis), epsilon))``."""
    axis = dim if axis is None else axis
    with ops.name_scope(name, "l2_normalize", [x]) as name:
        x = _convert(x, "x")
        square_sum = reduction_ops.reduce_sum(math_ops.square(x), axis, keepdims=True)
        x_inv_norm = math_ops.rsqrt(math_ops.maximum(square_sum, epsilon))
        return math_ops.multiply(x, x_inv_norm, name=name)


# -- BiasAdd --------------------------------------------------------------------------------------
def _bias_add_infer(op):
    nchw = _util.attr_bytes(op, "data_format") == b"NCHW"
    x = with_rank(op, 0, 3 if nchw else 2, at_least=True)
    b = with_rank(op, 1, 1)
    if x is None:
        return [(op._inputs[0].dtype, None)]
    c = 1 if nchw else -1
    dims_ = list(x)
    dims_[c] = _util.merge_dim(op, x[c], None if b is None else b[0])
    return [(op._inputs[0].dtype, tuple(dims_))]


def _bias_add_lower(op):
    nchw = _util.attr_bytes(op, "data_format") == b"NCHW"

    def fn(x, b):
        if nchw:
            b = jnp.reshape(b, (-1,) + (1,) * (x.ndim - 2))
        return x + b

    return fn


_base.register_simple("BiasAdd", _bias_add_infer, _bias_add_lower)


def _bias_channel(op):
    return 1 if op._attrs.get("data_format") in (b"NCHW", "NCHW") else -1


def _bias_add_grad_infer(op):
    x = _base.dims(op._inputs[0])
    return [(op._inputs[0].dtype, None if x is None else (x[_bias_channel(op)],))]


def _bias_add_grad_lower(op):
    c = _bias_channel(op)

    def fn(g):
        axis = c % g.ndim
        return jnp.sum(g, axis=tuple(i for i in range(g.ndim) if i != axis))

    return fn


# TF's gradient of BiasAdd (in its gradient graphs): the sum over all but the channel axis.
_base.register_simple("BiasAddGrad", _bias_add_grad_infer, _bias_add_grad_lower)


def bias_add(value, bias, data_format=None, name=None):
    """Adds the 1-D ``bias`` along the channel dimension of ``value`` (last, or 1 for NC*)."""
    with ops.name_scope(name, "BiasAdd", [value, bias]) as name:
        if data_format is not None:
            if data_format.startswith("NC"):
                data_format = "NCHW"
            elif data_format.startswith("N") and data_format.endswith("C"):
                data_format = "NHWC"
            else:
                raise ValueError(
                    "data_format must be of the form `N...C` or `NC...`, e.g. NHWC or NCHW. "
                    f"Received: data_format={data_format}"
                )
        value = _convert(value, "input")
        bias = _convert(bias, "bias", dtype=value.dtype)
        return _base.output(
            "BiasAdd",
            [value, bias],
            {"T": value.dtype, "data_format": _util.as_bytes(data_format or "NHWC")},
            name=name,
        )


def xw_plus_b(x, weights, biases, name=None):
    """``matmul(x, weights) + biases``."""

    with ops.name_scope(name, "xw_plus_b", [x, weights, biases]) as name:
        x = _convert(x, "x")
        weights = _convert(weights, "weights")
        biases = _convert(biases, "biases")
        mm = linalg_ops.matmul(x, weights)
        return bias_add(mm, biases, name=name)


def relu_layer(x, weights, biases, name=None):
    """``relu(matmul(x, weights) + biases)``."""

    with ops.name_scope(name, "relu_layer", [x, weights, biases]) as name:
        x = _convert(x, "x")
        weights = _convert(weights, "weights")
        biases = _convert(biases, "biases")
        xw_plus_b_ = bias_add(linalg_ops.matmul(x, weights), biases)
        return relu(xw_plus_b_, name=name)


# -- moments, batch_normalization ---------------------------------------------------------------
def moments(x, axes, shift=None, name=None, keep_dims=None, keepdims=None):
    """Mean and variance of ``x`` over ``axes`` (the mean under ``StopGradient`` in the
    variance, as TF does)."""
    if keep_dims is not None and keepdims is not None:
        raise ValueError("Cannot specify both 'keep_dims' and 'keepdims'")
    keep_dims = bool(keepdims if keep_dims is None else keep_dims)
    with ops.name_scope(name, "moments", [x, axes]):
        x = _convert(x, "x")
        y = array_ops.cast(x, dtypes.float32) if x.dtype == dtypes.float16 else x
        mean = reduction_ops.reduce_mean(y, axes, keepdims=True, name="mean")
        variance = reduction_ops.reduce_mean(
            math_ops.squared_difference(y, array_ops.stop_gradient(mean)),
            axes,
            keepdims=True,
            name="variance",
        )
        if not keep_dims:
            mean = array_ops.squeeze(mean, axes)
            variance = array_ops.squeeze(variance, axes)
        if x.dtype == dtypes.float16:
            return array_ops.cast(mean, dtypes.float16), array_ops.cast(variance, dtypes.float16)
        return mean, variance


def batch_normalization(x, mean, variance, offset, scale, variance_epsilon, name=None):
    """``scale * (x - mean) / sqrt(variance + epsilon) + offset``, as TF's ops."""
    with ops.name_scope(name, "batchnorm", [x, mean, variance, scale, offset]):
        inv = math_ops.rsqrt(variance + variance_epsilon)
        if scale is not None:
            inv = inv * scale
        x = _convert(x)
        return x * array_ops.cast(inv, x.dtype) + array_ops.cast(
            offset - mean * inv if offset is not None else -mean * inv, x.dtype
        )


# -- FusedBatchNormV3 ---------------------------------------------------------------------------
def _fbn_infer(op):
    x = with_rank(op, 0, 4)
    nchw = _util.attr_bytes(op, "data_format") == b"NCHW"
    c = None if x is None else x[1 if nchw else 3]
    training = op._attrs["is_training"] and op._attrs["exponential_avg_factor"] == 1.0
    for i in range(1, 5 if not training else 3):
        d = with_rank(op, i, 1)
        if d is not None:
            c = _util.merge_dim(op, c, d[0])
    u = op._inputs[1].dtype
    return [(op._inputs[0].dtype, x)] + [(u, (c,))] * 4 + [(u, None)]


def _fbn_lower(op):
    eps = op._attrs["epsilon"]
    factor = op._attrs["exponential_avg_factor"]
    training = op._attrs["is_training"]
    nchw = _util.attr_bytes(op, "data_format") == b"NCHW"

    def fn(x, scale, offset, mean, var):
        c_axis = 1 if nchw else 3
        axes = tuple(i for i in range(4) if i != c_axis)
        bshape = [1, 1, 1, 1]
        bshape[c_axis] = -1
        u = scale.dtype
        xu = x.astype(u)
        if training:
            m = jnp.mean(xu, axes)
            v = jnp.mean(jnp.square(xu - m.reshape(bshape)), axes)
        else:
            # TF gives no gradient to the mean and variance inputs.
            m = jax.lax.stop_gradient(mean)
            v = jax.lax.stop_gradient(var)
        inv = jax.lax.rsqrt(v + jnp.asarray(eps, u)) * scale
        y = (xu - m.reshape(bshape)) * inv.reshape(bshape) + offset.reshape(bshape)
        if not training:
            return y.astype(x.dtype), m, v, m, v, jnp.zeros((0,), u)
        n = x.size // x.shape[c_axis]
        # The running variance is the unbiased (Bessel-corrected) one, as in TF.
        unbiased = v * jnp.asarray(n / max(n - 1, 1), u)
        batch_m, batch_v = m, unbiased
        if factor != 1.0:
            f = jnp.asarray(factor, u)
            batch_m = (1 - f) * mean + f * m
            batch_v = (1 - f) * var + f * unbiased
        # TF's gradient ignores the statistics outputs.
        stop = jax.lax.stop_gradient
        return (
            y.astype(x.dtype),
            stop(batch_m),
            stop(batch_v),
            stop(m),
            stop(v),
            jnp.zeros((0,), u),
        )

    return fn


_base.register_simple("FusedBatchNormV3", _fbn_infer, _fbn_lower)


def fused_batch_norm(
    x,
    scale,
    offset,
    mean=None,
    variance=None,
    epsilon=0.001,
    data_format="NHWC",
    is_training=True,
    name=None,
    exponential_avg_factor=1.0,
):
    """Batch normalisation of a 4-D ``x`` as one op (``FusedBatchNormV3``).

    Returns ``(y, batch_mean, batch_var)``; in training the variance returned is the unbiased
    one (as TF's), while ``y`` is normalised with the biased one.
    """
    if (not is_training or exponential_avg_factor != 1.0) and (mean is None or variance is None):
        raise ValueError(
            "Both `mean` and `variance` must be a 1D tensor when `is_training` is False or "
            f"`exponential_avg_factor` != 1.0. Received: `mean` {mean!r} and `variance` "
            f"{variance!r}"
        )
    x = _convert(x, "input")
    scale = _convert(scale, "scale")
    offset = _convert(offset, "offset")
    if mean is None:
        from tfstyle.ops.constant_op import constant

        mean = constant([])
    if variance is None:
        from tfstyle.ops.constant_op import constant

        variance = constant([])
    mean = _convert(mean)
    variance = _convert(variance)
    # TF raises epsilon to cuDNN's minimum.
    epsilon = max(float(epsilon), 1.001e-5)
    check_dtype(x, "x", (dtypes.float16, dtypes.bfloat16, dtypes.float32))
    op = _gen(
        "FusedBatchNormV3",
        [x, scale, offset, mean, variance],
        {
            "T": x.dtype,
            "U": scale.dtype,
            "epsilon": epsilon,
            "exponential_avg_factor": float(exponential_avg_factor),
            "data_format": _util.as_bytes(data_format),
            "is_training": bool(is_training),
        },
        name,
        "FusedBatchNormV3",
    )
    return op._outputs[0], op._outputs[1], op._outputs[2]


# -- TopKV2, InTopKV2 -----------------------------------------------------------------------------
TopKV2 = collections.namedtuple("TopKV2", ["values", "indices"])


def _top_k_infer(op):
    x = with_rank(op, 0, 1, at_least=True)
    k_val = _base.constant_value(op._inputs[1])
    k = None if k_val is None else int(k_val)
    computed = None if k is None else f"input[1] = <{k}>"
    if k is not None and k < 0:
        raise node_error(
            op,
            "Dimension size, given by scalar input 1, must be non-negative but is " + str(k),
            computed,
        )
    if x is None:
        return [(op._inputs[0].dtype, None), (op._attrs["index_type"], None)]
    if k is not None and x[-1] is not None and x[-1] < k:
        raise node_error(op, f"input must have last dimension >= k = {k} but is {x[-1]}", computed)
    out = tuple(x[:-1]) + (k,)
    return [(op._inputs[0].dtype, out), (op._attrs["index_type"], out)]


def _top_k_lower(op):
    def fn(x, k):
        k = int(_base.static_ints(k, "top_k's k"))
        values, indices = jax.lax.top_k(x, k)
        return values, indices.astype(op._attrs["index_type"].as_numpy_dtype)

    return fn


_base.register_simple("TopKV2", _top_k_infer, _top_k_lower)


def top_k(input, k=1, sorted=True, name=None, index_type=dtypes.int32):  # noqa: A002
    """The ``k`` largest entries of the last dimension and their indices (``TopKV2``)."""
    with ops.name_scope(name, "TopKV2", [input, k]) as scope:
        x = _convert(input, "input")
        check_dtype(x, "input", _REALS)
        k = _convert(k, "k", dtype=dtypes.int32)
        op = _base.make_op(
            "TopKV2",
            [x, k],
            {
                "sorted": bool(sorted),
                "T": x.dtype,
                "Tk": k.dtype,
                "index_type": dtypes.as_dtype(index_type),
            },
            name=scope,
        )
        return TopKV2(op._outputs[0], op._outputs[1])


def _in_top_k_infer(op):
    p = with_rank(op, 0, 2)
    t = with_rank(op, 1, 1)
    with_rank(op, 2, 0)
    batch = _util.merge_dim(op, None if p is None else p[0], None if t is None else t[0])
    return [(dtypes.bool, (batch,))]


def _in_top_k_lower(op):
    def fn(predictions, targets, k):
        n = predictions.shape[1]
        valid = (targets >= 0) & (targets < n)
        safe = jnp.where(valid, targets, 0).astype(jnp.int32)
        target_pred = jnp.take_along_axis(predictions, safe[:, None], axis=1)
        finite = jnp.all(jnp.isfinite(predictions), axis=1)
        more = jnp.sum(predictions > target_pred, axis=1)
        return valid & finite & (more < k)

    return fn


_base.register_simple("InTopKV2", _in_top_k_infer, _in_top_k_lower)


def in_top_k(predictions, targets, k, name=None):
    """Whether each ``targets[i]`` is among the top ``k`` of ``predictions[i]`` (ties count)."""
    with ops.name_scope(name, "in_top_k"):
        with ops.name_scope(None, name or "InTopKV2", [predictions, targets, k]) as scope:
            predictions = _convert(predictions, "predictions")
            if predictions.dtype != dtypes.float32:
                raise TypeError(
                    f"Input 'predictions' of 'InTopKV2' Op has type {predictions.dtype.name} "
                    "that does not match expected type of float32."
                )
            targets = _convert(targets, "targets")
            check_dtype(targets, "T", (dtypes.int32, dtypes.int64))
            k = _convert(k, "k", dtype=targets.dtype)
            return _base.output(
                "InTopKV2", [predictions, targets, k], {"T": targets.dtype}, name=scope
            )


# -- dropout ------------------------------------------------------------------------------------
def _noise_shape(x, noise_shape):
    if noise_shape is None:
        return array_ops.shape(x)
    from tfstyle.framework import tensor_shape

    try:
        ns = tensor_shape.as_shape(noise_shape)
    except (TypeError, ValueError):
        return noise_shape
    xd = x.shape.as_tuple()
    if xd is not None and ns.ndims is not None and len(xd) == ns.ndims:
        return [n if n is not None else d for d, n in zip(xd, ns.as_tuple())]
    return noise_shape


def dropout(x, keep_prob=None, noise_shape=None, seed=None, name=None, rate=None):
    """Zeroes each element with probability ``rate`` (``1 - keep_prob``) and scales the rest by
    ``1 / (1 - rate)``."""
    import numbers

    from tfstyle.ops import random_ops
    from tfstyle.ops.constant_op import constant

    try:
        from_keep_prob = 1.0 - keep_prob if keep_prob is not None else None
    except TypeError:
        raise ValueError(
            "`keep_prob` must be a floating point number or Tensor. Received: "
            f"keep_prob={keep_prob}"
        ) from None
    if rate is not None and from_keep_prob is not None:
        raise ValueError("Cannot specify both 'rate' and 'keep_prob'")
    rate = from_keep_prob if rate is None else rate
    if rate is None:
        raise ValueError(f"`rate` must be provided. Received: rate={rate}")
    with ops.name_scope(name, "dropout", [x]) as name:
        is_rate_number = isinstance(rate, numbers.Real)
        if is_rate_number and (rate < 0 or rate >= 1):
            raise ValueError(
                "`rate` must be a scalar tensor or a float in the range [0, 1). Received: "
                f"rate={rate}"
            )
        x = _convert(x, "x")
        if not x.dtype.is_floating:
            raise ValueError(
                "`x.dtype` must be a floating point tensor as `x` will be scaled. Received: "
                f"x_dtype={x.dtype!r}"
            )
        if is_rate_number and rate == 0:
            return x
        if not isinstance(rate, ops.Tensor):
            if not is_rate_number:
                raise ValueError(f"`rate` must be a scalar or scalar tensor. Received: rate={rate}")
            scale = _convert(1 / (1 - rate), dtype=x.dtype)
            ret = _base.output("Mul", [x, scale], {"T": x.dtype}, name="Mul")
        else:
            rate.shape.assert_has_rank(0)
            if rate.dtype != x.dtype:
                rate = array_ops.cast(rate, x.dtype, name="rate")
            one = constant(1, dtype=x.dtype)
            diff = _base.output("Sub", [one, rate], {"T": x.dtype}, name="Sub")
            ret = _base.output("RealDiv", [x, diff], {"T": x.dtype}, name="RealDiv")
        random_tensor = random_ops.random_uniform(
            _noise_shape(x, noise_shape), seed=seed, dtype=x.dtype
        )
        keep_mask = random_tensor >= rate
        ret = math_ops.where_v2(keep_mask, ret, constant(0, dtype=x.dtype))
        ret.set_shape(x.shape)
        return ret


# -- swish, crelu -------------------------------------------------------------------------------
def _identity_n_infer(op):
    return [(t.dtype, t._shape) for t in op._inputs]


# IdentityN passes its inputs through (TF wraps custom-gradient functions in it).
# (A lowering returns the value itself for an op with one output.)
_base.register_simple(
    "IdentityN", _identity_n_infer, lambda op: lambda *xs: xs[0] if len(xs) == 1 else tuple(xs)
)


def swish(features, beta=1.0):
    """``features * sigmoid(beta * features)``."""
    features = _convert(features, "features")
    beta = array_ops.cast(_convert(beta, "beta"), features.dtype)
    out = features * math_ops.sigmoid(beta * features)
    array_ops.identity(out)
    return _base.make_op(
        "IdentityN", [out, features, beta], {"T": [out.dtype] * 3}, name="IdentityN"
    )._outputs[0]


silu = swish


def crelu(features, name=None, axis=-1):
    """``relu(concat([features, -features], axis))``."""
    with ops.name_scope(name, "CRelu", [features]) as name:
        features = _convert(features, "features")
        c = array_ops.concat([features, -features], axis, name=name)
        return relu(c)


# -- LRN, normalize_moments -----------------------------------------------------------------------
def _lrn_lower(op):
    r = op._attrs["depth_radius"]
    bias, alpha, beta = op._attrs["bias"], op._attrs["alpha"], op._attrs["beta"]

    def fn(x):
        sq = jnp.square(x)
        window = (1, 1, 1, 2 * r + 1)
        zero = np.zeros((), np.dtype(x.dtype))
        total = jax.lax.reduce_window(
            sq, zero, jax.lax.add, window, (1,) * 4, [(0, 0)] * 3 + [(r, r)]
        )
        return x / (jnp.asarray(bias, x.dtype) + jnp.asarray(alpha, x.dtype) * total) ** beta

    return fn


def _lrn_infer(op):
    with_rank(op, 0, 4)
    return _base.same_as_input(op)


_base.register_simple("LRN", _lrn_infer, _lrn_lower)


def local_response_normalization(
    input,
    depth_radius=5,
    bias=1.0,
    alpha=1.0,
    beta=0.5,
    name=None,  # noqa: A002
):
    """``input / (bias + alpha * sum(input ** 2 over depth_radius channels)) ** beta``."""
    with ops.name_scope(name, "LRN", [input]) as scope:
        x = _convert(input, "input")
        check_dtype(x, "input", (dtypes.float16, dtypes.bfloat16, dtypes.float32))
        attrs = {
            "depth_radius": int(depth_radius),
            "bias": float(bias),
            "alpha": float(alpha),
            "beta": float(beta),
            "T": x.dtype,
        }
        return _base.output("LRN", [x], attrs, name=scope)


lrn = local_response_normalization


def normalize_moments(counts, mean_ss, variance_ss, shift, name=None):
    """Mean and variance from sufficient statistics (``count``, ``sum``, ``sum of squares``)."""
    with ops.name_scope(name, "normalize", [counts, mean_ss, variance_ss, shift]):
        divisor = math_ops.reciprocal(counts, name="divisor")
        if shift is not None:
            shifted_mean = math_ops.multiply(mean_ss, divisor, name="shifted_mean")
            mean = math_ops.add(shifted_mean, shift, name="mean")
        else:
            shifted_mean = math_ops.multiply(mean_ss, divisor, name="mean")
            mean = shifted_mean
        variance = math_ops.subtract(
            math_ops.multiply(variance_ss, divisor), math_ops.square(shifted_mean), name="variance"
        )
        return mean, variance


def weighted_moments(x, axes, frequency_weights, name=None, keep_dims=None, keepdims=None):
    """The mean and variance of ``x`` over ``axes``, each element counted
    ``frequency_weights`` times (broadcast against ``x``); ``0 / 0`` gives 0."""
    if keep_dims is not None and keepdims is not None:
        raise ValueError("Cannot specify both 'keep_dims' and 'keepdims'")
    keep_dims = bool(keepdims if keep_dims is None else keep_dims)
    with ops.name_scope(name, "weighted_moments", [x, frequency_weights, axes]):
        x = _convert(x, "x")
        frequency_weights = _convert(frequency_weights, "frequency_weights")
        needs_cast = x.dtype == dtypes.float16
        if needs_cast:
            x = array_ops.cast(x, dtypes.float32)
        if frequency_weights.dtype != x.dtype:
            frequency_weights = array_ops.cast(frequency_weights, x.dtype)
        weighted_input_sum = reduction_ops.reduce_sum(
            frequency_weights * x, axes, name="weighted_input_sum", keepdims=True
        )
        broadcasted_weights = frequency_weights + array_ops.zeros_like(x)
        sum_of_weights = reduction_ops.reduce_sum(
            broadcasted_weights, axes, name="sum_of_weights", keepdims=True
        )
        weighted_mean = math_ops.div_no_nan(weighted_input_sum, sum_of_weights)
        weighted_distsq = reduction_ops.reduce_sum(
            frequency_weights * math_ops.squared_difference(x, weighted_mean),
            axes,
            name="weighted_distsq",
            keepdims=True,
        )
        weighted_variance = math_ops.div_no_nan(weighted_distsq, sum_of_weights)
        if not keep_dims:
            weighted_mean = array_ops.squeeze(weighted_mean, axes)
            weighted_variance = array_ops.squeeze(weighted_variance, axes)
        if needs_cast:
            weighted_mean = array_ops.cast(weighted_mean, dtypes.float16)
            weighted_variance = array_ops.cast(weighted_variance, dtypes.float16)
        return weighted_mean, weighted_variance


def sufficient_statistics(x, axes, shift=None, keep_dims=None, name=None, keepdims=None):
    """``(count, sum of x - shift, sum of (x - shift)^2, shift)`` over ``axes``, the inputs of
    ``normalize_moments``; ``count`` is a constant where the reduced dims are known."""
    if keep_dims is not None and keepdims is not None:
        raise ValueError("Cannot specify both 'keep_dims' and 'keepdims'")
    keep_dims = bool(keepdims if keep_dims is None else keep_dims)
    axes = list(axes)
    with ops.name_scope(name, "sufficient_statistics", [x, shift]):
        x = _convert(x, "x")
        dims = x.shape.as_list() if x.shape.ndims is not None else None
        if dims is not None and all(dims[d] is not None for d in axes):
            from tfstyle.ops.constant_op import constant

            counts = constant(int(np.prod([dims[d] for d in axes])), dtype=x.dtype)
        else:
            rank = array_ops.rank(x)
            positive = [a + rank if a < 0 else a for a in axes]
            x_dims = array_ops.gather(array_ops.cast(array_ops.shape(x), x.dtype), positive)
            counts = reduction_ops.reduce_prod(x_dims, name="count")
        if shift is not None:
            shift = _convert(shift, "shift")
            m_ss = math_ops.subtract(x, shift)
            v_ss = math_ops.squared_difference(x, shift)
        else:
            m_ss = x
            v_ss = math_ops.square(x)
        m_ss = reduction_ops.reduce_sum(m_ss, axes, keepdims=keep_dims, name="mean_ss")
        v_ss = reduction_ops.reduce_sum(v_ss, axes, keepdims=keep_dims, name="var_ss")
    return counts, m_ss, v_ss, shift


def batch_norm_with_global_normalization(
    t=None,
    m=None,
    v=None,
    beta=None,
    gamma=None,
    variance_epsilon=None,
    scale_after_normalization=None,
    name=None,
    input=None,  # noqa: A002 - TF's argument names
    mean=None,
    variance=None,
):
    """``batch_normalization`` with ``gamma`` applied only if ``scale_after_normalization``."""
    t = input if t is None else t
    m = mean if m is None else m
    v = variance if v is None else v
    return batch_normalization(
        t, m, v, beta, gamma if scale_after_normalization else None, variance_epsilon, name
    )


def compute_average_loss(per_example_loss, sample_weight=None, global_batch_size=None):
    """The sum of ``per_example_loss`` (times ``sample_weight``) divided by the global batch
    size (the first dimension, one replica here, unless given)."""
    from tfstyle.ops import check_ops

    per_example_loss = _convert(per_example_loss)
    input_dtype = per_example_loss.dtype
    if sample_weight is not None:
        sample_weight = _convert(sample_weight, dtype=input_dtype)
        per_example_loss = math_ops.multiply(per_example_loss, sample_weight)
    if global_batch_size is None:
        global_batch_size = array_ops.shape(per_example_loss)[0] * 1
    else:
        global_batch_size = _convert(global_batch_size)
    check_ops.assert_scalar(global_batch_size, message="global_batch_size must be scalar.")
    check_ops.assert_integer(global_batch_size, message="global_batch_size must be an integer.")
    check_ops.assert_non_negative(
        global_batch_size, message="global_batch_size must be non-negative."
    )
    loss = reduction_ops.reduce_sum(per_example_loss)
    global_batch_size = array_ops.cast(global_batch_size, input_dtype)
    return math_ops.div_no_nan(loss, global_batch_size)


def scale_regularization_loss(regularization_loss):
    """The summed ``regularization_loss`` divided by the number of replicas (one here)."""
    loss = reduction_ops.reduce_sum(regularization_loss)
    return loss / 1.0
