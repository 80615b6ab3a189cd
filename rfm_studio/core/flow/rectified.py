"""The rectified-flow math of RFM-Editing (paper eq. 1-5), in one place.

Training (``loss.rfm_loss``), sampling (``euler.EulerSampler``, ``RFMEditor.net_velocity``)
and tests all call these functions and classes. They work on torch tensors (or numpy
arrays, where only arithmetic is used) of any shape; ``t`` broadcasts from the batch
dimension. The settings that choose among them are in ``config.py``.

Notation (paper): x0 is the source sample (Gaussian noise epsilon in the paper),
x1 = x_tar the target latent, sigma_min the minimal noise scale at t = 1.

eq. 1  x_t = (1 - (1 - sigma_min) t) x0 + t x1
eq. 2  v   = x1 - (1 - sigma_min) x0
eq. 3  L   = || v_theta(x_t (+) x_orig, t, E_I) - v ||^2
eq. 4  x_start = (1 - (1 - sigma_min) t_start) eps + t_start x_orig
eq. 5  x_{t + dt} = x_t + dt v_theta(...)

Two choices, each a small class (as torchcfm writes one class per path):
- the path, i.e. where the flow starts: ``NoisePath`` (the paper: x0 = eps) or
  ``OriginalPath`` (x0 = x_orig + source_noise * eps, a flow that starts from the clip
  being edited, so "leave it as it is" only has to remove the noise; with ``source_noise``
  0 it is the zero velocity). Each gives ``x0``, ``x_t`` (eq. 1), ``velocity`` (eq. 2)
  and ``start`` (eq. 4).
- what the network predicts: ``VelocityPrediction`` (the paper: v, eq. 3) or
  ``SamplePrediction`` (x1 as x_orig + delta; the velocity follows in closed form from
  eq. 1-2, see ``velocity_from_sample``). Each gives the training ``target``, the
  ``estimate`` compared with it, and the ``velocity`` a network output implies.
"""

from __future__ import annotations


def _bt(t, like):
    """Broadcast a scalar or [B] time to ``like``'s shape."""
    if isinstance(t, (int, float)):
        return t
    return t.reshape(t.shape + (1,) * (like.ndim - t.ndim))


def interpolate(x0, x1, t, sigma_min: float):
    """eq. 1: the straight path from x0 (t = 0) to x1 (t = 1)."""
    tt = _bt(t, x1)
    return (1 - (1 - sigma_min) * tt) * x0 + tt * x1


def target_velocity(x0, x1, sigma_min: float):
    """eq. 2: d x_t / d t, constant along the path."""
    return x1 - (1 - sigma_min) * x0


def start_state(x0, x_orig, t_start: float, sigma_min: float):
    """eq. 4: the point at t_start on the path from the source x0 to the original latent."""
    return interpolate(x0, x_orig, t_start, sigma_min)


def euler_step(x, v, dt):
    """eq. 5."""
    return x + _bt(dt, x) * v


def velocity_from_sample(x_t, x1_hat, t, sigma_min: float):
    """Velocity implied by a predicted endpoint x1_hat at (x_t, t), from eq. 1-2.

    x0 = (x_t - t x1) / (1 - (1 - s) t)  =>  v = (x1 - (1 - s) x_t) / (1 - (1 - s) t).
    """
    tt = _bt(t, x_t)
    return (x1_hat - (1 - sigma_min) * x_t) / (1 - (1 - sigma_min) * tt)


def sample_from_velocity(x_t, v, t, sigma_min: float):
    """Inverse of ``velocity_from_sample``: the endpoint x1 implied by a velocity."""
    tt = _bt(t, x_t)
    return (1 - (1 - sigma_min) * tt) * v + (1 - sigma_min) * x_t


def sample_times(batch: int, generator=None, low_fraction: float = 0.0, low_max: float = 0.05):
    """Training times: uniform on [0, 1] (paper), with ``low_fraction`` of them drawn
    from [0, low_max], where few-step sampling starts and the network does most of the edit."""
    import torch

    t = torch.rand(batch, generator=generator)
    if low_fraction > 0:
        low = torch.rand(batch, generator=generator) < low_fraction
        t = torch.where(low, t * low_max, t)
    return t


def time_grid(t_start: float, steps: int):
    """steps + 1 times from t_start to 1 (uniform, Euler)."""
    if steps < 1:
        raise ValueError("steps must be >= 1")
    return [t_start + (1.0 - t_start) * i / steps for i in range(steps + 1)]


# ---- paths: where the flow starts (source "noise" | "original") ------------------------------

class NoisePath:
    """source "noise" (the paper): the straight path from Gaussian noise x0 = eps (t = 0)
    to x1 (t = 1, plus sigma_min eps)."""

    source = "noise"

    def __init__(self, sigma_min: float):
        self.sigma_min = sigma_min

    def x0(self, noise, x_orig):
        """The source sample of a training pair or an edit."""
        return noise

    def x_t(self, x0, x1, t):
        """eq. 1."""
        return interpolate(x0, x1, t, self.sigma_min)

    def velocity(self, x0, x1):
        """eq. 2: the path's (constant) velocity, u_t in torchcfm's notation."""
        return target_velocity(x0, x1, self.sigma_min)

    def start(self, noise, x_orig, t_start: float):
        """eq. 4: where sampling an edit of ``x_orig`` starts."""
        return start_state(self.x0(noise, x_orig), x_orig, t_start, self.sigma_min)


class OriginalPath(NoisePath):
    """source "original": the path starts from the clip being edited plus scaled noise,
    x0 = x_orig + source_noise * eps."""

    source = "original"

    def __init__(self, sigma_min: float, source_noise: float):
        super().__init__(sigma_min)
        self.source_noise = source_noise

    def x0(self, noise, x_orig):
        return x_orig + self.source_noise * noise


# ---- predictions: what the network outputs (prediction "velocity" | "sample") ---------------

class VelocityPrediction:
    """prediction "velocity" (the paper, eq. 3): the network output is the velocity."""

    name = "velocity"

    def __init__(self, path: NoisePath):
        self.path = path

    def target(self, x0, x1):
        """What ``estimate`` is trained towards (eq. 3): the path's velocity."""
        return self.path.velocity(x0, x1)

    def estimate(self, out, x_orig):
        """The network output in the target's terms."""
        return out

    def velocity(self, out, x_t, x_orig, t):
        """The velocity a network output implies at (x_t, t): what the sampler integrates."""
        return out


class SamplePrediction(VelocityPrediction):
    """prediction "sample": the network predicts the endpoint as x_orig + out; the training
    target is x1 (the loss is the velocity loss weighted by (1 - (1 - s) t)^2, which stays
    finite as t -> 1) and the velocity follows from eq. 1-2 (``velocity_from_sample``)."""

    name = "sample"

    def target(self, x0, x1):
        return x1

    def estimate(self, out, x_orig):
        return x_orig + out

    def velocity(self, out, x_t, x_orig, t):
        return velocity_from_sample(x_t, self.estimate(out, x_orig), t, self.path.sigma_min)
