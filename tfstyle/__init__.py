"""tfstyle: TensorFlow 1.x programs on JAX."""
