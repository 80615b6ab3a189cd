"""The triplet table of the Fine-tuning tab (original, target, instruction) with its imports
(dialog, drop, folder paired by name, CSV/JSONL) and its checks."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QFileDialog, QGroupBox, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QListWidget, QListWidgetItem, QTableWidget, QTableWidgetItem, QVBoxLayout)

from ...core.errors import RFMError
from . import work
from .add_dialog import AddTripletDialog
from .checks import FileChecks, table_problems
from .pairing import Found, Triplet, from_drop, pair_folder, read_table
from .widgets import tool

TABLE_FILTER = "Triplet tables (*.csv *.jsonl);;All files (*)"
COL_INPUT, COL_TARGET, COL_INSTRUCTION, COL_CHECK = range(4)


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


class TripletsPanel(QGroupBox):
    """The table, its import buttons, the instruction for imported pairs and the problems.

    Uses: ``checks`` (the file checks in the worker), ``settings`` (its ``last_dir``),
    ``say(text, warn)`` (a message in the tab), ``play_file(path)`` and ``stop()`` (the
    tab's player). ``changed`` follows every change of the rows, of their selection or of their
    checks; ``checked(n)`` every showing of the checks of ``n`` rows."""

    changed = Signal()
    checked = Signal(int)

    def __init__(self, checks: FileChecks, settings, say: Callable, play_file: Callable, stop: Callable,
                 parent=None):
        super().__init__("Triplets: original, target, instruction", parent)
        self.checks, self.settings, self.say, self.play_file = checks, settings, say, play_file
        self.problems: list[str] = []  # every sentence, once all checks are known
        self._ok_color, self._warn_color = QColor("#3fa34d"), QColor("#d9771f")
        bl = QVBoxLayout(self)
        row = QHBoxLayout()
        self.b_add = tool("Add…", self.add_dialog, "Add one triplet: an original file, the target file and the "
                                                   "instruction")
        self.b_folder = tool("Folder…", self.import_folder,
                             "Import a folder of pairs, paired by name: NAME.wav with NAME_target.wav (or _out, _after), or "
                             "in/NAME.wav with out/NAME.wav (or input/target, before/after folders). "
                             "An instructions.txt in the folder gives their instruction.")
        self.b_table = tool("CSV/JSONL…", self.import_table,
                            "Import a table with the columns input, target, instruction (paths relative to the "
                            "table's folder)")
        self.b_remove = tool("Remove", self.remove_selected, "Remove the selected triplets from the list")
        for b in (self.b_add, self.b_folder, self.b_table, self.b_remove):
            row.addWidget(b)
        row.addStretch(1)
        self.b_play_in = tool("▶ Input", lambda: self.play_row(self.current_row(), "input"),
                              "Play the selected triplet's original")
        self.b_play_tg = tool("▶ Target", lambda: self.play_row(self.current_row(), "target"),
                              "Play the selected triplet's target")
        self.b_stop = tool("■", stop, "Stop playback")
        bl.addLayout(row)
        irow = QHBoxLayout()
        self.default_instruction = QLineEdit()
        self.default_instruction.setPlaceholderText("Instruction for imported pairs, e.g. Remove the "
                                                    "air-conditioner hum")
        self.default_instruction.setToolTip("Given to triplets added without an instruction")
        self.b_apply_instruction = tool("Apply", self.apply_instruction,
                                        "Give the selected triplets (all without an instruction when none is "
                                        "selected) this instruction")
        irow.addWidget(QLabel("Instruction"))
        irow.addWidget(self.default_instruction, 1)
        irow.addWidget(self.b_apply_instruction)
        bl.addLayout(irow)
        self.table = TripletTable()
        self.table.dropped.connect(self.add_paths)
        self.table.itemChanged.connect(self._item_changed)
        self.table.cellDoubleClicked.connect(self._cell_double_clicked)
        self.table.itemSelectionChanged.connect(self.changed)
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
        self._debounce = QTimer(self)  # edits in a row are checked once
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(120)
        self._debounce.timeout.connect(self.run_checks)
        checks.updated.connect(self.show_checks)

    # -- rows --------------------------------------------------------------------------
    def triplets(self) -> list[Triplet]:
        def val(r, c, role):
            it = self.table.item(r, c)
            return "" if it is None else str((it.data(Qt.UserRole) if role else it.text()) or "").strip()

        return [Triplet(val(r, COL_INPUT, True), val(r, COL_TARGET, True), val(r, COL_INSTRUCTION, False))
                for r in range(self.table.rowCount())]

    def instruction(self) -> str:
        """The instruction for imported pairs."""
        return self.default_instruction.text().strip()

    def selected_rows(self) -> list[int]:
        return sorted({i.row() for i in self.table.selectedIndexes()})

    def current_row(self) -> int:
        rows = self.selected_rows()
        return rows[0] if rows else (0 if self.table.rowCount() else -1)

    def add_triplets(self, triplets) -> int:
        default = self.instruction()
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
        self._debounce.start()
        self.changed.emit()
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
            found = from_drop(paths, self.instruction())
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
        dlg = AddTripletDialog(self._last_dir(), self.instruction(), self)
        if dlg.exec() != QDialog.Accepted:
            return 0
        t = dlg.triplet()
        if t.input:
            self._remember_dir(str(Path(t.input).parent))
        return self.add_triplets([Triplet(str(Path(t.input).resolve()) if t.input else "",
                                          str(Path(t.target).resolve()) if t.target else "", t.instruction)])

    def remove_selected(self) -> None:
        for r in reversed(self.selected_rows()):
            self.table.removeRow(r)
        self._debounce.start()
        self.changed.emit()

    def clear(self) -> None:
        self.table.setRowCount(0)
        self._debounce.start()
        self.changed.emit()

    def apply_instruction(self, text: str | None = None) -> None:
        text = (self.default_instruction.text() if text is None else text).strip()
        if not text:
            self.say("Type the instruction first.", warn=True)
            return
        rows = self.selected_rows() or [r for r, t in enumerate(self.triplets()) if not t.instruction]
        for r in rows:
            self.table.item(r, COL_INSTRUCTION).setText(text)  # itemChanged re-checks

    def play_row(self, row: int, side: str) -> bool:
        rows = self.triplets()
        if not 0 <= row < len(rows):
            return False
        return self.play_file(getattr(rows[row], side))

    def _item_changed(self, item):
        if item.column() == COL_INSTRUCTION:
            self._debounce.start()

    def _cell_double_clicked(self, row, col):
        if col in (COL_INPUT, COL_TARGET):
            self.play_row(row, "input" if col == COL_INPUT else "target")

    def _problem_clicked(self, item):
        r = item.data(Qt.UserRole)
        if r is not None and 0 <= r < self.table.rowCount():
            self.table.selectRow(r)

    def _last_dir(self) -> str:
        return str(getattr(self.settings, "last_dir", "") or Path.home())

    def _remember_dir(self, d: str):
        if self.settings is not None and hasattr(self.settings, "last_dir"):
            self.settings.last_dir = d

    # -- checks ------------------------------------------------------------------------
    def run_checks(self) -> None:
        """Whole-table checks now; the file checks of rows not checked yet in the worker.
        ``problems`` lists every sentence once all are known."""
        self._debounce.stop()
        self.checks.request(self.triplets())
        self.show_checks()

    @property
    def checking(self) -> bool:
        return self.checks.checking or self._debounce.isActive()

    @property
    def ready(self) -> bool:
        """Every check is done and passed."""
        return bool(self.table.rowCount()) and not self.checking and not self.problems

    def show_checks(self):
        rows = self.triplets()
        msgs = table_problems(rows)
        per_row: list = []
        pending = 0
        for i, t in enumerate(rows, 1):
            found = self.checks.messages(t)
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
        self.checked.emit(n)
        self.changed.emit()

    def style(self, colors) -> None:
        self._ok_color = QColor("#5cc46a" if colors.dark else "#2e8b3e")
        self._warn_color = QColor(colors.wave_b)
        self.show_checks()

    def update_buttons(self, busy: bool) -> None:
        self.b_remove.setEnabled(bool(self.table.selectedIndexes()) and not busy)
        for b in (self.b_play_in, self.b_play_tg):
            b.setEnabled(self.table.rowCount() > 0)
