"""Validation by CLAP score, as in the paper: the model (its EMA weights) edits a fixed set of
validation clips and the best checkpoint is the one whose edits sound most like their target
captions (CLAP cosine similarity), instead of the one with the lowest validation loss.

A clip without a target caption is scored against its target audio's CLAP embedding.
"""

from __future__ import annotations

import numpy as np

from ..seeding import nth_seed


def clap_val_clips(source, n: int, seed: int) -> list[tuple[np.ndarray, np.ndarray, str, str | None]]:
    """``n`` fixed validation clips: (input, target, instruction, target caption or None)."""
    return source.clips(n, np.random.default_rng(20_000 + seed))


def clap_validate(model, clips, scorer, steps: int | None = None, seed: int = 0) -> float:
    """Mean CLAP similarity of the model's edits of ``clips`` with their target captions
    (or target audio). ``steps``: Euler steps per edit (default: the model's)."""
    from ..editing import edit

    sr = model.mel_config.sample_rate
    edited = []
    for i, (inp, _tgt, text, _cap) in enumerate(clips):
        res = edit(model, inp.astype(np.float32), sr, text, steps=steps, seed=nth_seed(seed, i))
        edited.append((res.audio, sr))
    a = scorer.embed_audio(edited)
    with_cap = [i for i, c in enumerate(clips) if c[3]]
    ref = np.zeros_like(a)
    if with_cap:
        ref[with_cap] = scorer.embed_text([clips[i][3] for i in with_cap])
    without = [i for i, c in enumerate(clips) if not c[3]]
    if without:
        ref[without] = scorer.embed_audio([(clips[i][1], sr) for i in without])
    return float(np.mean(np.sum(a * ref, axis=1)))
