"""What every op module shares: creating ops, converting inputs, common shape rules.

Shape rules work on tuples of ``int``/``None`` (or ``None`` for unknown rank) in plain Python,
so that building a graph is fast and linear in its size.
"""

import numpy as np

from tfstyle.framework import dtypes, errors, ops, registry
from tfstyle.framework.ops import Tensor


def make_op(op_type, inputs, attrs=None, name=None, graph=None, **kwargs):
    """Creates an op in the inputs' graph; ``name`` is a scope (``"add/"``) or a base name."""
    if graph is None:
        graph = ops.get_default_graph()
        if inputs and not graph._can_capture_from(inputs[0].graph):
            graph = inputs[0].graph
    return graph.create_op(op_type, list(inputs), attrs, name=name, **kwargs)


def output(op_type, inputs, attrs=None, name=None, **kwargs):
    """``make_op`` for single-output ops: returns the output tensor."""
    return make_op(op_type, inputs, attrs, name, **kwargs)._outputs[0]


def to_tensor(value, dtype=None, name=None, preferred_dtype=None):
    return ops.convert_to_tensor(value, dtype=dtype, name=name, preferred_dtype=preferred_dtype)


def dims(t):
    """The static shape of tensor ``t`` as a tuple of int/None, or None for unknown rank."""
    return t._shape._dims


def register_simple(type_name, infer, make_fn):
    """Registers an op whose lowering only binds attributes: ``make_fn(op) -> fn(*inputs)``."""
    entry = registry.get(type_name) or registry.register_op(type_name)
    entry.infer = infer
    entry.lower = make_fn
    return entry


# -- shape rules -----------------------------------------------------------------------------
def broadcast_dims(a, b):
    """NumPy broadcasting of two static shapes; raises ``ValueError`` as TF does."""
    if a is None or b is None:
        return None
    if a == b:
        return a
    n = max(len(a), len(b))
    a = (1,) * (n - len(a)) + tuple(a)
    b = (1,) * (n - len(b)) + tuple(b)
    out = []
    for x, y in zip(a, b):
        if x == 1:
            out.append(y)
        elif y == 1:
            out.append(x)
        elif x is None:
            out.append(y)
        elif y is None or x == y:
            out.append(x)
        else:
            raise ValueError(
                f"Dimensions must be equal, but are {x} and {y} for shapes {list(a)} and {list(b)}"
            )
    return tuple(out)


def same_as_input(op):
    t = op._inputs[0]
    return [(t._dtype, t._shape)]


def broadcast_rule(op):
    a, b = op._inputs[0], op._inputs[1]
    try:
        shape = broadcast_dims(a._shape._dims, b._shape._dims)
    except ValueError as e:
        raise ValueError(
            f"{e} for '{{{{node {op.name}}}}} = {op.type}[T=DT_{a.dtype.name.upper()}]"
            f"({a.op.name}, {b.op.name})' with input shapes: {a.shape}, {b.shape}."
        ) from None
    return [(a._dtype, shape)]


def bool_broadcast_rule(op):
    return [(dtypes.bool, broadcast_rule(op)[0][1])]


# -- static values ---------------------------------------------------------------------------
_CONSTANT_FOLDERS = {}


def constant_folder(type_name):
    """Registers ``fn(tensor)``, how ``constant_value`` finds the static value of an op that is
    not a function of its inputs' values (``Const``, ``Shape`` of a tensor of static shape, a
    captured ``Placeholder``). An op computed from its inputs' values registers a
    ``host_evaluator`` instead, which also serves while a step is traced."""

    def deco(fn):
        _CONSTANT_FOLDERS[type_name] = fn
        return fn

    return deco


def host_evaluator(type_name):
    """Registers ``fn(op, *arrays)``, the NumPy computation of a (registered) op's output from
    its inputs' values: used for values known while a step is traced, and by ``constant_value``
    on the inputs' static values. For inputs the op rejects it raises ``TypeError`` or
    ``ValueError``, as its lowering would: ``constant_value`` is then ``None``, and a trace
    reports TF's ``InvalidArgumentError``."""

    def deco(fn):
        registry.get(type_name).host_value = fn
        return fn

    return deco


def fold_with_host_value(tensor):
    """``constant_value`` of an op that has a ``host_value``: it on the static inputs."""
    op = tensor.op
    vals = [constant_value(x) for x in op.inputs]
    if any(v is None for v in vals):
        return None
    return op._def.host_value(op, *vals)


def constant_value(tensor):
    """The value of ``tensor`` if it is known at graph construction, else ``None``."""
    if not isinstance(tensor, Tensor):
        return None
    fold = _CONSTANT_FOLDERS.get(tensor.op.type)
    if fold is None:
        op_def = tensor.op._def
        if op_def is None or op_def.host_value is None:
            return None
        fold = fold_with_host_value
    try:
        return fold(tensor)
    except (TypeError, ValueError, IndexError):
        return None


def constant_shape(tensor):
    """A shape tensor's static value as a tuple with ``None`` for unknown (-1) entries."""
    v = constant_value(tensor)
    if v is not None:
        return tuple(None if int(d) < 0 else int(d) for d in np.reshape(v, [-1]))
    if tensor.op.type == "Pack":
        return tuple(
            None if (c := constant_value(t)) is None or int(c) < 0 else int(c)
            for t in tensor.op.inputs
        )
    if tensor.op.type == "Shape":
        return dims(tensor.op.inputs[0])
    n = dims(tensor)
    if n is not None and len(n) == 1 and n[0] is not None:
        return (None,) * n[0]
    return None


def static_ints(value, what="value"):
    """A concrete (non-traced) integer array from a lowering argument, as a NumPy array."""
    try:
        return np.asarray(value).astype(np.int64)
    except Exception:  # noqa: BLE001 - JAX raises its own error types for tracers
        raise errors.NeedsStaticValue(
            f"tfstyle needs {what} to be known when the graph is compiled (a constant or "
            "computed from static shapes), but it depends on a fed value or a variable."
        ) from None


class RunCapacities:
    """Capacities known only when steps run (a differentiated loop's iterations, a list's
    elements): per op, the one a step is traced with, ``first`` until a run needs more. A run
    finds it short by a check made as it runs (such a step does not donate its state), whose
    error (``short``) grows it when the executable calls its ``rerun_after``, before compiling
    and running the step again."""

    def __init__(self, first=32):
        import weakref

        self._of = weakref.WeakKeyDictionary()
        self.first = first

    def __getitem__(self, op):
        return self._of.get(op, self.first)

    def short(self, op, capacity, needed, what):
        """The error of a run that needed ``needed`` where ``capacity`` (of ``what``) was
        compiled: rerun with the next power of two."""
        error = errors.InvalidArgumentError(
            None,
            op,
            f"{op.name} ({op.type}): the run needed {needed} {what} where the step was compiled "
            f"for {capacity}\n\t [[{{{{node {op.name}}}}}]]",
        )

        def grow():
            self._of[op] = max(self[op], 1 << (max(needed, 2) - 1).bit_length())

        error.rerun_after = grow
        return error


_UNSIGNED = {
    np.dtype(t): np.dtype(t.replace("int", "uint")) for t in ("int8", "int16", "int32", "int64")
}


def any_outside(values, limit):
    """Whether an integer array has a value outside ``[0, limit)``: one reduction, as the
    unsigned view of a negative value is at least ``2**(bits-1)`` (for the checks of fed ids,
    which a run pays for)."""
    values = np.asarray(values)
    if not values.size:
        return False
    unsigned = _UNSIGNED.get(values.dtype)
    return (values.view(unsigned) if unsigned is not None else values).max() >= limit


class _OpView:
    """``op`` as another op type's lowering factory sees it: other inputs, extra attributes."""

    def __init__(self, op, inputs, attrs):
        self._op = op
        self._inputs = list(inputs)
        self._attrs = {**op._attrs, **attrs}

    def __getattr__(self, name):
        return getattr(self._op, name)


def forward_lowering(op, forward_type, inputs=None, attrs=None):
    """The lowering of ``forward_type`` bound to ``op``'s attributes (updated with ``attrs``) and
    to ``inputs`` (tensors; ``op``'s own by default): TF's gradient ops (``MaxPoolGrad``, ...)
    lower as the vjp of their forward op, so the math is defined once."""
    view = _OpView(op, op._inputs if inputs is None else inputs, attrs or {})
    return registry.get(forward_type).lower(view)
