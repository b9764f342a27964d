"""``tf.Variable``: resource variables whose values live in the session's state.

The ops are TF's resource-variable ops (``VarHandleOp``, ``ReadVariableOp``,
``AssignVariableOp`` ...) with TF 2.x ``compat.v1`` naming: ``v/Initializer/initial_value``,
``v/Assign``, ``v/Read/ReadVariableOp``. A variable's state key is its name without ``:0``.
"""

import contextlib

import jax.numpy as jnp
import numpy as np

from tfstyle.framework import dtypes, ops, registry
from tfstyle.framework import tensor_shape as _shape
from tfstyle.framework.ops import GraphKeys, Tensor

from . import _base

# -- ops ---------------------------------------------------------------------------------------
_base.register_simple(
    "VarHandleOp", lambda op: [(dtypes.resource, ())], lambda op: lambda: op._attrs["shared_name"]
)
_base.register_simple("VarIsInitializedOp", lambda op: [(dtypes.bool, ())], None)
# TF's saver marks the variables it reads (a hint to TF's runtime about copies): nothing to do.
_base.register_simple("DisableCopyOnRead", lambda op: [], lambda op: lambda handle: None)


@registry.lowering("VarIsInitializedOp", uses_context=True)
def _is_initialized_lower(op):
    def fn(ctx, handle):
        return np.bool_(ctx.is_initialized(handle))

    return fn


registry.get("ReadVariableOp") or registry.register_op("ReadVariableOp")


def _read_infer(op):
    shape = op._attrs.get("_shape")
    if shape is None:
        # An imported ReadVariableOp (GraphDef) has no tfstyle shape: take its handle's.
        handle = op._inputs[0].op
        shape = handle._attrs.get("shape") if handle.type == "VarHandleOp" else None
    return [(op._attrs["dtype"], shape)]


registry.get("ReadVariableOp").infer = _read_infer


@registry.lowering("ReadVariableOp", uses_context=True, reads_resource=True)
def _read_lower(op):
    def fn(ctx, handle):
        return ctx.read_variable(op)

    return fn


def _variable_shape_infer(op):
    handle = op._inputs[0].op
    shape = handle._attrs.get("shape") if handle.type == "VarHandleOp" else None
    rank = None if shape is None else _shape.as_shape(shape).ndims
    return [(op._attrs.get("out_type", dtypes.int32), None if rank is None else (rank,))]


registry.register_op("VariableShape", _variable_shape_infer)


# The shape of the value a read would see (static under jit); TF's gradient graphs use it.
@registry.lowering("VariableShape", uses_context=True, reads_resource=True)
def _variable_shape_lower(op):
    dt = np.dtype(op._attrs.get("out_type", dtypes.int32).as_numpy_dtype)

    def fn(ctx, handle):
        return np.asarray(np.shape(ctx.read_variable(op)), dt)

    return fn


def _assign_lower_factory(combine):
    def factory(op):
        dt = op._inputs[1].dtype.as_numpy_dtype

        def fn(ctx, handle, value):
            if combine is not None:
                value = combine(ctx.read_variable(op), value)
            ctx.write_variable(op, jnp.asarray(value, dtype=dt))

        return fn

    return factory


for _type, _combine in (
    ("AssignVariableOp", None),
    ("AssignAddVariableOp", jnp.add),
    ("AssignSubVariableOp", jnp.subtract),
):
    registry.register_op(_type, lambda op: [])
    registry.lowering(
        _type,
        uses_context=True,
        reads_resource=_combine is not None,
        writes_resource=True,
    )(_assign_lower_factory(_combine))


def _read(handle, dtype, shape, name):
    return _base.output("ReadVariableOp", [handle], {"dtype": dtype, "_shape": shape}, name=name)


# -- Variable ----------------------------------------------------------------------------------
@contextlib.contextmanager
def init_scope():
    """A context that lifts op creation out of control dependencies (``tf.init_scope``).

    The name scope is kept; ops created inside run without the enclosing control inputs, and
    inside a ``cond`` branch or loop body they go to the outermost graph (so a variable created
    there is an ordinary global variable, as in TF).
    """
    from tfstyle.framework.func_graph import outermost_graph

    graph = ops.get_default_graph()
    scope = graph.get_name_scope()
    outer = outermost_graph(graph)
    with (
        outer.as_default(),
        outer.name_scope(scope + "/" if scope else ""),
        outer.control_dependencies(None),
    ):
        yield


class Variable:
    """A TF1 variable: ``tf.Variable(initial_value, trainable=True, name=None, dtype=None, ...)``.

    ``initial_value`` may be a tensor, a Python/NumPy value, or a callable returning one (called
    inside the ``<name>/Initializer`` name scope). The variable lives in the session's state; its
    ops are ``<name>`` (``VarHandleOp``), ``<name>/Assign`` (its ``initializer``) and
    ``<name>/Read/ReadVariableOp`` (what ``sess.run(v)`` fetches).
    """

    # NumPy scalars on the left of an operator defer to the variable's reflected operator.
    __array_priority__ = 100

    def __init__(
        self,
        initial_value=None,
        trainable=None,
        collections=None,
        validate_shape=True,
        caching_device=None,
        name=None,
        variable_def=None,
        dtype=None,
        expected_shape=None,
        import_scope=None,
        constraint=None,
        use_resource=None,
        synchronization=None,
        aggregation=None,
        shape=None,
    ):
        if initial_value is None:
            raise ValueError(
                "The `initial_value` arg to `tf.Variable` must be specified except when you are "
                "not providing a `variable_def`. You provided neither."
            )
        if trainable is None:
            trainable = True
        if collections is None:
            collections = [GraphKeys.GLOBAL_VARIABLES]
        if not isinstance(collections, (list, tuple, set)):
            raise ValueError(
                "collections argument to Variable constructor must be a list, tuple, or set. "
                f"Got {collections} of type {type(collections)}"
            )
        if constraint is not None and not callable(constraint):
            raise ValueError(
                f"Argument `constraint` must be None or a callable. a callable. Got a "
                f"{type(constraint)}:  {constraint}"
            )
        collections = list(collections)
        if trainable and GraphKeys.TRAINABLE_VARIABLES not in collections:
            collections.append(GraphKeys.TRAINABLE_VARIABLES)
        init_from_fn = callable(initial_value)
        with (
            init_scope(),
            ops.name_scope(name, "Variable", [] if init_from_fn else [initial_value]) as scope,
        ):
            graph = ops.get_default_graph()
            handle_name = scope[:-1]
            with graph.name_scope("Initializer"):
                if init_from_fn:
                    initial_value = initial_value()
                try:
                    init = ops.convert_to_tensor(initial_value, dtype=dtype, name="initial_value")
                except ValueError as e:
                    raise ValueError(f"initial_value: {e}") from None
            if shape is not None:
                shape = _shape.as_shape(shape)
                if not init.shape.is_compatible_with(shape):
                    raise ValueError(
                        f"In this `tf.Variable` creation, the initial value's shape ({init.shape})"
                        f" is not compatible with the explicitly supplied `shape` argument "
                        f"({shape})."
                    )
            else:
                shape = init.shape
            self._dtype = init.dtype
            self._shape = shape
            self._handle = _base.output(
                "VarHandleOp",
                [],
                {
                    "dtype": self._dtype,
                    "shape": shape,
                    "shared_name": handle_name,
                    "debug_name": scope,
                    "container": "",
                    "allowed_devices": [],
                },
                name=scope,
                graph=graph,
            )
            with graph.name_scope("IsInitialized"):
                self._is_initialized_op = _base.output(
                    "VarIsInitializedOp", [self._handle], {}, name="VarIsInitializedOp"
                )
            with graph.name_scope("Assign") as assign_scope:
                self._initializer_op = _base.make_op(
                    "AssignVariableOp",
                    [self._handle, init],
                    {"dtype": self._dtype, "validate_shape": False},
                    name=assign_scope,
                )
            with graph.name_scope("Read"):
                self._graph_element = _read(self._handle, self._dtype, shape, "ReadVariableOp")
        self._initial_value = init
        self._trainable = trainable
        self._constraint = constraint
        self._validate_shape = validate_shape
        self._caching_device = caching_device
        self._save_slice_info = None
        graph.add_to_collections(collections, self)

    # -- identity ----------------------------------------------------------------------------
    @property
    def name(self):
        return self._handle.name

    @property
    def op(self):
        return self._handle.op

    @property
    def handle(self):
        return self._handle

    @property
    def graph(self):
        return self._handle.graph

    @property
    def dtype(self):
        return self._dtype

    @property
    def shape(self):
        return self._shape

    def get_shape(self):
        return self._shape

    @property
    def device(self):
        return self._handle.device

    @property
    def trainable(self):
        return self._trainable

    @property
    def constraint(self):
        return self._constraint

    @property
    def initializer(self):
        """The op that assigns the initial value (``<name>/Assign``)."""
        return self._initializer_op

    @property
    def initial_value(self):
        return self._initial_value

    @property
    def _shared_name(self):
        return self._handle.op.get_attr("shared_name")

    class SaveSliceInfo:
        """Where a part of a partitioned variable lies in the full variable: the full variable's
        name and shape, this part's offset and shape. ``Saver`` writes the part as the slice
        ``spec`` of the checkpoint entry ``full_name``."""

        def __init__(
            self,
            full_name=None,
            full_shape=None,
            var_offset=None,
            var_shape=None,
            save_slice_info_def=None,
            import_scope=None,
        ):
            if save_slice_info_def is not None:
                full_name = save_slice_info_def.full_name
                if import_scope:
                    full_name = import_scope.rstrip("/") + "/" + full_name
                full_shape = list(save_slice_info_def.full_shape)
                var_offset = list(save_slice_info_def.var_offset)
                var_shape = list(save_slice_info_def.var_shape)
            self.full_name = full_name
            self.full_shape = full_shape
            self.var_offset = var_offset
            self.var_shape = var_shape

        @property
        def spec(self):
            """TF's slice spec: ``"10 4 0,5:0,4"`` (full shape, then ``offset,length`` per axis)."""
            dims = " ".join(str(d) for d in self.full_shape)
            return (
                dims + " " + ":".join(f"{o},{n}" for o, n in zip(self.var_offset, self.var_shape))
            )

        def to_proto(self, export_scope=None):
            from tensorboard.compat.proto import variable_pb2

            name = self.full_name
            if export_scope:
                prefix = export_scope.rstrip("/") + "/"
                if not name.startswith(prefix):
                    return None
                name = name[len(prefix) :]
            d = variable_pb2.SaveSliceInfoDef(full_name=name)
            d.full_shape.extend(self.full_shape)
            d.var_offset.extend(self.var_offset)
            d.var_shape.extend(self.var_shape)
            return d

    def _set_save_slice_info(self, save_slice_info):
        self._save_slice_info = save_slice_info

    def _get_save_slice_info(self):
        return self._save_slice_info

    def _as_graph_element(self):
        return self._graph_element

    def __repr__(self):
        return f"<tf.Variable '{self.name}' shape={self._shape} dtype={self._dtype.name}>"

    def __hash__(self):
        return id(self)

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    # -- reading -----------------------------------------------------------------------------
    def value(self):
        """A new read of the variable in the current scope (``ReadVariableOp``)."""
        return _read(self._handle, self._dtype, self._shape, "ReadVariableOp")

    def read_value(self):
        """The variable's value, read after the control dependencies in scope."""
        from .array_ops import identity

        with ops.name_scope("Read"):
            v = self.value()
        return identity(v)

    def sparse_read(self, indices, name=None):
        """The rows of the variable at ``indices`` (``ResourceGather``): what ``tf.gather`` and
        ``tf.nn.embedding_lookup`` read, so that the gradient is an ``IndexedSlices``."""
        from .array_ops import resource_gather

        return resource_gather(self, indices, name)

    def is_initialized(self, name=None):
        """A bool tensor: whether the variable is initialized in the running session."""
        return _base.output(
            "VarIsInitializedOp", [self._handle], {}, name=name or "VarIsInitializedOp"
        )

    def initialized_value(self):
        """The variable's value once initialized: its value if it is, else its initial value.

        Use it to initialize a variable from another one regardless of initialization order.
        """
        from .control_flow_ops import cond

        with init_scope():
            return cond(is_variable_initialized(self), self.read_value, lambda: self.initial_value)

    def eval(self, session=None):
        """The variable's value in ``session`` (or the default session)."""
        from tfstyle.client import session as _session

        return _session.eval_in_session(self._graph_element, None, session)

    def load(self, value, session=None):
        """Writes ``value`` into the variable in ``session`` (or the default session)."""
        from tfstyle.client import session as _session

        if session is None:
            session = _session.get_default_session()
            if session is None:
                raise ValueError(
                    "Either session argument should be provided or default session should be "
                    "established"
                )
        session.run(self._initializer_op, {self._initializer_op.inputs[1]: value})

    def to_proto(self, export_scope=None):
        from tfstyle.framework import graph_io

        return graph_io.variable_def(self)

    # -- writing -----------------------------------------------------------------------------
    def _assign_op(self, op_type, value, name, read_value):
        graph = self._handle.graph
        if ops.get_default_graph()._can_capture_from(graph):
            graph = ops.get_default_graph()  # inside a cond/while function graph
        with graph.as_default():
            v = ops.convert_to_tensor(value, dtype=self._dtype)
            attrs = {"dtype": self._dtype}
            if op_type == "AssignVariableOp":
                if not self._shape.is_compatible_with(v.shape):
                    raise ValueError(
                        f"Cannot assign value to variable ' {self.name}': Shape mismatch.The "
                        f"variable shape {self._shape}, and the assigned value shape {v.shape} "
                        "are incompatible."
                    )
                attrs["validate_shape"] = self._validate_shape and self._shape.is_fully_defined()
            else:
                _check_update_shape(self._shape, v.shape, op_type)
            op = _base.make_op(op_type, [self._handle, v], attrs, name=name or op_type)
        if read_value:
            return _UnreadVariable(self, op)
        return op

    def assign(self, value, use_locking=None, name=None, read_value=True):
        """Assigns ``value``; returns the new value (an op with ``read_value=False``)."""
        return self._assign_op("AssignVariableOp", value, name, read_value)

    def assign_add(self, delta, use_locking=None, name=None, read_value=True):
        """Adds ``delta``; returns the new value (an op with ``read_value=False``)."""
        return self._assign_op("AssignAddVariableOp", delta, name, read_value)

    def assign_sub(self, delta, use_locking=None, name=None, read_value=True):
        """Subtracts ``delta``; returns the new value (an op with ``read_value=False``)."""
        return self._assign_op("AssignSubVariableOp", delta, name, read_value)

    def _scatter(self, fn, sparse_delta, name):
        from tfstyle.framework.indexed_slices import IndexedSlices

        if not isinstance(sparse_delta, IndexedSlices):
            raise TypeError(
                f"Argument `sparse_delta` must be a `tf.IndexedSlices`. Received arg: {sparse_delta}"
            )
        return fn(self, sparse_delta.indices, sparse_delta.values, name=name)

    def scatter_update(self, sparse_delta, use_locking=False, name=None):
        """Sets the rows of an ``IndexedSlices`` (``ResourceScatterUpdate``)."""
        from . import state_ops

        return self._scatter(state_ops.scatter_update, sparse_delta, name)

    def scatter_add(self, sparse_delta, use_locking=False, name=None):
        """Adds the rows of an ``IndexedSlices`` (``ResourceScatterAdd``)."""
        from . import state_ops

        return self._scatter(state_ops.scatter_add, sparse_delta, name)

    def scatter_sub(self, sparse_delta, use_locking=False, name=None):
        from . import state_ops

        return self._scatter(state_ops.scatter_sub, sparse_delta, name)

    def scatter_mul(self, sparse_delta, use_locking=False, name=None):
        from . import state_ops

        return self._scatter(state_ops.scatter_mul, sparse_delta, name)

    def scatter_div(self, sparse_delta, use_locking=False, name=None):
        from . import state_ops

        return self._scatter(state_ops.scatter_div, sparse_delta, name)

    def scatter_max(self, sparse_delta, use_locking=False, name=None):
        from . import state_ops

        return self._scatter(state_ops.scatter_max, sparse_delta, name)

    def scatter_min(self, sparse_delta, use_locking=False, name=None):
        from . import state_ops

        return self._scatter(state_ops.scatter_min, sparse_delta, name)

    def set_shape(self, shape):
        self._shape = self._shape.merge_with(shape)

    def count_up_to(self, limit):
        raise NotImplementedError("count_up_to is deprecated and not supported")

    # -- operators: a variable reads itself then behaves like a tensor -------------------------
    def __getitem__(self, item):
        return self.value()[item]

    def _inplace(self, *_):
        raise RuntimeError(
            "`variable += value` with `tf.Variable`s is not supported. Use "
            "`variable.assign_add(value)` to modify the variable, or `out = variable + value` if "
            "you need to get a new output Tensor."
        )

    __iadd__ = __isub__ = __imul__ = __idiv__ = __itruediv__ = __ipow__ = _inplace


def _check_update_shape(var_shape, value_shape, op_type):
    a, b = var_shape._dims, value_shape._dims
    if a is None or b is None:
        return
    if len(a) != len(b):
        raise ValueError(
            f"Shapes must be equal rank, but are {len(a)} and {len(b)} for '{{{{node {op_type}}}}}'"
            f" with input shapes: {var_shape}, {value_shape}."
        )
    for i, (x, y) in enumerate(zip(a, b)):
        if x is not None and y is not None and x != y:
            raise ValueError(
                f"Dimension {i} in both shapes must be equal, but are {x} and {y} for "
                f"'{{{{node {op_type}}}}}' with input shapes: {var_shape}, {value_shape}."
            )


class _UnreadVariable(Variable):
    """What ``assign`` returns: the variable's value after the assignment ``op``.

    Fetching it or using it as a tensor reads the variable after ``op``; its ``name`` and ``op``
    are the assignment's; further ``assign*`` calls are ordered after it.
    """

    def __init__(self, var, parent_op):  # noqa: D107 - no new ops but the read after parent_op
        self._handle = var._handle
        self._dtype = var._dtype
        self._shape = var._shape
        self._initial_value = var._initial_value
        self._initializer_op = var._initializer_op
        self._is_initialized_op = var._is_initialized_op
        self._trainable = var._trainable
        self._constraint = var._constraint
        self._validate_shape = var._validate_shape
        self._caching_device = var._caching_device
        self._save_slice_info = None
        self._parent_op = parent_op
        with parent_op.graph.as_default(), ops.control_dependencies([parent_op]):
            self._graph_element = _read(self._handle, self._dtype, self._shape, "ReadVariableOp")

    @property
    def name(self):
        return self._parent_op.name

    @property
    def op(self):
        return self._parent_op

    def value(self):
        with ops.control_dependencies([self._parent_op]):
            return _read(self._handle, self._dtype, self._shape, "ReadVariableOp")

    read_value = value

    def _assign_op(self, op_type, value, name, read_value):
        with ops.control_dependencies([self._parent_op]):
            return super()._assign_op(op_type, value, name, read_value)


def _variable_to_tensor(v, dtype=None, name=None, as_ref=False):
    t = v.value()
    if dtype is not None and dtypes.as_dtype(dtype) != t.dtype:
        raise ValueError(
            f"Incompatible type conversion requested to type {dtypes.as_dtype(dtype).name} for "
            f"`tf.Variable of type {t.dtype.name}. (Variable: {v!r})"
        )
    return t


ops.register_tensor_conversion_function(Variable, _variable_to_tensor, priority=50)


class PartitionedVariable:
    """A variable cut into parts along one axis (``get_variable(..., partitioner=...)``).

    The parts are ordinary variables ``<name>/part_<i>`` (what the collections, optimizers and
    savers see); used as a tensor it is their concatenation, ``<name>/ConcatPartitions/concat``.
    """

    def __init__(self, name, shape, dtype, variable_list, partitions):
        if not isinstance(variable_list, (list, tuple)):
            raise TypeError(f"variable_list is not a list or tuple: {variable_list}")
        if not isinstance(partitions, (list, tuple)):
            raise TypeError(f"partitions is not a list or tuple: {partitions}")
        if not all(p >= 1 for p in partitions):
            raise ValueError(f"partition values must be positive: {partitions}")
        if not variable_list:
            raise ValueError("variable_list may not be empty")
        if any(v._get_save_slice_info() is None for v in variable_list):
            raise ValueError(
                "All variables must have a save_slice_info available: "
                f"{[v.name for v in variable_list]}"
            )
        if len(shape) != len(partitions):
            raise ValueError(f"len(shape) != len(partitions): {shape} vs. {partitions}")
        for v in variable_list:
            if v._get_save_slice_info().full_shape != _shape.as_shape(shape).as_list():
                raise ValueError(
                    f"All variables' full shapes must match shape: {shape}; but full shapes "
                    f"were: {[v._get_save_slice_info().full_shape]}"
                )
        self._variable_list = sorted(
            variable_list, key=lambda v: v._get_save_slice_info().var_offset
        )
        self._name = name
        self._shape = _shape.as_shape(shape)
        self._dtype = dtypes.as_dtype(dtype)
        self._partitions = list(partitions)

    def __iter__(self):
        return iter(self._variable_list)

    def __len__(self):
        axes = self._partition_axes()
        if len(axes) > 1:
            raise ValueError(f"Cannot get a length for {len(axes)} > 1 partition axes")
        return len(self._variable_list)

    def __repr__(self):
        return (
            f"<tf.PartitionedVariable '{self._name}' shape={self._shape} "
            f"dtype={self._dtype.name} parts={len(self._variable_list)}>"
        )

    def _partition_axes(self):
        if all(p == 1 for p in self._partitions):
            return [0]
        return [i for i, p in enumerate(self._partitions) if p > 1]

    def _concat(self):
        """The full value, a new ``ConcatV2`` of the parts' reads under the current control
        dependencies; the result is named ``<name>`` outside every name scope, as in TF."""
        from .array_ops import concat, identity

        if len(self._variable_list) == 1:
            with ops.name_scope(None):
                return identity(self._variable_list[0], name=self._name)
        axes = self._partition_axes()
        if len(axes) > 1:
            raise NotImplementedError(
                f"Cannot concatenate along more than one dimension: {axes}.  Multi-axis "
                "partition concat is not supported"
            )
        with ops.name_scope(self._name + "/ConcatPartitions/"):
            value = concat(self._variable_list, axes[0])
        with ops.name_scope(None):
            return identity(value, name=self._name)

    def as_tensor(self):
        """The full value, without the control dependencies in scope (like a variable read)."""
        with ops.control_dependencies(None):
            return self._concat()

    @property
    def name(self):
        return self._name

    @property
    def dtype(self):
        return self._dtype

    @property
    def shape(self):
        return self._shape

    def get_shape(self):
        return self._shape

    @property
    def graph(self):
        return self._variable_list[0].graph

    def _get_variable_list(self):
        return self._variable_list

    def _get_partitions(self):
        return self._partitions

    def _apply_assign_fn(self, assign_fn, value):
        from .array_ops import split

        axes = self._partition_axes()
        if len(axes) > 1:
            raise NotImplementedError(
                f"Cannot do assign action along more than one dimension: {axes}.  Multi-axis "
                "partition assign action is not supported "
            )
        if isinstance(value, list):
            if len(value) != len(self._variable_list):
                raise ValueError(
                    f"Expected {len(self._variable_list)} values, one per partition, got "
                    f"{len(value)}"
                )
            values = value
        elif isinstance(value, PartitionedVariable):
            values = list(value)
        else:
            sizes = [_shape.dimension_value(v.shape[axes[0]]) for v in self._variable_list]
            values = split(value, sizes, axis=axes[0])
        return [assign_fn(v, values[i]) for i, v in enumerate(self._variable_list)]

    def assign(self, value, use_locking=False, name=None, read_value=True):
        """Assigns each part its slice of ``value``: a list of the parts' assign ops."""
        return self._apply_assign_fn(
            lambda var, r: var.assign(r, use_locking, name, read_value), value
        )

    def assign_add(self, value, use_locking=False, name=None, read_value=True):
        return self._apply_assign_fn(
            lambda var, r: var.assign_add(r, use_locking, name, read_value), value
        )

    def assign_sub(self, value, use_locking=False, name=None, read_value=True):
        return self._apply_assign_fn(
            lambda var, r: var.assign_sub(r, use_locking, name, read_value), value
        )


def _partitioned_to_tensor(v, dtype=None, name=None, as_ref=False):
    if dtype is not None and not dtypes.as_dtype(dtype).is_compatible_with(v.dtype):
        raise ValueError(
            f"Incompatible type conversion requested to type '{dtypes.as_dtype(dtype).name}' for "
            f"variable of type '{v.dtype.name}'"
        )
    if as_ref:
        raise NotImplementedError("PartitionedVariable doesn't support being used as a reference.")
    return v.as_tensor()


ops.register_tensor_conversion_function(PartitionedVariable, _partitioned_to_tensor)


def _install_variable_operators():
    names = [
        "add",
        "sub",
        "mul",
        "truediv",
        "div",
        "floordiv",
        "mod",
        "pow",
        "and",
        "or",
        "xor",
        "matmul",
    ]
    for n in names:
        for fmt in ("__{}__", "__r{}__"):
            attr = fmt.format(n)
            if hasattr(Tensor, attr):
                setattr(
                    Variable,
                    attr,
                    (lambda a: lambda self, other: getattr(self.value(), a)(other))(attr),
                )
    for attr in ("__neg__", "__abs__", "__invert__"):
        setattr(Variable, attr, (lambda a: lambda self: getattr(self.value(), a)())(attr))
    for attr in ("__lt__", "__le__", "__gt__", "__ge__"):
        setattr(
            Variable, attr, (lambda a: lambda self, other: getattr(self.value(), a)(other))(attr)
        )


# -- module functions --------------------------------------------------------------------------
def is_variable_initialized(variable):
    """A bool tensor: whether ``variable`` is initialized in the running session."""
    return variable.is_initialized()


def global_variables(scope=None):
    return ops.get_collection(GraphKeys.GLOBAL_VARIABLES, scope)


all_variables = global_variables


def trainable_variables(scope=None):
    return ops.get_collection(GraphKeys.TRAINABLE_VARIABLES, scope)


def local_variables(scope=None):
    return ops.get_collection(GraphKeys.LOCAL_VARIABLES, scope)


def model_variables(scope=None):
    return ops.get_collection(GraphKeys.MODEL_VARIABLES, scope)


def moving_average_variables(scope=None):
    return ops.get_collection(GraphKeys.MOVING_AVERAGE_VARIABLES, scope)


def variables_initializer(var_list, name="init"):
    """One op that runs the initializers of ``var_list``."""
    from .control_flow_ops import group

    if var_list:
        return group(*[v.initializer for v in var_list], name=name)
    return _base.make_op("NoOp", [], {}, name=name, graph=ops.get_default_graph())


def global_variables_initializer():
    return variables_initializer(global_variables())


initialize_all_variables = global_variables_initializer


def local_variables_initializer():
    return variables_initializer(local_variables())


initialize_local_variables = local_variables_initializer


def initialize_variables(var_list, name="init"):
    return variables_initializer(var_list, name)


def report_uninitialized_variables(var_list=None, name="report_uninitialized_variables"):
    """A 1-D string tensor with the names of the variables not yet initialized.

    Unlike TF (a ``boolean_mask`` over a ``Pack`` of the flags), the names are selected by one
    op, named after the scope (``report_uninitialized_variables``).
    """
    if var_list is None:
        var_list = global_variables() + local_variables()
    with ops.name_scope(name) as scope:
        if not var_list:
            from .constant_op import constant

            return constant([], dtype=dtypes.string)
        flags = [is_variable_initialized(v) for v in var_list]
        names = [v.op.name for v in var_list]
        return _base.output(
            "ReportUninitialized", flags, {"names": names}, name=scope, graph=flags[0].graph
        )


def _report_lower(op):
    from tfstyle.compiler.lowering import HostValue

    names = op._attrs["names"]

    def fn(*flags):
        def finish(arr):
            return np.array([n.encode() for n, f in zip(names, arr) if not f], dtype=object)

        return HostValue(finish, jnp.stack([jnp.asarray(f) for f in flags]))

    return fn


_base.register_simple("ReportUninitialized", lambda op: [(dtypes.string, (None,))], _report_lower)


def assert_variables_initialized(var_list=None):
    from .control_flow_ops import no_op

    return no_op()


def _as_ref(ref, method):
    """``ref``, or the variable of an imported TF 1.x ref variable's output ``w:0``."""
    if isinstance(ref, ops.Tensor):
        variable = ref.graph._ref_variables.get(ref)
        if variable is None:
            raise AttributeError(f"'{type(ref).__name__}' object has no attribute '{method}'")
        return variable
    return ref


def assign(ref, value, validate_shape=None, use_locking=None, name=None):
    """``ref.assign(value)``: returns the assigned value."""
    return _as_ref(ref, "assign").assign(value, name=name)


def assign_add(ref, value, use_locking=None, name=None):
    """``ref.assign_add(value)``: returns the new value (TF ignores ``name`` here)."""
    return _as_ref(ref, "assign_add").assign_add(value)


def assign_sub(ref, value, use_locking=None, name=None):
    """``ref.assign_sub(value)``: returns the new value (TF ignores ``name`` here)."""
    return _as_ref(ref, "assign_sub").assign_sub(value)


_install_variable_operators()
