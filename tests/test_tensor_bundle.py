"""TF V2 checkpoint files (tensor bundles), read and written without TensorFlow, against real TF."""

import hashlib
import os
import struct
import tracemalloc

import ml_dtypes
import numpy as np
import pytest

from tests.oracle import tf1
from tfstyle.framework import errors
from tfstyle.train import tensor_bundle as tb

DATA = ".data-00000-of-00001"


def _tensors():
    """One tensor of every supported dtype, plus scalars, empty tensors and strings."""
    rng = np.random.default_rng(0)
    out = {}
    for dtype in [np.float16, np.float32, np.float64, ml_dtypes.bfloat16]:
        name = np.dtype(dtype).name
        out[f"float/{name}"] = rng.standard_normal((3, 4)).astype(dtype)
        out[f"float/{name}_scalar"] = np.asarray(-1.5, dtype)
    for dtype in [np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16, np.uint32, np.uint64]:
        info = np.iinfo(dtype)
        out[f"int/{np.dtype(dtype).name}"] = np.array(
            [[info.min, info.max, 0], [1, 2, 3]], dtype=dtype
        )
    out["bool"] = np.array([[True, False, True]])
    out["complex/64"] = (rng.standard_normal(5) + 1j * rng.standard_normal(5)).astype(np.complex64)
    out["complex/128"] = np.array([[1 + 2j], [-3.5 - 0.25j]], np.complex128)
    out["empty/float"] = np.zeros((0, 7), np.float32)
    out["empty/int"] = np.zeros((2, 0, 3), np.int64)
    out["empty/string"] = np.zeros((0,), dtype=object)
    out["string/vector"] = np.array([b"hello", b"", b"\x00\xff binary", b"y" * 1000], dtype=object)
    out["string/matrix"] = np.array([[b"a", b"bc"], [b"def", "\u00e9".encode()]], dtype=object)
    out["string/scalar"] = np.array(b"a scalar string", dtype=object)
    out["large"] = rng.standard_normal((700, 1000)).astype(np.float32)  # past TF's 1 MiB buffer
    return out


def _tf_dtype(tf, array):
    return tf.string if array.dtype == object else tf.as_dtype(array.dtype)


def _tf_save(prefix, tensors):
    """Saves ``tensors`` with TF's own SaveV2 kernel in a graph-mode session."""
    tf = tf1()
    names = sorted(tensors)
    with tf.Graph().as_default():
        holders = [tf.placeholder(_tf_dtype(tf, tensors[n]), tensors[n].shape) for n in names]
        save = tf.raw_ops.SaveV2(
            prefix=prefix, tensor_names=names, shape_and_slices=[""] * len(names), tensors=holders
        )
        with tf.Session() as sess:
            sess.run(save, dict(zip(holders, (tensors[n] for n in names))))


def _tf_restore(prefix, tensors):
    """Reads back every name in ``tensors`` with TF's RestoreV2 kernel."""
    tf = tf1()
    names = sorted(tensors)
    with tf.Graph().as_default():
        restored = tf.raw_ops.RestoreV2(
            prefix=prefix,
            tensor_names=names,
            shape_and_slices=[""] * len(names),
            dtypes=[_tf_dtype(tf, tensors[n]) for n in names],
        )
        with tf.Session() as sess:
            return dict(zip(names, sess.run(restored)))


def _assert_same(actual, expected, from_tf=False):
    if from_tf and expected.dtype == object:  # TF hands back a scalar string as bytes
        actual = np.asarray(actual, dtype=object)
    actual = np.asarray(actual)
    assert actual.shape == expected.shape
    if expected.dtype == object:
        assert actual.dtype == object
        assert actual.ravel().tolist() == expected.ravel().tolist()
    else:
        assert actual.dtype == expected.dtype
        np.testing.assert_array_equal(actual, expected)


def _files(directory):
    return sorted(os.listdir(directory))


def test_reads_what_tf_writes(tmp_path):
    tf = tf1()
    tensors = _tensors()
    prefix = str(tmp_path / "model.ckpt-7")
    _tf_save(prefix, tensors)

    reader = tb.BundleReader(prefix)
    assert reader.keys() == sorted(tensors)
    for name, expected in tensors.items():
        assert name in reader
        _assert_same(reader.read(name), expected)
        dtype, shape = reader.dtype_and_shape(name)
        assert shape == expected.shape and dtype == expected.dtype
        assert reader.entry(name).dtype_enum == _tf_dtype(tf, expected).as_datatype_enum
    assert "missing" not in reader and "" not in reader
    assert tb.list_variables(prefix) == tf.train.list_variables(prefix)


def test_tf_reads_what_tfstyle_writes(tmp_path):
    tf = tf1()
    tensors = _tensors()
    prefix = str(tmp_path / "ckpt")
    tb.write_bundle(prefix, tensors)
    assert _files(tmp_path) == ["ckpt" + DATA, "ckpt.index"]

    reader = tf.train.NewCheckpointReader(prefix)
    assert reader.get_variable_to_shape_map() == {n: list(a.shape) for n, a in tensors.items()}
    dtypes = reader.get_variable_to_dtype_map()
    for name, expected in tensors.items():
        assert dtypes[name] == _tf_dtype(tf, expected)
        _assert_same(reader.get_tensor(name), expected, from_tf=True)
    for name, value in _tf_restore(prefix, tensors).items():
        _assert_same(value, tensors[name], from_tf=True)


def test_files_are_byte_identical_to_tf(tmp_path):
    tensors = _tensors()
    _tf_save(str(tmp_path / "tf"), tensors)
    tb.write_bundle(str(tmp_path / "ours"), tensors)
    for suffix in (".index", DATA):
        assert (tmp_path / f"ours{suffix}").read_bytes() == (tmp_path / f"tf{suffix}").read_bytes()


def _index_data_blocks(prefix):
    """The number of data blocks in an index file, from its index block."""
    table = open(prefix + ".index", "rb").read()
    _, rest = tb._read_block(table, table[-48:])
    index, _ = tb._read_block(table, rest)
    return len(list(tb._block_entries(index)))


def test_many_variables_span_several_index_blocks(tmp_path):
    tf = tf1()
    # Long, dissimilar names so that the index outgrows TF's 256 KiB blocks several times.
    tensors = {
        f"layer_{i:04d}/" + hashlib.sha256(str(i).encode()).hexdigest() * 6: np.full(
            (i % 3,), i, np.int32
        )
        for i in range(2000)
    }
    _tf_save(str(tmp_path / "tf"), tensors)
    assert _index_data_blocks(str(tmp_path / "tf")) >= 3

    reader = tb.BundleReader(str(tmp_path / "tf"))
    assert reader.keys() == sorted(tensors)
    for name, expected in tensors.items():
        _assert_same(reader.read(name), expected)

    tb.write_bundle(str(tmp_path / "ours"), tensors)
    for suffix in (".index", DATA):
        assert (tmp_path / f"ours{suffix}").read_bytes() == (tmp_path / f"tf{suffix}").read_bytes()
    tf_reader = tf.train.NewCheckpointReader(str(tmp_path / "ours"))
    for name in sorted(tensors)[::97]:
        _assert_same(tf_reader.get_tensor(name), tensors[name], from_tf=True)


def test_partitioned_and_sharded_checkpoints_from_tf_saver(tmp_path):
    tf = tf1()
    with tf.Graph().as_default():
        with tf.device("/cpu:0"):
            p = tf.get_variable("p", [10, 4], partitioner=tf.fixed_size_partitioner(3))
            tf.Variable(np.int64(42), name="global_step")
        with tf.device("/cpu:1"):
            q = tf.get_variable("scope/q", [3, 7], partitioner=tf.fixed_size_partitioner(2, axis=1))
        saver = tf.train.Saver(sharded=True)
        with tf.Session(config=tf.ConfigProto(device_count={"CPU": 2})) as sess:
            sess.run(tf.global_variables_initializer())
            expected = dict(
                zip(["p", "scope/q"], sess.run([tf.concat(list(p), 0), tf.concat(list(q), 1)]))
            )
            expected["global_step"] = np.int64(42)
            prefix = saver.save(sess, str(tmp_path / "model"))
    assert os.path.exists(tb.data_filename(prefix, 1, 2))

    reader = tb.BundleReader(prefix)
    assert tb.list_variables(prefix) == tf.train.list_variables(prefix)
    assert reader.keys() == sorted(expected)
    for name, value in expected.items():
        _assert_same(reader.read(name), np.asarray(value))


# --- corruption and missing files -------------------------------------------------------------


@pytest.fixture
def saved(tmp_path):
    prefix = str(tmp_path / "ckpt")
    tb.write_bundle(
        prefix,
        {
            "a": np.arange(100, dtype=np.float32),
            "b": np.array([b"x", b"yz"], dtype=object),
            "c": np.arange(10, dtype=np.int64),
        },
    )
    return prefix


def _flip(path, offset):
    data = bytearray(open(path, "rb").read())
    data[offset] ^= 0x40
    open(path, "wb").write(bytes(data))


def _truncate(path, size):
    data = open(path, "rb").read()
    open(path, "wb").write(data[:size])


def _read_all(prefix):
    reader = tb.BundleReader(prefix)
    return {name: reader.read(name) for name in reader.keys()}


@pytest.mark.parametrize(
    "damage, which",
    [
        (lambda path: _truncate(path, 450), DATA),  # "c" runs past the end
        (lambda path: _truncate(path, 0), DATA),
        (lambda path: _flip(path, 17), DATA),  # inside "a"
        (lambda path: _flip(path, 401), DATA),  # a string length
        (lambda path: _flip(path, 404), DATA),  # the string length checksum
        (lambda path: _flip(path, 407), DATA),  # string bytes
        (lambda path: _flip(path, 5), ".index"),  # inside the data block
        (lambda path: _flip(path, os.path.getsize(path) - 60), ".index"),  # the index block
        (lambda path: _flip(path, os.path.getsize(path) - 1), ".index"),  # the magic number
        (lambda path: _truncate(path, os.path.getsize(path) - 1), ".index"),
        (lambda path: _truncate(path, 30), ".index"),
        (lambda path: _truncate(path, 0), ".index"),
    ],
)
def test_corruption_raises_data_loss_naming_the_file(saved, damage, which):
    path = saved + which
    damage(path)
    with pytest.raises(errors.DataLossError) as info:
        _read_all(saved)
    assert path in str(info.value)


def test_flipped_byte_in_data_caught_by_tf_too(saved):
    # Sanity check of the test itself: TF also rejects the damaged file.
    tf = tf1()
    _flip(saved + DATA, 17)
    with pytest.raises(tf.errors.DataLossError):
        _tf_restore(saved, {"a": np.zeros(100, np.float32)})


def test_missing_files_raise_not_found(saved, tmp_path):
    with pytest.raises(errors.NotFoundError) as info:
        tb.BundleReader(str(tmp_path / "nothing"))
    assert str(tmp_path / "nothing.index") in str(info.value)

    reader = tb.BundleReader(saved)
    with pytest.raises(errors.NotFoundError, match="not found in checkpoint"):
        reader.read("zzz")
    os.remove(saved + DATA)
    with pytest.raises(errors.NotFoundError) as info:
        reader.read("a")
    assert saved + DATA in str(info.value)


# --- atomic saves -----------------------------------------------------------------------------


def test_crash_mid_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    prefix = str(tmp_path / "model.ckpt")
    old = {"w": np.arange(1000, dtype=np.float32), "s": np.array([b"old"], dtype=object)}
    tb.write_bundle(prefix, old)
    files = _files(tmp_path)

    def crash(f, entries):  # dies after the data temp file was fully written
        raise KeyboardInterrupt

    monkeypatch.setattr(tb, "_write_index", crash)
    new = {"w": np.zeros(5000, np.float32), "s": np.array([b"new"], dtype=object)}
    with pytest.raises(KeyboardInterrupt):
        tb.write_bundle(prefix, new)
    assert _files(tmp_path) == files
    for name, value in _read_all(prefix).items():
        _assert_same(value, old[name])

    # A bad tensor partway through the data file: same outcome.
    monkeypatch.undo()
    with pytest.raises(TypeError):
        tb.write_bundle(prefix, {"a": np.ones(3), "b": np.array([b"x", 5], dtype=object)})
    assert _files(tmp_path) == files
    _assert_same(_read_all(prefix)["w"], old["w"])

    tb.write_bundle(prefix, new)
    assert _files(tmp_path) == files
    for name, value in tf1().train.load_checkpoint(prefix).get_variable_to_shape_map().items():
        assert value == list(new[name].shape)


# --- inputs -----------------------------------------------------------------------------------


def test_input_coercions(tmp_path):
    prefix = str(tmp_path / "sub" / "dir" / "ckpt")  # directories are created
    base = np.arange(12, dtype=np.float64).reshape(3, 4)
    tb.write_bundle(
        prefix,
        {
            "transposed": base.T,
            "big_endian": base.astype(">i4"),
            "fixed_bytes": np.array([b"ab", b"c"]),
            "unicode": np.array(["h\u00e9", ""]),
            "py_scalar": 3.0,
        },
    )
    reader = tb.BundleReader(prefix)
    _assert_same(reader.read("transposed"), base.T.copy())
    _assert_same(reader.read("big_endian"), base.astype("<i4"))
    _assert_same(reader.read("fixed_bytes"), np.array([b"ab", b"c"], dtype=object))
    _assert_same(reader.read("unicode"), np.array(["h\u00e9".encode(), b""], dtype=object))
    _assert_same(reader.read("py_scalar"), np.asarray(3.0))
    assert reader.variable_to_shape_map()["transposed"] == [4, 3]

    with pytest.raises(TypeError, match="unsupported dtype"):
        tb.write_bundle(prefix, {"t": np.array(["2020-01-01"], dtype="datetime64[D]")})
    with pytest.raises(errors.InvalidArgumentError):
        tb.write_bundle(prefix, {"": np.ones(2)})


def test_memory_stays_near_one_tensor(tmp_path):
    prefix = str(tmp_path / "ckpt")
    tensors = {f"v{i}": np.full((1 << 20,), i, np.float32) for i in range(8)}  # 8 x 4 MiB
    tracemalloc.start()
    try:
        tb.write_bundle(prefix, tensors)
        _, write_peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        reader = tb.BundleReader(prefix)
        for name in reader.keys():
            value = reader.read(name)
            assert value[0] == int(name[1:])
            del value
        _, read_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert write_peak < 2 << 20
    assert read_peak < 6 << 20


def test_snappy_blocks():
    # Literal "abc", then a copy overlapping its own output, then a 2-byte-offset copy.
    stream = bytes([15, 2 << 2]) + b"abc" + bytes([((9 - 4) << 2) | 1, 3])
    stream += bytes([((3 - 1) << 2) | 2]) + struct.pack("<H", 12)
    assert tb._snappy_decompress(stream) == b"abcabcabcabc" + b"abc"
    long_literal = b"z" * 100
    stream = bytes([100, 60 << 2, 99]) + long_literal
    assert tb._snappy_decompress(stream) == long_literal
    with pytest.raises(tb._Corrupt):
        tb._snappy_decompress(bytes([5, 0 << 2]) + b"a")  # promised length differs


def test_read_memory_is_reused_only_once_freed(tmp_path, monkeypatch):
    import gc
    import time

    import jax

    prefix = str(tmp_path / "m")
    value = np.arange(1 << 19, dtype=np.float32)  # 2 MB: read into a memory map of its own
    tb.write_bundle(prefix, {"v": value})
    reader = tb.BundleReader(prefix)
    a = reader.read("v")
    address = a.ctypes.data
    view = a[1:]
    del a
    gc.collect()
    b = reader.read("v")  # the first array's memory is still used by ``view``
    assert b.ctypes.data != address
    del view
    gc.collect()
    c = reader.read("v")  # now it is free: reused, and filled with the file's values
    assert c.ctypes.data == address
    np.testing.assert_array_equal(c, value)
    # A CPU device array may alias the host memory itself (a GPU one is a copy).
    on_device = jax.device_put(c, jax.devices("cpu")[0])
    del c
    gc.collect()
    d = reader.read("v")
    assert d.ctypes.data != address
    np.testing.assert_array_equal(np.asarray(on_device), value)
    np.testing.assert_array_equal(b, value)
    # Maps nobody reuses are unmapped after a while.
    monkeypatch.setattr(tb, "_POOL_SECONDS", 0.05)
    del b, d, on_device
    gc.collect()
    deadline = time.monotonic() + 30  # a timer set before may still be waiting its 5 s
    while tb._POOL._free and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not tb._POOL._free


@pytest.mark.parametrize("chunk", [7, 64, 1 << 20])
def test_device_arrays_stream_the_same_bytes(tmp_path, monkeypatch, chunk):
    # On a GPU the writer copies a device array a slice at a time (io_ops.DeviceBytes); here the
    # same stream runs on CPU arrays, with chunks that split elements' runs in odd places.
    import jax

    from tfstyle.ops import io_ops

    monkeypatch.setattr(tb, "_IO_CHUNK", chunk)
    numeric = {k: v for k, v in _tensors().items() if v.dtype.kind not in "OSU"}
    numeric["long"] = np.arange(1000, dtype=np.float32).reshape(10, 100)
    numeric = {k: v for k, v in numeric.items() if v.dtype.itemsize <= 4 or jax.config.x64_enabled}
    tb.write_bundle(str(tmp_path / "plain"), numeric)
    streamed = {k: jax.device_put(v) for k, v in numeric.items()}
    tb.write_bundle(str(tmp_path / "streamed"), streamed, host=io_ops.DeviceBytes)
    for suffix in (".index", DATA):
        with (
            open(tmp_path / f"plain{suffix}", "rb") as a,
            open(tmp_path / f"streamed{suffix}", "rb") as b,
        ):
            assert a.read() == b.read(), suffix
