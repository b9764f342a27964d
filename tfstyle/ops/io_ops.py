"""The checkpoint ops of TF's ``Saver`` graph: ``SaveV2``, ``RestoreV2``,
``MergeV2Checkpoints``, ``ShardedFilename`` and ``ShardedFilespec``.

Files are read and written in Python, outside the compiled function (``on_host`` in the
registry): ``RestoreV2`` runs before it and the run is fed the values it read, so the
``AssignVariableOp``s of ``save/restore_all`` assign them, and a failed read changes nothing;
``SaveV2`` and ``MergeV2Checkpoints`` run after it, on the values the run computed. The file
format, checks and atomic writes are ``tensor_bundle``'s, the same that ``Saver.save`` and
``Saver.restore`` use directly.
"""

import os

import numpy as np

from tfstyle.compiler.lowering import HostValue
from tfstyle.framework import dtypes, errors, ops, registry
from tfstyle.train import tensor_bundle

from . import _base

_dtypes = dtypes  # RestoreV2's argument ``dtypes`` shadows the module in restore_v2


# -- values on the host ------------------------------------------------------------------------
def _text(value):
    """A scalar string value (bytes in an object array) as ``str``."""
    v = np.asarray(value, dtype=object).reshape(-1)
    if v.size != 1:
        raise ValueError(f"expected a scalar string, got shape {np.shape(value)}")
    s = v[0]
    return s.decode("utf-8", "surrogateescape") if isinstance(s, bytes) else str(s)


def _texts(value):
    return [
        s.decode("utf-8", "surrogateescape") if isinstance(s, bytes) else str(s)
        for s in np.asarray(value, dtype=object).reshape(-1)
    ]


def host_array(value):
    """What the bundle writer saves of a value: on the CPU a NumPy view of the buffer (DLPack;
    ``np.asarray`` would cache a copy inside the array for as long as it lives, doubling the
    memory of every saved variable); elsewhere (a GPU) a :class:`DeviceBytes` stream."""
    if isinstance(value, np.ndarray):
        return value
    try:
        return np.from_dlpack(value)
    except (TypeError, ValueError, RuntimeError, BufferError):
        return DeviceBytes(value)


class DeviceBytes:
    """A device array's bytes, copied to the host a slice at a time as they are written, so the
    host never holds a whole variable. Measured on a GPU: copying each variable whole made a
    save's peak 1.28x the variables' size, however the copy was made (the transfer's staging
    buffers add to the host copy), against the target of 1.2x."""

    def __init__(self, value):
        self.value = value
        self.shape = tuple(value.shape)
        self.dtype = np.dtype(value.dtype)

    def host_chunks(self, nbytes):
        """Yields the C-order bytes as ``uint8`` arrays of about ``nbytes`` each; the next
        slice's copy is started before the current one is handed out."""
        flat = self.value.reshape(-1)
        total = flat.shape[0]
        per = max(1, nbytes // self.dtype.itemsize)
        if total <= per:
            # A new array on the same buffer: the host copy it caches is dropped with it (a
            # reshape to the same shape may return the variable's own array).
            whole = flat.addressable_data(0) if len(flat.devices()) == 1 else flat
            yield np.asarray(whole).view(np.uint8)
            return
        # One compiled slice of a fixed size; the last one starts early and its overlap with
        # the one before is skipped.
        starts = list(range(0, total - per, per)) + [total - per]
        done = 0

        def fetch(start):
            piece = _device_slice(flat, np.int32(start), per)
            piece.copy_to_host_async()
            return start, piece

        pending = fetch(starts[0])
        for later in starts[1:] + [None]:
            following = fetch(later) if later is not None else None
            start, piece = pending
            chunk = np.asarray(piece).view(np.uint8)
            yield chunk[(done - start) * self.dtype.itemsize :]
            done = start + per
            del piece, chunk
            pending = following


def _device_slice(flat, start, size):
    global _device_slice_fn
    if _device_slice_fn is None:
        import jax

        _device_slice_fn = jax.jit(
            lambda x, i, n: jax.lax.dynamic_slice(x, (i,), (n,)), static_argnums=2
        )
    return _device_slice_fn(flat, start, size)


_device_slice_fn = None


def _op_error(cls, op, message):
    if op is None:
        return cls(None, None, message)
    return cls(None, op, f"{message}\n\t [[{{{{node {op.name}}}}}]]")


def tf_dtype_name(dtype):
    """TF's kernels name dtypes by their C++ names in their messages."""
    return {"float32": "float", "float64": "double", "float16": "half"}.get(dtype.name, dtype.name)


def _stored_dtype(np_dtype):
    return dtypes.string if np_dtype.kind == "O" else dtypes.as_dtype(np_dtype)


# -- saving ------------------------------------------------------------------------------------
def save_tensors(prefix, values, op=None):
    """Writes ``values`` (checkpoint name -> array, device arrays allowed) as the V2 checkpoint
    ``prefix`` (``SaveV2``'s and ``Saver.save``'s one writer). As TF's bundle writer, it creates
    the prefix's directory but not its parents: a missing parent raises ``NotFoundError``."""
    directory = os.path.dirname(prefix)
    if directory and not os.path.isdir(directory):
        try:
            os.mkdir(directory)
        except FileExistsError:
            pass
        except FileNotFoundError:
            raise _op_error(
                errors.NotFoundError, op, f"{directory}; No such file or directory"
            ) from None
        except NotADirectoryError:
            raise _op_error(
                errors.FailedPreconditionError, op, f"{directory}; Not a directory"
            ) from None
    try:
        tensor_bundle.write_bundle(prefix, values, host=host_array)
    except NotADirectoryError:
        raise _op_error(errors.FailedPreconditionError, op, f"{prefix}; Not a directory") from None
    except PermissionError as e:
        raise _op_error(errors.PermissionDeniedError, op, f"{prefix}; {e.strerror}") from None


def _save_lower(op):
    def save(prefix, tensor_names, shape_and_slices, *tensors):
        names = _texts(tensor_names)
        slices = _texts(shape_and_slices)
        if len(names) != len(tensors) or len(slices) != len(tensors):
            raise _op_error(
                errors.InvalidArgumentError,
                op,
                f"Expected {len(tensors)} tensor names and slice specs, got {len(names)} and "
                f"{len(slices)}",
            )
        values = {}
        for name, spec, value in zip(names, slices, tensors):
            if not spec:
                if name in values:
                    raise _op_error(
                        errors.InvalidArgumentError, op, f"Adding duplicate key: {name}"
                    )
                values[name] = value
                continue
            # A slice of tensor ``name`` (a part of a partitioned variable).
            try:
                full, extents = parse_extents(name, spec)
            except errors.InvalidArgumentError as e:
                raise _op_error(errors.InvalidArgumentError, op, e.message) from None
            slice_shape = tuple(n if k < 0 else k for n, (_, k) in zip(full, extents))
            if tuple(np.shape(value)) != slice_shape:
                raise _op_error(
                    errors.InvalidArgumentError,
                    op,
                    "Slice in shape_and_slice specification does not match the shape of the "
                    f"tensor to  save: {spec}, tensor: {list(np.shape(value))}",
                )
            found = values.setdefault(name, tensor_bundle.Sliced(full, []))
            if not isinstance(found, tensor_bundle.Sliced) or tuple(found.full_shape) != full:
                raise _op_error(errors.InvalidArgumentError, op, f"Adding duplicate key: {name}")
            found.pieces.append((extents, value))
        try:
            save_tensors(_text(prefix), values, op)
        except errors.OpError as e:
            if e.op is not None:
                raise
            raise _op_error(type(e), op, e.message) from None

    return save


def _save_infer(op):
    n = len(op._inputs) - 3
    for t, what in ((op._inputs[0], None), (op._inputs[1], n), (op._inputs[2], n)):
        d = _base.dims(t)
        if d is None:
            continue
        if what is None and d != ():
            raise ValueError(f"Shape must be rank 0 but is rank {len(d)} for '{op.name}'")
        if what is not None and (len(d) != 1 or d[0] not in (None, what)):
            raise ValueError(
                f"Dimension must be {what} but is {d[0] if len(d) == 1 else d} for "
                f"'{{{{node {op.name}}}}}'"
            )
    return []


registry.register_op("SaveV2", _save_infer)
registry.lowering("SaveV2", on_host=True)(_save_lower)


def save_v2(prefix, tensor_names, shape_and_slices, tensors, name=None):
    """``tf.raw_ops.SaveV2``: writes ``tensors`` under ``tensor_names`` to checkpoint
    ``prefix``."""
    with ops.name_scope(name, "SaveV2") as scope:
        prefix = _base.to_tensor(prefix, dtypes.string, name="prefix")
        names = _base.to_tensor(tensor_names, dtypes.string, name="tensor_names")
        slices = _base.to_tensor(shape_and_slices, dtypes.string, name="shape_and_slices")
        ts = [_base.to_tensor(t) for t in tensors]
        return _base.make_op(
            "SaveV2", [prefix, names, slices, *ts], {"dtypes": [t.dtype for t in ts]}, name=scope
        )


# -- restoring ---------------------------------------------------------------------------------
def parse_extents(name, spec):
    """``"4 3 0,2:-"`` -> ``((4, 3), ((0, 2), (0, -1)))``: the full shape and the slice's
    ``(start, length)`` per axis (length -1: the whole axis)."""
    parts = spec.split()
    try:
        full = tuple(int(p) for p in parts[:-1])
        texts = parts[-1].split(":")
        if len(texts) != len(full):
            raise ValueError
        extents = []
        for extent, size in zip(texts, full):
            if extent == "-":
                extents.append((0, -1))
                continue
            start, length = (int(x) for x in extent.split(","))
            if start < 0 or length < 0 or start + length > size:
                raise ValueError
            extents.append((start, length))
    except ValueError:
        raise errors.InvalidArgumentError(
            None, None, f"Invalid shape_and_slice spec {spec!r} of tensor {name}"
        ) from None
    return full, tuple(extents)


def _parse_slice_spec(name, spec):
    """``"4 3 0,2:-"`` -> ``((4, 3), index)``: the full shape and the slice to take."""
    full, extents = parse_extents(name, spec)
    index = tuple(slice(None) if n < 0 else slice(s, s + n) for s, n in extents)
    return full, index


def check_restorable(reader, name, dtype, spec="", op=None):
    """Checks that ``reader``'s checkpoint holds ``name`` with ``dtype`` (and the full shape of
    ``spec``) as ``RestoreV2`` does; returns the slice to take of it, or None."""
    if name not in reader:
        raise _op_error(errors.NotFoundError, op, f"Key {name} not found in checkpoint")
    np_dtype, shape = reader.dtype_and_shape(name)
    stored = _stored_dtype(np_dtype)
    if stored != dtype:
        raise _op_error(
            errors.InvalidArgumentError,
            op,
            f"tensor_name = {name}; expected dtype {tf_dtype_name(dtype)} does not equal "
            f"original dtype {tf_dtype_name(stored)}",
        )
    if not spec:
        return None
    full, index = _parse_slice_spec(name, spec)
    if full != tuple(shape):
        raise _op_error(
            errors.InvalidArgumentError,
            op,
            f"tensor_name = {name}; shape in shape_and_slice spec {list(full)} does not match "
            f"the shape stored in checkpoint: {list(shape)}",
        )
    return index


def restore_tensors(prefix, names, specs, dtype_list, op=None):
    """``RestoreV2``: the tensors ``names`` of checkpoint ``prefix`` as NumPy arrays; every
    name, dtype and slice is checked before any data is read."""
    reader = tensor_bundle.BundleReader(prefix)
    index = [check_restorable(reader, n, d, s, op) for n, d, s in zip(names, dtype_list, specs)]
    out = []
    for name, sl in zip(names, index):
        value = reader.read(name)
        out.append(value if sl is None else np.ascontiguousarray(value[sl]))
    return out


def _restore_lower(op):
    dtype_list = op._attrs["dtypes"]

    def restore(prefix, tensor_names, shape_and_slices):
        names = _texts(tensor_names)
        specs = _texts(shape_and_slices)
        if len(names) != len(dtype_list) or len(specs) != len(dtype_list):
            raise _op_error(
                errors.InvalidArgumentError,
                op,
                f"Expected {len(dtype_list)} tensor names and slice specs, got {len(names)} and "
                f"{len(specs)}",
            )
        try:
            values = restore_tensors(_text(prefix), names, specs, dtype_list, op)
        except errors.OpError as e:
            if e.op is not None:
                raise
            raise _op_error(type(e), op, e.message) from None
        return values[0] if len(values) == 1 else tuple(values)

    return restore


def _restore_infer(op):
    return [(dt, None) for dt in op._attrs["dtypes"]]


registry.register_op("RestoreV2", _restore_infer)
registry.lowering("RestoreV2", on_host=True)(_restore_lower)


def restore_v2(prefix, tensor_names, shape_and_slices, dtypes, name=None):  # noqa: A002
    """``tf.raw_ops.RestoreV2``: the tensors ``tensor_names`` read from checkpoint ``prefix``."""
    with ops.name_scope(name, "RestoreV2") as scope:
        prefix = _base.to_tensor(prefix, _dtypes.string, name="prefix")
        names = _base.to_tensor(tensor_names, _dtypes.string, name="tensor_names")
        slices = _base.to_tensor(shape_and_slices, _dtypes.string, name="shape_and_slices")
        dts = [_dtypes.as_dtype(d) for d in dtypes]
        return _base.make_op("RestoreV2", [prefix, names, slices], {"dtypes": dts}, name=scope)


# -- merging shards ------------------------------------------------------------------------------
def _merge_lower(op):
    delete_old_dirs = op._attrs.get("delete_old_dirs", True)
    allow_missing = op._attrs.get("allow_missing_files", False)

    def merge(checkpoint_prefixes, destination_prefix):
        try:
            tensor_bundle.merge_bundles(
                _texts(checkpoint_prefixes),
                _text(destination_prefix),
                delete_old_dirs=delete_old_dirs,
                allow_missing_files=allow_missing,
            )
        except errors.OpError as e:
            raise _op_error(type(e), op, e.message) from None

    return merge


registry.register_op("MergeV2Checkpoints", lambda op: [])
registry.lowering("MergeV2Checkpoints", on_host=True)(_merge_lower)


def merge_v2_checkpoints(
    checkpoint_prefixes,
    destination_prefix,
    delete_old_dirs=True,
    allow_missing_files=False,
    name=None,
):
    """``tf.raw_ops.MergeV2Checkpoints``: merges the checkpoints ``checkpoint_prefixes`` into
    one at ``destination_prefix`` (their data files become its shards)."""
    with ops.name_scope(name, "MergeV2Checkpoints") as scope:
        prefixes = _base.to_tensor(checkpoint_prefixes, dtypes.string, name="checkpoint_prefixes")
        dest = _base.to_tensor(destination_prefix, dtypes.string, name="destination_prefix")
        return _base.make_op(
            "MergeV2Checkpoints",
            [prefixes, dest],
            {"delete_old_dirs": delete_old_dirs, "allow_missing_files": allow_missing_files},
            name=scope,
        )


# -- shard file names (string ops, computed on the host like the others) -----------------------
def _as_host(x):
    return x if isinstance(x, HostValue) else HostValue(lambda a: a, x)


def _sharded_filename(basename, shard, num_shards):
    return np.array(b"%s-%05d-of-%05d" % (_text(basename).encode(), shard, num_shards), object)


def _sharded_filespec(basename, num_shards):
    return np.array(b"%s-?????-of-%05d" % (_text(basename).encode(), num_shards), object)


def _string_lower(fn):
    def make(op):
        def lower(*inputs):
            return HostValue.combine(
                lambda *vals: fn(vals[0], *(int(np.asarray(v)) for v in vals[1:])),
                *map(_as_host, inputs),
            )

        return lower

    return make


_base.register_simple(
    "ShardedFilename", lambda op: [(dtypes.string, ())], _string_lower(_sharded_filename)
)
_base.register_simple(
    "ShardedFilespec", lambda op: [(dtypes.string, ())], _string_lower(_sharded_filespec)
)


def sharded_filename(basename, shard, num_shards, name=None):
    """``"<basename>-<shard>-of-<num_shards>"`` with five-digit numbers (``ShardedFilename``)."""
    with ops.name_scope(name, "ShardedFilename") as scope:
        basename = _base.to_tensor(basename, dtypes.string, name="basename")
        shard = _base.to_tensor(shard, dtypes.int32, name="shard")
        num_shards = _base.to_tensor(num_shards, dtypes.int32, name="num_shards")
        return _base.output("ShardedFilename", [basename, shard, num_shards], {}, name=scope)


def sharded_filespec(basename, num_shards, name=None):
    """The glob of all shards of ``basename``: ``"<basename>-?????-of-<num_shards>"``."""
    with ops.name_scope(name, "ShardedFilespec") as scope:
        basename = _base.to_tensor(basename, dtypes.string, name="basename")
        num_shards = _base.to_tensor(num_shards, dtypes.int32, name="num_shards")
        return _base.output("ShardedFilespec", [basename, num_shards], {}, name=scope)
