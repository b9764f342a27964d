"""Elementwise math, the Python operators, add_n, clip_by_value, where and cumsum, against TF."""

import numpy as np
import pytest

from tests.op_check import check, check_raises

X = np.array([[-2.5, -1.5, 0.5], [1.5, 2.5, 3.7]], np.float32)
I = np.array([[-7, -3, 0], [3, 7, 9]], np.int32)
FEEDS = {"x:0": X, "i:0": I}


def _xi(tf):
    return (
        tf.placeholder(tf.float32, [None, 3], name="x"),
        tf.placeholder(tf.int32, [None, 3], name="i"),
    )


def test_python_operators_names_dtypes_values():
    def build(tf):
        x, i = _xi(tf)
        return [
            x + 1,
            x - 1,
            x * 2,
            x / 2.0,
            x // 2.0,
            x % 2.0,
            x**2.0,
            -x,
            abs(x),
            1.0 - x,
            2.0 / x,
            3.0 // x,
            3.0 % x,
            2.0**x,
            np.float32(2.0) * x,
            np.float64(1.0) - x,
            np.ones(3) * x,
            x + [1, 2, 3],
            x < 1,
            x <= 1,
            x > 1,
            x >= 1.0,
            1.0 < x,
            i / 2,
            i // 2,
            i % 2,
            i // -2,
            i % -2,
            7 // i[:, :2],
            i**2,
            -i,
            abs(i),
        ]

    check(build, FEEDS)


def test_math_functions_names_dtypes_values():
    def build(tf):
        x, i = _xi(tf)
        return [
            tf.add(x, 1.0),
            tf.add(x, 1.0, name="foo"),
            tf.subtract(x, 1.0),
            tf.multiply(x, 2.0),
            tf.multiply(2.5, x),
            tf.scalar_mul(2, x),
            tf.divide(x, 2.0),
            tf.divide(2, x),
            tf.divide(x, 3, name="dd"),
            tf.truediv(x, 2.0),
            tf.div(x, 2.0),
            tf.div(i, 2),
            tf.div_no_nan(x, x - 0.5),
            tf.div_no_nan(2.0, x),
            tf.floordiv(x, 2.0),
            tf.floor_div(i, 2),
            tf.mod(x, 2.0),
            tf.floormod(i, -3),
            tf.truncatediv(i, 2),
            tf.truncatemod(i, 2),
            tf.realdiv(x, 2.0),
            tf.pow(x, 2.0),
            tf.negative(x),
            tf.abs(i),
            tf.square(x),
            tf.maximum(x, 0.0),
            tf.minimum(i, 0),
            tf.squared_difference(x, 1.0),
            tf.squared_difference(i, 2),
            tf.atan2(x, x + 5),
        ]

    check(build, FEEDS)


def test_unary_functions():
    def build(tf):
        x, i = _xi(tf)
        ax = tf.abs(x) + 1
        return [
            tf.round(x),
            tf.round(tf.constant([0.5, 1.5, 2.5, -0.5, -1.5, -2.5], tf.float64)),
            tf.round(i),
            tf.round(2.5),
            tf.sign(x),
            tf.sign(i),
            tf.rsqrt(ax),
            tf.log1p(ax),
            tf.sigmoid(x),
            tf.tanh(x),
            tf.exp(x),
            tf.exp(1.0),
            tf.expm1(x),
            tf.log(ax),
            tf.sqrt(ax),
            tf.floor(x),
            tf.ceil(x),
            tf.rint(x),
            tf.reciprocal(x),
            tf.sin(x),
            tf.cos(x),
            tf.atan(x),
            tf.erf(x),
            tf.lgamma(ax),
            tf.is_nan(x),
            tf.is_finite(x / 0.0),
            tf.is_inf(x / 0.0),
        ]

    check(build, FEEDS)


def test_integer_division_and_modulo_follow_tf_signs():
    a = np.array([7, -7, 7, -7, 0, 5, -5], np.int64)
    b = np.array([2, 2, -2, -2, 3, -3, 3], np.int64)

    def build(tf):
        p = tf.placeholder(tf.int64, [None], name="a")
        q = tf.placeholder(tf.int64, [None], name="b")
        return [p // q, p % q, tf.truncatediv(p, q), tf.truncatemod(p, q), p / q, tf.div(p, q)]

    check(build, {"a:0": a, "b:0": b})


def test_truediv_of_small_integers_is_float32_of_large_is_float64():
    def build(tf):
        return [
            tf.constant([1, 2], tf.int16) / 2,
            tf.constant([1, 2], tf.uint8) / 2,
            tf.constant([1, 2], tf.int8) / 2,
            tf.constant([1, 2], tf.int64) / 2,
            tf.constant([3, 4]) / tf.constant([2, 8]),
        ]

    check(build)


def test_float64_keeps_its_dtype():
    def build(tf):
        d = tf.placeholder(tf.float64, [2], name="d")
        return [d * 2 + 1, d / 3, tf.sigmoid(d), 1 - d, d**0.5]

    check(build, {"d:0": np.array([1.0, 2.0])})


def test_logical_and_bitwise_operators():
    def build(tf):
        x, i = _xi(tf)
        b, c = x > 0, x < 2
        return [
            tf.logical_and(b, c),
            tf.logical_or(b, c),
            tf.logical_not(b),
            tf.logical_xor(b, c),
            tf.logical_and(b, True),
            b & c,
            b | c,
            ~b,
            b ^ c,
            b & True,
            True & b,
            i & 3,
            i | 3,
            ~i,
            i ^ 3,
            3 & i,
            tf.equal(x, 1.5),
            tf.not_equal(x, 1.5),
            tf.equal(i, 3),
            tf.equal(b, True),
        ]

    check(build, FEEDS)


def test_add_n_and_accumulate_n():
    def build(tf):
        x, _ = _xi(tf)
        return [
            tf.add_n([x, x, x]),
            tf.add_n([x]),
            tf.add_n([x], name="foo"),
            tf.add_n([x, tf.ones([2, 3])]),
            tf.accumulate_n([x, x * 2]),
        ]

    check(build, FEEDS)


def test_clip_by_value():
    def build(tf):
        x, i = _xi(tf)
        return [
            tf.clip_by_value(x, -1.0, 1.0),
            tf.clip_by_value(i, -1, 1),
            tf.clip_by_value(x, tf.zeros([3]), 2.0),
        ]

    check(build, FEEDS)


def test_where_v1_select_and_coordinates():
    def build(tf):
        x, _ = _xi(tf)
        rows = tf.placeholder(tf.bool, [None], name="rows")
        s = tf.placeholder(tf.bool, [], name="s")
        return [
            tf.where(x > 0),
            tf.where(x),
            tf.where(tf.constant([[True, False], [False, True]])),
            tf.where(x > 0, x, -x),
            tf.where(rows, x, x * 10),
            tf.where(s, x, x * 10),
            tf.where([True, False, True], [1.0, 2, 3], [4.0, 5, 6]),
            tf.where(tf.placeholder(tf.bool, None, name="u"), x, x),
            tf.where_v2(x > 0, x, 0.0),
            tf.where_v2(tf.reshape(rows, [2, 1]), 1.0, x),
            tf.where_v2(x > 1),
        ]

    feeds = {**FEEDS, "rows:0": np.array([True, False]), "s:0": False, "u:0": np.ones([2, 3], bool)}
    check(build, feeds)


def test_cumsum_cumprod():
    def build(tf):
        x, i = _xi(tf)
        return [
            tf.cumsum(x, axis=1),
            tf.cumsum(x),
            tf.cumsum([1, 2, 3]),
            tf.cumsum(x, axis=tf.constant(1, tf.int64)),
            tf.cumsum(x, axis=-1, exclusive=True),
            tf.cumsum(x, exclusive=True, reverse=True),
            tf.cumsum(i, 1, reverse=True),
            tf.cumprod(x),
            tf.cumprod(x, 1, exclusive=True, reverse=True),
            tf.cumprod(i, 1, exclusive=True),
        ]

    check(build, FEEDS)


def test_gradients_of_elementwise_math():
    def build(tf):
        x, _ = _xi(tf)
        return [
            tf.sigmoid(x) * tf.tanh(x) + tf.square(x) / 3.0,
            tf.maximum(x, 0.5) - tf.minimum(x, 0.0),
            tf.clip_by_value(x, -1.0, 1.0),
            tf.where(x > 0, x * 2, x * x),
            tf.add_n([x, x * x]),
            tf.cumsum(x, axis=1),
            tf.exp(x) + tf.log1p(tf.abs(x)) + tf.rsqrt(x * x + 1),
        ]

    check(build, {"x:0": X}, grad=True)


# -- errors -----------------------------------------------------------------------------------
_MIXED = [
    lambda tf, x, i: x + tf.constant(1, tf.int32),
    lambda tf, x, i: tf.add(x, tf.constant(1, tf.int32)),
    lambda tf, x, i: i + 1.5,
    lambda tf, x, i: 1.5 * i,
    lambda tf, x, i: tf.multiply(i, 1.5),
    lambda tf, x, i: tf.multiply(1.5, i),
    lambda tf, x, i: tf.multiply(2, x),
    lambda tf, x, i: tf.multiply(np.float64(2), x),
    lambda tf, x, i: tf.add(2, x),
    lambda tf, x, i: i / x,
    lambda tf, x, i: tf.truediv(i, 1.5),
    lambda tf, x, i: tf.div(i, 1.5),
    lambda tf, x, i: tf.div(2, x),
    lambda tf, x, i: i // 1.5,
    lambda tf, x, i: i**0.5,
    lambda tf, x, i: x < i,
    lambda tf, x, i: i < 1.5,
    lambda tf, x, i: tf.maximum(i, 2.5),
    lambda tf, x, i: tf.subtract(x, i),
    lambda tf, x, i: tf.where(x > 0, x, i),
    lambda tf, x, i: tf.where(x, x, x),
    lambda tf, x, i: tf.add_n([x, i]),
    lambda tf, x, i: tf.accumulate_n([x, i]),
    lambda tf, x, i: tf.truediv(x > 0, x > 0),
    lambda tf, x, i: tf.logical_and(x, x),
    lambda tf, x, i: tf.sqrt(i),
    lambda tf, x, i: tf.floor(i),
    lambda tf, x, i: tf.negative(x > 0),
    lambda tf, x, i: -(x > 0),
    lambda tf, x, i: x & x,
    lambda tf, x, i: tf.cumsum(x > 0),
    lambda tf, x, i: tf.scalar_mul(x, x),
]


@pytest.mark.parametrize("k", range(len(_MIXED)))
def test_dtype_errors_match_tf(k):
    def build(tf):
        x, i = _xi(tf)
        return _MIXED[k](tf, x, i)

    exp, act = check_raises(build)
    assert str(act) == str(exp)


_SHAPE_ERRORS = [
    lambda tf, x: x + tf.ones([2, 1, 2]),
    lambda tf, x: tf.maximum(x, tf.ones([4, 4])),
    lambda tf, x: tf.where(x > 0, x, 0.0),
    lambda tf, x: tf.where(tf.ones([2, 3]) > 0, tf.ones([2, 1]), tf.ones([2, 1])),
    lambda tf, x: tf.where(tf.ones([2, 3]) > 0, tf.ones([3]), tf.ones([3])),
    lambda tf, x: tf.where(tf.ones([3]) > 0, tf.ones([3]), tf.ones([2])),
    lambda tf, x: tf.where_v2(tf.ones([4, 1, 2]) > 0, x, 0.0),
    lambda tf, x: tf.add_n([x, tf.ones([2, 4])]),
    lambda tf, x: tf.add_n([x, 1.0]),
    lambda tf, x: tf.clip_by_value(x, 0.0, tf.ones([4, 2, 3])),
]


@pytest.mark.parametrize("k", range(len(_SHAPE_ERRORS)))
def test_shape_errors_match_tf(k):
    def build(tf):
        return _SHAPE_ERRORS[k](tf, tf.placeholder(tf.float32, [None, 3], name="x"))

    exp, act = check_raises(build)
    assert str(act) == str(exp)


def test_empty_add_n_raises_value_error():
    check_raises(lambda tf: tf.add_n([]))
    check_raises(lambda tf: tf.where(tf.constant([True]), x=tf.constant([1])))


def test_abs_gradient_at_zero_is_zero_as_in_tf():
    check(
        lambda tf: tf.abs(tf.placeholder(tf.float32, [3], name="x")),
        {"x:0": np.array([-2.0, 0.0, 3.0], np.float32)},
        grad=True,
    )
