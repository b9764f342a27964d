"""``tf.train.ExponentialMovingAverage`` against real TF: shadow variable names, their values
after training steps (with ``num_updates``, and zero-debiased averages of tensors),
``variables_to_restore`` and restoring the averages into the variables with a ``Saver``."""

import os

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1


def _build(tf):
    w = tf.Variable([1.0, 2.0], name="w")
    with tf.variable_scope("dense"):
        b = tf.get_variable("b", [2], initializer=tf.constant_initializer(0.5))
    x = tf.placeholder(tf.float32, [2], name="x")
    loss = tf.reduce_sum(tf.square(w * x + b))
    step = tf.train.get_or_create_global_step()
    minimize = tf.train.GradientDescentOptimizer(0.1).minimize(loss, global_step=step)
    ema = tf.train.ExponentialMovingAverage(0.9, num_updates=step)
    names_before = [ema.average_name(w), ema.average_name(b)]
    with tf.control_dependencies([minimize]):
        train = ema.apply([w, b])
    mean = tf.reduce_mean(x * w, name="mean")
    debiased = tf.train.ExponentialMovingAverage(0.5, zero_debias=True, name="Debiased")
    track = debiased.apply([mean])
    plain = tf.train.ExponentialMovingAverage(0.7, name="Plain")
    track_plain = plain.apply([loss])
    shadows = [ema.average(w), ema.average(b), debiased.average(mean), plain.average(loss)]
    return {
        # Separate runs: in one run, TF reads ``w`` for ``mean`` before or after the update.
        "train": [train],
        "track": [track, track_plain],
        "shadows": shadows,
        "names_before": names_before,
        "ema": ema,
        "w": w,
    }


def _run(tf, steps=3):
    graph = tf.Graph()
    with graph.as_default():
        model = _build(tf)
        names = [v.name for v in tf.global_variables()]
        trainable = [v.name for v in tf.trainable_variables()]
        averaged = [v.name for v in tf.moving_average_variables()]
        restore = {k: v.name for k, v in model["ema"].variables_to_restore().items()}
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            history = [sess.run(model["shadows"])]
            for i in range(steps):
                sess.run(model["train"], {"x:0": [1.0 + i, -1.0]})
                sess.run(model["track"], {"x:0": [1.0 + i, -1.0]})
                history.append(sess.run(model["shadows"]))
    return {
        "names": names,
        "trainable": trainable,
        "averaged": averaged,
        "restore": restore,
        "names_before": model["names_before"],
        "shadow names": [v.name for v in model["shadows"]],
        "history": history,
    }


def test_names_and_values_match_tf():
    want, got = _run(tf1()), _run(tfs)
    for key in ("names", "trainable", "averaged", "restore", "names_before", "shadow names"):
        assert got[key] == want[key], key
    assert len(got["history"]) == len(want["history"])
    for g, w in zip(got["history"], want["history"]):
        for a, b in zip(g, w):
            np.testing.assert_allclose(a, b, rtol=1e-6)


def test_variables_to_restore_loads_the_averages(tmp_path):
    def train_and_save(tf, prefix):
        with tf.Graph().as_default():
            model = _build(tf)
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                for i in range(3):
                    sess.run(model["train"], {"x:0": [2.0, -1.0 - i]})
                    sess.run(model["track"], {"x:0": [2.0, -1.0 - i]})
                tf.train.Saver().save(sess, prefix)
                return sess.run(model["ema"].average(model["w"]))

    def restore_averages(tf, prefix):
        with tf.Graph().as_default():
            w = tf.Variable([0.0, 0.0], name="w")
            with tf.variable_scope("dense"):
                b = tf.get_variable("b", [2])
            tf.train.get_or_create_global_step()
            ema = tf.train.ExponentialMovingAverage(0.9)
            saver = tf.train.Saver(ema.variables_to_restore())
            with tf.Session() as sess:
                saver.restore(sess, prefix)
                return sess.run([w, b])

    results = {}
    for name, tf in (("tf", tf1()), ("tfstyle", tfs)):
        prefix = os.path.join(tmp_path, name, "model")
        shadow = train_and_save(tf, prefix)
        results[name] = (shadow, restore_averages(tf, prefix))
        np.testing.assert_allclose(results[name][1][0], shadow, rtol=1e-6)
    # Each framework restores the other's checkpoint the same way.
    for reader, writer in (("tf", "tfstyle"), ("tfstyle", "tf")):
        tf = tf1() if reader == "tf" else tfs
        values = restore_averages(tf, os.path.join(tmp_path, writer, "model"))
        for a, b in zip(values, results[writer][1]):
            np.testing.assert_allclose(a, b, rtol=1e-6)


def test_apply_twice_keeps_one_shadow_and_rejects_integers():
    for tf in (tf1(), tfs):
        with tf.Graph().as_default():
            w = tf.Variable([1.0], name="w")
            ema = tf.train.ExponentialMovingAverage(0.99)
            ema.apply([w])
            first = ema.average(w)
            ema.apply([w])
            assert ema.average(w) is first
            assert ema.average(tf.Variable(1.0, name="other")) is None
            count = tf.Variable(1, name="count")
            with pytest.raises(TypeError, match="must be half, float, or double: count:0"):
                ema.apply([count])
