"""Summary builders against the Summary protos that TF1's summary ops produce in a session."""

import io
import wave

import numpy as np
import pytest
from tensorboard.compat.proto import summary_pb2

from tests.oracle import tf1
from tfstyle.framework import errors
from tfstyle.summary import summary_proto as sp


def _run_tf(build, feeds=()):
    """Builds ops with ``build(tf)`` in a fresh graph and fetches them; feeds are
    ``(dtype, shape, value)`` triples passed to ``build`` as placeholders."""
    tf = tf1()
    with tf.Graph().as_default():
        placeholders = [tf.placeholder(dtype, shape) for dtype, shape, _ in feeds]
        fetches = build(tf, *placeholders)
        with tf.Session() as sess:
            return sess.run(fetches, {p: v for p, (_, _, v) in zip(placeholders, feeds)})


def _tf_error(build, feeds=()):
    """The message of the InvalidArgumentError that running TF's op raises, without the
    node context TF adds around it."""
    tf = tf1()
    with pytest.raises(tf.errors.InvalidArgumentError) as info:
        _run_tf(build, feeds)
    message = info.value.message
    if "\nNode: " in message:
        message = message.split("\nNode: ", 1)[1].split("\n", 1)[1]
    return message.split("\n\t [[", 1)[0]


def _parse(data):
    return summary_pb2.Summary.FromString(data)


@pytest.fixture(scope="module")
def decode_png():
    """Decodes PNG bytes with TF's own decoder."""
    tf = tf1()
    graph = tf.Graph()
    with graph.as_default():
        data = tf.placeholder(tf.string, [])
        pixels = tf.image.decode_png(data, channels=0)
    sess = tf.Session(graph=graph)
    yield lambda png: sess.run(pixels, {data: png})
    sess.close()


# ---------------------------------------------------------------------------------------------
# scalar


@pytest.mark.parametrize(
    "dtype, value",
    [
        (np.float32, 0.25),
        (np.float32, -3.5e-20),
        (np.float64, 1.0 / 3.0),
        (np.float64, 1e300),
        (np.int32, -7),
        (np.int64, 2**53 + 1),
        (np.float16, 0.1),
    ],
)
def test_scalar_matches_tf(dtype, value):
    value = np.asarray(value, dtype=dtype)
    ours = sp.scalar("loss", value)
    theirs = _run_tf(
        lambda tf, x: tf.summary.scalar("loss", x), [(tf1().as_dtype(dtype), [], value)]
    )
    assert ours == theirs


def test_scalar_with_tag_array_matches_scalar_summary_op():
    tags = np.array(["a", "b/c", "d"], dtype=object)
    values = np.array([1.5, -2.0, 3.25], np.float32)
    theirs = _run_tf(lambda tf: tf.raw_ops.ScalarSummary(tags=tags, values=values))
    assert sp.scalar(tags, values) == theirs
    assert [v.tag for v in _parse(theirs).value] == ["a", "b/c", "d"]


def test_scalar_shape_mismatch_error():
    tf = tf1()

    def build(tf_, t, v):
        return tf_.raw_ops.ScalarSummary(tags=t, values=v)

    feeds = [(tf.string, None, np.array(["x"], dtype=object)), (tf.float32, None, [1.0, 2.0])]
    theirs = _tf_error(build, feeds)
    with pytest.raises(errors.InvalidArgumentError) as info:
        sp.scalar(np.array(["x"], dtype=object), np.array([1.0, 2.0]))
    assert info.value.message == "tags and values are not the same shape: [1] != [2] (tag 'x')"
    assert info.value.message == theirs


# ---------------------------------------------------------------------------------------------
# histogram


def _histogram_cases():
    rng = np.random.default_rng(1)
    return {
        "normal": rng.normal(size=2000).astype(np.float32) * 100,
        "tiny": (rng.uniform(-1, 1, size=300) * 1e-11).astype(np.float64),
        "zeros_and_signed_zeros": np.array([0.0, -0.0, 0.0, 1e-13, -1e-13], np.float64),
        "huge": np.array([1e19, 1e20, 3e25, -1e30, 1.7e308], np.float64),
        "on_edges": sp.default_histogram_bucket_limits()[1500:1510].copy(),
        "ints": rng.integers(-1000, 1000, size=(10, 30)).astype(np.int32),
        "int64": np.array([2**40, -(2**40), 3], np.int64),
        "single": np.array([42.0], np.float32),
        "empty": np.zeros((0,), np.float32),
        "all_negative_zero": np.array([-0.0, -0.0], np.float64),
        "half": rng.normal(size=50).astype(np.float16),
    }


@pytest.mark.parametrize("case", sorted(_histogram_cases()))
def test_histogram_matches_tf(case):
    tf = tf1()
    values = _histogram_cases()[case]
    theirs = _run_tf(
        lambda tf_, x: tf_.summary.histogram("weights", x),
        [(tf.as_dtype(values.dtype), None, values)],
    )
    ours = sp.histogram("weights", values)
    a, b = _parse(ours).value[0], _parse(theirs).value[0]
    assert a.tag == b.tag == "weights"
    for field in ("min", "max", "num", "sum", "sum_squares"):
        assert getattr(a.histo, field) == getattr(b.histo, field), field
    assert list(a.histo.bucket_limit) == list(b.histo.bucket_limit)
    assert list(a.histo.bucket) == list(b.histo.bucket)
    assert ours == theirs


def test_histogram_bucket_limits():
    limits = sp.default_histogram_bucket_limits()
    assert limits[0] == -np.finfo(np.float64).max and limits[-1] == np.finfo(np.float64).max
    middle = len(limits) // 2
    assert limits[middle] == 0.0 and limits[middle + 1] == 1e-12
    assert np.array_equal(limits[:middle], -limits[middle + 1 :][::-1])
    assert np.all(np.diff(limits) > 0)
    assert limits[-2] < 1e20 <= limits[-2] * 1.1


@pytest.mark.parametrize(
    "bad, expected",
    [
        (np.nan, "Nan in summary histogram for: h"),
        (np.inf, "Infinity in Histogram for: h"),
        (-np.inf, "Infinity in Histogram for: h"),
    ],
)
def test_histogram_nonfinite_error(bad, expected):
    tf = tf1()
    values = np.array([1.0, bad, np.nan], np.float32)
    theirs = _tf_error(lambda tf_, x: tf_.summary.histogram("h", x), [(tf.float32, None, values)])
    with pytest.raises(errors.InvalidArgumentError) as info:
        sp.histogram("h", values)
    assert info.value.message == expected
    assert info.value.message == theirs


# ---------------------------------------------------------------------------------------------
# image


def _image_cases():
    rng = np.random.default_rng(2)
    with_bad = rng.normal(size=(2, 4, 5, 3)).astype(np.float32)
    with_bad[0, 1, 2, 1] = np.nan
    with_bad[1, 3, 0, 0] = np.inf
    with_bad[1, 0, 0, :] = -np.inf
    gray_bad = rng.uniform(size=(1, 3, 3, 1)).astype(np.float32)
    gray_bad[0, 1, 1, 0] = np.nan
    return {
        "uint8_rgb": rng.integers(0, 256, size=(4, 7, 9, 3), dtype=np.uint8),
        "uint8_gray": rng.integers(0, 256, size=(2, 5, 4, 1), dtype=np.uint8),
        "uint8_rgba": rng.integers(0, 256, size=(1, 6, 6, 4), dtype=np.uint8),
        "float_unit": rng.uniform(size=(3, 8, 8, 3)).astype(np.float32),
        "float_small_max": (rng.uniform(size=(2, 5, 5, 1)) * 0.01).astype(np.float32),
        "float_signed": rng.normal(size=(2, 6, 5, 3)).astype(np.float32),
        "float_rgba_signed": rng.normal(size=(1, 4, 4, 4)).astype(np.float32),
        "float_all_zero": np.zeros((1, 3, 4, 3), np.float32),
        "float_below_threshold": np.full((1, 2, 2, 1), 1e-7, np.float32),
        "float_nonfinite": with_bad,
        "gray_nonfinite": gray_bad,
        "all_nonfinite": np.full((1, 2, 2, 3), np.nan, np.float32),
        "double_signed": rng.normal(size=(2, 5, 7, 3)) * 1e3,
        "half_unit": rng.uniform(size=(2, 6, 6, 3)).astype(np.float16),
        "half_signed": rng.normal(size=(2, 6, 6, 1)).astype(np.float16),
        "big_batch": rng.uniform(size=(5, 2, 3, 3)).astype(np.float32),
    }


@pytest.mark.parametrize("case", sorted(_image_cases()))
@pytest.mark.parametrize("max_outputs", [1, 3])
def test_image_matches_tf(case, max_outputs, decode_png):
    tf = tf1()
    images = _image_cases()[case]
    theirs = _parse(
        _run_tf(
            lambda tf_, x: tf_.summary.image("pics", x, max_outputs=max_outputs),
            [(tf.as_dtype(images.dtype), None, images)],
        )
    )
    ours = _parse(sp.image("pics", images, max_outputs=max_outputs))
    assert [v.tag for v in ours.value] == [v.tag for v in theirs.value]
    assert len(ours.value) == min(max_outputs, images.shape[0])
    for a, b in zip(ours.value, theirs.value):
        assert (a.image.height, a.image.width, a.image.colorspace) == (
            b.image.height,
            b.image.width,
            b.image.colorspace,
        )
        pa = decode_png(a.image.encoded_image_string)
        pb = decode_png(b.image.encoded_image_string)
        assert pa.shape == pb.shape
        np.testing.assert_array_equal(pa, pb)


def test_image_tags():
    images = np.zeros((2, 1, 1, 3), np.uint8)
    assert [v.tag for v in _parse(sp.image("a/b", images)).value] == [
        "a/b/image/0",
        "a/b/image/1",
    ]
    assert [v.tag for v in _parse(sp.image("a", images, max_outputs=1)).value] == ["a/image"]


def test_image_pixels_written_exactly(decode_png):
    images = np.random.default_rng(3).integers(0, 256, size=(3, 17, 13, 4), dtype=np.uint8)
    for v, img in zip(_parse(sp.image("x", images)).value, images):
        np.testing.assert_array_equal(decode_png(v.image.encoded_image_string), img)


def test_image_bad_shape_error():
    tf = tf1()
    images = np.zeros((1, 2, 2, 2), np.float32)
    theirs = _tf_error(lambda tf_, x: tf_.summary.image("i", x), [(tf.float32, None, images)])
    with pytest.raises(errors.InvalidArgumentError) as info:
        sp.image("i", images)
    assert info.value.message == "Tensor must be 4-D with last dim 1, 3, or 4, not [1,2,2,2]"
    assert info.value.message == theirs


def test_encode_png_decodes_with_pillow():
    image_module = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(4)
    for shape in [(5, 7, 1), (5, 7, 2), (5, 7, 3), (5, 7, 4), (1, 1, 3)]:
        img = rng.integers(0, 256, size=shape, dtype=np.uint8)
        decoded = np.asarray(image_module.open(io.BytesIO(sp.encode_png(img))))
        np.testing.assert_array_equal(decoded.reshape(shape), img)


# ---------------------------------------------------------------------------------------------
# audio


def _wav_samples(data):
    with wave.open(io.BytesIO(data), "rb") as w:
        frames = w.readframes(w.getnframes())
        return w.getframerate(), w.getnchannels(), np.frombuffer(frames, "<i2")


def _audio_cases():
    rng = np.random.default_rng(5)
    ties = (np.arange(-8, 8) + 0.5).astype(np.float32) / 32768
    return {
        "stereo": (rng.uniform(-1, 1, size=(3, 50, 2)).astype(np.float32), 16000.0),
        "mono_2d": (rng.uniform(-1, 1, size=(2, 40)).astype(np.float32), 8000.0),
        "clipped": (rng.uniform(-3, 3, size=(1, 60, 1)).astype(np.float32), 22050.0),
        "ties": (ties.reshape(1, -1), 44100.0),
        "extremes": (
            np.array([[1.0, -1.0, 0.99999, -0.99999, np.inf, -np.inf, 1e30, -1e30]], np.float32),
            44100.0,
        ),
        "fractional_rate_down": (rng.uniform(-1, 1, size=(1, 10)).astype(np.float32), 16000.5),
        "fractional_rate_up": (rng.uniform(-1, 1, size=(1, 10)).astype(np.float32), 16001.5),
        "tiny_rate": (rng.uniform(-1, 1, size=(1, 10)).astype(np.float32), 0.3),
        "six_channels": (rng.uniform(-1, 1, size=(4, 20, 6)).astype(np.float32), 48000.0),
    }


@pytest.mark.parametrize("case", sorted(_audio_cases()))
@pytest.mark.parametrize("max_outputs", [1, 2])
def test_audio_matches_tf(case, max_outputs):
    tf = tf1()
    clips, rate = _audio_cases()[case]
    theirs_bytes = _run_tf(
        lambda tf_, x: tf_.summary.audio("snd", x, rate, max_outputs=max_outputs),
        [(tf.float32, None, clips)],
    )
    ours_bytes = sp.audio("snd", clips, rate, max_outputs=max_outputs)
    ours, theirs = _parse(ours_bytes), _parse(theirs_bytes)
    assert [v.tag for v in ours.value] == [v.tag for v in theirs.value]
    for a, b in zip(ours.value, theirs.value):
        for field in ("sample_rate", "num_channels", "length_frames", "content_type"):
            assert getattr(a.audio, field) == getattr(b.audio, field), field
        ra, ca, sa = _wav_samples(a.audio.encoded_audio_string)
        rb, cb, sb = _wav_samples(b.audio.encoded_audio_string)
        assert (ra, ca) == (rb, cb)
        np.testing.assert_array_equal(sa, sb)
    assert ours_bytes == theirs_bytes


def test_audio_nan_sample_becomes_zero_as_in_tf():
    clips = np.array([[0.5, np.nan, -0.5]], np.float32)
    theirs = _parse(
        _run_tf(lambda tf_, x: tf_.summary.audio("a", x, 8000), [(tf1().float32, None, clips)])
    )
    ours = _parse(sp.audio("a", clips, 8000))
    _, _, sb = _wav_samples(theirs.value[0].audio.encoded_audio_string)
    _, _, sa = _wav_samples(ours.value[0].audio.encoded_audio_string)
    np.testing.assert_array_equal(sa, sb)
    assert list(sa) == [16384, 0, -16384]


def test_audio_errors():
    tf = tf1()
    bad = np.zeros((2,), np.float32)
    theirs = _tf_error(lambda tf_, x: tf_.summary.audio("a", x, 8000), [(tf.float32, None, bad)])
    with pytest.raises(errors.InvalidArgumentError) as info:
        sp.audio("a", bad, 8000)
    assert info.value.message == "Tensor must be 3-D or 2-D, got: [2]"
    assert info.value.message == theirs

    clips = np.zeros((1, 4), np.float32)
    theirs = _tf_error(
        lambda tf_, x, r: tf_.summary.audio("a", x, r),
        [(tf.float32, None, clips), (tf.float32, [], -1.0)],
    )
    with pytest.raises(errors.InvalidArgumentError) as info:
        sp.audio("a", clips, -1.0)
    assert info.value.message == "sample_rate must be > 0"
    assert info.value.message == theirs


# ---------------------------------------------------------------------------------------------
# text and tensor summaries


@pytest.mark.parametrize(
    "strings",
    [
        "hello",
        b"raw bytes \x00\xff",
        ["a", "bé", ""],
        [["**bold**", "x"], ["y", "| t |"]],
        np.array(["u1", "u22"]),
    ],
)
def test_text_matches_tf(strings):
    theirs = _run_tf(lambda tf: tf.summary.text("notes", tf.constant(strings)))
    ours = sp.text("notes", strings)
    value = _parse(ours).value[0]
    assert value.metadata.plugin_data.plugin_name == "text"
    assert ours == theirs


def test_text_rejects_non_strings():
    with pytest.raises(ValueError, match="to have dtype string"):
        sp.text("t", np.array([1.0]))


@pytest.mark.parametrize(
    "values",
    [
        np.arange(6, dtype=np.float32).reshape(2, 3),
        np.array(3.5),
        np.array([1, -2, 3], np.int64),
        np.array([True, False]),
        np.zeros((0, 2), np.int32),
        np.array([0.5, 1.5], np.float16),
    ],
)
def test_tensor_summary_matches_tf(values):
    def build(tf):
        return tf.summary.tensor_summary(
            "t", tf.constant(values), summary_description="desc", display_name="shown"
        )

    metadata = summary_pb2.SummaryMetadata(display_name="shown", summary_description="desc")
    assert sp.tensor_summary("t", values, metadata) == _run_tf(build)
    assert sp.tensor_summary("t", values, metadata.SerializeToString()) == _run_tf(build)


def test_tensor_summary_without_metadata_matches_tf():
    values = np.array([1.0, 2.0], np.float64)
    assert sp.tensor_summary("t", values) == _run_tf(
        lambda tf: tf.summary.tensor_summary("t", tf.constant(values))
    )


# ---------------------------------------------------------------------------------------------
# merge


def test_merge_matches_tf():
    rng = np.random.default_rng(6)
    x = rng.normal(size=100).astype(np.float32)
    img = rng.integers(0, 256, size=(2, 3, 3, 1), dtype=np.uint8)

    def build(tf):
        s1 = tf.summary.scalar("s", tf.constant(1.5))
        h = tf.summary.histogram("h", tf.constant(x))
        i = tf.summary.image("i", tf.constant(img))
        t = tf.summary.text("t", tf.constant("words"))
        both = tf.stack([s1, t])  # an input may be a vector of summaries
        return [s1, h, i, t, tf.summary.merge([h, both, i])]

    s1, h, i, t, merged = _run_tf(build)
    assert sp.merge([h, np.array([s1, t], dtype=object), i]) == merged
    assert [v.tag for v in _parse(merged).value] == [
        "h",
        "s",
        "t",
        "i/image/0",
        "i/image/1",
    ]
    assert sp.merge([]) == b""


def test_merge_duplicate_tag_error():
    def build(tf):
        a = tf.summary.scalar("same", tf.constant(1.0))
        b = tf.raw_ops.ScalarSummary(tags="same", values=tf.constant(2.0))
        return tf.summary.merge([a, b])

    theirs = _tf_error(build)
    with pytest.raises(errors.InvalidArgumentError) as info:
        sp.merge([sp.scalar("same", 1.0), sp.scalar("same", 2.0)])
    # TF's message ends in a space.
    assert info.value.message == "Duplicate tag same found in summary inputs "
    assert info.value.message == theirs


def test_merge_allows_repeated_empty_tags():
    empty = summary_pb2.Summary()
    empty.value.add(simple_value=1.0)
    data = empty.SerializeToString()
    assert len(_parse(sp.merge([data, data])).value) == 2


def test_merge_unparsable_input():
    with pytest.raises(errors.InvalidArgumentError, match="Could not parse one of the summary"):
        sp.merge([b"\xff\xff\xff"])
