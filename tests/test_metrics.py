"""tf.metrics against real TF: local variable names and collections, values and update ops over
several batches, weights, reset by re-running the local initializer."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.metric_runs import run_batches
from tests.oracle import tf1

RNG = np.random.RandomState(2)
BATCHES = [
    {
        "labels:0": RNG.randint(0, 2, (5, 1)).astype(np.int64),
        "pred:0": RNG.randint(0, 2, (5, 1)).astype(np.int64),
        "values:0": RNG.standard_normal((5, 1)).astype(np.float32),
        "w:0": RNG.randint(0, 3, (5, 1)).astype(np.float32),
    }
    for _ in range(3)
]


def _build(tf):
    labels = tf.placeholder(tf.int64, [None, 1], name="labels")
    pred = tf.placeholder(tf.int64, [None, 1], name="pred")
    values = tf.placeholder(tf.float32, [None, 1], name="values")
    w = tf.placeholder(tf.float32, [None, 1], name="w")
    flat = tf.squeeze(pred, 1)
    metrics = [
        tf.metrics.accuracy(labels, pred),
        tf.metrics.accuracy(tf.squeeze(labels, 1), pred, weights=w, name="weighted_acc"),
        tf.metrics.accuracy(labels, flat),
        tf.metrics.mean(values),
        tf.metrics.mean(values, weights=w),
        tf.metrics.mean(values, weights=tf.squeeze(w, 1), name="m3"),
        tf.metrics.mean_squared_error(tf.cast(labels, tf.float32), values),
        tf.metrics.mean_absolute_error(tf.cast(labels, tf.float32), values, weights=w),
        tf.metrics.root_mean_squared_error(tf.cast(labels, tf.float32), values),
        tf.metrics.precision(labels, pred),
        tf.metrics.recall(labels, pred, weights=w),
        tf.metrics.true_positives(labels, pred),
        tf.metrics.false_positives(labels, pred),
        tf.metrics.true_negatives(labels, pred),
        tf.metrics.false_negatives(labels, pred, weights=w),
    ]
    with tf.variable_scope("eval"):
        metrics.append(tf.metrics.accuracy(labels, pred))
    return metrics


def _run(tf):
    g = tf.Graph()
    with g.as_default():
        metrics = _build(tf)
        info = {
            "local": [(v.name, v.shape.as_list()) for v in tf.local_variables()],
            "metric": [v.name for v in tf.get_collection(tf.GraphKeys.METRIC_VARIABLES)],
            "global": [v.name for v in tf.global_variables()],
            "names": [(v.name, u.name, v.shape.as_list(), u.dtype.name) for v, u in metrics],
        }
        out = run_batches(tf, g, metrics, BATCHES)
    return info, out


def test_metrics_match_tf_over_batches():
    e_info, e_out = _run(tf1())
    a_info, a_out = _run(tfs)
    assert a_info == e_info
    for e, a in zip(e_out, a_out):
        np.testing.assert_allclose(np.array(a, np.float64), np.array(e, np.float64), 1e-5, 1e-6)


def test_metric_collections_and_names():
    for tf in (tf1(), tfs):
        with tf.Graph().as_default():
            x = tf.constant([1, 0, 1])
            acc, upd = tf.metrics.accuracy(x, x, metrics_collections=["m"],
                                           updates_collections=["u"])  # fmt: skip
            assert acc.name == "accuracy/value:0" and upd.name == "accuracy/update_op:0"
            assert tf.get_collection("m") == [acc] and tf.get_collection("u") == [upd]
            assert [v.name for v in tf.local_variables()] == [
                "accuracy/total:0",
                "accuracy/count:0",
            ]
            assert tf.trainable_variables() == []
            with tf.Session() as s:
                with pytest.raises(tf.errors.OpError):
                    s.run(upd)
