"""Atomic file writes: a temporary file beside the destination, renamed over it when complete,
so a reader never sees a partial file and a failure leaves the destination as it was.

Temporary files from ``tempfile.mkstemp`` are private (0600); they are given the mode a
newly created file would have under the process's umask before they are renamed into place.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


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
    fd, tmp = tempfile.mkstemp(prefix=".rfm-", suffix=suffix, dir=str(p.parent))
    os.close(fd)
    try:
        os.chmod(tmp, new_file_mode())
    except OSError:
        pass
    return tmp


def discard(tmp) -> None:
    if tmp and os.path.exists(tmp):
        os.unlink(tmp)


def atomic_write_bytes(path, data: bytes) -> None:
    tmp = temp_beside(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        discard(tmp)
        raise
