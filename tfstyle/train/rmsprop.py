"""``tf.train.RMSPropOptimizer`` (TF's ``ApplyRMSProp`` / ``ApplyCenteredRMSProp`` kernels)."""

from tfstyle.ops import training_ops as _kernels
from tfstyle.ops.training_ops import TENSOR_MATH

from .optimizer import Optimizer, cast_to, resource_apply, resource_sparse_apply


class RMSPropOptimizer(Optimizer):
    """RMSProp as TF 1.x computes it::

        ms += (grad**2 - ms) * (1 - decay)
        mom = mom * momentum + lr * grad / sqrt(ms + epsilon)
        var -= mom

    (centered: ``mg += (grad - mg) * (1 - decay)`` and ``ms - mg**2 + epsilon`` under the
    root). Slots ``rms`` (starting at ONES, as in TF1), ``mg`` if centered, and ``momentum``:
    ``w/RMSProp``, ``w/RMSProp_1``[, ``w/RMSProp_2``] in that order.
    """

    def __init__(
        self,
        learning_rate,
        decay=0.9,
        momentum=0.0,
        epsilon=1e-10,
        use_locking=False,
        centered=False,
        name="RMSProp",
    ):
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._decay = decay
        self._momentum = momentum
        self._epsilon = epsilon
        self._centered = centered

    def _create_slots(self, var_list):
        for v in var_list:
            self._ones_slot(v, "rms", self._name)
            if self._centered:
                self._zeros_slot(v, "mg", self._name)
            self._zeros_slot(v, "momentum", self._name)

    def _prepare(self):
        self._learning_rate_tensor = self._hyper_tensor(self._learning_rate, "learning_rate")
        self._decay_tensor = self._hyper_tensor(self._decay, "decay")
        self._momentum_tensor = self._hyper_tensor(self._momentum, "momentum")
        self._epsilon_tensor = self._hyper_tensor(self._epsilon, "epsilon")

    def _apply(self, grad, var, apply, prefix):
        dt = grad.dtype.base_dtype
        lr = cast_to(self._learning_rate_tensor, dt)
        rho = cast_to(self._decay_tensor, dt)
        momentum = cast_to(self._momentum_tensor, dt)
        epsilon = cast_to(self._epsilon_tensor, dt)
        rms = self.get_slot(var, "rms")
        mom = self.get_slot(var, "momentum")
        if self._centered:

            def centered(w, mg, ms, mom):
                return _kernels.centered_rms_prop(
                    TENSOR_MATH, w, mg, ms, mom, lr, rho, momentum, epsilon, grad
                )

            mg = self.get_slot(var, "mg")
            return apply(prefix + "CenteredRMSProp", centered, [var, mg, rms, mom])

        def plain(w, ms, mom):
            return _kernels.rms_prop(TENSOR_MATH, w, ms, mom, lr, rho, momentum, epsilon, grad)

        return apply(prefix + "RMSProp", plain, [var, rms, mom])

    def _resource_apply_dense(self, grad, var):
        return self._apply(grad, var, resource_apply, "ResourceApply")

    def _resource_apply_sparse(self, grad, var, indices):
        def apply(op_type, kernel, variables):
            return resource_sparse_apply(op_type, kernel, variables, indices)

        return self._apply(grad, var, apply, "ResourceSparseApply")
