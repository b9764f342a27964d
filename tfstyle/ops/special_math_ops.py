"""``tf.math``'s special functions and composites: ``erfinv``, ``ndtri``, ``igamma``,
``betainc``, ``zeta``, ``polygamma``, the Bessel functions, ``nextafter``, ``multiply_no_nan``,
``cumulative_logsumexp``, ``invert_permutation``, ``real``/``imag``/``angle``,
``reduce_variance``/``reduce_std``, ``lbeta``, ``polyval``, ``zero_fraction``,
``unsorted_segment_mean``/``sqrt_n``, ``confusion_matrix`` and ``bincount``.

Where TF has an op, the op has TF's type and attributes; where TF composes ops, the composite
has TF's name scopes, so the output tensors have TF's names."""

import collections

import jax
import jax.numpy as jnp
import numpy as np

from tfstyle.framework import dtypes, errors, ops

from . import _base, array_ops, check_ops, constant_op, reduction_ops, segment_ops
from . import math_ops as _m

_FLOAT = "bfloat16 float16 float32 float64"
_F32_64 = "float32 float64"
_sp = jax.scipy.special


def _mul_no_nan(x, y):
    # 0 where y is 0 even for an infinite or NaN x (also in the gradient).
    zero = y == 0
    return jnp.where(zero, jnp.zeros_like(x), jnp.where(zero, jnp.zeros_like(x), x) * y)


def _polygamma(n, x):
    # jax's polygamma wants an integer order; TF's takes it as a float of the input dtype.
    return _sp.polygamma(n.astype(jnp.int32), x).astype(x.dtype)


def _xlog1py(x, y):
    # TF's gradients are 0 where x is 0 (for x and for y), as its values are.
    zero = x == 0
    safe_y = jnp.where(zero, jnp.zeros_like(y), y)
    return jnp.where(zero, jnp.zeros_like(x), x * jnp.log1p(safe_y))


# TF's gradients of the Bessel functions: i0' = i1, i1' = i0 - i1/x, and the scaled
# ones with sign(0) = 0 (JAX's |x| has slope 1 at 0, which gives other values at 0).
_i0, _i1, _i0e, _i1e = (jax.custom_jvp(f) for f in (_sp.i0, _sp.i1, _sp.i0e, _sp.i1e))


def _safe_x(x):
    # TF divides by x with 1 in place of 0.
    return jnp.where(x == 0, jnp.ones_like(x), x)


def _bessel_jvp(f, derivative):
    def jvp(primals, tangents):
        (x,), (dx,) = primals, tangents
        y = f(x)
        return y, derivative(x, y) * dx

    return jvp


# Each function's derivative from x and its value y.
for _f, _derivative in (
    (_i0, lambda x, y: _i1(x)),
    # i0(0) = 1 at 0, from the 1 in place of x.
    (_i1, lambda x, y: _i0(x) - y / _safe_x(x)),
    (_i0e, lambda x, y: _i1e(x) - jnp.sign(x) * y),
    (
        _i1e,
        lambda x, y: jnp.where(
            x == 0, jnp.full_like(x, 0.5), _i0e(x) - y * (jnp.sign(x) + 1 / _safe_x(x))
        ),
    ),
):
    _f.defjvp(_bessel_jvp(_f, _derivative))


# TF op type -> (lowering, allowed dtypes in TF's order)
_UNARY = {
    "Erfinv": (_sp.erfinv, _FLOAT),
    "Ndtri": (_sp.ndtri, _FLOAT),
    "BesselI0": (_i0, _FLOAT),
    "BesselI0e": (_i0e, _FLOAT),
    "BesselI1": (_i1, _FLOAT),
    "BesselI1e": (_i1e, _FLOAT),
}
_BINARY = {
    "Xlog1py": (_xlog1py, _FLOAT + " complex64 complex128"),
    "MulNoNan": (_mul_no_nan, "bfloat16 float16 float32 float64 complex64 complex128"),
    "Igamma": (_sp.gammainc, _F32_64),
    "Igammac": (_sp.gammaincc, _F32_64),
    "Zeta": (_sp.zeta, _F32_64),
    "Polygamma": (_polygamma, _F32_64),
    "NextAfter": (jnp.nextafter, "float64 float32"),
}

for _name, (_fn, _allowed) in _UNARY.items():
    _base.register_simple(_name, _base.same_as_input, _m._cast_like(_fn))
    _m.allow(_name, _allowed)
for _name, (_fn, _allowed) in _BINARY.items():
    _base.register_simple(_name, _m.broadcast_rule, _m._cast_like(_fn))
    _m.allow(_name, _allowed)


def _betainc_infer(op):
    shapes = [_base.dims(t) for t in op._inputs]
    out = None
    try:
        for s in shapes:
            # Scalars broadcast; other shapes must agree (TF's rule, not NumPy's).
            if s is not None and len(s) == 0:
                continue
            out = _m.merge_dims(out, s)
    except ValueError as e:
        raise _m.node_error(op, str(e)) from None
    if out is None and all(s is not None for s in shapes):
        out = ()
    return [(op._inputs[0].dtype, out)]


def _betainc(a, b, x):
    # TF differentiates Betainc with respect to x only (None for a and b).
    return _sp.betainc(jax.lax.stop_gradient(a), jax.lax.stop_gradient(b), x)


_base.register_simple("Betainc", _betainc_infer, _m._cast_like(_betainc))
_m.allow("Betainc", _F32_64)


def _scoped_unary(op_type, scope_name):
    def fn(x, name=None):
        with ops.name_scope(name, scope_name, [x]):
            return _m._unary(op_type, x, None)

    fn.__name__ = scope_name
    fn.__doc__ = f"Elementwise ``{op_type}``, in a name scope ``{scope_name}`` as in TF."
    return fn


erfinv = _scoped_unary("Erfinv", "erfinv")
ndtri = _scoped_unary("Ndtri", "ndtri")
bessel_i0 = _scoped_unary("BesselI0", "bessel_i0")
bessel_i0e = _scoped_unary("BesselI0e", "bessel_i0e")
bessel_i1 = _scoped_unary("BesselI1", "bessel_i1")
bessel_i1e = _scoped_unary("BesselI1e", "bessel_i1e")


def _binary_fn(op_type, args, doc):
    def fn(a, b, name=None):
        with ops.name_scope(name, op_type, [a, b]) as scope:
            a, b = _m.gen_inputs(op_type, [a, b], args)
            return _base.output(op_type, [a, b], {"T": a.dtype}, name=scope)

    fn.__name__ = op_type.lower()
    fn.__doc__ = doc
    return fn


igamma = _binary_fn("Igamma", ("a", "x"), "The lower regularised incomplete gamma P(a, x).")
igammac = _binary_fn("Igammac", ("a", "x"), "The upper regularised incomplete gamma Q(a, x).")
zeta = _binary_fn("Zeta", ("x", "q"), "The Hurwitz zeta function.")
polygamma = _binary_fn("Polygamma", ("a", "x"), "The polygamma function of order a at x.")


def nextafter(x1, x2, name=None):
    """The next representable value after ``x1`` towards ``x2``."""
    with ops.name_scope(name, "NextAfter", [x1, x2]) as scope:
        x1, x2 = _m.gen_inputs("NextAfter", [x1, x2], ("x1", "x2"))
        return _base.output("NextAfter", [x1, x2], {"T": x1.dtype}, name=scope)


def xlog1py(x, y, name=None):
    """``x * log1p(y)``, 0 where ``x`` is 0."""
    with ops.name_scope(name, "xlog1py", [x]):
        return _m._gen_binary("Xlog1py", x, y, None)


def multiply_no_nan(x, y, name=None):
    """``x * y``, but 0 where ``y`` is 0 even if ``x`` is infinite or NaN."""
    with ops.name_scope(name, "multiply_no_nan", [x, y]) as scope:
        x = _base.to_tensor(x, name="x")
        y = _base.to_tensor(y, name="y", dtype=x.dtype)
        return _m._gen_binary("MulNoNan", x, y, scope)


def betainc(a, b, x, name=None):
    """The regularised incomplete beta function I_x(a, b)."""
    with ops.name_scope(name, "Betainc", [a, b, x]) as scope:
        a, b, x = _m.gen_inputs("Betainc", [a, b, x], ("a", "b", "x"))
        return _base.output("Betainc", [a, b, x], {"T": a.dtype}, name=scope)


def erfcinv(x, name=None):
    """The inverse of ``erfc``: ``-ndtri(x / 2) / sqrt(2)``."""
    with ops.name_scope(name, "erfcinv", [x]):
        x = _base.to_tensor(x, name="x")
        return -ndtri(0.5 * x) * np.asarray(np.sqrt(0.5), x.dtype.as_numpy_dtype)


def log_sigmoid(x, name=None):
    """``log(sigmoid(x))`` computed as ``-softplus(-x)``, stable for large ``|x|``."""
    with ops.name_scope(name, "LogSigmoid", [x]) as scope:
        x = _base.to_tensor(x, name="x")
        return _m._unary("Neg", _m._unary("Softplus", _m._unary("Neg", x, None), None), scope)


def reciprocal_no_nan(x, name=None):
    """``1 / x``, 0 where ``x`` is 0."""
    with ops.name_scope(name, "reciprocal_no_nan", [x]) as scope:
        x = _base.to_tensor(x, name="x")
        one = _base.to_tensor(1, dtype=x.dtype, name="one")
        return _m._gen_binary("DivNoNan", one, x, scope)


# -- CumulativeLogsumexp ------------------------------------------------------------------------
_base.register_simple("CumulativeLogsumexp", _base.same_as_input, _m._cum_lower)
_m.allow("CumulativeLogsumexp", _FLOAT)


def cumulative_logsumexp(x, axis=0, exclusive=False, reverse=False, name=None):
    """``log(cumsum(exp(x)))`` along ``axis``, computed stably."""
    return _m._cumulative("CumulativeLogsumexp", x, axis, exclusive, reverse, name)


# -- InvertPermutation --------------------------------------------------------------------------
def _invert_permutation_infer(op):
    x = op._inputs[0]
    d = _base.dims(x)
    if d is not None and len(d) != 1:
        raise _m.node_error(op, f"Shape must be rank 1 but is rank {len(d)}")
    return [(x.dtype, d if d is not None else (None,))]


def _invert_permutation_lower(op):
    def fn(x):
        x = jnp.asarray(x)
        return jnp.zeros_like(x).at[x].set(jnp.arange(x.shape[0], dtype=x.dtype))

    return fn


_base.register_simple("InvertPermutation", _invert_permutation_infer, _invert_permutation_lower)
_m.allow("InvertPermutation", "int32 int64")


@_base.host_evaluator("InvertPermutation")
def _invert_permutation_host(op, x):
    x = np.asarray(x)
    if sorted(x.tolist()) != list(range(x.size)):
        raise ValueError("not a permutation")
    out = np.empty_like(x)
    out[x] = np.arange(x.size, dtype=x.dtype)
    return out


def invert_permutation(x, name=None):
    """The inverse of the permutation ``x`` (a 1-D int32/int64 tensor)."""
    return _m._unary("InvertPermutation", x, name)


# -- Real, Imag, Angle --------------------------------------------------------------------------
def _complex_part_infer(op):
    x = op._inputs[0]
    return [(op._attrs["Tout"], x._shape)]


_base.register_simple("Real", _complex_part_infer, lambda op: jnp.real)
_base.register_simple("Imag", _complex_part_infer, lambda op: jnp.imag)
_base.register_simple("Angle", _complex_part_infer, lambda op: jnp.angle)


def _complex_part(op_type, x, scope):
    return _base.output(op_type, [x], {"T": x.dtype, "Tout": x.dtype.real_dtype}, name=scope)


def real(input, name=None):  # noqa: A002 - TF's argument name
    """The real part of a complex tensor; a real tensor is returned as it is."""
    with ops.name_scope(name, "Real", [input]) as scope:
        x = _base.to_tensor(input, name="input")
        if x.dtype.is_complex:
            return _complex_part("Real", x, scope)
        return x


def imag(input, name=None):  # noqa: A002 - TF's argument name
    """The imaginary part of a complex tensor; zeros for a real tensor."""
    with ops.name_scope(name, "Imag", [input]) as scope:
        x = _base.to_tensor(input, name="input")
        if x.dtype.is_complex:
            return _complex_part("Imag", x, scope)
        return array_ops.zeros_like(x)


def angle(input, name=None):  # noqa: A002 - TF's argument name
    """The argument of a complex tensor; ``pi`` where a real tensor is negative, else 0."""
    with ops.name_scope(name, "Angle", [input]) as scope:
        x = _base.to_tensor(input, name="input")
        if x.dtype.is_complex:
            return _complex_part("Angle", x, scope)
        return _m.where(x < 0, np.pi * array_ops.ones_like(x), array_ops.zeros_like(x))


# -- composites of reductions -------------------------------------------------------------------
def _real_or_complex(input_tensor):
    x = _base.to_tensor(input_tensor)
    if not (x.dtype.is_floating or x.dtype.is_complex):
        raise TypeError(
            f"Input must be either real or complex. Received integer type <dtype: '{x.dtype.name}'>."
        )
    return x


def reduce_variance(input_tensor, axis=None, keepdims=False, name=None):
    """The variance of ``input_tensor`` along ``axis`` (real or complex; real output)."""
    name = name if name else "reduce_variance"
    with ops.name_scope(name):
        x = _real_or_complex(input_tensor)
        means = reduction_ops.reduce_mean(x, axis=axis, keepdims=True)
        if x.dtype.is_complex:
            sq = _m.square(_m.abs(x - means))
        else:
            sq = _m.square(x - means)
        return reduction_ops.reduce_mean(sq, axis=axis, keepdims=keepdims)


def reduce_std(input_tensor, axis=None, keepdims=False, name=None):
    """The standard deviation of ``input_tensor`` along ``axis``."""
    name = name if name else "reduce_std"
    with ops.name_scope(name):
        x = _real_or_complex(input_tensor)
        return _m.sqrt(reduce_variance(x, axis=axis, keepdims=keepdims))


def lbeta(x, name=None):
    """``log(|Beta(x)|)`` over the last axis: ``sum(lgamma(x)) - lgamma(sum(x))``."""
    with ops.name_scope(name, "lbeta", [x]):
        x = _base.to_tensor(x, name="x")
        log_prod_gamma_x = reduction_ops.reduce_sum(_m.lgamma(x), axis=[-1])
        sum_x = reduction_ops.reduce_sum(x, axis=[-1])
        return log_prod_gamma_x - _m.lgamma(sum_x)


def polyval(coeffs, x, name=None):
    """``coeffs[0] * x**(n-1) + ... + coeffs[n-1]`` by Horner's rule."""
    if not isinstance(coeffs, (list, tuple)):
        raise ValueError(f"Argument coeffs must be list type. Received type {type(coeffs)}.")
    with ops.name_scope(name, "polyval", list(coeffs) + [x]) as scope:
        x = _base.to_tensor(x, name="x")
        if not coeffs:
            return array_ops.zeros_like(x, name=scope)
        coeffs = [_base.to_tensor(c, name=f"coeff_{i}") for i, c in enumerate(coeffs)]
        p = coeffs[0]
        for c in coeffs[1:]:
            p = c + p * x
        return p


def zero_fraction(value, name=None):
    """The fraction of zeros in ``value``, as a float32 scalar."""
    with ops.name_scope(name, "zero_fraction", [value]):
        value = _base.to_tensor(value, name="value")
        size = array_ops.size(value, out_type=dtypes.int64)
        nonzero = reduction_ops.count_nonzero(value, dtype=dtypes.int64)
        with ops.name_scope("counts_to_fraction"):
            zeros = size - nonzero
            fraction = _m.truediv(
                array_ops.cast(zeros, dtypes.float32), array_ops.cast(size, dtypes.float32)
            )
        return array_ops.identity(fraction, name="fraction")


def _unsorted_segment_normalised(data, segment_ids, num_segments, sqrt, name, default):
    with ops.name_scope(name, default, [data, segment_ids, num_segments]):
        data = _base.to_tensor(data, name="data")
        segment_ids = _base.to_tensor(segment_ids, name="segment_ids")
        ones = array_ops.ones_like(segment_ids, dtype=data.dtype)
        counts = segment_ops.unsorted_segment_sum(ones, segment_ids, num_segments)
        data_rank, ids_rank = data.shape.ndims, segment_ids.shape.ndims
        if data_rank is None or ids_rank is None:
            extra = array_ops.ones(
                array_ops.reshape(array_ops.rank(data) - array_ops.rank(segment_ids), [1]),
                dtype=dtypes.int32,
            )
            counts = array_ops.reshape(
                counts, array_ops.concat([array_ops.shape(counts)[:1], extra], 0)
            )
        else:
            counts = array_ops.reshape(counts, [-1] + [1] * (data_rank - ids_rank))
        counts = _m.maximum(counts, 1)
        if sqrt:
            counts = _m.sqrt(counts)
        return segment_ops.unsorted_segment_sum(data, segment_ids, num_segments) / counts


def unsorted_segment_mean(data, segment_ids, num_segments, name=None):
    """The mean of each segment (0 for an empty one); ids in any order."""
    return _unsorted_segment_normalised(
        data, segment_ids, num_segments, False, name, "UnsortedSegmentMean"
    )


def unsorted_segment_sqrt_n(data, segment_ids, num_segments, name=None):
    """The sum of each segment divided by the square root of its size (0 for an empty one)."""
    return _unsorted_segment_normalised(
        data, segment_ids, num_segments, True, name, "UnsortedSegmentSqrtN"
    )


def _each_to_the_next(x, compare, name, scope):
    """Whether ``compare(a, b)`` holds for each element of ``x`` (flattened) and the next."""
    with ops.name_scope(name, scope, [x]):
        vec = array_ops.reshape(x, [-1])
        if not check_ops.is_numeric_tensor(vec):
            raise TypeError(f"Expected x to be numeric, instead found: {vec}")
        return reduction_ops.reduce_all(compare(vec[:-1], vec[1:]), name="All")


def is_non_decreasing(x, name=None):
    """Whether ``x``, flattened, is non-decreasing (True for fewer than 2 elements)."""
    return _each_to_the_next(x, _m.less_equal, name, "is_non_decreasing")


def is_strictly_increasing(x, name=None):
    """Whether ``x``, flattened, is strictly increasing (True for fewer than 2 elements)."""
    return _each_to_the_next(x, _m.less, name, "is_strictly_increasing")


# -- DenseBincount ------------------------------------------------------------------------------
def _static_bincount_size(size):
    """The output size if known before the run: a constant, or ``minimum(maxlength,
    maximum(minlength, ...))`` with ``minlength >= maxlength`` (a fixed number of bins)."""
    v = _base.constant_value(size)
    if v is not None:
        return int(v)
    if size.op.type == "Minimum" and size.op.inputs[1].op.type == "Maximum":
        hi = _base.constant_value(size.op.inputs[0])
        lo = _base.constant_value(size.op.inputs[1].op.inputs[0])
        if hi is not None and lo is not None and int(lo) >= int(hi):
            return int(hi)
    return None


def _bincount_infer(op):
    # TF's static shape knows only a constant size; the lowering also knows a fixed number of bins.
    size = _base.constant_value(op._inputs[1])
    return [(op._attrs["T"], (None if size is None else int(size),))]


def _bincount_lower(op):
    binary = op._attrs["binary_output"]
    out_dtype = op._attrs["T"].as_numpy_dtype

    static_n = _static_bincount_size(op._inputs[1])

    def fn(arr, size, weights):
        n = static_n
        if n is None:
            what = "bincount's size (a constant input, or minlength and maxlength equal)"
            n = int(_base.static_ints(size, what))
        arr = jnp.reshape(arr, [-1])
        w = jnp.ones(arr.shape, out_dtype) if weights.size == 0 else jnp.reshape(weights, [-1])
        if binary:
            w = jnp.ones(arr.shape, out_dtype)
        # Values at or past ``size`` are not counted, as in TF.
        idx = jnp.where(arr < n, arr, n)
        out = jnp.zeros([n], out_dtype).at[idx].add(w.astype(out_dtype), mode="drop")
        return jnp.minimum(out, 1) if binary else out

    return fn


def _bincount_checks(op):
    def check(arr):
        if np.size(arr) and np.min(arr) < 0:
            raise errors.InvalidArgumentError(
                None, op, f"Input arr must be non-negative!\n\t [[{{{{node {op.name}}}}}]]"
            )

    return [([op._inputs[0]], check)]


_entry = _base.register_simple("DenseBincount", _bincount_infer, _bincount_lower)
_entry.fed_checks = _bincount_checks


def bincount(arr, weights=None, minlength=None, maxlength=None, dtype=dtypes.int32, name=None):
    """The number of occurrences (or the summed ``weights``) of each value in ``arr``."""
    with ops.name_scope(name, "bincount", [arr, weights, minlength, maxlength]):
        arr = _base.to_tensor(arr, name="arr", dtype=dtypes.int32)
        if weights is not None:
            weights = _base.to_tensor(weights, name="weights")
        nonempty = array_ops.cast(array_ops.size(arr) > 0, dtypes.int32)
        output_size = nonempty * (reduction_ops.reduce_max(arr) + 1)
        if minlength is not None:
            minlength = _base.to_tensor(minlength, name="minlength", dtype=dtypes.int32)
            output_size = _m.maximum(minlength, output_size)
        if maxlength is not None:
            maxlength = _base.to_tensor(maxlength, name="maxlength", dtype=dtypes.int32)
            output_size = _m.minimum(maxlength, output_size)
        arr = array_ops.reshape(arr, [-1])
        if weights is None:
            weights = constant_op.constant([], dtype=dtypes.as_dtype(dtype))
        else:
            weights = array_ops.reshape(weights, [-1])
        return _base.output(
            "DenseBincount",
            [arr, output_size, weights],
            {"Tidx": arr.dtype, "T": weights.dtype, "binary_output": False},
            name="DenseBincount",
        )


def confusion_matrix(
    labels, predictions, num_classes=None, dtype=dtypes.int32, name=None, weights=None
):
    """The ``[num_classes, num_classes]`` matrix counting (or summing ``weights`` of) each
    (label, prediction) pair; ``num_classes`` is ``1 + max(labels, predictions)`` if not
    given."""
    with ops.name_scope(name, "confusion_matrix", (predictions, labels, num_classes, weights)):
        labels = _base.to_tensor(labels, name="labels")
        predictions = _base.to_tensor(predictions, name="predictions")
        labels = array_ops.cast(labels, dtypes.int64)
        predictions = array_ops.cast(predictions, dtypes.int64)
        with ops.control_dependencies([check_ops.assert_non_negative(labels)]):
            labels = array_ops.identity(labels, name="control_dependency")
        with ops.control_dependencies([check_ops.assert_non_negative(predictions)]):
            predictions = array_ops.identity(predictions, name="control_dependency_1")
        if num_classes is None:
            num_classes = (
                _m.maximum(reduction_ops.reduce_max(predictions), reduction_ops.reduce_max(labels))
                + 1
            )
        else:
            num_classes = array_ops.cast(num_classes, dtypes.int64)
            with ops.control_dependencies([check_ops.assert_less(labels, num_classes)]):
                labels = array_ops.identity(labels, name="control_dependency_2")
            with ops.control_dependencies([check_ops.assert_less(predictions, num_classes)]):
                predictions = array_ops.identity(predictions, name="control_dependency_3")
        if weights is not None:
            weights = _base.to_tensor(weights, name="weights")
        shape = array_ops.stack([num_classes, num_classes])
        indices = array_ops.stack([labels, predictions], axis=1)
        dtype = dtypes.as_dtype(dtype)
        if weights is None:
            values = array_ops.ones_like(predictions, dtype=dtype)
        else:
            values = array_ops.cast(weights, dtype)
        return array_ops.scatter_nd(indices=indices, updates=values, shape=shape)


# -- ApproxTopK -----------------------------------------------------------------------------------
def _approx_top_k_infer(op):
    x = op._inputs[0]
    d = _base.dims(x)
    if d is None:
        return [(x.dtype, None), (dtypes.int32, None)]
    axis = op._attrs["reduction_dimension"] % len(d)
    out = list(d)
    out[axis] = op._attrs["k"]
    return [(x.dtype, tuple(out)), (dtypes.int32, tuple(out))]


def _approx_top_k_lower(op):
    attrs = op._attrs
    pick = jax.lax.approx_max_k if attrs["is_max_k"] else jax.lax.approx_min_k

    def fn(x):
        values, indices = pick(
            x,
            attrs["k"],
            reduction_dimension=attrs["reduction_dimension"],
            recall_target=attrs["recall_target"],
            reduction_input_size_override=attrs["reduction_input_size_override"],
            aggregate_to_topk=attrs["aggregate_to_topk"],
        )
        return values, indices.astype(jnp.int32)

    return fn


_base.register_simple("ApproxTopK", _approx_top_k_infer, _approx_top_k_lower)
_m.allow(
    "ApproxTopK",
    "float16 bfloat16 float32 float64 int8 uint8 int16 uint16 int32 uint32 int64 uint64",
)


def _approx_top_k(operand, k, reduction_dimension, recall_target, is_max_k,
                  reduction_input_size_override, aggregate_to_topk, name):  # fmt: skip
    x = _base.to_tensor(operand, name="input")
    _m.check_dtype("ApproxTopK", "input", x.dtype)
    attrs = {
        "k": int(k),
        "reduction_dimension": int(reduction_dimension),
        "recall_target": float(recall_target),
        "is_max_k": bool(is_max_k),
        "reduction_input_size_override": int(reduction_input_size_override),
        "aggregate_to_topk": bool(aggregate_to_topk),
        "T": x.dtype,
    }
    op = _base.make_op("ApproxTopK", [x], attrs, name=name or "ApproxTopK")
    return _ApproxTopK(*op._outputs)


_ApproxTopK = collections.namedtuple("ApproxTopK", ["values", "indices"])


def approx_max_k(operand, k, reduction_dimension=-1, recall_target=0.95,
                 reduction_input_size_override=-1, aggregate_to_topk=True,
                 name=None):  # fmt: skip
    """The ``k`` largest values along ``reduction_dimension`` and their int32 indices (exact on
    CPU, approximate where XLA's TPU/GPU algorithm applies)."""
    return _approx_top_k(operand, k, reduction_dimension, recall_target, True,
                         reduction_input_size_override, aggregate_to_topk, name)  # fmt: skip


def approx_min_k(operand, k, reduction_dimension=-1, recall_target=0.95,
                 reduction_input_size_override=-1, aggregate_to_topk=True,
                 name=None):  # fmt: skip
    """The ``k`` smallest values along ``reduction_dimension`` and their int32 indices."""
    return _approx_top_k(operand, k, reduction_dimension, recall_target, False,
                         reduction_input_size_override, aggregate_to_topk, name)  # fmt: skip
