"""``tf.nn.embedding_lookup`` and the sampled losses ``nce_loss`` / ``sampled_softmax_loss``.

Partitioned lookups (a list of ``params``) give TF's values and updates with static shapes:
each partition is gathered for every id and the right one selected (ids of other partitions
read past its end, so that sparse updates drop their rows), where TF routes ids through
``DynamicPartition``/``ParallelDynamicStitch`` (shapes known only at run time).
"""

import numpy as np

from tfstyle.framework import dtypes, ops
from tfstyle.ops import _base, array_ops, linalg_ops, math_ops, reduction_ops
from tfstyle.ops.variables import PartitionedVariable

from . import nn_ops
from .candidate_sampling_ops import log_uniform_candidate_sampler


def _clip(params, ids, max_norm):
    if max_norm is None:
        return params
    from tfstyle.ops import clip_ops

    ids_rank = _base.to_tensor(ids).shape.ndims
    params_rank = params.shape.ndims
    return clip_ops.clip_by_norm(params, max_norm, axes=list(range(ids_rank, params_rank)))


def embedding_lookup(
    params,
    ids,
    partition_strategy="mod",
    name=None,
    validate_indices=True,
    max_norm=None,
):
    """Rows of ``params`` (a tensor or a list of partitions) at ``ids``.

    With a list, row ``i`` lives in partition ``i % n`` at ``i // n`` (``"mod"``) or in
    contiguous blocks (``"div"``), as in TF. ``max_norm`` clips each looked-up row's l2 norm.
    """
    if params is None:
        raise ValueError("params must be specified")
    if isinstance(params, (list, tuple)) and not params:
        raise ValueError("Length of params is currently 0. Need at least one param.")
    if isinstance(params, PartitionedVariable):
        params = list(params)  # its parts, looked up as a list of partitions
    if not isinstance(params, (list, tuple)):
        params = [params]
    params = list(params)
    with ops.name_scope(name, "embedding_lookup", params + [ids]) as name:
        n = len(params)
        ids = _base.to_tensor(ids, name="ids")
        if n == 1:
            # A variable stays one: its rows are read with ResourceGather, as in TF.
            p = params[0]
            if not hasattr(p, "sparse_read"):
                p = _base.to_tensor(p, name="params")
            result = _clip(array_ops.gather(p, ids, name=name), ids, max_norm)
            return array_ops.identity(result)
        params = [_base.to_tensor(p, name="params") for p in params]
        flat_ids = array_ops.reshape(ids, [-1])
        if partition_strategy not in ("mod", "div"):
            raise ValueError(
                f"Unrecognized partition strategy: {partition_strategy}.Must be one of either "
                "`mod` or `div`."
            )
        sizes = [p.shape[0] if p.shape.ndims else None for p in params]
        static_ids = _base.constant_value(flat_ids)
        if static_ids is not None and (partition_strategy == "mod" or None not in sizes):
            # Constant ids: partitioned as TF does, each partition looked up at its own ids.
            total = sum(sizes) if None not in sizes else None
            static_p, static_ids = _partition_ids(
                static_ids, n, partition_strategy, total, np.maximum, np.where
            )
            pieces, order = [], []
            for p in range(n):
                members = np.flatnonzero(static_p == p)
                pieces.append(array_ops.gather(params[p], static_ids[members]))
                order.extend(members)
            ret = array_ops.gather(array_ops.concat(pieces, 0), np.argsort(order))
        else:
            if partition_strategy == "div" and None not in sizes:
                total = _base.to_tensor(sum(sizes), dtype=flat_ids.dtype)
            elif partition_strategy == "div":
                total = reduction_ops.reduce_sum(
                    array_ops.cast(
                        array_ops.stack([array_ops.shape(p)[0] for p in params]), flat_ids.dtype
                    )
                )
            else:
                total = None
            p_assignments, new_ids = _partition_ids(
                flat_ids, n, partition_strategy, total, math_ops.maximum, math_ops.where
            )
            p_assignments = array_ops.cast(p_assignments, dtypes.int32)
            ret = None
            for p in range(n):
                # Every id is looked up in every partition and the row from its own partition
                # kept: static shapes instead of TF's dynamic partitioning. The other ids look
                # up the row past the end, so that the gradient's rows for them (zeros) are
                # dropped by sparse updates, which leave the rows of other partitions' ids
                # alone, as TF's do.
                rows = array_ops.shape(params[p], out_type=new_ids.dtype)[0]
                member = math_ops.equal(p_assignments, p)
                part = array_ops.gather(
                    params[p], math_ops.where_v2(member, new_ids, rows), name="Gather"
                )
                if ret is None:
                    ret = part
                    continue
                extra = part.shape.ndims - 1 if part.shape.ndims is not None else 1
                for _ in range(extra):
                    member = array_ops.expand_dims(member, -1)
                ret = math_ops.where_v2(member, part, ret)
        element_shape_s = params[0].shape[1:]
        for p in params[1:]:
            element_shape_s = element_shape_s.merge_with(p.shape[1:])
        if element_shape_s.is_fully_defined():
            element_shape_d = element_shape_s.as_list()
        else:
            element_shape_d = array_ops.shape(params[0])[1:]
        ret = array_ops.reshape(ret, array_ops.concat([array_ops.shape(ids), element_shape_d], 0))
        ret.set_shape(ids.shape.concatenate(element_shape_s))
        return _clip(ret, ids, max_norm)


def _partition_ids(ids, n, strategy, total, maximum, where):
    """``(partition, row in it)`` of each id: TF's ``"mod"`` or ``"div"`` assignment to ``n``
    partitions of ``total`` rows, over tensors or NumPy arrays (``maximum``, ``where``)."""
    if strategy == "mod":
        return ids % n, ids // n
    per, extras = total // n, total % n
    p = maximum(ids // (per + 1), (ids - extras) // per)
    return p, where(p < extras, ids % (per + 1), (ids - extras) % per)


def _sum_rows(x):
    cols = array_ops.shape(x)[1]
    ones_shape = array_ops.stack([cols, 1])
    ones = array_ops.ones(ones_shape, x.dtype)

    return array_ops.reshape(linalg_ops.matmul(x, ones), [-1])


def _compute_sampled_logits(
    weights,
    biases,
    labels,
    inputs,
    num_sampled,
    num_classes,
    num_true=1,
    sampled_values=None,
    subtract_log_q=True,
    remove_accidental_hits=False,
    partition_strategy="mod",
    name=None,
    seed=None,
):

    if not isinstance(weights, (list, tuple)):
        weights = [weights]
    weights = list(weights)
    with ops.name_scope(name, "compute_sampled_logits", weights + [biases, inputs, labels]):
        labels = _base.to_tensor(labels)
        inputs = _base.to_tensor(inputs)
        if labels.dtype != dtypes.int64:
            labels = array_ops.cast(labels, dtypes.int64)
        labels_flat = array_ops.reshape(labels, [-1])
        if sampled_values is None:
            sampled_values = log_uniform_candidate_sampler(
                true_classes=labels,
                num_true=num_true,
                num_sampled=num_sampled,
                unique=True,
                range_max=num_classes,
                seed=seed,
            )
        sampled, true_expected_count, sampled_expected_count = (
            array_ops.stop_gradient(s) for s in sampled_values
        )
        sampled = array_ops.cast(sampled, dtypes.int64)
        all_ids = array_ops.concat([labels_flat, sampled], 0)
        all_w = embedding_lookup(weights, all_ids, partition_strategy=partition_strategy)
        if all_w.dtype != inputs.dtype:
            all_w = array_ops.cast(all_w, inputs.dtype)
        true_w = array_ops.slice(
            all_w, [0, 0], array_ops.stack([array_ops.shape(labels_flat)[0], -1])
        )
        sampled_w = array_ops.slice(
            all_w, array_ops.stack([array_ops.shape(labels_flat)[0], 0]), [-1, -1]
        )
        sampled_logits = linalg_ops.matmul(inputs, sampled_w, transpose_b=True)
        all_b = embedding_lookup(biases, all_ids, partition_strategy=partition_strategy)
        if all_b.dtype != inputs.dtype:
            all_b = array_ops.cast(all_b, inputs.dtype)
        true_b = array_ops.slice(all_b, [0], array_ops.shape(labels_flat))
        sampled_b = array_ops.slice(all_b, array_ops.shape(labels_flat), [-1])
        dim = array_ops.shape(true_w)[1:2]
        new_true_w_shape = array_ops.concat([[-1, num_true], dim], 0)
        row_wise_dots = math_ops.multiply(
            array_ops.expand_dims(inputs, 1), array_ops.reshape(true_w, new_true_w_shape)
        )
        dots_as_matrix = array_ops.reshape(row_wise_dots, array_ops.concat([[-1], dim], 0))
        true_logits = array_ops.reshape(_sum_rows(dots_as_matrix), [-1, num_true])
        true_b = array_ops.reshape(true_b, [-1, num_true])
        true_logits += true_b
        sampled_logits += sampled_b
        if remove_accidental_hits:
            # TF adds -FLOAT_MAX at the (example, sample) pairs where a sampled class is one of
            # the example's labels, from a sparse list of hits; the same mask is dense here.
            hits = reduction_ops.reduce_any(
                math_ops.equal(array_ops.expand_dims(labels, 2), sampled), axis=1
            )
            lowest = _base.to_tensor(-dtypes.float32.max, dtype=sampled_logits.dtype)
            sampled_logits += math_ops.where_v2(hits, lowest, array_ops.zeros_like(sampled_logits))
        if subtract_log_q:
            true_logits -= math_ops.log(true_expected_count)
            sampled_logits -= math_ops.log(sampled_expected_count)
        out_logits = array_ops.concat([true_logits, sampled_logits], 1)
        out_labels = array_ops.concat(
            [array_ops.ones_like(true_logits) / num_true, array_ops.zeros_like(sampled_logits)], 1
        )
        return out_logits, out_labels


def nce_loss(
    weights,
    biases,
    labels,
    inputs,
    num_sampled,
    num_classes,
    num_true=1,
    sampled_values=None,
    remove_accidental_hits=False,
    partition_strategy="mod",
    name="nce_loss",
):
    """Noise-contrastive estimation loss per example, sampling ``num_sampled`` classes with
    ``log_uniform_candidate_sampler`` unless ``sampled_values`` are given."""
    logits, labels = _compute_sampled_logits(
        weights=weights,
        biases=biases,
        labels=labels,
        inputs=inputs,
        num_sampled=num_sampled,
        num_classes=num_classes,
        num_true=num_true,
        sampled_values=sampled_values,
        subtract_log_q=True,
        remove_accidental_hits=remove_accidental_hits,
        partition_strategy=partition_strategy,
        name=name,
    )
    sampled_losses = nn_ops.sigmoid_cross_entropy_with_logits(
        labels=labels, logits=logits, name="sampled_losses"
    )
    return _sum_rows(sampled_losses)


def sampled_softmax_loss(
    weights,
    biases,
    labels,
    inputs,
    num_sampled,
    num_classes,
    num_true=1,
    sampled_values=None,
    remove_accidental_hits=True,
    partition_strategy="mod",
    name="sampled_softmax_loss",
    seed=None,
):
    """Softmax cross entropy over the true classes and ``num_sampled`` sampled ones."""
    logits, labels = _compute_sampled_logits(
        weights=weights,
        biases=biases,
        labels=labels,
        inputs=inputs,
        num_sampled=num_sampled,
        num_classes=num_classes,
        num_true=num_true,
        sampled_values=sampled_values,
        subtract_log_q=True,
        remove_accidental_hits=remove_accidental_hits,
        partition_strategy=partition_strategy,
        name=name,
        seed=seed,
    )
    labels = array_ops.stop_gradient(labels, name="labels_stop_gradient")
    return nn_ops.softmax_cross_entropy_with_logits_v2(labels=labels, logits=logits)
