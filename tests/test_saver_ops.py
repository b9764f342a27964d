"""The Saver's graph ops run with ``sess.run`` (SaveV2, RestoreV2, MergeV2Checkpoints, ...),
differential against real TF: files, values, imported ``.meta`` graphs and errors."""

import os

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1
from tfstyle.framework import errors, graph_io
from tfstyle.ops import io_ops
from tfstyle.train import tensor_bundle

VALUES = {
    "f32": np.arange(6, dtype=np.float32).reshape(2, 3),
    "f64": np.array([[np.pi]], np.float64),
    "i64": np.array([2**40, -1], np.int64),
    "scope/b": np.array([True, False]),
    "n": np.array(7, np.int32),
}


def _variables(lib, zero=False):
    return {
        name: lib.Variable(np.zeros_like(v) if zero else v, name=name) for name, v in VALUES.items()
    }


def _assert_values(actual, expected=VALUES):
    for name, e in expected.items():
        a = np.asarray(actual[name])
        assert a.dtype == e.dtype, name
        np.testing.assert_array_equal(a, e, err_msg=name)


def _files(prefix):
    return {s: open(prefix + s, "rb").read() for s in (".index", ".data-00000-of-00001")}


def _run_save(lib, sess, saver, prefix):
    sd = saver.saver_def
    return sess.run(sd.save_tensor_name, {sd.filename_tensor_name: prefix})


def _run_restore(sess, saver, prefix):
    sd = saver.saver_def
    return sess.run(sd.restore_op_name, {sd.filename_tensor_name: prefix})


@pytest.mark.parametrize("sharded", [False, True])
def test_running_the_save_and_restore_ops_interoperates_with_tf(tmp_path, sharded):
    tf = tf1()
    ours, theirs = str(tmp_path / "ours" / "m"), str(tmp_path / "tf" / "m")
    for d in ("ours", "tf", "direct"):  # a sharded save creates only "<prefix>_temp"
        os.makedirs(tmp_path / d)
    # The ops are TF's, op for op.
    graphs = []
    for lib in (tf, tfs):
        with lib.Graph().as_default() as g:
            _variables(lib)
            saver = lib.train.Saver(sharded=sharded)
            graphs.append(
                (
                    [
                        (
                            op.name,
                            op.type,
                            [t.name for t in op.inputs],
                            sorted(c.name for c in op.control_inputs),
                        )
                        for op in g.get_operations()
                        if op.name.startswith("save")
                    ],
                    str(saver.saver_def),
                )
            )
    assert graphs[0] == graphs[1]
    # tfstyle runs its save op; TF runs its own; the files are identical.
    with tfs.Graph().as_default():
        _variables(tfs)
        saver = tfs.train.Saver(sharded=sharded)
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            assert _run_save(tfs, sess, saver, ours) == ours.encode()
            direct = saver.save(sess, str(tmp_path / "direct" / "m"), write_state=False)
    with tf.Graph().as_default():
        _variables(tf)
        saver = tf.train.Saver(sharded=sharded)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            assert _run_save(tf, sess, saver, theirs) == theirs.encode()
    assert sorted(os.listdir(tmp_path / "ours")) == sorted(os.listdir(tmp_path / "tf"))
    assert _files(ours) == _files(theirs) == _files(direct)
    # TF restores tfstyle's file by running its restore op, and the other way round.
    with tf.Graph().as_default():
        vs = _variables(tf, zero=True)
        saver = tf.train.Saver(sharded=sharded)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            assert _run_restore(sess, saver, ours) is None
            _assert_values(sess.run(vs))
    with tfs.Graph().as_default():
        vs = _variables(tfs, zero=True)
        saver = tfs.train.Saver(sharded=sharded)
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            assert _run_restore(sess, saver, theirs) is None
            _assert_values(sess.run(vs))


@pytest.mark.parametrize("sharded", [False, True])
def test_real_tf_meta_graph_runs_its_saver_ops_in_tfstyle(tmp_path, sharded):
    tf = tf1()
    for d in ("ours", "tf"):  # a sharded save creates only "<prefix>_temp"
        os.makedirs(tmp_path / d)
    with tf.Graph().as_default():
        vs = _variables(tf, zero=True)
        x = tf.placeholder(tf.float32, [None, 3], name="x")
        tf.matmul(x, tf.transpose(vs["f32"]), name="y")
        saver = tf.train.Saver(sharded=sharded)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run([v.assign(VALUES[n]) for n, v in vs.items()])
            theirs = saver.save(sess, str(tmp_path / "tf" / "m"))
    ours = str(tmp_path / "ours" / "m")
    # import_meta_graph, then the restore op by name with the filename fed.
    with tfs.Graph().as_default():
        tfs.train.import_meta_graph(theirs + ".meta")
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            sess.run("save/restore_all", {"save/Const:0": theirs})
            _assert_values({n: sess.run(n + "/Read/ReadVariableOp:0") for n in VALUES})
            y = sess.run("y:0", {"x:0": np.ones((1, 3), np.float32)})
            np.testing.assert_array_equal(y, [[3.0, 12.0]])
            # Its save op writes what TF wrote.
            save_tensor = "save/Identity:0" if sharded else "save/control_dependency:0"
            assert sess.run(save_tensor, {"save/Const:0": ours}) == ours.encode()
    assert sorted(os.listdir(tmp_path / "ours")) == ["m.data-00000-of-00001", "m.index"]
    assert _files(ours) == _files(theirs)
    # The MetaGraph's graph_def through import_graph_def: the same ops under "import/".
    with tfs.Graph().as_default():
        tfs.import_graph_def(graph_io.read_meta_graph(theirs + ".meta").graph_def)
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            sess.run("import/save/restore_all", {"import/save/Const:0": theirs})
            _assert_values({n: sess.run(f"import/{n}/Read/ReadVariableOp:0") for n in VALUES})


@pytest.mark.parametrize("sharded", [False, True])
def test_tfstyle_meta_graph_saver_ops_run_in_real_tf(tmp_path, sharded):
    tf = tf1()
    for d in ("ours", "back"):  # a sharded save creates only "<prefix>_temp"
        os.makedirs(tmp_path / d)
    with tfs.Graph().as_default():
        _variables(tfs)
        saver = tfs.train.Saver(sharded=sharded)
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            ours = saver.save(sess, str(tmp_path / "ours" / "m"))
    with tf.Graph().as_default():
        saver = tf.train.import_meta_graph(ours + ".meta")
        sd = saver.saver_def
        names = [v.op.name for v in tf.global_variables()]
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(sd.restore_op_name, {sd.filename_tensor_name: ours})
            values = dict(zip(names, sess.run(tf.global_variables())))
            _assert_values(values)
            back = str(tmp_path / "back" / "m")
            assert sess.run(sd.save_tensor_name, {sd.filename_tensor_name: back}) == back.encode()
    assert _files(back) == _files(ours)


def _state(sess):
    return {k: np.array(v) for k, v in sess.state.items()}


def test_restore_op_errors_like_tf_and_state_unchanged(tmp_path):
    tf = tf1()
    prefix = str(tmp_path / "m")
    with tfs.Graph().as_default():
        tfs.Variable([1.0, 2.0], name="v")
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            tfs.train.Saver().save(sess, prefix)
    data = tensor_bundle.data_filename(prefix)
    corrupt = str(tmp_path / "corrupt")
    good = open(data, "rb").read()
    for suffix in (".index", ".data-00000-of-00001"):
        content = open(prefix + suffix, "rb").read()
        if suffix != ".index":
            content = content[:-1] + bytes([content[-1] ^ 0xFF])
        open(corrupt + suffix, "wb").write(content)
    assert open(data, "rb").read() == good
    cases = [
        ({"v": [0.0, 0.0]}, str(tmp_path / "missing"), errors.NotFoundError, "missing"),
        ({"v": [0.0, 0.0]}, corrupt, errors.DataLossError, corrupt),
        ({"v": [0.0, 0.0], "w": [5.0]}, prefix, errors.NotFoundError, "Key w not found"),
        ({"v": [0, 0]}, prefix, errors.InvalidArgumentError, "expected dtype int32"),
    ]
    for variables, path, cls, phrase in cases:
        with tfs.Graph().as_default():
            vs = [tfs.Variable(value, name=name) for name, value in variables.items()]
            saver = tfs.train.Saver(vs)
            with tfs.Session() as sess:
                sess.run(tfs.global_variables_initializer())
                before = _state(sess)
                with pytest.raises(cls) as info:
                    _run_restore(sess, saver, path)
                assert phrase in str(info.value) and "save/RestoreV2" in str(info.value)
                after = _state(sess)
                assert before.keys() == after.keys()
                for k in before:
                    np.testing.assert_array_equal(after[k], before[k])
        with tf.Graph().as_default():
            vs = [tf.Variable(value, name=name) for name, value in variables.items()]
            saver = tf.train.Saver(vs)
            with tf.Session() as sess, pytest.raises(Exception) as info:
                sess.run(tf.global_variables_initializer())
                _run_restore(sess, saver, path)
            assert type(info.value).__name__ == cls.__name__
            assert phrase in str(info.value)


def test_save_op_errors(tmp_path):
    with tfs.Graph().as_default():
        v = tfs.Variable([1.0, 2.0], name="v")
        saver = tfs.train.Saver()
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            with pytest.raises(errors.NotFoundError, match="No such file or directory"):
                _run_save(tfs, sess, saver, str(tmp_path / "a" / "b" / "m"))
            with pytest.raises(ValueError, match="Parent directory of .* doesn't exist"):
                saver.save(sess, str(tmp_path / "a" / "b" / "m"))
            assert os.listdir(tmp_path) == []
            dup = io_ops.save_v2(str(tmp_path / "d"), ["x", "x"], ["", ""], [v.value(), v.value()])
            with pytest.raises(errors.InvalidArgumentError, match="duplicate key: x"):
                sess.run(dup)
            uninit = tfs.Variable(1.0, name="u")
            with pytest.raises(errors.FailedPreconditionError):
                sess.run(tfs.train.Saver([uninit]).saver_def.save_tensor_name)
    assert sorted(os.listdir(tmp_path)) == []


def test_raw_ops_match_tf(tmp_path):
    tf = tf1()
    results = []
    for lib, io in ((tf, tf.raw_ops), (tfs, None)):
        d = tmp_path / ("tf" if io else "ours")
        os.makedirs(d)
        parts = [str(d / "tmp" / "part-00000-of-00002"), str(d / "tmp" / "part-00001-of-00002")]
        with lib.Graph().as_default():
            a = lib.constant([[1.0, 2.0], [3.0, 4.0]])
            b = lib.constant([b"x", b"yy"])
            c = lib.constant(5, lib.int64)
            if io:
                names = io.ShardedFilename(basename="f", shard=1, num_shards=3)
                spec = io.ShardedFilespec(basename="f", num_shards=3)
                s0 = io.SaveV2(
                    prefix=parts[0], tensor_names=["c"], shape_and_slices=[""], tensors=[c]
                )
                s1 = io.SaveV2(
                    prefix=parts[1],
                    tensor_names=["a", "b"],
                    shape_and_slices=["", ""],
                    tensors=[a, b],
                )
                merge = io.MergeV2Checkpoints(
                    checkpoint_prefixes=parts, destination_prefix=str(d / "merged")
                )
                restore = io.RestoreV2(
                    prefix=str(d / "merged"),
                    tensor_names=["a", "b", "c"],
                    shape_and_slices=["2 2 1,1:-", "", ""],
                    dtypes=[tf.float32, tf.string, tf.int64],
                )
            else:
                names = io_ops.sharded_filename("f", 1, 3)
                spec = io_ops.sharded_filespec("f", 3)
                s0 = io_ops.save_v2(parts[0], ["c"], [""], [c])
                s1 = io_ops.save_v2(parts[1], ["a", "b"], ["", ""], [a, b])
                merge = io_ops.merge_v2_checkpoints(parts, str(d / "merged"))
                restore = io_ops.restore_v2(
                    str(d / "merged"),
                    ["a", "b", "c"],
                    ["2 2 1,1:-", "", ""],
                    [tfs.float32, tfs.string, tfs.int64],
                ).outputs
            with lib.Session() as sess:
                first = sess.run([names, spec])
                sess.run([s0, s1])
                sess.run(merge)
                restored = sess.run(restore)
        index = open(d / "merged.index", "rb").read()
        shards = [
            open(tensor_bundle.data_filename(str(d / "merged"), i, 2), "rb").read() for i in (0, 1)
        ]
        results.append(
            (
                first,
                sorted(os.listdir(d)),
                index,
                shards,
                [np.asarray(r).tolist() for r in restored],
            )
        )
    assert results[0] == results[1]
    assert results[1][-1] == [[[3.0, 4.0]], [b"x", b"yy"], 5]


def test_saver_save_creates_directories_like_tf(tmp_path):
    tf = tf1()
    outcomes = []
    for lib in (tf, tfs):
        root = tmp_path / ("tf" if lib is tf else "ours")
        os.makedirs(root)
        with lib.Graph().as_default():
            lib.Variable(1.0, name="v")
            savers = [lib.train.Saver(), lib.train.Saver(sharded=True)]
            with lib.Session() as sess:
                sess.run(lib.global_variables_initializer())
                for i, saver in enumerate(savers):
                    for path in (f"new{i}/m", f"a{i}/b/m"):
                        try:
                            saver.save(sess, str(root / path), write_meta_graph=False)
                            outcomes.append((lib is tf, i, path, "saved"))
                        except ValueError as e:
                            outcomes.append((lib is tf, i, path, str(e).replace(str(root), "")))
        outcomes.append(sorted(os.listdir(root)))
    half = len(outcomes) // 2
    assert [o[1:] if isinstance(o, tuple) else o for o in outcomes[:half]] == [
        o[1:] if isinstance(o, tuple) else o for o in outcomes[half:]
    ]
    assert outcomes[half - 1] == ["new0"]


def test_file_ops_outside_session_run_are_reported():
    with tfs.Graph().as_default() as g:
        tfs.Variable([1.0, 2.0], name="v")
        tfs.train.Saver()
        step, state = tfs.to_jax(g.get_operation_by_name("save/SaveV2"))
        with pytest.raises(errors.UnimplementedError, match="save/SaveV2 .* on the host"):
            step(state)


def test_restored_arrays_become_variables_safely(tmp_path):
    prefix = str(tmp_path / "m")
    value = np.arange(1 << 18, dtype=np.float32)  # large enough to be read into its own map
    with tfs.Graph().as_default():
        tfs.Variable(value, name="a")
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            tfs.train.Saver().save(sess, prefix)
    with tfs.Graph().as_default():
        x = tfs.Variable(np.zeros_like(value), name="x")
        y = tfs.Variable(np.zeros_like(value), name="y")
        restored = io_ops.restore_v2(prefix, ["a"], [""], [tfs.float32]).outputs[0]
        both = tfs.group(x.assign(restored), y.assign(restored))
        one = tfs.group(x.assign(restored))
        step = x.assign_add(np.ones_like(value))  # donates x's buffer
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            sess.run(both)
            sess.run(step)
            np.testing.assert_array_equal(sess.run(y), value)
            np.testing.assert_array_equal(sess.run(x), value + 1)
            for _ in range(3):
                sess.run(one)
                np.testing.assert_array_equal(sess.run(x), value)
                sess.run(step)
                sess.run(step)
                np.testing.assert_array_equal(sess.run(x), value + 2)
            np.testing.assert_array_equal(sess.run(restored), value)
            np.testing.assert_array_equal(sess.run(y), value)


def test_regex_full_match_like_tf():
    # The sharded Saver's "is the prefix on S3" test, as tf.strings.regex_full_match.
    results = []
    for lib in (tf1(), tfs):
        with lib.Graph().as_default():
            s = lib.placeholder(lib.string, [None])
            m = lib.strings.regex_full_match(s, "^s3://.*")
            n = lib.strings.regex_full_match(s, "[a-z]+")
            assert m.op.type == "StaticRegexFullMatch"
            with lib.Session() as sess:
                feed = {s: [b"s3://b/x", "model", "", b"xs3://"]}
                results.append([v.tolist() for v in sess.run([m, n], feed)])
    assert results[0] == results[1] == [[True, False, False, False], [False, True, False, False]]
