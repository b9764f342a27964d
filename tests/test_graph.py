"""DTypes, TensorShape/Dimension and the Graph/Operation/Tensor API against real TF."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1


def both(fn):
    out = []
    for tf in (tf1(), tfs):
        with tf.Graph().as_default():
            out.append(fn(tf))
    return out


def outcome(fn):
    try:
        return ("ok", fn())
    except Exception as e:  # noqa: BLE001 - the class is what is compared
        return type(e).__name__


def test_dtypes_and_as_dtype():
    def fn(tf):
        names = [
            "float16", "float32", "float64", "bfloat16", "int8", "int16", "int32", "int64",
            "uint8", "bool", "string",
        ]  # fmt: skip
        out = []
        for n in names:
            d = getattr(tf, n)
            out.append(
                (d.name, str(d), repr(d), d.as_datatype_enum, d.is_floating, d.is_integer,
                 d.is_bool, d.base_dtype.name, d.size if n != "string" else None)
            )  # fmt: skip
            if n not in ("string", "bool"):
                out.append((d.min, d.max))
        for v in ["float", "double", "half", "int32", np.float32, np.int64, np.dtype("float64"),
                  np.bool_, float, int, bool, 1, 9]:  # fmt: skip
            out.append(outcome(lambda v=v: tf.as_dtype(v).name))
        out.append(outcome(lambda: tf.as_dtype("nope")))
        out.append(tf.float32 == "float32")
        out.append(tf.float32 == tf.as_dtype(np.float32))
        out.append(tf.float32 != tf.int32)
        return out

    exp, act = both(fn)
    assert act == exp


def test_tensor_shape_and_dimension():
    def fn(tf):
        S = tf.TensorShape
        a, b, u = S([None, 3]), S([2, None]), S(None)
        out = [
            str(a), repr(a), str(u), repr(u), str(S([])), str(S([4])), a.as_list(), a.ndims,
            u.ndims, a.is_fully_defined(), S([2, 3]).is_fully_defined(), a[0], a[1],
            a[1:].as_list(), a.merge_with(b).as_list(), a.is_compatible_with(b),
            a.is_compatible_with(S([2, 4])), a.concatenate([5]).as_list(),
            u.concatenate([1]).ndims, S([2, 3]).num_elements(), a.num_elements(), list(a),
            len(a), a == S([None, 3]), a.most_specific_compatible_shape(S([1, 3])).as_list(),
            outcome(lambda: a.merge_with(S([1, 2]))), outcome(lambda: u.as_list()),
            outcome(lambda: len(u)), outcome(lambda: a.with_rank(3)),
            a.with_rank_at_least(1).as_list(), [str(d) for d in a.dims], repr(a.dims[0]),
            tf.Dimension(3).value, tf.Dimension(None).value, str(tf.Dimension(None)),
            tf.Dimension(3) == 3, tf.Dimension(None) == 3, int(tf.Dimension(4)),
            (tf.Dimension(3) + 2).value, (tf.Dimension(None) * 2).value,
            tf.Dimension(3).merge_with(None).value, outcome(lambda: tf.Dimension(-1)),
            outcome(lambda: tf.Dimension(3).merge_with(4)), tf.dimension_value(a.dims[1]),
        ]  # fmt: skip
        return out

    exp, act = both(fn)
    assert act == exp


def test_graph_names_collections_and_lookup():
    def fn(tf):
        g = tf.get_default_graph()
        a = tf.constant(1.0, name="a")
        names = [
            tf.constant(1.0, name="a").name,
            tf.add(a, a).name,
            (a + a).name,
            tf.add(a, a, name="Add").name,
            tf.identity(a, name="add").name,
        ]
        with tf.name_scope("foo"):
            names.append((a + 1).name)
            with tf.name_scope("bar") as scope:
                names.append(scope)
                names.append(tf.identity(a).name)
            with tf.name_scope("bar"):
                names.append(tf.identity(a).name)
            with tf.name_scope("abs/"):
                names.append(tf.identity(a).name)
            with tf.name_scope(None):
                names.append(tf.identity(a).name)
        names.append(g.unique_name("foo", mark_as_used=False))
        names.append(outcome(lambda: g.get_tensor_by_name("a:0").name))
        names.append(outcome(lambda: g.get_tensor_by_name("a")))
        names.append(outcome(lambda: g.get_tensor_by_name("zz:0")))
        names.append(outcome(lambda: g.get_operation_by_name("a").type))
        names.append(outcome(lambda: g.get_operation_by_name("zz")))
        names.append([op.name for op in g.get_operations()][:6])
        tf.add_to_collection("mine", a)
        tf.add_to_collection("mine", 3)
        ref = tf.get_collection_ref("mine")
        ref.append("x")
        names.append([getattr(x, "name", x) for x in tf.get_collection("mine")])
        names.append(tf.get_collection("nothing"))
        names.append(sorted(k for k in g.get_all_collection_keys() if k == "mine"))
        with tf.name_scope("sc"):
            s1 = tf.identity(a, name="in_scope")
        tf.add_to_collection("sc", s1)
        tf.add_to_collection("sc", a)
        names.append([t.name for t in tf.get_collection("sc", scope="sc")])
        return names

    exp, act = both(fn)
    assert act == exp


def test_operation_and_tensor_attributes():
    def fn(tf):
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        w = tf.constant(np.ones((3, 2), np.float32), name="w")
        with tf.device("/cpu:0"):
            y = tf.matmul(x, w, transpose_b=False)
        with tf.device("/job:worker/task:1/gpu:2"):
            gpu = tf.identity(x, name="on_gpu")
        with tf.control_dependencies([y]):
            z = tf.identity(x, name="z")
        op = y.op
        return [
            op.name, op.type, [t.name for t in op.inputs], [t.name for t in op.outputs],
            op.get_attr("transpose_a"), op.get_attr("transpose_b"), op.device, gpu.op.device,
            outcome(lambda: op.get_attr("nope")), [c.name for c in z.op.control_inputs],
            y.name, str(y.shape), y.get_shape().as_list(), y.dtype.name, y.value_index,
            y.op is op, y.graph is tf.get_default_graph(), str(y), repr(y), len(op.outputs),
            outcome(lambda: bool(y)), outcome(lambda: iter(y)), outcome(lambda: len(y)),
            x == x, x != z, x in {x: 1}, [c.name for c in x.consumers()],
        ]  # fmt: skip

    exp, act = both(fn)
    assert act == exp


def test_set_shape_and_nesting_default_graphs():
    def fn(tf):
        x = tf.placeholder(tf.float32, None)
        x.set_shape([None, 4])
        first = str(x.shape)
        x.set_shape([2, None])
        err = outcome(lambda: x.set_shape([3, 4]))
        g1, g2 = tf.Graph(), tf.Graph()
        with g1.as_default():
            with g2.as_default():
                inner = tf.get_default_graph() is g2
            outer = tf.get_default_graph() is g1
        return [first, str(x.shape), err, inner, outer]

    exp, act = both(fn)
    assert act == exp


def test_reset_default_graph_inside_a_graph_is_an_error():
    for tf in (tf1(), tfs):
        with tf.Graph().as_default(), pytest.raises(AssertionError):
            tf.reset_default_graph()
    tfs.reset_default_graph()
    g = tfs.get_default_graph()
    tfs.constant(1.0)
    tfs.reset_default_graph()
    assert tfs.get_default_graph() is not g and not tfs.get_default_graph().get_operations()


def test_device_functions_see_the_node_def():
    seen = []

    def device_fn(op):
        seen.append(op.node_def.op)
        return "/cpu:0" if op.node_def.op == "MatMul" else ""  # recorded as /device:CPU:0

    with tfs.Graph().as_default():
        a = tfs.constant(np.ones((2, 2), np.float32))
        with tfs.device(device_fn):
            m = tfs.matmul(a, a)
            c = tfs.constant(2.0)
        assert m.op.device == "/device:CPU:0" and c.op.device == ""
        assert "MatMul" in seen and "Const" in seen
        with tfs.Session() as s:
            np.testing.assert_allclose(s.run(m), 2 * np.ones((2, 2)))


def test_protos_are_tfs_own_messages():
    # A GraphDef built with tfstyle's proto classes parses in TF and back.
    tf = tf1()
    g = tfs.GraphDef()
    g.node.extend([tfs.NodeDef(name="a", op="NoOp")])
    parsed = tf.GraphDef.FromString(g.SerializeToString())
    assert [n.name for n in parsed.node] == ["a"]
    s = tfs.Summary(value=[tfs.Summary.Value(tag="x", simple_value=1.5)])
    assert tf.Summary.FromString(s.SerializeToString()).value[0].simple_value == 1.5
