"""``tf.assert_*`` (``tf.debugging``) against real TF: the ops they build, the errors a run
raises (class and message), and the errors raised at graph construction when values, ranks or
dtypes are known then."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1

_FEEDS = {"good": [2.0, 5.0, 7.0], "bad": [1.0, 5.0, -3.0]}


def _checks(tf):
    x = tf.placeholder(tf.float32, [3], name="x")
    y = tf.constant([1.0, 2.0, 3.0], name="y")
    m = tf.placeholder(tf.float32, None, name="m")
    r = tf.placeholder(tf.int32, [], name="r")
    z = tf.placeholder(tf.float32, [3], name="z")
    return {
        "equal": tf.assert_equal(z, y, message="msg", summarize=2),
        "none_equal": tf.assert_none_equal(x, y),
        "less": tf.debugging.assert_less(y, x),
        "less_equal": tf.assert_less_equal(y, x, data=["custom", x]),
        "greater": tf.assert_greater(x, y),
        "greater_equal": tf.assert_greater_equal(x, y, summarize=-1),
        "positive": tf.assert_positive(x),
        "negative": tf.assert_negative(-x, message="neg"),
        "non_negative": tf.assert_non_negative(x, name="nn"),
        "non_positive": tf.assert_non_positive(-x),
        "near": tf.assert_near(x, x + 1e-7),
        "near_tolerance": tf.assert_near(x, y * 2.0, rtol=0.2, atol=0.5, summarize=1),
        "rank_static": tf.assert_rank(x, 1),
        "rank_dynamic": tf.assert_rank(m, 2),
        "rank_fed": tf.assert_rank(x, r),
        "rank_at_least": tf.assert_rank_at_least(m, 1, message="m"),
    }


def _feeds(graph, case):
    return {
        "x:0": np.array(_FEEDS[case], np.float32),
        "m:0": np.zeros([2, 2] if case == "good" else [3], np.float32),
        "r:0": 1 if case == "good" else 2,
        "z:0": np.array([1.0, 2.0, 3.0] if case == "good" else [1.0, 5.0, -3.0], np.float32),
    }


def _run(tf):
    out = {}
    with tf.Graph().as_default() as graph:
        checks = _checks(tf)
        out["ops"] = {k: (v.name, v.type) for k, v in checks.items()}
        with tf.Session() as sess:
            for key, check in checks.items():
                sess.run(check, _feeds(graph, "good"))
                try:
                    sess.run(check, _feeds(graph, "bad"))
                    out[key] = None
                except tf.errors.InvalidArgumentError as e:
                    # TF 2.x puts where the op was defined before the message.
                    out[key] = e.message[e.message.index("assertion failed:") :]
    return out


def test_runtime_checks_match_tf():
    want, got = _run(tf1()), _run(tfs)
    assert got["ops"] == want["ops"]
    for key in want:
        assert got[key] == want[key], key
    assert want["positive"] is not None and want["near"] is None


def _static_error(tf, build):
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [3], name="x")
        try:
            result = build(tf, x)
        except (ValueError, TypeError, tf.errors.InvalidArgumentError) as e:
            return type(e).__name__, getattr(e, "message", None) or str(e)
        return "ok", getattr(result, "type", None)


_STATIC = {
    "equal_constants": lambda tf, x: tf.assert_equal(tf.constant(1), tf.constant(2)),
    "less_constants": lambda tf, x: tf.assert_less(tf.constant([1, 5]), [2, 3], message="m"),
    "equal_constants_hold": lambda tf, x: tf.assert_equal(tf.constant([1, 2]), [1, 2]),
    "same_tensor": lambda tf, x: tf.assert_equal(x, x),
    "rank": lambda tf, x: tf.assert_rank(x, 2, message="shape"),
    "rank_at_least": lambda tf, x: tf.assert_rank_at_least(x, 2),
    "rank_not_scalar": lambda tf, x: tf.assert_rank(x, [1, 2]),
    "integer": lambda tf, x: tf.assert_integer(x),
    "integer_ok": lambda tf, x: tf.assert_integer(tf.constant(1)),
    "type": lambda tf, x: tf.assert_type(x, tf.int32, message="types"),
    "type_ok": lambda tf, x: tf.assert_type(x, tf.float32),
    "scalar": lambda tf, x: tf.assert_scalar(x),
    "scalar_ok": lambda tf, x: tf.assert_scalar(tf.constant(1.0)),
    "positive_constant": lambda tf, x: tf.assert_positive(tf.constant([1.0, -2.0])),
}


@pytest.mark.parametrize("case", sorted(_STATIC))
def test_graph_construction_checks_match_tf(case):
    assert _static_error(tfs, _STATIC[case]) == _static_error(tf1(), _STATIC[case])


def test_is_numeric_tensor():
    for tf in (tf1(), tfs):
        with tf.Graph().as_default():
            assert tf.is_numeric_tensor(tf.constant(1.0))
            assert not tf.is_numeric_tensor(tf.constant("a"))
            assert not tf.is_numeric_tensor(tf.constant(True))
            assert not tf.is_numeric_tensor(1.0)
