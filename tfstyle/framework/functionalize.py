"""TF 1.x control flow (``Switch``/``Merge``/``Enter``/``Exit``/``NextIteration``/``LoopCond``)
rewritten into TF 2.x's functional ``If`` and ``While`` nodes, GraphDef to GraphDef.

Graphs written by TF 1.x (and by TF 2.x with ``disable_control_flow_v2()``) express ``tf.cond``
and ``tf.while_loop`` as dataflow: a ``Switch`` routes a tensor to one of two outputs by a
predicate, a ``Merge`` forwards whichever input was computed, and a loop is a *frame* entered by
``Enter`` nodes (one per loop variable, plus ``is_constant`` ones for loop invariants), whose
``Merge``/``NextIteration`` pairs carry the loop variables round, ``LoopCond`` holding the
predicate that ``Switch``es each variable to the body or to its ``Exit``. tfstyle only runs the
functional form, so ``functionalize`` rewrites:

* each loop frame (innermost first) into a ``While`` node whose cond and body are new
  ``FunctionDef``s, in TF 2.x's convention: inputs loop counter, maximum iterations (``-1``),
  the loop variables, then the invariants (each returned unchanged by the body). Each ``Exit``
  becomes an ``Identity`` of its ``While`` output, keeping its name;
* each cond into an ``If`` node with two branch ``FunctionDef``s, whose inputs are the data
  inputs of its ``Switch``es. Each ``Merge`` becomes an ``Identity`` of its ``If`` output,
  keeping its name. A cond is found by propagating, from every ``Switch``, which branch of which
  predicate a node runs in; the nodes under one predicate that are connected to each other (not
  through a ``Switch``'s inputs) form one ``If``, innermost conds first. A cond computed from
  another's results under the same predicate (TF's gradient of a cond) is an ``If`` of its own,
  which computes again the other's branch tensors it reads.

TensorArrays (``TensorArrayV3`` and its read/write/scatter/gather/concat/split/size/grad ops),
which TF 1.x's ``map_fn``, ``scan`` and ``dynamic_rnn`` use, are rewritten first as TF 2.x's
TensorList ops: a TensorArray's *flow* tensor, which orders its reads and writes through the loop, becomes
the list itself, and its handle is no longer read. A gradient array starts as zeros; writes set
an element (TF adds a second write to the same element of a gradient array).

TF's gradient of a v1 loop saves forward values on stacks (``StackV2``, pushed once per forward
iteration, maybe in a cond's branch, and popped in the backward loop). Each stack becomes a
TensorList threaded through the forward and then the backward loop as one more loop variable
(switched into the branch where the push or pop is). Its capacity is a bound of the forward
loop's trip count read off its condition (``loop_bound``): ``maximum_iterations``, which
``dynamic_rnn``, ``map_fn`` and ``scan`` set, or a user's ``i < n``; without one, the capacity
that runs of the step find they need (``list_ops``).

TF's gradient loop sums the ``IndexedSlices`` gradient of a ``tf.gather`` in the forward loop
by concatenating each iteration's indices and values onto loop variables that grow. Each
becomes a list of the forward loop's ``maximum_iterations`` (see ``rewrite_accumulators``),
where every consumer of the result drops the rows of the iterations that did not run.

Constants that a function needs are copied into it (instead of being passed in) so that shape
arguments stay known when the graph is compiled. Nodes outside control flow keep their names.
"""

import numpy as np
from tensorboard.compat.proto import (
    attr_value_pb2,
    function_pb2,
    graph_pb2,
    node_def_pb2,
    tensor_shape_pb2,
    types_pb2,
)

from tfstyle.framework import graph_io  # (its import_graph_def runs this pass)

_SWITCH = frozenset({"Switch", "RefSwitch"})
_MERGE = frozenset({"Merge", "RefMerge"})
_ENTER = frozenset({"Enter", "RefEnter"})
_EXIT = frozenset({"Exit", "RefExit"})
_NEXT = frozenset({"NextIteration", "RefNextIteration"})
_PASS_THROUGH = _SWITCH | _MERGE | _ENTER | _EXIT | _NEXT | {"Identity", "RefIdentity"}
V1_CONTROL_FLOW_OPS = _SWITCH | _MERGE | _ENTER | _EXIT | _NEXT | {"LoopCond"}
TENSOR_ARRAY_OPS = frozenset(
    {
        "TensorArrayV3",
        "TensorArrayReadV3",
        "TensorArrayWriteV3",
        "TensorArrayGatherV3",
        "TensorArrayScatterV3",
        "TensorArrayConcatV3",
        "TensorArraySplitV3",
        "TensorArraySizeV3",
        "TensorArrayCloseV3",
        "TensorArrayGradV3",
    }
)
_STACK_OPS = frozenset({"StackV2", "StackPushV2", "StackPopV2"})
# Ops whose (first) output is a TensorList.
_LIST_MAKERS = frozenset(
    {
        "EmptyTensorList",
        "TensorListReserve",
        "TensorListFromTensor",
        "TensorListSetItem",
        "TensorListPushBack",
        "TensorListScatterIntoExistingList",
        "TensorListSplit",
    }
)


# The types of the accumulators that ``rewrite_accumulators`` bounds: indices and values.
_ACCUMULATED_TYPES = frozenset(
    {
        types_pb2.DT_INT32,
        types_pb2.DT_INT64,
        types_pb2.DT_FLOAT,
        types_pb2.DT_DOUBLE,
        types_pb2.DT_HALF,
        types_pb2.DT_BFLOAT16,
    }
)


def _sparse_indices_at(op_type):
    """Position of the ``indices`` input of a scatter or sparse update, or None."""
    from tfstyle.framework import sparse_dedup

    return sparse_dedup._indices_at(op_type)


def _sparse_values_at(op_type):
    """Position of the update values of a scatter or sparse update, or None."""
    from tfstyle.framework import sparse_dedup

    return sparse_dedup._values_at(op_type)


def needs_functionalization(gd):
    """Whether ``gd`` has TF 1.x control flow or TensorArray nodes at its top level."""
    kinds = V1_CONTROL_FLOW_OPS | TENSOR_ARRAY_OPS | _STACK_OPS
    return any(n.op in kinds for n in gd.node)


def functionalize(gd):
    """A copy of GraphDef ``gd`` with its v1 control flow written as ``If``/``While`` nodes."""
    return _Functionalizer(gd).run()


def _parse(s):
    """``(node name, output index)`` of a NodeDef input; index ``-1`` for a control input."""
    return graph_io._parse_input(s)


def _ref(name, idx):
    return f"{name}:{idx}"


def _canon(s):
    name, idx = _parse(s)
    return _ref(name, idx)


def _type_attr(dtype):
    return attr_value_pb2.AttrValue(type=dtype)


def _type_list_attr(dtypes_):
    a = attr_value_pb2.AttrValue()
    a.list.SetInParent()
    a.list.type.extend(dtypes_)
    return a


def _func_attr(name):
    a = attr_value_pb2.AttrValue()
    a.func.name = name
    return a


def _shape_list_attr(shapes):
    a = attr_value_pb2.AttrValue()
    a.list.SetInParent()
    for s in shapes:
        a.list.shape.add().CopyFrom(s)
    return a


def _unknown_shape():
    return tensor_shape_pb2.TensorShapeProto(unknown_rank=True)


def _const_tensor(value):
    from tfstyle.framework import graph_io

    return graph_io.tensor_proto(value)


class _Frame:
    def __init__(self, name, parent):
        self.name, self.parent = name, parent
        self.depth = 0 if parent is None else parent.depth + 1


class _Functionalizer:
    def __init__(self, gd):
        self.gd = gd
        self.nodes = {}
        self.outer_limits = {}  # loop's constant limit -> a copy outside the loop (loop_bound)
        for nd in gd.node:
            copy = node_def_pb2.NodeDef()
            copy.CopyFrom(nd)
            self.nodes[nd.name] = copy
        self.taken = set(self.nodes) | {f.signature.name for f in gd.library.function}
        self.functions = []
        self.stacked_values = {}  # a stack's pop -> the tensor its push saves

    # -- helpers ---------------------------------------------------------------------------
    def fresh(self, name):
        base, i = name, 0
        while name in self.taken:
            i += 1
            name = f"{base}_{i}"
        self.taken.add(name)
        return name

    def add_node(self, name, op, inputs=(), attrs=None):
        nd = node_def_pb2.NodeDef(name=self.fresh(name), op=op)
        nd.input.extend(inputs)
        for k, v in (attrs or {}).items():
            nd.attr[k].CopyFrom(v)
        self.nodes[nd.name] = nd
        return nd

    def add_const(self, name, value):
        value = np.asarray(value)
        t = _const_tensor(value)
        return self.add_node(
            name,
            "Const",
            attrs={"dtype": _type_attr(t.dtype), "value": attr_value_pb2.AttrValue(tensor=t)},
        )

    def dtype(self, ref):
        """The ``DataType`` enum of a tensor, read from its node's attributes."""
        name, idx = _parse(ref)
        nd = self.nodes.get(name)
        if nd is None:
            return types_pb2.DT_FLOAT
        if nd.op in _MERGE and idx == 1:
            return types_pb2.DT_INT32
        if nd.op in ("If", "StatelessIf", "Case", "StatelessCase", "While", "StatelessWhile",
                     "IdentityN"):  # fmt: skip
            key = "Tout" if nd.op in ("If", "StatelessIf", "Case", "StatelessCase") else "T"
            types = nd.attr[key].list.type
            return types[idx] if idx < len(types) else types_pb2.DT_FLOAT
        if nd.op in _LIST_MAKERS or (nd.op == "TensorListPopBack" and idx == 0):
            return types_pb2.DT_VARIANT
        for key in ("T", "dtype", "element_dtype", "out_type", "DstT", "Tout"):
            a = nd.attr.get(key)
            if a is not None and a.WhichOneof("value") == "type":
                return a.type
        if nd.op.startswith("TensorList") or nd.op == "EmptyTensorList":
            return types_pb2.DT_VARIANT
        return types_pb2.DT_FLOAT

    def output_shape(self, name):
        """The static shape TF recorded for output 0 of a node (``_output_shapes``)."""
        sh = self.nodes[name].attr.get("_output_shapes")
        return sh.list.shape[0] if sh is not None and sh.list.shape else _unknown_shape()

    def const_source(self, ref):
        """The input-less ``Const`` node a tensor is (through invariant ``Enter``s), or None."""
        seen = 0
        while seen < 1000:
            name, idx = _parse(ref)
            nd = self.nodes.get(name)
            if nd is None or idx != 0:
                return None
            if nd.op == "Const" and not any(not s.startswith("^") for s in nd.input):
                return nd
            if nd.op in _ENTER and nd.attr["is_constant"].b:
                ref = nd.input[0]
                seen += 1
                continue
            return None
        return None

    def consumers(self):
        out = {}
        for nd in self.nodes.values():
            for s in nd.input:
                name, idx = _parse(s)
                out.setdefault(name, []).append((nd.name, idx))
        return out

    def rewrite_refs(self, mapping, control=None):
        """Points every input that reads a ``mapping`` key (``"node:i"``) at its value, and each
        control input on a node of ``control`` at the node it maps to."""
        for nd in self.nodes.values():
            for j, s in enumerate(nd.input):
                name, idx = _parse(s)
                if idx < 0:
                    if control and name in control:
                        nd.input[j] = "^" + control[name]
                    continue
                new = mapping.get(_ref(name, idx))
                if new is not None:
                    nd.input[j] = new

    # -- the pass --------------------------------------------------------------------------
    def run(self):
        self.rewrite_tensor_arrays()
        self.fix_variant_types()
        self.rewrite_variable_shapes()
        frames = self.assign_frames()
        self.rewrite_stacks(frames)
        self.rewrite_accumulators(frames)
        for frame in sorted(frames, key=lambda f: -f.depth):
            self.collapse_frame(frame)
        root = [n for n in self.nodes if self.frame_of.get(n) is None]
        self.functionalize_conds(root, None)
        out = graph_pb2.GraphDef()
        out.versions.CopyFrom(self.gd.versions)
        out.library.CopyFrom(self.gd.library)
        out.library.function.extend(self.functions)
        out.node.extend(self.nodes.values())
        return out

    def rewrite_variable_shapes(self):
        """TF's gradient of a gather of a variable in a loop nested in another starts the
        accumulator of the slices' dense shape at ``ZerosLike(Shape(handle))``. ``Shape`` of a
        resource handle is ``[]``, but TF's graph optimizer folds it to the variable's shape
        (known from the handle's data) before it runs, and the accumulation relies on that.
        Such a ``Shape`` (read by ``ZerosLike``s only) becomes ``VariableShape``."""
        consumers = self.consumers()
        for nd in self.nodes.values():
            if nd.op != "Shape" or not nd.input:
                continue
            source = self.nodes.get(_parse(nd.input[0])[0])
            if source is None or source.op != "VarHandleOp":
                continue
            users = consumers.get(nd.name, [])
            if users and all(self.nodes[u].op == "ZerosLike" for u, _ in users):
                nd.op = "VariableShape"
                nd.attr.pop("T", None)

    # -- TensorArrays ----------------------------------------------------------------------
    def tensor_array_of(self, ref):
        """The ``TensorArrayV3``/``TensorArrayGradV3`` node a handle or flow tensor belongs to
        (through the nodes that pass it on), or None."""
        for _ in range(10000):
            name, idx = _parse(ref)
            nd = self.nodes.get(name)
            if nd is None:
                return None
            if nd.op in ("TensorArrayV3", "TensorArrayGradV3"):
                return name
            if nd.op in ("TensorArrayWriteV3", "TensorArrayScatterV3", "TensorArraySplitV3"):
                ref = nd.input[0]
            elif nd.op in _PASS_THROUGH and nd.input and not nd.input[0].startswith("^"):
                ref = nd.input[0]
            else:
                return None
        return None

    def dynamic_size(self, ta):
        """Whether ``TensorArrayV3`` node ``ta`` has ``dynamic_size``."""
        nd = self.nodes.get(ta) if ta is not None else None
        if nd is None or nd.op != "TensorArrayV3" or "dynamic_size" not in nd.attr:
            return False
        return nd.attr["dynamic_size"].b

    def array_name(self, ta):
        """The name TF 1.x's errors give ``TensorArrayV3`` node ``ta`` (its own name without a
        ``tensor_array_name``; TF adds a run-time counter, which tfstyle leaves out)."""
        nd = self.nodes[ta]
        name = nd.attr["tensor_array_name"].s if "tensor_array_name" in nd.attr else b""
        return attr_value_pb2.AttrValue(s=name or ta.encode())

    def identical_shapes(self, ta):
        """Whether ``TensorArrayV3`` node ``ta`` infers one element shape (``infer_shape``)."""
        nd = self.nodes[ta]
        return (
            nd.attr["identical_element_shapes"].b
            if "identical_element_shapes" in nd.attr
            else False
        )

    def reader_attrs(self, nd):
        """For a read or write of a ``TensorArrayV3``: its name, for TF 1.x's errors (and for
        a write whether the array infers one element shape: an element of another shape fails
        or is kept as it is)."""
        ta = self.tensor_array_of(nd.input[0])
        if ta is None or self.nodes[ta].op != "TensorArrayV3":
            return {}
        attrs = {"_tensor_array": self.array_name(ta)}
        if nd.op == "TensorArrayWriteV3":
            same = attr_value_pb2.AttrValue(b=self.identical_shapes(ta))
            attrs["_tensor_array_identical_shapes"] = same
        return attrs

    def split_checks(self, nd):
        """For a ``TensorArraySplitV3`` into a ``TensorArrayV3``: the attributes that tell the
        ``TensorListSplit`` it becomes how TF 1.x checks it, and the index tensors of the writes
        its flow certainly follows (through ``Identity``); ``None`` for a gradient's array."""
        ta = self.tensor_array_of(nd.input[0])
        ta_node = self.nodes.get(ta) if ta is not None else None
        if ta_node is None or ta_node.op != "TensorArrayV3":
            return None
        attrs = {
            "_tensor_array": self.array_name(ta),
            "_tensor_array_dynamic_size": attr_value_pb2.AttrValue(b=self.dynamic_size(ta)),
            "_tensor_array_identical_shapes": attr_value_pb2.AttrValue(b=self.identical_shapes(ta)),
        }
        written = []
        ref = nd.input[3]
        for _ in range(10000):
            writer = self.nodes.get(_parse(ref)[0])
            if writer is None:
                break
            if writer.op in ("TensorArrayWriteV3", "TensorArrayScatterV3"):
                written.append(writer.input[1])
                ref = writer.input[3]
            elif writer.op == "TensorArraySplitV3":
                # Its pieces start at index 0.
                written.append(
                    self.add_const(f"{nd.name}/written_{len(written)}", np.int32(0)).name
                )
                ref = writer.input[3]
            elif writer.op == "Identity" and writer.input:  # (not across a loop's Enter)
                ref = writer.input[0]
            else:
                break
        return attrs, written

    def rewrite_tensor_arrays(self):
        # A TensorArray's gradient (TensorArrayGradV3 of the forward array and its flow) starts
        # as zeros; TF then writes it through ``Identity(flow, ^grad)``, which must read the
        # zeros. Inside a gradient loop the flow already belongs to the gradient array.
        fresh_grads = {}
        for nd in self.nodes.values():
            if nd.op == "TensorArrayGradV3":
                ta = self.tensor_array_of(nd.input[0])
                if ta is not None and self.tensor_array_of(nd.input[1]) == ta:
                    fresh_grads[nd.name] = _canon(nd.input[1])
        for nd in self.nodes.values():
            if nd.op != "Identity" or not nd.input or nd.input[0].startswith("^"):
                continue
            for c in nd.input[1:]:
                g = c[1:] if c.startswith("^") else None
                if g in fresh_grads and _canon(nd.input[0]) == fresh_grads[g]:
                    nd.input[0] = f"{g}:1"
        # What a split must check as TF 1.x does (the array it writes into, its attributes, the
        # writes it certainly follows), read before the array's nodes are rewritten.
        originals = list(self.nodes.values())
        splits = {
            nd.name: self.split_checks(nd) for nd in originals if nd.op == "TensorArraySplitV3"
        }
        growing = {
            nd.name
            for nd in originals
            if nd.op == "TensorArrayWriteV3"
            and self.dynamic_size(self.tensor_array_of(nd.input[0]))
        }
        # Reads and writes of a TensorArrayV3 (not a gradient's) carry its name, for TF 1.x's
        # errors; its writes (each element once) are tracked from its TensorListReserve.
        readers = {
            nd.name: self.reader_attrs(nd)
            for nd in originals
            if nd.op in ("TensorArrayReadV3", "TensorArrayGatherV3", "TensorArrayConcatV3",
                         "TensorArrayWriteV3", "TensorArrayScatterV3")
        }  # fmt: skip
        mapping = {}
        for nd in list(self.nodes.values()):
            if nd.op not in TENSOR_ARRAY_OPS:
                continue
            data = [s for s in nd.input if not s.startswith("^")]
            attrs = {k: attr_value_pb2.AttrValue.FromString(v.SerializeToString())
                     for k, v in nd.attr.items()}  # fmt: skip
            name = nd.name
            shapes_attr = attrs.get("_output_shapes")

            def replace(op, inputs, new_attrs, name=name):
                self.become(name, op, inputs, new_attrs)

            if nd.op == "TensorArrayV3":
                es = self.element_shape_const(f"{name}/element_shape", attrs.get("element_shape"))
                # The handle is read by no rewritten op; a scalar stands for it, in the array's
                # loop frame (a loop nested in the one that makes the array takes it in).
                handle = self.add_const(f"{name}/handle", np.int32(0))
                handle.input.append("^" + name)
                same = attr_value_pb2.AttrValue(b=self.identical_shapes(name))
                # Whether reads clear what they read: an input only tfstyle's lowering reads.
                clear = attrs["clear_after_read"].b if "clear_after_read" in attrs else True
                clear = self.add_const(f"{name}/clear_after_read", np.bool_(clear))
                replace("TensorListReserve", [es.name, data[0], clear.name],
                        {"element_dtype": attrs["dtype"], "shape_type": _type_attr(types_pb2.DT_INT32),
                         "_tensor_array": self.array_name(name),
                         "_tensor_array_identical_shapes": same})  # fmt: skip
                mapping[_ref(name, 0)] = handle.name
                mapping[_ref(name, 1)] = name
            elif nd.op == "TensorArrayWriteV3":
                _, index, value, flow = data
                new_attrs = {"element_dtype": attrs["T"], **readers[name]}
                if name in growing:
                    # A write past the end of a TensorArray of dynamic size grows it.
                    new_attrs["resize_if_index_out_of_bounds"] = attr_value_pb2.AttrValue(b=True)
                replace("TensorListSetItem", [flow, index, value], new_attrs)
            elif nd.op == "TensorArrayReadV3":
                _, index, flow = data
                es = self.element_shape_const(f"{name}/element_shape", None)
                # (Past the end, TF 1.x's read words its error its own way.)
                replace("TensorListGetItem", [flow, index, es.name],
                        {"element_dtype": attrs["dtype"], **readers[name],
                         "_tensor_array_read": attr_value_pb2.AttrValue(b=True)})  # fmt: skip
                if shapes_attr is not None:
                    nd.attr["_output_shapes"].CopyFrom(shapes_attr)
            elif nd.op == "TensorArrayGatherV3":
                _, indices, flow = data
                es = self.element_shape_const(f"{name}/element_shape", attrs.get("element_shape"))
                replace("TensorListGather", [flow, indices, es.name],
                        {"element_dtype": attrs["dtype"], **readers[name]})  # fmt: skip
                if shapes_attr is not None:
                    nd.attr["_output_shapes"].CopyFrom(shapes_attr)
            elif nd.op == "TensorArrayScatterV3":
                _, indices, value, flow = data
                replace("TensorListScatterIntoExistingList", [flow, value, indices],
                        {"element_dtype": attrs["T"], **readers[name]})  # fmt: skip
            elif nd.op == "TensorArrayConcatV3":
                _, flow = data
                # The elements' shape but for their first dimension, which may vary.
                rest = attrs.get("element_shape_except0")
                dims = None
                if rest is not None and not rest.shape.unknown_rank:
                    dims = [-1] + [d.size if d.size >= 0 else -1 for d in rest.shape.dim]
                value = np.int32(-1) if dims is None else np.array(dims, np.int32)
                es = self.add_const(f"{name}/element_shape", value)
                leading = self.add_const(f"{name}/leading_dims", np.zeros([0], np.int64))
                replace("TensorListConcatV2", [flow, es.name, leading.name],
                        {"element_dtype": attrs["dtype"], **readers[name],
                         "shape_type": _type_attr(types_pb2.DT_INT32)})  # fmt: skip
                if shapes_attr is not None:
                    nd.attr["_output_shapes"].CopyFrom(shapes_attr)
            elif nd.op == "TensorArraySplitV3":
                # The pieces become the array's elements: a new list. TF 1.x splits only into an
                # array of as many elements (or a smaller one of dynamic size), none written yet,
                # so that list is the array whenever TF succeeds; the list it writes into and the
                # indices written before are extra inputs, which the lowering checks as TF does.
                _, value, lengths, flow = data
                es = self.element_shape_const(f"{name}/element_shape", None)
                new_attrs = {"element_dtype": attrs["T"],
                             "shape_type": _type_attr(types_pb2.DT_INT32)}  # fmt: skip
                checks = splits[name]
                extra = []
                if checks is not None:
                    new_attrs.update(checks[0])
                    extra = [flow, *checks[1]]
                replace("TensorListSplit", [value, es.name, lengths, *extra], new_attrs)
            elif nd.op == "TensorArraySizeV3":
                _, flow = data
                replace("TensorListLength", [flow], {})
            elif nd.op == "TensorArrayCloseV3":
                replace("NoOp", [], {})
            elif nd.op == "TensorArrayGradV3":
                _, flow = data
                handle = self.add_const(f"{name}/handle", np.int32(0))
                handle.input.append("^" + name)
                mapping[_ref(name, 0)] = handle.name
                kind = "ZerosLike" if name in fresh_grads else "Identity"
                replace(kind, [flow], {"T": _type_attr(types_pb2.DT_VARIANT)})
                mapping[_ref(name, 1)] = name
        if mapping:
            self.rewrite_refs(mapping)

    # -- stacks ----------------------------------------------------------------------------
    def stack_of(self, ref):
        """The ``StackV2`` node a stack handle comes from, or None."""
        for _ in range(10000):
            name, _ = _parse(ref)
            nd = self.nodes.get(name)
            if nd is None:
                return None
            if nd.op == "StackV2":
                return name
            if nd.op not in _PASS_THROUGH or not nd.input:
                return None
            ref = nd.input[0]
        return None

    def rewrite_stacks(self, frames):
        """TF's gradient of a v1 loop saves forward values on stacks: pushed once per forward
        iteration, popped once per backward one. Each stack becomes a TensorList threaded
        through both loops as one more loop variable."""
        for nd in self.nodes.values():
            if nd.op == "ControlTrigger":
                # It only orders the pushes (or pops) of one iteration, which the lists now
                # order by data.
                nd.op = "NoOp"
                del nd.input[:]
        stacks = [n for n, nd in self.nodes.items() if nd.op == "StackV2"]
        if not stacks:
            return
        users = {k: ([], []) for k in stacks}
        for n, nd in self.nodes.items():
            if nd.op in ("StackPushV2", "StackPopV2"):
                k = self.stack_of(nd.input[0])
                if k is None:
                    raise ValueError(f"Cannot find the stack that '{n}' ({nd.op}) uses.")
                users[k][nd.op == "StackPopV2"].append(n)
        loop_conds = {}
        for n, nd in self.nodes.items():
            if nd.op == "LoopCond":
                loop_conds[self.frame_of[n]] = n
        for k in stacks:
            pushes, pops = users[k]
            if len(pushes) != 1 or len(pops) > 1:
                raise ValueError(
                    f"Stack '{k}' is pushed {len(pushes)} times and popped {len(pops)} times; "
                    "only TF's gradient stacks (one push in a loop, one pop in another) import."
                )
            outer = self.frame_of[k]
            push = pushes[0]
            forward = self.chain(self.frame_of[push], outer, k)
            kd = self.nodes[k]
            if self.dtype(self.nodes[push].input[1]) == types_pb2.DT_VARIANT:
                # A TensorArray's flow, which TF saves only to order the gradient's reads: the
                # array itself now carries the order.
                self.drop_stack(k, push, pops)
                continue
            elem = kd.attr["elem_type"].type
            value_pushed = self.nodes[push].input[1]
            bound = self.capacity(forward)
            if bound is None:
                # No bound: the list's capacity is the one runs find it needs (list_ops).
                bound = self.add_const(f"{k}/max_num_elements", np.int32(-1)).name
                self.frame_of[bound] = outer
            es = self.add_const(f"{k}/element_shape", np.int32(-1))
            self.frame_of[es.name] = outer
            list_attrs = {
                "element_dtype": _type_attr(elem),
                "shape_type": _type_attr(types_pb2.DT_INT32),
            }
            self.become(k, "EmptyTensorList", [es.name, bound], list_attrs)
            after = self.thread_list(k, forward, push, "push", loop_conds)
            if pops:
                self.stacked_values[pops[0]] = value_pushed
                backward = self.chain(self.frame_of[pops[0]], outer, k)
                self.thread_list(after, backward, pops[0], "pop", loop_conds)

    def chain(self, frame, outer, stack):
        """The loops from the one inside ``outer`` down to ``frame``."""
        chain = []
        while frame is not outer:
            if frame is None:
                raise ValueError(f"Stack '{stack}' is used outside the loops inside its own.")
            chain.insert(0, frame)
            frame = frame.parent
        if not chain:
            raise ValueError(f"Stack '{stack}' is used outside a loop.")
        return chain

    def const_value(self, name):
        from tfstyle.framework import graph_io

        return int(graph_io.array_from_proto(self.nodes[name].attr["value"].tensor))

    def capacity(self, chain):
        """How many times a push in the innermost of loops ``chain`` runs at most: the
        loop's ``maximum_iterations`` (a product of constant ones for nested loops)."""
        bounds = [self.loop_bound(f) for f in chain]
        if any(b is None for b in bounds):
            return None
        if len(bounds) == 1:
            return bounds[0]
        consts = [self.const_source(b) for b in bounds]
        if any(c is None for c in consts):
            return None
        total = int(np.prod([self.const_value(c.name) for c in consts]))
        node = self.add_const(f"{chain[0].name}/stack_capacity", np.int32(total))
        self.frame_of[node.name] = chain[0].parent
        return node.name

    def become(self, name, op, inputs, attrs):
        """Turns node ``name`` into an ``op`` node of ``inputs`` (keeping its control inputs)."""
        nd = self.nodes[name]
        control = [c for c in nd.input if c.startswith("^")]
        nd.op = op
        del nd.input[:]
        nd.input.extend(list(inputs) + control)
        nd.ClearField("attr")
        for key, v in attrs.items():
            nd.attr[key].CopyFrom(v)

    def drop_stack(self, stack, push, pops):
        become = self.become
        value = self.nodes[push].input[1]
        become(push, "Identity", [value], {"T": _type_attr(types_pb2.DT_VARIANT)})
        zero = attr_value_pb2.AttrValue(tensor=_const_tensor(np.float32(0)))
        for pop in pops:
            become(pop, "Const", [], {"dtype": _type_attr(types_pb2.DT_FLOAT), "value": zero})
        become(stack, "Const", [], {"dtype": _type_attr(types_pb2.DT_FLOAT), "value": zero})

    def thread_list(self, source, chain, user, kind, loop_conds):
        """Makes the list ``source`` a loop variable of the loops ``chain`` (outermost first),
        which ``user`` (a stack push or pop in the innermost) updates once per iteration;
        returns the Exit of the list from the outermost."""
        frame = chain[0]
        variant = _type_attr(types_pb2.DT_VARIANT)
        enter_attrs = {
            "T": variant,
            "frame_name": attr_value_pb2.AttrValue(s=frame.name.encode()),
            "is_constant": attr_value_pb2.AttrValue(b=False),
            "parallel_iterations": attr_value_pb2.AttrValue(i=10),
        }
        enter = self.add_node(f"{user}/list/Enter", "Enter", [source], enter_attrs)
        merge = self.add_node(f"{user}/list/Merge", "Merge", [enter.name, enter.name],
                              {"T": variant, "N": attr_value_pb2.AttrValue(i=2)})  # fmt: skip
        switch = self.add_node(f"{user}/list/Switch", "Switch",
                               [merge.name, loop_conds[frame]], {"T": variant})  # fmt: skip
        ident = self.add_node(f"{user}/list/Identity", "Identity", [f"{switch.name}:1"],
                              {"T": variant})  # fmt: skip
        in_loop = [enter.name, merge.name, switch.name, ident.name]
        for n in in_loop:
            self.frame_of[n] = frame
        current = ident.name
        # A push or pop (or the inner loop holding it) in a cond's branch: the list is
        # switched into the branch the same way, and merged back after it.
        where = user if len(chain) == 1 else self.loop_entry(chain[1])
        branches = []
        for key, side in self.branch_of(where, frame) if where else ():
            cond_switch = self.add_node(f"{user}/list/cond/Switch", "Switch", [current, key],
                                        {"T": variant})  # fmt: skip
            self.frame_of[cond_switch.name] = frame
            branches.append((cond_switch.name, side))
            current = f"{cond_switch.name}:{side}"
        if len(chain) > 1:
            out = self.thread_list(current, chain[1:], user, kind, loop_conds)
        else:
            out = self.update_list(user, kind, current)
        for cond_switch, side in reversed(branches):
            other = f"{cond_switch}:{1 - side}"
            merged = self.add_node(f"{user}/list/cond/Merge", "Merge", [other, out],
                                   {"T": variant, "N": attr_value_pb2.AttrValue(i=2)})  # fmt: skip
            self.frame_of[merged.name] = frame
            out = merged.name
        nxt = self.add_node(f"{user}/list/NextIteration", "NextIteration", [out], {"T": variant})
        merge.input[1] = nxt.name
        exit_ = self.add_node(f"{user}/list/Exit", "Exit", [switch.name], {"T": variant})
        self.frame_of[nxt.name] = frame
        self.frame_of[exit_.name] = frame.parent
        return exit_.name

    def update_list(self, user, kind, current):
        """Turns stack push or pop ``user`` into a push or pop of list ``current``; returns
        the list after it."""
        nd = self.nodes[user]
        elem = nd.attr["T"].type if kind == "push" else nd.attr["elem_type"].type
        if kind == "push":
            value = nd.input[1]
            self.rewrite_refs({_ref(user, 0): value})
            self.become(user, "TensorListPushBack", [current, value],
                        {"element_dtype": _type_attr(elem)})  # fmt: skip
            return user
        self.rewrite_refs({_ref(user, 0): f"{user}:1"})
        es = self.add_const(f"{user}/element_shape", np.int32(-1))
        self.frame_of[es.name] = None
        self.become(user, "TensorListPopBack", [current, es.name],
                    {"element_dtype": _type_attr(elem)})  # fmt: skip
        return f"{user}:0"

    # -- growing accumulators of sparse gradients -------------------------------------------
    def rewrite_accumulators(self, frames):
        """TF's gradient loop sums the ``IndexedSlices`` gradient of a loop invariant (a
        ``tf.gather`` of a variable in the loop's body) by concatenating each iteration's
        indices and values onto loop variables whose first dimension grows (shape invariant
        ``[None, ...]``), starting from one zero row at index 0. XLA loops carry values of one
        shape, so each such accumulator becomes a list that the loop pushes each iteration's
        rows onto (``TensorListPushBack``), with room for as many iterations as the forward
        loop can run (its ``maximum_iterations``). After the loop, the list's elements are
        concatenated after the first row: the rows of the iterations that did not run are
        zeros, at the largest index of the indices' type, which tfstyle's scatters, sparse
        updates and segment sums drop. That is done only where every consumer of the result
        does drop them; otherwise the accumulator is left as it is and the loop fails to
        compile."""
        uses = {}
        for nd in self.nodes.values():
            for pos, s in enumerate(nd.input):
                name, idx = _parse(s)
                if idx >= 0:
                    uses.setdefault(_ref(name, idx), []).append((nd, pos))
        found = {}
        for frame in frames:
            bound = self.accumulator_capacity(frame)
            for acc in self.growing_concats(frame, uses):
                acc["bound"] = bound
                found[acc["concat"]] = acc
        if not found:
            return
        from tfstyle.framework import sparse_dedup

        helpers = set()
        for nd in self.nodes.values():
            helpers |= sparse_dedup._written_for(nd, self.nodes) or set()
        # Without a capacity known when the graph is compiled, the loop fails to compile.
        approved = {k: acc for k, acc in found.items() if acc["bound"] is not None}
        changed = True
        while changed:  # an accumulator that feeds another (nested loops) needs that one kept
            changed = False
            for name, acc in list(approved.items()):
                role = "indices" if acc["integer"] else "values"
                refs = [_ref(x, 0) for x in acc["exits"]]
                if not all(self.drops_padding(r, role, uses, helpers, approved, found, set())
                           for r in refs):  # fmt: skip
                    del approved[name]
                    changed = True
        for acc in approved.values():
            self.bound_accumulator(acc)

    def growing_concats(self, frame, uses):
        """The loop variables of ``frame`` that each iteration makes ``ConcatV2([itself, x],
        0)`` and that only their ``Exit``s read after the loop."""
        nodes = self.nodes
        loop_cond = next((n for n, nd in nodes.items()
                          if nd.op == "LoopCond" and self.frame_of.get(n) is frame), None)  # fmt: skip
        if loop_cond is None:
            return
        for e, nd in list(nodes.items()):
            if nd.op not in _ENTER or self.frame_of.get(e) is not frame or nd.attr["is_constant"].b:
                continue
            t = nd.attr["T"].type
            if t not in _ACCUMULATED_TYPES:
                continue
            merge_uses = uses.get(_ref(e, 0), [])
            if len(merge_uses) != 1 or merge_uses[0][0].op not in _MERGE:
                continue
            merge = merge_uses[0][0]
            nxt = next((nodes[_parse(s)[0]] for s in merge.input
                        if nodes[_parse(s)[0]].op in _NEXT), None)  # fmt: skip
            switches = uses.get(_ref(merge.name, 0), [])
            if nxt is None or len(switches) != 1:
                continue
            switch = switches[0][0]
            if switch.op not in _SWITCH or _parse(switch.input[1])[0] != loop_cond:
                continue
            cat = nodes.get(_parse(nxt.input[0])[0])
            if cat is None or cat.op != "ConcatV2" or _parse(nxt.input[0])[1] != 0:
                continue
            data = [x for x in cat.input if not x.startswith("^")]
            axis = self.const_source(data[-1]) if len(data) == 3 else None
            if axis is None or self.const_value(axis.name) != 0:
                continue
            if _canon(data[0]) != _ref(switch.name, 1):
                continue
            body_uses = uses.get(_ref(switch.name, 1), [])
            cat_uses = uses.get(_ref(cat.name, 0), [])
            if len(body_uses) != 1 or len(cat_uses) != 1 or cat_uses[0][0] is not nxt:
                continue
            exits = [c for c, _ in uses.get(_ref(switch.name, 0), [])]
            if not exits or any(c.op not in _EXIT for c in exits):
                continue
            yield {
                "enter": e, "merge": merge.name, "switch": switch.name, "next": nxt.name,
                "concat": cat.name, "exits": [c.name for c in exits], "frame": frame,
                "dtype": t, "integer": t in (types_pb2.DT_INT32, types_pb2.DT_INT64),
            }  # fmt: skip

    def drops_padding(self, ref, role, uses, helpers, approved, found, seen):
        """Whether every consumer of tensor ``ref`` (an accumulator's result, or a tensor
        computed from it row by row) ignores rows appended as zeros (``role`` ``"values"``)
        at the largest index (``"indices"``): scatters and sparse updates drop such indices,
        segment sums (TF's conversion to a dense tensor, and its sum of repeated indices)
        drop them and add nothing to other segments, a squared norm adds zero."""
        if ref in seen:
            return True
        seen.add(ref)
        for nd, pos in uses.get(ref, []):
            op = nd.op
            if op == "Identity":
                ok = self.drops_padding(_ref(nd.name, 0), role, uses, helpers, approved, found,
                                        seen)  # fmt: skip
            elif op == "ConcatV2":
                # The sum of several IndexedSlices: rows stay with their indices. An
                # accumulator of an enclosing loop pushes the rows instead.
                n = nd.attr["N"].i
                axis = self.const_source(nd.input[n]) if len(nd.input) > n else None
                if pos >= n or axis is None or self.const_value(axis.name) != 0:
                    return False
                if nd.name in found:
                    if nd.name not in approved or pos != 1:
                        return False
                    refs = [_ref(x, 0) for x in approved[nd.name]["exits"]]
                else:
                    refs = [_ref(nd.name, 0)]
                ok = all(self.drops_padding(r, role, uses, helpers, approved, found, seen)
                         for r in refs)  # fmt: skip
            elif role == "indices":
                ok = (
                    nd.name in helpers
                    or (op == "UnsortedSegmentSum" and pos == 1)
                    or (op != "ResourceGather" and _sparse_indices_at(op) == pos)
                )
            else:
                if op in ("Neg", "Mul", "RealDiv", "Cast") and pos < 2:
                    # Zero rows stay zeros (scaled by a learning rate or clipped by a norm).
                    ok = self.drops_padding(_ref(nd.name, 0), role, uses, helpers, approved,
                                            found, seen)  # fmt: skip
                else:
                    ok = (
                        (op == "UnsortedSegmentSum" and pos == 0)
                        or op == "L2Loss"
                        or _sparse_values_at(op) == pos
                    )
            if not ok:
                return False
        return True

    def accumulator_capacity(self, frame):
        """The most iterations gradient loop ``frame`` runs (its forward loop's
        ``maximum_iterations``), readable from the frame around it, or None."""
        forward = self.forward_loop(frame)
        bound = self.loop_bound(forward) if forward is not None else None
        if bound is None or self.frame_of.get(_parse(bound)[0]) is frame.parent:
            return bound
        return bound if self.const_source(bound) is not None else None

    def forward_loop(self, frame):
        """The loop whose gradient loop ``frame`` is, or None: TF's gradient loop counts down
        from the number of iterations its forward loop ran (a counter that starts at 0 and
        adds 1 each iteration, read through the forward loop's ``Exit``) while the count is at
        least 1, subtracting 1 each iteration; so it runs exactly as many iterations."""
        nodes = self.nodes

        def node(ref):
            return nodes.get(_parse(ref)[0])

        def const_is(ref, value):
            c = self.const_source(ref)
            if c is None:
                return False
            from tfstyle.framework import graph_io

            v = graph_io.array_from_proto(c.attr["value"].tensor)
            return v.shape == () and int(v) == value

        loop_cond = next((nd for n, nd in nodes.items()
                          if nd.op == "LoopCond" and self.frame_of.get(n) is frame), None)  # fmt: skip
        ge = node(loop_cond.input[0]) if loop_cond is not None else None
        if ge is None or ge.op != "GreaterEqual" or not const_is(ge.input[1], 1):
            return None
        m = node(ge.input[0])
        if m is None or m.op not in _MERGE or len(m.input) != 2:
            return None
        enter, nxt = (node(s) for s in m.input)
        if nxt is not None and nxt.op in _ENTER:
            enter, nxt = nxt, enter
        if enter is None or enter.op not in _ENTER or nxt is None or nxt.op not in _NEXT:
            return None
        sub = node(nxt.input[0])
        if sub is None or sub.op != "Sub" or not const_is(sub.input[1], 1):
            return None
        sw = node(sub.input[0])
        if sw is None or sw.op not in _SWITCH or node(sw.input[0]) is not m:
            return None
        # The forward count: Exit(Switch(Merge(Enter(0), NextIteration(Switch:1 + 1)))).
        count = enter.input[0]
        # In a loop nested in another, the count of each outer iteration is saved on a stack.
        count = self.stacked_values.get(_parse(count)[0], count)
        ex = node(count)
        if ex is None or ex.op not in _EXIT:
            return None
        fsw = node(ex.input[0])
        fm = node(fsw.input[0]) if fsw is not None and fsw.op in _SWITCH else None
        if fm is None or fm.op not in _MERGE or len(fm.input) != 2:
            return None
        fenter, fnxt = (node(s) for s in fm.input)
        if fnxt is not None and fnxt.op in _ENTER:
            fenter, fnxt = fnxt, fenter
        if fenter is None or fenter.op not in _ENTER or not const_is(fenter.input[0], 0):
            return None
        add = node(fnxt.input[0]) if fnxt is not None and fnxt.op in _NEXT else None
        if add is None or add.op not in ("Add", "AddV2") or not const_is(add.input[1], 1):
            return None
        if _canon(add.input[0]) != _ref(fsw.name, 1):
            return None
        forward = self.frame_of.get(fsw.name)
        fcond = node(fsw.input[1])
        if forward is None or fcond is None or fcond.op != "LoopCond":
            return None
        return forward if self.frame_of.get(fcond.name) is forward else None

    def bound_accumulator(self, acc):
        """Rewrites accumulator ``acc`` (from ``growing_concats``) as a list of fixed
        capacity, as ``rewrite_accumulators`` says."""
        nodes = self.nodes
        frame = acc["frame"]
        outer = frame.parent
        t = acc["dtype"]
        i32 = _type_attr(types_pb2.DT_INT32)
        variant = _type_attr(types_pb2.DT_VARIANT)
        e = acc["enter"]

        def const(name, value):
            c = self.add_const(name, value)
            self.frame_of[c.name] = outer
            return c.name

        def node(name, op, inputs, **attrs):
            nd = self.add_node(name, op, inputs, attrs)
            self.frame_of[nd.name] = outer
            return nd.name

        bound = acc["bound"]
        if self.frame_of.get(_parse(bound)[0]) is not outer:
            c = self.const_source(bound)
            bound = const(f"{e}/list/capacity", np.int32(self.const_value(c.name)))
        elif self.dtype(bound) != types_pb2.DT_INT32:
            bound = node(f"{e}/list/capacity", "Cast", [bound], SrcT=_type_attr(self.dtype(bound)),
                         DstT=i32, Truncate=attr_value_pb2.AttrValue(b=False))  # fmt: skip
        init = nodes[e].input[0]
        shape = const(f"{e}/list/element_shape", np.int32(-1))
        lst = node(f"{e}/list", "EmptyTensorList", [shape, bound], element_dtype=_type_attr(t),
                   shape_type=i32)  # fmt: skip
        nodes[e].input[0] = lst
        for n in (e, acc["merge"], acc["switch"], acc["next"]):
            nodes[n].attr["T"].CopyFrom(variant)
            nodes[n].attr.pop("_output_shapes", None)
        for key in ("shape", "_output_shapes"):
            nodes[acc["merge"]].attr.pop(key, None)
        x = [s for s in nodes[acc["concat"]].input if not s.startswith("^")][1]
        self.become(acc["concat"], "TensorListPushBack", [_ref(acc["switch"], 1), x],
                    {"element_dtype": _type_attr(t)})  # fmt: skip
        tt = _type_attr(t)
        for ex in acc["exits"]:
            # The Exit's name now holds the concatenation; the list leaves the loop by another.
            listed = self.add_node(f"{ex}/list", "Exit", list(nodes[ex].input), {"T": variant})
            self.frame_of[listed.name] = outer
            resized = node(f"{ex}/list/resized", "TensorListResize", [listed.name, bound])
            stacked = node(f"{ex}/list/stacked", "TensorListStack",
                           [resized, const(f"{ex}/list/element_shape", np.int32(-1))],
                           element_dtype=tt, num_elements=attr_value_pb2.AttrValue(i=-1))  # fmt: skip
            if acc["integer"]:
                np_t = np.int32 if t == types_pb2.DT_INT32 else np.int64
                length = node(f"{ex}/list/length", "TensorListLength", [listed.name])
                positions = node(f"{ex}/list/positions", "Range",
                                 [const(f"{ex}/list/start", np.int32(0)), bound,
                                  const(f"{ex}/list/delta", np.int32(1))], Tidx=i32)  # fmt: skip
                ran = node(f"{ex}/list/ran", "Less", [positions, length], T=i32)
                shape_of = node(f"{ex}/list/shape", "Shape", [stacked], T=tt, out_type=i32)
                dropped = node(f"{ex}/list/dropped", "Fill",
                               [shape_of, const(f"{ex}/list/past_any_row",
                                                np_t(np.iinfo(np_t).max))],
                               T=tt, index_type=i32)  # fmt: skip
                stacked = node(f"{ex}/list/padded", "Select", [ran, stacked, dropped], T=tt)
            dims = node(f"{ex}/list/dims", "Shape", [stacked], T=tt, out_type=i32)
            zero = attr_value_pb2.AttrValue(i=0)
            rest = node(f"{ex}/list/row_shape", "StridedSlice",
                        [dims, const(f"{ex}/list/begin", np.array([2], np.int32)),
                         const(f"{ex}/list/end", np.array([0], np.int32)),
                         const(f"{ex}/list/strides", np.array([1], np.int32))],
                        T=i32, Index=i32, begin_mask=zero, end_mask=attr_value_pb2.AttrValue(i=1),
                        ellipsis_mask=zero, new_axis_mask=zero, shrink_axis_mask=zero)  # fmt: skip
            axis = const(f"{ex}/list/axis", np.int32(0))
            flat_shape = node(f"{ex}/list/flat_shape", "ConcatV2",
                              [const(f"{ex}/list/all_rows", np.array([-1], np.int32)), rest, axis],
                              N=attr_value_pb2.AttrValue(i=2), T=i32, Tidx=i32)  # fmt: skip
            flat = node(f"{ex}/list/rows", "Reshape", [stacked, flat_shape], T=tt, Tshape=i32)
            self.become(
                ex,
                "ConcatV2",
                [init, flat, axis],
                {"N": attr_value_pb2.AttrValue(i=2), "T": tt, "Tidx": i32},
            )

    def loop_entry(self, frame):
        """A node outside loop ``frame`` that one of its variables enters from, or None."""
        for nd in self.nodes.values():
            if (nd.op in _ENTER and not nd.attr["is_constant"].b
                    and self.frame_of.get(nd.name) is frame):  # fmt: skip
                return _parse(nd.input[0])[0]
        return None

    def branch_of(self, name, frame):
        """The cond branches (``(predicate, branch)``, outermost first) that node ``name`` of
        loop ``frame`` runs in."""
        nodes = self.nodes

        def backbone(n):
            nd = nodes[n]
            if nd.op in _ENTER or nd.op in _NEXT or nd.op in _EXIT or nd.op == "LoopCond":
                return True
            if nd.op in _MERGE:
                return any(nodes[_parse(s)[0]].op in _NEXT for s in nd.input)
            if nd.op in _SWITCH:
                return nodes[_parse(nd.input[1])[0]].op == "LoopCond"
            return False

        region = [n for n in nodes if self.frame_of.get(n) is frame and not backbone(n)]
        _, node_states = self.cond_states(region)
        return node_states.get(name, ())

    def loop_bound(self, frame):
        """A bound of a loop's trip count: the limit of a condition ``counter < limit`` (anded
        with others, maybe) for a counter that starts at 0 and grows by a constant of at least
        1 per iteration, as TF writes ``maximum_iterations``; the limit is a loop invariant
        (``Enter``) or a constant. Else None."""
        cond = next((n for n, nd in self.nodes.items()
                     if nd.op == "LoopCond" and self.frame_of.get(n) is frame), None)  # fmt: skip
        if cond is None:
            return None
        top = self.nodes[_parse(self.nodes[cond].input[0])[0]]
        candidates = [top]
        if top.op == "LogicalAnd":
            candidates = [self.nodes[_parse(s)[0]] for s in top.input if not s.startswith("^")]
        for nd in candidates:
            if nd.op != "Less":
                continue
            counter, limit = (self.nodes.get(_parse(s)[0]) for s in nd.input[:2])
            if counter is None or limit is None or counter.op not in _MERGE:
                continue
            enter = self.nodes.get(_parse(counter.input[0])[0])
            start = self.const_source(enter.input[0]) if enter is not None else None
            if enter is None or enter.op not in _ENTER or start is None:
                continue
            if self.scalar(start) != 0 or not self.counts_up(counter):
                continue
            if limit.op in _ENTER and limit.attr["is_constant"].b:
                return limit.input[0]
            if limit.op == "Const" and self.scalar(limit) is not None:
                # A constant in the loop (``i < 3``): the same constant outside it.
                if limit.name not in self.outer_limits:
                    node = self.add_const(f"{limit.name}/outside", np.int32(self.scalar(limit)))
                    self.frame_of[node.name] = frame.parent
                    self.outer_limits[limit.name] = node.name
                return self.outer_limits[limit.name]
        return None

    def scalar(self, const):
        """The value of a scalar integer ``Const`` node, or None."""
        from tfstyle.framework import graph_io

        value = graph_io.array_from_proto(const.attr["value"].tensor)
        if value.shape != () or value.dtype.kind not in "iu":
            return None
        return int(value)

    def counts_up(self, merge):
        """Whether loop variable ``merge`` grows by a constant of at least 1 per iteration: its
        ``NextIteration`` takes ``Add``/``AddV2`` of its value in the body and such a constant
        (an upper bound on the trip count is then the limit it is compared with)."""
        nxt = self.nodes.get(_parse(merge.input[1])[0]) if len(merge.input) > 1 else None
        add = self.nodes.get(_parse(nxt.input[0])[0]) if nxt is not None else None
        if add is None or nxt.op not in _NEXT or add.op not in ("Add", "AddV2"):
            return False
        ins = [self.nodes.get(_parse(s)[0]) for s in add.input if not s.startswith("^")]
        for a, b in (ins, ins[::-1]):
            step = self.const_source(_ref(b.name, 0)) if b is not None else None
            if step is None or (self.scalar(step) or 0) < 1:
                continue
            node = a
            while node is not None and node.op in ("Identity", "RefIdentity"):
                node = self.nodes.get(_parse(node.input[0])[0])
            if node is not None and node.op in _SWITCH and _parse(node.input[0])[0] == merge.name:
                return True
        return False

    def element_shape_const(self, name, attr):
        if attr is None or attr.shape.unknown_rank:
            return self.add_const(name, np.int32(-1))
        dims = [d.size if d.size >= 0 else -1 for d in attr.shape.dim]
        return self.add_const(name, np.array(dims, np.int32))

    def fix_variant_types(self):
        """Gives the control-flow nodes that now carry a TensorList (a TensorArray's flow) the
        ``variant`` type."""
        changed = True
        while changed:
            changed = False
            for nd in self.nodes.values():
                if nd.op not in _PASS_THROUGH or not nd.input or nd.input[0].startswith("^"):
                    continue
                if nd.attr["T"].type == types_pb2.DT_VARIANT:
                    continue
                ins = [s for s in nd.input if not s.startswith("^")]
                if nd.op not in _MERGE:
                    ins = ins[:1]
                if any(self.dtype(s) == types_pb2.DT_VARIANT for s in ins):
                    nd.attr["T"].CopyFrom(_type_attr(types_pb2.DT_VARIANT))
                    nd.attr.pop("_output_shapes", None)
                    changed = True

    # -- frames ----------------------------------------------------------------------------
    def assign_frames(self):
        """The loop frame of every node (``None`` outside loops): an ``Enter`` starts its
        ``frame_name``'s frame, an ``Exit`` leaves it, other nodes are in their inputs' frame
        (``NextIteration`` back edges aside)."""
        consumers = self.consumers()
        frames, frame_of, done = {}, {}, set()
        waiting = {}
        for n, nd in self.nodes.items():
            waiting[n] = sum(
                1 for s in nd.input
                if not (nd.op in _MERGE and self.nodes[_parse(s)[0]].op in _NEXT)
            )  # fmt: skip
        queue = [n for n, k in waiting.items() if k == 0]
        while queue:
            n = queue.pop()
            nd = self.nodes[n]
            ins = [_parse(s) for s in nd.input]
            if nd.op in _ENTER:
                parent = frame_of[ins[0][0]]
                fname = nd.attr["frame_name"].s.decode()
                frame = frames.get(fname)
                if frame is None:
                    frame = frames[fname] = _Frame(fname, parent)
                frame_of[n] = frame
            elif nd.op in _EXIT:
                inner = frame_of[ins[0][0]]
                if inner is None:
                    raise ValueError(f"Exit node '{n}' is outside any loop.")
                frame_of[n] = inner.parent
            else:
                # The innermost frame among the inputs' (NextIteration back edges aside).
                best = None
                for dep, _ in ins:
                    if dep in frame_of:
                        f = frame_of[dep]
                        if f is not None and (best is None or f.depth > best.depth):
                            best = f
                frame_of[n] = best
            done.add(n)
            for dst, _ in consumers.get(n, ()):
                if self.nodes[dst].op in _MERGE and nd.op in _NEXT:
                    continue
                waiting[dst] -= 1
                if waiting[dst] == 0:
                    queue.append(dst)
        missing = [n for n in self.nodes if n not in done]
        if missing:
            raise ValueError(f"Cannot place nodes in a loop frame: {missing[:5]}")
        self.frame_of = frame_of
        return list(frames.values())

    # -- loops -----------------------------------------------------------------------------
    def collapse_frame(self, frame):
        members = [n for n in self.nodes if self.frame_of.get(n) is frame]
        nodes = self.nodes
        consumers = self.consumers()
        enters = [n for n in members if nodes[n].op in _ENTER]
        loop_conds = [n for n in members if nodes[n].op == "LoopCond"]
        if len(loop_conds) != 1:
            raise ValueError(f"Loop '{frame.name}' has {len(loop_conds)} LoopCond nodes.")
        loop_cond = loop_conds[0]
        loop_vars, invariants = [], []
        exit_paths = []
        for e in enters:
            if nodes[e].attr["is_constant"].b:
                invariants.append(e)
                continue
            merge = next((c for c, _ in consumers.get(e, ()) if nodes[c].op in _MERGE), None)
            if merge is None:
                raise ValueError(f"Loop variable '{e}' of '{frame.name}' has no Merge.")
            nxt = next(_parse(s)[0] for s in nodes[merge].input
                       if nodes[_parse(s)[0]].op in _NEXT)  # fmt: skip
            switch = next((c for c, _ in consumers.get(merge, ()) if nodes[c].op in _SWITCH
                           and _parse(nodes[c].input[1])[0] == loop_cond), None)  # fmt: skip
            # The Exits of the variable, maybe behind Identities (TF's gradient loops put a
            # ``tuple`` between the Switch and the Exit).
            exits, exit_path = [], []
            frontier = [c for c, i in consumers.get(switch, ()) if i == 0] if switch else []
            while frontier:
                c = frontier.pop()
                if nodes[c].op in _EXIT:
                    exits.append(c)
                elif nodes[c].op == "Identity" and self.frame_of.get(c) is frame:
                    exit_path.append(c)
                    frontier.extend(d for d, i in consumers.get(c, ()) if i == 0)
            loop_vars.append((e, merge, nxt, switch, exits))
            exit_paths.extend(exit_path)
        backbone = set(enters) | {loop_cond} | set(exit_paths)
        for _, m, x, s, _ in loop_vars:
            backbone |= {m, x} | ({s} if s else set())
        scope = frame.name.rsplit("/", 1)[0] if "/" in frame.name else frame.name

        # The condition: what LoopCond reads, back to the loop variables.
        cond_region = self.closure([nodes[loop_cond].input[0]], set(members) - backbone)
        cond_region = self.functionalize_conds(cond_region, frame)
        body_region = [n for n in self.nodes if self.frame_of.get(n) is frame
                       and n not in backbone and n not in set(cond_region)]  # fmt: skip
        body_region = self.functionalize_conds(body_region, frame)
        # Nodes of the condition that the body reads too are computed again there.
        body_region = body_region + [n for n in self.closure(self.data_inputs(body_region),
                                                            set(cond_region))
                                     if n not in set(body_region)]  # fmt: skip

        n_vars = len(loop_vars)
        var_types = [nodes[e].attr["T"].type for e, *_ in loop_vars]
        invariant_types = [nodes[e].attr["T"].type for e in invariants]
        used = set(self.data_inputs(cond_region + body_region))
        for _, _, x, _, _ in loop_vars:
            used.add(_canon(nodes[x].input[0]))
        kept = []
        for e in invariants:
            if _ref(e, 0) in used:
                kept.append(e)
        hoisted = {e: self.const_source(_ref(e, 0)) for e in kept}
        captured = [e for e in kept if hoisted[e] is None]

        def bindings(arg_names, in_body):
            b = {}
            for k, (_, m, _, s, _) in enumerate(loop_vars):
                b[_ref(m, 0)] = arg_names[2 + k]
                if in_body and s is not None:
                    b[_ref(s, 1)] = arg_names[2 + k]
            for j, e in enumerate(captured):
                b[_ref(e, 0)] = arg_names[2 + n_vars + j]
            return b

        types = [types_pb2.DT_INT32, types_pb2.DT_INT32] + var_types
        types += [invariant_types[invariants.index(e)] for e in captured]
        fname = "".join(c if c.isalnum() or c == "_" else "_" for c in scope)
        cond_name = self.fresh(f"{fname}_cond")
        body_name = self.fresh(f"{fname}_body")
        consts = {_ref(e, 0): hoisted[e] for e in kept if hoisted[e] is not None}
        outer_control = set()
        self.build_function(
            cond_name, cond_region, types, lambda a: bindings(a, False),
            lambda a, b, r: [r(nodes[loop_cond].input[0])], [types_pb2.DT_BOOL], consts,
            outer_control, backbone,
        )  # fmt: skip

        def body_outputs(args, b, refer):
            outs = [args[0], args[1]]
            outs += [refer(nodes[x].input[0]) for _, _, x, _, _ in loop_vars]
            return outs + args[2 + n_vars :]

        self.build_function(body_name, body_region, types, lambda a: bindings(a, True),
                            body_outputs, types, consts, outer_control, backbone)  # fmt: skip

        # The While node, in the parent frame.
        parent = frame.parent
        counter = self.add_const(f"{scope}/loop_counter", np.int32(0))
        bound = self.add_const(f"{scope}/maximum_iterations", np.int32(-1))
        scalar = tensor_shape_pb2.TensorShapeProto()
        shapes = [scalar, scalar] + [self.output_shape(m) for _, m, *_ in loop_vars]
        shapes += [self.output_shape(e) for e in captured]
        inputs = [counter.name, bound.name] + [nodes[e].input[0] for e, *_ in loop_vars]
        inputs += [nodes[e].input[0] for e in captured]
        control = set()
        for e in enters:
            control |= {s[1:] for s in nodes[e].input if s.startswith("^")}
        control |= outer_control
        parallel = nodes[enters[0]].attr["parallel_iterations"].i if enters else 10
        attrs = {
            "T": _type_list_attr(types),
            "cond": _func_attr(cond_name),
            "body": _func_attr(body_name),
            "output_shapes": _shape_list_attr(shapes),
            "parallel_iterations": attr_value_pb2.AttrValue(i=parallel or 10),
        }
        loop = self.add_node(f"{scope}/While", "While", inputs, attrs)
        loop.input.extend(
            "^" + c
            for c in sorted(control)
            if c in self.nodes and self.frame_of.get(c) is not frame
        )
        for n in (counter.name, bound.name, loop.name):
            self.frame_of[n] = parent

        # Remove the frame; each Exit becomes an Identity of the While's output.
        removed = set(n for n in self.nodes if self.frame_of.get(n) is frame)
        exits = {}
        for k, (_, _, _, _, xs) in enumerate(loop_vars):
            for x in xs:
                exits[x] = k
                removed.add(x)
        for n in removed:
            del self.nodes[n]
        for x, k in exits.items():
            t = var_types[k]
            nd = node_def_pb2.NodeDef(name=x, op="Identity", input=[f"{loop.name}:{2 + k}"])
            nd.attr["T"].CopyFrom(_type_attr(t))
            self.nodes[x] = nd
            self.frame_of[x] = parent
        self.redirect_removed(removed - set(exits), loop.name)

    def redirect_removed(self, removed, replacement):
        """Control inputs on removed nodes now wait for ``replacement``; data inputs from them
        cannot be kept."""
        control = {n: replacement for n in removed}
        for nd in self.nodes.values():
            for s in nd.input:
                name, idx = _parse(s)
                if idx >= 0 and name in removed:
                    raise ValueError(
                        f"Node '{nd.name}' reads '{s}' from inside control flow it is not part of."
                    )
        self.rewrite_refs({}, control)

    def data_inputs(self, region):
        return [_canon(s) for n in region for s in self.nodes[n].input if not s.startswith("^")]

    def closure(self, refs, allowed):
        """The nodes of ``allowed`` that ``refs`` depend on (through data and control inputs)."""
        seen, order = set(), []
        stack = [_parse(r)[0] for r in refs]
        while stack:
            n = stack.pop()
            if n in seen or n not in allowed:
                continue
            seen.add(n)
            order.append(n)
            stack.extend(_parse(s)[0] for s in self.nodes[n].input)
        return [n for n in self.nodes if n in seen]

    # -- functions -------------------------------------------------------------------------
    def build_function(self, name, region, arg_types, bindings_of, outputs_of, out_types,
                       consts, outer_control, skip_control):  # fmt: skip
        """Adds a ``FunctionDef`` holding the nodes of ``region``. ``bindings_of(arg names)``
        maps graph tensors to arguments; ``consts`` maps graph tensors to ``Const`` nodes copied
        into the function; ``outputs_of(arg names, bindings, refer)`` lists its results. Control
        inputs from outside the region (but those on ``skip_control``) go to
        ``outer_control``."""
        fdef = function_pb2.FunctionDef()
        fdef.signature.name = name
        region_set = set(region)
        arg_names = []
        for i, t in enumerate(arg_types):
            arg = f"arg{i}"
            while arg in region_set:
                arg += "_"
            arg_names.append(arg)
            fdef.signature.input_arg.add(name=arg, type=t)
        b = bindings_of(arg_names)
        copied = {}

        def refer(s):
            r = _canon(s)
            if r in b:
                return b[r]
            node, idx = _parse(r)
            if node in region_set:
                return f"{node}:output:{idx}"
            c = consts.get(r) or self.const_source(r)
            if c is not None:
                copy_name = copied.get(r)
                if copy_name is None:
                    copy_name = f"{node}_const" if idx else node
                    while copy_name in region_set or copy_name in arg_names:
                        copy_name += "_"
                    nd = fdef.node_def.add(name=copy_name, op="Const")
                    nd.attr["dtype"].CopyFrom(c.attr["dtype"])
                    nd.attr["value"].CopyFrom(c.attr["value"])
                    copied[r] = copy_name
                    region_set.add(copy_name)
                return f"{copy_name}:output:0"
            raise ValueError(f"Function '{name}' reads '{s}', which is outside it.")

        for n in region:
            src = self.nodes[n]
            nd = fdef.node_def.add(name=src.name, op=src.op)
            if src.device:
                nd.device = src.device
            for k, v in src.attr.items():
                if k != "_output_shapes":
                    nd.attr[k].CopyFrom(v)
            for s in src.input:
                dep, idx = _parse(s)
                if idx < 0:
                    if dep in region_set:
                        nd.input.append(s)
                    elif dep not in skip_control and dep not in b:
                        outer_control.add(dep)
                    continue
                nd.input.append(refer(s))
        outs = outputs_of(arg_names, b, refer)
        for i, (ref, t) in enumerate(zip(outs, out_types)):
            fdef.signature.output_arg.add(name=f"out{i}", type=t)
            fdef.ret[f"out{i}"] = ref
        self.functions.append(fdef)
        return fdef

    # -- conds -----------------------------------------------------------------------------
    def pred_key(self, ref):
        """A predicate, seen through the ``Identity`` nodes TF puts in front of it."""
        r = _canon(ref)
        for _ in range(1000):
            name, idx = _parse(r)
            nd = self.nodes.get(name)
            if nd is None or nd.op not in ("Identity", "RefIdentity") or idx != 0:
                return r
            r = _canon(nd.input[0])
        return r

    def cond_states(self, region):
        """Per tensor of ``region``: the branches it is computed in, outermost first, as a tuple
        of ``(predicate, branch)``; per node (a ``Switch``: its inputs' state)."""
        region_set = set(region)
        states, node_states = {}, {}
        order = self.topological(region)

        def state(ref):
            name, idx = _parse(ref)
            if name not in region_set:
                return ()
            if idx < 0:
                return node_states[name]
            return states.get(_ref(name, idx), node_states[name])

        def deepest(sts, where):
            best = ()
            for s in sts:
                if len(s) > len(best):
                    s, best = best, s
                if best[: len(s)] != s:
                    raise ValueError(f"Node '{where}' mixes tensors of different branches.")
            return best

        for n in order:
            nd = self.nodes[n]
            ins = [state(s) for s in nd.input]
            if nd.op in _SWITCH:
                st = deepest(ins, n)
                node_states[n] = st
                key = self.pred_key(nd.input[1])
                states[_ref(n, 0)] = st + ((key, 0),)
                states[_ref(n, 1)] = st + ((key, 1),)
            elif nd.op in _MERGE:
                data = [state(s) for s in nd.input if not s.startswith("^")]
                common = data[0]
                for s in data[1:]:
                    i = 0
                    while i < min(len(common), len(s)) and common[i] == s[i]:
                        i += 1
                    common = common[:i]
                node_states[n] = common
            else:
                node_states[n] = deepest(ins, n)
        return states, node_states

    def topological(self, region):
        region_set = set(region)
        order, seen = [], set()
        for root in region:
            if root in seen:
                continue
            stack = [(root, False)]
            while stack:
                n, done = stack.pop()
                if done:
                    order.append(n)
                    continue
                if n in seen:
                    continue
                seen.add(n)
                stack.append((n, True))
                for s in self.nodes[n].input:
                    dep = _parse(s)[0]
                    if dep in region_set and dep not in seen:
                        stack.append((dep, False))
        return order

    def merge_cond(self, m, states, node_states):
        """``(outer state, predicate)`` of the cond a ``Merge`` ends."""
        common = node_states[m]
        region_states = []
        for s in self.nodes[m].input:
            if s.startswith("^"):
                continue
            name, idx = _parse(s)
            st = states.get(_ref(name, idx), node_states.get(name, ()))
            region_states.append(st)
        deeper = [s for s in region_states if len(s) > len(common)]
        if not deeper:
            raise ValueError(f"Merge node '{m}' merges no branches of a cond.")
        return common, deeper[0][len(common)][0]

    def functionalize_conds(self, region, frame):
        """Rewrites the conds among the nodes of ``region`` (innermost first) as ``If`` nodes;
        returns the nodes of the region afterwards."""
        region = list(region)
        while True:
            merges = [n for n in region if self.nodes[n].op in _MERGE]
            if not merges:
                return region
            states, node_states = self.cond_states(region)
            conds = {}
            for m in merges:
                conds.setdefault(self.merge_cond(m, states, node_states), []).append(m)
            outer, key = max(conds, key=lambda c: len(c[0]))
            region = self.make_ifs(region, outer, key, conds[(outer, key)], states, node_states,
                                   frame)  # fmt: skip

    def make_ifs(self, region, outer, key, merges, states, node_states, frame):
        nodes = self.nodes
        depth = len(outer)

        def own_switch(n):
            return (nodes[n].op in _SWITCH and node_states[n] == outer
                    and self.pred_key(nodes[n].input[1]) == key)  # fmt: skip

        def in_branch(n):
            st = node_states[n]
            return len(st) > depth and st[:depth] == outer and st[depth][0] == key

        merge_set = set(merges)
        members = [n for n in region if n in merge_set or own_switch(n) or in_branch(n)]
        member_set = set(members)
        # The Merges of these conds each node depends on: a cond whose inputs depend on
        # another one's results (TF's gradient of a cond, under the same predicate) is another
        # If, even where its branches read the first one's branch tensors.
        anc = {}
        for n in self.topological(region):
            a = frozenset()
            for s in nodes[n].input:
                dep = _parse(s)[0]
                if dep in anc:
                    a |= anc[dep]
                    if dep in merge_set:
                        a |= {dep}
            anc[n] = a
        parent = {n: n for n in members}

        def find(n):
            while parent[n] != n:
                parent[n] = parent[parent[n]]
                n = parent[n]
            return n

        for n in members:
            if own_switch(n):
                continue
            for s in nodes[n].input:
                dep = _parse(s)[0]
                if dep in member_set and anc[dep] == anc[n]:
                    parent[find(dep)] = find(n)
        groups = {}
        for n in members:
            groups.setdefault(find(n), []).append(n)
        region_set = set(region)
        # Conds that read others' branch tensors first: they copy those nodes.
        for comp in sorted(groups.values(), key=lambda c: -max(len(anc[n]) for n in c)):
            if all(own_switch(n) for n in comp):
                # Switches whose outputs nobody reads.
                read = {_parse(s)[0] for nd in self.nodes.values() for s in nd.input}
                if not read & set(comp):
                    for n in comp:
                        del self.nodes[n]
                    region_set -= set(comp)
                    continue
            new = self.make_if(comp, outer, key, merge_set, states, node_states, own_switch,
                               in_branch)  # fmt: skip
            region_set -= set(comp)
            region_set |= set(new)
            for n in new:
                self.frame_of[n] = frame
        return [n for n in self.nodes if n in region_set]

    def make_if(self, comp, outer, key, merges, states, node_states, own_switch, in_branch):
        nodes = self.nodes
        depth = len(outer)
        comp_set = set(comp)
        switches = [n for n in comp if own_switch(n)]
        comp_merges = [n for n in comp if n in merges]
        branch = {}
        for n in comp:
            if n in comp_merges or n in switches:
                continue
            branch[n] = node_states[n][depth][1]
        # Branch tensors of another cond under the same predicate are computed again here.
        stack = [_parse(s)[0] for n in list(branch) for s in nodes[n].input]
        stack += [_parse(s)[0] for m in comp_merges for s in nodes[m].input]
        while stack:
            n = stack.pop()
            if n in comp_set or n in branch or n in switches or n not in node_states:
                continue
            if own_switch(n):
                switches.append(n)
            elif in_branch(n):
                branch[n] = node_states[n][depth][1]
                stack.extend(_parse(s)[0] for s in nodes[n].input)
        if not switches:
            raise ValueError(f"The cond of '{comp_merges[0]}' has no Switch.")
        pred = nodes[switches[0]].input[1]

        def state_of(ref):
            name, idx = _parse(ref)
            if name not in self.nodes or name not in node_states:
                return ()
            return states.get(_ref(name, idx), node_states[name])

        # Per Merge: the tensor of the then branch and of the else branch.
        results = []
        for m in comp_merges:
            data = [s for s in nodes[m].input if not s.startswith("^")]
            if len(data) != 2:
                raise ValueError(f"Merge node '{m}' of a cond has {len(data)} inputs, not 2.")
            sides = {}
            for s in data:
                st = state_of(s)
                if len(st) > depth and st[depth][0] == key:
                    sides[st[depth][1]] = s
            if len(sides) == 1:
                other = next(s for s in data if s not in sides.values())
                sides[1 - next(iter(sides))] = other
            if len(sides) != 2:
                raise ValueError(f"Merge node '{m}' does not merge the two branches of a cond.")
            results.append((sides[1], sides[0]))

        # Tensors the branches read from outside the cond (not through its Switches).
        switch_outs = {_ref(s, i) for s in switches for i in (0, 1)}
        extras = []
        for n in self.nodes:
            if n not in branch:
                continue
            for s in nodes[n].input:
                if s.startswith("^"):
                    continue
                r = _canon(s)
                dep = _parse(r)[0]
                if dep not in branch and r not in switch_outs and r not in extras:
                    if self.const_source(r) is None:
                        extras.append(r)
        for then_ref, else_ref in results:
            for r in (_canon(then_ref), _canon(else_ref)):
                dep = _parse(r)[0]
                if dep not in branch and r not in switch_outs and r not in extras:
                    if self.const_source(r) is None:
                        extras.append(r)

        arg_types = [nodes[s].attr["T"].type for s in switches] + [self.dtype(r) for r in extras]
        out_types = [nodes[m].attr["T"].type for m in comp_merges]
        consts = {}
        for s in switches:
            c = self.const_source(nodes[s].input[0])
            if c is not None:
                consts[_ref(s, 0)] = consts[_ref(s, 1)] = c

        def bindings(side):
            def of(args):
                b = {}
                for i, s in enumerate(switches):
                    if _ref(s, 0) not in consts:
                        b[_ref(s, side)] = args[i]
                for j, r in enumerate(extras):
                    b[r] = args[len(switches) + j]
                return b

            return of

        scope = comp_merges[0] if comp_merges else switches[0]
        scope = scope.rsplit("/", 1)[0] if "/" in scope else scope
        fname = "".join(c if c.isalnum() or c == "_" else "_" for c in scope)
        then_name, else_name = self.fresh(f"{fname}_true"), self.fresh(f"{fname}_false")
        outer_control = set()
        for side, fn_name in ((1, then_name), (0, else_name)):
            region = [n for n in self.nodes if branch.get(n) == side]
            self.build_function(
                fn_name, region, arg_types, bindings(side),
                lambda a, b, refer, side=side: [refer(r[1 - side]) for r in results],
                out_types, consts, outer_control, set(switches),
            )  # fmt: skip

        inputs = [pred] + [nodes[s].input[0] for s in switches] + extras
        shapes = [self.output_shape(m) for m in comp_merges]
        attrs = {
            "Tcond": _type_attr(types_pb2.DT_BOOL),
            "Tin": _type_list_attr(arg_types),
            "Tout": _type_list_attr(out_types),
            "then_branch": _func_attr(then_name),
            "else_branch": _func_attr(else_name),
            "output_shapes": _shape_list_attr(shapes),
        }
        node = self.add_node(f"{scope}/If", "If", inputs, attrs)
        control = set(outer_control)
        for s in switches:
            control |= {c[1:] for c in nodes[s].input if c.startswith("^")}
        node.input.extend("^" + c for c in sorted(control) if c in self.nodes and c not in comp_set)
        # A control input on a Switch waits for the Switch's inputs, not for either branch.
        comp_switches = {sw: [_parse(x)[0] for x in nodes[sw].input] for sw in switches
                         if sw in comp_set}  # fmt: skip
        for nd in self.nodes.values():
            if nd.name in comp_set or not any(x[1:] in comp_switches for x in nd.input):
                continue
            ins = []
            for x in nd.input:
                for y in (["^" + d for d in comp_switches[x[1:]]] if x[1:] in comp_switches
                          else [x]):  # fmt: skip
                    if y not in ins:
                        ins.append(y)
            del nd.input[:]
            nd.input.extend(ins)
        for n in comp:
            del self.nodes[n]
        new = [node.name]
        for k, m in enumerate(comp_merges):
            nd = node_def_pb2.NodeDef(name=m, op="Identity", input=[f"{node.name}:{k}"])
            nd.attr["T"].CopyFrom(_type_attr(out_types[k]))
            self.nodes[m] = nd
            new.append(m)
        for nd in self.nodes.values():
            for s in nd.input:
                name, idx = _parse(s)
                if name in set(comp_merges) and idx == 1:
                    raise ValueError(
                        f"Node '{nd.name}' reads the branch index '{s}' of a cond's Merge."
                    )
        self.redirect_removed(comp_set - set(comp_merges), node.name)
        return new
