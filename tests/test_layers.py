"""tf.layers against real TF: variable and op names, shapes, values and gradients with the same
weights (initialised in TF, loaded into tfstyle), batch-norm moving statistics, reuse."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1

RNG = np.random.RandomState(0)


def _shape(t):
    s = t.shape
    return None if s.ndims is None else s.as_list()


def _run(tf, build, feeds, steps, weights):
    """Builds ``build(tf)`` -> outputs, initialises (or loads ``weights``), then for each entry
    of ``steps`` (a function of the outputs giving extra fetches) runs them; returns the graph
    metadata, the variable values and the fetched values."""
    g = tf.Graph()
    with g.as_default():
        outs = build(tf)
        outs = list(outs) if isinstance(outs, (list, tuple)) else [outs]
        feed = {g.get_tensor_by_name(k): v for k, v in (feeds or {}).items()}
        xs = [t for t in feed if t.dtype.is_floating]
        ys = [tf.reduce_sum(t) for t in outs if isinstance(t, tf.Tensor) and t.dtype.is_floating]
        step_fetches = [step(tf, outs) for step in steps]
        var_list = tf.global_variables()
        gs = tf.gradients(tf.add_n(ys), xs + tf.trainable_variables()) if ys else []
        gs = [g_ for g_ in gs if g_ is not None]
        meta = {
            "vars": [(v.name, v.shape.as_list()) for v in var_list],
            "trainable": [v.name for v in tf.trainable_variables()],
            "outs": [(t.name, _shape(t), t.dtype.name) for t in outs],
            "collections": {
                k: [getattr(x, "name", None) for x in tf.get_collection(k)]
                for k in (tf.GraphKeys.UPDATE_OPS, tf.GraphKeys.REGULARIZATION_LOSSES)
            },
        }
        with tf.Session(graph=g) as sess:
            sess.run(tf.global_variables_initializer())
            if weights is not None:
                for v in var_list:
                    v.load(weights[v.name], sess)
            init = {v.name: sess.run(v) for v in var_list}
            results = [sess.run(outs + gs, feed)]
            for fetches in step_fetches:
                results.append(sess.run(fetches, feed))
            final = {v.name: sess.run(v) for v in var_list}
    return meta, init, results, final


def layer_check(build, feeds=None, steps=(), rtol=1e-5, atol=1e-5):
    """Asserts that ``build`` gives TF's variables, outputs, values and gradients."""
    e_meta, e_init, e_res, e_final = _run(tf1(), build, feeds, steps, None)
    a_meta, _, a_res, a_final = _run(tfs, build, feeds, steps, e_init)
    assert a_meta == e_meta
    for e, a in zip(e_res, a_res):
        for i, (x, y) in enumerate(zip(e, a)):
            if x is None:
                assert y is None
                continue
            np.testing.assert_allclose(np.asarray(y), np.asarray(x), rtol, atol, err_msg=str(i))
    for k in e_final:
        np.testing.assert_allclose(a_final[k], e_final[k], rtol, atol, err_msg=k)
    return a_res


def _x(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def _ph(tf, shape, name="x"):
    return tf.placeholder(tf.float32, shape, name=name)


def test_dense_names_values_gradients():
    def build(tf):
        x = _ph(tf, [None, 4])
        x3 = _ph(tf, [None, 3, 4], "x3")
        return [
            tf.layers.dense(x, 3),
            tf.layers.dense(x, 3, activation=tf.nn.relu),
            tf.layers.dense(x, 2, use_bias=False, activation=tf.tanh),
            tf.layers.dense(x3, 5, name="proj"),
            tf.layers.dense(x, 2, bias_initializer=tf.constant_initializer(0.5), name="b"),
        ]

    layer_check(build, {"x:0": _x(5, 4), "x3:0": _x(2, 3, 4)})


def test_dense_object_called_twice_shares_weights():
    def build(tf):
        x = _ph(tf, [None, 4])
        layer = tf.layers.Dense(3, activation=tf.nn.sigmoid)
        a, b = layer(x), layer(x * 2.0)
        assert [v.name for v in layer.variables] == ["dense/kernel:0", "dense/bias:0"]
        assert layer.name == "dense_1" and layer.kernel.name == "dense/kernel:0"
        assert layer.trainable_weights == layer.variables and layer.non_trainable_weights == []
        return [a, b]

    layer_check(build, {"x:0": _x(2, 4)})


def test_dense_reuse_through_scopes():
    def build(tf):
        x = _ph(tf, [None, 4])
        outs = []
        for _ in range(2):
            with tf.variable_scope("model", reuse=tf.AUTO_REUSE):
                outs.append(tf.layers.dense(x, 3, name="fc"))
        with tf.variable_scope("enc"):
            outs.append(tf.layers.dense(x, 2))
        with tf.variable_scope("enc", reuse=True):
            outs.append(tf.layers.dense(x, 2, name="dense"))
        outs.append(tf.layers.dense(x, 3, name="fc2"))
        outs.append(tf.layers.dense(x, 3, name="fc2", reuse=True))
        return outs

    layer_check(build, {"x:0": _x(2, 4)})


def test_dense_regularizers_into_collection():
    def build(tf):
        x = _ph(tf, [None, 4])
        y = tf.layers.dense(
            x, 3, kernel_regularizer=tf.nn.l2_loss,
            bias_regularizer=lambda b: 0.1 * tf.reduce_sum(tf.abs(b)),
            activity_regularizer=tf.nn.l2_loss,
            bias_initializer=tf.constant_initializer(0.3),
        )  # fmt: skip
        with tf.variable_scope("s", reuse=tf.AUTO_REUSE):
            z1 = tf.layers.dense(x, 2, kernel_regularizer=tf.nn.l2_loss, name="r")
            z2 = tf.layers.dense(x, 2, kernel_regularizer=tf.nn.l2_loss, name="r")
        regs = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
        return [y, z1, z2, *regs, tf.losses.get_regularization_loss()]

    layer_check(build, {"x:0": _x(3, 4)})


def test_dense_errors_match_tf():
    for tf in (tf1(), tfs):
        with tf.Graph().as_default():
            with pytest.raises(ValueError, match="last dimension of the inputs to a Dense"):
                tf.layers.dense(tf.placeholder(tf.float32, [None, None]), 3)
            x = tf.placeholder(tf.float32, [None, 4])
            tf.layers.dense(x, 3, name="d")
            with pytest.raises(ValueError, match="already exists"):
                tf.layers.dense(x, 3, name="d")


def test_dropout_training_python_bool_and_tensor():
    def build(tf):
        x = _ph(tf, [None, 6])
        t = tf.placeholder_with_default(False, [], name="t")
        a = tf.layers.dropout(x, 0.4)
        b = tf.layers.dropout(x, 0.4, training=t)
        c = tf.layers.Dropout(0.0)(x, training=True)
        return [a, b, c]

    layer_check(build, {"x:0": _x(4, 6)})


def test_dropout_training_statistics():
    g = tfs.Graph()
    with g.as_default():
        x = tfs.ones([200, 100])
        t = tfs.placeholder(tfs.bool, [])
        y = tfs.layers.dropout(x, rate=0.25, training=t)
        assert y.name == "dropout/cond/Identity:0"
        y2 = tfs.layers.dropout(x, rate=0.25, training=True)
        assert y2.name == "dropout_1/dropout/SelectV2:0"
        with tfs.Session() as s:
            on, off, always = s.run(y, {t: True}), s.run(y, {t: False}), s.run(y2)
    assert set(np.unique(on).tolist()) <= {0.0, float(np.float32(1) / np.float32(0.75))}
    assert abs((on == 0).mean() - 0.25) < 0.02 and abs((always == 0).mean() - 0.25) < 0.02
    np.testing.assert_array_equal(off, np.ones([200, 100], np.float32))


def test_flatten():
    def build(tf):
        x = _ph(tf, [None, 2, 3, 2])
        y = _ph(tf, [None, None, 3], "y")
        z = tf.placeholder(tf.float32, [4, None], name="z")
        return [tf.layers.flatten(x), tf.layers.flatten(y), tf.layers.flatten(z),
                tf.layers.Flatten()(x)]  # fmt: skip

    layer_check(build, {"x:0": _x(3, 2, 3, 2), "y:0": _x(2, 5, 3), "z:0": _x(4, 3)})


def test_conv_layers():
    def build(tf):
        x = _ph(tf, [None, 7, 6, 3])
        s = _ph(tf, [None, 9, 2], "s")
        return [
            tf.layers.conv2d(x, 4, 3),
            tf.layers.conv2d(x, 2, (3, 2), strides=2, padding="SAME", activation=tf.nn.relu),
            tf.layers.conv2d(x, 2, [2, 2], dilation_rate=2, padding="Same"),
            tf.layers.conv2d(x, 2, 2, use_bias=False, padding="Same"),
            tf.layers.Conv2D(3, 1, name="pointwise")(x),
            tf.layers.conv1d(s, 3, 3),
            tf.layers.conv1d(s, 2, 2, strides=2, padding="same"),
            tf.layers.conv1d(s, 2, 3, dilation_rate=2),
            tf.layers.conv2d_transpose(x, 2, 3, strides=2, padding="same"),
            tf.layers.conv2d_transpose(x, 3, (2, 3), strides=(2, 1)),
        ]

    layer_check(build, {"x:0": _x(2, 7, 6, 3), "s:0": _x(2, 9, 2)}, rtol=1e-4, atol=1e-4)


def test_pooling_layers():
    def build(tf):
        x = _ph(tf, [None, 7, 6, 3])
        s = _ph(tf, [None, 9, 2], "s")
        return [
            tf.layers.max_pooling2d(x, 2, 2),
            tf.layers.max_pooling2d(x, (3, 2), (2, 1), padding="same"),
            tf.layers.average_pooling2d(x, 3, 2, padding="SAME"),
            tf.layers.average_pooling2d(x, [2, 3], 1),
            tf.layers.MaxPooling2D(2, 2, name="mp")(x),
            tf.layers.max_pooling1d(s, 2, 2),
            tf.layers.average_pooling1d(s, 3, 2, padding="same"),
            tf.layers.AveragePooling1D(2, 1)(s),
        ]

    layer_check(build, {"x:0": _x(2, 7, 6, 3), "s:0": _x(2, 9, 2)})


def test_cnn_stack_trains_like_tf():
    def build(tf):
        x = _ph(tf, [None, 8, 8, 1])
        labels = tf.placeholder(tf.int32, [None], name="labels")
        h = tf.layers.conv2d(x, 4, 3, padding="same", activation=tf.nn.relu)
        h = tf.layers.max_pooling2d(h, 2, 2)
        h = tf.layers.flatten(h)
        h = tf.layers.dense(h, 8, activation=tf.nn.relu)
        logits = tf.layers.dense(h, 3)
        loss = tf.losses.sparse_softmax_cross_entropy(labels, logits)
        return [logits, loss]

    def train(tf, outs):
        opt = tf.train.GradientDescentOptimizer(0.1)
        return [opt.minimize(outs[1]), outs[1]]

    feeds = {"x:0": _x(6, 8, 8, 1), "labels:0": RNG.randint(0, 3, 6).astype(np.int32)}
    layer_check(build, feeds, steps=[train], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape,axis", [([None, 3], -1), ([None, 4, 4, 3], -1),
                                        ([None, 3, 4, 4], 1), ([None, 5, 3], -1),
                                        ([None, 3, 5], 1)])  # fmt: skip
def test_batch_norm_training_inference_and_moving_stats(shape, axis):
    def build(tf):
        x = _ph(tf, shape)
        t = tf.placeholder_with_default(True, [], name="t")
        y = tf.layers.batch_normalization(
            x, axis=axis, training=t, momentum=0.8,
            gamma_initializer=tf.constant_initializer(1.5),
            beta_initializer=tf.constant_initializer(0.2),
        )  # fmt: skip
        y_train = tf.layers.batch_normalization(x, axis=axis, training=True, name="bn_t")
        y_inf = tf.layers.batch_normalization(x, axis=axis, center=False, name="bn_i")
        return [y, y_train, y_inf]

    def update(tf, outs):
        return tf.get_collection(tf.GraphKeys.UPDATE_OPS)

    def infer(tf, outs):
        return [outs[0]]

    n = [4 if d is None else d for d in shape]
    x = _x(*n) * 2.0 + 1.0
    if axis == 1 and len(shape) == 4:
        # TF's CPU kernels have no NCHW fused batch norm.
        pytest.skip("NCHW FusedBatchNorm is not runnable on TF's CPU")
    layer_check(build, {"x:0": x}, steps=[update, update, infer], rtol=1e-4, atol=1e-4)
    # With training fed False the update ops leave the moving statistics unchanged.
    layer_check(build, {"x:0": x, "t:0": False}, steps=[update], rtol=1e-4, atol=1e-4)


def test_batch_norm_with_train_op_control_dependencies():
    def build(tf):
        x = _ph(tf, [None, 4, 4, 2])
        y = tf.layers.batch_normalization(x, training=True)
        loss = tf.reduce_mean(tf.square(tf.layers.dense(tf.layers.flatten(y), 1)))
        return [y, loss]

    def train(tf, outs):
        with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
            op = tf.train.AdamOptimizer(0.01).minimize(outs[1])
        return [op, outs[1]]

    # Adam normalises each gradient element: one that nearly cancels moves its weight by up to
    # a learning rate (0.01) on float noise, so allow 1% of that.
    layer_check(build, {"x:0": _x(3, 4, 4, 2)}, steps=[train, train], rtol=1e-4, atol=1e-4)


def test_layer_object_api():
    for tf in (tf1(), tfs):
        with tf.Graph().as_default():
            x = tf.placeholder(tf.float32, [None, 4, 4, 3])
            bn = tf.layers.BatchNormalization()
            bn(x, training=True)
            assert [v.name for v in bn.trainable_weights] == [
                "batch_normalization/gamma:0",
                "batch_normalization/beta:0",
            ]
            assert [v.name for v in bn.non_trainable_weights] == [
                "batch_normalization/moving_mean:0",
                "batch_normalization/moving_variance:0",
            ]
            assert len(bn.updates) == 2
            conv = tf.layers.Conv2D(2, 3, trainable=False)
            conv(x)
            assert conv.trainable_weights == [] and len(conv.non_trainable_weights) == 2
            assert conv.scope_name == "conv2d"
            assert tf.trainable_variables()[-1].name == "batch_normalization/beta:0"


def _static(tf, build):
    with tf.Graph().as_default():
        outs = build(tf)
        return (
            [(t.name, _shape(t), t.dtype.name) for t in outs],
            [(v.name, v.shape.as_list()) for v in tf.global_variables()],
            [(v.name) for v in tf.trainable_variables()],
            [getattr(x, "name", None) for x in tf.get_collection(tf.GraphKeys.UPDATE_OPS)],
        )


def test_channels_first_and_other_options_graph():
    # TF's CPU kernels cannot run NCHW convolutions, so these compare the graphs only.
    def build(tf):
        x = _ph(tf, [None, 3, 8, 7])
        s = _ph(tf, [None, 2, 9], "s")
        return [
            tf.layers.conv2d(x, 4, 3, data_format="channels_first"),
            tf.layers.conv2d(x, 2, 2, strides=2, padding="same", data_format="channels_first"),
            tf.layers.conv1d(s, 3, 2, data_format="channels_first", use_bias=False),
            tf.layers.max_pooling2d(x, 2, 2, data_format="channels_first"),
            tf.layers.average_pooling2d(x, 3, 1, "same", data_format="channels_first"),
            tf.layers.flatten(x, data_format="channels_first"),
            tf.layers.batch_normalization(x, axis=1, training=True),
            tf.layers.batch_normalization(
                _ph(tf, [None, 4, 4, 3], "y"), fused=False, training=True
            ),  # fmt: skip
            tf.layers.batch_normalization(x, axis=[1, 2], name="two_axes"),
            tf.layers.dense(x, 2, trainable=False, name="frozen"),
            tf.layers.conv2d(x, 2, 3, trainable=False, name="frozen_conv"),
        ]

    assert _static(tfs, build) == _static(tf1(), build)


def test_layer_argument_errors_match_tf():
    for tf in (tf1(), tfs):
        with tf.Graph().as_default():
            x = tf.placeholder(tf.float32, [None, 5, 5, 3])
            for bad in (
                lambda tf=tf, x=x: tf.layers.conv2d(x, 2, 3, padding="full"),
                lambda tf=tf, x=x: tf.layers.conv2d(x, 2, (3, 3, 3)),
                lambda tf=tf, x=x: tf.layers.conv2d(x, 2, 3, data_format="NHWC"),
                lambda tf=tf, x=x: tf.layers.conv2d(
                    tf.placeholder(tf.float32, [None, 5, 5, None]), 2, 3
                ),
                lambda tf=tf, x=x: tf.layers.max_pooling2d(x, 2, 2, padding="causal"),
                lambda tf=tf, x=x: tf.layers.batch_normalization(x, axis=4),
            ):
                with pytest.raises(ValueError):
                    bad()


def test_input_spec_errors_match_tf():
    msgs = []
    for tf in (tf1(), tfs):
        got = []
        with tf.Graph().as_default():
            layer = tf.layers.Dense(2)
            layer(tf.zeros([1, 3]))
            for bad in (
                lambda tf=tf, layer=layer: tf.layers.dense(tf.zeros([3]), 2),
                lambda tf=tf, layer=layer: tf.layers.conv2d(tf.zeros([3, 4, 4]), 2, 2),
                lambda tf=tf, layer=layer: tf.layers.max_pooling2d(tf.zeros([3, 4, 4]), 2, 2),
                lambda tf=tf, layer=layer: layer(tf.zeros([1, 4])),
            ):
                with pytest.raises(ValueError) as info:
                    bad()
                got.append(str(info.value))
        msgs.append(got)
    assert msgs[0] == msgs[1]


def test_custom_layer_subclass():
    def build(tf):
        class Scale(tf.layers.Layer):
            def build(self, input_shape):
                self.w = self.add_variable("w", [int(input_shape[-1]), 2],
                                           initializer=tf.ones_initializer())  # fmt: skip
                self.b = self.add_weight("b", [2], trainable=False)
                super().build(input_shape)

            def call(self, x):
                return tf.matmul(x, self.w) + self.b

        x = _ph(tf, [None, 3])
        m = Scale()
        outs = [m(x), m(x * 2.0), Scale(name="custom")(x)]
        assert m.name == "scale_1" and [v.name for v in m.variables] == ["scale/w:0", "scale/b:0"]
        return outs

    layer_check(build, {"x:0": _x(2, 3)})


def test_separable_conv2d():
    def build(tf):
        x = _ph(tf, [None, 7, 6, 3])
        return [
            tf.layers.separable_conv2d(x, 4, 3),
            tf.layers.separable_conv2d(
                x, 2, (2, 3), strides=2, padding="same", depth_multiplier=2, activation=tf.nn.relu
            ),  # fmt: skip
            tf.layers.SeparableConv2D(3, 1, use_bias=False, name="sep")(x),
        ]

    layer_check(build, {"x:0": _x(2, 7, 6, 3)}, rtol=1e-4, atol=1e-4)


def test_batch_norm_without_center_and_scale():
    def build(tf):
        x = _ph(tf, [None, 3, 3, 2])
        r = _ph(tf, [None, 2], "r")
        return [
            tf.layers.batch_normalization(x, center=False, scale=False, training=True),
            tf.layers.batch_normalization(x, scale=False, epsilon=1e-6, training=False),
            tf.layers.batch_normalization(r, center=False, momentum=0.5, training=True),
        ]

    def update(tf, outs):
        return tf.get_collection(tf.GraphKeys.UPDATE_OPS)

    layer_check(build, {"x:0": _x(2, 3, 3, 2), "r:0": _x(5, 2)}, steps=[update, update],
                rtol=1e-4, atol=1e-4)  # fmt: skip


def test_dropout_noise_shape_and_constant_training_graph():
    def build(tf):
        x = _ph(tf, [None, 4, 3])
        t = tf.placeholder(tf.bool, [])
        return [
            tf.layers.dropout(x, 0.5, noise_shape=[None, 1, 3], seed=3, training=True),
            tf.layers.dropout(x, 0.2, noise_shape=[None, 1, 3], training=t),
            tf.layers.Dropout(0.3, seed=1)(x, training=tf.constant(True)),
        ]

    assert _static(tfs, build) == _static(tf1(), build)
    with tfs.Graph().as_default():
        y = build(tfs)[0]
        with tfs.Session() as s:
            out = s.run(y, {"x:0": np.ones([50, 4, 3], np.float32)})
    # The noise is shared along the axis of size 1 in noise_shape.
    assert (out == out[:, :1, :]).all() and set(np.unique(out).tolist()) <= {0.0, 2.0}
