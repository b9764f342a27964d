"""Training graphs written by real TF (``.meta`` + checkpoint) import into tfstyle and train to
the same values: TF's optimizer ops (``ResourceApplyAdam``, ``ResourceSparseApplyFtrl``, ...),
the gradient ops ``tf.gradients`` writes, and the stateless random ops of TF 2.x initializers."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests import optimizer_cases
from tests.oracle import tf1

_OPTIMIZERS = {
    "sgd": lambda tf: tf.train.GradientDescentOptimizer(0.1),
    "momentum": lambda tf: tf.train.MomentumOptimizer(0.1, 0.9),
    "nesterov": lambda tf: tf.train.MomentumOptimizer(0.05, 0.9, use_nesterov=True),
    "adam": lambda tf: tf.train.AdamOptimizer(0.1),
    "rmsprop": lambda tf: tf.train.RMSPropOptimizer(0.05, momentum=0.5),
    "centered_rmsprop": lambda tf: tf.train.RMSPropOptimizer(0.05, momentum=0.5, centered=True),
    "adagrad": lambda tf: tf.train.AdagradOptimizer(0.1),
    "adadelta": lambda tf: tf.train.AdadeltaOptimizer(1.0),
    "ftrl": lambda tf: tf.train.FtrlOptimizer(0.1, l1_regularization_strength=0.01),
    "ftrl_power": lambda tf: tf.train.FtrlOptimizer(0.1, learning_rate_power=-0.7),
    "ftrl_v2": lambda tf: tf.train.FtrlOptimizer(
        0.1, l2_regularization_strength=0.1, l2_shrinkage_regularization_strength=0.1
    ),
    **optimizer_cases.PROXIMAL,
}


def _feeds(sparse, step):
    rng = np.random.RandomState(step)
    feeds = {"x:0": rng.randn(5, 3).astype(np.float32)}
    if sparse:
        feeds["ids:0"] = np.array([1, 4, 1, 7, 0], np.int32)
    return feeds


def _build_dense(tf, optimizer, sparse):
    x = tf.placeholder(tf.float32, [None, 3], name="x")
    if sparse:
        emb = tf.get_variable("emb", [10, 3])
        ids = tf.placeholder(tf.int32, [None], name="ids")
        x = x + tf.nn.embedding_lookup(emb, ids)
    w = tf.get_variable("w", [3, 2])
    h = tf.layers.dense(x, 4, activation=tf.nn.tanh)
    loss = tf.reduce_sum(tf.square(h - 0.5)) + tf.reduce_sum(tf.matmul(x, w) ** 2)
    return optimizer.minimize(loss, name="train")


def _tf_run(build, optimizer, sparse, path, steps, feed_fn):
    """Builds the model in TF, saves its .meta and checkpoint, trains; returns the variables."""
    tf = tf1()
    with tf.Graph().as_default():
        tf.set_random_seed(1)
        train = build(tf, optimizer(tf), sparse)
        tf.global_variables_initializer()
        saver = tf.train.Saver()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            saver.save(sess, path)
            for i in range(steps):
                sess.run(train, feed_fn(sparse, i))
            return {v.op.name: sess.run(v) for v in tf.global_variables()}


def _tfs_run(path, steps, feed_fn, sparse, restore=True):
    with tfs.Graph().as_default() as g:
        restorer = tfs.train.import_meta_graph(path + ".meta")
        variables = tfs.global_variables()
        with tfs.Session() as sess:
            if restore:
                restorer.restore(sess, path)
            else:
                sess.run(g.get_operation_by_name("init"))
            initial = {v.op.name: sess.run(v) for v in variables}
            for i in range(steps):
                sess.run("train", feed_fn(sparse, i))
            return initial, {v.op.name: sess.run(v) for v in variables}


def _compare(theirs, ours, rtol=1e-5, atol=1e-5):
    # ``atol`` is relative to the variable's largest magnitude: an element that nearly cancels
    # (a momentum of 0.016 in a kernel of 18s) carries the round-off of its neighbours, whose
    # summation order varies with threading in TF and XLA.
    assert sorted(theirs) == sorted(ours)
    for name in theirs:
        scale = max(1.0, float(np.max(np.abs(theirs[name]), initial=0.0)))
        np.testing.assert_allclose(
            ours[name], theirs[name], rtol=rtol, atol=atol * scale, err_msg=name
        )


@pytest.mark.parametrize(
    "name, sparse", [(n, s) for n in sorted(_OPTIMIZERS) for s in (False, True)]
)
def test_tf_training_meta_graph_trains_to_the_same_variables(tmp_path, name, sparse):
    path = str(tmp_path / "model")
    theirs = _tf_run(_build_dense, _OPTIMIZERS[name], sparse, path, 3, _feeds)
    _, ours = _tfs_run(path, 3, _feeds, sparse)
    _compare(theirs, ours)
    # Slots and non-slot variables (beta1_power, ...) moved too.
    assert len(theirs) > (3 if sparse else 2)


def test_tf_training_graph_runs_its_own_init_op_without_a_checkpoint(tmp_path):
    path = str(tmp_path / "model")
    _tf_run(_build_dense, _OPTIMIZERS["adam"], False, path, 0, _feeds)
    initial, final = _tfs_run(path, 2, _feeds, False, restore=False)
    # TF's initializers (StatelessRandomUniformV2 ...) ran: glorot-uniform kernels, zero
    # biases, zero slots; tfstyle's numbers are not TF's but lie within the initializer's range.
    limit = np.sqrt(6.0 / (3 + 4))
    kernel = initial["dense/kernel"]
    assert kernel.shape == (3, 4) and kernel.dtype == np.float32
    assert np.all(np.abs(kernel) <= limit) and np.std(kernel) > 0.1
    assert np.all(initial["dense/bias"] == 0) and np.all(initial["dense/kernel/Adam"] == 0)
    assert not np.allclose(final["dense/kernel"], kernel)
    # The initializers are deterministic: a second import starts from the same values.
    again, _ = _tfs_run(path, 0, _feeds, False, restore=False)
    _compare(initial, again, rtol=0, atol=0)


# TF's optimizer ops one by one, with the attributes that TF's v1 optimizers never set (Keras
# momentum, Adagrad V2, Nesterov Adam, Ftrl's multiply_linear_by_lr). The sparse ones as TF's
# optimizers write them for an embedding (behind the ``Unique`` that sums repeated ids) are
# trained above, with fed ids.
_H = {"lr": 0.1, "rho": 0.9, "momentum": 0.5, "epsilon": 1e-3, "l1": 0.05, "l2": 0.1}
_RAW = [
    ("ResourceApplyMomentum", 1, ["lr", "grad", "momentum"], {"use_nesterov": True}),
    ("ResourceApplyKerasMomentum", 1, ["lr", "grad", "momentum"], {}),
    ("ResourceApplyKerasMomentum", 1, ["lr", "grad", "momentum"], {"use_nesterov": True}),
    (
        "ResourceApplyAdam",
        2,
        ["beta1_power", "beta2_power", "lr", "beta1", "beta2", "epsilon", "grad"],
        {"use_nesterov": True},
    ),
    ("ResourceApplyAdagradV2", 1, ["lr", "epsilon", "grad"], {}),
    ("ResourceApplyAdagrad", 1, ["lr", "grad"], {"update_slots": False}),
    (
        "ResourceApplyFtrl",
        2,
        ["grad", "lr", "l1", "l2", "lr_power"],
        {"multiply_linear_by_lr": True},
    ),
    ("ResourceSparseApplyMomentum", 1, ["lr", "grad", "indices", "momentum"], {}),
    ("ResourceSparseApplyKerasMomentum", 1, ["lr", "grad", "indices", "momentum"], {}),
    ("ResourceSparseApplyRMSProp", 2, ["lr", "rho", "momentum", "epsilon", "grad", "indices"], {}),
    (
        "ResourceSparseApplyCenteredRMSProp",
        3,
        ["lr", "rho", "momentum", "epsilon", "grad", "indices"],
        {},
    ),
    ("ResourceSparseApplyAdagrad", 1, ["lr", "grad", "indices"], {}),
    ("ResourceSparseApplyAdagradV2", 1, ["lr", "epsilon", "grad", "indices"], {}),
    ("ResourceSparseApplyAdadelta", 2, ["lr", "rho", "epsilon", "grad", "indices"], {}),
    ("ResourceSparseApplyFtrl", 2, ["grad", "indices", "lr", "l1", "l2", "lr_power"], {}),
    (
        "ResourceSparseApplyFtrlV2",
        2,
        ["grad", "indices", "lr", "l1", "l2", "l2_shrinkage", "lr_power"],
        {},
    ),
    ("ResourceApplyProximalGradientDescent", 0, ["alpha", "l1", "l2", "delta"], {}),
    ("ResourceApplyProximalAdagrad", 1, ["lr", "l1", "l2", "grad"], {}),
    ("ResourceApplyAdagradDA", 2, ["grad", "lr", "l1", "l2", "global_step"], {}),
    (
        "ResourceSparseApplyProximalGradientDescent",
        0,
        ["alpha", "l1", "l2", "grad", "indices"],
        {},
    ),
    ("ResourceSparseApplyProximalAdagrad", 1, ["lr", "l1", "l2", "grad", "indices"], {}),
    (
        "ResourceSparseApplyAdagradDA",
        2,
        ["grad", "indices", "lr", "l1", "l2", "global_step"],
        {},
    ),
]
_SLOT_NAMES = {
    "Momentum": ["accum"],
    "KerasMomentum": ["accum"],
    "Adam": ["m", "v"],
    "RMSProp": ["ms", "mom"],
    "CenteredRMSProp": ["mg", "ms", "mom"],
    "Adagrad": ["accum"],
    "AdagradV2": ["accum"],
    "Adadelta": ["accum", "accum_update"],
    "Ftrl": ["accum", "linear"],
    "FtrlV2": ["accum", "linear"],
    "ProximalGradientDescent": [],
    "ProximalAdagrad": ["accum"],
    "AdagradDA": ["gradient_accumulator", "gradient_squared_accumulator"],
}


@pytest.mark.parametrize("op_type, n_slots, args, attrs", _RAW, ids=lambda x: str(x))
def test_tf_optimizer_op_imports_with_tf_semantics(op_type, n_slots, args, attrs):
    tf = tf1()
    rng = np.random.RandomState(0)
    sparse = "Sparse" in op_type
    family = op_type.replace("ResourceSparseApply", "").replace("ResourceApply", "")
    slot_names = _SLOT_NAMES[family]
    assert len(slot_names) == n_slots
    g = tf.Graph()
    with g.as_default():
        # Accumulators start positive (Adagrad, Ftrl and RMSProp take their roots).
        var = tf.get_variable("var", initializer=rng.randn(6, 3).astype(np.float32))
        slots = [
            tf.get_variable(s, initializer=rng.uniform(0.5, 1.5, (6, 3)).astype(np.float32))
            for s in slot_names
        ]
        rows = 3 if sparse else 6
        values = {
            "grad": tf.constant(rng.randn(rows, 3).astype(np.float32)),
            "indices": tf.constant([4, 0, 2]),
            "beta1_power": 0.9**2,
            "beta2_power": 0.999**2,
            "beta1": 0.9,
            "beta2": 0.999,
            "lr_power": -0.5,
            "l2_shrinkage": 0.05,
            "alpha": _H["lr"],
            "global_step": tf.constant(3, tf.int64),
            **_H,
        }
        values["delta"] = values["grad"]
        kwargs = {a: values[a] for a in args}
        op_args = {"var": var.handle}
        op_args.update({s: v.handle for s, v in zip(slot_names, slots)})
        getattr(tf.raw_ops, op_type)(**op_args, **kwargs, **attrs, name="update")
        init = tf.global_variables_initializer()
    with tf.Session(graph=g) as sess:
        sess.run(init)
        for _ in range(2):
            sess.run("update")
        theirs = sess.run([var, *slots])
    with tfs.Graph().as_default() as ours:
        tfs.import_graph_def(g.as_graph_def(), name="")
        with tfs.Session() as sess:
            sess.run(ours.get_operation_by_name(init.name))
            for _ in range(2):
                sess.run("update")
            got = sess.run([v.op.name + "/Read/ReadVariableOp:0" for v in [var, *slots]])
    for name, a, b in zip(["var", *slot_names], got, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, err_msg=name)


def _cnn_feeds(sparse, step):
    rng = np.random.RandomState(10 + step)
    return {"x:0": rng.randn(4, 9, 9, 2).astype(np.float32)}


def _build_cnn(tf, optimizer, bn_training):
    x = tf.placeholder(tf.float32, [None, 9, 9, 2], name="x")
    # No bias: batch norm (training) cancels its gradient up to round-off, which Adam would
    # scale up to full steps of arbitrary sign.
    h = tf.layers.conv2d(x, 4, 3, activation=tf.nn.relu, use_bias=False)
    h = tf.layers.max_pooling2d(h, 2, 2)
    h = tf.layers.batch_normalization(h, training=bn_training)
    h = tf.layers.average_pooling2d(h, 2, 1, padding="same")
    h = (
        tf.nn.elu(h)
        + tf.nn.selu(h)
        + tf.nn.softplus(h)
        + tf.nn.softsign(h)
        + tf.nn.leaky_relu(h, 0.1)
        + tf.nn.relu6(3 * h)
        + tf.math.rsqrt(h * h + 1.0)
        + tf.sqrt(h * h + 1.0)
        + tf.math.reciprocal(h * h + 2.0)
    )
    pooled = tf.reduce_mean(h, axis=[1, 2])
    logits = tf.layers.dense(tf.layers.flatten(h), 3)
    loss = (
        tf.reduce_mean(tf.square(logits))
        + 0.1 * tf.reduce_mean(h[:, 1:3, ::2, -1])
        + 0.1 * tf.reduce_mean(tf.reduce_prod(0.1 * pooled + 1.0, axis=-1))
    )
    with tf.control_dependencies(tf.get_collection(tf.GraphKeys.UPDATE_OPS)):
        return optimizer.minimize(loss, name="train")


_CNN_OPTIMIZERS = {
    "adam": lambda tf: tf.train.AdamOptimizer(0.01),
    "momentum": lambda tf: tf.train.MomentumOptimizer(0.01, 0.9),
}


@pytest.mark.parametrize("bn_training", [True, False], ids=["bn_training", "bn_inference"])
@pytest.mark.parametrize("name", sorted(_CNN_OPTIMIZERS))
def test_tf_cnn_training_graph_with_gradient_ops_trains_to_the_same_variables(
    tmp_path, name, bn_training
):
    path = str(tmp_path / "model")
    theirs = _tf_run(_build_cnn, _CNN_OPTIMIZERS[name], bn_training, path, 3, _cnn_feeds)
    _, ours = _tfs_run(path, 3, _cnn_feeds, bn_training)
    assert all(np.all(np.isfinite(v)) for v in theirs.values())
    _compare(theirs, ours, rtol=1e-4, atol=1e-5)
    assert "batch_normalization/moving_mean" in ours


def _build_cnn2(tf, optimizer, sparse):
    x = tf.placeholder(tf.float32, [None, 8, 8, 3], name="x")
    h = tf.layers.separable_conv2d(x, 4, 3, padding="same", activation=tf.nn.relu)
    h = tf.layers.conv2d_transpose(h, 4, 3, strides=2, padding="same")
    dw = tf.get_variable("dw", [3, 3, 4, 2])
    h = tf.nn.depthwise_conv2d(h, dw, [1, 1, 1, 1], "SAME")
    h = tf.nn.lrn(h, depth_radius=2, alpha=0.1)
    h = tf.pad(h, [[0, 0], [1, 2], [2, 1], [0, 0]], mode="REFLECT")
    h = tf.pad(h, [[0, 0], [1, 0], [0, 1], [0, 0]], mode="SYMMETRIC")
    loss = tf.reduce_mean(tf.square(h - 0.3))
    return optimizer.minimize(loss, name="train")


def _cnn2_feeds(sparse, step):
    return {"x:0": np.random.RandomState(20 + step).randn(2, 8, 8, 3).astype(np.float32)}


def test_tf_conv_training_graph_with_depthwise_lrn_and_mirror_pad_gradients(tmp_path):
    path = str(tmp_path / "model")
    optimizer = _OPTIMIZERS["adagrad"]
    theirs = _tf_run(_build_cnn2, optimizer, False, path, 3, _cnn2_feeds)
    _, ours = _tfs_run(path, 3, _cnn2_feeds, False)
    _compare(theirs, ours, rtol=1e-4, atol=1e-5)
    assert "dw/Adagrad" in ours


def _build_dilated(tf, optimizer, sparse):
    # TF writes dilated convolutions as SpaceToBatchND, Conv2D, BatchToSpaceND (their
    # gradients: each other and Conv2D's backprop ops), and resizes' gradients as
    # ResizeBilinearGrad, ResizeNearestNeighborGrad and ResizeBicubicGrad.
    x = tf.placeholder(tf.float32, [None, 9, 9, 2], name="x")
    h = tf.layers.conv2d(x, 4, 3, dilation_rate=2, padding="same", activation=tf.nn.tanh)
    h = tf.layers.conv2d(h, 3, 3, dilation_rate=(2, 1), activation=tf.nn.tanh)
    k = tf.get_variable("atrous", [2, 3, 3, 4])
    h = tf.nn.atrous_conv2d(h, k, 2, "SAME")
    h = tf.image.resize_bilinear(h, [7, 6], align_corners=True)
    h = tf.image.resize_nearest_neighbor(h, [10, 8], half_pixel_centers=True)
    h = tf.depth_to_space(tf.space_to_depth(h, 2) * 1.5, 2)
    h = tf.image.resize_bicubic(h, [4, 5])
    h = tf.batch_to_space_nd(tf.space_to_batch_nd(h, [2, 2], [[0, 0], [1, 0]]), [2, 2],
                             [[0, 0], [0, 1]])  # fmt: skip
    loss = tf.reduce_mean(tf.square(h - 0.3))
    return optimizer.minimize(loss, name="train")


@pytest.mark.parametrize("name", ["sgd", "momentum"])
def test_tf_dilated_conv_and_resize_training_graph_trains_to_the_same_variables(tmp_path, name):
    path = str(tmp_path / "model")
    theirs = _tf_run(_build_dilated, _OPTIMIZERS[name], False, path, 3, _cnn_feeds)
    _, ours = _tfs_run(path, 3, _cnn_feeds, False)
    _compare(theirs, ours, rtol=1e-4, atol=1e-5)
    assert "atrous" in ours and "conv2d_1/kernel" in ours
    with tfs.Graph().as_default() as g:
        tfs.train.import_meta_graph(path + ".meta")
        kinds = {op.type for op in g.get_operations()}
    assert {"SpaceToBatchND", "BatchToSpaceND", "ResizeBilinearGrad"} <= kinds
    assert {"ResizeNearestNeighborGrad", "ResizeBicubicGrad"} <= kinds
