"""``tf.gradients`` and ``tf.hessians``: one op whose lowering differentiates the forward graph.

There is no per-op gradient registry. The ``Gradients`` op takes the ``ys`` (and ``grad_ys``) as
inputs; its lowering re-lowers the sub-graph between the ``xs`` and the ``ys`` with the ``xs``
replaced by the arguments of a JAX function (``LoweringContext.evaluate`` with overrides) and
applies ``jax.vjp`` to it. Inside one compiled step XLA removes the duplicated forward work.

Which ``xs`` get ``None`` is decided structurally, as TF does: an ``x`` is connected when a path of
floating-point tensors leads from it to a ``y`` without crossing ``stop_gradients``, a
``StopGradient`` or an op that TF declares not differentiable (``Floor``, ``Shape``, ...).

A variable in ``xs`` is differentiated with respect to the value its reads return: every read of
it in the sub-graph gets ``value + delta`` and the gradient is taken with respect to ``delta`` (so
reads that see different assignments add up, as in TF).

An ``x`` whose gradient reaches it only through gathers along its first axis (``ResourceGather``
of a variable, ``GatherV2`` of a tensor, possibly behind ``Identity``/``ReadVariableOp``/``Cast``)
gets an ``IndexedSlices``, as in TF: the op differentiates with respect to the gathered rows
instead of ``x`` (so the whole of ``x`` is never materialised as a gradient), and the slices are
those rows' gradients with the gathers' indices, concatenated in the order TF's backward pass
reaches the gathers. One dense use of ``x`` makes its gradient dense.

Through a ``tf.cond`` (an ``If`` op capturing ``x``) or a ``tf.switch_case`` (a ``Case``) the
gradient is sparse where a branch's is, as in TF's control flow v2 (``_CondUse``): the slices of
the branch taken, a branch with a dense gradient (or none) giving all rows. The op
differentiates with respect to the rows read by the gathers in the branches and the inputs of
their dense branches, which the ``If``/``Case`` lowering perturbs, and builds
the slices from the indices it records (``CondTaps``, ``_CondSpec``). Through a
``tf.while_loop`` the gradient is dense, as in TF.
"""

import collections

import jax
import jax.numpy as jnp
import numpy as np

from tfstyle.compiler import plan as _plan
from tfstyle.framework import dtypes, ops, registry
from tfstyle.framework import indexed_slices as _ind

from . import _base
from . import variables as _variables

# Op types whose TF gradient is ``None`` for every input (``NotDifferentiable`` or a gradient
# function returning ``None``): a path through them does not connect an ``x`` to a ``y``.
_NOT_DIFFERENTIABLE = frozenset(
    """StopGradient PreventGradient Shape ShapeN Size Rank ZerosLike OnesLike Floor Ceil Round
    Rint FloorDiv TruncateDiv ArgMax ArgMin OneHot RandomUniform RandomStandardNormal
    TruncatedNormal RandomUniformInt Multinomial RandomShuffle StatelessRandomUniform
    StatelessRandomNormal StatelessTruncatedNormal Unique SetSize EditDistance
    BroadcastGradientArgs Const Placeholder VarIsInitializedOp""".split()
)


class UnconnectedGradients:
    """How ``tf.gradients`` reports an ``x`` that the ``ys`` do not depend on."""

    NONE = "none"
    ZERO = "zero"


class AggregationMethod:
    """How TF adds the gradients that reach a tensor from several uses (``tf.AggregationMethod``).

    The gradient here is one ``jax.vjp`` of the whole forward function, so each method gives
    the same sum; the argument is checked as TF checks it."""

    ADD_N = 0
    DEFAULT = ADD_N
    EXPERIMENTAL_TREE = 1
    EXPERIMENTAL_ACCUMULATE_N = 2


def _check_aggregation_method(aggregation_method):
    if aggregation_method is None:
        return
    valid = [
        AggregationMethod.ADD_N,
        AggregationMethod.EXPERIMENTAL_TREE,
        AggregationMethod.EXPERIMENTAL_ACCUMULATE_N,
    ]
    if aggregation_method not in valid:
        raise ValueError(
            f"Invalid `aggregation_method` specified {aggregation_method}. "
            f"Accepted values are {valid}."
        )


def _trainable(t):
    dt = t._dtype.base_dtype
    # Variant tensors (TensorLists) carry floating values through imported loops.
    return dt.is_floating or dt.is_complex or dt is dtypes.variant


def _as_list(x):
    if x is None:
        return []
    return list(x) if isinstance(x, (list, tuple)) else [x]


class _Spec:
    """What the lowering needs to know about one ``tf.gradients`` call (fixed at construction)."""

    __slots__ = ("ys", "n_grad_ys", "grad_ys_index", "entries", "stops", "handles", "conds")

    def __init__(self, ys, grad_ys_index, entries, stops, handles):
        self.conds = None  # _CondSpec: the slices of tf.conds
        self.ys = ys  # floating ys that some x reaches
        self.grad_ys_index = grad_ys_index  # per y: index among the op's grad_ys inputs, or None
        self.n_grad_ys = sum(i is not None for i in grad_ys_index)
        self.entries = entries  # connected xs, in evaluation order: _Entry
        self.stops = stops  # tensors held constant (stop_gradients downstream of an x)
        self.handles = handles  # resource tensors of the variables in xs


class _Entry:
    __slots__ = ("tensor", "var_key", "var_shape", "dtype", "root", "out_index", "input_index")

    def __init__(self, tensor, var_key, var_shape, dtype, root, out_index, input_index):
        self.tensor = tensor  # the x (the handle for a variable)
        self.var_key = var_key  # state key for a variable, else None
        self.var_shape = var_shape
        self.dtype = dtype
        self.root = root  # no other x lies on a differentiable path into this one
        self.out_index = out_index
        self.input_index = input_index  # position of the x among the op's inputs (tensors only)


def _analyse(ys, xs, stop_tensors):
    """Structural connectivity: per x, whether it reaches a y; per tensor x, whether it is a root.

    Masks are bitsets over the xs, propagated once through the ancestors of the ys.
    """
    order = _plan.topological_order([], ys, set())
    bit_of_tensor = {}
    bit_of_handle = {}
    for i, (x, var) in enumerate(xs):
        if var is not None:
            h = ops.variable_handle_op(x)
            bit_of_handle[h] = bit_of_handle.get(h, 0) | (1 << i)
        elif _trainable(x):
            bit_of_tensor[x] = bit_of_tensor.get(x, 0) | (1 << i)
    stop_ops = {t.op for t in stop_tensors}
    mask = {}
    upstream = {}  # tensor x -> mask of the other xs reaching it
    stopped = []  # outputs of stop ops that an x reaches: held constant when differentiating
    for op in order:
        m = 0
        if op._type not in _NOT_DIFFERENTIABLE:
            op_def = op._def
            if op_def is not None and op_def.reads_resource and op._inputs:
                h = ops.variable_handle_op(op._inputs[0])
                m = bit_of_handle.get(h, 0)
            elif op_def is not None and op_def.resource_effects is not None:
                # A control-flow op reads the variables whose handles it captures.
                for t in op._inputs:
                    if t._dtype is dtypes.resource:
                        m |= bit_of_handle.get(ops.variable_handle_op(t), 0)
            for t in op._inputs:
                if t in mask:
                    m |= mask[t]
            if m and op in stop_ops:
                stopped.extend(t for t in op._outputs if t not in bit_of_tensor)
                m = 0
        for t in op._outputs:
            if not _trainable(t):
                continue
            own = bit_of_tensor.get(t, 0)
            if own:
                upstream[t] = m & ~own
            if m | own:
                mask[t] = m | own
    reached = 0
    for y in ys:
        if _trainable(y):
            reached |= mask.get(y, 0)
    return reached, mask, upstream, order, stopped


def _x_pairs(xs):
    """``(tensor, variable)`` per ``x``: a variable is differentiated through its handle."""
    return [
        (x.handle, x)
        if isinstance(x, _variables.Variable)
        else (ops.convert_to_tensor(x, name="x"), None)
        for x in xs
    ]


def gradients(
    ys,
    xs,
    grad_ys=None,
    name="gradients",
    colocate_gradients_with_ops=False,
    gate_gradients=False,
    aggregation_method=None,
    stop_gradients=None,
    unconnected_gradients=UnconnectedGradients.NONE,
):
    """The symbolic derivatives of ``sum(ys)`` with respect to each of ``xs``.

    Returns a list with one tensor per ``x`` (of ``x``'s shape and dtype), or ``None`` where
    ``x`` does not reach any ``y``. ``grad_ys`` weights the ``ys`` (default: ones);
    ``stop_gradients`` are tensors held constant. A variable in ``xs`` is differentiated with
    respect to its value.
    """
    ys = _as_list(ys)
    xs = _as_list(xs)
    stop_gradients = _as_list(stop_gradients)
    if grad_ys is None:
        grad_ys = [None] * len(ys)
    else:
        grad_ys = _as_list(grad_ys)
        if len(grad_ys) != len(ys):
            raise ValueError(f"Length mismatch. Passed {len(grad_ys)} grad_ys for {len(ys)} ys")
    unconnected = getattr(unconnected_gradients, "value", unconnected_gradients)
    if unconnected not in (UnconnectedGradients.NONE, UnconnectedGradients.ZERO):
        raise ValueError(f"Unknown value for unconnected_gradients: {unconnected_gradients!r}")
    _check_aggregation_method(aggregation_method)
    values = list(ys) + list(xs) + list(stop_gradients) + [g for g in grad_ys if g is not None]
    with ops.name_scope(name, "gradients", values) as scope:
        ys = [ops.convert_to_tensor(y, name="y") for y in ys]
        x_pairs = _x_pairs(xs)
        stops = [ops.convert_to_tensor(s) for s in stop_gradients]
        gys = [None if g is None else ops.convert_to_tensor(g, name="grad_y") for g in grad_ys]
        sparse = _sparse_uses(ys, x_pairs, stops)
        if any(sparse):
            # Differentiate with respect to the gathered rows in place of the sparse xs (and,
            # for a tf.cond, compute its slices in the op: ``_CondUse``).
            rows, conds = {}, {}
            for uses in sparse:
                for u in uses or ():
                    if isinstance(u, _CondUse):
                        conds[u] = None
                    else:
                        rows[u[0]._outputs[0]] = None
            pairs = [p for p, uses in zip(x_pairs, sparse) if not uses]
            pairs += [(t, None) for t in rows]
            outs = _build(ys, pairs, gys, stops, scope, "Gradients", conds=list(conds))
            cond_outs = outs[len(pairs) :]
            conds = {u: cond_outs[2 * k : 2 * k + 2] for k, u in enumerate(conds)}
            outs = outs[: len(pairs)]
            dense = iter(outs[: len(outs) - len(rows)])
            rows = dict(zip(rows, outs[len(outs) - len(rows) :]))
            pieces = {}
            results = [
                _indexed_slices(uses, rows, _x_dtype(x, v), pieces, conds) if uses else next(dense)
                for (x, v), uses in zip(x_pairs, sparse)
            ]
        else:
            results = _build(ys, x_pairs, gys, stops, scope, "Gradients")
        if unconnected == UnconnectedGradients.ZERO:
            from .array_ops import zeros

            results = [
                zeros(_x_shape(x, v).as_list(), _x_dtype(x, v)) if r is None else r
                for r, (x, v) in zip(results, x_pairs)
            ]
        return results


# -- sparse gradients ----------------------------------------------------------------------------
# Ops whose gradient hands an ``IndexedSlices`` through unchanged (``Cast`` converts its values).
_PASS_SLICES = frozenset(
    {"Identity", "IdentityN", "Snapshot", "EnsureShape", "ReadVariableOp", "Cast"}
)


def _gathers_rows(op, index):
    """Whether ``op``'s gradient for input ``index`` is an ``IndexedSlices`` (a gather along
    the first axis)."""
    if index != 0 or op._attrs.get("batch_dims", 0) != 0:
        return False
    if op._type == "ResourceGather":
        return True
    if op._type == "GatherV2":
        from .array_ops import _static_axis

        return _static_axis(op._inputs[2]) == 0
    return False


def _sparse_uses(ys, x_pairs, stops):
    """Per x, the uses that carry all of its gradient, in the order TF aggregates them: gathers
    as ``(gather_op, cast_op or None)`` and ``tf.cond``s as ``_CondUse``; ``None`` where the
    gradient is dense or unconnected.

    A tensor's gradient is sparse when it has at least one contribution, the tensor is not a y,
    and every consumer that passes a gradient back is a gather, hands on a sparse gradient or
    is a ``tf.cond`` whose gradient for it is sparse (``_CondUse``).
    """
    candidates = [
        i
        for i, (x, v) in enumerate(x_pairs)
        if (v.dtype.base_dtype if v is not None else x.dtype.base_dtype).is_floating
    ]
    if not candidates:
        return [None] * len(x_pairs)
    uses = _Uses(ys, {t.op for t in stops}, [x for x, _ in x_pairs])
    result = [None] * len(x_pairs)
    for i in candidates:
        x, v = x_pairs[i]
        found = uses.of(ops.variable_handle_op(x) if v is not None else x)
        result[i] = None if found is _DENSE else found
    return result


_DENSE = "dense"
_IF_TYPES = frozenset({"If", "StatelessIf", "Case", "StatelessCase"})


class _Uses:
    """The sparse uses of tensors (or variables, by ``VarHandleOp``) of one graph, for the
    gradient of ``ys``: ``of(key)`` is a list of uses, ``_DENSE``, or ``None`` (no gradient)."""

    def __init__(self, ys, stop_ops, rank_roots):
        self.ys = ys
        self.rank_roots = rank_roots
        self.order = _plan.topological_order([], ys, set())
        self.y_set = {y for y in ys if _trainable(y)}
        live = set(self.y_set)  # tensors with a gradient
        passing = []  # differentiable ops that pass a gradient to their inputs
        for op in reversed(self.order):
            if op._type in _NOT_DIFFERENTIABLE or op in stop_ops:
                continue
            if not any(t in live for t in op._outputs):
                continue
            passing.append(op)
            live.update(t for t in op._inputs if _trainable(t))
        self.live = live
        consumers = collections.defaultdict(list)  # tensor or VarHandleOp -> [(op, index)]
        for op in reversed(passing):
            op_def = op._def
            reads = op_def is not None and (op_def.reads_resource or op_def.resource_effects)
            for j, t in enumerate(op._inputs):
                if t._dtype is dtypes.resource:
                    if reads and (j == 0 or op_def.resource_effects):
                        consumers[ops.variable_handle_op(t)].append((op, j))
                elif t in live:
                    consumers[t].append((op, j))
        self.consumers = consumers
        self.memo = {}
        self.ranks = None  # TF's backward order, computed once if needed

    def of(self, key):
        memo = self.memo
        if key in memo:
            return memo[key]
        memo[key] = _DENSE  # a cycle (never in a graph without loops) is dense
        out = None if key not in self.y_set else _DENSE
        for c, j in self.consumers.get(key, ()) if out is None else ():
            if _gathers_rows(c, j):
                sub = [(c, None)]
            elif c._type in _PASS_SLICES and (c._type != "Cast" or _trainable(c._outputs[0])):
                sub = self.of(c._outputs[j if c._type == "IdentityN" else 0])
                if c._type == "Cast" and sub is not _DENSE and sub:
                    # the cast nearest x names the values
                    sub = [(u[0], c) if isinstance(u, tuple) else u for u in sub]
            elif c._type in _IF_TYPES and j > 0:
                sub = self._cond(c, j)
            else:
                sub = _DENSE
            if sub is _DENSE:
                out = _DENSE
                break
            if sub:
                out = (out or []) + [(c, sub)]
        if out is not None and out is not _DENSE and len(out) > 1:
            if self.ranks is None:
                self.ranks = _backprop_rank(
                    self.ys, [(x, None) for x in self.rank_roots], self.order
                )
            out.sort(key=lambda e: self.ranks.get(e[0], len(self.ranks)))
        if out is not None and out is not _DENSE:
            out = [g for _, sub in out for g in sub]
        memo[key] = out
        return out

    def _cond(self, op, j):
        """The gradient of ``tf.cond`` ``op`` for its input ``j`` (a captured tensor or
        variable): ``[_CondUse]`` where a branch's is sparse, as in TF (whose other branch's
        then counts as all rows), else ``_DENSE`` or ``None``."""
        t = op._inputs[j]
        live_outs = [k for k, o in enumerate(op._outputs) if o in self.live]
        branches = []
        from .control_flow_ops import _subgraphs

        for fg in _subgraphs(op):
            inner = dict(fg.captures).get(t)
            if inner is None or not live_outs:
                branches.append(None)
                continue
            ys = [fg.outputs[k] for k in live_outs]
            uses = _Uses(ys, set(), [inner])
            key = ops.variable_handle_op(inner) if inner._dtype is dtypes.resource else inner
            branches.append(uses.of(key))
        if not any(b is not None and b is not _DENSE for b in branches):
            return _DENSE if _DENSE in branches else None
        use = _CondUse(op, j, branches)
        return [use] if use.static else _DENSE


class _CondUse:
    """The ``IndexedSlices`` gradient of a ``tf.cond`` for its input ``j``.

    ``branches``: per branch, its uses (gathers, nested ``_CondUse``), ``_DENSE`` or ``None``.
    As in TF, the slices are those of the branch taken; a branch with a dense gradient (or
    none) gives all rows (``range(rows)``, zeros where it has none). XLA needs one size for
    both branches: the larger one (``branch_sizes``, from the indices' shapes as the step is
    traced); the smaller one's slices are followed by rows of zeros at index ``rows`` (past the
    last row), which the scatters, the sparse optimizer updates and the conversion to a dense
    tensor drop. ``static``: whether ``x``'s shape is known (else its gradient stays dense).
    """

    def __init__(self, op, j, branches):
        self.op = op
        self.j = j
        self.branches = branches
        t = op._inputs[j]
        if t._dtype is dtypes.resource:
            h = ops.variable_handle_op(t)
            from tfstyle.framework import tensor_shape

            shape = tensor_shape.as_shape(h._attrs.get("shape"))
            self.dtype = dtypes.as_dtype(h._attrs["dtype"])
        else:
            shape, self.dtype = t.shape, t.dtype.base_dtype
        self.static = shape.is_fully_defined() and shape.ndims >= 1
        if not self.static:
            return
        self.dense_shape = shape.as_list()
        index_types = set()
        for b in branches:
            if b is None or b is _DENSE:
                index_types.add(dtypes.int32)
                continue
            for u in b:
                if isinstance(u, _CondUse):
                    if not u.static:
                        self.static = False
                        return
                    index_types.add(u.index_dtype)
                else:
                    index_types.add(u[0]._inputs[1].dtype.base_dtype)
        self.index_dtype = dtypes.int64 if dtypes.int64 in index_types else dtypes.int32
        try:
            sizes = self.branch_sizes(_static_shape)
        except ValueError:  # indices of a size known only when the step runs
            sizes = None
        # The size whichever branch runs, where it is the same and known (TF's static shape).
        self.known = sizes is not None and min(sizes) == max(sizes) and self._nested_known()

    def _nested_known(self):
        return all(
            u.known
            for b in self.branches
            if b is not None and b is not _DENSE
            for u in b
            if isinstance(u, _CondUse)
        )

    def branch_sizes(self, shape_of):
        """The number of slices of each branch, with ``shape_of(tensor)`` the shape of a
        gather's indices."""
        rows = self.dense_shape[0]
        sizes = []
        for b in self.branches:
            if b is None or b is _DENSE:
                sizes.append(rows)
                continue
            size = 0
            for u in b:
                if isinstance(u, _CondUse):
                    size += max(u.branch_sizes(shape_of))
                else:
                    size += int(np.prod(shape_of(u[0]._inputs[1]), dtype=np.int64))
            sizes.append(size)
        return sizes


def _static_shape(t):
    if not t.shape.is_fully_defined():
        raise ValueError(t.name)
    return t.shape.as_list()


class _CondSpec:
    """What the lowering of a ``Gradients`` op needs for the slices of its ``tf.cond``s
    (``uses``): the rows of the gathers in their branches (``deltas``) and the inputs of the
    branches with a dense gradient (``entries``), which it differentiates with respect to, and
    the tensors of the branches whose values it needs (the gathers' indices and the nested
    conds' predicates), which the ``If`` ops return (``owners``, see ``CondTaps``)."""

    def __init__(self, uses):
        self.uses = uses
        deltas, entries, owners, recorded = {}, {}, {}, {}

        def record(t, chain):
            recorded[t] = None
            for op, b in chain:
                owners.setdefault(op, {})[(t, b)] = None

        def visit(u, chain):
            for b, branch in enumerate(u.branches):
                here = chain + [(u.op, b)]
                if branch is _DENSE:
                    entries[(u.op, b, u.j)] = u
                    continue
                for item in branch or ():
                    if isinstance(item, _CondUse):
                        record(item.op._inputs[0], here)
                        visit(item, here)
                    else:
                        gather = item[0]
                        deltas[gather._outputs[0]] = None
                        record(gather._inputs[1], here)

        for u in uses:
            visit(u, [])
        self.deltas = list(deltas)
        self.entries = list(entries.items())  # [((If op, branch, input index), _CondUse)]
        self.owners = {op: list(d) for op, d in owners.items()}
        self.recorded = list(recorded)
        self.preds = [u.op._inputs[0] for u in uses]  # tensors of the outer graph

    def unknown_shapes(self):
        """The tensors whose shapes are known only when the step is traced."""
        return [t for t in self.deltas + self.recorded if not t.shape.is_fully_defined()]

    def primals(self, shapes):
        return (
            tuple(
                jnp.zeros(shapes.get(t) or t.shape.as_list(), t.dtype.as_numpy_dtype)
                for t in self.deltas
            ),
            tuple(jnp.zeros(u.dense_shape, u.dtype.as_numpy_dtype) for _, u in self.entries),
        )

    def slices(self, ctx, row_grads, entry_grads, recorded):
        """(values, indices) of each use, from the gradients of the rows and entries and the
        recorded values, as TF's If gradient makes them (see ``_CondUse``)."""
        rows = dict(zip(self.deltas, row_grads))
        dense = {key: g for (key, _), g in zip(self.entries, entry_grads)}
        outer = dict(zip(self.preds, ctx.evaluate(self.preds)))

        def shape_of(t):
            return np.shape(recorded[t])

        def assemble(u):
            n, rest = u.dense_shape[0], u.dense_shape[1:]
            size = max(u.branch_sizes(shape_of))
            vdt, idt = u.dtype.as_numpy_dtype, u.index_dtype.as_numpy_dtype
            parts = []
            for b, branch in enumerate(u.branches):
                if branch is None or branch is _DENSE:
                    if branch is None:
                        v = jnp.zeros([n, *rest], vdt)
                    else:
                        v = jnp.asarray(dense[(u.op, b, u.j)], vdt)
                    i = jnp.arange(n, dtype=idt)
                else:
                    vs, ids = [], []
                    for item in branch:
                        if isinstance(item, _CondUse):
                            v, i = assemble(item)
                        else:
                            gather = item[0]
                            v = jnp.reshape(rows[gather._outputs[0]], [-1, *rest]).astype(vdt)
                            i = jnp.reshape(recorded[gather._inputs[1]], [-1]).astype(idt)
                        vs.append(v)
                        ids.append(i)
                    v = jnp.concatenate(vs, 0) if len(vs) > 1 else vs[0]
                    i = jnp.concatenate(ids, 0) if len(ids) > 1 else ids[0]
                pad = size - v.shape[0]
                if pad:
                    v = jnp.concatenate([v, jnp.zeros([pad, *rest], vdt)], 0)
                    i = jnp.concatenate([i, jnp.full([pad], n, idt)], 0)
                parts.append((v, i))
            p = outer[u.op._inputs[0]] if u.op._inputs[0] in outer else recorded[u.op._inputs[0]]
            if u.op._type in ("Case", "StatelessCase"):
                # The slices of the branch run: an index out of range runs the last one.
                k = len(parts)
                i = jnp.asarray(p, jnp.int32)
                i = jnp.where((i < 0) | (i >= k), k - 1, i)
                return (
                    jnp.stack([v for v, _ in parts])[i],
                    jnp.stack([ids for _, ids in parts])[i],
                )
            p = jnp.asarray(p, bool)
            return jnp.where(p, parts[0][0], parts[1][0]), jnp.where(p, parts[0][1], parts[1][1])

        out = []
        for u in self.uses:
            out.extend(assemble(u))
        return out


def _backprop_rank(ys, x_pairs, order):
    """The position of each op in TF's backward pass (breadth first from the ys' ops; an op is
    visited once all its consumers between the xs and the ys are): the order in which the
    gradients of a tensor's consumers are aggregated."""
    reached = {x.op for x, _ in x_pairs}
    for op in order:
        if op not in reached and any(t._op in reached for t in op._inputs):
            reached.add(op)
    between = set()
    stack = [y.op for y in ys]
    while stack:
        op = stack.pop()
        if op in reached and op not in between:
            between.add(op)
            stack.extend(t._op for t in op._inputs)
    pending = collections.Counter(t._op for op in between for t in op._inputs if t._op in between)
    queue = collections.deque()
    for y in ys:
        if pending[y.op] == 0 and y.op in reached and y.op not in queue:
            queue.append(y.op)
    rank = {}
    while queue:
        op = queue.popleft()
        rank[op] = len(rank)
        for t in op._inputs:
            pending[t._op] -= 1
            if pending[t._op] == 0:
                queue.append(t._op)
    return rank


def _indexed_slices(uses, row_grads, dtype, pieces, conds):
    """The ``IndexedSlices`` of an x from the gradients of the rows its gathers read and the
    slices of its ``tf.cond``s (``conds``: ``_CondUse`` -> (values, indices) outputs of the op;
    ``pieces`` keeps each use's slices for the other xs that share it)."""
    from . import array_ops

    values, indices, shapes = [], [], []
    for use in uses:
        key = (use if isinstance(use, _CondUse) else use[0], dtype)
        if key in pieces:
            for out, piece in zip((values, indices, shapes), pieces[key]):
                out.append(piece)
            continue
        if isinstance(use, _CondUse):
            v, i = conds[use]
            with ops.name_scope(use.op.name + "_grad"):
                v = array_ops.identity(v, name="Identity")
                i = array_ops.identity(i, name="Identity_1")
                shape = array_ops.constant(use.dense_shape, dtypes.int32, name="Const")
                shape = array_ops.identity(shape, name="Identity_2")
            if v.dtype.base_dtype != dtype:
                with ops.name_scope(use.op.name + "_grad"):
                    v = array_ops.cast(v, dtype, name="Cast")
            pieces[key] = (v, i, shape)
            for out, piece in zip((values, indices, shapes), pieces[key]):
                out.append(piece)
            continue
        gather, cast = use
        grad = row_grads[gather._outputs[0]]
        ids = gather._inputs[1]
        with ops.name_scope(gather.name + "_grad"):
            if gather._type == "ResourceGather":
                var_shape = _variables_shape(gather)
                if var_shape is not None and var_shape.is_fully_defined():
                    dense_shape = array_ops.constant(
                        var_shape.as_list(), dtypes.int32, name="Const"
                    )
                else:
                    read = _variables._read(gather._inputs[0], gather._attrs["dtype"], None, "Read")
                    dense_shape = array_ops.shape(read)
            else:
                dense_shape = array_ops.shape(gather._inputs[0], name="Shape")
            rest = grad.shape[ids.shape.ndims :] if ids.shape.ndims is not None else None
            if rest is not None and rest.is_fully_defined():
                row_shape = [-1] + rest.as_list()
            else:
                row_shape = array_ops.concat(
                    [array_ops.reshape(array_ops.size(ids), [1]), dense_shape[1:]], 0
                )
            v = array_ops.reshape(grad, row_shape, name="Reshape")
            flat_ids = array_ops.reshape(ids, [-1], name="Reshape_1")
        if v.dtype.base_dtype != dtype:
            with ops.name_scope((cast or gather).name + "_grad"):
                v = array_ops.cast(v, dtype, name="Cast")
        pieces[key] = (v, flat_ids, dense_shape)
        for out, piece in zip((values, indices, shapes), pieces[key]):
            out.append(piece)
    if len(values) == 1:
        return _ind.IndexedSlices(values[0], indices[0], shapes[0])
    if len({i.dtype for i in indices}) > 1:
        indices = [array_ops.cast(i, dtypes.int64) for i in indices]
    return _ind.IndexedSlices(
        array_ops.concat(values, 0, name="concat"),
        array_ops.concat(indices, 0, name="concat_1"),
        shapes[0],
    )


def _variables_shape(gather):
    h = ops.variable_handle_op(gather._inputs[0])
    shape = gather._attrs.get("_shape")
    if shape is None and h is not None:
        shape = h._attrs.get("shape")
    from tfstyle.framework import tensor_shape

    return None if shape is None else tensor_shape.as_shape(shape)


def _x_shape(x, var):
    return var.shape if var is not None else x.shape


def _x_dtype(x, var):
    return var.dtype.base_dtype if var is not None else x.dtype


def _build(ys, x_pairs, grad_ys, stops, scope, op_type, name=None, conds=()):
    """Creates the op (named ``name``, by default ``op_type`` in the current name scope); returns
    one output per x (``None`` where unconnected), then the values and indices of the slices of
    each of ``conds`` (``_CondUse``)."""
    n = len(x_pairs)
    results = [None] * n
    if not ys or not (x_pairs or conds):
        return results + [None, None] * len(conds)
    xs_for_analysis = [
        (x, v) if v is None or v.dtype.base_dtype.is_floating else (x, None) for x, v in x_pairs
    ]
    # A cond's input reaches the ys it is on a path to.
    for u in conds:
        t = u.op._inputs[u.j]
        xs_for_analysis.append((t, True if t._dtype is dtypes.resource else None))
    reached, mask, upstream, order, stopped = _analyse(ys, xs_for_analysis, stops)
    if not reached:
        return results + [None, None] * len(conds)
    live_ys = [y for y in ys if _trainable(y) and mask.get(y, 0)]
    grad_ys_inputs, grad_ys_index = [], []
    for y, g in zip(ys, grad_ys):
        if not (_trainable(y) and mask.get(y, 0)):
            continue
        if g is None:
            grad_ys_index.append(None)
        else:
            grad_ys_index.append(len(grad_ys_inputs))
            grad_ys_inputs.append(g)
    # Connected xs, deduplicated; variables first, then tensors inputs-first.
    seen = {}
    var_entries, tensor_entries, tensor_inputs, handles = [], [], [], []
    out_types = []
    position = {op: i for i, op in enumerate(order)}
    for i, (x, var) in enumerate(x_pairs):
        if not (reached >> i) & 1:
            continue
        key = var if var is not None else x
        if key in seen:
            results[i] = seen[key]
            continue
        out_index = len(out_types)
        if var is not None:
            dtype = var.dtype.base_dtype
            out_types.append((dtype, var.shape))
            var_entries.append(
                _Entry(x, ops.variable_key(x.op), var.shape, dtype, True, out_index, None)
            )
            handles.append(x)
        else:
            out_types.append((x.dtype, x.shape))
            # (The conds' inputs only mark what reaches the ys: no x is computed from them.)
            root = not upstream.get(x, 0) & ((1 << n) - 1)
            tensor_entries.append(
                _Entry(x, None, None, x.dtype, root, out_index, len(tensor_inputs))
            )
            tensor_inputs.append(x)
        seen[key] = out_index
        results[i] = out_index
    tensor_entries.sort(key=lambda e: position.get(e.tensor.op, -1))
    spec = _Spec(live_ys, grad_ys_index, var_entries + tensor_entries, stopped, handles)
    if conds:
        spec.conds = _CondSpec(conds)
        for u in conds:
            first = max(u.branch_sizes(_static_shape)) if u.known else None
            out_types.append((u.dtype, [first] + u.dense_shape[1:]))
            out_types.append((u.index_dtype, [first]))
    if op_type == "Hessians":
        out_types = [
            (dt, (shape.concatenate(shape) if shape.ndims is not None else None))
            for dt, shape in out_types
        ]
    op = _base.make_op(
        op_type,
        live_ys + grad_ys_inputs + tensor_inputs,
        {"_spec": spec, "_out_types": out_types},
        name=name or op_type,
        graph=ys[0].graph,
    )
    outs = op._outputs
    n_entries = len(spec.entries)
    return [None if r is None else outs[r] for r in results] + list(outs[n_entries:])


def _infer(op):
    return [(dt, s) for dt, s in op._attrs["_out_types"]]


# -- lowering ----------------------------------------------------------------------------------
class _Differentiable:
    """The forward sub-graph of one ``Gradients``/``Hessians`` op as a function of its xs.

    ``primals()`` are the values at which to differentiate; ``__call__(primals)`` returns the
    floating ys. Used within ``with self:``, which keeps the run's variable writes and reads
    untouched by the re-lowering.
    """

    def __init__(self, ctx, spec, inputs):
        self.ctx = ctx
        self.spec = spec
        ny = len(spec.ys)
        self.y_values = inputs[:ny]
        self.grad_y_values = inputs[ny : ny + spec.n_grad_ys]
        self.x_values = inputs[ny + spec.n_grad_ys :]
        # Values computed outside any differentiation: constants for the function.
        self.stop_values = ctx.evaluate(spec.stops) if spec.stops else []
        self.handle_values = ctx.evaluate(spec.handles) if spec.handles else []
        # The tf.conds whose slices are wanted run again (their predicates are "overridden").
        self.pred_values = ctx.evaluate(spec.conds.preds) if spec.conds is not None else []

    def primals(self):
        out = []
        for e in self.spec.entries:
            if e.var_key is not None:
                out.append(jnp.zeros(e.var_shape.as_list(), e.dtype.as_numpy_dtype))
            elif e.root:
                out.append(self.x_values[e.input_index])
            else:
                out.append(jnp.zeros_like(self.x_values[e.input_index]))
        return tuple(out)

    def cotangents(self):
        out = []
        for v, gi in zip(self.y_values, self.spec.grad_ys_index):
            if gi is None:
                out.append(jnp.ones_like(v))
            else:
                g = jnp.asarray(self.grad_y_values[gi], dtype=jnp.result_type(v))
                out.append(jnp.broadcast_to(g, jnp.shape(v)))
        return tuple(out)

    def with_forward(self, primals):
        """``(ys, values)``: ``__call__``'s ys, and the values it computed of the tensors that
        the run has already computed outside the differentiation (``forward_tensors``): the
        same values, which the run can take from here instead of computing them twice."""
        region = {}
        ys = self(primals, region)
        outer, fed = self.ctx.values, set(self.ctx.plan.feeds)
        self.forward_tensors = [
            t for t, v in region.items()
            if isinstance(v, jax.Array) and isinstance(outer.get(t), jax.Array) and t not in fed
        ]  # fmt: skip
        return ys, [region[t] for t in self.forward_tensors]

    def __call__(self, primals, recomputed=None):
        ctx, spec = self.ctx, self.spec
        overrides = dict(zip(spec.stops, self.stop_values))
        if spec.conds is not None:
            overrides.update(zip(spec.conds.preds, self.pred_values))
        deltas = {}
        for e, p in zip(spec.entries, primals):
            if e.var_key is not None:
                deltas[e.var_key] = p
        for h, hv in zip(spec.handles, self.handle_values):
            # Overriding the handle makes every op that uses it recompute (and read again).
            overrides[h] = hv
        self._deltas = deltas
        for e, p in zip(spec.entries, primals):
            if e.var_key is not None:
                continue
            if e.root:
                overrides[e.tensor] = p
            else:
                # An x computed from other xs: its value plus a zero delta keeps the path from
                # those xs through it (TF gives total derivatives).
                overrides[e.tensor] = ctx.evaluate([e.tensor], overrides)[0] + p
        return tuple(ctx.evaluate(spec.ys, overrides, recomputed))

    # Reads of the differentiated variables return ``value + delta``; reads see the writes made
    # before the differentiation began, never a write recomputed inside it.
    def __enter__(self):
        ctx = self.ctx
        self._written = dict(ctx.written)
        self._patched = ctx.__dict__.get("read_variable")
        self._deltas = {}
        outer_read = ctx.read_variable
        written = self._written
        plan = ctx.plan

        def read_variable(op, key=None):
            writer = plan.sees.get(op if key is None else (op, key))
            if writer is not None:
                value = written[writer]
            else:
                value = outer_read(op) if key is None else outer_read(op, key)
            d = self._deltas.get(ctx.variable_key(op) if key is None else key)
            return value if d is None else value + d

        ctx.read_variable = read_variable
        # Lowerings that reverse mode cannot differentiate as they are (loops of a trip count
        # known only when the step runs) lower differently inside (control_flow_ops).
        ctx.differentiating = getattr(ctx, "differentiating", 0) + 1
        return self

    def __exit__(self, *exc):
        ctx = self.ctx
        ctx.differentiating -= 1
        ctx.written.clear()
        ctx.written.update(self._written)
        if self._patched is None:
            del ctx.read_variable
        else:
            ctx.read_variable = self._patched
        return False


def _gradients_lower(op):
    spec = op._attrs["_spec"]

    def fn(ctx, *inputs):
        with _Differentiable(ctx, spec, inputs) as f:
            if spec.conds is not None:
                return _cond_gradients(ctx, spec, f)
            _, vjp, forward = jax.vjp(f.with_forward, f.primals(), has_aux=True)
            (grads,) = vjp(f.cotangents())
        # The loss a run fetches beside its train op, and the rest of the forward pass that later
        # ops use, are taken from the differentiation's own forward pass: else XLA computes both
        # (it does not merge two loops that compute the same, an RNN's forward scan).
        ctx.values.update(zip(f.forward_tensors, forward))
        return _outputs(spec, grads)

    return fn


def _cond_gradients(ctx, spec, f):
    """The outputs of a ``Gradients`` op with the slices of ``tf.cond``s: the function also
    takes the rows of the gathers in their branches and the inputs of their dense branches,
    which the ``If`` lowerings perturb (``CondTaps``), and returns the values they record."""
    from .control_flow_ops import CondTaps

    conds = spec.conds
    shapes = {}
    unknown = conds.unknown_shapes()
    if unknown:
        # A first pass notes the shapes the branches give them (XLA removes its computation).
        saved = getattr(ctx, "cond_taps", None)
        ctx.cond_taps = CondTaps({}, {}, {}, watch=set(unknown), shapes=shapes)
        try:
            f(f.primals())
        finally:
            ctx.cond_taps = saved

    def g(primals, rows, entries):
        taps = CondTaps(
            dict(zip(conds.deltas, rows)),
            {key: e for (key, _), e in zip(conds.entries, entries)},
            conds.owners,
            shapes=shapes,
        )
        saved = getattr(ctx, "cond_taps", None)
        ctx.cond_taps = taps
        try:
            ys = f(primals)
        finally:
            ctx.cond_taps = saved
        return ys, tuple(taps.values[t] for t in conds.recorded)

    rows, entries = conds.primals(shapes)
    _, vjp, recorded = jax.vjp(g, f.primals(), rows, entries, has_aux=True)
    grads, row_grads, entry_grads = vjp(f.cotangents())
    recorded = dict(zip(conds.recorded, recorded))
    ordered = [None] * len(spec.entries)
    for e, v in zip(spec.entries, grads):
        ordered[e.out_index] = v
    return tuple(ordered) + tuple(conds.slices(ctx, row_grads, entry_grads, recorded))


def _hessians_lower(op):
    spec = op._attrs["_spec"]

    def fn(ctx, *inputs):
        with _Differentiable(ctx, spec, inputs) as f:
            primals = f.primals()
            cot = f.cotangents()

            def grad(ps):
                return jax.vjp(f, ps)[1](cot)[0]

            out = []
            for i, p in enumerate(primals):

                def grad_i(pi, i=i):
                    return grad(primals[:i] + (pi,) + primals[i + 1 :])[i]

                out.append(jax.jacfwd(grad_i)(p))
        return _outputs(spec, out)

    return fn


def _outputs(spec, values):
    ordered = [None] * len(spec.entries)
    for e, v in zip(spec.entries, values):
        ordered[e.out_index] = v
    return ordered[0] if len(ordered) == 1 else tuple(ordered)


for _type, _lower in (("Gradients", _gradients_lower), ("Hessians", _hessians_lower)):
    registry.register_op(_type, _infer)
    registry.lowering(_type, uses_context=True)(_lower)
registry.get("Gradients").gives_earlier_values = True


def hessians(
    ys,
    xs,
    name="hessians",
    colocate_gradients_with_ops=False,
    gate_gradients=False,
    aggregation_method=None,
):
    """The Hessian of ``sum(ys)`` with respect to each ``x``: a tensor of shape
    ``x.shape + x.shape`` per ``x`` (``None`` where unconnected)."""
    ys = _as_list(ys)
    xs = _as_list(xs)
    _check_aggregation_method(aggregation_method)
    with ops.name_scope(name, "hessians", ys + xs) as scope:
        ys = [ops.convert_to_tensor(y, name="y") for y in ys]
        return _build(ys, _x_pairs(xs), [None] * len(ys), [], scope, "Hessians")
