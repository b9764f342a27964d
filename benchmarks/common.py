"""Shared pieces of the harness: frameworks, timers, memory probes, worker subprocesses, records.

Columns (frameworks):

- ``tf``: real TensorFlow, ``tensorflow.compat.v1`` with eager execution disabled;
- ``tfstyle``: ``tfstyle.compat.v1`` running the very same TF1 code;
- ``jax``: the same computation written by hand with ``jax.jit`` (and optax).

A workload module defines ``NAME``, ``TITLE``, ``ISOLATE``, ``cases(quick)``, ``settings(quick)``,
``measure_case(framework, case, settings)`` (run inside a worker subprocess, returns a dict of
metric values) and ``records(results, quick)`` (turns the collected results into table rows).
A module with ``LOCKSTEP = True`` defines ``prepare_case(framework, case, settings)`` instead,
returning a ``Prepared`` whose timed blocks the frameworks' workers run in turns (``lockstep``);
its settings give the number of ``rounds``.
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import resource
import select
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable

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


@dataclasses.dataclass
class Prepared:
    """A case built, initialised and warmed up in a worker, ready for timed blocks.

    ``block()`` runs ``steps`` steps and returns their seconds; ``finish()`` returns the
    metrics known only at the end (peak RSS, say). ``metrics`` holds those measured while
    preparing (first-step latency). ``fetching``, if given, is ``(steps, block)`` of blocks whose
    every step waits for its fetched loss, as a TF1 training loop does.
    """

    metrics: dict
    steps: int
    block: Callable[[], float]
    finish: Callable[[], dict]
    fetching: tuple | None = None


def timed_blocks(step, sync_step, *, block_s: float) -> tuple:
    """``(steps, block)``: a block of ``step()`` calls ended by one ``sync_step()``, about
    ``block_s`` long, and a function that runs one and returns its seconds.

    ``sync_step`` does a step and waits for its result (a fetched loss), so asynchronous
    dispatch cannot make a block look shorter than the work in it.
    """
    estimates = []
    for _ in range(3):
        t0 = time.perf_counter()
        sync_step()
        estimates.append(time.perf_counter() - t0)
    steps = max(1, min(1000, round(block_s / max(min(estimates), 1e-6))))

    def block() -> float:
        t0 = time.perf_counter()
        for _ in range(steps - 1):
            step()
        sync_step()
        return time.perf_counter() - t0

    return steps, block


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


class WorkerError(Exception):
    """A worker subprocess died or did not answer in time."""


class Worker:
    """A ``benchmarks._worker`` subprocess for one framework, asked one request at a time.

    Once it has failed, every later request raises the same error, so the jobs it never ran
    get cells that say why.
    """

    def __init__(self, framework: str, timeout: float):
        self.timeout = timeout
        self.failure = None
        # A file rather than a pipe: nobody reads stderr while the worker runs, and a full
        # pipe would stall it.
        self._stderr = tempfile.TemporaryFile()
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks._worker", framework],
            cwd=ROOT,
            env=_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            bufsize=0,  # unbuffered, so that select() sees every reply
        )

    def ask(self, request: dict) -> dict:
        """The worker's reply to ``request``; raises ``WorkerError`` if none comes in time."""
        if self.failure is None:
            try:
                self._proc.stdin.write(json.dumps(request).encode() + b"\n")
                ready, _, _ = select.select([self._proc.stdout], [], [], self.timeout)
                line = self._proc.stdout.readline() if ready else None
            except OSError:  # a broken pipe: the worker has died
                line = b""
            if line:
                return json.loads(line)
            self._stop()
            if line is None:
                self.failure = f"worker timed out after {self.timeout:.0f} s"
            else:
                self.failure = f"worker exited with status {self._proc.returncode}"
                self._stderr.seek(0)
                tail = _last_line(self._stderr.read().decode(errors="replace"))
                self.failure += f": {tail}" if tail else ""
        raise WorkerError(self.failure)

    def _stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.kill()
        self._proc.wait()

    def close(self) -> None:
        """Ends the worker: end of input, then a kill if it does not exit."""
        try:
            self._proc.stdin.close()
            self._proc.wait(timeout=60)
        except (OSError, subprocess.TimeoutExpired):
            self._stop()
        self._stderr.close()


def _ask(worker: Worker, request: dict) -> dict:
    try:
        return worker.ask(request)
    except WorkerError as exc:
        return {"error": str(exc)}


def lockstep(workers: dict, job: dict, log) -> dict:
    """Steady-state steps/s of one case for every framework, measured in turns.

    Each worker prepares the case (build, initialisation, warm-up) while the others wait, so
    its first-step latency is its own. Then, for ``settings["rounds"]`` rounds, the workers
    take turns at one timed block each, the others blocked on reading their input: every
    framework's blocks are spread over the same stretch of time and see the same load of the
    machine, which a noisy shared host would otherwise give to one framework and not another.
    A framework whose worker fails drops out; the others go on. Returns
    ``{framework: metrics}``: the median block's rate is ``steps_per_s``, the best block's
    ``steps_per_s_best``.
    """
    results, steps, seconds = {}, {}, {}
    for framework, worker in workers.items():
        t0 = time.perf_counter()
        reply = _ask(worker, {"prepare": job})
        log(f"{framework}: prepared {job['case']['id']} ({time.perf_counter() - t0:.1f} s)")
        if "error" in reply:
            results[framework] = reply
        else:
            results[framework], steps[framework] = reply["metrics"], reply["steps"]
            seconds[framework] = {"block": []}
            if reply.get("fetching_steps"):
                seconds[framework]["fetching"] = []
                steps[framework, "fetching"] = reply["fetching_steps"]
    t0 = time.perf_counter()
    for _ in range(job["settings"]["rounds"]):
        for kind in ("block", "fetching"):
            for framework in [f for f in seconds if kind in seconds[f]]:
                reply = _ask(workers[framework], {"block": kind})
                if "error" in reply:
                    results[framework]["error"] = reply["error"]
                    del seconds[framework]
                else:
                    seconds[framework][kind].append(reply["seconds"])
    log(
        f"{', '.join(workers)}: {job['case']['id']} in lockstep, {job['settings']['rounds']} "
        f"rounds ({time.perf_counter() - t0:.1f} s)"
    )
    for framework, times in seconds.items():
        rates = [steps[framework] / t for t in times["block"]]
        results[framework].update(
            _ask(workers[framework], {"finish": True}),
            steps_per_s=statistics.median(rates),
            steps_per_s_best=max(rates),
            block_steps=steps[framework],
            block_seconds=times["block"],
        )
        if times.get("fetching"):
            n = steps[framework, "fetching"]
            results[framework].update(
                steps_per_s_fetching=statistics.median(n / t for t in times["fetching"]),
                fetching_block_steps=n,
                fetching_block_seconds=times["fetching"],
            )
    return results


def _jobs(module, quick: bool) -> list:
    settings = module.settings(quick)
    return [
        {"module": module.__name__, "case": case, "settings": settings}
        for case in module.cases(quick)
    ]


def _groups(module, quick: bool) -> list:
    """The jobs of ``module`` split into lists, one set of worker subprocesses each."""
    jobs = _jobs(module, quick)
    isolate = getattr(module, "ISOLATE", False) and not quick
    return [[job] for job in jobs] if isolate else [jobs]


def collect(modules, columns, quick: bool, timeout: float, log=None) -> dict:
    """Runs every case of the workload ``modules`` for each column.

    Returns ``{module.NAME: {framework: {case_id: metrics}}}``. A module with ``ISOLATE = True``
    gets new subprocesses for each case, so that peak memory is per case; any other module
    one subprocess per framework for all its cases. A module with ``LOCKSTEP = True`` has the
    frameworks' workers alive together and measured in turns (``lockstep``); the others'
    workers run one after another. ``--quick`` runs everything of one framework in a single
    subprocess, to keep the smoke run short.
    """
    log = log or (lambda message: None)
    results = {module.NAME: {framework: {} for framework in columns} for module in modules}
    # A framework that cannot even be imported is not started (TF's import is slow to probe).
    skipped = {f: probe(f) for f in columns if f == "tfstyle"}
    skipped = {f: error for f, error in skipped.items() if error}
    runnable = [f for f in columns if f not in skipped]
    shared = {f: Worker(f, timeout) for f in runnable} if quick else None
    try:
        for module in modules:
            cells = results[module.NAME]
            for jobs in _groups(module, quick):
                what = ", ".join(f"{module.NAME}/{job['case']['id']}" for job in jobs)
                for framework, error in skipped.items():
                    log(f"{framework}: {what} (skipped, {error})")
                    for job in jobs:
                        cells[framework][job["case"]["id"]] = {"error": error}
                if getattr(module, "LOCKSTEP", False):
                    workers = shared or {f: Worker(f, timeout) for f in runnable}
                    try:
                        for job in jobs:
                            for framework, metrics in lockstep(workers, job, log).items():
                                cells[framework][job["case"]["id"]] = metrics
                    finally:
                        if not shared:
                            for worker in workers.values():
                                worker.close()
                    continue
                for framework in runnable:
                    t0 = time.perf_counter()
                    worker = shared[framework] if shared else Worker(framework, timeout)
                    try:
                        for job in jobs:
                            cells[framework][job["case"]["id"]] = _ask(worker, {"measure": job})
                    finally:
                        if not shared:
                            worker.close()
                    log(f"{framework}: {what} ({time.perf_counter() - t0:.1f} s)")
    finally:
        for worker in (shared or {}).values():
            worker.close()
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
