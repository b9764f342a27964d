"""``tf.Assert``: TF's graph structure, and a failure while a step runs raises TF's error and
loses no variable (the step's variables are not donated), compared with real TF."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1


def _build(tf):
    x = tf.placeholder(tf.float32, [3], name="x")
    i = tf.placeholder(tf.int32, [2], name="i")
    v = tf.Variable(np.ones(3, np.float32), name="v")
    guarded = tf.Assert(tf.reduce_all(x > 0), [x, "msg", 7], name="positive")
    plain = tf.Assert(tf.reduce_all(i > 0), ["ints", i], name="ints")
    with tf.control_dependencies([guarded]):
        update = v.assign_add(x)
    static = tf.Assert(False, ["never"], name="static")
    return x, i, v, guarded, plain, update, static


def _run(tf):
    out = {}
    g = tf.Graph()
    with g.as_default():
        x, i, v, guarded, plain, update, static = _build(tf)
        out["ops"] = [(o.name, o.type) for o in (guarded, plain)]
        init = tf.global_variables_initializer()
    with tf.Session(graph=g) as sess:
        sess.run(init)
        sess.run(update, {x: [1, 1, 1]})
        sess.run(plain, {i: [3, 4]})
        for name, fetch, feed in [
            ("guarded", update, {x: [1, -1, 1.5]}),
            ("plain", plain, {i: [1, -2]}),
            ("static", static, {}),
        ]:
            with pytest.raises(tf.errors.InvalidArgumentError) as info:
                sess.run(fetch, feed)
            out[name] = str(info.value)
        out["v"] = sess.run(v)
        sess.run(update, {x: [0.5, 0.5, 0.5]})
        out["v_after"] = sess.run(v)
    return out


def test_assert_matches_tf():
    want, got = _run(tf1()), _run(tfs)
    assert (
        got["ops"]
        == want["ops"]
        == [
            ("positive/AssertGuard/Identity", "Identity"),
            ("ints/Assert", "Assert"),
        ]
    )
    for key, text in [
        ("guarded", "assertion failed: [1 -1 1.5] [msg] [7]"),
        ("plain", "assertion failed: [ints] [1 -2]"),
        ("static", "assertion failed: [never]"),
    ]:
        assert text in want[key] and text in got[key], key
    assert "ints/Assert" in got["plain"]
    # The failed update left the variable as it was, and the session goes on.
    np.testing.assert_array_equal(got["v"], want["v"])
    np.testing.assert_array_equal(got["v_after"], want["v_after"])
    np.testing.assert_array_equal(got["v_after"], [2.5, 2.5, 2.5])


def test_assert_in_a_loop_fails_the_run_and_keeps_the_variables():
    g = tfs.Graph()
    with g.as_default():
        n = tfs.placeholder(tfs.int32, [], name="n")
        v = tfs.Variable(10.0, name="v")

        def body(k, acc):
            check = tfs.Assert(k < n, ["step", k, "limit", n])
            with tfs.control_dependencies([check]):
                return k + 1, acc + 1.0

        _, total = tfs.while_loop(lambda k, acc: k < 4, body, [0, 0.0])
        update = v.assign_add(total)
        init = tfs.global_variables_initializer()
    with tfs.Session(graph=g) as sess:
        sess.run(init)
        assert sess.run(update, {n: 10}) == 14.0
        with pytest.raises(
            tfs.errors.InvalidArgumentError, match=r"\[step\] \[2\] \[limit\] \[2\]"
        ):
            sess.run(update, {n: 2})
        assert sess.run(v) == 14.0


def test_assert_in_a_graph_def_written_by_tf_fails_with_tfs_error():
    tf = tf1()
    g = tf.Graph()
    with g.as_default():
        i = tf.placeholder(tf.int32, [None], name="i")
        with tf.control_dependencies([tf.Assert(tf.reduce_all(i >= 0), ["negative", i])]):
            tf.identity(i * 2, name="doubled")
    g2 = tfs.Graph()
    with g2.as_default():
        tfs.import_graph_def(g.as_graph_def(), name="")
    with tfs.Session(graph=g2) as sess:
        np.testing.assert_array_equal(sess.run("doubled:0", {"i:0": [1, 2]}), [2, 4])
        with pytest.raises(tfs.errors.InvalidArgumentError, match=r"\[negative\] \[1 -2\]"):
            sess.run("doubled:0", {"i:0": [1, -2]})
