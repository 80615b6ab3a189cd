"""Typed events that long jobs yield; the only objects that cross threads.

All payloads are numpy arrays or plain values, and every class is frozen.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from .prompts import AudioPrompt


class CancelToken:
    """Set from any thread; long jobs check it between steps."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()


MAX_STRENGTH = 4.0  # the largest scale of the model's change an edit accepts


@dataclass(frozen=True)
class EditRequest:
    """Everything one edit needs; the GUI builds it, the worker runs it."""

    audio: np.ndarray  # float32 [samples] or [samples, channels] at sample_rate
    sample_rate: int
    instruction: str
    t_start: Optional[float] = None  # None: the model's default
    steps: Optional[int] = None
    guidance: Optional[float] = None
    draws: Optional[int] = None  # noise draws averaged per edit; None: the model's default
    strength: Optional[float] = None  # scales the model's change of the mel (0: none, 1: as predicted);
    # None: the model's default (its region default when a region is given)
    seed: Optional[int] = 0
    region: Optional[tuple[float, float]] = None  # seconds, in the input's time
    capture_attention: bool = False
    attention_layers: str = "all"  # all | down | mid | up
    preview_every: int = 0  # 0: no mel previews
    render: Optional[str] = None  # "mask" | "vocoder"; None: the model's default
    prompts: tuple[AudioPrompt, ...] = ()  # example / reference sounds (core/prompts)
    engine: Optional[str] = None  # removal engine: "auto" (None), "model", "dictionary" (core/separation)


@dataclass(frozen=True)
class StepEvent:
    """One sampler step of one window."""

    step: int  # 1-based, over all windows
    total: int
    t: float
    window: int = 0
    windows: int = 1
    attention: Optional[np.ndarray] = None  # [tokens, frames] float32, frames of the window
    frame_offset: int = 0  # the window's first frame in the whole clip (100 fps mel frames)
    preview: Optional[np.ndarray] = None  # [64, frames] log-mel of the current estimate
    tokens: tuple[str, ...] = ()


@dataclass(frozen=True)
class ProgressEvent:
    """A stage of an edit that is no sampler step (the dictionary engine's work): it carries no
    attention map and is shown in a progress display only, never as a step of the heatmap."""

    stage: int  # 1-based
    stages: int
    text: str  # what the stage does, e.g. "Dictionary removal: separating the sound"


def stage(cancel, n: int, total: int, text: str):
    """Yield ProgressEvent(n, total, text), then stop with Cancelled if ``cancel`` was set meanwhile
    (``yield from stage(cancel, 1, 3, "...")`` between the stages of a core generator)."""
    yield ProgressEvent(n, total, text)
    check_cancel(cancel)


def check_cancel(cancel, what: str = "edit") -> None:
    """errors.Cancelled ("The edit was cancelled.", or ``what``'s) when ``cancel`` (a CancelToken
    or None) is set."""
    if cancel is not None and cancel.cancelled:
        from .errors import Cancelled

        raise Cancelled(f"The {what} was cancelled.")


class Stages:
    """The numbered stages of one edit, all of the same ``total``: ``yield from stages.next(text)``
    announces the next one (``stage``: its ProgressEvent, then the cancel check). ``done``: the
    stages announced so far; ``left``: those still to come."""

    def __init__(self, cancel, total: int) -> None:
        self.cancel, self.total, self.done = cancel, int(total), 0

    @property
    def left(self) -> int:
        return self.total - self.done

    def next(self, text: str):
        if self.done >= self.total:
            raise RuntimeError(f"stage {self.done + 1} of {self.total} announced: the plan has {self.total}")
        self.done += 1
        yield from stage(self.cancel, self.done, self.total, text)


@dataclass(frozen=True)
class FindStep:
    """The sound finder begins hearing window ``window`` of ``windows`` (1-based; core.detection.
    find.run_find): the clip's ``start_s``..``end_s``. A cancel set meanwhile stops it before
    that window's network runs."""

    window: int
    windows: int
    start_s: float
    end_s: float
    text: str = ""  # the sound it listens for


@dataclass(frozen=True)
class EditResult:
    audio: np.ndarray  # same shape, rate and length as the request's audio
    sample_rate: int
    instruction: str
    params: dict = field(default_factory=dict)
    seconds: float = 0.0
    mel_in: Optional[np.ndarray] = None  # [64, frames]
    mel_out: Optional[np.ndarray] = None
    tokens: tuple[str, ...] = ()
    attention: Optional[np.ndarray] = None  # [steps, tokens, frames] over the whole clip


@dataclass(frozen=True)
class TrainEvent:
    step: int
    total: int
    loss: float
    lr: float
    val_loss: Optional[float] = None
    seconds: float = 0.0
    checkpoint: Optional[str] = None
    message: str = ""


def drive(gen):
    """Run a core generator to the end; return its return value."""
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def relay(gen, wrap):
    """Re-yield each event of the core generator ``gen`` as ``wrap(event)`` and return its return
    value (``result = yield from relay(run_edit(...), to_my_event)``); ``gen`` is closed when the
    relay stops early."""
    try:
        while True:
            try:
                ev = next(gen)
            except StopIteration as stop:
                return stop.value
            yield wrap(ev)
    finally:
        gen.close()
