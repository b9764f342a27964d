"""The scripts in ``examples/`` run unchanged on tfstyle and learn the digits.

Each script runs in its own Python process on the tfstyle backend (``TFSTYLE_BACKEND`` unset)
with a short step count, exits 0 and ends with a line ``test accuracy: 0.xxx``. At these step
counts real TensorFlow reaches 0.89 to 0.98 test accuracy for every seed tried (chance is 0.1),
so a threshold of 0.8 leaves room for tfstyle's different random streams while still proving
that the model trained.
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
THRESHOLD = 0.8


def run_example(name, *args, cwd):
    env = dict(os.environ)
    env.pop("TFSTYLE_BACKEND", None)  # the default backend: tfstyle
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / f"{name}.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    if proc.returncode != 0:
        pytest.fail(
            f"examples/{name}.py exited {proc.returncode}\n"
            f"--- stdout ---\n{proc.stdout[-3000:]}\n--- stderr ---\n{proc.stderr[-6000:]}",
            pytrace=False,
        )
    lines = proc.stdout.strip().splitlines() or [""]
    match = re.fullmatch(r"test accuracy: (\d+\.\d+)", lines[-1].strip())
    if match is None:
        pytest.fail(f"examples/{name}.py: last line {lines[-1]!r}\n{proc.stdout[-3000:]}")
    return float(match.group(1)), proc.stdout


@pytest.mark.parametrize(
    "name, steps",
    [
        ("demo", 100),
        ("softmax_regression", 100),
        ("cnn", 100),
        ("lstm", 150),
    ],
)
def test_example_trains(name, steps, tmp_path):
    accuracy, stdout = run_example(name, "--steps", str(steps), cwd=tmp_path)
    assert accuracy > THRESHOLD, f"examples/{name}.py: test accuracy {accuracy}\n{stdout}"


def test_mlp_trains_writes_summaries_and_restores_checkpoint(tmp_path):
    logdir = tmp_path / "logs"
    steps = 150
    accuracy, stdout = run_example(
        "mlp", "--steps", str(steps), "--logdir", str(logdir), cwd=tmp_path
    )
    assert accuracy > THRESHOLD, f"examples/mlp.py: test accuracy {accuracy}\n{stdout}"
    # The checkpoint restored into a fresh session carries the global step of the last update.
    assert f"restored at global step {steps}" in stdout
    files = {p.name for p in logdir.iterdir()}
    assert any(f.startswith("events.out.tfevents.") for f in files), files
    assert {"checkpoint", f"model.ckpt-{steps}.index"} <= files, files
    assert any(f.startswith(f"model.ckpt-{steps}.data-") for f in files), files


def test_monitored_training_resumes_from_its_checkpoint(tmp_path):
    logdir = tmp_path / "logs"
    accuracy, stdout = run_example(
        "monitored_training", "--steps", "100", "--logdir", str(logdir), cwd=tmp_path
    )
    assert accuracy > THRESHOLD, f"examples/monitored_training.py: {accuracy}\n{stdout}"
    assert "global step 100:" in stdout
    # A second run restores the checkpoint and continues the global step.
    _, stdout = run_example(
        "monitored_training", "--steps", "50", "--logdir", str(logdir), cwd=tmp_path
    )
    assert "global step 150:" in stdout and "checkpoint: model.ckpt-150" in stdout
    files = {p.name for p in logdir.iterdir()}
    assert {"checkpoint", "graph.pbtxt", "model.ckpt-0.index", "model.ckpt-150.index"} <= files
