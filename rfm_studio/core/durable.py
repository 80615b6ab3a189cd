"""What the folder swap (core.swap) needs from the operating system to be safe against a power
loss and against other writers: ``sync_tree`` and ``sync_dir`` flush a folder's files and
entries to the disk (os.fsync; a folder's own entries only where the platform can open a folder,
``O_DIRECTORY``: not on Windows, where this is skipped), and ``folder_lock`` lets one swap at a
time rename entries in a folder: a lock shared by the process's threads and, where the platform
has ``fcntl.flock``, an exclusive lock on the folder held across processes (released by the
system when its holder dies). The lock is re-entrant within a thread.
"""

from __future__ import annotations

import errno
import os
import threading
from contextlib import contextmanager
from pathlib import Path

_O_DIRECTORY = getattr(os, "O_DIRECTORY", None)
# a folder that cannot be fsynced says so with one of these; anything else is an I/O error
_UNSUPPORTED = {errno.EINVAL, errno.EBADF, getattr(errno, "ENOTSUP", errno.EINVAL),
                getattr(errno, "EOPNOTSUPP", errno.EINVAL)}

_LOCK = threading.RLock()
_depth = 0  # how deeply the thread holding _LOCK holds it (the folder lock is taken at depth 0)


def sync_file(path) -> None:
    """Flush the file ``path``'s data to the disk (an OSError when the disk reports an error)."""
    flags = (os.O_RDWR if os.name == "nt" else os.O_RDONLY) | getattr(os, "O_BINARY", 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_dir(path) -> bool:
    """Flush the folder ``path``'s entries (names created, renamed, removed in it) to the disk;
    False where the platform or file system cannot (nothing done)."""
    if _O_DIRECTORY is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | _O_DIRECTORY)
    except OSError:
        return False
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in _UNSUPPORTED:
            raise
        return False
    finally:
        os.close(fd)
    return True


def sync_tree(folder) -> None:
    """``sync_file`` every file in ``folder`` (links not followed), then ``sync_dir`` every
    folder in it, the deepest first, ``folder`` itself last."""
    for root, dirs, files in os.walk(folder, topdown=False):
        for name in files:
            p = os.path.join(root, name)
            if not os.path.islink(p):
                sync_file(p)
        sync_dir(root)


def _flock(folder: Path):
    """An open descriptor of ``folder`` holding an exclusive flock, or None where there is none."""
    try:
        import fcntl
    except ImportError:
        return None
    if _O_DIRECTORY is None:
        return None
    try:
        fd = os.open(folder, os.O_RDONLY | _O_DIRECTORY)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:
        os.close(fd)
        return None
    return fd


@contextmanager
def folder_lock(folder):
    """Held while a swap renames entries in ``folder``: one thread of the process at a time and,
    where flock exists, one process at a time. Re-entrant: a nested hold (of any folder) by the
    holding thread only counts."""
    global _depth
    with _LOCK:
        fd = _flock(Path(folder)) if _depth == 0 else None
        _depth += 1
        try:
            yield
        finally:
            _depth -= 1
            if fd is not None:
                os.close(fd)  # releases the flock


def _after_fork() -> None:  # a child forked while another thread held the lock can take it
    global _LOCK, _depth
    _LOCK, _depth = threading.RLock(), 0


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork)
