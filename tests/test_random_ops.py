"""Random ops, seeds and initializers against real TF.

Raw random values are never compared across implementations (the streams differ, by design):
the graphs (names, types, ``seed``/``seed2`` attributes, shapes, dtypes) must match exactly,
the statistics must agree, and seeding must reproduce exactly as it does in TF.
"""

import numpy as np

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1
from tests.test_variables import _both, _same, _same_error

_RANDOM_TYPES = (
    "RandomStandardNormal",
    "RandomUniform",
    "RandomUniformInt",
    "TruncatedNormal",
    "RandomShuffle",
    "Multinomial",
)


def _graph(tf):
    """Every op with its inputs, and the seeds of the random ones."""
    out = []
    for op in tf.get_default_graph().get_operations():
        seeds = (op.get_attr("seed"), op.get_attr("seed2")) if op.type in _RANDOM_TYPES else None
        out.append((op.name, op.type, [t.name for t in op.inputs], seeds))
    return out


def _meta(ts):
    return [
        (t.name, t.dtype.name, None if t.shape.ndims is None else t.shape.as_list()) for t in ts
    ]


def _build_all(tf, seed=None):
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    outs = [
        tf.random_normal([2, 3]),
        tf.random_normal([4], mean=1.0, stddev=2.0, seed=seed, name="foo"),
        tf.random_normal(tf.shape(x), dtype=tf.float64),
        tf.random_uniform([3]),
        tf.random_uniform([3], 0, 10, dtype=tf.int32, seed=seed),
        tf.random_uniform([2], -1.0, 1.0),
        tf.random_uniform([2], 0, 3.0),
        tf.random_uniform([2, 2], maxval=5, dtype=tf.int64),
        tf.truncated_normal([5], stddev=0.1, dtype=tf.float64),
        tf.truncated_normal((2, 2), seed=seed, dtype=tf.float16),
        tf.random_shuffle(tf.constant(np.arange(6).reshape(3, 2))),
        tf.random_shuffle([1.0, 2.0, 3.0], seed=seed, name="sh"),
        tf.multinomial(tf.constant([[0.0, 1.0], [2.0, 0.0]]), 5),
        tf.random.categorical(tf.constant([[0.0, 1.0]]), 4, dtype=tf.int32, seed=seed),
        tf.random.normal([1]),
        tf.random.uniform([1]),
        tf.random.truncated_normal([1]),
        tf.random.shuffle([1, 2]),
    ]
    return outs


def test_random_op_graphs_match_tf():
    for graph_seed, op_seed in ((None, None), (None, 7), (3, None), (3, 11), (0, 0)):

        def build(tf, graph_seed=graph_seed, op_seed=op_seed):
            if graph_seed is not None:
                tf.set_random_seed(graph_seed)
            outs = _build_all(tf, op_seed)
            return [_meta(outs), _graph(tf)]

        _same(build)


def test_random_op_values_shapes_and_dtypes_match_tf():
    def build(tf):
        outs = _build_all(tf, 5)[:14]  # the tf.random.* aliases build the same ops
        with tf.Session() as s:
            vals = s.run(outs, {"x:0": np.zeros([4, 3], np.float32)})
        return [(v.shape, v.dtype.name) for v in vals]

    _same(build)


def test_get_seed_matches_tf():
    def build(tf):
        out = [tf.get_seed(None), tf.get_seed(5), tf.random.get_seed(2**40)]
        tf.set_random_seed(9)
        tf.constant(1.0)
        out += [tf.get_seed(None), tf.get_seed(None), tf.get_seed(4), tf.get_seed(None)]
        tf.set_random_seed(0)
        out += [tf.get_seed(0), tf.get_seed(1)]
        return out

    _same(build)


def _seeding_behaviour(tf):
    """The conformance checks of seeding: properties that hold within one implementation."""

    def two_runs(graph_seed=None, op_seed=None):
        with tf.Graph().as_default():
            if graph_seed is not None:
                tf.set_random_seed(graph_seed)
            a = tf.random_normal([5], seed=op_seed)
            b = tf.random_normal([5], seed=op_seed)
            with tf.Session() as s:
                return [s.run([a, b]) for _ in range(2)]

    out = {}
    g1, g2, g3 = two_runs(42), two_runs(42), two_runs(7)
    out["same_graph_seed_same_values"] = all(
        np.array_equal(x, y) for run1, run2 in zip(g1, g2) for x, y in zip(run1, run2)
    )
    out["successive_runs_differ"] = not np.array_equal(g1[0][0], g1[1][0])
    out["other_graph_seed_differs"] = not np.array_equal(g1[0][0], g3[0][0])
    out["two_ops_differ"] = not np.array_equal(g1[0][0], g1[0][1])
    o1, o2 = two_runs(1, 3), two_runs(1, 3)
    out["op_and_graph_seed_repro"] = np.array_equal(o1[0][0], o2[0][0])
    out["same_op_seed_same_values"] = np.array_equal(o1[0][0], o1[0][1])
    u1, u2 = two_runs(), two_runs()
    out["unseeded_sessions_differ"] = not np.array_equal(u1[0][0], u2[0][0])
    out["unseeded_ops_differ"] = not np.array_equal(u1[0][0], u1[0][1])
    with tf.Graph().as_default():
        tf.set_random_seed(5)
        r = tf.random_uniform([4])
        with tf.Session() as s:
            first = s.run(r)
        with tf.Session() as s:
            again = s.run(r)
    out["new_session_restarts_sequence"] = np.array_equal(first, again)
    h = []
    for _ in range(2):
        with tf.Graph().as_default():
            x = tf.random_normal([3], seed=11)
            with tf.Session() as s:
                h.append(s.run(x))
    out["op_seed_only_repro"] = np.array_equal(h[0], h[1])
    vals = []
    for _ in range(2):
        with tf.Graph().as_default():
            tf.set_random_seed(3)
            v = tf.get_variable("v", [3, 3])
            with tf.Session() as s:
                s.run(v.initializer)
                vals.append(s.run(v))
    out["seeded_glorot_repro"] = np.array_equal(vals[0], vals[1])
    out["glorot_within_limit"] = bool(np.all(np.abs(vals[0]) <= 1.0))
    out["glorot_not_constant"] = bool(np.unique(vals[0]).size > 1)
    return out


def test_seeding_reproduces_as_in_tf():
    exp, act = (_seeding_behaviour(tf) for tf in (tf1(), tfs))
    assert act == exp
    assert all(exp.values()), exp


def _samples(tf, make, n_runs=1):
    with tf.Graph().as_default():
        tf.set_random_seed(1234)
        t = make(tf)
        with tf.Session() as s:
            return np.concatenate([np.ravel(s.run(t)) for _ in range(n_runs)])


def test_random_statistics_agree_with_tf():
    cases = {
        "normal": lambda tf: tf.random_normal([20000], mean=2.0, stddev=3.0),
        "uniform": lambda tf: tf.random_uniform([20000], -2.0, 6.0),
        "uniform01": lambda tf: tf.random_uniform([20000], dtype=tf.float64),
        "truncated": lambda tf: tf.truncated_normal([20000], mean=1.0, stddev=0.5),
        "int": lambda tf: tf.random_uniform([20000], 3, 9, dtype=tf.int32),
    }
    for name, make in cases.items():
        e, a = (_samples(tf, make) for tf in (tf1(), tfs))
        assert a.dtype == e.dtype, name
        assert abs(a.mean() - e.mean()) < 0.1 * max(1.0, e.std()), (name, a.mean(), e.mean())
        assert abs(a.std() - e.std()) < 0.05 * e.std(), (name, a.std(), e.std())
        assert a.min() >= e.min() - 0.1 * e.std() and a.max() <= e.max() + 0.1 * e.std(), name
    t = _samples(tfs, cases["truncated"])
    assert t.min() >= 0.0 and t.max() <= 2.0
    ints = _samples(tfs, cases["int"])
    assert set(np.unique(ints)) == set(range(3, 9))


def test_shuffle_permutes_first_dimension_and_multinomial_frequencies():
    with tfs.Graph().as_default():
        x = tfs.constant(np.arange(20).reshape(10, 2))
        sh = tfs.random_shuffle(x)
        logits = tfs.constant(np.log([[0.1, 0.2, 0.7], [0.5, 0.5, 1e-9]]), dtype=tfs.float32)
        draws = tfs.multinomial(logits, 4000)
        with tfs.Session() as s:
            a, b = s.run(sh), s.run(sh)
            d = s.run(draws)
    assert sorted(map(tuple, a)) == [tuple(r) for r in np.arange(20).reshape(10, 2)]
    assert np.all(a[:, 1] == a[:, 0] + 1) and not np.array_equal(a, b)
    assert d.shape == (2, 4000) and d.dtype == np.int64
    np.testing.assert_allclose(np.bincount(d[0], minlength=3) / 4000, [0.1, 0.2, 0.7], atol=0.03)
    np.testing.assert_allclose(np.bincount(d[1], minlength=3) / 4000, [0.5, 0.5, 0.0], atol=0.03)


def test_random_op_errors():
    _same_error(lambda tf: tf.random_uniform([2], dtype=tf.int32), "Must specify maxval")
    _same_error(lambda tf: tf.random_uniform([2], dtype=tf.bool), "got invalid value")
    _same_error(
        lambda tf: tf.multinomial([[0.0, 1.0]], 2, output_dtype=tf.float32), "invalid value"
    )


# -- initializers ----------------------------------------------------------------------------------
def _initializers(tf):
    return {
        "zeros": (tf.zeros_initializer(), [2, 3]),
        "ones": (tf.ones_initializer(), [3]),
        "const": (tf.constant_initializer(2.5), [2, 2]),
        "const_list": (tf.constant_initializer([1, 2, 3, 4, 5, 6]), [2, 3]),
        "const_pad": (tf.constant_initializer([1.0, 2.0]), [2, 2]),
        "rn": (tf.random_normal_initializer(1.0, 0.5), [60, 50]),
        "tn": (tf.truncated_normal_initializer(stddev=0.2), [60, 50]),
        "ru": (tf.random_uniform_initializer(-0.3, 0.3), [60, 50]),
        "ru_default": (tf.random_uniform_initializer(), [60, 50]),
        "gu": (tf.glorot_uniform_initializer(), [60, 40]),
        "gn": (tf.glorot_normal_initializer(), [60, 40]),
        "vs_in_tn": (tf.variance_scaling_initializer(2.0), [3, 3, 16, 8]),
        "vs_out_u": (tf.variance_scaling_initializer(1.0, "fan_out", "uniform"), [100, 30]),
        "vs_avg_n": (tf.variance_scaling_initializer(1.0, "fan_avg", "normal"), [100, 30]),
        "vs_untr": (
            tf.variance_scaling_initializer(3.0, distribution="untruncated_normal"),
            [80, 30],
        ),
        "uus": (tf.uniform_unit_scaling_initializer(1.5), [40, 30]),
        "he_n": (tf.initializers.he_normal(), [50, 30]),
        "he_u": (tf.initializers.he_uniform(), [50, 30]),
        "lecun_n": (tf.initializers.lecun_normal(), [50, 30]),
        "lecun_u": (tf.initializers.lecun_uniform(), [50, 30]),
        "orth": (tf.orthogonal_initializer(), [6, 4]),
        "orth_wide": (tf.orthogonal_initializer(gain=2.0), [2, 3, 8]),
        "ident": (tf.initializers.identity(), [3, 4]),
        "int_zeros": (tf.zeros_initializer(dtype=tf.int32), [2]),
        "int_uniform": (tf.random_uniform_initializer(0, 10, dtype=tf.int64), [2000]),
    }


def test_initializer_graphs_match_tf():
    def build(tf):
        tf.set_random_seed(1)
        vs = []
        for name, (init, shape) in _initializers(tf).items():
            dtype = getattr(init, "dtype", tf.float32)
            vs.append(tf.get_variable(name, shape, dtype=dtype, initializer=init))
        return [[(v.name, v.dtype.name, v.shape.as_list()) for v in vs], _graph(tf)]

    _same(build)


def test_initializer_values_and_statistics_agree_with_tf():
    def build(tf):
        tf.set_random_seed(7)
        # The he/lecun and default-uniform forms are variance-scaling cases already sampled.
        skip = ("he_u", "lecun_n", "lecun_u", "ru_default", "vs_avg_n")
        items = {k: v for k, v in _initializers(tf).items() if k not in skip}
        vs = [
            tf.get_variable(name, shape, dtype=getattr(init, "dtype", tf.float32), initializer=init)
            for name, (init, shape) in items.items()
        ]
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            return dict(zip(items, s.run(vs)))

    exp, act = _both(build)
    for name in ("zeros", "ones", "const", "const_list", "const_pad", "ident", "int_zeros"):
        np.testing.assert_array_equal(act[name], exp[name], err_msg=name)
    for name in exp:
        e, a = exp[name], act[name]
        assert a.dtype == e.dtype and a.shape == e.shape, name
        if name.startswith("orth"):
            continue  # too few entries for statistics; orthogonality is checked below
        tol = 0.1 * e.std()
        assert abs(a.mean() - e.mean()) <= tol, (name, a.mean(), e.mean())
        assert abs(a.std() - e.std()) <= tol, (name, a.std(), e.std())
        if name not in ("rn", "vs_untr"):  # bounded distributions reach the same bounds
            assert a.min() >= e.min() - 3 * tol and a.max() <= e.max() + 3 * tol, name
    # Glorot uniform: limit sqrt(6 / (fan_in + fan_out)); the truncated forms stay within 2 std.
    assert np.abs(act["gu"]).max() <= np.sqrt(6.0 / 100)
    assert np.abs(act["gn"]).max() <= 2 * np.sqrt(1.0 / 50) / 0.87962566103423978 + 1e-6
    q = act["orth"]
    np.testing.assert_allclose(q.T @ q, np.eye(4), atol=1e-5)
    w = act["orth_wide"].reshape(6, 8)
    np.testing.assert_allclose(w @ w.T, 4.0 * np.eye(6), atol=1e-4)
    ints = act["int_uniform"]
    assert ints.min() >= 0 and ints.max() < 10


def test_initializer_call_outside_get_variable_and_errors():
    def build(tf):
        t = tf.truncated_normal_initializer(seed=3)([2, 2])
        c = tf.constant_initializer([[1, 2], [3, 4]])(tf.TensorShape([2, 2]), dtype=tf.float64)
        return [_meta([t, c]), _graph(tf)]

    _same(build)
    _same_error(lambda tf: tf.random_normal_initializer(dtype=tf.int32), "expected to be floating")
    _same_error(lambda tf: tf.variance_scaling_initializer(-1.0), "must be a positive float")
    _same_error(lambda tf: tf.variance_scaling_initializer(mode="fan"), "Argument `mode` should")
    _same_error(
        lambda tf: tf.variance_scaling_initializer(distribution="x"), "Argument `distribution`"
    )
    _same_error(lambda tf: tf.orthogonal_initializer()([3]), "at least two-dimensional")
    _same_error(lambda tf: tf.constant_initializer({"a": 1}), "Invalid type for initial value")
    _same_error(lambda tf: tf.constant_initializer([1, 2, 3])([2]), "Too many elements provided")
    assert isinstance(tfs.glorot_uniform_initializer(), tfs.initializers.variance_scaling)
    assert not isinstance(tfs.truncated_normal_initializer(), tfs.random_normal_initializer)
    assert tfs.initializers.global_variables is tfs.global_variables_initializer
