"""tf.losses against real TF: values, names, shapes and gradients for every loss, weights and
reduction; the LOSSES and REGULARIZATION_LOSSES collections; errors."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.op_check import check
from tests.oracle import tf1

RNG = np.random.RandomState(1)
LABELS = RNG.rand(4, 3).astype(np.float32)
PREDS = RNG.rand(4, 3).astype(np.float32)
BINARY = (RNG.rand(4, 3) > 0.5).astype(np.float32)
LOGITS = RNG.standard_normal((4, 3)).astype(np.float32)
FEEDS = {"labels:0": LABELS, "preds:0": PREDS, "binary:0": BINARY, "logits:0": LOGITS,
         "sparse:0": np.array([0, 2, 1, 1], np.int32)}  # fmt: skip
REDUCTIONS = ["none", "weighted_sum", "weighted_mean", "weighted_sum_over_batch_size",
              "weighted_sum_by_nonzero_weights"]  # fmt: skip
WEIGHTS = [
    1.0,
    2.5,
    np.array([[1.0], [0.0], [2.0], [0.5]], np.float32),
    np.array([[1.0, 0.0, 3.0]], np.float32),
    np.array([[1.0, 0.0, 3.0], [0.0, 0.0, 1.0], [2.0, 2.0, 2.0], [1.0, 1.0, 0.0]], np.float32),
]


def _inputs(tf):
    t = {
        name: tf.placeholder(tf.float32, [None, 3], name=name)
        for name in ("labels", "preds", "binary", "logits")
    }
    t["sparse"] = tf.placeholder(tf.int32, [None], name="sparse")
    return t


def _all_losses(tf, weights, reduction):
    t = _inputs(tf)
    kw = dict(weights=weights, reduction=reduction)
    sparse = t["sparse"]
    return [
        tf.losses.mean_squared_error(t["labels"], t["preds"], **kw),
        tf.losses.absolute_difference(t["labels"], t["preds"], **kw),
        tf.losses.huber_loss(t["labels"], t["preds"] * 3.0, delta=0.7, **kw),
        tf.losses.log_loss(t["binary"], t["preds"], **kw),
        tf.losses.hinge_loss(t["binary"], t["logits"], **kw),
        tf.losses.sigmoid_cross_entropy(t["binary"], t["logits"], **kw),
        tf.losses.sigmoid_cross_entropy(t["binary"], t["logits"], label_smoothing=0.1, **kw),
        tf.losses.compute_weighted_loss(t["preds"], **kw),
        *_per_example(tf, t, sparse, weights, reduction),
    ]


def _per_example(tf, t, sparse, weights, reduction):
    # The softmax losses have one loss per example: weights must not have a class axis.
    if isinstance(weights, np.ndarray) and weights.shape[-1] != 1:
        return []
    w = weights if not isinstance(weights, np.ndarray) else weights[:, 0]
    onehot = tf.one_hot(sparse, 3)
    out = [
        tf.losses.cosine_distance(
            tf.nn.l2_normalize(t["labels"], 1),
            tf.nn.l2_normalize(t["preds"], 1),
            axis=1,
            weights=weights,
            reduction=reduction,
        ),  # fmt: skip
        tf.losses.softmax_cross_entropy(onehot, t["logits"], weights=w, reduction=reduction),
        tf.losses.softmax_cross_entropy(
            onehot, t["logits"], weights=w, label_smoothing=0.2, reduction=reduction
        ),  # fmt: skip
    ]
    return out + [
        tf.losses.sparse_softmax_cross_entropy(
            sparse, t["logits"], weights=w, reduction=reduction
        ),  # fmt: skip
        tf.losses.sparse_softmax_cross_entropy(
            tf.expand_dims(sparse, 1), t["logits"], weights=w, reduction=reduction
        ),  # fmt: skip
    ]


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_losses_every_weight_and_reduction(reduction):
    # Every weight shape under the default reduction; the others with three of them.
    for weights in WEIGHTS if reduction == "weighted_sum_by_nonzero_weights" else WEIGHTS[1:4]:
        check(lambda tf, w=weights: _all_losses(tf, w, reduction), FEEDS, grad=True, rtol=1e-5,
              atol=1e-5)  # fmt: skip


def test_default_reduction_and_tensor_weights():
    def build(tf):
        t = _inputs(tf)
        w = tf.placeholder(tf.float32, [None, 1], name="w")
        return [
            tf.losses.mean_squared_error(t["labels"], t["preds"]),
            tf.losses.mean_squared_error(t["labels"], t["preds"], weights=w),
            tf.losses.absolute_difference(t["labels"], t["preds"], weights=tf.zeros([4, 3])),
            tf.losses.log_loss(t["binary"], t["preds"], epsilon=1e-3, scope="my_loss"),
        ]

    feeds = dict(FEEDS, **{"w:0": np.array([[1.0], [0.0], [0.0], [3.0]], np.float32)})
    check(build, feeds, grad=True)


def test_mean_pairwise_squared_error():
    def build(tf):
        t = _inputs(tf)
        w = tf.placeholder(tf.float32, [None], name="w")
        return [
            tf.losses.mean_pairwise_squared_error(t["labels"], t["preds"]),
            tf.losses.mean_pairwise_squared_error(t["labels"], t["preds"], weights=2.0),
            tf.losses.mean_pairwise_squared_error(
                t["labels"], t["preds"], weights=tf.expand_dims(w, 1)
            ),  # fmt: skip
        ]

    feeds = dict(FEEDS, **{"w:0": np.array([1.0, 0.0, 2.0, 0.5], np.float32)})
    check(build, feeds, grad=True)


def test_losses_collections_and_totals():
    def build(tf):
        t = _inputs(tf)
        tf.losses.mean_squared_error(t["labels"], t["preds"])
        tf.losses.absolute_difference(t["labels"], t["preds"], loss_collection=None)
        tf.losses.hinge_loss(t["binary"], t["logits"], loss_collection="mine")
        tf.losses.add_loss(tf.reduce_sum(t["preds"]))
        w = tf.constant([1.0, -2.0])
        tf.add_to_collection(tf.GraphKeys.REGULARIZATION_LOSSES, tf.reduce_sum(tf.square(w)))
        assert len(tf.losses.get_losses()) == 2
        assert len(tf.losses.get_losses(loss_collection="mine")) == 1
        assert len(tf.losses.get_regularization_losses()) == 1
        return [
            tf.losses.get_total_loss(),
            tf.losses.get_total_loss(add_regularization_losses=False, name="data_loss"),
            tf.losses.get_regularization_loss(),
            *tf.losses.get_losses(),
        ]

    check(build, FEEDS, grad=True)

    def empty(tf):
        return [tf.losses.get_regularization_loss()]

    check(empty)


def test_loss_errors_match_tf():
    for tf in (tf1(), tfs):
        with tf.Graph().as_default():
            a = tf.zeros([4, 3])
            with pytest.raises(ValueError, match="Invalid Reduction Key"):
                tf.losses.mean_squared_error(a, a, reduction="bogus")
            with pytest.raises(ValueError, match="weights can not be broadcast to values"):
                tf.losses.mean_squared_error(a, a, weights=tf.ones([4]))
            with pytest.raises(ValueError, match="weights can not be broadcast to values"):
                tf.losses.mean_squared_error(a, a, weights=tf.ones([2, 3]))
            with pytest.raises(ValueError, match="weights can not be broadcast to values"):
                tf.losses.sparse_softmax_cross_entropy([0, 1, 2, 0], a, weights=tf.ones([3]))
            with pytest.raises(ValueError, match="must not be None"):
                tf.losses.mean_squared_error(None, a)
            with pytest.raises(ValueError, match="specify argument `axis`"):
                tf.losses.cosine_distance(a, a)
            with pytest.raises(ValueError):
                tf.losses.absolute_difference(a, tf.zeros([4, 2]))
            assert tf.losses.Reduction.SUM_OVER_NONZERO_WEIGHTS == "weighted_sum_by_nonzero_weights"
