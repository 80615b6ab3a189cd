"""The document in the main window (a controller MainWindow composes): opening a clip (a long
one in the worker), making it the source of a new history, and each version's display
spectrogram, computed once in the worker. ``DocumentWindow`` lists everything it uses of the
window."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional, Protocol

import numpy as np
from PySide6.QtWidgets import QFileDialog

from ..core.audio.io import READ_EXTENSIONS, audio_info, load_audio
from ..core.errors import RFMError
from .jobs import JobError
from .tasks import display_mel, read_clip

if TYPE_CHECKING:
    from PySide6.QtWidgets import QLabel

    from .attention_panel import AttentionPanel
    from .edit_panel import EditPanel
    from .example_marks import ExampleMarks
    from .history import History
    from .jobs import JobRunner
    from .playback import Player
    from .settings import Settings
    from .views.spectrogram import SpectrogramView
    from .views.waveform import WaveformView
    from .window_views import CompareView

APP_NAME = "RFM Studio"
OPEN_IN_WORKER_S = 60.0  # longer files are read in the worker (10 min at 48 kHz stereo: 1.6 s)
AUDIO_FILTER = "Audio files (" + " ".join(f"*{e}" for e in READ_EXTENSIONS) + ");;All files (*)"


def _fmt_duration(s: float) -> str:
    m, sec = divmod(s, 60)
    return f"{int(m)}:{sec:05.2f}"


class DocumentWindow(Protocol):
    settings: Settings
    runner: JobRunner
    panel: EditPanel
    history: History
    player: Player
    examples: ExampleMarks
    attn: AttentionPanel
    wave: WaveformView
    spec: SpectrogramView
    views: list
    clip_label: QLabel
    source_path: Optional[Path]
    exported: set
    compare: tuple
    region: Optional[tuple[float, float]]
    cursor: float
    ab: int
    doc_id: int
    doc_name: str
    compare_view: CompareView

    def statusBar(self): ...
    def setWindowTitle(self, title: str) -> None: ...
    def show_error(self, title: str, message: str, detail: str = "") -> None: ...
    def cancel_edit(self, quiet: bool = False) -> None: ...
    def update_actions(self) -> None: ...
    def refresh_views(self) -> None: ...


class DocumentController:
    def __init__(self, win: DocumentWindow):
        self.win = win
        self._mel_jobs: dict[int, tuple[int, int]] = {}  # job id -> (document, version)

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.win, "Open audio", self.win.settings.open_dir(), AUDIO_FILTER)
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
        p = Path(path)
        if long_file:
            self.win.cancel_edit(quiet=True)
            self.win.runner.submit("open", lambda c: read_clip(path), label=f"open {p.name}",
                               on_returned=lambda clip: self._opened(p, remember, clip.audio, clip.sample_rate),
                               on_errored=lambda err: self._open_failed(p, err), on_aborted=self.win.update_actions)
            self.win.panel.set_progress_text(f"Opening {p.name}…")
            self.win.statusBar().showMessage(f"Opening {p.name}…")
            return True
        try:
            audio, sr = load_audio(path)
        except RFMError as exc:
            self.win.show_error("Cannot open file", str(exc))
            return False
        except Exception as exc:  # noqa: BLE001
            self.win.show_error("Cannot open file", f"{p.name} could not be read ({type(exc).__name__}).")
            return False
        self._opened(p, remember, audio, sr)
        return True

    def _opened(self, path: Path, remember: bool, audio: np.ndarray, sr: int) -> None:
        self.win.cancel_edit(quiet=True)
        self.win.source_path = path
        if remember:
            self.win.settings.add_recent(str(path))
            self.win.settings.last_dir = str(path.parent)
        self.set_document(audio, sr, path.name)

    def _open_failed(self, path: Path, err: JobError) -> None:
        self.win.panel.set_progress_text("Ready")
        self.win.show_error("Cannot open file", err.message if err.user else f"{path.name} could not be read ({err.message}).")
        self.win.update_actions()

    def set_document(self, audio: np.ndarray, sr: int, name: str = "untitled") -> None:
        """Show a clip as the source (version 0) of a new history."""
        self.win.runner.cancel("open")  # a long file still being read must not replace this one
        self.win.doc_id += 1
        self.win.player.pause()
        self.win.history.reset(np.ascontiguousarray(audio, dtype=np.float32), int(sr))
        self.win.exported = set()
        self.win.compare = (0, None)
        self.win.region = None
        self.win.examples.clear()
        self.win.cursor = 0.0
        self.win.doc_name = name
        self.win.setWindowTitle(f"{name} — {APP_NAME}")
        self.win.wave.set_message(None)
        ch = 1 if audio.ndim == 1 else audio.shape[1]
        dur = audio.shape[0] / sr
        self.win.clip_label.setText(f"{sr / 1000:g} kHz · {'mono' if ch == 1 else f'{ch} ch'} · {_fmt_duration(dur)}")
        for v in self.win.views:
            v.set_duration(dur)
            v.set_region(None)
            v.set_playhead(0.0)
        self.win.attn.show_maps(None, ())
        self.win.panel.set_region(None)
        self.win.panel.set_progress_text("Ready")
        self.win.ab = 0
        self.request_mel(0)
        self.win.refresh_views()
        self.win.compare_view.zoom_fit()

    def request_mel(self, vid: int) -> None:
        """Compute a version's display spectrogram in the worker (once)."""
        v = self.win.history.get(vid)
        if v is None or vid in self.win.history.mels:
            return
        if any(key == (self.win.doc_id, vid) and self.win.runner.is_live(j) for j, key in self._mel_jobs.items()):
            return  # already on its way
        audio, sr, doc = v.audio, v.sample_rate, self.win.doc_id
        job = self.win.runner.submit("mel", lambda c: display_mel(audio, sr), label="mel",
                                 on_returned=lambda mel: self._mel_done(doc, vid, mel),
                                 on_errored=self._mel_failed, on_aborted=self.win.update_actions,
                                 on_finished=lambda: self._mel_jobs.pop(job, None))
        self._mel_jobs[job] = (doc, vid)

    def _mel_done(self, doc: int, vid: int, mel) -> None:
        if doc == self.win.doc_id:
            self.win.history.mels[vid] = mel
            self.win.compare_view.show_spectrogram()

    def _mel_failed(self, err: JobError) -> None:
        self.win.spec.set_message("No spectrogram")
        self.win.show_error("Spectrogram failed", err.message, err.detail if not err.user else "")
        self.win.update_actions()
