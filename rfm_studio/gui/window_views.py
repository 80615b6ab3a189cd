"""What the main window shows (a controller MainWindow composes): the versions compared as A
and B (or R, what B removed) in the waveform, the spectrogram, the attention views, the player
and the History, and the views' zoom. ``CompareWindow`` lists everything it uses of the window."""

from __future__ import annotations

from typing import TYPE_CHECKING, Optional, Protocol

from ..core.features.mel import MelConfig
from .views.spectrogram import mel_levels

MEL_TAG = f"log-mel {MelConfig().n_mels} bands"  # what display_mel shows: the model's front end

if TYPE_CHECKING:
    from PySide6.QtWidgets import QLabel

    from .attention_panel import AttentionPanel
    from .edit_panel import EditPanel
    from .history import History, HistoryPanel
    from .playback import Player
    from .session import SessionController
    from .views.spectrogram import SpectrogramView
    from .views.waveform import WaveformView
    from .window_actions import WindowActions
    from .window_edit import EditController
    from .window_report import RemovedSound


class CompareWindow(Protocol):
    history: History
    history_panel: HistoryPanel
    wave: WaveformView
    spec: SpectrogramView
    spec_tag: QLabel
    player: Player
    attn: AttentionPanel
    panel: EditPanel
    acts: WindowActions
    removed: RemovedSound
    editing: EditController
    autosave: SessionController
    compare: tuple
    ab: int
    region: Optional[tuple[float, float]]
    duration: float

    def request_mel(self, vid: int) -> None: ...
    def update_actions(self) -> None: ...


class CompareView:
    def __init__(self, win: CompareWindow):
        self.win = win

    def version_label(self, vid) -> str:
        w = self.win
        v = w.history.get(vid)
        if v is None:
            return ""
        return "Original" if v.is_source else f"{v.id}: {v.title()}"

    def set_compare(self, a_id, b_id) -> None:
        w = self.win
        if a_id is None:
            a_id = 0
        if b_id == a_id:
            b_id = None
        w.compare = (a_id, b_id)
        if b_id is None:
            w.ab = 0
        self.refresh()

    def refresh(self) -> None:
        """Show the compared versions A and B (or R) in every view and the player."""
        w = self.win
        a_id, b_id = w.compare
        a, b = w.history.get(a_id), w.history.get(b_id)
        if b is None:
            w.ab = 0
        sel = w.ab
        (w.acts.a_a, w.acts.a_b, w.acts.a_r)[sel].setChecked(True)
        w.history_panel.refresh(a_id, b_id)
        if a is None:
            w.wave.set_audio(None, None, 1)
            w.spec.set_mel(None)
            return
        labels = (f"A  {self.version_label(a_id)}", f"B  {self.version_label(b_id)}")
        w.wave.set_audio(a.audio, b.audio if b is not None else None, a.sample_rate, labels)
        w.wave.set_active(min(sel, 1))
        w.player.match_loudness = w.acts.a_match.isChecked()
        w.player.set_sources(a.audio, b.audio if b is not None else None, a.sample_rate, w.removed.audio())
        w.player.select(sel)
        self.show_spectrogram()
        shown = b if b is not None else a
        if not w.editing.busy and (shown.attention is not None or not shown.is_source):
            w.attn.show_maps(shown.attention, shown.tokens, {"instruction": shown.instruction, **shown.params})
        cur = w.history.get(w.history.current)
        w.panel.region_label.setToolTip(f"Edits apply to version {cur.id}: {cur.title()}" if cur else "")
        w.update_actions()
        w.autosave.schedule()

    def show_spectrogram(self) -> None:
        w = self.win
        a_id, b_id = w.compare
        sel = w.ab if b_id is not None else 0
        vid = b_id if sel == 1 else a_id
        if sel == 2:
            return w.removed.show_spectrogram()
        mel = w.history.mels.get(vid)
        ref = w.history.mels.get(a_id)
        levels = mel_levels(ref) if ref is not None else None
        if mel is None:
            w.spec.set_mel(None)
            w.spec.set_message("Computing spectrogram…")
            w.request_mel(vid)
        else:
            w.spec.set_message(None)
            w.spec.set_mel(mel, levels)
        w.spec_tag.setText(f"{'AB'[sel]} · {self.version_label(vid)}  ·  {MEL_TAG}")
        w.spec_tag.adjustSize()

    def zoom_fit(self) -> None:
        w = self.win
        if w.duration:
            w.wave.vb.setXRange(0.0, w.duration, padding=0)

    def zoom_selection(self) -> None:
        w = self.win
        if w.region:
            w.wave.vb.setXRange(*w.region, padding=0.02)

    def zoom(self, factor: float) -> None:
        w = self.win
        (x0, x1), _ = w.wave.vb.viewRange()
        c, h = (x0 + x1) / 2, (x1 - x0) / 2 * factor
        w.wave.vb.setXRange(max(0.0, c - h), min(w.duration, c + h), padding=0)
