"""``tf.train.MomentumOptimizer`` (TF's ``ApplyMomentum`` kernel)."""

from tfstyle.framework import ops
from tfstyle.ops import training_ops as _kernels
from tfstyle.ops.training_ops import TENSOR_MATH

from .optimizer import Optimizer, cast_to, resource_apply, resource_sparse_apply


class MomentumOptimizer(Optimizer):
    """``accum = accum * momentum + grad; var -= lr * accum`` (Nesterov:
    ``var -= lr * grad + lr * momentum * accum``). Slot ``momentum`` (``w/Momentum``)."""

    def __init__(
        self, learning_rate, momentum, use_locking=False, name="Momentum", use_nesterov=False
    ):
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._momentum = momentum
        self._use_nesterov = use_nesterov

    def _create_slots(self, var_list):
        for v in var_list:
            self._zeros_slot(v, "momentum", self._name)

    def _prepare(self):
        lr = self._call_if_callable(self._learning_rate)
        momentum = self._call_if_callable(self._momentum)
        self._learning_rate_tensor = ops.convert_to_tensor(lr, name="learning_rate")
        self._momentum_tensor = ops.convert_to_tensor(momentum, name="momentum")

    def _kernel(self, grad):
        dt = grad.dtype.base_dtype
        lr = cast_to(self._learning_rate_tensor, dt)
        momentum = cast_to(self._momentum_tensor, dt)
        nesterov = self._use_nesterov

        def kernel(v, accum):
            return _kernels.momentum(TENSOR_MATH, v, accum, lr, grad, momentum, nesterov)

        return kernel

    def _resource_apply_dense(self, grad, var):
        return resource_apply(
            "ResourceApplyMomentum", self._kernel(grad), [var, self.get_slot(var, "momentum")]
        )

    def _resource_apply_sparse(self, grad, var, indices):
        slots = [var, self.get_slot(var, "momentum")]
        return resource_sparse_apply(
            "ResourceSparseApplyMomentum", self._kernel(grad), slots, indices
        )
