"""tf.cond, tf.case, tf.while_loop, map_fn, scan, foldl, foldr against real TF."""

import collections

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.op_check import check, check_raises
from tests.oracle import tf1

X = {"x:0": np.arange(6, dtype=np.float32).reshape(2, 3) - 2.0}
NT = collections.namedtuple("NT", "a b")


def test_cond_values_names_shapes_and_gradients():
    for p in (True, False):

        def build(tf):
            x = tf.placeholder(tf.float32, [None, 3], name="x")
            p = tf.placeholder(tf.bool, [], name="p")
            a = tf.cond(p, lambda: x * 2.0, lambda: x + 1.0)
            b = tf.cond(p, lambda: (x, tf.constant(1.0)), lambda: (x * 3.0, tf.constant(2.0)))
            c = tf.cond(p, lambda: {"u": tf.reduce_sum(x), "v": x}, lambda: {"u": 1.0, "v": -x})
            d = tf.cond(p, lambda: NT(x, 1.0), lambda: NT(x * x, 2.0), name="named")
            after = x + 1.0  # branch ops take no names from the graph
            return [a, *b, c["u"], c["v"], d.a, d.b, after]

        check(build, {**X, "p:0": p}, grad=True)


def test_cond_static_shape_relaxed_and_legacy_arguments():
    def build(tf):
        p = tf.placeholder(tf.bool, [], name="p")
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        a = tf.cond(p, lambda: tf.zeros([2, 3]), lambda: tf.ones([2, 3]) + x[:1] * 0.0)
        b = tf.cond(p, fn1=lambda: x, fn2=lambda: x * 2.0, strict=True)
        c = tf.cond(tf.constant(False), lambda: tf.constant(1), lambda: tf.constant(2))
        (d,) = tf.cond(p, lambda: [x], lambda: [x])
        return [a, b, c, d]

    check(build, {**X, "p:0": True})


def test_nested_cond_in_while_and_while_in_cond():
    def build(tf):
        x = tf.placeholder(tf.float32, [None, 3], name="x")

        def body(i, s):
            s = tf.cond(tf.equal(i % 2, 0), lambda: s + x, lambda: s * 0.5)
            return i + 1, s

        _, s = tf.while_loop(lambda i, s: i < 5, body, [tf.constant(0), tf.zeros_like(x)])
        p = tf.reduce_sum(x) > 0.0
        w = tf.cond(
            p,
            lambda: tf.while_loop(lambda k: k < 20.0, lambda k: k * 3.0, [tf.constant(1.0)]),
            lambda: tf.constant(-1.0),
        )
        return [s, w]

    check(build, X, grad=True)
    check(build, {"x:0": -X["x:0"] - 5.0}, grad=True)


def test_nested_while_loops_read_the_outer_loops_values():
    # XLA's copy insertion with region analysis (tfstyle's CPU default for steps without
    # control flow) gave the inner loop the outer loop's next values here.
    def build(tf):
        x = tf.placeholder(tf.float32, [2], name="x")
        c = tf.constant([1.0, 4.0])

        def outer_body(j, acc):
            def inner_body(k, t):
                return k + 1, t + tf.cast(k * j, tf.float32) * c

            return j + 1, tf.while_loop(lambda k, t: k < 3, inner_body, [0, acc])[1]

        return [tf.while_loop(lambda j, a: j < 3, outer_body, [0, x])[1]]

    check(build, {"x:0": np.array([0.0, 1.0], np.float32)})


def test_cond_with_variables_reads_and_assigns():
    for p in (True, False):

        def build(tf):
            p = tf.placeholder(tf.bool, [], name="p")
            v = tf.Variable(1.0, name="v")
            w = tf.Variable([1.0, 2.0], name="w")
            with tf.control_dependencies([v.initializer, w.initializer]):
                c = tf.cond(p, lambda: v.assign_add(1.0), lambda: v.read_value() * 10.0)
                r = tf.cond(p, lambda: tf.reduce_sum(w * 2.0), lambda: tf.constant(0.0))
            with tf.control_dependencies([c]):
                after = v.read_value()
            return [c, after, r]

        check(build, {"p:0": p}, names=False)


def test_case_first_true_and_default():
    for xv in (1, 2, 3):

        def build(tf):
            x = tf.placeholder(tf.int32, [], name="x")
            pairs = [(tf.equal(x, 1), lambda: tf.constant(10)), (x > 1, lambda: tf.constant(20))]
            a = tf.case(pairs, default=lambda: tf.constant(-1))
            b = tf.case(pairs, default=lambda: tf.constant(-1), exclusive=False, name="named")
            c = tf.case(
                [(tf.equal(x, 3), lambda: (tf.constant(1), tf.constant(1.0)))],
                default=lambda: (tf.constant(2), tf.constant(2.0)),
            )
            return [a, b, *c]

        check(build, {"x:0": xv})


def test_while_loop_values_structures_and_names():
    def build(tf):
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        n = tf.placeholder(tf.int32, [], name="n")
        i, s = tf.while_loop(lambda i, s: i < 10, lambda i, s: (i + 1, s + i), [0, 0])
        fib = tf.while_loop(
            lambda k, a, b: k < 10, lambda k, a, b: (k + 1, b, a + b), (0, 0, 1), name="fib"
        )
        mi = tf.while_loop(lambda i: True, lambda i: i + 2, [tf.constant(0)], maximum_iterations=5)
        fed = tf.while_loop(lambda k, m: k < n, lambda k, m: (k + 1, m * x), [0, tf.ones_like(x)])
        (nt,) = tf.while_loop(
            lambda s: s.a < 3, lambda s: [NT(s.a + 1, s.b * 2.0)], [NT(tf.constant(0), x)]
        )
        nested = tf.while_loop(
            lambda a, b: a < 3,
            lambda a, b: (a + 1, (b[0] * 2.0, [b[1][0] + 1])),
            (tf.constant(0), (x, [tf.constant(2)])),
        )
        single = tf.while_loop(lambda v: v < 100.0, lambda v: v * 3.0, [tf.constant(1.0)])
        grow = tf.while_loop(
            lambda i, t: i < 3,
            lambda i, t: (i + 1, tf.concat([t, tf.expand_dims(tf.cast(i, tf.float32), 0)], 0)),
            [tf.constant(0), tf.zeros([0])],
            shape_invariants=[tf.TensorShape([]), tf.TensorShape([None])],
        )
        return [i, s, *fib, mi, *fed, nt.a, nt.b, nested[0], nested[1][0], nested[1][1][0],
                single, *grow]  # fmt: skip

    check(build, {**X, "n:0": 3})
    check(build, {**X, "n:0": 0})


def test_while_loop_gradients_bounded_and_static_trip_count():
    def build(tf):
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        n = tf.placeholder(tf.int32, [], name="n")
        _, a = tf.while_loop(lambda i, s: i < 3, lambda i, s: (i + 1, s * x + 1.0), [0, x])
        _, b = tf.while_loop(
            lambda i, s: i < n, lambda i, s: (i + 1, tf.sin(s) * x), [0, x], maximum_iterations=4
        )
        return [a, b]

    check(build, {**X, "n:0": 2}, grad=True)
    check(build, {**X, "n:0": 7}, grad=True)


def test_while_loop_gradients_of_a_trip_count_known_only_when_run():
    # Reverse mode runs such a loop as a scan of a capacity; a run that needs more grows it and
    # runs again (the 160-odd iterations of the second feed need three growths' worth).
    def build(tf):
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        limit = tf.placeholder(tf.float32, [], name="limit")
        m = tf.placeholder(tf.int32, [], name="m")
        _, a = tf.while_loop(
            lambda i, s: tf.reduce_sum(tf.abs(s)) < limit,
            lambda i, s: (i + 1, s * 1.5 + x),
            [0, x],
        )
        _, b = tf.while_loop(
            lambda i, s: i < 100, lambda i, s: (i + 1, tf.sin(s) * x), [0, x], maximum_iterations=m
        )
        return [a, b]

    check(build, {**X, "limit:0": 20.0, "m:0": 2}, grad=True)
    check(build, {**X, "limit:0": 1e30, "m:0": 40}, grad=True)


def _train_through_a_data_dependent_loop(tf):
    w = tf.get_variable("w", initializer=tf.constant([0.5, -0.3, 0.2]))
    limit = tf.placeholder(tf.float32, [], name="limit")
    _, s = tf.while_loop(
        lambda i, s: tf.reduce_sum(tf.abs(s)) < limit,
        lambda i, s: (i + 1, s * 1.1 + w),
        [0, w * 0.1],
    )
    return tf.reduce_sum(tf.square(s)) / tf.square(limit), None


def test_training_through_a_data_dependent_loop_matches_tf():
    from tests.optimizer_cases import train_recorded

    feeds = [{"limit:0": v} for v in (3.0, 500.0, 2.0, 1e4, 1e4)]

    def make(tf, _):
        return tf.train.MomentumOptimizer(0.05, momentum=0.9)

    expected = train_recorded(tf1(), _train_through_a_data_dependent_loop, make, feeds)
    actual = train_recorded(tfs, _train_through_a_data_dependent_loop, make, feeds)
    # Each step updated the variables once, also those that grew the capacity and ran again.
    for e, a in zip(expected[2], actual[2]):
        for ev, av in zip(e, a):
            np.testing.assert_allclose(av, ev, rtol=2e-5, atol=1e-6)


def test_while_loop_reads_and_assigns_variables():
    def build(tf):
        w = tf.Variable(2.0, name="w")
        c = tf.Variable(0, name="c")
        with tf.control_dependencies([w.initializer, c.initializer]):
            _, s = tf.while_loop(
                lambda i, s: i < 4,
                lambda i, s: (i + tf.identity(c.assign_add(1)) * 0 + 1, s * w),
                [tf.constant(0), tf.constant(1.0)],
            )
        with tf.control_dependencies([s]):
            count = c.read_value()
        return [s, count]

    check(build, names=False)


def test_functional_ops_values_names_and_gradients():
    def build(tf):
        e = tf.placeholder(tf.float32, [None, 3], name="x")
        m = tf.map_fn(lambda r: r * 2.0, e)
        m2 = tf.map_fn(
            lambda r: (r[0], tf.cast(r[1], tf.int32)), (e, e), dtype=(tf.float32, tf.int32)
        )
        m3 = tf.map_fn(lambda r: tf.reduce_sum(r), e)
        s1 = tf.scan(lambda a, r: a + r, e)
        s2 = tf.scan(lambda a, r: a * r + 1.0, e, initializer=tf.zeros([3]), reverse=True)
        s3 = tf.scan(lambda a, r: a + r, e, reverse=True)
        f1 = tf.foldl(lambda a, r: a + r, e)
        f2 = tf.foldr(lambda a, r: a * 2.0 + r, e, initializer=tf.zeros([3]))
        f3 = tf.foldl(lambda a, r: a + r, tf.constant([1, 2, 3]), initializer=0, name="ff")
        f4 = tf.foldl(
            lambda a, r: (a[0] + r, a[1] * r), e, initializer=(tf.zeros([3]), tf.ones([3]))
        )
        return [m, *m2, m3, s1, s2, s3, f1, f2, f3, *f4]  # fmt: skip

    check(build, X, grad=True)


def test_initialized_value_before_and_after_initialization():
    g = tfs.Graph()
    with g.as_default():
        v = tfs.Variable([1.0, 2.0], name="v")
        iv = v.initialized_value()
        with tfs.Session() as sess:
            np.testing.assert_array_equal(sess.run(iv), [1.0, 2.0])
            sess.run(v.initializer)
            sess.run(v.assign([5.0, 6.0]))
            np.testing.assert_array_equal(sess.run(iv), [5.0, 6.0])


def test_while_loop_fed_bound_traces_once():
    g = tfs.Graph()
    with g.as_default():
        n = tfs.placeholder(tfs.int32, [])
        out = tfs.while_loop(lambda i, s: i < n, lambda i, s: (i + 1, s * 2.0), [0, 1.0])
        with tfs.Session() as sess:
            before = tfs._compiler.trace_count()
            assert [sess.run(out[1], {n: k}) for k in (0, 3, 5)] == [1.0, 8.0, 32.0]
            assert tfs._compiler.trace_count() - before == 1


@pytest.mark.parametrize(
    "build",
    [
        # branches of different structures or dtypes
        lambda tf: tf.cond(tf.constant(True), lambda: (1.0, 2.0), lambda: (1.0,)),
        lambda tf: tf.cond(tf.constant(True), lambda: [1.0, 2.0], lambda: (1.0, 2.0)),
        lambda tf: tf.cond(tf.constant(True), lambda: 1.0, lambda: 1),
        lambda tf: tf.cond(True, lambda: 1.0, lambda: 2.0),
        lambda tf: tf.cond(tf.constant(True), None, lambda: 2.0),
        lambda tf: tf.cond(tf.constant(True), 1.0, lambda: 2.0),
        # loop variables changing shape, dtype or structure
        lambda tf: tf.while_loop(
            lambda i, t: i < 3, lambda i, t: (i + 1, tf.concat([t, [1.0]], 0)), [0, tf.zeros([0])]
        ),
        lambda tf: tf.while_loop(lambda i: i < 3, lambda i: tf.cast(i, tf.float32), [0]),
        lambda tf: tf.while_loop(lambda i, j: i < 3, lambda i, j: (i,), [0, 1]),
        lambda tf: tf.while_loop(1, lambda i: i, [0]),
        lambda tf: tf.while_loop(lambda i: i < 3, 1, [0]),
        lambda tf: tf.case([tf.constant(True)]),
        lambda tf: tf.case([(tf.constant(1), lambda: 1)]),
        lambda tf: tf.case([(tf.constant(True), 1)]),
        lambda tf: tf.map_fn(lambda r: r, tf.constant(1.0)),
    ],
)
def test_errors_match_tf(build):
    check_raises(build)


def test_predicates_not_scalar_bools_fail_when_run():
    def non_scalar(tf):
        return tf.cond(tf.placeholder(tf.bool, [None], name="p"), lambda: 1.0, lambda: 2.0)

    exp, act = check_raises(non_scalar, {"p:0": [True, False]})
    assert "must be a scalar" in str(act)


def test_uninitialized_variable_in_while_body_raises():
    for tf in (tf1(), tfs):
        with tf.Graph().as_default():
            v = tf.Variable(1.0)
            out = tf.while_loop(lambda i, s: i < 2, lambda i, s, v=v: (i + 1, s + v), [0, 0.0])
            with tf.Session() as sess, pytest.raises(tf.errors.FailedPreconditionError):
                sess.run(out)


def test_exclusive_case_fails_where_two_predicates_hold_as_tf():
    def build(tf):
        x = tf.placeholder(tf.int32, [], name="x")
        return tf.case(
            [(x > 0, lambda: tf.constant(1)), (x > 1, lambda: tf.constant(2))],
            default=lambda: tf.constant(0),
            exclusive=True,
        )

    check(build, {"x:0": 1})
    exp, act = check_raises(build, {"x:0": 5})
    text = "more than 1 conditions (Greater:0, Greater_1:0) evaluated as True:] [1 1]"
    assert text in str(exp) and text in str(act)
