"""R, the removed sound (A − B), in the main window (a controller MainWindow composes): a third
source to hear and see beside A and B, computed once per compared pair, its spectrogram in
the worker. ``RemovedWindow`` lists everything it uses of the window."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Protocol

import numpy as np

from .tasks import display_mel
from .views.spectrogram import mel_levels
from .window_views import MEL_TAG

if TYPE_CHECKING:
    from PySide6.QtWidgets import QLabel

    from .history import History
    from .jobs import JobRunner
    from .views.spectrogram import SpectrogramView
    from .window_views import CompareView


class RemovedWindow(Protocol):
    history: History
    runner: JobRunner
    spec: SpectrogramView
    spec_tag: QLabel
    compare: tuple
    ab: int
    doc_id: int

    compare_view: CompareView

    def update_actions(self) -> None: ...


class RemovedSound:
    def __init__(self, win: RemovedWindow):
        self.win = win
        self._cache: Optional[tuple] = None  # ((doc, a, b), A − B)
        self.mels: dict = {}  # (doc, a, b) -> the removed sound's display mel
        self._jobs: dict = {}  # job id -> (doc, a, b), spectrograms on their way

    def audio(self):
        """A − B of the versions compared (None without a B); computed once per pair."""
        w = self.win
        a_id, b_id = w.compare
        a, b = w.history.get(a_id), w.history.get(b_id)
        if a is None or b is None or a.audio.shape != b.audio.shape:
            return None
        key = (w.doc_id, a_id, b_id)
        if self._cache is None or self._cache[0] != key:
            self._cache = (key, np.subtract(a.audio, b.audio, dtype=np.float32))  # one allocation, no copy
        return self._cache[1]

    def show_spectrogram(self) -> None:
        w = self.win
        a_id, b_id = w.compare
        key = (w.doc_id, a_id, b_id)
        mel = self.mels.get(key)
        ref = w.history.mels.get(a_id)
        if mel is None:
            w.spec.set_mel(None)
            w.spec.set_message("Computing spectrogram…")
            r = self.audio()
            if r is not None and not any(k == key and w.runner.is_live(j) for j, k in self._jobs.items()):
                sr = w.history.get(a_id).sample_rate
                job = w.runner.submit("mel", lambda c: display_mel(r, sr), label="mel",
                                      on_returned=lambda mel: self._mel_done(key, mel),
                                      on_errored=lambda _err: w.update_actions(), on_aborted=w.update_actions,
                                      on_finished=lambda: self._jobs.pop(job, None))
                self._jobs[job] = key
        else:
            w.spec.set_message(None)
            w.spec.set_mel(mel, mel_levels(ref) if ref is not None else None)
        label = w.compare_view.version_label
        w.spec_tag.setText(f"R · removed: {label(a_id)} − {label(b_id)}  ·  {MEL_TAG}")
        w.spec_tag.adjustSize()

    def _mel_done(self, key, value) -> None:
        if key[0] != self.win.doc_id:
            return
        if len(self.mels) > 4:
            self.mels.clear()
        self.mels[key] = value
        if self.win.ab == 2:
            self.win.compare_view.show_spectrogram()
