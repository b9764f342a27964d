"""``report_uninitialized_variables`` as TF writes it, rewritten on import to tfstyle's one op.

TF writes ``boolean_mask(Const(names), LogicalNot(Pack(VarIsInitializedOp, ...)))``: a
``GatherV2`` of the names (through ``Reshape``\\ s) at ``Where`` of the negated flags (through
``Reshape``/``Squeeze``). tfstyle's ``as_graph_def`` writes the same without the reshapes. The
result's size depends on which variables are initialized, which XLA cannot compile, so the
``GatherV2`` becomes tfstyle's ``ReportUninitialized`` of the flags, under the same name; the
nodes in between stay, unused. Every ``Scaffold``'s ready ops (and the ``.meta`` files of
``MonitoredTrainingSession``) have one.
"""

from tensorboard.compat.proto import graph_pb2

_FLAGS = ("VarIsInitializedOp", "IsVariableInitialized")
_PASS = ("Reshape", "Squeeze", "Identity")


def _node(s, nodes):
    return nodes.get(s.lstrip("^").split(":")[0])


def _through(s, nodes):
    """The node behind ``s`` past reshapes (an output 0 only)."""
    nd = _node(s, nodes)
    while nd is not None and nd.op in _PASS and nd.input:
        nd = _node(nd.input[0], nodes)
    return nd


def _match(gather, nodes):
    """``(flag inputs, names)`` when ``gather`` is such a report, else ``None``."""
    from . import graph_io

    data = [s for s in gather.input if not s.startswith("^")]
    if len(data) != 3 or gather.attr["Tparams"].type != 7:  # DT_STRING
        return None
    names = _through(data[0], nodes)
    where = _through(data[1], nodes)
    if names is None or names.op != "Const" or where is None or where.op != "Where":
        return None
    negated = _through(where.input[0], nodes)
    if negated is None or negated.op != "LogicalNot":
        return None
    stack = _through(negated.input[0], nodes)
    if stack is None or stack.op != "Pack":
        return None
    flags = [s for s in stack.input if not s.startswith("^")]
    if not flags or any(getattr(_node(s, nodes), "op", None) not in _FLAGS for s in flags):
        return None
    values = graph_io.array_from_proto(names.attr["value"].tensor).reshape(-1)
    if len(values) != len(flags):
        return None
    return flags, [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def has_report(gd):
    return any(n.op == "Where" for n in gd.node) and any(n.op == "GatherV2" for n in gd.node)


def rewrite(gd):
    """``gd`` with each report's ``GatherV2`` replaced by ``ReportUninitialized``."""
    nodes = {n.name: n for n in gd.node}
    found = {}
    for nd in gd.node:
        if nd.op == "GatherV2":
            m = _match(nd, nodes)
            if m is not None:
                found[nd.name] = m
    if not found:
        return gd
    out = graph_pb2.GraphDef()
    out.CopyFrom(gd)
    for nd in out.node:
        if nd.name not in found:
            continue
        flags, names = found[nd.name]
        control = [s for s in nd.input if s.startswith("^")]
        name, device = nd.name, nd.device
        nd.Clear()
        nd.name, nd.op, nd.device = name, "ReportUninitialized", device
        nd.input.extend(flags + control)
        nd.attr["names"].list.s.extend(n.encode() for n in names)
    return out
