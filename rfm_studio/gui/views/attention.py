"""Live cross-attention heatmap: instruction words (rows) x time (columns, aligned with the waveform).

``set_map`` draws one [tokens, frames] map; during an edit it is called once per
(throttled) step, after the edit the step slider picks a step of the stored
[steps, tokens, frames] maps. ``save_png`` / ``save_npz`` export the view and the raw maps.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt
from PySide6.QtWidgets import QLabel

from .base import LEFT_AXIS_WIDTH, TimePlot
from .colorbar import WIDTH as CB_WIDTH
from .colorbar import ColorBar
from ...core.features.mel import MelConfig

FPS = MelConfig().fps  # mel frames per second


def short(word: str, n: int = 11) -> str:
    return word if len(word) <= n else word[: n - 1] + "…"


def normalise_rows(m: np.ndarray) -> np.ndarray:
    """Each word's row scaled to [0, 1] over time (where does *this* word attend most)."""
    lo = m.min(axis=-1, keepdims=True)
    span = m.max(axis=-1, keepdims=True) - lo
    return (m - lo) / np.where(span > 1e-12, span, 1.0)


FUNCTION_TIP = "Function words (the, a, of, …)"
CONTEXT_TIP = ("Outside the model's context: a region edit only hears the selection and about 3 s around it, "
               "so these frames have no attention (and the audio here is unchanged).")
SHARED_TIP = ("Shared scale: the share of each time frame's attention that goes to the word (0 to 1, "
              "all words on one scale, so rows compare with each other).")
PER_WORD_TIP = ("Per word: each row scaled on its own from its lowest (0) to its highest (1) value; "
                "shows where a word attends, not how strongly compared with the others.")


def is_function_word(word: str) -> bool:
    from .trajectories import STOPWORDS

    w = word.strip().lower()
    return w in STOPWORDS or not any(c.isalnum() for c in w)


def context_runs(covered: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) frame runs where ``covered`` is False."""
    runs, start = [], None
    for i, c in enumerate(np.asarray(covered, bool).tolist() + [True]):
        if not c and start is None:
            start = i
        elif c and start is not None:
            runs.append((start, i))
            start = None
    return runs


class AttentionView(TimePlot):
    """Rows: the instruction's words (function words hidden unless ``show_function``, then
    dimmed); columns: time. ``per_token`` picks per-word scaling over the shared scale; the
    colour bar in the right margin gives the values; hovering reads out word, time and value;
    in a region edit the frames outside the model's context are hatched, with a tooltip."""

    def __init__(self, parent=None):
        super().__init__(parent, ruler="none")
        self.image = pg.ImageItem()
        self.addItem(self.image)
        self.vb.invertY(True)
        self.tokens: tuple[str, ...] = ()
        self.map: np.ndarray | None = None
        self.per_token = False
        self.show_function = False
        self.context_only = False  # a region edit: hatch the frames the model did not hear
        self.rows: list[int] = []  # token indices of the rows shown
        self.updates = 0  # how many maps were drawn (tests, diagnostics)
        self._offset = 0.0
        self._overlays = []
        self._colors = None
        self.colorbar = ColorBar(self)
        self.colorbar.hide()
        self.readout = QLabel(self)
        self.readout.setObjectName("tag")
        self.readout.setAttribute(Qt.WA_TransparentForMouseEvents)
        self.readout.hide()
        self.plotItem.getAxis("left").setTicks([[], []])
        self.vb.setLimits(yMin=0, yMax=1)
        self.vb.setYRange(0, 1, padding=0)
        self.vb.sigResized.connect(self._place_colorbar)
        self.scene().sigMouseMoved.connect(self._hover)
        self.set_message("Cross-attention appears here while an edit runs")

    def style(self, colors) -> None:
        super().style(colors)
        self._colors = colors
        cmap = pg.colormap.get(colors.heat_map)
        self.image.setColorMap(cmap)
        self.colorbar.set_colormap(cmap)
        self.colorbar.set_text_color(colors.muted)
        self.readout.setStyleSheet(f"QLabel#tag {{ color: {colors.text}; background: {colors.plot_bg}; "
                                   "padding: 1px 6px; border-radius: 3px; font-size: 8.5pt; }")
        if self.map is not None:
            self.set_map(self.map)

    # -- rows -----------------------------------------------------------------------
    def _pick_rows(self) -> list[int]:
        rows = list(range(len(self.tokens)))
        if self.show_function:
            return rows
        content = [i for i in rows if not is_function_word(self.tokens[i])]
        return content or rows

    def set_tokens(self, tokens) -> None:
        tokens = tuple(tokens)
        if tokens == self.tokens and self.rows:
            return
        self.tokens = tokens
        self._layout_rows()

    def _layout_rows(self) -> None:
        self.rows = self._pick_rows()
        ax = self.plotItem.getAxis("left")
        labels = [short(self.tokens[i]) if not is_function_word(self.tokens[i]) else f"({short(self.tokens[i], 9)})"
                  for i in self.rows]
        ax.setTicks([[(k + 0.5, w) for k, w in enumerate(labels)], []])
        n = max(1, len(self.rows))
        self.vb.setLimits(yMin=0, yMax=n)
        self.vb.setYRange(0, n, padding=0)

    def set_show_function_words(self, on: bool) -> None:
        self.show_function = bool(on)
        self._layout_rows()
        if self.map is not None:
            self.set_map(self.map)

    def set_per_token(self, on: bool) -> None:
        self.per_token = bool(on)
        if self.map is not None:
            self.set_map(self.map)

    def set_context_only(self, on: bool) -> None:
        self.context_only = bool(on)
        if self.map is not None:
            self.set_map(self.map)

    # -- drawing --------------------------------------------------------------------
    def levels(self) -> tuple[float, float]:
        if self.per_token or self.map is None:
            return 0.0, 1.0
        content = [i for i in self.rows if not is_function_word(self.tokens[i])] or self.rows
        hi = float(self.map[content].max()) if content and self.map.size else 0.0
        return 0.0, hi if hi > 0 else 1.0

    def set_map(self, att: np.ndarray | None, tokens=None, offset_s: float = 0.0) -> None:
        """att: [tokens, frames] at 100 fps starting at ``offset_s`` seconds."""
        if tokens is not None:
            self.set_tokens(tokens)
        self.map = att
        self._offset = offset_s
        self._clear_overlays()
        if att is None or att.size == 0:
            self.image.clear()
            self.colorbar.hide()
            return
        if len(self.rows) != len(self._pick_rows()) or (self.rows and max(self.rows) >= att.shape[0]):
            self._layout_rows()
        m = att[self.rows] if self.rows else att
        shown = normalise_rows(m) if self.per_token else m
        lo, hi = self.levels()
        self.image.setImage(shown, levels=(lo, hi), autoLevels=False)
        self.image.setRect(QRectF(offset_s, 0.0, att.shape[1] / FPS, float(shown.shape[0])))
        self.colorbar.set_range(lo, hi, PER_WORD_TIP if self.per_token else SHARED_TIP)
        self.colorbar.show()
        self._place_colorbar()
        self._draw_overlays(att)
        self.set_message(None)
        self.updates += 1

    def covered(self) -> np.ndarray | None:
        """Frames the model heard (a region edit leaves the rest exactly zero); None: all."""
        if self.map is None or not self.context_only:
            return None
        return np.abs(self.map).sum(axis=0) > 0

    def _clear_overlays(self):
        for it in self._overlays:
            self.removeItem(it)
        self._overlays = []

    def _draw_overlays(self, att):
        from PySide6.QtGui import QBrush, QColor
        from PySide6.QtWidgets import QGraphicsRectItem

        n = len(self.rows)
        bg = QColor(self._colors.plot_bg if self._colors else "#202020")
        bg.setAlpha(165)
        for k, i in enumerate(self.rows):  # dimmed function words
            if is_function_word(self.tokens[i]):
                r = QGraphicsRectItem(self._offset, k, att.shape[1] / FPS, 1)
                r.setBrush(QBrush(bg))
                r.setPen(pg.mkPen(None))
                r.setToolTip(f"{FUNCTION_TIP} are dimmed; they carry little of the edit")
                r.setZValue(5)
                self.addItem(r)
                self._overlays.append(r)
        cov = self.covered()
        if cov is None:
            return
        grey = QColor(self._colors.muted if self._colors else "#888888")
        for a, b in context_runs(cov):
            r = QGraphicsRectItem(self._offset + a / FPS, 0, (b - a) / FPS, n)
            fill = QColor(grey)
            fill.setAlpha(60)
            r.setBrush(QBrush(fill))
            r.setPen(pg.mkPen(None))
            r.setToolTip(CONTEXT_TIP)
            r.setZValue(6)
            self.addItem(r)
            hatch = QGraphicsRectItem(r.rect())
            grey.setAlpha(170)
            hatch.setBrush(QBrush(grey, Qt.BDiagPattern))
            hatch.setPen(pg.mkPen(None))
            hatch.setToolTip(CONTEXT_TIP)
            hatch.setZValue(7)
            self.addItem(hatch)
            self._overlays += [r, hatch]

    def _place_colorbar(self, *_):
        if "colorbar" not in self.__dict__:  # (a resize while the base class is built)
            return
        r = self.vb.sceneBoundingRect()
        top = self.mapFromScene(r.topLeft()).y()
        self.colorbar.setGeometry(self.width() - CB_WIDTH, int(top), CB_WIDTH, int(max(20, r.height())))

    def resizeEvent(self, ev):
        super().resizeEvent(ev)
        self._place_colorbar()

    # -- hover ----------------------------------------------------------------------
    def readout_at(self, x_s: float, y: float) -> str:
        """What the hover shows at time ``x_s`` (seconds) and row coordinate ``y``."""
        if self.map is None or not self.rows:
            return ""
        k = int(np.floor(y))
        f = int(np.floor((x_s - self._offset) * FPS))
        if not (0 <= k < len(self.rows)) or not (0 <= f < self.map.shape[1]):
            return ""
        cov = self.covered()
        i = self.rows[k]
        word = self.tokens[i] if i < len(self.tokens) else f"#{i}"
        if cov is not None and not cov[f]:
            return f"{x_s:.2f} s · outside the model's context (region edit)"
        raw = float(self.map[i, f])
        text = f"{word} · {x_s:.2f} s · {raw:.3f} ({raw * 100:.1f}% of the frame's attention)"
        if self.per_token:
            row = self.map[i]
            lo, hi = float(row.min()), float(row.max())
            text += f" · {(raw - lo) / (hi - lo) if hi > lo else 0.0:.2f} of this word's range"
        return text

    def _hover(self, pos):
        if self.map is None or not self.vb.sceneBoundingRect().contains(pos):
            self.readout.hide()
            return
        p = self.vb.mapSceneToView(pos)
        text = self.readout_at(p.x(), p.y())
        self.readout.setText(text)
        self.readout.adjustSize()
        self.readout.move(LEFT_AXIS_WIDTH + 6, 4)
        self.readout.setVisible(bool(text))

    def leaveEvent(self, ev):
        self.readout.hide()
        super().leaveEvent(ev)

    def clear_map(self, message: str | None = "Cross-attention appears here while an edit runs") -> None:
        self.map = None
        self._clear_overlays()
        self.image.clear()
        self.colorbar.hide()
        self.readout.hide()
        self.set_message(message)

    def save_png(self, path) -> Path:
        """The heatmap as shown (with its axes and colour bar) as a PNG."""
        p = Path(path)
        if not self.grab().save(str(p), "PNG"):
            raise OSError(f"Cannot write {p}.")
        return p


def save_npz(path, attention: np.ndarray, tokens, *, instruction: str = "", params: dict | None = None,
             layers: str = "all") -> Path:
    """Raw maps [steps, tokens, frames] (100 frames/s over the whole clip) with their labels."""
    import io

    from ...core.atomic import atomic_write_bytes

    p = Path(path)
    if p.suffix.lower() != ".npz":
        p = p.with_suffix(".npz")
    buf = io.BytesIO()
    np.savez_compressed(buf, attention=np.asarray(attention, dtype=np.float32),
                        tokens=np.array(list(tokens), dtype=str), fps=np.float32(FPS),
                        instruction=np.array(instruction), layers=np.array(layers),
                        params=np.array(json.dumps(params or {}, default=str)))
    atomic_write_bytes(p, buf.getvalue())
    return p
