"""One way to put a folder in place of another, safe against a crash or a power loss at any
moment and against other writers of the same folder.

Every folder the app replaces or installs (adapters, checkpoints, imported, downloaded and
converted models, exported models, the shipped model) goes through here:

    with replacing(dst, replace=True) as new:   # recovers an earlier cut-short swap first
        ...write the complete folder into new...  # '.rfm-stage-PID-TOKEN-NAME' beside dst
    # commit: new -> '.rfm-new-NAME', dst -> '.rfm-old-NAME', '.rfm-new-NAME' -> dst, then the old one is deleted

Each writer stages in a folder of its own (PID: its process; TOKEN: random), so two writers of
one folder, threads or processes, never write into one staging folder. A commit first flushes
the new folder's files and entries to the disk (core.durable), then renames while holding the
parent folder's lock (``durable.folder_lock``: one commit or recovery at a time), flushes the
parent's entries (an error there is logged: the new folder is in place), and only then deletes
the old folder: where the lock orders them (processes too on local disks on Linux and macOS;
on Windows only the threads of one process), two writers that finish both commit, one after the
other, and the folder holds the complete folder of the one that committed last.

At every moment one complete folder holds the name or can be put back under it by
``recover(dst)``, which each operation on ``dst`` runs first (and the start-up sweep runs for
stale ones): an old one beside a complete ``dst`` is dropped; an old one without ``dst``
comes back, or the complete new one ('.rfm-new-NAME': its commit had started) is renamed in; a
'.rfm-new-NAME' without an old one (its commit cut short before ``dst`` moved aside) is
deleted, and so is a staging folder whose writer is gone (a process no longer running, or this
process's, not in use; one that cannot be renamed away is left for a later cleanup). Folders
being deleted are first renamed to '.rfm-del-*', so a half-deleted folder never carries a name
that recovery would put back.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path

from .durable import folder_lock, sync_dir, sync_tree
from .pids import pid_alive

NEW, OLD, DEL, STAGE = ".rfm-new-", ".rfm-old-", ".rfm-del-", ".rfm-stage-"
_STAGE_NAME = re.compile(r"^\.rfm-stage-(\d+)-([0-9a-f]{8})-(.*)$", re.S)
_live: set[str] = set()  # this process's staging folders in use (their names)
log = logging.getLogger(__name__)


def staging_path(dst) -> Path:
    """Where a complete new folder waits while ``dst`` is swapped (its commit begun)."""
    dst = Path(dst)
    return dst.parent / f"{NEW}{dst.name}"


def backup_path(dst) -> Path:
    dst = Path(dst)
    return dst.parent / f"{OLD}{dst.name}"


def _present(p: Path) -> bool:
    return p.exists() or p.is_symlink()


def _to_trash(p: Path) -> Path | None:
    """``p`` out of the way: a folder renamed to a '.rfm-del-*' name (returned, for ``_purge``),
    a file or link deleted (None)."""
    if not _present(p):
        return None
    if p.is_symlink() or not p.is_dir():
        p.unlink()
        return None
    gone = _trash_name(p)
    os.rename(p, gone)  # a failure leaves the folder whole, under its name
    return gone


def _purge(paths) -> None:
    for q in paths:
        if q is not None:
            shutil.rmtree(q, ignore_errors=True)


def discard_tree(p) -> Path | None:
    """Delete the folder ``p``: renamed to a '.rfm-del-*' name first (out of every listing and
    never mistaken for a backup), then removed. Returns what is left (None when all went)."""
    gone = _to_trash(Path(p))
    _purge([gone])
    return gone if gone is not None and _present(gone) else None


def _base_name(name: str) -> str:
    m = _STAGE_NAME.match(name)
    if m:
        return m.group(3)
    for prefix in (NEW, OLD):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _trash_name(p: Path) -> Path:
    """'.rfm-del-XXXXXXXX-NAME' (NAME: the folder's name without a staging or backup prefix)."""
    return p.parent / f"{DEL}{uuid.uuid4().hex[:8]}-{_base_name(p.name)}"[:255]


def _trash_of(dst: Path) -> list[Path]:
    return [q for q in dst.parent.glob(f"{DEL}????????-*") if q.name[len(DEL) + 9:] == dst.name[:255 - len(DEL) - 9]]


def _new_stage(dst: Path) -> Path:
    """A new empty staging folder for ``dst``, this writer's own, marked in use."""
    from .atomic import new_file_mode

    new = dst.parent / f"{STAGE}{os.getpid()}-{uuid.uuid4().hex[:8]}-{dst.name}"[:255]
    _live.add(new.name)
    new.mkdir()
    m = new_file_mode()
    try:
        new.chmod(m | ((m & 0o444) >> 2))
    except OSError:
        pass
    return new


def stale_stage(p) -> bool:
    """Whether ``p`` is a staging folder whose writer is gone: its process is not running, or it
    is this process's and not in use."""
    m = _STAGE_NAME.match(Path(p).name)
    if m is None:
        return False
    pid = int(m.group(1))
    if pid == os.getpid():
        return Path(p).name not in _live
    return not pid_alive(pid)


def _stages_of(dst: Path) -> list[Path]:
    out = []
    for q in dst.parent.glob(f"{STAGE}*"):
        m = _STAGE_NAME.match(q.name)
        if m and m.group(3) == dst.name[:255 - (len(q.name) - len(m.group(3)))]:
            out.append(q)
    return out


def _recover(dst: Path, trash: list) -> None:
    """``recover``'s renames (the folder lock held); the folders to delete go to ``trash``."""
    new, old = staging_path(dst), backup_path(dst)
    if _present(old):
        if _present(dst):
            trash.append(_to_trash(old))  # the swap had completed; only the old one's deletion was cut short
        elif _present(new):
            os.rename(new, dst)  # cut between the renames: the new one was complete
            trash.append(_to_trash(old))
        else:
            os.rename(old, dst)  # the new one never arrived (or was taken away): the old one comes back
    if _present(new):
        trash.append(_to_trash(new))  # its commit cut short before the old one moved: the old one stays
    trash.extend(_trash_of(dst))  # deletions of its earlier versions cut short
    for q in _stages_of(dst):
        _drop_stale(q, trash)


def _drop_stale(q: Path, trash: list) -> None:
    """The staging folder ``q`` to ``trash`` if its writer is gone (the folder lock held); best
    effort: one that cannot be renamed stays for a later cleanup, one already gone needs nothing."""
    try:
        if stale_stage(q):
            trash.append(_to_trash(q))
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.info("stale staging folder %s left for later: %s", q, exc)


def recover(dst) -> None:
    """Finish or undo a swap of ``dst`` that a crash or an error cut short (see the module)."""
    _locked(Path(dst), _recover)


def _locked(path: Path, step) -> list:
    """``step(path, trash)`` under the lock of ``path``'s folder; the folders it put in ``trash``
    deleted after the lock is released, also when it raises. The trash list."""
    trash: list = []
    try:
        with folder_lock(path.parent):
            step(path, trash)
    finally:
        _purge(trash)
    return trash


def recover_all(folder, before: float | None = None) -> list[str]:
    """``recover`` every swap left in ``folder``, and delete its '.rfm-del-*' leftovers and the
    staging folders whose writers are gone: the renames under one hold of the folder lock, the
    deletions after it. With ``before`` (atomic.sweep's), only entries last modified before then
    (read as each is reached). Entries are taken staging folders and trash first, then by name,
    whatever order the folder lists them in; one gone by the time it is reached (taken by an
    earlier one's recovery: a backup with its new folder) is skipped. Returns the names of the
    entries recovered or deleted (a backup or new folder: its swap recovered; a staging folder
    only where its writer was gone)."""
    folder = Path(folder)
    try:
        names = [e.name for e in folder.iterdir()]
    except OSError:
        return []
    trash: list = []
    done: list[str] = []
    # staging folders and trash first (a swap's recovery may take its folder's staging folders
    # with it), then by name: the names returned do not depend on the order the folder is listed in
    names.sort(key=lambda n: (not n.startswith((STAGE, DEL)), n))
    try:
        with folder_lock(folder):
            for n in names:
                try:
                    mtime = os.lstat(folder / n).st_mtime  # gone by now: taken by an earlier one's recovery
                    if before is not None and mtime >= before:
                        continue
                    if n.startswith(DEL):
                        trash.append(folder / n)
                    elif n.startswith(STAGE):
                        k = len(trash)
                        _drop_stale(folder / n, trash)
                        if not any(q is not None for q in trash[k:]):
                            continue
                    elif n.startswith((OLD, NEW)) and len(n) > len(NEW):  # (the two are as long)
                        _recover(folder / n[len(NEW):], trash)
                    else:
                        continue
                    done.append(n)
                except OSError:
                    pass
    finally:
        _purge(trash)
    return done


def exists(dst) -> bool:
    """Whether ``dst`` holds a folder, after recovering a swap a crash cut short: an adapter or
    model whose replacement was killed between its renames is there again."""
    dst = Path(dst)
    if dst.parent.is_dir():
        recover(dst)
    return _present(dst)


def commit(new, dst, replace: bool = False, keep_old: bool = False) -> None:
    """Put the complete folder ``new`` (beside ``dst``) at ``dst``: its files and entries are
    flushed to the disk first, the renames made under the folder lock (after recovering a swap
    cut short), and the parent's entries flushed (an error there only logged) before the old
    folder is deleted. An existing ``dst`` is refused (FileExistsError) unless ``replace``; then
    it is renamed to ``backup_path(dst)`` and deleted after (kept with ``keep_old``: ``undo`` or
    ``recover`` then decide)."""
    new, dst = Path(new), Path(dst)
    sync_tree(new)
    trash: list = []
    try:
        with folder_lock(dst.parent):
            _recover(dst, trash)
            had = _present(dst)
            if had and not replace:
                raise FileExistsError(errno.EEXIST, "already exists", str(dst))
            if had:
                _swap_in(new, dst, trash)
            else:
                os.rename(new, dst)
            try:
                sync_dir(dst.parent)  # the renames on the disk before the old folder goes
            except OSError as exc:  # the new folder is in place all the same
                log.warning("could not flush %s after replacing %s: %s", dst.parent, dst.name, exc)
            if had and not keep_old:
                try:
                    trash.append(_to_trash(backup_path(dst)))
                except OSError:
                    pass  # the new one is in place; recover() drops the old one next time
    finally:
        _purge(trash)


def _swap_in(new: Path, dst: Path, trash: list) -> None:
    """new -> '.rfm-new-NAME' (complete: recover() rolls it forward once dst has moved aside),
    dst -> '.rfm-old-NAME', '.rfm-new-NAME' -> dst. On an error the old folder is put back and
    the new one goes to ``trash`` where they can be (recover() finishes the rest)."""
    ready, old = staging_path(dst), backup_path(dst)
    os.rename(new, ready)
    try:
        os.rename(dst, old)
        os.rename(ready, dst)
    except BaseException:
        try:
            if _present(old) and not _present(dst):
                os.rename(old, dst)
            if _present(dst) and _present(ready):  # the old one back: the new one is not needed
                try:
                    trash.append(_to_trash(ready))
                except OSError:
                    shutil.rmtree(ready, ignore_errors=True)
        except OSError:
            pass
        raise


@contextmanager
def replacing(dst, replace: bool = False, keep_old: bool = False):
    """A new empty staging folder for ``dst``, this writer's own, committed (``commit``) when the
    block ends normally and deleted when it raises. A swap of ``dst`` cut short is recovered first
    (its leftovers out of the way before the new folder is written); the commit recovers again
    under the folder lock, which is what its renames rely on. An existing ``dst`` is refused
    before anything is written unless ``replace`` (and again at the commit, should another
    writer have put one there meanwhile)."""
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    recover(dst)
    if not replace and _present(dst):
        raise FileExistsError(errno.EEXIST, "already exists", str(dst))
    new = _new_stage(dst)
    try:
        yield new
        commit(new, dst, replace=replace, keep_old=keep_old)
    except BaseException:
        if _present(new):
            try:
                discard_tree(new)
            except OSError:  # not even renamed: deleted in place
                shutil.rmtree(new, ignore_errors=True)
        raise
    finally:
        _live.discard(new.name)


def undo(dst) -> None:
    """Undo a ``commit(..., keep_old=True)``: the new folder goes and the one it replaced (if
    any) comes back under its name."""
    dst = Path(dst)
    trash: list = []
    try:
        with folder_lock(dst.parent):
            old = backup_path(dst)
            if not _present(old):
                trash.append(_to_trash(dst))
            elif _present(dst):
                trash.append(_to_trash(dst))  # out of the way first; a crash now leaves the old one for recover()
                os.rename(old, dst)
            else:
                os.rename(old, dst)
    finally:
        _purge(trash)


def drop_old(dst) -> None:
    """Keep what ``commit(..., keep_old=True)`` put in place: delete the folder it replaced."""
    dst = Path(dst)
    with folder_lock(dst.parent):
        gone = _to_trash(backup_path(dst))
    _purge([gone])
