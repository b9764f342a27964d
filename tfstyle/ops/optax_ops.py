"""Graph ops that run an optax ``GradientTransformation``: ``OptaxInit`` (the state from the
parameters' initial values) and ``OptaxUpdate`` (new parameters and state from the gradients).

The parameters form a dict keyed by variable name (so ``optax.masked`` and friends can select
them by name); the state's leaves are separate tensors, in ``jax.tree_util`` order.
"""

import jax
import numpy as np
import optax

from tfstyle.framework import dtypes, registry

from . import _base


def _abstract(params):
    return {
        k: jax.ShapeDtypeStruct(tuple(t.shape.as_list()), t.dtype.as_numpy_dtype)
        for k, t in params.items()
    }


def state_structure(transformation, params):
    """``(leaf paths, [(dtype, shape)], treedef)`` of the state that ``transformation.init``
    builds for ``params`` ({name: tensor with a fully defined shape})."""
    state = jax.eval_shape(transformation.init, _abstract(params))
    leaves, treedef = jax.tree_util.tree_flatten_with_path(state)
    paths = [_path_name(path) for path, _ in leaves]
    types = [(dtypes.as_dtype(np.dtype(x.dtype)), tuple(x.shape)) for _, x in leaves]
    return paths, types, treedef


def _path_name(path):
    parts = []
    for key in path:
        for attr in ("name", "key", "idx"):
            if hasattr(key, attr):
                parts.append(str(getattr(key, attr)))
                break
    return "/".join(parts) or "state"


def optax_init(transformation, params, name="OptaxInit"):
    """The initial optax state for ``params`` ({name: tensor}): one tensor per state leaf."""
    names = sorted(params)
    _, types, treedef = state_structure(transformation, params)
    op = _base.make_op(
        "OptaxInit",
        [params[k] for k in names],
        {"_transformation": transformation, "_names": names, "_types": types, "_treedef": treedef},
        name=name,
    )
    return list(op._outputs)


def optax_update(transformation, grads, params, state, state_types, treedef, name="OptaxUpdate"):
    """``(new params {name: tensor}, new state leaves)`` after one ``transformation`` step."""
    names = sorted(params)
    inputs = [grads[k] for k in names] + [params[k] for k in names] + list(state)
    types = [(params[k].dtype, tuple(params[k].shape.as_list())) for k in names] + list(state_types)
    op = _base.make_op(
        "OptaxUpdate",
        inputs,
        {"_transformation": transformation, "_names": names, "_types": types, "_treedef": treedef},
        name=name,
    )
    outs = op._outputs
    return dict(zip(names, outs[: len(names)])), outs[len(names) :]


def _infer(op):
    return list(op._attrs["_types"])


def _cast_all(values, types):
    return tuple(jax.numpy.asarray(v, dtype=dt.as_numpy_dtype) for v, (dt, _) in zip(values, types))


@registry.lowering("OptaxInit")
def _init_lower(op):
    tx, names, types = op._attrs["_transformation"], op._attrs["_names"], op._attrs["_types"]

    def fn(*values):
        state = tx.init(dict(zip(names, values)))
        return _single(_cast_all(jax.tree_util.tree_leaves(state), types))

    return fn


@registry.lowering("OptaxUpdate")
def _update_lower(op):
    tx, names = op._attrs["_transformation"], op._attrs["_names"]
    types, treedef = op._attrs["_types"], op._attrs["_treedef"]
    n = len(names)

    def fn(*values):
        grads = dict(zip(names, values[:n]))
        params = dict(zip(names, values[n : 2 * n]))
        state = jax.tree_util.tree_unflatten(treedef, values[2 * n :])
        updates, state = tx.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        leaves = [params[k] for k in names] + jax.tree_util.tree_leaves(state)
        return _single(_cast_all(leaves, types))

    return fn


def _single(values):
    return values[0] if len(values) == 1 else values


for _type in ("OptaxInit", "OptaxUpdate"):
    registry.shape_rule(_type)(_infer)
