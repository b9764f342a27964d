"""``tf.strings``."""

from tfstyle.ops.logging_ops import string_format as format  # noqa: F401, A004
from tfstyle.ops.string_ops import join, regex_full_match  # noqa: F401
