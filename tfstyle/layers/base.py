"""``tf.layers.Layer``: the TF1 layer base class.

A layer owns a variable scope, made unique (``dense``, ``dense_1``) the first time it is called
and re-entered on every later call, so its variables are created once with ``get_variable`` and
reuse flows through enclosing ``variable_scope(..., reuse=...)`` as in TF. Ops of every call are
placed under the scope's original name scope (``dense/MatMul``, then ``dense/MatMul_1``).
"""

import re
import weakref

from tfstyle.framework import dtypes, ops
from tfstyle.ops import control_flow_ops
from tfstyle.ops import variable_scope as vs
from tfstyle.ops import variables as variables_lib
from tfstyle.ops._base import constant_value

# Per-graph counters of the layer names given to unnamed layers (``dense_1``, ``dense_2``...).
_NAME_UIDS = weakref.WeakKeyDictionary()


def _to_snake_case(name):
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    s = re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()
    return "private" + s if s[0] == "_" else s


def _unique_layer_name(base):
    uids = _NAME_UIDS.setdefault(ops.get_default_graph(), {})
    uids[base] = uids.get(base, 0) + 1
    return f"{base}_{uids[base]}"


def _add_to_collection(items, key):
    ref = ops.get_collection_ref(key)
    for item in items:
        if not any(item is x for x in ref):
            ref.append(item)


def smart_cond(pred, true_fn, false_fn, name=None):
    """``true_fn()`` or ``false_fn()`` when ``pred`` is known at graph construction, else a
    ``tf.cond``."""
    if isinstance(pred, (variables_lib.Variable, ops.Tensor)):
        value = None if isinstance(pred, variables_lib.Variable) else constant_value(pred)
        if value is None:
            return control_flow_ops.cond(
                pred, _tensor_outputs(true_fn), _tensor_outputs(false_fn), name=name
            )
        pred = bool(value)
    if pred not in (True, False, 0, 1):
        raise TypeError(f"`pred` must be a Tensor, or a Python bool, or 1 or 0. Found: {pred!r}")
    return true_fn() if pred else false_fn()


def _tensor_outputs(fn):
    # Branches may return variables (a moving average, or its update); cond needs tensors.
    def wrapped():
        out = fn()
        if isinstance(out, (list, tuple)):
            return type(out)(ops.convert_to_tensor(x) for x in out)
        return ops.convert_to_tensor(out)

    return wrapped


def static_bool(pred):
    """``pred`` as a Python bool if known at graph construction, else ``None``."""
    if isinstance(pred, ops.Tensor):
        value = constant_value(pred)
        return None if value is None else bool(value)
    if isinstance(pred, variables_lib.Variable):
        return None
    return bool(pred)


class InputSpec:
    """Constraints on a layer's input (``ndim``, ``min_ndim``, ``axes``)."""

    def __init__(self, dtype=None, shape=None, ndim=None, max_ndim=None, min_ndim=None, axes=None):
        self.dtype = dtype
        self.shape = shape
        self.ndim = len(shape) if shape is not None else ndim
        self.max_ndim = max_ndim
        self.min_ndim = min_ndim
        self.axes = axes or {}


def _check_input_spec(spec, inputs, layer_name):
    if spec is None:
        return
    for i, x in enumerate(inputs if isinstance(inputs, (list, tuple)) else [inputs]):
        shape = x.shape
        ndim = shape.ndims
        if ndim is None:
            continue
        dims = shape.as_list()
        full = tuple(dims)
        prefix = f'Input {i} of layer "{layer_name}" is incompatible with the layer: '
        if spec.ndim is not None and ndim != spec.ndim:
            raise ValueError(
                f"{prefix}expected ndim={spec.ndim}, found ndim={ndim}. Full shape received: {full}"
            )
        if spec.min_ndim is not None and ndim < spec.min_ndim:
            raise ValueError(
                f"{prefix}expected min_ndim={spec.min_ndim}, found ndim={ndim}. "
                f"Full shape received: {full}"
            )
        for axis, value in spec.axes.items():
            if value is not None and dims[axis] not in (value, None):
                raise ValueError(
                    f"{prefix}expected axis {axis} of input shape to have value {value}, "
                    f"but received input with shape {full}"
                )


class Layer:
    """Base class of ``tf.layers``: ``build(input_shape)`` creates the weights with
    ``add_weight``, ``call(inputs)`` computes the outputs; ``layer(inputs)`` does both."""

    def __init__(self, trainable=True, name=None, dtype=None, **kwargs):
        allowed = {
            "_scope", "_reuse", "activity_regularizer", "input_shape", "batch_input_shape",
            "batch_size", "input_dim", "weights", "autocast", "dynamic", "implementation",
        }  # fmt: skip
        for key in kwargs:
            if key not in allowed:
                raise TypeError(f"Keyword argument not understood: {key}")
        self.trainable = trainable
        self.built = False
        self._dtype = None if dtype is None else dtypes.as_dtype(dtype)
        self._reuse = kwargs.get("_reuse")
        self._scope = None
        if kwargs.get("_scope"):
            # A scope given at construction (the functional forms pass ``name``) is captured now.
            with vs.variable_scope(kwargs["_scope"]) as captured:
                self._scope = captured
        self._activity_regularizer = kwargs.get("activity_regularizer")
        self._trainable_weights = []
        self._non_trainable_weights = []
        self._losses = []
        self._updates = []
        self._current_scope = None
        self.input_spec = None
        self._graph = None
        base = _to_snake_case(type(self).__name__)
        if isinstance(name, vs.VariableScope):
            self._name, base_name = _unique_layer_name(base), name.name
        elif name:
            self._name, base_name = name, name
        else:
            self._name, base_name = _unique_layer_name(base), base
        self._base_name = base_name

    # -- properties -------------------------------------------------------------------------
    name = property(lambda self: self._name)
    dtype = property(lambda self: None if self._dtype is None else self._dtype.name)
    activity_regularizer = property(lambda self: self._activity_regularizer)
    graph = property(lambda self: self._graph)

    @property
    def scope_name(self):
        if not self._scope:
            raise ValueError(
                'No name available for layer scope because the layer "'
                + self._name
                + '" has not been used yet. The scope name  is determined the first time the '
                "layer instance is called. You must therefore call the layer before querying "
                "`scope_name`."
            )
        return self._scope.name

    @property
    def trainable_weights(self):
        return list(self._trainable_weights) if self.trainable else []

    @property
    def non_trainable_weights(self):
        if self.trainable:
            return list(self._non_trainable_weights)
        return self._trainable_weights + self._non_trainable_weights

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights

    @property
    def weights(self):
        return self.trainable_weights + self.non_trainable_weights

    variables = weights

    @property
    def losses(self):
        return list(self._losses)

    @property
    def updates(self):
        return list(self._updates)

    def get_losses_for(self, inputs):
        return self.losses

    def get_updates_for(self, inputs):
        return self.updates

    def add_loss(self, losses, inputs=None):
        """Adds loss tensors to the layer and to the ``REGULARIZATION_LOSSES`` collection."""
        new = [x for x in (losses if isinstance(losses, (list, tuple)) else [losses])]
        new = [x() if callable(x) else x for x in new]
        new = [x for x in new if x is not None]
        self._losses.extend(new)
        _add_to_collection(new, ops.GraphKeys.REGULARIZATION_LOSSES)

    def add_update(self, updates, inputs=None):
        new = updates if isinstance(updates, (list, tuple)) else [updates]
        for u in new:
            u = u() if callable(u) else u
            self._updates.append(
                u.op if hasattr(u, "op") and not isinstance(u, ops.Operation) else u
            )

    # -- scopes -----------------------------------------------------------------------------
    def _name_scope(self):
        return self._current_scope.original_name_scope

    def _set_scope(self, scope=None):
        if self._scope is None:
            if self._reuse:
                with vs.variable_scope(scope if scope is not None else self._base_name) as sc:
                    self._scope = sc
            else:
                with vs.variable_scope(scope, default_name=self._base_name) as sc:
                    self._scope = sc

    def add_weight(
        self,
        name,
        shape,
        dtype=None,
        initializer=None,
        regularizer=None,
        trainable=None,
        constraint=None,
        use_resource=None,
        synchronization=None,
        aggregation=None,
        partitioner=None,
        getter=None,
        **kwargs,
    ):
        """Creates (or, under reuse, fetches) the variable ``<layer scope>/<name>``."""
        if trainable is None:
            trainable = True
        if dtype is None:
            dtype = self._dtype or dtypes.float32
        self._set_scope(None)
        graph = ops.get_default_graph()
        existing = set(map(id, graph.get_collection(ops.GraphKeys.GLOBAL_VARIABLES)))
        existing |= set(map(id, graph.get_collection(ops.GraphKeys.LOCAL_VARIABLES)))
        reuse = self.built or self._reuse
        with vs.variable_scope(self._scope, reuse=reuse, auxiliary_name_scope=False) as scope:
            self._current_scope = scope
            with ops.name_scope(self._name_scope()):
                if initializer is None:
                    initializer = scope.initializer
                variable = (getter or vs.get_variable)(
                    name,
                    shape=shape,
                    dtype=dtypes.as_dtype(dtype),
                    initializer=initializer,
                    trainable=trainable and self.trainable,
                    constraint=constraint,
                    partitioner=partitioner,
                    **kwargs,
                )
                if regularizer is not None and id(variable) not in existing:
                    with ops.name_scope(name + "/Regularizer"):
                        self.add_loss(regularizer(variable))
        if isinstance(variable, variables_lib.PartitionedVariable):
            # The parts are the weights. TF lists them as non-trainable: the partitioned variable
            # itself is not in the trainable collection, which its layers take for a custom
            # getter that turned trainability off.
            self._non_trainable_weights.extend(variable)
        elif trainable and self.trainable:
            self._trainable_weights.append(variable)
        else:
            self._non_trainable_weights.append(variable)
        return variable

    add_variable = add_weight

    # -- calling ----------------------------------------------------------------------------
    def build(self, input_shape):
        self.built = True

    def call(self, inputs, **kwargs):
        return inputs

    def _convert_inputs(self, inputs):
        if isinstance(inputs, (list, tuple)):
            return type(inputs)(self._convert_inputs(x) for x in inputs)
        if isinstance(inputs, ops.Tensor):
            return inputs
        return ops.convert_to_tensor(inputs, dtype=self._dtype)

    def __call__(self, inputs, *args, **kwargs):
        """Builds the layer on first use, then applies it to ``inputs``."""
        scope = kwargs.pop("scope", None)
        inputs = self._convert_inputs(inputs)
        first = inputs[0] if isinstance(inputs, (list, tuple)) else inputs
        self._graph = first.graph
        with self._graph.as_default():
            self._set_scope(scope)
            reuse = True if self.built else self._reuse
            with vs.variable_scope(self._scope, reuse=reuse, auxiliary_name_scope=False) as sc:
                self._current_scope = sc
                n_updates = len(self._updates)
                with ops.name_scope(self._name_scope()):
                    _check_input_spec(self.input_spec, inputs, self._name)
                    if not self.built:
                        if self._dtype is None and first.dtype.is_floating:
                            self._dtype = first.dtype.base_dtype
                        shapes = (
                            [x.shape for x in inputs]
                            if isinstance(inputs, (list, tuple))
                            else inputs.shape
                        )
                        self.build(shapes)
                        self.built = True
                    outputs = self.call(inputs, *args, **kwargs)
                    if self._activity_regularizer is not None:
                        self._activity_regularization(outputs)
                _add_to_collection(self._updates[n_updates:], ops.GraphKeys.UPDATE_OPS)
        return outputs

    def _activity_regularization(self, outputs):
        from tfstyle.ops import array_ops

        with ops.name_scope("ActivityRegularizer"):
            for out in outputs if isinstance(outputs, (list, tuple)) else [outputs]:
                loss = self._activity_regularizer(out)
                batch = array_ops.cast(array_ops.shape(out)[0], loss.dtype)
                self.add_loss(loss / batch)

    def apply(self, inputs, *args, **kwargs):
        """Same as calling the layer."""
        return self.__call__(inputs, *args, **kwargs)

    def count_params(self):
        import numpy as np

        return int(sum(np.prod(v.shape.as_list()) for v in self.weights))
