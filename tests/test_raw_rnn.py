"""``tf.nn.raw_rnn`` against real TF: the documentation's LSTM example (stacked outputs, final
state, variable names, gradients) for several sequence lengths, training steps, a loop state and
an emit structure of the loop function's own, a loop whose trip count grows its capacity, and
TF's errors for bad loop functions."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1
from tests.test_rnn import compare, same_start

T, B, D, U = 40, 3, 4, 5
RNG = np.random.RandomState(0)
X = RNG.randn(T, B, D).astype(np.float32)


def _doc_example(tf, batch=B):
    """The example of TF's docstring: an LSTM over ``[max_time, batch, depth]`` inputs read
    from a TensorArray, stopping each sequence at its length."""
    inputs = tf.placeholder(tf.float32, [T, batch, D], name="x")
    lengths = tf.placeholder(tf.int32, [batch], name="lengths")
    inputs_ta = tf.TensorArray(dtype=tf.float32, size=T).unstack(inputs)
    cell = tf.nn.rnn_cell.LSTMCell(U)
    n = tf.shape(inputs)[1]

    def loop_fn(time, cell_output, cell_state, loop_state):
        if cell_output is None:  # time == 0
            next_cell_state = cell.zero_state(n, tf.float32)
        else:
            next_cell_state = cell_state
        elements_finished = time >= lengths
        finished = tf.reduce_all(elements_finished)
        next_input = tf.cond(
            finished, lambda: tf.zeros([n, D], dtype=tf.float32), lambda: inputs_ta.read(time)
        )
        return elements_finished, next_input, next_cell_state, cell_output, None

    emit_ta, final_state, final_loop_state = tf.nn.raw_rnn(cell, loop_fn)
    assert final_loop_state is None
    return emit_ta.stack(), final_state


@pytest.mark.parametrize("lengths", [[3, 5, 2], [40, 7, 33], [1, 0, 1]])
def test_doc_example_outputs_final_state_names_and_gradients(lengths):
    # 40 steps, 5, 1: one compile each (the step is specialized on the fed lengths).
    def build(tf):
        out, state = _doc_example(tf)
        return [out, state.c, state.h]

    compare(build, {"x:0": X, "lengths:0": np.array(lengths, np.int32)})


def test_unknown_batch_size_and_no_steps():
    def build(tf):
        out, state = _doc_example(tf, batch=None)
        return [out, state.c, state.h]

    compare(build, {"x:0": X[:, :2], "lengths:0": np.array([4, 6], np.int32)})
    # No step: the final state is the initial one; stacking no elements of an unknown batch
    # size fails in TF (and tfstyle) with InvalidArgumentError, of a known one it is empty.
    compare(lambda tf: _doc_example(tf)[1].h, {"x:0": X, "lengths:0": np.zeros(B, np.int32)})
    compare(lambda tf: _doc_example(tf)[0], {"x:0": X, "lengths:0": np.zeros(B, np.int32)})
    errors = []
    for tf in (tf1(), tfs):
        with tf.Graph().as_default(), tf.Session() as sess:
            out = _doc_example(tf, batch=None)[0]
            sess.run(tf.global_variables_initializer())
            with pytest.raises(tf.errors.InvalidArgumentError) as e:
                sess.run(out, {"x:0": X[:, :2], "lengths:0": np.array([0, 0], np.int32)})
            errors.append(str(e.value))
    assert "Tried to stack elements of an empty list" in errors[0]


def _data_ended(tf):
    """Sequences that end at a sentinel in their inputs (a first feature above 5): the trip
    count is known only when the step runs, so the loop's capacity of iterations (32 at first)
    grows for 40 steps."""
    inputs = tf.placeholder(tf.float32, [T, B, D], name="x")
    inputs_ta = tf.TensorArray(dtype=tf.float32, size=T).unstack(inputs)
    cell = tf.nn.rnn_cell.LSTMCell(U)

    def loop_fn(time, cell_output, cell_state, loop_state):
        state = cell.zero_state(B, tf.float32) if cell_output is None else cell_state
        next_input = inputs_ta.read(tf.minimum(time, T - 1))
        finished = tf.logical_or(time >= T, next_input[:, 0] > 5.0)
        return finished, next_input, state, cell_output, None

    out_ta, final_state, _ = tf.nn.raw_rnn(cell, loop_fn)
    size = out_ta.size()
    return [final_state.h, size, out_ta.read(size - 1), out_ta.read(0)]


@pytest.mark.parametrize("n", [40, 6])
def test_trip_count_from_values_grows_the_capacity(n):
    x = X.copy()
    x[n // 2 :, 1, 0] = 9.0  # the second sequence ends halfway, the first after n steps
    x[n:, 0, 0] = 9.0
    compare(_data_ended, {"x:0": x})


def _train(make_optimizer, steps=3):
    lengths = np.array([6, 2, 4], np.int32)
    target = RNG.randn(6, B, U).astype(np.float32)
    results = []
    values = None
    for tf in (tf1(), tfs):
        with tf.Graph().as_default():
            tf.set_random_seed(1)
            out, state = _doc_example(tf)
            loss = tf.reduce_mean(tf.square(out - target)) + tf.reduce_sum(state.c)
            train = make_optimizer(tf).minimize(loss)
            feed = {"x:0": X, "lengths:0": lengths}
            with tf.Session() as sess:
                values = same_start(tf, sess, values)
                trace = []
                for _ in range(steps):
                    trace.append(sess.run([loss, train], feed)[0])
                    trace.append({v.name: v.eval() for v in tf.trainable_variables()})
                results.append(trace)
    expected, actual = results
    for e, a in zip(expected, actual):
        if isinstance(e, dict):
            assert sorted(a) == sorted(e) == ["rnn/lstm_cell/bias:0", "rnn/lstm_cell/kernel:0"]
            for k in e:
                np.testing.assert_allclose(a[k], e[k], rtol=1e-4, atol=1e-5, err_msg=k)
        else:
            np.testing.assert_allclose(a, e, rtol=1e-4)


def test_gradient_descent_steps_match_tf():
    _train(lambda tf: tf.train.GradientDescentOptimizer(0.1))


def test_adam_steps_match_tf():
    _train(lambda tf: tf.train.AdamOptimizer(0.01))


def _loop_state_and_own_emit(tf):
    """A loop state (a step counter and a TensorArray of the states' norms) and an emit
    structure of the loop function's own: a projection of the output and an int per element."""
    inputs = tf.placeholder(tf.float32, [T, B, D], name="x")
    lengths = tf.placeholder(tf.int32, [B], name="lengths")
    inputs_ta = tf.TensorArray(dtype=tf.float32, size=T).unstack(inputs)
    cell = tf.nn.rnn_cell.GRUCell(U)
    w = tf.get_variable("w", [U, 2])

    def loop_fn(time, cell_output, cell_state, loop_state):
        finished = time >= lengths
        next_input = inputs_ta.read(tf.minimum(time, T - 1))
        if cell_output is None:
            emit = (tf.zeros([2]), {"t": tf.zeros([], tf.int32)})
            norms = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
            return finished, next_input, cell.zero_state(B, tf.float32), emit, (0, norms)
        count, norms = loop_state
        norms = norms.write(time - 1, tf.reduce_sum(cell_state * cell_state, 1))
        emit = (tf.matmul(cell_output, w), {"t": tf.fill([B], time * 10)})
        return finished, next_input, cell_state, emit, (count + 1, norms)

    (proj_ta, t_ta), state, (count, norms) = tf.nn.raw_rnn(cell, loop_fn)
    return [proj_ta.stack(), t_ta["t"].stack(), state, count, norms.stack()]


def test_loop_state_and_emit_structure_of_the_loop_fn():
    compare(_loop_state_and_own_emit, {"x:0": X, "lengths:0": np.array([5, 2, 7], np.int32)})


def _errors_case(kind):
    def build(tf):
        cell = tf.nn.rnn_cell.LSTMCell(U)
        x = tf.zeros([B, D])

        def loop_fn(time, cell_output, cell_state, loop_state):
            finished = time >= 3
            finished = tf.fill([B], finished)
            if cell_output is None:
                state = cell.zero_state(B, tf.float32)
                if kind == "state":
                    state = state.c  # not the structure of cell.state_size
                return finished, x, state, None, None
            if kind == "emit":
                return finished, x, cell_state, (cell_output, cell_output), None
            if kind == "input":
                return finished, (x, x), cell_state, cell_output, None
            return finished, x, cell_state, cell_output, None

        if kind == "callable":
            return tf.nn.raw_rnn(cell, 3)
        if kind == "cell":
            return tf.nn.raw_rnn(object(), loop_fn)
        return tf.nn.raw_rnn(cell, loop_fn)[1]

    return build


@pytest.mark.parametrize("kind", ["callable", "cell", "state", "emit", "input"])
def test_errors_match_tf(kind):
    errors = []
    for tf in (tf1(), tfs):
        with tf.Graph().as_default(), pytest.raises(Exception) as e:  # noqa: PT011
            _errors_case(kind)(tf)
        errors.append(e.type.__name__)
    assert errors[1] == errors[0]


def test_exported_names():
    assert tfs.nn.raw_rnn is tfs.compat.v1.nn.raw_rnn


def _emit_of_unknown_shape(tf):
    """An emit structure whose shape is known only when the step runs (its zeros are shaped
    from it then)."""
    x = tf.placeholder(tf.float32, [B, D], name="x")
    k = tf.placeholder(tf.float32, [None], name="k")
    cell = tf.nn.rnn_cell.GRUCell(U)

    def loop_fn(time, cell_output, cell_state, loop_state):
        finished = time >= tf.constant([2, 4, 3])
        if cell_output is None:
            return finished, x, cell.zero_state(B, tf.float32), tf.zeros_like(k), None
        emit = tf.reduce_sum(cell_output, 1, keepdims=True) * k
        return finished, x, cell_state, emit, None

    emit_ta, state, _ = tf.nn.raw_rnn(cell, loop_fn)
    return [emit_ta.stack(), state]


def test_emit_structure_of_unknown_shape():
    compare(_emit_of_unknown_shape, {"x:0": X[0], "k:0": np.array([1.0, -2.0], np.float32)})
