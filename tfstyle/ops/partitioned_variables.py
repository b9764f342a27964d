"""Partitioners: ``partitioner(shape, dtype)`` returns how many parts each axis of a new
variable is cut into (``[3, 1]``), as ``get_variable(..., partitioner=...)`` asks.

The counts are TF's: a variable partitioned here is saved, restored and sliced exactly as the same
variable in TF.
"""

import math

from tfstyle.framework import dtypes
from tfstyle.framework import tensor_shape as _shape


def _element_bytes(dtype, bytes_per_string_element):
    dtype = dtypes.as_dtype(dtype)
    if dtype.base_dtype == dtypes.string:
        return bytes_per_string_element
    return dtype.size


def fixed_size_partitioner(num_shards, axis=0):
    """Cuts ``axis`` into ``num_shards`` parts (fewer if the axis is shorter)."""

    def _partitioner(shape, **unused_args):
        partitions = [1] * len(shape)
        partitions[axis] = min(num_shards, _shape.dimension_value(shape[axis]))
        return partitions

    return _partitioner


def variable_axis_size_partitioner(
    max_shard_bytes, axis=0, bytes_per_string_element=16, max_shards=None
):
    """Cuts ``axis`` into the fewest parts of at most ``max_shard_bytes`` each (at least one
    slice along ``axis`` per part), at most ``max_shards`` parts."""
    if max_shard_bytes < 1 or bytes_per_string_element < 1:
        raise ValueError(
            "Both max_shard_bytes and bytes_per_string_element must be positive. Currently, "
            f"max_shard_bytes is {max_shard_bytes} and bytes_per_string_element is "
            f"{bytes_per_string_element}"
        )
    if max_shards and max_shards < 1:
        raise ValueError("max_shards must be positive.")

    def _partitioner(shape, dtype):
        if not isinstance(shape, _shape.TensorShape):
            raise ValueError(f"shape is not a TensorShape: {shape}")
        if not shape.is_fully_defined():
            raise ValueError(f"shape is not fully defined: {shape}")
        axis_len = _shape.dimension_value(shape[axis])
        slice_bytes = (
            shape.num_elements() / axis_len * _element_bytes(dtype, bytes_per_string_element)
        )
        slices_per_shard = max(1, math.floor(max_shard_bytes / slice_bytes))
        shards = int(math.ceil(axis_len / slices_per_shard))
        if max_shards:
            shards = min(max_shards, shards)
        partitions = [1] * shape.ndims
        partitions[axis] = shards
        return partitions

    return _partitioner


def min_max_variable_partitioner(
    max_partitions=1, axis=0, min_slice_size=256 << 10, bytes_per_string_element=16
):
    """Cuts ``axis`` into parts of at least ``min_slice_size`` bytes, at most
    ``max_partitions`` parts (and at most one per slice along ``axis``)."""

    def _partitioner(shape, dtype):
        if axis >= len(shape):
            raise ValueError(
                f"Cannot partition variable along axis {axis} when shape is only {shape}"
            )
        total_bytes = shape.num_elements() * _element_bytes(dtype, bytes_per_string_element)
        wanted = int(math.ceil(total_bytes / min_slice_size))
        partitions = [1] * len(shape)
        partitions[axis] = max(1, min(_shape.dimension_value(shape[axis]), max_partitions, wanted))
        return partitions

    return _partitioner
