"""``tf.train.FtrlOptimizer`` (TF's ``ApplyFtrl`` / ``ApplyFtrlV2`` kernels)."""

from tfstyle.framework import ops
from tfstyle.ops import constant_op, math_ops
from tfstyle.ops import training_ops as _kernels
from tfstyle.ops.training_ops import TENSOR_MATH

from .optimizer import Optimizer, cast_to, resource_apply, resource_sparse_apply


class FtrlOptimizer(Optimizer):
    """FTRL-Proximal as TF 1.x computes it::

        new_accum = accum + grad**2
        linear += grad - (new_accum**-lr_power - accum**-lr_power) / lr * var
        quadratic = new_accum**-lr_power / lr + 2 * l2
        var = (l1 * sign(linear) - linear) / quadratic  if |linear| > l1  else 0

    (with ``l2_shrinkage_regularization_strength``, ``grad + 2 * l2_shrinkage * var`` feeds
    ``linear``). Slots ``accum`` (starting at ``initial_accumulator_value``) and ``linear``:
    ``w/Ftrl``, ``w/Ftrl_1``.
    """

    def __init__(
        self,
        learning_rate,
        learning_rate_power=-0.5,
        initial_accumulator_value=0.1,
        l1_regularization_strength=0.0,
        l2_regularization_strength=0.0,
        use_locking=False,
        name="Ftrl",
        accum_name=None,
        linear_name=None,
        l2_shrinkage_regularization_strength=0.0,
        beta=None,
    ):
        super().__init__(use_locking, name)
        for value, what, cmp in (
            (initial_accumulator_value, "initial_accumulator_value", "positive or zero"),
            (learning_rate_power, "learning_rate_power", "negative or zero"),
            (l1_regularization_strength, "l1_regularization_strength", "positive or zero"),
            (l2_regularization_strength, "l2_regularization_strength", "positive or zero"),
            (
                l2_shrinkage_regularization_strength,
                "l2_shrinkage_regularization_strength",
                "positive or zero",
            ),
        ):
            bad = value > 0.0 if cmp == "negative or zero" else value < 0.0
            if bad:
                raise ValueError(f"{what} {value:f} needs to be {cmp}")
        self._learning_rate = learning_rate
        self._learning_rate_power = learning_rate_power
        self._initial_accumulator_value = initial_accumulator_value
        self._l1_regularization_strength = l1_regularization_strength
        self._l2_regularization_strength = l2_regularization_strength
        self._beta = 0.0 if beta is None else beta
        self._l2_shrinkage_regularization_strength = l2_shrinkage_regularization_strength
        self._accum_name = accum_name
        self._linear_name = linear_name

    def _create_slots(self, var_list):
        for v in var_list:
            val = constant_op.constant(
                self._initial_accumulator_value, dtype=v.dtype.base_dtype, shape=v.shape
            )
            self._get_or_make_slot(v, val, "accum", self._accum_name or self._name)
            self._zeros_slot(v, "linear", self._linear_name or self._name)

    def _prepare(self):
        self._learning_rate_tensor = self._hyper_tensor(self._learning_rate, "learning_rate")
        self._l1_regularization_strength_tensor = ops.convert_to_tensor(
            self._l1_regularization_strength, name="l1_regularization_strength"
        )
        # TF folds ``beta`` into the L2 strength so that the kernel needs no extra input.
        self._adjusted_l2_regularization_strength_tensor = ops.convert_to_tensor(
            self._l2_regularization_strength
            + self._beta / (2.0 * math_ops.maximum(self._learning_rate, 1e-36)),
            name="adjusted_l2_regularization_strength",
        )
        self._l2_shrinkage_regularization_strength_tensor = ops.convert_to_tensor(
            self._l2_shrinkage_regularization_strength,
            name="l2_shrinkage_regularization_strength",
        )
        self._learning_rate_power_tensor = ops.convert_to_tensor(
            self._learning_rate_power, name="learning_rate_power"
        )

    def _kernel(self, grad):
        dt = grad.dtype.base_dtype
        lr = cast_to(self._learning_rate_tensor, dt)
        l1 = cast_to(self._l1_regularization_strength_tensor, dt)
        l2 = cast_to(self._adjusted_l2_regularization_strength_tensor, dt)
        lr_power = cast_to(self._learning_rate_power_tensor, dt)
        shrinkage = self._l2_shrinkage_regularization_strength > 0.0
        l2_shrinkage = cast_to(self._l2_shrinkage_regularization_strength_tensor, dt)
        sqrt_power = self._learning_rate_power == -0.5

        def kernel(w, accum, linear):
            shrink = l2_shrinkage if shrinkage else None
            return _kernels.ftrl_v2(
                TENSOR_MATH,
                w,
                accum,
                linear,
                grad,
                lr,
                l1,
                l2,
                shrink,
                lr_power,
                sqrt_power=sqrt_power,
            )

        return kernel

    def _op_type(self, prefix):
        return prefix + ("FtrlV2" if self._l2_shrinkage_regularization_strength > 0.0 else "Ftrl")

    def _resource_apply_dense(self, grad, var):
        slots = [var, self.get_slot(var, "accum"), self.get_slot(var, "linear")]
        return resource_apply(self._op_type("ResourceApply"), self._kernel(grad), slots)

    def _resource_apply_sparse(self, grad, var, indices):
        slots = [var, self.get_slot(var, "accum"), self.get_slot(var, "linear")]
        op_type = self._op_type("ResourceSparseApply")
        return resource_sparse_apply(op_type, self._kernel(grad), slots, indices)
