"""tf.nn convolutions and pooling against real TF: values, names, static shapes and gradients.

TF's CPU kernels refuse most NCHW convolutions and pools, so NCHW runs in tfstyle are compared
with TF computing in NHWC; NCHW graphs are still compared statically (names and shapes).
"""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.op_check import check, check_raises
from tests.oracle import tf1

RNG = np.random.RandomState(1)
FLOATS = ("float32", "float64")
TOL = {"rtol": 1e-4, "atol": 1e-5}
X = RNG.randn(2, 7, 6, 3)
K = RNG.randn(3, 2, 3, 4)


def _static(build):
    """Names and static shapes of ``build``'s outputs in TF and tfstyle, without running."""
    seen = []
    for tf in (tf1(), tfs):
        with tf.Graph().as_default():
            outs = build(tf)
            seen.append([(t.name, t.shape.as_list() if t.shape.ndims else None) for t in outs])
    assert seen[1] == seen[0]


def _nchw(tf, op, x, **kw):
    """``op`` on NHWC ``x``; tfstyle computes it in NCHW between two transposes."""
    if tf is not tfs:
        return op(x, **kw)
    y = op(tf.transpose(x, [0, 3, 1, 2]), data_format="NCHW", **kw)
    return tf.transpose(y, [0, 2, 3, 1])


@pytest.mark.parametrize("dt", FLOATS)
def test_conv2d_strides_paddings_dilations(dt):
    def build(tf):
        x = tf.placeholder(dt, [None, 7, 6, 3], name="x")
        k = tf.placeholder(dt, [3, 2, 3, 4], name="k")
        outs = []
        for strides in ([1, 1, 1, 1], [1, 2, 2, 1], 2, [1, 3]):
            for padding in ("SAME", "VALID", [[0, 0], [1, 2], [0, 1], [0, 0]]):
                outs.append(tf.nn.conv2d(x, k, strides=strides, padding=padding))
        outs.append(tf.nn.conv2d(x, filters=k, strides=1, padding="SAME", name="c"))
        return outs

    check(build, {"x:0": X.astype(dt), "k:0": K.astype(dt)}, grad=True, **TOL)

    def dilated(tf):
        x = tf.placeholder(dt, [None, 7, 6, 3], name="x")
        k = tf.placeholder(dt, [3, 2, 3, 4], name="k")
        # TF's CPU has no gradient kernel for dilated convolutions: values only.
        return [tf.nn.conv2d(x, k, 1, pad, dilations=[2, 1]) for pad in ("SAME", "VALID")]

    check(dilated, {"x:0": X.astype(dt), "k:0": K.astype(dt)}, **TOL)


def test_conv2d_grouped_and_even_kernel_same_padding():
    img = np.arange(30, dtype=np.float32).reshape(1, 6, 5, 1)
    ones = np.ones((2, 2, 1, 1), np.float32)
    check(lambda tf: tf.nn.conv2d(tf.constant(img), ones, [1, 1, 1, 1], "SAME"))
    check(
        lambda tf: tf.nn.conv2d(
            tf.placeholder(tf.float32, [None, 5, 5, 4], name="x"), K[:, :, :2], 1, "SAME"
        ),
        {"x:0": RNG.randn(1, 5, 5, 4).astype(np.float32)},
        **TOL,
    )


def test_conv2d_nchw():
    def build(tf):
        x = tf.placeholder(tf.float32, [None, 7, 6, 3], name="x")
        k = tf.constant(K.astype(np.float32))
        return [
            _nchw(tf, tf.nn.conv2d, x, filters=k, strides=2, padding="SAME"),
            _nchw(tf, tf.nn.conv2d, x, filters=k, strides=1, padding="VALID"),
        ]

    check(build, {"x:0": X.astype(np.float32)}, grad=True, names=False, **TOL)

    def static(tf):
        x = tf.placeholder(tf.float32, [None, 3, 8, 8])
        k = tf.zeros([3, 3, 3, 4])
        return [
            tf.nn.conv2d(x, k, [1, 1, 2, 2], "SAME", data_format="NCHW"),
            tf.nn.conv2d(x, k, 2, "VALID", data_format="NCHW", dilations=[1, 2]),
            tf.nn.max_pool(x, 2, 2, "SAME", data_format="NCHW"),
            tf.nn.avg_pool(x, [1, 1, 3, 3], [1, 1, 2, 2], "VALID", data_format="NCHW"),
            tf.nn.bias_add(x, tf.zeros([3]), data_format="NCHW"),
        ]

    _static(static)


def test_conv2d_errors():
    x = lambda tf, s=(1, 8, 8, 3): tf.placeholder(tf.float32, s)  # noqa: E731
    check_raises(lambda tf: tf.nn.conv2d(x(tf), tf.zeros([3, 3, 2, 4]), 1, "SAME"))
    check_raises(lambda tf: tf.nn.conv2d(x(tf, [8, 8, 3]), tf.zeros([3, 3, 3, 4]), 1, "SAME"))
    check_raises(lambda tf: tf.nn.conv2d(x(tf), tf.zeros([3, 3, 3, 4]), 1, "FOO"))
    check_raises(lambda tf: tf.nn.conv2d(x(tf, [1, 2, 2, 3]), tf.zeros([3, 3, 3, 4]), 1, "VALID"))
    check_raises(lambda tf: tf.nn.conv2d(x(tf), tf.zeros([3, 3, 3, 4]), [1, 2, 2], "VALID"))
    check_raises(lambda tf: tf.nn.conv2d(x(tf), tf.zeros([3, 3, 3, 4]), 1, "EXPLICIT"))
    check_raises(lambda tf: tf.nn.conv2d(x(tf), tf.zeros([3, 3, 3, 4]), 1, [[0, 0], [1, 1]]))


@pytest.mark.parametrize("dt", FLOATS)
def test_conv1d(dt):
    def build(tf):
        x = tf.placeholder(dt, [None, 9, 3], name="x")
        k = tf.placeholder(dt, [3, 3, 4], name="k")
        outs = [tf.nn.conv1d(x, k, s, p) for s in (1, 2) for p in ("SAME", "VALID")]
        return outs + [tf.nn.conv1d(x, k, stride=[2], padding="SAME", name="c1")]

    feeds = {"x:0": RNG.randn(2, 9, 3).astype(dt), "k:0": RNG.randn(3, 3, 4).astype(dt)}
    check(build, feeds, grad=True, **TOL)


@pytest.mark.parametrize("dt", FLOATS)
def test_conv2d_transpose(dt):
    y = RNG.randn(2, 4, 3, 4).astype(dt)

    def build(tf):
        yt = tf.placeholder(dt, [2, None, None, 4], name="y")
        k = tf.placeholder(dt, [3, 2, 3, 4], name="k")
        return [
            tf.nn.conv2d_transpose(yt, k, [2, 7, 6, 3], strides=2, padding="SAME"),
            tf.nn.conv2d_transpose(yt, k, [2, 8, 6, 3], [1, 2, 2, 1], "SAME"),
            tf.nn.conv2d_transpose(yt, k, [2, 9, 7, 3], [1, 2, 2, 1], "VALID"),
            tf.nn.conv2d_transpose(yt, k, tf.constant([2, 6, 4, 3]), 1, "VALID", name="ct"),
            tf.nn.conv2d_transpose(yt, k, [2, 4, 3, 3], 1, "SAME"),
        ]

    check(build, {"y:0": y, "k:0": K.astype(dt)}, grad=True, **TOL)


@pytest.mark.parametrize("dt", FLOATS)
def test_depthwise_conv2d(dt):
    kd = RNG.randn(3, 2, 3, 2).astype(dt)

    def build(tf):
        x = tf.placeholder(dt, [None, 7, 6, 3], name="x")
        k = tf.placeholder(dt, [3, 2, 3, 2], name="k")
        outs = [
            tf.nn.depthwise_conv2d(x, k, strides, padding)
            for strides in ([1, 1, 1, 1], [1, 2, 2, 1])
            for padding in ("SAME", "VALID")
        ]
        outs.append(tf.nn.depthwise_conv2d(x, k, [1, 1, 1, 1], "SAME", name="dw"))
        outs.append(tf.nn.depthwise_conv2d_native(x, k, [1, 2, 2, 1], "SAME"))
        return outs

    check(build, {"x:0": X.astype(dt), "k:0": kd}, grad=True, **TOL)

    def rate(tf):
        x = tf.placeholder(dt, [None, 7, 6, 3], name="x")
        k = tf.placeholder(dt, [3, 2, 3, 2], name="k")
        return [
            tf.nn.depthwise_conv2d(x, k, [1, 1, 1, 1], p, rate=[2, 2]) for p in ("SAME", "VALID")
        ]

    # TF wraps a dilated depthwise convolution in SpaceToBatchND/BatchToSpaceND (other names).
    check(rate, {"x:0": X.astype(dt), "k:0": kd}, grad=True, names=False, **TOL)


@pytest.mark.parametrize("dt", FLOATS)
def test_max_and_avg_pool(dt):
    x = X.astype(dt)

    def build(tf):
        v = tf.placeholder(dt, [None, 7, 6, 3], name="x")
        outs = []
        for op in (tf.nn.max_pool, tf.nn.avg_pool):
            for ksize, strides in (([1, 2, 2, 1], [1, 2, 2, 1]), (3, 2), ([2, 3], [1, 2])):
                for padding in ("SAME", "VALID"):
                    outs.append(op(v, ksize, strides, padding))
        outs += [tf.nn.max_pool(v, 2, 2, "SAME", name="mp"), tf.nn.avg_pool2d(v, 2, 1, "SAME")]
        outs.append(tf.nn.max_pool(v, 2, 2, [[0, 0], [1, 0], [1, 1], [0, 0]]))
        return outs + [tf.nn.max_pool2d(v, 3, 1, "VALID")]

    check(build, {"x:0": x}, grad=True)
    check(lambda tf: tf.nn.max_pool(tf.constant(np.arange(16).reshape(1, 4, 4, 1)), 2, 2, "SAME"))


def test_pools_nchw_and_1d():
    x3 = RNG.randn(2, 9, 3).astype(np.float32)

    def build(tf):
        v = tf.placeholder(tf.float32, [None, 7, 6, 3], name="x")
        v3 = tf.placeholder(tf.float32, [None, 9, 3], name="x3")
        return [
            _nchw(tf, tf.nn.max_pool, v, ksize=3, strides=2, padding="SAME"),
            _nchw(tf, tf.nn.avg_pool, v, ksize=[2, 3], strides=[1, 2], padding="SAME"),
            tf.nn.max_pool1d(v3, 2, 2, "SAME"),
            tf.nn.avg_pool1d(v3, 3, 1, "VALID"),
            tf.nn.max_pool1d(v3, [3], [2], "VALID", name="mp1"),
        ]

    check(build, {"x:0": X.astype(np.float32), "x3:0": x3}, grad=True, names=False)
    _static(lambda tf: build(tf)[2:])


def test_pool_errors():
    x = lambda tf, s=(1, 8, 8, 3), dt="float32": tf.placeholder(dt, s)  # noqa: E731
    check_raises(lambda tf: tf.nn.avg_pool(x(tf, dt="int32"), 2, 2, "VALID"))
    check_raises(lambda tf: tf.nn.max_pool(x(tf, [8, 8, 3]), 2, 2, "VALID"))
    check_raises(lambda tf: tf.nn.max_pool(x(tf, [1, 2, 2, 3]), 3, 1, "VALID"))
    check_raises(lambda tf: tf.nn.max_pool(x(tf), 0, 1, "VALID"))


def test_conv_gradient_ops_separable_and_convolution():
    x = X.astype(np.float32)
    dy = RNG.randn(2, 7, 6, 4).astype(np.float32)

    def build(tf):
        v = tf.placeholder(tf.float32, [None, 7, 6, 3], name="x")
        g = tf.placeholder(tf.float32, [None, 7, 6, 4], name="dy")
        k = tf.constant(K.astype(np.float32))
        return [
            tf.nn.conv2d_backprop_filter(v, [3, 2, 3, 4], g, [1, 1, 1, 1], "SAME"),
            tf.nn.conv2d_backprop_input([2, 7, 6, 3], k, g, [1, 1, 1, 1], "SAME", name="bi"),
            tf.nn.separable_conv2d(
                v,
                tf.constant(K[..., :2].astype(np.float32)),
                tf.ones([1, 1, 6, 5]),
                [1] * 4,
                "SAME",
            ),
            tf.nn.convolution(v, k, "SAME", strides=[2, 2]),
            tf.nn.convolution(v, k, "VALID", name="cv"),
        ]

    check(build, {"x:0": x, "dy:0": dy}, grad=True, **TOL)

    def dilated(tf):
        v = tf.placeholder(tf.float32, [None, 7, 6, 3], name="x")
        k = tf.constant(K.astype(np.float32))
        return [
            tf.nn.atrous_conv2d(v, k, 2, "SAME"),
            tf.nn.convolution(v, k, "VALID", dilation_rate=[2, 1]),
        ]

    # TF wraps dilated convolutions in SpaceToBatchND/BatchToSpaceND (other names).
    check(dilated, {"x:0": x}, names=False, **TOL)


@pytest.mark.parametrize(
    "ksize,strides,padding",
    [(2, 2, "VALID"), (3, 2, "VALID"), (3, 1, "SAME"), (2, 2, "SAME"), (3, 2, "SAME")],
)
def test_max_pool_gradient_with_tied_maxima_goes_where_tf_puts_it(ksize, strides, padding):
    # Many equal values per window: TF routes each window's gradient to its first maximum.
    x = np.random.RandomState(0).randint(0, 3, size=(2, 7, 7, 3)).astype(np.float32)

    def build(tf):
        p = tf.placeholder(tf.float32, [None, 7, 7, 3], name="x")
        return tf.nn.max_pool(p, ksize, strides, padding) * 1.5

    check(build, {"x:0": x}, grad=True)
