"""The Fine-tuning tab: a personal LoRA adapter from the user's own triplets.

Left: the triplet table (original, target, instruction: add by dialog, drag and drop, a
folder paired by name, or a CSV/JSONL; play either side; instructions edited in place)
with its checks, and the adapters on disk (use, preview, rename, delete). Right: the
settings, Train / Cancel / Resume with the live loss curve (train and held-out) and ETA,
and the before/after preview of the last adapter.

Training and the preview run as jobs of the app's one worker thread (lane "finetune"),
on the model the worker holds; while one runs, edits wait (the main window blocks them
and says why) and the app stays usable for opening files and listening. The file checks
read audio on a small background thread of their own (no model involved).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QDialog, QDialogButtonBox, QDoubleSpinBox,
                               QFileDialog, QFormLayout, QGroupBox, QHBoxLayout, QHeaderView, QInputDialog,
                               QLabel, QLineEdit, QListWidget, QListWidgetItem, QMessageBox, QProgressBar,
                               QPushButton, QScrollArea, QSpinBox, QSplitter, QTableWidget, QTableWidgetItem,
                               QToolButton, QTreeWidget, QTreeWidgetItem, QVBoxLayout, QWidget)

from ..core.audio.io import READ_EXTENSIONS
from ..core.errors import RFMError
from .finetune import work
from .finetune.pairing import Found, Triplet, from_drop, pair_folder, read_table

LANE = "finetune"
AUDIO_FILTER = "Audio files (" + " ".join(f"*{e}" for e in READ_EXTENSIONS) + ");;All files (*)"
TABLE_FILTER = "Triplet tables (*.csv *.jsonl);;All files (*)"
COL_INPUT, COL_TARGET, COL_INSTRUCTION, COL_CHECK = range(4)
RESUME_TIP = ("Start the last run again, with the same triplets and settings, from step 0: a stopped "
              "adapter run cannot continue where it stopped (no mid-run checkpoints are kept).")
BLOCK_NOTE = ("The model is busy with {what}: edits wait until it has finished. You can still open "
              "files and listen.")


def _fmt_eta(s: float) -> str:
    if not math.isfinite(s):
        return "–"
    s = max(0, int(round(s)))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def ema(ys, span: int = 10) -> list[float]:
    """An exponential moving average (bias-corrected, so it starts at the first value)."""
    a = 2.0 / (span + 1)
    out, m, w = [], 0.0, 0.0
    for y in ys:
        m = (1 - a) * m + a * float(y)
        w = (1 - a) * w + a
        out.append(m / w)
    return out


def _norm(p: str) -> str:
    return os.path.normcase(os.path.abspath(p)) if p else ""


def _stamp(p: str):
    try:
        st = os.stat(p)
        return (st.st_mtime_ns, st.st_size)
    except OSError:
        return None


class LossPlot(pg.PlotWidget):
    def sizeHint(self):  # small, so that the scroll area grows it instead of scrolling
        return QSize(320, 200)


class TripletTable(QTableWidget):
    """The triplets; files and folders dropped on it are added (``dropped``)."""

    dropped = Signal(list)

    def __init__(self, parent=None):
        super().__init__(0, 4, parent)
        self.setHorizontalHeaderLabels(["Input (original)", "Target", "Instruction", "Check"])
        self.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.setEditTriggers(QAbstractItemView.DoubleClicked | QAbstractItemView.EditKeyPressed
                             | QAbstractItemView.AnyKeyPressed)
        self.setAlternatingRowColors(True)
        self.setAcceptDrops(True)
        self.viewport().setAcceptDrops(True)
        self.setDragDropMode(QAbstractItemView.DropOnly)
        self.verticalHeader().setDefaultSectionSize(24)
        h = self.horizontalHeader()
        for c, mode in ((COL_INPUT, QHeaderView.Interactive), (COL_TARGET, QHeaderView.Interactive),
                        (COL_INSTRUCTION, QHeaderView.Stretch), (COL_CHECK, QHeaderView.ResizeToContents)):
            h.setSectionResizeMode(c, mode)
        self.setColumnWidth(COL_INPUT, 170)
        self.setColumnWidth(COL_TARGET, 170)
        self.setToolTip("Drop audio files, folders or a CSV/JSONL here. Double-click a file to play it, "
                        "an instruction to edit it.")

    def _local(self, ev) -> list[str]:
        md = ev.mimeData()
        return [u.toLocalFile() for u in md.urls() if u.isLocalFile()] if md.hasUrls() else []

    def dragEnterEvent(self, ev):
        if self._local(ev):
            ev.acceptProposedAction()
        else:
            super().dragEnterEvent(ev)

    def dragMoveEvent(self, ev):
        if self._local(ev):
            ev.acceptProposedAction()
        else:
            super().dragMoveEvent(ev)

    def dropEvent(self, ev):
        paths = self._local(ev)
        if paths:
            ev.acceptProposedAction()
            self.dropped.emit(paths)
        else:
            super().dropEvent(ev)


class AddTripletDialog(QDialog):
    def __init__(self, start_dir: str = "", instruction: str = "", parent=None):
        super().__init__(parent)
        self.setWindowTitle("Add a triplet")
        self.start_dir = start_dir
        form = QFormLayout(self)
        self.input, self.target = QLineEdit(), QLineEdit()
        for label, edit in (("Original (input)", self.input), ("Target", self.target)):
            b = QToolButton()
            b.setText("…")
            b.clicked.connect(lambda _c=False, e=edit: self._browse(e))
            row = QHBoxLayout()
            row.addWidget(edit, 1)
            row.addWidget(b)
            form.addRow(label, row)
        self.instruction = QLineEdit(instruction)
        self.instruction.setPlaceholderText("e.g. Remove the air-conditioner hum")
        form.addRow("Instruction", self.instruction)
        bb = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        bb.accepted.connect(self.accept)
        bb.rejected.connect(self.reject)
        form.addRow(bb)
        self.resize(560, self.sizeHint().height())

    def _browse(self, edit):
        path, _ = QFileDialog.getOpenFileName(self, "Choose an audio file", edit.text() or self.start_dir,
                                              AUDIO_FILTER)
        if path:
            edit.setText(path)
            self.start_dir = str(Path(path).parent)

    def triplet(self) -> Triplet:
        return Triplet(self.input.text().strip(), self.target.text().strip(), self.instruction.text().strip())


class FinetuneTab(QWidget):
    adapters_changed = Signal()  # an adapter was saved, renamed or deleted
    adapter_moved = Signal(str, str)  # (old folder, new folder or "" when deleted)
    busy_changed = Signal(bool)  # a training or preview job holds the model
    use_adapter = Signal(str)  # apply this adapter folder in the editor
    open_preview = Signal(object)  # a work.PreviewOutcome, to show in the editor's views
    error = Signal(str, str, str)  # title, message, detail
    status = Signal(str)  # a status-bar message

    def __init__(self, runner, host, player, settings=None, parent=None):
        super().__init__(parent)
        self.runner, self.host, self.player, self.settings = runner, host, player, settings
        self.confirm = self._confirm_dialog  # replaceable in tests
        self.ask_text = self._ask_text_dialog
        self.problems: list[str] = []
        self.preview_result: Optional[work.PreviewOutcome] = None
        self.outcome: Optional[work.TrainOutcome] = None
        self.owns_player = False
        self._model_ready = False
        self._model_name = ""
        self._job: Optional[int] = None
        self._kind: Optional[str] = None  # "train" | "preview"
        self._last: Optional[tuple] = None  # (triplets, TrainSettings) of the last run started
        self._resumable = False
        self._checks: dict = {}  # file key -> messages (numbered "Triplet 1")
        self._pending: dict = {}  # file key -> Future
        self._row_msgs: list = []
        self._pool: Optional[ThreadPoolExecutor] = None
        self._ok_color, self._warn_color = QColor("#3fa34d"), QColor("#d9771f")
        self.setAcceptDrops(True)
        self._build()
        self._check_timer = QTimer(self)
        self._check_timer.setSingleShot(True)
        self._check_timer.setInterval(120)
        self._check_timer.timeout.connect(self.run_checks)
        self._poll_timer = QTimer(self)
        self._poll_timer.setInterval(40)
        self._poll_timer.timeout.connect(self._poll_checks)
        self._play_timer = QTimer(self)
        self._play_timer.setInterval(100)
        self._play_timer.timeout.connect(self._poll_player)
        runner.started.connect(self._on_started)
        runner.yielded.connect(self._on_yielded)
        runner.returned.connect(self._on_returned)
        runner.errored.connect(self._on_errored)
        runner.aborted.connect(self._on_aborted)
        self._load_settings()
        self.refresh_adapters()
        self.run_checks()

    # =================================================================================
    # construction
    # =================================================================================
    def _build(self):
        split = QSplitter(Qt.Horizontal)
        split.setChildrenCollapsible(False)
        split.addWidget(self._build_left())
        split.addWidget(self._build_right())
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        split.setSizes([600, 420])
        self.splitter = split
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        self.notice = QLabel("")
        self.notice.setObjectName("banner")
        self.notice.setWordWrap(True)
        self.notice.hide()
        lay.addWidget(self.notice)
        lay.addWidget(split, 1)

    def _button(self, text, slot, tip="", primary=False):
        b = QPushButton(text)
        if tip:
            b.setToolTip(tip)
        if primary:
            b.setObjectName("primary")
        b.clicked.connect(lambda _c=False: slot())
        return b

    def _tool(self, text, slot, tip=""):
        b = QToolButton()
        b.setText(text)
        b.setToolTip(tip)
        b.setToolButtonStyle(Qt.ToolButtonTextOnly)
        b.clicked.connect(lambda _c=False: slot())
        return b

    def _build_left(self):
        left = QSplitter(Qt.Vertical)
        left.setChildrenCollapsible(False)
        # -- triplets ----------------------------------------------------------------
        box = QGroupBox("Triplets: original, target, instruction")
        bl = QVBoxLayout(box)
        row = QHBoxLayout()
        self.b_add = self._tool("Add…", self.add_dialog, "Add one triplet: an original file, the target file "
                                                           "and the instruction")
        self.b_folder = self._tool("Folder…", self.import_folder,
                                     "Import a folder of pairs, paired by name: NAME.wav with NAME_target.wav (or _out, _after), or "
                                     "in/NAME.wav with out/NAME.wav (or input/target, before/after folders). "
                                     "An instructions.txt in the folder gives their instruction.")
        self.b_table = self._tool("CSV/JSONL…", self.import_table,
                                    "Import a table with the columns input, target, instruction (paths "
                                    "relative to the table's folder)")
        self.b_remove = self._tool("Remove", self.remove_selected, "Remove the selected triplets from the list")
        for b in (self.b_add, self.b_folder, self.b_table, self.b_remove):
            row.addWidget(b)
        row.addStretch(1)
        self.b_play_in = self._tool("▶ Input", lambda: self.play_row(self._current_row(), "input"),
                                      "Play the selected triplet's original")
        self.b_play_tg = self._tool("▶ Target", lambda: self.play_row(self._current_row(), "target"),
                                      "Play the selected triplet's target")
        self.b_stop = self._tool("■", self.stop_playback, "Stop playback")
        bl.addLayout(row)
        irow = QHBoxLayout()
        self.default_instruction = QLineEdit()
        self.default_instruction.setPlaceholderText("Instruction for imported pairs, e.g. Remove the "
                                                    "air-conditioner hum")
        self.default_instruction.setToolTip("Given to triplets added without an instruction")
        self.b_apply_instruction = self._tool("Apply", self.apply_instruction,
                                                "Give the selected triplets (all without an instruction when "
                                                "none is selected) this instruction")
        irow.addWidget(QLabel("Instruction"))
        irow.addWidget(self.default_instruction, 1)
        irow.addWidget(self.b_apply_instruction)
        bl.addLayout(irow)
        self.table = TripletTable()
        self.table.dropped.connect(self.add_paths)
        self.table.itemChanged.connect(self._item_changed)
        self.table.cellDoubleClicked.connect(self._cell_double_clicked)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        QShortcut(QKeySequence.Delete, self.table, self.remove_selected, context=Qt.WidgetShortcut)
        bl.addWidget(self.table, 1)
        self.summary = QLabel("")
        self.summary.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.summary, 1)
        for b in (self.b_play_in, self.b_play_tg, self.b_stop):
            row.addWidget(b, 0, Qt.AlignTop)
        bl.addLayout(row)
        self.problem_list = QListWidget()
        self.problem_list.setMaximumHeight(110)
        self.problem_list.setToolTip("Click a problem to select its triplet")
        self.problem_list.itemClicked.connect(self._problem_clicked)
        bl.addWidget(self.problem_list)
        left.addWidget(box)
        # -- adapters ----------------------------------------------------------------
        box = QGroupBox("Your adapters")
        al = QVBoxLayout(box)
        self.adapter_tree = QTreeWidget()
        self.adapter_tree.setHeaderLabels(["Name", "Steps", "Loss", "Held-out", "Triplets", "Base model"])
        self.adapter_tree.setRootIsDecorated(False)
        self.adapter_tree.setUniformRowHeights(True)
        self.adapter_tree.itemSelectionChanged.connect(self._update_buttons)
        self.adapter_tree.itemDoubleClicked.connect(lambda *_: self.use_selected())
        h = self.adapter_tree.header()
        h.setStretchLastSection(True)
        h.setSectionResizeMode(QHeaderView.ResizeToContents)
        al.addWidget(self.adapter_tree, 1)
        row = QHBoxLayout()
        self.b_use = self._button("Use in editor", self.use_selected, "Apply the adapter to the loaded model "
                                                                      "(no reload); choose 'No adapter' in the "
                                                                      "edit panel to remove it")
        self.b_preview = self._button("Preview", self.preview_selected,
                                      "Edit the selected triplet's input (or the first) with and without this "
                                      "adapter, same seed")
        self.b_rename = self._button("Rename…", lambda: self.rename_adapter(self._selected_adapter()))
        self.b_delete = self._button("Delete…", lambda: self.delete_adapter(self._selected_adapter()))
        for b in (self.b_use, self.b_preview, self.b_rename, self.b_delete):
            row.addWidget(b)
        row.addStretch(1)
        al.addLayout(row)
        self.adapters_hint = QLabel("")
        self.adapters_hint.setObjectName("hint")
        self.adapters_hint.setWordWrap(True)
        al.addWidget(self.adapters_hint)
        left.addWidget(box)
        left.setStretchFactor(0, 3)
        left.setStretchFactor(1, 2)
        return left

    def _build_right(self):
        inner = QWidget()
        rl = QVBoxLayout(inner)
        rl.setContentsMargins(0, 0, 0, 0)
        # -- settings ----------------------------------------------------------------
        box = QGroupBox("Settings")
        form = QFormLayout(box)
        form.setLabelAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.name_edit = QLineEdit("my-adapter")
        self.name_edit.setToolTip("Letters, digits, spaces, '.', '_' or '-' (at most 64)")
        self.name_edit.textChanged.connect(lambda _t: self._update_buttons())
        form.addRow("Adapter name", self.name_edit)
        self.rank = QSpinBox()
        self.rank.setRange(1, 256)
        self.rank.setValue(8)
        self.rank.setToolTip("LoRA rank: more capacity with a higher rank (and a larger adapter)")
        self.alpha = QDoubleSpinBox()
        self.alpha.setRange(0.1, 1024.0)
        self.alpha.setValue(16.0)
        self.alpha.setToolTip("LoRA alpha: the update is scaled by alpha / rank")
        rr = QHBoxLayout()
        rr.addWidget(self.rank)
        rr.addWidget(QLabel("alpha"))
        rr.addWidget(self.alpha)
        form.addRow("LoRA rank", rr)
        self.lr = QDoubleSpinBox()
        self.lr.setDecimals(5)
        self.lr.setRange(0.00001, 0.1)
        self.lr.setSingleStep(0.0001)
        self.lr.setValue(0.001)
        form.addRow("Learning rate", self.lr)
        self.steps = QSpinBox()
        self.steps.setRange(1, 100000)
        self.steps.setValue(300)
        self.batch = QSpinBox()
        self.batch.setRange(1, 64)
        self.batch.setValue(4)
        self.batch.setToolTip("Crops per step")
        sr = QHBoxLayout()
        sr.addWidget(self.steps)
        sr.addWidget(QLabel("batch"))
        sr.addWidget(self.batch)
        form.addRow("Steps", sr)
        self.part_unet = QCheckBox("U-Net attention")
        self.part_unet.setChecked(True)
        self.part_unet.setToolTip("LoRA on the U-Net's attention projections (q, k, v, out)")
        self.part_text = QCheckBox("Text encoder")
        self.part_text.setToolTip("LoRA on the instruction encoder's query and value projections: helps "
                                  "with new words")
        for c in (self.part_unet, self.part_text):
            c.toggled.connect(lambda _on: self._update_buttons())
        pr = QHBoxLayout()
        pr.addWidget(self.part_unet)
        pr.addWidget(self.part_text)
        pr.addStretch(1)
        form.addRow("Adapt", pr)
        self.augment = QCheckBox("Augment (random gain, time shift)")
        self.augment.setChecked(True)
        self.augment.setToolTip("For tiny sets: every step sees each pair at a random gain and a random "
                                "2.56 s crop (a time shift)")
        form.addRow("", self.augment)
        self.model_hint = QLabel("Trains on the loaded model.")
        self.model_hint.setObjectName("hint")
        self.model_hint.setWordWrap(True)
        form.addRow(self.model_hint)
        rl.addWidget(box)
        # -- training ----------------------------------------------------------------
        box = QGroupBox("Training")
        tl = QVBoxLayout(box)
        row = QHBoxLayout()
        self.b_train = self._button("Train", self.start_training, "Train the adapter in the background",
                                    primary=True)
        self.b_cancel = self._button("Cancel", self.cancel, "Stop; nothing is saved")
        self.b_resume = self._button("Resume", self.resume_training, RESUME_TIP)
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
        self.held_out = QLabel("")
        self.held_out.setObjectName("hint")
        self.held_out.setWordWrap(True)
        tl.addWidget(self.held_out)
        rl.addWidget(box, 1)
        # -- preview -----------------------------------------------------------------
        box = QGroupBox("Before / after")
        pl = QVBoxLayout(box)
        self.preview_label = QLabel("After training, the same edit of one of your inputs is made by the base "
                                    "model (A) and with the adapter (B).")
        self.preview_label.setWordWrap(True)
        self.preview_label.setObjectName("hint")
        pl.addWidget(self.preview_label)
        row = QHBoxLayout()
        self.b_pv_orig = self._tool("▶ Original", lambda: self.play_preview("original"))
        self.b_pv_a = self._tool("▶ A: base model", lambda: self.play_preview("base"))
        self.b_pv_b = self._tool("▶ B: with adapter", lambda: self.play_preview("adapted"))
        self.b_pv_stop = self._tool("■", self.stop_playback, "Stop playback")
        self.b_pv_open = self._button("Open in editor", self._open_preview,
                                      "Show the original, A and B in the editor's views (compare A and B "
                                      "there)")
        for b in (self.b_pv_orig, self.b_pv_a, self.b_pv_b, self.b_pv_stop):
            row.addWidget(b)
        row.addStretch(1)
        pl.addLayout(row)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.b_pv_open)
        pl.addLayout(row)
        rl.addWidget(box)
        scroll = QScrollArea()
        scroll.setWidget(inner)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(inner.minimumSizeHint().width() + 18)  # + the vertical scroll bar
        return scroll

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
        self._ok_color = QColor("#5cc46a" if colors.dark else "#2e8b3e")
        self._warn_color = QColor(colors.wave_b)
        self._show_checks()

    # =================================================================================
    # the triplet table
    # =================================================================================
    def triplets(self) -> list[Triplet]:
        def val(r, c, role):
            it = self.table.item(r, c)
            return "" if it is None else str((it.data(Qt.UserRole) if role else it.text()) or "").strip()

        return [Triplet(val(r, COL_INPUT, True), val(r, COL_TARGET, True), val(r, COL_INSTRUCTION, False))
                for r in range(self.table.rowCount())]

    def add_triplets(self, triplets) -> int:
        default = self.default_instruction.text().strip()
        self.table.blockSignals(True)
        try:
            for t in triplets:
                r = self.table.rowCount()
                self.table.insertRow(r)
                for c, path in ((COL_INPUT, t.input), (COL_TARGET, t.target)):
                    it = QTableWidgetItem(Path(path).name if path else "(missing)")
                    it.setData(Qt.UserRole, path)
                    it.setToolTip(path or "No file: remove this row and add the pair again")
                    it.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable)
                    self.table.setItem(r, c, it)
                it = QTableWidgetItem(t.instruction or default)
                it.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable | Qt.ItemIsEditable)
                self.table.setItem(r, COL_INSTRUCTION, it)
                it = QTableWidgetItem("…")
                it.setFlags(Qt.ItemIsEnabled | Qt.ItemIsSelectable)
                self.table.setItem(r, COL_CHECK, it)
        finally:
            self.table.blockSignals(False)
        self._schedule_checks()
        self._update_buttons()
        return len(triplets)

    def _report(self, found: Found, what: str) -> int:
        n = self.add_triplets(found.triplets)
        parts = [f"{what}: {n} triplet{'s' if n != 1 else ''} added."]
        if found.unpaired:
            names = ", ".join(found.unpaired[:6]) + (" …" if len(found.unpaired) > 6 else "")
            parts.append(f"No partner for {len(found.unpaired)} file(s): {names} (name a target NAME_target.wav, "
                         "or use in/ and out/ folders).")
        parts += found.notes
        self.say(" ".join(parts), warn=bool(found.unpaired or found.notes or n == 0))
        return n

    def add_paths(self, paths) -> int:
        """Files, folders and tables dropped on the tab."""
        try:
            found = from_drop(paths, self.default_instruction.text().strip())
        except RFMError as exc:
            self.say(str(exc), warn=True)
            return 0
        return self._report(found, "Dropped")

    def import_folder(self, folder: str | None = None) -> int:
        if folder is None:
            folder = QFileDialog.getExistingDirectory(self, "Import a folder of pairs", self._last_dir())
            if not folder:
                return 0
        self._remember_dir(folder)
        try:
            found = pair_folder(folder)
        except OSError as exc:
            self.say(f"{folder} could not be read ({exc.strerror or type(exc).__name__}).", warn=True)
            return 0
        return self._report(found, Path(folder).name)

    def import_table(self, path: str | None = None) -> int:
        if path is None:
            path, _ = QFileDialog.getOpenFileName(self, "Import a triplet table", self._last_dir(), TABLE_FILTER)
            if not path:
                return 0
        self._remember_dir(str(Path(path).parent))
        try:
            rows = read_table(path)
        except RFMError as exc:
            self.say(str(exc), warn=True)
            return 0
        return self._report(Found(rows), Path(path).name)

    def add_dialog(self) -> int:
        dlg = AddTripletDialog(self._last_dir(), self.default_instruction.text().strip(), self)
        if dlg.exec() != QDialog.Accepted:
            return 0
        t = dlg.triplet()
        if t.input:
            self._remember_dir(str(Path(t.input).parent))
        return self.add_triplets([Triplet(str(Path(t.input).resolve()) if t.input else "",
                                          str(Path(t.target).resolve()) if t.target else "", t.instruction)])

    def remove_selected(self) -> None:
        rows = sorted({i.row() for i in self.table.selectedIndexes()}, reverse=True)
        for r in rows:
            self.table.removeRow(r)
        self._schedule_checks()
        self._update_buttons()

    def clear(self) -> None:
        self.table.setRowCount(0)
        self._schedule_checks()
        self._update_buttons()

    def apply_instruction(self, text: str | None = None) -> None:
        text = (self.default_instruction.text() if text is None else text).strip()
        if not text:
            self.say("Type the instruction first.", warn=True)
            return
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        if not rows:
            rows = [r for r, t in enumerate(self.triplets()) if not t.instruction]
        for r in rows:
            self.table.item(r, COL_INSTRUCTION).setText(text)  # itemChanged re-checks

    def _item_changed(self, item):
        if item.column() == COL_INSTRUCTION:
            self._schedule_checks()

    def _current_row(self) -> int:
        rows = sorted({i.row() for i in self.table.selectedIndexes()})
        return rows[0] if rows else (0 if self.table.rowCount() else -1)

    def _cell_double_clicked(self, row, col):
        if col in (COL_INPUT, COL_TARGET):
            self.play_row(row, "input" if col == COL_INPUT else "target")

    def _problem_clicked(self, item):
        r = item.data(Qt.UserRole)
        if r is not None and 0 <= r < self.table.rowCount():
            self.table.selectRow(r)

    # -- drops anywhere on the tab ---------------------------------------------------
    def dragEnterEvent(self, ev):
        if ev.mimeData().hasUrls() and any(u.isLocalFile() for u in ev.mimeData().urls()):
            ev.acceptProposedAction()
        else:
            ev.ignore()

    def dropEvent(self, ev):
        paths = [u.toLocalFile() for u in ev.mimeData().urls() if u.isLocalFile()]
        if paths:
            ev.acceptProposedAction()
            self.add_paths(paths)

    # =================================================================================
    # checks
    # =================================================================================
    def _schedule_checks(self):
        self._check_timer.start()

    def run_checks(self) -> None:
        """Whole-table checks now; file checks (the core's) for rows not checked yet, on a
        background thread. ``self.problems`` lists every sentence once all are known."""
        self._check_timer.stop()
        rows = self.triplets()
        for t in rows:
            key = self._file_key(t)
            if key not in self._checks and key not in self._pending:
                if self._pool is None:
                    self._pool = ThreadPoolExecutor(1, thread_name_prefix="rfm-triplet-check")
                self._pending[key] = self._pool.submit(work.check_triplet, t.input, t.target)
        if self._pending:
            self._poll_timer.start()
        self._show_checks()

    def _file_key(self, t: Triplet):
        return (_norm(t.input), _stamp(t.input), _norm(t.target), _stamp(t.target))

    def _poll_checks(self):
        done = [k for k, f in self._pending.items() if f.done()]
        for k in done:
            f = self._pending.pop(k)
            try:
                self._checks[k] = list(f.result())
            except Exception as exc:  # noqa: BLE001 - a check must never take the app down
                self._checks[k] = [f"Triplet 1 could not be checked ({type(exc).__name__})."]
        if not self._pending:
            self._poll_timer.stop()
        if done:
            self._show_checks()

    @property
    def checking(self) -> bool:
        return bool(self._pending) or self._check_timer.isActive()

    def _table_problems(self, rows) -> list[tuple[int, str]]:
        """Count, instructions, duplicates (the core's sentences), with the row they name."""
        out = []
        if len(rows) < work.MIN_TRIPLETS:
            out.append((-1, f"At least {work.MIN_TRIPLETS} triplets are needed; there are {len(rows)}."))
        seen = {}
        for i, t in enumerate(rows, 1):
            key = (_norm(t.input), _norm(t.target), t.instruction.strip().lower())
            if key in seen:
                out.append((i - 1, f"Triplet {i} duplicates triplet {seen[key]}."))
            else:
                seen[key] = i
            if not t.instruction.strip():
                out.append((i - 1, f"Triplet {i} has no instruction."))
        return out

    def _show_checks(self):
        if not hasattr(self, "problem_list"):
            return
        rows = self.triplets()
        msgs = self._table_problems(rows)
        per_row: list[list[str]] = []
        pending = 0
        for i, t in enumerate(rows, 1):
            found = self._checks.get(self._file_key(t))
            if found is None:
                pending += 1
                per_row.append(None)
                continue
            per_row.append([work.renumber(m, i) for m in found])
            msgs += [(i - 1, work.renumber(m, i)) for m in found]
        msgs.sort(key=lambda x: (x[0], x[1]))
        row_of = {}
        for r, m in msgs:
            row_of.setdefault(r, []).append(m)
        self.table.blockSignals(True)
        for r in range(self.table.rowCount()):
            it = self.table.item(r, COL_CHECK)
            if it is None:
                continue
            mine = row_of.get(r, [])
            if per_row[r] is None:
                it.setText("…")
                it.setToolTip("Checking the files…")
                it.setForeground(QColor(self.palette().placeholderText().color()))
            elif mine:
                it.setText(f"⚠ {len(mine)}")
                it.setToolTip("\n".join(mine))
                it.setForeground(self._warn_color)
            else:
                it.setText("✓")
                it.setToolTip("Readable, not silent, similar lengths")
                it.setForeground(self._ok_color)
        self.table.blockSignals(False)
        self.problem_list.clear()
        for r, m in msgs:
            item = QListWidgetItem(("⚠ " if r >= 0 else "• ") + m)
            item.setData(Qt.UserRole, r if r >= 0 else None)
            item.setForeground(self._warn_color)
            self.problem_list.addItem(item)
        self.problems = [m for _, m in msgs] if not pending else []
        n = len(rows)
        if not n:
            text = ("Add triplets: an original, the target you want it to become, and the instruction that "
                    "turns one into the other. Drop files or folders here, or use Import.")
        elif pending:
            text = f"Checking the files of {pending} triplet{'s' if pending != 1 else ''}…"
        elif msgs:
            text = f"{len(msgs)} problem{'s' if len(msgs) != 1 else ''}: fix {'them' if len(msgs) != 1 else 'it'} " \
                   "to train."
        else:
            text = f"{n} triplets ready to train."
        self.summary.setText(text)
        self.problem_list.setVisible(bool(msgs) and n > 0)
        if n >= work.HOLD_OUT_MIN:
            self.held_out.setText(f"Triplet {n} is held out: the held-out loss (dots) is measured on it.")
        else:
            self.held_out.setText(f"With {work.HOLD_OUT_MIN} or more triplets the last one is held out for a "
                                  "validation loss; with fewer, only the training loss is shown.")
        self._update_buttons()

    @property
    def ready(self) -> bool:
        """Every check is done and passed."""
        return bool(self.table.rowCount()) and not self.checking and not self.problems

    # =================================================================================
    # settings
    # =================================================================================
    def current_settings(self) -> work.TrainSettings:
        parts = tuple(p for p, box in (("unet", self.part_unet), ("text_encoder", self.part_text)) if box.isChecked())
        return work.TrainSettings(name=self.name_edit.text().strip(), steps=int(self.steps.value()),
                                  batch_size=int(self.batch.value()), lr=float(self.lr.value()),
                                  rank=int(self.rank.value()), alpha=float(self.alpha.value()), parts=parts,
                                  augment=self.augment.isChecked())

    _KEYS = (("rank", "rank", int), ("alpha", "alpha", float), ("lr", "lr", float), ("steps", "steps", int),
             ("batch", "batch", int))

    def _load_settings(self):
        q = getattr(self.settings, "q", None)
        if q is None:
            return
        for key, attr, kind in self._KEYS:
            v = q.value(f"finetune/{key}")
            if v is not None:
                try:
                    getattr(self, attr).setValue(kind(v))
                except (TypeError, ValueError):
                    pass
        for key, box in (("unet", self.part_unet), ("text_encoder", self.part_text), ("augment", self.augment)):
            v = q.value(f"finetune/{key}")
            if v is not None:
                box.setChecked(str(v).lower() in ("1", "true", "yes"))

    def _save_settings(self):
        q = getattr(self.settings, "q", None)
        if q is None:
            return
        for key, attr, _kind in self._KEYS:
            q.setValue(f"finetune/{key}", getattr(self, attr).value())
        for key, box in (("unet", self.part_unet), ("text_encoder", self.part_text), ("augment", self.augment)):
            q.setValue(f"finetune/{key}", box.isChecked())

    def _last_dir(self) -> str:
        return str(getattr(self.settings, "last_dir", "") or Path.home())

    def _remember_dir(self, d: str):
        if self.settings is not None and hasattr(self.settings, "last_dir"):
            self.settings.last_dir = d

    # =================================================================================
    # state
    # =================================================================================
    @property
    def busy(self) -> bool:
        """A training or preview job of this tab holds the model."""
        return self._job is not None

    @property
    def training(self) -> bool:
        return self._job is not None and self._kind == "train"

    def set_model_ready(self, ready: bool, name: str = "") -> None:
        if ready == self._model_ready and name == self._model_name:
            return
        self._model_ready, self._model_name = bool(ready), name
        self.model_hint.setText(f"Trains on the loaded model, {name}; any adapter applied in the editor is "
                                "taken off during the run and put back after." if ready else
                                "No model is loaded: load one (edit panel ▸ Model) to train.")
        self._update_buttons()

    def say(self, text: str, warn: bool = False) -> None:
        """A message in the tab (and the status bar)."""
        self.notice.setText(("⚠ " if warn else "") + text if text else "")
        self.notice.setVisible(bool(text))
        if text:
            self.status.emit(text)

    def _name_problem(self) -> str:
        from ..core.model.adapter_store import check_name

        try:
            check_name(self.name_edit.text().strip())
        except RFMError as exc:
            return str(exc)
        return ""

    def _update_buttons(self):
        if not hasattr(self, "b_train"):
            return
        busy = self.busy
        has_rows = self.table.rowCount() > 0
        name_bad = self._name_problem()
        parts = self.part_unet.isChecked() or self.part_text.isChecked()
        can = self._model_ready and not busy and self.ready and not name_bad and parts
        self.b_train.setEnabled(can)
        why = ("Train the adapter in the background" if can else
               "A job is running" if busy else
               "Load a model first" if not self._model_ready else
               name_bad or ("Choose at least one part to adapt" if not parts else
                            "Add at least three triplets and fix the problems listed"))
        self.b_train.setToolTip(why)
        self.b_cancel.setEnabled(busy)
        self.b_resume.setEnabled(self._resumable and not busy and self._model_ready and self._last is not None)
        sel_row = bool(self.table.selectedIndexes())
        self.b_remove.setEnabled(sel_row and not busy)
        for b in (self.b_play_in, self.b_play_tg):
            b.setEnabled(has_rows)
        sel = self._selected_adapter() is not None
        self.b_use.setEnabled(sel and self._model_ready and not busy)
        self.b_preview.setEnabled(sel and self._model_ready and not busy and has_rows)
        self.b_rename.setEnabled(sel and not busy)
        self.b_delete.setEnabled(sel and not busy)
        has_pv = self.preview_result is not None
        for b in (self.b_pv_orig, self.b_pv_a, self.b_pv_b, self.b_pv_open):
            b.setEnabled(has_pv)

    def _set_job(self, job: Optional[int], kind: Optional[str]):
        was = self.busy
        self._job, self._kind = job, kind
        if job is not None:
            self.say(BLOCK_NOTE.format(what="training the adapter" if kind == "train" else "the adapter preview"))
        elif was:
            self.notice.hide()
        self._update_buttons()
        if was != self.busy:
            self.busy_changed.emit(self.busy)

    def _other_job(self) -> str:
        if self.runner.busy("edit"):
            return "An edit is running: train when it has finished (or cancel it)."
        if self.runner.busy("model"):
            return "The model is loading: train when it is ready."
        return ""

    # =================================================================================
    # training
    # =================================================================================
    def start_training(self, s: Optional[work.TrainSettings] = None, triplets=None) -> Optional[int]:
        """Submit a run to the worker; None (with a message in the tab) when it cannot start."""
        from ..core.model.adapter_store import list_adapters

        if self.busy:
            self.say("A run is already in progress.", warn=True)
            return None
        if not self._model_ready:
            self.say("No model is loaded: load one in the edit panel, then train.", warn=True)
            return None
        other = self._other_job()
        if other:
            self.say(other, warn=True)
            return None
        s = s or self.current_settings()
        if triplets is None:
            self.run_checks()
            if self.checking:
                self.say("The files are still being checked; train in a moment.", warn=True)
                return None
            if self.problems:
                self.say("Fix the problems listed under the triplets first: " + self.problems[0], warn=True)
                return None
            triplets = self.triplets()
            if not triplets:
                return None
        from ..core.model.adapter_store import check_name

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
        self._save_settings()
        triplets = [Triplet(t.input, t.target, t.instruction) for t in triplets]
        self._last = (triplets, s)
        self._resumable = False
        self.outcome = None
        host = self.host
        job = self.runner.submit(LANE, lambda c: work.train(host, triplets, s, c), label=f"fine-tune {s.name}")
        for c in (self.train_curve, self.smooth_curve, self.val_curve):
            c.setData([], [])
        self.plot.setXRange(0, s.steps, padding=0.02)
        self.plot.enableAutoRange(axis="y")
        self.progress.setRange(0, max(1, s.steps))
        self.progress.setValue(0)
        self.progress.setFormat("Waiting for the worker…")
        n = len(triplets)
        self.held_out.setText(f"Triplet {n} is held out (dots: its loss)." if n >= work.HOLD_OUT_MIN else
                              f"No held-out triplet (needs {work.HOLD_OUT_MIN}); training loss only.")
        self._set_job(job, "train")
        return job

    def resume_training(self) -> Optional[int]:
        if self._last is None:
            return None
        triplets, s = self._last
        return self.start_training(s, triplets)

    def cancel(self) -> None:
        if self._job is None:
            return
        kind = self._kind
        self.runner.cancel(LANE)
        self._set_job(None, None)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        if kind == "train":
            self._resumable = True
            self.progress.setFormat("Cancelled: no adapter was saved")
            self.say("Training cancelled: no adapter was saved. Resume starts the run again from step 0.")
        else:
            self.progress.setFormat("Preview cancelled")
        self._update_buttons()

    def _on_started(self, job_id):
        if job_id == self._job and self._kind == "train":
            self.progress.setFormat("Preparing the triplets…")

    def _on_yielded(self, job_id, ev):
        if job_id != self._job:
            return
        if isinstance(ev, work.TrainProgress):
            self._show_progress(ev)
        elif isinstance(ev, work.PreviewStep):
            self.progress.setRange(0, max(1, ev.total))
            self.progress.setValue(ev.step)
            self.progress.setFormat(f"Preview ({'base model' if ev.phase == 'base' else 'with adapter'}) "
                                    f"step {ev.step}/{ev.total}")

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
        self.progress.setFormat(f"Step {ev.step}/{ev.total} · loss {ev.loss:.4f}{val} · ETA {_fmt_eta(eta)}")

    def _on_returned(self, job_id, value):
        if job_id != self._job:
            return
        kind = self._kind
        self._set_job(None, None)
        if kind == "train":
            self._train_done(value)
        elif kind == "preview":
            self._preview_done(value)

    def _train_done(self, out: work.TrainOutcome):
        self.outcome = out
        self.progress.setRange(0, 1)
        if out.folder is None:
            self._resumable = True
            self.progress.setValue(0)
            self.progress.setFormat("Cancelled: no adapter was saved")
            self._update_buttons()
            return
        self.progress.setValue(1)
        val = "" if out.final_val_loss is None else f", held-out {out.final_val_loss:.4f}"
        loss = "" if out.final_loss is None else f" · loss {out.final_loss:.4f}{val}"
        self.progress.setFormat(f"Saved '{out.name}'{loss} · {_fmt_eta(out.seconds)}")
        self.say(f"Adapter '{out.name}' saved; it is in the edit panel's adapter list. Making a before/after "
                 "preview…")
        self.refresh_adapters(select=out.name)
        self.adapters_changed.emit()
        triplets = self._last[0] if self._last else self.triplets()
        self.preview_adapter(out.folder, self._preview_triplet(triplets))

    def _on_errored(self, job_id, err):
        if job_id != self._job:
            return
        kind = self._kind
        self._set_job(None, None)
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        if kind == "train":
            self._resumable = True
            self.progress.setFormat("Training failed")
            title = "Training failed"
        else:
            self.progress.setFormat("Preview failed")
            title = "The preview failed"
        self.say(f"{title}: {err.message}", warn=True)
        self._update_buttons()
        self.error.emit(title, err.message, err.detail if not err.user else "")

    def _on_aborted(self, job_id):
        if job_id == self._job:  # cancelled from elsewhere (the window closing)
            self._set_job(None, None)
            self.progress.setFormat("Stopped")

    # =================================================================================
    # preview
    # =================================================================================
    def _preview_triplet(self, triplets) -> Optional[Triplet]:
        rows = self.triplets()
        sel = sorted({i.row() for i in self.table.selectedIndexes()})
        if sel and sel[0] < len(rows) and rows[sel[0]].input:
            return rows[sel[0]]
        return next((t for t in triplets if t.input), None)

    def preview_adapter(self, folder: str, triplet: Optional[Triplet] = None) -> Optional[int]:
        """Edit one input with the base model and with the adapter (same seed), in the worker."""
        if self.busy or not self._model_ready:
            return None
        other = self._other_job()
        if other:
            self.say(other, warn=True)
            return None
        triplet = triplet or self._preview_triplet(self.triplets())
        if triplet is None:
            self.say("Add a triplet: the preview edits one of your inputs.", warn=True)
            return None
        instruction = triplet.instruction or self.default_instruction.text().strip()
        if not instruction:
            self.say("The preview needs the triplet's instruction.", warn=True)
            return None
        host = self.host
        job = self.runner.submit(LANE, lambda c: work.preview(host, folder, triplet.input, instruction, c),
                                 label="adapter preview")
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setFormat("Preview: waiting for the worker…")
        self._set_job(job, "preview")
        return job

    def preview_selected(self) -> Optional[int]:
        name = self._selected_adapter()
        folder = self._adapter_folder(name) if name else None
        return self.preview_adapter(str(folder)) if folder else None

    def _preview_done(self, p: work.PreviewOutcome):
        self.preview_result = p
        dur = len(p.original) / p.sample_rate
        trimmed = f" (its first {dur:.0f} s)" if p.trimmed else ""
        self.preview_label.setText(f"<b>{Path(p.adapter).name}</b> on <b>{Path(p.input).name}</b>{trimmed}: "
                                   f"“{p.instruction}”. A: the base model, B: with the adapter, same seed "
                                   f"({p.seconds:.1f} s).")
        self.progress.setFormat("Preview ready: listen to A and B")
        self.say("Preview ready: play A (base model) and B (with the adapter), or open them in the editor.")
        self._update_buttons()

    def _open_preview(self):
        if self.preview_result is not None:
            self.open_preview.emit(self.preview_result)

    # =================================================================================
    # playback (the app's player; the editor takes it back when its tab is shown)
    # =================================================================================
    def _play(self, audio, sr: int, label: str) -> bool:
        p = self.player
        if not p.available:
            self.say(p.reason or "Playback is disabled.", warn=True)
            return False
        try:
            p.pause()
            p.set_loop(None)
            p.set_sources(audio, None, sr)
            p.select(0)
            p.seek(0.0)
            p.play()
        except Exception as exc:  # noqa: BLE001 - a device error must not end the session
            self.say(f"Playback failed ({str(exc)[:200]}).", warn=True)
            return False
        self.owns_player = True
        self._play_timer.start()
        self.status.emit(f"Playing {label}")
        return True

    def play_row(self, row: int, side: str) -> bool:
        rows = self.triplets()
        if not 0 <= row < len(rows):
            return False
        path = getattr(rows[row], side)
        if not path:
            return False
        from ..core.audio.io import load_audio

        try:
            audio, sr = load_audio(path)
        except RFMError as exc:
            self.say(str(exc), warn=True)
            return False
        return self._play(audio, sr, Path(path).name)

    def play_preview(self, which: str) -> bool:
        p = self.preview_result
        if p is None:
            return False
        label = {"original": "the original", "base": "A (base model)", "adapted": "B (with the adapter)"}[which]
        return self._play(getattr(p, which), p.sample_rate, label)

    def stop_playback(self):
        if self.owns_player:
            self.player.pause()

    def _poll_player(self):
        if not self.player.poll():
            self._play_timer.stop()

    # =================================================================================
    # adapters on disk
    # =================================================================================
    def refresh_adapters(self, select: Optional[str] = None) -> list[str]:
        from ..core.model.adapter_store import list_adapters
        from ..core.paths import user_adapters_dir

        keep = select or self._selected_adapter()
        self.adapter_tree.clear()
        names = []
        for name, folder, card in list_adapters():
            def f(v):
                return "–" if not isinstance(v, (int, float)) else f"{v:.4f}"
            trip = card.get("triplets")
            it = QTreeWidgetItem([name, str(card.get("steps", "")), f(card.get("final_loss")),
                                  f(card.get("final_val_loss")), str(len(trip)) if isinstance(trip, list) else "",
                                  Path(str(card.get("base_model") or "")).name])
            it.setData(0, Qt.UserRole, str(folder))
            s = card.get("settings") or {}
            it.setToolTip(0, f"{folder}\nrank {card.get('rank', '?')}, alpha {card.get('alpha', '?')}, "
                             f"parts {', '.join(card.get('parts') or [])}, lr {s.get('lr', '?')}")
            self.adapter_tree.addTopLevelItem(it)
            names.append(name)
            if name == keep:
                it.setSelected(True)
                self.adapter_tree.setCurrentItem(it)
        self.adapters_hint.setText(f"Saved in {user_adapters_dir()}" if names else
                                   f"No adapters yet; trained ones are saved in {user_adapters_dir()}.")
        self._update_buttons()
        return names

    def adapter_names(self) -> list[str]:
        return [self.adapter_tree.topLevelItem(i).text(0) for i in range(self.adapter_tree.topLevelItemCount())]

    def _selected_adapter(self) -> Optional[str]:
        items = self.adapter_tree.selectedItems() if hasattr(self, "adapter_tree") else []
        return items[0].text(0) if items else None

    def _adapter_folder(self, name: str) -> Optional[Path]:
        from ..core.model.adapter_store import list_adapters

        return next((p for n, p, _c in list_adapters() if n == name), None)

    def select_adapter(self, name: str) -> None:
        for i in range(self.adapter_tree.topLevelItemCount()):
            it = self.adapter_tree.topLevelItem(i)
            it.setSelected(it.text(0) == name)

    def use_selected(self) -> None:
        name = self._selected_adapter()
        folder = self._adapter_folder(name) if name else None
        if folder is not None and self._model_ready and not self.busy:
            self.use_adapter.emit(str(folder))

    def rename_adapter(self, old: Optional[str], new: Optional[str] = None) -> Optional[str]:
        from ..core.model.adapter_store import rename_adapter

        if not old or self.busy:
            return None
        if new is None:
            new = self.ask_text("Rename adapter", f"New name for '{old}':", old)
            if not new or new.strip() == old:
                return None
        new = new.strip()
        src = self._adapter_folder(old)
        try:
            dst = rename_adapter(old, new)
        except (RFMError, OSError) as exc:
            msg = str(exc) if isinstance(exc, RFMError) else f"'{old}' could not be renamed ({exc.strerror})."
            self.say(msg, warn=True)
            return None
        self.refresh_adapters(select=new)
        self.say(f"Adapter '{old}' renamed to '{new}'.")
        self.adapters_changed.emit()
        self.adapter_moved.emit(str(src), str(dst))
        return new

    def delete_adapter(self, name: Optional[str]) -> bool:
        from ..core.model.adapter_store import delete_adapter

        if not name or self.busy:
            return False
        if not self.confirm("Delete the adapter?", f"Delete the adapter '{name}' and its files? This cannot be "
                                                   "undone."):
            return False
        src = self._adapter_folder(name)
        try:
            delete_adapter(name)
        except (RFMError, OSError) as exc:
            msg = str(exc) if isinstance(exc, RFMError) else f"'{name}' could not be deleted ({exc.strerror})."
            self.say(msg, warn=True)
            return False
        self.refresh_adapters()
        self.say(f"Adapter '{name}' deleted.")
        self.adapters_changed.emit()
        self.adapter_moved.emit(str(src), "")
        return True

    # =================================================================================
    # dialogs, shutdown
    # =================================================================================
    def _confirm_dialog(self, title: str, text: str) -> bool:
        return QMessageBox.question(self, title, text, QMessageBox.Yes | QMessageBox.No,
                                    QMessageBox.No) == QMessageBox.Yes

    def _ask_text_dialog(self, title: str, label: str, text: str) -> Optional[str]:
        value, ok = QInputDialog.getText(self, title, label, QLineEdit.Normal, text)
        return value if ok else None

    def shutdown(self) -> None:
        self._play_timer.stop()
        self._poll_timer.stop()
        self._check_timer.stop()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
