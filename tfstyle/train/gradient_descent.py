"""``tf.train.GradientDescentOptimizer``."""

from tfstyle.ops import state_ops
from tfstyle.ops import training_ops as _kernels
from tfstyle.ops.training_ops import TENSOR_MATH

from .optimizer import Optimizer, cast_to, resource_apply


class GradientDescentOptimizer(Optimizer):
    """Plain gradient descent: ``var -= learning_rate * grad``."""

    def __init__(self, learning_rate, use_locking=False, name="GradientDescent"):
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._learning_rate_tensor = None

    def _prepare(self):
        self._learning_rate_tensor = self._hyper_tensor(self._learning_rate, "learning_rate")

    def _resource_apply_dense(self, grad, var):
        lr = cast_to(self._learning_rate_tensor, grad.dtype.base_dtype)
        return resource_apply(
            "ResourceApplyGradientDescent",
            lambda v: _kernels.gradient_descent(TENSOR_MATH, v, lr, grad),
            [var],
        )

    def _resource_apply_sparse_duplicate_indices(self, grad, var, indices):
        # Repeated indices need no summing: the scatter adds every row.
        lr = cast_to(self._learning_rate_tensor, grad.dtype.base_dtype)
        return state_ops.scatter_add(var, indices, -grad * lr).op

    def _resource_apply_sparse(self, grad, var, indices):
        return self._resource_apply_sparse_duplicate_indices(grad, var, indices)
