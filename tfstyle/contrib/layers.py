"""``tf.contrib.layers``: the TF 1.x contrib layers and initializers legacy code uses most.

``fully_connected`` and ``conv2d`` name their variables ``weights`` and ``biases`` (``<scope>/
weights:0``) and add them to ``MODEL_VARIABLES``, as contrib did.
"""

import math
import numbers

from tfstyle import nn
from tfstyle.framework import dtypes, ops
from tfstyle.layers import convolutional, core
from tfstyle.ops import init_ops, math_ops, random_ops, reduction_ops
from tfstyle.ops import variable_scope as vs
from tfstyle.platform import tf_logging as logging

__all__ = [
    "conv2d",
    "convolution2d",
    "flatten",
    "fully_connected",
    "l1_regularizer",
    "l2_regularizer",
    "variance_scaling_initializer",
    "xavier_initializer",
    "xavier_initializer_conv2d",
]


# -- initializers -----------------------------------------------------------------------------
class _ContribVarianceScaling(init_ops.Initializer):
    """contrib's variance scaling: uniform in ``±sqrt(3 * factor / n)`` or a truncated normal
    of stddev ``sqrt(1.3 * factor / n)``."""

    def __init__(self, factor, mode, uniform, seed, dtype):
        self.factor, self.mode, self.uniform, self.seed = factor, mode, uniform, seed
        self.dtype = dtypes.as_dtype(dtype)

    def __call__(self, shape, dtype=None, partition_info=None):
        dtype = dtypes.as_dtype(dtype or self.dtype)
        if not dtype.is_floating:
            raise TypeError("Cannot create initializer for non-floating point type.")
        shape = list(shape.as_list() if hasattr(shape, "as_list") else shape)
        if shape:
            fan_in = float(shape[-2]) if len(shape) > 1 else float(shape[-1])
            fan_out = float(shape[-1])
        else:
            fan_in = fan_out = 1.0
        for dim in shape[:-2]:
            fan_in *= float(dim)
            fan_out *= float(dim)
        n = {"FAN_IN": fan_in, "FAN_OUT": fan_out, "FAN_AVG": (fan_in + fan_out) / 2.0}
        n = n[self.mode]
        if self.uniform:
            limit = math.sqrt(3.0 * self.factor / n)
            return random_ops.random_uniform(shape, -limit, limit, dtype, seed=self.seed)
        stddev = math.sqrt(1.3 * self.factor / n)
        return random_ops.truncated_normal(shape, 0.0, stddev, dtype, seed=self.seed)

    def get_config(self):
        return {"factor": self.factor, "mode": self.mode, "uniform": self.uniform,
                "seed": self.seed, "dtype": self.dtype.name}  # fmt: skip


def variance_scaling_initializer(factor=2.0, mode="FAN_IN", uniform=False, seed=None,
                                 dtype=dtypes.float32):  # fmt: skip
    """An initializer whose variance is ``factor / n`` (He initialization by default)."""
    if not dtypes.as_dtype(dtype).is_floating:
        raise TypeError("Cannot create initializer for non-floating point type.")
    if mode not in ("FAN_IN", "FAN_OUT", "FAN_AVG"):
        raise TypeError(f"Unknown mode {mode} [FAN_IN, FAN_OUT, FAN_AVG]")
    return _ContribVarianceScaling(factor, mode, uniform, seed, dtype)


def xavier_initializer(uniform=True, seed=None, dtype=dtypes.float32):
    """Glorot/Xavier initialization: ``variance_scaling_initializer(1.0, 'FAN_AVG')``."""
    return variance_scaling_initializer(1.0, "FAN_AVG", uniform, seed, dtype)


xavier_initializer_conv2d = xavier_initializer


# -- regularizers -----------------------------------------------------------------------------
def _check_scale(scale):
    if isinstance(scale, numbers.Integral):
        raise ValueError(f"scale cannot be an integer: {scale}")
    if isinstance(scale, numbers.Real):
        if scale < 0.0:
            raise ValueError(f"Setting a scale less than 0 on a regularizer: {scale:g}")
        if scale == 0.0:
            logging.info("Scale of 0 disables regularizer.")
            return False
    return True


def l2_regularizer(scale, scope=None):
    """A regularizer ``scale * l2_loss(weights)`` (``scale * sum(w ** 2) / 2``)."""
    if not _check_scale(scale):
        return lambda _: None

    def l2(weights):
        with ops.name_scope(scope, "l2_regularizer", [weights]) as name:
            my_scale = ops.convert_to_tensor(scale, dtype=weights.dtype.base_dtype, name="scale")
            return math_ops.multiply(my_scale, nn.l2_loss(weights), name=name)

    return l2


def l1_regularizer(scale, scope=None):
    """A regularizer ``scale * sum(|weights|)``."""
    if not _check_scale(scale):
        return lambda _: None

    def l1(weights):
        with ops.name_scope(scope, "l1_regularizer", [weights]) as name:
            my_scale = ops.convert_to_tensor(scale, dtype=weights.dtype.base_dtype, name="scale")
            return math_ops.multiply(
                my_scale, reduction_ops.reduce_sum(math_ops.abs(weights)), name=name
            )

    return l1


# -- layers -----------------------------------------------------------------------------------
_RENAME = {"kernel": "weights", "bias": "biases"}


def _layer_variable_getter(getter, name, *args, **kwargs):
    # contrib's names (weights, biases) and the MODEL_VARIABLES collection.
    short = name.split("/")[-1]
    if short in _RENAME:
        name = name[: -len(short)] + _RENAME[short]
    collections = list(kwargs.get("collections") or [])
    for key in (ops.GraphKeys.GLOBAL_VARIABLES, ops.GraphKeys.MODEL_VARIABLES):
        if key not in collections:
            collections.append(key)
    kwargs["collections"] = collections
    return getter(name, *args, **kwargs)


def _collect(collections, outputs):
    if collections:
        ops.add_to_collections(collections, outputs)
    return outputs


def _add_variable_to_collections(variable, collections_set, key):
    collections = (
        collections_set.get(key, []) if isinstance(collections_set, dict) else collections_set
    )
    for name in collections or []:
        if variable not in ops.get_collection(name):
            ops.add_to_collection(name, variable)


def flatten(inputs, outputs_collections=None, scope=None):
    """``[batch, ...] -> [batch, k]`` (ops under ``Flatten/``)."""
    with ops.name_scope(scope, "Flatten", [inputs]):
        inputs = ops.convert_to_tensor(inputs)
        outputs = core.flatten(inputs)
        return _collect(outputs_collections, outputs)


def _finish(layer, outputs, sc, normalizer_fn, normalizer_params, activation_fn,
            variables_collections, outputs_collections):  # fmt: skip
    _add_variable_to_collections(layer.kernel, variables_collections, "weights")
    if layer.bias is not None:
        _add_variable_to_collections(layer.bias, variables_collections, "biases")
    if normalizer_fn is not None:
        outputs = normalizer_fn(outputs, **(normalizer_params or {}))
    if activation_fn is not None:
        outputs = activation_fn(outputs)
    return _collect(outputs_collections, outputs)


def fully_connected(inputs, num_outputs, activation_fn=nn.relu, normalizer_fn=None,
                    normalizer_params=None, weights_initializer=xavier_initializer(),
                    weights_regularizer=None, biases_initializer=init_ops.zeros_initializer(),
                    biases_regularizer=None, reuse=None, variables_collections=None,
                    outputs_collections=None, trainable=True, scope=None):  # fmt: skip
    """A dense layer ``activation_fn(inputs @ weights + biases)`` with variables
    ``<scope>/weights`` and ``<scope>/biases`` (scope ``fully_connected`` by default)."""
    if not isinstance(num_outputs, int):
        raise ValueError(f"num_outputs type should be one of {(int,)}, got {type(num_outputs)}.")
    with vs.variable_scope(scope, "fully_connected", [inputs], reuse=reuse,
                           custom_getter=_layer_variable_getter) as sc:  # fmt: skip
        inputs = ops.convert_to_tensor(inputs)
        layer = core.Dense(
            units=num_outputs, activation=None,
            use_bias=not normalizer_fn and biases_initializer is not None,
            kernel_initializer=weights_initializer, bias_initializer=biases_initializer,
            kernel_regularizer=weights_regularizer, bias_regularizer=biases_regularizer,
            trainable=trainable, name=sc.name, _scope=sc, _reuse=reuse,
        )  # fmt: skip
        outputs = layer(inputs)
        return _finish(layer, outputs, sc, normalizer_fn, normalizer_params, activation_fn,
                       variables_collections, outputs_collections)  # fmt: skip


def conv2d(inputs, num_outputs, kernel_size, stride=1, padding="SAME", data_format=None,
           rate=1, activation_fn=nn.relu, normalizer_fn=None, normalizer_params=None,
           weights_initializer=xavier_initializer(), weights_regularizer=None,
           biases_initializer=init_ops.zeros_initializer(), biases_regularizer=None,
           reuse=None, variables_collections=None, outputs_collections=None, trainable=True,
           scope=None):  # fmt: skip
    """A 2-D convolution with variables ``<scope>/weights`` and ``<scope>/biases`` (scope
    ``Conv`` by default), padding ``SAME`` and a ReLU by default."""
    if data_format not in (None, "NHWC", "NCHW"):
        raise ValueError(f"Invalid data_format: {data_format!r}")
    with vs.variable_scope(scope, "Conv", [inputs], reuse=reuse,
                           custom_getter=_layer_variable_getter) as sc:  # fmt: skip
        inputs = ops.convert_to_tensor(inputs)
        layer = convolutional.Conv2D(
            filters=num_outputs, kernel_size=kernel_size, strides=stride, padding=padding,
            data_format="channels_first" if data_format == "NCHW" else "channels_last",
            dilation_rate=rate, activation=None,
            use_bias=not normalizer_fn and biases_initializer is not None,
            kernel_initializer=weights_initializer, bias_initializer=biases_initializer,
            kernel_regularizer=weights_regularizer, bias_regularizer=biases_regularizer,
            trainable=trainable, name=sc.name, _scope=sc, _reuse=reuse,
        )  # fmt: skip
        outputs = layer(inputs)
        return _finish(layer, outputs, sc, normalizer_fn, normalizer_params, activation_fn,
                       variables_collections, outputs_collections)  # fmt: skip


convolution2d = conv2d
