"""The global step: ``get_or_create_global_step``, ``get_global_step``, ``create_global_step``,
``global_step`` and ``assert_global_step``."""

from tfstyle.framework import dtypes, ops
from tfstyle.framework.ops import GraphKeys, Tensor
from tfstyle.ops import array_ops
from tfstyle.ops.variables import Variable


def global_step(sess, global_step_tensor):
    """The value of ``global_step_tensor`` in ``sess``, as a Python ``int``."""
    return int(sess.run(global_step_tensor))


def get_global_step(graph=None):
    """The global step variable of ``graph`` (the ``GLOBAL_STEP`` collection, else the tensor
    ``global_step:0``), or ``None``."""
    graph = graph or ops.get_default_graph()
    tensors = graph.get_collection(GraphKeys.GLOBAL_STEP)
    if len(tensors) == 1:
        step = tensors[0]
    elif not tensors:
        try:
            step = graph.get_tensor_by_name("global_step:0")
        except (KeyError, ValueError):
            return None
    else:
        return None
    assert_global_step(step)
    return step


def create_global_step(graph=None):
    """Creates the ``global_step`` variable (int64 scalar, zero, not trainable) in ``graph``.

    Raises ``ValueError`` if it already exists.
    """
    graph = graph or ops.get_default_graph()
    if get_global_step(graph) is not None:
        raise ValueError('"global_step" already exists.')
    with graph.as_default(), graph.name_scope(None), ops.control_dependencies(None):
        return Variable(
            lambda: array_ops.zeros([], dtypes.int64, name="zeros"),
            trainable=False,
            name=GraphKeys.GLOBAL_STEP,
            dtype=dtypes.int64,
            collections=[GraphKeys.GLOBAL_VARIABLES, GraphKeys.GLOBAL_STEP],
        )


def get_or_create_global_step(graph=None):
    """The global step of ``graph``, created if there is none."""
    graph = graph or ops.get_default_graph()
    step = get_global_step(graph)
    if step is None:
        step = create_global_step(graph)
    return step


def assert_global_step(global_step_tensor):
    """Raises ``TypeError`` unless ``global_step_tensor`` is an integer scalar variable/tensor."""
    if not isinstance(global_step_tensor, (Variable, Tensor)):
        raise TypeError(
            f'Existing "global_step" must be a Variable or Tensor: {global_step_tensor}.'
        )
    if not global_step_tensor.dtype.base_dtype.is_integer:
        raise TypeError(
            f'Existing "global_step" does not have integer type: {global_step_tensor.dtype}'
        )
    shape = global_step_tensor.get_shape()
    if shape.ndims != 0 and shape.is_fully_defined():
        raise TypeError(f'Existing "global_step" is not scalar: {shape}')


_GLOBAL_STEP_READ_KEY = "global_step_read_op_cache"


def _get_or_create_global_step_read(graph=None):
    """A tensor reading the global step at the start of a run (``global_step/add:0``), made
    once per graph; ``None`` without a global step.

    Hooks fetch it beside the train op: it sees the step before that run's increment, and
    the variable's initial value while the variable is not yet initialized.
    """
    from tfstyle.ops import control_flow_ops, variables

    graph = graph or ops.get_default_graph()
    cached = graph.get_collection(_GLOBAL_STEP_READ_KEY)
    if cached:
        return cached[0]
    step = get_global_step(graph)
    if step is None:
        return None
    with graph.as_default(), graph.name_scope(None), graph.name_scope(step.op.name + "/"):
        if isinstance(step, Variable):
            value = control_flow_ops.cond(
                variables.is_variable_initialized(step),
                step.read_value,
                lambda: step.initial_value,
            )
        else:
            value = step
        read = value + 0
    graph.add_to_collection(_GLOBAL_STEP_READ_KEY, read)
    return read
