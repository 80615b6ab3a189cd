"""Many files edited with one model: where each output goes, and the edits as one generator.

    items = plan_batch(["takes/"], out_dir=None, suffix="-edited")   # outputs beside the sources
    gen = run_batch(model, items, "Remove the hum", params, cancel)   # BatchEvent per step / file

Outputs keep their source's container and sample format (16-bit PCM stays 16-bit PCM; MP3
and other formats that cannot be written give WAV) and never replace a source (checked by
(device, inode), so links count too); two sources never share an output, and every output
is written atomically; a file that cannot be edited is reported and the batch goes on.
An item may carry its own instruction, region, audio prompts (a library reference), output
format and residual file (``rfm-studio edit-batch``'s manifest rows), and with ``commit_to``
the outputs are moved into place together when every item is done, all or none.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .atomic import file_id, file_ids, is_one_of
from .audio.io import READ_EXTENSIONS, WRITE_FORMATS
from .errors import Cancelled, OptionError, RFMError
from .events import CancelToken, EditRequest, ProgressEvent, check_cancel, relay


@dataclass(frozen=True)
class BatchItem:
    source: Path
    output: Path
    instruction: Optional[str] = None  # None: the batch's instruction
    region: Optional[tuple[float, float]] = None  # None: the batch's region
    prompts: tuple = ()  # AudioPrompts for this item's edit (a library reference, examples)
    fmt: Optional[object] = None  # OutputFormat; None: the source's sample format (choose_format)
    residual: Optional[Path] = None  # also write what the edit removed (input minus output) here
    residual_fmt: Optional[object] = None


@dataclass(frozen=True)
class BatchEvent:
    """Progress of one file: ``status`` is "editing" (``step`` of ``steps``), "done" or "failed"."""

    index: int  # the file's place in the batch (0-based)
    total: int  # files in the batch
    name: str  # the source's file name
    status: str
    step: int = 0
    steps: int = 0
    message: str = ""  # why it failed / where the output went; "editing": the stage (a ProgressEvent's text),
    # "" for the sampler's steps
    results: tuple = ()  # every finished file so far: (index, "done" | "failed", message); events
    # may be coalesced by a UI that draws only the newest, and no file's outcome may be lost
    report: str = ""  # "done": the text of run_batch's ``describe``, if given

    @property
    def kind(self) -> str:
        """"step", "stage" (editing, with a stage's text) or the status: a UI that keeps the newest
        event of each kind never loses a sampler step behind the stage after it."""
        return ("stage" if self.message else "step") if self.status == "editing" else self.status


def audio_files(folder: Path) -> list[Path]:
    """The audio files directly in ``folder`` (sorted; hidden files skipped)."""
    return sorted(p for p in Path(folder).iterdir()
                  if p.is_file() and p.suffix.lower() in READ_EXTENSIONS and not p.name.startswith("."))


def plan_batch(paths, out_dir: Optional[Path] = None, suffix: str = "-edited") -> list[BatchItem]:
    """Sources (files and folders' audio files, in order, each once) with their outputs: next to
    the source as ``<stem><suffix><ext>`` or in ``out_dir`` as ``<stem><ext>`` (``ext``: the
    source's when it can be written, else .wav). Raises OptionError (one sentence) when an
    output would be a source or two sources would share an output."""
    sources, seen = [], set()
    for p in paths:
        p = Path(p)
        if not p.exists():
            raise OptionError(f"{p} does not exist.")
        for f in (audio_files(p) if p.is_dir() else [p]):
            key = file_id(f) or f.resolve()
            if key not in seen:
                seen.add(key)
                sources.append(f)
    if not sources:
        raise OptionError("No audio files to edit: choose files or a folder that holds some.")
    if out_dir is not None:
        out_dir = Path(out_dir)
        if out_dir.exists() and not out_dir.is_dir():
            raise OptionError(f"The output folder {out_dir} is a file; choose a folder.")
    elif not suffix.strip():
        raise OptionError("Outputs next to their sources need a suffix (e.g. '-edited'), or choose an output folder.")
    ids = file_ids(sources)
    items, outs = [], {}
    for s in sources:
        ext = s.suffix.lower() if s.suffix.lower() in WRITE_FORMATS else ".wav"
        out = (out_dir / f"{s.stem}{ext}") if out_dir is not None else s.with_name(f"{s.stem}{suffix}{ext}")
        key = str(out.resolve()) if out.parent.exists() else str(out)
        if key in outs:
            raise OptionError(f"{s.name} and {outs[key].name} would both be written to {out.name}; "
                              "rename one or choose outputs next to the sources.")
        if is_one_of(out, ids):
            raise OptionError(f"The output {out} would replace a source file; choose another folder or suffix.")
        outs[key] = s
        items.append(BatchItem(s, out))
    return items


def run_batch(model, items, instruction: str = "", params: Optional[dict] = None, cancel: Optional[CancelToken] = None,
              region: Optional[tuple[float, float]] = None, *, commit_to: Optional[Path] = None, describe=None):
    """Edit every item with its own instruction, else ``instruction`` (and its own region, else
    ``region``); yields BatchEvent, returns {"done": [outputs], "failed": [(name, reason)],
    "results": ..., "reports": [(index, text)], "seconds": float}. Cancelling stops within one
    sampler step.

    Without ``commit_to`` each output is written when its edit is done (cancelling keeps those,
    each complete) and a file that cannot be edited is reported and skipped. With ``commit_to``
    (the folder holding every output) the outputs are written beside their final names and moved
    into place together when every item is done (``atomic.commit_files``); any failure ends the
    batch with its error and leaves the folder as it was. ``describe(item, source_audio, result)``
    -> str: a text for each edited item (e.g. its change report), in its "done" event and in
    "reports"."""
    from dataclasses import replace

    from .atomic import commit_files, discard
    from .audio.formats import as_written, choose_format, source_format
    from .audio.io import load_audio, save_audio, stage_audio
    from .residual import residual
    from .editing import run_edit

    if any(not (it.instruction if it.instruction is not None else instruction or "").strip() for it in items):
        raise OptionError("The instruction is empty; describe the edit, for example 'Remove the hum'.")
    params = dict(params or {})
    cancel = cancel or CancelToken()
    t0 = time.perf_counter()
    done, failed, results, reports, staged = [], [], [], [], []
    n = len(items)
    try:
        for i, item in enumerate(items):
            name = item.source.name
            check_cancel(cancel, "batch")
            yield BatchEvent(i, n, name, "editing", results=tuple(results))
            try:
                audio, sr = load_audio(item.source)
                req = EditRequest(audio=audio, sample_rate=sr,
                                  instruction=item.instruction if item.instruction is not None else instruction,
                                  region=item.region if item.region is not None else region,
                                  **({"prompts": tuple(item.prompts)} if item.prompts else {}), **params)
                res = yield from relay(run_edit(model, req, cancel), lambda ev: BatchEvent(
                    i, n, name, "editing", *((ev.stage, ev.stages, ev.text) if isinstance(ev, ProgressEvent)
                                             else (ev.step, ev.total)), results=tuple(results)))
                check_cancel(cancel, "batch")
                item.output.parent.mkdir(parents=True, exist_ok=True)
                # the source's sample format unless the item names one
                fmt = item.fmt or choose_format(item.output, source_format(item.source))
                res = replace(res, audio=as_written(res.audio, fmt))  # what the file holds (PCM: clipped)
                files = [(item.output, res.audio, fmt)]
                if item.residual is not None:
                    files.append((item.residual, residual(audio, res.audio), item.residual_fmt or fmt))
                if commit_to is None:
                    out = [save_audio(path, data, res.sample_rate, protect=[item.source], fmt=f)
                           for path, data, f in files][0]
                else:
                    for path, data, f in files:
                        staged.append((stage_audio(path, data, res.sample_rate, protect=[item.source], fmt=f),
                                       path))
                    out = item.output
                text = describe(item, audio, res) if describe is not None else ""
            except Cancelled:
                raise
            except (RFMError, OSError) as exc:
                if commit_to is not None:
                    raise
                if isinstance(exc, OSError):
                    from .errors import file_error

                    why = file_error(exc)
                else:
                    why = str(exc)
            else:
                done.append(str(out))
                results.append((i, "done", str(out)))
                if text:
                    reports.append((i, text))
                yield BatchEvent(i, n, name, "done", message=str(out), results=tuple(results), report=text)
                continue
            failed.append((name, why))
            results.append((i, "failed", why))
            yield BatchEvent(i, n, name, "failed", message=why, results=tuple(results))
        if commit_to is not None:
            commit_files(staged, commit_to)
    except BaseException:
        for tmp, _ in staged:
            discard(tmp)
        raise
    return {"done": done, "failed": failed, "results": tuple(results), "reports": reports,
            "seconds": time.perf_counter() - t0}
