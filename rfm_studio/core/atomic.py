"""Atomic file writes: a temporary file beside the destination, renamed over it when complete,
so a reader never sees a partial file and a failure leaves the destination as it was.

Temporary files from ``tempfile.mkstemp`` are private (0600); they are given the mode a
newly created file would have under the process's umask before they are renamed into place.
Their names are '.rfm-PID-XXXXXXXX[.ext]' (PID: the writing process), which is how the
start-up sweep (``sweep``) tells a stale one, left by a killed process, from one in use.

``exporting`` puts an exported model's folder in place whole, in one swap (core.swap): each
exporting writer stages in a folder of its own, and the swap flushes it to the disk before the
old export is deleted. Two exports to one folder at once never leave a mix; where the swap's
folder lock orders their commits (local disks on Linux and macOS; on Windows only exports within
one process) the complete files of the one that finished last stay.

``commit_files`` moves a set of complete temporary files onto their names all or none:
a journal is written first, so a set cut short by a kill is rolled back (``recover_commits``,
run by the sweep and before the next set is written to the folder).
"""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from .pids import pid_alive

PREFIX = ".rfm-"
# exactly the names temp_beside makes: '.rfm-' [PID '-'] 8 of tempfile's letters [.ext]
TEMP_NAME = re.compile(r"^\.rfm-(?:(\d+)-)?[a-z0-9_]{8}(?:\.[A-Za-z0-9]{1,10})?$")
JOURNAL = ".journal"


def new_file_mode() -> int:
    """0o666 less the umask (read without changing it, where the platform allows)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return 0o666 & ~int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0)  # elsewhere: read it by setting it, and put it back at once
    os.umask(mask)
    return 0o666 & ~mask


def temp_beside(path, suffix: str = "") -> str:
    """A new empty temporary file in ``path``'s folder, with a normal file's permissions."""
    p = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f"{PREFIX}{os.getpid()}-", suffix=suffix, dir=str(p.parent))
    os.close(fd)
    try:
        os.chmod(tmp, new_file_mode())
    except OSError:
        pass
    return tmp


def file_id(path) -> tuple[int, int] | None:
    """(device, inode) of the file ``path`` names (links followed), or None when it cannot be
    read: two paths with the same id are one file (also through a hard or symbolic link)."""
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return None
    return st.st_dev, st.st_ino


def same_file(a, b) -> bool:
    """Whether ``a`` and ``b`` are one file; for paths that do not both exist, whether they
    resolve to the same path."""
    ia, ib = file_id(a), file_id(b)
    if ia is not None and ib is not None:
        return ia == ib
    return Path(a).resolve() == Path(b).resolve()


def file_ids(paths) -> set:
    """The file_id()s of ``paths`` (for is_one_of)."""
    return {file_id(p) for p in paths}


def is_one_of(path, ids) -> bool:
    """Whether the existing file ``path`` is one of the files whose ids are ``ids`` (file_ids: by
    device and inode, so also a hard or symbolic link to one of them)."""
    i = file_id(path)
    return i is not None and i in ids


def discard(tmp) -> None:
    if tmp and os.path.exists(tmp):
        os.unlink(tmp)


@contextmanager
def replacing_file(path, suffix: str = ""):
    """A temporary file beside ``path`` to write (its name is yielded): renamed over ``path``
    when the block ends normally, deleted when it raises (swap.replacing does this for folders)."""
    tmp = temp_beside(path, suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        discard(tmp)
        raise


def check_export(dst, what: str, marker: tuple[str, str, str], entries: tuple[str, ...] = ()) -> Path:
    """The folder an exported model (``what``, e.g. "sound finder") may be written to at ``dst``
    (a link to a folder followed): new, empty, or an export of this kind, one whose JSON file
    ``marker[0]`` has ``marker[1]`` == ``marker[2]`` (e.g. ("config.json", "kind",
    "rfm-studio-sound-finder")) holding nothing but the top-level ``entries`` an export writes
    (given: the swap would delete anything else with the old export); OptionError in one
    sentence otherwise. The train and export commands call it before any work."""
    from .errors import OptionError
    from .swap import exists

    dst = Path(dst)
    if dst.is_symlink() and dst.is_dir():
        dst = dst.resolve()
    if exists(dst):  # after recovering a swap a crash cut short
        if not dst.is_dir():
            raise OptionError(f"{dst} is a file; name a folder.")
        names = sorted(os.listdir(dst))
        if names and not _holds(dst, marker):
            raise OptionError(f"{dst} holds files that are not an exported {what}; name a new or empty folder, "
                              f"or an exported {what} to replace.")
        extra = [n for n in names if entries and n not in entries]
        if extra:
            listed = ", ".join(extra[:3]) + (f" and {len(extra) - 3} more" if len(extra) > 3 else "")
            raise OptionError(f"{dst} also holds {listed}, which replacing the exported {what} would delete; "
                              "move them out or name another folder.")
    return dst


@contextmanager
def exporting(dst, what: str, marker: tuple[str, str, str], entries: tuple[str, ...] = ()):
    """A staging folder beside ``dst``, this writer's own, for an exported model to be written
    whole (its name is yielded): when the block ends it replaces ``dst`` (swap.replacing: flushed
    to the disk, renamed in under the folder lock, the old folder deleted once the new one is in
    place; of two exports at once, the one finishing last stays where the folder lock orders
    them: on local disks on Linux and macOS, on Windows only exports within one process); when
    the block raises the staging folder is deleted and ``dst`` is as it was. ``dst`` is checked first
    (``check_export``, the same ``what``, ``marker`` and ``entries``): nothing is written where
    it is refused."""
    from .swap import replacing

    with replacing(check_export(dst, what, marker, entries), replace=True) as tmp:
        yield tmp


def _holds(folder: Path, marker: tuple[str, str, str]) -> bool:
    """Whether ``folder``'s JSON file ``marker[0]`` is an object whose ``marker[1]`` is ``marker[2]``."""
    name, key, value = marker
    try:
        data = json.loads((folder / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and data.get(key) == value


def atomic_write_bytes(path, data: bytes) -> None:
    with replacing_file(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())


def atomic_write_text(path, text: str) -> None:
    """``text`` (UTF-8) written atomically to ``path``."""
    atomic_write_bytes(path, text.encode("utf-8"))


# ---- a set of files, all or none -------------------------------------------------------------
def commit_files(pairs, folder) -> None:
    """Move each complete temporary file ``tmp`` onto ``dst`` (pairs of paths, all in
    ``folder``): all of them or, when a move fails or the process is killed part-way, none
    (the files that were there come back). The temporary files are gone afterwards either way
    (on failure: those not moved are the caller's to discard)."""
    folder = Path(folder)
    entries = []
    for tmp, dst in pairs:
        tmp, dst = Path(tmp), Path(dst)
        if tmp.parent.resolve() != folder.resolve() or dst.parent.resolve() != folder.resolve():
            raise ValueError("commit_files: every file must be in the folder")
        entries.append({"tmp": tmp.name, "dst": dst.name, "bak": None})
    if not entries:
        return
    journal = Path(temp_beside(folder / "x", JOURNAL))
    try:
        for e in entries:
            if os.path.lexists(folder / e["dst"]):
                e["bak"] = Path(temp_beside(folder / "x", ".bak")).name  # a name reserved for it
        atomic_write_bytes(journal, json.dumps({"entries": entries}).encode("utf-8"))
    except BaseException:
        for e in entries:
            if e["bak"]:
                discard(folder / e["bak"])
        discard(journal)
        raise
    try:
        for e in entries:
            if e["bak"]:
                os.replace(folder / e["dst"], folder / e["bak"])
            os.replace(folder / e["tmp"], folder / e["dst"])
    except BaseException:
        rollback(journal)
        raise
    os.unlink(journal)  # the commit point: from here on the new set stands
    for e in entries:
        if e["bak"]:
            try:
                os.unlink(folder / e["bak"])
            except OSError:
                pass  # a stale '.rfm-' file: swept later


def rollback(journal) -> None:
    """Put back what an unfinished ``commit_files`` (its ``journal``) had replaced; idempotent,
    so a rollback cut short can run again."""
    journal = Path(journal)
    folder = journal.parent
    try:
        entries = json.loads(journal.read_text(encoding="utf-8"))["entries"]
    except (OSError, ValueError, KeyError, TypeError):
        entries = None  # cut short while it was written: nothing had been moved yet
    for e in reversed(entries or []):
        tmp, dst = folder / e["tmp"], folder / e["dst"]
        bak = folder / e["bak"] if e.get("bak") else None
        if os.path.lexists(tmp):
            if bak is not None and os.path.lexists(bak) and not os.path.lexists(dst):
                os.replace(bak, dst)  # moved aside, the new one not yet in
            discard(tmp)
        elif bak is not None:
            if os.path.lexists(bak):
                os.replace(bak, dst)  # the new one was in: the old one back over it
            # else: put back already
        elif os.path.lexists(dst):
            os.unlink(dst)  # a new file where there was none
        if bak is not None and os.path.lexists(bak):
            os.unlink(bak)  # a reserved name never used
    os.unlink(journal)


def _stale(path: Path, before: float) -> bool:
    """A temporary name left by a process that is gone: older than ``before`` and, when the
    name carries its writer's PID, that process is not running."""
    m = TEMP_NAME.match(path.name)
    if m is None:
        return False
    try:
        st = os.lstat(path)
    except OSError:
        return False
    if st.st_mtime >= before:
        return False
    return not (m.group(1) and pid_alive(int(m.group(1))))


def recover_commits(folder, before: float | None = None) -> int:
    """Roll back every unfinished ``commit_files`` in ``folder`` (its writer gone)."""
    folder = Path(folder)
    before = time.time() if before is None else before
    n = 0
    try:
        names = [e.name for e in folder.iterdir()]
    except OSError:
        return 0
    for name in names:
        p = folder / name
        if name.endswith(JOURNAL) and _stale(p, before):
            try:
                rollback(p)
                n += 1
            except OSError:
                pass
    return n


def sweep(folder, before: float | None = None) -> list[str]:
    """Clean ``folder`` of what killed processes left: unfinished file sets are rolled back,
    folder swaps recovered and staging folders whose writers are gone deleted
    (``swap.recover_all``, under the folder lock), and the app's own temporary files
    ('.rfm-PID-XXXXXXXX[.ext]') whose writers are gone deleted, those older than ``before``
    (default now). Nothing else is touched. Returns the names removed or recovered."""
    from .swap import recover_all

    folder = Path(folder)
    if not folder.is_dir() or folder.is_symlink():
        return []
    before = time.time() if before is None else before
    recover_commits(folder, before)
    try:
        names = [e.name for e in folder.iterdir()]
    except OSError:
        return []
    done = recover_all(folder, before)  # folder swaps cut short and staging folders left
    for name in names:
        p = folder / name
        if _stale(p, before) and not p.is_dir():
            try:
                os.unlink(p)
                done.append(name)
            except OSError:
                pass
    return done
