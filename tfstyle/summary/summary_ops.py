"""``tf.summary`` (TF1): summary ops, ``FileWriter`` and ``FileWriterCache``.

A summary op's fetched value is a serialized ``Summary`` proto. The numbers it summarises are
computed in the compiled step; the proto is built on the host after the run (the lowerings
return ``HostValue``s, finished by ``summary_proto``), and ``merge`` combines them.
"""

import contextlib
import re
import threading
import time

from tensorboard.compat.proto import event_pb2, graph_pb2, meta_graph_pb2, summary_pb2

from tfstyle.framework import dtypes, ops
from tfstyle.ops import _base
from tfstyle.platform import tf_logging as logging

from . import event_file, summary_proto

# -- ops ---------------------------------------------------------------------------------------


def _string_scalar(op):
    return [(dtypes.string, ())]


def _host(x):
    from tfstyle.compiler.lowering import HostValue

    return x if isinstance(x, HostValue) else HostValue(lambda a: a, x)


def _summary_lowering(build):
    """A lowering whose inputs are finished on the host and passed to ``build(op, *values)``."""

    def lower(op):
        from tfstyle.compiler.lowering import HostValue

        def fn(*inputs):
            return HostValue.combine(lambda *vals: build(op, *vals), *map(_host, inputs))

        return fn

    return lower


_base.register_simple(
    "ScalarSummary", _string_scalar, _summary_lowering(lambda op, t, v: summary_proto.scalar(t, v))
)
_base.register_simple(
    "HistogramSummary",
    _string_scalar,
    _summary_lowering(lambda op, t, v: summary_proto.histogram(t, v)),
)
_base.register_simple(
    "ImageSummary",
    _string_scalar,
    _summary_lowering(
        lambda op, t, v: summary_proto.image(t, v, max_outputs=op._attrs["max_images"])
    ),
)
_base.register_simple(
    "AudioSummaryV2",
    _string_scalar,
    _summary_lowering(
        lambda op, t, v, rate: summary_proto.audio(t, v, rate, op._attrs["max_outputs"])
    ),
)
_base.register_simple(
    "TensorSummaryV2",
    _string_scalar,
    _summary_lowering(
        lambda op, t, v, meta: summary_proto.tensor_summary(t, v, bytes(meta.item()))
    ),
)
_base.register_simple(
    "MergeSummary", _string_scalar, _summary_lowering(lambda op, *parts: summary_proto.merge(parts))
)


# -- names and collections ---------------------------------------------------------------------
_INVALID_TAG_CHARACTERS = re.compile(r"[^-/\w\.]")


def _clean_tag(name):
    """Replaces characters TensorBoard tags can't hold (``loss:0`` -> ``loss_0``)."""
    if name is not None:
        cleaned = _INVALID_TAG_CHARACTERS.sub("_", name).lstrip("/")
        if cleaned != name:
            logging.info("Summary name %s is illegal; using %s instead.", name, cleaned)
            name = cleaned
    return name


@contextlib.contextmanager
def _summary_scope(name, family=None, default_name=None, values=None):
    """Yields ``(tag, scope)``: the op's name scope, and its tag (prefixed by ``family``)."""
    name = _clean_tag(name)
    family = _clean_tag(family)
    base = name if family is None else f"{family}/{name}"
    with ops.name_scope(base, default_name, values) as scope:
        tag = scope.rstrip("/")
        yield (tag if family is None else f"{family}/{tag}"), scope


def _collect(value, collections, default):
    for key in default if collections is None else collections:
        ops.add_to_collection(key, value)


def _summary_op(op_type, scope, inputs, attrs):
    """Converts ``inputs`` (name -> value) in the op's scope, in order, and creates the op."""
    with ops.name_scope(scope):
        tensors = [
            _base.to_tensor(v, dtype=dt, name=n) if not isinstance(v, ops.Tensor) else v
            for n, v, dt in inputs
        ]
    attrs = attrs(tensors) if callable(attrs) else attrs
    return _base.output(op_type, tensors, attrs, name=scope)


# -- public summary ops ------------------------------------------------------------------------
def scalar(name, tensor, collections=None, family=None):
    """A ``Summary`` with one scalar (``simple_value``), tagged by the op's name scope."""
    with _summary_scope(name, family, values=[tensor]) as (tag, scope):
        val = _summary_op(
            "ScalarSummary",
            scope,
            [("tags", tag, dtypes.string), ("values", tensor, None)],
            lambda ts: {"T": ts[1].dtype},
        )
        _collect(val, collections, [ops.GraphKeys.SUMMARIES])
    return val


def histogram(name, values, collections=None, family=None):
    """A ``Summary`` with a histogram of ``values``."""
    with _summary_scope(name, family, values=[values]) as (tag, scope):
        val = _summary_op(
            "HistogramSummary",
            scope,
            [("tag", tag, dtypes.string), ("values", values, None)],
            lambda ts: {"T": ts[1].dtype},
        )
        _collect(val, collections, [ops.GraphKeys.SUMMARIES])
    return val


def image(name, tensor, max_outputs=3, collections=None, family=None):
    """A ``Summary`` with up to ``max_outputs`` PNG images from a ``[b, h, w, c]`` tensor."""
    import numpy as np

    with _summary_scope(name, family, values=[tensor]) as (tag, scope):
        val = _summary_op(
            "ImageSummary",
            scope,
            [("tag", tag, dtypes.string), ("tensor", tensor, None)],
            lambda ts: {
                "max_images": max_outputs,
                "T": ts[1].dtype,
                "bad_color": np.array([255, 0, 0, 255], dtype=np.uint8),
            },
        )
        _collect(val, collections, [ops.GraphKeys.SUMMARIES])
    return val


def audio(name, tensor, sample_rate, max_outputs=3, collections=None, family=None):
    """A ``Summary`` with up to ``max_outputs`` WAV clips from a ``[b, frames(, ch)]`` tensor."""
    with _summary_scope(name, family=family, values=[tensor]) as (tag, scope):
        with ops.name_scope(scope):
            rate = _base.to_tensor(sample_rate, dtype=dtypes.float32, name="sample_rate")
        val = _summary_op(
            "AudioSummaryV2",
            scope,
            [
                ("tag", tag, dtypes.string),
                ("tensor", tensor, dtypes.float32),
                ("sample_rate", rate, None),
            ],
            {"max_outputs": max_outputs},
        )
        _collect(val, collections, [ops.GraphKeys.SUMMARIES])
    return val


def tensor_summary(
    name,
    tensor,
    summary_description=None,
    collections=None,
    summary_metadata=None,
    family=None,
    display_name=None,
):
    """A ``Summary`` holding the whole ``tensor`` as a ``TensorProto``."""
    if summary_metadata is None:
        summary_metadata = summary_pb2.SummaryMetadata()
    if summary_description is not None:
        summary_metadata.summary_description = summary_description
    if display_name is not None:
        summary_metadata.display_name = display_name
    serialized = summary_metadata.SerializeToString()
    with _summary_scope(name, family, values=[tensor]) as (tag, scope):
        val = _summary_op(
            "TensorSummaryV2",
            scope,
            [
                ("tag", tag, dtypes.string),
                ("tensor", tensor, None),
                ("serialized_summary_metadata", serialized, dtypes.string),
            ],
            lambda ts: {"T": ts[1].dtype},
        )
        _collect(val, collections, [ops.GraphKeys.SUMMARIES])
    return val


def text(name, tensor, collections=None):
    """A ``Summary`` of a string tensor for TensorBoard's text plugin."""
    if not isinstance(tensor, ops.Tensor):
        tensor = _base.to_tensor(tensor)
    if tensor.dtype != dtypes.string:
        raise ValueError(f"Expected tensor {tensor.name} to have dtype string, got {tensor.dtype}")
    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="text")
    )
    return tensor_summary(name, tensor, summary_metadata=metadata, collections=collections)


def merge(inputs, collections=None, name=None):
    """One ``Summary`` with the values of all ``inputs`` (serialized summaries)."""
    with ops.name_scope(name, "Merge", inputs):
        inputs = [_base.to_tensor(x) for x in inputs]
        val = _base.output("MergeSummary", inputs, {"N": len(inputs)}, name=name or "MergeSummary")
        _collect(val, collections, [])
    return val


def merge_all(key=ops.GraphKeys.SUMMARIES, scope=None, name=None):
    """``merge`` of every summary in collection ``key`` (``None`` if there are none)."""
    summary_ops = ops.get_collection(key, scope=scope)
    if not summary_ops:
        return None
    return merge(summary_ops, name=name)


# -- FileWriter --------------------------------------------------------------------------------
def _as_proto(value, cls):
    if isinstance(value, cls):
        return value
    if isinstance(value, (bytes, bytearray)):
        return cls.FromString(bytes(value))
    # The same message from TF's own proto classes (package ``tensorflow``, not ``tensorboard``).
    if getattr(getattr(value, "DESCRIPTOR", None), "name", None) == cls.DESCRIPTOR.name:
        return cls.FromString(value.SerializeToString())
    raise TypeError(f"Expected a {cls.DESCRIPTOR.full_name} proto, got {type(value).__name__}")


class FileWriter:
    """Writes summaries, graphs and events to an event file in ``logdir`` for TensorBoard.

    ``FileWriter(logdir, graph=None, max_queue=10, flush_secs=120, filename_suffix=None)``;
    with a ``graph`` the graph (and its MetaGraphDef) are written first.
    """

    def __init__(
        self,
        logdir,
        graph=None,
        max_queue=10,
        flush_secs=120,
        graph_def=None,
        filename_suffix=None,
        session=None,
    ):
        self.event_writer = event_file.EventFileWriter(
            logdir, max_queue, flush_secs, filename_suffix or ""
        )
        self._closed = False
        self._seen_summary_tags = set()
        self._session_run_tags = set()
        if graph is not None or graph_def is not None:
            self.add_graph(graph=graph, graph_def=graph_def)
            gd = graph.as_graph_def(add_shapes=True) if isinstance(graph, ops.Graph) else graph
            mg = meta_graph_pb2.MetaGraphDef()
            mg.meta_info_def.SetInParent()
            mg.graph_def.CopyFrom(_as_proto(graph_def or gd, graph_pb2.GraphDef))
            self.add_meta_graph(mg)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def get_logdir(self):
        return self.event_writer.get_logdir()

    def _add_event(self, event, step):
        event.wall_time = time.time()
        if step is not None:
            event.step = int(step)
        self.event_writer.add_event(event)

    def add_summary(self, summary, global_step=None):
        """Adds a ``Summary`` (proto or the serialized bytes a summary op returns).

        Plugin metadata is kept only on the first occurrence of each tag, as TF does.
        """
        summary = summary_pb2.Summary.FromString(
            bytes(summary)
            if isinstance(summary, (bytes, bytearray))
            else _as_proto(summary, summary_pb2.Summary).SerializeToString()
        )
        for value in summary.value:
            if not value.HasField("metadata"):
                continue
            if value.tag in self._seen_summary_tags:
                value.ClearField("metadata")
                continue
            self._seen_summary_tags.add(value.tag)
        self._add_event(event_pb2.Event(summary=summary), global_step)

    def add_session_log(self, session_log, global_step=None):
        log = _as_proto(session_log, event_pb2.SessionLog)
        self._add_event(event_pb2.Event(session_log=log), global_step)

    def add_graph(self, graph, global_step=None, graph_def=None):
        """Adds the graph (a ``Graph``, or a ``GraphDef`` as ``graph_def``) for TensorBoard."""
        if graph is not None and graph_def is not None:
            raise ValueError("Please pass only graph, or graph_def (deprecated), but not both.")
        if isinstance(graph, ops.Graph) or isinstance(graph_def, ops.Graph):
            if graph is None:
                graph = graph_def
            gd = graph.as_graph_def(add_shapes=True)
        elif graph_def is not None or graph is not None:
            gd = _as_proto(graph_def if graph_def is not None else graph, graph_pb2.GraphDef)
        else:
            raise TypeError(
                "The passed graph must be an instance of `Graph` or the deprecated `GraphDef`"
            )
        self._add_event(event_pb2.Event(graph_def=gd.SerializeToString()), global_step)

    def add_meta_graph(self, meta_graph_def, global_step=None):
        """Adds a ``MetaGraphDef`` event."""
        try:
            mg = _as_proto(meta_graph_def, meta_graph_pb2.MetaGraphDef)
        except TypeError:
            raise TypeError(
                f"meta_graph_def must be type MetaGraphDef, saw type: {type(meta_graph_def)}"
            ) from None
        self._add_event(event_pb2.Event(meta_graph_def=mg.SerializeToString()), global_step)

    def add_run_metadata(self, run_metadata, tag, global_step=None):
        """Adds a ``RunMetadata`` under ``tag`` (each tag once)."""
        if tag in self._session_run_tags:
            raise ValueError("The provided tag was already used for this event type")
        self._session_run_tags.add(tag)
        tagged = event_pb2.TaggedRunMetadata(tag=tag, run_metadata=run_metadata.SerializeToString())
        self._add_event(event_pb2.Event(tagged_run_metadata=tagged), global_step)

    def add_event(self, event):
        """Adds an ``Event`` proto as it is."""
        self.event_writer.add_event(_as_proto(event, event_pb2.Event))

    def flush(self):
        self.event_writer.flush()

    def close(self):
        self.event_writer.close()
        self._closed = True

    def reopen(self):
        self.event_writer.reopen()
        self._closed = False


class FileWriterCache:
    """One shared ``FileWriter`` per log directory."""

    _cache = {}
    _lock = threading.RLock()

    @staticmethod
    def clear():
        """Closes and forgets every cached writer."""
        with FileWriterCache._lock:
            for writer in FileWriterCache._cache.values():
                writer.close()
            FileWriterCache._cache = {}

    @staticmethod
    def get(logdir):
        """The ``FileWriter`` for ``logdir`` (created with the default graph on first use)."""
        with FileWriterCache._lock:
            writer = FileWriterCache._cache.get(logdir)
            if writer is None:
                writer = FileWriter(logdir, graph=ops.get_default_graph())
                FileWriterCache._cache[logdir] = writer
            return writer
