"""Grouping and control flow: ``group``, ``tuple``, ``no_op``."""

import builtins

from tfstyle.framework import ops
from tfstyle.framework.ops import Operation, Tensor

from . import _base
from .array_ops import identity, no_op


def _as_op(x):
    conv = getattr(x, "_as_graph_element", None)
    if conv is not None:
        x = conv()
    if isinstance(x, Tensor):
        return x.op
    if isinstance(x, Operation):
        return x
    raise TypeError(f"Expected a Tensor or Operation, got {x!r}")


def group(*inputs, **kwargs):
    """An op that runs all ``inputs`` (tensors or ops); returns it (``NoOp`` ``group_deps``)."""
    name = kwargs.pop("name", None)
    if kwargs:
        raise TypeError(f"Unknown keyword arguments: {', '.join(kwargs)}")
    flat = []
    for x in inputs:
        if isinstance(x, (list, builtins.tuple)):
            flat.extend(x)
        elif x is not None:
            flat.append(x)
    with ops.name_scope(name, "group_deps", flat) as scope:
        if not flat:
            return no_op(name=scope)
        deps = []
        for x in flat:
            op = _as_op(x)
            if op not in deps:
                deps.append(op)
        g = deps[0].graph
        return _base.make_op("NoOp", [], {}, name=scope, graph=g, control_inputs=deps)


def tuple(tensors, name=None, control_inputs=None):  # noqa: A001 - TF's public name
    """Identities of ``tensors`` that are only available once all of them are computed."""
    with ops.name_scope(name, "tuple", tensors) as scope:
        real = [t for t in tensors if t is not None]
        gate = group(*real, *(control_inputs or []))
        out = []
        for t in tensors:
            if t is None:
                out.append(None)
                continue
            if isinstance(t, Operation):
                with ops.control_dependencies([gate]):
                    out.append(group(t))
                continue
            with ops.control_dependencies([gate]):
                out.append(identity(t, name="control_dependency"))
        del scope
        return out


def with_dependencies(dependencies, output_tensor, name=None):
    with ops.name_scope(name, "control_dependency", list(dependencies) + [output_tensor]) as sc:
        with ops.control_dependencies(dependencies):
            return identity(output_tensor, name=sc)
