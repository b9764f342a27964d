"""Sparse updates of variables: ``tf.scatter_update``, ``scatter_add``, ``scatter_sub`` ...

Each is one resource op (``ResourceScatterUpdate`` ...) that reads the variable as ordered by
the run and writes the updated value; like ``assign`` it returns the variable after the update.
"""

import jax.numpy as jnp

from tfstyle.framework import ops, registry

from . import _base
from .variables import _UnreadVariable

_UPDATES = {
    "ResourceScatterUpdate": lambda ref, idx, upd: ref.at[idx].set(upd),
    "ResourceScatterAdd": lambda ref, idx, upd: ref.at[idx].add(upd),
    "ResourceScatterSub": lambda ref, idx, upd: ref.at[idx].add(-upd),
    "ResourceScatterMul": lambda ref, idx, upd: ref.at[idx].multiply(upd),
    "ResourceScatterDiv": lambda ref, idx, upd: ref.at[idx].divide(upd),
    "ResourceScatterMax": lambda ref, idx, upd: ref.at[idx].max(upd),
    "ResourceScatterMin": lambda ref, idx, upd: ref.at[idx].min(upd),
}


def _scatter_lower_factory(update):
    def factory(op):
        def fn(ctx, handle, indices, updates):
            old = ctx.read_variable(op)
            ctx.write_variable(
                op, update(old, jnp.asarray(indices), jnp.asarray(updates, old.dtype))
            )

        return fn

    return factory


for _type, _update in _UPDATES.items():
    registry.register_op(_type, lambda op: [])
    registry.lowering(_type, uses_context=True, reads_resource=True, writes_resource=True)(
        _scatter_lower_factory(_update)
    )


def _scatter(op_type, ref, indices, updates, name):
    graph = ref.handle.graph
    if ops.get_default_graph()._can_capture_from(graph):
        graph = ops.get_default_graph()  # inside a cond/while function graph
    with graph.as_default():
        upd = ops.convert_to_tensor(updates, dtype=ref.dtype)
        with ops.name_scope(name, op_type) as scope:
            idx = ops.convert_to_tensor(indices, name="indices")
            op = _base.make_op(
                op_type,
                [ref.handle, idx, upd],
                {"dtype": ref.dtype, "Tindices": idx.dtype},
                name=scope,
            )
    return _UnreadVariable(ref, op)


def _public(op_type, doc):
    def fn(ref, indices, updates, use_locking=False, name=None):
        return _scatter(op_type, ref, indices, updates, name)

    fn.__doc__ = doc
    return fn


scatter_update = _public("ResourceScatterUpdate", "Sets ``ref[indices] = updates``.")
scatter_add = _public("ResourceScatterAdd", "Adds ``updates`` to ``ref[indices]``.")
scatter_sub = _public("ResourceScatterSub", "Subtracts ``updates`` from ``ref[indices]``.")
scatter_mul = _public("ResourceScatterMul", "Multiplies ``ref[indices]`` by ``updates``.")
scatter_div = _public("ResourceScatterDiv", "Divides ``ref[indices]`` by ``updates``.")
scatter_max = _public("ResourceScatterMax", "``ref[indices] = max(ref[indices], updates)``.")
scatter_min = _public("ResourceScatterMin", "``ref[indices] = min(ref[indices], updates)``.")
