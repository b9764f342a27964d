"""``tf.image`` resizing: ``ResizeBilinear``, ``ResizeNearestNeighbor``, ``ResizeBicubic``,
``ResizeArea`` and TF1's ``resize_images``.

Each lowering computes its source positions and weights in NumPy float32 from the static sizes,
with TF's kernels' arithmetic (``jax.image.resize`` places samples differently for
``align_corners`` and clamps differently at the borders), then gathers rows and columns:

- scale: ``(in - 1) / (out - 1)`` with ``align_corners`` and ``out > 1``, else ``in / out``;
- source position of output index ``i``: ``(i + 0.5) * scale - 0.5`` with
  ``half_pixel_centers`` (nearest neighbour: ``(i + 0.5) * scale``, floored), else ``i * scale``;
- bilinear: the two neighbours ``floor``/``ceil`` clamped into the image, weight
  ``pos - floor(pos)``; nearest: ``floor`` (``round`` half away from zero with
  ``align_corners``), clamped;
- bicubic: Keys' cubic kernel on the four neighbours with ``a = -0.75``, or ``a = -0.5`` with
  ``half_pixel_centers`` (then neighbours outside the image get weight 0 and the rest are
  renormalised), at the fraction rounded to 1/1024 as TF's coefficient table does.

The shape of ``size`` is static: its value must be known when the step is compiled.
"""

import jax.numpy as jnp
import numpy as np

from tfstyle.framework import dtypes, errors, ops

from . import _base
from .array_ops import _shape_error, expand_dims, squeeze

_F32 = np.float32


# -- index arithmetic (NumPy, static) ---------------------------------------------------------
def _scale(in_size, out_size, align_corners):
    if align_corners and out_size > 1:
        return _F32(in_size - 1) / _F32(out_size - 1)
    return _F32(in_size) / _F32(out_size)


def _positions(in_size, out_size, align_corners, half_pixel, nearest=False):
    scale = _scale(in_size, out_size, align_corners)
    i = np.arange(out_size, dtype=_F32)
    if half_pixel:
        return (i + _F32(0.5)) * scale if nearest else (i + _F32(0.5)) * scale - _F32(0.5)
    return i * scale


def _linear_taps(in_size, out_size, align_corners, half_pixel):
    pos = _positions(in_size, out_size, align_corners, half_pixel)
    floor = np.floor(pos)
    lo = np.maximum(floor.astype(np.int64), 0)
    hi = np.minimum(np.ceil(pos).astype(np.int64), in_size - 1)
    return lo, hi, (pos - floor).astype(_F32)


def _nearest_index(in_size, out_size, align_corners, half_pixel):
    pos = _positions(in_size, out_size, align_corners, half_pixel, nearest=True)
    # Round half away from zero (C's roundf), exactly: the float32 positions are exact in
    # float64, where adding 0.5 does not round.
    p = pos.astype(np.float64)
    idx = np.floor(p + 0.5) if align_corners else np.floor(p)
    idx = np.minimum(idx.astype(np.int64), in_size - 1)
    return np.maximum(idx, 0) if half_pixel else idx


_TABLE = 1024


def _cubic(x, a):
    x = np.abs(x)
    near = ((a + 2) * x - (a + 3)) * x * x + 1
    far = ((a * x - 5 * a) * x + 8 * a) * x - 4 * a
    return np.where(x <= 1, near, far)


def _cubic_taps(in_size, out_size, align_corners, half_pixel):
    """(4, out) source indices and float32 weights of TF's bicubic resampling."""
    pos = _positions(in_size, out_size, align_corners, half_pixel)
    base = np.floor(pos).astype(np.int64)
    frac = pos - np.floor(pos)
    # TF reads the kernel from a table sampled every 1/1024: the fraction is rounded to it.
    t = np.rint(frac.astype(np.float64) * _TABLE) / _TABLE
    a = -0.5 if half_pixel else -0.75
    weights = np.stack([_cubic(1 + t, a), _cubic(t, a), _cubic(1 - t, a), _cubic(2 - t, a)])
    weights = weights.astype(_F32)
    want = base[None, :] + np.arange(-1, 3)[:, None]
    index = np.clip(want, 0, in_size - 1)
    if half_pixel:
        weights = np.where(index == want, weights, _F32(0))
        total = weights.sum(axis=0, dtype=_F32)
        ok = np.abs(total) >= 1000 * np.finfo(_F32).tiny
        weights = np.where(ok, weights * (_F32(1) / np.where(ok, total, _F32(1))), weights)
    return index, weights.astype(_F32)


# -- ResizeArea's box weights -------------------------------------------------------------------
def _area_weights(in_size, out_size, align_corners):
    """(out, in) float32 matrix: each output averages the input cells its box
    ``[i * scale, (i + 1) * scale)`` covers, partly covered cells by the covered fraction."""
    scale = _scale(in_size, out_size, align_corners)
    w = np.zeros((out_size, in_size), np.float32)
    for i in range(out_size):
        start = _F32(i) * scale
        end = start + scale
        lo = int(np.floor(start))
        hi = int(np.ceil(end))
        for j in range(lo, hi):
            cover = min(_F32(j + 1), end) - max(_F32(j), start)
            w[i, min(j, in_size - 1)] += cover
        w[i] /= scale
    return w


# -- lowerings -------------------------------------------------------------------------------
def _attrs(op):
    return bool(op._attrs.get("align_corners", False)), bool(
        op._attrs.get("half_pixel_centers", False)
    )


def _target(op, images, size):
    align, half = _attrs(op)
    if align and half:
        raise errors.InvalidArgumentError(
            None, op, "If half_pixel_centers is True, align_corners must be False."
        )
    h, w = (int(d) for d in np.reshape(_base.static_ints(size, f"{op.type}'s size"), [-1]))
    if h <= 0 or w <= 0:
        raise errors.InvalidArgumentError(None, op, "output dimensions must be positive")
    if images.shape[1] <= 0 or images.shape[2] <= 0:
        raise errors.InvalidArgumentError(None, op, "input image must be of non-zero size")
    return h, w, align, half


def _bilinear_lower(op):
    def fn(images, size):
        h, w, align, half = _target(op, images, size)
        x = jnp.asarray(images).astype(jnp.float32)
        ylo, yhi, dy = _linear_taps(x.shape[1], h, align, half)
        xlo, xhi, dx = _linear_taps(x.shape[2], w, align, half)
        top, bottom = jnp.take(x, ylo, axis=1), jnp.take(x, yhi, axis=1)
        dx = dx[None, None, :, None]

        def across(rows):
            left, right = jnp.take(rows, xlo, axis=2), jnp.take(rows, xhi, axis=2)
            return left + (right - left) * dx

        top, bottom = across(top), across(bottom)
        return top + (bottom - top) * dy[None, :, None, None]

    return fn


def _nearest_lower(op):
    def fn(images, size):
        h, w, align, half = _target(op, images, size)
        x = jnp.asarray(images)
        rows = jnp.take(x, _nearest_index(x.shape[1], h, align, half), axis=1)
        return jnp.take(rows, _nearest_index(x.shape[2], w, align, half), axis=2)

    return fn


def _bicubic_lower(op):
    def fn(images, size):
        h, w, align, half = _target(op, images, size)
        x = jnp.asarray(images).astype(jnp.float32)
        yi, yw = _cubic_taps(x.shape[1], h, align, half)
        xi, xw = _cubic_taps(x.shape[2], w, align, half)
        # Along the width first, then the four rows' results along the height, as TF sums.
        cols = [jnp.take(x, xi[k], axis=2) * xw[k][None, None, :, None] for k in range(4)]
        across = cols[0] + cols[1] + cols[2] + cols[3]
        rows = [jnp.take(across, yi[k], axis=1) * yw[k][None, :, None, None] for k in range(4)]
        return rows[0] + rows[1] + rows[2] + rows[3]

    return fn


def _area_lower(op):
    def fn(images, size):
        h, w, align, _ = _target(op, images, size)
        x = jnp.asarray(images).astype(jnp.float32)
        wy = _area_weights(x.shape[1], h, align)
        wx = _area_weights(x.shape[2], w, align)
        y = jnp.einsum("nhwc,ph->npwc", x, wy, precision="highest")
        return jnp.einsum("npwc,qw->npqc", y, wx, precision="highest")

    return fn


def _resize_infer(out_dtype=None):
    def infer(op):
        x, size = op._inputs
        xs = _base.dims(x)
        ss = _base.dims(size)
        if xs is not None and len(xs) != 4:
            raise _shape_error(op, f"Shape must be rank 4 but is rank {len(xs)}")
        if ss is not None and len(ss) != 1:
            raise _shape_error(op, f"Shape must be rank 1 but is rank {len(ss)}")
        if ss is not None and ss[0] is not None and ss[0] != 2:
            raise _shape_error(op, f"Dimension must be 2 but is {ss[0]}")
        hw = _base.constant_shape(size)
        if hw is None or len(hw) != 2:
            hw = (None, None)
        n, c = (None, None) if xs is None else (xs[0], xs[3])
        return [(out_dtype or x.dtype, (n, hw[0], hw[1], c))]

    return infer


_base.register_simple("ResizeBilinear", _resize_infer(dtypes.float32), _bilinear_lower)
_base.register_simple("ResizeNearestNeighbor", _resize_infer(), _nearest_lower)
_base.register_simple("ResizeBicubic", _resize_infer(dtypes.float32), _bicubic_lower)
_base.register_simple("ResizeArea", _resize_infer(dtypes.float32), _area_lower)


# -- public API ------------------------------------------------------------------------------
_INTS = (dtypes.int8, dtypes.uint8, dtypes.int16, dtypes.uint16, dtypes.int32, dtypes.int64)
_FLOATS = (dtypes.bfloat16, dtypes.float16, dtypes.float32, dtypes.float64)
_ALLOWED = _INTS + _FLOATS
# TF's wording of the allowed types (ResizeBilinear's list names bfloat16 twice).
_ALLOWED_TEXT = {
    "ResizeBilinear": "int8, uint8, int16, uint16, int32, int64, bfloat16, float16, float32, "
    "float64, bfloat16",
}
_DEFAULT_TEXT = "int8, uint8, int16, uint16, int32, int64, float16, float32, float64, bfloat16"


def _resize_op(op_type, images, size, name, align_corners, half_pixel_centers=None):
    with ops.name_scope(name, op_type, [images, size]) as scope:
        x = _base.to_tensor(images, name="images")
        if x.dtype.base_dtype not in _ALLOWED:
            raise TypeError(
                f"Value passed to parameter 'images' has DataType {x.dtype.name} not in list of "
                "allowed values: " + _ALLOWED_TEXT.get(op_type, _DEFAULT_TEXT)
            )
        s = size if isinstance(size, ops.Tensor) else _base.to_tensor(size, dtypes.int32, "size")
        attrs = {"T": x.dtype, "align_corners": bool(align_corners)}
        if half_pixel_centers is not None:
            attrs["half_pixel_centers"] = bool(half_pixel_centers)
        return _base.output(op_type, [x, s], attrs, name=scope)


def resize_bilinear(images, size, align_corners=False, name=None, half_pixel_centers=False):
    """Bilinear resampling of 4-D ``images`` to ``size = [height, width]`` (op
    ``ResizeBilinear``); float32 output."""
    return _resize_op("ResizeBilinear", images, size, name, align_corners, half_pixel_centers)


def resize_nearest_neighbor(images, size, align_corners=False, name=None, half_pixel_centers=False):
    """Nearest-neighbour resampling (op ``ResizeNearestNeighbor``); keeps the dtype."""
    return _resize_op(
        "ResizeNearestNeighbor", images, size, name, align_corners, half_pixel_centers
    )


def resize_bicubic(images, size, align_corners=False, name=None, half_pixel_centers=False):
    """Bicubic resampling (op ``ResizeBicubic``); float32 output."""
    return _resize_op("ResizeBicubic", images, size, name, align_corners, half_pixel_centers)


def resize_area(images, size, align_corners=False, name=None):
    """Area (box-average) resampling (op ``ResizeArea``); float32 output."""
    return _resize_op("ResizeArea", images, size, name, align_corners)


class ResizeMethod:
    """TF1's resize methods (``tf.image.ResizeMethod``)."""

    BILINEAR = 0
    NEAREST_NEIGHBOR = 1
    BICUBIC = 2
    AREA = 3


# TF2's string names are accepted too, as TF1's resize_images does.
_METHODS = {
    ResizeMethod.BILINEAR: resize_bilinear,
    "bilinear": resize_bilinear,
    ResizeMethod.NEAREST_NEIGHBOR: resize_nearest_neighbor,
    "nearest": resize_nearest_neighbor,
    ResizeMethod.BICUBIC: resize_bicubic,
    "bicubic": resize_bicubic,
    ResizeMethod.AREA: resize_area,
    "area": resize_area,
}


def resize_images(
    images,
    size,
    method=ResizeMethod.BILINEAR,
    align_corners=False,
    preserve_aspect_ratio=False,
    name=None,
):
    """TF1's ``tf.image.resize_images`` (also ``tf.image.resize``): 3-D or 4-D ``images`` to
    ``size``; returns ``images`` itself when the static size already matches."""
    try:
        resizer = _METHODS.get(method)
    except TypeError:
        resizer = None
    if resizer is None:
        raise ValueError(f"Resize method is not implemented: {method}")
    with ops.name_scope(name, "resize", [images, size]):
        x = _base.to_tensor(images, name="images")
        if x.shape.ndims is None:
            raise ValueError("'images' contains no shape.")
        is_batch = x.shape.ndims == 4
        if x.shape.ndims == 3:
            x = expand_dims(x, 0)
        elif not is_batch:
            raise ValueError("'images' must have either 3 or 4 dimensions.")
        _, height, width, _ = x.shape.as_list()
        try:
            size = _base.to_tensor(size, dtypes.int32, name="size")
        except (TypeError, ValueError):
            raise ValueError("'size' must be a 1-D int32 Tensor") from None
        if not size.shape.is_compatible_with([2]):
            raise ValueError("'size' must be a 1-D Tensor of 2 elements: new_height, new_width")
        static_hw = None
        if preserve_aspect_ratio:
            size, static_hw = _aspect_preserving_size(x, size, height, width)
        known = static_hw or _size_as_shape(size) or (None, None)
        new_h, new_w = known if len(known) == 2 else (None, None)
        if None not in (new_h, new_w, height, width) and (height, width) == (new_h, new_w):
            return x if is_batch else squeeze(x, axis=[0])
        y = resizer(x, size, align_corners=align_corners)
        y.set_shape([None, new_h, new_w, None])
        return y if is_batch else squeeze(y, axis=[0])


def _aspect_preserving_size(x, size, height, width):
    """TF's ops computing the largest size within ``size`` with the aspect ratio of ``x``, and
    its static value where the sizes are known (TF evaluates that sub-graph when building)."""
    from . import math_ops
    from .array_ops import cast, shape, unstack

    dyn = unstack(shape(x), 4)
    current = [height if height is not None else dyn[1], width if width is not None else dyn[2]]
    f32 = dtypes.float32
    factors = [cast(size[i], f32) / cast(current[i], f32) for i in (0, 1)]
    factor = math_ops.minimum(*factors)
    scaled = [cast(math_ops.round(factor * cast(d, f32)), dtypes.int32) for d in current]
    new_size = ops.convert_to_tensor(scaled, dtypes.int32, name="size")
    wanted = _base.constant_value(size)
    static_hw = None
    if wanted is not None and height is not None and width is not None:
        wanted = np.reshape(wanted, [-1]).astype(_F32)
        f = min(wanted[0] / _F32(height), wanted[1] / _F32(width))
        # math_ops.round rounds half to even, as NumPy does.
        static_hw = tuple(int(np.round(f * _F32(d))) for d in (height, width))
    return new_size, static_hw


def _size_as_shape(size):
    """The static ``[height, width]`` in ``size``, element by element (``None`` unknown), also
    for a slice of a ``Shape`` (``tf.shape(x)[1:3]``), as TF's ``constant_value_as_shape``."""
    known = _base.constant_shape(size)
    op = size.op
    if known is not None and any(d is not None for d in known):
        return known
    if op.type == "StridedSlice" and op.inputs[0].op.type == "Shape":
        dims = _base.dims(op.inputs[0].op.inputs[0])
        bounds = [_base.constant_value(t) for t in op.inputs[1:]]
        a = op._attrs
        simple = not (a["ellipsis_mask"] or a["new_axis_mask"] or a["shrink_axis_mask"])
        if dims is not None and simple and all(v is not None and np.size(v) == 1 for v in bounds):
            b, e, st = (int(np.reshape(v, [-1])[0]) for v in bounds)
            return tuple(
                dims[slice(None if a["begin_mask"] else b, None if a["end_mask"] else e, st)]
            )
    return known
