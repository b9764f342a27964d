"""tfstyle: TensorFlow 1.x programs on JAX.

``import tfstyle.compat.v1 as tf`` (or ``import tfstyle as tf``) gives the TF1 API.
"""

from tfstyle.compat.v1 import *  # noqa: F403
from tfstyle.compat.v1 import errors  # noqa: F401
