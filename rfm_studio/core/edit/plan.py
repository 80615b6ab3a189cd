"""Stage 2 of an edit: the span of the clip's 16 kHz mono mix that the model hears (the whole
clip, or a region with CONTEXT_S each side) and the overlapping windows covering it."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..audio.io import resample, to_mono
from ..audio.windows import check_region, plan_windows
from .inputs import EditInputs

OVERLAP_S = 1.5
# seconds of the clip each side of a region that the model hears (and may change before the
# splice): with 3 s instead of 1 s the embedded model's region edits gained 0.160 instead of
# 0.127 on the validation triplets (benchmarks/edit_quality.py --region; 6 s: also 0.160)
CONTEXT_S = 3.0


@dataclass(frozen=True)
class SpanPlan:
    mix: np.ndarray  # the clip's mono mix at the model's rate (16 kHz)
    start: int  # the span [start, end) of ``mix`` that is edited
    end: int
    region: tuple | None  # (start, end) seconds, or None: the whole clip
    windows: tuple  # ((start, end) samples of ``mix``), each starting on a frame boundary
    hop: int  # samples per mel frame

    @property
    def samples(self) -> np.ndarray:
        return self.mix[self.start:self.end]

    def frame_of(self, sample: int) -> int:
        """The span's mel frame at which a window starting at ``sample`` begins."""
        return (sample - self.start) // self.hop


def plan_span(model, inputs: EditInputs, region) -> SpanPlan:
    mc = model.mel_config
    hop = mc.hop_length
    mix = resample(to_mono(inputs.audio), inputs.sample_rate, mc.sample_rate)
    n16 = len(mix)
    dur = inputs.audio.shape[0] / inputs.sample_rate
    if region is not None:
        r0, r1 = check_region(region, dur)
        start = max(0, int((r0 - CONTEXT_S) * mc.sample_rate))
        end = min(n16, int(math.ceil((r1 + CONTEXT_S) * mc.sample_rate)))
        region = (r0, r1)
    else:
        start, end = 0, n16
    windows = plan_windows(start, end, model.window_frames * hop, int(OVERLAP_S * mc.sample_rate))
    # windows start on frame boundaries so their mels line up with the span's mel
    windows = tuple((start + ((a - start) // hop) * hop, b) for a, b in windows)
    return SpanPlan(mix, start, end, region, windows, hop)


def region_frames(start16: int, n_latent: int, n_mel: int, hop: int, sr16: int, r0: float, r1: float) -> np.ndarray:
    """[n_latent] float32: 1 on the frames of a window (starting at sample ``start16`` of the
    16 kHz clip) that lie inside the region [r0, r1] seconds, else 0."""
    t = (start16 + np.arange(n_mel) * hop) / sr16
    inside = ((t >= r0) & (t <= r1)).astype(np.float32)
    if n_latent != n_mel:
        inside = inside[np.minimum((np.arange(n_latent) * n_mel) // n_latent, n_mel - 1)]
    return inside


def pad_end(x: np.ndarray, n: int) -> np.ndarray:
    """``x`` lengthened to ``n`` samples by mirroring its end (repeatedly when ``x`` is short)."""
    need = n - len(x)
    if need <= 0:
        return x
    if len(x) < 2:
        return np.pad(x, (0, need))
    return np.pad(x, (0, need), mode="reflect")
