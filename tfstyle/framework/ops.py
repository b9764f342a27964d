"""``Graph``, ``Operation`` and ``Tensor``: the TF1 dataflow graph, with TF's naming rules.

Nothing here knows JAX: a graph is plain data that the compiler later lowers.
"""

import contextlib
import re
import threading

from tfstyle.framework import dtypes as _dtypes
from tfstyle.framework import errors, registry
from tfstyle.framework import tensor_shape as _shape

_VALID_OP_NAME = re.compile(r"^[A-Za-z0-9.][A-Za-z0-9_.\\/>-]*$")
_VALID_SCOPE_NAME = re.compile(r"^[A-Za-z0-9_.\\/>-]*$")


class GraphKeys:
    """Standard names for graph collections."""

    GLOBAL_VARIABLES = "variables"
    LOCAL_VARIABLES = "local_variables"
    METRIC_VARIABLES = "metric_variables"
    MODEL_VARIABLES = "model_variables"
    TRAINABLE_VARIABLES = "trainable_variables"
    SUMMARIES = "summaries"
    QUEUE_RUNNERS = "queue_runners"
    TABLE_INITIALIZERS = "table_initializer"
    ASSET_FILEPATHS = "asset_filepaths"
    MOVING_AVERAGE_VARIABLES = "moving_average_variables"
    REGULARIZATION_LOSSES = "regularization_losses"
    CONCATENATED_VARIABLES = "concatenated_variables"
    SAVERS = "savers"
    WEIGHTS = "weights"
    BIASES = "biases"
    ACTIVATIONS = "activations"
    UPDATE_OPS = "update_ops"
    LOSSES = "losses"
    SAVEABLE_OBJECTS = "saveable_objects"
    RESOURCES = "resources"
    LOCAL_RESOURCES = "local_resources"
    TRAINABLE_RESOURCE_VARIABLES = "trainable_resource_variables"
    INIT_OP = "init_op"
    LOCAL_INIT_OP = "local_init_op"
    READY_OP = "ready_op"
    READY_FOR_LOCAL_INIT_OP = "ready_for_local_init_op"
    SUMMARY_OP = "summary_op"
    GLOBAL_STEP = "global_step"
    EVAL_STEP = "eval_step"
    TRAIN_OP = "train_op"
    COND_CONTEXT = "cond_context"
    WHILE_CONTEXT = "while_context"
    VARIABLES = GLOBAL_VARIABLES


class Tensor:
    """A symbolic output of an ``Operation``; ``name`` is ``"<op name>:<index>"``."""

    __slots__ = ("_op", "_value_index", "_dtype", "_shape", "__weakref__")
    # NumPy scalars on the left of an operator defer to the tensor's reflected operator.
    __array_priority__ = 100

    def __init__(self, op, value_index, dtype, shape):
        self._op = op
        self._value_index = value_index
        self._dtype = dtype
        self._shape = shape

    @property
    def op(self):
        return self._op

    @property
    def value_index(self):
        return self._value_index

    @property
    def dtype(self):
        return self._dtype

    @property
    def graph(self):
        return self._op._graph

    @property
    def name(self):
        return f"{self._op._name}:{self._value_index}"

    @property
    def device(self):
        return self._op.device

    @property
    def shape(self):
        return self._shape

    def get_shape(self):
        return self._shape

    def set_shape(self, shape):
        """Refines the static shape; raises ``ValueError`` if incompatible."""
        self._shape = self._shape.merge_with(_shape.as_shape(shape))

    def consumers(self):
        return [op for op in self._op._graph._ops if self in op._inputs]

    def eval(self, feed_dict=None, session=None):
        """Runs the default (or given) session to compute this tensor."""
        from tfstyle.client import session as _session

        return _session.eval_in_session(self, feed_dict, session)

    def _as_graph_element(self):
        return self

    def __repr__(self):
        return f"<tf.Tensor '{self.name}' shape={self.shape} dtype={self.dtype.name}>"

    def __str__(self):
        dev = f", device={self._op._device}" if self._op._device else ""
        return f'Tensor("{self.name}", shape={self.shape}, dtype={self.dtype.name}{dev})'

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        # In graph mode TF compares tensors by identity (``tf.equal`` is the elementwise op).
        return self is other

    def __ne__(self, other):
        return self is not other

    def __bool__(self):
        raise errors.OperatorNotAllowedInGraphError(
            "Using a symbolic `tf.Tensor` as a Python `bool` is not allowed. Use tf.cond or "
            "fetch the value with Session.run."
        )

    def __iter__(self):
        raise errors.OperatorNotAllowedInGraphError(
            "Iterating over a symbolic `tf.Tensor` is not allowed. Use tf.unstack or tf.map_fn."
        )

    def __len__(self):
        raise TypeError(
            f"len is not well defined for a symbolic Tensor ({self.name}). Please call `x.shape` "
            "rather than `len(x)` for shape information."
        )


class RefVariableOutput(Tensor):
    """The output ``w:0`` of an imported TF 1.x ref variable (``framework/ref_variables.py``).

    Inside tfstyle it is the variable's resource handle (``_dtype`` and ``_shape`` are the
    handle's, which the compiler, the plan and the variable ops use); to the user it shows what
    TF 1.x shows: the variable's reference type (``float32_ref``) and the variable's shape.
    """

    __slots__ = ()

    @property
    def dtype(self):
        return self._op._attrs["dtype"]._as_ref

    @property
    def shape(self):
        return _shape.as_shape(self._op._attrs["shape"])

    def get_shape(self):
        return self.shape

    def set_shape(self, shape):
        """Checks ``shape`` against the variable's (a variable's shape does not change)."""
        self.shape.merge_with(_shape.as_shape(shape))


class Operation:
    """A node of the graph: ``type`` is TF's op type name, ``get_attr`` its attributes."""

    __slots__ = (
        "_graph",
        "_name",
        "_type",
        "_inputs",
        "_outputs",
        "_control_inputs",
        "_attrs",
        "_device",
        "_id",
        "_def",
        "__weakref__",
    )

    def __init__(self, graph, name, op_type, inputs, attrs, control_inputs, device, op_def):
        self._graph = graph
        self._name = name
        self._type = op_type
        self._inputs = inputs
        self._attrs = attrs
        self._control_inputs = control_inputs
        self._device = device
        self._def = op_def
        self._outputs = []
        self._id = None

    @property
    def name(self):
        return self._name

    @property
    def type(self):
        return self._type

    @property
    def graph(self):
        return self._graph

    @property
    def inputs(self):
        return tuple(self._inputs)

    @property
    def outputs(self):
        return list(self._outputs)

    def values(self):
        return tuple(self._outputs)

    @property
    def control_inputs(self):
        return list(self._control_inputs)

    @property
    def device(self):
        return self._device or ""

    def _set_device(self, device):
        self._device = device

    @property
    def node_def(self):
        from tfstyle.framework import graph_io

        return graph_io.node_def(self)

    @property
    def op_def(self):
        return self._def

    @property
    def attrs(self):
        return dict(self._attrs)

    def get_attr(self, name):
        try:
            return self._attrs[name]
        except KeyError:
            raise ValueError(f"Operation '{self._name}' has no attr named '{name}'.") from None

    def _set_attr(self, name, value):
        self._attrs[name] = value

    def _add_control_input(self, op):
        if op not in self._control_inputs:
            self._control_inputs.append(op)
            self._graph._version += 1

    def _add_control_inputs(self, ops):
        for op in ops:
            self._add_control_input(op)

    def run(self, feed_dict=None, session=None):
        """Runs this op in the default (or given) session."""
        from tfstyle.client import session as _session

        _session.eval_in_session(self, feed_dict, session)

    def _as_graph_element(self):
        return self

    def __repr__(self):
        return f"<tf.Operation '{self._name}' type={self._type}>"

    def __str__(self):
        ins = "".join(f'\ninput: "{t.op.name}"' for t in self._inputs)
        return f'name: "{self._name}"\nop: "{self._type}"{ins}'


class _ControlDependencies:
    __slots__ = ("control_inputs", "created")

    def __init__(self, control_inputs):
        self.control_inputs = control_inputs
        self.created = set()


class Graph:
    """A TF1 graph: ops, unique names, scopes, collections and the default-graph stack."""

    def __init__(self):
        self._lock = threading.RLock()
        self._ops = []
        self._ops_by_name = {}
        self._names_in_use = {}
        self._name_stack = ""
        self._control_stack = []
        self._device_stack = []
        self._colocation_stack = []
        self._collections = {}
        self._finalized = False
        self._version = 0
        self._seed = None
        self._last_id = 0
        self._building_function = False
        self._gradient_override_map = {}
        # The handles of TF 1.x ref variables imported from a GraphDef -> their ``Variable``:
        # where TF 1.x reads ``w:0`` (a fetch, an op's input), tfstyle reads the variable.
        self._ref_variables = {}

    # -- default graph ---------------------------------------------------------------------
    @contextlib.contextmanager
    def as_default(self):
        """Makes this graph the default graph inside the ``with`` block (nestable)."""
        _default_graph_stack().append(self)
        try:
            yield self
        finally:
            stack = _default_graph_stack()
            if stack and stack[-1] is self:
                stack.pop()
            elif self in stack:
                stack.remove(self)

    # -- properties ------------------------------------------------------------------------
    @property
    def version(self):
        """Changes whenever an existing op changes (adding ops leaves existing runs valid)."""
        return self._version

    @property
    def finalized(self):
        return self._finalized

    @property
    def seed(self):
        return self._seed

    @seed.setter
    def seed(self, seed):
        self._seed = seed

    @property
    def building_function(self):
        return self._building_function

    def finalize(self):
        """Makes the graph read-only: adding an op raises ``RuntimeError``."""
        self._finalized = True

    def _unsafe_unfinalize(self):
        self._finalized = False

    def _check_not_finalized(self):
        if self._finalized:
            raise RuntimeError("Graph is finalized and cannot be modified.")

    # -- names -----------------------------------------------------------------------------
    def get_name_scope(self):
        return self._name_stack

    def unique_name(self, name, mark_as_used=True):
        """Returns ``name`` under the current scope, suffixed ``_N`` if already in use."""
        if self._name_stack:
            name = self._name_stack + "/" + name
        key = name.lower()
        i = self._names_in_use.get(key, 0)
        if mark_as_used:
            self._names_in_use[key] = i + 1
        if i > 0:
            base = key
            while key in self._names_in_use:
                key = f"{base}_{i}"
                i += 1
            if mark_as_used:
                self._names_in_use[key] = 1
            name = f"{name}_{i - 1}"
        return name

    @contextlib.contextmanager
    def name_scope(self, name):
        """Opens name scope ``name`` (made unique); a name ending in ``/`` is used as is."""
        if name:
            if isinstance(name, bytes):
                name = name.decode()
            pattern = _VALID_SCOPE_NAME if self._name_stack else _VALID_OP_NAME
            if not pattern.match(name):
                raise ValueError(
                    f"'{name}' is not a valid scope name. A scope name has to match the following "
                    f"pattern: {pattern.pattern}"
                )
        old = self._name_stack
        if not name:
            new, returned = "", ""
        elif name[-1] == "/":
            new, returned = name[:-1], name
        else:
            new = self.unique_name(name)
            returned = new + "/"
        self._name_stack = new
        try:
            yield returned
        finally:
            self._name_stack = old

    # -- ops -------------------------------------------------------------------------------
    def create_op(
        self,
        op_type,
        inputs,
        attrs=None,
        name=None,
        output_types=None,
        output_shapes=None,
        control_inputs=None,
    ):
        """Adds an op; its outputs' dtypes and shapes come from the op's shape rule.

        ``name`` is made unique in the current scope unless it ends in ``/`` (already unique).
        ``output_types``/``output_shapes`` override the rule (used for ops without one).
        """
        self._check_not_finalized()
        op_def = registry.get(op_type)
        if op_def is None and output_types is None:
            raise KeyError(f"No op registered for type {op_type!r}")
        for t in inputs:
            if not isinstance(t, Tensor):
                raise TypeError(f"Input to {op_type} must be a Tensor, got {type(t).__name__}")
            if t.graph is not self:
                raise ValueError(
                    f"Tensor {t.name} must be from the same graph as the op being created "
                    f"(op type {op_type})."
                )
        with self._lock:
            if name and name[-1] == "/":
                name = name[:-1]
            else:
                name = self.unique_name(name or op_type)
            ctrl = list(control_inputs or [])
            for controller in self._control_stack:
                if controller.control_inputs and not any(
                    t._op in controller.created for t in inputs
                ):
                    ctrl.extend(c for c in controller.control_inputs if c not in ctrl)
            op = Operation(self, name, op_type, list(inputs), dict(attrs or {}), ctrl, None, op_def)
            if output_types is not None:
                shapes = output_shapes or [None] * len(output_types)
                outs = list(zip(output_types, shapes))
            else:
                outs = _infer(op_def, op)
            op._outputs = [
                Tensor(op, i, _dtypes.as_dtype(dt), _to_shape(s)) for i, (dt, s) in enumerate(outs)
            ]
            for controller in self._control_stack:
                controller.created.add(op)
            self._apply_device(op)
            self._add_op(op)
        return op

    def _add_op(self, op):
        if op._name in self._ops_by_name:
            raise ValueError(f"Duplicate node name in graph: '{op._name}'")
        self._last_id += 1
        op._id = self._last_id
        self._ops.append(op)
        self._ops_by_name[op._name] = op

    def _apply_device(self, op):
        device = None
        for d in self._device_stack:
            device = d(op) if callable(d) else d
        if device:
            op._device = canonical_device(device)

    def get_operations(self):
        return list(self._ops)

    def get_operation_by_name(self, name):
        if not isinstance(name, str):
            raise TypeError(f"Operation names are strings (or similar), not {type(name).__name__}.")
        op = self._ops_by_name.get(name)
        if op is None:
            raise KeyError(f"The name {name!r} refers to an Operation not in the graph.")
        return op

    def get_tensor_by_name(self, name):
        if not isinstance(name, str):
            raise TypeError(f"Tensor names are strings (or similar), not {type(name).__name__}.")
        return self.as_graph_element(name, allow_tensor=True, allow_operation=False)

    def as_graph_element(self, obj, allow_tensor=True, allow_operation=True):
        """Resolves a name (``"x:0"`` or ``"x"``), tensor, op or variable to a graph element."""
        if allow_tensor and allow_operation:
            types_str = "Tensor or Operation"
        elif allow_tensor:
            types_str = "Tensor"
        else:
            types_str = "Operation"
        conv = getattr(obj, "_as_graph_element", None)
        if conv is not None and not isinstance(obj, type):
            obj = conv()
        if isinstance(obj, str):
            if ":" in obj and allow_tensor:
                op_name, _, idx = obj.rpartition(":")
                try:
                    idx = int(idx)
                except ValueError:
                    raise ValueError(
                        f"The name {obj!r} looks a like a Tensor name, but is not a valid one. "
                        'Tensor names must be of the form "<op_name>:<output_index>".'
                    ) from None
                op = self._ops_by_name.get(op_name)
                if op is None:
                    raise KeyError(
                        f"The name {obj!r} refers to a Tensor which does not exist. The "
                        f"operation, {op_name!r}, does not exist in the graph."
                    )
                if idx >= len(op._outputs):
                    raise KeyError(
                        f"The name {obj!r} refers to a Tensor which does not exist. The "
                        f"operation, {op_name!r}, exists but only has {len(op._outputs)} outputs."
                    )
                return op._outputs[idx]
            if ":" in obj:
                raise ValueError(f"Name {obj!r} appears to refer to a Tensor, not a {types_str}.")
            if not allow_operation:
                if obj in self._ops_by_name:
                    raise ValueError(
                        f"The name {obj!r} refers to an Operation, not a {types_str}. Tensor "
                        'names must be of the form "<op_name>:<output_index>".'
                    )
                raise KeyError(f"The name {obj!r} refers to a Tensor which does not exist.")
            op = self._ops_by_name.get(obj)
            if op is None:
                raise KeyError(f"The name {obj!r} refers to an Operation not in the graph.")
            return op
        if isinstance(obj, Tensor) and allow_tensor:
            if obj.graph is not self:
                raise ValueError(f"Tensor {obj} is not an element of this graph.")
            return obj
        if isinstance(obj, Operation) and allow_operation:
            if obj._graph is not self:
                raise ValueError(f"Operation {obj} is not an element of this graph.")
            return obj
        raise TypeError(f"Can not convert a {type(obj).__name__} into a {types_str}.")

    def is_feedable(self, tensor):
        return True

    def is_fetchable(self, tensor_or_op):
        return True

    # -- collections -----------------------------------------------------------------------
    def add_to_collection(self, name, value):
        self._collections.setdefault(name, []).append(value)

    def add_to_collections(self, names, value):
        names = (names,) if isinstance(names, str) else set(names)
        for name in names:
            self.add_to_collection(name, value)

    def get_collection_ref(self, name):
        return self._collections.setdefault(name, [])

    def get_collection(self, name, scope=None):
        items = self._collections.get(name)
        if items is None:
            return []
        if scope is None:
            return list(items)
        regex = re.compile(scope)
        return [
            item
            for item in items
            if not hasattr(item, "name") or (item.name and regex.match(item.name))
        ]

    def get_all_collection_keys(self):
        return [k for k in self._collections if isinstance(k, str)]

    def clear_collection(self, name):
        self._collections.pop(name, None)

    @property
    def collections(self):
        return self.get_all_collection_keys()

    # -- control dependencies and devices --------------------------------------------------
    @contextlib.contextmanager
    def control_dependencies(self, control_inputs):
        """Ops created inside run after ``control_inputs``; ``None`` clears the stack."""
        if control_inputs is None:
            saved = self._control_stack
            self._control_stack = []
            try:
                yield
            finally:
                self._control_stack = saved
            return
        ops = []
        for c in control_inputs:
            conv = getattr(c, "_as_graph_element", None)
            if conv is not None:
                c = conv()
            if isinstance(c, Tensor):
                c = c.op
            if not isinstance(c, Operation):
                raise TypeError(f"Control input must be Operation or Tensor: {c}")
            if c._graph is not self:
                raise ValueError(f"Control input {c.name} must be from the same graph.")
            if c not in ops:
                ops.append(c)
        self._control_stack.append(_ControlDependencies(ops))
        try:
            yield
        finally:
            self._control_stack.pop()

    @contextlib.contextmanager
    def device(self, device_name_or_function):
        """Records a device (string or function of the op) on the ops created inside."""
        self._device_stack.append(device_name_or_function)
        try:
            yield
        finally:
            self._device_stack.pop()

    @contextlib.contextmanager
    def colocate_with(self, op, ignore_existing=False):
        yield

    @contextlib.contextmanager
    def gradient_override_map(self, op_type_map):
        saved = dict(self._gradient_override_map)
        self._gradient_override_map.update(op_type_map)
        try:
            yield
        finally:
            self._gradient_override_map = saved

    def as_graph_def(self, from_version=None, add_shapes=False):
        from tfstyle.framework import graph_io

        return graph_io.graph_def(self, add_shapes=add_shapes)

    def _can_capture_from(self, graph):
        """Whether ops of this graph may take tensors of ``graph`` as inputs (a function graph
        captures the tensors of the graphs that enclose it)."""
        return graph is self

    def __contains__(self, name):
        return name in self._ops_by_name


def canonical_device(spec):
    """TF's canonical device string: ``/cpu:0`` -> ``/device:CPU:0``."""
    parts = []
    for part in spec.split("/"):
        low = part.lower()
        if low.startswith(("cpu:", "gpu:", "tpu:")):
            kind, _, idx = part.partition(":")
            part = f"device:{kind.upper()}:{idx}"
        elif low.startswith("device:"):
            _, kind, idx = (part.split(":") + [""])[:3]
            part = f"device:{kind.upper()}:{idx}" if idx else f"device:{kind.upper()}"
        parts.append(part)
    return "/".join(parts)


def _to_shape(s):
    if isinstance(s, _shape.TensorShape):
        return s
    if s is None:
        return _shape.unknown_shape()
    return _shape.TensorShape._from_tuple(tuple(s))


def _infer(op_def, op):
    rule = op_def.infer or _DEFAULT_INFER[0]
    if rule is None:
        raise KeyError(f"Op type {op.type!r} has no shape rule")
    return rule(op)


# The generic shape rule (abstract evaluation of the lowering) lives in the compiler, which is
# allowed to know JAX; it installs itself here.
_DEFAULT_INFER = [None]


def set_default_shape_rule(fn):
    _DEFAULT_INFER[0] = fn


# -- default graph ---------------------------------------------------------------------------
_global_default_graph = [None]
_thread_local = threading.local()


def _default_graph_stack():
    stack = getattr(_thread_local, "graph_stack", None)
    if stack is None:
        stack = _thread_local.graph_stack = []
    return stack


def get_default_graph():
    """Returns the innermost ``as_default`` graph of this thread, else the global one."""
    stack = _default_graph_stack()
    if stack:
        return stack[-1]
    if _global_default_graph[0] is None:
        _global_default_graph[0] = Graph()
    return _global_default_graph[0]


def reset_default_graph():
    """Clears the global default graph; not allowed inside a ``with g.as_default()`` block."""
    if _default_graph_stack():
        raise AssertionError(
            "Do not use tf.reset_default_graph() to clear nested graphs. If you need a cleared "
            "graph, exit the nesting and create a new graph."
        )
    from tfstyle.client import session as _session

    if _session.get_default_session() is not None:
        raise AssertionError(
            "Do not use tf.reset_default_graph() to clear nested graphs. If you need a cleared "
            "graph, exit the nesting and create a new graph."
        )
    _global_default_graph[0] = Graph()


# -- module-level conveniences on the default graph --------------------------------------------
def name_scope(name, default_name=None, values=None):
    """TF1's ``tf.name_scope(name, default_name, values)``."""
    n = name if name is not None else default_name
    if values is not None:
        g = _graph_from_values(values)
        if g is not None and not get_default_graph()._can_capture_from(g):
            return _scope_in_graph(g, n)
    return get_default_graph().name_scope(n)


@contextlib.contextmanager
def _scope_in_graph(g, n):
    with g.as_default(), g.name_scope(n) as scope:
        yield scope


def _graph_from_values(values):
    for v in values:
        conv = getattr(v, "_as_graph_element", None)
        if conv is not None:
            el = conv()
            if isinstance(el, (Tensor, Operation)):
                return el.graph
    return None


def control_dependencies(control_inputs):
    return get_default_graph().control_dependencies(control_inputs)


def device(device_name_or_function):
    return get_default_graph().device(device_name_or_function)


def colocate_with(op, ignore_existing=False):
    return get_default_graph().colocate_with(op, ignore_existing)


def add_to_collection(name, value):
    get_default_graph().add_to_collection(name, value)


def add_to_collections(names, value):
    get_default_graph().add_to_collections(names, value)


def get_collection(key, scope=None):
    return get_default_graph().get_collection(key, scope)


def get_collection_ref(key):
    return get_default_graph().get_collection_ref(key)


def get_name_scope():
    return get_default_graph().get_name_scope()


def op_scope(values, name, default_name=None):
    return name_scope(name, default_name, values)


# -- variables' identity ----------------------------------------------------------------------
def variable_handle_op(tensor):
    """Follows identity-like edges from a resource tensor back to its ``VarHandleOp``."""
    op = tensor.op
    while op.type != "VarHandleOp":
        if not op._inputs:
            return None
        op = op._inputs[0].op
    return op


def variable_key(handle_op):
    """A variable's state key: its ``shared_name`` (TF's variable name without ``:0``)."""
    return handle_op._attrs.get("shared_name") or handle_op.name


# -- conversion to tensors ---------------------------------------------------------------------
_conversion_functions = []  # (base type, fn(value, dtype, name, as_ref) -> Tensor)


def register_tensor_conversion_function(base_type, conversion_func, priority=100):
    _conversion_functions.append((priority, base_type, conversion_func))
    _conversion_functions.sort(key=lambda e: e[0])


def convert_to_tensor(value, dtype=None, name=None, preferred_dtype=None, dtype_hint=None):
    """Converts a tensor, variable, NumPy array or Python value to a ``Tensor``."""
    if dtype is not None:
        dtype = _dtypes.as_dtype(dtype)
    if isinstance(value, Tensor):
        if value._dtype is _dtypes.resource and dtype is not _dtypes.resource:
            variable = value.graph._ref_variables.get(value)
            if variable is not None:
                value = variable.value()
        if dtype is not None and value._dtype != dtype:
            raise ValueError(
                f"Tensor conversion requested dtype {dtype.name} for Tensor with dtype "
                f"{value.dtype.name}: {value!r}"
            )
        return value
    preferred = preferred_dtype or dtype_hint
    for _, base, fn in _conversion_functions:
        if isinstance(value, base):
            if dtype is None and preferred is not None:
                try:
                    return fn(value, _dtypes.as_dtype(preferred), name, False)
                except (TypeError, ValueError):
                    pass
            return fn(value, dtype, name, False)
    raise TypeError(f"Cannot convert {value!r} of type {type(value).__name__} to a Tensor")


def convert_n_to_tensor(values, dtype=None, name=None):
    return [convert_to_tensor(v, dtype=dtype) for v in values]


def is_tensor(x):
    return isinstance(x, Tensor) or hasattr(x, "_as_graph_element")
