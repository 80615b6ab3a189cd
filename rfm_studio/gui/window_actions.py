"""The main window's actions, menus, toolbar and status bar (a mixin of MainWindow)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QLabel

from . import icons
from .help_menu import build_help_menu


class ActionsMixin:
    def _act(self, text, slot, shortcut=None, tip=None, checkable=False, context=None):
        a = QAction(text, self)
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
        self.addAction(a)
        return a

    def _build_actions(self):
        A = self._act
        self.a_open = A("&Open…", lambda: self.open_dialog(), QKeySequence.Open, "Open an audio file")
        self.a_batch = A("&Batch Edit…", self.open_batch, "Ctrl+Shift+B", "One instruction over many files")
        self.a_export = A("&Export Result…", lambda: self.export_result(), "Ctrl+E", "Export version B as WAV or FLAC")
        self.a_export_diff = A("Export &Difference (B − A)…", lambda: self.export_difference(), "Ctrl+Shift+E",
                               "Export what the edit removed or added")
        self.a_export_removed = A("Export &Removed Sound (A − B)…", lambda: self.export_removed(), None,
                                  "Export what B took out of A (input minus output) to listen to it")
        self.a_export_png = A("Export Heatmap as PNG…", lambda: self.export_heatmap_png())
        self.a_export_npz = A("Export Attention Maps (.npz)…", lambda: self.export_attention_npz())
        self.a_settings = A("&Settings…", self.open_settings, QKeySequence.Preferences)
        self.a_quit = A("&Quit", self.close, QKeySequence.Quit)
        self.a_undo = A("&Undo", self.undo, QKeySequence.Undo, "Go back to the previous version")
        self.a_redo = A("&Redo", self.redo, QKeySequence.Redo, "Go forward again")
        self.a_run = A("&Run Edit", self.run_edit, "Ctrl+Return", "Run the edit on the current version")
        self.a_cancel = A("&Cancel Edit", self.cancel_edit, "Esc", "Stop the running edit")
        self.a_clear_region = A("Clear Selection", lambda: self.set_region(None), "Ctrl+Shift+A")
        self.a_play = A("Play", self.toggle_play, "Space", "Play / pause (Space)",
                        context=Qt.WindowShortcut)
        self.a_ab = A("Switch A/B", self.toggle_ab, "B", "Switch between A and B at the same position (B)")
        self.ab_group = QActionGroup(self)
        self.a_a = A("A", lambda on: on and self.select_ab(0), None, "Hear A (original)", checkable=True)
        self.a_b = A("B", lambda on: on and self.select_ab(1), None, "Hear B (edited)", checkable=True)
        self.a_r = A("R", lambda on: on and self.select_ab(2), None, "Hear R: what B removed from A (A − B)",
                     checkable=True)
        for a in (self.a_a, self.a_b, self.a_r):
            self.ab_group.addAction(a)
        self.a_a.setChecked(True)
        self.a_loop = A("Loop Selection", self.set_loop, "L", "Loop the selected region", checkable=True)
        self.a_match = A("Match Loudness", self.set_match_loudness, None, "Play B at the loudness of A",
                         checkable=True)
        self.a_match.setChecked(self.settings.loudness_match)
        self.a_zoom_fit = A("Zoom to Fit", self.zoom_fit, "Ctrl+0")
        self.a_zoom_sel = A("Zoom to Selection", self.zoom_selection, "Ctrl+Shift+0")
        self.a_zoom_in = A("Zoom In", lambda: self.zoom(0.5), QKeySequence.ZoomIn)
        self.a_zoom_out = A("Zoom Out", lambda: self.zoom(2.0), QKeySequence.ZoomOut)
        self.a_choose_model = A("Choose Model Folder…", self.choose_model_folder)
        self.a_reload_model = A("Reload Model", lambda: self.load_model(self._model_folder(), self.settings.adapter))

    def _build_menus(self):
        mb = self.menuBar()
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
        for a in (self.a_undo, self.a_redo, None, self.a_run, self.a_cancel, None, self.a_clear_region):
            m.addSeparator() if a is None else m.addAction(a)
        m = mb.addMenu("&View")
        for a in (self.a_zoom_in, self.a_zoom_out, self.a_zoom_fit, self.a_zoom_sel, None):
            m.addSeparator() if a is None else m.addAction(a)
        m.addAction(self.edit_dock.toggleViewAction())
        m.addAction(self.history_dock.toggleViewAction())
        m = mb.addMenu("&Playback")
        for a in (self.a_play, self.a_ab, self.a_a, self.a_b, self.a_r, None, self.a_loop, self.a_match):
            m.addSeparator() if a is None else m.addAction(a)
        m = mb.addMenu("&Model")
        for a in (self.a_choose_model, self.a_reload_model, self.a_settings):
            m.addAction(a)
        self.help_actions = build_help_menu(self, mb.addMenu("&Help"))

    def _build_toolbar(self):
        tb = self.addToolBar("Main")
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

    def _build_statusbar(self):
        sb = self.statusBar()
        self.playback_banner = QLabel("")  # stays while playback is off (not a passing message)
        self.playback_banner.setObjectName("warning")
        self.playback_banner.setStyleSheet("QLabel#warning { color: #e8a33d; font-weight: 600; padding: 0 8px; }")
        self.playback_banner.hide()
        sb.addPermanentWidget(self.playback_banner, 1)
        self.clip_label = QLabel("No clip")
        self.model_label = QLabel("Model: not loaded")
        self.audio_label = QLabel("Audio: –")
        for w in (self.clip_label, self.model_label, self.audio_label):
            w.setContentsMargins(8, 0, 8, 0)
            sb.addPermanentWidget(w)

    def open_batch(self):
        from .batch_window import open_batch_window

        return open_batch_window(self)

    def _update_play_action(self):
        playing = self.player.playing
        self.a_play.setText("Pause" if playing else "Play")
        self.a_play.setIcon(icons.icon("pause" if playing else "play", self.colors.text))

    def _set_icons(self):
        c = self.colors.text
        for action, name in ((self.a_open, "open"), (self.a_export, "export"), (self.a_undo, "undo"),
                             (self.a_redo, "redo"), (self.a_loop, "loop"), (self.a_zoom_fit, "fit")):
            action.setIcon(icons.icon(name, c))
        self._update_play_action()

    def _fill_recent(self):
        m = self.recent_menu
        m.clear()
        files = [f for f in self.settings.recent_files if Path(f).exists()]
        for f in files:
            m.addAction(Path(f).name, lambda p=f: self.open_file(p)).setToolTip(f)
        if not files:
            m.addAction("(none)").setEnabled(False)

    def _fill_examples(self):
        m = self.examples_menu
        m.clear()
        ex = self.example_files()
        for f in ex:
            m.addAction(f.name, lambda p=f: self.open_file(p, remember=False))
        if not ex:
            m.addAction("(no examples installed)").setEnabled(False)

    def _update_actions(self):
        if not hasattr(self, "a_undo"):
            return
        has_doc = self.history.source is not None
        has_b = self.compare[1] is not None
        self.a_undo.setEnabled(self.history.can_undo())
        self.a_redo.setEnabled(self.history.can_redo())
        self.a_run.setEnabled(has_doc and self.model_info is not None and not self.finetune.busy)
        self.finetune.set_model_ready(self.model_info is not None, self.model_info.name if self.model_info else "")
        self.a_cancel.setEnabled(self._edit_job is not None)
        self.a_export.setEnabled(has_doc)
        self.a_export_diff.setEnabled(has_b)
        self.a_export_removed.setEnabled(has_b)
        self.a_r.setEnabled(has_b)
        self.a_export_png.setEnabled(self.attn.has_maps())
        self.a_export_npz.setEnabled(self.attn.has_maps())
        self.a_b.setEnabled(has_b)
        self.a_ab.setEnabled(has_b)
        self.a_play.setEnabled(has_doc and self.player.available)
        self.a_loop.setEnabled(has_doc)
        self.a_zoom_sel.setEnabled(self.region is not None)
