"""The sound library in the editor window: a Library dock (panel.py) and dropping a sound
onto the waveform to add it there (drop.py). ``install(window)`` wires both."""

from __future__ import annotations

from .drop import DropPlacer
from .panel import LibraryPanel


class _CloseWatch:
    """Stops the panel's worker thread when the window closes."""

    def __new__(cls, window, panel):
        from PySide6.QtCore import QEvent, QObject

        class Watch(QObject):
            def eventFilter(self, obj, ev):
                if ev.type() == QEvent.Close:
                    panel.shutdown()
                return False

        w = Watch(window)
        window.installEventFilter(w)
        return w


def install(window):
    """Add the Library dock to ``window`` (a MainWindow), tabbed with its History dock."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QDockWidget

    panel = LibraryPanel()
    dock = QDockWidget("Library", window)
    dock.setObjectName("library_dock")
    dock.setWidget(panel)
    dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
    window.addDockWidget(Qt.RightDockWidgetArea, dock)
    window.tabifyDockWidget(window.history_dock, dock)
    window.history_dock.raise_()
    window.panel.instruction.textChanged.connect(panel.follow_instruction)
    panel.busy = lambda: window.editing.busy
    window.library_dock = dock
    window.library_drop = DropPlacer(window, panel)
    window.library_close_watch = _CloseWatch(window, panel)
    return panel
