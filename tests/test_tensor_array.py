"""``tf.TensorArray`` (``tfstyle/ops/tensor_array_ops.py``), built alike in tfstyle and real TF:
op types and names, static shapes, dtypes, values, gradients, errors, and training through
a hand-written RNN."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.op_check import check
from tests.oracle import tf1
from tfstyle.framework import errors as tfs_errors

X = np.arange(15, dtype=np.float32).reshape(5, 3) / 7.0


def _shape(t):
    s = t.shape
    return None if s.ndims is None else tuple(s.as_list())


def _program(tf):
    """Tensors computed with TensorArrays, outside and inside loops and conds."""
    x = tf.placeholder(tf.float32, [5, 3], name="x")
    out = {}
    ta = tf.TensorArray(tf.float32, size=5)
    ta1 = ta.write(0, x[0]).write(1, x[1] * 2.0)
    out["read"] = ta1.read(1)
    out["read_named"] = ta1.read(0, name="r")
    full = ta1.write(2, x[2]).write(3, x[3]).write(4, x[4])
    out["stack"] = full.stack()
    out["gather"] = full.gather([4, 0, 2])
    out["concat"] = full.concat()
    out["size"] = full.size()
    out["identity"] = full.identity().stack(name="after_identity")

    u = tf.TensorArray(tf.float32, size=5).unstack(x)
    out["unstack_read"] = u.read(3)
    out["unstack_gather"] = u.gather(tf.constant([1, 1, 0]))
    sc = tf.TensorArray(tf.float32, size=4, element_shape=[3]).scatter([3, 0], x[:2])
    out["scatter"] = sc.stack()
    sp = tf.TensorArray(tf.float32, size=3).split(tf.reshape(x, [15]), [5, 5, 5])
    out["split"] = sp.stack()
    out["split_concat"] = sp.concat()

    ints = tf.TensorArray(tf.int32, size=2, element_shape=tf.TensorShape([None]))
    ints = ints.write(0, tf.constant([1, 2])).write(1, tf.constant([3, 4]))
    out["int_stack"] = ints.stack()
    out["int_concat"] = ints.concat()

    dyn = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
    dyn = dyn.write(0, x[0]).write(2, x[2])
    out["dyn_size"] = dyn.size()
    out["dyn_stack"] = dyn.stack()

    loose = tf.TensorArray(tf.float32, size=2, infer_shape=False)
    loose = loose.write(0, tf.zeros([2, 2])).write(1, x[:2, :2])
    out["loose_read"] = loose.read(1)

    # A loop writing one row per step into an array of static size.
    zero = tf.constant(0)

    def body(i, acc):
        return i + 1, acc.write(i, x[i] * tf.cast(i + 1, tf.float32))

    _, written = tf.while_loop(lambda i, a: i < 5, body, [zero, tf.TensorArray(tf.float32, 5)])
    out["loop_stack"] = written.stack()

    # A loop reading an unstacked array it captures.
    def total(i, s):
        return i + 1, s + u.read(i) * u.read(4 - i)

    out["loop_read"] = tf.while_loop(lambda i, s: i < 5, total, [zero, tf.zeros([3])])[1]

    # Dynamic size in a loop of known trip count, written at the counter and at ``size()``.
    def grow(i, a, b):
        return i + 1, a.write(i, x[i] + 1.0), b.write(b.size(), x[4 - i])

    arrays = [tf.TensorArray(tf.float32, size=0, dynamic_size=True) for _ in range(2)]
    _, a, b = tf.while_loop(lambda i, a, b: i < 4, grow, [zero, *arrays])
    out["grow_stack"] = a.stack()
    out["grow_size"] = b.size()
    out["grow_concat"] = b.concat()

    # Dynamic size bounded by maximum_iterations, the trip count known only at run time.
    n = tf.placeholder_with_default(3, [], name="n")

    def bounded(i, a):
        return i + 1, a.write(i, x[i] * 3.0)

    _, c = tf.while_loop(lambda i, a: i < n, bounded, [zero, dyn], maximum_iterations=5)
    out["bounded_read"] = c.read(1)
    out["bounded_size"] = c.size()

    # A TensorArray returned by a cond.
    p = tf.placeholder_with_default(True, [], name="p")
    picked = tf.cond(p, lambda: ta.write(0, x[0] * 5.0), lambda: ta.write(0, x[1]))
    out["cond_read"] = picked.read(0)

    # Sizes given as tensors: stack()'s static length is what TF's constant folding knows.
    out["shape_sized"] = tf.TensorArray(tf.float32, size=tf.shape(x)[0]).unstack(x).stack()
    counted = tf.TensorArray(tf.float32, size=tf.size(x[0])).unstack(tf.transpose(x))
    out["size_sized"] = counted.stack()
    listed = tf.TensorArray(tf.float32, size=1, element_shape=tf.TensorShape([2]))
    out["python_write"] = listed.write(0, [1, 2]).stack()
    return out


@pytest.fixture(scope="module")
def both():
    tf = tf1()
    with tf.Graph().as_default():
        theirs = _program(tf)
        with tf.Session() as sess:
            expected = sess.run(theirs, {"x:0": X})
    g = tfs.Graph()
    with g.as_default():
        mine = _program(tfs)
        with tfs.Session() as sess:
            got = sess.run(mine, {"x:0": X})
    return theirs, expected, mine, got


def test_names_types_shapes_dtypes(both):
    theirs, _, mine, _ = both
    for k, t in theirs.items():
        m = mine[k]
        assert m.name == t.name, k
        assert m.op.type == t.op.type, k
        assert m.dtype.name == t.dtype.name, k
        assert _shape(m) == _shape(t), k


def test_values(both):
    _, expected, _, got = both
    assert sorted(got) == sorted(expected)
    for k in expected:
        np.testing.assert_allclose(got[k], expected[k], rtol=1e-6, err_msg=k)
        assert np.asarray(got[k]).dtype == np.asarray(expected[k]).dtype, k


def _graph_ops(tf):
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [4, 2], name="x")
        ta = tf.TensorArray(tf.float32, size=4, name="arr")
        ta = ta.write(0, x[0]).unstack(x)
        ta.read(1)
        ta.stack()
        ta.gather([0, 1])
        ta.concat()
        ta.size()
        ta.close()
        ta.identity()
        ta.scatter([1, 2], x[:2]).split(tf.reshape(x, [8]), [2, 2, 2, 2])
        tf.TensorArray(tf.float32, size=0, dynamic_size=True).size()
        tf.TensorArray(tf.float32, flow=ta.flow).read(0)  # wraps a flow (uses a name scope)
        tf.TensorArray(tf.float32, size=1)
    return [(op.name, op.type) for op in g.get_operations()]


def test_graph_ops_match_tf():
    assert _graph_ops(tfs) == _graph_ops(tf1())


def _element_shapes(tf):
    shapes = []
    ta = tf.TensorArray(tf.float32, size=3, element_shape=[None, 2])
    shapes.append(ta.element_shape)
    w = ta.write(0, tf.zeros([4, 2]))
    shapes += [ta.element_shape, w.element_shape]  # shared: the first write narrows both
    u = tf.TensorArray(tf.float32, size=3).unstack(tf.zeros([3, 5]))
    shapes.append(u.element_shape)
    s = tf.TensorArray(tf.float32, size=2).split(tf.zeros([6, 2]), [3, 3])
    shapes.append(s.element_shape)
    loose = tf.TensorArray(tf.float32, size=2, infer_shape=False).write(0, tf.zeros([1]))
    shapes.append(loose.element_shape)
    return [str(s) for s in shapes]


def test_element_shape_inference():
    tf = tf1()
    with tf.Graph().as_default():
        expected = _element_shapes(tf)
    with tfs.Graph().as_default():
        assert _element_shapes(tfs) == expected


def _construction_errors(tf):
    found = []

    def attempt(fn):
        try:
            fn()
            found.append(None)
        except Exception as e:  # noqa: BLE001 - comparing TF's exception
            found.append((type(e).__name__, str(e)))

    ta = tf.TensorArray(tf.float32, size=2)
    ta.write(0, tf.zeros([3]))
    attempt(lambda: ta.write(1, tf.zeros([2])))
    attempt(lambda: ta.unstack(tf.zeros([2, 4])))
    attempt(lambda: ta.scatter([0], tf.zeros([1, 1])))
    attempt(lambda: tf.TensorArray(tf.float32))
    attempt(lambda: tf.TensorArray(tf.float32, size=2, flow=tf.zeros([])))
    flow = tf.TensorArray(tf.float32, size=2).flow
    attempt(lambda: tf.TensorArray(tf.float32, size=2, flow=flow))
    attempt(lambda: tf.TensorArray(tf.float32, flow=flow, element_shape=[2]))
    attempt(lambda: ta.grad("source"))
    return found


def test_construction_errors_match_tf():
    tf = tf1()
    with tf.Graph().as_default():
        expected = _construction_errors(tf)
    with tfs.Graph().as_default():
        got = _construction_errors(tfs)
    assert got == expected


def test_wrong_dtype_fails_when_run_as_in_tf():
    tf = tf1()
    messages = []
    for lib, error in (
        (tf, tf.errors.InvalidArgumentError),
        (tfs, tfs_errors.InvalidArgumentError),
    ):
        with lib.Graph().as_default():
            ta = lib.TensorArray(lib.float32, size=2)
            w = ta.write(0, lib.constant([1, 2, 3], lib.int32))  # TF only logs an error here
            assert w.flow.op.get_attr("element_dtype") == lib.int32
            with lib.Session() as sess, pytest.raises(error) as e:
                sess.run(w.stack())
            messages.append(str(e.value))
    assert "Invalid data types; op elements int32 but list elements float" in messages[0]
    assert "Invalid data types; op elements int32 but list elements float" in messages[1]


def _written_while_below(tf):
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    n = tf.placeholder(tf.int32, [], name="n")
    ta = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
    _, ta = tf.while_loop(lambda i, a: i < n, lambda i, a: (i + 1, a.write(i, x[i % 5] + 1.0)),
                          [0, ta])  # fmt: skip
    return [ta.size(), ta.read(n - 1), ta.read(0)]


def test_dynamic_size_array_in_a_loop_of_a_fed_trip_count():
    # The loop's iterations are known only when the step runs: the array gets room for a
    # capacity of them that the run checks (45 grow it, and that run runs again).
    for n in (3, 45, 7):
        check(_written_while_below, {"x:0": X, "n:0": n})


def _gradients(tf):
    x = tf.placeholder(tf.float32, [5, 3], name="x")
    w = tf.Variable(np.linspace(-1.0, 1.0, 9, dtype=np.float32).reshape(3, 3), name="w")
    grads = {}

    def loss_of(t):
        return tf.reduce_sum(tf.sin(t) * t)

    ta = tf.TensorArray(tf.float32, size=5).unstack(tf.matmul(x, w))
    grads["unstack_stack"] = loss_of(ta.stack())
    grads["read"] = loss_of(ta.read(2) * ta.read(4))
    grads["gather"] = loss_of(ta.gather([3, 3, 1]))
    grads["concat"] = loss_of(ta.concat())
    sc = tf.TensorArray(tf.float32, size=6).scatter([5, 0, 2, 1, 3], x * 2.0)
    sc = sc.write(4, tf.matmul(x[:1], w)[0])
    grads["scatter_write"] = loss_of(sc.stack())
    sp = tf.TensorArray(tf.float32, size=5).split(tf.reshape(tf.matmul(x, w), [15]), [3] * 5)
    grads["split"] = loss_of(sp.stack())

    def body(i, h, out):
        h = tf.tanh(tf.matmul(h[None], w)[0] + ta.read(i))
        return i + 1, h, out.write(i, h)

    loop = [tf.constant(0), tf.zeros([3]), tf.TensorArray(tf.float32, size=5)]
    _, _, hs = tf.while_loop(lambda i, h, o: i < 5, body, loop)
    grads["loop"] = loss_of(hs.stack())
    dyn = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
    _, _, dyn = tf.while_loop(lambda i, h, o: i < 5, body, [loop[0], loop[1], dyn],
                              maximum_iterations=5)  # fmt: skip
    grads["loop_dynamic"] = loss_of(dyn.stack())
    return {k: tf.gradients(v, [x, w]) for k, v in grads.items()}


def test_gradients_match_tf():
    tf = tf1()
    with tf.Graph().as_default():
        theirs = _gradients(tf)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            expected = sess.run(theirs, {"x:0": X})
    with tfs.Graph().as_default():
        mine = _gradients(tfs)
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            got = sess.run(mine, {"x:0": X})
    for k in expected:
        for g, e in zip(got[k], expected[k]):
            np.testing.assert_allclose(g, e, rtol=1e-5, atol=1e-6, err_msg=k)


def _rnn_training(tf, dynamic):
    """A small RNN written by hand: TensorArrays in a while_loop, trained for 3 steps."""
    rng = np.random.RandomState(0)
    xs = rng.randn(6, 4, 3).astype(np.float32)  # [time, batch, features]
    ys = rng.randn(4, 2).astype(np.float32)
    x = tf.placeholder(tf.float32, [6, 4, 3], name="x")
    y = tf.placeholder(tf.float32, [4, 2], name="y")
    wx = tf.Variable(rng.randn(3, 5).astype(np.float32) * 0.5, name="wx")
    wh = tf.Variable(rng.randn(5, 5).astype(np.float32) * 0.5, name="wh")
    wo = tf.Variable(rng.randn(5, 2).astype(np.float32) * 0.5, name="wo")
    inputs = tf.TensorArray(tf.float32, size=6).unstack(x)
    if dynamic:
        outputs = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
    else:
        outputs = tf.TensorArray(tf.float32, size=6)

    def body(t, h, out):
        h = tf.tanh(tf.matmul(inputs.read(t), wx) + tf.matmul(h, wh))
        return t + 1, h, out.write(t, h)

    _, h, outputs = tf.while_loop(lambda t, h, o: t < 6, body,
                                  [tf.constant(0), tf.zeros([4, 5]), outputs],
                                  maximum_iterations=6)  # fmt: skip
    states = outputs.stack()
    pred = tf.matmul(tf.reduce_mean(states, axis=0) + h, wo)
    loss = tf.reduce_mean(tf.square(pred - y))
    train = tf.train.AdamOptimizer(0.05).minimize(loss)
    losses = []
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        for _ in range(3):
            losses.append(sess.run([train, loss], {x: xs, y: ys})[1])
        return losses, sess.run([wx, wh, wo])


@pytest.mark.parametrize("dynamic", [False, True])
def test_training_a_hand_written_rnn_matches_tf(dynamic):
    tf = tf1()
    with tf.Graph().as_default():
        expected = _rnn_training(tf, dynamic)
    with tfs.Graph().as_default():
        got = _rnn_training(tfs, dynamic)
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-5)
    for g, e in zip(got[1], expected[1]):
        np.testing.assert_allclose(g, e, rtol=1e-4, atol=1e-5)


def test_graph_def_runs_in_tf():
    """tfstyle's GraphDef of the TensorArray program gives TF the same values."""
    g = tfs.Graph()
    with g.as_default():
        mine = _program(tfs)
        with tfs.Session() as sess:
            got = sess.run(mine, {"x:0": X})
    tf = tf1()
    with tf.Graph().as_default():
        tf.import_graph_def(tf.GraphDef.FromString(g.as_graph_def().SerializeToString()), name="")
        with tf.Session() as sess:
            expected = sess.run({k: t.name for k, t in mine.items()}, {"x:0": X})
    for k in expected:
        np.testing.assert_allclose(got[k], expected[k], rtol=1e-6, err_msg=k)


def _v1_tensor_arrays(tf):
    """TF 1.x TensorArrays (``TensorArrayV3``, ``TensorArraySplitV3``, ``TensorArrayConcatV3``,
    their gradients) and a v1 loop writing one."""
    x = tf.placeholder(tf.float32, [4, 3], name="x")
    ta = tf.TensorArray(tf.float32, size=2, clear_after_read=False)
    ta = ta.split(tf.reshape(x, [12]) * 2.0, [6, 6])
    cat = ta.concat(name="cat")
    second = ta.read(1, name="second")
    rows = tf.TensorArray(tf.float32, size=4).unstack(tf.sin(x))
    rows_cat = rows.concat(name="rows_cat")

    def body(i, acc):
        row = x[i][None]
        return [i + 1, acc.write(i, tf.tile(row, [2, 1]) * tf.cast(i, tf.float32))]

    out = tf.TensorArray(tf.float32, size=4)
    _, out = tf.while_loop(lambda i, a: i < 4, body, [tf.constant(0), out], maximum_iterations=4)
    loop_cat = tf.identity(out.concat(), name="loop_cat")
    loss = (tf.reduce_sum(cat * cat) + tf.reduce_sum(second) + tf.reduce_sum(rows_cat * x[0, 0])
            + tf.reduce_sum(tf.square(loop_cat)))  # fmt: skip
    grad = tf.identity(tf.gradients(loss, x)[0], name="grad")
    return [t.name for t in (cat, second, rows_cat, loop_cat, grad)]


def test_v1_tensor_array_concat_split_import():
    from tests.test_graph_io_v1_control_flow import _v1_control_flow

    with _v1_control_flow() as tf:
        g = tf.Graph()
        with g.as_default():
            fetches = _v1_tensor_arrays(tf)
            gd = g.as_graph_def()
            types = {n.op for n in gd.node}
            assert {"TensorArrayConcatV3", "TensorArraySplitV3", "Enter"} <= types
            with tf.Session() as sess:
                expected = sess.run(fetches, {"x:0": X[:4]})
    with tfs.Graph().as_default():
        tfs.import_graph_def(gd, name="")
        with tfs.Session() as sess:
            got = sess.run(fetches, {"x:0": X[:4]})
    for g_, e, name in zip(got, expected, fetches):
        np.testing.assert_allclose(g_, e, rtol=1e-5, atol=1e-6, err_msg=name)


def test_stack_of_a_length_known_only_at_run_time():
    """A dynamic-size array grown by a loop whose trip count is fed: reads and size() run; so
    does stack(), the step specialized on the fed count (as for other sizes computed from small
    integer feeds). Where the count comes from a float value, stack() reports that the length
    is not known at compile time."""
    with tfs.Graph().as_default():
        x = tfs.placeholder(tfs.float32, [5, 3], name="x")
        n = tfs.placeholder(tfs.int32, [], name="n")
        ta = tfs.TensorArray(tfs.float32, size=0, dynamic_size=True)
        body = lambda i, a: (i + 1, a.write(i, x[i]))  # noqa: E731
        _, ta = tfs.while_loop(lambda i, a: i < n, body, [0, ta], maximum_iterations=5)
        fresh = tfs.TensorArray(tfs.float32, size=0, dynamic_size=True)
        _, ta_f = tfs.while_loop(lambda i, a: tfs.cast(i, tfs.float32) < x[0, 0], body,
                                 [0, fresh], maximum_iterations=5)  # fmt: skip
        with tfs.Session() as sess:
            size, row = sess.run([ta.size(), ta.read(2)], {x: X, n: 3})
            assert size == 3
            np.testing.assert_allclose(row, X[2])
            for k in (3, 5, 1):
                np.testing.assert_allclose(sess.run(ta.stack(), {x: X, n: k}), X[:k])
            with pytest.raises(tfs_errors.InvalidArgumentError) as e:
                sess.run(ta_f.stack(), {x: X + 2.0})
    assert "TensorArrayV2Stack_3/TensorListStack" in str(e.value)
    assert "only known when the step runs" in str(e.value)


# -- split into an array that is not fresh: TF 1.x (imported) and TensorList-based arrays --------
SPLIT_VALUE = np.arange(12, dtype=np.float32).reshape(6, 2)
# name: (TensorArray arguments, split lengths, write before/after the split or a second split,
# what to fetch)
SPLIT_CASES = {
    "fits": (dict(size=3), [2, 2, 2], None, ["r1", "r3", "stack", "concat"]),
    "larger": (dict(size=5), [2, 2, 2], None, ["r0", "r4", "stack", "concat", "size"]),
    "larger_dynamic": (dict(size=5, dynamic_size=True), [2, 2, 2], None, ["r0", "r4", "stack"]),
    "smaller": (dict(size=2), [2, 2, 2], None, ["r0", "concat"]),
    "smaller_dynamic": (dict(size=2, dynamic_size=True), [2, 2, 2], None, ["r2", "stack", "size"]),
    "empty_dynamic": (dict(size=0, dynamic_size=True), [2, 2, 2], None, ["r2", "concat", "size"]),
    "uneven": (dict(size=3), [1, 2, 3], None, ["r1"]),
    "written_at_0": (dict(size=3), [2, 2, 2], ("write", 0), ["r0", "concat"]),
    "written_at_2": (dict(size=3), [2, 2, 2], ("write", 2), ["r0"]),
    "scattered": (dict(size=3), [2, 2, 2], ("scatter", [2, 1]), ["r0"]),
    "grown_by_a_write": (dict(size=2, dynamic_size=True), [2, 2, 2], ("write", 4), ["r0"]),
    "split_twice": (dict(size=3), [2, 2, 2], ("split", None), ["r1"]),
    "write_after": (dict(size=3, dynamic_size=True), [2, 2, 2], ("after", 4), ["r3", "stack"]),
    "sum_too_small": (dict(size=3), [2, 2, 1], None, ["r1"]),
    "sum_too_large": (dict(size=3), [2, 2, 3], None, ["r1"]),
    "scalar": (dict(size=1), [1], ("scalar", None), ["r0"]),
    # Elements of different shapes (infer_shape=False): read, concat, and stacked or gathered
    # only where the shapes agree.
    "uneven_loose": (dict(size=3, infer_shape=False), [1, 3, 2], None,
                     ["r0", "r1", "r2", "concat", "stack", "g20", "g1", "size"]),
    "uneven_gather": (dict(size=3, infer_shape=False), [1, 4, 1], None, ["g02", "g20", "g01"]),
    "uneven_empty_piece": (dict(size=3, infer_shape=False), [2, 0, 4], None, ["r1", "concat"]),
    "uneven_smaller_dynamic": (dict(size=2, dynamic_size=True, infer_shape=False), [1, 3, 2],
                               None, ["r2", "concat", "size"]),
    "uneven_grown": (dict(size=3, dynamic_size=True, infer_shape=False), [1, 3, 2], ("after", 4),
                     ["r3", "r4", "concat", "stack", "size"]),
    "uneven_grown_shaped": (dict(size=3, dynamic_size=True, infer_shape=False,
                                 element_shape=[None, 2]), [1, 3, 2], ("after", 4), ["r3", "r4"]),
    "uneven_grown_wider": (dict(size=3, dynamic_size=True, infer_shape=False), [1, 3, 2],
                           ("after_wider", 3), ["r3", "g3", "concat"]),
}  # fmt: skip


def _split_case(tf, kwargs, lengths, extra, fetch):
    ta = tf.TensorArray(tf.float32, **kwargs)
    kind, arg = extra or (None, None)
    value = tf.constant(3.0 if kind == "scalar" else SPLIT_VALUE)
    if kind == "write":
        ta = ta.write(arg, tf.ones([2, 2]))
    elif kind == "scatter":
        ta = ta.scatter(arg, tf.ones([len(arg), 2, 2]))
    ta = ta.split(value, lengths)
    if kind == "split":
        ta = ta.split(value, lengths)
    elif kind == "after":
        ta = ta.write(arg, tf.ones([2, 2]))
    elif kind == "after_wider":
        ta = ta.write(arg, tf.ones([1, 3]))
    outs = {}
    for k in fetch:
        if k[0] == "r":
            outs[k] = ta.read(int(k[1:]))
        elif k[0] == "g":
            outs[k] = ta.gather([int(c) for c in k[1:]])
        else:
            outs[k] = getattr(ta, k)()
    return outs


def _error_text(e):
    """The kernel's message of a run error (TF prefixes where the node was defined) with the
    TensorArray's run-time name (a process-wide counter in TF) left out."""
    import re

    lines = str(getattr(e, "message", e)).splitlines()
    at = next(i for i, line in enumerate(lines) if "[[{{node" in line)
    return (
        type(e).__name__,
        re.sub(r"^TensorArray \S+: ", "TensorArray: ", lines[at - 1]),
        lines[at],
    )


def _run_each(tf, graph, tensors):
    got = {}
    with tf.Session(graph=graph) as sess:
        for k, t in tensors.items():
            try:
                got[k] = sess.run(t)
            except Exception as e:  # noqa: BLE001 - compared with TF's
                got[k] = _error_text(e)
    return got


def _assert_same(got, expected):
    for k, e in expected.items():
        if isinstance(e, tuple):
            assert got[k] == e, k
        else:
            assert not isinstance(got[k], tuple), (k, got[k])
            np.testing.assert_array_equal(got[k], e, err_msg=k)


@pytest.mark.parametrize("case", sorted(SPLIT_CASES))
def test_v1_tensor_array_split_import_matches_tf(case):
    """A TF 1.x ``TensorArraySplitV3`` fails unless the array has as many elements as pieces
    (or fewer, with a dynamic size) and none is written: imported, tfstyle raises TF's errors
    where TF does and gives TF's values elsewhere."""
    from tests.test_graph_io_v1_control_flow import _v1_control_flow

    with _v1_control_flow() as tf:
        g = tf.Graph()
        with g.as_default():
            outs = _split_case(tf, *SPLIT_CASES[case])
            assert "TensorArraySplitV3" in {n.op for n in g.as_graph_def().node}
            expected = _run_each(tf, g, outs)
            gd = g.as_graph_def()
    with tfs.Graph().as_default() as g:
        tfs.import_graph_def(gd, name="")
        got = _run_each(tfs, g, {k: g.get_tensor_by_name(t.name) for k, t in outs.items()})
    _assert_same(got, expected)


def test_v1_uneven_split_with_fed_lengths_and_gradients_matches_tf():
    """Pieces of different lengths, fed (the step is compiled per lengths), read, concatenated
    and differentiated as in TF 1.x."""
    from tests.test_graph_io_v1_control_flow import _v1_control_flow

    with _v1_control_flow() as tf:
        g = tf.Graph()
        with g.as_default():
            x = tf.placeholder(tf.float32, [6, 2], name="x")
            lengths = tf.placeholder(tf.int32, [3], name="lengths")
            ta = tf.TensorArray(tf.float32, size=3, infer_shape=False, clear_after_read=False)
            ta = ta.split(x * 2.0, lengths)
            first, cat = ta.read(0), ta.concat()
            loss = tf.reduce_sum(tf.square(ta.read(1))) + tf.reduce_sum(cat * x)
            fetches = [t.name for t in (first, cat, tf.gradients(loss, x)[0])]
            gd = g.as_graph_def()
            feeds = [{"x:0": SPLIT_VALUE, "lengths:0": n} for n in ([1, 3, 2], [4, 0, 2], [2] * 3)]
            with tf.Session() as sess:
                expected = [sess.run(fetches, f) for f in feeds]
    with tfs.Graph().as_default():
        tfs.import_graph_def(gd, name="")
        with tfs.Session() as sess:
            got = [sess.run(fetches, f) for f in feeds]
    for e, g_ in zip(expected, got):
        for a, b, name in zip(e, g_, fetches):
            np.testing.assert_allclose(b, a, rtol=1e-6, err_msg=name)


# (TF 2.x's lists of pieces of different shapes fail in their own ways, not TF 1.x's.)
@pytest.mark.parametrize("case", sorted(SPLIT_CASES))
def test_split_into_an_array_matches_tf(case):
    """``TensorArray.split`` is TF 2.x's (a new list of the pieces): what the array held before
    is gone; reads past the pieces and a ``stack()`` of a fixed size that no longer matches
    raise TF's errors, a scalar to split TF's shape error."""
    results = []
    for tf in (tf1(), tfs):
        g = tf.Graph()
        with g.as_default():
            try:
                outs = _split_case(tf, *SPLIT_CASES[case])
            except ValueError as e:
                results.append(str(e))
                continue
            results.append(_run_each(tf, g, outs))
    expected, got = results
    if isinstance(expected, str):
        assert got == expected
    else:
        _assert_same(got, expected)


def test_imported_split_graph_exports_tf_ops():
    """The checks' extra inputs stay inside tfstyle: the exported split is TF's TensorListSplit."""
    from tests.test_graph_io_v1_control_flow import _v1_control_flow

    with _v1_control_flow() as tf:
        g = tf.Graph()
        with g.as_default():
            outs = _split_case(tf, *SPLIT_CASES["fits"])
            gd = g.as_graph_def()
    with tfs.Graph().as_default() as g:
        tfs.import_graph_def(gd, name="")
        out = g.as_graph_def()
        fetch = outs["stack"].name
        with tfs.Session() as sess:
            mine = sess.run(fetch)
    splits = [n for n in out.node if n.op == "TensorListSplit"]
    assert len(splits) == 1 and len(splits[0].input) == 3
    assert not [k for k in splits[0].attr if k.startswith("_tensor_array")]
    tf = tf1()
    with tf.Graph().as_default():
        tf.import_graph_def(tf.GraphDef.FromString(out.SerializeToString()), name="")
        with tf.Session() as sess:
            np.testing.assert_array_equal(sess.run(fetch), mine)


def _v1_writes(tf):
    """TF 1.x TensorArrays whose elements are written once: a second write (straight-line, in
    a scatter, after a split, in a loop, after a loop, at a fed index, in a cond's branch that
    runs or not, a split after a loop) fails naming it; the writes that do not clash give their
    values."""
    fresh = lambda: tf.TensorArray(tf.float32, size=3)  # noqa: E731
    grows = lambda: tf.TensorArray(tf.float32, size=0, dynamic_size=True)  # noqa: E731
    outs = {
        "twice": fresh().write(1, [1.0]).write(1, [2.0]).read(1),
        "once": fresh().write(1, [1.0]).write(2, [2.0]).read(1),
        "scatter_twice": fresh().scatter([1, 1], [[1.0], [2.0]]).read(1),
        "scatter_after_write": fresh().write(2, [0.0]).scatter([0, 2], [[1.0], [2.0]]).read(0),
        "write_after_scatter": fresh().scatter([0, 2], [[1.0], [2.0]]).write(2, [3.0]).read(0),
        "write_after_split": fresh().split(tf.zeros([3, 1]), [1, 1, 1]).write(2, [[3.0]]).read(0),
        "write_after_unstack": fresh().unstack(tf.zeros([3, 1])).write(0, [3.0]).read(1),
        "grown_twice": grows().write(3, [1.0]).write(3, [2.0]).read(3),
        "named": tf.TensorArray(tf.float32, size=3, tensor_array_name="foo")
        .write(1, [1.0])
        .write(1, [2.0])
        .read(1),
    }

    def at(index):
        return lambda i, a: [i + 1, a.write(index(i), tf.fill([1], tf.cast(i, tf.float32)))]

    def loop(n, body, ta, **kw):
        return tf.while_loop(lambda i, a: i < n, body, [0, ta], **kw)[1]

    outs["loop_twice"] = loop(4, at(lambda i: i // 2), fresh().write(2, [5.0])).read(0)
    outs["loop_after_write"] = loop(3, at(lambda i: i), fresh().write(2, [9.0])).read(0)
    done = loop(3, at(lambda i: i), fresh())
    outs["loop"] = done.stack()
    outs["write_after_loop"] = done.write(1, [7.0]).read(0)
    outs["write_after_short_loop"] = loop(2, at(lambda i: i), fresh()).write(2, [7.0]).stack()
    outs["grown_in_loop"] = loop(4, at(lambda i: i), grows(), maximum_iterations=4).stack()
    trips = tf.placeholder_with_default(1, [], name="trips")
    for k, n in (("split_after_loop", trips), ("split_after_no_trip", trips - 1)):
        outs[k] = loop(n, at(lambda i: i + 1), fresh()).split(tf.ones([3]), [1, 1, 1]).read(2)
    index = tf.placeholder_with_default(1, [], name="index")
    outs["fed_index"] = fresh().write(1, [1.0]).write(index, [2.0]).read(1)
    outs["fed_index_once"] = fresh().write(0, [1.0]).write(index, [2.0]).read(1)
    pred = tf.placeholder_with_default(True, [], name="pred")
    ta = fresh().write(0, [1.0])
    for k, p in (("cond_taken", pred), ("cond_not_taken", tf.logical_not(pred))):
        outs[k] = tf.cond(p, lambda: ta.write(0, [2.0]), lambda: ta.write(1, [2.0])).read(0)
    return outs


def _each_in_tf_then_imported(build):
    """Runs each of the tensors ``build(tf)`` gives (and its extra result) in TF with control flow
    v1, then in tfstyle from TF's GraphDef; checks they agree and returns TF's results."""
    from tests.test_graph_io_v1_control_flow import _v1_control_flow

    with _v1_control_flow() as tf:
        g = tf.Graph()
        with g.as_default():
            outs, extra = build(tf)
            expected = _run_each(tf, g, outs)
    with tfs.Graph().as_default() as h:
        tfs.import_graph_def(g.as_graph_def(), name="")
        got = _run_each(tfs, h, {k: h.get_tensor_by_name(t.name) for k, t in outs.items()})
    _assert_same(got, expected)
    return expected, extra


def test_v1_second_write_fails_as_in_tf():
    expected, _ = _each_in_tf_then_imported(lambda tf: (_v1_writes(tf), None))
    assert sum(isinstance(e, tuple) for e in expected.values()) == 14


def test_v1_second_write_in_a_loop_leaves_the_variables_unchanged():
    """Found only as the step runs: the step that also trains a variable fails, and the
    variable keeps its value; a run without the clash then trains it."""
    from tests.test_graph_io_v1_control_flow import _v1_control_flow

    with _v1_control_flow() as tf:
        g = tf.Graph()
        with g.as_default():
            v = tf.Variable(1.0, name="v")
            n = tf.placeholder(tf.int32, [], name="n")
            step = lambda i, a: [i + 1, a.write(i % n, tf.fill([1], v))]  # noqa: E731
            ta = tf.TensorArray(tf.float32, size=4)
            _, ta = tf.while_loop(lambda i, a: i < 4, step, [0, ta], maximum_iterations=4)
            total = tf.reduce_sum(ta.read(0))
            train = tf.train.GradientDescentOptimizer(0.5).minimize(-total)
            names = [total.name, train.name, v.initializer.name, tf.identity(v).name]
            gd = g.as_graph_def()
    _failing_run_keeps_v(
        gd, names, "Could not write to TensorArray index 0 because it has already",
        "while/TensorArrayWrite/TensorArrayWriteV3", total=1.0, v=1.5,
    )  # fmt: skip


def _failing_run_keeps_v(gd, names, message, node, total, v):
    """Imports ``gd``: a training run with ``n`` = 2 fails with ``message`` naming ``node`` and
    leaves variable ``v`` at 1; one with ``n`` = 4 gives ``total`` and trains ``v`` to ``v``."""
    with tfs.Graph().as_default() as g:
        tfs.import_graph_def(gd, name="")
        total_t, train, init, v_t = [g.as_graph_element(x) for x in names]
        with tfs.Session() as sess:
            sess.run(init)
            with pytest.raises(tfs_errors.InvalidArgumentError) as e:
                sess.run([total_t, train], {"n:0": 2})
            assert message in str(e.value)
            assert f"[[{{{{node {node}}}}}]]" in str(e.value)
            assert sess.run(v_t) == 1.0
            assert sess.run([total_t, train], {"n:0": 4})[0] == total
            assert sess.run(v_t) == v


def test_v1_elements_of_other_shapes_match_tf():
    """Writes of elements of different shapes (known only when the step runs): TF's error where
    the array infers one element shape; with ``infer_shape=False`` each element keeps its shape
    (an unwritten one fails to read, and stack() of different shapes fails as in TF)."""

    def build(tf):
        a = tf.placeholder_with_default(np.zeros([1, 2], np.float32), None)
        b = tf.placeholder_with_default(np.ones([3, 2], np.float32), None)
        outs = {}
        for infer in (False, True):
            ta = tf.TensorArray(tf.float32, size=3, infer_shape=infer).write(0, a).write(2, b)
            for k in ("r0", "r1", "r2", "stack"):
                outs[f"{k}_{infer}"] = ta.read(int(k[1])) if k[0] == "r" else ta.stack()
        ta = tf.TensorArray(tf.float32, size=2, infer_shape=False).write(0, a).write(1, b)
        outs["concat"], outs["stack"] = ta.concat(), ta.stack()
        vector = tf.placeholder_with_default(np.ones([3], np.float32), None)
        loose = tf.TensorArray(tf.float32, size=2, infer_shape=False).write(0, a).write(1, vector)
        return outs, loose.read(0)

    expected, ranks = _each_in_tf_then_imported(build)
    assert sum(isinstance(e, tuple) for e in expected.values()) == 7
    # (TF takes elements of different ranks; tfstyle's buffer has one rank.)
    with tfs.Graph().as_default():
        tfs.import_graph_def(ranks.graph.as_graph_def(), name="")
        with tfs.Session() as sess, pytest.raises(tfs_errors.UnimplementedError, match="rank"):
            sess.run(ranks.name)


@pytest.mark.parametrize("maximum_iterations", [4, None])
def test_v1_dynamic_tensor_array_grows_as_in_tf(maximum_iterations):
    """Writes to an imported TF 1.x TensorArray of dynamic size grow it: in a loop, and after a
    split."""
    from tests.test_graph_io_v1_control_flow import _v1_control_flow

    with _v1_control_flow() as tf:
        g = tf.Graph()
        with g.as_default():
            ta = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
            body = lambda i, a: [i + 1, a.write(i, tf.cast(i, tf.float32) * tf.ones([2]))]  # noqa: E731
            _, ta = tf.while_loop(
                lambda i, a: i < 4, body, [0, ta], maximum_iterations=maximum_iterations
            )
            grown = tf.TensorArray(tf.float32, size=0, dynamic_size=True)
            grown = grown.split(tf.constant(SPLIT_VALUE[:4]), [2, 2]).write(3, tf.ones([2, 2]))
            fetches = [ta.stack().name, grown.stack().name, grown.size().name]
            with tf.Session() as sess:
                expected = sess.run(fetches)
            gd = g.as_graph_def()
    with tfs.Graph().as_default():
        tfs.import_graph_def(gd, name="")
        with tfs.Session() as sess:
            got = sess.run(fetches)
    for g_, e in zip(got, expected):
        np.testing.assert_array_equal(g_, e)


def _v1_writes_in_bodies(tf):
    """TF 1.x TensorArrays made inside a loop's body or a cond's branch and written twice there
    (at a constant or a fed index; in a loop of a constant or fed trip count, none or in a
    branch that does not run; a loop run at compile time in a branch that runs or not; by a
    loop nested in the body)."""
    n = tf.placeholder_with_default(2, [], name="n")
    trips = tf.placeholder_with_default(0, [], name="trips")
    pred = tf.placeholder_with_default(False, [], name="pred")

    def made_here(i, at=0):
        ta = tf.TensorArray(tf.float32, size=2)
        return ta.write(at, tf.cast(i, tf.float32)).write(0, 1.0).read(1 - at)

    def sums(body):
        return lambda i, s: [i + 1, s + body(i)]

    loop = lambda n, body: tf.while_loop(lambda i, s: i < n, sums(body), [0, 0.0])[1]  # noqa: E731
    at_fed = lambda i: made_here(i, at=i % n)  # noqa: E731
    in_cond = lambda i: tf.cond(i > 0, lambda: made_here(i), lambda: 1.0)  # noqa: E731

    def written_by_an_inner_loop(index):
        def read(i):
            write = lambda j, a: [j + 1, a.write(index(j), tf.cast(i + j, tf.float32))]  # noqa: E731
            ta = tf.TensorArray(tf.float32, size=3)
            return tf.while_loop(lambda j, a: j < 3, write, [0, ta])[1].read(0)

        return read

    return {
        "inner_loop": loop(2, written_by_an_inner_loop(lambda j: j)),
        "inner_loop_twice": loop(2, written_by_an_inner_loop(lambda j: j // 2)),
        "constant_trips": loop(3, made_here),
        "fed_trips": loop(trips + 2, made_here),
        "no_trip": loop(trips, made_here),
        "fed_index": loop(3, at_fed),
        "fed_index_once": loop(1, at_fed),
        "other_index": loop(3, lambda i: made_here(i, at=1)),
        "cond_taken": tf.cond(tf.logical_not(pred), lambda: made_here(3), lambda: 2.0),
        "cond_not_taken": tf.cond(pred, lambda: made_here(3), lambda: 2.0),
        "static_loop_in_cond_taken": tf.cond(
            tf.logical_not(pred), lambda: loop(2, made_here), lambda: 2.0
        ),
        "static_loop_in_cond_not_taken": tf.cond(pred, lambda: loop(2, made_here), lambda: 2.0),
        "cond_in_loop": loop(n, in_cond),
        "cond_in_loop_not_taken": loop(n - 1, in_cond),
    }


def test_v1_second_write_to_an_array_made_in_a_loop_or_cond_fails_as_in_tf():
    expected, _ = _each_in_tf_then_imported(lambda tf: (_v1_writes_in_bodies(tf), None))
    assert sum(isinstance(e, tuple) for e in expected.values()) == 8


def test_v1_second_write_to_an_array_made_in_a_loop_leaves_the_variables_unchanged():
    """Found as the step runs, every time it runs: the variable the step also trains keeps its
    value; without the clash the step trains it. (TF's gradient of an array made in a loop's
    body saves its handle on a stack, which tfstyle does not import: the loss stops there.)"""
    from tests.test_graph_io_v1_control_flow import _v1_control_flow

    with _v1_control_flow() as tf:
        g = tf.Graph()
        with g.as_default():
            v = tf.Variable(1.0, name="v")
            n = tf.placeholder(tf.int32, [], name="n")

            def body(i, s):
                ta = tf.TensorArray(tf.float32, size=2).write(n - 1, v).write(0, v * 2.0)
                return i + 1, s + ta.read(0)

            total = tf.while_loop(lambda i, s: i < 2, body, [0, 0.0])[1]
            loss = -v * tf.stop_gradient(total)
            train = tf.train.GradientDescentOptimizer(0.5).minimize(loss)
            names = [total.name, train.name, v.initializer.name, tf.identity(v).name]
            gd = g.as_graph_def()
    with tfs.Graph().as_default() as g:
        tfs.import_graph_def(gd, name="")
        total, train, init, v = [g.as_graph_element(x) for x in names]
        with tfs.Session() as sess:
            sess.run(init)
            for _ in range(2):
                with pytest.raises(tfs_errors.InvalidArgumentError) as e:
                    sess.run([total, train], {"n:0": 1})
                assert "Could not write to TensorArray index 0 because it has already" in str(
                    e.value
                )
                assert "[[{{node while/TensorArrayWrite_1/TensorArrayWriteV3}}]]" in str(e.value)
                assert sess.run(v) == 1.0
            assert sess.run([total, train], {"n:0": 2})[0] == 4.0
            assert sess.run(v) == 3.0  # 1 + 0.5 * 4


def _v1_unwritten_reads(tf):
    """Elements never written, read, stacked, gathered and concatenated: TF 1.x reads them as
    zeros where it knows the element shape (declared, or with ``infer_shape`` from any element
    written), else fails naming the first; in a loop, which elements were written is known only
    when the step runs."""
    fed = tf.placeholder_with_default(np.ones([2], np.float32), None, name="fed")
    outs = {}

    def array(infer, shape, size=3):
        return tf.TensorArray(tf.float32, size=size, infer_shape=infer, element_shape=shape)

    def body(i, ta):
        return i + 1, tf.cond(i % 2 > 0, lambda: ta.write(i, fed), lambda: ta)

    for infer in (False, True):
        for shape_name, shape in (("unknown", None), ("partial", [None]), ("known", [2])):
            key = f"{shape_name}_{'infer' if infer else 'loose'}"
            value = fed if shape is None else [1.0, 2.0]
            outs[key + "_read"] = array(infer, shape).write(0, value).read(1)
            outs[key + "_read_written"] = array(infer, shape).write(0, value).read(0)
            outs[key + "_stack"] = array(infer, shape).write(0, value).stack()
            outs[key + "_gather"] = array(infer, shape).write(0, value).gather([0, 2])
            outs[key + "_concat"] = array(infer, shape).write(0, value).concat()
            outs[key + "_nothing_written"] = array(infer, shape).read(0)
            outs[key + "_nothing_written_stack"] = array(infer, shape).stack()
        for k, trips in (("odd", 4), ("none", 1)):
            bound = tf.constant(trips)
            ta = tf.while_loop(lambda i, t: i < bound, body, [0, array(infer, None, 4)])[1]  # noqa: B023
            outs[f"loop_{k}_{infer}_stack"] = ta.stack()
            outs[f"loop_{k}_{infer}_read"] = ta.read(tf.placeholder_with_default(2, []))
    return outs


def test_v1_unwritten_elements_read_as_in_tf():
    expected, _ = _each_in_tf_then_imported(lambda tf: (_v1_unwritten_reads(tf), None))
    assert sum(isinstance(e, tuple) for e in expected.values()) == 22


def _v1_reads(tf):
    """TF 1.x TensorArrays clear an element once read (``clear_after_read``, the default): a
    second read of it (by a read, a stack, a gather or a concat; ordered after the first; in a
    loop, at a constant, fed or counting index; of an array made in a loop's body or a cond's
    branch) fails naming it, and ``clear_after_read=False`` reads elements again."""
    x = tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    ta = tf.TensorArray(tf.float32, size=3).unstack(x)
    outs = {}
    first = ta.read(0)
    with tf.control_dependencies([first]):
        outs["read_twice"] = ta.read(0) + first
        outs["read_then_stack"] = ta.stack()
        outs["read_then_gather"] = ta.gather([1, 0])
        outs["read_then_gather_others"] = ta.gather([1, 2])
        outs["read_then_concat"] = ta.concat()
    stacked = ta.stack()
    with tf.control_dependencies([stacked]):
        outs["stack_then_read"] = ta.read(1) + stacked[0]
        outs["stack_twice"] = ta.stack() + stacked
    outs["gather_twice"] = ta.gather([1, 1])
    index = tf.placeholder_with_default(1, [], name="index")
    outs["gather_fed_twice"] = ta.gather(tf.stack([index, 1]))
    outs["gather_fed_once"] = ta.gather(tf.stack([index, 0]))
    kept = tf.TensorArray(tf.float32, size=3, clear_after_read=False).unstack(x)
    kept_first = kept.read(0)
    with tf.control_dependencies([kept_first]):
        outs["kept"] = kept.read(0) + kept_first + kept.stack()[0]

    n = tf.placeholder_with_default(2, [], name="n")

    def loop(trips, read):
        body = lambda i, acc: [i + 1, acc + read(i)]  # noqa: E731
        return tf.while_loop(lambda i, acc: i < trips, body, [0, tf.zeros([2])])[1]

    outs["loop_at_0"] = loop(2, lambda i: ta.read(0))
    outs["loop_at_0_fed_trips"] = loop(n, lambda i: ta.read(0))
    outs["loop_at_0_once"] = loop(n - 1, lambda i: ta.read(0))
    outs["loop_at_counter"] = loop(3, ta.read)
    outs["loop_at_counter_fed_trips"] = loop(n + 1, ta.read)
    outs["loop_at_half_counter"] = loop(n + 1, lambda i: ta.read(i // 2))
    outs["loop_kept"] = loop(n + 1, lambda i: kept.read(0))

    def made_and_read_twice(i):
        made = tf.TensorArray(tf.float32, size=2).unstack(x[:2])
        r = made.read(i % 1)
        with tf.control_dependencies([r]):
            return made.read(0) + r

    outs["made_in_loop"] = loop(n, made_and_read_twice)
    pred = tf.placeholder_with_default(True, [], name="pred")
    branch = lambda: made_and_read_twice(0)  # noqa: E731
    outs["made_in_cond"] = tf.cond(pred, branch, lambda: tf.zeros([2]))
    outs["made_in_cond_not_taken"] = tf.cond(tf.logical_not(pred), branch, lambda: tf.zeros([2]))

    def write(i, t):
        return i + 1, t.write(i, x[i])

    def written():
        fresh = tf.TensorArray(tf.float32, size=3)
        return tf.while_loop(lambda i, t: i < 3, write, [0, fresh])[1]

    once = written().stack()
    twice = written()
    stacked = twice.stack()
    with tf.control_dependencies([stacked]):
        outs["written_in_loop_stacked_twice"] = twice.stack() + stacked
    outs["written_in_loop_stacked_once"] = once
    return outs


def test_v1_second_read_fails_as_in_tf():
    expected, _ = _each_in_tf_then_imported(lambda tf: (_v1_reads(tf), None))
    assert sum(isinstance(e, tuple) for e in expected.values()) == 14


def test_v1_second_read_in_a_loop_leaves_the_variables_unchanged():
    """Found as the step runs: the step that also trains a variable fails, and the variable
    keeps its value; a run without the second read trains it."""
    from tests.test_graph_io_v1_control_flow import _v1_control_flow

    with _v1_control_flow() as tf:
        g = tf.Graph()
        with g.as_default():
            v = tf.Variable(1.0, name="v")
            n = tf.placeholder(tf.int32, [], name="n")
            ta = tf.TensorArray(tf.float32, size=4).unstack(tf.range(4.0))
            body = lambda i, s: [i + 1, s + ta.read(i % n)]  # noqa: E731
            total = tf.while_loop(lambda i, s: i < 4, body, [0, 0.0])[1]
            train = tf.train.GradientDescentOptimizer(0.5).minimize(-v * total)
            names = [total.name, train.name, v.initializer.name, tf.identity(v).name]
            gd = g.as_graph_def()
    _failing_run_keeps_v(
        gd, names, "Could not read index 0 twice because it was cleared",
        "while/TensorArrayReadV3", total=6.0, v=4.0,  # 1 + 0.5 * 6
    )  # fmt: skip


def test_tfstyle_gradient_of_imported_v1_reads_matches_tf():
    """``tf.gradients`` in tfstyle runs the forward reads of an imported graph again (under
    ``jax.vjp``): that is no second read. Same loss and gradient as TF's own."""
    from tests.test_graph_io_v1_control_flow import _v1_control_flow

    def build(tf):
        value = np.arange(6, dtype=np.float32).reshape(3, 2)
        x = tf.placeholder_with_default(value, [3, 2], name="x")
        ta = tf.TensorArray(tf.float32, size=3).unstack(x * 2.0)
        body = lambda i, s: [i + 1, s + ta.read(i)]  # noqa: E731
        total = tf.while_loop(lambda i, s: i < 3, body, [0, tf.zeros([2])])[1]
        tb = tf.TensorArray(tf.float32, size=3).unstack(x * 3.0)
        return x, tf.reduce_sum(total * total) + tf.reduce_sum(tb.read(1) * tb.read(2))

    with _v1_control_flow() as tf:
        g = tf.Graph()
        with g.as_default():
            x, loss = build(tf)
            fetches = [loss.name, x.name]
            gd = g.as_graph_def()
            grad = tf.gradients(loss, x)[0]
            with tf.Session() as sess:
                expected = sess.run([loss, grad])
    with tfs.Graph().as_default() as g:
        tfs.import_graph_def(gd, name="")
        loss, x = [g.get_tensor_by_name(n) for n in fetches]
        grad = tfs.gradients(loss, x)[0]
        with tfs.Session() as sess:
            for _ in range(2):
                got = sess.run([loss, grad])
                np.testing.assert_allclose(got[0], expected[0])
                np.testing.assert_allclose(got[1], expected[1])


def _v1_counted_loops(tf):
    """Loops that write or read an array once per iteration at their counter (bounded by the
    condition or by ``maximum_iterations``), which tfstyle leaves unchecked inside the loop:
    what they wrote still clashes with a later write, what they read with a later read, and
    elements written or read before the loop still fail there."""
    x = tf.constant([[1.0], [2.0], [3.0]])
    n = tf.placeholder_with_default(9, [], name="n")
    outs = {}

    def write(i, ta):
        return [i + 1, ta.write(i, x[i])]

    def writes(start, ta, **kw):
        return tf.while_loop(lambda i, t: i < n if kw else i < 3, write, [start, ta], **kw)[1]

    fresh = lambda: tf.TensorArray(tf.float32, size=3)  # noqa: E731
    outs["from_one"] = writes(1, fresh()).write(0, [5.0]).stack()
    outs["from_one_then_clash"] = writes(1, fresh()).write(2, [5.0]).stack()
    outs["bounded"] = writes(0, fresh(), maximum_iterations=2).write(2, [5.0]).stack()
    outs["bounded_then_clash"] = writes(0, fresh(), maximum_iterations=2).write(1, [5.0]).stack()
    outs["written_before"] = writes(0, fresh().write(1, [5.0])).stack()

    ta = tf.TensorArray(tf.float32, size=3).unstack(x)
    first = ta.read(1)
    with tf.control_dependencies([first]):
        body = lambda i, acc: [i + 1, acc + ta.read(i)]  # noqa: E731
        outs["read_before"] = tf.while_loop(lambda i, a: i < 3, body, [0, first])[1]
    unread = tf.TensorArray(tf.float32, size=3).unstack(x)
    body = lambda i, acc: [i + 1, acc + unread.read(i)]  # noqa: E731
    outs["read_in_loop"] = tf.while_loop(lambda i, a: i < 3, body, [0, tf.zeros([1])])[1]

    two = tf.placeholder_with_default(2, [], name="two")
    for key, trips in (("counted", 2), ("fed", two)):
        read = tf.TensorArray(tf.float32, size=3).unstack(x)
        body = lambda i, acc: [i + 1, acc + read.read(i)]  # noqa: E731, B023
        looped = tf.while_loop(lambda i, a: i < trips, body, [0, tf.zeros([1])])[1]  # noqa: B023
        with tf.control_dependencies([looped]):
            outs[f"read_after_{key}_loop"] = read.read(1) + looped
            outs[f"unread_after_{key}_loop"] = read.read(2) + looped
    return outs


def test_v1_writes_and_reads_at_a_loop_counter_as_in_tf():
    expected, _ = _each_in_tf_then_imported(lambda tf: (_v1_counted_loops(tf), None))
    assert sum(isinstance(e, tuple) for e in expected.values()) == 6


def test_v1_dynamic_rnn_training_step_donates_its_variables(monkeypatch):
    """``dynamic_rnn`` writes its outputs and reads its inputs at the loop's counter, once per
    element: nothing need be checked as the step runs, so the imported training step donates
    its variables (and trains them as TF does)."""
    from tests.test_graph_io_v1_control_flow import _v1_control_flow
    from tfstyle.compiler import executable

    x = np.random.RandomState(1).randn(3, 5, 4).astype(np.float32)
    with _v1_control_flow() as tf:
        g = tf.Graph()
        with g.as_default():
            inputs = tf.placeholder(tf.float32, [3, 5, 4], name="x")
            out, state = tf.nn.dynamic_rnn(tf.nn.rnn_cell.LSTMCell(6), inputs, dtype=tf.float32)
            loss = tf.reduce_sum(tf.square(out - 0.1)) + tf.reduce_sum(state.c)
            train = tf.train.GradientDescentOptimizer(0.05).minimize(loss)
            init = tf.global_variables_initializer()
            names = [loss.name, train.name, init.name]
            gd = g.as_graph_def()
            with tf.Session() as sess:
                sess.run(init)
                initial = {v.op.name: sess.run(v) for v in tf.global_variables()}
                for _ in range(3):
                    sess.run(train, {"x:0": x})
                expected = {v.op.name: sess.run(v) for v in tf.global_variables()}
                expected_loss = sess.run(loss, {"x:0": x})
    calls = []
    call = executable.Executable.__call__
    monkeypatch.setattr(
        executable.Executable, "__call__", lambda self, *a: calls.append(self) or call(self, *a)
    )
    with tfs.Graph().as_default() as g:
        tfs.import_graph_def(gd, name="")
        loss, train, init = [g.as_graph_element(n) for n in names]
        with tfs.Session() as sess:
            sess.run(init)
            sess.load_state(initial)
            for _ in range(3):
                before = sess.state
                sess.run(train, {"x:0": x})
                assert calls[-1].may_fail is False
                assert all(v.is_deleted() for v in before.values())
            got = sess.state
            np.testing.assert_allclose(sess.run(loss, {"x:0": x}), expected_loss, rtol=1e-5)
    assert sorted(got) == sorted(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-4, atol=1e-5, err_msg=name)


def test_imported_v1_array_exports_tf_ops():
    """The ``TensorListReserve`` of an imported ``TensorArrayV3`` takes whether its reads clear
    as an input only tfstyle reads: the exported GraphDef gives TF's op its two, and TF runs it
    to the same value."""
    from tests.test_graph_io_v1_control_flow import _v1_control_flow

    with _v1_control_flow() as tf:
        g = tf.Graph()
        with g.as_default():
            ta = tf.TensorArray(tf.float32, size=5).unstack(tf.constant(X))
            body = lambda i, s: [i + 1, s + ta.read(i)]  # noqa: E731
            total = tf.while_loop(lambda i, s: i < 5, body, [0, tf.zeros([3])])[1]
            fetch = tf.identity(total, name="out").name
            gd = g.as_graph_def()
    with tfs.Graph().as_default() as g:
        tfs.import_graph_def(gd, name="")
        out = g.as_graph_def()
        with tfs.Session() as sess:
            mine = sess.run(fetch)
    reserves = [n for n in out.node if n.op == "TensorListReserve"]
    assert len(reserves) == 1 and len(reserves[0].input) == 2
    tf = tf1()
    with tf.Graph().as_default():
        tf.import_graph_def(tf.GraphDef.FromString(out.SerializeToString()), name="")
        with tf.Session() as sess:
            np.testing.assert_allclose(sess.run(fetch), mine, rtol=1e-6)
    np.testing.assert_allclose(mine, X.sum(axis=0), rtol=1e-6)


def _v1_writes_after_reads(tf):
    """A TF 1.x TensorArray's element once read (by a read or a stack, of an element written or
    not, at a constant or fed index, in a loop; with ``clear_after_read=False`` too) fails to
    be written: TF checks that before it checks whether the element was written."""
    x = tf.constant([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    outs = {}
    written = tf.TensorArray(tf.float32, size=3).write(0, x[0]).write(1, x[1])
    first = written.read(0)
    with tf.control_dependencies([first]):
        outs["read"] = written.write(0, x[2]).read(1) + first
        outs["other_element"] = written.write(2, x[2]).read(2) + first
    unwritten = tf.TensorArray(tf.float32, size=3, element_shape=[2])
    zeros = unwritten.read(0)
    with tf.control_dependencies([zeros]):
        outs["unwritten_read"] = unwritten.write(0, x[2]).read(1) + zeros
    kept = tf.TensorArray(tf.float32, size=3, clear_after_read=False).write(0, x[0])
    kept_first = kept.read(0)
    with tf.control_dependencies([kept_first]):
        outs["kept"] = kept.write(0, x[2]).read(0) + kept_first
    full = tf.TensorArray(tf.float32, size=3).unstack(x)
    stacked = full.stack()
    with tf.control_dependencies([stacked]):
        outs["scatter_after_stack"] = full.scatter([1], x[:1]).read(0) + stacked[0]
    index = tf.placeholder_with_default(1, [], name="index")
    fed = tf.TensorArray(tf.float32, size=3).unstack(x)
    fed_read = fed.read(index)
    with tf.control_dependencies([fed_read]):
        outs["fed_index"] = fed.write(1, x[2]).read(2) + fed_read

    def body(i, ta):
        value = ta.read(i)
        with tf.control_dependencies([value]):
            return i + 1, ta.write(i, value * 2.0)

    start = tf.TensorArray(tf.float32, size=3).unstack(x)
    outs["in_loop"] = tf.while_loop(lambda i, t: i < 2, body, [0, start])[1].read(2)
    return outs


def test_v1_write_after_a_read_fails_as_in_tf():
    expected, _ = _each_in_tf_then_imported(lambda tf: (_v1_writes_after_reads(tf), None))
    assert sum(isinstance(e, tuple) for e in expected.values()) == 6
