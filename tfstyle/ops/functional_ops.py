"""Higher-order functions over the first dimension: ``map_fn``, ``scan``, ``foldl``, ``foldr``.

TF builds these from a ``while_loop`` over TensorArrays; tfstyle traces ``fn`` once into a
function graph held by one op, ``TfstyleScan``, lowered to ``lax.scan`` (so gradients always
flow). The tensors returned carry TF's names (``map/TensorArrayV2Stack/TensorListStack:0``,
``foldl/while/Identity_3:0``).
"""

import builtins

from tfstyle.framework import ops, registry

from . import _base
from . import control_flow_ops as _cf
from .array_ops import identity


def _scan_op(scope, fn, elems_flat, init_flat, elem_structure, carry_structure, reverse,
             init_from_first, mode):  # fmt: skip
    """Traces ``fn`` and creates the op: returns (final carry tensors, stacked ys, ys structure).

    ``mode`` is ``"map"`` (``fn(x) -> y``), ``"scan"`` (``fn(a, x) -> a``, ys are the a's) or
    ``"fold"`` (``fn(a, x) -> a``, no ys).
    """
    outer = _cf._outer_graph(*elems_flat, *init_flat)
    elem_specs = [(e.dtype, e.shape[1:] if e.shape.ndims else None) for e in elems_flat]
    if init_from_first:
        init_specs = elem_specs
    else:
        init_specs = [(t.dtype, t.shape) for t in init_flat]
    if mode == "map":
        structure = [elem_structure]
        specs = elem_specs
    else:
        structure = [carry_structure, elem_structure]
        specs = init_specs + elem_specs
    fg, result = _cf._trace(outer, mode, fn, structure, specs)
    m = len(init_specs) if mode != "map" else 0
    if mode != "map":
        if not _cf._same_structure(result, carry_structure, check_types=False):
            raise ValueError(
                "The two structures don't have the same nested structure.\n\n"
                f"First structure: {carry_structure}\n\nSecond structure: {result}"
            )
        for (dt, _), out in zip(init_specs, fg.outputs):
            if out.dtype != dt:
                raise TypeError(
                    f"The dtype of the value returned by fn ({out.dtype.name}) does not match "
                    f"the dtype of the accumulator ({dt.name})."
                )
    outputs = list(fg.outputs)
    if mode == "scan":
        fg.outputs = outputs + outputs  # the new accumulator is also the per-step output
    n0 = None
    for e in elems_flat:
        d = e.shape.as_list()[0] if e.shape.ndims else None
        n0 = n0 if d is None else d
    if init_from_first and n0 is not None:
        n0 -= 1
    ys = fg.outputs[m:]
    captured = _cf._captured_inputs(fg)
    carry_shapes = [_cf._shape_tuple(o.shape) for o in fg.outputs[:m]]
    if init_from_first and mode == "scan" and n0 is not None:
        n0 += 1
    y_shapes = [
        None if y.shape.ndims is None else (n0, *y.shape.as_list()) for y in ys
    ]  # fmt: skip
    op = _base.make_op(
        "TfstyleScan",
        [*elems_flat, *init_flat, *captured],
        {
            "fn": fg,
            "n_elems": len(elems_flat),
            "n_carry": m,
            "reverse": reverse,
            "init_from_first": init_from_first,
            "emit_init": init_from_first and mode == "scan",
            "Tout": [o.dtype for o in fg.outputs],
            "output_shapes": carry_shapes + y_shapes,
        },
        name=scope + "while/",
        graph=outer,
    )
    _cf._outer_control(op, fg)
    return op._outputs[:m], op._outputs[m:], result


def _check_fn(fn):
    if not callable(fn):
        raise TypeError(f"fn must be callable. Received: {fn}")


def _elems(elems):
    flat = [ops.convert_to_tensor(e, name="elem") for e in _cf._flatten(elems)]
    if not flat:
        raise ValueError("elems must be a Tensor or (possibly nested) sequence of Tensors.")
    for e in flat:
        if e.shape.ndims == 0:
            raise ValueError(
                "Elements in elems must be 1+ dimensional Tensors, not scalars (shape=())"
            )
    return flat


def _stack_names(scope, ys):
    with ops.name_scope(scope):
        out = []
        for i, y in enumerate(ys):
            with ops.name_scope("TensorArrayV2Stack" if i == 0 else f"TensorArrayV2Stack_{i}"):
                out.append(identity(y, name="TensorListStack"))
        return out


def map_fn(
    fn,
    elems,
    dtype=None,
    parallel_iterations=None,
    back_prop=True,
    swap_memory=False,
    infer_shape=True,
    name=None,
    fn_output_signature=None,
):
    """``fn`` applied to each slice ``elems[i]`` (elems may be nested), results stacked."""
    _check_fn(fn)
    with ops.name_scope(name, "map", _cf._flatten(elems)) as scope:
        flat = _elems(elems)
        _, ys, result = _scan_op(scope, fn, flat, [], elems, None, False, False, "map")
        outs = _stack_names(scope, ys)
        if not _cf._is_nested(result):
            return outs[0] if outs else None
        return _cf._pack(result, outs)


def scan(
    fn,
    elems,
    initializer=None,
    parallel_iterations=10,
    back_prop=True,
    swap_memory=False,
    infer_shape=True,
    reverse=False,
    name=None,
):
    """The successive accumulators ``a = fn(a, elems[i])``, stacked; without ``initializer``
    the first element is the first accumulator."""
    return _fold("scan", fn, elems, initializer, name, reverse)


def _fold(kind, fn, elems, initializer, name, reverse):
    """``scan`` (every accumulator, stacked) or ``foldl``/``foldr`` (the last one)."""
    mode = "scan" if kind == "scan" else "fold"
    _check_fn(fn)
    with ops.name_scope(name, kind, _cf._flatten(elems)) as scope:
        flat = _elems(elems)
        if initializer is None:
            init, structure = [], elems
        else:
            init = [ops.convert_to_tensor(t) for t in _cf._flatten(initializer)]
            structure = initializer
        carry, ys, _ = _scan_op(
            scope, fn, flat, init, elems, structure, reverse, initializer is None, mode
        )
        if mode == "scan":
            outs = _stack_names(scope, ys)
        else:
            with ops.name_scope(scope + "while/"):
                for _ in range(3):
                    ops.get_default_graph().unique_name("Identity")  # TF's counter and index
                outs = [identity(c, name="Identity") for c in carry]
        if not _cf._is_nested(structure):
            return outs[0]
        return _cf._pack(structure, outs)


def foldl(
    fn,
    elems,
    initializer=None,
    parallel_iterations=10,
    back_prop=True,
    swap_memory=False,
    name=None,
):
    """``fn(...fn(fn(initializer, elems[0]), elems[1])..., elems[n-1])``."""
    return _fold("foldl", fn, elems, initializer, name, False)


def foldr(
    fn,
    elems,
    initializer=None,
    parallel_iterations=10,
    back_prop=True,
    swap_memory=False,
    name=None,
):
    """``fn(...fn(fn(initializer, elems[n-1]), elems[n-2])..., elems[0])``."""
    return _fold("foldr", fn, elems, initializer, name, True)


# -- the op ------------------------------------------------------------------------------------
def _lower_scan(op):
    import jax
    import jax.numpy as jnp

    a = op._attrs
    fg, n, m = a["fn"], a["n_elems"], a["n_carry"]
    reverse, from_first, emit_init = a["reverse"], a["init_from_first"], a["emit_init"]
    tout = a["Tout"]
    n_init = 0 if from_first else m
    captured_tensors = op._inputs[n + n_init :]
    keys = [k for k, _, _ in _cf._effects(op)]
    wkeys = _cf._written_keys(op)
    sources = _cf._feed_sources(fg)

    def fn(ctx, *args):
        elems = builtins.tuple(args[:n])
        init = builtins.tuple(args[n : n + n_init])
        captured = dict(zip(captured_tensors, args[n + n_init :]))
        if from_first:
            k = -1 if reverse else 0
            init = builtins.tuple(e[k] for e in elems)
            elems = builtins.tuple(e[:-1] if reverse else e[1:] for e in elems)
        init = _cf._cast_all(init, tout[:m])
        state = _cf._entry_state(ctx, op, keys)
        readonly = {k: v for k, v in state.items() if k not in wkeys}
        try:
            written0 = builtins.tuple(state[k] for k in wkeys)
        except KeyError as e:
            raise _cf._uninitialized(op, e.args[0]) from None

        def step(carry, xs):
            i, c, written = carry
            st = dict(readonly)
            st.update(zip(wkeys, written))
            outs, w = _cf._call(ctx, fg, sources, (*c, *xs), captured, st, i)
            outs = _cf._cast_all(outs, tout)
            new_written = builtins.tuple(w.get(k, st[k]) for k in wkeys)
            return (i + 1, outs[:m], new_written), outs[m:]

        carry0 = (jnp.asarray(0, jnp.int32), init, written0)
        try:
            (_, c, written), ys = jax.lax.scan(step, carry0, elems, reverse=reverse)
        except TypeError as e:
            raise _cf._same_shapes_error(op, e) from None
        if emit_init:
            first = [jnp.expand_dims(v, 0) for v in init]
            ys = builtins.tuple(
                jnp.concatenate([y, f] if reverse else [f, y], 0) for y, f in zip(ys, first)
            )
        for k, v in zip(wkeys, written):
            ctx.write_variable(op, v, k)
        outs = (*c, *ys)
        return outs[0] if len(outs) == 1 else outs

    return fn


_base.register_simple("TfstyleScan", _cf._function_shape_rule, None)
registry.lowering("TfstyleScan", uses_context=True, random=True)(_lower_scan)
registry.get("TfstyleScan").resource_effects = _cf._effects
registry.get("TfstyleScan").cpu_compiler_options = _cf.LOOP_CPU_OPTIONS
