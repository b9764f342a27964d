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
    "auc",
    "average_precision_at_k",
    "false_negatives",
    "false_negatives_at_thresholds",
    "false_positives",
    "false_positives_at_thresholds",
    "mean",
    "mean_absolute_error",
    "mean_cosine_distance",
    "mean_iou",
    "mean_per_class_accuracy",
    "mean_relative_error",
    "mean_squared_error",
    "mean_tensor",
    "metric_variable",
    "percentage_below",
    "precision",
    "precision_at_k",
    "precision_at_thresholds",
    "precision_at_top_k",
    "recall",
    "recall_at_k",
    "recall_at_thresholds",
    "recall_at_top_k",
    "root_mean_squared_error",
    "sensitivity_at_specificity",
    "sparse_average_precision_at_k",
    "sparse_precision_at_k",
    "specificity_at_sensitivity",
    "true_negatives",
    "true_negatives_at_thresholds",
    "true_positives",
    "true_positives_at_thresholds",
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


def _totals_ratio(total, count, total_add, values, num_values, metrics_collections,
                  updates_collections):  # fmt: skip
    """``mean``'s and ``mean_tensor``'s end: ``total / count`` and the update op that adds
    ``total_add`` and ``num_values`` (after ``values``) and gives the new ratio."""
    update_total = total.assign_add(total_add)
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
        total_add = reduction_ops.reduce_sum(values)
        return _totals_ratio(total, count, total_add, values, num_values,
                             metrics_collections, updates_collections)  # fmt: skip


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


# -- counts at thresholds, auc ----------------------------------------------------------------
def _confusion_matrix_at_thresholds(labels, predictions, thresholds, weights=None,
                                    includes=None):  # fmt: skip
    """Local ``[len(thresholds)]`` counts of predictions above (positive) or at most
    (negative) each threshold, per true label: ``({key: variable}, {key: update})`` for the
    keys ``tp``, ``fn``, ``tn``, ``fp`` in ``includes``."""
    from tfstyle.ops import check_ops
    from tfstyle.ops.constant_op import constant

    all_includes = ("tp", "fn", "tn", "fp")
    includes = all_includes if includes is None else includes
    for key in includes:
        if key not in all_includes:
            raise ValueError(f"Invalid key: {key}")
    predictions = ops.convert_to_tensor(predictions)
    with ops.control_dependencies([
        check_ops.assert_greater_equal(predictions, array_ops.cast(0.0, predictions.dtype),
                                       message="predictions must be in [0, 1]"),
        check_ops.assert_less_equal(predictions, array_ops.cast(1.0, predictions.dtype),
                                    message="predictions must be in [0, 1]"),
    ]):  # fmt: skip
        predictions, labels, weights = _remove_squeezable_dimensions(
            array_ops.cast(predictions, dtypes.float32),
            array_ops.cast(labels, dtypes.bool),
            weights,
        )
    n = len(thresholds)
    predictions_2d = array_ops.reshape(predictions, [-1, 1])
    labels_2d = array_ops.reshape(array_ops.cast(labels, dtypes.bool), [1, -1])
    num_predictions = predictions_2d.shape.as_list()[0]
    if num_predictions is None:
        num_predictions = array_ops.shape(predictions_2d)[0]
    thresh_tiled = array_ops.tile(
        array_ops.expand_dims(constant(thresholds), [1]), array_ops.stack([1, num_predictions])
    )
    # Every threshold against every prediction: a [thresholds, predictions] grid.
    pred_is_pos = math_ops.greater(
        array_ops.tile(array_ops.transpose(predictions_2d), [n, 1]), thresh_tiled
    )
    pred_is_neg = math_ops.logical_not(pred_is_pos)
    label_is_pos = array_ops.tile(labels_2d, [n, 1])
    label_is_neg = math_ops.logical_not(label_is_pos)
    weights_tiled = None
    if weights is not None:
        weights = broadcast_weights(array_ops.cast(weights, dtypes.float32), predictions)
        weights_tiled = array_ops.tile(array_ops.reshape(weights, [1, -1]), [n, 1])
    cells = {
        "tp": ("true_positives", label_is_pos, pred_is_pos),
        "fn": ("false_negatives", label_is_pos, pred_is_neg),
        "tn": ("true_negatives", label_is_neg, pred_is_neg),
        "fp": ("false_positives", label_is_neg, pred_is_pos),
    }
    values, update_ops = {}, {}
    for key in all_includes:
        if key not in includes:
            continue
        var_name, label_cond, pred_cond = cells[key]
        var = metric_variable([n], dtypes.float32, name=var_name)
        hit = array_ops.cast(math_ops.logical_and(label_cond, pred_cond), dtypes.float32)
        if weights_tiled is not None:
            hit *= weights_tiled
        update_ops[key] = var.assign_add(reduction_ops.reduce_sum(hit, 1))
        values[key] = var
    return values, update_ops


def _at_thresholds(scope, key):
    def metric(labels, predictions, thresholds, weights=None, metrics_collections=None,
               updates_collections=None, name=None):  # fmt: skip
        with vs.variable_scope(name, scope, (predictions, labels, weights)):
            values, update_ops = _confusion_matrix_at_thresholds(
                labels, predictions, thresholds, weights=weights, includes=(key,)
            )
            value = array_ops.identity(values[key])
            _collect(metrics_collections, value)
            _collect(updates_collections, update_ops[key])
            return value, update_ops[key]

    metric.__name__ = scope
    metric.__doc__ = f"The (weighted) ``{key}`` count at each of ``thresholds``."
    return metric


true_positives_at_thresholds = _at_thresholds("true_positives", "tp")
false_positives_at_thresholds = _at_thresholds("false_positives", "fp")
true_negatives_at_thresholds = _at_thresholds("true_negatives", "tn")
false_negatives_at_thresholds = _at_thresholds("false_negatives", "fn")


def _ratio_at_thresholds(scope, other, prefix):
    def metric(labels, predictions, thresholds, weights=None, metrics_collections=None,
               updates_collections=None, name=None):  # fmt: skip
        with vs.variable_scope(name, scope, (predictions, labels, weights)):
            values, update_ops = _confusion_matrix_at_thresholds(
                labels, predictions, thresholds, weights, includes=("tp", other)
            )
            epsilon = 1e-7

            def compute(tp, b, name):
                return math_ops.divide(tp, epsilon + tp + b, name=prefix + name)

            value = compute(values["tp"], values[other], "value")
            _collect(metrics_collections, value)
            update_op = compute(update_ops["tp"], update_ops[other], "update_op")
            _collect(updates_collections, update_op)
            return value, update_op

    metric.__name__ = scope
    return metric


precision_at_thresholds = _ratio_at_thresholds("precision_at_thresholds", "fp", "precision_")
precision_at_thresholds.__doc__ = "tp / (tp + fp) at each of ``thresholds``, over every batch."
recall_at_thresholds = _ratio_at_thresholds("recall_at_thresholds", "fn", "recall_")
recall_at_thresholds.__doc__ = "tp / (tp + fn) at each of ``thresholds``, over every batch."


def auc(labels, predictions, weights=None, num_thresholds=200, metrics_collections=None,
        updates_collections=None, curve="ROC", name=None, summation_method="trapezoidal",
        thresholds=None):  # fmt: skip
    """The area under the ROC or PR curve, from confusion counts at ``num_thresholds`` (or
    the given ``thresholds``, with ``-1e-7`` and ``1 + 1e-7`` added at the ends).

    ``summation_method``: ``trapezoidal``, ``careful_interpolation`` (PR: precision
    interpolated along the positives), ``minoring``/``majoring`` (lower/upper Riemann sums).
    """
    with vs.variable_scope(name, "auc", (labels, predictions, weights)):
        if curve not in ("ROC", "PR"):
            raise ValueError(f"Curve must be either ROC or PR. Curve {curve} is unknown.")
        kepsilon = 1e-7  # floating point slack at the ends
        if thresholds is not None:
            thresholds = sorted(thresholds)
            num_thresholds = len(thresholds) + 2
        else:
            thresholds = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
        thresholds = [0.0 - kepsilon, *thresholds, 1.0 + kepsilon]
        values, update_ops = _confusion_matrix_at_thresholds(
            labels, predictions, thresholds, weights
        )
        epsilon = 1.0e-6
        m = num_thresholds - 1

        def interpolate_pr_auc(tp, fp, fn):
            # Between thresholds A and B, TP and P = TP + FP vary linearly: precision is
            # (TP_A + slope (P - P_A)) / P, whose integral over P is closed form.
            dtp = tp[:m] - tp[1:]
            p = tp + fp
            prec_slope = math_ops.div_no_nan(
                dtp, math_ops.maximum(p[:m] - p[1:], 0), name="prec_slope"
            )
            intercept = tp[1:] - math_ops.multiply(prec_slope, p[1:])
            safe_p_ratio = math_ops.where(
                math_ops.logical_and(p[:m] > 0, p[1:] > 0),
                math_ops.div_no_nan(
                    p[:m], math_ops.maximum(p[1:], 0), name="recall_relative_ratio"
                ),
                array_ops.ones_like(p[1:]),
            )
            return reduction_ops.reduce_sum(
                math_ops.div_no_nan(
                    prec_slope * (dtp + intercept * math_ops.log(safe_p_ratio)),
                    math_ops.maximum(tp[1:] + fn[1:], 0),
                    name="pr_auc_increment",
                ),
                name="interpolate_pr_auc",
            )

        def compute_auc(tp, fn, tn, fp, name):
            if curve == "PR" and summation_method == "careful_interpolation":
                return interpolate_pr_auc(tp, fp, fn)
            rec = math_ops.divide(tp + epsilon, tp + fn + epsilon)
            if curve == "ROC":
                x, y = math_ops.divide(fp, fp + tn + epsilon), rec
            else:
                x, y = rec, math_ops.divide(tp + epsilon, tp + fp + epsilon)
            if summation_method in ("trapezoidal", "careful_interpolation"):
                heights = (y[:m] + y[1:]) / 2.0
            elif summation_method == "minoring":
                heights = math_ops.minimum(y[:m], y[1:])
            elif summation_method == "majoring":
                heights = math_ops.maximum(y[:m], y[1:])
            else:
                raise ValueError(
                    f"Invalid summation_method: {summation_method} summation_method should be "
                    "'trapezoidal', 'careful_interpolation', 'minoring', or 'majoring'."
                )
            return reduction_ops.reduce_sum(math_ops.multiply(x[:m] - x[1:], heights), name=name)

        value = compute_auc(values["tp"], values["fn"], values["tn"], values["fp"], "value")
        _collect(metrics_collections, value)
        update_op = compute_auc(
            update_ops["tp"], update_ops["fn"], update_ops["tn"], update_ops["fp"], "update_op"
        )
        _collect(updates_collections, update_op)
        return value, update_op


# -- mean_iou ---------------------------------------------------------------------------------
def _streaming_confusion_matrix(labels, predictions, num_classes, weights=None):
    """A local float64 ``[num_classes, num_classes]`` matrix (rows: labels, columns:
    predictions) and the op adding a batch's (weighted) counts to it."""
    from tfstyle.ops import segment_ops

    total_cm = metric_variable(
        [num_classes, num_classes], dtypes.float64, name="total_confusion_matrix"
    )
    predictions = array_ops.reshape(array_ops.cast(predictions, dtypes.int32), [-1])
    labels = array_ops.reshape(array_ops.cast(labels, dtypes.int32), [-1])
    with ops.name_scope(None, "confusion_matrix", (predictions, labels)):
        cells = labels * num_classes + predictions
        if weights is None:
            counts = array_ops.ones_like(cells, dtype=dtypes.float64)
        else:
            counts = array_ops.reshape(array_ops.cast(weights, dtypes.float64), [-1])
        flat = segment_ops.unsorted_segment_sum(counts, cells, num_classes * num_classes)
        current_cm = array_ops.reshape(flat, [num_classes, num_classes])
    return total_cm, total_cm.assign_add(current_cm)


def mean_iou(labels, predictions, num_classes, weights=None, metrics_collections=None,
             updates_collections=None, name=None):  # fmt: skip
    """The mean over classes of intersection / union, from a streaming confusion matrix
    (local ``<name>/total_confusion_matrix``); classes absent from both are left out."""
    from tfstyle.ops import linalg_ops

    with vs.variable_scope(name, "mean_iou", (predictions, labels, weights)):
        predictions = ops.convert_to_tensor(predictions)
        labels = ops.convert_to_tensor(labels)
        predictions.shape.assert_is_compatible_with(labels.shape)
        total_cm, update_op = _streaming_confusion_matrix(labels, predictions, num_classes, weights)
        sum_over_row = array_ops.cast(reduction_ops.reduce_sum(total_cm, 0), dtypes.float32)
        sum_over_col = array_ops.cast(reduction_ops.reduce_sum(total_cm, 1), dtypes.float32)
        cm_diag = array_ops.cast(linalg_ops.diag_part(total_cm), dtypes.float32)
        denominator = sum_over_row + sum_over_col - cm_diag
        num_valid_entries = reduction_ops.reduce_sum(
            array_ops.cast(math_ops.not_equal(denominator, 0), dtypes.float32)
        )
        denominator = math_ops.where(
            math_ops.greater(denominator, 0), denominator, array_ops.ones_like(denominator)
        )
        iou = math_ops.divide(cm_diag, denominator)
        value = math_ops.where(
            math_ops.greater(num_valid_entries, 0),
            reduction_ops.reduce_sum(iou, name="mean_iou") / num_valid_entries,
            0,
        )
        _collect(metrics_collections, value)
        _collect(updates_collections, update_op)
        return value, update_op


def _at_rate(scope, rate_name, end, compute):
    def metric(labels, predictions, rate, weights=None, num_thresholds=200,
               metrics_collections=None, updates_collections=None, name=None):  # fmt: skip
        if rate < 0 or rate > 1:
            raise ValueError(
                f"`{rate_name}` must be in the range [0, 1]. Currently, `{rate_name}` "
                f"{'got' if rate_name == 'specificity' else 'is'} {rate}."
            )
        with vs.variable_scope(name, scope, (predictions, labels, weights)):
            kepsilon = 1e-7  # floating point slack at the ends
            thresholds = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            thresholds = [0.0 - kepsilon, *thresholds, end]
            values, update_ops = _confusion_matrix_at_thresholds(
                labels, predictions, thresholds, weights
            )
            keys = ("tp", "tn", "fp", "fn")
            value = compute(*(values[k] for k in keys), rate, kepsilon, "value")
            _collect(metrics_collections, value)
            update_op = compute(*(update_ops[k] for k in keys), rate, kepsilon, "update_op")
            _collect(updates_collections, update_op)
            return value, update_op

    metric.__name__ = scope
    return metric


def _sensitivity_at(tp, tn, fp, fn, specificity, kepsilon, name):
    # The threshold whose specificity is closest to the one asked for (the first such).
    specificities = math_ops.divide(tn, tn + fp + kepsilon)
    index = reduction_ops.argmin(math_ops.abs(specificities - specificity), 0)
    index = array_ops.cast(index, dtypes.int32)
    return math_ops.divide(tp[index], tp[index] + fn[index] + kepsilon, name)


def _specificity_at(tp, tn, fp, fn, sensitivity, kepsilon, name):
    # The last threshold whose sensitivity is closest to the one asked for: the first maximum
    # of the running count of the closest ones.
    sensitivities = math_ops.divide(tp, tp + fn + kepsilon)
    distance = math_ops.abs(sensitivities - sensitivity)
    min_val = reduction_ops.reduce_min(distance)
    closest = array_ops.cast(math_ops.equal(distance, min_val), dtypes.int64)
    index = reduction_ops.argmax(math_ops.cumsum(closest), 0)
    index = array_ops.cast(index, dtypes.int32)
    return math_ops.divide(tn[index], tn[index] + fp[index] + kepsilon, name)


_sensitivity_metric = _at_rate(
    "sensitivity_at_specificity", "specificity", 1.0 + 1e-7, _sensitivity_at
)
_specificity_metric = _at_rate(
    "specificity_at_sensitivity", "sensitivity", 1.0 - 1e-7, _specificity_at
)


def sensitivity_at_specificity(labels, predictions, specificity, weights=None,
                               num_thresholds=200, metrics_collections=None,
                               updates_collections=None, name=None):  # fmt: skip
    """The sensitivity (recall) at the threshold whose specificity is closest to
    ``specificity``, over every batch."""
    return _sensitivity_metric(labels, predictions, specificity, weights, num_thresholds,
                               metrics_collections, updates_collections, name)  # fmt: skip


def specificity_at_sensitivity(labels, predictions, sensitivity, weights=None,
                               num_thresholds=200, metrics_collections=None,
                               updates_collections=None, name=None):  # fmt: skip
    """The specificity at the last threshold whose sensitivity is closest to
    ``sensitivity``, over every batch."""
    return _specificity_metric(labels, predictions, sensitivity, weights, num_thresholds,
                               metrics_collections, updates_collections, name)  # fmt: skip


# -- more means -------------------------------------------------------------------------------
def mean_tensor(values, weights=None, metrics_collections=None, updates_collections=None,
                name=None):  # fmt: skip
    """The elementwise (weighted) mean of ``values`` over every batch (local
    ``<name>/total_tensor`` and ``<name>/count_tensor`` of ``values``' static shape)."""
    with vs.variable_scope(name, "mean", (values, weights)):
        values = array_ops.cast(values, dtypes.float32)
        if not values.shape.is_fully_defined():
            raise ValueError(
                f"Cannot convert a partially known TensorShape {values.shape} to a Tensor."
            )
        shape = values.shape.as_list()
        total = metric_variable(shape, dtypes.float32, name="total_tensor")
        count = metric_variable(shape, dtypes.float32, name="count_tensor")
        num_values = array_ops.ones_like(values)
        if weights is not None:
            values, _, weights = _remove_squeezable_dimensions(values, None, weights)
            weights = broadcast_weights(array_ops.cast(weights, dtypes.float32), values)
            values = math_ops.multiply(values, weights)
            num_values = math_ops.multiply(num_values, weights)
        return _totals_ratio(total, count, values, values, num_values,
                             metrics_collections, updates_collections)  # fmt: skip


def mean_relative_error(labels, predictions, normalizer, weights=None, metrics_collections=None,
                        updates_collections=None, name=None):  # fmt: skip
    """The running mean of ``|labels - predictions| / normalizer`` (0 where it is 0)."""
    predictions, labels, weights = _remove_squeezable_dimensions(predictions, labels, weights)
    predictions, normalizer = remove_squeezable_dimensions(
        predictions, ops.convert_to_tensor(normalizer)
    )
    predictions.shape.assert_is_compatible_with(normalizer.shape)
    relative_errors = math_ops.where(
        math_ops.equal(normalizer, 0.0),
        array_ops.zeros_like(labels),
        math_ops.divide(math_ops.abs(labels - predictions), normalizer),
    )
    return mean(relative_errors, weights, metrics_collections, updates_collections,
                name or "mean_relative_error")  # fmt: skip


def mean_cosine_distance(labels, predictions, dim, weights=None, metrics_collections=None,
                         updates_collections=None, name=None):  # fmt: skip
    """``1 - `` the running mean of ``sum(labels * predictions, dim)`` (unit vectors)."""
    predictions, labels, weights = _remove_squeezable_dimensions(predictions, labels, weights)
    radial_diffs = math_ops.multiply(predictions, labels)
    radial_diffs = reduction_ops.reduce_sum(radial_diffs, axis=[dim], keepdims=True)
    mean_distance, update_op = mean(radial_diffs, weights, None, None,
                                    name or "mean_cosine_distance")  # fmt: skip
    mean_distance = math_ops.subtract(1.0, mean_distance)
    update_op = math_ops.subtract(1.0, update_op)
    _collect(metrics_collections, mean_distance)
    _collect(updates_collections, update_op)
    return mean_distance, update_op


def percentage_below(values, threshold, weights=None, metrics_collections=None,
                     updates_collections=None, name=None):  # fmt: skip
    """The running fraction of ``values`` below ``threshold``."""
    is_below_threshold = array_ops.cast(math_ops.less(values, threshold), dtypes.float32)
    return mean(is_below_threshold, weights, metrics_collections, updates_collections,
                name or "percentage_below_threshold")  # fmt: skip


def mean_per_class_accuracy(labels, predictions, num_classes, weights=None,
                            metrics_collections=None, updates_collections=None,
                            name=None):  # fmt: skip
    """The mean over classes of each class's accuracy (local ``total``: the (weighted) count
    of each label, ``count``: of each label predicted right, both ``[num_classes]``)."""
    from tfstyle.ops import segment_ops

    with vs.variable_scope(name, "mean_accuracy", (predictions, labels, weights)):
        labels = array_ops.cast(labels, dtypes.int64)
        if labels.shape.ndims and labels.shape.ndims > 1:
            labels = array_ops.reshape(labels, [-1])
        predictions = array_ops.cast(predictions, dtypes.int64)
        if predictions.shape.ndims and predictions.shape.ndims > 1:
            predictions = array_ops.reshape(predictions, [-1])
        predictions.shape.assert_is_compatible_with(labels.shape)
        total = metric_variable([num_classes], dtypes.float32, name="total")
        count = metric_variable([num_classes], dtypes.float32, name="count")
        ones = array_ops.ones([array_ops.size(labels)], dtypes.float32)
        is_correct = array_ops.cast(math_ops.equal(predictions, labels), dtypes.float32)
        if weights is not None:
            if weights.shape.ndims and weights.shape.ndims > 1:
                weights = array_ops.reshape(weights, [-1])
            weights = array_ops.cast(weights, dtypes.float32)
            is_correct = is_correct * weights
            ones = ones * weights
        update_total_op = total.assign_add(
            segment_ops.unsorted_segment_sum(ones, labels, num_classes)
        )
        update_count_op = count.assign_add(
            segment_ops.unsorted_segment_sum(is_correct, labels, num_classes)
        )
        per_class_accuracy = math_ops.div_no_nan(count, total, name=None)
        mean_accuracy_v = reduction_ops.reduce_mean(per_class_accuracy, name="mean_accuracy")
        update_op = math_ops.div_no_nan(update_count_op, update_total_op, name="update_op")
        _collect(metrics_collections, mean_accuracy_v)
        _collect(updates_collections, update_op)
        return mean_accuracy_v, update_op


# -- metrics of the top k predictions ---------------------------------------------------------
def _at_k_name(prefix, k=None, class_id=None):
    name = prefix if k is None else f"{prefix}_at_{k}"
    if class_id is not None:
        name += f"_class{class_id}"
    return name


def _labels_2d(labels, predictions_idx):
    """Labels as ``[D1, ..., DN, num_labels]`` int64: a rank one less than the predictions gets
    a last axis of 1, as in TF."""
    labels = ops.convert_to_tensor(labels)
    labels = array_ops.cast(labels, dtypes.int64)
    l_rank, p_rank = labels.shape.ndims, predictions_idx.shape.ndims
    if l_rank is not None and p_rank is not None and l_rank == p_rank - 1:
        labels = array_ops.expand_dims(labels, -1)
    return labels


def _membership(a, b):
    """``[..., i]``: whether ``a[..., i]`` is one of ``b[...]``."""
    eq = math_ops.equal(array_ops.expand_dims(a, -1), array_ops.expand_dims(b, -2))
    return reduction_ops.reduce_any(eq, axis=-1)


def _first_occurrence(a):
    """``[..., i]``: whether ``a[..., i]`` differs from every ``a[..., j]``, ``j < i`` (a set's
    elements counted once)."""
    import numpy as np

    from tfstyle.ops.constant_op import constant

    eq = math_ops.equal(array_ops.expand_dims(a, -1), array_ops.expand_dims(a, -2))
    n = a.shape.as_list()[-1]
    if n is None:
        raise ValueError("tfstyle needs the number of labels per row (the last axis) statically.")
    lower = constant(np.tri(n, n, -1, dtype=bool))  # [i, j]: j < i
    return math_ops.logical_not(reduction_ops.reduce_any(math_ops.logical_and(eq, lower), -1))


def _weighted_sum(per_row, weights):
    per_row = array_ops.cast(per_row, dtypes.float64)
    if weights is not None:
        w = broadcast_weights(array_ops.cast(weights, dtypes.float64), per_row)
        per_row = math_ops.multiply(per_row, w)
    return reduction_ops.reduce_sum(per_row)


def _count_in(mask, keep):
    return reduction_ops.reduce_sum(
        array_ops.cast(math_ops.logical_and(mask, keep), dtypes.int64), axis=-1
    )


def _top_k_counts(labels, predictions_idx, class_id, kind):
    """Per row: (tp, fp) for precision, (tp, fn) for recall, as TF's set operations count them."""
    predictions_idx = array_ops.cast(predictions_idx, dtypes.int64)
    in_labels = _membership(predictions_idx, labels)
    in_predictions = _membership(labels, predictions_idx)
    if class_id is None:
        if kind == "precision":
            keep = array_ops.ones_like(in_labels)
            return (
                _count_in(in_labels, keep),
                _count_in(math_ops.logical_not(in_labels), keep),
            )
        keep = _first_occurrence(labels)
        return (
            _count_in(in_predictions, keep),
            _count_in(math_ops.logical_not(in_predictions), keep),
        )
    is_class_pred = math_ops.equal(predictions_idx, class_id)
    is_class_label = math_ops.equal(labels, class_id)
    pred_has = reduction_ops.reduce_any(is_class_pred, -1)
    label_has = reduction_ops.reduce_any(is_class_label, -1)
    tp = math_ops.logical_and(pred_has, label_has)
    if kind == "precision":
        other = math_ops.logical_and(pred_has, math_ops.logical_not(label_has))
    else:
        other = math_ops.logical_and(label_has, math_ops.logical_not(pred_has))
    return array_ops.cast(tp, dtypes.int64), array_ops.cast(other, dtypes.int64)


def _streaming_at_top_k(kind, labels, predictions_idx, k, class_id, weights, scope_name,
                        metrics_collections, updates_collections, name):  # fmt: skip
    other_name = "false_positive" if kind == "precision" else "false_negative"
    with ops.name_scope(name, scope_name, (predictions_idx, labels, weights)) as scope:
        labels = _labels_2d(labels, predictions_idx)
        tp_row, other_row = _top_k_counts(labels, predictions_idx, class_id, kind)
        tp_var = metric_variable([], dtypes.float64, name=_at_k_name("true_positive", k, class_id))
        other_var = metric_variable([], dtypes.float64, name=_at_k_name(other_name, k, class_id))
        tp_update = tp_var.assign_add(_weighted_sum(tp_row, weights))
        other_update = other_var.assign_add(_weighted_sum(other_row, weights))
        value = math_ops.divide(tp_var, tp_var + other_var, name=scope)
        update = math_ops.divide(tp_update, tp_update + other_update, name="update")
        _collect(metrics_collections, value)
        _collect(updates_collections, update)
        return value, update


def _top_k_of(predictions, k):
    from tfstyle.nn.nn_ops import top_k

    return top_k(predictions, k).indices


def _metric_at_k(kind, labels, predictions, k, class_id, weights, metrics_collections,
                 updates_collections, name, ids_given):  # fmt: skip
    """``kind`` ("precision" or "recall") at k in the scope TF names ``<kind>_at_<k>...``: of
    the top-k class ids ``predictions`` if ``ids_given``, else of its ``k`` highest entries."""
    with ops.name_scope(name, _at_k_name(kind, k, class_id),
                        (predictions, labels, weights)) as scope:  # fmt: skip
        if ids_given:
            ids = ops.convert_to_tensor(predictions)
        else:
            ids = _top_k_of(predictions, k)
        return _streaming_at_top_k(kind, labels, ids, k, class_id, weights, None,
                                   metrics_collections, updates_collections, scope)  # fmt: skip


def precision_at_top_k(labels, predictions_idx, k=None, class_id=None, weights=None,
                       metrics_collections=None, updates_collections=None,
                       name=None):  # fmt: skip
    """Precision of the given top-k class ids (``[D1, ..., DN, k]``) against the label set of
    each row; ``class_id`` restricts it to that class. Local float64 ``true_positive_at_<k>``
    and ``false_positive_at_<k>``."""
    # Without k, TF's names say "k": ``precision_at_k/true_positive_at_k``.
    k = "k" if k is None else k
    return _metric_at_k("precision", labels, predictions_idx, k, class_id, weights,
                        metrics_collections, updates_collections, name, True)  # fmt: skip


def precision_at_k(labels, predictions, k, class_id=None, weights=None,
                   metrics_collections=None, updates_collections=None, name=None):  # fmt: skip
    """Precision of the ``k`` highest ``predictions`` (logits ``[D1, ..., DN, num_classes]``)
    against the labels (``[D1, ..., DN(, num_labels)]`` int64 class ids)."""
    return _metric_at_k("precision", labels, predictions, k, class_id, weights,
                        metrics_collections, updates_collections, name, False)  # fmt: skip


def sparse_precision_at_k(labels, predictions, k, class_id=None, weights=None,
                          metrics_collections=None, updates_collections=None,
                          name=None):  # fmt: skip
    """The old name of ``precision_at_k``."""
    return precision_at_k(labels, predictions, k, class_id, weights, metrics_collections,
                          updates_collections, name)  # fmt: skip


def recall_at_top_k(labels, predictions_idx, k=None, class_id=None, weights=None,
                    metrics_collections=None, updates_collections=None, name=None):  # fmt: skip
    """Recall of each row's label set by the given top-k class ids; labels outside the
    classes count as false negatives."""
    # Without k, TF's names say "k": ``recall_at_k/true_positive_at_k``.
    k = "k" if k is None else k
    return _metric_at_k("recall", labels, predictions_idx, k, class_id, weights,
                        metrics_collections, updates_collections, name, True)  # fmt: skip


def recall_at_k(labels, predictions, k, class_id=None, weights=None, metrics_collections=None,
                updates_collections=None, name=None):  # fmt: skip
    """Recall of each row's label set by the ``k`` highest ``predictions``."""
    return _metric_at_k("recall", labels, predictions, k, class_id, weights,
                        metrics_collections, updates_collections, name, False)  # fmt: skip


def _average_precision_rows(labels, predictions_idx, k, num_classes):
    """Per row: sum over i <= k of [i-th prediction relevant] * precision@i, divided by
    min(k, number of labels in [0, num_classes))."""
    from tfstyle.ops import math_ops as m

    predictions_idx = array_ops.cast(predictions_idx, dtypes.int64)
    relevant = array_ops.cast(_membership(predictions_idx, labels), dtypes.float64)
    ranks = array_ops.range(1, k + 1, dtype=dtypes.float64)
    precision_per_k = m.divide(m.cumsum(relevant, axis=-1), ranks)
    summed = reduction_ops.reduce_sum(precision_per_k * relevant, axis=-1)
    # TF counts every label entry of a valid class, repeated ones too.
    valid = math_ops.logical_and(
        math_ops.greater_equal(labels, 0), math_ops.less(labels, num_classes)
    )
    num_labels = reduction_ops.reduce_sum(array_ops.cast(valid, dtypes.float64), axis=-1)
    return m.div_no_nan(summed, m.minimum(num_labels, float(k)))


def _streaming_average_precision(labels, predictions_idx, k, num_classes, weights,
                                 metrics_collections, updates_collections, scope):  # fmt: skip
    labels = _labels_2d(labels, predictions_idx)
    ap = _average_precision_rows(labels, predictions_idx, k, num_classes)
    if weights is None:
        batch_max = array_ops.cast(array_ops.size(ap), dtypes.float64, name="max")
        batch_total = reduction_ops.reduce_sum(ap)
    else:
        w = broadcast_weights(array_ops.cast(weights, dtypes.float64), ap)
        batch_max = reduction_ops.reduce_sum(w, name="max")
        batch_total = reduction_ops.reduce_sum(math_ops.multiply(ap, w))
    # TF's count variable is ``max_1``: the batch's count is the op ``max`` before it.
    max_var = metric_variable([], dtypes.float64, name="max")
    total_var = metric_variable([], dtypes.float64, name="total")
    update_max = max_var.assign_add(batch_max)
    update_total = total_var.assign_add(batch_total)
    value = math_ops.div_no_nan(total_var, max_var, name="mean")
    update = math_ops.div_no_nan(update_total, update_max, name=scope)
    _collect(metrics_collections, value)
    _collect(updates_collections, update)
    return value, update


def average_precision_at_k(labels, predictions, k, weights=None, metrics_collections=None,
                           updates_collections=None, name=None):  # fmt: skip
    """The mean over rows of the average precision of the ``k`` highest ``predictions``."""
    if k < 1:
        raise ValueError(f"Invalid k={k}.")
    with ops.name_scope(name, _at_k_name("average_precision", k),
                        (predictions, labels, weights)) as scope:  # fmt: skip
        predictions = ops.convert_to_tensor(predictions)
        num_classes = predictions.shape.as_list()[-1]
        if num_classes is None:
            num_classes = array_ops.cast(array_ops.shape(predictions)[-1], dtypes.int64)
        top_k_idx = _top_k_of(predictions, k)
        return _streaming_average_precision(labels, top_k_idx, k, num_classes, weights,
                                            metrics_collections, updates_collections,
                                            scope)  # fmt: skip


def sparse_average_precision_at_k(labels, predictions, k, weights=None,
                                  metrics_collections=None, updates_collections=None,
                                  name=None):  # fmt: skip
    """The old name of ``average_precision_at_k``."""
    return average_precision_at_k(labels, predictions, k, weights, metrics_collections,
                                  updates_collections, name)  # fmt: skip
