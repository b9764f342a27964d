"""``tf.linalg``: linear algebra (TF1 names)."""

# ruff: noqa: F401

from tfstyle.ops import linalg_ops as _linalg_ops
from tfstyle.ops.linalg_ops import (
    cross,
    einsum,
    eye,
    matmul,
    matrix_transpose,
    norm,
    tensordot,
    trace,
)

diag = _linalg_ops.matrix_diag
diag_part = _linalg_ops.matrix_diag_part
set_diag = _linalg_ops.matrix_set_diag
tensor_diag = _linalg_ops.diag
tensor_diag_part = _linalg_ops.diag_part
transpose = _linalg_ops.matrix_transpose
