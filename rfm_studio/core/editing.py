"""One instruction-guided edit, end to end, as a generator of StepEvent returning EditResult.

    gen = run_edit(model, EditRequest(audio, sr, "Remove the dog barking"), cancel)
    for event in gen: ...            # StepEvent per Euler step (per window)
    result = gen.value               # via drive(); or catch StopIteration.value

Audio of any rate and channel count goes in; the model works on its 16 kHz mono mix in
windows of ``model.window_frames`` frames (10.24 s) overlapping by 1.5 s, whose edited
mels are crossfaded. The result has the input's rate, channels and length. With a
region, only that span changes (the model hears 3 s of context each side); outside it
the output equals the input sample for sample, with 20 ms crossfades inside its edges.
Networks with a region channel are also told which frames lie inside the region, so an
added event is placed there.
"""

from __future__ import annotations

import math
import time

import numpy as np
import torch

from .audio.io import resample, to_mono
from .audio.windows import check_region, overlap_add, plan_windows, splice
from .errors import AudioReadError, OptionError
from .events import MAX_STRENGTH, CancelToken, EditRequest, EditResult, StepEvent
from .model.attention import AttentionStore
from .render import render_mask, render_vocoder
from .sampling import sample_window

OVERLAP_S = 1.5
# seconds of the clip each side of a region that the model hears (and may change before the
# splice): with 3 s instead of 1 s the embedded model's region edits gained 0.160 instead of
# 0.127 on the validation triplets (benchmarks/edit_quality.py --region; 6 s: also 0.160)
CONTEXT_S = 3.0
REGION_FADE_S = 0.02
MIN_SECONDS = 0.25


MAX_SEED = 2**32 - 1


def check_options(steps=None, t_start=None, guidance=None, draws=None, strength=None, seed=None) -> None:
    """One sentence (OptionError) for a sampling option out of range; None: not given."""
    if seed is not None:
        try:
            ok = float(seed) == int(seed) and 0 <= int(seed) <= MAX_SEED
        except (TypeError, ValueError, OverflowError):
            ok = False
        if not ok:
            raise OptionError(f"Seed must be a whole number between 0 and {MAX_SEED}, got {seed}.")
    if steps is not None and not 1 <= int(steps) <= 2000:
        raise OptionError(f"Steps must be between 1 and 2000, got {steps}.")
    if t_start is not None and not 0.0 <= float(t_start) <= 1.0:
        raise OptionError(f"t_start must be between 0 and 1, got {float(t_start):g}.")
    if guidance is not None and (not math.isfinite(guidance) or guidance < 0 or guidance > 50):
        raise OptionError(f"Guidance must be between 0 and 50, got {float(guidance):g}.")
    if draws is not None and not 1 <= int(draws) <= 64:
        raise OptionError(f"Draws (noise samples averaged) must be between 1 and 64, got {draws}.")
    if strength is not None and (not math.isfinite(float(strength)) or not 0.0 <= float(strength) <= MAX_STRENGTH):
        raise OptionError(f"Strength must be between 0 and {MAX_STRENGTH:g}, got {float(strength):g}.")


def default_strength(model, region: bool) -> float:
    """The bundle's default strength: ``info.strength`` (1 when absent) for the whole clip,
    ``info.region_strength`` (else the same) within a region, where the sound outside
    cannot change and a model may push its edit harder."""
    s = model.info.get("strength", 1.0)
    s = model.info.get("region_strength", s) if region else s
    try:
        ok = s is not None and math.isfinite(float(s)) and 0.0 <= float(s) <= MAX_STRENGTH
    except (TypeError, ValueError):
        ok = False
    if not ok:
        key = "region_strength" if region and "region_strength" in model.info else "strength"
        raise OptionError(f"The model's default {key} ({s}) is not between 0 and {MAX_STRENGTH:g}; "
                          f"fix its model_index.json or give a strength.")
    return float(s)


def resolve_params(model, req: EditRequest) -> dict:
    f = model.flow
    steps = int(req.steps if req.steps is not None else f.steps)
    t_start = float(req.t_start if req.t_start is not None else f.t_start)
    guidance = float(req.guidance if req.guidance is not None else f.guidance)
    draws = int(req.draws if req.draws is not None else f.draws)
    strength = float(req.strength if req.strength is not None else default_strength(model, req.region is not None))
    check_options(steps, t_start, guidance, draws, strength, req.seed)
    seed = req.seed if req.seed is not None else int(np.random.SeedSequence().entropy % (2**31))
    return {"steps": steps, "t_start": t_start, "guidance": guidance, "draws": draws, "strength": strength,
            "seed": int(seed),
            "render": getattr(req, "render", None) or model.info.get("render", "vocoder")}


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


def check_audio(audio: np.ndarray, sr: int) -> np.ndarray:
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim not in (1, 2) or a.shape[0] == 0:
        raise AudioReadError("The clip holds no audio samples.")
    if not np.isfinite(a).all():
        raise AudioReadError("The clip contains invalid (NaN or infinite) samples.")
    if not 1000 <= int(sr) <= 768000:
        raise AudioReadError(f"Unsupported sample rate {sr} Hz.")
    return a


def run_edit(model, req: EditRequest, cancel: CancelToken | None = None):
    t0 = time.perf_counter()
    if not req.instruction or not req.instruction.strip():
        raise OptionError("The instruction is empty; describe the edit, for example 'Remove the dog barking'.")
    if req.prompts:  # "Add X" / "Replace A with B" with a reference sound: placed, not generated
        from .library.prompted import is_reference_edit, run_reference_edit

        if is_reference_edit(req):
            return (yield from run_reference_edit(model, req, cancel))
    audio = check_audio(req.audio, req.sample_rate)
    sr = int(req.sample_rate)
    p = resolve_params(model, req)
    n_orig = audio.shape[0]
    if req.region is not None:
        check_region(req.region, n_orig / sr)
    min_len = int(math.ceil(MIN_SECONDS * sr))
    if n_orig < min_len:  # very short clips are padded with silence and trimmed back
        audio = np.pad(audio, [(0, min_len - n_orig)] + [(0, 0)] * (audio.ndim - 1))
    mc = model.mel_config
    hop = mc.hop_length
    x16 = resample(to_mono(audio), sr, mc.sample_rate)
    n16 = len(x16)
    dur = audio.shape[0] / sr

    if req.region is not None:
        r0, r1 = check_region(req.region, dur)
        a16 = max(0, int((r0 - CONTEXT_S) * mc.sample_rate))
        b16 = min(n16, int(math.ceil((r1 + CONTEXT_S) * mc.sample_rate)))
    else:
        r0, r1 = 0.0, dur
        a16, b16 = 0, n16
    win = model.window_frames * hop
    windows = plan_windows(a16, b16, win, int(OVERLAP_S * mc.sample_rate))
    # windows start on frame boundaries so their mels line up with the span's mel
    windows = [(a16 + ((a - a16) // hop) * hop, b) for a, b in windows]

    dev = model.device
    with torch.no_grad():
        cond = model.encode_instruction([req.instruction])
        # every window hears every prompt: the marked example finds its sound anywhere in the clip
        prompt = model.encode_prompts(req.prompts)
    tokens = tuple(w for w, _ in model.text_encoder.display_tokens(req.instruction))
    word_idx = [idx for _, idx in model.text_encoder.display_tokens(req.instruction)]
    if prompt is not None:  # attention rows for the prompts: "[example]", "[reference]"
        per = prompt[0].shape[1] // len(req.prompts)
        L = cond[0].shape[1]
        tokens += tuple(f"[{q.kind}]" for q in req.prompts)
        word_idx += [list(range(L + i * per, L + (i + 1) * per)) for i in range(len(req.prompts))]
    total = p["steps"] * len(windows)
    span = x16[a16:b16]
    with torch.no_grad():
        mel_span = model.mel(torch.from_numpy(span)[None].to(dev))[0].float().cpu().numpy()
    f_span = mel_span.shape[-1]
    chunks, ref_chunks, att_chunks = [], [], []
    strength = p["strength"]
    # the clip's own mel through the codec, where strength or the mask render need it: the
    # model's change is measured from it, so a codec's reconstruction error is no edit
    need_ref = strength != 1.0 or p["render"] == "mask"
    done = 0
    for wi, (a, b) in enumerate(windows):
        seg = x16[a:b]
        frames = mc.frames(len(seg))
        mult = model.frame_multiple
        f_pad = int(math.ceil(frames / mult) * mult)
        # the network works on a multiple of frame_multiple frames: the window is padded by
        # mirroring its end, not with silence, which the model would hear as the clip fading
        # out (and fade the last frames of its edit with it)
        seg_p = pad_end(seg, (f_pad - 1) * hop)
        gain = 1.0
        if model.peak_normalize:
            peak = float(np.abs(seg_p).max())
            gain = model.peak_normalize / peak if peak > 1e-6 else 1.0
        wav = torch.from_numpy(seg_p * gain)[None].to(dev)
        store = AttentionStore(req.attention_layers) if req.capture_attention else None
        with torch.no_grad():
            mel = model.mel(wav)[..., :f_pad]
            x_orig = model.codec.encode(mel)  # float32: networks cast to their own dtype
        region_t = None
        if req.region is not None and getattr(model.denoiser, "has_region_channel", False):
            region_t = torch.from_numpy(region_frames(a, x_orig.shape[-1], f_pad, hop, mc.sample_rate, r0, r1))[None].to(dev)
        ref = None
        if need_ref:
            with torch.no_grad():
                ref = model.codec.decode(x_orig)[0, :, :frames].float().cpu().numpy()
        gen = torch.Generator().manual_seed(p["seed"] + wi)
        steps_att = []
        it = sample_window(model, x_orig, cond, steps=p["steps"], t_start=p["t_start"], guidance=p["guidance"],
                           generator=gen, cancel=cancel, store=store, frames=f_pad, region=region_t,
                           draws=p["draws"], prompt=prompt)
        while True:
            try:
                st = next(it)
            except StopIteration as stop:
                x = stop.value
                break
            done += 1
            att = None
            if st.attention is not None:
                att = np.stack([st.attention[0][idx].sum(0) for idx in word_idx]) if word_idx else st.attention[0]
                att = att[:, :frames]
                steps_att.append(att)
            preview = None
            if req.preview_every and (st.index % req.preview_every == 0 or st.index == st.total):
                with torch.no_grad():
                    preview = model.codec.decode(st.x)[0, :, :frames].float().cpu().numpy()
                if strength != 1.0:
                    preview = ref + strength * (preview - ref)
            yield StepEvent(done, total, st.t, wi, len(windows), att, a // hop, preview, tokens)
        with torch.no_grad():
            mel_out = model.codec.decode(x)[0, :, :frames].float().cpu().numpy() - math.log(gain)
        chunks.append(((a - a16) // hop, mel_out))
        if ref is not None:
            ref_chunks.append(((a - a16) // hop, ref - math.log(gain)))
        if steps_att:
            att_chunks.append(((a - a16) // hop, np.stack(steps_att)))
    mel_out_span = overlap_add(chunks, f_span)
    ref_span = overlap_add(ref_chunks, f_span) if ref_chunks else None
    if strength != 1.0:  # strength scales the model's change of the mel: 0 none, 2 doubles it
        mel_out_span = ref_span + strength * (mel_out_span - ref_span)

    # render the edited span back at the input's rate and channels
    s_in = int(round(a16 * sr / mc.sample_rate))
    # a span that reaches the end of the 16 kHz mix reaches the end of the clip (rounding the
    # rate conversion could leave its last sample unedited)
    e_in = audio.shape[0] if b16 >= n16 else min(audio.shape[0], int(round(b16 * sr / mc.sample_rate)))
    src = audio[s_in:e_in]
    if p["render"] == "mask":
        edited_span = render_mask(src, sr, ref_span, mel_out_span, model.vocoder, mc,
                                  threshold=float(model.info.get("mask_threshold", 0.1)))
    else:
        with torch.no_grad():
            wav_chunks = []
            for a, b in plan_windows(0, f_span, model.window_frames, int(OVERLAP_S * 100)):
                init = torch.from_numpy(span[a * hop: (b - 1) * hop])[None]
                w = model.vocoder(torch.from_numpy(mel_out_span[:, a:b])[None].to(dev), length=(b - a - 1) * hop,
                                  init_audio=init.to(dev)).float().cpu().numpy()[0]
                wav_chunks.append((a * hop, w))
            wav16 = overlap_add(wav_chunks, len(span))
        edited_span = render_vocoder(src, sr, wav16, mc)
    edited = audio.copy()
    edited[s_in:e_in] = edited_span[: e_in - s_in]
    if req.region is not None:
        out = splice(audio, edited, int(round(r0 * sr)), min(audio.shape[0], int(round(r1 * sr))),
                     int(REGION_FADE_S * sr))
    else:
        out = edited
    attention = None
    if att_chunks:
        # [steps, tokens, frames of the whole clip at 100 fps]
        n_steps = p["steps"]
        total_frames = mc.frames(n16)
        attention = np.zeros((n_steps, len(tokens), total_frames), dtype=np.float32)
        off = a16 // hop
        for start, arr in att_chunks:
            m = min(arr.shape[-1], total_frames - off - start)
            attention[:, :, off + start: off + start + m] = np.maximum(attention[:, :, off + start: off + start + m],
                                                                       arr[:, :, :m])
    mel_in_full = mel_span if req.region is None else None
    out = out[:n_orig]
    return EditResult(
        audio=out.astype(np.float32), sample_rate=sr, instruction=req.instruction,
        params={**p, "region": list(req.region) if req.region else None,
                "model": str(getattr(model, "source_folder", "")), "windows": len(windows),
                "prompts": [f"{q.kind}: {q.source}" for q in req.prompts] if prompt is not None else []},
        seconds=time.perf_counter() - t0, mel_in=mel_in_full, mel_out=mel_out_span if req.region is None else None,
        tokens=tokens, attention=attention,
    )


def drive(gen):
    """Run a core generator to the end; return its return value."""
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def edit(model, audio, sample_rate, instruction, cancel=None, **kw) -> EditResult:
    """Blocking convenience wrapper around ``run_edit``."""
    return drive(run_edit(model, EditRequest(audio=audio, sample_rate=sample_rate, instruction=instruction, **kw), cancel))
