"""TF's protocol buffers that TF1 code names directly (``tf.GraphDef``, ``tf.NodeDef`` ...).

They are TF's own messages, as shipped by the ``tensorboard`` package.
"""

from tensorboard.compat.proto.attr_value_pb2 import AttrValue, NameAttrList  # noqa: F401
from tensorboard.compat.proto.event_pb2 import Event, SessionLog  # noqa: F401
from tensorboard.compat.proto.graph_pb2 import GraphDef  # noqa: F401
from tensorboard.compat.proto.meta_graph_pb2 import MetaGraphDef  # noqa: F401
from tensorboard.compat.proto.node_def_pb2 import NodeDef  # noqa: F401
from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary  # noqa: F401
