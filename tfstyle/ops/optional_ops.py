"""TF's optional values (``OptionalFromValue``, ``OptionalNone``, ``OptionalGetValue``,
``OptionalHasValue``), as graphs written by TF use them: the gradient of a ``cond`` has the
forward branches return their intermediates as optionals (a value from the branch that ran,
none from the other), which the gradient's branches unwrap.

An optional lowers to ``OptionalValue``, a pytree of a boolean ``has_value`` and the values.
The ``If`` lowering lets each variant value it returns match the other branch's
(``OptionalValue.like_branch``: an empty optional takes the other's values as zeros).
"""

import numpy as np

from tfstyle.framework import dtypes, errors, tensor_shape

from . import _base


class OptionalValue:
    """``has_value`` (a bool, or a traced boolean scalar) and ``values`` (a tuple of arrays, or
    ``None`` for TF's ``OptionalNone``, whose types are not known where it is made)."""

    __slots__ = ("has_value", "values")

    def __init__(self, has_value, values):
        self.has_value = has_value
        self.values = values

    def like_branch(self, other):
        """This optional as one branch of a ``cond`` returns it, given the other branch's
        (``jax.eval_shape``) optional at the same place: an empty one takes the other's values
        as zeros, so that both branches produce one structure."""
        import jax.numpy as jnp

        if self.values is None and isinstance(other, OptionalValue) and other.values is not None:
            zeros = tuple(jnp.zeros(t.shape, t.dtype) for t in other.values)
            return OptionalValue(jnp.asarray(False), zeros)
        return OptionalValue(jnp.asarray(self.has_value, bool), self.values)

    def zeros_like(self):
        """``ZerosLike`` (the gradient TF feeds an unused optional output): the same presence,
        zeros for the values."""
        import jax.numpy as jnp

        if self.values is None:
            return self
        return OptionalValue(self.has_value, tuple(jnp.zeros_like(v) for v in self.values))


def _flatten(v):
    values = () if v.values is None else v.values
    return [v.has_value, *values], v.values is None


def _unflatten(empty, children):
    return OptionalValue(children[0], None if empty else tuple(children[1:]))


_REGISTERED = []


def _register_pytree():
    if not _REGISTERED:
        import jax

        jax.tree_util.register_pytree_node(OptionalValue, _flatten, _unflatten)
        _REGISTERED.append(True)


_register_pytree()


def _variant_rule(op):
    return [(dtypes.variant, ())]


def _lower_from_value(op):
    def fn(*components):
        return OptionalValue(True, tuple(components))

    return fn


def _lower_none(op):
    def fn():
        return OptionalValue(False, None)

    return fn


def _dims(shape):
    shape = tensor_shape.as_shape(shape)
    return None if shape.ndims is None else tuple(shape.as_list())


def _get_value_rule(op):
    shapes = op._attrs.get("output_shapes") or [None] * len(op._attrs["output_types"])
    return [
        (dtypes.as_dtype(dt), None if s is None else _dims(s))
        for dt, s in zip(op._attrs["output_types"], shapes)
    ]


def _lower_get_value(op):
    def fail():
        return errors.InvalidArgumentError(
            None, op, f"The optional variant does not have a value.\n\t [[{{{{node {op.name}}}}}]]"
        )

    def fn(optional):
        if optional.values is None:
            raise fail()
        has = optional.has_value
        if isinstance(has, (bool, np.bool_)) and not has:
            raise fail()
        values = optional.values
        return values[0] if len(values) == 1 else tuple(values)

    return fn


def _lower_has_value(op):
    def fn(optional):
        import jax.numpy as jnp

        return jnp.asarray(optional.has_value, bool)

    return fn


_base.register_simple("OptionalFromValue", _variant_rule, _lower_from_value)
_base.register_simple("OptionalNone", _variant_rule, _lower_none)
_base.register_simple("OptionalGetValue", _get_value_rule, _lower_get_value)
_base.register_simple("OptionalHasValue", lambda op: [(dtypes.bool, ())], _lower_has_value)
