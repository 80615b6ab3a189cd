"""What the folder swap (core.swap) needs from the operating system to be safe against a power
loss and against other writers: ``sync_tree`` and ``sync_dir`` flush a folder's files and
entries to the disk (os.fsync; a folder's own entries only where the platform can open a folder,
``O_DIRECTORY``: not on Windows, where this is skipped), and ``folder_lock`` lets one swap at a
time rename entries in a folder: a lock shared by the process's threads and, where the platform
has ``fcntl.flock``, an exclusive lock on the folder held across processes (released by the
system when its holder dies). The lock is re-entrant within a thread. A process forked while the
lock is held (e.g. a DataLoader worker) closes its copies of the locked descriptors at once, so
the lock is free as soon as the parent releases it, and the child can take it itself.
"""

from __future__ import annotations

import errno
import os
import threading
from contextlib import contextmanager
from pathlib import Path

_O_DIRECTORY = getattr(os, "O_DIRECTORY", None)
# a file system that cannot fsync says so with one of these; anything else is an I/O error
_UNSUPPORTED_FILE = {errno.EINVAL, getattr(errno, "ENOTSUP", errno.EINVAL),
                     getattr(errno, "EOPNOTSUPP", errno.EINVAL), getattr(errno, "ENOSYS", errno.EINVAL)}
_UNSUPPORTED = _UNSUPPORTED_FILE | {errno.EBADF}  # a folder, too: some systems refuse a read-only one

_LOCK = threading.RLock()
_holds: dict = {}  # folder -> [its flock descriptor or None, how deeply the thread holding _LOCK holds it]
_held: set[int] = set()  # descriptors opened for a flock and not yet closed (closed in a forked child)
_fds = threading.Lock()  # held while a descriptor is opened and put in _held, and across a fork


def _fsync_closing(fd: int, unsupported) -> bool:
    """fsync the open descriptor ``fd`` and close it: False where its errno is in ``unsupported``
    (nothing done), an OSError for any other."""
    try:
        os.fsync(fd)
    except OSError as exc:
        if exc.errno not in unsupported:
            raise
        return False
    finally:
        os.close(fd)
    return True


def sync_file(path) -> bool:
    """Flush the file ``path``'s data to the disk (an OSError when the disk reports an error);
    False where the file system cannot fsync (nothing done)."""
    flags = (os.O_RDWR if os.name == "nt" else os.O_RDONLY) | getattr(os, "O_BINARY", 0)
    return _fsync_closing(os.open(path, flags), _UNSUPPORTED_FILE)


def sync_dir(path) -> bool:
    """Flush the folder ``path``'s entries (names created, renamed, removed in it) to the disk;
    False where the platform or file system cannot (nothing done)."""
    if _O_DIRECTORY is None:
        return False
    try:
        fd = os.open(path, os.O_RDONLY | _O_DIRECTORY)
    except OSError:
        return False
    return _fsync_closing(fd, _UNSUPPORTED)


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
    with _fds:  # no fork between the open and _held: a child always knows what to close
        try:
            fd = os.open(folder, os.O_RDONLY | _O_DIRECTORY | getattr(os, "O_CLOEXEC", 0))
        except OSError:
            return None
        _held.add(fd)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:
        _unlock(fd)
        return None
    return fd


def _unlock(fd: int) -> None:
    """Close ``fd`` (releasing its flock once no forked copy of it is open)."""
    with _fds:
        _held.discard(fd)
        os.close(fd)


@contextmanager
def folder_lock(folder):
    """Held while a swap renames entries in ``folder``: one thread of the process at a time and,
    where flock exists, one process at a time. Re-entrant: a nested hold of the same folder by the
    holding thread only counts (the same folder by any name: a symlink to it is the same key);
    a nested hold of another folder takes that folder's flock too. Two folders held at once are
    to be taken in one order by every holder (two processes taking them in opposite orders would
    wait on each other)."""
    pid = os.getpid()
    key = os.path.realpath(folder)
    with _LOCK:
        hold = _holds.get(key)
        if hold is None:
            hold = _holds[key] = [_flock(Path(folder)), 0]
        hold[1] += 1
        try:
            yield
        finally:
            if os.getpid() == pid:  # (a child forked inside the block started unlocked: _after_fork)
                hold[1] -= 1
                if hold[1] == 0:
                    del _holds[key]
                    if hold[0] is not None:
                        _unlock(hold[0])  # releases the flock


def _after_fork() -> None:
    """In a forked child: close its copies of the locked descriptors and start unlocked.

    A flock belongs to the open file description, which a fork shares between parent and child:
    while the child's copy is open the lock outlives the parent's release, and the child's own
    folder_lock (a new description) would wait for itself forever. Closing the child's copy
    leaves the parent's lock held (it is released only by LOCK_UN, which is never used here, or
    when the last descriptor of the description closes: checked by forking while the lock is
    held, closing the copy in the child, and probing from a third process: still held; free once
    the parent closes its own). O_CLOEXEC keeps the descriptors out of an exec'd program."""
    global _LOCK, _holds, _held, _fds
    for fd in _held:
        try:
            os.close(fd)
        except OSError:
            pass
    _LOCK, _holds, _held, _fds = threading.RLock(), {}, set(), threading.Lock()


def _before_fork() -> None:
    _fds.acquire()


def _after_fork_in_parent() -> None:
    _fds.release()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(before=_before_fork, after_in_parent=_after_fork_in_parent,
                        after_in_child=_after_fork)
