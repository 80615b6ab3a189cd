"""Stage 1 of an edit: the request checked, its options resolved, the audio made long enough."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..audio.windows import check_region
from ..errors import AudioReadError, OptionError
from ..events import MAX_STRENGTH, EditRequest
from ..seeding import check_seed, random_seed

MIN_SECONDS = 0.25  # shorter clips are padded with silence and trimmed back


def check_options(steps=None, t_start=None, guidance=None, draws=None, strength=None, seed=None) -> None:
    """One sentence (OptionError) for a sampling option out of range; None: not given."""
    if seed is not None:
        check_seed(seed)
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


def auto_strength(engine: str, whole: float, in_region: float, region: bool) -> float:
    """The strength an edit given none runs at, on ``engine`` ("model", "dictionary" or
    "self-prompt"): the model's default (``in_region`` within a region, else ``whole``); 1 on the
    dictionary engine, whose cut is the dictionary's as learned. A self-prompted edit shows the
    model's whole-clip default, ``whole``: what it runs at where the model's own removal stands
    (where the dictionary's cut stands, that cut is unscaled, the same for a default of 1)."""
    if engine == "dictionary":
        return 1.0
    return float(whole if engine == "self-prompt" or not region else in_region)


def resolve_params(model, req: EditRequest) -> dict:
    """The request's sampling options, the model's defaults where it gives none, checked; a
    random seed when none is given."""
    f = model.flow.sampler
    steps = int(req.steps if req.steps is not None else f.steps)
    t_start = float(req.t_start if req.t_start is not None else f.t_start)
    guidance = float(req.guidance if req.guidance is not None else f.guidance)
    draws = int(req.draws if req.draws is not None else f.draws)
    strength = float(req.strength if req.strength is not None else default_strength(model, req.region is not None))
    check_options(steps, t_start, guidance, draws, strength, req.seed)
    seed = req.seed if req.seed is not None else random_seed()
    return {"steps": steps, "t_start": t_start, "guidance": guidance, "draws": draws, "strength": strength,
            "seed": int(seed),
            "render": getattr(req, "render", None) or model.info.get("render", "vocoder")}


def check_audio(audio: np.ndarray, sr: int) -> np.ndarray:
    a = np.asarray(audio, dtype=np.float32)
    if a.ndim not in (1, 2) or a.shape[0] == 0:
        raise AudioReadError("The clip holds no audio samples.")
    if not np.isfinite(a).all():
        raise AudioReadError("The clip contains invalid (NaN or infinite) samples.")
    if not 1000 <= int(sr) <= 768000:
        raise AudioReadError(f"Unsupported sample rate {sr} Hz.")
    return a


def check_instruction(instruction: str) -> None:
    if not instruction or not instruction.strip():
        raise OptionError("The instruction is empty; describe the edit, for example 'Remove the dog barking'.")


@dataclass(frozen=True)
class EditInputs:
    audio: np.ndarray  # float32 [samples] or [samples, channels], at least MIN_SECONDS long
    sample_rate: int
    n_samples: int  # the request's length: the result is trimmed back to it
    params: dict  # resolve_params: steps, t_start, guidance, draws, strength, seed, render

    @property
    def need_reference(self) -> bool:
        """Whether the clip's own mel through the codec is needed: strength and the mask render
        measure the model's change from it, so a codec's reconstruction error is no edit."""
        return self.params["strength"] != 1.0 or self.params["render"] == "mask"


def check_inputs(model, req: EditRequest) -> EditInputs:
    """The request's audio and options checked (one sentence when bad), a clip shorter than
    MIN_SECONDS padded with silence."""
    audio = check_audio(req.audio, req.sample_rate)
    sr = int(req.sample_rate)
    params = resolve_params(model, req)
    n_orig = audio.shape[0]
    if req.region is not None:
        check_region(req.region, n_orig / sr)
    min_len = int(math.ceil(MIN_SECONDS * sr))
    if n_orig < min_len:
        audio = np.pad(audio, [(0, min_len - n_orig)] + [(0, 0)] * (audio.ndim - 1))
    return EditInputs(audio, sr, n_orig, params)
