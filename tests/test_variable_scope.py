"""``variable_scope`` and ``get_variable``: naming, reuse, scope defaults and errors, against TF."""

import numpy as np

import tfstyle.compat.v1 as tfs
from tests.test_variables import _graph_ops, _same, _same_error


def test_classic_example_variable_scope_vs_name_scope():
    def build(tf):
        with tf.variable_scope("foo"):
            with tf.name_scope("bar"):
                v = tf.get_variable("v", [1])
                x = 1.0 + v
        return [v.name, x.op.name, _graph_ops(tf)]

    assert _same(build)[:2] == ["foo/v:0", "foo/bar/add"]


def test_reuse_modes_scope_objects_and_default_names():
    def build(tf):
        out = []
        with tf.variable_scope("foo"):
            v = tf.get_variable("v", [1])
        with tf.variable_scope("foo", reuse=True):
            out.append(tf.get_variable("v", [1]) is v)
            with tf.variable_scope("deeper"):
                out.append(tf.get_variable_scope().reuse)
        with tf.variable_scope("foo") as sc:
            out += [sc.name, sc.original_name_scope, sc.reuse]
        with tf.variable_scope(sc):
            w = tf.get_variable("w", [2, 3], initializer=tf.zeros_initializer())
            out += [w.name, tf.identity(w).name, tf.get_variable_scope().name]
        with tf.variable_scope(sc, reuse=True):
            out.append(tf.get_variable("w") is w)
        for _ in range(2):
            with tf.variable_scope(None, default_name="layer") as s:
                k = tf.get_variable("k", [3], dtype=tf.int32)
                out += [s.name, s.original_name_scope, k.name, tf.constant(0).name]
        with tf.variable_scope("outer"):
            for _ in range(2):
                with tf.variable_scope(None, default_name="layer") as s:
                    out.append(s.name)
        with tf.variable_scope("auto", reuse=tf.AUTO_REUSE):
            a1 = tf.get_variable("a", [2])
            a2 = tf.get_variable("a", [2])
            out.append(a1 is a2)
            with tf.variable_scope("inner", reuse=False):
                out.append(tf.get_variable_scope().reuse is tf.AUTO_REUSE)
        with tf.variable_scope("r") as rs:
            b1 = tf.get_variable("b", [], initializer=tf.constant_initializer(3.0))
            rs.reuse_variables()
            out.append(tf.get_variable("b") is b1)
            tf.get_variable_scope().reuse_variables()
            out.append(tf.get_variable_scope().reuse)
        with tf.variable_scope("aux", auxiliary_name_scope=False) as ax:
            out += [tf.get_variable("g", [1]).name, tf.constant(1).name, ax.original_name_scope]
        with tf.name_scope("ns"):
            with tf.variable_scope("vs") as vs:
                out += [tf.get_variable("h", [1]).name, tf.constant(2).name, vs.original_name_scope]
            with tf.variable_scope(ax, auxiliary_name_scope=False):
                out += [tf.constant(1).name, tf.get_variable_scope().name]
        with tf.name_scope("only_ns"):
            out += [tf.get_variable("root_v", [1]).name, tf.get_variable_scope().name]
        with tf.variable_scope("a/b"):
            out += [tf.get_variable("c", [1]).name]
        out.append(tf.get_variable_scope().name)
        out.append(_graph_ops(tf))
        return out

    _same(build)


def test_get_variable_initializers_dtypes_and_collections():
    def build(tf):
        d = tf.get_variable("d", initializer=np.arange(4, dtype=np.int64))
        e = tf.get_variable("e", initializer=tf.constant([[1.0, 2.0]]))
        f = tf.get_variable(
            "f",
            [2],
            trainable=False,
            collections=["mine", tf.GraphKeys.GLOBAL_VARIABLES],
            initializer=tf.zeros_initializer(),
        )
        lv = tf.get_local_variable("lv", [1], initializer=tf.ones_initializer())
        b = tf.get_variable("b", [2], dtype=tf.bool)
        i = tf.get_variable("i", [2], dtype=tf.int32)
        c = tf.get_variable("c", [2, 2], initializer=tf.ones_initializer)
        fn = tf.get_variable(
            "fn", [3], initializer=lambda shape, dtype, partition_info: tf.ones(shape, dtype) * 7.0
        )
        noarg = tf.get_variable("noarg", initializer=lambda: tf.constant([1.0, 2.0]))
        same = tf.get_variable("same", initializer=[1.0, 2.0], dtype=tf.float32)
        with tf.variable_scope("sc", initializer=tf.constant_initializer(2.0), dtype=tf.float64):
            s = tf.get_variable("s", [2])
            s_own = tf.get_variable(
                "own", [1], initializer=tf.zeros_initializer(), dtype=tf.float32
            )
        out = [
            [
                (v.name, v.dtype.name, v.shape.as_list())
                for v in (d, e, f, lv, b, i, c, fn, noarg, same, s, s_own)
            ],
            [v.name for v in tf.trainable_variables()],
            [v.name for v in tf.global_variables()],
            [v.name for v in tf.get_collection("mine")],
            [v.name for v in tf.local_variables()],
            _graph_ops(tf),
        ]
        with tf.Session() as sess:
            sess.run([tf.global_variables_initializer(), tf.local_variables_initializer()])
            vals = sess.run([d, e, f, lv, b, i, c, fn, noarg, same, s, s_own])
            out.append([np.asarray(v).tolist() for v in vals])
        return out

    _same(build)


def test_regularizers_go_to_regularization_losses():
    def build(tf):
        with tf.variable_scope("foo", regularizer=lambda w: w * 0.5):
            with tf.name_scope("bar"):
                v = tf.get_variable("v", [2], initializer=tf.ones_initializer())
            u = tf.get_variable("u", [1], regularizer=tf.no_regularizer)
            z = tf.get_variable("z", [1], regularizer=lambda w: None)
        r = tf.get_variable(
            "r", [], regularizer=lambda w: w * 3.0, initializer=tf.ones_initializer()
        )
        losses = tf.get_collection(tf.GraphKeys.REGULARIZATION_LOSSES)
        total = tf.add_n(losses[1:] + [losses[0][0]])
        out = [
            [x.name for x in losses],
            [(x.dtype.name, x.shape.as_list(), x.op.name) for x in losses],
            [u.name, z.name],
            _graph_ops(tf),
        ]
        with tf.Session() as sess:
            sess.run([v.initializer, r.initializer])
            out.append([np.asarray(x).tolist() for x in sess.run(losses + [total])])
        return out

    _same(build)


def test_get_variable_errors():
    def duplicate(tf):
        with tf.variable_scope("foo"):
            tf.get_variable("v", [1])
            tf.get_variable("v", [1])

    _same_error(
        duplicate,
        "Variable foo/v already exists, disallowed. Did you mean to set reuse=True or "
        "reuse=tf.AUTO_REUSE in VarScope?",
    )

    def missing(tf):
        with tf.variable_scope("foo", reuse=True):
            tf.get_variable("w", [1])

    _same_error(missing, "Variable foo/w does not exist, or was not created with tf.get_variable()")

    def shape_mismatch(tf):
        with tf.variable_scope("foo"):
            tf.get_variable("v", [1])
        with tf.variable_scope("foo", reuse=True):
            tf.get_variable("v", [2])

    _same_error(shape_mismatch, "Trying to share variable foo/v, but specified shape (2,)")

    def dtype_mismatch(tf):
        tf.get_variable("v", [1])
        with tf.variable_scope("", reuse=True):
            tf.get_variable("v", [1], dtype=tf.int32)

    _same_error(dtype_mismatch, "Trying to share variable v, but specified dtype int32")
    _same_error(
        lambda tf: tf.get_variable("v", [2], initializer=[1.0, 2.0]),
        "If initializer is a constant, do not specify shape.",
    )
    _same_error(lambda tf: tf.get_variable("v"), "did not get an initializer, so its `shape`")
    _same_error(
        lambda tf: tf.get_variable("v", initializer=np.float64(1), dtype=tf.float32),
        "Initializer type '<dtype: 'float64'>' and explicit dtype '<dtype: 'float32'>'",
    )
    _same_error(lambda tf: tf.get_variable("v", [1], dtype=tf.complex64), "An initializer for")
    _same_error(lambda tf: tf.variable_scope(None), "If default_name is None")
    _same_error(lambda tf: tf.variable_scope("x", reuse=3), "The reuse parameter must be")

    def reuse_default_name(tf):
        with tf.variable_scope(None, default_name="d", reuse=True):
            pass

    _same_error(reuse_default_name, "reuse=True cannot be used without a name_or_scope")


def test_custom_getter_wraps_creation():
    def build(tf):
        seen = []

        def getter(getter, name, *args, **kwargs):
            seen.append(name)
            kwargs["trainable"] = False
            return getter(name + "_custom", *args, **kwargs)

        def outer(getter, name, *args, **kwargs):
            seen.append("outer:" + name)
            return getter(name, *args, **kwargs)

        with tf.variable_scope("cg", custom_getter=getter):
            v = tf.get_variable("v", [1])
            with tf.variable_scope("nested", custom_getter=outer):
                w = tf.get_variable("w", [1])
        return [seen, v.name, w.name, [x.name for x in tf.trainable_variables()]]

    _same(build)


def test_scope_state_is_per_graph_and_reset_with_the_graph():
    tfs.reset_default_graph()
    with tfs.variable_scope("a"):
        tfs.get_variable("v", [1])
    g = tfs.Graph()
    with g.as_default():
        assert tfs.get_variable_scope().name == ""
        with tfs.variable_scope("a"):
            assert tfs.get_variable("v", [1]).name == "a/v:0"
    tfs.reset_default_graph()
    with tfs.variable_scope("a"):
        assert tfs.get_variable("v", [1]).name == "a/v:0"
    tfs.reset_default_graph()


def test_variable_scope_with_values_uses_their_graph():
    g = tfs.Graph()
    with g.as_default():
        x = tfs.constant(1.0)
    with tfs.variable_scope("s", values=[x]) as scope:
        v = tfs.get_variable("v", [1])
    assert v.graph is g and scope.name == "s"
    assert tfs.get_default_graph() is not g


def test_scope_collections_and_variable_op_scope():
    def build(tf):
        with tf.variable_scope("m") as m:
            tf.get_variable("a", [1])
            tf.get_variable("b", [1], trainable=False)
            tf.get_local_variable("c", [1])
        tf.get_variable("mm", [1])
        x = tf.constant(1.0)
        with tf.variable_op_scope([x], None, default_name="op") as o:
            tf.get_variable("d", [1])
        return [
            [v.name for v in m.trainable_variables()],
            [v.name for v in m.global_variables()],
            [v.name for v in m.local_variables()],
            [v.name for v in o.global_variables()],
            o.name,
        ]

    _same(build)
