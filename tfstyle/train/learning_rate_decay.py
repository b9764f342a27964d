"""Learning-rate schedules as graph tensors of the global step (``tf.train.exponential_decay``
...), computed with TF's formulas and named as TF names them (``ExponentialDecay:0``)."""

import math

from tfstyle.framework import ops
from tfstyle.ops import array_ops, constant_op, control_flow_ops, math_ops, random_ops


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


def _cosine(fraction, dtype):
    """``0.5 * (1 + cos(pi * fraction))``."""
    return 0.5 * (1.0 + math_ops.cos(constant_op.constant(math.pi, dtype=dtype) * fraction))


def cosine_decay_restarts(
    learning_rate, global_step, first_decay_steps, t_mul=2.0, m_mul=1.0, alpha=0.0, name=None
):
    """Cosine decay with warm restarts (SGDR): the ``i``-th period lasts ``first_decay_steps *
    t_mul**i`` steps and starts from ``learning_rate * m_mul**i``; within it the rate follows
    ``cosine_decay`` down to ``alpha`` of its start."""
    with ops.name_scope(name, "SGDRDecay") as scope:
        lr = ops.convert_to_tensor(learning_rate, name="initial_learning_rate")
        dtype = lr.dtype
        first_decay_steps = array_ops.cast(first_decay_steps, dtype)
        alpha = array_ops.cast(alpha, dtype)
        t_mul = array_ops.cast(t_mul, dtype)
        m_mul = array_ops.cast(m_mul, dtype)
        fraction = _step(global_step, dtype) / first_decay_steps

        def equal_periods():
            i = math_ops.floor(fraction)
            return i, fraction - i

        def growing_periods():
            # The periods' lengths form a geometric series: invert its partial sum.
            i = math_ops.floor(math_ops.log(1.0 - fraction * (1.0 - t_mul)) / math_ops.log(t_mul))
            done = (1.0 - t_mul**i) / (1.0 - t_mul)
            return i, (fraction - done) / t_mul**i

        i_restart, fraction = control_flow_ops.cond(
            math_ops.equal(t_mul, 1.0), equal_periods, growing_periods
        )
        cosine = m_mul**i_restart * _cosine(fraction, dtype)
        decayed = (1 - alpha) * cosine + alpha
        return math_ops.multiply(lr, decayed, name=scope)


def _linear_cosine(learning_rate, global_step, decay_steps, num_periods, alpha, beta, noise):
    lr = ops.convert_to_tensor(learning_rate, name="initial_learning_rate")
    dtype = lr.dtype
    decay_steps = array_ops.cast(decay_steps, dtype)
    num_periods = array_ops.cast(num_periods, dtype)
    alpha = array_ops.cast(alpha, dtype)
    beta = array_ops.cast(beta, dtype)
    step = math_ops.minimum(_step(global_step, dtype), decay_steps)
    linear = (decay_steps - step) / decay_steps
    if noise is not None:
        linear = linear + noise(step, dtype)
    cosine = _cosine(2.0 * num_periods * (step / decay_steps), dtype)
    return lr, (alpha + linear) * cosine + beta


def linear_cosine_decay(
    learning_rate, global_step, decay_steps, num_periods=0.5, alpha=0.0, beta=0.001, name=None
):
    """``learning_rate * ((alpha + linear) * cosine + beta)`` with ``linear = (decay_steps -
    step) / decay_steps`` and ``cosine = 0.5 * (1 + cos(2 pi num_periods step /
    decay_steps))``, ``step`` capped at ``decay_steps``."""
    with ops.name_scope(name, "LinearCosineDecay") as scope:
        lr, decayed = _linear_cosine(
            learning_rate, global_step, decay_steps, num_periods, alpha, beta, None
        )
        return math_ops.multiply(lr, decayed, name=scope)


def noisy_linear_cosine_decay(
    learning_rate,
    global_step,
    decay_steps,
    initial_variance=1.0,
    variance_decay=0.55,
    num_periods=0.5,
    alpha=0.0,
    beta=0.001,
    name=None,
):
    """``linear_cosine_decay`` with normal noise added to its linear part, of variance
    ``initial_variance / (1 + step)**variance_decay``, drawn anew at each run.

    The noise comes from tfstyle's random stream (``tf.random_normal``), not TF's: the same
    distribution, other numbers."""
    with ops.name_scope(name, "NoisyLinearCosineDecay") as scope:

        def noise(step, dtype):
            variance = array_ops.cast(initial_variance, dtype) / math_ops.pow(
                1.0 + step, array_ops.cast(variance_decay, dtype)
            )
            std = math_ops.sqrt(variance)
            return random_ops.random_normal(step.shape, stddev=std, dtype=dtype)

        lr, decayed = _linear_cosine(
            learning_rate, global_step, decay_steps, num_periods, alpha, beta, noise
        )
        return math_ops.multiply(lr, decayed, name=scope)


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
        # As TF builds it (so the output is named ``.../case/cond/Identity``): a case of the
        # first interval, the last, then those between, with the first value as default.
        pairs = [(math_ops.less_equal(x, bounds[0]), lambda: vals[0]),
                 (math_ops.greater(x, bounds[-1]), lambda: vals[-1])]  # fmt: skip
        for low, high, v in zip(bounds[:-1], bounds[1:], vals[1:-1]):
            inside = math_ops.logical_and(math_ops.greater(x, low), math_ops.less_equal(x, high))
            pairs.append((inside, lambda v=v: v))
        # (TF's exclusive=True adds a check that at most one interval holds, which they never
        # do; here it would keep every training step from donating its variables.)
        return control_flow_ops.case(pairs, default=lambda: vals[0])


piecewise_constant_decay = piecewise_constant
