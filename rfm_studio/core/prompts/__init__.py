"""Audio prompts: example or reference sounds given to an edit alongside the instruction.

One input serves both uses:
- "example": a span of the clip being edited that the user marked ("remove sounds like this");
- "reference": a recording from a library or a file ("add this sound").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PROMPT_KINDS = ("example", "reference")


@dataclass(frozen=True)
class AudioPrompt:
    audio: np.ndarray  # mono float32 at `sample_rate`
    sample_rate: int
    kind: str  # "example" (span of the clip marked by the user) or "reference" (library/file)
    source: str  # human-readable origin, e.g. "clip 2.10-3.40 s" or a file path
    span: tuple | None = None  # an example's (start_s, end_s) in the clip it was cut from, where known


def shift_spans(prompts, offset_s: float) -> tuple:
    """``prompts`` with their example spans moved by ``-offset_s`` (into the time of a part of
    the clip that starts ``offset_s`` into it, as a long file's chunk)."""
    import dataclasses

    return tuple(dataclasses.replace(p, span=(p.span[0] - offset_s, p.span[1] - offset_s)) if p.span else p
                 for p in prompts or ())


MIN_PROMPT_SECONDS = 0.1
MAX_PROMPT_SECONDS = 10.24  # a longer prompt is represented by its loudest 10.24 s
MAX_PROMPTS = 8
PROMPT_LEVEL_DBFS = -20.0  # every prompt is brought to this RMS: the model hears its sound, not its level


def check_prompts(prompts) -> tuple:
    """The prompts as a tuple, or one sentence (OptionError) for the first unusable one."""
    from ..errors import OptionError

    prompts = tuple(prompts or ())
    if len(prompts) > MAX_PROMPTS:
        raise OptionError(f"At most {MAX_PROMPTS} example or reference sounds can be given, got {len(prompts)}.")
    for p in prompts:
        if not isinstance(p, AudioPrompt):
            raise OptionError("An audio prompt must be an AudioPrompt.")
        if p.kind not in PROMPT_KINDS:
            raise OptionError(f"Audio prompt kind must be 'example' or 'reference', got '{p.kind}'.")
        a = np.asarray(p.audio)
        if a.ndim != 1 or not 1000 <= int(p.sample_rate) <= 768000:
            raise OptionError(f"The audio prompt from {p.source} must be mono audio at a sample rate of 1-768 kHz.")
        if len(a) < MIN_PROMPT_SECONDS * p.sample_rate:
            raise OptionError(f"The sound from {p.source} is shorter than {MIN_PROMPT_SECONDS:g} s; "
                              f"mark a longer example.")
        if not np.isfinite(a).all():
            raise OptionError(f"The sound from {p.source} contains invalid (NaN or infinite) samples.")
        if float(np.abs(a).max()) < 1e-5:
            raise OptionError(f"The sound from {p.source} is silent; mark a span where the sound plays.")
    return prompts


def prepare_prompt_audio(audio: np.ndarray, sample_rate: int, target_rate: int = 16000) -> np.ndarray:
    """A prompt's samples as the model hears them: mono at ``target_rate``, at most
    MAX_PROMPT_SECONDS (the loudest stretch), RMS brought to PROMPT_LEVEL_DBFS (peak kept below
    full scale). Training and editing both use this."""
    from ..audio.io import resample

    x = resample(np.asarray(audio, np.float32), int(sample_rate), target_rate)
    n = int(MAX_PROMPT_SECONDS * target_rate)
    power = x.astype(np.float64) ** 2  # squared once: the stretch's choice and its level read it
    if len(x) > n:
        hop = target_rate // 10
        e = np.convolve(power, np.ones(hop), mode="valid")[::hop]  # energy per 0.1 s
        win = n // hop
        best = int(np.argmax(np.convolve(e, np.ones(win), mode="valid"))) if len(e) > win else 0
        x, power = x[best * hop: best * hop + n], power[best * hop: best * hop + n]  # views
    rms = float(np.sqrt(np.mean(power)))
    if rms > 1e-9:
        g = 10 ** (PROMPT_LEVEL_DBFS / 20) / rms
        g = min(g, 0.99 / max(float(np.abs(x).max()), 1e-9))
        return (x * g).astype(np.float32, copy=False)  # the one copy of the stretch
    return x.astype(np.float32)  # a copy: never the caller's array


def parse_span(text: str) -> tuple[float, float]:
    """'START:END' in seconds -> (start, end), or one sentence (OptionError)."""
    from ..errors import OptionError

    try:
        a, b = str(text).split(":")
        start, end = float(a), float(b)
    except ValueError:
        raise OptionError(f"Example '{text}' is not START:END in seconds (for example 2.1:3.4).") from None
    return start, end


def check_span(start: float, end: float, duration: float) -> tuple[float, float]:
    """An example span [start, end] seconds within a clip of ``duration`` seconds, or one
    sentence (OptionError): empty, reversed, outside the clip or shorter than MIN_PROMPT_SECONDS."""
    from ..errors import OptionError

    start, end = float(start), float(end)
    if not (np.isfinite(start) and np.isfinite(end)) or start < 0 or end <= start:
        raise OptionError(f"Example {start:g}:{end:g} is empty or negative; END must be after START.")
    if end > duration + 1e-6:
        raise OptionError(f"Example {start:g}:{end:g} ends after the clip, which is {duration:.2f} s long.")
    if end - start < MIN_PROMPT_SECONDS:
        raise OptionError(f"Example {start:g}:{end:g} is shorter than {MIN_PROMPT_SECONDS:g} s; mark a longer span.")
    return start, min(end, duration)


def example_from_clip(audio: np.ndarray, sample_rate: int, start: float, end: float) -> AudioPrompt:
    """The span [start, end] seconds of a clip (mono mix) as an "example" prompt; one sentence
    (OptionError) when the span is empty, reversed, shorter than MIN_PROMPT_SECONDS or not
    within the clip."""
    a = np.asarray(audio, np.float32)
    start, end = check_span(start, end, a.shape[0] / float(sample_rate))
    mono = a if a.ndim == 1 else a.mean(axis=1)
    seg = mono[int(round(start * sample_rate)): int(round(end * sample_rate))].astype(np.float32)
    return AudioPrompt(audio=seg, sample_rate=int(sample_rate), kind="example",
                       source=f"clip {start:.2f}-{end:.2f} s", span=(start, end))
