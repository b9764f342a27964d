"""``tf.contrib.layers``: the TF 1.x contrib layers and initializers legacy code uses most.

``fully_connected`` and ``conv2d`` name their variables ``weights`` and ``biases`` (``<scope>/
weights:0``) and add them to ``MODEL_VARIABLES``, as contrib did; ``batch_norm`` and
``layer_norm`` add theirs (``BatchNorm/beta``, ``LayerNorm/gamma``...) there too.
"""

import math
import numbers

from tfstyle import nn
from tfstyle.framework import dtypes, ops
from tfstyle.layers import convolutional, core, normalization, pooling
from tfstyle.layers.base import smart_cond, static_bool
from tfstyle.ops import array_ops, init_ops, math_ops, random_ops, reduction_ops
from tfstyle.ops import variable_scope as vs
from tfstyle.platform import tf_logging as logging

__all__ = [
    "avg_pool2d",
    "batch_norm",
    "conv2d",
    "convolution2d",
    "dropout",
    "flatten",
    "fully_connected",
    "l1_regularizer",
    "l2_regularizer",
    "layer_norm",
    "max_pool2d",
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


# -- normalization, dropout, pooling ----------------------------------------------------------
def _model_variable(name, shape, dtype, initializer, collections, trainable, regularizer=None):
    """contrib's ``model_variable``: also in ``MODEL_VARIABLES`` (and ``collections``)."""
    collections = list(collections or [])
    collections += [ops.GraphKeys.GLOBAL_VARIABLES, ops.GraphKeys.MODEL_VARIABLES]
    return vs.get_variable(
        name, shape=shape, dtype=dtype, initializer=initializer, regularizer=regularizer,
        collections=collections, trainable=trainable,
    )  # fmt: skip


def _collections_for(variables_collections, key):
    if isinstance(variables_collections, dict):
        return variables_collections.get(key)
    return variables_collections


def batch_norm(inputs, decay=0.999, center=True, scale=False, epsilon=0.001, activation_fn=None,
               param_initializers=None, param_regularizers=None,
               updates_collections=ops.GraphKeys.UPDATE_OPS, is_training=True, reuse=None,
               variables_collections=None, outputs_collections=None, trainable=True,
               batch_weights=None, fused=None, data_format="NHWC",
               zero_debias_moving_mean=False, scope=None, renorm=False, renorm_clipping=None,
               renorm_decay=0.99, adjustment=None):  # fmt: skip
    """contrib's batch normalization: variables ``BatchNorm/beta`` (and ``gamma`` with
    ``scale=True``, off by default), ``moving_mean`` and ``moving_variance``.

    As in contrib: with the default ``UPDATE_OPS`` on a rank-4 input it is
    ``tf.layers.BatchNormalization(momentum=decay)``; a rank-2 input, ``updates_collections=None``
    (the averages are updated before the output is computed) or ``zero_debias_moving_mean``
    use ``fused_batch_norm``, whose moving variance follows the unbiased batch variance; with
    ``fused=False`` those cases use the batch's moments.
    """
    if batch_weights is not None or renorm or adjustment is not None:
        raise ValueError(
            "tfstyle's contrib.layers.batch_norm does not support batch_weights, renorm or "
            "adjustment."
        )
    if data_format not in ("NCHW", "NHWC"):
        raise ValueError("data_format has to be either NCHW or NHWC.")
    fused = True if fused is None else fused
    inputs = ops.convert_to_tensor(inputs)
    rank = inputs.get_shape().ndims
    default_updates = updates_collections is ops.GraphKeys.UPDATE_OPS
    if fused and rank in (2, 4) and (zero_debias_moving_mean or rank == 2 or not default_updates):
        statistics = "fused"
    elif default_updates and not zero_debias_moving_mean:
        statistics = "layer"
    else:
        statistics = "moments"
    param_initializers = param_initializers or {}
    param_regularizers = param_regularizers or {}
    if statistics == "layer":
        with vs.variable_scope(scope, "BatchNorm", [inputs], reuse=reuse,
                               custom_getter=_layer_variable_getter) as sc:  # fmt: skip
            layer = normalization.BatchNormalization(
                axis=1 if data_format == "NCHW" else -1, momentum=decay, epsilon=epsilon,
                center=center, scale=scale,
                beta_initializer=param_initializers.get("beta", init_ops.zeros_initializer()),
                gamma_initializer=param_initializers.get("gamma", init_ops.ones_initializer()),
                moving_mean_initializer=param_initializers.get(
                    "moving_mean", init_ops.zeros_initializer()),
                moving_variance_initializer=param_initializers.get(
                    "moving_variance", init_ops.ones_initializer()),
                beta_regularizer=param_regularizers.get("beta"),
                gamma_regularizer=param_regularizers.get("gamma"),
                trainable=trainable, name=sc.name, _scope=sc, _reuse=reuse, fused=fused,
            )  # fmt: skip
            outputs = layer(inputs, training=is_training)
            for key in ("moving_mean", "moving_variance", "beta", "gamma"):
                variable = getattr(layer, key)
                if variable is not None:
                    _add_variable_to_collections(variable, variables_collections, key)
            if activation_fn is not None:
                outputs = activation_fn(outputs)
            return _collect(outputs_collections, outputs)
    return _batch_norm_with_statistics(
        inputs, statistics == "fused", decay, center, scale, epsilon, activation_fn,
        param_initializers, param_regularizers, updates_collections, is_training, reuse,
        variables_collections, outputs_collections, trainable, data_format,
        zero_debias_moving_mean, scope,
    )  # fmt: skip


def _batch_norm_with_statistics(inputs, fused, decay, center, scale, epsilon, activation_fn,
                                param_initializers, param_regularizers, updates_collections,
                                is_training, reuse, variables_collections, outputs_collections,
                                trainable, data_format, zero_debias_moving_mean, scope):  # fmt: skip
    from tfstyle.train.moving_averages import assign_moving_average

    with vs.variable_scope(scope, "BatchNorm", [inputs], reuse=reuse):
        original_inputs = inputs
        original_shape = inputs.get_shape()
        rank = original_shape.ndims
        if rank is None:
            raise ValueError(f"Inputs {inputs.name} has undefined rank")
        if fused and rank == 2:
            channels = original_shape.as_list()[-1]
            if channels is None:
                raise ValueError("`C` dimension must be known but is None")
            shape = [-1, channels, 1, 1] if data_format == "NCHW" else [-1, 1, 1, channels]
            inputs = array_ops.reshape(inputs, shape)
        inputs_shape = inputs.get_shape()
        channel_axis = 1 if data_format == "NCHW" else inputs_shape.ndims - 1
        params_shape = inputs_shape[channel_axis : channel_axis + 1]
        if not params_shape.is_fully_defined():
            raise ValueError(f"Inputs {inputs.name} has undefined `C` dimension {params_shape}.")
        dtype = dtypes.float32 if fused else inputs.dtype.base_dtype
        defaults = {
            "beta": (center, True, 0.0), "gamma": (scale, True, 1.0),
            "moving_mean": (True, False, 0.0), "moving_variance": (True, False, 1.0),
        }  # fmt: skip
        params = {}
        for key, (wanted, is_trained, fill) in defaults.items():  # contrib's creation order
            if not wanted:  # without center/scale: a constant 0 or 1
                params[key] = array_ops.constant(fill, dtype=dtype, shape=params_shape.as_list())
                continue
            params[key] = _model_variable(
                key, params_shape, dtype,
                param_initializers.get(key, init_ops.constant_initializer(fill)),
                _collections_for(variables_collections, key), trainable and is_trained,
                param_regularizers.get(key) if is_trained else None,
            )  # fmt: skip
        beta, gamma = params["beta"], params["gamma"]
        moving_mean, moving_variance = params["moving_mean"], params["moving_variance"]

        if fused:

            def batch_statistics():
                return nn.fused_batch_norm(
                    inputs, gamma, beta, epsilon=epsilon, data_format=data_format
                )

            def moving_statistics():
                return nn.fused_batch_norm(
                    inputs, gamma, beta, mean=moving_mean, variance=moving_variance,
                    epsilon=epsilon, is_training=False, data_format=data_format,
                )  # fmt: skip

            outputs, mean, variance = smart_cond(is_training, batch_statistics, moving_statistics)
        else:
            axes = [0] + list(range(2, rank)) if data_format == "NCHW" else list(range(rank - 1))
            broadcast = [1] * rank
            broadcast[channel_axis] = params_shape.as_list()[0]
            batch_mean, batch_variance = nn.moments(inputs, axes)
            mean, variance = smart_cond(
                is_training,
                lambda: (batch_mean, batch_variance),
                lambda: (
                    ops.convert_to_tensor(moving_mean),
                    ops.convert_to_tensor(moving_variance),
                ),
            )

        def updates():
            return (
                assign_moving_average(moving_mean, mean, decay, zero_debias_moving_mean),
                assign_moving_average(moving_variance, variance, decay, zero_debias=False),
            )

        def normalized():
            if fused:
                return outputs
            shaped = (lambda t: array_ops.reshape(t, broadcast)) if data_format == "NCHW" else (
                lambda t: t)  # fmt: skip
            return nn.batch_normalization(
                inputs, shaped(mean), shaped(variance), shaped(beta), shaped(gamma), epsilon
            )

        training = static_bool(is_training)
        if training is None or training:
            if updates_collections is None:

                def updated():
                    with ops.control_dependencies(list(updates())):
                        return array_ops.identity(normalized())

                result = smart_cond(is_training, updated, normalized)
            else:
                result = normalized()
                update_mean, update_variance = smart_cond(
                    is_training, updates, lambda: (moving_mean, moving_variance)
                )
                ops.add_to_collections(updates_collections, update_mean)
                ops.add_to_collections(updates_collections, update_variance)
        else:
            result = normalized()
        result.set_shape(inputs_shape)
        if original_shape.ndims == 2 and fused:
            result = array_ops.reshape(result, array_ops.shape(original_inputs))
        if activation_fn is not None:
            result = activation_fn(result)
        return _collect(outputs_collections, result)


def dropout(inputs, keep_prob=0.5, noise_shape=None, is_training=True, outputs_collections=None,
            scope=None, seed=None):  # fmt: skip
    """Dropout keeping ``keep_prob`` of the inputs while ``is_training`` (ops under
    ``Dropout/``); the identity otherwise."""
    with vs.variable_scope(scope, "Dropout", [inputs],
                           custom_getter=_layer_variable_getter) as sc:  # fmt: skip
        inputs = ops.convert_to_tensor(inputs)
        layer = core.Dropout(
            rate=1 - keep_prob, noise_shape=noise_shape, seed=seed, name=sc.name, _scope=sc
        )
        return _collect(outputs_collections, layer(inputs, training=is_training))


def layer_norm(inputs, center=True, scale=True, activation_fn=None, reuse=None,
               variables_collections=None, outputs_collections=None, trainable=True,
               begin_norm_axis=1, begin_params_axis=-1, scope=None):  # fmt: skip
    """Layer normalization over axes ``begin_norm_axis:`` with ``LayerNorm/beta`` and
    ``LayerNorm/gamma`` of shape ``inputs.shape[begin_params_axis:]``."""
    with vs.variable_scope(scope, "LayerNorm", [inputs], reuse=reuse):
        inputs = ops.convert_to_tensor(inputs)
        inputs_shape = inputs.shape
        rank = inputs_shape.ndims
        if rank is None:
            raise ValueError(f"Inputs {inputs.name} has undefined rank.")
        dtype = inputs.dtype.base_dtype
        if begin_norm_axis < 0:
            begin_norm_axis = rank + begin_norm_axis
        if begin_params_axis >= rank or begin_norm_axis >= rank:
            raise ValueError(
                f"begin_params_axis ({begin_params_axis}) and begin_norm_axis "
                f"({begin_norm_axis}) must be < rank(inputs) ({rank})"
            )
        params_shape = inputs_shape[begin_params_axis:]
        if not params_shape.is_fully_defined():
            raise ValueError(
                f"Inputs {inputs.name}: shape(inputs)[{begin_params_axis}:] is not fully "
                f"defined: {inputs_shape}"
            )
        beta = gamma = None
        if center:
            beta = _model_variable(
                "beta", params_shape, dtype, init_ops.zeros_initializer(),
                _collections_for(variables_collections, "beta"), trainable,
            )  # fmt: skip
        if scale:
            gamma = _model_variable(
                "gamma", params_shape, dtype, init_ops.ones_initializer(),
                _collections_for(variables_collections, "gamma"), trainable,
            )  # fmt: skip
        mean, variance = nn.moments(inputs, list(range(begin_norm_axis, rank)), keep_dims=True)
        epsilon = 1e-3 if dtype == dtypes.float16 else 1e-12  # float16 needs a larger one
        outputs = nn.batch_normalization(inputs, mean, variance, beta, gamma, epsilon)
        outputs.set_shape(inputs_shape)
        if activation_fn is not None:
            outputs = activation_fn(outputs)
        return _collect(outputs_collections, outputs)


def _pool(layer_class, default_name, inputs, kernel_size, stride, padding, data_format,
          outputs_collections, scope):  # fmt: skip
    if data_format not in ("NCHW", "NHWC"):
        raise ValueError("data_format has to be either NCHW or NHWC.")
    with ops.name_scope(scope, default_name, [inputs]) as sc:
        inputs = ops.convert_to_tensor(inputs)
        layer = layer_class(
            pool_size=kernel_size, strides=stride, padding=padding,
            data_format="channels_first" if data_format == "NCHW" else "channels_last",
            _scope=sc,
        )  # fmt: skip
        return _collect(outputs_collections, layer(inputs))


def max_pool2d(inputs, kernel_size, stride=2, padding="VALID", data_format="NHWC",
               outputs_collections=None, scope=None):  # fmt: skip
    """2-D max pooling (ops under ``MaxPool2D/``), stride 2 and ``VALID`` by default."""
    return _pool(pooling.MaxPooling2D, "MaxPool2D", inputs, kernel_size, stride, padding,
                 data_format, outputs_collections, scope)  # fmt: skip


def avg_pool2d(inputs, kernel_size, stride=2, padding="VALID", data_format="NHWC",
               outputs_collections=None, scope=None):  # fmt: skip
    """2-D average pooling (ops under ``AvgPool2D/``), stride 2 and ``VALID`` by default."""
    return _pool(pooling.AveragePooling2D, "AvgPool2D", inputs, kernel_size, stride, padding,
                 data_format, outputs_collections, scope)  # fmt: skip
