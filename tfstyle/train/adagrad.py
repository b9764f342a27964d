"""``tf.train.AdagradOptimizer`` (TF's ``ApplyAdagrad`` kernel)."""

from tfstyle.ops import training_ops as _kernels
from tfstyle.ops.training_ops import TENSOR_MATH

from .optimizer import Optimizer, cast_to, resource_apply, resource_sparse_apply


class AdagradOptimizer(Optimizer):
    """``accum += grad**2; var -= lr * grad / sqrt(accum)``; slot ``accumulator``
    (``w/Adagrad``) starting at ``initial_accumulator_value``."""

    def __init__(
        self, learning_rate, initial_accumulator_value=0.1, use_locking=False, name="Adagrad"
    ):
        if initial_accumulator_value <= 0.0:
            raise ValueError(
                f"initial_accumulator_value must be positive: {initial_accumulator_value}"
            )
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._initial_accumulator_value = initial_accumulator_value

    def _create_slots(self, var_list):
        for v in var_list:
            self._constant_slot(v, self._initial_accumulator_value, "accumulator", self._name)

    def _prepare(self):
        self._learning_rate_tensor = self._hyper_tensor(self._learning_rate, "learning_rate")

    def _kernel(self, grad):
        lr = cast_to(self._learning_rate_tensor, grad.dtype.base_dtype)

        def kernel(w, accum):
            return _kernels.adagrad(TENSOR_MATH, w, accum, lr, grad)

        return kernel

    def _resource_apply_dense(self, grad, var):
        slots = [var, self.get_slot(var, "accumulator")]
        return resource_apply("ResourceApplyAdagrad", self._kernel(grad), slots)

    def _resource_apply_sparse(self, grad, var, indices):
        slots = [var, self.get_slot(var, "accumulator")]
        return resource_sparse_apply(
            "ResourceSparseApplyAdagrad", self._kernel(grad), slots, indices
        )
