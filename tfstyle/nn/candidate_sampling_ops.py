"""Candidate samplers: ``LogUniformCandidateSampler`` and ``UniformCandidateSampler``.

They draw ``num_sampled`` classes in ``[0, range_max)`` (distinct ones with ``unique``) and give
the expected count of each true and sampled class, with TF's formulas. The draws come from
tfstyle's random stream, so the classes differ from TF's; their distribution is the same.
"""

import collections

import jax
import jax.numpy as jnp
import numpy as np

from tfstyle.framework import dtypes, errors, ops, registry
from tfstyle.ops import _base
from tfstyle.ops.random_ops import get_seed

from ._util import with_rank

_Result = {
    name: collections.namedtuple(
        name, ["sampled_candidates", "true_expected_count", "sampled_expected_count"]
    )
    for name in ("LogUniformCandidateSampler", "UniformCandidateSampler")
}


def _log_uniform(range_max):
    log_range = np.log(range_max + 1.0)

    def draw(u):
        return (jnp.floor(jnp.exp(u * log_range)).astype(jnp.int64) - 1) % range_max

    def prob(k):
        k = k.astype(jnp.float64)
        return jnp.log((k + 2.0) / (k + 1.0)) / log_range

    return draw, prob


def _uniform(range_max):
    def draw(u):
        return jnp.minimum(jnp.floor(u * range_max).astype(jnp.int64), range_max - 1)

    def prob(k):
        return jnp.full(k.shape, 1.0 / range_max, jnp.float64)

    return draw, prob


_DISTRIBUTIONS = {
    "LogUniformCandidateSampler": _log_uniform,
    "UniformCandidateSampler": _uniform,
}


def _sampler_infer(op):
    t = with_rank(op, 0, 2)
    n = op._attrs["num_sampled"]
    batch = None if t is None else t[0]
    return [
        (dtypes.int64, (n,)),
        (dtypes.float32, (batch, op._attrs["num_true"])),
        (dtypes.float32, (n,)),
    ]


def _sample_unique(key, draw, n):
    """Draws until ``n`` distinct classes are found; returns them and the number of draws."""

    def cond(state):
        return state[0] < n

    def body(state):
        count, tries, samples, key = state
        key, sub = jax.random.split(key)
        v = draw(jax.random.uniform(sub, (), jnp.float64))
        new = ~jnp.any((samples == v) & (jnp.arange(n) < count))
        samples = jnp.where(new & (jnp.arange(n) == count), v, samples)
        return count + new.astype(jnp.int32), tries + 1, samples, key

    init = (jnp.int32(0), jnp.int32(0), jnp.zeros((n,), jnp.int64), key)
    _, tries, samples, _ = jax.lax.while_loop(cond, body, init)
    return samples, tries


def _sampler_lower(op):
    n = op._attrs["num_sampled"]
    unique = op._attrs["unique"]
    range_max = op._attrs["range_max"]
    draw, prob = _DISTRIBUTIONS[op.type](range_max)

    def fn(ctx, true_classes):
        if unique and n > range_max:
            raise errors.InvalidArgumentError(None, op, "Sampler's range is too small.")
        key = ctx.random_key(op)
        if unique:
            samples, tries = _sample_unique(key, draw, n)
        else:
            samples = draw(jax.random.uniform(key, (n,), jnp.float64))
            tries = n

        def expected(k):
            p = prob(k).astype(jnp.float32)
            if not unique:
                return p * n
            # TF's count for sampling with rejection: 1 - (1 - p) ** tries.
            t = jnp.asarray(tries, jnp.float32)
            return jnp.where(tries == n, p * n, -jnp.expm1(t * jnp.log1p(-p)))

        return samples, expected(true_classes), expected(samples)

    return fn


for _type in _DISTRIBUTIONS:
    registry.shape_rule(_type)(_sampler_infer)
    registry.lowering(_type, random=True)(_sampler_lower)


def _candidate_sampler(op_type, true_classes, num_true, num_sampled, unique, range_max, seed, name):
    with ops.name_scope(name, op_type, [true_classes]) as scope:
        t = _base.to_tensor(true_classes, name="true_classes")
        if t.dtype != dtypes.int64:
            raise TypeError(
                f"Input 'true_classes' of '{op_type}' Op has type {t.dtype.name} that does not "
                "match expected type of int64."
            )
        seed1, seed2 = get_seed(seed)
        op = _base.make_op(
            op_type,
            [t],
            {
                "num_true": int(num_true),
                "num_sampled": int(num_sampled),
                "unique": bool(unique),
                "range_max": int(range_max),
                "seed": seed1 or 0,
                "seed2": seed2 or 0,
            },
            name=scope,
        )
        return _Result[op_type](*op._outputs)


def log_uniform_candidate_sampler(
    true_classes, num_true, num_sampled, unique, range_max, seed=None, name=None
):
    """Samples classes with ``P(k) = log((k + 2) / (k + 1)) / log(range_max + 1)`` (Zipfian)."""
    return _candidate_sampler(
        "LogUniformCandidateSampler",
        true_classes,
        num_true,
        num_sampled,
        unique,
        range_max,
        seed,
        name,
    )


def uniform_candidate_sampler(
    true_classes, num_true, num_sampled, unique, range_max, seed=None, name=None
):
    """Samples classes uniformly from ``[0, range_max)``."""
    return _candidate_sampler(
        "UniformCandidateSampler",
        true_classes,
        num_true,
        num_sampled,
        unique,
        range_max,
        seed,
        name,
    )
