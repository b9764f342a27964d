"""TF's deduplication of a sparse gradient's indices, rewritten without ``Unique`` on import.

TF's optimizers (all but plain SGD) sum the rows of a sparse gradient that share an index
before a sparse update: ``Unique(ids) -> (y, idx)``, ``UnsortedSegmentSum(values, idx,
StridedSlice(Shape(y))[0])``, then the update ops (``ResourceSparseApplyAdagrad``, ...; for
Adam ``ResourceScatterAdd`` on its slots) take ``y`` as their indices. The size of ``y``
depends on the values of the ids, so XLA cannot compile it when the ids are fed.

:func:`rewrite` replaces such a ``Unique`` by ordinary ops whose sizes depend only on the size
of the ids (``n``), as ``tfstyle.train.optimizer.sum_repeated_indices`` does for tfstyle's
own optimizers, with ``rows`` the first dimension of the updated variable:

- ``first = UnsortedSegmentMin(range(n), ids, rows)``: the first position of each id;
- ``f = Gather(first, ids)``, so ``is_first = Equal(f, range(n))``;
- ``y' = SelectV2(is_first, ids, rows)``: each id at its first position, elsewhere ``rows``,
  an index past the variable's last row, which tfstyle's scatter and sparse-apply lowerings
  drop (JAX's ``.at[...]`` updates drop out-of-bounds indices);
- ``idx' = f``: the segment sum puts each id's summed rows at its first position.

An ``IdentityN`` named like the ``Unique`` passes ``(y', idx')``, so ``<name>:0`` and
``<name>:1`` keep their consumers (fetched, they give ``y'`` and ``idx'``). The rewrite applies
only where nothing else sees the difference: ``y`` is used only by that ``Shape`` (whose slice is
only the segment count) and as the indices of scatter, sparse-apply and gather ops on resource
variables of the same number of rows, ``idx`` only as the segment ids, and the rows derived from
the segment sum (or a gather at ``y``) reach only the update values of those ops, through
elementwise ops. Any other ``Unique`` is left as it is (tfstyle computes it only when its input
is known at graph construction).

TF's own kernels reject an out-of-range index, so a rewritten graph exported again runs its
updates in tfstyle only, unless :func:`restore_unique` writes the ``Unique`` back.
"""

from tensorboard.compat.proto import graph_pb2

from tfstyle.framework import dtypes, graph_io  # (its import_graph_def runs this pass)

_SCATTERS = frozenset(
    "ResourceScatter" + k for k in ("Update", "Add", "Sub", "Mul", "Div", "Max", "Min")
)

# ResourceSparseApply* -> the position of its ``indices`` input (``grad`` comes just before).
_SPARSE_APPLY_INDICES = {
    "ResourceSparseApply" + k: i
    for k, i in {
        "Adadelta": 7,
        "Adagrad": 4,
        "AdagradV2": 5,
        "AdagradDA": 4,
        "CenteredRMSProp": 9,
        "Ftrl": 4,
        "FtrlV2": 4,
        "Momentum": 4,
        "KerasMomentum": 4,
        "ProximalAdagrad": 6,
        "ProximalGradientDescent": 5,
        "RMSProp": 8,
    }.items()
}

# Ops that keep the row structure of their inputs: rows of the segment sum may pass through them
# on their way to the update values.
_ELEMENTWISE = frozenset(
    {
        "Abs",
        "Add",
        "AddV2",
        "Cast",
        "Div",
        "DivNoNan",
        "Exp",
        "Identity",
        "Log",
        "Maximum",
        "Minimum",
        "Mul",
        "Neg",
        "Pow",
        "RealDiv",
        "Reciprocal",
        "Rsqrt",
        "Sign",
        "Sqrt",
        "Square",
        "SquaredDifference",
        "Sub",
    }
)


def _indices_at(op_type):
    """Position of the ``indices`` input of a sparse update or gather, or ``None``."""
    if op_type in _SCATTERS or op_type == "ResourceGather":
        return 1
    return _SPARSE_APPLY_INDICES.get(op_type)


def _parse(s):
    return graph_io._parse_input(s)


def has_unique(gd):
    """Whether GraphDef ``gd`` has a ``Unique`` of a non-constant at its top level."""
    consts = {n.name for n in gd.node if n.op == "Const"}
    return any(n.op == "Unique" and _parse(n.input[0])[0] not in consts for n in gd.node)


def _consumers(gd):
    """``{(node name, output index): [(consumer NodeDef, input position), ...]}`` of data
    edges."""
    uses = {}
    for nd in gd.node:
        for pos, s in enumerate(nd.input):
            name, idx = _parse(s)
            if idx >= 0:
                uses.setdefault((name, idx), []).append((nd, pos))
    return uses


def _source(s, nodes):
    """The node that edge ``s`` comes from, looking through ``Identity`` ops, or ``None``."""
    nd = nodes.get(_parse(s)[0])
    while nd is not None and nd.op == "Identity" and nd.input:
        nd = nodes.get(_parse(nd.input[0])[0])
    return nd


def _rows(handle, nodes):
    """The static number of rows of the variable behind resource edge ``handle``, or ``None``."""
    nd = _source(handle, nodes)
    if nd is None or nd.op != "VarHandleOp":
        return None
    shape = nd.attr["shape"].shape
    if shape.unknown_rank or not shape.dim or shape.dim[0].size < 0:
        return None
    return shape.dim[0].size


def _values_at(op_type):
    """Position of the update values (``updates``, ``grad``) of a sparse update, or ``None``."""
    if op_type in _SCATTERS:
        return 2
    at = _SPARSE_APPLY_INDICES.get(op_type)
    return None if at is None else at - 1


def _match(u, uses, nodes):
    """The updates that take ``Unique`` node ``u``'s output as indices, if its outputs are used
    only the way TF's deduplication uses them; otherwise ``None``."""
    updates, gathers, segment_sums, counted = [], [], set(), set()
    for c, pos in uses.get((u.name, 0), []):
        if c.op == "Shape":
            for s, _ in uses.get((c.name, 0), []):
                # Shape(y)[0]: y is a vector, so any slice that drops the axis is its size.
                if s.op != "StridedSlice" or not s.attr["shrink_axis_mask"].i & 1:
                    return None
                for ss, spos in uses.get((s.name, 0), []):
                    if ss.op != "UnsortedSegmentSum" or spos != 2:
                        return None
                    counted.add(ss.name)
        elif _indices_at(c.op) == pos:
            (gathers if c.op == "ResourceGather" else updates).append(c)
        else:
            return None
    for c, pos in uses.get((u.name, 1), []):
        if c.op != "UnsortedSegmentSum" or pos != 1:
            return None
        segment_sums.add(c.name)
    if not updates or not segment_sums or counted != segment_sums:
        return None
    # The index marking a repeated id is past the last row of every variable updated with y.
    handles = {c.input[0] for c in updates + gathers}
    if len(handles) > 1 and len({_rows(h, nodes) for h in handles} | {None}) != 2:
        return None
    # The rows of the segment sums (and of gathers at y), whose count changes, may reach only
    # the update values of those updates, through elementwise ops.
    targets = {(c.name, _values_at(c.op)) for c in updates}
    pending = list(segment_sums) + [c.name for c in gathers]
    seen = set(pending)
    while pending:
        for c, pos in uses.get((pending.pop(), 0), []):
            if (c.name, pos) in targets:
                continue
            if c.op not in _ELEMENTWISE:
                return None
            if c.name not in seen:
                seen.add(c.name)
                pending.append(c.name)
    return updates


def rewrite(gd):
    """A copy of GraphDef ``gd`` with each ``Unique`` that only deduplicates the indices of
    sparse updates replaced as the module docstring says; ``gd`` itself if there is none."""
    uses = _consumers(gd)
    nodes = {n.name: n for n in gd.node}
    matched = {}
    for nd in gd.node:
        source = nodes.get(_parse(nd.input[0])[0]) if nd.op == "Unique" else None
        if source is not None and source.op != "Const":
            updates = _match(nd, uses, nodes)
            if updates:
                matched[nd.name] = updates[0]
    if not matched:
        return gd
    taken = {n.name for n in gd.node}
    out = graph_pb2.GraphDef()
    out.CopyFrom(gd)
    del out.node[:]
    for nd in gd.node:
        if nd.name in matched:
            _replace(out, nd, matched[nd.name], taken)
        else:
            out.node.add().CopyFrom(nd)
    return out


def _replace(out, u, update, taken):
    """Writes the nodes that replace ``Unique`` node ``u`` into GraphDef ``out``."""
    ids = u.input[0]
    control = [s for s in u.input[1:] if s.startswith("^")]
    t = u.attr["T"].type
    out_idx = u.attr["out_idx"].type if "out_idx" in u.attr else dtypes.int32.as_datatype_enum
    # Constants take a control input from the ids' producer, so that they sit in its frame
    # when the Unique is inside a v1 while loop.
    anchor = ["^" + _parse(ids)[0]]

    def node(suffix, op, inputs, **attrs):
        nd = out.node.add()
        nd.name = graph_io._fresh(f"{u.name}/{suffix}", taken)
        nd.op, nd.device = op, u.device
        nd.input.extend(inputs)
        for k, v in attrs.items():
            if isinstance(v, bool):
                nd.attr[k].b = v
            elif isinstance(v, int):
                nd.attr[k].i = v
            elif isinstance(v, list):
                nd.attr[k].list.type.extend(v)
            else:
                nd.attr[k].type = v.as_datatype_enum
        return nd.name

    def const(suffix, value, dtype):
        name = node(suffix, "Const", anchor)
        nd = out.node[-1]
        nd.attr["dtype"].type = dtype.as_datatype_enum
        nd.attr["value"].tensor.CopyFrom(graph_io.tensor_proto(value, dtype))
        return name

    tdt, idt = dtypes.as_dtype(t), dtypes.as_dtype(out_idx)
    i32 = dtypes.int32
    n = node("size", "Size", [ids], T=tdt, out_type=idt)
    positions = node(
        "range", "Range", [const("range/start", 0, idt), n, const("range/delta", 1, idt)], Tidx=idt
    )
    shape = node("variable_shape", "VariableShape", [update.input[0]], out_type=tdt)
    slice_at = [const(f"rows/stack{s}", v, i32) for s, v in (("", [0]), ("_1", [1]), ("_2", [1]))]
    rows = node(
        "rows",
        "StridedSlice",
        [shape, *slice_at],
        T=tdt,
        Index=i32,
        begin_mask=0,
        end_mask=0,
        ellipsis_mask=0,
        new_axis_mask=0,
        shrink_axis_mask=1,
    )
    first = node(
        "first", "UnsortedSegmentMin", [positions, ids, rows], T=idt, Tindices=tdt, Tnumsegments=tdt
    )
    f = node(
        "first_of_each",
        "GatherV2",
        [first, ids, const("first_of_each/axis", 0, i32)],
        Tparams=idt,
        Tindices=tdt,
        Taxis=i32,
        batch_dims=0,
    )
    is_first = node("is_first", "Equal", [f, positions], T=idt, incompatible_shape_error=True)
    y = node("y", "SelectV2", [is_first, ids, rows], T=tdt)
    nd = out.node.add()
    nd.name, nd.op, nd.device = u.name, "IdentityN", u.device
    nd.input.extend([y, f, *control])
    nd.attr["T"].list.type.extend([t, out_idx])


# The op types that :func:`rewrite` writes in place of a ``Unique``, besides the ``IdentityN``.
_WRITTEN = frozenset(
    {
        "Const",
        "Size",
        "Range",
        "VariableShape",
        "StridedSlice",
        "UnsortedSegmentMin",
        "GatherV2",
        "Equal",
        "SelectV2",
    }
)


def restore_unique(gd):
    """A copy of GraphDef ``gd`` (as tfstyle exports a graph that :func:`rewrite` changed) with
    each replacement written back as TF's ``Unique``, whose kernels TF's sparse updates need:
    they reject the out-of-range index of a repeated id. ``gd`` itself if there is none."""
    nodes = {n.name: n for n in gd.node}
    users = {}  # node name -> names of the nodes that take any of its outputs (data or control)
    for nd in gd.node:
        for s in nd.input:
            users.setdefault(_parse(s)[0], set()).add(nd.name)
    back, dropped = {}, set()
    for nd in gd.node:
        helpers = _written_for(nd, nodes)
        if helpers is None:
            continue
        if any(users.get(h, set()) - helpers - {nd.name} for h in helpers):
            continue
        back[nd.name] = (nodes[_parse(nd.input[0])[0]], nd)
        dropped |= helpers

    def write(u, nd, how):
        y, identity = how
        u.name, u.op, u.device = nd.name, "Unique", nd.device
        u.input.append(y.input[1])
        u.input.extend(s for s in identity.input if s.startswith("^"))
        u.attr["T"].type = y.attr["T"].type
        u.attr["out_idx"].type = identity.attr["T"].list.type[1]

    return _rebuilt(gd, dropped, back, write)


def _rebuilt(gd, dropped, back, write):
    """``gd`` without the nodes named in ``dropped``, and with each node named in ``back``
    replaced by what ``write(new_node, old_node, back[name])`` writes (``gd`` itself if there
    is nothing to replace): how the rewrites of an import are undone on export."""
    if not back:
        return gd
    out = graph_pb2.GraphDef()
    out.CopyFrom(gd)
    del out.node[:]
    for nd in gd.node:
        if nd.name in dropped:
            continue
        if nd.name in back:
            write(out.node.add(), nd, back[nd.name])
        else:
            out.node.add().CopyFrom(nd)
    return out


def _written_for(nd, nodes):
    """The names of the nodes that :func:`rewrite` wrote for ``IdentityN`` node ``nd``, or
    ``None`` if ``nd`` is not one it wrote."""
    data = [s for s in nd.input if not s.startswith("^")]
    if nd.op != "IdentityN" or len(data) != 2 or any(_parse(s)[1] for s in data):
        return None
    y, f = (nodes.get(_parse(s)[0]) for s in data)
    if y is None or f is None or y.op != "SelectV2" or f.op != "GatherV2" or len(y.input) < 3:
        return None
    ids = y.input[1]
    prefix = nd.name + "/"
    helpers, pending = set(), [y.name, f.name]
    while pending:
        h = nodes.get(pending.pop())
        if h is None or h.op not in _WRITTEN or not h.name.startswith(prefix):
            return None
        if h.name in helpers:
            continue
        helpers.add(h.name)
        for s in h.input:
            src = _parse(s)[0]
            if s == ids or s == "^" + _parse(ids)[0] or h.op == "VariableShape":
                continue
            pending.append(src)
    return helpers if _parse(ids)[0] not in helpers else None
