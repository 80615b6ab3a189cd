"""The removal engines: which one runs a "Remove X" edit, and the dictionary engine's edit.

- ``model``: the flow model (core/editing.py), text and optional example prompts.
- ``dictionary``: supervised NMF (dictionary.py) with templates from the examples the user
  marked (and the spans where the sound finder is sure X plays too: self_prompt.more_examples),
  else from the sound library's matches for X.
- ``self-prompt``: the sound finder (or, where it finds nothing, none is installed or loads, or
  the instruction names no sound: find.names_sound, the model's text-only removal) marks where
  X plays; that stretch is the dictionary engine's example (self_prompt.py).
- ``remover``: the sound remover's mel mask for the named sound (core/detection/remover.py;
  remover_edit.py); none ships yet, and auto never chooses it.
- ``auto``: the dictionary engine when the user marked an example of the sound; else
  ``TEXT_ONLY`` (the engine a text-only "Remove X" gets, on the whole clip or within a region;
  the model for its vocoder render).
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import OptionError
from ..events import EditRequest, EditResult, stage

ENGINES = ("auto", "model", "dictionary", "self-prompt", "remover")
TEXT_ONLY = "self-prompt"  # auto's engine for a "Remove X" without a marked example (see self_prompt.py)
LIBRARY_MIN_SCORE = 0.5  # an embedding match below this is not the named sound
LIBRARY_SPREAD = 0.1  # further matches are used while within this of the best


def check_engine(engine) -> str:
    e = "auto" if engine is None else str(engine)
    if e not in ENGINES:
        raise OptionError(f"Engine must be one of {', '.join(ENGINES)}, got '{e}'.")
    return e


def library_templates(query: str | None, k: int, lib=None) -> tuple[list, list]:
    """([16 kHz mono arrays], [paths]) of up to ``k`` library recordings matching ``query``
    (the best match and those scoring within LIBRARY_SPREAD of it); ([], []) without a match."""
    if not query:
        return [], []
    from ..audio.io import load_audio
    from ..library import Library

    own = lib is None
    lib = lib or Library()
    try:
        hits = lib.search(query, max(k, 1) * 2)
        mode = lib.mode
    finally:
        if own:
            lib.close()
    if mode == "embeddings":
        hits = [h for h in hits if h.score >= LIBRARY_MIN_SCORE]
        hits = [h for h in hits if h.score >= hits[0].score - LIBRARY_SPREAD] if hits else []
    clips, paths = [], []
    for h in hits:
        try:
            a, _ = load_audio(h.path, mono=True, target_sr=16000)
        except Exception:
            continue
        if len(a) >= 1600 and float(np.abs(a).max()) > 1e-5:
            clips.append(a.astype(np.float32))
            paths.append(h.path)
        if len(clips) >= k:
            break
    return clips, paths


def uses_dictionary(instruction: str, engine, prompts) -> bool:
    """A remove instruction with ``engine="dictionary"``, or ``"auto"`` with an example span marked."""
    return removal_engine(instruction, engine, prompts) == "dictionary"


def removal_engine(instruction: str, engine, prompts, region=None, render=None) -> str:
    """The engine that runs an edit: "dictionary", "self-prompt" or "remover" for a remove
    instruction that gets one (see the module), else "model". Auto gives a text-only remove to the
    self-prompted engine, within a region too (bank v2 validation removes with the event's span as
    region: gain 0.408, success 70 %, against the model's 0.311 and 60 %), and one asking for the
    vocoder render to the model (the self-prompted edit renders with a mask on the clip's own STFT)."""
    from ..instructions import removed_sound

    engine = check_engine(engine)
    if engine == "model" or removed_sound(instruction) is None:
        return "model"
    if engine != "auto":
        return engine
    if any(p.kind == "example" for p in prompts):
        return "dictionary"
    return "model" if render == "vocoder" else TEXT_ONLY


def engine_for(req: EditRequest) -> str:
    """The engine that runs ``req`` ("model", "dictionary", "self-prompt" or "remover"; see
    ``removal_engine``)."""
    return removal_engine(req.instruction, getattr(req, "engine", None), req.prompts, req.region,
                          getattr(req, "render", None))


def run_dictionary_edit(req: EditRequest, cancel=None, config=None):
    """A remove edit by dictionary-guided separation: a core generator of ProgressEvent (one per
    stage: with marked examples of a named sound the sound finder, where one is installed,
    listening for more of it (``self_prompt.more_examples``), then the templates, the separation, the mask; the cancel token is
    checked after each)
    returning an EditResult like run_edit's."""
    from ..audio.io import resample, to_mono
    from ..audio.windows import check_region, splice_region
    from ..detection.find import installed_finder, names_sound
    from ..editing import REGION_FADE_S, check_audio, check_options
    from ..prompts import check_prompts, prepare_prompt_audio
    from ..instructions import removed_sound
    from .dictionary import DictionaryConfig, apply_keep_mask, remove_with_dictionary
    from .self_prompt import more_examples, span_cuts

    t0 = time.perf_counter()
    cfg = config or DictionaryConfig()
    audio = check_audio(req.audio, req.sample_rate)
    check_options(strength=req.strength, seed=req.seed)
    check_prompts(req.prompts)
    sr = int(req.sample_rate)
    dur = audio.shape[0] / sr
    region = check_region(req.region, dur) if req.region is not None else None
    examples = [prepare_prompt_audio(p.audio, p.sample_rate) for p in req.prompts if p.kind == "example"]
    library, used = [], []
    what = removed_sound(req.instruction)
    # the sound finder (when one is installed) listens for more of the sound the examples are of
    finder = installed_finder() if examples and names_sound(req.instruction) else None
    n = 4 if finder is not None else 3
    x16 = resample(to_mono(audio), sr, 16000)
    found, cuts = [], []
    if finder is not None:
        yield from stage(cancel, 1, n, "Dictionary removal: the sound finder listens for more of the sound")
        marked = [p.span for p in req.prompts if p.kind == "example" and p.span is not None]
        found, cuts = span_cuts(x16, more_examples(finder, x16, req.instruction, marked, within=region,
                                                   cancel=cancel), cfg.n_fft)
    yield from stage(cancel, n - 2, n, "Dictionary removal: templates from the "
                     + ("examples" if examples else "library"))
    if not examples:
        library, used = library_templates(what, cfg.library_clips)
        if not library:
            raise OptionError(f"The dictionary engine needs an example of '{what}': mark one (--example START:END) "
                              f"or add library sounds of it ('rfm-studio library add FOLDER'); or use --engine model.")
    examples += [prepare_prompt_audio(c, 16000) for c in cuts]
    yield from stage(cancel, n - 1, n, "Dictionary removal: separating the sound")
    keep = remove_with_dictionary(x16, cfg, examples=examples, library=library, seed=int(req.seed or 0),
                                  cancel=cancel)
    strength = 1.0 if req.strength is None else float(req.strength)
    if strength != 1.0:  # 0: nothing removed; 2: the cut in dB doubled
        keep = keep ** strength
    yield from stage(cancel, n, n, "Dictionary removal: applying the mask")
    out = apply_keep_mask(audio, sr, keep, cfg)
    out = splice_region(audio, out, region, sr, REGION_FADE_S)
    prompts = [f"{p.kind}: {p.source}" for p in req.prompts] + [f"library: {u}" for u in used]
    return EditResult(
        audio=out.astype(np.float32), sample_rate=sr, instruction=req.instruction,
        params={"engine": "dictionary", "region": list(region) if region else None, "prompts": prompts,
                "dictionary": cfg.to_dict(), "seed": int(req.seed or 0), "render": "mask", "strength": strength,
                "templates": "examples" if examples else "library",
                "found": [[round(a, 3), round(b, 3)] for a, b in sorted(found)]},
        seconds=time.perf_counter() - t0, mel_in=None, mel_out=None,
    )
