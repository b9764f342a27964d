"""``tf.Variable``: resource variables whose values live in the session's state.

The ops are TF's resource-variable ops (``VarHandleOp``, ``ReadVariableOp``,
``AssignVariableOp`` ...) with TF 2.x ``compat.v1`` naming: ``v/Initializer/initial_value``,
``v/Assign``, ``v/Read/ReadVariableOp``. A variable's state key is its name without ``:0``.
"""

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


@registry.lowering("VarIsInitializedOp", uses_context=True)
def _is_initialized_lower(op):
    def fn(ctx, handle):
        return np.bool_(ctx.is_initialized(handle))

    return fn


registry.get("ReadVariableOp") or registry.register_op("ReadVariableOp")
registry.get("ReadVariableOp").infer = lambda op: [(op._attrs["dtype"], op._attrs["_shape"])]


@registry.lowering("ReadVariableOp", uses_context=True, reads_resource=True)
def _read_lower(op):
    def fn(ctx, handle):
        return ctx.read_variable(op)

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
class Variable:
    """A TF1 variable: ``tf.Variable(initial_value, trainable=True, name=None, dtype=None, ...)``.

    ``initial_value`` may be a tensor, a Python/NumPy value, or a callable returning one.
    """

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
            raise ValueError("initial_value must be specified.")
        if trainable is None:
            trainable = True
        if collections is None:
            collections = [GraphKeys.GLOBAL_VARIABLES]
        collections = list(collections)
        if trainable and GraphKeys.TRAINABLE_VARIABLES not in collections:
            collections.append(GraphKeys.TRAINABLE_VARIABLES)
        init_from_fn = callable(initial_value)
        graph = ops.get_default_graph()
        self._trainable = trainable
        self._constraint = constraint
        self._save_slice_info = None
        with (
            ops.control_dependencies(None),
            graph.name_scope(name if name is not None else "Variable") as scope,
        ):
            handle_name = scope[:-1]
            with graph.name_scope("Initializer"):
                if init_from_fn:
                    initial_value = initial_value()
                if isinstance(initial_value, Tensor):
                    init = initial_value
                    if dtype is not None and init.dtype != dtypes.as_dtype(dtype):
                        from .array_ops import cast

                        init = cast(init, dtype)
                elif hasattr(initial_value, "_as_graph_element"):
                    init = ops.convert_to_tensor(initial_value)
                else:
                    init = ops.convert_to_tensor(initial_value, dtype=dtype, name="initial_value")
            self._dtype = init.dtype
            if shape is not None:
                var_shape = _shape.as_shape(shape)
            elif validate_shape:
                var_shape = init.shape
            else:
                var_shape = _shape.unknown_shape()
            if validate_shape and not var_shape.is_fully_defined():
                raise ValueError(f"initial_value must have a shape specified: {init}")
            self._shape = var_shape
            self._handle = _base.output(
                "VarHandleOp",
                [],
                {
                    "dtype": self._dtype,
                    "shape": var_shape,
                    "shared_name": handle_name,
                    "container": "",
                    "allowed_devices": [],
                },
                name=scope,
                graph=graph,
            )
            self._initial_value = init
            with graph.name_scope("IsInitialized"):
                self._is_initialized_op = _base.output(
                    "VarIsInitializedOp", [self._handle], {}, name="VarIsInitializedOp"
                )
            self._initializer_op = _base.make_op(
                "AssignVariableOp",
                [self._handle, init],
                {"dtype": self._dtype, "validate_shape": validate_shape},
                name="Assign",
            )
            with graph.name_scope("Read"):
                self._graph_element = _read(self._handle, self._dtype, var_shape, "ReadVariableOp")
        self._caching_device = caching_device
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
        return self._initializer_op

    @property
    def initial_value(self):
        return self._initial_value

    @property
    def _shared_name(self):
        return self._handle.op.get_attr("shared_name")

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

    def initialized_value(self):
        """The value after initialization: the current value if initialised, else the initial."""
        from .control_flow_ops import cond

        with ops.control_dependencies(None):
            return cond(
                is_variable_initialized(self),
                self.read_value,
                lambda: self._initial_value,
            )

    def eval(self, session=None):
        from tfstyle.client import session as _session

        return _session.eval_in_session(self._graph_element, None, session)

    def load(self, value, session=None):
        """Writes ``value`` into the variable in ``session`` (or the default session)."""
        from tfstyle.client import session as _session

        if session is None:
            session = _session.get_default_session()
            if session is None:
                raise ValueError("Either session argument should be provided or default session")
        session.run(self._initializer_op, {self._initial_value: value})

    def to_proto(self, export_scope=None):
        from tfstyle.framework import graph_io

        return graph_io.variable_def(self)

    # -- writing -----------------------------------------------------------------------------
    def _assign_op(self, op_type, value, name, read_value):
        with ops.name_scope(name, op_type, [self._handle, value]) as scope:
            v = ops.convert_to_tensor(value, dtype=self._dtype, name="value")
            if not self._shape.is_compatible_with(v.shape):
                raise ValueError(
                    f"Shapes {self._shape} and {v.shape} are incompatible"
                    if op_type != "AssignVariableOp"
                    else f"Cannot assign value to variable ' {self._shared_name}': Shape mismatch."
                    f"The variable shape {self._shape}, and the assigned value shape {v.shape} "
                    "are incompatible."
                )
            op = _base.make_op(op_type, [self._handle, v], {"dtype": self._dtype}, name=scope)
        if not read_value:
            return op
        with ops.control_dependencies([op]):
            return self.value()

    def assign(self, value, use_locking=None, name=None, read_value=True):
        return self._assign_op("AssignVariableOp", value, name, read_value)

    def assign_add(self, delta, use_locking=None, name=None, read_value=True):
        return self._assign_op("AssignAddVariableOp", delta, name, read_value)

    def assign_sub(self, delta, use_locking=None, name=None, read_value=True):
        return self._assign_op("AssignSubVariableOp", delta, name, read_value)

    def scatter_update(self, sparse_delta, use_locking=False, name=None):
        from .state_ops import scatter_update

        return scatter_update(self, sparse_delta.indices, sparse_delta.values, name=name)

    def set_shape(self, shape):
        self._shape = self._shape.merge_with(shape)

    def count_up_to(self, limit):
        raise NotImplementedError("count_up_to is deprecated and not supported")

    # -- operators: a variable reads itself then behaves like a tensor -------------------------
    def __getitem__(self, item):
        return self.value()[item]


def _variable_to_tensor(v, dtype=None, name=None, as_ref=False):
    t = v.value()
    if dtype is not None and dtypes.as_dtype(dtype) != t.dtype:
        raise ValueError(
            f"Incompatible type conversion requested to type '{dtypes.as_dtype(dtype).name}' "
            f"for variable of type '{t.dtype.name}' (Variable: {v!r})"
        )
    return t


ops.register_tensor_conversion_function(Variable, _variable_to_tensor, priority=50)


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
    return variable._is_initialized_op


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
    return variables_initializer(local_variables(), name="init_1")


initialize_local_variables = local_variables_initializer


def initialize_variables(var_list, name="init"):
    return variables_initializer(var_list, name)


def report_uninitialized_variables(var_list=None, name="report_uninitialized_variables"):
    """A 1-D string tensor with the names of the variables not yet initialised."""

    if var_list is None:
        var_list = global_variables() + local_variables()
    with ops.name_scope(name) as scope:
        flags = [v._is_initialized_op for v in var_list]
        names = [v._shared_name for v in var_list]
        if not flags:
            from .constant_op import constant

            return constant(np.zeros([0], dtype=object), dtype=dtypes.string, name=scope)
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


def assign(ref, value, validate_shape=None, use_locking=None, name=None):
    """``ref.assign(value)``: returns the assigned value."""
    return ref.assign(value, name=name)


def assign_add(ref, value, use_locking=None, name=None):
    return ref.assign_add(value, name=name)


def assign_sub(ref, value, use_locking=None, name=None):
    return ref.assign_sub(value, name=name)


_install_variable_operators()
