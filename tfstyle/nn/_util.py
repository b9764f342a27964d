"""What the ``tf.nn`` modules share: dtype checks and TF's wording of shape errors."""

from tfstyle.framework import dtypes

FLOATS = (dtypes.float16, dtypes.bfloat16, dtypes.float32, dtypes.float64)

_DT_NAMES = {
    "float32": "DT_FLOAT",
    "float64": "DT_DOUBLE",
    "float16": "DT_HALF",
    "bfloat16": "DT_BFLOAT16",
    "bool": "DT_BOOL",
}


def check_dtype(t, param, allowed):
    """TF's ``TypeError`` for an input whose dtype the op does not accept."""
    if t.dtype.base_dtype not in allowed:
        raise TypeError(
            f"Value passed to parameter '{param}' has DataType {t.dtype.name} not in list of "
            f"allowed values: {', '.join(d.name for d in allowed)}"
        )


def dt_name(dtype):
    return _DT_NAMES.get(dtype.name, "DT_" + dtype.name.upper())


def shape_str(d):
    if d is None:
        return "?"
    return "[" + ",".join("?" if x is None else str(x) for x in d) + "]"


def _attr_str(v):
    if isinstance(v, dtypes.DType):
        return dt_name(v)
    if isinstance(v, bytes):
        return f'"{v.decode()}"'
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_attr_str(x) for x in v) + "]"
    return str(v)


def node_error(op, message, computed=None):
    """A ``ValueError`` worded like TF's shape-function errors for ``op``."""
    attrs = ", ".join(
        f"{k}={_attr_str(v)}" for k, v in sorted(op._attrs.items()) if not k.startswith("_")
    )
    inputs = ", ".join(t.op.name if t.value_index == 0 else t.name for t in op._inputs)
    shapes = ", ".join(shape_str(t._shape._dims) for t in op._inputs)
    text = (
        f"{message} for '{{{{node {op.name}}}}} = {op.type}[{attrs}]({inputs})' with input "
        f"shapes: {shapes}"
    )
    if computed:
        text += f" and with computed input tensors: {computed}"
    return ValueError(text + ".")


def with_rank(op, i, rank, at_least=False):
    """The static dims of input ``i``, checked to have ``rank`` (or at least ``rank``)."""
    d = op._inputs[i]._shape._dims
    if d is None:
        return None
    if (len(d) < rank) if at_least else (len(d) != rank):
        raise node_error(
            op, f"Shape must be {'at least ' if at_least else ''}rank {rank} but is rank {len(d)}"
        )
    return d


def merge_dim(op, a, b):
    """Two static dims that must agree (``None`` is unknown)."""
    if a is None:
        return b
    if b is None or a == b:
        return a
    raise node_error(op, f"Dimensions must be equal, but are {a} and {b}")


def as_bytes(s):
    return s.encode() if isinstance(s, str) else bytes(s)


def attr_bytes(op, name, default=None):
    """A string attribute as bytes: tfstyle's constructors store bytes (``b"SAME"``), a GraphDef
    import gives ``str``; comparisons must hold for both."""
    value = op._attrs.get(name, default)
    return value.encode() if isinstance(value, str) else value
