"""Two writers of one folder (core/swap.py, atomic.exporting): each stages in a folder of its own,
commits under the folder lock, and the folder ends up holding the complete files of the writer
that committed last, never a mix; staging folders whose writers are gone are cleaned up; the
new folder is flushed to the disk (files, folders, then the parent's entries) before the old
one is deleted."""

import json
import multiprocessing
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from process_helpers import dead_pid
from rfm_studio.core import durable, swap
from rfm_studio.core.atomic import exporting, sweep

MARK = ("config.json", "kind", "test-export")
ENTRIES = ("config.json", "weights.bin")


def _files(folder: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _export_files(tag: str) -> dict:
    return {"config.json": json.dumps({"kind": "test-export", "by": tag}).encode(),
            "weights.bin": tag.encode() * 1000}


def _write_export(dst, tag, wrote_config, go_on):
    """An export of ``tag`` to ``dst``: its config, then (once ``go_on`` is set) its weights."""
    files = _export_files(tag)
    with exporting(dst, "test export", MARK, ENTRIES) as tmp:
        (tmp / "config.json").write_bytes(files["config.json"])
        wrote_config.set()
        if not go_on.wait(60):
            raise TimeoutError("the other writer never went on")
        (tmp / "weights.bin").write_bytes(files["weights.bin"])


@pytest.mark.parametrize("last", ["a", "b"])
def test_two_threads_exporting_to_one_folder_leave_the_last_ones_files_whole(tmp_path, last):
    """A stages its config, B stages its config, then one finishes, then the other: the folder
    holds the complete export of the one that finished last, and no staging folder is left."""
    dst = tmp_path / "export"
    ev = {k: threading.Event() for k in ("a_config", "b_config", "a_go", "b_go")}
    errors = []

    first = "b" if last == "a" else "a"

    def run(tag):
        try:
            _write_export(dst, tag, ev[f"{tag}_config"], ev[f"{tag}_go"])
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append((tag, exc))
        finally:
            if tag == first:  # committed (or failed): now the other one finishes
                ev[f"{last}_go"].set()

    ta = threading.Thread(target=run, args=("a",))
    tb = threading.Thread(target=run, args=("b",))
    ta.start()
    assert ev["a_config"].wait(60)
    tb.start()
    assert ev["b_config"].wait(60)  # both are writing now
    ev[f"{first}_go"].set()  # the first one finishes; its thread then lets the other go on
    ta.join(60)
    tb.join(60)
    assert errors == []
    assert _files(dst) == _export_files(last)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]


def test_a_commit_waits_for_the_folder_lock(tmp_path, monkeypatch):
    """While another holder has the folder's lock, a finished export is flushed but not put in
    place; it is once the lock is released."""
    dst = tmp_path / "export"
    flushed = threading.Event()
    real = swap.sync_tree

    def sync_then_tell(folder):
        real(folder)
        flushed.set()

    monkeypatch.setattr(swap, "sync_tree", sync_then_tell)
    errors = []
    staging, go = threading.Event(), threading.Event()

    def run():
        try:
            _write_export(dst, "a", staging, go)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    t = threading.Thread(target=run)
    t.start()
    assert staging.wait(60)  # it writes into its staging folder (the lock is not held while it does)
    with durable.folder_lock(tmp_path):
        go.set()
        assert flushed.wait(60)  # the writer is at its commit
        t.join(0.5)
        assert t.is_alive() and not dst.exists()  # it waits for the lock
    t.join(60)
    assert errors == [] and _files(dst) == _export_files("a")


def _process_writer(dst, tag, wrote_config, go_on, done):
    try:
        _write_export(Path(dst), tag, wrote_config, go_on)
        code = 0
    except BaseException:  # noqa: BLE001
        code = 1
    done.set()
    os._exit(code)


@pytest.mark.skipif(sys.platform == "win32" or "fork" not in multiprocessing.get_all_start_methods(),
                    reason="forked writers")
def test_two_processes_exporting_to_one_folder_leave_the_last_ones_files_whole(tmp_path):
    dst = tmp_path / "export"
    ctx = multiprocessing.get_context("fork")
    ev = {k: ctx.Event() for k in ("a_config", "b_config", "a_go", "b_go", "a_done", "b_done")}
    pa = ctx.Process(target=_process_writer, args=(str(dst), "a", ev["a_config"], ev["a_go"], ev["a_done"]))
    pb = ctx.Process(target=_process_writer, args=(str(dst), "b", ev["b_config"], ev["b_go"], ev["b_done"]))
    pa.start()
    try:
        assert ev["a_config"].wait(60)
        pb.start()
        assert ev["b_config"].wait(60)  # B's start recovered dst: A's staging folder must survive it
        ev["a_go"].set()
        pa.join(60)
        ev["b_go"].set()
        pb.join(60)
    finally:
        for p in (pa, pb):
            if p.is_alive():
                p.kill()
    assert (pa.exitcode, pb.exitcode) == (0, 0)
    assert _files(dst) == _export_files("b")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]


_PROBE = ("import fcntl, os, sys\n"
          "fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)\n"
          "try:\n    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)\n    print('free')\n"
          "except BlockingIOError:\n    print('held')\n")


def _lock_seen_by_another_process(folder) -> str:
    """'held' or 'free': whether another process could take ``folder``'s flock now."""
    return subprocess.run([sys.executable, "-c", _PROBE, str(folder)], capture_output=True,
                          text=True, check=True).stdout.strip()


@pytest.mark.skipif(sys.platform == "win32", reason="flock")
def test_the_folder_lock_holds_off_another_process(tmp_path):
    def other():
        return _lock_seen_by_another_process(tmp_path)

    with durable.folder_lock(tmp_path):
        with durable.folder_lock(tmp_path):  # re-entrant in the holding thread
            assert other() == "held"
        assert other() == "held"
    assert other() == "free"


@pytest.mark.skipif(sys.platform == "win32" or not hasattr(os, "fork"), reason="fork and flock")
def test_a_forked_child_does_not_keep_the_folder_lock(tmp_path):
    """Forked while a thread holds the lock (as a DataLoader worker can be): the parent still
    holds it; once the parent releases, another process can take it while the child lives, and
    the child can take it itself (a hang would be a child that never answers: killed below)."""
    held, release = threading.Event(), threading.Event()

    def holder():
        with durable.folder_lock(tmp_path):
            held.set()
            release.wait(60)

    t = threading.Thread(target=holder)
    t.start()
    assert held.wait(60)
    go_r, go_w = os.pipe()
    res_r, res_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: waits for the parent's word, then takes the lock
        try:
            os.close(go_w)
            os.read(go_r, 1)
            with durable.folder_lock(tmp_path):
                os.write(res_w, b"k")
        finally:
            os._exit(0)
    os.close(go_r)
    os.close(res_w)
    try:
        assert _lock_seen_by_another_process(tmp_path) == "held"  # the parent's hold stands
        release.set()
        t.join(60)
        assert os.waitpid(pid, os.WNOHANG) == (0, 0)  # the child is alive ...
        assert _lock_seen_by_another_process(tmp_path) == "free"  # ... and holds nothing
        os.write(go_w, b"g")
        ready, _, _ = select.select([res_r], [], [], 60)
        assert ready and os.read(res_r, 1) == b"k"
    finally:
        release.set()
        if os.waitpid(pid, os.WNOHANG) == (0, 0):
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        for fd in (go_w, res_r):
            os.close(fd)


def test_staging_folders_of_gone_writers_are_deleted_and_one_in_use_is_kept(tmp_path):
    dst = tmp_path / "m"
    dst.mkdir()
    (dst / "a.txt").write_text("old")
    gone = [tmp_path / f".rfm-stage-{dead_pid()}-0123abcd-m",  # a killed process's
            tmp_path / f".rfm-stage-{os.getpid()}-89abcdef-m"]  # this process's, not in use (an earlier run's PID)
    other = tmp_path / f".rfm-stage-{dead_pid()}-0123abcd-n"  # another folder's: left to its own recovery
    for p in gone + [other]:
        p.mkdir()
        (p / "a.txt").write_text("half")
    with swap.replacing(dst, replace=True) as new:  # its start recovers dst
        (new / "a.txt").write_text("new")
        assert not any(p.exists() for p in gone) and other.is_dir()
        swap.recover(dst)  # another writer's recovery keeps the staging folder in use ...
        old = time.time() - 3600
        for p in (new, other):
            os.utime(p, (old, old))
        sweep(tmp_path, before=time.time() + 1)  # ... and so does the start-up sweep
        assert (new / "a.txt").read_text() == "new" and not other.exists()
        other.mkdir()
        swap.recover_all(tmp_path)  # as latest_checkpoint runs it
        assert (new / "a.txt").read_text() == "new" and not other.exists()
    assert (dst / "a.txt").read_text() == "new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m"]


def test_the_new_folder_is_on_the_disk_before_the_old_one_is_deleted(tmp_path, monkeypatch):
    """Every staged file and folder is fsynced before the swap's renames, and the parent folder
    after them, all before the old folder is renamed away for deletion."""
    dst = tmp_path / "m"
    dst.mkdir()
    (dst / "a.txt").write_text("old")
    log = []
    real_fsync, real_rename = os.fsync, os.rename

    def fsync(fd):
        st = os.fstat(fd)
        log.append(("fsync", (st.st_dev, st.st_ino)))
        return real_fsync(fd)

    def rename(src, target):
        log.append(("rename", Path(src).name, Path(target).name))
        return real_rename(src, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "rename", rename)
    with swap.replacing(dst, replace=True) as new:
        (new / "a.txt").write_text("new")
        (new / "sub").mkdir()
        (new / "sub" / "b.bin").write_bytes(b"b" * 100)
        ids = {str(p.relative_to(new)): (p.stat().st_dev, p.stat().st_ino)
               for p in (new, new / "a.txt", new / "sub", new / "sub" / "b.bin")}
    parent = (tmp_path.stat().st_dev, tmp_path.stat().st_ino)
    monkeypatch.undo()
    assert (dst / "a.txt").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["m"]

    def at(entry):
        return log.index(entry)

    first_rename = next(i for i, e in enumerate(log) if e[0] == "rename" and e[1].startswith(".rfm-stage-"))
    in_place = next(i for i, e in enumerate(log) if e[:3] == ("rename", ".rfm-new-m", "m"))
    old_away = next(i for i, e in enumerate(log) if e[0] == "rename" and e[1] == ".rfm-old-m")
    assert log[old_away][2].startswith(".rfm-del-")
    if durable._O_DIRECTORY is None:
        dirs = []
    else:
        dirs = ["sub", "."]
        assert in_place < at(("fsync", parent)) < old_away  # the renames on the disk before the old one goes
    for name in ["a.txt", "sub/b.bin"] + dirs:
        assert at(("fsync", ids[name])) < first_rename, name
    if dirs:
        assert at(("fsync", ids["sub/b.bin"])) < at(("fsync", ids["sub"])) < at(("fsync", ids["."]))


def test_without_folder_fsync_the_files_are_still_synced_and_the_swap_completes(tmp_path, monkeypatch):
    """Where a folder cannot be opened for fsync (Windows: no O_DIRECTORY) only files are synced."""
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(durable, "_O_DIRECTORY", None)
    monkeypatch.setattr(os, "fsync", lambda fd: (synced.append(os.fstat(fd).st_mode), real_fsync(fd))[1])
    dst = tmp_path / "m"
    for text in ("old", "new"):
        with swap.replacing(dst, replace=True) as new:
            (new / "a.txt").write_text(text)
    assert (dst / "a.txt").read_text() == "new" and sorted(p.name for p in tmp_path.iterdir()) == ["m"]
    import stat

    assert len(synced) == 2 and all(stat.S_ISREG(m) for m in synced)
