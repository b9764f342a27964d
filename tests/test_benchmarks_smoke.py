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
