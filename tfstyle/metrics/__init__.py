"""``tf.metrics``: streaming metrics. Each returns ``(value, update_op)``: running
``update_op`` folds a batch into local variables (``<name>/total``, ``<name>/count`` in the
``LOCAL_VARIABLES`` and ``METRIC_VARIABLES`` collections), ``value`` reads the result so far."""

from tfstyle.framework import dtypes, ops
from tfstyle.losses.losses_impl import broadcast_weights, remove_squeezable_dimensions
from tfstyle.ops import array_ops, math_ops, reduction_ops
from tfstyle.ops import variable_scope as vs
from tfstyle.ops.variables import Variable

__all__ = [
    "accuracy",
    "false_negatives",
    "false_positives",
    "mean",
    "mean_absolute_error",
    "mean_squared_error",
    "metric_variable",
    "precision",
    "recall",
    "root_mean_squared_error",
    "true_negatives",
    "true_positives",
]


def metric_variable(shape, dtype, validate_shape=True, name=None):
    """A non-trainable local variable initialised to zeros (in ``METRIC_VARIABLES``)."""
    return Variable(
        lambda: array_ops.zeros(shape, dtype),
        trainable=False,
        collections=[ops.GraphKeys.LOCAL_VARIABLES, ops.GraphKeys.METRIC_VARIABLES],
        validate_shape=validate_shape,
        name=name,
    )


def _remove_squeezable_dimensions(predictions, labels, weights):
    predictions = ops.convert_to_tensor(predictions)
    if labels is not None:
        labels, predictions = remove_squeezable_dimensions(labels, predictions)
        predictions.shape.assert_is_compatible_with(labels.shape)
    if weights is None:
        return predictions, labels, None
    weights = ops.convert_to_tensor(weights)
    w_rank, p_rank = weights.shape.ndims, predictions.shape.ndims
    if w_rank == 0:
        return predictions, labels, weights
    if p_rank is not None and w_rank is not None:
        if w_rank - p_rank == 1:
            weights = array_ops.squeeze(weights, [-1])
        elif p_rank - w_rank == 1:
            weights = array_ops.expand_dims(weights, [-1])
    return predictions, labels, weights


def _collect(collections, value):
    if collections:
        ops.add_to_collections(collections, value)
    return value


def mean(values, weights=None, metrics_collections=None, updates_collections=None, name=None):
    """The (weighted) mean of ``values`` over every batch seen."""
    with vs.variable_scope(name, "mean", (values, weights)):
        values = array_ops.cast(values, dtypes.float32)
        total = metric_variable([], dtypes.float32, name="total")
        count = metric_variable([], dtypes.float32, name="count")
        if weights is None:
            num_values = array_ops.cast(array_ops.size(values), dtypes.float32)
        else:
            values, _, weights = _remove_squeezable_dimensions(values, None, weights)
            weights = broadcast_weights(array_ops.cast(weights, dtypes.float32), values)
            values = math_ops.multiply(values, weights)
            num_values = reduction_ops.reduce_sum(weights)
        update_total = total.assign_add(reduction_ops.reduce_sum(values))
        with ops.control_dependencies([values]):
            update_count = count.assign_add(num_values)
        with ops.control_dependencies(None):
            value = math_ops.div_no_nan(total, math_ops.maximum(count, 0), name="value")
        _collect(metrics_collections, value)
        update_op = math_ops.div_no_nan(
            update_total, math_ops.maximum(update_count, 0), name="update_op"
        )
        _collect(updates_collections, update_op)
        return value, update_op


def accuracy(labels, predictions, weights=None, metrics_collections=None,
             updates_collections=None, name=None):  # fmt: skip
    """How often ``predictions`` equals ``labels`` (weighted), over every batch seen."""
    predictions, labels, weights = _remove_squeezable_dimensions(predictions, labels, weights)
    predictions.shape.assert_is_compatible_with(labels.shape)
    if labels.dtype != predictions.dtype:
        predictions = array_ops.cast(predictions, labels.dtype)
    is_correct = array_ops.cast(math_ops.equal(predictions, labels), dtypes.float32)
    return mean(is_correct, weights, metrics_collections, updates_collections, name or "accuracy")


def mean_squared_error(labels, predictions, weights=None, metrics_collections=None,
                       updates_collections=None, name=None):  # fmt: skip
    """The running mean of ``(labels - predictions) ** 2``."""
    predictions, labels, weights = _remove_squeezable_dimensions(predictions, labels, weights)
    squared_error = math_ops.squared_difference(labels, predictions)
    return mean(squared_error, weights, metrics_collections, updates_collections,
                name or "mean_squared_error")  # fmt: skip


def mean_absolute_error(labels, predictions, weights=None, metrics_collections=None,
                        updates_collections=None, name=None):  # fmt: skip
    """The running mean of ``|labels - predictions|``."""
    predictions, labels, weights = _remove_squeezable_dimensions(predictions, labels, weights)
    absolute_errors = math_ops.abs(predictions - labels)
    return mean(absolute_errors, weights, metrics_collections, updates_collections,
                name or "mean_absolute_error")  # fmt: skip


def root_mean_squared_error(labels, predictions, weights=None, metrics_collections=None,
                            updates_collections=None, name=None):  # fmt: skip
    """The square root of the running mean squared error."""
    predictions, labels, weights = _remove_squeezable_dimensions(predictions, labels, weights)
    mse, update_mse_op = mean_squared_error(labels, predictions, weights, None, None,
                                            name or "root_mean_squared_error")  # fmt: skip
    with ops.control_dependencies(None):
        rmse = math_ops.sqrt(mse)
    _collect(metrics_collections, rmse)
    update_rmse_op = math_ops.sqrt(update_mse_op)
    _collect(updates_collections, update_rmse_op)
    return rmse, update_rmse_op


# -- confusion counts -------------------------------------------------------------------------
def _count_condition(values, weights=None, metrics_collections=None, updates_collections=None):
    if values.dtype != dtypes.bool:
        raise TypeError(f"values must be of type bool; got {values.dtype.name}.")
    count = metric_variable([], dtypes.float32, name="count")
    values = array_ops.cast(values, dtypes.float32)
    if weights is not None:
        weights = array_ops.cast(weights, dtypes.float32)
        values = math_ops.multiply(values, weights)
    with ops.control_dependencies(None):
        value = array_ops.identity(count)
    _collect(metrics_collections, value)
    update_op = count.assign_add(reduction_ops.reduce_sum(values))
    _collect(updates_collections, update_op)
    return value, update_op


def _confusion_count(scope, want_label, want_prediction):
    def metric(labels, predictions, weights=None, metrics_collections=None,
               updates_collections=None, name=None):  # fmt: skip
        with vs.variable_scope(name, scope, (predictions, labels, weights)):
            predictions, labels, weights = _remove_squeezable_dimensions(
                array_ops.cast(predictions, dtype=dtypes.bool),
                array_ops.cast(labels, dtype=dtypes.bool),
                weights,
            )
            hit = math_ops.logical_and(
                math_ops.equal(labels, want_label), math_ops.equal(predictions, want_prediction)
            )
            return _count_condition(hit, weights, metrics_collections, updates_collections)

    metric.__name__ = scope
    label = "positive" if want_label else "negative"
    guess = "positive" if want_prediction else "negative"
    metric.__doc__ = f"The (weighted) count of {label} labels predicted {guess}."
    return metric


true_positives = _confusion_count("true_positives", True, True)
false_positives = _confusion_count("false_positives", False, True)
true_negatives = _confusion_count("true_negatives", False, False)
false_negatives = _confusion_count("false_negatives", True, False)


def _ratio_metric(scope, other):
    def metric(labels, predictions, weights=None, metrics_collections=None,
               updates_collections=None, name=None):  # fmt: skip
        with vs.variable_scope(name, scope, (predictions, labels, weights)):
            predictions, labels, weights = _remove_squeezable_dimensions(
                array_ops.cast(predictions, dtype=dtypes.bool),
                array_ops.cast(labels, dtype=dtypes.bool),
                weights,
            )
            tp, tp_update = true_positives(labels, predictions, weights)
            other_v, other_update = other(labels, predictions, weights)

            def ratio(a, b, name):
                return math_ops.where(
                    math_ops.greater(a + b, 0), math_ops.divide(a, a + b), 0, name
                )

            with ops.control_dependencies(None):
                value = ratio(tp, other_v, "value")
            _collect(metrics_collections, value)
            update_op = ratio(tp_update, other_update, "update_op")
            _collect(updates_collections, update_op)
            return value, update_op

    metric.__name__ = scope
    return metric


precision = _ratio_metric("precision", false_positives)
precision.__doc__ = "true positives / (true positives + false positives), over every batch."
recall = _ratio_metric("recall", false_negatives)
recall.__doc__ = "true positives / (true positives + false negatives), over every batch."
