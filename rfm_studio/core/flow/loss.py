"""The RFM training objective (eq. 3), shared by training, fine-tuning and tests."""

from __future__ import annotations

import torch

from .rectified import FlowConfig, interpolate, sample_times, source_sample, target_velocity


def rfm_loss(model, x_tar, x_orig, context, mask, *, generator=None, t=None, noise=None, reduce=True, region=None,
             prompt=None):
    """Mean squared error of the network against the flow's target (eq. 1-3).

    prediction "velocity" (paper): || v_theta - (x_tar - (1 - s) x0) ||^2
    prediction "sample": || (x_orig + out) - x_tar ||^2 (the endpoint; equal to the velocity
    loss weighted by (1 - (1 - s) t)^2, which stays finite as t -> 1)
    With ``changed_weight`` > 0, bins where |x_tar - x_orig| > ``changed_threshold`` get
    1 + changed_weight times the weight (edits are a small part of each clip).
    With ``loss = "l1"`` the squared error becomes the absolute error: the network then
    predicts the median edit, which leaves a bin alone unless a change is more likely than not.
    ``region`` [B, frames] (1 where the edit may change the clip) reaches networks with a
    region channel; ``prompt`` (tokens, mask, gate) networks with the audio-prompt input.
    """
    f: FlowConfig = model.flow
    b = x_tar.shape[0]
    if noise is None:
        noise = torch.randn(x_tar.shape, generator=generator, dtype=torch.float32).to(x_tar)
    if t is None:
        t = sample_times(f, b, generator).to(x_tar)
    x0 = source_sample(f, noise, x_orig)
    x_t = interpolate(x0, x_tar, t, f.sigma_min)
    out = model.denoiser(torch.cat([x_t, x_orig], dim=1), f.network_timestep(t), context, mask, region=region,
                        prompt=prompt)
    if f.prediction == "sample":
        err = x_orig + out - x_tar
    else:
        err = out - target_velocity(x0, x_tar, f.sigma_min)
    err = err.abs() if f.loss == "l1" else err ** 2
    if f.changed_weight > 0:
        w = 1.0 + f.changed_weight * ((x_tar - x_orig).abs() > f.changed_threshold).to(err.dtype)
        err = err * w
    if not reduce:
        return err.flatten(1).mean(1)
    return err.mean()
