"""tf.math's aliases, special functions and composites (erfinv, igamma, bincount,
confusion_matrix, reduce_variance, ...) against TF: names, shapes, dtypes, values, gradients."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.op_check import check, check_raises
from tests.oracle import tf1

P = np.array([[0.1, 0.5, 0.9], [0.3, 0.7, 0.2]], np.float32)
X = np.array([[-2.5, -1.5, 0.0], [1.5, 2.5, 3.7]], np.float32)
FEEDS = {"p:0": P, "x:0": X}


def _px(tf):
    return (
        tf.placeholder(tf.float32, [None, 3], name="p"),
        tf.placeholder(tf.float32, [None, 3], name="x"),
    )


def test_aliases_are_the_same_functions():
    m = tfs.math
    assert m.softmax is tfs.nn.softmax
    assert m.log_softmax is tfs.nn.log_softmax
    assert m.top_k is tfs.nn.top_k
    assert m.in_top_k is tfs.nn.in_top_k
    assert m.l2_normalize is tfs.nn.l2_normalize
    assert m.segment_sum is tfs.segment_sum
    assert m.unsorted_segment_max is tfs.unsorted_segment_max
    assert m.confusion_matrix is tfs.confusion_matrix
    assert m.bincount is tfs.bincount


def test_aliases_against_tf():
    def build(tf):
        p, x = _px(tf)
        m = tf.math
        ids = tf.constant([0, 0])
        return [
            m.softmax(x),
            m.log_softmax(x, axis=0),
            m.softplus(x),
            m.softsign(x),
            m.top_k(x, 2).values,
            m.in_top_k(x, [1, 2], 1),
            m.l2_normalize(x, 1),
            m.segment_sum(x, ids),
            m.segment_mean(x, ids),
            m.unsorted_segment_sum(x, [1, 0], 3),
            m.unsorted_segment_prod(x, [1, 1], 2),
        ]

    check(build, FEEDS, grad=True)


def test_special_functions_values_and_gradients():
    def build(tf):
        p, x = _px(tf)
        m = tf.math
        a = p + 1.0
        return [
            m.erfinv(p),
            m.ndtri(p),
            m.erfcinv(p),
            m.xlog1py(x, p),
            m.lbeta(a),
            m.igamma(a, p),
            m.igammac(a, p),
            m.betainc(a, a + 1, p),
            m.log_sigmoid(x),
            m.multiply_no_nan(x, p),
            m.reciprocal_no_nan(x),
            m.cumulative_logsumexp(x, 1),
            m.cumulative_logsumexp(x, 1, exclusive=True),
            m.cumulative_logsumexp(x, 0, reverse=True),
            m.bessel_i0(x),
            m.bessel_i0e(x),
            m.bessel_i1(x),
            m.bessel_i1e(x),
            m.reduce_euclidean_norm(x, 1),
            m.reduce_euclidean_norm(x),
            m.reduce_variance(x, 1),
            m.reduce_variance(x),
            m.reduce_std(x, 0, keepdims=True),
            m.polyval([1.0, 2.0, 3.0], x),
        ]

    check(build, FEEDS, grad=True, rtol=2e-4, atol=1e-5)


def test_non_differentiable_special_functions():
    def build(tf):
        p, x = _px(tf)
        m = tf.math
        a = p + 1.5
        return [
            m.zeta(a, p + 1),
            m.polygamma(tf.constant([[0.0, 1.0, 2.0]]), a),
            m.nextafter(x, tf.zeros_like(x)),
            m.nextafter(tf.constant([1.0, 2.0], tf.float64), 3.0),
            m.zero_fraction(x),
            m.zero_fraction(tf.constant([0, 1, 0, 0])),
            m.invert_permutation(tf.constant([2, 0, 1])),
            m.invert_permutation(tf.constant([1, 0], tf.int64)),
            m.is_non_decreasing(x),
            m.is_non_decreasing([1, 1, 2]),
            m.is_strictly_increasing([1, 1, 2]),
            m.is_strictly_increasing(tf.constant([[1.0, 2.0], [3.0, 4.0]])),
            m.is_strictly_increasing([5]),
            m.real(x),
            m.imag(x),
            m.angle(x),
            m.polyval([], x),
            m.multiply_no_nan(tf.constant([np.inf, np.nan, 2.0]), [0.0, 0.0, 3.0]),
        ]

    check(build, FEEDS, rtol=2e-4, atol=1e-5)


def test_unsorted_segment_mean_and_sqrt_n():
    def build(tf):
        p, x = _px(tf)
        m = tf.math
        return [
            m.unsorted_segment_mean(x, [0, 2], 3),
            m.unsorted_segment_sqrt_n(x, [1, 1], 3),
            tf.unsorted_segment_mean(tf.constant([1.0, 2.0, 4.0]), [0, 0, 1], 2),
            m.unsorted_segment_sqrt_n(tf.constant([[1.0, 2.0], [3.0, 4.0]]), [[0, 1], [1, 1]], 2),
        ]

    check(build, FEEDS, grad=True)


def test_confusion_matrix():
    def build(tf):
        lab = tf.placeholder(tf.int32, [None], name="lab")
        pred = tf.placeholder(tf.int32, [None], name="pred")
        return [
            tf.confusion_matrix([0, 1, 2], [0, 2, 2]),
            tf.math.confusion_matrix(lab, pred, num_classes=4),
            tf.confusion_matrix(
                lab, pred, num_classes=3, weights=[1.0, 2.0, 3.0, 4.0], dtype=tf.float32
            ),
            tf.confusion_matrix(lab, pred, 5, name="cm"),
        ]

    check(build, {"lab:0": np.array([0, 1, 2, 2], np.int32), "pred:0": np.array([0, 2, 2, 1])})


def test_confusion_matrix_out_of_range_raises():
    def build(tf):
        lab = tf.placeholder(tf.int32, [None], name="lab")
        return tf.confusion_matrix(lab, [0, 1], num_classes=2)

    check_raises(build, {"lab:0": np.array([0, 2], np.int32)})


def test_bincount():
    def build(tf):
        return [
            tf.bincount(tf.constant([1, 2, 2])),
            tf.math.bincount(tf.constant([[1, 4], [2, 2]]), minlength=6),
            tf.bincount(tf.constant([1, 2, 2]), weights=[1.0, 2.0, 3.0], minlength=5),
            tf.bincount(tf.constant([1, 2, 5]), maxlength=3),
            tf.bincount(tf.constant([3]), dtype=tf.float64),
        ]

    check(build)


def test_bincount_fed_with_minlength_and_maxlength():
    def build(tf):
        a = tf.placeholder(tf.int32, [None], name="a")
        return tf.bincount(a, minlength=4, maxlength=4)

    check(build, {"a:0": np.array([0, 3, 3, 7], np.int32)}, names=False)


def test_bincount_negative_raises():
    def build(tf):
        a = tf.placeholder(tf.int32, [None], name="a")
        return tf.bincount(a, minlength=3, maxlength=3)

    check_raises(build, {"a:0": np.array([0, -1], np.int32)})


@pytest.mark.parametrize(
    "fn",
    [
        lambda tf: tf.math.erfinv(tf.constant([1, 2])),
        lambda tf: tf.math.igamma(tf.constant([1.0]), tf.constant([1.0], tf.float64)),
        lambda tf: tf.math.reduce_variance(tf.constant([1, 2])),
        lambda tf: tf.math.reduce_std(tf.constant([1, 2])),
        lambda tf: tf.math.invert_permutation(tf.constant([1.0, 0.0])),
        lambda tf: tf.math.is_non_decreasing(tf.constant(["a"])),
        lambda tf: tf.math.cumulative_logsumexp(tf.constant([1, 2])),
        lambda tf: tf.math.multiply_no_nan(tf.constant([1, 2]), 1),
        lambda tf: tf.math.polyval(1.0, 2.0),
        lambda tf: tf.math.invert_permutation(tf.constant([[1, 0]])),
        lambda tf: tf.math.betainc(tf.constant([1.0, 2.0]), tf.constant([1.0, 2.0, 3.0]), 1.0),
    ],
)
def test_bad_arguments_raise_tf_errors(fn):
    errs = []
    for tf in (tf1(), tfs):
        with tf.Graph().as_default():
            with pytest.raises(Exception) as info:
                fn(tf)
            errs.append(info.value)
    assert type(errs[1]) is type(errs[0]), errs
    assert str(errs[1]) == str(errs[0]), errs


def test_op_types_match_tf():
    def types(tf, fn):
        g = tf.Graph()
        with g.as_default():
            x = tf.placeholder(tf.float32, [None, 3], name="x")
            fn(tf, x)
        return sorted(n.op for n in g.as_graph_def().node)

    cases = [
        lambda tf, x: tf.math.erfinv(x),
        lambda tf, x: tf.math.multiply_no_nan(x, x),
        lambda tf, x: tf.math.reduce_euclidean_norm(x, 1),
        lambda tf, x: tf.math.cumulative_logsumexp(x, 1),
        lambda tf, x: tf.math.bessel_i1e(x),
        lambda tf, x: tf.math.lbeta(x),
        lambda tf, x: tf.math.reduce_variance(x, 1),
        lambda tf, x: tf.math.betainc(x, x, x),
        lambda tf, x: tf.math.nextafter(x, x),
        lambda tf, x: tf.math.log_sigmoid(x),
        lambda tf, x: tf.math.reciprocal_no_nan(x),
        lambda tf, x: tf.math.polyval([1.0, 2.0, x], x),
    ]
    for fn in cases:
        assert types(tfs, fn) == types(tf1(), fn)


def test_real_imag_angle_of_complex_tensors():
    def build(tf):
        p, x = _px(tf)
        c = tf.cast(x, tf.complex64) * tf.cast(p, tf.complex64)
        c = c + tf.cast(tf.reverse(x, [1]), tf.complex64) * tf.constant(1j, tf.complex64)
        return [tf.math.real(c), tf.math.imag(c), tf.math.angle(c), tf.real(c, name="r")]

    check(build, FEEDS, names=False, rtol=1e-5, atol=1e-6)


def test_approx_max_k_matches_tf_on_cpu():
    def build(tf):
        # (TF's gradient of ApproxTopK needs a static batch size.)
        x = tf.placeholder(tf.float32, [2, 3], name="x")
        p = tf.placeholder(tf.float32, [2, 3], name="p")
        top = tf.math.approx_max_k(x, 2)
        return [top.values, top.indices, tf.nn.approx_max_k(p, 1, name="a").values]

    check(build, FEEDS, grad=True)


def test_approx_min_k_on_another_axis():
    # TF's CPU kernel takes only is_max_k and the last axis; the exact answer is the oracle.
    with tfs.Graph().as_default():
        x = tfs.placeholder(tfs.float32, [None, 3], name="x")
        low = tfs.math.approx_min_k(x, 1, reduction_dimension=0)
        assert low.values.shape.as_list() == [1, 3]
        assert low.indices.dtype == tfs.int32
        with tfs.Session() as sess:
            values, indices = sess.run(low, {x: X})
    np.testing.assert_array_equal(values, X.min(0, keepdims=True))
    np.testing.assert_array_equal(indices, X.argmin(0)[None])


def _graph_of_new_ops(tf):
    x = tf.placeholder(tf.float32, [2, 3], name="x")
    return [
        tf.math.erfinv(x * 0.5),
        tf.math.cumulative_logsumexp(x, 1, exclusive=True),
        tf.math.reduce_euclidean_norm(x, 1),
        tf.math.invert_permutation([2, 0, 1]),
        tf.math.igamma(x * 0 + 2.0, x * 0 + 1.0),
        tf.math.bessel_i1e(x),
        tf.math.real(tf.cast(x, tf.complex64)),
        tf.math.betainc(x * 0 + 1, x * 0 + 2, x * 0 + 0.5),
        tf.math.xlog1py(x, x * x),
        tf.math.ndtri(x * 0 + 0.3),
        tf.math.confusion_matrix([0, 1], [1, 1], num_classes=2),
        tf.bincount(tf.constant([1, 2, 2]), minlength=4),
        tf.math.multiply_no_nan(x, x),
        tf.math.nextafter(x, x * 0),
        tf.math.zeta(x * 0 + 2.0, x * 0 + 1.0),
        tf.math.polygamma(x * 0 + 1.0, x * 0 + 1.0),
        tf.math.approx_max_k(x, 2).values,
        tf.nn.all_candidate_sampler(tf.constant([[1]], tf.int64), 1, 3, True).sampled_candidates,
    ]


@pytest.mark.parametrize("writer", ["tf", "tfstyle"])
def test_graph_defs_of_the_new_ops_run_in_the_other(writer):
    X2 = np.array([[0.1, 0.5, -0.3], [0.2, -0.9, 0.4]], np.float32)
    src, dst = (tf1(), tfs) if writer == "tf" else (tfs, tf1())
    with src.Graph().as_default() as g:
        outs = _graph_of_new_ops(src)
        names = [t.name for t in outs]
        with src.Session() as sess:
            want = sess.run(outs, {"x:0": X2})
        data = g.as_graph_def().SerializeToString()
    with dst.Graph().as_default():
        gd = dst.GraphDef()
        gd.ParseFromString(data)
        dst.import_graph_def(gd, name="")
        with dst.Session() as sess:
            got = sess.run(names, {"x:0": X2})
    for n, a, b in zip(names, got, want):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=n)
