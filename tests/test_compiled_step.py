"""The compiled training step on CPU: XLA options and what they buy (compiler/executable.py)."""

import re

import jax
import numpy as np
import pytest

import tfstyle.compat.v1 as tf
from tfstyle.compiler import executable

pytestmark = pytest.mark.skipif(jax.default_backend() != "cpu", reason="CPU compiler options")


def _mlp_train_graph(lr_of_a_cond=False):
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [32, 64], name="x")
        k1 = tf.Variable(np.full((64, 256), 0.01, np.float32), name="k1")
        k2 = tf.Variable(np.full((256, 512), 0.02, np.float32), name="k2")
        loss = tf.reduce_mean(tf.matmul(tf.nn.relu(tf.matmul(x, k1)), k2) ** 2)
        lr = 0.1
        if lr_of_a_cond:  # a tf.case: the step holds a cond
            gs = tf.train.get_or_create_global_step()
            lr = tf.train.piecewise_constant(gs, [10], [0.1, 0.05])
        train = tf.train.AdamOptimizer(lr).minimize(loss)
        init = tf.global_variables_initializer()
    return g, x, k2, loss, train, init


def _captured_calls(monkeypatch):
    calls = []
    original = executable.Executable.__call__

    def spy(self, *args):
        calls.append((self, args))
        return original(self, *args)

    monkeypatch.setattr(executable.Executable, "__call__", spy)
    return calls


@pytest.mark.parametrize("lr_of_a_cond", [False, True])
def test_training_step_updates_donated_variables_without_copying_them(monkeypatch, lr_of_a_cond):
    # k2 is read by the backprop into the first layer and overwritten by its Adam update, with
    # no data edge between the two: without region analysis XLA copies k2 before the update.
    # (Steps with loops go without it; a cond keeps it.)
    g, x, k2, loss, train, init = _mlp_train_graph(lr_of_a_cond)
    feed = {x: np.ones((32, 64), np.float32)}
    with tf.Session(graph=g) as sess:
        sess.run(init)
        calls = _captured_calls(monkeypatch)
        sess.run(train, feed)
        exe, args = calls[-1]
        options = executable._cpu_compiler_options(exe.plan)
        assert options["xla_cpu_copy_insertion_use_region_analysis"] is True
        with executable.x64(True):
            hlo = exe.jitted.lower(*args).compile().as_text()
        entry = hlo[hlo.index("ENTRY") :]
        assert not re.findall(r"f32\[256,512\]\S* copy\(", entry)
        # The step still updates k2 as Adam does (one step: lr * sign of the gradient).
        before = np.full((256, 512), 0.02, np.float32)
        after = sess.run(k2)
        np.testing.assert_allclose(np.abs(after - before), 0.1, rtol=1e-3)


def test_an_option_this_jaxlib_rejects_is_dropped_and_the_rest_kept(monkeypatch):
    monkeypatch.setattr(
        executable,
        "_CPU_DEFAULT_OPTIONS",
        {
            "xla_cpu_no_such_option_anywhere": True,
            "xla_cpu_copy_insertion_use_region_analysis": True,
        },
    )
    g, x, k2, loss, train, init = _mlp_train_graph()
    with tf.Session(graph=g) as sess:
        sess.run(init)
        calls = _captured_calls(monkeypatch)
        value = sess.run(loss, {x: np.ones((32, 64), np.float32)})
        options = executable._cpu_compiler_options(calls[-1][0].plan)
    assert options == {"xla_cpu_copy_insertion_use_region_analysis": True}
    np.testing.assert_allclose(value, (64 * 0.01 * 256 * 0.02) ** 2, rtol=1e-5)


def test_conv_options_follow_the_ops_and_the_environment(monkeypatch):
    g = tf.Graph()
    with g.as_default():
        img = tf.placeholder(tf.float32, [2, 8, 8, 1])
        out = tf.nn.conv2d(img, tf.ones([3, 3, 1, 4]), [1, 1, 1, 1], "SAME")
        plain = img * 2.0
    with tf.Session(graph=g) as sess:
        calls = _captured_calls(monkeypatch)
        sess.run(out, {img: np.ones((2, 8, 8, 1), np.float32)})
        sess.run(plain, {img: np.ones((2, 8, 8, 1), np.float32)})
    conv_plan, plain_plan = calls[0][0].plan, calls[1][0].plan
    ynn = "xla_cpu_experimental_ynn_fusion_type"
    conv_opts = executable._cpu_compiler_options(conv_plan)
    assert "xla_cpu_copy_insertion_use_region_analysis" in conv_opts
    conv_op = next(op for op in conv_plan.ops if op._def and op._def.cpu_compiler_options)
    if executable._accepted((ynn, conv_op._def.cpu_compiler_options[ynn])):
        assert ynn in conv_opts
    assert ynn not in executable._cpu_compiler_options(plain_plan)
    monkeypatch.setenv("TFSTYLE_CPU_CONV_OPTIONS", "0")
    assert executable._cpu_compiler_options(conv_plan) == {
        "xla_cpu_copy_insertion_use_region_analysis": True
    }


def test_a_step_with_a_loop_keeps_xla_default_copy_insertion(monkeypatch):
    # The loops set the region analysis back (it miscompiles nested loops in this XLA), also
    # from inside a cond's branch.
    g = tf.Graph()
    with g.as_default():
        p = tf.placeholder(tf.bool, [])
        looped = tf.cond(p, lambda: tf.while_loop(lambda i: i < 3, lambda i: i + 1, [0]),
                         lambda: tf.constant(0))  # fmt: skip
        plain = tf.cond(p, lambda: tf.constant(1), lambda: tf.constant(0))
    with tf.Session(graph=g) as sess:
        calls = _captured_calls(monkeypatch)
        assert sess.run(looped, {p: True}) == 3
        assert sess.run(plain, {p: True}) == 1
    region = "xla_cpu_copy_insertion_use_region_analysis"
    assert executable._cpu_compiler_options(calls[0][0].plan)[region] is False
    assert executable._cpu_compiler_options(calls[1][0].plan)[region] is True


def test_loss_fetched_beside_the_train_op_is_computed_once(monkeypatch):
    # The loss comes from the gradient's own forward pass: fetching it adds no second forward
    # scan of the RNN (XLA does not merge two loops that compute the same).
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [4, 6, 3], name="x")
        with tf.variable_scope("rnn", initializer=tf.constant_initializer(0.1)):
            out, _ = tf.nn.dynamic_rnn(tf.nn.rnn_cell.BasicLSTMCell(5), x, dtype=tf.float32)
        logits = tf.layers.dense(out[:, -1], 2)
        loss = tf.reduce_mean(tf.square(logits - 1.0))
        accuracy = tf.reduce_mean(tf.cast(tf.argmax(logits, 1) > 0, tf.float32))
        train = tf.train.AdamOptimizer(0.1).minimize(loss)
        init = tf.global_variables_initializer()
    feed = {x: np.linspace(-1, 1, 72, dtype=np.float32).reshape(4, 6, 3)}
    loops = []
    with tf.Session(graph=g) as sess:
        sess.run(init)
        calls = _captured_calls(monkeypatch)
        for fetches in (train, [train, loss], [train, loss, accuracy]):
            sess.run(fetches, feed)
            exe, args = calls[-1]
            with executable.x64(True):
                loops.append(exe.jitted.lower(*args).as_text().count("stablehlo.while"))
    assert loops[0] > 0 and loops == [loops[0]] * 3
