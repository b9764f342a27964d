"""``tf.train.AdamOptimizer`` (TF's ``ApplyAdam`` kernel)."""

from tfstyle.framework import ops
from tfstyle.ops import control_flow_ops, math_ops, segment_ops
from tfstyle.ops import training_ops as _kernels
from tfstyle.ops.training_ops import TENSOR_MATH

from .optimizer import Optimizer, cast_to, num_rows, resource_apply


class AdamOptimizer(Optimizer):
    """Adam as TF 1.x computes it::

        lr_t = lr * sqrt(1 - beta2_power) / (1 - beta1_power)
        m += (grad - m) * (1 - beta1);  v += (grad**2 - v) * (1 - beta2)
        var -= lr_t * m / (sqrt(v) + epsilon)

    Slots ``m`` and ``v`` (``w/Adam``, ``w/Adam_1``); the non-slot variables ``beta1_power``
    and ``beta2_power`` are multiplied by ``beta1``/``beta2`` after each update.
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta1=0.9,
        beta2=0.999,
        epsilon=1e-8,
        use_locking=False,
        name="Adam",
    ):
        super().__init__(use_locking, name)
        self._lr = learning_rate
        self._beta1 = beta1
        self._beta2 = beta2
        self._epsilon = epsilon

    def _get_beta_accumulators(self):
        graph = ops.get_default_graph()
        return (
            self._get_non_slot_variable("beta1_power", graph=graph),
            self._get_non_slot_variable("beta2_power", graph=graph),
        )

    def _create_slots(self, var_list):
        first_var = min(var_list, key=lambda x: x.name)
        self._create_non_slot_variable(self._beta1, "beta1_power", first_var)
        self._create_non_slot_variable(self._beta2, "beta2_power", first_var)
        for v in var_list:
            self._zeros_slot(v, "m", self._name)
            self._zeros_slot(v, "v", self._name)

    def _prepare(self):
        self._lr_t = self._hyper_tensor(self._lr, "learning_rate")
        self._beta1_t = self._hyper_tensor(self._beta1, "beta1")
        self._beta2_t = self._hyper_tensor(self._beta2, "beta2")
        self._epsilon_t = self._hyper_tensor(self._epsilon, "epsilon")

    def _resource_apply_dense(self, grad, var):
        dt = grad.dtype.base_dtype
        beta1_power, beta2_power = self._get_beta_accumulators()
        lr = cast_to(self._lr_t, dt)
        beta1 = cast_to(self._beta1_t, dt)
        beta2 = cast_to(self._beta2_t, dt)
        epsilon = cast_to(self._epsilon_t, dt)

        def kernel(w, m, v):
            b1p = cast_to(beta1_power.value(), dt)
            b2p = cast_to(beta2_power.value(), dt)
            return _kernels.adam(TENSOR_MATH, w, m, v, b1p, b2p, lr, beta1, beta2, epsilon, grad)

        slots = [self.get_slot(var, "m"), self.get_slot(var, "v")]
        return resource_apply("ResourceApplyAdam", kernel, [var, *slots])

    def _resource_apply_sparse(self, grad, var, indices):
        """TF's sparse Adam: ``m`` and ``v`` decay everywhere, the rows' gradients are added at
        their indices, and every row of ``var`` moves (``m / sqrt(v)`` is dense)."""
        dt = grad.dtype.base_dtype
        beta1_power, beta2_power = self._get_beta_accumulators()
        b1p = cast_to(beta1_power.value(), dt)
        b2p = cast_to(beta2_power.value(), dt)
        lr = cast_to(self._lr_t, dt) * math_ops.sqrt(1 - b2p) / (1 - b1p)
        beta1 = cast_to(self._beta1_t, dt)
        beta2 = cast_to(self._beta2_t, dt)
        epsilon = cast_to(self._epsilon_t, dt)
        # The gradient scattered into the variable's shape: repeated indices add up.
        summed = segment_ops.unsorted_segment_sum(grad, indices, num_rows(var))
        m_slot, v_slot = self.get_slot(var, "m"), self.get_slot(var, "v")
        m = m_slot.value() * beta1 + summed * (1 - beta1)
        v = v_slot.value() * beta2 + math_ops.square(summed) * (1 - beta2)
        m_t = m_slot.assign(m, read_value=False)
        v_t = v_slot.assign(v, read_value=False)
        with ops.control_dependencies([m_t, v_t]):
            var_update = var.assign_sub(lr * m / (math_ops.sqrt(v) + epsilon), read_value=False)
        return control_flow_ops.group(var_update, m_t, v_t)

    def _resource_apply_sparse_duplicate_indices(self, grad, var, indices):
        return self._resource_apply_sparse(grad, var, indices)

    def _finish(self, update_ops, name_scope):
        with ops.control_dependencies(update_ops):
            beta1_power, beta2_power = self._get_beta_accumulators()
            with ops.colocate_with(beta1_power):
                update_beta1 = beta1_power.assign(
                    beta1_power.value() * self._beta1_t, read_value=False
                )
                update_beta2 = beta2_power.assign(
                    beta2_power.value() * self._beta2_t, read_value=False
                )
        return control_flow_ops.group(*update_ops, update_beta1, update_beta2, name=name_scope)
