"""Gradient clipping by norm: ``clip_by_norm``, ``global_norm``, ``clip_by_global_norm``,
``clip_by_average_norm`` (``clip_by_value`` lives with the elementwise math).

The formulas and op structure are TF's, so values agree to rounding; ``None`` entries of a list
pass through as ``None``. An ``IndexedSlices`` is clipped through its values (its norm is that of
its values, as in TF) and stays an ``IndexedSlices``.
"""

import collections.abc

from tfstyle.framework import dtypes, ops
from tfstyle.framework.indexed_slices import IndexedSlices

from . import array_ops, constant_op, math_ops, reduction_ops


def _check_sequence(t_list):
    if not isinstance(t_list, collections.abc.Sequence) or isinstance(t_list, str):
        raise TypeError(f"`t_list` should be a sequence of tensors. Received {type(t_list)}.")
    return list(t_list)


def clip_by_norm(t, clip_norm, axes=None, name=None):
    """``t * clip_norm / max(l2norm(t, axes), clip_norm)``: rescales ``t`` so that its L2 norm
    (over ``axes``, default all) is at most ``clip_norm``."""
    with ops.name_scope(name, "clip_by_norm", [t, clip_norm]) as scope:
        values = ops.convert_to_tensor(_values(t), name="t")
        l2sum = reduction_ops.reduce_sum(values * values, axes, keepdims=True)
        pred = l2sum > 0
        # The double ``where`` keeps the gradient finite at a zero norm, as in TF.
        l2sum_safe = math_ops.where(pred, l2sum, array_ops.ones_like(l2sum))
        l2norm = math_ops.where(pred, math_ops.sqrt(l2sum_safe), l2sum)
        intermediate = values * clip_norm
        values.shape.assert_is_compatible_with(intermediate.shape)
        clipped = array_ops.identity(intermediate / math_ops.maximum(l2norm, clip_norm), name=scope)
        return _like(t, clipped)


def _values(t):
    return t.values if isinstance(t, IndexedSlices) else t


def _like(t, values):
    """``values`` in ``t``'s form: an ``IndexedSlices`` with ``t``'s indices if ``t`` is one."""
    return (
        IndexedSlices(values, t.indices, t.dense_shape) if isinstance(t, IndexedSlices) else values
    )


def global_norm(t_list, name=None):
    """``sqrt(sum(l2norm(t) ** 2 for t in t_list))``, skipping ``None`` entries."""
    from tfstyle.nn.nn_ops import l2_loss

    t_list = _check_sequence(t_list)
    with ops.name_scope(name, "global_norm", [t for t in t_list if t is not None]):
        values = [
            None if t is None else ops.convert_to_tensor(_values(t), name=f"t_{i}")
            for i, t in enumerate(t_list)
        ]
        half_squared = [l2_loss(v) for v in values if v is not None]
        half_squared_norm = reduction_ops.reduce_sum(array_ops.stack(half_squared))
        two = constant_op.constant(2.0, dtype=half_squared_norm.dtype)
        return math_ops.sqrt(half_squared_norm * two, name="global_norm")


def clip_by_global_norm(t_list, clip_norm, use_norm=None, name=None):
    """Scales every tensor of ``t_list`` by ``clip_norm / max(global_norm, clip_norm)``.

    Returns ``(list_clipped, global_norm)``; ``None`` entries stay ``None``. A non-finite global
    norm makes every clipped value NaN, as in TF.
    """
    t_list = _check_sequence(t_list)
    if use_norm is None:
        use_norm = global_norm(t_list, name)
    values_in = [t for t in t_list if t is not None] + [clip_norm]
    with ops.name_scope(name, "clip_by_global_norm", values_in) as scope:
        one = constant_op.constant(1.0, dtype=use_norm.dtype)
        scale_for_finite = clip_norm * math_ops.minimum(1.0 / use_norm, one / clip_norm)
        # Finite norms add zero; inf/NaN norms turn the scale into NaN.
        scale = scale_for_finite + (use_norm - use_norm)
        clipped = []
        for i, t in enumerate(t_list):
            if t is None:
                clipped.append(None)
                continue
            v = ops.convert_to_tensor(_values(t), name=f"t_{i}")
            v = array_ops.identity(v * array_ops.cast(scale, v.dtype), name=f"{scope}_{i}")
            clipped.append(_like(t, v))
    return clipped, use_norm


def clip_by_average_norm(t, clip_norm, name=None):
    """``t * clip_norm / max(l2norm(t) / size(t), clip_norm)`` (deprecated in TF)."""
    with ops.name_scope(name, "clip_by_average_norm", [t, clip_norm]) as scope:
        t = ops.convert_to_tensor(t, name="t")
        n_element = array_ops.cast(array_ops.size(t), dtypes.float32)
        l2norm_inv = math_ops.rsqrt(
            reduction_ops.reduce_sum(t * t, array_ops.range(array_ops.rank(t)))
        )
        return array_ops.identity(
            t
            * clip_norm
            * math_ops.minimum(l2norm_inv * n_element, constant_op.constant(1.0) / clip_norm),
            name=scope,
        )
