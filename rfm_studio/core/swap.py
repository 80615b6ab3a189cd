"""One way to put a folder in place of another, safe against a crash at any moment.

Every folder the app replaces or installs (adapters, checkpoints, imported, downloaded and
converted models, the shipped model) goes through here:

    with replacing(dst, replace=True) as new:   # recovers an earlier cut-short swap first
        ...write the complete folder into new...  # '.rfm-new-NAME' beside dst
    # commit: dst -> '.rfm-old-NAME', new -> dst, then the old one is deleted

At every moment one complete folder holds the name or can be put back under it by
``recover(dst)``, which each operation on ``dst`` runs first (and the start-up sweep runs for
stale ones): an old one beside a complete ``dst`` is dropped; an old one without ``dst``
comes back, or the complete new one (the commit had started, so it was finished) is
renamed in; a staging folder that was never committed is deleted. Folders being deleted are
first renamed to '.rfm-del-*', so a half-deleted folder never carries a name that recovery
would put back.
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from contextlib import contextmanager
from pathlib import Path

NEW, OLD, DEL = ".rfm-new-", ".rfm-old-", ".rfm-del-"


def staging_path(dst) -> Path:
    dst = Path(dst)
    return dst.parent / f"{NEW}{dst.name}"


def backup_path(dst) -> Path:
    dst = Path(dst)
    return dst.parent / f"{OLD}{dst.name}"


def _present(p: Path) -> bool:
    return p.exists() or p.is_symlink()


def discard_tree(p) -> Path | None:
    """Delete the folder ``p``: renamed to a '.rfm-del-*' name first (out of every listing and
    never mistaken for a backup), then removed. Returns what is left (None when all went)."""
    p = Path(p)
    if not _present(p):
        return None
    if p.is_symlink() or not p.is_dir():
        p.unlink()
        return None
    gone = _trash_name(p)
    os.rename(p, gone)  # a failure leaves the folder whole, under its name
    shutil.rmtree(gone, ignore_errors=True)
    return gone if _present(gone) else None


def _base_name(name: str) -> str:
    for prefix in (NEW, OLD):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _trash_name(p: Path) -> Path:
    """'.rfm-del-XXXXXXXX-NAME' (NAME: the folder's name without a staging or backup prefix)."""
    return p.parent / f"{DEL}{uuid.uuid4().hex[:8]}-{_base_name(p.name)}"[:255]


def _trash_of(dst: Path) -> list[Path]:
    return [q for q in dst.parent.glob(f"{DEL}????????-*") if q.name[len(DEL) + 9:] == dst.name[:255 - len(DEL) - 9]]


def recover(dst) -> None:
    """Finish or undo a swap of ``dst`` that a crash or an error cut short (see the module)."""
    dst = Path(dst)
    new, old = staging_path(dst), backup_path(dst)
    if _present(old):
        if _present(dst):
            discard_tree(old)  # the swap had completed; only the old one's deletion was cut short
        elif _present(new):
            os.rename(new, dst)  # cut between the two renames: the new one was complete
            discard_tree(old)
        else:
            os.rename(old, dst)  # the new one never arrived (or was taken away): the old one comes back
    if _present(new):
        discard_tree(new)  # a staging folder that was never committed
    for q in _trash_of(dst):  # deletions of its earlier versions cut short
        shutil.rmtree(q, ignore_errors=True)


def recover_all(folder) -> None:
    """``recover`` every swap left in ``folder``, and delete its '.rfm-del-*' leftovers."""
    folder = Path(folder)
    try:
        names = [e.name for e in folder.iterdir()]
    except OSError:
        return
    for n in names:
        if n.startswith(DEL):
            shutil.rmtree(folder / n, ignore_errors=True)
        for prefix in (OLD, NEW):
            if n.startswith(prefix) and len(n) > len(prefix):
                try:
                    recover(folder / n[len(prefix):])
                except OSError:
                    pass


def exists(dst) -> bool:
    """Whether ``dst`` holds a folder, after recovering a swap a crash cut short: an adapter or
    model whose replacement was killed between its renames is there again."""
    dst = Path(dst)
    if dst.parent.is_dir():
        recover(dst)
    return _present(dst)


def commit(new, dst, replace: bool = False, keep_old: bool = False) -> None:
    """Put the complete folder ``new`` at ``dst``. An existing ``dst`` is refused
    (FileExistsError) unless ``replace``; then it is renamed to ``backup_path(dst)`` first and
    deleted after (kept with ``keep_old``: ``undo`` or ``recover`` then decide)."""
    new, dst = Path(new), Path(dst)
    had = _present(dst)
    if had and not replace:
        raise FileExistsError(errno.EEXIST, "already exists", str(dst))
    old = backup_path(dst)
    if had:
        os.rename(dst, old)
    try:
        os.rename(new, dst)
    except BaseException:
        if had:
            try:
                os.rename(old, dst)
            except OSError:
                pass  # recover(dst) puts it back
        raise
    if had and not keep_old:
        try:
            discard_tree(old)
        except OSError:
            pass  # the new one is in place; recover() drops the old one next time


@contextmanager
def replacing(dst, replace: bool = False, keep_old: bool = False):
    """A new empty staging folder for ``dst``, committed (``commit``) when the block ends
    normally and deleted when it raises. An existing ``dst`` is refused before anything is
    written unless ``replace``."""
    from .atomic import new_file_mode

    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    recover(dst)
    if not replace and _present(dst):
        raise FileExistsError(errno.EEXIST, "already exists", str(dst))
    new = staging_path(dst)
    new.mkdir()
    m = new_file_mode()
    try:
        new.chmod(m | ((m & 0o444) >> 2))
    except OSError:
        pass
    try:
        yield new
        commit(new, dst, replace=replace, keep_old=keep_old)
    except BaseException:
        if _present(new):
            try:
                discard_tree(new)
            except OSError:  # not even renamed: deleted in place, unless recover() would need it whole
                if not (_present(backup_path(dst)) and not _present(dst)):
                    shutil.rmtree(new, ignore_errors=True)
        raise


def undo(dst) -> None:
    """Undo a ``commit(..., keep_old=True)``: the new folder goes and the one it replaced (if
    any) comes back under its name."""
    dst = Path(dst)
    old = backup_path(dst)
    if not _present(old):
        discard_tree(dst)
        return
    if _present(dst):
        gone = _trash_name(dst)
        os.rename(dst, gone)  # out of the way first; a crash now leaves the old one for recover()
        os.rename(old, dst)
        shutil.rmtree(gone, ignore_errors=True)
    else:
        os.rename(old, dst)


def drop_old(dst) -> None:
    """Keep what ``commit(..., keep_old=True)`` put in place: delete the folder it replaced."""
    discard_tree(backup_path(dst))
