"""Whether a process is still running, by its id, on every platform: the staging folders and
temporary files of the folder swap and atomic writes (core.swap, core.atomic) and the GUI's
session folders carry their writer's process id, and one whose process is gone is stale."""

from __future__ import annotations

import os
import sys

_STILL_ACTIVE = 259  # GetExitCodeProcess's code for a process that has not exited
_MAX_WIN_PID = 0xFFFFFFFF  # a DWORD


def pid_alive(pid: int) -> bool:
    """Whether the process ``pid`` is running. This process counts; so does one this user may
    not query or signal. An id no process can have (0 or less, or too large) does not."""
    if pid == os.getpid():
        return True
    if pid <= 0:
        return False
    if sys.platform == "win32":  # os.kill(pid, 0) would send CTRL_C_EVENT there, or raise
        return _win_alive(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (OverflowError, ValueError):
        return False  # beyond any process id
    except OSError:
        return True  # another user's process
    return True


def _win_alive(pid: int) -> bool:
    if pid > _MAX_WIN_PID:
        return False
    code = _win_exit_code(pid)
    return code == _STILL_ACTIVE


def _win_exit_code(pid: int) -> int | None:
    """The exit code Windows reports for ``pid`` (_STILL_ACTIVE while it runs), or None when
    it cannot be opened (no such process)."""
    import ctypes

    k32 = ctypes.windll.kernel32
    h = k32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not h:
        return None
    try:
        code = ctypes.c_ulong()
        ok = k32.GetExitCodeProcess(h, ctypes.byref(code))
    finally:
        k32.CloseHandle(h)
    return code.value if ok else None
