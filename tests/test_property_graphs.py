"""Random graphs of elementwise, reduction and array ops, built in TF and in tfstyle from the
same recipe: every fetched value, static shape, dtype and name must agree.

Placeholders have random shapes, some dimensions left ``None`` and fed with concrete sizes.
Hypothesis runs derandomized, so CI sees the same examples every time.
"""

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.op_check import check

DTYPES = ["float32", "float64", "int32", "int64"]
UNARY_FLOAT = ["tanh", "sigmoid", "abs", "negative", "square", "exp", "sign", "floor"]
UNARY_INT = ["abs", "negative", "square", "sign"]
BINARY = ["add", "subtract", "multiply", "maximum", "minimum", "squared_difference"]
OPERATORS = ["+", "-", "*", "//", "%", "/"]
REDUCE = ["reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod"]
STEPS = [
    "unary",
    "binary",
    "operator",
    "scalar",
    "reduce",
    "argmax",
    "cumsum",
    "transpose",
    "reshape",
    "expand_dims",
    "concat",
    "stack",
    "where",
    "compare_any",
    "clip",
    "add_n",
]


@st.composite
def recipes(draw):
    rank = draw(st.integers(0, 3))
    dims = [draw(st.integers(1, 4)) for _ in range(rank)]
    unknown = [draw(st.booleans()) for _ in range(rank)]
    dtype = draw(st.sampled_from(DTYPES))
    steps = draw(
        st.lists(
            st.tuples(st.sampled_from(STEPS), st.integers(0, 11), st.integers(0, 11)),
            min_size=1,
            max_size=4,
        )
    )
    return dims, unknown, dtype, steps, draw(st.integers(0, 2**16))


def _apply(tf, t, other, step, outs):
    """One step of a recipe on tensor ``t`` (``other``: a tensor of ``t``'s original shape)."""
    kind, a, b = step
    rank = t.shape.ndims
    is_float = t.dtype.is_floating
    if kind == "unary":
        names = UNARY_FLOAT if is_float else UNARY_INT
        name = names[a % len(names)]
        x = tf.clip_by_value(t, -3, 3) if name == "exp" else t
        return getattr(tf, name)(x)
    if kind == "binary" and t.shape.as_list() == other.shape.as_list():
        return getattr(tf, BINARY[a % len(BINARY)])(t, tf.cast(other, t.dtype))
    if kind == "operator":
        op = OPERATORS[a % len(OPERATORS)]
        c = (b % 3) + 1  # a positive divisor keeps // and % defined
        c = float(c) if is_float else c
        return {
            "+": lambda: t + c,
            "-": lambda: c - t,
            "*": lambda: t * c,
            "//": lambda: t // c,
            "%": lambda: t % c,
            "/": lambda: t / c,
        }[op]()
    if kind == "scalar":
        return tf.add(t, 1) if b % 2 else 2 * t
    if kind == "reduce":
        fn = getattr(tf, REDUCE[a % len(REDUCE)])
        axis = None if rank == 0 or b % 4 == 0 else (b % rank) - (rank if b % 3 == 0 else 0)
        return fn(t, axis=axis, keepdims=bool(b % 2))
    if kind == "argmax" and rank:
        fn = tf.argmax if a % 2 else tf.argmin
        return fn(t, axis=b % rank)
    if kind == "cumsum" and rank:
        return tf.cumsum(t, axis=b % rank, exclusive=bool(a % 2), reverse=bool(a % 3 == 0))
    if kind == "transpose" and rank:
        return tf.transpose(t) if a % 2 or rank < 2 else tf.matrix_transpose(t)
    if kind == "reshape":
        return tf.reshape(t, [-1])
    if kind == "expand_dims" and rank is not None:
        return tf.expand_dims(t, a % (rank + 1))
    if kind == "concat" and rank:
        return tf.concat([t, t], axis=a % rank)
    if kind == "stack":
        return tf.stack([t, t], axis=0)
    if kind == "where":
        zero = tf.zeros_like(t)
        return tf.where(t > zero, t, -t)
    if kind == "compare_any" and rank:
        outs.append(tf.reduce_any(t > tf.cast(1, t.dtype), axis=a % rank))
        return t
    if kind == "clip":
        return tf.clip_by_value(t, tf.cast(-1, t.dtype), tf.cast(2, t.dtype))
    if kind == "add_n":
        return tf.add_n([t, t, t])
    return tf.identity(t)


def _feed(dims, dtype, seed):
    r = np.random.RandomState(seed)
    if dtype.startswith("float"):
        return np.asarray(r.rand(*dims) * 4 - 2).astype(dtype)
    return np.asarray(r.randint(-3, 4, size=dims)).astype(dtype)


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(recipes())
def test_random_graphs_match_tf(recipe):
    dims, unknown, dtype, steps, seed = recipe
    static = [None if u else d for d, u in zip(dims, unknown)]

    def build(tf):
        dt = getattr(tf, dtype)
        x = tf.placeholder(dt, static, name="x")
        y = tf.placeholder(dt, static, name="y")
        outs, t = [], x
        for step in steps:
            t = _apply(tf, t, y, step, outs)
            outs.append(t)
        return outs

    feeds = {"x:0": _feed(dims, dtype, seed), "y:0": _feed(dims, dtype, seed + 1)}
    check(build, feeds, rtol=1e-4, atol=1e-5)
