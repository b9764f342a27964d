"""``tf.errors``."""

from tfstyle.framework.errors import *  # noqa: F403
from tfstyle.framework.errors import OperatorNotAllowedInGraphError, OpError  # noqa: F401
