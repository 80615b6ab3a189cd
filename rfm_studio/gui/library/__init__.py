"""The sound library in the editor window: a Library dock (panel.py) and dropping a sound
onto the waveform to add it there (drop.py). ``install(window)`` wires both."""

from __future__ import annotations

from .drop import DropPlacer
from .panel import LibraryPanel


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
    panel.busy = lambda: window._edit_job is not None
    window.library_dock = dock
    window.library_drop = DropPlacer(window, panel)
    pool = panel._pool
    window.destroyed.connect(lambda *_: pool.shutdown(wait=False, cancel_futures=True))
    return panel
