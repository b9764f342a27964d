"""``tf.contrib.rnn``: the TF 1.x home of the recurrent cells and ``static_rnn``, plus contrib's
own ``LayerNormBasicLSTMCell``, projection wrappers and stacked bidirectional RNNs."""

# ruff: noqa: F401

from tfstyle.nn import nn_ops
from tfstyle.nn.rnn import bidirectional_dynamic_rnn, static_bidirectional_rnn, static_rnn
from tfstyle.nn.rnn_cell_impl import (
    BasicLSTMCell,
    BasicRNNCell,
    DeviceWrapper,
    DropoutWrapper,
    GRUCell,
    LSTMCell,
    LSTMStateTuple,
    MultiRNNCell,
    ResidualWrapper,
    RNNCell,
    assert_like_rnncell,
)
from tfstyle.ops import array_ops, init_ops, math_ops
from tfstyle.ops import variable_scope as vs
from tfstyle.ops.linalg_ops import matmul


def _linear(args, output_size, initializer=None):
    """contrib's ``_Linear``: ``kernel`` and ``bias`` (zeros) in the current variable scope."""
    kernel = vs.get_variable(
        "kernel", [args.get_shape().as_list()[-1], output_size], dtype=args.dtype,
        initializer=initializer,
    )  # fmt: skip
    bias = vs.get_variable(
        "bias", [output_size], dtype=args.dtype,
        initializer=init_ops.constant_initializer(0.0, dtype=args.dtype),
    )  # fmt: skip
    return nn_ops.bias_add(matmul(args, kernel), bias)


class LayerNormBasicLSTMCell(RNNCell):
    """An LSTM with layer normalization of each gate's pre-activation and of the new cell state
    (variables ``kernel``, ``input/gamma``, ``input/beta``, ... ``state/beta``; ``bias`` only
    without layer normalization) and recurrent dropout of the candidate values."""

    def __init__(self, num_units, forget_bias=1.0, input_size=None, activation=math_ops.tanh,
                 layer_norm=True, norm_gain=1.0, norm_shift=0.0, dropout_keep_prob=1.0,
                 dropout_prob_seed=None, reuse=None):  # fmt: skip
        super().__init__(_reuse=reuse)
        self._num_units = num_units
        self._activation = activation
        self._forget_bias = forget_bias
        self._keep_prob = dropout_keep_prob
        self._seed = dropout_prob_seed
        self._layer_norm = layer_norm
        self._norm_gain = norm_gain
        self._norm_shift = norm_shift

    @property
    def state_size(self):
        return LSTMStateTuple(self._num_units, self._num_units)

    @property
    def output_size(self):
        return self._num_units

    def _norm(self, inputs, scope, dtype):
        from .layers import layer_norm

        shape = inputs.get_shape()[-1:]
        with vs.variable_scope(scope):
            vs.get_variable("gamma", shape=shape, dtype=dtype,
                            initializer=init_ops.constant_initializer(self._norm_gain))  # fmt: skip
            vs.get_variable("beta", shape=shape, dtype=dtype,
                            initializer=init_ops.constant_initializer(self._norm_shift))  # fmt: skip
        return layer_norm(inputs, reuse=True, scope=scope)

    def call(self, inputs, state):
        c, h = state
        args = array_ops.concat([inputs, h], 1)
        dtype = args.dtype
        kernel = vs.get_variable("kernel", [args.get_shape().as_list()[-1], 4 * self._num_units],
                                 dtype=dtype)  # fmt: skip
        gates = matmul(args, kernel)
        if not self._layer_norm:
            gates = nn_ops.bias_add(
                gates, vs.get_variable("bias", [4 * self._num_units], dtype=dtype)
            )
        i, j, f, o = array_ops.split(value=gates, num_or_size_splits=4, axis=1)
        if self._layer_norm:
            i = self._norm(i, "input", dtype)
            j = self._norm(j, "transform", dtype)
            f = self._norm(f, "forget", dtype)
            o = self._norm(o, "output", dtype)
        g = self._activation(j)
        if not isinstance(self._keep_prob, float) or self._keep_prob < 1:
            g = nn_ops.dropout(g, self._keep_prob, seed=self._seed)
        new_c = c * math_ops.sigmoid(f + self._forget_bias) + math_ops.sigmoid(i) * g
        if self._layer_norm:
            new_c = self._norm(new_c, "state", dtype)
        new_h = self._activation(new_c) * math_ops.sigmoid(o)
        return new_h, LSTMStateTuple(new_c, new_h)


class _ProjectionWrapper(RNNCell):
    """A cell around ``cell`` with a dense projection (``kernel``, ``bias``) in its own scope,
    around the cell's variables."""

    def __init__(self, cell, size, activation, reuse):
        super().__init__(_reuse=reuse)
        assert_like_rnncell("cell", cell)
        self._cell = cell
        self._size = size
        self._activation = activation

    @property
    def state_size(self):
        return self._cell.state_size

    def zero_state(self, batch_size, dtype):
        from tfstyle.framework import ops

        with ops.name_scope(type(self).__name__ + "ZeroState"):
            return self._cell.zero_state(batch_size, dtype)

    def _project(self, x):
        projected = _linear(x, self._size)
        return self._activation(projected) if self._activation else projected


class OutputProjectionWrapper(_ProjectionWrapper):
    """The cell's output projected to ``output_size``."""

    def __init__(self, cell, output_size, activation=None, reuse=None):
        if output_size < 1:
            raise ValueError(f"Parameter output_size must be > 0: {output_size}.")
        super().__init__(cell, output_size, activation, reuse)

    @property
    def output_size(self):
        return self._size

    def call(self, inputs, state):
        output, new_state = self._cell(inputs, state)
        return self._project(output), new_state


class InputProjectionWrapper(_ProjectionWrapper):
    """The inputs projected to ``num_proj`` before the cell."""

    def __init__(self, cell, num_proj, activation=None, input_size=None, reuse=None):
        super().__init__(cell, num_proj, activation, reuse)

    @property
    def output_size(self):
        return self._cell.output_size

    def call(self, inputs, state):
        return self._cell(self._project(inputs), state)


def _check_stack(cells_fw, cells_bw):
    # (TF's check of initial_states_* compares the cells with themselves, so never fails.)
    if not cells_fw:
        raise ValueError("Must specify at least one fw cell for BidirectionalRNN.")
    if not cells_bw:
        raise ValueError("Must specify at least one bw cell for BidirectionalRNN.")
    if not isinstance(cells_fw, list):
        raise ValueError("cells_fw must be a list of RNNCells (one per layer).")
    if not isinstance(cells_bw, list):
        raise ValueError("cells_bw must be a list of RNNCells (one per layer).")
    if len(cells_fw) != len(cells_bw):
        raise ValueError("Forward and Backward cells must have the same depth.")


def stack_bidirectional_dynamic_rnn(cells_fw, cells_bw, inputs, initial_states_fw=None,
                                    initial_states_bw=None, dtype=None, sequence_length=None,
                                    parallel_iterations=None, time_major=False, scope=None,
                                    swap_memory=False):  # fmt: skip
    """Layers of ``bidirectional_dynamic_rnn`` (scopes ``cell_0``, ``cell_1``...), each fed the
    concatenated outputs of the one below: ``(outputs, states_fw, states_bw)``."""
    _check_stack(cells_fw, cells_bw)
    states_fw, states_bw = [], []
    layer = inputs
    with vs.variable_scope(scope or "stack_bidirectional_rnn"):
        for i, (cell_fw, cell_bw) in enumerate(zip(cells_fw, cells_bw)):
            with vs.variable_scope("cell_%d" % i):
                outputs, (state_fw, state_bw) = bidirectional_dynamic_rnn(
                    cell_fw, cell_bw, layer,
                    initial_state_fw=initial_states_fw[i] if initial_states_fw else None,
                    initial_state_bw=initial_states_bw[i] if initial_states_bw else None,
                    sequence_length=sequence_length, parallel_iterations=parallel_iterations,
                    dtype=dtype, swap_memory=swap_memory, time_major=time_major,
                )  # fmt: skip
                layer = array_ops.concat(outputs, 2)
            states_fw.append(state_fw)
            states_bw.append(state_bw)
    return layer, tuple(states_fw), tuple(states_bw)


def stack_bidirectional_rnn(cells_fw, cells_bw, inputs, initial_states_fw=None,
                            initial_states_bw=None, dtype=None, sequence_length=None,
                            scope=None):  # fmt: skip
    """Layers of ``static_bidirectional_rnn`` (scopes ``cell_0``, ``cell_1``...), each fed the
    outputs of the one below: ``(outputs, states_fw, states_bw)``."""
    _check_stack(cells_fw, cells_bw)
    states_fw, states_bw = [], []
    layer = inputs
    with vs.variable_scope(scope or "stack_bidirectional_rnn"):
        for i, (cell_fw, cell_bw) in enumerate(zip(cells_fw, cells_bw)):
            with vs.variable_scope("cell_%d" % i) as cell_scope:
                layer, state_fw, state_bw = static_bidirectional_rnn(
                    cell_fw, cell_bw, layer,
                    initial_state_fw=initial_states_fw[i] if initial_states_fw else None,
                    initial_state_bw=initial_states_bw[i] if initial_states_bw else None,
                    sequence_length=sequence_length, dtype=dtype, scope=cell_scope,
                )  # fmt: skip
            states_fw.append(state_fw)
            states_bw.append(state_bw)
    return layer, tuple(states_fw), tuple(states_bw)
