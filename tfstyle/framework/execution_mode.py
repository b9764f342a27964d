"""TF's eager/graph switches. tfstyle is always in graph mode, as TF1 programs expect."""


def executing_eagerly():
    return False


def disable_eager_execution():
    """Accepted for compatibility: tfstyle always builds graphs."""


def disable_v2_behavior():
    """Accepted for compatibility: tfstyle always has TF1 behaviour."""


def enable_v2_behavior():
    raise RuntimeError("tfstyle runs TF1 graph programs; TF2 behaviour is not available.")


def enable_eager_execution(config=None, device_policy=None, execution_mode=None):
    raise RuntimeError(
        "tfstyle runs TF1 graph programs: eager execution is not available. Build a graph and "
        "run it in a tf.Session."
    )


def disable_resource_variables():
    """Accepted for compatibility: variables are always resource variables."""


def enable_resource_variables():
    """Accepted for compatibility: variables are always resource variables."""
