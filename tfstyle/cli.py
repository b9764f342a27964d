"""The ``tfstyle`` command.

tfstyle run script.py [args...]   run an unmodified TF1 script with ``tensorflow`` mapped
                                  to tfstyle
tfstyle check script.py [...]     list the TF APIs a script uses that tfstyle lacks
"""

import argparse
import ast
import importlib
import importlib.abc
import importlib.util
import runpy
import sys

# What a TF1 script imports -> the tfstyle module that serves it.
_ALIASES = {
    "tensorflow": "tfstyle",
    "tensorflow.compat": "tfstyle.compat",
    "tensorflow.compat.v1": "tfstyle.compat.v1",
}


class _AliasFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        if fullname in _ALIASES:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        return importlib.import_module(_ALIASES[spec.name])

    def exec_module(self, module):
        pass


def install_tensorflow_alias():
    """Makes ``import tensorflow`` (and ``tensorflow.compat.v1``) import tfstyle."""
    if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _AliasFinder())


def _run(args):
    install_tensorflow_alias()
    sys.argv = [args.script] + list(args.args)
    runpy.run_path(args.script, run_name="__main__")
    return 0


def _tf_names(tree):
    """``tf.a.b`` attribute chains used in a module, for every alias of tensorflow."""
    aliases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name in ("tensorflow", "tensorflow.compat.v1"):
                    aliases.add(a.asname or a.name)
        elif isinstance(node, ast.ImportFrom) and node.module == "tensorflow.compat":
            for a in node.names:
                if a.name == "v1":
                    aliases.add(a.asname or "v1")
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            parts = []
            cur = node
            while isinstance(cur, ast.Attribute):
                parts.append(cur.attr)
                cur = cur.value
            if isinstance(cur, ast.Name) and cur.id in aliases:
                found.setdefault(".".join(reversed(parts)), node.lineno)
    # Keep only maximal chains' prefixes that are distinct lookups.
    return found


def _missing(name):
    import tfstyle.compat.v1 as tf

    obj = tf
    for part in name.split("."):
        if part in ("compat", "v1") and obj is tf:
            continue
        try:
            obj = getattr(obj, part)
        except AttributeError:
            return True
        if not isinstance(obj, type(tf)) and not isinstance(obj, type):
            return False  # an attribute of a function/object: not a module-level API
    return False


def _check(args):
    status = 0
    for path in args.scripts:
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), filename=path)
        names = _tf_names(tree)
        missing = sorted((n, line) for n, line in names.items() if _missing(n))
        # Report each missing API once, at its shortest missing prefix.
        reported = set()
        for n, line in missing:
            if any(n.startswith(r + ".") for r in reported):
                continue
            reported.add(n)
            print(f"{path}:{line}: tf.{n} is not provided by tfstyle")
        if reported:
            status = 1
        else:
            print(f"{path}: all {len(names)} TF APIs used are provided by tfstyle")
    return status


def main(argv=None):
    parser = argparse.ArgumentParser(prog="tfstyle", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a TF1 script with tensorflow mapped to tfstyle")
    run.add_argument("script")
    run.add_argument("args", nargs=argparse.REMAINDER)
    check = sub.add_parser("check", help="list TF APIs a script uses that tfstyle lacks")
    check.add_argument("scripts", nargs="+")
    args = parser.parse_args(argv)
    return _run(args) if args.command == "run" else _check(args)


if __name__ == "__main__":
    sys.exit(main())
