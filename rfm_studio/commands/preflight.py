"""Checks on the command line's paths that run before any model loads: a link loop as input or
output, an output that is the same file (inode) as an input, an output folder that cannot be
written. Each problem is one sentence (OptionError)."""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

from ..core.atomic import file_id
from ..core.errors import OptionError


def check_no_loop(path, what: str = "The path") -> None:
    """OptionError when ``path`` is (or runs through) a symbolic link loop."""
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise OptionError(f"{what} {path} is a symbolic link loop.") from None
    except ValueError:  # a NUL byte in the path
        raise OptionError(f"{what} {str(path)!r} is not a valid path.") from None


def check_not_special(path, what: str = "The input") -> None:
    """OptionError when ``path`` exists but is a fifo, socket or device (opening one may wait forever)."""
    import stat

    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return  # missing or unreadable: the reader says so
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        raise OptionError(f"{what} {path} is not a regular file (a pipe, socket or device).")


def check_not_an_input(out, inputs) -> None:
    """OptionError when the existing output ``out`` is one of ``inputs`` (by device and inode: also a
    hard link or a symbolic link to it)."""
    oid = file_id(out)
    if oid is None:
        return
    for q in inputs:
        if file_id(q) == oid:
            raise OptionError(f"The output {out} is the same file as the input {q} (a link to it); "
                              "choose another output path.")


def check_writable_folder(folder) -> None:
    """OptionError unless a file can be created in ``folder`` (or, when it does not exist yet, in the
    nearest folder above it that does). Probed by creating and removing a hidden temporary file,
    which also catches read-only file systems and immutable folders."""
    folder = Path(folder)
    probe_in = folder
    while not probe_in.exists():
        if probe_in.parent == probe_in:
            break
        probe_in = probe_in.parent
    if not probe_in.is_dir():
        raise OptionError(f"The output folder {folder} cannot be made: {probe_in} is not a folder.")
    try:
        fd, tmp = tempfile.mkstemp(prefix=".rfm-probe-", dir=str(probe_in))
    except OSError as exc:
        why = (exc.strerror or "not writable").lower()
        raise OptionError(f"The output folder {probe_in} cannot be written ({why}); choose another output.") from None
    os.close(fd)
    try:
        os.unlink(tmp)
    except OSError:
        pass
