"""Checkpoints of partitioned variables: TF's sliced entries, written and read, against TF."""

import numpy as np
import pytest

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1
from tfstyle.framework import errors
from tfstyle.train import tensor_bundle

FULL = {
    "s/w": np.arange(60, dtype=np.float32).reshape(10, 6) / 8.0,
    "emb": np.arange(21, dtype=np.float64).reshape(7, 3) - 5.0,
    "ids": np.arange(5, dtype=np.int32) * 3,
    "b": np.array([1.5, -2.0], np.float32),
}

# How each variable is cut: {name: (num_shards, axis)} (None: not partitioned).
SCHEMES = {
    "p3": {"s/w": (3, 0), "emb": (3, 0), "ids": (2, 0)},
    "p2": {"s/w": (2, 0), "emb": (2, 1), "ids": (4, 0)},
    "axis1": {"s/w": (4, 1), "emb": (3, 1), "ids": (5, 0)},
    "none": {},
}


def _build(tf, scheme, zero=False):
    """The variables of ``FULL``, cut as ``SCHEMES[scheme]`` says; returns them by name."""
    out = {}
    for name, value in FULL.items():
        cut = SCHEMES[scheme].get(name)
        part = None if cut is None else tf.fixed_size_partitioner(cut[0], axis=cut[1])
        init = np.zeros_like(value) if zero else value
        # A full-shape value needs the shape only when it is cut.
        shape = None if part is None else list(value.shape)
        out[name] = tf.get_variable(
            name, shape, dtype=tf.as_dtype(value.dtype), initializer=init, partitioner=part
        )
    return out


def _full_values(tf, sess, variables):
    return {
        n: sess.run(v.as_tensor() if hasattr(v, "as_tensor") else v) for n, v in variables.items()
    }


def _assert_full(values):
    for name, expected in FULL.items():
        np.testing.assert_array_equal(values[name], expected, err_msg=name)
        assert values[name].dtype == expected.dtype, name


def _save(tf, scheme, prefix, **saver_args):
    with tf.Graph().as_default():
        _build(tf, scheme)
        saver = tf.train.Saver(**saver_args)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            return saver.save(sess, prefix)


def _restore(tf, scheme, prefix, through_graph=False):
    with tf.Graph().as_default():
        variables = _build(tf, scheme, zero=True)
        saver = tf.train.Saver()
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            if through_graph:
                sess.run(
                    saver.saver_def.restore_op_name, {saver.saver_def.filename_tensor_name: prefix}
                )
            else:
                saver.restore(sess, prefix)
            return _full_values(tf, sess, variables)


def test_saver_graph_and_files_are_tfs(tmp_path):
    def save_graph(tf):
        with tf.Graph().as_default() as g:
            _build(tf, "p3")
            tf.train.Saver()
            ops = []
            for op in g.get_operations():
                if not op.name.startswith("save/"):
                    continue
                value = None
                if op.type == "Const" and op.get_attr("dtype") == tf.string:
                    value = op.get_attr("value")
                    if not isinstance(value, np.ndarray):
                        value = tf1().make_ndarray(value)
                    value = [bytes(s) for s in value.reshape(-1)]
                ops.append((op.name, op.type, [t.name for t in op.inputs], value))
            return ops

    theirs, ours = save_graph(tf1()), save_graph(tfs)
    assert ours == theirs
    specs = dict((op[0], op[3]) for op in ours)["save/SaveV2/shape_and_slices"]
    assert specs[:4] == [b"", b"7 3 0,3:0,3", b"7 3 3,2:0,3", b"7 3 5,2:0,3"]

    tf_prefix = _save(tf1(), "p3", str(tmp_path / "tf" / "model"))
    our_prefix = _save(tfs, "p3", str(tmp_path / "ours" / "model"))
    for suffix in (".index", ".data-00000-of-00001"):
        assert open(our_prefix + suffix, "rb").read() == open(tf_prefix + suffix, "rb").read()


@pytest.mark.parametrize("saved_by", ["tf", "tfstyle"])
def test_checkpoints_restore_into_any_partitioning(tmp_path, saved_by):
    saver_tf = tf1() if saved_by == "tf" else tfs
    prefix = _save(saver_tf, "p3", str(tmp_path / "model"))
    for scheme in SCHEMES:
        _assert_full(_restore(tf1(), scheme, prefix))
        _assert_full(_restore(tfs, scheme, prefix))
        _assert_full(_restore(tfs, scheme, prefix, through_graph=True))
    # An unpartitioned checkpoint restores into partitioned variables too.
    plain = _save(saver_tf, "none", str(tmp_path / "plain"))
    _assert_full(_restore(tf1(), "p2", plain))
    _assert_full(_restore(tfs, "p2", plain))
    _assert_full(_restore(tfs, "axis1", plain, through_graph=True))


def test_saving_through_the_graph_and_sharded(tmp_path):
    with tfs.Graph().as_default():
        _build(tfs, "axis1")
        saver = tfs.train.Saver()
        sharded = tfs.train.Saver(sharded=True)
        with tfs.Session() as sess:
            sess.run(tfs.global_variables_initializer())
            graph_prefix = str(tmp_path / "graph")
            sess.run(
                saver.saver_def.save_tensor_name,
                {saver.saver_def.filename_tensor_name: graph_prefix},
            )
            sharded_prefix = sharded.save(sess, str(tmp_path / "sharded"))
            direct_prefix = saver.save(sess, str(tmp_path / "direct"))
    for prefix in (graph_prefix, sharded_prefix):
        for suffix in (".index", ".data-00000-of-00001"):
            assert open(prefix + suffix, "rb").read() == open(direct_prefix + suffix, "rb").read()
    _assert_full(_restore(tf1(), "p3", sharded_prefix))
    _assert_full(_restore(tf1(), "none", graph_prefix))


def test_list_and_load_variables_see_full_tensors(tmp_path):
    tf = tf1()
    for saver_tf in (tf, tfs):
        prefix = _save(saver_tf, "p2", str(tmp_path / saver_tf.__name__ / "model"))
        listed = tfs.train.list_variables(prefix)
        assert listed == tf.train.list_variables(prefix)
        assert listed == sorted((n, list(v.shape)) for n, v in FULL.items())
        for name, value in FULL.items():
            np.testing.assert_array_equal(tfs.train.load_variable(prefix, name), value)
        reader = tfs.train.load_checkpoint(prefix)
        assert reader.get_variable_to_shape_map() == {n: list(v.shape) for n, v in FULL.items()}


def test_var_list_forms(tmp_path):
    def save(tf):
        with tf.Graph().as_default():
            v = _build(tf, "p3")
            savers = [
                tf.train.Saver({"renamed": v["s/w"], "b": v["b"]}),
                tf.train.Saver([v["s/w"], v["ids"]]),
                tf.train.Saver({"first_part": list(v["emb"])[0]}),
            ]
            with tf.Session() as sess:
                sess.run(tf.global_variables_initializer())
                out = []
                for i, saver in enumerate(savers):
                    prefix = saver.save(sess, str(tmp_path / tf.__name__ / f"m{i}"))
                    out.append(tfs.train.list_variables(prefix))
                return out

    ours, theirs = save(tfs), save(tf1())
    assert ours == theirs
    assert ours[0] == [("b", [2]), ("renamed", [10, 6])]
    assert ours[2] == [("first_part", [3, 3])]

    def mixed(tf, plain_name):
        with tf.Graph().as_default():
            v = _build(tf, "p3")
            plain = tf.Variable(1.0, name=plain_name)
            z = tf.get_variable("z", [4, 6])
            info = list(v["s/w"])[0]._save_slice_info
            z._set_save_slice_info(
                type(info)("c", info.full_shape, info.var_offset, info.var_shape)
            )
            tf.train.Saver([plain, z])

    # TF groups variables sorted by name: the plain one first, then the slice of the same name.
    for tf in (tf1(), tfs):
        with pytest.raises(ValueError, match="Mixing slices and non-slices with the same name: c"):
            mixed(tf, "c")


def test_restore_errors_name_the_slice(tmp_path):
    prefix = _save(tfs, "p3", str(tmp_path / "model"))
    for tf in (tf1(), tfs):
        with tf.Graph().as_default():
            tf.get_variable("s/w", [12, 6], partitioner=tf.fixed_size_partitioner(2))
            saver = tf.train.Saver()
            with tf.Session() as sess:
                with pytest.raises(tf.errors.InvalidArgumentError, match="s/w"):
                    saver.restore(sess, prefix)


def test_save_v2_slices_and_bundle_writer(tmp_path):
    from tfstyle.ops import io_ops

    value = np.arange(12, dtype=np.float32).reshape(4, 3)
    with tfs.Graph().as_default():
        save = io_ops.save_v2(
            str(tmp_path / "raw"),
            ["t", "t", "u"],
            ["4 3 0,1:-", "4 3 1,3:-", ""],
            [tfs.constant(value[:1]), tfs.constant(value[1:]), tfs.constant(7)],
        )
        bad = io_ops.save_v2(str(tmp_path / "bad"), ["t"], ["4 3 0,2:-"], [tfs.constant(value[:1])])
        with tfs.Session() as sess:
            sess.run(save)
            with pytest.raises(errors.InvalidArgumentError, match="does not match the shape"):
                sess.run(bad)
    for reader in (tensor_bundle.BundleReader(str(tmp_path / "raw")),):
        np.testing.assert_array_equal(reader.read("t"), value)
        assert reader.keys() == ["t", "u"]
    tf = tf1()
    with tf.Graph().as_default():
        t = tf.get_variable("t", [4, 3], partitioner=tf.fixed_size_partitioner(2))
        saver = tf.train.Saver([t])
        with tf.Session() as sess:
            saver.restore(sess, str(tmp_path / "raw"))
            np.testing.assert_array_equal(sess.run(t.as_tensor()), value)

    with pytest.raises(errors.InvalidArgumentError, match="does not fit"):
        tensor_bundle.write_bundle(
            str(tmp_path / "w"), {"t": tensor_bundle.Sliced((4,), [(((2, 3),), np.zeros(3))])}
        )


# -- meta graphs -----------------------------------------------------------------------------------
W = FULL["s/w"]
X = np.linspace(-1, 1, 20, dtype=np.float32).reshape(2, 10)


def _model(tf):
    with tf.variable_scope("m", partitioner=tf.fixed_size_partitioner(3)):
        w = tf.get_variable("w", [10, 6], initializer=W)
    x = tf.placeholder(tf.float32, [None, 10], name="x")
    # The variable used whole (its parts concatenated): TF's partitioned embedding_lookup needs
    # DynamicPartition, which tfstyle does not compile for fed ids.
    y = tf.identity(tf.matmul(x, w), name="y")
    loss = tf.reduce_sum(tf.square(y), name="loss")
    tf.train.AdamOptimizer(0.1).minimize(loss, name="train")
    return tf.train.Saver()


def _save_model(tf, prefix):
    """Trains a step, saves (with the .meta), trains another; returns the prefix and the
    outputs of both steps' models."""
    with tf.Graph().as_default():
        saver = _model(tf)
        with tf.Session() as sess:
            sess.run(tf.global_variables_initializer())
            sess.run("train", {"x:0": X})
            prefix = saver.save(sess, prefix)
            first = sess.run("y:0", {"x:0": X})
            sess.run("train", {"x:0": X})
            second = sess.run(["y:0", "loss:0"], {"x:0": X})
    return prefix, first, second


def _resume(tf, prefix):
    """Imports ``prefix``'s .meta, restores and runs the model as ``_save_model`` did."""
    with tf.Graph().as_default():
        saver = tf.train.import_meta_graph(prefix + ".meta")
        variables = tf.global_variables()
        infos = [None if v._save_slice_info is None else v._save_slice_info.spec for v in variables]
        with tf.Session() as sess:
            saver.restore(sess, prefix)
            first = sess.run("y:0", {"x:0": X})
            sess.run("train", {"x:0": X})
            second = sess.run(["y:0", "loss:0"], {"x:0": X})
            # A Saver made from the imported variables groups the parts again.
            resaved = tf.train.Saver().save(sess, prefix + "-resaved", write_meta_graph=False)
    return [v.name for v in variables], infos, first, second, resaved


@pytest.mark.parametrize("saved_by", ["tf", "tfstyle"])
@pytest.mark.parametrize("resumed_by", ["tf", "tfstyle"])
def test_meta_graphs_with_partitioned_variables(tmp_path, saved_by, resumed_by):
    saver_tf = tf1() if saved_by == "tf" else tfs
    prefix, first, second = _save_model(saver_tf, str(tmp_path / "model"))
    names, infos, got_first, got_second, resaved = _resume(
        tf1() if resumed_by == "tf" else tfs, prefix
    )
    assert names[:3] == ["m/w/part_0:0", "m/w/part_1:0", "m/w/part_2:0"]
    assert "m/w/part_2/Adam_1:0" in names
    assert infos[:4] == ["10 6 0,4:0,6", "10 6 4,3:0,6", "10 6 7,3:0,6", None]
    np.testing.assert_allclose(got_first, first, rtol=1e-6)
    np.testing.assert_allclose(got_second[0], second[0], rtol=1e-5)
    np.testing.assert_allclose(got_second[1], second[1], rtol=1e-5)
    listed = dict(tfs.train.list_variables(resaved))
    assert listed["m/w"] == [10, 6] and listed["m/w/Adam_1"] == [10, 6]
    assert listed == dict(tf1().train.list_variables(prefix))


def test_init_from_checkpoint_into_partitioned_variables(tmp_path):
    prefix = _save(tfs, "p3", str(tmp_path / "model"))
    for tf in (tf1(), tfs):
        for form in ("names", "objects", "scope"):
            with tf.Graph().as_default():
                variables = _build(tf, "axis1", zero=True)
                if form == "names":
                    mapping = {n: n for n in FULL}
                elif form == "objects":
                    # TF takes the parts of a partitioned variable as a list.
                    mapping = {n: list(v) if n != "b" else v for n, v in variables.items()}
                else:
                    mapping = {"/": "/"}
                tf.train.init_from_checkpoint(prefix, mapping)
                with tf.Session() as sess:
                    sess.run(tf.global_variables_initializer())
                    _assert_full(_full_values(tf, sess, variables))
