"""Closed-form checks of the rectified-flow formulas (paper eq. 1-5)."""

import numpy as np
import pytest
import torch

from rfm_studio.core.flow import PathConfig, euler_step, interpolate, start_state, target_velocity, time_grid
from rfm_studio.core.flow.euler import EulerSampler
from rfm_studio.core.flow.rectified import (NoisePath, OriginalPath, SamplePrediction, VelocityPrediction,
                                            sample_from_velocity, sample_times, velocity_from_sample)

SIGMAS = [0.0, 1e-4, 0.01, 0.1]
SHAPES = [(3, 8, 16), (2, 4, 8, 6), (5, 64, 32)]


@pytest.mark.parametrize("sigma", SIGMAS)
@pytest.mark.parametrize("shape", SHAPES)
def test_interpolation_and_velocity_closed_form(sigma, shape):
    g = torch.Generator().manual_seed(1)
    x0, x1 = torch.randn(shape, generator=g, dtype=torch.float64), torch.randn(shape, generator=g, dtype=torch.float64)
    t = torch.rand(shape[0], generator=g, dtype=torch.float64)
    xt = interpolate(x0, x1, t, sigma)
    tb = t.reshape(-1, *([1] * (len(shape) - 1)))
    assert torch.allclose(xt, (1 - (1 - sigma) * tb) * x0 + tb * x1)
    # endpoints: t=0 gives x0, t=1 gives sigma*x0 + x1
    assert torch.allclose(interpolate(x0, x1, 0.0, sigma), x0)
    assert torch.allclose(interpolate(x0, x1, 1.0, sigma), sigma * x0 + x1)
    v = target_velocity(x0, x1, sigma)
    assert torch.allclose(v, x1 - (1 - sigma) * x0)
    # v is the time derivative of eq. 1 (finite difference, exact for a linear path)
    h = 1e-3
    fd = (interpolate(x0, x1, t + h, sigma) - interpolate(x0, x1, t - h, sigma)) / (2 * h)
    assert torch.allclose(fd, v, atol=1e-8)


@pytest.mark.parametrize("sigma", SIGMAS)
@pytest.mark.parametrize("t_start", [0.0, 0.001, 0.01, 0.1, 0.5])
def test_start_state_eq4(sigma, t_start):
    g = torch.Generator().manual_seed(2)
    eps, xo = torch.randn(2, 8, 10, generator=g), torch.randn(2, 8, 10, generator=g)
    xs = start_state(eps, xo, t_start, sigma)
    assert torch.allclose(xs, (1 - (1 - sigma) * t_start) * eps + t_start * xo)


@pytest.mark.parametrize("sigma", SIGMAS)
@pytest.mark.parametrize("steps", [1, 3, 10, 200])
def test_euler_on_the_true_velocity_lands_on_target(sigma, steps):
    """With the exact (constant) velocity field of the path, Euler is exact."""
    g = torch.Generator().manual_seed(3)
    x0, x1 = torch.randn(2, 4, 12, generator=g, dtype=torch.float64), torch.randn(2, 4, 12, generator=g,
                                                                                  dtype=torch.float64)
    t_start = 0.01
    s = EulerSampler(PathConfig(sigma_min=sigma))
    times = s.set_timesteps(steps, t_start)
    assert times[0] == pytest.approx(t_start) and times[-1] == pytest.approx(1.0) and len(times) == steps + 1
    x = interpolate(x0, x1, t_start, sigma)
    v = target_velocity(x0, x1, sigma)
    for i in range(steps):
        x = s.step(v, i, x)
    assert torch.allclose(x, interpolate(x0, x1, 1.0, sigma), atol=1e-10)
    if sigma == 0.0:
        assert torch.allclose(x, x1, atol=1e-10)


def test_t_start_one_returns_the_original():
    eps, xo = torch.randn(1, 4, 8), torch.randn(1, 4, 8)
    s = EulerSampler(PathConfig(sigma_min=0.0))
    s.set_timesteps(10, 1.0)
    assert s.steps == 0
    assert torch.allclose(s.start(eps, xo), xo)


@pytest.mark.parametrize("sigma", SIGMAS)
def test_sample_prediction_velocity_is_consistent(sigma):
    g = torch.Generator().manual_seed(4)
    x0, x1 = torch.randn(3, 5, 7, generator=g, dtype=torch.float64), torch.randn(3, 5, 7, generator=g,
                                                                                dtype=torch.float64)
    t = torch.tensor([0.0, 0.3, 0.9], dtype=torch.float64)
    xt = interpolate(x0, x1, t, sigma)
    v = velocity_from_sample(xt, x1, t, sigma)
    assert torch.allclose(v, target_velocity(x0, x1, sigma))
    assert torch.allclose(sample_from_velocity(xt, v, t, sigma), x1)


def test_source_original_flow_zero_edit_is_identity():
    """source='original': if x_tar == x_orig and no noise, the path stays on the original."""
    path = PathConfig(source="original", source_noise=0.0, sigma_min=0.0).make_path()
    xo = torch.randn(2, 4, 8)
    x0 = path.x0(torch.randn(2, 4, 8), xo)
    assert torch.allclose(path.velocity(x0, xo), torch.zeros_like(xo))


def test_time_grid_and_validation():
    assert time_grid(0.0, 4) == [0.0, 0.25, 0.5, 0.75, 1.0]
    with pytest.raises(ValueError):
        time_grid(0.0, 0)
    with pytest.raises(ValueError):
        PathConfig(source="nope")
    assert np.isclose(euler_step(np.ones(3), np.ones(3), 0.5), 1.5).all()


def test_loss_is_eq3_for_velocity_prediction(tiny_model):
    """rfm_loss equals the MSE of the network output against eq. 2 on the eq. 1 point."""
    from rfm_studio.core.flow.loss import rfm_loss

    m = tiny_model
    g = torch.Generator().manual_seed(0)
    x_tar, x_orig = torch.randn(2, 64, 16, generator=g), torch.randn(2, 64, 16, generator=g)
    noise, t = torch.randn(2, 64, 16, generator=g), torch.tensor([0.2, 0.7])
    ctx, mask = m.encode_instruction(["Add a bell", "Remove the dog"])
    with torch.no_grad():
        loss = rfm_loss(m, x_tar, x_orig, ctx, mask, t=t, noise=noise)
        s = m.flow.path.sigma_min
        xt = interpolate(noise, x_tar, t, s)
        out = m.denoiser(torch.cat([xt, x_orig], 1), t * m.flow.path.timestep_scale, ctx, mask)
        ref = ((out - (x_tar - (1 - s) * noise)) ** 2).mean()
    assert torch.allclose(loss, ref)
    # the l1 option: the same error, absolute instead of squared
    old = m.flow
    try:
        m.flow = old.replace(loss="l1")
        with torch.no_grad():
            l1 = rfm_loss(m, x_tar, x_orig, ctx, mask, t=t, noise=noise)
        assert torch.allclose(l1, (out - (x_tar - (1 - s) * noise)).abs().mean())
    finally:
        m.flow = old
    with pytest.raises(ValueError, match="unknown loss"):
        old.replace(loss="huber")


def test_training_times_low_fraction():
    g = torch.Generator().manual_seed(0)
    t = sample_times(20000, g)
    assert 0 <= t.min() and t.max() <= 1 and abs(float((t < 0.05).float().mean()) - 0.05) < 0.01
    t = sample_times(20000, g, low_fraction=0.5, low_max=0.05)
    assert abs(float((t < 0.05).float().mean()) - (0.5 + 0.5 * 0.05)) < 0.02


# ---- the path and prediction classes (torchcfm-style closed forms) -------------------------------
def _pair(shape=(3, 5, 7), seed=5):
    g = torch.Generator().manual_seed(seed)
    return [torch.randn(shape, generator=g, dtype=torch.float64) for _ in range(3)] + [
        torch.tensor([0.0, 0.37, 0.9], dtype=torch.float64)]


@pytest.mark.parametrize("sigma", SIGMAS)
def test_noise_path_closed_form(sigma):
    """source "noise" (the paper): x0 = eps, x_t = (1 - (1 - s) t) eps + t x1, u_t = x1 - (1 - s) eps."""
    eps, x_orig, x1, t = _pair()
    path = PathConfig(sigma_min=sigma, source="noise").make_path()
    assert type(path) is NoisePath and path.source == "noise"
    x0 = path.x0(eps, x_orig)
    assert torch.equal(x0, eps)
    tb = t.reshape(-1, 1, 1)
    assert torch.allclose(path.x_t(x0, x1, t), (1 - (1 - sigma) * tb) * eps + tb * x1)
    assert torch.allclose(path.velocity(x0, x1), x1 - (1 - sigma) * eps)
    h = 1e-4
    fd = (path.x_t(x0, x1, t + h) - path.x_t(x0, x1, t - h)) / (2 * h)
    assert torch.allclose(fd, path.velocity(x0, x1), atol=1e-8)
    assert torch.allclose(path.start(eps, x_orig, 0.01), (1 - (1 - sigma) * 0.01) * eps + 0.01 * x_orig)


@pytest.mark.parametrize("sigma", SIGMAS)
@pytest.mark.parametrize("a", [0.0, 0.5, 1.0])
def test_original_path_closed_form(sigma, a):
    """source "original": x0 = x_orig + a eps; x_t and u_t are eq. 1-2 from that x0."""
    eps, x_orig, x1, t = _pair()
    path = PathConfig(sigma_min=sigma, source="original", source_noise=a).make_path()
    assert type(path) is OriginalPath and path.source == "original"
    x0 = path.x0(eps, x_orig)
    assert torch.allclose(x0, x_orig + a * eps)
    tb = t.reshape(-1, 1, 1)
    assert torch.allclose(path.x_t(x0, x1, t), (1 - (1 - sigma) * tb) * (x_orig + a * eps) + tb * x1)
    assert torch.allclose(path.velocity(x0, x1), x1 - (1 - sigma) * (x_orig + a * eps))
    # eq. 4 from the original: x_start = (1 - (1 - s) t0) (x_orig + a eps) + t0 x_orig
    t0 = 0.05
    assert torch.allclose(path.start(eps, x_orig, t0), (1 - (1 - sigma) * t0) * (x_orig + a * eps) + t0 * x_orig)
    if sigma == 0.0 and a == 0.0:  # no noise and no edit: the path stays on the original
        assert torch.allclose(path.x_t(x0, x_orig, t), x_orig)


@pytest.mark.parametrize("source", ["noise", "original"])
@pytest.mark.parametrize("sigma", SIGMAS)
def test_predictions_targets_and_velocities(source, sigma):
    """velocity: target u_t, the output is the velocity. sample: target x1, the output is
    x1 - x_orig, and a perfect output implies the path's velocity at every (x_t, t)."""
    eps, x_orig, x1, t = _pair()
    cfg = PathConfig(sigma_min=sigma, source=source, source_noise=0.5)
    v_pred = cfg.make_prediction()
    s_pred = PathConfig(sigma_min=sigma, source=source, source_noise=0.5, prediction="sample").make_prediction()
    assert type(v_pred) is VelocityPrediction and type(s_pred) is SamplePrediction
    assert type(v_pred.path) is type(s_pred.path) is type(cfg.make_path())
    path = v_pred.path
    x0 = path.x0(eps, x_orig)
    xt = path.x_t(x0, x1, t)
    u = x1 - (1 - sigma) * x0
    # velocity prediction: the target is u_t and a perfect output is u_t itself
    assert torch.allclose(v_pred.target(x0, x1), u)
    assert torch.equal(v_pred.estimate(u, x_orig), u)
    assert torch.equal(v_pred.velocity(u, xt, x_orig, t), u)
    # sample prediction: the target is x1; a perfect output (x1 - x_orig) reaches it
    out = x1 - x_orig
    assert torch.equal(s_pred.target(x0, x1), x1)
    assert torch.allclose(s_pred.estimate(out, x_orig), x1)
    assert torch.allclose(s_pred.velocity(out, xt, x_orig, t), u)
    tb = t.reshape(-1, 1, 1)
    assert torch.allclose(s_pred.velocity(out, xt, x_orig, t), (x1 - (1 - sigma) * xt) / (1 - (1 - sigma) * tb))


def test_loss_and_sampler_share_the_sample_conversion(tiny_model):
    """prediction "sample": rfm_loss is || x_orig + out - x_tar ||^2 on the eq. 1 point of the
    original-source path, and net_velocity turns the same output into the closed-form velocity."""
    from rfm_studio.core.flow.loss import rfm_loss

    m = tiny_model
    g = torch.Generator().manual_seed(1)
    x_tar, x_orig, noise = (torch.randn(2, 64, 16, generator=g) for _ in range(3))
    t = torch.tensor([0.3, 0.8])
    old = m.flow
    try:
        m.flow = old.replace(source="original", source_noise=0.5, prediction="sample", changed_weight=0.0)
        ctx, mask = m.encode_instruction(["Add a bell", "Remove the dog"])
        with torch.no_grad():
            loss = rfm_loss(m, x_tar, x_orig, ctx, mask, t=t, noise=noise)
            s = m.flow.path.sigma_min
            x0 = x_orig + 0.5 * noise
            xt = (1 - (1 - s) * t.reshape(-1, 1, 1)) * x0 + t.reshape(-1, 1, 1) * x_tar
            out = m.denoiser(torch.cat([xt, x_orig], 1), t * 1000.0, ctx, mask)
            v = m.net_velocity(xt, x_orig, t, ctx, mask)
        assert torch.allclose(loss, ((x_orig + out - x_tar) ** 2).mean())
        assert torch.allclose(v, velocity_from_sample(xt, x_orig + out, t, s))
    finally:
        m.flow = old
