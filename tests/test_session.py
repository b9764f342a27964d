"""Session.run: fetch structures, feeds, errors, default sessions, threads, tracing, interop."""

import collections
import threading

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import tfstyle
import tfstyle.compat.v1 as tfs
from tests.oracle import tf1


def both(fn):
    """Runs ``fn(tf)`` with TF and tfstyle in a fresh graph each; returns (tf, tfstyle) results."""
    out = []
    for tf in (tf1(), tfs):
        with tf.Graph().as_default():
            out.append(fn(tf))
    return out


def outcome(fn, *phrases):
    """``fn()``'s value, or its exception class and which of ``phrases`` its message has."""
    try:
        return ("ok", fn())
    except Exception as e:  # noqa: BLE001 - the class is what is compared
        return (type(e).__name__,) + tuple(p for p in phrases if p in str(e))


def _same(a, b):
    if isinstance(a, (list, tuple)):
        assert type(a) is type(b) and len(a) == len(b), (a, b)
        for x, y in zip(a, b):
            _same(x, y)
    elif isinstance(a, dict):
        assert type(a) is type(b) and a.keys() == b.keys(), (a, b)
        for k in a:
            _same(a[k], b[k])
    elif isinstance(a, (np.ndarray, np.generic)):
        assert type(a) is type(b), (a, b)
        assert a.dtype == b.dtype and np.shape(a) == np.shape(b), (a, b)
        if a.dtype == object:
            assert a.tolist() == b.tolist(), (a, b)
        else:
            np.testing.assert_allclose(a, b, rtol=1e-6)
    else:
        assert a == b, (a, b)


P = collections.namedtuple("P", "a b")


def test_fetch_structures_and_result_types():
    def fn(tf):
        x = tf.placeholder(tf.float32, [2], name="x")
        c = tf.constant(3.0, name="c")
        i = tf.constant([1, 2], dtype=tf.int64)
        y = x * c
        v = tf.Variable(2.0, name="v")
        with tf.Session() as s:
            s.run(v.initializer)
            return [
                s.run(c),
                s.run(i),
                s.run([y, y, c], {x: [1, 2]}),
                s.run((y.op, c), {x: [1, 2]}),
                s.run({"a": [y, (c, y)], "b": P(c, y.op)}, {x: [1, 2]}),
                s.run(collections.OrderedDict([("z", c), ("a", i)])),
                s.run("c:0"),
                s.run("c"),
                s.run(v),
                s.run(x, {x: [5, 6]}),
                s.run(y, {"x:0": np.array([1.0, 1.0])}),
                s.run(y, {c: 2.0, x: [1.0, 2.0]}),
                s.run(tf.constant(True)),
                s.run([]),
                s.run({}),
            ]

    exp, act = both(fn)
    _same(exp, act)


def test_fetch_and_feed_errors_match_tf():
    def fn(tf):
        x = tf.placeholder(tf.float32, [2], name="x")
        z = tf.placeholder(tf.float32, [None, 3], name="z")
        c = tf.constant(3.0, name="c")
        y = x * c
        g2 = tf.Graph()
        with g2.as_default():
            other = tf.constant(1.0)
        with tf.Session() as s:
            return [
                outcome(lambda: s.run(other), "cannot be interpreted as a Tensor"),
                outcome(lambda: s.run("nope:0"), "does not exist"),
                outcome(lambda: s.run("nope"), "not in the graph"),
                outcome(lambda: s.run(3), "has invalid type"),
                outcome(lambda: s.run(None), "Cannot be None"),
                outcome(lambda: s.run(y, {other: 1.0}), "not an element of this graph"),
                outcome(lambda: s.run(y, {x: c}), "The value of a feed cannot be a tf.Tensor"),
                outcome(lambda: s.run(y, {"nope:0": [1.0, 2.0]}), "Cannot interpret feed_dict"),
                outcome(lambda: s.run(y, {3: [1.0, 2.0]}), "Cannot interpret feed_dict key"),
                outcome(lambda: s.run(y, {x: [1.0, 2.0, 3.0]}), "Cannot feed value of shape (3,)"),
                outcome(lambda: s.run(z + 1, {z: np.zeros((2, 2))}), "which has shape (None, 3)"),
                # After a batch that fits, another shape is checked again.
                outcome(lambda: s.run(z + 1, {z: np.zeros((5, 3))}).shape),
                outcome(lambda: s.run(z + 1, {z: np.zeros((5, 4))}), "which has shape (None, 3)"),
                outcome(lambda: s.run(y, {x: ["a", "b"]})),
                outcome(lambda: s.run(y), "You must feed a value for placeholder tensor 'x'"),
                outcome(lambda: s.run(z * 2), "with dtype float and shape [?,3]"),
            ]

    exp, act = both(fn)
    assert act == exp


def test_runtime_shape_mismatch_is_invalid_argument():
    def fn(tf):
        a = tf.placeholder(tf.float32, [None, 3])
        b = tf.placeholder(tf.float32, [None, 3])
        with tf.Session() as s:
            return outcome(
                lambda: s.run(a + b, {a: np.zeros((2, 3)), b: np.zeros((4, 3))}),
                "Incompatible shapes",
            )

    exp, act = both(fn)
    assert act == exp


def test_uninitialized_variable_raises_before_dispatch_and_keeps_state():
    def fn(tf):
        v = tf.Variable(1.0, name="v")
        w = tf.Variable(5.0, name="w")
        inc_w_then_read_v = [tf.assign_add(w, 1.0), v + 1.0]
        with tf.Session() as s:
            s.run(w.initializer)
            err = outcome(lambda: s.run(inc_w_then_read_v), "uninitialized", "v")
            return err, s.run(w)

    (exp_err, exp_w), (act_err, act_w) = both(fn)
    assert act_err[0] == exp_err[0] == "FailedPreconditionError"
    assert "v" in act_err
    # tfstyle checks before dispatch, so the assign in the same run did not happen.
    assert act_w == 5.0


def test_closed_session_and_finalized_graph():
    def fn(tf):
        c = tf.constant(1.0)
        s = tf.Session()
        s.close()
        closed = outcome(lambda: s.run(c), "Attempted to use a closed Session.")
        tf.get_default_graph().finalize()
        final = outcome(lambda: tf.constant(2.0), "Graph is finalized and cannot be modified.")
        return closed, final

    exp, act = both(fn)
    assert act == exp


def test_default_sessions_eval_and_run():
    def fn(tf):
        v = tf.Variable(3.0, name="v")
        y = v * 2.0
        out = [outcome(lambda: y.eval(), "No default session")]
        with tf.Session() as s:
            assert tf.get_default_session() is s
            v.initializer.run()
            out.append(y.eval())
            out.append(v.eval())
            out.append(tf.assign(v, 4.0).eval())
        out.append(tf.get_default_session() is None)
        s2 = tf.Session()
        with s2.as_default():
            tf.global_variables_initializer().run()
            out.append(y.eval(session=s2))
        s2.close()
        sess = tf.InteractiveSession()
        tf.global_variables_initializer().run()
        out.append(y.eval())
        sess.close()
        out.append(tf.get_default_session() is None)
        return out

    exp, act = both(fn)
    _same(exp, act)


def test_make_callable_and_several_sessions_on_one_graph():
    def fn(tf):
        x = tf.placeholder(tf.float32, [None], name="x")
        v = tf.Variable(1.0)
        y = x * v
        inc = tf.assign_add(v, 1.0)
        with tf.Session() as a, tf.Session() as b:
            a.run(v.initializer)
            b.run(v.initializer)
            a.run(inc)
            f = a.make_callable(y, [x])
            return [f([1.0, 2.0]), b.run(y, {x: [1.0, 2.0]}), a.run(v), b.run(v)]

    exp, act = both(fn)
    _same(exp, act)


def test_config_protos_accepted():
    config = tfs.ConfigProto(log_device_placement=True, allow_soft_placement=True)
    config.gpu_options.allow_growth = True
    opts = tfs.RunOptions(trace_level=tfs.RunOptions.FULL_TRACE)
    meta = tfs.RunMetadata()
    with tfs.Graph().as_default():
        c = tfs.constant(2.0)
        with tfs.Session(config=config) as s:
            assert s.run(c, options=opts, run_metadata=meta) == 2.0


def test_eight_threads_increment_counter_without_losing_updates():
    with tfs.Graph().as_default():
        v = tfs.Variable(0, name="counter")
        inc = tfs.assign_add(v, 1)
        with tfs.Session() as s:
            s.run(v.initializer)
            s.run(inc)  # compile once before the threads start

            def work():
                for _ in range(50):
                    s.run(inc)

            threads = [threading.Thread(target=work) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert s.run(v) == 1 + 8 * 50


def test_training_loop_traces_once():
    with tfs.Graph().as_default():
        x = tfs.placeholder(tfs.float32, [None, 2])
        w = tfs.Variable(np.ones((2, 1), np.float32))
        y = x * tfs.reshape(w, [1, 2])
        step = tfs.assign_add(w, np.full((2, 1), 0.5, np.float32))
        with tfs.Session() as s:
            s.run(w.initializer)
            s.run([step, y], {x: np.ones((4, 2), np.float32)})
            before = tfstyle.compiler.trace_count()
            for i in range(20):
                s.run([step, y], {x: np.full((4, 2), i, np.float32)})
            assert tfstyle.compiler.trace_count() == before
            # A new batch size is a new shape: jax.jit traces again, once.
            s.run([step, y], {x: np.ones((3, 2), np.float32)})
            s.run([step, y], {x: np.ones((3, 2), np.float32)})
            assert tfstyle.compiler.trace_count() == before + 1


def test_ops_created_in_the_loop_do_not_retrace_existing_runs():
    with tfs.Graph().as_default():
        v = tfs.Variable(1.0)
        inc = tfs.assign_add(v, 1.0)
        with tfs.Session() as s:
            s.run(v.initializer)
            s.run(inc)
            before = tfstyle.compiler.trace_count()
            for _ in range(5):
                tfs.sigmoid(tfs.constant(1.0))  # a new op each iteration, as some scripts do
                s.run(inc)
            assert tfstyle.compiler.trace_count() == before
            assert s.run(v) == 7.0


def test_state_pytree_read_and_replace():
    with tfs.Graph().as_default():
        with tfs.name_scope("dense"):
            k = tfs.Variable(np.ones((2, 2), np.float32), name="kernel")
        y = k * 2.0
        with tfs.Session() as s:
            s.run(k.initializer)
            assert set(s.state) == {"dense/kernel"}
            s.state = {"dense/kernel": np.full((2, 2), 3.0, np.float32)}
            np.testing.assert_allclose(s.run(y), np.full((2, 2), 6.0))
            s.load_state({"dense/kernel": jnp.zeros((2, 2))})
            np.testing.assert_allclose(s.run(k), np.zeros((2, 2)))


def test_to_jax_step_is_pure_and_composes_with_jax_transforms():
    with tfs.Graph().as_default():
        x = tfs.placeholder(tfs.float32, [3], name="x")
        v = tfs.Variable([1.0, 2.0, 3.0], name="v")
        y = x * v
        update = tfs.assign(v, v * 2.0)
        step, state = tfstyle.to_jax({"y": y, "new": update}, feeds=[x])
        assert set(state) == {"v"}
        out, new_state = jax.jit(step)(state, [jnp.ones(3)])
        np.testing.assert_allclose(out["y"], [1.0, 2.0, 3.0])
        np.testing.assert_allclose(new_state["v"], [2.0, 4.0, 6.0])
        np.testing.assert_allclose(state["v"], [1.0, 2.0, 3.0])  # the input state is untouched
        grad = jax.grad(lambda s: step(s, [jnp.arange(3.0)])[0]["y"].sum())(state)
        np.testing.assert_allclose(grad["v"], [0.0, 1.0, 2.0])
        batched = jax.vmap(lambda xb: step(state, [xb])[0]["y"])(jnp.ones((4, 3)))
        assert batched.shape == (4, 3)
        with tfs.Session() as s:
            s.run(v.initializer)
            s.run(update)
            _, from_session = tfstyle.to_jax(y, feeds=[x], session=s)
            np.testing.assert_allclose(from_session["v"], [2.0, 4.0, 6.0])


@pytest.mark.parametrize("dtype", ["int64", "float64"])
def test_64bit_values_stay_64bit(dtype):
    def fn(tf):
        x = tf.placeholder(dtype, [2])
        c = tf.constant(np.array([2**40, 3], dtype=dtype))
        with tf.Session() as s:
            return s.run(x + c, {x: np.array([1, 2], dtype=dtype)})

    exp, act = both(fn)
    _same(exp, act)
    assert not jax.config.jax_enable_x64  # the user's global JAX setting is untouched


def test_string_placeholders_feed_string_ops():
    def fn(tf):
        p = tf.placeholder(tf.string, [], name="p")
        q = tf.placeholder(tf.string, [None], name="q")
        x = tf.placeholder(tf.float32, [2])
        with tf.Session() as s:
            return [
                s.run(p, {p: "abc"}),
                s.run([tf.strings.join([p, "x"], separator="-"), x * 2], {p: "abc", x: [1, 2]}),
                list(s.run(tf.strings.join([q, p]), {p: "abc", q: ["u", b"v"]})),
            ]

    exp, act = both(fn)
    _same(exp, act)
