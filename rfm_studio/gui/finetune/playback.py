"""Listening in the Fine-tuning tab, through the app's one player (the editor takes it back
when its tab is shown: it clears ``owns``)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal

from ...core.errors import RFMError


class TabPlayer(QObject):
    message = Signal(str, bool)  # a sentence for the tab, warn
    playing = Signal(str)  # "Playing …", for the status bar

    def __init__(self, player, parent=None):
        super().__init__(parent)
        self.player = player
        self.owns = False  # the tab's sound is in the player
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
        if not path:
            return False
        from ...core.audio.io import load_audio

        try:
            audio, sr = load_audio(path)
        except RFMError as exc:
            self.message.emit(str(exc), True)
            return False
        return self.play(audio, sr, Path(path).name)

    def stop(self) -> None:
        if self.owns:
            self.player.pause()

    def _poll(self):
        if not self.player.poll():
            self._timer.stop()

    def shutdown(self) -> None:
        self._timer.stop()
