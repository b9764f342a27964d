"""Platform helpers of the TF1 API (``tf.logging``)."""
