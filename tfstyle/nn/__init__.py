"""``tf.nn``: neural-network ops (activations, losses, convolutions, pooling, normalisation)."""

# ruff: noqa: F401

from tfstyle.ops.space_batch_ops import depth_to_space, space_to_batch, space_to_depth

from . import (
    grad_ops,  # registers TF's gradient ops (ReluGrad, MaxPoolGrad, ...)
    rnn_cell,
)
from .candidate_sampling_ops import log_uniform_candidate_sampler, uniform_candidate_sampler
from .conv_ops import (
    atrous_conv2d,
    avg_pool,
    avg_pool1d,
    avg_pool2d,
    avg_pool3d,
    avg_pool_v2,
    conv1d,
    conv2d,
    conv2d_backprop_filter,
    conv2d_backprop_input,
    conv2d_transpose,
    conv3d,
    conv3d_backprop_filter,
    conv3d_backprop_filter_v2,
    conv3d_transpose,
    convolution,
    depthwise_conv2d,
    depthwise_conv2d_native,
    max_pool,
    max_pool1d,
    max_pool2d,
    max_pool3d,
    max_pool_v2,
    max_pool_with_argmax,
    pool,
    separable_conv2d,
)
from .embedding_ops import embedding_lookup, nce_loss, sampled_softmax_loss
from .nn_ops import (
    batch_normalization,
    bias_add,
    crelu,
    dropout,
    elu,
    fused_batch_norm,
    in_top_k,
    l2_loss,
    l2_normalize,
    leaky_relu,
    local_response_normalization,
    log_poisson_loss,
    log_softmax,
    lrn,
    moments,
    normalize_moments,
    relu,
    relu6,
    relu_layer,
    selu,
    sigmoid,
    sigmoid_cross_entropy_with_logits,
    silu,
    softmax,
    softmax_cross_entropy_with_logits,
    softmax_cross_entropy_with_logits_v2,
    softplus,
    softsign,
    sparse_softmax_cross_entropy_with_logits,
    sufficient_statistics,
    swish,
    tanh,
    top_k,
    weighted_cross_entropy_with_logits,
    weighted_moments,
    xw_plus_b,
)
from .rnn import (
    bidirectional_dynamic_rnn,
    dynamic_rnn,
    static_bidirectional_rnn,
    static_rnn,
)
