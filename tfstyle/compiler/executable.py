"""One compiled ``jax.jit`` function per run signature, and how it is called.

64-bit types: TF1 programs use int64 and float64, so tracing and calls happen with JAX's 64-bit
mode switched on for tfstyle's own functions only; the user's global JAX setting is untouched.

Compilation cache (opt-in): with ``TFSTYLE_COMPILATION_CACHE_DIR`` set in the environment when
tfstyle is imported, JAX's persistent compilation cache is switched on in that directory, for
every compilation at least ``TFSTYLE_COMPILATION_CACHE_MIN_SECS`` long (default 0.1 s; JAX's own
default of 1 s would skip a typical training step). A later process that runs the same graphs
loads their executables instead of compiling them: the MLP benchmark's first step (graph
build, initialisation, first training step) goes from about 1.5 s to 0.4 s. This changes
JAX's global configuration, which is why it is not the default; without the variable nothing
is changed.

CPU compiler options: an op's registry entry may ask for XLA options on CPU
(``cpu_compiler_options``); an executable containing such ops is compiled with them. The
convolutions use this to run on Eigen (all cores) instead of YNNPACK (one thread): the CNN
training step is about 35% faster on 2 cores (docs/performance.md). Such options can be
experimental in XLA, so each option is probed once per process with a tiny compile and dropped
silently when this jaxlib rejects it or the backend is not CPU. ``TFSTYLE_CPU_CONV_OPTIONS=0``
keeps XLA's defaults (on a machine whose cores are all busy with other work, the convolutions'
single-threaded default was about 20% faster). Every CPU executable also gets
``_CPU_DEFAULT_OPTIONS``, unless one of its ops sets one back.
"""

import os

import jax
import numpy as np

from tfstyle.framework import errors

from . import lowering

x64 = jax.enable_x64


def _configure_compilation_cache():
    path = os.environ.get("TFSTYLE_COMPILATION_CACHE_DIR")
    if not path:
        return
    jax.config.update("jax_compilation_cache_dir", os.path.expanduser(path))
    min_secs = float(os.environ.get("TFSTYLE_COMPILATION_CACHE_MIN_SECS", "0.1"))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", min_secs)
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)


_configure_compilation_cache()

# Every CPU executable: copy insertion with region analysis sees that a donated variable's old
# value is read before its new value is written even when no data edge orders the two (a
# layer's backprop reads the kernel that its optimizer update overwrites), so XLA does not copy
# the variable first (docs/performance.md). Ops may set a default back (the loops: with nested
# loops this XLA miscompiles under it) in their ``cpu_compiler_options``.
_CPU_DEFAULT_OPTIONS = {"xla_cpu_copy_insertion_use_region_analysis": True}

_accepted_options = {}  # (option, value) -> bool, decided once per process


def _accepted(item):
    if item not in _accepted_options:
        ok = False
        try:
            if jax.default_backend() == "cpu":
                jax.jit(lambda x: x + 1, compiler_options=dict([item])).lower(
                    jax.ShapeDtypeStruct((2,), "float32")
                ).compile()
                ok = True
        except Exception:  # an XLA that lacks or renamed the option: keep its default
            ok = False
        _accepted_options[item] = ok
    return _accepted_options[item]


def _cpu_compiler_options(plan):
    """The XLA options for the plan on CPU (the defaults above and those its ops, or the ops of
    the function graphs they hold, ask for) that this backend and jaxlib accept.
    ``TFSTYLE_CPU_CONV_OPTIONS=0`` keeps only the ops' say on the defaults."""
    wanted = dict(_CPU_DEFAULT_OPTIONS)
    own = os.environ.get("TFSTYLE_CPU_CONV_OPTIONS", "1") != "0"
    for op in _ops_within(plan.ops):
        opts = op._def.cpu_compiler_options if op._def is not None else None
        for key, value in (opts or {}).items():
            if own or key in _CPU_DEFAULT_OPTIONS:
                wanted[key] = value
    options = dict(item for item in wanted.items() if _accepted(item))
    return options or None


def _subgraphs(op):
    """The function graphs an op holds (cond branches, loop bodies)."""
    return [item for value in op._attrs.values()
            for item in (value if isinstance(value, (list, tuple)) else [value])
            if hasattr(item, "get_operations")]  # fmt: skip


def _ops_within(op_list):
    """The ops, and the ops of the function graphs they hold (cond branches, loop bodies)."""
    stack, seen = list(op_list), set()
    while stack:
        op = stack.pop()
        if op in seen:
            continue
        seen.add(op)
        yield op
        for graph in _subgraphs(op):
            stack.extend(graph.get_operations())


def _may_fail_at_run(op_list):
    """Whether any op, or any op of a function graph they hold, may raise while the step runs."""
    for op in _ops_within(op_list):
        fails = op._def.fails_at_run if op._def is not None else False
        if fails is True or (callable(fails) and fails(op)):
            return True
    return False


# Fed values that a step is specialized on (sizes, shapes, capacities): at most this many
# elements each, and this many specializations kept per executable.
_STATIC_FEED_SIZE = 64
_MAX_SPECIALIZATIONS = 32


class Executable:
    """The compiled step of one ``Plan`` (see ``lowering.build_step``).

    A lowering that needs a value known while tracing (a slice's bounds, a shape, a list's
    capacity) raises ``NeedsStaticValue`` when that value is traced. Where it comes from small
    integer feeds, the step is specialized on them: their values become constants of the traced
    function, and each new combination of values is compiled (as TF computes such sizes per
    run). Otherwise the error stands.

    A lowering that must check something while the step runs (a differentiated loop's
    capacity) raises ``NeedsRunChecks`` while tracing a step that donates its state: the step is
    then compiled without donating. An error such a check reports with ``rerun_after`` (a
    capacity that was too small) is fixed by that call, and the step compiled and run again.
    """

    __slots__ = (
        "plan",
        "step",
        "jitted",
        "finishers",
        "effects",
        "passthrough",
        "run_checks",
        "trace_count",
        "may_fail",
        "static_feeds",
        "specialized",
        "_jit",
    )

    def __init__(self, plan):
        self.plan = plan
        built = lowering.build_step(plan)
        self.step, self.finishers, self.effects, self.passthrough, self.run_checks = built
        self.trace_count = 0
        options = _cpu_compiler_options(plan)
        # A step that may fail while it runs keeps its inputs: a failed run loses no variable.
        self.may_fail = _may_fail_at_run(plan.ops)

        def jit(fn):
            donate = () if self.may_fail else (0,)
            return jax.jit(fn, donate_argnums=donate, compiler_options=options)

        self._jit = jit
        self.jitted = jit(self._counted(None))
        self.static_feeds = ()  # indices of the feeds the step is specialized on
        self.specialized = {}  # their values -> jitted step

    def _counted(self, static):
        step = self.step

        def counted(donated, readonly, feeds, rng):
            self.trace_count += 1
            _TRACES[0] += 1
            if static:
                feeds = list(feeds)
                for i, value in static:
                    feeds[i] = value
            with lowering.tracing(run_checks=self.may_fail):
                return step(donated, readonly, feeds, rng)

        return counted

    def _specialized(self, feeds):
        static = tuple((i, np.array(feeds[i])) for i in self.static_feeds)
        key = tuple((v.dtype.str, v.shape, v.tobytes()) for _, v in static)
        fn = self.specialized.get(key)
        if fn is None:
            if len(self.specialized) >= _MAX_SPECIALIZATIONS:
                del self.specialized[next(iter(self.specialized))]
            fn = self.specialized[key] = self._jit(self._counted(static))
        return fn

    def __call__(self, donated, readonly, feeds, rng):
        while True:
            try:
                return self._call(donated, readonly, feeds, rng)
            except errors.InvalidArgumentError as e:
                if getattr(e, "needs_run_checks", False) and not self.may_fail:
                    # (Raised while tracing: nothing ran and nothing was donated.)
                    self.may_fail = True
                elif getattr(e, "rerun_after", None) is not None:
                    # A check of the run (which donated nothing) that a new compile satisfies.
                    e.rerun_after()
                elif getattr(e, "needs_static_value", False):
                    more = _source_feeds(e.op, self.plan.feeds, feeds) - set(self.static_feeds)
                    if not more:
                        raise
                    self.static_feeds = tuple(sorted({*self.static_feeds, *more}))
                else:
                    raise
                self.jitted = self._jit(self._counted(None))
                self.specialized.clear()

    def _call(self, donated, readonly, feeds, rng):
        fn = self._specialized(feeds) if self.static_feeds else self.jitted
        with x64(True):
            if not self.may_fail:
                result = fn(donated, readonly, feeds, rng)
            else:
                errors.take_run_error()
                result = jax.block_until_ready(fn(donated, readonly, feeds, rng))
                error = errors.take_run_error()
                if error is not None:
                    raise error
        if self.run_checks:
            # Raised before the session takes the run's new state.
            first = len(self.finishers) + len(self.effects)
            for finish, arrays in zip(self.run_checks, result[0][first:]):
                finish(*(np.asarray(a) for a in arrays))
        return result

    def finish(self, outs):
        """Runs the host effects of a call's results, then returns the fetched values as NumPy
        (called once the session holds the run's new state, so a failing effect loses none)."""
        return lowering.finish_run(outs, self.finishers, self.effects)


def _source_feeds(op, plan_feeds, values):
    """The indices of the small integer feeds that ``op``'s inputs are computed from (through
    the captures of the function graphs it lies in)."""
    index = {t: i for i, t in enumerate(plan_feeds)}
    found, seen = set(), set()
    stack = list(op._inputs) if op is not None else []
    while stack:
        t = stack.pop()
        if t in seen:
            continue
        seen.add(t)
        i = index.get(t)
        if i is not None:
            v = values[i]
            if (
                v is not None
                and np.asarray(v).dtype.kind in "iu"
                and np.size(v) <= _STATIC_FEED_SIZE
            ):
                found.add(i)
            continue
        outer = {inner: o for o, inner in getattr(t.graph, "captures", ())}
        if t in outer:
            stack.append(outer[t])
            continue
        stack.extend(t.op._inputs)
    return found


_TRACES = [0]


def trace_count():
    """How many times tfstyle has traced a run signature into JAX in this process."""
    return _TRACES[0]
