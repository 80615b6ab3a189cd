"""Where a named sound plays in a clip: the sound finder's frame probabilities and spans.

``sound_probs`` runs the finder (model.py) over a 16 kHz mono clip in windows of ``WINDOW_S``
(each heard with ``CONTEXT_S`` more on both sides); ``sound_spans`` turns the probabilities into
the runs where the sound plays. The shipped finder lives in ``models/sound-finder`` and is
loaded once per process (``shipped_finder``; None when its files are missing).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..runs import merge_runs, runs
from .model import FPS

WINDOW_S = 30.0
CONTEXT_S = 3.0
FOLDER_NAME = "sound-finder"
MIN_SAMPLES = 512  # half the log-mel's STFT window

_lock = threading.Lock()
_loaded: dict = {}


@dataclass(frozen=True)
class FindConfig:
    threshold: float = 0.5  # a span holds a frame at this probability at least ...
    low: float | None = None  # ... and reaches out over the frames at ``low`` or more (None: threshold)
    gap_s: float = 0.15  # runs closer than this are one span
    min_span_s: float = 0.1  # shorter runs are dropped


def shipped_finder_dir() -> Path:
    from ..paths import shipped_models_dir

    return shipped_models_dir() / FOLDER_NAME


def load_finder(folder=None):
    """The finder network of ``folder`` (default: the shipped one), loaded once per process;
    None when the folder holds no finder."""
    folder = Path(folder) if folder is not None else shipped_finder_dir()
    key = str(folder.resolve()) if folder.exists() else str(folder)
    if not (folder / "config.json").is_file() or not (folder / "model.safetensors").is_file():
        return None  # not cached: a finder installed later is found
    with _lock:
        if key not in _loaded:
            from .model import load

            _loaded[key] = load(folder)[1]
        return _loaded[key]


def sound_probs(finder, x16: np.ndarray, text: str, cancel=None) -> np.ndarray:
    """[frames] at 100 frames a second (frame i at i / 100 s): the probability that ``text``'s
    sound plays, for the 16 kHz mono signal ``x16``; ``cancel`` (a CancelToken) is checked
    between windows (errors.Cancelled). library.embed.EncoderUnavailable when the text
    encoder cannot load."""
    import torch

    from ..features.mel import MelFrontEnd
    from ..library.embed import embed

    x = np.asarray(x16, np.float32)
    n_frames = len(x) // 160 + 1
    q = torch.from_numpy(embed([text]))
    front = MelFrontEnd()
    win, ctx = int(WINDOW_S * FPS), int(CONTEXT_S * FPS)
    out = np.zeros(n_frames, np.float32)
    with torch.inference_mode():
        for a in range(0, n_frames, win):
            if cancel is not None and cancel.cancelled:
                from ..errors import Cancelled

                raise Cancelled("The edit was cancelled.")
            b = min(n_frames, a + win)
            a0, b0 = max(0, a - ctx), min(n_frames, b + ctx)
            seg = x[a0 * 160: max(a0 * 160 + 160, (b0 - 1) * 160)]
            if len(seg) <= MIN_SAMPLES:  # the STFT's reflect padding needs more than half a window
                seg = np.pad(seg, (0, MIN_SAMPLES + 1 - len(seg)))
            mel = front(torch.from_numpy(seg))[None]
            logits = finder(mel, q)[0].numpy()
            p = 1.0 / (1.0 + np.exp(-logits))
            seg = p[a - a0: a - a0 + (b - a)]
            out[a: a + len(seg)] = seg
    return out


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

    def mass(s):
        return float(p[int(round(s[0] * fps)): int(round(s[1] * fps))].sum())

    return sorted(sorted(spans, key=lambda s: -mass(s))[: max(1, k)])


def query_text(instruction: str) -> str:
    """What the finder is asked for: the sound a "Remove X" names, else the instruction."""
    from ..instructions import removed_sound

    return removed_sound(instruction) or instruction
