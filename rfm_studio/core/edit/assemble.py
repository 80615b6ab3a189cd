"""Stages 6-10 of an edit: the windows' mels merged, scaled by strength, rendered back to audio
at the input's rate and channels, spliced into the clip; the attention maps merged."""

from __future__ import annotations

import numpy as np
import torch

from ..audio import windows
from ..audio.windows import overlap_add, plan_windows
from ..render import render_mask, render_vocoder
from .inputs import EditInputs
from .plan import OVERLAP_S, SpanPlan
from .window import WindowResult

REGION_FADE_S = 0.02


def merge_windows(results: list[WindowResult], n_frames: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The span's edited mel and its codec reference mel (None when not computed), each the
    windows' mels crossfaded."""
    mel = overlap_add([(r.offset, r.mel) for r in results], n_frames)
    refs = [(r.offset, r.reference) for r in results if r.reference is not None]
    return mel, (overlap_add(refs, n_frames) if refs else None)


def apply_strength(mel: np.ndarray, reference: np.ndarray | None, strength: float) -> np.ndarray:
    """Strength scales the model's change of the mel: 0 none, 1 as predicted, 2 doubles it."""
    if strength == 1.0:
        return mel
    return reference + strength * (mel - reference)


def decode_overlap_add(model, plan: SpanPlan, mel: np.ndarray) -> np.ndarray:
    """The vocoder over the span's mel in overlapping windows (each started from the span's own
    samples), crossfaded: the span's 16 kHz mono waveform."""
    hop = plan.hop
    span = plan.samples
    chunks = []
    with torch.no_grad():
        for a, b in plan_windows(0, mel.shape[-1], model.window_frames, int(OVERLAP_S * 100)):
            init = torch.from_numpy(span[a * hop: (b - 1) * hop])[None]
            w = model.vocoder(torch.from_numpy(mel[:, a:b])[None].to(model.device), length=(b - a - 1) * hop,
                              init_audio=init.to(model.device)).float().cpu().numpy()[0]
            chunks.append((a * hop, w))
        return overlap_add(chunks, len(span))


def input_span(inputs: EditInputs, plan: SpanPlan, sr16: int) -> tuple[int, int]:
    """The span in samples of the input: a span that reaches the end of the 16 kHz mix reaches the
    end of the clip (rounding the rate conversion could leave its last sample unedited)."""
    sr = inputs.sample_rate
    n = inputs.audio.shape[0]
    start = int(round(plan.start * sr / sr16))
    end = n if plan.end >= len(plan.mix) else min(n, int(round(plan.end * sr / sr16)))
    return start, end


def render_span(model, inputs: EditInputs, plan: SpanPlan, mel: np.ndarray, reference: np.ndarray | None):
    """The edited span at the input's rate and channels: the source's own spectrum changed by the
    mel's change (render "mask"), or the vocoder's waveform (decode_overlap_add)."""
    mc = model.mel_config
    start, end = input_span(inputs, plan, mc.sample_rate)
    src = inputs.audio[start:end]
    if inputs.params["render"] == "mask":
        return render_mask(src, inputs.sample_rate, reference, mel, model.vocoder, mc,
                           threshold=float(model.info.get("mask_threshold", 0.1)))
    return render_vocoder(src, inputs.sample_rate, decode_overlap_add(model, plan, mel), mc)


def splice_region(inputs: EditInputs, plan: SpanPlan, edited_span: np.ndarray, sr16: int) -> np.ndarray:
    """The clip with the edited span in place; with a region, the clip outside it sample for
    sample, with REGION_FADE_S crossfades inside its edges. Trimmed to the request's length."""
    audio, sr = inputs.audio, inputs.sample_rate
    start, end = input_span(inputs, plan, sr16)
    edited = audio.copy()
    edited[start:end] = edited_span[: end - start]
    edited = windows.splice_region(audio, edited, plan.region, sr, REGION_FADE_S)
    return edited[:inputs.n_samples]


def merge_attention(results: list[WindowResult], plan: SpanPlan, steps: int, n_tokens: int,
                    total_frames: int) -> np.ndarray | None:
    """[steps, tokens, frames of the whole clip at 100 fps]: each window's maps where it lies (the
    larger where windows overlap); None when attention was not captured."""
    chunks = [(r.offset, r.attention) for r in results if r.attention is not None]
    if not chunks:
        return None
    attention = np.zeros((steps, n_tokens, total_frames), dtype=np.float32)
    off = plan.start // plan.hop
    for start, arr in chunks:
        m = min(arr.shape[-1], total_frames - off - start)
        attention[:, :, off + start: off + start + m] = np.maximum(attention[:, :, off + start: off + start + m],
                                                                   arr[:, :, :m])
    return attention
