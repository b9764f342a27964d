"""``tf.flags`` / ``tf.app.flags``: absl's flags, with the old argument names TF 1.x scripts use
(``flag_name``, ``default_value``, ``docstring``) accepted by the ``DEFINE_*`` functions."""

# ruff: noqa: F401, F403, F405

import functools as _functools

from absl.flags import *

_RENAMED = {"flag_name": "name", "default_value": "default", "docstring": "help"}


def _accept_old_names(define):
    @_functools.wraps(define)
    def wrapped(*args, **kwargs):
        for old, new in _RENAMED.items():
            if old in kwargs:
                kwargs[new] = kwargs.pop(old)
        return define(*args, **kwargs)

    return wrapped


for _name in [n for n in dir() if n.startswith("DEFINE")]:
    globals()[_name] = _accept_old_names(globals()[_name])
del _name
