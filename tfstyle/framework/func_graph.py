"""Function graphs: the branches of ``tf.cond`` and the condition and body of ``tf.while_loop``.

As in TF 2.x's ``compat.v1`` graph mode, a Python branch or body function is called once, with
a ``FuncGraph`` as the default graph, and the ops it creates live there, not in the enclosing
graph (so they take no names from it). A tensor of an enclosing graph used inside is captured:
it becomes an input of the control-flow op and a placeholder inside. A captured variable handle
becomes a ``VarHandleOp`` with the same ``shared_name``, so that reads and assigns inside are
ordinary variable ops of the function graph. Ops on one variable run in program order, as TF's
automatic control dependencies order them inside functions.
"""

import contextlib
import itertools

from tfstyle.framework import dtypes, ops, tensor_shape
from tfstyle.framework.ops import Graph, Operation, Tensor

# Op ids of function graphs start at distinct offsets, so random ops inside draw their own streams.
_ID_BLOCKS = itertools.count(1)


class FuncGraph(Graph):
    """A graph built by calling a Python function; ``inputs`` and ``outputs`` are its signature."""

    def __init__(self, name, outer_graph):
        super().__init__()
        self.name = name
        self.outer_graph = outer_graph
        self.inputs = []  # placeholders of the function's arguments
        self.outputs = []
        self.captures = []  # (tensor of outer_graph, tensor inside), in capture order
        self.outer_control = []  # ops of outer_graph that ops inside depend on
        self._capture_map = {}
        self._last_resource_op = {}
        self._seed = outer_graph.seed
        self._building_function = True
        self._last_id = next(_ID_BLOCKS) << 32
        self._collections = {k: list(v) for k, v in outer_graph._collections.items()}

    def _can_capture_from(self, graph):
        return graph is self or self.outer_graph._can_capture_from(graph)

    # -- building ----------------------------------------------------------------------------
    def add_input(self, dtype, shape, name="arg"):
        """A placeholder for one argument of the function."""
        with self._isolated():
            t = self.create_op(
                "Placeholder",
                [],
                {"dtype": dtypes.as_dtype(dtype), "shape": tensor_shape.as_shape(shape)},
                name=name,
            )._outputs[0]
        self.inputs.append(t)
        return t

    def capture(self, tensor):
        """The tensor inside this graph standing for ``tensor`` of an enclosing graph."""
        inner = self._capture_map.get(tensor)
        if inner is not None:
            return inner
        if tensor.graph is self:
            return tensor
        if not self._can_capture_from(tensor.graph):
            raise ValueError(
                f"Tensor {tensor.name} must be from the same graph as the op being created."
            )
        outer = tensor
        if tensor.graph is not self.outer_graph:
            outer = self.outer_graph.capture(tensor)
        inner = self._capture_map.get(outer)
        if inner is None:
            handle = ops.variable_handle_op(outer) if outer._dtype is dtypes.resource else None
            base = outer.op.name.rsplit("/", 1)[-1]
            with self._isolated():
                if handle is not None:
                    inner = self.create_op("VarHandleOp", [], dict(handle._attrs), name=base)
                else:
                    attrs = {"dtype": outer.dtype, "shape": outer.shape}
                    inner = self.create_op("Placeholder", [], attrs, name=base)
            inner = inner._outputs[0]
            self.captures.append((outer, inner))
            self._capture_map[outer] = inner
        self._capture_map[tensor] = inner
        return inner

    def captured_source(self, tensor):
        """The enclosing graph's tensor that placeholder ``tensor`` captures, or ``None``."""
        for outer, inner in self.captures:
            if inner is tensor:
                return outer
        return None

    def create_op(self, op_type, inputs, attrs=None, name=None, **kwargs):
        inputs = [self.capture(t) if t.graph is not self else t for t in inputs]
        ctrl = kwargs.pop("control_inputs", None)
        if ctrl:
            ctrl = [c for c in ctrl if self._inner_control(c)]
        op = super().create_op(op_type, inputs, attrs, name=name, control_inputs=ctrl, **kwargs)
        op_def = op._def
        if op_def is not None and (op_def.reads_resource or op_def.writes_resource):
            handle = ops.variable_handle_op(op._inputs[0])
            if handle is not None:
                key = handle._attrs.get("shared_name") or handle.name
                prev = self._last_resource_op.get(key)
                if prev is not None and prev not in op._control_inputs:
                    op._control_inputs.append(prev)
                self._last_resource_op[key] = op
        return op

    def _inner_control(self, op):
        if op._graph is self:
            return True
        if self._can_capture_from(op._graph):
            if op._graph is self.outer_graph:
                if op not in self.outer_control:
                    self.outer_control.append(op)
            else:
                self.outer_graph._inner_control(op)
        return False

    @contextlib.contextmanager
    def control_dependencies(self, control_inputs):
        if control_inputs is None:
            with super().control_dependencies(None):
                yield
            return
        inner = []
        for c in control_inputs:
            conv = getattr(c, "_as_graph_element", None)
            el = conv() if conv is not None else c
            op = el.op if isinstance(el, Tensor) else el
            if isinstance(op, Operation) and op._graph is not self:
                self._inner_control(op)
                continue
            inner.append(c)
        with super().control_dependencies(inner):
            yield

    @contextlib.contextmanager
    def _isolated(self):
        saved = self._name_stack, self._control_stack
        self._name_stack, self._control_stack = "", []
        try:
            yield
        finally:
            self._name_stack, self._control_stack = saved


def outermost_graph(graph=None):
    """The graph that encloses ``graph`` (default: the default graph) and no function graph."""
    g = graph if graph is not None else ops.get_default_graph()
    while isinstance(g, FuncGraph):
        g = g.outer_graph
    return g
