"""Example marks: a second kind of selection in the time views ("sounds like this").

Shift-drag on the waveform or spectrogram marks a span of the clip where the sound to edit
plays; several may be marked (drawn in green, apart from the blue edit region). The marks
become the audio prompts (core.prompts, kind "example") of the next edit: a Remove takes what
sounds like the marked audio wherever it plays (another recording of the sound goes where the
sound finder is sure of it too: separation/engine.py). "Clear examples" or opening another clip
removes them. Find (window_find) adds the spans the sound finder heard as marks of the same kind
(``set_found``): a new Find replaces the marks the last one made and keeps those drawn by hand,
and they are hidden (``show_found``: not drawn, not heard by an edit) while the instruction names
another sound than the one they were found for, and shown again once it names that sound again.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QStyle, QToolButton, QWidget

from ..core.prompts import MAX_PROMPTS, MIN_PROMPT_SECONDS, example_from_clip
from .elide import elide

EXAMPLE_COLOR = "#3fbf7f"


class HintLabel(QLabel):
    """A one-line hint that ends in '…' where its width cuts it (``text()`` stays the whole line).
    Its tooltip: the detail (``set_line``), under the whole line where the line is cut, where
    ``line_in_tip`` asks for it, or where there is no detail."""

    def __init__(self):
        super().__init__()
        self._detail, self._line_in_tip = "", False

    def set_line(self, text: str, detail: str = "", line_in_tip: bool = False) -> None:
        self._detail, self._line_in_tip = detail, line_in_tip
        self.setText(text)
        self._set_tip()

    def _elided(self) -> tuple[str, bool]:
        return elide(self.fontMetrics(), self.text(), self.contentsRect().width())

    def is_cut(self) -> bool:
        return self._elided()[1]

    def _set_tip(self) -> None:
        line = [self.text()] if self._line_in_tip or not self._detail or self.is_cut() else []
        self.setToolTip("\n".join(line + ([self._detail] if self._detail else [])))

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._set_tip()

    def paintEvent(self, event):
        shown, cut = self._elided()
        if not cut:
            return super().paintEvent(event)
        painter = QPainter(self)
        align = QStyle.visualAlignment(self.layoutDirection(), self.alignment())
        self.style().drawItemText(painter, self.contentsRect(), align, self.palette(), self.isEnabled(), shown,
                                  self.foregroundRole())


class ExampleMarks(QObject):
    changed = Signal()

    def __init__(self, views, parent=None):
        super().__init__(parent)
        self.views = list(views)
        self.spans: list[tuple[float, float]] = []
        self.found: list[bool] = []  # per span: made by Find (not by hand)
        self.found_for = ""  # the sound Find heard where its marks are
        self.found_hidden = False  # Find's marks are set aside: the instruction names another sound
        self._items: list[list] = []  # per span, its item in each view
        self._live = None  # the span being dragged: one item per view
        self.row = QWidget()
        lay = QHBoxLayout(self.row)
        lay.setContentsMargins(0, 0, 0, 0)
        self.label = HintLabel()
        self.label.setObjectName("hint")
        self.clear_button = QToolButton()
        self.clear_button.setText("Clear examples")
        self.clear_button.setAutoRaise(True)
        self.clear_button.clicked.connect(self.clear)
        self.clear_button.setMaximumHeight(self.label.sizeHint().height())  # the row is one line with or without it
        self.label.setSizePolicy(QSizePolicy.Ignored, QSizePolicy.Preferred)  # one line; never widens the panel
        lay.addWidget(self.label, 1)
        lay.addWidget(self.clear_button)
        for v in self.views:
            v.vb.example_dragged.connect(self.on_drag)
        self._show()

    def _item(self, a: float, b: float, found: bool = False):
        c = QColor(EXAMPLE_COLOR)
        c.setAlpha(70)
        pen = pg.mkPen(EXAMPLE_COLOR, width=1, style=Qt.DashLine if found else Qt.SolidLine)  # dashed: Find's
        it = pg.LinearRegionItem((a, b), movable=False, brush=pg.mkBrush(c), pen=pen)
        it.setZValue(19)
        return it

    def _drop(self, items):
        for v, it in zip(self.views, items):
            v.removeItem(it)

    def on_drag(self, a: float, b: float, finished: bool) -> None:
        dur = min((v.duration for v in self.views), default=0.0)
        a, b = max(0.0, float(a)), min(dur, float(b))
        if self._live is None:
            self._live = [self._item(a, b) for _ in self.views]
            for v, it in zip(self.views, self._live):
                v.addItem(it, ignoreBounds=True)
        for it in self._live:
            it.setRegion((a, b))
        if finished:
            items, self._live = self._live, None
            if b - a >= MIN_PROMPT_SECONDS and len(self.in_use()) < MAX_PROMPTS:
                if len(self.spans) >= MAX_PROMPTS:  # a hidden found mark makes room for one by hand
                    self._remove(max(i for i, f in enumerate(self.found) if f))
                self.spans.append((a, b))
                self.found.append(False)
                self._items.append(items)
                self.changed.emit()
            else:
                self._drop(items)
            self._show()

    def clear(self) -> None:
        for items in self._items:
            self._drop(items)
        if self._live is not None:
            self._drop(self._live)
            self._live = None
        had = bool(self.spans)
        self.spans, self.found, self._items, self.found_for = [], [], [], ""
        self.found_hidden = False
        self._show()
        if had:
            self.changed.emit()

    def room_for_found(self) -> int:
        """How many marks a Find may make: MAX_PROMPTS less the hand-made ones."""
        return MAX_PROMPTS - self.found.count(False)

    def in_use(self) -> list[tuple[float, float]]:
        """The spans the next edit hears: the hand-made ones, and Find's unless they are hidden."""
        return [s for s, f in zip(self.spans, self.found) if not (f and self.found_hidden)]

    def _remove(self, i: int) -> None:
        self._drop(self._items.pop(i))
        del self.spans[i], self.found[i]

    def _drop_found(self) -> None:
        for i in reversed([i for i, f in enumerate(self.found) if f]):
            self._remove(i)
        self.found_hidden = False

    def show_found(self, shown: bool) -> bool:
        """Show the marks Find made (the instruction names the sound they were found for) or hide
        them (it names another): hidden, they are neither drawn nor heard by an edit, and kept for
        when it names that sound again. Hand-made marks are unaffected. Whether anything changed."""
        hidden = not shown and any(self.found)
        if hidden == self.found_hidden:
            return False
        self.found_hidden = hidden
        for items, f in zip(self._items, self.found):
            for it in items if f else ():
                it.setVisible(not hidden)
        self._show()
        self.changed.emit()
        return True

    def set_found(self, spans, sound: str = "") -> list[tuple[float, float]]:
        """Replace the marks the last Find made by ``spans`` (start_s, end_s), where it heard
        ``sound`` (``found_for``); the hand-made ones stay. Spans shorter than MIN_PROMPT_SECONDS
        (after clipping to the clip) or past MAX_PROMPTS are skipped; returns the spans marked."""
        self._drop_found()
        self.found_for = sound
        dur = min((v.duration for v in self.views), default=0.0)
        kept = []
        for a, b in spans:
            a, b = max(0.0, float(a)), min(dur, float(b))
            if b - a < MIN_PROMPT_SECONDS or len(self.spans) >= MAX_PROMPTS:
                continue
            items = [self._item(a, b, found=True) for _ in self.views]
            for v, it in zip(self.views, items):
                v.addItem(it, ignoreBounds=True)
            self.spans.append((a, b))
            self.found.append(True)
            self._items.append(items)
            kept.append((a, b))
        self._show()
        self.changed.emit()
        return kept

    def prompts(self, audio, sample_rate: int) -> tuple:
        """The marked spans of ``audio`` as example prompts (spans past its end are skipped)."""
        dur = audio.shape[0] / float(sample_rate)
        return tuple(example_from_clip(audio, sample_rate, a, min(b, dur)) for a, b in self.in_use()
                     if min(b, dur) - a >= MIN_PROMPT_SECONDS)

    def _show(self) -> None:
        """One line (the panel must not grow with the marks; '…' where a narrow dock cuts it): how
        many, found and by hand; the spans themselves in its tooltip, under the whole line where
        that is cut or tells of hidden found marks."""
        if not self.spans:
            self.label.set_line("Examples: none (Shift-drag to mark where the sound plays)")  # tooltip: itself
        else:
            n_found, hidden = sum(self.found), self.found_hidden
            counts = [f"{n_found} found"] if n_found and not hidden else []
            counts += [f"{len(self.spans) - n_found} by hand"] if n_found < len(self.spans) else []
            if hidden:
                counts.append(f"{n_found} found for '{self.found_for}' hidden (the instruction names another sound)")
            kind = " (found, hidden)" if hidden else " (found)"
            spans = "\n".join(f"{a:.2f}–{b:.2f} s" + (kind if f else " (by hand)")
                               for (a, b), f in zip(self.spans, self.found))
            self.label.set_line(f"Examples: {', '.join(counts)}", spans, line_in_tip=hidden)  # the line too where cut
        self.clear_button.setVisible(bool(self.spans))
