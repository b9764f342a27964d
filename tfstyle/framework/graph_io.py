"""GraphDef and MetaGraphDef: a tfstyle graph to TF's protos and back.

``graph_def(graph)`` serialises every op as a ``NodeDef`` with TF's op type and attribute names
(the Python attribute values of ``op._attrs`` become ``AttrValue`` protos; attributes whose name
starts with ``_`` are tfstyle's own and stay private). ``import_graph_def`` rebuilds ops from a
GraphDef through the op registry, so their shape rules run as when they are built by hand. The
protos are the ones the ``tensorboard`` package ships; nothing here needs TensorFlow.

Control flow is written as TF 2.x writes it: the function graphs of ``If``/``StatelessIf``,
``Case``/``StatelessCase`` and ``While``/``StatelessWhile`` become ``FunctionDef``s of
``GraphDef.library``, named by the op's ``then_branch``/``else_branch``/``branches``/``cond``/
``body`` attributes. Every argument of a function is an
input of its op (for a ``While``: loop counter, maximum iterations, loop variables, captured
tensors; the body returns them all, the counter incremented). Importing rebuilds tfstyle
function graphs from the FunctionDefs (resource arguments become captures).

``TfstyleScan`` (``map_fn``, ``scan``, ``foldl``/``foldr``, ``dynamic_rnn``) is written as TF
writes those: a ``While`` whose loop state is the counter, the trip count, the carried values, one
``TensorListReserve`` list per per-step output and one ``TensorListFromTensor`` list per input
sequence, then the captured tensors; the body reads its elements with ``TensorListGetItem`` and
writes its outputs with ``TensorListSetItem`` (from the end with ``reverse``; without an
initializer the first element is read before the loop), and ``TensorListStack`` stacks them
after it. The nodes that read the op's outputs (``map/TensorArrayV2Stack/TensorListStack``,
``foldl/while/Identity_3``) keep their names. The TensorList ops import as tfstyle ops
(``tfstyle/ops/list_ops.py``), so TF's own such graphs, and its gradient loops, import too.

``tf.gradients`` (one ``Gradients`` op) is written as TF writes a function's gradient: a
``SymbolicGradient`` node of a ``FunctionDef`` holding the forward sub-graph from the xs to the
ys (arguments: the xs, a variable's as the value a read of it returns, then the tensors the
sub-graph captures), followed by an ``IdentityN`` named as the op, so that its outputs keep their
names. Ops that TF cannot differentiate inside a function (the cross-entropies, ``L2Loss``,
``AddN``, ``Elu`` and other activations, fused batch norm, ``LRN``, depthwise and transposed
convolutions, ``Pad``, ``Tile``, reductions over negative axes) or differentiates wrongly there (a dilated ``Conv2D``)
are written there as ops it can (``_GRADIENT_EXPANSIONS``). Importing
a ``SymbolicGradient`` rebuilds the function's body and differentiates it with a ``Gradients``
op. TF's ``SymbolicGradient`` takes the gradient of a loop in the function as zero, and fails on
an ``If``. So a scan of known length between the xs and the ys (``dynamic_rnn``, ``map_fn``, ...)
is written there unrolled: one call of a ``FunctionDef`` of its step per element. A
``while_loop`` or a ``cond`` is written as a call of a function holding it, with a gradient
function registered in the library (``FunctionDefLibrary.gradient``; TF uses it for a function
it does not inline). A loop's runs the loop again, pushing each iteration's loop variables onto
TensorLists, then pops them in a second loop that applies the ``SymbolicGradient`` of the body;
a cond's is an ``If`` of the ``SymbolicGradient``s of its branches (a ``switch_case``'s, a
``Case`` of them). The variables control flow
reads are passed in as their values; the forward graph keeps its ``While`` and ``If``. A ``Gradients`` op that cannot be
written so (an x computed from another x, a variable written by control flow, a loop nested in
a loop, a scan of unknown length) and ``Hessians`` are written as themselves, which TF cannot
load but tfstyle imports again: after their own inputs they take the handles of the variables
they differentiate and the tensors they hold constant. A node calling a library function
imports inlined.
"""

import collections
import os

import numpy as np
from google.protobuf import message as _message
from google.protobuf import text_format
from tensorboard.compat.proto import (
    attr_value_pb2,
    graph_pb2,
    meta_graph_pb2,
    node_def_pb2,
    saver_pb2,
    tensor_pb2,
    tensor_shape_pb2,
    variable_pb2,
)

from tfstyle.framework import (
    dtypes,
    errors,
    functionalize,
    op_defaults,
    ops,
    partition_stitch,
    ref_variables,
    registry,
    sparse_dedup,
    uninitialized_report,
)
from tfstyle.framework import tensor_shape as _shape

# TF 2.21's GRAPH_DEF_VERSION: what its ``as_graph_def()`` writes as ``versions.producer``.
GRAPH_DEF_VERSION = 2474

# Collections whose ``bytes_list`` entries are serialized ``VariableDef`` protos.
VARIABLE_COLLECTIONS = frozenset(
    {
        ops.GraphKeys.GLOBAL_VARIABLES,
        ops.GraphKeys.LOCAL_VARIABLES,
        ops.GraphKeys.TRAINABLE_VARIABLES,
        ops.GraphKeys.MODEL_VARIABLES,
        ops.GraphKeys.MOVING_AVERAGE_VARIABLES,
        ops.GraphKeys.METRIC_VARIABLES,
        ops.GraphKeys.CONCATENATED_VARIABLES,
        ops.GraphKeys.TRAINABLE_RESOURCE_VARIABLES,
        ops.GraphKeys.GLOBAL_STEP,
    }
)


# -- tensors and shapes ------------------------------------------------------------------------
def shape_proto(shape):
    """A ``TensorShapeProto`` for a ``TensorShape`` (unknown dims are ``-1``)."""
    shape = _shape.as_shape(shape)
    proto = tensor_shape_pb2.TensorShapeProto()
    if shape.ndims is None:
        proto.unknown_rank = True
    else:
        for d in shape.as_list():
            proto.dim.add(size=-1 if d is None else d)
    return proto


def shape_from_proto(proto):
    if proto.unknown_rank:
        return _shape.unknown_shape()
    return _shape.TensorShape([None if d.size < 0 else d.size for d in proto.dim])


def _as_bytes(x):
    if isinstance(x, str):
        return x.encode("utf-8")
    return bytes(x)


def tensor_proto(value, dtype=None):
    """A ``TensorProto`` holding a NumPy array (strings as ``string_val``, else raw bytes)."""
    arr = np.asarray(value)
    if dtype is None:
        dtype = dtypes.string if arr.dtype.kind in "OSU" else dtypes.as_dtype(arr.dtype)
    dtype = dtypes.as_dtype(dtype)
    proto = tensor_pb2.TensorProto(dtype=dtype.as_datatype_enum)
    proto.tensor_shape.CopyFrom(shape_proto(arr.shape))
    if dtype is dtypes.string:
        proto.string_val.extend(_as_bytes(x) for x in arr.reshape(-1))
    elif arr.size:
        np_dtype = np.dtype(dtype.as_numpy_dtype)
        proto.tensor_content = np.ascontiguousarray(arr, np_dtype.newbyteorder("<")).tobytes()
    return proto


# Which repeated field holds the values of a TensorProto without ``tensor_content``.
_VAL_FIELDS = {
    dtypes.float32: "float_val",
    dtypes.float64: "double_val",
    dtypes.int32: "int_val",
    dtypes.int16: "int_val",
    dtypes.int8: "int_val",
    dtypes.uint8: "int_val",
    dtypes.uint16: "int_val",
    dtypes.int64: "int64_val",
    dtypes.uint32: "uint32_val",
    dtypes.uint64: "uint64_val",
    dtypes.bool: "bool_val",
    dtypes.float16: "half_val",
    dtypes.bfloat16: "half_val",
    dtypes.complex64: "scomplex_val",
    dtypes.complex128: "dcomplex_val",
}


def array_from_proto(proto):
    """The NumPy array of a ``TensorProto`` (read-only); strings are an object array of bytes."""
    dtype = dtypes.as_dtype(proto.dtype)
    shape = tuple(d.size for d in proto.tensor_shape.dim)
    count = int(np.prod(shape, dtype=np.int64))
    if dtype is dtypes.string:
        vals = list(proto.string_val)
        arr = np.empty(count, dtype=object)
        if vals:
            arr[: len(vals)] = vals
            arr[len(vals) :] = vals[-1]
        else:
            arr[:] = b""
        arr = arr.reshape(shape)
    else:
        np_dtype = np.dtype(dtype.as_numpy_dtype)
        if proto.tensor_content:
            arr = np.frombuffer(proto.tensor_content, np_dtype.newbyteorder("<"))
            arr = arr.astype(np_dtype).reshape(shape)
        else:
            field = _VAL_FIELDS.get(dtype)
            if field is None:
                raise TypeError(f"Cannot read a TensorProto of dtype {dtype.name}")
            vals = np.asarray(getattr(proto, field))
            if field == "half_val":
                vals = vals.astype(np.uint16).view(np_dtype)
            elif dtype.is_complex:
                vals = vals.reshape(-1, 2)
                vals = vals[:, 0] + 1j * vals[:, 1]
            vals = vals.astype(np_dtype)
            # TF repeats the last value to fill the shape (a splat).
            arr = np.zeros(count, np_dtype)
            if vals.size:
                arr[: vals.size] = vals[:count]
                arr[vals.size :] = vals[-1]
            arr = arr.reshape(shape)
    arr.flags.writeable = False
    return arr


# -- attributes --------------------------------------------------------------------------------
def attr_value(value):
    """The ``AttrValue`` of a Python attribute value (DType, TensorShape, array, scalar, list)."""
    a = attr_value_pb2.AttrValue()
    if isinstance(value, _message.Message):
        if isinstance(value, attr_value_pb2.AttrValue):
            a.CopyFrom(value)
        elif isinstance(value, attr_value_pb2.NameAttrList):
            a.func.CopyFrom(value)
        elif isinstance(value, tensor_pb2.TensorProto):
            a.tensor.CopyFrom(value)
        else:
            raise TypeError(f"Cannot serialise attribute value {value!r}")
    elif isinstance(value, dtypes.DType):
        a.type = value.as_datatype_enum
    elif isinstance(value, _shape.TensorShape):
        a.shape.CopyFrom(shape_proto(value))
    elif isinstance(value, np.ndarray):
        a.tensor.CopyFrom(tensor_proto(value))
    elif isinstance(value, (bool, np.bool_)):
        a.b = bool(value)
    elif isinstance(value, (int, np.integer)):
        a.i = int(value)
    elif isinstance(value, (float, np.floating)):
        a.f = float(value)
    elif isinstance(value, (str, bytes)):
        a.s = _as_bytes(value)
    elif isinstance(value, (list, tuple)):
        a.list.SetInParent()
        for v in value:
            item = attr_value(v)
            kind = item.WhichOneof("value")
            if kind in ("list", None):
                raise TypeError(f"Cannot serialise nested list attribute {value!r}")
            field = getattr(a.list, kind)
            if kind in ("shape", "tensor", "func"):
                field.add().CopyFrom(getattr(item, kind))
            else:
                field.append(getattr(item, kind))
    else:
        raise TypeError(f"Cannot serialise attribute value {value!r} of type {type(value)}")
    return a


def _decode_s(s):
    try:
        return s.decode("utf-8")
    except UnicodeDecodeError:
        return s


def attr_from_proto(a):
    """The Python value tfstyle keeps in ``op._attrs`` for an ``AttrValue``."""
    kind = a.WhichOneof("value")
    if kind == "type":
        return dtypes.as_dtype(a.type)
    if kind == "shape":
        return shape_from_proto(a.shape)
    if kind == "tensor":
        return array_from_proto(a.tensor)
    if kind == "s":
        return _decode_s(a.s)
    if kind in ("i", "f", "b"):
        return getattr(a, kind)
    if kind == "list":
        lst = a.list
        if lst.type:
            return [dtypes.as_dtype(t) for t in lst.type]
        if lst.shape:
            return [shape_from_proto(s) for s in lst.shape]
        if lst.tensor:
            return [array_from_proto(t) for t in lst.tensor]
        if lst.s:
            return [_decode_s(s) for s in lst.s]
        for field in ("i", "f", "b", "func"):
            if getattr(lst, field):
                return list(getattr(lst, field))
        return []
    if kind == "placeholder":
        return a.placeholder
    if kind == "func":
        return a.func
    return None


# -- export ------------------------------------------------------------------------------------
def _input_name(t):
    return t.op.name if t.value_index == 0 else f"{t.op.name}:{t.value_index}"


def _tf_inputs(op):
    """``op``'s inputs as TF's op takes them (its registry entry's ``num_tf_inputs``)."""
    n = op._def.num_tf_inputs if op._def is not None else None
    return op._inputs if n is None else op._inputs[:n]


def _fill_node_def(nd, op, lib=None, ref=_input_name):
    nd.name = op.name
    nd.op = op.type
    nd.input.extend(ref(t) for t in _tf_inputs(op))
    if op.type in _OWN_GRADIENT_OPS:
        nd.input.extend(ref(t) for t in _own_gradients_extra_inputs(op))
    nd.input.extend("^" + c.name for c in op._control_inputs)
    if op._device:
        nd.device = op._device
    _fill_attrs(nd, op, lib if lib is not None else _Library(graph_pb2.GraphDef().library))


def _fill_attrs(nd, op, lib):
    if op.type in _FUNCTIONAL_OPS:
        attrs = _FUNCTIONAL_OPS[op.type][0](op, lib)
    else:
        attrs = op._attrs
    for key, value in attrs.items():
        if (key.startswith("_") and key not in _TF_PRIVATE_ATTRS) or value is None:
            continue
        nd.attr[key].CopyFrom(attr_value(value))


def node_def(op):
    """``op.node_def``: the op as a ``NodeDef`` proto."""
    nd = node_def_pb2.NodeDef()
    _fill_node_def(nd, op)
    return nd


def graph_def(graph, add_shapes=False):
    """``graph.as_graph_def()``: every op in creation order; ``add_shapes`` adds the static
    shapes of the outputs as the ``_output_shapes`` attribute (as TF does). The function graphs
    of control-flow ops become ``FunctionDef``s of ``library``."""
    gd = graph_pb2.GraphDef()
    gd.versions.producer = GRAPH_DEF_VERSION
    lib = _Library(gd.library)
    taken = {op.name for op in graph.get_operations()}
    renamed = {}  # outputs of ops written as several nodes -> the node output holding them

    def ref(t):
        return renamed.get(t) or _input_name(t)

    for op in graph.get_operations():
        nd = None
        if op.type == "TfstyleScan":
            writer = _GraphWriter(gd, taken)
            control = [c.name for c in op._control_inputs]
            renamed.update(zip(op._outputs, _write_scan(op, writer, ref, lib, control)))
            continue
        if op.type == "ReportUninitialized":
            nd = _write_report_uninitialized(_GraphWriter(gd, taken), op, ref)
        if op.type == "Gradients":
            n_nodes, n_functions = len(gd.node), len(gd.library.function)
            n_gradients, names, used = len(gd.library.gradient), dict(lib.names), set(lib.used)
            try:
                nd = _export_gradients(gd, op, lib, taken, ref)
            except NotImplementedError:
                # Written as tfstyle's own op type, which TF does not know.
                del gd.node[n_nodes:]
                del gd.library.function[n_functions:]
                del gd.library.gradient[n_gradients:]
                lib.names, lib.used = names, used
        if nd is None:
            nd = gd.node.add()
            _fill_node_def(nd, op, lib, ref)
        if add_shapes and op._outputs:
            nd.attr["_output_shapes"].list.shape.extend(shape_proto(t._shape) for t in op._outputs)
    # An imported optimizer's ``Unique`` goes back to TF as ``Unique``, an imported partitioned
    # lookup to TF's ``DynamicPartition``s and stitch: TF's sparse updates and gathers reject the
    # out-of-range indices that tfstyle's fixed-size forms give repeated ids and the ids of other
    # partitions.
    return partition_stitch.restore(sparse_dedup.restore_unique(gd))


def _write_report_uninitialized(writer, op, ref):
    """TF has no ``ReportUninitialized`` (``report_uninitialized_variables``, which every
    ``Scaffold`` adds): it is written as TF's ops, the variables' names gathered where the
    stacked flags are false. The last node keeps the op's name; returns it."""
    name = op.name
    i32 = dtypes.int32

    def const(suffix, value, dtype):
        return writer.node(
            f"{name}/{suffix}", "Const", [], {"dtype": dtype, "value": tensor_proto(value, dtype)}
        )

    flags = [ref(t) for t in op._inputs]
    stack = writer.node(
        f"{name}/stack", "Pack", flags, {"N": len(flags), "T": dtypes.bool, "axis": 0}
    )
    mask = writer.node(f"{name}/LogicalNot", "LogicalNot", [stack], {})
    names = const(
        "Const", np.array([n.encode() for n in op._attrs["names"]], object), dtypes.string
    )
    where = writer.node(f"{name}/Where", "Where", [mask], {"T": dtypes.bool})
    index = writer.node(
        f"{name}/Reshape",
        "Reshape",
        [where, const("Reshape/shape", np.array([-1], np.int32), i32)],
        {"T": dtypes.int64, "Tshape": i32},
    )
    writer.node(
        name,
        "GatherV2",
        [names, index, const("GatherV2/axis", np.array(0, np.int32), i32)],
        {"Tparams": dtypes.string, "Tindices": dtypes.int64, "Taxis": i32, "batch_dims": 0},
        exact=True,
        control=[c.name for c in op._control_inputs],
    )
    return writer.nodes[-1]


# -- gradients ---------------------------------------------------------------------------------
def _fresh(name, taken):
    base, i = name, 0
    while name in taken:
        i += 1
        name = f"{base}_{i}"
    taken.add(name)
    return name


class _Expansion:
    """Writes nodes into a ``FunctionDef`` body under the name scope of the op they replace."""

    def __init__(self, fdef, op, taken):
        self.fdef, self.op, self.taken = fdef, op, taken
        self.t = attr_value(op._attrs["T"]) if "T" in op._attrs else None

    def node(self, suffix, op_type, ins, out, **attrs):
        name = _fresh(f"{self.op.name}/{suffix}", self.taken)
        nd = self.fdef.node_def.add(name=name, op=op_type)
        nd.input.extend(ins)
        for k, v in attrs.items():
            nd.attr[k].CopyFrom(v if isinstance(v, attr_value_pb2.AttrValue) else attr_value(v))
        return f"{name}:{out}:0"

    def const(self, suffix, value):
        value = np.asarray(value)
        return self.node(
            suffix, "Const", [], "output", dtype=dtypes.as_dtype(value.dtype),
            value=tensor_proto(value),
        )  # fmt: skip

    def xent(self, features, onehot):
        """``(loss, backprop)`` of a softmax cross-entropy of 2-D ``features``; TF's function
        gradient of ``Sum`` needs a non-negative axis."""
        t = self.t
        log_sm = self.node("LogSoftmax", "LogSoftmax", [features], "logsoftmax", T=t)
        prod = self.node("Mul", "Mul", [onehot, log_sm], "z", T=t)
        total = self.node(
            "Sum", "Sum", [prod, self.const("axis", np.array([1], np.int32))], "output", T=t,
            Tidx=dtypes.int32, keep_dims=False,
        )  # fmt: skip
        loss = self.node("Neg", "Neg", [total], "y", T=t)
        sm = self.node("Softmax", "Softmax", [features], "softmax", T=t)
        backprop = self.node("Sub", "Sub", [sm, onehot], "z", T=t)
        return loss, backprop


def _expand_softmax_xent(fdef, op, inputs, taken):
    """``SoftmaxCrossEntropyWithLogits``: loss ``-sum(labels * log_softmax(logits), 1)``,
    backprop ``softmax(logits) - labels``."""
    loss, backprop = _Expansion(fdef, op, taken).xent(*inputs)
    return {op._outputs[0]: loss, op._outputs[1]: backprop}


def _expand_sparse_softmax_xent(fdef, op, inputs, taken):
    """``SparseSoftmaxCrossEntropyWithLogits``: the dense form; ``inputs[1]`` are the one-hot
    labels, computed outside the function (TF has no function gradient for ``OneHot``)."""
    loss, backprop = _Expansion(fdef, op, taken).xent(*inputs)
    return {op._outputs[0]: loss, op._outputs[1]: backprop}


class _OuterNode:
    """An argument of a gradient function bound to a node written only into the GraphDef."""

    def __init__(self, name, dtype):
        self.name, self.dtype = name, dtype


def _outer_one_hot(gd, op, taken, ref):
    """Writes ``one_hot(labels)`` of a ``SparseSoftmaxCrossEntropyWithLogits`` into ``gd``."""
    features, labels = op._inputs
    depth = features.shape[-1] if features.shape.ndims else None
    depth = getattr(depth, "value", depth)
    if depth is None:
        raise NotImplementedError(
            f"Cannot export the gradient through '{op.name}' "
            "(SparseSoftmaxCrossEntropyWithLogits): its number of classes is not known."
        )
    dt = features.dtype

    def node(suffix, op_type, ins, **attrs):
        nd = gd.node.add(name=_fresh(f"{op.name}/{suffix}", taken), op=op_type)
        nd.input.extend(ins)
        for k, v in attrs.items():
            nd.attr[k].CopyFrom(attr_value(v))
        return nd.name

    def const(suffix, value):
        return node(suffix, "Const", [], dtype=dtypes.as_dtype(value.dtype),
                    value=tensor_proto(value))  # fmt: skip

    ins = [
        ref(labels),
        const("one_hot/depth", np.array(int(depth), np.int32)),
        const("one_hot/on_value", np.array(1, dt.as_numpy_dtype)),
        const("one_hot/off_value", np.array(0, dt.as_numpy_dtype)),
    ]
    return _OuterNode(node("one_hot", "OneHot", ins, T=dt, TI=labels.dtype, axis=-1), dt)


def _expand_l2_loss(fdef, op, inputs, taken):
    """``L2Loss``: ``sum(t ** 2) / 2``."""
    e = _Expansion(fdef, op, taken)
    dt = dtypes.as_dtype(op._attrs["T"])
    flat = e.node(
        "Reshape", "Reshape", [inputs[0], e.const("flat", np.array([-1], np.int32))],
        "output", T=e.t, Tshape=dtypes.int32,
    )  # fmt: skip
    sq = e.node("Square", "Square", [flat], "y", T=e.t)
    total = e.node(
        "Sum", "Sum", [sq, e.const("axis", np.array([0], np.int32))], "output", T=e.t,
        Tidx=dtypes.int32, keep_dims=False,
    )  # fmt: skip
    half = e.node("Mul", "Mul", [total, e.const("half", np.array(0.5, dt.as_numpy_dtype))], "z",
                  T=e.t)  # fmt: skip
    return {op._outputs[0]: half}


def _gather_parts(op):
    """``(params dtype, params rank, axis)`` of a gather that TF can differentiate written as a
    ``GatherNd`` (``_expand_gather``), else None."""
    from tfstyle.ops import _base

    if op._attrs.get("batch_dims", 0) != 0:
        return None
    if op.type == "ResourceGather":
        h = ops.variable_handle_op(op._inputs[0])
        shape = _shape.as_shape(h._attrs.get("shape")) if h is not None else None
        dtype, axis = op._attrs["dtype"], 0
    else:
        shape, dtype = op._inputs[0].shape, op._inputs[0].dtype
        axis = _base.constant_value(op._inputs[2])
        if axis is None or np.ndim(axis):
            return None
        axis = int(axis)
    rank, ids_rank = (shape.ndims if shape is not None else None), op._inputs[1].shape.ndims
    if axis != 0 and (rank is None or ids_rank is None):
        return None
    return dtype, rank, axis % rank if rank else axis


def _expand_gather(fdef, op, inputs, taken):
    """A gather along one axis (``GatherV2``, or ``ResourceGather`` of a variable passed as its
    value): TF has no function gradient of ``GatherV2``, but has one of ``GatherNd`` and
    ``Transpose``. The axis is moved to the front, the rows gathered, and the result's
    dimensions put back in order."""
    parts = _gather_parts(op)
    if parts is None:
        if op.type == "ResourceGather":
            raise NotImplementedError(f"Cannot write '{op.name}' (a batched gather) for TF.")
        _write_as_is(fdef, op, inputs)
        return {}
    dtype, rank, axis = parts
    e = _Expansion(fdef, op, taken)
    params, ids = inputs[0], inputs[1]
    tids = op._inputs[1].dtype
    if axis:
        perm = [axis, *range(axis), *range(axis + 1, rank)]
        params = e.node("Transpose", "Transpose", [params, e.const("perm", np.array(perm, np.int32))],
                        "y", T=dtype, Tperm=dtypes.int32)  # fmt: skip
    if tids != dtypes.int32:
        # (TF's function gradient of GatherNd takes int32 indices only.)
        ids = e.node("Cast", "Cast", [ids], "y", SrcT=tids, DstT=dtypes.int32, Truncate=False)
        tids = dtypes.int32
    last = e.const("last", np.array(-1, np.int32))
    scalar = op._inputs[1].shape.ndims == 0
    if scalar:
        # TF's gradient of a GatherNd of one index vector (indices of shape [1]) is a ScatterNd
        # that TF rejects: the index is gathered as a batch of one, which is then squeezed.
        ids = e.node("ExpandDims_0", "ExpandDims", [ids, last], "output", T=tids,
                     Tdim=dtypes.int32)  # fmt: skip
    nd_ids = e.node("ExpandDims", "ExpandDims", [ids, last], "output", T=tids, Tdim=dtypes.int32)
    out = e.node("GatherNd", "GatherNd", [params, nd_ids], "output", Tparams=dtype, Tindices=tids)
    if scalar:
        out = e.node("Squeeze", "Squeeze", [out], "output", T=dtype, squeeze_dims=[0])
    if axis:
        k = op._inputs[1].shape.ndims
        # [ids dims, dims before the axis, dims after it] -> [before, ids dims, after]
        back = [*range(k, k + axis), *range(k), *range(k + axis, k + rank - 1)]
        out = e.node("Transpose_1", "Transpose", [out, e.const("perm_1", np.array(back, np.int32))],
                     "y", T=dtype, Tperm=dtypes.int32)  # fmt: skip
    return {op._outputs[0]: out}


def _outer_read(gd, handle, dtype, taken, ref):
    """Writes a ``ReadVariableOp`` of ``handle`` into ``gd``."""
    nd = gd.node.add(name=_fresh(f"{handle.op.name}/Read_for_gradient", taken),
                     op="ReadVariableOp")  # fmt: skip
    nd.input.append(ref(handle))
    nd.attr["dtype"].CopyFrom(attr_value(dtype))
    return _OuterNode(nd.name, dtype)


_LOOP_TYPES = ("While", "StatelessWhile", "TfstyleScan")
_COND_TYPES = ("If", "StatelessIf", "Case", "StatelessCase")
_CONTROL_FLOW_TYPES = _LOOP_TYPES + _COND_TYPES
# Those whose exporter can write them taking captured variables as values.
_AS_VALUE_TYPES = _COND_TYPES + ("While", "StatelessWhile")


def _tf_differentiable(fg):
    """Whether ``fg`` written as a function (with the expansions) is what TF differentiates: not
    with a sparse cross-entropy, whose expansion needs its labels made one-hot outside."""
    return not any(o.type == "SparseSoftmaxCrossEntropyWithLogits" for o in fg._ops)


def _differentiable_in_function(fg):
    """Whether TF can differentiate ``fg`` written as a function with ``expand``: what
    ``_tf_differentiable`` asks, and each control-flow op in it one that is written there as TF
    can differentiate it (a call with a registered gradient, or a scan unrolled)."""
    return _tf_differentiable(fg) and all(
        _writes_differentiably(o) for o in fg._ops if o.type in _CONTROL_FLOW_TYPES
    )


def _writes_differentiably(o):
    """Whether control-flow op ``o`` can be written in a function as TF differentiates it."""
    if o.type == "TfstyleScan":
        return _scan_callable(o)  # (unrolled where its length is known, _write_differentiably)
    if o.type in _COND_TYPES:
        return _if_differentiable(o)
    return _while_differentiable(o)


def _scan_parts(op):
    """A ``TfstyleScan``'s inputs: ``(elements, initial carries, captured tensors)``."""
    a = op._attrs
    n = a["n_elems"]
    n_init = 0 if a["init_from_first"] else a["n_carry"]
    return op._inputs[:n], op._inputs[n : n + n_init], op._inputs[n + n_init :]


def _scan_length(op):
    """The number of elements a ``TfstyleScan`` runs over, if static."""
    length = None
    for e in _scan_parts(op)[0]:
        d = e.shape.as_list()[0] if e.shape.ndims else None
        length = length if d is None else d
    return length


def _users(fg, t):
    """The ops of ``fg`` that take ``t``."""
    return [o for o in fg._ops if any(i is t for i in o._inputs)]


def _draws_random(fg):
    """Whether ``fg``, or control flow nested in it, draws random numbers. A loop's gradient
    written for TF runs its steps again (and TF's ``SymbolicGradient`` its step once more): the
    draws there would differ from the forward's, and the gradient would silently not be the
    loss's."""
    from tfstyle.ops.control_flow_ops import _subgraphs

    for o in fg._ops:
        if o.type in _CONTROL_FLOW_TYPES:  # marked random as they may hold random ops
            if any(_draws_random(g) for g in _subgraphs(o)):
                return True
        elif o._def is not None and o._def.random:
            return True
    return False


def _steps_differentiable(graphs, captured):
    """Whether the gradient of a loop or scan whose steps are ``graphs`` (taking ``captured``)
    can be written for TF, which runs the steps again: TF can differentiate them
    (``_differentiable_in_function``), they draw no random numbers (``_draws_random``), and they
    only read the variables they use (TF cannot sum the gradients of a resource argument used
    by several steps)."""
    return all(
        _differentiable_in_function(g) and not _draws_random(g) for g in graphs
    ) and _only_reads_variables(graphs, captured)


def _unrollable(op):
    """Whether a gradient through scan ``op`` can be written as its steps, unrolled: its length
    is static, it has a step, and ``_scan_callable``."""
    length = _scan_length(op)
    if length is None or length - (1 if op._attrs["init_from_first"] else 0) < 1:
        return False
    return _scan_callable(op)


def _value_types(types, captured):
    """Argument types of a function whose captured variables are passed as values."""
    return list(types) + [
        ops.variable_handle_op(t)._attrs["dtype"] if t._dtype is dtypes.resource else t.dtype
        for t in captured
    ]


def _value_shape(t):
    """The shape of the value passed for captured tensor ``t`` (a variable's, for its handle)."""
    if t._dtype is dtypes.resource:
        return _shape.as_shape(ops.variable_handle_op(t)._attrs.get("shape"))
    return t.shape


def _value_bindings(fg, captured, first):
    """Argument bindings (``_function_def``'s ``args``) of ``fg``'s captured tensors, its
    captured variables passed as values, and the ``prelude`` binding their reads in ``fg`` to
    those arguments (``first``: the index of the first captured argument)."""
    bindings, replaced = [], {}
    for k, ((inner, dt), outer) in enumerate(zip(_arg_bindings(fg, captured), captured)):
        if outer._dtype is dtypes.resource:
            if inner is not None:
                replaced[first + k] = inner
            inner, dt = None, ops.variable_handle_op(outer)._attrs["dtype"]
        bindings.append((inner, dt))

    def prelude(names, add_node):
        bound = {}
        for i, inner in replaced.items():
            # The handle itself is bound too: a gather of it becomes a GatherV2 of the value
            # (_function_def).
            bound[inner] = names[i]
            bound.update(
                (r._outputs[0], names[i]) for r in _users(fg, inner) if r.type == "ReadVariableOp"
            )
        return bound

    return bindings, prelude


def _scan_step_function(op, lib):
    """The ``FunctionDef`` of one step of scan ``op``: arguments the carries, the elements and
    the captured tensors, its captured variables passed as their values (their reads in the step
    becoming the argument); results the next carries and the step's outputs. Returns its
    name."""
    fg = op._attrs["fn"]
    captured = _scan_parts(op)[2]
    caps, prelude = _value_bindings(fg, captured, len(fg.inputs))
    args = [(t, t.dtype) for t in fg.inputs] + caps

    def build(fdef):
        _function_def(fdef, fg, lib, args, list(fg.outputs), _cf()._is_stateful(fg),
                      prelude=prelude, expand=True)  # fmt: skip

    return lib.add(fg, "ScanStep", build).name


def _while_differentiable(op):
    """Whether a gradient through ``While`` ``op`` can be written for TF
    (``_write_while_call``): no loop variable is a variant, and ``_steps_differentiable`` of its
    cond and body."""
    a = op._attrs
    if any(t.dtype is dtypes.variant for t in op._inputs):
        return False
    return _steps_differentiable((a["cond"], a["body"]), op._inputs)


def _only_reads_variables(graphs, captured, gathers=False):
    """Whether the resources among ``captured`` are variables that ``graphs`` only read (or,
    with ``gathers``, gather from), or pass on to control flow in them (which takes their
    values where it is written differentiably, ``_writes_differentiably``)."""
    kinds = ("ReadVariableOp", "ResourceGather") if gathers else ("ReadVariableOp",)
    for fg in graphs:
        inner = dict(fg.captures)
        for t in captured:
            if t._dtype is not dtypes.resource:
                continue
            if ops.variable_handle_op(t) is None:
                return False
            if t in inner and any(
                o.type not in kinds and o.type not in _CONTROL_FLOW_TYPES
                for o in _users(fg, inner[t])
            ):
                return False
    return True


class _FunctionBuilder:
    """Writes a ``FunctionDef`` node by node: arguments ``a0``..., results ``out0``..."""

    def __init__(self, lib, name, in_types, out_types):
        self.fdef = lib.proto.function.add()
        self.name = _fresh(name, lib.used)
        sig = self.fdef.signature
        sig.name = self.name
        self.args = []
        for i, dt in enumerate(in_types):
            self.args.append(f"a{i}")
            sig.input_arg.add(name=f"a{i}", type=dtypes.as_dtype(dt).as_datatype_enum)
        for i, dt in enumerate(out_types):
            sig.output_arg.add(name=f"out{i}", type=dtypes.as_dtype(dt).as_datatype_enum)
        self.taken = set(self.args)

    def node(self, name, op_type, inputs, **attrs):
        name = _fresh(name, self.taken)
        nd = self.fdef.node_def.add(name=name, op=op_type)
        nd.input.extend(inputs)
        for k, v in attrs.items():
            nd.attr[k].CopyFrom(attr_value(v))
        return name

    def const(self, name, value):
        value = np.asarray(value)
        node = self.node(name, "Const", [], dtype=dtypes.as_dtype(value.dtype), value=value)
        return f"{node}:output:0"

    def returns(self, refs):
        for i, r in enumerate(refs):
            self.fdef.ret[f"out{i}"] = r
        return attr_value_pb2.NameAttrList(name=self.name)


def _loop_attrs(types, cond, body):
    return {
        "T": list(types),
        "cond": cond,
        "body": body,
        "output_shapes": [_shape.unknown_shape()] * len(types),
        "parallel_iterations": 10,
    }


def _while_gradient_function(op, attrs, lib, fname):
    """The gradient of a ``While`` as TF's ``SymbolicGradient`` can compute it: a function of
    the loop's inputs and its outputs' gradients that runs the loop again, pushing the loop
    variables of every iteration onto TensorLists, then a second loop that pops them in reverse
    and applies the ``SymbolicGradient`` of the body (loop-free) to the running gradients."""
    types = attrs["T"]
    nt, nv = len(types), 2 + len(op._attrs["cond"].inputs)  # all, and the carried ones
    i32, var = dtypes.int32, dtypes.variant
    cond, body = attrs["cond"].name, attrs["body"].name
    acc_types = types[:nv]

    # The forward loop: (loop variables, iterations, one list per carried variable).
    fwd_types = [*types, i32, *[var] * nv]
    c = _FunctionBuilder(lib, f"{fname}_fwd_cond", fwd_types, [dtypes.bool])
    call = c.node("cond", cond, c.args[:nt])
    fwd_cond = c.returns([f"{call}:out0:0"])
    b = _FunctionBuilder(lib, f"{fname}_fwd_body", fwd_types, fwd_types)
    call = b.node("body", body, b.args[:nt])
    count = b.node("count", "AddV2", [b.args[nt], b.const("one", np.int32(1))], T=i32)
    pushed = []
    for j, dt in enumerate(acc_types):
        push = b.node("push", "TensorListPushBack", [b.args[nt + 1 + j], b.args[j]],
                      element_dtype=dt)  # fmt: skip
        pushed.append(f"{push}:output_handle:0")
    fwd_body = b.returns([*(f"{call}:out{k}:0" for k in range(nt)), f"{count}:z:0", *pushed])

    # The backward loop: (iterations left, gradients, lists, captured values).
    bwd_types = [i32, *types, *[var] * nv, *types[nv:]]
    c = _FunctionBuilder(lib, f"{fname}_bwd_cond", bwd_types, [dtypes.bool])
    more = c.node("more", "Greater", [c.args[0], c.const("zero", np.int32(0))], T=i32)
    bwd_cond = c.returns([f"{more}:z:0"])
    b = _FunctionBuilder(lib, f"{fname}_bwd_body", bwd_types, bwd_types)
    shape = b.const("element_shape", np.int32(-1))
    lists, xs = [], []
    for j, dt in enumerate(acc_types):
        pop = b.node("pop", "TensorListPopBack", [b.args[1 + nt + j], shape], element_dtype=dt)
        lists.append(f"{pop}:output_handle:0")
        xs.append(f"{pop}:tensor:0")
    xs += b.args[1 + nt + nv :]
    grad = b.node("grad", "SymbolicGradient", [*xs, *b.args[1 : 1 + nt]],
                  f=attr_value_pb2.NameAttrList(name=body), Tin=[*types, *types], Tout=types)  # fmt: skip
    left = b.node("left", "Sub", [b.args[0], b.const("one", np.int32(1))], T=i32)
    bwd_body = b.returns([f"{left}:z:0", *(f"{grad}:output:{k}" for k in range(nt)), *lists,
                          *b.args[1 + nt + nv :]])  # fmt: skip

    g = _FunctionBuilder(lib, f"{fname}_grad", [*types, *types], types)
    xs, dys = g.args[:nt], g.args[nt:]
    unknown = g.const("unknown", np.int32(-1))  # element shape, and no maximum size
    empty = []
    for dt in acc_types:
        acc = g.node("accumulator", "EmptyTensorList", [unknown, unknown], element_dtype=dt,
                     shape_type=i32)  # fmt: skip
        empty.append(f"{acc}:handle:0")
    fwd = g.node("forward", "While", [*xs, g.const("zero", np.int32(0)), *empty],
                 **_loop_attrs(fwd_types, fwd_cond, fwd_body))  # fmt: skip
    bwd = g.node(
        "backward", "While",
        [f"{fwd}:output:{nt}", *dys, *(f"{fwd}:output:{nt + 1 + j}" for j in range(nv)),
         *xs[nv:]],
        **_loop_attrs(bwd_types, bwd_cond, bwd_body),
    )  # fmt: skip
    return g.returns([f"{bwd}:output:{1 + k}" for k in range(nt)])


def _if_differentiable(op):
    """Whether a gradient through ``If`` ``op`` can be written for TF (``_write_if_call``): TF
    can differentiate its branches (``_differentiable_in_function``), and the variables it uses
    are only read."""
    from tfstyle.ops.control_flow_ops import _subgraphs

    branches = _subgraphs(op)
    for fg in branches:
        if not _differentiable_in_function(fg):
            return False
    # A gather of a variable is written as one of its value (``_expand_gather``).
    return _only_reads_variables(branches, op._inputs[1:], gathers=True)


def _write_if_call(fdef, op, refer, value_of, lib, taken):
    """Writes ``If`` ``op`` into a gradient function's body as a call of a function holding it,
    with a gradient function registered for it: an ``If`` on the same predicate of the
    ``SymbolicGradient``s of the branches (TF cannot differentiate an ``If`` in a function
    itself). The variables the branches read are passed as values. Returns ``{output of op:
    reference}``."""
    case = op.type in ("Case", "StatelessCase")
    attrs = (_export_case if case else _export_if)(op, lib, as_value=True)
    tin, tout = attrs["Tin"], attrs["Tout"]
    tcond = dtypes.int32 if case else attrs["Tcond"]
    name = _holding_function(lib, op, "case" if case else "cond", [tcond, *tin], tout, attrs)

    def branch_gradient(key, f):
        b = _FunctionBuilder(lib, f"{name}_{key}_grad", [*tin, *tout], tin)
        grad = b.node("grad", "SymbolicGradient", b.args, Tin=[*tin, *tout], Tout=tin,
                      f=f)  # fmt: skip
        return b.returns([f"{grad}:output:{k}" for k in range(len(tin))])

    g = _FunctionBuilder(lib, f"{name}_grad", [tcond, *tin, *tout], [tcond, *tin])
    if case:
        # The gradient of a Case: a Case on the same index of its branches' gradients.
        branches = [branch_gradient(f"branch{k}", f) for k, f in enumerate(attrs["branches"])]
        grads = g.node(
            "case", "Case", g.args, Tin=[*tin, *tout], Tout=tin, branches=branches,
            output_shapes=[_shape.unknown_shape()] * len(tin),
        )  # fmt: skip
    else:
        grads = g.node(
            "cond", "If", g.args, Tcond=tcond, Tin=[*tin, *tout], Tout=tin,
            then_branch=branch_gradient("then_branch", attrs["then_branch"]),
            else_branch=branch_gradient("else_branch", attrs["else_branch"]),
            output_shapes=[_shape.unknown_shape()] * len(tin),
        )  # fmt: skip
    no_pred = g.node("pred_grad", "ZerosLike", [g.args[0]], T=tcond)  # the predicate's
    g.returns([f"{no_pred}:y:0", *(f"{grads}:output:{k}" for k in range(len(tin)))])
    return _write_call(fdef, op, name, g.name, lib, refer, value_of, taken)


def _holding_function(lib, op, kind, in_types, out_types, attrs=None):
    """A library function that TF does not inline, holding a copy of ``op`` (with attributes
    ``attrs``, else its own); returns its name."""
    base = "".join(c if c.isalnum() or c == "_" else "_" for c in op.name)
    f = _FunctionBuilder(lib, f"{base}_{kind}", in_types, out_types)
    nd = f.fdef.node_def.add(name=op.name, op=op.type)
    nd.input.extend(f.args)
    if attrs is None:
        _fill_attrs(nd, op, lib)
    for k, v in (attrs or {}).items():
        nd.attr[k].CopyFrom(attr_value(v))
    f.fdef.attr["_noinline"].b = True
    return f.returns([_body_output_name(t) for t in op._outputs]).name


def _write_differentiably(fdef, op, refer, value_of, lib, taken):
    """Writes control-flow op ``op`` (``_writes_differentiably``) into the body of a function
    that TF differentiates. Returns ``{output of op: reference}``."""
    if op.type == "TfstyleScan":
        write = _write_unrolled_scan if _unrollable(op) else _write_scan_call
        return write(fdef, op, refer, value_of, lib, taken)
    if op.type in _COND_TYPES:
        return _write_if_call(fdef, op, refer, value_of, lib, taken)
    return _write_while_call(fdef, op, refer, value_of, lib, taken)


def _write_call(fdef, op, name, gradient, lib, refer, value_of, taken):
    """Registers ``gradient`` as library function ``name``'s gradient and writes a call of
    ``name`` in place of ``op``. Returns ``{output of op: reference}``."""
    lib.proto.gradient.add(function_name=name, gradient_func=gradient)
    ins = [value_of(t) or refer(t) for t in op._inputs]
    call = _fresh(op.name, taken)
    fdef.node_def.add(name=call, op=name).input.extend(ins)
    return {t: f"{call}:out{k}:0" for k, t in enumerate(op._outputs)}


def _write_while_call(fdef, op, refer, value_of, lib, taken):
    """Writes ``While`` ``op`` into a gradient function's body as a call of a function holding
    the loop, with the gradient function ``_while_gradient_function`` registered for it (TF
    uses a function's registered gradient where it is not inlined). The variables the loop
    reads are passed as values. Returns ``{output of op: reference}``."""
    attrs = _export_while(op, lib, as_value=True)
    name = _holding_function(lib, op, "while", attrs["T"], attrs["T"], attrs)
    grad = _while_gradient_function(op, attrs, lib, name)
    return _write_call(fdef, op, name, grad.name, lib, refer, value_of, taken)


# Ops with integer results that TF has no function gradient of: TF's SymbolicGradient fails on
# them even where no gradient flows (a loop counter's `i % n` in a loop's body).
_INTEGER_OPS_WITHOUT_GRADIENT = ("FloorMod", "TruncateMod", "Mod", "ArgMax", "ArgMin")


def _has_no_gradient(op):
    """Whether ``op`` is one of ``_INTEGER_OPS_WITHOUT_GRADIENT`` with only integer results, or
    a ``OneHot`` of constant on and off values: ops that TF cannot differentiate in a function
    and whose gradients are zeros."""
    if op.type == "OneHot":
        return all(t.op.type == "Const" for t in op._inputs[2:4])
    return op.type in _INTEGER_OPS_WITHOUT_GRADIENT and all(t.dtype.is_integer for t in op._outputs)


def _written_as_call(op):
    """Whether ``op`` is written in a function that TF differentiates as a call with a
    registered gradient (``_write_op_call``): ``_has_no_gradient``, or a ``ReverseSequence``
    (``bidirectional_dynamic_rnn`` with sequence lengths), which TF has no function gradient of."""
    return op.type == "ReverseSequence" or _has_no_gradient(op)


def _write_op_call(fdef, op, refer, lib, taken):
    """Writes ``op`` (``_written_as_call``) into a gradient function's body as a call of a
    function holding it, with a gradient function registered for it: zeros, or for a
    ``ReverseSequence`` the incoming gradient reversed the same way. Returns ``{output of op:
    reference}``."""
    in_types = [t.dtype for t in op._inputs]
    out_types = [t.dtype for t in op._outputs]
    name = _holding_function(lib, op, "call", in_types, out_types)
    base = "".join(c if c.isalnum() or c == "_" else "_" for c in op.name)
    g = _FunctionBuilder(lib, f"{base}_gradient", [*in_types, *out_types], in_types)
    grads = [f"{g.node('zeros', 'ZerosLike', [a], T=dt)}:y:0" for a, dt in zip(g.args, in_types)]
    if op.type == "ReverseSequence":
        a = op._attrs
        back = g.node("reverse", "ReverseSequence", [g.args[2], g.args[1]], T=a["T"],
                      Tlen=a["Tlen"], seq_dim=a["seq_dim"], batch_dim=a["batch_dim"])  # fmt: skip
        grads[0] = f"{back}:output:0"
    return _write_call(fdef, op, name, g.returns(grads).name, lib, refer, lambda t: None, taken)


def _scan_callable(op):
    """Whether a gradient through scan ``op`` can be written for TF as a call with a registered
    gradient (``_write_scan_call``): it has elements, and ``_steps_differentiable`` of its
    step."""
    return op._attrs["n_elems"] > 0 and _steps_differentiable([op._attrs["fn"]], _scan_parts(op)[2])


def _write_scan_call(fdef, op, refer, value_of, lib, taken):
    """Writes scan ``op`` into a gradient function's body as a call of a function holding it
    (its captured variables taken as values), with ``_scan_gradient_function`` registered as
    its gradient. Returns ``{output of op: reference}``."""
    elems, init, captured = _scan_parts(op)
    in_types = [t.dtype for t in [*elems, *init]] + _value_types([], captured)
    out_types = list(op._attrs["Tout"])
    base = "".join(c if c.isalnum() or c == "_" else "_" for c in op.name)
    f = _FunctionBuilder(lib, f"{base}_scan", in_types, out_types)
    args = dict(zip(op._inputs, f.args))
    outs = _write_scan(op, _FunctionWriter(f.fdef, f.taken), args.__getitem__, lib, [],
                       as_value=True)  # fmt: skip
    f.fdef.attr["_noinline"].b = True
    name = f.returns(outs).name
    grad = _scan_gradient_function(op, lib, name, in_types, out_types)
    return _write_call(fdef, op, name, grad.name, lib, refer, value_of, taken)


def _scan_gradient_function(op, lib, fname, in_types, out_types):
    """The gradient of a scan's holding function (``_write_scan_call``) as TF's
    ``SymbolicGradient`` can compute it: from the scan's inputs and its outputs' gradients, a
    loop that runs the scan's steps again, pushing every step's carries onto TensorLists, then a
    loop over the steps in reverse that pops them and applies the ``SymbolicGradient`` of the
    step function, writing each element's gradient and summing the captured values'. A scan
    without initial carries starts from its first element (the last, in reverse), whose
    gradient is then the first carries'."""
    a = op._attrs
    m, reverse = a["n_carry"], a["reverse"]
    from_first, emit_init = a["init_from_first"], a["emit_init"]
    elems, init, captured = _scan_parts(op)
    n, ni, c = len(elems), len(init), len(captured)
    et, vt = in_types[:n], in_types[n + ni :]
    ct, yt = out_types[:m], out_types[m:]
    i32, var = dtypes.int32, dtypes.variant
    step = _scan_step_function(op, lib)

    def position(b, k, trips):
        # The element that step k of ``trips`` takes (one past the first, from the first).
        if reverse:
            last = b.node("last", "Sub", [trips, b.const("one", np.int32(1))], T=i32)
            return f"{b.node('index', 'Sub', [f'{last}:z:0', k], T=i32)}:z:0"
        if from_first:
            return f"{b.node('index', 'AddV2', [k, b.const('one', np.int32(1))], T=i32)}:z:0"
        return k

    def element(b, tensor, i, dtype):
        axis = b.const("axis", np.int32(0))
        gather = b.node("element", "GatherV2", [tensor, i, axis], Tparams=dtype, Tindices=i32,
                        Taxis=i32, batch_dims=0)  # fmt: skip
        return f"{gather}:output:0"

    def below_count(name, types):
        # A loop's condition: its counter (the first variable) below the count (the second).
        f = _FunctionBuilder(lib, name, types, [dtypes.bool])
        return f.returns([f"{f.node('less', 'Less', f.args[:2], T=i32)}:z:0"])

    # The forward loop: (counter, trips, carries, their lists, elements, captured values).
    fwd_types = [i32, i32, *ct, *[var] * m, *et, *vt]
    b = _FunctionBuilder(lib, f"{fname}_fwd_body", fwd_types, fwd_types)
    k, trips = b.args[:2]
    carries, lists = b.args[2 : 2 + m], b.args[2 + m : 2 + 2 * m]
    es, vs = b.args[2 + 2 * m : 2 + 2 * m + n], b.args[2 + 2 * m + n :]
    i = position(b, k, trips)
    xs = [element(b, e, i, dt) for e, dt in zip(es, et)]
    pushed = [f"{b.node('push', 'TensorListPushBack', [acc, v], element_dtype=dt)}:output_handle:0"
              for acc, v, dt in zip(lists, carries, ct)]  # fmt: skip
    call = b.node("step", step, [*carries, *xs, *vs])
    nxt = b.node("next", "AddV2", [k, b.const("one", np.int32(1))], T=i32)
    fwd_body = b.returns([f"{nxt}:z:0", trips, *(f"{call}:out{r}:0" for r in range(m)), *pushed,
                          *es, *vs])  # fmt: skip

    # The backward loop: (counter, trips, carries' gradients, captured values' gradients,
    # lists of carries, lists of elements' gradients, elements, captured values, outputs'
    # gradients).
    bwd_types = [i32, i32, *ct, *vt, *[var] * (m + n), *et, *vt, *yt]
    b = _FunctionBuilder(lib, f"{fname}_bwd_body", bwd_types, bwd_types)
    k, trips = b.args[:2]
    dcarries, dcaps = b.args[2 : 2 + m], b.args[2 + m : 2 + m + c]
    lists = b.args[2 + m + c : 2 + 2 * m + c]
    dlists = b.args[2 + 2 * m + c : 2 + 2 * m + c + n]
    rest = b.args[2 + 2 * m + c + n :]
    es, vs, dys = rest[:n], rest[n : n + c], rest[n + c :]
    # Counter k walks the steps from the last: step trips - 1 - k.
    last = b.node("last_step", "Sub", [trips, b.const("one", np.int32(1))], T=i32)
    i = position(b, f"{b.node('step_index', 'Sub', [f'{last}:z:0', k], T=i32)}:z:0", trips)
    shape = b.const("element_shape", np.int32(-1))
    popped, carried = [], []
    for acc, dt in zip(lists, ct):
        pop = b.node("pop", "TensorListPopBack", [acc, shape], element_dtype=dt)
        popped.append(f"{pop}:output_handle:0")
        carried.append(f"{pop}:tensor:0")
    xs = [element(b, e, i, dt) for e, dt in zip(es, et)]
    dy = [element(b, d, i, dt) for d, dt in zip(dys, yt)]  # stacked in the elements' order
    grad = b.node("grad", "SymbolicGradient", [*carried, *xs, *vs, *dcarries, *dy],
                  f=attr_value_pb2.NameAttrList(name=step), Tin=[*ct, *et, *vt, *ct, *yt],
                  Tout=[*ct, *et, *vt])  # fmt: skip
    new_dcarries = [f"{grad}:output:{r}" for r in range(m)]
    written = []
    for j, (dl, dt) in enumerate(zip(dlists, et)):
        put = b.node("write", "TensorListSetItem", [dl, i, f"{grad}:output:{m + j}"],
                     element_dtype=dt, resize_if_index_out_of_bounds=False)  # fmt: skip
        written.append(f"{put}:output_handle:0")
    summed = []
    for j, (acc, dt) in enumerate(zip(dcaps, vt)):
        g = f"{grad}:output:{m + n + j}"
        summed.append(f"{b.node('sum', 'AddV2', [acc, g], T=dt)}:z:0" if dt.is_floating else acc)
    nxt = b.node("next", "AddV2", [k, b.const("one", np.int32(1))], T=i32)
    bwd_body = b.returns([f"{nxt}:z:0", trips, *new_dcarries, *summed, *popped, *written,
                          *rest])  # fmt: skip

    g = _FunctionBuilder(lib, f"{fname}_grad", [*in_types, *out_types], in_types)
    es, init, vs = g.args[:n], g.args[n : n + ni], g.args[n + ni : n + ni + c]
    dcarries, dys = g.args[n + ni + c : n + ni + c + m], g.args[n + ni + c + m :]
    dims = g.node("shape", "Shape", [es[0]], T=et[0], out_type=i32)
    count = g.node("count", "StridedSlice",
                   [f"{dims}:output:0", *(g.const(k, np.array([v], np.int32))
                                          for k, v in (("begin", 0), ("end", 1), ("strides", 1)))],
                   T=i32, Index=i32, begin_mask=0, end_mask=0, ellipsis_mask=0, new_axis_mask=0,
                   shrink_axis_mask=1)  # fmt: skip
    trips = count = f"{count}:output:0"
    if from_first:
        one = g.const("one", np.int32(1))
        trips = f"{g.node('trips', 'Sub', [count, one], T=i32)}:z:0"
        first = trips if reverse else g.const("first", np.int32(0))
        init = [element(g, e, first, dt) for e, dt in zip(es, et)]
    unknown = g.const("unknown", np.int32(-1))
    empty = []
    for dt in ct:
        acc = g.node("accumulator", "EmptyTensorList", [unknown, unknown], element_dtype=dt,
                     shape_type=i32)  # fmt: skip
        empty.append(f"{acc}:handle:0")
    zero = g.const("zero", np.int32(0))
    fwd = g.node("forward", "While", [zero, trips, *init, *empty, *es, *vs],
                 **_loop_attrs(fwd_types, below_count(f"{fname}_cond", fwd_types),
                               fwd_body))  # fmt: skip
    zeros = [f"{g.node('zeros', 'ZerosLike', [v], T=dt)}:y:0" for v, dt in zip(vs, vt)]
    element_shapes = [
        g.const("element_shape", _element_shape_value(e.shape[1:] if e.shape.ndims else None))
        for e in elems
    ]
    reserved = []
    for es_ref, dt in zip(element_shapes, et):
        node = g.node("gradients", "TensorListReserve", [es_ref, count], element_dtype=dt,
                      shape_type=i32)  # fmt: skip
        reserved.append(f"{node}:handle:0")
    bwd = g.node(
        "backward", "While",
        [zero, trips, *dcarries, *zeros, *(f"{fwd}:output:{2 + m + r}" for r in range(m)),
         *reserved, *es, *vs, *dys],
        **_loop_attrs(bwd_types, below_count(f"{fname}_bwd_cond", bwd_types), bwd_body),
    )  # fmt: skip
    dinit = [f"{bwd}:output:{2 + r}" for r in range(m)]
    dlists = [f"{bwd}:output:{2 + 2 * m + c + r}" for r in range(n)]
    if from_first:
        # The first element was the first carries (and, emitted, the first outputs).
        for r, dt in enumerate(ct):
            if emit_init:
                dy = element(g, dys[r], first, dt)
                dinit[r] = f"{g.node('first_output', 'AddV2', [dinit[r], dy], T=dt)}:z:0"
            put = g.node("first", "TensorListSetItem", [dlists[r], first, dinit[r]],
                         element_dtype=dt, resize_if_index_out_of_bounds=False)  # fmt: skip
            dlists[r] = f"{put}:output_handle:0"
        dinit = []
    d_elems = []
    for dl, es_ref, dt in zip(dlists, element_shapes, et):
        stack = g.node("stack", "TensorListStack", [dl, es_ref], element_dtype=dt,
                       num_elements=-1)  # fmt: skip
        d_elems.append(f"{stack}:tensor:0")
    return g.returns([*d_elems, *dinit, *(f"{bwd}:output:{2 + m + r}" for r in range(c))])


def _write_unrolled_scan(fdef, op, refer, value_of, lib, taken):
    """Writes scan ``op`` into a gradient function's body as TF can differentiate it: one call
    of its step function per element (``_scan_step_function``), the elements unstacked with
    ``Unpack`` and the per-step outputs stacked with ``Pack``, in the order the loop of
    ``_write_scan`` visits them. ``value_of(t)`` names the value argument of a captured
    variable that is differentiated. Returns ``{output of op: reference}``."""
    a = op._attrs
    m, reverse = a["n_carry"], a["reverse"]
    from_first, emit_init = a["init_from_first"], a["emit_init"]
    elems, init, captured = _scan_parts(op)
    length = _scan_length(op)
    trips = length - 1 if from_first else length
    values = [value_of(t) for t in captured]
    step = _scan_step_function(op, lib)
    w = _Expansion(fdef, op, taken)
    caps = [v if v is not None else refer(t) for v, t in zip(values, captured)]
    items = []
    for e in elems:
        out = w.node("unstack", "Unpack", [refer(e)], "output", T=e.dtype, num=length, axis=0)
        items.append([f"{out[:-2]}:{k}" for k in range(length)])
    first = length - 1 if reverse else 0
    carries = [x[first] for x in items] if from_first else [refer(t) for t in init]
    ys = [[None] * length for _ in op._outputs[m:]]
    if emit_init:
        for j, c in enumerate(carries):
            ys[j][first] = c
    for k in range(trips):
        i = k + 1 if from_first and not reverse else (trips - 1 - k if reverse else k)
        ins = [*carries, *(x[i] for x in items), *caps]
        name = _fresh(f"{op.name}/step", taken)
        fdef.node_def.add(name=name, op=step).input.extend(ins)
        outs = [f"{name}:out{r}:0" for r in range(m + len(ys))]
        carries = outs[:m]
        for j, y in enumerate(outs[m:]):
            ys[j][i] = y
    result = dict(zip(op._outputs[:m], carries))
    for y, per_step in zip(op._outputs[m:], ys):
        present = next(r for r in per_step if r is not None)
        zeros = None
        for i, r in enumerate(per_step):
            if r is None:  # an element no step writes (foldl/scan from the first one)
                zeros = zeros or w.node("zeros", "ZerosLike", [present], "y", T=y.dtype)
                per_step[i] = zeros
        result[y] = w.node("stack", "Pack", per_step, "output", T=y.dtype, N=length, axis=0)
    return result


# Ops that TF cannot differentiate inside a function (they have no function gradient), written
# there as ops it can differentiate.
def _dilated_filter(e, kernel, shape, rates):
    """``kernel`` (of static ``shape`` ``[h, w, in, out]``) with ``rate - 1`` zeros between its
    taps along h and w: the filter that an undilated convolution needs to compute a dilated
    one."""
    i32 = dtypes.int32
    shape = list(shape)
    for axis, rate in ((0, rates[0]), (1, rates[1])):
        if rate == 1:
            continue
        spread = shape[:axis] + [shape[axis] * rate] + shape[axis + 1 :]
        taps = (shape[axis] - 1) * rate + 1
        zeros = shape[: axis + 1] + [rate - 1] + shape[axis + 1 :]
        zeros = e.const("zeros", np.zeros(zeros, e.op._inputs[1].dtype.as_numpy_dtype))
        x = e.node("ExpandDims", "ExpandDims", [kernel, e.const("axis", np.int32(axis + 1))],
                   "output", T=e.t, Tdim=i32)  # fmt: skip
        # (ConcatV2 rather than Pad, which has no function gradient in TF.)
        x = e.node("concat", "ConcatV2", [x, zeros, e.const("concat/axis", np.int32(axis + 1))],
                   "output", T=e.t, N=2, Tidx=i32)  # fmt: skip
        x = e.node("Reshape", "Reshape", [x, e.const("shape", np.array(spread, np.int32))],
                   "output", T=e.t, Tshape=i32)  # fmt: skip
        end = list(spread)
        end[axis] = taps
        x = e.node(
            "StridedSlice", "StridedSlice",
            [x, e.const("begin", np.zeros(4, np.int32)), e.const("end", np.array(end, np.int32)),
             e.const("strides", np.ones(4, np.int32))],
            "output", T=e.t, Index=i32, begin_mask=0, end_mask=0, ellipsis_mask=0,
            new_axis_mask=0, shrink_axis_mask=0,
        )  # fmt: skip
        kernel = x
        shape[axis] = taps
    return kernel


def _write_as_is(fdef, op, inputs):
    """Writes ``op`` into a function's body under its own name, with inputs ``inputs``."""
    nd = fdef.node_def.add(name=op.name, op=op.type)
    nd.input.extend(inputs)
    if op._device:
        nd.device = op._device
    _fill_attrs(nd, op, None)
    return nd


def _expand_reduction(fdef, op, inputs, taken):
    """A reduction over negative axes: TF's function gradients of reductions need them
    non-negative."""
    from tfstyle.ops import _base

    x, axis = op._inputs
    value = _base.constant_value(axis)
    if value is not None and x.shape.ndims is not None and np.any(np.asarray(value) < 0):
        value = np.asarray(value)
        fixed = _Expansion(fdef, op, taken).const(
            "axis", (value % x.shape.ndims).astype(value.dtype)
        )
        inputs = [inputs[0], fixed]
    _write_as_is(fdef, op, inputs)
    return {}


_SELU_ALPHA, _SELU_SCALE = 1.6732632423543772, 1.0507009873554805


def _expand_activation(fdef, op, inputs, taken):
    """``Elu``, ``Selu``, ``LeakyRelu``, ``Softplus``, ``Softsign`` from ops with function
    gradients (TF has none for these). ``exp`` is taken of ``min(x, 0)`` (of ``min(x, 20)``
    for softplus) so that the branch a select drops cannot overflow into a NaN gradient."""
    e = _Expansion(fdef, op, taken)
    x, kind = inputs[0], op.type
    dt = dtypes.as_dtype(op._attrs["T"]).as_numpy_dtype

    def const(name, v):
        return e.const(name, np.array(v, dt))

    def node(name, *ins, out="z"):
        return e.node(name, name, list(ins), out, T=e.t)

    if kind == "Softsign":
        y = node("RealDiv", x, node("AddV2", const("one", 1), node("Abs", x, out="y")))
    elif kind == "Softplus":
        small = node("Exp", node("Minimum", x, const("limit", 20)), out="y")
        soft = node("Log", node("AddV2", const("one", 1), small), out="y")
        y = node("Select", node("Greater", x, const("limit", 20)), x, soft, out="output")
    else:
        if kind == "LeakyRelu":
            negative = node("Mul", x, const("alpha", op._attrs.get("alpha", 0.2)))
        else:
            expm1 = node("Sub", node("Exp", node("Minimum", x, const("zero", 0)), out="y"),
                         const("one", 1))  # fmt: skip
            negative = node("Mul", expm1, const("alpha", _SELU_ALPHA)) if kind == "Selu" else expm1
        y = node("Select", node("Greater", x, const("zero", 0)), x, negative, out="output")
        if kind == "Selu":
            y = node("Mul", y, const("scale", _SELU_SCALE))
    return {op._outputs[0]: y}


def _expand_select_v2(fdef, op, inputs, taken):
    """``SelectV2`` (``tf.where``, dropout) as a ``Select``, which TF has a function gradient
    of and which takes inputs of one shape: where the shapes differ, each is broadcast by adding
    zeros of the common shape (so that the gradients of the adds sum over the broadcast axes)."""
    e = _Expansion(fdef, op, taken)
    c, x, y = inputs
    shapes = [t.shape for t in op._inputs]
    if all(s.is_fully_defined() for s in shapes) and len({tuple(s.as_list()) for s in shapes}) == 1:
        return {op._outputs[0]: e.node("Select", "Select", [c, x, y], "output", T=e.t)}
    t = e.t
    mask = e.node("Cast", "Cast", [c], "y", SrcT=dtypes.bool, DstT=t)
    zeros = e.node("ZerosLike", "ZerosLike", [mask], "y", T=t)
    for v in (x, y):
        zeros = e.node("zeros", "AddV2", [zeros, e.node("ZerosLike", "ZerosLike", [v], "y", T=t)],
                       "z", T=t)  # fmt: skip
    wide = e.node("wide_mask", "AddV2", [mask, zeros], "z", T=t)
    cond = e.node("condition", "Cast", [wide], "y", SrcT=t, DstT=dtypes.bool)
    x, y = (e.node("broadcast", "AddV2", [v, zeros], "z", T=t) for v in (x, y))
    return {op._outputs[0]: e.node("Select", "Select", [cond, x, y], "output", T=t)}


def _expand_add_n(fdef, op, inputs, taken):
    """``AddN`` as a chain of ``AddV2`` (TF has no function gradient for ``AddN``)."""
    e = _Expansion(fdef, op, taken)
    total = inputs[0] if len(inputs) == 1 else None
    for x in inputs[1:]:
        total = e.node("AddV2", "AddV2", [total or inputs[0], x], "z", T=e.t)
    if total == inputs[0]:
        total = e.node("Identity", "Identity", [total], "output", T=e.t)
    return {op._outputs[0]: total}


def _expand_pad_or_tile(fdef, op, inputs, taken):
    """``Pad``/``PadV2`` (constant) and ``Tile`` of a static shape as concatenations along each
    axis, of zero blocks or copies (TF has no function gradient for these)."""
    from tfstyle.ops import _base

    x = op._inputs[0]
    amounts = _base.constant_value(op._inputs[1])
    fill = _base.constant_value(op._inputs[2]) if op.type == "PadV2" else 0
    if amounts is None or fill is None or not x.shape.is_fully_defined():
        _write_as_is(fdef, op, inputs)  # TF's error names the op when the gradient runs
        return {}
    e = _Expansion(fdef, op, taken)
    shape, dt = list(x.shape.as_list()), x.dtype.as_numpy_dtype
    y = inputs[0]
    for axis, amount in enumerate(np.asarray(amounts).tolist()):
        if op.type == "Tile":
            parts = [y] * amount
            shape[axis] *= amount
        else:
            before, after = amount
            parts = []
            for n in (before, after):
                block = shape[:axis] + [n] + shape[axis + 1 :]
                parts.append(e.const("fill", np.full(block, fill, dt)) if n else None)
            parts = [p for p in (parts[0], y, parts[1]) if p is not None]
            shape[axis] += before + after
        if len(parts) == 1:
            continue
        y = e.node("concat", "ConcatV2", [*parts, e.const("axis", np.int32(axis))], "output",
                   T=e.t, N=len(parts), Tidx=dtypes.int32)  # fmt: skip
    if y == inputs[0]:
        y = e.node("Identity", "Identity", [y], "output", T=e.t)
    return {op._outputs[0]: y}


def _expand_conv_transpose(fdef, op, inputs, taken):
    """``Conv2DBackpropInput`` (``conv2d_transpose``; no function gradient in TF), NHWC with
    static shapes: an undilated stride-1 ``Conv2D`` of the input spread apart by the strides
    (zeros between its pixels), padded with zeros, with the filter flipped in space and its
    channels swapped."""
    a = op._attrs
    _, kernel_t, x_t = op._inputs
    out = op._outputs[0].shape
    nhwc = a.get("data_format", "NHWC") in ("NHWC", b"NHWC")
    strides, dilations = list(a["strides"]), list(a.get("dilations") or [1, 1, 1, 1])
    padding = a["padding"].decode() if isinstance(a["padding"], bytes) else a["padding"]
    shapes_known = all(t.is_fully_defined() for t in (x_t.shape, kernel_t.shape, out))
    if (
        not nhwc
        or dilations != [1, 1, 1, 1]
        or padding not in ("SAME", "VALID")
        or not (shapes_known)
    ):
        _write_as_is(fdef, op, inputs)  # TF's error names the op when the gradient runs
        return {}
    e = _Expansion(fdef, op, taken)
    i32, dt = dtypes.int32, x_t.dtype.as_numpy_dtype
    shape = x_t.shape.as_list()
    kh, kw, c_out, c_in = kernel_t.shape.as_list()
    y = inputs[2]
    for axis, k, stride, size in ((1, kh, strides[1], out[1]), (2, kw, strides[2], out[2])):
        n = shape[axis]
        if stride > 1:  # stride - 1 zeros after each pixel, then the last ones cut off
            zeros = shape[: axis + 1] + [stride - 1] + shape[axis + 1 :]
            y = e.node("ExpandDims", "ExpandDims", [y, e.const("axis", np.int32(axis + 1))],
                       "output", T=e.t, Tdim=i32)  # fmt: skip
            y = e.node("concat", "ConcatV2", [y, e.const("zeros", np.zeros(zeros, dt)),
                       e.const("concat/axis", np.int32(axis + 1))], "output", T=e.t, N=2,
                       Tidx=i32)  # fmt: skip
            spread = shape[:axis] + [n * stride] + shape[axis + 1 :]
            y = e.node("Reshape", "Reshape", [y, e.const("shape", np.array(spread, np.int32))],
                       "output", T=e.t, Tshape=i32)  # fmt: skip
            end = list(spread)
            end[axis] = (n - 1) * stride + 1
            y = e.node("StridedSlice", "StridedSlice",
                       [y, e.const("begin", np.zeros(4, np.int32)),
                        e.const("end", np.array(end, np.int32)),
                        e.const("strides", np.ones(4, np.int32))],
                       "output", T=e.t, Index=i32, begin_mask=0, end_mask=0, ellipsis_mask=0,
                       new_axis_mask=0, shrink_axis_mask=0)  # fmt: skip
            shape = end
        total = max((n - 1) * stride + k - size, 0) if padding == "SAME" else 0
        before = k - 1 - total // 2
        after = size + k - 1 - shape[axis] - before
        if before < 0 or after < 0:
            raise NotImplementedError(f"Cannot export the gradient through '{op.name}'.")
        parts = []
        for amount in (before, after):
            block = shape[:axis] + [amount] + shape[axis + 1 :]
            parts.append(e.const("pad", np.zeros(block, dt)) if amount else None)
        parts = [p for p in (parts[0], y, parts[1]) if p is not None]
        if len(parts) > 1:
            y = e.node("concat", "ConcatV2", [*parts, e.const("axis", np.int32(axis))],
                       "output", T=e.t, N=len(parts), Tidx=i32)  # fmt: skip
        shape[axis] += before + after
    flipped = e.node("ReverseV2", "ReverseV2", [inputs[1], e.const("axes", np.array([0, 1],
                     np.int32))], "output", T=e.t, Tidx=i32)  # fmt: skip
    kernel = e.node("Transpose", "Transpose", [flipped, e.const("perm", np.array([0, 1, 3, 2],
                    np.int32))], "y", T=e.t, Tperm=i32)  # fmt: skip
    conv = e.node("Conv2D", "Conv2D", [y, kernel], "output", T=e.t, strides=[1, 1, 1, 1],
                  padding="VALID", data_format="NHWC", dilations=[1, 1, 1, 1])  # fmt: skip
    return {op._outputs[0]: conv}


def _expand_lrn(fdef, op, inputs, taken):
    """``LRN`` (no function gradient in TF): ``x / (bias + alpha * window_sum(x**2)) **
    beta``, the sum over each channel's window a 1x1 ``Conv2D`` with a band of ones."""
    x = op._inputs[0]
    channels = x.shape[-1] if x.shape.ndims else None
    channels = getattr(channels, "value", channels)
    if channels is None:
        _write_as_is(fdef, op, inputs)  # TF's error names the op when the gradient runs
        return {}
    a = op._attrs
    dt = x.dtype.as_numpy_dtype
    radius = int(a.get("depth_radius", 5))
    index = np.arange(channels)
    band = (np.abs(index[:, None] - index[None, :]) <= radius).astype(dt)[None, None]
    e = _Expansion(fdef, op, taken)

    def node(name, *ins, out="z", **attrs):
        return e.node(name, name, list(ins), out, T=e.t, **attrs)

    def const(name, v):
        return e.const(name, np.array(v, dt))

    window = node("Conv2D", node("Square", inputs[0], out="y"), e.const("band", band),
                  out="output", strides=[1, 1, 1, 1], padding="VALID", data_format="NHWC",
                  dilations=[1, 1, 1, 1])  # fmt: skip
    scaled = node("AddV2", const("bias", a.get("bias", 1.0)),
                  node("Mul", const("alpha", a.get("alpha", 1.0)), window))  # fmt: skip
    y = node("RealDiv", inputs[0], node("Pow", scaled, const("beta", a.get("beta", 0.5))))
    return {op._outputs[0]: y}


def _expand_fused_batch_norm(fdef, op, inputs, taken):
    """``FusedBatchNorm``/``V2``/``V3`` from ops with function gradients (TF has none for
    these): the batch's mean and variance in training, the given ones in inference."""
    a = op._attrs
    if dtypes.as_dtype(a["T"]) != dtypes.as_dtype(a.get("U", a["T"])):
        raise NotImplementedError(f"Cannot export the gradient through '{op.name}': mixed types.")
    x, scale, offset, mean, variance = inputs
    e = _Expansion(fdef, op, taken)
    dt = dtypes.as_dtype(a["T"]).as_numpy_dtype
    nchw = a.get("data_format", "NHWC") in ("NCHW", b"NCHW")
    axes = np.array([0, 2, 3] if nchw else [0, 1, 2], np.int32)

    def node(name, *ins, out="z", **attrs):
        return e.node(name, name, list(ins), out, T=e.t, **attrs)

    def per_channel(v):  # a [C] vector against NCHW
        return node("Reshape", v, e.const("shape", np.array([1, -1, 1, 1], np.int32)),
                    out="output", Tshape=dtypes.int32) if nchw else v  # fmt: skip

    def mean_of(v):
        return node("Mean", v, e.const("axes", axes), out="output", Tidx=dtypes.int32,
                    keep_dims=False)  # fmt: skip

    if a.get("is_training", True):
        mean = mean_of(x)
        centered = node("Sub", x, per_channel(mean))
        variance = mean_of(node("Square", centered, out="y"))
        shape = op._inputs[0].shape.as_list()
        count = np.prod([shape[i] for i in axes]) if None not in shape else None
        bessel = count / max(count - 1, 1) if count is not None else None
    else:  # TF's gradient of the op passes nothing back to the given statistics either
        mean, variance = (node("StopGradient", t, out="output") for t in (mean, variance))
        centered = node("Sub", x, per_channel(mean))
        bessel = None
    eps = e.const("epsilon", np.array(a.get("epsilon", 1e-4), dt))
    inv = node("Rsqrt", node("AddV2", variance, eps), out="y")
    y = node("AddV2", node("Mul", centered, per_channel(node("Mul", inv, scale))),
             per_channel(offset))  # fmt: skip
    out_var = node("Mul", variance, e.const("bessel", np.array(bessel, dt))) if bessel else variance
    # TF's gradient of the op passes nothing back through its statistics outputs.
    stats = [node("StopGradient", t, out="output") for t in (mean, out_var, variance)]
    outs = [y, stats[0], stats[1], stats[0], stats[2], stats[0]]
    return dict(zip(op._outputs, outs))


def _expand_conv(fdef, op, inputs, taken):
    """``Conv2D``: TF's function gradient of it ignores its dilations, so a dilated one is
    written as an undilated one with a dilated filter. ``DepthwiseConv2dNative`` (no function
    gradient in TF): a ``Conv2D`` whose filter is block-diagonal over the channels."""
    dilations = list(op._attrs.get("dilations") or [1, 1, 1, 1])
    spatial = [1, 2] if op._attrs.get("data_format", "NHWC") in ("NHWC", b"NHWC") else [2, 3]
    rates = [int(dilations[i]) for i in spatial]
    depthwise = op.type == "DepthwiseConv2dNative"
    shape = op._inputs[1].shape
    if (rates != [1, 1] or depthwise) and not shape.is_fully_defined():
        raise NotImplementedError(
            f"Cannot export the gradient through '{op.name}' ({op.type}): its filter's shape is "
            "not known."
        )
    e = _Expansion(fdef, op, taken)
    kernel = inputs[1]
    if depthwise:
        kh, kw, c, m = shape.as_list()
        dt = op._inputs[1].dtype.as_numpy_dtype
        split = e.node("Reshape", "Reshape", [kernel, e.const("shape", np.array([kh, kw, c, 1, m],
                       np.int32))], "output", T=e.t, Tshape=dtypes.int32)  # fmt: skip
        eye = e.const("eye", np.eye(c, dtype=dt)[None, None, :, :, None])
        blocks = e.node("Mul", "Mul", [split, eye], "z", T=e.t)
        kernel = e.node("Reshape", "Reshape", [blocks, e.const("shape", np.array(
            [kh, kw, c, c * m], np.int32))], "output", T=e.t, Tshape=dtypes.int32)  # fmt: skip
    if rates != [1, 1]:
        kernel = _dilated_filter(e, kernel, shape.as_list() if not depthwise else
                                 [kh, kw, c, c * m], rates)  # fmt: skip
    nd = _write_as_is(fdef, op, [inputs[0], kernel])
    nd.op = "Conv2D"
    nd.attr["dilations"].CopyFrom(attr_value([1] * 4))
    return {}


_GRADIENT_EXPANSIONS = {
    "SoftmaxCrossEntropyWithLogits": _expand_softmax_xent,
    "SparseSoftmaxCrossEntropyWithLogits": _expand_sparse_softmax_xent,
    "L2Loss": _expand_l2_loss,
    "GatherV2": _expand_gather,
    "Conv2D": _expand_conv,
    "DepthwiseConv2dNative": _expand_conv,
    "AddN": _expand_add_n,
    "SelectV2": _expand_select_v2,
    "LRN": _expand_lrn,
    "Conv2DBackpropInput": _expand_conv_transpose,
    **dict.fromkeys(("Pad", "PadV2", "Tile"), _expand_pad_or_tile),
    **dict.fromkeys(("Sum", "Mean", "Max", "Min", "Prod"), _expand_reduction),
    **dict.fromkeys(("Elu", "Selu", "LeakyRelu", "Softplus", "Softsign"), _expand_activation),
    **dict.fromkeys(
        ("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"), _expand_fused_batch_norm
    ),
}
# Other ops without a function gradient in TF (image resizes, MirrorPad, Cumsum, TopKV2, Erf,
# ...) stay as they are: TF loads and runs the graph's forward part,
# and running the gradient raises TF's error naming the op.


def _cannot_export(op, why):
    return NotImplementedError(
        f"Cannot export '{op.name}' (Gradients) as a SymbolicGradient: {why}"
    )


def _export_gradients(gd, op, lib, taken, ref=_input_name):
    """Writes a ``Gradients`` op as TF writes a function's gradient: a ``SymbolicGradient`` of
    a ``FunctionDef`` holding the forward sub-graph from the xs to the ys, and an ``IdentityN``
    named as the op that picks the xs' gradients (so that ``op:i`` keeps its meaning).

    The function's arguments are the xs (for a variable: the value of a read of it in the
    sub-graph, every such read becoming the argument) and then the tensors the sub-graph
    captures; its results are the ys. Returns the ``IdentityN`` node."""
    from tfstyle.ops import gradients as _grads

    spec = op._attrs["_spec"]
    uses = spec.conds.uses if spec.conds is not None else []
    for u in uses:
        _check_cond_slices(op, u)
    # The outputs of the tf.conds whose slices the op computes are arguments of the function
    # (the conds stay outside it), so that the SymbolicGradient gives their gradients.
    cut = {t: None for u in uses for t in u.op._outputs if t.dtype.is_floating}
    ys = list(spec.ys)
    ny, ng = len(ys), spec.n_grad_ys
    grad_ys = op._inputs[ny : ny + ng]
    entries = sorted(spec.entries, key=lambda e: e.out_index)
    for e in entries:
        if e.var_key is None and not e.root:
            raise _cannot_export(op, f"the x '{e.tensor.name}' is computed from another x.")
    handle_index = {ops.variable_handle_op(e.tensor): i for i, e in enumerate(entries)
                    if e.var_key is not None}  # fmt: skip
    tensor_index = {e.tensor: i for i, e in enumerate(entries) if e.var_key is None}
    pairs = [(e.tensor, object() if e.var_key is not None else None) for e in entries]
    _, mask, _, order, _ = _grads._analyse(ys, pairs + [(t, None) for t in cut], spec.stops)
    # Per cond: its inputs that are xs differentiated densely (their gradient through the cond
    # is added to the function's).
    dense_inputs, chained = _dense_cond_inputs(uses, mask, handle_index, tensor_index)
    stops = set(spec.stops)
    arg_of = dict(tensor_index)  # tensor of the outer graph -> argument index
    gathered = {}  # handle of a differentiated variable that a gather reads -> argument index
    inside = []
    for o in order:
        if not any(t in mask and t not in stops for t in o._outputs):
            continue
        if any(t in tensor_index or t in cut for t in o._outputs):
            continue
        if o.type == "ReadVariableOp" and o._inputs:
            h = ops.variable_handle_op(o._inputs[0])
            if h in handle_index:
                arg_of[o._outputs[0]] = handle_index[h]
                continue
        for t in o._inputs:
            if o.type in _CONTROL_FLOW_TYPES:
                break  # its reads of the variables become arguments (see _value_bindings)
            if o.type == "ResourceGather" and _gather_parts(o) and o._inputs[0] is t:
                h = ops.variable_handle_op(t)
                if h in handle_index:
                    # A gather of the variable's value argument (_expand_gather).
                    gathered[t] = handle_index[h]
                    continue
            if t._dtype is dtypes.resource and ops.variable_handle_op(t) in handle_index:
                raise _cannot_export(
                    op,
                    f"op '{o.name}' ({o.type}) uses a differentiated variable other than by "
                    "ReadVariableOp.",
                )
        inside.append(o)
    for o in inside:
        # TF differentiates a function with a loop in it as if the loop were constant (its
        # gradient is silently zero), and fails on an If: control flow is written as TF can
        # differentiate it (_write_differentiably), and where it cannot be, the gradient stays
        # tfstyle's own op, which TF refuses.
        if o.type in _CONTROL_FLOW_TYPES and not _writes_differentiably(o):
            raise _cannot_export(
                op,
                f"it differentiates through '{o.name}' ({o.type}), which has control flow inside, "
                "draws random numbers in a loop or changes a variable.",
            )
    inside_set = set(inside)
    cut_args = []  # outputs of conds taken by other conds: arguments too, for their gradients
    for cond, positions in chained.items():
        for j in positions:
            if cond._inputs[j] in cut:
                cut_args.append(cond._inputs[j])
            elif cond._inputs[j].op not in inside_set:
                raise _cannot_export(
                    op, f"'{cond.name}' takes '{cond._inputs[j].name}', which is not on the way "
                    "from the xs to the ys.",
                )  # fmt: skip
    # Per argument, the outer tensor bound to it: the x, or a read of the variable.
    bound = [e.tensor if e.var_key is None else None for e in entries]
    for t, i in arg_of.items():
        if bound[i] is None:
            bound[i] = t
    for i, e in enumerate(entries):
        if bound[i] is None and (i in gathered.values() or any(
            ops.variable_handle_op(t) is e.tensor.op
            for o in [*inside, *dense_inputs] if o.type in _CONTROL_FLOW_TYPES
            for t in o._inputs if t._dtype is dtypes.resource
        )):  # fmt: skip
            # Read only inside a scan or by gathers: the function takes a value read before.
            bound[i] = _outer_read(gd, e.tensor, e.dtype, taken, ref)
        if bound[i] is None:
            raise _cannot_export(
                op, f"no read of variable '{e.tensor.op.name}' on the way to the ys."
            )
    value_arg = {}
    for o in inside:
        for j, t in enumerate(o._inputs):
            if o.type == "SparseSoftmaxCrossEntropyWithLogits" and j == 1:
                if t.op in inside_set:
                    raise _cannot_export(op, f"the labels of '{o.name}' depend on an x.")
                arg_of[o] = len(bound)
                bound.append(_outer_one_hot(gd, o, taken, ref))
                continue
            if o.type in _CONTROL_FLOW_TYPES and t._dtype is dtypes.resource:
                # Control flow takes a variable's value: a differentiated one's argument, or
                # else one bound to a read before the loop.
                h = ops.variable_handle_op(t)
                if h not in handle_index and t not in value_arg:
                    value_arg[t] = len(bound)
                    bound.append(_outer_read(gd, t, h._attrs["dtype"], taken, ref))
                continue
            if t not in arg_of and t not in gathered and t.op not in inside_set:
                arg_of[t] = len(bound)
                bound.append(t)
    for y in [*ys, *cut_args]:
        if y not in arg_of and y.op not in inside_set:
            arg_of[y] = len(bound)
            bound.append(y)

    fdef = lib.proto.function.add()
    fname = "".join(c if c.isalnum() or c == "_" else "_" for c in op.name)
    fname = _fresh(f"{fname}_forward", lib.used)
    fdef.signature.name = fname
    body_names = {o.name for o in inside}
    arg_names = []
    for i, t in enumerate(bound):
        arg_names.append(_fresh(f"arg{i}", body_names))
        fdef.signature.input_arg.add(name=arg_names[-1], type=t.dtype.as_datatype_enum)

    renamed = {}

    def refer(t):
        if t in arg_of:
            return arg_names[arg_of[t]]
        if t in gathered:
            return arg_names[gathered[t]]
        return renamed.get(t) or _body_output_name(t)

    def value_of(t):
        # A variable's handle captured by control flow: the argument of its value.
        if t._dtype is not dtypes.resource:
            return None
        h = ops.variable_handle_op(t)
        return arg_names[handle_index[h] if h in handle_index else value_arg[t]]

    for o in inside:
        if o.type in _CONTROL_FLOW_TYPES:
            renamed.update(_write_differentiably(fdef, o, refer, value_of, lib, body_names))
            continue
        if _written_as_call(o):
            renamed.update(_write_op_call(fdef, o, refer, lib, body_names))
            continue
        expand = _GRADIENT_EXPANSIONS.get(o.type)
        if o.type == "ResourceGather" and o._inputs[0] in gathered:
            expand = _expand_gather
        if expand is not None:
            ins = [refer(t) for t in o._inputs]
            if o in arg_of:  # sparse labels: their one-hot form is an argument
                ins[1] = arg_names[arg_of[o]]
            renamed.update(expand(fdef, o, ins, body_names))
            continue
        nd = fdef.node_def.add(name=o.name, op=o.type)
        nd.input.extend(refer(t) for t in o._inputs)
        nd.input.extend("^" + c.name for c in o._control_inputs if c in inside_set)
        if o._device:
            nd.device = o._device
        _fill_attrs(nd, o, lib)
    for i, y in enumerate(ys):
        fdef.signature.output_arg.add(name=f"out{i}", type=y.dtype.as_datatype_enum)
        fdef.ret[f"out{i}"] = refer(y)

    dys = []
    for i, (y, gi) in enumerate(zip(ys, spec.grad_ys_index)):
        if gi is None:
            nd = gd.node.add(name=_fresh(f"{op.name}/OnesLike_{i}", taken), op="OnesLike")
            nd.input.append(ref(y))
            nd.attr["T"].CopyFrom(attr_value(y.dtype))
            dys.append(nd.name)
        else:
            dys.append(ref(grad_ys[gi]))
    sg = gd.node.add(name=_fresh(f"{op.name}/SymbolicGradient", taken), op="SymbolicGradient")
    sg.input.extend(b.name if isinstance(b, _OuterNode) else ref(b) for b in bound)
    sg.input.extend(dys)
    sg.input.extend("^" + c.name for c in op._control_inputs)
    if op._device:
        sg.device = op._device
    tin = [t.dtype for t in bound]
    sg.attr["f"].CopyFrom(attr_value(attr_value_pb2.NameAttrList(name=fname)))
    sg.attr["Tin"].CopyFrom(attr_value(tin + [y.dtype for y in ys]))
    sg.attr["Tout"].CopyFrom(attr_value(tin))
    outs = [f"{sg.name}:{i}" for i in range(len(entries))]
    types = [e.dtype for e in entries]
    slices = {}  # _CondUse -> references of its values and indices
    zeros = {}  # output of a cond -> the zeros standing for its gradient

    def gradient_of(t):
        if t in arg_of:
            return f"{sg.name}:{arg_of[t]}"
        if t not in zeros:
            z = gd.node.add(name=_fresh(f"{op.name}/ZerosLike", taken), op="ZerosLike")
            z.input.append(ref(t))
            z.attr["T"].CopyFrom(attr_value(t.dtype))
            zeros[t] = z.name
        return zeros[t]

    def summed(grads, dtype):
        if len(grads) == 1:
            return grads[0]
        add = gd.node.add(name=_fresh(f"{op.name}/AddN", taken), op="AddN")
        add.input.extend(grads)
        add.attr["N"].i = len(grads)
        add.attr["T"].CopyFrom(attr_value(dtype))
        return add.name

    through = collections.defaultdict(list)  # entry index -> its gradients through conds
    later = collections.defaultdict(list)  # output of a cond -> its gradients through others
    onward = collections.defaultdict(list)  # tensor computed in the function -> its gradients
    cut_bit = {t: 1 << (len(entries) + k) for k, t in enumerate(cut)}

    def bits(c):
        return sum(cut_bit.get(t, 0) for t in c._outputs)

    def takes_from(d, c):
        return any(mask.get(d._inputs[j], 0) & bits(c) for j in chained[d])

    def go_on():
        # The gradients of the conds' inputs computed in the function (or taken from another
        # cond) go on to the xs and to the conds' outputs: a SymbolicGradient of the same
        # function with those inputs as its results.
        onward_fn = lib.proto.function.add()
        onward_fn.CopyFrom(fdef)
        onward_fn.signature.name = _fresh(f"{fname}_onward", lib.used)
        del onward_fn.signature.output_arg[:]
        onward_fn.ret.clear()
        for k, t in enumerate(onward):
            onward_fn.signature.output_arg.add(name=f"out{k}", type=t.dtype.as_datatype_enum)
            onward_fn.ret[f"out{k}"] = refer(t)
        sg2 = gd.node.add(name=_fresh(f"{op.name}/SymbolicGradient", taken), op="SymbolicGradient")
        sg2.input.extend(sg.input[: len(bound)])
        sg2.input.extend(summed(grads, t.dtype) for t, grads in onward.items())
        if op._device:
            sg2.device = op._device
        onward_name = attr_value_pb2.NameAttrList(name=onward_fn.signature.name)
        sg2.attr["f"].CopyFrom(attr_value(onward_name))
        sg2.attr["Tin"].CopyFrom(attr_value(tin + [t.dtype for t in onward]))
        sg2.attr["Tout"].CopyFrom(attr_value(tin))
        for i in range(len(entries)):
            through[i].append(f"{sg2.name}:{i}")
        for t in cut:
            if t in arg_of:
                later[t].append(f"{sg2.name}:{arg_of[t]}")
        onward.clear()

    pending = list(dense_inputs)
    while pending:
        # A cond's gradient is written after those of the conds that take from its outputs,
        # which add to its outputs' gradients.
        cond = next(c for c in pending if not any(d is not c and takes_from(d, c)
                                                  for d in pending))  # fmt: skip
        pending.remove(cond)
        if any(mask.get(t, 0) & bits(cond) for t in onward):
            go_on()
        inputs = dense_inputs[cond]
        cond_uses = [u for u in uses if u.op is cond]
        dense = [j for j, _ in inputs] + chained[cond]
        output_grads = [
            summed([*([gradient_of(t)] if t in arg_of or not later[t] else []), *later[t]],
                   t.dtype)
            for t in cond._outputs
        ]  # fmt: skip
        refs = _write_cond_gradient(gd, cond_uses, dense, output_grads, lib, taken, ref)
        for u, k in zip(cond_uses, range(0, 2 * len(cond_uses), 2)):
            slices[u] = refs[k : k + 2]
        grads = refs[2 * len(cond_uses) :]
        for (_, i), r in zip(inputs, grads):
            through[i].append(r)
        for j, r in zip(chained[cond], grads[len(inputs) :]):
            onward[cond._inputs[j]].append(r)
    if onward:
        go_on()
    for i, e in enumerate(entries):
        if through[i]:
            outs[i] = summed([outs[i], *through[i]], e.dtype)
    for u in uses:
        outs += slices[u]
        types += [u.dtype, u.index_dtype]
    nd = gd.node.add(name=op.name, op="IdentityN")
    nd.input.extend(outs)
    nd.attr["T"].CopyFrom(attr_value(types))
    return nd


# -- the slices of a tf.cond's gradient ------------------------------------------------------
# TF's gradient of a tf.cond is an If (a Case for a switch_case) on the same predicate whose
# branches return each branch's slices; its values come from TF's gradients of the branch's
# ops, which TF cannot give for a gather (no function gradient of GatherV2). So each branch of
# the If written here runs the branch's forward part up to its gathers (their indices and
# rows) and a SymbolicGradient of the rest of the branch, whose arguments the rows are.


def _check_cond_slices(op, u):
    """Raises NotImplementedError where the slices of ``_CondUse`` ``u`` cannot be written for
    TF (``_write_cond_gradient``)."""
    from tfstyle.ops import gradients as _grads
    from tfstyle.ops.control_flow_ops import _subgraphs

    captured = u.op._inputs[1:]
    for fg, branch in zip(_subgraphs(u.op), u.branches):
        items = [] if branch in (None, _grads._DENSE) else branch
        nested = {v.op for v in items if isinstance(v, _grads._CondUse)}
        if any(
            o.type in _CONTROL_FLOW_TYPES and o not in nested and not _writes_differentiably(o)
            for o in fg._ops
        ):
            raise _cannot_export(
                op, f"a branch of '{u.op.name}' has control flow TF cannot differentiate inside."
            )
        if not _tf_differentiable(fg):
            raise _cannot_export(op, f"a branch of '{u.op.name}' has a sparse cross-entropy.")
        inner = dict(fg.captures)
        for t in captured:
            if t._dtype is dtypes.resource and t in inner:
                # (A nested cond's own branches are checked with its slices, other control
                # flow by _writes_differentiably.)
                users = [o for o in _users(fg, inner[t]) if o not in nested]
                if ops.variable_handle_op(t) is None or any(
                    o.type not in ("ReadVariableOp", "ResourceGather", *_CONTROL_FLOW_TYPES)
                    for o in users
                ):
                    raise _cannot_export(op, f"a branch of '{u.op.name}' changes a variable.")
        replaced = {v[0] for v in items if not isinstance(v, _grads._CondUse)}
        if any(
            o.type in ("GatherV2", "ResourceGather") and o not in replaced and not _gather_parts(o)
            for o in fg._ops
        ):
            raise _cannot_export(
                op, f"'{u.op.name}' has a batched gather, which TF cannot differentiate."
            )
        for c in nested:
            _check_nested_cond(op, c, fg, captured, replaced)
        for v in items:
            if isinstance(v, _grads._CondUse):
                _check_cond_slices(op, v)


def _check_nested_cond(op, c, fg, captured, gathers):
    """Raises NotImplementedError where the gradient of cond ``c``, in a branch ``fg`` of a
    cond of inputs ``captured``, cannot be written inside that branch's gradient: the rest of
    the branch is differentiated with ``c``'s outputs as arguments, so they must be floats, and
    no gradient may pass through an input of ``c`` computed in ``fg`` (from the rows of
    ``gathers`` or from the branch's inputs)."""
    if not all(t.dtype.is_floating for t in c._outputs):
        raise _cannot_export(op, f"the nested cond '{c.name}' has an output that is no float.")
    outer = {inner: t for t, inner in fg.captures}
    for t in c._inputs[1:]:
        if t._dtype is dtypes.resource:
            if t not in outer:
                raise _cannot_export(op, f"'{c.name}' uses a variable its branch creates.")
            continue
        if t in outer or not t.dtype.is_floating:
            continue
        stack, seen = [t.op], set()
        while stack:
            o = stack.pop()
            if o in seen:
                continue
            seen.add(o)
            if o in gathers or any(i in outer and i.dtype.is_floating for i in o._inputs):
                raise _cannot_export(
                    op, f"'{c.name}' passes on the gradient of '{t.name}', computed in its branch."
                )
            stack.extend(i.op for i in o._inputs)


def _dense_cond_inputs(uses, mask, handle_index, tensor_index):
    """``({cond op: [(input position, entry index)]}, {cond op: [input position]})`` for the
    conds whose slices ``op`` computes: first the inputs that are xs it differentiates densely
    (a variable, or a tensor that no other x reaches), then the inputs computed from xs or from
    the outputs of such conds (or such an output itself), whose gradients go on through a
    second ``SymbolicGradient``."""
    found, chained = {}, {}
    for u in uses:
        if u.op in found:
            continue
        inputs, computed = found.setdefault(u.op, []), chained.setdefault(u.op, [])
        for j, t in enumerate(u.op._inputs[1:], 1):
            if t._dtype is dtypes.resource:
                i = handle_index.get(ops.variable_handle_op(t))
            else:
                i = tensor_index.get(t)
                if i is None and mask.get(t, 0):
                    computed.append(j)
            if i is not None:
                inputs.append((j, i))
    return found, chained


def _write_cond_gradient(gd, uses, dense, output_grads, lib, taken, ref):
    """Writes the gradient of a tf.cond (``uses``: its ``_CondUse``s) into ``gd``: an
    ``If``/``Case`` of the cond's predicate, inputs (variables as their values) and the
    gradients of its outputs (``output_grads``). Returns the references of each use's values and
    indices, then of the gradients of its inputs at positions ``dense``."""
    cond = uses[0].op
    ins = []
    for t in cond._inputs[1:]:
        if t._dtype is dtypes.resource:
            dtype = ops.variable_handle_op(t)._attrs["dtype"]
            ins.append(_outer_read(gd, t, dtype, taken, ref).name)
        else:
            ins.append(ref(t))
    attrs = _cond_gradient_attrs(uses, dense, lib)
    nd = gd.node.add(name=_fresh(f"{cond.name}_grad/{cond.type}", taken), op=cond.type)
    nd.input.extend([ref(cond._inputs[0]), *ins, *output_grads])
    for k, v in attrs.items():
        nd.attr[k].CopyFrom(attr_value(v))
    return [f"{nd.name}:{k}" if k else nd.name for k in range(len(attrs["Tout"]))]


def _cond_gradient_attrs(uses, dense, lib):
    """The attributes of the ``If``/``Case`` that is the gradient of the tf.cond of ``uses``
    (see ``_write_cond_gradient``)."""
    from tfstyle.ops.control_flow_ops import _subgraphs

    cond = uses[0].op
    captured = cond._inputs[1:]
    tin = _value_types([], captured)
    tout = [t.dtype for t in cond._outputs]
    result_types = [dt for u in uses for dt in (u.dtype, u.index_dtype)]
    result_types += [tin[j - 1] for j in dense]
    branches = [_cond_branch_gradient(lib, uses, dense, b, fg, tin, tout, result_types)
                for b, fg in enumerate(_subgraphs(cond))]  # fmt: skip
    shapes = [s for u in uses for s in ([None, *u.dense_shape[1:]], [None])]
    shapes += [_value_shape(captured[j - 1]) for j in dense]
    attrs = {"Tin": [*tin, *tout], "Tout": result_types, "output_shapes": _shapes(shapes)}
    # Per use, the rows of its variable: tfstyle pads the branches' slices to one size.
    attrs["_slice_rows"] = [u.dense_shape[0] for u in uses]
    if cond.type in ("Case", "StatelessCase"):
        attrs["branches"] = branches
    else:
        attrs.update(Tcond=cond._attrs["Tcond"], then_branch=branches[0], else_branch=branches[1])
    return attrs


def _cond_branch_gradient(lib, uses, dense, b, fg, tin, tout, result_types):
    """The function of branch ``b`` (graph ``fg``) of a tf.cond's gradient: from the cond's
    inputs and its outputs' gradients, the slices of each of ``uses`` that the branch gives
    (all rows where its gradient is dense or none), then the gradients of its inputs at
    positions ``dense``.

    A cond nested in the branch is cut out like the gathers: the rest of the branch is
    differentiated with its outputs as arguments too, and its gradient is written in this
    function as the outer one is (``_cond_gradient_attrs``)."""
    from tfstyle.ops import gradients as _grads

    cond = uses[0].op
    base = "".join(c if c.isalnum() or c == "_" else "_" for c in cond.name)
    f = _FunctionBuilder(lib, f"{base}_grad_{b}", [*tin, *tout], result_types)
    args, dys = f.args[: len(tin)], f.args[len(tin) :]
    items = [v for u in uses if isinstance(u.branches[b], list) for v in u.branches[b]]
    gathers = [v[0] for v in items if not isinstance(v, _grads._CondUse)]
    nested = {}  # cond in the branch -> its uses
    for v in items:
        if isinstance(v, _grads._CondUse):
            nested.setdefault(v.op, []).append(v)
    # Per input of the branch (a tensor of fg): its position among the cond's inputs.
    position = {inner: k for k, (inner, _) in enumerate(_arg_bindings(fg, cond._inputs[1:]))
                if inner is not None}  # fmt: skip
    cut = [g._outputs[0] for g in gathers] + [t for c in nested for t in c._outputs]
    forward = [g._inputs[1] for g in gathers]
    forward += [t for c in nested for t in c._inputs if t._dtype is not dtypes.resource]
    value = {}  # tensor of fg -> its reference in f
    if cut:
        rets = list(dict.fromkeys(forward + cut))
        call = f.node("rows", _branch_function(lib, cond, fg, f"{base}_rows_{b}", [], rets), args)
        value = {t: f"{call}:out{k}:0" for k, t in enumerate(rets)}
    cut_types = [t.dtype for t in cut]
    rest_fn = _branch_function(lib, cond, fg, f"{base}_after_rows_{b}", cut, list(fg.outputs))
    grad = f.node("grad", "SymbolicGradient", [*args, *(value[t] for t in cut), *dys],
                  Tin=[*tin, *cut_types, *tout], Tout=[*tin, *cut_types],
                  f=attr_value_pb2.NameAttrList(name=rest_fn))  # fmt: skip
    grad_of = {t: f"{grad}:output:{len(tin) + k}" for k, t in enumerate(cut)}
    # Per input of the cond, the references of its gradients (summed below).
    input_grads = [[f"{grad}:output:{k}"] for k in range(len(tin))]
    wanted = {*dense, *(u.j for u in uses if u.branches[b] is _grads._DENSE)}
    sliced = {}  # nested _CondUse -> references of its values and indices
    for c, c_uses in nested.items():
        c_dense = [j for j, t in enumerate(c._inputs[1:], 1)
                   if t in position and position[t] + 1 in wanted]  # fmt: skip
        ins = [args[position[t]] if t._dtype is dtypes.resource else value[t]
               for t in c._inputs[1:]]  # fmt: skip
        attrs = _cond_gradient_attrs(c_uses, c_dense, lib)
        name = f.node(f"{c.name}_grad", c.type,
                      [value[c._inputs[0]], *ins, *(grad_of[t] for t in c._outputs)], **attrs)  # fmt: skip
        refs = [f"{name}:output:{k}" for k in range(len(attrs["Tout"]))]
        for k, v in enumerate(c_uses):
            sliced[v] = refs[2 * k : 2 * k + 2]
        for j, r in zip(c_dense, refs[2 * len(c_uses) :]):
            input_grads[position[c._inputs[j]]].append(r)
    for k, refs in enumerate(input_grads):
        if len(refs) > 1:
            refs[:] = [f"{f.node('add', 'AddN', refs, N=len(refs), T=tin[k])}:sum:0"]
    results = []
    for u in uses:
        branch = u.branches[b]
        if branch is None or branch is _grads._DENSE:
            results += _all_rows(f, u, None if branch is None else input_grads[u.j - 1][0])
        else:
            pieces = [(sliced[v], (v.dtype, v.index_dtype)) if isinstance(v, _grads._CondUse)
                      else _gather_slices(f, u, v[0], grad_of, value) for v in branch]  # fmt: skip
            results += _joined_slices(f, u, pieces)
    results += [input_grads[j - 1][0] for j in dense]
    return f.returns(results)


def _all_rows(f, u, values):
    """The slices of every row of ``u``'s input: ``values`` (zeros where None)."""
    idt = u.index_dtype.as_numpy_dtype
    limits = [f.const(k, np.array(v, idt)) for k, v in (("start", 0), ("limit", u.dense_shape[0]),
                                                           ("delta", 1))]  # fmt: skip
    ids = f.node("range", "Range", limits, Tidx=u.index_dtype)
    if values is None:
        zero = f.const("zero", np.zeros([], u.dtype.as_numpy_dtype))
        shape = f.const("shape", np.array(u.dense_shape, np.int32))
        values = f"{f.node('zeros', 'Fill', [shape, zero], T=u.dtype)}:output:0"
    return [values, f"{ids}:output:0"]


def _gather_slices(f, u, g, grad_of, value):
    """The references of the values and indices of the slices of gather ``g`` (of ``u``'s
    variable), from ``grad_of`` its rows and ``value`` its indices."""
    rest = u.dense_shape[1:]
    dtype, ids_type = g._outputs[0].dtype.base_dtype, g._inputs[1].dtype.base_dtype
    row_shape = f.const("row_shape", np.array([-1, *rest], np.int32))
    v = f.node("values", "Reshape", [grad_of[g._outputs[0]], row_shape], T=dtype,
               Tshape=dtypes.int32)  # fmt: skip
    flat = f.const("flat", np.array([-1], np.int32))
    i = f.node("indices", "Reshape", [value[g._inputs[1]], flat], T=ids_type, Tshape=dtypes.int32)
    return [f"{v}:output:0", f"{i}:output:0"], (dtype, ids_type)


def _joined_slices(f, u, pieces):
    """``u``'s slices in a branch from its pieces (gathers' and nested conds'), each
    ``((values, indices), their types)``: cast to ``u``'s types and concatenated in order."""
    values, indices = [], []

    def cast(ref, src, dst):
        return ref if src == dst else f"{f.node('Cast', 'Cast', [ref], SrcT=src, DstT=dst)}:y:0"

    for (v, i), (dtype, ids_type) in pieces:
        values.append(cast(v, dtype, u.dtype))
        indices.append(cast(i, ids_type, u.index_dtype))
    if len(values) == 1:
        return [values[0], indices[0]]
    axis = f.const("axis", np.zeros([], np.int32))
    out = []
    for parts, dtype in ((values, u.dtype), (indices, u.index_dtype)):
        c = f.node("concat", "ConcatV2", [*parts, axis], N=len(parts), T=dtype, Tidx=dtypes.int32)
        out.append(f"{c}:output:0")
    return out


def _branch_function(lib, cond, fg, name, extra_args, rets):
    """A ``FunctionDef`` of branch ``fg`` of ``cond``: arguments the cond's inputs (variables
    as values) and then ``extra_args`` (tensors of ``fg``, whose ops it then leaves out),
    results ``rets``. Returns its name."""
    args, prelude = _value_bindings(fg, cond._inputs[1:], 0)
    args += [(t, t.dtype) for t in extra_args]
    fdef = lib.proto.function.add()
    fdef.signature.name = _fresh(name, lib.used)
    _function_def(fdef, fg, lib, args, rets, False, prelude=prelude, expand=True)
    return fdef.signature.name


# -- functions ---------------------------------------------------------------------------------
# In a FunctionDef, an input names an output of a node as ``node:output_arg:index``. Output
# argument names of TF's op definitions (the ops with one output argument not named "output",
# and those with several).
_OUTPUT_ARG_NAMES = {
    "activations": "Elu LeakyRelu Relu Relu6 Selu Softplus Softsign",
    "band": "MatrixBandPart",
    "diagonal": "DiagPart MatrixDiagPartV3",
    "element_shape": "TensorListElementShape",
    "handle": "EmptyTensorList TensorListReserve",
    "index": "Where",
    "is_initialized": "VarIsInitializedOp",
    "item": "TensorListGetItem",
    "length": "TensorListLength",
    "logsoftmax": "LogSoftmax",
    "out": "Cumprod Cumsum",
    "output_handle": "TensorListFromTensor TensorListPushBack TensorListScatter "
    "TensorListScatterIntoExistingList TensorListScatterV2 TensorListSetItem TensorListSplit",
    "precision": "InTopKV2",
    "product": "Cross MatMul",
    "resized_images": "ResizeArea ResizeBicubic ResizeBilinear ResizeNearestNeighbor",
    "r0": "BroadcastArgs",
    "resource": "VarHandleOp",
    "softmax": "Softmax",
    "sum": "AddN",
    "summary": "AudioSummaryV2 HistogramSummary ImageSummary MergeSummary ScalarSummary "
    "TensorSummaryV2",
    "tensor": "TensorListStack",
    "tensors": "RestoreV2",
    "value": "ReadVariableOp",
    "values": "TensorListGather",
    "y": "Abs Acos Acosh Asin Asinh Atan Atanh Cast Ceil ConjugateTranspose Cos Cosh Digamma "
    "Erf Erfc Exp Expm1 Floor Invert IsFinite IsInf IsNan Lgamma Log Log1p LogicalNot Neg "
    "OnesLike Reciprocal Rint Round Rsqrt Sigmoid Sign Sin Sinh Sqrt Square Tan Tanh Transpose "
    "ZerosLike",
    "z": "Add AddV2 Atan2 BitwiseAnd BitwiseOr BitwiseXor Div DivNoNan Equal FloorDiv FloorMod "
    "Greater GreaterEqual Less LessEqual LogicalAnd LogicalOr Maximum Minimum Mul NotEqual Pow "
    "RealDiv SquaredDifference Sub TruncateDiv TruncateMod Xdivy Xlogy",
}
_SINGLE_OUTPUT_ARG = {t: k for k, v in _OUTPUT_ARG_NAMES.items() for t in v.split()}
_MULTI_OUTPUT_ARGS = {
    "FusedBatchNormV3": [
        "y",
        "batch_mean",
        "batch_variance",
        "reserve_space_1",
        "reserve_space_2",
        "reserve_space_3",
    ],
    "LogUniformCandidateSampler": [
        "sampled_candidates",
        "true_expected_count",
        "sampled_expected_count",
    ],
    "UniformCandidateSampler": [
        "sampled_candidates",
        "true_expected_count",
        "sampled_expected_count",
    ],
    "SoftmaxCrossEntropyWithLogits": ["loss", "backprop"],
    "SparseSoftmaxCrossEntropyWithLogits": ["loss", "backprop"],
    "TensorListConcat": ["tensor", "lengths"],
    "TensorListConcatV2": ["tensor", "lengths"],
    "TensorListPopBack": ["output_handle", "tensor"],
    "TopKV2": ["values", "indices"],
    "Unique": ["y", "idx"],
    "UniqueWithCounts": ["y", "idx", "count"],
}

# Private attributes kept on export: those TF sets on functional ops, and the numbers of rows of
# the variables whose slices an If/Case written for a tf.cond's gradient returns first
# (``_write_cond_gradient``; tfstyle pads the branches' slices to one size).
_TF_PRIVATE_ATTRS = frozenset({"_lower_using_switch_merge", "_num_original_outputs", "_slice_rows"})


def _body_output_name(t):
    multi = _MULTI_OUTPUT_ARGS.get(t.op.type)
    if multi is not None and t.value_index < len(multi):
        return f"{t.op.name}:{multi[t.value_index]}:0"
    return f"{t.op.name}:{_SINGLE_OUTPUT_ARG.get(t.op.type, 'output')}:{t.value_index}"


def _body_output_index(node_type, arg, index):
    multi = _MULTI_OUTPUT_ARGS.get(node_type)
    if multi is not None and arg in multi:
        return multi.index(arg) + index
    return index


class _Library:
    """The ``FunctionDefLibrary`` being written: one ``FunctionDef`` per function graph and
    signature."""

    def __init__(self, proto):
        self.proto = proto
        self.names = {}
        self.used = set()

    def add(self, fg, key, build):
        name = self.names.get((fg, key))
        if name is None:
            base = "".join(c if c.isalnum() or c == "_" else "_" for c in fg.name)
            i = len(self.used)
            while f"{base}_{i}" in self.used:
                i += 1
            name = f"{base}_{i}"
            self.used.add(name)
            self.names[(fg, key)] = name
            fdef = self.proto.function.add()
            fdef.signature.name = name
            build(fdef)
        return attr_value_pb2.NameAttrList(name=name)


def _function_def(fdef, fg, lib, args, rets, stateful, extra=None, prelude=None, expand=False):
    """Fills ``fdef`` from function graph ``fg``. ``args``: one ``(tensor of fg or None,
    dtype)`` per argument; ``rets``: per result, a tensor of fg or ``("arg", i)``;
    ``prelude(names, add_node)`` may add nodes first and returns ``{tensor of fg: reference}``
    (inputs of fg computed in the body); ``extra(refs, names, add_node, refer)`` may add nodes
    and returns replacements of ``rets``. With ``expand`` (a function that TF differentiates),
    ops are written as ``_GRADIENT_EXPANSIONS`` say."""
    sig = fdef.signature
    nodes = {op.name for op in fg._ops}
    arg_names, ref = [], {}
    for i, (t, dt) in enumerate(args):
        name = f"arg{i}"
        while name in nodes:
            name += "_"
        arg_names.append(name)
        sig.input_arg.add(name=name, type=dtypes.as_dtype(dt).as_datatype_enum)
        if t is not None and t not in ref:
            ref[t] = name

    def add_node(name, op_type, inputs, attrs):
        while name in nodes:
            name += "_"
        nodes.add(name)
        nd = fdef.node_def.add(name=name, op=op_type)
        nd.input.extend(inputs)
        for k, v in attrs.items():
            nd.attr[k].CopyFrom(attr_value(v))
        return name

    value_handles = set()  # captured variables passed as their values
    if prelude is not None:
        bound = prelude(arg_names, add_node)
        value_handles = {t for t in bound if t._dtype is dtypes.resource}
        ref.update(bound)
    arg_ops = {t.op for t in ref}

    def refer(t):
        return ref[t] if t in ref else _body_output_name(t)

    def passes_values(op):
        # A loop passes its captured variables through as loop variables: as values here.
        if op.type in ("While", "StatelessWhile"):
            value_handles.update(o for i, o in zip(op._inputs, op._outputs) if i in value_handles)

    for op in fg._ops:
        if op in arg_ops:
            continue
        passed = op._inputs[0] if op._inputs else None
        if op.type in ("Identity", "ReadVariableOp") and passed in value_handles:
            # A variable passed as its value: an identity or a read of it is that value.
            ref[op._outputs[0]] = refer(passed)
            if op.type == "Identity":
                value_handles.add(op._outputs[0])
            continue
        if expand and op.type in _CONTROL_FLOW_TYPES and _writes_differentiably(op):
            # Nested control flow TF can differentiate only as a call with a registered
            # gradient (or a scan unrolled); variables reach it as the values bound above.
            ref.update(_write_differentiably(fdef, op, refer, lambda t: None, lib, nodes))
            passes_values(op)
            continue
        if op.type == "TfstyleScan":
            control = [c.name for c in op._control_inputs if c not in arg_ops]
            outs = _write_scan(op, _FunctionWriter(fdef, nodes), refer, lib, control)
            ref.update(zip(op._outputs, outs))
            continue
        if expand and _written_as_call(op):
            ref.update(_write_op_call(fdef, op, refer, lib, nodes))
            continue
        if expand and op.type in _GRADIENT_EXPANSIONS:
            ins = [refer(t) for t in op._inputs]
            ref.update(_GRADIENT_EXPANSIONS[op.type](fdef, op, ins, nodes))
            continue
        if op.type == "ResourceGather" and op._inputs[0] in value_handles:
            # (Variables are passed as values only to functions that TF differentiates.)
            ref.update(_expand_gather(fdef, op, [refer(t) for t in op._inputs], nodes))
            continue
        nd = fdef.node_def.add()
        nd.name = op.name
        nd.op = op.type
        nd.input.extend(refer(t) for t in _tf_inputs(op))
        nd.input.extend("^" + c.name for c in op._control_inputs if c not in arg_ops)
        if op._device:
            nd.device = op._device
        if op.type in _AS_VALUE_TYPES and any(t in value_handles for t in op._inputs):
            # Control flow in a function that takes variables as values (the branch of a cond
            # whose gradient is written, _cond_branch_gradient) takes the values too.
            for k, v in _FUNCTIONAL_OPS[op.type][0](op, lib, as_value=True).items():
                nd.attr[k].CopyFrom(attr_value(v))
            passes_values(op)
            continue
        _fill_attrs(nd, op, lib)

    refs = [arg_names[r[1]] if isinstance(r, tuple) else refer(r) for r in rets]
    if extra is not None:
        refs = extra(refs, arg_names, add_node, refer)
    for i, (r, value) in enumerate(zip(rets, refs)):
        out = f"out{i}"
        dt = args[r[1]][1] if isinstance(r, tuple) else r.dtype
        sig.output_arg.add(name=out, type=dtypes.as_dtype(dt).as_datatype_enum)
        fdef.ret[out] = value
    if stateful:
        sig.is_stateful = True


def _shapes(shapes):
    return [_shape.as_shape(s) if s is not None else _shape.unknown_shape() for s in shapes]


def _arg_bindings(fg, outer_inputs):
    """For each outer input of a functional op: the tensor of ``fg`` capturing it, or None."""
    inner = {o: i for o, i in fg.captures}
    return [(inner.get(t), t.dtype) for t in outer_inputs]


def _branch_exporter(op, lib, as_value):
    """A function that adds a branch (a function graph) of ``op``, an ``If`` or a ``Case``, to
    ``lib`` as TF writes it and returns its name. With ``as_value``, the branches take the
    captured variables' values instead of their handles (see ``_value_bindings``)."""
    captured = op._inputs[1:]
    stateful = op.type in ("If", "Case")
    kind = "Case" if "Case" in op.type else "If"

    def branch(fg):
        def build(fdef):
            if as_value:
                args, prelude = _value_bindings(fg, captured, 0)
            else:
                args, prelude = _arg_bindings(fg, captured), None
            _function_def(fdef, fg, lib, args, list(fg.outputs), stateful, prelude=prelude,
                          expand=as_value)  # fmt: skip

        return lib.add(fg, (kind, as_value), build)

    return branch


def _export_if(op, lib, as_value=False):
    """The attributes of an ``If`` as TF writes it (``as_value``: see ``_branch_exporter``)."""
    a = op._attrs
    branch = _branch_exporter(op, lib, as_value)
    return {
        "Tcond": a["Tcond"],
        "Tin": _value_types([], op._inputs[1:]) if as_value else a["Tin"],
        "Tout": a["Tout"],
        "then_branch": branch(a["then_branch"]),
        "else_branch": branch(a["else_branch"]),
        "output_shapes": _shapes(a["output_shapes"]),
        "_lower_using_switch_merge": True,
    }


def _export_case(op, lib, as_value=False):
    """The attributes of a ``Case`` as TF writes it (``as_value``: see ``_branch_exporter``)."""
    a = op._attrs
    branch = _branch_exporter(op, lib, as_value)
    return {
        "Tin": _value_types([], op._inputs[1:]) if as_value else a["Tin"],
        "Tout": a["Tout"],
        "branches": [branch(fg) for fg in a["branches"]],
        "output_shapes": _shapes(a["output_shapes"]),
        "_lower_using_switch_merge": True,
    }


def _export_while(op, lib, as_value=False):
    """The attributes of a ``While`` as TF writes it. With ``as_value``, its cond and body take
    the captured variables' values instead of their handles (see ``_value_bindings``)."""
    from tfstyle.ops import _base

    a = op._attrs
    cond_g, body_g = a["cond"], a["body"]
    n = len(cond_g.inputs)
    captured = op._inputs[2 + n :]
    types = a["T"]
    stateful = op.type == "While"
    limit = _base.constant_value(op._inputs[1])
    bounded = limit is None or int(np.asarray(limit)) >= 0
    shapes = list(a["output_shapes"])
    if as_value:
        types = _value_types(types[: 2 + n], captured)
        shapes[2 + n :] = [_value_shape(t) for t in captured]

    def args(fg):
        if as_value:
            caps, prelude = _value_bindings(fg, captured, 2 + n)
            prelude_of[fg] = prelude
        else:
            caps = _arg_bindings(fg, captured)
        return (
            [(None, types[0]), (None, types[1])]
            + [(t, dt) for t, dt in zip(fg.inputs, types[2 : 2 + n])]
            + caps
        )

    prelude_of = {}

    def build_cond(fdef):
        def extra(refs, names, add_node, _):
            if not bounded:
                return refs
            less = add_node("Less", "Less", [names[0], names[1]], {"T": dtypes.int32})
            both = add_node(
                "LogicalAnd", "LogicalAnd", [f"{less}:z:0", refs[0]], {}
            )  # fmt: skip
            return [f"{both}:z:0"]

        cond_args = args(cond_g)
        _function_def(fdef, cond_g, lib, cond_args, [cond_g.outputs[0]], stateful, extra,
                      prelude_of.get(cond_g), expand=as_value)  # fmt: skip

    def build_body(fdef):
        rets = [("arg", 0), ("arg", 1), *body_g.outputs]
        rets += [("arg", 2 + n + j) for j in range(len(captured))]

        def extra(refs, names, add_node, _):
            one = add_node(
                "add/y", "Const", [], {"dtype": dtypes.int32, "value": np.array(1, np.int32)}
            )
            inc = add_node("add", "AddV2", [names[0], f"{one}:output:0"], {"T": dtypes.int32})
            return [f"{inc}:z:0", *refs[1:]]

        body_args = args(body_g)
        _function_def(fdef, body_g, lib, body_args, rets, stateful, extra,
                      prelude_of.get(body_g), expand=as_value)  # fmt: skip

    key = ("While", as_value)
    return {
        "T": types,
        "cond": lib.add(cond_g, key, build_cond),
        "body": lib.add(body_g, key, build_body),
        "output_shapes": _shapes(shapes),
        "parallel_iterations": a.get("parallel_iterations", 10),
        "_lower_using_switch_merge": True,
        "_num_original_outputs": len(types),
    }


def _cf():
    from tfstyle.ops import control_flow_ops

    return control_flow_ops


class _GraphWriter:
    """Adds the nodes that one tfstyle op is written as to a GraphDef."""

    def __init__(self, gd, taken):
        self.nodes, self.taken = gd.node, taken

    def node(self, name, op_type, inputs, attrs, exact=False, control=(), device=None):
        """Adds a node (named ``name``, made unique unless ``exact``); returns its name."""
        if not exact:
            name = _fresh(name, self.taken)
        nd = self.nodes.add(name=name, op=op_type)
        nd.input.extend(inputs)
        nd.input.extend("^" + c for c in control)
        if device:
            nd.device = device
        for k, v in attrs.items():
            nd.attr[k].CopyFrom(attr_value(v))
        return name

    def out(self, name, op_type, index=0):
        """How an input names output ``index`` of node ``name``."""
        return name if index == 0 else f"{name}:{index}"


class _FunctionWriter(_GraphWriter):
    """The same in a FunctionDef's body, where outputs are named by their output argument."""

    def __init__(self, fdef, taken):
        self.nodes, self.taken = fdef.node_def, taken

    def out(self, name, op_type, index=0):
        multi = _MULTI_OUTPUT_ARGS.get(op_type)
        if multi is not None:
            return f"{name}:{multi[index]}:0"
        return f"{name}:{_SINGLE_OUTPUT_ARG.get(op_type, 'output')}:{index}"


def _element_shape_value(shape):
    """An ``element_shape`` input as TF writes it: dims with -1 for unknown, -1 for any rank."""
    if shape is None or shape.ndims is None:
        return np.array(-1, np.int32)
    return np.array([-1 if d is None else d for d in shape.as_list()], np.int32)


def _write_scan(op, w, ref, lib, control, as_value=False):
    """Writes a ``TfstyleScan`` as TF writes ``map_fn``/``scan``/``foldl``/``dynamic_rnn``: a
    ``While`` over a counter, the carried values and TensorLists (the elements unstacked with
    ``TensorListFromTensor`` and read with ``TensorListGetItem``; each per-step output written
    with ``TensorListSetItem`` into a ``TensorListReserve`` list and stacked after the loop).
    ``ref(t)`` names the inputs' producers; with ``as_value``, those of captured variables name
    their values (``_value_bindings``). Returns, per output of ``op``, the node output holding
    it."""
    a = op._attrs
    fg, n, m = a["fn"], a["n_elems"], a["n_carry"]
    reverse, from_first, emit_init = a["reverse"], a["init_from_first"], a["emit_init"]
    tout = a["Tout"]
    elems, init, captured = _scan_parts(op)
    ys = fg.outputs[m:]
    nb = len(ys)
    i32, var = dtypes.int32, dtypes.variant
    base = op.name

    def const(name, value, writer=w):
        value = np.asarray(value)
        node = writer.node(name, "Const", [], {"dtype": dtypes.as_dtype(value.dtype),
                                               "value": value})  # fmt: skip
        return writer.out(node, "Const")

    def element_shape(name, shape, writer=w):
        return const(f"{name}/element_shape", _element_shape_value(shape), writer)

    # The number of elements: static, or the first dimension of the first tensor.
    n_static = _scan_length(op)
    if n_static is not None:
        count = const(f"{base}/num_elements", np.int32(n_static))
    else:
        shape = w.out(w.node(f"{base}/Shape", "Shape", [ref(elems[0])],
                             {"T": elems[0].dtype, "out_type": i32}), "Shape")  # fmt: skip
        count = w.out(
            w.node(
                f"{base}/strided_slice", "StridedSlice",
                [shape, const(f"{base}/stack", np.array([0], np.int32)),
                 const(f"{base}/stack_1", np.array([1], np.int32)),
                 const(f"{base}/stack_2", np.array([1], np.int32))],
                {"T": i32, "Index": i32, "begin_mask": 0, "end_mask": 0, "ellipsis_mask": 0,
                 "new_axis_mask": 0, "shrink_axis_mask": 1},
            ),
            "StridedSlice",
        )  # fmt: skip
    # Without an initializer the first element is the first carry; the loop runs over the rest.
    if not from_first:
        trips = count
    elif n_static is not None:
        trips = const(f"{base}/sub", np.int32(max(n_static - 1, 0)))
    else:
        one = const(f"{base}/sub/y", np.int32(1))
        trips = w.out(w.node(f"{base}/sub", "Sub", [count, one], {"T": i32}), "Sub")
    lists = []
    for e in elems:
        name = f"{base}/TensorArrayUnstack/TensorListFromTensor"
        es = element_shape(name, e.shape[1:] if e.shape.ndims else None)
        node = w.node(name, "TensorListFromTensor", [ref(e), es],
                      {"element_dtype": e.dtype, "shape_type": i32})  # fmt: skip
        lists.append(w.out(node, "TensorListFromTensor"))
    if from_first:
        first = trips if reverse else const(f"{base}/first", np.int32(0))
        carries = []
        for j, e in enumerate(elems):
            name = f"{base}/TensorArrayV2Read/TensorListGetItem"
            es = element_shape(name, e.shape[1:] if e.shape.ndims else None)
            node = w.node(name, "TensorListGetItem", [lists[j], first, es],
                          {"element_dtype": e.dtype, "Tshape": i32})  # fmt: skip
            carries.append(w.out(node, "TensorListGetItem"))
    else:
        carries = [ref(t) for t in init]
    outs = []
    for j, y in enumerate(ys):
        name = f"{base}/TensorArrayV2"
        es = element_shape(name, y.shape)
        node = w.node(name, "TensorListReserve", [es, count],
                      {"element_dtype": y.dtype, "shape_type": i32})  # fmt: skip
        out = w.out(node, "TensorListReserve")
        if emit_init:  # scan without initializer: its first output is the first element
            node = w.node(f"{base}/TensorArrayV2Write/TensorListSetItem", "TensorListSetItem",
                          [out, first, carries[j]],
                          {"element_dtype": y.dtype, "resize_if_index_out_of_bounds": False})  # fmt: skip
            out = w.out(node, "TensorListSetItem")
        outs.append(out)

    first_list, first_elem = 2 + m, 2 + m + nb
    types = [i32, i32, *tout[:m]] + [var] * (nb + n)
    if as_value:
        caps, value_prelude = _value_bindings(fg, captured, len(types))
        types += _value_types([], captured)
    else:
        caps, value_prelude = _arg_bindings(fg, captured), None
        types += [t._dtype for t in captured]
    stateful = _cf()._is_stateful(fg)
    body_args = (
        [(None, i32), (None, i32)]
        + [(t, dt) for t, dt in zip(fg.inputs[:m], tout[:m])]
        + [(None, var)] * (nb + n)
        + caps
    )
    index = {}

    def prelude(names, add_node):
        # The element read (and output written) in this step.
        one = add_node("add/y", "Const", [], {"dtype": i32, "value": np.array(1, np.int32)})
        if reverse:
            last = add_node("sub", "Sub", [names[1], f"{one}:output:0"], {"T": i32})
            idx = add_node("sub_1", "Sub", [f"{last}:z:0", names[0]], {"T": i32})
            index["i"] = f"{idx}:z:0"
        elif from_first:
            idx = add_node("add_1", "AddV2", [names[0], f"{one}:output:0"], {"T": i32})
            index["i"] = f"{idx}:z:0"
        else:
            index["i"] = names[0]
        index["one"] = f"{one}:output:0"
        bound = {}
        for j, x in enumerate(fg.inputs[m : m + n]):
            es = add_node("TensorArrayV2Read/TensorListGetItem/element_shape", "Const", [],
                          {"dtype": i32, "value": _element_shape_value(x.shape)})  # fmt: skip
            get = add_node("TensorArrayV2Read/TensorListGetItem", "TensorListGetItem",
                           [names[first_elem + j], index["i"], f"{es}:output:0"],
                           {"element_dtype": x.dtype, "Tshape": i32})  # fmt: skip
            bound[x] = f"{get}:item:0"
        if value_prelude is not None:
            bound.update(value_prelude(names, add_node))
        return bound

    def extra(refs, names, add_node, refer):
        inc = add_node("add", "AddV2", [names[0], index["one"]], {"T": i32})
        refs = [f"{inc}:z:0", *refs[1:]]
        for j, y in enumerate(ys):
            put = add_node("TensorArrayV2Write/TensorListSetItem", "TensorListSetItem",
                           [names[first_list + j], index["i"], refer(y)],
                           {"element_dtype": y.dtype,
                            "resize_if_index_out_of_bounds": False})  # fmt: skip
            refs[first_list + j] = f"{put}:output_handle:0"
        return refs

    def build_body(fdef):
        rets = [("arg", 0), ("arg", 1), *fg.outputs[:m]]
        rets += [("arg", i) for i in range(first_list, len(types))]
        _function_def(fdef, fg, lib, body_args, rets, stateful, extra, prelude, expand=as_value)

    def build_cond(fdef):
        sig = fdef.signature
        for i, dt in enumerate(types):
            sig.input_arg.add(name=f"arg{i}", type=dt.as_datatype_enum)
        sig.output_arg.add(name="out0", type=dtypes.bool.as_datatype_enum)
        less = fdef.node_def.add(name="Less", op="Less")
        less.input.extend(["arg0", "arg1"])
        less.attr["T"].CopyFrom(attr_value(i32))
        fdef.ret["out0"] = "Less:z:0"

    shapes = [_shape.TensorShape([])] * 2 + _shapes(a["output_shapes"][:m])
    shapes += [_shape.TensorShape([])] * (nb + n)
    shapes += [_value_shape(t) if as_value else t.shape for t in captured]
    counter = const(f"{base}/loop_counter", np.int32(0))
    attrs = {
        "T": types,
        "cond": lib.add(fg, ("ScanCond", as_value), build_cond),
        "body": lib.add(fg, ("ScanBody", as_value), build_body),
        "output_shapes": shapes,
        "parallel_iterations": 10,
        "_lower_using_switch_merge": True,
        "_num_original_outputs": len(types),
    }
    loop = w.node(
        base, "While" if stateful else "StatelessWhile",
        [counter, trips, *carries, *outs, *lists, *(ref(t) for t in captured)], attrs,
        exact=True, control=control, device=op._device,
    )  # fmt: skip
    results = [w.out(loop, "While", 2 + k) for k in range(m)]
    n_out = n_static if n_static is not None else -1
    for j, y in enumerate(ys):
        name = f"{base}/TensorArrayV2Stack/TensorListStack"
        es = element_shape(name, y.shape)
        node = w.node(name, "TensorListStack", [w.out(loop, "While", first_list + j), es],
                      {"element_dtype": y.dtype, "num_elements": n_out})  # fmt: skip
        results.append(w.out(node, "TensorListStack"))
    return results


def _export_scan(op, lib):
    a = op._attrs
    fg = a["fn"]
    captured = _scan_parts(op)[2]
    stateful = any(o._def is not None and (o._def.reads_resource or o._def.writes_resource)
                   for o in fg._ops)  # fmt: skip

    def build(fdef):
        args = [(t, t.dtype) for t in fg.inputs] + _arg_bindings(fg, captured)
        _function_def(fdef, fg, lib, args, list(fg.outputs), stateful)

    attrs = {k: v for k, v in a.items() if k != "fn"}
    attrs["fn"] = lib.add(fg, "TfstyleScan", build)
    attrs["output_shapes"] = _shapes(a["output_shapes"])
    return attrs


def variable_def(var, export_scope=None):
    """``Variable.to_proto()``: the variable's ``VariableDef`` (names of its ops and tensors)."""
    strip = _stripper(export_scope)
    proto = variable_pb2.VariableDef(
        variable_name=strip(var.name),
        initializer_name=strip(var.initializer.name),
        snapshot_name=strip(var._graph_element.name),
        trainable=bool(var.trainable),
        is_resource=True,
    )
    if var.initial_value is not None:
        proto.initial_value_name = strip(var.initial_value.name)
    info = getattr(var, "_save_slice_info", None)
    if info is not None and info.to_proto(export_scope) is not None:
        proto.save_slice_info_def.CopyFrom(info.to_proto(export_scope))
    return proto


def _stripper(scope):
    if not scope:
        return lambda name: name
    prefix = scope.rstrip("/") + "/"

    def strip(name):
        if name.startswith("^"):
            return "^" + strip(name[1:])
        return name[len(prefix) :] if name.startswith(prefix) else name

    return strip


# -- import ------------------------------------------------------------------------------------
def _as_graph_def_proto(graph_def):
    if isinstance(graph_def, graph_pb2.GraphDef):
        return graph_def
    # A GraphDef from TensorFlow's own proto classes: same wire format.
    if isinstance(graph_def, _message.Message) and (
        graph_def.DESCRIPTOR.full_name == "tensorflow.GraphDef"
    ):
        return graph_pb2.GraphDef.FromString(graph_def.SerializeToString())
    raise TypeError(f"graph_def must be a GraphDef proto, got {type(graph_def).__name__}.")


def _parse_input(s):
    if s.startswith("^"):
        return s[1:], -1
    name, sep, idx = s.rpartition(":")
    if sep and idx.isdigit():
        return name, int(idx)
    return s, 0


def _unsupported_error(missing):
    listed = ", ".join(f"'{t}'" for t in missing)
    return errors.NotFoundError(
        None,
        None,
        f"Op type not registered {listed} in tfstyle: the graph uses {len(missing)} op "
        f"type{'s' if len(missing) > 1 else ''} that tfstyle does not implement: {listed}.",
    )


def _topological_nodes(nodes, source=None):
    """GraphDef nodes with every node after its inputs; raises ``ValueError`` on a cycle."""
    by_name = {n.name: n for n in nodes}
    order, state = [], {}
    for root in nodes:
        if root.name in state:
            continue
        stack = [(root, False)]
        while stack:
            n, done = stack.pop()
            if done:
                state[n.name] = 2
                order.append(n)
                continue
            st = state.get(n.name)
            if st == 2:
                continue
            if st == 1:
                raise ValueError(f"graph_def is invalid at node '{n.name}': a cycle of inputs.")
            state[n.name] = 1
            stack.append((n, True))
            for s in reversed(n.input):
                dep = by_name.get(source(s) if source else _parse_input(s)[0])
                if dep is not None and state.get(dep.name) != 2:
                    if state.get(dep.name) == 1:
                        raise ValueError(
                            f"graph_def is invalid at node '{n.name}': a cycle of inputs."
                        )
                    stack.append((dep, False))
    return order


def _body_source(s):
    """The node (or argument) a FunctionDef body input names, and whether it is control."""
    if s.startswith("^"):
        return s[1:]
    return s.split(":", 1)[0]


def _output_position(node_type, arg, index, lib):
    """The position among a node's outputs of ``node:arg:index`` in a FunctionDef body; a call
    of a library function names its outputs by the function's output args."""
    called = lib.get(node_type)
    if called is not None:
        return [a.name for a in called.signature.output_arg].index(arg) + index
    return _body_output_index(node_type, arg, index)


def _import_body(graph, fdef, values, lib, prefix):
    """Creates the ops of ``fdef``'s body in ``graph``, named under ``prefix``, with its
    arguments bound by ``values`` (argument name -> tensor). Returns its results."""
    sig = fdef.signature
    outputs, created, kinds = {}, {}, {}

    def resolve(s):
        if s in values:
            return values[s]
        parts = s.split(":")
        if len(parts) != 3 or parts[0] not in outputs:
            raise ValueError(f"Function '{sig.name}': unknown input '{s}'.")
        node, arg, index = parts
        return outputs[node][_output_position(kinds[node], arg, int(index), lib)]

    for nd in _topological_nodes(list(fdef.node_def), _body_source):
        inputs = [resolve(s) for s in nd.input if not s.startswith("^")]
        control = [created[s[1:]] for s in nd.input if s.startswith("^")]
        op, outs = _create_node(graph, nd, inputs, control, f"{prefix}{nd.name}/", lib)
        created[nd.name], outputs[nd.name], kinds[nd.name] = op, outs, nd.op
    return [resolve(fdef.ret[a.name]) for a in sig.output_arg]


def _import_function(fdef, lib, outer, bindings, name):
    """A FuncGraph rebuilt from ``fdef``; ``bindings`` per argument: ``("capture", outer
    tensor)`` or ``("input", dtype, shape)``. Its outputs follow the signature's output args."""
    from tfstyle.framework.func_graph import FuncGraph

    fg = FuncGraph(name, outer)
    sig = fdef.signature
    if len(bindings) != len(sig.input_arg):
        raise ValueError(
            f"Function '{sig.name}' takes {len(sig.input_arg)} arguments, got {len(bindings)}."
        )
    values = {}
    with fg.as_default():
        for arg, b in zip(sig.input_arg, bindings):
            values[arg.name] = fg.capture(b[1]) if b[0] == "capture" else fg.add_input(*b[1:])
        with fg.control_dependencies(None):
            fg.outputs = _import_body(fg, fdef, values, lib, "")
    return fg


def _import_call(graph, nd, inputs, control, name, lib):
    """A node calling a library function: its body, inlined, and an ``IdentityN`` named as the
    node holding its results."""
    sig = lib[nd.op].signature
    if len(inputs) != len(sig.input_arg):
        raise ValueError(
            f"Function '{sig.name}' takes {len(sig.input_arg)} arguments, got {len(inputs)}."
        )
    values = {a.name: t for a, t in zip(sig.input_arg, inputs)}
    with graph.control_dependencies(control):
        outs = _import_body(graph, lib[nd.op], values, lib, name)
    op = graph.create_op(
        "IdentityN", outs, {"T": [t.dtype for t in outs]}, name=name, control_inputs=control
    )
    return op, op._outputs


def _function(lib, nd, key):
    name = nd.attr[key].func.name
    fdef = lib.get(name)
    if fdef is None:
        raise ValueError(f"Node '{nd.name}': function '{name}' is not in the graph's library.")
    return fdef


def _attr_shapes(nd, n):
    a = nd.attr.get("output_shapes")
    shapes = [shape_from_proto(sp) for sp in a.list.shape] if a is not None else []
    return shapes if len(shapes) == n else [_shape.unknown_shape()] * n


def _import_if(graph, nd, inputs, control, name, lib):
    from tfstyle.ops import control_flow_ops as cf

    pred, args = inputs[0], inputs[1:]
    bind = [("capture", t) for t in args]
    then_g = _import_function(_function(lib, nd, "then_branch"), lib, graph, bind, "cond_true")
    else_g = _import_function(_function(lib, nd, "else_branch"), lib, graph, bind, "cond_false")
    captured = cf._captured_inputs(then_g, else_g)
    tout = [t.dtype for t in then_g.outputs]
    shapes = _attr_shapes(nd, len(tout))
    attrs = {
        "Tcond": pred.dtype,
        "Tin": [t._dtype for t in captured],
        "Tout": tout,
        "then_branch": then_g,
        "else_branch": else_g,
        "output_shapes": [cf._shape_tuple(s) for s in shapes],
        **_slice_rows(nd),
    }
    op = graph.create_op(nd.op, [pred, *captured], attrs, name=name, control_inputs=control)
    return op, op._outputs


def _slice_rows(nd):
    if "_slice_rows" not in nd.attr:
        return {}
    return {"_slice_rows": list(nd.attr["_slice_rows"].list.i)}


def _import_case(graph, nd, inputs, control, name, lib):
    from tfstyle.ops import control_flow_ops as cf

    index, args = inputs[0], inputs[1:]
    bind = [("capture", t) for t in args]
    base = name.replace("/", "_")
    graphs = []
    for k, f in enumerate(nd.attr["branches"].list.func):
        fdef = lib.get(f.name)
        if fdef is None:
            raise ValueError(
                f"Node '{nd.name}': function '{f.name}' is not in the graph's library."
            )
        graphs.append(_import_function(fdef, lib, graph, bind, f"{base}_branch{k}"))
    captured = cf._captured_inputs(*graphs)
    tout = [t.dtype for t in graphs[0].outputs]
    shapes = _attr_shapes(nd, len(tout))
    attrs = {
        "Tin": [t._dtype for t in captured],
        "Tout": tout,
        "branches": graphs,
        "output_shapes": [cf._shape_tuple(s) for s in shapes],
        **_slice_rows(nd),
    }
    op = graph.create_op(nd.op, [index, *captured], attrs, name=name, control_inputs=control)
    return op, op._outputs


def _import_while(graph, nd, inputs, control, name, lib):
    from tfstyle.ops import control_flow_ops as cf

    shapes = _attr_shapes(nd, len(inputs))
    keep = [i for i, t in enumerate(inputs) if t._dtype is not dtypes.resource]
    bind = [
        ("capture", t) if t._dtype is dtypes.resource else ("input", t.dtype, shapes[i])
        for i, t in enumerate(inputs)
    ]
    cond_g = _import_function(_function(lib, nd, "cond"), lib, graph, bind, "while_cond")
    body_g = _import_function(_function(lib, nd, "body"), lib, graph, bind, "while_body")
    inner = dict(zip(range(len(inputs)), body_g.outputs))
    for i, t in enumerate(inputs):
        if t._dtype is dtypes.resource and inner[i] is not body_g.capture(t):
            raise ValueError(f"Node '{nd.name}': the loop body changes resource argument {i}.")
    body_g.outputs = [body_g.outputs[i] for i in keep]
    cond_g.outputs = cond_g.outputs[:1]
    captured = cf._captured_inputs(cond_g, body_g)
    ins = [inputs[0], inputs[1], *(inputs[i] for i in keep), *captured]
    attrs = {
        "T": [t._dtype for t in ins],
        "Tout": [t._dtype for t in ins],
        "cond": cond_g,
        "body": body_g,
        "output_shapes": [(), ()]
        + [cf._shape_tuple(shapes[i]) for i in keep]
        + [cf._shape_tuple(t.shape) for t in captured],
        "parallel_iterations": attr_from_proto(nd.attr["parallel_iterations"])
        if "parallel_iterations" in nd.attr
        else 10,
    }
    op = graph.create_op(nd.op, ins, attrs, name=name, control_inputs=control)
    outs = [op._outputs[2 + keep.index(i)] if i in keep else t for i, t in enumerate(inputs)]
    return op, outs


def _import_scan(graph, nd, inputs, control, name, lib):
    from tfstyle.ops import control_flow_ops as cf

    attrs = {k: attr_from_proto(v) for k, v in nd.attr.items() if not k.startswith("_")}
    n, m, from_first = attrs["n_elems"], attrs["n_carry"], attrs["init_from_first"]
    n_init = 0 if from_first else m
    elems, init, outer = inputs[:n], inputs[n : n + n_init], inputs[n + n_init :]
    elem_specs = [(e.dtype, e.shape[1:] if e.shape.ndims else None) for e in elems]
    carry_specs = elem_specs if from_first else [(t.dtype, t.shape) for t in init]
    specs = (carry_specs if m else []) + elem_specs
    bind = [("input", dt, sh) for dt, sh in specs] + [("capture", t) for t in outer]
    fg = _import_function(_function(lib, nd, "fn"), lib, graph, bind, "scan_fn")
    captured = cf._captured_inputs(fg)
    attrs["fn"] = fg
    attrs["output_shapes"] = [cf._shape_tuple(s) for s in attrs["output_shapes"]]
    op = graph.create_op(
        nd.op, [*elems, *init, *captured], attrs, name=name, control_inputs=control
    )
    return op, op._outputs


def _import_symbolic_gradient(graph, nd, inputs, control, name, lib):
    """A ``SymbolicGradient`` of a library function: the function's body is rebuilt in the
    graph (its arguments bound to the node's first inputs) and differentiated by a tfstyle
    ``Gradients`` op with respect to every argument, weighted by the node's remaining inputs,
    each argument held constant for the others."""
    from tfstyle.ops import array_ops
    from tfstyle.ops import gradients as _grads

    fdef = _function(lib, nd, "f")
    sig = fdef.signature
    n = len(sig.input_arg)
    if len(inputs) != n + len(sig.output_arg):
        raise ValueError(
            f"SymbolicGradient of '{sig.name}' needs {n + len(sig.output_arg)} inputs, got "
            f"{len(inputs)}."
        )
    args, dys = inputs[:n], inputs[n:]
    values = {a.name: t for a, t in zip(sig.input_arg, args)}
    ys = _import_body(graph, fdef, values, lib, name)
    # A function's gradient is partial: each argument is independent of the others, even where
    # the tensors bound to them are computed from one another (a stop_gradients tensor).
    with graph.control_dependencies(control):
        grads = _grads.gradients(
            ys, list(args), grad_ys=list(dys), stop_gradients=list(args), name=f"{name}gradients/"
        )
        grads = [
            array_ops.zeros_like(a) if g is None else g for g, a in zip(grads, args)
        ]  # fmt: skip
    producers = [g.op for g in grads if g.op.type == "Gradients"]
    return (producers[0] if producers else grads[0].op), grads


_OWN_GRADIENT_OPS = ("Gradients", "Hessians")


def _own_gradients_extra_inputs(op):
    """A ``Gradients``/``Hessians`` op written as itself also takes, after its own inputs
    (ys, grad_ys, tensor xs), the handles of the variables it differentiates and the tensors it
    holds constant, and an output of each tf.cond whose slices it computes: the edges an import
    needs to build the op again."""
    spec = op._attrs["_spec"]
    conds = [u.op._outputs[0] for u in spec.conds.uses] if spec.conds is not None else []
    return [*spec.handles, *spec.stops, *conds]


def _export_own_gradients(op, lib):
    spec = op._attrs["_spec"]
    by_output = sorted(spec.entries, key=lambda e: e.out_index)
    return {
        "Tout": [dtype for dtype, _ in op._attrs["_out_types"]],
        "N_ys": len(spec.ys),
        "grad_ys_index": [-1 if i is None else i for i in spec.grad_ys_index],
        "x_is_variable": [e.var_key is not None for e in by_output],
        # Per tf.cond whose slices it computes: which of the cond's inputs they are of.
        "cond_inputs": [u.j for u in spec.conds.uses] if spec.conds is not None else [],
    }


class _ImportedVariable:
    """The dtype and shape of an imported variable, read from its ``VarHandleOp``."""

    def __init__(self, handle):
        attrs = ops.variable_handle_op(handle)._attrs
        self.dtype = attrs["dtype"]
        self.shape = _shape.as_shape(attrs["shape"])


def _import_own_gradients(graph, nd, inputs, control, name, lib):
    from tfstyle.ops import gradients as _grads

    n_ys = nd.attr["N_ys"].i
    grad_index = list(nd.attr["grad_ys_index"].list.i)
    is_variable = list(nd.attr["x_is_variable"].list.b)
    n_grad_ys = sum(i >= 0 for i in grad_index)
    n_tensors = len(is_variable) - sum(is_variable)
    ys = inputs[:n_ys]
    given = inputs[n_ys : n_ys + n_grad_ys]
    tensors = iter(inputs[n_ys + n_grad_ys : n_ys + n_grad_ys + n_tensors])
    rest = inputs[n_ys + n_grad_ys + n_tensors :]
    cond_inputs = list(nd.attr["cond_inputs"].list.i) if "cond_inputs" in nd.attr else []
    cond_outputs = rest[len(rest) - len(cond_inputs) :] if cond_inputs else []
    rest = rest[: len(rest) - len(cond_inputs)]
    handles, stops = iter(rest[: sum(is_variable)]), rest[sum(is_variable) :]
    x_pairs = []
    for variable in is_variable:
        if variable:
            h = next(handles)
            x_pairs.append((h, _ImportedVariable(h)))
        else:
            x_pairs.append((next(tensors), None))
    grad_ys = [None if i < 0 else given[i] for i in grad_index]
    conds = []
    if cond_inputs:
        uses = _grads._Uses(ys, {t.op for t in stops}, [])
        for out, j in zip(cond_outputs, cond_inputs):
            found = uses._cond(out.op, j)
            if not isinstance(found, list):
                raise ValueError(f"the gradient of '{out.op.name}' is no longer IndexedSlices")
            conds.append(found[0])
    with graph.control_dependencies(control):
        outs = _grads._build(ys, x_pairs, grad_ys, stops, None, nd.op, name=name, conds=conds)
    if any(o is None for o in outs):
        raise ValueError("an x it differentiates with respect to no longer reaches its ys")
    return outs[0].op, outs


def _create_node(graph, nd, inputs, control, name, lib):
    """Creates the op of NodeDef ``nd``: ``(op, its outputs as the NodeDef numbers them)``.
    Attributes that the NodeDef leaves out take TF's defaults."""
    missing = {k: v for k, v in op_defaults.defaults(nd.op).items() if k not in nd.attr}
    if missing:
        filled = node_def_pb2.NodeDef()
        filled.CopyFrom(nd)
        for k, v in missing.items():
            filled.attr[k].CopyFrom(v)
        nd = filled
    functional = _FUNCTIONAL_OPS.get(nd.op)
    if functional is not None:
        return functional[1](graph, nd, inputs, control, name, lib)
    if nd.op in lib:
        return _import_call(graph, nd, inputs, control, name, lib)
    attrs = {
        k: attr_from_proto(v)
        for k, v in nd.attr.items()
        if not k.startswith("_") or k in _IMPORTED_PRIVATE_ATTRS
    }
    op = graph.create_op(nd.op, inputs, attrs, name=name, control_inputs=control)
    return op, op._outputs


# Private attributes the import rewrites set for tfstyle's lowerings (dropped on export).
_IMPORTED_PRIVATE_ATTRS = frozenset(
    {
        "_tensor_array",
        "_tensor_array_dynamic_size",
        "_tensor_array_identical_shapes",
        "_tensor_array_read",
    }
)


_FUNCTIONAL_OPS = {
    "If": (_export_if, _import_if),
    "StatelessIf": (_export_if, _import_if),
    "Case": (_export_case, _import_case),
    "StatelessCase": (_export_case, _import_case),
    "While": (_export_while, _import_while),
    "StatelessWhile": (_export_while, _import_while),
    "TfstyleScan": (_export_scan, _import_scan),
    "SymbolicGradient": (None, _import_symbolic_gradient),
    "Gradients": (_export_own_gradients, _import_own_gradients),
    "Hessians": (_export_own_gradients, _import_own_gradients),
}


def _mark_names_used(graph, names):
    used = graph._names_in_use
    for name in names:
        parts = name.split("/")
        for i in range(1, len(parts) + 1):
            key = "/".join(parts[:i]).lower()
            if used.get(key, 0) < 1:
                used[key] = 1


def import_graph_def(
    graph_def,
    input_map=None,
    return_elements=None,
    name=None,
    op_dict=None,
    producer_op_list=None,
):
    """Imports the ops of a ``GraphDef`` into the default graph, under name scope ``name``
    (``"import"`` by default; ``""`` for none).

    ``input_map`` maps tensor names of ``graph_def`` (``"x:0"``) to tensors of the default
    graph that replace them; ``return_elements`` names tensors (``"y:0"``) and ops (``"y"``)
    of ``graph_def`` to return. Every op type must be registered in tfstyle: otherwise one
    ``NotFoundError`` lists all the missing op types.
    """
    gd = _as_graph_def_proto(graph_def)
    ref_names = ()
    if ref_variables.has_ref_variables(gd):
        ref_names = ref_variables.variable_names(gd)
        gd = ref_variables.to_resource_variables(gd)
    if partition_stitch.has_partition_stitch(gd):
        gd = partition_stitch.rewrite(gd)
    gd = sparse_dedup.rewrite(gd) if sparse_dedup.has_unique(gd) else gd
    if uninitialized_report.has_report(gd):
        gd = uninitialized_report.rewrite(gd)
    if functionalize.needs_functionalization(gd):
        gd = functionalize.functionalize(gd)
    graph = ops.get_default_graph()
    input_map = dict(input_map or {})
    mapped = {}
    for key, value in input_map.items():
        if not isinstance(key, str):
            raise TypeError(f"input_map keys must be strings, got {key!r}")
        if not isinstance(value, ops.Tensor):
            raise TypeError(f"input_map values must be Tensors, got {value!r}")
        src, idx = _parse_input(key)
        mapped[(src, idx)] = value
    lib = {f.signature.name: f for f in gd.library.function}
    types = {n.op for n in gd.node} | {n.op for f in lib.values() for n in f.node_def}
    missing = sorted(t for t in types
                     if registry.get(t) is None and t not in _FUNCTIONAL_OPS and t not in lib)  # fmt: skip
    if missing:
        raise _unsupported_error(missing)
    names_in_gd = {n.name for n in gd.node}
    unused = [k for k, (s, i) in zip(input_map, mapped) if s not in names_in_gd]
    if unused:
        raise ValueError(f"Attempted to map inputs that were not found in graph_def: {unused}")
    if name is None:
        name = "import"
    with graph.name_scope(name) as scope:
        prefix = scope
    created, outputs = {}, {}
    order = _topological_nodes(list(gd.node))
    with graph.control_dependencies(None):
        for nd in order:
            inputs, control = [], []
            for s in nd.input:
                src, idx = _parse_input(s)
                if idx < 0:
                    if src not in created:
                        raise ValueError(
                            f"Node '{nd.name}': unknown control input '{src}' in graph_def."
                        )
                    control.append(created[src])
                    continue
                if (src, idx) in mapped:
                    inputs.append(mapped[(src, idx)])
                    continue
                outs = outputs.get(src)
                if outs is None:
                    raise ValueError(f"Node '{nd.name}': unknown input node '{src}' in graph_def.")
                if idx >= len(outs):
                    raise ValueError(
                        f"Node '{nd.name}': input '{s}' refers to output {idx} of '{src}', which "
                        f"has {len(outs)} outputs."
                    )
                inputs.append(outs[idx])
            try:
                op, outs = _create_node(graph, nd, inputs, control, prefix + nd.name + "/", lib)
            except (TypeError, ValueError, KeyError) as e:
                raise ValueError(f"Node '{nd.name}' ({nd.op}) cannot be imported: {e}") from e
            if nd.device:
                op._set_device(nd.device)
            shapes = nd.attr.get("_output_shapes")
            if shapes is not None:
                for t, sp in zip(outs, shapes.list.shape):
                    try:
                        t.set_shape(shape_from_proto(sp))
                    except ValueError:
                        pass
            created[nd.name], outputs[nd.name] = op, outs
    _mark_names_used(graph, [prefix + n for n in created])
    _register_ref_variables(graph, ref_names, created)
    if return_elements is None:
        return None
    out = []
    for el in return_elements:
        src, idx = _parse_input(el)
        op = created.get(src)
        if op is None or (":" in el and idx >= len(outputs[src])):
            raise ValueError(f"Requested return_element {el!r} not found in graph_def.")
        out.append(outputs[src][idx] if ":" in el else op)
    return out


# -- MetaGraphDef ------------------------------------------------------------------------------
def _collection_def(items, export_scope):
    """A ``CollectionDef`` for a collection's items, or ``None`` if they can't be serialised."""
    cd = meta_graph_pb2.CollectionDef()
    if not items:
        return None
    strip = _stripper(export_scope)
    if all(hasattr(x, "to_proto") and hasattr(x, "initializer") for x in items):
        cd.bytes_list.value.extend(variable_def(x, export_scope).SerializeToString() for x in items)
    elif all(isinstance(x, (ops.Tensor, ops.Operation)) for x in items):
        cd.node_list.value.extend(strip(x.name) for x in items)
    elif all(isinstance(x, (str, bytes)) for x in items):
        cd.bytes_list.value.extend(_as_bytes(x) for x in items)
    elif all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in items):
        cd.int64_list.value.extend(int(x) for x in items)
    elif all(isinstance(x, (float, np.floating)) for x in items):
        cd.float_list.value.extend(float(x) for x in items)
    elif all(isinstance(x, _message.Message) for x in items):
        cd.bytes_list.value.extend(x.SerializeToString() for x in items)
    else:
        return None
    return cd


def _write_proto(filename, proto, as_text):
    """Writes ``proto`` to ``filename`` through a temporary file renamed into place."""
    directory = os.path.dirname(filename)
    if directory:
        os.makedirs(directory, exist_ok=True)
    data = text_format.MessageToString(proto).encode() if as_text else proto.SerializeToString()
    temp = f"{filename}.tmp{os.getpid()}"
    try:
        with open(temp, "wb") as f:
            f.write(data)
        os.replace(temp, filename)
    except BaseException:
        if os.path.exists(temp):
            os.remove(temp)
        raise


def export_meta_graph(
    filename=None,
    meta_info_def=None,
    graph_def=None,
    saver_def=None,
    collection_list=None,
    as_text=False,
    graph=None,
    export_scope=None,
    clear_devices=False,
    clear_extraneous_savers=False,
    strip_default_attrs=False,
    save_debug_info=False,
    **kwargs,
):
    """``tf.train.export_meta_graph``: the graph, its collections and a ``SaverDef`` as a
    ``MetaGraphDef``, written to ``filename`` if given (binary, or text with ``as_text``)."""
    graph = graph or ops.get_default_graph()
    strip = _stripper(export_scope)
    mg = meta_graph_pb2.MetaGraphDef()
    if meta_info_def is not None:
        mg.meta_info_def.CopyFrom(meta_info_def)
    else:
        mg.meta_info_def.SetInParent()
    if graph_def is None:
        gd = graph.as_graph_def(add_shapes=True)
    else:
        gd = graph_pb2.GraphDef()
        gd.CopyFrom(_as_graph_def_proto(graph_def))
    if export_scope:
        gd = _scoped_graph_def(gd, export_scope, strip)
    if clear_devices:
        for nd in gd.node:
            nd.device = ""
    mg.graph_def.CopyFrom(gd)
    if saver_def is not None:
        mg.saver_def.CopyFrom(saver_def)
    keys = collection_list if collection_list is not None else graph.get_all_collection_keys()
    for key in keys:
        if not isinstance(key, str):
            continue
        items = graph.get_collection(key)
        if export_scope:
            items = [x for x in items if _in_scope(x, export_scope)]
        cd = _collection_def(items, export_scope)
        if cd is not None:
            mg.collection_def[key].CopyFrom(cd)
    if filename:
        _write_proto(filename, mg, as_text)
    return mg


def _in_scope(item, scope):
    name = getattr(item, "name", None)
    return not isinstance(name, str) or name.startswith(scope.rstrip("/") + "/")


def _scoped_graph_def(gd, scope, strip):
    prefix = scope.rstrip("/") + "/"
    out = graph_pb2.GraphDef()
    out.versions.CopyFrom(gd.versions)
    out.library.CopyFrom(gd.library)
    for nd in gd.node:
        if not nd.name.startswith(prefix):
            continue
        new = out.node.add()
        new.CopyFrom(nd)
        new.name = strip(nd.name)
        del new.input[:]
        new.input.extend(strip(s) for s in nd.input)
    return out


def read_meta_graph(filename):
    """Reads a ``MetaGraphDef`` file, binary or text format (as TF accepts either)."""
    try:
        with open(filename, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        raise OSError(f"File {filename} does not exist.") from None
    mg = meta_graph_pb2.MetaGraphDef()
    try:
        mg.ParseFromString(data)
        return mg
    except _message.DecodeError:
        pass
    try:
        text_format.Merge(data.decode("utf-8"), mg)
    except (text_format.ParseError, UnicodeDecodeError) as e:
        raise OSError(f"Cannot parse file {filename}: {e}.") from None
    return mg


def _as_meta_graph_proto(meta):
    if isinstance(meta, meta_graph_pb2.MetaGraphDef):
        return meta
    if (
        isinstance(meta, _message.Message)
        and meta.DESCRIPTOR.full_name == "tensorflow.MetaGraphDef"
    ):
        return meta_graph_pb2.MetaGraphDef.FromString(meta.SerializeToString())
    return read_meta_graph(os.fspath(meta))


def variable_from_def(var_def, graph=None, import_scope=None, is_initialized=None):
    """A ``Variable`` wired to the existing ops that ``var_def`` (a ``VariableDef``) names."""
    from tfstyle.ops import _base

    graph = graph or ops.get_default_graph()
    prefix = import_scope.rstrip("/") + "/" if import_scope else ""

    def element(name):
        return graph.as_graph_element(prefix + name) if name else None

    handle = element(var_def.variable_name)
    # A ref variable's import made its object already (``w:0`` reads through it): complete it.
    var = graph._ref_variables.get(handle) or _wired_variable(handle, None)
    var._initializer_op = element(var_def.initializer_name)
    if var_def.snapshot_name:
        var._graph_element = element(var_def.snapshot_name)
    var._initial_value = element(var_def.initial_value_name)
    flag = (is_initialized or {}).get(handle)
    if flag is None:
        with graph.as_default(), graph.name_scope(handle.op.name + "/IsInitialized/"):
            flag = _base.output("VarIsInitializedOp", [handle], {}, name="VarIsInitializedOp")
    var._is_initialized_op = flag
    var._trainable = var_def.trainable
    if var_def.HasField("save_slice_info_def"):  # a part of a partitioned variable
        from tfstyle.ops.variables import Variable

        var._save_slice_info = Variable.SaveSliceInfo(
            save_slice_info_def=var_def.save_slice_info_def, import_scope=import_scope
        )
    return var


def _wired_variable(handle, snapshot):
    """A ``Variable`` of the imported ``VarHandleOp`` output ``handle``; ``snapshot`` is the read
    that fetching it gives (None: one is made when it is first needed)."""
    from tfstyle.ops.variables import Variable

    var = Variable.__new__(Variable)
    var._handle = handle
    var._dtype = handle.op.get_attr("dtype")
    var._shape = _shape.as_shape(handle.op.get_attr("shape"))
    var._initializer_op = var._initial_value = var._is_initialized_op = None
    var._graph_element = snapshot
    var._trainable = False
    var._constraint = None
    var._validate_shape = True
    var._caching_device = None
    var._save_slice_info = None
    return var


def _register_ref_variables(graph, names, created):
    """Makes the handles of the imported TF 1.x ref variables ``names`` read as their values
    wherever TF 1.x reads ``w:0`` (``Graph._ref_variables``), and show TF 1.x's dtype and shape
    (``ops.RefVariableOutput``). Their snapshot is the graph's own ``w/read`` where the ref pass
    made it a plain read of the handle."""
    for name in names:
        op = created.get(name)
        if op is None or op.type != "VarHandleOp":
            continue
        handle = op._outputs[0]
        # Shown as TF 1.x shows it (``float32_ref``, the variable's shape); still the handle.
        handle.__class__ = ops.RefVariableOutput
        read = created.get(name + "/read")
        snapshot = None
        if read is not None and read.type == "ReadVariableOp" and read._inputs[0] is handle:
            snapshot = read._outputs[0]
        graph._ref_variables[handle] = _wired_variable(handle, snapshot)


def import_scoped_meta_graph(
    meta_graph_or_file, clear_devices=False, graph=None, import_scope=None, input_map=None
):
    """Imports a ``MetaGraphDef`` (proto or file) into ``graph``: its ops, then its collections
    (variables become ``Variable`` objects wired to the imported ops). Returns
    ``(meta_graph_def, {variable name: Variable})``."""
    mg = _as_meta_graph_proto(meta_graph_or_file)
    graph = graph or ops.get_default_graph()
    gd = mg.graph_def
    if clear_devices:
        gd = graph_pb2.GraphDef.FromString(gd.SerializeToString())
        for nd in gd.node:
            nd.device = ""
    with graph.as_default():
        import_graph_def(gd, input_map=input_map, name=import_scope or "")
    prefix = import_scope.rstrip("/") + "/" if import_scope else ""
    flags = {}
    for op in graph.get_operations():
        if op.type == "VarIsInitializedOp" and op._inputs:
            flags.setdefault(op._inputs[0], op._outputs[0])
    variables = {}
    for key, cd in sorted(mg.collection_def.items()):
        kind = cd.WhichOneof("kind")
        if kind == "node_list":
            for name in cd.node_list.value:
                graph.add_to_collection(key, graph.as_graph_element(prefix + name))
        elif kind == "bytes_list":
            for raw in cd.bytes_list.value:
                if key in VARIABLE_COLLECTIONS:
                    var = variables.get(raw)
                    if var is None:
                        vd = variable_pb2.VariableDef.FromString(raw)
                        var = variable_from_def(vd, graph, import_scope, flags)
                        variables[raw] = var
                    graph.add_to_collection(key, var)
                elif key == ops.GraphKeys.SAVERS:
                    graph.add_to_collection(key, saver_pb2.SaverDef.FromString(raw))
                else:
                    graph.add_to_collection(key, raw)
        elif kind == "int64_list":
            for x in cd.int64_list.value:
                graph.add_to_collection(key, int(x))
        elif kind == "float_list":
            for x in cd.float_list.value:
                graph.add_to_collection(key, float(x))
    return mg, {v.name: v for v in variables.values()}
