"""Lowering graphs to compiled JAX functions."""

from . import shape_inference  # noqa: F401 - installs the generic shape rule
from .executable import trace_count  # noqa: F401
