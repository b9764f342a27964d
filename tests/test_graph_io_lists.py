"""``map_fn``/``scan``/``foldl``/``dynamic_rnn`` in GraphDefs: tfstyle writes them as TF does (a
``While`` over TensorLists), real TF runs them, and TF's own such graphs import into tfstyle."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1
from tfstyle.framework import graph_io

X = np.linspace(-1.0, 2.0, 12, dtype=np.float32).reshape(4, 3)
SEQ = np.linspace(-1.0, 1.0, 30, dtype=np.float32).reshape(2, 5, 3)
LENGTHS = np.array([3, 5], np.int32)
FEEDS = {"x:0": X, "seq:0": SEQ, "lengths:0": LENGTHS}
FEEDS_RNN = {"seq:0": SEQ, "lengths:0": LENGTHS}


def _tf_graph_def(gd):
    tf1()
    from tensorflow.core.framework import graph_pb2

    return graph_pb2.GraphDef.FromString(gd.SerializeToString())


def _scans(tf):
    """Every mode of the scan op, over a fed tensor of unknown length, a variable and a
    captured constant."""
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    v = tf.get_variable("v", initializer=tf.constant([1.0, 2.0, 3.0]), use_resource=True)
    k = tf.constant(2.0, name="k")
    return [
        tf.map_fn(lambda e: e * k + v, x),
        tf.map_fn(lambda e: (tf.reduce_sum(e), e * 2.0), x, dtype=(tf.float32, tf.float32))[1],
        tf.scan(lambda a, e: a * 0.5 + e * v, x, reverse=True),
        tf.scan(lambda a, e: a + e, x),
        tf.scan(lambda a, e: a * 0.5 + e, x, reverse=True),
        tf.scan(lambda a, e: (a[0] + e, a[1] * 2.0), x, initializer=(tf.zeros([3]), 1.0))[1],
        tf.foldl(lambda a, e: a * 0.5 + e, x, initializer=tf.zeros([3])),
        tf.foldr(lambda a, e: a * e, x),
        tf.foldl(lambda a, e: a + tf.reduce_sum(e * v), x, initializer=0.0),
    ]


def _rnns(tf):
    """LSTMs with and without sequence lengths, nested map_fn, a scan in a loop body."""
    seq = tf.placeholder(tf.float32, [None, 5, 3], name="seq")
    lengths = tf.placeholder(tf.int32, [None], name="lengths")
    g = tf.get_default_graph()
    x = g.get_tensor_by_name("x:0") if _has(g, "x:0") else tf.placeholder(tf.float32, [4, 3], "x")
    outs = []
    with tf.variable_scope("plain", initializer=tf.constant_initializer(0.1)):
        o, s = tf.nn.dynamic_rnn(tf.nn.rnn_cell.LSTMCell(4), seq, dtype=tf.float32)
        outs += [o, s.c, s.h]
    with tf.variable_scope("masked", initializer=tf.constant_initializer(0.2)):
        cell = tf.nn.rnn_cell.LSTMCell(4)
        o, s = tf.nn.dynamic_rnn(cell, seq, sequence_length=lengths, dtype=tf.float32)
        outs += [o, s.c, s.h]
    outs.append(tf.map_fn(lambda r: tf.map_fn(lambda e: e * 3.0, r), x))
    body = lambda i, a: (i + 1, tf.scan(lambda c, e: c + e, a))  # noqa: E731
    outs.append(tf.while_loop(lambda i, a: i < 2, body, [0, x])[1])
    return outs


def _build(lib, model):
    g = lib.Graph()
    with g.as_default():
        names = [t.name for t in model(lib)]
        init = lib.global_variables_initializer().name
    return g, names, init


def _run(lib, graph, names, init, feeds=FEEDS):
    feeds = {k: v for k, v in feeds.items() if _has(graph, k)}
    with lib.Session(graph=graph) as sess:
        sess.run(init)
        return sess.run(names, feeds)


def _has(graph, name):
    try:
        graph.get_tensor_by_name(name)
        return True
    except (KeyError, ValueError):
        return False


def _check(got, expected, rtol=1e-5):
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=rtol, atol=1e-6)


@pytest.mark.parametrize("model", [_scans, _rnns])
def test_tfstyle_scans_are_written_as_tf_while_loops_that_tf_runs(model):
    tf = tf1()
    g, names, init = _build(tf, model)
    expected = _run(tf, g, names, init)
    ours, our_names, our_init = _build(tfs, model)
    assert our_names == names  # the fetched names exist in the written graph too
    _check(_run(tfs, ours, names, our_init), expected)
    gd = ours.as_graph_def()
    types = {n.op for n in gd.node} | {n.op for f in gd.library.function for n in f.node_def}
    assert "TfstyleScan" not in types
    assert {"TensorListFromTensor", "TensorListGetItem", "TensorListReserve",
            "TensorListSetItem", "TensorListStack"} <= types  # fmt: skip
    assert types & {"While", "StatelessWhile"}
    g2 = tf.Graph()
    with g2.as_default():
        tf.import_graph_def(_tf_graph_def(gd), name="")
    _check(_run(tf, g2, names, our_init), expected)
    # And back into tfstyle.
    g3 = tfs.Graph()
    with g3.as_default():
        tfs.import_graph_def(gd, name="")
    _check(_run(tfs, g3, names, our_init), expected)


def test_meta_graph_with_dynamic_rnn_imports_in_tf(tmp_path):
    tf = tf1()
    g, names, init = _build(tf, _rnns)
    expected = _run(tf, g, names, init)
    ours, _, our_init = _build(tfs, _rnns)
    path = str(tmp_path / "rnn.meta")
    with ours.as_default():
        tfs.train.export_meta_graph(path)
    g2 = tf.Graph()
    with g2.as_default():
        tf.train.import_meta_graph(path)
        assert len(tf.global_variables()) == len(g.get_collection("variables"))
    _check(_run(tf, g2, names, our_init), expected)


def test_gradients_through_reimported_loops_match_tf():
    """tfstyle's export imported back: ``tf.gradients`` through the ``While`` and its lists."""
    tf = tf1()

    def model(lib):
        outs = _scans(lib)[:1] + _scans_more(lib) + _rnns(lib)[:6]
        return [lib.identity(sum(lib.reduce_sum(o * o) for o in outs), name="loss")]

    def grads(lib, graph):
        with graph.as_default():
            loss = graph.get_tensor_by_name("loss:0")
            gs = lib.gradients(loss, lib.trainable_variables())
            return [g.name for g in gs]

    g, names, init = _build(tf, model)
    expected = _run(tf, g, grads(tf, g), init)
    ours, _, our_init = _build(tfs, model)
    meta = tfs.train.export_meta_graph(graph=ours)
    back = tfs.Graph()
    with back.as_default():
        tfs.train.import_meta_graph(meta)
    _check(_run(tfs, back, grads(tfs, back), our_init), expected, rtol=1e-4)


def _scans_more(lib):
    x = lib.get_default_graph().get_tensor_by_name("x:0")
    w = lib.get_variable("w", initializer=lib.constant([0.5, -1.0, 2.0]), use_resource=True)
    return [
        lib.scan(lambda a, e: a * w + e, x, reverse=True),
        lib.foldl(lambda a, e: a * w + e, x),
    ]


def _tf_forward(tf):
    return _scans(tf) + _rnns(tf)


def test_tf_forward_graphs_import_into_tfstyle():
    tf = tf1()
    g, names, init = _build(tf, _tf_forward)
    expected = _run(tf, g, names, init)
    gd = graph_io._as_graph_def_proto(g.as_graph_def())
    ours = tfs.Graph()
    with ours.as_default():
        tfs.import_graph_def(gd, name="")
    _check(_run(tfs, ours, names, init), expected)


def test_tf_gradient_loops_import_into_tfstyle():
    """TF's gradient of a loop: accumulators (``EmptyTensorList`` + ``TensorListPushBack``)
    filled by the forward ``While`` and popped by the gradient ``While``."""
    tf = tf1()

    def model(lib):
        x = lib.placeholder(lib.float32, [4, 3], name="x")  # known: no BroadcastGradientArgs
        v = lib.get_variable("v", initializer=lib.constant([1.0, 2.0, 3.0]), use_resource=True)
        h = lib.constant([0.5, 0.5, 0.5])
        m = lib.map_fn(lambda e: e * v, x)
        s = lib.scan(lambda a, e: a * v + e, x, reverse=True)
        f = lib.foldl(lambda a, e: a * h + e * v, x)
        loss = lib.reduce_sum(m * m) + lib.reduce_sum(s) + lib.reduce_sum(f * f)
        return [loss, *lib.gradients(loss, [v, x])]

    g, names, init = _build(tf, model)
    expected = _run(tf, g, names, init)
    gd = graph_io._as_graph_def_proto(g.as_graph_def())
    types = {n.op for f in gd.library.function for n in f.node_def}
    assert {"TensorListPushBack", "TensorListPopBack"} <= types
    ours = tfs.Graph()
    with ours.as_default():
        tfs.import_graph_def(gd, name="")
    _check(_run(tfs, ours, names, init), expected)


def test_tf_dynamic_rnn_gradient_graph_imports_into_tfstyle():
    """An LSTM over sequences of a fed batch size and lengths: TF's gradient loop, its
    accumulators and gradient ops (``BroadcastGradientArgs``, ``SigmoidGrad``, ...)."""
    tf = tf1()

    def model(lib):
        seq = lib.placeholder(lib.float32, [None, 5, 3], name="seq")
        lengths = lib.placeholder(lib.int32, [None], name="lengths")
        with lib.variable_scope("m", initializer=lib.constant_initializer(0.1)):
            cell = lib.nn.rnn_cell.LSTMCell(4)
            o, s = lib.nn.dynamic_rnn(cell, seq, sequence_length=lengths, dtype=lib.float32)
        loss = lib.reduce_sum(o * o) + lib.reduce_sum(s.h)
        return [loss, *lib.gradients(loss, lib.trainable_variables() + [seq])]

    g, names, init = _build(tf, model)
    expected = _run(tf, g, names, init)
    gd = graph_io._as_graph_def_proto(g.as_graph_def())
    ours = tfs.Graph()
    with ours.as_default():
        tfs.import_graph_def(gd, name="")
    _check(_run(tfs, ours, names, init), expected)
    # TF's check of the lengths against the batch (an Assert) holds in tfstyle too.
    bad = dict(FEEDS, **{"lengths:0": np.array([3, 5, 5], np.int32)})
    with pytest.raises(tfs.errors.InvalidArgumentError, match="assertion failed"):
        _run(tfs, ours, names, init, bad)


def test_gradient_ops_of_tf_graphs():
    tf = tf1()
    from tensorflow.python.ops import gen_array_ops, gen_math_ops, gen_nn_ops

    g = tf.Graph()
    with g.as_default():
        y = tf.constant(np.linspace(-0.9, 0.9, 24, dtype=np.float32).reshape(2, 3, 4))
        dy = tf.constant(np.linspace(1.0, 2.0, 24, dtype=np.float32).reshape(2, 3, 4))
        outs = [
            gen_math_ops.sigmoid_grad(y, dy),
            gen_math_ops.tanh_grad(y, dy),
            gen_nn_ops.bias_add_grad(dy),
            gen_nn_ops.bias_add_grad(dy, data_format="NCHW"),
            gen_array_ops.invert_permutation([2, 0, 3, 1]),
            *gen_array_ops.concat_offset(1, [[2, 3, 4], [2, 5, 4], [2, 1, 4]]),
        ]
        for a, b in [([2, 3], [3]), ([2, 1, 3], [4, 1]), ([1, 1], [1]), ([2, 3], [2, 3])]:
            outs += gen_array_ops.broadcast_gradient_args(a, b)
        names = [t.name for t in outs]
        with tf.Session() as sess:
            expected = sess.run(names)
    gd = graph_io._as_graph_def_proto(g.as_graph_def())
    ours = tfs.Graph()
    with ours.as_default():
        tfs.import_graph_def(gd, name="")
        with tfs.Session() as sess:
            got = sess.run(names)
    for a, b, n in zip(got, expected, names):
        np.testing.assert_allclose(a, b, rtol=1e-6, err_msg=n)
        assert a.dtype == b.dtype and a.shape == b.shape, n


def test_assert_checked_when_the_step_runs():
    tf = tf1()
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None], name="x")
        check = tf.Assert(tf.reduce_all(x > 0), ["x must be positive:", x])
        with tf.control_dependencies([check]):
            tf.identity(x * 2.0, name="y")
    ours = tfs.Graph()
    with ours.as_default():
        tfs.import_graph_def(graph_io._as_graph_def_proto(g.as_graph_def()), name="")
        with tfs.Session() as sess:
            np.testing.assert_allclose(sess.run("y:0", {"x:0": [1.0, 2.0]}), [2.0, 4.0])
            with pytest.raises(Exception, match=r"assertion failed: \[x must be positive:\]"):
                sess.run("y:0", {"x:0": [1.0, -2.0]})


def test_gradient_through_a_loop_in_a_map_runs_in_tf():
    """TF's ``SymbolicGradient`` of a function holding a ``While`` is silently zero. A loop
    nested in a scan's step is written there as a call with a registered gradient too, so TF
    computes the gradient through both."""
    tf = tf1()
    g = tfs.Graph()
    with g.as_default():
        x = tfs.placeholder(tfs.float32, [4, 3], name="x")
        w = tfs.get_variable("w", initializer=tfs.constant([1.0, 2.0, 3.0]), use_resource=True)

        def square_twice(e):
            return tfs.while_loop(lambda i, v: i < 2, lambda i, v: (i + 1, v * v), [0, e])[1]

        m = tfs.map_fn(square_twice, x * w)
        (grad,) = tfs.gradients(tfs.reduce_sum(m), [w])
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            np.testing.assert_allclose(sess.run(grad, {x: np.ones((4, 3))}), [16, 128, 432])
        gd = g.as_graph_def()
    assert "Gradients" not in {n.op for n in gd.node}
    with tf.Graph().as_default() as tg:
        tf.import_graph_def(_tf_graph_def(gd), name="")
        with tf.Session(graph=tg) as sess:
            sess.run("w/Assign")
            got = sess.run(grad.name, {"x:0": np.ones((4, 3))})
    np.testing.assert_allclose(got, [16, 128, 432])


def test_gradient_through_a_loop_carrying_a_tensor_array_is_written_as_itself():
    """A loop carrying a TensorArray has no gradient TF computes in a function: it stays
    tfstyle's ``Gradients`` op, which TF refuses, rather than a wrong value."""
    tf = tf1()
    g = tfs.Graph()
    with g.as_default():
        x = tfs.placeholder(tfs.float32, [4, 3], name="x")
        w = tfs.get_variable("w", initializer=tfs.constant([1.0, 2.0, 3.0]), use_resource=True)
        ta = tfs.TensorArray(tfs.float32, size=4)

        def body(i, ta):
            return i + 1, ta.write(i, tfs.sin(x[i] * w))

        _, ta = tfs.while_loop(lambda i, ta: i < 4, body, [0, ta])
        (grad,) = tfs.gradients(tfs.reduce_sum(ta.stack()), [w])
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            np.testing.assert_allclose(
                sess.run(grad, {x: np.ones((4, 3))}), 4 * np.cos([1.0, 2.0, 3.0]), rtol=1e-6
            )
        gd = g.as_graph_def()
    assert "SymbolicGradient" not in {n.op for n in gd.node}
    with tf.Graph().as_default(), pytest.raises(Exception, match="Gradients"):
        tf.import_graph_def(_tf_graph_def(gd), name="")


def test_identity_n_of_one_tensor_imports():
    """(The ``IdentityN`` that a gradient is written with has one input for one x.)"""
    tf = tf1()
    g = tf.Graph()
    with g.as_default():
        (y,) = tf.identity_n([tf.constant([1.0, 2.0])], name="one")
    with tfs.Graph().as_default():
        (t,) = tfs.import_graph_def(g.as_graph_def(), return_elements=[y.name], name="")
        with tfs.Session() as sess:
            value = sess.run(t)
    assert value.shape == (2,)
    np.testing.assert_allclose(value, [1.0, 2.0])


def test_tf_meta_graph_and_checkpoint_with_loops_restore_in_tfstyle(tmp_path):
    tf = tf1()
    g = tf.Graph()
    with g.as_default():
        seq = tf.placeholder(tf.float32, [None, 5, 3], name="seq")
        lengths = tf.placeholder(tf.int32, [None], name="lengths")
        with tf.variable_scope("r", initializer=tf.constant_initializer(0.2)):
            cell = tf.nn.rnn_cell.LSTMCell(4)
            o, s = tf.nn.dynamic_rnn(cell, seq, sequence_length=lengths, dtype=tf.float32)
        m = tf.map_fn(tf.reduce_sum, o)
        saver = tf.train.Saver()
        scale = [v.assign(v * 1.5 + 0.1) for v in tf.global_variables()]
        names = [o.name, s.h.name, m.name]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(scale)
            expected = sess.run(names, FEEDS_RNN)
            path = saver.save(sess, str(tmp_path / "model"))
    with tfs.Graph().as_default():
        restorer = tfs.train.import_meta_graph(path + ".meta")
        with tfs.Session() as sess:
            restorer.restore(sess, path)
            _check(sess.run(names, FEEDS_RNN), expected)


@pytest.mark.parametrize("length", [0, 3])
def test_map_over_a_fed_tensor_of_any_length_imports_back(length):
    # (A loop of no iterations over an empty list still traces its body's reads and writes.)
    tf = tf1()
    g = tfs.Graph()
    with g.as_default():
        x = tfs.placeholder(tfs.float32, [None, 3], name="x")
        w = tfs.get_variable("w", initializer=np.array([0.5, -0.3, 0.8], np.float32))
        tfs.identity(tfs.map_fn(lambda r: tfs.sin(r * w), x), name="y")
        init = tfs.global_variables_initializer().name
    xv = np.linspace(-1, 1, 3 * length, dtype=np.float32).reshape(length, 3)
    tg = tf.Graph()
    with tg.as_default():
        tf.import_graph_def(_tf_graph_def(g.as_graph_def()), name="")
    with tf.Session(graph=tg) as sess:
        sess.run(init)
        expected = sess.run("y:0", {"x:0": xv})
    g2 = tfs.Graph()
    with g2.as_default():
        tfs.import_graph_def(g.as_graph_def(), name="")
    with tfs.Session(graph=g2) as sess:
        sess.run(init)
        got = sess.run("y:0", {"x:0": xv})
    assert got.shape == expected.shape == (length, 3)
    np.testing.assert_allclose(got, expected, rtol=1e-6)
