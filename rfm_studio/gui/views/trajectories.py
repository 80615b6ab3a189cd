"""Token trajectories: each picked word's attention over time, at the chosen sampler step."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from .base import TimePlot
from ...core.features.mel import MelConfig

FPS = MelConfig().fps  # mel frames per second
PALETTE = ("#4fc3f7", "#ffb74d", "#81c784", "#f06292", "#ba68c8", "#fff176", "#4db6ac", "#e57373")
STOPWORDS = {"the", "a", "an", "of", "with", "and", "to", "in", "on", "at", "by", "from", "for", "some", "is",
             "it", "into", "its", "this", "that", "."}


def default_picks(tokens) -> list[int]:
    """Content words (not articles, prepositions, punctuation), at most four."""
    picks = [i for i, w in enumerate(tokens) if w.lower() not in STOPWORDS and w.isalnum()]
    return picks[:4] or list(range(min(2, len(tokens))))


def smooth(y: np.ndarray, k: int = 5) -> np.ndarray:
    if k <= 1 or y.shape[-1] < k:
        return y
    w = np.ones(k) / k
    padded = np.pad(y, (k // 2, k - 1 - k // 2), mode="edge")  # no dip at the clip's edges
    return np.convolve(padded, w, mode="valid")


class TokenChips(QWidget):
    """Toggleable word chips coloured like their curves (painted, not child widgets: creating
    buttons for every new instruction costs the UI thread tens of milliseconds)."""

    changed = Signal(list)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.tokens: tuple[str, ...] = ()
        self._on: list[bool] = []
        self._rects: list[QRectF] = []
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Fixed)
        self.setMinimumSize(120, 24)  # fixed: a new instruction must not re-layout the window
        self.setToolTip("Click a word to show or hide its trajectory")

    def set_tokens(self, tokens, picks) -> None:
        self.tokens = tuple(tokens)
        self._on = [i in picks for i in range(len(self.tokens))]
        self._layout()
        self.update()

    def picks(self) -> list[int]:
        return [i for i, on in enumerate(self._on) if on]

    def set_picks(self, picks) -> None:
        self._on = [i in picks for i in range(len(self.tokens))]
        self.update()
        self.changed.emit(self.picks())

    def toggle(self, i: int) -> None:
        if 0 <= i < len(self._on):
            self._on[i] = not self._on[i]
            self.update()
            self.changed.emit(self.picks())

    def _layout(self):
        fm = QFontMetrics(self.font())
        x, h = 0.0, fm.height() + 6
        y = max(0.0, (self.height() - h) / 2)
        self._rects = []
        for w in self.tokens:
            wd = fm.horizontalAdvance(w) + 16
            self._rects.append(QRectF(x + 0.5, y + 0.5, wd, h))
            x += wd + 5

    def resizeEvent(self, ev):
        super().resizeEvent(ev)
        self._layout()

    def sizeHint(self):
        return QSize(320, 26)

    def mousePressEvent(self, ev):
        for i, r in enumerate(self._rects):
            if r.contains(ev.position()):
                self.toggle(i)
                return
        super().mousePressEvent(ev)

    def paintEvent(self, ev):
        p = QPainter(self)
        p.setRenderHint(QPainter.Antialiasing)
        text_col = self.palette().color(self.foregroundRole())
        if not self.tokens:
            p.setPen(self.palette().color(QPalette.PlaceholderText))
            p.drawText(self.rect(), Qt.AlignVCenter | Qt.AlignLeft, "run an edit to pick words")
            return
        for i, (w, r) in enumerate(zip(self.tokens, self._rects)):
            col = QColor(PALETTE[i % len(PALETTE)])
            p.setPen(QPen(col, 1.2))
            p.setBrush(col if self._on[i] else Qt.NoBrush)
            p.drawRoundedRect(r, r.height() / 2, r.height() / 2)
            p.setPen(QColor("#111") if self._on[i] else text_col)
            p.drawText(r, Qt.AlignCenter, w)
        p.end()


class TrajectoryView(TimePlot):
    def __init__(self, parent=None):
        super().__init__(parent, ruler="bottom")
        self.curves: dict[int, pg.PlotDataItem] = {}
        self.tokens: tuple[str, ...] = ()
        self.picks: list[int] = []
        self.map = None
        self.offset = 0.0
        ax = self.plotItem.getAxis("left")
        ax.setLabel("attention")
        ax.enableAutoSIPrefix(False)
        self.vb.setLimits(yMin=0.0)
        self.set_message("Token trajectories: pick words below")

    def set_tokens(self, tokens, picks=None) -> None:
        self.tokens = tuple(tokens)
        self.picks = list(picks if picks is not None else default_picks(self.tokens))
        self._redraw()

    def set_picks(self, picks) -> None:
        self.picks = list(picks)
        self._redraw()

    def set_map(self, att: np.ndarray | None, offset_s: float = 0.0) -> None:
        self.map, self.offset = att, offset_s
        self._redraw()

    def _redraw(self):
        if self.map is None:
            for c in self.curves.values():
                c.hide()
            return
        self.set_message(None)
        t = self.offset + np.arange(self.map.shape[1]) / FPS
        top, bottom = 0.0, np.inf
        for i, c in self.curves.items():
            c.setVisible(i in self.picks)
        for i in self.picks:
            if i >= self.map.shape[0]:
                continue
            y = smooth(self.map[i])
            top, bottom = max(top, float(y.max())), min(bottom, float(y.min()))
            if i not in self.curves:  # curves are kept and reused (creating them is slow)
                self.curves[i] = self.plot(pen=pg.mkPen(PALETTE[i % len(PALETTE)], width=1.6))
            self.curves[i].setData(t, y)
            self.curves[i].show()
        if not np.isfinite(bottom):
            return
        pad = max((top - bottom) * 0.08, 1e-4)
        self.vb.setYRange(max(0.0, bottom - pad), top + pad, padding=0)

    def shown_curves(self) -> list[int]:
        return [i for i, c in self.curves.items() if c.isVisible()]

    def clear_map(self) -> None:
        self.set_map(None)
        self.set_message("Token trajectories: pick words below")


def step_text(step: int, total: int, t: float | None = None) -> str:
    s = f"step {step}/{total}"
    return s + (f" · t={t:.3f}" if t is not None else "")

