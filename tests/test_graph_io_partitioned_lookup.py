"""TF graphs with a partitioned ``embedding_lookup`` of fed ids (TF writes ``DynamicPartition``
and ``ParallelDynamicStitch``, whose sizes depend on the ids) import into tfstyle, which
rewrites them into ops of fixed size (``tfstyle/framework/partition_stitch.py``), compute TF's
values and train to TF's values, with resource variables and with TF 1.x ref variables; the
graph tfstyle exports again has TF's ops back and trains in TF."""

import numpy as np
import pytest
from tensorboard.compat.proto import meta_graph_pb2

import tfstyle.compat.v1 as tfs
from tests import optimizer_cases
from tests.oracle import tf1
from tfstyle.framework import errors, partition_stitch, ref_variables, sparse_dedup

_OPTIMIZERS = {**optimizer_cases.BASIC, **optimizer_cases.PROXIMAL}

# 10 rows in partitions of 4, 3 and 3 rows. Ids of every partition, repeated, in different
# places each step; the last step looks up one partition only (for either strategy).
_IDS = [[1, 4, 1, 7, 9, 1], [0, 9, 3, 0, 9, 5], [0, 3, 3, 0, 3, 3]]
_ONE_PARTITION = {"mod": [2, 5, 8, 2, 5, 5], "div": [7, 8, 9, 7, 7, 9]}


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


def _ids(values, rank, dtype=np.int64):
    ids = np.array(values, dtype)
    return ids.reshape(2, -1) if rank == 2 else ids


def _feeds(step, rank, dtype=np.int64):
    x = np.random.RandomState(step).randn(6, 2).astype(np.float32)
    return {"x:0": x, "ids:0": _ids(_IDS[step], rank, dtype)}


def _model(tf, strategy, rank, params="partitioned", dtype=np.int64, max_norm=None, shape=None):
    """``y`` (the lookup) and ``loss``; ``params``: a ``PartitionedVariable`` or a list of
    variables; ``shape``: the ids' static shape."""
    x = tf.placeholder(tf.float32, [None, 2], name="x")
    ids = tf.placeholder(dtype, shape or [None] * rank, name="ids")
    if params == "partitioned":
        emb = tf.get_variable("emb", [10, 3], partitioner=tf.fixed_size_partitioner(3))
    else:
        emb = [tf.get_variable(f"emb_{i}", [rows, 3]) for i, rows in enumerate([4, 3, 3])]
    w = tf.get_variable("w", [2, 3])
    y = tf.nn.embedding_lookup(emb, ids, partition_strategy=strategy, max_norm=max_norm)
    y = tf.identity(y, name="y")
    flat = tf.reshape(y, [-1, 3])
    loss = tf.reduce_sum(tf.square(tf.nn.tanh(flat + tf.matmul(x, w)) - 0.5), name="loss")
    return y, loss


def _tf_train(tf, path, opt, strategy, rank, params="partitioned", steps=3):
    """Builds the model in TF, saves ``.meta`` + checkpoint, trains ``steps`` steps;
    ``(losses, variables)``."""
    with tf.Graph().as_default() as g:
        tf.set_random_seed(1)
        _, loss = _model(tf, strategy, rank, params)
        gs = tf.train.get_or_create_global_step()
        _OPTIMIZERS[opt](tf).minimize(loss, global_step=gs, name="train")
        assert "DynamicPartition" in {n.op for n in g.as_graph_def().node}
        saver = tf.train.Saver()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            saver.save(sess, path)
            losses = [sess.run(["loss:0", "train"], _feeds(i, rank))[0] for i in range(steps)]
            return losses, {v.op.name: sess.run(v) for v in tf.global_variables()}


def _tfs_train(meta, checkpoint, rank, steps=3):
    with tfs.Graph().as_default() as g:
        saver = tfs.train.import_meta_graph(meta)
        types = {op.type for op in g.get_operations()}
        assert not types & {"DynamicPartition", "ParallelDynamicStitch", "Unique"}
        with tfs.Session() as sess:
            saver.restore(sess, checkpoint)
            losses = [sess.run(["loss:0", "train"], _feeds(i, rank))[0] for i in range(steps)]
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


def _strip_private(gd, ops):
    """``gd`` with the ``_``-attributes (colocation, shapes) of the nodes of types ``ops``
    removed, which the rewrite drops."""
    for nd in gd.node:
        if nd.op in ops:
            for a in [a for a in nd.attr if a.startswith("_")]:
                del nd.attr[a]
    return gd


@pytest.mark.parametrize("params", ["partitioned", "list"])
@pytest.mark.parametrize("rank", [1, 2])
@pytest.mark.parametrize("strategy", ["mod", "div"])
def test_lookup_computes_tf_values(tmp_path, strategy, rank, params):
    tf = tf1()
    path = str(tmp_path / "model")
    feeds = [_ids(v, rank) for v in [*_IDS, _ONE_PARTITION[strategy]]]
    if rank == 1:
        feeds += [_ids([4], 1), _ids([], 1)]  # one id, no ids
    with tf.Graph().as_default():
        tf.set_random_seed(1)
        _model(tf, strategy, rank, params)
        saver = tf.train.Saver()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            saver.save(sess, path)
            want = [sess.run("y:0", {"ids:0": ids}) for ids in feeds]
    with tfs.Graph().as_default() as g:
        saver = tfs.train.import_meta_graph(path + ".meta")
        assert "DynamicPartition" not in {op.type for op in g.get_operations()}
        y = g.get_tensor_by_name("y:0")
        assert y.shape.as_list() == [None] * rank + [3]
        with tfs.Session() as sess:
            saver.restore(sess, path)
            for ids, w in zip(feeds, want):
                got = sess.run(y, {"ids:0": ids})
                assert got.shape == w.shape
                np.testing.assert_array_equal(got, w)


@pytest.mark.parametrize("strategy", ["mod", "div"])
def test_max_norm(tmp_path, strategy):
    """TF clips the stitched rows, after the partitioned lookup."""
    tf = tf1()
    path = str(tmp_path / "model")
    with tf.Graph().as_default():
        tf.set_random_seed(1)
        _model(tf, strategy, 2, max_norm=0.5)
        saver = tf.train.Saver()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            saver.save(sess, path)
            want = [sess.run("y:0", {"ids:0": _ids(v, 2)}) for v in _IDS]
    with tfs.Graph().as_default():
        saver = tfs.train.import_meta_graph(path + ".meta")
        with tfs.Session() as sess:
            saver.restore(sess, path)
            for v, w in zip(_IDS, want):
                np.testing.assert_allclose(sess.run("y:0", {"ids:0": _ids(v, 2)}), w, rtol=1e-6)


def test_frozen_graph_def_computes_tf_values():
    """A GraphDef whose partitions are constants (``convert_variables_to_constants``), imported
    with ``tf.import_graph_def``: its gathers are ``GatherV2`` of the constants."""
    tf = tf1()
    with tf.Graph().as_default() as g:
        tf.set_random_seed(1)
        _model(tf, "div", 2)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            frozen = tf.graph_util.convert_variables_to_constants(sess, g.as_graph_def(), ["y"])
            want = [sess.run("y:0", {"ids:0": _ids(v, 2)}) for v in _IDS]
    with tfs.Graph().as_default():
        (y,) = tfs.import_graph_def(frozen, return_elements=["y:0"], name="")
        with tfs.Session() as sess:
            for v, w in zip(_IDS, want):
                np.testing.assert_array_equal(sess.run(y, {"ids:0": _ids(v, 2)}), w)


@pytest.mark.parametrize("opt", sorted(_OPTIMIZERS))
def test_lookup_trains_like_tf(tmp_path, opt):
    """Every optimizer (plain SGD scatters the gradient's rows; the others sum repeated ids with
    a ``Unique`` first), on a ``PartitionedVariable`` looked up ``"div"`` with ids of rank 2."""
    path = str(tmp_path / "model")
    losses, theirs = _tf_train(tf1(), path, opt, "div", 2)
    assert theirs["global_step"] == 3
    got_losses, ours = _tfs_train(path + ".meta", path, 2)
    np.testing.assert_allclose(got_losses, losses, rtol=1e-5)
    _compare(theirs, ours)
    # Rows that no id looked up kept their values.
    _, start = _tfs_train(path + ".meta", path, 2, steps=0)
    for p, rows in enumerate([range(0, 4), range(4, 7), range(7, 10)]):
        untouched = [r - rows[0] for r in rows if r not in {i for ids in _IDS for i in ids}]
        name = f"emb/part_{p}"
        np.testing.assert_array_equal(ours[name][untouched], start[name][untouched])


@pytest.mark.parametrize("opt", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize(
    ("strategy", "rank", "params"),
    [("mod", 1, "list"), ("div", 1, "list"), ("mod", 2, "partitioned")],
)
def test_strategies_and_variable_kinds_train_like_tf(tf, tmp_path, opt, strategy, rank, params):
    path = str(tmp_path / "model")
    losses, theirs = _tf_train(tf, path, opt, strategy, rank, params)
    # The rewrite matches TF's graph (after the ref variables' rewrite), and writes it back.
    gd = _meta(path + ".meta").graph_def
    if ref_variables.has_ref_variables(gd):
        gd = ref_variables.to_resource_variables(gd)
    rewritten = partition_stitch.rewrite(gd)
    assert rewritten is not gd
    types = {n.op for n in rewritten.node}
    assert not types & {"DynamicPartition", "ParallelDynamicStitch"}
    _strip_private(gd, {"DynamicPartition", "ParallelDynamicStitch", "GatherV2"})
    _strip_private(rewritten, {"GatherV2"})
    assert partition_stitch.restore(rewritten) == gd
    got_losses, ours = _tfs_train(path + ".meta", path, rank)
    np.testing.assert_allclose(got_losses, losses, rtol=1e-5)
    _compare(theirs, ours)


def test_int32_ids_of_static_shape(tmp_path):
    """int32 ids; their number is static, so TF writes it as a constant, not ``Size``."""
    tf = tf1()
    path = str(tmp_path / "model")
    with tf.Graph().as_default() as g:
        tf.set_random_seed(1)
        _, loss = _model(tf, "mod", 1, dtype=np.int32, shape=[6])
        assert g.get_operation_by_name("embedding_lookup/Size").type == "Const"
        tf.train.AdagradOptimizer(0.1).minimize(loss, name="train")
        saver = tf.train.Saver()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            saver.save(sess, path)
            for i in range(3):
                sess.run("train", _feeds(i, 1, np.int32))
            theirs = {v.op.name: sess.run(v) for v in tf.global_variables()}
    with tfs.Graph().as_default():
        saver = tfs.train.import_meta_graph(path + ".meta")
        with tfs.Session() as sess:
            saver.restore(sess, path)
            for i in range(3):
                sess.run("train", _feeds(i, 1, np.int32))
            ours = {v.op.name: sess.run(v) for v in tfs.global_variables()}
    _compare(theirs, ours)


def test_rewritten_graph_exports_again(tmp_path):
    """tfstyle's export of the rewritten graph writes TF's ``DynamicPartition``s, stitch and
    gradient gathers back (TF's kernels reject the rows past the end that the fixed-size form
    gives the ids of other partitions): tfstyle trains the export again to TF's values, and so
    does TF."""
    tf = tf1()
    path = str(tmp_path / "model")
    losses, theirs = _tf_train(tf, path, "adam", "mod", 2)
    again = str(tmp_path / "again.meta")
    with tfs.Graph().as_default():
        tfs.train.import_meta_graph(path + ".meta")
        meta = tfs.train.export_meta_graph(again)
    kept = {"DynamicPartition", "ParallelDynamicStitch", "Unique"}
    want = {n.name: n for n in _meta(path + ".meta").graph_def.node if n.op in kept}
    got = {n.name: n for n in meta.graph_def.node if n.op in kept}
    assert sorted(got) == sorted(want)
    for name, nd in want.items():
        assert (got[name].op, list(got[name].input)) == (nd.op, list(nd.input)), name
        assert {k: v for k, v in nd.attr.items() if not k.startswith("_")} == dict(got[name].attr)
    types = {n.op for n in sparse_dedup.rewrite(partition_stitch.rewrite(meta.graph_def)).node}
    assert not types & kept
    got_losses, ours = _tfs_train(again, path, 2)
    np.testing.assert_allclose(got_losses, losses, rtol=1e-5)
    _compare(theirs, ours)
    with tf.Graph().as_default():
        saver = tf.train.import_meta_graph(again)
        with tf.Session() as sess:
            saver.restore(sess, path)
            got_losses = [sess.run(["loss:0", "train"], _feeds(i, 2))[0] for i in range(3)]
            np.testing.assert_allclose(got_losses, losses, rtol=1e-5)
            _compare(theirs, {v.op.name: sess.run(v) for v in tf.global_variables()})


def test_tfstyle_optimizer_on_imported_lookup(tmp_path):
    """tfstyle's own gradient of the rewritten lookup (a forward graph from TF, trained by a
    tfstyle optimizer) is TF's."""
    tf = tf1()
    path = str(tmp_path / "model")
    with tf.Graph().as_default():
        tf.set_random_seed(1)
        _, loss = _model(tf, "div", 1)
        saver = tf.train.Saver()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            saver.save(sess, path)
        train = tf.train.AdagradOptimizer(0.1).minimize(loss)
        slots = [v for v in tf.global_variables() if "Adagrad" in v.op.name]
        with tf.Session() as sess:
            saver.restore(sess, path)
            sess.run(tf.variables_initializer(slots))
            for i in range(3):
                sess.run(train, _feeds(i, 1))
            theirs = {v.op.name: sess.run(v) for v in tf.global_variables()}
    with tfs.Graph().as_default() as g:
        saver = tfs.train.import_meta_graph(path + ".meta")
        train = tfs.train.AdagradOptimizer(0.1).minimize(g.get_tensor_by_name("loss:0"))
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            saver.restore(sess, path)
            for i in range(3):
                sess.run(train, _feeds(i, 1))
            ours = {v.op.name: sess.run(v) for v in tfs.global_variables()}
    _compare(theirs, ours)


def _graph_def(build):
    tf = tf1()
    with tf.Graph().as_default() as g:
        build(tf)
        return _meta_of(tf, g)


def _meta_of(tf, g):
    return meta_graph_pb2.MetaGraphDef.FromString(
        tf.train.export_meta_graph(graph=g).SerializeToString()
    ).graph_def


def test_other_uses_of_the_partitions_are_left_as_they_are():
    """Where something else uses the partitions (here the size of one, or the rows gathered
    from one), the graph keeps TF's ops, which tfstyle reports as ops it cannot compile."""

    def sizes(tf):
        _, loss = _model(tf, "mod", 1)
        part = tf.get_default_graph().get_tensor_by_name("embedding_lookup/DynamicPartition:1")
        tf.identity(loss + tf.cast(tf.size(part), tf.float32), name="out")

    def rows(tf):
        _, loss = _model(tf, "div", 1)
        rows = tf.get_default_graph().get_tensor_by_name("embedding_lookup/Gather_1:0")
        tf.identity(loss + tf.reduce_sum(rows), name="out")

    def constant_ids(tf):
        _model(tf, "mod", 1)
        emb = tf.get_default_graph().get_collection("variables")[0]
        tf.nn.embedding_lookup([emb], tf.constant([1, 2]))  # (one partition: a gather)
        tf.nn.embedding_lookup(
            [tf.constant(np.ones((2, 3), np.float32))] * 3, tf.constant([1, 2]), name="c"
        )

    for build in (sizes, rows, constant_ids):
        gd = _graph_def(build)
        assert partition_stitch.has_partition_stitch(gd)
        if build is not constant_ids:
            assert partition_stitch.rewrite(gd) is gd
        with tfs.Graph().as_default():
            with pytest.raises(errors.NotFoundError, match="DynamicPartition"):
                tfs.import_graph_def(gd)


def test_dynamic_stitch(tmp_path):
    """The same lookup stitched with ``DynamicStitch`` (as older TF wrote it) is rewritten too,
    and written back as ``DynamicStitch``."""
    tf = tf1()
    path = str(tmp_path / "model")
    _tf_train(tf, path, "sgd", "div", 1, "list", steps=0)
    meta = _meta(path + ".meta")
    (stitch,) = [n for n in meta.graph_def.node if n.op == "ParallelDynamicStitch"]
    stitch.op = "DynamicStitch"
    with open(path + ".meta", "wb") as f:
        f.write(meta.SerializeToString())
    with tf.Graph().as_default():
        saver = tf.train.import_meta_graph(path + ".meta")
        with tf.Session() as sess:
            saver.restore(sess, path)
            losses = [sess.run(["loss:0", "train"], _feeds(i, 1))[0] for i in range(3)]
            theirs = {v.op.name: sess.run(v) for v in tf.global_variables()}
    got_losses, ours = _tfs_train(path + ".meta", path, 1)
    np.testing.assert_allclose(got_losses, losses, rtol=1e-5)
    _compare(theirs, ours)
    with tfs.Graph().as_default():
        tfs.train.import_meta_graph(path + ".meta")
        (back,) = [n for n in tfs.get_default_graph().as_graph_def().node if n.name == stitch.name]
    assert back.op == "DynamicStitch" and list(back.input) == list(stitch.input)


def test_nce_loss_with_partitioned_weights_and_biases(tmp_path):
    """``nce_loss`` looks up partitioned weights (rows of 3) and biases (scalars) at the labels
    and the sampled classes (given, so that both sides sample the same): tfstyle trains it to
    TF's values, and TF trains tfstyle's export to them too."""
    tf = tf1()
    path, again = str(tmp_path / "model"), str(tmp_path / "again.meta")

    def feeds(step):
        r = np.random.RandomState(step)
        x = r.randn(4, 3).astype(np.float32)
        return {"x:0": x, "labels:0": r.randint(0, 10, (4, 1)).astype(np.int64)}

    def run(tf, saver, sess):
        saver.restore(sess, path)
        losses = [sess.run(["loss:0", "train"], feeds(i))[0] for i in range(3)]
        return losses, {v.op.name: sess.run(v) for v in tf.global_variables()}

    with tf.Graph().as_default():
        tf.set_random_seed(1)
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        labels = tf.placeholder(tf.int64, [None, 1], name="labels")
        w = tf.get_variable("w", [10, 3], partitioner=tf.fixed_size_partitioner(3))
        b = tf.get_variable(
            "b", [10], partitioner=tf.fixed_size_partitioner(2), initializer=tf.ones_initializer()
        )
        sampled = (
            tf.constant([1, 5, 8], tf.int64),
            tf.constant([[0.3]] * 4),
            tf.constant([0.2, 0.2, 0.2]),
        )
        loss = tf.nn.nce_loss(
            w, b, labels, x, 3, 10, sampled_values=sampled, partition_strategy="div"
        )
        loss = tf.reduce_mean(loss, name="loss")
        tf.train.AdagradOptimizer(0.1).minimize(loss, name="train")
        saver = tf.train.Saver()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            saver.save(sess, path)
            losses, theirs = run(tf, saver, sess)
    with tfs.Graph().as_default():
        saver = tfs.train.import_meta_graph(path + ".meta")
        tfs.train.export_meta_graph(again)
        with tfs.Session() as sess:
            got_losses, ours = run(tfs, saver, sess)
    np.testing.assert_allclose(got_losses, losses, rtol=1e-5)
    _compare(theirs, ours)
    with tf.Graph().as_default():
        saver = tf.train.import_meta_graph(again)
        with tf.Session() as sess:
            got_losses, again_theirs = run(tf, saver, sess)
    np.testing.assert_allclose(got_losses, losses, rtol=1e-5)
    _compare(theirs, again_theirs)
