"""``tf.gfile`` (and ``tf.io.gfile``'s functions): TF 1.x's file API on the local file system,
with TF's exception classes (``NotFoundError``, ``AlreadyExistsError``) and messages."""

import collections
import glob as _glob
import os
import shutil

from tfstyle.framework import errors


class GFile:
    """A file as ``tf.gfile.GFile`` opens it: text for ``"r"``/``"w"``/``"a"``, bytes with
    ``"b"``; ``size()`` besides the usual file methods."""

    def __init__(self, name, mode="r"):
        self.name = os.fspath(name)
        self.mode = mode
        try:
            self._file = open(self.name, mode)
        except FileNotFoundError:
            raise errors.NotFoundError(
                None, None, f"{self.name}; No such file or directory"
            ) from None

    def size(self):
        return os.stat(self.name).st_size

    def __getattr__(self, attr):
        return getattr(self._file, attr)

    def __iter__(self):
        return iter(self._file)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._file.close()


FastGFile = GFile
Open = GFile

FileStatistics = collections.namedtuple("FileStatistics", ["length", "mtime_nsec", "is_directory"])


def Exists(filename):  # noqa: N802 - TF's names
    return os.path.exists(filename)


def IsDirectory(dirname):  # noqa: N802
    return os.path.isdir(dirname)


def MakeDirs(dirname):  # noqa: N802
    os.makedirs(dirname, exist_ok=True)


def MkDir(dirname):  # noqa: N802
    """Creates ``dirname`` (one level; its parent must exist); nothing if it exists."""
    if os.path.isdir(dirname):
        return
    try:
        os.mkdir(dirname)
    except FileNotFoundError:
        raise errors.NotFoundError(None, None, f"{dirname}; No such file or directory") from None


def Glob(filename):  # noqa: N802
    return _glob.glob(filename)


def ListDirectory(dirname):  # noqa: N802
    if not os.path.isdir(dirname):
        raise errors.NotFoundError(None, None, f"Could not find directory {dirname}")
    return os.listdir(dirname)


def Remove(filename):  # noqa: N802
    try:
        os.remove(filename)
    except FileNotFoundError:
        raise errors.NotFoundError(None, None, f"{filename}; No such file or directory") from None


def DeleteRecursively(dirname):  # noqa: N802
    if not os.path.exists(dirname):
        raise errors.NotFoundError(None, None, f"{dirname} not found")
    if os.path.isdir(dirname):
        shutil.rmtree(dirname)
    else:
        os.remove(dirname)


def Rename(oldname, newname, overwrite=False):  # noqa: N802
    if not overwrite and os.path.exists(newname):
        raise errors.AlreadyExistsError(None, None, "file already exists")
    os.replace(oldname, newname)


def Copy(oldpath, newpath, overwrite=False):  # noqa: N802
    if not overwrite and os.path.exists(newpath):
        raise errors.AlreadyExistsError(None, None, "file already exists")
    shutil.copyfile(oldpath, newpath)


def Stat(filename):  # noqa: N802
    try:
        st = os.stat(filename)
    except FileNotFoundError:
        raise errors.NotFoundError(None, None, f"{filename}; No such file or directory") from None
    return FileStatistics(st.st_size, st.st_mtime_ns, os.path.isdir(filename))


def Walk(top, in_order=True):  # noqa: N802
    """``(dirname, subdirs, files)`` for ``top`` and the directories below it, parents first
    (``in_order``) or last."""
    if not os.path.isdir(top):
        return
    entries = os.listdir(top)
    subdirs = [e for e in entries if os.path.isdir(os.path.join(top, e))]
    files = [e for e in entries if e not in subdirs]
    if in_order:
        yield top, subdirs, files
    for sub in subdirs:
        yield from Walk(os.path.join(top, sub), in_order)
    if not in_order:
        yield top, subdirs, files
