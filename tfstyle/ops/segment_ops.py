"""Segment reductions: ``segment_sum`` (sorted ids) and ``unsorted_segment_sum`` and friends.

XLA needs the number of segments when the graph is compiled: the unsorted ops take it as an
argument; the sorted ones derive it from the ids, which must then be known (constants).
"""

import jax
import jax.numpy as jnp
import numpy as np

from tfstyle.framework import dtypes, errors, ops
from tfstyle.framework import indexed_slices as _indexed_slices

from . import _base


def _segment_prod(data, ids, num):
    # jax.ops.segment_prod has no gradient for repeated ids; a masked product does.
    mask = jnp.asarray(ids)[None, :] == jnp.arange(num)[:, None]
    mask = jnp.reshape(mask, mask.shape + (1,) * (np.ndim(data) - np.ndim(ids)))
    return jnp.prod(jnp.where(mask, data[None], jnp.ones((), data.dtype)), axis=1)


_REDUCERS = {
    "Sum": jax.ops.segment_sum,
    "Prod": _segment_prod,
    "Max": jax.ops.segment_max,
    "Min": jax.ops.segment_min,
}


def _reduce(kind, data, ids, num):
    if kind == "Mean":
        total = jax.ops.segment_sum(data, ids, num)
        count = jax.ops.segment_sum(jnp.ones(np.shape(ids), data.dtype), ids, num)
        count = jnp.reshape(count, count.shape + (1,) * (np.ndim(data) - np.ndim(ids)))
        return total / jnp.maximum(count, 1)
    # Empty segments: 0 for sums, 1 for products, the dtype's lowest/highest for max/min, as TF.
    return _REDUCERS[kind](data, ids, num)


def _sorted_lower(op):
    kind = op.type[len("Segment") :]
    # Sorted max/min give 0 for an empty segment (the unsorted ops give the dtype's extreme).
    zero_empty = kind in ("Max", "Min")

    def fn(data, ids):
        if isinstance(ids, jax.core.Tracer):
            raise errors.InvalidArgumentError(
                None,
                op,
                f"{op.name} ({op.type}): the number of segments decides the output's size; "
                "tfstyle needs the segment ids known when the graph is compiled. Use "
                "tf.unsorted_segment_* with num_segments for ids that are fed or computed.",
            )
        ids = np.asarray(ids)
        num = int(ids.max()) + 1 if ids.size else 0
        out = _reduce(kind, jnp.asarray(data), ids, num)
        if zero_empty:
            present = np.bincount(ids, minlength=num) > 0
            present = present.reshape(present.shape + (1,) * (out.ndim - 1))
            out = jnp.where(present, out, jnp.zeros((), out.dtype))
        return out

    return fn


def _sorted_infer(op):
    data = _base.dims(op._inputs[0])
    ids = op._inputs[1]
    rest = None if data is None else data[len(_base.dims(ids) or ()) :]
    # TF leaves the number of segments unknown even for constant ids.
    return [(op._inputs[0].dtype, None if rest is None else (None,) + tuple(rest))]


def _unsorted_lower(op):
    kind = op.type[len("UnsortedSegment") :]

    def fn(data, ids, num):
        n = int(_base.static_ints(num, "num_segments").reshape(()))
        data, ids = jnp.asarray(data), jnp.asarray(ids)
        # ids of rank k index the first k axes of data: flatten both to one segment axis.
        data = jnp.reshape(data, (-1,) + data.shape[ids.ndim :]) if ids.ndim != 1 else data
        ids = jnp.reshape(ids, (-1,))
        out = _reduce(kind, data, ids, n)
        if kind in ("Max", "Min") and jnp.issubdtype(out.dtype, jnp.floating):
            # TF fills empty segments with the finite lowest/highest value, not -inf/inf.
            info = jnp.finfo(out.dtype)
            fill = info.min if kind == "Max" else info.max
            count = jax.ops.segment_sum(jnp.ones(np.shape(ids), jnp.int32), ids, n)
            count = jnp.reshape(count, count.shape + (1,) * (out.ndim - 1))
            out = jnp.where(count > 0, out, jnp.asarray(fill, out.dtype))
        return out

    return fn


def _unsorted_infer(op):
    data = _base.dims(op._inputs[0])
    ids = _base.dims(op._inputs[1])
    v = _base.constant_value(op._inputs[2])
    n = None if v is None else int(v)
    rest = None if data is None or ids is None else data[len(ids) :]
    return [(op._inputs[0].dtype, None if rest is None else (n,) + tuple(rest))]


for _kind in ("Sum", "Mean", "Prod", "Max", "Min"):
    _base.register_simple("Segment" + _kind, _sorted_infer, _sorted_lower)
    if _kind != "Mean":
        _base.register_simple("UnsortedSegment" + _kind, _unsorted_infer, _unsorted_lower)


def _segment_fn(kind):
    op_type = "Segment" + kind

    def fn(data, segment_ids, name=None):
        with ops.name_scope(name, op_type, [data, segment_ids]) as scope:
            d = _base.to_tensor(data, name="data")
            ids = _base.to_tensor(segment_ids, name="segment_ids")
            return _base.output(
                op_type, [d, ids], {"T": d.dtype, "Tindices": ids.dtype}, name=scope
            )

    fn.__name__ = "segment_" + kind.lower()
    fn.__doc__ = f"TF's ``tf.{fn.__name__}``: the {kind.lower()} of each segment of sorted ids."
    return fn


def _unsorted_fn(kind):
    op_type = "UnsortedSegment" + kind

    def fn(data, segment_ids, num_segments, name=None):
        with ops.name_scope(name, op_type, [data, segment_ids, num_segments]) as scope:
            d = _base.to_tensor(data, name="data")
            ids = _base.to_tensor(segment_ids, name="segment_ids")
            # An int64 tensor is taken as it is (TF's Tnumsegments), a number as int32.
            n = _base.to_tensor(num_segments, preferred_dtype=dtypes.int32, name="num_segments")
            return _base.output(
                op_type,
                [d, ids, n],
                {"T": d.dtype, "Tindices": ids.dtype, "Tnumsegments": n.dtype},
                name=scope,
            )

    fn.__name__ = "unsorted_segment_" + kind.lower()
    fn.__doc__ = f"TF's ``tf.{fn.__name__}``: ids in any order, ``num_segments`` outputs."
    return fn


segment_sum = _segment_fn("Sum")
segment_mean = _segment_fn("Mean")
segment_prod = _segment_fn("Prod")
segment_max = _segment_fn("Max")
segment_min = _segment_fn("Min")
unsorted_segment_sum = _unsorted_fn("Sum")
unsorted_segment_prod = _unsorted_fn("Prod")
unsorted_segment_max = _unsorted_fn("Max")
unsorted_segment_min = _unsorted_fn("Min")


def _indexed_slices_to_tensor(value, dtype=None, name=None, as_ref=False):
    """``tf.convert_to_tensor`` of an ``IndexedSlices``: the dense tensor, in which the rows of
    repeated indices add up (an ``UnsortedSegmentSum`` over ``dense_shape[0]`` rows)."""
    if dtype is not None and dtype.base_dtype != value.dtype.base_dtype:
        raise ValueError(
            f"Tensor conversion requested dtype {dtype.name} for IndexedSlices with dtype "
            f"{value.dtype.name}: {value}"
        )
    if value.dense_shape is None:
        raise ValueError(
            f"Tensor conversion requested for IndexedSlices without dense_shape: {value}"
        )
    rows = _base.constant_value(value.dense_shape)
    rows = value.dense_shape[0] if rows is None else int(rows[0])
    return unsorted_segment_sum(value.values, value.indices, rows, name=name)


ops.register_tensor_conversion_function(_indexed_slices.IndexedSlices, _indexed_slices_to_tensor)
