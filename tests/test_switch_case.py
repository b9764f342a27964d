"""``tf.switch_case`` (TF 2.x's ``Case``/``StatelessCase`` op) against real TF: names, static
shapes, dtypes, values (an index out of range runs the last branch, ``default`` where given),
errors, gradients (an ``IndexedSlices`` through a gather in a branch, as for ``tf.cond``),
training, and GraphDefs both ways."""

import collections

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.op_check import check, check_raises
from tests.oracle import tf1
from tests.test_sparse_gradients_control_flow import _unpadded
from tfstyle.framework import graph_io

X = {"x:0": np.arange(6, dtype=np.float32).reshape(2, 3) - 2.0}
NT = collections.namedtuple("NT", "a b")
INDICES = (-7, -1, 0, 1, 2, 3, 9)


def _model(tf):
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    i = tf.placeholder(tf.int32, [], name="i")
    c = tf.constant([1.0, 2.0, 3.0], name="c")
    a = tf.switch_case(i, [lambda: x * 2.0, lambda: x + c, lambda: tf.zeros([2, 3])])
    b = tf.switch_case(
        i,
        {1: lambda: (x * 3.0, tf.constant(2.0)), 0: lambda: (x, tf.constant(1.0))},
        default=lambda: (-x, tf.constant(5.0)),
        name="with_default",
    )
    d = tf.switch_case(
        i, [(0, lambda: NT(tf.reduce_sum(x), x)), (1, lambda: NT(tf.reduce_max(x), x * x))]
    )
    e = tf.switch_case(i, [lambda: {"u": x[0], "v": 1}, lambda: {"u": c, "v": 2}], name=None)
    (f,) = tf.switch_case(i, [lambda: [tf.constant(1.5)]])
    after = x + 1.0  # branch ops take no names from the graph
    return [a, *b, d.a, d.b, e["u"], e["v"], f, after]


@pytest.mark.parametrize("index", INDICES)
def test_values_names_shapes_dtypes_and_gradients(index):
    check(_model, {**X, "i:0": np.int32(index)}, grad=True)


def test_ops_and_attributes_like_tf():
    def describe(tf):
        g = tf.Graph()
        with g.as_default():
            i = tf.placeholder(tf.int32, [], name="i")
            v = tf.get_variable("v", initializer=1.0, use_resource=True)
            x = tf.placeholder(tf.float32, [None, 2], name="x")
            pure = tf.switch_case(i, [lambda: x, lambda: tf.ones([3, 2]), lambda: x * 2.0])
            reads = tf.switch_case(i, [lambda: v * 2.0, lambda: tf.constant(1.0)], name="reads")
            ranks = tf.switch_case(i, [lambda: tf.zeros([2]), lambda: tf.zeros([3, 2])])
        out = []
        for t in (pure, reads, ranks):
            op = t.op.inputs[0].op
            out.append(
                (
                    t.name,
                    t.shape.as_list() if t.shape.ndims is not None else None,
                    op.type,
                    op.name,
                    [u.name for u in op.inputs],
                    len(op.outputs),
                )
            )
        return out

    assert describe(tfs) == describe(tf1())


def test_branch_returning_an_op_returns_the_index():
    def build(tf):
        i = tf.placeholder(tf.int32, [], name="i")
        v = tf.get_variable("v", initializer=1.0, use_resource=True)
        r = tf.switch_case(i, [lambda: tf.no_op(), lambda: tf.no_op()])
        with tf.control_dependencies([r]):
            after = tf.identity(v.read_value())
        return [r, after]

    for index in (0, 1, 5):
        exp = _run_with_init(tf1(), build, {"i:0": np.int32(index)})
        got = _run_with_init(tfs, build, {"i:0": np.int32(index)})
        assert got == exp


def _run_with_init(tf, build, feeds):
    g = tf.Graph()
    with g.as_default():
        outs = build(tf)
        meta = [(t.name, t.dtype.name) for t in outs]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            vals = sess.run(outs, feeds)
    return meta, [np.asarray(v).tolist() for v in vals]


def test_assignments_in_branches_and_stateful_case():
    def build(tf):
        i = tf.placeholder(tf.int32, [], name="i")
        v = tf.get_variable("v", initializer=1.0, use_resource=True)
        r = tf.switch_case(
            i,
            [lambda: v.assign_add(1.0), lambda: tf.constant(3.0), lambda: v.read_value() * 2.0],
        )
        return r, v

    results = []
    for tf in (tf1(), tfs):
        g = tf.Graph()
        with g.as_default():
            r, v = build(tf)
            kind = r.op.inputs[0].op.type
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                vals = [(sess.run(r, {"i:0": k}), sess.run(v)) for k in (0, 1, 2, 5, 0, -1)]
        results.append((kind, np.asarray(vals).tolist()))
    assert results[0] == results[1]
    assert results[0][0] == "Case"


@pytest.mark.parametrize(
    "case",
    [
        "int64",
        "float",
        "python_int",
        "empty",
        "empty_dict",
        "gap",
        "gap_pairs",
        "str_keys",
        "not_pairs",
        "not_a_list",
        "default_not_callable",
        "dtypes",
        "structures",
        "dict_keys",
        "counts",
    ],
)
def test_errors_like_tf(case):
    def build(tf):
        one = lambda: tf.constant(1.0)  # noqa: E731
        two = lambda: (tf.constant(1.0), tf.constant(2.0))  # noqa: E731
        i = tf.constant(1)
        args = {
            "int64": (tf.constant(1, tf.int64), [one, one]),
            "float": (tf.constant(1.0), [one]),
            "python_int": (1, [one]),
            "empty": (i, []),
            "empty_dict": (i, {}),
            "gap": (i, {0: one, 2: one}),
            "gap_pairs": (i, [(0, one), (2, one)]),
            "str_keys": (i, {"a": one}),
            "not_pairs": (i, [one, 3]),
            "not_a_list": (i, one),
            "default_not_callable": (i, [one], 3),
            "dtypes": (i, [one, lambda: tf.constant(1)]),
            "structures": (i, [lambda: [one(), one()], two]),
            "dict_keys": (i, [lambda: {"a": one()}, lambda: {"b": one()}]),
            "counts": (i, [one, two]),
        }[case]
        return tf.switch_case(*args)

    exp, act = check_raises(build)
    first = str(exp).split("\n")[0]
    if "<function" not in first and "at 0x" not in first:
        assert str(act).split("\n")[0] == first


def test_index_must_be_a_scalar_when_it_runs():
    def build(tf):
        i = tf.placeholder(tf.int32, None, name="i")
        return tf.switch_case(i, [lambda: tf.constant(1.0), lambda: tf.constant(2.0)])

    exp, act = check_raises(build, {"i:0": np.array([0, 1], np.int32)})
    assert "must be a scalar" in str(act)


def _gradients(tf):
    g = tf.Graph()
    with g.as_default():
        i = tf.placeholder(tf.int32, [], name="i")
        emb = tf.get_variable("emb", initializer=np.arange(12, dtype=np.float32).reshape(4, 3))
        w = tf.get_variable("w", initializer=np.float32([1.0, -2.0, 0.5]))
        t = tf.placeholder(tf.float32, [4, 3], name="t")
        r = tf.switch_case(
            i,
            [
                lambda: tf.reduce_sum(tf.gather(emb, [1, 2]) * w),
                lambda: tf.reduce_sum(emb * 2.0 + t * t),
                lambda: tf.reduce_sum(tf.gather(emb, [0, 0, 3])) * 3.0 + tf.reduce_sum(w * t[0]),
            ],
        )
        only_gathers = tf.switch_case(
            i,
            [lambda: tf.reduce_sum(tf.gather(emb, [1, 2])), lambda: tf.gather(emb, [3])[0, 1]],
        )
        grads = tf.gradients(r, [emb, w, t]) + tf.gradients(only_gathers, [emb])
        kinds = [isinstance(gr, tf.IndexedSlices) for gr in grads]
        feeds = {"t:0": np.arange(12, dtype=np.float32).reshape(4, 3) / 7.0}
        values = []
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for k in INDICES:
                values.append(sess.run(grads, {**feeds, "i:0": k}))
    return kinds, values


def test_gradients_like_tf_with_indexed_slices_through_gathers():
    exp_kinds, exp_values = _gradients(tf1())
    kinds, values = _gradients(tfs)
    assert kinds == exp_kinds
    assert kinds == [True, False, False, True]
    for k, (exp, act) in zip(INDICES, values and zip(exp_values, values)):
        for n, (e, a) in enumerate(zip(exp, act)):
            label = f"index {k}, gradient {n}"
            if type(e).__name__ == "IndexedSlicesValue":
                a_values, a_indices = _unpadded(a)
                np.testing.assert_allclose(a_values, e.values, rtol=1e-6, err_msg=label)
                np.testing.assert_array_equal(a_indices, e.indices, err_msg=label)
                np.testing.assert_array_equal(a.dense_shape, e.dense_shape, err_msg=label)
            else:
                np.testing.assert_allclose(a, e, rtol=1e-6, err_msg=label)


def _train(tf, make_opt, graph_def=False):
    """The variables and loss after each of five training steps; with ``graph_def``, tfstyle
    builds the graph, TF (``tf``) runs its GraphDef."""
    g = tf.Graph()
    with g.as_default():
        if graph_def:
            gd = _train_graph(tfs, make_opt).as_graph_def()
            assert "Gradients" not in {n.op for n in gd.node}
            tf1()
            from tensorflow.core.framework import graph_pb2

            gd = graph_pb2.GraphDef.FromString(gd.SerializeToString()) if tf is not tfs else gd
            tf.import_graph_def(gd, name="")
        else:
            _train_model(tf, make_opt)
        out = []
        with tf.Session() as sess:
            sess.run("init")
            for step, k in enumerate((1, 0, 2, 1, 7)):
                feed = {"i:0": k, "x:0": np.full([2, 3], 0.1 * (step + 1), np.float32)}
                sess.run("train", feed)
                out.append(
                    sess.run(
                        ["emb/Read/ReadVariableOp:0", "w/Read/ReadVariableOp:0", "loss:0"], feed
                    )
                )
    return out


def _train_graph(tf, make_opt):
    g = tf.Graph()
    with g.as_default():
        _train_model(tf, make_opt)
    return g


def _train_model(tf, make_opt):
    tf.set_random_seed(0)
    i = tf.placeholder(tf.int32, [], name="i")
    x = tf.placeholder(tf.float32, [2, 3], name="x")
    emb = tf.get_variable("emb", initializer=np.arange(15, dtype=np.float32).reshape(5, 3) / 10)
    w = tf.get_variable("w", initializer=np.float32([[0.5], [-1.0], [0.25]]))
    h = tf.switch_case(
        i,
        [
            lambda: tf.matmul(x, w),
            lambda: tf.matmul(tf.gather(emb, [1, 3]) + x, w),
            lambda: tf.matmul(x * 2.0, w) + tf.reduce_mean(emb),
        ],
    )
    loss = tf.reduce_mean(tf.square(h - 1.0), name="loss")
    make_opt(tf).minimize(loss, name="train")
    tf.global_variables_initializer()


@pytest.mark.parametrize(
    "make_opt",
    [
        lambda tf: tf.train.GradientDescentOptimizer(0.1),
        lambda tf: tf.train.AdamOptimizer(0.05),
        lambda tf: tf.train.MomentumOptimizer(0.1, 0.9),
    ],
    ids=["sgd", "adam", "momentum"],
)
def test_training_through_switch_case_like_tf(make_opt):
    expected = _train(tf1(), make_opt)
    got = _train(tfs, make_opt)
    for step, (e, a) in enumerate(zip(expected, got)):
        for ev, av in zip(e, a):
            np.testing.assert_allclose(av, ev, rtol=1e-5, atol=1e-6, err_msg=f"step {step}")


def test_training_graph_def_through_switch_case_runs_in_tf_and_imports_back():
    # The gradient of the Case (slices of emb, dense for w) is written as a Case of the
    # branches' gradients: TF trains tfstyle's graph to TF's values, and it imports back.
    make_opt = lambda tf: tf.train.AdamOptimizer(0.05)  # noqa: E731
    expected = _train(tf1(), make_opt)
    for runner in (tf1(), tfs):
        got = _train(runner, make_opt, graph_def=True)
        for step, (e, a) in enumerate(zip(expected, got)):
            for ev, av in zip(e, a):
                np.testing.assert_allclose(av, ev, rtol=1e-5, atol=1e-6, err_msg=f"step {step}")


# -- GraphDefs ---------------------------------------------------------------------------------
def _graph_model(tf):
    x = tf.placeholder(tf.float32, [], name="x")
    i = tf.placeholder(tf.int32, [], name="i")
    v = tf.get_variable("v", initializer=2.0, use_resource=True)
    c = tf.constant(3.0, name="c")
    y = tf.switch_case(i, [lambda: x * c + v, lambda: x - c, lambda: v * v], name="pick")
    s, t = tf.switch_case(
        i, [lambda: (x, tf.square(c)), lambda: (v + 1.0, x)], default=lambda: (c, c), name="pair"
    )
    z = tf.switch_case(i, [lambda: tf.cond(x > 0, lambda: x, lambda: -x), lambda: x * 4.0])
    return [y, s, t, z]


FEEDS = [(1.5, 0), (-2.0, 1), (0.5, 2), (3.0, -1), (-1.0, 5)]


def _graph_run(sess_cls, graph, init, fetches):
    out = []
    with sess_cls(graph=graph) as sess:
        sess.run(init)
        for x, i in FEEDS:
            out.append(sess.run(fetches, {"x:0": x, "i:0": i}))
    return out


def _check(a, b):
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        for va, vb in zip(ra, rb):
            np.testing.assert_allclose(va, vb, rtol=1e-6)


def _build(tf):
    g = tf.Graph()
    with g.as_default():
        outs = [t.name for t in _graph_model(tf)]
        init = tf.global_variables_initializer().name
    return g, outs, init


def test_tfstyle_graph_def_runs_in_tf_and_imports_back():
    tf = tf1()
    tg, outs, init = _build(tf)
    expected = _graph_run(tf.Session, tg, init, outs)
    ours, our_outs, our_init = _build(tfs)
    assert our_outs == outs
    gd = ours.as_graph_def()
    kinds = {n.name: n.op for n in gd.node}
    tf_kinds = {n.name: n.op for n in tg.as_graph_def().node}
    assert {k: v for k, v in kinds.items() if "Case" in v} == {
        k: v for k, v in tf_kinds.items() if "Case" in v
    }
    assert kinds["switch_case/indexed_case"] == "StatelessCase"
    names = {f.signature.name for f in gd.library.function}
    for n in gd.node:
        if n.op in ("Case", "StatelessCase"):
            assert len(n.attr["branches"].list.func) in (2, 3)
            assert all(f.name in names for f in n.attr["branches"].list.func)
    g = tf.Graph()
    with g.as_default():
        tf1()
        from tensorflow.core.framework import graph_pb2

        tf.import_graph_def(graph_pb2.GraphDef.FromString(gd.SerializeToString()), name="")
    _check(_graph_run(tf.Session, g, our_init, our_outs), expected)
    back = tfs.Graph()
    with back.as_default():
        tfs.import_graph_def(gd, name="")
    assert back.get_operation_by_name("pick/indexed_case").type == "Case"
    _check(_graph_run(tfs.Session, back, our_init, our_outs), expected)


def test_tf_graph_def_with_case_imports_into_tfstyle():
    tf = tf1()
    tg, outs, init = _build(tf)
    expected = _graph_run(tf.Session, tg, init, outs)
    gd = graph_io._as_graph_def_proto(tg.as_graph_def())
    ours = tfs.Graph()
    with ours.as_default():
        tfs.import_graph_def(gd, name="")
    assert ours.get_operation_by_name("pick/indexed_case").type == "Case"
    assert ours.get_operation_by_name("pair/indexed_case").type == "Case"
    assert ours.get_tensor_by_name(outs[0]).shape.as_list() == []
    _check(_graph_run(tfs.Session, ours, init, outs), expected)


def _gradient_model(tf):
    x = tf.placeholder(tf.float32, [], name="x")
    i = tf.placeholder(tf.int32, [], name="i")
    v = tf.get_variable("v", initializer=2.0, use_resource=True)
    y = tf.switch_case(i, [lambda: x * x * v, lambda: tf.sin(x) + v * 3.0, lambda: x])
    gx, gv = tf.gradients(y, [x, v])
    return [y, gx, tf.identity(gv, name="gv")]


def test_gradient_graph_def_both_ways():
    tf = tf1()
    results = {}
    for lib in (tf, tfs):
        g = lib.Graph()
        with g.as_default():
            outs = [t.name for t in _gradient_model(lib)]
            init = lib.global_variables_initializer().name
        results[lib] = (g, outs, init, _graph_run(lib.Session, g, init, outs))
    tg, outs, init, expected = results[tf]
    og, our_outs, our_init, got = results[tfs]
    _check(got, expected)
    # TF's gradient graph imports into tfstyle.
    ours = tfs.Graph()
    with ours.as_default():
        tfs.import_graph_def(graph_io._as_graph_def_proto(tg.as_graph_def()), name="")
    _check(_graph_run(tfs.Session, ours, init, outs), expected)
    # tfstyle's runs in TF, and imports back.
    tf1()
    from tensorflow.core.framework import graph_pb2

    gd = og.as_graph_def()
    g = tf.Graph()
    with g.as_default():
        tf.import_graph_def(graph_pb2.GraphDef.FromString(gd.SerializeToString()), name="")
    _check(_graph_run(tf.Session, g, our_init, our_outs), expected)
    back = tfs.Graph()
    with back.as_default():
        tfs.import_graph_def(gd, name="")
    _check(_graph_run(tfs.Session, back, our_init, our_outs), expected)


def test_exported_from_the_top_level_namespace():
    import tfstyle

    assert tfstyle.switch_case is tfs.switch_case


def test_switch_case_in_a_while_loop_and_a_cond_in_a_branch():
    def build(tf):
        x = tf.placeholder(tf.float32, [None, 3], name="x")

        def body(i, s):
            s = tf.switch_case(i % 4, [lambda: s + x, lambda: s * 0.5, lambda: s - 1.0])
            return i + 1, s

        _, s = tf.while_loop(lambda i, s: i < 6, body, [tf.constant(0), tf.zeros_like(x)])
        k = tf.cast(tf.reduce_sum(x) > 0.0, tf.int32)
        w = tf.switch_case(
            k,
            [lambda: tf.cond(x[0, 0] > 0, lambda: x * 3.0, lambda: -x), lambda: tf.square(x)],
        )
        return [s, w]

    check(build, X, grad=True)
    check(build, {"x:0": -X["x:0"] - 5.0}, grad=True)
