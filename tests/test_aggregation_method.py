"""tf.AggregationMethod and the ``aggregation_method`` argument of tf.gradients, tf.hessians and
the optimizers, against real TF: every method gives the same sum, an invalid one TF's error."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1

_METHODS = ["ADD_N", "DEFAULT", "EXPERIMENTAL_TREE", "EXPERIMENTAL_ACCUMULATE_N"]
X0 = np.array([0.5, -1.0, 2.0], np.float32)


def _run(tf, method):
    method = None if method is None else getattr(tf.AggregationMethod, method)
    with tf.Graph().as_default():
        x = tf.Variable(X0, name="x")
        # x reaches y along several paths: the gradients of each use are summed.
        y = tf.reduce_sum(x * 2.0 + x * x + tf.sin(x) + tf.square(x) * x)
        (g,) = tf.gradients(y, [x], aggregation_method=method)
        (h,) = tf.hessians(y, [x], aggregation_method=method)
        opt = tf.train.GradientDescentOptimizer(0.1)
        ((cg, _),) = opt.compute_gradients(y, [x], aggregation_method=method)
        train = opt.minimize(y, aggregation_method=method)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            out = sess.run([g, h, cg])
            sess.run(train)
            return out + [sess.run(x)]


def test_aggregation_method_constants_match_tf():
    for name in _METHODS:
        assert getattr(tfs.AggregationMethod, name) == getattr(tf1().AggregationMethod, name)


@pytest.mark.parametrize("method", [None] + _METHODS)
def test_every_method_gives_tfs_sum(method):
    for a, e in zip(_run(tfs, method), _run(tf1(), method)):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6)


def _call(tf, call, bad):
    with tf.Graph().as_default():
        x = tf.Variable(X0, name="x")
        y = tf.reduce_sum(x * x)
        opt = tf.train.GradientDescentOptimizer(0.1)
        if call == "gradients":
            tf.gradients(y, [x], aggregation_method=bad)
        elif call == "hessians":
            tf.hessians(y, [x], aggregation_method=bad)
        elif call == "compute_gradients":
            opt.compute_gradients(y, [x], aggregation_method=bad)
        else:
            opt.minimize(y, aggregation_method=bad)


@pytest.mark.parametrize("call", ["gradients", "hessians", "compute_gradients", "minimize"])
@pytest.mark.parametrize("bad", [5, -1, "add_n"])
def test_invalid_method_raises_tfs_error(bad, call):
    want = f"Invalid `aggregation_method` specified {bad}. Accepted values are [0, 1, 2]."
    for tf in (tf1(), tfs):
        with pytest.raises(ValueError) as info:
            _call(tf, call, bad)
        assert str(info.value) == want
