"""Benchmarks: the same TF1 programs on real TensorFlow and on tfstyle, beside hand-written JAX.

Every workload is written once as a TF1 program that takes the module ``tf`` as a parameter, so
the identical code runs on ``tensorflow.compat.v1`` (graph mode) and on ``tfstyle.compat.v1``;
next to it is the same model written by hand in JAX (and optax for training). Each framework is
measured in its own subprocess so that thread pools, allocators and peak memory never mix.

    python -m benchmarks                         # everything, markdown tables on stdout
    python -m benchmarks --quick                 # a short smoke run on tiny sizes
    python -m benchmarks --workloads training --columns tf,jax --json out.json

See ``benchmarks/run_all.py`` for the flags and ``docs/benchmarks.md`` for measured tables.
"""
