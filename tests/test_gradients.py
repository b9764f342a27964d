"""tf.gradients, tf.hessians and the clipping ops against real TF: values, static shapes,
dtypes, None for unconnected xs, stop_gradients, grad_ys and gradients of gradients."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1


def _flatten(x):
    if isinstance(x, dict):
        return [v for k in sorted(x) for v in _flatten(x[k])]
    if isinstance(x, (list, tuple)):
        return [v for e in x for v in _flatten(e)]
    return [x]


def _run(tf, build, feeds):
    g = tf.Graph()
    with g.as_default():
        out = _flatten(build(tf))
        fetch = [t for t in out if t is not None]
        meta = [
            None
            if t is None
            else (t.shape.as_list() if t.shape.ndims is not None else None, t.dtype.name)
            for t in out
        ]
        with tf.Session(graph=g) as sess:
            sess.run(tf.global_variables_initializer())
            feed = {g.get_tensor_by_name(k): v for k, v in (feeds or {}).items()}
            vals = sess.run(fetch, feed) if fetch else []
    return meta, vals


def check(build, feeds=None, rtol=1e-5, atol=1e-6):
    """``build(tf)`` returns (nested lists of) gradient tensors or None; both must agree."""
    exp_meta, exp_vals = _run(tf1(), build, feeds)
    act_meta, act_vals = _run(tfs, build, feeds)
    assert act_meta == exp_meta
    for i, (e, a) in enumerate(zip(exp_vals, act_vals)):
        e, a = np.asarray(e), np.asarray(a)
        assert a.dtype == e.dtype, i
        np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=f"value {i}")


A = np.array([1.0, 2.0, 3.0], np.float32)
B = np.array([4.0, 5.0, 6.0], np.float32)
M = np.array([[1.0, -2.0, 0.5], [3.0, 4.0, -1.0]], np.float32)


def test_elementwise_expressions():
    def build(tf):
        x = tf.constant(2.0)
        a, b = tf.constant(A), tf.constant(B)
        return [
            tf.gradients(x * x + 3.0 * x, x),
            tf.gradients([x * x, tf.sin(x) * tf.exp(x)], [x]),
            tf.gradients(tf.reduce_sum(a * b + a**2), [a, b]),
            tf.gradients(a * b, a),
            tf.gradients(tf.log(a), a),
            tf.gradients(tf.sqrt(a) / b, [a, b]),
            tf.gradients(tf.tanh(a) + tf.sigmoid(a), a),
            tf.gradients(tf.pow(a, b), [a, b]),
            tf.gradients(tf.square(a - b) * tf.rsqrt(b), [a, b]),
            tf.gradients(tf.cos(a) - tf.sign(a) * a, a),
        ]

    check(build)


def test_a_fed_tensor_keeps_its_value_and_passes_gradients_through_its_ops():
    # As in TF's gradient graph: the ops that use h see the fed value, and the gradient still
    # flows back through the ops that compute h (at their own inputs' values).
    def build(tf):
        x = tf.placeholder(tf.float32, [2], name="x")
        w = tf.Variable([1.0, 2.0], name="w")
        h = tf.sin(x * w, name="h")
        loss = tf.reduce_sum(h * w) + tf.reduce_sum(tf.exp(h * 0.1))
        return [tf.gradients(loss, [w, x]), loss, tf.identity(h * 3.0), h]

    check(build, {"x:0": np.array([0.5, 1.0], np.float32)})
    check(
        build, {"x:0": np.array([0.5, 1.0], np.float32), "h:0": np.array([10.0, 20.0], np.float32)}
    )


def test_reductions_and_broadcasting():
    def build(tf):
        m = tf.constant(M)
        col = tf.constant([[1.0], [2.0]])
        row = tf.constant([[10.0, 20.0, 30.0]])
        t = tf.constant([1.0, 3.0, 3.0])
        return [
            tf.gradients(tf.reduce_mean(m, axis=0), m),
            tf.gradients(tf.reduce_sum(tf.reduce_mean(m, axis=1, keepdims=True) * m), m),
            tf.gradients(tf.reduce_max(t), t),
            tf.gradients(tf.reduce_prod(m, axis=1), m),
            tf.gradients(tf.reduce_logsumexp(m), m),
            tf.gradients(col * row, [col, row]),
            tf.gradients(m + tf.constant([1.0, 2.0, 3.0]), m),
            tf.gradients(tf.reshape(m, [3, 2]) * tf.constant([[1.0, 2.0]]), m),
        ]

    check(build)


def test_placeholders_with_unknown_dims():
    def build(tf):
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        w = tf.constant(M.T)
        y = tf.reduce_sum(tf.square(tf.reduce_sum(x[:, :, None] * w, axis=1)))
        return tf.gradients(y, [x, w])

    check(build, {"x:0": M})


def test_variables_are_differentiated_by_value():
    def build(tf):
        w = tf.Variable(M, name="w")
        v = tf.Variable([0.5, -1.0, 2.0], name="v")
        y = tf.reduce_sum(w * v) + tf.reduce_sum(tf.square(w)) * tf.reduce_sum(v)
        read_twice = tf.reduce_sum(w.read_value() * w.read_value())
        return [
            tf.gradients(y, [w, v]),
            tf.gradients(read_twice, w),
            tf.gradients(y, w.value()),  # a new read that y does not use
        ]

    check(build)


def test_unconnected_stop_gradient_and_integer_paths_give_none():
    def build(tf):
        x = tf.constant([1.0, 2.0])
        u = tf.constant(5.0)
        i = tf.constant([1, 2])
        z = tf.reduce_sum(x * x)
        return [
            tf.gradients(z, [x, u]),
            tf.gradients(tf.reduce_sum(tf.stop_gradient(x) * 2.0), x),
            tf.gradients(tf.cast(tf.cast(x, tf.int32), tf.float32) * 2.0, x),
            tf.gradients(tf.cast(i, tf.float32) * 2.0, i),
            tf.gradients(tf.floor(x) + tf.round(x), x),
            tf.gradients(tf.zeros_like(x), x),
            tf.gradients(tf.reduce_sum(tf.ones_like(x) * 3.0), x),
            tf.gradients(x, x),
        ]

    check(build)


def test_stop_gradient_grad_ys_and_stop_gradients_argument():
    def build(tf):
        x = tf.constant([1.0, 2.0])
        a = x * 2.0
        y = a * a + x
        return [
            tf.gradients(x * 3.0, x, grad_ys=tf.constant([10.0, 100.0])),
            tf.gradients([x * 3.0, x * x], x, grad_ys=[None, tf.constant([2.0, 3.0])]),
            tf.gradients(tf.reduce_sum(tf.stop_gradient(x * x) * x), x),
            tf.gradients(tf.reduce_sum(x * x + 2.0 * x), x, stop_gradients=[x]),
            tf.gradients(y, x, stop_gradients=[a]),
            tf.gradients(y, [x, a], stop_gradients=[a]),
            tf.gradients(y, [x, a]),  # x's gradient includes the path through a
            tf.gradients(y, [a, x]),
        ]

    check(build)


def test_gradients_of_gradients_and_hessians():
    def build(tf):
        x = tf.constant([1.0, 2.0])
        w = tf.Variable([[1.0, -1.0], [0.5, 2.0]], name="w")
        s = tf.reduce_sum(x * x * x)
        g = tf.gradients(s, x)[0]
        a = x * 2.0
        inner = tf.gradients(tf.reduce_sum(a * x), a)[0]  # = x
        q = tf.reduce_sum(tf.square(tf.reduce_sum(w * x, axis=1)))
        gw = tf.gradients(q, w)[0]
        return [
            tf.gradients(g, x),
            tf.gradients(tf.reduce_sum(g * g), x),
            tf.gradients(inner, x),
            tf.gradients(tf.reduce_sum(gw * gw), [w]),
            tf.hessians(s, x),
            tf.hessians(q, [x, w]),
        ]

    check(build)


def test_names_scopes_and_errors():
    g = tfs.Graph()
    with g.as_default():
        x = tfs.constant(2.0)
        first = tfs.gradients(x * x, x)[0]
        second = tfs.gradients(x * x, x)[0]
        named = tfs.gradients(x * x, x, name="mygrads")[0]
        assert first.name.startswith("gradients/")
        assert second.name.startswith("gradients_1/")
        assert named.name.startswith("mygrads/")
        assert tfs.gradients([], [x]) == [None]
        assert tfs.gradients(x * x, []) == []
        zero = tfs.gradients(x * x, tfs.constant(1.0), unconnected_gradients="zero")[0]
        with pytest.raises(ValueError, match="Length mismatch"):
            tfs.gradients([x, x], [x], grad_ys=[x])
        with tfs.Session() as sess:
            assert sess.run(zero) == 0.0


def test_clip_ops():
    def build(tf):
        a = tf.constant([3.0, 4.0])
        b = tf.constant(M)
        z = tf.zeros([2, 2])
        clipped, norm = tf.clip_by_global_norm([a, None, b], 2.0)
        big, big_norm = tf.clip_by_global_norm([a], 100.0)
        used, _ = tf.clip_by_global_norm([a, b], 1.0, use_norm=tf.constant(10.0))
        return [
            clipped,
            norm,
            big,
            big_norm,
            used,
            tf.clip_by_norm(b, 1.0),
            tf.clip_by_norm(b, 1.0, axes=[1]),
            tf.clip_by_norm(z, 1.0),
            tf.clip_by_norm(a, 10.0),
            tf.global_norm([a, b]),
            tf.clip_by_average_norm(b, 0.5),
            tf.gradients(tf.reduce_sum(tf.clip_by_norm(b, 1.0)), b),
        ]

    check(build)
    exp, act = [], []
    for tf, out in ((tf1(), exp), (tfs, act)):
        with tf.Graph().as_default():
            a = tf.constant([3.0, 4.0])
            cl, n = tf.clip_by_global_norm([a, None, a], 2.0)
            out += [cl[0].name, cl[1], cl[2].name, n.name, tf.clip_by_norm(a, 1.0).name]
            with pytest.raises(TypeError, match="should be a sequence of tensors"):
                tf.global_norm(a)
    assert act == exp


def test_random_ops_are_not_redrawn_for_the_gradient():
    # TF's streams differ from tfstyle's, so this checks against the forward values instead.
    with tfs.Graph().as_default():
        x = tfs.placeholder(tfs.float32, [None, 200], name="x")
        w = tfs.Variable(np.full([200], 2.0, np.float32), name="w")
        y = tfs.nn.dropout(x * w, rate=0.5)
        gx, gw = tfs.gradients(tfs.reduce_sum(y), [x, w])
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            yv, gxv, gwv = sess.run([y, gx, gw], {x: np.ones([3, 200], np.float32)})
    assert 0.2 < (yv == 0).mean() < 0.8
    np.testing.assert_allclose(gxv, yv)  # d/dx (x * w * mask / 0.5) = w * mask * 2 = y at x = 1
    np.testing.assert_allclose(gwv, yv.sum(axis=0) / 2)
