"""``tf.layers`` convolutions: ``Conv1D``, ``Conv2D``, ``Conv3D``, ``Conv2DTranspose``,
``Conv3DTranspose`` and their functional forms (``conv1d``, ``conv2d``, ...)."""

from tfstyle import nn
from tfstyle.framework.tensor_shape import TensorShape
from tfstyle.ops import array_ops, init_ops

from .base import InputSpec, Layer
from .core import _normalize_data_format


def normalize_tuple(value, n, name):
    """``value`` (an int or ``n`` ints) as a tuple of ``n`` ints."""
    if isinstance(value, int):
        return (value,) * n
    try:
        value = tuple(value)
    except TypeError:
        raise ValueError(
            f"The `{name}` argument must be a tuple of {n} integers. Received: {value}"
        ) from None
    if len(value) != n or not all(isinstance(v, int) for v in value):
        raise ValueError(
            f"The `{name}` argument must be a tuple of {n} integers. Received: {value}"
        )
    return value


def normalize_padding(value, allowed=("valid", "same")):
    padding = value.lower() if isinstance(value, str) else value
    if padding not in allowed:
        raise ValueError(
            "The `padding` argument must be a list/tuple or one of "
            f'"valid", "same" (or "causal", only for `Conv1D). Received: {value}'
        )
    return padding


def conv_output_length(length, k, padding, stride, dilation=1):
    if length is None:
        return None
    k = k + (k - 1) * (dilation - 1)
    if padding == "same":
        out = length
    elif padding == "valid":
        out = length - k + 1
    else:  # causal
        out = length
    return (out + stride - 1) // stride


def deconv_output_length(length, k, padding, stride, dilation=1):
    if length is None:
        return None
    k = k + (k - 1) * (dilation - 1)
    if padding == "valid":
        return length * stride + max(k - stride, 0)
    return length * stride


class _Conv(Layer):
    def __init__(
        self,
        rank,
        filters,
        kernel_size,
        strides=1,
        padding="valid",
        data_format="channels_last",
        dilation_rate=1,
        activation=None,
        use_bias=True,
        kernel_initializer=None,
        bias_initializer=init_ops.zeros_initializer(),
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        trainable=True,
        name=None,
        **kwargs,
    ):
        super().__init__(
            trainable=trainable, name=name, activity_regularizer=activity_regularizer, **kwargs
        )
        self.rank = rank
        self.filters = int(filters)
        self.kernel_size = normalize_tuple(kernel_size, rank, "kernel_size")
        self.strides = normalize_tuple(strides, rank, "strides")
        allowed = ("valid", "same", "causal") if rank == 1 else ("valid", "same")
        self.padding = normalize_padding(padding, allowed)
        self.data_format = _normalize_data_format(data_format)
        self.dilation_rate = normalize_tuple(dilation_rate, rank, "dilation_rate")
        self.activation = activation
        self.use_bias = use_bias
        self.kernel_initializer = kernel_initializer
        self.bias_initializer = bias_initializer
        self.kernel_regularizer = kernel_regularizer
        self.bias_regularizer = bias_regularizer
        self.kernel_constraint = kernel_constraint
        self.bias_constraint = bias_constraint
        self.input_spec = InputSpec(min_ndim=rank + 2)
        self.kernel = None
        self.bias = None

    @property
    def _channels_first(self):
        return self.data_format == "channels_first"

    @property
    def _tf_data_format(self):
        spatial = {1: "W", 2: "HW", 3: "DHW"}[self.rank]
        return "NC" + spatial if self._channels_first else "N" + spatial + "C"

    def _kernel_shape(self, input_dim):
        return self.kernel_size + (input_dim, self.filters)

    def build(self, input_shape):
        input_shape = TensorShape(input_shape)
        axis = 1 if self._channels_first else -1
        if input_shape.ndims is None or input_shape.as_list()[axis] is None:
            raise ValueError(
                "The channel dimension of the inputs should be defined. The input_shape "
                f"received is {input_shape}, where axis {axis} (0-based) is the channel "
                "dimension, which found to be `None`."
            )
        input_dim = int(input_shape.as_list()[axis])
        self.kernel = self.add_weight(
            "kernel",
            shape=list(self._kernel_shape(input_dim)),
            initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer,
            constraint=self.kernel_constraint,
            trainable=True,
            dtype=self._dtype,
        )
        if self.use_bias:
            self.bias = self.add_weight(
                "bias",
                shape=[self.filters],
                initializer=self.bias_initializer,
                regularizer=self.bias_regularizer,
                constraint=self.bias_constraint,
                trainable=True,
                dtype=self._dtype,
            )
        self.input_spec = InputSpec(min_ndim=self.rank + 2, axes={axis: input_dim})
        self.built = True

    def _convolve(self, inputs):
        padding = "VALID" if self.padding == "causal" else self.padding.upper()
        if self.rank == 1:
            if self.padding == "causal":
                left = self.dilation_rate[0] * (self.kernel_size[0] - 1)
                inputs = array_ops.pad(inputs, [[0, 0], [left, 0], [0, 0]])
            return nn.conv1d(
                inputs,
                self.kernel,
                stride=list(self.strides),
                padding=padding,
                data_format=self._tf_data_format,
                dilations=list(self.dilation_rate),
                name="Conv1D",
            )
        if self._channels_first:
            strides = [1, 1, *self.strides]
            dilations = [1, 1, *self.dilation_rate]
        else:
            strides = [1, *self.strides, 1]
            dilations = [1, *self.dilation_rate, 1]
        conv = nn.conv3d if self.rank == 3 else nn.conv2d
        return conv(
            inputs,
            self.kernel,
            strides=strides,
            padding=padding,
            data_format=self._tf_data_format,
            dilations=dilations,
            name=f"Conv{self.rank}D",
        )

    def call(self, inputs):
        outputs = self._convolve(inputs)
        if self.use_bias:
            if self.rank == 1 and self._channels_first:
                outputs = outputs + array_ops.reshape(self.bias, (1, self.filters, 1))
            else:
                outputs = nn.bias_add(outputs, self.bias, data_format=self._tf_data_format)
        if self.activation is not None:
            outputs = self.activation(outputs)
        return outputs

    def compute_output_shape(self, input_shape):
        dims = TensorShape(input_shape).as_list()
        spatial = dims[2:] if self._channels_first else dims[1:-1]
        out = [
            conv_output_length(n, k, self.padding, s, d)
            for n, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate)
        ]
        if self._channels_first:
            return TensorShape([dims[0], self.filters, *out])
        return TensorShape([dims[0], *out, self.filters])


_CONV_DOC = """{n}-D convolution layer: ``activation(conv(inputs, kernel) + bias)`` with
``kernel`` of shape ``kernel_size + [in_channels, filters]``."""


class Conv1D(_Conv):
    __doc__ = _CONV_DOC.format(n=1)

    def __init__(self, filters, kernel_size, strides=1, padding="valid",
                 data_format="channels_last", dilation_rate=1, **kwargs):  # fmt: skip
        super().__init__(1, filters, kernel_size, strides, padding, data_format, dilation_rate,
                         **kwargs)  # fmt: skip


class Conv2D(_Conv):
    __doc__ = _CONV_DOC.format(n=2)

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 data_format="channels_last", dilation_rate=(1, 1), **kwargs):  # fmt: skip
        super().__init__(2, filters, kernel_size, strides, padding, data_format, dilation_rate,
                         **kwargs)  # fmt: skip


class Conv3D(_Conv):
    __doc__ = _CONV_DOC.format(n=3)

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid",
                 data_format="channels_last", dilation_rate=(1, 1, 1), **kwargs):  # fmt: skip
        super().__init__(3, filters, kernel_size, strides, padding, data_format, dilation_rate,
                         **kwargs)  # fmt: skip


class _ConvTranspose:
    """The transposed convolution of ``Conv2DTranspose`` and ``Conv3DTranspose``: the output
    size per spatial dim from the input's (static where known), then
    ``conv{2,3}d_transpose``."""

    def _check_transpose(self):
        if any(d != 1 for d in self.dilation_rate):
            raise ValueError(
                f"tfstyle's conv{self.rank}d_transpose supports dilation_rate=1 only; got "
                f"{self.dilation_rate}"
            )
        self.input_spec = InputSpec(ndim=self.rank + 2)

    def _kernel_shape(self, input_dim):
        return self.kernel_size + (self.filters, input_dim)

    def build(self, input_shape):
        input_shape = TensorShape(input_shape)
        if input_shape.ndims != self.rank + 2:
            raise ValueError(
                f"Inputs should have rank {self.rank + 2}. Received input_shape={input_shape}."
            )
        super().build(input_shape)

    def _convolve(self, inputs):
        shape = array_ops.shape(inputs)
        spatial = range(2, self.rank + 2) if self._channels_first else range(1, self.rank + 1)
        dims = inputs.shape.as_list()
        out = [
            deconv_output_length(dims[a] if dims[a] is not None else shape[a], k, self.padding, s)
            for a, k, s in zip(spatial, self.kernel_size, self.strides)
        ]
        if self._channels_first:
            out_shape = (shape[0], self.filters, *out)
            strides = (1, 1, *self.strides)
        else:
            out_shape = (shape[0], *out, self.filters)
            strides = (1, *self.strides, 1)
        transpose = nn.conv3d_transpose if self.rank == 3 else nn.conv2d_transpose
        outputs = transpose(
            inputs,
            self.kernel,
            array_ops.stack(list(out_shape)),
            strides,
            padding=self.padding.upper(),
            data_format=self._tf_data_format,
        )
        outputs.set_shape(self.compute_output_shape(inputs.shape))
        return outputs

    def compute_output_shape(self, input_shape):
        dims = TensorShape(input_shape).as_list()
        spatial = dims[2:] if self._channels_first else dims[1:-1]
        out = [
            deconv_output_length(n, k, self.padding, s)
            for n, k, s in zip(spatial, self.kernel_size, self.strides)
        ]
        if self._channels_first:
            return TensorShape([dims[0], self.filters, *out])
        return TensorShape([dims[0], *out, self.filters])


class Conv3DTranspose(_ConvTranspose, Conv3D):
    """Transposed 3-D convolution (the gradient of ``conv3d``); ``kernel`` has shape
    ``kernel_size + [filters, in_channels]``."""

    def __init__(self, filters, kernel_size, strides=(1, 1, 1), padding="valid",
                 data_format="channels_last", **kwargs):  # fmt: skip
        super().__init__(filters, kernel_size, strides, padding, data_format, **kwargs)
        self._check_transpose()


class Conv2DTranspose(_ConvTranspose, Conv2D):
    """Transposed 2-D convolution (the gradient of ``conv2d``); ``kernel`` has shape
    ``kernel_size + [filters, in_channels]``."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 data_format="channels_last", dilation_rate=(1, 1), **kwargs):  # fmt: skip
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         **kwargs)  # fmt: skip
        self._check_transpose()


class SeparableConv2D(Conv2D):
    """Depthwise-separable 2-D convolution: a depthwise convolution (``depth_multiplier``
    filters per input channel) followed by a 1x1 pointwise convolution to ``filters``."""

    def __init__(self, filters, kernel_size, strides=(1, 1), padding="valid",
                 data_format="channels_last", dilation_rate=(1, 1), depth_multiplier=1,
                 activation=None, use_bias=True, depthwise_initializer=None,
                 pointwise_initializer=None, bias_initializer=init_ops.zeros_initializer(),
                 depthwise_regularizer=None, pointwise_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, trainable=True, name=None,
                 **kwargs):  # fmt: skip
        super().__init__(
            filters, kernel_size, strides, padding, data_format, dilation_rate,
            activation=activation, use_bias=use_bias, bias_initializer=bias_initializer,
            bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
            bias_constraint=bias_constraint, trainable=trainable, name=name, **kwargs,
        )  # fmt: skip
        self.depth_multiplier = depth_multiplier
        self.depthwise_initializer = depthwise_initializer
        self.pointwise_initializer = pointwise_initializer
        self.depthwise_regularizer = depthwise_regularizer
        self.pointwise_regularizer = pointwise_regularizer
        self.depthwise_constraint = depthwise_constraint
        self.pointwise_constraint = pointwise_constraint
        self.input_spec = InputSpec(ndim=4)

    def build(self, input_shape):
        input_shape = TensorShape(input_shape)
        axis = 1 if self._channels_first else -1
        dims = input_shape.as_list() if input_shape.ndims is not None else None
        if dims is None or dims[axis] is None:
            raise ValueError("The channel dimension of the inputs should be defined. Found `None`.")
        input_dim = int(dims[axis])
        self.depthwise_kernel = self.add_weight(
            "depthwise_kernel", shape=[*self.kernel_size, input_dim, self.depth_multiplier],
            initializer=self.depthwise_initializer, regularizer=self.depthwise_regularizer,
            constraint=self.depthwise_constraint, trainable=True, dtype=self._dtype,
        )  # fmt: skip
        self.pointwise_kernel = self.add_weight(
            "pointwise_kernel", shape=[1, 1, self.depth_multiplier * input_dim, self.filters],
            initializer=self.pointwise_initializer, regularizer=self.pointwise_regularizer,
            constraint=self.pointwise_constraint, trainable=True, dtype=self._dtype,
        )  # fmt: skip
        if self.use_bias:
            self.bias = self.add_weight(
                "bias", shape=[self.filters], initializer=self.bias_initializer,
                regularizer=self.bias_regularizer, constraint=self.bias_constraint,
                trainable=True, dtype=self._dtype,
            )  # fmt: skip
        self.kernel = self.depthwise_kernel
        self.input_spec = InputSpec(ndim=4, axes={axis: input_dim})
        self.built = True

    def _convolve(self, inputs):
        from tfstyle.framework import ops

        if self._channels_first:
            strides, dilations = (1, 1, *self.strides), (1, 1, *self.dilation_rate)
        else:
            strides, dilations = (1, *self.strides, 1), (1, *self.dilation_rate, 1)
        fmt = self._tf_data_format
        with ops.name_scope(None, "separable_conv2d", [inputs]) as name:
            depthwise = nn.depthwise_conv2d_native(
                inputs, self.depthwise_kernel, strides, self.padding.upper(),
                data_format=fmt, dilations=dilations, name="depthwise",
            )  # fmt: skip
            return nn.conv2d(depthwise, self.pointwise_kernel, [1, 1, 1, 1], "VALID",
                             data_format=fmt, name=name)  # fmt: skip


def separable_conv2d(inputs, filters, kernel_size, strides=(1, 1), padding="valid",
                     data_format="channels_last", dilation_rate=(1, 1), depth_multiplier=1,
                     activation=None, use_bias=True, depthwise_initializer=None,
                     pointwise_initializer=None, bias_initializer=init_ops.zeros_initializer(),
                     depthwise_regularizer=None, pointwise_regularizer=None,
                     bias_regularizer=None, activity_regularizer=None,
                     depthwise_constraint=None, pointwise_constraint=None,
                     bias_constraint=None, trainable=True, name=None, reuse=None):  # fmt: skip
    """Functional form of ``SeparableConv2D``."""
    return _functional(
        SeparableConv2D, inputs, filters, kernel_size, name, reuse, strides=strides,
        padding=padding, data_format=data_format, dilation_rate=dilation_rate,
        depth_multiplier=depth_multiplier, activation=activation, use_bias=use_bias,
        depthwise_initializer=depthwise_initializer,
        pointwise_initializer=pointwise_initializer, bias_initializer=bias_initializer,
        depthwise_regularizer=depthwise_regularizer,
        pointwise_regularizer=pointwise_regularizer, bias_regularizer=bias_regularizer,
        activity_regularizer=activity_regularizer, depthwise_constraint=depthwise_constraint,
        pointwise_constraint=pointwise_constraint, bias_constraint=bias_constraint,
        trainable=trainable,
    )  # fmt: skip


def _functional(cls, inputs, filters, kernel_size, name, reuse, **kwargs):
    layer = cls(filters, kernel_size, name=name, _scope=name, _reuse=reuse, **kwargs)
    return layer(inputs)


def conv1d(inputs, filters, kernel_size, strides=1, padding="valid",
           data_format="channels_last", dilation_rate=1, activation=None, use_bias=True,
           kernel_initializer=None, bias_initializer=init_ops.zeros_initializer(),
           kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
           kernel_constraint=None, bias_constraint=None, trainable=True, name=None,
           reuse=None):  # fmt: skip
    """Functional form of ``Conv1D``."""
    return _functional(
        Conv1D, inputs, filters, kernel_size, name, reuse, strides=strides, padding=padding,
        data_format=data_format, dilation_rate=dilation_rate, activation=activation,
        use_bias=use_bias, kernel_initializer=kernel_initializer,
        bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
        bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
        kernel_constraint=kernel_constraint, bias_constraint=bias_constraint,
        trainable=trainable,
    )  # fmt: skip


def conv2d(inputs, filters, kernel_size, strides=(1, 1), padding="valid",
           data_format="channels_last", dilation_rate=(1, 1), activation=None, use_bias=True,
           kernel_initializer=None, bias_initializer=init_ops.zeros_initializer(),
           kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
           kernel_constraint=None, bias_constraint=None, trainable=True, name=None,
           reuse=None):  # fmt: skip
    """Functional form of ``Conv2D``."""
    return _functional(
        Conv2D, inputs, filters, kernel_size, name, reuse, strides=strides, padding=padding,
        data_format=data_format, dilation_rate=dilation_rate, activation=activation,
        use_bias=use_bias, kernel_initializer=kernel_initializer,
        bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
        bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
        kernel_constraint=kernel_constraint, bias_constraint=bias_constraint,
        trainable=trainable,
    )  # fmt: skip


def conv2d_transpose(inputs, filters, kernel_size, strides=(1, 1), padding="valid",
                     data_format="channels_last", activation=None, use_bias=True,
                     kernel_initializer=None, bias_initializer=init_ops.zeros_initializer(),
                     kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                     kernel_constraint=None, bias_constraint=None, trainable=True, name=None,
                     reuse=None):  # fmt: skip
    """Functional form of ``Conv2DTranspose``."""
    return _functional(
        Conv2DTranspose, inputs, filters, kernel_size, name, reuse, strides=strides,
        padding=padding, data_format=data_format, activation=activation, use_bias=use_bias,
        kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
        kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
        activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
        bias_constraint=bias_constraint, trainable=trainable,
    )  # fmt: skip


def conv3d(inputs, filters, kernel_size, strides=(1, 1, 1), padding="valid",
           data_format="channels_last", dilation_rate=(1, 1, 1), activation=None,
           use_bias=True, kernel_initializer=None,
           bias_initializer=init_ops.zeros_initializer(), kernel_regularizer=None,
           bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
           bias_constraint=None, trainable=True, name=None, reuse=None):  # fmt: skip
    """Functional form of ``Conv3D``."""
    return _functional(
        Conv3D, inputs, filters, kernel_size, name, reuse, strides=strides, padding=padding,
        data_format=data_format, dilation_rate=dilation_rate, activation=activation,
        use_bias=use_bias, kernel_initializer=kernel_initializer,
        bias_initializer=bias_initializer, kernel_regularizer=kernel_regularizer,
        bias_regularizer=bias_regularizer, activity_regularizer=activity_regularizer,
        kernel_constraint=kernel_constraint, bias_constraint=bias_constraint,
        trainable=trainable,
    )  # fmt: skip


def conv3d_transpose(inputs, filters, kernel_size, strides=(1, 1, 1), padding="valid",
                     data_format="channels_last", activation=None, use_bias=True,
                     kernel_initializer=None, bias_initializer=init_ops.zeros_initializer(),
                     kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                     kernel_constraint=None, bias_constraint=None, trainable=True, name=None,
                     reuse=None):  # fmt: skip
    """Functional form of ``Conv3DTranspose``."""
    return _functional(
        Conv3DTranspose, inputs, filters, kernel_size, name, reuse, strides=strides,
        padding=padding, data_format=data_format, activation=activation, use_bias=use_bias,
        kernel_initializer=kernel_initializer, bias_initializer=bias_initializer,
        kernel_regularizer=kernel_regularizer, bias_regularizer=bias_regularizer,
        activity_regularizer=activity_regularizer, kernel_constraint=kernel_constraint,
        bias_constraint=bias_constraint, trainable=trainable,
    )  # fmt: skip
