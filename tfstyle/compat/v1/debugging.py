"""``tf.debugging``."""

# ruff: noqa: F401

from tfstyle.ops.check_ops import (
    assert_equal,
    assert_greater,
    assert_greater_equal,
    assert_integer,
    assert_less,
    assert_less_equal,
    assert_near,
    assert_negative,
    assert_non_negative,
    assert_non_positive,
    assert_none_equal,
    assert_positive,
    assert_rank,
    assert_rank_at_least,
    assert_scalar,
    assert_type,
    is_numeric_tensor,
)
from tfstyle.ops.control_flow_ops import Assert
from tfstyle.ops.math_ops import is_finite, is_inf, is_nan
