"""Small widgets and formatting shared by the Fine-tuning tab's panels."""

from __future__ import annotations

import math

import pyqtgraph as pg
from PySide6.QtCore import QSize, Qt
from PySide6.QtWidgets import QLabel, QPushButton, QToolButton


def button(text, slot, tip="", primary=False) -> QPushButton:
    b = QPushButton(text)
    if tip:
        b.setToolTip(tip)
    if primary:
        b.setObjectName("primary")
    b.clicked.connect(lambda _c=False: slot())
    return b


def tool(text, slot, tip="") -> QToolButton:
    b = QToolButton()
    b.setText(text)
    b.setToolTip(tip)
    b.setToolButtonStyle(Qt.ToolButtonTextOnly)
    b.clicked.connect(lambda _c=False: slot())
    return b


def hint(text="") -> QLabel:
    label = QLabel(text)
    label.setObjectName("hint")
    label.setWordWrap(True)
    return label


def fmt_eta(s: float) -> str:
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


class LossPlot(pg.PlotWidget):
    def sizeHint(self):  # small, so that the scroll area grows it instead of scrolling
        return QSize(320, 200)
