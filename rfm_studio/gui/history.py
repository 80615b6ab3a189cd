"""Versions of the open clip (the source and every edit), undo/redo, and the history panel."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QHeaderView, QLabel, QTreeWidget, QTreeWidgetItem,
                               QVBoxLayout, QWidget)

from ..core.edit_summary import how_text


@dataclass(frozen=True)
class Version:
    id: int
    parent: Optional[int]  # the version this edit started from (None for the source)
    audio: np.ndarray
    sample_rate: int
    instruction: str = ""  # "" for the source
    params: dict = field(default_factory=dict)  # steps, t_start, guidance, seed, region, model, ...
    seconds: float = 0.0
    tokens: tuple = ()
    attention: Optional[np.ndarray] = None  # [steps, tokens, frames]
    label: str = ""

    @property
    def is_source(self) -> bool:
        return self.parent is None

    def title(self) -> str:
        return self.label or ("Original" if self.is_source else self.instruction)


class History:
    """Every version is kept (append-only); undo/redo move the *current* version."""

    def __init__(self):
        self.versions: dict[int, Version] = {}
        self.mels: dict[int, np.ndarray] = {}  # display spectrograms, filled as they arrive
        self._next = 0
        self.current: Optional[int] = None
        self._undo: list[int] = []
        self._redo: list[int] = []

    def reset(self, source_audio: np.ndarray, sr: int, label: str = "Original") -> Version:
        self.versions.clear()
        self.mels.clear()
        self._next = 0
        self._undo.clear()
        self._redo.clear()
        v = self._new(None, source_audio, sr, label=label)
        self.current = v.id
        return v

    def load(self, versions: dict, current: int, undo=(), redo=(), next_id: Optional[int] = None) -> None:
        """Replace every version (a restored session); ids keep counting after the highest
        (``next_id``: after versions still being read, see ``add_restored``)."""
        self.versions = dict(sorted(versions.items()))  # ordered by id (the panel lists them so)
        self.mels.clear()
        self._next = max(next_id or 0, max(self.versions) + 1 if self.versions else 0)
        self.current = current if current in self.versions else 0
        self._undo = [v for v in undo if v in self.versions]
        self._redo = [v for v in redo if v in self.versions]

    def add_restored(self, versions: dict, undo=(), redo=(), at: Optional[int] = None) -> None:
        """The rest of a restored session's versions, read after the first ones were shown
        (``at``: the current version then). The saved undo / redo lists come back; if the user
        moved meanwhile, the saved undo list goes before the moves and the saved redo is dropped."""
        self.versions = dict(sorted({**versions, **self.versions}.items()))  # ordered by id, as if never lost
        self._next = max(self._next, max(self.versions) + 1)
        undo = [v for v in undo if v in self.versions]
        if self.current == at and not self._undo and not self._redo:
            self._undo, self._redo = undo, [v for v in redo if v in self.versions]
        else:
            self._undo = undo + self._undo

    def _new(self, parent, audio, sr, **kw) -> Version:
        v = Version(self._next, parent, audio, sr, **kw)
        self.versions[v.id] = v
        self._next += 1
        return v

    def add_edit(self, parent: int, audio, sr, **kw) -> Version:
        v = self._new(parent, audio, sr, **kw)
        self.go(v.id)
        return v

    def go(self, vid: int) -> None:
        """Make ``vid`` current (undoable)."""
        if vid == self.current or vid not in self.versions:
            return
        if self.current is not None:
            self._undo.append(self.current)
        self.current = vid
        self._redo.clear()

    def can_undo(self) -> bool:
        return bool(self._undo)

    def can_redo(self) -> bool:
        return bool(self._redo)

    def undo(self) -> Optional[int]:
        if not self._undo:
            return None
        self._redo.append(self.current)
        self.current = self._undo.pop()
        return self.current

    def redo(self) -> Optional[int]:
        if not self._redo:
            return None
        self._undo.append(self.current)
        self.current = self._redo.pop()
        return self.current

    @property
    def source(self) -> Optional[Version]:
        return self.versions.get(0)

    def get(self, vid) -> Optional[Version]:
        return self.versions.get(vid) if vid is not None else None

    def chain(self, vid) -> list[Version]:
        """The versions from the source to ``vid``."""
        out = []
        while vid is not None and vid in self.versions:  # (a restore may still be reading a parent)
            v = self.versions[vid]
            out.append(v)
            vid = v.parent
        return out[::-1]

    def __len__(self):
        return len(self.versions)


COLUMNS = ("#", "Instruction", "t_start", "Steps", "Seed", "Time")


def _fmt_region(r):
    return f"{r[0]:.2f}–{r[1]:.2f} s" if r else "all"


def fit_popup(combo: QComboBox) -> None:
    """The closed box elides (its tooltip has the whole text); the list opens wide enough for
    every instruction in full (up to the screen's width)."""
    fm = combo.fontMetrics()
    widest = max((fm.horizontalAdvance(combo.itemText(i)) for i in range(combo.count())), default=0)
    screen = combo.screen().availableGeometry().width() if combo.screen() else 1600
    combo.view().setMinimumWidth(min(widest + 48, int(screen * 0.9)))
    combo.view().setTextElideMode(Qt.ElideNone)
    combo.setToolTip(combo.currentText())


class HistoryPanel(QWidget):
    """A table of versions plus the A and B selectors used for comparing any two."""

    activated = Signal(int)  # double-click: make a version current
    compare_changed = Signal(object, object)  # (A id, B id or None)

    def __init__(self, history: History, parent=None):
        super().__init__(parent)
        self.history = history
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(COLUMNS)
        self.tree.setRootIsDecorated(False)
        self.tree.setAlternatingRowColors(True)
        self.tree.setUniformRowHeights(True)
        self.tree.itemDoubleClicked.connect(lambda it, _c: self.activated.emit(int(it.data(0, Qt.UserRole))))
        h = self.tree.header()
        h.setStretchLastSection(False)
        h.setSectionResizeMode(QHeaderView.ResizeToContents)
        h.setSectionResizeMode(1, QHeaderView.Stretch)
        self.combo_a = QComboBox()
        self.combo_b = QComboBox()
        for c in (self.combo_a, self.combo_b):
            c.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
            c.setMinimumContentsLength(8)
            c.activated.connect(self._emit_compare)
        lay = QVBoxLayout(self)
        lay.setContentsMargins(6, 6, 6, 6)
        for text, combo in (("Compare  A", self.combo_a), ("B", self.combo_b)):  # a row each: room for the text
            row = QHBoxLayout()
            label = QLabel(text)
            label.setMinimumWidth(QLabel("Compare  A").sizeHint().width())
            label.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
            row.addWidget(label)
            row.addWidget(combo, 1)
            lay.addLayout(row)
        lay.addWidget(self.tree, 1)
        self.change_label = QLabel("")  # what the shown edit changed (its change report)
        self.change_label.setWordWrap(True)
        self.change_label.setObjectName("change_report")
        self.change_label.setTextInteractionFlags(Qt.TextSelectableByMouse)
        lay.addWidget(self.change_label)

    def refresh(self, a_id=None, b_id=None) -> None:
        hist = self.history
        self.tree.clear()
        bold = QFont()
        bold.setBold(True)
        for v in hist.versions.values():
            p = v.params
            vals = [str(v.id), v.title()]
            if v.is_source:
                vals += ["", "", "", ""]
                tip = "The opened clip"
            else:
                model = str(p.get("model_name") or p.get("model") or "").split("/")[-1]
                sampled = "steps" in p  # the dictionary engine's removal has no sampler steps
                vals += [f"{p.get('t_start', 0):.3f}" if sampled else "", str(p.get("steps", "")),
                         str(p.get("seed", "")), f"{v.seconds:.1f} s"]
                how = how_text(p) if p.get("engine") in ("dictionary", "self-prompt") else ""
                tip = (f"{v.instruction}" + (f"\n{how[0].upper()}{how[1:]}" if how else "")
                       + f"\nfrom version {v.parent} · "
                       + (f"guidance {p.get('guidance', 0):g} · draws {p.get('draws', 1)} · " if sampled else "")
                       + f"strength {p.get('strength', 1.0):g} · "
                       f"region {_fmt_region(p.get('region'))}\nmodel {model}"
                       + (f" + {str(p['adapter']).split('/')[-1]}" if p.get("adapter") else "")
                       + (f"\nlibrary sound {p['reference']}" if p.get("reference") else "")
                       + (f" at {len(p['placements'])} places" if len(p.get("placements") or ()) > 1 else "")
                       + (f"\nChanged: {p['change']}" if p.get("change") and not p.get("no_change") else "")
                       + (f"\n{p['doubt']}" if p.get("doubt") else "")
                       + (f"\n{p['change']}" if p.get("no_change") else ""))
            it = QTreeWidgetItem(vals)
            it.setData(0, Qt.UserRole, v.id)
            for c in range(len(COLUMNS)):
                it.setToolTip(c, tip)
            if v.id == hist.current:
                for c in range(len(COLUMNS)):
                    it.setFont(c, bold)
            self.tree.addTopLevelItem(it)
            if v.id == hist.current:
                self.tree.setCurrentItem(it)
        shown = hist.get(b_id) if b_id is not None else hist.get(hist.current)
        change = shown.params.get("change", "") if shown is not None and not shown.is_source else ""
        if change and not shown.params.get("no_change"):
            change = f"Version {shown.id} changed: {change}"
            if shown.params.get("doubt"):
                change += f"\n{shown.params['doubt']}"
        self.change_label.setText(change)
        self.change_label.setVisible(bool(change))
        for combo, sel, allow_none in ((self.combo_a, a_id, False), (self.combo_b, b_id, True)):
            combo.blockSignals(True)
            combo.clear()
            if allow_none:
                combo.addItem("—", None)
            for v in hist.versions.values():
                text = f"{v.id}: {v.title()}"
                combo.addItem(text, v.id)
                combo.setItemData(combo.count() - 1, text, Qt.ToolTipRole)
            i = combo.findData(sel)
            combo.setCurrentIndex(max(0, i))
            fit_popup(combo)
            combo.blockSignals(False)

    def _emit_compare(self, *_):
        for c in (self.combo_a, self.combo_b):
            c.setToolTip(c.currentText())
        self.compare_changed.emit(self.combo_a.currentData(), self.combo_b.currentData())
