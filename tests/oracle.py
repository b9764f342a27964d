"""Real TensorFlow 1.x (``tensorflow.compat.v1``, graph mode): the oracle of the differential tests.

Every test that compares against TF goes through ``tf1()``; eager execution is disabled once
for the whole process, so TF-side code always builds a ``tf.Graph`` and runs a ``tf.Session``.
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

_TF = None


def tf1():
    """Returns ``tensorflow.compat.v1`` with eager execution disabled."""
    global _TF
    if _TF is None:
        if os.environ.get("TFSTYLE_TESTS_WITHOUT_TF") == "1":
            # Accelerator images have no TensorFlow: there the differential tests skip, and the
            # rest of the suite still runs. CI never sets this, so there every test runs.
            import pytest

            pytest.importorskip("tensorflow", reason="TFSTYLE_TESTS_WITHOUT_TF=1")
        import tensorflow.compat.v1 as tf

        tf.disable_eager_execution()
        _TF = tf
    return _TF
