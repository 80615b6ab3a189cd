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
from PySide6.QtCore import QRectF

from .base import TimePlot

FPS = 100.0


def short(word: str, n: int = 11) -> str:
    return word if len(word) <= n else word[: n - 1] + "…"


def normalise_rows(m: np.ndarray) -> np.ndarray:
    """Each word's row scaled to [0, 1] over time (where does *this* word attend most)."""
    lo = m.min(axis=-1, keepdims=True)
    span = m.max(axis=-1, keepdims=True) - lo
    return (m - lo) / np.where(span > 1e-12, span, 1.0)


class AttentionView(TimePlot):
    def __init__(self, parent=None):
        super().__init__(parent, ruler="none")
        self.image = pg.ImageItem()
        self.addItem(self.image)
        self.vb.invertY(True)
        self.tokens: tuple[str, ...] = ()
        self.map: np.ndarray | None = None
        self.per_token = True
        self.updates = 0  # how many maps were drawn (tests, diagnostics)
        self.plotItem.getAxis("left").setTicks([[], []])
        self.vb.setLimits(yMin=0, yMax=1)
        self.vb.setYRange(0, 1, padding=0)
        self.set_message("Cross-attention appears here while an edit runs")

    def style(self, colors) -> None:
        super().style(colors)
        self.image.setColorMap(pg.colormap.get(colors.heat_map))

    def set_tokens(self, tokens) -> None:
        tokens = tuple(tokens)
        if tokens == self.tokens:
            return
        self.tokens = tokens
        ax = self.plotItem.getAxis("left")
        ax.setTicks([[(i + 0.5, short(w)) for i, w in enumerate(tokens)], []])
        n = max(1, len(tokens))
        self.vb.setLimits(yMin=0, yMax=n)
        self.vb.setYRange(0, n, padding=0)

    def set_map(self, att: np.ndarray | None, tokens=None, offset_s: float = 0.0) -> None:
        """att: [tokens, frames] at 100 fps starting at ``offset_s`` seconds."""
        if tokens is not None:
            self.set_tokens(tokens)
        self.map = att
        if att is None or att.size == 0:
            self.image.clear()
            return
        shown = normalise_rows(att) if self.per_token else att
        hi = float(shown.max()) or 1.0
        self.image.setImage(shown, levels=(0.0, hi), autoLevels=False)
        self.image.setRect(QRectF(offset_s, 0.0, att.shape[1] / FPS, float(att.shape[0])))
        self.set_message(None)
        self.updates += 1

    def set_per_token(self, on: bool) -> None:
        self.per_token = bool(on)
        if self.map is not None:
            self.set_map(self.map)

    def clear_map(self, message: str | None = "Cross-attention appears here while an edit runs") -> None:
        self.map = None
        self.image.clear()
        self.set_message(message)

    def save_png(self, path) -> Path:
        """The heatmap as shown (with its axes) as a PNG."""
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
