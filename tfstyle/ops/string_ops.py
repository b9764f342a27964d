"""String ops. Strings never enter XLA: their values are built on the host after the run
(``HostValue``), from constants, feeds of the run, or other string ops."""

import re

import numpy as np

from tfstyle.compiler.lowering import HostValue
from tfstyle.framework import dtypes, ops

from . import _base


def _as_bytes_array(v):
    arr = np.asarray(v, dtype=object)
    return (
        np.vectorize(lambda s: s if isinstance(s, bytes) else str(s).encode(), otypes=[object])(arr)
        if arr.size
        else arr
    )


def _join_lower(op):
    sep = op._attrs["separator"].encode()

    def finish(*parts):
        parts = np.broadcast_arrays(*[_as_bytes_array(p) for p in parts])
        out = np.empty(parts[0].shape, dtype=object)
        for idx in np.ndindex(out.shape):
            out[idx] = sep.join(p[idx] for p in parts)
        return out

    def fn(*inputs):
        hosts = [x if isinstance(x, HostValue) else HostValue(lambda a: a, x) for x in inputs]
        return HostValue.combine(finish, *hosts)

    return fn


def _join_infer(op):
    shape = ()
    for t in op._inputs:
        shape = _base.broadcast_dims(shape, _base.dims(t))
    return [(dtypes.string, shape)]


_base.register_simple("StringJoin", _join_infer, _join_lower)


def string_join(inputs, separator="", name=None):
    """Joins strings elementwise (scalars broadcast), as ``tf.strings.join``."""
    with ops.name_scope(name, "StringJoin", inputs) as scope:
        ts = [_base.to_tensor(x) for x in inputs]
        return _base.output("StringJoin", ts, {"N": len(ts), "separator": separator}, name=scope)


join = string_join


def _regex_full_match_lower(op):
    pattern = re.compile(
        op._attrs["pattern"].encode()
        if isinstance(op._attrs["pattern"], str)
        else op._attrs["pattern"]
    )

    def finish(v):
        arr = _as_bytes_array(v)
        return (
            np.vectorize(lambda s: pattern.fullmatch(s) is not None, otypes=[bool])(arr)
            if arr.size
            else np.zeros(arr.shape, bool)
        )

    def fn(x):
        return HostValue.combine(
            finish, x if isinstance(x, HostValue) else HostValue(lambda a: a, x)
        )

    return fn


_base.register_simple(
    "StaticRegexFullMatch",
    lambda op: [(dtypes.bool, _base.dims(op._inputs[0]))],
    _regex_full_match_lower,
)


def regex_full_match(input, pattern, name=None):  # noqa: A002 - TF's argument name
    """Whether each string matches ``pattern`` entirely (``StaticRegexFullMatch``)."""
    with ops.name_scope(name, "StaticRegexFullMatch", [input]) as scope:
        x = _base.to_tensor(input, dtypes.string, name="input")
        return _base.output("StaticRegexFullMatch", [x], {"pattern": pattern}, name=scope)
