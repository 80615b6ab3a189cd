"""The RFM training objective (eq. 3), shared by training, fine-tuning and tests."""

from __future__ import annotations

import torch

from .rectified import sample_times


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
    flow = model.flow
    tr = flow.training
    pred = flow.path.make_prediction()
    b = x_tar.shape[0]
    if noise is None:
        noise = torch.randn(x_tar.shape, generator=generator, dtype=torch.float32).to(x_tar)
    if t is None:
        t = sample_times(b, generator, tr.t_low_fraction, tr.t_low_max).to(x_tar)
    x0 = pred.path.x0(noise, x_orig)
    x_t = pred.path.x_t(x0, x_tar, t)
    out = model.denoiser(torch.cat([x_t, x_orig], dim=1), flow.path.network_timestep(t), context, mask,
                        region=region, prompt=prompt)
    err = pred.estimate(out, x_orig) - pred.target(x0, x_tar)
    err = err.abs() if tr.loss == "l1" else err ** 2
    if tr.changed_weight > 0:
        w = 1.0 + tr.changed_weight * ((x_tar - x_orig).abs() > tr.changed_threshold).to(err.dtype)
        err = err * w
    if not reduce:
        return err.flatten(1).mean(1)
    return err.mean()
