"""The Fine-tuning tab's one job on the model (a training run or a preview), in the app's
worker (lane "finetune"): who runs it, what it is, and whether the model is busy."""

from __future__ import annotations

from typing import Callable, Optional

from PySide6.QtCore import QObject, Signal

LANE = "finetune"


class Router(QObject):
    """Calls back per job: ``submit(lane, fn, label, started=, yielded=, returned=, errored=,
    aborted=)``; each callback hears only its own job (the runner's signals carry every job)."""

    def __init__(self, runner, parent=None):
        super().__init__(parent)
        self.runner = runner
        self._calls: dict = {}
        runner.started.connect(lambda j: self._route(j, "started"))
        runner.yielded.connect(lambda j, ev: self._route(j, "yielded", ev))
        runner.returned.connect(lambda j, v: self._route(j, "returned", v))
        runner.errored.connect(lambda j, e: self._route(j, "errored", e))
        runner.aborted.connect(lambda j: self._route(j, "aborted"))

    def submit(self, lane: str, fn, label: str = "", **calls: Callable) -> int:
        job = self.runner.submit(lane, fn, label=label)
        self._calls = {j: c for j, c in self._calls.items() if self.runner.is_live(j)}  # superseded ones
        self._calls[job] = calls
        return job

    def _route(self, job_id, what, *args):
        calls = self._calls.get(job_id)
        if calls is None:
            return
        if what in ("returned", "errored", "aborted"):
            del self._calls[job_id]
        fn = calls.get(what)
        if fn is not None:
            fn(*args)


class JobSlot(QObject):
    """At most one job of the tab at a time. ``submit`` runs ``fn(cancel)`` in the worker and
    calls back ``started()``, ``yielded(event)``, ``returned(value)``, ``errored(JobError)``
    and ``aborted()`` for that job only; ``changed(busy)`` follows every start and end."""

    changed = Signal(bool)

    def __init__(self, runner, parent=None):
        super().__init__(parent)
        self.runner = runner
        self.job: Optional[int] = None
        self.kind: Optional[str] = None  # "train" | "preview"
        self._router = Router(runner, self)

    @property
    def busy(self) -> bool:
        return self.job is not None

    def other_job(self) -> str:
        """Why the model cannot take a job of the tab now ("" when it can)."""
        if self.runner.busy("edit"):
            return "An edit is running: train when it has finished (or cancel it)."
        if self.runner.busy("model"):
            return "The model is loading: train when it is ready."
        return ""

    def submit(self, kind: str, fn, label: str, started=None, yielded=None, returned=None, errored=None,
               aborted=None) -> int:
        """Run ``fn(cancel)`` as the tab's job (superseding any other); the ending callbacks are
        called after the slot is free again."""
        def ending(call):
            def end(*args):
                if self.job == job:
                    self._set(None, None)
                    if call is not None:
                        call(*args)
            return end

        def live(call):
            return None if call is None else (lambda *args: self.job == job and call(*args))

        job = self._router.submit(LANE, fn, label, started=live(started), yielded=live(yielded),
                                  returned=ending(returned), errored=ending(errored), aborted=ending(aborted))
        self._set(job, kind)
        return job

    def cancel(self) -> Optional[str]:
        """Cancel the job; returns its kind (None when there was none)."""
        kind = self.kind
        if self.job is not None:
            self.runner.cancel(LANE)
            self._set(None, None)
        return kind

    def _set(self, job, kind):
        was = self.busy
        self.job, self.kind = job, kind
        if was != self.busy or job is not None:
            self.changed.emit(self.busy)
