"""tf.train.Saver and checkpoint utilities, differential against real TF's files and behaviour."""

import os

import ml_dtypes
import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1
from tfstyle.framework import errors
from tfstyle.train import tensor_bundle

VALUES = {
    "f16": np.array([1.5, -2.25], np.float16),
    "f32": np.arange(6, dtype=np.float32).reshape(2, 3),
    "f64": np.array([[np.pi]], np.float64),
    "bf16": np.array([0.5, 3.0], ml_dtypes.bfloat16),
    "i8": np.array([-3, 4], np.int8),
    "u8": np.array([200], np.uint8),
    "i32": np.array(7, np.int32),
    "i64": np.array([2**40, -1], np.int64),
    "scope/b": np.array([True, False]),
    "c64": np.array([1 + 2j], np.complex64),
}


def _variables(tf, values, zero=False):
    return {
        name: tf.Variable(np.zeros_like(v) if zero else v, name=name) for name, v in values.items()
    }


def _assert_values(actual, expected):
    for name, e in expected.items():
        a = np.asarray(actual[name])
        assert a.dtype == e.dtype, name
        np.testing.assert_array_equal(a, e, err_msg=name)


def test_checkpoints_interoperate_with_tf_across_dtypes(tmp_path):
    tf = tf1()
    # TF saves, tfstyle restores.
    with tf.Graph().as_default():
        vs = _variables(tf, VALUES)
        saver = tf.train.Saver()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            tf_prefix = saver.save(sess, str(tmp_path / "tf" / "model.ckpt"), global_step=5)
    with tfs.Graph().as_default():
        vs = _variables(tfs, VALUES, zero=True)
        saver = tfs.train.Saver()
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            saver.restore(sess, tf_prefix)
            _assert_values(sess.run(vs), VALUES)
            our_prefix = saver.save(sess, str(tmp_path / "ours" / "model.ckpt"), global_step=5)
    assert our_prefix == str(tmp_path / "ours" / "model.ckpt-5")
    # tfstyle saves, TF restores; the files are byte-identical to TF's.
    with tf.Graph().as_default():
        vs = _variables(tf, VALUES, zero=True)
        saver = tf.train.Saver()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            saver.restore(sess, our_prefix)
            _assert_values(sess.run(vs), VALUES)
    for suffix in (".index", ".data-00000-of-00001"):
        assert open(our_prefix + suffix, "rb").read() == open(tf_prefix + suffix, "rb").read()


def _save_sequence(tf, directory):
    """Several saves with max_to_keep=2; returns what a user can observe."""
    with tf.Graph().as_default():
        tf.Variable([1.0, 2.0], name="v")
        step = tf.Variable(40, name="step")
        saver = tf.train.Saver(max_to_keep=2)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            prefixes = [
                saver.save(sess, os.path.join(directory, "model.ckpt"), global_step=i)
                for i in (0, 10, 20)
            ]
            prefixes.append(saver.save(sess, os.path.join(directory, "model.ckpt"), step))
            prefixes.append(
                saver.save(sess, os.path.join(directory, "plain"), write_meta_graph=False)
            )
            last = saver.last_checkpoints
    state_text = open(os.path.join(directory, "checkpoint")).read()
    listing = sorted(os.listdir(directory))
    rel = lambda p: os.path.relpath(p, directory)  # noqa: E731
    return {
        "prefixes": [rel(p) for p in prefixes],
        "last": [rel(p) for p in last],
        "files": listing,
        "state": state_text.replace(directory, "<dir>"),
        "latest": rel(tf.train.latest_checkpoint(directory)),
        "state_paths": [
            rel(p) for p in tf.train.get_checkpoint_state(directory).all_model_checkpoint_paths
        ],
    }


def test_save_names_max_to_keep_and_state_file_like_tf(tmp_path):
    ours = _save_sequence(tfs, str(tmp_path / "ours"))
    theirs = _save_sequence(tf1(), str(tmp_path / "tf"))
    assert ours == theirs
    assert "model.ckpt-0.index" not in ours["files"]


def test_relative_paths_in_state_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    results = []
    for tf in (tf1(), tfs):
        d = "tf" if tf is not tfs else "ours"
        os.makedirs(f"{d}/run")
        with tf.Graph().as_default():
            tf.Variable(1.0, name="v")
            saver = tf.train.Saver(save_relative_paths=tf is tfs)
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                saver.save(sess, f"{d}/run/model", global_step=3)
        results.append(
            (
                open(f"{d}/run/checkpoint").read(),
                tf.train.latest_checkpoint(f"{d}/run").replace(d, "<d>"),
                tf.train.get_checkpoint_state(f"{d}/run").model_checkpoint_path.replace(d, "<d>"),
            )
        )
    assert results[0] == results[1]


def test_meta_graph_interop_with_tf(tmp_path):
    tf = tf1()
    names = []
    for lib in (tf, tfs):
        with lib.Graph().as_default() as g:
            x = lib.placeholder(lib.float32, [None, 2], name="x")
            w = lib.Variable([[1.0], [2.0]], name="w")
            lib.Variable(5, name="counter", trainable=False)
            lib.matmul(x, w, name="y")
            saver = lib.train.Saver()
            names.append([op.name for op in g.get_operations() if op.name.startswith("save")])
            sd = saver.as_saver_def()
            names.append(
                (sd.filename_tensor_name, sd.save_tensor_name, sd.restore_op_name, sd.version)
            )
    assert names[0] == names[2] and names[1] == names[3]
    # tfstyle writes model + .meta; real TF rebuilds the graph from the .meta and restores.
    with tfs.Graph().as_default():
        w = tfs.Variable([[1.0], [2.0]], name="w")
        tfs.Variable(5, name="counter", trainable=False)
        x = tfs.placeholder(tfs.float32, [None, 2], name="x")
        tfs.matmul(x, w, name="y")
        tfs.add_to_collection("outputs", tfs.get_default_graph().get_tensor_by_name("y:0"))
        saver = tfs.train.Saver()
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            sess.run(w.assign([[3.0], [4.0]]))
            ours = saver.save(sess, str(tmp_path / "ours" / "m"))
    with tf.Graph().as_default():
        tf_saver = tf.train.import_meta_graph(ours + ".meta")
        with tf.Session() as sess:
            tf_saver.restore(sess, ours)
            y = tf.get_collection("outputs")[0]
            assert sess.run(y, {"x:0": [[1.0, 1.0]]}).tolist() == [[7.0]]
            sess.run("w/Assign")
            theirs = tf_saver.save(sess, str(tmp_path / "tf" / "m"))
    # A .meta written by TF imports into tfstyle; its Saver restores TF's checkpoint.
    with tfs.Graph().as_default():
        saver = tfs.train.import_meta_graph(theirs + ".meta")
        with tfs.Session() as sess:
            saver.restore(sess, theirs)
            y = tfs.get_collection("outputs")[0]
            assert sess.run(y, {"x:0": [[1.0, 1.0]]}).tolist() == [[3.0]]
            assert sess.run("counter/Read/ReadVariableOp:0") == 5
    # And import with a scope prefixes everything, the Saver included.
    with tfs.Graph().as_default():
        saver = tfs.train.import_meta_graph(ours + ".meta", import_scope="net")
        assert [v.name for v in tfs.global_variables()] == ["net/w:0", "net/counter:0"]
        with tfs.Session() as sess:
            saver.restore(sess, ours)
            assert sess.run("net/y:0", {"net/x:0": [[1.0, 1.0]]}).tolist() == [[7.0]]


def _state(sess):
    return {k: np.array(v) for k, v in sess.state.items()}


def test_failed_restores_raise_and_leave_state_unchanged(tmp_path):
    prefix = str(tmp_path / "model.ckpt")
    with tfs.Graph().as_default():
        tfs.Variable([1.0, 2.0], name="v")
        tfs.Variable(3, name="n")
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            tfs.train.Saver().save(sess, prefix)
    cases = [
        ({"v": [0.0, 0.0], "extra": [1.0]}, errors.NotFoundError, "Key extra not found"),
        ({"v": [0.0, 0.0, 0.0]}, errors.InvalidArgumentError, "[3]"),
        ({"v": [0, 0]}, errors.InvalidArgumentError, "expected dtype int32"),
    ]
    for variables, cls, phrase in cases:
        with tfs.Graph().as_default():
            vs = [tfs.Variable(value, name=name) for name, value in variables.items()]
            saver = tfs.train.Saver(vs)
            with tfs.Session() as sess:
                sess.run(tfs.global_variables_initializer())
                before = _state(sess)
                with pytest.raises(cls) as info:
                    saver.restore(sess, prefix)
                assert phrase in str(info.value)
                if cls is errors.InvalidArgumentError and phrase == "[3]":
                    assert "v" in str(info.value) and "[2]" in str(info.value)
                after = _state(sess)
                assert before.keys() == after.keys()
                for k in before:
                    np.testing.assert_array_equal(after[k], before[k])
    # The same classes as real TF for a missing key and a dtype mismatch.
    tf = tf1()
    for variables, cls, _ in cases[::2]:
        with tf.Graph().as_default():
            vs = [tf.Variable(value, name=name) for name, value in variables.items()]
            saver = tf.train.Saver(vs)
            with tf.Session() as sess, pytest.raises(Exception) as info:
                saver.restore(sess, prefix)
            assert type(info.value).__name__ == cls.__name__


def test_corrupt_and_truncated_files_raise_data_loss(tmp_path):
    prefix = str(tmp_path / "model.ckpt")
    with tfs.Graph().as_default():
        v = tfs.Variable(np.arange(1000, dtype=np.float32), name="v")
        w = tfs.Variable(np.ones(10, np.float32), name="w")
        saver = tfs.train.Saver()
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            saver.save(sess, prefix)
            sess.run([v.assign(v * 0.0), w.assign(w * 0.0)])
            data = tensor_bundle.data_filename(prefix)
            good = open(data, "rb").read()
            corrupted = bytearray(good)
            corrupted[100] ^= 0xFF
            for content, path in ((bytes(corrupted), data), (good[:2000], data)):
                open(path, "wb").write(content)
                before = _state(sess)
                with pytest.raises(errors.DataLossError) as info:
                    saver.restore(sess, prefix)
                assert path in str(info.value)
                after = _state(sess)
                for k in before:
                    np.testing.assert_array_equal(after[k], before[k])
            open(data, "wb").write(good)
            index = tensor_bundle.index_filename(prefix)
            open(index, "wb").write(open(index, "rb").read()[:-10])
            with pytest.raises(errors.DataLossError) as info:
                saver.restore(sess, prefix)
            assert index in str(info.value)


def test_restore_argument_errors(tmp_path):
    with tfs.Graph().as_default():
        tfs.Variable(1.0, name="v")
        saver = tfs.train.Saver()
        sess = tfs.Session()
        sess.run(tfs.global_variables_initializer())
        prefix = saver.save(sess, str(tmp_path / "m"))
        with pytest.raises(ValueError, match="Can't load save_path when it is None"):
            saver.restore(sess, None)
        with pytest.raises(ValueError, match="not a valid checkpoint"):
            saver.restore(sess, str(tmp_path / "nothing"))
        sess.close()
        with pytest.raises(RuntimeError):
            saver.restore(sess, prefix)
        with pytest.raises(ValueError, match="No variables to save"):
            tfs.train.Saver([])
        assert tfs.train.Saver([], allow_empty=True).save(None, str(tmp_path / "e")) is None
        with pytest.raises(ValueError, match="same name"):
            v = tfs.global_variables()[0]
            tfs.train.Saver([v, v])


def test_interrupted_save_keeps_previous_checkpoint(tmp_path, monkeypatch):
    prefix = str(tmp_path / "model.ckpt")
    with tfs.Graph().as_default():
        v = tfs.Variable([1.0, 2.0], name="v")
        saver = tfs.train.Saver()
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            saver.save(sess, prefix)
            sess.run(v.assign([5.0, 6.0]))

            def crash(*args):
                raise KeyboardInterrupt

            monkeypatch.setattr(tensor_bundle, "_write_index", crash)
            with pytest.raises(KeyboardInterrupt):
                saver.save(sess, prefix)
            monkeypatch.undo()
            assert sorted(os.listdir(tmp_path)) == [
                "checkpoint",
                "model.ckpt.data-00000-of-00001",
                "model.ckpt.index",
                "model.ckpt.meta",
            ]
            saver.restore(sess, prefix)
            assert sess.run(v).tolist() == [1.0, 2.0]


def test_var_list_is_fixed_when_saver_is_built(tmp_path):
    prefix = str(tmp_path / "m")
    with tfs.Graph().as_default():
        a = tfs.Variable(1.0, name="a")
        saver = tfs.train.Saver()
        tfs.Variable(2.0, name="late")
        named = tfs.train.Saver({"renamed": a})
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            saver.save(sess, prefix)
            named.save(sess, prefix + "n")
    assert tfs.train.list_variables(prefix) == [("a", [])]
    assert tfs.train.list_variables(prefix + "n") == [("renamed", [])]


def test_checkpoint_readers_match_tf(tmp_path):
    tf = tf1()
    with tf.Graph().as_default():
        _variables(tf, {"a/w": np.ones((2, 3), np.float32), "n": np.array(4, np.int64)})
        saver = tf.train.Saver()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            prefix = saver.save(sess, str(tmp_path / "m"), global_step=1)
    results = []
    for lib in (tf, tfs):
        reader = lib.train.load_checkpoint(str(tmp_path))
        other = lib.train.NewCheckpointReader(prefix)
        results.append(
            (
                lib.train.list_variables(str(tmp_path)),
                lib.train.load_variable(str(tmp_path), "a/w").tolist(),
                lib.train.load_variable(prefix, "n:0"),
                reader.get_variable_to_shape_map(),
                {k: v.name for k, v in reader.get_variable_to_dtype_map().items()},
                reader.has_tensor("n"),
                reader.has_tensor("zz"),
                other.get_tensor("n"),
                lib.train.checkpoint_exists(prefix),
                lib.train.checkpoint_exists(prefix + "x"),
            )
        )
        with pytest.raises(Exception) as info:
            reader.get_tensor("zz")
        assert "zz not found in checkpoint" in str(info.value)
    assert results[0] == results[1]
    os.makedirs(tmp_path / "empty")
    with pytest.raises(ValueError, match="Couldn't find 'checkpoint' file"):
        tfs.train.load_checkpoint(str(tmp_path / "empty"))
    with pytest.raises(errors.NotFoundError):
        tfs.train.NewCheckpointReader(str(tmp_path / "absent"))


def test_init_from_checkpoint_like_tf(tmp_path):
    tf = tf1()
    with tf.Graph().as_default():
        with tf.variable_scope("old"):
            tf.get_variable("w", initializer=np.full((2,), 3.0, np.float32))
            tf.get_variable("b", initializer=np.full((1,), 4.0, np.float32))
        tf.get_variable("other", initializer=np.float32(5.0))
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            tf.train.Saver().save(sess, str(tmp_path / "ckpt"))
    results = []
    for lib in (tf, tfs):
        with lib.Graph().as_default():
            with lib.variable_scope("new"):
                w = lib.get_variable("w", [2], initializer=lib.zeros_initializer())
                b = lib.get_variable("b", [1], initializer=lib.zeros_initializer())
            o = lib.get_variable("o", [], initializer=lib.zeros_initializer())
            keep = lib.get_variable("keep", [], initializer=lib.ones_initializer())
            lib.train.init_from_checkpoint(str(tmp_path), {"old/": "new/", "other": o})
            with pytest.raises(ValueError):
                lib.train.init_from_checkpoint(str(tmp_path), {"other": w})
            with lib.Session() as sess:
                sess.run(lib.global_variables_initializer())
                results.append([x.tolist() for x in sess.run([w, b, o, keep])])
    assert results[0] == results[1] == [[3.0, 3.0], [4.0], 5.0, 1.0]


def test_recover_last_checkpoints(tmp_path):
    with tfs.Graph().as_default():
        tfs.Variable(1.0, name="v")
        saver = tfs.train.Saver(max_to_keep=1)
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            first = saver.save(sess, str(tmp_path / "m"), global_step=1)
            saver2 = tfs.train.Saver(max_to_keep=1)
            saver2.recover_last_checkpoints([first, str(tmp_path / "gone")])
            assert saver2.last_checkpoints == [first]
            saver2.save(sess, str(tmp_path / "m"), global_step=2)
    assert not tfs.train.checkpoint_exists(first)
    assert tfs.train.latest_checkpoint(str(tmp_path)) == str(tmp_path / "m-2")


def test_optimizer_slot_variables_interoperate_with_tf(tmp_path):
    tf = tf1()
    x = np.array([[1.0, 2.0], [3.0, -1.0]], np.float32)

    def build(lib):
        w = lib.Variable([[0.5], [-0.5]], name="w")
        loss = lib.reduce_sum(lib.square(lib.matmul(lib.constant(x), w)))
        train = lib.train.AdamOptimizer(0.1).minimize(loss)
        return train

    with tf.Graph().as_default():
        train = build(tf)
        saver = tf.train.Saver()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run(train)
            prefix = saver.save(sess, str(tmp_path / "tf"))
            after_two = (sess.run(train), sess.run(tf.global_variables()))[1]
    names = sorted(n for n, _ in tf.train.list_variables(prefix))
    assert {"w/Adam", "w/Adam_1", "beta1_power", "beta2_power"} <= set(names)
    with tfs.Graph().as_default():
        train = build(tfs)
        saver = tfs.train.Saver()
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            saver.restore(sess, prefix)
            sess.run(train)
            ours = sess.run(tfs.global_variables())
            back = saver.save(sess, str(tmp_path / "ours"))
    for a, e in zip(ours, after_two):
        np.testing.assert_allclose(a, e, rtol=1e-5)
    assert sorted(n for n, _ in tfs.train.list_variables(back)) == names
