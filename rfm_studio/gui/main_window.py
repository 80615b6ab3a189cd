"""The main window: docks, menus, toolbar; wires the views, the edit panel, the history,
the player and the worker together. No model code and no heavy imports here."""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (QApplication, QDockWidget, QFileDialog, QLabel, QMainWindow, QMessageBox,
                               QScrollArea, QSplitter, QTabWidget, QVBoxLayout, QWidget)

from ..core import paths
from ..core.audio.io import READ_EXTENSIONS, audio_info, load_audio
from ..core.errors import RFMError
from ..core.events import EditRequest
from .example_marks import ExampleMarks
from . import theme
from .attention_panel import AttentionPanel
from .edit_panel import EditPanel
from .finetune.tab import FinetuneTab
from .history import History, HistoryPanel
from .jobs import JobError, JobRunner
from .playback import Player
from .session import SessionMixin
from .settings import Settings, SettingsDialog
from .tasks import EditOutcome, ModelHost, ModelInfo, display_mel, read_clip
from .views.spectrogram import SpectrogramView, mel_levels
from .views.waveform import WaveformView
from .window_actions import ActionsMixin
from .window_export import ExportMixin
from .window_report import ReportMixin
from .window_model import ModelMixin

APP_NAME = "RFM Studio"
MIN_REGION_S = 0.05
OPEN_IN_WORKER_S = 60.0  # longer files are read in the worker (10 min at 48 kHz stereo: 1.6 s)
TEMPLATE_GAP = re.compile(r"(^|\s)\.\.\.(\s|$)")  # a template's unfilled '...' (not "barking...")
AUDIO_FILTER = "Audio files (" + " ".join(f"*{e}" for e in READ_EXTENSIONS) + ");;All files (*)"


@dataclass
class _EditCtx:
    parent: int
    doc: int
    t0: float
    request: EditRequest
    first_step_at: Optional[float] = None
    times: list = None


def _fmt_duration(s: float) -> str:
    m, sec = divmod(s, 60)
    return f"{int(m)}:{sec:05.2f}"


class MainWindow(SessionMixin, ActionsMixin, ModelMixin, ExportMixin, ReportMixin, QMainWindow):
    def __init__(self, settings: Settings | None = None, player: Player | None = None):
        super().__init__()
        self.settings = settings or Settings()
        self.colors = theme.resolve(self.settings.theme)
        self.history = History()
        self.runner = JobRunner(self)
        self.host = ModelHost()
        self.player = player or Player()
        self.source_path: Optional[Path] = None
        self.region: Optional[tuple[float, float]] = None
        self.compare: tuple[Optional[int], Optional[int]] = (None, None)
        self.model_info: Optional[ModelInfo] = None
        self._applied_defaults = None  # the sampling defaults last shown in the edit panel
        self.cursor = 0.0
        self.ab = 0  # which of A (0) / B (1) / R (2, A − B) is heard and shown
        self.errors: list[tuple[str, str]] = []  # every error shown (tests read it)
        self.confirm = self._confirm_dialog  # replaceable in tests
        self._doc = 0
        self._mel_jobs: dict[int, tuple[int, int]] = {}
        self._edit_job: Optional[int] = None
        self._edit: Optional[_EditCtx] = None
        self._dialogs = []
        self.setWindowTitle(APP_NAME)
        self.setAcceptDrops(True)
        self._build_views()
        self._build_docks()
        from .library import install as install_library

        self.library = install_library(self)  # Library dock + drop a sound onto the waveform
        self._wire_finetune()
        self._build_actions()
        self._build_menus()
        self._build_toolbar()
        self._build_statusbar()
        self._init_session()
        self.apply_theme(self.colors)
        self._play_timer = QTimer(self)
        self._play_timer.setInterval(30)
        self._play_timer.timeout.connect(self._tick_playback)
        self.resize(1480, 940)
        scr = self.screen().availableGeometry() if self.screen() is not None else None
        if scr is not None and scr.width() >= 1024 and (scr.width() < 1480 or scr.height() < 940):
            self.resize(min(1480, scr.width()), min(940, scr.height() - 40))  # a laptop screen: fit it
        self._restored = self.settings.restore_window(self)
        if not self._restored:  # the docks' width, now that the window has its size
            self.resizeDocks([self.edit_dock], [430], Qt.Horizontal)
        self._update_actions()
        try:
            QApplication.instance().styleHints().colorSchemeChanged.connect(self._system_scheme_changed)
        except AttributeError:
            pass

    # =================================================================================
    # construction
    # =================================================================================
    def _build_views(self):
        self.wave = WaveformView()
        self.spec = SpectrogramView()
        self.attn = AttentionPanel(self)
        self.views = [self.wave, self.spec, self.attn.heatmap, self.attn.trajectories]
        for v in self.views[1:]:
            v.setXLink(self.wave)
        for v in self.views:
            v.vb.dragged.connect(self._on_drag_region)
            v.vb.clicked.connect(self.seek)
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
        self.finetune = FinetuneTab(self.runner, self.host, self.player, self.settings)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.tabs.addTab(central, "Editor")
        self.tabs.addTab(self.finetune, "Fine-tuning")
        self.setCentralWidget(self.tabs)

    def _build_docks(self):
        self.panel = EditPanel()
        self.panel.run_requested.connect(self.run_edit)
        self.panel.cancel_requested.connect(self.cancel_edit)
        self.panel.model_chosen.connect(self._model_chosen)
        self.panel.adapter_chosen.connect(self._adapter_chosen)
        self.panel.browse_model.connect(self.choose_model_folder)
        self.panel.clear_region.connect(lambda: self.set_region(None))
        # example marks (Shift-drag): the next edit's audio prompts; listed under the region
        self.examples = ExampleMarks([self.wave, self.spec], self)
        self.panel.region_label.parentWidget().layout().addWidget(self.examples.row)
        self.panel.instruction.set_history(self.settings.instructions)
        self.panel.layers.setCurrentIndex(max(0, self.panel.layers.findData(self.settings.attention_layers)))
        self.panel.layers.currentIndexChanged.connect(
            lambda _i: setattr(self.settings, "attention_layers", self.panel.layers.currentData()))
        scroll = QScrollArea()
        scroll.setWidget(self.panel)
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.NoFrame)
        self.edit_dock = QDockWidget("Edit", self)
        self.edit_dock.setObjectName("edit_dock")
        body = QWidget()
        bl = QVBoxLayout(body)
        bl.setContentsMargins(0, 0, 0, 0)
        bl.setSpacing(0)
        bl.addWidget(scroll, 1)
        bl.addWidget(self.panel.footer)  # Edit / Cancel stay in view however short the screen
        self.edit_dock.setWidget(body)
        self.edit_dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
        self.addDockWidget(Qt.RightDockWidgetArea, self.edit_dock)
        self.history_panel = HistoryPanel(self.history)
        self.history_panel.activated.connect(self.go_to_version)
        self.history_panel.compare_changed.connect(self.set_compare)
        self.history_dock = QDockWidget("History", self)
        self.history_dock.setObjectName("history_dock")
        self.history_dock.setWidget(self.history_panel)
        self.history_dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
        self.addDockWidget(Qt.RightDockWidgetArea, self.history_dock)
        self.resizeDocks([self.edit_dock], [430], Qt.Horizontal)
        edit_h = self.panel.sizeHint().height() + self.panel.footer.sizeHint().height() + 30
        self.resizeDocks([self.edit_dock, self.history_dock], [edit_h, max(200, 900 - edit_h)], Qt.Vertical)

    # =================================================================================
    # theme
    # =================================================================================
    def apply_theme(self, colors) -> None:
        self.colors = colors
        app = QApplication.instance()
        if app is not None:
            theme.apply(app, colors)
        for v in self.views:
            v.style(colors)
        self.attn.style(colors)
        self.finetune.style(colors)
        self._set_icons()
        self.spec_tag.setStyleSheet(f"QLabel#tag {{ color: {colors.text}; background: {theme.rgba(colors.plot_bg, 200)}; "
                                    "padding: 1px 6px; border-radius: 3px; font-size: 8.5pt; }")
        self._refresh_views()

    def _system_scheme_changed(self, *_):
        if self.settings.theme == "system":
            self.apply_theme(theme.resolve("system"))

    # =================================================================================
    # start-up
    # =================================================================================
    def _fit_docks(self):
        """Give the edit panel the height it needs and the history the rest."""
        edit_h = self.panel.sizeHint().height() + self.panel.footer.sizeHint().height() + 36
        total = self.edit_dock.height() + self.history_dock.height()
        self.resizeDocks([self.edit_dock, self.history_dock], [edit_h, max(160, total - edit_h)], Qt.Vertical)

    def start(self, path: str | None = None, model: str | None = None, load_model: bool = True) -> None:
        """Called once the window shows: audio device, first clip, then the model (in the worker)."""
        if self.player.probe():
            self.audio_label.setText(f"Audio: {self.player.device_name}")
        else:
            self.audio_label.setText("Audio: off")
            self.playback_banner.setText(f"⚠ {self.player.reason}")
            self.playback_banner.setToolTip("Editing and export work without an audio device; "
                                            "see Help ▸ Report a Problem for the diagnostics.")
            self.playback_banner.show()
            self.a_play.setToolTip(self.player.reason)
        self.audio_label.setToolTip(self.player.reason)
        if self.offer_restore():
            pass  # the crashed session's versions are back
        elif path:
            self.open_file(path)
        else:
            ex = self.example_files()
            if ex:  # the scene the instruction placeholder talks about, if it is there
                first = next((p for p in ex if p.stem == "dog_bark_in_rain"), ex[0])
                self.open_file(first, remember=False)
            else:
                self.wave.set_message("Open an audio file (File ▸ Open, or drop it here)")
        self._refresh_model_lists()
        if load_model:
            self.start_model(model)
        self._update_actions()
        if not self._restored:
            self._fit_docks()

    def example_files(self) -> list[Path]:
        try:
            return sorted(p for p in paths.examples_dir().iterdir() if p.suffix.lower() in READ_EXTENSIONS)
        except OSError:
            return []

    # =================================================================================
    # documents
    # =================================================================================
    def open_dialog(self):
        path, _ = QFileDialog.getOpenFileName(self, "Open audio", self.settings.open_dir(), AUDIO_FILTER)
        if path:
            self.open_file(path)

    def open_file(self, path, remember: bool = True) -> bool:
        """Open a clip as a new document. A long one is read in the worker (the window stays
        responsive; the document appears when it is read); True when it opened or is opening."""
        try:
            n, sr0, _ = audio_info(path)
            long_file = n / max(sr0, 1) > OPEN_IN_WORKER_S
        except Exception:  # noqa: BLE001  (read below, which names the problem)
            long_file = False
        if long_file:
            self.cancel_edit(quiet=True)
            p = Path(path)
            self.runner.submit("open", lambda c: read_clip(path), label=f"open {p.name}",
                               on_returned=lambda clip: self._opened(p, remember, clip.audio, clip.sample_rate),
                               on_errored=lambda err: self._open_failed(p, err), on_aborted=self._update_actions)
            self.panel.set_progress_text(f"Opening {Path(path).name}…")
            self.statusBar().showMessage(f"Opening {Path(path).name}…")
            return True
        try:
            audio, sr = load_audio(path)
        except RFMError as exc:
            self.show_error("Cannot open file", str(exc))
            return False
        except Exception as exc:  # noqa: BLE001
            self.show_error("Cannot open file", f"{Path(path).name} could not be read ({type(exc).__name__}).")
            return False
        self._opened(Path(path), remember, audio, sr)
        return True

    def _opened(self, path: Path, remember: bool, audio: np.ndarray, sr: int) -> None:
        self.cancel_edit(quiet=True)
        self.source_path = path
        if remember:
            self.settings.add_recent(str(path))
            self.settings.last_dir = str(path.parent)
        self.set_document(audio, sr, path.name)

    def _open_failed(self, path: Path, err: JobError) -> None:
        self.panel.set_progress_text("Ready")
        self.show_error("Cannot open file", err.message if err.user else f"{path.name} could not be read ({err.message}).")
        self._update_actions()

    def set_document(self, audio: np.ndarray, sr: int, name: str = "untitled") -> None:
        """Show a clip as the source (version 0) of a new history."""
        self.runner.cancel("open")  # a long file still being read must not replace this one
        self._doc += 1
        self.player.pause()
        self.history.reset(np.ascontiguousarray(audio, dtype=np.float32), int(sr))
        self.exported = set()
        self.compare = (0, None)
        self.region = None
        self.examples.clear()
        self.cursor = 0.0
        self.doc_name = name
        self.setWindowTitle(f"{name} — {APP_NAME}")
        self.wave.set_message(None)
        ch = 1 if audio.ndim == 1 else audio.shape[1]
        dur = audio.shape[0] / sr
        self.clip_label.setText(f"{sr / 1000:g} kHz · {'mono' if ch == 1 else f'{ch} ch'} · {_fmt_duration(dur)}")
        for v in self.views:
            v.set_duration(dur)
            v.set_region(None)
            v.set_playhead(0.0)
        self.attn.show_maps(None, ())
        self.panel.set_region(None)
        self.panel.set_progress_text("Ready")
        self.ab = 0
        self._request_mel(0)
        self._refresh_views()
        self.zoom_fit()

    def _request_mel(self, vid: int):
        v = self.history.get(vid)
        if v is None or vid in self.history.mels:
            return
        if any(key == (self._doc, vid) and self.runner.is_live(j) for j, key in self._mel_jobs.items()):
            return  # already on its way
        audio, sr, doc = v.audio, v.sample_rate, self._doc
        job = self.runner.submit("mel", lambda c: display_mel(audio, sr), label="mel",
                                 on_returned=lambda mel: self._mel_done(doc, vid, mel),
                                 on_errored=self._mel_failed, on_aborted=self._update_actions,
                                 on_finished=lambda: self._mel_jobs.pop(job, None))
        self._mel_jobs[job] = (doc, vid)

    def _mel_done(self, doc: int, vid: int, mel) -> None:
        if doc == self._doc:
            self.history.mels[vid] = mel
            self._show_spectrogram()

    def _mel_failed(self, err: JobError) -> None:
        self.spec.set_message("No spectrogram")
        self.show_error("Spectrogram failed", err.message, err.detail if not err.user else "")
        self._update_actions()

    # =================================================================================
    # compare / views
    # =================================================================================
    def _label(self, vid) -> str:
        v = self.history.get(vid)
        if v is None:
            return ""
        return "Original" if v.is_source else f"{v.id}: {v.title()}"

    def set_compare(self, a_id, b_id) -> None:
        if a_id is None:
            a_id = 0
        if b_id == a_id:
            b_id = None
        self.compare = (a_id, b_id)
        if b_id is None:
            self.ab = 0
        self._refresh_views()

    def _refresh_views(self):
        if not hasattr(self, "history_panel"):
            return
        a_id, b_id = self.compare
        a, b = self.history.get(a_id), self.history.get(b_id)
        if b is None:
            self.ab = 0
        sel = self.ab
        (self.a_a, self.a_b, self.a_r)[sel].setChecked(True)
        self.history_panel.refresh(a_id, b_id)
        if a is None:
            self.wave.set_audio(None, None, 1)
            self.spec.set_mel(None)
            return
        labels = (f"A  {self._label(a_id)}", f"B  {self._label(b_id)}")
        self.wave.set_audio(a.audio, b.audio if b is not None else None, a.sample_rate, labels)
        self.wave.set_active(min(sel, 1))
        self.player.match_loudness = self.a_match.isChecked()
        self.player.set_sources(a.audio, b.audio if b is not None else None, a.sample_rate, self.removed_audio())
        self.player.select(sel)
        self._show_spectrogram()
        shown = b if b is not None else a
        if self._edit_job is None and (shown.attention is not None or not shown.is_source):
            self.attn.show_maps(shown.attention, shown.tokens, {"instruction": shown.instruction, **shown.params})
        cur = self.history.get(self.history.current)
        self.panel.region_label.setToolTip(f"Edits apply to version {cur.id}: {cur.title()}" if cur else "")
        self._update_actions()
        self.schedule_autosave()

    def _show_spectrogram(self):
        a_id, b_id = self.compare
        sel = self.ab if b_id is not None else 0
        vid = b_id if sel == 1 else a_id
        if sel == 2:
            return self._show_removed_spectrogram()
        mel = self.history.mels.get(vid)
        ref = self.history.mels.get(a_id)
        levels = mel_levels(ref) if ref is not None else None
        if mel is None:
            self.spec.set_mel(None)
            self.spec.set_message("Computing spectrogram…")
            self._request_mel(vid)
        else:
            self.spec.set_message(None)
            self.spec.set_mel(mel, levels)
        self.spec_tag.setText(f"{'AB'[sel]} · {self._label(vid)}  ·  log-mel 64 bands")
        self.spec_tag.adjustSize()

    # =================================================================================
    # region / cursor / zoom
    # =================================================================================
    @property
    def duration(self) -> float:
        src = self.history.source
        return src.audio.shape[0] / src.sample_rate if src is not None else 0.0

    def _on_drag_region(self, a: float, b: float, finished: bool):
        self.set_region((a, b), final=finished)

    def set_region(self, region, final: bool = True) -> None:
        if region is not None:
            a, b = max(0.0, float(region[0])), min(self.duration, float(region[1]))
            region = (a, b) if b - a >= (MIN_REGION_S if final else 0.0) else None
        self.region = region
        for v in self.views:
            v.set_region(region)
        self.panel.set_region(region)
        if self.a_loop.isChecked():
            self.set_loop(True)
        self._update_actions()

    def seek(self, seconds: float) -> None:
        self.cursor = max(0.0, min(self.duration, float(seconds)))
        if self.player.available and self.player.frames:
            self.player.seek(self.cursor)
        for v in self.views:
            v.set_playhead(self.cursor)

    def zoom_fit(self):
        if self.duration:
            self.wave.vb.setXRange(0.0, self.duration, padding=0)

    def zoom_selection(self):
        if self.region:
            self.wave.vb.setXRange(*self.region, padding=0.02)

    def zoom(self, factor: float):
        (x0, x1), _ = self.wave.vb.viewRange()
        c, h = (x0 + x1) / 2, (x1 - x0) / 2 * factor
        self.wave.vb.setXRange(max(0.0, c - h), min(self.duration, c + h), padding=0)

    # =================================================================================
    # playback
    # =================================================================================
    def toggle_play(self):
        if not self.player.available:
            self.statusBar().showMessage(self.player.reason, 5000)
            return
        try:
            if not self.player.playing:
                self.player.seek(self.cursor if not self.a_loop.isChecked() or not self.region
                                 else max(self.cursor, self.region[0]))
            playing = self.player.toggle()
        except Exception as exc:  # noqa: BLE001 - a device error must not end the session
            self.show_error("Playback failed", f"The audio device could not be opened ({str(exc)[:200]}).")
            return
        if playing:
            self._play_timer.start()
        self._update_play_action()

    def toggle_ab(self):
        if self.compare[1] is None:
            return
        self.select_ab(0 if self.ab else 1)

    def select_ab(self, which: int):
        """Hear and show A (0), B (1) or R (2: what B removed from A); playback continues at the
        same sample."""
        if which >= 1 and self.compare[1] is None:
            which = 0
        self.ab = which
        self.player.select(which)
        (self.a_a, self.a_b, self.a_r)[which].setChecked(True)
        self.wave.set_active(min(which, 1))
        self._show_spectrogram()

    def set_loop(self, on: bool):
        """Loop the selected region (the whole clip when nothing is selected)."""
        self.player.set_loop((self.region or (0.0, self.duration)) if on else None)

    def set_match_loudness(self, on: bool):
        self.settings.loudness_match = on
        self.player.set_match_loudness(on)
        if on and self.compare[1] is not None:
            g = 20 * math.log10(max(self.player.gain_b, 1e-9))
            self.statusBar().showMessage(f"B is played {g:+.1f} dB to match the loudness of A.", 5000)

    def _tick_playback(self):
        playing = self.player.poll()
        pos = self.player.position
        for v in self.views:
            v.set_playhead(pos)
        if not playing:
            self._play_timer.stop()
            self.cursor = pos if pos > 0 else self.cursor
            self._update_play_action()

    # =================================================================================
    # editing
    # =================================================================================
    def build_request(self) -> EditRequest:
        cur = self.history.get(self.history.current)
        return EditRequest(audio=cur.audio, sample_rate=cur.sample_rate,
                           instruction=self.panel.instruction.text().strip(), t_start=self.panel.t_start(),
                           steps=int(self.panel.steps.value()), guidance=float(self.panel.guidance.value()),
                           draws=int(self.panel.draws.value()), strength=self.panel.strength_value(),
                           seed=self.panel.next_seed(), region=self.region,
                           capture_attention=self.panel.capture.isChecked(),
                           attention_layers=self.panel.layers.currentData(),
                           prompts=self.examples.prompts(cur.audio, cur.sample_rate)
                           + self.library.prompts_for(self.panel.instruction.text().strip()))

    def run_edit(self) -> Optional[int]:
        if self.history.source is None:
            self.show_error("Nothing to edit", "Open an audio file first (File ▸ Open).")
            return None
        if self.model_info is None:
            self.show_error("No model", "No model is loaded; choose a model folder (Model ▸ Choose Model Folder…).")
            return None
        if self.finetune.busy:
            self.statusBar().showMessage(self.panel.blocked or "The model is busy in the Fine-tuning tab.", 5000)
            return None
        text = self.panel.instruction.text().strip()
        if not text or TEMPLATE_GAP.search(text):
            self.show_error("Instruction needed", "Describe the edit, for example 'Remove the dog barking' "
                                                  "(replace the '...' of a template).")
            return None
        req = self.build_request()
        host = self.host
        job = self.runner.submit("edit", lambda c: host.edit(req, c), label=text, on_yielded=self._on_edit_step,
                                 on_returned=self._edit_done, on_errored=self._edit_failed,
                                 on_aborted=self._edit_aborted)
        self._edit_job = job
        self._edit = _EditCtx(self.history.current, self._doc, time.perf_counter(), req, times=[])
        self.settings.add_instruction(text)
        self.panel.instruction.set_history(self.settings.instructions)
        sr = req.sample_rate
        total_frames = int(round(req.audio.shape[0] * 16000 / sr)) // 160 + 1  # core: mel frames of the clip
        self.attn.begin_live(total_frames, region=req.region is not None)
        self.panel.set_busy(True)
        self.panel.set_progress_text("Preparing…")
        self._update_actions()
        return job

    def cancel_edit(self, quiet: bool = False):
        if self._edit_job is None:
            return
        self.runner.cancel("edit")
        self._edit_job = None
        self.panel.set_busy(False)
        if not quiet:
            self.panel.set_progress_text("Cancelled")
            self.statusBar().showMessage("Edit cancelled.", 4000)
        self.attn.show_maps(None, ())
        self._refresh_views()

    def _on_edit_step(self, ev):
        if self._edit is None:
            return
        now = time.perf_counter()
        ctx = self._edit
        ctx.times.append(float(ev.t))
        if ctx.first_step_at is None:
            ctx.first_step_at = now
            eta = (now - ctx.t0) * (ev.total - ev.step) / max(1, ev.step)
        else:
            eta = (now - ctx.first_step_at) / max(1, ev.step - 1) * (ev.total - ev.step)
        self.panel.set_progress(ev.step, ev.total, eta)
        self.attn.push(ev)

    def _edit_done(self, out: EditOutcome):
        ctx, self._edit, self._edit_job = self._edit, None, None
        self.attn.end_live()
        self.panel.set_busy(False)
        r = out.result
        if ctx is None or ctx.doc != self._doc:
            return
        params = dict(r.params)
        params["attention_layers"] = ctx.request.attention_layers
        params["model_name"] = self.model_info.name if self.model_info else ""
        params.update(self.change_params(out.report, r))
        if self.model_info and self.model_info.adapter:
            params["adapter"] = self.model_info.adapter
        v = self.history.add_edit(ctx.parent, r.audio, r.sample_rate, instruction=r.instruction, params=params,
                                  seconds=r.seconds, tokens=tuple(r.tokens), attention=r.attention)
        self.history.mels[v.id] = out.mel_out
        self.show_change_report(v, out.report)
        self.compare = (self.compare[0] if self.compare[0] is not None else 0, v.id)
        self.ab = 1
        self._refresh_views()

    def _edit_failed(self, err: JobError):
        self._edit_job, self._edit = None, None
        self.panel.set_busy(False)
        self.panel.set_progress_text("Failed")
        self.attn.show_maps(None, ())
        self.show_error("The edit failed", err.message, err.detail if not err.user else "")
        self._update_actions()

    def _edit_aborted(self):
        self._edit_job, self._edit = None, None
        self.panel.set_busy(False)
        self.panel.set_progress_text("Cancelled")
        self._update_actions()

    # =================================================================================
    # history
    # =================================================================================
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
        self._refresh_views()

    # =================================================================================
    # dialogs, settings, misc
    # =================================================================================
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
            self.start_model()

    # =================================================================================
    # the Fine-tuning tab
    # =================================================================================
    def _wire_finetune(self):
        ft = self.finetune
        ft.adapters_changed.connect(self._refresh_model_lists)
        ft.adapter_moved.connect(self._adapter_moved)
        ft.busy_changed.connect(self._finetune_busy)
        ft.use_adapter.connect(self._use_adapter)
        ft.open_preview.connect(self.show_preview)
        ft.error.connect(self.show_error)
        ft.status.connect(lambda text: self.statusBar().showMessage(text, 6000))
        self.tabs.currentChanged.connect(self._tab_changed)

    def _finetune_busy(self, busy: bool):
        what = "an adapter is training" if self.finetune.training else "an adapter preview is running"
        self.panel.set_blocked(f"Edits wait: {what} (Fine-tuning tab; one job at a time)" if busy else "")
        self._update_actions()

    def _tab_changed(self, index: int):
        if self.tabs.widget(index) is not self.finetune and self.finetune.owns_player:
            self.finetune.owns_player = False  # the editor's clip is heard again
            self.player.pause()
            self._update_play_action()
            if self.history.source is None:
                self.player.set_sources(None, None, 44100)
            self._refresh_views()
            if self.a_loop.isChecked():
                self.set_loop(True)

    def _use_adapter(self, folder: str):
        i = self.panel.adapter_combo.findData(folder)
        if i >= 0:
            self.panel.adapter_combo.setCurrentIndex(i)
        self._adapter_chosen(folder)

    def _adapter_moved(self, old: str, new: str):
        """An adapter was renamed (new folder) or deleted (""): follow it if it is the one in use."""
        if self.settings.adapter and Path(self.settings.adapter) == Path(old):
            if self.model_info is not None:
                self._adapter_chosen(new)
            else:
                self.settings.adapter = new
        self._refresh_model_lists()

    def show_preview(self, p):
        """A Fine-tuning preview in the editor: the input as the source, the base model's and
        the adapter's edit as versions 1 and 2, compared as A and B."""
        self.cancel_edit(quiet=True)
        self.source_path = None  # a (possibly trimmed) copy: exports never replace the user's file
        self.set_document(p.original, p.sample_rate, Path(p.input).name)
        params = dict(p.params or {})
        name = Path(p.adapter).name
        model = self.model_info.name if self.model_info else ""
        a = self.history.add_edit(0, p.base, p.sample_rate, instruction=p.instruction,
                                  params={**params, "model_name": model}, label=f"Base model: {p.instruction}")
        b = self.history.add_edit(0, p.adapted, p.sample_rate, instruction=p.instruction,
                                  params={**params, "model_name": model, "adapter": p.adapter},
                                  label=f"{name}: {p.instruction}")
        for vid in (a.id, b.id):
            self._request_mel(vid)
        self.compare = (a.id, b.id)
        self.ab = 1
        self._refresh_views()
        self.tabs.setCurrentIndex(0)

    # -- drag and drop -------------------------------------------------------------------
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
        if not self.confirm_close():
            ev.ignore()
            return
        self.end_session()
        self.settings.save_window(self)
        self.settings.sync()
        self.player.close()
        self._play_timer.stop()
        self.finetune.shutdown()
        self.runner.shutdown(3000)
        super().closeEvent(ev)
