"""TF's ops that move blocks of spatial positions into the batch or the depth dimension:
``SpaceToBatchND``/``BatchToSpaceND`` (``tf.space_to_batch_nd``, ``tf.space_to_batch``, TF's
dilated convolutions) and ``SpaceToDepth``/``DepthToSpace``.

``block_shape`` and ``paddings``/``crops`` are tensors in TF; here their values must be known when
the step is compiled (constants, or computed from static shapes), as for ``Reshape``'s shape.
Every lowering is a pad or a slice around one reshape-transpose-reshape, so JAX differentiates
it (the gradient of one op is the other).
"""

import jax.numpy as jnp
import numpy as np

from tfstyle.framework import dtypes, ops

from . import _base
from .array_ops import _int_tensor, _shape_error

_INDEX_TYPES = (dtypes.int32, dtypes.int64)


def _index_tensor(value, name):
    """An int32 or int64 tensor: NumPy integer arrays keep their width, lists become int32."""
    if isinstance(value, (np.ndarray, np.generic)) or (
        not isinstance(value, ops.Tensor) and np.asarray(value).dtype.kind not in "iub"
    ):
        t = _base.to_tensor(value, name=name)
    else:
        t = _int_tensor(value, name)
    if t.dtype.base_dtype not in _INDEX_TYPES:
        raise TypeError(
            f"Value passed to parameter '{name}' has DataType {t.dtype.name} not in list of "
            f"allowed values: int32, int64"
        )
    return t


# -- shape rules -----------------------------------------------------------------------------
def _block_and_pairs(op, pairs_name):
    """Checks the static ranks of ``(input, block_shape, paddings|crops)``; returns the input's
    dims, ``M`` (or None) and the static values of block_shape and the pairs (or None)."""
    x, block, pairs = op._inputs
    bs = _base.dims(block)
    ps = _base.dims(pairs)
    if bs is not None and len(bs) != 1:
        raise _shape_error(op, f"Shape must be rank 1 but is rank {len(bs)}")
    if ps is not None and len(ps) != 2:
        raise _shape_error(op, f"Shapes must be equal rank, but are {len(ps)} and 2")
    m = bs[0] if bs is not None else None
    if ps is not None:
        if ps[1] is not None and ps[1] != 2:
            raise _shape_error(op, f"Dimension must be 2 but is {ps[1]}")
        if m is not None and ps[0] is not None and ps[0] != m:
            raise _shape_error(
                op,
                f"Dimension 0 in both shapes must be equal, but are {ps[0]} and {m}. Shapes are "
                f"[{ps[0]},2] and [{m},2].",
            )
        m = ps[0] if m is None else m
    xs = _base.dims(x)
    if xs is not None and m is not None and len(xs) < m + 1:
        raise _shape_error(op, f"Shape must be at least rank {m + 1} but is rank {len(xs)}")
    bv = _base.constant_value(block)
    pv = _base.constant_value(pairs)
    if bv is not None:
        bv = np.reshape(bv, [-1]).astype(np.int64)
        if np.any(bv < 1):
            raise _shape_error(op, "block_shape must be positive")
    if pv is not None:
        pv = np.reshape(pv, [-1, 2]).astype(np.int64)
        if np.any(pv < 0):
            raise _shape_error(op, f"{pairs_name} cannot be negative")
    return xs, m, bv, pv


def _space_to_batch_infer(op):
    x = op._inputs[0]
    xs, m, bv, pv = _block_and_pairs(op, "paddings")
    if xs is None:
        return [(x.dtype, None)]
    if m is None:
        return [(x.dtype, (None,) * len(xs))]
    batch = xs[0]
    out = [None] * (m + 1)
    for i in range(m):
        d = xs[1 + i]
        k = None if bv is None else int(bv[i])
        padded = None if d is None or pv is None else d + int(pv[i, 0]) + int(pv[i, 1])
        if padded is not None and k is not None:
            if padded % k:
                raise _shape_error(
                    op, f"Dimension size must be evenly divisible by {k} but is {padded}"
                )
            out[1 + i] = padded // k
    if batch is not None and bv is not None:
        out[0] = batch * int(np.prod(bv))
    return [(x.dtype, tuple(out) + tuple(xs[1 + m :]))]


def _batch_to_space_infer(op):
    x = op._inputs[0]
    xs, m, bv, cv = _block_and_pairs(op, "crops")
    if xs is None:
        return [(x.dtype, None)]
    if m is None:
        return [(x.dtype, (None,) * len(xs))]
    out = [None] * (m + 1)
    if xs[0] is not None and bv is not None:
        total = int(np.prod(bv))
        if xs[0] % total:
            raise _shape_error(
                op, f"Dimension size must be evenly divisible by {total} but is {xs[0]}"
            )
        out[0] = xs[0] // total
    for i in range(m):
        d = xs[1 + i]
        if d is None or bv is None or cv is None:
            continue
        size = d * int(bv[i])
        # The crops come off one after the other, as TF words its error.
        for crop in (int(cv[i, 0]), int(cv[i, 1])):
            if size < crop:
                raise _shape_error(
                    op, f"Negative dimension size caused by subtracting {crop} from {size}"
                )
            size -= crop
        out[1 + i] = size
    return [(x.dtype, tuple(out) + tuple(xs[1 + m :]))]


# -- lowerings -------------------------------------------------------------------------------
def _static_pairs(block, pairs, what):
    k = [int(v) for v in np.reshape(_base.static_ints(block, f"{what}'s block_shape"), [-1])]
    p = np.reshape(_base.static_ints(pairs, f"{what}'s paddings or crops"), [-1, 2])
    return k, [(int(lo), int(hi)) for lo, hi in p]


def _space_to_batch_lower(op):
    def fn(x, block, paddings):
        k, pads = _static_pairs(block, paddings, "SpaceToBatchND")
        m = len(k)
        rest = x.ndim - 1 - m
        x = jnp.pad(x, [(0, 0), *pads] + [(0, 0)] * rest)
        b, spatial, tail = x.shape[0], x.shape[1 : 1 + m], x.shape[1 + m :]
        # [b, s0/k0, k0, s1/k1, k1, ..., tail]: the block offsets go in front of the batch, so
        # output batch index = (row-major offset within the block) * b + original batch index.
        split = [b] + [d for s, kk in zip(spatial, k) for d in (s // kk, kk)] + list(tail)
        perm = (
            [2 + 2 * i for i in range(m)]
            + [0]
            + [1 + 2 * i for i in range(m)]
            + [1 + 2 * m + i for i in range(rest)]
        )
        y = jnp.transpose(jnp.reshape(x, split), perm)
        return jnp.reshape(
            y, [b * int(np.prod(k))] + [s // kk for s, kk in zip(spatial, k)] + list(tail)
        )

    return fn


def _batch_to_space_lower(op):
    def fn(x, block, crops):
        k, crop = _static_pairs(block, crops, "BatchToSpaceND")
        m = len(k)
        rest = x.ndim - 1 - m
        b = x.shape[0] // int(np.prod(k))
        spatial, tail = x.shape[1 : 1 + m], x.shape[1 + m :]
        y = jnp.reshape(x, list(k) + [b] + list(spatial) + list(tail))
        # [b, s0, k0, s1, k1, ..., tail]
        perm = (
            [m]
            + [d for i in range(m) for d in (m + 1 + i, i)]
            + [2 * m + 1 + i for i in range(rest)]
        )
        y = jnp.reshape(
            jnp.transpose(y, perm), [b] + [s * kk for s, kk in zip(spatial, k)] + list(tail)
        )
        index = (slice(None),) + tuple(
            slice(lo, s * kk - hi) for (lo, hi), s, kk in zip(crop, spatial, k)
        )
        return y[index]

    return fn


_base.register_simple("SpaceToBatchND", _space_to_batch_infer, _space_to_batch_lower)
_base.register_simple("BatchToSpaceND", _batch_to_space_infer, _batch_to_space_lower)


# -- public API ------------------------------------------------------------------------------
def _nd(op_type, pairs_name, input, block_shape, pairs, name):  # noqa: A002
    with ops.name_scope(name, op_type, [input, block_shape, pairs]) as scope:
        x = _base.to_tensor(input, name="input")
        k = _index_tensor(block_shape, "block_shape")
        p = _index_tensor(pairs, pairs_name)
        attrs = {"T": x.dtype, "Tblock_shape": k.dtype, "T" + pairs_name: p.dtype}
        return _base.output(op_type, [x, k, p], attrs, name=scope)


def space_to_batch_nd(input, block_shape, paddings, name=None):  # noqa: A002 - TF's names
    """Zero-pads the ``M`` spatial dims after the batch by ``paddings`` and moves each
    ``block_shape`` block of positions into the batch (op ``SpaceToBatchND``)."""
    return _nd("SpaceToBatchND", "paddings", input, block_shape, paddings, name)


def batch_to_space_nd(input, block_shape, crops, name=None):  # noqa: A002
    """The inverse of ``space_to_batch_nd``: batch blocks back into space, then ``crops``
    removed (op ``BatchToSpaceND``)."""
    return _nd("BatchToSpaceND", "crops", input, block_shape, crops, name)


def _block_size(block_size, block_shape):
    if block_shape is not None:
        if block_size is not None:
            raise ValueError("Cannot specify both 'block_shape' and 'block_size'.")
        return block_shape
    return block_size


def _with_rank_4(t):
    t.set_shape(t.shape.with_rank(4))
    return t


def space_to_batch(input, paddings, block_size=None, name=None, block_shape=None):  # noqa: A002
    """TF1's 4-D ``space_to_batch``: ``space_to_batch_nd`` with the block ``[block_size] * 2``
    (an int64 constant, as TF writes it)."""
    bs = _block_size(block_size, block_shape)
    block = np.array([bs, bs], dtype=np.int64)
    return _with_rank_4(space_to_batch_nd(input, block, paddings, name=name))


def batch_to_space(input, crops, block_size, name=None, block_shape=None):  # noqa: A002
    """TF1's 4-D ``batch_to_space``: ``batch_to_space_nd`` with the block ``[block_size] * 2``."""
    bs = _block_size(block_size, block_shape)
    block = np.array([bs, bs], dtype=np.int64)
    return _with_rank_4(batch_to_space_nd(input, block, crops, name=name))


# -- SpaceToDepth, DepthToSpace --------------------------------------------------------------
def _data_format(op):
    fmt = op._attrs.get("data_format", b"NHWC")
    fmt = fmt.decode() if isinstance(fmt, bytes) else fmt
    if fmt not in ("NHWC", "NCHW"):
        raise _shape_error(op, f"tfstyle supports {op.type} in NHWC and NCHW, not {fmt}")
    return fmt


def _depth_infer(to_depth):
    def infer(op):
        x = op._inputs[0]
        xs = _base.dims(x)
        fmt = _data_format(op)
        if xs is None:
            return [(x.dtype, (None,) * 4)]
        if len(xs) != 4:
            raise _shape_error(op, f"Shape must be rank 4 but is rank {len(xs)}")
        k = int(op._attrs["block_size"])
        n, h, w, c = (xs[0], xs[2], xs[3], xs[1]) if fmt == "NCHW" else xs
        if to_depth:
            for d in (h, w):
                if d is not None and d % k:
                    raise _shape_error(
                        op, f"Dimension size must be evenly divisible by {k} but is {d}"
                    )
            h, w = (None if h is None else h // k), (None if w is None else w // k)
            c = None if c is None else c * k * k
        else:
            if c is not None and c % (k * k):
                raise _shape_error(
                    op, f"Dimension size must be evenly divisible by {k * k} but is {c}"
                )
            h, w = (None if h is None else h * k), (None if w is None else w * k)
            c = None if c is None else c // (k * k)
        return [(x.dtype, (n, c, h, w) if fmt == "NCHW" else (n, h, w, c))]

    return infer


def _depth_lower(to_depth):
    def lower(op):
        k = int(op._attrs["block_size"])
        nchw = _data_format(op) == "NCHW"

        def fn(x):
            if nchw:
                # The same values in the other layout: channel index (dy * k + dx) * C + c.
                x = jnp.transpose(x, (0, 2, 3, 1))
            n, h, w, c = x.shape
            if to_depth:
                y = jnp.reshape(x, (n, h // k, k, w // k, k, c))
                y = jnp.reshape(
                    jnp.transpose(y, (0, 1, 3, 2, 4, 5)), (n, h // k, w // k, k * k * c)
                )
            else:
                y = jnp.reshape(x, (n, h, w, k, k, c // (k * k)))
                y = jnp.reshape(
                    jnp.transpose(y, (0, 1, 3, 2, 4, 5)), (n, h * k, w * k, c // (k * k))
                )
            return jnp.transpose(y, (0, 3, 1, 2)) if nchw else y

        return fn

    return lower


_base.register_simple("SpaceToDepth", _depth_infer(True), _depth_lower(True))
_base.register_simple("DepthToSpace", _depth_infer(False), _depth_lower(False))


def _depth_op(op_type, input, block_size, name, data_format):  # noqa: A002
    block_size = int(block_size)
    if block_size < 2:
        raise ValueError(
            f"Attr 'block_size' of '{op_type}' Op passed {block_size} less than minimum 2."
        )
    with ops.name_scope(name, op_type, [input]) as scope:
        x = _base.to_tensor(input, name="input")
        attrs = {
            "T": x.dtype,
            "block_size": block_size,
            "data_format": data_format.encode() if isinstance(data_format, str) else data_format,
        }
        return _base.output(op_type, [x], attrs, name=scope)


def space_to_depth(input, block_size, name=None, data_format="NHWC"):  # noqa: A002
    """Moves each ``block_size`` x ``block_size`` block of positions into the depth (op
    ``SpaceToDepth``); output channel ``(dy * block_size + dx) * C + c``."""
    return _depth_op("SpaceToDepth", input, block_size, name, data_format)


def depth_to_space(input, block_size, name=None, data_format="NHWC"):  # noqa: A002
    """The inverse of ``space_to_depth`` (op ``DepthToSpace``)."""
    return _depth_op("DepthToSpace", input, block_size, name, data_format)
