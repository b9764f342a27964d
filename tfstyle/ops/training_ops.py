"""TF's optimizer update ops (``ResourceApplyAdam``, ``ResourceSparseApplyMomentum``, ...).

Each update formula is written once, over array-like values with Python operators and a small
math namespace ``m`` (``sqrt``, ``rsqrt``, ``square``, ...): the optimizers in ``tfstyle/train``
call it with ``TENSOR_MATH`` to build the update as primitive graph ops (under a name scope
named after TF's op), and the ops registered here, which a GraphDef written by TF contains,
lower it with ``JNP_MATH`` on the values of the variables. Each formula returns the new values
of the variable and its slots, in the order of TF's resource inputs.

The ops have TF's inputs and attributes. The resource inputs (the variable and its slots) are
read and written through the plan's resource effects, so that reads and writes of the same
variables elsewhere in the run are ordered as usual. The sparse ops update the rows at
``indices``; TF's optimizers pass unique indices (duplicates are summed first), so rows are
read, updated and written back with one gather and one scatter.
"""

import types

import jax
import jax.numpy as jnp

from tfstyle.framework import ops, registry

# -- the math namespaces -----------------------------------------------------------------------


# The functions the formulas call: name -> (the tfstyle op of that name in math_ops or
# array_ops, the jnp function).
_FUNCTIONS = {
    "sqrt": ("sqrt", jnp.sqrt),
    "rsqrt": ("rsqrt", jax.lax.rsqrt),
    "square": ("square", jnp.square),
    "sign": ("sign", jnp.sign),
    "abs": ("abs", jnp.abs),
    "pow": ("pow", jnp.power),
    "greater": ("greater", jnp.greater),
    "maximum": ("maximum", jnp.maximum),
    "where": ("where_v2", jnp.where),
    "zeros_like": ("zeros_like", jnp.zeros_like),
}


class _LazyTensorMath:
    # math_ops imports this module's siblings; resolve on first use to avoid an import cycle.
    def __getattr__(self, name):
        from . import array_ops, math_ops

        op = _FUNCTIONS[name][0]
        return getattr(math_ops, op, None) or getattr(array_ops, op)


TENSOR_MATH = _LazyTensorMath()
JNP_MATH = types.SimpleNamespace(**{name: fn for name, (_, fn) in _FUNCTIONS.items()})


# -- the formulas (TF's kernels' arithmetic) ---------------------------------------------------


def gradient_descent(m, var, alpha, delta):
    return [var - delta * alpha]


def momentum(m, var, accum, lr, grad, momentum, use_nesterov=False):
    accum = accum * momentum + grad
    if use_nesterov:
        return [var - (grad * lr + accum * momentum * lr), accum]
    return [var - accum * lr, accum]


def keras_momentum(m, var, accum, lr, grad, momentum, use_nesterov=False):
    accum = accum * momentum - grad * lr
    if use_nesterov:
        return [var + (accum * momentum - grad * lr), accum]
    return [var + accum, accum]


def adam(
    m, var, mom, vel, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad, use_nesterov=False
):
    alpha = lr * m.sqrt(1 - beta2_power) / (1 - beta1_power)
    mom = mom + (grad - mom) * (1 - beta1)
    vel = vel + (m.square(grad) - vel) * (1 - beta2)
    if use_nesterov:
        step = (mom * beta1 + grad * (1 - beta1)) * alpha
    else:
        step = mom * alpha
    return [var - step / (m.sqrt(vel) + epsilon), mom, vel]


def rms_prop(m, var, ms, mom, lr, rho, momentum, epsilon, grad):
    ms = ms + (m.square(grad) - ms) * (1 - rho)
    mom = mom * momentum + (grad * lr) / m.sqrt(ms + epsilon)
    return [var - mom, ms, mom]


def centered_rms_prop(m, var, mg, ms, mom, lr, rho, momentum, epsilon, grad):
    ms = ms + (m.square(grad) - ms) * (1 - rho)
    mg = mg + (grad - mg) * (1 - rho)
    denom = (ms - m.square(mg)) + epsilon
    mom = mom * momentum + (grad * lr) * m.rsqrt(denom)
    return [var - mom, mg, ms, mom]


def adagrad(m, var, accum, lr, grad, update_slots=True):
    if update_slots:
        accum = accum + m.square(grad)
    return [var - grad * lr * m.rsqrt(accum), accum]


def adagrad_v2(m, var, accum, lr, epsilon, grad, update_slots=True):
    if update_slots:
        accum = accum + m.square(grad)
    return [var - grad * lr / (m.sqrt(accum) + epsilon), accum]


def adadelta(m, var, accum, accum_update, lr, rho, epsilon, grad):
    accum = accum * rho + m.square(grad) * (1 - rho)
    update = m.sqrt(accum_update + epsilon) * m.rsqrt(accum + epsilon) * grad
    accum_update = accum_update * rho + m.square(update) * (1 - rho)
    return [var - update * lr, accum, accum_update]


def ftrl_v2(
    m,
    var,
    accum,
    linear,
    grad,
    lr,
    l1,
    l2,
    l2_shrinkage,
    lr_power,
    multiply_linear_by_lr=False,
    sqrt_power=False,
):
    """FTRL-Proximal; ``l2_shrinkage=None`` is ``ApplyFtrl``. ``sqrt_power``: ``lr_power`` is
    known to be -0.5, so the roots are ``sqrt`` (as TF's optimizer then computes them)."""
    g_linear = grad if l2_shrinkage is None else grad + 2 * l2_shrinkage * var
    new_accum = accum + m.square(grad)
    if sqrt_power:
        root_new, root_old = m.sqrt(new_accum), m.sqrt(accum)
    else:
        root_new, root_old = m.pow(new_accum, -lr_power), m.pow(accum, -lr_power)
    if multiply_linear_by_lr:
        linear = linear + (g_linear * lr - (root_new - root_old) * var)
        x = l1 * lr * m.sign(linear) - linear
        y = root_new + 2 * l2 * lr
    else:
        linear = linear + (g_linear - (root_new - root_old) / lr * var)
        x = l1 * m.sign(linear) - linear
        y = root_new / lr + 2 * l2
    limit = l1 * lr if multiply_linear_by_lr else l1
    var = m.where(m.greater(m.abs(linear), limit), x / y, m.zeros_like(var))
    return [var, new_accum, linear]


def ftrl(m, var, accum, linear, grad, lr, l1, l2, lr_power, **kw):
    return ftrl_v2(m, var, accum, linear, grad, lr, l1, l2, None, lr_power, **kw)


def _proximal(m, prox_var, lr, l1, l2):
    """The proximal step at ``prox_var = var - lr * grad``: soft-thresholded by ``lr * l1``
    when ``l1 > 0`` (a branch of TF's kernels on the scalar), then shrunk by ``1 + lr * l2``."""
    shrunk = m.sign(prox_var) * m.maximum(m.abs(prox_var) - lr * l1, m.zeros_like(prox_var))
    thresholded = m.where(m.greater(l1, 0), shrunk, prox_var)
    return thresholded / (1 + l2 * lr)


def proximal_gradient_descent(m, var, alpha, l1, l2, delta):
    return [_proximal(m, var - delta * alpha, alpha, l1, l2)]


def proximal_adagrad(m, var, accum, lr, l1, l2, grad):
    accum = accum + m.square(grad)
    rate = lr * m.rsqrt(accum)
    return [_proximal(m, var - grad * rate, rate, l1, l2), accum]


def adagrad_da(m, var, grad_accum, grad_sq_accum, grad, lr, l1, l2, global_step):
    """Dual averaging: the variable is recomputed from the accumulated gradient ``g`` at
    ``global_step`` ``t`` as ``-lr * sign(g) * max(|g| - l1 * t, 0) / (l2 * t * lr +
    sqrt(gg))`` (``-lr * g / ...`` when ``l1 <= 0``)."""
    grad_accum = grad_accum + grad
    grad_sq_accum = grad_sq_accum + m.square(grad)
    denom = l2 * global_step * lr + m.sqrt(grad_sq_accum)
    zeros = m.zeros_like(grad_accum)
    shrunk = m.sign(grad_accum) * m.maximum(m.abs(grad_accum) - l1 * global_step, zeros)
    numer = m.where(m.greater(l1, 0), shrunk, grad_accum)
    return [-lr * numer / denom, grad_accum, grad_sq_accum]


# -- the ops -----------------------------------------------------------------------------------

# op type suffix -> (formula, number of resource inputs, boolean attrs the formula takes)
_OPS = {
    "GradientDescent": (gradient_descent, 1, ()),
    "Momentum": (momentum, 2, ("use_nesterov",)),
    "KerasMomentum": (keras_momentum, 2, ("use_nesterov",)),
    "Adam": (adam, 3, ("use_nesterov",)),
    "RMSProp": (rms_prop, 3, ()),
    "CenteredRMSProp": (centered_rms_prop, 4, ()),
    "Adagrad": (adagrad, 2, ("update_slots",)),
    "AdagradV2": (adagrad_v2, 2, ("update_slots",)),
    "Adadelta": (adadelta, 3, ()),
    "Ftrl": (ftrl, 3, ("multiply_linear_by_lr",)),
    "FtrlV2": (ftrl_v2, 3, ("multiply_linear_by_lr",)),
    "ProximalGradientDescent": (proximal_gradient_descent, 1, ()),
    "ProximalAdagrad": (proximal_adagrad, 2, ()),
    "AdagradDA": (adagrad_da, 3, ()),
}
# TF has no sparse form of these (sparse gradient descent is ResourceScatterAdd; sparse Adam
# is written with dense ops).
_DENSE_ONLY = ("GradientDescent", "Adam")


def _resource_keys(op, n):
    keys = []
    for t in op._inputs[:n]:
        handle = ops.variable_handle_op(t)
        if handle is None:
            raise ValueError(f"Op {op.name} ({op.type}) does not update a variable handle")
        keys.append(ops.variable_key(handle))
    return keys


def _effects(n):
    return lambda op: [(k, True, True) for k in dict.fromkeys(_resource_keys(op, n))]


def _dense_factory(formula, n, flags):
    def factory(op):
        keys = _resource_keys(op, n)
        kw = {f: bool(op._attrs.get(f, f == "update_slots")) for f in flags}

        def fn(ctx, *inputs):
            values = [ctx.read_variable(op, k) for k in keys]
            dt = values[0].dtype
            args = [jnp.asarray(x, dt) for x in inputs[n:]]
            for k, v in zip(keys, formula(JNP_MATH, *values, *args, **kw)):
                ctx.write_variable(op, v.astype(dt), k)

        return fn

    return factory


def _sparse_factory(formula, n, flags, indices_at):
    def factory(op):
        keys = _resource_keys(op, n)
        kw = {f: bool(op._attrs.get(f, f == "update_slots")) for f in flags}

        def fn(ctx, *inputs):
            values = [ctx.read_variable(op, k) for k in keys]
            dt = values[0].dtype
            inputs = list(inputs)
            idx = jnp.asarray(inputs.pop(indices_at))
            args = [jnp.asarray(x, dt) for x in inputs[n:]]
            rows = [v[idx] for v in values]
            for k, v, r in zip(keys, values, formula(JNP_MATH, *rows, *args, **kw)):
                ctx.write_variable(op, v.at[idx].set(r.astype(dt)), k)

        return fn

    return factory


def _register(op_type, factory, n):
    registry.register_op(op_type, lambda op: [])
    registry.lowering(op_type, uses_context=True)(factory)
    registry.get(op_type).resource_effects = _effects(n)


for _name, (_formula, _n, _flags) in _OPS.items():
    _register("ResourceApply" + _name, _dense_factory(_formula, _n, _flags), _n)
    if _name not in _DENSE_ONLY:
        # ``indices`` follows ``grad``: 5th input of Momentum, Ftrl and AdagradDA, the last of
        # the others.
        _at = 4 if _name in ("Momentum", "KerasMomentum", "Ftrl", "FtrlV2", "AdagradDA") else -1
        _register("ResourceSparseApply" + _name, _sparse_factory(_formula, _n, _flags, _at), _n)
