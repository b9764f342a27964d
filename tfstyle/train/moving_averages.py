"""``tf.train.ExponentialMovingAverage`` and ``assign_moving_average``, as in TF 1.x.

``apply(var_list)`` creates one shadow variable per variable or tensor, named
``<name>/ExponentialMovingAverage`` (``variables_to_restore`` maps those names back to the
variables, so that a ``Saver`` restores the averages into them), and returns one op that moves
every shadow towards its value: ``shadow -= (shadow - value) * (1 - decay)``, with
``decay = min(decay, (1 + num_updates) / (10 + num_updates))`` when ``num_updates`` is given.
"""

from tfstyle.framework import dtypes, ops
from tfstyle.ops import array_ops, control_flow_ops, init_ops, math_ops
from tfstyle.ops import variable_scope as _vs
from tfstyle.ops import variables as _variables
from tfstyle.ops.variables import Variable

from .optimizer import _create_slot

_FLOATS = (dtypes.bfloat16, dtypes.float16, dtypes.float32, dtypes.float64)


def assign_moving_average(variable, value, decay, zero_debias=True, name=None):
    """``variable -= (variable - value) * (1 - decay)``; returns the updated value.

    With ``zero_debias`` (for a variable that starts at zero) the update goes to a biased twin
    ``<variable>/biased`` counted by ``<variable>/local_step``, and ``variable`` is assigned
    the twin divided by ``1 - decay ** local_step``."""
    with ops.name_scope(name, "AssignMovingAvg", [variable, value, decay]) as scope:
        one_minus = ops.convert_to_tensor(1.0 - decay, name="decay")
        if one_minus.dtype != variable.dtype.base_dtype:
            one_minus = array_ops.cast(one_minus, variable.dtype.base_dtype)
        if zero_debias:
            return _zero_debias(variable, value, one_minus)
        return _variables.assign_sub(variable, (variable - value) * one_minus, name=scope)


def _zero_debias(variable, value, one_minus):
    with _vs.variable_scope(variable.op.name, values=[variable, value, one_minus]):
        biased = _vs.get_variable(
            _unique_in_scope("biased"),
            shape=variable.get_shape(),
            dtype=variable.dtype.base_dtype,
            initializer=init_ops.zeros_initializer(),
            trainable=False,
        )
        local_step = _vs.get_variable(
            _unique_in_scope("local_step"),
            shape=[],
            dtype=variable.dtype.base_dtype,
            initializer=init_ops.zeros_initializer(),
            trainable=False,
        )
    update_biased = _variables.assign_sub(biased, (biased - value) * one_minus)
    update_step = local_step.assign_add(1)
    bias_factor = 1 - math_ops.pow(1.0 - one_minus, update_step)
    return _variables.assign(variable, update_biased / bias_factor, name=ops.get_name_scope() + "/")


def _unique_in_scope(name):
    """``name``, or ``name_1``, ``name_2``... if the current variable scope already has it."""
    scope = _vs.get_variable_scope()
    if scope.reuse:
        return name
    taken = {v.op.name for v in _variables.global_variables()}
    full = scope.name + "/" + name
    if full not in taken:
        return name
    i = 1
    while f"{full}_{i}" in taken:
        i += 1
    return f"{name}_{i}"


def _zeros_shadow(tensor, name):
    """A zero-initialized, non-trainable ``<tensor's op name>/<name>`` of ``tensor``'s shape."""
    graph = tensor.graph
    with graph.as_default(), ops.control_dependencies(None), graph.name_scope(None):
        zeros = array_ops.zeros(tensor.get_shape(), tensor.dtype.base_dtype)
        return Variable(zeros, trainable=False, name=tensor.op.name + "/" + name)


class ExponentialMovingAverage:
    """Moving averages of variables (``tf.train.ExponentialMovingAverage``)."""

    def __init__(self, decay, num_updates=None, zero_debias=False, name="ExponentialMovingAverage"):
        self._decay = decay
        self._num_updates = num_updates
        self._zero_debias = zero_debias
        self._name = name
        self._averages = {}

    @property
    def name(self):
        return self._name

    def apply(self, var_list=None):
        """Creates the shadow variables of ``var_list`` (default: the trainable variables) and
        returns the op that updates them all."""
        if var_list is None:
            var_list = _variables.trainable_variables()
        var_list = list(var_list)
        debiased = set()
        for var in var_list:
            if var.dtype.base_dtype not in _FLOATS:
                raise TypeError(f"The variables must be half, float, or double: {var.name}")
            if var in self._averages:
                continue
            if isinstance(var, Variable):
                # The variable's value if it is initialized, else its initial value: the
                # shadow starts where the variable does, whatever order initializers run in.
                avg = _create_slot(var, var.initialized_value(), self._name)
                ops.add_to_collection(ops.GraphKeys.MOVING_AVERAGE_VARIABLES, var)
            else:
                avg = _zeros_shadow(var, self._name)
                if self._zero_debias:
                    debiased.add(avg)
            self._averages[var] = avg
        with ops.name_scope(self._name) as scope:
            decay = ops.convert_to_tensor(self._decay, dtype=dtypes.float32, name="decay")
            if self._num_updates is not None:
                num_updates = array_ops.cast(self._num_updates, dtypes.float32, name="num_updates")
                decay = math_ops.minimum(decay, (1.0 + num_updates) / (10.0 + num_updates))
            updates = [
                assign_moving_average(self._averages[v], v, decay, self._averages[v] in debiased)
                for v in var_list
            ]
            return control_flow_ops.group(*updates, name=scope)

    def average(self, var):
        """The shadow variable of ``var``, or None."""
        return self._averages.get(var)

    def average_name(self, var):
        """The name of ``var``'s shadow variable (what it will be before ``apply``)."""
        if var in self._averages:
            return self._averages[var].op.name
        return ops.get_default_graph().unique_name(
            var.op.name + "/" + self._name, mark_as_used=False
        )

    def variables_to_restore(self, moving_avg_variables=None):
        """``{checkpoint name: variable}`` for a ``Saver`` that restores the averages into the
        variables (``moving_avg_variables``, default the trainable and moving-average
        variables) and every other global variable under its own name."""
        if moving_avg_variables is None:
            moving_avg_variables = _variables.trainable_variables()
            moving_avg_variables += _variables.moving_average_variables()
        moving_avg_variables = list(dict.fromkeys(moving_avg_variables))
        name_map = {self.average_name(v): v for v in moving_avg_variables}
        names = {v.name for v in moving_avg_variables}
        for v in _variables.global_variables():
            if v.name not in names and v.op.name not in name_map:
                name_map[v.op.name] = v
        return name_map
