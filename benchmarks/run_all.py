"""Runs the benchmarks and prints markdown tables; optionally writes them and a JSON file.

    python -m benchmarks                                    # all workloads, all columns
    python -m benchmarks --quick                            # tiny sizes, a smoke run
    python -m benchmarks --workloads session,training       # a selection
    python -m benchmarks --columns tf,jax --json bench.json --markdown bench.md

Columns: ``tf`` (real TensorFlow, ``compat.v1`` graph mode), ``tfstyle`` (the same TF1 code on
tfstyle; a cell reads "n/a (error: ...)" while tfstyle cannot run it) and ``jax`` (the same
model written by hand in JAX). Each framework is measured in its own subprocess; for training,
the three subprocesses of a model take turns at timed blocks of steps (lockstep), so that they
share the same load of the machine. Progress goes to stderr, the tables to stdout.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import time

from benchmarks import checkpoint, session_overhead, training
from benchmarks.common import COLUMNS, ROOT, collect, merge, probe
from benchmarks.report import table

WORKLOADS = {m.NAME: m for m in (session_overhead, training, checkpoint)}


def _version(*dists: str) -> str:
    for dist in dists:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return "not installed"


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> str:
    try:
        with open("/proc/meminfo") as f:
            kb = int(f.readline().split()[1])
        return f"{kb / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        return "unknown memory"


def _git(*args: str) -> str:
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10)
        return out.stdout.strip() if out.returncode == 0 else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def _commit() -> str:
    """The checked-out commit, marked when ``tfstyle/`` has uncommitted changes."""
    commit = _git("rev-parse", "--short", "HEAD") or "unknown"
    if _git("status", "--porcelain", "--", "tfstyle"):
        commit += " + uncommitted changes in tfstyle/"
    return commit


def _accelerator() -> str:
    """JAX's default device, asked in a subprocess so that this process holds no GPU memory."""
    code = "import jax; d = jax.devices()[0]; print(d.platform, '|', getattr(d, 'device_kind', ''))"
    try:
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if out.returncode != 0 or "|" not in out.stdout:
        return "unknown"
    platform_name, kind = (part.strip() for part in out.stdout.strip().splitlines()[-1].split("|"))
    return "CPU" if platform_name == "cpu" else f"{platform_name.upper()} {kind}".strip()


def _load() -> float | None:
    """The 1-minute load average: how busy a shared host was (the timings' noise)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def meta(columns, quick: bool) -> dict:
    if "tfstyle" not in columns:
        tfstyle = "not run"
    else:
        error = probe("tfstyle")
        tfstyle = "imports" if error is None else f"unavailable ({error})"
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{_cpu_model()}, {os.cpu_count()} cores, {_memory_gib()}, "
        f"{platform.system()} {platform.machine()}",
        "jax_device": _accelerator() if {"tfstyle", "jax"} & set(columns) else "not run",
        "python": platform.python_version(),
        "tensorflow": _version("tensorflow-cpu", "tensorflow"),
        "jax": _version("jax"),
        "jaxlib": _version("jaxlib"),
        "optax": _version("optax"),
        "numpy": _version("numpy"),
        "tfstyle": tfstyle,
        "commit": _commit(),
        "mode": "quick (tiny sizes, smoke run)" if quick else "default",
        "columns": list(columns),
        "load_average_start": _load(),
    }


def markdown(info: dict, sections: list, columns) -> str:
    head = (
        f"Machine: {info['machine']}; JAX device {info['jax_device']}; Python {info['python']}, TF {info['tensorflow']}, "
        f"JAX {info['jax']}, optax {info['optax']}, NumPy {info['numpy']}; "
        f"tfstyle {info['tfstyle']}; commit {info['commit']}; {info['date']}; "
        f"mode: {info['mode']}"
    )
    if info["repeats"] > 1:
        head += f"; each cell the median of {info['repeats']} runs"
    head += (
        f"; load average {info['load_average_start']} at the start, "
        f"{info['load_average_end']} at the end ({os.cpu_count()} cores)."
    )
    note = (
        "Ratios are plain quotients of the two cells: for steps/s higher is better, for "
        "times and memory lower is better."
    )
    parts = [head, "", note, ""]
    for title, records in sections:
        parts += [table(title, records, columns)]
    return "\n".join(parts)


def _split(text: str, allowed, flag: str) -> list:
    items = [item.strip() for item in text.split(",") if item.strip()]
    unknown = [item for item in items if item not in allowed]
    if unknown:
        raise SystemExit(f"{flag}: unknown {', '.join(unknown)}; choose from {', '.join(allowed)}")
    return items


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--workloads",
        default=",".join(WORKLOADS),
        help="comma-separated, from: " + ", ".join(WORKLOADS),
    )
    parser.add_argument(
        "--columns", default=",".join(COLUMNS), help="comma-separated, from: " + ", ".join(COLUMNS)
    )
    parser.add_argument("--quick", action="store_true", help="tiny sizes and short timings")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON here")
    parser.add_argument("--markdown", metavar="PATH", help="write the tables here too")
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds a worker subprocess may take to answer one request, such as one case's "
        "measurement (default 300, quick 120)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        metavar="K",
        help="run everything K times, interleaved, and report each cell's median (noisy hosts)",
    )
    args = parser.parse_args(argv)
    workloads = _split(args.workloads, list(WORKLOADS), "--workloads")
    columns = [c for c in COLUMNS if c in _split(args.columns, COLUMNS, "--columns")]
    timeout = args.timeout or (120 if args.quick else 300)

    def log(message):
        print(message, file=sys.stderr, flush=True)

    info = meta(columns, args.quick)
    info["repeats"] = max(1, args.repeat)
    raw = {name: [] for name in workloads}
    for repeat in range(info["repeats"]):
        if args.quick:  # one worker per framework for everything: the quickest smoke run
            runs = [collect([WORKLOADS[n] for n in workloads], columns, True, timeout, log)]
        else:
            runs = []
            for name in workloads:
                t0 = time.perf_counter()
                runs.append(collect([WORKLOADS[name]], columns, False, timeout, log))
                log(f"{name}: run {repeat + 1} done in {time.perf_counter() - t0:.1f} s")
        for run in runs:
            for name, results in run.items():
                raw[name].append(results)
    info["load_average_end"] = _load()
    sections, all_records = [], []
    for name in workloads:
        module = WORKLOADS[name]
        records = module.records(merge(raw[name]), args.quick)
        sections.append((module.TITLE, records))
        all_records += records
    text = markdown(info, sections, columns)
    print(text)
    data = {"meta": info, "records": all_records, "raw": raw}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(data, f, indent=1, ensure_ascii=False)
    if args.markdown:
        with open(args.markdown, "w") as f:
            f.write(text)
    return data


if __name__ == "__main__":
    main()
