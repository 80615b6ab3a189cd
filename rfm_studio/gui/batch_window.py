"""The batch window: one instruction (and optional region) over chosen files or a folder,
with progress per file and Cancel; outputs next to the sources (with a suffix) or in a
chosen folder, never over a source. The edits run in the main window's JobRunner worker
through ``core.batch`` with the loaded model and the edit panel's settings."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QDialog, QDoubleSpinBox, QFileDialog, QFormLayout,
                               QHBoxLayout, QHeaderView, QLabel, QLineEdit, QProgressBar, QPushButton,
                               QRadioButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout)

from ..core.audio.io import READ_EXTENSIONS
from ..core.batch import audio_files, plan_batch, run_batch
from ..core.errors import RFMError
from .edit_widgets import show_stage

AUDIO_FILTER = "Audio files (" + " ".join(f"*{e}" for e in READ_EXTENSIONS) + ");;All files (*)"


class BatchWindow(QDialog):
    def __init__(self, window):
        super().__init__(window)
        self.win = window
        self.setWindowTitle("Batch Edit")
        self.setModal(False)
        self.sources: list[Path] = []
        self.job = None
        self.summary = None  # the last run's {"done", "failed", ...}
        lay = QVBoxLayout(self)

        self.files = QTreeWidget()
        self.files.setHeaderLabels(["File", "Progress", "Result"])
        self.files.setRootIsDecorated(False)
        h = self.files.header()
        h.setSectionResizeMode(0, QHeaderView.ResizeToContents)
        h.setSectionResizeMode(1, QHeaderView.Fixed)
        h.resizeSection(1, 150)
        h.setSectionResizeMode(2, QHeaderView.Stretch)
        self.add_files_button = QPushButton("Add Files…")
        self.add_files_button.clicked.connect(self.choose_files)
        self.add_folder_button = QPushButton("Add Folder…")
        self.add_folder_button.clicked.connect(self.choose_folder)
        self.clear_button = QPushButton("Clear")
        self.clear_button.clicked.connect(lambda: self.set_sources([]))
        row = QHBoxLayout()
        for b in (self.add_files_button, self.add_folder_button, self.clear_button):
            row.addWidget(b)
        row.addStretch(1)
        lay.addLayout(row)
        lay.addWidget(self.files, 1)

        form = QFormLayout()
        self.instruction = QLineEdit(window.panel.instruction.text())
        self.instruction.setPlaceholderText("One instruction for every file, e.g. Remove the hum")
        form.addRow("Instruction", self.instruction)
        self.use_region = QCheckBox("Only")
        self.r0, self.r1 = QDoubleSpinBox(), QDoubleSpinBox()
        for sp in (self.r0, self.r1):
            sp.setRange(0.0, 36000.0)
            sp.setDecimals(2)
            sp.setSuffix(" s")
        if window.region:
            self.use_region.setChecked(True)
            self.r0.setValue(window.region[0])
            self.r1.setValue(window.region[1])
        rr = QHBoxLayout()
        for w in (self.use_region, self.r0, QLabel("to"), self.r1):
            rr.addWidget(w)
        rr.addStretch(1)
        form.addRow("Region", rr)
        self.beside = QRadioButton("Next to each source, named with")
        self.suffix = QLineEdit("-edited")
        self.suffix.setMaximumWidth(120)
        self.into = QRadioButton("In the folder")
        self.out_dir = QLineEdit()
        self.out_dir.setPlaceholderText("choose a folder")
        browse = QPushButton("Choose…")
        browse.clicked.connect(self.choose_out_dir)
        group = QButtonGroup(self)
        for b in (self.beside, self.into):
            group.addButton(b)
        self.beside.setChecked(True)
        o1, o2 = QHBoxLayout(), QHBoxLayout()
        o1.addWidget(self.beside)
        o1.addWidget(self.suffix)
        o1.addStretch(1)
        o2.addWidget(self.into)
        o2.addWidget(self.out_dir, 1)
        o2.addWidget(browse)
        form.addRow("Outputs", o1)
        form.addRow("", o2)
        note = QLabel("Sources are never replaced. Steps, t_start, guidance, draws, strength and seed come from "
                      "the Edit panel.")
        note.setObjectName("hint")
        note.setWordWrap(True)
        form.addRow(note)
        lay.addLayout(form)

        self.status = QLabel("Add files or a folder.")
        self.status.setWordWrap(True)
        lay.addWidget(self.status)
        self.run_button = QPushButton("Run Batch")
        self.run_button.setObjectName("primary")
        self.run_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        row = QHBoxLayout()
        row.addStretch(1)
        for b in (self.run_button, self.cancel_button, close):
            row.addWidget(b)
        lay.addLayout(row)
        self.resize(760, 560)

    # -- sources --------------------------------------------------------------------
    def _start_dir(self) -> str:
        return self.win.settings.open_dir()

    def choose_files(self):
        paths, _ = QFileDialog.getOpenFileNames(self, "Add audio files", self._start_dir(), AUDIO_FILTER)
        if paths:
            self.set_sources(self.sources + [Path(p) for p in paths])

    def choose_folder(self):
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of audio files", self._start_dir())
        if folder:
            self.add_folder(folder)

    def add_folder(self, folder) -> int:
        files = audio_files(Path(folder))
        if not files:
            self.status.setText(f"No audio files in {folder}.")
        self.set_sources(self.sources + files)
        return len(files)

    def choose_out_dir(self):
        folder = QFileDialog.getExistingDirectory(self, "Output folder", self.out_dir.text() or self._start_dir())
        if folder:
            self.out_dir.setText(folder)
            self.into.setChecked(True)

    def set_sources(self, paths) -> None:
        self.sources = list(dict.fromkeys(Path(p) for p in paths))
        self.files.clear()
        self.bars = []
        for p in self.sources:
            it = QTreeWidgetItem([p.name, "", ""])
            it.setToolTip(0, str(p))
            self.files.addTopLevelItem(it)
            bar = QProgressBar()
            bar.setRange(0, 1)
            bar.setValue(0)
            bar.setFormat("waiting")
            bar.setMaximumHeight(16)
            self.files.setItemWidget(it, 1, bar)
            self.bars.append(bar)
        if self.sources:
            self.status.setText(f"{len(self.sources)} file{'s' if len(self.sources) != 1 else ''}.")

    # -- running --------------------------------------------------------------------
    def plan(self):
        out_dir = Path(self.out_dir.text()) if self.into.isChecked() and self.out_dir.text().strip() else None
        if self.into.isChecked() and out_dir is None:
            raise RFMError("Choose the output folder (or outputs next to the sources).")
        return plan_batch(self.sources, out_dir=out_dir, suffix=self.suffix.text())

    def start(self):
        if self.job is not None:
            return None
        text = self.instruction.text().strip()
        host, w = self.win.host, self.win
        if w.model_info is None:
            self.status.setText("No model is loaded; choose one in the Edit panel first.")
            return None
        if not text:
            self.status.setText("Type the instruction for every file.")
            return None
        try:
            items = self.plan()
        except RFMError as exc:
            self.status.setText(str(exc))
            return None
        self.set_sources([it.source for it in items])
        region = (self.r0.value(), self.r1.value()) if self.use_region.isChecked() else None
        p = w.panel
        params = dict(steps=int(p.steps.value()), t_start=p.t_start(), guidance=float(p.guidance.value()),
                      draws=int(p.draws.value()), strength=p.strength_value(), seed=int(p.seed.value()))
        self.items = items
        self.job = w.runner.submit("batch", lambda c: run_batch(host.model, items, text, params, c, region=region),
                                   label=f"batch: {text}", on_yielded=self._on_event,
                                   on_returned=self._on_returned, on_errored=self._on_errored,
                                   on_aborted=self._on_aborted)
        self.run_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        self.status.setText(f"Editing {len(items)} files…")
        return self.job

    def cancel(self):
        if self.job is not None:
            self.win.runner.cancel("batch")
            self._finish("Cancelled; the outputs already written are kept.")

    def _mark(self, index, status, message):
        it, bar = self.files.topLevelItem(index), self.bars[index]
        bar.setRange(0, 1)
        bar.setValue(1 if status == "done" else 0)
        bar.setFormat("done" if status == "done" else "failed")
        it.setText(2, Path(message).name if status == "done" else message)
        it.setToolTip(2, message)

    def _on_event(self, ev):
        for index, status, message in ev.results:
            self._mark(index, status, message)
        if ev.status == "editing" and ev.index < len(self.bars):
            bar = self.bars[ev.index]
            if ev.message:  # a stage with no sampler step, begun: as the edit panel shows it
                show_stage(bar, ev.step, ev.steps, ev.message)
            else:  # a sampler step, done
                bar.setRange(0, max(1, ev.steps))
                bar.setValue(ev.step)
                bar.setFormat(f"step {ev.step}/{ev.steps}" if ev.steps else "reading…")
        self.status.setText(f"File {ev.index + 1} of {ev.total}: {ev.name}")

    def _on_returned(self, summary):
        self.summary = summary
        for index, status, message in summary["results"]:
            self._mark(index, status, message)
        n, bad = len(summary["done"]), len(summary["failed"])
        self._finish(f"{n} file{'s' if n != 1 else ''} edited in {summary['seconds']:.1f} s"
                     + (f"; {bad} failed (see Result)." if bad else "."))

    def _on_errored(self, err):
        self._finish(f"The batch stopped: {err.message}")

    def _on_aborted(self):
        self._finish("Cancelled; the outputs already written are kept.")

    def _finish(self, text: str):
        self.job = None
        self.run_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.status.setText(text)

    def closeEvent(self, ev):
        self.cancel()
        super().closeEvent(ev)


def open_batch_window(window) -> BatchWindow:
    dlg = getattr(window, "batch_window", None)
    if dlg is None:
        dlg = window.batch_window = BatchWindow(window)
    dlg.show()
    dlg.raise_()
    return dlg
