"""Fed ids and labels out of range raise TF's ``InvalidArgumentError`` before the step runs.

XLA reads NaN (or a clamped row) for an index out of range; TF's CPU kernels raise. The checks
run on the host, on the fed values, so a failing training step leaves the variables and the
optimizer's slots as they were. Each case builds the same graph in TF and tfstyle and compares
the exception class and TF's message (``Node: ...`` to the ``[[{{node ...}}]]`` line).
"""

import re

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1

PARAMS = np.arange(30, dtype=np.float32).reshape(10, 3)


def _message(e):
    """TF's message without the traceback that a run-time error of TF 2.x adds."""
    m = re.search(r"Node: '[^']*'\n(.*?\]\])", str(e), re.S)
    return m.group(1) if m else str(e)


def _run(tf, build, feed, graph_def=None):
    """Builds (or imports ``graph_def``) and runs once; returns the error or the value."""
    g = tf.Graph()
    with g.as_default():
        if graph_def is None:
            ids, out = build(tf)
            init = tf.global_variables_initializer()
        else:
            tf.import_graph_def(graph_def[0], name="")
            ids, out = (g.get_tensor_by_name(n) for n in graph_def[1][:2])
            init = g.get_operation_by_name(graph_def[1][2])
        with tf.Session(graph=g) as sess:
            sess.run(init)
            try:
                return sess.run(out, {ids: feed})
            except Exception as e:  # noqa: BLE001 - comparing the errors is the point
                return e


def _compare_errors(build, feed, imported=False):
    exp = _run(tf1(), build, feed)
    graph_def = None
    if imported:
        g = tf1().Graph()
        with g.as_default():
            ids, out = build(tf1())
            init = tf1().global_variables_initializer()
        graph_def = (g.as_graph_def(), (ids.name, out.name, init.name))
    act = _run(tfs, build, feed, graph_def)
    assert isinstance(exp, Exception), "TF did not raise"
    assert isinstance(act, Exception), f"tfstyle did not raise (TF: {_message(exp)})"
    assert type(act).__name__ == type(exp).__name__ == "InvalidArgumentError", (act, exp)
    # TF partitions both the ids and their positions, and either op may report a bad one.
    assert str(act) == _message(exp).replace("DynamicPartition_1}", "DynamicPartition}")


def _same_values(build, feed):
    """Runs ``build(tf) -> tensors`` (variables initialised) in both; asserts equal values."""
    vals = []
    for tf in (tf1(), tfs):
        g = tf.Graph()
        with g.as_default():
            outs = build(tf)
            with tf.Session(graph=g) as sess:
                sess.run(tf.global_variables_initializer())
                vals.append(sess.run(outs, {g.get_tensor_by_name("ids:0"): feed}))
    for e, a in zip(*vals):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6)


def _var(tf, name="emb", rows=10):
    return tf.get_variable(name, initializer=PARAMS[:rows])


def _partitions(tf, sizes=(4, 3, 3)):
    return [
        tf.get_variable(f"part{i}", initializer=np.ones((n, 3), np.float32) * i)
        for i, n in enumerate(sizes)
    ]


def _ids(tf, dtype="int32", shape=(None,)):
    return tf.placeholder(getattr(tf, dtype), shape, name="ids")


CASES = {
    "gather_tensor": (lambda tf: (i := _ids(tf), tf.gather(tf.constant(PARAMS), i)), [1, 12, 2]),
    "gather_tensor_negative": (
        lambda tf: (i := _ids(tf, "int64"), tf.gather(tf.constant(PARAMS), i)),
        [1, -2, 12],
    ),
    "gather_axis_1": (
        lambda tf: (i := _ids(tf), tf.gather(tf.constant(PARAMS), i, axis=1)),
        [0, 3],
    ),
    "gather_variable": (lambda tf: (i := _ids(tf), tf.gather(_var(tf), i)), [0, 9, 10]),
    "gather_variable_2d_ids": (
        lambda tf: (i := _ids(tf, "int64", (None, 2)), tf.gather(_var(tf), i)),
        [[1, 2], [3, 10]],
    ),
    "embedding_lookup": (
        lambda tf: (i := _ids(tf), tf.nn.embedding_lookup(_var(tf), i)),
        [1, 2, 3, 12],
    ),
    "embedding_lookup_negative": (
        lambda tf: (i := _ids(tf), tf.nn.embedding_lookup(_var(tf), i)),
        [0, -1],
    ),
    "ids_through_expand_dims": (
        lambda tf: (i := _ids(tf), tf.gather(tf.constant(PARAMS), tf.expand_dims(i, 0))),
        [4, 11],
    ),
    "ids_through_reshape": (
        lambda tf: (
            i := _ids(tf, "int32", (None, 2)),
            tf.gather(tf.constant(PARAMS), tf.reshape(i, [-1])),
        ),
        [[1, 2], [12, 3]],
    ),
    "partitioned_variable": (
        lambda tf: (
            i := _ids(tf),
            tf.nn.embedding_lookup(
                tf.get_variable(
                    "pv",
                    [10, 3],
                    initializer=tf.ones_initializer(),
                    partitioner=tf.fixed_size_partitioner(3),
                ),
                i,
            ),
        ),
        [1, 10],
    ),
    "partitioned_mod_int64": (
        lambda tf: (i := _ids(tf, "int64"), tf.nn.embedding_lookup(_partitions(tf), i)),
        [0, 12, 3],
    ),
    "partitioned_mod": (
        lambda tf: (i := _ids(tf), tf.nn.embedding_lookup(_partitions(tf), i)),
        [0, 5, 12, 3],
    ),
    "partitioned_mod_negative": (
        lambda tf: (i := _ids(tf), tf.nn.embedding_lookup(_partitions(tf), i)),
        [0, -1, 3],
    ),
    "partitioned_div": (
        lambda tf: (
            i := _ids(tf),
            tf.nn.embedding_lookup(_partitions(tf), i, partition_strategy="div"),
        ),
        [0, 5, 12, 3],
    ),
    "partitioned_div_negative": (
        lambda tf: (
            i := _ids(tf),
            tf.nn.embedding_lookup(_partitions(tf), i, partition_strategy="div"),
        ),
        [0, 9, -1, 10],
    ),
    "sparse_xent": (
        lambda tf: (
            i := _ids(tf),
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=i, logits=tf.zeros([4, 10])),
        ),
        [1, 10, 2, 3],
    ),
    "sparse_xent_negative_int64": (
        lambda tf: (
            i := _ids(tf, "int64"),
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=i, logits=tf.zeros([4, 10])),
        ),
        [12, 1, -1, 3],
    ),
    "sparse_xent_3d_logits": (
        lambda tf: (
            i := _ids(tf, "int32", (None, 2)),
            tf.nn.sparse_softmax_cross_entropy_with_logits(labels=i, logits=tf.zeros([2, 2, 10])),
        ),
        [[1, 10], [2, 3]],
    ),
    "losses_sparse_xent": (
        lambda tf: (
            i := _ids(tf, "int64"),
            tf.losses.sparse_softmax_cross_entropy(labels=i, logits=tf.zeros([4, 10])),
        ),
        [1, 10, 2, 30],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_fed_ids_raise_tfs_error(case):
    build, feed = CASES[case]
    _compare_errors(build, np.asarray(feed))


def test_bad_ids_in_several_partitions():
    """TF's gathers of the partitions run in parallel, and which one reports a bad id varies;
    tfstyle reports the first bad id's."""

    def build(tf):
        return (i := _ids(tf)), tf.nn.embedding_lookup(_partitions(tf), i)

    feed = np.array([0, 13, 12, 3])  # row 4 of partition 1 (3 rows), of partition 0 (4 rows)
    first = "indices[0] = 4 is not in [0, 3)\n\t [[{{node embedding_lookup/Gather_1}}]]"
    other = "indices[1] = 4 is not in [0, 4)\n\t [[{{node embedding_lookup/Gather}}]]"
    assert _message(_run(tf1(), build, feed)) in (first, other)
    err = _run(tfs, build, feed)
    assert isinstance(err, tfs.errors.InvalidArgumentError)
    assert str(err) == first


@pytest.mark.parametrize(
    "case",
    [
        "gather_tensor",
        "embedding_lookup",
        "partitioned_mod",
        "partitioned_div",
        "losses_sparse_xent",
    ],
)
def test_bad_fed_ids_raise_tfs_error_in_imported_graphs(case):
    build, feed = CASES[case]
    _compare_errors(build, np.asarray(feed), imported=True)


@pytest.mark.parametrize("case", sorted(CASES))
def test_valid_ids_still_run(case):
    build, feed = CASES[case]
    good = np.clip(np.asarray(feed), 0, 2)
    _same_values(lambda tf: [build(tf)[1]], good)


def _model(tf, optimizer):
    ids = tf.placeholder(tf.int32, [None], name="ids")
    labels = tf.placeholder(tf.int32, [None], name="labels")
    emb = tf.get_variable("emb", initializer=PARAMS / 30.0)
    w = tf.get_variable("w", initializer=np.arange(15, dtype=np.float32).reshape(3, 5) / 15.0)
    logits = tf.matmul(tf.nn.embedding_lookup(emb, ids), w)
    loss = tf.losses.sparse_softmax_cross_entropy(labels=labels, logits=logits)
    train = optimizer(tf).minimize(loss)
    return ids, labels, loss, train


def _adam(tf):
    return tf.train.AdamOptimizer(0.1)


@pytest.mark.parametrize("bad", ["id", "label"])
def test_failed_train_step_leaves_variables_and_slots_as_they_were(bad):
    g = tfs.Graph()
    with g.as_default():
        ids, labels, loss, train = _model(tfs, _adam)
        variables = tfs.global_variables()  # the model's, Adam's slots and beta powers
        assert len(variables) >= 6
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            good = {ids: [1, 2, 3], labels: [0, 4, 1]}
            sess.run(train, good)
            before = sess.run(variables)
            bad_feed = dict(good)
            if bad == "id":
                bad_feed[ids] = [1, 10, 3]
            else:
                bad_feed[labels] = [0, 5, 1]
            with pytest.raises(tfs.errors.InvalidArgumentError):
                sess.run(train, bad_feed)
            for v, b in zip(variables, before):
                np.testing.assert_array_equal(sess.run(v), b, err_msg=v.name)
            sess.run(train, good)
            after = sess.run(variables)
            assert any(not np.array_equal(a, b) for a, b in zip(after, before))


def test_train_steps_match_tf_around_a_failed_step():
    """A failed step changes nothing in TF either (with plain gradient descent: TF's Adam
    decays its slots of the embedding even in a step whose gather fails; tfstyle's don't)."""
    results = []
    for tf in (tf1(), tfs):
        g = tf.Graph()
        with g.as_default():
            ids, labels, loss, train = _model(tf, lambda tf: tf.train.GradientDescentOptimizer(0.5))
            with tf.Session(graph=g) as sess:
                sess.run(tf.global_variables_initializer())
                good = {ids: [1, 2, 3], labels: [0, 4, 1]}
                sess.run(train, good)
                for bad in ({ids: [1, 2, 13]}, {labels: [0, 4, -1]}):
                    with pytest.raises(tf.errors.InvalidArgumentError):
                        sess.run(train, {**good, **bad})
                sess.run(train, good)
                results.append(sess.run(tf.global_variables()))
    for e, a in zip(*results):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6)


# Ids computed from a feed by ops the check does not follow (a float op, a select) or follows
# exactly (an integer modulo, a minimum): in range after all, so no error.
UNCHECKED = {
    "where_clamped": lambda tf, i: tf.where(i < 10, i, tf.zeros_like(i)),
    "from_floats": lambda tf, i: tf.cast(tf.floor(tf.cast(i, tf.float32) / 2.0), tf.int32),
    "modulo": lambda tf, i: i % 10,
    "minimum": lambda tf, i: tf.minimum(tf.maximum(i, 0), 9),
}


@pytest.mark.parametrize("case", sorted(UNCHECKED))
def test_ids_computed_in_range_from_bad_feeds_run(case):
    def build(tf):
        i = _ids(tf)
        ids = UNCHECKED[case](tf, i)
        return [
            tf.gather(tf.constant(PARAMS), ids),
            tf.nn.embedding_lookup(_var(tf), ids),
            tf.nn.embedding_lookup(_partitions(tf), ids, partition_strategy="div"),
            tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=ids, logits=tf.zeros([4, 10]) + tf.cast(ids[:, None], tf.float32)
            ),
        ]

    _same_values(build, np.array([1, 12, 19, 3], np.int32))


def test_plans_without_checked_ops_check_nothing():
    g = tfs.Graph()
    with g.as_default():
        x = tfs.placeholder(tfs.int32, [None])
        y = x * 2
        z = tfs.gather(tfs.constant(PARAMS), x)
        with tfs.Session() as sess:
            sess.run(y, {x: [1, 2]})
            sess.run(z, {x: [1, 2]})
            checks = [sig.checks for sig in sess._signatures.values()]
    assert checks[0] is None
    assert checks[1] is not None
