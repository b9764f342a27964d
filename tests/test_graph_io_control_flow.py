"""GraphDef / MetaGraphDef interop of control flow: function graphs as ``FunctionDef``s."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1
from tfstyle.framework import graph_io

FEEDS = [np.float32(1.5), np.float32(-2.0)]


def _tf_graph_def(gd):
    tf1()
    from tensorflow.core.framework import graph_pb2

    return graph_pb2.GraphDef.FromString(gd.SerializeToString())


def _model(tf):
    """A cond and a while_loop reading a captured constant and a variable; a nested cond in a
    loop body; a bounded loop."""
    x = tf.placeholder(tf.float32, [], name="x")
    v = tf.get_variable("v", initializer=2.0, use_resource=True)
    c = tf.constant(3.0, name="c")
    y = tf.cond(x > 0, lambda: x * c + v, lambda: x - c, name="branch")
    i, a = tf.while_loop(lambda i, a: i < 5, lambda i, a: (i + 1, a * 0.5 + v * c), [0, x])
    b = tf.while_loop(
        lambda b: b < 100.0,
        lambda b: tf.cond(b > 0, lambda: b * 2.0 + 1.0, lambda: b - 3.0 * c),
        [x],
        maximum_iterations=4,
        name="bounded",
    )
    s, t = tf.cond(x < 0, lambda: (x, tf.square(c)), lambda: (v + 1.0, x), name="pair")
    return [y, i, a, b, s, t]


def _build(lib, graph):
    with graph.as_default():
        outs = [t.name for t in _model(lib)]
        init = lib.global_variables_initializer().name
    return outs, init


def _run(sess_cls, graph, init, fetches):
    results = []
    with sess_cls(graph=graph) as sess:
        sess.run(init)
        for x in FEEDS:
            results.append(sess.run(fetches, {"x:0": x}))
    return results


def _check(a, b):
    assert len(a) == len(b)
    for ra, rb in zip(a, b):
        for va, vb in zip(ra, rb):
            np.testing.assert_allclose(va, vb, rtol=1e-6)


def _tf_reference():
    tf = tf1()
    g = tf.Graph()
    outs, init = _build(tf, g)
    return g, outs, init, _run(tf.Session, g, init, outs)


def test_tfstyle_control_flow_graph_def_runs_in_tf():
    tf = tf1()
    _, outs, init, expected = _tf_reference()
    ours = tfs.Graph()
    our_outs, our_init = _build(tfs, ours)
    assert our_outs == outs
    gd = ours.as_graph_def()
    kinds = {n.name: n.op for n in gd.node}
    assert kinds["branch"] in ("If", "StatelessIf") and kinds["while"] == "While"
    names = {f.signature.name for f in gd.library.function}
    for n in gd.node:
        for key in ("then_branch", "else_branch", "cond", "body"):
            if key in n.attr:
                assert n.attr[key].func.name in names
    g = tf.Graph()
    with g.as_default():
        tf.import_graph_def(_tf_graph_def(gd), name="")
    _check(_run(tf.Session, g, our_init, our_outs), expected)
    # And back into tfstyle.
    g2 = tfs.Graph()
    with g2.as_default():
        tfs.import_graph_def(gd, name="")
    _check(_run(tfs.Session, g2, our_init, our_outs), expected)


def test_tf_control_flow_graph_def_imports_into_tfstyle():
    g, outs, init, expected = _tf_reference()
    gd = graph_io._as_graph_def_proto(g.as_graph_def())
    assert len(gd.library.function) >= 6
    ours = tfs.Graph()
    with ours.as_default():
        tfs.import_graph_def(gd, name="")
    assert ours.get_operation_by_name("while").type == "While"
    _check(_run(tfs.Session, ours, init, outs), expected)
    # Under an import scope, with the fetched tensors returned.
    other = tfs.Graph()
    with other.as_default():
        x = tfs.placeholder(tfs.float32, [], name="feed")
        els = tfs.import_graph_def(
            gd, input_map={"x:0": x}, return_elements=outs + [init], name="imp"
        )
        with tfs.Session() as sess:
            sess.run(els[-1])
            got = sess.run(els[:-1], {x: FEEDS[0]})
    _check([got], expected[:1])


def test_saver_meta_graph_with_cond_restores_in_tf(tmp_path):
    tf = tf1()
    ours = tfs.Graph()
    with ours.as_default():
        x = tfs.placeholder(tfs.float32, [], name="x")
        v = tfs.get_variable("v", initializer=2.0, use_resource=True)
        y = tfs.cond(x > 0, lambda: x * v, lambda: x - v, name="branch")
        y = tfs.identity(y, name="y")
        saver = tfs.train.Saver()
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            sess.run(v.assign(5.0))
            path = saver.save(sess, str(tmp_path / "model"))
    g = tf.Graph()
    with g.as_default():
        restorer = tf.train.import_meta_graph(path + ".meta")
        with tf.Session() as sess:
            restorer.restore(sess, path)
            assert sess.run("y:0", {"x:0": 3.0}) == pytest.approx(15.0)
            assert sess.run("y:0", {"x:0": -1.0}) == pytest.approx(-6.0)
    # And into tfstyle, from the same files.
    with tfs.Graph().as_default():
        restorer = tfs.train.import_meta_graph(path + ".meta")
        with tfs.Session() as sess:
            restorer.restore(sess, path)
            assert sess.run("y:0", {"x:0": 3.0}) == pytest.approx(15.0)


def test_scan_is_written_as_a_tf_while_that_round_trips():
    ours = tfs.Graph()
    with ours.as_default():
        elems = tfs.constant([1.0, 2.0, 3.0], name="elems")
        k = tfs.constant(10.0, name="k")
        m = tfs.map_fn(lambda e: e * k, elems)
        s = tfs.scan(lambda acc, e: acc + e, elems)
        f = tfs.foldl(lambda acc, e: acc * e, elems, initializer=tfs.constant(2.0))
        names = [m.name, s.name, f.name]
        gd = ours.as_graph_def()
    assert "TfstyleScan" not in {n.op for n in gd.node}
    back = tfs.Graph()
    with back.as_default():
        tfs.import_graph_def(gd, name="")
        with tfs.Session() as sess:
            got = sess.run(names)
    np.testing.assert_allclose(got[0], [10.0, 20.0, 30.0])
    np.testing.assert_allclose(got[1], [1.0, 3.0, 6.0])
    np.testing.assert_allclose(got[2], 12.0)
    tf = tf1()
    with tf.Graph().as_default() as g:
        tf.import_graph_def(_tf_graph_def(gd), name="")
        with tf.Session(graph=g) as sess:
            np.testing.assert_allclose(sess.run(names)[2], 12.0)


def _stateful_model(tf):
    x = tf.placeholder(tf.float32, [], name="x")
    v = tf.get_variable("v", initializer=2.0, use_resource=True)
    y = tf.cond(x > 0, lambda: v.assign_add(x), lambda: x * 2.0, name="update")
    n = tf.while_loop(lambda i: i < 3, lambda i: i + 1, [0], name="count")
    z = tf.case([(x > 10, lambda: x), (x > 0, lambda: x + 100.0)], default=lambda: -x)
    return [y, n, z]


@pytest.mark.parametrize("direction", ["tfstyle_to_tf", "tf_to_tfstyle"])
def test_assignment_in_a_branch_and_case_both_ways(direction):
    tf = tf1()
    src, dst = (tfs, tf) if direction == "tfstyle_to_tf" else (tf, tfs)
    g = src.Graph()
    with g.as_default():
        outs = [t.name for t in _stateful_model(src)]
        init = src.global_variables_initializer().name
        gd = g.as_graph_def()
    expected = [[3.5, 3, 101.5], [5.0, 3, 101.5]]
    g2 = dst.Graph()
    with g2.as_default():
        dst.import_graph_def(_tf_graph_def(gd) if dst is tf else gd, name="")
    with dst.Session(graph=g2) as sess:
        sess.run(init)
        got = [sess.run(outs, {"x:0": 1.5}) for _ in range(2)]
    np.testing.assert_allclose(np.array(got, np.float64), expected)


def test_function_bodies_name_outputs_as_tf_does():
    g = tfs.Graph()
    with g.as_default():
        x = tfs.placeholder(tfs.float32, [], name="x")
        tfs.cond(x > 0, lambda: tfs.square(x) * 2.0, lambda: x)
        gd = g.as_graph_def()
    then = next(f for f in gd.library.function if f.signature.name.startswith("cond_true"))
    inputs = {s for nd in then.node_def for s in nd.input}
    assert any(s.endswith(":y:0") for s in inputs)  # Square's output argument is "y"
    (ret,) = then.ret.values()
    assert ret.endswith(":z:0")  # Mul's is "z"
    assert [a.type for a in then.signature.input_arg] == [tfs.float32.as_datatype_enum]


def test_gradients_through_control_flow_imported_from_tf():
    tf = tf1()
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [], name="x")
        tf.cond(x > 0, lambda: x * x, lambda: -x, name="c")
        tf.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a * x), [0, x], maximum_iterations=5)
        gd = graph_io._as_graph_def_proto(g.as_graph_def())
    ours = tfs.Graph()
    with ours.as_default():
        y, z = tfs.import_graph_def(gd, return_elements=["c/Identity:0", "while/Identity_3:0"])
        x = ours.get_tensor_by_name("import/x:0")
        grads = tfs.gradients(y, x) + tfs.gradients(z, x)
        with tfs.Session() as sess:
            np.testing.assert_allclose(sess.run(grads, {x: 2.0}), [4.0, 32.0])


def test_dynamic_rnn_round_trips_through_tfstyle():
    g = tfs.Graph()
    with g.as_default():
        inputs = tfs.constant(np.linspace(-1, 1, 24, dtype=np.float32).reshape(2, 4, 3))
        with tfs.variable_scope("m", initializer=tfs.constant_initializer(0.1)):
            out, _ = tfs.nn.dynamic_rnn(tfs.nn.rnn_cell.BasicRNNCell(5), inputs, dtype=tfs.float32)
        init = tfs.global_variables_initializer()
        with tfs.Session() as sess:
            sess.run(init)
            expected = sess.run(out)
        gd, names = g.as_graph_def(), [out.name, init.name]
    back = tfs.Graph()
    with back.as_default():
        tfs.import_graph_def(gd, name="")
        with tfs.Session() as sess:
            sess.run(names[1])
            np.testing.assert_allclose(sess.run(names[0]), expected, rtol=1e-6)


def test_loop_bounded_by_a_fed_tensor_and_relaxed_shapes_run_in_tf():
    tf = tf1()
    g = tfs.Graph()
    with g.as_default():
        m = tfs.placeholder(tfs.int32, [], name="m")
        r = tfs.while_loop(
            lambda i, a: i < 10, lambda i, a: (i + 1, a * 2.0), [0, 1.0], maximum_iterations=m
        )
        q = tfs.while_loop(
            lambda a: a < 100.0,
            lambda a: a * 3.0,
            [tfs.constant(1.0)],
            shape_invariants=[tfs.TensorShape(None)],
        )
        names = [r[0].name, r[1].name, q.name]
        gd = g.as_graph_def()
    g2 = tf.Graph()
    with g2.as_default():
        tf.import_graph_def(_tf_graph_def(gd), name="")
    with tf.Session(graph=g2) as sess:
        np.testing.assert_allclose(sess.run(names, {"m:0": 4}), [4, 16.0, 243.0])
        np.testing.assert_allclose(sess.run(names, {"m:0": 20}), [10, 1024.0, 243.0])
