"""Partitioned variables (``get_variable(..., partitioner=...)``), against real TF."""

import numpy as np
import pytest

from tests.test_variables import _both, _same, _same_error

FULL = np.arange(60, dtype=np.float32).reshape(10, 6) / 10.0


def _slice_info(v):
    i = v._save_slice_info
    return [i.full_name, i.full_shape, i.var_offset, i.var_shape, i.spec]


def _recording_init(calls):
    """An initializer that gives each part its slice of ``FULL`` and records what TF passes."""

    def init(shape, dtype=None, partition_info=None):
        calls.append(
            [
                list(shape),
                dtype.name,
                type(partition_info).__name__,
                partition_info.full_shape,
                partition_info.var_offset,
                partition_info.single_offset(shape),
                partition_info.single_slice_dim(shape),
            ]
        )
        begin = partition_info.var_offset
        index = tuple(slice(b, b + n) for b, n in zip(begin, shape))
        return FULL[index]

    return init


def test_parts_names_shapes_slice_info_and_collections():
    def build(tf):
        calls = []
        with tf.variable_scope("s", partitioner=tf.fixed_size_partitioner(3)):
            v = tf.get_variable("w", [10, 6], initializer=_recording_init(calls))
        with tf.variable_scope("t"):
            u = tf.get_variable(
                "u",
                [10, 6],
                initializer=_recording_init(calls),
                partitioner=tf.fixed_size_partitioner(4, axis=1),
            )
        one = tf.get_variable("one", [5], partitioner=tf.fixed_size_partitioner(1))
        scalar = tf.get_variable("scalar", [], partitioner=tf.fixed_size_partitioner(3))
        concat_ops = [
            (op.name, op.type)
            for op in tf.get_default_graph().get_operations()
            if "ConcatPartitions" in op.name
        ]
        out = [type(v).__name__, len(v), v.name, v.get_shape().as_list(), v.shape.as_list()]
        out += [v.dtype.name, v._get_partitions(), u._get_partitions(), len(u)]
        out += [[(p.name, p.shape.as_list(), _slice_info(p)) for p in pv] for pv in (v, u)]
        out += [[p.name for p in v._get_variable_list()], calls]
        out += [[x.name for x in tf.global_variables()], [x.name for x in tf.trainable_variables()]]
        out += [type(one).__name__, [p.name for p in one], one.as_tensor().op.type]
        out += [hasattr(scalar, "_get_partitions"), scalar.name]
        with tf.name_scope("ns"):
            with tf.control_dependencies([tf.no_op()]):
                t = v.as_tensor()
                c = tf.convert_to_tensor(v)
        x = tf.placeholder(tf.float32, [None, 10])
        y = tf.matmul(x, v)
        out += [t.name, t.op.control_inputs == [], c.name, y.op.inputs[1].name, concat_ops]
        out += [[op.name for op in tf.get_default_graph().get_operations() if "Concat" in op.name]]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            vals = sess.run([v.as_tensor(), u.as_tensor(), y], {x: np.ones([2, 10])})
        return out + [vals]

    exp, act = _both(build)
    assert act[:-1] == exp[:-1]
    for a, e in zip(act[-1], exp[-1]):
        np.testing.assert_allclose(a, e, rtol=1e-6)
    np.testing.assert_array_equal(act[-1][0], FULL)
    assert act[2] == "s/w" and act[11] == ["s/w/part_0:0", "s/w/part_1:0", "s/w/part_2:0"]


@pytest.mark.parametrize(
    "shape,dtype",
    [([100, 40], "float32"), ([7, 3], "float64"), ([1000], "int32"), ([33, 2, 5], "string")],
)
def test_partitioner_counts(shape, dtype):
    def build(tf):
        s = tf.TensorShape(shape)
        dt = tf.as_dtype(dtype)
        out = []
        for n in (1, 2, 3, 7, 50, 2000):
            out.append(tf.fixed_size_partitioner(n)(shape=s, dtype=dt))
        for max_bytes in (1, 16, 100, 1000, 4096, 1 << 20):
            for max_shards in (None, 3):
                p = tf.variable_axis_size_partitioner(max_bytes, max_shards=max_shards)
                out.append(p(shape=s, dtype=dt))
        for max_parts in (1, 3, 100):
            for min_slice in (1, 64, 1000, 256 << 10):
                p = tf.min_max_variable_partitioner(max_parts, min_slice_size=min_slice)
                out.append(p(shape=s, dtype=dt))
        if len(shape) > 1:
            out.append(tf.fixed_size_partitioner(3, axis=1)(shape=s, dtype=dt))
            out.append(tf.variable_axis_size_partitioner(64, axis=1)(shape=s, dtype=dt))
            out.append(tf.min_max_variable_partitioner(4, axis=1, min_slice_size=8)(s, dt))
        return out

    _same(build)


def test_partitioner_errors():
    _same_error(lambda tf: tf.variable_axis_size_partitioner(0), "must be positive")
    _same_error(lambda tf: tf.variable_axis_size_partitioner(10, max_shards=-1), "max_shards")
    _same_error(
        lambda tf: tf.min_max_variable_partitioner(2, axis=3)(tf.TensorShape([4, 4]), tf.float32),
        "Cannot partition variable along axis 3",
    )
    _same_error(
        lambda tf: tf.get_variable("v", [4, None], partitioner=tf.fixed_size_partitioner(2)),
        "must be fully defined",
    )
    _same_error(
        lambda tf: tf.get_variable("v", [4, 4], partitioner=lambda shape, dtype: [2, 2]),
        "Can only slice a variable along one dimension",
    )
    _same_error(
        lambda tf: tf.get_variable("v", [4, 4], partitioner=lambda shape, dtype: [2]),
        "does not match the Variable's rank",
    )
    _same_error(
        lambda tf: tf.get_variable("v", [4, 4], partitioner=lambda shape, dtype: [0, 1]),
        "zero partitions",
    )
    _same_error(lambda tf: tf.get_variable("v", [4], partitioner=3), "must be callable")


def test_reuse_through_variable_scope():
    def build(tf):
        part = tf.fixed_size_partitioner(2)
        with tf.variable_scope("a", partitioner=part):
            v = tf.get_variable("w", [6, 2])
        out = []
        with tf.variable_scope("a", reuse=True):
            out.append(tf.get_variable("w", [6, 2]) is v)
            out.append(tf.get_variable("w") is v)
        with tf.variable_scope("a", reuse=True, partitioner=part):
            out.append(tf.get_variable("w", [6, 2]) is v)
        with tf.variable_scope("a", reuse=tf.AUTO_REUSE, partitioner=part):
            out.append(tf.get_variable("w", [6, 2]) is v)
            out.append(tf.get_variable("z", [6, 2]).name)
        out.append([x.name for x in tf.global_variables()])
        return out

    assert _same(build)[:4] == [True, True, True, True]

    def exists(tf):
        with tf.variable_scope("a", partitioner=tf.fixed_size_partitioner(2)):
            tf.get_variable("w", [6, 2])
            tf.get_variable("w", [6, 2])

    _same_error(exists, "Partitioned variable with name a/w already exists")

    def other_partitions(tf):
        with tf.variable_scope("a", partitioner=tf.fixed_size_partitioner(2)):
            tf.get_variable("w", [6, 2])
        with tf.variable_scope("a", reuse=True, partitioner=tf.fixed_size_partitioner(3)):
            tf.get_variable("w", [6, 2])

    _same_error(other_partitions, "specified partitions [3, 1] and found partitions [2, 1]")

    def other_shape(tf):
        with tf.variable_scope("a", partitioner=tf.fixed_size_partitioner(2)):
            tf.get_variable("w", [6, 2])
        with tf.variable_scope("a", reuse=True):
            tf.get_variable("w", [6, 3])

    _same_error(other_shape, "Trying to reuse partitioned variable a/w")

    def missing(tf):
        with tf.variable_scope("a", reuse=True, partitioner=tf.fixed_size_partitioner(2)):
            tf.get_variable("w", [6, 2])

    _same_error(missing, "PartitionedVariable a/w does not exist")

    def unpartitioned(tf):
        tf.get_variable("w", [6, 2])
        tf.get_variable("w", [6, 2], partitioner=tf.fixed_size_partitioner(2))

    _same_error(unpartitioned, "an unpartitioned version of the variable was found: w")


def test_value_initializers_are_sliced_per_part():
    def build(tf):
        part = tf.fixed_size_partitioner(3)
        a = tf.get_variable("a", [10, 6], initializer=FULL, partitioner=part)
        b = tf.get_variable("b", initializer=tf.constant(FULL * 2), partitioner=part)
        c = tf.get_variable(
            "c", [10, 6], initializer=tf.ones_initializer(), partitioner=part, dtype=tf.float64
        )
        d = tf.get_variable(
            "d",
            [10],
            dtype=tf.int32,
            initializer=tf.zeros_initializer(),
            partitioner=tf.fixed_size_partitioner(4),
        )
        g = tf.get_variable("g", [40, 30], partitioner=part)
        names = [[p.name, p.dtype.name, p.shape.as_list()] for pv in (a, b, c, d, g) for p in pv]
        init_ops = sorted(
            op.name
            for op in tf.get_default_graph().get_operations()
            if op.name.startswith(("a/", "b/")) and "Initializer" in op.name
        )
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            vals = sess.run([a.as_tensor(), b.as_tensor(), c.as_tensor(), d.as_tensor()])
            gval = sess.run(g.as_tensor())
        # Glorot-uniform with the full variable's fans, not a part's.
        limit = np.sqrt(6.0 / (40 + 30))
        return names, init_ops, vals, bool(np.abs(gval).max() <= limit), gval.std() > limit / 3

    exp, act = _both(build)
    assert act[:2] == exp[:2]
    for x, y in zip(act[2], exp[2]):
        np.testing.assert_array_equal(x, y)
    assert act[3:] == exp[3:] == (True, True)


def test_assign_splits_the_value():
    def build(tf):
        v = tf.get_variable(
            "v",
            [4, 5],
            initializer=tf.zeros_initializer(),
            partitioner=tf.fixed_size_partitioner(2, axis=1),
        )
        ops = v.assign(FULL[:4, :5])
        out = [len(ops)]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(ops)
            out.append(sess.run(v.as_tensor()).tolist())
            sess.run(v.assign_add([np.ones([4, 3]), np.ones([4, 2])]))
            out.append(sess.run(v.as_tensor()).tolist())
        return out

    _same(build)


@pytest.mark.parametrize("optimizer", ["GradientDescentOptimizer", "AdamOptimizer"])
def test_training_updates_each_part(optimizer):
    ids_val = np.array([[1, 7], [9, 0], [3, 3]], np.int32)
    x_val = np.linspace(-1, 1, 30, dtype=np.float32).reshape(3, 10)

    def build(tf):
        with tf.variable_scope("m", partitioner=tf.fixed_size_partitioner(3)):
            w = tf.get_variable("w", initializer=tf.constant(FULL))
            emb = tf.get_variable("emb", [10, 6], initializer=FULL / 3)
        x = tf.placeholder(tf.float32, [None, 10])
        ids = tf.placeholder(tf.int32, [None, 2])
        looked = tf.nn.embedding_lookup(emb, ids)
        fixed = tf.nn.embedding_lookup(emb, tf.constant([2, 5, 8]))
        # The parts are contiguous rows, the first ones longer: TF's "div" layout.
        div = tf.nn.embedding_lookup(emb, ids, partition_strategy="div")
        loss = (
            tf.reduce_sum(tf.square(tf.matmul(x, w)))
            + tf.reduce_sum(tf.square(looked))
            + tf.reduce_sum(fixed)
            + tf.reduce_sum(tf.sin(div))
        )
        train = getattr(tf.train, optimizer)(0.05).minimize(loss)
        names = [v.name for v in tf.global_variables()]
        shapes = [v.shape.as_list() for v in tf.global_variables()]
        # Slots of a part are the same part of the variable's slot (``m/w/Adam``).
        shapes += [v._save_slice_info and _slice_info(v) for v in tf.global_variables()]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            for _ in range(3):
                sess.run(train, {x: x_val, ids: ids_val})
            values = sess.run(tf.global_variables())
            out = sess.run([looked, div, w.as_tensor()], {ids: ids_val})
        return names, shapes, values, out

    exp, act = _both(build)
    assert act[:2] == exp[:2]
    assert "m/w/part_0/Adam:0" in act[0] or optimizer != "AdamOptimizer"
    for x, y in zip(act[2] + act[3], exp[2] + exp[3]):
        np.testing.assert_allclose(x, y, rtol=2e-5, atol=1e-5)


def test_layers_in_a_partitioned_scope():
    def build(tf):
        x = tf.placeholder(tf.float32, [None, 10])
        with tf.variable_scope("net", partitioner=tf.fixed_size_partitioner(2)):
            layer = tf.layers.Dense(4, kernel_initializer=tf.constant_initializer(0.5))
            y = layer(x)
            z = tf.layers.dense(y, 3, bias_initializer=tf.ones_initializer())
        weights = [
            [v.name for v in layer.trainable_weights],
            [v.name for v in layer.non_trainable_weights],
            [v.name for v in layer.weights],
            type(layer.kernel).__name__,
        ]
        names = [v.name for v in tf.trainable_variables()]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            out = sess.run([y, tf.shape(z)], {x: np.ones([2, 10])})
        return weights, names, out[0].tolist(), out[1].tolist()

    weights = _same(build)[0]
    assert weights[2][:2] == ["net/dense/kernel/part_0:0", "net/dense/kernel/part_1:0"]
