"""The classic TF1 program end to end, against real TF."""

import numpy as np

from tests.op_check import check


def test_placeholder_math_names_and_values():
    def build(tf):
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        return [x * 2.0 + 1, 1.0 - x, tf.add(x, x), -x, x / 2.0, tf.cast(x, tf.int32)]

    check(build, {"x:0": np.arange(6, dtype=np.float32).reshape(2, 3)})


def test_variable_assign_add_over_runs():
    import tfstyle.compat.v1 as tf

    v = tf.Variable(0, name="counter")
    inc = tf.assign_add(v, 1)
    with tf.Session() as s:
        s.run(tf.global_variables_initializer())
        for _ in range(3):
            s.run(inc)
        assert s.run(v) == 3
