"""``tf.layers`` pooling: ``MaxPooling1D/2D/3D``, ``AveragePooling1D/2D/3D`` and functional
forms."""

from tfstyle import nn
from tfstyle.framework.tensor_shape import TensorShape
from tfstyle.ops import array_ops

from .base import InputSpec, Layer
from .convolutional import conv_output_length, normalize_padding, normalize_tuple
from .core import _normalize_data_format


class _Pooling(Layer):
    _rank = 2
    _fn = None

    def __init__(self, pool_size, strides, padding="valid", data_format="channels_last",
                 name=None, **kwargs):  # fmt: skip
        super().__init__(name=name, **kwargs)
        n = self._rank
        self.pool_size = normalize_tuple(pool_size, n, "pool_size")
        self.strides = normalize_tuple(self.pool_size if strides is None else strides, n, "strides")
        self.padding = normalize_padding(padding)
        self.data_format = _normalize_data_format(data_format)
        self.input_spec = InputSpec(ndim=n + 2)

    def _pool(self, inputs, pool_size, strides, data_format):
        pool = nn.max_pool if self._fn == "max" else nn.avg_pool
        if data_format == "channels_last":
            ksize, strides = (1, *pool_size, 1), (1, *strides, 1)
            fmt = "NHWC"
        else:
            ksize, strides = (1, 1, *pool_size), (1, 1, *strides)
            fmt = "NCHW"
        return pool(inputs, ksize=ksize, strides=strides, padding=self.padding.upper(),
                    data_format=fmt)  # fmt: skip

    def call(self, inputs):
        if self._rank == 3:
            pool = nn.max_pool3d if self._fn == "max" else nn.avg_pool3d
            first = self.data_format == "channels_first"
            # As TF's layer: 3-D pooling runs channels-last, channels_first is transposed there
            # and back.
            if first:
                inputs = array_ops.transpose(inputs, (0, 2, 3, 4, 1))
            outputs = pool(inputs, ksize=(1, *self.pool_size, 1), strides=(1, *self.strides, 1),
                           padding=self.padding.upper())  # fmt: skip
            if first:
                outputs = array_ops.transpose(outputs, (0, 4, 1, 2, 3))
            return outputs
        if self._rank == 2:
            return self._pool(inputs, self.pool_size, self.strides, self.data_format)
        axis = 2 if self.data_format == "channels_last" else 3
        x = array_ops.expand_dims(inputs, axis)
        x = self._pool(x, self.pool_size + (1,), self.strides + (1,), self.data_format)
        return array_ops.squeeze(x, [axis])

    def compute_output_shape(self, input_shape):
        dims = TensorShape(input_shape).as_list()
        first = self.data_format == "channels_first"
        spatial = dims[2:] if first else dims[1:-1]
        out = [
            conv_output_length(n, k, self.padding, s)
            for n, k, s in zip(spatial, self.pool_size, self.strides)
        ]
        if first:
            return TensorShape([dims[0], dims[1], *out])
        return TensorShape([dims[0], *out, dims[-1]])


class MaxPooling1D(_Pooling):
    """Max pooling over the steps of ``[batch, steps, channels]`` inputs."""

    _rank, _fn = 1, "max"


class AveragePooling1D(_Pooling):
    """Average pooling over the steps of ``[batch, steps, channels]`` inputs."""

    _rank, _fn = 1, "avg"


class MaxPooling2D(_Pooling):
    """Max pooling over the two spatial dimensions of 4-D inputs."""

    _rank, _fn = 2, "max"


class AveragePooling2D(_Pooling):
    """Average pooling over the two spatial dimensions of 4-D inputs."""

    _rank, _fn = 2, "avg"


class MaxPooling3D(_Pooling):
    """Max pooling over the three spatial dimensions of 5-D inputs."""

    _rank, _fn = 3, "max"


class AveragePooling3D(_Pooling):
    """Average pooling over the three spatial dimensions of 5-D inputs."""

    _rank, _fn = 3, "avg"


def _functional(cls):
    def fn(inputs, pool_size, strides, padding="valid", data_format="channels_last", name=None):
        layer = cls(pool_size=pool_size, strides=strides, padding=padding,
                    data_format=data_format, name=name)  # fmt: skip
        return layer(inputs)

    fn.__name__ = cls.__name__.lower().replace("pooling", "_pooling")
    fn.__doc__ = f"Functional form of ``{cls.__name__}``."
    return fn


max_pooling1d = _functional(MaxPooling1D)
average_pooling1d = _functional(AveragePooling1D)
max_pooling2d = _functional(MaxPooling2D)
average_pooling2d = _functional(AveragePooling2D)
max_pooling3d = _functional(MaxPooling3D)
average_pooling3d = _functional(AveragePooling3D)
