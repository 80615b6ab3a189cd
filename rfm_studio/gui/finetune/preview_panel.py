"""The before/after preview of an adapter: the same edit (same seed) of one of the user's
inputs by the base model (A) and with the adapter (B), to listen to or open in the editor."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QProgressBar, QVBoxLayout

from . import work
from .job_slot import JobSlot
from .pairing import Triplet
from .widgets import button, hint, tool


class PreviewPanel(QGroupBox):
    """Runs ``work.preview`` as the tab's job.

    Uses: ``slot`` (the tab's job on the model), ``host`` (the worker's model), ``table``
    (the triplets: ``triplets()``, ``selected_rows()``, ``instruction()``), ``progress`` (the
    tab's progress bar), ``model_ready()``, ``say(text, warn)``, ``play(audio, sr, label)``
    and ``stop()`` (the tab's player). ``open_preview(PreviewOutcome)`` asks the editor to
    show it; ``error(title, message, detail)`` when a preview failed."""

    open_preview = Signal(object)
    error = Signal(str, str, str)

    def __init__(self, slot: JobSlot, host, table, progress: QProgressBar, model_ready: Callable[[], bool],
                 say: Callable, play: Callable, stop: Callable, parent=None):
        super().__init__("Before / after", parent)
        self.slot, self.host, self.table, self.progress = slot, host, table, progress
        self.model_ready, self.say, self.play = model_ready, say, play
        self.result: Optional[work.PreviewOutcome] = None
        pl = QVBoxLayout(self)
        self.label = hint("After training, the same edit of one of your inputs is made by the base model (A) "
                          "and with the adapter (B).")
        pl.addWidget(self.label)
        row = QHBoxLayout()
        self.b_pv_orig = tool("▶ Original", lambda: self.play_preview("original"))
        self.b_pv_a = tool("▶ A: base model", lambda: self.play_preview("base"))
        self.b_pv_b = tool("▶ B: with adapter", lambda: self.play_preview("adapted"))
        self.b_pv_stop = tool("■", stop, "Stop playback")
        self.b_pv_open = button("Open in editor", self.open_in_editor,
                                "Show the original, A and B in the editor's views (compare A and B there)")
        for b in (self.b_pv_orig, self.b_pv_a, self.b_pv_b, self.b_pv_stop):
            row.addWidget(b)
        row.addStretch(1)
        pl.addLayout(row)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.b_pv_open)
        pl.addLayout(row)

    def pick_triplet(self, triplets) -> Optional[Triplet]:
        """The selected triplet of the table, else the first of ``triplets`` with an input."""
        rows = self.table.triplets()
        sel = self.table.selected_rows()
        if sel and sel[0] < len(rows) and rows[sel[0]].input:
            return rows[sel[0]]
        return next((t for t in triplets if t.input), None)

    def preview_adapter(self, folder: str, triplet: Optional[Triplet] = None) -> Optional[int]:
        """Edit one input with the base model and with the adapter (same seed), in the worker."""
        if self.slot.busy or not self.model_ready():
            return None
        other = self.slot.other_job()
        if other:
            self.say(other, warn=True)
            return None
        triplet = triplet or self.pick_triplet(self.table.triplets())
        if triplet is None:
            self.say("Add a triplet: the preview edits one of your inputs.", warn=True)
            return None
        instruction = triplet.instruction or self.table.instruction()
        if not instruction:
            self.say("The preview needs the triplet's instruction.", warn=True)
            return None
        host = self.host
        job = self.slot.submit(lambda c: work.preview(host, folder, triplet.input, instruction, c),
                               "adapter preview", yielded=self._step, returned=self._done, errored=self._failed,
                               aborted=self._aborted, cancelled=self._cancelled)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("Preview: waiting for the worker…")
        return job

    def _step(self, ev: work.PreviewStep):
        self.progress.setRange(0, max(1, ev.total))
        self.progress.setValue(ev.step)
        self.progress.setFormat(f"Preview ({'base model' if ev.phase == 'base' else 'with adapter'}) "
                                + (ev.text or f"step {ev.step}/{ev.total}"))

    def _done(self, p: work.PreviewOutcome):
        self.result = p
        dur = len(p.original) / p.sample_rate
        trimmed = f" (its first {dur:.0f} s)" if p.trimmed else ""
        self.label.setText(f"<b>{Path(p.adapter).name}</b> on <b>{Path(p.input).name}</b>{trimmed}: "
                           f"“{p.instruction}”. A: the base model, B: with the adapter, same seed "
                           f"({p.seconds:.1f} s).")
        self.progress.setFormat("Preview ready: listen to A and B")
        self.say("Preview ready: play A (base model) and B (with the adapter), or open them in the editor.")
        self.update_buttons()

    def _failed(self, err):
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("Preview failed")
        self.say(f"The preview failed: {err.message}", warn=True)
        self.error.emit("The preview failed", err.message, err.detail if not err.user else "")

    def _aborted(self):  # the job stopped with Cancelled while live (shutdown drops callbacks instead)
        self.progress.setFormat("Stopped")

    def _cancelled(self):  # Cancel pressed during the preview
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("Preview cancelled")

    def play_preview(self, which: str) -> bool:
        p = self.result
        if p is None:
            return False
        label = {"original": "the original", "base": "A (base model)", "adapted": "B (with the adapter)"}[which]
        return self.play(getattr(p, which), p.sample_rate, label)

    def open_in_editor(self) -> None:
        if self.result is not None:
            self.open_preview.emit(self.result)

    def update_buttons(self) -> None:
        has = self.result is not None
        for b in (self.b_pv_orig, self.b_pv_a, self.b_pv_b, self.b_pv_open):
            b.setEnabled(has)
