"""Worker-side work: load the model, run an edit, compute display spectrograms.

These functions run on the worker thread (see jobs.py). The model lives in a ModelHost
and is only touched there; the UI thread receives frozen dataclasses and numpy arrays.
torch and the model code are imported here lazily, never at module import.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..core.events import EditRequest, EditResult


@dataclass(frozen=True)
class ModelInfo:
    folder: str
    name: str
    device: str
    precision: str
    adapter: str
    steps: int
    t_start: float
    guidance: float
    seconds: float
    note: str = ""
    draws: int = 1
    strength: float = 1.0
    region_strength: float = 1.0


@dataclass(frozen=True)
class EditOutcome:
    result: EditResult
    mel_out: np.ndarray  # [64, frames] display log-mel of the result audio (whole clip)
    wall: float  # seconds, including the spectrogram
    report: Optional[object] = None  # core.change_report.ChangeReport of input -> result


def worker_threads() -> int:
    """Intra-op threads for the model: all cores but one, which stays with the UI thread
    (on a busy 2-core machine an oversubscribed pool is many times slower, not faster)."""
    env = os.environ.get("RFM_STUDIO_THREADS") or os.environ.get("OMP_NUM_THREADS")
    if env and env.isdigit() and int(env) > 0:
        return int(env)
    return max(1, min(8, (os.cpu_count() or 2) - 1))


def use_worker_threads() -> int:
    """Size every pool the worker's jobs compute on to ``worker_threads()``: torch's intra-op pool
    (the model) and the BLAS pools of numpy and scipy (the dictionary engine's NMF: thousands of
    small products, each waiting for every BLAS thread; on a busy 2-core machine a 10 s clip's
    dictionary removal took 2-20 s with numpy's default 2 BLAS threads, 0.4 s with one:
    benchmarks/gui_edit_time.py). Process-wide; a pool is resized only when it is not at the
    count (first use, or a BLAS library loaded since), so the UI and I/O threads' BLAS calls do
    not meet a resize at every edit. Returns the count."""
    import torch
    from threadpoolctl import threadpool_info, threadpool_limits

    n = worker_threads()
    if torch.get_num_threads() != n:
        torch.set_num_threads(n)
    blas = [i for i in threadpool_info() if i.get("user_api") == "blas"]  # (lists them: no pool is touched)
    if any(i.get("num_threads") != n for i in blas):  # only when one is not sized yet (a library loaded since)
        threadpool_limits(limits=n, user_api="blas")
    return n


def resolve_device(choice: str) -> str:
    """The Settings' device through the core's one rule (core.devices), as a ModelLoadError."""
    from ..core.devices import resolve_device as core_resolve
    from ..core.errors import ModelLoadError, OptionError

    try:
        return core_resolve(choice)
    except OptionError as exc:
        raise ModelLoadError(str(exc).replace("--device cpu or auto", "CPU or Auto in Settings")) from None


class ModelHost:
    """Holds the loaded model on the worker thread."""

    def __init__(self):
        self.model = None
        self.info: Optional[ModelInfo] = None

    def load(self, folder: str, device: str = "auto", precision: str = "float32", adapter: str = "") -> ModelInfo:
        t0 = time.perf_counter()
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch

        from ..core.editing import default_strength
        from ..core.errors import ModelLoadError
        from ..core.model.loaders import load_editor

        use_worker_threads()

        dev = resolve_device(device)
        note = ""
        from ..core.devices import resolve_dtype
        from ..core.errors import OptionError

        try:
            dtype = resolve_dtype(precision, dev)
        except OptionError:  # not usable on this device: float32, said in the model line
            dtype, note = torch.float32, f"Precision {precision} is not usable on {dev}; using float32."
        try:
            model = load_editor(Path(folder), device=dev, dtype=dtype, adapter=Path(adapter) if adapter else None)
        except ModuleNotFoundError as exc:
            if "adapters" in str(exc):
                raise ModelLoadError("This version of the core cannot apply adapters yet; choose 'No adapter'.") from None
            raise
        self.model = None  # release the previous model before keeping the new one
        self.model = model
        f = model.flow.sampler
        self.info = ModelInfo(str(folder), str(model.info.get("name") or Path(folder).name), dev,
                              str(dtype).replace("torch.", ""), adapter or "", int(f.steps), float(f.t_start),
                              float(f.guidance), time.perf_counter() - t0, note, int(f.draws),
                              default_strength(model, False), default_strength(model, True))
        return self.info

    def set_adapter(self, adapter: str = "") -> ModelInfo:
        """Attach (or with "" remove) a LoRA adapter on the loaded model, without reloading it."""
        from dataclasses import replace

        from ..core.errors import ModelLoadError
        from ..core.model.adapters import apply_adapter, remove_adapter

        if self.model is None or self.info is None:
            raise ModelLoadError("Load a model before choosing an adapter.")
        t0 = time.perf_counter()
        if adapter:
            apply_adapter(self.model, adapter)
        else:
            remove_adapter(self.model)
        self.info = replace(self.info, adapter=adapter or "", seconds=time.perf_counter() - t0)
        return self.info

    def set_model(self, model, name: str = "injected") -> ModelInfo:
        """Use an in-memory model (tests, scripts)."""
        from ..core.editing import default_strength

        use_worker_threads()
        self.model = model
        f = model.flow.sampler
        self.info = ModelInfo("", str(model.info.get("name") or name), str(model.device), str(model.dtype),
                              "", int(f.steps), float(f.t_start), float(f.guidance), 0.0,
                              draws=int(f.draws), strength=default_strength(model, False),
                              region_strength=default_strength(model, True))
        return self.info

    def edit(self, req: EditRequest, cancel):
        """Generator of StepEvent and ProgressEvent (run_edit's); returns an EditOutcome (result + its spectrogram)."""
        from ..core.editing import run_edit
        from ..core.errors import ModelLoadError

        if self.model is None:
            raise ModelLoadError("No model is loaded; choose a model folder first.")
        use_worker_threads()  # (a BLAS library the last edit loaded, such as scipy's, included)
        t0 = time.perf_counter()
        result = yield from run_edit(self.model, req, cancel)
        # the spectrogram of what is heard (after rendering), computed like the input's
        mel = display_mel(result.audio, result.sample_rate)
        from ..core.change_report import compare

        report = compare(req.audio, result.audio, result.sample_rate)
        return EditOutcome(result, mel, time.perf_counter() - t0, report)


def display_mel(audio: np.ndarray, sr: int) -> np.ndarray:
    """The model's log-mel (MelConfig: 16 kHz mono, 64 bands, 100 fps) of a clip, for the spectrogram view."""
    from ..core.audio.io import resample, to_mono
    from ..core.features.mel import MelConfig, MelFrontEnd

    mel = MelConfig()
    wav = resample(to_mono(np.asarray(audio, dtype=np.float32)), int(sr), mel.sample_rate)
    frames = mel.frames(len(wav))
    if len(wav) < mel.win_length:  # the front end needs one whole window; a very short clip is padded and trimmed back
        wav = np.pad(wav, (0, mel.win_length - len(wav)))
    return MelFrontEnd(mel).numpy(wav)[:, :frames].astype(np.float32)


@dataclass(frozen=True)
class OpenedClip:
    """A file read in the worker (long files): its samples and rate."""
    audio: np.ndarray
    sample_rate: int


def read_clip(path) -> OpenedClip:
    from ..core.audio.io import load_audio

    audio, sr = load_audio(path)
    return OpenedClip(audio, int(sr))


@dataclass(frozen=True)
class MelJob:
    key: int  # which version it belongs to
    mel: np.ndarray
