"""``tf.contrib``: the parts of TF 1.x's contrib that legacy programs use most."""

# ruff: noqa: F401

from tfstyle.contrib import layers, rnn
