"""Small vector icons drawn in the theme's text colour (the style's stock icons are dark-only)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPainterPath, QPen, QPixmap

SIZE = 32


def _icon(draw, color: str) -> QIcon:
    pm = QPixmap(SIZE, SIZE)
    pm.fill(Qt.transparent)
    p = QPainter(pm)
    p.setRenderHint(QPainter.Antialiasing)
    pen = QPen(QColor(color), 2.6, Qt.SolidLine, Qt.RoundCap, Qt.RoundJoin)
    p.setPen(pen)
    draw(p, QColor(color))
    p.end()
    return QIcon(pm)


def _play(p, c):
    path = QPainterPath(QPointF(10, 7))
    path.lineTo(25, 16)
    path.lineTo(10, 25)
    path.closeSubpath()
    p.fillPath(path, c)


def _pause(p, c):
    p.fillRect(QRectF(9, 7, 5, 18), c)
    p.fillRect(QRectF(18, 7, 5, 18), c)


def _arrow(p, c, mirror: bool):
    if mirror:
        p.translate(SIZE, 0)
        p.scale(-1, 1)
    path = QPainterPath(QPointF(25, 24))
    path.cubicTo(QPointF(25, 12), QPointF(18, 10), QPointF(9, 12))
    p.drawPath(path)
    head = QPainterPath(QPointF(13, 6))
    head.lineTo(7, 12)
    head.lineTo(13, 18)
    p.drawPath(head)


def _loop(p, c):
    p.drawArc(QRectF(7, 8, 18, 16), 30 * 16, 280 * 16)
    head = QPainterPath(QPointF(20, 5))
    head.lineTo(25, 9.5)
    head.lineTo(19.5, 13)
    p.drawPath(head)


def _open(p, c):
    path = QPainterPath(QPointF(5, 9))
    path.lineTo(12, 9)
    path.lineTo(14, 12)
    path.lineTo(26, 12)
    path.lineTo(26, 24)
    path.lineTo(5, 24)
    path.closeSubpath()
    p.drawPath(path)


def _save(p, c):
    p.drawLine(QPointF(16, 6), QPointF(16, 19))
    head = QPainterPath(QPointF(10, 13))
    head.lineTo(16, 19)
    head.lineTo(22, 13)
    p.drawPath(head)
    p.drawLine(QPointF(7, 25), QPointF(25, 25))


def _fit(p, c):
    for x0, dx in ((6, 5), (26, -5)):
        p.drawLine(QPointF(x0, 10), QPointF(x0, 22))
        p.drawLine(QPointF(x0 + dx * 0.4, 16), QPointF(x0 + dx * 2, 16))


DRAW = {"play": _play, "pause": _pause, "undo": lambda p, c: _arrow(p, c, False),
        "redo": lambda p, c: _arrow(p, c, True), "loop": _loop, "open": _open, "export": _save, "fit": _fit}


def icon(name: str, color: str) -> QIcon:
    return _icon(DRAW[name], color)
