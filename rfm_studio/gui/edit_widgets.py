"""Small widgets and mappings of the edit panel: the instruction box (history + template
completion), form rows side by side, and the t_start slider's quadratic scale."""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QStringListModel, Qt
from PySide6.QtWidgets import (QCompleter, QHBoxLayout, QLabel, QLineEdit, QProgressBar, QStyle,
                               QStyleOptionProgressBar, QStylePainter, QWidget)

from .elide import elide

TEMPLATES = ("Add ...", "Remove ...", "Replace ... with ...", "Add a dog barking", "Remove the dog barking",
             "Replace the piano with a guitar", "Add rain in the background", "Remove the speech")
T_MAX = 0.2
SLIDER_MAX = 1000


def row_widget(*items) -> QWidget:
    """One form row holding several widgets side by side: items are widgets or (widget, stretch)."""
    lay = QHBoxLayout()
    lay.setContentsMargins(0, 0, 0, 0)
    for it in items:
        w, stretch = it if isinstance(it, tuple) else (it, 0)
        lay.addWidget(w, stretch)
    w = QWidget()
    w.setLayout(lay)
    return w


def buddy_label(text: str, buddy: QWidget) -> QLabel:
    """A field's label inside a row of several fields (the row's first field has the form's)."""
    label = QLabel(text)
    label.setBuddy(buddy)
    label.setToolTip(buddy.toolTip())
    return label


def slider_to_t(pos: int) -> float:
    """Quadratic map: fine steps near 0.01 (about 1e-4 per tick there), 0.2 at the end."""
    return T_MAX * (pos / SLIDER_MAX) ** 2


def t_to_slider(t: float) -> int:
    return int(round(SLIDER_MAX * math.sqrt(max(0.0, min(T_MAX, t)) / T_MAX)))


class InstructionBox(QLineEdit):
    """Completes from templates and history; choosing a template selects its first '...'."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setPlaceholderText("Describe the edit, e.g. Remove the dog barking")
        self.model = QStringListModel(list(TEMPLATES))
        self.completer_ = QCompleter(self.model, self)
        self.completer_.setCaseSensitivity(Qt.CaseInsensitive)
        self.completer_.setFilterMode(Qt.MatchContains)
        self.completer_.setCompletionMode(QCompleter.PopupCompletion)
        self.setCompleter(self.completer_)
        self.completer_.activated.connect(self._select_placeholder)
        self.history: list[str] = []

    def set_history(self, items) -> None:
        self.history = list(items)
        merged = self.history + [t for t in TEMPLATES if t not in self.history]
        self.model.setStringList(merged)

    def _select_placeholder(self, *_):
        text = self.text()
        i = text.find("...")
        if i >= 0:
            self.setSelection(i, 3)


class ElidedBar(QProgressBar):
    """A progress bar that draws its text ending in "…" where the bar is too narrow for it (a plain
    one cuts both ends of its centred text: "ne in 0.5 s · versio"), and then has the whole line as
    its tooltip; ``text()`` stays the whole line (what tests and screen readers read). The tooltip
    is set where the line or the room for it changes (a new format, value or range, a resize,
    another font or style), never while painting."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.valueChanged.connect(self._set_tip)  # (a format with %p, %v or %m changes with it)

    def _room(self) -> int:
        return max(0, self.contentsRect().width() - 10)

    def _set_tip(self, *_) -> None:
        text = self.text()
        tip = text if elide(self.fontMetrics(), text, self._room())[1] else ""
        if self.toolTip() != tip:
            self.setToolTip(tip)

    def setFormat(self, fmt: str) -> None:
        super().setFormat(fmt)
        self._set_tip()

    def setRange(self, lo: int, hi: int) -> None:  # (%p and %m change with the range alone)
        super().setRange(lo, hi)
        self._set_tip()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._set_tip()

    def event(self, event) -> bool:
        if event.type() == QEvent.ToolTip:  # the tip about to show is the line as it is now, whatever
            self._set_tip()                 # changed it (setMaximum, reset: no Python hook sees those)
        return super().event(event)

    def changeEvent(self, event) -> None:
        super().changeEvent(event)
        if event.type() in (QEvent.FontChange, QEvent.StyleChange):
            self._set_tip()

    def paintEvent(self, _event) -> None:
        opt = QStyleOptionProgressBar()
        self.initStyleOption(opt)
        opt.text = elide(self.fontMetrics(), opt.text, self._room())[0]
        QStylePainter(self).drawControl(QStyle.CE_ProgressBar, opt)


def show_stage(bar, stage: int, stages: int, text: str) -> None:
    """A progress bar at a stage of work that is no sampler step (core ProgressEvent), begun: its
    text and number, the bar at the stages done (the ones before it; a stage counts as done once
    the next begins or the edit ends). The edit panel and the batch window both show stages so."""
    bar.setRange(0, max(1, stages))
    bar.setValue(max(0, stage - 1))
    bar.setFormat(f"{text} ({stage}/{stages})")


def show_text(bar, text: str) -> None:
    """A progress bar at rest with ``text`` ("Done in 0.5 s · version 1")."""
    bar.setRange(0, 1)
    bar.setValue(0)
    bar.setFormat(text)
