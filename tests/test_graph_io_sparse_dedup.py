"""TF graphs whose optimizers sum the repeated ids of a sparse gradient with ``Unique`` (every TF
optimizer but plain SGD, on an embedding looked up with fed ids) import into tfstyle, which
rewrites that ``Unique`` into ops of fixed size (``tfstyle/framework/sparse_dedup.py``), and
train to TF's values, with resource variables and with TF 1.x ref variables."""

import numpy as np
import pytest
from tensorboard.compat.proto import graph_pb2, meta_graph_pb2

import tfstyle.compat.v1 as tfs
from tests import optimizer_cases
from tests.oracle import tf1
from tfstyle.framework import ref_variables, sparse_dedup

_OPTIMIZERS = {
    **{k: v for k, v in optimizer_cases.BASIC.items() if k != "sgd"},  # SGD has no Unique
    **optimizer_cases.PROXIMAL,
}

# Repeated ids, in different places each step; the last step repeats one id only.
_IDS = [[1, 4, 1, 7, 1], [0, 9, 3, 0, 9], [2, 2, 2, 2, 2]]


def _feeds(step, ids_dtype=np.int32):
    x = np.random.RandomState(step).randn(5, 3).astype(np.float32)
    return {"x:0": x, "ids:0": np.array(_IDS[step], ids_dtype)}


@pytest.fixture(params=["resource", "ref"])
def tf(request):
    """TF 1.x with resource variables, or with ref variables (enabled again afterwards)."""
    tf = tf1()
    if request.param == "resource":
        yield tf
        return
    tf.disable_resource_variables()
    try:
        yield tf
    finally:
        tf.enable_resource_variables()


def _model(tf, optimizer, ids_dtype=np.int32):
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    ids = tf.placeholder(ids_dtype, [None], name="ids")
    emb = tf.get_variable("emb", [10, 3])
    w = tf.get_variable("w", [3, 2])
    y = tf.nn.tanh(tf.matmul(x + tf.nn.embedding_lookup(emb, ids), w))
    loss = tf.reduce_sum(tf.square(y - 0.5), name="loss")
    gs = tf.train.get_or_create_global_step()
    return optimizer.minimize(loss, global_step=gs, name="train")


def _tf_train(tf, opt, path, ids_dtype=np.int32, steps=3):
    """Builds the model in TF, saves ``.meta`` + checkpoint, trains; ``(losses, variables)``."""
    with tf.Graph().as_default() as g:
        tf.set_random_seed(1)
        train = _model(tf, _OPTIMIZERS[opt](tf), ids_dtype)
        assert "Unique" in {n.op for n in g.as_graph_def().node}
        saver = tf.train.Saver()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            saver.save(sess, path)
            losses = [sess.run(["loss:0", train], _feeds(i, ids_dtype))[0] for i in range(steps)]
            return losses, {v.op.name: sess.run(v) for v in tf.global_variables()}


def _tfs_train(meta, checkpoint, ids_dtype=np.int32, steps=3):
    with tfs.Graph().as_default() as g:
        saver = tfs.train.import_meta_graph(meta)
        assert "Unique" not in {op.type for op in g.get_operations()}
        with tfs.Session() as sess:
            saver.restore(sess, checkpoint)
            losses = [sess.run(["loss:0", "train"], _feeds(i, ids_dtype))[0] for i in range(steps)]
            return losses, {v.op.name: sess.run(v) for v in tfs.global_variables()}


def _compare(theirs, ours):
    # ``atol`` relative to the variable's largest magnitude: Ftrl's linear slot sums terms of
    # opposite sign, whose float32 rounding shows in its small entries.
    assert sorted(theirs) == sorted(ours)
    for name in theirs:
        scale = max(1.0, float(np.max(np.abs(theirs[name]), initial=0.0)))
        np.testing.assert_allclose(
            ours[name], theirs[name], rtol=1e-5, atol=1e-5 * scale, err_msg=name
        )


def _meta(path):
    with open(path, "rb") as f:
        return meta_graph_pb2.MetaGraphDef.FromString(f.read())


@pytest.mark.parametrize("opt", sorted(_OPTIMIZERS))
def test_embedding_with_fed_ids_trains_like_tf(tf, tmp_path, opt):
    path = str(tmp_path / "model")
    losses, theirs = _tf_train(tf, opt, path)
    # The rewrite matches TF's graph (after the ref variables' rewrite), and writes it back.
    gd = _meta(path + ".meta").graph_def
    if ref_variables.has_ref_variables(gd):
        gd = ref_variables.to_resource_variables(gd)
    rewritten = sparse_dedup.rewrite(gd)
    assert rewritten is not gd
    for nd in gd.node:
        if nd.op == "Unique":  # (less its colocation and shapes, which the rewrite drops)
            for a in [a for a in nd.attr if a.startswith("_")]:
                del nd.attr[a]
    assert sparse_dedup.restore_unique(rewritten) == gd
    slotless = opt == "proximal_sgd"
    assert theirs["global_step"] == 3 and len(theirs) > (2 if slotless else 4)  # slots too
    got_losses, ours = _tfs_train(path + ".meta", path)
    np.testing.assert_allclose(got_losses, losses, rtol=1e-5)
    _compare(theirs, ours)
    # Rows that no id looked up kept their values.
    _, start = _tfs_train(path + ".meta", path, steps=0)
    untouched = sorted(set(range(10)) - {i for ids in _IDS for i in ids})
    np.testing.assert_array_equal(ours["emb"][untouched], start["emb"][untouched])


def test_int64_ids(tmp_path):
    path = str(tmp_path / "model")
    losses, theirs = _tf_train(tf1(), "adagrad", path, np.int64)
    got_losses, ours = _tfs_train(path + ".meta", path, np.int64)
    np.testing.assert_allclose(got_losses, losses, rtol=1e-5)
    _compare(theirs, ours)


def test_rewritten_graph_exports_again(tmp_path):
    """tfstyle's export of the rewritten graph writes the ``Unique`` back (TF's sparse updates
    reject the out-of-range index that marks a repeated id in the fixed-size form): tfstyle
    trains the export again to TF's values, and so does TF."""
    tf = tf1()
    path = str(tmp_path / "model")
    losses, theirs = _tf_train(tf, "adam", path)
    again = str(tmp_path / "again.meta")
    with tfs.Graph().as_default():
        tfs.train.import_meta_graph(path + ".meta")
        meta = tfs.train.export_meta_graph(again)
    (want,) = [n for n in _meta(path + ".meta").graph_def.node if n.op == "Unique"]
    (got,) = [n for n in meta.graph_def.node if n.op == "Unique"]
    assert (got.name, list(got.input)) == (want.name, list(want.input))
    assert got.attr["T"] == want.attr["T"] and got.attr["out_idx"] == want.attr["out_idx"]
    rewritten = sparse_dedup.rewrite(meta.graph_def)
    assert "Unique" not in {n.op for n in rewritten.node}
    assert sparse_dedup.restore_unique(rewritten) == meta.graph_def
    got_losses, ours = _tfs_train(again, path)
    np.testing.assert_allclose(got_losses, losses, rtol=1e-5)
    _compare(theirs, ours)
    with tf.Graph().as_default():
        saver = tf.train.import_meta_graph(again)
        with tf.Session() as sess:
            saver.restore(sess, path)
            tf_losses = [sess.run(["loss:0", "train"], _feeds(i))[0] for i in range(3)]
            tf_values = {v.op.name: sess.run(v) for v in tf.global_variables()}
    np.testing.assert_allclose(tf_losses, losses, rtol=1e-5)
    _compare(theirs, tf_values)


def test_unique_fetched_directly_is_left_alone():
    tf = tf1()
    with tf.Graph().as_default() as g:
        ids = tf.placeholder(tf.int32, [None], name="ids")
        y, idx = tf.unique(ids, name="unique")
        tf.identity(y, name="y")
        gd = g.as_graph_def()
    assert sparse_dedup.has_unique(gd) and sparse_dedup.rewrite(gd) is gd
    with tfs.Graph().as_default():
        tfs.import_graph_def(gd, name="")
        with tfs.Session() as sess:
            with pytest.raises(tfs.errors.InvalidArgumentError, match="Unique"):
                sess.run("y:0", {"ids:0": [1, 2, 1]})


def test_unique_with_another_use_is_left_alone():
    """An optimizer's ``Unique`` whose ids are also counted elsewhere keeps TF's meaning: left
    as it is, it fails as before when the ids are fed."""
    tf = tf1()
    with tf.Graph().as_default() as g:
        _model(tf, _OPTIMIZERS["adagrad"](tf))
        (unique,) = [op for op in g.get_operations() if op.type == "Unique"]
        tf.size(unique.outputs[0], name="unique_ids")
        tf.global_variables_initializer()
        gd = g.as_graph_def()
    assert sparse_dedup.rewrite(gd) is gd
    with tfs.Graph().as_default() as ours:
        tfs.import_graph_def(gd, name="")
        with tfs.Session() as sess:
            sess.run(ours.get_operation_by_name("init"))
            with pytest.raises(tfs.errors.InvalidArgumentError, match="Unique"):
                sess.run("train", _feeds(0))


def test_gathered_rows_updated_with_summed_gradient():
    """A deduplication written by hand, as Keras' Adamax does: gather the rows at the unique
    ids, update them with the summed gradient (elementwise), scatter them back."""
    tf = tf1()
    rng = np.random.RandomState(0)
    start = rng.randn(6, 2).astype(np.float32)
    with tf.Graph().as_default() as g:
        var = tf.get_variable("var", initializer=start)
        ids = tf.placeholder(tf.int32, [None], name="ids")
        grad = tf.placeholder(tf.float32, [None, 2], name="grad")
        y, idx = tf.unique(ids)
        summed = tf.math.unsorted_segment_sum(grad, idx, tf.shape(y)[0])
        rows = var.sparse_read(y)
        tf.scatter_update(var, y, tf.maximum(rows * 0.9, tf.abs(summed)) - 0.1, name="update")
        tf.global_variables_initializer()
        gd = g.as_graph_def()
    assert {"ResourceGather", "ResourceScatterUpdate"} <= {n.op for n in gd.node}
    feeds = [
        {"ids:0": [3, 1, 3, 3, 0], "grad:0": rng.randn(5, 2).astype(np.float32)},
        {"ids:0": [5, 5], "grad:0": rng.randn(2, 2).astype(np.float32)},
    ]
    with tf.Session(graph=g) as sess:
        sess.run("init")
        for f in feeds:
            sess.run("update", f)
        theirs = sess.run(var)
    with tfs.Graph().as_default() as ours:
        tfs.import_graph_def(gd, name="")
        assert "Unique" not in {op.type for op in ours.get_operations()}
        with tfs.Session() as sess:
            sess.run(ours.get_operation_by_name("init"))
            for f in feeds:
                sess.run("update", f)
            got = sess.run("var/Read/ReadVariableOp:0")
    np.testing.assert_allclose(got, theirs, rtol=1e-6)
    assert not np.allclose(theirs, start)


@pytest.mark.parametrize("rows_b, rewritten", [(6, True), (8, False)])
def test_updates_of_variables_of_other_sizes_are_left_alone(rows_b, rewritten):
    """The index that marks a repeated id must lie past the last row of every variable that the
    ids update."""
    tf = tf1()
    with tf.Graph().as_default() as g:
        a = tf.get_variable("a", [6, 2])
        b = tf.get_variable("b", [rows_b, 2])
        ids = tf.placeholder(tf.int32, [None], name="ids")
        grad = tf.placeholder(tf.float32, [None, 2], name="grad")
        y, idx = tf.unique(ids)
        summed = tf.math.unsorted_segment_sum(grad, idx, tf.shape(y)[0])
        tf.group(tf.scatter_add(a, y, summed), tf.scatter_sub(b, y, 2.0 * summed))
        gd = graph_pb2.GraphDef.FromString(g.as_graph_def().SerializeToString())
    assert (sparse_dedup.rewrite(gd) is not gd) == rewritten
