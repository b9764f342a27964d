"""``tf.train.ProximalGradientDescentOptimizer`` (TF's ``ApplyProximalGradientDescent``)."""

from tfstyle.ops import training_ops as _kernels
from tfstyle.ops.training_ops import TENSOR_MATH

from .optimizer import Optimizer, cast_to, resource_apply, resource_sparse_apply


class ProximalOptimizer(Optimizer):
    """The learning rate and the l1/l2 strengths the proximal optimizers share, as tensors
    named as TF names them."""

    def _prepare(self):
        self._learning_rate_tensor = self._hyper_tensor(self._learning_rate, "learning_rate")
        self._l1_regularization_strength_tensor = self._hyper_tensor(
            self._l1_regularization_strength, "l1_regularization_strength"
        )
        self._l2_regularization_strength_tensor = self._hyper_tensor(
            self._l2_regularization_strength, "l2_regularization_strength"
        )

    def _rates(self, dtype):
        """``(lr, l1, l2)`` in ``dtype``."""
        return tuple(
            cast_to(t, dtype)
            for t in (
                self._learning_rate_tensor,
                self._l1_regularization_strength_tensor,
                self._l2_regularization_strength_tensor,
            )
        )


class ProximalGradientDescentOptimizer(ProximalOptimizer):
    """``prox = var - lr * grad``; ``var = sign(prox) * max(|prox| - lr * l1, 0) / (1 + lr *
    l2)`` (FOBOS). No slots."""

    def __init__(
        self,
        learning_rate,
        l1_regularization_strength=0.0,
        l2_regularization_strength=0.0,
        use_locking=False,
        name="ProximalGradientDescent",
    ):
        super().__init__(use_locking, name)
        self._learning_rate = learning_rate
        self._l1_regularization_strength = l1_regularization_strength
        self._l2_regularization_strength = l2_regularization_strength

    def _kernel(self, grad):
        lr, l1, l2 = self._rates(grad.dtype.base_dtype)

        def kernel(w):
            return _kernels.proximal_gradient_descent(TENSOR_MATH, w, lr, l1, l2, grad)

        return kernel

    def _resource_apply_dense(self, grad, var):
        return resource_apply("ResourceApplyProximalGradientDescent", self._kernel(grad), [var])

    def _resource_apply_sparse(self, grad, var, indices):
        return resource_sparse_apply(
            "ResourceSparseApplyProximalGradientDescent", self._kernel(grad), [var], indices
        )
