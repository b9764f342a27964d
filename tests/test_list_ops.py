"""TF's TensorList ops (``tfstyle/ops/list_ops.py``): built alike in tfstyle and in real TF."""

import numpy as np

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1
from tfstyle.ops import list_ops as ours

X = np.arange(12, dtype=np.float32).reshape(4, 3)


def _theirs():
    tf1()
    from tensorflow.python.ops import list_ops

    return list_ops


def _lists(tf, lo):
    """The same list programs, with ``lo`` TF's or tfstyle's ``list_ops``."""
    x = tf.placeholder(tf.float32, [4, 3], name="x")
    out = {}
    l = lo.tensor_list_from_tensor(x, element_shape=[3])
    out["get"] = lo.tensor_list_get_item(l, 2, tf.float32, element_shape=[3])
    l2 = lo.tensor_list_set_item(l, 1, x[3] * 2.0)
    out["stack"] = lo.tensor_list_stack(l2, tf.float32, element_shape=[3])
    out["length"] = lo.tensor_list_length(l2)
    out["gather"] = lo.tensor_list_gather(l2, [3, 0, 1], tf.float32, element_shape=[3])
    r = lo.tensor_list_reserve([3], 3, tf.float32)
    r = lo.tensor_list_set_item(r, 2, x[0])
    out["reserve"] = lo.tensor_list_stack(r, tf.float32, element_shape=[3])
    e = lo.empty_tensor_list([3], tf.float32, max_num_elements=5)
    e = lo.tensor_list_push_back(e, x[1])
    e = lo.tensor_list_push_back(e, x[2] + 1.0)
    e, top = lo.tensor_list_pop_back(e, tf.float32)
    out["pop"] = top
    out["after_pop"] = lo.tensor_list_length(e)
    out["shape"] = lo.tensor_list_element_shape(l, tf.int32)
    sc = lo.tensor_list_scatter(x[:2], [2, 0], element_shape=[3])
    out["scatter"] = lo.tensor_list_stack(sc, tf.float32, element_shape=[3])
    out["concat"] = lo.tensor_list_concat(l2, tf.float32, element_shape=[3])
    sp = lo.tensor_list_split(tf.reshape(x, [12]), element_shape=[-1], lengths=[4, 4, 4])
    out["split"] = lo.tensor_list_stack(sp, tf.float32, element_shape=[4])

    # A list as loop state: push one item per step, pop them all in a second loop.
    def push(i, acc):
        return i + 1, lo.tensor_list_push_back(acc, x[i] * tf.cast(i, tf.float32))

    acc = lo.empty_tensor_list([3], tf.float32, max_num_elements=4)
    _, acc = tf.while_loop(lambda i, a: i < 4, push, [0, acc])

    def pop(i, acc, total):
        acc, item = lo.tensor_list_pop_back(acc, tf.float32)
        item.set_shape([3])  # TF knows it from the list's handle data, tfstyle from the run
        return i + 1, acc, total + item * tf.cast(i + 1, tf.float32)

    out["loop"] = tf.while_loop(lambda i, a, t: i < 4, pop, [0, acc, tf.zeros([3])])[2]
    return out


def test_list_ops_match_tf():
    tf = tf1()
    g = tf.Graph()
    with g.as_default():
        theirs = _lists(tf, _theirs())
        with tf.Session() as sess:
            expected = sess.run(theirs, {"x:0": X})
    with tfs.Graph().as_default():
        mine = _lists(tfs, ours)
        for k, t in mine.items():
            assert t.op.type == theirs[k].op.type, k
        with tfs.Session() as sess:
            got = sess.run(mine, {"x:0": X})
    assert sorted(got) == sorted(expected)
    for k in expected:
        np.testing.assert_allclose(got[k], expected[k], err_msg=k)
        assert np.asarray(got[k]).dtype == np.asarray(expected[k]).dtype, k


def test_unknown_element_shape_is_taken_from_the_first_write():
    with tfs.Graph().as_default():
        x = tfs.placeholder(tfs.float32, [None, 2], name="x")
        n = tfs.shape(x)[0]

        def body(i, acc):
            return i + 1, ours.tensor_list_set_item(acc, i, x[i] + 1.0)

        acc = ours.tensor_list_reserve(None, n, tfs.float32)
        _, acc = tfs.while_loop(lambda i, a: i < n, body, [0, acc])
        y = ours.tensor_list_stack(acc, tfs.float32)
        with tfs.Session() as sess:
            np.testing.assert_allclose(sess.run(y, {x: X.reshape(6, 2)}), X.reshape(6, 2) + 1)


def _pushed_while_below(tf, lo):
    limit = tf.placeholder(tf.float32, [], name="limit")
    acc = lo.empty_tensor_list([2], tf.float32)
    acc = lo.tensor_list_push_back(acc, tf.ones([2]))
    _, acc = tf.while_loop(
        lambda s, a: s < limit,
        lambda s, a: (s + 1.0, lo.tensor_list_push_back(a, tf.fill([2], s))),
        [0.0, acc],
    )
    length = lo.tensor_list_length(acc)
    return [length, lo.tensor_list_get_item(acc, length - 1, tf.float32)]


def test_a_list_of_no_capacity_holds_what_runs_push():
    # No max_num_elements: the capacity is the one runs need (50 pushes grow it, and that run
    # runs again).
    feeds = [3.0, 50.0, 7.0]
    tf = tf1()
    with tf.Graph().as_default():
        fetches = _pushed_while_below(tf, _theirs())
        with tf.Session() as sess:
            expected = [sess.run(fetches, {"limit:0": v}) for v in feeds]
    with tfs.Graph().as_default():
        m = tfs.placeholder(tfs.int32, [], name="m")
        fetches = _pushed_while_below(tfs, ours)
        r_len = ours.tensor_list_length(ours.tensor_list_reserve([2], m, tfs.float32))
        with tfs.Session() as sess:
            for v, e in zip(feeds, expected):
                got = sess.run(fetches, {"limit:0": v})
                assert got[0] == e[0]
                np.testing.assert_array_equal(got[1], e[1])
            # A size from a feed: the step is compiled for the fed value.
            assert sess.run(r_len, {m: 3}) == 3
            assert sess.run(r_len, {m: 5}) == 5
