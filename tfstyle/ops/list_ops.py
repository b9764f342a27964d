"""TF's TensorList ops (``TensorListReserve``, ``TensorListSetItem``, ``TensorListStack``, ...).

TF 2.x writes ``map_fn``, ``scan``, ``dynamic_rnn`` and the accumulators of gradient loops as
``While`` loops whose state holds ``variant`` tensors: growable lists of tensors. XLA has no
growable values, so a list lowers to a ``TensorListValue``, a small pytree: a buffer of fixed
capacity ``[capacity, *element_shape]`` and the number of elements in use. It can be the state of
a ``lax.while_loop``/``lax.scan``. Its capacity must be known when the graph is compiled (the
``num_elements`` of ``TensorListReserve``, the ``max_num_elements`` of ``EmptyTensorList``, the
length of the tensor of ``TensorListFromTensor``); otherwise the op reports an error naming it.

An element shape that is only known once an item is written (``-1`` dims in ``element_shape``)
leaves the buffer unallocated until the first ``TensorListSetItem``/``TensorListPushBack``; a
loop carrying such a list allocates it from a trace of its body (``settle_loop_state``).
Indices are not checked at run time: as XLA does, an out-of-range index is clamped.

A TF 1.x TensorArray with ``infer_shape=False`` may hold elements of different shapes (an uneven
``TensorArraySplitV3``): such a list keeps each element's shape (``shapes``, known when the graph
is compiled, as the split's lengths are) and a buffer padded to the largest. Its elements are
read, concatenated and gathered by indices known at compile time.

A TF 1.x TensorArray's element is written once: its list tracks which elements were written
(``written``) and the first write to one already written (``clash``), which the step reports
after it runs, as TF's error naming that write (``TensorListValue.check_after_step``); an array
made in a function (a loop's body) that ends there is checked there (``check_in_function``). The
array's ``reads`` record what was read: a write of an element read fails alike, and so does a
second read where reads clear what they read (``clear_after_read``). A loop that writes (reads)
one once per iteration at its counter, as ``dynamic_rnn`` does, cannot do so twice: that goes
unchecked (``counted_accesses``), so that its step needs no checks as it runs and donates its
state. An element never written of one whose element shape is not fully defined fails to read,
as in TF.
"""

import contextlib
import weakref

import numpy as np

from tfstyle.framework import dtypes, errors, ops, registry

from . import _base

# -- the value ---------------------------------------------------------------------------------
# ``static_item`` of a list nothing was pushed to yet.
EMPTY = ("empty",)


class TensorListValue:
    """A list of same-shaped tensors: ``buffer`` (``None`` until its element shape is known),
    ``length`` (a Python int when it is static, else an int32 array), ``capacity``, the
    ``element_shape`` declared for it (tuple with ``None`` dims, or ``None`` for unknown rank),
    ``static_item`` and ``shapes``.

    ``shapes`` is ``None`` where every element has the buffer's element shape; otherwise a
    tuple with each element's own shape (``None``: not written), the buffer padded to fit.

    ``written`` is ``None`` (a list any element of which may be set again: TF 2.x's, or a
    gradient's array, whose writes TF adds), or which of the ``capacity`` elements a TF 1.x
    TensorArray's writes set: a tuple of bools while known at compile time, else a bool array.
    ``clash`` is ``None`` or int32 ``[site, index]``: the first write (``_SITES[site]``) to an
    element already written, ``site`` -1 while there is none.

    ``reads`` is ``None``, or for a TF 1.x TensorArray whose reads clear what they read
    (``clear_after_read``) the ``_Reads`` of its elements, which every list of the array in one
    trace shares (a read makes no new list).

    ``unwritten`` is ``None`` where an element never written reads as zeros, else (a TF 1.x
    TensorArray whose declared element shape is not fully defined) ``(declared shape, infers)``:
    reading one fails, with ``infer_shape`` only until an element is written (TF then knows the
    shape from it).

    ``made_in`` is the function graph (a loop's body, a cond's branch) whose run made a TF 1.x
    TensorArray's list, ``None`` for the step's own: where such a list ends there, its clash is
    checked there (``_check_in_function``). It is not part of the pytree, so a list that a
    function returns no longer has it.

    ``grows`` is the ``EmptyTensorList`` of a list created without a capacity (a stack of TF's
    gradient of a loop with no bound): its capacity is the one runs needed
    (``_base.RunCapacities``), checked after each step.

    ``static_item`` is a key of the constant that every pushed item equals, ``EMPTY``, or
    ``None``. TF's gradient loops push the shapes and sizes of each step (constants under XLA)
    onto lists and pop them to size their buffers; popping them keeps them static."""

    __slots__ = ("buffer", "length", "capacity", "element_dtype", "element_shape", "static_item",
                 "shapes", "written", "clash", "grows", "made_in", "unwritten", "reads")  # fmt: skip

    def __init__(self, buffer, length, capacity, element_dtype, element_shape, static_item=None,
                 shapes=None, written=None, clash=None, grows=None, made_in=None,
                 unwritten=None, reads=None):  # fmt: skip
        self.buffer = buffer
        self.length = length
        self.capacity = capacity
        self.element_dtype = element_dtype
        self.element_shape = element_shape
        self.static_item = static_item
        self.shapes = shapes
        self.written = written
        self.clash = clash
        self.grows = grows
        self.made_in = made_in
        self.unwritten = unwritten
        self.reads = reads

    def zeros_like(self):
        """``ZerosLike`` of a list: as many elements, each zeros (a TensorArray's gradient,
        whose writes are not tracked)."""
        import jax.numpy as jnp

        new = self.replace(written=None, clash=None, reads=None)
        return new if self.buffer is None else new.replace(buffer=jnp.zeros_like(self.buffer))

    def __add__(self, other):
        """``AddN`` of lists (TF adds the gradients of a list so): elementwise, an unwritten
        list counting as zeros."""
        if other.buffer is None:
            return self.replace(written=None, clash=None, reads=None)
        if self.buffer is None:
            return other.replace(written=None, clash=None, reads=None)
        return self.replace(buffer=self.buffer + other.buffer, static_item=None, written=None,
                            clash=None, reads=None)  # fmt: skip

    def like_branch(self, other):
        """This list as one branch of a ``cond`` returns it, given the other branch's
        (``jax.eval_shape``) list at the same place: both take one structure (TF 1.x gradient
        loops push to a list in one branch only). The buffer is allocated if either is (zeros
        here), the length is an array, and the constant item is kept only where the two
        agree (a list one branch left empty takes the other's)."""
        import jax.numpy as jnp

        if not isinstance(other, TensorListValue):
            return self
        buf = self.buffer
        if buf is None and other.buffer is not None:
            buf = jnp.zeros(other.buffer.shape, other.buffer.dtype)
        item = _merge_items(self.static_item, other.static_item)
        shape = self.element_shape if buf is None else None
        length = jnp.asarray(self.length, jnp.int32)
        new = self.replace(buffer=buf, length=length, static_item=item, element_shape=shape)
        if (isinstance(self.written, tuple) and self.written != other.written) or (
            other.clash is not None
        ):
            new = _tracked(new, reads=False)  # (the branches wrote different elements)
        if _reads_differ(self, other):
            new = _tracked(new)  # (or read different ones)
        return new

    def fed_to_function(self):
        """The list a function run is fed (``lowering.run_plan``): its own reads, so that what
        it reads stays in it (a loop's body returns it) and never reaches the caller's trace."""
        if self.reads is None:
            return self
        return self.replace(reads=self.reads.replace())

    def replace(self, **kw):
        fields = {k: getattr(self, k) for k in self.__slots__}
        fields.update(kw)
        return TensorListValue(**fields)


class _Reads:
    """Which elements of a TF 1.x TensorArray were read (``marks``: a tuple of bools while
    known at compile time, else a bool array; a write of one fails), and, where a read clears
    what it reads (``clears``: ``clear_after_read``), the first read of one already read
    (``failure``: ``None`` or int32 ``[site, index]``, ``site`` -1 while there is none)."""

    __slots__ = ("marks", "failure", "clears")

    def __init__(self, marks, failure=None, clears=True):
        self.marks = marks
        self.failure = failure
        self.clears = clears

    def replace(self, **kw):
        fields = {k: getattr(self, k) for k in self.__slots__}
        fields.update(kw)
        return _Reads(**fields)


def _reads_differ(a, b):
    """Whether list ``b`` (a loop's or a branch's result) read elements that ``a`` did not."""
    if a.reads is None or not isinstance(b, TensorListValue) or b.reads is None:
        return False
    ra, rb = a.reads, b.reads
    return (isinstance(ra.marks, tuple) and rb.marks != ra.marks) or (
        ra.failure is None and rb.failure is not None
    )


def _merge_items(a, b):
    if a == b or b == EMPTY:
        return a
    return b if a == EMPTY else None


def _flatten(v):
    static = isinstance(v.length, (int, np.integer))
    children = [] if v.buffer is None else [v.buffer]
    if not static:
        children.append(v.length)
    written = v.written if v.written is None or isinstance(v.written, tuple) else "array"
    if written == "array":
        children.append(v.written)
    if v.clash is not None:
        children.append(v.clash)
    reads = None
    if v.reads is not None:
        marks, failure = v.reads.marks, v.reads.failure
        reads = (marks if isinstance(marks, tuple) else "array", failure is not None,
                 v.reads.clears)  # fmt: skip
        children.extend([m for m in (marks,) if not isinstance(m, tuple)])
        children.extend([f for f in (failure,) if f is not None])
    # Only the buffer's shape matters once it exists: the declared shape stays out of the
    # static part, so that a loop's state keeps one structure after its first write.
    shape = v.element_shape if v.buffer is None or v.shapes is not None else None
    aux = (v.buffer is None, int(v.length) if static else None, v.capacity, v.element_dtype, shape,
           v.static_item, v.shapes, written, v.clash is not None, v.grows, v.unwritten,
           reads)  # fmt: skip
    return children, aux


def _unflatten(aux, children):
    (unallocated, length, capacity, dt, shape, item, shapes, written, clash, grows, unwritten,
     reads) = aux  # fmt: skip
    children = list(children)
    buffer = None if unallocated else children.pop(0)
    length = children.pop(0) if length is None else length
    written = children.pop(0) if written == "array" else written
    clash = children.pop(0) if clash else None
    if reads is not None:
        marks = children.pop(0) if reads[0] == "array" else reads[0]
        reads = _Reads(marks, children.pop(0) if reads[1] else None, reads[2])
    return TensorListValue(buffer, length, capacity, dt, shape, item, shapes, written, clash, grows,
                           unwritten=unwritten, reads=reads)  # fmt: skip


_REGISTERED = []


def _register_pytree():
    if not _REGISTERED:
        import jax

        jax.tree_util.register_pytree_node(TensorListValue, _flatten, _unflatten)
        _REGISTERED.append(True)


_register_pytree()


def settle_loop_state(values, body):
    """Loop state that one iteration keeps in the same structure: a list entering unallocated
    gets the shape its item takes, and one entering ``EMPTY`` the ``static_item`` it leaves
    with, found by tracing ``body(values) -> new values`` (XLA removes those traces)."""
    import jax
    import jax.numpy as jnp

    values = tuple(values)
    while any(_unsettled(v) for v in values):
        # Abstract values, as the loop will see them: only constants of the body stay static.
        outs = jax.eval_shape(body, values)
        new = list(values)
        for i, (v, out) in enumerate(zip(values, outs)):
            if not _unsettled(v) or not isinstance(out, TensorListValue):
                continue
            if v.buffer is None and out.buffer is not None:
                shape = (v.capacity, *out.buffer.shape[1:])
                v = v.replace(buffer=jnp.zeros(shape, v.element_dtype), element_shape=None)
            if v.static_item is not None and out.static_item != v.static_item:
                # EMPTY becomes the item pushed; a second different item makes it dynamic.
                v = v.replace(static_item=out.static_item if v.static_item == EMPTY else None)
            if (
                (isinstance(v.written, tuple) and out.written != v.written)
                or (v.written is not None and v.clash is None and out.clash is not None)
                or _reads_differ(v, out)
            ):
                # The body writes or reads it: which elements is known at run time.
                v = _tracked(v)
            new[i] = v
        new = tuple(new)
        if all(_same_static(a, b) for a, b in zip(new, values)):
            return new
        values = new
    return values


def _unsettled(v):
    return isinstance(v, TensorListValue) and (
        v.buffer is None
        or v.static_item is not None
        or isinstance(v.written, tuple)
        or (v.written is not None and v.clash is None)
        or (v.reads is not None and (isinstance(v.reads.marks, tuple) or v.reads.failure is None))
    )


def _same_static(a, b):
    if not isinstance(a, TensorListValue):
        return True
    return (
        (a.buffer is None) == (b.buffer is None)
        and a.static_item == b.static_item
        and isinstance(a.written, tuple) == isinstance(b.written, tuple)
        and (a.clash is None) == (b.clash is None)
        and _reads_form(a) == _reads_form(b)
    )


def _reads_form(v):
    return None if v.reads is None else (isinstance(v.reads.marks, tuple), v.reads.failure is None)


def _item_key(value):
    """A hashable key of a value known while tracing (``None`` for a traced one)."""
    if not _is_static(value):
        return None
    arr = np.asarray(value)
    return ("value", arr.dtype.str, arr.shape, tuple(arr.reshape(-1).tolist()))


def _item_of(key):
    _, dt, shape, vals = key
    return np.asarray(vals, np.dtype(dt)).reshape(shape)


# -- helpers -----------------------------------------------------------------------------------
def _shape_from_value(value):
    """An ``element_shape`` input's value as a tuple with ``None`` dims (``None``: any rank)."""
    arr = np.asarray(value)
    if arr.ndim == 0:
        return None if int(arr) < 0 else ()  # a scalar -1 means an unknown rank
    return tuple(None if int(d) < 0 else int(d) for d in arr.reshape(-1))


def _static_shape(tensor):
    """The static value of an ``element_shape`` input tensor, or ``None`` when not known."""
    v = _base.constant_value(tensor)
    if v is not None:
        return _shape_from_value(v)
    n = _base.dims(tensor)
    if n is not None and len(n) == 1 and n[0] is not None:
        return (None,) * n[0]
    return None


def _merge(a, b):
    if a is None:
        return b
    if b is None or len(a) != len(b):
        return a
    return tuple(x if x is not None else y for x, y in zip(a, b))


def _static_int(op, value, what):
    try:
        return int(np.asarray(value))
    except Exception:  # noqa: BLE001 - JAX raises its own error types for tracers
        raise errors.NeedsStaticValue(
            f"{op.name} ({op.type}): tfstyle lowers a TensorList to a buffer of fixed capacity, "
            f"so its {what} must be known when the graph is compiled (a constant or computed "
            "from static shapes), but it depends on a fed value or a variable.",
        ) from None


def _element_dtype(op):
    return np.dtype(dtypes.as_dtype(op._attrs["element_dtype"]).as_numpy_dtype)


def _zeros(op, lst, element_shape=None):
    """The buffer of a list whose items were never written (TF reads them as zeros)."""
    import jax.numpy as jnp

    shape = _merge(lst.element_shape, element_shape)
    if shape is None or any(d is None for d in shape):
        raise errors.InvalidArgumentError(
            None,
            op,
            f"{op.name} ({op.type}): the list's items were never written and its element shape "
            f"{_shape_text(shape)} is not fully defined.",
        )
    return jnp.zeros((lst.capacity, *shape), lst.element_dtype)


def _shape_text(shape):
    if shape is None:
        return "<unknown>"
    return "[" + ",".join("?" if d is None else str(d) for d in shape) + "]"


def _buffer(op, lst, element_shape=None, first=None):
    """``lst``'s buffer, zeros where nothing was written; a TF 1.x TensorArray that reads an
    unwritten element as an error (``unwritten``) fails naming ``first``, the first element
    read, where it is known."""
    if lst.buffer is not None:
        return lst.buffer
    if lst.unwritten is not None and "_tensor_array" in op._attrs:
        if first is not None and _is_static(first):
            raise _unwritten_read(op, int(first), lst.unwritten[0])
    return _zeros(op, lst, element_shape)


def _with_item(op, lst, index, item):
    """``lst`` with ``item`` written at ``index``; allocates the buffer from the item."""
    import jax.numpy as jnp
    from jax import lax

    item = jnp.asarray(item, lst.element_dtype)
    if lst.shapes is not None:
        return _with_ragged_item(op, lst, index, item)
    buf = lst.buffer
    if buf is None:
        buf = jnp.zeros((lst.capacity, *item.shape), lst.element_dtype)
    elif tuple(buf.shape[1:]) != tuple(item.shape):
        if "_tensor_array" in op._attrs:
            return _with_item_of_another_shape(op, lst, index, item)
        raise errors.InvalidArgumentError(
            None,
            op,
            f"{op.name} ({op.type}): tried to write an item of shape {list(item.shape)} into a "
            f"list of elements of shape {list(buf.shape[1:])}.",
        )
    if buf.shape[0]:  # (a list of no elements: the body of a loop of no iterations)
        buf = lax.dynamic_update_index_in_dim(buf, item, jnp.asarray(index, jnp.int32), 0)
    return lst.replace(buffer=buf, element_shape=None, static_item=None)


# -- elements of different shapes (``TensorListValue.shapes``) ---------------------------------
def _ragged_list(op, pieces, element_shape=None):
    """A list of ``pieces`` (arrays of one rank), each keeping its own shape."""
    import jax.numpy as jnp

    top = tuple(max(d) for d in zip(*(p.shape for p in pieces)))
    buf = jnp.stack([_pad_to(p, top) for p in pieces])
    shapes = tuple(tuple(p.shape) for p in pieces)
    return TensorListValue(buf, len(pieces), len(pieces), buf.dtype, element_shape, None, shapes)


def _pad_to(x, shape):
    import jax.numpy as jnp

    if tuple(x.shape) == tuple(shape):
        return x
    return jnp.pad(x, [(0, t - d) for d, t in zip(x.shape, shape)])


def _static_position(op, index, what="index"):
    """An index into a list of differently shaped elements, which must be known when the graph
    is compiled: the element's shape (the result's) depends on it."""
    if not _is_static(index):
        raise errors.UnimplementedError(
            None,
            op,
            f"{op.name} ({op.type}): the list's elements have different shapes (an uneven "
            f"split), so the {what} must be known when the graph is compiled; here it is only "
            "known when the step runs.",
        )
    return np.asarray(index).astype(np.int64)


def _unwritten_error(op, lst, i, shape=None):
    raise _unwritten_read(op, i, lst.element_shape if shape is None else shape)


def _unwritten_read(op, i, shape):
    """TF 1.x's error of a read of element ``i``, never written, of a TensorArray whose element
    shape (``shape``) is not fully defined."""
    name = op._attrs.get("_tensor_array", b"")
    name = name.decode() if isinstance(name, bytes) else name
    return _error(op, f"TensorArray {name}: Could not read from TensorArray index {i}.  "
                      "Furthermore, the element shape is not fully defined: "
                      f"{_shape_text(shape)}.  It is possible you are working with a resizeable "
                      "TensorArray and stop_gradients is not allowing the gradients to be "
                      "written.  If you set the full element_shape property on the forward "
                      "TensorArray, the proper all-zeros tensor will be returned instead of "
                      "incurring this error.")  # fmt: skip


def _read_written(op, lst, indices):
    """TF 1.x's read of elements ``indices`` (in order) of a TensorArray that reads an element
    never written as an error (``unwritten``): the first such one fails. Known while tracing,
    outside a function, it fails now; otherwise as the step runs (``_fail_in_run``)."""
    import jax.numpy as jnp

    if lst.unwritten is None or lst.written is None or "_tensor_array" not in op._attrs:
        return
    shape, infers = lst.unwritten
    error = lambda i: _unwritten_read(op, i, shape)  # noqa: E731
    if _is_static(lst.written) and _is_static(indices):
        marks = np.asarray(lst.written, bool).reshape(-1)
        if infers and marks.any():
            return
        for i in np.asarray(indices).reshape(-1).tolist():
            if 0 <= i < marks.size and not marks[i]:
                _fail_in_run(op, True, i, error)
                return
        return
    written = jnp.asarray(lst.written)
    idx = jnp.asarray(indices, jnp.int32).reshape(-1)
    if idx.shape[0] == 0:
        return
    # (Out of range: the read's own checks.)
    missing = ~written[jnp.clip(idx, 0, written.shape[0] - 1)] & (idx >= 0)
    missing = missing & (idx < written.shape[0])
    if infers:
        missing = missing & ~jnp.any(written)
    _fail_in_run(op, jnp.any(missing), idx[jnp.argmax(missing)], error)


def _fail_in_run(op, failed, index, error):
    """Raises ``error(index)`` now where ``failed`` and ``index`` are known while tracing and
    ``op`` certainly runs (outside a function, or in one run at compile time); else reports it
    as the step runs if ``failed`` (the step then keeps its state: ``errors.NeedsRunChecks``)."""
    import jax
    import jax.numpy as jnp

    if _is_static(failed) and _is_static(index):
        if not failed:
            return
        if not _in_function(op) or _is_static(jnp.zeros(())):
            raise error(int(index))
    from tfstyle.compiler import lowering

    if not lowering.run_checks_allowed():
        raise errors.NeedsRunChecks(f"{op.name} ({op.type}) is checked as the step runs")

    def report(i):
        errors.report_in_run(error(int(i)))

    # In a branch taken only on failure: a callback costs even unused.
    jax.lax.cond(jnp.asarray(failed), lambda i: jax.debug.callback(report, i), lambda i: None,
                 jnp.asarray(index, jnp.int32))  # fmt: skip


def _ragged_elements(op, lst, positions, declared=None, stacked=True):
    """Elements ``positions`` (ints) of a list with ``shapes``, each cut to its own shape.

    An op imported from TF 1.x (a TensorArray's) fails on an unwritten element, and on
    elements of different shapes when it stacks them. TF 2.x's ops merge the shapes of the
    elements read into the ``declared`` element shape, failing where they differ, and read an
    unwritten element as zeros of the merged shape. (Concatenated, ``stacked=False``, the
    elements' shapes are not merged.)"""
    import jax.numpy as jnp

    v1 = "_tensor_array" in op._attrs or op._attrs.get("_tensor_array_read", False)
    merged = None if v1 else _merge(declared, lst.element_shape)
    out = []
    for i in positions:
        shape = lst.shapes[i]
        if shape is None:
            if v1:
                _unwritten_error(op, lst, i)
            continue
        if not v1 and stacked:
            merged = _merged_or_fail(op, merged, shape)
        out.append(lst.buffer[i][tuple(slice(0, d) for d in shape)])
    if len(out) < len(positions):
        # (TF 2.x's shape for an unwritten element merges every written one's.)
        for shape in lst.shapes if merged is None or None in merged else ():
            if shape is not None:
                merged = _merged_or_fail(op, merged, shape)
        if merged is None or any(d is None for d in merged):
            raise errors.UnimplementedError(
                None,
                op,
                f"{op.name} ({op.type}): reads an element that was never written, and the "
                f"list's element shape {_shape_text(merged)} is not fully defined.",
            )
        it = iter(out)
        zeros = jnp.zeros(merged, lst.element_dtype)
        out = [zeros if lst.shapes[i] is None else next(it) for i in positions]
    if v1 and stacked:
        for k, e in enumerate(out[1:], 1):
            if e.shape != out[0].shape:
                _fail(op, f"TensorArray has inconsistent shapes.  Index 0 has shape: "
                          f"{_shape_text(out[0].shape)} but index {k} has shape: "
                          f"{_shape_text(e.shape)}")  # fmt: skip
    return out


def _merged_or_fail(op, merged, shape):
    if merged is not None and (
        len(merged) != len(shape) or any(d not in (None, e) for d, e in zip(merged, shape))
    ):
        _fail(op, f"PartialTensorShape: Incompatible shapes during merge: {_shape_text(merged)} "
                  f"vs. {_shape_text(shape)}")  # fmt: skip
    return tuple(shape)


def _with_ragged_item(op, lst, index, item):
    i = int(_static_position(op, index))
    buf = lst.buffer
    if buf.ndim - 1 != item.ndim:
        # (TF 1.x's TensorArray takes it; tfstyle's padded buffer has one rank.)
        kind = (
            errors.UnimplementedError
            if "_tensor_array" in op._attrs
            else errors.InvalidArgumentError
        )
        raise kind(
            None,
            op,
            f"{op.name} ({op.type}): tried to write an item of shape {list(item.shape)} into a "
            f"list of elements of rank {buf.ndim - 1}.",
        )
    top = tuple(max(a, b) for a, b in zip(buf.shape[1:], item.shape))
    buf = _pad_to(buf, (buf.shape[0], *top)).at[i].set(_pad_to(item, top))
    shapes = list(lst.shapes)
    shapes[i] = tuple(item.shape)
    return lst.replace(buffer=buf, shapes=tuple(shapes), static_item=None)


# -- TF 1.x's elements written once (``TensorListValue.written`` and ``clash``) ----------------
# The writes that may find an element already written: a site number each, which a ``clash``
# holds (an op is kept only while its graph is).
_SITES = []
_SITE_OF = weakref.WeakKeyDictionary()
_NO_CLASH = np.array([-1, -1], np.int32)


def _site(op, kind=""):
    """The site number of ``op`` failing as ``kind`` (``"read"``: a write of an element read
    before; else by the op's type, a second write or read)."""
    sites = _SITE_OF.setdefault(op, {})
    site = sites.get(kind)
    if site is None:
        site = sites[kind] = len(_SITES)
        _SITES.append((weakref.ref(op), kind))
    return site


def _tracked(lst, reads=True):
    """``lst`` with which elements were written, and its clash, as arrays (the state of a loop
    or a cond that writes it); with ``reads``, what the array's reads hold too, in a record of
    its own (else the record stays the one the array's other lists share)."""
    import jax.numpy as jnp

    def marks(m):
        return jnp.asarray(np.asarray(m, bool).reshape(-1)) if isinstance(m, tuple) else m

    def failure(f):
        return jnp.asarray(_NO_CLASH if f is None else f, jnp.int32)

    if lst.written is None:
        return lst
    if reads and lst.reads is not None:
        r = lst.reads
        reads = r.replace(marks=marks(r.marks), failure=failure(r.failure) if r.clears else None)
    else:
        reads = lst.reads
    return lst.replace(written=marks(lst.written), clash=failure(lst.clash), reads=reads)


def _written_once(op, lst, indices):
    """``lst`` after TF 1.x's write of its elements ``indices`` (in order) by ``op``: each must
    not be written yet. Known at compile time, a second write outside a function (a loop body,
    a cond branch, which may not run) fails now; otherwise the list's ``clash`` records it."""
    import jax.numpy as jnp

    from tfstyle.compiler import lowering

    if lst.written is None or "_tensor_array" not in op._attrs or _counted(op):
        return lst
    written, clash = lst.written, lst.clash
    # Elements read fail first, as in TF (but for a gradient's second run of the forward ops,
    # which the reads that ran once already see).
    read = None if lst.reads is None or lowering.rerunning() else lst.reads.marks
    if (
        _is_static(indices)
        and _is_static(written)
        and (clash is None or _is_static(clash))
        and _is_static(read)
    ):
        marks = [bool(b) for b in np.asarray(written, bool).reshape(-1)]
        read = None if read is None else np.asarray(read, bool).reshape(-1)
        found = None
        for i in np.asarray(indices).reshape(-1).tolist():
            if not 0 <= i < len(marks):
                continue  # (out of range: the write's own checks)
            if marks[i] or (read is not None and read[i]):
                found = i
                break
            marks[i] = True
        if found is not None and (clash is None or int(np.asarray(clash)[0]) < 0):
            kind = "read" if read is not None and read[found] else ""
            if not _in_function(op):
                raise _clash_error(_site(op, kind), found)
            clash = np.array([_site(op, kind), found], np.int32)
        marks = tuple(marks) if isinstance(written, tuple) else np.asarray(marks, bool)
        return lst.replace(written=marks, clash=clash)
    lst = _tracked(lst, reads=False)
    if isinstance(read, tuple):
        read = jnp.asarray(np.asarray(read, bool).reshape(-1))
    if np.ndim(indices) == 0:  # a write (in a loop: keep its step small)
        i = jnp.asarray(indices, jnp.int32)
        hit, site = lst.written[i], jnp.int32(_site(op))
        if read is not None:
            hit, site = hit | read[i], jnp.where(read[i], jnp.int32(_site(op, "read")), site)
        clash = jnp.where((lst.clash[0] < 0) & hit, jnp.stack([site, i]), lst.clash)
        return lst.replace(written=lst.written.at[i].set(True), clash=clash)
    idx = jnp.asarray(indices, jnp.int32).reshape(-1)
    hit = lst.written[idx]
    if idx.shape[0] > 1:  # an index scattered twice
        same = idx[:, None] == idx[None, :]
        hit = hit | jnp.any(jnp.tril(same, -1), axis=1)
    site = jnp.int32(_site(op))
    if read is not None:
        hit = hit | read[idx]
        site = jnp.where(read[idx[jnp.argmax(hit)]], jnp.int32(_site(op, "read")), site)
    new = jnp.stack([site, idx[jnp.argmax(hit)]])
    clash = jnp.where((lst.clash[0] < 0) & jnp.any(hit), new, lst.clash)
    return lst.replace(written=lst.written.at[idx].set(True), clash=clash)


def _read_once(op, lst, indices):
    """TF 1.x's read of elements ``indices`` (in order) by ``op`` from a TensorArray: the
    array's ``reads`` (shared by its lists in this trace) record it. Where reads clear what
    they read, each element must not have been read before: the first read of one already read
    is recorded too, which the step reports after it runs; known at compile time outside a
    function, it fails now. (A gradient's second run of the forward ops reads nothing again.)"""
    import jax.numpy as jnp

    from tfstyle.compiler import lowering

    reads = lst.reads
    if reads is None or "_tensor_array" not in op._attrs or lowering.rerunning() or _counted(op):
        return
    marks, failure = reads.marks, reads.failure
    if _is_static(indices) and _is_static(marks) and (failure is None or _is_static(failure)):
        new = [bool(b) for b in np.asarray(marks, bool).reshape(-1)]
        found = None
        for i in np.asarray(indices).reshape(-1).tolist():
            if not 0 <= i < len(new):
                continue  # (out of range: the read's own checks)
            if new[i] and reads.clears:
                found = i
                break
            new[i] = True
        if found is not None and (failure is None or int(np.asarray(failure)[0]) < 0):
            if not _in_function(op):
                _fail(op, _read_twice_message(op, found))
            failure = np.array([_site(op), found], np.int32)
        reads.marks = tuple(new) if isinstance(marks, tuple) else np.asarray(new, bool)
        reads.failure = failure
        return
    marks = jnp.asarray(np.asarray(marks, bool).reshape(-1) if isinstance(marks, tuple) else marks)
    idx = jnp.asarray(indices, jnp.int32).reshape(-1)
    if idx.shape[0] == 0:
        return
    if not reads.clears:
        reads.marks = marks.at[idx].set(True)
        return
    failure = jnp.asarray(_NO_CLASH if failure is None else failure, jnp.int32)
    hit = marks[idx]
    if idx.shape[0] > 1:  # an index read twice by one gather
        same = idx[:, None] == idx[None, :]
        hit = hit | jnp.any(jnp.tril(same, -1), axis=1)
    new = jnp.stack([jnp.int32(_site(op)), idx[jnp.argmax(hit)]])
    reads.failure = jnp.where((failure[0] < 0) & jnp.any(hit), new, failure)
    reads.marks = marks.at[idx].set(True)


# -- writes and reads at a loop's counter -----------------------------------------------------
# A loop that writes (reads) a TF 1.x TensorArray it carries once per iteration, at a counter
# (``dynamic_rnn``'s ``time``), sets (reads) another element each time: where none of those was
# set (read) before the loop, nothing need be tracked inside it. The loop marks the elements
# [start, counter's final value) afterwards. The ops the loops being traced leave so:
_COUNTED = []

# The ops that read a list's elements, and those that read only its length or element shape.
_READS = frozenset({"TensorListGetItem", "TensorListGather", "TensorListStack", "TensorListConcat",
                    "TensorListConcatV2"})  # fmt: skip
_SHAPE_READERS = ("TensorListLength", "TensorListElementShape")


def _counted(op):
    return any(op in ops_ for ops_ in _COUNTED)


@contextlib.contextmanager
def counting(accesses):
    """While a loop's body is traced: its ``counted_accesses`` go unchecked."""
    _COUNTED.append({a[0] for a in accesses})
    try:
        yield
    finally:
        _COUNTED.pop()


def _source(t):
    while t.op.type in ("Identity", "StopGradient"):
        t = t.op._inputs[0]
    return t


def _counters(body_g, values):
    """``{loop variable index: start}`` of the loop's counters: variables that start at an
    integer known at compile time and that the body returns plus one."""
    found = {}
    for k, (t, out) in enumerate(zip(body_g.inputs, body_g.outputs)):
        v = values[k]
        if not _is_static(v) or np.ndim(v) != 0 or np.asarray(v).dtype.kind not in "iu":
            continue
        add = _source(out).op
        if add.type not in ("AddV2", "Add") or len(add._inputs) != 2:
            continue
        a, b = (_source(x) for x in add._inputs)
        for x, y in ((a, b), (b, a)):
            one = _base.constant_value(y)
            if x is t and one is not None and np.ndim(one) == 0 and int(one) == 1:
                found[k] = int(np.asarray(v))
    return found


def _trip_bound(cond_g, body_g, values, counters, bound):
    """A bound of the loop's trip count known at compile time, or ``None``: its
    ``maximum_iterations`` (``bound``), or a condition that holds only while a counter is less
    than a limit (TF 1.x's ``maximum_iterations`` is such a counter; ``i < n``), the limit a
    constant or a loop variable the body keeps, of a value known at compile time."""
    bounds = [] if bound is None else [bound]
    terms = [cond_g.outputs[0]]
    for t in terms:
        op = _source(t).op
        if op.type == "LogicalAnd":
            terms.extend(op._inputs)
        elif op.type == "Less":
            x, y = (_source(a) for a in op._inputs)
            k = next((i for i, t in enumerate(cond_g.inputs) if t is x), None)
            if k not in counters:
                continue
            limit = _base.constant_value(y)
            m = next((i for i, t in enumerate(cond_g.inputs) if t is y), None)
            if m is not None and _source(body_g.outputs[m]) is body_g.inputs[m]:
                limit = values[m] if _is_static(values[m]) else None
            if limit is not None and np.ndim(limit) == 0:
                bounds.append(max(int(np.asarray(limit)) - counters[k], 0))
    return min(bounds, default=None)


def counted_accesses(cond_g, body_g, values, bound):
    """The writes and reads of TF 1.x TensorArrays in loop body ``body_g`` (``values``: the
    loop's initial values, in the order of the body's inputs; ``bound``: its
    ``maximum_iterations``, or ``None``) that no iteration repeats: the one write (read) of a
    list the loop carries, at a counter starting at ``start``, none of whose elements from
    ``start`` on was written (read) before the loop, and which has room for as many as the
    loop can run (``_trip_bound``); that list meets no other op but ``Identity`` and those
    that read its length or element shape (reads of a written list, writes of a read one).
    ``[(op, list index, counter index, start)]``."""
    counters = _counters(body_g, values)
    if not counters:
        return []
    bound = _trip_bound(cond_g, body_g, values, counters, bound)
    if bound is None:
        return []
    consumers = {}
    for op in body_g.get_operations():
        for i, t in enumerate(op._inputs):
            consumers.setdefault(t, []).append((op, i))
    counter_inputs = {body_g.inputs[k]: k for k in counters}
    found = []
    for j, v in enumerate(values):
        if not isinstance(v, TensorListValue) or (v.written is None and v.reads is None):
            continue
        writes, reads, lineage, other = [], [], [body_g.inputs[j]], False
        for t in lineage:
            for op, i in consumers.get(t, ()):
                if op.type in ("Identity", "StopGradient"):
                    lineage.append(op._outputs[0])
                elif op.type == "TensorListSetItem" and i == 0:
                    writes.append(op)
                    lineage.append(op._outputs[0])
                elif op.type in _READS and i == 0:
                    reads.append(op)
                elif op.type not in _SHAPE_READERS:
                    other = True
        kept = set(lineage)
        if other or [i for i, out in enumerate(body_g.outputs) if _source(out) in kept] != [j]:
            continue  # (another op, or another loop variable, takes the list)
        candidates = []
        unread = v.reads is None or (not reads and isinstance(v.reads.marks, tuple))
        if len(writes) == 1 and isinstance(v.written, tuple) and unread:
            # (A write of an element read before fails too: none from the start may be.)
            marks = v.written
            if v.reads is not None:
                marks = tuple(a or b for a, b in zip(marks, v.reads.marks))
            candidates.append((writes[0], marks, v.clash))
        if len(reads) == 1 and not writes and v.reads is not None and isinstance(
                v.reads.marks, tuple):  # fmt: skip
            candidates.append((reads[0], v.reads.marks, v.reads.failure))
        for op, marks, failure in candidates:
            if op.type not in ("TensorListSetItem", "TensorListGetItem"):
                continue
            k = counter_inputs.get(_source(op._inputs[1]))
            if k is None or op._attrs.get("resize_if_index_out_of_bounds", False):
                continue
            if op.type == "TensorListSetItem" and _source(body_g.outputs[j]) is not op._outputs[0]:
                continue  # (the body drops what it wrote)
            start = counters[k]
            if start + bound > v.capacity:
                continue  # (an index past the end)
            if failure is not None and (not _is_static(failure) or np.asarray(failure)[0] >= 0):
                continue
            if any(marks[start:]):
                continue
            found.append((op, j, k, start))
    return found


def mark_counted(values, accesses):
    """The loop's final ``values`` with the elements that ``accesses`` (``counted_accesses``)
    set or read marked: from each one's start to its counter's final value."""
    import jax.numpy as jnp

    values = list(values)
    for op, j, k, start in accesses:
        lst, end = values[j], values[k]
        if not isinstance(lst, TensorListValue):
            continue
        reading = op.type != "TensorListSetItem"
        marks = lst.reads.marks if reading else lst.written
        if _is_static(end) and isinstance(marks, tuple):
            e = int(np.asarray(end))
            marks = tuple(m or start <= i < e for i, m in enumerate(marks))
        else:
            at = jnp.arange(lst.capacity)
            marks = jnp.asarray(marks) | ((at >= start) & (at < jnp.asarray(end, jnp.int32)))
        if reading:
            values[j] = lst.replace(reads=lst.reads.replace(marks=marks))
        else:
            values[j] = lst.replace(written=marks)
    return tuple(values)


def share_reads(body_g, before, after):
    """After a loop: what it read of a TF 1.x TensorArray it only reads (its body returns the
    list it is given) goes to the array's reads from ``before`` the loop, which the reads after
    the loop share (TF 1.x reads the array there from the list it had before the loop)."""
    for j, (b, a) in enumerate(zip(before, after)):
        if (
            isinstance(b, TensorListValue)
            and isinstance(a, TensorListValue)
            and b.reads is not None
            and a.reads is not None
            and _source(body_g.outputs[j]) is body_g.inputs[j]
        ):
            b.reads.marks, b.reads.failure = a.reads.marks, a.reads.failure


def _read_twice_message(op, index):
    name = op._attrs["_tensor_array"]
    name = name.decode() if isinstance(name, bytes) else name
    return (
        f"TensorArray {name}: Could not read index {index} twice because it was cleared after a "
        "previous read (perhaps try setting clear_after_read = false?)."
    )


def _failures(v):
    """The failure records a list carries: its clash and its array's reads' failure."""
    if not isinstance(v, TensorListValue):
        return ()
    found = () if v.clash is None else (v.clash,)
    if v.reads is not None and v.reads.clears and v.reads.failure is not None:
        found += (v.reads.failure,)
    return found


def _in_function(op):
    from tfstyle.framework.func_graph import FuncGraph

    return isinstance(op.graph, FuncGraph)


def _function_of(op):
    return op.graph if _in_function(op) else None


def _clash_message(op, index, reason="already been written to"):
    name = op._attrs["_tensor_array"]
    name = name.decode() if isinstance(name, bytes) else name
    return (
        f"TensorArray {name}: Could not write to TensorArray index {index} because it has {reason}."
    )


def _check_after_step(values):
    """The run checks of the lists a step computed (see ``lowering.build_step``): that lists
    created without a capacity had room for what was pushed (``grows``; else the step reruns
    with more), then TF's error of the first second write to an element of a TF 1.x
    TensorArray (``clash``), raised now where it is known."""
    import jax.numpy as jnp

    clashes, grown = {}, {}
    for v in values:
        for c in _failures(v):
            clashes.setdefault(id(c), c)
        if isinstance(v, TensorListValue) and v.grows is not None and not _is_static(v.length):
            grown.setdefault((v.grows, v.capacity), []).append(v.length)
    traced = []
    for c in clashes.values():
        if not _is_static(c):
            traced.append(c)
        elif int(np.asarray(c)[0]) >= 0:
            raise _clash_error(*np.asarray(c).tolist())
    if not traced and not grown:
        return None
    from tfstyle.compiler import lowering

    if not lowering.run_checks_allowed():
        # A failed check must leave the state as it was: the step is traced again to keep it.
        raise errors.NeedsRunChecks(
            "a TensorArray's writes and reads and the lists' lengths are checked"
        )
    first = None
    if traced:
        first = traced[0]
        for c in traced[1:]:
            first = jnp.where(first[0] >= 0, first, c)
    lists = list(grown)
    longest = [jnp.max(jnp.stack(lengths)) for lengths in grown.values()]

    def finish(*arrays):
        for (op, capacity), n in zip(lists, arrays):
            if n > capacity:
                raise _CAPACITIES.short(op, capacity, int(n), "elements")
        c = arrays[len(lists) :]
        if c and c[0][0] >= 0:
            raise _clash_error(*c[0].tolist())

    return (*longest, *([] if first is None else [first])), finish


TensorListValue.check_after_step = staticmethod(_check_after_step)


def _check_in_function(values, graph):
    """The failures (second writes and reads) of TF 1.x TensorArrays made in function graph
    ``graph`` (``made_in``; all of ``values`` where ``graph`` is ``None``), which end there (see
    ``lowering.run_plan``): TF's error of the first is reported as the step runs (in a loop, the first iteration's). Where
    the function runs at compile time (every clash known), the lists that clashed are returned
    instead, for the enclosing graph to check: that graph may not run them."""
    import jax
    import jax.numpy as jnp

    clashes, lists = {}, {}
    for v in values:
        if isinstance(v, TensorListValue) and (graph is None or v.made_in is graph):
            for c in _failures(v):
                if not _is_static(c) or c[0] >= 0:
                    clashes.setdefault(id(c), c)
                    lists.setdefault(id(c), v)
    if not clashes:
        return []
    if _is_static(jnp.zeros(())):  # evaluated now, not traced
        return list(lists.values())
    failed = list(clashes.values())
    from tfstyle.compiler import lowering

    if not lowering.run_checks_allowed():
        raise errors.NeedsRunChecks("a TensorArray's writes and reads are checked")
    first = jnp.asarray(failed[0], jnp.int32)
    for c in failed[1:]:
        first = jnp.where(first[0] >= 0, first, jnp.asarray(c, jnp.int32))

    def report(clash):
        errors.report_in_run(_clash_error(*np.asarray(clash).tolist()))

    # In a branch taken only on a clash: a callback costs even unused.
    jax.lax.cond(first[0] >= 0, lambda c: jax.debug.callback(report, c), lambda c: None, first)
    return []


TensorListValue.check_in_function = staticmethod(_check_in_function)


def report_short_capacities(values):
    """Where a loop leaves lists created without a capacity (``grows``) longer than it: the
    error that grows it, reported as the step runs. The end of the step checks its own lists
    (``_check_after_step``); this catches those of a loop inside a function, which end there."""
    import jax

    for v in values:
        if isinstance(v, TensorListValue) and v.grows is not None and not _is_static(v.length):

            def report(n, op=v.grows, capacity=v.capacity):
                errors.report_in_run(_CAPACITIES.short(op, capacity, int(n), "elements"))

            # In a branch taken only when the list overflowed: a callback costs even unused.
            jax.lax.cond(v.length > v.capacity, lambda n, f=report: jax.debug.callback(f, n),
                         lambda n: None, v.length)  # fmt: skip


def _clash_error(site, index):
    ref, kind = _SITES[site]
    op = ref()
    if kind == "read":
        return _error(op, _clash_message(op, index, "already been read"))
    message = _read_twice_message if op.type in _READS else _clash_message
    return _error(op, message(op, index))


def _with_item_of_another_shape(op, lst, index, item):
    """TF 1.x's write of an element of a shape other than those written before: an error where
    the array infers one element shape, else the list keeps each element's shape."""
    i = int(_static_position(op, index))
    inferred = tuple(lst.buffer.shape[1:])
    if op._attrs.get("_tensor_array_identical_shapes"):
        name = op._attrs["_tensor_array"]
        name = name.decode() if isinstance(name, bytes) else name
        _fail(op, f"TensorArray {name}: Could not write to TensorArray index {i} because the value "
                  f"shape is {_shape_text(item.shape)} which is incompatible with the TensorArray's "
                  f"inferred element shape: {_shape_text(inferred)} (consider setting "
                  "infer_shape=False).")  # fmt: skip
    if not isinstance(lst.written, tuple):
        raise errors.UnimplementedError(
            None,
            op,
            f"{op.name} ({op.type}): writes an element of shape {list(item.shape)} into a "
            f"TensorArray of elements of shape {list(inferred)}, where which elements were "
            "written is only known when the step runs (a loop wrote it).",
        )
    shapes = tuple(inferred if w else None for w in lst.written)
    return _with_ragged_item(op, lst.replace(shapes=shapes), i, item)


def _length_array(lst):
    import jax.numpy as jnp

    if isinstance(lst.length, (int, np.integer)):
        return np.int32(lst.length)  # static: sizes computed from it stay static
    return jnp.asarray(lst.length, jnp.int32)


def _is_static(x):
    import jax

    return not isinstance(x, jax.core.Tracer)


def _new_list(op, capacity, element_shape, buffer=None, length=None):
    length = capacity if length is None else length
    shape = element_shape if buffer is None else None
    return TensorListValue(buffer, length, capacity, _element_dtype(op), shape)


# -- shape rules -------------------------------------------------------------------------------
def _handle_rule(op):
    return [(dtypes.variant, ())]


def _split_rule(op):
    # TF's shape function rejects a scalar to split; imported from TF 1.x, the split fails when
    # it runs instead (``_check_tensor_array_split``).
    if _base.dims(op._inputs[0]) == () and "_tensor_array" not in op._attrs:
        from .array_ops import _shape_error

        raise _shape_error(op, "Shape must be at least rank 1 but is rank 0")
    return _handle_rule(op)


def _item_rule(op):
    return [(dtypes.as_dtype(op._attrs["element_dtype"]), _static_shape(op._inputs[2]))]


def _stack_rule(op):
    shape = _static_shape(op._inputs[1])
    n = op._attrs.get("num_elements", -1)
    return [(dtypes.as_dtype(op._attrs["element_dtype"]),
             None if shape is None else (None if n is None or n < 0 else n, *shape))]  # fmt: skip


def _gather_rule(op):
    shape = _static_shape(op._inputs[2])
    idx = _base.dims(op._inputs[1])
    n = idx[0] if idx else None
    dt = dtypes.as_dtype(op._attrs["element_dtype"])
    return [(dt, None if shape is None else (n, *shape))]


def _pop_rule(op):
    return [(dtypes.variant, ()), (dtypes.as_dtype(op._attrs["element_dtype"]),
                                   _static_shape(op._inputs[1]))]  # fmt: skip


def _element_shape_rule(op):
    return [(dtypes.as_dtype(op._attrs["shape_type"]), None)]


def _concat_rule(op):
    dt = dtypes.as_dtype(op._attrs["element_dtype"])
    shape = _static_shape(op._inputs[1]) if op.type == "TensorListConcatV2" else None
    return [(dt, None if not shape else (None, *shape[1:])), (dtypes.int64, (None,))]


def _register(name, rule, lower):
    _base.register_simple(name, rule, lower)


# -- creating lists ----------------------------------------------------------------------------
# The elements of lists created without a capacity, as the runs of steps needed.
_CAPACITIES = _base.RunCapacities()


def _lower_empty(op):
    def fn(element_shape, max_num_elements):
        capacity = _static_int(op, max_num_elements, "max_num_elements")
        grows = None
        if capacity < 0:
            from tfstyle.compiler import lowering

            if not lowering.run_checks_allowed():
                raise errors.NeedsRunChecks(
                    f"{op.name} (EmptyTensorList): tfstyle lowers a TensorList to a buffer of "
                    "fixed capacity; this list has no max_num_elements (-1), so its capacity is "
                    "the one Session runs found it needs."
                )
            capacity, grows = _CAPACITIES[op], op
        import jax.numpy as jnp

        shape = _shape_from_value(_base.static_ints(element_shape, "element_shape"))
        buf = None
        if shape is not None and all(d is not None for d in shape):
            buf = jnp.zeros((capacity, *shape), _element_dtype(op))
        # The length is an array from the start: pushes in a loop change it.
        lst = _new_list(op, capacity, shape, buf, jnp.asarray(0, jnp.int32))
        return lst.replace(static_item=EMPTY, grows=grows)

    return fn


def _lower_reserve(op):
    def fn(element_shape, num_elements, *clear_after_read):
        import jax.numpy as jnp

        n = _static_int(op, num_elements, "num_elements")
        shape = _shape_from_value(_base.static_ints(element_shape, "element_shape"))
        buf = None
        if shape is not None and all(d is not None for d in shape):
            buf = jnp.zeros((n, *shape), _element_dtype(op))
        lst = _new_list(op, n, shape, buf)
        if "_tensor_array" in op._attrs:  # a TF 1.x TensorArray: each element written once
            infers = bool(op._attrs.get("_tensor_array_identical_shapes", False))
            unwritten = None if buf is not None else (shape, infers)
            lst = lst.replace(written=(False,) * n, made_in=_function_of(op), unwritten=unwritten)
            if clear_after_read:  # (imported from a TensorArrayV3: its reads are tracked)
                clears = bool(np.asarray(clear_after_read[0]))
                lst = lst.replace(reads=_Reads((False,) * n, clears=clears))
        return lst

    return fn


def _lower_from_tensor(op):
    def fn(tensor, element_shape):
        import jax.numpy as jnp

        t = jnp.asarray(tensor, _element_dtype(op))
        if t.ndim == 0:
            raise errors.InvalidArgumentError(
                None, op, f"{op.name} (TensorListFromTensor): tensor must be at least a vector."
            )
        return _new_list(op, t.shape[0], tuple(t.shape[1:]), t)

    return fn


def _lower_scatter(op):
    v2 = op.type == "TensorListScatterV2"

    def fn(tensor, indices, element_shape, *num):
        import jax.numpy as jnp

        t = jnp.asarray(tensor, _element_dtype(op))
        idx = _base.static_ints(indices, "the indices of " + op.name)
        n = int(idx.max()) + 1 if idx.size else 0
        if v2 and num:
            n = max(n, _static_int(op, num[0], "num_elements"))
        buf = jnp.zeros((n, *t.shape[1:]), t.dtype).at[idx].set(t)
        return _new_list(op, n, tuple(t.shape[1:]), buf)

    return fn


def _lower_split(op):
    array = op._attrs.get("_tensor_array")

    def fn(tensor, element_shape, lengths, *into):
        import jax.numpy as jnp

        t = jnp.asarray(tensor, _element_dtype(op))
        sizes = _base.static_ints(lengths, "the lengths of " + op.name)
        if into:
            _check_tensor_array_split(op, array, t, sizes, *into)
        start = 0
        for z in sizes.tolist():
            if start + z > t.shape[0]:
                _fail(op, f"Attempting to slice [{start}, {start + z}] from tensor with length "
                          f"{t.shape[0]}")  # fmt: skip
            start += z
        if start < t.shape[0]:
            _fail(
                op, f"Unused values in tensor. Length of tensor: {t.shape[0]} Values used: {start}"
            )
        if sizes.size and np.any(sizes != sizes[0]):
            # Pieces of different lengths: their list keeps each one's shape.
            ends = np.cumsum(sizes).tolist()
            pieces = [t[e - z : e] for z, e in zip(sizes.tolist(), ends)]
            declared = into[0].element_shape if into and into[0].buffer is None else None
            return _split_written(op, into, _ragged_list(op, pieces, declared))
        n = int(sizes.size)
        d = int(sizes[0]) if n else 0
        buf = jnp.reshape(t, (n, d, *t.shape[1:]))
        return _split_written(op, into, _new_list(op, n, tuple(buf.shape[1:]), buf))

    return fn


def _split_written(op, into, lst):
    """A TF 1.x split's list: its pieces are written, none of them written before (found only
    when the step runs where a loop wrote the array: ``_check_tensor_array_split`` follows
    writes along the flow only outside loops)."""
    if not into or into[0].written is None:
        return lst
    before = into[0]
    before = _written_once(op, before, np.arange(min(lst.capacity, before.capacity)))
    reads = None if before.reads is None else before.reads.replace(marks=(False,) * lst.capacity)
    return lst.replace(written=(True,) * lst.capacity, clash=before.clash, made_in=before.made_in,
                       reads=reads)  # fmt: skip


def _fail(op, message):
    raise _error(op, message)


def _error(op, message):
    return errors.InvalidArgumentError(None, op, f"{message}\n\t [[{{{{node {op.name}}}}}]]")


def _check_tensor_array_split(op, array, t, sizes, lst, *written):
    """TF 1.x's checks of a ``TensorArraySplitV3`` (imported as a ``TensorListSplit`` of the
    pieces), in TF's order, on the list it splits into and the indices written to it before:
    the array must have as many elements as there are pieces (or fewer, if it has a dynamic
    size), none of them written, each piece of the array's one element shape (unless
    ``infer_shape=False``). Values only known when the step runs are not checked."""
    name = array.decode() if isinstance(array, bytes) else array
    if t.ndim == 0:
        _fail(op, "Expected value to be at least a vector, but received shape: []")
    if int(sizes.sum()) != t.shape[0]:
        _fail(op, f"Expected sum of lengths to be equal to values.shape[0], but sum of lengths is "
                  f"{int(sizes.sum())} and value's shape is: {_shape_text(t.shape)}")  # fmt: skip
    n = int(sizes.size)
    size = lst.length
    if _is_static(size):
        size = int(np.asarray(size))
        if size != n and not (op._attrs.get("_tensor_array_dynamic_size") and size < n):
            _fail(op, f"TensorArray's size is not equal to the size of lengths ({size} vs. {n}), "
                      "and the TensorArray is not marked as dynamically resizeable")  # fmt: skip
    indices = [int(i) for w in written if _is_static(w) for i in np.reshape(np.asarray(w), [-1])]
    first_written = min(indices, default=n)
    rest = tuple(t.shape[1:])
    if op._attrs.get("_tensor_array_identical_shapes"):
        inferred = tuple(lst.buffer.shape[1:]) if lst.buffer is not None else lst.element_shape
        for i, z in enumerate(sizes.tolist()[: first_written + 1]):
            piece = (z, *rest)
            if inferred is not None and (
                len(inferred) != len(piece)
                or any(d is not None and d != p for d, p in zip(inferred, piece))
            ):
                _fail(op, f"TensorArray {name}: Could not write to TensorArray index {i} because "
                          f"the value shape is {_shape_text(piece)} which is incompatible with the "
                          f"TensorArray's inferred element shape: {_shape_text(inferred)} (consider "
                          "setting infer_shape=False).")  # fmt: skip
            inferred = piece
    if first_written < n:
        _fail(op, f"TensorArray {name}: Could not write to TensorArray index {first_written} "
                  "because it has already been written to.")  # fmt: skip


# -- reading and writing -----------------------------------------------------------------------
def _lower_get_item(op):
    v1_read = op._attrs.get("_tensor_array_read", False)

    def fn(lst, index, element_shape):
        import jax.numpy as jnp
        from jax import lax

        shape = _shape_from_value(_base.static_ints(element_shape, "element_shape"))
        if lst.shapes is not None:
            _static_position(op, index)
            _static_position(op, lst.length, "list's length")
        if _is_static(index) and _is_static(lst.length):
            # XLA would clamp the index; TF reports it (an index only known at run time cannot be).
            i, n = int(np.asarray(index)), int(np.asarray(lst.length))
            if not 0 <= i < n:
                if v1_read:
                    _fail(op, f"Tried to read from index {i} but array size is: {n}")
                _fail(op, f"Trying to access element {i} in a list with {n} elements.")
            if lst.shapes is not None:
                item = _ragged_elements(op, lst, [i], shape)[0]
                _read_once(op, lst, index)
                return item
        buf = _buffer(op, lst, shape, index)
        _read_written(op, lst, index)
        _read_once(op, lst, index)
        if buf.shape[0] == 0:
            # No element to read (the body of a loop of no iterations over an empty list).
            return jnp.zeros(buf.shape[1:], buf.dtype)
        return lax.dynamic_index_in_dim(buf, jnp.asarray(index, jnp.int32), 0, keepdims=False)

    return fn


def _lower_set_item(op):
    item_dtype = _element_dtype(op)
    resize = bool(op._attrs.get("resize_if_index_out_of_bounds", False))

    def fn(lst, index, item):
        if item_dtype != lst.element_dtype:
            raise errors.InvalidArgumentError(
                None,
                op,
                f"Invalid data types; op elements {_type_string(item_dtype)} but list elements "
                f"{_type_string(lst.element_dtype)}\n\t [[{{{{node {op.name}}}}}]]",
            )
        if not resize:
            new = _with_item(op, lst, index, item)
        else:
            new = _resized_with_item(op, lst, index, item)
        return _written_once(op, new, index)

    return fn


def _type_string(np_dtype):
    """TF's name of a dtype in kernel messages (``float``, ``double``, ``int32``)."""
    return {"float32": "float", "float64": "double", "float16": "half"}.get(
        np.dtype(np_dtype).name, np.dtype(np_dtype).name
    )


# -- lists that grow (``resize_if_index_out_of_bounds``: a TensorArray of dynamic size) ---------
# A write past the end of such a list makes it longer. With a known index the buffer is padded
# to fit; with an index only known when the step runs (a write inside a loop), the capacity must
# have been reserved beforehand: a loop that grows a list it carries gives it room for as many
# writes as the loop can run (``reserve_loop_capacity``). The writes whose index is traced are
# counted while a loop's body is probed.
_GROWTH = []


def _resized_with_item(op, lst, index, item):
    import jax.numpy as jnp

    if _is_static(index) and _is_static(lst.length):
        i = int(np.asarray(index))
        if i >= lst.capacity:
            lst = _padded(lst, i + 1 - lst.capacity)
        return _with_item(op, lst, i, item).replace(length=max(int(lst.length), i + 1))
    if _GROWTH:
        _GROWTH[-1].append(op)
    if lst.capacity == 0:  # a loop's body probed before its room is reserved
        lst = _padded(lst, 1)
    new = _with_item(op, lst, index, item)
    i = jnp.asarray(index, jnp.int32)
    return new.replace(length=jnp.maximum(jnp.asarray(lst.length, jnp.int32), i + 1))


def _padded(lst, extra):
    import jax.numpy as jnp

    buf = lst.buffer
    if buf is not None and extra > 0:
        buf = jnp.concatenate([buf, jnp.zeros((extra, *buf.shape[1:]), buf.dtype)])
    extra = max(extra, 0)
    shapes = lst.shapes
    if shapes is not None:
        shapes = shapes + (None,) * extra
    written = lst.written
    if isinstance(written, tuple):
        written = written + (False,) * extra
    elif written is not None and extra:
        written = jnp.concatenate([written, jnp.zeros((extra,), bool)])
    reads = lst.reads
    if reads is not None and extra:
        marks = reads.marks
        if isinstance(marks, tuple):
            marks = marks + (False,) * extra
        else:
            marks = jnp.concatenate([marks, jnp.zeros((extra,), bool)])
        reads = reads.replace(marks=marks)
    return lst.replace(buffer=buf, capacity=lst.capacity + extra, shapes=shapes, written=written,
                       reads=reads)  # fmt: skip


def reserve_loop_capacity(op, values, body, bound):
    """Loop state ``values`` in which each list whose length ``body`` changes has a length the
    loop can carry and room for the writes of ``bound`` iterations (``None``: not known at
    compile time, an error naming the write; a callable: called with the write where room is
    needed, it gives the iterations)."""
    import jax

    values = tuple(values)
    fixed = [isinstance(v, TensorListValue) and isinstance(v.length, (int, np.integer))
             for v in values]  # fmt: skip
    if not any(fixed):  # only a list of static length can start to grow
        return values

    def probe(vs):
        _GROWTH.append([])
        try:
            outs = jax.eval_shape(body, vs)
        finally:
            writers = _GROWTH.pop()
        return outs, writers

    outs, _ = probe(values)
    new = list(values)
    for i, (v, out) in enumerate(zip(values, outs)):
        if fixed[i] and isinstance(out, TensorListValue):
            if not (isinstance(out.length, (int, np.integer)) and out.length == v.length):
                # An array (the loop changes it) that stays a constant, for ``fold_lengths``.
                new[i] = v.replace(length=np.asarray(v.length, np.int32))
    changed = [i for i, (a, b) in enumerate(zip(new, values)) if a is not b]
    if not changed:
        return values
    # Probed again with lengths the loop carries, every write past the end is counted.
    _, writers = probe(tuple(new))
    if not writers:  # pushes and pops: the length changes within the capacity
        return tuple(new)
    if callable(bound):  # a capacity of iterations that runs of the step check
        bound = bound(writers[0])
    if bound is None:
        w = writers[0]
        raise errors.UnimplementedError(
            None,
            w,
            f"{w.name} ({w.type}): a list (a TensorArray of dynamic size) grows in while loop "
            f"{op.name}, whose number of iterations is not known when the graph is compiled; "
            "tfstyle lowers the list to a buffer of fixed capacity. Give the while_loop "
            "maximum_iterations (or the TensorArray the size it needs).",
        )
    extra = bound * len(writers)
    for i in changed:
        v = new[i]
        new[i] = _padded(v, extra)
    if _GROWTH:
        _GROWTH[-1].extend(writers * bound)  # an enclosing loop's body grows by as much
    return tuple(new)


def fold_lengths(values, rerun, inputs):
    """``values`` (a loop's results) with the lengths of lists that are computed from values
    known at compile time made static, so that a list the loop grew stacks to a static shape.
    ``rerun(inputs)`` recomputes ``values``; JAX's partial evaluation finds which results do
    not depend on the traced leaves of ``inputs``."""
    import jax

    todo = [i for i, v in enumerate(values)
            if isinstance(v, TensorListValue) and not _is_static(v.length)]  # fmt: skip
    if not todo:
        return values
    try:
        from jax._src import core
        from jax._src.interpreters import partial_eval as pe

        leaves, tree = jax.tree_util.tree_flatten(inputs)
        traced = [i for i, x in enumerate(leaves) if not _is_static(x)]

        def lengths(*args):
            full = list(leaves)
            for i, a in zip(traced, args):
                full[i] = a
            outs = rerun(jax.tree_util.tree_unflatten(tree, full))
            return [jax.numpy.asarray(outs[i].length) for i in todo]

        avals = [jax.ShapeDtypeStruct(np.shape(leaves[i]), leaves[i].dtype) for i in traced]
        closed = jax.make_jaxpr(lengths)(*avals)
        known, _, unknown, _ = pe.partial_eval_jaxpr_nounits(closed, [True] * len(avals), False)
        if any(unknown):
            return values
        # Only what the lengths need (not the residuals kept for the unknown part).
        jaxpr = known.jaxpr
        used = [i < len(todo) for i in range(len(jaxpr.outvars))]
        jaxpr, used_inputs = pe.dce_jaxpr(jaxpr, used, instantiate=True)
        if any(used_inputs):
            return values
        with jax.ensure_compile_time_eval():
            found = core.eval_jaxpr(jaxpr, known.consts)
    except Exception:  # noqa: BLE001 - not foldable: the lengths stay known at run time only
        return values
    if not all(_is_static(x) for x in found):
        return values
    new = list(values)
    for i, n in zip(todo, found):
        new[i] = values[i].replace(length=int(np.asarray(n)))
    return tuple(new)


def _lower_push_back(op):
    def fn(lst, tensor):
        new = _with_item(op, lst, lst.length, tensor)
        key = _item_key(tensor)
        if lst.static_item is None or (lst.static_item != EMPTY and lst.static_item != key):
            key = None
        new = new.replace(static_item=key)
        length = lst.length + 1
        if isinstance(length, (int, np.integer)) and length > lst.capacity:
            raise errors.InvalidArgumentError(
                None,
                op,
                f"{op.name} (TensorListPushBack): the list is full (its capacity, fixed when "
                f"the graph is compiled, is {lst.capacity}).",
            )
        return new.replace(length=length)

    return fn


def _lower_pop_back(op):
    def fn(lst, element_shape):
        import jax.numpy as jnp
        from jax import lax

        shape = _shape_from_value(_base.static_ints(element_shape, "element_shape"))
        if isinstance(lst.length, (int, np.integer)) and lst.length <= 0:
            raise errors.InvalidArgumentError(
                None, op, f"{op.name} (TensorListPopBack): trying to pop from an empty list."
            )
        buf = _buffer(op, lst, shape)
        last = lst.length - 1
        if lst.static_item is not None and lst.static_item != EMPTY:
            item = _item_of(lst.static_item)
        else:
            item = lax.dynamic_index_in_dim(buf, jnp.asarray(last, jnp.int32), 0, keepdims=False)
        return lst.replace(buffer=buf, length=last), item

    return fn


def _lower_stack(op):
    n_attr = op._attrs.get("num_elements", -1)

    def fn(lst, element_shape):
        shape = _shape_from_value(_base.static_ints(element_shape, "element_shape"))
        if lst.shapes is not None:
            n = _count(op, lst, n_attr)
            elements = _ragged_elements(op, lst, range(n), shape)
            _read_once(op, lst, np.arange(n))
            return _stacked(op, elements)
        n = _count(op, lst, n_attr)
        if n == 0:
            merged = _merge(shape, lst.element_shape)
            if merged is None or None in merged:
                _fail(op, "Tried to stack elements of an empty list with non-fully-defined "
                          f"element_shape: {_shape_text(merged)}")  # fmt: skip
        buf = _buffer(op, lst, shape, 0)
        _read_written(op, lst, np.arange(n))
        _read_once(op, lst, np.arange(n))
        return buf[:n]

    return fn


def _stacked(op, elements):
    import jax.numpy as jnp

    if not elements:
        raise errors.UnimplementedError(
            None, op, f"{op.name} ({op.type}): stacking no elements of different shapes."
        )
    return jnp.stack(elements)


def _count(op, lst, n_attr=-1):
    """The static number of elements of ``lst`` (a stacked result's leading dimension)."""
    if n_attr is not None and n_attr >= 0:
        if _is_static(lst.length) and int(np.asarray(lst.length)) != n_attr:
            _fail(op, f"Operation expected a list with {n_attr} elements but got a list with "
                      f"{int(np.asarray(lst.length))} elements.")  # fmt: skip
        return n_attr
    if _is_static(lst.length):
        return int(np.asarray(lst.length))
    # Where it comes from small integer feeds (a loop's bound, sequence lengths that end a
    # while_loop), the compiler specializes the step on their values; else this error stands.
    raise errors.NeedsStaticValue(
        f"{op.name} ({op.type}): the number of elements of the list is only known when the "
        "step runs; tfstyle needs it when the graph is compiled (set num_elements)."
    )


def _lower_gather(op):
    def fn(lst, indices, element_shape):
        import jax.numpy as jnp

        shape = _shape_from_value(_base.static_ints(element_shape, "element_shape"))
        if lst.shapes is not None:
            positions = _static_position(op, indices, "indices").reshape(-1).tolist()
            elements = _ragged_elements(op, lst, positions, shape)
            _read_once(op, lst, indices)
            return _stacked(op, elements)
        first = np.asarray(indices).reshape(-1)[:1] if _is_static(indices) else None
        buf = _buffer(op, lst, shape, first[0] if first is not None and first.size else None)
        _read_written(op, lst, indices)
        _read_once(op, lst, indices)
        return _gather_rows()(buf, jnp.asarray(indices, jnp.int32))

    return fn


_GATHER = []


def _gather_rows():
    """``take(buffer, indices, axis=0)`` with TF's gradient of ``TensorListGather``: a scatter
    of the rows' gradients into the list, so an index gathered twice gets one of them (TF sets
    the list's items, it does not add them)."""
    if not _GATHER:
        import jax
        import jax.numpy as jnp

        @jax.custom_vjp
        def gather(buf, idx):
            return jnp.take(buf, idx, axis=0)

        def fwd(buf, idx):
            return jnp.take(buf, idx, axis=0), (idx, jnp.zeros_like(buf))

        def bwd(res, g):
            idx, zeros = res
            return zeros.at[idx].set(g), None

        gather.defvjp(fwd, bwd)
        _GATHER.append(gather)
    return _GATHER[0]


def _lower_scatter_existing(op):
    def fn(lst, tensor, indices):
        import jax.numpy as jnp

        t = jnp.asarray(tensor, lst.element_dtype)
        if lst.shapes is not None:
            idx = _static_position(op, indices, "indices").reshape(-1).tolist()
            new = lst
            for k, i in enumerate(idx):
                new = _with_ragged_item(op, new, i, t[k])
            return _written_once(op, new, indices)
        buf = lst.buffer
        if buf is None:
            buf = jnp.zeros((lst.capacity, *t.shape[1:]), lst.element_dtype)
        buf = buf.at[jnp.asarray(indices, jnp.int32)].set(t)
        new = lst.replace(buffer=buf, element_shape=None, static_item=None)
        return _written_once(op, new, indices)

    return fn


def _lower_concat(op):
    v2 = op.type == "TensorListConcatV2"

    def fn(lst, *rest):
        import jax.numpy as jnp

        shape = None
        if v2:
            shape = _shape_from_value(_base.static_ints(rest[0], "element_shape"))
        if lst.shapes is not None:
            n = _count(op, lst)
            if "_tensor_array" not in op._attrs and None in lst.shapes[:n]:
                _fail(op, f"List contains uninitialized tensor at index "
                          f"{lst.shapes.index(None)} but leading_dims has only 0 elements.")  # fmt: skip
            elements = _ragged_elements(op, lst, range(n), stacked=False)
            _read_once(op, lst, np.arange(n))
            return _ragged_concat(op, elements, shape[1:] if shape else None)
        buf = _buffer(op, lst, shape[1:] if shape else None, 0)
        n = _count(op, lst)
        _read_written(op, lst, np.arange(n))
        _read_once(op, lst, np.arange(n))
        buf = buf[:n]
        if buf.ndim < 2:
            raise errors.InvalidArgumentError(
                None, op, f"{op.name} ({op.type}): concat needs elements of rank at least 1."
            )
        lengths = np.full((n,), buf.shape[1], np.int64)  # static: a split by them (its gradient)
        return jnp.reshape(buf, (n * buf.shape[1], *buf.shape[2:])), lengths

    return fn


def _ragged_concat(op, elements, declared_rest):
    """Elements of different shapes concatenated: TF 1.x's checks for a TensorArray's, TF 2.x's
    (a merge of the shapes but for the first dimension) for a list's."""
    import jax.numpy as jnp

    v1 = "_tensor_array" in op._attrs
    merged = declared_rest
    for k, e in enumerate(elements):
        if e.ndim < 1:
            _fail(op, f"Concat saw a scalar shape at index {k} but requires at least vectors.  "
                      "Did you mean to call TensorArray::Pack instead?")  # fmt: skip
        if not v1:
            merged = _merged_or_fail(op, merged, e.shape[1:])
        elif e.shape[1:] != elements[0].shape[1:]:
            _fail(op, "TensorArray has inconsistent shapes.  Index 0 has (excepting dimension 0) "
                      f"shape: {_shape_text(elements[0].shape[1:])} but index {k} has (excepting "
                      f"dimension 0) shape: {_shape_text(e.shape[1:])}")  # fmt: skip
    lengths = np.asarray([e.shape[0] for e in elements], np.int64)
    return jnp.concatenate(elements), lengths


def _lower_length(op):
    return _length_array


def _lower_resize(op):
    """``TensorListResize``: ``size`` elements, those past the old length zeros (TF's
    uninitialized elements stack as zeros). ``size`` must be known when the graph is compiled;
    the buffer grows to it if needed."""

    def fn(lst, size):
        import jax.numpy as jnp

        n = _static_int(op, size, "size")
        if n < 0:
            raise errors.InvalidArgumentError(
                None, op, f"{op.name} (TensorListResize): size must be non-negative, got {n}."
            )
        lst = _padded(lst, n - lst.capacity)
        buf = lst.buffer
        if buf is not None:
            keep = jnp.arange(buf.shape[0]) < jnp.minimum(_length_array(lst), n)
            buf = jnp.where(keep.reshape((-1,) + (1,) * (buf.ndim - 1)), buf, 0)
        return lst.replace(buffer=buf, length=n, static_item=None)

    return fn


def _lower_element_shape(op):
    np_dt = np.dtype(dtypes.as_dtype(op._attrs["shape_type"]).as_numpy_dtype)

    def fn(lst):
        if lst.buffer is not None:
            return np.asarray(lst.buffer.shape[1:], np_dt)
        if lst.element_shape is None:
            return np.asarray(-1, np_dt)
        return np.asarray([-1 if d is None else d for d in lst.element_shape], np_dt)

    return fn


_register("EmptyTensorList", _handle_rule, _lower_empty)
_register("TensorListReserve", _handle_rule, _lower_reserve)
_register("TensorListFromTensor", _handle_rule, _lower_from_tensor)
_register("TensorListScatter", _handle_rule, _lower_scatter)
_register("TensorListScatterV2", _handle_rule, _lower_scatter)
_register("TensorListSplit", _split_rule, _lower_split)
_register("TensorListGetItem", _item_rule, _lower_get_item)
_register("TensorListSetItem", _handle_rule, _lower_set_item)
_register("TensorListPushBack", _handle_rule, _lower_push_back)
_register("TensorListPopBack", _pop_rule, _lower_pop_back)
_register("TensorListStack", _stack_rule, _lower_stack)
_register("TensorListGather", _gather_rule, _lower_gather)
_register("TensorListScatterIntoExistingList", _handle_rule, _lower_scatter_existing)
_register("TensorListConcat", _concat_rule, _lower_concat)
_register("TensorListConcatV2", _concat_rule, _lower_concat)
_register("TensorListLength", lambda op: [(dtypes.int32, ())], _lower_length)
_register("TensorListResize", _handle_rule, _lower_resize)
_register("TensorListElementShape", _element_shape_rule, _lower_element_shape)

# TF's TensorListSplit takes three inputs; one imported from TF 1.x's TensorArraySplitV3 also
# takes the list it splits into and the indices written to it before, which its lowering checks
# (``_check_tensor_array_split``).
registry.get("TensorListSplit").num_tf_inputs = 3
# One imported from TF 1.x's TensorArrayV3 also takes whether its reads clear the elements.
registry.get("TensorListReserve").num_tf_inputs = 2


# -- constructors (TF's ``list_ops`` module) ---------------------------------------------------
def _shape_arg(element_shape):
    """An ``element_shape`` argument as TF passes it: a tensor as is, else an int32 array
    (``-1`` for an unknown rank or dimension), converted inside the op's name scope."""
    if isinstance(element_shape, ops.Tensor):
        return element_shape
    if element_shape is None:
        return np.int32(-1)
    if isinstance(element_shape, (list, tuple)):
        return np.asarray([-1 if d is None else int(d) for d in element_shape], np.int32)
    from tfstyle.framework import tensor_shape

    shape = tensor_shape.as_shape(element_shape)
    if shape.ndims is None:
        return np.int32(-1)
    return np.asarray([-1 if d is None else d for d in shape.as_list()], np.int32)


def _int_arg(value, dtype=np.int32):
    if isinstance(value, ops.Tensor):
        return value
    return np.asarray(value, dtype)


def _make(op_type, inputs, attrs, name):
    """Op ``op_type`` named as TF's generated wrappers name it: ``inputs`` are ``(arg name,
    value)`` pairs; values that are not tensors become constants named after their argument
    inside the op's name scope (``TensorListSetItem/index``)."""
    tensors = [v for _, v in inputs if isinstance(v, ops.Tensor)]
    with ops.name_scope(name, op_type, tensors) as scope:
        inputs = [_base.to_tensor(v, name=arg) for arg, v in inputs]
        return _base.make_op(op_type, inputs, attrs, name=scope)._outputs


def _shape_type(es):
    return es.dtype if isinstance(es, ops.Tensor) else dtypes.as_dtype(np.asarray(es).dtype)


def empty_tensor_list(element_shape, element_dtype, max_num_elements=None, name=None):
    n = -1 if max_num_elements is None else max_num_elements
    es = _shape_arg(element_shape)
    attrs = {"element_dtype": dtypes.as_dtype(element_dtype), "shape_type": _shape_type(es)}
    inputs = [("element_shape", es), ("max_num_elements", _int_arg(n))]
    return _make("EmptyTensorList", inputs, attrs, name)[0]


def tensor_list_reserve(element_shape, num_elements, element_dtype, name=None):
    es = _shape_arg(element_shape)
    attrs = {"element_dtype": dtypes.as_dtype(element_dtype), "shape_type": _shape_type(es)}
    inputs = [("element_shape", es), ("num_elements", _int_arg(num_elements))]
    return _make("TensorListReserve", inputs, attrs, name)[0]


def tensor_list_from_tensor(tensor, element_shape, name=None):
    tensor = _base.to_tensor(tensor)
    es = _shape_arg(element_shape)
    attrs = {"element_dtype": tensor.dtype, "shape_type": _shape_type(es)}
    return _make("TensorListFromTensor", [("tensor", tensor), ("element_shape", es)], attrs,
                 name)[0]  # fmt: skip


def tensor_list_get_item(input_handle, index, element_dtype, element_shape=None, name=None):
    attrs = {"element_dtype": dtypes.as_dtype(element_dtype)}
    inputs = [("input_handle", input_handle), ("index", _int_arg(index)),
              ("element_shape", _shape_arg(element_shape))]  # fmt: skip
    return _make("TensorListGetItem", inputs, attrs, name)[0]


def tensor_list_set_item(input_handle, index, item, resize_if_index_out_of_bounds=False,
                         name=None):  # fmt: skip
    item = _base.to_tensor(item)
    attrs = {"element_dtype": item.dtype,
             "resize_if_index_out_of_bounds": bool(resize_if_index_out_of_bounds)}  # fmt: skip
    inputs = [("input_handle", input_handle), ("index", _int_arg(index)), ("item", item)]
    return _make("TensorListSetItem", inputs, attrs, name)[0]


def tensor_list_stack(input_handle, element_dtype, num_elements=-1, element_shape=None,
                      name=None):  # fmt: skip
    attrs = {"element_dtype": dtypes.as_dtype(element_dtype), "num_elements": num_elements}
    inputs = [("input_handle", input_handle), ("element_shape", _shape_arg(element_shape))]
    return _make("TensorListStack", inputs, attrs, name)[0]


def tensor_list_push_back(input_handle, tensor, name=None):
    tensor = _base.to_tensor(tensor)
    return _make("TensorListPushBack", [("input_handle", input_handle), ("tensor", tensor)],
                 {"element_dtype": tensor.dtype}, name)[0]  # fmt: skip


def tensor_list_pop_back(input_handle, element_dtype, element_shape=None, name=None):
    inputs = [("input_handle", input_handle), ("element_shape", _shape_arg(element_shape))]
    out = _make("TensorListPopBack", inputs, {"element_dtype": dtypes.as_dtype(element_dtype)},
                name)  # fmt: skip
    return out[0], out[1]


def tensor_list_length(input_handle, name=None):
    return _make("TensorListLength", [("input_handle", input_handle)], {}, name)[0]


def tensor_list_element_shape(input_handle, shape_type, name=None):
    attrs = {"shape_type": dtypes.as_dtype(shape_type)}
    return _make("TensorListElementShape", [("input_handle", input_handle)], attrs, name)[0]


def tensor_list_gather(input_handle, indices, element_dtype, element_shape=None, name=None):
    attrs = {"element_dtype": dtypes.as_dtype(element_dtype)}
    inputs = [("input_handle", input_handle), ("indices", _int_arg(indices)),
              ("element_shape", _shape_arg(element_shape))]  # fmt: skip
    return _make("TensorListGather", inputs, attrs, name)[0]


def tensor_list_scatter(tensor, indices, element_shape=None, input_handle=None, name=None):
    """``TensorListScatterV2`` of ``tensor``'s rows, or with ``input_handle`` the rows written
    into that list (``TensorListScatterIntoExistingList``)."""
    tensor = _base.to_tensor(tensor)
    if input_handle is not None:
        inputs = [("input_handle", input_handle), ("tensor", tensor),
                  ("indices", _int_arg(indices))]  # fmt: skip
        attrs = {"element_dtype": tensor.dtype}
        return _make("TensorListScatterIntoExistingList", inputs, attrs, name)[0]
    es = _shape_arg(element_shape)
    attrs = {"element_dtype": tensor.dtype, "shape_type": _shape_type(es)}
    inputs = [("tensor", tensor), ("indices", _int_arg(indices)), ("element_shape", es),
              ("num_elements", np.int32(-1))]  # fmt: skip
    return _make("TensorListScatterV2", inputs, attrs, name)[0]


def tensor_list_concat(input_handle, element_dtype, element_shape=None, name=None):
    leading = _base.to_tensor(np.zeros([0], np.int64))  # TF makes it outside the op's scope
    es = _shape_arg(element_shape)
    attrs = {"element_dtype": dtypes.as_dtype(element_dtype), "shape_type": _shape_type(es)}
    inputs = [("input_handle", input_handle), ("element_shape", es), ("leading_dims", leading)]
    return _make("TensorListConcatV2", inputs, attrs, name)[0]


def tensor_list_split(tensor, element_shape, lengths, name=None):
    tensor = _base.to_tensor(tensor)
    es = _shape_arg(element_shape)
    attrs = {"element_dtype": tensor.dtype, "shape_type": _shape_type(es)}
    inputs = [("tensor", tensor), ("element_shape", es),
              ("lengths", _int_arg(lengths, np.int64))]  # fmt: skip
    return _make("TensorListSplit", inputs, attrs, name)[0]
