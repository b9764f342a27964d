"""The benchmark harness runs end to end (``--quick``, tiny sizes, real TF and hand-JAX columns).

Only the structure of the results is checked, never a timing: the point is that the harness
cannot rot while tfstyle changes under it.
"""

import importlib.util
import json
import math
import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

needs = [
    name
    for name in ("tensorflow", "tf_keras", "jax", "optax")
    if importlib.util.find_spec(name) is None
]


@pytest.mark.skipif(bool(needs), reason=f"not installed: {', '.join(needs)}")
def test_benchmarks_quick_run_reports_every_cell(tmp_path):
    out = tmp_path / "bench.json"
    md = tmp_path / "bench.md"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", TF_USE_LEGACY_KERAS="1")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks",
            "--quick",
            "--columns",
            "tf,jax",
            "--json",
            str(out),
            "--markdown",
            str(md),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]

    data = json.loads(out.read_text())
    assert data["meta"]["columns"] == ["tf", "jax"]
    records = data["records"]
    assert {r["workload"] for r in records} == {"session", "training", "checkpoint"}
    failures = []
    for r in records:
        for framework in ("tf", "jax"):
            value = r["values"].get(framework)
            if value is None or not math.isfinite(value) or value < 0:
                failures.append((r["case"], r["metric"], framework, r["errors"].get(framework)))
    assert not failures, failures

    text = md.read_text()
    assert text in proc.stdout
    for title in ("Session.run overhead", "Training", "Checkpoints"):
        assert f"### {title}" in text
    assert "n/a" not in text


FAKE_WORKLOAD = """
import os, time
from benchmarks.common import Prepared

def prepare_case(framework, case, settings):
    if framework == "tf":
        raise NotImplementedError("no lowering for FancyOp")
    blocks = []

    def block():
        blocks.append(None)
        if framework == "tfstyle" and len(blocks) == 3:
            os._exit(3)
        t0 = time.time()
        time.sleep(0.02)
        with open(os.path.join(case["log"], framework), "a") as f:
            f.write(f"{t0} {time.time()}\\n")
        return 0.02

    return Prepared({"first_step_s": 0.5}, 10, block, lambda: {"peak_rss_mb": 1.0})
"""


def test_lockstep_takes_turns_and_survives_failing_workers(tmp_path, monkeypatch):
    """Only one worker runs a block at a time; a worker that fails to prepare or dies leaves an
    error for its framework while the others are measured to the end."""
    from benchmarks.common import Worker, lockstep

    (tmp_path / "fake_workload.py").write_text(FAKE_WORKLOAD)
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    case = {"id": "x", "log": str(tmp_path)}
    job = {"module": "fake_workload", "case": case, "settings": {"rounds": 5}}
    workers = {f: Worker(f, timeout=60) for f in ("tf", "tfstyle", "jax")}
    try:
        results = lockstep(workers, job, log=lambda message: None)
    finally:
        for worker in workers.values():
            worker.close()

    assert results["tf"] == {"error": "NotImplementedError: no lowering for FancyOp"}
    assert results["tfstyle"]["error"].startswith("worker exited with status 3")
    assert results["tfstyle"]["first_step_s"] == 0.5
    jax = results["jax"]
    assert jax["steps_per_s"] == jax["steps_per_s_best"] == 500
    assert jax["peak_rss_mb"] == 1.0 and len(jax["block_seconds"]) == 5
    spans = sorted(
        (float(start), float(end), name)
        for name in ("tfstyle", "jax")
        for start, end in (line.split() for line in (tmp_path / name).read_text().splitlines())
    )
    assert [name for _, _, name in spans] == ["tfstyle", "jax"] * 2 + ["jax"] * 3
    assert all(end <= next_start for (_, end, _), (next_start, _, _) in zip(spans, spans[1:]))
