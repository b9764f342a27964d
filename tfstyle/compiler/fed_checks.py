"""Checks of fed values that TF's kernels make and XLA cannot (registry ``fed_checks``).

An index out of range reads NaN or a clamped row in XLA, where TF raises
``InvalidArgumentError``. A check inside the compiled step could not keep the state: its
buffers are donated. So the checks run on the host, on the fed NumPy values, before the step is
dispatched: a failing run leaves the variables (and optimizer slots) as they were.

``build`` works out once per plan which checks apply: those whose tensors are fed, or computed
from feeds and constants by ops with a ``host_value`` whose outputs are integers or booleans
(``Identity``, ``Reshape``, ``Cast``, ... as far as those ops have one), so the host computes
exactly what the step will. A check of a tensor computed otherwise (a float op, a variable, a
random op, a cond) is left out: its values are known only inside the step. A plan without such
ops costs the run nothing.
"""

from tfstyle.framework import dtypes

# Ops followed back from one checked tensor towards the feeds: a check is cheap, and so is
# finding it.
_BUDGET = 64
_UNKNOWN = object()


class FedChecks:
    """The checks of one plan: ``checks(feed_values)`` raises TF's error for a bad value."""

    __slots__ = ("_env", "_feeds", "_steps", "_checks")

    def __init__(self, env, num_feeds, steps, checks):
        self._env = env  # slot values: feeds (filled per run), constants, computed values
        self._feeds = num_feeds
        self._steps = steps  # (host_value, op, input slots, output slot), inputs first
        self._checks = checks  # (check, slots)

    def __call__(self, feed_values):
        env = list(self._env)
        env[: self._feeds] = feed_values[: self._feeds]
        try:
            for fn, op, ins, out in self._steps:
                env[out] = fn(op, *[env[i] for i in ins])
        except (TypeError, ValueError, IndexError):
            return  # values the step rejects in its own words (a reshape of the wrong size)
        for check, slots in self._checks:
            check(*[env[i] for i in slots])


def build(plan, num_feeds):
    """The ``FedChecks`` of ``plan`` (its first ``num_feeds`` feeds are the user's), or ``None``
    where none applies."""
    declared = []
    for op in plan.ops:
        op_def = op._def
        if op_def is not None and op_def.fed_checks is not None:
            declared.append(op)
    if not declared:
        return None
    resolver = _Resolver(plan.feeds[:num_feeds])
    checks = {}  # equal checks of the same values (several ops' view of one lookup) run once
    for op in declared:
        for tensors, check in op._def.fed_checks(op):
            slots = tuple(resolver.slot(t) for t in tensors)
            if any(s is None for s in slots) or not any(s in resolver.live for s in slots):
                continue  # not known before the run, or constant (checked while tracing)
            checks.setdefault((check, slots), None)
    if not checks:
        return None
    return FedChecks(resolver.env, num_feeds, tuple(resolver.steps), tuple(checks))


class _Resolver:
    """Slots of tensors computable on the host from the feeds (see the module docstring)."""

    def __init__(self, feeds):
        self.env = [None] * len(feeds)
        self.slots = {}
        for i, t in enumerate(feeds):
            self.slots.setdefault(t, i)
        self.live = set(range(len(feeds)))  # slots whose values depend on a feed
        self.steps = []

    def slot(self, tensor):
        return self._slot(tensor, [_BUDGET])

    def _slot(self, t, budget):
        s = self.slots.get(t, _UNKNOWN)
        if s is _UNKNOWN:
            s = self.slots[t] = self._find(t, budget)
        return s

    def _find(self, t, budget):
        from tfstyle.ops import _base

        if not (t.dtype.is_integer or t.dtype == dtypes.bool):
            return None
        op = t.op
        op_def = op._def
        if op_def is None:
            return None
        if (
            op_def.host_value is None
            or not op._inputs
            or len(op._outputs) != 1
            or op_def.is_stateful
            or op_def.random
            or op_def.uses_context
            or op_def.on_host
        ):
            value = _base.constant_value(t)  # Const, Shape of a static shape, ...
            return None if value is None else self._add(value)
        budget[0] -= 1
        if budget[0] < 0:
            return None
        ins = []
        for x in op._inputs:
            s = self._slot(x, budget)
            if s is None:
                return None
            ins.append(s)
        if not any(s in self.live for s in ins):
            value = _base.constant_value(t)
            return None if value is None else self._add(value)
        out = self._add(None)
        self.live.add(out)
        self.steps.append((op_def.host_value, op, tuple(ins), out))
        return out

    def _add(self, value):
        self.env.append(value)
        return len(self.env) - 1
