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


def _ref_tensor_facts(tf, graph):
    """What ``w:0`` of each ref variable shows (dtype, shape, base dtype), and the dtypes and
    shapes of new ops built on ``w:0``."""
    facts = {}
    for name in ("w:0", "layer/b:0", "n:0", "d:0"):
        t = graph.get_tensor_by_name(name)
        facts[name] = (
            repr(t.dtype),
            t.dtype.name,
            t.dtype.base_dtype.name,
            t.dtype.as_datatype_enum,
            t.dtype.is_floating,
            t.shape.as_list(),
            t.get_shape().as_list(),
            str(t),
            repr(t),
        )
    w = graph.get_tensor_by_name("w:0")
    with graph.as_default():
        made = [w * 2.0, tf.matmul(w, w), tf.identity(w), tf.reduce_sum(w), tf.shape(w)]
    facts["ops"] = [(t.dtype.name, t.shape.as_list()) for t in made]
    return facts


def test_ref_outputs_show_tfs_dtype_and_shape(tf, tmp_path):
    prefix = os.path.join(tmp_path, "model")
    graph = tf.Graph()
    with graph.as_default():
        _model(tf)
        tf.Variable(3, name="n")
        tf.Variable(np.zeros((2, 3)), name="d")
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            tf.train.Saver().save(sess, prefix)
        gd = graph.as_graph_def()
    want = _ref_tensor_facts(tf, graph)
    assert want["w:0"][:2] == ("tf.float32_ref", "float32_ref")
    for load in ("graph_def", "meta_graph"):
        g = tfs.Graph()
        with g.as_default():
            if load == "graph_def":
                tfs.import_graph_def(gd, name="")
            else:
                saver = tfs.train.import_meta_graph(prefix + ".meta")
            assert _ref_tensor_facts(tfs, g) == want, load
            w = g.get_tensor_by_name("w:0")
            assert w.dtype == tfs.float32._as_ref and w.dtype != tfs.float32
            assert w.dtype.base_dtype == tfs.float32 and w.dtype._is_ref_dtype
            # Still the variable inside tfstyle: fetched, assigned, read by new ops, trained.
            with tfs.Session() as sess:
                if load == "graph_def":
                    sess.run("init")
                else:
                    saver.restore(sess, prefix)
                got = _uses_of_outputs(tfs, g, sess)
            # The GraphDef written again holds the handle, not a ref type.
            nodes = {n.name: n for n in g.as_graph_def().node}
            assert nodes["w"].op == "VarHandleOp"
        want_uses = _uses_of_outputs_tf(tf, gd)
        _assert_same(got, want_uses)


def _uses_of_outputs_tf(tf, gd):
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(gd, name="")
        with tf.Session() as sess:
            sess.run("init")
            return _uses_of_outputs(tf, graph, sess)


def test_ref_dtypes_like_tf():
    tf = tf1()
    for base in ("float32", "float64", "int32", "bool", "complex64"):
        want, got = tf.as_dtype(base)._as_ref, tfs.as_dtype(base)._as_ref
        assert got is tfs.as_dtype(base)._as_ref and got._as_ref is got
        assert (repr(got), str(got), got.name) == (repr(want), str(want), want.name)
        assert got.as_datatype_enum == want.as_datatype_enum
        assert got.base_dtype.name == want.base_dtype.name
        assert got.real_dtype.name == want.real_dtype.name
        assert got.as_numpy_dtype == want.as_numpy_dtype and got.size == want.size
        for prop in ("is_floating", "is_integer", "is_complex", "is_bool", "_is_ref_dtype"):
            assert getattr(got, prop) == getattr(want, prop), (base, prop)
        assert (got == got.base_dtype) == (want == want.base_dtype) is False
        assert hash(got) == hash(tfs.as_dtype(base)._as_ref)
        assert got.is_compatible_with(got.base_dtype) == want.is_compatible_with(want.base_dtype)
        assert got.base_dtype.is_compatible_with(got) == want.base_dtype.is_compatible_with(want)


def _cond_on_ref_output(tf, gd):
    graph = tf.Graph()
    with graph.as_default():
        tf.import_graph_def(gd, name="")
        w = graph.get_tensor_by_name("w:0")
        w.set_shape([2, None])  # compatible: nothing changes
        with pytest.raises(ValueError):
            w.set_shape([3])
        p = tf.placeholder(tf.bool, [])
        out = tf.cond(p, lambda: tf.matmul(w, w), lambda: tf.identity(w) - 1.0)
        with tf.Session() as sess:
            sess.run("init")
            return w.shape.as_list(), out.shape.as_list(), [sess.run(out, {p: v}) for v in (1, 0)]


def test_ref_output_used_in_a_cond_like_tf(tf):
    graph = tf.Graph()
    with graph.as_default():
        _model(tf)
        tf.global_variables_initializer()
        gd = graph.as_graph_def()
    tf.enable_resource_variables()
    want = _cond_on_ref_output(tf, gd)
    got = _cond_on_ref_output(tfs, gd)
    assert got[:2] == want[:2] == ([2, 2], [2, 2])
    for g, v in zip(got[2], want[2]):
        np.testing.assert_allclose(g, v, rtol=1e-6)
