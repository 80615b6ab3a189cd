"""Sampling one latent window: a generator yielding after every Euler step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from .events import check_cancel
from .flow.euler import EulerSampler
from .model.attention import AttentionStore, install_capture


@dataclass
class LatentStep:
    index: int  # 1-based
    total: int
    t: float
    x: torch.Tensor
    attention: Optional[np.ndarray]  # [B, tokens, frames]


def sampling_context(model, cond, prompt, *, draws: int, guidance: float, batch: int = 1):
    """What the network hears at every step of ``sample_window``: the instruction (and prompt
    tokens) repeated for ``draws`` trajectories of ``batch`` latents and, with guidance, the
    unconditional half before them (``model.guidance_context``). The same for every window of an
    edit, so an edit builds it once."""
    if draws > 1:
        ctx, mask = cond
        cond = (ctx.repeat(draws, 1, 1), mask.repeat(draws, 1))
    if prompt is not None:
        tok, pm, gate = prompt
        n = draws * batch
        prompt = (tok.expand(n, -1, -1) if tok.shape[0] == 1 else tok.repeat(draws, 1, 1),
                  pm.expand(n, -1) if pm.shape[0] == 1 else pm.repeat(draws, 1),
                  gate.expand(n) if gate.shape[0] == 1 else gate.repeat(draws))
    return model.guidance_context(cond, guidance, prompt)


def sample_window(model, x_orig, cond, *, steps: int, t_start: float, guidance: float, generator,
                  cancel=None, store: AttentionStore | None = None, frames: int | None = None, region=None,
                  draws: int = 1, prompt=None, sampler: EulerSampler | None = None, context=None):
    """Yield LatentStep per Euler step; return the final latent x_tar*. ``region`` [B, frames]:
    where the edit may change the clip, for networks with a region channel.

    ``draws`` > 1 runs that many trajectories from independent noise in one batch and
    averages them: an estimate of the expected edit, in which changes that depend on the
    particular noise (and so are not asked for) cancel out. Steps, previews and attention
    are the averages too; with ``draws=1`` this is the paper's sampler, noise for noise.
    ``prompt``: audio-prompt tokens from ``model.encode_prompts`` (batch 1 or B), or None.
    ``sampler``: the edit's EulerSampler, ``context`` its ``sampling_context`` (one of each for
    all its windows; None: built for this window, and then ``cond`` and ``prompt`` are read)."""
    draws = int(draws)
    if draws < 1:
        raise ValueError("draws must be >= 1")
    b = x_orig.shape[0]
    sampler = sampler or EulerSampler(model.flow.path)
    times = sampler.set_timesteps(steps, t_start)
    shape = (draws * b,) + tuple(x_orig.shape[1:])
    noise = torch.randn(shape, generator=generator, dtype=torch.float32).to(x_orig)
    if context is None:
        context = sampling_context(model, cond, prompt, draws=draws, guidance=guidance, batch=b)
    want = draws * b * (2 if guidance != 1.0 else 1)
    if getattr(context[0], "shape", None) is not None and context[0].shape[0] != want:
        raise ValueError(f"The sampling context has a batch of {context[0].shape[0]}, not the {want} of {draws} "
                         f"draw(s) x {b} latent(s){' x 2 (guidance)' if guidance != 1.0 else ''}: build it with "
                         "sampling_context and the same draws, guidance and batch.")
    if draws > 1:
        x_orig = x_orig.repeat(draws, *([1] * (x_orig.dim() - 1)))
        if region is not None:
            region = region.repeat(draws, 1)
    mean = (lambda z: z.reshape((draws, b) + tuple(z.shape[1:])).mean(0)) if draws > 1 else (lambda z: z)
    x = sampler.start(noise, x_orig)
    if store is not None:
        install_capture(model.denoiser.net, store)
    try:
        for i in range(sampler.steps):
            check_cancel(cancel)  # "The edit was cancelled."
            if store is not None:
                hw = tuple(x.shape[2:]) if x.dim() == 4 else (x.shape[-1], 1)
                n = x.shape[0]
                store.reset(hw, slice(n, 2 * n) if guidance != 1.0 else slice(None))
            with torch.no_grad():
                v = model.guided_velocity(x, x_orig, times[i], None, guidance, region, None, sampler.prediction,
                                          context=context)
            x = sampler.step(v, i, x)
            att = store.collect(frames) if store is not None and frames else None
            if att is not None and draws > 1:
                att = att.reshape((draws, b) + att.shape[1:]).mean(0)
            yield LatentStep(i + 1, sampler.steps, times[i + 1], mean(x), att)
    finally:
        if store is not None:
            install_capture(model.denoiser.net, None)
    return mean(x)
