"""The op registry: one entry per TF op type name (``MatMul``, ``Conv2D``, ...).

An entry holds the op's static shape rule and its lowering. The lowering is a factory: it is
called once per op with the ``Operation`` (to bind attributes and static input shapes) and
returns a function of JAX arrays. Entries are added by ``tfstyle/ops``; users can register their
own ops with ``register_op``. Nothing here imports JAX.
"""


class OpDef:
    """How one op type is shape-checked and lowered."""

    __slots__ = (
        "type",
        "infer",
        "lower",
        "uses_context",
        "reads_resource",
        "writes_resource",
        "random",
        "resource_effects",
        "cpu_compiler_options",
        "fails_at_run",
        "on_host",
        "is_stateful",
        "host_value",
        "fed_checks",
        "num_tf_inputs",
        "gives_earlier_values",
    )

    def __init__(self, type_name, infer, lower, uses_context, reads_resource, writes_resource):
        self.type = type_name
        self.infer = infer
        self.lower = lower
        self.uses_context = uses_context
        self.reads_resource = reads_resource
        self.writes_resource = writes_resource
        self.random = False
        # For ops that run sub-graphs (``If``, ``While``): ``resource_effects(op)`` lists
        # ``(variable_key, reads, writes)``; such reads are conditional (not checked up front).
        self.resource_effects = None
        # XLA compiler options that executables containing this op want on CPU (the compiler
        # applies them when this jaxlib accepts them; see compiler/executable.py).
        self.cpu_compiler_options = None
        # Ops that may raise while a step runs (``tf.Assert`` on values known only then): a
        # step containing one does not donate its variables, so a failed run loses nothing,
        # and raises the op's own error (``errors.report_in_run``).
        self.fails_at_run = False
        # Ops that run in Python on concrete values, outside the compiled function (file I/O:
        # SaveV2, RestoreV2). One with outputs runs before the compiled function, which is fed
        # its outputs (its inputs come from feeds, constants and string ops only); one without
        # outputs runs after it, in graph order, on the values the run computed for it.
        self.on_host = False
        # Ops with an effect each time a step reaches them (a print, an assert), TF's
        # ``is_stateful``: never evaluated once at trace time, even when every input is a
        # constant, and a cond or loop holding one is an ``If``/``While``, not a stateless one.
        self.is_stateful = False
        # ``host_value(op, *arrays)``: the op's output computed in NumPy, for inputs all known
        # while a step is traced (shape arithmetic). Without it such an op runs as eager XLA
        # ops, each compiled the first time it meets its shapes (10-50 ms apiece).
        self.host_value = None
        # ``fed_checks(op) -> [(tensors, check), ...]``: checks that TF's kernel makes on input
        # values and XLA cannot report (an index out of range reads NaN or a clamped row there).
        # ``check(*values)`` raises TF's error unless the NumPy values of ``tensors`` (inputs of
        # ``op``, or tensors they are computed from) are valid; what it needs besides (static
        # shapes of the other inputs) is bound when ``fed_checks`` is called, once per plan. A
        # session applies a check to the fed values before the compiled run, where its tensors
        # are fed or computed from feeds by integer ops with a ``host_value``
        # (``compiler/fed_checks.py``), so a failing run leaves the variables as they were.
        self.fed_checks = None
        # How many of the op's inputs TF's op takes, where tfstyle gives it more after them
        # (values only its lowering reads, such as what an op imported from TF 1.x is checked
        # against): a GraphDef holds the first ``num_tf_inputs``. ``None``: all of them.
        self.num_tf_inputs = None
        # Ops whose lowering also gives the values of tensors computed before them (a gradient
        # computes its forward pass again, and gives it, so that a fetched loss is not computed
        # twice): the pure ops of a run that do not lead to such an op are lowered after it, so
        # that they use those values.
        self.gives_earlier_values = False


_REGISTRY = {}


def register_op(
    type_name,
    infer=None,
    lower=None,
    *,
    uses_context=False,
    reads_resource=False,
    writes_resource=False,
):
    """Registers op type ``type_name``.

    Args:
      infer: ``infer(op) -> [(dtype, shape_tuple_or_None), ...]``, one per output, computed at
        graph construction from ``op.inputs`` and ``op.get_attr``.
      lower: ``lower(op) -> fn``; ``fn(*input_values)`` returns the output value (or a tuple of
        them for several outputs). With ``uses_context`` the function is called as
        ``fn(ctx, *input_values)``; the context gives access to variables, random keys and
        sub-graphs.
      reads_resource / writes_resource: the op reads / writes the variable whose handle is its
        first input (so the compiler can order reads and donate written state).

    ``lowering(..., random=True)`` marks an op that draws random numbers through
    ``ctx.random_key(op)``.
    """
    if type_name in _REGISTRY:
        raise KeyError(f"Op type {type_name!r} is already registered")
    _REGISTRY[type_name] = OpDef(
        type_name, infer, lower, uses_context, reads_resource, writes_resource
    )
    return _REGISTRY[type_name]


def lowering(
    type_name,
    *,
    uses_context=False,
    reads_resource=False,
    writes_resource=False,
    random=False,
    on_host=False,
):
    """Decorator form: registers the decorated factory as the lowering of ``type_name``.

    The shape rule is attached with ``shape_rule`` (either order). With ``on_host`` the
    factory's function runs in Python on NumPy values (strings as object arrays of bytes) or
    device arrays, outside the compiled function (see ``OpDef.on_host``).
    """

    def deco(fn):
        entry = _REGISTRY.get(type_name)
        if entry is None:
            entry = register_op(type_name)
        entry.lower = fn
        entry.uses_context = uses_context
        entry.reads_resource = reads_resource
        entry.writes_resource = writes_resource
        entry.random = random
        entry.on_host = on_host
        if random:
            entry.uses_context = True
        return fn

    return deco


def shape_rule(type_name):
    def deco(fn):
        entry = _REGISTRY.get(type_name)
        if entry is None:
            entry = register_op(type_name)
        entry.infer = fn
        return fn

    return deco


def get(type_name):
    return _REGISTRY.get(type_name)


def registered_types():
    return sorted(_REGISTRY)
