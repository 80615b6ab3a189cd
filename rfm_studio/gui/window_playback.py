"""Playback in the main window (a controller MainWindow composes): play / pause, A / B / R at
the same sample, looping the region, loudness matching and the moving playhead. The player's
buffers are prepared in the window's I/O worker (resampling a long clip takes seconds); the
status bar's audio field says so meanwhile. ``PlaybackHost`` lists everything it uses of the window."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Optional, Protocol

from PySide6.QtCore import QTimer

from . import icons

PREPARING = "preparing playback…"

if TYPE_CHECKING:
    from PySide6.QtWidgets import QLabel

    from .jobs import JobRunner
    from .library.panel import LibraryPanel
    from .playback import AudioDevice
    from .playback import Player
    from .settings import Settings
    from .theme import Colors
    from .views.waveform import WaveformView
    from .window_actions import WindowActions
    from .window_views import CompareView


class PlaybackHost(Protocol):
    player: Player
    io: JobRunner
    settings: Settings
    acts: WindowActions
    wave: WaveformView
    views: list
    colors: Colors
    region: Optional[tuple[float, float]]
    compare: tuple
    ab: int
    cursor: float
    duration: float
    compare_view: CompareView
    audio_label: QLabel
    playback_banner: QLabel
    library: LibraryPanel

    def statusBar(self): ...
    def show_error(self, title: str, message: str, detail: str = "") -> None: ...
    def update_actions(self) -> None: ...


class PlaybackController:
    def __init__(self, win: PlaybackHost, parent=None):
        self.win = win
        self.timer = QTimer(parent)
        self.timer.setInterval(30)
        self.timer.timeout.connect(self.tick)
        self.device_text = "Audio: –"
        p = win.player
        p.io = win.io  # new versions are resampled there, not on the UI thread
        p.on_preparing = self.preparing
        p.on_error = self.deferred_error

    def find_device(self) -> None:
        """Probe the audio output in the I/O worker (importing sounddevice starts PortAudio);
        the window's player and the library panel's take the result."""
        from .playback import probe_device

        w = self.win
        self.device_text = "Audio: …"
        self.show_audio()
        w.player.reason = "Looking for the audio output device…"
        w.io.submit("audio-device", lambda _cancel: probe_device(), "find the audio device",
                    on_returned=self.device_found)

    def device_found(self, dev: AudioDevice) -> None:
        w = self.win
        if w.player.use_device(dev):
            self.device_text = f"Audio: {w.player.device_name}"
        else:
            self.device_text = "Audio: off"
            w.playback_banner.setText(f"⚠ {w.player.reason}")
            w.playback_banner.setToolTip("Editing and export work without an audio device; "
                                         "see Help ▸ Report a Problem for the diagnostics.")
            w.playback_banner.show()
            w.acts.a_play.setToolTip(w.player.reason)
        w.audio_label.setToolTip(w.player.reason)
        self.show_audio()
        w.library.use_device(dev)
        w.update_actions()

    def preparing(self, busy: bool) -> None:
        """The status bar's audio field says so while new versions are prepared (a passing
        message would hide the edit's own, which comes with the new version)."""
        self.show_audio()

    def show_audio(self) -> None:
        w = self.win
        busy = w.player.preparing and w.player.available
        w.audio_label.setText(self.device_text + (f" · {PREPARING}" if busy else ""))

    def deferred_error(self, text: str) -> None:
        """A play asked for while the buffers were prepared could not start."""
        self.win.statusBar().showMessage(text, 8000)
        self.update_play_action()

    def toggle_play(self) -> None:
        w, player, acts = self.win, self.win.player, self.win.acts
        if not player.available:
            w.statusBar().showMessage(player.reason, 5000)
            return
        try:
            if not player.playing:
                player.seek(w.cursor if not acts.a_loop.isChecked() or not w.region
                            else max(w.cursor, w.region[0]))
            playing = player.toggle()
        except Exception as exc:  # noqa: BLE001 - a device error must not end the session
            w.show_error("Playback failed", f"The audio device could not be opened ({str(exc)[:200]}).")
            return
        if playing:
            self.timer.start()
        self.update_play_action()

    def seek(self, seconds: float) -> None:
        w = self.win
        w.cursor = max(0.0, min(w.duration, float(seconds)))
        if w.player.available and w.player.frames:
            w.player.seek(w.cursor)
        for v in w.views:
            v.set_playhead(w.cursor)

    def toggle_ab(self) -> None:
        if self.win.compare[1] is None:
            return
        self.select_ab(0 if self.win.ab else 1)

    def select_ab(self, which: int) -> None:
        """Hear and show A (0), B (1) or R (2: what B removed from A); playback continues at the
        same sample."""
        w = self.win
        if which >= 1 and w.compare[1] is None:
            which = 0
        w.ab = which
        w.player.select(which)
        (w.acts.a_a, w.acts.a_b, w.acts.a_r)[which].setChecked(True)
        w.wave.set_active(min(which, 1))
        w.compare_view.show_spectrogram()

    def set_loop(self, on: bool) -> None:
        """Loop the selected region (the whole clip when nothing is selected)."""
        w = self.win
        w.player.set_loop((w.region or (0.0, w.duration)) if on else None)

    def set_match_loudness(self, on: bool) -> None:
        w = self.win
        w.settings.loudness_match = on
        w.player.set_match_loudness(on)
        if on and w.compare[1] is not None:
            g = 20 * math.log10(max(w.player.gain_b, 1e-9))
            w.statusBar().showMessage(f"B is played {g:+.1f} dB to match the loudness of A.", 5000)

    def tick(self) -> None:
        w = self.win
        playing = w.player.poll()
        pos = w.player.position
        for v in w.views:
            v.set_playhead(pos)
        if not playing:
            self.timer.stop()
            w.cursor = pos if pos > 0 else w.cursor
            self.update_play_action()

    def update_play_action(self) -> None:
        playing = self.win.player.playing
        a = self.win.acts.a_play
        a.setText("Pause" if playing else "Play")
        a.setIcon(icons.icon("pause" if playing else "play", self.win.colors.text))

    def stop(self) -> None:
        self.timer.stop()
