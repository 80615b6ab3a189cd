"""Train / Cancel / Resume, the progress bar with its ETA and the live loss curve (train,
its running average and the held-out triplet) of the Fine-tuning tab."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Optional

import pyqtgraph as pg
from PySide6.QtCore import Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QProgressBar, QVBoxLayout

from ...core.errors import RFMError
from ...core.training.finetune_config import HOLD_OUT_MIN, FinetuneConfig
from . import work
from .job_slot import JobSlot
from .pairing import Triplet
from .settings_form import SettingsForm
from .widgets import LossPlot, button, ema, fmt_eta, hint

RESUME_TIP = ("Start the last run again, with the same triplets and settings, from step 0: a stopped "
              "adapter run cannot continue where it stopped (no mid-run checkpoints are kept).")


class TrainingPanel(QGroupBox):
    """Runs ``work.train`` as the tab's job.

    Uses: ``slot`` (the tab's job on the model), ``host`` (the worker's model), ``form``
    (the settings), ``table`` (the triplets: ``triplets()``, ``run_checks()``, ``checking``,
    ``problems``, ``ready``), ``model_ready()``, ``say(text, warn)`` and ``confirm(title,
    text)``. ``saved(TrainOutcome, triplets)`` when an adapter was saved; ``error(title, message,
    detail)`` when a run failed."""

    saved = Signal(object, object)
    error = Signal(str, str, str)

    def __init__(self, slot: JobSlot, host, form: SettingsForm, table, model_ready: Callable[[], bool],
                 say: Callable, confirm: Callable, parent=None):
        super().__init__("Training", parent)
        self.slot, self.host, self.form, self.table = slot, host, form, table
        self.model_ready, self.say, self.confirm = model_ready, say, confirm
        self.outcome: Optional[work.TrainOutcome] = None
        self.last: Optional[tuple] = None  # (triplets, FinetuneConfig) of the last run started
        self.resumable = False
        tl = QVBoxLayout(self)
        row = QHBoxLayout()
        self.b_train = button("Train", self.start_training, "Train the adapter in the background", primary=True)
        self.b_cancel = button("Cancel", self.cancel, "Stop; nothing is saved")
        self.b_resume = button("Resume", self.resume_training, RESUME_TIP)
        row.addWidget(self.b_train, 2)
        row.addWidget(self.b_cancel, 1)
        row.addWidget(self.b_resume, 1)
        tl.addLayout(row)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("Ready")
        tl.addWidget(self.progress)
        self.plot = LossPlot()
        self.plot.setMinimumHeight(170)
        self.plot.setLabel("bottom", "step")
        self.plot.setLabel("left", "loss")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.plot.setMouseEnabled(x=False, y=False)
        self.plot.hideButtons()
        self.legend = self.plot.addLegend(offset=(-8, 8))
        self.train_curve = self.plot.plot([], [], name="train")
        self.smooth_curve = self.plot.plot([], [], name="train (average)")
        self.val_curve = self.plot.plot([], [], name="held-out", symbol="o", symbolSize=6)
        tl.addWidget(self.plot, 1)
        self.held_out = hint("")
        tl.addWidget(self.held_out)

    def show_held_out(self, n: int) -> None:
        """What the held-out curve will show with ``n`` triplets."""
        if n >= HOLD_OUT_MIN:
            self.held_out.setText(f"Triplet {n} is held out: the held-out loss (dots) is measured on it.")
        else:
            self.held_out.setText(f"With {HOLD_OUT_MIN} or more triplets the last one is held out for a "
                                  "validation loss; with fewer, only the training loss is shown.")

    def update_buttons(self) -> None:
        busy, ready = self.slot.busy, self.model_ready()
        name_bad = self.form.name_problem()
        parts = self.form.parts_chosen()
        can = ready and not busy and self.table.ready and not name_bad and parts
        self.b_train.setEnabled(can)
        why = ("Train the adapter in the background" if can else
               "A job is running" if busy else
               "Load a model first" if not ready else
               name_bad or ("Choose at least one part to adapt" if not parts else
                            "Add at least three triplets and fix the problems listed"))
        self.b_train.setToolTip(why)
        self.b_cancel.setEnabled(busy)
        self.b_resume.setEnabled(self.resumable and not busy and ready and self.last is not None)

    # -- starting ----------------------------------------------------------------------
    def start_training(self, s: Optional[FinetuneConfig] = None, triplets=None) -> Optional[int]:
        """Submit a run to the worker; None (with a message in the tab) when it cannot start."""
        from ...core.model.adapter_store import check_name, list_adapters

        if self.slot.busy:
            self.say("A run is already in progress.", warn=True)
            return None
        if not self.model_ready():
            self.say("No model is loaded: load one in the edit panel, then train.", warn=True)
            return None
        other = self.slot.other_job()
        if other:
            self.say(other, warn=True)
            return None
        s = s or self.form.current()
        if triplets is None:
            self.table.run_checks()
            if self.table.checking:
                self.say("The files are still being checked; train in a moment.", warn=True)
                return None
            if self.table.problems:
                self.say("Fix the problems listed under the triplets first: " + self.table.problems[0], warn=True)
                return None
            triplets = self.table.triplets()
            if not triplets:
                return None
        try:
            check_name(s.name)
        except RFMError as exc:
            self.say(str(exc), warn=True)
            return None
        if not s.parts:
            self.say("Choose at least one part to adapt (U-Net attention, text encoder).", warn=True)
            return None
        out = Path(s.out_dir) if s.out_dir else None
        if any(n == s.name for n, _p, _c in list_adapters(out)):
            if not self.confirm("Replace the adapter?", f"An adapter named '{s.name}' exists. Train a new one "
                                                        "and replace it when the run finishes?"):
                return None
        self.form.save()
        triplets = [Triplet(t.input, t.target, t.instruction) for t in triplets]
        self.last = (triplets, s)
        self.resumable = False
        self.outcome = None
        host = self.host
        job = self.slot.submit(lambda c: work.train(host, triplets, s, c), f"fine-tune {s.name}", training=True,
                               started=self._started, yielded=self._show_progress, returned=self._done,
                               errored=self._failed, aborted=self._aborted, cancelled=self._cancelled)
        for c in (self.train_curve, self.smooth_curve, self.val_curve):
            c.setData([], [])
        self.plot.setXRange(0, s.steps, padding=0.02)
        self.plot.enableAutoRange(axis="y")
        self.progress.setRange(0, max(1, s.steps))
        self.progress.setValue(0)
        self.progress.setFormat("Waiting for the worker…")
        n = len(triplets)
        self.held_out.setText(f"Triplet {n} is held out (dots: its loss)." if n >= HOLD_OUT_MIN else
                              f"No held-out triplet (needs {HOLD_OUT_MIN}); training loss only.")
        return job

    def resume_training(self) -> Optional[int]:
        if self.last is None:
            return None
        triplets, s = self.last
        return self.start_training(s, triplets)

    def cancel(self) -> None:
        """Cancel the tab's job (a run or a preview: the job's own ``cancelled`` says so)."""
        if self.slot.cancel():
            self.update_buttons()

    # -- the run's events --------------------------------------------------------------
    def _started(self):
        self.progress.setFormat("Preparing the triplets…")

    def _show_progress(self, ev: work.TrainProgress):
        if ev.message == "staging":
            self.progress.setFormat("Preparing the triplets…")
            return
        if ev.points:
            xs, ys = zip(*ev.points)
            self.train_curve.setData(list(xs), list(ys))
            self.smooth_curve.setData(list(xs), ema(ys))
        if ev.val_points:
            xs, ys = zip(*ev.val_points)
            self.val_curve.setData(list(xs), list(ys))
        self.progress.setRange(0, max(1, ev.total))
        self.progress.setValue(ev.step)
        if ev.message == "saved":
            self.progress.setFormat(f"Saving… step {ev.step}/{ev.total}")
            return
        eta = ev.seconds / ev.step * (ev.total - ev.step) if ev.step else float("nan")
        val = "" if ev.val_loss is None else f" · held-out {ev.val_loss:.4f}"
        self.progress.setFormat(f"Step {ev.step}/{ev.total} · loss {ev.loss:.4f}{val} · ETA {fmt_eta(eta)}")

    def _done(self, out: work.TrainOutcome):
        self.outcome = out
        self.progress.setRange(0, 1)
        if out.folder is None:
            self.resumable = True
            self.progress.setValue(0)
            self.progress.setFormat("Cancelled: no adapter was saved")
            self.update_buttons()
            return
        self.progress.setValue(1)
        val = "" if out.final_val_loss is None else f", held-out {out.final_val_loss:.4f}"
        loss = "" if out.final_loss is None else f" · loss {out.final_loss:.4f}{val}"
        self.progress.setFormat(f"Saved '{out.name}'{loss} · {fmt_eta(out.seconds)}")
        self.say(f"Adapter '{out.name}' saved; it is in the edit panel's adapter list. Making a before/after "
                 "preview…")
        self.saved.emit(out, self.last[0] if self.last else self.table.triplets())

    def _failed(self, err):
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.resumable = True
        self.progress.setFormat("Training failed")
        self.say(f"Training failed: {err.message}", warn=True)
        self.update_buttons()
        self.error.emit("Training failed", err.message, err.detail if not err.user else "")

    def _aborted(self):  # the job stopped with Cancelled while live (shutdown drops callbacks instead)
        self.progress.setFormat("Stopped")

    def _cancelled(self):  # Cancel pressed during the run
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.resumable = True
        self.progress.setFormat("Cancelled: no adapter was saved")
        self.say("Training cancelled: no adapter was saved. Resume starts the run again from step 0.")

    def style(self, colors) -> None:
        self.plot.setBackground(colors.plot_bg)
        for side in ("left", "bottom"):
            ax = self.plot.getPlotItem().getAxis(side)
            ax.setPen(pg.mkPen(colors.grid))
            ax.setTextPen(pg.mkPen(colors.muted))
        raw = QColor(colors.wave_a)
        raw.setAlpha(110)
        self.train_curve.setPen(pg.mkPen(raw, width=1))
        self.smooth_curve.setPen(pg.mkPen(colors.wave_a, width=2.2))
        self.val_curve.setPen(pg.mkPen(colors.wave_b, width=1.5))
        self.val_curve.setSymbolBrush(pg.mkBrush(colors.wave_b))
        self.val_curve.setSymbolPen(pg.mkPen(colors.wave_b))
