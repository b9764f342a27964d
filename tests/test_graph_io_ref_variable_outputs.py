"""A TF 1.x ref variable's own output ``w:0``, in a graph that real TF wrote with ref variables
and tfstyle imported: fetching it, passing it to new ops and ``tf.assign`` on it behave as in
TF 1.x, against real TF."""

import os

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1


@pytest.fixture
def tf():
    """TF 1.x with ref variables; resource variables are enabled again afterwards."""
    tf = tf1()
    tf.disable_resource_variables()
    try:
        yield tf
    finally:
        tf.enable_resource_variables()


def _model(tf):
    w = tf.Variable([[1.0, -2.0], [0.5, 3.0]], name="w")
    with tf.variable_scope("layer"):
        b = tf.get_variable("b", [2], initializer=tf.constant_initializer(0.25))
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    loss = tf.reduce_sum(tf.square(tf.matmul(x, w) + b), name="loss")
    tf.train.GradientDescentOptimizer(0.1).minimize(loss, name="train")
    return w, b


def _uses_of_outputs(tf, graph, sess):
    """Fetches of ``w:0``/``layer/b:0``, new ops on them and assigns through them."""
    w = graph.get_tensor_by_name("w:0")
    b = graph.get_tensor_by_name("layer/b:0")
    out = {"fetch": sess.run(["w:0", "layer/b:0"])}
    out["ops"] = sess.run([tf.reduce_sum(w * 2.0), tf.matmul(w, w), b + 1.0, tf.identity(w)])
    out["assign"] = sess.run(tf.assign(w, [[1.0, 1.0], [2.0, 2.0]]))
    out["after assign"] = sess.run(w)
    out["assign_add"] = sess.run(tf.assign_add(b, [1.0, 2.0]))
    out["assign_sub"] = sess.run(tf.assign_sub(b, [0.5, 0.5]))
    sess.run("train", {"x:0": np.ones((3, 2), np.float32)})
    out["trained"] = sess.run([w, "layer/b:0"])
    return out


def _assert_same(got, want):
    assert sorted(got) == sorted(want)
    for key in want:
        for g, v in (
            zip(got[key], want[key]) if isinstance(want[key], list) else [(got[key], want[key])]
        ):
            np.testing.assert_allclose(g, v, rtol=1e-6, err_msg=key)


def test_graph_def_ref_outputs_read_and_assign_like_tf(tf):
    graph = tf.Graph()
    with graph.as_default():
        _model(tf)
        init = tf.global_variables_initializer()
        with tf.Session() as sess:
            sess.run(init)
            want = _uses_of_outputs(tf, graph, sess)
        gd = graph.as_graph_def()
    g = tfs.Graph()
    with g.as_default():
        tfs.import_graph_def(gd, name="")
        with tfs.Session() as sess:
            sess.run(init.name)
            got = _uses_of_outputs(tfs, g, sess)
    _assert_same(got, want)


def test_meta_graph_ref_outputs_are_the_collections_variables(tf, tmp_path):
    prefix = os.path.join(tmp_path, "model")
    graph = tf.Graph()
    with graph.as_default():
        _model(tf)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            tf.train.Saver().save(sess, prefix)
            want = _uses_of_outputs(tf, graph, sess)
    g = tfs.Graph()
    with g.as_default():
        saver = tfs.train.import_meta_graph(prefix + ".meta")
        handle = g.get_tensor_by_name("w:0")
        (w,) = [v for v in tfs.global_variables() if v.name == "w:0"]
        assert g._ref_variables[handle] is w  # one Variable per variable
        with tfs.Session() as sess:
            saver.restore(sess, prefix)
            np.testing.assert_array_equal(sess.run("w:0"), sess.run(w))
            got = _uses_of_outputs(tfs, g, sess)
    _assert_same(got, want)


def test_assign_to_a_plain_tensor_fails_as_in_tf(tf):
    for module in (tf, tfs):
        with module.Graph().as_default():
            c = module.constant(1.0)
            for fn, method in ((module.assign, "assign"), (module.assign_add, "assign_add")):
                with pytest.raises(AttributeError, match=f"has no attribute '{method}'"):
                    fn(c, 2.0)
