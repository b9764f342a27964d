"""Learning-rate schedules and the global step against real TF."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1

STEPS = [0, 3, 7, 10, 14, 25]


def _schedules(tf, gs):
    return {
        "exp": tf.train.exponential_decay(0.1, gs, 10, 0.5),
        "exp_stair": tf.train.exponential_decay(0.1, gs, 10, 0.5, staircase=True, name="foo"),
        "natural": tf.train.natural_exp_decay(0.1, gs, 10, 0.5),
        "natural_stair": tf.train.natural_exp_decay(0.1, gs, 4, 0.3, staircase=True),
        "inverse": tf.train.inverse_time_decay(0.1, gs, 10, 0.5),
        "inverse_stair": tf.train.inverse_time_decay(0.1, gs, 4, 0.5, staircase=True),
        "poly": tf.train.polynomial_decay(0.1, gs, 10),
        "poly_cycle": tf.train.polynomial_decay(
            0.1, gs, 10, end_learning_rate=0.01, power=2.0, cycle=True
        ),
        "poly_power": tf.train.polynomial_decay(0.1, gs, 20, power=0.5),
        "cosine": tf.train.cosine_decay(0.1, gs, 10),
        "cosine_alpha": tf.train.cosine_decay(0.1, gs, 10, alpha=0.1),
        "piecewise": tf.train.piecewise_constant(gs, [5, 10], [1.0, 0.5, 0.1]),
        "piecewise_int": tf.train.piecewise_constant(gs, [3], [1, 2]),
        "float64": tf.train.exponential_decay(np.float64(0.1), gs, 10, 0.5),
        "tensor_lr": tf.train.exponential_decay(tf.constant(0.2), gs, 5, 0.9),
    }


def _run(tf):
    g = tf.Graph()
    with g.as_default():
        gs = tf.train.get_or_create_global_step()
        lrs = _schedules(tf, gs)
        meta = {k: (t.shape.as_list(), t.dtype.name) for k, t in lrs.items()}
        names = {k: lrs[k].name for k in ("exp", "exp_stair", "natural", "inverse", "poly",
                                          "piecewise", "piecewise_int")}  # fmt: skip
        with tf.Session(graph=g) as sess:
            sess.run(tf.global_variables_initializer())
            values = []
            for step in STEPS:
                gs.load(step, sess)
                values.append(sess.run(lrs))
    return meta, names, values


def test_schedules_match_tf():
    exp_meta, exp_names, exp_values = _run(tf1())
    act_meta, act_names, act_values = _run(tfs)
    assert act_meta == exp_meta
    assert act_names == exp_names
    for step, e, a in zip(STEPS, exp_values, act_values):
        for k in e:
            assert np.asarray(a[k]).dtype == np.asarray(e[k]).dtype, k
            # XLA turns division by a constant into a multiplication (1e-9 off near zero).
            np.testing.assert_allclose(a[k], e[k], rtol=1e-6, atol=1e-8, err_msg=f"{k} @ {step}")


def test_schedule_errors():
    for tf in (tf1(), tfs):
        with tf.Graph().as_default():
            gs = tf.train.get_or_create_global_step()
            with pytest.raises(ValueError, match="1 less than the length of values"):
                tf.train.piecewise_constant(gs, [5, 10], [1.0, 0.5])
            with pytest.raises(ValueError):
                tf.train.exponential_decay(0.1, None, 10, 0.5)


def _global_step_facts(tf):
    out = {"none_before": tf.train.get_global_step() is None}
    gs = tf.train.get_or_create_global_step()
    out["var"] = (gs.name, gs.dtype.base_dtype.name, gs.shape.as_list(), gs.trainable)
    out["collections"] = [
        [v.name for v in tf.get_collection(k)]
        for k in (tf.GraphKeys.GLOBAL_STEP, tf.GraphKeys.GLOBAL_VARIABLES)
    ]
    out["trainable"] = [v.name for v in tf.trainable_variables()]
    out["same"] = (tf.train.get_or_create_global_step() is gs, tf.train.get_global_step() is gs)
    out["ops"] = sorted(o.name for o in tf.get_default_graph().get_operations())
    try:
        tf.train.create_global_step()
    except ValueError as e:
        out["again"] = str(e)
    inc = tf.assign_add(gs, 1)
    with tf.Session() as sess:
        sess.run(tf.global_variables_initializer())
        sess.run(inc)
        sess.run(inc)
        value = tf.train.global_step(sess, gs)
        out["value"] = (value, type(value).__name__)
    with tf.Graph().as_default() as g:
        out["other_graph"] = tf.train.get_global_step() is None
        out["created"] = tf.train.create_global_step(g).name
        tf.train.assert_global_step(tf.train.get_global_step(g))
        for bad in (tf.constant(1.0), tf.constant([1, 2]), "x"):
            try:
                tf.train.assert_global_step(bad)
            except TypeError as e:
                out.setdefault("asserts", []).append(str(e).split(":")[0])
    with tf.Graph().as_default():
        with tf.name_scope("scope"):
            out["in_scope"] = tf.train.create_global_step().name
    with tf.Graph().as_default():
        # Found by name when the collection is empty: the resource handle, which TF rejects.
        tf.Variable(0, name="global_step")
        try:
            tf.train.get_global_step()
        except TypeError as e:
            out["by_name"] = str(e)
    return out


def test_global_step_matches_tf():
    with tf1().Graph().as_default():
        exp = _global_step_facts(tf1())
    with tfs.Graph().as_default():
        act = _global_step_facts(tfs)
    assert act == exp


def _cosine_schedules(tf, gs):
    return {
        "linear_cosine": tf.train.linear_cosine_decay(0.1, gs, 20),
        "linear_cosine_args": tf.train.linear_cosine_decay(
            0.5, gs, 30, num_periods=2.0, alpha=0.1, beta=0.01, name="lc"
        ),
        "restarts": tf.train.cosine_decay_restarts(0.1, gs, 4),
        "restarts_equal": tf.train.cosine_decay_restarts(0.1, gs, 7, t_mul=1.0, alpha=0.2),
        "restarts_args": tf.train.cosine_decay_restarts(
            0.2, gs, 3, t_mul=1.5, m_mul=0.5, alpha=0.05, name="sgdr"
        ),
        # Without variance the noisy schedule is its deterministic part, as in TF.
        "noisy_no_variance": tf.train.noisy_linear_cosine_decay(
            0.1, gs, 20, initial_variance=0.0, num_periods=1.5, alpha=0.1
        ),
        "natural": tf.train.natural_exp_decay(0.3, gs, 6, 0.7, name="nat"),
    }


def _run_cosine(tf, steps):
    g = tf.Graph()
    with g.as_default():
        gs = tf.train.get_or_create_global_step()
        lrs = _cosine_schedules(tf, gs)
        meta = {k: (t.name, t.shape.as_list(), t.dtype.name) for k, t in lrs.items()}
        with tf.Session(graph=g) as sess:
            sess.run(tf.global_variables_initializer())
            values = []
            for step in steps:
                gs.load(step, sess)
                values.append(sess.run(lrs))
    return meta, values


def test_cosine_schedules_match_tf_at_many_steps():
    steps = list(range(0, 45)) + [60, 100, 1000]
    exp_meta, exp_values = _run_cosine(tf1(), steps)
    act_meta, act_values = _run_cosine(tfs, steps)
    assert act_meta == exp_meta
    for step, e, a in zip(steps, exp_values, act_values):
        for k in e:
            assert np.asarray(a[k]).dtype == np.asarray(e[k]).dtype, k
            np.testing.assert_allclose(a[k], e[k], rtol=1e-5, atol=1e-7, err_msg=f"{k} @ {step}")


def test_noisy_linear_cosine_decay_noise_statistics():
    # tfstyle's noise stream is not TF's: check its distribution. At step s the schedule is
    # lr * ((alpha + linear + noise) * cosine + beta), noise ~ N(0, v0 / (1 + s)**decay).
    lr, decay_steps, v0, decay, periods, alpha, beta = 0.1, 20, 0.5, 0.55, 0.5, 0.1, 0.001
    with tfs.Graph().as_default():
        gs = tfs.train.get_or_create_global_step()
        noisy = tfs.train.noisy_linear_cosine_decay(
            lr, gs, decay_steps, v0, decay, periods, alpha, beta
        )
        assert noisy.name == "NoisyLinearCosineDecay:0"
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            for step in (0, 5):
                gs.load(step, sess)
                samples = np.array([sess.run(noisy) for _ in range(1500)], np.float64)
                linear = (decay_steps - step) / decay_steps
                cosine = 0.5 * (1 + np.cos(np.pi * 2 * periods * step / decay_steps))
                noise = (samples / lr - beta) / cosine - alpha - linear
                std = np.sqrt(v0 / (1.0 + step) ** decay)
                assert abs(noise.mean()) < 4 * std / np.sqrt(len(noise))
                np.testing.assert_allclose(noise.std(), std, rtol=0.08)
                assert len(np.unique(samples)) > 1000  # a new draw at each run
