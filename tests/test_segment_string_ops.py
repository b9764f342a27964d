"""Segment reductions, unique_with_counts and string joins against TF."""

import numpy as np
import pytest

from tests.op_check import check


def test_segment_reductions():
    def build(tf):
        data = tf.constant(np.arange(12, dtype=np.float32).reshape(6, 2))
        ids = tf.constant([0, 0, 1, 1, 1, 3])
        out = [
            f(data, ids) for f in (tf.segment_sum, tf.segment_mean, tf.segment_prod, tf.segment_max)
        ]
        out += [tf.segment_min(data, ids)]
        fed = tf.placeholder(tf.float32, [None, 2], name="fed")
        uids = tf.placeholder(tf.int32, [None], name="uids")
        out += [
            f(fed, uids, 4)
            for f in (
                tf.unsorted_segment_sum,
                tf.unsorted_segment_prod,
                tf.unsorted_segment_max,
                tf.unsorted_segment_min,
            )
        ]
        return out

    feeds = {
        "fed:0": np.arange(10, dtype=np.float32).reshape(5, 2),
        "uids:0": np.array([3, 0, 3, 1, 0], np.int32),
    }
    check(build, feeds, grad=True)


def test_segment_sum_of_fed_ids_is_a_clear_error():
    # TF sizes the output at run time; XLA needs it at compile time (a documented difference).
    import tfstyle.compat.v1 as tf

    with tf.Graph().as_default():
        ids = tf.placeholder(tf.int32, [None], name="ids")
        out = tf.segment_sum(tf.ones([3]), ids)
        with tf.Session() as s, pytest.raises(tf.errors.InvalidArgumentError, match="num_segments"):
            s.run(out, {ids: [0, 0, 1]})


def test_unique_with_counts_and_string_join():
    def build(tf):
        y, idx, count = tf.unique_with_counts(tf.constant([4, 1, 4, 2, 2, 2]))
        return [
            y,
            idx,
            count,
            tf.strings.join([tf.constant("a"), tf.constant("b")], separator="-"),
            tf.string_join([tf.constant(["x", "y"]), tf.constant("z")]),
        ]

    check(build)
