"""Running an edit from the main window (a controller MainWindow composes): the request from
the edit panel, the job in the worker, its live progress and attention maps, and its result as
a new version with the change report. ``EditHost`` lists everything it uses of the window."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Optional, Protocol

from ..core.events import EditRequest, ProgressEvent
from ..core.features.mel import MelConfig
from .jobs import JobError
from .library.panel import with_reference

if TYPE_CHECKING:
    from .attention_panel import AttentionPanel
    from .edit_panel import EditPanel
    from .example_marks import ExampleMarks
    from .finetune.tab import FinetuneTab
    from .history import History
    from .jobs import JobRunner
    from .library.panel import LibraryPanel
    from .settings import Settings
    from .tasks import EditOutcome, ModelHost, ModelInfo
    from .window_find import FindController

TEMPLATE_GAP = re.compile(r"(^|\s)\.\.\.(\s|$)")  # a template's unfilled '...' (not "barking...")
NO_CHANGE = "No audible change"


class EditHost(Protocol):
    history: History
    settings: Settings
    runner: JobRunner
    host: ModelHost
    panel: EditPanel
    attn: AttentionPanel
    examples: ExampleMarks
    library: LibraryPanel
    finetune: FinetuneTab
    finding: FindController
    region: Optional[tuple[float, float]]
    compare: tuple
    ab: int
    doc_id: int
    model_info: Optional[ModelInfo]

    def statusBar(self): ...
    def show_error(self, title: str, message: str, detail: str = "") -> None: ...
    def refresh_views(self) -> None: ...
    def update_actions(self) -> None: ...


@dataclass
class EditCtx:
    parent: int
    doc: int
    t0: float
    request: EditRequest
    first_step_at: Optional[float] = None
    times: list = field(default_factory=list)


def change_params(report, result) -> dict:
    """The change report as plain values kept with the version (its history entry and tooltip)."""
    if report is None:
        return {}
    from ..core.change_report import advice
    from ..core.edit_summary import doubt_text

    if not report.unchanged:
        doubt = doubt_text(result.params, result.instruction, cli=False)  # a find it is unsure of
        return {"change": report.text, **({"doubt": doubt} if doubt else {})}
    tip = advice(result.instruction, region=result.params.get("region") is not None,
                 strength=result.params.get("strength"), cli=False, engine=result.params.get("engine"),
                 templates=result.params.get("templates"))
    return {"change": f"{NO_CHANGE}: {report.detail}. {tip}", "no_change": True}


class EditController:
    """The one running edit: ``job`` is its id while it runs, ``ctx`` what it started from."""

    def __init__(self, win: EditHost):
        self.win = win
        self.job: Optional[int] = None
        self.ctx: Optional[EditCtx] = None
        self.mel = MelConfig()  # the front end's framing: the live attention maps' width

    @property
    def busy(self) -> bool:
        return self.job is not None

    def build_request(self) -> EditRequest:
        w, p = self.win, self.win.panel
        cur = w.history.get(w.history.current)
        return EditRequest(audio=cur.audio, sample_rate=cur.sample_rate,
                           instruction=p.instruction.text().strip(), t_start=p.t_start(),
                           steps=int(p.steps.value()), guidance=float(p.guidance.value()),
                           draws=int(p.draws.value()), strength=p.strength_value(),
                           seed=p.next_seed(), region=w.region,
                           capture_attention=p.capture.isChecked(),
                           attention_layers=p.layers.currentData(),
                           prompts=w.examples.prompts(cur.audio, cur.sample_rate))

    def run(self) -> Optional[int]:
        w = self.win
        if w.history.source is None:
            w.show_error("Nothing to edit", "Open an audio file first (File ▸ Open).")
            return None
        if w.model_info is None:
            w.show_error("No model", "No model is loaded; choose a model folder (Model ▸ Choose Model Folder…).")
            return None
        if w.finetune.busy:
            w.statusBar().showMessage(w.panel.blocked or "The model is busy in the Fine-tuning tab.", 5000)
            return None
        text = w.panel.instruction.text().strip()
        if not text or TEMPLATE_GAP.search(text):
            w.show_error("Instruction needed", "Describe the edit, for example 'Remove the dog barking' "
                                               "(replace the '...' of a template).")
            return None
        if w.finding.busy:  # the edit runs with the marks as they are; the find's never land mid-edit
            w.finding.cancel("Find cancelled: the edit runs with the example marks as they are.")
        req = self.build_request()
        host, choice = w.host, w.library.reference_for(text)  # the library sound: looked up and read in the job
        self.job = w.runner.submit("edit", lambda c: host.edit(with_reference(req, choice), c), label=text,
                                   on_yielded=self._step,
                                   on_returned=self._done, on_errored=self._failed, on_aborted=self._aborted)
        self.ctx = EditCtx(w.history.current, w.doc_id, time.perf_counter(), req)
        w.settings.add_instruction(text)
        w.panel.instruction.set_history(w.settings.instructions)
        n16 = int(round(req.audio.shape[0] * self.mel.sample_rate / req.sample_rate))
        w.attn.begin_live(self.mel.frames(n16), region=req.region is not None)
        w.panel.set_busy(True)
        w.panel.set_progress_text("Preparing…")
        w.update_actions()
        return self.job

    def cancel(self, quiet: bool = False) -> None:
        w = self.win
        if self.job is None:
            return
        w.runner.cancel("edit")
        self.job = None
        w.panel.set_busy(False)
        if not quiet:
            w.panel.set_progress_text("Cancelled")
            w.statusBar().showMessage("Edit cancelled.", 4000)
        w.attn.show_maps(None, ())
        w.refresh_views()

    def _step(self, ev) -> None:
        ctx = self.ctx
        if ctx is None:
            return
        if isinstance(ev, ProgressEvent):  # a stage with no sampler step: the progress line only
            self.win.panel.set_stage(ev.stage, ev.stages, ev.text)
            return
        now = time.perf_counter()
        ctx.times.append(float(ev.t))
        if ctx.first_step_at is None:
            ctx.first_step_at = now
            eta = (now - ctx.t0) * (ev.total - ev.step) / max(1, ev.step)
        else:
            eta = (now - ctx.first_step_at) / max(1, ev.step - 1) * (ev.total - ev.step)
        self.win.panel.set_progress(ev.step, ev.total, eta)
        self.win.attn.push(ev)

    def _done(self, out: EditOutcome) -> None:
        w = self.win
        ctx, self.ctx, self.job = self.ctx, None, None
        w.attn.end_live()
        w.panel.set_busy(False)
        r = out.result
        if ctx is None or ctx.doc != w.doc_id:
            return
        params = dict(r.params)
        params["attention_layers"] = ctx.request.attention_layers
        params["model_name"] = w.model_info.name if w.model_info else ""
        params.update(change_params(out.report, r))
        if w.model_info and w.model_info.adapter:
            params["adapter"] = w.model_info.adapter
        v = w.history.add_edit(ctx.parent, r.audio, r.sample_rate, instruction=r.instruction, params=params,
                               seconds=r.seconds, tokens=tuple(r.tokens), attention=r.attention)
        w.history.mels[v.id] = out.mel_out
        if r.params.get("reference"):  # the library sound it used stays chosen for the next edit
            w.library.keep_reference(str(r.params["reference"]))
        self.show_change_report(v)
        w.compare = (w.compare[0] if w.compare[0] is not None else 0, v.id)
        w.ab = 1
        w.refresh_views()

    def show_change_report(self, v) -> None:
        """What the edit changed: the progress line, the status bar (and History, by its params)."""
        w = self.win
        text = v.params.get("change", "")
        if v.params.get("no_change"):
            w.panel.set_progress_text(f"{NO_CHANGE} · version {v.id} (see History)")
            w.statusBar().showMessage(text, 20000)
        elif v.params.get("doubt"):  # the finder marked where it is unsure the sound plays
            w.panel.set_progress_text(f"Done in {v.seconds:.1f} s · version {v.id} · check it (see History)")
            w.statusBar().showMessage(v.params["doubt"], 20000)
        else:
            w.panel.set_progress_text(f"Done in {v.seconds:.1f} s · version {v.id}")
            w.statusBar().showMessage(f"Edit finished in {v.seconds:.1f} s: {text or v.instruction}", 10000)

    def _failed(self, err: JobError) -> None:
        w = self.win
        self.job, self.ctx = None, None
        w.panel.set_busy(False)
        w.panel.set_progress_text("Failed")
        w.attn.show_maps(None, ())
        title = "No library sound" if err.kind == "NoLibrarySound" else "The edit failed"
        w.show_error(title, err.message, err.detail if not err.user else "")
        w.update_actions()

    def _aborted(self) -> None:
        self.job, self.ctx = None, None
        self.win.panel.set_busy(False)
        self.win.panel.set_progress_text("Cancelled")
        self.win.update_actions()
