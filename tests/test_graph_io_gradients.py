"""GraphDef / MetaGraphDef interop of training graphs: ``Gradients`` as ``SymbolicGradient``."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1

X = np.array([[1.0, 2.0, -1.0], [0.5, -1.0, 3.0], [-2.0, 0.3, 0.7]], np.float32)
LABELS = np.array([[1.0, 0.0], [0.0, 1.0], [0.3, 0.7]], np.float32)
W0 = np.arange(6, dtype=np.float32).reshape(3, 2) * 0.1 - 0.2
B0 = np.array([0.1, -0.2], np.float32)
READS = ["w/Read/ReadVariableOp:0", "b/Read/ReadVariableOp:0"]
FEED = {"x:0": X, "lab:0": LABELS}


def _tf_graph_def(gd):
    tf1()
    from tensorflow.core.framework import graph_pb2

    return graph_pb2.GraphDef.FromString(gd.SerializeToString())


def _run_in_tf(gd, init, names, feed):
    """Imports ``gd`` into real TF, runs ``init``, then fetches ``names``."""
    tf = tf1()
    tg = tf.Graph()
    with tg.as_default():
        tf.import_graph_def(_tf_graph_def(gd), name="")
    with tf.Session(graph=tg) as sess:
        sess.run(init)
        return sess.run(names, feed)


def _model(tf, optimizer):
    """Placeholders, two variables, matmul, relu, softmax cross-entropy and one training op."""
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    lab = tf.placeholder(tf.float32, [None, 2], name="lab")
    w = tf.get_variable("w", initializer=W0, use_resource=True)
    b = tf.get_variable("b", initializer=B0, use_resource=True)
    logits = tf.matmul(tf.nn.relu(x), w) + b
    xent = tf.nn.softmax_cross_entropy_with_logits_v2(labels=lab, logits=logits)
    loss = tf.reduce_mean(xent, name="loss")
    if optimizer == "sgd":
        opt = tf.train.GradientDescentOptimizer(0.5)
    else:
        opt = tf.train.AdamOptimizer(0.1)
    opt.minimize(loss, name="train")
    return tf.global_variables_initializer().name


def _ours(optimizer):
    g = tfs.Graph()
    with g.as_default():
        init = _model(tfs, optimizer)
    return g, init


def _steps(sess, init, n=2):
    sess.run(init)
    for _ in range(n):
        sess.run("train", FEED)
    return sess.run(READS + ["loss:0"], FEED)


def _check(a, b):
    for va, vb in zip(a, b):
        np.testing.assert_allclose(va, vb, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_training_graph_def_runs_in_tf(optimizer):
    tf = tf1()
    g, init = _ours(optimizer)
    with tfs.Session(graph=g) as sess:
        expected = _steps(sess, init)
    gd = g.as_graph_def()
    kinds = {n.name: n.op for n in gd.node}
    assert "Gradients" not in kinds.values()
    sg = [n for n in gd.node if n.op == "SymbolicGradient"]
    assert len(sg) == 1
    assert sg[0].attr["f"].func.name in {f.signature.name for f in gd.library.function}
    grads = [op for op in g.get_operations() if op.type == "Gradients"]
    assert kinds[grads[0].name] == "IdentityN"
    tg = tf.Graph()
    with tg.as_default():
        tf.import_graph_def(_tf_graph_def(gd), name="")
    with tf.Session(graph=tg) as sess:
        got = _steps(sess, init)
    _check(got, expected)
    # The same model built in TF reaches the same values.
    ref = tf.Graph()
    with ref.as_default():
        ref_init = _model(tf, optimizer)
    with tf.Session(graph=ref) as sess:
        _check(_steps(sess, ref_init), expected)


def test_gradient_outputs_keep_their_names():
    tf = tf1()
    g = tfs.Graph()
    with g.as_default():
        x = tfs.placeholder(tfs.float32, [2], name="x")
        v = tfs.get_variable("v", initializer=np.array([1.0, 2.0], np.float32), use_resource=True)
        y = tfs.reduce_sum(tfs.square(x * v) + tfs.sin(x), name="y")
        gx, gv = tfs.gradients(y, [x, v], grad_ys=tfs.constant(2.0, name="dy"))
        names = [gx.name, gv.name]
        init = tfs.global_variables_initializer().name
    xv = np.array([0.5, -1.5], np.float32)
    with tfs.Session(graph=g) as sess:
        sess.run(init)
        expected = sess.run(names, {"x:0": xv})
    tg = tf.Graph()
    with tg.as_default():
        tf.import_graph_def(_tf_graph_def(g.as_graph_def()), name="")
    with tf.Session(graph=tg) as sess:
        sess.run(init)
        _check(sess.run(names, {"x:0": xv}), expected)
    g2 = tfs.Graph()
    with g2.as_default():
        tfs.import_graph_def(g.as_graph_def(), name="")
    with tfs.Session(graph=g2) as sess:
        sess.run(init)
        _check(sess.run(names, {"x:0": xv}), expected)


def test_training_graph_def_imports_back_into_tfstyle():
    g, init = _ours("adam")
    with tfs.Session(graph=g) as sess:
        expected = _steps(sess, init)
    gd = g.as_graph_def()
    g2 = tfs.Graph()
    with g2.as_default():
        tfs.import_graph_def(gd, name="")
    with tfs.Session(graph=g2) as sess:
        _check(_steps(sess, init), expected)
    # And out again: the rebuilt Gradients op is written as a SymbolicGradient once more.
    gd2 = g2.as_graph_def()
    assert "Gradients" not in {n.op for n in gd2.node}
    tf = tf1()
    tg = tf.Graph()
    with tg.as_default():
        tf.import_graph_def(_tf_graph_def(gd2), name="")
    with tf.Session(graph=tg) as sess:
        _check(_steps(sess, init), expected)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_saver_meta_graph_of_training_graph_trains_in_tf(tmp_path, optimizer):
    tf = tf1()
    g, init = _ours(optimizer)
    with g.as_default():
        saver = tfs.train.Saver()
        with tfs.Session() as sess:
            sess.run(init)
            path = saver.save(sess, str(tmp_path / "model"))
            for _ in range(2):
                sess.run("train", FEED)
            expected = sess.run(READS + ["loss:0"], FEED)
    tg = tf.Graph()
    with tg.as_default():
        restorer = tf.train.import_meta_graph(path + ".meta")
        with tf.Session() as sess:
            restorer.restore(sess, path)
            for _ in range(2):
                sess.run("train", FEED)
            _check(sess.run(READS + ["loss:0"], FEED), expected)
    # And into tfstyle, from the same files.
    with tfs.Graph().as_default():
        restorer = tfs.train.import_meta_graph(path + ".meta")
        with tfs.Session() as sess:
            restorer.restore(sess, path)
            for _ in range(2):
                sess.run("train", FEED)
            _check(sess.run(READS + ["loss:0"], FEED), expected)


def test_export_meta_graph_of_training_graph_imports_in_tf(tmp_path):
    tf = tf1()
    g, init = _ours("sgd")
    with tfs.Session(graph=g) as sess:
        expected = _steps(sess, init)
    path = str(tmp_path / "graph.meta")
    with g.as_default():
        tfs.train.export_meta_graph(path)
    tg = tf.Graph()
    with tg.as_default():
        tf.train.import_meta_graph(path)
        with tf.Session() as sess:
            _check(_steps(sess, init), expected)


def _conv_pool(x, w):
    y = tfs.nn.conv2d(x, w, [1, 1, 1, 1], "SAME")
    y = tfs.nn.bias_add(y, tfs.reduce_sum(w, [0, 1, 2]))
    return tfs.nn.max_pool(tfs.tanh(y), [1, 2, 2, 1], [1, 2, 2, 1], "VALID")


def _sparse_xent(x, w):
    logits = tfs.reshape(_conv_pool(x, w), [2, -1])[:, :5]
    return tfs.nn.sparse_softmax_cross_entropy_with_logits(
        labels=tfs.constant([0, 3]), logits=logits
    )


def _l2(x, w):
    return tfs.nn.l2_loss(w) + tfs.reduce_mean(tfs.sigmoid(x * w[0, 0, 0, 0]))


def _dilated(x, w):  # and depthwise
    y = tfs.nn.conv2d(x, w, [1, 1, 1, 1], "SAME", dilations=[1, 2, 3, 1])
    a = tfs.nn.conv2d(tfs.sin(y), w, [1, 1, 1, 1], "VALID", dilations=[1, 2, 1, 1])
    b = tfs.nn.conv2d(x, w, [1, 1, 1, 1], "VALID", dilations=[1, 1, 2, 1])
    c = tfs.nn.depthwise_conv2d(tfs.sin(x), w, [1, 2, 2, 1], "SAME")
    d = tfs.nn.depthwise_conv2d(x, w, [1, 1, 1, 1], "VALID", rate=[2, 1])
    return tfs.add_n([tfs.reduce_sum(t**2) for t in (a, b, c, d)])


def _activations(x, w):
    y = tfs.nn.conv2d(x, w, [1, 1, 1, 1], "SAME")
    acts = [tfs.nn.elu(y * 3.0), tfs.nn.selu(y), tfs.nn.leaky_relu(y, alpha=0.3),
            tfs.nn.softplus(y * 3.0), tfs.nn.softsign(y)]  # fmt: skip
    return tfs.reduce_mean(tfs.sin(tfs.add_n(acts)), axis=-1)


def _fused_batch_norm(x, w):
    y = tfs.nn.conv2d(x, w, [1, 1, 1, 1], "SAME")
    train, mean, var = tfs.nn.fused_batch_norm(y, w[0, 0, 0], w[0, 0, 1])
    infer, _, _ = tfs.nn.fused_batch_norm(y, w[0, 0, 0], w[0, 0, 1], mean=w[1, 1, 0],
                                          variance=tfs.abs(w[1, 1, 1]) + 0.5, is_training=False)  # fmt: skip
    return tfs.sin(train) + tfs.sin(infer) * 0.5 + tfs.reduce_sum(mean + var)


def _batch_matmul(x, w):
    # (A function body names a BatchMatMulV2's result by its output argument, "output".)
    m = tfs.reshape(x, [2, 36, 2])
    return tfs.matmul(m, tfs.stack([w[0, 0], w[1, 1]]), transpose_b=True)


def _lrn(x, w):
    y = tfs.nn.conv2d(x, tfs.concat([w, w * 0.5], 3), [1, 1, 1, 1], "SAME")
    return tfs.nn.lrn(y, depth_radius=1, bias=0.5, alpha=0.3, beta=0.75) + tfs.nn.lrn(y * y)


def _conv_transpose(x, w):
    y = tfs.nn.conv2d_transpose(x, w, [2, 12, 12, 2], [1, 2, 2, 1], "SAME")
    z = tfs.nn.conv2d_transpose(tfs.sin(x), w[:2], [2, 13, 14, 2], [1, 2, 2, 1], "VALID")
    v = tfs.nn.conv2d_transpose(x, w, [2, 11, 11, 2], [1, 2, 2, 1], "SAME")
    return tfs.reduce_sum(tfs.sin(y)) + tfs.reduce_sum(z**2) + tfs.reduce_sum(tfs.cos(v))


def _pad_tile(x, w):
    y = tfs.pad(tfs.nn.conv2d(x, w, [1, 1, 1, 1], "VALID"), [[0, 0], [1, 2], [0, 1], [0, 0]])
    y = tfs.pad(y, [[0, 0], [0, 0], [2, 0], [0, 0]], constant_values=0.5)
    return tfs.sin(y) * tfs.tile(w[:, :, 0, :1], [3, 3, 2])[:7, :7]


def _gathers(x, w):
    y = tfs.nn.conv2d(x, w, [1, 1, 1, 1], "SAME")
    a = tfs.gather(y, [2, 0, 2], axis=1) * tfs.gather(x, [1, 5, 1], axis=1)
    b = tfs.gather(tfs.sin(y), tfs.constant([1, 1], tfs.int64), axis=-1)
    c = tfs.gather(x * y, tfs.constant([[1], [5]]), axis=2)
    d = tfs.gather(w, [0, 2]) * w[1]
    return sum(tfs.reduce_sum(t**2) for t in (a, b, c, d))


def _selects(x, w):
    # SelectV2 (tf.where_v2, and the mask of tf.nn.dropout): inputs of one shape, and inputs
    # broadcast against each other.
    y = tfs.nn.conv2d(x, w, [1, 1, 1, 1], "SAME")
    same = tfs.where_v2(y > 0.1, tfs.sin(y), y * y)
    wide = tfs.where_v2(x[:, :, :1, :1] > 0, w[0, 0, 0], tfs.cos(y))
    narrow = tfs.where_v2(tfs.constant([True, False]), w[1, 1, 0], 0.5 * w[2, 2, 1, 0])
    return tfs.reduce_sum(same) + tfs.reduce_sum(wide**2) + tfs.reduce_sum(narrow)


@pytest.mark.parametrize(
    "fn",
    [_conv_pool, _sparse_xent, _l2, _dilated, _activations, _fused_batch_norm, _batch_matmul,
     _pad_tile, _lrn, _conv_transpose, _gathers, _selects],
)  # fmt: skip
def test_gradients_through_ops_without_function_gradients(fn):
    """Ops TF cannot differentiate inside a function (activations, fused batch norm, pads,
    tiles, reductions over negative axes, gathers, SelectV2) or gets wrong there (dilated
    convolutions) are written there as ops it can."""
    rng = np.random.RandomState(0)
    xv = rng.randn(2, 6, 6, 2).astype(np.float32)
    g = tfs.Graph()
    with g.as_default():
        x = tfs.placeholder(tfs.float32, [2, 6, 6, 2], name="x")
        init_w = rng.randn(3, 3, 2, 2).astype(np.float32)
        w = tfs.get_variable("w", initializer=init_w, use_resource=True)
        grads = tfs.gradients(tfs.reduce_sum(fn(x, w)), [w, x])
        names = [t.name for t in grads]
        init = tfs.global_variables_initializer().name
    with tfs.Session(graph=g) as sess:
        sess.run(init)
        expected = sess.run(names, {"x:0": xv})
    gd = g.as_graph_def()
    got = _run_in_tf(gd, init, names, {"x:0": xv})
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    g2 = tfs.Graph()
    with g2.as_default():
        tfs.import_graph_def(gd, name="")
    with tfs.Session(graph=g2) as sess:
        sess.run(init)
        got = sess.run(names, {"x:0": xv})
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_gradients_through_ops_tf_cannot_differentiate_in_a_function_fail_there_by_name():
    # The graph still loads and runs its forward part in TF; only the gradient fails, naming the
    # op. tfstyle runs it all, also after importing it back.
    tf = tf1()
    g = tfs.Graph()
    with g.as_default():
        x = tfs.placeholder(tfs.float32, [1, 4, 4, 2], name="x")
        y = tfs.image.resize_bilinear(x * x, [3, 3], name="resize")
        y = tfs.reduce_sum(y, name="y")
        (gx,) = tfs.gradients(y, [x])
        with tfs.Session() as sess:
            want = sess.run([y, gx], {x: np.ones((1, 4, 4, 2))})
    gd = g.as_graph_def()
    assert "SymbolicGradient" in {n.op for n in gd.node}
    tg = tf.Graph()
    with tg.as_default():
        tf.import_graph_def(_tf_graph_def(gd), name="")
    with tf.Session(graph=tg) as sess:
        np.testing.assert_allclose(sess.run("y:0", {"x:0": np.ones((1, 4, 4, 2))}), want[0])
        with pytest.raises(tf.errors.NotFoundError, match="ResizeBilinear"):
            sess.run(gx.name, {"x:0": np.ones((1, 4, 4, 2))})
    with tfs.Session(graph=_reimported(g)) as sess:
        for a, b in zip(sess.run(["y:0", gx.name], {"x:0": np.ones((1, 4, 4, 2))}), want):
            np.testing.assert_allclose(a, b)


def test_gradients_not_expressible_as_symbolic_gradient_are_written_as_themselves():
    g = tfs.Graph()
    with g.as_default():
        a = tfs.placeholder(tfs.float32, [], name="a")
        b = tfs.square(a, name="b")
        tfs.gradients(tfs.sin(b), [a, b])  # b is computed from a: total derivatives
    gd = g.as_graph_def()
    kinds = {n.op for n in gd.node}
    assert "Gradients" in kinds and "SymbolicGradient" not in kinds
    assert not gd.library.function


def _reimported(g):
    g2 = tfs.Graph()
    with g2.as_default():
        tfs.import_graph_def(g.as_graph_def(), name="")
    return g2


def test_gradients_written_as_themselves_import_back_and_compute_the_same():
    # xs computed from each other, a grad_ys, a stop_gradients and hessians: all written as
    # tfstyle's own ops, which import into tfstyle again.
    g = tfs.Graph()
    with g.as_default():
        a = tfs.placeholder(tfs.float32, [3], name="a")
        w = tfs.Variable([0.5, -1.0, 2.0], name="w")
        b = tfs.square(a * w, name="b")
        c = tfs.identity(tfs.exp(b * 0.1), name="c")
        y = tfs.reduce_sum(tfs.sin(b) + c * w, name="y")
        tfs.identity(tfs.gradients(y, [a, b, w], name="total"), name="g_total")
        tfs.identity(tfs.gradients([y], [w], grad_ys=[tfs.constant(2.0)], stop_gradients=[c],
                                   name="weighted"), name="g_weighted")  # fmt: skip
        tfs.identity(tfs.hessians(y, a)[0], name="h")
        init = tfs.global_variables_initializer().name
    gd = g.as_graph_def()
    assert {"Gradients", "Hessians"} <= {n.op for n in gd.node}
    names = ["g_total:0", "g_weighted:0", "h:0"]
    av = np.array([0.3, 0.7, -1.2], np.float32)
    results = []
    for graph in (g, _reimported(g)):
        with tfs.Session(graph=graph) as sess:
            sess.run(init)
            results.append(sess.run(names, {"a:0": av}))
    for got, want in zip(results[1], results[0]):
        np.testing.assert_allclose(got, want, rtol=1e-6)


def _map(tf, x, w):
    return tf.map_fn(lambda r: tf.reduce_sum(tf.sin(r * w)), x)


def _scan_init(tf, x, w):
    return tf.scan(lambda a, r: a * w + r, x, initializer=tf.ones([3]))


def _scan_first(tf, x, w):
    return tf.scan(lambda a, r: tf.tanh(a * w) + r, x)


def _scan_first_reversed(tf, x, w):
    return tf.scan(lambda a, r: tf.tanh(a * w) + r, x, reverse=True)


def _foldl_first(tf, x, w):
    return tf.foldl(lambda a, r: a * tf.tanh(w) + tf.tanh(r), x)


def _foldr_init(tf, x, w):
    return tf.foldr(lambda a, r: a * w + r, x, initializer=tf.zeros([3]))


def _gru(tf, x, w):
    cell = tf.nn.rnn_cell.GRUCell(4, name="gru")
    seq = tf.expand_dims(x * w, 0)  # one sequence of 5 steps
    with tf.variable_scope("rnn", initializer=tf.constant_initializer(0.3)):
        out, state = tf.nn.dynamic_rnn(cell, tf.concat([seq, seq], 0), sequence_length=[5, 3],
                                       dtype=tf.float32)  # fmt: skip
    return tf.reduce_sum(out, 1) + state


def _while_rows(tf, x, w):
    def body(i, a):
        return i + 1, tf.tanh(a * w) + tf.reduce_sum(x * tf.cast(i, tf.float32), 0)

    return tf.while_loop(lambda i, a: i < 5, body, [0, tf.zeros([3])])[1]


def _while_until(tf, x, w):
    # The number of iterations depends on the values, within a bound (tfstyle differentiates a
    # while_loop where one is known). One loop variable: returned alone.
    v = tf.while_loop(lambda v: tf.reduce_sum(tf.abs(v)) < 20.0, lambda v: [v * 1.5 + w],
                      [tf.reduce_sum(x, 0) + 1.0], maximum_iterations=20)  # fmt: skip
    return v


def _while_bounded(tf, x, w):
    m = tf.matmul(tf.transpose(x), x)  # captured by the loop
    _, v = tf.while_loop(lambda i, v: i >= 0, lambda i, v: (i + 1, tf.sin(tf.tensordot(m, v, 1))),
                         [0, w * 2.0], maximum_iterations=3)  # fmt: skip
    return v


def _cond_reads_variable(tf, x, w):
    return tf.cond(tf.reduce_sum(x) > 0, lambda: tf.sin(x * w), lambda: x * w * w)


def _cond_false(tf, x, w):
    xw = tf.exp(x * w)
    return tf.cond(tf.reduce_sum(x) > 100, lambda: tf.sin(xw), lambda: xw * w)


def _while_cond_in_body(tf, x, w):
    def body(i, a):
        a = tf.cond(tf.reduce_sum(a) > 0.5, lambda: tf.sin(a * w), lambda: a * w + 0.1)
        return i + 1, a + tf.reduce_sum(x, 0) * 0.1

    return tf.while_loop(lambda i, a: i < 4, body, [0, tf.ones([3])])[1]


def _while_in_while(tf, x, w):
    def body(i, a):
        def inner(j, b):
            return j + 1, tf.tanh(b * w + tf.cast(j, tf.float32) * 0.1)

        _, b = tf.while_loop(lambda j, b: j < 3, inner, [0, a])
        return i + 1, b + tf.reduce_sum(x, 0) * 0.1

    return tf.while_loop(lambda i, a: i < 4, body, [0, tf.ones([3])])[1]


def _while_in_cond(tf, x, w):
    def with_loop():
        return tf.while_loop(lambda j, b: j < 3, lambda j, b: (j + 1, tf.sin(b * w)), [0, x])[1]

    return tf.cond(tf.reduce_sum(x) > -100, with_loop, lambda: x * w)


def _map_in_while(tf, x, w):
    body = lambda i, a: (i + 1, tf.map_fn(lambda r: tf.sin(r * w), a))
    return tf.while_loop(lambda i, a: i < 3, body, [0, x])[1]


def _while_in_map(tf, x, w):
    def row(r):
        return tf.while_loop(lambda j, b: j < 2, lambda j, b: (j + 1, tf.tanh(b * w)), [0, r])[1]

    return tf.map_fn(row, x)


def _cond_in_cond(tf, x, w):
    def outer():
        return tf.cond(tf.reduce_sum(x * w) > 0, lambda: tf.sin(x * w), lambda: tf.cos(x) * w)

    return tf.cond(tf.reduce_sum(x) > -100, outer, lambda: x * w)


def _gather_one_row_in_while(tf, x, w):
    # A gather at a scalar index: TF cannot differentiate it written as a GatherNd of indices
    # of shape [1] (its gradient's ScatterNd rejects them).
    body = lambda i, a: (i + 1, tf.sin(a * tf.gather(x * w, i)) + tf.gather(x, i, axis=1)[i])
    return tf.while_loop(lambda i, a: i < 3, body, [0, w])[1]


def _gather_one_row_of_variable_in_cond_in_while(tf, x, w):
    m = tf.get_variable("m", initializer=np.linspace(-1, 1, 12, dtype=np.float32).reshape(4, 3))

    def body(i, a):
        a = tf.cond(tf.reduce_sum(a) > -100, lambda: a * tf.gather(m, i), lambda: a * w)
        return i + 1, a + x[i]

    return tf.while_loop(lambda i, a: i < 4, body, [0, w])[1]


def _integer_ops_in_while(tf, x, w):
    # Integer ops that TF has no function gradient of (FloorMod, ArgMax, a OneHot): TF's
    # SymbolicGradient of the body fails on them though no gradient flows through them.
    def body(i, a):
        j = tf.cast(tf.argmax(tf.one_hot((i * 2) % 5, 5) * 2.0), tf.int32)
        return i + 1, tf.tanh(a * w) * tf.one_hot(i % 3, 3) + tf.gather(x, j)

    return tf.while_loop(lambda i, a: i < 5, body, [0, w])[1]


def _reverse_sequence_in_while(tf, x, w):
    # TF has no function gradient of ReverseSequence: a call with a registered one.
    lengths = tf.constant([3, 1, 0, 2, 3], tf.int64)
    body = lambda i, a: (i + 1, tf.sin(tf.reverse_sequence(a * w, lengths, 1, 0)) + x)
    return tf.while_loop(lambda i, a: i < 2, body, [0, tf.reverse_sequence(x, lengths, 1, 0)])[1]


@pytest.mark.parametrize(
    "loop",
    [_map, _scan_init, _scan_first, _scan_first_reversed, _foldl_first, _foldr_init, _gru,
     _while_rows, _while_until, _while_bounded, _cond_reads_variable, _cond_false,
     _while_cond_in_body, _while_in_while, _while_in_cond, _map_in_while, _while_in_map,
     _cond_in_cond, _gather_one_row_in_while, _gather_one_row_of_variable_in_cond_in_while,
     _integer_ops_in_while, _reverse_sequence_in_while],
)  # fmt: skip
def test_gradients_through_control_flow_run_in_tf(loop):
    # TF's SymbolicGradient takes the gradient of a loop inside its function as zero, and
    # cannot differentiate an If there: a scan of known length is written there as its steps, a
    # while_loop or a cond as a call of a function with a registered gradient function, so that
    # TF computes the gradient through it; and so is control flow nested in theirs.
    tf = tf1()
    xv = np.linspace(-1, 1, 15, dtype=np.float32).reshape(5, 3)
    g = tfs.Graph()
    with g.as_default():
        x = tfs.placeholder(tfs.float32, [5, 3], name="x")
        w = tfs.get_variable("w", initializer=np.array([0.5, -0.3, 0.8], np.float32))
        y = tfs.reduce_sum(tfs.square(loop(tfs, x, w)), name="y")
        gw, gx = tfs.gradients(y, [w, x], name="g")
        names = [gw.name, gx.name, y.name]
        init = tfs.global_variables_initializer().name
    with tfs.Session(graph=g) as sess:
        sess.run(init)
        expected = sess.run(names, {x: xv})
    gd = g.as_graph_def()
    assert "Gradients" not in {n.op for n in gd.node}
    got = _run_in_tf(gd, init, names, {"x:0": xv})
    assert np.abs(expected[0]).sum() > 0
    for a, b in zip(got, expected):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # The same graph built in TF gives the same gradients.
    ref = tf.Graph()
    with ref.as_default():
        x = tf.placeholder(tf.float32, [5, 3], name="x")
        w = tf.get_variable("w", initializer=np.array([0.5, -0.3, 0.8], np.float32))
        y = tf.reduce_sum(tf.square(loop(tf, x, w)))
        fetch = [*tf.gradients(y, [w, x]), y]
        with tf.Session(graph=ref) as sess:
            sess.run(tf.global_variables_initializer())
            for a, b in zip(sess.run(fetch, {x: xv}), expected):
                np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # And the graph imports back into tfstyle.
    with tfs.Session(graph=_reimported(g)) as sess:
        sess.run(init)
        for a, b in zip(sess.run(names, {"x:0": xv}), expected):
            np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def _nested_loop_model(tf, optimizer):
    """A loop whose body runs a loop and a cond reading two variables, trained."""
    x = tf.placeholder(tf.float32, [5, 3], name="x")
    w = tf.get_variable("w", initializer=np.array([0.5, -0.3, 0.8], np.float32))
    m = tf.get_variable("m", initializer=np.eye(3, dtype=np.float32) * 0.7)

    def body(i, a):
        def inner(j, b):
            return j + 1, tf.tanh(tf.tensordot(b, m, 1) + w * tf.cast(j, tf.float32))

        _, a = tf.while_loop(lambda j, b: j < 2, inner, [0, a])
        a = tf.cond(tf.reduce_sum(a) > 0.0, lambda: a * w, lambda: tf.sin(a) + w)
        return i + 1, a + x[i]

    _, a = tf.while_loop(lambda i, a: i < 5, body, [0, tf.ones([3])])
    loss = tf.reduce_sum(tf.square(a - 0.25), name="loss")
    opt = {"adam": tf.train.AdamOptimizer(0.05), "momentum": tf.train.MomentumOptimizer(0.1, 0.9)}
    opt[optimizer].minimize(loss, name="train")
    return tf.global_variables_initializer().name


def _exported_trains_like_tf(build, xv, fetches):
    """``build(tf)`` makes a model of placeholder "x" with a "train" op and returns its
    initializer's name. Three steps in tfstyle, in TF from tfstyle's exported GraphDef, in TF
    from the model built there, and in tfstyle from the GraphDef imported back give the same
    ``fetches``."""

    def steps(sess, init):
        sess.run(init)
        for _ in range(3):
            sess.run("train", {"x:0": xv})
        return sess.run(fetches, {"x:0": xv})

    tf = tf1()
    g = tfs.Graph()
    with g.as_default():
        init = build(tfs)
    with tfs.Session(graph=g) as sess:
        expected = steps(sess, init)
    gd = g.as_graph_def()
    assert "Gradients" not in {n.op for n in gd.node}
    tg = tf.Graph()
    with tg.as_default():
        tf.import_graph_def(_tf_graph_def(gd), name="")
    with tf.Session(graph=tg) as sess:
        _check(steps(sess, init), expected)
    ref = tf.Graph()
    with ref.as_default():
        ref_init = build(tf)
    with tf.Session(graph=ref) as sess:
        _check(steps(sess, ref_init), expected)
    with tfs.Session(graph=_reimported(g)) as sess:
        _check(steps(sess, init), expected)


@pytest.mark.parametrize("optimizer", ["adam", "momentum"])
def test_training_through_nested_loops_and_conds_runs_in_tf(optimizer):
    xv = np.linspace(-1, 1, 15, dtype=np.float32).reshape(5, 3)
    fetches = ["w/Read/ReadVariableOp:0", "m/Read/ReadVariableOp:0", "loss:0"]
    _exported_trains_like_tf(lambda tf: _nested_loop_model(tf, optimizer), xv, fetches)


def _scan_of_unknown_length(tf, kind):
    """A scan over a placeholder of unknown length, trained with Adam; "sums" is the sum of each
    trainable variable."""
    x = tf.placeholder(tf.float32, [None, None, 3], name="x")
    w = tf.get_variable("w", initializer=np.array([0.5, -0.3, 0.8], np.float32))
    with tf.variable_scope("rnn", initializer=tf.constant_initializer(0.3)):
        if kind == "lstm":
            out, state = tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicLSTMCell(4), x * w, dtype=tf.float32)
            y = tf.reduce_sum(tf.square(out[:, -1])) + tf.reduce_sum(state.c)
        elif kind == "gru_lengths":
            out, state = tf.nn.dynamic_rnn(tf.nn.rnn_cell.GRUCell(4), x * w, dtype=tf.float32,
                                           sequence_length=tf.constant([2, 3]))  # fmt: skip
            y = tf.reduce_sum(tf.square(out)) + tf.reduce_sum(state)
        elif kind == "bidirectional_lengths":  # ReverseSequence before and after the scans
            cells = [tf.nn.rnn_cell.GRUCell(4), tf.nn.rnn_cell.BasicLSTMCell(3)]
            outs, states = tf.nn.bidirectional_dynamic_rnn(*cells, x * w, dtype=tf.float32,
                                                           sequence_length=[3, 2])  # fmt: skip
            y = (
                tf.reduce_sum(tf.square(outs[0]))
                + tf.reduce_sum(outs[1])
                + tf.reduce_sum(states[1].h)
            )
        elif kind == "map":
            y = tf.reduce_sum(tf.map_fn(lambda r: tf.sin(r * w), x[0]))
        elif kind == "scan_reverse":
            step = lambda a, r: tf.tanh(a * w + r)
            y = tf.reduce_sum(tf.scan(step, x[0], initializer=tf.zeros([3]), reverse=True))
        elif kind == "foldr":
            step = lambda a, r: a * 0.5 + tf.sin(r * w)
            y = tf.reduce_sum(tf.foldr(step, x[0], initializer=tf.ones([3])))
        elif kind == "scan_from_first":  # the first element is the first carry, and output
            y = tf.reduce_sum(tf.scan(lambda a, r: tf.tanh(a * w + r), x[0] * 2.0) ** 2)
        elif kind == "scan_from_last":
            y = tf.reduce_sum(tf.scan(lambda a, r: tf.tanh(a * w + r), x[0] * w, reverse=True))
        else:  # foldl from the first element
            y = tf.reduce_sum(tf.foldl(lambda a, r: a * tf.sin(r * w), x[0] + 1.5))
    tf.stack([tf.reduce_sum(v) for v in tf.trainable_variables()], name="sums")
    tf.train.AdamOptimizer(0.05).minimize(tf.identity(y, name="loss"), name="train")
    return tf.global_variables_initializer().name


@pytest.mark.parametrize(
    "kind",
    ["lstm", "gru_lengths", "bidirectional_lengths", "map", "scan_reverse", "foldr",
     "scan_from_first", "scan_from_last", "foldl_from_first"],
)  # fmt: skip
def test_training_through_scans_of_unknown_length_runs_in_tf(kind):
    # Such a scan cannot be unrolled: it is written as a call of a function holding it, whose
    # registered gradient runs its steps again and then their SymbolicGradients in reverse.
    xv = np.linspace(-1, 1, 18, dtype=np.float32).reshape(2, 3, 3)
    fetches = ["w/Read/ReadVariableOp:0", "sums:0", "loss:0"]
    _exported_trains_like_tf(lambda tf: _scan_of_unknown_length(tf, kind), xv, fetches)


def _noisy_while(tf, x, w):
    step = lambda i, a: (i + 1, a + x[i] * w * tf.random_uniform([3]))
    return tf.while_loop(lambda i, a: i < 5, step, [0, tf.zeros([3])])[1]


def _noisy_cond_in_while(tf, x, w):
    def body(i, a):
        noisy = lambda: a + x[i] * w * tf.random_normal([3])
        return i + 1, tf.cond(tf.reduce_sum(a) > -100, noisy, lambda: a + x[i] * w)

    return tf.while_loop(lambda i, a: i < 5, body, [0, tf.zeros([3])])[1]


def _noisy_scan(tf, x, w):
    return tf.scan(lambda a, r: a + r * w * tf.random_uniform([3]), x, initializer=tf.zeros([3]))


def _noisy_scan_of_unknown_length(tf, x, w):
    xs = tf.placeholder_with_default(x, [None, 3])
    return tf.scan(lambda a, r: a + r * w * tf.random_uniform([3]), xs, initializer=tf.zeros([3]))


@pytest.mark.parametrize(
    "loop", [_noisy_while, _noisy_cond_in_while, _noisy_scan, _noisy_scan_of_unknown_length]
)
def test_gradients_through_loops_drawing_random_numbers_stay_tfstyles_op(loop):
    # The gradient written for TF runs a loop's steps again, drawing other numbers than the
    # forward did: it would not be the loss's gradient. It stays tfstyle's own op, which
    # computes it from the same draws, also after importing it back.
    xv = np.linspace(0.5, 2, 15, dtype=np.float32).reshape(5, 3)
    g = tfs.Graph()
    with g.as_default():
        x = tfs.placeholder(tfs.float32, [5, 3], name="x")
        w = tfs.get_variable("w", initializer=np.array([0.5, -0.3, 0.8], np.float32))
        a = loop(tfs, x, w)
        a = a[-1] if a.shape.ndims == 2 else a
        # The loss is linear in w: its gradient is the loss divided by w, elementwise.
        (gw,) = tfs.gradients(tfs.reduce_sum(a), [w])
        fetch = [tfs.identity(gw, name="gw").name, tfs.identity(a / w, name="per_w").name]
        init = tfs.global_variables_initializer().name
    assert "Gradients" in {n.op for n in g.as_graph_def().node}
    for graph in (g, _reimported(g)):
        with tfs.Session(graph=graph) as sess:
            sess.run(init)
            got, want = sess.run(fetch, {"x:0": xv})
            np.testing.assert_allclose(got, want, rtol=1e-5)


def _lstm_training_graph():
    g = tfs.Graph()
    with g.as_default():
        x = tfs.placeholder(tfs.float32, [2, 5, 3], name="x")
        cell = tfs.nn.rnn_cell.BasicLSTMCell(4, name="cell")
        with tfs.variable_scope("rnn", initializer=tfs.constant_initializer(0.1)):
            out, _ = tfs.nn.dynamic_rnn(cell, x, dtype=tfs.float32)
        loss = tfs.reduce_sum(out**2, name="loss")
        tfs.train.AdamOptimizer(0.1).minimize(loss, name="train")
        init = tfs.global_variables_initializer().name
        names = [v.op.name + "/Read/ReadVariableOp:0" for v in tfs.global_variables()]
    return g, init, names


def _train_lstm(tf, graph, init, names):
    xv = np.linspace(-1, 1, 30, dtype=np.float32).reshape(2, 5, 3)
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        losses = [sess.run(["loss:0", "train"], {"x:0": xv})[0] for _ in range(3)]
        return losses, sess.run(names)


def test_lstm_training_graph_trains_in_tf_and_imports_back(tmp_path):
    g, init, names = _lstm_training_graph()
    assert "Gradients" not in {n.op for n in g.as_graph_def().node}
    expected = _train_lstm(tfs, g, init, names)
    assert expected[0][2] < expected[0][0]
    tf = tf1()
    with g.as_default():
        tfs.train.export_meta_graph(str(tmp_path / "lstm.meta"))
    tg = tf.Graph()
    with tg.as_default():
        tf.train.import_meta_graph(str(tmp_path / "lstm.meta"))
    runs = [_train_lstm(tf, tg, init, names), _train_lstm(tfs, _reimported(g), init, names)]
    for losses, values in runs:
        np.testing.assert_allclose(losses, expected[0], rtol=1e-5)
        for a, b in zip(values, expected[1]):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_dropout_training_graph_runs_in_tf():
    # tf.nn.dropout's mask is a SelectV2, written for TF as a Select. Its random numbers are
    # drawn outside the differentiated function, so the gradient TF computes is that of the
    # mask of the same run: d(sum(c * h))/dw = sum(c * h / w) for h = dropout(x * w).
    g = tfs.Graph()
    with g.as_default():
        x = tfs.placeholder(tfs.float32, [6, 3], name="x")
        t = tfs.placeholder_with_default(False, [], name="t")
        w = tfs.get_variable("w", initializer=np.array([0.5, -0.3, 0.8], np.float32))
        h = tfs.identity(tfs.nn.dropout(x * w, rate=0.5), name="h")
        cv = np.arange(18, dtype=np.float32).reshape(6, 3) * 0.1
        loss = tfs.reduce_sum(cv * h) + tfs.reduce_sum(tfs.layers.dropout(x * w, training=t))
        (gw,) = tfs.gradients(loss, [w])
        init = tfs.global_variables_initializer().name
    xv = np.linspace(-1, 1, 18, dtype=np.float32).reshape(6, 3)
    got = _run_in_tf(g.as_graph_def(), init, [gw.name, "h:0", READS[0]], {"x:0": xv})
    grad, hv, wv = got
    assert 0 < np.count_nonzero(hv) < hv.size
    np.testing.assert_allclose(grad, (cv * hv / wv).sum(0) + xv.sum(0), rtol=1e-5)
    # With the layer's dropout active (its mask drawn in a cond's branch), TF runs it too.
    more = _run_in_tf(g.as_graph_def(), init, [gw.name], {"x:0": xv, "t:0": True})[0]
    assert np.all(np.isfinite(more))


def _batch_norm_model(tf, conv):
    t = tf.placeholder(tf.bool, [], name="t")
    init = tf.constant_initializer(0.2)
    if conv:  # a fused batch norm (4-D input), elu, a mean over the last axis
        x = tf.placeholder(tf.float32, [4, 5, 5, 2], name="x")
        h = tf.layers.conv2d(x, 3, 3, kernel_initializer=init, name="c")
        h = tf.nn.elu(tf.layers.batch_normalization(h, training=t, momentum=0.5, name="bn"))
        h = tf.reduce_mean(h, axis=-1)
    else:
        x = tf.placeholder(tf.float32, [4, 3], name="x")
        h = tf.layers.dense(x, 5, kernel_initializer=init, name="d")
        h = tf.layers.batch_normalization(h, training=t, momentum=0.5, name="bn")
    h = tf.layers.dropout(tf.nn.relu(h), rate=0.5, training=tf.logical_and(t, False))
    loss = tf.reduce_mean(tf.square(h - 1.0), name="loss")
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        tf.train.MomentumOptimizer(0.1, 0.9).minimize(loss, name="train")
    names = [v.op.name + "/Read/ReadVariableOp:0" for v in tf.global_variables()]
    return tf.global_variables_initializer().name, names


@pytest.mark.parametrize("conv", [False, True])
def test_training_graph_with_conds_on_a_training_placeholder_trains_in_tf(conv):
    # Batch norm and dropout on a `training` placeholder put conds between the loss and the
    # variables (reading the moving statistics in one branch).
    shape = [4, 5, 5, 2] if conv else [4, 3]
    xv = np.linspace(-2, 3, int(np.prod(shape)), dtype=np.float32).reshape(shape)
    g = tfs.Graph()
    with g.as_default():
        init, names = _batch_norm_model(tfs, conv)
    assert "Gradients" not in {n.op for n in g.as_graph_def().node}

    def steps(tf, graph):
        with tf.Session(graph=graph) as sess:
            sess.run(init)
            for train in (True, True, False, True):
                sess.run("train", {"x:0": xv, "t:0": train})
            return sess.run(names + ["loss:0"], {"x:0": xv, "t:0": False})

    expected = steps(tfs, g)
    tf = tf1()
    tg = tf.Graph()
    with tg.as_default():
        tf.import_graph_def(_tf_graph_def(g.as_graph_def()), name="")
    for a, b in zip(steps(tf, tg), expected):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    ref = tf.Graph()  # the same model built in TF
    with ref.as_default():
        _batch_norm_model(tf, conv)
    for a, b in zip(steps(tf, ref), expected):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
