"""TensorBoard summaries: ``Summary`` protos and the event files that hold them."""
