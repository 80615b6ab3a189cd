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

import numpy as np

from .edit.assemble import (REGION_FADE_S, apply_strength, merge_attention, merge_windows, render_span,
                            splice_region)
from .edit.inputs import (check_audio, check_inputs, check_instruction, check_options, default_strength,
                          resolve_params)
from .edit.plan import CONTEXT_S, pad_end, plan_span, region_frames
from .edit.window import denoise_window, encode_conditioning, encode_span_mel, encode_window
from .events import CancelToken, EditRequest, EditResult
from .flow.euler import EulerSampler
from .sampling import sampling_context

__all__ = ["run_edit", "drive", "edit", "check_options", "default_strength", "resolve_params", "check_audio",
           "region_frames", "pad_end", "CONTEXT_S", "REGION_FADE_S"]


def run_edit(model, req: EditRequest, cancel: CancelToken | None = None):
    """The edit's stages in order (see core/edit/__init__.py); yields StepEvent (and, on the
    dictionary engines, ProgressEvent), returns EditResult."""
    t0 = time.perf_counter()
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
        window = encode_window(model, plan, index, inputs.need_reference)  # 4
        results.append((yield from denoise_window(model, window, plan, cond, params, req, cancel,  # 5
                                                  step0=sum(r.steps for r in results), total=total,
                                                  sampler=sampler, context=context)))
    mel_out, reference = merge_windows(results, mel_in.shape[-1])  # 6
    mel_out = apply_strength(mel_out, reference, params["strength"])  # 7
    sr16 = model.mel_config.sample_rate
    edited_span = render_span(model, inputs, plan, mel_out, reference)  # 8
    out = splice_region(inputs, plan, edited_span, sr16)  # 9
    attention = merge_attention(results, plan, params["steps"], len(cond.tokens),  # 10
                                model.mel_config.frames(len(plan.mix)))
    whole = req.region is None
    return EditResult(
        audio=out.astype(np.float32), sample_rate=inputs.sample_rate, instruction=req.instruction,
        params={**params, "region": list(req.region) if req.region else None,
                "model": str(getattr(model, "source_folder", "")), "windows": len(plan.windows),
                "prompts": [f"{q.kind}: {q.source}" for q in req.prompts] if cond.prompt is not None else []},
        seconds=time.perf_counter() - t0, mel_in=mel_in if whole else None, mel_out=mel_out if whole else None,
        tokens=cond.tokens, attention=attention,
    )


def drive(gen):
    """Run a core generator to the end; return its return value."""
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def edit(model, audio, sample_rate, instruction, cancel=None, **kw) -> EditResult:
    """Blocking convenience wrapper around ``run_edit``."""
    return drive(run_edit(model, EditRequest(audio=audio, sample_rate=sample_rate, instruction=instruction, **kw), cancel))
