"""TensorBoard summaries (``tf.summary``): summary ops, ``FileWriter``, and the ``Summary``
protos and event files they produce."""

# ruff: noqa: F401

from tensorboard.compat.proto.event_pb2 import Event, SessionLog, TaggedRunMetadata
from tensorboard.compat.proto.summary_pb2 import Summary, SummaryDescription, SummaryMetadata

from .summary_ops import (
    FileWriter,
    FileWriterCache,
    audio,
    histogram,
    image,
    merge,
    merge_all,
    scalar,
    tensor_summary,
    text,
)
