"""``tf.nn.dynamic_rnn``, ``static_rnn`` and their bidirectional forms, ``raw_rnn``;
``tf.reverse_sequence``.

``dynamic_rnn`` traces one step of the cell into a function graph and runs it over the time
axis as one ``TfstyleScan`` op, lowered to a single ``lax.scan`` (so the whole recurrence is
one XLA loop and reverse-differentiable). The tensors returned carry TF's names: outputs
``rnn/transpose_1:0`` (or ``rnn/TensorArrayV2Stack/TensorListStack:0`` when time-major), final
state ``rnn/while/Identity_4:0``, .... With ``sequence_length``, steps past a sequence's length
output zeros and copy the state through, as in TF. ``static_rnn`` unrolls the cell in Python.
``raw_rnn`` is TF's ``while_loop`` driven by a user's loop function, writing a ``TensorArray``.
"""

from tfstyle.framework import dtypes, ops
from tfstyle.framework import tensor_shape as _shape
from tfstyle.ops import _base, array_ops, math_ops, reduction_ops
from tfstyle.ops import control_flow_ops as _cf
from tfstyle.ops import variable_scope as vs
from tfstyle.ops.constant_op import constant
from tfstyle.ops.tensor_array_ops import TensorArray

from .rnn_cell_impl import _as_shape_list, _concat_sizes, assert_like_rnncell


# == ReverseSequence ============================================================================
def _reverse_sequence_lower(op):
    seq_axis, batch_axis = op._attrs["seq_dim"], op._attrs["batch_dim"]

    def fn(x, lengths):
        import jax.numpy as jnp

        x = jnp.asarray(x)
        t = x.shape[seq_axis]
        steps = jnp.arange(t)
        lengths = jnp.asarray(lengths).astype(jnp.int32)[:, None]
        # Position s of a sequence of length n reads position n - 1 - s while s < n.
        source = jnp.where(steps[None, :] < lengths, lengths - 1 - steps[None, :], steps[None, :])
        shape = [1] * x.ndim
        shape[batch_axis], shape[seq_axis] = x.shape[batch_axis], t
        if batch_axis > seq_axis:
            source = source.T
        source = jnp.broadcast_to(source.reshape(shape), x.shape)
        return jnp.take_along_axis(x, source, axis=seq_axis)

    return fn


def _reverse_sequence_infer(op):
    x, lengths = op._inputs
    dims = _base.dims(x)
    n = _base.dims(lengths)
    if dims is not None and n is not None and n and n[0] is not None:
        b = op._attrs["batch_dim"]
        if dims[b] is not None and dims[b] != n[0]:
            raise ValueError(
                f"Dimensions must be equal, but are {dims[b]} and {n[0]} for "
                f"'{{{{node {op.name}}}}} = ReverseSequence'"
            )
        dims = dims[:b] + (n[0],) + dims[b + 1 :]
    return [(x.dtype, dims)]


_base.register_simple("ReverseSequence", _reverse_sequence_infer, _reverse_sequence_lower)


def reverse_sequence(
    input,  # noqa: A002 - TF's argument name
    seq_lengths,
    seq_axis=None,
    batch_axis=None,
    name=None,
    seq_dim=None,
    batch_dim=None,
):
    """Reverses the first ``seq_lengths[b]`` elements along ``seq_axis`` of each slice ``b``
    along ``batch_axis`` (default 0); the rest stays in place."""
    seq_axis = seq_dim if seq_axis is None else seq_axis
    batch_axis = (batch_dim if batch_dim is not None else 0) if batch_axis is None else batch_axis
    if seq_axis is None:
        raise TypeError("reverse_sequence() missing required argument: 'seq_axis'")
    with ops.name_scope(name, "ReverseSequence", [input, seq_lengths]) as scope:
        x = ops.convert_to_tensor(input, name="input")
        lengths = ops.convert_to_tensor(seq_lengths, name="seq_lengths")
        n = x.shape.ndims
        if n is not None:
            seq_axis, batch_axis = seq_axis % n, batch_axis % n
            if seq_axis == batch_axis:
                raise ValueError(
                    "batch_dim == seq_dim == "
                    f"{seq_axis} for '{{{{node {scope[:-1]}}}}} = ReverseSequence'"
                )
        attrs = {"seq_dim": seq_axis, "batch_dim": batch_axis, "T": x.dtype, "Tlen": lengths.dtype}
        return _base.output("ReverseSequence", [x, lengths], attrs, name=scope)


# == helpers ====================================================================================
def _transpose_batch_time(x):
    """Swaps the first two axes (``[batch, time, ...]`` <-> ``[time, batch, ...]``)."""
    static = x.shape
    if static.ndims is not None and static.ndims < 2:
        return x
    x_rank = array_ops.rank(x)
    perm = array_ops.concat(([1, 0], array_ops.range(2, x_rank)), axis=0)
    x_t = array_ops.transpose(x, perm)
    if static.ndims is not None:
        dims = static.as_list()
        x_t.set_shape([dims[1], dims[0]] + dims[2:])
    return x_t


def _best_effort_input_batch_size(flat_input):
    for x in flat_input:
        shape = x.shape
        if shape.ndims is None:
            continue
        if shape.ndims < 2:
            raise ValueError(
                f"Input tensor should have rank >= 2. Received input={x} of rank {shape.ndims}"
            )
        b = shape.as_list()[1]
        if b is not None:
            return b
    return array_ops.shape(flat_input[0])[1]


def _infer_state_dtype(explicit_dtype, state):
    if explicit_dtype is not None:
        return dtypes.as_dtype(explicit_dtype)
    flat = _cf._flatten(state)
    if not flat:
        raise ValueError(f"Unable to infer dtype from argument state={state}.")
    kinds = [t.dtype for t in flat]
    if any(k != kinds[0] for k in kinds):
        raise ValueError(
            f"Argument state={state} has tensors of different inferred dtypes. Unable to infer "
            f"a single representative dtype. Dtypes received: {kinds}"
        )
    return kinds[0]


def _initial_state(cell, initial_state, batch_size, dtype):
    if initial_state is not None:
        return initial_state
    if not dtype:
        raise ValueError("If no initial_state is provided, argument `dtype` must be specified")
    if getattr(cell, "get_initial_state", None) is not None:
        return cell.get_initial_state(inputs=None, batch_size=batch_size, dtype=dtype)
    return cell.zero_state(batch_size, dtype)


def _zeros(batch_size, size, dtype):
    shape, static = _concat_sizes(batch_size, size)
    z = array_ops.zeros(shape, dtype=dtype)
    if static is not None:
        z.set_shape(static)
    return z


def _copy_through(copy_cond, old, new):
    """``old`` where the step is past the sequence's end (``copy_cond[b]``), else ``new``."""
    if new.shape.ndims == 0:
        return new
    return math_ops.where(copy_cond, old, new)


# == dynamic_rnn ================================================================================
def dynamic_rnn(
    cell,
    inputs,
    sequence_length=None,
    initial_state=None,
    dtype=None,
    parallel_iterations=None,
    swap_memory=False,
    time_major=False,
    scope=None,
):
    """Runs ``cell`` over the time axis of ``inputs``: ``(outputs, final_state)``.

    ``inputs`` is ``[batch, time, depth]`` (``[time, batch, depth]`` with ``time_major``), or a
    nested structure of such tensors; ``outputs`` has the same layout with ``cell.output_size``
    as depth. Variables are created under ``scope`` (default ``rnn``). ``initial_state``
    defaults to ``cell.zero_state`` (then ``dtype`` is required). With ``sequence_length``
    (a ``[batch]`` int vector) outputs past a sequence's end are zero and the final state is
    the state at its last step.
    """
    assert_like_rnncell("cell", cell)
    with vs.variable_scope(scope or "rnn"):
        flat_input = [ops.convert_to_tensor(x) for x in _cf._flatten(inputs)]
        if not time_major:
            flat_input = [_transpose_batch_time(x) for x in flat_input]
        if sequence_length is not None:
            sequence_length = array_ops.cast(sequence_length, dtypes.int32)
            if sequence_length.shape.ndims not in (None, 1):
                raise ValueError(
                    "Argument sequence_length must be a vector of length batch_size. Received "
                    f"sequence_length={sequence_length} of shape: {sequence_length.shape}"
                )
            sequence_length = array_ops.identity(sequence_length, name="sequence_length")
        batch_size = _best_effort_input_batch_size(flat_input)
        state = _initial_state(cell, initial_state, batch_size, dtype)
        if sequence_length is not None:
            _check_batch(sequence_length, batch_size)
            sequence_length = array_ops.identity(sequence_length, name="CheckSeqLen")
        inputs = _cf._pack(inputs, flat_input) if _cf._is_nested(inputs) else flat_input[0]
        outputs, final_state = _dynamic_rnn_loop(cell, inputs, state, sequence_length, dtype)
        if not time_major:
            flat = [_transpose_batch_time(o) for o in _cf._flatten(outputs)]
            outputs = _cf._pack(outputs, flat) if _cf._is_nested(outputs) else flat[0]
        return outputs, final_state


def _check_batch(sequence_length, batch_size):
    n = sequence_length.shape.as_list()[0] if sequence_length.shape.ndims == 1 else None
    if isinstance(batch_size, int) and n is not None and n != batch_size:
        raise ValueError(
            f"Expected shape for Tensor {sequence_length.name} is [{batch_size}] but saw shape: "
            f"[{n}]"
        )


def _dynamic_rnn_loop(cell, inputs, initial_state, sequence_length, dtype):
    flat_input = _cf._flatten(inputs)
    flat_output_size = _cf._flatten(cell.output_size)
    time_steps = array_ops.shape(flat_input[0])[0]
    batch_size = _best_effort_input_batch_size(flat_input)
    got = [x.shape.with_rank_at_least(3) for x in flat_input]
    const_time_steps, const_batch_size = got[0].as_list()[:2]
    for x, shape in zip(flat_input, got):
        if not shape[2:].is_fully_defined():
            raise ValueError(
                "Input size (depth of inputs) must be accessible via shape inference, but saw "
                f"value None for input={x}."
            )
        dims = shape.as_list()
        if dims[0] != const_time_steps:
            raise ValueError(
                "Time steps is not the same for all the elements in the input in a batch. "
                f"Received time steps={dims[0]} for input={x}."
            )
        if dims[1] != const_batch_size:
            raise ValueError(
                "Batch_size is not the same for all the elements in the input. Received batch "
                f"size={dims[1]} for input={x}."
            )
    state_dtype = _infer_state_dtype(dtype, initial_state)
    zero_output = [_zeros(batch_size, size, state_dtype) for size in flat_output_size]
    time = constant(0, dtype=dtypes.int32, name="time")
    del time_steps  # TF's loop bound; lax.scan runs over the static time axis instead

    flat_state = [ops.convert_to_tensor(s) for s in _cf._flatten(initial_state)]
    state_structure = initial_state

    def step(carry, input_t):
        t, state = carry
        for x, shape in zip(_cf._flatten(input_t), got):
            x.set_shape(shape[1:])
        output, new_state = cell(input_t, state)
        flat_out = _cf._flatten(output)
        flat_new = _cf._flatten(new_state)
        if len(flat_new) != len(flat_state) or len(flat_out) != len(zero_output):
            raise ValueError(
                "The two structures don't have the same nested structure.\n\n"
                f"First structure: {state}\n\nSecond structure: {new_state}"
            )
        if sequence_length is not None:
            copy_cond = t >= sequence_length
            flat_out = [_copy_through(copy_cond, z, o) for z, o in zip(zero_output, flat_out)]
            flat_new = [
                _copy_through(copy_cond, s, n) for s, n in zip(_cf._flatten(state), flat_new)
            ]
        return [t + 1, flat_new], flat_out

    outer = _cf._outer_graph(*flat_input, *flat_state)
    vs._get_default_variable_store()  # cells create their variables here from inside the loop
    carry_specs = [(time.dtype, ())] + [(s.dtype, s.shape) for s in flat_state]
    elem_specs = [(x.dtype, x.shape[1:]) for x in flat_input]
    structure = [[time, state_structure], inputs]
    with ops.name_scope("while") as while_scope:
        pass
    fg, _ = _cf._trace(outer, "while_body", step, structure, carry_specs + elem_specs)
    n_carry = len(carry_specs)
    for (dt, _), out in zip(carry_specs, fg.outputs[:n_carry]):
        if out.dtype != dt:
            raise TypeError(
                f"The cell's new state has dtype {out.dtype.name}, but its state entered the "
                f"loop as {dt.name}."
            )
    carry_shapes = [
        _cf._relaxed(_cf._shape_tuple(s.shape), _cf._shape_tuple(o.shape))
        for s, o in zip([time, *flat_state], fg.outputs[:n_carry])
    ]
    ys = fg.outputs[n_carry:]
    y_shapes = [
        None if y.shape.ndims is None else (const_time_steps, *y.shape.as_list()) for y in ys
    ]
    captured = _cf._captured_inputs(fg)
    op = _base.make_op(
        "TfstyleScan",
        [*flat_input, time, *flat_state, *captured],
        {
            "fn": fg,
            "n_elems": len(flat_input),
            "n_carry": n_carry,
            "reverse": False,
            "init_from_first": False,
            "emit_init": False,
            "Tout": [o.dtype for o in fg.outputs],
            "output_shapes": carry_shapes + y_shapes,
        },
        name=while_scope,
        graph=outer,
    )
    _cf._outer_control(op, fg)
    graph = ops.get_default_graph()
    with ops.name_scope(while_scope):
        # TF's loop variables before the state: counter, bound, time, one TensorArray per output.
        for _ in range(3 + len(ys)):
            graph.unique_name("Identity")
        final_state = [array_ops.identity(t, name="Identity") for t in op._outputs[1:n_carry]]
    outputs = []
    for i, y in enumerate(op._outputs[n_carry:]):
        with ops.name_scope("TensorArrayV2Stack" if i == 0 else f"TensorArrayV2Stack_{i}"):
            out = array_ops.identity(y, name="TensorListStack")
        size = _concat_static(const_time_steps, const_batch_size, flat_output_size[i])
        if size is not None:
            out.set_shape(size)
        outputs.append(out)
    final_state = (
        _cf._pack(state_structure, final_state)
        if _cf._is_nested(state_structure)
        else final_state[0]
    )
    output_size = cell.output_size
    outputs = _cf._pack(output_size, outputs) if _cf._is_nested(output_size) else outputs[0]
    return outputs, final_state


def _concat_static(t, b, size):

    s = _as_shape_list(size)
    return None if s is None else [t, b] + s


# == raw_rnn ====================================================================================
def _assert_same_structure(a, b):
    """TF's ``nest.assert_same_structure``: ``ValueError`` for a different nesting, ``TypeError``
    for the same nesting in different sequence types."""
    if not _cf._same_structure(a, b, check_types=False):
        raise ValueError(
            "The two structures don't have the same nested structure.\n\n"
            f"First structure: {a}\n\nSecond structure: {b}"
        )
    if not _cf._same_structure(a, b):
        raise TypeError(
            "The two structures don't have the same sequence type. Input structure has type "
            f"{type(a)}, while shallow structure has type {type(b)}."
        )


def _map(fn, *structures):
    flat = [fn(*xs) for xs in zip(*(_cf._flatten(s) for s in structures))]
    return _cf._pack(structures[0], flat) if _cf._is_nested(structures[0]) else flat[0]


def _batch_dimension(x):
    dims = ops.convert_to_tensor(x).shape.dims
    return _shape.Dimension(None) if dims is None else dims[0]


def _zeros_like_emit(batch_size, emit):
    """Zeros of shape ``[batch_size] + tf.shape(emit)``."""
    batch = batch_size if isinstance(batch_size, ops.Tensor) else constant(batch_size)
    shape = array_ops.concat([array_ops.reshape(batch, [1]), array_ops.shape(emit)], 0)
    return array_ops.zeros(shape, dtype=emit.dtype)


def raw_rnn(cell, loop_fn, parallel_iterations=None, swap_memory=False, scope=None):
    """Runs ``cell`` in a ``while_loop`` driven by ``loop_fn``: ``(emit_ta, final_state,
    final_loop_state)``.

    ``loop_fn(time, cell_output, cell_state, loop_state)`` returns ``(finished, next_input,
    next_cell_state, emit_output, next_loop_state)``. Its first call (time 0, the rest ``None``)
    gives the initial input, state and loop state, and the emit structure (``None``: the cell's
    ``output_size``; else tensors whose shapes, with the batch prepended, and dtypes the emitted
    elements have). The loop runs while some element of ``finished`` is false; elements already
    finished emit zeros and keep their state. ``emit_ta`` is a TensorArray (or a structure of
    them) of the emitted values, one element per step. ``final_loop_state`` is ``None`` when
    the first call gave no loop state (the later calls then get a scalar ``0`` as loop state).
    """
    assert_like_rnncell("cell", cell)
    if not callable(loop_fn):
        raise TypeError(f"Argument `loop_fn` must be a callable. Received: {loop_fn}.")
    with vs.variable_scope(scope or "rnn"):
        time = constant(0, dtype=dtypes.int32)
        finished, next_input, state, emit_structure, init_loop_state = loop_fn(
            time, None, None, None
        )
        flat_input = _cf._flatten(next_input)
        loop_state = constant(0, dtype=dtypes.int32) if init_loop_state is None else init_loop_state
        batch = [_batch_dimension(x) for x in flat_input]
        for b in batch[1:]:
            batch[0].assert_is_compatible_with(b)  # the batch sizes agree where known
        const_batch_size = batch[0].value
        batch_size = const_batch_size
        if batch_size is None:
            batch_size = array_ops.shape(flat_input[0])[0]
        _assert_same_structure(state, cell.state_size)
        state = _map(ops.convert_to_tensor, state)
        if emit_structure is not None:
            flat_emit = [ops.convert_to_tensor(e) for e in _cf._flatten(emit_structure)]
            emit_sizes = [e.shape for e in flat_emit]
            emit_dtypes = [e.dtype for e in flat_emit]
        else:
            emit_structure = cell.output_size
            emit_sizes = _cf._flatten(emit_structure)
            emit_dtypes = [_cf._flatten(state)[0].dtype] * len(emit_sizes)
        flat_ta, flat_zero = [], []
        for i, (size, dtype) in enumerate(zip(emit_sizes, emit_dtypes)):
            dims = _as_shape_list(size)
            element_shape = None if dims is None else [const_batch_size, *dims]
            flat_ta.append(
                TensorArray(
                    dtype,
                    size=0,
                    dynamic_size=True,
                    element_shape=element_shape,
                    name=f"rnn_output_{i}",
                )
            )
            if dims is not None and None not in dims:
                flat_zero.append(_zeros(batch_size, size, dtype))
            else:  # an emit structure whose shape is known only when the step runs
                flat_zero.append(_zeros_like_emit(batch_size, flat_emit[i]))
        emit_ta = _cf._pack(emit_structure, flat_ta) if _cf._is_nested(emit_structure) else (
            flat_ta[0])  # fmt: skip
        zero_emit = _cf._pack(emit_structure, flat_zero) if _cf._is_nested(emit_structure) else (
            flat_zero[0])  # fmt: skip

        def condition(time, finished, *_):
            return math_ops.logical_not(reduction_ops.reduce_all(finished))

        def body(time, finished, current_input, emit_ta, state, loop_state):
            output, cell_state = cell(current_input, state)
            _assert_same_structure(state, cell_state)
            _assert_same_structure(cell.output_size, output)
            next_time = time + 1
            next_finished, next_input, next_state, emit, next_loop_state = loop_fn(
                next_time, output, cell_state, loop_state
            )
            _assert_same_structure(state, next_state)
            _assert_same_structure(current_input, next_input)
            _assert_same_structure(emit_ta, emit)
            if next_loop_state is not None:
                loop_state = next_loop_state

            def copy_some_through(current, candidate):
                if isinstance(current, TensorArray) or current.shape.ndims == 0:
                    return candidate  # TensorArrays and scalars pass through
                return math_ops.where(finished, current, candidate)

            emit = _map(copy_some_through, zero_emit, emit)
            next_state = _map(copy_some_through, state, next_state)
            emit_ta = _map(lambda ta, e: ta.write(time, e), emit_ta, emit)
            finished = math_ops.logical_or(finished, next_finished)
            return next_time, finished, next_input, emit_ta, next_state, loop_state

        loop_vars = [time, finished, next_input, emit_ta, state, loop_state]
        returned = _cf.while_loop(
            condition,
            body,
            loop_vars,
            parallel_iterations=parallel_iterations or 32,
            swap_memory=swap_memory,
        )
        emit_ta, final_state, final_loop_state = returned[-3:]
        if init_loop_state is None:
            final_loop_state = None
        return emit_ta, final_state, final_loop_state


# == bidirectional_dynamic_rnn ==================================================================
def bidirectional_dynamic_rnn(
    cell_fw,
    cell_bw,
    inputs,
    sequence_length=None,
    initial_state_fw=None,
    initial_state_bw=None,
    dtype=None,
    parallel_iterations=None,
    swap_memory=False,
    time_major=False,
    scope=None,
):
    """``dynamic_rnn`` forwards (scope ``fw``) and over the reversed sequences (scope ``bw``,
    reversed up to ``sequence_length``): ``((output_fw, output_bw), (state_fw, state_bw))``,
    with ``output_bw`` reversed back into input order."""
    assert_like_rnncell("cell_fw", cell_fw)
    assert_like_rnncell("cell_bw", cell_bw)
    time_axis, batch_axis = (0, 1) if time_major else (1, 0)

    def _reverse(x):
        if sequence_length is not None:
            return reverse_sequence(x, sequence_length, seq_axis=time_axis, batch_axis=batch_axis)
        return array_ops.reverse(x, axis=[time_axis])

    with vs.variable_scope(scope or "bidirectional_rnn"):
        with vs.variable_scope("fw") as fw_scope:
            output_fw, state_fw = dynamic_rnn(
                cell_fw,
                inputs,
                sequence_length=sequence_length,
                initial_state=initial_state_fw,
                dtype=dtype,
                time_major=time_major,
                scope=fw_scope,
            )
        with vs.variable_scope("bw") as bw_scope:
            flat = [_reverse(x) for x in _cf._flatten(inputs)]
            inputs_reverse = _cf._pack(inputs, flat) if _cf._is_nested(inputs) else flat[0]
            tmp, state_bw = dynamic_rnn(
                cell_bw,
                inputs_reverse,
                sequence_length=sequence_length,
                initial_state=initial_state_bw,
                dtype=dtype,
                time_major=time_major,
                scope=bw_scope,
            )
    flat = [_reverse(x) for x in _cf._flatten(tmp)]
    output_bw = _cf._pack(tmp, flat) if _cf._is_nested(tmp) else flat[0]
    return (output_fw, output_bw), (state_fw, state_bw)


# == static_rnn =================================================================================
def _rnn_step(time, sequence_length, min_len, max_len, zero_output, state, call_cell):
    """One unrolled step with ``sequence_length``: TF's nested ``cond``s (nothing to compute
    past the longest sequence, no copying before the shortest one ends)."""
    flat_state = _cf._flatten(state)
    flat_zero = _cf._flatten(zero_output)
    n_out = len(flat_zero)

    def copy_some_through(flat_new_output, flat_new_state):
        copy_cond = time >= sequence_length
        return [_copy_through(copy_cond, z, o) for z, o in zip(flat_zero, flat_new_output)] + [
            _copy_through(copy_cond, s, n) for s, n in zip(flat_state, flat_new_state)
        ]

    def maybe_copy_some_through():
        new_output, new_state = call_cell()
        flat_new_output = _cf._flatten(new_output)
        flat_new_state = _cf._flatten(new_state)
        return _cf.cond(
            time < min_len,
            lambda: flat_new_output + flat_new_state,
            lambda: copy_some_through(flat_new_output, flat_new_state),
        )

    final = _cf.cond(time >= max_len, lambda: flat_zero + flat_state, maybe_copy_some_through)
    for t, ref in zip(final, flat_zero + flat_state):
        t.set_shape(ref.shape)
    output = _cf._pack(zero_output, final[:n_out]) if _cf._is_nested(zero_output) else final[0]
    new_state = _cf._pack(state, final[n_out:]) if _cf._is_nested(state) else final[n_out]
    return output, new_state


def static_rnn(cell, inputs, initial_state=None, dtype=None, sequence_length=None, scope=None):
    """Runs ``cell`` over a Python list of ``[batch, depth]`` inputs (one per time step):
    ``(outputs, final_state)`` with ``outputs`` a list. Variables are created under ``scope``
    (default ``rnn``) on the first step and reused by the others."""
    assert_like_rnncell("cell", cell)
    if not _cf._is_nested(inputs):
        raise TypeError(f"Argument `inputs` must be a sequence. Received: {inputs}")
    if not inputs:
        raise ValueError("Argument `inputs` must not be empty.")
    outputs = []
    with vs.variable_scope(scope or "rnn") as varscope:
        first = inputs
        while _cf._is_nested(first):
            first = first[0]
        first = ops.convert_to_tensor(first)
        if first.shape.ndims != 1:
            fixed_batch = first.shape.with_rank_at_least(2).as_list()[0]
            for x in _cf._flatten(inputs):
                shape = ops.convert_to_tensor(x).shape.with_rank_at_least(2).as_list()
                for i, size in enumerate(shape[1:]):
                    if size is None:
                        raise ValueError(
                            f"Input size (dimension {i} of input {x}) must be accessible via "
                            "shape inference, but saw value None."
                        )
        else:
            fixed_batch = first.shape.as_list()[0]
        batch_size = fixed_batch if fixed_batch else array_ops.shape(first)[0]
        state = _initial_state(cell, initial_state, batch_size, dtype)
        if sequence_length is not None:
            sequence_length = ops.convert_to_tensor(sequence_length, name="sequence_length")
            if sequence_length.shape.ndims not in (None, 1):
                raise ValueError(
                    f"Argument `sequence_length` must be a vector of length {batch_size}. "
                    f"Received sequence_length={sequence_length}."
                )
            state_dtype = _infer_state_dtype(dtype, state)
            flat_size = _cf._flatten(cell.output_size)
            zeros = [_zeros(batch_size, s, state_dtype) for s in flat_size]
            zero_output = _cf._pack(cell.output_size, zeros) if len(zeros) > 1 else zeros[0]
            sequence_length = array_ops.cast(sequence_length, dtypes.int32)
            min_len = reduction_ops.reduce_min(sequence_length)
            max_len = reduction_ops.reduce_max(sequence_length)
        for time, input_ in enumerate(inputs):
            if time > 0:
                varscope.reuse_variables()

            def call_cell(input_=input_, state=state):
                return cell(input_, state)

            if sequence_length is not None:
                output, state = _rnn_step(
                    time, sequence_length, min_len, max_len, zero_output, state, call_cell
                )
            else:
                output, state = call_cell()
            outputs.append(output)
        return outputs, state


def _reverse_seq(input_seq, lengths):
    if lengths is None:
        return list(reversed(input_seq))
    flat_seq = [_cf._flatten(x) for x in input_seq]
    results = [[] for _ in input_seq]
    for sequence in zip(*flat_seq):
        joined = array_ops.stack(sequence)
        reversed_ = reverse_sequence(joined, lengths, 0, 1)
        for r, res in zip(array_ops.unstack(reversed_), results):
            r.set_shape(sequence[0].shape)
            res.append(r)
    return [
        _cf._pack(x, res) if _cf._is_nested(x) else res[0] for x, res in zip(input_seq, results)
    ]


def static_bidirectional_rnn(
    cell_fw,
    cell_bw,
    inputs,
    initial_state_fw=None,
    initial_state_bw=None,
    dtype=None,
    sequence_length=None,
    scope=None,
):
    """``static_rnn`` forwards (scope ``fw``) and backwards (scope ``bw``): ``(outputs,
    state_fw, state_bw)`` where each output concatenates the two directions' outputs."""
    assert_like_rnncell("cell_fw", cell_fw)
    assert_like_rnncell("cell_bw", cell_bw)
    if not _cf._is_nested(inputs):
        raise TypeError(f"Argument `inputs` must be a sequence. Received: {inputs}")
    if not inputs:
        raise ValueError("Argument `inputs` must not be empty.")
    with vs.variable_scope(scope or "bidirectional_rnn"):
        with vs.variable_scope("fw") as fw_scope:
            output_fw, state_fw = static_rnn(
                cell_fw, inputs, initial_state_fw, dtype, sequence_length, scope=fw_scope
            )
        with vs.variable_scope("bw") as bw_scope:
            reversed_inputs = _reverse_seq(inputs, sequence_length)
            tmp, state_bw = static_rnn(
                cell_bw, reversed_inputs, initial_state_bw, dtype, sequence_length, scope=bw_scope
            )
    output_bw = _reverse_seq(tmp, sequence_length)
    outputs = []
    for fw, bw in zip(output_fw, output_bw):
        flat = [array_ops.concat([f, b], 1) for f, b in zip(_cf._flatten(fw), _cf._flatten(bw))]
        outputs.append(_cf._pack(fw, flat) if _cf._is_nested(fw) else flat[0])
    return outputs, state_fw, state_bw
