"""Euler sampler for the rectified flow (eq. 4-5), as a small set_timesteps/step object."""

from __future__ import annotations

from .config import PathConfig
from .rectified import euler_step, time_grid


class EulerSampler:
    """Built once per edit: its path and prediction objects serve every window and step."""

    def __init__(self, path: PathConfig):
        self.prediction = path.make_prediction()  # what the network's output means (its velocity)
        self.path = self.prediction.path
        self.times: list[float] = []

    def set_timesteps(self, steps: int, t_start: float) -> list[float]:
        if not 0.0 <= t_start <= 1.0:
            raise ValueError("t_start must be in [0, 1]")
        self.times = [1.0] if t_start >= 1.0 else time_grid(t_start, steps)
        return self.times

    @property
    def steps(self) -> int:
        return max(0, len(self.times) - 1)

    def start(self, noise, x_orig):
        """eq. 4, from the path's source (noise in the paper)."""
        return self.path.start(noise, x_orig, self.times[0])

    def step(self, v, i: int, x):
        """eq. 5 from times[i] to times[i + 1]."""
        return euler_step(x, v, self.times[i + 1] - self.times[i])
