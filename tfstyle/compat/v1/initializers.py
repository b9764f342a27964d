"""``tf.initializers``: the TF1 initializer classes and the variable-initializer ops."""

# ruff: noqa: F401

from tfstyle.ops import init_ops as _init_ops
from tfstyle.ops import variables as _variables
from tfstyle.ops.init_ops import he_normal, he_uniform, lecun_normal, lecun_uniform

constant = _init_ops.Constant
glorot_normal = _init_ops.GlorotNormal
glorot_uniform = _init_ops.GlorotUniform
identity = _init_ops.Identity
ones = _init_ops.Ones
orthogonal = _init_ops.Orthogonal
random_normal = _init_ops.RandomNormal
random_uniform = _init_ops.RandomUniform
truncated_normal = _init_ops.TruncatedNormal
uniform_unit_scaling = _init_ops.UniformUnitScaling
variance_scaling = _init_ops.VarianceScaling
zeros = _init_ops.Zeros
global_variables = _variables.global_variables_initializer
local_variables = _variables.local_variables_initializer
variables = _variables.variables_initializer
