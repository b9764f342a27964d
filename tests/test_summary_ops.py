"""tf.summary ops and FileWriter, against real TF and read back by the tensorboard package."""

import os

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator
from tensorboard.compat.proto import graph_pb2, summary_pb2

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1

FEEDS = {"a:0": 1.5, "x:0": [1.0, 2.0, 3.0, -4.0]}


def _build(tf):
    a = tf.placeholder(tf.float32, [], name="a")
    x = tf.placeholder(tf.float32, [None], name="x")
    out = [
        tf.summary.scalar("loss:0", a),
        tf.summary.scalar("a/b", a * 2.0, family="fam"),
    ]
    with tf.name_scope("sc"):
        out.append(tf.summary.histogram("h", x))
        out.append(tf.summary.scalar("h", a, collections=["mine"]))
    out.append(tf.summary.image("img", tf.zeros([2, 4, 4, 3]) + a * 50.0, max_outputs=1))
    out.append(tf.summary.audio("aud", tf.zeros([2, 10]) + a * 0.1, 8000))
    out.append(tf.summary.text("txt", tf.constant("hi")))
    out.append(tf.summary.tensor_summary("ts", tf.constant([1, 2]), family="f"))
    out.append(tf.summary.histogram("ints", [1, 2, 2, 9]))
    out.append(tf.summary.merge_all())
    out.append(tf.summary.merge([out[0], out[1]], name="pair"))
    out.append(tf.summary.merge_all("mine"))
    return out


def _decode(serialized):
    """A Summary with image bytes replaced by their pixels (PNG compression may differ)."""
    import io
    import zlib

    s = summary_pb2.Summary.FromString(serialized)
    for v in s.value:
        if v.HasField("image"):
            png = io.BytesIO(v.image.encoded_image_string)
            png.read(8)
            data = b""
            while True:
                n = int.from_bytes(png.read(4), "big")
                kind = png.read(4)
                chunk = png.read(n)
                png.read(4)
                if kind == b"IDAT":
                    data += chunk
                if kind == b"IEND" or not kind:
                    break
            v.image.encoded_image_string = zlib.decompress(data)
    return s


def test_summary_ops_match_tf():
    tf = tf1()
    results = []
    for lib in (tf, tfs):
        g = lib.Graph()
        with g.as_default():
            outs = _build(lib)
            with lib.Session() as sess:
                values = sess.run(outs, FEEDS)
            results.append(
                (
                    [(op.name, op.type) for op in g.get_operations()],
                    [(t.name, t.dtype.name, t.shape.as_list()) for t in outs],
                    [t.name for t in lib.get_collection(lib.GraphKeys.SUMMARIES)],
                    [_decode(v) for v in values],
                )
            )
    assert results[0][:3] == results[1][:3]
    for e, a in zip(results[0][3], results[1][3]):
        assert a == e


def test_summary_graph_def_imports_into_tf():
    tf = tf1()
    g = tfs.Graph()
    with g.as_default():
        outs = [t.name for t in _build(tfs)]
    tf1()
    from tensorflow.core.framework import graph_pb2 as tf_graph_pb2

    with tf.Graph().as_default():
        tf.import_graph_def(tf_graph_pb2.GraphDef.FromString(g.as_graph_def().SerializeToString()))
        with tf.Session() as sess:
            values = sess.run(
                ["import/" + n for n in outs], {"import/" + k: v for k, v in FEEDS.items()}
            )
    with tfs.Session(graph=g) as sess:
        ours = sess.run(outs, FEEDS)
    for e, a in zip(values, ours):
        assert _decode(a) == _decode(e)


def test_merge_all_empty_and_text_requires_strings():
    with tfs.Graph().as_default():
        assert tfs.summary.merge_all() is None
        with pytest.raises(ValueError, match="to have dtype string"):
            tfs.summary.text("t", tfs.constant(1.0))


def _accumulator(logdir):
    acc = event_accumulator.EventAccumulator(
        logdir, size_guidance={event_accumulator.HISTOGRAMS: 0, event_accumulator.SCALARS: 0}
    )
    acc.Reload()
    return acc


def test_file_writer_events_read_by_tensorboard(tmp_path):
    logdir = str(tmp_path / "run")
    g = tfs.Graph()
    with g.as_default():
        x = tfs.placeholder(tfs.float32, [None], name="x")
        with tfs.name_scope("stats"):
            mean = tfs.reduce_mean(x)
            tfs.summary.scalar("avg", mean)
            tfs.summary.histogram("values", x)
        merged = tfs.summary.merge_all()
        writer = tfs.summary.FileWriter(logdir, g, flush_secs=1000)
        fetched = []
        with tfs.Session() as sess:
            for step in range(3):
                data = np.arange(5, dtype=np.float32) * (step + 1)
                summary, m = sess.run([merged, mean], {x: data})
                writer.add_summary(summary, step)
                fetched.append((m, data))
        meta = tfs.RunMetadata()
        writer.add_run_metadata(meta, "step0", 0)
        with pytest.raises(ValueError):
            writer.add_run_metadata(meta, "step0", 1)
        writer.add_session_log(tfs.summary.SessionLog(status=tfs.summary.SessionLog.START), 3)
        writer.close()
    acc = _accumulator(logdir)
    scalars = acc.Scalars("stats/avg")
    assert [e.step for e in scalars] == [0, 1, 2]
    np.testing.assert_allclose([e.value for e in scalars], [m for m, _ in fetched])
    histos = acc.Histograms("stats/values")
    for event, (_, data) in zip(histos, fetched):
        h = event.histogram_value
        assert (h.min, h.max, h.num, h.sum) == (data.min(), data.max(), 5, data.sum())
    assert acc.Tags()["run_metadata"] == ["step0"]
    graph = acc.Graph()
    assert {n.name for n in graph.node} == {op.name for op in g.get_operations()}
    assert acc.MetaGraph().graph_def == graph
    # The graph groups by name scope as TF's does: same node names for the same model.
    tf = tf1()
    with tf.Graph().as_default() as tg:
        tx = tf.placeholder(tf.float32, [None], name="x")
        with tf.name_scope("stats"):
            tm = tf.reduce_mean(tx)
            tf.summary.scalar("avg", tm)
            tf.summary.histogram("values", tx)
        tf.summary.merge_all()
    assert {n.name for n in graph.node} == {op.name for op in tg.get_operations()}


def test_file_writer_add_graph_event_and_reopen(tmp_path):
    logdir = str(tmp_path)
    with tfs.Graph().as_default() as g:
        tfs.constant(1.0, name="c")
    writer = tfs.summary.FileWriter(logdir, flush_secs=1000)
    assert writer.get_logdir() == logdir
    writer.add_graph(g)
    s = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="v", simple_value=2.0)])
    writer.add_summary(s, 7)
    writer.add_event(tfs.summary.Event(wall_time=1.0, step=8, file_version="x"))
    writer.flush()
    writer.close()
    writer.add_summary(s, 99)  # ignored while closed
    writer.reopen()
    writer.add_summary(s.SerializeToString(), 9)
    writer.close()
    with pytest.raises(TypeError):
        writer.add_graph(None)
    acc = _accumulator(logdir)
    assert [e.step for e in acc.Scalars("v")] == [7, 9]
    assert [
        n.name for n in graph_pb2.GraphDef.FromString(acc.Graph().SerializeToString()).node
    ] == ["c"]


def test_file_writer_cache(tmp_path):
    a = str(tmp_path / "a")
    with tfs.Graph().as_default():
        w1 = tfs.summary.FileWriterCache.get(a)
        assert tfs.summary.FileWriterCache.get(a) is w1
        assert tfs.summary.FileWriterCache.get(str(tmp_path / "b")) is not w1
        tfs.summary.FileWriterCache.clear()
        assert tfs.summary.FileWriterCache.get(a) is not w1
        tfs.summary.FileWriterCache.clear()
    assert any(f.startswith("events.out.tfevents") for f in os.listdir(a))
