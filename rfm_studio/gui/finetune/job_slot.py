"""The Fine-tuning tab's one job on the model (a training run or a preview), in the app's
worker (lane "finetune"): who runs it, what it is, and whether the model is busy."""

from __future__ import annotations

from typing import Optional

from PySide6.QtCore import QObject, Signal

LANE = "finetune"


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
        """Run ``fn(cancel)`` as the tab's job (superseding any other); the slot is free again
        before an ending callback (returned, errored, aborted) is called."""
        def ending(call):
            def end(*args):
                self._set(None, None)
                if call is not None:
                    call(*args)
            return end

        job = self.runner.submit(LANE, fn, label, on_started=started, on_yielded=yielded,
                                 on_returned=ending(returned), on_errored=ending(errored),
                                 on_aborted=ending(aborted))
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
