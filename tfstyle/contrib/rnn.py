"""``tf.contrib.rnn``: the TF 1.x home of the recurrent cells and ``static_rnn``."""

# ruff: noqa: F401

from tfstyle.nn.rnn import static_bidirectional_rnn, static_rnn
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
)
