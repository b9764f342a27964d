"""``tf.strings``."""

from tfstyle.ops.string_ops import join, regex_full_match  # noqa: F401
