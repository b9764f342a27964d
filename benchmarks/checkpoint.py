"""Checkpoint save/restore time and peak memory: real TF ``tf.train.Saver`` vs tfstyle's Saver.

Targets (from the performance issue): tfstyle's save and restore take at most 1.5x real TF's
time, and their peak memory above the baseline is at most 1.2x the size of the variables.

A handful of large float32 variables (about 100 MB and about 1 GB in all; MB = 1e6 bytes) are
created and initialised, and one small value computed from each of them is fetched: a
framework that dispatches asynchronously (JAX) has then really produced the variables, so they
are in the baseline, the process RSS right after that. ``saver.save`` and
``saver.restore`` are each timed a few times (median), and the peak RSS above the baseline is
the largest over the repetitions (the kernel's high-water mark, reset before each one). Every
size and framework runs in its own subprocess. The first restore into a session is timed on its
own ("first restore s"): a framework that reuses the memory of the values a restore replaces
is only at its steady state from a later one, so "restore s" is the median of the repeats
after it, for every framework. The hand-JAX column is a floor for reference:
the same arrays written with ``np.save`` and read back with ``np.load`` + ``jax.device_put``.

    python -m benchmarks.checkpoint [--quick] [--columns tf,jax]
"""

from __future__ import annotations

import math
import os
import statistics
import sys
import tempfile
import time

import numpy as np

from benchmarks.common import PeakRSS, load_tf1, record, rss_mb, settle

NAME = "checkpoint"
TITLE = "Checkpoints"
ISOLATE = True  # one subprocess per size and framework

COLS = 1000


def cases(quick: bool) -> list:
    if quick:
        return [{"id": "1MB", "mb": 1, "variables": 2}]
    return [{"id": "100MB", "mb": 100, "variables": 5}, {"id": "1GB", "mb": 1000, "variables": 5}]


def settings(quick: bool) -> dict:
    return {"repeats": 1 if quick else 3}


def shape(case: dict) -> tuple:
    floats = case["mb"] * 1_000_000 // 4 // case["variables"]
    return (floats // COLS, COLS)


def label(case: dict) -> str:
    rows, cols = shape(case)
    total = case["variables"] * rows * cols * 4 / 1e6
    return f"{case['variables']} x [{rows}, {cols}] float32 = {total:,.0f} MB"


def _time_and_peak(fn, repeats: int, baseline_mb: float):
    times, peaks = [], []
    for _ in range(repeats):
        settle()
        with PeakRSS() as peak:
            t0 = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t0)
        peaks.append(peak.peak_mb - baseline_mb)
    return statistics.median(times), max(peaks)


def _result(case, save, first, restore) -> dict:
    size_mb = case["variables"] * math.prod(shape(case)) * 4 / 1e6
    return {
        "first_restore_s": first[0],
        "save_s": save[0],
        "save_peak_mb": save[1],
        "save_peak_x": save[1] / size_mb,
        "restore_s": restore[0],
        "restore_peak_mb": restore[1],
        "restore_peak_x": restore[1] / size_mb,
    }


# --------------------------------------------------------------------------- the TF1 program


def tf1_variables(tf, case):
    return [
        tf.get_variable(
            f"var{i}", shape(case), tf.float32, initializer=tf.random_uniform_initializer(seed=i)
        )
        for i in range(case["variables"])
    ]


def _tf1_measure(tf, case, settings) -> dict:
    graph = tf.Graph()
    with graph.as_default():
        variables = tf1_variables(tf, case)
        saver = tf.train.Saver()
        init = tf.global_variables_initializer()
        # A fetch that needs every variable's value: the initialisation has finished (and its
        # temporaries are gone) before the baseline is taken, even if it ran asynchronously.
        sums = [tf.reduce_sum(v) for v in variables]
    with (
        tempfile.TemporaryDirectory(prefix="tfstyle-bench-ckpt-") as tmp,
        tf.Session(graph=graph) as sess,
    ):
        sess.run(init)
        sess.run(sums)
        prefix = os.path.join(tmp, "model.ckpt")
        settle()
        baseline = rss_mb()
        save = _time_and_peak(lambda: saver.save(sess, prefix), settings["repeats"], baseline)
        first = _time_and_peak(lambda: saver.restore(sess, prefix), 1, baseline)
        restore = _time_and_peak(lambda: saver.restore(sess, prefix), settings["repeats"], baseline)
    return _result(case, save, first, restore)


# --------------------------------------------------------------------------- by hand


def _jax_measure(case, settings) -> dict:
    import jax

    params = {
        f"var{i}": jax.device_put(np.random.default_rng(i).random(shape(case), np.float32))
        for i in range(case["variables"])
    }
    jax.block_until_ready(params)
    with tempfile.TemporaryDirectory(prefix="tfstyle-bench-ckpt-") as tmp:

        def save():
            for name, value in params.items():
                np.save(os.path.join(tmp, name + ".npy"), np.asarray(value))

        def restore():
            loaded = {
                name: jax.device_put(np.load(os.path.join(tmp, name + ".npy"))) for name in params
            }
            params.update(jax.block_until_ready(loaded))

        settle()
        baseline = rss_mb()
        saved = _time_and_peak(save, settings["repeats"], baseline)
        first = _time_and_peak(restore, 1, baseline)
        restored = _time_and_peak(restore, settings["repeats"], baseline)
    return _result(case, saved, first, restored)


# --------------------------------------------------------------------------- harness hooks


def measure_case(framework: str, case: dict, settings: dict) -> dict:
    if framework == "jax":
        return _jax_measure(case, settings)
    return _tf1_measure(load_tf1(framework), case, settings)


def records(results: dict, quick: bool) -> list:
    rows = []
    for case in cases(quick):
        name = label(case)
        for op in ("save", "restore"):
            if op == "restore":
                rows.append(
                    record(NAME, name, "first restore s", "first_restore_s", results, case["id"])
                )
            rows += [
                record(
                    NAME, name, f"{op} s", f"{op}_s", results, case["id"], target="≤ 1.5x real TF"
                ),
                record(
                    NAME,
                    name,
                    f"{op} peak RSS above baseline MB",
                    f"{op}_peak_mb",
                    results,
                    case["id"],
                ),
                record(
                    NAME,
                    name,
                    f"{op} peak ÷ variables' size",
                    f"{op}_peak_x",
                    results,
                    case["id"],
                    target="≤ 1.2",
                ),
            ]
    return rows


if __name__ == "__main__":
    from benchmarks.run_all import main

    main(["--workloads", NAME, *sys.argv[1:]])
