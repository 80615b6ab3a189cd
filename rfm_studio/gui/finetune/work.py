"""Worker-side jobs of the Fine-tuning tab, and the checks of single triplets.

``train`` and ``preview`` are generators run by the app's one worker thread (jobs.py) on
the model the worker holds (tasks.ModelHost); the UI receives only the frozen dataclasses
below. ``check_files`` (``check_triplet`` for each file pair) runs in the window's I/O worker
(jobs.io_runner), not behind a training run; it reads audio files only.

Staging: the core reads a JSONL manifest whose paths must lie *inside* the manifest's
folder, while a user's files can be anywhere (other disks, other folders). So for every
run the files are hard-linked (copied when a link is impossible, e.g. across file
systems) into a fresh folder under the user cache folder, next to the JSONL that names
them; the folder is removed when the run ends, however it ends. The user's folders are
never written to, and the adapter card lists the staged names, which keep the original
file names (``input/001_door.wav``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

import numpy as np

from ...core.atomic import atomic_write_text
from ...core.training.finetune_config import FinetuneConfig

PREVIEW_SECONDS = 10.0


def run_config(name: str, steps: int = 300, **fields) -> FinetuneConfig:
    """The FinetuneConfig of a run of the tab: about 100 points on the loss curve and 20
    held-out ones (on logged steps). ``triplets`` is filled in by ``train`` (the staged table)."""
    log_every = max(1, steps // 100)
    val_every = log_every * max(1, round(steps / 20 / log_every))
    return FinetuneConfig(triplets="", name=name, steps=steps, log_every=log_every, val_every=val_every, **fields)


@dataclass(frozen=True)
class TrainProgress:
    step: int
    total: int
    loss: float
    val_loss: Optional[float]
    seconds: float
    points: tuple  # ((step, loss), ...) every logged step so far (events are coalesced)
    val_points: tuple  # ((step, held-out loss), ...)
    message: str = ""  # "", "staging", "saved", "cancelled"


@dataclass(frozen=True)
class TrainOutcome:
    folder: Optional[str]  # the adapter folder; None when cancelled
    name: str
    final_loss: Optional[float]
    final_val_loss: Optional[float]
    seconds: float
    points: tuple = ()
    val_points: tuple = ()


@dataclass(frozen=True)
class PreviewStep:
    phase: str  # "base" or "adapter"
    step: int
    total: int
    text: str = ""  # a stage with no sampler step (core ProgressEvent): what it does


@dataclass(frozen=True)
class PreviewOutcome:
    adapter: str  # folder
    input: str  # file
    instruction: str
    sample_rate: int
    original: np.ndarray
    base: np.ndarray  # the edit by the base model
    adapted: np.ndarray  # the same edit (same seed) with the adapter
    seconds: float
    trimmed: bool  # the input was longer than PREVIEW_SECONDS
    params: dict = None  # the edit's steps, t_start, guidance, seed


# =====================================================================================
# checks (the I/O worker thread; no model)
# =====================================================================================
def check_triplet(input_path: str, target_path: str) -> list[str]:
    """The core's audio checks of one triplet (unreadable, silent, very different lengths),
    its sentences numbered 'Triplet 1'. Instruction, count and duplicates are checked on the
    whole table by the tab."""
    from ...core.training.triplet_files import validate_triplets

    if not input_path or not target_path:
        return [f"Triplet 1 has no {'input' if not input_path else 'target'} file."]
    try:
        base = Path(os.path.commonpath([os.path.dirname(input_path), os.path.dirname(target_path)]))
    except ValueError:  # different drives (Windows)
        return ["Triplet 1: the input and the target are on different drives; put them on one drive."]
    row = {"input": os.path.relpath(input_path, base), "target": os.path.relpath(target_path, base),
           "instruction": "-"}
    return validate_triplets([row], base, min_count=0)


def renumber(message: str, index: int) -> str:
    return re.sub(r"^Triplet 1\b", f"Triplet {index}", message)


def check_files(items, cancel=None):
    """A job of the I/O worker: ``check_triplet`` for each ``(key, input, target)``.
    Yields the results so far, ``((key, messages), ...)``, after each one (so a coalesced
    event loses nothing) and returns them all; a check that fails says so in its message."""
    done = []
    for key, input_path, target_path in items:
        if cancel is not None and cancel.cancelled:
            break
        try:
            msgs = tuple(check_triplet(input_path, target_path))
        except Exception as exc:  # noqa: BLE001 - a check must never take the app down
            msgs = (f"Triplet 1 could not be checked ({type(exc).__name__}).",)
        done.append((key, msgs))
        yield tuple(done)
    return tuple(done)


# =====================================================================================
# staging
# =====================================================================================
def staging_root() -> Path:
    from ...core import paths

    return paths.user_cache_dir() / "finetune"


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def stage_triplets(triplets, folder: Path) -> Path:
    """Link or copy the files into ``folder`` and write ``folder/triplets.jsonl``."""
    folder.mkdir(parents=True, exist_ok=False)
    (folder / "input").mkdir()
    (folder / "target").mkdir()
    from ...core.errors import OptionError

    lines = []
    for i, t in enumerate(triplets, 1):
        row = {"instruction": t.instruction}
        for side in ("input", "target"):
            src = Path(getattr(t, side)).resolve()
            if not src.is_file():
                raise OptionError(f"Triplet {i} {side}: the file {src} is gone; add the triplet again.")
            rel = f"{side}/{i:03d}_{src.name}"
            _link_or_copy(src, folder / rel)
            row[side] = rel
        lines.append(json.dumps({"input": row["input"], "target": row["target"], "instruction": row["instruction"]}))
    manifest = folder / "triplets.jsonl"
    atomic_write_text(manifest, "\n".join(lines) + "\n")
    return manifest


def _new_stage() -> Path:
    root = staging_root()
    root.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in root.glob("run-*"):  # left behind by a crash
        try:
            if now - old.stat().st_mtime > 86400:
                shutil.rmtree(old, ignore_errors=True)
        except OSError:
            pass
    return root / f"run-{os.getpid()}-{int(now * 1000)}"


def _restore_adapter(host, model, prev: Optional[str]) -> None:
    """Put back the adapter that was attached before a run (or none)."""
    from ...core.model.adapters import apply_adapter, remove_adapter

    try:
        if prev:
            apply_adapter(model, prev)
        else:
            remove_adapter(model)
    except Exception:  # noqa: BLE001 - its folder went away: keep the base model
        remove_adapter(model)
        if host.info is not None:
            host.info = replace(host.info, adapter="")


# =====================================================================================
# jobs (the worker thread)
# =====================================================================================
def train(host, triplets, s: FinetuneConfig, cancel):
    """Generator of TrainProgress; returns a TrainOutcome. ``s`` is the run's settings
    (``run_config``); its table is the staged copy of ``triplets``. Any attached adapter is
    taken off for the run (the new adapter learns on the base model) and put back afterwards."""
    from ...core.errors import ModelLoadError
    from ...core.model.adapters import remove_adapter
    from ...core.training.finetune import finetune

    model = host.model
    if model is None:
        raise ModelLoadError("Load a model before training an adapter.")
    t0 = time.perf_counter()
    yield TrainProgress(0, s.steps, float("nan"), None, 0.0, (), (), "staging")
    stage = _new_stage()
    prev = getattr(model, "_adapter_path", None)
    saved, points, vpoints = None, [], []
    val_every = s.val_every
    gen = None
    try:
        manifest = stage_triplets(triplets, stage)
        if prev:
            remove_adapter(model)
        cfg = replace(s, triplets=str(manifest),
                      # the tab asked before replacing an adapter of this name; the old one is
                      # kept as a backup until the run's outcome is known (cancel: it comes back)
                      replace=True, keep_replaced=True,
                      card_triplets=[{"input": str(Path(t.input).resolve()), "target": str(Path(t.target).resolve()),
                                      "instruction": t.instruction} for t in triplets])
        base_name = (host.info.folder or host.info.name) if host.info is not None else ""
        last = None
        gen = finetune(model, cfg, cancel, base_name=base_name)
        for ev in gen:
            if ev.message == "cancelled":
                return TrainOutcome(None, s.name, None, None, time.perf_counter() - t0, tuple(points), tuple(vpoints))
            if ev.checkpoint:
                saved = ev.checkpoint
            elif ev.message.startswith("resumed"):  # a run cut short earlier continues: no loss yet
                pass
            else:
                points.append((ev.step, float(ev.loss)))
                if ev.val_loss is not None and (ev.step % val_every == 0 or ev.step == ev.total):
                    vpoints.append((ev.step, float(ev.val_loss)))
            last = ev
            yield TrainProgress(ev.step, ev.total, float(ev.loss), ev.val_loss, float(ev.seconds), tuple(points),
                                tuple(vpoints), ev.message)
        return TrainOutcome(saved, s.name, last.loss if last else None, last.val_loss if last else None,
                            time.perf_counter() - t0, tuple(points), tuple(vpoints))
    finally:
        if gen is not None:
            gen.close()  # detaches the run's LoRA hooks (a no-op when it has finished)
        if saved:
            from ...core.model.adapters import drop_backup, restore_backup

            try:
                if cancel is not None and cancel.cancelled:
                    # cancelled while saving (the UI said "cancelled, nothing saved"): the new
                    # adapter goes and the one it replaced, if any, comes back
                    restore_backup(saved)
                else:
                    drop_backup(saved)
            except OSError:
                pass  # a backup left behind is put back or dropped by the next save of this name
        if prev or getattr(model, "_adapter_path", None):
            _restore_adapter(host, model, prev)
        shutil.rmtree(stage, ignore_errors=True)


def _drive(gen, phase: str):
    """Re-yield an edit's StepEvents and ProgressEvents as PreviewSteps; return the edit's result."""
    from ...core.events import ProgressEvent, relay

    return (yield from relay(gen, lambda ev: PreviewStep(phase, ev.stage, ev.stages, ev.text)
                             if isinstance(ev, ProgressEvent) else PreviewStep(phase, ev.step, ev.total)))


def preview(host, adapter: str, input_path: str, instruction: str, cancel, seed: int = 0):
    """The same edit (same seed) of one of the user's inputs, by the base model and with the
    adapter; the model's own adapter state is restored afterwards."""
    from ...core.audio.io import load_audio
    from ...core.editing import run_edit
    from ...core.errors import ModelLoadError
    from ...core.events import EditRequest
    from ...core.model.adapters import apply_adapter, remove_adapter

    model = host.model
    if model is None:
        raise ModelLoadError("Load a model before previewing an adapter.")
    t0 = time.perf_counter()
    audio, sr = load_audio(input_path)
    n = int(PREVIEW_SECONDS * sr)
    trimmed = audio.shape[0] > n
    audio = np.ascontiguousarray(audio[:n])
    req = EditRequest(audio=audio, sample_rate=sr, instruction=instruction, seed=seed, capture_attention=False)
    prev = getattr(model, "_adapter_path", None)
    try:
        remove_adapter(model)
        base = yield from _drive(run_edit(model, req, cancel), "base")
        apply_adapter(model, adapter)
        adapted = yield from _drive(run_edit(model, req, cancel), "adapter")
    finally:
        _restore_adapter(host, model, prev)
    return PreviewOutcome(str(adapter), str(input_path), instruction, int(sr), audio, base.audio, adapted.audio,
                          time.perf_counter() - t0, trimmed, dict(base.params))
