"""Linear algebra: ``matmul`` (ops ``MatMul`` and, for batches, ``BatchMatMulV2``),
``tensordot``, ``einsum`` (op ``Einsum``), ``trace``, ``eye``, the diagonal ops
(``Diag``, ``DiagPart``, ``MatrixDiagV3``, ``MatrixDiagPartV3``, ``MatrixSetDiagV3``),
``matrix_transpose``, ``norm`` and ``cross``."""

import jax.numpy as jnp
import numpy as np

from tfstyle.framework import dtypes, ops

from . import _base
from . import math_ops as _m
from . import reduction_ops as _r

_MATMUL_TYPES = (
    "bfloat16 float16 float32 float64 int32 int64 uint8 uint16 uint32 uint64 complex64 complex128"
)
_m.allow("MatMul", _MATMUL_TYPES)
_m.allow("BatchMatMulV2", _MATMUL_TYPES.replace("int32", "int16 int32"))
_m.allow("Conj", "complex64 complex128 variant")
_m.allow(
    "Cross", "float32 float64 int32 uint8 int16 int8 int64 bfloat16 uint16 float16 uint32 uint64"
)
_m.allow("Diag", "bfloat16 float16 float32 float64 int32 int64 complex64 complex128")
_m.allow("DiagPart", "bfloat16 float16 float32 float64 int32 int64 complex64 complex128")


def _dims(t):
    return _base.dims(t)


def _rank_error(op, rank, at_least=False):
    def check(d):
        if d is not None and (len(d) < rank if at_least else len(d) != rank):
            qual = "at least " if at_least else ""
            raise _m.node_error(op, f"Shape must be {qual}rank {rank} but is rank {len(d)}")

    return check


def _merge_dim(op, a, b):
    if a is not None and b is not None and a != b:
        raise _m.node_error(op, f"Dimensions must be equal, but are {a} and {b}")
    return a if a is not None else b


# -- MatMul, BatchMatMulV2 ------------------------------------------------------------------------
def _matmul_infer(op):
    a, b = (_dims(t) for t in op._inputs)
    check = _rank_error(op, 2)
    check(a)
    check(b)
    ta, tb = op._attrs["transpose_a"], op._attrs["transpose_b"]
    a = a or (None, None)
    b = b or (None, None)
    _merge_dim(op, a[0] if ta else a[1], b[1] if tb else b[0])
    return [(op._inputs[0].dtype, (a[1] if ta else a[0], b[0] if tb else b[1]))]


def _batch_matmul_infer(op):
    a, b = (_dims(t) for t in op._inputs)
    check = _rank_error(op, 2, at_least=True)
    check(a)
    check(b)
    dtype = op._inputs[0].dtype
    ax, ay = op._attrs["adj_x"], op._attrs["adj_y"]
    if a is not None and b is not None:
        _merge_dim(op, a[-2] if ax else a[-1], b[-1] if ay else b[-2])
    if a is None or b is None:
        return [(dtype, None)]
    try:
        batch = _base.broadcast_dims(a[:-2], b[:-2])
    except ValueError as e:
        raise _m.node_error(op, str(e).split(" for shapes")[0]) from None
    return [(dtype, batch + (a[-1] if ax else a[-2], b[-2] if ay else b[-1]))]


def _mt(x, conj=False):
    x = jnp.swapaxes(x, -1, -2)
    return jnp.conj(x) if conj else x


def _matmul_lower(op):
    ta, tb = op._attrs["transpose_a"], op._attrs["transpose_b"]
    dt = op._outputs[0].dtype.as_numpy_dtype

    def fn(a, b):
        return jnp.matmul(_mt(a) if ta else a, _mt(b) if tb else b).astype(dt)

    return fn


def _batch_matmul_lower(op):
    ax, ay = op._attrs["adj_x"], op._attrs["adj_y"]
    dt = op._outputs[0].dtype.as_numpy_dtype

    def fn(a, b):
        return jnp.matmul(_mt(a, True) if ax else a, _mt(b, True) if ay else b).astype(dt)

    return fn


_base.register_simple("MatMul", _matmul_infer, _matmul_lower)
_base.register_simple("BatchMatMulV2", _batch_matmul_infer, _batch_matmul_lower)
_base.register_simple("Conj", _base.same_as_input, lambda op: jnp.conj)


def conj(x, name=None):
    """The complex conjugate; real tensors are returned unchanged."""
    with ops.name_scope(name, "Conj", [x]) as scope:
        x = _base.to_tensor(x, name="x")
        if not x.dtype.is_complex:
            return x
        return _base.output("Conj", [x], {"T": x.dtype}, name=scope)


def matmul(
    a,
    b,
    transpose_a=False,
    transpose_b=False,
    adjoint_a=False,
    adjoint_b=False,
    a_is_sparse=False,
    b_is_sparse=False,
    output_type=None,
    grad_a=False,
    grad_b=False,
    name=None,
):
    """The matrix product ``a @ b`` (each optionally transposed or adjoined); inputs of rank
    above 2 (or unknown rank) are batches of matrices with broadcast batch dimensions."""
    with ops.name_scope(name, "MatMul", [a, b]) as scope:
        if transpose_a and adjoint_a:
            raise ValueError(
                "Only one of `transpose_a` and `adjoint_a` can be True. Received "
                f"`transpose_a`={transpose_a}, `adjoint_a`={adjoint_a}."
            )
        if transpose_b and adjoint_b:
            raise ValueError(
                "Only one of `transpose_b` and `adjoint_b` can be True. Received "
                f"`transpose_b`={transpose_b}, `adjoint_b`={adjoint_b}."
            )
        a = _base.to_tensor(a, name="a")
        if not _m._is_tensor_like(b):
            b = _base.to_tensor(b, preferred_dtype=a.dtype, name="b")
        ra, rb = a.shape.ndims, ops.convert_to_tensor(b).shape.ndims
        batched = ra is None or ra > 2 or rb is None or rb > 2
        if batched:
            if transpose_a:
                a, adjoint_a = conj(a), True
            if transpose_b:
                b, adjoint_b = conj(b), True
            a, b = _m.gen_inputs("BatchMatMulV2", [a, b], ("x", "y"))
            attrs = {"T": a.dtype, "adj_x": adjoint_a, "adj_y": adjoint_b}
            attrs.update(grad_x=grad_a, grad_y=grad_b)
            return _base.output("BatchMatMulV2", [a, b], attrs, name=scope)
        if adjoint_a:
            a, transpose_a = conj(a), True
        if adjoint_b:
            b, transpose_b = conj(b), True
        a, b = _m.gen_inputs("MatMul", [a, b], ("a", "b"))
        attrs = {"T": a.dtype, "transpose_a": transpose_a, "transpose_b": transpose_b}
        attrs.update(grad_a=grad_a, grad_b=grad_b)
        return _base.output("MatMul", [a, b], attrs, name=scope)


# -- tensordot --------------------------------------------------------------------------------------
def _tensordot_axes(a, axes):
    rank = a.shape.ndims
    if isinstance(axes, (int, np.integer)):
        if axes < 0:
            raise ValueError(f"`axes` must be at least 0. Received: {axes}.")
        if rank is None:
            raise ValueError("tfstyle's tensordot needs the rank of `a` to be known.")
        if axes > rank:
            raise ValueError(
                f"`axes` must not be larger than the number of dimensions of tensor {a}.  "
                f"Received {axes}, vs tensor dimensions {rank}."
            )
        return list(range(rank - axes, rank)), list(range(axes))
    if isinstance(axes, (list, tuple)):
        if len(axes) != 2:
            raise ValueError(f"`axes` must be an integer or have length 2. Received {axes}.")
        a_axes, b_axes = axes
        if isinstance(a_axes, (int, np.integer)) and isinstance(b_axes, (int, np.integer)):
            a_axes, b_axes = [a_axes], [b_axes]
        a_axes, b_axes = [int(v) for v in a_axes], [int(v) for v in b_axes]
        if len(a_axes) != len(b_axes):
            raise ValueError(
                f"Different number of contraction axes `a` and `b`, {len(a_axes)} != {len(b_axes)}."
            )
        return a_axes, b_axes
    value = _base.constant_value(ops.convert_to_tensor(axes))
    if value is None:
        raise TypeError("tfstyle's tensordot needs `axes` known when the graph is built.")
    return _tensordot_axes(a, [list(np.reshape(value[0], [-1])), list(np.reshape(value[1], [-1]))])


def _tensordot_reshape(a, axes, flipped):
    from .array_ops import reshape, transpose

    shape = a.shape.as_list()
    axes = [i if i >= 0 else i + len(shape) for i in axes]
    free = [i for i in range(len(shape)) if i not in axes]
    free_dims = [shape[i] for i in free]
    prod_free = int(np.prod(free_dims))
    prod_axes = int(np.prod([shape[i] for i in axes]))
    perm = axes + free if flipped else free + axes
    new_shape = [prod_axes, prod_free] if flipped else [prod_free, prod_axes]
    if perm != list(range(len(shape))):
        a = transpose(a, perm)
    if a.shape.as_list() != new_shape:
        a = reshape(a, new_shape)
    return a, free_dims


def tensordot(a, b, axes, name=None):
    """Sums the products of ``a`` and ``b`` over ``axes`` (an int: the last ``axes`` of ``a``
    with the first of ``b``; or a pair of axis lists)."""
    from .array_ops import reshape

    with ops.name_scope(name, "Tensordot", [a, b, axes]) as scope:
        a = _base.to_tensor(a, name="a")
        b = _base.to_tensor(b, name="b")
        a_axes, b_axes = _tensordot_axes(a, axes)
        if a.shape.is_fully_defined() and b.shape.is_fully_defined():
            a2, a_free = _tensordot_reshape(a, a_axes, False)
            b2, b_free = _tensordot_reshape(b, b_axes, True)
            product = matmul(a2, b2)
            if product.shape.as_list() == a_free + b_free:
                return product
            return reshape(product, a_free + b_free, name=scope)
        # Unknown dimensions: one Einsum op gives the same values and static shape (TF builds
        # the reshapes from the dynamic shape instead).
        if a.shape.ndims is None or b.shape.ndims is None:
            raise ValueError("tfstyle's tensordot needs the ranks of `a` and `b` to be known.")
        letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
        ra, rb = a.shape.ndims, b.shape.ndims
        sa = [next(letters) for _ in range(ra)]
        sb = [next(letters) for _ in range(rb)]
        for i, j in zip(a_axes, b_axes):
            sb[j % rb] = sa[i % ra]
        contracted = {sa[i % ra] for i in a_axes}
        out = [c for c in sa if c not in contracted] + [c for c in sb if c not in contracted]
        equation = f"{''.join(sa)},{''.join(sb)}->{''.join(out)}"
        return _einsum_op(equation, [a, b], scope)


# -- Einsum ---------------------------------------------------------------------------------------
def _parse_einsum(equation, n):
    equation = equation.replace(" ", "")
    if "->" in equation:
        lhs, rhs = equation.split("->")
    else:
        lhs = equation
        counts = {}
        for c in lhs.replace(",", "").replace("...", ""):
            counts[c] = counts.get(c, 0) + 1
        rhs = ("..." if "..." in lhs else "") + "".join(
            sorted(c for c, k in counts.items() if k == 1)
        )
    terms = lhs.split(",")
    if len(terms) != n:
        raise ValueError(
            f"Expecting {len(terms)} inputs, but got {n} for the einsum equation '{equation}'."
        )
    return terms, rhs


def _einsum_infer(op):
    terms, rhs = _parse_einsum(op._attrs["equation"], len(op._inputs))
    sizes, ellipses = {}, []
    for term, t in zip(terms, op._inputs):
        d = _dims(t)
        if d is None:
            return [(t.dtype, None)]
        labels = term.replace("...", "")
        n_ell = len(d) - len(labels)
        if ("..." not in term and n_ell) or n_ell < 0:
            raise _m.node_error(op, f"Expected input to have rank {len(labels)} but got: {len(d)}")
        before = term.index("...") if "..." in term else len(labels)
        ellipses.append(d[before : before + n_ell])
        for c, v in zip(labels, d[:before] + d[before + n_ell :]):
            sizes[c] = _merge_dim(op, sizes.get(c), v) if c in sizes else v
    ell = ()
    for e in ellipses:
        ell = _base.broadcast_dims(ell, e)
    if "..." in rhs:
        pre, post = rhs.split("...")
        out = [sizes[c] for c in pre] + list(ell) + [sizes[c] for c in post]
    else:
        out = [sizes[c] for c in rhs]
    return [(op._inputs[0].dtype, tuple(out))]


def _einsum_lower(op):
    equation = op._attrs["equation"]
    dt = op._outputs[0].dtype.as_numpy_dtype

    def fn(*xs):
        return jnp.einsum(equation, *xs).astype(dt)

    return fn


_base.register_simple("Einsum", _einsum_infer, _einsum_lower)


def _einsum_op(equation, inputs, name):
    inputs = [_base.to_tensor(x) for x in inputs]
    if len({t.dtype for t in inputs}) > 1:
        raise TypeError(
            "Tensors in list passed to 'inputs' of 'Einsum' Op have types "
            f"[{', '.join(t.dtype.name for t in inputs)}] that don't all match."
        )
    attrs = {"N": len(inputs), "T": inputs[0].dtype, "equation": equation}
    return _base.output("Einsum", inputs, attrs, name=name)


def einsum(equation, *inputs, **kwargs):
    """Einstein summation over ``inputs`` as ``equation`` (``"ij,jk->ik"``) says."""
    name = kwargs.pop("name", None)
    if kwargs:
        raise TypeError(f"Invalid keyword arguments for this function: {', '.join(kwargs)}.")
    with ops.name_scope(name, "einsum", inputs):
        return _einsum_op(equation, list(inputs), None)


# -- diagonals -----------------------------------------------------------------------------------
def _diag_infer(op):
    d = _dims(op._inputs[0])
    return [(op._inputs[0].dtype, None if d is None else d + d)]


def _diag_part_infer(op):
    d = _dims(op._inputs[0])
    if d is None:
        return [(op._inputs[0].dtype, None)]
    if len(d) % 2:
        raise _m.node_error(op, f"Input must have even rank <= 6, input rank is {len(d)}")
    h = len(d) // 2
    return [(op._inputs[0].dtype, tuple(_merge_dim(op, x, y) for x, y in zip(d[:h], d[h:])))]


def _diag_lower(op):
    def fn(x):
        n = int(np.prod(x.shape))
        return (jnp.diag(jnp.reshape(x, [-1])) if n else jnp.zeros((0, 0), x.dtype)).reshape(
            x.shape + x.shape
        )

    return fn


def _diag_part_lower(op):
    def fn(x):
        h = x.ndim // 2
        n = int(np.prod(x.shape[:h]))
        return jnp.diagonal(jnp.reshape(x, (n, n))).reshape(x.shape[:h])

    return fn


_base.register_simple("Diag", _diag_infer, _diag_lower)
_base.register_simple("DiagPart", _diag_part_infer, _diag_part_lower)


def _static_scalar(t, what):
    v = _base.constant_value(t)
    if v is None:
        return None
    v = np.reshape(v, [-1])
    if v.size != 1:
        raise ValueError(f"tfstyle supports a single diagonal: {what} must be one integer.")
    return int(v[0])


def _matrix_diag_size(op):
    d = _dims(op._inputs[0])
    k = _static_scalar(op._inputs[1], "k")
    rows = _static_scalar(op._inputs[2], "num_rows")
    cols = _static_scalar(op._inputs[3], "num_cols")
    if d is None or k is None or rows is None or cols is None or d[-1] is None:
        return d, None, None
    n = d[-1]
    min_rows, min_cols = n - min(k, 0), n + max(k, 0)
    if rows == -1 and cols == -1:
        rows = cols = max(min_rows, min_cols)
    rows = min_rows if rows == -1 else rows
    cols = min_cols if cols == -1 else cols
    return d, rows, cols


def _matrix_diag_infer(op):
    d, rows, cols = _matrix_diag_size(op)
    dtype = op._inputs[0].dtype
    if d is None:
        return [(dtype, None)]
    if len(d) < 1:
        raise _m.node_error(op, "Shape must be at least rank 1 but is rank 0")
    return [(dtype, d[:-1] + (rows, cols))]


def _diag_values(diag, rows, cols, k):
    """The matrix whose diagonal ``k`` holds ``diag``, and the mask of that diagonal."""
    mask = jnp.eye(rows, cols, k=k, dtype=bool)
    r = np.arange(rows)[:, None]
    c = np.arange(cols)[None, :]
    idx = np.broadcast_to(r if k >= 0 else c, (rows, cols))
    idx = np.clip(idx, 0, max(diag.shape[-1] - 1, 0))
    return jnp.take(diag, jnp.asarray(idx), axis=-1), mask


def _matrix_diag_lower(op):
    def fn(diag, k, num_rows, num_cols, padding):
        k = int(_base.static_ints(k, "k"))
        n = diag.shape[-1]
        rows, cols = int(_base.static_ints(num_rows)), int(_base.static_ints(num_cols))
        min_rows, min_cols = n - min(k, 0), n + max(k, 0)
        if rows == -1 and cols == -1:
            rows = cols = max(min_rows, min_cols)
        rows = min_rows if rows == -1 else rows
        cols = min_cols if cols == -1 else cols
        vals, mask = _diag_values(diag, rows, cols, k)
        return jnp.where(mask, vals, jnp.asarray(padding, diag.dtype))

    return fn


def _matrix_diag_part_infer(op):
    d = _dims(op._inputs[0])
    k = _static_scalar(op._inputs[1], "k")
    dtype = op._inputs[0].dtype
    if d is None:
        return [(dtype, None)]
    if len(d) < 2:
        raise _m.node_error(op, f"Shape must be at least rank 2 but is rank {len(d)}")
    rows, cols = d[-2], d[-1]
    if k is None or rows is None or cols is None:
        n = None
    else:
        n = max(min(rows + min(k, 0), cols - max(k, 0)), 0)
    return [(dtype, d[:-2] + (n,))]


def _matrix_diag_part_lower(op):
    def fn(x, k, padding):
        return jnp.diagonal(x, offset=int(_base.static_ints(k, "k")), axis1=-2, axis2=-1)

    return fn


def _matrix_set_diag_infer(op):
    x, diag = (_dims(t) for t in op._inputs[:2])
    if x is not None and len(x) < 2:
        raise _m.node_error(op, f"Shape must be at least rank 2 but is rank {len(x)}")
    return [(op._inputs[0].dtype, x)]


def _matrix_set_diag_lower(op):
    def fn(x, diag, k):
        k = int(_base.static_ints(k, "k"))
        vals, mask = _diag_values(diag, x.shape[-2], x.shape[-1], k)
        return jnp.where(mask, vals, x)

    return fn


_base.register_simple("MatrixDiagV3", _matrix_diag_infer, _matrix_diag_lower)
_base.register_simple("MatrixDiagPartV3", _matrix_diag_part_infer, _matrix_diag_part_lower)
_base.register_simple("MatrixSetDiagV3", _matrix_set_diag_infer, _matrix_set_diag_lower)


def _k_tensor(k):
    return _base.to_tensor(k, dtype=dtypes.int32, name="k")


def matrix_diag(
    diagonal, name="diag", k=0, num_rows=-1, num_cols=-1, padding_value=0, align="RIGHT_LEFT"
):
    """Batched square (or ``num_rows`` x ``num_cols``) matrices with ``diagonal`` on diagonal
    ``k`` and ``padding_value`` elsewhere."""
    with ops.name_scope(name, "MatrixDiagV3", [diagonal]) as scope:
        d = _base.to_tensor(diagonal, name="diagonal")
        inputs = [
            d,
            _k_tensor(k),
            _base.to_tensor(num_rows, dtype=dtypes.int32, name="num_rows"),
            _base.to_tensor(num_cols, dtype=dtypes.int32, name="num_cols"),
            _base.to_tensor(padding_value, dtype=d.dtype, name="padding_value"),
        ]
        return _base.output("MatrixDiagV3", inputs, {"T": d.dtype, "align": align}, name=scope)


def matrix_diag_part(input, name="diag_part", k=0, padding_value=0, align="RIGHT_LEFT"):  # noqa: A002
    """Diagonal ``k`` of each innermost matrix of ``input``."""
    with ops.name_scope(name, "MatrixDiagPartV3", [input]) as scope:
        x = _base.to_tensor(input, name="input")
        inputs = [
            x,
            _k_tensor(k),
            _base.to_tensor(padding_value, dtype=x.dtype, name="padding_value"),
        ]
        return _base.output("MatrixDiagPartV3", inputs, {"T": x.dtype, "align": align}, name=scope)


def matrix_set_diag(input, diagonal, name="set_diag", k=0, align="RIGHT_LEFT"):  # noqa: A002
    """``input`` with diagonal ``k`` of each innermost matrix replaced by ``diagonal``."""
    with ops.name_scope(name, "MatrixSetDiagV3", [input, diagonal]) as scope:
        x = _base.to_tensor(input, name="input")
        d = _base.to_tensor(diagonal, dtype=x.dtype, name="diagonal")
        inputs = [x, d, _k_tensor(k)]
        return _base.output("MatrixSetDiagV3", inputs, {"T": x.dtype, "align": align}, name=scope)


def diag(diagonal, name=None):
    """A tensor of rank ``2k`` with ``diagonal`` (rank ``k``) on its diagonal (op ``Diag``)."""
    with ops.name_scope(name, "Diag", [diagonal]) as scope:
        d = _base.to_tensor(diagonal, name="diagonal")
        _m.check_dtype("Diag", "diagonal", d.dtype)
        return _base.output("Diag", [d], {"T": d.dtype}, name=scope)


def diag_part(input, name=None):  # noqa: A002
    """The diagonal of a rank-``2k`` tensor (op ``DiagPart``)."""
    with ops.name_scope(name, "DiagPart", [input]) as scope:
        x = _base.to_tensor(input, name="input")
        _m.check_dtype("DiagPart", "input", x.dtype)
        return _base.output("DiagPart", [x], {"T": x.dtype}, name=scope)


def trace(x, name=None):
    """The sum of the main diagonal of each innermost matrix of ``x``."""
    with ops.name_scope(name, "Trace", [x]) as scope:
        x = _base.to_tensor(x, name="x")
        return _r.reduce_sum(matrix_diag_part(x), [-1], name=scope)


def eye(num_rows, num_columns=None, batch_shape=None, dtype=dtypes.float32, name=None):
    """An identity matrix (``num_rows`` x ``num_columns``), optionally batched."""
    from .array_ops import ones, zeros

    with ops.name_scope(name, "eye", [num_rows, num_columns, batch_shape]):
        is_square = num_columns is None
        num_columns = num_rows if num_columns is None else num_columns
        if not isinstance(num_rows, (int, np.integer)) or not isinstance(
            num_columns, (int, np.integer)
        ):
            raise TypeError(
                "Arguments `num_rows` and `num_columns` must be positive integer values. "
                f"Received: num_rows={num_rows}, num_columns={num_columns}"
            )
        is_square = num_rows == num_columns
        batch = tuple(int(v) for v in (batch_shape or []))
        diag_ones = ones(batch + (min(num_rows, num_columns),), dtype=dtype)
        if is_square:
            return matrix_diag(diag_ones)
        return matrix_set_diag(zeros(batch + (num_rows, num_columns), dtype=dtype), diag_ones)


# -- matrix_transpose, norm, cross -----------------------------------------------------------------
def matrix_transpose(a, name="matrix_transpose", conjugate=False):
    """Swaps the two innermost dimensions of ``a`` (a batch of matrices)."""
    from .array_ops import _range_op, concat, rank, transpose

    with ops.name_scope(name, values=[a]):
        a = _base.to_tensor(a, name="a")
        ndims = a.shape.ndims
        if ndims is not None:
            if ndims < 2:
                raise ValueError(
                    "Argument `a` should be a (batch) matrix with rank >= 2.  Received `a` = "
                    f"{a} with shape: {a.shape}"
                )
            perm = list(range(ndims - 2)) + [ndims - 1, ndims - 2]
        else:
            a_rank = rank(a)
            perm = concat((_range_op(0, a_rank - 2, 1), [a_rank - 1, a_rank - 2]), 0)
        return transpose(a, perm=perm, conjugate=conjugate)


def norm(tensor, ord="euclidean", axis=None, keepdims=None, name=None, keep_dims=None):  # noqa: A002
    """The vector norm (``ord`` 1, 2, ``np.inf``, ``'euclidean'`` or any p > 0) of ``tensor``
    along ``axis``, or the Frobenius / 1 / inf matrix norm over a pair of axes."""
    from .array_ops import squeeze

    keepdims = bool(_r._lookup("keepdims", keepdims, "keep_dims", keep_dims))
    is_matrix = isinstance(axis, (tuple, list)) and len(axis) == 2
    if is_matrix:
        axis = tuple(axis)
        if not all(isinstance(v, int) for v in axis) or axis[0] == axis[1]:
            raise ValueError(
                f"'axis' must be None, an integer, or a tuple of 2 unique integers, got {axis}"
            )
        supported = ["euclidean", "fro", 1, np.inf]
        if ord not in supported:
            raise ValueError(f"'ord' must be a supported matrix norm in {supported}, got {ord}")
    else:
        if not (isinstance(axis, int) or axis is None):
            raise ValueError(
                f"'axis' must be None, an integer, or a tuple of 2 unique integers, got {axis}"
            )
        vector = ["euclidean", 1, 2, np.inf]
        if ord not in vector and (not np.isreal(ord) or ord <= 0):
            raise ValueError(f"'ord' must be a supported vector norm, got {ord}")
        if axis is not None:
            axis = (axis,)
    with ops.name_scope(name, "norm", [tensor]):
        tensor = ops.convert_to_tensor(tensor)
        if ord in ("fro", "euclidean", 2, 2.0):
            result = _m.sqrt(_r.reduce_sum(tensor * conj(tensor), axis, keepdims=True))
        else:
            result = _m.abs(tensor)
            if ord == 1:
                result = _r.reduce_sum(result, None if axis is None else axis[0], keepdims=True)
                if is_matrix:
                    result = _r.reduce_max(result, axis[-1], keepdims=True)
            elif ord == np.inf:
                if is_matrix:
                    result = _r.reduce_sum(result, axis[1], keepdims=True)
                result = _r.reduce_max(result, None if axis is None else axis[0], keepdims=True)
            else:
                result = _m.pow(_r.reduce_sum(_m.pow(result, ord), axis, keepdims=True), 1.0 / ord)
        if not keepdims:
            result = squeeze(result, axis)
        return result


def _cross_infer(op):
    a, b = (_dims(t) for t in op._inputs)
    try:
        shape = _m.merge_dims(a, b)
    except ValueError as e:
        raise _m.node_error(op, str(e)) from None
    if shape is not None:
        if len(shape) < 1:
            raise _m.node_error(op, "Shape must be at least rank 1 but is rank 0")
        if shape[-1] is not None and shape[-1] != 3:
            raise _m.node_error(op, f"Dimension must be 3 but is {shape[-1]}")
    return [(op._inputs[0].dtype, shape)]


_base.register_simple("Cross", _cross_infer, lambda op: lambda a, b: jnp.cross(a, b))


def cross(a, b, name=None):
    """The cross product of the 3-vectors along the last dimension of ``a`` and ``b``."""
    with ops.name_scope(name, "Cross", [a, b]) as scope:
        a, b = _m.gen_inputs("Cross", [a, b], ("a", "b"))
        return _base.output("Cross", [a, b], {"T": a.dtype}, name=scope)
