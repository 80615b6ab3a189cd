"""The sound library in the editor window: a Library dock (panel.py) and dropping a sound
onto the waveform to add it there (drop.py). ``install(window)`` wires both; the panel's
work runs in the window's two runners (``window.io``, ``window.runner``), which the window
shuts down when it closes."""

from __future__ import annotations

from .drop import DropPlacer
from .panel import LibraryPanel


def install(window):
    """Add the Library dock to ``window`` (a MainWindow), tabbed with its History dock."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QDockWidget

    panel = LibraryPanel(window.io, window.runner)  # no thread of its own: the window's runners
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
    return panel
