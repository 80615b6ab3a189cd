"""The Fine-tuning tab's one job on the model (a training run or a preview), in the app's
worker (lane "finetune"): who runs it, what it is, and whether the model is busy."""

from __future__ import annotations

from typing import Any, Callable, Optional

from PySide6.QtCore import QObject, Signal

LANE = "finetune"


class JobSlot(QObject):
    """At most one job of the tab at a time. ``submit`` runs ``fn(cancel)`` in the worker and
    calls back ``started()``, ``yielded(event)``, ``returned(value)``, ``errored(JobError)``
    and ``aborted()`` for that job only, and ``cancelled()`` when ``cancel()`` stops it;
    ``changed(busy)`` follows every start and end. ``training`` says whether the job is a
    training run (a preview otherwise)."""

    changed = Signal(bool)

    def __init__(self, runner, parent=None):
        super().__init__(parent)
        self.runner = runner
        self.job: Optional[int] = None
        self.training = False  # the job is a training run (False: a preview, or no job)
        self._cancelled: Optional[Callable[[], Any]] = None

    @property
    def busy(self) -> bool:
        return self.job is not None

    def other_job(self) -> str:
        """Why the model cannot take a job of the tab now ("" when it can)."""
        if self.runner.busy("edit"):
            return "An edit is running: train when it has finished (or cancel it)."
        if self.runner.busy("model"):
            return "The model is loading: train when it is ready."
        if self.runner.busy("find"):  # the sound finder runs in the same worker
            return "A Find is running: train when it has finished (or cancel it)."
        return ""

    def submit(self, fn, label: str, training: bool = False, started=None, yielded=None, returned=None,
               errored=None, aborted=None, cancelled=None) -> int:
        """Run ``fn(cancel)`` as the tab's job (superseding any other); the slot is free again
        before an ending callback (returned, errored, aborted, cancelled) is called."""
        def ending(call):
            def end(*args):
                self._set(None)
                if call is not None:
                    call(*args)
            return end

        job = self.runner.submit(LANE, fn, label, on_started=started, on_yielded=yielded,
                                 on_returned=ending(returned), on_errored=ending(errored),
                                 on_aborted=ending(aborted))
        self._set(job, training, cancelled)
        return job

    def cancel(self) -> bool:
        """Cancel the job and call its ``cancelled`` callback; False when there was none."""
        if self.job is None:
            return False
        cancelled = self._cancelled
        self.runner.cancel(LANE)
        self._set(None)
        if cancelled is not None:
            cancelled()
        return True

    def _set(self, job, training: bool = False, cancelled=None):
        was = self.busy
        self.job, self.training, self._cancelled = job, bool(training and job is not None), cancelled
        if was != self.busy or job is not None:
            self.changed.emit(self.busy)
