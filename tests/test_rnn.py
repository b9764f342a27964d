"""Recurrent networks against real TF: cells' variable names and shapes, outputs and final
states of dynamic/static/bidirectional RNNs with TF's weights loaded, gradients, Adam training,
and a training loop that traces once."""

import numpy as np
import pytest

import tfstyle
import tfstyle.compat.v1 as tfs
from tests.oracle import tf1

RNG = np.random.RandomState(0)
X = RNG.randn(3, 5, 4).astype(np.float32)
LENGTHS = np.array([5, 2, 0], np.int32)


def _meta(x):
    def one(t):
        s = t.shape
        return t.name, None if s.ndims is None else s.as_list(), t.dtype.name

    if isinstance(x, (list, tuple)):
        return type(x).__name__, [_meta(e) for e in x]
    return one(x)


def _flat(x):
    if isinstance(x, (list, tuple)):
        return [t for e in x for t in _flat(e)]
    return [x]


def same_start(tf, sess, values=None):
    """Initializes the variables: TF's initial values are returned (``values`` None), or
    ``values`` (TF's) are loaded, so both sides start from the same weights."""
    sess.run(tf.global_variables_initializer())
    if values is None:
        return {v.name: v.eval() for v in tf.global_variables()}
    for v in tf.global_variables():
        v.load(values[v.name], sess)
    return values


def _run(tf, build, feeds, grad, tf_values=None):
    g = tf.Graph()
    with g.as_default():
        tf.set_random_seed(1)
        out = build(tf)
        meta = _meta(out)
        variables = [(v.name, v.shape.as_list()) for v in tf.global_variables()]
        fetches = _flat(out)
        if grad:
            loss = tf.add_n([tf.reduce_sum(t * t) for t in fetches if t.dtype.is_floating])
            fed = [g.get_tensor_by_name(k) for k in feeds]
            xs = list(tf.trainable_variables()) + [t for t in fed if t.dtype.is_floating]
            fetches = fetches + tf.gradients(loss, xs)
        with tf.Session(graph=g) as sess:
            values = same_start(tf, sess, tf_values)
            feed = {g.get_tensor_by_name(k): v for k, v in feeds.items()}
            return meta, variables, values, sess.run(fetches, feed)


def compare(build, feeds=None, grad=True, rtol=1e-4, atol=1e-5):
    """Builds ``build(tf)`` in TF and tfstyle: same names, shapes, variables; with TF's initial
    weights loaded into tfstyle, the same values (and gradients of a loss w.r.t. the
    trainable variables and the feeds). The float32 tolerance allows for the summation order of
    gradients through several steps, which varies with threading on either side (seen: 1e-4
    relative on a loaded machine)."""
    feeds = {"x:0": X} if feeds is None else feeds
    exp_meta, exp_vars, values, expected = _run(tf1(), build, feeds, grad)
    act_meta, act_vars, _, actual = _run(tfs, build, feeds, grad, values)
    assert act_meta == exp_meta
    assert act_vars == exp_vars
    assert len(actual) == len(expected)
    for i, (a, e) in enumerate(zip(actual, expected)):
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=f"fetch {i}")
    return actual


def _x(tf, shape=(None, 5, 4)):
    return tf.placeholder(tf.float32, shape, name="x")


def _lengths(tf):
    return tf.placeholder(tf.int32, [None], name="lengths")


# -- dynamic_rnn -------------------------------------------------------------------------------
def test_dynamic_rnn_basic_lstm_names_values_and_gradients():
    compare(lambda tf: tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicLSTMCell(6), _x(tf), dtype=tf.float32))


@pytest.mark.parametrize(
    "make_cell",
    [
        lambda tf: tf.nn.rnn_cell.BasicRNNCell(6),
        lambda tf: tf.nn.rnn_cell.BasicRNNCell(6, activation=tf.nn.relu),
        lambda tf: tf.nn.rnn_cell.GRUCell(6),
        lambda tf: tf.nn.rnn_cell.BasicLSTMCell(6, forget_bias=0.5, state_is_tuple=False),
        lambda tf: tf.nn.rnn_cell.LSTMCell(6),
        lambda tf: tf.nn.rnn_cell.LSTMCell(
            6, use_peepholes=True, cell_clip=0.3, num_proj=3, proj_clip=0.2, forget_bias=0.0
        ),
        lambda tf: tf.nn.rnn_cell.LSTMCell(6, num_proj=3, state_is_tuple=False),
        lambda tf: tf.nn.rnn_cell.MultiRNNCell(
            [tf.nn.rnn_cell.BasicLSTMCell(6), tf.nn.rnn_cell.GRUCell(3)]
        ),
        lambda tf: tf.nn.rnn_cell.MultiRNNCell(
            [tf.nn.rnn_cell.BasicRNNCell(2), tf.nn.rnn_cell.GRUCell(3)], state_is_tuple=False
        ),
        lambda tf: tf.nn.rnn_cell.DropoutWrapper(tf.nn.rnn_cell.GRUCell(6)),
        lambda tf: tf.nn.rnn_cell.ResidualWrapper(tf.nn.rnn_cell.BasicRNNCell(4)),
        lambda tf: tf.nn.rnn_cell.LSTMCell(6, name="my_cell"),
    ],
    ids=[
        "basic_rnn",
        "basic_rnn_relu",
        "gru",
        "basic_lstm_concat_state",
        "lstm",
        "lstm_peephole_clip_proj",
        "lstm_proj_concat_state",
        "multi_lstm_gru",
        "multi_concat_state",
        "dropout_keep_all",
        "residual",
        "named",
    ],
)
def test_dynamic_rnn_cells(make_cell):
    compare(lambda tf: tf.nn.dynamic_rnn(make_cell(tf), _x(tf), dtype=tf.float32))


def test_dynamic_rnn_sequence_length_time_major_initial_state_and_scope():
    feeds = {"x:0": X, "lengths:0": LENGTHS}
    compare(
        lambda tf: tf.nn.dynamic_rnn(
            tf.nn.rnn_cell.BasicLSTMCell(6), _x(tf), sequence_length=_lengths(tf), dtype=tf.float32
        ),
        feeds,
    )
    xt = np.ascontiguousarray(X.transpose(1, 0, 2))
    compare(
        lambda tf: tf.nn.dynamic_rnn(
            tf.nn.rnn_cell.GRUCell(6), _x(tf, (5, None, 4)), time_major=True, dtype=tf.float32
        ),
        {"x:0": xt},
    )

    def with_initial_state(tf):
        x, lengths = _x(tf, (3, 5, 4)), _lengths(tf)
        cell = tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.BasicLSTMCell(4) for _ in range(2)])
        init = cell.zero_state(3, tf.float32)
        init = tuple(tf.nn.rnn_cell.LSTMStateTuple(s.c + 0.5, s.h - 0.25) for s in init)
        with tf.variable_scope("encoder"):
            return tf.nn.dynamic_rnn(
                cell, x, sequence_length=lengths, initial_state=init, scope="lstm"
            )

    compare(with_initial_state, feeds)


def test_dynamic_rnn_nested_inputs_and_float64():
    def nested(tf):
        a = _x(tf)
        b = tf.placeholder(tf.float32, [None, 5, 2], name="b")
        cell = tf.nn.rnn_cell.BasicRNNCell(3)

        class Concat(tf.nn.rnn_cell.RNNCell):
            state_size = 3
            output_size = 3

            def __call__(self, inputs, state, scope=None):
                return cell(tf.concat(list(inputs), 1), state)

        return tf.nn.dynamic_rnn(Concat(), (a, b), dtype=tf.float32)

    compare(nested, {"x:0": X, "b:0": X[:, :, :2]})
    compare(
        lambda tf: tf.nn.dynamic_rnn(
            tf.nn.rnn_cell.GRUCell(3),
            tf.placeholder(tf.float64, [None, 5, 4], name="x"),
            dtype=tf.float64,
        ),
        {"x:0": X.astype(np.float64)},
    )


def test_bidirectional_dynamic_rnn():
    def build(tf, lengths=False):
        return tf.nn.bidirectional_dynamic_rnn(
            tf.nn.rnn_cell.BasicLSTMCell(4),
            tf.nn.rnn_cell.GRUCell(3),
            _x(tf),
            sequence_length=_lengths(tf) if lengths else None,
            dtype=tf.float32,
        )

    compare(build)
    compare(lambda tf: build(tf, True), {"x:0": X, "lengths:0": LENGTHS})


def test_reverse_sequence():
    from tests.op_check import check

    v = np.arange(24, dtype=np.float32).reshape(2, 4, 3)
    check(
        lambda tf: tf.reverse_sequence(
            tf.placeholder(tf.float32, [None, 4, 3], name="v"), [3, 1], seq_axis=1, batch_axis=0
        ),
        {"v:0": v},
        grad=True,
    )
    check(
        lambda tf: tf.reverse_sequence(tf.constant(v), tf.constant([2, 0, 1], tf.int64), 0, 2),
    )


# -- static_rnn --------------------------------------------------------------------------------
def test_static_rnn():
    compare(
        lambda tf: tf.nn.static_rnn(
            tf.nn.rnn_cell.BasicLSTMCell(4), tf.unstack(_x(tf), axis=1), dtype=tf.float32
        )
    )
    compare(
        lambda tf: tf.nn.static_rnn(
            tf.nn.rnn_cell.GRUCell(4),
            tf.unstack(_x(tf), axis=1),
            sequence_length=_lengths(tf),
            dtype=tf.float32,
        ),
        {"x:0": X, "lengths:0": LENGTHS},
    )


def test_static_bidirectional_rnn():
    def build(tf, lengths=False):
        return tf.nn.static_bidirectional_rnn(
            tf.nn.rnn_cell.BasicLSTMCell(4),
            tf.nn.rnn_cell.BasicRNNCell(2),
            tf.unstack(_x(tf), axis=1),
            sequence_length=_lengths(tf) if lengths else None,
            dtype=tf.float32,
        )

    compare(build)
    compare(lambda tf: build(tf, True), {"x:0": X, "lengths:0": LENGTHS})


def test_contrib_rnn_names_are_the_cells():
    from tfstyle.nn import rnn_cell

    for name in ("BasicLSTMCell", "LSTMCell", "GRUCell", "MultiRNNCell", "DropoutWrapper",
                 "LSTMStateTuple", "BasicRNNCell"):  # fmt: skip
        assert getattr(tfs.contrib.rnn, name) is getattr(rnn_cell, name)
    assert tfs.contrib.rnn.static_rnn is tfs.nn.static_rnn
    assert tfs.contrib.rnn.static_bidirectional_rnn is tfs.nn.static_bidirectional_rnn


# -- cells called directly ---------------------------------------------------------------------
def test_cell_called_twice_reuses_variables_and_state_sizes():
    def build(tf):
        x = _x(tf, (None, 4))
        cell = tf.nn.rnn_cell.LSTMCell(3, num_proj=2)
        state = cell.zero_state(tf.shape(x)[0], tf.float32)
        out1, state = cell(x, state)
        out2, state = cell(x * 2.0, state)
        other = tf.nn.rnn_cell.GRUCell(2)
        out3, _ = other(x, out2, scope="gru_scope")
        assert cell.state_size == (3, 2) and cell.output_size == 2
        assert [v.name for v in cell.trainable_variables] == [
            "lstm_cell/kernel:0",
            "lstm_cell/bias:0",
            "lstm_cell/projection/kernel:0",
        ]
        return [out1, out2, out3, state]

    compare(build, {"x:0": X[:, 0]})


def test_dropout_wrapper_drops_and_scales():
    for tf in (tf1(), tfs):
        with tf.Graph().as_default():
            x = tf.ones([200, 3, 4])
            cell = tf.nn.rnn_cell.DropoutWrapper(
                tf.nn.rnn_cell.BasicRNNCell(50, activation=tf.identity),
                input_keep_prob=1.0,
                output_keep_prob=0.5,
                state_keep_prob=1.0,
            )
            out, _ = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
            ref, _ = tf.nn.dynamic_rnn(cell.wrapped_cell, x, dtype=tf.float32)
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                o, r = sess.run([out, ref])
            kept = o != 0
            assert 0.4 < kept.mean() < 0.6
            np.testing.assert_allclose(o[kept], 2 * r[kept], rtol=1e-5)
            # A fresh mask at every step.
            assert (kept[:, 0] != kept[:, 1]).any()


def test_errors_match_tf():
    def no_dtype(tf):
        tf.nn.dynamic_rnn(tf.nn.rnn_cell.GRUCell(2), _x(tf))

    def int_inputs(tf):
        tf.nn.dynamic_rnn(
            tf.nn.rnn_cell.GRUCell(2), tf.placeholder(tf.int32, [None, 5, 4]), dtype=tf.int32
        )

    def unknown_depth(tf):
        tf.nn.dynamic_rnn(tf.nn.rnn_cell.GRUCell(2), _x(tf, (None, 5, None)), dtype=tf.float32)

    def bad_keep_prob(tf):
        tf.nn.rnn_cell.DropoutWrapper(tf.nn.rnn_cell.GRUCell(2), output_keep_prob=1.5)

    def empty_static(tf):
        tf.nn.static_rnn(tf.nn.rnn_cell.GRUCell(2), [], dtype=tf.float32)

    for build, cls, phrase in [
        (no_dtype, ValueError, "argument `dtype` must be specified"),
        (int_inputs, ValueError, "RNN cell only supports floating point inputs"),
        (unknown_depth, ValueError, "must be accessible via shape inference"),
        (bad_keep_prob, ValueError, "must be between 0 and 1"),
        (empty_static, ValueError, "must not be empty"),
    ]:
        for tf in (tf1(), tfs):
            with tf.Graph().as_default(), pytest.raises(cls, match=phrase):
                build(tf)


# -- training ----------------------------------------------------------------------------------
def _classifier(tf):
    x = _x(tf)
    y = tf.placeholder(tf.int32, [None], name="y")
    cell = tf.nn.rnn_cell.MultiRNNCell([tf.nn.rnn_cell.BasicLSTMCell(8) for _ in range(2)])
    outputs, _ = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
    w = tf.get_variable("w", [8, 3])
    logits = tf.matmul(outputs[:, -1], w)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    train = tf.train.AdamOptimizer(0.05).minimize(loss)
    return x, y, loss, train


def test_lstm_classifier_adam_three_steps_match_tf():
    labels = np.array([0, 2, 1], np.int32)
    results = []
    values = None
    for tf in (tf1(), tfs):
        with tf.Graph().as_default():
            x, y, loss, train = _classifier(tf)
            with tf.Session() as sess:
                values = same_start(tf, sess, values)
                losses = [sess.run([loss, train], {x: X, y: labels})[0] for _ in range(3)]
                final = {v.name: v.eval() for v in tf.trainable_variables()}
                results.append((losses, final))
    (exp_losses, exp_vars), (act_losses, act_vars) = results
    np.testing.assert_allclose(act_losses[0], exp_losses[0], rtol=1e-5)
    # The later losses carry the Adam steps' last-bit noise (below): 1e-4, not 1e-5.
    np.testing.assert_allclose(act_losses, exp_losses, rtol=1e-4)
    assert sorted(act_vars) == sorted(exp_vars)
    # Adam's step is lr * m / (sqrt(v) + eps): for a gradient near zero it turns last-bit
    # differences in summation order (which vary with threading in TF and XLA) into up to a few
    # 1e-4 of this 0.05 learning rate, so the tolerance is 1% of one step.
    for k in exp_vars:
        np.testing.assert_allclose(act_vars[k], exp_vars[k], rtol=1e-4, atol=5e-4, err_msg=k)


def test_lstm_training_loop_traces_once_and_is_one_scan():
    with tfs.Graph().as_default():
        x, y, loss, train = _classifier(tfs)
        assert [op.type for op in tfs.get_default_graph().get_operations()].count(
            "TfstyleScan"
        ) == 1
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            feed = {x: X, y: np.array([0, 2, 1], np.int32)}
            sess.run(train, feed)
            before = tfstyle.compiler.trace_count()
            losses = [sess.run([loss, train], feed)[0] for _ in range(5)]
            sess.run([loss, train], feed)
            assert tfstyle.compiler.trace_count() == before + 1  # the [loss, train] fetch
            assert losses[-1] < losses[0]
