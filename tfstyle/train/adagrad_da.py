"""``tf.train.AdagradDAOptimizer`` (TF's ``ApplyAdagradDA``)."""

from tfstyle.framework import ops
from tfstyle.ops import array_ops
from tfstyle.ops import training_ops as _kernels
from tfstyle.ops.training_ops import TENSOR_MATH

from .optimizer import Optimizer, cast_to, resource_apply, resource_sparse_apply


class AdagradDAOptimizer(Optimizer):
    """Adagrad dual averaging: slots ``gradient_accumulator`` (``w/AdagradDA``, the sum of the
    gradients) and ``gradient_squared_accumulator`` (``w/AdagradDA_1``, starting at
    ``initial_gradient_squared_accumulator_value``); the variable is recomputed from them at
    step ``global_step + 1`` (``global_step`` read before ``minimize`` increments it)."""

    def __init__(
        self,
        learning_rate,
        global_step,
        initial_gradient_squared_accumulator_value=0.1,
        l1_regularization_strength=0.0,
        l2_regularization_strength=0.0,
        use_locking=False,
        name="AdagradDA",
    ):
        if initial_gradient_squared_accumulator_value <= 0.0:
            raise ValueError(
                "initial_gradient_squared_accumulator_value must be positive: "
                f"{initial_gradient_squared_accumulator_value}"
            )
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._initial_gradient_squared_accumulator_value = (
            initial_gradient_squared_accumulator_value
        )
        self._l1_regularization_strength = l1_regularization_strength
        self._l2_regularization_strength = l2_regularization_strength
        self._global_step = global_step
        self._global_step_on_worker = None

    def _create_slots(self, var_list):
        for v in var_list:
            self._constant_slot(v, 0.0, "gradient_accumulator", self._name)
            self._constant_slot(
                v,
                self._initial_gradient_squared_accumulator_value,
                "gradient_squared_accumulator",
                self._name,
            )

    def _prepare(self):
        self._learning_rate_tensor = self._hyper_tensor(self._learning_rate, "learning_rate")
        with ops.colocate_with(self._learning_rate_tensor):
            self._global_step_on_worker = array_ops.identity(self._global_step) + 1

    def _kernel(self, grad):
        dt = grad.dtype.base_dtype
        lr = cast_to(self._learning_rate_tensor, dt)
        l1 = cast_to(ops.convert_to_tensor(self._l1_regularization_strength), dt)
        l2 = cast_to(ops.convert_to_tensor(self._l2_regularization_strength), dt)
        # TF's kernel takes the step as an int64 and converts it to the variable's type.
        step = cast_to(array_ops.identity(self._global_step_on_worker), dt)

        def kernel(w, g_acc, gg_acc):
            return _kernels.adagrad_da(TENSOR_MATH, w, g_acc, gg_acc, grad, lr, l1, l2, step)

        return kernel

    def _slots_of(self, var):
        return [
            var,
            self.get_slot(var, "gradient_accumulator"),
            self.get_slot(var, "gradient_squared_accumulator"),
        ]

    def _resource_apply_dense(self, grad, var):
        return resource_apply("ResourceApplyAdagradDA", self._kernel(grad), self._slots_of(var))

    def _resource_apply_sparse(self, grad, var, indices):
        return resource_sparse_apply(
            "ResourceSparseApplyAdagradDA", self._kernel(grad), self._slots_of(var), indices
        )
