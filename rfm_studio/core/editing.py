"""One instruction-guided edit, end to end, as a generator of StepEvent returning EditResult.

    gen = run_edit(model, EditRequest(audio, sr, "Remove the dog barking"), cancel)
    for event in gen: ...            # StepEvent per Euler step (per window); ProgressEvent per
                                     # stage of the dictionary engine's work (no sampler step)
    result = gen.value               # via drive(); or catch StopIteration.value

Audio of any rate and channel count goes in; the model works on its 16 kHz mono mix in
windows of ``model.window_frames`` frames (10.24 s) overlapping by 1.5 s, whose edited
mels are crossfaded. The result has the input's rate, channels and length. With a
region, only that span changes (the model hears 3 s of context each side); outside it
the output equals the input sample for sample, with 20 ms crossfades inside its edges.
Networks with a region channel are also told which frames lie inside the region, so an
added event is placed there.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .edit.assemble import (REGION_FADE_S, apply_strength, merge_attention, merge_windows, render_span,
                            splice_region)
from .edit.inputs import (EditInputs, check_audio, check_inputs, check_instruction, check_options,
                          default_strength, resolve_params)
from .edit.plan import CONTEXT_S, SpanPlan, pad_end, plan_span, region_frames
from .edit.window import Conditioning, denoise_window, encode_conditioning, encode_span_mel, encode_window
from .events import CancelToken, EditRequest, EditResult, drive  # noqa: F401  (drive: editing.drive)
from .flow.euler import EulerSampler
from .sampling import sampling_context

__all__ = ["run_edit", "sample_edit", "finish_edit", "SampledEdit", "drive", "edit", "check_options", "default_strength", "resolve_params", "check_audio",
           "region_frames", "pad_end", "CONTEXT_S", "REGION_FADE_S"]


def run_edit(model, req: EditRequest, cancel: CancelToken | None = None):
    """The edit's stages in order (see core/edit/__init__.py); yields StepEvent (and, on the
    dictionary engines, ProgressEvent), returns EditResult. The model's own edit is
    ``sample_edit`` (stages 1-6) then ``finish_edit`` (stages 7-10)."""
    check_instruction(req.instruction)
    if req.prompts:  # "Add X" / "Replace A with B" with a reference sound: placed, not generated
        from .library.prompted import is_reference_edit, run_reference_edit

        if is_reference_edit(req):
            return (yield from run_reference_edit(model, req, cancel))
    from .separation.engine import engine_for, run_dictionary_edit

    engine = engine_for(req)  # the instruction is read once
    if engine == "dictionary":  # "Remove X" with a marked example: dictionary-guided separation
        return (yield from run_dictionary_edit(req, cancel))
    if engine == "self-prompt":  # text-only "Remove X": the model marks the example (separation/self_prompt.py)
        from .separation.self_prompt import run_self_prompt_edit

        return (yield from run_self_prompt_edit(model, req, cancel))
    if engine == "remover":  # "Remove X" by the sound remover's mel mask (separation/remover_edit.py)
        from .separation.remover_edit import run_remover_edit

        return (yield from run_remover_edit(req, cancel))
    sampled = yield from sample_edit(model, req, cancel)
    return finish_edit(model, req, sampled)


@dataclass(frozen=True)
class SampledEdit:
    """The model's edit before strength (stages 1-6): what ``finish_edit`` scales, renders and
    splices, at the request's strength or another."""

    inputs: EditInputs
    plan: SpanPlan
    cond: Conditioning
    results: list  # WindowResult per window
    mel_in: np.ndarray  # the span's own mel
    mel: np.ndarray  # the windows' edited mels merged, unscaled (strength 1)
    reference: np.ndarray | None  # their codec reference mel (None when not computed)
    t0: float  # when the edit began (perf_counter)

    @property
    def strength(self) -> float:
        """The request's strength (the model's default where it gives none)."""
        return self.inputs.params["strength"]

    def mel_at(self, strength: float) -> np.ndarray:
        """The edited mel with the model's change scaled by ``strength`` (stage 7)."""
        if strength != 1.0 and self.reference is None:
            raise ValueError("The edit was sampled without its reference mel; sample it with need_reference.")
        return apply_strength(self.mel, self.reference, strength)


def sample_edit(model, req: EditRequest, cancel: CancelToken | None = None, need_reference: bool = False):
    """Stages 1-6 of the model's edit: yields a StepEvent per sampler step, returns SampledEdit.
    ``need_reference``: compute the codec reference mel even where the request's strength and
    render do not need it (to finish the edit at another strength)."""
    t0 = time.perf_counter()
    inputs = check_inputs(model, req)  # 1
    params = inputs.params
    plan = plan_span(model, inputs, req.region)  # 2
    cond = encode_conditioning(model, req)  # 3
    mel_in = encode_span_mel(model, plan)
    total = params["steps"] * len(plan.windows)
    # built once for every window: the flow's path and prediction, what the network hears
    sampler = EulerSampler(model.flow.path)
    context = sampling_context(model, cond.text, cond.prompt, draws=params["draws"], guidance=params["guidance"])
    results = []
    for index in range(len(plan.windows)):
        window = encode_window(model, plan, index, inputs.need_reference or need_reference)  # 4
        results.append((yield from denoise_window(model, window, plan, cond, params, req, cancel,  # 5
                                                  step0=sum(r.steps for r in results), total=total,
                                                  sampler=sampler, context=context)))
    mel, reference = merge_windows(results, mel_in.shape[-1])  # 6
    return SampledEdit(inputs, plan, cond, results, mel_in, mel, reference, t0)


def finish_edit(model, req: EditRequest, sampled: SampledEdit, strength: float | None = None,
                render: bool = True) -> EditResult:
    """Stages 7-10 of the model's edit: ``sampled`` scaled by ``strength`` (None: the request's),
    rendered, spliced into the clip; the EditResult (its params give the strength used).
    ``render`` False: its params, tokens and attention only, the audio left as it was (for a
    caller whose output comes from elsewhere: stages 8-9 are skipped)."""
    inputs, plan, cond, results = sampled.inputs, sampled.plan, sampled.cond, sampled.results
    params = inputs.params if strength is None else {**inputs.params, "strength": float(strength)}
    mel_out = sampled.mel_at(params["strength"])  # 7
    sr16 = model.mel_config.sample_rate
    if render:
        edited_span = render_span(model, inputs, plan, mel_out, sampled.reference)  # 8
        out = splice_region(inputs, plan, edited_span, sr16)  # 9
    else:
        out = np.asarray(inputs.audio)[: inputs.n_samples]
    attention = merge_attention(results, plan, params["steps"], len(cond.tokens),  # 10
                                model.mel_config.frames(len(plan.mix)))
    whole = req.region is None
    return EditResult(
        audio=out.astype(np.float32), sample_rate=inputs.sample_rate, instruction=req.instruction,
        params={**params, "region": list(req.region) if req.region else None,
                "model": str(getattr(model, "source_folder", "")), "windows": len(plan.windows),
                "prompts": [f"{q.kind}: {q.source}" for q in req.prompts] if cond.prompt is not None else []},
        seconds=time.perf_counter() - sampled.t0, mel_in=sampled.mel_in if whole else None,
        mel_out=mel_out if whole else None, tokens=cond.tokens, attention=attention,
    )


def edit(model, audio, sample_rate, instruction, cancel=None, **kw) -> EditResult:
    """Blocking convenience wrapper around ``run_edit``."""
    return drive(run_edit(model, EditRequest(audio=audio, sample_rate=sample_rate, instruction=instruction, **kw), cancel))
