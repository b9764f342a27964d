"""tf.contrib.layers: contrib's names and collections, values against real TF's equivalent ops
(TF 2.x has no contrib, so the oracle is the op contrib was built from), initializer
statistics, regularizers."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tf
from tests.oracle import tf1

RNG = np.random.RandomState(3)


def test_fully_connected_names_collections_values():
    x_val = RNG.standard_normal((3, 4)).astype(np.float32)
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 4])
        y = tf.contrib.layers.fully_connected(
            x, 5, weights_regularizer=tf.contrib.layers.l2_regularizer(0.1),
            variables_collections=["vc"], outputs_collections=["oc"],
        )  # fmt: skip
        z = tf.contrib.layers.fully_connected(y, 2, activation_fn=None, scope="logits")
        with tf.variable_scope("logits", reuse=True):
            w_again = tf.get_variable("weights")
        z2 = tf.contrib.layers.fully_connected(y, 2, activation_fn=None, scope="logits",
                                               reuse=True)  # fmt: skip
        n = tf.contrib.layers.fully_connected(x, 3, normalizer_fn=tf.nn.l2_normalize,
                                              normalizer_params={"axis": 1})  # fmt: skip
        names = [v.name for v in tf.global_variables()]
        assert names == [
            "fully_connected/weights:0", "fully_connected/biases:0", "logits/weights:0",
            "logits/biases:0", "fully_connected_1/weights:0",
        ]  # fmt: skip
        assert [v.name for v in tf.model_variables()] == names
        assert [v.name for v in tf.trainable_variables()] == names
        assert [v.name for v in tf.get_collection("vc")] == names[:2]
        assert tf.get_collection("oc") == [y]
        assert (y.name, z.name, z2.name) == ("fully_connected/Relu:0", "logits/BiasAdd:0",
                                             "logits_2/BiasAdd:0")  # fmt: skip
        assert w_again is tf.global_variables()[2]
        (reg,) = tf.losses.get_regularization_losses()
        assert reg.name == "fully_connected/kernel/Regularizer/l2_regularizer:0"
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            w1, b1, w2, b2, wn = s.run(tf.global_variables())
            got = s.run([y, z, z2, n, reg], {x: x_val})
    h = np.maximum(x_val @ w1 + b1, 0)
    np.testing.assert_allclose(got[0], h, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[1], h @ w2 + b2, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(got[2], got[1])
    xn = x_val @ wn
    np.testing.assert_allclose(
        got[3], np.maximum(xn / np.linalg.norm(xn, axis=1, keepdims=True), 0), rtol=1e-5
    )
    np.testing.assert_allclose(got[4], 0.1 * np.sum(w1**2) / 2, rtol=1e-5)
    assert not b1.any()


def test_conv2d_and_flatten_match_tf_ops():
    img = RNG.standard_normal((2, 6, 5, 3)).astype(np.float32)
    with tf.Graph().as_default():
        x = tf.constant(img)
        c = tf.contrib.layers.conv2d(x, 4, 3, biases_initializer=tf.constant_initializer(0.1))
        c2 = tf.contrib.layers.conv2d(x, 2, [2, 3], stride=2, padding="VALID",
                                      activation_fn=None, scope="second")  # fmt: skip
        f = tf.contrib.layers.flatten(c2)
        assert [v.name for v in tf.global_variables()] == [
            "Conv/weights:0", "Conv/biases:0", "second/weights:0", "second/biases:0",
        ]  # fmt: skip
        assert (c.name, c2.name, f.name) == (
            "Conv/Relu:0", "second/BiasAdd:0", "Flatten/flatten/Reshape:0",
        )  # fmt: skip
        assert c.shape.as_list() == [2, 6, 5, 4] and f.shape.as_list() == [2, 12]
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            w1, b1, w2, b2 = s.run(tf.global_variables())
            got = s.run([c, c2, f])
    t = tf1()
    with t.Graph().as_default():
        x = t.constant(img)
        want = [
            t.nn.relu(t.nn.conv2d(x, w1, [1, 1, 1, 1], "SAME") + b1),
            t.nn.conv2d(x, w2, [1, 2, 2, 1], "VALID") + b2,
        ]
        want.append(t.reshape(want[1], [2, -1]))
        with t.Session() as s:
            want = s.run(want)
    for a, e in zip(got, want):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-5)


def _draw(init, shape, dtype=tf.float32):
    with tf.Graph().as_default():
        v = tf.get_variable("v", shape, dtype=dtype, initializer=init)
        with tf.Session() as s:
            s.run(v.initializer)
            return s.run(v)


def test_initializer_statistics():
    shape = [60, 40, 3, 2]  # fan_in = 60 * 40 * 3, fan_out = 60 * 40 * 2
    fan_in, fan_out = 60 * 40 * 3, 60 * 40 * 2
    u = _draw(tf.contrib.layers.xavier_initializer(seed=1), shape)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    assert u.max() <= limit and u.min() >= -limit and u.max() > 0.95 * limit
    assert abs(u.std() - limit / np.sqrt(3)) < 0.02 * limit
    n = _draw(tf.contrib.layers.xavier_initializer(uniform=False, seed=1), shape)
    stddev = np.sqrt(1.3 * 2.0 / (fan_in + fan_out))
    assert np.abs(n).max() <= 2 * stddev + 1e-6
    # A normal truncated at two standard deviations keeps 88% of its standard deviation.
    assert abs(n.std() - 0.8796 * stddev) < 0.03 * stddev
    he = _draw(tf.contrib.layers.variance_scaling_initializer(), [500, 300])
    assert abs(he.std() - 0.8796 * np.sqrt(1.3 * 2.0 / 500)) < 0.03 * np.sqrt(2.6 / 500)
    out = _draw(tf.contrib.layers.variance_scaling_initializer(3.0, "FAN_OUT", True), [50, 400])
    assert out.max() <= np.sqrt(3 * 3.0 / 400) and out.min() >= -np.sqrt(9.0 / 400)
    assert tf.contrib.layers.xavier_initializer_conv2d is tf.contrib.layers.xavier_initializer
    with pytest.raises(TypeError, match="non-floating point"):
        tf.contrib.layers.xavier_initializer(dtype=tf.int32)
    with pytest.raises(TypeError, match="Unknown mode"):
        tf.contrib.layers.variance_scaling_initializer(mode="FAN_MAX")


def test_regularizers():
    w_val = np.array([[1.0, -2.0], [0.5, 3.0]], np.float32)
    with tf.Graph().as_default():
        w = tf.constant(w_val)
        l2 = tf.contrib.layers.l2_regularizer(0.5)(w)
        l1 = tf.contrib.layers.l1_regularizer(0.25, scope="my_l1")(w)
        assert (l2.name, l1.name) == ("l2_regularizer:0", "my_l1:0")
        assert tf.contrib.layers.l2_regularizer(0.0)(w) is None
        with tf.Session() as s:
            got = s.run([l2, l1])
    np.testing.assert_allclose(got, [0.5 * np.sum(w_val**2) / 2, 0.25 * np.abs(w_val).sum()])
    with pytest.raises(ValueError, match="scale cannot be an integer"):
        tf.contrib.layers.l2_regularizer(1)
    with pytest.raises(ValueError, match="less than 0"):
        tf.contrib.layers.l1_regularizer(-0.5)
