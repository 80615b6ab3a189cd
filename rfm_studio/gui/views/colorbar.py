"""A vertical colour bar with its values, drawn in a view's right margin."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter
from PySide6.QtWidgets import QWidget

WIDTH = 54  # every time view keeps this right margin, so that their time axes line up


def fmt_value(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 0.995 and abs(v - round(v)) < 1e-9:
        return f"{v:.0f}"
    return f"{v:.2g}" if abs(v) < 0.01 else f"{v:.2f}"


class ColorBar(QWidget):
    """The colour map from ``lo`` (bottom) to ``hi`` (top) with three labelled values."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.lo, self.hi = 0.0, 1.0
        self.lut = np.linspace(0, 255, 256)[:, None].repeat(3, 1).astype(np.uint8)
        self.text = QColor("#999999")
        self.setAttribute(Qt.WA_TransparentForMouseEvents, False)

    def set_colormap(self, cmap) -> None:
        self.lut = np.ascontiguousarray(cmap.getLookupTable(nPts=256, alpha=False), dtype=np.uint8)
        self.update()

    def set_text_color(self, color: str) -> None:
        self.text = QColor(color)
        self.update()

    def set_range(self, lo: float, hi: float, tip: str = "") -> None:
        self.lo, self.hi = float(lo), float(hi)
        self.setToolTip(tip)
        self.update()

    def labels(self) -> list[str]:
        return [fmt_value(v) for v in (self.hi, (self.lo + self.hi) / 2, self.lo)]

    def paintEvent(self, ev):
        p = QPainter(self)
        h = self.height()
        bar = QRectF(2, 6, 10, max(1, h - 12))
        rgb = np.ascontiguousarray(self.lut[::-1][:, None, :].repeat(4, 1))  # top row = hi
        img = QImage(rgb.data, 4, rgb.shape[0], 4 * 3, QImage.Format_RGB888)
        p.drawImage(bar, img)
        p.setPen(self.text)
        p.drawRect(bar)
        f = QFont(self.font())
        f.setPointSizeF(7.5)
        p.setFont(f)
        fm = p.fontMetrics()
        for frac, text in zip((0.0, 0.5, 1.0), self.labels()):
            y = bar.top() + frac * bar.height()
            p.drawLine(int(bar.right()), int(y), int(bar.right()) + 3, int(y))
            ty = min(max(y + fm.ascent() / 2 - 1, fm.ascent()), h - 2)
            p.drawText(int(bar.right()) + 5, int(ty), text)
        p.end()
