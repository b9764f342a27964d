"""Learning-rate schedules as graph tensors of the global step (``tf.train.exponential_decay``
...), computed with TF's formulas and named as TF names them (``ExponentialDecay:0``)."""

import math

from tfstyle.framework import ops
from tfstyle.ops import array_ops, constant_op, math_ops


def _step(global_step, dtype):
    if global_step is None:
        raise ValueError("None values not supported.")
    return array_ops.cast(global_step, dtype)


def _decay_progress(learning_rate, global_step, decay_steps, decay_rate, staircase):
    """The initial rate, ``decay_rate`` and ``global_step / decay_steps`` (floored with
    ``staircase``), all in the initial rate's dtype."""
    lr = ops.convert_to_tensor(learning_rate, name="initial_learning_rate")
    dtype = lr.dtype
    decay_steps = array_ops.cast(decay_steps, dtype)
    decay_rate = array_ops.cast(decay_rate, dtype)
    p = _step(global_step, dtype) / decay_steps
    if staircase:
        p = math_ops.floor(p)
    return lr, decay_rate, p


def exponential_decay(
    learning_rate, global_step, decay_steps, decay_rate, staircase=False, name=None
):
    """``learning_rate * decay_rate ** (global_step / decay_steps)`` (the exponent floored
    with ``staircase``)."""
    with ops.name_scope(name, "ExponentialDecay") as scope:
        lr, decay_rate, p = _decay_progress(
            learning_rate, global_step, decay_steps, decay_rate, staircase
        )
        return math_ops.multiply(lr, math_ops.pow(decay_rate, p), name=scope)


def natural_exp_decay(
    learning_rate, global_step, decay_steps, decay_rate, staircase=False, name=None
):
    """``learning_rate * exp(-decay_rate * global_step / decay_steps)``."""
    rate = math_ops.exp(math_ops.negative(decay_rate))
    return exponential_decay(learning_rate, global_step, decay_steps, rate, staircase, name)


def inverse_time_decay(
    learning_rate, global_step, decay_steps, decay_rate, staircase=False, name=None
):
    """``learning_rate / (1 + decay_rate * global_step / decay_steps)``."""
    with ops.name_scope(name, "InverseTimeDecay") as scope:
        lr, decay_rate, p = _decay_progress(
            learning_rate, global_step, decay_steps, decay_rate, staircase
        )
        one = array_ops.cast(constant_op.constant(1), lr.dtype)
        denom = math_ops.add(one, math_ops.multiply(decay_rate, p))
        return math_ops.divide(lr, denom, name=scope)


def polynomial_decay(
    learning_rate,
    global_step,
    decay_steps,
    end_learning_rate=0.0001,
    power=1.0,
    cycle=False,
    name=None,
):
    """Decays from ``learning_rate`` to ``end_learning_rate`` over ``decay_steps`` as
    ``(1 - step / decay_steps) ** power``; with ``cycle`` the horizon restarts at each multiple
    of ``decay_steps``."""
    with ops.name_scope(name, "PolynomialDecay") as scope:
        lr = ops.convert_to_tensor(learning_rate, name="initial_learning_rate")
        dtype = lr.dtype
        end_lr = array_ops.cast(end_learning_rate, dtype)
        power = array_ops.cast(power, dtype)
        step = _step(global_step, dtype)
        steps = array_ops.cast(decay_steps, dtype)
        if cycle:
            multiplier = math_ops.where_v2(
                math_ops.equal(step, 0), 1.0, math_ops.ceil(step / decay_steps)
            )
            steps = math_ops.multiply(steps, multiplier)
        else:
            step = math_ops.minimum(step, steps)
        p = math_ops.divide(step, steps)
        return math_ops.add(
            math_ops.multiply(lr - end_lr, math_ops.pow(1 - p, power)), end_lr, name=scope
        )


def cosine_decay(learning_rate, global_step, decay_steps, alpha=0.0, name=None):
    """``learning_rate * ((1 - alpha) * 0.5 * (1 + cos(pi * min(step, decay_steps) /
    decay_steps)) + alpha)``."""
    with ops.name_scope(name, "CosineDecay"):
        lr = ops.convert_to_tensor(learning_rate, name="initial_learning_rate")
        dtype = lr.dtype
        decay_steps = array_ops.cast(decay_steps, dtype)
        step = math_ops.minimum(_step(global_step, dtype), decay_steps)
        fraction = step / decay_steps
        cosine = 0.5 * (1.0 + math_ops.cos(constant_op.constant(math.pi, dtype=dtype) * fraction))
        decayed = (1 - alpha) * cosine + alpha
        return math_ops.multiply(lr, decayed)


def piecewise_constant(x, boundaries, values, name=None):
    """``values[0]`` while ``x <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < x <= boundaries[i]``, and ``values[-1]`` after the last boundary."""
    if len(boundaries) != len(values) - 1:
        raise ValueError("The length of boundaries should be 1 less than the length of values")
    with ops.name_scope(name, "PiecewiseConstant"):
        x = ops.convert_to_tensor(x)
        bounds = [ops.convert_to_tensor(b) for b in boundaries]
        bounds = [
            b if b.dtype == x.dtype.base_dtype else array_ops.cast(b, x.dtype) for b in bounds
        ]
        vals = [ops.convert_to_tensor(v) for v in values]
        for v in vals[1:]:
            if v.dtype.base_dtype != vals[0].dtype.base_dtype:
                raise ValueError(
                    "Values must have elements all with the same dtype "
                    f"({vals[0].dtype.base_dtype.name} vs {v.dtype.base_dtype.name})."
                )
        out = vals[-1]
        for b, v in zip(reversed(bounds), reversed(vals[:-1])):
            out = math_ops.where_v2(math_ops.less_equal(x, b), v, out)
        return out
