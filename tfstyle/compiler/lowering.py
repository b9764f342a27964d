"""Lowering a pruned graph to one pure JAX function.

``build_step(plan)`` returns ``step(donated, readonly, feeds, rng) -> (outputs, written)``:
``donated`` holds the current values of the variables the run writes (their buffers are
donated), ``readonly`` those it only reads, ``feeds`` the fed values in ``plan.feeds`` order,
``rng`` the random-stream position. ``outputs`` follows the tensors of ``plan.fetches``
(operations give nothing), then holds the arrays of the host effects, then those of the run
checks; ``written`` maps each written variable to its new value.

Ops marked ``on_host`` in the registry (file I/O) run in Python, outside the compiled function:
those with outputs before it (``run_host_phase``; the plan feeds their outputs to the run), the
others after it, as host effects that receive the values the run computed for them.
"""

import collections
import contextlib
import threading

import jax
import jax.numpy as jnp
import numpy as np

from tfstyle.framework import dtypes, errors
from tfstyle.framework.ops import Tensor, variable_handle_op, variable_key

from . import plan as _plan


class HostValue:
    """A value finished on the host after the run (e.g. a serialized ``Summary`` string).

    ``arrays`` are computed in the compiled function; ``finish(*numpy_arrays)`` runs in Python
    after they are fetched. Ops that consume a host value combine them with ``combine``.
    """

    __slots__ = ("arrays", "finish")

    def __init__(self, finish, *arrays):
        self.finish = finish
        self.arrays = arrays

    @staticmethod
    def combine(finish, *host_values):
        arrays, sizes = [], []
        for h in host_values:
            arrays.extend(h.arrays)
            sizes.append(len(h.arrays))

        def finish_all(*vals):
            parts, i = [], 0
            for h, n in zip(host_values, sizes):
                parts.append(h.finish(*vals[i : i + n]))
                i += n
            return finish(*parts)

        return HostValue(finish_all, *arrays)


def _key(seed):
    """A typed key of the ``rbg`` implementation: threefry keys (derivation, ``fold_in``) with
    random bits from XLA's ``RngBitGenerator``. Threefry's bits are an unrolled hash that XLA
    compiles once per random op and shape, about 0.4 s each on a 2-core CPU, which made the
    initialiser run dominate the first step (MLP 1.7 s of 2.4 s); with ``rbg`` it is 0.7 s.
    The stream is deterministic for given seeds on one backend, but may differ between CPU and
    GPU/TPU or between XLA versions (it already differs from TF's)."""
    return jax.random.key(seed, impl="rbg")


class LoweringContext:
    """What context-using lowerings see: variables, random keys and sub-graph evaluation."""

    def __init__(self, plan, state, rng):
        self.plan = plan
        self.state = state  # var key -> value at the start of the run (present vars only)
        self.rng = rng  # (base_seed, counter) traced scalars, or None
        self.written = {}  # writing op -> value it wrote
        self.values = {}  # Tensor -> value computed so far
        self.random_used = False
        # HostValues of on_host ops to run after the compiled function, in order; None where
        # they cannot run (sub-graphs, to_jax).
        self.effects = None
        # Values that ended in functions run at compile time, whose run checks this context
        # makes (see ``run_plan``).
        self.ended = []

    # -- variables -------------------------------------------------------------------------
    def variable_key(self, op):
        key = self.plan.handles.get(op)
        if key is None:
            # An op the run prunes (it computes a fed tensor), which a gradient's forward pass
            # runs again.
            key = variable_key(variable_handle_op(op._inputs[0]))
        return key

    def read_variable(self, op, key=None):
        """The value of the variable read by ``op``, as ordered by the plan (``key``: which of
        the variables of an op with ``resource_effects``)."""
        writer = self.plan.sees.get(op if key is None else (op, key))
        if writer is not None:
            return self.written[writer]
        if key is None:
            key = self.variable_key(op)
        try:
            return self.state[key]
        except KeyError:
            raise _uninitialized(key, op) from None

    def write_variable(self, op, value, key=None):
        self.written[op if key is None else (op, key)] = value

    def is_initialized(self, key):
        return key in self.state

    # -- randomness ------------------------------------------------------------------------
    def random_key(self, op):
        """A key for one random op in this run: from its seeds, or the session's stream."""
        self.random_used = True
        seed = op._attrs.get("seed", 0) or 0
        seed2 = op._attrs.get("seed2", 0) or 0
        base_seed, counter = self.rng
        if seed or seed2:
            key = jax.random.fold_in(_key(np.uint32(seed & 0xFFFFFFFF)), seed2)
        else:
            # Ops of function graphs have ids beyond 32 bits; fold both halves in.
            key = jax.random.fold_in(_key(base_seed), op._id & 0xFFFFFFFF)
            if op._id >> 32:
                key = jax.random.fold_in(key, op._id >> 32)
        return jax.random.fold_in(key, counter)

    # -- sub-graphs ------------------------------------------------------------------------
    def evaluate(self, tensors, overrides=None, recomputed=None):
        """Values of ``tensors``; with ``overrides`` ({Tensor: value}) everything downstream of
        the overridden tensors is recomputed from them (used by gradients and control flow),
        and ``recomputed`` (a dict), if given, receives those recomputed values."""
        if not overrides:
            missing = [t for t in tensors if t not in self.values]
            if missing:
                order = _plan.topological_order([], missing, set(self.values))
                _run_ops(self, order, self.values)
            return [self.values[t] for t in tensors]
        env = dict(overrides)
        order = _plan.topological_order([], list(tensors), set(env))
        dirty = set(env)
        for op in order:
            if any(t in dirty for t in op._inputs):
                dirty.update(op._outputs)
        # Ops untouched by the overrides reuse the values already computed.
        recompute = []
        for op in order:
            if op._outputs and not any(t in dirty for t in op._outputs):
                if all(t in self.values for t in op._outputs):
                    for t in op._outputs:
                        env[t] = self.values[t]
                    continue
            recompute.append(op)
        # A nested evaluation (a gradient of a gradient) must see this one's overridden values.
        saved = self.values
        self.values = collections.ChainMap(env, saved)
        # A fed tensor recomputed here keeps its fed value, and passes the gradient on through
        # the ops that compute it, as TF's gradient graph does.
        fed = {t: saved[t] for t in self.plan.feeds if t in saved and t not in env}
        try:
            with _thread_setting(_RERUNNING, "on", True):
                _run_ops(self, recompute, env, fed)
        finally:
            self.values = saved
        if recomputed is not None:
            recomputed.update((t, env[t]) for op in recompute for t in op._outputs if t in env)
        return [env[t] for t in tensors]


def _uninitialized(key, op):
    return errors.FailedPreconditionError(
        None,
        op,
        f"Attempting to use uninitialized value {key}\n\t [[{{{{node {op.name}}}}}]]"
        if op is not None
        else f"Attempting to use uninitialized value {key}",
    )


def _run_ops(ctx, ops, env, fed=None):
    for op in ops:
        fn = _lowered(op)
        args = [env[t] for t in op._inputs]
        if op._def.on_host:
            _host_effect(ctx, op, fn, args)
            continue
        try:
            if op._def.uses_context:
                out = fn(ctx, *args)
            elif args and all(isinstance(a, _HOST_TYPES) for a in args) and not op._def.is_stateful:
                if op._def.host_value is not None:
                    out = op._def.host_value(op, *args)
                else:
                    out = _on_host(fn, args)
            else:
                out = fn(*args)
        except (TypeError, ValueError) as e:
            # Shapes only known at run time (None dims) can still disagree: TF reports that as
            # InvalidArgumentError naming the op. Runs on tracing only, never per step.
            error = _runtime_error(op, args, e)
            error.needs_static_value = isinstance(e, errors.NeedsStaticValue)
            error.needs_run_checks = isinstance(e, errors.NeedsRunChecks)
            raise error from e
        outs = op._outputs
        if len(outs) == 1:
            env[outs[0]] = out
        elif outs:
            for t, v in zip(outs, out):
                env[t] = v
        if fed:
            for t in outs:
                if t in fed:
                    env[t] = env[t] + jax.lax.stop_gradient(fed[t] - env[t])


_HOST_TYPES = (np.ndarray, np.generic)


def _host_effect(ctx, op, fn, args):
    """Defers an ``on_host`` op without outputs (a file write) until after the compiled run."""
    if op._outputs or ctx.effects is None:
        raise errors.UnimplementedError(
            None,
            op,
            f"{op.name} ({op.type}) reads or writes files on the host; tfstyle runs it in "
            "Session.run only, outside control flow, gradients and to_jax",
        )
    hosts = [a if isinstance(a, HostValue) else HostValue(_same, a) for a in args]
    ctx.effects.append(HostValue.combine(fn, *hosts))


def _same(a):
    return a


def _concrete(v):
    """The value of a host-phase computation as NumPy (HostValues finished)."""
    if isinstance(v, HostValue):
        return v.finish(*[np.asarray(a) for a in v.arrays])
    if isinstance(v, jax.Array):
        return np.asarray(v)
    return v


def run_host_phase(plan, feed_values):
    """Runs ``plan.host_ops`` in Python before the compiled function, from the run's fed values
    (``plan.feeds`` order, strings as object arrays); returns the values of
    ``plan.host_feeds``, which the run is fed after ``feed_values``. Raises what the ops
    raise (a missing checkpoint) before anything is dispatched."""
    ctx = LoweringContext(plan, {}, None)
    env = ctx.values
    for t, v in zip(plan.feeds, feed_values):
        env[t] = HostValue(lambda v=v: _tf_strings(v)) if is_host_dtype(t.dtype) else v
    with jax.enable_x64(True):
        for op in plan.host_ops:
            if op._def is not None and op._def.on_host:
                out = _lowered(op)(*[_concrete(env[t]) for t in op._inputs])
                outs = op._outputs
                for t, v in zip(outs, (out,) if len(outs) == 1 else out):
                    env[t] = v
            else:
                _run_ops(ctx, [op], env)
        values = [_concrete(env[t]) for t in plan.host_feeds]
        # On the device now, so that a variable assigned one unchanged can hold this very array
        # (see ``build_step``); on the CPU, ``device_put`` adopts the memory of what was read.
        return tuple(
            v if is_host_dtype(t.dtype) else jax.device_put(v)
            for t, v in zip(plan.host_feeds, values)
        )


def _on_host(fn, args):
    """An op whose inputs are all known while tracing (constants, static shapes) is computed
    right away, as NumPy, so that shape arithmetic stays static for the ops that need it
    (``reshape``, ``range``, ``tile`` ...) instead of becoming traced values."""
    with jax.ensure_compile_time_eval():
        out = fn(*args)
    if isinstance(out, (tuple, list)):
        return type(out)(_to_host(v) for v in out)
    return _to_host(out)


def _to_host(v):
    if isinstance(v, jax.Array):
        return np.asarray(v)
    return v


def _runtime_error(op, args, e):
    shapes = [list(np.shape(a)) for a in args if hasattr(a, "shape")]
    msg = str(e)
    if "broadcast" in msg.lower() or "incompatible shapes" in msg.lower():
        shape_txt = " vs. ".join("[" + ",".join(str(d) for d in s) + "]" for s in shapes[:2])
        msg = f"Incompatible shapes: {shape_txt}"
    return errors.InvalidArgumentError(None, op, f"{msg}\n\t [[{{{{node {op.name}}}}}]]")


def _lowered(op):
    op_def = op._def
    if op_def is None or op_def.lower is None:
        raise errors.UnimplementedError(
            None, op, f"Op type not registered '{op.type}' in tfstyle (node {op.name})"
        )
    return op_def.lower(op)


def run_plan(ctx, feed_values):
    """Runs ``ctx.plan`` inside an enclosing trace (a sub-graph called by a control-flow op):
    returns the values of its fetched tensors and ``{variable key: value written}``."""
    env = ctx.values
    for t, v in zip(ctx.plan.feeds, feed_values):
        # The function's own copy of a value that records what it does (a TF 1.x TensorArray's
        # reads), which may be the caller's.
        fed = getattr(type(v), "fed_to_function", None)
        env[t] = v if fed is None else fed(v)
    _run_ops(ctx, ctx.plan.ops, env)
    _checks_in_function(ctx)
    outs = [env[t] for t in ctx.plan.fetches if isinstance(t, Tensor)]
    written = {k: ctx.written[w] for k, w in ctx.plan.final_writer.items()}
    return outs, written


_HOST_FEEDS = threading.local()


@contextlib.contextmanager
def _thread_setting(local, name, value):
    saved = getattr(local, name, None)
    setattr(local, name, value)
    try:
        yield
    finally:
        setattr(local, name, saved)


def host_feeds(values):
    """Makes the fed values of the current run readable by host-side finishers (strings)."""
    return _thread_setting(_HOST_FEEDS, "values", values)


_RUN_CHECKS = threading.local()


def tracing(run_checks):
    """While a step is traced: whether it may make checks while it runs (``run_checks``), which
    a step that donates its state may not (see ``errors.NeedsRunChecks``)."""
    return _thread_setting(_RUN_CHECKS, "allowed", run_checks)


def run_checks_allowed():
    return bool(getattr(_RUN_CHECKS, "allowed", False))


_RERUNNING = threading.local()


def rerunning():
    """Whether ops run a second time in this step (a gradient's forward pass,
    ``LoweringContext.evaluate``): what they record as done (a TensorArray's reads) is done."""
    return bool(getattr(_RERUNNING, "on", False))


def _host_feed(i):
    return lambda: _tf_strings(_HOST_FEEDS.values[i])


def _tf_strings(value):
    """A fed string value as TF holds it: ``str`` elements become UTF-8 ``bytes``."""
    arr = np.asarray(value, dtype=object)
    if not any(isinstance(s, str) for s in arr.reshape(-1).tolist()):
        return value
    return np.vectorize(lambda s: s.encode() if isinstance(s, str) else s, otypes=[object])(arr)


def is_host_dtype(dtype):
    """Values of this dtype stay on the host (strings)."""
    return dtype is dtypes.string


def build_step(plan, host_effects=True):
    """The pure function of one plan (see the module docstring). Without ``host_effects``
    (``to_jax``: nothing runs after the function) ``on_host`` ops are an error."""
    fetch_tensors = [f for f in plan.fetches if isinstance(f, Tensor)]
    feeds = plan.feeds
    final_writer = plan.final_writer
    host_finishers = [None] * len(fetch_tensors)
    effects = []  # finish of each host effect, its arrays following the fetched outputs
    # Variables assigned a value of the host phase unchanged (a restore) -> its feed index: the
    # caller stores the fed array itself, as returning it from the function would copy it.
    passthrough = {}
    first_host = len(feeds) - len(plan.host_feeds)
    run_checks = []  # finish of each run check (raises its error), its arrays after the effects'
    ops = _givers_first(plan.ops)

    def step(donated, readonly, feed_values, rng):
        state = dict(readonly)
        state.update(donated)
        ctx = LoweringContext(plan, state, rng)
        if host_effects:
            ctx.effects = []
        env = ctx.values
        for i, (t, v) in enumerate(zip(feeds, feed_values)):
            # Strings never enter XLA: a fed string (passed as None) is read on the host.
            env[t] = HostValue(_host_feed(i)) if v is None else v
        _run_ops(ctx, ops, env)
        checks = _checks_after_step([*env.values(), *ctx.ended]) if host_effects else []
        outs = []
        for i, t in enumerate(fetch_tensors):
            v = env[t]
            if isinstance(v, HostValue):
                host_finishers[i] = (v.finish, len(v.arrays))
                outs.append(tuple(jnp.asarray(a) for a in v.arrays))
            elif isinstance(v, str):
                raise TypeError(f"Fetch argument {t.name} has a non-array type ({t.dtype.name})")
            else:
                outs.append(v)
        if host_effects:
            effects[:] = [h.finish for h in ctx.effects]
            outs.extend(tuple(h.arrays) for h in ctx.effects)
            run_checks[:] = [finish for _, finish in checks]
            outs.extend(arrays for arrays, _ in checks)
        written = {k: ctx.written[w] for k, w in final_writer.items()}
        if plan.host_feeds:
            host = {id(v): i for i, v in enumerate(feed_values) if i >= first_host}
            uses = collections.Counter(id(v) for v in written.values())
            passthrough.clear()
            for k, v in list(written.items()):
                # Only a value that one variable takes: two variables never share an array,
                # which a later run could donate.
                if id(v) in host and uses[id(v)] == 1:
                    passthrough[k] = host[id(v)]
                    del written[k]
        return tuple(outs), written

    return step, host_finishers, effects, passthrough, run_checks


def _givers_first(ops):
    """``ops`` (a run's, in order) with the pure ops that lead neither to an op that
    ``gives_earlier_values`` nor to an op with an effect moved after it, in their order, so
    that they use the values it gives."""
    for giver in [op for op in ops if op._def.gives_earlier_values]:
        i = ops.index(giver)
        wanted = {t.op for t in giver._inputs} | set(giver._control_inputs)
        stay = set()
        for op in reversed(ops[:i]):
            d = op._def
            effect = (d.uses_context or d.is_stateful or d.on_host or d.random
                      or d.reads_resource or d.writes_resource or d.fails_at_run)  # fmt: skip
            if op in wanted or effect:
                stay.add(op)
                wanted.update(t.op for t in op._inputs)
                wanted.update(op._control_inputs)
        before = [op for op in ops[:i] if op in stay]
        ops = before + [giver] + [op for op in ops[:i] if op not in stay] + ops[i + 1 :]
    return ops


def _checks_in_function(ctx):
    """The run checks of values that end in the function ``ctx`` runs (a TF 1.x TensorArray
    that a loop's body makes and writes twice), which no check after the step sees: each kind's
    ``check_in_function(values, graph)`` reports the failures of those made in ``graph`` (all of
    them for ``None``) as the step runs, and returns those it finds while tracing (a function
    run at compile time), which the enclosing context checks as its own (``ended``): that
    context may not run this function."""
    parent = getattr(ctx, "parent", None)
    if parent is None:
        return
    for values, graph in ((ctx.values.values(), ctx.plan.graph), (ctx.ended, None)):
        kinds = {}
        for v in values:
            check = getattr(type(v), "check_in_function", None)
            if check is not None:
                kinds.setdefault(check, []).append(v)
        for check, vs in kinds.items():
            with _run_checks_needed():
                parent.ended.extend(check(vs, graph))


def _checks_after_step(values):
    """The run checks that values carry to the end of the step (a TF 1.x TensorArray written
    twice in a loop): each kind's ``check_after_step(values)`` raises where the failure is
    known while tracing, else gives ``(arrays, finish)``: ``finish`` raises on the values the
    run computed for ``arrays``, before the session takes the run's new state (a step with
    such checks does not donate it: see ``errors.NeedsRunChecks``)."""
    kinds = {}
    for v in values:
        check = getattr(type(v), "check_after_step", None)
        if check is not None:
            kinds.setdefault(check, []).append(v)
    with _run_checks_needed():
        checks = [check(vs) for check, vs in kinds.items()]
    return [c for c in checks if c is not None]


@contextlib.contextmanager
def _run_checks_needed():
    """A check's ``NeedsRunChecks`` as the error of a lowering that raised it (which the
    executable handles, and which the loops and conds that trace the check pass on)."""
    try:
        yield
    except errors.NeedsRunChecks as e:
        error = errors.InvalidArgumentError(None, None, str(e))
        error.needs_static_value, error.needs_run_checks = False, True
        raise error from e


def finish_run(outs, finishers, effects):
    """After a compiled run: performs its host effects in order (on the device arrays the run
    returned for them), then returns the fetched values as NumPy."""
    n = len(finishers)
    for finish, arrays in zip(effects, outs[n:]):
        finish(*arrays)
    res = []
    for v, fin in zip(outs[:n], finishers):
        if fin is not None:
            r = fin[0](*[np.asarray(a) for a in v])
            res.append(r[()] if isinstance(r, np.ndarray) and r.ndim == 0 else r)
            continue
        a = np.asarray(v)
        res.append(a[()] if a.ndim == 0 else a)
    return res
