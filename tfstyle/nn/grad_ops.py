"""TF's gradient ops, which ``tf.gradients`` writes into TF's graphs (``ReluGrad``,
``MaxPoolGrad``, ``FusedBatchNormGradV3``, ``StridedSliceGrad``, ``DynamicStitch``, ...).

tfstyle's own ``tf.gradients`` never writes them (it differentiates the forward sub-graph with
``jax.vjp``); they exist so that training graphs written by TF import and run. Each one that
takes the forward op's inputs lowers as the vjp of the forward op's own lowering, so the math
is defined once; those TF defines from the forward outputs (``EluGrad``, ``RsqrtGrad``, ...)
are the derivative written in terms of that output, as TF's inputs give nothing else.
"""

import jax
import jax.numpy as jnp
import numpy as np

from tfstyle.ops import _base
from tfstyle.ops import image_ops as _image_ops  # noqa: F401 - the forward resize ops

from ._util import with_rank
from .conv_ops import _pool_window, _window_slices, backprop_lowering


def _vjp(fwd, primal, cotangent):
    _, pullback = jax.vjp(fwd, primal)
    return pullback(jnp.asarray(cotangent, primal.dtype))[0]


# -- activations: (gradients, features) -> vjp of the forward op at features -----------------
def _features_grad(forward_type):
    def lower(op):
        fwd = _base.forward_lowering(op, forward_type, [op._inputs[1]])

        def fn(dy, x):
            x = jnp.asarray(x)
            return _vjp(fwd, x, dy)

        return fn

    return lower


for _fwd in ("Relu", "Relu6", "Softplus", "Softsign", "LeakyRelu"):
    _base.register_simple(_fwd + "Grad", _base.same_as_input, _features_grad(_fwd))

# -- from outputs: (gradients, outputs) for Elu/Selu, (y, dy) for the math ops -----------------
_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _from_output(rule, dy_first):
    def lower(op):
        def fn(a, b):
            dy, y = (a, b) if dy_first else (b, a)
            y = jnp.asarray(y)
            return rule(jnp.asarray(dy, y.dtype), y).astype(y.dtype)

        return fn

    return lower


_OUTPUT_RULES = {
    # d elu = 1 above zero, elu(x) + 1 below.
    "EluGrad": (lambda dy, y: jnp.where(y < 0, dy * (y + 1), dy), True),
    "SeluGrad": (
        lambda dy, y: jnp.where(y < 0, dy * (y + _SELU_SCALE * _SELU_ALPHA), dy * _SELU_SCALE),
        True,
    ),
    # d x^-1/2 = -1/2 x^-3/2 = -y^3 / 2; d sqrt = 1 / (2 y); d 1/x = -y^2.
    "RsqrtGrad": (lambda dy, y: dy * (y * y * y) * -0.5, False),
    "SqrtGrad": (lambda dy, y: dy * 0.5 / y, False),
    "ReciprocalGrad": (lambda dy, y: -dy * (y * y), False),
    "InvGrad": (lambda dy, y: -dy * (y * y), False),
}
for _type, (_rule, _dy_first) in _OUTPUT_RULES.items():
    _base.register_simple(
        _type,
        lambda op: [(op._inputs[0]._dtype, op._inputs[0]._shape)],
        _from_output(_rule, _dy_first),
    )


# -- pooling -----------------------------------------------------------------------------------
def _max_pool_grad_lower(forward_type):
    def lower(op):
        fwd = _base.forward_lowering(op, forward_type, [op._inputs[0]])

        def fn(x, y, dy):
            return _vjp(fwd, jnp.asarray(x), dy)

        return fn

    return lower


def _max_pool_grad_grad_lower(op):
    """``(x, y, g)`` with ``g`` shaped as ``x``: each window's entry of ``g`` at the position of
    the window's first maximum of ``x`` (the derivative of max pooling in the direction ``g``)."""

    def fn(x, y, g):
        x = jnp.asarray(x)
        ks, ss, pads = _pool_window(op, x)
        dt = np.dtype(x.dtype)
        low = np.array(-np.inf if jnp.issubdtype(dt, jnp.floating) else np.iinfo(dt).min, dt)
        xs = _window_slices(x, ks, ss, pads, low)
        gs = _window_slices(jnp.asarray(g, x.dtype), ks, ss, pads, np.zeros((), dt))
        top = xs[0]
        for v in xs[1:]:
            top = jax.lax.max(top, v)
        out = gs[-1]
        for v, gv in zip(xs[-2::-1], gs[-2::-1]):
            out = jnp.where(v == top, gv, out)
        return out

    return fn


def _max_pool_grad_grad_infer(op):
    return [(op._inputs[1]._dtype, op._inputs[1]._shape)]


def _avg_pool_grad_infer(op):
    return [(op._attrs["T"], _base.constant_shape(op._inputs[0]))]


def _avg_pool_grad_lower(forward_type):
    def lower(op):
        dt = op._attrs["T"].as_numpy_dtype

        def fn(shape, dy):
            shape = tuple(int(d) for d in _base.static_ints(shape, f"{op.type}'s input shape"))
            # The forward lowering is bound to an input of that shape (only its shape is read).
            fwd = _base.forward_lowering(op, forward_type, [op._inputs[1]])
            return _vjp(fwd, jnp.zeros(shape, dt), dy)

        return fn

    return lower


for _fwd in ("MaxPool", "MaxPool3D"):
    _base.register_simple(_fwd + "Grad", _base.same_as_input, _max_pool_grad_lower(_fwd))
    _base.register_simple(_fwd + "GradGrad", _max_pool_grad_grad_infer, _max_pool_grad_grad_lower)
for _fwd in ("AvgPool", "AvgPool3D"):
    _base.register_simple(_fwd + "Grad", _avg_pool_grad_infer, _avg_pool_grad_lower(_fwd))


def _grad_with_argmax_lower(op):
    include_batch = bool(op._attrs.get("include_batch_in_index", False))

    def fn(x, dy, argmax):
        x = jnp.asarray(x)
        b = x.shape[0]
        per_image = int(np.prod(x.shape[1:]))
        index = jnp.asarray(argmax).astype(np.int32).reshape(b, -1)
        if not include_batch:
            index = index + jnp.arange(b, dtype=np.int32)[:, None] * per_image
        dy = jnp.asarray(dy, x.dtype).reshape(-1)
        flat = jnp.zeros((b * per_image,), x.dtype).at[index.reshape(-1)].add(dy)
        return flat.reshape(x.shape)

    return fn


_base.register_simple("MaxPoolGradWithArgmax", _base.same_as_input, _grad_with_argmax_lower)


# -- FusedBatchNormGradV3 ----------------------------------------------------------------------
def _fbn_grad_infer(op):
    x = with_rank(op, 1, 4)
    c = _base.dims(op._inputs[2])
    u = op._attrs["U"]
    c = (None,) if c is None else c
    return [(op._attrs["T"], x), (u, c), (u, c), (u, (0,)), (u, (0,))]


def _fbn_grad_lower(op):
    # Training: the batch statistics are recomputed from x inside the forward lowering (the
    # reserve spaces hold them); inference: reserve_space_1/2 are the mean and variance fed.
    ins = op._inputs
    fwd = _base.forward_lowering(
        op,
        "FusedBatchNormV3",
        [ins[1], ins[2], ins[2], ins[3], ins[4]],
        {"exponential_avg_factor": 1.0},
    )

    def fn(dy, x, scale, mean, var, _reserve):
        x, scale = jnp.asarray(x), jnp.asarray(scale)
        offset = jnp.zeros_like(scale)
        _, pullback = jax.vjp(lambda a, s, o: fwd(a, s, o, mean, var)[0], x, scale, offset)
        dx, dscale, doffset = pullback(jnp.asarray(dy, x.dtype))
        empty = jnp.zeros((0,), scale.dtype)
        return dx, dscale, doffset, empty, empty

    return fn


_base.register_simple("FusedBatchNormGradV3", _fbn_grad_infer, _fbn_grad_lower)


# -- StridedSliceGrad --------------------------------------------------------------------------
def _strided_slice_grad_infer(op):
    return [(op._attrs["T"], _base.constant_shape(op._inputs[0]))]


def _strided_slice_grad_lower(op):
    shape_in, b_in, e_in, s_in, dy_in = op._inputs
    # StridedSlice's lowering reads its begin/end/strides inputs; the sliced input is a
    # zero tensor of ``shape`` here, scattered into by the vjp.
    fwd = _base.forward_lowering(op, "StridedSlice", [dy_in, b_in, e_in, s_in])
    dt = op._attrs["T"].as_numpy_dtype

    def fn(shape, b, e, s, dy):
        shape = tuple(int(d) for d in _base.static_ints(shape, "StridedSliceGrad's shape"))
        return _vjp(lambda x: fwd(x, b, e, s), jnp.zeros(shape, dt), dy)

    return fn


_base.register_simple("StridedSliceGrad", _strided_slice_grad_infer, _strided_slice_grad_lower)


# -- DynamicStitch -----------------------------------------------------------------------------
def _stitch_infer(op):
    n = op._attrs["N"]
    indices, data = op._inputs[:n], op._inputs[n:]
    values = [_base.constant_value(t) for t in indices]
    d0, i0 = _base.dims(data[0]), _base.dims(indices[0])
    tail = None if d0 is None or i0 is None else tuple(d0[len(i0) :])
    size = None
    if all(v is not None for v in values):
        size = max((int(np.max(v)) + 1 for v in values if np.size(v)), default=0)
    return [(data[0]._dtype, None if tail is None else (size, *tail))]


def _stitch_lower(op):
    n = op._attrs["N"]

    def fn(*args):
        indices, data = args[:n], args[n:]
        idx = [_base.static_ints(i, "DynamicStitch's indices") for i in indices]
        size = max((int(i.max()) + 1 for i in idx if i.size), default=0)
        # Concrete inputs (the shape arithmetic of reduction gradients) stay NumPy, so that
        # shapes computed from the result remain static.
        xp = np if all(isinstance(d, np.ndarray | np.generic) for d in data) else jnp
        tail = np.shape(data[0])[np.ndim(idx[0]) :]
        out = xp.zeros((size, *tail), np.asarray(data[0]).dtype if xp is np else data[0].dtype)
        # Later inputs win where indices repeat, as in TF.
        for i, d in zip(idx, data):
            rows = xp.reshape(d, (-1, *tail))
            if xp is np:
                out[i.reshape(-1)] = rows
            else:
                out = out.at[i.reshape(-1)].set(rows)
        return out

    return fn


_base.register_simple("DynamicStitch", _stitch_infer, _stitch_lower)


# -- ListDiff (tf.setdiff1d; the gradient of reduce_prod finds the kept axes with it) ----------
def _list_diff_infer(op):
    x, y = (_base.constant_value(t) for t in op._inputs)
    n = None if x is None or y is None else int(np.sum(~np.isin(x, y)))
    return [(op._inputs[0]._dtype, (n,)), (op._attrs["out_idx"], (n,))]


def _list_diff_lower(op):
    out_idx = op._attrs["out_idx"].as_numpy_dtype

    def fn(x, y):
        # The output's size is its value's business: x and y must be known when compiling.
        x = _base.static_ints(x, "the inputs of ListDiff (setdiff1d)").astype(np.asarray(x).dtype)
        keep = ~np.isin(x, _base.static_ints(y, "the inputs of ListDiff (setdiff1d)"))
        return x[keep], np.flatnonzero(keep).astype(out_idx)

    return fn


_base.register_simple("ListDiff", _list_diff_infer, _list_diff_lower)


# -- depthwise convolution, LRN, MirrorPad -----------------------------------------------------
def _sized_infer(index):
    # The output's shape is the value of input ``index`` (a shape vector).
    return lambda op: [(op._attrs["T"], _base.constant_shape(op._inputs[index]))]


_base.register_simple(
    "DepthwiseConv2dNativeBackpropInput",
    _sized_infer(0),
    backprop_lowering("DepthwiseConv2dNative", 0, "input_sizes"),
)
_base.register_simple(
    "DepthwiseConv2dNativeBackpropFilter",
    _sized_infer(1),
    backprop_lowering("DepthwiseConv2dNative", 1, "filter_sizes"),
)


def _lrn_grad_lower(op):
    fwd = _base.forward_lowering(op, "LRN", [op._inputs[1]])

    def fn(dy, x, y):
        return _vjp(fwd, jnp.asarray(x), dy)

    return fn


_base.register_simple("LRNGrad", _base.same_as_input, _lrn_grad_lower)


def _mirror_pad_grad_infer(op):
    x, p = op._inputs
    xs, v = _base.dims(x), _base.constant_value(p)
    if xs is None or v is None:
        return [(x._dtype, None if xs is None else (None,) * len(xs))]
    return [
        (
            x._dtype,
            tuple(None if d is None else d - int(lo) - int(hi) for d, (lo, hi) in zip(xs, v)),
        )
    ]


def _mirror_pad_grad_lower(op):
    fwd = _base.forward_lowering(op, "MirrorPad")

    def fn(dy, paddings):
        dy = jnp.asarray(dy)
        pads = _base.static_ints(paddings, "MirrorPadGrad's paddings").reshape(-1, 2)
        shape = tuple(d - int(lo) - int(hi) for d, (lo, hi) in zip(dy.shape, pads))
        return _vjp(lambda x: fwd(x, paddings), jnp.zeros(shape, dy.dtype), dy)

    return fn


_base.register_simple("MirrorPadGrad", _mirror_pad_grad_infer, _mirror_pad_grad_lower)


# -- image resizing ----------------------------------------------------------------------------
def _resize_grad_lower(forward_type):
    """``(grads, original_image)``: the vjp of the forward resize at the original image (the
    resize is linear in it: only its shape and dtype matter)."""

    def lower(op):
        fwd = _base.forward_lowering(op, forward_type, [op._inputs[1], op._inputs[0]])

        def fn(dy, original):
            size = np.asarray(np.shape(dy)[1:3], np.int32)
            _, pullback = jax.vjp(lambda v: fwd(v, size), jnp.asarray(original))
            # The forward output is float32 whatever the image's type; the pullback casts back.
            return pullback(jnp.asarray(dy, jnp.float32))[0]

        return fn

    return lower


def _nearest_grad_infer(op):
    dy = with_rank(op, 0, 4)
    hw = _base.constant_shape(op._inputs[1])
    hw = hw if hw is not None and len(hw) == 2 else (None, None)
    n, c = (None, None) if dy is None else (dy[0], dy[3])
    return [(op._inputs[0]._dtype, (n, hw[0], hw[1], c))]


def _nearest_grad_lower(op):
    fwd = _base.forward_lowering(op, "ResizeNearestNeighbor")

    def fn(dy, size):
        dy = jnp.asarray(dy)
        h, w = (int(d) for d in _base.static_ints(size, "ResizeNearestNeighborGrad's size"))
        size_out = np.asarray(dy.shape[1:3], np.int32)
        # Integer gradients are summed in float32 (JAX differentiates floats only).
        dt = dy.dtype if jnp.issubdtype(dy.dtype, jnp.floating) else jnp.float32
        grad = _vjp(lambda v: fwd(v, size_out), jnp.zeros((dy.shape[0], h, w, dy.shape[3]), dt), dy)
        return grad.astype(dy.dtype)

    return fn


_base.register_simple(
    "ResizeBilinearGrad",
    lambda op: [(op._inputs[1]._dtype, op._inputs[1]._shape)],
    _resize_grad_lower("ResizeBilinear"),
)
_base.register_simple(
    "ResizeBicubicGrad",
    lambda op: [(op._inputs[1]._dtype, op._inputs[1]._shape)],
    _resize_grad_lower("ResizeBicubic"),
)
_base.register_simple("ResizeNearestNeighborGrad", _nearest_grad_infer, _nearest_grad_lower)
