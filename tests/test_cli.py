"""The ``tfstyle`` command: run an unmodified TF1 script; check which APIs it uses."""

import subprocess
import sys

SCRIPT = """
import tensorflow as tf
import tensorflow.compat.v1 as tf1
tf1.disable_eager_execution()
tf.logging.set_verbosity(tf.logging.ERROR)
x = tf.placeholder(tf.float32, [None, 2])
with tf.Session() as sess:
    print("result", sess.run(x * 2, {x: [[1, 2]]}).tolist())
"""


def _tfstyle(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "tfstyle.cli", *args], cwd=cwd, capture_output=True, text=True
    )


def test_run_maps_tensorflow_to_tfstyle(tmp_path):
    (tmp_path / "legacy.py").write_text(SCRIPT)
    r = _tfstyle("run", "legacy.py", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "result [[2.0, 4.0]]" in r.stdout


def test_check_lists_missing_apis(tmp_path):
    (tmp_path / "ok.py").write_text(SCRIPT)
    (tmp_path / "bad.py").write_text(SCRIPT + "\ny = tf.not_an_api.thing(x)\n")
    ok = _tfstyle("check", "ok.py", cwd=tmp_path)
    assert ok.returncode == 0 and "are provided by tfstyle" in ok.stdout
    bad = _tfstyle("check", "bad.py", cwd=tmp_path)
    assert bad.returncode == 1
    assert "bad.py:10: tf.not_an_api is not provided by tfstyle" in bad.stdout
