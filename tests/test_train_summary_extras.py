"""tf.train.summary_iterator, tf.train.piecewise_constant_decay and
tf.summary.get_summary_description against TF."""

import glob
import os

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1


def _write_events(tf, logdir):
    with tf.Graph().as_default() as g:
        x = tf.placeholder(tf.float32, [], name="x")
        tf.summary.scalar("loss", x)
        tf.summary.histogram("h", tf.stack([x, 2 * x]))
        merged = tf.summary.merge_all()
        writer = tf.summary.FileWriter(logdir, g)
        with tf.Session() as sess:
            for step in range(3):
                writer.add_summary(sess.run(merged, {x: float(step)}), step)
        writer.close()
    (path,) = glob.glob(os.path.join(logdir, "events.out.tfevents.*"))
    return path


def _digest(events):
    out = []
    for e in events:
        if e.HasField("summary"):
            out.append(("summary", e.step, [(v.tag, v.simple_value) for v in e.summary.value]))
        elif e.HasField("graph_def"):
            out.append(("graph", e.step))
        elif e.file_version:
            out.append(("version", e.file_version))
    return out


@pytest.mark.parametrize("writer", ["tf", "tfstyle"])
def test_summary_iterator_reads_event_files_as_tf_does(tmp_path, writer):
    path = _write_events(tf1() if writer == "tf" else tfs, str(tmp_path))
    expected = list(tf1().train.summary_iterator(path))
    actual = list(tfs.train.summary_iterator(path))
    assert [type(e).__name__ for e in actual] == ["Event"] * len(expected)
    assert _digest(actual) == _digest(expected)
    assert [e.SerializeToString() for e in actual] == [e.SerializeToString() for e in expected]


def test_summary_iterator_on_a_corrupt_file_raises_data_loss(tmp_path):
    path = _write_events(tfs, str(tmp_path))
    with open(path, "r+b") as f:
        f.seek(30)
        f.write(b"\xff\xff")
    with pytest.raises(tfs.errors.DataLossError):
        list(tfs.train.summary_iterator(path))


def test_piecewise_constant_decay():
    assert tfs.train.piecewise_constant_decay is tfs.train.piecewise_constant
    vals = []
    for tf in (tf1(), tfs):
        with tf.Graph().as_default():
            step = tf.placeholder(tf.int64, [], name="step")
            lr = tf.train.piecewise_constant_decay(step, [10, 20], [1.0, 0.5, 0.1])
            with tf.Session() as sess:
                vals.append((lr.name, [sess.run(lr, {step: s}) for s in (0, 10, 11, 20, 25)]))
    assert vals[1][0] == vals[0][0] == "PiecewiseConstant/case/cond/Identity:0"
    np.testing.assert_allclose(vals[1][1], vals[0][1])


def _node(tf, op, description):
    node = tf.NodeDef(name="s", op=op)
    if description is not None:
        node.attr["description"].s = description.encode()
    return node


def test_get_summary_description():
    for description in ('{"typeHint": "image"}', "{}"):
        expected = tf1().summary.get_summary_description(_node(tf1(), "TensorSummary", description))
        actual = tfs.summary.get_summary_description(_node(tfs, "TensorSummary", description))
        assert type(actual).__name__ == "SummaryDescription"
        assert actual.SerializeToString() == expected.SerializeToString()


def test_get_summary_description_of_another_op_raises():
    msgs = []
    for tf in (tf1(), tfs):
        with pytest.raises(ValueError) as info:
            tf.summary.get_summary_description(_node(tf, "TensorSummaryV2", None))
        msgs.append(str(info.value))
    assert msgs[0] == msgs[1]
