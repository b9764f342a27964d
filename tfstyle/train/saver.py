"""``tf.train.Saver`` and the checkpoint utilities, on TF's own V2 checkpoint files.

A ``Saver`` adds TF's ``save/...`` ops to the graph (``SaveV2``, ``RestoreV2``,
``save/restore_all``, and for ``sharded=True`` TF's shard naming and ``MergeV2Checkpoints``) and
describes them in its ``SaverDef``: running them with ``sess.run`` saves and restores, and the
``.meta`` files it writes work with real TF. ``save()`` and ``restore()`` move the values
between the session's state and the files directly instead (no graph run, no copy of the
values through a compiled function), with the same writer and checks as the ops
(``tfstyle.ops.io_ops``). A restore validates every variable's name, dtype and shape against
the checkpoint and reads every value before the session's state changes: a failed restore
leaves the state as it was.
"""

import glob
import numbers
import os
import re
import time

import numpy as np
from google.protobuf import text_encoding
from tensorboard.compat.proto import saver_pb2

from tfstyle.framework import dtypes, errors, graph_io, ops
from tfstyle.framework import tensor_shape as _shape
from tfstyle.ops import io_ops
from tfstyle.platform import tf_logging as logging

from . import tensor_bundle


def _var_list_to_dict(var_list):
    """``{checkpoint name: variable or list of parts}`` from a list (named by op, the parts of a
    partitioned variable by its name) or a dict of variables."""
    from tfstyle.ops.variables import PartitionedVariable

    if isinstance(var_list, dict):
        out = {}
        for name, var in var_list.items():
            if not isinstance(name, str):
                raise TypeError(f"Checkpoint names must be strings, got {name!r}")
            if isinstance(var, PartitionedVariable):
                var = list(var)
            for v in var if isinstance(var, (list, tuple)) else [var]:
                _check_variable(v)
            out[name] = list(var) if isinstance(var, (list, tuple)) else var
        return out
    out = {}
    # Sorted by name as TF does: the order of the parts of one variable in the checkpoint.
    for var in sorted(var_list, key=lambda v: v.name):
        if isinstance(var, PartitionedVariable):
            if var.name in out:
                raise ValueError(f"At least two variables have the same name: {var.name}")
            out[var.name] = list(var)
            continue
        _check_variable(var)
        info = getattr(var, "_save_slice_info", None)
        if info is not None:
            found = out.setdefault(info.full_name, [])
            if not isinstance(found, list):
                raise ValueError(
                    f"Mixing slices and non-slices with the same name: {info.full_name}"
                )
            found.append(var)
            continue
        name = var.op.name
        if name in out:
            raise ValueError(f"At least two variables have the same name: {name}")
        out[name] = var
    return out


def _check_variable(var):
    if not (hasattr(var, "handle") and hasattr(var, "initializer")):
        raise TypeError(
            f"Variable to save is not a Variable: {var!r}. tfstyle's Saver saves variables."
        )


class _Entry:
    """One saved variable: its checkpoint name, state key, dtype, shape and handle; for a part of
    a partitioned variable the slice ``spec`` of the checkpoint tensor it is (``""``: all)."""

    __slots__ = ("name", "key", "dtype", "shape", "handle", "spec", "var")

    def __init__(self, name, key, dtype, shape, handle, spec="", var=None):
        self.name = name
        self.key = key
        self.dtype = dtype
        self.shape = shape
        self.handle = handle
        self.spec = spec
        self.var = var


def _entries(named):
    """The ``_Entry`` of each variable and part, sorted by checkpoint name as TF saves them."""
    out = []
    for name, var in sorted(named.items()):
        if not isinstance(var, list):
            out.append(
                _Entry(
                    name, ops.variable_key(var.handle.op), var.dtype, var.shape, var.handle, var=var
                )
            )
            continue
        full_name = None
        for part in var:
            info = getattr(part, "_save_slice_info", None)
            if info is None:
                raise ValueError(f"Slices must all be slices: {part}")
            # The parts may be saved under another name, but must be of one variable.
            if full_name is None:
                full_name = info.full_name
            elif full_name != info.full_name:
                raise ValueError(
                    f"Slices must all be from the same tensor: {full_name} != {info.full_name}"
                )
            key = ops.variable_key(part.handle.op)
            out.append(_Entry(name, key, part.dtype, part.shape, part.handle, info.spec, part))
    return out


def _restore_failed(cls, message, missing):
    what = (
        "a Variable name or other graph key that is missing from the checkpoint"
        if missing
        else "a mismatch between the current graph and the graph from the checkpoint"
    )
    return cls(
        None,
        None,
        f"Restoring from checkpoint failed. This is most likely due to {what}. Please ensure "
        "that you have not altered the graph expected based on the checkpoint. Original "
        f"error:\n\n{message}",
    )


class Saver:
    """Saves and restores variables: ``tf.train.Saver(var_list=None, max_to_keep=5, ...)``.

    ``var_list`` is a list of variables (saved under their op names) or a dict from checkpoint
    names to variables; by default every global variable that exists when the Saver is built.
    """

    def __init__(
        self,
        var_list=None,
        reshape=False,
        sharded=False,
        max_to_keep=5,
        keep_checkpoint_every_n_hours=10000.0,
        name=None,
        restore_sequentially=False,
        saver_def=None,
        builder=None,
        defer_build=False,
        allow_empty=False,
        write_version=saver_pb2.SaverDef.V2,
        pad_step_number=False,
        save_relative_paths=False,
        filename=None,
    ):
        if defer_build and var_list:
            raise ValueError(
                "If `var_list` is provided then build cannot be deferred. Either set "
                "defer_build=False or var_list=None."
            )
        self._var_list = var_list
        self._reshape = reshape
        self._sharded = sharded
        self._max_to_keep = max_to_keep
        self._keep_checkpoint_every_n_hours = keep_checkpoint_every_n_hours
        self._name = name
        self._restore_sequentially = restore_sequentially
        self.saver_def = saver_def
        self._allow_empty = allow_empty
        self._write_version = write_version
        self._pad_step_number = pad_step_number
        self._save_relative_paths = save_relative_paths
        self._filename = filename
        self._is_built = False
        self._is_empty = None
        self._entries = []
        self._graph = ops.get_default_graph()
        self._last_checkpoints = []
        self._checkpoints_to_be_deleted = []
        self._next_checkpoint_time = time.time() + keep_checkpoint_every_n_hours * 3600
        if saver_def is not None:
            self._entries_from_saver_def(saver_def)
            self._is_built = True
            self._is_empty = False
        elif not defer_build:
            self.build()

    # -- building ----------------------------------------------------------------------------
    def build(self):
        """Fixes the variables to save and adds the save/restore ops (done by the constructor
        unless ``defer_build``)."""
        if self._is_built:
            return
        self._is_built = True
        var_list = self._var_list
        if var_list is None:
            var_list = self._graph.get_collection(ops.GraphKeys.GLOBAL_VARIABLES)
        named = _var_list_to_dict(var_list)
        if not named:
            if self._allow_empty:
                self._is_empty = True
                return
            raise ValueError("No variables to save")
        self._is_empty = False
        self._entries = _entries(named)
        graph = self._entries[0].handle.graph
        self._graph = graph
        with graph.as_default():
            self.saver_def = self._add_ops()

    def _reads(self):
        """What SaveV2 saves: a variable's read; for a part, a new read (in ``save/Read_<i>``,
        after ``DisableCopyOnRead``, through two ``Identity`` ops, as TF's saver reads slices)."""
        from tfstyle.ops import _base
        from tfstyle.ops.array_ops import identity
        from tfstyle.ops.variables import _read

        reads = []
        for e in self._entries:
            if not e.spec:
                reads.append(e.var._as_graph_element())
                continue
            with ops.name_scope("Read"):
                _base.make_op("DisableCopyOnRead", [e.handle], {}, name="DisableCopyOnRead")
                value = _read(e.handle, e.dtype, e.shape, "ReadVariableOp")
            reads.append(identity(identity(value)))
        return reads

    def _add_ops(self):
        """TF's Saver graph, op for op (names included), sharded or not."""
        from tfstyle.ops import _base
        from tfstyle.ops.array_ops import identity, placeholder_with_default, stack
        from tfstyle.ops.constant_op import constant
        from tfstyle.ops.control_flow_ops import group, with_dependencies
        from tfstyle.ops.math_ops import where
        from tfstyle.ops.string_ops import regex_full_match, string_join

        names = [e.name for e in self._entries]
        slices = [e.spec for e in self._entries]
        dts = [e.dtype for e in self._entries]
        with ops.control_dependencies(None), ops.name_scope(self._name, "save"):
            filename = placeholder_with_default(self._filename or "model", (), name="filename")
            filename = placeholder_with_default(filename, (), name="Const")
            reads = self._reads()
            if self._sharded:
                # Shards are written under "<prefix>_temp/part" (".part" on S3), then merged.
                suffix = where(
                    regex_full_match(filename, "^s3://.*"),
                    constant(".part"),
                    constant("_temp/part"),
                )
                temp = string_join([filename, suffix])
                num_shards = constant(1, name="num_shards")
                shard_file = io_ops.sharded_filename(temp, 0, num_shards)
                save_op = io_ops.save_v2(shard_file, names, slices, reads)
                shard_done = with_dependencies([save_op], shard_file)
                with ops.name_scope("MergeV2Checkpoints") as sc:
                    with ops.control_dependencies([shard_done]):
                        prefixes = stack([shard_file], name="checkpoint_prefixes")
                    merge = io_ops.merge_v2_checkpoints(prefixes, filename, name=sc)
                with ops.control_dependencies([merge, shard_done.op]):
                    save_tensor = identity(filename)
            else:
                save_op = io_ops.save_v2(filename, names, slices, reads)
                save_tensor = with_dependencies([save_op], filename)
            restore = io_ops.restore_v2(filename, names, slices, dts)
            assigns = []
            for e, t in zip(self._entries, restore.outputs):
                value = identity(t)
                assigns.append(
                    _base.make_op(
                        "AssignVariableOp",
                        [e.handle, value],
                        {"dtype": e.dtype, "validate_shape": False},
                        name="AssignVariableOp",
                    )
                )
            if self._sharded:
                restore_op = group(group(*assigns, name="restore_shard"), name="restore_all")
            else:
                restore_op = group(*assigns, name="restore_all")
        return saver_pb2.SaverDef(
            filename_tensor_name=filename.name,
            save_tensor_name=save_tensor.name,
            restore_op_name=restore_op.name,
            max_to_keep=self._max_to_keep or 0,
            sharded=bool(self._sharded),
            keep_checkpoint_every_n_hours=self._keep_checkpoint_every_n_hours,
            version=self._write_version,
        )

    def _entries_from_saver_def(self, saver_def):
        """Recovers which variable each checkpoint name restores from the graph's restore op
        (``AssignVariableOp(handle, Identity(RestoreV2:i))`` under ``restore_op_name``)."""
        graph = self._graph
        prefix = self._name.rstrip("/") + "/" if self._name else ""
        try:
            restore_op = graph.as_graph_element(prefix + saver_def.restore_op_name)
        except (KeyError, ValueError) as e:
            raise ValueError(f"The SaverDef's restore op is not in the graph: {e}") from None
        self.saver_def = saver_pb2.SaverDef()
        self.saver_def.CopyFrom(saver_def)
        for field in ("filename_tensor_name", "save_tensor_name", "restore_op_name"):
            setattr(self.saver_def, field, prefix + getattr(saver_def, field))
        self._max_to_keep = saver_def.max_to_keep
        self._keep_checkpoint_every_n_hours = saver_def.keep_checkpoint_every_n_hours
        self._sharded = saver_def.sharded
        entries, seen, stack = [], set(), [restore_op]
        while stack:
            op = stack.pop()
            if op in seen:
                continue
            seen.add(op)
            if op.type == "AssignVariableOp" and len(op._inputs) == 2:
                source = op._inputs[1]
                while source.op.type == "Identity":
                    source = source.op._inputs[0]
                if source.op.type != "RestoreV2":
                    continue
                names = source.op._inputs[1].op.get_attr("value")
                specs = source.op._inputs[2].op.get_attr("value")
                i = source.value_index
                handle = op._inputs[0]
                handle_op = handle.op
                entries.append(
                    _Entry(
                        graph_io._decode_s(bytes(names[i])),
                        ops.variable_key(handle_op),
                        handle_op.get_attr("dtype"),
                        _shape.as_shape(handle_op.get_attr("shape")),
                        handle,
                        graph_io._decode_s(bytes(specs[i])),
                    )
                )
                continue
            stack.extend(reversed(op.control_inputs))
            stack.extend(reversed([t.op for t in op._inputs]))
        self._entries = sorted(entries, key=lambda e: e.name)  # stable: parts stay in order

    # -- checkpoint bookkeeping --------------------------------------------------------------
    @property
    def last_checkpoints(self):
        """The prefixes of the checkpoints not yet deleted, oldest first."""
        return [p for p, _ in self._last_checkpoints]

    def set_last_checkpoints(self, last_checkpoints):
        if not isinstance(last_checkpoints, list):
            raise TypeError("last_checkpoints must be a list.")
        self._last_checkpoints = [(p, None) for p in last_checkpoints]

    def set_last_checkpoints_with_time(self, last_checkpoints_with_time):
        if not isinstance(last_checkpoints_with_time, list):
            raise TypeError("last_checkpoints_with_time must be a list.")
        self._last_checkpoints = list(last_checkpoints_with_time)

    def recover_last_checkpoints(self, checkpoint_paths):
        """Takes over ``checkpoint_paths`` (e.g. after a restart) so old ones get deleted."""
        checkpoints_with_mtimes = []
        for path in checkpoint_paths:
            mtime = _checkpoint_mtime(path)
            if mtime is not None:
                checkpoints_with_mtimes.append((path, mtime))
        self.set_last_checkpoints_with_time(checkpoints_with_mtimes)

    def _record_last_checkpoint(self, path):
        if not self.saver_def.max_to_keep:
            return
        self._last_checkpoints = [(p, t) for p, t in self._last_checkpoints if p != path]
        self._last_checkpoints.append((path, time.time()))
        if len(self._last_checkpoints) > self.saver_def.max_to_keep:
            self._checkpoints_to_be_deleted.append(self._last_checkpoints.pop(0))

    def _maybe_delete_old_checkpoints(self, meta_graph_suffix):
        every = self.saver_def.keep_checkpoint_every_n_hours
        while self._checkpoints_to_be_deleted:
            path, stamp = self._checkpoints_to_be_deleted.pop(0)
            if every and stamp is not None and stamp > self._next_checkpoint_time:
                self._next_checkpoint_time += every * 3600
                continue
            _remove_checkpoint(path, meta_graph_suffix)

    # -- save / restore ----------------------------------------------------------------------
    def as_saver_def(self):
        return self.saver_def

    def to_proto(self, export_scope=None):
        return self.saver_def

    @staticmethod
    def from_proto(saver_def, import_scope=None):
        return Saver(saver_def=saver_def, name=import_scope)

    def save(
        self,
        sess,
        save_path,
        global_step=None,
        latest_filename=None,
        meta_graph_suffix="meta",
        write_meta_graph=True,
        write_state=True,
        strip_default_attrs=False,
        save_debug_info=False,
    ):
        """Writes the variables' values in ``sess`` to the checkpoint ``save_path[-step]``.

        Also updates the ``checkpoint`` state file in the same directory (unless
        ``write_state=False``), deletes checkpoints beyond ``max_to_keep``, and writes the
        graph to ``<prefix>.meta`` (unless ``write_meta_graph=False``). Returns the prefix.
        """
        if not self._is_built:
            raise RuntimeError("`build()` should be called before save if defer_build==True")
        if latest_filename is None:
            latest_filename = "checkpoint"
        if os.path.split(latest_filename)[0]:
            raise ValueError("'latest_filename' must not contain path components")
        save_path = os.fspath(save_path)
        if isinstance(save_path, bytes):
            save_path = save_path.decode()
        if global_step is not None:
            if not isinstance(global_step, (numbers.Integral, np.integer)):
                global_step = int(sess.run(global_step))
            fmt = "%s-%08d" if self._pad_step_number else "%s-%d"
            checkpoint_file = fmt % (save_path, global_step)
        else:
            checkpoint_file = save_path
            if os.path.basename(save_path) == latest_filename and not self._sharded:
                raise ValueError(
                    f"'latest_filename' collides with 'save_path': '{latest_filename}' and "
                    f"'{save_path}'"
                )
        save_dir = os.path.dirname(save_path)
        if self._is_empty:
            return None
        if not isinstance(sess, _session_types()):
            raise TypeError(f"'sess' must be a Session; {sess}")
        if getattr(sess, "_closed", False):
            raise RuntimeError("Attempted to use a closed Session.")
        # The session's lock keeps runs that assign variables (and so donate their buffers)
        # out while the host views of those buffers are written.
        with sess._lock:
            state = sess.state
            values = {}
            for e in self._entries:
                value = state.get(e.key)
                if value is None:
                    raise errors.FailedPreconditionError(
                        None,
                        None,
                        f"Error while reading resource variable {e.key} from Container: "
                        "localhost. This could mean that the variable was uninitialized. "
                        f"Attempting to use uninitialized value {e.key}",
                    )
                if not e.spec:
                    values[e.name] = value
                    continue
                full, extents = io_ops.parse_extents(e.name, e.spec)
                values.setdefault(e.name, tensor_bundle.Sliced(full, [])).pieces.append(
                    (extents, value)
                )
            try:
                if self._sharded and not os.path.isdir(save_dir or "."):
                    # TF's sharded save creates only "<prefix>_temp", beside the prefix.
                    raise errors.NotFoundError(None, None, f"{save_dir}; No such file or directory")
                io_ops.save_tensors(checkpoint_file, values)
            except (errors.NotFoundError, errors.FailedPreconditionError):
                if not os.path.isdir(save_dir or "."):
                    raise ValueError(
                        f"Parent directory of {save_path} doesn't exist, can't save."
                    ) from None
                raise
            del values, state
        model_checkpoint_path = checkpoint_file
        if write_state:
            self._record_last_checkpoint(model_checkpoint_path)
            update_checkpoint_state(
                save_dir,
                model_checkpoint_path,
                self.last_checkpoints,
                latest_filename,
                save_relative_paths=self._save_relative_paths,
            )
            self._maybe_delete_old_checkpoints(meta_graph_suffix)
        if write_meta_graph:
            self.export_meta_graph(f"{checkpoint_file}.{meta_graph_suffix}")
        return model_checkpoint_path

    def restore(self, sess, save_path):
        """Loads the saved values of this Saver's variables from ``save_path`` into ``sess``.

        Raises ``NotFoundError`` for a variable missing from the checkpoint,
        ``InvalidArgumentError`` for a dtype or shape mismatch, ``DataLossError`` for a
        corrupt file; in every case the session's variables are left unchanged.
        """
        if self._is_empty:
            return
        if save_path is None:
            raise ValueError("Can't load save_path when it is None.")
        save_path = os.fspath(save_path)
        if isinstance(save_path, bytes):
            save_path = save_path.decode()
        if not checkpoint_exists(save_path):
            raise ValueError(f"The passed save_path is not a valid checkpoint: {save_path}")
        if getattr(sess, "_closed", False):
            raise RuntimeError("Attempted to use a closed Session.")
        logging.info("Restoring parameters from %s", save_path)
        reader = tensor_bundle.BundleReader(save_path)
        for e in self._entries:
            # RestoreV2's checks, then the shape check of TF's restore.
            try:
                index = io_ops.check_restorable(reader, e.name, e.dtype, e.spec)
            except (errors.NotFoundError, errors.InvalidArgumentError) as err:
                missing = isinstance(err, errors.NotFoundError)
                raise _restore_failed(type(err), err.message, missing) from None
            shape = reader.dtype_and_shape(e.name)[1]
            if index is not None:
                # A part: the slice of the stored tensor its spec names.
                shape = np.empty(shape, np.bool_)[index].shape
            if not e.shape.is_compatible_with(shape):
                raise _restore_failed(
                    errors.InvalidArgumentError,
                    f"tensor_name = {e.name}; shape of variable {e.key} {e.shape.as_list()} "
                    f"does not match the shape stored in checkpoint: {list(shape)}",
                    False,
                )
        new_values = _read_to_device(
            reader,
            [
                (e.key, e.name, io_ops.check_restorable(reader, e.name, e.dtype, e.spec))
                for e in self._entries
            ],
        )
        sess.load_state(new_values)

    def export_meta_graph(
        self,
        filename=None,
        collection_list=None,
        as_text=False,
        export_scope=None,
        clear_devices=False,
        clear_extraneous_savers=False,
        strip_default_attrs=False,
        save_debug_info=False,
    ):
        """Writes the graph with this Saver's ``SaverDef`` as a ``MetaGraphDef``."""
        return graph_io.export_meta_graph(
            filename=filename,
            graph=self._graph,
            saver_def=self.saver_def,
            collection_list=collection_list,
            as_text=as_text,
            export_scope=export_scope,
            clear_devices=clear_devices,
        )


def _session_types():
    from tfstyle.client.session import BaseSession

    return (BaseSession,)


def _read_to_device(reader, keys_and_names):
    """Reads every value (``(state key, name, slice index or None)``) (all checksums verified) and puts it in device memory one by one.

    The reader returns arrays aligned so that on the CPU ``device_put`` adopts their memory
    instead of copying it: the new values take their size in memory once, next to the old
    ones that the session keeps until every read has succeeded (as TF's restore does). On an
    accelerator each host copy is dropped as soon as it has been transferred."""
    import jax

    from tfstyle.compiler import executable

    out = {}
    full_name, full = None, None
    with executable.x64(True):
        for key, name, index in keys_and_names:
            if index is None:
                value = reader.read(name)
            else:
                # The parts of one tensor come one after another: it is read once for all.
                if name != full_name:
                    full_name, full = name, reader.read(name)
                value = np.ascontiguousarray(full[index])
            out[key] = value if value.dtype == object else jax.device_put(value)
            del value
    return out


# -- checkpoint files ----------------------------------------------------------------------------
def checkpoint_exists(checkpoint_prefix):
    """Whether a V2 (``prefix.index``) or V1 checkpoint exists at ``checkpoint_prefix``."""
    checkpoint_prefix = os.fspath(checkpoint_prefix)
    if os.path.exists(tensor_bundle.index_filename(checkpoint_prefix)):
        return True
    if glob.glob(glob.escape(checkpoint_prefix)) and os.path.isfile(checkpoint_prefix):
        return True
    return False


def _checkpoint_mtime(prefix):
    for path in (tensor_bundle.index_filename(prefix), prefix):
        try:
            return os.path.getmtime(path)
        except OSError:
            continue
    return None


def get_checkpoint_mtimes(checkpoint_prefixes):
    """The modification times of the checkpoints that exist among ``checkpoint_prefixes``."""
    return [t for t in map(_checkpoint_mtime, checkpoint_prefixes) if t is not None]


def _remove_checkpoint(prefix, meta_graph_suffix="meta"):
    paths = [tensor_bundle.index_filename(prefix), f"{prefix}.{meta_graph_suffix}"]
    paths += glob.glob(glob.escape(prefix) + ".data-?????-of-?????")
    for path in paths:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass
        except OSError as e:
            logging.warning("Ignoring: %s", e)


def remove_checkpoint(checkpoint_prefix, checkpoint_format_version=2, meta_graph_suffix="meta"):
    """Deletes the files of the checkpoint at ``checkpoint_prefix``."""
    _remove_checkpoint(checkpoint_prefix, meta_graph_suffix)


class CheckpointState:
    """The ``checkpoint`` state file: the latest checkpoint and those still kept."""

    def __init__(
        self,
        model_checkpoint_path="",
        all_model_checkpoint_paths=(),
        all_model_checkpoint_timestamps=(),
        last_preserved_timestamp=0.0,
    ):
        self.model_checkpoint_path = model_checkpoint_path
        self.all_model_checkpoint_paths = list(all_model_checkpoint_paths)
        self.all_model_checkpoint_timestamps = list(all_model_checkpoint_timestamps)
        self.last_preserved_timestamp = last_preserved_timestamp

    def __eq__(self, other):
        return isinstance(other, CheckpointState) and vars(self) == vars(other)

    def __str__(self):
        """TF's text format of the ``CheckpointState`` proto."""
        lines = []
        if self.model_checkpoint_path:
            lines.append(f'model_checkpoint_path: "{_escape(self.model_checkpoint_path)}"')
        lines += [
            f'all_model_checkpoint_paths: "{_escape(p)}"' for p in self.all_model_checkpoint_paths
        ]
        lines += [
            f"all_model_checkpoint_timestamps: {_float(t)}"
            for t in self.all_model_checkpoint_timestamps
        ]
        if self.last_preserved_timestamp:
            lines.append(f"last_preserved_timestamp: {_float(self.last_preserved_timestamp)}")
        return "".join(line + "\n" for line in lines)

    __repr__ = __str__

    @classmethod
    def parse(cls, text):
        """Parses the text format; raises ``ValueError`` on anything else."""
        state = cls()
        for line in text.splitlines():
            line = line.strip()
            if not line:
                continue
            m = _STATE_LINE.match(line)
            if m is None:
                raise ValueError(f"Cannot parse checkpoint state line: {line!r}")
            field, string, number = m.groups()
            if field in ("model_checkpoint_path", "all_model_checkpoint_paths"):
                if string is None:
                    raise ValueError(f"{field} must be a string: {line!r}")
                value = text_encoding.CUnescape(string).decode("utf-8")
                if field == "model_checkpoint_path":
                    state.model_checkpoint_path = value
                else:
                    state.all_model_checkpoint_paths.append(value)
            else:
                if number is None:
                    raise ValueError(f"{field} must be a number: {line!r}")
                if field == "all_model_checkpoint_timestamps":
                    state.all_model_checkpoint_timestamps.append(float(number))
                else:
                    state.last_preserved_timestamp = float(number)
        return state


_STATE_LINE = re.compile(
    r"^(model_checkpoint_path|all_model_checkpoint_paths|all_model_checkpoint_timestamps|"
    r'last_preserved_timestamp)\s*:\s*(?:"((?:[^"\\]|\\.)*)"|([-+0-9.eEinfINFna]+))$'
)


def _escape(s):
    return text_encoding.CEscape(s.encode("utf-8"), as_utf8=True)


def _float(x):
    return repr(float(x))


def generate_checkpoint_state_proto(
    save_dir,
    model_checkpoint_path,
    all_model_checkpoint_paths=None,
    all_model_checkpoint_timestamps=None,
    last_preserved_timestamp=None,
):
    """A ``CheckpointState``; paths become relative to ``save_dir`` if it is relative."""
    paths = list(all_model_checkpoint_paths or [])
    if not paths or paths[-1] != model_checkpoint_path:
        paths.append(model_checkpoint_path)
    if not os.path.isabs(save_dir):
        if not os.path.isabs(model_checkpoint_path):
            model_checkpoint_path = os.path.relpath(model_checkpoint_path, save_dir)
        paths = [p if os.path.isabs(p) else os.path.relpath(p, save_dir) for p in paths]
    return CheckpointState(
        model_checkpoint_path,
        paths,
        all_model_checkpoint_timestamps or (),
        last_preserved_timestamp or 0.0,
    )


def update_checkpoint_state(
    save_dir,
    model_checkpoint_path,
    all_model_checkpoint_paths=None,
    latest_filename=None,
    all_model_checkpoint_timestamps=None,
    last_preserved_timestamp=None,
    save_relative_paths=False,
):
    """Writes the ``checkpoint`` state file in ``save_dir`` (atomically)."""
    save_dir = os.fspath(save_dir)
    filename = os.path.join(save_dir, latest_filename or "checkpoint")
    if save_relative_paths:
        model_checkpoint_path = (
            os.path.relpath(model_checkpoint_path, save_dir)
            if os.path.isabs(model_checkpoint_path)
            else model_checkpoint_path
        )
        all_model_checkpoint_paths = [
            os.path.relpath(p, save_dir) if os.path.isabs(p) else p
            for p in all_model_checkpoint_paths or []
        ]
    state = generate_checkpoint_state_proto(
        save_dir,
        model_checkpoint_path,
        all_model_checkpoint_paths,
        all_model_checkpoint_timestamps,
        last_preserved_timestamp,
    )
    if filename == state.model_checkpoint_path:
        raise RuntimeError(
            f"Save path '{model_checkpoint_path}' conflicts with path used for checkpoint "
            "state.  Please use a different save path."
        )
    _atomic_write(filename, str(state).encode("utf-8"))


def _atomic_write(path, data):
    directory = os.path.dirname(path)
    if directory:
        os.makedirs(directory, exist_ok=True)
    temp = f"{path}.tmp{os.getpid()}.{os.urandom(4).hex()}"
    try:
        with open(temp, "wb") as f:
            f.write(data)
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.remove(temp)
        raise


def get_checkpoint_state(checkpoint_dir, latest_filename=None):
    """The ``CheckpointState`` in ``checkpoint_dir`` (relative paths joined to it), or None."""
    checkpoint_dir = os.fspath(checkpoint_dir)
    path = os.path.join(checkpoint_dir, latest_filename or "checkpoint")
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except (FileNotFoundError, NotADirectoryError):
        return None
    try:
        state = CheckpointState.parse(text)
    except ValueError as e:
        logging.warning("%s: Checkpoint ignored", e)
        return None
    if not state.model_checkpoint_path:
        raise ValueError(f"Invalid checkpoint state loaded from {checkpoint_dir}")
    if not os.path.isabs(state.model_checkpoint_path):
        state.model_checkpoint_path = os.path.join(checkpoint_dir, state.model_checkpoint_path)
    state.all_model_checkpoint_paths = [
        p if os.path.isabs(p) else os.path.join(checkpoint_dir, p)
        for p in state.all_model_checkpoint_paths
    ]
    return state


def latest_checkpoint(checkpoint_dir, latest_filename=None):
    """The prefix of the latest checkpoint in ``checkpoint_dir``, or None if there is none."""
    state = get_checkpoint_state(checkpoint_dir, latest_filename)
    if state and state.model_checkpoint_path:
        if checkpoint_exists(state.model_checkpoint_path):
            return state.model_checkpoint_path
        logging.error("Couldn't match files for checkpoint %s", state.model_checkpoint_path)
    return None


# -- reading checkpoints -----------------------------------------------------------------------
def _checkpoint_filename(ckpt_dir_or_file):
    ckpt_dir_or_file = os.fspath(ckpt_dir_or_file)
    if os.path.isdir(ckpt_dir_or_file):
        return latest_checkpoint(ckpt_dir_or_file)
    return ckpt_dir_or_file


class CheckpointReader:
    """Reads tensors from a checkpoint: ``tf.train.load_checkpoint`` / ``NewCheckpointReader``."""

    def __init__(self, filepattern):
        self._reader = tensor_bundle.BundleReader(os.fspath(filepattern))

    def has_tensor(self, name):
        return name in self._reader

    def get_tensor(self, name):
        """The value of ``name`` as a NumPy array (a scalar for 0-d numeric tensors)."""
        value = self._reader.read(name)
        if value.ndim == 0 and value.dtype != object:
            return value[()]
        return value

    def get_variable_to_shape_map(self):
        return self._reader.variable_to_shape_map()

    def get_variable_to_dtype_map(self):
        return {
            name: dtypes.string if dt.kind == "O" else dtypes.as_dtype(dt)
            for name, dt in self._reader.variable_to_dtype_map().items()
        }

    def debug_string(self):
        lines = []
        for name, shape in sorted(self.get_variable_to_shape_map().items()):
            dtype = self.get_variable_to_dtype_map()[name]
            lines.append(f"{name} ({dtype.name}) {shape}\n")
        return "".join(lines).encode()


def NewCheckpointReader(filepattern):  # noqa: N802 - TF's public name
    """A ``CheckpointReader`` for the checkpoint at prefix ``filepattern``."""
    return CheckpointReader(filepattern)


def load_checkpoint(ckpt_dir_or_file):
    """A ``CheckpointReader`` for a checkpoint prefix, or the latest checkpoint of a directory."""
    filename = _checkpoint_filename(ckpt_dir_or_file)
    if filename is None:
        raise ValueError(
            f"Couldn't find 'checkpoint' file or checkpoints in given directory {ckpt_dir_or_file}"
        )
    return CheckpointReader(filename)


def load_variable(ckpt_dir_or_file, name):
    """The value of variable ``name`` (``":0"`` allowed) in a checkpoint."""
    if name.endswith(":0"):
        name = name[:-2]
    return load_checkpoint(ckpt_dir_or_file).get_tensor(name)


def list_variables(ckpt_dir_or_file):
    """``[(name, shape)]`` of the checkpoint's tensors, sorted by name."""
    reader = load_checkpoint(ckpt_dir_or_file)
    return sorted(reader.get_variable_to_shape_map().items())


# -- init_from_checkpoint --------------------------------------------------------------------------
def init_from_checkpoint(ckpt_dir_or_file, assignment_map):
    """Makes the initializers of the mapped variables load their values from a checkpoint.

    ``assignment_map`` maps checkpoint names or scopes (``"old/w"``, ``"old/"``, ``"/"``) to
    variables, variable names or scopes of the current graph (``"new/w"``, ``"new/"``). The
    values are read now; ``global_variables_initializer()`` created afterwards assigns them.
    """
    reader = load_checkpoint(ckpt_dir_or_file)
    shapes = reader.get_variable_to_shape_map()
    graph = ops.get_default_graph()
    from tfstyle.ops.variables import PartitionedVariable

    by_name, parts = {}, {}
    for var in graph.get_collection(ops.GraphKeys.GLOBAL_VARIABLES) + graph.get_collection(
        ops.GraphKeys.LOCAL_VARIABLES
    ):
        info = getattr(var, "_save_slice_info", None)
        if info is None:
            by_name.setdefault(var.op.name, var)
        else:
            # A partitioned variable is found by its own name, its parts together.
            by_name.setdefault(info.full_name, []).append(var)
            parts[var.op.name] = var
    for ckpt_name, current in assignment_map.items():
        if not isinstance(current, str):
            if isinstance(current, PartitionedVariable):
                current = [list(current)]
            elif isinstance(current, (list, tuple)) and all(
                getattr(v, "_save_slice_info", None) is not None for v in current
            ):
                current = [list(current)]  # the parts of one variable
            vars_ = list(current) if isinstance(current, (list, tuple)) else [current]
            for var in vars_:
                _check_present(ckpt_name, shapes, ckpt_dir_or_file)
                _set_checkpoint_initializer(var, reader, ckpt_name, shapes)
            continue
        found = by_name.get(current, parts.get(current))
        if found is not None and not current.endswith("/"):
            _check_present(ckpt_name, shapes, ckpt_dir_or_file)
            _set_checkpoint_initializer(found, reader, ckpt_name, shapes)
            continue
        scope = current[:-1] if current.endswith("/") else current
        ckpt_scope = "" if ckpt_name == "/" else ckpt_name.rstrip("/")
        if "/" in current and not current.endswith("/") and ckpt_name != "/":
            raise ValueError(
                f"Assignment map with scope only name {current} should map to scope only {ckpt_name}."
            )
        matched = False
        for name, var in by_name.items():
            if scope and not name.startswith(scope + "/"):
                continue
            rest = name[len(scope) + 1 :] if scope else name
            full = f"{ckpt_scope}/{rest}" if ckpt_scope else rest
            if ckpt_name == "/" and full not in shapes:
                continue
            _check_present(full, shapes, ckpt_dir_or_file)
            _set_checkpoint_initializer(var, reader, full, shapes)
            matched = True
        if not matched and ckpt_name != "/":
            raise ValueError(f"Tensor {ckpt_name} is not found in {ckpt_dir_or_file} checkpoint")


def _check_present(name, shapes, ckpt):
    if name not in shapes:
        raise ValueError(f"Tensor {name} is not found in {ckpt} checkpoint {shapes}")


def _set_checkpoint_initializer(var, reader, name, shapes):
    """Makes ``var`` (or each part of a partitioned variable, a list) start from checkpoint
    tensor ``name`` (a part from its slice of it)."""
    if isinstance(var, list):
        info = var[0]._save_slice_info
        if list(info.full_shape) != list(shapes[name]):
            raise ValueError(
                f"Shape of variable {info.full_name} ({_shape.as_shape(info.full_shape)}) "
                f"doesn't match with shape of tensor {name} ({shapes[name]}) from checkpoint "
                "reader."
            )
        full = np.asarray(reader._reader.read(name))
        for part in var:
            if part._save_slice_info.full_name != info.full_name:
                raise ValueError(
                    "Slices must all be from the same tensor: "
                    f"{info.full_name} != {part._save_slice_info.full_name}"
                )
            index = io_ops.check_restorable(
                reader._reader, name, part.dtype, part._save_slice_info.spec
            )
            _checkpoint_initializer(part, full[index])
        return
    if not var.shape.is_compatible_with(shapes[name]):
        raise ValueError(
            f"Shape of variable {var.name} ({var.shape}) doesn't match with shape of tensor "
            f"{name} ({shapes[name]}) from checkpoint reader."
        )
    _checkpoint_initializer(var, np.asarray(reader._reader.read(name)))


def _checkpoint_initializer(var, value):
    from tfstyle.ops import _base
    from tfstyle.ops.constant_op import constant

    graph = var.graph
    with graph.as_default(), ops.control_dependencies(None):
        with ops.name_scope(var.op.name + "/"):
            init = constant(value, dtype=var.dtype, name="checkpoint_initializer")
            assign = _base.make_op(
                "AssignVariableOp",
                [var.handle, init],
                {"dtype": var.dtype, "validate_shape": False},
                name="checkpoint_initializer_assign",
            )
    var._initializer_op = assign
    var._initial_value = init


# -- MetaGraph -----------------------------------------------------------------------------------
def import_meta_graph(meta_graph_or_file, clear_devices=False, import_scope=None, **kwargs):
    """Rebuilds the graph (and its collections) saved in a ``.meta`` file or ``MetaGraphDef``
    in the default graph; returns a ``Saver`` for it (``None`` if it has no variables)."""
    mg, variables = graph_io.import_scoped_meta_graph(
        meta_graph_or_file,
        clear_devices=clear_devices,
        import_scope=import_scope,
        input_map=kwargs.get("input_map"),
    )
    if mg.HasField("saver_def"):
        return Saver(saver_def=mg.saver_def, name=import_scope)
    if variables or ops.get_collection(ops.GraphKeys.GLOBAL_VARIABLES):
        return Saver()
    logging.info("Saver not created because there are no variables in the graph to restore")
    return None


def export_meta_graph(
    filename=None,
    meta_info_def=None,
    graph_def=None,
    saver_def=None,
    collection_list=None,
    as_text=False,
    graph=None,
    export_scope=None,
    clear_devices=False,
    clear_extraneous_savers=False,
    strip_default_attrs=False,
    save_debug_info=False,
    **kwargs,
):
    """``tf.train.export_meta_graph``: the graph and its collections as a ``MetaGraphDef``."""
    return graph_io.export_meta_graph(
        filename=filename,
        meta_info_def=meta_info_def,
        graph_def=graph_def,
        saver_def=saver_def,
        collection_list=collection_list,
        as_text=as_text,
        graph=graph,
        export_scope=export_scope,
        clear_devices=clear_devices,
    )


def write_graph(graph_or_graph_def, logdir, name, as_text=True):
    """Writes a graph (or GraphDef) to ``logdir/name`` as text or binary; returns the path."""
    if isinstance(graph_or_graph_def, ops.Graph):
        gd = graph_or_graph_def.as_graph_def()
    else:
        gd = graph_io._as_graph_def_proto(graph_or_graph_def)
    path = os.path.join(os.fspath(logdir), name)
    graph_io._write_proto(path, gd, as_text)
    return path
