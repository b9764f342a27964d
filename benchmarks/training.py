"""Training throughput, first-step latency and peak memory: real TF, tfstyle, hand-written JAX.

Targets (from the performance issue): on every model, tfstyle's steady-state training is within
5% of the same model written by hand in JAX (steps/s at least 0.95x) and faster than real TF.

Models (Adam, learning rate 1e-3, softmax cross-entropy on integer labels, for all three columns):

- MLP 784-256-256-10 (ReLU), batch 128;
- the classic MNIST CNN: conv 5x5x32 + 2x2 max pool, conv 5x5x64 + 2x2 max pool, dense 1024
  (ReLU), dense 10; SAME padding, batch 64;
- LSTM classifier: ``tf.nn.dynamic_rnn`` over ``tf.nn.rnn_cell.BasicLSTMCell(128)``, 28 steps of
  28 inputs, the last output into dense 10, batch 64 (hand JAX: ``lax.scan``).

Synthetic data (fixed seed), fed from NumPy every step as a TF1 script does with ``feed_dict``
(hand JAX passes the same NumPy arrays to the jitted step; its parameters and optimizer state are
donated). Metrics:

- steps/s: steady state, measured in lockstep: the three frameworks' workers are alive together
  and, once each has built, initialised and warmed up, take turns at timed blocks of steps (each
  ending with a fetched loss, so asynchronous dispatch cannot hide work), one worker running
  while the others wait; so all see the same load of a shared machine. The median block's rate,
  and the best block's on its own row;
- steps/s, loss fetched every step: the same, in blocks whose every step fetches the loss and
  waits for it (``sess.run([train_op, loss])``, as TF1 training loops do; hand JAX converts its
  loss to NumPy), taking turns with the blocks above;
- first step s: graph build + session + variable initialisation + the first
  ``sess.run([train_op, loss])`` (hand JAX: parameter init + compilation + the first step);
- peak RSS MB: the peak resident memory of the worker process (one process per model and
  framework; ``--quick`` shares one process for all models, so there it is cumulative).

    python -m benchmarks.training [--quick] [--columns tf,jax]
"""

from __future__ import annotations

import functools
import math
import sys
import time

import numpy as np

from benchmarks.common import Prepared, load_tf1, process_peak_rss_mb, record, timed_blocks

NAME = "training"
TITLE = "Training"
ISOLATE = True  # one subprocess per model and framework: peak RSS is per model
LOCKSTEP = True  # the frameworks' timed blocks take turns, so they see the same machine load

LEARNING_RATE = 1e-3
NUM_BATCHES = 4


def cases(quick: bool) -> list:
    if quick:
        return [
            {"id": "mlp", "inputs": 64, "hidden": [32, 32], "classes": 10, "batch": 16},
            {"id": "cnn", "side": 8, "channels": [4, 8], "dense": 32, "classes": 10, "batch": 8},
            {"id": "lstm", "steps": 6, "inputs": 8, "hidden": 16, "classes": 10, "batch": 8},
        ]
    return [
        {"id": "mlp", "inputs": 784, "hidden": [256, 256], "classes": 10, "batch": 128},
        {"id": "cnn", "side": 28, "channels": [32, 64], "dense": 1024, "classes": 10, "batch": 64},
        {"id": "lstm", "steps": 28, "inputs": 28, "hidden": 128, "classes": 10, "batch": 64},
    ]


def settings(quick: bool) -> dict:
    # Each framework runs ``rounds`` timed blocks of about ``block_s`` seconds, in turns.
    if quick:
        return {"block_s": 0.02, "rounds": 3, "warmup": 1}
    return {"block_s": 0.4, "rounds": 15, "warmup": 2}


def label(case: dict) -> str:
    if case["id"] == "mlp":
        sizes = "-".join(str(n) for n in [case["inputs"], *case["hidden"], case["classes"]])
        return f"MLP {sizes}, batch {case['batch']}"
    if case["id"] == "cnn":
        convs = " + ".join(f"conv5x5·{c} + pool" for c in case["channels"])
        return f"CNN {convs}, dense {case['dense']}, batch {case['batch']}"
    return f"LSTM {case['hidden']}, {case['steps']} steps x {case['inputs']}, batch {case['batch']}"


def batches(case: dict) -> list:
    """``NUM_BATCHES`` fixed random (inputs, labels) pairs in NumPy."""
    rng = np.random.default_rng(0)
    if case["id"] == "mlp":
        shape = (case["batch"], case["inputs"])
    elif case["id"] == "cnn":
        shape = (case["batch"], case["side"] * case["side"])
    else:
        shape = (case["batch"], case["steps"], case["inputs"])
    return [
        (
            rng.random(shape, dtype=np.float32),
            rng.integers(0, case["classes"], case["batch"]).astype(np.int32),
        )
        for _ in range(NUM_BATCHES)
    ]


# --------------------------------------------------------------------------- the TF1 programs


def tf1_dense(tf, x, n_in: int, n_out: int, name: str, activation=None):
    with tf.variable_scope(name):
        w = tf.get_variable("kernel", [n_in, n_out], tf.float32)  # Glorot uniform
        b = tf.get_variable("bias", [n_out], tf.float32, initializer=tf.zeros_initializer())
    y = tf.matmul(x, w) + b
    return activation(y) if activation is not None else y


def tf1_mlp(tf, case):
    x = tf.placeholder(tf.float32, [None, case["inputs"]], name="x")
    h = x
    sizes = [case["inputs"], *case["hidden"]]
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        h = tf1_dense(tf, h, n_in, n_out, f"dense{i}", tf.nn.relu)
    return x, tf1_dense(tf, h, sizes[-1], case["classes"], "logits")


def tf1_cnn(tf, case):
    side = case["side"]
    x = tf.placeholder(tf.float32, [None, side * side], name="x")
    h = tf.reshape(x, [-1, side, side, 1])
    c_in = 1
    for i, c_out in enumerate(case["channels"]):
        with tf.variable_scope(f"conv{i}"):
            w = tf.get_variable("kernel", [5, 5, c_in, c_out], tf.float32)
            b = tf.get_variable("bias", [c_out], tf.float32, initializer=tf.zeros_initializer())
        h = tf.nn.relu(tf.nn.conv2d(h, w, strides=[1, 1, 1, 1], padding="SAME") + b)
        h = tf.nn.max_pool(h, ksize=[1, 2, 2, 1], strides=[1, 2, 2, 1], padding="SAME")
        side, c_in = math.ceil(side / 2), c_out
    flat = tf.reshape(h, [-1, side * side * c_in])
    h = tf1_dense(tf, flat, side * side * c_in, case["dense"], "fc", tf.nn.relu)
    return x, tf1_dense(tf, h, case["dense"], case["classes"], "logits")


def tf1_lstm(tf, case):
    x = tf.placeholder(tf.float32, [None, case["steps"], case["inputs"]], name="x")
    cell = tf.nn.rnn_cell.BasicLSTMCell(case["hidden"])
    outputs, _ = tf.nn.dynamic_rnn(cell, x, dtype=tf.float32)
    return x, tf1_dense(tf, outputs[:, -1, :], case["hidden"], case["classes"], "logits")


TF1_MODELS = {"mlp": tf1_mlp, "cnn": tf1_cnn, "lstm": tf1_lstm}


def tf1_train_graph(tf, case):
    """The model, its loss and an Adam train op, in the current default graph."""
    tf.set_random_seed(0)
    x, logits = TF1_MODELS[case["id"]](tf, case)
    y = tf.placeholder(tf.int32, [None], name="y")
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=logits))
    train_op = tf.train.AdamOptimizer(LEARNING_RATE).minimize(loss)
    return x, y, loss, train_op


def _tf1_prepare(tf, case, settings) -> Prepared:
    data = batches(case)
    t0 = time.perf_counter()
    graph = tf.Graph()
    with graph.as_default():
        x, y, loss, train_op = tf1_train_graph(tf, case)
        init = tf.global_variables_initializer()
    sess = tf.Session(graph=graph)
    sess.run(init)
    sess.run([train_op, loss], {x: data[0][0], y: data[0][1]})
    first_s = time.perf_counter() - t0

    counter = iter(range(1 << 62))

    def feed():
        bx, by = data[next(counter) % len(data)]
        return {x: bx, y: by}

    def step():
        sess.run(train_op, feed())

    def sync_step():
        return sess.run([train_op, loss], feed())[1]

    def finish():
        final_loss = float(sync_step())
        sess.close()
        return {"peak_rss_mb": process_peak_rss_mb(), "final_loss": final_loss}

    for _ in range(settings["warmup"]):
        step()
    steps, block = timed_blocks(step, sync_step, block_s=settings["block_s"])
    fetching = timed_blocks(sync_step, sync_step, block_s=settings["block_s"])
    return Prepared({"first_step_s": first_s}, steps, block, finish, fetching)


# --------------------------------------------------------------------------- hand-written JAX
# Each model is ``(init(rng) -> params, apply(params, x) -> logits)``, initialised like the TF1
# program (Glorot uniform kernels, zero biases). The initial values are drawn with NumPy and put
# on the device once: on CPU, XLA can take seconds to compile ``jax.random`` for each new shape,
# which would otherwise dominate the hand-JAX first step.


def _glorot(rng, shape):
    receptive = math.prod(shape[:-2]) if len(shape) > 2 else 1
    fan_in, fan_out = shape[-2] * receptive, shape[-1] * receptive
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype(np.float32)


def _dense_params(rng, n_in, n_out):
    return {"kernel": _glorot(rng, (n_in, n_out)), "bias": np.zeros((n_out,), np.float32)}


def jax_mlp(case):
    import jax

    sizes = [case["inputs"], *case["hidden"], case["classes"]]

    def init(rng):
        return [_dense_params(rng, a, b) for a, b in zip(sizes[:-1], sizes[1:])]

    def apply(params, x):
        for layer in params[:-1]:
            x = jax.nn.relu(x @ layer["kernel"] + layer["bias"])
        return x @ params[-1]["kernel"] + params[-1]["bias"]

    return init, apply


def jax_cnn(case):
    import jax
    import jax.numpy as jnp
    from jax import lax

    def init(rng):
        convs, c_in, side = [], 1, case["side"]
        for c_out in case["channels"]:
            convs.append(
                {
                    "kernel": _glorot(rng, (5, 5, c_in, c_out)),
                    "bias": np.zeros((c_out,), np.float32),
                }
            )
            side, c_in = math.ceil(side / 2), c_out
        flat = side * side * c_in
        return {
            "convs": convs,
            "fc": _dense_params(rng, flat, case["dense"]),
            "logits": _dense_params(rng, case["dense"], case["classes"]),
        }

    dims = ("NHWC", "HWIO", "NHWC")

    def apply(params, x):
        h = x.reshape(-1, case["side"], case["side"], 1)
        for conv in params["convs"]:
            h = lax.conv_general_dilated(h, conv["kernel"], (1, 1), "SAME", dimension_numbers=dims)
            h = jax.nn.relu(h + conv["bias"])
            h = lax.reduce_window(h, -jnp.inf, lax.max, (1, 2, 2, 1), (1, 2, 2, 1), "SAME")
        h = h.reshape(h.shape[0], -1)
        h = jax.nn.relu(h @ params["fc"]["kernel"] + params["fc"]["bias"])
        return h @ params["logits"]["kernel"] + params["logits"]["bias"]

    return init, apply


def jax_lstm(case):
    import jax
    import jax.numpy as jnp
    from jax import lax

    n_in, hidden = case["inputs"], case["hidden"]

    def init(rng):
        return {
            "cell": {
                "kernel": _glorot(rng, (n_in + hidden, 4 * hidden)),
                "bias": np.zeros((4 * hidden,), np.float32),
            },
            "logits": _dense_params(rng, hidden, case["classes"]),
        }

    def apply(params, x):
        cell = params["cell"]

        def step(carry, x_t):  # BasicLSTMCell: gates i, j, f, o; forget bias 1.0
            c, h = carry
            z = jnp.concatenate([x_t, h], axis=1) @ cell["kernel"] + cell["bias"]
            i, j, f, o = jnp.split(z, 4, axis=1)
            c = c * jax.nn.sigmoid(f + 1.0) + jax.nn.sigmoid(i) * jnp.tanh(j)
            h = jnp.tanh(c) * jax.nn.sigmoid(o)
            return (c, h), None

        zeros = jnp.zeros((x.shape[0], hidden), x.dtype)
        (_, h), _ = lax.scan(step, (zeros, zeros), jnp.swapaxes(x, 0, 1))
        return h @ params["logits"]["kernel"] + params["logits"]["bias"]

    return init, apply


JAX_MODELS = {"mlp": jax_mlp, "cnn": jax_cnn, "lstm": jax_lstm}


def jax_train_step(apply, optimizer):
    import jax
    import optax

    def loss_fn(params, x, y):
        logits = apply(params, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    @functools.partial(jax.jit, donate_argnums=(0, 1))
    def step(params, opt_state, x, y):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, y)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return step


def _jax_prepare(case, settings) -> Prepared:
    import jax
    import optax

    data = batches(case)
    t0 = time.perf_counter()
    init, apply = JAX_MODELS[case["id"]](case)
    params = jax.device_put(init(np.random.default_rng(0)))
    optimizer = optax.adam(LEARNING_RATE)
    state = [params, optimizer.init(params)]
    train_step = jax_train_step(apply, optimizer)
    state[0], state[1], loss = train_step(state[0], state[1], *data[0])
    np.asarray(loss)
    first_s = time.perf_counter() - t0

    counter = iter(range(1 << 62))

    def step():
        bx, by = data[next(counter) % len(data)]
        state[0], state[1], loss = train_step(state[0], state[1], bx, by)
        return loss

    def sync_step():
        return np.asarray(step())

    def finish():
        final_loss = float(sync_step())
        return {"peak_rss_mb": process_peak_rss_mb(), "final_loss": final_loss}

    for _ in range(settings["warmup"]):
        step()
    steps, block = timed_blocks(step, sync_step, block_s=settings["block_s"])
    fetching = timed_blocks(sync_step, sync_step, block_s=settings["block_s"])
    return Prepared({"first_step_s": first_s}, steps, block, finish, fetching)


# --------------------------------------------------------------------------- harness hooks


def prepare_case(framework: str, case: dict, settings: dict) -> Prepared:
    if framework == "jax":
        return _jax_prepare(case, settings)
    return _tf1_prepare(load_tf1(framework), case, settings)


def records(results: dict, quick: bool) -> list:
    rows = []
    for case in cases(quick):
        name = label(case)
        rows += [
            record(
                NAME,
                name,
                "steps/s",
                "steps_per_s",
                results,
                case["id"],
                better="higher",
                target="≥ 0.95x hand JAX and > real TF",
            ),
            record(
                NAME,
                name,
                "steps/s, best block",
                "steps_per_s_best",
                results,
                case["id"],
                better="higher",
            ),
            record(
                NAME,
                name,
                "steps/s, loss fetched every step",
                "steps_per_s_fetching",
                results,
                case["id"],
                better="higher",
            ),
            record(NAME, name, "first step s", "first_step_s", results, case["id"]),
            record(
                NAME,
                name,
                "peak RSS MB" + (" (shared process)" if quick else ""),
                "peak_rss_mb",
                results,
                case["id"],
            ),
        ]
    return rows


if __name__ == "__main__":
    from benchmarks.run_all import main

    main(["--workloads", NAME, *sys.argv[1:]])
