"""One helper that checks a graph against real TF, so that covering an op is one line of test.

``check(build, feeds)`` builds the same graph with ``tensorflow.compat.v1`` and with
``tfstyle.compat.v1`` (``build(tf)`` returns a tensor, or a list/dict of tensors), runs both in a
session with the same feeds, and asserts that names, static shapes, dtypes and values agree.
With ``grad=True`` it also compares ``tf.gradients`` of the sum of every float output with
respect to every float placeholder fed.
"""

import numpy as np

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1


def _flatten(out):
    if isinstance(out, dict):
        return [out[k] for k in sorted(out)]
    if isinstance(out, (list, tuple)):
        return list(out)
    return [out]


def _shape(t):
    s = t.shape
    return None if s.ndims is None else [None if d is None else int(d) for d in s.as_list()]


def _run(tf, build, feeds, grad):
    g = tf.Graph()
    with g.as_default():
        outs = _flatten(build(tf))
        feed_dict = {g.get_tensor_by_name(k): v for k, v in (feeds or {}).items()}
        fetches = list(outs)
        n_grads = 0
        if grad:
            xs = [t for t in feed_dict if t.dtype.is_floating]
            ys = [tf.reduce_sum(t) for t in outs if t.dtype.is_floating]
            if xs and ys:
                gs = tf.gradients(tf.add_n(ys) if len(ys) > 1 else ys[0], xs)
                gs = [tf.zeros_like(x) if gr is None else gr for x, gr in zip(xs, gs)]
                fetches += gs
                n_grads = len(gs)
        meta = [(t.name, _shape(t), t.dtype.name) for t in outs]
        with tf.Session(graph=g) as sess:
            vals = sess.run(fetches, feed_dict)
    return meta, vals, n_grads


def check(build, feeds=None, rtol=1e-5, atol=1e-6, names=True, grad=False, values=True):
    """Asserts that ``build`` gives the same graph metadata and values in TF and tfstyle.

    ``feeds`` maps tensor names (``"x:0"``) to values. Returns tfstyle's fetched values.
    """
    exp_meta, exp_vals, _ = _run(tf1(), build, feeds, grad)
    act_meta, act_vals, _ = _run(tfs, build, feeds, grad)
    for (en, es, ed), (an, as_, ad) in zip(exp_meta, act_meta):
        if names:
            assert an == en, f"name: tfstyle {an!r}, TF {en!r}"
        assert as_ == es, f"{en}: static shape: tfstyle {as_}, TF {es}"
        assert ad == ed, f"{en}: dtype: tfstyle {ad}, TF {ed}"
    assert len(act_vals) == len(exp_vals)
    if values:
        for i, (e, a) in enumerate(zip(exp_vals, act_vals)):
            label = exp_meta[i][0] if i < len(exp_meta) else f"gradient {i - len(exp_meta)}"
            e = np.asarray(e)
            a = np.asarray(a)
            assert a.shape == e.shape, f"{label}: shape {a.shape} != {e.shape}"
            assert a.dtype == e.dtype, f"{label}: dtype {a.dtype} != {e.dtype}"
            if e.dtype.kind in "fc":
                np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, err_msg=label)
            else:
                np.testing.assert_array_equal(a, e, err_msg=label)
    return act_vals


def check_raises(build, feeds=None, match_class=True):
    """Asserts that building (or running) raises in both, with the same exception class."""
    errs = []
    for tf in (tf1(), tfs):
        g = tf.Graph()
        try:
            with g.as_default():
                outs = _flatten(build(tf))
                feed_dict = {g.get_tensor_by_name(k): v for k, v in (feeds or {}).items()}
                with tf.Session(graph=g) as sess:
                    sess.run(outs, feed_dict)
        except Exception as e:  # noqa: BLE001 - comparing the classes is the point
            errs.append(e)
        else:
            errs.append(None)
    exp, act = errs
    assert exp is not None, "TF did not raise"
    assert act is not None, f"tfstyle did not raise (TF raised {type(exp).__name__}: {exp})"
    if match_class:
        assert type(act).__name__ == type(exp).__name__, (
            f"tfstyle raised {type(act).__name__}: {act}; TF raised {type(exp).__name__}: {exp}"
        )
    return exp, act
