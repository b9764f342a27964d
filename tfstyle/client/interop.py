"""A graph as an ordinary JAX function: ``to_jax(fetches, feeds)``.

    step, state = tfstyle.to_jax(loss, feeds=[x, y])
    loss_value, new_state = step(state, [x_batch, y_batch])
    grads = jax.grad(lambda s: step(s, [xb, yb])[0])(state)

``step`` is pure: it reads variables from ``state`` (a dict from variable name, e.g.
``dense/kernel``, to array) and returns the fetched values (in the structure of ``fetches``)
with the new state (the old one updated by the assignments the fetches run). It composes with
``jax.jit``, ``jax.grad``, ``jax.vmap`` and sharding. Graphs that use int64/float64 values need
``jax.enable_x64(True)`` around the calls, as tfstyle's own sessions do internally.
"""

import numpy as np

from tfstyle.compiler import lowering as _lowering
from tfstyle.compiler import plan as _plan
from tfstyle.framework import ops as _ops
from tfstyle.framework.ops import Tensor

from . import session as _session


def to_jax(fetches, feeds=(), graph=None, session=None, seed=0):
    """Returns ``(step, state)`` for ``fetches`` of ``graph`` given the tensors ``feeds``.

    ``state`` is ``session``'s current variable values if a session is given, else the values
    that running every variable initializer gives (in a temporary session). ``seed`` fixes the
    stream of unseeded random ops; the random position advances by passing ``rng_counter``.
    """
    if graph is None:
        graph = session.graph if session is not None else _ops.get_default_graph()
    structure = _session._FetchStructure(graph, fetches)
    feed_tensors = [graph.as_graph_element(f, allow_operation=False) for f in feeds]
    unique = list(dict.fromkeys(structure.elements))
    plan = _plan.Plan(graph, unique, feed_tensors)
    inner = _lowering.build_step(plan, host_effects=False)[0]
    out_index = {}
    for el in unique:
        if isinstance(el, Tensor):
            out_index[el] = len(out_index)
    picks = [out_index.get(el) if isinstance(el, Tensor) else None for el in structure.elements]

    def step(state, feed_values=(), rng_counter=0):
        if len(feed_values) != len(feed_tensors):
            raise ValueError(f"Expected {len(feed_tensors)} feed values, got {len(feed_values)}")
        rng = (np.uint32(seed), rng_counter)
        outs, written = inner({}, dict(state), tuple(feed_values), rng)
        new_state = dict(state)
        new_state.update(written)
        vals = [None if i is None else outs[i] for i in picks]
        return structure.rebuild(vals), new_state

    if session is not None:
        state = session.state
    else:
        state = initial_state(graph)
    return step, state


def initial_state(graph):
    """The variables' values after running all initializers of ``graph`` once."""
    from tfstyle.ops import variables

    with graph.as_default():
        var_list = variables.global_variables() + variables.local_variables()
    if not var_list:
        return {}
    with _session.Session(graph=graph) as sess:
        sess.run([v.initializer for v in var_list])
        return sess.state
