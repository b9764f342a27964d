"""``tf.IndexedSlices``: the rows ``values`` of a tensor of shape ``dense_shape`` at ``indices``.

It is what ``tf.gradients`` returns for a tensor (or variable) read only through gathers, so
that the optimizers update only the rows looked up. ``sess.run`` of one gives an
``IndexedSlicesValue``; ``tf.convert_to_tensor`` makes it dense (rows at repeated indices add
up), which ``tfstyle/ops/segment_ops.py`` registers, as it is an ``UnsortedSegmentSum``.
"""

import collections

from . import tensor_shape as _shape


class IndexedSlices:
    """A sparse representation of a set of tensor slices at given indices (``tf.IndexedSlices``).

    ``values`` holds the slices (``[n] + dense_shape[1:]``), ``indices`` (1-D, int32 or int64)
    where they go along the first dimension, and ``dense_shape`` (optional) the shape of the
    dense tensor they stand for.
    """

    def __init__(self, values, indices, dense_shape=None):
        self._values = values
        self._indices = indices
        self._dense_shape = dense_shape

    @property
    def values(self):
        return self._values

    @property
    def indices(self):
        return self._indices

    @property
    def dense_shape(self):
        return self._dense_shape

    @property
    def shape(self):
        """The static shape of the dense tensor: ``dense_shape``'s value where known."""
        from tfstyle.ops import _base

        if self._dense_shape is None:
            return _shape.TensorShape(None)
        dims = _base.constant_shape(self._dense_shape)
        return _shape.TensorShape(None if dims is None else list(dims))

    def get_shape(self):
        return self.shape

    @property
    def name(self):
        return self._values.name

    @property
    def device(self):
        return self._values.device

    @property
    def op(self):
        return self._values.op

    @property
    def dtype(self):
        return self._values.dtype

    @property
    def graph(self):
        return self._values.graph

    def consumers(self):
        return self._values.consumers() + self._indices.consumers()

    def __neg__(self):
        from tfstyle.ops import math_ops

        return IndexedSlices(math_ops.negative(self._values), self._indices, self._dense_shape)

    def __str__(self):
        shape = "" if self._dense_shape is None else f", dense_shape={self._dense_shape}"
        return f"IndexedSlices(indices={self._indices}, values={self._values}{shape})"

    __repr__ = __str__


class IndexedSlicesValue(
    collections.namedtuple("IndexedSlicesValue", "values indices dense_shape")
):
    """What ``sess.run`` returns for an ``IndexedSlices``: NumPy ``values``, ``indices`` and
    ``dense_shape`` (``None`` where the slices have none)."""

    __slots__ = ()

    @property
    def dtype(self):
        return self.values.dtype

    @property
    def shape(self):
        return None if self.dense_shape is None else tuple(int(d) for d in self.dense_shape)

    def __str__(self):
        return (
            f"IndexedSlicesValue(values={self.values}, indices={self.indices}, "
            f"dense_shape={self.dense_shape})"
        )
