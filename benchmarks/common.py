"""Shared pieces of the harness: frameworks, timers, memory probes, worker subprocesses, records.

Columns (frameworks):

- ``tf``: real TensorFlow, ``tensorflow.compat.v1`` with eager execution disabled;
- ``tfstyle``: ``tfstyle.compat.v1`` running the very same TF1 code;
- ``jax``: the same computation written by hand with ``jax.jit`` (and optax).

A workload module defines ``NAME``, ``TITLE``, ``ISOLATE``, ``cases(quick)``, ``settings(quick)``,
``measure_case(framework, case, settings)`` (run inside a worker subprocess, returns a dict of
metric values) and ``records(results, quick)`` (turns the collected results into table rows).
"""

from __future__ import annotations

import gc
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COLUMNS = ("tf", "tfstyle", "jax")
LABELS = {"tf": "real TF", "tfstyle": "tfstyle", "jax": "hand JAX"}

_TF_ENV = {"TF_CPP_MIN_LOG_LEVEL": "3", "TF_USE_LEGACY_KERAS": "1"}


# --------------------------------------------------------------------------- frameworks


def load_tf1(framework: str):
    """The ``tf`` module a TF1 program is written against: real TF or tfstyle."""
    if framework == "tf":
        for key, value in _TF_ENV.items():
            os.environ.setdefault(key, value)
        import tensorflow.compat.v1 as tf

        tf.disable_eager_execution()
        return tf
    if framework == "tfstyle":
        import tfstyle.compat.v1 as tf

        return tf
    raise ValueError(f"not a TF1 framework: {framework!r}")


def describe(exc: BaseException) -> str:
    """One line naming an exception, for a table cell and the JSON file."""
    text = str(exc).strip().splitlines()
    first = text[0] if text else ""
    line = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return line[:300]


def attempt(out: dict, keys, fn) -> None:
    """Runs ``fn()`` (returning a dict of metrics) into ``out``; on failure marks ``keys`` failed."""
    try:
        out.update(fn())
    except Exception as exc:  # a failing sub-case must not hide the others
        errors = out.setdefault("errors", {})
        for key in keys:
            errors[key] = describe(exc)


# --------------------------------------------------------------------------- timers


def median_us(
    fn, *, budget_s: float = 1.0, min_calls: int = 20, max_calls: int = 20000, warmup: int = 10
) -> float:
    """Median wall time of one call of ``fn`` in microseconds, after ``warmup`` calls."""
    for _ in range(warmup):
        fn()
    times = []
    deadline = time.perf_counter() + budget_s
    while len(times) < max_calls and (len(times) < min_calls or time.perf_counter() < deadline):
        t0 = time.perf_counter_ns()
        fn()
        times.append(time.perf_counter_ns() - t0)
    return statistics.median(times) / 1e3


def steps_per_second(step, sync_step, *, budget_s: float, min_blocks: int = 3) -> float:
    """Steady-state throughput: blocks of ``step()`` calls, each ended by one ``sync_step()``.

    ``sync_step`` does a step and waits for its result (a fetched loss), so asynchronous
    dispatch cannot make a block look shorter than the work in it. Returns the median rate.
    """
    t0 = time.perf_counter()
    sync_step()
    estimate = max(time.perf_counter() - t0, 1e-6)
    per_block = max(1, min(1000, int(budget_s / 8 / estimate)))
    rates = []
    deadline = time.perf_counter() + budget_s
    while len(rates) < min_blocks or time.perf_counter() < deadline:
        t0 = time.perf_counter()
        for _ in range(per_block - 1):
            step()
        sync_step()
        rates.append(per_block / (time.perf_counter() - t0))
    return statistics.median(rates)


def timed(fn):
    """``(seconds, result)`` of one call."""
    t0 = time.perf_counter()
    result = fn()
    return time.perf_counter() - t0, result


# --------------------------------------------------------------------------- memory (MB = 1e6 B)


def _status_kb(field: str) -> float | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def rss_mb() -> float:
    """Current resident set size of this process."""
    kb = _status_kb("VmRSS")
    if kb is None:
        return process_peak_rss_mb()
    return kb * 1024 / 1e6


def process_peak_rss_mb() -> float:
    """Peak resident set size of this process over its whole life."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak * 1024 / 1e6


class PeakRSS:
    """Peak RSS inside a ``with`` block: the kernel's high-water mark, reset on entry.

    Uses ``/proc/self/clear_refs`` (Linux) to reset ``VmHWM``; where that is not possible, a
    thread samples the RSS every millisecond instead.
    """

    def __enter__(self):
        self.peak_mb = None
        self._stop = None
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")
            self._hwm = _status_kb("VmHWM") is not None
        except OSError:
            self._hwm = False
        if not self._hwm:
            self._samples = [rss_mb()]
            self._stop = threading.Event()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self):
        while not self._stop.wait(0.001):
            self._samples.append(rss_mb())

    def __exit__(self, *exc):
        if self._hwm:
            self.peak_mb = _status_kb("VmHWM") * 1024 / 1e6
        else:
            self._stop.set()
            self._thread.join()
            self._samples.append(rss_mb())
            self.peak_mb = max(self._samples)
        return False


def settle() -> None:
    gc.collect()


# --------------------------------------------------------------------------- worker subprocesses


def _env() -> dict:
    env = dict(os.environ)
    for key, value in _TF_ENV.items():
        env.setdefault(key, value)
    env["PYTHONPATH"] = ROOT + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    return env


def _last_line(text: str) -> str:
    lines = [line.strip() for line in (text or "").splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


_PROBES: dict = {}


def probe(framework: str, timeout: float = 120) -> str | None:
    """``None`` if ``framework`` imports in a fresh interpreter, else the error line."""
    if framework in _PROBES:
        return _PROBES[framework]
    module = {"tf": "tensorflow.compat.v1", "tfstyle": "tfstyle.compat.v1", "jax": "jax"}
    code = f"import {module[framework]}"
    try:
        proc = subprocess.run(
            [sys.executable, "-c", code],
            cwd=ROOT,
            env=_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        error = None if proc.returncode == 0 else _last_line(proc.stderr) or "import failed"
    except subprocess.TimeoutExpired:
        error = f"import timed out after {timeout:.0f} s"
    _PROBES[framework] = error
    return error


def run_worker(framework: str, jobs: list, timeout: float) -> list:
    """Measures ``jobs`` (``{"module", "case", "settings"}``) for ``framework`` in a new process.

    Returns one metrics dict per job; a job that did not report (the worker crashed or timed
    out) gets ``{"error": ...}``.
    """
    with tempfile.TemporaryDirectory(prefix="tfstyle-bench-") as tmp:
        out = os.path.join(tmp, "result.json")
        cmd = [sys.executable, "-m", "benchmarks._worker", framework, json.dumps(jobs), out]
        try:
            proc = subprocess.run(
                cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=timeout
            )
            failure = None
            if proc.returncode != 0:
                failure = f"worker exited with status {proc.returncode}"
                tail = _last_line(proc.stderr)
                failure += f": {tail}" if tail else ""
        except subprocess.TimeoutExpired:
            failure = f"worker timed out after {timeout:.0f} s"
        results = []
        if os.path.exists(out):
            with open(out) as f:
                results = json.load(f)
    return results + [{"error": failure or "no result"}] * (len(jobs) - len(results))


def _jobs(module, quick: bool) -> list:
    settings = module.settings(quick)
    return [
        {"module": module.__name__, "case": case, "settings": settings}
        for case in module.cases(quick)
    ]


def _groups(modules, quick: bool) -> list:
    """The jobs of ``modules`` split into lists, one worker subprocess each."""
    if quick:
        return [[job for module in modules for job in _jobs(module, quick)]]
    groups = []
    for module in modules:
        jobs = _jobs(module, quick)
        groups += [[job] for job in jobs] if getattr(module, "ISOLATE", False) else [jobs]
    return groups


def collect(modules, columns, quick: bool, timeout: float, log=None) -> dict:
    """Runs every case of the workload ``modules`` for each column.

    Returns ``{module.NAME: {framework: {case_id: metrics}}}``. A module with ``ISOLATE = True``
    gets one subprocess per (case, framework) pair, so that peak memory is per case; any other
    module one subprocess per framework. ``--quick`` runs everything of one framework in a
    single subprocess, to keep the smoke run short.
    """
    names = {module.__name__: module.NAME for module in modules}
    results = {module.NAME: {framework: {} for framework in columns} for module in modules}
    for framework in columns:
        error = probe(framework) if framework == "tfstyle" else None  # TF's import is slow
        for group in _groups(modules, quick):
            t0 = time.perf_counter()
            if error:
                metrics = [{"error": error}] * len(group)
            else:
                metrics = run_worker(framework, group, timeout)
            for job, result in zip(group, metrics):
                results[names[job["module"]]][framework][job["case"]["id"]] = result
            if log:
                what = ", ".join(f"{names[job['module']]}/{job['case']['id']}" for job in group)
                took = f"skipped, {error}" if error else f"{time.perf_counter() - t0:.1f} s"
                log(f"{framework}: {what} ({took})")
    return results


def merge(runs: list) -> dict:
    """Several ``collect`` results into one: each metric the median over the runs that have it.

    A metric missing from every run keeps the error of the last run.
    """
    merged = {}
    for framework in runs[-1]:
        merged[framework] = {}
        for case_id, last in runs[-1][framework].items():
            samples = [run.get(framework, {}).get(case_id, {}) for run in runs]
            keys = {k for m in samples for k, v in m.items() if isinstance(v, (int, float))}
            metrics = {k: statistics.median(m[k] for m in samples if k in m) for k in keys}
            for m in samples:
                for key, error in m.get("errors", {}).items():
                    if key not in keys:
                        metrics.setdefault("errors", {})[key] = error
            if "error" in last:
                metrics["error"] = last["error"]
            merged[framework][case_id] = metrics
    return merged


# --------------------------------------------------------------------------- records


def record(
    workload: str,
    case: str,
    metric: str,
    key: str,
    results: dict,
    case_id: str,
    *,
    target: str = "",
    better: str = "lower",
    columns=COLUMNS,
) -> dict:
    """One table row: metric ``key`` of ``case_id`` for every column (a value or an error)."""
    values, errors = {}, {}
    for framework in columns:
        if framework not in results:
            continue
        metrics = results[framework].get(case_id, {})
        value = metrics.get(key)
        if value is not None:
            values[framework] = value
        else:
            errors[framework] = (
                metrics.get("errors", {}).get(key) or metrics.get("error") or "not measured"
            )
    return {
        "workload": workload,
        "case": case,
        "metric": metric,
        "key": key,
        "better": better,
        "target": target,
        "values": values,
        "errors": errors,
    }
