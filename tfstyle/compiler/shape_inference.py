"""The generic shape rule for ops without one of their own: abstract evaluation of the lowering.

Unknown dimensions are probed with two different sizes; an output dimension that comes out the
same both times is static, one that changes is unknown (``None``). Ops whose outputs depend on
input values, not only shapes, need their own rule.
"""

import jax
import numpy as np

from tfstyle.framework import dtypes
from tfstyle.framework import ops as _ops

from .executable import x64

_PROBES = (7, 11)


def _abstract(t, probe):
    d = t.shape.as_tuple()
    if d is None:
        raise _Unknown
    shape = tuple(probe if x is None else x for x in d)
    dt = t.dtype.as_numpy_dtype
    if dt is object:
        raise _Unknown
    return jax.ShapeDtypeStruct(shape, dt)


class _Unknown(Exception):
    pass


def infer_by_evaluation(op):
    n_out = op._attrs.get("_num_outputs")
    try:
        results = []
        fn = op._def.lower(op)
        for probe in _PROBES:
            args = [_abstract(t, probe) for t in op._inputs]
            with x64(True):
                if op._def.uses_context:
                    raise _Unknown
                out = jax.eval_shape(fn, *args)
            results.append(out if isinstance(out, (list, tuple)) else [out])
    except _Unknown:
        if n_out is None:
            raise TypeError(f"Cannot infer the outputs of op {op.name} ({op.type})") from None
        return [(dtypes.float32, None)] * n_out
    a, b = results
    outs = []
    for x, y in zip(a, b):
        shape = tuple(p if p == q else None for p, q in zip(x.shape, y.shape))
        if len(x.shape) != len(y.shape):
            shape = None
        outs.append((dtypes.as_dtype(np.dtype(x.dtype)), shape))
    return outs


_ops.set_default_shape_rule(infer_by_evaluation)
