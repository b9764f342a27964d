"""``tf.strings``."""

from tfstyle.ops.string_ops import join  # noqa: F401
