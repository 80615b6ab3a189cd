"""The shared time axis: a seconds ruler, a playhead, region selection, linked zoom/pan.

Mouse: drag selects a region; Shift-drag marks an example of the sound to edit; click moves
the playhead; wheel zooms in time; right- or middle-drag pans; double-click clears the selection.
"""

from __future__ import annotations

import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont

LEFT_AXIS_WIDTH = 78  # every view uses the same width so their time axes line up
RIGHT_MARGIN = 54  # the same for all: the attention view draws its colour bar there


def fmt_time(t: float, spacing: float) -> str:
    sign = "-" if t < 0 else ""
    t = abs(t)
    m, s = divmod(t, 60.0)
    dec = 0 if spacing >= 1 else (1 if spacing >= 0.1 else (2 if spacing >= 0.01 else 3))
    sec = f"{s:0{3 + dec if dec else 2}.{dec}f}" if m >= 1 else f"{s:.{dec}f}"
    return f"{sign}{int(m)}:{sec}" if m >= 1 else f"{sign}{sec}"


class TimeAxis(pg.AxisItem):
    def tickStrings(self, values, scale, spacing):
        return [fmt_time(v, spacing) for v in values]


class SelectViewBox(pg.ViewBox):
    dragged = Signal(float, float, bool)  # start, end (seconds), finished
    example_dragged = Signal(float, float, bool)  # the same with Shift held: an example mark
    clicked = Signal(float)
    cleared = Signal()

    def __init__(self, **kw):
        super().__init__(**kw)
        self.setMouseEnabled(x=True, y=False)
        self.setMenuEnabled(False)

    def mouseDragEvent(self, ev, axis=None):
        if ev.button() == Qt.LeftButton:
            ev.accept()
            a = self.mapSceneToView(ev.buttonDownScenePos()).x()
            b = self.mapSceneToView(ev.scenePos()).x()
            shift = bool(ev.modifiers() & Qt.ShiftModifier)
            (self.example_dragged if shift else self.dragged).emit(min(a, b), max(a, b), ev.isFinish())
        elif ev.button() in (Qt.RightButton, Qt.MiddleButton):
            ev.accept()
            last = self.mapSceneToView(ev.lastScenePos()).x()
            now = self.mapSceneToView(ev.scenePos()).x()
            self.translateBy(x=last - now)
        else:
            ev.ignore()

    def mouseClickEvent(self, ev):
        if ev.button() == Qt.LeftButton:
            ev.accept()
            if ev.double():
                self.cleared.emit()
            else:
                self.clicked.emit(self.mapSceneToView(ev.scenePos()).x())
        else:
            ev.ignore()

    def wheelEvent(self, ev, axis=None):
        # zoom in time only, around the mouse
        super().wheelEvent(ev, axis=0)


class TimePlot(pg.PlotWidget):
    """A plot whose x axis is time in seconds, with playhead and selection overlays."""

    region_edited = Signal(float, float)  # the user moved the selection's edges

    def __init__(self, parent=None, ruler: str = "bottom"):
        self.vb = SelectViewBox()
        axes = {"bottom": TimeAxis("bottom"), "top": TimeAxis("top")}
        super().__init__(parent, viewBox=self.vb, axisItems=axes)
        self.plotItem.hideButtons()
        for side in ("top", "bottom"):
            self.plotItem.showAxis(side, side == ruler)
        self.plotItem.getAxis("left").setWidth(LEFT_AXIS_WIDTH)
        self.plotItem.layout.setContentsMargins(0, 2, RIGHT_MARGIN, 2)  # room for the heatmap's colour bar
        self.setMinimumHeight(60)
        self.playhead = pg.InfiniteLine(0.0, angle=90, movable=False, pen=pg.mkPen("#ff5c5c", width=1.5))
        self.playhead.setZValue(30)
        self.region = pg.LinearRegionItem((0, 0), movable=True, swapMode="sort")
        self.region.setZValue(20)
        self.region.hide()
        self.region.sigRegionChangeFinished.connect(self._region_moved)
        self._setting_region = False
        self.addItem(self.region, ignoreBounds=True)
        self.addItem(self.playhead, ignoreBounds=True)
        self.duration = 0.0
        self.ruler = ruler

    def style(self, colors) -> None:
        self.setBackground(colors.plot_bg)
        for side in ("left", "bottom", "top"):
            ax = self.plotItem.getAxis(side)
            ax.setPen(pg.mkPen(colors.grid))
            ax.setTextPen(pg.mkPen(colors.muted))
            f = QFont()
            f.setPointSizeF(8.5)
            ax.setStyle(tickFont=f, tickTextOffset=4)
        self.playhead.setPen(pg.mkPen(colors.playhead, width=1.5))
        c = QColor(colors.region)
        c.setAlpha(colors.region_alpha)
        self.region.setBrush(pg.mkBrush(c))
        hover = QColor(c)
        hover.setAlpha(min(255, colors.region_alpha + 30))
        self.region.setHoverBrush(pg.mkBrush(hover))
        edge = QColor(colors.accent)
        for line in self.region.lines:
            line.setPen(pg.mkPen(edge, width=1))
            line.setHoverPen(pg.mkPen(edge, width=2))

    def set_duration(self, seconds: float) -> None:
        self.duration = max(1e-3, float(seconds))
        self.vb.setLimits(xMin=0.0, xMax=self.duration, minXRange=min(0.01, self.duration))

    def set_playhead(self, seconds: float) -> None:
        self.playhead.setValue(seconds)

    def set_region(self, region) -> None:
        self._setting_region = True
        try:
            if region is None:
                self.region.hide()
            else:
                self.region.setRegion(region)
                self.region.show()
        finally:
            self._setting_region = False

    def _region_moved(self):
        if not self._setting_region and self.region.isVisible():
            a, b = self.region.getRegion()
            self.region_edited.emit(float(a), float(b))

    def set_message(self, text: str | None) -> None:
        """A centred placeholder text over the plot (e.g. 'Run an edit to see attention')."""
        if not hasattr(self, "_msg"):
            from PySide6.QtWidgets import QLabel

            self._msg = QLabel(self)
            self._msg.setAlignment(Qt.AlignCenter)
            self._msg.setObjectName("hint")
            self._msg.setAttribute(Qt.WA_TransparentForMouseEvents)
        self._msg.setText(text or "")
        self._msg.setVisible(bool(text))
        self._msg.setGeometry(self.rect())

    def resizeEvent(self, ev):
        super().resizeEvent(ev)
        if hasattr(self, "_msg"):
            self._msg.setGeometry(self.rect())
