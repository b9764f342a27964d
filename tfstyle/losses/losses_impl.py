"""``tf.losses``: weighted losses reduced as TF1 reduces them, collected in ``LOSSES``."""

from tfstyle import nn
from tfstyle.framework import dtypes, ops
from tfstyle.ops import array_ops, control_flow_ops, math_ops, reduction_ops
from tfstyle.ops._base import constant_value
from tfstyle.ops.constant_op import constant

_BROADCAST_ERROR = "weights can not be broadcast to values."


class Reduction:
    """How ``compute_weighted_loss`` reduces the weighted losses."""

    NONE = "none"
    SUM = "weighted_sum"
    SUM_OVER_BATCH_SIZE = "weighted_sum_over_batch_size"
    MEAN = "weighted_mean"
    SUM_BY_NONZERO_WEIGHTS = "weighted_sum_by_nonzero_weights"
    SUM_OVER_NONZERO_WEIGHTS = SUM_BY_NONZERO_WEIGHTS

    @classmethod
    def all(cls):
        return (cls.NONE, cls.SUM, cls.MEAN, cls.SUM_OVER_BATCH_SIZE,
                cls.SUM_OVER_NONZERO_WEIGHTS, cls.SUM_BY_NONZERO_WEIGHTS)  # fmt: skip

    @classmethod
    def validate(cls, key):
        if key not in cls.all():
            raise ValueError(f"Invalid Reduction Key {key}.")


# -- weights ----------------------------------------------------------------------------------
def assert_broadcastable(weights, values):
    """A no-op when ``weights`` (scalar, or the rank of ``values`` with dims 1 or equal) can
    be broadcast to ``values``; raises ``ValueError`` when the static shapes show it cannot."""
    with ops.name_scope(None, "assert_broadcastable", (weights, values)):
        with ops.name_scope(None, "weights", (weights,)) as weights_scope:
            weights = ops.convert_to_tensor(weights, name=weights_scope)
            array_ops.shape(weights, name="shape")
            weights_rank = array_ops.rank(weights, name="rank")
        with ops.name_scope(None, "values", (values,)) as values_scope:
            values = ops.convert_to_tensor(values, name=values_scope)
            array_ops.shape(values, name="shape")
            values_rank = array_ops.rank(values, name="rank")
        w_rank, v_rank = constant_value(weights_rank), constant_value(values_rank)
        if w_rank is not None and v_rank is not None:
            if w_rank == 0:
                return control_flow_ops.no_op(name="static_scalar_check_success")
            if w_rank != v_rank:
                raise ValueError(
                    f"{_BROADCAST_ERROR} values.rank={v_rank}. weights.rank={w_rank}. "
                    f"values.shape={values.shape}. weights.shape={weights.shape}. "
                    f"Received weights={weights}, values={values}"
                )
            w_shape, v_shape = weights.shape.as_list(), values.shape.as_list()
            if None not in w_shape and None not in v_shape:
                for i, (w, v) in enumerate(zip(w_shape, v_shape)):
                    if w not in (1, v):
                        raise ValueError(
                            f"{_BROADCAST_ERROR} Mismatch at dim {i}. values.shape={v_shape}, "
                            f"weights.shape={w_shape}. Received weights={weights}, "
                            f"values={values}"
                        )
                return control_flow_ops.no_op(name="static_dims_check_success")
        # Shapes known only at run time are not checked (the multiply still broadcasts).
        return control_flow_ops.no_op(name="dynamic_check_skipped")


def broadcast_weights(weights, values):
    """``weights`` broadcast to the shape of ``values``."""
    with ops.name_scope(None, "broadcast_weights", (weights, values)) as scope:
        values = ops.convert_to_tensor(values, name="values")
        weights = ops.convert_to_tensor(weights, dtype=values.dtype.base_dtype, name="weights")
        ws, vs = weights.shape, values.shape
        if ws.is_fully_defined() and vs.is_fully_defined() and ws.is_compatible_with(vs):
            return weights
        with ops.control_dependencies((assert_broadcastable(weights, values),)):
            return math_ops.multiply(weights, array_ops.ones_like(values), name=scope)


def _safe_mean(losses, num_present):
    total = reduction_ops.reduce_sum(losses)
    return math_ops.div_no_nan(total, num_present, name="value")


def _num_present(losses, weights, per_batch=False):
    with ops.name_scope(None, "num_present", (losses, weights)) as scope:
        weights = array_ops.cast(weights, dtypes.float32)
        present = math_ops.where(
            math_ops.equal(weights, 0.0), array_ops.zeros_like(weights),
            array_ops.ones_like(weights),
        )  # fmt: skip
        present = broadcast_weights(present, losses)
        if per_batch:
            axis = array_ops.range(1, array_ops.rank(present))
            return reduction_ops.reduce_sum(present, axis=axis, keepdims=True, name=scope)
        return reduction_ops.reduce_sum(present, name=scope)


def _num_elements(losses):
    with ops.name_scope(None, "num_elements", values=[losses]) as scope:
        return array_ops.cast(array_ops.size(losses, name=scope), dtype=losses.dtype)


def add_loss(loss, loss_collection=ops.GraphKeys.LOSSES):
    """Adds ``loss`` to ``loss_collection`` (``LOSSES``)."""
    if loss_collection:
        ops.add_to_collection(loss_collection, loss)


def compute_weighted_loss(
    losses,
    weights=1.0,
    scope=None,
    loss_collection=ops.GraphKeys.LOSSES,
    reduction=Reduction.SUM_BY_NONZERO_WEIGHTS,
):
    """``losses * weights`` reduced by ``reduction`` (by default the sum divided by the
    number of non-zero weights); the result is added to ``loss_collection``."""
    Reduction.validate(reduction)
    with ops.name_scope(scope, "weighted_loss", (losses, weights)):
        with ops.control_dependencies((assert_broadcastable(weights, losses),)):
            losses = ops.convert_to_tensor(losses)
            input_dtype = losses.dtype
            losses = array_ops.cast(losses, dtypes.float32)
            weights = array_ops.cast(weights, dtypes.float32)
            weighted = math_ops.multiply(losses, weights)
            if reduction == Reduction.NONE:
                loss = weighted
            else:
                loss = reduction_ops.reduce_sum(weighted)
                if reduction == Reduction.MEAN:
                    loss = _safe_mean(
                        loss, reduction_ops.reduce_sum(array_ops.ones_like(losses) * weights)
                    )
                elif reduction == Reduction.SUM_BY_NONZERO_WEIGHTS:
                    loss = _safe_mean(loss, _num_present(losses, weights))
                elif reduction == Reduction.SUM_OVER_BATCH_SIZE:
                    loss = _safe_mean(loss, _num_elements(losses))
            loss = array_ops.cast(loss, input_dtype)
            add_loss(loss, loss_collection)
            return loss


def _check_args(labels, predictions, what="predictions"):
    if labels is None:
        raise ValueError("Argument `labels` must not be None.")
    if predictions is None:
        raise ValueError(f"Argument `{what}` must not be None.")


def _float_pair(predictions, labels):
    predictions = array_ops.cast(predictions, dtypes.float32)
    labels = array_ops.cast(labels, dtypes.float32)
    predictions.shape.assert_is_compatible_with(labels.shape)
    return predictions, labels


_SUM_NZ = Reduction.SUM_BY_NONZERO_WEIGHTS
_LOSSES = ops.GraphKeys.LOSSES


# -- losses -----------------------------------------------------------------------------------
def absolute_difference(labels, predictions, weights=1.0, scope=None,
                        loss_collection=_LOSSES, reduction=_SUM_NZ):  # fmt: skip
    """Weighted ``|predictions - labels|``."""
    _check_args(labels, predictions)
    with ops.name_scope(scope, "absolute_difference", (predictions, labels, weights)) as scope:
        predictions, labels = _float_pair(predictions, labels)
        losses = math_ops.abs(math_ops.subtract(predictions, labels))
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction)


def mean_squared_error(labels, predictions, weights=1.0, scope=None,
                       loss_collection=_LOSSES, reduction=_SUM_NZ):  # fmt: skip
    """Weighted ``(predictions - labels) ** 2``."""
    _check_args(labels, predictions)
    with ops.name_scope(scope, "mean_squared_error", (predictions, labels, weights)) as scope:
        predictions, labels = _float_pair(predictions, labels)
        losses = math_ops.squared_difference(predictions, labels)
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction)


def huber_loss(labels, predictions, weights=1.0, delta=1.0, scope=None,
               loss_collection=_LOSSES, reduction=_SUM_NZ):  # fmt: skip
    """Weighted Huber loss: quadratic within ``delta`` of the label, linear beyond."""
    _check_args(labels, predictions)
    with ops.name_scope(scope, "huber_loss", (predictions, labels, weights)) as scope:
        predictions, labels = _float_pair(predictions, labels)
        error = math_ops.subtract(predictions, labels)
        abs_error = math_ops.abs(error)
        quadratic = math_ops.minimum(abs_error, delta)
        linear = math_ops.subtract(abs_error, quadratic)
        losses = math_ops.add(
            math_ops.multiply(
                ops.convert_to_tensor(0.5, dtype=quadratic.dtype),
                math_ops.multiply(quadratic, quadratic),
            ),
            math_ops.multiply(delta, linear),
        )
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction)


def log_loss(labels, predictions, weights=1.0, epsilon=1e-7, scope=None,
             loss_collection=_LOSSES, reduction=_SUM_NZ):  # fmt: skip
    """Weighted binary log loss of probabilities ``predictions``."""
    _check_args(labels, predictions)
    with ops.name_scope(scope, "log_loss", (predictions, labels, weights)) as scope:
        predictions, labels = _float_pair(predictions, labels)
        losses = -math_ops.multiply(labels, math_ops.log(predictions + epsilon)) - (
            math_ops.multiply((1 - labels), math_ops.log(1 - predictions + epsilon))
        )
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction)


def hinge_loss(labels, logits, weights=1.0, scope=None,
               loss_collection=_LOSSES, reduction=_SUM_NZ):  # fmt: skip
    """Weighted hinge loss of ``logits`` for 0/1 ``labels``."""
    _check_args(labels, logits, "logits")
    with ops.name_scope(scope, "hinge_loss", (logits, labels, weights)) as scope:
        logits, labels = _float_pair(logits, labels)
        all_ones = array_ops.ones_like(labels)
        labels = math_ops.subtract(2 * labels, all_ones)
        losses = nn.relu(math_ops.subtract(all_ones, math_ops.multiply(labels, logits)))
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction)


def cosine_distance(labels, predictions, axis=None, weights=1.0, scope=None,
                    loss_collection=_LOSSES, reduction=_SUM_NZ, dim=None):  # fmt: skip
    """Weighted ``1 - sum(labels * predictions, axis)`` of unit-normalised inputs."""
    if dim is not None:
        if axis is not None:
            raise ValueError("Cannot specify both 'axis' and 'dim'")
        axis = dim
    if axis is None:
        raise ValueError("You must specify argument `axis`.")
    _check_args(labels, predictions)
    with ops.name_scope(scope, "cosine_distance_loss", (predictions, labels, weights)) as scope:
        predictions, labels = _float_pair(predictions, labels)
        radial_diffs = math_ops.multiply(predictions, labels)
        losses = 1 - reduction_ops.reduce_sum(radial_diffs, axis=(axis,), keepdims=True)
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction)


def sigmoid_cross_entropy(multi_class_labels, logits, weights=1.0, label_smoothing=0,
                          scope=None, loss_collection=_LOSSES, reduction=_SUM_NZ):  # fmt: skip
    """Weighted sigmoid cross-entropy; ``label_smoothing`` pulls the labels towards 1/2."""
    if multi_class_labels is None:
        raise ValueError("Argument `multi_class_labels` must not be None.")
    if logits is None:
        raise ValueError("Argument `logits` must not be None.")
    with ops.name_scope(
        scope, "sigmoid_cross_entropy_loss", (logits, multi_class_labels, weights)
    ) as scope:
        logits = ops.convert_to_tensor(logits)
        multi_class_labels = array_ops.cast(multi_class_labels, logits.dtype)
        logits.shape.assert_is_compatible_with(multi_class_labels.shape)
        if label_smoothing > 0:
            multi_class_labels = multi_class_labels * (1 - label_smoothing) + (
                0.5 * label_smoothing
            )
        losses = nn.sigmoid_cross_entropy_with_logits(
            labels=multi_class_labels, logits=logits, name="xentropy"
        )
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction)


def softmax_cross_entropy(onehot_labels, logits, weights=1.0, label_smoothing=0, scope=None,
                          loss_collection=_LOSSES, reduction=_SUM_NZ):  # fmt: skip
    """Weighted softmax cross-entropy of one-hot labels; ``label_smoothing`` mixes them with
    the uniform distribution."""
    if onehot_labels is None:
        raise ValueError("Argument `onehot_labels` must not be None.")
    if logits is None:
        raise ValueError("Argument `logits` must not be None.")
    with ops.name_scope(
        scope, "softmax_cross_entropy_loss", (logits, onehot_labels, weights)
    ) as scope:
        logits = ops.convert_to_tensor(logits)
        onehot_labels = array_ops.cast(onehot_labels, logits.dtype)
        logits.shape.assert_is_compatible_with(onehot_labels.shape)
        if label_smoothing > 0:
            num_classes = array_ops.cast(array_ops.shape(onehot_labels)[-1], logits.dtype)
            smooth_positives = 1.0 - label_smoothing
            smooth_negatives = label_smoothing / num_classes
            onehot_labels = onehot_labels * smooth_positives + smooth_negatives
        onehot_labels = array_ops.stop_gradient(onehot_labels, name="labels_stop_gradient")
        losses = nn.softmax_cross_entropy_with_logits_v2(
            labels=onehot_labels, logits=logits, name="xentropy"
        )
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction)


def mean_pairwise_squared_error(labels, predictions, weights=1.0, scope=None,
                                loss_collection=_LOSSES):  # fmt: skip
    """Weighted mean over each example of the squared differences between all pairs of
    ``predictions - labels`` entries (invariant to a per-example shift)."""
    _check_args(labels, predictions)
    with ops.name_scope(
        scope, "mean_pairwise_squared_error", (predictions, labels, weights)
    ) as scope:
        weights = array_ops.cast(weights, dtypes.float32)
        labels = array_ops.cast(labels, dtypes.float32)
        with ops.control_dependencies((assert_broadcastable(weights, labels),)):
            predictions = array_ops.cast(predictions, dtypes.float32)
            predictions.shape.assert_is_compatible_with(labels.shape)
            diffs = math_ops.subtract(predictions, labels)
            axis = array_ops.range(1, array_ops.rank(diffs))
            sum_squares = reduction_ops.reduce_sum(math_ops.square(diffs), axis=axis, keepdims=True)
            n = _num_present(diffs, weights, per_batch=True)
            term1 = 2.0 * math_ops.div_no_nan(sum_squares, math_ops.maximum(n - 1, 0), name="value")
            sum_diff = reduction_ops.reduce_sum(diffs, axis=axis, keepdims=True)
            term2 = 2.0 * math_ops.div_no_nan(
                math_ops.square(sum_diff),
                math_ops.maximum(math_ops.multiply(n, n - 1), 0),
                name="value",
            )
            loss = reduction_ops.reduce_sum(math_ops.multiply(term1 - term2, weights))
            mean_loss = math_ops.where(
                reduction_ops.reduce_sum(n) > 0, loss, array_ops.zeros_like(loss), name="value"
            )
            add_loss(mean_loss, loss_collection)
            return mean_loss


def remove_squeezable_dimensions(labels, predictions, expected_rank_diff=0, name=None):
    """Squeezes a trailing size-1 dimension so that ``rank(predictions) - rank(labels)`` is
    ``expected_rank_diff`` (static ranks only)."""
    with ops.name_scope(name, "remove_squeezable_dimensions", [labels, predictions]):
        predictions = ops.convert_to_tensor(predictions)
        labels = ops.convert_to_tensor(labels)
        p_rank, l_rank = predictions.shape.ndims, labels.shape.ndims
        if p_rank is not None and l_rank is not None:
            diff = p_rank - l_rank
            if diff == expected_rank_diff + 1 and predictions.shape.as_list()[-1] in (1, None):
                predictions = array_ops.squeeze(predictions, [-1])
            elif diff == expected_rank_diff - 1 and labels.shape.as_list()[-1] in (1, None):
                labels = array_ops.squeeze(labels, [-1])
        return labels, predictions


def _remove_squeezable_dimensions(labels, predictions, weights=None, expected_rank_diff=0):
    labels, predictions = remove_squeezable_dimensions(labels, predictions, expected_rank_diff)
    if weights is not None:
        weights = ops.convert_to_tensor(weights)
        l_rank, w_rank = labels.shape.ndims, weights.shape.ndims
        if l_rank is not None and w_rank is not None:
            if w_rank - l_rank == 1:
                weights = array_ops.squeeze(weights, [-1])
        elif w_rank is None or (w_rank > 0 and weights.shape.as_list()[-1] in (1, None)):
            raise ValueError(
                "tfstyle needs the ranks of labels and weights of "
                "sparse_softmax_cross_entropy to be known when the graph is built."
            )
    return labels, predictions, weights


def sparse_softmax_cross_entropy(labels, logits, weights=1.0, scope=None,
                                 loss_collection=_LOSSES, reduction=_SUM_NZ):  # fmt: skip
    """Weighted softmax cross-entropy of integer class ``labels``."""
    _check_args(labels, logits, "logits")
    with ops.name_scope(
        scope, "sparse_softmax_cross_entropy_loss", (logits, labels, weights)
    ) as scope:
        labels, logits, weights = _remove_squeezable_dimensions(
            labels, logits, weights, expected_rank_diff=1
        )
        losses = nn.sparse_softmax_cross_entropy_with_logits(
            labels=labels, logits=logits, name="xentropy"
        )
        return compute_weighted_loss(losses, weights, scope, loss_collection, reduction)


# -- collections -------------------------------------------------------------------------------
def get_losses(scope=None, loss_collection=_LOSSES):
    """The losses in ``loss_collection`` (names filtered by ``scope``)."""
    return ops.get_collection(loss_collection, scope)


def get_regularization_losses(scope=None):
    """The tensors of the ``REGULARIZATION_LOSSES`` collection."""
    return ops.get_collection(ops.GraphKeys.REGULARIZATION_LOSSES, scope)


def get_regularization_loss(scope=None, name="total_regularization_loss"):
    """The sum of the regularization losses (``0.0`` when there are none)."""
    losses = get_regularization_losses(scope)
    if losses:
        return math_ops.add_n(losses, name=name)
    return constant(0.0)


def get_total_loss(add_regularization_losses=True, name="total_loss", scope=None):
    """The sum of ``get_losses()`` and, by default, the regularization losses."""
    losses = get_losses(scope=scope)
    if add_regularization_losses:
        losses += get_regularization_losses(scope=scope)
    return math_ops.add_n(losses, name=name)
