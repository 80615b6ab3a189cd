"""Sampling one latent window: a generator yielding after every Euler step."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np
import torch

from .errors import Cancelled
from .flow.euler import EulerSampler
from .model.attention import AttentionStore, install_capture


@dataclass
class LatentStep:
    index: int  # 1-based
    total: int
    t: float
    x: torch.Tensor
    attention: Optional[np.ndarray]  # [B, tokens, frames]


def sample_window(model, x_orig, cond, *, steps: int, t_start: float, guidance: float, generator,
                  cancel=None, store: AttentionStore | None = None, frames: int | None = None, region=None):
    """Yield LatentStep per Euler step; return the final latent x_tar*. ``region`` [B, frames]:
    where the edit may change the clip, for networks with a region channel."""
    sampler = EulerSampler(model.flow)
    times = sampler.set_timesteps(steps, t_start)
    noise = torch.randn(x_orig.shape, generator=generator, dtype=torch.float32).to(x_orig)
    x = sampler.start(noise, x_orig)
    if store is not None:
        install_capture(model.denoiser.net, store)
    try:
        for i in range(sampler.steps):
            if cancel is not None and cancel.cancelled:
                raise Cancelled("The edit was cancelled.")
            if store is not None:
                hw = tuple(x.shape[2:]) if x.dim() == 4 else (x.shape[-1], 1)
                b = x.shape[0]
                store.reset(hw, slice(b, 2 * b) if guidance != 1.0 else slice(None))
            with torch.no_grad():
                v = model.guided_velocity(x, x_orig, times[i], cond, guidance, region)
            x = sampler.step(v, i, x)
            att = store.collect(frames) if store is not None and frames else None
            yield LatentStep(i + 1, sampler.steps, times[i + 1], x, att)
    finally:
        if store is not None:
            install_capture(model.denoiser.net, None)
    return x
