"""Sparse gradients against real TF: ``tf.gradients`` of a variable or tensor read through
gathers is an ``IndexedSlices`` (type, names, shapes, dtypes, fetched values), and every
optimizer updates only the rows looked up, with TF's sparse formulas, step after step."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.optimizer_cases import train_recorded
from tests.oracle import tf1
from tests.test_optimizers import OPTIMIZERS

EMB0 = (np.arange(40, dtype=np.float32).reshape(10, 4) / 20.0 - 1.0).astype(np.float32)
IDS = np.array([[1, 3, 1], [7, 3, 3]], dtype=np.int32)  # repeated ids
W0 = np.array([[0.5], [-0.3], [0.2], [0.1]], dtype=np.float32)
Y = np.array([[1.0], [-0.5]], dtype=np.float32)


def _describe(tf, g):
    if isinstance(g, tf.IndexedSlices):
        return (
            "IndexedSlices",
            g.values.name,
            g.values.shape.as_list(),
            g.values.dtype.name,
            g.indices.shape.as_list(),
            g.indices.dtype.name,
            g.dense_shape.shape.as_list(),
            g.dense_shape.dtype.name,
        )
    return ("dense", g.shape.as_list(), g.dtype.name)


def _gradient_cases(tf):
    emb = tf.Variable(EMB0, name="emb")
    ids = tf.constant(IDS, name="ids")
    e = tf.nn.embedding_lookup(emb, ids)
    sq = tf.reduce_sum(e * e)
    read = emb.read_value()
    return {
        "single": (sq, [emb]),
        "twice": (sq + tf.reduce_sum(tf.gather(emb, [2, 2]) * 3.0), [emb]),
        "mixed_dense_and_gather": (sq + tf.reduce_sum(emb.value()), [emb]),
        "through_identity": (tf.reduce_sum(tf.sin(tf.gather(tf.identity(emb), [5, 0]))), [emb]),
        "gather_of_read": (tf.reduce_sum(tf.gather(read, [4])), [emb, read]),
        "int64_and_int32_ids": (
            tf.reduce_sum(tf.gather(emb, tf.constant([1, 2], tf.int64)))
            + tf.reduce_sum(tf.gather(emb, [3]) * 2.0),
            [emb],
        ),
        "cast_then_gather": (tf.reduce_sum(tf.gather(tf.cast(read, tf.float64), [1, 1])), [read]),
        "y_is_the_gather": (tf.nn.embedding_lookup(emb, [[6, 2]]), [emb]),
        "stopped_dense_use": (
            sq + tf.reduce_sum(tf.stop_gradient(emb.value()) * 2.0),
            [emb],
        ),
        "gather_on_an_axis_1": (tf.reduce_sum(tf.gather(emb, [1], axis=1)), [emb]),
    }


def _run_gradients(tf):
    g = tf.Graph()
    with g.as_default():
        cases = _gradient_cases(tf)
        meta, fetches = {}, {}
        for name, (loss, xs) in cases.items():
            grads = tf.gradients(loss, xs)
            meta[name] = [_describe(tf, gr) for gr in grads]
            fetches[name] = grads
        with tf.Session(graph=g) as sess:
            sess.run(tf.global_variables_initializer())
            values = sess.run(fetches)
    return meta, values


def test_gradients_of_gathers_are_indexed_slices_like_tf():
    exp_meta, exp_vals = _run_gradients(tf1())
    act_meta, act_vals = _run_gradients(tfs)
    assert act_meta == exp_meta
    for name, grads in exp_vals.items():
        for e, a in zip(grads, act_vals[name]):
            if type(e).__name__ == "IndexedSlicesValue":
                assert isinstance(a, tfs.IndexedSlicesValue), name
                for part in ("values", "indices", "dense_shape"):
                    ev, av = getattr(e, part), getattr(a, part)
                    assert av.dtype == ev.dtype, (name, part)
                    np.testing.assert_allclose(av, ev, rtol=1e-6, err_msg=f"{name}.{part}")
            else:
                np.testing.assert_allclose(a, e, rtol=1e-6, err_msg=name)


def test_indexed_slices_surface():
    with tfs.Graph().as_default() as g:
        emb = tfs.Variable(EMB0, name="emb")
        grad = tfs.gradients(tfs.reduce_sum(tfs.nn.embedding_lookup(emb, [[1, 3], [1, 9]])), emb)[0]
        assert isinstance(grad, tfs.IndexedSlices)
        assert grad.dtype == tfs.float32 and grad.graph is g
        assert grad.name == grad.values.name and grad.op is grad.values.op
        assert grad.shape.as_list() == [10, 4]
        dense = tfs.convert_to_tensor(grad)
        assert dense.shape.as_list() == [10, 4] and dense.op.type == "UnsortedSegmentSum"
        neg = -grad
        with pytest.raises(ValueError, match="requested dtype"):
            tfs.convert_to_tensor(grad, dtype=tfs.float64)
        with pytest.raises(ValueError, match="without dense_shape"):
            tfs.convert_to_tensor(tfs.IndexedSlices(grad.values, grad.indices))
        with tfs.Session() as sess:
            sess.run(emb.initializer)
            v, d, n = sess.run([grad, dense, neg])
    assert isinstance(v, tfs.IndexedSlicesValue) and v.dense_shape.tolist() == [10, 4]
    np.testing.assert_array_equal(v.indices, [1, 3, 1, 9])
    expected = np.zeros((10, 4), np.float32)
    np.add.at(expected, v.indices, v.values)
    np.testing.assert_array_equal(d, expected)
    np.testing.assert_array_equal(n.values, -v.values)


def _run_scatters_and_feeds(tf):
    g = tf.Graph()
    with g.as_default():
        v = tf.Variable(np.full((5, 2), 2.0, np.float32), name="v")
        delta = tf.IndexedSlices(tf.constant([[1.0, 2.0], [3.0, 4.0]]), tf.constant([1, 3]))
        methods = ["scatter_add", "scatter_sub", "scatter_max", "scatter_min", "scatter_mul"]
        updates = [getattr(v, m)(delta) for m in methods + ["scatter_div", "scatter_update"]]
        names = [(u.name, u.op.type) for u in updates]
        with pytest.raises(TypeError, match="must be a `tf.IndexedSlices`"):
            v.scatter_add(tf.constant(1.0))
        fed = tf.IndexedSlices(
            tf.placeholder(tf.float32, [None, 2]),
            tf.placeholder(tf.int64, [None]),
            tf.placeholder(tf.int64, [2]),
        )
        # XLA needs the number of rows when compiling: a constant dense_shape (tfstyle cannot
        # make a fed dense_shape dense).
        known = tf.IndexedSlices(fed.values, fed.indices, tf.constant([4, 2], tf.int64))
        dense = tf.convert_to_tensor(known)
        feed = (np.ones((3, 2), np.float32), np.array([0, 2, 0]), np.array([4, 2]))
        with tf.Session(graph=g) as sess:
            sess.run(v.initializer)
            values = [sess.run(u) for u in updates]
            values.append(sess.run(dense, {known: feed[:2]}))
            values.extend(sess.run(fed, {fed: feed}))
    return names, values


def test_variable_scatter_methods_and_indexed_slices_feeds_like_tf():
    exp_names, exp_vals = _run_scatters_and_feeds(tf1())
    names, vals = _run_scatters_and_feeds(tfs)
    assert names == exp_names
    for e, a in zip(exp_vals, vals):
        assert np.asarray(a).dtype == np.asarray(e).dtype
        np.testing.assert_allclose(a, e, rtol=1e-6)


# -- optimizers ----------------------------------------------------------------------------
# Fed ids that change between steps: a row looked up once and then not any more keeps its
# slots (Momentum's accumulator, RMSProp's mean square) where a dense update would decay them.
STEP_IDS = [IDS, np.array([[2, 2, 5], [1, 0, 0]]), np.array([[7, 9, 9], [3, 1, 4]])]


def _embedding_model(tf, dtype=np.float32):
    emb = tf.Variable(EMB0.astype(dtype), name="emb")
    w = tf.Variable(W0.astype(dtype), name="w")
    ids = tf.placeholder(tf.int32, [2, 3], name="ids")
    rows = tf.nn.embedding_lookup(emb, ids)  # [2, 3, 4]
    pred = tf.matmul(tf.reduce_mean(rows, axis=1), w)
    loss = tf.reduce_mean(tf.square(pred - tf.constant(Y.astype(dtype))))
    return emb, w, loss


def _train_sparse(tf, make_opt, steps=3, dtype=np.float32):
    def build(tf):
        emb, w, loss = _embedding_model(tf, dtype)
        return loss, [emb, w]

    return train_recorded(tf, build, make_opt, [{"ids:0": ids} for ids in STEP_IDS[:steps]])


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_sparse_updates_match_tf(name):
    exp_kinds, exp_ops, exp_hist, exp_state = _train_sparse(tf1(), OPTIMIZERS[name])
    kinds, update_ops, hist, state = _train_sparse(tfs, OPTIMIZERS[name])
    assert kinds == exp_kinds == [True, False]
    assert update_ops == exp_ops
    for step, (e, a) in enumerate(zip(exp_hist, hist)):
        for ev, av in zip(e, a):
            np.testing.assert_allclose(av, ev, rtol=1e-5, atol=1e-6, err_msg=f"step {step}")
    assert sorted(state) == sorted(exp_state)
    for var_name, ev in exp_state.items():
        np.testing.assert_allclose(state[var_name], ev, rtol=1e-5, atol=1e-6, err_msg=var_name)
    # Row 6 is never looked up: it never moves.
    np.testing.assert_array_equal(state["emb:0"][6], EMB0[6])


@pytest.mark.parametrize(
    "name",
    [
        "adadelta",
        "ftrl_power",
        "nesterov",
        "rmsprop_all",
        # (TF's proximal optimizers do not cast the rate of a dense float64 update.)
        "adagrad_da_l1_l2",
    ],
)
def test_sparse_formulas_are_tfs_to_float64_rounding(name):
    # In float64 the sparse kernels agree with TF's to ~1e-14: the same arithmetic, not only
    # the same result to float32 tolerance.
    *_, exp_state = _train_sparse(tf1(), OPTIMIZERS[name], dtype=np.float64)
    *_, state = _train_sparse(tfs, OPTIMIZERS[name], dtype=np.float64)
    for var_name, ev in exp_state.items():
        assert state[var_name].dtype == ev.dtype
        np.testing.assert_allclose(state[var_name], ev, rtol=1e-11, atol=1e-13, err_msg=var_name)


def _run_clips(tf):
    g = tf.Graph()
    with g.as_default():
        emb = tf.Variable(EMB0, name="emb")
        w = tf.Variable(W0, name="w")
        rows = tf.nn.embedding_lookup(emb, tf.constant(IDS))
        loss = tf.reduce_sum(tf.matmul(tf.reduce_sum(rows, axis=1), w) ** 2)
        grads = tf.gradients(loss, [emb, w])
        clipped, norm = tf.clip_by_global_norm(grads + [None], 1.5)
        by_norm = tf.clip_by_norm(grads[0], 0.5, axes=[1])
        fetches = [clipped[0], clipped[1], norm, tf.global_norm(grads), by_norm]
        kinds = [isinstance(c, tf.IndexedSlices) for c in clipped[:2] + [by_norm]]
        names = [c.name for c in clipped[:2] + [by_norm]] + [norm.name, clipped[2]]
        with tf.Session(graph=g) as sess:
            sess.run(tf.global_variables_initializer())
            values = sess.run(fetches)
    return kinds, names, values


def test_clip_ops_keep_indexed_slices_like_tf():
    exp = _run_clips(tf1())
    act = _run_clips(tfs)
    assert act[0] == exp[0] == [True, False, True]
    assert act[1] == exp[1]
    for e, a in zip(exp[2], act[2]):
        for ev, av in zip(e, a) if isinstance(e, tuple) else [(e, a)]:
            np.testing.assert_allclose(av, ev, rtol=1e-5)


def test_sparse_training_loop_traces_once_and_keeps_float64():
    import tfstyle

    with tfs.Graph().as_default():
        emb = tfs.Variable(EMB0.astype(np.float64), name="emb")
        ids = tfs.placeholder(tfs.int64, [2, 3], name="ids")
        loss = tfs.reduce_sum(tfs.square(tfs.nn.embedding_lookup(emb, ids)))
        opt = tfs.train.RMSPropOptimizer(0.01, momentum=0.5, centered=True)
        train = opt.minimize(loss)
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            sess.run(train, {ids: STEP_IDS[0]})
            before = tfstyle.compiler.trace_count()
            for step_ids in STEP_IDS[1:]:
                sess.run(train, {ids: step_ids})
            assert tfstyle.compiler.trace_count() == before
            value, rms = sess.run([emb, opt.get_slot(emb, "rms")])
    assert value.dtype == np.float64
    touched = sorted(set(np.concatenate([i.ravel() for i in STEP_IDS])))
    np.testing.assert_array_equal(rms[6], np.ones(4))  # never looked up: its slot is untouched
    assert np.all(rms[touched] != 1.0)


def test_sparse_gradient_with_a_constraint_raises():
    with tfs.Graph().as_default():
        emb = tfs.Variable(EMB0, name="emb", constraint=lambda v: v)
        loss = tfs.reduce_sum(tfs.nn.embedding_lookup(emb, [1, 2]))
        with pytest.raises(RuntimeError, match="constraint function on a sparse variable"):
            tfs.train.GradientDescentOptimizer(0.1).minimize(loss)


def test_optax_optimizer_takes_indexed_slices_densely():
    import optax

    finals = []
    for make in (lambda: tfs.train.OptaxOptimizer(optax.sgd(0.1)), lambda: None):
        with tfs.Graph().as_default():
            emb, w, loss = _embedding_model(tfs)
            opt = make() or tfs.train.GradientDescentOptimizer(0.1)
            train = opt.minimize(loss)
            with tfs.Session() as sess:
                sess.run(tfs.global_variables_initializer())
                for ids in STEP_IDS:
                    sess.run(train, {"ids:0": ids})
                finals.append(sess.run([emb, w]))
    for a, b in zip(*finals):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


# -- GraphDef ------------------------------------------------------------------------------
def _sparse_training_graph(tf, optimizer):
    emb, w, loss = _embedding_model(tf)
    tf.identity(loss, name="loss")
    OPTIMIZERS[optimizer](tf, None).minimize(loss, name="train")
    return tf.global_variables_initializer().name


def _graph_def_steps(tf, graph, init):
    with tf.Session(graph=graph) as sess:
        sess.run(init)
        for ids in STEP_IDS:
            sess.run("train", {"ids:0": ids})
        return sess.run(["emb/Read/ReadVariableOp:0", "w/Read/ReadVariableOp:0"])


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam", "ftrl_shrinkage_beta"])
def test_sparse_training_graph_def_round_trips_and_runs_in_tf(optimizer):
    tf1()
    from tensorflow.core.framework import graph_pb2

    g = tfs.Graph()
    with g.as_default():
        init = _sparse_training_graph(tfs, optimizer)
    expected = _graph_def_steps(tfs, g, init)
    gd = g.as_graph_def()
    g2 = tfs.Graph()
    with g2.as_default():
        tfs.import_graph_def(gd, name="")
    for e, a in zip(expected, _graph_def_steps(tfs, g2, init)):
        np.testing.assert_allclose(a, e, rtol=1e-6)
    tf = tf1()
    tg = tf.Graph()
    with tg.as_default():
        tf.import_graph_def(graph_pb2.GraphDef.FromString(gd.SerializeToString()), name="")
    for e, a in zip(expected, _graph_def_steps(tf, tg, init)):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6)


def _train_partitioned(tf, make_opt, strategy, fed=True):
    g = tf.Graph()
    with g.as_default():
        # EMB0's 10 rows in 3 partitions of 4, 3 and 3 rows (both strategies size them so).
        parts = [tf.Variable(EMB0[s], name=f"part_{i}")
                 for i, s in enumerate([slice(0, 4), slice(4, 7), slice(7, 10)])]  # fmt: skip
        ids = tf.placeholder(tf.int32, [2, 3], name="ids") if fed else tf.constant(STEP_IDS[1])
        e = tf.nn.embedding_lookup(parts, ids, partition_strategy=strategy)
        loss = tf.reduce_sum(tf.sin(e) * np.linspace(-1, 1, 4, dtype=np.float32))
        train_op = make_opt(tf, None).minimize(loss)
        with tf.Session(graph=g) as sess:
            sess.run(tf.global_variables_initializer())
            for step_ids in STEP_IDS[:3]:
                sess.run(train_op, {ids: step_ids} if fed else None)
            return {v.name: sess.run(v) for v in tf.global_variables()}


@pytest.mark.parametrize("strategy", ["mod", "div"])
@pytest.mark.parametrize("name", ["sgd", "momentum", "adam", "rmsprop_all", "adagrad", "adadelta",
                                  "ftrl_l1_l2"])  # fmt: skip
def test_partitioned_lookups_train_like_tf(name, strategy):
    # Each partition's gradient updates only the rows of the ids that live in it: rows of other
    # partitions' ids must not see a zero-gradient update (which moves Momentum's, RMSProp's and
    # Adadelta's rows).
    for fed in (True, False):  # ids fed, or constant (partitioned while building the graph)
        expected = _train_partitioned(tf1(), OPTIMIZERS[name], strategy, fed)
        state = _train_partitioned(tfs, OPTIMIZERS[name], strategy, fed)
        assert sorted(state) == sorted(expected)
        for var_name, ev in expected.items():
            np.testing.assert_allclose(state[var_name], ev, rtol=1e-5, atol=1e-6, err_msg=var_name)
