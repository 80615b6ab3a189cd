"""Add and Replace with a reference recording (an AudioPrompt of kind "reference").

- "Add X" + reference: the reference is placed into the clip (place.py): inside the region
  when one is given, else at the scene's least busy stretch; level, EQ and decay matched.
- "Replace A with B" + reference (B): the "Remove A" edit (as the removal engines run it: self-
  prompted, within the region when one is given), then B at every place A
  was (occurrences.py: from the removal residual, or an example span of A): in each, B is
  trimmed to (or repeated over) A's length at A's level; outside A's spans the output is the
  input, sample for sample.

``run_reference_edit`` is a core generator like run_edit, returning an EditResult: placing a
sound runs no sampler, so "Add" yields a ProgressEvent per stage (no attention, never a step
of the heatmap); "Replace" yields the removal's events.
run_edit hands requests with a reference and an add / replace instruction to it.
"""

from __future__ import annotations

import dataclasses
import time

import numpy as np

from ..audio.io import to_mono
from ..audio.windows import fade_weights
from ..errors import OptionError
from ..events import EditRequest, EditResult, stage
from ..instructions import placed_sounds as parse_instruction  # the name callers use
from ..prompts import AudioPrompt
from .occurrences import find_occurrences
from .place import DEFAULT_BELOW_DB, _kweight, foreground_db, place, place_each


def is_reference_edit(req: EditRequest) -> bool:
    return parse_instruction(req.instruction)[0] is not None and reference_of(req) is not None


def reference_of(req: EditRequest) -> AudioPrompt | None:
    for p in getattr(req, "prompts", ()) or ():
        if getattr(p, "kind", "") == "reference":
            return p
    return None


def load_reference(path, source: str | None = None) -> AudioPrompt:
    """A reference AudioPrompt from a sound file (mono)."""
    from ..audio.io import load_audio

    audio, sr = load_audio(str(path), mono=True)
    audio = np.asarray(audio, np.float32)
    if audio.size == 0 or not np.isfinite(audio).all() or float(np.abs(audio).max()) < 1e-5:
        raise OptionError(f"The reference {getattr(path, 'name', path)} holds no audible sound.")
    return AudioPrompt(audio=audio, sample_rate=int(sr), kind="reference", source=source or str(path))


def _placement_params(pl, ref: AudioPrompt) -> dict:
    return {"reference": ref.source,
            "placement": None if pl is None else {
                "start": round(pl.start, 3), "end": round(pl.end, 3), "gain_db": round(pl.gain_db, 2),
                "level_db": round(pl.level_db, 2), "scene_db": round(pl.scene_db, 2), "t60": round(pl.t60, 3),
                "eq_db": [round(g, 2) for g in pl.eq_db]}}


def _source_name(ref: AudioPrompt) -> str:
    """The reference's file name (its source without the folders), or "the reference sound"."""
    import os

    src = str(ref.source or "")
    return os.path.basename(src.replace("\\", "/")) or "the reference sound"


def run_reference_edit(model, req: EditRequest, cancel=None):
    t0 = time.perf_counter()
    task, a, b = parse_instruction(req.instruction)
    ref = reference_of(req)
    if task is None or ref is None:
        raise OptionError("A reference sound needs an 'Add ...' or 'Replace ... with ...' instruction.")
    from ..editing import check_audio, run_edit
    from ..audio.windows import check_region

    audio = check_audio(req.audio, req.sample_rate)
    sr = int(req.sample_rate)
    if req.region is not None:
        check_region(req.region, audio.shape[0] / sr)
    seed = int(req.seed or 0)
    if task == "add":
        name = _source_name(ref)
        yield from stage(cancel, 1, 1, f"Add: placing {name}, its level and balance matched to the scene")
        out, pl = place(audio, sr, ref.audio, ref.sample_rate, region=req.region, seed=seed)
        if pl is None:
            raise OptionError("The region is too short to add a sound; mark at least 0.05 s.")
        params = {"task": "add", "region": list(req.region) if req.region else None, **_placement_params(pl, ref)}
        return EditResult(audio=out, sample_rate=sr, instruction=req.instruction, params=params,
                          seconds=time.perf_counter() - t0)
    # replace: remove A (the engines' choice; the reference is not A), then B wherever A was
    if model is None:
        raise OptionError("Replace needs the editing model to remove the old sound.")
    others = tuple(p for p in (getattr(req, "prompts", ()) or ()) if getattr(p, "kind", "") != "reference")
    removal = dataclasses.replace(req, instruction=f"Remove {a}", prompts=others)
    res = yield from run_edit(model, removal, cancel)
    removed = np.asarray(res.audio, np.float32)
    found = find_occurrences(audio, removed, sr, req.region, [p for p in others if p.kind == "example"])
    spans = found["spans"]
    if spans:
        residual = to_mono(audio) - to_mono(removed)
        levels = a_levels(to_mono(audio), residual, sr, spans, req.region)
        out, pls = replace_at(audio, removed, sr, ref, spans, levels, seed)
    else:  # no A found: B goes in like an added sound
        out, pl = place(removed, sr, ref.audio, ref.sample_rate, region=req.region, below_db=DEFAULT_BELOW_DB,
                        seed=seed)
        pls = [pl] if pl is not None else []
    if not pls:
        raise OptionError("The region is too short to place the new sound; mark at least 0.05 s.")
    params = {**res.params, "task": "replace", "removed": f"Remove {a}",
              "a_span": [round(spans[0][0], 3), round(spans[-1][1], 3)] if spans else None,
              "a_spans": [[round(s, 3), round(e, 3)] for s, e in spans], "a_found_in": found["source"],
              **_placement_params(pls[0], ref),
              "placements": [_placement_params(p, ref)["placement"] for p in pls]}
    return EditResult(audio=out.astype(np.float32), sample_rate=sr, instruction=req.instruction, params=params,
                      seconds=time.perf_counter() - t0, tokens=res.tokens)


EDGE_FADE_S = 0.01  # input -> removal output crossfade at each edge of an A span


def a_levels(mono: np.ndarray, residual: np.ndarray, sr: int, spans, region=None) -> list[float]:
    """A's loudness (block dB as in ``foreground_db``) in each span: what the model removed there,
    or, when the removal was weak, the input's level there less the background's (the input
    outside every span, in the region), whichever is higher."""
    n = len(mono)
    keep = np.zeros(n, bool)
    lo, hi = (0, n) if region is None else (int(round(region[0] * sr)), int(round(region[1] * sr)))
    keep[lo:hi] = True
    for a, b in spans:
        keep[int(round(a * sr)): int(round(b * sr))] = False
    bg = mono[keep]
    bg_ms = float(np.mean(_kweight(bg, sr).astype(np.float64) ** 2)) if len(bg) > int(0.1 * sr) else None
    out = []
    for a, b in spans:
        s, e = int(round(a * sr)), int(round(b * sr))
        lv = foreground_db(residual[s:e], sr)
        if bg_ms is not None:
            inp = 10 ** (foreground_db(mono[s:e], sr) / 10)
            if inp > 1.26 * bg_ms:  # over the background by more than 1 dB
                lv = max(lv, 10 * float(np.log10(inp - bg_ms)))
        else:  # A fills the region: the input there is A
            lv = max(lv, foreground_db(mono[s:e], sr))
        out.append(float(lv))
    return out


def replace_at(audio: np.ndarray, removed: np.ndarray, sr: int, ref: AudioPrompt, spans, levels, seed: int = 0):
    """(output, placements): the input outside A's spans; inside each, the model's removal output
    (crossfaded in over EDGE_FADE_S) with B placed over the span at A's level."""
    out = np.asarray(audio, np.float32).copy()
    rem = np.asarray(removed, np.float32)
    n = out.shape[0]
    for a, b in spans:
        s, e = max(0, int(round(a * sr))), min(n, int(round(b * sr)))
        L = e - s
        f = min(int(EDGE_FADE_S * sr), L // 4)
        w = fade_weights(L, f, f).astype(np.float32)
        w = w[:, None] if out.ndim == 2 else w
        out[s:e] = out[s:e] * (1 - w) + rem[s:e] * w
    out, pls = place_each(out, sr, ref.audio, ref.sample_rate, spans, levels, seed=seed)
    return out, pls


MIN_SCORE = 0.3  # an embedding match below this is no match


def usable_hits(hits, mode: str) -> list:
    """The hits a pick may use, best first: in ``mode`` "embeddings" an embedding match below
    MIN_SCORE, and every one after it, is no match (keyword hits all count)."""
    out = []
    for h in hits:
        if mode == "embeddings" and h.score < MIN_SCORE:
            break
        out.append(h)
    return out


def pick_reference(query: str, lib=None) -> tuple[AudioPrompt, object]:
    """(reference prompt, library Hit) of the best library match for ``query`` (the CLI's and
    the editor's "Add X" / "Replace A with B" use it: the same sound for the same instruction)."""
    from .index import Library

    own = lib is None
    lib = lib or Library()
    try:
        hits = lib.search(query, 5)
        mode = lib.mode
    finally:
        if own:
            lib.close()
    for h in usable_hits(hits, mode):
        try:
            return load_reference(h.path, source=h.path), h
        except Exception:
            continue
    raise OptionError(f"The sound library has nothing matching '{query}'; add a folder of sounds with "
                      f"'rfm-studio library add FOLDER' or give one with --reference FILE.")
