"""The gradient of a ``tf.gather`` of a variable inside a TF 1.x ``while_loop``: TF's gradient
loop sums the ``IndexedSlices`` of each iteration by concatenating them onto loop variables that
grow. On import they become lists of the capacity the forward loop's ``maximum_iterations``
gives (``tfstyle/framework/functionalize.py``), and the graph trains to TF's values."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.test_graph_io_v1_control_flow import _check, _from_meta, _run_tfs, _tf_graph

_OPTIMIZERS = {
    "sgd": lambda tf: tf.train.GradientDescentOptimizer(0.1),
    "adagrad": lambda tf: tf.train.AdagradOptimizer(0.1),
    "momentum": lambda tf: tf.train.MomentumOptimizer(0.1, 0.9),
}


def _lookup_in_loop(optimizer):
    def build(tf):
        ids = tf.placeholder(tf.int32, [None], name="ids")
        emb = tf.get_variable("emb", [6, 3])

        def body(i, a):
            return [i + 1, a * 0.5 + tf.reduce_sum(tf.gather(emb, ids), 0)]

        _, a = tf.while_loop(lambda i, a: i < 3, body, [0, tf.zeros([3])], maximum_iterations=3)
        loss = tf.reduce_sum(tf.square(a))
        g = tf.gradients(loss, emb)[0]
        assert isinstance(g, tf.IndexedSlices)
        _OPTIMIZERS[optimizer](tf).minimize(loss, name="train")
        return [loss.name, g.values.name, g.indices.name, g.dense_shape.name]

    return build


def _train_compare(build, feeds, tmp_path, steps=3):
    path = str(tmp_path / "model")
    _, fetches, expected, theirs = _tf_graph(build, feeds, path, train="train", steps=steps)
    got, ours = _run_tfs(_from_meta(path, True), fetches, feeds, train="train", steps=steps)
    _check(expected, got)
    assert sorted(theirs) == sorted(ours)
    for name in theirs:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-4, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("optimizer", sorted(_OPTIMIZERS))
def test_gather_in_a_loop_trains_to_tf_values(tmp_path, optimizer):
    # A repeated id: the sparse updates sum its rows (TF's gradient starts with a zero row at 0).
    feeds = [{"ids:0": np.array([1, 3, 1], np.int32)}, {"ids:0": np.array([5], np.int32)}]
    _train_compare(_lookup_in_loop(optimizer), feeds, tmp_path)


def _lookup_in_nested_loops(optimizer):
    def build(tf):
        ids = tf.placeholder(tf.int32, [None], name="ids")
        n = tf.placeholder(tf.int32, [], name="n")
        emb = tf.get_variable("emb", [6, 3])

        def outer(j, b):
            def inner(i, a):
                rows = tf.gather(emb, ids) * tf.cast(i + 2 * j + 1, tf.float32)
                return [i + 1, tf.tanh(a * 0.5 + tf.reduce_sum(rows, 0))]

            _, a = tf.while_loop(lambda i, a: i < n, inner, [0, b], maximum_iterations=3)
            return [j + 1, a]

        cond = lambda j, b: j < 2  # noqa: E731
        _, a = tf.while_loop(cond, outer, [0, tf.zeros([3])], maximum_iterations=2)
        loss = tf.reduce_sum(tf.square(a - 0.3))
        _OPTIMIZERS[optimizer](tf).minimize(loss, name="train")
        return [loss.name]

    return build


@pytest.mark.parametrize("optimizer", sorted(_OPTIMIZERS))
def test_gather_in_nested_loops_trains_to_tf_values(tmp_path, optimizer):
    # The accumulator of the slices' dense shape starts at ZerosLike(Shape(handle)), which TF's
    # graph optimizer folds to the variable's shape.
    # The inner loop runs fewer iterations than its bound in the second step.
    ids = np.array([1, 3, 1, 5], np.int32)
    feeds = [{"ids:0": ids, "n:0": 3}, {"ids:0": ids[:2].copy(), "n:0": 1}]
    _train_compare(_lookup_in_nested_loops(optimizer), feeds, tmp_path)


def _fewer_iterations_than_the_bound(tf):
    ids = tf.placeholder(tf.int64, [4, 2], name="ids")
    n = tf.placeholder(tf.int32, [], name="n")
    emb = tf.get_variable("emb", [7, 3])

    def body(i, a):
        rows = tf.nn.embedding_lookup(emb, ids[i])
        return [i + 1, tf.tanh(a + tf.reduce_sum(rows, 0))]

    # The loop runs n times (at most 4): the rows of the iterations it did not run are dropped.
    _, a = tf.while_loop(lambda i, a: i < n, body, [0, tf.zeros([3])], maximum_iterations=4)
    loss = tf.reduce_sum(tf.square(a - 0.5)) + tf.reduce_sum(tf.gather(emb, [0, 6]))
    g = tf.gradients(loss, emb)[0]
    dense = tf.convert_to_tensor(g)
    tf.train.AdagradOptimizer(0.2).minimize(loss, name="train")
    return [loss.name, dense.name]


def test_loop_of_fewer_iterations_than_its_bound_and_a_lookup_outside(tmp_path):
    ids = np.array([[1, 2], [2, 4], [6, 0], [3, 3]], np.int64)
    feeds = [{"ids:0": ids, "n:0": 2}, {"ids:0": ids, "n:0": 4}, {"ids:0": ids, "n:0": 0}]
    _train_compare(_fewer_iterations_than_the_bound, feeds, tmp_path)


def _size_of_the_gradient(tf):
    ids = tf.placeholder(tf.int32, [None], name="ids")
    emb = tf.get_variable("emb", [6, 3])
    body = lambda i, a: [i + 1, a + tf.reduce_sum(tf.gather(emb, ids), 0)]  # noqa: E731
    _, a = tf.while_loop(lambda i, a: i < 3, body, [0, tf.zeros([3])], maximum_iterations=5)
    g = tf.gradients(tf.reduce_sum(a), emb)[0]
    return [tf.size(g.indices, name="count").name]


def test_a_gradient_whose_row_count_is_used_names_the_growing_concatenation(tmp_path):
    # Padding would change the count: the accumulator is left as TF wrote it, which XLA cannot
    # compile.
    path = str(tmp_path / "model")
    feeds = [{"ids:0": np.array([1, 3], np.int32)}]
    _, fetches, expected, _ = _tf_graph(_size_of_the_gradient, feeds, path)
    assert expected[0][0] == 7
    with tfs.Graph().as_default():
        saver = tfs.train.import_meta_graph(path + ".meta")
        with tfs.Session() as sess:
            saver.restore(sess, path)
            with pytest.raises(tfs.errors.UnimplementedError) as info:
                sess.run(fetches, feeds[0])
    message = str(info.value)
    assert "gradients/while/While" in message
    # The error names the growing concatenation (of the indices) in the gradient loop.
    assert "gradients/while/Gather/Enter_grad/concat_1 (loop variable" in message
