"""TF's partitioned embedding lookup, rewritten without ``DynamicPartition`` on import.

``tf.nn.embedding_lookup(params, ids)`` with a list of partitions (or a ``PartitionedVariable``)
writes, for ``n`` partitions and ``flat = Reshape(ids, [-1])`` of ``N`` elements:

- ``a`` (each id's partition) and ``d`` (its row in the partition), elementwise functions of
  ``flat`` (``FloorMod``/``FloorDiv`` for ``"mod"``; ``Maximum``, ``Select``, ... for ``"div"``);
- ``P = DynamicPartition(d, a)`` and ``R = DynamicPartition(Range(0, N, 1), a)`` (``N`` is
  ``Size(flat)``, or a constant where the ids' shape is static): partition ``p``'s rows and the
  positions of its ids;
- ``D_p = ResourceGather(params_p, P:p)`` (``GatherV2`` of a ref variable's value), and the
  result ``S = ParallelDynamicStitch(R:0.., D_0..)`` (or ``DynamicStitch``);
- TF's gradient: ``G_p = GatherV2(grad, R:p, 0)`` are partition ``p``'s rows of the incoming
  gradient, and the ``IndexedSlices`` of the gather of ``params_p`` are ``(Reshape(G_p), Reshape
  (P:p))``, which the optimizer applies (``ResourceScatterAdd``, ``ResourceSparseApply*``, or
  first ``Unique`` on the indices, which :mod:`sparse_dedup` rewrites in its turn).

The sizes of ``P:p``, ``R:p`` and ``G_p`` depend on the values of the ids, so XLA cannot
compile them when the ids are fed. :func:`rewrite` gives every one of them ``N`` rows, as
``tfstyle.nn.embedding_lookup`` does (with ``in_p = Equal(a, p)``):

- ``P:p`` becomes ``SelectV2(in_p, d, rows_p)``: each id's row where it is in partition ``p``,
  elsewhere ``rows_p``, the number of rows of ``params_p`` (``VariableShape`` or ``Shape``): a
  row past the end, which tfstyle's scatter and sparse-apply lowerings drop;
- ``R:p`` becomes ``SelectV2(in_p, range, N)``: the position where it is in partition ``p``,
  elsewhere ``N``;
- ``S`` becomes ``Select(Equal(R:0, range), D_0, Select(Equal(R:1, range), D_1, ..., D_n-1))``:
  each position takes the row gathered from its own partition;
- ``G_p`` becomes ``GatherV2(ConcatV2([zero row, grad]), SelectV2(Equal(R:p, range), R:p + 1,
  0))``: the gradient at the positions of partition ``p`` and zeros elsewhere.

``IdentityN``\\ s named like ``P`` and ``R`` pass the new outputs, so ``<name>:p`` keeps its
consumers. Fetched, they give the fixed-size values. The rewrite applies only where nothing
else sees the difference: ``a`` and ``d`` are elementwise functions of ``flat`` and scalar
constants (so they have as many elements as the range, which ``DynamicPartition`` requires); each
``D_p`` is used only by the stitch; ``R:p`` only by the stitch and by such ``G_p``; and what is
computed from ``P:p`` and ``G_p`` reaches only the indices and update values of sparse updates of
``params_p``'s variable (or of variables with as many rows), as TF's gradient and optimizers use
them: through ``Identity``, ``Size``, row-preserving ``Reshape``\\ s, a few elementwise ops with
operands of their own (``Neg``, ``Mul``, ...), and a ``Unique`` that :mod:`sparse_dedup` rewrites.
Anything else keeps its ``DynamicPartition`` (and fails as an op tfstyle cannot compile), and
so do ids computed from constants and shapes only: tfstyle knows them while tracing, and its
gathers reject the rows past the end then.

TF's own kernels reject the rows past the end, so :func:`restore` writes the original ops back
when a rewritten graph is exported.
"""

from tensorboard.compat.proto import graph_pb2

from tfstyle.framework import dtypes, graph_io, sparse_dedup

_STITCHES = ("ParallelDynamicStitch", "DynamicStitch")

# Ops of which ``a`` and ``d`` may be built from ``flat`` and scalar constants: elementwise, so
# the result has ``flat``'s shape.
_INDEX_MATH = frozenset(
    {
        "Abs",
        "Add",
        "AddV2",
        "Cast",
        "Div",
        "Equal",
        "FloorDiv",
        "FloorMod",
        "Greater",
        "GreaterEqual",
        "Identity",
        "Less",
        "LessEqual",
        "Maximum",
        "Minimum",
        "Mod",
        "Mul",
        "Neg",
        "NotEqual",
        "Select",
        "SelectV2",
        "Sub",
        "TruncateDiv",
        "TruncateMod",
    }
)

# Elementwise ops that the gradient rows of a partition may pass through on their way to the
# update values (TF's plain SGD scales them: ``Mul(Neg(values), learning_rate)``).
_ROW_ELEMENTWISE = frozenset({"Cast", "Div", "Mul", "Neg", "RealDiv", "Square"})


_parse = sparse_dedup._parse  # ``(node name, output index)`` of an input string


def _data(nd):
    return [s for s in nd.input if not s.startswith("^")]


def _control(nd):
    return [s for s in nd.input if s.startswith("^")]


def has_partition_stitch(gd):
    """Whether GraphDef ``gd`` has a stitch of ``DynamicPartition`` outputs at its top level."""
    partitions = {n.name for n in gd.node if n.op == "DynamicPartition"}
    return any(
        n.op in _STITCHES and any(_parse(s)[0] in partitions for s in n.input) for n in gd.node
    )


def _attr_i(nd, key):
    """Integer attribute ``key`` of ``nd``, 0 if absent (without adding it to ``nd``)."""
    return nd.attr[key].i if key in nd.attr else 0


def _const_value(nd):
    if nd is None or nd.op != "Const":
        return None
    return graph_io.array_from_proto(nd.attr["value"].tensor)


def _is_const(nodes, s, value):
    v = _const_value(nodes.get(_parse(s)[0]))
    return v is not None and v.size == 1 and v.reshape(()) == value


_handle = sparse_dedup._source  # the node behind a resource edge


def _read_variable(s, nodes):
    """The handle node whose value tensor ``s`` is (through ``Identity``), or ``None``."""
    nd = sparse_dedup._source(s, nodes)
    if nd is None or nd.op != "ReadVariableOp":
        return None
    return _handle(nd.input[0], nodes)


def _same_rows(handle, variable, nodes):
    """Whether the variable behind resource edge ``handle`` has as many rows as ``variable`` (a
    handle node): it is that variable, or both have the same known number of rows."""
    other = _handle(handle, nodes)
    if other is None or variable is None:
        return False
    if other.name == variable.name:
        return True
    rows = sparse_dedup._rows(other.name, nodes)
    return rows is not None and rows == sparse_dedup._rows(variable.name, nodes)


def _flat_kind(s, flat, nodes, memo):
    """``"flat"`` if tensor ``s`` is an elementwise function of ``flat`` and scalar constants
    that depends on ``flat``, ``"scalar"`` if of scalar constants only, else ``None``."""
    if _parse(s) == flat:
        return "flat"
    if s in memo:
        return memo[s]
    memo[s] = None  # (a cycle is not a function of ``flat``)
    name, idx = _parse(s)
    nd = nodes.get(name)
    kind = None
    if nd is not None and idx == 0:
        if nd.op == "Const":
            kind = "scalar" if not nd.attr["value"].tensor.tensor_shape.dim else None
        elif nd.op in _INDEX_MATH and _data(nd):
            kinds = {_flat_kind(i, flat, nodes, memo) for i in _data(nd)}
            if None not in kinds:
                kind = "flat" if "flat" in kinds else "scalar"
    memo[s] = kind
    return kind


def _flat(s, nodes):
    """The key of a ``Reshape(x, [-1])`` that tensor ``s`` is computed from, or ``None``."""
    seen, pending = set(), [s]
    while pending:
        name, idx = _parse(pending.pop())
        nd = nodes.get(name)
        if nd is None or name in seen:
            continue
        seen.add(name)
        if nd.op == "Reshape" and idx == 0:
            shape = _const_value(nodes.get(_parse(nd.input[1])[0]))
            if shape is not None and shape.tolist() == [-1]:
                return (name, 0)
        if nd.op in _INDEX_MATH:
            pending.extend(_data(nd))
    return None


# Ops whose value tfstyle computes while tracing when their inputs are known then (constants and
# shapes, which are static under ``jax.jit``).
_SHAPES = frozenset({"Rank", "Shape", "ShapeN", "Size", "VariableShape"})
_PURE = _INDEX_MATH | {
    "ConcatV2",
    "ExpandDims",
    "Fill",
    "GatherV2",
    "Pack",
    "Range",
    "Reshape",
    "Slice",
    "Squeeze",
    "StridedSlice",
    "Tile",
    "Transpose",
}


def _is_static(name, nodes, memo):
    """Whether node ``name`` is computed from constants and shapes only (conservatively)."""
    if name in memo:
        return memo[name]
    memo[name] = False
    nd = nodes.get(name)
    static = nd is not None and (
        nd.op == "Const"
        or nd.op in _SHAPES
        or (nd.op in _PURE and all(_is_static(_parse(s)[0], nodes, memo) for s in _data(nd)))
    )
    memo[name] = static
    return static


class _Match:
    """One partitioned lookup: the nodes that :func:`rewrite` replaces and what it needs."""

    def __init__(self, stitch, p_node, r_node, gathers, grads, limit):
        self.stitch, self.p_node, self.r_node = stitch, p_node, r_node
        self.gathers = gathers  # D_p
        self.grads = grads  # {G node name: p}
        self.limit = limit  # N: the Range's limit


def _match(s_node, uses, nodes):
    """The partitioned lookup whose result is stitch ``s_node``, if every use of its partitions
    is one that :func:`rewrite` keeps equivalent; otherwise ``None``."""
    n = s_node.attr["N"].i
    data = _data(s_node)
    if n < 2 or len(data) != 2 * n:
        return None
    positions = [_parse(s) for s in data[:n]]
    r_node = nodes.get(positions[0][0])
    if (
        r_node is None
        or r_node.op != "DynamicPartition"
        or positions != [(r_node.name, p) for p in range(n)]
    ):
        return None
    gathers, p_node = [], None
    for p, s in enumerate(data[n:]):
        name, idx = _parse(s)
        g = nodes.get(name)
        if g is None or idx != 0 or _attr_i(g, "batch_dims") != 0:
            return None
        if g.op == "GatherV2":
            if not _is_const(nodes, g.input[2], 0):
                return None
        elif g.op != "ResourceGather":
            return None
        part = _parse(g.input[1])
        p_node = p_node or nodes.get(part[0])
        if p_node is None or part != (p_node.name, p):
            return None
        if uses.get((g.name, 0), []) != [(s_node, n + p)]:
            return None
        gathers.append(g)
    if p_node.op != "DynamicPartition" or p_node.name == r_node.name:
        return None
    for nd in (p_node, r_node):
        if nd.attr["num_partitions"].i != n or len(_data(nd)) != 2:
            return None
    if _parse(p_node.input[1]) != _parse(r_node.input[1]):
        return None
    # R's data is range(N) (as many elements as a, or DynamicPartition fails).
    rng = nodes.get(_parse(r_node.input[0])[0])
    if rng is None or rng.op != "Range" or _parse(r_node.input[0])[1] != 0:
        return None
    if not (_is_const(nodes, rng.input[0], 0) and _is_const(nodes, rng.input[2], 1)):
        return None
    # a, of as many elements as the range (as DynamicPartition requires), and d are elementwise
    # functions of a vector (flat), so d has as many too.
    flat = _flat(p_node.input[1], nodes)
    memo = {}
    if flat is None or any(_flat_kind(s, flat, nodes, memo) != "flat" for s in p_node.input[:2]):
        return None
    if _is_static(flat[0], nodes, {}):
        return None  # (tfstyle's gathers check indices known while tracing: left as it is)
    variables = []
    for g in gathers:
        if g.op == "ResourceGather":
            variables.append(_handle(g.input[0], nodes))
        else:
            variables.append(_read_variable(g.input[0], nodes))
    grads = {}
    for p in range(n):
        for c, pos in uses.get((r_node.name, p), []):
            if c.name == s_node.name and pos == p:
                continue
            if (
                c.op != "GatherV2"
                or pos != 1
                or _attr_i(c, "batch_dims") != 0
                or not _is_const(nodes, c.input[2], 0)
            ):
                return None
            grads[c.name] = p
    if not _rows_used_as_slices(p_node, gathers, grads, variables, uses, nodes):
        return None
    return _Match(s_node, p_node, r_node, gathers, grads, rng.input[1])


def _rows_used_as_slices(p_node, gathers, grads, variables, uses, nodes):
    """Whether what is computed from ``P:p`` (indices) and the ``G_p`` (values) only reaches
    the sparse updates of partition ``p``'s variable, as TF's gradient uses them."""
    # Classes of tensors (keys): partition p's indices, values (gradient rows), their count
    # (Size), [count] (ExpandDims) and [count, ...] (ConcatV2) shapes.
    classes = {}
    pending = [((p_node.name, p), ("indices", p)) for p in range(len(gathers))]
    pending += [((name, 0), ("values", p)) for name, p in grads.items()]
    checks = []  # (node, position, class its input there must have)
    uniques, updates, segment_sums = {}, {}, {}
    gather_names = {g.name for g in gathers}
    while pending:
        key, cls = pending.pop()
        if key in classes:
            if classes[key] != cls:
                return False
            continue
        classes[key] = cls
        kind, p = cls
        for c, pos in uses.get(key, []):
            out = (c.name, 0)
            if kind == "indices":
                if c.name in gather_names:
                    if c.name != gathers[p].name or pos != 1:
                        return False
                elif c.op == "Identity":
                    pending.append((out, cls))
                elif c.op == "Size" and pos == 0:
                    pending.append((out, ("count", p)))
                elif c.op == "Reshape" and pos == 0:
                    shape = nodes.get(_parse(c.input[1])[0])
                    if _const_value(shape) is None or _const_value(shape).tolist() != [-1]:
                        checks.append((c, 1, ("count_shape", p)))
                    pending.append((out, cls))
                elif c.op == "Unique" and pos == 0:
                    uniques[c.name] = (c, p)
                elif sparse_dedup._indices_at(c.op) == pos and c.op != "ResourceGather":
                    updates[c.name] = (c, p)
                else:
                    return False
            elif kind == "count":
                if c.op != "ExpandDims" or pos != 0 or not _is_const(nodes, c.input[1], 0):
                    return False
                pending.append((out, ("count_shape", p)))
            elif kind == "count_shape":
                if c.op == "Reshape" and pos == 1:
                    continue  # (its data input is checked from the data's side)
                if c.op != "ConcatV2" or pos != 0 or not _is_const(nodes, c.input[-1], 0):
                    return False
                pending.append((out, ("row_shape", p)))
            elif kind == "row_shape":
                if c.op != "Reshape" or pos != 1:
                    return False
                checks.append((c, 0, ("values", p)))
            else:  # values
                if c.op == "Identity":
                    pending.append((out, cls))
                elif c.op == "Reshape" and pos == 0:
                    checks.append((c, 1, ("row_shape", p)))
                    checks.append((c, 1, ("count_shape", p)))
                    pending.append((out, cls))
                elif c.op in _ROW_ELEMENTWISE:
                    checks.extend((c, i, None) for i in range(len(_data(c))) if i != pos)
                    pending.append((out, cls))
                elif c.op == "UnsortedSegmentSum" and pos == 0:
                    segment_sums[c.name] = (c, p)
                elif sparse_dedup._values_at(c.op) == pos:
                    updates[c.name] = (c, p)
                else:
                    return False
    # A Reshape's shape is [count] or [count, ...] of its partition (either will do); other
    # operands of elementwise ops are none of these tensors.
    by_node = {}
    for c, i, cls in checks:
        by_node.setdefault((c.name, i), []).append(cls)
    for (name, i), wanted in by_node.items():
        got = classes.get(_parse(_data(nodes[name])[i]))
        if got not in wanted:
            return False
    # Each sparse update takes its indices and values from the same partition and updates a
    # variable with as many rows as that partition's.
    for c, p in updates.values():
        at = sparse_dedup._indices_at(c.op)
        if classes.get(_parse(c.input[at])) != ("indices", p):
            return False
        if classes.get(_parse(c.input[sparse_dedup._values_at(c.op)])) != ("values", p):
            return False
        if not _same_rows(c.input[0], variables[p], nodes):
            return False
    # A Unique of partition p's indices is one that sparse_dedup rewrites, for updates of such
    # variables, and its segment sums add up partition p's values.
    for u, p in uniques.values():
        deduped = sparse_dedup._match(u, uses, nodes)
        if not deduped or any(not _same_rows(c.input[0], variables[p], nodes) for c in deduped):
            return False
        for c, _ in uses.get((u.name, 1), []):
            if classes.get(_parse(c.input[0])) != ("values", p):
                return False
    for c, p in segment_sums.values():
        ids = _parse(c.input[1])
        if ids[1] != 1 or uniques.get(ids[0], (None, -1))[1] != p:
            return False
    return True


def rewrite(gd):
    """A copy of GraphDef ``gd`` with each partitioned lookup whose partitions are used only as
    the module docstring says replaced by ops of fixed size; ``gd`` itself if there is none."""
    uses = sparse_dedup._consumers(gd)
    nodes = {n.name: n for n in gd.node}
    matches = {}
    for nd in gd.node:
        if nd.op in _STITCHES:
            m = _match(nd, uses, nodes)
            if m is not None:
                matches[nd.name] = m
    if not matches:
        return gd
    replaced = {}  # node name -> the Match that replaces it
    for m in matches.values():
        for name in [m.stitch.name, m.p_node.name, m.r_node.name, *m.grads]:
            if name in replaced:  # (shared with another lookup: keep both as they are)
                return gd
            replaced[name] = m
    taken = {n.name for n in gd.node}
    out = graph_pb2.GraphDef()
    out.CopyFrom(gd)
    del out.node[:]
    for nd in gd.node:
        m = replaced.get(nd.name)
        if m is None:
            out.node.add().CopyFrom(nd)
            continue
        w = _Writer(out, nd, taken)
        if nd.name == m.p_node.name:
            _write_rows(w, m)
        elif nd.name == m.r_node.name:
            _write_positions(w, m)
        elif nd.name == m.stitch.name:
            _write_select(w, m)
        else:
            _write_grad(w, m, m.grads[nd.name])
    return out


class _Writer:
    """Writes the nodes that replace node ``nd`` into ``out``: helpers named ``<nd>/...``,
    constants anchored to ``anchor`` (so that they sit in its frame inside a v1 loop)."""

    def __init__(self, out, nd, taken, anchor=None):
        self.out, self.nd, self.taken = out, nd, taken
        self.anchor = anchor if anchor is not None else _parse(_data(nd)[1])[0]

    def node(self, suffix, op, inputs, final=False, **attrs):
        nd = self.out.node.add()
        if final:
            nd.name = self.nd.name
            nd.input.extend(inputs + _control(self.nd))
        else:
            nd.name = graph_io._fresh(f"{self.nd.name}/{suffix}", self.taken)
            nd.input.extend(inputs)
        nd.op, nd.device = op, self.nd.device
        for k, v in attrs.items():
            if isinstance(v, bool):
                nd.attr[k].b = v
            elif isinstance(v, int):
                nd.attr[k].i = v
            elif isinstance(v, list):
                nd.attr[k].list.type.extend(t.as_datatype_enum for t in v)
            else:
                nd.attr[k].type = v.as_datatype_enum
        return nd.name

    def const(self, suffix, value, dtype):
        name = self.node(suffix, "Const", ["^" + self.anchor])
        nd = self.out.node[-1]
        nd.attr["dtype"].type = dtype.as_datatype_enum
        nd.attr["value"].tensor.CopyFrom(graph_io.tensor_proto(value, dtype))
        return name

    def in_partition(self, a, p):
        return self.node(
            "in_partition",
            "Equal",
            [a, self.const("partition", p, dtypes.int32)],
            T=dtypes.int32,
            incompatible_shape_error=True,
        )

    def first(self, x, dtype, shrink):
        """``x[0]`` (``shrink``) or ``x[0:1]``."""
        stack = [self.const(f"first/stack{s}", v, dtypes.int32) for s, v in _SLICE]
        return self.node(
            "first" if shrink else "first_row",
            "StridedSlice",
            [x, *stack],
            T=dtype,
            Index=dtypes.int32,
            begin_mask=0,
            end_mask=0,
            ellipsis_mask=0,
            new_axis_mask=0,
            shrink_axis_mask=int(shrink),
        )


_SLICE = (("", [0]), ("_1", [1]), ("_2", [1]))


def _write_rows(w, m):
    """``P:p`` -> ``SelectV2(in_p, d, rows_p)``, passed on by an ``IdentityN`` named ``P``."""
    d, a = _data(m.p_node)
    t = dtypes.as_dtype(m.p_node.attr["T"].type)
    outs = []
    for p, g in enumerate(m.gathers):
        if g.op == "ResourceGather":
            shape = w.node("shape", "VariableShape", [g.input[0]], out_type=t)
        else:
            shape = w.node(
                "shape",
                "Shape",
                [g.input[0]],
                T=dtypes.as_dtype(g.attr["Tparams"].type),
                out_type=t,
            )
        rows = w.first(shape, t, shrink=True)
        outs.append(w.node("indices", "SelectV2", [w.in_partition(a, p), d, rows], T=t))
    w.node("", "IdentityN", outs, final=True, T=[t] * len(outs))


def _write_positions(w, m):
    """``R:p`` -> ``SelectV2(in_p, range, N)``, passed on by an ``IdentityN`` named ``R``."""
    rng, a = _data(m.r_node)
    t = dtypes.as_dtype(m.r_node.attr["T"].type)
    outs = [
        w.node("positions", "SelectV2", [w.in_partition(a, p), rng, m.limit], T=t)
        for p in range(len(m.gathers))
    ]
    w.node("", "IdentityN", outs, final=True, T=[t] * len(outs))


def _write_select(w, m):
    """The stitch -> each position's row from its own partition, by ``Select``\\ s (which take
    rows where the condition is a vector) named ``<stitch>/<its op type>/...``."""
    n = len(m.gathers)
    rng = _data(m.r_node)[0]
    t = dtypes.as_dtype(m.stitch.attr["T"].type)
    ti = dtypes.as_dtype(m.r_node.attr["T"].type)
    kind = m.stitch.op
    acc = _data(m.stitch)[2 * n - 1]
    for p in reversed(range(n - 1)):
        taken = w.node(
            f"{kind}/in_partition",
            "Equal",
            [f"{m.r_node.name}:{p}", rng],
            T=ti,
            incompatible_shape_error=True,
        )
        acc = w.node(
            f"{kind}/select", "Select", [taken, _data(m.stitch)[n + p], acc], final=p == 0, T=t
        )


def _write_grad(w, m, p):
    """``G_p = GatherV2(grad, R:p)`` -> ``GatherV2(ConcatV2([zero row, grad]), SelectV2(Equal(
    R:p, range), R:p + 1, 0))``."""
    g = w.nd
    grad, positions, axis = _data(g)
    t = dtypes.as_dtype(g.attr["Tparams"].type)
    ti = dtypes.as_dtype(m.r_node.attr["T"].type)
    rng = _data(m.r_node)[0]
    zero = w.node("zero_row", "ZerosLike", [w.first(grad, t, shrink=False)], T=t)
    rows = w.node(
        "with_zero_row",
        "ConcatV2",
        [zero, grad, w.const("with_zero_row/axis", 0, dtypes.int32)],
        N=2,
        T=t,
        Tidx=dtypes.int32,
    )
    shifted = w.node("shifted", "AddV2", [positions, w.const("shifted/y", 1, ti)], T=ti)
    taken = w.node("in_partition", "Equal", [positions, rng], T=ti, incompatible_shape_error=True)
    at = w.node("indices", "SelectV2", [taken, shifted, w.const("indices/e", 0, ti)], T=ti)
    nd = w.out.node.add()
    nd.CopyFrom(g)
    del nd.input[:]
    nd.input.extend([rows, at, axis, *_control(g)])
    for a in [a for a in nd.attr if a.startswith("_")]:
        del nd.attr[a]


# -- writing the original ops back --------------------------------------------------------------
def _under(nd, prefix):
    return nd is not None and nd.name.startswith(prefix)


def _helper_const(s, nodes, prefix, value, helpers):
    nd = nodes.get(_parse(s)[0])
    if not _under(nd, prefix) or not _is_const(nodes, s, value):
        return False
    helpers.add(nd.name)
    return True


def _read_first(s, nodes, prefix, shrink, helpers):
    """The tensor that helper ``s`` (``x[0]`` or ``x[0:1]``, as ``_Writer.first`` writes it)
    slices, or ``None``."""
    nd = nodes.get(_parse(s)[0])
    if not _under(nd, prefix) or nd.op != "StridedSlice" or len(_data(nd)) != 4:
        return None
    if any(_attr_i(nd, k) for k in ("begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask")):
        return None
    if _attr_i(nd, "shrink_axis_mask") != int(shrink):
        return None
    for at, (_, v) in zip(_data(nd)[1:], _SLICE):
        c = _const_value(nodes.get(_parse(at)[0]))
        if c is None or c.tolist() != v or not _under(nodes.get(_parse(at)[0]), prefix):
            return None
        helpers.add(_parse(at)[0])
    helpers.add(nd.name)
    return _data(nd)[0]


def _read_partition(nd, nodes):
    """``(data, partitions, dtype, helpers)`` of an ``IdentityN`` that :func:`rewrite` wrote
    for a ``DynamicPartition``, or ``None``."""
    prefix = nd.name + "/"
    outs = _data(nd)
    if nd.op != "IdentityN" or len(outs) < 2:
        return None
    data = partitions = None
    helpers = set()
    for p, s in enumerate(outs):
        sel = nodes.get(_parse(s)[0])
        if not _under(sel, prefix) or sel.op != "SelectV2" or _parse(s)[1]:
            return None
        taken, x, y = _data(sel)
        eq = nodes.get(_parse(taken)[0])
        if not _under(eq, prefix) or eq.op != "Equal" or len(_data(eq)) != 2:
            return None
        if not _helper_const(_data(eq)[1], nodes, prefix, p, helpers):
            return None
        if (data, partitions) != (None, None) and (data, partitions) != (x, _data(eq)[0]):
            return None
        data, partitions = x, _data(eq)[0]
        rows = nodes.get(_parse(y)[0])
        if _under(rows, prefix):  # the number of rows of partition p's variable or tensor
            shape = _read_first(y, nodes, prefix, True, helpers)
            shape_nd = nodes.get(_parse(shape)[0]) if shape is not None else None
            if not _under(shape_nd, prefix) or shape_nd.op not in ("Shape", "VariableShape"):
                return None
            helpers.add(shape_nd.name)
        helpers |= {sel.name, eq.name}
    return data, partitions, sel.attr["T"].type, helpers


def _read_select(x, nodes):
    """``(op type, R's name, range, data, helpers)`` of a ``Select`` that :func:`rewrite` wrote
    for a stitch, or ``None``."""
    kind = rng = r_name = None
    datas, helpers, cur = [], set(), x
    while True:
        if cur.op != "Select" or len(_data(cur)) != 3:
            return None
        cond, dat, rest = _data(cur)
        eq = nodes.get(_parse(cond)[0])
        if eq is None or eq.op != "Equal" or len(_data(eq)) != 2:
            return None
        if kind is None:
            kind = next((k for k in _STITCHES if eq.name.startswith(f"{x.name}/{k}/")), None)
            if kind is None:
                return None
        prefix = f"{x.name}/{kind}/"
        (r, p), at = _parse(_data(eq)[0]), _data(eq)[1]
        if not _under(eq, prefix) or p != len(datas) or (r_name or r) != r or (rng or at) != at:
            return None
        r_name, rng = r, at
        helpers.add(eq.name)
        if cur is not x:
            helpers.add(cur.name)
        datas.append(dat)
        nxt = nodes.get(_parse(rest)[0])
        if _under(nxt, prefix) and nxt.op == "Select":
            cur = nxt
            continue
        datas.append(rest)
        return kind, r_name, rng, datas, helpers


def _read_grad(nd, nodes):
    """``(grad, positions, helpers)`` of a ``GatherV2`` that :func:`rewrite` wrote for the
    gradient of a stitch, or ``None``."""
    prefix = nd.name + "/"
    data = _data(nd)
    if nd.op != "GatherV2" or len(data) != 3:
        return None
    cat, at = (nodes.get(_parse(s)[0]) for s in data[:2])
    helpers = set()
    if not _under(cat, prefix) or cat.op != "ConcatV2" or len(_data(cat)) != 3:
        return None
    zero, grad, axis = _data(cat)
    zero_nd = nodes.get(_parse(zero)[0])
    if not _under(zero_nd, prefix) or zero_nd.op != "ZerosLike":
        return None
    if _read_first(_data(zero_nd)[0], nodes, prefix, False, helpers) != grad:
        return None
    if not _helper_const(axis, nodes, prefix, 0, helpers):
        return None
    if not _under(at, prefix) or at.op != "SelectV2":
        return None
    taken, shifted, zero_i = (nodes.get(_parse(s)[0]) for s in _data(at))
    if not (_under(taken, prefix) and taken.op == "Equal"):
        return None
    if not (_under(shifted, prefix) and shifted.op == "AddV2" and len(_data(shifted)) == 2):
        return None
    positions = _data(shifted)[0]
    if _data(taken)[0] != positions or not _helper_const(
        _data(shifted)[1], nodes, prefix, 1, helpers
    ):
        return None
    if not _helper_const(_data(at)[2], nodes, prefix, 0, helpers):
        return None
    helpers |= {cat.name, zero_nd.name, at.name, taken.name, shifted.name}
    return grad, positions, _data(taken)[1], helpers


def _output(name, p):
    return name if p == 0 else f"{name}:{p}"


def restore(gd):
    """A copy of GraphDef ``gd`` (as tfstyle exports a graph that :func:`rewrite` changed) with
    each rewritten lookup written back as TF's ``DynamicPartition``\\ s, stitch and gradient
    gathers, which TF's kernels need: they reject the rows past the end that mark the ids of
    other partitions. ``gd`` itself if there is none."""
    if not any(n.op == "IdentityN" for n in gd.node):
        return gd  # (the rewrite passes its partitions on by IdentityN)
    nodes = {n.name: n for n in gd.node}
    users = {}  # node name -> names of the nodes that take any of its outputs
    for nd in gd.node:
        for s in nd.input:
            users.setdefault(_parse(s)[0], set()).add(nd.name)
    grads = {}  # R's name -> [(G node, grad, positions, range, helpers)]
    for nd in gd.node:
        if nd.op == "GatherV2" and _under(nodes.get(_parse(nd.input[0])[0]), nd.name + "/"):
            got = _read_grad(nd, nodes)
            if got is not None:
                grads.setdefault(_parse(got[1])[0], []).append((nd, *got))
    back, dropped = {}, set()
    for nd in gd.node:
        if nd.op != "Select":
            continue
        stitch = _read_select(nd, nodes)
        if stitch is None:
            continue
        kind, r_name, rng, datas, helpers = stitch
        n = len(datas)
        gathers = [nodes.get(_parse(s)[0]) for s in datas]
        if any(g is None or g.op not in ("ResourceGather", "GatherV2") for g in gathers):
            continue
        p_name = _parse(gathers[0].input[1])[0]
        if [_parse(g.input[1]) for g in gathers] != [(p_name, p) for p in range(n)]:
            continue
        r_node, p_node = nodes.get(r_name), nodes.get(p_name)
        r_read = _read_partition(r_node, nodes) if r_node is not None else None
        p_read = _read_partition(p_node, nodes) if p_node is not None else None
        if r_read is None or p_read is None or r_read[0] != rng or r_read[1] != p_read[1]:
            continue
        if len(_data(r_node)) != n or len(_data(p_node)) != n:
            continue
        restored = {
            nd.name: ("stitch", kind, r_name, datas, nd),
            p_name: ("partition", p_read, p_node),
            r_name: ("partition", r_read, r_node),
        }
        helpers |= p_read[3] | r_read[3]
        for g, grad, positions, g_rng, g_helpers in grads.get(r_name, []):
            if g_rng != rng:
                continue
            restored[g.name] = ("grad", grad, positions, g)
            helpers |= g_helpers
        if any(users.get(h, set()) - helpers - set(restored) for h in helpers):
            continue
        back.update(restored)
        dropped |= helpers

    def write(new, _node, how):
        if how[0] == "partition":
            (data, partitions, t, _), old = how[1], how[2]
            new.name, new.op, new.device = old.name, "DynamicPartition", old.device
            new.input.extend([data, partitions, *_control(old)])
            new.attr["T"].type = t
            new.attr["num_partitions"].i = len(_data(old))
        elif how[0] == "stitch":
            kind, r_name, datas, old = how[1:]
            new.name, new.op, new.device = old.name, kind, old.device
            new.input.extend([_output(r_name, p) for p in range(len(datas))])
            new.input.extend([*datas, *_control(old)])
            new.attr["N"].i = len(datas)
            new.attr["T"].type = old.attr["T"].type
        else:
            grad, positions, old = how[1:]
            new.CopyFrom(old)
            del new.input[:]
            new.input.extend([grad, positions, _data(old)[2], *_control(old)])

    return sparse_dedup._rebuilt(gd, dropped, back, write)
