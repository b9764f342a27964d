"""``tfstyle.train.OptaxOptimizer``: a ``tf.train.Optimizer`` that runs any optax
``GradientTransformation`` (beyond TF)."""

from tfstyle.framework import ops
from tfstyle.ops import control_flow_ops, optax_ops
from tfstyle.ops.variables import Variable

from .optimizer import Optimizer


class OptaxOptimizer(Optimizer):
    """Trains TF1 variables with an optax transformation: ``OptaxOptimizer(optax.adam(1e-3))``.

    ``minimize``/``apply_gradients`` work as for the TF optimizers. The parameters reach optax
    as a dict keyed by variable name (``{"dense/kernel": ..., "dense/bias": ...}``), so masks
    and partitions can name them. The optax state lives in non-trainable variables
    ``<name>_state/<path>`` (``Optax_state/0/mu/dense/kernel``), initialised from the
    variables' initial values by ``global_variables_initializer``, so a training step stays
    one compiled function.
    """

    def __init__(self, transformation, name="Optax", use_locking=False):
        super().__init__(use_locking, name)
        if not (hasattr(transformation, "init") and hasattr(transformation, "update")):
            raise TypeError(
                f"OptaxOptimizer needs an optax GradientTransformation, got {transformation!r}"
            )
        self._transformation = transformation
        self._states = {}  # (graph, variable names) -> (state variables, types, treedef)

    def _state_for(self, var_list):
        graph = var_list[0].graph
        key = (graph, tuple(sorted(v.op.name for v in var_list)))
        if key not in self._states:
            initial = {v.op.name: v.initial_value for v in var_list}
            paths, types, treedef = optax_ops.state_structure(self._transformation, initial)
            with graph.as_default(), ops.control_dependencies(None), graph.name_scope(None):
                with graph.name_scope(self._name + "_state") as scope:
                    values = (
                        optax_ops.optax_init(self._transformation, initial, name="Init")
                        if paths
                        else []
                    )
                state = [
                    Variable(value, trainable=False, name=scope + path)
                    for path, value in zip(paths, values)
                ]
            self._states[key] = (state, types, treedef)
        return self._states[key]

    def _create_slots(self, var_list):
        self._state_for(var_list)

    def _apply_all(self, grads_and_vars):
        var_list = [v for _, v in grads_and_vars]
        state, types, treedef = self._state_for(var_list)
        # optax transforms dense arrays: an IndexedSlices becomes its dense tensor.
        grads = {v.op.name: ops.convert_to_tensor(g) for g, v in grads_and_vars}
        params = {v.op.name: v.value() for v in var_list}
        new_params, new_state = optax_ops.optax_update(
            self._transformation, grads, params, [s.value() for s in state], types, treedef
        )
        assigns = [v.assign(new_params[v.op.name], read_value=False) for v in var_list]
        assigns += [s.assign(n, read_value=False) for s, n in zip(state, new_state)]
        return [control_flow_ops.group(*assigns, name="update")]

    def variables(self):
        graph = ops.get_default_graph()
        out = [v for (g, _), (state, _, _) in self._states.items() if g is graph for v in state]
        return sorted(out, key=lambda v: v.name)
