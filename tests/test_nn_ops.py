"""tf.nn activations, softmax family, losses, normalisation, top_k, dropout, embeddings and the
sampled losses, checked against real TF (values, names, static shapes, dtypes, gradients)."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.op_check import check, check_raises
from tests.oracle import tf1

RNG = np.random.RandomState(0)
X45 = RNG.randn(4, 5)
P45 = RNG.rand(4, 5)
FLOATS = ("float32", "float64")


def _same_names(build):
    """The output names of ``build`` agree in TF and tfstyle (graphs built, not run)."""
    names = []
    for tf in (tf1(), tfs):
        with tf.Graph().as_default():
            names.append([t.name for t in build(tf)])
    assert names[1] == names[0]


def _x(tf, dt, shape=(None, 5), name="x"):
    return tf.placeholder(dt, shape, name=name)


@pytest.mark.parametrize("dt", FLOATS)
def test_activations_values_names_and_gradients(dt):
    x = X45.astype(dt)
    x[0, :3] = [0.0, 6.0, -0.0]  # the kinks of relu/relu6
    names = "relu relu6 elu selu softplus softsign sigmoid tanh leaky_relu swish crelu"

    def build(tf):
        v = _x(tf, dt)
        outs = [getattr(tf.nn, n)(v) for n in names.split()]
        outs += [tf.nn.relu(v, name="r"), tf.nn.leaky_relu(v, alpha=0.3, name="lr")]
        return outs + [tf.nn.leaky_relu(v, 1.5), tf.nn.silu(v, beta=2.0)]

    check(build, {"x:0": x}, grad=True)


def test_leaky_relu_of_integers_is_float():
    check(lambda tf: tf.nn.leaky_relu(tf.constant([-2, 3])))


@pytest.mark.parametrize("dt", FLOATS)
def test_softmax_and_log_softmax_along_any_axis(dt):
    def build(tf):
        v = _x(tf, dt)
        v3 = _x(tf, dt, (2, None, 5), "x3")
        outs = [tf.nn.softmax(v), tf.nn.log_softmax(v, name="ls"), tf.nn.softmax(v, dim=0)]
        for ax in (0, 1, -1, -2):
            outs += [tf.nn.softmax(v, axis=ax), tf.nn.log_softmax(v, axis=ax)]
        outs += [tf.nn.softmax(v3, axis=1, name="s3"), tf.nn.log_softmax(v3, axis=0)]
        return outs

    feeds = {"x:0": X45.astype(dt), "x3:0": RNG.randn(2, 3, 5).astype(dt)}
    check(build, feeds, grad=True)


def test_softmax_of_large_logits_is_stable():
    x = np.array([[1.0, 2.0, 3.0], [1000.0, 1000.0, 0.0]], np.float32)
    check(lambda tf: [tf.nn.softmax(tf.constant(x)), tf.nn.log_softmax(tf.constant(x))])


def test_softmax_errors():
    check_raises(lambda tf: tf.nn.softmax(tf.placeholder(tf.int32, [None, 3])))
    check_raises(lambda tf: tf.nn.softmax(tf.placeholder(tf.float32, [])))
    check_raises(lambda tf: tf.nn.softmax(tf.placeholder(tf.float32, [2, 3]), axis=5))


@pytest.mark.parametrize("dt", FLOATS)
def test_softmax_cross_entropy_v1_stops_label_gradients_v2_does_not(dt):
    # Labels that do not sum to one: TF's kernel gradient (softmax - labels) is not the exact
    # derivative then, and tfstyle must give TF's.
    def build(tf):
        lab, v = _x(tf, dt, name="l"), _x(tf, dt)
        lab3, v3 = _x(tf, dt, (2, None, 5), "l3"), _x(tf, dt, (2, None, 5), "x3")
        return [
            tf.nn.softmax_cross_entropy_with_logits(labels=lab, logits=v),
            tf.nn.softmax_cross_entropy_with_logits_v2(labels=lab, logits=v, name="xe"),
            tf.nn.softmax_cross_entropy_with_logits_v2(labels=lab, logits=v, axis=0),
            tf.nn.softmax_cross_entropy_with_logits(labels=lab, logits=v, dim=0),
            tf.nn.softmax_cross_entropy_with_logits_v2(labels=lab3, logits=v3),
        ]

    feeds = {
        "x:0": X45.astype(dt),
        "l:0": P45.astype(dt),
        "x3:0": RNG.randn(2, 3, 5).astype(dt),
        "l3:0": RNG.rand(2, 3, 5).astype(dt),
    }
    check(build, feeds, grad=True)
    for fn in ("softmax_cross_entropy_with_logits", "softmax_cross_entropy_with_logits_v2"):
        check(
            lambda tf, fn=fn: getattr(tf.nn, fn)(labels=_x(tf, dt, name="l"), logits=_x(tf, dt)),
            {"x:0": X45.astype(dt), "l:0": P45.astype(dt)},
            grad=True,
        )


def test_softmax_cross_entropy_second_derivative():
    def build(tf):
        v = _x(tf, "float64", (4, 5))
        lab = tf.constant(P45 / P45.sum(1, keepdims=True))
        loss = tf.reduce_sum(tf.nn.softmax_cross_entropy_with_logits_v2(labels=lab, logits=v))
        (g,) = tf.gradients(loss, [v])
        return tf.gradients(tf.reduce_sum(g * g), [v])

    check(build, {"x:0": X45}, names=False)


def test_softmax_cross_entropy_errors_and_int_labels():
    check(
        lambda tf: tf.nn.softmax_cross_entropy_with_logits_v2(
            labels=tf.constant([[0, 1], [1, 0]]), logits=tf.constant([[1.0, 2.0], [3.0, 1.0]])
        )
    )
    check_raises(
        lambda tf: tf.nn.softmax_cross_entropy_with_logits_v2(
            labels=tf.placeholder(tf.float32, [2, 4]), logits=tf.placeholder(tf.float32, [2, 3])
        )
    )


@pytest.mark.parametrize("dt", FLOATS)
def test_sparse_softmax_cross_entropy(dt):
    def build(tf):
        v = _x(tf, dt)
        v3 = _x(tf, dt, (2, None, 5), "x3")
        li = tf.placeholder(tf.int32, [None], name="li")
        l3 = tf.placeholder(tf.int64, [2, None], name="l3")
        return [
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=li, logits=v),
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=li, logits=v, name="sx"),
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=l3, logits=v3),
        ]

    feeds = {
        "x:0": X45.astype(dt),
        "x3:0": RNG.randn(2, 3, 5).astype(dt),
        "li:0": np.array([0, 4, 2, 1], np.int32),
        "l3:0": RNG.randint(0, 5, (2, 3)),
    }
    check(build, feeds, grad=True)


def test_sparse_softmax_cross_entropy_errors():
    def sparse(labels, logits):
        return lambda tf: tf.nn.sparse_softmax_cross_entropy_with_logits(
            labels=tf.placeholder(labels[0], labels[1]), logits=tf.placeholder(*logits)
        )

    check_raises(sparse(("int32", [None, 3]), ("float32", [None, 3])))
    check_raises(sparse(("int32", [2]), ("float32", [3, 3])))
    check_raises(sparse(("float32", [2]), ("float32", [2, 3])))
    check_raises(sparse(("int64", []), ("float32", [])))


@pytest.mark.parametrize("dt", FLOATS)
def test_sigmoid_weighted_and_poisson_losses(dt):
    def build(tf):
        lab, v = _x(tf, dt, name="l"), _x(tf, dt)
        return [
            tf.nn.sigmoid_cross_entropy_with_logits(labels=lab, logits=v),
            tf.nn.sigmoid_cross_entropy_with_logits(labels=lab, logits=v, name="sce"),
            tf.nn.weighted_cross_entropy_with_logits(targets=lab, logits=v, pos_weight=2.5),
            tf.nn.weighted_cross_entropy_with_logits(labels=lab, logits=v, pos_weight=0.5),
            tf.nn.log_poisson_loss(lab, v),
            tf.nn.log_poisson_loss(lab * 3, v, compute_full_loss=True),
        ]

    check(build, {"x:0": X45.astype(dt), "l:0": P45.astype(dt)}, grad=True)


def test_sigmoid_cross_entropy_shape_mismatch():
    check_raises(
        lambda tf: tf.nn.sigmoid_cross_entropy_with_logits(
            labels=tf.placeholder(tf.float32, [2, 4]), logits=tf.placeholder(tf.float32, [2, 3])
        )
    )


@pytest.mark.parametrize("dt", FLOATS)
def test_l2_loss_l2_normalize_bias_add(dt):
    x4 = RNG.randn(2, 3, 4, 5).astype(dt)

    def build(tf):
        v, b = _x(tf, dt), _x(tf, dt, [5], "b")
        v4, b3 = _x(tf, dt, [None, 3, 4, 5], "x4"), _x(tf, dt, [3], "b3")
        return [
            tf.nn.l2_loss(v),
            tf.nn.l2_loss(v, name="l2"),
            tf.nn.l2_normalize(v, axis=1),
            tf.nn.l2_normalize(v, dim=[0, 1], epsilon=1e-3),
            tf.nn.l2_normalize(v * 1e-8, 0, name="tiny"),
            tf.nn.bias_add(v, b),
            tf.nn.bias_add(v4, b, data_format="NHWC"),
            tf.nn.bias_add(v4, b3, data_format="NCHW"),
        ]

    feeds = {"x:0": X45.astype(dt), "b:0": P45[0].astype(dt), "x4:0": x4}
    check(build, {**feeds, "b3:0": P45[1, :3].astype(dt)}, grad=True)


def test_bias_add_errors():
    x = lambda tf, s: tf.placeholder(tf.float32, s)  # noqa: E731
    check_raises(lambda tf: tf.nn.bias_add(x(tf, [None, 3]), tf.zeros([4])))
    check_raises(lambda tf: tf.nn.bias_add(x(tf, [None, 3]), tf.zeros([3, 1])))
    check_raises(lambda tf: tf.nn.bias_add(x(tf, [None, 3]), tf.zeros([3]), data_format="NCHW"))
    check_raises(lambda tf: tf.nn.bias_add(x(tf, [3]), tf.zeros([3])))
    check_raises(lambda tf: tf.nn.l2_loss(tf.placeholder(tf.int32, [3])))


@pytest.mark.parametrize("dt", FLOATS)
def test_moments_and_batch_normalization(dt):
    x4 = RNG.randn(3, 2, 2, 5).astype(dt)

    def build(tf):
        v, v4 = _x(tf, dt), _x(tf, dt, [None, 2, 2, 5], "x4")
        m, var = tf.nn.moments(v, axes=[0])
        m2, var2 = tf.nn.moments(v4, axes=[0, 1, 2], keep_dims=True, name="mm")
        m3, var3 = tf.nn.moments(v, [0, 1])
        scale = tf.constant(P45[1].astype(dt))
        return [
            m,
            var,
            m2,
            var2,
            m3,
            var3,
            tf.nn.batch_normalization(v, m, var, tf.constant(P45[2].astype(dt)), scale, 1e-3),
            tf.nn.batch_normalization(v4, m2, var2, None, None, 1e-3, name="bn"),
        ]

    check(build, {"x:0": X45.astype(dt), "x4:0": x4}, grad=True)


@pytest.mark.parametrize("data_format", ["NHWC", "NCHW"])
def test_fused_batch_norm_training_uses_bessel_corrected_variance(data_format):
    x = RNG.randn(2, 3, 3, 2).astype(np.float32)
    shape = [None, 3, 3, 2]
    if data_format == "NCHW":
        x, shape = x.transpose(0, 3, 1, 2), [None, 2, 3, 3]

    def build(tf):
        v = tf.placeholder(tf.float32, shape, name="x")
        s, o = tf.constant([1.0, 2.0]), tf.constant([0.1, 0.2])
        mean, var = tf.constant([1.0, 2.0]), tf.constant([3.0, 4.0])
        kw = {"epsilon": 0.01, "data_format": data_format}
        return [
            *tf.nn.fused_batch_norm(v, s, o, **kw),
            *tf.nn.fused_batch_norm(v, s, o, mean, var, exponential_avg_factor=0.3, **kw),
            # TF rewrites inference-mode batch norm on fetches of its statistics; fetch y only.
            tf.nn.fused_batch_norm(v, s, o, mean, var, is_training=False, **kw)[0],
            tf.nn.fused_batch_norm(v, s, o, mean, var, is_training=False, name="fbn", **kw)[0],
        ]

    check(build, {"x:0": x}, grad=True, rtol=1e-4, atol=1e-5)


def test_fused_batch_norm_errors():
    x = lambda tf, s: tf.placeholder(tf.float32, s)  # noqa: E731
    check_raises(lambda tf: tf.nn.fused_batch_norm(x(tf, [2, 4, 3]), tf.ones([3]), tf.zeros([3])))
    check_raises(
        lambda tf: tf.nn.fused_batch_norm(
            x(tf, [2, 4, 4, 3]), tf.ones([3]), tf.zeros([3]), is_training=False
        )
    )
    check_raises(
        lambda tf: tf.nn.fused_batch_norm(
            tf.placeholder(tf.float64, [2, 4, 4, 3]),
            tf.ones([3], tf.float64),
            tf.zeros([3], tf.float64),
        )
    )


def test_top_k_and_in_top_k():
    x = X45.astype(np.float32)
    x[1, 3] = x[1, 1]  # a tie: the lower index comes first

    def build(tf):
        v = tf.placeholder(tf.float32, [None, 5], name="x")
        t = tf.placeholder(tf.int32, [None], name="t")
        return [
            *tf.nn.top_k(v, 3),
            *tf.nn.top_k(v, k=5, name="tk"),
            *tf.nn.top_k(tf.constant([[1, 9, 3, 9]]), k=2),
            tf.nn.in_top_k(v, t, 1),
            tf.nn.in_top_k(v, t, 3, name="itk"),
            tf.nn.in_top_k(v, tf.cast(t, tf.int64), 2),
        ]

    check(build, {"x:0": x, "t:0": np.array([1, 2, 0, 4], np.int32)}, grad=True)
    check(lambda tf: tf.nn.top_k(tf.placeholder(tf.float64, [5], name="x"), 2), {"x:0": X45[0]})
    preds = [[0.1, 0.8, 0.1], [0.5, 0.2, 0.3], [0.5, 0.5, 0.1], [np.nan, 1, 2], [np.inf, 2, 3]]
    check(lambda tf: tf.nn.in_top_k(tf.constant(preds), tf.constant([1, 2, 0, 2, 1]), k=1))
    check(lambda tf: tf.nn.in_top_k(tf.constant(preds), tf.constant([1, 2, 0, 2, 3]), k=2))
    assert tfs.nn.top_k(tfs.constant([1.0, 2.0])).indices.dtype == tfs.int32


def test_top_k_and_in_top_k_errors():
    x = lambda tf, s=(None, 3): tf.placeholder(tf.float32, s)  # noqa: E731
    check_raises(lambda tf: tf.nn.top_k(x(tf), 4))
    check_raises(lambda tf: tf.nn.top_k(x(tf, []), 1))
    check_raises(lambda tf: tf.nn.top_k(x(tf), -1))
    check_raises(lambda tf: tf.nn.in_top_k(x(tf, [3]), tf.constant([1]), 1))
    check_raises(lambda tf: tf.nn.in_top_k(x(tf), tf.constant([[1]]), 1))
    check_raises(lambda tf: tf.nn.in_top_k(x(tf, [2, 3]), tf.constant([1, 1, 1]), 1))
    check_raises(
        lambda tf: tf.nn.in_top_k(tf.placeholder(tf.float64, [2, 3]), tf.constant([1, 1]), 1)
    )


def test_dropout_graph_matches_tf():
    def build(tf):
        v = tf.placeholder(tf.float32, [None, 3], name="x")
        rate = tf.placeholder(tf.float32, [], name="r")
        return [
            tf.nn.dropout(v, 0.5),
            tf.nn.dropout(v, rate=0.25, noise_shape=[1, 3], seed=3),
            tf.nn.dropout(v, keep_prob=0.9, name="d"),
            tf.nn.dropout(v, rate=rate),
            tf.nn.dropout(v, rate=0.0),
        ]

    check(build, {"x:0": np.ones((2, 3), np.float32), "r:0": 0.5}, values=False)
    with pytest.raises(ValueError):
        tfs.nn.dropout(tfs.constant([1.0]), rate=1.0)
    with pytest.raises(ValueError):
        tfs.nn.dropout(tfs.constant([1]), rate=0.5)


def test_dropout_statistics_and_seeds():
    with tfs.Graph().as_default():
        x = tfs.ones([200, 500])
        d1 = tfs.nn.dropout(x, 0.7, seed=1)
        d2 = tfs.nn.dropout(x, rate=0.2, noise_shape=[200, 1], seed=1)
        r = tfs.placeholder(tfs.float32, [])
        d3 = tfs.nn.dropout(x, rate=r)
        with tfs.Session() as s:
            a, b, c = s.run([d1, d2, d3], {r: 0.5})
            a2 = s.run(d1)
    kept = a != 0
    assert abs(kept.mean() - 0.7) < 0.01
    np.testing.assert_allclose(a[kept], 1 / 0.7, rtol=1e-6)
    assert (b == b[:, :1]).all() and abs((b[:, 0] != 0).mean() - 0.8) < 0.1
    np.testing.assert_allclose(b[b != 0], 1.25, rtol=1e-6)
    assert abs((c != 0).mean() - 0.5) < 0.01 and set(np.unique(c)) == {0.0, 2.0}
    assert not np.array_equal(a, a2)  # a new mask each run


@pytest.mark.parametrize("dt", FLOATS)
def test_embedding_lookup_single_and_partitioned(dt):
    params = RNG.randn(10, 3).astype(dt)
    ids = np.array([[1, 2], [9, 0], [4, 4]], np.int32)

    def build(tf):
        p = tf.placeholder(dt, [10, 3], name="p")
        i = tf.placeholder(tf.int32, [None, 2], name="i")
        out = [tf.nn.embedding_lookup(p, i), tf.nn.embedding_lookup(p, i, name="emb")]
        out.append(tf.nn.embedding_lookup(p, i, max_norm=1.0))
        for strategy in ("mod", "div"):
            for sizes in ((4, 3, 3), (5, 5), (3, 3, 2, 2)):
                parts = tf.split(p, list(sizes))
                out.append(tf.nn.embedding_lookup(parts, i, partition_strategy=strategy))
        loss = tf.reduce_sum(tf.add_n(out[:1] + out[3:]) * tf.constant(params[:3, :2, None]))
        # TF's gradient of a gather is IndexedSlices: compare it densely.
        return out + [tf.convert_to_tensor(tf.gradients(loss, p)[0])]

    outs = check(build, {"p:0": params, "i:0": ids}, names=False)
    np.testing.assert_allclose(outs[0], params[ids], rtol=1e-6)
    check(
        lambda tf: [
            tf.nn.embedding_lookup(tf.placeholder(dt, [10, 3], name="p"), [1, 2]),
            tf.nn.embedding_lookup(
                [tf.zeros([5, 3], dt), tf.ones([5, 3], dt)], tf.constant([[1, 2]])
            ),
        ],
        {"p:0": params},
    )


def _sampled_values(tf, num_classes):
    sampled = tf.constant([3, 0, 7, 1], tf.int64)
    true_expected = tf.constant([[0.5, 0.25], [0.4, 0.3], [0.2, 0.6]])
    sampled_expected = tf.constant([0.1, 0.9, 0.05, 0.5])
    return sampled, true_expected, sampled_expected


@pytest.mark.parametrize("loss", ["nce_loss", "sampled_softmax_loss"])
def test_sampled_losses_with_fixed_samples(loss):
    w = RNG.randn(10, 4).astype(np.float32)
    b = RNG.randn(10).astype(np.float32)
    inputs = RNG.randn(3, 4).astype(np.float32)
    labels = np.array([[3, 2], [5, 1], [9, 9]], np.int64)

    def build(tf):
        wt = tf.placeholder(tf.float32, [10, 4], name="w")
        bt = tf.placeholder(tf.float32, [10], name="b")
        x = tf.placeholder(tf.float32, [None, 4], name="x")
        lab = tf.placeholder(tf.int64, [None, 2], name="lab")
        fn = getattr(tf.nn, loss)
        sv = _sampled_values(tf, 10)
        out = [fn(wt, bt, lab, x, 4, 10, num_true=2, sampled_values=sv)]
        out.append(fn(wt, bt, lab, x, 4, 10, num_true=2, sampled_values=sv, name="l2"))
        for hits in (True, False):
            out.append(fn(wt, bt, lab, x, 4, 10, 2, sampled_values=sv, remove_accidental_hits=hits))
        parts = [wt[:4], wt[4:7], wt[7:]]
        out.append(fn(parts, bt, lab, x, 4, 10, 2, sv, partition_strategy="div"))
        out.append(
            fn(wt, bt, tf.cast(lab[:, :1], tf.int32), x, 4, 10, sampled_values=sv, name="one")
        )
        # TF's gradients into the weights are IndexedSlices: compare them densely.
        grads = tf.gradients(tf.add_n([tf.reduce_sum(o) for o in out]), [wt, bt, x])
        return out + [tf.convert_to_tensor(g) for g in grads]

    feeds = {"w:0": w, "b:0": b, "x:0": inputs, "lab:0": labels}
    check(build, feeds, rtol=1e-4, atol=1e-5, names=False)
    _same_names(lambda tf: build(tf)[:6])


def test_sampled_losses_with_default_sampler():
    with tfs.Graph().as_default():
        tfs.set_random_seed(1)
        w = tfs.constant(RNG.randn(50, 4).astype(np.float32))
        b = tfs.zeros([50])
        x = tfs.constant(RNG.randn(6, 4).astype(np.float32))
        lab = tfs.constant(np.arange(6).reshape(6, 1))
        nce = tfs.nn.nce_loss(w, b, lab, x, num_sampled=8, num_classes=50)
        ssl = tfs.nn.sampled_softmax_loss(w, b, lab, x, num_sampled=8, num_classes=50)
        g = tfs.gradients(tfs.reduce_sum(nce) + tfs.reduce_sum(ssl), w)[0]
        assert isinstance(g, tfs.IndexedSlices)  # w is read only through gathers, as in TF
        g = tfs.convert_to_tensor(g)
        assert nce.shape.as_list() == [6] and ssl.shape.as_list() == [6]
        with tfs.Session() as s:
            n1, s1, gv = s.run([nce, ssl, g])
            n2 = s.run(nce)
    assert np.isfinite(n1).all() and (n1 > 0).all() and np.isfinite(s1).all() and (s1 > 0).all()
    assert np.isfinite(gv).all() and not np.array_equal(n1, n2)


def test_candidate_samplers_distribution_and_expected_counts():
    true = np.array([[0, 1], [5, 99]], np.int64)
    with tfs.Graph().as_default():
        tc = tfs.constant(true)
        uniq = tfs.nn.log_uniform_candidate_sampler(tc, 2, 20, True, 100, seed=7)
        rep = tfs.nn.log_uniform_candidate_sampler(tc, 2, 5000, False, 100)
        uni = tfs.nn.uniform_candidate_sampler(tc, 2, 5000, False, 10)
        assert uniq.sampled_candidates.shape.as_list() == [20]
        assert uniq.true_expected_count.shape.as_list() == [2, 2]
        with tfs.Session() as s:
            u, r, un = s.run([uniq, rep, uni])
    samples = u.sampled_candidates
    assert samples.dtype == np.int64 and len(set(samples)) == 20
    assert samples.min() >= 0 and samples.max() < 100
    p = np.log((np.arange(100) + 2) / (np.arange(100) + 1)) / np.log(101)
    counts = np.bincount(r.sampled_candidates, minlength=100)
    np.testing.assert_allclose(counts[:5] / 5000, p[:5], atol=0.02)
    np.testing.assert_allclose(r.true_expected_count, p[true] * 5000, rtol=1e-5)
    np.testing.assert_allclose(un.sampled_expected_count, 500.0)
    # Unique sampling: 1 - (1 - p) ** tries with tries >= num_sampled draws.
    tries = np.log1p(-u.true_expected_count[0, 0]) / np.log1p(-p[0])
    assert tries >= 20 - 1e-3
    np.testing.assert_allclose(u.true_expected_count, -np.expm1(tries * np.log1p(-p[true])), 1e-4)
    np.testing.assert_allclose(
        u.sampled_expected_count, -np.expm1(tries * np.log1p(-p[samples])), rtol=1e-4
    )


def test_candidate_sampler_graph_matches_tf():
    def build(tf):
        tc = tf.placeholder(tf.int64, [None, 2], name="t")
        a = tf.nn.log_uniform_candidate_sampler(tc, 2, 5, True, 100, seed=3)
        b = tf.nn.uniform_candidate_sampler(tc, 2, 5, False, 100)
        return [*a, *b]

    check(build, {"t:0": np.array([[1, 2]], np.int64)}, values=False)
    check_raises(
        lambda tf: tf.nn.log_uniform_candidate_sampler(
            tf.placeholder(tf.int32, [None, 2]), 2, 5, True, 100
        )
    )
    check_raises(
        lambda tf: tf.nn.log_uniform_candidate_sampler(
            tf.constant([[1, 2]], tf.int64), 2, 5, True, 3
        )
    )


def test_lrn_and_normalize_moments():
    x4 = RNG.randn(2, 3, 3, 6).astype(np.float32)

    def build(tf):
        v = tf.placeholder(tf.float32, [None, 3, 3, 6], name="x")
        counts, mean_ss, var_ss = tf.constant(4.0), tf.constant([1.0, 2.0]), tf.constant([3.0, 5.0])
        return [
            tf.nn.lrn(v),
            tf.nn.local_response_normalization(v, 2, 1.5, 1e-2, 0.75, name="lrn"),
            *tf.nn.normalize_moments(counts, mean_ss, var_ss, None),
            *tf.nn.normalize_moments(counts, mean_ss, var_ss, tf.constant(0.5)),
        ]

    check(build, {"x:0": x4}, grad=True, rtol=1e-4, atol=1e-5)


def test_dropout_gradient_is_the_mask_times_the_scale():
    with tfs.Graph().as_default():
        x = tfs.placeholder(tfs.float32, [50, 40])
        d = tfs.nn.dropout(x, rate=0.4, seed=5)
        (g,) = tfs.gradients(tfs.reduce_sum(d), [x])
        with tfs.Session() as s:
            dv, gv = s.run([d, g], {x: np.ones((50, 40), np.float32)})
    np.testing.assert_allclose(gv, dv, rtol=1e-6)
