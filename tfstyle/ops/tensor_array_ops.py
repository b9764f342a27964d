"""``tf.TensorArray``, as TF 2.x's ``compat.v1`` graph mode builds it: on TensorList ops.

A TensorArray is a value: its ``flow`` is a ``variant`` tensor holding a TensorList
(``TensorListReserve``, ``TensorListSetItem``, ``TensorListStack``, ... in ``list_ops.py``), and
each write returns a new TensorArray with the written list as its flow. ``handle`` is ``None``;
``clear_after_read``, ``tensor_array_name`` and ``colocate_with_first_write_call`` are accepted
and have no effect, as in TF. ``tf.while_loop`` and ``tf.cond`` carry TensorArrays as their
flows.

The static element shape is shared by every TensorArray made from one ``TensorArray(...)``
(through writes, loops and conds): with ``infer_shape`` each write, unstack, scatter or even
split narrows it, and a write of an incompatible shape raises ``ValueError``.

``dynamic_size=True`` writes with ``resize_if_index_out_of_bounds``. tfstyle lowers a list to a
buffer of fixed capacity: a write past the end at an index known at compile time pads it; a
``while_loop`` that grows a list reserves room for all of its iterations, so it needs
``maximum_iterations`` or a trip count known at compile time, else running it raises
``UnimplementedError`` naming the write.
"""

import numpy as np

from tfstyle.framework import dtypes, ops, tensor_shape

from . import _base, list_ops


def _convert_value(value, dtype):
    return ops.convert_to_tensor(value, preferred_dtype=dtype, name="value")


def _check_dtype(value, dtype):
    if value.dtype != dtype:
        from tfstyle.platform import tf_logging

        # TF only logs this; running the write then fails (``TensorListSetItem``'s error).
        tf_logging.error(
            f"Error: Input value {value} has dtype {value.dtype}, but expected dtype {dtype}.  "
            "This leads to undefined behavior and will be an error in future versions of "
            "TensorFlow."
        )


class TensorArray:
    """A list of tensors of one dtype, written and read by index, usable in ``while_loop``."""

    def __init__(
        self,
        dtype,
        size=None,
        dynamic_size=None,
        clear_after_read=None,
        tensor_array_name=None,
        handle=None,
        flow=None,
        infer_shape=True,
        element_shape=None,
        colocate_with_first_write_call=True,
        name=None,
    ):
        if handle is not None:
            raise ValueError("TensorArray: `handle` is not supported; arrays are TensorLists.")
        del clear_after_read, tensor_array_name, colocate_with_first_write_call
        if flow is not None and (not isinstance(flow, ops.Tensor) or flow.dtype != dtypes.variant):
            raise TypeError(
                "Expected `flow` to be a variant tensor, but received "
                f"`{getattr(flow, 'dtype', type(flow).__name__)}` instead."
            )
        if flow is None and size is None:
            raise ValueError("Argument `size` must be provided if argument `flow` is not provided.")
        if flow is not None and size is not None:
            raise ValueError("Cannot provide both `flow` and `size` arguments at the same time.")
        if flow is not None and element_shape is not None:
            raise ValueError(
                "Cannot provide both `flow` and `element_shape` argumentsat the same time."
            )
        self._dtype = dtypes.as_dtype(dtype).base_dtype
        self._dynamic_size = dynamic_size
        self._size = size
        self._infer_shape = infer_shape
        # One cell shared with every TensorArray derived from this one.
        self._element_shape = [tensor_shape.as_shape(element_shape)]
        values = [t for t in (size, flow) if isinstance(t, ops.Tensor)]
        with ops.name_scope(name, "TensorArrayV2", values) as scope:  # opened with a flow too
            if flow is None:
                flow = list_ops.tensor_list_reserve(element_shape, size, self._dtype, name=scope)
        self._flow = flow

    # -- properties ----------------------------------------------------------------------------
    @property
    def flow(self):
        """The ``variant`` tensor holding the array (a TensorList)."""
        return self._flow

    @property
    def dtype(self):
        return self._dtype

    @property
    def handle(self):
        """``None``: the array is its ``flow``."""
        return None

    @property
    def element_shape(self):
        """The static shape of the elements (a ``TensorShape``, narrowed by writes)."""
        return self._element_shape[0]

    @property
    def dynamic_size(self):
        return self._dynamic_size

    def _with_flow(self, flow, fresh=False):
        """This array with ``flow`` as its list, sharing its element shape (``fresh``: with a
        copy of it and no static size, as TF rebuilds the arrays a ``cond`` returns)."""
        ta = TensorArray.__new__(TensorArray)
        ta._dtype = self._dtype
        ta._dynamic_size = self._dynamic_size
        ta._size = None if fresh else self._size
        ta._infer_shape = self._infer_shape
        ta._element_shape = [self.element_shape] if fresh else self._element_shape
        ta._flow = flow
        with ops.name_scope(None, "TensorArrayV2", [flow]):
            pass  # TF opens (and so uses up) this scope for each array made from a flow
        return ta

    def _check_element_shape(self, shape):
        if not shape.is_compatible_with(self.element_shape):
            raise ValueError(f"Inconsistent shapes: saw {shape} but expected {self.element_shape} ")
        if self._infer_shape:
            self._element_shape[0] = self.element_shape.merge_with(shape)

    def _static_size(self):
        """The ``num_elements`` of ``stack()``: the size where TF's graph-construction constant
        folding knows it (a constant, ``tf.size``/``tf.rank`` of a known shape, through
        ``Identity``/``Cast``; not, e.g., ``tf.shape(x)[0]``), else -1."""
        if self._dynamic_size or self._size is None:
            return -1
        if not isinstance(self._size, ops.Tensor):
            return int(np.asarray(self._size))
        t = self._size
        while t.op.type in ("Identity", "StopGradient", "Cast"):
            t = t.op.inputs[0]
        if t.op.type not in ("Const", "Size", "Rank"):
            return -1
        v = _base.constant_value(self._size)
        return -1 if v is None else int(np.asarray(v))

    # -- reading -------------------------------------------------------------------------------
    def read(self, index, name=None):
        """The element at ``index`` (``TensorListGetItem``)."""
        with ops.name_scope(name, "TensorArrayV2Read", [self._flow, index]):
            return list_ops.tensor_list_get_item(
                self._flow, index, self._dtype, element_shape=self.element_shape, name=name
            )

    def stack(self, name=None):
        """All elements stacked along a new first axis (``TensorListStack``)."""
        with ops.name_scope(name, "TensorArrayV2Stack", [self._flow]):
            return list_ops.tensor_list_stack(
                self._flow,
                self._dtype,
                num_elements=self._static_size(),
                element_shape=self.element_shape,
            )

    def gather(self, indices, name=None):
        """The elements at ``indices``, stacked (``TensorListGather``)."""
        return list_ops.tensor_list_gather(
            self._flow, indices, self._dtype, element_shape=self.element_shape, name=name
        )

    def concat(self, name=None):
        """The elements concatenated along their first axis (``TensorListConcatV2``)."""
        shape = self.element_shape
        es = [None, *shape.dims[1:]] if shape.ndims else None
        return list_ops.tensor_list_concat(self._flow, self._dtype, element_shape=es, name=name)

    def size(self, name=None):
        """The number of elements: ``size`` when it is fixed, else ``TensorListLength``."""
        if not self._dynamic_size and self._size is not None:
            return ops.convert_to_tensor(self._size, dtype=dtypes.int32)
        return list_ops.tensor_list_length(self._flow, name=name)

    # -- writing -------------------------------------------------------------------------------
    def write(self, index, value, name=None):
        """A new TensorArray with ``value`` at ``index`` (``TensorListSetItem``)."""
        with ops.name_scope(name, "TensorArrayV2Write", [self._flow, index, value]):
            value = _convert_value(value, self._dtype)
            _check_dtype(value, self._dtype)
            self._check_element_shape(value.shape)
            flow = list_ops.tensor_list_set_item(
                self._flow,
                index,
                value,
                resize_if_index_out_of_bounds=bool(self._dynamic_size),
                name=name,
            )
            return self._with_flow(flow)

    def unstack(self, value, name=None):
        """A new TensorArray holding the rows of ``value`` (``TensorListFromTensor``)."""
        with ops.name_scope(name, "TensorArrayUnstack", [self._flow, value]):
            value = _convert_value(value, self._dtype)
            _check_dtype(value, self._dtype)
            self._check_element_shape(value.shape[1:])
            flow = list_ops.tensor_list_from_tensor(value, element_shape=value.shape[1:])
            return self._with_flow(flow)

    def scatter(self, indices, value, name=None):
        """A new TensorArray with the rows of ``value`` written at ``indices``
        (``TensorListScatterIntoExistingList``)."""
        with ops.name_scope(name, "TensorArrayScatter", [self._flow, value, indices]):
            value = _convert_value(value, self._dtype)
            _check_dtype(value, self._dtype)
            self._check_element_shape(value.shape[1:])
            flow = list_ops.tensor_list_scatter(
                value, indices, element_shape=self.element_shape, input_handle=self._flow
            )
            return self._with_flow(flow)

    def split(self, value, lengths, name=None):
        """A new TensorArray holding ``value`` split along its first axis into pieces of
        ``lengths`` (``TensorListSplit``)."""
        from .array_ops import cast

        with ops.name_scope(name, "TensorArraySplit", [self._flow, value, lengths]):
            value = _convert_value(value, self._dtype)
            _check_dtype(value, self._dtype)
            lengths = cast(lengths, dtypes.int64)
            sizes = _base.constant_value(lengths)
            if value.shape.ndims is not None and sizes is not None:
                sizes = np.asarray(sizes)
                if sizes.shape and sizes.size and sizes.max() == sizes.min():
                    first = tensor_shape.TensorShape([int(sizes[0])])
                    self._check_element_shape(first.concatenate(value.shape[1:]))
            flow = list_ops.tensor_list_split(
                value, element_shape=self.element_shape, lengths=lengths, name=name
            )
            return self._with_flow(flow)

    # -- the rest ------------------------------------------------------------------------------
    def identity(self):
        """A TensorArray with the same contents whose flow is an ``Identity`` (so that the
        control dependencies in effect order the later reads and writes)."""
        from .array_ops import identity

        return self._with_flow(identity(self._flow))

    def grad(self, source, flow=None, name=None):
        """Not available for TensorList-based arrays (as in TF 2.x): ``NotImplementedError``."""
        raise NotImplementedError()

    def close(self, name=None):
        """A ``NoOp``: lists need no closing."""
        from .array_ops import no_op

        return no_op(name=name)


def is_tensor_array(x):
    return isinstance(x, TensorArray)


def to_flow(x):
    """``x``'s flow if it is a TensorArray, else ``x``."""
    return x._flow if isinstance(x, TensorArray) else x


def with_flow(like, flow, fresh=False):
    """A TensorArray like ``like`` holding ``flow`` if ``like`` is one, else ``flow``."""
    return like._with_flow(flow, fresh) if isinstance(like, TensorArray) else flow
