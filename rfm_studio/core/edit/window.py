"""Stages 3-5 of an edit: the conditioning, then per window its latent and the sampler's steps."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from ..events import StepEvent
from ..model.attention import AttentionStore
from ..sampling import sample_window
from ..seeding import make_generator, nth_seed
from .plan import SpanPlan, pad_end, region_frames


@dataclass(frozen=True)
class Conditioning:
    text: tuple  # the instruction's (hidden states, mask)
    prompt: tuple | None  # the audio prompts' (tokens, mask, gate), or None
    tokens: tuple  # attention rows shown to the user: the words, then "[example]", "[reference]"
    token_rows: list  # per row, the indices of the network's tokens summed into it


def encode_conditioning(model, req) -> Conditioning:
    """The instruction and the audio prompts as the network's context; every window hears every
    prompt, so a marked example finds its sound anywhere in the clip."""
    with torch.no_grad():
        cond = model.encode_instruction([req.instruction])
        prompt = model.encode_prompts(req.prompts)
    shown = model.text_encoder.display_tokens(req.instruction)
    tokens = tuple(w for w, _ in shown)
    rows = [idx for _, idx in shown]
    if prompt is not None:  # attention rows for the prompts: "[example]", "[reference]"
        per = prompt[0].shape[1] // len(req.prompts)
        n_text = cond[0].shape[1]
        tokens += tuple(f"[{q.kind}]" for q in req.prompts)
        rows += [list(range(n_text + i * per, n_text + (i + 1) * per)) for i in range(len(req.prompts))]
    return Conditioning(cond, prompt, tokens, rows)


def encode_span_mel(model, plan: SpanPlan) -> np.ndarray:
    """[n_mels, frames] log-mel of the whole span (its frame count is the merged mel's)."""
    with torch.no_grad():
        return model.mel(torch.from_numpy(plan.samples)[None].to(model.device))[0].float().cpu().numpy()


@dataclass
class EncodedWindow:
    index: int
    start: int  # samples of the 16 kHz mix
    frames: int  # mel frames of the window
    padded_frames: int  # frames the network works on (a multiple of frame_multiple)
    gain: float  # peak normalisation applied before the mel
    latent: torch.Tensor  # the codec's latent of the window's mel
    region_mask: torch.Tensor | None  # [1, latent frames] for networks with a region channel
    reference: np.ndarray | None  # the window's mel through the codec (see EditInputs.need_reference)


def encode_window(model, plan: SpanPlan, index: int, need_reference: bool) -> EncodedWindow:
    a, b = plan.windows[index]
    hop = plan.hop
    dev = model.device
    seg = plan.mix[a:b]
    frames = model.mel_config.frames(len(seg))
    mult = model.frame_multiple
    padded = int(math.ceil(frames / mult) * mult)
    # the network works on a multiple of frame_multiple frames: the window is padded by
    # mirroring its end, not with silence, which the model would hear as the clip fading
    # out (and fade the last frames of its edit with it)
    seg_padded = pad_end(seg, (padded - 1) * hop)
    gain = 1.0
    if model.peak_normalize:
        peak = float(np.abs(seg_padded).max())
        gain = model.peak_normalize / peak if peak > 1e-6 else 1.0
    wav = torch.from_numpy(seg_padded * gain)[None].to(dev)
    with torch.no_grad():
        mel = model.mel(wav)[..., :padded]
        latent = model.codec.encode(mel)  # float32: networks cast to their own dtype
    region_mask = None
    if plan.region is not None and getattr(model.denoiser, "has_region_channel", False):
        r0, r1 = plan.region
        region_mask = torch.from_numpy(region_frames(a, latent.shape[-1], padded, hop, model.mel_config.sample_rate,
                                                     r0, r1))[None].to(dev)
    reference = None
    if need_reference:
        with torch.no_grad():
            reference = model.codec.decode(latent)[0, :, :frames].float().cpu().numpy()
    return EncodedWindow(index, a, frames, padded, gain, latent, region_mask, reference)


@dataclass(frozen=True)
class WindowResult:
    offset: int  # the window's first frame in the span's mel
    mel: np.ndarray  # [n_mels, frames] the edited mel, peak normalisation undone
    reference: np.ndarray | None  # the window's codec reference mel, likewise
    attention: np.ndarray | None  # [steps, tokens, frames], or None when not captured
    steps: int  # sampler steps run (StepEvents yielded)


def denoise_window(model, window: EncodedWindow, plan: SpanPlan, cond: Conditioning, params: dict, req, cancel,
                   step0: int, total: int, sampler=None, context=None):
    """The sampler over one window, seeded ``nth_seed(seed, index)``: yields a StepEvent per step
    (``step0`` steps of earlier windows came before), returns the window's WindowResult.
    ``sampler``, ``context``: the edit's EulerSampler and ``sampling.sampling_context``, shared by
    its windows (None: built for this window)."""
    frames = window.frames
    strength = params["strength"]
    store = AttentionStore(req.attention_layers) if req.capture_attention else None
    generator = make_generator(nth_seed(params["seed"], window.index))
    steps_att = []
    it = sample_window(model, window.latent, cond.text, steps=params["steps"], t_start=params["t_start"],
                       guidance=params["guidance"], generator=generator, cancel=cancel, store=store,
                       frames=window.padded_frames, region=window.region_mask, draws=params["draws"],
                       prompt=cond.prompt, sampler=sampler, context=context)
    done = step0
    while True:
        try:
            step = next(it)
        except StopIteration as stop:
            x = stop.value
            break
        done += 1
        att = None
        if step.attention is not None:
            att = step.attention[0]
            if cond.token_rows:
                att = np.stack([att[idx].sum(0) for idx in cond.token_rows])
            att = att[:, :frames]
            steps_att.append(att)
        preview = None
        if req.preview_every and (step.index % req.preview_every == 0 or step.index == step.total):
            with torch.no_grad():
                preview = model.codec.decode(step.x)[0, :, :frames].float().cpu().numpy()
            if strength != 1.0:
                preview = window.reference + strength * (preview - window.reference)
        yield StepEvent(done, total, step.t, window.index, len(plan.windows), att, window.start // plan.hop, preview,
                        cond.tokens)
    log_gain = math.log(window.gain)
    with torch.no_grad():
        mel = model.codec.decode(x)[0, :, :frames].float().cpu().numpy() - log_gain
    return WindowResult(plan.frame_of(window.start), mel,
                        window.reference - log_gain if window.reference is not None else None,
                        np.stack(steps_att) if steps_att else None, done - step0)
