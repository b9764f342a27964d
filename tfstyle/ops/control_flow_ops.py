"""Grouping and control flow: ``group``, ``tuple``, ``no_op``."""

import builtins
import functools
import weakref

import numpy as np

from tfstyle.framework import dtypes, errors, ops, registry
from tfstyle.framework.ops import Operation, Tensor

from . import _base, tensor_array_ops
from .array_ops import identity, no_op


def _as_op(x):
    conv = getattr(x, "_as_graph_element", None)
    if conv is not None:
        x = conv()
    if isinstance(x, Tensor):
        return x.op
    if isinstance(x, Operation):
        return x
    raise TypeError(f"Expected a Tensor or Operation, got {x!r}")


def group(*inputs, **kwargs):
    """An op that runs all ``inputs`` (tensors or ops); returns it (``NoOp`` ``group_deps``)."""
    name = kwargs.pop("name", None)
    if kwargs:
        raise TypeError(f"Unknown keyword arguments: {', '.join(kwargs)}")
    flat = []
    for x in inputs:
        if isinstance(x, (list, builtins.tuple)):
            flat.extend(x)
        elif x is not None:
            flat.append(x)
    with ops.name_scope(name, "group_deps", flat) as scope:
        if not flat:
            return no_op(name=scope)
        deps = []
        for x in flat:
            op = _as_op(x)
            if op not in deps:
                deps.append(op)
        g = deps[0].graph
        return _base.make_op("NoOp", [], {}, name=scope, graph=g, control_inputs=deps)


def tuple(tensors, name=None, control_inputs=None):  # noqa: A001 - TF's public name
    """Identities of ``tensors`` that are only available once all of them are computed."""
    with ops.name_scope(name, "tuple", tensors) as scope:
        real = [t for t in tensors if t is not None]
        gate = group(*real, *(control_inputs or []))
        out = []
        for t in tensors:
            if t is None:
                out.append(None)
                continue
            if isinstance(t, Operation):
                with ops.control_dependencies([gate]):
                    out.append(group(t))
                continue
            with ops.control_dependencies([gate]):
                out.append(identity(t, name="control_dependency"))
        del scope
        return out


def with_dependencies(dependencies, output_tensor, name=None):
    with ops.name_scope(name, "control_dependency", list(dependencies) + [output_tensor]) as sc:
        with ops.control_dependencies(dependencies):
            return identity(output_tensor, name=sc)


# -- Assert ------------------------------------------------------------------------------------
def _assert_text(values, summarize):
    """TF's message: each value summarized as its ``Assert`` kernel does."""
    from .logging_ops import summarize_v1

    parts = []
    for v in values:
        if hasattr(v, "finish"):  # a string, finished on the host
            v = v.finish(*(np.asarray(a) for a in v.arrays))
        parts.append(
            "[" + summarize_v1(np.asarray(v), -1 if summarize is None else summarize) + "]"
        )
    return "assertion failed: " + " ".join(parts)


def _lower_assert(op):
    from tfstyle.framework import errors

    summarize = op._attrs.get("summarize", 3)

    def error(values):
        return errors.InvalidArgumentError(
            None, op, f"{_assert_text(values, summarize)}\n\t [[{{{{node {op.name}}}}}]]"
        )

    def fn(condition, *data):
        if not _is_traced(condition) and not any(_is_traced(d) for d in data):
            if not bool(np.all(condition)):
                raise error(data)
            return None
        import jax

        # Known only when the step runs: checked on the host as it runs.
        traced = [i for i, d in enumerate(data) if _is_traced(d)]

        def check(c, *vals):
            if not bool(np.all(c)):
                values = list(data)
                for i, v in zip(traced, vals):
                    values[i] = v
                errors.report_in_run(error(values))

        # Ordered: the first failing check (in a loop, the earliest iteration) is the one reported.
        jax.debug.callback(check, condition, *(data[i] for i in traced), ordered=True)
        return None

    return fn


_base.register_simple("Assert", lambda op: [], _lower_assert)
registry.get("Assert").fails_at_run = True
registry.get("Assert").is_stateful = True


def Assert(condition, data, summarize=None, name=None):  # noqa: N802 (TF's name)
    """``tf.Assert``: an op that raises ``InvalidArgumentError`` with ``data`` when it runs and
    ``condition`` is false. As in TF, data other than strings and int32 is guarded by a ``cond``
    (``<name>/AssertGuard``), so it is only computed when the assertion fails."""
    with ops.name_scope(name, "Assert", [condition, data]):
        data = [ops.convert_to_tensor(d) for d in data]
        condition = ops.convert_to_tensor(condition, name="Condition")
        attrs = {"T": [d.dtype for d in data], "summarize": 3 if summarize is None else summarize}

        def assert_op(scope_name="Assert"):
            return _base.make_op("Assert", [condition, *data], attrs, name=scope_name)

        if all(d.dtype in (dtypes.string, dtypes.int32) for d in data):
            return assert_op()
        guard = cond(condition, no_op, assert_op, name="AssertGuard")
        return guard.op if hasattr(guard, "op") else guard


# == Control flow: tf.cond, tf.case, tf.switch_case, tf.while_loop =============================
# As in TF 2.x's compat.v1 graph mode, each branch or loop function is traced into a FuncGraph
# held in an attribute of one functional op (``If``/``StatelessIf``, ``Case``/``StatelessCase``,
# ``While``/``StatelessWhile``) whose inputs are the predicate, branch index or loop variables
# plus the captured outer tensors; the op's outputs go through ``Identity`` ops
# (``cond/Identity:0``, ``switch_case/indexed_case/Identity:0``, ``while/Identity_2:0``). The
# lowering runs the sub-graphs as JAX functions: ``lax.cond``/``lax.switch`` (only the taken
# branch when the predicate or index is known at compile time), and for loops ``lax.scan`` where the trip count is bounded
# (``maximum_iterations``, or a count computable at compile time), else ``lax.while_loop``.


# -- nested structures -------------------------------------------------------------------------
def _is_nested(x):
    return isinstance(x, (list, builtins.tuple, dict))


def _flatten(s):
    if isinstance(s, dict):
        return [x for k in sorted(s) for x in _flatten(s[k])]
    if isinstance(s, (list, builtins.tuple)):
        return [x for e in s for x in _flatten(e)]
    return [s]


def _pack(structure, flat):
    it = iter(flat)

    def build(s):
        if isinstance(s, dict):
            vals = {k: build(s[k]) for k in sorted(s)}
            return type(s)((k, vals[k]) for k in s)
        if isinstance(s, (list, builtins.tuple)):
            items = [build(e) for e in s]
            if hasattr(s, "_fields"):
                return type(s)(*items)
            return type(s)(items)
        return next(it)

    return build(structure)


def _same_structure(a, b, check_types=True):
    if _is_nested(a) != _is_nested(b):
        return False
    if not _is_nested(a):
        return True
    if isinstance(a, dict) != isinstance(b, dict):
        return False
    if check_types and type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return sorted(a) == sorted(b) and all(_same_structure(a[k], b[k], check_types) for k in a)
    return len(a) == len(b) and all(_same_structure(x, y, check_types) for x, y in zip(a, b))


def _to_flows(s):
    """``s`` with each TensorArray replaced by its flow (what control flow carries)."""
    return _pack(s, [tensor_array_ops.to_flow(x) for x in _flatten(s)]) if _is_nested(s) else (
        tensor_array_ops.to_flow(s))  # fmt: skip


def _with_flows(like, s, fresh=False):
    """``s`` (``like``'s structure, flows where ``like`` has TensorArrays) with TensorArrays
    like ``like``'s holding those flows (``fresh``: as TF rebuilds a ``cond``'s results: no
    static size, and an element shape of their own)."""
    if not _is_nested(like):
        return tensor_array_ops.with_flow(like, s, fresh)
    return _pack(like, [tensor_array_ops.with_flow(a, b, fresh)
                        for a, b in zip(_flatten(like), _flatten(s))])  # fmt: skip


# -- building function graphs ------------------------------------------------------------------
def _outer_graph(*tensors):
    g = ops.get_default_graph()
    for t in tensors:
        if isinstance(t, Tensor) and not g._can_capture_from(t.graph):
            return t.graph
    return g


def _trace(outer, name, fn, arg_structure=None, arg_specs=()):
    """Calls ``fn`` with placeholders for ``arg_specs`` [(dtype, shape)] packed as
    ``arg_structure``, in a new FuncGraph; returns (graph, fn's result with tensors inside)."""
    from tfstyle.framework.func_graph import FuncGraph

    from .constant_op import constant

    fg = FuncGraph(name, outer)
    with fg.as_default():
        args = [fg.add_input(dt, shape) for dt, shape in arg_specs]
        result = fn(*_pack(arg_structure, args)) if arg_structure is not None else fn()
        flat = []
        for x in _flatten(result):
            if x is None:
                flat.append(None)
                continue
            if isinstance(x, Operation):
                # An op as a result runs with the function; TF returns a ``True`` in its place.
                with ops.control_dependencies([x]):
                    x = constant(True)
            x = ops.convert_to_tensor(x)
            flat.append(fg.capture(x) if x.graph is not fg else x)
    fg.outputs = [x for x in flat if x is not None]
    return fg, _pack(result, flat) if _is_nested(result) else (flat[0] if flat else None)


# Control flow that TF already found stateless (its branches or body are).
_STATELESS_FUNCTIONAL = frozenset({"StatelessIf", "StatelessCase", "StatelessWhile"})


def _is_stateful(fg):
    for op in fg._ops:
        d = op._def
        if d is None or op.type in _STATELESS_FUNCTIONAL:
            continue
        if d.reads_resource or d.writes_resource or d.random or d.resource_effects:
            return True
        if d.is_stateful:  # prints, asserts: TF keeps such a branch in a (stateful) ``If``
            return True
        if op.type == "VarHandleOp":
            return True
    return False


def _captured_inputs(*graphs):
    """The outer tensors captured by ``graphs``, each once, in capture order."""
    seen, out = set(), []
    for fg in graphs:
        for outer, _ in fg.captures:
            if outer not in seen:
                seen.add(outer)
                out.append(outer)
    return out


def _outer_control(op, *graphs):
    for fg in graphs:
        for c in fg.outer_control:
            op._add_control_input(c)


def _identities(op, scope):
    with ops.name_scope(scope):
        return [identity(t, name="Identity") for t in op._outputs]


def _shape_tuple(shape):
    return None if shape.ndims is None else builtins.tuple(shape.as_list())


def _relaxed(a, b):
    """The most specific shape compatible with static shapes ``a`` and ``b``."""
    if a is None or b is None or len(a) != len(b):
        return None
    return builtins.tuple(x if x == y else None for x, y in zip(a, b))


def _function_shape_rule(op):
    return list(zip(op._attrs["Tout"], op._attrs["output_shapes"]))


# -- tf.cond -----------------------------------------------------------------------------------
def cond(pred, true_fn=None, false_fn=None, strict=False, name=None, fn1=None, fn2=None):
    """``true_fn()`` if ``pred`` else ``false_fn()``, as one ``If`` op (``cond/Identity:0``).

    Both functions are traced into function graphs; they must return the same nested structure
    of tensors with the same dtypes. Tensors of the enclosing graph and variables can be used
    inside; variables assigned in the taken branch keep the assigned value.
    """
    if fn1 is not None:
        if true_fn is not None:
            raise TypeError("cond(): true_fn and fn1 may not be set simultaneously.")
        true_fn = fn1
    if fn2 is not None:
        if false_fn is not None:
            raise TypeError("cond(): false_fn and fn2 may not be set simultaneously.")
        false_fn = fn2
    if true_fn is None:
        raise TypeError("cond(): 'true_fn' argument required")
    if false_fn is None:
        raise TypeError("cond(): 'false_fn' argument required")
    if not callable(true_fn):
        raise TypeError("'true_fn' must be callable.")
    if not callable(false_fn):
        raise TypeError("'false_fn' must be callable.")
    if isinstance(pred, bool):
        raise TypeError("pred must not be a Python bool", pred)
    with ops.name_scope(name, "cond", [pred]) as scope:
        pred = ops.convert_to_tensor(pred)
        outer = _outer_graph(pred)
        returned = {}

        def flows_of(key, fn):
            def traced():
                returned[key] = fn()
                return _to_flows(returned[key])

            return traced

        then_g, then_out = _trace(outer, "cond_true", flows_of("then", true_fn))
        else_g, else_out = _trace(outer, "cond_false", flows_of("else", false_fn))
        _check_branches(then_out, else_out)
        shapes = [
            _relaxed(_shape_tuple(a.shape), _shape_tuple(b.shape))
            for a, b in zip(then_g.outputs, else_g.outputs)
        ]
        stateful = _is_stateful(then_g) or _is_stateful(else_g)
        captured = _captured_inputs(then_g, else_g)
        op = _base.make_op(
            "If" if stateful else "StatelessIf",
            [pred, *captured],
            {
                "Tcond": pred.dtype,
                "Tin": [t._dtype for t in captured],
                "Tout": [t.dtype for t in then_g.outputs],
                "then_branch": then_g,
                "else_branch": else_g,
                "output_shapes": shapes,
            },
            name=scope,
            graph=outer,
        )
        _outer_control(op, then_g, else_g)
        outs = _identities(op, scope)
        if then_out is None:
            return None
        if not _is_nested(then_out):
            return _with_flows(returned["then"], outs[0], fresh=True)
        return _with_flows(returned["then"], _pack(then_out, outs), fresh=True)


def _check_branches(a, b):
    fa, fb = _flatten(a), _flatten(b)
    if len(fa) != len(fb):
        raise AssertionError([len(fa), len(fb)])
    same = _same_structure(a, b) and all(
        (x is None) == (y is None) and (x is None or x.dtype == y.dtype) for x, y in zip(fa, fb)
    )
    if not same:
        raise TypeError(
            "true_fn and false_fn arguments to tf.cond must have the same number, type, and "
            f"overall structure of return values.\n\ntrue_fn output: {a}\nfalse_fn output: {b}"
        )


# -- tf.case -----------------------------------------------------------------------------------
def case(pred_fn_pairs, default=None, exclusive=False, strict=False, name="case"):
    """The result of the first ``fn`` whose ``pred`` is true, else of ``default``.

    ``pred_fn_pairs`` is a list of ``(pred, fn)`` (or a dict). Built as nested ``tf.cond``s
    (``case/cond/Identity:0``). Without ``default`` the last pair's ``fn`` is the default.
    """
    pairs = list(pred_fn_pairs.items()) if isinstance(pred_fn_pairs, dict) else pred_fn_pairs
    if not isinstance(pairs, (list, builtins.tuple)):
        raise TypeError("pred_fn_pairs must be a list, tuple, or dict.")
    for entry in pairs:
        if not isinstance(entry, builtins.tuple) or len(entry) != 2:
            raise TypeError(f"Each entry in 'pred_fn_pairs' must be a 2-tuple. Received {entry}.")
        p, f = entry
        if not isinstance(p, Tensor) or p.dtype != dtypes.bool:
            raise TypeError(f"pred must be Tensor of type bool: {getattr(p, 'name', p)}")
        if not callable(f):
            raise TypeError(f"fn for pred {p.name} must be callable.")
    if default is not None and not callable(default):
        raise TypeError("default must be callable.")
    pairs = list(pairs)
    preds = [p for p, _ in pairs]
    if default is None:
        if not pairs:
            raise ValueError("not enough values to unpack (expected 2, got 0)")
        default = pairs.pop()[1]
    with ops.name_scope(name, "case", preds):
        fn = default
        for p, f in reversed(pairs):
            fn = functools.partial(cond, p, f, fn)
        if not exclusive or len(preds) < 2:
            return fn()
        # TF's check that at most one predicate holds, which the conds wait for.
        with ops.control_dependencies([_at_most_one_true(preds)]):
            return fn()


def _at_most_one_true(preds):
    from . import array_ops, constant_op, math_ops, reduction_ops

    stacked = array_ops.stack(preds, name="preds_c")
    count = reduction_ops.reduce_sum(array_ops.cast(stacked, dtypes.int32), name="num_true_conds")
    names = ", ".join(p.name for p in preds)
    return Assert(
        math_ops.less_equal(count, constant_op.constant(1, name="n_true_conds")),
        [f"Input error: exclusive=True: more than 1 conditions ({names}) evaluated as True:",
         stacked],
        summarize=len(preds),
    )  # fmt: skip


# -- tf.switch_case ----------------------------------------------------------------------------
def _branch_pairs(branch_fns):
    """``branch_fns`` (a list of callables, of ``(int, callable)`` pairs, or a dict) as a list of
    callables indexed from 0, checked as TF checks it."""
    if not isinstance(branch_fns, (list, builtins.tuple, dict)):
        raise TypeError("'branch_fns' must be a list, tuple, or dict")
    if isinstance(branch_fns, dict):
        pairs = list(branch_fns.items())
    elif all(callable(f) for f in branch_fns):
        pairs = list(enumerate(branch_fns))
    else:
        pairs = list(branch_fns)
    if not pairs:
        raise ValueError("Must provide at least one item in 'branch_fns'")
    for entry in pairs:
        if not isinstance(entry, builtins.tuple) or len(entry) != 2:
            raise TypeError(f"Each entry in 'branch_fns' must be a 2-tuple. Received {entry}.")
        key, fn = entry
        if not isinstance(key, int):
            raise TypeError(f"key must be a Python `int`, got {type(key)}")
        if not callable(fn):
            raise TypeError(f"fn for key {key} must be callable.")
    keys = [k for k, _ in pairs]
    if sorted(keys) != list(range(len(keys))):
        found = ",".join(str(k) for k in sorted(keys))
        raise ValueError(
            f"branch indices (keys) must form contiguous range of [0 to {len(keys)}) but found "
            f"{{{found}}}"
        )
    return [fn for _, fn in sorted(pairs, key=lambda e: e[0])]


def switch_case(branch_index, branch_fns, default=None, name="switch_case"):
    """``branch_fns[branch_index]()``, as one ``Case`` op (``switch_case/indexed_case``).

    ``branch_fns`` is a list of callables, a list of ``(index, callable)`` pairs or a dict with
    the keys ``0 .. n-1``. An index out of range runs ``default`` (if given), else the last
    branch. Every branch is traced into a function graph; they must return the same nested
    structure of tensors with the same dtypes (static shapes are merged, as in ``tf.cond``).
    """
    if not isinstance(branch_index, Tensor):
        raise TypeError(f"'branch_index' must be a Tensor, got {type(branch_index)}")
    if not branch_index.dtype.is_integer:
        raise TypeError(
            f"'branch_index' must be an integer Tensor, got <dtype: '{branch_index.dtype.name}'>"
        )
    fns = _branch_pairs(branch_fns)
    if default is not None:
        fns.append(default)
    with ops.name_scope(name, "case", [branch_index]):
        with ops.name_scope("indexed_case") as scope:
            outer = _outer_graph(branch_index)
            returned = []

            def flows_of(fn):
                def traced():
                    result = fn()
                    # A branch that returns an op returns the index once the op has run.
                    if isinstance(result, Operation) or (
                        _is_nested(result)
                        and any(isinstance(x, Operation) for x in _flatten(result))
                    ):
                        result = _ops_as_index(result, branch_index)
                    returned.append(result)
                    return _to_flows(result)

                return traced

            base = scope.rstrip("/").replace("/", "_")
            traced = [_trace(outer, f"{base}_branch{k}", flows_of(fn)) for k, fn in enumerate(fns)]
            graphs = [fg for fg, _ in traced]
            for k in range(1, len(traced)):
                _check_case_branches(traced[0][1], traced[k][1], k)
            shapes = [_shape_tuple(t.shape) for t in graphs[0].outputs]
            for fg in graphs[1:]:
                shapes = [_relaxed(a, _shape_tuple(t.shape)) for a, t in zip(shapes, fg.outputs)]
            stateful = any(_is_stateful(fg) for fg in graphs)
            op_type = "Case" if stateful else "StatelessCase"
            if branch_index.dtype != dtypes.int32:
                raise TypeError(
                    f"Input 'branch_index' of '{op_type}' Op has type {branch_index.dtype.name} "
                    "that does not match expected type of int32."
                )
            captured = _captured_inputs(*graphs)
            op = _base.make_op(
                op_type,
                [branch_index, *captured],
                {
                    "Tin": [t._dtype for t in captured],
                    "Tout": [t.dtype for t in graphs[0].outputs],
                    "branches": graphs,
                    "output_shapes": shapes,
                },
                name=scope,
                graph=outer,
            )
            _outer_control(op, *graphs)
            outs = _identities(op, scope)
        first = traced[0][1]
        if first is None:
            return None
        if not _is_nested(first):
            return _with_flows(returned[0], outs[0], fresh=True)
        return _with_flows(returned[0], _pack(first, outs), fresh=True)


def _ops_as_index(result, branch_index):
    def convert(x):
        if isinstance(x, Operation):
            with ops.control_dependencies([x]):
                return identity(branch_index)
        return x

    if not _is_nested(result):
        return convert(result)
    return _pack(result, [convert(x) for x in _flatten(result)])


def _check_case_branches(a, b, k):
    fa, fb = _flatten(a), _flatten(b)
    if len(fa) != len(fb):
        raise AssertionError([len(fa), len(fb)])
    detail = None
    if not _same_structure(a, b):
        detail = "The two structures don't have the same nested structure."
    else:
        for x, y in zip(fa, fb):
            if (x is None) != (y is None) or (x is not None and x.dtype != y.dtype):
                detail = f"{x} and {y} have different types"
                break
    if detail is not None:
        raise TypeError(
            f"branches[0] and branches[{k}] arguments to tf.switch_case must have the same "
            "number, type, and overall structure of return values.\n\n"
            f"branches[0] output: {a}\nbranches[{k}] output: {b}\n\nError details:\n{detail}"
        )


# -- tf.while_loop -----------------------------------------------------------------------------
def _shape_le(shape, invariant):
    """Whether static ``shape`` is at least as specific as ``invariant``."""
    if invariant.ndims is None:
        return True
    if shape.ndims != invariant.ndims:
        return False
    return all(b is None or a == b for a, b in zip(shape.as_list(), invariant.as_list()))


def while_loop(
    cond,
    body,
    loop_vars,
    shape_invariants=None,
    parallel_iterations=10,
    back_prop=True,
    swap_memory=False,
    name=None,
    maximum_iterations=None,
    return_same_structure=False,
):
    """Repeats ``loop_vars = body(*loop_vars)`` while ``cond(*loop_vars)``; one ``While`` op.

    ``loop_vars`` is a (nested) list or tuple; the result has its structure (a single loop
    variable is returned unwrapped). ``body`` must keep dtypes and static shapes, unless
    ``shape_invariants`` relaxes them. With ``maximum_iterations`` (or a trip count known at
    compile time) the loop is differentiable.
    """
    from tfstyle.framework import tensor_shape as _shape

    from .constant_op import constant

    if not callable(cond):
        raise TypeError("'cond' must be callable.")
    if not callable(body):
        raise TypeError("'body' must be callable.")
    if parallel_iterations < 1:
        raise TypeError("'parallel_iterations' must be a positive integer.")
    single = not isinstance(loop_vars, (list, builtins.tuple))
    structure = [loop_vars] if single else loop_vars
    with ops.name_scope(name, "while", _flatten(_to_flows(structure))) as scope:
        if maximum_iterations is None or isinstance(maximum_iterations, int):
            max_iters = constant(
                -1 if maximum_iterations is None else maximum_iterations,
                dtype=dtypes.int32,
                name="maximum_iterations",
            )
        else:
            max_iters = ops.convert_to_tensor(maximum_iterations, name="maximum_iterations")
        counter = constant(0, dtype=dtypes.int32, name="loop_counter")
        # TensorArrays are carried as their flows and rebuilt around them in cond and body.
        arrays = structure
        structure = _to_flows(structure)
        is_array = [tensor_array_ops.is_tensor_array(x) for x in _flatten(arrays)]
        flat = [ops.convert_to_tensor(v) for v in _flatten(structure)]
        if shape_invariants is None:
            invariants = [v.shape for v in flat]
        else:
            inv = [shape_invariants] if single else shape_invariants
            invariants = [_shape.TensorShape([]) if a else _shape.as_shape(s)
                          for a, s in zip(is_array, _flatten(inv))]  # fmt: skip
            if len(invariants) != len(flat):
                raise ValueError(
                    "The two structures don't have the same number of elements: "
                    f"loop_vars has {len(flat)}, shape_invariants has {len(invariants)}."
                )
        specs = [(v.dtype, s) for v, s in zip(flat, invariants)]
        outer = _outer_graph(*flat, max_iters)

        def cond_fn(*args):
            return cond(*_with_flows(arrays, args))

        def body_fn(*args):
            return _to_flows(body(*_with_flows(arrays, args)))

        cond_g, pred = _trace(outer, "while_cond", cond_fn, structure, specs)
        body_g, result = _trace(outer, "while_body", body_fn, structure, specs)
        if not _is_nested(result):
            result = [result]
        if not _same_structure(result, structure, check_types=False):
            raise ValueError(
                "The two structures don't have the same nested structure.\n\n"
                f"First structure: type={type(result).__name__} str={result}\n\n"
                f"Second structure: type={type(structure).__name__} str={structure}"
            )
        for v, out, inv in zip(flat, body_g.outputs, invariants):
            if out.dtype != v.dtype:
                raise TypeError(
                    f"Loop var {v.name} enters the loop with type <dtype: '{v.dtype.name}'> but "
                    f"has type <dtype: '{out.dtype.name}'> after 1 iteration. {v.name} type "
                    "should remain constant."
                )
            if not _shape_le(out.shape, inv):
                raise ValueError(
                    f"Input tensor `{v.name}` enters the loop with shape {v.shape}, but has "
                    f"shape {out.shape} after one iteration. To allow the shape to vary across "
                    "iterations, use the `shape_invariants` argument of tf.while_loop to specify "
                    "a less-specific shape."
                )
        captured = _captured_inputs(cond_g, body_g)
        inputs = [counter, max_iters, *flat, *captured]
        stateful = _is_stateful(cond_g) or _is_stateful(body_g)
        op = _base.make_op(
            "While" if stateful else "StatelessWhile",
            inputs,
            {
                "T": [t._dtype for t in inputs],
                "Tout": [t._dtype for t in inputs],
                "cond": cond_g,
                "body": body_g,
                "output_shapes": [(), (), *(_shape_tuple(s) for s in invariants)]
                + [_shape_tuple(t.shape) for t in captured],
                "parallel_iterations": parallel_iterations,
            },
            name=scope,
            graph=outer,
        )
        _outer_control(op, cond_g, body_g)
        outs = _identities(op, scope)
    # Outside the loop's name scope, as TF rebuilds the TensorArrays it returns.
    packed = _with_flows(arrays, _pack(structure, outs[2 : 2 + len(flat)]))
    if single:
        return packed[0]
    if len(flat) == 1 and not return_same_structure:
        return _flatten(packed)[0]
    return packed


# -- lowering ----------------------------------------------------------------------------------
_SUB_PLANS = weakref.WeakKeyDictionary()


def _sub_plan(fg):
    """The compiler's plan of a function graph: its outputs, and every op that writes state."""
    plan = _SUB_PLANS.get(fg)
    if plan is None:
        from tfstyle.compiler import plan as _plan

        targets = [
            op
            for op in fg._ops
            if op._def is not None and (op._def.writes_resource or op._def.resource_effects)
        ]
        feeds = [t for t in fg.inputs] + [i for _, i in fg.captures if i.op.type == "Placeholder"]
        plan = _SUB_PLANS[fg] = _plan.Plan(fg, list(fg.outputs) + targets, feeds)
    return plan


def _subgraphs(op):
    a = op._attrs
    if "fn" in a:
        return [a["fn"]]
    if "branches" in a:
        return list(a["branches"])
    return [a["then_branch"], a["else_branch"]] if "then_branch" in a else [a["cond"], a["body"]]


def _effects(op):
    touched, written = set(), set()
    for fg in _subgraphs(op):
        plan = _sub_plan(fg)
        touched.update(plan.touched)
        written.update(plan.final_writer)
    return [(k, True, k in written) for k in sorted(touched)]


def _written_keys(op):
    return [k for k, _, w in _effects(op) if w]


def _feed_sources(fg):
    """For each feed of the function's plan: argument index (int) or captured outer tensor."""
    plan = _sub_plan(fg)
    index = {t: i for i, t in enumerate(fg.inputs)}
    source = {inner: outer for outer, inner in fg.captures}
    return [index[t] if t in index else source[t] for t in plan.feeds]


def _is_traced(x):
    import jax

    return isinstance(x, jax.core.Tracer)


def _call(ctx, fg, sources, args, captured, state, salt=None, record=None):
    """Runs function graph ``fg`` inside the current trace: (outputs, {key: written value}).
    ``record`` ({inner tensor: None}) is filled with the values of those tensors of ``fg``."""
    sub = _function_context(ctx, _sub_plan(fg), state, salt)
    taps = sub.cond_taps
    if taps is not None and taps.deltas:
        sub.values = _Tapped(taps.deltas)
    feeds = [args[s] if isinstance(s, int) else captured[s] for s in sources]
    result = run_plan(sub, feeds)
    if record:
        for t in record:
            if t in sub.values:
                record[t] = sub.values[t]
    if taps is not None and taps.watch:
        for t in taps.watch:
            if t in sub.values:
                taps.shapes[t] = np.shape(sub.values[t])
    return result


class CondTaps:
    """What a gradient taken through ``If`` ops asks of their lowering (``ops/gradients.py``
    makes one for the ``Gradients`` op's differentiated function, where a variable's gradient
    through a ``tf.cond`` is an ``IndexedSlices``, as in TF).

    - ``deltas`` ({tensor of a branch: value}): added to the tensor when the branch computes it
      (the rows a gather reads, so that their gradient is the slices' values);
    - ``entries`` ({(If op, branch index, input index): value}): added to that input (a captured
      tensor, or the value of a captured variable) as that branch sees it;
    - ``owners`` ({If op: [(tensor, branch index)]}): tensors of the op's branches (directly or
      in nested ``If`` ops) whose values the op returns from the branch that holds them (zeros
      from the other), into ``values``;
    - ``watch``: tensors of branches whose shapes are noted into ``shapes`` as the branches are
      traced (for those without a static shape, a first pass finds the shapes the zeros need).
    """

    def __init__(self, deltas, entries, owners, watch=(), shapes=None):
        self.deltas = deltas
        self.entries = entries
        self.owners = owners
        self.watch = watch
        self.shapes = {} if shapes is None else shapes
        self.values = {}

    def zeros(self, t):
        """Zeros of ``t``'s shape (as traced, where its static shape is not fully known)."""
        import jax.numpy as jnp

        shape = self.shapes.get(t)
        if shape is None:
            shape = t.shape.as_list()
        return jnp.zeros(shape, t.dtype.as_numpy_dtype)

    def enter(self, op, b, captured, state):
        """The captured values and variable values that branch ``b`` of ``op`` sees."""
        for (o, bb, j), delta in self.entries.items():
            if o is not op or bb != b:
                continue
            t = op._inputs[j]
            if t._dtype is dtypes.resource:
                state = dict(state)
                key = ops.variable_key(ops.variable_handle_op(t))
                state[key] = state[key] + delta
            else:
                captured = dict(captured)
                captured[t] = captured[t] + delta
        return captured, state


class _Tapped(dict):
    """A function context's values, with ``CondTaps.deltas`` added as they are computed."""

    def __init__(self, deltas):
        super().__init__()
        self.deltas = deltas

    def __setitem__(self, t, value):
        delta = self.deltas.get(t)
        super().__setitem__(t, value if delta is None else value + delta)


def _entry_state(ctx, op, keys):
    state = {}
    for k in keys:
        if ctx.plan.sees.get((op, k)) is not None or ctx.is_initialized(k):
            state[k] = ctx.read_variable(op, k)
    return state


def _uninitialized(op, key):
    from tfstyle.framework import errors

    return errors.FailedPreconditionError(
        None, op, f"Attempting to use uninitialized value {key}\n\t [[{{{{node {op.name}}}}}]]"
    )


def _check_pred(op, pred, tensor, what="pred"):
    from tfstyle.framework import errors

    if tensor.dtype != dtypes.bool:
        raise errors.InvalidArgumentError(
            None, op, f"Input '{what}' passed {tensor.dtype.name} expected bool"
        )
    shape = np.shape(pred)
    if shape != ():
        raise errors.InvalidArgumentError(
            None, op, f"The second input must be a scalar, but it has shape {list(shape)}"
        )


def _cast_all(values, dts):
    import jax.numpy as jnp

    # Variant values (TensorLists) are pytrees of arrays, not arrays: they pass unchanged.
    return builtins.tuple(
        v if dt is dtypes.variant else jnp.asarray(v, dtype=dt.as_numpy_dtype)
        for v, dt in zip(values, dts)
    )


def _same_shapes_error(op, e):
    from tfstyle.framework import errors

    return errors.UnimplementedError(
        None,
        op,
        f"tfstyle compiles {op.name} to one XLA control-flow op, whose branches (or iterations) "
        f"must produce values of one shape and dtype: {e}",
    )


def _loop_shapes_error(op, e, body_g, vars0, body):
    """``_same_shapes_error`` of a while loop, naming the body's results whose shape one
    iteration changes (an accumulation that grows, such as TF 1.x's sum of the
    ``IndexedSlices`` gradients of a loop's iterations)."""
    import jax

    grown = []
    try:
        outs = jax.eval_shape(body, vars0)
        for j, (v, out) in enumerate(zip(vars0, outs)):
            before, after = getattr(v, "shape", None), getattr(out, "shape", None)
            if (
                before is not None
                and after is not None
                and builtins.tuple(before) != builtins.tuple(after)
            ):
                grown.append(f"{body_g.outputs[j].op.name} (loop variable {j}) has shape "
                             f"{list(before)} before an iteration and {list(after)} after it")  # fmt: skip
    except Exception:  # noqa: BLE001 - only a more precise message is lost
        grown = []
    err = _same_shapes_error(op, e)
    if grown:
        err = type(err)(None, op, f"{err.message}\n{'; '.join(grown)}.")
    return err


def _lower_if(op):
    """``If``/``StatelessIf`` and ``Case``/``StatelessCase``: the branch chosen by the predicate
    (then, else) or the index (out of range: the last branch), as ``lax.cond``/``lax.switch``
    (only the chosen branch when the choice is known at compile time)."""
    import jax
    import jax.numpy as jnp

    graphs = _subgraphs(op)
    is_case = "branches" in op._attrs
    tout = op._attrs["Tout"]
    captured_tensors = op._inputs[1:]
    keys = [k for k, _, _ in _effects(op)]
    wkeys = _written_keys(op)
    sources = {fg: _feed_sources(fg) for fg in graphs}
    n = len(graphs)

    def fn(ctx, selector, *args):
        if is_case:
            _check_index(op, selector)
        else:
            _check_pred(op, selector, op._inputs[0])
        captured = dict(zip(captured_tensors, args))
        state = _entry_state(ctx, op, keys)
        taps = getattr(ctx, "cond_taps", None)
        wanted = taps.owners.get(op, ()) if taps is not None else ()

        def branch(b):
            fg = graphs[b]
            cap, st = (captured, state) if taps is None else taps.enter(op, b, captured, state)
            record = {t: None for t, bb in wanted if bb == b}
            outs, written = _call(ctx, fg, sources[fg], (), cap, st, record=record)
            try:
                new_state = builtins.tuple(written[k] if k in written else state[k] for k in wkeys)
            except KeyError as e:
                raise _uninitialized(op, e.args[0]) from None
            # Values a gradient asked for (CondTaps): nested If ops left theirs in ``taps``.
            rec = builtins.tuple(
                (record[t] if record[t] is not None else taps.values[t])
                if bb == b
                else taps.zeros(t)
                for t, bb in wanted
            )
            return _cast_all(outs, tout), new_state, rec

        if not _is_traced(selector):
            if is_case:
                i = int(selector)
                outs, new_state, rec = branch(i if 0 <= i < n else n - 1)
            else:
                outs, new_state, rec = branch(0 if bool(selector) else 1)
        else:
            runs = [functools.partial(branch, b) for b in range(n)]
            if any(dt is dtypes.variant for dt in tout):
                # lax.cond needs one structure from every branch: a variant value whose
                # structure depends on the branch (an optional one branch leaves empty, in TF's
                # cond gradients) is made like the other branches' by ``like_branch``.
                shapes = [jax.eval_shape(r) for r in runs]

                def like_others(b):
                    outs, new_state, rec = branch(b)
                    for o in range(n):
                        if o != b:
                            outs = _like_branch(outs, shapes[o][0])
                    return outs, new_state, rec

                runs = [functools.partial(like_others, b) for b in range(n)]
            rows = op._attrs.get("_slice_rows")
            if rows is not None:
                runs = _padded_slices(runs, rows)
            try:
                if is_case:
                    i = jnp.asarray(selector, jnp.int32)
                    i = jnp.where((i < 0) | (i >= n), n - 1, i)
                    outs, new_state, rec = jax.lax.switch(i, runs)
                else:
                    outs, new_state, rec = jax.lax.cond(selector, runs[0], runs[1])
            except TypeError as e:
                if "branch" not in str(e) and "true_fun" not in str(e):
                    raise
                raise _same_shapes_error(op, e) from None
        for (t, _), v in zip(wanted, rec):
            taps.values[t] = v
        for k, v in zip(wkeys, new_state):
            ctx.write_variable(op, v, k)
        if len(outs) == 1:
            return outs[0]
        return outs

    return fn


def _padded_slices(runs, rows):
    """The branches of an ``If``/``Case`` whose first outputs are the ``(values, indices)`` of
    gradients' slices, of variables of ``rows`` rows (as ``as_graph_def`` writes a tf.cond's
    gradient), padded to one size per pair as tfstyle's own slices are: rows of zeros at index
    ``rows``, past the last row."""
    import jax
    import jax.numpy as jnp

    shapes = [jax.eval_shape(r)[0] for r in runs]
    sizes = [max(s[2 * k].shape[0] for s in shapes) for k in range(len(rows))]

    def padded(run):
        outs, new_state, rec = run()
        outs = list(outs)
        for k, (n, size) in enumerate(zip(rows, sizes)):
            values, indices = outs[2 * k], outs[2 * k + 1]
            pad = size - values.shape[0]
            if pad:
                zeros = jnp.zeros((pad, *values.shape[1:]), values.dtype)
                outs[2 * k] = jnp.concatenate([values, zeros])
                outs[2 * k + 1] = jnp.concatenate([indices, jnp.full((pad,), n, indices.dtype)])
        return builtins.tuple(outs), new_state, rec

    return [functools.partial(padded, r) for r in runs]


def _check_index(op, index):
    from tfstyle.framework import errors

    shape = np.shape(index)
    if shape != ():
        raise errors.InvalidArgumentError(
            None, op, f"The second input must be a scalar, but it has shape {list(shape)}"
        )


def _like_branch(outs, other):
    return builtins.tuple(
        v.like_branch(o) if hasattr(v, "like_branch") else v for v, o in zip(outs, other)
    )


for _type in ("If", "StatelessIf", "Case", "StatelessCase"):
    _base.register_simple(_type, _function_shape_rule, None)
    registry.lowering(_type, uses_context=True, random=True)(_lower_if)
    registry.get(_type).resource_effects = _effects


def _input_indices(fg, tensors):
    """Which of ``fg.inputs`` the ``tensors`` of ``fg`` depend on."""
    from tfstyle.compiler import plan as _plan

    if not tensors:
        return set()
    reached = set(_plan.topological_order([], list(tensors), set()))
    return {i for i, t in enumerate(fg.inputs) if t.op in reached}


def _control_indices(cond_g, body_g):
    """The loop variables that decide the trip count: those the condition depends on, closed
    under the body's dependencies."""
    needed = _input_indices(cond_g, cond_g.outputs)
    while True:
        more = _input_indices(body_g, [body_g.outputs[i] for i in sorted(needed)]) | needed
        if more == needed:
            return sorted(needed)
        needed = more


_MAX_UNROLLED = 100_000


def _lower_while(op):
    import jax
    import jax.numpy as jnp

    from tfstyle.compiler import plan as _plan

    cond_g, body_g = op._attrs["cond"], op._attrs["body"]
    n = len(cond_g.inputs)
    var_dtypes = op._attrs["T"][2 : 2 + n]
    captured_tensors = op._inputs[2 + n :]
    keys = [k for k, _, _ in _effects(op)]
    wkeys = _written_keys(op)
    cond_sources, body_sources = _feed_sources(cond_g), _feed_sources(body_g)
    control = _control_indices(cond_g, body_g)
    control_plan = _plan.Plan(body_g, [body_g.outputs[i] for i in control], _sub_plan(body_g).feeds)
    # The trip count can be found at compile time only if it depends on no variable.
    countable = not control_plan.touched and not _sub_plan(cond_g).touched
    pred_tensor = cond_g.outputs[0]

    def fn(ctx, counter, max_iters, *args):
        if not any(t is dtypes.variant for t in var_dtypes):
            return loop(ctx, counter, max_iters, *args)
        from . import list_ops

        bound = None if _is_traced(max_iters) or int(max_iters) < 0 else int(max_iters)
        counted = list_ops.counted_accesses(cond_g, body_g, args[:n], bound)
        # Writes and reads of lists at the loop's counter, which no iteration repeats: they go
        # unchecked inside the loop, and the loop marks what they set and read.
        with list_ops.counting(counted):
            out = loop(ctx, counter, max_iters, *args)
        vs = list_ops.mark_counted(out[2 : 2 + n], counted)
        list_ops.share_reads(body_g, args[:n], vs)
        return (*out[:2], *vs, *out[2 + n :])

    def loop(ctx, counter, max_iters, *args):
        vars0 = builtins.tuple(args[:n])
        captured = dict(zip(captured_tensors, args[n:]))
        state = _entry_state(ctx, op, keys)
        readonly = {k: v for k, v in state.items() if k not in wkeys}
        try:
            written0 = builtins.tuple(state[k] for k in wkeys)
        except KeyError as e:
            raise _uninitialized(op, e.args[0]) from None

        def full_state(written):
            s = dict(readonly)
            s.update(zip(wkeys, written))
            return s

        def run_cond(vs, written, salt):
            outs, _ = _call(ctx, cond_g, cond_sources, vs, captured, full_state(written), salt)
            _check_pred(op, outs[0], pred_tensor, "cond")
            return outs[0]

        def run_body(vs, written, salt):
            st = full_state(written)
            outs, w = _call(ctx, body_g, body_sources, vs, captured, st, salt)
            return _cast_all(outs, var_dtypes), builtins.tuple(w.get(k, st[k]) for k in wkeys)

        def run_control(vs):
            sub = _function_context(ctx, control_plan, {}, None)
            feeds = [vs[s] if isinstance(s, int) else captured[s] for s in body_sources]
            return run_plan(sub, feeds)[0]

        lists = any(t is dtypes.variant for t in var_dtypes)
        if lists:
            from . import list_ops

            def probe(vs):
                return run_body(vs, written0, None)[0]

            vars0 = list_ops.settle_loop_state(vars0, probe)
        static = not _is_traced(max_iters) and not _is_traced(counter)
        bound = int(max_iters) if static and int(max_iters) >= 0 else None
        everything = static and not keys and not any(_is_traced(v) for v in args)
        trips = None
        if static and countable:
            body = (lambda vs: run_body(vs, (), None)[0]) if everything else run_control
            trips = _count_trips(vars0, bound, control, everything, run_cond, body)

        def loop_cond(vs, written, i):
            p = run_cond(vs, written, i)
            if _is_traced(max_iters) or int(max_iters) >= 0:
                p = jnp.logical_and(p, i < max_iters)
            return p

        capacity = None
        if trips is None and bound is None and getattr(ctx, "differentiating", 0):
            # Differentiated (reverse mode needs a scan of known length): a scan of a capacity
            # that a check of the run grows, and the step reruns (_capacity_loop).
            from tfstyle.compiler import lowering as _lowering

            if not _lowering.run_checks_allowed():
                raise errors.NeedsRunChecks(
                    f"the gradient of loop '{op.name}' needs its trip count, which is known "
                    "only when the step runs; give the loop maximum_iterations"
                )
            capacity = _CAPACITIES[op]
        checked = []  # the capacity of iterations a run checks, where lists needed one

        def run_capacity(writer):
            from tfstyle.compiler import lowering as _lowering

            if not _lowering.run_checks_allowed():
                raise errors.NeedsRunChecks(
                    f"{writer.name} ({writer.type}): a list (a TensorArray of dynamic size) "
                    f"grows in while loop {op.name}, whose number of iterations is known only "
                    "when the step runs"
                )
            checked.append(_CAPACITIES[op])
            return checked[0]

        if lists and not (trips is not None and everything):
            # Lists the loop writes past their end (TensorArrays of dynamic size) get room for
            # every iteration it can run: where that is known only when the step runs, for a
            # capacity of iterations that the run checks.
            most = trips[0] if trips is not None else bound if bound is not None else capacity
            most = run_capacity if most is None else most
            grown = list_ops.reserve_loop_capacity(op, vars0, probe, most)
            if grown is not vars0:
                vars0 = list_ops.settle_loop_state(grown, probe)

        def run_loop(vars0, written0):
            if capacity is not None:
                return _capacity_loop(op, vars0, written0, capacity, loop_cond, run_body,
                                      run_control if countable else None, control, counter)  # fmt: skip
            if trips is not None or bound is not None:
                length = trips[0] if trips is not None else bound
                try:
                    return _scan_loop(
                        vars0, written0, length, trips is not None, run_cond, run_body, counter
                    )
                except TypeError as e:
                    body = lambda vs: run_body(vs, written0, None)[0]  # noqa: E731
                    raise _loop_shapes_error(op, e, body_g, vars0, body) from None

            def loop_body(carry):
                i, vs, written = carry
                vs, written = run_body(vs, written, i)
                return i + 1, vs, written

            try:
                count, vs, written = jax.lax.while_loop(
                    lambda c: loop_cond(c[1], c[2], c[0]),
                    loop_body,
                    (jnp.asarray(counter, jnp.int32), vars0, written0),
                )
            except TypeError as e:
                body = lambda vs: run_body(vs, written0, None)[0]  # noqa: E731
                raise _loop_shapes_error(op, e, body_g, vars0, body) from None
            return vs, written, count

        if trips is not None and everything:
            # Everything was known: the loop ran at compile time (shapes may vary, as in TF).
            count, vs = trips
            count, written = np.int32(int(counter) + count), written0
        else:
            vs, written, count = run_loop(vars0, written0)
            if checked:
                trips_run = count - jnp.asarray(counter, jnp.int32)
                _report_if_short(op, checked[0], trips_run > checked[0], trips_run)
            if lists:
                # A list the loop grew has a length computed at compile time where it can be.
                vs = list_ops.fold_lengths(vs, lambda a: run_loop(*a)[0], (vars0, written0))
                list_ops.report_short_capacities(vs)
        for k, v in zip(wkeys, written):
            ctx.write_variable(op, v, k)
        return (count, max_iters, *vs, *args[n:])

    return fn


def _count_trips(vars0, bound, control, everything, run_cond, run_body):
    """Runs the loop at compile time on the loop variables that decide the trip count (all of
    them if ``everything``): ``(trip count, final variables)``, or ``None`` when they depend on
    values only known when the step runs."""
    import jax

    vs = list(vars0)
    count = 0
    with jax.ensure_compile_time_eval():
        while bound is None or count < bound:
            if count >= _MAX_UNROLLED:
                return None
            try:
                p = run_cond(builtins.tuple(vs), (), None)
            except Exception:  # noqa: BLE001 - not computable now: lowered as a real loop
                return None
            if _is_traced(p):
                return None
            if not bool(p):
                break
            outs = run_body(builtins.tuple(vs))
            if any(_is_traced(v) for v in outs):
                return None
            if everything:
                vs = list(outs)
            else:
                for i, v in zip(control, outs):
                    vs[i] = v
            count += 1
    return count, builtins.tuple(vs)


# The iterations of a differentiated loop whose trip count is known only when the step runs.
_CAPACITIES = _base.RunCapacities()


def _capacity_loop(op, vs0, written0, capacity, run_cond, run_body, run_control, control, counter):
    """The loop as a scan of ``capacity`` iterations (``_scan_loop``), for reverse-mode
    differentiation. Where the condition still holds after them, a check of the run reports
    the capacity needed (the loop's control variables run on to find the trip count, or, where
    they read variables, twice the capacity): the session grows it and reruns the step."""
    import jax
    import jax.numpy as jnp

    vs, written, count, running = _scan_loop(
        vs0, written0, capacity, False, run_cond, run_body, counter, with_running=True
    )
    more = jnp.logical_and(running, run_cond(vs, written, count))
    start = jnp.asarray(counter, jnp.int32)
    if run_control is None:
        needed = jnp.asarray(2 * capacity, jnp.int32)
    else:

        def trip_count(args):
            vs, i = jax.tree.map(jax.lax.stop_gradient, args)

            def step(carry):
                i, vs = carry
                vs = list(vs)
                for k, v in zip(control, run_control(builtins.tuple(vs))):
                    vs[k] = v
                return i + 1, builtins.tuple(vs)

            end, _ = jax.lax.while_loop(lambda c: run_cond(c[1], (), c[0]), step, (i, vs))
            return end - start

        needed = jax.lax.cond(more, trip_count, lambda a: a[1] - start, (vs, count))

    _report_if_short(op, capacity, more, needed)
    return vs, written, count


def _report_if_short(op, capacity, short, needed):
    """Reports, as the step runs, that loop ``op`` needed ``needed`` iterations where it was
    compiled for ``capacity`` (if ``short``): the executable grows it and reruns the step."""
    import jax

    def report(n):
        errors.report_in_run(_CAPACITIES.short(op, capacity, int(n), "iterations"))

    # In a branch taken only when the capacity was short: a callback costs a step even unused.
    jax.lax.cond(short, lambda n: jax.debug.callback(report, n), lambda n: None, needed)


def _scan_loop(vs0, written0, length, exact, run_cond, run_body, counter, with_running=False):
    """``length`` iterations as one ``lax.scan`` (reverse-differentiable); unless ``exact``, an
    iteration runs only while the condition still holds."""
    import jax
    import jax.numpy as jnp

    i0 = jnp.asarray(counter, jnp.int32)
    if exact and length == 0:
        # No iteration: the body (whose writes would grow a list) is not even traced.
        return vs0, written0, i0
    if exact:

        def step(carry, _):
            i, vs, written = carry
            vs, written = run_body(vs, written, i)
            return (i + 1, vs, written), None

        (count, vs, written), _ = jax.lax.scan(step, (i0, vs0, written0), None, length=length)
        return vs, written, count

    def step(carry, _):
        running, i, vs, written = carry
        running = jnp.logical_and(running, run_cond(vs, written, i))

        def go(c):
            i, vs, written = c
            vs, written = run_body(vs, written, i)
            return i + 1, vs, written

        i, vs, written = jax.lax.cond(running, go, lambda c: c, (i, vs, written))
        return (running, i, vs, written), None

    carry = (jnp.asarray(True), i0, vs0, written0)
    (running, count, vs, written), _ = jax.lax.scan(step, carry, None, length=length)
    return (vs, written, count, running) if with_running else (vs, written, count)


# Copy insertion's region analysis miscompiles nested loops in this XLA (an inner loop read the
# outer loop's next value): a step with a loop keeps XLA's default (compiler/executable.py).
LOOP_CPU_OPTIONS = {"xla_cpu_copy_insertion_use_region_analysis": False}

for _type in ("While", "StatelessWhile"):
    _base.register_simple(_type, _function_shape_rule, None)
    registry.lowering(_type, uses_context=True, random=True)(_lower_while)
    registry.get(_type).resource_effects = _effects
    registry.get(_type).cpu_compiler_options = LOOP_CPU_OPTIONS


_CONTEXT_CLASS = []


def _function_context(parent, plan, state, salt):
    """The lowering context of a function graph run by a control-flow op: its own plan and
    variable values, the enclosing context's random stream (salted per loop iteration)."""
    if not _CONTEXT_CLASS:
        import jax

        from tfstyle.compiler.lowering import LoweringContext

        class FunctionContext(LoweringContext):
            def is_initialized(self, key):
                return key in self.state or self.parent.is_initialized(key)

            def random_key(self, op):
                self.parent.random_used = True
                key = LoweringContext.random_key(self, op)
                if self.salt is not None:
                    key = jax.random.fold_in(key, self.salt)
                return key

        _CONTEXT_CLASS.append(FunctionContext)
    ctx = _CONTEXT_CLASS[0](plan, state, parent.rng)
    ctx.parent = parent
    ctx.salt = salt
    ctx.cond_taps = getattr(parent, "cond_taps", None)
    ctx.differentiating = getattr(parent, "differentiating", 0)
    return ctx


def run_plan(ctx, feeds):
    from tfstyle.compiler import lowering

    return lowering.run_plan(ctx, feeds)


# Shape rules of ops inside a branch may need a captured constant's value (e.g. a reshape).
@_base.constant_folder("Placeholder")
def _fold_captured(tensor):
    source = getattr(tensor.graph, "captured_source", None)
    outer = source(tensor) if source is not None else None
    return None if outer is None else _base.constant_value(outer)
