"""Gradients of gathers inside control flow, against real TF 2.x's ``compat.v1`` (control flow
v2): through a ``tf.cond`` a variable's gradient is an ``IndexedSlices`` where a branch's is
(the other branch then counts as all rows), and the sparse optimizer updates touch only the rows
that the branch taken looked up; through a ``tf.while_loop`` it is dense, in TF as here."""

import functools

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.optimizer_cases import train_recorded
from tests.oracle import tf1
from tests.test_optimizers import OPTIMIZERS
from tests.test_sparse_gradients import EMB0, STEP_IDS, W0, Y


def _describe(tf, g):
    if isinstance(g, tf.IndexedSlices):
        return (
            "IndexedSlices",
            g.values.name,
            g.values.shape.as_list(),
            g.values.dtype.name,
            g.indices.name,
            g.indices.shape.as_list(),
            g.indices.dtype.name,
            g.dense_shape.name,
            g.dense_shape.shape.as_list(),
            g.dense_shape.dtype.name,
        )
    return ("dense", g.shape.as_list(), g.dtype.name)


def _gather_sum(tf, params, ids, scale=1.0):
    return tf.reduce_sum(tf.gather(params, ids) * scale)


def _chained_conds(tf, emb, p, between):
    """A cond whose branches gather, taking (``between`` of) the output of another such."""
    h = between(tf.cond(p, lambda: _gather_sum(tf, emb, [1, 3]), lambda: _gather_sum(tf, emb, [6])))
    return tf.cond(
        tf.logical_not(p), lambda: _gather_sum(tf, emb, [2]) * h, lambda: tf.square(h) + 1.0
    )


def _cond_cases(tf, emb, p):
    read = emb.read_value()
    zero = lambda: tf.constant(0.0)  # noqa: E731
    return {
        "other_branch_unused": tf.cond(p, lambda: _gather_sum(tf, emb, [1, 3, 1]), zero),
        "both_branches_gather": tf.cond(
            p, lambda: _gather_sum(tf, emb, [1, 3]), lambda: _gather_sum(tf, emb, [2], 2.0)
        ),
        "same_size_branches": tf.reduce_sum(
            tf.cond(
                p,
                lambda: tf.nn.embedding_lookup(emb, [[1, 3]]),
                lambda: tf.nn.embedding_lookup(emb, [[0, 0]]),
            )
        ),
        "other_branch_dense": tf.cond(
            p, lambda: _gather_sum(tf, emb, [1, 3]), lambda: tf.reduce_sum(tf.sin(emb.value()))
        ),
        "int64_and_int32_ids": tf.cond(
            p,
            lambda: _gather_sum(tf, emb, tf.constant([1, 3], tf.int64)),
            lambda: _gather_sum(tf, emb, [2], 2.0),
        ),
        "plus_a_gather_outside": tf.cond(p, lambda: _gather_sum(tf, emb, [1, 3]), zero)
        + _gather_sum(tf, emb, [5], 3.0),
        "two_gathers_in_a_branch": tf.cond(
            p, lambda: _gather_sum(tf, emb, [1, 3]) + _gather_sum(tf, emb, [4], -1.0), zero
        ),
        "gather_and_dense_in_a_branch": tf.cond(
            p, lambda: _gather_sum(tf, emb, [1, 3]) + tf.reduce_sum(emb.value()), zero
        ),
        "gather_of_a_captured_read": tf.cond(p, lambda: _gather_sum(tf, read, [1, 3]), zero),
        "nested_conds": tf.cond(
            p,
            lambda: tf.cond(
                tf.logical_not(p),
                lambda: _gather_sum(tf, emb, [7]),
                lambda: _gather_sum(tf, emb, [1, 3]),
            ),
            zero,
        ),
        "gather_on_axis_1": tf.cond(p, lambda: tf.reduce_sum(tf.gather(emb, [1], axis=1)), zero),
        "chained_conds": _chained_conds(tf, emb, p, lambda h: h),
        "chained_conds_through_ops": _chained_conds(tf, emb, p, lambda h: tf.sin(h) * 2.0),
        "loop_beside_a_gather": tf.cond(
            p,
            lambda: (
                _gather_sum(tf, emb, [1, 3])
                + tf.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, tf.sin(a)), [0, 0.5])[1]
            ),
            zero,
        ),
        "rows_used_nonlinearly": tf.cond(
            p,
            lambda: tf.reduce_sum(tf.square(tf.nn.embedding_lookup(emb, [[2, 9], [9, 4]]))),
            lambda: _gather_sum(tf, emb, [0]),
        ),
    }


def _cond_cases_names():
    with tfs.Graph().as_default():
        return list(_cond_cases(tfs, tfs.Variable(EMB0), tfs.placeholder(tfs.bool, [])))


_SLICES_CASES = set(_cond_cases_names()) - {"gather_and_dense_in_a_branch", "gather_on_axis_1"}


def _run_cond_gradients(tf):
    g = tf.Graph()
    with g.as_default():
        emb = tf.Variable(EMB0, name="emb")
        p = tf.placeholder(tf.bool, [], name="p")
        meta, fetches = {}, {}
        for name, loss in _cond_cases(tf, emb, p).items():
            (grad,) = tf.gradients(loss, [emb])
            meta[name] = _describe(tf, grad)
            fetches[name] = (grad, tf.convert_to_tensor(grad))
        with tf.Session(graph=g) as sess:
            sess.run(emb.initializer)
            values = [sess.run(fetches, {p: v}) for v in (True, False)]
    return meta, values


def _unpadded(v):
    """The slices without the rows past the last row that tfstyle pads them with (XLA needs one
    size for both branches); those rows must be zeros."""
    keep = v.indices < v.dense_shape[0]
    np.testing.assert_array_equal(v.values[~keep], 0.0)
    return v.values[keep], v.indices[keep]


def test_cond_gradients_of_gathers_are_indexed_slices_like_tf():
    exp_meta, exp_values = _run_cond_gradients(tf1())
    meta, values = _run_cond_gradients(tfs)
    assert meta == exp_meta
    assert {k for k, m in meta.items() if m[0] == "dense"} == {
        "gather_and_dense_in_a_branch",
        "gather_on_axis_1",
    }
    for exp, act in zip(exp_values, values):
        for name, (e, e_dense) in exp.items():
            a, a_dense = act[name]
            np.testing.assert_allclose(a_dense, e_dense, rtol=1e-6, err_msg=name)
            if type(e).__name__ != "IndexedSlicesValue":
                np.testing.assert_allclose(a, e, rtol=1e-6, err_msg=name)
                continue
            assert isinstance(a, tfs.IndexedSlicesValue), name
            a_values, a_indices = _unpadded(a)
            np.testing.assert_allclose(a_values, e.values, rtol=1e-6, err_msg=name)
            np.testing.assert_array_equal(a_indices, e.indices, err_msg=name)
            assert a.indices.dtype == e.indices.dtype, name
            np.testing.assert_array_equal(a.dense_shape, e.dense_shape, err_msg=name)
            assert a.dense_shape.dtype == e.dense_shape.dtype, name
            if meta[name][2][0] is not None:  # a size known in TF: no padding
                assert a.values.shape == e.values.shape, name


def _loop_cases(tf, emb, p):
    def body(i, acc):
        return i + 1, acc + _gather_sum(tf, emb, tf.stack([i, i + 1]))

    def loop():
        return tf.while_loop(lambda i, a: i < 3, body, [0, 0.0])[1]

    return {
        "while_loop": loop(),
        "while_loop_and_a_gather_outside": loop() + _gather_sum(tf, emb, [5]),
        "cond_in_a_while_loop": tf.while_loop(
            lambda i, a: i < 2,
            lambda i, a: (i + 1, a + tf.cond(p, lambda: _gather_sum(tf, emb, [i]), lambda: 0.0)),
            [0, 0.0],
        )[1],
        "while_loop_in_a_cond": tf.cond(p, loop, lambda: 0.0),
    }


def _run_loop_gradients(tf):
    g = tf.Graph()
    with g.as_default():
        emb = tf.Variable(EMB0, name="emb")
        p = tf.placeholder(tf.bool, [], name="p")
        meta, fetches = {}, {}
        for name, loss in _loop_cases(tf, emb, p).items():
            (grad,) = tf.gradients(loss, [emb])
            meta[name] = _describe(tf, grad)
            fetches[name] = grad
        with tf.Session(graph=g) as sess:
            sess.run(emb.initializer)
            values = [sess.run(fetches, {p: v}) for v in (True, False)]
    return meta, values


def test_while_loop_gradients_of_gathers_are_dense_like_tf():
    exp_meta, exp_values = _run_loop_gradients(tf1())
    meta, values = _run_loop_gradients(tfs)
    assert meta == exp_meta
    assert all(m[0] == "dense" for m in meta.values())
    for exp, act in zip(exp_values, values):
        for name, e in exp.items():
            np.testing.assert_allclose(act[name], e, rtol=1e-6, err_msg=name)


# -- optimizers ----------------------------------------------------------------------------
STEP_PREDS = [True, False, True]


def _cond_model(tf, other, ids_shape=(2, 3)):
    """An embedding model whose lookup happens in a ``tf.cond``; the other branch looks up other
    rows (``"gather"``), reads the whole table (``"dense"``), looks up rows in a cond of its own
    (``"nested"``) or does not use it (``"none"``, ``"chained"``, ``"two_conds"``: a second
    cond gathering too takes the first one's output)."""
    emb = tf.Variable(EMB0, name="emb")
    w = tf.Variable(W0, name="w")
    ids = tf.placeholder(tf.int32, ids_shape, name="ids")
    p = tf.placeholder(tf.bool, [], name="p")
    # "chained": both branches scale by a tensor computed from w outside the cond.
    scale = tf.reduce_mean(w.value()) + 1.0 if other == "chained" else 1.0

    def taken():
        return tf.reduce_mean(tf.nn.embedding_lookup(emb, ids), axis=1) * scale  # [2, 4]

    def not_taken():
        if other == "gather":
            return tf.nn.embedding_lookup(emb, [0, 8]) * 0.5
        if other == "dense":
            return tf.tile(tf.reduce_mean(emb.value(), axis=0, keepdims=True), [2, 1])
        if other == "nested":  # a cond in the branch, gathering and reading w
            return tf.cond(
                tf.logical_not(p),
                lambda: tf.nn.embedding_lookup(emb, [0, 8]) * tf.reduce_mean(w.value()),
                lambda: tf.nn.embedding_lookup(emb, [5]) + tf.zeros([2, 4]),
            )
        return tf.ones([2, 4]) * 0.1 * scale

    h = tf.cond(p, taken, not_taken)
    if other == "two_conds":
        h = tf.cond(
            tf.logical_not(p),
            lambda: h * 2.0 + tf.nn.embedding_lookup(emb, [3, 4]),
            lambda: tf.tanh(h),
        )
    pred = tf.matmul(h, w)
    return tf.reduce_mean(tf.square(pred - tf.constant(Y)))


def _train(tf, make_opt, other, ids_shape=(2, 3)):
    return train_recorded(
        tf,
        lambda tf: (_cond_model(tf, other, ids_shape), None),
        make_opt,
        [{"ids:0": ids, "p:0": p} for ids, p in zip(STEP_IDS, STEP_PREDS)],
    )


@pytest.mark.parametrize("other", ["gather", "dense", "nested", "none", "chained", "two_conds"])
@pytest.mark.parametrize(
    "name", ["sgd", "momentum", "adagrad", "adam", "rmsprop_all", "ftrl_l1_l2", "adadelta"]
)
def test_sparse_updates_through_a_cond_match_tf(name, other):
    exp_kinds, exp_ops, exp_hist, exp_state = _train(tf1(), OPTIMIZERS[name], other)
    kinds, update_ops, hist, state = _train(tfs, OPTIMIZERS[name], other)
    assert kinds == exp_kinds == [True, False]
    assert update_ops == exp_ops
    for step, (e, a) in enumerate(zip(exp_hist, hist)):
        for ev, av in zip(e, a):
            np.testing.assert_allclose(av, ev, rtol=1e-5, atol=1e-6, err_msg=f"step {step}")
    assert sorted(state) == sorted(exp_state)
    for var_name, ev in exp_state.items():
        np.testing.assert_allclose(state[var_name], ev, rtol=1e-5, atol=1e-6, err_msg=var_name)
    if other == "gather":
        # Row 6 is never looked up: sparse updates never touch it (dense ones would decay it).
        np.testing.assert_array_equal(state["emb:0"][6], EMB0[6])


@pytest.mark.parametrize("other", ["gather", "none"])
@pytest.mark.parametrize("name", ["momentum", "adagrad", "adam"])
def test_sparse_updates_through_a_cond_with_fed_ids_of_unknown_shape_match_tf(name, other):
    # The number of slices is known only when the step is compiled for the fed ids' shape.
    expected = _train(tf1(), OPTIMIZERS[name], other, ids_shape=None)
    got = _train(tfs, OPTIMIZERS[name], other, ids_shape=None)
    assert got[0] == expected[0] == [True, False]
    assert got[1] == expected[1]
    for var_name, ev in expected[3].items():
        np.testing.assert_allclose(got[3][var_name], ev, rtol=1e-5, atol=1e-6, err_msg=var_name)


def _fed_ids_gradient(tf):
    g = tf.Graph()
    with g.as_default():
        emb = tf.Variable(EMB0, name="emb")
        p = tf.placeholder(tf.bool, [], name="p")
        ids = tf.placeholder(tf.int64, [None], name="ids")
        loss = tf.cond(
            p, lambda: _gather_sum(tf, emb, ids, 2.0), lambda: _gather_sum(tf, emb, [4, 4, 4, 4])
        )
        (grad,) = tf.gradients(loss, [emb])
        meta = _describe(tf, grad)
        with tf.Session(graph=g) as sess:
            sess.run(emb.initializer)
            feeds = [(True, [1, 3]), (True, [0, 1, 2, 3, 5, 6]), (False, [1, 3])]
            values = [sess.run(grad, {p: pv, ids: iv}) for pv, iv in feeds]
    return meta, values


def test_cond_gradient_of_fed_ids_of_unknown_shape_like_tf():
    exp_meta, exp_values = _fed_ids_gradient(tf1())
    meta, values = _fed_ids_gradient(tfs)
    assert meta == exp_meta
    for e, a in zip(exp_values, values):
        a_values, a_indices = _unpadded(a)
        np.testing.assert_allclose(a_values, e.values, rtol=1e-6)
        np.testing.assert_array_equal(a_indices, e.indices)
        assert a.indices.dtype == e.indices.dtype


def _train_loop(tf):
    g = tf.Graph()
    with g.as_default():
        emb = tf.Variable(EMB0, name="emb")
        ids = tf.placeholder(tf.int32, [3], name="ids")

        def body(i, acc):
            return i + 1, acc + tf.reduce_sum(tf.square(tf.gather(emb, ids[i])))

        loss = tf.while_loop(lambda i, a: i < 3, body, [0, 0.0])[1]
        opt = tf.train.MomentumOptimizer(0.05, momentum=0.9)
        grads_and_vars = opt.compute_gradients(loss, [emb])
        kinds = [isinstance(gr, tf.IndexedSlices) for gr, _ in grads_and_vars]
        train_op = opt.apply_gradients(grads_and_vars)
        types = sorted(
            o.name
            for o in g.get_operations()
            if o.name.split("/")[-1].startswith(("ResourceApply", "ResourceSparseApply"))
        )
        with tf.Session(graph=g) as sess:
            sess.run(tf.global_variables_initializer())
            for step_ids in ([1, 3, 1], [2, 2, 5], [7, 9, 9]):
                sess.run(train_op, {ids: step_ids})
            return kinds, types, sess.run(emb)


def test_momentum_through_a_while_loop_is_dense_like_tf():
    exp_kinds, exp_types, expected = _train_loop(tf1())
    kinds, types, got = _train_loop(tfs)
    assert kinds == exp_kinds == [False]
    assert types == exp_types and all("/ResourceApplyMomentum" in t for t in types)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def _graph_def_steps(graph, init):
    with tfs.Session(graph=graph) as sess:
        sess.run(init)
        for ids, p in zip(STEP_IDS, STEP_PREDS):
            sess.run("train", {"ids:0": ids, "p:0": p})
        return sess.run(["emb/Read/ReadVariableOp:0", "w/Read/ReadVariableOp:0"])


def _tf_graph_def_steps(gd, init):
    tf = tf1()
    from tensorflow.core.framework import graph_pb2

    g = tf.Graph()
    with g.as_default():
        tf.import_graph_def(graph_pb2.GraphDef.FromString(gd.SerializeToString()), name="")
    with tf.Session(graph=g) as sess:
        sess.run(init)
        for ids, p in zip(STEP_IDS, STEP_PREDS):
            sess.run("train", {"ids:0": ids, "p:0": p})
        return sess.run(["emb/Read/ReadVariableOp:0", "w/Read/ReadVariableOp:0"])


@pytest.mark.parametrize("other", ["gather", "dense", "nested", "none", "chained", "two_conds"])
def test_cond_sparse_training_graph_def_runs_in_tf_and_imports_back(other):
    # The slices are written as TF writes a cond's gradient, an If of the branches' slices
    # (the rows' gradients from a SymbolicGradient of each branch): TF trains to the same
    # values, and the graph imports back into tfstyle.
    g = tfs.Graph()
    with g.as_default():
        loss = _cond_model(tfs, other)
        tfs.train.MomentumOptimizer(0.05, momentum=0.9).minimize(loss, name="train")
        init = tfs.global_variables_initializer().name
    expected = _graph_def_steps(g, init)
    gd = g.as_graph_def()
    assert "Gradients" not in {n.op for n in gd.node}
    for e, a in zip(expected, _tf_graph_def_steps(gd, init)):
        np.testing.assert_allclose(a, e, rtol=1e-6, atol=1e-7)
    g2 = tfs.Graph()
    with g2.as_default():
        tfs.import_graph_def(gd, name="")
    assert g2.get_tensor_by_name("gradients/cond_grad/Identity:0").shape.as_list() == [None, 4]
    for e, a in zip(expected, _graph_def_steps(g2, init)):
        np.testing.assert_allclose(a, e, rtol=1e-6)


_OWN_OP_CASES = set()


@functools.cache
def _tf_cond_gradients():
    return _run_cond_gradients(tf1())


@pytest.mark.parametrize("name", _cond_cases_names())
def test_cond_gradients_of_gathers_exported_run_in_tf_like_tf(name):
    g = tfs.Graph()
    with g.as_default():
        emb = tfs.Variable(EMB0, name="emb")
        p = tfs.placeholder(tfs.bool, [], name="p")
        (grad,) = tfs.gradients(_cond_cases(tfs, emb, p)[name], [emb])
        fetches = [grad.values.name, grad.indices.name] if name in _SLICES_CASES else [grad.name]
        fetches.append(tfs.convert_to_tensor(grad).name)
    gd = g.as_graph_def()
    if name in _OWN_OP_CASES:
        assert "Gradients" in {n.op for n in gd.node}
        return
    assert "Gradients" not in {n.op for n in gd.node}
    tf = tf1()
    from tensorflow.core.framework import graph_pb2

    tg = tf.Graph()
    with tg.as_default():
        tf.import_graph_def(graph_pb2.GraphDef.FromString(gd.SerializeToString()), name="")
    with tf.Session(graph=tg) as sess:
        sess.run("emb/Assign")
        got = [sess.run(fetches, {"p:0": v}) for v in (True, False)]
    for exp, act in zip(_tf_cond_gradients()[1], got):
        e, e_dense = exp[name]
        np.testing.assert_allclose(act[-1], e_dense, rtol=1e-6)
        if name in _SLICES_CASES:
            np.testing.assert_allclose(act[0], e.values, rtol=1e-6)
            np.testing.assert_array_equal(act[1], e.indices)
            assert act[1].dtype == e.indices.dtype
        else:
            np.testing.assert_allclose(act[0], e, rtol=1e-6)
