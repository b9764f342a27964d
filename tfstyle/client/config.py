"""Session configuration protos (``tf.ConfigProto``, ``tf.GPUOptions``, ``tf.RunOptions`` ...).

They are TF's own protos (shipped by the ``tensorboard`` package), accepted and kept; XLA decides
placement and threading, so most fields have no effect.
"""

from tensorboard.compat.proto.config_pb2 import (  # noqa: F401
    ConfigProto,
    GPUOptions,
    GraphOptions,
    OptimizerOptions,
    RunMetadata,
    RunOptions,
)
