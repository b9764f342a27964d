"""Serialized ``Summary`` protos built from numpy values, as TF1's summary ops produce them.

Each builder returns the bytes that the matching TF1 op (``ScalarSummary``,
``HistogramSummary``, ``ImageSummary``, ``AudioSummaryV2``, ``TensorSummaryV2``,
``MergeSummary``) yields when fetched in a session, and raises TF's
``InvalidArgumentError`` where that op fails at run time.
"""

import io
import struct
import sys
import wave
import zlib

import numpy as np
from tensorboard.compat.proto import summary_pb2, tensor_pb2, types_pb2

from tfstyle.framework import errors

__all__ = [
    "audio",
    "default_histogram_bucket_limits",
    "encode_png",
    "encode_wav",
    "histogram",
    "histogram_proto",
    "image",
    "merge",
    "scalar",
    "tensor_summary",
    "text",
]

_DBL_MAX = sys.float_info.max
# ImageSummary's default bad_color: opaque red; the first `channels` entries are used.
_BAD_COLOR = (255, 0, 0, 255)


def _invalid(message):
    return errors.InvalidArgumentError(None, None, message)


def _shape_str(shape):
    return "[" + ",".join(str(d) for d in shape) + "]"


def _as_str(s):
    if isinstance(s, np.ndarray):
        s = s.item()
    if isinstance(s, (bytes, bytearray, np.bytes_)):
        return bytes(s).decode("utf-8")
    return str(s)


def _scalar_tag(tag, message):
    if isinstance(tag, np.ndarray) and tag.size != 1:
        raise _invalid(message)
    if isinstance(tag, (list, tuple)):
        raise _invalid(message)
    return _as_str(tag)


# ---------------------------------------------------------------------------------------------
# scalar


def scalar(tag, value):
    """``tf.summary.scalar``: one ``simple_value`` (a float32) per tag.

    ``tag`` and ``value`` may also be arrays of the same shape, as the ``ScalarSummary`` op
    allows; the values then appear in row-major order.
    """
    tags = np.asarray(tag, dtype=object)
    values = np.asarray(value)
    if values.dtype.kind not in "biuf":
        raise TypeError(f"scalar summary values must be real numbers, got {values.dtype}")
    if tags.shape != values.shape:
        single = f" (tag '{_as_str(tags.reshape(-1)[0])}')" if tags.size == 1 else ""
        raise _invalid(
            "tags and values are not the same shape: "
            f"{_shape_str(tags.shape)} != {_shape_str(values.shape)}{single}"
        )
    summary = summary_pb2.Summary()
    # Like float(value) in C++: round to the nearest float32.
    with np.errstate(over="ignore"):
        floats = values.reshape(-1).astype(np.float32)
    for t, v in zip(tags.reshape(-1), floats):
        summary.value.add(tag=_as_str(t), simple_value=float(v))
    return summary.SerializeToString()


# ---------------------------------------------------------------------------------------------
# histogram


def _make_bucket_limits():
    # Repeated multiplication in doubles, exactly as TF builds them, so the edges match bit
    # for bit: 1e-12 * 1.1^k below 1e20, mirrored for negatives, 0 between, DBL_MAX ends.
    positive = []
    v = 1.0e-12
    while v < 1.0e20:
        positive.append(v)
        v *= 1.1
    positive.append(_DBL_MAX)
    negative = [-x for x in reversed(positive)]
    return np.array(negative + [0.0] + positive, dtype=np.float64)


_BUCKET_LIMITS = _make_bucket_limits()
_BUCKET_LIMITS.flags.writeable = False


def default_histogram_bucket_limits():
    """Returns TF's default histogram bucket limits (a read-only float64 array)."""
    return _BUCKET_LIMITS


def histogram_proto(values, name=None):
    """Returns the ``HistogramProto`` TF's ``HistogramSummary`` op builds for ``values``.

    Empty buckets are dropped, except that a run of empty buckets leaves one entry (count 0)
    at the run's last limit. A NaN or infinite value raises ``InvalidArgumentError``
    naming ``name``.
    """
    v = np.asarray(values)
    if v.dtype.kind not in "biuf":
        raise TypeError(f"histogram values must be real numbers, got {v.dtype}")
    v = v.astype(np.float64).reshape(-1)
    bad = ~np.isfinite(v)
    if bad.any():
        first = v[np.argmax(bad)]
        # TF's two messages differ in more than the first word.
        if np.isnan(first):
            raise _invalid(f"Nan in summary histogram for: {name}")
        raise _invalid(f"Infinity in Histogram for: {name}")

    limits = _BUCKET_LIMITS
    proto = summary_pb2.HistogramProto()
    if v.size:
        # Like C++'s "if (min_ > value) min_ = value": the first of equal minima (e.g. of
        # 0.0 and -0.0) wins, which argmin/argmax also give.
        proto.min = v[np.argmin(v)]
        proto.max = v[np.argmax(v)]
        # Summed one value at a time, in order, as TF does (np.sum is pairwise); "+ 0.0"
        # because TF starts from +0.0, so its sum is never -0.0.
        proto.sum = float(np.add.accumulate(v)[-1]) + 0.0
        with np.errstate(over="ignore"):
            proto.sum_squares = float(np.add.accumulate(v * v)[-1]) + 0.0
        index = np.searchsorted(limits, v, side="right")
        np.minimum(index, limits.size - 1, out=index)
        counts = np.bincount(index, minlength=limits.size).astype(np.float64)
    else:
        proto.min = _DBL_MAX
        proto.max = -_DBL_MAX
        counts = np.zeros(limits.size, dtype=np.float64)
    proto.num = float(v.size)
    filled = counts > 0
    # An empty bucket is kept only where its run of empty buckets ends.
    keep = filled | np.append(filled[1:], True)
    proto.bucket_limit.extend(limits[keep].tolist())
    proto.bucket.extend(counts[keep].tolist())
    return proto


def histogram(tag, values, name=None):
    """``tf.summary.histogram``: a ``histo`` value with TF's default buckets.

    ``name`` is the op name that a NaN/Inf error message shows; it defaults to ``tag``.
    """
    tag = _scalar_tag(tag, "tags must be scalar")
    summary = summary_pb2.Summary()
    value = summary.value.add(tag=tag)
    value.histo.CopyFrom(histogram_proto(values, tag if name is None else name))
    return summary.SerializeToString()


# ---------------------------------------------------------------------------------------------
# image


def _png_chunk(kind, data):
    return b"".join(
        (
            struct.pack(">I", len(data)),
            kind,
            data,
            struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF),
        )
    )


def _png_filtered_rows(rows, bpp):
    # Each row gets the PNG filter (None, Sub, Up, Average, Paeth) whose output has the
    # smallest sum of |signed bytes|, the usual heuristic; it compresses far better than
    # "None" everywhere.
    x = rows.astype(np.int16)
    a = np.zeros_like(x)
    a[:, bpp:] = x[:, :-bpp]
    b = np.zeros_like(x)
    b[1:] = x[:-1]
    c = np.zeros_like(x)
    c[1:, bpp:] = x[:-1, :-bpp]
    pa = np.abs(b - c)
    pb = np.abs(a - c)
    pc = np.abs(a + b - 2 * c)
    paeth = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
    candidates = np.stack([x, x - a, x - b, x - (a + b) // 2, x - paeth]).astype(np.uint8)
    cost = np.abs(candidates.view(np.int8).astype(np.int32)).sum(axis=2)
    best = np.argmin(cost, axis=0)
    height = rows.shape[0]
    out = np.empty((height, rows.shape[1] + 1), dtype=np.uint8)
    out[:, 0] = best
    out[:, 1:] = candidates[best, np.arange(height)]
    return out


def encode_png(image):
    """Encodes a ``[height, width, channels]`` (or ``[height, width]``) uint8 array as PNG.

    Channels 1, 2, 3, 4 give grayscale, grayscale+alpha, RGB, RGBA; 8 bits per channel.
    """
    img = np.asarray(image)
    if img.dtype != np.uint8:
        raise TypeError(f"encode_png needs uint8 pixels, got {img.dtype}")
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3 or img.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"encode_png needs [height, width, 1|2|3|4], got {list(img.shape)}")
    height, width, channels = img.shape
    color_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    rows = np.ascontiguousarray(img).reshape(height, width * channels)
    raw = _png_filtered_rows(rows, channels).tobytes() if rows.size else b"\x00" * height
    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            _png_chunk(b"IHDR", header),
            _png_chunk(b"IDAT", zlib.compress(raw)),
            _png_chunk(b"IEND", b""),
        )
    )


def _normalize_float_image(values, bad_color):
    # values: [pixels, channels] in the input's float type T. TF computes the range in
    # float32 over pixels whose channels are all finite, picks scale/offset in float32,
    # converts them to T, then maps with T arithmetic and truncates to uint8.
    t = values.dtype.type
    finite = np.isfinite(values).all(axis=1)
    good = values[finite]
    if good.size:
        as_f32 = good.astype(np.float32)
        image_min, image_max = as_f32.min(), as_f32.max()
    else:
        image_min, image_max = np.float32(np.inf), np.float32(-np.inf)
    threshold = np.float32(1e-6)
    if image_min < 0:
        max_val = max(abs(image_min), abs(image_max))
        scale = np.float32(0.0) if max_val < threshold else np.float32(127.0) / max_val
        offset = np.float32(128.0)
    else:
        scale = np.float32(0.0) if image_max < threshold else np.float32(255.0) / image_max
        offset = np.float32(0.0)
    out = np.empty(values.shape, dtype=np.uint8)
    out[finite] = (good * t(scale) + t(offset)).astype(np.uint8)
    out[~finite] = bad_color
    return out


def image(tag, images, max_outputs=3):
    """``tf.summary.image``: PNG-encoded images from a ``[batch, height, width, channels]`` array.

    ``channels`` is 1 (grayscale), 3 (RGB) or 4 (RGBA). uint8 pixels are written as they
    are. Float pixels (float16/32/64) are rescaled per image, ignoring pixels with a
    non-finite channel: if none is negative they are multiplied by ``255 / max``, otherwise
    by ``127 / max|value|`` and shifted by 128; then truncated to uint8. Pixels with a
    non-finite channel become red. At most ``max_outputs`` images are written, tagged
    ``tag/image/<i>``, or ``tag/image`` when ``max_outputs`` is 1.
    """
    tag = _scalar_tag(tag, "Tags must be a scalar")
    if max_outputs < 1:
        raise ValueError(f"max_outputs must be at least 1, got {max_outputs}")
    tensor = np.asarray(images)
    if tensor.dtype not in (np.uint8, np.float16, np.float32, np.float64):
        raise TypeError(
            f"image summary values must be uint8, float16, float32 or float64, got {tensor.dtype}"
        )
    if tensor.ndim != 4 or tensor.shape[3] not in (1, 3, 4):
        raise _invalid(
            f"Tensor must be 4-D with last dim 1, 3, or 4, not {_shape_str(tensor.shape)}"
        )
    batch, height, width, depth = tensor.shape
    if height * width >= 1 << 29 or max(batch, height, width) >= 1 << 31:
        raise _invalid(f"Tensor too large for summary {_shape_str(tensor.shape)}")
    bad_color = np.array(_BAD_COLOR[:depth], dtype=np.uint8)
    summary = summary_pb2.Summary()
    for i in range(min(max_outputs, batch)):
        pixels = tensor[i].reshape(height * width, depth)
        if tensor.dtype != np.uint8:
            pixels = _normalize_float_image(pixels, bad_color)
        value = summary.value.add(tag=f"{tag}/image/{i}" if max_outputs > 1 else f"{tag}/image")
        value.image.height = height
        value.image.width = width
        value.image.colorspace = depth
        value.image.encoded_image_string = encode_png(pixels.reshape(height, width, depth))
    return summary.SerializeToString()


# ---------------------------------------------------------------------------------------------
# audio


def encode_wav(samples, sample_rate):
    """Encodes ``[frames, channels]`` float samples in [-1, 1] as a 16-bit PCM WAV file.

    Samples are scaled by 32768, rounded half away from zero and clipped to int16, as TF
    does; NaN becomes 0. ``sample_rate`` is a positive integer.
    """
    x = np.asarray(samples, dtype=np.float32)
    if x.ndim == 1:
        x = x[:, None]
    frames, channels = x.shape
    if not 0 < sample_rate <= 0xFFFFFFFF:
        raise _invalid(f"sample_rate must be in (0, 2^32), got: {sample_rate}")
    if not 0 < channels <= 0xFFFF:
        raise _invalid(f"num_channels must be in (0, 2^16), got: {channels}")
    if frames == 0:
        raise _invalid("num_frames must be positive.")
    # float64 holds |x| * 32768 + 0.5 exactly, so floor() rounds exactly like roundf.
    y = x.astype(np.float64) * 32768.0
    with np.errstate(invalid="ignore"):
        y = np.copysign(np.floor(np.abs(y) + 0.5), y)
        y = np.clip(y, -32768.0, 32767.0)
    y[np.isnan(y)] = 0.0
    pcm = y.astype("<i2").tobytes()
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm)
    return buf.getvalue()


def audio(tag, audio, sample_rate, max_outputs=3):
    """``tf.summary.audio``: WAV clips from a ``[batch, frames, channels]`` or ``[batch, frames]``
    float array with values in [-1, 1].

    ``sample_rate`` is in Hz (stored as a float; the WAV header gets it rounded to an
    integer). At most ``max_outputs`` clips are written, tagged ``tag/audio/<i>``, or
    ``tag/audio`` when ``max_outputs`` is 1.
    """
    tag = _scalar_tag(tag, "Tag must be a scalar")
    if max_outputs < 1:
        raise _invalid("max_outputs must be > 0")
    tensor = np.asarray(audio, dtype=np.float32)
    if tensor.ndim not in (2, 3):
        raise _invalid(f"Tensor must be 3-D or 2-D, got: {_shape_str(tensor.shape)}")
    rate = np.float32(np.asarray(sample_rate, dtype=np.float32).reshape(()))
    if not rate > 0:
        raise _invalid("sample_rate must be > 0")
    batch, frames = tensor.shape[:2]
    channels = 1 if tensor.ndim == 2 else tensor.shape[2]
    # lrintf: round half to even.
    wav_rate = int(np.rint(rate)) or 1
    summary = summary_pb2.Summary()
    for i in range(min(max_outputs, batch)):
        value = summary.value.add(tag=f"{tag}/audio/{i}" if max_outputs > 1 else f"{tag}/audio")
        value.audio.sample_rate = float(rate)
        value.audio.num_channels = channels
        value.audio.length_frames = frames
        value.audio.content_type = "audio/wav"
        value.audio.encoded_audio_string = encode_wav(tensor[i].reshape(frames, channels), wav_rate)
    return summary.SerializeToString()


# ---------------------------------------------------------------------------------------------
# tensor summaries and text

_NUMPY_TO_DTYPE = {
    np.dtype(np.bool_): types_pb2.DT_BOOL,
    np.dtype(np.int8): types_pb2.DT_INT8,
    np.dtype(np.int16): types_pb2.DT_INT16,
    np.dtype(np.int32): types_pb2.DT_INT32,
    np.dtype(np.int64): types_pb2.DT_INT64,
    np.dtype(np.uint8): types_pb2.DT_UINT8,
    np.dtype(np.uint16): types_pb2.DT_UINT16,
    np.dtype(np.uint32): types_pb2.DT_UINT32,
    np.dtype(np.uint64): types_pb2.DT_UINT64,
    np.dtype(np.float16): types_pb2.DT_HALF,
    np.dtype(np.float32): types_pb2.DT_FLOAT,
    np.dtype(np.float64): types_pb2.DT_DOUBLE,
    np.dtype(np.complex64): types_pb2.DT_COMPLEX64,
    np.dtype(np.complex128): types_pb2.DT_COMPLEX128,
}


def _is_string_array(a):
    return a.dtype.kind in "SU" or (
        a.dtype == object and all(isinstance(x, (str, bytes, np.str_, np.bytes_)) for x in a.flat)
    )


def _string_array(values):
    if isinstance(values, (str, bytes)):
        return np.array(values, dtype=object)
    a = np.asarray(values)
    return a.astype(object) if a.dtype.kind in "SU" else np.asarray(values, dtype=object)


def _tensor_proto(values):
    # Like TF's TensorSummaryV2: strings as string_val fields, anything else as raw
    # little-endian tensor_content.
    proto = tensor_pb2.TensorProto()
    if isinstance(values, (str, bytes)) or _is_string_array(np.asarray(values)):
        a = _string_array(values)
        proto.dtype = types_pb2.DT_STRING
        proto.string_val.extend(
            x.encode("utf-8") if isinstance(x, str) else bytes(x) for x in a.reshape(-1)
        )
    else:
        a = np.asarray(values)
        if a.dtype.name == "bfloat16":
            dtype = types_pb2.DT_BFLOAT16
        elif a.dtype in _NUMPY_TO_DTYPE:
            dtype = _NUMPY_TO_DTYPE[a.dtype]
        else:
            raise TypeError(f"no TensorFlow dtype for numpy dtype {a.dtype}")
        proto.dtype = dtype
        data = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<")).tobytes()
        if data:
            proto.tensor_content = data
    # TF always sets tensor_shape, even for a scalar (an empty message).
    proto.tensor_shape.SetInParent()
    for d in a.shape:
        proto.tensor_shape.dim.add(size=d)
    return proto


def tensor_summary(tag, tensor, summary_metadata=None):
    """``tf.summary.tensor_summary``: the whole tensor as a ``TensorProto`` value.

    ``summary_metadata`` is a ``SummaryMetadata`` proto or its serialized bytes.
    """
    tag = _scalar_tag(tag, "tag must be scalar")
    summary = summary_pb2.Summary()
    value = summary.value.add(tag=tag)
    value.metadata.SetInParent()
    if summary_metadata is not None:
        if not isinstance(summary_metadata, (bytes, bytearray)):
            summary_metadata = summary_metadata.SerializeToString()
        value.metadata.MergeFromString(bytes(summary_metadata))
    value.tensor.CopyFrom(_tensor_proto(tensor))
    return summary.SerializeToString()


def text(tag, strings):
    """``tf.summary.text`` (TF1): a string tensor summary for TensorBoard's text plugin."""
    if not (isinstance(strings, (str, bytes)) or _is_string_array(np.asarray(strings))):
        raise ValueError(
            f"Expected tensor {tag} to have dtype string, got {np.asarray(strings).dtype}"
        )
    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="text")
    )
    return tensor_summary(tag, strings, metadata)


# ---------------------------------------------------------------------------------------------
# merge


def _flat_inputs(inputs):
    for item in inputs:
        if isinstance(item, (bytes, bytearray, str)):
            yield item
        else:
            a = np.asarray(item, dtype=object)
            yield from a.reshape(-1)


def merge(serialized_summaries):
    """``tf.summary.merge``: one ``Summary`` with the values of all inputs, in order.

    Each input is a serialized ``Summary`` or an array of them. A non-empty tag that
    appears twice raises ``InvalidArgumentError``, as TF's ``MergeSummary`` op does.
    """
    merged = summary_pb2.Summary()
    seen = set()
    for item in _flat_inputs(serialized_summaries):
        if isinstance(item, str):
            item = item.encode("latin-1")
        part = summary_pb2.Summary()
        try:
            part.ParseFromString(bytes(item))
        except Exception:
            raise _invalid("Could not parse one of the summary inputs") from None
        for value in part.value:
            if value.tag:
                if value.tag in seen:
                    raise _invalid(f"Duplicate tag {value.tag} found in summary inputs ")
                seen.add(value.tag)
            merged.value.add().CopyFrom(value)
    return merged.SerializeToString()
