"""``variable_scope`` and ``get_variable``: TF1's named, shareable variables.

As in TF, the state lives in the graph's collections (``("__variable_store",)`` holds the store of
variables made by ``get_variable``, ``("__varscope",)`` the per-thread current scope and the
counts that make ``default_name`` scopes unique), so ``reset_default_graph`` clears it.

Naming follows TF exactly: ``get_variable`` names a variable by the variable scope only
(``foo/v``), ignoring name scopes, while ops keep the name scope (``foo/bar/add``); re-entering a
scope object opens a fresh name scope (``foo_1``) but keeps the variable scope ``foo``.
"""

import enum
import functools
import inspect
import threading

from tfstyle.framework import dtypes, ops
from tfstyle.framework import tensor_shape as _shape
from tfstyle.framework.ops import GraphKeys, Tensor

from . import init_ops
from .variables import PartitionedVariable, Variable


class _ReuseMode(enum.Enum):
    """Mode for variable access within a variable scope."""

    AUTO_REUSE = 1


AUTO_REUSE = _ReuseMode.AUTO_REUSE


def no_regularizer(_):
    """A regularizer that regularizes nothing (to switch off a scope's regularizer)."""
    return None


# -- lazily built regularization losses ----------------------------------------------------------
class _LazyEvalTensor:
    """A regularization loss in ``REGULARIZATION_LOSSES``, as TF stores it.

    Its ops are built once when the variable is made (what ``sess.run`` fetches) and again each
    time it is converted to a tensor (``tf.add_n(losses)``), under ``<var>/Regularizer/``.
    """

    def __init__(self, thunk):
        self._thunk = thunk
        self._master_tensor = thunk()

    def _as_tensor(self, dtype=None, name=None, as_ref=False):
        return self._thunk()

    def _as_graph_element(self):
        return self._master_tensor

    def get_shape(self):
        return self._master_tensor.get_shape()

    def __str__(self):
        return str(self._master_tensor)

    def eval(self, feed_dict=None, session=None):
        return self._as_tensor().eval(feed_dict, session)


def _master_property(name):
    return property(lambda self: getattr(self._master_tensor, name))


def _tensor_method(name):
    return lambda self, *args, **kwargs: getattr(self._as_tensor(), name)(*args, **kwargs)


for _name in ("device", "dtype", "graph", "name", "op", "shape", "value_index"):
    setattr(_LazyEvalTensor, _name, _master_property(_name))
for _name in (
    "__abs__",
    "__add__",
    "__radd__",
    "__sub__",
    "__rsub__",
    "__mul__",
    "__rmul__",
    "__truediv__",
    "__rtruediv__",
    "__floordiv__",
    "__rfloordiv__",
    "__mod__",
    "__rmod__",
    "__pow__",
    "__rpow__",
    "__neg__",
    "__getitem__",
    "__lt__",
    "__le__",
    "__gt__",
    "__ge__",
    "__matmul__",
    "__rmatmul__",
):
    setattr(_LazyEvalTensor, _name, _tensor_method(_name))

ops.register_tensor_conversion_function(
    _LazyEvalTensor, lambda v, dtype=None, name=None, as_ref=False: v._as_tensor(dtype, name)
)


# -- the store of variables ------------------------------------------------------------------------
def _arg_names(fn):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return [], False
    names = [p.name for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    has_kwargs = any(p.kind is p.VAR_KEYWORD for p in params)
    return names, has_kwargs


def _needs_no_arguments(fn):
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return all(
        p.default is not p.empty or p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD) for p in params
    )


class _VariableStore:
    """The variables made by ``get_variable`` in one graph, by full name."""

    def __init__(self):
        self._vars = {}
        self._partitioned_vars = {}

    def get_variable(
        self,
        name,
        shape=None,
        dtype=dtypes.float32,
        initializer=None,
        regularizer=None,
        reuse=None,
        trainable=None,
        collections=None,
        caching_device=None,
        partitioner=None,
        validate_shape=True,
        use_resource=None,
        custom_getter=None,
        constraint=None,
        synchronization=None,
        aggregation=None,
    ):
        if custom_getter is not None and not callable(custom_getter):
            raise ValueError(f"Passed a custom_getter which is not callable: {custom_getter}")
        if isinstance(dtype, dtypes.DType):
            dtype = dtype.base_dtype
        if trainable is None:
            trainable = True

        def true_getter(
            name,
            shape=None,
            dtype=dtypes.float32,
            initializer=None,
            regularizer=None,
            reuse=None,
            trainable=None,
            collections=None,
            caching_device=None,
            partitioner=None,
            validate_shape=True,
            use_resource=None,
            constraint=None,
            synchronization=None,
            aggregation=None,
        ):
            is_scalar = isinstance(shape, (list, tuple)) and not shape
            part_kwargs = dict(
                name=name,
                shape=shape,
                dtype=dtype,
                initializer=initializer,
                regularizer=regularizer,
                reuse=reuse,
                trainable=trainable,
                collections=collections,
                caching_device=caching_device,
                validate_shape=validate_shape,
                constraint=constraint,
            )
            if partitioner is not None and not is_scalar:
                if not callable(partitioner):
                    raise ValueError(f"Partitioner must be callable, but received: {partitioner}")
                with ops.name_scope(None):
                    return self._get_partitioned_variable(partitioner=partitioner, **part_kwargs)
            # A partitioned variable is reused without naming its partitioner again.
            if reuse is True and partitioner is None and name in self._partitioned_vars:
                with ops.name_scope(None):
                    return self._get_partitioned_variable(partitioner=None, **part_kwargs)
            return self._get_single_variable(
                name,
                shape=shape,
                dtype=dtype,
                initializer=initializer,
                regularizer=regularizer,
                reuse=reuse,
                trainable=trainable,
                collections=collections,
                caching_device=caching_device,
                validate_shape=validate_shape,
                constraint=constraint,
            )

        kwargs = dict(
            shape=shape,
            dtype=dtype,
            initializer=initializer,
            regularizer=regularizer,
            reuse=reuse,
            trainable=trainable,
            collections=collections,
            caching_device=caching_device,
            partitioner=partitioner,
            validate_shape=validate_shape,
            use_resource=use_resource,
            synchronization=synchronization,
            aggregation=aggregation,
        )
        if custom_getter is None:
            return true_getter(name, constraint=constraint, **kwargs)
        names, has_kwargs = _arg_names(custom_getter)
        if "constraint" in names or has_kwargs:
            kwargs["constraint"] = constraint
        return custom_getter(getter=true_getter, name=name, **kwargs)

    def _get_single_variable(
        self,
        name,
        shape=None,
        dtype=dtypes.float32,
        initializer=None,
        regularizer=None,
        reuse=None,
        trainable=None,
        collections=None,
        caching_device=None,
        validate_shape=True,
        constraint=None,
        partition_info=None,
    ):
        from_value = initializer is not None and not callable(initializer)
        if shape is not None and from_value:
            raise ValueError("If initializer is a constant, do not specify shape.")
        dtype = dtypes.as_dtype(dtype)
        if shape is not None:
            shape = _shape.as_shape(shape)

        if name in self._vars:
            if reuse is False:
                raise ValueError(
                    f"Variable {name} already exists, disallowed. Did you mean to set "
                    "reuse=True or reuse=tf.AUTO_REUSE in VarScope?"
                )
            found = self._vars[name]
            if shape is not None and not shape.is_compatible_with(found.get_shape()):
                raise ValueError(
                    f"Trying to share variable {name}, but specified shape {shape} and found "
                    f"shape {found.get_shape()}."
                )
            if not dtype.is_compatible_with(found.dtype):
                raise ValueError(
                    f"Trying to share variable {name}, but specified dtype {dtype.name} and found "
                    f"dtype {found.dtype.name}."
                )
            return found

        if reuse is True:
            raise ValueError(
                f"Variable {name} does not exist, or was not created with tf.get_variable(). "
                "Did you mean to set reuse=tf.AUTO_REUSE in VarScope?"
            )

        if initializer is None:
            if shape is None:
                raise ValueError(
                    f"Variable {name} did not get an initializer, so its `shape` argument must "
                    "be specified."
                )
            initializer = _default_initializer(name, dtype)
        if from_value:
            init_val, variable_dtype = initializer, None
        else:
            if inspect.isclass(initializer):
                initializer = initializer()
            if shape is not None and shape.is_fully_defined():
                if "partition_info" in _arg_names(initializer)[0]:
                    init_val = functools.partial(
                        initializer, shape.as_list(), dtype=dtype, partition_info=partition_info
                    )
                else:
                    init_val = functools.partial(initializer, shape.as_list(), dtype=dtype)
                variable_dtype = dtype.base_dtype
            elif _needs_no_arguments(initializer):
                init_val, variable_dtype = initializer, None
            else:
                raise ValueError(
                    "The initializer passed is not valid. It should be a callable with no "
                    "arguments and the shape should not be provided or an instance of "
                    "`tf.keras.initializers.*' and `shape` should be fully defined."
                )
        v = Variable(
            initial_value=init_val,
            name=name,
            trainable=trainable,
            collections=collections,
            caching_device=caching_device,
            dtype=variable_dtype,
            validate_shape=validate_shape,
            constraint=constraint,
            shape=shape,
        )
        self._vars[name] = v

        if regularizer:

            def make_regularizer_op():
                with ops.name_scope(name + "/Regularizer/"):
                    return regularizer(v)

            # TF calls the regularizer once outside the scope to see whether it regularizes.
            if regularizer(v) is not None:
                ops.add_to_collection(
                    GraphKeys.REGULARIZATION_LOSSES, _LazyEvalTensor(make_regularizer_op)
                )
        return v

    def _get_partitioned_variable(
        self,
        name,
        partitioner,
        shape=None,
        dtype=dtypes.float32,
        initializer=None,
        regularizer=None,
        reuse=None,
        trainable=None,
        collections=None,
        caching_device=None,
        validate_shape=True,
        constraint=None,
    ):
        """The ``PartitionedVariable`` ``name``: parts ``name/part_<i>`` cut along one axis as
        ``partitioner(shape=, dtype=)`` says, each initialized with its slice of the full
        variable (an initializer is called with the part's shape and a ``_PartitionInfo``)."""
        from .array_ops import slice as _slice

        from_value = isinstance(initializer, Tensor)
        if name in self._vars:
            raise ValueError(
                "A partitioner was provided, but an unpartitioned version of the variable was "
                f"found: {name}.  Perhaps a variable of the same name was already created "
                "without partitioning?"
            )
        dtype = dtypes.as_dtype(dtype)
        shape = _shape.as_shape(shape)
        if from_value:
            shape = shape.merge_with(initializer.get_shape())

        partitions = None
        if not reuse or partitioner:
            partitions = _call_partitioner(partitioner, shape, dtype)

        if name in self._partitioned_vars:
            if reuse is False:
                raise ValueError(
                    f"Partitioned variable with name {name} already exists. Did you mean to set "
                    "reuse=True or reuse=tf.AUTO_REUSE in VarScope?"
                )
            found = self._partitioned_vars[name]
            if not shape.is_compatible_with(found.get_shape()):
                raise ValueError(
                    f"Trying to reuse partitioned variable {name}, but specified shape {shape} "
                    f"and found shape {found.get_shape()}."
                )
            if not dtype.is_compatible_with(found.dtype):
                raise ValueError(
                    f"Trying to reuse partitioned variable {name}, but specified dtype "
                    f"{dtype.name} and found dtype {found.dtype.name}."
                )
            if partitions is not None and found._get_partitions() != partitions:
                raise ValueError(
                    f"Trying to reuse partitioned variable {name}, but specified partitions "
                    f"{partitions} and found partitions {found._get_partitions()}."
                )
            return found

        if reuse is True:
            raise ValueError(
                f"PartitionedVariable {name} does not exist, or was not created with "
                "tf.get_variable(). Did you mean to set reuse=False or reuse=tf.AUTO_REUSE in "
                "VarScope?"
            )

        slice_dim, num_slices = _slice_dim_and_count(partitions)
        if f"{name}/part_0" in self._vars:
            if f"{name}/part_{num_slices - 1}" not in self._vars:
                raise ValueError(
                    "Partitioner returned a different partitioning than what was already found.  "
                    f"Partitioner returned {num_slices} shards, and shard {name}/part_0 was "
                    f"found, but {name}/part_{num_slices - 1} was not."
                )
            if f"{name}/part_{num_slices}" in self._vars:
                raise ValueError(
                    "Partitioner returned a different partitioning than what was already found.  "
                    f"Partitioner returned {num_slices} shards, and shard {name}/part_0 was "
                    f"found, but so was the extra shard {name}/part_{num_slices}."
                )

        parts = []
        full_shape = shape.as_list()
        for i, (offset, part_shape) in enumerate(_iter_slices(full_shape, num_slices, slice_dim)):
            info = _PartitionInfo(full_shape=full_shape, var_offset=offset)
            part_name = f"{name}/part_{i}"
            part_dtype = dtype
            with ops.name_scope(part_name + "/PartitionedInitializer"):
                if initializer is None or callable(initializer):
                    init, init_shape = initializer, part_shape
                else:
                    # A full-shape value: each part starts from its slice of it.
                    init = initializer
                    if not from_value:
                        init = ops.convert_to_tensor(initializer, dtype=dtype)
                    else:
                        part_dtype = init.dtype.base_dtype
                    init, init_shape = _slice(init, offset, part_shape), None
            with ops.name_scope(None):
                var = self._get_single_variable(
                    part_name,
                    shape=init_shape,
                    dtype=part_dtype,
                    initializer=init,
                    regularizer=regularizer,
                    reuse=reuse,
                    trainable=trainable,
                    collections=collections,
                    caching_device=caching_device,
                    validate_shape=validate_shape,
                    constraint=constraint,
                    partition_info=info,
                )
            var._set_save_slice_info(Variable.SaveSliceInfo(name, full_shape, offset, part_shape))
            parts.append(var)
        pv = PartitionedVariable(
            name=name, shape=shape, dtype=dtype, variable_list=parts, partitions=partitions
        )
        self._partitioned_vars[name] = pv
        return pv


class _PartitionInfo:
    """What an initializer of one part learns about the full variable (TF passes it as
    ``partition_info``): the full shape and this part's offset in it."""

    def __init__(self, full_shape, var_offset):
        if not isinstance(full_shape, (list, tuple)):
            raise TypeError(
                f"`full_shape` must be a sequence (like tuple or list) instead of "
                f"{type(full_shape).__name__}"
            )
        if not isinstance(var_offset, (list, tuple)):
            raise TypeError(
                f"`var_offset` must be a sequence (like tuple or list) instead of "
                f"{type(var_offset).__name__}"
            )
        if len(var_offset) != len(full_shape):
            raise ValueError(
                f"Expected equal length, but `var_offset` is of length {len(var_offset)} while "
                f"full_shape is of length {len(full_shape)}."
            )
        for offset, dim in zip(var_offset, full_shape):
            if offset < 0 or offset >= dim:
                raise ValueError(
                    f"Expected 0 <= offset < shape but found offset={var_offset}, "
                    f"shape={full_shape}"
                )
        self._full_shape = full_shape
        self._var_offset = var_offset

    @property
    def full_shape(self):
        return self._full_shape

    @property
    def var_offset(self):
        return self._var_offset

    def single_offset(self, shape):
        """The offset along the one axis the part is cut on (0 if it is not cut)."""
        dim = self.single_slice_dim(shape)
        return 0 if dim is None else self.var_offset[dim]

    def single_slice_dim(self, shape):
        """The one axis on which a part of ``shape`` is shorter than the full variable."""
        if shape is None:
            return None
        if not isinstance(shape, (list, tuple)):
            raise TypeError(
                f"`shape` must be a sequence (like tuple or list) instead of {type(shape).__name__}"
            )
        if len(shape) != len(self.full_shape):
            raise ValueError(
                f"Expected equal length, but received shape={shape} of length {len(shape)} "
                f"while self.full_shape={self.full_shape} is of length {len(self.full_shape)}."
            )
        for i in range(len(shape)):
            if self.var_offset[i] + shape[i] > self.full_shape[i]:
                raise ValueError(
                    f"With self.var_offset={self.var_offset}, a partition of shape={shape} would "
                    f"exceed self.full_shape={self.full_shape} in dimension {i}."
                )
        dims = [i for i in range(len(shape)) if shape[i] != self.full_shape[i]]
        if len(dims) > 1:
            raise ValueError(
                f"Cannot use single_slice_dim() with shape={shape} and "
                f"self.full_shape={self.full_shape} since slice dim could be any of {dims}"
            )
        return dims[0] if dims else None


def _call_partitioner(partitioner, shape, dtype):
    """``partitioner``'s parts per axis, checked: a full shape of rank >= 1, cut on one axis."""
    if not shape.is_fully_defined():
        raise ValueError(
            f"Shape of a new partitioned variable must be fully defined, but instead was {shape}."
        )
    if shape.ndims < 1:
        raise ValueError(f"A partitioned Variable must have rank at least 1, shape: {shape}")
    slicing = partitioner(shape=shape, dtype=dtype)
    if not isinstance(slicing, (list, tuple)):
        raise ValueError(f"Partitioner must return a sequence, but saw: {slicing}")
    if len(slicing) != shape.ndims:
        raise ValueError(
            "Partitioner returned a partition list that does not match the Variable's rank: "
            f"{slicing} vs. {shape}"
        )
    if any(p < 1 for p in slicing):
        raise ValueError(f"Partitioner returned zero partitions for some axes: {slicing}")
    if sum(p > 1 for p in slicing) > 1:
        raise ValueError(
            f"Can only slice a variable along one dimension: shape: {shape}, partitioning: "
            f"{slicing}"
        )
    return list(slicing)


def _slice_dim_and_count(slicing):
    for dim, count in enumerate(slicing):
        if count > 1:
            return dim, count
    return 0, 1


def _iter_slices(full_shape, num_slices, slice_dim):
    """``(offset, shape)`` of each part: the first ``len % num_slices`` parts one longer."""
    longer = full_shape[slice_dim] % num_slices
    base = full_shape[slice_dim] // num_slices
    offset = [0] * len(full_shape)
    for i in range(num_slices):
        shape = list(full_shape)
        shape[slice_dim] = base + (1 if i < longer else 0)
        yield list(offset), shape
        offset[slice_dim] += shape[slice_dim]


def _default_initializer(name, dtype):
    """Glorot-uniform for floating variables, zeros for integers, booleans and strings."""
    if dtype.is_floating:
        return init_ops.glorot_uniform_initializer()
    if dtype.is_integer or dtype.is_unsigned or dtype.is_bool or dtype == dtypes.string:
        return init_ops.zeros_initializer()
    raise ValueError(f"An initializer for variable {name} of {dtype.base_dtype} is required")


# -- scopes --------------------------------------------------------------------------------------
class VariableScope:
    """The defaults ``get_variable`` uses inside a ``variable_scope``: name prefix, reuse,
    initializer, regularizer, dtype, custom getter."""

    def __init__(
        self,
        reuse,
        name="",
        initializer=None,
        regularizer=None,
        caching_device=None,
        partitioner=None,
        custom_getter=None,
        name_scope="",
        dtype=dtypes.float32,
        use_resource=None,
        constraint=None,
    ):
        self._name = name
        self._initializer = initializer
        self._regularizer = regularizer
        self._reuse = reuse
        self._caching_device = caching_device
        self._partitioner = partitioner
        self._custom_getter = custom_getter
        self._name_scope = name_scope
        self._dtype = dtype
        self._use_resource = use_resource
        self._constraint = constraint

    name = property(lambda self: self._name)
    original_name_scope = property(lambda self: self._name_scope)
    reuse = property(lambda self: self._reuse)
    initializer = property(lambda self: self._initializer)
    dtype = property(lambda self: self._dtype)
    use_resource = property(lambda self: self._use_resource)
    regularizer = property(lambda self: self._regularizer)
    caching_device = property(lambda self: self._caching_device)
    partitioner = property(lambda self: self._partitioner)
    custom_getter = property(lambda self: self._custom_getter)
    constraint = property(lambda self: self._constraint)

    def reuse_variables(self):
        """From now on, ``get_variable`` in this scope returns existing variables."""
        self._reuse = True

    def get_collection(self, name):
        """The items of collection ``name`` whose names start with this scope's name."""
        return ops.get_collection(name, self._name + "/" if self._name else "")

    def trainable_variables(self):
        return self.get_collection(GraphKeys.TRAINABLE_VARIABLES)

    def global_variables(self):
        return self.get_collection(GraphKeys.GLOBAL_VARIABLES)

    def local_variables(self):
        return self.get_collection(GraphKeys.LOCAL_VARIABLES)

    def get_variable(
        self,
        var_store,
        name,
        shape=None,
        dtype=None,
        initializer=None,
        regularizer=None,
        reuse=None,
        trainable=None,
        collections=None,
        caching_device=None,
        partitioner=None,
        validate_shape=True,
        use_resource=None,
        custom_getter=None,
        constraint=None,
        synchronization=None,
        aggregation=None,
    ):
        """Gets or creates variable ``<scope name>/<name>`` in ``var_store``."""
        if regularizer is None:
            regularizer = self._regularizer
        if caching_device is None:
            caching_device = self._caching_device
        if partitioner is None:
            partitioner = self._partitioner
        if custom_getter is None:
            custom_getter = self._custom_getter
        if reuse is None:
            reuse = self._reuse
        full_name = self._name + "/" + name if self._name else name
        # Variables are named by the variable scope only: leave every name scope.
        with ops.name_scope(None):
            if dtype is not None and initializer is not None and not callable(initializer):
                init_dtype = ops.convert_to_tensor(initializer).dtype.base_dtype
                if init_dtype != dtype:
                    raise ValueError(
                        f"Initializer type '{init_dtype}' and explicit dtype "
                        f"'{dtypes.as_dtype(dtype)}' don't match."
                    )
            if initializer is None:
                initializer = self._initializer
            if constraint is None:
                constraint = self._constraint
            if dtype is None:
                dtype = self._dtype
            return var_store.get_variable(
                full_name,
                shape=shape,
                dtype=dtype,
                initializer=initializer,
                regularizer=regularizer,
                reuse=reuse,
                trainable=trainable,
                collections=collections,
                caching_device=caching_device,
                partitioner=partitioner,
                validate_shape=validate_shape,
                use_resource=use_resource,
                custom_getter=custom_getter,
                constraint=constraint,
                synchronization=synchronization,
                aggregation=aggregation,
            )


def _setter(attr):
    def set_value(self, value):
        setattr(self, attr, value)

    set_value.__name__ = set_value.__qualname__ = "set" + attr
    return set_value


# The scope defaults that ``variable_scope`` overrides: ``set_initializer``, ``set_dtype``, ...
for _name in (
    "initializer",
    "dtype",
    "use_resource",
    "regularizer",
    "caching_device",
    "partitioner",
    "custom_getter",
):
    setattr(VariableScope, "set_" + _name, _setter("_" + _name))


_VARSTORE_KEY = ("__variable_store",)
_VARSCOPESTORE_KEY = ("__varscope",)


class _VariableScopeStore(threading.local):
    """The current variable scope of a thread and the use counts of scope names."""

    def __init__(self):
        super().__init__()
        self.current_scope = VariableScope(False)
        self.variable_scopes_count = {}

    def open_variable_scope(self, scope_name):
        self.variable_scopes_count[scope_name] = self.variable_scopes_count.get(scope_name, 0) + 1

    def close_variable_subscopes(self, scope_name):
        prefix = scope_name + "/"
        for k in self.variable_scopes_count:
            if k.startswith(prefix):
                self.variable_scopes_count[k] = 0

    def variable_scope_count(self, scope_name):
        return self.variable_scopes_count.get(scope_name, 0)


def _graph_singleton(key, make):
    """The one object kept in the default graph's collection ``key``, made on first use."""
    found = ops.get_collection(key)
    if found:
        return found[0]
    store = make()
    ops.add_to_collection(key, store)
    return store


def _get_variable_scope_store():
    return _graph_singleton(_VARSCOPESTORE_KEY, _VariableScopeStore)


def get_variable_scope():
    """The current ``VariableScope`` (the root scope, named ``""``, outside any)."""
    return _get_variable_scope_store().current_scope


def _get_default_variable_store():
    return _graph_singleton(_VARSTORE_KEY, _VariableStore)


def _maybe_wrap_custom_getter(custom_getter, old_getter):
    if old_getter is None:
        return custom_getter

    def wrapped(getter, *args, **kwargs):
        return custom_getter(functools.partial(old_getter, getter), *args, **kwargs)

    return wrapped


def _set_overrides(scope, old_getter, **overrides):
    for key, value in overrides.items():
        if value is None:
            continue
        if key == "custom_getter":
            value = _maybe_wrap_custom_getter(value, old_getter)
        getattr(scope, "set_" + key)(value)


def _derived_scope(base, reuse, name, name_scope, constraint, overrides):
    """A scope with ``base``'s defaults, then ``overrides`` (those not ``None``) applied."""
    scope = VariableScope(
        reuse,
        name=name,
        initializer=base.initializer,
        regularizer=base.regularizer,
        caching_device=base.caching_device,
        partitioner=base.partitioner,
        dtype=base.dtype,
        custom_getter=base.custom_getter,
        name_scope=name_scope,
        use_resource=base.use_resource,
        constraint=constraint,
    )
    _set_overrides(scope, base.custom_getter, **overrides)
    return scope


class _pure_variable_scope:  # noqa: N801 - TF's name
    """Enters a variable scope without touching name scopes."""

    def __init__(self, name_or_scope, reuse=None, old_name_scope=None, constraint=None, **kw):
        self._name_or_scope = name_or_scope
        self._reuse = reuse
        self._old_name_scope = old_name_scope
        self._constraint = constraint
        self._overrides = kw  # initializer, regularizer, caching_device, ..., dtype
        self._store = _get_variable_scope_store()
        self._last = None
        if isinstance(name_or_scope, VariableScope):
            s = name_or_scope
            self._new_name = s.name
            self._cached = _derived_scope(
                s, s.reuse if not reuse else reuse, s.name, s._name_scope, constraint, kw
            )

    def __enter__(self):
        store = self._store
        self._old = store.current_scope
        if isinstance(self._name_or_scope, VariableScope):
            store.open_variable_scope(self._new_name)
            self._old_subscopes = dict(store.variable_scopes_count)
            scope = self._cached
        else:
            old = self._old
            self._new_name = (
                old.name + "/" + self._name_or_scope if old.name else self._name_or_scope
            )
            # Reuse is inherited by sub-scopes.
            self._reuse = self._reuse or old.reuse
            name_scope = (
                self._name_or_scope if self._old_name_scope is None else self._old_name_scope
            )
            scope = _derived_scope(
                old, self._reuse, self._new_name, name_scope, self._constraint, self._overrides
            )
            store.open_variable_scope(self._new_name)
        store.current_scope = scope
        self._last = scope
        return scope

    def __exit__(self, *exc):
        store = self._store
        if store.current_scope is not self._last:
            raise RuntimeError("Improper nesting of variable_scope.")
        if isinstance(self._name_or_scope, VariableScope):
            store.variable_scopes_count = self._old_subscopes
        else:
            store.close_variable_subscopes(self._new_name)
        store.current_scope = self._old


def _get_unique_variable_scope(prefix):
    store = _get_variable_scope_store()
    current = store.current_scope
    name = current.name + "/" + prefix if current.name else prefix
    if store.variable_scope_count(name) == 0:
        return prefix
    idx = 1
    while store.variable_scope_count(f"{name}_{idx}") > 0:
        idx += 1
    return f"{prefix}_{idx}"


def _graph_from_values(values):
    for v in values:
        el = v._as_graph_element() if hasattr(v, "_as_graph_element") else v
        if isinstance(el, (Tensor, ops.Operation)):
            return el.graph
    return ops.get_default_graph()


class variable_scope:  # noqa: N801 - TF's name
    """A context manager for defining ops that create variables (layers).

    ``variable_scope(name_or_scope, default_name=None, values=None, initializer=None,
    regularizer=None, caching_device=None, partitioner=None, custom_getter=None, reuse=None,
    dtype=None, use_resource=None, constraint=None, auxiliary_name_scope=True)``.

    It opens the variable scope ``name_or_scope`` (a string or a ``VariableScope``; with
    ``name_or_scope=None``, ``default_name`` made unique) and a name scope of the same name.
    ``reuse=True`` makes ``get_variable`` return existing variables (and raise for missing ones),
    ``tf.AUTO_REUSE`` creates missing ones; reuse is inherited by sub-scopes.
    """

    def __init__(
        self,
        name_or_scope,
        default_name=None,
        values=None,
        initializer=None,
        regularizer=None,
        caching_device=None,
        partitioner=None,
        custom_getter=None,
        reuse=None,
        dtype=None,
        use_resource=None,
        constraint=None,
        auxiliary_name_scope=True,
    ):
        if default_name is None and name_or_scope is None:
            raise TypeError("If default_name is None then name_or_scope is required")
        if reuse is False:
            reuse = None
        if not (reuse is True or reuse is None or reuse is AUTO_REUSE):
            raise ValueError("The reuse parameter must be True or False or None.")
        if not isinstance(auxiliary_name_scope, bool):
            raise TypeError(
                "The auxiliary_name_scope must be `True` or `False`, while get "
                f"{auxiliary_name_scope}"
            )
        self._name_or_scope = name_or_scope
        self._default_name = default_name
        self._reuse = reuse
        self._constraint = constraint
        self._overrides = dict(
            initializer=initializer,
            regularizer=regularizer,
            caching_device=caching_device,
            partitioner=partitioner,
            custom_getter=custom_getter,
            dtype=dtype,
            use_resource=use_resource,
        )
        self._graph = _graph_from_values(values or [])
        self._auxiliary_name_scope = auxiliary_name_scope
        self._pure = None
        self._name_scope = None

    def __enter__(self):
        self._graph_ctx = self._graph.as_default()
        self._graph_ctx.__enter__()
        try:
            if self._pure is not None:
                if self._name_scope is not None:
                    self._name_scope.__enter__()
                return self._pure.__enter__()
            return self._enter_uncached()
        except BaseException:
            self._graph_ctx.__exit__(None, None, None)
            raise

    def _pure_scope(self, name_or_scope, old_name_scope, reuse):
        return _pure_variable_scope(
            name_or_scope,
            reuse=reuse,
            old_name_scope=old_name_scope,
            constraint=self._constraint,
            **self._overrides,
        )

    def _enter_uncached(self):
        graph = self._graph
        name_scope = None
        if not self._auxiliary_name_scope:
            # Stay in the current name scope.
            current = graph.get_name_scope()
            name_scope = graph.name_scope(current + "/" if current else "")
        if self._name_or_scope is not None:
            if not isinstance(self._name_or_scope, (VariableScope, str)):
                raise TypeError("VariableScope: name_or_scope must be a string or VariableScope.")
            if isinstance(self._name_or_scope, str):
                scope_name = self._name_or_scope
            else:
                scope_name = self._name_or_scope.name.split("/")[-1]
            if scope_name or name_scope is not None:
                name_scope = name_scope or graph.name_scope(scope_name)
                entered = name_scope.__enter__()
                self._name_scope = name_scope
                if isinstance(self._name_or_scope, str):
                    old_name_scope = entered
                else:
                    old_name_scope = self._name_or_scope.original_name_scope
                pure = self._pure_scope(self._name_or_scope, old_name_scope, self._reuse)
            else:
                pure = self._pure_scope(self._name_or_scope, None, self._reuse)
        else:
            if self._reuse:
                raise ValueError("reuse=True cannot be used without a name_or_scope")
            name_scope = name_scope or graph.name_scope(self._default_name)
            entered = name_scope.__enter__()
            self._name_scope = name_scope
            unique = _get_unique_variable_scope(self._default_name)
            pure = self._pure_scope(unique, entered, None)
        try:
            scope = pure.__enter__()
        except BaseException:
            if self._name_scope is not None:
                self._name_scope.__exit__(None, None, None)
            raise
        self._pure = pure
        return scope

    def __exit__(self, *exc):
        try:
            self._pure.__exit__(*exc)
        finally:
            try:
                if self._name_scope is not None:
                    self._name_scope.__exit__(*exc)
            finally:
                self._graph_ctx.__exit__(*exc)


def variable_op_scope(
    values,
    name_or_scope,
    default_name=None,
    initializer=None,
    regularizer=None,
    caching_device=None,
    partitioner=None,
    custom_getter=None,
    reuse=None,
    dtype=None,
    use_resource=None,
    constraint=None,
):
    """Deprecated spelling of ``variable_scope(name_or_scope, default_name, values)``."""
    return variable_scope(
        name_or_scope,
        default_name=default_name,
        values=values,
        initializer=initializer,
        regularizer=regularizer,
        caching_device=caching_device,
        partitioner=partitioner,
        custom_getter=custom_getter,
        reuse=reuse,
        dtype=dtype,
        use_resource=use_resource,
        constraint=constraint,
    )


def get_variable(
    name,
    shape=None,
    dtype=None,
    initializer=None,
    regularizer=None,
    trainable=None,
    collections=None,
    caching_device=None,
    partitioner=None,
    validate_shape=True,
    use_resource=None,
    custom_getter=None,
    constraint=None,
    synchronization=None,
    aggregation=None,
):
    """Gets an existing variable ``<scope>/<name>`` or creates a new one.

    ``initializer`` is an initializer (``tf.zeros_initializer()``), a callable
    ``f(shape, dtype, partition_info)``, or a value/tensor (then ``shape`` must be ``None``).
    Without one, floating variables get Glorot-uniform and integer/bool ones zeros. Creating an
    existing variable without reuse, or getting a missing one with ``reuse=True``, raises
    ``ValueError``. ``regularizer(v)`` losses go to ``GraphKeys.REGULARIZATION_LOSSES``.
    """
    return get_variable_scope().get_variable(
        _get_default_variable_store(),
        name,
        shape=shape,
        dtype=dtype,
        initializer=initializer,
        regularizer=regularizer,
        trainable=trainable,
        collections=collections,
        caching_device=caching_device,
        partitioner=partitioner,
        validate_shape=validate_shape,
        use_resource=use_resource,
        custom_getter=custom_getter,
        constraint=constraint,
        synchronization=synchronization,
        aggregation=aggregation,
    )


def get_local_variable(
    name,
    shape=None,
    dtype=None,
    initializer=None,
    regularizer=None,
    trainable=False,
    collections=None,
    caching_device=None,
    partitioner=None,
    validate_shape=True,
    use_resource=None,
    custom_getter=None,
    constraint=None,
    synchronization=None,
    aggregation=None,
):
    """``get_variable`` for a non-trainable variable in ``GraphKeys.LOCAL_VARIABLES``."""
    collections = list(collections or []) + [GraphKeys.LOCAL_VARIABLES]
    return get_variable(
        name,
        shape=shape,
        dtype=dtype,
        initializer=initializer,
        regularizer=regularizer,
        trainable=False,
        collections=collections,
        caching_device=caching_device,
        partitioner=partitioner,
        validate_shape=validate_shape,
        use_resource=use_resource,
        custom_getter=custom_getter,
        constraint=constraint,
    )
