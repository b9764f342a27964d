"""Graphs written with TF 1.x control flow (``Switch``/``Merge``/``Enter``/``Exit``/
``NextIteration``, TensorArrays) import into tfstyle, rewritten as ``If``/``While`` nodes
(``tfstyle/framework/functionalize.py``), and compute TF's values."""

import contextlib

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1

_V1_TYPES = {"Switch", "Merge", "Enter", "Exit", "NextIteration", "LoopCond"}


@contextlib.contextmanager
def _v1_control_flow():
    """TF with control flow v2 off (a process-wide switch in TF), restored afterwards."""
    tf1()
    from tensorflow.python.ops import control_flow_util

    tf = tf1()
    before = control_flow_util.ENABLE_CONTROL_FLOW_V2
    tf.disable_control_flow_v2()
    try:
        yield tf
    finally:
        if before:
            tf.enable_control_flow_v2()


def _tf_graph(build, feeds, path, train=None, steps=0):
    """Builds ``build(tf)`` (which returns the names to fetch) with v1 control flow, saves its
    checkpoint and ``.meta``, and runs it on each of ``feeds``; then runs ``train`` ``steps``
    times on the first feed. Returns ``(graph_def, fetch names, values, variables)``."""
    with _v1_control_flow() as tf:
        g = tf.Graph()
        with g.as_default():
            tf.set_random_seed(1)
            fetches = build(tf)
            init = tf.global_variables_initializer()
            assert init.name == "init"
            saver = tf.train.Saver() if tf.global_variables() else None
            gd = g.as_graph_def()
            assert _V1_TYPES & {n.op for n in gd.node}
            with tf.Session() as sess:
                sess.run(init)
                if saver is not None:
                    saver.save(sess, path)
                else:
                    tf.train.export_meta_graph(path + ".meta")
                values = [sess.run(fetches, f) for f in feeds]
                for _ in range(steps):
                    sess.run(train, feeds[0])
                variables = {v.op.name: sess.run(v) for v in tf.global_variables()}
    return gd, fetches, values, variables


def _run_tfs(load, fetches, feeds, train=None, steps=0):
    with tfs.Graph().as_default():
        restore = load()
        with tfs.Session() as sess:
            restore(sess)
            values = [sess.run(fetches, f) for f in feeds]
            for _ in range(steps):
                sess.run(train, feeds[0])
            variables = {v.op.name: sess.run(v) for v in tfs.global_variables()}
    return values, variables


def _from_graph_def(gd):
    def load():
        tfs.import_graph_def(gd, name="")
        return lambda sess: sess.run("init")

    return load


def _from_meta(path, restore):
    def load():
        saver = tfs.train.import_meta_graph(path + ".meta")
        if restore:
            return lambda sess: saver.restore(sess, path)
        return lambda sess: sess.run("init")

    return load


def _check(expected, got, rtol=1e-5, atol=1e-5):
    assert len(expected) == len(got)
    for a, b in zip(expected, got):
        for x, y in zip(a, b):
            np.testing.assert_allclose(y, x, rtol=rtol, atol=atol)


def _compare(build, feeds, tmp_path, graph_def=True, rtol=1e-5, atol=1e-5):
    path = str(tmp_path / "model")
    gd, fetches, expected, _ = _tf_graph(build, feeds, path)
    restore = bool(_tf_variables(gd))
    loads = [_from_meta(path, restore)] + ([_from_graph_def(gd)] if graph_def else [])
    for load in loads:
        got, _ = _run_tfs(load, fetches, feeds)
        _check(expected, got, rtol, atol)


def _tf_variables(gd):
    return [n.name for n in gd.node if n.op in ("VarHandleOp", "VariableV2")]


# -- cond ----------------------------------------------------------------------------------
def _nested_cond(tf):
    x = tf.placeholder(tf.float32, [None], name="x")
    p = tf.placeholder(tf.bool, [], name="p")
    c = tf.constant([2.0, 3.0, 4.0])
    y = tf.cond(
        p,
        lambda: x * c,
        lambda: tf.cond(tf.reduce_sum(x) > 0, lambda: x + 1.0, lambda: tf.reshape(x, [3]) - c),
        name="outer",
    )
    a, b = tf.cond(p, lambda: (x, tf.square(c)), lambda: (c, x + c), name="pair")
    z = tf.cond(p, lambda: tf.constant(5.0), lambda: tf.constant(-5.0), name="consts")
    return ["outer/Merge:0", tf.identity(y, name="out").name, a.name, b.name, z.name]


def test_nested_cond_with_pred_placeholder(tmp_path):
    xs = [np.array([1.0, -2.0, 4.0], np.float32), np.array([-1.0, -2.0, 0.5], np.float32)]
    feeds = [{"x:0": x, "p:0": p} for x in xs for p in (True, False)]
    _compare(_nested_cond, feeds, tmp_path)


def test_cond_graph_def_imports_under_a_prefix_with_an_input_map(tmp_path):
    path = str(tmp_path / "model")
    x = np.array([1.0, -2.0, 4.0], np.float32)
    feeds = [{"x:0": x, "p:0": False}]
    gd, fetches, expected, _ = _tf_graph(_nested_cond, feeds, path)
    with tfs.Graph().as_default() as g:
        tfs.import_graph_def(gd, input_map={"x:0": tfs.constant(x)}, name="imp")
        assert g.get_tensor_by_name("imp/outer/Merge:0") is not None
        with tfs.Session() as sess:
            got = sess.run(["imp/" + f for f in fetches], {"imp/p:0": False})
    _check(expected, [got])


def _case(tf):
    i = tf.placeholder(tf.int32, [], name="i")
    x = tf.placeholder(tf.float32, [2], name="x")
    y = tf.case(
        [(tf.equal(i, 0), lambda: x * 2.0), (tf.equal(i, 1), lambda: x - 1.0)],
        default=lambda: tf.reduce_sum(x) * tf.ones([2]),
        name="case",
    )
    return [y.name]


def test_case(tmp_path):
    x = np.array([1.5, -3.0], np.float32)
    _compare(_case, [{"i:0": k, "x:0": x} for k in (0, 1, 2)], tmp_path)


# -- while_loop ----------------------------------------------------------------------------
def _loops(tf):
    x = tf.placeholder(tf.float32, [2], name="x")
    n = tf.placeholder(tf.int32, [], name="n")
    c = tf.constant([0.5, 2.0], name="c")
    v = tf.get_variable("v", initializer=tf.constant([1.0, -1.0]), use_resource=True)
    # Several loop variables, a captured tensor and a variable, a data-dependent trip count.
    i, a, s = tf.while_loop(
        lambda i, a, s: i < n, lambda i, a, s: [i + 1, a * c + v, s + tf.reduce_sum(a)], [0, x, 0.0]
    )

    # A nested loop reading the outer loop's variable, a cond in the body.
    def outer_body(j, acc):
        k, inner = tf.while_loop(
            lambda k, t: k < 3, lambda k, t: [k + 1, t + tf.cast(j, tf.float32) * c], [0, acc]
        )
        inner = tf.cond(j % 2 > 0, lambda: inner * 0.5, lambda: inner + x)
        return [j + 1, inner]

    _, nested = tf.while_loop(lambda j, acc: j < 4, outer_body, [0, x], name="outer")
    # maximum_iterations stops a loop that would run longer.
    bounded = tf.while_loop(
        lambda b: tf.reduce_sum(b) < 1e6, lambda b: b * 3.0, [x], maximum_iterations=n
    )
    # A loop inside a cond branch.
    in_cond = tf.cond(
        n > 2,
        lambda: tf.while_loop(lambda t: tf.reduce_sum(t) < 100.0, lambda t: t * 2.0 + 1.0, [x]),
        lambda: -x,
        name="branch",
    )
    return [i.name, a.name, s.name, "outer/Exit_1:0", nested.name, bounded.name, in_cond.name]


def test_while_loops(tmp_path):
    x = np.array([1.5, 0.25], np.float32)
    _compare(_loops, [{"x:0": x, "n:0": k} for k in (0, 1, 3, 6)], tmp_path)


def _map_scan(tf):
    x = tf.placeholder(tf.float32, [5, 3], name="x")
    w = tf.constant(np.linspace(-1, 1, 9, dtype=np.float32).reshape(3, 3))
    m = tf.map_fn(lambda r: tf.tanh(tf.matmul(r[None], w))[0], x)
    s = tf.scan(lambda a, r: a * 0.5 + r, x, initializer=tf.zeros([3]))
    f = tf.foldl(lambda a, r: a + tf.reduce_sum(r), x, initializer=0.0)
    pair = tf.map_fn(lambda r: (r * 2.0, tf.reduce_max(r)), x, dtype=(tf.float32, tf.float32))
    return [m.name, s.name, f.name, pair[0].name, pair[1].name]


def test_map_fn_scan_foldl(tmp_path):
    x = np.arange(15, dtype=np.float32).reshape(5, 3) / 7.0
    _compare(_map_scan, [{"x:0": x}, {"x:0": -x}], tmp_path)


# -- layers --------------------------------------------------------------------------------
def _lstm(tf):
    x = tf.placeholder(tf.float32, [3, 6, 4], name="x")
    cell = tf.nn.rnn_cell.LSTMCell(5)
    out, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
    assert out.name == "rnn/transpose_1:0"
    return [out.name, state.c.name, state.h.name]


def test_dynamic_rnn_lstm_restored(tmp_path):
    rng = np.random.RandomState(0)
    feeds = [{"x:0": rng.randn(3, 6, 4).astype(np.float32)} for _ in range(2)]
    _compare(_lstm, feeds, tmp_path, graph_def=False)


def _lstm_any_shape(tf):
    # Weights from constant initializers: a GraphDef (no checkpoint) gives TF's values.
    x = tf.placeholder(tf.float32, [None, None, 4], name="x")
    kernel = np.linspace(-0.5, 0.5, 180, dtype=np.float32).reshape(9, 20)
    with tf.variable_scope("m", initializer=tf.constant_initializer(kernel)):
        out, state = tf.nn.dynamic_rnn(tf.nn.rnn_cell.LSTMCell(5), x, dtype=tf.float32)
    return [out.name, state.h.name]


def test_dynamic_rnn_graph_def_with_unknown_batch_and_time(tmp_path):
    rng = np.random.RandomState(0)
    feeds = [
        {"x:0": rng.randn(2, 6, 4).astype(np.float32)},
        {"x:0": rng.randn(3, 4, 4).astype(np.float32)},
    ]
    _compare(_lstm_any_shape, feeds, tmp_path)


def _batch_norm_dropout(tf):
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    t = tf.placeholder(tf.bool, [], name="training")
    y = tf.layers.batch_normalization(x, training=t, momentum=0.5)
    z = tf.layers.dropout(y, rate=0.5, training=t)
    return [y.name, z.name]


def test_batch_norm_and_dropout_with_a_training_placeholder(tmp_path):
    x = (np.arange(12, dtype=np.float32).reshape(4, 3) - 5.0) / 3.0
    path = str(tmp_path / "model")
    feeds = [{"x:0": x, "training:0": False}, {"x:0": x, "training:0": True}]
    _, fetches, expected, _ = _tf_graph(_batch_norm_dropout, feeds, path)
    got, _ = _run_tfs(_from_meta(path, True), fetches, feeds)
    # Inference: both equal; training: batch norm equal, dropout keeps or doubles each value.
    _check(expected[:1], got[:1])
    np.testing.assert_allclose(got[1][0], expected[1][0], rtol=1e-5, atol=1e-5)
    y, z = got[1]
    kept = z != 0
    np.testing.assert_allclose(z[kept], 2.0 * y[kept], rtol=1e-6)
    assert 0 < kept.sum() < kept.size


# -- training ------------------------------------------------------------------------------
def _train_through_cond(tf):
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    t = tf.placeholder(tf.bool, [], name="training")
    h = tf.layers.dense(x, 4, name="dense")
    h = tf.layers.batch_normalization(h, training=t, momentum=0.5)
    h = tf.cond(t, lambda: tf.nn.relu(h), lambda: tf.tanh(h), name="act")
    loss = tf.reduce_sum(tf.square(h - 0.25))
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        tf.train.MomentumOptimizer(0.1, 0.9).minimize(loss, name="train")
    return [loss.name]


def _train_compare(build, feeds, tmp_path, steps=3):
    path = str(tmp_path / "model")
    _, fetches, expected, theirs = _tf_graph(build, feeds, path, train="train", steps=steps)
    got, ours = _run_tfs(_from_meta(path, True), fetches, feeds, train="train", steps=steps)
    _check(expected, got)
    assert sorted(theirs) == sorted(ours)
    for name in theirs:
        np.testing.assert_allclose(ours[name], theirs[name], rtol=1e-4, atol=1e-5, err_msg=name)


def test_training_step_through_cond(tmp_path):
    # Random inputs: batch norm of an evenly spaced batch puts one value on ReLU's kink.
    x = np.random.RandomState(0).randn(5, 3).astype(np.float32)
    _train_compare(_train_through_cond, [{"x:0": x, "training:0": True}], tmp_path)


def _train_lstm(tf):
    x = tf.placeholder(tf.float32, [3, 5, 4], name="x")
    cell = tf.nn.rnn_cell.LSTMCell(6)
    out, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
    loss = tf.reduce_sum(tf.square(out - 0.1)) + tf.reduce_sum(state.c)
    tf.train.GradientDescentOptimizer(0.05).minimize(loss, name="train")
    return [loss.name]


def test_training_step_through_dynamic_rnn(tmp_path):
    x = np.random.RandomState(1).randn(3, 5, 4).astype(np.float32)
    _train_compare(_train_lstm, [{"x:0": x}], tmp_path)


def _train_loop_with_cond(tf):
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    w = tf.get_variable("w", [3, 3])

    def body(i, a):
        a = tf.cond(i % 2 > 0, lambda: tf.tanh(tf.matmul(a, w)), lambda: tf.sigmoid(a * w[0]))
        return [i + 1, a]

    # TF's gradient saves the forward values on stacks, sized by maximum_iterations.
    _, a = tf.while_loop(lambda i, a: i < 4, body, [0, x], maximum_iterations=4)
    loss = tf.reduce_sum(a)
    tf.train.AdamOptimizer(0.1).minimize(loss, name="train")
    return [loss.name]


def test_training_step_through_while_loop_with_cond(tmp_path):
    x = np.random.RandomState(1).randn(4, 3).astype(np.float32)
    _train_compare(_train_loop_with_cond, [{"x:0": x}], tmp_path)


def _train_map_scan(tf):
    x = tf.placeholder(tf.float32, [4, 3], name="x")
    w = tf.get_variable("w", [3, 3])
    y = tf.map_fn(lambda r: tf.tanh(tf.matmul(r[None], w))[0], x)
    s = tf.scan(lambda a, r: a * 0.5 + tf.matmul(r[None], w)[0], x, initializer=tf.zeros([3]))
    loss = tf.reduce_sum(y) + tf.reduce_sum(s * s)
    tf.train.GradientDescentOptimizer(0.1).minimize(loss, name="train")
    return [loss.name]


def test_training_step_through_map_fn_and_scan(tmp_path):
    x = np.random.RandomState(2).randn(4, 3).astype(np.float32)
    _train_compare(_train_map_scan, [{"x:0": x}], tmp_path)


def _train_loop_of_a_constant_bound(tf):
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    w = tf.get_variable("w", [3, 3])
    _, a = tf.while_loop(lambda i, a: i < 3, lambda i, a: [i + 1, tf.tanh(tf.matmul(a, w))], [0, x])
    tf.train.GradientDescentOptimizer(0.1).minimize(tf.reduce_sum(a), name="train")
    return [a.name]


def test_gradient_of_a_loop_of_a_constant_bound_trains_to_tf_values(tmp_path):
    # No maximum_iterations: the stacks' capacity is the constant of the condition i < 3 (its
    # counter counts up from 0).
    _train_compare(_train_loop_of_a_constant_bound, [{"x:0": np.ones((2, 3), np.float32)}] * 2,
                   tmp_path)  # fmt: skip


def _train_data_dependent_loop(tf):
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    limit = tf.placeholder(tf.float32, [], name="limit")
    w = tf.get_variable("w", initializer=tf.constant(np.eye(3, dtype=np.float32) * 0.5 + 0.6))
    _, a = tf.while_loop(lambda i, a: tf.reduce_sum(tf.abs(a)) < limit,
                         lambda i, a: [i + 1, tf.matmul(a, w) * 0.9 + 0.1], [0, x])  # fmt: skip
    loss = tf.reduce_sum(a) / limit
    tf.train.GradientDescentOptimizer(0.01).minimize(loss, name="train")
    return [loss.name]


def test_gradient_of_a_data_dependent_loop_trains_to_tf_values(tmp_path):
    # No bound: the stacks' capacity is the one runs find they need (the second feed's 45
    # iterations grow it, and that step runs again before its update).
    x = np.ones((2, 3), np.float32)
    feeds = [{"x:0": x, "limit:0": v} for v in (20.0, 1e15, 50.0)]
    _train_compare(_train_data_dependent_loop, feeds, tmp_path)


def _train_loop_of_fed_trip_count(tf):
    x = tf.placeholder(tf.float32, [3], name="x")
    n = tf.placeholder(tf.int32, [], name="n")
    w = tf.get_variable("w", [3])
    _, a = tf.while_loop(lambda i, a: i < n, lambda i, a: [i + 1, tf.tanh(a * w + x)],
                         [0, tf.zeros([3])])  # fmt: skip
    loss = tf.reduce_sum(tf.square(a - 0.3))
    tf.train.GradientDescentOptimizer(0.1).minimize(loss, name="train")
    return [loss.name]


def test_gradient_of_a_loop_of_a_fed_trip_count_trains_to_tf_values(tmp_path):
    # TF's condition i < n bounds the loop: its stacks become lists of the fed n's capacity,
    # and the step is compiled for each new n.
    x = np.array([0.5, -1.0, 2.0], np.float32)
    feeds = [{"x:0": x, "n:0": 3}, {"x:0": x, "n:0": 1}, {"x:0": x, "n:0": 3}]
    _train_compare(_train_loop_of_fed_trip_count, feeds, tmp_path)


def _rnn_variant(kind):
    def build(tf):
        x = tf.placeholder(tf.float32, [3, 5, 4], name="x")
        lengths = [5, 2, 3]
        if kind == "stacked":
            cell = tf.nn.rnn_cell.MultiRNNCell(
                [tf.nn.rnn_cell.LSTMCell(6), tf.nn.rnn_cell.GRUCell(5)]
            )
            out, _ = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
            loss = tf.reduce_sum(tf.square(out))
        elif kind == "lengths":
            out, state = tf.nn.dynamic_rnn(
                tf.nn.rnn_cell.LSTMCell(6), x, sequence_length=lengths, dtype=tf.float32
            )
            loss = tf.reduce_sum(tf.square(out)) + tf.reduce_sum(state.h)
        else:
            (fw, bw), _ = tf.nn.bidirectional_dynamic_rnn(
                tf.nn.rnn_cell.LSTMCell(6),
                tf.nn.rnn_cell.LSTMCell(6),
                x,
                sequence_length=lengths,
                dtype=tf.float32,
            )
            loss = tf.reduce_sum(tf.square(fw)) + tf.reduce_sum(bw)
        # Adam's default epsilon turns a near-zero gradient's last-bit noise (thread-dependent
        # sums in TF) into a full step; a larger one keeps the comparison about the graph.
        tf.train.AdamOptimizer(0.05, epsilon=1e-3).minimize(loss, name="train")
        return [loss.name]

    return build


@pytest.mark.parametrize("kind", ["stacked", "lengths", "bidirectional"])
def test_training_step_through_rnn_variants(tmp_path, kind):
    x = np.random.RandomState(3).randn(3, 5, 4).astype(np.float32)
    _train_compare(_rnn_variant(kind), [{"x:0": x}], tmp_path)


def _train_nested_loops(tf):
    x = tf.placeholder(tf.float32, [5, 4], name="x")
    w = tf.get_variable("w", [4, 4])

    def outer(i, a):
        _, b = tf.while_loop(
            lambda j, b: j < 2,
            lambda j, b: [j + 1, tf.tanh(tf.matmul(b, w))],
            [0, a],
            maximum_iterations=2,
        )
        return [i + 1, b]

    # One stack holds the inner loop's values of every outer iteration.
    _, a = tf.while_loop(lambda i, a: i < 3, outer, [0, x], maximum_iterations=3)
    tf.train.GradientDescentOptimizer(0.05).minimize(tf.reduce_sum(a), name="train")
    return [a.name]


def test_training_step_through_nested_loops(tmp_path):
    x = np.random.RandomState(4).randn(5, 4).astype(np.float32)
    _train_compare(_train_nested_loops, [{"x:0": x}], tmp_path)
