"""A guard against a reference-count bug of some PySide6 releases (seen with 6.12.0 on
Python 3.11): every Python ``True`` emitted through a Python-declared Signal (``Signal(bool)``,
``Signal(object)``, ``Signal(str, bool)``...) loses one reference. ``True`` is a singleton
whose count starts in the tens of thousands, so the loss only shows late: after enough
emissions (a long session, a long test run) the interpreter aborts with
``Fatal Python error: bool_dealloc`` (usually in its final collection at exit).

Python 3.12 makes ``True`` and ``False`` immortal (PEP 683), so nothing can free them there.
On older Pythons ``guard_bool_singletons()`` measures whether this PySide loses references
(one throwaway signal, a few emissions) and, if it does, gives the two singletons the same
kind of headroom: a reference count far beyond anything the leak can use up.
"""

from __future__ import annotations

import sys

HEADROOM = 1 << 40
_checked = False


def leaks_true() -> bool:
    """True when emitting ``True`` through a Python Signal drops a reference to it."""
    from PySide6.QtCore import QObject, Signal

    class _Probe(QObject):
        fired = Signal(object)

    probe = _Probe()
    probe.fired.connect(_ignore)
    before = sys.getrefcount(True)
    for _ in range(8):
        probe.fired.emit(True)
    after = sys.getrefcount(True)
    probe.fired.disconnect(_ignore)
    return after < before


def _ignore(*_args) -> None:
    return None


def guard_bool_singletons() -> bool:
    """Once per process; True when the headroom was added (this PySide leaks, Python < 3.12)."""
    global _checked
    if _checked or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    _checked = True
    if not leaks_true():
        return False
    import ctypes

    for obj in (True, False):  # ob_refcnt is the first field of every CPython object
        ctypes.c_ssize_t.from_address(id(obj)).value += HEADROOM
    return True
