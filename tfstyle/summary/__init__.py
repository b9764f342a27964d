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


def get_summary_description(node_def):
    """The ``SummaryDescription`` in the ``description`` attr (JSON) of a ``TensorSummary``
    node."""
    from google.protobuf import json_format

    if node_def.op != "TensorSummary":
        raise ValueError(f"Can't get_summary_description on {node_def.op}")
    description = node_def.attr["description"].s
    if isinstance(description, bytes):
        description = description.decode()
    summary_description = SummaryDescription()
    json_format.Parse(description, summary_description)
    return summary_description
