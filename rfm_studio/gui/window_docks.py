"""The height split of the editor window's right dock area: the Edit dock gets the height its
panel needs (no scroll bar, no spare room) and the History / Library tab group under it the
rest, at start-up and whenever the window's height changes (left alone, the dock layout
shares a change out among all the docks: spare room under the panel, or a scroll bar on it)."""

from __future__ import annotations

from PySide6.QtCore import Qt


def edit_height(win) -> int:
    """The Edit dock's height that shows the whole panel and its Edit / Cancel footer."""
    dock = win.edit_dock
    chrome = dock.height() - dock.widget().height() if dock.isVisible() else 26  # title bar, margins
    return win.panel.sizeHint().height() + win.panel.footer.sizeHint().height() + max(chrome, 0) + 2


def lower_dock(win):
    """The History or Library dock (whichever tab shows) when it sits under the Edit dock."""
    e = win.edit_dock
    right = Qt.RightDockWidgetArea
    if e.isFloating() or win.dockWidgetArea(e) != right or win.tabifiedDockWidgets(e):
        return None
    for d in (win.history_dock, getattr(win, "library_dock", None)):
        if (d is not None and d.isVisible() and not d.isFloating() and win.dockWidgetArea(d) == right
                and d.geometry().top() >= e.geometry().bottom()):
            return d
    return None


def group_height(win, lower) -> int:
    """The History / Library tab group's height in the dock layout: the dock and its tab bar."""
    return win.centralWidget().geometry().bottom() - lower.geometry().top() + 1


def fit(win) -> None:
    """Start-up: the Edit dock the height it needs, the History / Library docks the rest."""
    lower = lower_dock(win) or win.history_dock
    need = edit_height(win)
    total = win.edit_dock.height() + group_height(win, lower)
    win.resizeDocks([win.edit_dock, lower], [need, max(160, total - need)], Qt.Vertical)


def refit(win) -> None:
    """After a resize: the same split, when the Edit dock sits over the History / Library docks."""
    lower = lower_dock(win)
    if lower is None:
        return
    need = edit_height(win)
    spare = win.edit_dock.height() - need
    if abs(spare) > 4:  # the sizes must add up to the area's height, else the layout shares out the difference
        win.resizeDocks([win.edit_dock, lower], [need, group_height(win, lower) + spare], Qt.Vertical)
