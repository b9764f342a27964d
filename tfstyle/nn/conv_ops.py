"""``tf.nn`` convolutions and pooling: ``Conv2D``, ``Conv2DBackpropInput``,
``DepthwiseConv2dNative``, ``MaxPool``, ``AvgPool`` (NHWC and NCHW), and ``conv1d`` /
``max_pool1d`` / ``avg_pool1d`` built from them as TF builds them.

Lowerings use ``lax.conv_general_dilated`` and ``lax.reduce_window`` (max pooling: strided
slices, see ``_sliced_max_pool``) with TF's padding: SAME
pads ``max((out - 1) * stride + k - in, 0)`` split with the extra element after, VALID none,
EXPLICIT the given pairs.
"""

import jax
import jax.numpy as jnp
import numpy as np

from tfstyle.framework import dtypes, ops, registry
from tfstyle.ops import _base, array_ops

from . import _util
from ._util import FLOATS, check_dtype, node_error, with_rank

_PADDINGS = ("SAME", "VALID", "EXPLICIT")
_POOL_PADDINGS = ("SAME", "VALID")


# -- shared shape arithmetic -----------------------------------------------------------------------
def _layout(data_format):
    """(spatial axes, channel axis) of a 4-D or 5-D tensor in ``data_format``."""
    fmt = data_format.decode() if isinstance(data_format, bytes) else data_format
    n = len(fmt) - 2
    if fmt.startswith("NC"):
        return tuple(range(2, n + 2)), 1
    return tuple(range(1, n + 1)), n + 1


def _pads(op, spatial_in, ksizes, strides, dilations):
    """Per spatial dim ``(before, after)`` padding, TF's SAME/VALID/EXPLICIT rules."""
    padding = _util.attr_bytes(op, "padding")
    spatial, _ = _layout(op._attrs.get("data_format", b"NHWC"))
    pads = []
    for i, (n, k, s, d) in enumerate(zip(spatial_in, ksizes, strides, dilations)):
        eff = (k - 1) * d + 1
        if padding == b"VALID":
            pads.append((0, 0))
        elif padding == b"EXPLICIT":
            ep = op._attrs["explicit_paddings"]
            a = spatial[i]
            pads.append((ep[2 * a], ep[2 * a + 1]))
        else:
            out = -(-n // s)
            total = max((out - 1) * s + eff - n, 0)
            pads.append((total // 2, total - total // 2))
    return pads


def _out_size(op, n, k, s, d, pad):
    """TF's windowed output size of one spatial dim (``None`` if unknown)."""
    if n is None or k is None:
        return None
    eff = (k - 1) * d + 1
    padding = _util.attr_bytes(op, "padding")
    if padding == b"SAME":
        return -(-n // s)
    total = n + pad[0] + pad[1]
    if total < eff:
        raise node_error(
            op,
            f"Negative dimension size caused by subtracting {eff} from {total}"
            if padding == b"VALID"
            else f"Computed output size would be negative: {(total - eff + s) // s - 1} "
            f"[input_size: {n}, effective_filter_size: {eff}, stride: {s}]",
        )
    return (total - eff + s) // s


def _spatial_attrs(op, name):
    spatial, _ = _layout(op._attrs.get("data_format", b"NHWC"))
    v = op._attrs[name]
    return [v[a] for a in spatial]


def _explicit_pad(op, a):
    if op._attrs["padding"] != b"EXPLICIT":
        return (0, 0)
    ep = op._attrs["explicit_paddings"]
    return (ep[2 * a], ep[2 * a + 1])


def _check_padding(padding, allowed, op_type):
    padding_b = _util.as_bytes(padding)
    if padding_b.decode() not in allowed:
        raise ValueError(
            f"Attr 'padding' of '{op_type}' Op passed string '{padding_b.decode()}' not in: "
            + ", ".join(f'"{p}"' for p in allowed)
            + "."
        )
    return padding_b


def _get_sequence(value, n, channel_index, name):
    """TF's expansion of an int or a short list to a full 4-entry ``strides``/``ksize``."""
    if value is None:
        return [1] * (n + 2)
    if isinstance(value, (int, np.integer)):
        value = [int(value)]
    value = list(value)
    if len(value) == n + 2:
        return [int(v) for v in value]
    if len(value) == 1:
        value = value * n
    elif len(value) != n:
        raise ValueError(
            f"{name} should be of length 1, {n} or {n + 2}. Received: {name}={value} of length "
            f"{len(value)}"
        )
    value = [int(v) for v in value]
    return [1, 1] + value if channel_index == 1 else [1] + value + [1]


def _convert_padding(padding, expected_length=4):
    if padding == "EXPLICIT":
        raise ValueError(
            "'EXPLICIT' is not a valid value for `padding`. To use explicit padding, `padding` "
            "must be a list."
        )
    explicit = []
    if isinstance(padding, (list, tuple)):
        for i, pair in enumerate(padding):
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise ValueError(
                    "When `padding` is a list, each element of `padding` must be a list/tuple "
                    f"of size 2. Received: padding={padding} with element at index {i}"
                )
            explicit.extend(int(p) for p in pair)
        if len(padding) != expected_length:
            raise ValueError(
                f"When padding is a list, it must be of size {expected_length}. Received: "
                f"padding={padding} of size {len(padding)}"
            )
        padding = "EXPLICIT"
    return padding, explicit


# -- Conv2D ---------------------------------------------------------------------------------------
def _conv_infer(op, depthwise=False):
    rank = len(op._attrs["strides"])
    n = rank - 2
    x = with_rank(op, 0, rank)
    f = with_rank(op, 1, rank)
    dt = op._inputs[0].dtype
    if x is None:
        return [(dt, (None,) * rank if f is None else None)]
    spatial, c_axis = _layout(op._attrs.get("data_format", b"NHWC"))
    f = f or (None,) * rank
    in_depth = x[c_axis]
    if depthwise:
        in_depth = _util.merge_dim(op, in_depth, f[2])
        out_depth = None if in_depth is None or f[3] is None else in_depth * f[3]
    else:
        if in_depth is not None and f[n] is not None and in_depth % f[n]:
            raise node_error(
                op,
                f"Depth of input ({in_depth}) is not a multiple of input depth of filter ({f[n]})",
            )
        out_depth = f[n + 1]
    strides = _spatial_attrs(op, "strides")
    dilations = _spatial_attrs(op, "dilations")
    out = [None] * rank
    out[0] = x[0]
    out[c_axis] = out_depth
    for i, a in enumerate(spatial):
        out[a] = _out_size(op, x[a], f[i], strides[i], dilations[i], _explicit_pad(op, a))
    return [(dt, tuple(out))]


def _dimension_numbers(data_format):
    fmt = data_format.decode() if isinstance(data_format, bytes) else data_format
    spatial = fmt.replace("N", "").replace("C", "")
    return (fmt, spatial + "IO", fmt)


def _conv(op, x, f, feature_group_count=None):
    spatial, c_axis = _layout(op._attrs.get("data_format", b"NHWC"))
    strides = _spatial_attrs(op, "strides")
    dilations = _spatial_attrs(op, "dilations")
    n = len(spatial)
    pads = _pads(op, [x.shape[a] for a in spatial], f.shape[:n], strides, dilations)
    groups = feature_group_count or x.shape[c_axis] // f.shape[n]
    return jax.lax.conv_general_dilated(
        x,
        f,
        window_strides=strides,
        padding=pads,
        rhs_dilation=dilations,
        dimension_numbers=_dimension_numbers(op._attrs["data_format"]),
        feature_group_count=groups,
    )


_base.register_simple("Conv2D", _conv_infer, lambda op: lambda x, f: _conv(op, x, f))


def _conv_attrs(strides, padding, explicit, data_format, dilations, op_type):
    return {
        "strides": strides,
        "use_cudnn_on_gpu": True,
        "padding": _check_padding(padding, _PADDINGS, op_type),
        "explicit_paddings": explicit,
        "data_format": _util.as_bytes(data_format),
        "dilations": dilations,
    }


def _gen_conv(op_type, inputs, attrs, name, allowed=FLOATS + (dtypes.int32,)):
    with ops.name_scope(name, op_type, inputs) as scope:
        x = inputs[0]
        check_dtype(x, "input", allowed)
        inputs = [inputs[0]] + [_base.to_tensor(t, dtype=x.dtype) for t in inputs[1:]]
        attrs = dict(attrs, T=x.dtype)
        return _base.output(op_type, inputs, attrs, name=scope)


def conv2d(
    input,  # noqa: A002 - TF's argument names
    filter=None,  # noqa: A002
    strides=None,
    padding=None,
    use_cudnn_on_gpu=True,
    data_format="NHWC",
    dilations=(1, 1, 1, 1),
    name=None,
    filters=None,
):
    """2-D convolution of a 4-D ``input`` with a ``[h, w, in, out]`` filter (op ``Conv2D``).

    ``padding`` is ``"SAME"``, ``"VALID"`` or explicit ``[[0, 0], [t, b], [l, r], [0, 0]]``.
    """
    if filter is not None and filters is not None:
        raise ValueError("Cannot specify both 'filter' and 'filters'")
    filter = filters if filter is None else filter  # noqa: A001
    data_format = data_format or "NHWC"
    channel_index = 1 if data_format.startswith("NC") else 3
    strides = _get_sequence(strides, 2, channel_index, "strides")
    dilations = _get_sequence(dilations, 2, channel_index, "dilations")
    padding, explicit = _convert_padding(padding)
    with ops.name_scope(name, "Conv2D", [input, filter]) as scope:
        x = _base.to_tensor(input, name="input")
        f = _base.to_tensor(filter, name="filter", dtype=x.dtype)
        attrs = _conv_attrs(strides, padding, explicit, data_format, dilations, "Conv2D")
        return _gen_conv("Conv2D", [x, f], attrs, scope)


def conv1d(
    value=None,
    filters=None,
    stride=None,
    padding=None,
    use_cudnn_on_gpu=None,
    data_format=None,
    name=None,
    input=None,  # noqa: A002
    dilations=None,
):
    """1-D convolution, built as TF builds it: ``ExpandDims``, ``Conv2D``, ``Squeeze``."""
    if value is not None and input is not None:
        raise ValueError("Cannot specify both 'value' and 'input'")
    value = input if value is None else value
    with ops.name_scope(name, "conv1d", [value, filters]) as name:
        if data_format is None or data_format in ("NHWC", "NWC"):
            data_format, spatial_start_dim, channel_index = "NHWC", -3, 2
        elif data_format in ("NCHW", "NCW"):
            data_format, spatial_start_dim, channel_index = "NCHW", -2, 1
        else:
            raise ValueError(
                f"`data_format` must be 'NWC' or 'NCW'. Received: data_format={data_format}"
            )
        strides = [1] + _get_sequence(stride, 1, channel_index, "stride")
        dilations = [1] + _get_sequence(dilations, 1, channel_index, "dilations")
        value = array_ops.expand_dims(value, spatial_start_dim)
        filters = array_ops.expand_dims(filters, 0)
        padding, explicit = _convert_padding(padding)
        attrs = _conv_attrs(strides, padding, explicit, data_format, dilations, "Conv2D")
        result = _gen_conv("Conv2D", [value, filters], attrs, name)
        return array_ops.squeeze(result, [spatial_start_dim])


# -- Conv2DBackpropInput (conv2d_transpose) --------------------------------------------------
def _backprop_input_infer(op):
    rank = len(op._attrs["strides"])
    sizes = _base.constant_shape(op._inputs[0])
    f = with_rank(op, 1, rank)
    dy = with_rank(op, 2, rank)
    dt = op._inputs[1].dtype
    if sizes is not None and len(sizes) != rank:
        raise node_error(op, f"input_sizes must be {rank}-dimensional, got: {len(sizes)}")
    if sizes is not None and f is not None:
        _, c_axis = _layout(op._attrs.get("data_format", b"NHWC"))
        k = rank - 2
        if sizes[c_axis] is not None and f[k] is not None and sizes[c_axis] % f[k]:
            raise node_error(
                op,
                f"Depth of input ({sizes[c_axis]}) is not a multiple of input depth of filter "
                f"({f[k]})",
            )
    out = list(sizes if sizes is not None else (None,) * rank)
    # TF takes the batch size from out_backprop, not from input_sizes.
    out[0] = None if dy is None else dy[0]
    return [(dt, tuple(out))]


def backprop_lowering(forward_type, wrt, what):
    """The lowering of TF's ``<forward>BackpropInput`` (``wrt`` 0: inputs ``sizes, filter, dy``)
    or ``<forward>BackpropFilter`` (``wrt`` 1: inputs ``input, sizes, dy``): the exact transpose
    of the forward op's lowering with respect to that operand, at the static shape ``sizes``
    (``what`` names it in errors), so every padding mode agrees with the forward op."""

    def lower(op):
        operands = list(op._inputs[:2])
        operands[wrt] = op._inputs[2]  # the forward op's view: dy stands in for the unknown
        fwd = _base.forward_lowering(op, forward_type, operands)

        def fn(a, b, dy):
            sizes = tuple(int(d) for d in _base.static_ints((a, b)[wrt], what))
            other = (a, b)[1 - wrt]
            conv = (lambda v: fwd(v, other)) if wrt == 0 else (lambda v: fwd(other, v))
            (grad,) = jax.linear_transpose(conv, jax.ShapeDtypeStruct(sizes, dy.dtype))(dy)
            return grad

        return fn

    return lower


_base.register_simple(
    "Conv2DBackpropInput",
    _backprop_input_infer,
    backprop_lowering("Conv2D", 0, "conv2d_transpose's output_shape"),
)


def conv2d_transpose(
    value=None,
    filter=None,  # noqa: A002
    output_shape=None,
    strides=None,
    padding="SAME",
    data_format="NHWC",
    name=None,
    input=None,  # noqa: A002
    filters=None,
    dilations=None,
):
    """The transpose (gradient) of ``conv2d`` (op ``Conv2DBackpropInput``); the filter is
    ``[h, w, out_channels, in_channels]``."""
    value = input if value is None else value
    filter = filters if filter is None else filter  # noqa: A001
    with ops.name_scope(name, "conv2d_transpose", [value, filter, output_shape]) as name:
        data_format = data_format or "NHWC"
        channel_index = 1 if data_format.startswith("NC") else 3
        strides = _get_sequence(strides, 2, channel_index, "strides")
        dilations = _get_sequence(dilations, 2, channel_index, "dilations")
        padding, explicit = _convert_padding(padding)
        x = _base.to_tensor(value, name="out_backprop")
        f = _base.to_tensor(filter, name="filter", dtype=x.dtype)
        if isinstance(output_shape, ops.Tensor):
            sizes = output_shape
        else:
            sizes = _base.to_tensor(output_shape, dtype=dtypes.int32, name="input_sizes")
        check_dtype(f, "filter", FLOATS + (dtypes.int32,))
        attrs = _conv_attrs(
            strides, padding, explicit, data_format, dilations, "Conv2DBackpropInput"
        )
        attrs["T"] = x.dtype
        return _base.output("Conv2DBackpropInput", [sizes, f, x], attrs, name=name)


# -- DepthwiseConv2dNative ------------------------------------------------------------------------
def _depthwise_lower(op):
    def fn(x, f):
        kh, kw, cin, mult = f.shape
        return _conv(op, x, jnp.reshape(f, (kh, kw, 1, cin * mult)), feature_group_count=cin)

    return fn


_base.register_simple(
    "DepthwiseConv2dNative", lambda op: _conv_infer(op, depthwise=True), _depthwise_lower
)


def depthwise_conv2d_native(
    input,  # noqa: A002
    filter,  # noqa: A002
    strides,
    padding,
    data_format="NHWC",
    dilations=(1, 1, 1, 1),
    name=None,
):
    """Depthwise convolution with a ``[h, w, in, multiplier]`` filter (op
    ``DepthwiseConv2dNative``)."""
    padding, explicit = _convert_padding(padding)
    data_format = data_format or "NHWC"
    attrs = _conv_attrs(list(strides), padding, explicit, data_format, list(dilations), "x")
    attrs.pop("use_cudnn_on_gpu")
    x = _base.to_tensor(input, name="input")
    f = _base.to_tensor(filter, name="filter", dtype=x.dtype)
    return _gen_conv("DepthwiseConv2dNative", [x, f], attrs, name or "DepthwiseConv2dNative")


def depthwise_conv2d(
    input,  # noqa: A002
    filter,  # noqa: A002
    strides,
    padding,
    rate=None,
    name=None,
    data_format=None,
    dilations=None,
):
    """Depthwise 2-D convolution: each input channel with its own ``multiplier`` filters.

    With ``rate`` > 1 tfstyle passes the dilation to ``DepthwiseConv2dNative`` directly, where
    TF wraps the op in ``SpaceToBatchND``/``BatchToSpaceND`` (same values, other op names).
    """
    rate = dilations if rate is None else rate
    with ops.name_scope(name, "depthwise", [input, filter]) as name:
        x = _base.to_tensor(input, name="tensor_in")
        f = _base.to_tensor(filter, name="filter_in")
        rate = [1, 1] if rate is None else list(rate)
        from tfstyle.ops.constant_op import constant

        if f.shape.is_fully_defined():
            constant(f.shape.as_list(), dtype=dtypes.int32, name="Shape")
        else:
            array_ops.shape(f)
        constant(rate, dtype=dtypes.int32, name="dilation_rate")
        if data_format is not None and data_format.startswith("NC"):
            dil = [1, 1] + rate
        else:
            dil = [1] + rate + [1]
        return depthwise_conv2d_native(
            x, f, strides, padding, data_format=data_format, dilations=dil, name=name
        )


# -- MaxPool, AvgPool -------------------------------------------------------------------------------
def _pool_infer(op):
    x = with_rank(op, 0, len(op._attrs["ksize"]))
    dt = op._inputs[0].dtype
    if x is None:
        return [(dt, None)]
    spatial, _ = _layout(op._attrs.get("data_format", b"NHWC"))
    ks = _spatial_attrs(op, "ksize")
    ss = _spatial_attrs(op, "strides")
    out = list(x)
    for i, a in enumerate(spatial):
        out[a] = _out_size(op, x[a], ks[i], ss[i], 1, _explicit_pad(op, a))
    return [(dt, tuple(out))]


def _pool_window(op, x):
    spatial, _ = _layout(op._attrs.get("data_format", b"NHWC"))
    ks, ss = op._attrs["ksize"], op._attrs["strides"]
    sp_pads = _pads(
        op,
        [x.shape[a] for a in spatial],
        [ks[a] for a in spatial],
        [ss[a] for a in spatial],
        [1] * len(spatial),
    )
    pads = [(0, 0)] * len(ks)
    for a, p in zip(spatial, sp_pads):
        pads[a] = p
    return tuple(ks), tuple(ss), pads


# Windows of at most this many elements are pooled as a maximum of strided slices (below);
# larger ones (global pooling) with ``reduce_window``, whose HLO does not grow with the window.
_MAX_SLICED_WINDOW = 64


def _window_slices(x, ks, ss, pads, init):
    """The ``prod(ks)`` strided views of ``x`` padded with ``init``, one per window offset, in
    row-major window order; view ``i`` holds element ``i`` of every output's window."""
    xp = jax.lax.pad(x, init, [(lo, hi, 0) for lo, hi in pads])
    out = [(n - k) // s + 1 for n, k, s in zip(xp.shape, ks, ss)]
    views = []
    for offset in np.ndindex(*ks):
        limit = [o + (m - 1) * s + 1 for o, m, s in zip(offset, out, ss)]
        views.append(jax.lax.slice(xp, offset, limit, ss))
    return views


def _sliced_max_pool(ks, ss, pads, init):
    """Max pooling as an elementwise maximum of the window's strided views, with TF's gradient.

    XLA's CPU backend runs ``reduce_window``'s gradient (``select_and_scatter``) as a slow
    scalar loop: for the MNIST CNN's two 2x2 pools it took ~55 ms of a ~90 ms training step,
    against ~1 ms for this form. Forward: the maximum of the views, and (under differentiation)
    the position of each window's first maximum in row-major order, as TF's ``MaxPoolGrad``
    routes the gradient. Backward: the gradient placed at that position; for non-overlapping
    windows (``ksize == strides``) as one elementwise pass over the input's shape, otherwise
    through the views' own transpose.
    """
    count = int(np.prod(ks))
    idx_dtype = np.int8 if count <= 127 else np.int32

    def views_of(x):
        return _window_slices(x, ks, ss, pads, init)

    def maximum(views):
        y = views[0]
        for v in views[1:]:
            y = jax.lax.max(y, v)
        return y

    @jax.custom_vjp
    def pool(x):
        return maximum(views_of(x))

    def fwd(x):
        views = views_of(x)
        y = maximum(views)
        first = jnp.full(y.shape, count - 1, idx_dtype)
        for i in range(count - 2, -1, -1):
            first = jnp.where(views[i] == y, idx_dtype(i), first)
        return y, (first, x.shape)

    def bwd(res, g):
        first, x_shape = res
        zero = jnp.zeros((), g.dtype)
        if all(k == s for k, s in zip(ks, ss)):
            # Output o's window is the block [o*k, (o+1)*k) of the padded input: interleave
            # (out, k) per axis, pick the gradient where the block position is the first max.
            split = [d for o in g.shape for d in (o, 1)]
            where = np.arange(count, dtype=idx_dtype).reshape([d for k in ks for d in (1, k)])
            spread = jnp.where(first.reshape(split) == where, g.reshape(split), zero)
            blocks = spread.reshape([o * k for o, k in zip(g.shape, ks)])
            # Back to the input's extent: drop the leading padding, trim or zero-fill the end.
            crop = [(-lo, n + lo - b, 0) for (lo, _), n, b in zip(pads, x_shape, blocks.shape)]
            return (jax.lax.pad(blocks, zero, crop),)
        _, place = jax.vjp(views_of, jnp.zeros(x_shape, g.dtype))
        return place([jnp.where(first == idx_dtype(i), g, zero) for i in range(count)])

    pool.defvjp(fwd, bwd)
    return pool


def _max_pool_lower(op):
    def fn(x):
        ks, ss, pads = _pool_window(op, x)
        dt = np.dtype(x.dtype)
        # A concrete NumPy identity lets JAX recognise the max reduction (and differentiate it).
        floating = jnp.issubdtype(dt, jnp.floating)
        init = np.array(-np.inf if floating else np.iinfo(dt).min, dt)
        if floating and 1 < int(np.prod(ks)) <= _MAX_SLICED_WINDOW:
            return _sliced_max_pool(ks, ss, pads, init)(x)
        return jax.lax.reduce_window(x, init, jax.lax.max, ks, ss, pads)

    return fn


def _avg_pool_lower(op):
    def fn(x):
        ks, ss, pads = _pool_window(op, x)
        zero = np.zeros((), np.dtype(x.dtype))
        total = jax.lax.reduce_window(x, zero, jax.lax.add, ks, ss, pads)
        # SAME averages over the window's elements inside the input only, as TF does.
        ones = jnp.ones(x.shape, x.dtype)
        count = jax.lax.reduce_window(ones, zero, jax.lax.add, ks, ss, pads)
        return total / count

    return fn


_base.register_simple("MaxPool", _pool_infer, _max_pool_lower)
_base.register_simple("AvgPool", _pool_infer, _avg_pool_lower)
_base.register_simple("MaxPool3D", _pool_infer, _max_pool_lower)
_base.register_simple("AvgPool3D", _pool_infer, _avg_pool_lower)


def _pool(op_type, value, ksize, strides, padding, data_format, name, allowed, param, scope=None):
    with ops.name_scope(name, scope or op_type, [value]) as name:
        data_format = data_format or "NHWC"
        n = len(data_format) - 2
        channel_index = 1 if data_format.startswith("NC") else n + 1
        ksize = _get_sequence(ksize, n, channel_index, "ksize")
        strides = _get_sequence(strides, n, channel_index, "strides")
        if any(v == 0 for v in ksize):
            raise ValueError(f"`ksize` cannot be zero. Received: ksize={ksize}")
        explicit = []
        if op_type == "MaxPool":
            padding, explicit = _convert_padding(padding)
        x = _base.to_tensor(value, name="input")
        check_dtype(x, param, allowed)
        allowed_paddings = _PADDINGS if op_type == "MaxPool" else _POOL_PADDINGS
        attrs = {
            "T": x.dtype,
            "ksize": ksize,
            "strides": strides,
            "padding": _check_padding(padding, allowed_paddings, op_type),
            "data_format": _util.as_bytes(data_format),
        }
        if op_type == "MaxPool":
            attrs["explicit_paddings"] = explicit
        return _base.output(op_type, [x], attrs, name=name)


_MAX_POOL_TYPES = FLOATS + (
    dtypes.int8,
    dtypes.int16,
    dtypes.int32,
    dtypes.int64,
    dtypes.uint8,
    dtypes.uint16,
)


def max_pool(value, ksize, strides, padding, data_format="NHWC", name=None, input=None):  # noqa: A002
    """Max pooling of a 4-D ``value`` (op ``MaxPool``); ``ksize``/``strides`` as 1, 2 or 4
    entries."""
    value = input if value is None else value
    return _pool(
        "MaxPool", value, ksize, strides, padding, data_format, name, _MAX_POOL_TYPES, "input"
    )


def avg_pool(value, ksize, strides, padding, data_format="NHWC", name=None, input=None):  # noqa: A002
    """Average pooling of a 4-D ``value`` (op ``AvgPool``); SAME windows average the elements
    inside the input only."""
    value = input if value is None else value
    return _pool("AvgPool", value, ksize, strides, padding, data_format, name, FLOATS, "value")


def _pool1d(op_type, scope_name, input, ksize, strides, padding, data_format, name):  # noqa: A002
    if data_format is None or data_format in ("NWC", "NHWC"):
        data_format, expanding_dim = "NHWC", 1
    elif data_format in ("NCW", "NCHW"):
        data_format, expanding_dim = "NCHW", 2
    else:
        raise ValueError(
            f"`data_format` must be 'NWC' or 'NCW'. Received: data_format={data_format}"
        )
    with ops.name_scope(name, scope_name, [input]) as name:
        channel_index = 1 if data_format.startswith("NC") else 2
        ksize = [1] + _get_sequence(ksize, 1, channel_index, "ksize")
        strides = [1] + _get_sequence(strides, 1, channel_index, "strides")
        x = array_ops.expand_dims(input, expanding_dim)
        allowed = _MAX_POOL_TYPES if op_type == "MaxPool" else FLOATS
        result = _pool(op_type, x, ksize, strides, padding, data_format, name, allowed, "input")
        return array_ops.squeeze(result, expanding_dim)


def max_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):  # noqa: A002
    """Max pooling of a 3-D input, as ``ExpandDims``, ``MaxPool``, ``Squeeze``."""
    return _pool1d("MaxPool", "MaxPool1d", input, ksize, strides, padding, data_format, name)


def avg_pool1d(input, ksize, strides, padding, data_format="NWC", name=None):  # noqa: A002
    """Average pooling of a 3-D input, as ``ExpandDims``, ``AvgPool``, ``Squeeze``."""
    return _pool1d("AvgPool", "AvgPool1D", input, ksize, strides, padding, data_format, name)


def max_pool2d(input, ksize, strides, padding, data_format="NHWC", name=None):  # noqa: A002
    """``max_pool`` with the 2-D signature of ``tf.nn.max_pool2d``."""
    return _pool(
        "MaxPool",
        input,
        ksize,
        strides,
        padding,
        data_format,
        name,
        _MAX_POOL_TYPES,
        "input",
        "MaxPool2d",
    )


# TF1 exports avg_pool itself as avg_pool2d.
avg_pool2d = avg_pool

_POOL3D_TYPES = (dtypes.float16, dtypes.bfloat16, dtypes.float32)


def max_pool3d(input, ksize, strides, padding, data_format="NDHWC", name=None):  # noqa: A002
    """Max pooling of a 5-D ``input`` (op ``MaxPool3D``), NDHWC or NCDHW."""
    return _pool(
        "MaxPool3D", input, ksize, strides, padding, data_format or "NDHWC", name,
        _POOL3D_TYPES, "input",
    )  # fmt: skip


def avg_pool3d(input, ksize, strides, padding, data_format="NDHWC", name=None):  # noqa: A002
    """Average pooling of a 5-D ``input`` (op ``AvgPool3D``); SAME windows average the
    elements inside the input only."""
    return _pool(
        "AvgPool3D", input, ksize, strides, padding, data_format or "NDHWC", name,
        _POOL3D_TYPES, "input",
    )  # fmt: skip


# -- MaxPoolWithArgmax -------------------------------------------------------------------------
def _argmax_pool_infer(op):
    ((dt, shape),) = _pool_infer(op)
    return [(dt, shape), (op._attrs["Targmax"], shape)]


def _argmax_pool_lower(op):
    include_batch = bool(op._attrs.get("include_batch_in_index", False))
    idx_dt = op._attrs["Targmax"].as_numpy_dtype

    def fn(x):
        ks, ss, pads = _pool_window(op, x)
        dt = np.dtype(x.dtype)
        floating = jnp.issubdtype(dt, jnp.floating)
        init = np.array(-np.inf if floating else np.iinfo(dt).min, dt)
        views = _window_slices(x, ks, ss, pads, init)
        y = views[0]
        for v in views[1:]:
            y = jax.lax.max(y, v)
        # The first maximum in row-major window order, as TF's kernel keeps it.
        first = jnp.full(y.shape, len(views) - 1, np.int32)
        for i in range(len(views) - 2, -1, -1):
            first = jnp.where(views[i] == y, np.int32(i), first)
        b, h, w, c = x.shape
        _, oh, ow, _ = y.shape
        kh = first // ks[2]
        kw = first % ks[2]
        rows = jnp.arange(oh, dtype=np.int32).reshape(1, oh, 1, 1) * ss[1] - pads[1][0] + kh
        cols = jnp.arange(ow, dtype=np.int32).reshape(1, 1, ow, 1) * ss[2] - pads[2][0] + kw
        chans = jnp.arange(c, dtype=np.int32).reshape(1, 1, 1, c)
        # TF's flattened index: ((b * height + y) * width + x) * channels + c, batch optional.
        index = (rows.astype(idx_dt) * w + cols) * c + chans
        if include_batch:
            batch = jnp.arange(b, dtype=idx_dt).reshape(b, 1, 1, 1)
            index = index + batch * (h * w * c)
        pooled = _sliced_max_pool(ks, ss, pads, init)(x) if floating else y
        return pooled, index.astype(idx_dt)

    return fn


_base.register_simple("MaxPoolWithArgmax", _argmax_pool_infer, _argmax_pool_lower)


def max_pool_with_argmax(
    input,  # noqa: A002
    ksize,
    strides,
    padding,
    data_format="NHWC",
    Targmax=None,  # noqa: N803 - TF's argument name
    name=None,
    output_dtype=None,
    include_batch_in_index=False,
):
    """Max pooling that also returns each maximum's flattened index (op
    ``MaxPoolWithArgmax``): ``(y * width + x) * channels + c``, plus
    ``b * height * width * channels`` with ``include_batch_in_index``."""
    if data_format != "NHWC":
        raise ValueError(
            f"Data formats other than 'NHWC' are not yet supported. Received: "
            f"data_format={data_format}"
        )
    if Targmax is not None and output_dtype is not None and Targmax != output_dtype:
        raise ValueError("Cannot specify both 'Targmax' and 'output_dtype'")
    targmax = dtypes.as_dtype(Targmax or output_dtype or dtypes.int64)
    for arg, v in (("ksize", ksize), ("strides", strides)):
        if not isinstance(v, (list, tuple)):
            raise TypeError(
                f"Expected list for '{arg}' argument to 'max_pool_with_argmax' Op, not {v}."
            )
    with ops.name_scope(name, "MaxPoolWithArgmax", [input]) as scope:
        x = _base.to_tensor(input, name="input")
        check_dtype(x, "input", _MAX_POOL_TYPES)
        attrs = {
            "ksize": [int(v) for v in ksize],
            "strides": [int(v) for v in strides],
            "Targmax": targmax,
            "padding": _check_padding(padding, _POOL_PADDINGS, "MaxPoolWithArgmax"),
            "include_batch_in_index": bool(include_batch_in_index),
            "T": x.dtype,
        }
        op = _base.make_op("MaxPoolWithArgmax", [x], attrs, name=scope)
        return op._outputs[0], op._outputs[1]


# -- tf.nn.pool ------------------------------------------------------------------------------------
def pool(
    input,  # noqa: A002
    window_shape,
    pooling_type,
    padding,
    dilation_rate=None,
    strides=None,
    name=None,
    data_format=None,
    dilations=None,
):
    """N-D (1 to 3) max or average pooling; a ``dilation_rate`` above 1 pools the
    ``SpaceToBatchND`` rearrangement of the input with VALID windows, as TF does."""
    if dilations is not None and dilation_rate is not None:
        raise ValueError("Cannot specify both 'dilations' and 'dilation_rate'")
    dilation_rate = dilations if dilation_rate is None else dilation_rate
    with ops.name_scope(name, f"{pooling_type.lower()}_pool", [input]) as scope:
        x = _base.to_tensor(input, name="input")
        window_shape = [int(v) for v in window_shape]
        n = len(window_shape)
        if n < 1 or n > 3:
            raise ValueError(
                "`len(window_shape)` must be 1, 2, or 3. Received: "
                f"window_shape={window_shape} of length {n}"
            )
        x.shape.with_rank(n + 2)
        strides = [1] * n if strides is None else [int(v) for v in strides]
        dilation_rate = [1] * n if dilation_rate is None else [int(v) for v in dilation_rate]
        if len(strides) != n or len(dilation_rate) != n:
            raise ValueError(
                f"len(strides)={len(strides)} and len(dilation_rate)={len(dilation_rate)} must "
                f"be {n}"
            )
        if any(r > 1 for r in dilation_rate) and any(s > 1 for s in strides):
            raise ValueError(
                "`strides > 1` not supported in conjunction with `dilation_rate > 1`. "
                f"Received: strides={np.array(strides)} and "
                f"dilation_rate={np.array(dilation_rate)}"
            )
        if padding == "SAME" and any(r > 1 for r in dilation_rate):
            raise ValueError(
                "pooling with 'SAME' padding is not implemented for `dilation_rate` > 1. "
                f"Received: padding={padding} and dilation_rate={np.array(dilation_rate)}"
            )
        if any(s > k for s, k in zip(strides, window_shape)):
            raise ValueError(
                "`strides` > `window_shape` not supported due to inconsistency between CPU and "
                f"GPU implementations. Received: strides={np.array(strides)} and "
                f"window_shape={np.array(window_shape)}"
            )
        if pooling_type not in ("MAX", "AVG"):
            raise ValueError(f"{n}-D {pooling_type} pooling is not supported.")
        nc = data_format is not None and data_format.startswith("NC")
        if nc:
            window, steps, first_spatial = [1, 1, *window_shape], [1, 1, *strides], 2
        else:
            window, steps, first_spatial = [1, *window_shape, 1], [1, *strides, 1], 1
        if n == 1:
            if data_format is None or data_format == "NWC":
                fmt = "NHWC"
            elif data_format == "NCW":
                fmt = "NCHW"
            else:
                raise ValueError(
                    "data_format must be either 'NWC' or 'NCW'. Received: "
                    f"data_format={data_format}"
                )
            window, steps = [1, *window], [1, *steps]
        else:
            fmt = data_format or ("NHWC" if n == 2 else "NDHWC")

        def run(v, pad):
            if n == 1:
                v = array_ops.expand_dims(v, first_spatial)
            if n == 3:
                fn = max_pool3d if pooling_type == "MAX" else avg_pool3d
            else:
                fn = max_pool if pooling_type == "MAX" else avg_pool
            out = fn(v, window, steps, pad, data_format=fmt, name=scope)
            if n == 1:
                out = array_ops.squeeze(out, [first_spatial])
            return out

        if all(r == 1 for r in dilation_rate):
            return run(x, padding)
        from tfstyle.ops import space_batch_ops

        dims = x.shape.as_list()[first_spatial : first_spatial + n]
        if any(d is None for d in dims):
            raise ValueError(
                f"tfstyle's dilated pool needs the input's spatial shape to be known; got {x.shape}"
            )
        # Pad each spatial dim at its end to a multiple of the rate, crop as much off the result.
        extra = [(r - d % r) % r for d, r in zip(dims, dilation_rate)]
        block, pairs = list(dilation_rate), [[0, e] for e in extra]
        if first_spatial == 2:
            # SpaceToBatchND moves the dims after the batch: the channel dim takes a block of 1.
            block, pairs = [1, *block], [[0, 0], *pairs]
        converted = space_batch_ops.space_to_batch_nd(x, block, pairs)
        result = run(converted, padding)
        return space_batch_ops.batch_to_space_nd(result, block, pairs)


# -- Conv2DBackpropFilter, and the gradient wrappers ---------------------------------------------
def _backprop_filter_infer(op):
    rank = len(op._attrs["strides"])
    with_rank(op, 0, rank)
    with_rank(op, 2, rank)
    sizes = _base.constant_shape(op._inputs[1])
    return [(op._inputs[0].dtype, sizes if sizes is not None else (None,) * rank)]


_base.register_simple(
    "Conv2DBackpropFilter", _backprop_filter_infer, backprop_lowering("Conv2D", 1, "filter_sizes")
)


def _backprop(op_type, inputs, strides, padding, data_format, dilations, name):
    # The sizes input is the first of a BackpropInput op and the second of a BackpropFilter op.
    sizes_at, sizes_name = (0, "input_sizes") if "BackpropInput" in op_type else (1, "filter_sizes")
    padding, explicit = _convert_padding(padding)
    data_format = data_format or "NHWC"
    with ops.name_scope(name, op_type, inputs) as scope:
        attrs = _conv_attrs(list(strides), padding, explicit, data_format, list(dilations), op_type)
        ts = []
        for i, v in enumerate(inputs):
            if i == sizes_at and not isinstance(v, ops.Tensor):
                ts.append(_base.to_tensor(v, dtype=dtypes.int32, name=sizes_name))
            else:
                ts.append(_base.to_tensor(v))
        attrs["T"] = ts[2].dtype
        if op_type.startswith("Depthwise"):
            attrs.pop("use_cudnn_on_gpu")
        return _base.output(op_type, ts, attrs, name=scope)


def conv2d_backprop_input(
    input_sizes,
    filter=None,  # noqa: A002
    out_backprop=None,
    strides=None,
    padding=None,
    use_cudnn_on_gpu=True,
    data_format="NHWC",
    dilations=(1, 1, 1, 1),
    name=None,
    filters=None,
):
    """The gradient of ``conv2d`` with respect to its input (op ``Conv2DBackpropInput``)."""
    filter = filters if filter is None else filter  # noqa: A001
    return _backprop(
        "Conv2DBackpropInput", [input_sizes, filter, out_backprop],
        strides, padding, data_format, dilations, name,
    )  # fmt: skip


def conv2d_backprop_filter(
    input,  # noqa: A002
    filter_sizes,
    out_backprop,
    strides,
    padding,
    use_cudnn_on_gpu=True,
    data_format="NHWC",
    dilations=(1, 1, 1, 1),
    name=None,
):
    """The gradient of ``conv2d`` with respect to its filter (op ``Conv2DBackpropFilter``)."""
    return _backprop(
        "Conv2DBackpropFilter", [input, filter_sizes, out_backprop],
        strides, padding, data_format, dilations, name,
    )  # fmt: skip


# -- Conv3D, Conv3DBackpropInputV2 (conv3d_transpose), Conv3DBackpropFilterV2 -----------------------
_CONV3D_TYPES = (dtypes.float16, dtypes.bfloat16, dtypes.float32, dtypes.float64)

_base.register_simple("Conv3D", _conv_infer, lambda op: lambda x, f: _conv(op, x, f))
_base.register_simple(
    "Conv3DBackpropInputV2",
    _backprop_input_infer,
    backprop_lowering("Conv3D", 0, "conv3d_transpose's output_shape"),
)
_base.register_simple(
    "Conv3DBackpropFilterV2", _backprop_filter_infer, backprop_lowering("Conv3D", 1, "filter_sizes")
)


def _conv3d_attrs(strides, padding, data_format, dilations, op_type):
    data_format = data_format or "NDHWC"
    channel_index = 1 if data_format.startswith("NC") else 4
    return {
        "strides": _get_sequence(strides, 3, channel_index, "strides"),
        "padding": _check_padding(padding, _POOL_PADDINGS, op_type),
        "data_format": _util.as_bytes(data_format),
        "dilations": _get_sequence(dilations, 3, channel_index, "dilations"),
    }


def conv3d(
    input,  # noqa: A002
    filter=None,  # noqa: A002
    strides=None,
    padding=None,
    data_format="NDHWC",
    dilations=(1, 1, 1, 1, 1),
    name=None,
    filters=None,
):
    """3-D convolution of a 5-D ``input`` with a ``[d, h, w, in, out]`` filter (op ``Conv3D``)."""
    if filter is not None and filters is not None:
        raise ValueError("Cannot specify both 'filter' and 'filters'")
    filter = filters if filter is None else filter  # noqa: A001
    attrs = _conv3d_attrs(strides, padding, data_format, dilations, "Conv3D")
    with ops.name_scope(name, "Conv3D", [input, filter]) as scope:
        x = _base.to_tensor(input, name="input")
        f = _base.to_tensor(filter, name="filter", dtype=x.dtype)
        return _gen_conv("Conv3D", [x, f], attrs, scope, _CONV3D_TYPES)


def _conv3d_backprop(op_type, inputs, sizes_at, sizes_name, strides, padding, data_format,
                     dilations, name):  # fmt: skip
    attrs = _conv3d_attrs(strides, padding, data_format, dilations, op_type)
    with ops.name_scope(name, op_type, inputs) as scope:
        ts = []
        for i, v in enumerate(inputs):
            if i == sizes_at and not isinstance(v, ops.Tensor):
                ts.append(_base.to_tensor(v, dtype=dtypes.int32, name=sizes_name))
            else:
                ts.append(_base.to_tensor(v))
        check_dtype(ts[2], "out_backprop", _CONV3D_TYPES)
        attrs["T"] = ts[2].dtype
        attrs["Tshape"] = ts[sizes_at].dtype
        return _base.output(op_type, ts, attrs, name=scope)


def conv3d_transpose(
    value,
    filter=None,  # noqa: A002
    output_shape=None,
    strides=None,
    padding="SAME",
    data_format="NDHWC",
    name=None,
    input=None,  # noqa: A002
    filters=None,
    dilations=None,
):
    """The transpose (gradient) of ``conv3d`` (op ``Conv3DBackpropInputV2``); the filter is
    ``[d, h, w, out_channels, in_channels]``."""
    value = input if value is None else value
    filter = filters if filter is None else filter  # noqa: A001
    with ops.name_scope(name, "conv3d_transpose", [value, filter, output_shape]) as name:
        return _conv3d_backprop(
            "Conv3DBackpropInputV2", [output_shape, filter, value], 0, "input_sizes", strides,
            padding, data_format, dilations, name,
        )  # fmt: skip


def conv3d_backprop_filter_v2(
    input,  # noqa: A002
    filter_sizes,
    out_backprop,
    strides,
    padding,
    data_format="NDHWC",
    dilations=(1, 1, 1, 1, 1),
    name=None,
):
    """The gradient of ``conv3d`` with respect to its filter (op ``Conv3DBackpropFilterV2``)."""
    return _conv3d_backprop(
        "Conv3DBackpropFilterV2", [input, filter_sizes, out_backprop], 1, "filter_sizes",
        strides, padding, data_format, dilations, name,
    )  # fmt: skip


# -- separable_conv2d, convolution, atrous_conv2d --------------------------------------------------
def separable_conv2d(
    input,  # noqa: A002
    depthwise_filter,
    pointwise_filter,
    strides,
    padding,
    rate=None,
    name=None,
    data_format=None,
    dilations=None,
):
    """A depthwise convolution followed by a 1x1 ``Conv2D`` mixing the channels."""
    rate = dilations if rate is None else rate
    with ops.name_scope(
        name, "separable_conv2d", [input, depthwise_filter, pointwise_filter]
    ) as name:
        x = _base.to_tensor(input, name="tensor_in")
        dw = _base.to_tensor(depthwise_filter, name="depthwise_filter")
        pw = _base.to_tensor(pointwise_filter, name="pointwise_filter")
        pshape = pw.shape.with_rank(4)
        for d in pshape.as_list()[:2]:
            if d not in (None, 1):
                raise ValueError(f"Dimensions {d} and 1 are not compatible")
        rate = [1, 1] if rate is None else list(rate)
        from tfstyle.ops.constant_op import constant

        if dw.shape.is_fully_defined():
            constant(dw.shape.as_list(), dtype=dtypes.int32, name="Shape")
        else:
            array_ops.shape(dw)
        constant(rate, dtype=dtypes.int32, name="dilation_rate")
        nc = data_format is not None and data_format.startswith("NC")
        dil = [1, 1] + rate if nc else [1] + rate + [1]
        depthwise = depthwise_conv2d_native(
            x, dw, strides, padding, data_format=data_format, dilations=dil, name="depthwise"
        )
        return conv2d(depthwise, pw, [1, 1, 1, 1], "VALID", data_format=data_format, name=name)


def convolution(
    input,  # noqa: A002
    filter,  # noqa: A002
    padding,
    strides=None,
    dilation_rate=None,
    name=None,
    data_format=None,
    filters=None,
    dilations=None,
):
    """N-D convolution; the 1-D, 2-D and 3-D cases as ``conv1d``/``Conv2D``/``Conv3D`` named
    ``convolution``.

    A dilated convolution is one ``Conv2D`` with ``dilations`` here, where TF wraps it in
    ``SpaceToBatchND``/``BatchToSpaceND`` (same values, other op names).
    """
    filter = filters if filter is None else filter  # noqa: A001
    dilation_rate = dilations if dilation_rate is None else dilation_rate
    with ops.name_scope(name, "convolution", [input, filter]) as name:
        x = _base.to_tensor(input, name="input")
        n = (x.shape.ndims or 4) - 2
        if n == 1:
            return conv1d(
                x,
                filter,
                strides or 1,
                padding,
                data_format=data_format,
                name=name,
                dilations=dilation_rate,
            )
        nc = data_format is not None and data_format.startswith("NC")
        if n == 3:
            return conv3d(
                x,
                filter,
                _get_sequence(strides, 3, 1 if nc else 4, "strides"),
                padding,
                data_format=data_format or "NDHWC",
                dilations=_get_sequence(dilation_rate, 3, 1 if nc else 4, "dilations"),
                name=name,
            )
        if n != 2:
            raise ValueError(
                f"tfstyle supports 1-D to 3-D convolutions; the input has rank {n + 2}"
            )
        return conv2d(
            x,
            filter,
            _get_sequence(strides, 2, 1 if nc else 3, "strides"),
            padding,
            data_format=data_format or "NHWC",
            dilations=_get_sequence(dilation_rate, 2, 1 if nc else 3, "dilations"),
            name=name,
        )


def atrous_conv2d(value, filters, rate, padding, name=None):
    """``convolution`` with ``dilation_rate=(rate, rate)``."""
    return convolution(value, filters, padding, dilation_rate=[rate, rate], name=name)


# XLA's CPU backend runs convolutions through YNNPACK on one thread; this option leaves dots on
# YNNPACK and gives convolutions to Eigen, which uses every core (docs/performance.md).
for _conv_type in (
    "Conv2D",
    "Conv2DBackpropInput",
    "Conv2DBackpropFilter",
    "DepthwiseConv2dNative",
    "Conv3D",
    "Conv3DBackpropInputV2",
    "Conv3DBackpropFilterV2",
):
    registry.get(_conv_type).cpu_compiler_options = {
        "xla_cpu_experimental_ynn_fusion_type": "LIBRARY_FUSION_TYPE_INDIVIDUAL_DOT"
    }


# TF1 exports the generated op's wrapper under both names.
conv3d_backprop_filter = conv3d_backprop_filter_v2


def _pool_nd(kind, input, ksize, strides, padding, data_format, name):  # noqa: A002
    shape = getattr(input, "shape", None)
    if shape is not None and getattr(shape, "ndims", len(shape)) is not None:
        n = len(shape) - 2
    elif data_format is not None:
        n = len(data_format) - 2
    else:
        raise ValueError(
            "`input` must have a static shape or a data format must be given. Received: "
            f"input.shape={shape} and data_format={data_format}"
        )
    if not 1 <= n <= 3:
        raise ValueError(
            f"`input.shape.rank` must be 3, 4 or 5. Received: input.shape={shape} of rank {n + 2}."
        )
    channel_index = n + 1 if data_format is None or not data_format.startswith("NC") else 1
    ksize = _get_sequence(ksize, n, channel_index, "ksize")
    strides = _get_sequence(strides, n, channel_index, "strides")
    if kind == "max":
        op = {1: max_pool1d, 2: max_pool2d, 3: max_pool3d}[n]
    else:
        op = {1: avg_pool1d, 2: avg_pool, 3: avg_pool3d}[n]
    return op(input, ksize, strides, padding, data_format=data_format, name=name)


def max_pool_v2(input, ksize, strides, padding, data_format=None, name=None):  # noqa: A002
    """Max pooling of a 3-D, 4-D or 5-D ``input`` (``max_pool1d``, ``max_pool2d`` or
    ``MaxPool3D`` by its rank)."""
    return _pool_nd("max", input, ksize, strides, padding, data_format, name)


def avg_pool_v2(input, ksize, strides, padding, data_format=None, name=None):  # noqa: A002
    """Average pooling of a 3-D, 4-D or 5-D ``input`` (``avg_pool1d``, ``AvgPool`` or
    ``AvgPool3D`` by its rank)."""
    return _pool_nd("avg", input, ksize, strides, padding, data_format, name)


def depthwise_conv2d_native_backprop_input(
    input_sizes,
    filter,  # noqa: A002
    out_backprop,
    strides,
    padding,
    data_format="NHWC",
    dilations=(1, 1, 1, 1),
    name=None,
):
    """The gradient of ``depthwise_conv2d_native`` with respect to its input (op
    ``DepthwiseConv2dNativeBackpropInput``)."""
    return _backprop(
        "DepthwiseConv2dNativeBackpropInput", [input_sizes, filter, out_backprop],
        strides, padding, data_format, dilations, name,
    )  # fmt: skip


def depthwise_conv2d_native_backprop_filter(
    input,  # noqa: A002
    filter_sizes,
    out_backprop,
    strides,
    padding,
    data_format="NHWC",
    dilations=(1, 1, 1, 1),
    name=None,
):
    """The gradient of ``depthwise_conv2d_native`` with respect to its filter (op
    ``DepthwiseConv2dNativeBackpropFilter``)."""
    return _backprop(
        "DepthwiseConv2dNativeBackpropFilter", [input, filter_sizes, out_backprop],
        strides, padding, data_format, dilations, name,
    )  # fmt: skip


depthwise_conv2d_backprop_input = depthwise_conv2d_native_backprop_input
depthwise_conv2d_backprop_filter = depthwise_conv2d_native_backprop_filter


def conv1d_transpose(
    input,  # noqa: A002
    filters,
    output_shape,
    strides,
    padding="SAME",
    data_format="NWC",
    dilations=None,
    name=None,
):
    """The transpose of ``conv1d``: ``conv2d_transpose`` on a height of 1 (op
    ``Conv2DBackpropInput`` between an ``ExpandDims`` and a ``Squeeze``, as in TF)."""
    from tfstyle.ops.array_ops import concat, expand_dims, squeeze

    with ops.name_scope(name, "conv1d_transpose", [input, filters, output_shape]) as scope:
        if data_format is None or data_format == "NWC":
            data_format, spatial = "NHWC", 1
            channel_index = 2
        elif data_format == "NCW":
            data_format, spatial = "NCHW", 2
            channel_index = 1
        else:
            raise ValueError(
                f"`data_format` must be 'NWC' or 'NCW'. Received: data_format={data_format}"
            )
        strides = _get_sequence(strides, 1, channel_index, "stride")
        dilations = _get_sequence(dilations, 1, channel_index, "dilations")
        strides = strides[:spatial] + [1] + strides[spatial:]
        dilations = dilations[:spatial] + [1] + dilations[spatial:]
        x = expand_dims(input, spatial)
        f = expand_dims(filters, 0)
        if isinstance(output_shape, ops.Tensor):
            sizes = concat([output_shape[:spatial], [1], output_shape[spatial:]], axis=0)
        else:
            output_shape = list(output_shape)
            sizes = concat([output_shape[:spatial], [1], output_shape[spatial:]], axis=0)
        padding, explicit = _convert_padding(padding)
        attrs = _conv_attrs(
            strides, padding, explicit, data_format, dilations, "Conv2DBackpropInput"
        )
        x = _base.to_tensor(x)
        attrs["T"] = x.dtype
        f = _base.to_tensor(f, dtype=x.dtype)
        out = _base.output("Conv2DBackpropInput", [sizes, f, x], attrs, name=scope)
        return squeeze(out, [spatial])


def atrous_conv2d_transpose(value, filters, output_shape, rate, padding, name=None):
    """The transpose of ``atrous_conv2d`` (TF's composite: ``SpaceToBatchND``, a stride-1
    ``Conv2DBackpropInput``, ``BatchToSpaceND``)."""
    from tfstyle.ops.space_batch_ops import batch_to_space_nd, space_to_batch_nd

    with ops.name_scope(name, "atrous_conv2d_transpose", [value, filters, output_shape]):
        value = _base.to_tensor(value, name="value")
        filters = _base.to_tensor(filters, name="filters", dtype=value.dtype)
        fshape = filters.shape.as_list()
        vshape = value.shape.as_list()
        if vshape[3] is not None and fshape[3] is not None and vshape[3] != fshape[3]:
            raise ValueError(
                "`value` channel count must be compatible with `filters` input channel count. "
                f"Received: value.shape={value.shape} with channel count {vshape[3]} and "
                f"filters.shape={filters.shape} with input channel count {fshape[3]}."
            )
        if rate < 1:
            raise ValueError(f"`rate` cannot be less than one. Received: rate={rate}")
        if rate == 1:
            return conv2d_transpose(
                value, filters, output_shape, strides=[1, 1, 1, 1], padding=padding
            )
        output_shape = _base.to_tensor(output_shape, name="output_shape")
        shape = _base.constant_value(output_shape)
        if shape is None:
            raise ValueError("tfstyle needs atrous_conv2d_transpose's output_shape statically.")
        shape = [int(d) for d in shape]
        if padding == "SAME":
            fh = fshape[0] + (fshape[0] - 1) * (rate - 1)
            fw = fshape[1] + (fshape[1] - 1) * (rate - 1)
            pad_top, pad_left = (fh - 1) // 2, (fw - 1) // 2
            pad_bottom, pad_right = fh - 1 - pad_top, fw - 1 - pad_left
        elif padding == "VALID":
            pad_top = pad_bottom = pad_left = pad_right = 0
        else:
            raise ValueError(
                f"`padding` must be either 'VALID' or 'SAME'. Received: padding={padding}"
            )
        in_height = shape[1] + pad_top + pad_bottom
        in_width = shape[2] + pad_left + pad_right
        extra_bottom = (rate - in_height % rate) % rate
        extra_right = (rate - in_width % rate) % rate
        value = space_to_batch_nd(value, [rate, rate], [[0, extra_bottom], [0, extra_right]])
        input_sizes = [
            rate * rate * shape[0],
            (in_height + extra_bottom) // rate,
            (in_width + extra_right) // rate,
            shape[3],
        ]
        value = conv2d_backprop_input(
            input_sizes, filters, value, strides=[1, 1, 1, 1], padding="VALID"
        )
        crops = [[pad_top, pad_bottom + extra_bottom], [pad_left, pad_right + extra_right]]
        return batch_to_space_nd(value, [rate, rate], crops)
