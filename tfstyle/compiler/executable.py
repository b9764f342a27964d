"""One compiled ``jax.jit`` function per run signature, and how it is called.

64-bit types: TF1 programs use int64 and float64, so tracing and calls happen with JAX's 64-bit
mode switched on for tfstyle's own functions only; the user's global JAX setting is untouched.
"""

import jax

from . import lowering

x64 = jax.enable_x64


class Executable:
    """The compiled step of one ``Plan`` (see ``lowering.build_step``)."""

    __slots__ = ("plan", "jitted", "finishers", "trace_count")

    def __init__(self, plan):
        self.plan = plan
        step, self.finishers = lowering.build_step(plan)
        self.trace_count = 0

        def counted(donated, readonly, feeds, rng):
            self.trace_count += 1
            _TRACES[0] += 1
            return step(donated, readonly, feeds, rng)

        self.jitted = jax.jit(counted, donate_argnums=(0,))

    def __call__(self, donated, readonly, feeds, rng):
        with x64(True):
            return self.jitted(donated, readonly, feeds, rng)


_TRACES = [0]


def trace_count():
    """How many times tfstyle has traced a run signature into JAX in this process."""
    return _TRACES[0]
