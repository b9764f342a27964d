"""EventFileWriter and TFRecord framing, read back by TensorBoard's loaders and by TF itself."""

import gc
import os
import re
import socket
import threading
import time

import numpy as np
import pytest
from tensorboard.backend.event_processing import event_accumulator, event_file_loader
from tensorboard.compat.proto import event_pb2, summary_pb2

from tests.oracle import tf1
from tfstyle.framework import errors
from tfstyle.summary import event_file, summary_proto
from tfstyle.summary.event_file import EventFileWriter, encode_record, read_records


def _event_files(logdir):
    return sorted(f for f in os.listdir(logdir) if f.startswith("events.out.tfevents."))


def _load(path):
    return list(event_file_loader.EventFileLoader(path).Load())


def _scalar_event(step, tag, value):
    return event_pb2.Event(
        wall_time=1000.0 + step,
        step=step,
        summary=summary_pb2.Summary.FromString(summary_proto.scalar(tag, value)),
    )


@pytest.fixture
def clock(monkeypatch):
    """Controls the seconds used in event file names and version events."""
    now = [1_600_000_000]
    monkeypatch.setattr(event_file, "_now_seconds", lambda: now[0])
    return now


# ---------------------------------------------------------------------------------------------
# TFRecord framing


def test_records_match_tf_record_writer(tmp_path):
    tf = tf1()
    payloads = [b"", b"x", b"hello world", bytes(range(256)) * 40]
    path = str(tmp_path / "tf.tfrecord")
    with tf.io.TFRecordWriter(path) as w:
        for p in payloads:
            w.write(p)
    with open(path, "rb") as f:
        assert f.read() == b"".join(encode_record(p) for p in payloads)
    assert list(read_records(path)) == payloads


def test_read_records_detects_corruption_and_truncation(tmp_path):
    path = tmp_path / "r"
    data = encode_record(b"abcdef") + encode_record(b"ghi")
    path.write_bytes(data[:-2])
    with pytest.raises(errors.DataLossError):
        list(read_records(str(path)))
    corrupted = bytearray(data)
    corrupted[14] ^= 1
    path.write_bytes(bytes(corrupted))
    with pytest.raises(errors.DataLossError):
        list(read_records(str(path)))


# ---------------------------------------------------------------------------------------------
# EventFileWriter


def test_file_name_version_event_and_tensorboard_reads_scalars(tmp_path, clock):
    logdir = str(tmp_path / "a" / "b")  # created on demand
    w = EventFileWriter(logdir, filename_suffix=".v1")
    assert w.get_logdir() == logdir
    files = _event_files(logdir)
    assert files == [f"events.out.tfevents.1600000000.{socket.gethostname()}.v1"]
    for step in range(5):
        w.add_event(_scalar_event(step, "loss", 0.5 * step + 0.25))
    w.close()

    events = _load(os.path.join(logdir, files[0]))
    assert events[0].file_version == "brain.Event:2"
    assert events[0].wall_time == 1_600_000_000.0
    assert [e.step for e in events[1:]] == list(range(5))

    acc = event_accumulator.EventAccumulator(logdir)
    acc.Reload()
    assert [(s.step, s.value) for s in acc.Scalars("loss")] == [
        (step, 0.5 * step + 0.25) for step in range(5)
    ]


def test_file_name_format_uses_ten_digits(tmp_path, clock):
    clock[0] = 12345
    w = EventFileWriter(str(tmp_path), filename_suffix="x")
    w.close()
    assert _event_files(str(tmp_path)) == [
        f"events.out.tfevents.0000012345.{socket.gethostname()}x"
    ]


def test_tf_summary_iterator_reads_our_file(tmp_path):
    tf = tf1()
    w = EventFileWriter(str(tmp_path))
    hist = summary_proto.histogram("weights", np.linspace(-3, 3, 101))
    w.add_event(event_pb2.Event(step=1, summary=summary_pb2.Summary.FromString(hist)))
    w.add_event(_scalar_event(2, "acc", 0.75).SerializeToString())  # bytes are accepted too
    w.close()
    (name,) = _event_files(str(tmp_path))
    events = list(tf.train.summary_iterator(os.path.join(str(tmp_path), name)))
    assert events[0].file_version == "brain.Event:2"
    assert events[1].summary.value[0].histo.num == 101
    assert events[2].summary.value[0].simple_value == 0.75


def test_histograms_come_back_through_event_accumulator(tmp_path):
    values = np.random.default_rng(0).normal(size=500)
    with EventFileWriter(str(tmp_path)) as w:
        for step in range(3):
            s = summary_pb2.Summary.FromString(summary_proto.histogram("h", values + step))
            w.add_event(event_pb2.Event(wall_time=1.0, step=step, summary=s))
    acc = event_accumulator.EventAccumulator(
        str(tmp_path), size_guidance={event_accumulator.HISTOGRAMS: 0}
    )
    acc.Reload()
    hists = acc.Histograms("h")
    assert [h.step for h in hists] == [0, 1, 2]
    expected = summary_pb2.HistogramProto.FromString(
        summary_proto.histogram_proto(values + 2).SerializeToString()
    )
    got = hists[2].histogram_value
    assert got.num == 500
    assert got.min == expected.min and got.max == expected.max and got.sum == expected.sum
    assert list(got.bucket_limit) == list(expected.bucket_limit)
    assert list(got.bucket) == list(expected.bucket)


def test_file_is_created_lazily_without_suffix_like_tf(tmp_path):
    w = EventFileWriter(str(tmp_path))
    assert _event_files(str(tmp_path)) == [] and w.get_filename() is None
    w.flush()
    assert _event_files(str(tmp_path)) == []
    w.add_event(_scalar_event(0, "x", 1.0))
    assert len(_event_files(str(tmp_path))) == 1
    assert w.get_filename() == os.path.join(str(tmp_path), _event_files(str(tmp_path))[0])
    w.close()


def test_first_event_is_written_at_once_and_later_ones_on_flush(tmp_path):
    w = EventFileWriter(str(tmp_path), max_queue=100, flush_secs=1000)
    w.add_event(_scalar_event(0, "x", 1.0))
    path = w.get_filename()
    assert [e.step for e in _load(path)[1:]] == [0]
    w.add_event(_scalar_event(1, "x", 2.0))
    w.add_event(_scalar_event(2, "x", 3.0))
    assert len(_load(path)) == 2  # still queued
    w.flush()
    assert [e.step for e in _load(path)[1:]] == [0, 1, 2]
    w.close()


def test_max_queue_writes_full_queue(tmp_path):
    w = EventFileWriter(str(tmp_path), max_queue=3, flush_secs=1000)
    for step in range(4):
        w.add_event(_scalar_event(step, "x", 1.0))
    assert [e.step for e in _load(w.get_filename())[1:]] == [0, 1, 2, 3]
    w.close()


def test_background_thread_flushes_every_flush_secs(tmp_path):
    w = EventFileWriter(str(tmp_path), max_queue=100, flush_secs=0.05)
    w.add_event(_scalar_event(0, "x", 1.0))
    w.add_event(_scalar_event(1, "x", 1.0))
    path = w.get_filename()
    deadline = time.monotonic() + 5
    while len(_load(path)) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [e.step for e in _load(path)[1:]] == [0, 1]
    w.close()


def test_add_event_after_close_is_ignored_and_reopen_starts_a_new_file(tmp_path, clock):
    logdir = str(tmp_path)
    w = EventFileWriter(logdir)
    w.add_event(_scalar_event(0, "x", 1.0))
    w.close()
    w.close()  # closing twice is fine
    first = _event_files(logdir)
    w.add_event(_scalar_event(1, "x", 2.0))
    w.flush()
    assert _event_files(logdir) == first
    assert [e.step for e in _load(os.path.join(logdir, first[0]))[1:]] == [0]

    clock[0] += 7
    w.reopen()
    w.reopen()  # no-op while open
    assert _event_files(logdir) == first  # the new file comes with the next event, as in TF
    w.add_event(_scalar_event(2, "x", 3.0))
    w.close()
    files = _event_files(logdir)
    assert len(files) == 2 and files[0] == first[0]
    second = _load(os.path.join(logdir, files[1]))
    assert second[0].file_version == "brain.Event:2"
    assert second[0].wall_time == clock[0]
    assert [e.step for e in second[1:]] == [2]

    acc = event_accumulator.EventAccumulator(logdir)
    acc.Reload()
    assert [(s.step, s.value) for s in acc.Scalars("x")] == [(0, 1.0), (2, 3.0)]


def test_reopen_within_the_same_second_appends(tmp_path, clock):
    tf = tf1()
    w = EventFileWriter(str(tmp_path), filename_suffix=".s")
    w.add_event(_scalar_event(0, "x", 1.0))
    w.close()
    w.reopen()
    w.add_event(_scalar_event(1, "x", 2.0))
    w.close()
    (name,) = _event_files(str(tmp_path))
    events = list(tf.train.summary_iterator(os.path.join(str(tmp_path), name)))
    assert [e.file_version for e in events] == ["brain.Event:2", "", "brain.Event:2", ""]
    assert [e.step for e in events if not e.file_version] == [0, 1]


def test_many_threads_write_whole_records(tmp_path):
    w = EventFileWriter(str(tmp_path), max_queue=7, flush_secs=0.01)
    n_threads, per_thread = 8, 150

    def work(k):
        for i in range(per_thread):
            w.add_event(_scalar_event(k * 1000 + i, f"t{k}", float(i)))
            if i % 50 == 0:
                w.flush()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    w.close()
    (name,) = _event_files(str(tmp_path))
    records = list(read_records(os.path.join(str(tmp_path), name)))
    events = [event_pb2.Event.FromString(r) for r in records]
    assert events[0].file_version == "brain.Event:2"
    steps = sorted(e.step for e in events[1:])
    assert steps == sorted(k * 1000 + i for k in range(n_threads) for i in range(per_thread))
    for k in range(n_threads):  # each thread's events stay in its order
        mine = [e.step for e in events[1:] if e.step // 1000 == k]
        assert mine == sorted(mine)


def test_file_names_match_tf_file_writer(tmp_path):
    tf = tf1()
    tf_dir, our_dir = str(tmp_path / "tf"), str(tmp_path / "ours")
    tfw = tf.summary.FileWriter(tf_dir, filename_suffix=".sfx")
    ours = EventFileWriter(our_dir, filename_suffix=".sfx")
    tfw.close()
    ours.close()
    pattern = re.compile(r"events\.out\.tfevents\.(\d{10})\.(.+)\.sfx$")
    (tf_name,) = _event_files(tf_dir)
    (our_name,) = _event_files(our_dir)
    tf_match, our_match = pattern.match(tf_name), pattern.match(our_name)
    assert tf_match and our_match
    assert tf_match.group(2) == our_match.group(2)
    assert abs(int(tf_match.group(1)) - int(our_match.group(1))) <= 2
    tf_first = next(tf.train.summary_iterator(os.path.join(tf_dir, tf_name)))
    our_first = next(tf.train.summary_iterator(os.path.join(our_dir, our_name)))
    assert our_first.file_version == tf_first.file_version
    assert our_first.wall_time == int(our_first.wall_time)  # whole seconds, as TF writes


def test_abandoned_writer_writes_its_pending_events(tmp_path):
    w = EventFileWriter(str(tmp_path), max_queue=100, flush_secs=1000)
    w.add_event(_scalar_event(0, "x", 1.0))
    w.add_event(_scalar_event(1, "x", 2.0))
    path = w.get_filename()
    del w
    gc.collect()
    assert [e.step for e in _load(path)[1:]] == [0, 1]
