"""TensorBoard event files: TFRecord framing and an ``EventFileWriter`` like TF1's.

An event file is a sequence of TFRecords, each holding one serialized ``Event`` proto; the
first record of every file is ``Event(wall_time=<seconds>, file_version="brain.Event:2")``.
Files are named ``events.out.tfevents.<10-digit seconds>.<hostname><suffix>``, which is what
TensorBoard looks for in a log directory.
"""

import atexit
import os
import socket
import struct
import threading
import time
import weakref

import google_crc32c
from tensorboard.compat.proto import event_pb2

from tfstyle.framework import errors

__all__ = [
    "EventFileWriter",
    "encode_record",
    "masked_crc32c",
    "read_records",
]

FILE_VERSION = "brain.Event:2"

_MASK_DELTA = 0xA282EAD8
_U32 = 0xFFFFFFFF


def masked_crc32c(data):
    """Returns the masked CRC-32C of ``data`` that TFRecord framing stores."""
    crc = google_crc32c.value(bytes(data))
    return ((((crc >> 15) | (crc << 17)) & _U32) + _MASK_DELTA) & _U32


def encode_record(data):
    """Frames ``data`` as one TFRecord: length, CRC of the length, data, CRC of the data."""
    data = bytes(data)
    header = struct.pack("<Q", len(data))
    return b"".join(
        (
            header,
            struct.pack("<I", masked_crc32c(header)),
            data,
            struct.pack("<I", masked_crc32c(data)),
        )
    )


def read_records(path):
    """Yields the payload of each TFRecord in the file at ``path``, checking both CRCs.

    Raises ``tf.errors.DataLossError`` on a corrupt or truncated record.
    """
    with open(path, "rb") as f:
        offset = 0
        while True:
            header = f.read(12)
            if not header:
                return
            if len(header) < 12:
                raise errors.DataLossError(None, None, f"truncated record at {offset} in {path}")
            (length,) = struct.unpack("<Q", header[:8])
            (length_crc,) = struct.unpack("<I", header[8:])
            if masked_crc32c(header[:8]) != length_crc:
                raise errors.DataLossError(
                    None, None, f"corrupted record at {offset} in {path}: bad length CRC"
                )
            body = f.read(length + 4)
            if len(body) < length + 4:
                raise errors.DataLossError(None, None, f"truncated record at {offset} in {path}")
            data = body[:length]
            (data_crc,) = struct.unpack("<I", body[length:])
            if masked_crc32c(data) != data_crc:
                raise errors.DataLossError(
                    None, None, f"corrupted record at {offset} in {path}: bad data CRC"
                )
            yield data
            offset += 12 + length + 4


def summary_iterator(path):
    """Yields the ``Event`` protos of the event file at ``path`` (written by tfstyle or TF)."""
    from tensorboard.compat.proto.event_pb2 import Event

    for record in read_records(path):
        yield Event.FromString(record)


# Writers still open at interpreter exit get their pending events written out.
_LIVE_WRITERS = weakref.WeakSet()


@atexit.register
def _close_live_writers():
    for writer in list(_LIVE_WRITERS):
        try:
            writer.flush()
        except Exception:
            pass


def _now_seconds():
    return time.time_ns() // 1_000_000_000


def _flush_periodically(writer_ref, stop, interval):
    # Holds the writer only weakly, so an abandoned writer can still be collected.
    while not stop.wait(interval):
        writer = writer_ref()
        if writer is None:
            return
        writer._periodic_flush(stop)
        del writer


class EventFileWriter:
    """Writes ``Event`` protocol buffers to an event file in ``logdir``, as TF1's does.

    ``add_event`` queues an event; queued events reach the file when ``max_queue`` of them
    are waiting, on ``flush()`` or ``close()``, and every ``flush_secs`` seconds (a
    background thread does this). The first event after opening is written at once.

    The event file is created when the first event is written, or at construction when a
    ``filename_suffix`` is given (as TF does). After ``close()``, ``add_event`` and
    ``flush()`` do nothing until ``reopen()``; the first event after ``reopen()`` starts a
    new event file. A reopen within the same second as the previous file's creation gets the
    same file name; its events are then appended to that file rather than replacing it.

    All methods may be called from several threads.
    """

    def __init__(self, logdir, max_queue=10, flush_secs=120, filename_suffix=""):
        """Creates ``logdir`` if needed and prepares an event file in it.

        Args:
          logdir: directory the event file goes in.
          max_queue: how many events may wait in memory before they are written.
          flush_secs: how often, in seconds, waiting events are written to the file.
          filename_suffix: appended to every event file name.
        """
        logdir = os.fspath(logdir)
        if isinstance(logdir, bytes):
            logdir = os.fsdecode(logdir)
        self._logdir = logdir
        os.makedirs(self._logdir, exist_ok=True)
        self._max_queue = max_queue
        self._flush_secs = flush_secs
        if isinstance(filename_suffix, bytes):
            filename_suffix = filename_suffix.decode("utf-8")
        self._suffix = filename_suffix or ""
        self._lock = threading.RLock()
        self._pending = []
        self._fd = None
        self._path = None
        self._next_flush = 0.0
        self._closed = False
        self._stop = None
        self._thread = None
        if self._suffix:
            with self._lock:
                self._open_file()
        self._start_flusher()
        _LIVE_WRITERS.add(self)

    def get_logdir(self):
        """Returns the directory where the event file is written."""
        return self._logdir

    def get_filename(self):
        """Returns the path of the current event file, or ``None`` if none is open yet."""
        with self._lock:
            return self._path if self._fd is not None else None

    def add_event(self, event):
        """Adds an ``Event`` proto (or its serialized bytes) to the event file.

        Does nothing after ``close()`` until ``reopen()``.
        """
        if isinstance(event, (bytes, bytearray, memoryview)):
            record = encode_record(event)
        else:
            record = encode_record(event.SerializeToString())
        with self._lock:
            if self._closed:
                return
            self._pending.append(record)
            now = time.monotonic()
            if now >= self._next_flush:
                self._write_pending()
                self._next_flush = now + (self._flush_secs or 0)
            elif self._max_queue and self._max_queue > 0 and len(self._pending) >= self._max_queue:
                self._write_pending()

    def flush(self):
        """Writes every pending event to the event file."""
        with self._lock:
            if not self._closed:
                self._write_pending()

    def close(self):
        """Writes pending events and closes the event file; ``reopen()`` undoes this."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            try:
                self._write_pending()
            finally:
                self._close_file()
                stop, thread = self._stop, self._thread
                self._stop = self._thread = None
        if stop is not None:
            stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def reopen(self):
        """Reopens a closed writer: later events go into a new event file in the same logdir.

        Does nothing if the writer is not closed.
        """
        with self._lock:
            if not self._closed:
                return
            self._closed = False
            # As TF does, the first event after reopening is written at once.
            self._next_flush = 0.0
            self._start_flusher()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        # Best effort only: never join the flusher here, __del__ may run on that thread.
        try:
            if not self._closed:
                self._closed = True
                if self._stop is not None:
                    self._stop.set()
                self._write_pending()
                self._close_file()
        except Exception:
            pass

    # Everything below runs with self._lock held.

    def _start_flusher(self):
        if not self._flush_secs or self._flush_secs <= 0:
            return
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=_flush_periodically,
            args=(weakref.ref(self), self._stop, self._flush_secs),
            name="EventFileWriterFlusher",
            daemon=True,
        )
        self._thread.start()

    def _periodic_flush(self, stop):
        with self._lock:
            if self._closed or stop.is_set():
                return
            self._write_pending()
            self._next_flush = time.monotonic() + self._flush_secs

    def _open_file(self):
        seconds = _now_seconds()
        name = "events.out.tfevents.%010d.%s%s" % (seconds, socket.gethostname(), self._suffix)
        path = os.path.join(self._logdir, name)
        # O_APPEND: a same-second reopen continues the earlier file instead of truncating it,
        # and each os.write of whole records lands intact even with other writers on the file.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o666)
        self._fd = fd
        self._path = path
        version = event_pb2.Event(wall_time=float(seconds), file_version=FILE_VERSION)
        self._write_all(encode_record(version.SerializeToString()))

    def _write_pending(self):
        if not self._pending:
            return
        if self._fd is None:
            self._open_file()
        data = b"".join(self._pending)
        self._pending.clear()
        self._write_all(data)

    def _write_all(self, data):
        view = memoryview(data)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]

    def _close_file(self):
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)
