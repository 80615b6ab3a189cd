"""Cross-attention analysis: the live heatmap during an edit, token trajectories, the step
slider/animation after it, and the PNG / .npz exports.

Owns the two views (placed by the main window under the waveform so their time axes
line up) and a controls bar. Live events are drawn through a newest-wins throttle.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QCheckBox, QComboBox, QHBoxLayout, QLabel, QMenu, QSlider, QToolButton, QWidget

from ..core.events import StepEvent
from .jobs import Throttle
from .views.attention import FUNCTION_TIP, PER_WORD_TIP, SHARED_TIP, AttentionView, save_npz
from .views.trajectories import TokenChips, TrajectoryView, default_picks, step_text


class AttentionPanel(QObject):
    export_png_requested = Signal()
    export_npz_requested = Signal()

    def __init__(self, parent=None, throttle_s: float = 0.05):
        super().__init__(parent)
        self.heatmap = AttentionView()
        self.trajectories = TrajectoryView()
        self.controls = QWidget()
        self.controls.setFixedHeight(36)  # chips appearing must not re-layout the plots above
        lay = QHBoxLayout(self.controls)
        lay.setContentsMargins(8, 2, 8, 2)
        lay.setSpacing(6)
        self.play = QToolButton()
        self.play.setText("▶")
        self.play.setToolTip("Animate the steps")
        self.play.setCheckable(True)
        self.play.toggled.connect(self._animate)
        self.slider = QSlider(Qt.Horizontal)
        self.slider.setRange(1, 1)
        self.slider.setMinimumWidth(70)
        self.slider.setMaximumWidth(180)
        self.slider.valueChanged.connect(self._show_step)
        self.step_label = QLabel("step –")
        self.step_label.setMinimumWidth(60)
        self.chips = TokenChips()
        self.chips.changed.connect(self.trajectories.set_picks)
        self.scale = QComboBox()  # the colour scale: one for all words, or each word on its own
        self.scale.addItem("Shared scale", False)
        self.scale.addItem("Per word", True)
        self.scale.setItemData(0, SHARED_TIP, Qt.ToolTipRole)
        self.scale.setItemData(1, PER_WORD_TIP, Qt.ToolTipRole)
        self.scale.setToolTip("Colour scale of the heatmap (the colour bar on its right gives the values)")
        self.scale.currentIndexChanged.connect(lambda _i: self.heatmap.set_per_token(self.scale.currentData()))
        self.function_words = QCheckBox("Function words")
        self.function_words.setToolTip(f"{FUNCTION_TIP}: hidden when off, dimmed when on")
        self.function_words.toggled.connect(self.heatmap.set_show_function_words)
        self.export = QToolButton()
        self.export.setText("Export")
        self.export.setPopupMode(QToolButton.InstantPopup)
        menu = QMenu(self.export)
        self.png = menu.addAction("Heatmap as PNG…", self.export_png_requested.emit)
        self.npz = menu.addAction("Raw maps as .npz…", self.export_npz_requested.emit)
        self.export.setMenu(menu)
        title = QLabel("Step")
        title.setObjectName("hint")
        words = QLabel("Words")
        words.setObjectName("hint")
        for w in (title, self.play, self.slider, self.step_label, words, self.chips):
            lay.addWidget(w, 3 if w is self.slider else 0)
        lay.addStretch(1)
        for w in (self.scale, self.function_words, self.export):
            lay.addWidget(w)
        self.anim = QTimer(self)
        self.anim.setInterval(160)
        self.anim.timeout.connect(self._next_frame)
        self.throttle = Throttle(self._draw_live, throttle_s, self)
        # state
        self.maps: np.ndarray | None = None  # [steps, tokens, frames] of the shown edit
        self.tokens: tuple[str, ...] = ()
        self.times: list[float] = []
        self.meta: dict = {}
        self._canvas: np.ndarray | None = None
        self._total_frames = 0
        self.live_draws = 0
        self._set_enabled(False)

    def style(self, colors):
        self.heatmap.style(colors)
        self.trajectories.style(colors)

    def _set_enabled(self, on: bool):
        for w in (self.slider, self.play, self.export):
            w.setEnabled(on)

    # -- live --------------------------------------------------------------------------
    def begin_live(self, total_frames: int, region: bool = False) -> None:
        """A new edit starts: the clip has ``total_frames`` (100 fps); each StepEvent's
        ``frame_offset`` places its window's map in the clip. ``region``: a region edit (the
        frames outside the model's context stay empty and are drawn as such)."""
        self.heatmap.context_only = bool(region)
        self.throttle.clear()
        self.play.setChecked(False)
        self._canvas = None
        self._total_frames = int(total_frames)
        self.maps = None
        self.live_draws = 0
        self.heatmap.clear_map("Waiting for the first step…")
        self.trajectories.clear_map()
        self._set_enabled(False)

    def push(self, ev: StepEvent) -> None:
        if ev.attention is None:
            return
        att = ev.attention
        if self._canvas is None or self._canvas.shape[0] != att.shape[0]:
            self._canvas = np.zeros((att.shape[0], self._total_frames), dtype=np.float32)
            self.tokens = tuple(ev.tokens)
            picks = default_picks(self.tokens)
            self.chips.set_tokens(self.tokens, picks)
            self.trajectories.set_tokens(self.tokens, picks)
        a = int(ev.frame_offset)
        m = max(0, min(att.shape[1], self._total_frames - a))
        self._canvas[:, a:a + m] = att[:, :m]
        self.throttle.push((ev.step, ev.total, ev.t))

    def _draw_live(self, info):
        step, total, t = info
        if self._canvas is None:
            return
        self.heatmap.set_map(self._canvas, self.tokens)
        self.trajectories.set_map(self._canvas)
        self.step_label.setText(step_text(step, total, t))
        self.live_draws += 1

    def end_live(self) -> None:
        self.throttle.flush()

    # -- after an edit -----------------------------------------------------------------
    def show_maps(self, maps: np.ndarray | None, tokens, meta: dict | None = None, times=None) -> None:
        """Show stored maps [steps, tokens, frames] (None: nothing captured)."""
        self.throttle.clear()
        self.play.setChecked(False)
        self.maps = maps
        self.meta = dict(meta or {})
        self.times = list(times or [])
        self.heatmap.context_only = bool(self.meta.get("region"))
        if maps is None or maps.size == 0:
            self.tokens = ()
            self.chips.set_tokens((), [])
            self.heatmap.clear_map("No cross-attention for this version" if self.meta else
                               "Cross-attention appears here while an edit runs")
            self.trajectories.clear_map()
            self.step_label.setText("step –")
            self._set_enabled(False)
            return
        tokens = tuple(tokens)
        if tokens != self.tokens or tokens != self.chips.tokens:
            self.tokens = tokens
            picks = default_picks(tokens)
            self.chips.set_tokens(tokens, picks)
            self.trajectories.set_tokens(tokens, picks)
        self.heatmap.set_tokens(tokens)
        self._set_enabled(True)
        self.slider.blockSignals(True)
        self.slider.setRange(1, maps.shape[0])
        self.slider.setValue(maps.shape[0])
        self.slider.blockSignals(False)
        self._show_step(maps.shape[0])

    def _show_step(self, step: int):
        if self.maps is None:
            return
        step = max(1, min(step, self.maps.shape[0]))
        m = self.maps[step - 1]
        self.heatmap.set_map(m, self.tokens)
        self.trajectories.set_map(m)
        self.step_label.setText(step_text(step, self.maps.shape[0]))

    def _animate(self, on: bool):
        if on and self.maps is not None:
            if self.slider.value() >= self.slider.maximum():
                self.slider.setValue(1)
            self.anim.start()
            self.play.setText("⏸")
        else:
            self.anim.stop()
            self.play.setText("▶")

    def _next_frame(self):
        v = self.slider.value()
        if v >= self.slider.maximum():
            self.play.setChecked(False)
        else:
            self.slider.setValue(v + 1)

    # -- export ------------------------------------------------------------------------
    def has_maps(self) -> bool:
        return self.maps is not None and self.maps.size > 0

    def save_png(self, path):
        return self.heatmap.save_png(path)

    def save_npz(self, path):
        if not self.has_maps():
            raise ValueError("There are no attention maps to export; run an edit with attention capture on.")
        return save_npz(path, self.maps, self.tokens, instruction=self.meta.get("instruction", ""),
                        params=self.meta, layers=str(self.meta.get("attention_layers", "all")))
