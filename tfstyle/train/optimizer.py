"""``tf.train.Optimizer``: the TF1 optimizer base class, its slots and non-slot variables.

Subclasses implement ``_create_slots``, ``_prepare``, ``_resource_apply_dense`` (and may override
``_finish``), as in TF. An update is written with ``resource_apply``: TF's kernel arithmetic as
graph ops that read the variable and its slots, followed by one assignment per variable, so
that the whole training step lowers into one compiled function (XLA fuses each update).

A gradient that is an ``IndexedSlices`` (a variable read through ``embedding_lookup``/``gather``)
goes to ``_resource_apply_sparse_duplicate_indices`` and ``_resource_apply_sparse``, which update
only the rows at its indices, as TF's sparse kernels do: ``resource_sparse_apply`` reads those
rows (``ResourceGather``), applies the same arithmetic and writes them back
(``ResourceScatterUpdate``). TF sums the gradients of repeated indices over ``Unique`` indices
first; XLA needs static shapes, so here every position carries the sum over its index
(``sum_repeated_indices``), and repeated positions write the same new row.
"""

from tfstyle.framework import dtypes, ops
from tfstyle.framework.indexed_slices import IndexedSlices
from tfstyle.framework.ops import GraphKeys, Tensor
from tfstyle.ops import _base, array_ops, constant_op, control_flow_ops
from tfstyle.ops import gradients as _gradients
from tfstyle.ops import variables as _variables
from tfstyle.ops.variables import Variable


def _var_key(var):
    return (var.op.graph, var.op.name)


def _flatten(x):
    if isinstance(x, dict):
        return [v for k in sorted(x) for v in _flatten(x[k])]
    if isinstance(x, (list, tuple)):
        return [v for e in x for v in _flatten(e)]
    return [x]


def cast_to(t, dtype):
    """``math_ops.cast`` as the optimizers use it: no op when ``t`` already has ``dtype``."""
    return t if t.dtype.base_dtype == dtype else array_ops.cast(t, dtype)


def resource_apply(op_type, kernel, variables):
    """Applies ``kernel`` (TF's arithmetic of op ``op_type``) to the values of ``variables``.

    ``kernel(*values)`` returns the new value of each variable. The reads, arithmetic and
    assignments live under the name scope ``op_type``; the returned op groups the assignments.
    """
    with ops.name_scope(None, op_type) as scope:
        values = [v.value() for v in variables]
        new_values = kernel(*values)
        assigns = [v.assign(nv, read_value=False) for v, nv in zip(variables, new_values)]
        return control_flow_ops.group(*assigns, name=scope)


def resource_sparse_apply(op_type, kernel, variables, indices):
    """Applies ``kernel`` (TF's arithmetic of sparse op ``op_type``) to the rows at ``indices``.

    ``kernel(*rows)`` returns the new rows of each variable; they are written back with
    ``ResourceScatterUpdate``. Repeated indices must carry equal gradients (see
    ``sum_repeated_indices``). The returned op, named ``op_type``, groups the writes.
    """
    from tfstyle.ops import state_ops

    with ops.name_scope(None, op_type) as scope:
        rows = [v.sparse_read(indices) for v in variables]
        new_rows = kernel(*rows)
        writes = [state_ops.scatter_update(v, indices, r).op for v, r in zip(variables, new_rows)]
        return control_flow_ops.group(*writes, name=scope)


def num_rows(var):
    rows = var.shape[0] if var.shape.ndims else None
    if rows is not None:
        return int(rows)
    return array_ops.shape(var.value())[0]


def sum_repeated_indices(values, var, indices):
    """The gradient of each position of ``indices``, summed over the positions with the same
    index (TF's ``Unique`` + ``UnsortedSegmentSum``, with the positions kept).

    Positions are grouped by the first position of their index, found with one integer per row
    of ``var`` (``UnsortedSegmentMin``), so no dense gradient is formed."""
    from tfstyle.ops import segment_ops

    n = indices.shape[0] if indices.shape.ndims == 1 else None
    n = array_ops.size(indices, out_type=indices.dtype) if n is None else int(n)
    positions = array_ops.range(n, dtype=indices.dtype)
    first = segment_ops.unsorted_segment_min(positions, indices, num_rows(var))
    group = array_ops.gather(first, indices)
    summed = segment_ops.unsorted_segment_sum(values, group, n)
    return array_ops.gather(summed, group)


def _create_slot(primary, initial_value, op_name, dtype=None):
    """A slot variable ``<primary name>/<op_name>`` (made unique), not trainable.

    Slots are named after the variable, whatever the name scope in force (TF creates them
    through ``variable_scope``), and their initializers run without control dependencies.
    """
    graph = primary.graph
    with graph.as_default(), ops.control_dependencies(None), graph.name_scope(None):
        slot = Variable(
            initial_value,
            trainable=False,
            name=primary._shared_name + "/" + op_name,
            dtype=dtype,
        )
    info = getattr(primary, "_save_slice_info", None)
    n = slot.shape.ndims
    if info is not None and (n is None or n > 0):
        # The slot of a part is the same part of the slot of the whole variable (saved as
        # ``<variable>/Adam``), cut on the axes it shares with it.
        suffix = slot.op.name[len(primary.op.name) + 1 :]
        slot._set_save_slice_info(
            Variable.SaveSliceInfo(
                info.full_name + "/" + suffix,
                info.full_shape[:n],
                info.var_offset[:n],
                info.var_shape[:n],
            )
        )
    return slot


class Optimizer:
    """Base class of the TF1 optimizers (``tf.train.Optimizer``).

    ``minimize`` = ``compute_gradients`` + ``apply_gradients``. Slot variables (``w/Adam``) are
    created by ``apply_gradients`` and found with ``get_slot(var, name)``.
    """

    GATE_NONE = 0
    GATE_OP = 1
    GATE_GRAPH = 2

    def __init__(self, use_locking, name):
        if not name:
            raise ValueError("Must specify the optimizer name")
        self._use_locking = use_locking
        self._name = name
        self._slots = {}
        self._non_slot_dict = {}

    def get_name(self):
        return self._name

    # -- the public steps ----------------------------------------------------------------------
    def minimize(
        self,
        loss,
        global_step=None,
        var_list=None,
        gate_gradients=GATE_OP,
        aggregation_method=None,
        colocate_gradients_with_ops=False,
        name=None,
        grad_loss=None,
    ):
        """Adds ops that compute the gradients of ``loss`` and update ``var_list`` (default: the
        trainable variables), then increment ``global_step`` if given; returns the update op."""
        grads_and_vars = self.compute_gradients(
            loss,
            var_list=var_list,
            gate_gradients=gate_gradients,
            aggregation_method=aggregation_method,
            colocate_gradients_with_ops=colocate_gradients_with_ops,
            grad_loss=grad_loss,
        )
        vars_with_grad = [v for g, v in grads_and_vars if g is not None]
        if not vars_with_grad:
            raise ValueError(
                "No gradients provided for any variable, check your graph for ops that do not "
                f"support gradients, between variables {[str(v) for _, v in grads_and_vars]} "
                f"and loss {loss}."
            )
        return self.apply_gradients(grads_and_vars, global_step=global_step, name=name)

    def compute_gradients(
        self,
        loss,
        var_list=None,
        gate_gradients=GATE_OP,
        aggregation_method=None,
        colocate_gradients_with_ops=False,
        grad_loss=None,
    ):
        """A list of ``(gradient, variable)`` pairs; the gradient is ``None`` for a variable that
        ``loss`` does not depend on."""
        if callable(loss):
            raise RuntimeError("`loss` passed to Optimizer.compute_gradients should be a Tensor.")
        if gate_gradients not in (Optimizer.GATE_NONE, Optimizer.GATE_OP, Optimizer.GATE_GRAPH):
            raise ValueError(
                "gate_gradients must be one of: Optimizer.GATE_NONE, Optimizer.GATE_OP, "
                f"Optimizer.GATE_GRAPH.  Not {gate_gradients}"
            )
        self._assert_valid_dtypes([loss])
        if grad_loss is not None:
            self._assert_valid_dtypes([grad_loss])
        if var_list is None:
            var_list = _variables.trainable_variables() + ops.get_collection(
                GraphKeys.TRAINABLE_RESOURCE_VARIABLES
            )
        else:
            var_list = _flatten(var_list)
        if not var_list:
            raise ValueError("No variables to optimize.")
        grads = _gradients.gradients(
            loss, var_list, grad_ys=grad_loss, aggregation_method=aggregation_method
        )
        if gate_gradients == Optimizer.GATE_GRAPH:
            grads = _gate(grads)
        grads_and_vars = list(zip(grads, var_list))
        self._assert_valid_dtypes([v for g, v in grads_and_vars if g is not None])
        return grads_and_vars

    def apply_gradients(self, grads_and_vars, global_step=None, name=None):
        """Adds the update ops for ``(gradient, variable)`` pairs (``None`` gradients are
        skipped) and increments ``global_step`` after them; returns the grouping op."""
        grads_and_vars = tuple(grads_and_vars)
        if not grads_and_vars:
            raise ValueError("No variables provided.")
        converted = []
        for g, v in grads_and_vars:
            if g is not None and not isinstance(g, IndexedSlices):
                try:
                    g = ops.convert_to_tensor(g)
                except TypeError:
                    raise TypeError(
                        f"Gradient must be convertible to a Tensor or IndexedSlices, or None: {g}"
                    ) from None
            if not isinstance(v, Variable):
                raise NotImplementedError(f"Trying to update a Tensor {v}")
            converted.append((g, v))
        var_list = [v for g, v in converted if g is not None]
        if not var_list:
            raise ValueError(
                f"No gradients provided for any variable: {[str(v) for _, v in converted]}."
            )
        with ops.control_dependencies(None):
            self._create_slots(var_list)
        with ops.name_scope(name, self._name) as name:
            self._prepare()
            update_ops = self._apply_all([(g, v) for g, v in converted if g is not None])
            if global_step is None:
                apply_updates = self._finish(update_ops, name)
            else:
                with ops.control_dependencies([self._finish(update_ops, "update")]):
                    apply_updates = _increment(global_step, name)
            if isinstance(apply_updates, Tensor):
                apply_updates = apply_updates.op
            train_ops = ops.get_collection_ref(GraphKeys.TRAIN_OP)
            if apply_updates not in train_ops:
                train_ops.append(apply_updates)
            return apply_updates

    def _apply_all(self, grads_and_vars):
        """The update op of each variable (``update_<var>/...``), constraints applied after."""
        update_ops = []
        for grad, var in grads_and_vars:
            with ops.name_scope("update_" + var.op.name), ops.colocate_with(var):
                if isinstance(grad, IndexedSlices):
                    if var.constraint is not None:
                        raise RuntimeError("Cannot use a constraint function on a sparse variable.")
                    update_ops.append(
                        self._resource_apply_sparse_duplicate_indices(
                            grad.values, var, grad.indices
                        )
                    )
                    continue
                update = self._resource_apply_dense(grad, var)
                if var.constraint is not None:
                    with ops.control_dependencies([update]):
                        update = var.assign(var.constraint(var), read_value=False)
                update_ops.append(update)
        return update_ops

    # -- slots ---------------------------------------------------------------------------------
    def get_slot(self, var, name):
        """The slot variable ``name`` created for ``var``, or ``None``."""
        named_slots = self._slots.get(name)
        if not named_slots or not hasattr(var, "op"):
            return None
        return named_slots.get(_var_key(var))

    def get_slot_names(self):
        return sorted(self._slots)

    def variables(self):
        """The optimizer's variables in the current graph (slots and others), sorted by name."""
        graph = ops.get_default_graph()
        out = [v for (_, g), v in self._non_slot_dict.items() if g is graph]
        for slots in self._slots.values():
            out.extend(v for v in slots.values() if v.graph is graph)
        return sorted(out, key=lambda v: v.name)

    def _slot_dict(self, slot_name):
        return self._slots.setdefault(slot_name, {})

    def _get_or_make_slot(self, var, val, slot_name, op_name):
        slots = self._slot_dict(slot_name)
        key = _var_key(var)
        if key not in slots:
            slots[key] = _create_slot(var, val, op_name)
        return slots[key]

    def _get_or_make_slot_with_initializer(self, var, initializer, shape, dtype, slot_name, op):
        """A slot initialised by ``initializer(shape, dtype)`` (an initializer or a callable)."""
        shape = list(shape) if not hasattr(shape, "as_list") else shape.as_list()

        def initial_value():
            return initializer(shape, dtype=dtype)

        return self._get_or_make_slot(var, initial_value, slot_name, op)

    def _zeros_slot(self, var, slot_name, op_name):
        """A slot of zeros shaped and typed like ``var`` (``<var>/Initializer/zeros``)."""
        dtype = var.dtype.base_dtype
        shape = var.shape.as_list()
        return self._get_or_make_slot(
            var, lambda: array_ops.zeros(shape, dtype, name="zeros"), slot_name, op_name
        )

    def _ones_slot(self, var, slot_name, op_name):
        dtype = var.dtype.base_dtype
        shape = var.shape.as_list()
        return self._get_or_make_slot(
            var, lambda: array_ops.ones(shape, dtype, name="ones"), slot_name, op_name
        )

    def _constant_slot(self, var, value, slot_name, op_name):
        dtype = var.dtype.base_dtype
        shape = var.shape.as_list()
        return self._get_or_make_slot(
            var,
            lambda: constant_op.constant(value, dtype=dtype, shape=shape, name="Const"),
            slot_name,
            op_name,
        )

    # -- non-slot variables (Adam's beta powers) -----------------------------------------------
    def _create_non_slot_variable(self, initial_value, name, colocate_with):
        graph = colocate_with.graph
        key = (name, graph)
        v = self._non_slot_dict.get(key)
        if v is None:
            with graph.as_default(), ops.colocate_with(colocate_with):
                v = Variable(initial_value, name=name, trainable=False)
            self._non_slot_dict[key] = v
        return v

    def _get_non_slot_variable(self, name, graph=None):
        return self._non_slot_dict.get((name, graph or ops.get_default_graph()))

    def _non_slot_variables(self):
        return self._non_slot_dict.values()

    # -- what subclasses implement -------------------------------------------------------------
    def _create_slots(self, var_list):
        pass

    def _prepare(self):
        pass

    def _resource_apply_dense(self, grad, handle):
        raise NotImplementedError(f"{type(self).__name__} does not implement _resource_apply_dense")

    def _resource_apply_sparse_duplicate_indices(self, grad, handle, indices):
        """The update for gradient rows ``grad`` at ``indices``, which may repeat: their
        gradients are summed, then ``_resource_apply_sparse`` updates those rows."""
        summed = sum_repeated_indices(grad, handle, indices)
        return self._resource_apply_sparse(summed, handle, indices)

    def _resource_apply_sparse(self, grad, handle, indices):
        raise NotImplementedError(
            f"{type(self).__name__} does not implement _resource_apply_sparse"
        )

    def _finish(self, update_ops, name_scope):
        return control_flow_ops.group(*update_ops, name=name_scope)

    # -- helpers -------------------------------------------------------------------------------
    def _valid_dtypes(self):
        return {dtypes.float16, dtypes.bfloat16, dtypes.float32, dtypes.float64}

    def _assert_valid_dtypes(self, tensors):
        valid = self._valid_dtypes()
        for t in tensors:
            dtype = t.dtype.base_dtype
            if dtype not in valid:
                names = ", ".join(
                    f"tf.{d.name}"
                    for d in (dtypes.float32, dtypes.float64, dtypes.float16, dtypes.bfloat16)
                    if d in valid
                )
                raise ValueError(f"Invalid type tf.{dtype.name} for {t.name}, expected: [{names}].")

    def _call_if_callable(self, param):
        return param() if callable(param) else param

    def _hyper_tensor(self, param, name):
        """A hyperparameter (a value, or a callable giving one) as a tensor named ``name``."""
        return ops.convert_to_tensor(self._call_if_callable(param), name=name)


def _gate(grads):
    """``GATE_GRAPH``: every gradient (an ``IndexedSlices``' values and indices too) becomes
    available only once all of them are computed."""
    flat = []
    for g in grads:
        flat.extend([g.values, g.indices] if isinstance(g, IndexedSlices) else [g])
    gated = iter(control_flow_ops.tuple(flat))
    return [
        IndexedSlices(next(gated), next(gated), g.dense_shape)
        if isinstance(g, IndexedSlices)
        else next(gated)
        for g in grads
    ]


def _increment(global_step, name):
    """``global_step += 1`` as the op named ``name`` (TF's ``AssignAddVariableOp``)."""
    with ops.colocate_with(global_step):
        if isinstance(global_step, Variable):
            one = ops.convert_to_tensor(1, dtype=global_step.dtype.base_dtype)
            return _base.make_op(
                "AssignAddVariableOp",
                [global_step.handle, one],
                {"dtype": global_step.dtype.base_dtype},
                name=name,
            )
        raise TypeError(f"global_step must be a variable, got {global_step!r}")
