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


# -- batch_norm, layer_norm, dropout, pooling --------------------------------------------------
# Each contrib path against the TF ops contrib builds it from (``tf.layers.BatchNormalization``,
# or ``fused_batch_norm``/``moments`` with ``assign_moving_average``), three training steps.
_BN_CASES = {
    "layer": dict(shape=(6, 4, 4, 3), kwargs={}),
    "rank2_fused": dict(shape=(8, 5), kwargs={"decay": 0.9, "scale": True}),
    "inplace_fused": dict(shape=(6, 4, 4, 3), kwargs={"updates_collections": None}),
    "inplace_moments": dict(
        shape=(6, 4, 4, 3), kwargs={"updates_collections": None, "fused": False, "decay": 0.8}
    ),
    "zero_debias": dict(shape=(6, 4, 4, 3), kwargs={"zero_debias_moving_mean": True}),
}


def _tf_batch_norm(t, x, training, decay=0.999, scale=False, updates_collections="default",
                   fused=True, zero_debias_moving_mean=False):  # fmt: skip
    tf1()
    from tensorflow.python.training import moving_averages

    rank = x.shape.ndims
    if rank == 4 and updates_collections == "default" and not zero_debias_moving_mean:
        with t.variable_scope(None, "BatchNorm") as sc:
            layer = t.layers.BatchNormalization(
                momentum=decay, epsilon=0.001, scale=scale, name=sc.name, _scope=sc, fused=True
            )
            return layer.apply(x, training=training)
    with t.variable_scope(None, "BatchNorm"):
        inputs = t.reshape(x, [-1, 1, 1, x.shape[-1]]) if rank == 2 else x
        channels = [inputs.shape.as_list()[-1]]
        beta = t.get_variable("beta", channels, initializer=t.zeros_initializer())
        gamma = t.get_variable("gamma", channels, initializer=t.ones_initializer()) if scale else (
            t.ones(channels))  # fmt: skip
        mean_v = t.get_variable("moving_mean", channels, initializer=t.zeros_initializer(),
                                trainable=False)  # fmt: skip
        var_v = t.get_variable("moving_variance", channels, initializer=t.ones_initializer(),
                               trainable=False)  # fmt: skip
        if fused:
            out, mean, var = t.cond(
                training,
                lambda: t.nn.fused_batch_norm(inputs, gamma, beta, epsilon=0.001),
                lambda: t.nn.fused_batch_norm(inputs, gamma, beta, mean=mean_v, variance=var_v,
                                              epsilon=0.001, is_training=False),
            )  # fmt: skip
        else:
            bm, bv = t.nn.moments(inputs, [0, 1, 2])
            mean, var = t.cond(training, lambda: (bm, bv), lambda: (t.identity(mean_v),
                                                                    t.identity(var_v)))  # fmt: skip
            out = t.nn.batch_normalization(inputs, mean, var, beta, gamma, 0.001)

        def updates():
            return (
                moving_averages.assign_moving_average(mean_v, mean, decay,
                                                      zero_debias=zero_debias_moving_mean),
                moving_averages.assign_moving_average(var_v, var, decay, zero_debias=False),
            )  # fmt: skip

        if updates_collections is None:

            def updated():
                with t.control_dependencies(list(updates())):
                    return t.identity(out)

            out = t.cond(training, updated, lambda: out)
        else:
            for u in t.cond(training, updates, lambda: (t.identity(mean_v), t.identity(var_v))):
                t.add_to_collection(t.GraphKeys.UPDATE_OPS, u)
        return t.reshape(out, t.shape(x)) if rank == 2 else out


@pytest.mark.parametrize("case", sorted(_BN_CASES))
def test_batch_norm_paths_train_like_tf(case):
    shape, kwargs = _BN_CASES[case]["shape"], _BN_CASES[case]["kwargs"]
    feeds = [np.random.RandomState(i).randn(*shape).astype(np.float32) * (i + 1) for i in range(4)]

    def run(t, build):
        with t.Graph().as_default():
            x = t.placeholder(t.float32, [None, *shape[1:]], name="x")
            training = t.placeholder_with_default(True, [], name="training")
            out = build(x, training)
            names = sorted(v.name for v in t.global_variables())
            moving = [v for v in t.global_variables() if "moving_" in v.op.name]
            moving = [v for v in moving if "biased" not in v.name and "local_step" not in v.name]
            updates = t.get_collection(t.GraphKeys.UPDATE_OPS)
            with t.Session() as s:
                s.run(t.global_variables_initializer())
                got = [s.run([out, updates], {x: f})[0] for f in feeds[:3]]
                got.append(s.run(out, {x: feeds[3], training: False}))
                got += s.run(moving)
            return names, got

    names, got = run(tf, lambda x, tr: tf.contrib.layers.batch_norm(x, is_training=tr, **kwargs))
    t = tf1()
    want_names, want = run(t, lambda x, tr: _tf_batch_norm(t, x, tr, **kwargs))
    assert names == want_names
    for a, e in zip(got, want):
        np.testing.assert_allclose(a, e, rtol=1e-4, atol=1e-5)


def test_batch_norm_collections_and_static_training():
    with tf.Graph().as_default():
        x = tf.placeholder(tf.float32, [None, 3])
        y = tf.contrib.layers.batch_norm(x, scale=True, variables_collections=["bn"],
                                         outputs_collections="outs", scope="norm")  # fmt: skip
        assert [v.name for v in tf.model_variables()] == [
            "norm/beta:0", "norm/gamma:0", "norm/moving_mean:0", "norm/moving_variance:0",
        ]  # fmt: skip
        assert tf.get_collection("bn") == tf.model_variables()
        assert [v.name for v in tf.trainable_variables()] == ["norm/beta:0", "norm/gamma:0"]
        assert tf.get_collection("outs") == [y]
        assert len(tf.get_collection(tf.GraphKeys.UPDATE_OPS)) == 2
        tf.contrib.layers.batch_norm(x, is_training=False, scope="frozen")
        assert len(tf.get_collection(tf.GraphKeys.UPDATE_OPS)) == 2  # no updates when not training
        with pytest.raises(ValueError, match="data_format has to be either NCHW or NHWC"):
            tf.contrib.layers.batch_norm(x, data_format="NDHWC")


def test_layer_norm_dropout_and_pooling_match_tf():
    img = RNG.standard_normal((2, 6, 6, 3)).astype(np.float32) * 3 + 1
    with tf.Graph().as_default():
        x = tf.constant(img)
        ln = tf.contrib.layers.layer_norm(x)
        ln2 = tf.contrib.layers.layer_norm(x, begin_norm_axis=-1, begin_params_axis=-2,
                                           center=False, scope="last")  # fmt: skip
        names = [v.name for v in tf.global_variables()]
        shapes = [v.shape.as_list() for v in tf.global_variables()]
        kept = tf.contrib.layers.dropout(x, 0.7, is_training=False)
        dropped = tf.contrib.layers.dropout(tf.ones([200, 100]), 0.7, seed=1)
        pools = [
            tf.contrib.layers.max_pool2d(x, 2),
            tf.contrib.layers.avg_pool2d(x, [3, 2], stride=1, padding="SAME"),
        ]
        assert pools[0].name == "MaxPool2D/MaxPool:0"
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            got = s.run([ln, ln2, kept] + pools)
            drop = s.run(dropped)
    assert names == ["LayerNorm/beta:0", "LayerNorm/gamma:0", "last/gamma:0"]
    assert shapes == [[3], [3], [6, 3]]
    t = tf1()
    with t.Graph().as_default():
        x = t.constant(img)
        m, v = t.nn.moments(x, [1, 2, 3], keep_dims=True)
        m2, v2 = t.nn.moments(x, [3], keep_dims=True)
        want = [
            t.nn.batch_normalization(x, m, v, t.zeros([3]), t.ones([3]), 1e-12),
            t.nn.batch_normalization(x, m2, v2, None, t.ones([6, 3]), 1e-12),
            x,
            t.nn.max_pool(x, [1, 2, 2, 1], [1, 2, 2, 1], "VALID"),
            t.nn.avg_pool(x, [1, 3, 2, 1], [1, 1, 1, 1], "SAME"),
        ]
        with t.Session() as s:
            want = s.run(want)
    for a, e in zip(got, want):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-5)
    assert set(np.unique(drop)) <= {0.0, np.float32(1 / 0.7)}
    assert abs((drop != 0).mean() - 0.7) < 0.02
