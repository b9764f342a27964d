"""Array ops against real TF: names, static shapes (with None dims), dtypes, values, errors."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.op_check import check as _check
from tests.op_check import check_raises
from tests.oracle import tf1

X = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
FEED_X = {"x:0": X}


def check(build, feeds=None, grad=False, **kwargs):
    """``op_check.check``; with ``grad`` also the gradients of all float outputs (summed) with
    respect to every float tensor fed."""
    _check(build, feeds, **kwargs)
    if grad:

        def gradients(tf):
            outs = build(tf)
            outs = outs if isinstance(outs, list) else [outs]
            g = tf.get_default_graph()
            xs = [g.get_tensor_by_name(k) for k in feeds]
            xs = [x for x in xs if x.dtype.is_floating]
            ys = [y for y in outs if y.dtype.is_floating]
            gs = tf.gradients(ys, xs)
            return [tf.zeros_like(x) if d is None else d for x, d in zip(xs, gs)]

        _check(gradients, feeds, names=False)


def static_shapes(build):
    """The static shapes of ``build``'s outputs, asserted equal in TF and tfstyle."""
    shapes = []
    for tf in (tf1(), tfs):
        with tf.Graph().as_default():
            outs = build(tf)
            shapes.append([None if t.shape.ndims is None else t.shape.as_list() for t in outs])
    assert shapes[0] == shapes[1]
    return shapes[0]


def _x(tf, shape=(None, 3, 4)):
    return tf.placeholder(tf.float32, shape, name="x")


def test_expand_dims_and_squeeze():
    def build(tf):
        x = _x(tf)
        return [
            tf.expand_dims(x, 1),
            tf.expand_dims(x, -1),
            tf.expand_dims(x, dim=0),
            tf.expand_dims(x, tf.constant(2)),
            tf.squeeze(tf.expand_dims(x, 1)),
            tf.squeeze(tf.expand_dims(x, 1), axis=[1]),
            tf.squeeze(tf.expand_dims(x, -1), squeeze_dims=[-1]),
            tf.squeeze(tf.ones([1, 3, 1])),
            tf.squeeze(tf.ones([1, 3, 1]), 0),
        ]

    check(build, FEED_X, grad=True)


def test_expand_dims_and_squeeze_errors():
    x = lambda tf: tf.placeholder(tf.float32, [4, 6], name="x")  # noqa: E731
    check_raises(lambda tf: tf.expand_dims(x(tf), 3))
    check_raises(lambda tf: tf.expand_dims(x(tf), -4))
    check_raises(lambda tf: tf.expand_dims(x(tf)))
    check_raises(lambda tf: tf.expand_dims(x(tf), 0, dim=0))
    check_raises(lambda tf: tf.squeeze(x(tf), [0]))
    _, act = check_raises(lambda tf: tf.squeeze(tf.placeholder(tf.float32, [None, 1, 3]), [2]))
    assert "Can not squeeze dim[2], expected a dimension of 1, got 3" in str(act)


def test_concat():
    def build(tf):
        x = _x(tf)
        y = tf.placeholder(tf.float32, [2, None, 4], name="y")
        return [
            tf.concat([x, x], axis=-1),
            tf.concat([x, y], 0),
            tf.concat([x, y], 1),
            tf.concat([x], axis=1),
            tf.concat([x, x, x], tf.constant(2)),
            tf.concat([[1, 2], [3]], 0),
            tf.concat([x[0], [[1.0] * 4]], 0),
        ]

    check(build, {"x:0": X, "y:0": X}, grad=True)


def test_concat_errors():
    x = lambda tf: tf.placeholder(tf.float32, [4, 6], name="x")  # noqa: E731
    check_raises(lambda tf: tf.concat([x(tf), tf.placeholder(tf.float32, [None, 1, 3])], 0))
    _, act = check_raises(lambda tf: tf.concat([x(tf), tf.ones([4, 2])], 0))
    assert "Dimension 0 in both shapes must be equal, but are 6 and 2" in str(act)
    check_raises(lambda tf: tf.concat([x(tf), tf.ones([4, 6], tf.int32)], 0))
    check_raises(lambda tf: tf.concat([x(tf), x(tf)], 2))


def test_stack_unstack():
    def build(tf):
        x = _x(tf)
        i = tf.placeholder(tf.int32, [], name="i")
        return [
            tf.stack([x, x]),
            tf.stack([x, x], axis=1),
            tf.stack([x, x], axis=-1),
            tf.stack([1, 2]),
            tf.stack([i, 1, 2]),
            tf.stack([[i, 1], [2, i]]),
            *tf.unstack(x, axis=1),
            *tf.unstack(x, axis=-1),
            *tf.unstack(tf.ones([2, 3]), num=2),
        ]

    check(build, {"x:0": X, "i:0": 7}, grad=True)


def test_stack_unstack_errors():
    x = lambda tf: tf.placeholder(tf.float32, [4, 6], name="x")  # noqa: E731
    check_raises(lambda tf: tf.stack([x(tf), tf.placeholder(tf.float32, [None, 1, 3])]))
    check_raises(lambda tf: tf.stack([x(tf), x(tf)], axis=3))
    check_raises(lambda tf: tf.stack([x(tf), 1.0]))
    check_raises(lambda tf: tf.unstack(tf.placeholder(tf.float32, [None, 2])))
    check_raises(lambda tf: tf.unstack(x(tf), axis=2))


def test_split():
    def build(tf):
        x = _x(tf)
        return [
            *tf.split(x, 2, axis=2),
            *tf.split(x, 3, axis=1),
            *tf.split(x, [1, -1], axis=2),
            *tf.split(x, [1, 2], axis=-2),
            *tf.split(x, tf.constant([3, 1]), 2),
            *tf.split(x, 1),
        ]

    check(build, FEED_X, grad=True)


def test_split_errors():
    x = lambda tf: tf.placeholder(tf.float32, [4, 6], name="x")  # noqa: E731
    check_raises(lambda tf: tf.split(x(tf), 4, axis=1))
    check_raises(lambda tf: tf.split(x(tf), [1, 2], axis=1))
    check_raises(lambda tf: tf.split(x(tf), [1, -1, -1], axis=1))
    check_raises(lambda tf: tf.split(x(tf), [1, -1], axis=2))
    check_raises(lambda tf: tf.split(x(tf), tf.placeholder(tf.int32, [None]), axis=1))


def test_slice():
    def build(tf):
        x = _x(tf)
        i = tf.placeholder(tf.int32, [], name="i")
        x2 = tf.placeholder(tf.float32, [4, 6], name="x2")
        return [
            tf.slice(x, [0, 1, 0], [-1, 2, -1]),
            tf.slice(x, [1, 0, 2], [1, 3, 2]),
            tf.slice(x2, [i, 1], [2, -1]),
            tf.slice(x2, tf.stack([i, i]), [2, 2]),
        ]

    check(build, {"x:0": X, "i:0": 1, "x2:0": np.ones((4, 6), np.float32)}, grad=True)


def test_python_slicing_names_masks_and_values():
    def build(tf):
        x = _x(tf)
        i = tf.placeholder(tf.int32, [], name="i")
        return [
            x[1:, ::2, None],
            x[..., 0],
            x[i],
            x[-1, 1:-1],
            x[:, tf.newaxis, ..., ::-1],
            x[0][1],
            x[0, 0, 0],
            x[...],
            x[None],
            x[:, :, 4:0:-2],
            x[:, :, 10:20],
            x[:, :, -10:2],
            x[:, -2:],
            x[:, :, i],
            x[0, i],
            x[[1, 2]],
            x[:, tf.constant(1, tf.int64)],
            x[i, 1:3],
        ]

    check(build, {"x:0": X, "i:0": 1}, grad=True)
    i = lambda tf: tf.placeholder(tf.int32, [], name="i")  # noqa: E731
    assert static_shapes(lambda tf: [_x(tf)[: i(tf)], _x(tf)[i(tf) :, 1]]) == [
        [None, 3, 4],
        [None, 4],
    ]


def test_strided_slice_graph_encoding():
    def encoding(tf):
        g = tf.Graph()
        with g.as_default():
            x = _x(tf)
            i = tf.placeholder(tf.int32, [], name="i")
            x[1:, ::2, None]
            x[i]
            x[1:i]
            x[i, 1:3]
            tf.strided_slice(x, [0], [1])
            tf.strided_slice(x, [0, 1], [1, 3], [1, 2], begin_mask=1, shrink_axis_mask=2)
        out = []
        for op in g.get_operations():
            attrs = {}
            if op.type == "StridedSlice":
                attrs = {
                    k: op.get_attr(k)
                    for k in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask")
                }
                attrs["shrink_axis_mask"] = op.get_attr("shrink_axis_mask")
            out.append((op.name, op.type, [t.name for t in op.inputs], attrs))
        return out

    assert encoding(tfs) == encoding(tf1())


def test_slicing_errors():
    x = lambda tf: tf.placeholder(tf.float32, [None, None, 5], name="x")  # noqa: E731
    for spec in ((slice(None), slice(None), 5), (slice(None), slice(None), -6), (1, 2, 3, 4)):
        _, act = check_raises(lambda tf, s=spec: x(tf)[s])
    assert "Index out of range using input dim 3" in str(act)
    check_raises(lambda tf: x(tf)[..., ...])
    check_raises(lambda tf: x(tf)[:, :, ::0])
    check_raises(lambda tf: x(tf)[1.0])
    check_raises(lambda tf: x(tf)["a"])

    def unknown_rank(tf):
        u = tf.placeholder(tf.float32, None, name="u")
        return [u[1:3], u[..., 0], u[0]]

    check(unknown_rank, {"u:0": X})


def test_sizes_from_fed_integers_compile_per_value_like_tf():
    # A slice by fed bounds, a range to a fed limit, a list sized by a fed count: the step is
    # specialized on the fed integers (compiled again for each new value), as TF computes them.
    def build(tf):
        x = tf.placeholder(tf.float32, [5], name="x")
        i = tf.placeholder(tf.int32, [], name="i")
        k = tf.placeholder(tf.int64, [2], name="k")
        m = tf.reshape(x, [5, 1])
        return [
            x[i : i + 2],
            x[:i],
            x[i:],
            m[: k[0], : k[1]],
            tf.range(i) * 2,
            tf.zeros(tf.stack([i, 2])),
            tf.reshape(x[: i + 1], [-1, 1]) + 1.0,
        ]

    for iv, kv in ((1, [2, 1]), (3, [4, 0]), (1, [2, 1])):
        check(build, {"x:0": np.arange(5.0), "i:0": iv, "k:0": kv})


def test_sizes_from_a_loop_counter_or_a_variable_raise_a_clear_error():
    x = tfs.placeholder(tfs.float32, [5])
    v = tfs.Variable(2)
    j0 = tfs.placeholder(tfs.int32, [])

    def body(j, a):
        return j + 1, a + tfs.reduce_sum(x[: j + 1])

    loop = tfs.while_loop(lambda j, a: j < j0, body, [0, 0.0])[1]
    with tfs.Session() as s:
        s.run(v.initializer)
        for y in (loop, x[:v]):
            with pytest.raises(tfs.errors.InvalidArgumentError, match="known when the graph is"):
                s.run(y, {x: np.zeros(5), j0: 3})


def test_gather():
    def build(tf):
        x = _x(tf)
        i = tf.placeholder(tf.int32, [None], name="i")
        return [
            tf.gather(x, [0, 2], axis=1),
            tf.gather(x, [[0, 1]], axis=-1),
            tf.gather(x, 1),
            tf.gather(x, i),
            tf.gather(x, tf.constant([1, 0], tf.int64)),
            tf.gather(x, [[0, 1], [2, 2]], axis=1, batch_dims=1),
            tf.gather(x, [[1, 0], [3, 3]], axis=2, batch_dims=1),
            tf.gather_nd(x, [[0, 1]]),
            tf.gather_nd(x, [[0, 1, 2], [1, 2, 3]]),
            tf.gather_nd(x, [[[1]], [[0]]]),
        ]

    check(build, {"x:0": X, "i:0": [1, 0, 1]}, grad=True)
    # TF builds the batched form from several ops; only the result's name differs.
    batched = lambda tf: tf.gather_nd(_x(tf), [[0], [1]], batch_dims=1)  # noqa: E731
    check(batched, FEED_X, names=False)


def test_gather_errors():
    x = lambda tf: tf.placeholder(tf.float32, [4, 6], name="x")  # noqa: E731
    check_raises(lambda tf: tf.gather(x(tf), [1], axis=2))
    check_raises(lambda tf: tf.gather(tf.constant([1, 2]), [5]))
    check_raises(lambda tf: tf.gather_nd(x(tf), [[0, 1, 2]]))


def test_tile_pad():
    def build(tf):
        x = _x(tf)
        p = [[0, 0], [1, 1], [2, 0]]
        return [
            tf.tile(x, [1, 2, 1]),
            tf.tile(x, tf.constant([2, 1, 3])),
            tf.pad(x, p),
            tf.pad(x, p, mode="REFLECT"),
            tf.pad(x, p, mode="symmetric"),
            tf.pad(x, p, constant_values=3),
            tf.pad(x, tf.constant(p)),
            tf.pad(tf.constant([1, 2]), [[1, 1]], constant_values=tf.constant(9)),
        ]

    check(build, FEED_X, grad=True)

    def fed_padding(tf):
        i = tf.placeholder(tf.int32, [], name="i")
        return [tf.pad(_x(tf), [[0, 0], [1, i], [1, 1]])]

    assert static_shapes(fed_padding) == [[None, None, 6]]


def test_tile_pad_errors():
    x = lambda tf: tf.placeholder(tf.float32, [4, 6], name="x")  # noqa: E731
    check_raises(lambda tf: tf.tile(x(tf), [2]))
    check_raises(lambda tf: tf.pad(x(tf), [[1, 1]]))
    check_raises(lambda tf: tf.pad(x(tf), [[1, 1], [1, 1]], mode="foo"))
    check_raises(lambda tf: tf.pad(x(tf), [[4, 1], [1, 1]], mode="REFLECT"))


def test_transpose_reverse():
    def build(tf):
        x = _x(tf)
        u = tf.placeholder(tf.float32, None, name="u")
        return [
            tf.transpose(x),
            tf.transpose(x, [0, 2, 1]),
            tf.transpose(x, perm=tf.constant([1, 0, 2])),
            tf.transpose(u),
            tf.reverse(x, [1]),
            tf.reverse(x, [0, -1]),
            tf.reverse_v2(x, tf.constant([2])),
        ]

    check(build, {"x:0": X, "u:0": X}, grad=True)
    check_raises(lambda tf: tf.transpose(tf.placeholder(tf.float32, [4, 6]), [0]))
    check_raises(lambda tf: tf.reverse(tf.placeholder(tf.float32, [4, 6]), 1))


def test_one_hot():
    def build(tf):
        i = tf.placeholder(tf.int32, [None], name="i")
        return [
            tf.one_hot(i, 4),
            tf.one_hot([1, 2, -1, 7], 4),
            tf.one_hot(i, 3, on_value=5, off_value=-1),
            tf.one_hot(i, 3, on_value=5.0, dtype=tf.float32),
            tf.one_hot([[1, 0]], 3, axis=0),
            tf.one_hot([[1, 0]], 3, axis=1, dtype=tf.int64),
            tf.one_hot(tf.constant([1, 0], tf.int64), 2, on_value=True, off_value=False),
        ]

    check(build, {"i:0": [0, 2, 1]})
    depth = lambda tf: [tf.one_hot([1], tf.placeholder(tf.int32, []))]  # noqa: E731
    assert static_shapes(depth) == [[1, None]]
    check_raises(lambda tf: tf.one_hot([1], 3, on_value=1.5, dtype=tf.int32))
    check_raises(lambda tf: tf.one_hot([1], 3, on_value=1, off_value=0.0))


def test_range_and_linspace():
    def build(tf):
        return [
            tf.range(5),
            tf.range(1, 5.0, 2),
            tf.range(5, dtype=tf.float64),
            tf.range(1, 2.5, 0.5),
            tf.range(tf.constant(3, tf.int64)),
            tf.range(10, 0, -3),
            tf.range(0, 1, 0.1),
            tf.range(3, limit=None, delta=1, name="r"),
            tf.linspace(0.0, 1.0, 5),
            tf.linspace(0, 1, 4),
            tf.linspace(-1.0, 2.0, 1),
            tf.lin_space(3.0, 1.0, 3),
        ]

    check(build)
    check_raises(lambda tf: tf.range(5, 1))
    check_raises(lambda tf: tf.range(0, 5, 0))


def test_range_with_fed_limit():
    def build(tf):
        n = tf.placeholder(tf.int32, [], name="n")
        return tf.range(n)

    assert static_shapes(lambda tf: [build(tf)]) == [[None]]
    check(build, {"n:0": 3})
    check(build, {"n:0": 0})


def test_shape_ops_and_broadcasting():
    def build(tf):
        x = _x(tf)
        x2 = tf.placeholder(tf.float32, [4, 1], name="x2")
        return [
            *tf.shape_n([x, x2]),
            *tf.shape_n([x, x], out_type=tf.int64),
            tf.broadcast_to(tf.ones([3, 1]), [2, 3, 4]),
            tf.broadcast_to(x2, tf.constant([2, 4, 5])),
            tf.broadcast_to(x[0, 0], tf.shape(x)),
            tf.broadcast_dynamic_shape(tf.shape(x), [1, 4]),
            tf.broadcast_dynamic_shape([2, 1], [3]),
        ]

    check(build, {"x:0": X, "x2:0": np.ones((4, 1), np.float32)}, grad=True)
    check_raises(lambda tf: tf.broadcast_to(tf.placeholder(tf.float32, [4, 6]), [3, 4]))
    for tf in (tf1(), tfs):
        assert tf.broadcast_static_shape(
            tf.TensorShape([2, None]), tf.TensorShape([3])
        ).as_list() == [2, 3]
        assert tf.broadcast_static_shape(
            tf.TensorShape([5, 1]), tf.TensorShape([None, 1, 3])
        ).as_list() == [None, 5, 3]
        with pytest.raises(ValueError, match="Incompatible shapes for broadcasting"):
            tf.broadcast_static_shape(tf.TensorShape([2, 3]), tf.TensorShape([4]))


def test_boolean_mask_with_a_static_mask():
    def build(tf):
        x = _x(tf)
        x2 = tf.placeholder(tf.float32, [4, 6], name="x2")
        return [
            tf.boolean_mask(x, [True, False, True], axis=1),
            tf.boolean_mask(x, np.array([[True, False, True], [False, False, True]])),
            tf.boolean_mask(x2, [True, False, True, True]),
            tf.boolean_mask(x2, tf.ones([4, 6], tf.bool)),
            x2[np.array([False, True, True, False])],
        ]

    check(build, {"x:0": X, "x2:0": np.arange(24, dtype=np.float32).reshape(4, 6)})


def test_boolean_mask_with_a_fed_mask_raises_a_clear_error():
    x = tfs.constant(np.arange(4.0))
    m = tfs.placeholder(tfs.bool, [4])
    y = tfs.boolean_mask(x, m)
    assert y.shape.as_list() == [None]
    with tfs.Session() as s:
        with pytest.raises(tfs.errors.InvalidArgumentError, match="known at graph construction"):
            s.run(y, {m: [True, False, True, False]})
    check_raises(lambda tf: tf.boolean_mask(tf.ones([2]), True))


def test_sequence_mask_meshgrid_scatter_nd():
    def build(tf):
        lengths = tf.placeholder(tf.int32, [None], name="lengths")
        return [
            tf.sequence_mask([1, 3], 4),
            tf.sequence_mask([[1, 3]], 4, dtype=tf.float32),
            tf.sequence_mask(lengths, 5),
            *tf.meshgrid([1.0, 2.0], [3.0, 4.0, 5.0]),
            *tf.meshgrid([1, 2], [3, 4, 5], indexing="ij"),
            *tf.meshgrid([1, 2], [3, 4, 5], [6, 7]),
            tf.scatter_nd([[0], [2]], [1.0, 2.0], [4]),
            tf.scatter_nd([[0], [0]], [[1, 2], [3, 4]], [3, 2]),
            tf.scatter_nd([[1, 1], [0, 1]], [5, 6], tf.constant([2, 2])),
        ]

    check(build, {"lengths:0": [0, 2, 5]})


def test_sequence_mask_default_maxlen():
    if not hasattr(tfs, "reduce_max"):
        pytest.skip("needs reduce_max")
    check(lambda tf: [tf.sequence_mask([1, 3]), tf.sequence_mask(tf.constant([[2], [0]]))])


def test_unique_and_matrix_band_part():
    def build(tf):
        u = tf.unique([4, 1, 4, 2, 1])
        u64 = tf.unique(tf.constant([3.0, 3.0, 1.0]), out_idx=tf.int64)
        m = tf.placeholder(tf.float32, [3, 4], name="m")
        return [
            u.y,
            u.idx,
            u64.y,
            u64.idx,
            tf.matrix_band_part(m, 1, -1),
            tf.matrix_band_part(m, 0, 0),
            tf.matrix_band_part(m, -1, 1),
        ]

    check(build, {"m:0": np.arange(12, dtype=np.float32).reshape(3, 4)})


def test_newaxis():
    assert tfs.newaxis is None


def test_existing_basics_against_tf():
    def build(tf):
        x = _x(tf)
        f = tf.constant([-2.7, -0.5, 0.0, 0.5, 2.7, 3.0])
        return [
            tf.identity(x),
            tf.placeholder_with_default([1.0, 2.0], [None]),
            tf.cast(f, tf.int32),
            tf.cast(f, tf.bool),
            tf.cast(f, tf.uint8),
            tf.cast(tf.constant([True, False]), tf.float32),
            tf.cast(tf.constant([0, 3, -1]), tf.bool),
            tf.cast(tf.constant([1, 2], tf.int64), tf.float64),
            tf.cast(x, tf.float32),
            tf.shape(x),
            tf.shape(x, out_type=tf.int64),
            tf.shape(tf.ones([2, 3])),
            tf.size(x),
            tf.size(x, out_type=tf.int64),
            tf.size(tf.ones([2, 3])),
            tf.rank(x),
            tf.reshape(x, [-1]),
            tf.reshape(x, [2, -1, 2]),
            tf.reshape(x, tf.shape(x)),
            tf.reshape(x, [tf.shape(x)[0], 12]),
            tf.fill([2, 3], 1),
            tf.fill(tf.shape(x), 2.0),
            tf.zeros([2, 3], dtype=tf.int32),
            tf.zeros([1000, 2]),
            tf.zeros(5),
            tf.zeros([]),
            tf.ones(tf.shape(x), dtype=tf.bool),
            tf.zeros(tf.shape(x)[0]),
            tf.zeros_like(x),
            tf.zeros_like(x, dtype=tf.int32),
            tf.ones_like(x),
            tf.ones_like(tf.ones([2, 2])),
            tf.ones_like(x, dtype=tf.int64),
            tf.zeros_like(tf.ones([2, 2])),
        ]

    check(build, FEED_X)
    n = lambda tf: tf.placeholder(tf.int32, [], name="n")  # noqa: E731
    assert static_shapes(lambda tf: [tf.ones([n(tf), 3]), tf.zeros([2, n(tf)])]) == [
        [None, 3],
        [2, None],
    ]


def test_existing_basics_errors():
    x = lambda tf: tf.placeholder(tf.float32, [4, 6], name="x")  # noqa: E731
    check_raises(lambda tf: tf.reshape(x(tf), [5, -1]))
    check_raises(lambda tf: tf.reshape(x(tf), [5, 5]))
    check_raises(lambda tf: tf.placeholder_with_default([1.0, 2.0], [3]))
    _, act = check_raises(lambda tf: x(tf) + 1.0)
    assert "You must feed a value for placeholder tensor 'x' with dtype float and shape [4,6]" in (
        str(act)
    )
    check_raises(
        lambda tf: tf.reshape(tf.placeholder(tf.float32, [None, 3], name="p"), [5]),
        {"p:0": np.ones((2, 3))},
    )


def test_host_values_equal_the_lowerings():
    # Ops whose inputs are all known while a step is traced are computed in NumPy (their
    # host_value); the results must be the lowering's, dtype included.
    from tfstyle.framework import registry
    from tfstyle.ops import _base

    x = np.arange(24, dtype=np.int32).reshape(2, 3, 4)
    with tfs.Graph().as_default():
        c = tfs.constant(x)
        f = tfs.constant(x.astype(np.float32))
        outs = [
            c[1, ::-1, 1:3],
            c[..., tfs.newaxis, -1],
            c[:, 1:, ::2],
            tfs.strided_slice(c, [0, 0, 0], [2, 3, 4], [1, 2, 3], begin_mask=5, shrink_axis_mask=2),
            tfs.expand_dims(c, -1),
            tfs.concat([c, c], axis=-2),
            tfs.stack([f, f], axis=1),
            c - 3,
            f * 0.5,
            tfs.add(f, f),
            tfs.identity(c),
            tfs.cast(f * 0.5 - 3.0, tfs.int32),
            tfs.cast(tfs.constant(x + 1j * x), tfs.float64),
            tfs.reshape(c, [-1, 4]),
            tfs.fill([2, 3], tfs.constant(True)),
            tfs.squeeze(tfs.reshape(c, [2, 1, 12]), [1]),
            tfs.slice(c, [1, 0, 1], [-1, 2, -1]),
            tfs.tile(c, [1, 2, 1]),
            tfs.transpose(c, [2, 0, 1]),
            tfs.range(3, 11, 3),
            tfs.range(tfs.constant(1.5, tfs.float64), 4.0, 0.5),
            tfs.broadcast_dynamic_shape(tfs.constant([2, 1, 4]), tfs.constant([3, 1])),
        ]
        for t in outs:
            op = t.op
            vals = [_base.constant_value(i) for i in op.inputs]
            assert all(v is not None for v in vals), op.name
            host = registry.get(op.type).host_value(op, *vals)
            lowered = np.asarray(op._def.lower(op)(*vals))
            assert host.dtype == lowered.dtype, op.name
            np.testing.assert_array_equal(host, lowered, err_msg=op.name)


def test_folded_values_are_tf_values():
    # constant_value computes these with the ops' host_values: the values and dtypes TF's
    # kernels give, fetched from a TF session.
    from tfstyle.ops import _base

    def build(tf):
        c = tf.constant(np.arange(24, dtype=np.int32).reshape(2, 3, 4))
        f = tf.constant(np.array([-3.7, 0.5, 2.9e9, 7.0], np.float32))
        return [
            tf.identity(c),
            tf.cast(f, tf.int64),
            tf.cast(tf.constant([3.7, 0.5, 255.9], tf.float32), tf.uint8),
            tf.cast(tf.constant(np.array([1 + 2j, -3.5j], np.complex64)), tf.float32),
            tf.cast(f, tf.bool),
            tf.reshape(c, [3, -1]),
            tf.fill([2, 2], tf.constant(7, tf.int64)),
            tf.squeeze(tf.reshape(c, [1, 24, 1])),
            tf.slice(c, [0, 1, 2], [2, -1, 1]),
            tf.tile(tf.reshape(c, [6, 4]), [2, 1]),
            tf.transpose(c),
            tf.range(10, 1, -3),
            tf.range(tf.constant(0, tf.int64), 5),
            tf.range(0.0, 1.0, 0.3),
            tf.broadcast_dynamic_shape(tf.constant([5, 1]), tf.constant([1, 3], tf.int32)),
        ]

    with tf1().Graph().as_default():
        expected = tf1().Session().run(build(tf1()))
    with tfs.Graph().as_default():
        outs = build(tfs)
        for t, e in zip(outs, expected):
            v = _base.constant_value(t)
            assert v is not None, t.name
            assert np.asarray(v).dtype == e.dtype, t.name
            np.testing.assert_array_equal(v, e, err_msg=t.name)


def test_shape_arithmetic_known_while_tracing_is_tf_values():
    # A fed tensor's shape is known while the step is traced, not when the graph is built: the
    # ops on it run their host_values then.
    def build(tf):
        p = tf.placeholder(tf.float32, [None, None], name="p")
        s = tf.shape(p)
        n = s[0] * s[1]
        return [
            tf.identity(s),
            tf.cast(s, tf.float32),
            tf.reshape(tf.range(n), [s[1], -1]),
            tf.fill(s, tf.constant(2.5)),
            tf.squeeze(tf.reshape(s, [1, 2, 1]), [0, 2]),
            tf.slice(s, [1], [-1]),
            tf.tile(s, [s[0]]),
            tf.transpose(tf.reshape(s, [1, 2])),
            tf.range(s[0], n, s[1]),
            tf.broadcast_dynamic_shape(s, tf.constant([1, 1])),
        ]

    check(build, {"p:0": np.zeros((2, 3), np.float32)})
