"""``tf.layers.BatchNormalization`` and ``batch_normalization``.

In training the batch statistics normalise the inputs, and two ops that move
``moving_mean``/``moving_variance`` towards them (``AssignMovingAvg``, ``AssignMovingAvg_1``)
are added to the ``UPDATE_OPS`` collection: they run only when fetched (or made a control
dependency of the train op), as in TF. With ``training`` a bool tensor, the statistics are
chosen by a ``cond`` and the updates move the averages only when it is true.
"""

import functools

from tfstyle import nn
from tfstyle.framework import dtypes, ops
from tfstyle.framework.tensor_shape import TensorShape
from tfstyle.ops import array_ops, init_ops

from .base import InputSpec, Layer, smart_cond, static_bool


class BatchNormalization(Layer):
    """Batch normalisation over ``axis`` with learned ``gamma``/``beta`` and moving
    statistics; ``training`` chooses batch or moving statistics."""

    def __init__(
        self,
        axis=-1,
        momentum=0.99,
        epsilon=1e-3,
        center=True,
        scale=True,
        beta_initializer=init_ops.zeros_initializer(),
        gamma_initializer=init_ops.ones_initializer(),
        moving_mean_initializer=init_ops.zeros_initializer(),
        moving_variance_initializer=init_ops.ones_initializer(),
        beta_regularizer=None,
        gamma_regularizer=None,
        beta_constraint=None,
        gamma_constraint=None,
        renorm=False,
        renorm_clipping=None,
        renorm_momentum=0.99,
        fused=None,
        trainable=True,
        virtual_batch_size=None,
        adjustment=None,
        name=None,
        **kwargs,
    ):
        super().__init__(name=name, trainable=trainable, **kwargs)
        if renorm or virtual_batch_size is not None or adjustment is not None:
            raise ValueError(
                "tfstyle's batch normalization does not support renorm, virtual_batch_size "
                "or adjustment."
            )
        self.axis = list(axis) if isinstance(axis, (list, tuple)) else axis
        self.momentum = momentum
        self.epsilon = epsilon
        self.center = center
        self.scale = scale
        self.beta_initializer = beta_initializer
        self.gamma_initializer = gamma_initializer
        self.moving_mean_initializer = moving_mean_initializer
        self.moving_variance_initializer = moving_variance_initializer
        self.beta_regularizer = beta_regularizer
        self.gamma_regularizer = gamma_regularizer
        self.beta_constraint = beta_constraint
        self.gamma_constraint = gamma_constraint
        self.renorm = renorm
        self.fused = fused
        self.gamma = None
        self.beta = None

    def build(self, input_shape):
        input_shape = TensorShape(input_shape)
        ndims = input_shape.ndims
        if ndims is None:
            raise ValueError(f"Input has undefined rank. Received: input_shape={input_shape}.")
        axes = self.axis if isinstance(self.axis, list) else [self.axis]
        for i, a in enumerate(axes):
            if a < 0:
                axes[i] = ndims + a
        for a in axes:
            if a < 0 or a >= ndims:
                raise ValueError(f"Invalid axis: {a}")
        if len(axes) != len(set(axes)):
            raise ValueError(f"Duplicate axis: {tuple(axes)}")
        self.axis = axes
        dims = input_shape.as_list()
        axis_to_dim = {a: dims[a] for a in axes}
        for d in axis_to_dim.values():
            if d is None:
                raise ValueError(
                    "Input has undefined `axis` dimension. Received input with shape "
                    f"{tuple(dims)} and axis={tuple(axes)}"
                )
        self.input_spec = InputSpec(ndim=ndims, axes=axis_to_dim)
        if self.fused in (None, True):
            self.fused = ndims == 4 and axes in ([1], [3])
        if self.fused:
            self._data_format = "NCHW" if axes == [1] else "NHWC"
        if len(axes) == 1:
            param_shape = [axis_to_dim[axes[0]]]
        else:
            param_shape = [axis_to_dim.get(i, 1) for i in range(ndims)]
        dtype = self._dtype
        if dtype in (dtypes.float16, dtypes.bfloat16):
            dtype = dtypes.float32
        self._param_dtype = dtype or dtypes.float32
        if self.scale:
            self.gamma = self.add_weight(
                "gamma", shape=param_shape, dtype=self._param_dtype,
                initializer=self.gamma_initializer, regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint, trainable=True,
            )  # fmt: skip
        if self.center:
            self.beta = self.add_weight(
                "beta", shape=param_shape, dtype=self._param_dtype,
                initializer=self.beta_initializer, regularizer=self.beta_regularizer,
                constraint=self.beta_constraint, trainable=True,
            )  # fmt: skip
        self.moving_mean = self.add_weight(
            "moving_mean", shape=param_shape, dtype=self._param_dtype,
            initializer=self.moving_mean_initializer, trainable=False,
        )  # fmt: skip
        self.moving_variance = self.add_weight(
            "moving_variance", shape=param_shape, dtype=self._param_dtype,
            initializer=self.moving_variance_initializer, trainable=False,
        )  # fmt: skip
        self.built = True

    def _assign_moving_average(self, variable, value, momentum):
        with ops.name_scope("AssignMovingAvg"):
            decay = ops.convert_to_tensor(1.0 - momentum, name="decay")
            if decay.dtype != variable.dtype.base_dtype:
                decay = array_ops.cast(decay, variable.dtype.base_dtype)
            delta = (variable - array_ops.cast(value, variable.dtype)) * decay
            return variable.assign_sub(delta)

    def _do_update(self, var, value):
        return self._assign_moving_average(var, value, self.momentum)

    def _momentum(self, training):
        # With a training tensor, a momentum of 1 makes the update a no-op when it is false.
        if static_bool(training) is None:
            return smart_cond(
                training,
                lambda: ops.convert_to_tensor(float(self.momentum)),
                lambda: ops.convert_to_tensor(1.0),
            )
        return self.momentum

    def _fused_batch_norm(self, inputs, training):
        from tfstyle.ops.constant_op import constant

        gamma = self.gamma if self.scale else constant(1.0, shape=self.moving_mean.shape.as_list())
        beta = self.beta if self.center else constant(0.0, shape=self.moving_mean.shape.as_list())

        def train():
            return nn.fused_batch_norm(
                inputs, gamma, beta, mean=self.moving_mean, variance=self.moving_variance,
                epsilon=self.epsilon, is_training=True, data_format=self._data_format,
            )  # fmt: skip

        def infer():
            return nn.fused_batch_norm(
                inputs, gamma, beta, mean=self.moving_mean, variance=self.moving_variance,
                epsilon=self.epsilon, is_training=False, data_format=self._data_format,
            )  # fmt: skip

        output, mean, variance = smart_cond(training, train, infer)
        # The moving variance follows FusedBatchNormV3's unbiased batch variance, as in TF.
        value = static_bool(training)
        if value or value is None:
            if value is None:
                momentum = self._momentum(training)
            else:
                momentum = ops.convert_to_tensor(float(self.momentum))
            self.add_update(self._assign_moving_average(self.moving_mean, mean, momentum))
            self.add_update(self._assign_moving_average(self.moving_variance, variance, momentum))
        return output

    def call(self, inputs, training=False):
        if self.fused:
            return self._fused_batch_norm(inputs, training)
        input_shape = inputs.shape
        ndims = input_shape.ndims
        reduction_axes = [i for i in range(ndims) if i not in self.axis]
        broadcast_shape = [1] * ndims
        broadcast_shape[self.axis[0]] = input_shape.as_list()[self.axis[0]]

        def _broadcast(v):
            if (
                v is not None
                and v.shape.ndims != ndims
                and reduction_axes != list(range(ndims - 1))
            ):
                return array_ops.reshape(v, broadcast_shape)
            return v

        scale, offset = _broadcast(self.gamma), _broadcast(self.beta)
        value = static_bool(training)
        if value is False:
            mean, variance = self.moving_mean, self.moving_variance
        else:
            batch_mean, batch_var = nn.moments(
                array_ops.cast(inputs, self._param_dtype), reduction_axes,
                keep_dims=len(self.axis) > 1,
            )  # fmt: skip
            mean = smart_cond(
                training, lambda: batch_mean, lambda: ops.convert_to_tensor(self.moving_mean)
            )
            variance = smart_cond(
                training, lambda: batch_var, lambda: ops.convert_to_tensor(self.moving_variance)
            )
            for var, stat in ((self.moving_mean, mean), (self.moving_variance, variance)):
                self.add_update(
                    smart_cond(
                        training,
                        functools.partial(self._do_update, var, stat),
                        lambda var=var: var,
                    )
                )
        mean = array_ops.cast(mean, inputs.dtype)
        variance = array_ops.cast(variance, inputs.dtype)
        if offset is not None:
            offset = array_ops.cast(offset, inputs.dtype)
        if scale is not None:
            scale = array_ops.cast(scale, inputs.dtype)
        outputs = nn.batch_normalization(
            inputs, _broadcast(mean), _broadcast(variance), offset, scale, self.epsilon
        )
        outputs.set_shape(input_shape)
        return outputs

    def compute_output_shape(self, input_shape):
        return TensorShape(input_shape)


def batch_normalization(
    inputs,
    axis=-1,
    momentum=0.99,
    epsilon=1e-3,
    center=True,
    scale=True,
    beta_initializer=init_ops.zeros_initializer(),
    gamma_initializer=init_ops.ones_initializer(),
    moving_mean_initializer=init_ops.zeros_initializer(),
    moving_variance_initializer=init_ops.ones_initializer(),
    beta_regularizer=None,
    gamma_regularizer=None,
    beta_constraint=None,
    gamma_constraint=None,
    training=False,
    trainable=True,
    name=None,
    reuse=None,
    renorm=False,
    renorm_clipping=None,
    renorm_momentum=0.99,
    fused=None,
    virtual_batch_size=None,
    adjustment=None,
):
    """Functional form of ``BatchNormalization``; remember to run the ``UPDATE_OPS``."""
    layer = BatchNormalization(
        axis=axis, momentum=momentum, epsilon=epsilon, center=center, scale=scale,
        beta_initializer=beta_initializer, gamma_initializer=gamma_initializer,
        moving_mean_initializer=moving_mean_initializer,
        moving_variance_initializer=moving_variance_initializer,
        beta_regularizer=beta_regularizer, gamma_regularizer=gamma_regularizer,
        beta_constraint=beta_constraint, gamma_constraint=gamma_constraint, renorm=renorm,
        renorm_clipping=renorm_clipping, renorm_momentum=renorm_momentum, fused=fused,
        trainable=trainable, virtual_batch_size=virtual_batch_size, adjustment=adjustment,
        name=name, _reuse=reuse, _scope=name,
    )  # fmt: skip
    return layer(inputs, training=training)
