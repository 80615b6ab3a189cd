"""Helpers for tests about processes."""

import subprocess
import sys


def dead_pid() -> int:
    """The PID of a process that has run and exited (a writer that is gone)."""
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid
