"""``tf.Variable``, assignments and the variable helpers, against real TF (resource variables)."""

import numpy as np

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1


def _both(build):
    """Runs ``build(tf)`` in a fresh graph of TF and of tfstyle; returns both results."""
    out = []
    for tf in (tf1(), tfs):
        with tf.Graph().as_default():
            out.append(build(tf))
    return out


def _same(build):
    exp, act = _both(build)
    for i, (e, a) in enumerate(zip(exp, act)):
        assert a == e, f"item {i}: tfstyle {a!r}, TF {e!r}"
    assert len(exp) == len(act)
    return act


def _graph_ops(tf):
    g = tf.get_default_graph()
    return [
        (op.name, op.type, [t.name for t in op.inputs], sorted(c.name for c in op.control_inputs))
        for op in g.get_operations()
    ]


def _error(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - the class and message are what is compared
        return type(e).__name__, str(e)
    return None


def _same_error(build, *phrases):
    exp, act = _both(lambda tf: _error(lambda: build(tf)))
    assert exp is not None and act is not None, (exp, act)
    assert act[0] == exp[0], (act, exp)
    for p in phrases:
        assert p in exp[1], (p, exp[1])
        assert p in act[1], (p, act[1])


def test_variable_ops_names_collections_and_values():
    def build(tf):
        v = tf.Variable(1.0, name="v")
        w = tf.Variable(lambda: tf.zeros([2]), name="w")
        n = tf.Variable(np.float64(3))
        i = tf.Variable([1, 2], trainable=False)
        x = v + 1
        r = v.read_value()
        val = v.value()
        with tf.name_scope("s"):
            t = tf.Variable(1, name="t")
            t2 = tf.Variable(1, name="t")
        init = tf.global_variables_initializer()
        out = [
            _graph_ops(tf),
            [v.name, w.name, n.name, i.name, t.name, t2.name, init.name],
            [repr(v), str(w), repr(n)],
            [
                v.initializer.name,
                v.initial_value.name,
                v.op.name,
                v.handle.name,
                v.handle.dtype.name,
            ],
            [x.name, r.name, val.name],
            [(u.dtype.name, u.shape.as_list()) for u in (v, w, n, i)],
            [u.name for u in tf.global_variables()],
            [u.name for u in tf.trainable_variables()],
            sorted(tf.get_default_graph().get_all_collection_keys()),
        ]
        with tf.Session() as s:
            s.run(init)
            out.append([np.asarray(a).tolist() for a in s.run([v, w, n, i, x, r, val])])
            out.append(type(s.run(v)).__name__)
        return out

    _same(build)


def test_variable_dtype_shape_and_collections_arguments():
    def build(tf):
        a = tf.Variable(1, dtype=tf.float32, name="a")
        b = tf.Variable(1.0, shape=tf.TensorShape(None), name="b")
        p = tf.placeholder(tf.float32, [None])
        c = tf.Variable(p, validate_shape=False, name="c")
        d = tf.Variable(tf.zeros([2, 3]), validate_shape=False, name="d")
        tf.Variable(2, name="e", collections=["mine"])
        tf.Variable(2.0, name="f", trainable=False, collections=("x", "y"))
        with tf.control_dependencies([a.initializer]):
            g = tf.Variable(1.0, name="g")
        return [
            (a.dtype.name, b.shape.ndims, c.shape.as_list(), d.shape.as_list()),
            [u.name for u in tf.get_collection("mine")],
            [u.name for u in tf.get_collection("y")],
            [u.name for u in tf.trainable_variables()],
            [u.name for u in tf.global_variables()],
            [c.name for c in g.initializer.control_inputs],
            [c.name for c in g.initial_value.op.control_inputs],
        ]

    _same(build)


def test_variable_constructor_errors():
    _same_error(lambda tf: tf.Variable(None), "`initial_value` arg to `tf.Variable` must be")
    _same_error(lambda tf: tf.Variable(1.0, collections="c"), "collections argument to Variable")
    _same_error(
        lambda tf: tf.Variable(tf.constant(1), dtype=tf.float32),
        "initial_value",
        "requested dtype float32",
    )
    _same_error(lambda tf: tf.Variable([1.0, 2.0], shape=[3]), "not compatible with the explicitly")


def test_assign_returns_value_names_and_ordering():
    def build(tf):
        v = tf.Variable(1, name="v")
        a = v.assign(5)
        b = tf.assign(v, 6, name="set")
        c = tf.assign_add(v, 2)
        d = v.assign_sub(1, read_value=False)
        e = a.assign_add(10)
        f = a + 1
        out = [
            _graph_ops(tf),
            [repr(a), a.name, a.op.name, b.name, c.name, d.name, type(d).__name__, e.name],
            [f.op.inputs[0].op.name, [x.name for x in f.op.inputs[0].op.control_inputs]],
            [a.dtype.name, a.shape.as_list(), a.handle.name],
        ]
        with tf.Session() as s:
            s.run(v.initializer)
            out.append([int(s.run(a)), int(s.run(v)), int(s.run(f)), int(s.run(e))])
            out.append([int(s.run(c)), int(s.run(c)), s.run(d), int(s.run(v))])
            out.append([int(s.run(b)), int(a.eval()), int(e.eval())])
        return out

    _same(build)


def test_assign_errors():
    _same_error(lambda tf: tf.Variable(1).assign([1, 2]), "Shape mismatch")
    _same_error(lambda tf: tf.Variable(1).assign_add([1, 2]), "Shapes must be equal rank")
    _same_error(lambda tf: tf.Variable([1, 2]).assign_sub([1, 2, 3]), "Dimension 0 in both shapes")
    _same_error(lambda tf: tf.Variable(1).assign(1.5), "Expected int32")
    _same_error(lambda tf: tf.Variable(1.0).read_value() + tf.Variable(1), "")

    def inplace(tf):
        v = tf.Variable(1.0)
        v += 1

    _same_error(inplace, "`variable += value` with `tf.Variable`s is not supported")


def test_reads_ordered_by_control_dependencies_and_data():
    # Within one run, a read sees the assignments it depends on, through data or control edges.
    def build(tf):
        v = tf.Variable(10.0, name="v")
        w = tf.Variable(1.0, name="w")
        inc = tf.assign_add(v, 1.0)
        with tf.control_dependencies([inc]):
            after = v.read_value()
            also_w = w.read_value() * 2.0
        chained = tf.assign(w, inc * 3.0)
        with tf.control_dependencies([chained]):
            w_after = tf.identity(w.value())
        grouped = tf.group(tf.assign_add(v, 100.0), tf.assign_sub(w, 1.0))
        with tf.control_dependencies([grouped]):
            both = [v.read_value(), w.read_value()]
        out = []
        with tf.Session() as s:
            s.run(tf.global_variables_initializer())
            out.append([float(x) for x in s.run([after, also_w])])
            out.append([float(x) for x in s.run([inc, after])])
            out.append(float(s.run(w_after)))
            out.append([float(s.run(v)), float(s.run(w))])
            out.append([float(x) for x in s.run(both)])
            out.append([float(s.run(v)), float(s.run(w))])
        return out

    _same(build)


def test_counter_over_runs_and_load_eval():
    def build(tf):
        counter = tf.Variable(0, name="counter")
        step = tf.assign_add(counter, 1)
        out = []
        with tf.Session() as s:
            s.run(counter.initializer)
            out.append([int(s.run(step)) for _ in range(4)])
            counter.load(42, s)
            out.append(int(counter.eval(session=s)))
            with s.as_default():
                counter.load(7)
                out.append([int(counter.eval()), int(step.eval())])
        with tf.Session() as s2:
            s2.run(tf.global_variables_initializer())
            out.append(int(s2.run(counter)))
        return out

    _same(build)
    _same_error(lambda tf: tf.Variable(1).load(2), "Either session argument should be provided")


def test_initializers_helpers_and_uninitialized_report():
    def build(tf):
        a = tf.Variable(1.0, name="a")
        b = tf.Variable([1, 2], name="b")
        tf.Variable(0, name="loc", collections=[tf.GraphKeys.LOCAL_VARIABLES])
        empty = tf.variables_initializer([], name="nothing")
        only_a = tf.variables_initializer([a])
        all_init = tf.global_variables_initializer()
        legacy = tf.initialize_all_variables()
        local = tf.local_variables_initializer()
        flag = tf.is_variable_initialized(b)
        report = tf.report_uninitialized_variables()
        report_a = tf.report_uninitialized_variables([a], name="ra")
        out = [
            [op.name for op in (empty, only_a, all_init, legacy, local)],
            [op.type for op in (empty, only_a, all_init, legacy, local)],
            [sorted(c.name for c in op.control_inputs) for op in (only_a, all_init, local)],
            [flag.name, flag.op.type, flag.dtype.name],
            [report.dtype.name, report.shape.as_list()],
        ]
        with tf.Session() as s:
            out.append([bool(s.run(flag)), s.run(report).tolist(), s.run(report_a).tolist()])
            s.run(only_a)
            out.append([bool(s.run(flag)), s.run(report).tolist(), s.run(report_a).tolist()])
            s.run([all_init, local])
            out.append([bool(s.run(flag)), s.run(report).tolist()])
        return out

    _same(build)

    def no_vars(tf):
        r = tf.report_uninitialized_variables()
        with tf.Session() as s:
            return [r.name, r.dtype.name, s.run(r).tolist()]

    _same(no_vars)


def test_uninitialized_read_raises_failed_precondition():
    def build(tf):
        v = tf.Variable(1.0, name="v")
        with tf.Session() as s:
            s.run(v)

    _same_error(build, "v")


def test_variable_operators_and_conversion():
    def build(tf):
        v = tf.Variable([1.0, 2.0], name="v")
        outs = [v * 2.0, 2.0 - v, -v, v / 2.0, v[0], np.float32(3) * v, tf.add(v, v)]
        out = [[t.name for t in outs]]
        with tf.Session() as s:
            s.run(v.initializer)
            out.append([np.asarray(x).tolist() for x in s.run(outs)])
        return out

    _same(build)
    _same_error(
        lambda tf: tf.convert_to_tensor(tf.Variable(1.0), dtype=tf.int32),
        "Incompatible type conversion requested to type int32",
    )


def test_initial_value_from_another_variable():
    def build(tf):
        w = tf.Variable(tf.ones([2]), name="w")
        u = tf.Variable(w * 2.0, name="u")
        with tf.Session() as s:
            s.run(w.initializer)
            s.run(u.initializer)
            return [_graph_ops(tf), s.run(u).tolist()]

    _same(build)


def test_initialized_value():
    # TF 2.21's resource variables raise NotImplementedError here; tfstyle keeps TF1's meaning.
    with tfs.Graph().as_default():
        v = tfs.Variable(tfs.constant([1.0, 2.0]), name="v")
        w = tfs.Variable(v.initialized_value() * 2.0, name="w")
        with tfs.Session() as s:
            s.run(w.initializer)
            np.testing.assert_allclose(s.run(w), [2.0, 4.0])
            s.run(v.assign([5.0, 5.0]))
            s.run(w.initializer)
            np.testing.assert_allclose(s.run(w), [10.0, 10.0])


def test_init_scope_clears_control_dependencies_keeps_name_scope():
    with tfs.Graph().as_default():
        a = tfs.constant(1.0, name="a")
        with tfs.name_scope("outer"), tfs.control_dependencies([a]):
            with tfs.init_scope():
                b = tfs.constant(2.0, name="b")
            c = tfs.constant(3.0, name="c")
        assert b.name == "outer/b:0" and b.op.control_inputs == []
        assert c.op.control_inputs == [a.op]
