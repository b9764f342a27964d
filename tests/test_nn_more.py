"""tf.nn's zero_fraction, compute_average_loss, scale_regularization_loss, conv1d_transpose,
atrous_conv2d_transpose, batch_norm_with_global_normalization, the depthwise backprop ops and
the fixed unigram / all candidate samplers and compute_accidental_hits, against TF."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.op_check import check, check_raises
from tests.oracle import tf1

RNG = np.random.RandomState(7)
X3 = RNG.standard_normal((2, 5, 3)).astype(np.float32)
X4 = RNG.standard_normal((2, 5, 5, 3)).astype(np.float32)
F1 = RNG.standard_normal((3, 4, 3)).astype(np.float32)
F2 = RNG.standard_normal((3, 3, 4, 3)).astype(np.float32)
FEEDS = {"x3:0": X3, "x4:0": X4}


def _xs(tf):
    return (
        tf.placeholder(tf.float32, [2, 5, 3], name="x3"),
        tf.placeholder(tf.float32, [2, 5, 5, 3], name="x4"),
    )


def test_losses_and_zero_fraction():
    def build(tf):
        x3, x4 = _xs(tf)
        per_example = tf.reduce_sum(x3, [1, 2])
        m, v = tf.constant([0.1, 0.2, 0.3]), tf.constant([1.0, 2.0, 0.5])
        beta, gamma = tf.constant([0.0, 1.0, 2.0]), tf.constant([2.0, 1.0, 0.5])
        return [
            tf.nn.zero_fraction(tf.nn.relu(x3)),
            tf.nn.compute_average_loss(per_example),
            tf.nn.compute_average_loss(per_example, sample_weight=[1.0, 2.0], global_batch_size=4),
            tf.nn.scale_regularization_loss(tf.reduce_sum(x4 * x4)),
            tf.nn.batch_norm_with_global_normalization(x4, m, v, beta, gamma, 1e-3, True),
            tf.nn.batch_norm_with_global_normalization(x4, m, v, beta, gamma, 1e-3, False),
        ]

    check(build, FEEDS, grad=True)


def test_compute_average_loss_float_batch_size_raises():
    def build(tf):
        return tf.nn.compute_average_loss(tf.constant([1.0, 2.0]), global_batch_size=2.0)

    check_raises(build)


@pytest.mark.parametrize("stride", [1, 2])
def test_conv1d_transpose(stride):
    def build(tf):
        x3, _ = _xs(tf)
        return [
            tf.nn.conv1d_transpose(x3, tf.constant(F1), [2, 5 * stride, 4], stride),
            tf.nn.conv1d_transpose(
                x3, tf.constant(F1), [2, 5 * stride + 2, 4], stride, padding="VALID", name="c"
            ),
        ]

    check(build, FEEDS, grad=True, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("rate", [1, 2, 3])
@pytest.mark.parametrize("padding", ["SAME", "VALID"])
def test_atrous_conv2d_transpose(rate, padding):
    def build(tf):
        _, x4 = _xs(tf)
        size = 5 if padding == "SAME" else 5 + 2 * rate
        return tf.nn.atrous_conv2d_transpose(x4, tf.constant(F2), [2, size, size, 4], rate, padding)

    check(build, FEEDS, grad=True, rtol=1e-4, atol=1e-4)


def test_depthwise_backprop_ops():
    f = RNG.standard_normal((3, 3, 3, 2)).astype(np.float32)
    dy = RNG.standard_normal((2, 3, 3, 6)).astype(np.float32)

    def build(tf):
        _, x4 = _xs(tf)
        return [
            tf.nn.depthwise_conv2d_native_backprop_input(
                [2, 5, 5, 3], tf.constant(f), tf.constant(dy), [1, 2, 2, 1], "SAME"
            ),
            tf.nn.depthwise_conv2d_native_backprop_filter(
                x4, [3, 3, 3, 2], tf.constant(dy), [1, 2, 2, 1], "SAME"
            ),
            tf.nn.depthwise_conv2d_backprop_input(
                [2, 5, 5, 3], tf.constant(f), tf.constant(dy), [1, 2, 2, 1], "SAME", name="bi"
            ),
            tf.nn.depthwise_conv2d_backprop_filter(
                x4, [3, 3, 3, 2], tf.constant(dy[:, :2, :2]), [1, 2, 2, 1], "VALID"
            ),
        ]

    check(build, FEEDS, grad=True, rtol=1e-4, atol=1e-4)


def _run_sampler(tf, build, runs=1):
    g = tf.Graph()
    with g.as_default():
        out = build(tf)
        meta = [(t.name, t.dtype.name, t.shape.as_list()) for t in out]
        with tf.Session() as sess:
            return meta, [sess.run(list(out)) for _ in range(runs)]


def test_all_candidate_sampler_and_accidental_hits():
    def build(tf):
        t = tf.constant([[1, 2], [0, 2], [2, 2]], tf.int64)
        a = tf.nn.all_candidate_sampler(t, 2, 5, True)
        h = tf.nn.compute_accidental_hits(t, tf.constant([2, 0, 1, 4, 2], tf.int64), 2)
        return list(a) + list(h)

    e_meta, e_vals = _run_sampler(tf1(), build)
    a_meta, a_vals = _run_sampler(tfs, build)
    assert a_meta == e_meta
    for e, a in zip(e_vals[0], a_vals[0]):
        np.testing.assert_array_equal(a, e)
        assert a.dtype == e.dtype


def test_accidental_hits_of_fed_classes():
    for tf in (tf1(), tfs):
        with tf.Graph().as_default():
            t = tf.placeholder(tf.int64, [None, 1])
            h = tf.nn.compute_accidental_hits(t, tf.constant([3, 1, 3], tf.int64), 1)
            with tf.Session() as sess:
                out = sess.run(h, {t: [[3], [2], [1]]})
        # one position per sampled class: its last one
        np.testing.assert_array_equal(out.indices, [0, 2])
        np.testing.assert_array_equal(out.ids, [2, 1])


@pytest.mark.parametrize("unique", [True, False])
def test_fixed_unigram_sampler_shapes_ranges_and_expected_counts(unique):
    unigrams = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]

    def build(tf):
        t = tf.constant([[1, 2], [0, 4]], tf.int64)
        return tf.nn.fixed_unigram_candidate_sampler(
            t, 2, 3, unique, 8, unigrams=unigrams, distortion=0.5, num_reserved_ids=2, seed=3
        )

    e_meta, e_vals = _run_sampler(tf1(), build)
    a_meta, a_vals = _run_sampler(tfs, build, runs=20)
    assert a_meta == e_meta
    w = np.array([0.0, 0.0] + unigrams) ** 0.5
    p = w / w.sum()
    for sampled, true_count, sampled_count in a_vals:
        assert sampled.dtype == np.int64
        # classes of probability 0 (the reserved ids and unigram 0) are never drawn
        assert np.all(p[sampled] > 0)
        if unique:
            assert len(set(sampled.tolist())) == 3
        else:
            np.testing.assert_allclose(sampled_count, 3 * p[sampled], rtol=1e-5)
            np.testing.assert_allclose(true_count, 3 * p[[[1, 2], [0, 4]]], rtol=1e-5)
    if not unique:
        np.testing.assert_allclose(e_vals[0][1], a_vals[0][1], rtol=1e-5)


def test_fixed_unigram_sampler_from_vocab_file(tmp_path):
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("a,1\nb,0\nc,3\n")

    def build(tf):
        t = tf.constant([[0], [2]], tf.int64)
        return tf.nn.fixed_unigram_candidate_sampler(t, 1, 4, False, 3, vocab_file=str(vocab))

    e_meta, e_vals = _run_sampler(tf1(), build)
    a_meta, a_vals = _run_sampler(tfs, build)
    assert a_meta == e_meta
    np.testing.assert_allclose(a_vals[0][1], e_vals[0][1], rtol=1e-5)
    assert not np.any(a_vals[0][0] == 1)
