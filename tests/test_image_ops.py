"""tf.image resizing against real TF: ResizeBilinear, ResizeNearestNeighbor, ResizeBicubic and
ResizeArea with every align_corners/half_pixel_centers combination TF accepts, up and down,
TF1's resize_images, gradients, and TF's gradient ops (ResizeBilinearGrad, ...) imported from
TF's own graphs."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.op_check import check, check_raises
from tests.oracle import tf1

RNG = np.random.RandomState(5)
X = RNG.randn(2, 5, 7, 3).astype(np.float32)
# Up, down, mixed, to one pixel, unchanged, and odd ratios.
SIZES = [(8, 11), (3, 4), (10, 3), (1, 1), (1, 6), (5, 7), (7, 13), (2, 2)]
FLAGS = [(False, False), (True, False), (False, True)]
TOL = {"rtol": 1e-5, "atol": 2e-5}


def _all_sizes(tf, fn, v, **kw):
    return [fn(v, size, **kw) for size in SIZES]


@pytest.mark.parametrize("align,half", FLAGS)
@pytest.mark.parametrize("method", ["resize_bilinear", "resize_nearest_neighbor", "resize_bicubic"])
def test_resize_values_and_gradients(method, align, half):
    def build(tf):
        v = tf.placeholder(tf.float32, [None, 5, 7, 3], name="x")
        fn = getattr(tf.image, method)
        return _all_sizes(tf, fn, v, align_corners=align, half_pixel_centers=half)

    check(build, {"x:0": X}, grad=True, **TOL)


@pytest.mark.parametrize("align", [False, True])
def test_resize_area(align):
    def build(tf):
        v = tf.placeholder(tf.float32, [None, 5, 7, 3], name="x")
        return _all_sizes(tf, tf.image.resize_area, v, align_corners=align)

    check(build, {"x:0": X}, **TOL)


@pytest.mark.parametrize("dt", ["uint8", "int32", "float64", "float16"])
def test_resize_dtypes(dt):
    x = (RNG.rand(2, 5, 7, 3) * 200).astype(dt)

    def build(tf):
        v = tf.placeholder(dt, [None, 5, 7, 3], name="x")
        return [
            tf.image.resize_bilinear(v, [8, 3]),
            tf.image.resize_nearest_neighbor(v, [8, 3], half_pixel_centers=True, name="nn"),
            tf.image.resize_bicubic(v, [4, 9], align_corners=True),
            tf.image.resize_area(v, [3, 9]),
        ]

    tol = {"rtol": 2e-3, "atol": 2e-2} if dt == "float16" else {"rtol": 1e-5, "atol": 1e-4}
    check(build, {"x:0": x}, **tol)


def test_unknown_sizes_and_size_from_static_shape():
    def build(tf):
        v = tf.placeholder(tf.float32, [None, None, None, 3], name="x")
        w = tf.placeholder(tf.float32, [2, 5, 7, 3], name="w")
        doubled = tf.shape(w)[1:3] * 2
        return [
            tf.image.resize_bilinear(v, [4, 4]),
            tf.image.resize_nearest_neighbor(w, doubled),
            tf.image.resize_bicubic(w, tf.stack([tf.shape(w)[1], 3])),
        ]

    check(build, {"x:0": X, "w:0": X}, grad=True, **TOL)


def test_resize_images_v1():
    x3 = RNG.randn(5, 7, 2).astype(np.float32)
    u8 = (RNG.rand(2, 5, 7, 3) * 255).astype(np.uint8)

    def build(tf):
        v = tf.placeholder(tf.float32, [None, 5, 7, 3], name="x")
        img = tf.placeholder(tf.float32, [5, 7, 2], name="img")
        u = tf.placeholder(tf.uint8, [None, 5, 7, 3], name="u")
        dyn = tf.placeholder(tf.float32, [None, None, None, 3], name="dyn")
        m = tf.image.ResizeMethod
        return [
            tf.image.resize_images(v, [8, 9]),
            tf.image.resize_images(v, [3, 4], method=m.NEAREST_NEIGHBOR, align_corners=True),
            tf.image.resize_images(v, [6, 6], method=m.BICUBIC),
            tf.image.resize_images(v, [4, 4], method="nearest"),
            tf.image.resize_images(img, [10, 3], name="three_d"),
            tf.image.resize_images(u, [4, 4]),
            tf.image.resize_images(u, [4, 4], method=1),
            # The same size: TF returns the images themselves.
            tf.image.resize_images(v, [5, 7]),
            tf.image.resize_images(u, [5, 7], method=2),
            tf.image.resize(v, [2, 9]),
            tf.image.resize_images(v, [10, 10], preserve_aspect_ratio=True),
            tf.image.resize_images(img, [4, 20], preserve_aspect_ratio=True),
            tf.image.resize_images(dyn, [12, 12], preserve_aspect_ratio=True),
            tf.image.resize_images(dyn, tf.shape(v)[1:3]),
        ]

    check(build, {"x:0": X, "img:0": x3, "u:0": u8, "dyn:0": X[:, :3]}, grad=True, **TOL)

    def area(tf):
        # TF has no gradient for ResizeArea: values only.
        v = tf.placeholder(tf.float32, [None, 5, 7, 3], name="x")
        m = tf.image.ResizeMethod
        return [
            tf.image.resize_images(v, [3, 3], method=m.AREA),
            tf.image.resize_images(v[0], [9, 2], method="area", align_corners=True),
        ]

    check(area, {"x:0": X}, **TOL)


def _ph(tf, shape, dt="float32"):
    return tf.placeholder(dt, shape, name="p")


@pytest.mark.parametrize(
    "build",
    [
        lambda tf: tf.image.resize_bilinear(_ph(tf, [4, 6, 3]), [2, 2]),
        lambda tf: tf.image.resize_bilinear(_ph(tf, [1, 4, 6, 3]), [2, 2, 3]),
        lambda tf: tf.image.resize_bilinear(_ph(tf, [1, 4, 6, 3], "string"), [2, 2]),
        lambda tf: tf.image.resize_nearest_neighbor(_ph(tf, [1, 4, 6, 3], "bool"), [2, 2]),
        lambda tf: tf.image.resize_images(_ph(tf, [4, 6]), [2, 2]),
        lambda tf: tf.image.resize_images(_ph(tf, None), [2, 2]),
        lambda tf: tf.image.resize_images(_ph(tf, [1, 4, 6, 1]), [2, 2], method=7),
        lambda tf: tf.image.resize_images(_ph(tf, [1, 4, 6, 1]), [2, 2, 2]),
    ],
)
def test_construction_errors_as_in_tf(build):
    exp, act = check_raises(build)
    assert str(act).split(" for ")[0] == str(exp).split(" for ")[0]


_BOTH = "If half_pixel_centers is True, align_corners must be False."


@pytest.mark.parametrize(
    "build, message",
    [
        (
            lambda tf: tf.image.resize_bilinear(
                _ph(tf, [1, 4, 6, 1]), [3, 3], align_corners=True, half_pixel_centers=True
            ),
            _BOTH,
        ),
        (
            lambda tf: tf.image.resize_nearest_neighbor(
                _ph(tf, [1, 4, 6, 1]), [3, 3], align_corners=True, half_pixel_centers=True
            ),
            _BOTH,
        ),
        (
            lambda tf: tf.image.resize_bilinear(_ph(tf, [1, 4, 6, 1]), [0, 3]),
            "output dimensions must be positive",
        ),
    ],
)
def test_run_errors_as_in_tf(build, message):
    exp, act = check_raises(build, {"p:0": np.zeros([1, 4, 6, 1], np.float32)})
    assert message in str(exp) and message in str(act)


def test_tf_gradient_ops_import_and_compute_tf_values():
    """``ResizeBilinearGrad``, ``ResizeNearestNeighborGrad`` and ``ResizeBicubicGrad`` as TF's
    ``tf.gradients`` writes them, in a GraphDef imported into tfstyle."""
    tf = tf1()
    dt64 = RNG.randn(2, 5, 7, 3)
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [None, 5, 7, 3], name="x")
        x64 = tf.placeholder(tf.float64, [None, 5, 7, 3], name="x64")
        w = tf.constant(RNG.randn(8, 11, 3).astype(np.float32))
        outs = []
        for align, half in FLAGS:
            kw = {"align_corners": align, "half_pixel_centers": half}
            outs += [
                tf.image.resize_bilinear(x, [8, 11], **kw),
                tf.image.resize_nearest_neighbor(x, [8, 11], **kw),
                tf.image.resize_bicubic(x, [8, 11], **kw),
                tf.image.resize_bilinear(x, [3, 4], **kw),
                tf.image.resize_nearest_neighbor(x, [3, 2], **kw),
            ]
        loss = tf.add_n([tf.reduce_sum(o * w[: o.shape[1], : o.shape[2]]) for o in outs])
        loss64 = tf.reduce_sum(tf.image.resize_bilinear(x64, [9, 4]) ** 2)
        grads = tf.gradients(loss, x) + tf.gradients(loss64, x64)
        names = [t.name for t in grads]
        gd = g.as_graph_def()
        feed = {"x:0": X, "x64:0": dt64}
        with tf.Session() as sess:
            expected = sess.run(names, feed)
    kinds = {n.op for n in gd.node}
    assert {"ResizeBilinearGrad", "ResizeNearestNeighborGrad", "ResizeBicubicGrad"} <= kinds
    with tfs.Graph().as_default() as ours:
        tfs.import_graph_def(gd, name="")
        for name in names:
            t, e = ours.get_tensor_by_name(name), g.get_tensor_by_name(name)
            assert t.shape.as_list() == e.shape.as_list() and t.dtype.name == e.dtype.name
        with tfs.Session() as sess:
            actual = sess.run(names, feed)
    for e, a in zip(expected, actual):
        assert a.dtype == e.dtype
        np.testing.assert_allclose(a, e, rtol=1e-4, atol=1e-4)


def test_tfstyle_resize_graph_runs_in_tf():
    tf = tf1()
    g = tfs.Graph()
    with g.as_default():
        x = tfs.placeholder(tfs.float32, [None, 5, 7, 3], name="x")
        outs = [
            tfs.image.resize_bilinear(x, [8, 3], half_pixel_centers=True),
            tfs.image.resize_nearest_neighbor(x, [8, 3], align_corners=True),
            tfs.image.resize_bicubic(x, [4, 9]),
            tfs.image.resize_area(x, [4, 9]),
            tfs.image.resize_images(x[0], [2, 3]),
            tfs.space_to_batch_nd(x, [2, 2], [[1, 0], [0, 1]]),
            tfs.depth_to_space(tfs.space_to_depth(x[:, :4, :6], 2), 2),
            tfs.batch_to_space(tfs.space_to_batch(x, [[1, 0], [1, 0]], 2), [[1, 0], [1, 0]], 2),
        ]
        names = [t.name for t in outs]
        with tfs.Session() as sess:
            expected = sess.run(names, {"x:0": X})
    tf1()
    from tensorflow.core.framework import graph_pb2

    gd = graph_pb2.GraphDef.FromString(g.as_graph_def().SerializeToString())
    with tf.Graph().as_default():
        tf.import_graph_def(gd, name="")
        with tf.Session() as sess:
            actual = sess.run(names, {"x:0": X})
    for e, a in zip(expected, actual):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=2e-5)
