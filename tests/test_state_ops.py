"""Sparse variable updates (tf.scatter_*) against TF."""

import numpy as np

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1


def _run(tf):
    with tf.Graph().as_default():
        v = tf.Variable([1.0, 2.0, 3.0, 4.0], name="v")
        ops_ = [
            tf.scatter_update(v, [0, 2], [9.0, 8.0]),
            tf.scatter_add(v, [1, 1], [1.0, 1.0]),
            tf.scatter_sub(v, tf.constant([3]), [1.0]),
            tf.scatter_mul(v, [0], [2.0]),
            tf.scatter_max(v, [1, 2], [5.0, 0.0]),
        ]
        m = tf.Variable(np.zeros((3, 2), np.float32), name="m")
        rows = tf.scatter_update(m, [2, 0], [[1.0, 2.0], [3.0, 4.0]])
        names = [(t.name, t.op.type, [i.name for i in t.op.inputs]) for t in ops_ + [rows]]
        with tf.Session() as s:
            s.run([v.initializer, m.initializer])
            vals = [s.run(t) for t in ops_] + [s.run(rows), s.run(v)]
        return names, vals


def test_scatter_ops_match_tf():
    exp_names, exp_vals = _run(tf1())
    act_names, act_vals = _run(tfs)
    assert act_names == exp_names
    for e, a in zip(exp_vals, act_vals):
        np.testing.assert_allclose(a, e)
