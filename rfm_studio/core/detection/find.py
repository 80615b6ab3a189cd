"""Where a named sound plays in a clip: the sound finder's frame probabilities and spans.

``sound_probs`` runs the finder (model.py) over a 16 kHz mono clip in windows of ``WINDOW_S``
(each heard with ``CONTEXT_S`` more on both sides); ``sound_spans`` turns the probabilities into
the runs where the sound plays; ``run_find`` does both for a clip at any rate (the app's Find), a
generator that yields a FindStep as each window begins and stops between windows on a cancel;
``find_sound`` drives it (the CLI's `finder find`, the self-prompted removal's example).
The finder's last few answers are kept (``sound_prob_steps``): the same audio and text are heard once.
The shipped finder lives in ``models/sound-finder`` and is loaded once per process
(``load_finder``; None when its files are missing).
"""

from __future__ import annotations

import hashlib
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..instructions import ARTICLES, VAGUE_WORDS
from ..runs import merge_runs, runs
from .model import FPS

WINDOW_S = 30.0
CONTEXT_S = 3.0
FOLDER_NAME = "sound-finder"
MIN_SAMPLES = 512  # half the log-mel's STFT window



@dataclass(frozen=True)
class FindConfig:
    threshold: float = 0.5  # a span holds a frame at this probability at least ...
    low: float | None = None  # ... and reaches out over the frames at ``low`` or more (None: threshold)
    gap_s: float = 0.15  # runs closer than this are one span
    min_span_s: float = 0.1  # shorter runs are dropped


APP_FIND = FindConfig(threshold=0.5, low=0.2)  # what the app finds (Find, the self-prompted removal's
# example, `rfm-studio finder find`): a frame at 0.5 and the frames around it at 0.2 or more


def shipped_finder_dir() -> Path:
    from ..paths import shipped_models_dir

    return shipped_models_dir() / FOLDER_NAME


def finder_installed(folder=None) -> bool:
    """Whether ``folder`` (default: the shipped one) holds a finder's files (nothing is loaded)."""
    from .model import has_network

    return has_network(folder if folder is not None else shipped_finder_dir())


def load_finder(folder=None):
    """The finder network of ``folder`` (default: the shipped one), loaded once per process;
    None when the folder holds no finder."""
    from .model import cached_network, load

    return cached_network(folder if folder is not None else shipped_finder_dir(), load)


def sound_probs(finder, x16: np.ndarray, text: str, cancel=None) -> np.ndarray:
    """[frames] at 100 frames a second (frame i at i / 100 s): the probability that ``text``'s
    sound plays, for the 16 kHz mono signal ``x16`` (``sound_prob_steps`` driven to its end)."""
    from ..events import drive

    return drive(sound_prob_steps(finder, x16, text, cancel))


def sound_prob_steps(finder, x16: np.ndarray, text: str, cancel=None):
    """Generator of ``sound_probs``: yields a FindStep as each window begins and returns the
    probabilities; ``cancel`` (a CancelToken) is checked between windows (errors.Cancelled).
    library.embed.EncoderUnavailable when the text encoder cannot load. The finder hears the same
    audio for the same text once per process (the app's Find, then the removal that takes its
    marks as examples): the last PROBS_CACHE_SIZE answers are kept (``_cached_probs``), and a
    kept one is given again (a copy) after the same FindSteps, the cancel checked after each."""
    key = _probs_key(finder, x16, text)
    kept = _cached_probs(key, finder)
    if kept is not None:
        from ..events import FindStep, check_cancel

        bounds = window_bounds(len(kept))  # (the probabilities: a frame each)
        for k, (a, b) in enumerate(bounds, 1):
            yield FindStep(k, len(bounds), a / FPS, b / FPS, text)
            check_cancel(cancel)
        return kept
    probs = yield from windowed_prob_steps(lambda mel, q: finder(mel, q)[0], x16, text, cancel)
    _keep_probs(key, finder, probs)  # (a cancelled or failed run never gets here: nothing kept)
    return probs


PROBS_CACHE_SIZE = 4  # the finder's answers kept (a few clips' or texts' probabilities: small)
_probs_lock = threading.Lock()  # the model worker finds, the UI thread may too
_probs_cache: OrderedDict = OrderedDict()  # key -> (weak reference to the finder, read-only probabilities)


def _probs_key(finder, x16, text: str):
    """What the finder's answer depends on: the finder (identity; its mode), the 16 kHz samples
    (a digest of their bytes), the text, the windows and their context; None for a finder that
    cannot be referred to weakly (nothing is kept for it)."""
    try:
        weakref.ref(finder)
    except TypeError:
        return None
    x = np.ascontiguousarray(x16, np.float32)
    digest = hashlib.blake2b(memoryview(x).cast("B"), digest_size=20).hexdigest()
    return (id(finder), getattr(finder, "training", None), digest, x.shape, 16000, text, WINDOW_S, CONTEXT_S)


def _cached_probs(key, finder):
    """A copy of the probabilities kept for ``key`` (the most recently used now), or None."""
    if key is None:
        return None
    with _probs_lock:
        got = _probs_cache.get(key)
        if got is None or got[0]() is not finder:  # (another finder's id, reused after it was freed)
            return None
        _probs_cache.move_to_end(key)
        return got[1].copy()


def clear_probs_cache() -> None:
    """Forget the finder's kept answers (a finder whose weights or text encoder changed in place)."""
    with _probs_lock:
        _probs_cache.clear()


def _keep_probs(key, finder, probs) -> None:
    if key is None:
        return
    kept = np.array(probs, copy=True)
    kept.setflags(write=False)
    with _probs_lock:
        _probs_cache[key] = (weakref.ref(finder), kept)
        _probs_cache.move_to_end(key)
        while len(_probs_cache) > PROBS_CACHE_SIZE:
            _probs_cache.popitem(last=False)


def windowed_probs(answer, x16: np.ndarray, text: str, cancel=None, rows: int | None = None,
                   window_s: float | None = None, context_s: float | None = None) -> np.ndarray:
    """``windowed_prob_steps`` driven to its end."""
    from ..events import drive

    return drive(windowed_prob_steps(answer, x16, text, cancel, rows, window_s, context_s))


def windowed_prob_steps(answer, x16: np.ndarray, text: str, cancel=None, rows: int | None = None,
                        window_s: float | None = None, context_s: float | None = None):
    """Generator: the sigmoid of ``answer(mel, text_vector)`` (logits [frames] or [rows, frames]
    for one window's log-mel [1, 64, frames]) over the 16 kHz mono ``x16``, heard in
    ``mel_windows``: each window's own frames put where they lie in the clip; returns [frames] or
    [rows, frames] at 100 a second. Yields events.FindStep as each window begins; ``cancel`` is
    checked after it, before the window is heard (errors.Cancelled): for the first window both
    before and after ``text`` is embedded (the text encoder's load, slow the first time), so a
    Cancel already set does not wait for the load and one pressed during it stops before any
    window is heard. library.embed.EncoderUnavailable when the text
    encoder cannot load."""
    import torch

    from ..events import FindStep, check_cancel
    from ..library.embed import embed

    n = len(np.asarray(x16)) // 160 + 1
    bounds = window_bounds(n, window_s)
    windows = mel_windows(x16, cancel, window_s, context_s)
    out = np.zeros(((rows,) if rows else ()) + (n,), np.float32)
    q = None
    for k, (a, b) in enumerate(bounds, 1):
        yield FindStep(k, len(bounds), a / FPS, b / FPS, text)
        if q is None:
            check_cancel(cancel)  # a Cancel already set does not wait for the encoder's load
            q = torch.from_numpy(embed([text]))
        _, _, a0, mel = next(windows)  # the cancel check, then the window's log-mel
        with torch.inference_mode():  # (never across a yield: the mode is the thread's)
            logits = np.asarray(answer(mel, q))[..., a - a0: a - a0 + (b - a)]
        out[..., a: a + logits.shape[-1]] = sigmoid(logits)
    return out


def sigmoid(logits) -> np.ndarray:
    """The logistic function of numpy ``logits``, clipped to +-60 (no overflow warning; the
    probabilities are unchanged within it)."""
    return 1.0 / (1.0 + np.exp(-np.clip(logits, -60.0, 60.0)))


def window_bounds(n_frames: int, window_s: float | None = None) -> list[tuple[int, int]]:
    """The windows ``mel_windows`` hears a clip of ``n_frames`` frames in: [(a, b)] frames."""
    win = int((WINDOW_S if window_s is None else window_s) * FPS)
    return [(a, min(n_frames, a + win)) for a in range(0, n_frames, win)]


def mel_windows(x16: np.ndarray, cancel=None, window_s: float | None = None, context_s: float | None = None):
    """The log-mel of the 16 kHz mono signal ``x16`` in windows of ``window_s`` (default
    WINDOW_S; ``window_bounds``), each with ``context_s`` (default CONTEXT_S) more on both sides:
    yields (a, b, a0, mel [1, 64, frames]) where the window is the clip's frames a..b (100 a
    second, frame i at i / 100 s; ``len(x16) // 160 + 1`` in all) and the mel's first frame is the
    clip's frame a0. ``cancel`` (a CancelToken) is checked before each window (errors.Cancelled)."""
    import torch

    from ..events import check_cancel
    from ..features.mel import MelFrontEnd

    x = np.asarray(x16, np.float32)
    n_frames = len(x) // 160 + 1
    front = MelFrontEnd()
    ctx = int((CONTEXT_S if context_s is None else context_s) * FPS)
    for a, b in window_bounds(n_frames, window_s):
        check_cancel(cancel)
        a0, b0 = max(0, a - ctx), min(n_frames, b + ctx)
        seg = x[a0 * 160: max(a0 * 160 + 160, (b0 - 1) * 160)]
        if len(seg) <= MIN_SAMPLES:  # the STFT's reflect padding needs more than half a window
            seg = np.pad(seg, (0, MIN_SAMPLES + 1 - len(seg)))
        with torch.inference_mode():
            mel = front(torch.from_numpy(seg))[None]
        yield a, b, a0, mel


def sound_spans(probs: np.ndarray, cfg: FindConfig | None = None, fps: float = FPS) -> list[tuple[float, float]]:
    """[(start_s, end_s)] in time order: the runs of frames at ``cfg.low`` or more that hold a
    frame at ``cfg.threshold`` or more (hysteresis)."""
    cfg = cfg or FindConfig()
    p = np.asarray(probs)
    low = cfg.threshold if cfg.low is None else min(cfg.low, cfg.threshold)
    wide = [(a, b) for a, b in runs(p >= low) if p[a:b].max() >= cfg.threshold]
    merged = merge_runs(wide, int(round(cfg.gap_s * fps)))
    shortest = int(round(cfg.min_span_s * fps))
    return [(a / fps, b / fps) for a, b in merged if b - a >= shortest]


def strongest_spans(probs: np.ndarray, cfg: FindConfig | None = None, k: int = 3,
                    fps: float = FPS) -> list[tuple[float, float]]:
    """The ``k`` spans of ``sound_spans`` holding the most probability (frames x probability),
    in time order."""
    p = np.asarray(probs)
    spans = sound_spans(p, cfg, fps)
    return sorted(sorted(spans, key=lambda s: -span_mass(p, s, fps))[: max(1, k)])


def span_probs(probs: np.ndarray, span, fps: float = FPS) -> np.ndarray:
    """The probabilities of the frames of ``span`` (start_s, end_s)."""
    return np.asarray(probs)[int(round(span[0] * fps)): int(round(span[1] * fps))]


def span_mass(probs: np.ndarray, span, fps: float = FPS) -> float:
    """The probability a span holds (frames x probability): how the strongest spans rank."""
    return float(span_probs(probs, span, fps).sum())


def query_text(instruction: str) -> str:
    """What the finder is asked for: the sound a "Remove X" names, else the instruction."""
    from ..instructions import removed_sound

    return removed_sound(instruction) or instruction


KEY_STOP = ARTICLES  # (instructions.py: the words that name no sound, defined once)


def sound_key(instruction: str) -> tuple:
    """The words of the sound ``instruction`` names (``query_text``), lowercase, without articles
    and quantifiers: "Remove the dog barking.", "Remove all the dog barking" and "dog barking" name
    the same sound, "Remove the car" not."""
    import re

    return tuple(w for w in re.findall(r"\w+", query_text(instruction).lower()) if w not in KEY_STOP)


def names_sound(instruction: str) -> bool:
    """Whether a remove instruction names a sound the finder can listen for ("Remove the dog
    barking"), not only one the user marked or means ("Remove this", "Remove sounds like this":
    VAGUE_WORDS and KEY_STOP words only)."""
    return bool(set(sound_key(instruction)) - VAGUE_WORDS)


def installed_finder():
    """The shipped sound finder, or None where none is installed or its files do not load: the
    engines that ask it then work without it (the marked examples alone; the model marking the
    example of a text-only removal)."""
    from ..errors import RFMError

    try:
        return load_finder()
    except RFMError:
        return None


@dataclass(frozen=True)
class FoundSound:
    """Where ``find_sound`` heard the sound: ``spans`` (start_s, end_s) in seconds of the clip, in
    time order; ``peak`` the highest probability in the stretch searched (``within`` or the whole
    clip, None); ``probs`` the finder's probability per frame of the whole clip (100 a second)."""
    text: str
    spans: tuple = ()
    peak: float = 0.0
    within: tuple | None = None
    probs: np.ndarray | None = field(default=None, repr=False, compare=False)

    def summary(self) -> str:
        """One sentence for a status line."""
        where = "the selection" if self.within is not None else "this clip"
        if not self.spans:
            return (f"'{self.text}' not found in {where} (highest probability {self.peak:.2f}); "
                    "mark an example with Shift-drag.")
        marks = ", ".join(f"{a:.2f}–{b:.2f} s" for a, b in self.spans)
        return f"Found '{self.text}' at {marks} (peak {self.peak:.2f})."


def find_sound(audio: np.ndarray, sample_rate: int, instruction: str, *, finder=None, within=None,
               cfg: FindConfig | None = None, max_spans: int | None = None, cancel=None) -> FoundSound:
    """``run_find`` driven to its end: where the sound ``instruction`` names plays."""
    from ..events import drive

    return drive(run_find(audio, sample_rate, instruction, finder=finder, within=within, cfg=cfg,
                          max_spans=max_spans, cancel=cancel))


def run_find(audio: np.ndarray, sample_rate: int, instruction: str, *, finder=None, within=None,
             cfg: FindConfig | None = None, max_spans: int | None = None, cancel=None):
    """Generator (the app's Find): yields events.FindStep as each of the finder's windows begins
    (``cancel`` is checked between them) and returns the FoundSound: where the sound
    ``instruction`` names (``query_text``: "Remove the dog barking" asks for "the dog barking")
    plays in ``audio`` ([samples] or [samples, channels] at ``sample_rate``), heard mono at 16 kHz;
    with ``within`` (start_s, end_s), only the spans inside it (the finder hears the whole clip, as
    separation.self_prompt.find_example does: the same context, the same probabilities, whatever
    the region). ``max_spans``: at most that many spans, the strongest (``strongest_spans``).
    ``finder`` defaults to the shipped one. OptionError for an empty text, ModelLoadError when no
    finder is installed or its text encoder cannot load; errors.Cancelled when ``cancel`` is set."""
    from ..audio.io import resample, to_mono
    from ..errors import ModelLoadError, OptionError
    from ..library.embed import EncoderUnavailable

    text = query_text(instruction.strip()).strip()
    if not text:
        raise OptionError('Name the sound to find, e.g. "Remove the dog barking".')
    finder = finder if finder is not None else load_finder()
    if finder is None:
        raise ModelLoadError(f"No sound finder is installed ({shipped_finder_dir()}).")
    x16 = resample(to_mono(np.asarray(audio, np.float32)), int(sample_rate), 16000)
    dur = len(x16) / 16000.0
    a, b = (0.0, dur) if within is None else (max(0.0, float(within[0])), min(dur, float(within[1])))
    try:
        probs = yield from sound_prob_steps(finder, x16, text, cancel=cancel)
    except EncoderUnavailable as exc:
        raise ModelLoadError(f"The sound finder's text encoder could not load ({exc}).") from None
    whole, cfg = np.asarray(probs), cfg or APP_FIND
    probs, i = whole, 0
    if within is not None:  # what plays outside the region is no span (and no peak)
        i, j = max(0, int(a * FPS)), int(np.ceil(b * FPS)) + 1
        probs = whole[i:j] if j > i else whole[:0]
    if max_spans is None:
        spans = sound_spans(probs, cfg)
    else:
        spans = strongest_spans(probs, cfg, k=max_spans) if max_spans > 0 else []
    spans = tuple((round(max(a, i / FPS + s), 3), round(min(b, i / FPS + e), 3)) for s, e in spans)
    return FoundSound(text, spans, float(probs.max()) if len(probs) else 0.0,
                      None if within is None else (a, b), whole)
