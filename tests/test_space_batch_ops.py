"""SpaceToBatchND, BatchToSpaceND, SpaceToDepth and DepthToSpace against real TF: values, names,
static shapes, dtypes, gradients and TF's shape errors."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.op_check import check, check_raises
from tests.oracle import tf1

RNG = np.random.RandomState(3)


@pytest.mark.parametrize("dt", ["float32", "float64", "int32"])
def test_space_to_batch_nd_and_back(dt):
    x4 = (RNG.randn(2, 4, 6, 3) * 10).astype(dt)
    x3 = (RNG.randn(3, 5, 2) * 10).astype(dt)
    x5 = (RNG.randn(1, 4, 3, 2, 2) * 10).astype(dt)

    def build(tf):
        a = tf.placeholder(dt, [None, 4, 6, 3], name="a")
        b = tf.placeholder(dt, [3, 5, 2], name="b")
        c = tf.placeholder(dt, [None, 4, 3, 2, 2], name="c")
        s1 = tf.space_to_batch_nd(a, [2, 2], [[0, 0], [1, 1]])
        s2 = tf.space_to_batch_nd(a, [2, 3], [[2, 0], [0, 0]], name="s2b")
        s3 = tf.space_to_batch_nd(b, [3], [[1, 3]])
        s4 = tf.space_to_batch_nd(c, np.array([2, 1, 2], np.int64), [[0, 0], [1, 2], [1, 1]])
        s5 = tf.space_to_batch_nd(a, [1, 1], [[0, 0], [0, 0]])
        return [
            s1,
            s2,
            s3,
            s4,
            s5,
            tf.batch_to_space_nd(s1, [2, 2], [[0, 0], [1, 1]]),
            tf.batch_to_space_nd(s2, [2, 3], [[1, 1], [0, 2]], name="b2s"),
            tf.batch_to_space_nd(s3, [3], np.array([[0, 2]], np.int64)),
            tf.batch_to_space_nd(s4, np.array([2, 1, 2], np.int64), [[0, 0], [1, 2], [1, 1]]),
            # A batch that is not a multiple of anything in particular: blocks from the batch.
            tf.batch_to_space_nd(a, [2, 1], [[0, 1], [0, 0]]),
        ]

    check(build, {"a:0": x4, "b:0": x3, "c:0": x5}, grad=dt != "int32")


def test_tf1_space_to_batch_and_batch_to_space():
    x = RNG.randn(2, 4, 6, 3).astype(np.float32)

    def build(tf):
        a = tf.placeholder(tf.float32, [None, 4, 6, 3], name="a")
        u = tf.placeholder(tf.float32, None, name="u")
        s = tf.space_to_batch(a, [[0, 2], [1, 1]], 2)
        return [
            s,
            tf.batch_to_space(s, [[0, 2], [1, 1]], 2),
            tf.nn.space_to_batch(a, [[2, 2], [0, 0]], block_size=2, name="nn_s2b"),
            tf.space_to_batch(a[:, :3], [[0, 0], [0, 0]], block_shape=3, name="by_shape"),
            tf.batch_to_space(s, crops=[[0, 0], [0, 0]], block_size=None, block_shape=2),
            # Unknown rank: the v1 functions still give rank 4.
            tf.space_to_batch(u, [[0, 0], [0, 0]], 2),
        ]

    check(build, {"a:0": x, "u:0": x}, grad=True)


def test_unknown_dims_and_values_computed_from_static_shapes():
    x = RNG.randn(2, 4, 6, 3).astype(np.float32)

    def build(tf):
        a = tf.placeholder(tf.float32, [None, None, None, 3], name="a")
        full = tf.placeholder(tf.float32, [2, 4, 6, 3], name="full")
        # paddings computed from the static shape: folded when the graph is compiled.
        pad = tf.stack([[0, tf.shape(full)[1] - 2], [0, 0]])
        return [
            tf.space_to_batch_nd(a, [2, 3], [[0, 0], [0, 0]]),
            tf.batch_to_space_nd(a, [2, 1], [[1, 1], [0, 0]]),
            tf.space_to_batch_nd(full, [3, 2], pad),
        ]

    check(build, {"a:0": x, "full:0": x}, grad=True)

    def depth(tf):
        b = tf.placeholder(tf.float32, [None, None, None, 8], name="b")
        return [tf.space_to_depth(b, 2), tf.depth_to_space(b, 2, name="d2s")]

    check(depth, {"b:0": RNG.randn(3, 4, 6, 8).astype(np.float32)}, grad=True)


def test_fed_block_shape_compiles_per_value_like_tf():
    # The block shape sets the output's shape: the step is compiled for each fed value.
    x = RNG.randn(2, 4, 6, 3).astype(np.float32)
    results = []
    for tf in (tf1(), tfs):
        with tf.Graph().as_default():
            a = tf.placeholder(tf.float32, [None, 4, 6, 3])
            k = tf.placeholder(tf.int32, [2])
            y = tf.space_to_batch_nd(a, k, [[0, 0], [0, 0]])
            assert y.shape.as_list() == [None, None, None, 3]
            with tf.Session() as sess:
                results.append([sess.run(y, {a: x, k: kv}) for kv in ([2, 2], [1, 3], [2, 2])])
    for e, g in zip(*results):
        np.testing.assert_array_equal(g, e)


@pytest.mark.parametrize("dt", ["float32", "float64", "int32", "uint8"])
def test_space_to_depth_and_depth_to_space(dt):
    x = (RNG.rand(2, 4, 6, 8) * 100).astype(dt)

    def build(tf):
        a = tf.placeholder(dt, [None, 4, 6, 8], name="a")
        s = tf.space_to_depth(a, 2)
        return [
            s,
            tf.depth_to_space(s, 2),
            tf.nn.space_to_depth(a[:, :3, :3], 3, name="s3"),
            tf.nn.depth_to_space(a, 2, name="d2"),
            tf.space_to_depth(tf.depth_to_space(a, 2), 4),
        ]

    check(build, {"a:0": x}, grad=dt.startswith("float"))


def test_depth_ops_nchw_match_tf_nhwc():
    # TF's CPU kernels only run NHWC: tfstyle's NCHW result, transposed back, is compared.
    x = RNG.randn(2, 4, 6, 8).astype(np.float32)

    def nchw(tf, fn, v, k):
        if tf is not tfs:
            return fn(v, k)
        y = fn(tf.transpose(v, [0, 3, 1, 2]), k, data_format="NCHW")
        return tf.transpose(y, [0, 2, 3, 1])

    def build(tf):
        a = tf.placeholder(tf.float32, [None, 4, 6, 8], name="a")
        return [nchw(tf, tf.space_to_depth, a, 2), nchw(tf, tf.depth_to_space, a, 2)]

    check(build, {"a:0": x}, grad=True, names=False)
    with tfs.Graph().as_default():
        a = tfs.placeholder(tfs.float32, [None, 8, 4, 6])
        assert tfs.space_to_depth(a, 2, data_format="NCHW").shape.as_list() == [None, 32, 2, 3]
        assert tfs.depth_to_space(a, 2, data_format="NCHW").shape.as_list() == [None, 2, 8, 12]


def _ph(tf, shape, dt="float32"):
    return tf.placeholder(dt, shape)


@pytest.mark.parametrize(
    "build",
    [
        lambda tf: tf.space_to_batch_nd(_ph(tf, [2, 5, 6, 3]), [2, 2], [[0, 0], [0, 0]]),
        lambda tf: tf.space_to_batch_nd(_ph(tf, [2, 4, 6, 3]), [0, 2], [[0, 0], [0, 0]]),
        lambda tf: tf.space_to_batch_nd(_ph(tf, [2, 4, 6, 3]), [2, 2], [[-2, 0], [0, 0]]),
        lambda tf: tf.space_to_batch_nd(_ph(tf, [2, 4]), [2, 2], [[0, 0], [0, 0]]),
        lambda tf: tf.space_to_batch_nd(_ph(tf, [2, 4, 6, 3]), [2, 2], [[0, 0]]),
        lambda tf: tf.space_to_batch_nd(_ph(tf, [2, 4, 6, 3]), [2, 2], [0, 0]),
        lambda tf: tf.space_to_batch_nd(_ph(tf, [2, 4, 6, 3]), [2.0, 2.0], [[0, 0], [0, 0]]),
        lambda tf: tf.batch_to_space_nd(_ph(tf, [3, 4, 6, 3]), [2, 1], [[0, 0], [0, 0]]),
        lambda tf: tf.batch_to_space_nd(_ph(tf, [4, 1, 6, 3]), [2, 2], [[1, 2], [0, 0]]),
        lambda tf: tf.batch_to_space_nd(_ph(tf, [4, 2, 6, 3]), [2, 2], [[0, -1], [0, 0]]),
        lambda tf: tf.space_to_depth(_ph(tf, [2, 5, 6, 3]), 2),
        lambda tf: tf.space_to_depth(_ph(tf, [2, 4, 6, 3]), 1),
        lambda tf: tf.depth_to_space(_ph(tf, [2, 4, 6, 3]), 2),
        lambda tf: tf.depth_to_space(_ph(tf, [4, 6, 12]), 2),
    ],
)
def test_shape_errors_as_in_tf(build):
    exp, act = check_raises(build)
    assert str(act).split(" for ")[0] == str(exp).split(" for ")[0]
