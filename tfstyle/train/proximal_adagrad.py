"""``tf.train.ProximalAdagradOptimizer`` (TF's ``ApplyProximalAdagrad``)."""

from tfstyle.ops import training_ops as _kernels
from tfstyle.ops.training_ops import TENSOR_MATH

from .optimizer import resource_apply, resource_sparse_apply
from .proximal_gradient_descent import ProximalOptimizer


class ProximalAdagradOptimizer(ProximalOptimizer):
    """``accum += grad**2``, then the proximal step of ``ProximalGradientDescentOptimizer``
    with the rate ``lr / sqrt(accum)``. Slot ``accumulator`` (``w/ProximalAdagrad``) starting
    at ``initial_accumulator_value``."""

    def __init__(
        self,
        learning_rate,
        initial_accumulator_value=0.1,
        l1_regularization_strength=0.0,
        l2_regularization_strength=0.0,
        use_locking=False,
        name="ProximalAdagrad",
    ):
        if initial_accumulator_value <= 0.0:
            raise ValueError(
                f"initial_accumulator_value must be positive: {initial_accumulator_value}"
            )
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._initial_accumulator_value = initial_accumulator_value
        self._l1_regularization_strength = l1_regularization_strength
        self._l2_regularization_strength = l2_regularization_strength

    def _create_slots(self, var_list):
        for v in var_list:
            self._constant_slot(v, self._initial_accumulator_value, "accumulator", self._name)

    def _kernel(self, grad):
        lr, l1, l2 = self._rates(grad.dtype.base_dtype)

        def kernel(w, accum):
            return _kernels.proximal_adagrad(TENSOR_MATH, w, accum, lr, l1, l2, grad)

        return kernel

    def _resource_apply_dense(self, grad, var):
        slots = [var, self.get_slot(var, "accumulator")]
        return resource_apply("ResourceApplyProximalAdagrad", self._kernel(grad), slots)

    def _resource_apply_sparse(self, grad, var, indices):
        slots = [var, self.get_slot(var, "accumulator")]
        return resource_sparse_apply(
            "ResourceSparseApplyProximalAdagrad", self._kernel(grad), slots, indices
        )
