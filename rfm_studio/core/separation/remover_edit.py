"""The remover engine (``--engine remover``): a "Remove X" by the sound remover's mel mask
(core/detection/remover.py), no flow model and no dictionary.

The remover hears the clip's 16 kHz mono mix in windows (with context), asked for X, and gives
the share of each log-mel bin that is X; what is kept, (1 - share) ** strength, is applied as
gains on the clip's own STFT at its own rate and channels. With a region, the remover hears the
region and CONTEXT_S of each side, and only the region changes (REGION_FADE_S crossfades inside
its edges). Marked examples are not used: the remover hears the text only. Not auto's choice.
"""

from __future__ import annotations

import time

import numpy as np



def check_remover(installed: bool | None = None) -> None:
    """ModelLoadError in one sentence when no sound remover is installed (models/sound-remover;
    ``installed``: already known)."""
    from ..detection.remover import remover_installed, shipped_remover_dir
    from ..errors import ModelLoadError

    if not (remover_installed() if installed is None else installed):
        raise ModelLoadError(f"No sound remover is installed ({shipped_remover_dir()}); train one with "
                             "'rfm-studio remover train' or use another --engine.")

def run_remover_edit(req, cancel=None, remover=None):
    """A "Remove X" on the sound remover: a core generator of ProgressEvents (2 stages: hearing
    where X plays, window by window with the cancel token checked between windows; applying the
    mask), returning an EditResult like run_edit's. ``remover``: a network (default: the
    installed one, models/sound-remover); ModelLoadError when none is installed or its text
    encoder cannot load."""
    from ..audio.io import resample, to_mono
    from ..audio.windows import check_region, context_bounds, splice_region
    from ..detection.find import query_text
    from ..detection.remover import apply_removal, keep_gains, load_remover, shipped_remover_dir
    from ..edit.assemble import REGION_FADE_S
    from ..edit.inputs import check_audio, check_options
    from ..edit.plan import CONTEXT_S
    from ..errors import ModelLoadError
    from ..events import EditResult, Stages
    from ..library.embed import EncoderUnavailable
    from ..prompts import check_prompts

    t0 = time.perf_counter()
    audio = check_audio(req.audio, req.sample_rate)
    sr = int(req.sample_rate)
    region = check_region(req.region, audio.shape[0] / sr) if req.region is not None else None
    check_prompts(req.prompts)
    check_options(strength=req.strength, seed=req.seed)
    net = remover if remover is not None else load_remover()
    if net is None:
        check_remover(installed=False)
    strength = 1.0 if req.strength is None else float(req.strength)
    c0, c1 = context_bounds(region, audio.shape[0], sr, CONTEXT_S)  # the region and its context, heard whole
    part = audio[c0:c1]
    what = query_text(req.instruction)
    stages = Stages(cancel, 2)
    yield from stages.next(f"Sound remover: hearing where '{what}' plays")
    x16 = resample(to_mono(part), sr, 16000)
    try:
        keep = keep_gains(net, x16, what, cancel=cancel)
    except EncoderUnavailable as exc:
        raise ModelLoadError(f"The sound remover's text encoder could not load ({exc}).") from None
    yield from stages.next("Sound remover: applying the mask")
    out = audio.copy()
    out[c0:c1] = apply_removal(part, sr, keep, strength, x16=x16)
    out = splice_region(audio, out, region, sr, REGION_FADE_S)
    removed = float(np.mean(1.0 - keep ** strength)) if keep.size else 0.0
    return EditResult(
        audio=out.astype(np.float32), sample_rate=sr, instruction=req.instruction,
        params={"engine": "remover", "removal": "remover", "sound": what, "strength": strength,
                "region": list(region) if region else None, "seed": int(req.seed or 0), "render": "mask",
                "prompts": [f"{p.kind}: {p.source}" for p in req.prompts], "removed_share": round(removed, 4),
                "remover": str(shipped_remover_dir()) if remover is None else "given"},
        seconds=time.perf_counter() - t0, mel_in=None, mel_out=None,
    )
