"""``tf.train``: checkpoints, savers and optimizers."""
