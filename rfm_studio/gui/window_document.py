"""The document in the main window (a controller MainWindow composes): opening a clip (read in
the window's I/O worker, which a model load or a training run does not hold up; the window stays
usable and shows "Opening …" meanwhile), making it the source of a new history, and each
version's display spectrogram, computed once in the worker. ``DocumentWindow`` lists everything
it uses of the window."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional, Protocol

import numpy as np
from PySide6.QtWidgets import QFileDialog

from ..core.audio.io import READ_EXTENSIONS
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
    from .session import SessionController
    from .settings import Settings
    from .window_edit import EditController
    from .window_find import FindController
    from .views.spectrogram import SpectrogramView
    from .views.waveform import WaveformView
    from .window_views import CompareView

APP_NAME = "RFM Studio"
AUDIO_FILTER = "Audio files (" + " ".join(f"*{e}" for e in READ_EXTENSIONS) + ");;All files (*)"


def _fmt_duration(s: float) -> str:
    m, sec = divmod(s, 60)
    return f"{int(m)}:{sec:05.2f}"


class DocumentWindow(Protocol):
    settings: Settings
    autosave: SessionController
    runner: JobRunner
    io: JobRunner
    panel: EditPanel
    editing: EditController
    finding: FindController
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
        self._opening: Optional[Path] = None

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.win, "Open audio", self.win.settings.open_dir(), AUDIO_FILTER)
        if path:
            self.open_file(path)

    @property
    def opening(self) -> Optional[Path]:
        """The file being read in the I/O worker (None when no open is under way)."""
        return self._opening

    def open_file(self, path, remember: bool = True) -> bool:
        """Open a clip as a new document: it is read in the I/O worker (the window stays usable
        and shows "Opening …"; the document appears when it is read, a file that cannot be read
        gives one message and the open document, and an edit running on it, stay). True when
        the open began."""
        w = self.win
        if not path:
            return False
        p = Path(path)
        # A restore still reading is dropped now: it reads in the same worker, before this file,
        # and would otherwise show (and save) the crashed session first; its folder is offered
        # next time. A running edit is cancelled only once the file has been read (``_opened``).
        w.autosave.drop_restore()
        self._opening = p
        w.io.submit("open", lambda c: read_clip(path), label=f"open {p.name}",
                    on_returned=lambda clip: self._opened(p, remember, clip.audio, clip.sample_rate),
                    on_errored=lambda err: self._open_failed(p, err))  # (read_clip never stops on its own)
        if not w.editing.busy:  # a running edit keeps its progress line
            w.panel.set_progress_text(f"Opening {p.name}…")
        w.statusBar().showMessage(f"Opening {p.name}…")
        if w.history.source is None:
            w.wave.set_message(f"Opening {p.name}…")
        w.update_actions()
        return True

    def _opened(self, path: Path, remember: bool, audio: np.ndarray, sr: int) -> None:
        w = self.win
        self._opening = None
        w.statusBar().clearMessage()
        w.cancel_edit(quiet=True)
        w.autosave.drop_restore()  # a restore still reading must not replace this clip
        w.source_path = path
        if remember:
            w.settings.add_recent(str(path))
            w.settings.last_dir = str(path.parent)
        self.set_document(audio, sr, path.name)

    def _open_failed(self, path: Path, err: JobError) -> None:
        w = self.win
        self._opening = None
        if not w.editing.busy:
            w.panel.set_progress_text("Ready")
        w.statusBar().clearMessage()
        if w.history.source is None:
            w.wave.set_message("Open an audio file (File ▸ Open, or drop it here)")
        w.show_error("Cannot open file", err.message if err.user else f"{path.name} could not be read ({err.kind}).")
        w.update_actions()

    def set_document(self, audio: np.ndarray, sr: int, name: str = "untitled") -> None:
        """Show a clip as the source (version 0) of a new history."""
        w = self.win
        w.io.cancel("open")  # a file still being read must not replace this one
        if self._opening is not None:
            self._opening = None
            w.statusBar().clearMessage()  # "Opening …" (the read is dropped: nothing else clears it)
        w.doc_id += 1
        w.player.pause()
        w.history.reset(np.ascontiguousarray(audio, dtype=np.float32), int(sr))
        w.exported = set()
        w.compare = (0, None)
        w.region = None
        w.examples.clear()
        w.finding.cancel()  # a find still running heard the last clip
        w.cursor = 0.0
        w.doc_name = name
        w.setWindowTitle(f"{name} — {APP_NAME}")
        w.wave.set_message(None)
        ch = 1 if audio.ndim == 1 else audio.shape[1]
        dur = audio.shape[0] / sr
        w.clip_label.setText(f"{sr / 1000:g} kHz · {'mono' if ch == 1 else f'{ch} ch'} · {_fmt_duration(dur)}")
        for v in w.views:
            v.set_duration(dur)
            v.set_region(None)
            v.set_playhead(0.0)
        w.attn.show_maps(None, ())
        w.panel.set_region(None)
        w.panel.set_progress_text("Ready")
        w.ab = 0
        self.request_mel(0)
        w.refresh_views()
        w.compare_view.zoom_fit()

    def request_mel(self, vid: int) -> None:
        """Compute a version's display spectrogram in the worker (once)."""
        w = self.win
        v = w.history.get(vid)
        if v is None or vid in w.history.mels:
            return
        if any(key == (w.doc_id, vid) and w.runner.is_live(j) for j, key in self._mel_jobs.items()):
            return  # already on its way
        audio, sr, doc = v.audio, v.sample_rate, w.doc_id
        job = w.runner.submit("mel", lambda c: display_mel(audio, sr), label="mel",
                              on_returned=lambda mel: self._mel_done(doc, vid, mel),
                              on_errored=self._mel_failed, on_aborted=w.update_actions,
                              on_finished=lambda: self._mel_jobs.pop(job, None))
        self._mel_jobs[job] = (doc, vid)

    def _mel_done(self, doc: int, vid: int, mel) -> None:
        w = self.win
        if doc == w.doc_id:
            w.history.mels[vid] = mel
            w.compare_view.show_spectrogram()

    def _mel_failed(self, err: JobError) -> None:
        w = self.win
        w.spec.set_message("No spectrogram")
        w.show_error("Spectrogram failed", err.message, err.detail if not err.user else "")
        w.update_actions()
