"""Python's cyclic garbage collector runs only on the UI thread while the app has a worker.

Automatic collection runs in whichever thread happens to allocate. With the model loading
or training in the worker thread, that is usually the worker, and a collected cycle that
holds a Qt object of the UI thread (a closed window's timer, a dialog) is then destroyed
from the wrong thread: Qt keeps the dead object's timer registered and later delivers a
timer event to freed memory (a segfault in ``QTimerInfoList::activateTimers``).

``ensure_main_thread_gc()`` turns automatic collection off and collects from a UI-thread
timer instead, with the same generation thresholds (pyqtgraph's ``GarbageCollector`` does
the same). Reference counting still frees acyclic garbage immediately in every thread.
"""

from __future__ import annotations

import gc

_GUARD = None


class _MainThreadGC:
    def __init__(self, app, interval_ms: int):
        from PySide6.QtCore import QTimer

        self.app = app
        self.threshold = gc.get_threshold()
        self.collections = 0
        self.timer = QTimer(app)  # parented to the application: lives as long as Qt does
        self.timer.setObjectName("rfm-main-thread-gc")
        self.timer.timeout.connect(self.check)
        gc.disable()
        self.timer.start(interval_ms)

    def check(self) -> None:
        """Collect the generations whose allocation counts passed their thresholds."""
        c0, c1, c2 = gc.get_count()
        t0, t1, t2 = self.threshold
        if c0 <= t0:
            return
        gen = 2 if (c1 > t1 and c2 > t2) else 1 if c1 > t1 else 0
        gc.collect(gen)
        self.collections += 1


def ensure_main_thread_gc(interval_ms: int = 500):
    """Install the guard once per process (needs a QCoreApplication); call on the UI thread."""
    global _GUARD
    from PySide6.QtCore import QCoreApplication

    app = QCoreApplication.instance()
    if app is None:
        raise RuntimeError("ensure_main_thread_gc needs a running QApplication")
    if _GUARD is None or _GUARD.app is not app:
        _GUARD = _MainThreadGC(app, interval_ms)
    elif not _GUARD.timer.isActive():  # installed, then released: take over again
        gc.disable()
        _GUARD.timer.start(interval_ms)
    return _GUARD


def release_main_thread_gc() -> None:
    """Collect now, on this (UI) thread, and give collection back to Python (tests call this
    between modules once every worker has stopped)."""
    if _GUARD is not None and _GUARD.timer.isActive():
        _GUARD.timer.stop()
        gc.collect()
        gc.enable()
