"""Editing files of any length without loading them whole: chunk by chunk from disk to disk.

The file is read in chunks of ``chunk_seconds`` that overlap by ``overlap_seconds``; each
chunk goes through ``run_edit`` (which windows it further) and consecutive chunks are
crossfaded over their overlap with raised-cosine ramps while the output is written
sequentially to a temporary file in the output's folder, renamed when complete. Memory
stays proportional to one chunk. With a region, only the chunks covering it (plus
context) are edited; everything else is copied sample for sample. The removal engine is
chosen once, for the whole file (separation/engine.py ``engine_for``).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from pathlib import Path

import numpy as np

from .atomic import same_file, temp_beside
from .audio.formats import check_encoder
from .audio.io import audio_info, plain_format
from .audio.windows import check_region, fade_weights
from .editing import CONTEXT_S, run_edit
from .errors import AudioReadError, OptionError
from .events import EditRequest, ProgressEvent, StepEvent, check_cancel
from .prompts import shift_spans
from .runs import merge_runs
from .seeding import nth_seed


def _open_out(dst: Path, sr: int, channels: int, fmt=None):
    import soundfile as sf

    fmt = fmt or plain_format(dst)
    check_encoder(fmt, sr, channels, dst.name)
    tmp = temp_beside(dst, dst.suffix.lower())
    f = sf.SoundFile(tmp, "w", samplerate=sr, channels=channels, format=fmt.format, subtype=fmt.subtype)
    return (f if fmt.subtype in ("FLOAT", "DOUBLE") else _Clipping(f)), tmp


class _Clipping:
    """A SoundFile whose writes are clipped to [-1, 1] (libsndfile wraps integer samples around)."""

    def __init__(self, f):
        self.f = f

    def write(self, x):
        self.f.write(np.clip(x, -1.0, 1.0))

    def close(self):
        self.f.close()


def edit_file(model, src, dst, instruction: str, *, region=None, chunk_seconds: float = 60.0,
              overlap_seconds: float = 2.0, cancel=None, fmt=None, **params):
    """Generator of StepEvent (numbered over the file; a chunk where the model did not run gives the
    steps its total counted as done, so they end at their total) and ProgressEvent (a chunk's
    stages with no sampler step); returns
    a dict summary: seconds, chunks, samples, sample_rate, engine (the removal engine, chosen once
    for the whole file's request and run on every chunk), the model's steps and t_start where it
    ran in any chunk (``_sampler_summary``) and, for the dictionary engines, what the report says
    of their removal (``_removal_summary``). ``params``: steps, t_start, guidance,
    draws, strength, seed, render, engine, prompts (as EditRequest); ``fmt``: the output's
    OutputFormat (None: the plain format of its extension)."""
    import soundfile as sf

    src, dst = Path(src), Path(dst)
    if dst.exists() and same_file(dst, src):  # also a link to the source
        raise OptionError(f"Refusing to overwrite the source file {dst.name}; choose another output path.")
    if not dst.parent.exists():
        raise OptionError(f"Output folder does not exist: {dst.parent}")
    n, sr, ch = audio_info(src)
    if n == 0:
        raise AudioReadError(f"{src.name} contains no audio samples.")
    t0 = time.perf_counter()
    if region is not None:
        r0, r1 = check_region(region, n / sr)
        spans = [(max(0, int((r0 - CONTEXT_S) * sr)), min(n, int(math.ceil((r1 + CONTEXT_S) * sr))))]
    else:
        spans = [(0, n)]
    chunk = int(chunk_seconds * sr)
    ov = int(overlap_seconds * sr)
    # chunk plan over the edited span(s)
    a_all, b_all = spans[0]
    plan = []
    a = a_all
    while a < b_all:
        b = min(b_all, a + chunk)
        plan.append((a, b))
        if b >= b_all:
            break
        a = b - ov
    def chunk_region(a, b):
        """The region in a chunk's own time; None without one; () for a chunk wholly in the
        region's context (the last one can start after the region ends): nothing to edit."""
        if region is None:
            return None
        lo, hi = max(0.0, r0 - a / sr), min((b - a) / sr, r1 - a / sr)
        return (lo, hi) if hi > lo else ()

    edited = [i for i, (a, b) in enumerate(plan) if chunk_region(a, b) != ()]
    # the removal engine, chosen once for the whole file's request; every chunk runs on it
    from .separation.engine import engine_for

    engine = engine_for(EditRequest(np.zeros(1, np.float32), sr, instruction, region=region, **params))
    params = {**params, "engine": engine}
    done = []  # the edited chunks' params, in the file's time
    out, tmp = _open_out(dst, sr, ch, fmt)
    seed = params.pop("seed", 0) or 0
    try:
        with sf.SoundFile(str(src)) as f:
            def read(a, b):
                f.seek(a)
                x = f.read(b - a, dtype="float32", always_2d=True)
                if not np.isfinite(x).all():
                    raise AudioReadError(f"{src.name} contains invalid (NaN or infinite) samples.")
                return x if ch > 1 else x[:, 0]

            # copy everything before the edited span
            pos = 0
            for s in range(0, a_all, chunk):
                out.write(read(s, min(a_all, s + chunk)))
            pos = a_all
            pending = None  # (start, array) of the previous chunk's overlapping tail
            step_base, per = 0, 0  # steps so far; those the last total assumed for each chunk to come
            for ci, (a, b) in enumerate(plan):
                check_cancel(cancel)  # "The edit was cancelled."
                x = read(a, b)
                reg = chunk_region(a, b)
                if reg == ():
                    y = x  # outside the region: the source itself
                else:
                    cparams = {**params, "prompts": shift_spans(params["prompts"], a / sr)} if params.get("prompts") \
                        else params  # the examples' spans in the chunk's time
                    gen = run_edit(model, EditRequest(x, sr, instruction, region=reg, seed=nth_seed(seed, ci), **cparams),
                                   cancel)
                    later = sum(1 for i in edited if i > ci)
                    chunk_steps = 0
                    while True:
                        try:
                            ev = next(gen)
                        except StopIteration as stop:
                            y = stop.value.audio
                            done.append(_in_file_time(stop.value.params, a / sr))
                            break
                        if isinstance(ev, ProgressEvent):  # a stage with no sampler step, of this chunk
                            yield dataclasses.replace(ev, text=f"Chunk {ci + 1}/{len(plan)}: {ev.text}")
                            continue
                        # chunks can differ in windows: the total counts this chunk's steps and
                        # assumes as many for each edited chunk still to come (exact at the last)
                        chunk_steps = per = ev.total
                        yield StepEvent(step_base + ev.step, step_base + ev.total * (1 + later), ev.t, ci, len(plan))
                    if not chunk_steps:  # the model did not run here: the steps the total counted for it
                        yield from _skipped_steps(step_base, per, later, ci, len(plan))
                        chunk_steps = per
                    step_base += chunk_steps
                if pending is not None:
                    ps, tail = pending
                    m = tail.shape[0]
                    w = fade_weights(2 * m, m, 0)[:m]
                    if y.ndim == 2:
                        w = w[:, None]
                    y = y.copy()
                    y[:m] = (w * y[:m] + (1 - w) * tail).astype(np.float32)
                last = ci == len(plan) - 1
                keep = y if last else y[: y.shape[0] - ov]
                out.write(keep)
                pending = None if last else (b - ov, y[y.shape[0] - ov:])
                pos = b
            for s in range(pos, n, chunk):
                out.write(read(s, min(n, s + chunk)))
        out.close()
        os.replace(tmp, dst)
    except BaseException:
        out.close()
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return {"seconds": time.perf_counter() - t0, "chunks": len(plan), "samples": n, "sample_rate": sr,
            "engine": engine, **_sampler_summary(done), **_removal_summary(engine, done)}


def _skipped_steps(base: int, per: int, later: int, chunk: int, chunks: int):
    """The ``per`` steps an announced total counted for a chunk where the model did not run (the
    sound finder's example, say), as done (t 1.0), so that the steps reach the total they
    announced; none before any total was announced (``per`` 0)."""
    for k in range(1, per + 1):
        yield StepEvent(base + k, base + per * (1 + later), 1.0, chunk, chunks)


# what the report reads of each chunk's edit params (besides its spans, moved to the file's time)
CHUNK_KEYS = ("removal", "templates", "sound", "spans_from", "steps", "t_start", "finder_peak", "finder_missed")


def _in_file_time(params: dict, offset: float) -> dict:
    """What the report needs of a chunk's edit: its removal (self-prompted: "dictionary" or
    "model"), the spans the model marked moved to the file's time, its templates (dictionary),
    and the model's steps and t_start where the model ran."""
    return {**{k: params.get(k) for k in CHUNK_KEYS},
            "spans": [[round(a + offset, 3), round(b + offset, 3)] for a, b in params.get("spans", [])],
            "found": [[round(a + offset, 3), round(b + offset, 3)] for a, b in params.get("found", [])]}


def _sampler_summary(done: list[dict]) -> dict:
    """The steps and t_start of the chunks where the model ran (every chunk edits with the same
    options); {} where it ran in none (the dictionary engines' cuts, the sound finder's examples)."""
    ran = next((d for d in done if d.get("steps")), None)
    return {} if ran is None else {k: ran[k] for k in ("steps", "t_start") if ran[k] is not None}


def _removal_summary(engine: str, done: list[dict]) -> dict:
    """The chunks' removals for the report: the dictionary engine's templates; for the
    self-prompted removal, the spans the model marked over all chunks, "removal" "dictionary"
    when the dictionary cut any chunk, and in how many chunks the model's own edit stands."""
    if engine == "dictionary":
        return {"templates": next((d["templates"] for d in done if d["templates"]), "examples"),
                "found": merge_runs([[float(a), float(b)] for d in done for a, b in d["found"]], 0.0)}
    if engine == "remover":
        return {"sound": next((d["sound"] for d in done if d.get("sound")), "")}
    if engine == "self-prompt":
        cut = [d for d in done if d["removal"] == "dictionary"]
        found = {d.get("spans_from") for d in cut}
        return {"removal": "dictionary" if cut else "model", "model_chunks": len(done) - len(cut),
                "spans_from": found.pop() if len(found) == 1 else "finder and model" if found else "model",
                "spans": merge_runs([[float(a), float(b)] for d in cut for a, b in d["spans"]], 0.0),
                "finder_peak": max((d["finder_peak"] for d in cut if d.get("finder_peak") is not None), default=None),
                # asked in every chunk, the finder heard the sound in none
                "finder_missed": bool(done) and all(d.get("finder_missed") for d in done)}
    return {}
