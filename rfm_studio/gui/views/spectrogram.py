"""Log-mel spectrogram view (the model's representation: MelConfig's bands and frame rate)."""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF

from ...core.features.mel import MelConfig, hz_to_mel_slaney
from .base import TimePlot

_MEL = MelConfig()
FPS = _MEL.fps
N_MELS = _MEL.n_mels
F_MAX = _MEL.f_max
HZ_TICKS = (100, 250, 500, 1000, 2000, 4000, 8000)


def hz_to_bin(hz: float) -> float:
    m = hz_to_mel_slaney(hz)
    top = hz_to_mel_slaney(F_MAX)
    return float(m / top * N_MELS)


class SpectrogramView(TimePlot):
    def __init__(self, parent=None):
        super().__init__(parent, ruler="none")
        self.image = pg.ImageItem()
        self.addItem(self.image)
        self.vb.setYRange(0, N_MELS, padding=0)
        self.vb.setLimits(yMin=0, yMax=N_MELS)
        ticks = [(hz_to_bin(h), (f"{h // 1000}k" if h >= 1000 else str(h))) for h in HZ_TICKS]
        ax = self.plotItem.getAxis("left")
        ax.setTicks([ticks])
        ax.setLabel("Hz")
        self.levels = None
        self.mel = None

    def style(self, colors) -> None:
        super().style(colors)
        self.image.setColorMap(pg.colormap.get(colors.heat_map))

    def set_mel(self, mel: np.ndarray | None, levels=None, offset_s: float = 0.0) -> None:
        """mel: [n_mels, frames] log-mel at MelConfig's frame rate. ``levels`` keeps A and B on one colour scale."""
        self.mel = mel
        if mel is None or mel.size == 0:
            self.image.clear()
            return
        if levels is None:
            levels = mel_levels(mel)
        self.levels = levels
        self.image.setImage(mel, levels=levels, autoLevels=False)
        self.image.setRect(QRectF(offset_s, 0.0, mel.shape[1] / FPS, float(mel.shape[0])))


def mel_levels(mel: np.ndarray) -> tuple[float, float]:
    hi = float(np.percentile(mel, 99.7))
    lo = max(float(np.percentile(mel, 2.0)), hi - 12.0)
    return (lo, hi if hi > lo else lo + 1.0)
