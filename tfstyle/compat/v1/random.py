"""``tf.random``: random ops and seeds (TF1 names)."""

# ruff: noqa: F401

from tfstyle.ops import random_ops as _random_ops
from tfstyle.ops.random_ops import (
    categorical,
    get_seed,
    multinomial,
    set_random_seed,
    truncated_normal,
)

normal = _random_ops.random_normal
uniform = _random_ops.random_uniform
shuffle = _random_ops.random_shuffle
