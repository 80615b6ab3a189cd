"""The folder swap (core/swap.py) when cleaning up or flushing goes wrong: a stale staging
folder that cannot be renamed away or vanishes mid-cleanup never fails a save; the start-up
sweep deletes staging folders under the folder lock; a file system that cannot fsync is no
error, and neither is a failing flush of the parent after the new folder is in place (a real
I/O error on the new files, before any rename, still fails the save)."""

import errno
import os
import shutil
import stat
from pathlib import Path

import pytest

from process_helpers import dead_pid
from rfm_studio.core import durable, swap
from rfm_studio.core.atomic import sweep


def _with_stale(tmp_path):
    dst = tmp_path / "m"
    dst.mkdir()
    (dst / "a.txt").write_text("old")
    stale = tmp_path / f".rfm-stage-{dead_pid()}-0123abcd-m"
    stale.mkdir()
    (stale / "a.txt").write_text("half")
    return dst, stale


def _save(dst, text):
    with swap.replacing(dst, replace=True) as new:
        (new / "a.txt").write_text(text)


def test_a_stale_staging_folder_that_cannot_be_renamed_does_not_fail_the_save(tmp_path, monkeypatch):
    dst, stale = _with_stale(tmp_path)
    real = os.rename

    def rename(src, target):
        if Path(src) == stale:
            raise PermissionError(errno.EACCES, "Permission denied", str(src))
        return real(src, target)

    monkeypatch.setattr(os, "rename", rename)
    _save(dst, "new")
    assert swap.exists(dst)  # recovering dst first: the stale folder is again no error
    swap.recover_all(tmp_path)
    monkeypatch.undo()
    assert (dst / "a.txt").read_text() == "new"
    assert stale.is_dir()  # left for a later cleanup ...
    swap.recover(dst)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]  # ... which takes it


def test_a_stale_staging_folder_vanishing_mid_cleanup_does_not_fail_the_save(tmp_path, monkeypatch):
    """Another process's cleanup deletes it between the check and the rename."""
    dst, stale = _with_stale(tmp_path)
    real = os.rename

    def rename(src, target):
        if Path(src) == stale:
            shutil.rmtree(stale)
        return real(src, target)

    monkeypatch.setattr(os, "rename", rename)
    _save(dst, "new")
    assert (dst / "a.txt").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_the_sweep_deletes_stale_staging_folders_under_the_folder_lock(tmp_path, monkeypatch):
    _, stale = _with_stale(tmp_path)
    real, locked = swap._to_trash, []

    def to_trash(p):
        locked.append((Path(p).name, os.path.abspath(tmp_path) in durable._holds))
        return real(p)

    monkeypatch.setattr(swap, "_to_trash", to_trash)
    assert stale.name in sweep(tmp_path, before=float("inf"))
    assert locked == [(stale.name, True)] and not stale.exists()


def test_the_sweep_and_resume_recover_a_folder_alike_the_sweep_only_what_is_older_than_its_start(tmp_path,
                                                                                                monkeypatch):
    """atomic.sweep recovers swaps and drops dead writers' staging folders and trash through
    swap.recover_all (one hold of the folder lock), only for entries older than ``before``, and
    names what it recovered or removed (a live writer's staging folder is neither); the
    temporary files of dead writers go too."""
    import time

    pid = dead_pid()
    m, n = tmp_path / "m", tmp_path / "n"
    (tmp_path / swap.backup_path(m).name).mkdir()  # killed between the renames: the old one comes back
    (swap.backup_path(m) / "a.txt").write_text("old m")
    (tmp_path / swap.backup_path(n).name).mkdir()  # the same, but newer than the sweep's start
    stage = tmp_path / f".rfm-stage-{pid}-0123abcd-m"
    live = tmp_path / f".rfm-stage-{os.getpid()}-0123abcd-m"
    trash = tmp_path / ".rfm-del-0123abcd-x"
    for p in (stage, live, trash):
        p.mkdir()
    temp = tmp_path / f".rfm-{pid}-abcd1234"
    temp.write_text("{")
    swap._live.add(live.name)  # this process's staging folder in use
    past, start = time.time() - 60, time.time()
    for p in tmp_path.iterdir():
        t = start + 60 if p.name == swap.backup_path(n).name else past
        os.utime(p, (t, t))
    holds = []
    real = durable.folder_lock
    monkeypatch.setattr(swap, "folder_lock", lambda f: (holds.append(Path(f)), real(f))[1])
    try:
        done = sweep(tmp_path, before=start)
        assert sorted(done) == sorted([swap.backup_path(m).name, stage.name, trash.name, temp.name])
        assert holds == [tmp_path]  # one hold for the whole folder
        assert (m / "a.txt").read_text() == "old m"
        assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["m", swap.backup_path(n).name, live.name])
        assert swap.recover_all(tmp_path) == [swap.backup_path(n).name] and n.is_dir()  # no age limit at resume
    finally:
        swap._live.discard(live.name)


@pytest.mark.parametrize("reverse", [False, True], ids=["sorted", "reversed"])
def test_recover_all_names_the_same_whatever_order_the_folder_is_listed_in(tmp_path, monkeypatch, reverse):
    """A backup whose recovery also takes its folder's dead staging folder, and that staging
    folder: both named, in whichever order the folder lists them (the recovery of 'm' would
    take the staging folder first when the backup is listed first)."""
    from pathlib import Path

    m, n = tmp_path / "m", tmp_path / "n"
    swap.backup_path(m).mkdir()
    (swap.backup_path(m) / "a.txt").write_text("old m")
    stage = tmp_path / f".rfm-stage-{dead_pid()}-0123abcd-m"
    stage.mkdir()
    for p in (swap.backup_path(n), swap.staging_path(n)):  # a swap of n cut between its renames
        p.mkdir()
        (p / "a.txt").write_text(p.name)
    real = Path.iterdir
    monkeypatch.setattr(Path, "iterdir", lambda self: iter(sorted(real(self), reverse=reverse)))
    done = swap.recover_all(tmp_path)
    monkeypatch.undo()
    # n's pair: the one first by name is named, its recovery takes the other
    assert sorted(done) == sorted([swap.backup_path(m).name, stage.name, min(swap.backup_path(n).name,
                                                                              swap.staging_path(n).name)])
    assert (m / "a.txt").read_text() == "old m" and (n / "a.txt").read_text() == swap.staging_path(n).name
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m", "n"]


@pytest.mark.parametrize("code", [errno.EINVAL, errno.ENOSYS, getattr(errno, "ENOTSUP", errno.EOPNOTSUPP)],
                         ids=errno.errorcode.get)
def test_a_file_system_that_cannot_fsync_still_saves(tmp_path, monkeypatch, code):
    def fsync(fd):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(os, "fsync", fsync)
    dst = tmp_path / "m"
    for text in ("old", "new"):
        _save(dst, text)
    assert not durable.sync_file(dst / "a.txt")
    monkeypatch.undo()
    assert (dst / "a.txt").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def _fsync_failing_for(folder, code=errno.EIO):
    real, target = os.fsync, os.stat(folder)

    def fsync(fd):
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino):
            raise OSError(code, os.strerror(code))
        return real(fd)

    return fsync


@pytest.mark.skipif(durable._O_DIRECTORY is None, reason="folders are not fsynced here")
def test_a_failing_flush_of_the_parent_after_the_renames_does_not_fail_the_commit(tmp_path, monkeypatch):
    dst = tmp_path / "m"
    _save(dst, "old")
    monkeypatch.setattr(os, "fsync", _fsync_failing_for(tmp_path))
    _save(dst, "new")  # the new folder was in place when the flush failed
    monkeypatch.undo()
    assert (dst / "a.txt").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_an_io_error_on_a_new_file_still_fails_the_save_before_any_rename(tmp_path, monkeypatch):
    dst = tmp_path / "m"
    _save(dst, "old")
    real = os.fsync

    def fsync(fd):
        if stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EIO, "I/O error")
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(OSError) as info:
        _save(dst, "new")
    monkeypatch.undo()
    assert info.value.errno == errno.EIO
    assert (dst / "a.txt").read_text() == "old" and sorted(p.name for p in tmp_path.iterdir()) == ["m"]


@pytest.mark.skipif(not hasattr(os, "O_DIRECTORY"), reason="folder flocks need O_DIRECTORY")
def test_a_nested_hold_of_another_folder_takes_that_folders_flock_too(tmp_path):
    import fcntl

    def locked(folder):  # another open description of the folder cannot take the flock while it is held
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return False
        except BlockingIOError:
            return True
        finally:
            os.close(fd)

    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir()
    b.mkdir()
    with durable.folder_lock(a):
        with durable.folder_lock(a):  # the same folder again only counts
            (tmp_path / "link").symlink_to(a)
            with durable.folder_lock(tmp_path / "link"):  # by another name too (no wait on its own flock)
                assert len(durable._holds) == 1
            with durable.folder_lock(b):
                assert locked(a) and locked(b)
            assert locked(a) and not locked(b)
        assert locked(a)
    assert not locked(a) and durable._holds == {}
