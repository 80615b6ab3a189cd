"""Listening in the Fine-tuning tab, through the app's one player (the editor takes it back
when its tab is shown: it clears ``owns``). A file is decoded by the window's I/O worker
(``jobs.io_runner``: it does not wait behind a training run) and played when it arrives."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from ..tasks import read_clip

LANE = "finetune-listen"


class TabPlayer(QObject):
    message = Signal(str, bool)  # a sentence for the tab, warn
    playing = Signal(str)  # "Playing …", for the status bar

    def __init__(self, player, io, parent=None):
        super().__init__(parent)
        self.player = player
        self.io = io  # the JobRunner that decodes files (a newer request supersedes an older one)
        self.owns = False  # the tab's sound is in the player
        self._wanted = None  # the listen job whose sound is still wanted (stop() and giving the player back clear it)
        self._timer = QTimer(self)  # advances the player's position while it plays (as the editor does)
        self._timer.setInterval(100)
        self._timer.timeout.connect(self._poll)

    def play(self, audio, sr: int, label: str) -> bool:
        p = self.player
        if not p.available:
            self.message.emit(p.reason or "Playback is disabled.", True)
            return False
        try:
            p.pause()
            p.set_loop(None)
            p.set_sources(audio, None, sr)
            p.select(0)
            p.seek(0.0)
            p.play()
        except Exception as exc:  # noqa: BLE001 - a device error must not end the session
            self.message.emit(f"Playback failed ({str(exc)[:200]}).", True)
            return False
        self.owns = True
        self._timer.start()
        self.playing.emit(f"Playing {label}")
        return True

    def play_file(self, path: str) -> bool:
        """Decode ``path`` in the I/O worker, then play it; True when the read was queued."""
        if not path:
            return False
        label = Path(path).name
        job = self._wanted = self.io.submit(
            LANE, lambda c: read_clip(path), f"listen {label}",
            on_returned=lambda clip: self._decoded(job, clip, label),
            on_errored=lambda err: self.message.emit(
                err.message if err.user else f"{label} could not be read ({err.message}).", True))
        return True

    def _decoded(self, job: int, clip, label: str) -> None:
        if self._wanted != job:
            return  # stopped, or the editor took the player back, while it was decoded
        self._wanted = None
        self.play(clip.audio, clip.sample_rate, label)

    def cancel_pending(self) -> None:
        """A listen still being decoded is not played (the player is someone else's now)."""
        self._wanted = None
        self.io.cancel(LANE)

    def stop(self) -> None:
        self.cancel_pending()
        if self.owns:
            self.player.pause()

    def _poll(self):
        if not self.player.poll():
            self._timer.stop()

    def shutdown(self) -> None:
        self._timer.stop()
        self.io.cancel(LANE)
