"""The structural half of compilation: prune a graph to what a run needs, order it, and work out
which variable writes each read sees. Pure Python over the graph; no JAX.

Semantics of variables within one run (DESIGN.md): a read sees the value written by the latest
assignment it depends on (through data or control edges); a read that depends on no assignment
sees the value at the start of the run.
"""

from tfstyle.framework import errors
from tfstyle.framework.ops import Operation, Tensor, variable_handle_op, variable_key

_EMPTY = {}


def topological_order(fetch_ops, needed_tensors, fed):
    """Ops needed to compute ``needed_tensors`` and run ``fetch_ops``, inputs first.

    Fed tensors are not computed, so their producers are pruned unless needed otherwise.
    Iterative, so that graphs of long chains don't hit Python's recursion limit.
    """
    order = []
    state = {}  # op -> 1 while on stack, 2 when done
    roots = [t.op for t in needed_tensors if t not in fed] + list(fetch_ops)
    for root in roots:
        if state.get(root) == 2:
            continue
        stack = [(root, False)]
        while stack:
            op, expanded = stack.pop()
            if expanded:
                if state.get(op) != 2:
                    state[op] = 2
                    order.append(op)
                continue
            st = state.get(op)
            if st == 2:
                continue
            if st == 1:
                # Already expanded on the stack: a cycle unless it finishes later.
                continue
            state[op] = 1
            stack.append((op, True))
            for c in reversed(op._control_inputs):
                # An op whose outputs are all fed has nothing left to run (as in TF).
                if state.get(c) != 2 and not (c._outputs and all(o in fed for o in c._outputs)):
                    stack.append((c, False))
            for t in reversed(op._inputs):
                if t not in fed and state.get(t._op) != 2:
                    stack.append((t._op, False))
    return order


class Plan:
    """What one ``(fetches, feeds)`` signature runs, derived once from the graph."""

    __slots__ = (
        "graph",
        "ops",
        "fetches",
        "feeds",
        "handles",
        "sees",
        "initial_reads",
        "written",
        "final_writer",
        "touched",
        "has_random",
        "host_ops",
        "host_feeds",
    )

    def __init__(self, graph, fetches, feeds, host_phase=False):
        self.graph = graph
        self.fetches = fetches  # list of Tensor | Operation
        self.feeds = feeds  # list of Tensor
        fed = set(feeds)
        tensors = [f for f in fetches if isinstance(f, Tensor)]
        fetch_ops = [f for f in fetches if isinstance(f, Operation)]
        self.ops = topological_order(fetch_ops, tensors, fed)
        # With ``host_phase`` (a session's run), host ops with outputs (file reads) and what
        # they need run before the compiled function: ``host_ops`` in order; their outputs
        # (``host_feeds``) are fed to it after ``feeds``.
        self.host_ops = ()
        self.host_feeds = ()
        if host_phase:
            readers = [op for op in self.ops if op._def is not None and op._def.on_host]
            readers = [op for op in readers if op._outputs]
            if readers:
                self._split_host_phase(readers, fetch_ops, tensors, fed)
        self._analyse_state(fed)

    def _split_host_phase(self, readers, fetch_ops, tensors, fed):
        self.host_ops = topological_order(readers, [], fed)
        for op in self.host_ops:
            op_def = op._def
            if op_def is None or op_def.on_host and op._outputs:
                continue
            if (
                op_def.uses_context
                or op_def.reads_resource
                or op_def.writes_resource
                or op_def.resource_effects is not None
                or op_def.on_host
            ):
                raise errors.UnimplementedError(
                    None,
                    op,
                    f"{op.name} ({op.type}) computes an input of an op that runs on the host "
                    "before the compiled run (a checkpoint read); tfstyle computes those inputs "
                    "only from feeds, constants and string ops, not from variables, random "
                    "numbers or control flow",
                )
        self.host_feeds = tuple(t for op in readers for t in op._outputs)
        self.feeds = list(self.feeds) + list(self.host_feeds)
        fed.update(self.host_feeds)
        done = set(readers)
        self.ops = topological_order([op for op in fetch_ops if op not in done], tensors, fed)

    def _analyse_state(self, fed):
        position = {}
        views = {}
        self.handles = {}  # resource-using op -> variable key
        self.sees = {}  # reading op -> writing op whose value it sees, or None
        initial_reads = {}  # var key -> first reading op (for error messages)
        final_writer = {}
        touched = set()
        has_random = False
        for i, op in enumerate(self.ops):
            position[op] = i
            op_def = op._def
            if op_def is not None and op_def.random:
                has_random = True
            # The view of an op: for each variable, the latest write among its ancestors.
            view = _EMPTY
            for t in op._inputs:
                if t not in fed:
                    view = _merge(view, views.get(t._op, _EMPTY), position)
            for c in op._control_inputs:
                view = _merge(view, views.get(c, _EMPTY), position)
            if op_def is not None and (op_def.reads_resource or op_def.writes_resource):
                handle = variable_handle_op(op._inputs[0])
                if handle is None:
                    raise ValueError(f"Op {op.name} does not read a variable handle")
                key = variable_key(handle)
                self.handles[op] = key
                touched.add(key)
                if op_def.reads_resource:
                    writer = view.get(key)
                    self.sees[op] = writer
                    if writer is None:
                        initial_reads.setdefault(key, op)
                if op_def.writes_resource:
                    view = dict(view)
                    view[key] = op
                    final_writer[key] = op
            elif op.type == "VarHandleOp":
                touched.add(variable_key(op))
            effects = op_def.resource_effects if op_def is not None else None
            if effects is not None:
                # An op running sub-graphs: each variable it may read or write is keyed (op, key).
                for key, reads, writes in effects(op):
                    touched.add(key)
                    if reads:
                        self.sees[(op, key)] = view.get(key)
                    if writes:
                        position[(op, key)] = i
                        view = dict(view)
                        view[key] = (op, key)
                        final_writer[key] = (op, key)
            views[op] = view
        self.initial_reads = initial_reads
        self.final_writer = final_writer
        self.written = tuple(sorted(final_writer))
        self.touched = tuple(sorted(touched))
        self.has_random = has_random


def _merge(a, b, position):
    if a is b or not b:
        return a
    if not a:
        return b
    out = dict(a)
    for k, w in b.items():
        cur = out.get(k)
        if cur is None or position[w] > position[cur]:
            out[k] = w
    return out
