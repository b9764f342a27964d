"""GraphDef and MetaGraphDef: a tfstyle graph to TF's protos and back.

``graph_def(graph)`` serialises every op as a ``NodeDef`` with TF's op type and attribute names
(the Python attribute values of ``op._attrs`` become ``AttrValue`` protos; attributes whose name
starts with ``_`` are tfstyle's own and stay private). ``import_graph_def`` rebuilds ops from a
GraphDef through the op registry, so their shape rules run as when they are built by hand. The
protos are the ones the ``tensorboard`` package ships; nothing here needs TensorFlow.
"""

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

from tfstyle.framework import dtypes, errors, ops, registry
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


def _fill_node_def(nd, op):
    nd.name = op.name
    nd.op = op.type
    nd.input.extend(_input_name(t) for t in op._inputs)
    nd.input.extend("^" + c.name for c in op._control_inputs)
    if op._device:
        nd.device = op._device
    for key, value in op._attrs.items():
        if key.startswith("_") or value is None:
            continue
        nd.attr[key].CopyFrom(attr_value(value))


def node_def(op):
    """``op.node_def``: the op as a ``NodeDef`` proto."""
    nd = node_def_pb2.NodeDef()
    _fill_node_def(nd, op)
    return nd


def graph_def(graph, add_shapes=False):
    """``graph.as_graph_def()``: every op in creation order; ``add_shapes`` adds the static
    shapes of the outputs as the ``_output_shapes`` attribute (as TF does)."""
    gd = graph_pb2.GraphDef()
    gd.versions.producer = GRAPH_DEF_VERSION
    for op in graph.get_operations():
        nd = gd.node.add()
        _fill_node_def(nd, op)
        if add_shapes and op._outputs:
            nd.attr["_output_shapes"].list.shape.extend(shape_proto(t.shape) for t in op._outputs)
    return gd


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


def _topological_nodes(nodes):
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
                dep = by_name.get(_parse_input(s)[0])
                if dep is not None and state.get(dep.name) != 2:
                    if state.get(dep.name) == 1:
                        raise ValueError(
                            f"graph_def is invalid at node '{n.name}': a cycle of inputs."
                        )
                    stack.append((dep, False))
    return order


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
    missing = sorted({n.op for n in gd.node if registry.get(n.op) is None})
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
    created = {}
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
                op = created.get(src)
                if op is None:
                    raise ValueError(f"Node '{nd.name}': unknown input node '{src}' in graph_def.")
                if idx >= len(op._outputs):
                    raise ValueError(
                        f"Node '{nd.name}': input '{s}' refers to output {idx} of '{src}', which "
                        f"has {len(op._outputs)} outputs."
                    )
                inputs.append(op._outputs[idx])
            attrs = {k: attr_from_proto(v) for k, v in nd.attr.items() if not k.startswith("_")}
            try:
                op = graph.create_op(
                    nd.op, inputs, attrs, name=prefix + nd.name + "/", control_inputs=control
                )
            except (TypeError, ValueError, KeyError) as e:
                raise ValueError(f"Node '{nd.name}' ({nd.op}) cannot be imported: {e}") from e
            if nd.device:
                op._set_device(nd.device)
            shapes = nd.attr.get("_output_shapes")
            if shapes is not None:
                for t, sp in zip(op._outputs, shapes.list.shape):
                    try:
                        t.set_shape(shape_from_proto(sp))
                    except ValueError:
                        pass
            created[nd.name] = op
    _mark_names_used(graph, [prefix + n for n in created])
    if return_elements is None:
        return None
    out = []
    for el in return_elements:
        src, idx = _parse_input(el)
        op = created.get(src)
        if op is None or (":" in el and idx >= len(op._outputs)):
            raise ValueError(f"Requested return_element {el!r} not found in graph_def.")
        out.append(op._outputs[idx] if ":" in el else op)
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
    from tfstyle.ops.variables import Variable

    graph = graph or ops.get_default_graph()
    prefix = import_scope.rstrip("/") + "/" if import_scope else ""

    def element(name):
        return graph.as_graph_element(prefix + name) if name else None

    handle = element(var_def.variable_name)
    var = Variable.__new__(Variable)
    var._handle = handle
    var._dtype = handle.op.get_attr("dtype")
    var._shape = _shape.as_shape(handle.op.get_attr("shape"))
    var._initializer_op = element(var_def.initializer_name)
    var._graph_element = element(var_def.snapshot_name)
    var._initial_value = element(var_def.initial_value_name)
    flag = (is_initialized or {}).get(handle)
    if flag is None:
        with graph.as_default(), graph.name_scope(handle.op.name + "/IsInitialized/"):
            flag = _base.output("VarIsInitializedOp", [handle], {}, name="VarIsInitializedOp")
    var._is_initialized_op = flag
    var._trainable = var_def.trainable
    var._constraint = None
    var._validate_shape = True
    var._caching_device = None
    var._save_slice_info = None
    return var


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
