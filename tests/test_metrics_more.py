"""tf.metrics' mean_tensor, mean_relative_error, mean_cosine_distance, percentage_below,
mean_per_class_accuracy and the top-k metrics against real TF: local variables (names, dtypes,
shapes), value and update_op names, values after several updates and after a reset."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.metric_runs import run_batches
from tests.oracle import tf1

RNG = np.random.RandomState(5)


def _batch():
    labels = RNG.randint(0, 4, (6, 1)).astype(np.int64)
    multi = RNG.randint(-1, 5, (6, 3)).astype(np.int64)  # -1 and 4 are outside the 4 classes
    multi[0] = [2, 2, 1]  # a repeated label is counted once
    logits = RNG.standard_normal((6, 4)).astype(np.float32)
    v = RNG.standard_normal((6, 3)).astype(np.float32)
    v[0, 1] = 0.0
    return {
        "labels:0": labels,
        "pred:0": RNG.randint(0, 4, (6, 1)).astype(np.int64),
        "multi:0": multi,
        "logits:0": logits,
        "v:0": v,
        "u:0": RNG.standard_normal((6, 3)).astype(np.float32),
        "w:0": RNG.randint(0, 3, (6, 1)).astype(np.float32),
    }


BATCHES = [_batch() for _ in range(3)]


def _placeholders(tf):
    return (
        tf.placeholder(tf.int64, [None, 1], name="labels"),
        tf.placeholder(tf.int64, [None, 1], name="pred"),
        tf.placeholder(tf.int64, [None, 3], name="multi"),
        tf.placeholder(tf.float32, [None, 4], name="logits"),
        tf.placeholder(tf.float32, [None, 3], name="v"),
        tf.placeholder(tf.float32, [None, 3], name="u"),
        tf.placeholder(tf.float32, [None, 1], name="w"),
    )


def _build_means(tf):
    labels, pred, multi, logits, v, u, w = _placeholders(tf)
    m = tf.metrics
    unit_v = tf.nn.l2_normalize(v, 1)
    unit_u = tf.nn.l2_normalize(u, 1)
    return [
        m.mean_tensor(tf.reshape(v, [6, 3])),
        m.mean_tensor(tf.reshape(v, [6, 3]), weights=tf.reshape(w, [6, 1]), name="mt"),
        m.mean_relative_error(u, v, tf.abs(v)),
        m.mean_relative_error(u, v, v, weights=w, name="mre_w"),
        m.mean_cosine_distance(unit_u, unit_v, 1),
        m.mean_cosine_distance(unit_u, unit_v, 1, weights=w),
        m.percentage_below(v, 0.3),
        m.percentage_below(v, 0.0, weights=tf.tile(w, [1, 3]), name="pb"),
        m.mean_per_class_accuracy(labels, pred, 4),
        m.mean_per_class_accuracy(labels, pred, 4, weights=w, name="mpca_w"),
    ]


def _build_top_k(tf):
    labels, pred, multi, logits, v, u, w = _placeholders(tf)
    m = tf.metrics
    top2 = tf.nn.top_k(logits, 2).indices
    return [
        m.precision_at_k(labels, logits, 2),
        m.precision_at_k(multi, logits, 3, weights=tf.squeeze(w, 1)),
        m.precision_at_k(multi, logits, 2, class_id=1),
        m.sparse_precision_at_k(tf.squeeze(labels, 1), logits, 1),
        m.recall_at_k(labels, logits, 2),
        m.recall_at_k(multi, logits, 3, weights=tf.squeeze(w, 1)),
        m.recall_at_k(multi, logits, 2, class_id=2),
        m.precision_at_top_k(multi, top2),
        m.precision_at_top_k(multi, top2, class_id=0, name="ptk"),
        m.recall_at_top_k(multi, top2),
        m.recall_at_top_k(labels, top2, k=2, class_id=3),
        m.average_precision_at_k(multi, logits, 3),
        m.average_precision_at_k(labels, logits, 2, weights=tf.squeeze(w, 1)),
        m.sparse_average_precision_at_k(multi, logits, 1),
    ]


def _run(tf, build):
    g = tf.Graph()
    with g.as_default():
        metrics = build(tf)
        info = {
            "local": [
                (x.name, x.dtype.base_dtype.name, x.shape.as_list()) for x in tf.local_variables()
            ],
            "metric": [x.name for x in tf.get_collection(tf.GraphKeys.METRIC_VARIABLES)],
            "names": [
                (v.name, u.name, v.shape.as_list(), v.dtype.name, u.dtype.name) for v, u in metrics
            ],
        }
        out = run_batches(tf, g, metrics, BATCHES, also=tf.local_variables())
    return info, out


@pytest.mark.parametrize("build", [_build_means, _build_top_k])
def test_metrics_match_tf_over_batches(build):
    e_info, e_out = _run(tf1(), build)
    a_info, a_out = _run(tfs, build)
    assert a_info == e_info
    for e_list, a_list in zip(e_out, a_out):
        for e, a in zip(e_list, a_list):
            np.testing.assert_allclose(np.asarray(a), np.asarray(e), 1e-5, 1e-6)
            assert np.asarray(a).dtype == np.asarray(e).dtype


def test_collections():
    for tf in (tf1(), tfs):
        with tf.Graph().as_default():
            labels, pred, multi, logits, v, u, w = _placeholders(tf)
            value, update = tf.metrics.recall_at_k(
                labels, logits, 2, metrics_collections=["m"], updates_collections=["u"]
            )
            assert tf.get_collection("m") == [value]
            assert tf.get_collection("u") == [update]


def test_mean_tensor_needs_a_static_shape():
    errs = []
    for tf in (tf1(), tfs):
        with tf.Graph().as_default():
            v = tf.placeholder(tf.float32, [None, 3])
            with pytest.raises(ValueError) as info:
                tf.metrics.mean_tensor(v)
            errs.append(str(info.value))
    assert errs[0] == errs[1]
