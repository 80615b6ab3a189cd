"""The main window's actions, menus and toolbar, and which actions are enabled (a controller
MainWindow composes; ``ActionsWindow`` lists everything it uses of the window)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional, Protocol

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence

from . import icons
from .help_menu import build_help_menu

if TYPE_CHECKING:
    from PySide6.QtWidgets import QDockWidget

    from .attention_panel import AttentionPanel
    from .finetune.tab import FinetuneTab
    from .history import History
    from .playback import Player
    from .settings import Settings
    from .tasks import ModelInfo
    from .theme import Colors
    from .window_document import DocumentController
    from .window_edit import EditController
    from .window_export import Exporter
    from .window_find import FindController
    from .window_model import ModelController
    from .window_playback import PlaybackController
    from .window_views import CompareView


class ActionsWindow(Protocol):
    """The window the actions live on (a QMainWindow) and what they trigger or read."""
    settings: Settings
    history: History
    player: Player
    attn: AttentionPanel
    finetune: FinetuneTab
    colors: Colors
    edit_dock: QDockWidget
    history_dock: QDockWidget
    exporter: Exporter
    document: DocumentController
    compare_view: CompareView
    models: ModelController
    editing: EditController
    finding: FindController
    playback: PlaybackController
    model_info: Optional[ModelInfo]
    compare: tuple
    region: Optional[tuple[float, float]]

    def addAction(self, action) -> None: ...
    def menuBar(self): ...
    def addToolBar(self, title: str): ...
    def close(self) -> bool: ...
    def open_file(self, path, remember: bool = True) -> bool: ...
    def example_files(self) -> list: ...
    def open_settings(self) -> None: ...
    def undo(self) -> None: ...
    def redo(self) -> None: ...
    def set_region(self, region, final: bool = True) -> None: ...


class WindowActions:
    """Every QAction of the window (``a_*``), the File menu's lists, the toolbar, the Help menu."""

    def __init__(self, win: ActionsWindow):
        self.win = win
        self._build_actions()
        self._build_menus()
        self._build_toolbar()

    def act(self, text, slot, shortcut=None, tip=None, checkable=False, context=None) -> QAction:
        """A window-wide action (its shortcut works anywhere in the window)."""
        a = QAction(text, self.win)
        if isinstance(shortcut, QKeySequence.StandardKey):
            a.setShortcuts(shortcut)  # every binding of the platform (redo: Ctrl+Y and Ctrl+Shift+Z)
        elif shortcut:
            a.setShortcut(QKeySequence(shortcut))
        if context is not None:
            a.setShortcutContext(context)
        if tip:
            a.setToolTip(tip)
            a.setStatusTip(tip)
        a.setCheckable(checkable)
        (a.toggled if checkable else a.triggered).connect(slot)
        self.win.addAction(a)
        return a

    def _build_actions(self):
        A, w = self.act, self.win
        ex, pb, models = w.exporter, w.playback, w.models
        self.a_open = A("&Open…", lambda: w.document.open_dialog(), QKeySequence.Open, "Open an audio file")
        self.a_batch = A("&Batch Edit…", self.open_batch, "Ctrl+Shift+B", "One instruction over many files")
        self.a_export = A("&Export Result…", lambda: ex.export_result(), "Ctrl+E", "Export version B as WAV or FLAC")
        self.a_export_diff = A("Export &Difference (B − A)…", lambda: ex.export_difference(), "Ctrl+Shift+E",
                               "Export what the edit removed or added")
        self.a_export_removed = A("Export &Removed Sound (A − B)…", lambda: ex.export_removed(), None,
                                  "Export what B took out of A (input minus output) to listen to it")
        self.a_export_png = A("Export Heatmap as PNG…", lambda: ex.export_heatmap_png())
        self.a_export_npz = A("Export Attention Maps (.npz)…", lambda: ex.export_attention_npz())
        self.a_settings = A("&Settings…", w.open_settings, QKeySequence.Preferences)
        self.a_quit = A("&Quit", w.close, QKeySequence.Quit)
        self.a_undo = A("&Undo", w.undo, QKeySequence.Undo, "Go back to the previous version")
        self.a_redo = A("&Redo", w.redo, QKeySequence.Redo, "Go forward again")
        self.a_run = A("&Run Edit", lambda: w.editing.run(), "Ctrl+Return", "Run the edit on the current version")
        self.a_cancel = A("&Cancel", self.cancel, "Esc", "Stop the running edit or Find")
        self.a_clear_region = A("Clear Selection", lambda: w.set_region(None), "Ctrl+Shift+A")
        self.a_play = A("Play", pb.toggle_play, "Space", "Play / pause (Space)",
                        context=Qt.WindowShortcut)
        self.a_ab = A("Switch A/B", pb.toggle_ab, "B", "Switch between A and B at the same position (B)")
        self.ab_group = QActionGroup(w)
        self.a_a = A("A", lambda on: on and pb.select_ab(0), None, "Hear A (original)", checkable=True)
        self.a_b = A("B", lambda on: on and pb.select_ab(1), None, "Hear B (edited)", checkable=True)
        self.a_r = A("R", lambda on: on and pb.select_ab(2), None, "Hear R: what B removed from A (A − B)",
                     checkable=True)
        for a in (self.a_a, self.a_b, self.a_r):
            self.ab_group.addAction(a)
        self.a_a.blockSignals(True)  # A is what a new window shows anyway
        self.a_a.setChecked(True)
        self.a_a.blockSignals(False)
        self.a_loop = A("Loop Selection", pb.set_loop, "L", "Loop the selected region", checkable=True)
        self.a_match = A("Match Loudness", pb.set_match_loudness, None, "Play B at the loudness of A",
                         checkable=True)
        self.a_match.setChecked(w.settings.loudness_match)
        self.a_zoom_fit = A("Zoom to Fit", lambda: w.compare_view.zoom_fit(), "Ctrl+0")
        self.a_zoom_sel = A("Zoom to Selection", lambda: w.compare_view.zoom_selection(), "Ctrl+Shift+0")
        self.a_zoom_in = A("Zoom In", lambda: w.compare_view.zoom(0.5), QKeySequence.ZoomIn)
        self.a_zoom_out = A("Zoom Out", lambda: w.compare_view.zoom(2.0), QKeySequence.ZoomOut)
        self.a_choose_model = A("Choose Model Folder…", lambda: models.choose_folder())
        self.a_reload_model = A("Reload Model", lambda: models.load(models.model_folder(), w.settings.adapter))

    def _build_menus(self):
        mb = self.win.menuBar()
        m = mb.addMenu("&File")
        m.addAction(self.a_open)
        self.recent_menu = m.addMenu("Open &Recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        self.examples_menu = m.addMenu("Open E&xample")
        self.examples_menu.aboutToShow.connect(self._fill_examples)
        m.addAction(self.a_batch)
        m.addSeparator()
        for a in (self.a_export, self.a_export_diff, self.a_export_removed, self.a_export_png, self.a_export_npz):
            m.addAction(a)
        m.addSeparator()
        m.addAction(self.a_settings)
        m.addSeparator()
        m.addAction(self.a_quit)
        m = mb.addMenu("&Edit")
        for a in (self.a_undo, self.a_redo, None, self.a_run, self.a_cancel, self.win.finding.action, None,
                  self.a_clear_region):
            m.addSeparator() if a is None else m.addAction(a)
        m = mb.addMenu("&View")
        for a in (self.a_zoom_in, self.a_zoom_out, self.a_zoom_fit, self.a_zoom_sel, None):
            m.addSeparator() if a is None else m.addAction(a)
        m.addAction(self.win.edit_dock.toggleViewAction())
        m.addAction(self.win.history_dock.toggleViewAction())
        m = mb.addMenu("&Playback")
        for a in (self.a_play, self.a_ab, self.a_a, self.a_b, self.a_r, None, self.a_loop, self.a_match):
            m.addSeparator() if a is None else m.addAction(a)
        m = mb.addMenu("&Model")
        for a in (self.a_choose_model, self.a_reload_model, self.a_settings):
            m.addAction(a)
        self.help_actions = build_help_menu(self.win, mb.addMenu("&Help"), self.act)

    def _build_toolbar(self):
        tb = self.win.addToolBar("Main")
        tb.setObjectName("main_toolbar")
        tb.setMovable(False)
        tb.setIconSize(QSize(18, 18))
        tb.setToolButtonStyle(Qt.ToolButtonTextBesideIcon)
        for a in (self.a_open, self.a_export, None, self.a_undo, self.a_redo, None, self.a_play, self.a_a,
                  self.a_b, self.a_r, self.a_loop, self.a_match, None, self.a_zoom_fit, self.a_zoom_sel):
            tb.addSeparator() if a is None else tb.addAction(a)
        self.toolbar = tb
        for a in (self.a_a, self.a_b, self.a_r):
            w = tb.widgetForAction(a)
            if w is not None:
                w.setMinimumWidth(30)
                w.setStyleSheet("font-weight: 700;")

    def cancel(self) -> None:
        """Stop the running edit, or a running Find."""
        w = self.win
        if w.editing.busy:
            w.editing.cancel()
        elif w.finding.busy:
            w.finding.cancel("Find cancelled.")

    def open_batch(self):
        from .batch_window import open_batch_window

        return open_batch_window(self.win)

    def set_icons(self) -> None:
        c = self.win.colors.text
        for action, name in ((self.a_open, "open"), (self.a_export, "export"), (self.a_undo, "undo"),
                             (self.a_redo, "redo"), (self.a_loop, "loop"), (self.a_zoom_fit, "fit")):
            action.setIcon(icons.icon(name, c))
        self.win.playback.update_play_action()

    def _fill_recent(self):
        m = self.recent_menu
        m.clear()
        files = [f for f in self.win.settings.recent_files if Path(f).exists()]
        for f in files:
            m.addAction(Path(f).name, lambda p=f: self.win.open_file(p)).setToolTip(f)
        if not files:
            m.addAction("(none)").setEnabled(False)

    def _fill_examples(self):
        m = self.examples_menu
        m.clear()
        ex = self.win.example_files()
        for f in ex:
            m.addAction(f.name, lambda p=f: self.win.open_file(p, remember=False))
        if not ex:
            m.addAction("(no examples installed)").setEnabled(False)

    def update(self) -> None:
        """Enable what the window's state allows."""
        w = self.win
        has_doc = w.history.source is not None
        has_b = w.compare[1] is not None
        self.a_undo.setEnabled(w.history.can_undo())
        self.a_redo.setEnabled(w.history.can_redo())
        self.a_run.setEnabled(has_doc and w.model_info is not None and not w.finetune.busy)
        w.finetune.set_model_ready(w.model_info is not None, w.model_info.name if w.model_info else "")
        self.a_cancel.setEnabled(w.editing.busy or w.finding.busy)
        w.finding.update()
        self.a_export.setEnabled(has_doc)
        self.a_export_diff.setEnabled(has_b)
        self.a_export_removed.setEnabled(has_b)
        self.a_r.setEnabled(has_b)
        self.a_export_png.setEnabled(w.attn.has_maps())
        self.a_export_npz.setEnabled(w.attn.has_maps())
        self.a_b.setEnabled(has_b)
        self.a_ab.setEnabled(has_b)
        self.a_play.setEnabled(has_doc and w.player.available)
        self.a_loop.setEnabled(has_doc)
        self.a_zoom_sel.setEnabled(w.region is not None)
