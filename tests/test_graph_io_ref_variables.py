"""Graphs with TF 1.x ref variables (``VariableV2``, ``Assign``, ``ApplyAdam``, ``ScatterSub``,
...), written by real TF with resource variables disabled, import into tfstyle (as resource
variables) and run and train to TF's values."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests import optimizer_cases
from tests.oracle import tf1


@pytest.fixture
def tf():
    """TF 1.x with ref variables; resource variables are enabled again afterwards."""
    tf = tf1()
    tf.disable_resource_variables()
    try:
        yield tf
    finally:
        tf.enable_resource_variables()


def _feeds(step, ids=None):
    feeds = {"x:0": np.random.RandomState(step).randn(4, 3).astype(np.float32)}
    if ids == "fed":
        feeds["ids:0"] = np.array([1, 3, 1, 0], np.int32)
    return feeds


def _model(tf, optimizer, ids=None):
    """A dense layer on ``x`` (plus embeddings of fed ids if ``ids == "fed"``)."""
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    h = x
    if ids == "fed":
        ids = tf.placeholder(tf.int32, [None], name="ids")
        emb = tf.get_variable("emb", [5, 3])
        h = x + tf.nn.embedding_lookup(emb, ids)
    w = tf.get_variable("w", [3, 2])
    b = tf.get_variable("b", [2], initializer=tf.constant_initializer(0.1))
    y = tf.nn.tanh(tf.matmul(h, w) + b)
    loss = tf.reduce_sum(tf.square(y - 0.5), name="loss")
    gs = tf.train.get_or_create_global_step()
    return optimizer.minimize(loss, global_step=gs, name="train")


def _values(sess, graph, prefix=""):
    out = {}
    for v in graph.get_collection("variables"):
        out[v.op.name[len(prefix) :]] = sess.run(v)
    return out


def _assert_same(got, want, atol=1e-6):
    assert sorted(got) == sorted(want)
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-5, atol=atol, err_msg=k)


_OPTIMIZERS = {**optimizer_cases.BASIC, **optimizer_cases.PROXIMAL}


# The sparse updates, with fed ids: ScatterSub (SGD); SparseApplyMomentum, and Adam's Assign +
# ScatterAdd of its slots, behind the Unique that sums repeated ids (rewritten on import, see
# tests/test_graph_io_sparse_dedup.py).
@pytest.mark.parametrize(
    "opt, ids, op_type",
    [
        ("sgd", None, "ApplyGradientDescent"),
        ("momentum", None, "ApplyMomentum"),
        ("adam", None, "ApplyAdam"),
        ("rmsprop", None, "ApplyRMSProp"),
        ("adagrad", None, "ApplyAdagrad"),
        ("adadelta", None, "ApplyAdadelta"),
        ("ftrl", None, "ApplyFtrlV2"),
        ("proximal_sgd", None, "ApplyProximalGradientDescent"),
        ("proximal_adagrad", None, "ApplyProximalAdagrad"),
        ("adagrad_da", None, "ApplyAdagradDA"),
        ("proximal_adagrad", "fed", "SparseApplyProximalAdagrad"),
        ("adagrad_da", "fed", "SparseApplyAdagradDA"),
        ("sgd", "fed", "ScatterSub"),
        ("momentum", "fed", "SparseApplyMomentum"),
        ("adam", "fed", "ScatterAdd"),
    ],
)
def test_meta_graph_trains_like_tf(tf, tmp_path, opt, ids, op_type):
    path = str(tmp_path / "model")
    with tf.Graph().as_default() as g:
        tf.set_random_seed(1)
        train = _model(tf, _OPTIMIZERS[opt](tf), ids)
        saver = tf.train.Saver()
        ops_ = {n.op for n in g.as_graph_def().node}
        assert {"VariableV2", op_type, "AssignAdd"} <= ops_ and "VarHandleOp" not in ops_
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            saver.save(sess, path)
            losses = [sess.run(["loss:0", train], _feeds(i, ids))[0] for i in range(3)]
            want = _values(sess, g)
    assert want["global_step"] == 3

    with tfs.Graph().as_default() as g:
        saver = tfs.train.import_meta_graph(path + ".meta")
        with tfs.Session() as sess:
            saver.restore(sess, path)
            got_losses = [sess.run(["loss:0", "train"], _feeds(i, ids))[0] for i in range(3)]
            got = _values(sess, g)
    np.testing.assert_allclose(got_losses, losses, rtol=1e-5)
    # Ftrl's linear slot sums terms of opposite sign: float32 rounding shows in its small entries.
    _assert_same(got, want, atol=1e-4 if opt == "ftrl" else 1e-6)


def _inference_graph(tf):
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    w = tf.get_variable("w", initializer=np.arange(6, dtype=np.float32).reshape(3, 2) / 6)
    b = tf.Variable([0.5, -0.5], name="b")
    y = tf.nn.relu(tf.matmul(x, w) + b, name="y")
    # A MatMul of the ref itself (no w/read in between) and a counter fetched through Assign*.
    tf.matmul(x, w._ref(), name="direct")
    counter = tf.Variable(0, name="counter")
    tf.assign_add(counter, 2, name="bump")
    tf.assign(counter, counter * 3, name="triple")
    with tf.name_scope("w_ready"):
        tf.identity(tf.is_variable_initialized(w), name="ready")
    tf.global_variables_initializer()
    return y


_FETCHES = ["y:0", "direct:0", "w/read:0", "b/read:0", "w/Assign:0"]


def test_graph_def_inference_and_assigns_like_tf(tf):
    x = np.random.RandomState(0).randn(4, 3).astype(np.float32)
    with tf.Graph().as_default() as g:
        _inference_graph(tf)
        gd = g.as_graph_def()
        ops_ = {n.op for n in gd.node}
        assert {"VariableV2", "Assign", "AssignAdd", "IsVariableInitialized"} <= ops_
        with tf.Session() as sess:
            ready = [sess.run("w_ready/ready:0")]
            sess.run("init")
            ready.append(sess.run("w_ready/ready:0"))
            want = sess.run(_FETCHES, {"x:0": x})
            counts = [sess.run(n) for n in ("bump:0", "bump:0", "triple:0", "counter/read:0")]
    assert ready == [False, True]

    with tfs.Graph().as_default():
        tfs.import_graph_def(gd, name="")
        with tfs.Session() as sess:
            with pytest.raises(tfs.errors.FailedPreconditionError):
                sess.run("y:0", {"x:0": x})
            got_ready = [sess.run("w_ready/ready:0")]
            sess.run("init")
            got_ready.append(sess.run("w_ready/ready:0"))
            got = sess.run(_FETCHES, {"x:0": x})
            got_counts = [sess.run(n) for n in ("bump:0", "bump:0", "triple:0", "counter/read:0")]
    assert got_ready == ready
    for a, b, n in zip(got, want, _FETCHES):
        np.testing.assert_allclose(a, b, rtol=1e-6, err_msg=n)
    assert got_counts == counts == [2, 4, 12, 12]


def test_initializers_and_checkpoint_round_trip(tf, tmp_path):
    """``tf.global_variables_initializer`` and ``tf.variables_initializer`` of the imported
    variables; a TF checkpoint restores into the imported graph, and one it saves after training
    restores in TF to the values TF trains to."""
    path, back = str(tmp_path / "tf"), str(tmp_path / "tfs")
    x = np.random.RandomState(1).randn(4, 3).astype(np.float32)
    with tf.Graph().as_default() as g:
        y = _inference_graph(tf)
        loss = tf.reduce_sum(tf.square(y), name="loss")
        tf.train.MomentumOptimizer(0.1, 0.9).minimize(loss, name="train")
        saver = tf.train.Saver()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            initial = _values(sess, g)
            sess.run("train", {"x:0": x})
            saver.save(sess, path)
            sess.run("train", {"x:0": x})
            trained = _values(sess, g)

    with tfs.Graph().as_default() as g:
        saver = tfs.train.import_meta_graph(path + ".meta")
        variables = tfs.global_variables()
        assert sorted(v.op.name for v in variables) == sorted(initial)
        assert len(tfs.trainable_variables()) == 3
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            _assert_same(_values(sess, g), initial)
            sess.run("train", {"x:0": x})
            sess.run(tfs.variables_initializer([v for v in variables if v.op.name == "w"]))
            np.testing.assert_allclose(sess.run("w/read:0"), initial["w"])
            saver.restore(sess, path)
            sess.run("train", {"x:0": x})
            _assert_same(_values(sess, g), trained)
            saver.save(sess, back)

    with tf.Graph().as_default() as g:
        saver = tf.train.import_meta_graph(path + ".meta")
        with tf.Session() as sess:
            saver.restore(sess, back)
            _assert_same(_values(sess, g), trained)


@pytest.fixture
def tf_v1_cf(tf):
    """TF 1.x with ref variables and v1 control flow (``RefSwitch``, ``RefEnter``)."""
    tf.disable_control_flow_v2()
    try:
        yield tf
    finally:
        tf.enable_control_flow_v2()


def test_v1_cond_and_loop_with_ref_variables(tf_v1_cf, tmp_path):
    tf = tf_v1_cf
    path = str(tmp_path / "model")
    # Reads racing with the assigns of the same run have no defined order in TF: fetched apart.
    updates = ["c/Merge:0", "d/Merge:0"]
    reads = ["loop/Exit_1:0", "v/read:0", "n/read:0"]
    fetches = updates + reads
    with tf.Graph().as_default() as g:
        pred = tf.placeholder(tf.bool, [], name="pred")
        v = tf.Variable(1.0, name="v")
        n = tf.Variable(0, name="n")
        tf.cond(pred, lambda: tf.assign_add(v, 1.0), lambda: tf.identity(v), name="c")
        tf.while_loop(lambda i, a: i < 3, lambda i, a: (i + 1, a + v), [0, 0.0], name="loop")
        tf.cond(pred, lambda: tf.assign_add(n, 1), lambda: tf.assign_sub(n, 2), name="d")
        ops_ = {nd.op for nd in g.as_graph_def().node}
        assert {"RefSwitch", "RefMerge", "Enter"} <= ops_
        tf.train.export_meta_graph(path + ".meta")
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            want = [sess.run(updates, {"pred:0": p}) + sess.run(reads) for p in (True, False, True)]

    with tfs.Graph().as_default():
        tfs.train.import_meta_graph(path + ".meta")
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            got = [sess.run(updates, {"pred:0": p}) + sess.run(reads) for p in (True, False, True)]
    for a, b in zip(got, want):
        for x, y, name in zip(a, b, fetches):
            np.testing.assert_allclose(x, y, err_msg=name)


def test_v1_batch_norm_with_training_placeholder_trains_like_tf(tf_v1_cf, tmp_path):
    tf = tf_v1_cf
    path = str(tmp_path / "model")
    xs = [np.random.RandomState(i).randn(6, 3).astype(np.float32) for i in range(3)]
    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        training = tf.placeholder_with_default(False, [], name="training")
        kernel = np.linspace(-1, 1, 12).reshape(3, 4).astype(np.float32)
        h = tf.layers.dense(
            x, 4, use_bias=False, kernel_initializer=tf.constant_initializer(kernel)
        )
        h = tf.layers.batch_normalization(h, training=training, momentum=0.5)
        out = tf.layers.dense(tf.nn.relu(h), 1, kernel_initializer=tf.constant_initializer(0.7))
        loss = tf.reduce_sum(tf.square(out - 0.3), name="loss")
        with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
            tf.train.MomentumOptimizer(0.1, 0.9).minimize(loss, name="train")
        ops_ = {nd.op for nd in g.as_graph_def().node}
        assert {"RefSwitch", "VariableV2", "Switch"} <= ops_
        saver = tf.train.Saver()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            saver.save(sess, path)
            losses = [sess.run("loss:0", {"x:0": xv}) for xv in xs]
            for xv in xs:
                losses.append(sess.run(["loss:0", "train"], {"x:0": xv, "training:0": True})[0])
            losses.append(sess.run("loss:0", {"x:0": xs[0]}))
            want = _values(sess, g)

    with tfs.Graph().as_default() as g:
        saver = tfs.train.import_meta_graph(path + ".meta")
        with tfs.Session() as sess:
            saver.restore(sess, path)
            got_losses = [sess.run("loss:0", {"x:0": xv}) for xv in xs]
            for xv in xs:
                feeds = {"x:0": xv, "training:0": True}
                got_losses.append(sess.run(["loss:0", "train"], feeds)[0])
            got_losses.append(sess.run("loss:0", {"x:0": xs[0]}))
            got = _values(sess, g)
    np.testing.assert_allclose(got_losses, losses, rtol=1e-5)
    _assert_same(got, want)


def test_v1_loop_updating_ref_variables(tf_v1_cf):
    """A loop body that updates variables through ``RefEnter`` and reads them after the update
    (TF's reads of a ref alias its buffer; reads ordered after the updates agree)."""
    tf = tf_v1_cf
    fetches = ["loop/Exit_1:0", "v/read:0", "w/read:0"]
    with tf.Graph().as_default() as g:
        v = tf.Variable(1.0, name="v")
        w = tf.Variable([1.0, 2.0], name="w")

        def body(i, a):
            with tf.control_dependencies([tf.assign_add(v, 1.0)]):
                r = tf.identity(v._ref())
            up = tf.scatter_add(w, [i % 2], [r])
            return i + 1, a + r * tf.reduce_sum(up)

        # One iteration at a time: in TF a later iteration's update could show through ``r``.
        tf.while_loop(lambda i, a: i < 3, body, [0, 0.0], parallel_iterations=1, name="loop")
        tf.global_variables_initializer()
        gd = g.as_graph_def()
        assert {"RefEnter", "ScatterAdd", "AssignAdd"} <= {n.op for n in gd.node}
        with tf.Session() as sess:
            sess.run("init")
            want = [sess.run(fetches[0]), *sess.run(fetches[1:])]

    with tfs.Graph().as_default():
        tfs.import_graph_def(gd, name="")
        with tfs.Session() as sess:
            sess.run("init")
            got = [sess.run(fetches[0]), *sess.run(fetches[1:])]
    for a, b, name in zip(got, want, fetches):
        np.testing.assert_allclose(a, b, err_msg=name)
    assert want[0] == 82.0
