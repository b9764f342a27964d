"""GraphDef and MetaGraphDef interop with real TF: both directions, naming, errors."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1
from tfstyle.framework import errors, graph_io

X = np.array([[1.0, -2.0, 3.0], [4.0, 5.0, -6.0]], np.float32)


def _tf_graph_def(gd):
    tf1()
    from tensorflow.core.framework import graph_pb2

    return graph_pb2.GraphDef.FromString(gd.SerializeToString())


def _model(tf):
    """Placeholders, math, matmul, variables (read/assign), reshape, reductions, nn ops."""
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    with tf.name_scope("dense"):
        w = tf.Variable(np.arange(12, dtype=np.float32).reshape(3, 4) / 10, name="w")
        b = tf.Variable(np.ones(4, np.float32), name="b")
        h = tf.nn.relu(tf.nn.bias_add(tf.matmul(x, w), b))
    y = tf.nn.softmax(tf.reshape(h, [-1, 2, 2]))
    total = tf.reduce_sum(y, axis=[1, 2])
    mean = tf.reduce_mean(tf.square(x - 1.0), name="mean")
    idx = tf.argmax(h, axis=1)
    cast = tf.cast(tf.concat([x, tf.transpose(tf.transpose(x))[:1] * 0.0 + 7.0], axis=0), tf.int32)
    step = tf.Variable(3, name="step")
    inc = tf.identity(step.assign_add(2), name="inc")
    return [h, y, total, mean, idx, cast, inc]


def _run(graph, fetches, init_names, feed):
    tf1()
    import tensorflow.compat.v1 as tfv1

    lib = tfv1 if not isinstance(graph, tfs.Graph) else tfs
    with lib.Session(graph=graph) as sess:
        sess.run(init_names)
        return sess.run(fetches, feed)


def _attrs(gd):
    return {n.name: (n.op, sorted(k for k in n.attr if not k.startswith("_"))) for n in gd.node}


def test_tfstyle_graph_def_matches_tf_and_runs_in_tf():
    tf = tf1()
    ours, theirs = tfs.Graph(), tf.Graph()
    with ours.as_default():
        outs = [t.name for t in _model(tfs)]
        inits = [v.initializer.name for v in tfs.global_variables()]
        gd = ours.as_graph_def()
    with theirs.as_default():
        _model(tf)
        tf_gd = theirs.as_graph_def()
    # TF's nodes, with the same op types and attribute names as TF's own graph.
    ours_attrs, tf_attrs = _attrs(gd), _attrs(tf_gd)
    assert {k: ours_attrs.get(k) for k in tf_attrs} == tf_attrs
    assert gd.versions.producer == tf_gd.versions.producer
    # TF imports our GraphDef and computes the same values as tfstyle.
    imported = tf.Graph()
    with imported.as_default():
        tf.import_graph_def(_tf_graph_def(gd), name="")
    expected = _run(ours, outs, inits, {"x:0": X})
    actual = _run(imported, outs, inits, {"x:0": X})
    for e, a in zip(expected, actual):
        np.testing.assert_allclose(a, e, rtol=1e-6)


def test_tf_graph_def_imports_into_tfstyle_and_runs():
    tf = tf1()
    theirs = tf.Graph()
    with theirs.as_default():
        outs = [t.name for t in _model(tf)]
        inits = [v.initializer.name for v in tf.global_variables()]
        gd = theirs.as_graph_def(add_shapes=True)
    expected = _run(theirs, outs, inits, {"x:0": X})
    ours = tfs.Graph()
    with ours.as_default():
        tfs.import_graph_def(gd, name="")
    assert [o.name for o in ours.get_operations()] == [n.name for n in gd.node]
    for name in outs:
        t_tf, t_ours = theirs.get_tensor_by_name(name), ours.get_tensor_by_name(name)
        assert t_ours.dtype.name == t_tf.dtype.name
        assert t_ours.shape.as_list() == t_tf.shape.as_list()
    actual = _run(ours, outs, inits, {"x:0": X})
    for e, a in zip(expected, actual):
        np.testing.assert_allclose(a, e, rtol=1e-6)


def test_import_graph_def_scopes_input_map_and_return_elements():
    tf = tf1()
    results = []
    for lib in (tf, tfs):
        src = lib.Graph()
        with src.as_default():
            x = lib.placeholder(lib.float32, [None, 3], name="x")
            lib.add(x * 2.0, 1.0, name="y")
            gd = src.as_graph_def()
        if lib is tf:
            gd = _tf_graph_def(graph_io.graph_def(_import_tfstyle(gd)))
        g = lib.Graph()
        with g.as_default():
            a = lib.import_graph_def(gd, return_elements=["y:0", "x"])
            b = lib.import_graph_def(gd, return_elements=["y:0"])
            c = lib.import_graph_def(
                gd,
                input_map={"x:0": lib.constant([[1.0, 2.0, 3.0]])},
                return_elements=["y:0"],
                name="m",
            )
            lib.import_graph_def(gd, name="")
            later = lib.placeholder(lib.float32, name="x")
            with pytest.raises(ValueError):
                lib.import_graph_def(gd, return_elements=["nope:0"])
            with lib.Session() as sess:
                value = sess.run(c[0])
        results.append(
            (
                [t.name for t in a],
                type(a[1]).__name__,
                b[0].name,
                c[0].name,
                c[0].shape.as_list(),
                later.name,
                value.tolist(),
            )
        )
    assert results[0] == results[1]


def _import_tfstyle(gd):
    g = tfs.Graph()
    with g.as_default():
        tfs.import_graph_def(gd, name="")
    return g


def test_unsupported_op_types_are_listed_in_one_error():
    from tensorboard.compat.proto import graph_pb2

    gd = graph_pb2.GraphDef()
    gd.node.add(name="a", op="FooBarOp")
    gd.node.add(name="b", op="BazQuxOp")
    gd.node.add(name="c", op="FooBarOp")
    with tfs.Graph().as_default(), pytest.raises(errors.NotFoundError) as info:
        tfs.import_graph_def(gd)
    assert "'BazQuxOp', 'FooBarOp'" in str(info.value)


def test_import_graph_def_rejects_non_graph_def():
    with tfs.Graph().as_default(), pytest.raises(TypeError):
        tfs.import_graph_def("not a graph")


def test_add_shapes_and_private_attrs():
    g = tfs.Graph()
    with g.as_default():
        x = tfs.placeholder(tfs.float32, [None, 3], name="x")
        v = tfs.Variable([1.0, 2.0], name="v")
        tfs.reduce_sum(x, axis=1) + v[0]
    gd = g.as_graph_def(add_shapes=True)
    shapes = {
        n.name: [[d.size for d in s.dim] for s in n.attr["_output_shapes"].list.shape]
        for n in gd.node
    }
    assert shapes["x"] == [[-1, 3]]
    assert shapes["v/Read/ReadVariableOp"] == [[2]]
    assert shapes["v/Assign"] == []
    # tfstyle's own bookkeeping attributes (``_shape``) never reach the GraphDef.
    assert not any(k.startswith("_") for n in g.as_graph_def().node for k in n.attr)
    assert g.get_operation_by_name("x").node_def.attr["dtype"].type == 1


def test_attr_values_round_trip():
    values = [
        tfs.float16,
        tfs.TensorShape([None, 2]),
        tfs.TensorShape(None),
        np.array([[1, 2]], np.int64),
        np.array([b"a", b"bc"], dtype=object),
        np.array(1.5, dtype=np.float16),
        True,
        7,
        0.25,
        "SAME",
        [1, 2, 2, 1],
        [tfs.float32, tfs.int32],
        [],
    ]
    for v in values:
        back = graph_io.attr_from_proto(graph_io.attr_value(v))
        if isinstance(v, np.ndarray):
            assert back.dtype == v.dtype and back.tolist() == v.tolist()
        elif isinstance(v, bytes) or isinstance(v, str):
            assert back == v
        else:
            assert back == v, (v, back)


def test_tf_compact_tensor_protos_are_read():
    tf = tf1()
    with tf.Graph().as_default() as g:
        tf.constant(2.5, shape=[2, 2], name="splat")
        tf.constant([1, 2, 3], dtype=tf.int64, name="ints")
        tf.constant([True, False], name="bools")
        tf.constant(np.array([1.5, -2], np.float16), name="halves")
        tf.constant(["x", "yz"], name="strings")
    ours = _import_tfstyle(g.as_graph_def())
    with tfs.Session(graph=ours) as sess:
        out = sess.run(["splat:0", "ints:0", "bools:0", "halves:0"])
    with tf.Session(graph=g) as sess:
        exp = sess.run(["splat:0", "ints:0", "bools:0", "halves:0"])
    for a, e in zip(out, exp):
        assert a.dtype == e.dtype
        np.testing.assert_array_equal(a, e)
    strings = ours.get_operation_by_name("strings").get_attr("value")
    assert strings.tolist() == [b"x", b"yz"]


def test_meta_graph_round_trip_keeps_collections(tmp_path):
    g = tfs.Graph()
    with g.as_default():
        x = tfs.placeholder(tfs.float32, [None], name="x")
        v = tfs.Variable([1.0, 2.0], name="v")
        tfs.Variable(3, trainable=False, name="u")
        loss = tfs.reduce_sum(x * v, name="loss")
        tfs.add_to_collection("my_tensors", loss)
        tfs.add_to_collection("my_ops", v.initializer)
        tfs.add_to_collection("my_strings", "hello")
        tfs.add_to_collection("my_ints", 5)
        tfs.add_to_collection("my_floats", 0.5)
        path = str(tmp_path / "graph.meta")
        mg = tfs.train.export_meta_graph(path)
    assert set(mg.collection_def) >= {"variables", "trainable_variables", "my_tensors"}
    g2 = tfs.Graph()
    with g2.as_default():
        tfs.train.import_meta_graph(path)
        variables = tfs.global_variables()
        assert [var.name for var in variables] == ["v:0", "u:0"]
        assert [var.name for var in tfs.trainable_variables()] == ["v:0"]
        assert tfs.trainable_variables()[0] is variables[0]
        assert tfs.get_collection("my_tensors")[0].name == "loss:0"
        assert tfs.get_collection("my_ops")[0].name == "v/Assign"
        assert tfs.get_collection("my_strings") == [b"hello"]
        assert tfs.get_collection("my_ints") == [5]
        assert tfs.get_collection("my_floats") == [0.5]
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            assert sess.run("loss:0", {"x:0": [1.0, 1.0]}) == 3.0
            assert sess.run(variables[1]) == 3
            assert sess.run(tfs.report_uninitialized_variables()).size == 0
    # TF reads the same file, collections included.
    tf = tf1()
    with tf.Graph().as_default():
        tf.train.import_meta_graph(path)
        assert [var.name for var in tf.global_variables()] == ["v:0", "u:0"]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            assert sess.run("loss:0", {"x:0": [1.0, 1.0]}) == 3.0


def test_write_graph_text_and_binary(tmp_path):
    from google.protobuf import text_format
    from tensorboard.compat.proto import graph_pb2

    g = tfs.Graph()
    with g.as_default():
        tfs.constant(1.0, name="c")
    path = tfs.train.write_graph(g, str(tmp_path / "sub"), "g.pbtxt")
    assert path == str(tmp_path / "sub" / "g.pbtxt")
    parsed = text_format.Parse(open(path).read(), graph_pb2.GraphDef())
    assert [n.name for n in parsed.node] == ["c"]
    path = tfs.train.write_graph(g.as_graph_def(), str(tmp_path), "g.pb", as_text=False)
    assert graph_pb2.GraphDef.FromString(open(path, "rb").read()) == g.as_graph_def()


def test_graphs_without_default_attrs_import_with_tfs_defaults(tmp_path):
    # export_meta_graph(strip_default_attrs=True) and SavedModels leave out attributes that
    # have their default value (data_format, keep_dims, use_locking, T of a Const's ...).
    tf = tf1()
    xv = np.linspace(-1, 1, 50, dtype=np.float32).reshape(1, 5, 5, 2)
    g = tf.Graph()
    with g.as_default():
        x = tf.placeholder(tf.float32, [1, 5, 5, 2], name="x")
        w = tf.get_variable("w", initializer=np.full([3, 3, 2, 2], 0.1, np.float32))
        y = tf.nn.max_pool(tf.nn.conv2d(x, w, [1, 1, 1, 1], "SAME"), [1, 2, 2, 1], [1, 2, 2, 1],
                           "VALID")  # fmt: skip
        y = tf.reduce_mean(tf.nn.bias_add(y, [1.0, 2.0]), name="y")
        tf.train.AdamOptimizer(0.1).minimize(y, name="train")
        init = tf.global_variables_initializer().name
        path = str(tmp_path / "m.meta")
        tf.train.export_meta_graph(path, strip_default_attrs=True)
        with tf.Session() as sess:
            sess.run(init)
            sess.run("train", {x: xv})
            want = sess.run("y:0", {x: xv})
    stripped = [n for n in graph_io.read_meta_graph(path).graph_def.node
                if n.op == "Conv2D"]  # fmt: skip
    assert "data_format" not in stripped[0].attr
    with tfs.Graph().as_default():
        tfs.train.import_meta_graph(path)
        with tfs.Session() as sess:
            sess.run(init)
            sess.run("train", {"x:0": xv})
            np.testing.assert_allclose(sess.run("y:0", {"x:0": xv}), want, rtol=1e-5)


def test_op_defaults_table_matches_tfs_op_registry():
    tf1()
    from google.protobuf import text_format
    from tensorflow.python.framework import op_def_registry

    from tfstyle.framework import op_defaults, registry

    for name in registry.registered_types():
        op_def = op_def_registry.get(name)
        want = {} if op_def is None else {
            a.name: text_format.MessageToString(a.default_value, as_one_line=True)
            for a in op_def.attr if a.HasField("default_value")
        }  # fmt: skip
        got = {k: text_format.MessageToString(v, as_one_line=True)
               for k, v in op_defaults.defaults(name).items()}  # fmt: skip
        assert got == want, name
