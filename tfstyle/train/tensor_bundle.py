"""TensorFlow's V2 checkpoint format (the "tensor bundle"), read and written without TensorFlow.

A checkpoint at ``prefix`` is two files:

* ``prefix.index``: a sorted string table (leveldb's SSTable layout) mapping ``""`` to a
  ``BundleHeaderProto`` and each tensor name to a ``BundleEntryProto`` (dtype, shape, where its
  bytes live in the data file, and their CRC32C);
* ``prefix.data-00000-of-00001``: the tensors' raw little-endian bytes, one after another.

``write_bundle`` produces files byte-identical to TensorFlow's ``SaveV2`` for the same tensors,
and ``BundleReader`` reads anything TensorFlow writes, including sharded bundles and partitioned
(sliced) variables. Every block and every tensor read is checked against its checksum.
"""

from __future__ import annotations

import mmap
import os
import struct
import threading
import time
import weakref
from collections.abc import Mapping
from typing import NamedTuple

import google_crc32c
import ml_dtypes
import numpy as np

__all__ = [
    "BundleEntry",
    "BundleReader",
    "data_filename",
    "index_filename",
    "list_variables",
    "write_bundle",
]

# --------------------------------------------------------------------------------------------
# DataType enum values (tensorflow/core/framework/types.proto) and their numpy element types.

DT_STRING = 7

_NUMPY_BY_ENUM = {
    1: np.dtype(np.float32),
    2: np.dtype(np.float64),
    3: np.dtype(np.int32),
    4: np.dtype(np.uint8),
    5: np.dtype(np.int16),
    6: np.dtype(np.int8),
    7: np.dtype(object),
    8: np.dtype(np.complex64),
    9: np.dtype(np.int64),
    10: np.dtype(np.bool_),
    11: np.dtype(np.int8),  # qint8
    12: np.dtype(np.uint8),  # quint8
    13: np.dtype(np.int32),  # qint32
    14: np.dtype(ml_dtypes.bfloat16),
    15: np.dtype(np.int16),  # qint16
    16: np.dtype(np.uint16),  # quint16
    17: np.dtype(np.uint16),
    18: np.dtype(np.complex128),
    19: np.dtype(np.float16),
    22: np.dtype(np.uint32),
    23: np.dtype(np.uint64),
    24: np.dtype(ml_dtypes.float8_e5m2),
    25: np.dtype(ml_dtypes.float8_e4m3fn),
    26: np.dtype(ml_dtypes.float8_e4m3fnuz),
    27: np.dtype(ml_dtypes.float8_e4m3b11fnuz),
    28: np.dtype(ml_dtypes.float8_e5m2fnuz),
    29: np.dtype(ml_dtypes.int4),
    30: np.dtype(ml_dtypes.uint4),
}

# The quantized types share numpy types with plain integers; plain integers win when writing.
_ENUM_BY_NUMPY = {}
for _enum, _dtype in sorted(_NUMPY_BY_ENUM.items(), reverse=True):
    if _enum not in (11, 12, 13, 15, 16):
        _ENUM_BY_NUMPY[_dtype] = _enum
del _enum, _dtype

# --------------------------------------------------------------------------------------------
# Table (SSTable) format constants.

_TABLE_MAGIC = 0xDB4775248B80FB57
_FOOTER_SIZE = 48  # two block handles padded to 40 bytes, then the 8-byte magic number
_BLOCK_TRAILER_SIZE = 5  # compression type byte + masked crc32c
_BLOCK_SIZE = 262144  # TF's table::Options defaults
_BLOCK_RESTART_INTERVAL = 16
_NO_COMPRESSION = 0
_SNAPPY_COMPRESSION = 1

_CRC_MASK_DELTA = 0xA282EAD8

# Bundle format version written, and the oldest reader version that can consume it.
_BUNDLE_VERSION = 1
_BUNDLE_MIN_PRODUCER = 0

# Bytes read or written per system call when streaming tensors larger than this. Each chunk is
# checksummed right before it is written or right after it is read, while it is still in the
# CPU's cache, so a tensor's bytes cross main memory once per save or restore, not twice.
_IO_CHUNK = 4 << 20


def index_filename(prefix: str) -> str:
    """The path of the index file of the checkpoint at ``prefix``."""
    return f"{prefix}.index"


def data_filename(prefix: str, shard: int = 0, num_shards: int = 1) -> str:
    """The path of data shard ``shard`` of ``num_shards`` of the checkpoint at ``prefix``."""
    return "%s.data-%05d-of-%05d" % (prefix, shard, num_shards)


def _key(name: str) -> bytes:
    # Keys are bytes on disk; names that aren't UTF-8 round-trip through surrogate escapes.
    return name.encode("utf-8", "surrogateescape")


def _errors():
    from tfstyle.framework import errors

    return errors


# --------------------------------------------------------------------------------------------
# Checksums and integer codings.


def _mask_crc(crc: int) -> int:
    # Checksums stored next to the data they cover are rotated and offset, so that a checksum
    # of data that itself embeds checksums stays well distributed.
    return ((((crc >> 15) | (crc << 17)) & 0xFFFFFFFF) + _CRC_MASK_DELTA) & 0xFFFFFFFF


def _unmask_crc(masked: int) -> int:
    rot = (masked - _CRC_MASK_DELTA) & 0xFFFFFFFF
    return ((rot >> 17) | (rot << 15)) & 0xFFFFFFFF


def _crc(data, crc: int = 0) -> int:
    return google_crc32c.extend(crc, data)


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


class _Corrupt(Exception):
    """Malformed bytes; turned into a DataLossError naming the file by the caller."""


def _read_varint(buf, pos: int, end: int | None = None) -> tuple[int, int]:
    if end is None:
        end = len(buf)
    result = 0
    shift = 0
    while True:
        if pos >= end or shift > 63:
            raise _Corrupt("bad varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _signed64(value: int) -> int:
    value &= (1 << 64) - 1
    return value - (1 << 64) if value >= 1 << 63 else value


# --------------------------------------------------------------------------------------------
# Protocol buffer wire format, by hand: BundleHeaderProto, BundleEntryProto, TensorShapeProto,
# TensorSliceProto and VersionDef are small, and hand coding keeps TF's own message names out of
# the process-wide descriptor pool (TensorFlow may be imported alongside).


def _parse_fields(buf: bytes) -> list[tuple[int, int]]:
    """Returns ``[(field_number, value)]``: ints for varint/fixed fields, bytes otherwise."""
    fields = []
    pos, end = 0, len(buf)
    while pos < end:
        tag, pos = _read_varint(buf, pos, end)
        number, wire = tag >> 3, tag & 7
        if wire == 0:
            value, pos = _read_varint(buf, pos, end)
        elif wire == 2:
            length, pos = _read_varint(buf, pos, end)
            if pos + length > end:
                raise _Corrupt("truncated field")
            value = bytes(buf[pos : pos + length])
            pos += length
        elif wire == 5:
            if pos + 4 > end:
                raise _Corrupt("truncated field")
            (value,) = struct.unpack_from("<I", buf, pos)
            pos += 4
        elif wire == 1:
            if pos + 8 > end:
                raise _Corrupt("truncated field")
            (value,) = struct.unpack_from("<Q", buf, pos)
            pos += 8
        else:
            raise _Corrupt(f"unsupported wire type {wire}")
        if number == 0:
            raise _Corrupt("field number 0")
        fields.append((number, value))
    return fields


def _encode_shape(shape: tuple[int, ...]) -> bytes:
    out = bytearray()
    for size in shape:
        dim = b"\x08" + _varint(size) if size else b""
        out += b"\x12" + _varint(len(dim)) + dim
    return bytes(out)


def _decode_shape(buf: bytes) -> tuple[int, ...] | None:
    dims = []
    unknown_rank = False
    for number, value in _parse_fields(buf):
        if number == 2:
            size = 0
            for dim_number, dim_value in _parse_fields(value):
                if dim_number == 1:
                    size = _signed64(dim_value)
            dims.append(size)
        elif number == 3:
            unknown_rank = bool(value)
    return None if unknown_rank else tuple(dims)


def _decode_slice(buf: bytes) -> tuple[tuple[int, int], ...]:
    """A TensorSliceProto as ``((start, length), ...)``; length -1 means the whole dimension."""
    extents = []
    for number, value in _parse_fields(buf):
        if number == 1:
            start, length = 0, -1
            for extent_number, extent_value in _parse_fields(value):
                if extent_number == 1:
                    start = _signed64(extent_value)
                elif extent_number == 2:
                    length = _signed64(extent_value)
            extents.append((start, length))
    return tuple(extents)


def _encode_slice(extents: tuple[tuple[int, int], ...]) -> bytes:
    out = bytearray()
    for start, length in extents:
        extent = (b"\x08" + _varint(start) if start else b"") + (
            b"\x10" + _varint(length) if length >= 0 else b""
        )
        out += b"\x0a" + _varint(len(extent)) + extent
    return bytes(out)


class BundleEntry(NamedTuple):
    """Where and how one tensor is stored (TF's ``BundleEntryProto``)."""

    dtype_enum: int
    shape: tuple[int, ...]
    shard_id: int = 0
    offset: int = 0
    size: int = 0
    crc32c: int = 0  # masked, as stored
    slices: tuple[tuple[tuple[int, int], ...], ...] = ()

    def encode(self) -> bytes:
        out = bytearray()
        if self.dtype_enum:
            out += b"\x08" + _varint(self.dtype_enum)
        shape = _encode_shape(self.shape)
        out += b"\x12" + _varint(len(shape)) + shape
        if self.shard_id:
            out += b"\x18" + _varint(self.shard_id)
        if self.offset:
            out += b"\x20" + _varint(self.offset)
        if self.size:
            out += b"\x28" + _varint(self.size)
        if self.crc32c:
            out += b"\x35" + struct.pack("<I", self.crc32c)
        for extents in self.slices:
            piece = _encode_slice(extents)
            out += b"\x3a" + _varint(len(piece)) + piece
        return bytes(out)

    @classmethod
    def decode(cls, buf: bytes) -> BundleEntry:
        dtype_enum = shard_id = offset = size = crc = 0
        shape: tuple[int, ...] | None = ()
        slices = []
        for number, value in _parse_fields(buf):
            if number == 1:
                dtype_enum = value
            elif number == 2:
                shape = _decode_shape(value)
            elif number == 3:
                shard_id = _signed64(value)
            elif number == 4:
                offset = _signed64(value)
            elif number == 5:
                size = _signed64(value)
            elif number == 6:
                crc = value
            elif number == 7:
                slices.append(_decode_slice(value))
        if shape is None or any(d < 0 for d in shape):
            raise _Corrupt(f"invalid tensor shape {shape}")
        if offset < 0 or size < 0 or shard_id < 0:
            raise _Corrupt("negative offset, size or shard")
        return cls(dtype_enum, shape, shard_id, offset, size, crc, tuple(slices))


def _encode_header(num_shards: int) -> bytes:
    version = b"\x08" + _varint(_BUNDLE_VERSION)  # VersionDef.producer; min_consumer is 0
    return b"\x08" + _varint(num_shards) + b"\x1a" + _varint(len(version)) + version


# --------------------------------------------------------------------------------------------
# Slice keys: a partitioned tensor's pieces are stored under keys built with TF's "ordered code"
# (tensorflow/core/lib/strings/ordered_code.h) from the tensor name and the slice's extents.


def _ordered_uint(value: int) -> bytes:
    body = value.to_bytes((value.bit_length() + 7) // 8, "big") if value else b""
    return bytes((len(body),)) + body


def _ordered_string(value: bytes) -> bytes:
    # NUL and 0xff are escaped so that the terminator NUL 0x01 can't occur inside.
    out = bytearray()
    for byte in value:
        if byte == 0x00:
            out += b"\x00\xff"
        elif byte == 0xFF:
            out += b"\xff\x00"
        else:
            out.append(byte)
    return bytes(out) + b"\x00\x01"


def _ordered_int(value: int) -> bytes:
    # n bytes hold [-2**(7n-1), 2**(7n-1)); the leading n bits (sign then size bits) are stored
    # inverted against the two's complement value, so they read as 1s for non-negative numbers.
    bits = (~value if value < 0 else value).bit_length()
    length = max(1, (bits + 7) // 7)
    raw = value & ((1 << (8 * length)) - 1)
    raw ^= ((1 << length) - 1) << (7 * length)
    return raw.to_bytes(length, "big")


def _slice_key(name: bytes, extents: tuple[tuple[int, int], ...]) -> bytes:
    out = bytearray(_ordered_uint(0))
    out += _ordered_string(name)
    out += _ordered_uint(len(extents))
    for start, length in extents:
        out += _ordered_int(start) + _ordered_int(length)
    return bytes(out)


# --------------------------------------------------------------------------------------------
# Writing.


class _BlockBuilder:
    """One table block: prefix-compressed keys with a restart point every ``interval`` keys."""

    def __init__(self, interval: int):
        self.interval = interval
        self.buffer = bytearray()
        self.restarts = [0]
        self.counter = 0
        self.last_key = b""

    def empty(self) -> bool:
        return not self.buffer

    def size_estimate(self) -> int:
        return len(self.buffer) + 4 * len(self.restarts) + 4

    def add(self, key: bytes, value: bytes) -> None:
        shared = 0
        if self.counter < self.interval:
            limit = min(len(key), len(self.last_key))
            while shared < limit and key[shared] == self.last_key[shared]:
                shared += 1
        else:
            self.restarts.append(len(self.buffer))
            self.counter = 0
        self.buffer += _varint(shared) + _varint(len(key) - shared) + _varint(len(value))
        self.buffer += key[shared:]
        self.buffer += value
        self.last_key = key
        self.counter += 1

    def finish(self) -> bytes:
        out = self.buffer + struct.pack("<%dI" % len(self.restarts), *self.restarts)
        out += struct.pack("<I", len(self.restarts))
        self.buffer = bytearray()
        self.restarts = [0]
        self.counter = 0
        self.last_key = b""
        return bytes(out)


def _shortest_separator(start: bytes, limit: bytes) -> bytes:
    # A short key k with start <= k < limit, for the index entry between two data blocks.
    n = min(len(start), len(limit))
    i = 0
    while i < n and start[i] == limit[i]:
        i += 1
    if i < n and start[i] < 0xFF and start[i] + 1 < limit[i]:
        return start[:i] + bytes((start[i] + 1,))
    return start


def _short_successor(key: bytes) -> bytes:
    for i, byte in enumerate(key):
        if byte != 0xFF:
            return key[:i] + bytes((byte + 1,))
    return key


def _build_table(items: list[tuple[bytes, bytes]]) -> bytes:
    """An SSTable holding ``items`` (sorted by key), laid out exactly as TF's TableBuilder."""
    out = bytearray()
    data = _BlockBuilder(_BLOCK_RESTART_INTERVAL)
    index = _BlockBuilder(1)
    pending_handle = None
    last_key = b""

    def write_block(block: _BlockBuilder) -> bytes:
        contents = block.finish()
        handle = _varint(len(out)) + _varint(len(contents))
        out.extend(contents)
        out.append(_NO_COMPRESSION)
        out.extend(struct.pack("<I", _mask_crc(_crc(bytes([_NO_COMPRESSION]), _crc(contents)))))
        return handle

    for count, (key, value) in enumerate(items):
        if count and len(key) + len(value) >= 2 * _BLOCK_SIZE and not data.empty():
            pending_handle = write_block(data)
        if pending_handle is not None:
            index.add(_shortest_separator(last_key, key), pending_handle)
            pending_handle = None
        last_key = key
        data.add(key, value)
        if data.size_estimate() >= _BLOCK_SIZE:
            pending_handle = write_block(data)
    if not data.empty():
        pending_handle = write_block(data)
    metaindex_handle = write_block(_BlockBuilder(_BLOCK_RESTART_INTERVAL))
    if pending_handle is not None:
        index.add(_short_successor(last_key), pending_handle)
    index_handle = write_block(index)
    footer = (metaindex_handle + index_handle).ljust(_FOOTER_SIZE - 8, b"\x00")
    out += footer + struct.pack("<Q", _TABLE_MAGIC)
    return bytes(out)


def _string_elements(array: np.ndarray) -> list[bytes]:
    out = []
    for item in array.reshape(-1).tolist():
        if isinstance(item, str):
            item = item.encode("utf-8")
        elif not isinstance(item, bytes | bytearray | memoryview):
            raise TypeError(f"string tensors hold bytes or str elements; got {type(item).__name__}")
        out.append(bytes(item))
    return out


def _write_string_tensor(f, strings: list[bytes]) -> tuple[int, int]:
    # Layout: varint64 length of each element, the masked crc32c of the lengths (taken over
    # each length as a little-endian uint32, or uint64 past 4 GiB), then the element bytes.
    # The entry's checksum covers the lengths (same coding), the length checksum, the bytes.
    lengths = bytearray()
    crc = 0
    for s in strings:
        n = len(s)
        lengths += _varint(n)
        crc = _crc(struct.pack("<I", n) if n <= 0xFFFFFFFF else struct.pack("<Q", n), crc)
    length_checksum = struct.pack("<I", _mask_crc(crc))
    crc = _crc(length_checksum, crc)
    f.write(lengths)
    f.write(length_checksum)
    size = len(lengths) + 4
    for s in strings:
        if s:
            f.write(s)
            crc = _crc(s, crc)
            size += len(s)
    return size, crc


def _byte_chunks(array: np.ndarray):
    flat = array.reshape(-1).view(np.uint8)
    for start in range(0, flat.size, _IO_CHUNK):
        yield flat[start : start + _IO_CHUNK]


def _write_numeric_tensor(f, chunks) -> tuple[int, int]:
    size = crc = 0
    for chunk in chunks:
        chunk.flags.writeable = False  # the crc32c extension only takes read-only buffers
        f.write(chunk)
        crc = _crc(chunk, crc)
        size += chunk.size
    return size, crc


class Sliced(NamedTuple):
    """A tensor saved as slices under one name, as TF saves a partitioned variable: the full
    tensor's shape and ``(extents, value)`` per slice, ``extents`` a ``(start, length)`` per axis
    (length -1: the whole axis). The name's entry lists the slices and holds no data; each
    slice is stored under a key made of the name and its extents."""

    full_shape: tuple[int, ...]
    pieces: list[tuple[tuple[tuple[int, int], ...], object]]


def _slice_shape(full_shape, extents) -> tuple[int, ...]:
    return tuple(size if length < 0 else length for size, (_, length) in zip(full_shape, extents))


def _check_sliced(name: str, value: Sliced) -> None:
    errors = _errors()
    full = tuple(value.full_shape)
    seen = set()
    for extents, _ in value.pieces:
        extents = tuple(extents)
        if len(extents) != len(full) or any(
            start < 0 or (length >= 0 and start + length > size) or (length < 0 and start)
            for size, (start, length) in zip(full, extents)
        ):
            raise errors.InvalidArgumentError(
                None, None, f"Slice {extents} of tensor {name} does not fit its shape {full}"
            )
        if extents in seen:
            raise errors.InvalidArgumentError(None, None, f"Adding duplicate slice of {name}")
        seen.add(extents)


def _numeric_enum(name: str, dtype) -> int:
    enum = _ENUM_BY_NUMPY.get(np.dtype(dtype))
    if enum is None:
        raise TypeError(f"cannot save tensor {name!r}: unsupported dtype {dtype}")
    return enum


def _as_storable(name: str, value) -> tuple[int, np.ndarray]:
    array = np.asarray(value)
    if array.dtype.kind in "OSU":
        return DT_STRING, array
    dtype = array.dtype
    if dtype.byteorder == ">":
        dtype = dtype.newbyteorder("<")
        array = array.astype(dtype)
    enum = _numeric_enum(name, dtype)
    if not array.flags.c_contiguous:
        array = np.array(array, order="C")
    return enum, array


def _create_temp(path: str):
    """Opens a new hidden file beside ``path``; its name never matches a checkpoint's files."""
    directory, base = os.path.split(path)
    while True:
        temp = os.path.join(directory, f".{base}.{os.urandom(6).hex()}.tmp")
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:
            continue
        return temp, os.fdopen(fd, "wb", buffering=1 << 20)


def _write_data(f, items: list[tuple[bytes, str, object]], host) -> list[tuple[bytes, bytes]]:
    entries = []
    offset = 0

    def write(key, name, value, expected_shape=None):
        nonlocal offset
        # Converted only now, and dropped once written: one host copy at a time at most. A
        # value that streams its bytes (a device array, in chunks) is never whole on the host.
        hosted = host(value)
        if hasattr(hosted, "host_chunks"):
            enum, array = _numeric_enum(name, hosted.dtype), hosted
        else:
            enum, array = _as_storable(name, hosted)
        if expected_shape is not None and tuple(array.shape) != expected_shape:
            raise _errors().InvalidArgumentError(
                None,
                None,
                f"Slice of tensor {name} has shape {list(array.shape)}, but its extents give "
                f"{list(expected_shape)}",
            )
        if enum == DT_STRING:
            size, crc = _write_string_tensor(f, _string_elements(array))
        elif hasattr(array, "host_chunks"):
            size, crc = _write_numeric_tensor(f, array.host_chunks(_IO_CHUNK))
        else:
            size, crc = _write_numeric_tensor(f, _byte_chunks(array))
        entry = BundleEntry(enum, tuple(array.shape), 0, offset, size, _mask_crc(crc))
        del array
        entries.append((key, entry.encode()))
        offset += size
        return enum

    for key, name, value in items:
        if not isinstance(value, Sliced):
            write(key, name, value)
            continue
        enums = set()
        for extents, piece in value.pieces:
            extents = tuple(tuple(e) for e in extents)
            shape = _slice_shape(value.full_shape, extents)
            enums.add(write(_slice_key(key, extents), name, piece, shape))
        if len(enums) > 1:
            raise _errors().InvalidArgumentError(
                None, None, f"The slices of tensor {name} have different dtypes"
            )
        slices = tuple(tuple(tuple(e) for e in extents) for extents, _ in value.pieces)
        entries.append(
            (key, BundleEntry(enums.pop(), tuple(value.full_shape), slices=slices).encode())
        )
    # Slice keys start with a NUL byte: they sort before every tensor name in the index.
    entries.sort(key=lambda entry: entry[0])
    return entries


def _write_index(f, entries: list[tuple[bytes, bytes]]) -> None:
    f.write(_build_table([(b"", _encode_header(1))] + entries))


def write_bundle(prefix: str, tensors: Mapping[str, object], host=np.asarray) -> None:
    """Saves ``tensors`` (name -> array or ``Sliced``) as a TensorFlow V2 checkpoint at ``prefix``.

    Writes ``prefix.index`` and ``prefix.data-00000-of-00001``, readable by TensorFlow's
    ``tf.train.Saver``/``RestoreV2``/``tf.train.load_checkpoint``. Numeric arrays of any
    TensorFlow dtype (bool, signed/unsigned ints, float16/32/64, bfloat16, complex) are stored
    as they are; arrays of ``bytes``/``str`` (object, ``S`` or ``U`` dtype) become string
    tensors. The files are first written under hidden temporary names in the same directory and
    then renamed into place, data file first, so an interrupted save leaves any earlier
    checkpoint at ``prefix`` as it was. The parent directory is created if needed.

    ``host`` turns one value into an array on the host (``np.asarray`` by default); it is
    called for each tensor just before its bytes are written and the result is dropped right
    after, so values kept elsewhere (device arrays) never have more than one host copy alive.
    """
    items = []
    for name, value in tensors.items():
        if not isinstance(name, str):
            raise TypeError(f"tensor names must be str; got {name!r}")
        if not name:
            raise _errors().InvalidArgumentError(
                None, None, "The empty string is not a valid tensor name in a checkpoint"
            )
        if isinstance(value, Sliced):
            if not value.pieces:
                raise _errors().InvalidArgumentError(None, None, f"Tensor {name} has no slices")
            _check_sliced(name, value)
        items.append((_key(name), name, value))
    items.sort(key=lambda item: item[0])

    directory = os.path.dirname(prefix)
    if directory:
        os.makedirs(directory, exist_ok=True)
    data_path, index_path = data_filename(prefix), index_filename(prefix)
    temps = []
    try:
        data_temp, f = _create_temp(data_path)
        temps.append(data_temp)
        with f:
            entries = _write_data(f, items, host)
        index_temp, f = _create_temp(index_path)
        temps.append(index_temp)
        with f:
            _write_index(f, entries)
        # Only a crash between these two renames can pair an old index with the new data;
        # the per-tensor checksums then report it instead of returning wrong values.
        os.replace(data_temp, data_path)
        os.replace(index_temp, index_path)
    except BaseException:
        for temp in temps:
            try:
                os.remove(temp)
            except OSError:
                pass
        raise


def merge_bundles(
    prefixes: list[str],
    destination: str,
    delete_old_dirs: bool = True,
    allow_missing_files: bool = False,
) -> None:
    """Merges the checkpoints at ``prefixes`` into one at ``destination`` (TF's
    ``MergeV2Checkpoints``): their data files are renamed to its shards, in order, and one index
    lists every tensor; the old index files are deleted, and with ``delete_old_dirs`` their
    directories too where that leaves them empty. A name in two checkpoints is an error."""
    errors = _errors()
    found = []
    for prefix in prefixes:
        if os.path.exists(index_filename(prefix)):
            found.append(prefix)
        elif not allow_missing_files:
            raise errors.InvalidArgumentError(
                None,
                None,
                f"allow_missing_files was set to false and {prefix} did not exist."
                f"NOT_FOUND: {prefix} not found",
            )
    if not found:
        raise errors.InvalidArgumentError(
            None, None, "At least one prefix checkpoint file must exist, but none existed."
        )
    readers = [BundleReader(prefix) for prefix in found]
    total = sum(r._num_shards for r in readers)
    entries: dict[bytes, bytes] = {}
    first_shard = 0
    for reader in readers:
        for key in reader._raw:
            entry = reader._entry(key)
            if entry.slices and key in entries:
                # The slices of one tensor saved by several shards: one entry lists them all.
                merged = BundleEntry.decode(entries[key])
                entries[key] = merged._replace(slices=merged.slices + entry.slices).encode()
                continue
            if key in entries:
                name = key.decode("utf-8", "surrogateescape")
                raise errors.InvalidArgumentError(
                    None,
                    None,
                    f"Duplicate tensor keyed by {name} encountered, when merging prefix: "
                    f"{reader.prefix}",
                )
            if not entry.slices:
                entry = entry._replace(shard_id=entry.shard_id + first_shard)
            entries[key] = entry.encode()
        first_shard += reader._num_shards
    directory = os.path.dirname(destination)
    if directory:
        os.makedirs(directory, exist_ok=True)
    first_shard = 0
    for reader in readers:
        for shard in range(reader._num_shards):
            source = data_filename(reader.prefix, shard, reader._num_shards)
            if os.path.exists(source):
                os.replace(source, data_filename(destination, first_shard + shard, total))
        first_shard += reader._num_shards
    index_path = index_filename(destination)
    temp, f = _create_temp(index_path)
    try:
        with f:
            f.write(_build_table([(b"", _encode_header(total))] + sorted(entries.items())))
        os.replace(temp, index_path)
    except BaseException:
        try:
            os.remove(temp)
        except OSError:
            pass
        raise
    for prefix in found:
        if index_filename(prefix) != index_path:
            os.remove(index_filename(prefix))
        if delete_old_dirs:
            try:
                os.rmdir(os.path.dirname(prefix) or ".")
            except OSError:  # not empty, or the working directory
                pass


# --------------------------------------------------------------------------------------------
# Reading.


def _snappy_decompress(buf: bytes) -> bytes:
    """Decodes a snappy block (TF releases before 1.2 could compress index blocks)."""
    length, pos = _read_varint(buf, 0)
    out = bytearray()
    end = len(buf)
    while pos < end:
        tag = buf[pos]
        pos += 1
        kind = tag & 3
        if kind == 0:  # literal
            n = tag >> 2
            if n >= 60:
                extra = n - 59
                if pos + extra > end:
                    raise _Corrupt("corrupted compressed block contents")
                n = int.from_bytes(buf[pos : pos + extra], "little")
                pos += extra
            n += 1
            if pos + n > end:
                raise _Corrupt("corrupted compressed block contents")
            out += buf[pos : pos + n]
            pos += n
            continue
        if kind == 1:
            n = 4 + ((tag >> 2) & 7)
            if pos + 1 > end:
                raise _Corrupt("corrupted compressed block contents")
            distance = ((tag >> 5) << 8) | buf[pos]
            pos += 1
        else:
            n = (tag >> 2) + 1
            width = 2 if kind == 2 else 4
            if pos + width > end:
                raise _Corrupt("corrupted compressed block contents")
            distance = int.from_bytes(buf[pos : pos + width], "little")
            pos += width
        if distance == 0 or distance > len(out):
            raise _Corrupt("corrupted compressed block contents")
        start = len(out) - distance
        if n <= distance:
            out += out[start : start + n]
        else:  # the copy overlaps its own output: repeat the pattern
            pattern = bytes(out[start:])
            out += (pattern * (n // distance + 1))[:n]
    if len(out) != length:
        raise _Corrupt("corrupted compressed block contents")
    return bytes(out)


def _read_block(table: bytes, handle: bytes) -> tuple[bytes, bytes]:
    """Reads the block at ``handle``; returns (its contents, what follows the handle)."""
    offset, pos = _read_varint(handle, 0)
    size, pos = _read_varint(handle, pos)
    end = offset + size
    if end + _BLOCK_TRAILER_SIZE > len(table):
        raise _Corrupt("truncated block read")
    contents = table[offset:end]
    kind = table[end]
    (stored,) = struct.unpack_from("<I", table, end + 1)
    if _crc(table[offset : end + 1]) != _unmask_crc(stored):
        raise _Corrupt("block checksum mismatch")
    if kind == _SNAPPY_COMPRESSION:
        contents = _snappy_decompress(contents)
    elif kind != _NO_COMPRESSION:
        raise _Corrupt("bad block type")
    return contents, handle[pos:]


def _block_entries(block: bytes):
    """Yields the (key, value) pairs of one block."""
    if len(block) < 4:
        raise _Corrupt("bad block contents")
    (num_restarts,) = struct.unpack_from("<I", block, len(block) - 4)
    limit = len(block) - 4 - 4 * num_restarts
    if limit < 0:
        raise _Corrupt("bad block contents")
    pos = 0
    key = b""
    while pos < limit:
        b0, b1, b2 = block[pos : pos + 3] if pos + 3 <= limit else (255, 255, 255)
        if b0 < 0x80 and b1 < 0x80 and b2 < 0x80:  # the common case: three one-byte varints
            shared, non_shared, value_len = b0, b1, b2
            pos += 3
        else:
            shared, pos = _read_varint(block, pos, limit)
            non_shared, pos = _read_varint(block, pos, limit)
            value_len, pos = _read_varint(block, pos, limit)
        value_start = pos + non_shared
        value_end = value_start + value_len
        if shared > len(key) or value_end > limit:
            raise _Corrupt("bad entry in block")
        key = key[:shared] + block[pos:value_start]
        yield key, block[value_start:value_end]
        pos = value_end


def _read_table(table: bytes) -> dict[bytes, bytes]:
    if len(table) < _FOOTER_SIZE:
        raise _Corrupt("file is too short to be an sstable")
    (magic,) = struct.unpack_from("<Q", table, len(table) - 8)
    if magic != _TABLE_MAGIC:
        raise _Corrupt("not an sstable (bad magic number)")
    footer = table[len(table) - _FOOTER_SIZE :]
    _, rest = _read_block(table, footer)  # the metaindex block is empty; just check it
    index, _ = _read_block(table, rest)
    entries = {}
    for _, handle in _block_entries(index):
        block, _ = _read_block(table, handle)
        entries.update(_block_entries(block))
    return entries


# Start address of arrays read from a checkpoint: XLA's CPU client adopts a host buffer aligned
# like this in ``jax.device_put`` without copying it.
_ALIGNMENT = 64

# Tensors at least this large are read into memory mapped for them alone (see _empty_aligned).
_MAP_THRESHOLD = 1 << 20


def _new_map(nbytes: int):
    flags = getattr(mmap, "MAP_PRIVATE", 0) | getattr(mmap, "MAP_ANONYMOUS", 0)
    try:
        # All pages faulted in by one system call, instead of one fault per page while reading.
        return mmap.mmap(-1, nbytes, flags=flags | mmap.MAP_POPULATE)
    except (AttributeError, OSError, TypeError, ValueError):
        pass
    try:
        return mmap.mmap(-1, nbytes)
    except (OSError, ValueError):
        return None


class _MapPool:
    """Memory maps of arrays read from checkpoints, reused once those arrays are freed.

    A restore replaces variables with arrays read into new memory, and the kernel zero-fills
    every new page and unmaps every freed one: for 1 GB that was most of a repeated restore's
    time (TF's allocator reuses the memory it freed). A map whose array has been freed (the
    values that a later restore replaced) is kept here and handed to the next read of the same
    size, its pages still resident. Maps not reused within ``_POOL_SECONDS`` are unmapped, so
    that memory is not held once restores stop.
    """

    def __init__(self):
        # Reentrant: a finalizer run by the garbage collector can hand a map back while this
        # thread holds the lock.
        self._lock = threading.RLock()
        self._free = {}  # nbytes -> [(time freed, map)]
        self._timer = None

    def array(self, nbytes: int, dtype: np.dtype, shape: tuple[int, ...]):
        """An array on a reused or new map; the map returns here when the array is freed."""
        with self._lock:
            maps = self._free.get(nbytes)
            mapped = maps.pop()[1] if maps else None
        if mapped is None:
            mapped = _new_map(nbytes)
            if mapped is None:
                return None
        owner = np.frombuffer(mapped, dtype)
        # Every view of ``owner`` (and so every array that JAX adopted the memory of) refers to
        # it as its ``base``: it is freed only when the memory is no longer in use.
        weakref.finalize(owner, self._give, mapped).atexit = False
        return owner.reshape(shape)

    def _give(self, mapped) -> None:
        with self._lock:
            self._free.setdefault(len(mapped), []).append((time.monotonic(), mapped))
            self._schedule()

    def _schedule(self) -> None:
        if self._timer is None and self._free:
            self._timer = threading.Timer(_POOL_SECONDS, self._trim)
            self._timer.daemon = True
            self._timer.start()

    def _trim(self) -> None:
        old = []
        with self._lock:
            self._timer = None
            limit = time.monotonic() - _POOL_SECONDS
            for nbytes, maps in list(self._free.items()):
                old += [m for t, m in maps if t <= limit]
                maps[:] = [(t, m) for t, m in maps if t > limit]
                if not maps:
                    del self._free[nbytes]
            self._schedule()
        for mapped in old:
            try:
                mapped.close()
            except BufferError:  # still exported after all: unmapped when the last user goes
                pass


_POOL_SECONDS = 5.0
_POOL = _MapPool()


def _empty_aligned(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An uninitialised C-contiguous array whose data starts on an ``_ALIGNMENT`` boundary.

    Large ones live in an anonymous memory map of their own (page aligned, reused by a later
    read once the array is freed, see ``_MapPool``): NumPy asks for transparent huge pages on
    its large allocations, and on a host whose memory is fragmented the kernel then stalls on
    compaction while the pages are first touched, which made reading a checkpoint several
    times slower.
    """
    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if nbytes >= _MAP_THRESHOLD:
        out = _POOL.array(nbytes, dtype, shape)
        if out is not None:
            return out
    raw = np.empty(nbytes + _ALIGNMENT, np.uint8)
    start = -raw.ctypes.data % _ALIGNMENT
    return raw[start : start + nbytes].view(dtype).reshape(shape)


def _read_checksummed(f, offset: int, flat: np.ndarray) -> tuple[int, int]:
    """Fills the uint8 array ``flat`` from ``f`` at ``offset``, checksumming each chunk as it
    arrives; returns ``(bytes read, crc32c of them)`` (short at end of file)."""
    view = memoryview(flat)
    readable = flat.view()
    readable.flags.writeable = False  # the crc32c extension only takes read-only buffers
    f.seek(offset)
    done = crc = 0
    while done < len(view):
        n = f.readinto(view[done : done + _IO_CHUNK])
        if not n:
            break
        crc = _crc(readable[done : done + n], crc)
        done += n
    return done, crc


def _read_bytes(f, offset: int, size: int) -> bytes:
    """Up to ``size`` bytes of ``f`` from ``offset`` (fewer at end of file)."""
    f.seek(offset)
    parts = []
    got = 0
    while got < size:
        part = f.read(min(size - got, _IO_CHUNK))
        if not part:
            break
        parts.append(part)
        got += len(part)
    return parts[0] if len(parts) == 1 else b"".join(parts)


class BundleReader:
    """Reads a TensorFlow V2 checkpoint (``prefix.index`` plus its data files).

    Opening reads and verifies the whole index; tensors are read one at a time by ``read``,
    each checked against its stored CRC32C. Corrupt or truncated files raise
    ``DataLossError`` naming the file; a missing file raises ``NotFoundError``.
    """

    def __init__(self, prefix: str):
        self._prefix = prefix
        self._index_path = index_filename(prefix)
        errors = _errors()
        try:
            with open(self._index_path, "rb") as f:
                table = f.read()
        except FileNotFoundError:
            raise errors.NotFoundError(
                None,
                None,
                f"Unsuccessful TensorSliceReader constructor: Failed to find any matching files "
                f"for {prefix} ({self._index_path} does not exist)",
            ) from None
        try:
            self._raw = _read_table(table)
            header = self._raw.pop(b"", None)
            if header is None:
                raise _Corrupt("failed to seek to header entry")
            self._read_header(header)
        except _Corrupt as e:
            raise self._data_loss(self._index_path, str(e)) from None
        self._entries: dict[bytes, BundleEntry] = {}

    def _data_loss(self, path: str, detail: str):
        if path == self._index_path:
            message = (
                f"Unable to read file ({path}). Perhaps the file is corrupt or was produced by a "
                f"newer version of TensorFlow with format changes ({detail})"
            )
        else:
            message = f"Checkpoint data file {path} is corrupt or truncated: {detail}"
        return _errors().DataLossError(None, None, message)

    def _read_header(self, buf: bytes) -> None:
        num_shards, endianness = 0, 0
        producer, min_consumer, bad_consumers = 0, 0, []
        for number, value in _parse_fields(buf):
            if number == 1:
                num_shards = _signed64(value)
            elif number == 2:
                endianness = value
            elif number == 3:
                for version_number, version_value in _parse_fields(value):
                    if version_number == 1:
                        producer = _signed64(version_value)
                    elif version_number == 2:
                        min_consumer = _signed64(version_value)
                    elif version_number == 3:
                        bad_consumers.append(_signed64(version_value))
        if num_shards < 1 and self._raw:
            raise _Corrupt(f"invalid number of shards {num_shards}")
        self._num_shards = num_shards
        self._swap_bytes = endianness == 1
        errors = _errors()
        if producer < _BUNDLE_MIN_PRODUCER:
            raise errors.InvalidArgumentError(
                None, None, f"Checkpoint producer version {producer} below min producer 0"
            )
        if min_consumer > _BUNDLE_VERSION:
            raise errors.InvalidArgumentError(
                None,
                None,
                f"Checkpoint min consumer version {min_consumer} above current version "
                f"{_BUNDLE_VERSION} for TensorFlow",
            )
        if _BUNDLE_VERSION in bad_consumers:
            raise errors.InvalidArgumentError(
                None, None, f"Checkpoint disallows consumer version {_BUNDLE_VERSION}"
            )

    @property
    def prefix(self) -> str:
        return self._prefix

    def _entry(self, key: bytes) -> BundleEntry | None:
        entry = self._entries.get(key)
        if entry is None:
            raw = self._raw.get(key)
            if raw is None:
                return None
            try:
                entry = BundleEntry.decode(raw)
            except _Corrupt as e:
                raise self._data_loss(
                    self._index_path, f"entry for key {key!r} not parseable: {e}"
                ) from None
            self._entries[key] = entry
        return entry

    def entry(self, name: str) -> BundleEntry:
        """The stored metadata of tensor ``name``; raises ``NotFoundError`` if absent."""
        entry = self._entry(_key(name))
        if entry is None:
            raise _errors().NotFoundError(None, None, f"Key {name} not found in checkpoint")
        return entry

    def keys(self) -> list[str]:
        """The names of the tensors in the checkpoint, sorted."""
        # Keys starting with a NUL byte hold the pieces of partitioned tensors.
        return sorted(k.decode("utf-8", "surrogateescape") for k in self._raw if k[:1] != b"\0")

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and bool(name) and _key(name) in self._raw

    def __iter__(self):
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def dtype_and_shape(self, name: str) -> tuple[np.dtype, tuple[int, ...]]:
        """The numpy dtype (``object`` for strings) and shape of tensor ``name``."""
        entry = self.entry(name)
        return self._numpy_dtype(name, entry), entry.shape

    def variable_to_shape_map(self) -> dict[str, list[int]]:
        """``{name: shape}`` for every tensor, as ``get_variable_to_shape_map`` returns."""
        return {name: list(self.entry(name).shape) for name in self.keys()}

    def variable_to_dtype_map(self) -> dict[str, np.dtype]:
        """``{name: numpy dtype}`` for every tensor (``object`` for strings)."""
        return {name: self.dtype_and_shape(name)[0] for name in self.keys()}

    def _numpy_dtype(self, name: str, entry: BundleEntry) -> np.dtype:
        dtype = _NUMPY_BY_ENUM.get(entry.dtype_enum)
        if dtype is None:
            raise _errors().UnimplementedError(
                None, None, f"Tensor {name} has a DataType ({entry.dtype_enum}) tfstyle can't read"
            )
        return dtype

    def read(self, name: str) -> np.ndarray:
        """The value of tensor ``name`` as a new numpy array (strings as an object array of bytes)."""
        entry = self.entry(name)
        dtype = self._numpy_dtype(name, entry)
        if entry.slices:
            return self._read_partitioned(name, entry, dtype)
        return self._read_entry(name, entry, dtype)

    def _read_partitioned(self, name: str, entry: BundleEntry, dtype: np.dtype) -> np.ndarray:
        out = _empty_aligned(entry.shape, dtype)
        key = _key(name)
        for extents in entry.slices:
            if len(extents) != len(entry.shape):
                raise self._data_loss(self._index_path, f"slice of {name} has the wrong rank")
            piece_entry = self._entry(_slice_key(key, extents))
            if piece_entry is None:
                raise self._data_loss(self._index_path, f"a slice of {name} is missing")
            index = tuple(
                slice(None) if length < 0 else slice(start, start + length)
                for start, length in extents
            )
            piece = self._read_entry(name, piece_entry, dtype)
            if piece.shape != out[index].shape:
                raise self._data_loss(self._index_path, f"a slice of {name} has the wrong shape")
            out[index] = piece
        return out

    def _open_data(self, name: str, entry: BundleEntry) -> tuple[str, object]:
        if entry.shard_id >= max(self._num_shards, 1):
            raise self._data_loss(self._index_path, f"{name} is in nonexistent shard")
        path = data_filename(self._prefix, entry.shard_id, self._num_shards)
        try:
            return path, open(path, "rb", buffering=0)
        except FileNotFoundError:
            raise _errors().NotFoundError(
                None, None, f"{path}: data file of checkpoint {self._prefix} not found"
            ) from None

    def _read_entry(self, name: str, entry: BundleEntry, dtype: np.dtype) -> np.ndarray:
        if entry.dtype_enum == DT_STRING:
            return self._read_strings(name, entry)
        count = int(np.prod(entry.shape, dtype=np.int64))
        if entry.size != count * dtype.itemsize:
            raise self._data_loss(
                self._index_path,
                f"Invalid size in bundle entry: key {name}; stored size {entry.size}; "
                f"expected size {count * dtype.itemsize}",
            )
        out = _empty_aligned(entry.shape, dtype)
        flat = out.reshape(-1).view(np.uint8)
        actual = 0
        if flat.size:
            path, f = self._open_data(name, entry)
            with f:
                got, actual = _read_checksummed(f, entry.offset, flat)
            if got != flat.size:
                raise self._data_loss(
                    path,
                    f"unexpected end of file reading {name}: {entry.size} bytes at offset "
                    f"{entry.offset}, got {got}",
                )
        if actual != _unmask_crc(entry.crc32c):
            raise self._checksum_error(name, entry, actual)
        if self._swap_bytes:
            out.byteswap(inplace=True)
        return out

    def _checksum_error(self, name: str, entry: BundleEntry, actual: int):
        path = data_filename(self._prefix, entry.shard_id, self._num_shards)
        return self._data_loss(
            path,
            f"checksum of {name} does not match: stored {_unmask_crc(entry.crc32c):08x}, "
            f"computed {actual:08x} on {entry.size} bytes at offset {entry.offset}",
        )

    def _read_strings(self, name: str, entry: BundleEntry) -> np.ndarray:
        count = int(np.prod(entry.shape, dtype=np.int64))
        out = np.empty(entry.shape, dtype=object)
        if entry.size == 0:
            # TF skips reading (and checking) empty string data.
            out.fill(b"")
            return out
        if entry.size < count:
            raise self._data_loss(self._index_path, f"Invalid size in bundle entry: key {name}")
        path, f = self._open_data(name, entry)
        with f:
            buf = _read_bytes(f, entry.offset, entry.size)
        if len(buf) != entry.size:
            raise self._data_loss(
                path,
                f"unexpected end of file reading {name}: {entry.size} bytes at offset "
                f"{entry.offset}, got {len(buf)}",
            )
        try:
            lengths = []
            pos = 0
            crc = 0
            fmt32, fmt64 = (">I", ">Q") if self._swap_bytes else ("<I", "<Q")
            for _ in range(count):
                n, pos = _read_varint(buf, pos)
                lengths.append(n)
                crc = _crc(struct.pack(fmt32, n) if n <= 0xFFFFFFFF else struct.pack(fmt64, n), crc)
            if pos + 4 > len(buf):
                raise _Corrupt("string lengths longer than the entry")
            (stored,) = struct.unpack_from(fmt32[0] + "I", buf, pos)
            if _unmask_crc(stored) != crc:
                raise _Corrupt(f"the length checksum of {name} does not match")
            crc = _crc(buf[pos : pos + 4], crc)
            pos += 4
            if pos + sum(lengths) != len(buf):
                raise _Corrupt(f"string lengths of {name} do not add up to the entry's size")
            crc = _crc(np.frombuffer(buf, np.uint8, offset=pos), crc)  # a view, not a copy
        except _Corrupt as e:
            raise self._data_loss(path, str(e)) from None
        if crc != _unmask_crc(entry.crc32c):
            raise self._checksum_error(name, entry, crc)
        flat = out.reshape(-1)
        for i, n in enumerate(lengths):
            flat[i] = buf[pos : pos + n]
            pos += n
        return out


def list_variables(prefix: str) -> list[tuple[str, list[int]]]:
    """``[(name, shape)]`` of the tensors in the checkpoint at ``prefix``, sorted by name."""
    reader = BundleReader(prefix)
    return [(name, list(reader.entry(name).shape)) for name in reader.keys()]
