"""Reductions, argmax/argmin and linear algebra against TF: names, static shapes, values."""

import numpy as np
import pytest

from tests.op_check import check, check_raises

rng = np.random.RandomState(0)
X = rng.randn(2, 3).astype(np.float32)
M = rng.randn(2, 3, 4).astype(np.float32)
I = np.array([[[-7, -3, 0, 1], [3, 7, 9, 2], [5, -5, 4, 4]]] * 2, np.int32)
FEEDS = {"x:0": X, "m:0": M, "i:0": I}


def _inputs(tf):
    return (
        tf.placeholder(tf.float32, [None, 3], name="x"),
        tf.placeholder(tf.float32, [2, 3, 4], name="m"),
        tf.placeholder(tf.int32, [2, None, 4], name="i"),
    )


def test_reductions_axes_keepdims_and_names():
    def build(tf):
        x, m, i = _inputs(tf)
        u = tf.placeholder(tf.float32, None, name="u")
        return [
            tf.reduce_sum(x),
            tf.reduce_sum(x, 1),
            tf.reduce_sum(x, axis=[0, 1], keepdims=True),
            tf.reduce_sum(x, reduction_indices=[1], keep_dims=True),
            tf.reduce_sum(x, axis=-1),
            tf.reduce_sum(x, axis=tf.constant([1], tf.int64)),
            tf.reduce_sum(x, axis=[]),
            tf.reduce_sum(u),
            tf.reduce_sum(u, 1),
            tf.reduce_sum(tf.constant(3.0)),
            tf.reduce_sum([1, 2, 3]),
            tf.reduce_mean(m, axis=(0,)),
            tf.reduce_mean(m, axis=None, keepdims=True),
            tf.reduce_mean(i, 1),
            tf.reduce_mean(i),
            tf.reduce_max(i, [0, 2]),
            tf.reduce_min(x, name="mm"),
            tf.reduce_prod(m, 0),
            tf.reduce_any(x > 0, 1),
            tf.reduce_all(m > -1),
            tf.reduce_max(m, -1, keepdims=True),
        ]

    check(build, {**FEEDS, "u:0": M})


def test_reductions_with_axis_from_a_feed_have_unknown_shapes():
    def build(tf):
        x, _, _ = _inputs(tf)
        ax = tf.placeholder(tf.int32, [], name="ax")
        return [tf.reduce_sum(x, axis=ax), tf.reduce_sum(x, axis=ax, keepdims=True)]

    import tfstyle.compat.v1 as tfs

    with tfs.Graph().as_default():
        a, b = build(tfs)
        assert a.shape.ndims is None and b.shape.as_list() == [None, None]
    from tests.oracle import tf1

    with tf1().Graph().as_default():
        a, b = build(tf1())
        assert a.shape.ndims is None and b.shape.as_list() == [None, None]


def test_integer_mean_truncates_toward_zero():
    def build(tf):
        v = tf.placeholder(tf.int32, [None], name="v")
        return [tf.reduce_mean(v), tf.reduce_mean(tf.reshape(v, [2, 2]), 1)]

    check(build, {"v:0": np.array([-1, -2, 3, 4], np.int32)})


def test_logsumexp_and_count_nonzero():
    def build(tf):
        x, m, i = _inputs(tf)
        return [
            tf.reduce_logsumexp(x, 1),
            tf.reduce_logsumexp(x),
            tf.reduce_logsumexp(m, [0, 2], keepdims=True),
            tf.count_nonzero(i),
            tf.count_nonzero(i, 1, dtype=tf.int32),
            tf.count_nonzero(x > 0, keepdims=True),
            tf.count_nonzero(m, axis=[1, 2]),
        ]

    check(build, FEEDS)


def test_argmax_argmin():
    def build(tf):
        x, m, i = _inputs(tf)
        u = tf.placeholder(tf.float32, None, name="u")
        return [
            tf.argmax(x),
            tf.argmax(x, 1),
            tf.argmax(x, axis=1, output_type=tf.int32),
            tf.argmin(i, dimension=2),
            tf.arg_max(m, 1),
            tf.arg_min(x, 1),
            tf.argmax(x, -1),
            tf.argmax(u, 0),
            tf.argmax(x > 0, 1),
            tf.argmax(x, 1, name="am"),
            tf.argmax(tf.constant([3, 1, 4, 1, 5])),
        ]

    check(build, {**FEEDS, "u:0": X})


def test_reduction_gradients():
    def build(tf):
        x, m, _ = _inputs(tf)
        return [
            tf.reduce_sum(x * x, 1),
            tf.reduce_mean(m, [0, 2]),
            tf.reduce_max(x, 0),
            tf.reduce_prod(x, 1),
            tf.reduce_logsumexp(m, 1),
        ]

    check(build, {"x:0": X, "m:0": M}, grad=True)


_REDUCE_ERRORS = [
    lambda tf, x: tf.reduce_sum(x, axis=5),
    lambda tf, x: tf.reduce_sum(x, axis=[[1]]),
    lambda tf, x: tf.reduce_sum(x, axis=[1, 1]),
    lambda tf, x: tf.reduce_sum(x, axis=[0.5]),
    lambda tf, x: tf.reduce_sum(x, axis=1, reduction_indices=1),
    lambda tf, x: tf.reduce_sum(x, keepdims=True, keep_dims=True),
    lambda tf, x: tf.reduce_any(x),
    lambda tf, x: tf.reduce_sum(x > 0),
    lambda tf, x: tf.reduce_max(x > 0),
    lambda tf, x: tf.argmax(x, 2),
    lambda tf, x: tf.matmul(x, tf.ones([4, 2])),
    lambda tf, x: tf.matmul(x, tf.ones([3])),
    lambda tf, x: tf.matmul(tf.ones([2, 3, 4]), tf.ones([3])),
    lambda tf, x: tf.matmul(tf.ones([2, 3, 4]), tf.ones([5, 4, 2])),
    lambda tf, x: tf.matmul(x, tf.ones([3, 2], tf.int32)),
    lambda tf, x: tf.matmul(x, x, transpose_a=True, adjoint_a=True),
    lambda tf, x: tf.matmul(tf.ones([2, 2], tf.bool), tf.ones([2, 2], tf.bool)),
    lambda tf, x: tf.matrix_transpose(tf.ones([3])),
]


@pytest.mark.parametrize("k", range(len(_REDUCE_ERRORS)))
def test_errors_match_tf(k):
    def build(tf):
        return _REDUCE_ERRORS[k](tf, tf.placeholder(tf.float32, [None, 3], name="x"))

    exp, act = check_raises(build, {"x:0": X})
    if "Graph execution error" in str(exp):  # a run-time error: TF's message adds a traceback
        assert str(act).split("\n")[0] in str(exp)
    else:
        assert str(act) == str(exp)


def test_matmul_variants():
    def build(tf):
        x, m, _ = _inputs(tf)
        return [
            tf.matmul(x, tf.ones([3, 2])),
            tf.matmul(x, tf.ones([2, 3]), transpose_b=True),
            tf.matmul(x, x, transpose_a=True),
            tf.matmul(x, x, adjoint_b=True),
            tf.matmul(m, tf.ones([4, 5])),
            tf.matmul(m, m, transpose_b=True),
            tf.matmul(m, m, adjoint_a=True),
            tf.matmul(m, tf.ones([2, 4, 2])),
            tf.matmul(tf.ones([5, 1, 3, 4]), m, transpose_b=True),
            tf.matmul(x, [[1, 2], [3, 4], [5, 6]]),
            tf.matmul(tf.constant([[1, 2], [3, 4]]), tf.constant([[5], [6]])),
            m @ tf.ones([4, 1]),
            x @ tf.ones([3, 3]),
            tf.linalg.matmul(x, tf.ones([3, 2])),
        ]

    check(build, FEEDS, grad=True)


def test_matmul_of_unknown_rank_is_batched():
    def build(tf):
        u = tf.placeholder(tf.float32, None, name="u")
        return [tf.matmul(u, tf.ones([4, 2])), tf.matmul(u, u, transpose_b=True)]

    check(build, {"u:0": M})


def test_tensordot_einsum():
    def build(tf):
        x, m, _ = _inputs(tf)
        return [
            tf.tensordot(m, tf.ones([4, 5]), 1),
            tf.tensordot(m, tf.ones([3, 4, 5]), 2),
            tf.tensordot(m, tf.reshape(tf.range(12.0), [4, 3]), [[1, 2], [1, 0]]),
            tf.tensordot(m, tf.ones([2, 5]), [[0], [0]]),
            tf.tensordot(m, tf.ones([2, 5]), (0, 0)),
            tf.tensordot(tf.ones([3]), tf.range(3.0), 0),
            tf.einsum("ij,jk->ik", x, tf.ones([3, 2])),
            tf.einsum("bij,bjk->bik", m, tf.ones([2, 4, 5])),
            tf.einsum("ii->i", tf.reshape(tf.range(9.0), [3, 3])),
            tf.einsum("ij->", x),
            tf.einsum("...ij->...ji", m),
            tf.einsum("ij,ij->i", x, x),
            tf.einsum("ij,jk", x, tf.ones([3, 2])),
            tf.linalg.einsum("ij->ji", x),
        ]

    check(build, FEEDS, grad=True)


def test_tensordot_with_unknown_dims_keeps_tf_static_shape():
    def build(tf):
        x, _, _ = _inputs(tf)
        return tf.tensordot(x, tf.ones([3, 5]), 1)

    check(build, FEEDS, names=False)


def test_diagonals_trace_eye_transpose():
    def build(tf):
        x, m, _ = _inputs(tf)
        u = tf.placeholder(tf.float32, None, name="u")
        return [
            tf.trace(m),
            tf.trace(x),
            tf.linalg.trace(m),
            tf.eye(3),
            tf.eye(2, 3),
            tf.eye(3, 2, dtype=tf.float64),
            tf.eye(2, batch_shape=[4], dtype=tf.int32),
            tf.diag([1.0, 2.0]),
            tf.diag(tf.ones([2, 2])),
            tf.diag_part(tf.reshape(tf.range(16.0), [4, 4])),
            tf.matrix_diag(x),
            tf.matrix_diag_part(m),
            tf.matrix_set_diag(m, tf.ones([2, 3])),
            tf.matrix_transpose(m),
            tf.matrix_transpose(x),
            tf.matrix_transpose(u),
            tf.linalg.transpose(m),
        ]

    check(build, {**FEEDS, "u:0": M})


def test_norm_and_cross():
    def build(tf):
        x, m, _ = _inputs(tf)
        return [
            tf.norm(x),
            tf.norm(x, axis=1),
            tf.norm(x, ord=1, axis=1),
            tf.norm(x, ord=np.inf, axis=1, keepdims=True),
            tf.norm(m, axis=[1, 2]),
            tf.norm(m, ord=1, axis=[1, 2]),
            tf.norm(x, ord=3, axis=-1),
            tf.cross(x, x[::-1]),
        ]

    check(build, FEEDS)
