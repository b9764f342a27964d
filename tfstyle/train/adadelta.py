"""``tf.train.AdadeltaOptimizer`` (TF's ``ApplyAdadelta`` kernel)."""

from tfstyle.ops import training_ops as _kernels
from tfstyle.ops.training_ops import TENSOR_MATH

from .optimizer import Optimizer, cast_to, resource_apply, resource_sparse_apply


class AdadeltaOptimizer(Optimizer):
    """Adadelta as TF 1.x computes it::

        accum = accum * rho + grad**2 * (1 - rho)
        update = sqrt(accum_update + epsilon) * rsqrt(accum + epsilon) * grad
        var -= update * lr
        accum_update = accum_update * rho + update**2 * (1 - rho)

    Slots ``accum`` and ``accum_update`` (``w/Adadelta``, ``w/Adadelta_1``).
    """

    def __init__(
        self, learning_rate=0.001, rho=0.95, epsilon=1e-8, use_locking=False, name="Adadelta"
    ):
        super().__init__(use_locking, name)
        self._lr = learning_rate
        self._rho = rho
        self._epsilon = epsilon

    def _create_slots(self, var_list):
        for v in var_list:
            self._zeros_slot(v, "accum", self._name)
            self._zeros_slot(v, "accum_update", self._name)

    def _prepare(self):
        self._lr_t = self._hyper_tensor(self._lr, "lr")
        self._rho_t = self._hyper_tensor(self._rho, "rho")
        self._epsilon_t = self._hyper_tensor(self._epsilon, "epsilon")

    def _kernel(self, grad):
        dt = grad.dtype.base_dtype
        lr = cast_to(self._lr_t, dt)
        rho = cast_to(self._rho_t, dt)
        epsilon = cast_to(self._epsilon_t, dt)

        def kernel(w, accum, accum_update):
            return _kernels.adadelta(TENSOR_MATH, w, accum, accum_update, lr, rho, epsilon, grad)

        return kernel

    def _resource_apply_dense(self, grad, var):
        slots = [var, self.get_slot(var, "accum"), self.get_slot(var, "accum_update")]
        return resource_apply("ResourceApplyAdadelta", self._kernel(grad), slots)

    def _resource_apply_sparse(self, grad, var, indices):
        slots = [var, self.get_slot(var, "accum"), self.get_slot(var, "accum_update")]
        return resource_sparse_apply(
            "ResourceSparseApplyAdadelta", self._kernel(grad), slots, indices
        )
