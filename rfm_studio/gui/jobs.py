"""One QThread worker that runs core generators, one job at a time.

A job is a callable ``fn(cancel) -> generator | value``. The worker drives the generator, checks the job's
CancelToken between steps, and reports through signals carrying the job id: ``started``, ``yielded`` (events
faster than the UI takes them replace an undelivered one of their type and ``kind``: a step is never lost
behind the stage after it), ``returned``, ``errored`` (a JobError), ``aborted``.

Jobs are submitted to a *lane* ("edit", "model", ...): a new job supersedes the lane's pending and running job
(cancelled; what it still emits is dropped). Jobs of different lanes queue in the one worker, in order.
Per-job callbacks (in the manner of superqt's ``create_worker(..., _connect={...})``): the caller names what to
do with *this* job's outcome when it submits it, so no listener has to keep a table of job ids or switch on kinds::
    runner.submit("mel", lambda cancel: display_mel(audio, sr), label="mel",
                  on_returned=lambda mel: show(mel),      # the job's return value
                  on_errored=lambda err: report(err),     # a JobError
                  on_aborted=lambda: ...,                 # it stopped on its own Cancelled (see below)
                  on_yielded=lambda ev: progress(ev),     # each delivered event (newest of its type)
                  on_started=lambda: ...,                 # the worker began it
                  on_finished=lambda: ...)                # after returned / errored / aborted

Every callback is optional, runs on the UI thread, and fires for its own job only, and only while the job is
live: a job superseded by a newer one in its lane, or cancelled with ``cancel()``, never calls any of its
callbacks again (its references are dropped at once); ``on_aborted`` is for a job that stops by raising
``Cancelled`` itself. A callback runs before the matching runner-wide signal (for listeners that watch every
job: tests, diagnostics); an exception in a callback does not stop the signals or the job's ``on_finished``.

Only frozen dataclasses and numpy arrays cross the thread boundary; the worker-side callables keep anything
heavier (the model) on the worker thread. The window owns two runners: ``runner``, the one worker that holds
the model and runs every long job (edits, model loads, training, batch, library indexing and the library's
text encoder load), and ``io`` (``io_runner``), a second worker for short reads that must not wait behind a
long job of the first (opening a file, auditioning a sound, decoding a file to listen to, the fine-tuning file
checks, library searches). The second one never touches the model.
"""

from __future__ import annotations

import inspect
import itertools
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

from PySide6.QtCore import QObject, QThread, Signal, Slot

from ..core.events import CancelToken


@dataclass(frozen=True)
class JobError:
    kind: str  # the exception's class name
    message: str  # one sentence for a dialog
    user: bool  # True: an RFMError (bad file, option, model); False: unexpected
    detail: str = ""  # traceback text for "Show details"


def describe(exc: BaseException) -> JobError:
    from ..core.errors import RFMError
    from ..core.faults import is_out_of_memory

    name = type(exc).__name__
    detail = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    if isinstance(exc, RFMError):
        return JobError(name, str(exc), True, detail)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else name
    if is_out_of_memory(exc):
        return JobError(name, "Out of memory: choose the CPU or a lower precision in Settings, "
                              "or edit a shorter region.", True, detail)
    return JobError(name, f"Unexpected error ({name}): {text[:300]}", False, detail)


def lower_thread_priority(nice: int = 5) -> None:
    """Run the calling (worker) thread below the UI thread, so that a busy CPU delays the
    model, not the interface. Linux: per-thread nice; elsewhere Qt's thread priority."""
    import os
    import sys

    if sys.platform.startswith("linux") and hasattr(os, "setpriority"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), nice)
            return
        except OSError:
            pass
    QThread.currentThread().setPriority(QThread.LowPriority)


@dataclass
class _Job:
    id: int
    lane: str
    fn: object
    cancel: CancelToken
    label: str = ""
    callbacks: dict = field(default_factory=dict)  # "returned" -> fn(value), ... (UI thread only)


class _Worker(QObject):
    started = Signal(int)
    ping = Signal(int)
    returned = Signal(int, object)
    errored = Signal(int, object)
    aborted = Signal(int)

    def __init__(self, runner: "JobRunner"):
        super().__init__()
        self._runner = runner

    @Slot()
    def drain(self):
        if not self._runner._lowered:
            self._runner._lowered = True
            lower_thread_priority()
        while True:
            job = self._runner._take()
            if job is None:
                return
            self._run(job)
            self._runner._finish(job)

    def _run(self, job: _Job):
        from ..core.errors import Cancelled

        if job.cancel.cancelled:
            self.aborted.emit(job.id)
            return
        self.started.emit(job.id)
        try:
            out = job.fn(job.cancel)
            if not inspect.isgenerator(out):
                self.returned.emit(job.id, out)
                return
            while True:
                if job.cancel.cancelled:
                    out.close()
                    self.aborted.emit(job.id)
                    return
                try:
                    ev = next(out)
                except StopIteration as stop:
                    self.returned.emit(job.id, stop.value)
                    return
                if self._runner._post(job.id, ev):
                    self.ping.emit(job.id)
        except Cancelled:
            self.aborted.emit(job.id)
        except BaseException as exc:  # noqa: BLE001 - every failure becomes a dialog, never a crash
            if job.cancel.cancelled:
                self.aborted.emit(job.id)
            else:
                self.errored.emit(job.id, describe(exc))


_ORPHANS: list = []  # worker threads still finishing a step when their window closed
ORPHAN_EXIT_WAIT_S = 30.0


def _join_orphans(timeout_s: float | None = None) -> None:
    """At interpreter exit: let cancelled workers finish their current step (a model load, an
    import) before Python destroys their QThread objects, which aborts the process if the
    thread still runs. A step that outlasts the wait ends the process without that teardown."""
    import os
    import sys

    timeout_s = ORPHAN_EXIT_WAIT_S if timeout_s is None else timeout_s
    for thread, _ in _ORPHANS:
        try:
            running = thread.isRunning()
        except RuntimeError:  # already deleted on the C++ side
            continue
        if running and not thread.wait(int(timeout_s * 1000)):
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(0)


class JobRunner(QObject):
    """Owns the worker thread; lives on the UI thread. Signals carry (job id, payload)."""

    started = Signal(int)
    yielded = Signal(int, object)
    returned = Signal(int, object)
    errored = Signal(int, object)
    aborted = Signal(int)
    finished = Signal(int)  # after returned / errored / aborted of a live job
    _wake = Signal()

    def __init__(self, parent=None, name: str = "rfm-worker"):
        super().__init__(parent)
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._queue: deque[_Job] = deque()
        self._running: _Job | None = None
        self._live: dict[int, _Job] = {}  # submitted, not superseded, not yet finished
        self._mailbox: dict[int, list] = {}  # undelivered events per job, in order, the newest of each type
        self.coalesced = 0  # events replaced before the UI took them
        self._lowered = False
        from .gc_guard import ensure_main_thread_gc

        ensure_main_thread_gc()  # collected cycles must not destroy UI objects on the worker thread
        self._thread = QThread()
        self._thread.setObjectName(name)
        self._worker = _Worker(self)
        self._worker.moveToThread(self._thread)
        self._wake.connect(self._worker.drain)
        self._worker.started.connect(self._on_started)
        self._worker.ping.connect(self._on_ping)
        self._worker.returned.connect(self._on_returned)
        self._worker.errored.connect(self._on_errored)
        self._worker.aborted.connect(self._on_aborted)
        self._thread.start()

    # -- UI-thread API ------------------------------------------------------------------
    def submit(self, lane: str, fn, label: str = "", *, on_started: Optional[Callable[[], Any]] = None,
               on_yielded: Optional[Callable[[Any], Any]] = None, on_returned: Optional[Callable[[Any], Any]] = None,
               on_errored: Optional[Callable[[JobError], Any]] = None, on_aborted: Optional[Callable[[], Any]] = None,
               on_finished: Optional[Callable[[], Any]] = None) -> int:
        """Queue ``fn(cancel)``; supersede the lane's previous job. Returns the job id. The ``on_*`` callbacks
        belong to this job alone (module docstring): run on the UI thread while it is live, dropped when superseded."""
        self.cancel(lane)
        given = dict(started=on_started, yielded=on_yielded, returned=on_returned, errored=on_errored,
                     aborted=on_aborted, finished=on_finished)
        callbacks = {k: f for k, f in given.items() if f is not None}
        job = _Job(next(self._ids), lane, fn, CancelToken(), label, callbacks)
        with self._lock:
            self._queue.append(job)
            self._live[job.id] = job
        self._wake.emit()
        return job.id

    def cancel(self, lane: str | None = None) -> None:
        """Cancel the lane's (or every) pending and running job; their late signals are dropped."""
        with self._lock:
            for job in list(self._live.values()):
                if lane is None or job.lane == lane:
                    job.cancel.cancel()
                    job.callbacks = {}  # a let-go job calls nothing back (and keeps nothing alive)
                    del self._live[job.id]
            self._queue = deque(j for j in self._queue if not j.cancel.cancelled)

    def is_live(self, job_id: int) -> bool:
        return job_id in self._live

    def busy(self, lane: str | None = None) -> bool:
        return any(lane is None or j.lane == lane for j in self._live.values())

    def shutdown(self, timeout_ms: int = 10000) -> bool:
        """Cancel everything and stop the worker. A step that outlasts ``timeout_ms`` keeps its
        thread object alive until the process ends (destroying a running QThread aborts)."""
        self.cancel()
        self._thread.quit()
        if self._thread.wait(timeout_ms):
            return True
        if not _ORPHANS:
            import atexit

            atexit.register(_join_orphans)
        _ORPHANS.append((self._thread, self._worker))
        return False

    # -- worker-thread side -------------------------------------------------------------
    def _take(self):
        with self._lock:
            if not self._queue:
                self._running = None
                return None
            self._running = self._queue.popleft()
            return self._running

    def _finish(self, job):
        with self._lock:
            self._running = None

    def _post(self, job_id: int, ev) -> bool:
        """Store the event, replacing an undelivered one of its type; True when the UI must be
        pinged (nothing pending)."""
        with self._lock:
            box, kind = self._mailbox.setdefault(job_id, []), (type(ev), getattr(ev, "kind", None))
            same = [e for e in box if (type(e), getattr(e, "kind", None)) == kind]
            for e in same:
                box.remove(e)
            self.coalesced += len(same)
            box.append(ev)
            return len(box) == 1 and not same

    # -- UI-thread slots ----------------------------------------------------------------
    @staticmethod
    def _call(job: _Job | None, name: str, *args) -> None:
        fn = job.callbacks.get(name) if job is not None else None
        if fn is not None:
            fn(*args)

    def _on_started(self, job_id):
        job = self._live.get(job_id)
        if job is not None:
            try:
                self._call(job, "started")
            finally:
                self.started.emit(job_id)

    def _on_ping(self, job_id):
        with self._lock:
            box = self._mailbox.pop(job_id, None) or []
        error = None  # a failing callback loses neither the signal nor the events after it
        for ev in box:
            if (job := self._live.get(job_id)) is None:  # a callback may end the job
                break
            try:
                self._call(job, "yielded", ev)
            except Exception as exc:
                error = error or exc
            self.yielded.emit(job_id, ev)
        if error is not None:
            raise error

    def _end(self, job_id) -> _Job | None:
        with self._lock:
            self._mailbox.pop(job_id, None)
            return self._live.pop(job_id, None)

    def _deliver(self, job: _Job, name: str, signal, *args) -> None:
        """The job's own callback, then the runner-wide signal, then ``finished`` (both always)."""
        try:
            try:
                self._call(job, name, *args)
            finally:
                try:
                    signal.emit(job.id, *args)
                finally:
                    self._call(job, "finished")
        finally:
            job.callbacks = {}
            self.finished.emit(job.id)

    def _on_returned(self, job_id, value):
        try:
            self._on_ping(job_id)  # deliver the last undelivered events before the result
        finally:
            if (job := self._end(job_id)) is not None:
                self._deliver(job, "returned", self.returned, value)

    def _on_errored(self, job_id, err):
        job = self._end(job_id)
        if job is not None:
            self._deliver(job, "errored", self.errored, err)

    def _on_aborted(self, job_id):
        job = self._end(job_id)
        if job is not None:
            self._deliver(job, "aborted", self.aborted)


def shutdown_runners(runners, timeout_ms: int = 3000) -> bool:
    """Stop runners together: each is cancelled and told to quit, then all are waited for within one ``timeout_ms``."""
    for r in runners:
        r.cancel(), r._thread.quit()
    end = time.monotonic() + timeout_ms / 1000
    return all([r.shutdown(max(0, int((end - time.monotonic()) * 1000))) for r in runners])


class Throttle:
    """Newest-wins rate limiter on the UI thread: ``push(x)`` calls ``fn(x)`` at most every
    ``interval`` seconds; a value pushed in between is delivered when the interval ends."""

    def __init__(self, fn, interval: float = 0.04, parent=None):
        from PySide6.QtCore import QTimer

        self.fn = fn
        self.interval = interval
        self._last = 0.0
        self._pending = None
        self._has = False
        self._timer = QTimer(parent)  # parented: destroyed with its widget, on the UI thread
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.flush)

    def push(self, value):
        self._pending, self._has = value, True
        wait = self.interval - (time.perf_counter() - self._last)
        if wait <= 0:
            self.flush()
        elif not self._timer.isActive():
            self._timer.start(max(1, int(wait * 1000)))

    def flush(self):
        self._timer.stop()
        if self._has:
            value, self._pending, self._has = self._pending, None, False
            self._last = time.perf_counter()
            self.fn(value)

    def clear(self):
        self._timer.stop()
        self._pending, self._has = None, False


def io_runner(parent=None) -> JobRunner:
    """The window's second worker: short file reads and library queries, never the model
    (a training run in the first worker must not hold them up)."""
    return JobRunner(parent, name="rfm-io")
