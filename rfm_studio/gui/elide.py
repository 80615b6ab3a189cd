"""One rule for a line too long for its room: ``elide`` gives the line as drawn (ending in '…'
where it is cut, ``QFontMetrics.elidedText``) and whether it was cut. The Edit panel's progress
bar (edit_widgets.ElidedBar) and the examples line (example_marks.HintLabel) draw, and choose
their tooltips, by it."""

from __future__ import annotations

from PySide6.QtCore import Qt


def elide(metrics, text: str, width: int) -> tuple[str, bool]:
    """``text`` as it fits in ``width`` pixels of the font ``metrics`` (QFontMetrics): whole where
    it fits, else cut at the right and ending in '…'; and whether it was cut."""
    shown = metrics.elidedText(text, Qt.ElideRight, width)
    return shown, shown != text
