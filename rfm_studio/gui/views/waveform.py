"""Waveform view: A (original) and B (edited) overlaid, the one being heard drawn on top.

Drawn the way audio editors do: one vertical min-max segment per pixel column of the
visible range (from a min/max pyramid for long clips), and the raw line when zoomed in
to a few samples per pixel. Repainting costs well under a millisecond at any length.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtGui import QColor

from .base import TimePlot

BLOCK = 256  # samples per pyramid cell


def _mono(x: np.ndarray) -> np.ndarray:
    if x.ndim == 1:
        return np.ascontiguousarray(x, dtype=np.float32)
    out = x[:, 0].astype(np.float32)
    for c in range(1, x.shape[1]):
        out += x[:, c]
    out *= np.float32(1.0 / x.shape[1])
    return out


class Trace:
    """A clip's mono mix with a min/max pyramid (cells of BLOCK samples)."""

    def __init__(self, audio: np.ndarray, sr: int):
        self.y = _mono(audio)
        self.sr = int(sr)
        n = len(self.y)
        m = -(-n // BLOCK) * BLOCK
        pad = np.pad(self.y, (0, m - n), mode="edge") if m > n else self.y
        r = pad.reshape(-1, BLOCK)
        self.lo, self.hi = r.min(axis=1), r.max(axis=1)
        self.peak = float(max(self.hi.max(initial=0.0), -self.lo.min(initial=0.0))) if n else 0.0

    def segments(self, t0: float, t1: float, cols: int, eps: float):
        """(x, y, connect) for the visible span [t0, t1] drawn in ``cols`` pixel columns."""
        n = len(self.y)
        i0 = max(0, int(math.floor(t0 * self.sr)))
        i1 = min(n, int(math.ceil(t1 * self.sr)) + 1)
        if i1 - i0 < 2:
            return np.zeros(0), np.zeros(0), "all"
        cols = max(16, int(cols))
        spp = (i1 - i0) / cols
        if spp <= 3:
            x = np.arange(i0, i1) / self.sr
            return x, self.y[i0:i1], "all"
        if spp >= 2 * BLOCK:
            lo, hi, first, unit = self.lo, self.hi, i0 // BLOCK, BLOCK
            last = -(-i1 // BLOCK)
            lo, hi = lo[first:last], hi[first:last]
        else:
            seg = self.y[i0:i1]
            lo, hi, first, unit = seg, seg, i0, 1
        k = max(1, -(-len(lo) // cols))  # cells per column: at most ``cols`` columns
        m = -(-len(lo) // k) * k
        if m > len(lo):
            lo, hi = np.pad(lo, (0, m - len(lo)), mode="edge"), np.pad(hi, (0, m - len(hi)), mode="edge")
        lo = lo.reshape(-1, k).min(axis=1)
        hi = hi.reshape(-1, k).max(axis=1)
        hi = np.maximum(hi, lo + eps)  # silent columns still show a pixel
        xs = (first + np.arange(len(lo)) * k) * unit  # sample index of each column's start
        x = np.repeat(xs / self.sr, 2)
        y = np.empty(2 * len(lo), dtype=np.float32)
        y[0::2], y[1::2] = lo, hi
        return x, y, "pairs"


class WaveformView(TimePlot):
    def __init__(self, parent=None):
        super().__init__(parent, ruler="top")
        self.curve_a = pg.PlotCurveItem(name="A", skipFiniteCheck=True)
        self.curve_b = pg.PlotCurveItem(name="B", skipFiniteCheck=True)
        for c in (self.curve_a, self.curve_b):
            self.addItem(c)
        self.vb.setYRange(-1.0, 1.0, padding=0.02)
        self.vb.setLimits(yMin=-1.05, yMax=1.05)
        left = self.plotItem.getAxis("left")
        left.setTicks([[(-1.0, "-1"), (-0.5, ""), (0.0, "0"), (0.5, ""), (1.0, "1")]])
        self.legend = pg.LegendItem(offset=(8, 4), labelTextSize="8pt", colCount=2, verSpacing=-4)
        self.legend.setParentItem(self.plotItem.vb)
        self.colors = None
        self.active = 0
        self.labels = ("A", "B")
        self._legend_key = None
        self.traces: list[Trace | None] = [None, None]
        self._cache: dict[int, tuple[np.ndarray, Trace]] = {}
        self.vb.sigXRangeChanged.connect(lambda *_: self._redraw())
        self.vb.sigResized.connect(lambda *_: self._redraw())

    def style(self, colors) -> None:
        super().style(colors)
        self.colors = colors
        self._legend_key = None
        self._restyle()

    def _trace(self, x: np.ndarray, sr: int) -> Trace:
        hit = self._cache.get(id(x))
        if hit is not None and hit[0] is x:
            return hit[1]
        tr = Trace(x, sr)
        if len(self._cache) > 8:
            self._cache.clear()
        self._cache[id(x)] = (x, tr)
        return tr

    def set_audio(self, a: np.ndarray | None, b: np.ndarray | None, sr: int, labels=("A", "B")) -> None:
        """Draw A and (optionally) B; both are [samples] or [samples, channels] at ``sr``."""
        self.labels = tuple(labels)
        self.traces = [self._trace(a, sr) if a is not None else None,
                       self._trace(b, sr) if b is not None else None]
        self.curve_b.setVisible(b is not None)
        if a is None:
            self._redraw()
            return
        peak = max(t.peak for t in self.traces if t is not None)
        lim = min(1.05, max(0.05, peak * 1.08))
        self.vb.setYRange(-lim, lim, padding=0)
        self.set_duration(a.shape[0] / sr)
        self._redraw()
        self._restyle()

    def _redraw(self):
        (t0, t1), (y0, y1) = self.vb.viewRange()
        cols = max(16, int(self.vb.width()))
        eps = (y1 - y0) / max(50.0, self.vb.height())
        for curve, tr in ((self.curve_a, self.traces[0]), (self.curve_b, self.traces[1])):
            if tr is None:
                curve.setData([], [])
                continue
            x, y, connect = tr.segments(t0, t1, cols, eps)
            curve.setData(x, y, connect=connect)

    def set_active(self, which: int) -> None:
        if which != self.active:
            self.active = which
            self._restyle()

    def _restyle(self):
        c = self.colors
        if c is None:
            return
        has_b = self.traces[1] is not None
        ca, cb = QColor(c.wave_a), QColor(c.wave_b)
        if has_b:
            (ca if self.active == 1 else cb).setAlpha(110)
        self.curve_a.setPen(pg.mkPen(ca, width=1))
        self.curve_b.setPen(pg.mkPen(cb, width=1))
        self.curve_a.setZValue(2 if self.active == 0 else 1)
        self.curve_b.setZValue(2 if self.active == 1 else 1)
        key = (self.active, has_b, self.labels, c)
        if key == self._legend_key:
            return
        self._legend_key = key
        self.legend.clear()
        self.legend.setLabelTextColor(c.text)
        bg = QColor(c.plot_bg)
        bg.setAlpha(210)
        self.legend.setBrush(pg.mkBrush(bg))
        self.legend.setPen(pg.mkPen(c.grid))
        self.legend.addItem(self.curve_a, ("▶ " if self.active == 0 else "") + self.labels[0])
        if has_b:
            self.legend.addItem(self.curve_b, ("▶ " if self.active == 1 else "") + self.labels[1])
