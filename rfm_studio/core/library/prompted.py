"""Add and Replace with a reference recording (an AudioPrompt of kind "reference").

- "Add X" + reference: the reference is placed into the clip (place.py): inside the region
  when one is given, else at the scene's least busy stretch; level, EQ and decay matched.
- "Replace A with B" + reference (B): the model's "Remove A" edit, then B placed where A was:
  A's timing and length come from the removal residual's energy envelope and B's level is
  matched to A's.

``run_reference_edit`` is a core generator (StepEvents, then an EditResult) like run_edit;
run_edit hands requests with a reference and an add / replace instruction to it.
"""

from __future__ import annotations

import dataclasses
import re
import time
from functools import lru_cache

import numpy as np

from ..audio.io import to_mono
from ..errors import OptionError
from ..events import EditRequest, EditResult, StepEvent
from ..prompts import AudioPrompt
from .place import DEFAULT_BELOW_DB, foreground_db, place

RESIDUAL_BELOW_DB = 15.0  # A's span: where the removal residual's envelope is within this of its peak
NO_RESIDUAL_DB = -60.0


@lru_cache(maxsize=1)
def _patterns():
    from ..data.captions import PARAPHRASES, TEMPLATES

    pats = []
    extra = {"add": ("Add {a} to the scene", "Add {a} in the background", "Put {a} in", "Add in {a}"),
             "replace": ("Replace {a} by {b}", "Swap {a} with {b}")}
    for task in ("add", "replace"):
        for tpl in TEMPLATES[task] + PARAPHRASES[task] + extra[task]:
            lit = re.escape(tpl).replace(r"\{a\}", "(?P<a>.+?)").replace(r"\{b\}", "(?P<b>.+?)")
            pats.append((len(tpl.replace("{a}", "").replace("{b}", "")), task,
                         re.compile(r"^\s*(?:please\s+)?" + lit + r"\s*[.!]?\s*$", re.I)))
    pats.sort(key=lambda t: -t[0])  # the most specific phrasing first
    return pats


def parse_instruction(text: str) -> tuple[str | None, str | None, str | None]:
    """("add", None, X) for "Add X", ("replace", A, B) for "Replace A with B" (and their
    paraphrases), else (None, None, None)."""
    for _, task, pat in _patterns():
        m = pat.match(text or "")
        if m:
            if task == "add":
                return "add", None, m.group("a").strip()
            return "replace", m.group("a").strip(), m.group("b").strip()
    return None, None, None


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


def residual_span(residual: np.ndarray, sr: int, region=None) -> tuple[float, float] | None:
    """(start, end) seconds where the removal residual's 20 ms energy envelope (smoothed over
    100 ms) is within RESIDUAL_BELOW_DB of its peak; None when nothing was removed."""
    hop = max(1, int(0.02 * sr))
    lo = 0 if region is None else int(region[0] * sr)
    hi = len(residual) if region is None else min(len(residual), int(region[1] * sr))
    x = residual[lo:hi].astype(np.float64)
    n = len(x) // hop
    if n < 1:
        return None
    e = (x[: n * hop] ** 2).reshape(n, hop).mean(1)
    e = np.convolve(e, np.ones(5) / 5, mode="same")
    db = 10 * np.log10(e + 1e-12)
    if db.max() < NO_RESIDUAL_DB:
        return None
    on = np.nonzero(db >= db.max() - RESIDUAL_BELOW_DB)[0]
    return (lo + on[0] * hop) / sr, (lo + (on[-1] + 1) * hop) / sr


def _placement_params(pl, ref: AudioPrompt) -> dict:
    return {"reference": ref.source,
            "placement": None if pl is None else {
                "start": round(pl.start, 3), "end": round(pl.end, 3), "gain_db": round(pl.gain_db, 2),
                "level_db": round(pl.level_db, 2), "scene_db": round(pl.scene_db, 2), "t60": round(pl.t60, 3),
                "eq_db": [round(g, 2) for g in pl.eq_db]}}


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
        yield StepEvent(1, 2, 0.5)
        out, pl = place(audio, sr, ref.audio, ref.sample_rate, region=req.region, seed=seed)
        if pl is None:
            raise OptionError("The region is too short to add a sound; mark at least 0.05 s.")
        yield StepEvent(2, 2, 1.0)
        params = {"task": "add", "region": list(req.region) if req.region else None, **_placement_params(pl, ref)}
        return EditResult(audio=out, sample_rate=sr, instruction=req.instruction, params=params,
                          seconds=time.perf_counter() - t0)
    # replace: remove A with the model (the reference is not A), then B where A was
    if model is None:
        raise OptionError("Replace needs the editing model to remove the old sound.")
    others = tuple(p for p in (getattr(req, "prompts", ()) or ()) if getattr(p, "kind", "") != "reference")
    removal = dataclasses.replace(req, instruction=f"Remove {a}", prompts=others)
    res = yield from run_edit(model, removal, cancel)
    removed = np.asarray(res.audio, np.float32)
    residual = to_mono(audio) - to_mono(removed)
    span = residual_span(residual, sr, req.region)
    if span is not None:
        a_level = foreground_db(residual[int(span[0] * sr): int(span[1] * sr)], sr)
        out, pl = place(removed, sr, ref.audio, ref.sample_rate, region=req.region, start=span[0],
                        length=span[1] - span[0], level_db=a_level, seed=seed)
    else:  # the model found no A: B goes in like an added sound
        out, pl = place(removed, sr, ref.audio, ref.sample_rate, region=req.region, below_db=DEFAULT_BELOW_DB,
                        seed=seed)
    if pl is None:
        raise OptionError("The region is too short to place the new sound; mark at least 0.05 s.")
    params = {**res.params, "task": "replace", "removed": f"Remove {a}",
              "a_span": None if span is None else [round(span[0], 3), round(span[1], 3)],
              **_placement_params(pl, ref)}
    return EditResult(audio=out.astype(np.float32), sample_rate=sr, instruction=req.instruction, params=params,
                      seconds=time.perf_counter() - t0, tokens=res.tokens)


MIN_SCORE = 0.3  # an embedding match below this is no match


def pick_reference(query: str, lib=None) -> tuple[AudioPrompt, object]:
    """(reference prompt, library Hit) of the best library match for ``query``."""
    from .index import Library

    own = lib is None
    lib = lib or Library()
    try:
        hits = lib.search(query, 5)
        mode = lib.mode
    finally:
        if own:
            lib.close()
    for h in hits:
        if mode == "embeddings" and h.score < MIN_SCORE:
            break
        try:
            return load_reference(h.path, source=h.path), h
        except Exception:
            continue
    raise OptionError(f"The sound library has nothing matching '{query}'; add a folder of sounds with "
                      f"'rfm-studio library add FOLDER' or give one with --reference FILE.")
