"""tf.train optimizers against real TF: three steps of every optimizer and option, slot names,
the names of the update ops, errors, and a training loop that traces once."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1

X = np.array([[[1.0], [2.0]], [[-1.0], [0.5]], [[0.3], [-0.7]]], dtype=np.float32)  # [3, 2, 1]
Y = np.array([[1.0], [-0.5], [2.0]], dtype=np.float32)
W0 = np.array([[0.5], [-0.3]], dtype=np.float32)
B0 = np.array([0.1], dtype=np.float32)


def _model(tf, dtype=np.float32, scope=None):
    """A linear regression written with elementwise ops and reductions: loss of w and b."""

    def build():
        w = tf.Variable(W0.astype(dtype), name="w")
        b = tf.Variable(B0.astype(dtype), name="b")
        pred = tf.reduce_sum(tf.constant(X.astype(dtype)) * w, axis=1) + b
        loss = tf.reduce_mean(tf.square(pred - tf.constant(Y.astype(dtype))))
        return w, b, loss

    if scope:
        with tf.name_scope(scope):
            return build()
    return build()


def _train(tf, make_opt, steps=3, dtype=np.float32, scope=None, with_global_step=False):
    g = tf.Graph()
    with g.as_default():
        w, b, loss = _model(tf, dtype, scope)
        gs = tf.train.get_or_create_global_step() if with_global_step else None
        opt = make_opt(tf, gs)
        train_op = opt.minimize(loss, global_step=gs)
        out = {
            "train_op": (train_op.name, train_op.type),
            "slot_names": opt.get_slot_names(),
            "slots": {n: opt.get_slot(w, n).name for n in opt.get_slot_names()},
            "variables": [v.name for v in opt.variables()],
            "globals": sorted(v.name for v in tf.global_variables()),
            "trainables": sorted(v.name for v in tf.trainable_variables()),
            "update_ops": sorted(
                o.name
                for o in g.get_operations()
                if "/update_" in "/" + o.name and o.name.split("/")[-1].startswith("ResourceApply")
            ),
            "train_collection": [o.name for o in tf.get_collection(tf.GraphKeys.TRAIN_OP)],
        }
        with tf.Session(graph=g) as sess:
            sess.run(tf.global_variables_initializer())
            history = []
            for _ in range(steps):
                sess.run(train_op)
                history.append(sess.run([w, b, loss]))
            out["history"] = history
            out["state"] = {v.name: sess.run(v) for v in tf.global_variables()}
    return out


def _compare(make_opt, rtol=1e-5, atol=1e-6, **kw):
    exp = _train(tf1(), make_opt, **kw)
    act = _train(tfs, make_opt, **kw)
    for key in ("train_op", "slot_names", "slots", "variables", "globals", "trainables"):
        assert act[key] == exp[key], key
    assert act["update_ops"] == exp["update_ops"]
    assert act["train_collection"] == exp["train_collection"]
    for step, (e, a) in enumerate(zip(exp["history"], act["history"])):
        for ev, av in zip(e, a):
            np.testing.assert_allclose(av, ev, rtol=rtol, atol=atol, err_msg=f"step {step}")
    assert sorted(act["state"]) == sorted(exp["state"])
    for name, ev in exp["state"].items():
        av = act["state"][name]
        assert np.asarray(av).dtype == np.asarray(ev).dtype, name
        np.testing.assert_allclose(av, ev, rtol=rtol, atol=atol, err_msg=name)


OPTIMIZERS = {
    "sgd": lambda tf, gs: tf.train.GradientDescentOptimizer(0.1),
    "momentum": lambda tf, gs: tf.train.MomentumOptimizer(0.05, momentum=0.9),
    "nesterov": lambda tf, gs: tf.train.MomentumOptimizer(0.05, 0.9, use_nesterov=True),
    "adam": lambda tf, gs: tf.train.AdamOptimizer(),
    "adam_hparams": lambda tf, gs: tf.train.AdamOptimizer(0.05, beta1=0.5, beta2=0.9, epsilon=1e-3),
    "rmsprop": lambda tf, gs: tf.train.RMSPropOptimizer(0.01),
    "rmsprop_momentum": lambda tf, gs: tf.train.RMSPropOptimizer(0.01, momentum=0.5),
    "rmsprop_centered": lambda tf, gs: tf.train.RMSPropOptimizer(0.01, centered=True),
    "rmsprop_all": lambda tf, gs: tf.train.RMSPropOptimizer(
        0.02, decay=0.8, momentum=0.5, epsilon=1e-6, centered=True
    ),
    "adagrad": lambda tf, gs: tf.train.AdagradOptimizer(0.1),
    "adagrad_acc": lambda tf, gs: tf.train.AdagradOptimizer(0.5, initial_accumulator_value=1.0),
    "adadelta": lambda tf, gs: tf.train.AdadeltaOptimizer(),
    "adadelta_hparams": lambda tf, gs: tf.train.AdadeltaOptimizer(1.0, rho=0.9, epsilon=1e-6),
    "ftrl": lambda tf, gs: tf.train.FtrlOptimizer(0.1),
    "ftrl_l1_l2": lambda tf, gs: tf.train.FtrlOptimizer(
        0.5, l1_regularization_strength=0.01, l2_regularization_strength=0.1
    ),
    "ftrl_power": lambda tf, gs: tf.train.FtrlOptimizer(
        0.3, learning_rate_power=-0.7, initial_accumulator_value=0.5
    ),
    "ftrl_shrinkage_beta": lambda tf, gs: tf.train.FtrlOptimizer(
        0.3, l1_regularization_strength=0.001, l2_shrinkage_regularization_strength=0.2, beta=0.1
    ),
    "ftrl_named_slots": lambda tf, gs: tf.train.FtrlOptimizer(
        0.1, accum_name="acc", linear_name="lin"
    ),
    "custom_name": lambda tf, gs: tf.train.AdamOptimizer(0.01, name="MyAdam"),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_three_steps_match_tf(name):
    _compare(OPTIMIZERS[name])


def test_global_step_and_scoped_variables_and_float64():
    _compare(OPTIMIZERS["adam"], with_global_step=True, scope="model")
    _compare(OPTIMIZERS["sgd"], with_global_step=True)
    _compare(OPTIMIZERS["momentum"], dtype=np.float64, with_global_step=True)
    _compare(OPTIMIZERS["adam_hparams"], dtype=np.float64)


def test_learning_rate_tensor_of_global_step():
    def make(tf, gs):
        lr = tf.train.exponential_decay(0.1, gs, 2, 0.5, staircase=True)
        return tf.train.MomentumOptimizer(lr, 0.9)

    _compare(make, steps=4, with_global_step=True)
    _compare(lambda tf, gs: tf.train.AdamOptimizer(lambda: 0.02), steps=2)
