"""``tf.metrics.auc``, ``mean_iou`` and the counts at thresholds against real TF: the value
and ``update_op`` over several batches, and the local variables' names."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1

RNG = np.random.default_rng(0)
BATCHES = [
    (RNG.integers(0, 2, (8, 3)).astype(np.int64), RNG.uniform(0, 1, (8, 3)).astype(np.float32),
     RNG.uniform(0, 2, (8, 3)).astype(np.float32))
    for _ in range(3)
]  # fmt: skip


def _stream(tf, build):
    """Builds ``build(tf, labels, predictions, weights) -> [(value, update_op), ...]`` on
    placeholders, runs every update over the batches; returns each step's update and value
    results and the local variables' names."""
    with tf.Graph().as_default() as g:
        labels = tf.placeholder(tf.int64, [None, 3], name="labels")
        predictions = tf.placeholder(tf.float32, [None, 3], name="predictions")
        weights = tf.placeholder(tf.float32, [None, 3], name="weights")
        pairs = build(tf, labels, predictions, weights)
        local = [(v.name, v.shape.as_list(), v.dtype.base_dtype.name) for v in tf.local_variables()]
        names = [(v.name, u.name) for v, u in pairs]
        results = []
        with tf.Session(graph=g) as sess:
            sess.run(tf.local_variables_initializer())
            for lab, pred, w in BATCHES:
                feed = {labels: lab, predictions: pred, weights: w}
                updates = sess.run([u for _, u in pairs], feed)
                results.append((updates, sess.run([v for v, _ in pairs])))
    return results, local, names


def _check(build, rtol=1e-5, atol=1e-6):
    want, want_local, want_names = _stream(tf1(), build)
    got, got_local, got_names = _stream(tfs, build)
    assert got_local == want_local
    assert got_names == want_names
    for (wu, wv), (gu, gv) in zip(want, got):
        for w, g in zip(wu + wv, gu + gv):
            np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=rtol, atol=atol)


@pytest.mark.parametrize("curve", ["ROC", "PR"])
@pytest.mark.parametrize("method", ["trapezoidal", "careful_interpolation", "minoring",
                                    "majoring"])  # fmt: skip
def test_auc(curve, method):
    def build(tf, labels, predictions, weights):
        return [
            tf.metrics.auc(labels, predictions, curve=curve, summation_method=method),
            tf.metrics.auc(
                labels,
                predictions,
                weights,
                num_thresholds=7,
                curve=curve,
                summation_method=method,
                name="weighted",
            ),  # fmt: skip
            tf.metrics.auc(
                labels,
                predictions,
                curve=curve,
                summation_method=method,
                thresholds=[0.7, 0.2, 0.5],
            ),  # fmt: skip
        ]

    _check(build, rtol=1e-4, atol=1e-5)


def test_auc_collections_and_errors():
    for tf in (tf1(), tfs):
        with tf.Graph().as_default():
            lab = tf.constant([[1, 0]])
            pred = tf.constant([[0.3, 0.6]])
            value, update = tf.metrics.auc(lab, pred, metrics_collections=["m"],
                                           updates_collections=["u"])  # fmt: skip
            assert tf.get_collection("m") == [value]
            assert tf.get_collection("u") == [update]
            assert [v.name for v in tf.get_collection(tf.GraphKeys.METRIC_VARIABLES)] == [
                "auc/true_positives:0", "auc/false_negatives:0", "auc/true_negatives:0",
                "auc/false_positives:0",
            ]  # fmt: skip
            with pytest.raises(ValueError, match="Curve must be either ROC or PR"):
                tf.metrics.auc(lab, pred, curve="XY")
            with pytest.raises(ValueError, match="Invalid summation_method"):
                tf.metrics.auc(lab, pred, summation_method="simpson")


def test_counts_and_ratios_at_thresholds():
    th = [0.1, 0.5, 0.8]

    def build(tf, labels, predictions, weights):
        m = tf.metrics
        return [
            m.true_positives_at_thresholds(labels, predictions, th),
            m.false_positives_at_thresholds(labels, predictions, th, weights),
            m.true_negatives_at_thresholds(labels, predictions, th),
            m.false_negatives_at_thresholds(labels, predictions, th, weights, name="fn"),
            m.precision_at_thresholds(labels, predictions, th, weights),
            m.recall_at_thresholds(labels, predictions, th),
        ]

    _check(build)


def test_predictions_out_of_range_fail_like_tf():
    errors = []
    for tf in (tf1(), tfs):
        with tf.Graph().as_default():
            pred = tf.placeholder(tf.float32, [2])
            _, update = tf.metrics.auc(tf.constant([1, 0]), pred)
            with tf.Session() as sess, pytest.raises(tf.errors.InvalidArgumentError) as e:
                sess.run(tf.local_variables_initializer())
                sess.run(update, {pred: [0.3, 1.5]})
            errors.append(str(e.value))
    assert "predictions must be in [0, 1]" in errors[1]


@pytest.mark.parametrize("weighted", [False, True])
def test_mean_iou(weighted):
    def build(tf, labels, predictions, weights):
        # Classes 0..3 from the labels and the predictions: class 3 never occurs.
        cls = tf.cast(predictions * 2.99, tf.int64)
        return [
            tf.metrics.mean_iou(labels, cls, 4, weights if weighted else None),
            tf.metrics.mean_iou(labels + cls, cls, 5, name="iou5"),
        ]

    _check(build)


@pytest.mark.parametrize("rate", [0.0, 0.4, 0.8, 1.0])
def test_sensitivity_and_specificity(rate):
    def build(tf, labels, predictions, weights):
        return [
            tf.metrics.sensitivity_at_specificity(labels, predictions, rate),
            tf.metrics.specificity_at_sensitivity(labels, predictions, rate),
            tf.metrics.sensitivity_at_specificity(
                labels, predictions, specificity=rate, weights=weights, num_thresholds=5
            ),
            tf.metrics.specificity_at_sensitivity(
                labels, predictions, sensitivity=rate, weights=weights, num_thresholds=5
            ),
        ]

    _check(build)


def test_sensitivity_and_specificity_range_errors():
    for tf in (tf1(), tfs):
        with tf.Graph().as_default():
            lab, pred = tf.constant([1, 0]), tf.constant([0.2, 0.7])
            with pytest.raises(ValueError, match="`specificity` must be in the range"):
                tf.metrics.sensitivity_at_specificity(lab, pred, 1.5)
            with pytest.raises(ValueError, match="`sensitivity` must be in the range"):
                tf.metrics.specificity_at_sensitivity(lab, pred, -0.1)
