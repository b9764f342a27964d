"""TF 1.x ref variables in a GraphDef, rewritten as resource variables before import.

Graphs and ``.meta`` files written by TF 1.x (or TF 2.x with resource variables disabled) hold
``VariableV2`` nodes whose ref-typed outputs are updated in place by ``Assign``, ``ApplyAdam``,
``ScatterSub`` ... and read implicitly by any other op that takes them. tfstyle has only
resource variables, so :func:`to_resource_variables` rewrites such a GraphDef:

- each ``VariableV2`` (or ``Variable``) becomes a ``VarHandleOp`` of the same name whose
  ``shared_name`` is that name, so the state key (and checkpoint key) is the variable's name;
- each op that updates a ref becomes its resource form (``Assign`` -> ``AssignVariableOp``,
  ``ApplyAdam`` -> ``ResourceApplyAdam``, ``ScatterSub`` -> ``ResourceScatterSub``,
  ``IsVariableInitialized`` -> ``VarIsInitializedOp``). An update op's output is the ref after
  the update, so the original name goes to a ``ReadVariableOp`` ordered after the renamed update
  (``<name>/_update``): fetching ``w/Assign:0`` gives the assigned value, running ``w/Assign``
  (or a control input on it) runs the assign;
- every other consumer of a ref gets a ``ReadVariableOp`` of its own, ordered (by control
  inputs) after that consumer's control inputs and the producers of its other inputs, since TF
  reads a ref when its consumer runs;
- the v1 control-flow ops that pass refs (``RefSwitch``, ``RefEnter``, ``RefMerge``,
  ``RefIdentity``, ``RefExit``, ``RefNextIteration``) pass the resource handle instead.

The variable's own output ``w:0`` is the resource handle; the import registers it with its
``Variable`` (``Graph._ref_variables``), so that fetching ``w:0``, passing it to an op and
``tf.assign(w_tensor, ...)`` read or update the variable as in TF 1.x (a fetch gives the
graph's ``w/read`` snapshot). ``w:0`` shows TF's dtype (``float32_ref``) and the variable's
shape (``ops.RefVariableOutput``), while the compiler still sees the handle. Differences from
TF: its op is a ``VarHandleOp``, not a ``VariableV2``, and new ops take a read of it, not the
ref; and, as for TF's resource variables, one GraphDef imported twice (under two name scopes)
shares its variables, keyed by the names the GraphDef gives them.
"""

from tensorboard.compat.proto import graph_pb2

from tfstyle.framework import dtypes, graph_io  # (its import_graph_def runs this pass)

_VARIABLE_OPS = frozenset({"VariableV2", "Variable"})

# Ref pass-through ops of v1 control flow -> the op that passes a resource handle.
_PASS_THROUGH = {
    "RefSwitch": "Switch",
    "RefEnter": "Enter",
    "RefMerge": "Merge",
    "RefIdentity": "Identity",
    "RefExit": "Exit",
    "RefNextIteration": "NextIteration",
}

# Optimizer op suffix -> how many leading inputs are refs (the variable and its slots).
_APPLY_REFS = {
    "GradientDescent": 1,
    "Momentum": 2,
    "KerasMomentum": 2,
    "Adam": 3,
    "RMSProp": 3,
    "CenteredRMSProp": 4,
    "Adagrad": 2,
    "AdagradV2": 2,
    "Adadelta": 3,
    "Ftrl": 3,
    "FtrlV2": 3,
    "ProximalGradientDescent": 1,
    "ProximalAdagrad": 2,
    "AdagradDA": 3,
}

_SCATTER = ("Update", "Add", "Sub", "Mul", "Div", "Max", "Min")


def _updater(op_type):
    """``(resource op type, number of ref inputs, attr renames, has a ref output)`` of a ref
    update op, or ``None``."""
    if op_type == "Assign":
        return "AssignVariableOp", 1, {"T": "dtype", "use_locking": None}, True
    if op_type in ("AssignAdd", "AssignSub"):
        return op_type + "VariableOp", 1, {"T": "dtype", "use_locking": None}, True
    if op_type == "IsVariableInitialized":
        return "VarIsInitializedOp", 1, None, False
    if op_type.startswith("Scatter") and op_type[len("Scatter") :] in _SCATTER:
        return "Resource" + op_type, 1, {"T": "dtype", "use_locking": None}, True
    for prefix in ("Apply", "SparseApply"):
        if op_type.startswith(prefix) and op_type[len(prefix) :] in _APPLY_REFS:
            return "Resource" + op_type, _APPLY_REFS[op_type[len(prefix) :]], {}, True
    return None


# Attributes of the ref ops that no resource form has.
_DROP = frozenset({"validate_shape", "_output_shapes"})


def has_ref_variables(gd):
    """Whether GraphDef ``gd`` has ref variables (``VariableV2``) at its top level."""
    return any(n.op in _VARIABLE_OPS for n in gd.node)


def variable_names(gd):
    """The names of the ref variables at the top level of GraphDef ``gd``."""
    return [n.name for n in gd.node if n.op in _VARIABLE_OPS]


def _parse(s):
    """``(node name, output index)`` of a NodeDef input; index ``-1`` for a control input."""
    return graph_io._parse_input(s)


def _ref_inputs(nd):
    """How many leading inputs of ``nd`` take a ref and keep it (updates, pass-throughs)."""
    if nd.op == "RefMerge":
        return sum(not s.startswith("^") for s in nd.input)
    if nd.op in _PASS_THROUGH:
        return 1
    spec = _updater(nd.op)
    return spec[1] if spec else 0


def to_resource_variables(gd):
    """A copy of GraphDef ``gd`` with its ref variables written as resource variables."""
    nodes = {n.name: n for n in gd.node}
    taken = set(nodes)

    def fresh(base):
        return graph_io._fresh(base, taken)

    # Which outputs are refs: a variable's, an updater's whose ref input is one, a pass-through's.
    is_ref = {}

    def ref_output(name, idx):
        key = (name, idx)
        if key not in is_ref:
            is_ref[key] = False  # a cycle (a loop's NextIteration) resolves through its Enter
            nd = nodes.get(name)
            if nd is None:
                result = False
            elif nd.op in _VARIABLE_OPS:
                result = idx == 0
            elif nd.op in _PASS_THROUGH:
                data = [s for s in nd.input if not s.startswith("^")]
                result = not value_merge(nd) and any(ref_output(*_parse(s)) for s in data)
                result = result and (idx == 0 or nd.op == "RefSwitch")
            else:
                result = idx == 0 and updates_ref(nd)
            is_ref[key] = result
        return is_ref[key]

    def updates_ref(nd):
        spec = _updater(nd.op)
        return bool(spec and spec[3] and nd.input and ref_output(*_parse(nd.input[0])))

    def value_merge(nd):
        # A RefMerge of the refs two cond branches updated: a Merge of the values after the
        # updates (a handle ordered after an update in one branch cannot pass a Merge).
        if nd.op != "RefMerge":
            return False
        data = [nodes.get(_parse(s)[0]) for s in nd.input if not s.startswith("^")]
        return any(d is None or updates_ref(d) for d in data)

    updated = {}  # an updater's name -> the name its resource form takes
    for nd in gd.node:
        if updates_ref(nd):
            updated[nd.name] = fresh(nd.name + "/_update")

    def handle_of(s):
        """``(input string of the resource handle behind ref edge s, control inputs)``."""
        name, idx = _parse(s)
        if name in updated:
            inner, control = handle_of(nodes[name].input[0])
            return inner, control + ["^" + name]
        return s, []

    out = graph_pb2.GraphDef()
    out.CopyFrom(gd)
    del out.node[:]
    for nd in gd.node:
        spec = _updater(nd.op)
        keep = 0 if value_merge(nd) else _ref_inputs(nd)
        data = [s for s in nd.input if not s.startswith("^")]
        control = [s for s in nd.input if s.startswith("^")]
        if nd.op in _VARIABLE_OPS:
            n = out.node.add()
            n.name, n.op, n.device = nd.name, "VarHandleOp", nd.device
            n.attr["dtype"].CopyFrom(nd.attr["dtype"])
            n.attr["shape"].CopyFrom(nd.attr["shape"])
            n.attr["container"].s = nd.attr["container"].s if "container" in nd.attr else b""
            n.attr["shared_name"].s = nd.attr["shared_name"].s or nd.name.encode()
            continue
        refs = [i < keep and ref_output(*_parse(s)) for i, s in enumerate(data)]
        if keep and not any(refs[:keep]):
            out.node.add().CopyFrom(nd)  # an ordinary Switch/Identity... of a non-ref value
            continue
        if nd.op in _PASS_THROUGH and not keep:
            nd = _renamed(nd, "Merge")
        inputs, extra = [], []
        # A read for this op comes after its control inputs and the producers of its values
        # (not of its other refs: a read of each is ordered the same way); not for a Merge,
        # whose other input is a loop's back edge.
        after = list(control)
        if nd.op not in ("Merge", "RefMerge"):
            after += ["^" + _parse(o)[0] for o in data if not ref_output(*_parse(o))]
        for i, s in enumerate(data):
            if refs[i]:
                h, c = handle_of(s)
                inputs.append(h)
                extra += c
            elif ref_output(*_parse(s)) and _parse(s)[0] not in updated:
                # A ref read by this op: a read of its own, when this op would run.
                h, c = handle_of(s)
                inputs.append(_read(out, fresh(nd.name + "/ReadVariableOp"), h, nodes,
                                    c + after, nd.device))  # fmt: skip
            else:
                inputs.append(s)  # a value (an update's output is already a read)
        n = out.node.add()
        n.CopyFrom(nd)
        del n.input[:]
        n.input.extend(inputs + control + [c for c in dict.fromkeys(extra) if c not in control])
        if nd.op in _PASS_THROUGH:
            n.op = _PASS_THROUGH[nd.op]
            n.attr["T"].type = dtypes.resource.as_datatype_enum
            n.attr.pop("_output_shapes", None)
            continue
        if spec is None or not refs[0]:
            continue
        n.op = spec[0]
        for old, new in (spec[2] or {}).items():
            if new is not None and old in nd.attr:
                n.attr[new].CopyFrom(nd.attr[old])
            n.attr.pop(old, None)
        if spec[2] is None:
            n.attr.clear()
        for a in _DROP & set(n.attr):
            del n.attr[a]
        if nd.name in updated:
            n.name = updated[nd.name]
            h, c = handle_of(data[0])
            _read(out, nd.name, h, nodes, c + ["^" + n.name], nd.device)
    return out


def _renamed(nd, op_type):
    copy = type(nd)()
    copy.CopyFrom(nd)
    copy.op = op_type
    return copy


def _read(out, name, handle, nodes, control, device):
    """Adds ``ReadVariableOp`` ``name`` of ``handle`` after ``control``; returns its output."""
    var = nodes[_variable_of(handle, nodes)]
    n = out.node.add()
    n.name, n.op, n.device = name, "ReadVariableOp", device
    n.input.append(handle)
    n.input.extend(dict.fromkeys(control))
    n.attr["dtype"].CopyFrom(var.attr["dtype"])
    return name


def _variable_of(s, nodes):
    """The variable node behind ref edge ``s``, through pass-through ops."""
    name = _parse(s)[0]
    while nodes[name].op not in _VARIABLE_OPS:
        name = _parse(nodes[name].input[0])[0]
    return name
