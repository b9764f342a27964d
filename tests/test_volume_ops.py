"""3-D convolution and pooling, ``tf.nn.pool``, ``max_pool_with_argmax`` and
``weighted_moments`` against real TF: names, static shapes, values and gradients, and the
gradient ops TF writes into its graphs (``MaxPool3DGrad``, ``Conv3DBackpropInputV2``, ...)."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.op_check import check
from tests.oracle import tf1
from tests.test_layers import _static, layer_check

RNG = np.random.default_rng(0)
X5 = RNG.standard_normal((2, 5, 6, 7, 3)).astype(np.float32)
X4 = RNG.standard_normal((2, 5, 7, 3)).astype(np.float32)
F5 = RNG.standard_normal((2, 3, 2, 3, 4)).astype(np.float32)


def _x5(tf, shape=(2, 5, 6, 7, 3)):
    return tf.placeholder(tf.float32, shape, name="x")


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize(("ksize", "strides"), [(2, 2), ([1, 3, 2, 3, 1], [1, 2, 1, 2, 1]), (3, 1)])
def test_pool3d(padding, ksize, strides):
    def build(tf):
        x = _x5(tf)
        return [
            tf.nn.max_pool3d(x, ksize, strides, padding),
            tf.nn.avg_pool3d(x, ksize, strides, padding, name="avg"),
        ]

    check(build, {"x:0": X5}, grad=True)


def test_pool3d_ties_route_to_first_maximum():
    x = np.round(X5 * 2) / 2

    def build(tf):
        return tf.nn.max_pool3d(_x5(tf), 2, 1, "SAME")

    check(build, {"x:0": x}, grad=True)


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
@pytest.mark.parametrize("strides", [[1, 1, 1, 1, 1], [1, 2, 1, 2, 1]])
def test_conv3d(padding, strides):
    def build(tf):
        x = _x5(tf)
        f = tf.placeholder(tf.float32, F5.shape, name="f")
        return tf.nn.conv3d(x, f, strides, padding)

    check(build, {"x:0": X5, "f:0": F5}, grad=True, rtol=1e-4, atol=1e-4)


def test_conv3d_dilations():
    def build(tf):
        x = _x5(tf)
        f = tf.placeholder(tf.float32, F5.shape, name="f")
        return tf.nn.conv3d(x, f, [1, 1, 1, 1, 1], "SAME", dilations=[1, 2, 1, 2, 1])

    check(build, {"x:0": X5, "f:0": F5}, grad=True, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_conv3d_transpose(padding):
    ft = RNG.standard_normal((2, 3, 2, 4, 3)).astype(np.float32)
    out = [2, 10, 12, 14, 4] if padding == "SAME" else [2, 10, 13, 14, 4]

    def build(tf):
        x = _x5(tf)
        f = tf.placeholder(tf.float32, ft.shape, name="f")
        return tf.nn.conv3d_transpose(x, f, out, [1, 2, 2, 2, 1], padding)

    check(build, {"x:0": X5, "f:0": ft}, grad=True, rtol=1e-4, atol=1e-4)


def _ncdhw_vs_ndhwc(build_nc, build_nhwc, feeds_nc, feeds):
    # TF's CPU kernels run NDHWC only: compare tfstyle's NCDHW with TF's NDHWC, transposed.
    tf = tf1()
    with tf.Graph().as_default() as g:
        y = build_nhwc(tf)
        with tf.Session(graph=g) as sess:
            want = sess.run(y, {g.get_tensor_by_name(k): v for k, v in feeds.items()})
    with tfs.Graph().as_default() as g:
        y = build_nc(tfs)
        with tfs.Session(graph=g) as sess:
            got = sess.run(y, {g.get_tensor_by_name(k): v for k, v in feeds_nc.items()})
    np.testing.assert_allclose(np.transpose(got, (0, 2, 3, 4, 1)), want, rtol=1e-4, atol=1e-4)


def test_ncdhw():
    x_nc = np.transpose(X5, (0, 4, 1, 2, 3))

    def nc(tf):
        x = tf.placeholder(tf.float32, x_nc.shape, name="xc")
        a = tf.nn.max_pool3d(x, 2, 2, "SAME", data_format="NCDHW")
        b = tf.nn.avg_pool3d(a, [1, 1, 2, 1, 2], [1, 1, 1, 1, 1], "SAME", data_format="NCDHW")
        return tf.nn.conv3d(b, tf.constant(F5), [1, 1, 1, 1, 2], "SAME", data_format="NCDHW")

    def nhwc(tf):
        x = tf.placeholder(tf.float32, X5.shape, name="x")
        a = tf.nn.max_pool3d(x, 2, 2, "SAME")
        b = tf.nn.avg_pool3d(a, [1, 2, 1, 2, 1], [1, 1, 1, 1, 1], "SAME")
        return tf.nn.conv3d(b, tf.constant(F5), [1, 1, 1, 2, 1], "SAME")

    _ncdhw_vs_ndhwc(nc, nhwc, {"xc:0": x_nc}, {"x:0": X5})


def test_gradient_ops_of_tf_graphs():
    """The gradient ops TF writes (MaxPool3DGrad, MaxPool3DGradGrad, AvgPool3DGrad,
    Conv3DBackprop*V2, MaxPoolGradWithArgmax) run in tfstyle as in TF."""

    def build(tf):
        x = _x5(tf)
        x4 = tf.placeholder(tf.float32, X4.shape, name="x4")
        f = tf.placeholder(tf.float32, F5.shape, name="f")
        ys = [
            tf.nn.max_pool3d(x, 2, 2, "SAME"),
            tf.nn.avg_pool3d(x, [1, 2, 3, 2, 1], [1, 1, 2, 1, 1], "VALID"),
            tf.nn.conv3d(x, f, [1, 2, 1, 1, 1], "SAME"),
            tf.nn.max_pool_with_argmax(x4, [1, 2, 3, 1], [1, 2, 2, 1], "SAME")[0],
        ]
        loss = tf.add_n([tf.reduce_sum(y * y) for y in ys])
        gx, gx4, gf = tf.gradients(loss, [x, x4, f])
        (ggx,) = tf.gradients(tf.reduce_sum(gx * gx), [x])
        return [gx, gx4, gf, ggx]

    _import_and_compare(build, {"x:0": X5, "x4:0": X4, "f:0": F5}, (
        "MaxPool3DGrad", "MaxPool3DGradGrad", "AvgPool3DGrad", "Conv3DBackpropInputV2",
        "Conv3DBackpropFilterV2", "MaxPoolGradWithArgmax",
    ))  # fmt: skip


def _second_order(tf, strides):
    x4 = tf.placeholder(tf.float32, X4.shape, name="x4")
    (gp,) = tf.gradients(tf.reduce_sum(tf.nn.max_pool(x4, 2, strides, "SAME") ** 2), [x4])
    return tf.gradients(tf.reduce_sum(gp * gp), [x4])


def test_max_pool_grad_grad_of_tf_graphs():
    _import_and_compare(
        lambda tf: _second_order(tf, 2), {"x4:0": X4}, ("MaxPoolGrad", "MaxPoolGradGrad")
    )


def test_max_pool_grad_grad_overlapping_windows():
    # With overlapping windows TF's CPU kernels give another value than the analytic one:
    # gp = 2 * x * c (c: how many windows take x as their maximum), d sum(gp^2) = 8 x c^2.
    xp = np.pad(X4, ((0, 0), (0, 1), (0, 1), (0, 0)), constant_values=-np.inf)
    c = np.zeros_like(X4)
    for b, i, j, ch in np.ndindex(2, 5, 7, 3):
        di, dj = divmod(int(np.argmax(xp[b, i : i + 2, j : j + 2, ch])), 2)
        c[b, i + di, j + dj, ch] += 1
    with tf1().Graph().as_default() as g:
        (out,) = _second_order(tf1(), 1)
        graph_def = g.as_graph_def()
    with tfs.Graph().as_default():
        tfs.import_graph_def(graph_def, name="")
        with tfs.Session() as sess:
            got = sess.run(out.name, {"x4:0": X4})
    np.testing.assert_allclose(got, 8 * X4 * c**2, rtol=1e-5, atol=1e-5)


def _import_and_compare(build, feeds, want_types):
    tf = tf1()
    with tf.Graph().as_default() as g:
        outs = build(tf)
        types = {op.type for op in g.get_operations()}
        # Grappler's rewrites change TF's own second-order max-pool gradient (it agrees with
        # tfstyle when the intermediate tensors are fetched): compare the graph as written.
        config = tf.ConfigProto()
        config.graph_options.rewrite_options.disable_meta_optimizer = True
        config.graph_options.optimizer_options.opt_level = tf.OptimizerOptions.L0
        config.graph_options.optimizer_options.do_common_subexpression_elimination = False
        config.graph_options.optimizer_options.do_constant_folding = False
        with tf.Session(graph=g, config=config) as sess:
            want = sess.run(outs, {g.get_tensor_by_name(k): v for k, v in feeds.items()})
        graph_def = g.as_graph_def()
    for t in want_types:
        assert t in types
    with tfs.Graph().as_default() as g:
        tfs.import_graph_def(graph_def, name="")
        names = [t.name for t in outs]
        with tfs.Session(graph=g) as sess:
            got = sess.run(names, {k: v for k, v in feeds.items()})
    for w, a, n in zip(want, got, names):
        np.testing.assert_allclose(a, w, rtol=1e-4, atol=1e-4, err_msg=n)


@pytest.mark.parametrize("include_batch", [False, True])
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_max_pool_with_argmax(include_batch, padding):
    x = np.round(X4 * 2) / 2  # ties

    def build(tf):
        xt = tf.placeholder(tf.float32, X4.shape, name="x")
        return list(
            tf.nn.max_pool_with_argmax(
                xt, [1, 3, 2, 1], [1, 2, 2, 1], padding, include_batch_in_index=include_batch
            )
        )

    check(build, {"x:0": x}, grad=True)


def test_max_pool_with_argmax_int32_index():
    def build(tf):
        xt = tf.placeholder(tf.float32, X4.shape, name="x")
        return list(tf.nn.max_pool_with_argmax(xt, [1, 2, 2, 1], [1, 2, 2, 1], "SAME",
                                               Targmax=tf.int32))  # fmt: skip

    # TF's CPU kernel of the gradient (MaxPoolGradWithArgmax) takes int64 indices only.
    check(build, {"x:0": X4})


@pytest.mark.parametrize(
    ("window", "kind", "padding", "dilation", "strides", "x"),
    [
        ([2, 2], "MAX", "SAME", None, [2, 2], X4),
        ([3, 2], "AVG", "VALID", None, [1, 2], X4),
        ([2, 2], "MAX", "VALID", [2, 3], None, X4),
        ([2, 3], "AVG", "VALID", [2, 2], None, X4),
        ([2, 2, 2], "MAX", "VALID", [2, 2, 2], None, X5),
        ([2, 2, 2], "AVG", "SAME", None, [2, 1, 2], X5),
        ([3], "MAX", "SAME", None, [2], X4[:, 0]),
        ([2], "AVG", "VALID", [3], None, X4[:, 0]),
    ],
)
def test_pool(window, kind, padding, dilation, strides, x):
    def build(tf):
        xt = tf.placeholder(tf.float32, x.shape, name="x")
        return tf.nn.pool(xt, window, kind, padding, dilation_rate=dilation, strides=strides)

    check(build, {"x:0": x}, grad=True)


def test_pool_errors():
    for kwargs in (
        {"dilation_rate": [2, 2], "padding": "SAME"},
        {"dilation_rate": [2, 2], "strides": [2, 2], "padding": "VALID"},
        {"strides": [3, 1], "padding": "VALID"},
    ):
        for tf in (tf1(), tfs):
            with tf.Graph().as_default():
                x = tf.placeholder(tf.float32, X4.shape)
                with pytest.raises(ValueError):
                    tf.nn.pool(x, [2, 2], "MAX", **kwargs)


@pytest.mark.parametrize("keep_dims", [False, True])
def test_weighted_moments(keep_dims):
    w = RNG.uniform(0, 2, (2, 5, 7, 1)).astype(np.float32)

    def build(tf):
        xt = tf.placeholder(tf.float32, X4.shape, name="x")
        wt = tf.placeholder(tf.float32, w.shape, name="w")
        return list(tf.nn.weighted_moments(xt, [1, 2], wt, keep_dims=keep_dims))

    check(build, {"x:0": X4, "w:0": w}, grad=True, rtol=1e-5, atol=1e-5)


def test_weighted_moments_zero_weights():
    def build(tf):
        xt = tf.placeholder(tf.float32, X4.shape, name="x")
        return list(tf.nn.weighted_moments(xt, [0], tf.zeros([1, 5, 7, 3])))

    check(build, {"x:0": X4})


# -- tf.layers ------------------------------------------------------------------------------------
def test_conv3d_layers():
    def build(tf):
        x = tf.placeholder(tf.float32, [None, 5, 6, 4, 3], name="x")
        return [
            tf.layers.conv3d(x, 4, 3),
            tf.layers.conv3d(x, 2, (3, 2, 1), strides=2, padding="same", activation=tf.nn.relu),
            tf.layers.conv3d(x, 2, 2, padding="same", use_bias=False),
            tf.layers.Conv3D(3, 1, name="pointwise")(x),
            tf.layers.conv3d_transpose(x, 2, 3, strides=2, padding="same"),
            tf.layers.conv3d_transpose(x, 3, (2, 3, 2), strides=(2, 1, 3)),
            tf.layers.Conv3DTranspose(2, 2, name="up")(x),
        ]

    layer_check(build, {"x:0": X5[:, :, :, :4]}, rtol=1e-4, atol=1e-4)


def test_pooling3d_layers():
    def build(tf):
        x = tf.placeholder(tf.float32, [None, 5, 6, 7, 3], name="x")
        return [
            tf.layers.max_pooling3d(x, 2, 2),
            tf.layers.max_pooling3d(x, (3, 2, 2), (2, 1, 2), padding="same"),
            tf.layers.average_pooling3d(x, 3, 2, padding="SAME"),
            tf.layers.average_pooling3d(x, [2, 3, 1], 1),
            tf.layers.MaxPooling3D(2, 2, name="mp")(x),
            tf.layers.AveragePooling3D(2, 1)(x),
        ]

    layer_check(build, {"x:0": X5})


def test_channels_first_3d_graph():
    # TF's CPU kernels run NDHWC only: the graphs (names, shapes, variables) are compared, and
    # the pooling layers (transposed to channels-last, as TF's) by value too.
    def build(tf):
        x = tf.placeholder(tf.float32, [None, 3, 5, 6, 4], name="x")
        return [
            tf.layers.conv3d(x, 4, 3, data_format="channels_first"),
            tf.layers.conv3d(x, 2, 2, strides=2, padding="same", data_format="channels_first"),
            tf.layers.conv3d_transpose(x, 2, 3, strides=2, data_format="channels_first"),
            tf.layers.max_pooling3d(x, 2, 2, data_format="channels_first"),
            tf.layers.average_pooling3d(x, 3, 1, "same", data_format="channels_first"),
        ]

    assert _static(tfs, build) == _static(tf1(), build)

    def pools(tf):
        x = tf.placeholder(tf.float32, [None, 3, 5, 6, 7], name="x")
        return [
            tf.layers.max_pooling3d(x, 2, 2, data_format="channels_first"),
            tf.layers.average_pooling3d(x, 3, 1, "same", data_format="channels_first"),
        ]

    layer_check(pools, {"x:0": np.transpose(X5, (0, 4, 1, 2, 3))})


def test_exported_graph_runs_in_tf():
    """tfstyle's GraphDef of these ops (attrs as TF's op defs name them) imports and runs in TF."""
    with tfs.Graph().as_default() as g:
        x = tfs.placeholder(tfs.float32, X5.shape, name="x")
        x4 = tfs.placeholder(tfs.float32, X4.shape, name="x4")
        outs = [
            tfs.nn.max_pool3d(x, 2, 2, "SAME"),
            tfs.nn.avg_pool3d(x, 2, 1, "VALID"),
            tfs.nn.conv3d(x, tfs.constant(F5), [1, 1, 2, 1, 1], "SAME"),
            tfs.nn.conv3d_transpose(
                x, tfs.ones([2, 2, 2, 4, 3]), [2, 10, 12, 14, 4], [1, 2, 2, 2, 1]
            ),
            tfs.nn.conv3d_backprop_filter_v2(x, [2, 2, 2, 3, 3], x, [1, 1, 1, 1, 1], "SAME"),
            *tfs.nn.max_pool_with_argmax(x4, [1, 2, 2, 1], [1, 2, 2, 1], "SAME"),
            tfs.nn.pool(x, [2, 2, 2], "MAX", "VALID", dilation_rate=[2, 2, 2]),
        ]
        names = [t.name for t in outs]
        with tfs.Session() as sess:
            got = sess.run(names, {"x:0": X5, "x4:0": X4})
        serialized = g.as_graph_def().SerializeToString()
    tf = tf1()
    graph_def = tf.GraphDef()
    graph_def.ParseFromString(serialized)
    with tf.Graph().as_default():
        tf.import_graph_def(graph_def, name="")
        with tf.Session() as sess:
            want = sess.run(names, {"x:0": X5, "x4:0": X4})
    for n, a, w in zip(names, got, want):
        assert a.dtype == w.dtype, n
        np.testing.assert_allclose(a, w, rtol=1e-4, atol=1e-4, err_msg=n)


@pytest.mark.parametrize("strides", [None, [1, 2, 1]])
def test_convolution_3d(strides):
    def build(tf):
        x = _x5(tf)
        f = tf.placeholder(tf.float32, F5.shape, name="f")
        return tf.nn.convolution(x, f, "SAME", strides=strides)

    check(build, {"x:0": X5, "f:0": F5}, grad=True, rtol=1e-4, atol=1e-4)


def test_convolution_3d_dilated_values():
    # TF wraps the dilated convolution in SpaceToBatchND/BatchToSpaceND; tfstyle passes the
    # dilations to Conv3D: same values, other op names.
    def build(tf):
        x = _x5(tf)
        f = tf.placeholder(tf.float32, F5.shape, name="f")
        return tf.nn.convolution(x, f, "VALID", dilation_rate=[2, 1, 2])

    check(build, {"x:0": X5, "f:0": F5}, grad=True, rtol=1e-4, atol=1e-4, names=False)


@pytest.mark.parametrize("kind", ["MAX", "AVG"])
def test_pool_dilated_channels_first(kind):
    # TF's CPU kernels pool channels-last only: the NC* result of tfstyle, transposed, against
    # TF's channels-last one.
    for x, fmt, window, rate in (
        (X4, "NCHW", [2, 2], [2, 3]),
        (X5, "NCDHW", [2, 2, 2], [2, 1, 2]),
        (X4[:, 0], "NCW", [2], [3]),
    ):
        to_nc = (0, x.ndim - 1, *range(1, x.ndim - 1))
        to_nhwc = (0, *range(2, x.ndim), 1)
        with tfs.Graph().as_default():
            xt = tfs.constant(np.transpose(x, to_nc))
            y = tfs.nn.pool(xt, window, kind, "VALID", dilation_rate=rate, data_format=fmt)
            with tfs.Session() as sess:
                got = np.transpose(sess.run(y), to_nhwc)
        tf = tf1()
        with tf.Graph().as_default():
            y = tf.nn.pool(tf.constant(x), window, kind, "VALID", dilation_rate=rate)
            with tf.Session() as sess:
                want = sess.run(y)
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6, err_msg=fmt)


def test_pool_v2_by_rank():
    def build(tf):
        x = _x5(tf)
        x4 = tf.placeholder(tf.float32, X4.shape, name="x4")
        return [
            tf.nn.max_pool_v2(x, 2, 2, "SAME"),
            tf.nn.avg_pool_v2(x, [2, 1, 2], 1, "VALID"),
            tf.nn.max_pool_v2(x4, 2, 1, "SAME"),
            tf.nn.avg_pool_v2(x4, 3, 2, "SAME"),
            tf.nn.max_pool_v2(x4[:, 0], 2, 2, "VALID"),
            tf.nn.avg_pool_v2(x4[:, 0], 2, 1, "SAME", name="a1"),
        ]

    check(build, {"x:0": X5, "x4:0": X4}, grad=True)


def test_conv3d_backprop_filter():
    dy = RNG.standard_normal((2, 5, 3, 7, 4)).astype(np.float32)

    def build(tf):
        x = _x5(tf)
        d = tf.placeholder(tf.float32, dy.shape, name="dy")
        return [
            tf.nn.conv3d_backprop_filter(x, [2, 3, 2, 3, 4], d, [1, 1, 2, 1, 1], "SAME"),
            tf.nn.conv3d_backprop_filter_v2(x, [2, 3, 2, 3, 4], d, [1, 1, 2, 1, 1], "SAME"),
        ]

    check(build, {"x:0": X5, "dy:0": dy}, grad=True, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("known", [True, False])
@pytest.mark.parametrize("shift", [None, 0.5])
def test_sufficient_statistics_and_normalize_moments(known, shift):
    def build(tf):
        x = tf.placeholder(tf.float32, X4.shape if known else [None, 5, None, 3], name="x")
        counts, m_ss, v_ss, s = tf.nn.sufficient_statistics(x, [0, 2], shift=shift)
        mean, var = tf.nn.normalize_moments(counts, m_ss, v_ss, s)
        kept = tf.nn.sufficient_statistics(x, [-1], keep_dims=True)[:3]
        return [counts, m_ss, v_ss, mean, var, *kept]

    check(build, {"x:0": X4}, grad=True, rtol=1e-5, atol=1e-5)
