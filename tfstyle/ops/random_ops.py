"""Random ops: ``random_normal``, ``random_uniform``, ``truncated_normal``, ``random_shuffle``,
``multinomial``/``random.categorical``, and TF's seed logic (``set_random_seed``, ``get_seed``).

The ops are TF's (``RandomStandardNormal``, ``RandomUniform``, ``RandomUniformInt``,
``TruncatedNormal``, ``RandomShuffle``, ``Multinomial``) with TF's ``seed``/``seed2`` attributes
and the same scaling ops around them (``random_normal/mul``, ``random_normal``).

The numbers differ from TF's own streams. What holds, as in TF: the same graph seed and op seed
give the same numbers in every graph and session; successive runs of an op give new numbers; a
new session starts the sequence again; ops without any seed differ between sessions.

TF's stateless ops (``StatelessRandomUniformV2`` ..., which TF 2.x initializers write into
graphs) import and run: same shapes, dtypes and distributions, numbers fixed by the seed, and
again not TF's numbers.
"""

import weakref

import jax
import jax.numpy as jnp

from tfstyle.framework import dtypes, ops, registry
from tfstyle.framework import tensor_shape as _shape

from . import _base

DEFAULT_GRAPH_SEED = 87654321
_MAXINT32 = 2**31 - 1
# Per-graph count of ops seeded only by the graph seed (TF keeps the same counter).
_graph_op_seeds = weakref.WeakKeyDictionary()


# -- seeds -------------------------------------------------------------------------------------
def set_random_seed(seed):
    """Sets the graph-level seed of the default graph."""
    ops.get_default_graph().seed = seed


def get_seed(op_seed):
    """The ``(seed, seed2)`` pair a random op gets from the graph seed and ``op_seed``.

    With a graph seed and no op seed, the op seed is a per-graph counter (0, 1, 2, ...); with
    only an op seed, the graph seed is ``DEFAULT_GRAPH_SEED``; with neither, ``(None, None)``.
    """
    graph = ops.get_default_graph()
    global_seed = graph.seed
    if global_seed is not None:
        if op_seed is None:
            op_seed = _graph_op_seeds.get(graph, 0)
            _graph_op_seeds[graph] = op_seed + 1
        seeds = global_seed % _MAXINT32, op_seed % _MAXINT32
    elif op_seed is not None:
        seeds = DEFAULT_GRAPH_SEED, op_seed % _MAXINT32
    else:
        seeds = None, None
    if seeds == (0, 0):
        # (0, 0) means "nondeterministic" to the kernels.
        return 0, _MAXINT32
    return seeds


def _seed_attrs(seed):
    s1, s2 = get_seed(seed)
    return {"seed": s1 or 0, "seed2": s2 or 0}


# -- shape rules and lowerings -----------------------------------------------------------------
def _shaped_infer(op):
    return [(op._attrs["dtype"], _base.constant_shape(op._inputs[0]))]


def _sampler(draw):
    """A lowering factory for ops whose first input is the output shape."""

    def factory(op):
        dt = op._outputs[0].dtype.as_numpy_dtype

        def fn(ctx, shape, *args):
            shape = tuple(int(d) for d in _base.static_ints(shape, "the shape of a random op"))
            return draw(ctx.random_key(op), shape, dt, *args)

        return fn

    return factory


_SAMPLERS = {
    "RandomStandardNormal": lambda key, shape, dt: jax.random.normal(key, shape, dt),
    "RandomUniform": lambda key, shape, dt: jax.random.uniform(key, shape, dt),
    "TruncatedNormal": lambda key, shape, dt: jax.random.truncated_normal(
        key, -2.0, 2.0, shape, dt
    ),
    "RandomUniformInt": lambda key, shape, dt, lo, hi: jax.random.randint(key, shape, lo, hi, dt),
}

for _type, _draw in _SAMPLERS.items():
    registry.shape_rule(_type)(
        _shaped_infer
        if _type != "RandomUniformInt"
        else lambda op: [(op._attrs["Tout"], _base.constant_shape(op._inputs[0]))]
    )
    registry.lowering(_type, random=True)(_sampler(_draw))


@registry.shape_rule("RandomShuffle")
def _shuffle_infer(op):
    return _base.same_as_input(op)


@registry.lowering("RandomShuffle", random=True)
def _shuffle_lower(op):
    def fn(ctx, x):
        if jnp.ndim(x) == 0:
            return x
        return jax.random.permutation(ctx.random_key(op), x, axis=0, independent=False)

    return fn


@registry.shape_rule("Multinomial")
def _multinomial_infer(op):
    logits, num = op._inputs
    d = _base.dims(logits)
    n = _base.constant_value(num)
    return [
        (op._attrs["output_dtype"], (None if d is None else d[0], None if n is None else int(n)))
    ]


@registry.lowering("Multinomial", random=True)
def _multinomial_lower(op):
    dt = op._attrs["output_dtype"].as_numpy_dtype

    def fn(ctx, logits, num_samples):
        n = int(_base.static_ints(num_samples, "num_samples"))
        draws = jax.random.categorical(
            ctx.random_key(op), logits.astype(jnp.float32), axis=-1, shape=(n, logits.shape[0])
        )
        return draws.T.astype(dt)

    return fn


# -- stateless random ops (TF 2.x initializers of tf.layers write them into graphs) -----------
# The numbers are a function of the seed only, as in TF, but they are JAX's, not TF's: TF's
# Philox/ThreeFry streams are not reproduced (the ``alg`` input is accepted and not used).
def _stateless_key(words):
    """A JAX key from 32-bit words (seed halves, key and counter words) folded in turn."""
    key = jax.random.key(0, impl="rbg")
    for w in words:
        key = jax.random.fold_in(key, jnp.asarray(w).astype(jnp.uint32))
    return key


def _split64(x):
    x = jnp.asarray(x).astype(jnp.uint64)
    return [x >> 32, x & 0xFFFFFFFF]


@registry.shape_rule("StatelessRandomGetKeyCounter")
def _get_key_counter_infer(op):
    return [(dtypes.uint64, (1,)), (dtypes.uint64, (2,))]


@registry.lowering("StatelessRandomGetKeyCounter")
def _get_key_counter_lower(op):
    def fn(seed):
        # The key packs both seed halves; the counter starts at zero.
        s = jnp.asarray(seed).astype(jnp.uint64) & 0xFFFFFFFF
        return (s[0] << 32 | s[1]).reshape(1), jnp.zeros((2,), jnp.uint64)

    return fn


def _stateless_sampler(draw, version):
    def factory(op):
        dt = op._outputs[0].dtype.as_numpy_dtype

        def fn(shape, *seed_inputs):
            shape = tuple(int(d) for d in _base.static_ints(shape, "the shape of a random op"))
            if version == 2:
                key, counter = seed_inputs[0], seed_inputs[1]
                words = _split64(key[0]) + _split64(counter[0]) + _split64(counter[1])
            else:
                words = _split64(seed_inputs[0][0]) + _split64(seed_inputs[0][1])
            return draw(_stateless_key(words), shape, dt)

        return fn

    return factory


for _type, _sampler_type in (
    ("StatelessRandomUniform", "RandomUniform"),
    ("StatelessRandomNormal", "RandomStandardNormal"),
    ("StatelessTruncatedNormal", "TruncatedNormal"),
):
    for _version, _suffix in ((1, ""), (2, "V2")):
        registry.shape_rule(_type + _suffix)(_shaped_infer)
        registry.lowering(_type + _suffix)(_stateless_sampler(_SAMPLERS[_sampler_type], _version))


# -- constructors ------------------------------------------------------------------------------
def _shape_tensor(shape):
    dtype = None
    if isinstance(shape, (tuple, list)):
        if not shape:
            dtype = dtypes.int32
        else:
            shape = tuple(_shape.dimension_value(d) for d in shape)
    return ops.convert_to_tensor(shape, dtype=dtype, name="shape")


def _scaled(op_type, default_name, shape, mean, stddev, dtype, seed, name):
    dtype = dtypes.as_dtype(dtype)
    with ops.name_scope(name, default_name, [shape, mean, stddev]) as scope:
        shape_t = _shape_tensor(shape)
        mean_t = ops.convert_to_tensor(mean, dtype=dtype, name="mean")
        stddev_t = ops.convert_to_tensor(stddev, dtype=dtype, name="stddev")
        attrs = {"dtype": dtype, "T": shape_t.dtype, **_seed_attrs(seed)}
        rnd = _base.output(op_type, [shape_t], attrs, name=op_type)
        from .math_ops import add

        return add(rnd * stddev_t, mean_t, name=scope)


def random_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None):
    """Samples of a normal distribution: ``RandomStandardNormal * stddev + mean``."""
    return _scaled("RandomStandardNormal", "random_normal", shape, mean, stddev, dtype, seed, name)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=dtypes.float32, seed=None, name=None):
    """Normal samples more than two standard deviations from the mean are redrawn."""
    return _scaled("TruncatedNormal", "truncated_normal", shape, mean, stddev, dtype, seed, name)


_UNIFORM_DTYPES = (
    dtypes.float16,
    dtypes.bfloat16,
    dtypes.float32,
    dtypes.float64,
    dtypes.int32,
    dtypes.int64,
)


def random_uniform(shape, minval=0, maxval=None, dtype=dtypes.float32, seed=None, name=None):
    """Uniform samples in ``[minval, maxval)``; integer dtypes need ``maxval``."""
    dtype = dtypes.as_dtype(dtype)
    if dtype not in _UNIFORM_DTYPES:
        raise ValueError(
            f"Argument `dtype` got invalid value {dtype}. Accepted dtypes are {_UNIFORM_DTYPES}."
        )
    if maxval is None:
        if dtype.is_integer:
            raise ValueError(f"Must specify maxval for integer dtype {dtype!r}")
        maxval = 1
    with ops.name_scope(name, "random_uniform", [shape, minval, maxval]) as scope:
        shape_t = _shape_tensor(shape)
        # TF skips the scaling ops for the default [0, 1) range given as Python ints.
        min_is_zero = isinstance(minval, int) and minval == 0
        max_is_one = isinstance(maxval, int) and maxval == 1
        if not min_is_zero or not max_is_one or dtype.is_integer:
            minval = ops.convert_to_tensor(minval, dtype=dtype, name="min")
            maxval = ops.convert_to_tensor(maxval, dtype=dtype, name="max")
        seeds = _seed_attrs(seed)
        if dtype.is_integer:
            attrs = {"Tout": dtype, "T": shape_t.dtype, **seeds}
            return _base.output("RandomUniformInt", [shape_t, minval, maxval], attrs, name=scope)
        attrs = {"dtype": dtype, "T": shape_t.dtype, **seeds}
        result = _base.output("RandomUniform", [shape_t], attrs, name="RandomUniform")
        from .math_ops import add, multiply

        if min_is_zero:
            if not max_is_one:
                result = multiply(result, maxval)
            return result
        return add(result * (maxval - minval), minval, name=scope)


def random_shuffle(value, seed=None, name=None):
    """``value`` with its first dimension randomly permuted."""
    seeds = _seed_attrs(seed)
    with ops.name_scope(name, "RandomShuffle", [value]) as scope:
        value = ops.convert_to_tensor(value, name="value")
        return _base.output("RandomShuffle", [value], {"T": value.dtype, **seeds}, name=scope)


def _categorical(logits, num_samples, dtype, seed):
    logits = ops.convert_to_tensor(logits, name="logits")
    dtype = dtypes.as_dtype(dtype) if dtype else dtypes.int64
    if dtype not in (dtypes.int32, dtypes.int64):
        raise ValueError(
            f"Argument `dtype` got invalid value {dtype}. Accepted dtypes are (tf.int32, tf.int64)."
        )
    seeds = _seed_attrs(seed)
    with ops.name_scope(None, "Multinomial") as scope:
        num = ops.convert_to_tensor(num_samples, dtype=dtypes.int32, name="num_samples")
        return _base.output(
            "Multinomial",
            [logits, num],
            {"T": logits.dtype, "output_dtype": dtype, **seeds},
            name=scope,
        )


def multinomial(logits, num_samples, seed=None, name=None, output_dtype=None):
    """``num_samples`` class indices per row of ``logits`` ([batch, classes] log-probabilities)."""
    with ops.name_scope(name, "multinomial", [logits]):
        return _categorical(logits, num_samples, output_dtype, seed)


def categorical(logits, num_samples, dtype=None, seed=None, name=None):
    """``tf.random.categorical``: like ``multinomial``, with ``dtype`` for the indices."""
    with ops.name_scope(name, "categorical", [logits]):
        return _categorical(logits, num_samples, dtype, seed)
