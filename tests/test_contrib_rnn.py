"""contrib.rnn's own cells and stacks (``LayerNormBasicLSTMCell``, ``OutputProjectionWrapper``,
``InputProjectionWrapper``, ``stack_bidirectional_dynamic_rnn``, ``stack_bidirectional_rnn``).
TF 2.x has no contrib, so the oracle is the same cell written on real TF's ``RNNCell`` base (its
scoping names the variables) with the ops contrib used: names, outputs, states and gradients
with the same variable values."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1

BATCH, STEPS, DEPTH, UNITS = 3, 4, 5, 6
INPUTS = np.random.RandomState(0).randn(BATCH, STEPS, DEPTH).astype(np.float32)
LENGTHS = np.array([4, 2, 3], np.int32)


def _tf_layer_norm(tf, x, scope):
    """contrib's layer_norm (reusing ``scope/beta``, ``scope/gamma``), on TF's ops."""
    with tf.variable_scope(scope, reuse=True):
        beta, gamma = tf.get_variable("beta"), tf.get_variable("gamma")
    mean, variance = tf.nn.moments(x, [1], keep_dims=True)
    return tf.nn.batch_normalization(x, mean, variance, beta, gamma, 1e-12)


def _tf_cells(tf):
    """contrib's cells on TF's RNNCell base (the oracle's variable scoping is TF's own)."""

    def linear(args, size):
        kernel = tf.get_variable("kernel", [args.shape[-1], size], dtype=args.dtype)
        bias = tf.get_variable("bias", [size], initializer=tf.constant_initializer(0.0))
        return tf.nn.bias_add(tf.matmul(args, kernel), bias)

    class LayerNormBasicLSTMCell(tf.nn.rnn_cell.RNNCell):
        def __init__(self, num_units, forget_bias=1.0, layer_norm=True, norm_gain=1.0,
                     norm_shift=0.0):  # fmt: skip
            super().__init__()
            self._units, self._forget_bias, self._ln = num_units, forget_bias, layer_norm
            self._gain, self._shift = norm_gain, norm_shift

        state_size = property(lambda self: tf.nn.rnn_cell.LSTMStateTuple(self._units, self._units))
        output_size = property(lambda self: self._units)

        def _norm(self, x, scope):
            with tf.variable_scope(scope):
                tf.get_variable("gamma", x.shape[-1:], initializer=tf.constant_initializer(
                    self._gain))  # fmt: skip
                tf.get_variable("beta", x.shape[-1:], initializer=tf.constant_initializer(
                    self._shift))  # fmt: skip
            return _tf_layer_norm(tf, x, scope)

        def call(self, inputs, state):
            c, h = state
            args = tf.concat([inputs, h], 1)
            gates = tf.matmul(args, tf.get_variable("kernel", [args.shape[-1], 4 * self._units]))
            if not self._ln:
                gates = tf.nn.bias_add(gates, tf.get_variable("bias", [4 * self._units]))
            i, j, f, o = tf.split(gates, 4, axis=1)
            if self._ln:
                i, j = self._norm(i, "input"), self._norm(j, "transform")
                f, o = self._norm(f, "forget"), self._norm(o, "output")
            new_c = c * tf.sigmoid(f + self._forget_bias) + tf.sigmoid(i) * tf.tanh(j)
            if self._ln:
                new_c = self._norm(new_c, "state")
            new_h = tf.tanh(new_c) * tf.sigmoid(o)
            return new_h, tf.nn.rnn_cell.LSTMStateTuple(new_c, new_h)

    class OutputProjectionWrapper(tf.nn.rnn_cell.RNNCell):
        def __init__(self, cell, output_size, activation=None):
            super().__init__()
            self._cell, self._size, self._activation = cell, output_size, activation

        state_size = property(lambda self: self._cell.state_size)
        output_size = property(lambda self: self._size)

        def zero_state(self, batch_size, dtype):
            with tf.name_scope(type(self).__name__ + "ZeroState"):
                return self._cell.zero_state(batch_size, dtype)

        def call(self, inputs, state):
            output, new_state = self._cell(inputs, state)
            projected = linear(output, self._size)
            return (self._activation(projected) if self._activation else projected), new_state

    class InputProjectionWrapper(tf.nn.rnn_cell.RNNCell):
        def __init__(self, cell, num_proj, activation=None):
            super().__init__()
            self._cell, self._proj, self._activation = cell, num_proj, activation

        state_size = property(lambda self: self._cell.state_size)
        output_size = property(lambda self: self._cell.output_size)

        def zero_state(self, batch_size, dtype):
            with tf.name_scope(type(self).__name__ + "ZeroState"):
                return self._cell.zero_state(batch_size, dtype)

        def call(self, inputs, state):
            projected = linear(inputs, self._proj)
            if self._activation:
                projected = self._activation(projected)
            return self._cell(projected, state)

    def stack_bidirectional_dynamic_rnn(cells_fw, cells_bw, inputs, dtype, sequence_length):
        layer, states_fw, states_bw = inputs, [], []
        with tf.variable_scope("stack_bidirectional_rnn"):
            for i, (fw, bw) in enumerate(zip(cells_fw, cells_bw)):
                with tf.variable_scope("cell_%d" % i):
                    outputs, (sf, sb) = tf.nn.bidirectional_dynamic_rnn(
                        fw, bw, layer, sequence_length=sequence_length, dtype=dtype
                    )
                    layer = tf.concat(outputs, 2)
                states_fw.append(sf)
                states_bw.append(sb)
        return layer, tuple(states_fw), tuple(states_bw)

    def stack_bidirectional_rnn(cells_fw, cells_bw, inputs, dtype, sequence_length):
        layer, states_fw, states_bw = inputs, [], []
        with tf.variable_scope("stack_bidirectional_rnn"):
            for i, (fw, bw) in enumerate(zip(cells_fw, cells_bw)):
                with tf.variable_scope("cell_%d" % i) as scope:
                    layer, sf, sb = tf.nn.static_bidirectional_rnn(
                        fw, bw, layer, sequence_length=sequence_length, dtype=dtype, scope=scope
                    )
                states_fw.append(sf)
                states_bw.append(sb)
        return layer, tuple(states_fw), tuple(states_bw)

    return {
        "LayerNormBasicLSTMCell": LayerNormBasicLSTMCell,
        "OutputProjectionWrapper": OutputProjectionWrapper,
        "InputProjectionWrapper": InputProjectionWrapper,
        "stack_bidirectional_dynamic_rnn": stack_bidirectional_dynamic_rnn,
        "stack_bidirectional_rnn": stack_bidirectional_rnn,
    }


def _api(tf):
    return _tf_cells(tf) if tf is not tfs else vars(tfs.contrib.rnn)


def _model(tf, case, x, lengths):
    api = _api(tf)
    lstm = api["LayerNormBasicLSTMCell"]
    if case == "layer_norm":
        cell = lstm(UNITS, forget_bias=0.5, norm_gain=1.5, norm_shift=0.1)
        outputs, state = tf.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float32)
        return [outputs, state.c, state.h]
    if case == "no_layer_norm":
        cell = lstm(UNITS, layer_norm=False)
        outputs, state = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
        return [outputs, state.h]
    if case == "projections":
        cell = api["OutputProjectionWrapper"](
            api["InputProjectionWrapper"](tf.nn.rnn_cell.GRUCell(UNITS), 4, activation=tf.tanh),
            2,
        )
        outputs, state = tf.nn.dynamic_rnn(cell, x, sequence_length=lengths, dtype=tf.float32)
        return [outputs, state]
    if case == "stack_dynamic":
        cells = [[tf.nn.rnn_cell.BasicLSTMCell(UNITS), tf.nn.rnn_cell.GRUCell(3)] for _ in "fb"]
        out, sf, sb = api["stack_bidirectional_dynamic_rnn"](
            cells[0], cells[1], x, dtype=tf.float32, sequence_length=lengths
        )
        return [out, sf[0].h, sf[1], sb[0].c, sb[1]]
    if case == "stack_static":
        cells = [[tf.nn.rnn_cell.GRUCell(4), tf.nn.rnn_cell.BasicRNNCell(3)] for _ in "fb"]
        out, sf, sb = api["stack_bidirectional_rnn"](
            cells[0], cells[1], tf.unstack(x, axis=1), dtype=tf.float32, sequence_length=lengths
        )
        return [*out, sf[0], sf[1], sb[1]]
    raise AssertionError(case)


def _run(tf, case, values=None):
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [BATCH, STEPS, DEPTH], name="x")
        lengths = tf.placeholder(tf.int32, [BATCH], name="lengths")
        outs = _model(tf, case, x, lengths)
        variables = tf.global_variables()
        loss = tf.add_n([tf.reduce_sum(tf.square(o)) for o in outs])
        grads = tf.gradients(loss, [x, *variables])
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            if values is not None:
                for v in variables:
                    v.load(values[v.op.name], sess)
            feeds = {x: INPUTS, lengths: LENGTHS}
            return (
                [v.op.name for v in variables],
                {v.op.name: sess.run(v) for v in variables},
                sess.run(outs, feeds),
                sess.run(grads, feeds),
            )


@pytest.mark.parametrize(
    "case", ["layer_norm", "no_layer_norm", "projections", "stack_dynamic", "stack_static"]
)
def test_contrib_rnn_matches_tf(case):
    names, values, want_outs, want_grads = _run(tf1(), case)
    got_names, _, outs, grads = _run(tfs, case, values)
    assert got_names == names
    for a, b in zip(outs, want_outs):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    for a, b in zip(grads, want_grads):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_layer_norm_cell_initial_values_and_dropout():
    with tfs.Graph().as_default():
        x = tfs.constant(INPUTS)
        cell = tfs.contrib.rnn.LayerNormBasicLSTMCell(UNITS, norm_gain=2.0, norm_shift=0.5,
                                                      dropout_keep_prob=0.5, dropout_prob_seed=3)  # fmt: skip
        outputs, _ = tfs.nn.dynamic_rnn(cell, x, dtype=tfs.float32)
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            values = {v.op.name: sess.run(v) for v in tfs.global_variables()}
            a, b = sess.run(outputs), sess.run(outputs)
    assert np.all(values["rnn/layer_norm_basic_lstm_cell/input/gamma"] == 2.0)
    assert np.all(values["rnn/layer_norm_basic_lstm_cell/state/beta"] == 0.5)
    assert "rnn/layer_norm_basic_lstm_cell/bias" not in values
    assert not np.allclose(a, b)  # a new dropout mask every run


def test_stack_errors_match_tf():
    cell = tfs.nn.rnn_cell.GRUCell(2)
    x = tfs.zeros([1, 2, 3])
    stack = tfs.contrib.rnn.stack_bidirectional_dynamic_rnn
    for fw, bw, text in [
        ([], [cell], "Must specify at least one fw cell for BidirectionalRNN."),
        ([cell], [], "Must specify at least one bw cell for BidirectionalRNN."),
        ((cell,), [cell], "cells_fw must be a list of RNNCells (one per layer)."),
        ([cell], [cell, cell], "Forward and Backward cells must have the same depth."),
    ]:
        with pytest.raises(ValueError) as info:
            stack(fw, bw, x, dtype=tfs.float32)
        assert str(info.value) == text
