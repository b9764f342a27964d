"""tf.train optimizers against real TF: three steps of every optimizer and option, slot names,
the names of the update ops, errors, and a training loop that traces once."""

import numpy as np
import pytest

import tfstyle
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
    "proximal_sgd": lambda tf, gs: tf.train.ProximalGradientDescentOptimizer(0.1),
    "proximal_sgd_l1_l2": lambda tf, gs: tf.train.ProximalGradientDescentOptimizer(
        0.2, l1_regularization_strength=0.3, l2_regularization_strength=0.1
    ),
    "proximal_adagrad": lambda tf, gs: tf.train.ProximalAdagradOptimizer(0.1),
    "proximal_adagrad_l1_l2": lambda tf, gs: tf.train.ProximalAdagradOptimizer(
        0.5,
        initial_accumulator_value=0.5,
        l1_regularization_strength=0.05,
        l2_regularization_strength=0.1,
    ),
    # AdagradDA reads the global step (created here when the test passes none to minimize).
    "adagrad_da": lambda tf, gs: tf.train.AdagradDAOptimizer(
        0.1, gs if gs is not None else tf.train.get_or_create_global_step()
    ),
    "adagrad_da_l1_l2": lambda tf, gs: tf.train.AdagradDAOptimizer(
        0.5,
        gs if gs is not None else tf.train.get_or_create_global_step(),
        initial_gradient_squared_accumulator_value=0.5,
        l1_regularization_strength=0.05,
        l2_regularization_strength=0.1,
    ),
    # l1 strong enough to clamp some weights to exactly zero.
    "proximal_sgd_sparsity": lambda tf, gs: tf.train.ProximalGradientDescentOptimizer(
        0.2, l1_regularization_strength=0.8
    ),
    "proximal_adagrad_sparsity": lambda tf, gs: tf.train.ProximalAdagradOptimizer(
        0.5, l1_regularization_strength=1.0
    ),
    "adagrad_da_sparsity": lambda tf, gs: tf.train.AdagradDAOptimizer(
        0.5,
        gs if gs is not None else tf.train.get_or_create_global_step(),
        l1_regularization_strength=1.5,
    ),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_three_steps_match_tf(name):
    _compare(OPTIMIZERS[name])


def test_global_step_and_scoped_variables_and_float64():
    _compare(OPTIMIZERS["adam"], with_global_step=True, scope="model")
    _compare(OPTIMIZERS["sgd"], with_global_step=True)
    _compare(OPTIMIZERS["momentum"], dtype=np.float64, with_global_step=True)
    _compare(OPTIMIZERS["adam_hparams"], dtype=np.float64)
    _compare(OPTIMIZERS["adagrad_da_l1_l2"], with_global_step=True, scope="model")
    _compare(OPTIMIZERS["adagrad_da_l1_l2"], dtype=np.float64, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize(
    "name", ["proximal_sgd_sparsity", "proximal_adagrad_sparsity", "adagrad_da_sparsity"]
)
def test_l1_clamps_the_same_weights_to_zero_as_tf(name):
    exp = _train(tf1(), OPTIMIZERS[name])["state"]
    act = _train(tfs, OPTIMIZERS[name])["state"]
    for var in ("w:0", "b:0"):
        np.testing.assert_array_equal(act[var] == 0, exp[var] == 0, err_msg=var)
    flat = np.concatenate([exp["w:0"].ravel(), exp["b:0"].ravel()])
    assert 0 < np.sum(flat == 0) < flat.size


def test_variable_constraint_applied_after_update():
    def run(tf):
        with tf.Graph().as_default():
            w = tf.Variable(W0, name="w", constraint=lambda v: tf.clip_by_value(v, -0.4, 0.4))
            b = tf.Variable(B0, name="b")
            pred = tf.reduce_sum(tf.constant(X) * w, axis=1) + b
            loss = tf.reduce_mean(tf.square(pred - tf.constant(Y)))
            train = tf.train.MomentumOptimizer(0.5, 0.9).minimize(loss)
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                for _ in range(3):
                    sess.run(train)
                return sess.run([w, b])

    for e, a in zip(run(tf1()), run(tfs)):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6)


def test_learning_rate_tensor_of_global_step():
    def make(tf, gs):
        lr = tf.train.exponential_decay(0.1, gs, 2, 0.5, staircase=True)
        return tf.train.MomentumOptimizer(lr, 0.9)

    _compare(make, steps=4, with_global_step=True)
    _compare(lambda tf, gs: tf.train.AdamOptimizer(lambda: 0.02), steps=2)


def test_compute_and_apply_gradients_options():
    def build(tf):
        g = tf.Graph()
        with g.as_default():
            w, b, loss = _model(tf)
            unused = tf.Variable([1.0, 2.0], name="unused")
            opt = tf.train.MomentumOptimizer(0.1, 0.5)
            gv = opt.compute_gradients(loss)
            out = {"gv": [(gr is None, v.name) for gr, v in gv]}
            only_w = opt.compute_gradients(loss, var_list=[w])
            weighted = opt.compute_gradients(loss, var_list={"b": b}, grad_loss=tf.constant(3.0))
            scaled = [(gr * 2.0, v) for gr, v in gv if gr is not None] + [(None, unused)]
            train = opt.apply_gradients(scaled, name="apply")
            gs = tf.train.get_or_create_global_step()
            train2 = tf.train.GradientDescentOptimizer(0.1).minimize(loss, gs, var_list=[b])
            out["ops"] = [train.name, train.type, train2.name, train2.type]
            out["slots"] = sorted(v.name for v in opt.variables())
            with tf.Session(graph=g) as sess:
                sess.run(tf.global_variables_initializer())
                out["grads"] = sess.run([only_w[0][0], weighted[0][0]])
                sess.run(train)
                sess.run(train2)
                sess.run(train2)
                out["after"] = sess.run([w, b, unused, gs])
        return out

    exp, act = build(tf1()), build(tfs)
    for key in ("gv", "ops", "slots"):
        assert act[key] == exp[key]
    for e, a in zip(exp["grads"] + exp["after"], act["grads"] + act["after"]):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6)


def test_errors_match_tf():
    def errors(tf):
        out = []
        g = tf.Graph()
        with g.as_default():
            w = tf.Variable(1.0, name="w")
            v = tf.Variable(1.0, name="v")
            loss = v * 2.0
            opt = tf.train.AdamOptimizer()
            attempts = [
                lambda: opt.minimize(loss, var_list=[w]),
                lambda: opt.apply_gradients([(None, w)]),
                lambda: opt.apply_gradients([]),
                lambda: opt.compute_gradients(loss, var_list=[]),
                lambda: opt.minimize(tf.constant(1), var_list=[w]),
                lambda: tf.train.AdamOptimizer(name=""),
                lambda: opt.compute_gradients(loss, gate_gradients=5),
                lambda: tf.train.AdagradOptimizer(0.1, initial_accumulator_value=0.0),
                lambda: tf.train.FtrlOptimizer(0.1, learning_rate_power=0.5),
                lambda: tf.train.FtrlOptimizer(0.1, l1_regularization_strength=-1.0),
            ]
            for fn in attempts:
                try:
                    fn()
                    out.append(None)
                except Exception as e:  # noqa: BLE001 - comparing classes and messages
                    out.append((type(e).__name__, str(e).split(",")[0].split(":")[0]))
        return out

    assert errors(tfs) == errors(tf1())


def test_training_loop_traces_once():
    with tfs.Graph().as_default():
        x = tfs.placeholder(tfs.float32, [None, 2, 1], name="x")
        y = tfs.placeholder(tfs.float32, [None, 1], name="y")
        w = tfs.Variable(W0, name="w")
        loss = tfs.reduce_mean(tfs.square(tfs.reduce_sum(x * w, axis=1) - y))
        gs = tfs.train.get_or_create_global_step()
        train = tfs.train.AdamOptimizer(0.1).minimize(loss, global_step=gs)
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            sess.run([train, loss], {x: X, y: Y})
            before = tfstyle.compiler.trace_count()
            losses = [sess.run([train, loss], {x: X, y: Y})[1] for _ in range(5)]
            assert tfstyle.compiler.trace_count() == before
            assert losses[-1] < losses[0]
            assert tfs.train.global_step(sess, gs) == 6


def test_optax_optimizer_trains_like_optax_by_hand():
    import jax
    import jax.numpy as jnp
    import optax

    tx = optax.chain(optax.clip_by_global_norm(1.0), optax.adamw(0.05, weight_decay=0.1))
    with tfs.Graph().as_default():
        w, b, loss = _model(tfs)
        opt = tfstyle.train.OptaxOptimizer(tx)
        gs = tfs.train.get_or_create_global_step()
        train = opt.minimize(loss, global_step=gs)
        state_vars = opt.variables()
        assert state_vars and all(not v.trainable for v in state_vars)
        assert all(v.name.startswith("Optax_state/") for v in state_vars)
        assert {v.name for v in tfs.trainable_variables()} == {"w:0", "b:0"}
        assert train.name == "Optax"
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            before = None
            got = []
            for step in range(4):
                sess.run(train)
                if step == 0:
                    before = tfstyle.compiler.trace_count()
                got.append(sess.run([w, b]))
            assert tfstyle.compiler.trace_count() == before + 1  # the [w, b] fetch only
            assert tfs.train.global_step(sess, gs) == 4

    def loss_fn(p):
        pred = jnp.sum(jnp.asarray(X) * p["w"], axis=1) + p["b"]
        return jnp.mean(jnp.square(pred - Y))

    @jax.jit
    def step(params, state):
        updates, state = tx.update(jax.grad(loss_fn)(params), state, params)
        return optax.apply_updates(params, updates), state

    params = {"w": jnp.asarray(W0), "b": jnp.asarray(B0)}
    state = tx.init(params)
    for w_got, b_got in got:
        params, state = step(params, state)
        np.testing.assert_allclose(w_got, params["w"], rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(b_got, params["b"], rtol=1e-5, atol=1e-6)
