"""TF graphs whose ``cond`` is differentiated: TF's forward branches return their intermediates
as optionals (``OptionalFromValue`` / ``OptionalNone``), the gradient's branches unwrap them
(``OptionalGetValue``). Such graphs, written by real TF, import into tfstyle and train to TF's
values (batch norm and dropout with a ``training`` placeholder, a plain ``tf.cond``)."""

import numpy as np

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1

XV = (np.arange(24, dtype=np.float32).reshape(8, 3) - 10.0) / 7.0


def _train_both(build, steps, fetch_names):
    tf = tf1()
    g = tf.Graph()
    with g.as_default():
        build(tf)
        init = tf.global_variables_initializer()
    gd = g.as_graph_def()
    kinds = {n.op for n in gd.node} | {n.op for f in gd.library.function for n in f.node_def}
    assert {"OptionalFromValue", "OptionalNone"} <= kinds
    results = []
    with tf.Session(graph=g) as sess:
        sess.run(init)
        for feed in steps:
            sess.run("train", feed)
        results.append(sess.run(fetch_names, steps[-1]))
    g2 = tfs.Graph()
    with g2.as_default():
        tfs.import_graph_def(gd, name="")
    with tfs.Session(graph=g2) as sess:
        sess.run(init.name)
        for feed in steps:
            sess.run("train", feed)
        results.append(sess.run(fetch_names, steps[-1]))
    return results


def _const(tf, name, shape, scale):
    value = np.linspace(-scale, scale, int(np.prod(shape)), dtype=np.float32).reshape(shape)
    return tf.get_variable(name, initializer=tf.constant(value))


def test_cond_gradient_of_a_tf_graph_trains_the_same():
    def build(tf):
        x = tf.placeholder(tf.float32, [8, 3], name="x")
        flag = tf.placeholder(tf.bool, [], name="flag")
        h = tf.matmul(x, _const(tf, "w", [3, 2], 0.5))
        h = tf.cond(flag, lambda: tf.nn.relu(h) * 2.0, lambda: tf.sigmoid(h))
        tf.train.AdamOptimizer(0.1).minimize(tf.reduce_sum(h**2, name="loss"), name="train")

    steps = [{"x:0": XV, "flag:0": f} for f in (True, False, True, True, False)]
    want, got = _train_both(build, steps, ["w/Read/ReadVariableOp:0", "loss:0"])
    for a, b in zip(got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_batch_norm_with_a_training_placeholder_trains_the_same():
    def build(tf):
        x = tf.placeholder(tf.float32, [8, 3], name="x")
        training = tf.placeholder(tf.bool, [], name="training")
        h = tf.matmul(x, _const(tf, "w", [3, 4], 0.7))
        h = tf.layers.batch_normalization(h, training=training, name="bn")
        loss = tf.reduce_mean(tf.square(h - 0.3), name="loss")
        with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
            tf.train.MomentumOptimizer(0.05, 0.9).minimize(loss, name="train")

    steps = [{"x:0": XV * (1 + i), "training:0": i % 3 != 2} for i in range(5)]
    names = ["w/Read/ReadVariableOp:0", "bn/gamma/Read/ReadVariableOp:0",
             "bn/moving_mean/Read/ReadVariableOp:0", "loss:0"]  # fmt: skip
    want, got = _train_both(build, steps, names)
    for a, b, name in zip(got, want, names):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5, err_msg=name)


def test_dropout_with_a_training_placeholder_imports_and_trains():
    # The dropout masks are random numbers, which differ from TF's by design: the inference
    # steps must match TF exactly, the training steps must run and learn.
    tf = tf1()
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [8, 3], name="x")
        training = tf.placeholder(tf.bool, [], name="training")
        h = tf.nn.relu(tf.matmul(x, _const(tf, "w", [3, 16], 0.7)))
        h = tf.layers.dropout(h, rate=0.5, training=training)
        out = tf.matmul(h, _const(tf, "v", [16, 1], 0.3))
        loss = tf.reduce_mean(tf.square(out - 1.0), name="loss")
        tf.train.GradientDescentOptimizer(0.05).minimize(loss, name="train")
        init = tf.global_variables_initializer()
    gd = g.as_graph_def()
    with tf.Session(graph=g) as sess:
        sess.run(init)
        want = sess.run("loss:0", {"x:0": XV, "training:0": False})
    g2 = tfs.Graph()
    with g2.as_default():
        tfs.import_graph_def(gd, name="")
    with tfs.Session(graph=g2) as sess:
        sess.run(init.name)
        first = sess.run("loss:0", {"x:0": XV, "training:0": False})
        np.testing.assert_allclose(first, want, rtol=1e-6)
        for _ in range(30):
            sess.run("train", {"x:0": XV, "training:0": True})
        assert sess.run("loss:0", {"x:0": XV, "training:0": False}) < first
