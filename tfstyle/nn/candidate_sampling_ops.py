"""Candidate samplers: ``LogUniformCandidateSampler``, ``UniformCandidateSampler``,
``FixedUnigramCandidateSampler`` and ``AllCandidateSampler``, and ``ComputeAccidentalHits``.

The random ones draw ``num_sampled`` classes in ``[0, range_max)`` (distinct ones with ``unique``) and give
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
    for name in (
        "LogUniformCandidateSampler",
        "UniformCandidateSampler",
        "FixedUnigramCandidateSampler",
        "AllCandidateSampler",
    )
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


def _unigram_weights(op):
    """The fixed unigram sampler's weights over ``[0, range_max)``: ``num_reserved_ids`` zeros,
    then the unigrams (or a vocabulary file's last comma-separated field) to the power
    ``distortion``, for the ids of this shard."""
    attrs = op._attrs
    unigrams = list(attrs["unigrams"])
    vocab_file = attrs["vocab_file"]
    if isinstance(vocab_file, bytes):
        vocab_file = vocab_file.decode()
    if vocab_file:
        with open(vocab_file) as f:
            unigrams = [float(line.rstrip("\n").split(",")[-1]) for line in f if line.strip()]
    weights = np.zeros(attrs["range_max"], np.float64)
    values = [0.0] * attrs["num_reserved_ids"] + [float(u) for u in unigrams]
    if len(values) != attrs["range_max"]:
        raise errors.InvalidArgumentError(
            None,
            op,
            f"range_max must equal the number of reserved ids plus unigrams: "
            f"{attrs['range_max']} != {len(values)}",
        )
    num_shards, shard = attrs["num_shards"], attrs["shard"]
    for i, w in enumerate(values):
        if i % num_shards == shard:
            weights[i] = w ** attrs["distortion"] if w > 0 else 0.0
    return weights / weights.sum()


def _fixed_unigram(range_max, op):
    probs = _unigram_weights(op)
    cdf = np.cumsum(probs)

    def draw(u):
        k = jnp.searchsorted(jnp.asarray(cdf), u, side="right").astype(jnp.int64)
        return jnp.minimum(k, range_max - 1)

    def prob(k):
        return jnp.asarray(probs)[k]

    return draw, prob


_DISTRIBUTIONS = {
    "LogUniformCandidateSampler": _log_uniform,
    "UniformCandidateSampler": _uniform,
    "FixedUnigramCandidateSampler": _fixed_unigram,
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
    make = _DISTRIBUTIONS[op.type]
    draw, prob = (
        make(range_max, op) if op.type == "FixedUnigramCandidateSampler" else make(range_max)
    )

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


def _candidate_sampler(
    op_type, true_classes, num_true, num_sampled, unique, range_max, seed, name, **extra
):
    with ops.name_scope(name, op_type, [true_classes]) as scope:
        t = _base.to_tensor(true_classes, name="true_classes")
        if t.dtype != dtypes.int64:
            raise TypeError(
                f"Input 'true_classes' of '{op_type}' Op has type {t.dtype.name} that does not "
                "match expected type of int64."
            )
        seed1, seed2 = get_seed(seed)
        attrs = {"num_true": int(num_true), "num_sampled": int(num_sampled), "unique": bool(unique)}
        # AllCandidateSampler (range_max None) has no range_max attribute.
        if range_max is not None:
            attrs["range_max"] = int(range_max)
        attrs.update(seed=seed1 or 0, seed2=seed2 or 0, **extra)
        op = _base.make_op(op_type, [t], attrs, name=scope)
        return _Result[op_type](*op._outputs)


def log_uniform_candidate_sampler(
    true_classes, num_true, num_sampled, unique, range_max, seed=None, name=None
):
    """Samples classes with ``P(k) = log((k + 2) / (k + 1)) / log(range_max + 1)`` (Zipfian)."""
    return _candidate_sampler("LogUniformCandidateSampler", true_classes, num_true, num_sampled,
                              unique, range_max, seed, name)  # fmt: skip


def uniform_candidate_sampler(
    true_classes, num_true, num_sampled, unique, range_max, seed=None, name=None
):
    """Samples classes uniformly from ``[0, range_max)``."""
    return _candidate_sampler("UniformCandidateSampler", true_classes, num_true, num_sampled,
                              unique, range_max, seed, name)  # fmt: skip


def fixed_unigram_candidate_sampler(
    true_classes,
    num_true,
    num_sampled,
    unique,
    range_max,
    vocab_file="",
    distortion=1.0,
    num_reserved_ids=0,
    num_shards=1,
    shard=0,
    unigrams=(),
    seed=None,
    name=None,
):
    """Samples classes with probabilities proportional to ``unigrams ** distortion`` (or the
    counts of ``vocab_file``), after ``num_reserved_ids`` ids of probability 0."""
    return _candidate_sampler(
        "FixedUnigramCandidateSampler",
        true_classes,
        num_true,
        num_sampled,
        unique,
        range_max,
        seed,
        name,
        vocab_file=vocab_file.encode() if isinstance(vocab_file, str) else vocab_file,
        distortion=float(distortion),
        num_reserved_ids=int(num_reserved_ids),
        num_shards=int(num_shards),
        shard=int(shard),
        unigrams=[float(u) for u in unigrams],
    )


# -- AllCandidateSampler: every class, no randomness --------------------------------------------
def _all_sampler_lower(op):
    n = op._attrs["num_sampled"]

    def fn(true_classes):
        return (
            jnp.arange(n, dtype=jnp.int64),
            jnp.ones(np.shape(true_classes), jnp.float32),
            jnp.ones((n,), jnp.float32),
        )

    return fn


_base.register_simple("AllCandidateSampler", _sampler_infer, _all_sampler_lower)


def all_candidate_sampler(true_classes, num_true, num_sampled, unique, seed=None, name=None):
    """The classes ``0 .. num_sampled - 1``, each with expected count 1."""
    return _candidate_sampler(
        "AllCandidateSampler", true_classes, num_true, num_sampled, unique, None, seed, name
    )


# -- ComputeAccidentalHits ------------------------------------------------------------------------
_Hits = collections.namedtuple("ComputeAccidentalHits", ["indices", "ids", "weights"])


def _accidental_hits(true_classes, sampled):
    """For each row and each of its true classes in order, if it was sampled: the row, its
    last position in ``sampled`` (TF keeps one position per class) and -FLT_MAX."""
    positions = {c: j for j, c in enumerate(np.asarray(sampled).tolist())}
    rows, ids = [], []
    for i, row in enumerate(np.asarray(true_classes).tolist()):
        for c in row:
            if c in positions:
                rows.append(i)
                ids.append(positions[c])
    n = len(rows)
    return (
        np.asarray(rows, np.int32),
        np.asarray(ids, np.int64),
        np.full(n, -np.finfo(np.float32).max, np.float32),
    )


def _hits_infer(op):
    with_rank(op, 0, 2)
    return [(dtypes.int32, (None,)), (dtypes.int64, (None,)), (dtypes.float32, (None,))]


def _hits_lower(op):
    def fn(true_classes, sampled):
        if isinstance(true_classes, np.ndarray) and isinstance(sampled, np.ndarray):
            return _accidental_hits(true_classes, sampled)
        from tfstyle.compiler.lowering import HostValue

        # The number of hits depends on the values: they are found on the host after the run,
        # so they can be fetched but not computed on further in the same run.
        return tuple(
            HostValue(lambda t, s, k=k: _accidental_hits(t, s)[k], true_classes, sampled)
            for k in range(3)
        )

    return fn


_base.register_simple("ComputeAccidentalHits", _hits_infer, _hits_lower)


def compute_accidental_hits(true_classes, sampled_candidates, num_true, seed=None, name=None):
    """The positions of ``sampled_candidates`` that are one of a row's ``true_classes``, as
    ``(indices, ids, weights)`` (row, sampled position, -FLT_MAX), for removing them from the
    sampled logits."""
    t = _base.to_tensor(true_classes)
    s = _base.to_tensor(sampled_candidates)
    seed1, seed2 = get_seed(seed)
    op = _base.make_op(
        "ComputeAccidentalHits",
        [t, s],
        {"num_true": int(num_true), "seed": seed1 or 0, "seed2": seed2 or 0},
        name=name or "ComputeAccidentalHits",
    )
    return _Hits(*op._outputs)
