"""``tf.gfile``, ``tf.flags`` and ``tf.app.run`` against real TF: results, exception classes and
messages on a temporary directory; a script's flags and exit status."""

import os
import subprocess
import sys
import textwrap

import pytest

import tfstyle.compat.v1 as tfs
from tests.oracle import tf1


def _gfile_story(tf, root):
    """Every gfile call on a fresh directory, each result or error as text (paths relative)."""
    g = tf.gfile
    out = []

    def record(label, fn):
        try:
            value = fn()
            if isinstance(value, list):
                value = sorted(value)
            out.append((label, "ok", repr(value).replace(root, "D")))
        except Exception as e:  # the class and message are what is compared
            out.append((label, type(e).__name__, str(e).replace(root, "D")))

    record("makedirs", lambda: g.MakeDirs(os.path.join(root, "a", "b")))
    record("mkdir existing", lambda: g.MkDir(os.path.join(root, "a")))
    record("mkdir no parent", lambda: g.MkDir(os.path.join(root, "x", "y")))
    with g.GFile(os.path.join(root, "a", "t.txt"), "w") as f:
        f.write("line1\nline2\r\n")
    with g.GFile(os.path.join(root, "a", "t.bin"), "wb") as f:
        f.write(b"\x00\x01")
    f = g.GFile(os.path.join(root, "a", "t.txt"))
    record("read 3", lambda: f.read(3))
    record("readline", f.readline)
    record("tell", f.tell)
    record("size", f.size)
    record("readlines", f.readlines)
    f.close()
    record("read binary", lambda: g.GFile(os.path.join(root, "a", "t.bin"), "rb").read())
    record("open missing", lambda: g.GFile(os.path.join(root, "nope")).read())
    record("exists", lambda: [g.Exists(os.path.join(root, p)) for p in ("a", "nope")])
    record("isdir", lambda: [g.IsDirectory(os.path.join(root, p)) for p in ("a", "a/t.txt")])
    record("glob", lambda: g.Glob(os.path.join(root, "a", "t.*")))
    record("listdir", lambda: g.ListDirectory(os.path.join(root, "a")))
    record("listdir missing", lambda: g.ListDirectory(os.path.join(root, "nope")))
    record("stat", lambda: (g.Stat(os.path.join(root, "a", "t.txt")).length,
                            g.Stat(os.path.join(root, "a")).is_directory))  # fmt: skip
    record("stat missing", lambda: g.Stat(os.path.join(root, "nope")))
    record("copy", lambda: g.Copy(os.path.join(root, "a", "t.txt"), os.path.join(root, "c.txt")))
    record(
        "copy over", lambda: g.Copy(os.path.join(root, "a", "t.bin"), os.path.join(root, "c.txt"))
    )
    record(
        "rename over",
        lambda: g.Rename(os.path.join(root, "c.txt"), os.path.join(root, "a", "t.bin")),
    )
    record("rename overwrite", lambda: g.Rename(os.path.join(root, "c.txt"),
                                                os.path.join(root, "a", "t.bin"), overwrite=True))  # fmt: skip
    record("walk", lambda: [(d, sorted(s), sorted(f)) for d, s, f in g.Walk(root)])
    record("walk post", lambda: [d for d, _, _ in g.Walk(root, in_order=False)])
    record("remove", lambda: g.Remove(os.path.join(root, "a", "t.bin")))
    record("remove missing", lambda: g.Remove(os.path.join(root, "a", "t.bin")))
    record("rmtree", lambda: g.DeleteRecursively(os.path.join(root, "a")))
    record("rmtree missing", lambda: g.DeleteRecursively(os.path.join(root, "a")))
    return out


def test_gfile_matches_tf(tmp_path):
    want = _gfile_story(tf1(), str(tmp_path / "tf"))
    got = _gfile_story(tfs, str(tmp_path / "tfstyle"))
    assert got == want


def test_flags_accept_tf1_argument_names():
    flags = tfs.flags
    flags.DEFINE_integer(flag_name="tfstyle_test_steps", default_value=3, docstring="steps")
    flags.DEFINE_string("tfstyle_test_name", "x", "a name")
    assert tfs.app.flags.FLAGS is flags.FLAGS
    rest = flags.FLAGS(["prog", "--tfstyle_test_steps=7", "--undefined=1"], known_only=True)
    assert rest == ["prog", "--undefined=1"]
    assert (flags.FLAGS.tfstyle_test_steps, flags.FLAGS.tfstyle_test_name) == (7, "x")


_SCRIPT = """
import sys
import {module} as tf

tf.app.flags.DEFINE_integer("steps", 2, "how many")
FLAGS = tf.app.flags.FLAGS

def main(argv):
    print("steps", FLAGS.steps, "argv", argv[1:])
    return 3

if __name__ == "__main__":
    tf.app.run()
"""


@pytest.mark.parametrize("module", ["tensorflow.compat.v1", "tfstyle.compat.v1"])
def test_app_run_parses_flags_and_exits_with_main_status(tmp_path, module):
    if module.startswith("tensorflow"):
        tf1()
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(_SCRIPT.format(module=module)))
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    result = subprocess.run(
        [sys.executable, str(script), "--steps=5", "extra"],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    assert "steps 5 argv ['extra']" in result.stdout
