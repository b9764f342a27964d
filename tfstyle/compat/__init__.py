"""``tf.compat``: ``tf.compat.v1`` is tfstyle's TF1 API."""

from tfstyle.compat import v1  # noqa: F401
