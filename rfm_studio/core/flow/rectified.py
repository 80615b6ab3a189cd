"""The rectified-flow math of RFM-Editing (paper eq. 1-5), in one place.

Training, sampling and tests all call these functions. They work on torch tensors
(or numpy arrays, where only arithmetic is used) of any shape; ``t`` broadcasts
from the batch dimension.

Notation (paper): x0 is the source sample (Gaussian noise epsilon in the paper),
x1 = x_tar the target latent, sigma_min the minimal noise scale at t = 1.

eq. 1  x_t = (1 - (1 - sigma_min) t) x0 + t x1
eq. 2  v   = x1 - (1 - sigma_min) x0
eq. 3  L   = || v_theta(x_t (+) x_orig, t, E_I) - v ||^2
eq. 4  x_start = (1 - (1 - sigma_min) t_start) eps + t_start x_orig
eq. 5  x_{t + dt} = x_t + dt v_theta(...)

Options beyond the paper (all reduce to it with their defaults):
- ``source = "original"``: x0 = x_orig + source_noise * eps instead of eps, a flow that
  starts from the clip being edited, so "leave it as it is" only has to remove the noise
  (with ``source_noise`` 0 it is the zero velocity);
- ``prediction = "sample"``: the network predicts x1 (as x_orig + delta) and the velocity
  follows in closed form from eq. 1-2 (see ``velocity_from_sample``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class FlowConfig:
    sigma_min: float = 1e-4
    source: str = "noise"  # "noise" (paper) | "original"
    source_noise: float = 1.0  # scale of eps when source == "original"
    prediction: str = "velocity"  # "velocity" (paper) | "sample"
    t_start: float = 0.01  # paper default
    steps: int = 200  # paper default
    guidance: float = 1.0
    draws: int = 1  # sampling: independent noise draws whose edits are averaged (1: the paper)
    cond_dropout: float = 0.1  # instruction dropout in training (classifier-free guidance)
    changed_weight: float = 0.0  # extra loss weight on bins where target != original
    changed_threshold: float = 0.5  # |x_tar - x_orig| above this counts as changed
    loss: str = "mse"  # "mse" (paper eq. 3) | "l1": absolute error (the median, not the mean, of the edits)
    timestep_scale: float = 1000.0  # t in [0, 1] -> network timestep t * scale
    # what the network's timestep means: "rfm": scale * t (t = 0 noise, t = 1 data: the flow's own
    # time); "ddpm": scale * (1 - t), the convention of DDPM-pretrained U-Nets (AudioLDM, Tango:
    # timestep 0 is clean data, timestep 1000 pure noise), so a converted U-Net hears the noise
    # level it was pretrained on
    timestep_convention: str = "rfm"
    t_low_fraction: float = 0.0  # share of training times drawn from [0, t_low_max] (few-step sampling)
    t_low_max: float = 0.05

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "FlowConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    def __post_init__(self):
        if self.source not in ("noise", "original"):
            raise ValueError(f"unknown flow source {self.source!r}")
        if self.prediction not in ("velocity", "sample"):
            raise ValueError(f"unknown prediction type {self.prediction!r}")
        if self.timestep_convention not in ("rfm", "ddpm"):
            raise ValueError(f"unknown timestep convention {self.timestep_convention!r} (rfm or ddpm)")
        if self.loss not in ("mse", "l1"):
            raise ValueError(f"unknown loss {self.loss!r}")
        if not 1 <= int(self.draws) <= 64:
            raise ValueError("draws must be between 1 and 64")
        if not 0.0 <= self.sigma_min < 1.0:
            raise ValueError("sigma_min must be in [0, 1)")


def network_timestep(cfg: FlowConfig, t):
    """The timestep the network is given at flow time ``t`` (see ``timestep_convention``)."""
    if cfg.timestep_convention == "ddpm":
        return (1 - t) * cfg.timestep_scale
    return t * cfg.timestep_scale


FlowConfig.network_timestep = network_timestep


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


def source_sample(cfg: FlowConfig, noise, x_orig):
    """x0 for this flow: noise (paper) or the original plus scaled noise."""
    if cfg.source == "noise":
        return noise
    return x_orig + cfg.source_noise * noise


def sample_times(cfg: FlowConfig, batch: int, generator=None):
    """Training times: uniform on [0, 1] (paper), with ``t_low_fraction`` of them drawn
    from [0, t_low_max], where few-step sampling starts and the network does most of the edit."""
    import torch

    t = torch.rand(batch, generator=generator)
    if cfg.t_low_fraction > 0:
        low = torch.rand(batch, generator=generator) < cfg.t_low_fraction
        t = torch.where(low, t * cfg.t_low_max, t)
    return t


def time_grid(t_start: float, steps: int):
    """steps + 1 times from t_start to 1 (uniform, Euler)."""
    if steps < 1:
        raise ValueError("steps must be >= 1")
    return [t_start + (1.0 - t_start) * i / steps for i in range(steps + 1)]
