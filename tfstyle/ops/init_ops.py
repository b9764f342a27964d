"""TF1 initializers (``tf.zeros_initializer()``, ``tf.glorot_uniform_initializer()``, ...).

Each is a class with TF1's constructor arguments; calling it as
``init(shape, dtype=None, partition_info=None)`` builds the graph ops TF builds (inside
``get_variable`` they land under ``<var>/Initializer/``).
"""

import math

import jax.numpy as jnp
import numpy as np

from tfstyle.framework import dtypes, registry
from tfstyle.framework import tensor_shape as _shape

from . import _base, random_ops
from .array_ops import ones, reshape, zeros
from .constant_op import constant
from .linalg_ops import diag_part, eye, matrix_transpose
from .math_ops import sign


def _assert_float_dtype(dtype):
    if not dtype.is_floating:
        raise ValueError(f"Argument `dtype` is expected to be floating point. Received: {dtype}.")
    return dtype


def _as_list(shape):
    if isinstance(shape, _shape.TensorShape):
        return shape.as_list()
    return [_shape.dimension_value(d) for d in shape]


class Initializer:
    """Base class of initializers: ``__call__(shape, dtype=None, partition_info=None)``."""

    def __call__(self, shape, dtype=None, partition_info=None):
        raise TypeError(f"{type(self).__name__} does not define __call__")

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)


class _Fill(Initializer):
    """Fills the shape with ``_fill(shape, dtype)`` (``zeros`` or ``ones``)."""

    def __init__(self, dtype=dtypes.float32):
        self.dtype = dtypes.as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        return self._fill(shape, dtype or self.dtype)

    def get_config(self):
        return {"dtype": self.dtype.name}


class Zeros(_Fill):
    """Initializes to 0."""

    _fill = staticmethod(zeros)


class Ones(_Fill):
    """Initializes to 1."""

    _fill = staticmethod(ones)


class Constant(Initializer):
    """Initializes to ``value``: a scalar (broadcast), or a list/array filling the shape.

    As in TF1, a list with fewer elements than the shape is padded with its last element.
    """

    def __init__(self, value=0, dtype=dtypes.float32, verify_shape=False):
        if not (np.isscalar(value) or isinstance(value, (list, tuple, np.ndarray))):
            raise TypeError(
                f"Invalid type for initial value={value} of type: {type(value).__name__}. "
                "Expected Python scalar, list or tuple of values, or numpy.ndarray."
            )
        self.value = value
        self.dtype = dtypes.as_dtype(dtype)
        self._verify_shape = verify_shape

    def __call__(self, shape, dtype=None, partition_info=None, verify_shape=None):
        dtype = dtypes.as_dtype(dtype or self.dtype)
        if verify_shape is None:
            verify_shape = self._verify_shape
        shape = _as_list(shape)
        value = self.value
        arr = np.asarray(value)
        size = int(np.prod(shape))
        if arr.ndim and arr.size != size and not verify_shape:
            if arr.size > size:
                raise ValueError(
                    f"Too many elements provided. Needed at most {size}, but received {arr.size}"
                )
            flat = np.reshape(arr, [-1])
            value = np.concatenate([flat, np.repeat(flat[-1:], size - arr.size)]).reshape(shape)
        return constant(value, dtype=dtype, shape=shape, verify_shape=verify_shape)

    def get_config(self):
        return {"value": self.value, "dtype": self.dtype.name}


class RandomUniform(Initializer):
    """Uniform samples in ``[minval, maxval)``."""

    def __init__(self, minval=0.0, maxval=None, seed=None, dtype=dtypes.float32):
        self.minval = minval
        self.maxval = maxval
        self.seed = seed
        self.dtype = dtypes.as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        return random_ops.random_uniform(
            shape, self.minval, self.maxval, dtype or self.dtype, seed=self.seed
        )

    def get_config(self):
        return {
            "minval": self.minval,
            "maxval": self.maxval,
            "seed": self.seed,
            "dtype": self.dtype.name,
        }


class _Normal(Initializer):
    def __init__(self, mean=0.0, stddev=1.0, seed=None, dtype=dtypes.float32):
        self.mean = mean
        self.stddev = stddev
        self.seed = seed
        self.dtype = _assert_float_dtype(dtypes.as_dtype(dtype))

    def get_config(self):
        return {
            "mean": self.mean,
            "stddev": self.stddev,
            "seed": self.seed,
            "dtype": self.dtype.name,
        }


class RandomNormal(_Normal):
    """Normal samples with ``mean`` and ``stddev``."""

    def __call__(self, shape, dtype=None, partition_info=None):
        return random_ops.random_normal(
            shape, self.mean, self.stddev, dtype or self.dtype, seed=self.seed
        )


class TruncatedNormal(_Normal):
    """Normal samples, redrawn beyond two standard deviations."""

    def __call__(self, shape, dtype=None, partition_info=None):
        return random_ops.truncated_normal(
            shape, self.mean, self.stddev, dtype or self.dtype, seed=self.seed
        )


class UniformUnitScaling(Initializer):
    """Uniform in ``±sqrt(3 / input_size) * factor`` (deprecated in TF1)."""

    def __init__(self, factor=1.0, seed=None, dtype=dtypes.float32):
        self.factor = factor
        self.seed = seed
        self.dtype = _assert_float_dtype(dtypes.as_dtype(dtype))

    def __call__(self, shape, dtype=None, partition_info=None):
        scale_shape = _as_list(partition_info.full_shape if partition_info else shape)
        input_size = max(float(np.prod([float(d) for d in scale_shape[:-1]])), 1.0)
        max_val = math.sqrt(3 / input_size) * self.factor
        return random_ops.random_uniform(
            shape, -max_val, max_val, dtype or self.dtype, seed=self.seed
        )

    def get_config(self):
        return {"factor": self.factor, "seed": self.seed, "dtype": self.dtype.name}


def _compute_fans(shape):
    if len(shape) < 1:
        fan_in = fan_out = 1
    elif len(shape) == 1:
        fan_in = fan_out = shape[0]
    elif len(shape) == 2:
        fan_in, fan_out = shape
    else:
        receptive = 1
        for d in shape[:-2]:
            receptive *= d
        fan_in = shape[-2] * receptive
        fan_out = shape[-1] * receptive
    return int(fan_in), int(fan_out)


# The standard deviation of a unit normal truncated to [-2, 2].
_TRUNCATED_STDDEV = 0.87962566103423978


class VarianceScaling(Initializer):
    """Samples scaled to the fan-in/out: variance ``scale / n`` for ``mode``'s ``n``.

    ``distribution`` is ``"truncated_normal"`` (``"normal"`` is its old name; the standard
    deviation is corrected for the truncation), ``"untruncated_normal"`` or ``"uniform"``.
    """

    def __init__(
        self,
        scale=1.0,
        mode="fan_in",
        distribution="truncated_normal",
        seed=None,
        dtype=dtypes.float32,
    ):
        if scale <= 0.0:
            raise ValueError(f"Argument `scale` must be a positive float. Received: {scale}")
        if mode not in {"fan_in", "fan_out", "fan_avg"}:
            raise ValueError(
                f"Argument `mode` should be one of ('fan_in', 'fan_out', 'fan_avg'). "
                f"Received: {mode}"
            )
        distribution = distribution.lower()
        if distribution not in {"normal", "uniform", "truncated_normal", "untruncated_normal"}:
            raise ValueError(
                "Argument `distribution` should be one of ('normal', uniform', "
                f"'truncated_normal', 'untruncated_normal'). Received: {distribution}"
            )
        self.scale = scale
        self.mode = mode
        self.distribution = distribution
        self.seed = seed
        self.dtype = _assert_float_dtype(dtypes.as_dtype(dtype))

    def __call__(self, shape, dtype=None, partition_info=None):
        dtype = dtype or self.dtype
        fan_in, fan_out = _compute_fans(
            _as_list(partition_info.full_shape if partition_info else shape)
        )
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[self.mode]
        scale = self.scale / max(1.0, n)
        if self.distribution in ("normal", "truncated_normal"):
            stddev = math.sqrt(scale) / _TRUNCATED_STDDEV
            return random_ops.truncated_normal(shape, 0.0, stddev, dtype, seed=self.seed)
        if self.distribution == "untruncated_normal":
            return random_ops.random_normal(shape, 0.0, math.sqrt(scale), dtype, seed=self.seed)
        limit = math.sqrt(3.0 * scale)
        return random_ops.random_uniform(shape, -limit, limit, dtype, seed=self.seed)

    def get_config(self):
        return {
            "scale": self.scale,
            "mode": self.mode,
            "distribution": self.distribution,
            "seed": self.seed,
            "dtype": self.dtype.name,
        }


class GlorotUniform(VarianceScaling):
    """Uniform in ``±sqrt(6 / (fan_in + fan_out))`` (Xavier uniform)."""

    def __init__(self, seed=None, dtype=dtypes.float32):
        super().__init__(scale=1.0, mode="fan_avg", distribution="uniform", seed=seed, dtype=dtype)

    def get_config(self):
        return {"seed": self.seed, "dtype": self.dtype.name}


class GlorotNormal(VarianceScaling):
    """Truncated normal with stddev ``sqrt(2 / (fan_in + fan_out))`` (Xavier normal)."""

    def __init__(self, seed=None, dtype=dtypes.float32):
        super().__init__(
            scale=1.0, mode="fan_avg", distribution="truncated_normal", seed=seed, dtype=dtype
        )

    def get_config(self):
        return {"seed": self.seed, "dtype": self.dtype.name}


# -- QR, which only the orthogonal initializer builds (registered unless a module has) ----------
def _qr_infer(op):
    d = _base.dims(op._inputs[0])
    dt = op._inputs[0].dtype
    if d is None:
        return [(dt, None), (dt, None)]
    *batch, m, n = d
    k = None if m is None or n is None else min(m, n)
    if op._attrs["full_matrices"]:
        return [(dt, (*batch, m, m)), (dt, (*batch, m, n))]
    return [(dt, (*batch, m, k)), (dt, (*batch, k, n))]


def _qr_lower(op):
    mode = "complete" if op._attrs["full_matrices"] else "reduced"
    return lambda x: jnp.linalg.qr(x, mode=mode)


def _ensure_qr():
    # Looked up when first needed, so that a linear-algebra module defining Qr wins.
    if registry.get("Qr") is None:
        _base.register_simple("Qr", _qr_infer, _qr_lower)


class Orthogonal(Initializer):
    """A (semi-)orthogonal matrix from the QR decomposition of a normal sample, times ``gain``."""

    def __init__(self, gain=1.0, seed=None, dtype=dtypes.float32):
        self.gain = gain
        self.seed = seed
        self.dtype = _assert_float_dtype(dtypes.as_dtype(dtype))

    def __call__(self, shape, dtype=None, partition_info=None):
        _ensure_qr()
        dtype = dtype or self.dtype
        shape = _as_list(shape)
        if len(shape) < 2:
            raise ValueError(
                "The tensor to initialize, specified by argument `shape` must be at least "
                f"two-dimensional. Received shape={shape}"
            )
        num_rows = int(np.prod(shape[:-1]))
        num_cols = int(shape[-1])
        flat_shape = (num_cols, num_rows) if num_rows < num_cols else (num_rows, num_cols)
        a = random_ops.random_normal(flat_shape, dtype=dtype, seed=self.seed)
        q, r = _base.make_op("Qr", [a], {"full_matrices": False, "T": a.dtype}, name="Qr").outputs
        q = q * sign(diag_part(r))
        if num_rows < num_cols:
            q = matrix_transpose(q)
        return self.gain * reshape(q, shape)

    def get_config(self):
        return {"gain": self.gain, "seed": self.seed, "dtype": self.dtype.name}


class Identity(Initializer):
    """The identity matrix times ``gain`` (2-D shapes only)."""

    def __init__(self, gain=1.0, dtype=dtypes.float32):
        self.gain = gain
        self.dtype = _assert_float_dtype(dtypes.as_dtype(dtype))

    def __call__(self, shape, dtype=None, partition_info=None):
        full_shape = _as_list(partition_info.full_shape if partition_info else shape)
        if len(full_shape) != 2:
            raise ValueError(
                "The tensor to initialize, specified by argument `shape` must be at least "
                f"two-dimensional. Received shape={shape}"
            )
        dtype = dtypes.as_dtype(dtype or self.dtype)
        return self.gain * eye(*full_shape, dtype=dtype)

    def get_config(self):
        return {"gain": self.gain, "dtype": self.dtype.name}


def lecun_normal(seed=None):
    """Truncated normal with stddev ``sqrt(1 / fan_in)``."""
    return VarianceScaling(scale=1.0, mode="fan_in", distribution="truncated_normal", seed=seed)


def lecun_uniform(seed=None):
    """Uniform in ``±sqrt(3 / fan_in)``."""
    return VarianceScaling(scale=1.0, mode="fan_in", distribution="uniform", seed=seed)


def he_normal(seed=None):
    """Truncated normal with stddev ``sqrt(2 / fan_in)``."""
    return VarianceScaling(scale=2.0, mode="fan_in", distribution="truncated_normal", seed=seed)


def he_uniform(seed=None):
    """Uniform in ``±sqrt(6 / fan_in)``."""
    return VarianceScaling(scale=2.0, mode="fan_in", distribution="uniform", seed=seed)


zeros_initializer = Zeros
ones_initializer = Ones
constant_initializer = Constant
random_uniform_initializer = RandomUniform
random_normal_initializer = RandomNormal
truncated_normal_initializer = TruncatedNormal
uniform_unit_scaling_initializer = UniformUnitScaling
variance_scaling_initializer = VarianceScaling
glorot_uniform_initializer = GlorotUniform
glorot_normal_initializer = GlorotNormal
orthogonal_initializer = Orthogonal
identity_initializer = Identity
