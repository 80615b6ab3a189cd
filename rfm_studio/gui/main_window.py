"""The main window: docks, views and the document (the clip, its versions, what is compared).
It composes one controller per concern, each declaring what it uses of the window:
``acts`` (window_actions: actions, menus, toolbar), ``models`` (window_model), ``editing``
(window_edit), ``finding`` (window_find), ``playback`` (window_playback), ``exporter`` (window_export), ``removed``
(window_report: R = A − B), ``autosave`` (session), ``finetune_link`` (window_finetune).
No model code and no heavy imports here."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QApplication, QDockWidget, QLabel, QMainWindow, QMessageBox, QScrollArea,
                               QSplitter, QTabWidget, QVBoxLayout, QWidget)

from ..core import paths
from ..core.audio.io import READ_EXTENSIONS
from . import theme, window_docks
from .attention_panel import AttentionPanel
from .edit_panel import EditPanel
from .example_marks import ExampleMarks
from .finetune.tab import FinetuneTab
from .history import History, HistoryPanel
from .jobs import JobRunner, io_runner, shutdown_runners
from .playback import Player
from .session import SessionController
from .settings import Settings, SettingsDialog
from .tasks import ModelHost, ModelInfo
from .views.spectrogram import SpectrogramView
from .views.waveform import WaveformView
from .window_actions import WindowActions
from .window_document import APP_NAME, DocumentController
from .window_edit import EditController
from .window_export import Exporter
from .window_finetune import FinetuneLink
from .window_find import FindController
from .window_model import ModelController
from .window_playback import PlaybackController
from .window_report import RemovedSound
from .window_views import CompareView

MIN_REGION_S = 0.05


class MainWindow(QMainWindow):
    def __init__(self, settings: Settings | None = None, player: Player | None = None):
        super().__init__()
        self.settings = settings or Settings()
        self.colors = theme.resolve(self.settings.theme)
        self.history = History()
        self.runner = JobRunner(self)  # the one worker: the model and every long job
        self.io = io_runner(self)  # short reads that must not wait behind a long job (jobs.py)
        self.host = ModelHost()
        self.player = player or Player()
        self.source_path: Optional[Path] = None
        self.region: Optional[tuple[float, float]] = None
        self.compare: tuple[Optional[int], Optional[int]] = (None, None)
        self.cursor = 0.0
        self.ab = 0  # which of A (0) / B (1) / R (2, A − B) is heard and shown
        self.doc_id = 0  # counts documents: a late result for an earlier one is dropped
        self.doc_name = "untitled"
        self.exported: set[int] = set()  # version ids written by Export Result
        self.errors: list[tuple[str, str]] = []  # every error shown (tests read it)
        self.confirm = self._confirm_dialog  # replaceable in tests
        self._dialogs = []
        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self._build_views()
        self._build_docks()
        from .library import install as install_library

        self.library = install_library(self)  # Library dock + drop a sound onto the waveform
        self.edit_split = window_docks.EditSplit(self)  # a resize refits the Edit dock unless the user moved it
        self.autosave = SessionController(self, parent=self)
        self.session = self.autosave.store
        self.ask_unsaved = self.autosave.ask_unsaved_dialog  # -> "save" | "discard" | "cancel" (tests replace it)
        self.ask_restore = self.autosave.ask_restore_dialog  # -> bool (tests replace it)
        self.document = DocumentController(self)
        self.compare_view = CompareView(self)
        self.models = ModelController(self)
        self.editing = EditController(self)
        self.finding = FindController(self)  # Find: the sound finder's spans as example marks
        self.removed = RemovedSound(self)
        self.exporter = Exporter(self)
        self.playback = PlaybackController(self, parent=self)
        self.acts = WindowActions(self)
        self.finetune_link = FinetuneLink(self)
        self._wire_panels()
        self._build_statusbar()
        self.apply_theme(self.colors)
        self.resize(1480, 940)
        scr = self.screen().availableGeometry() if self.screen() is not None else None
        if scr is not None and scr.width() >= 1024 and (scr.width() < 1480 or scr.height() < 940):
            self.resize(min(1480, scr.width()), min(940, scr.height() - 40))  # a laptop screen: fit it
        self._restored = self.settings.restore_window(self)
        self._start_path = None  # the file given to start() (open_start)
        if not self._restored:  # the docks' width, now that the window has its size
            self.resizeDocks([self.edit_dock], [430], Qt.Horizontal)
        self.update_actions()
        try:
            QApplication.instance().styleHints().colorSchemeChanged.connect(self._system_scheme_changed)
        except AttributeError:
            pass

    # -- what the controllers offer, under the window's names (the app, scripts, tests) --
    @property
    def model_info(self) -> Optional[ModelInfo]:
        return self.models.info

    def run_edit(self) -> Optional[int]:
        return self.editing.run()

    def cancel_edit(self, quiet: bool = False) -> None:
        self.editing.cancel(quiet)

    def export_result(self, path=None, fmt=None):
        return self.exporter.export_result(path, fmt)

    def export_heatmap_png(self, path=None):
        return self.exporter.export_heatmap_png(path)

    def export_attention_npz(self, path=None):
        return self.exporter.export_attention_npz(path)

    def update_actions(self) -> None:
        if hasattr(self, "acts"):
            self.acts.update()

    def open_file(self, path, remember: bool = True) -> bool:
        return self.document.open_file(path, remember)

    def set_document(self, audio: np.ndarray, sr: int, name: str = "untitled") -> None:
        self.document.set_document(audio, sr, name)

    def request_mel(self, vid: int) -> None:
        self.document.request_mel(vid)

    def set_compare(self, a_id, b_id) -> None:
        self.compare_view.set_compare(a_id, b_id)

    def refresh_views(self) -> None:
        if hasattr(self, "acts"):  # not while the window is being built
            self.compare_view.refresh()

    # -- construction -------------------------------------------------------------------
    def _build_views(self):
        self.wave = WaveformView()
        self.spec = SpectrogramView()
        self.attn = AttentionPanel(self)
        self.views = [self.wave, self.spec, self.attn.heatmap, self.attn.trajectories]
        for v in self.views[1:]:
            v.setXLink(self.wave)
        for v in self.views:
            v.vb.dragged.connect(lambda a, b, finished: self.set_region((a, b), final=finished))
            v.vb.clicked.connect(lambda seconds: self.playback.seek(seconds))
            v.vb.cleared.connect(lambda: self.set_region(None))
            v.region_edited.connect(lambda a, b: self.set_region((a, b)))
        self.spec_tag = QLabel("", self.spec)
        self.spec_tag.setObjectName("tag")
        self.spec_tag.move(86, 4)
        self.attn.export_png_requested.connect(lambda: self.export_heatmap_png())
        self.attn.export_npz_requested.connect(lambda: self.export_attention_npz())
        split = QSplitter(Qt.Vertical)
        split.setChildrenCollapsible(False)
        split.setHandleWidth(3)
        for w, stretch in ((self.wave, 3), (self.spec, 3), (self.attn.heatmap, 3), (self.attn.trajectories, 2)):
            split.addWidget(w)
            split.setStretchFactor(split.indexOf(w), stretch)
        self.splitter = split
        central = QWidget()
        lay = QVBoxLayout(central)
        lay.setContentsMargins(0, 0, 0, 0)
        lay.setSpacing(0)
        lay.addWidget(split, 1)
        lay.addWidget(self.attn.controls)
        self.finetune = FinetuneTab(self.runner, self.host, self.player, self.settings, io=self.io)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(central, "Editor")
        self.tabs.addTab(self.finetune, "Fine-tuning")
        self.setCentralWidget(self.tabs)

    def _dock(self, title: str, name: str, widget) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
        self.addDockWidget(Qt.RightDockWidgetArea, dock)
        return dock

    def _build_docks(self):
        self.panel = EditPanel()
        # example marks (Shift-drag): the next edit's audio prompts; listed under the region
        self.examples = ExampleMarks([self.wave, self.spec], self)
        self.panel.region_label.parentWidget().layout().addWidget(self.examples.row)
        self.examples.changed.connect(lambda: self.panel.set_examples(len(self.examples.in_use())))
        self.panel.instruction.set_history(self.settings.instructions)
        self.panel.layers.setCurrentIndex(max(0, self.panel.layers.findData(self.settings.attention_layers)))
        self.panel.layers.currentIndexChanged.connect(
            lambda _i: setattr(self.settings, "attention_layers", self.panel.layers.currentData()))
        scroll = QScrollArea()
        scroll.setWidget(self.panel)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.NoFrame)
        window_docks.InViewWidth(scroll, self.panel.instruction_row.parentWidget())  # Find stays in view
        body = QWidget()
        bl = QVBoxLayout(body)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.setSpacing(0)
        bl.addWidget(scroll, 1)
        bl.addWidget(self.panel.footer)  # Edit / Cancel stay in view however short the screen
        self.edit_dock = self._dock("Edit", "edit_dock", body)
        self.history_panel = HistoryPanel(self.history)
        self.history_panel.activated.connect(self.go_to_version)
        self.history_panel.compare_changed.connect(self.set_compare)
        self.history_dock = self._dock("History", "history_dock", self.history_panel)
        self.resizeDocks([self.edit_dock], [430], Qt.Horizontal)
        edit_h = window_docks.edit_height(self)
        self.resizeDocks([self.edit_dock, self.history_dock], [edit_h, max(200, 900 - edit_h)], Qt.Vertical)

    def _wire_panels(self):
        p, m = self.panel, self.models
        p.run_requested.connect(self.run_edit)
        p.cancel_requested.connect(self.acts.cancel)  # the running edit, or a running Find
        p.model_chosen.connect(m.model_chosen)
        p.adapter_chosen.connect(m.adapter_chosen)
        p.browse_model.connect(m.choose_folder)
        p.clear_region.connect(lambda: self.set_region(None))

    def _build_statusbar(self):
        sb = self.statusBar()
        self.playback_banner = QLabel("")  # stays while playback is off (not a passing message)
        self.playback_banner.setObjectName("warning")
        self.playback_banner.setStyleSheet("QLabel#warning { color: #e8a33d; font-weight: 600; padding: 0 8px; }")
        self.playback_banner.hide()
        sb.addPermanentWidget(self.playback_banner)  # no stretch: passing messages keep the room left of it
        self.clip_label = QLabel("No clip")
        self.model_label = QLabel("Model: not loaded")
        self.audio_label = QLabel("Audio: –")
        for w in (self.clip_label, self.model_label, self.audio_label):
            w.setContentsMargins(8, 0, 8, 0)
            sb.addPermanentWidget(w)

    def apply_theme(self, colors) -> None:
        self.colors = colors
        app = QApplication.instance()
        if app is not None:
            theme.apply(app, colors)
        for v in self.views:
            v.style(colors)
        self.attn.style(colors)
        self.finetune.style(colors)
        self.acts.set_icons()
        window_docks.fit_width(self)  # the theme's fonts may change what the panel needs
        self.spec_tag.setStyleSheet(f"QLabel#tag {{ color: {colors.text}; background: {theme.rgba(colors.plot_bg, 200)}; "
                                    "padding: 1px 6px; border-radius: 3px; font-size: 8.5pt; }")
        self.refresh_views()

    def _system_scheme_changed(self, *_):
        if self.settings.theme == "system":
            self.apply_theme(theme.resolve("system"))

    # -- start-up -----------------------------------------------------------------------
    def _fit_docks(self):
        """Give the edit panel the height it needs and the History / Library docks the rest."""
        window_docks.fit(self)

    def resizeEvent(self, event):
        super().resizeEvent(event)
        if hasattr(self, "edit_split"):
            self.edit_split.window_resized()

    def start(self, path: str | None = None, model: str | None = None, load_model: bool = True) -> None:
        """Called once the window shows: audio device (I/O worker), first clip, then the model (in the worker)."""
        self.playback.find_device()  # in the I/O worker, before the first clip is read
        self._start_path = path
        if not self.autosave.offer_restore():  # (a restore that fails with nothing shown calls open_start)
            self.open_start()
        self.models.refresh_lists()
        if load_model:
            self.models.start(model)
        self.update_actions()
        if not self._restored:
            self._fit_docks()
            QTimer.singleShot(0, self, lambda: window_docks.refit(self))  # its first layout may move the split
        else:  # the saved split stays; the panel's spacing follows the Edit dock's height
            QTimer.singleShot(0, self, lambda: window_docks.keep_spacing(self))

    def open_start(self) -> None:
        """The clip a start shows: the file it was given, else an example, else the invitation."""
        ex = [] if self._start_path else self.example_files()
        if self._start_path:
            self.open_file(self._start_path)
        elif ex:  # the scene the instruction placeholder talks about, if it is there
            self.open_file(next((p for p in ex if p.stem == "dog_bark_in_rain"), ex[0]), remember=False)
        else:
            self.wave.set_message("Open an audio file (File ▸ Open, or drop it here)")

    def example_files(self) -> list[Path]:
        try:
            return sorted(p for p in paths.examples_dir().iterdir() if p.suffix.lower() in READ_EXTENSIONS)
        except OSError:
            return []

    # -- region / cursor / zoom ---------------------------------------------------------
    @property
    def duration(self) -> float:
        src = self.history.source
        return src.audio.shape[0] / src.sample_rate if src is not None else 0.0

    def set_region(self, region, final: bool = True) -> None:
        if region is not None:
            a, b = max(0.0, float(region[0])), min(self.duration, float(region[1]))
            region = (a, b) if b - a >= (MIN_REGION_S if final else 0.0) else None
        self.region = region
        for v in self.views:
            v.set_region(region)
        self.panel.set_region(region)
        if self.acts.a_loop.isChecked():
            self.playback.set_loop(True)
        self.update_actions()

    # -- history ------------------------------------------------------------------------
    def undo(self):
        if self.history.undo() is not None:
            self._show_current()

    def redo(self):
        if self.history.redo() is not None:
            self._show_current()

    def go_to_version(self, vid: int):
        self.history.go(vid)
        self._show_current()

    def _show_current(self):
        cur = self.history.current
        self.compare = (0, None if cur == 0 else cur)
        self.ab = 1 if cur != 0 else 0
        self.refresh_views()

    # -- dialogs, settings, closing -----------------------------------------------------
    def show_error(self, title: str, message: str, detail: str = "") -> None:
        """A non-blocking error dialog; the app keeps running."""
        self.errors.append((title, message))
        box = QMessageBox(QMessageBox.Critical, title, message, QMessageBox.Ok, self)
        if detail:
            box.setDetailedText(detail)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.finished.connect(lambda _r, b=box: self._dialogs.remove(b) if b in self._dialogs else None)
        self._dialogs.append(box)
        box.open()

    def _confirm_dialog(self, title: str, text: str) -> bool:
        return QMessageBox.question(self, title, text, QMessageBox.Yes | QMessageBox.No,
                                    QMessageBox.No) == QMessageBox.Yes

    def open_settings(self):
        dlg = SettingsDialog(self.settings, self)
        before = (self.settings.device, self.settings.precision, self.settings.model_folder)
        if dlg.exec() != SettingsDialog.Accepted:
            return
        v = dlg.apply()
        self.apply_theme(theme.resolve(v["theme"]))
        if (v["device"], v["precision"], v["model_folder"]) != before:
            self.models.start()

    def dragEnterEvent(self, ev):
        urls = ev.mimeData().urls() if ev.mimeData().hasUrls() else []
        if any(u.isLocalFile() for u in urls):
            ev.acceptProposedAction()
        else:
            ev.ignore()

    def dropEvent(self, ev):
        for u in ev.mimeData().urls():
            if u.isLocalFile():
                self.open_file(u.toLocalFile())
                ev.acceptProposedAction()
                return

    def closeEvent(self, ev):
        if not self.autosave.confirm_close():
            ev.ignore()
            return
        self.autosave.end_session()
        self.settings.save_window(self)
        self.settings.sync()
        self.player.close()
        self.playback.stop()
        self.finetune.shutdown()
        self.library.shutdown()
        if shutdown_runners((self.runner, self.io), 3000):  # both stop at once: one wait, not two
            self.library.close_db()  # its database was the I/O worker's
        super().closeEvent(ev)
