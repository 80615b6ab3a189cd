"""A model's flow settings, in three typed parts:

- ``PathConfig``: the flow the network was trained on (sigma_min, source, prediction, the
  timestep the network is given). Changing it needs retraining.
- ``SamplerConfig``: the defaults of an edit (t_start, steps, guidance, draws); an edit may
  override each.
- ``FlowTrainingConfig``: knobs of the training objective (instruction dropout, loss, the
  weight on changed bins, the share of low training times).

``FlowConfig`` composes the three. On disk (model_index.json's "flow", training recipes'
"flow" overrides) it is one flat JSON object whose keys are the parts' fields:
``FlowConfig.from_dict`` maps each key to its part and ``to_dict`` writes the same flat
object back. Code reads the part (``model.flow.sampler.steps``; there is no ``flow.steps``);
flat keywords (``FlowConfig(steps=3)``, ``flow.replace(steps=3)``) are the JSON object's view,
each going to its part.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import ClassVar

from .rectified import NoisePath, OriginalPath, SamplePrediction, VelocityPrediction


class _Part:
    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict):
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})


@dataclass(frozen=True)
class PathConfig(_Part):
    sigma_min: float = 1e-4
    source: str = "noise"  # "noise" (paper) | "original": x0 = x_orig + source_noise * eps
    source_noise: float = 1.0  # scale of eps when source == "original"
    prediction: str = "velocity"  # "velocity" (paper) | "sample": the network predicts x_orig + out
    timestep_scale: float = 1000.0  # t in [0, 1] -> network timestep t * scale
    # what the network's timestep means: "rfm": scale * t (t = 0 noise, t = 1 data: the flow's own
    # time); "ddpm": scale * (1 - t), the convention of DDPM-pretrained U-Nets (AudioLDM, Tango:
    # timestep 0 is clean data, timestep 1000 pure noise), so a converted U-Net hears the noise
    # level it was pretrained on
    timestep_convention: str = "rfm"

    def __post_init__(self):
        if self.source not in ("noise", "original"):
            raise ValueError(f"unknown flow source {self.source!r}")
        if self.prediction not in ("velocity", "sample"):
            raise ValueError(f"unknown prediction type {self.prediction!r}")
        if self.timestep_convention not in ("rfm", "ddpm"):
            raise ValueError(f"unknown timestep convention {self.timestep_convention!r} (rfm or ddpm)")
        if not 0.0 <= self.sigma_min < 1.0:
            raise ValueError("sigma_min must be in [0, 1)")

    def make_path(self) -> NoisePath:
        """The path object of ``source`` (rectified.NoisePath or OriginalPath)."""
        if self.source == "original":
            return OriginalPath(self.sigma_min, self.source_noise)
        return NoisePath(self.sigma_min)

    def make_prediction(self) -> VelocityPrediction:
        """The prediction object of ``prediction`` on this path (rectified.VelocityPrediction
        or SamplePrediction)."""
        kind = SamplePrediction if self.prediction == "sample" else VelocityPrediction
        return kind(self.make_path())

    def network_timestep(self, t):
        """The timestep the network is given at flow time ``t`` (see ``timestep_convention``)."""
        if self.timestep_convention == "ddpm":
            return (1 - t) * self.timestep_scale
        return t * self.timestep_scale


@dataclass(frozen=True)
class SamplerConfig(_Part):
    t_start: float = 0.01  # paper default
    steps: int = 200  # paper default
    guidance: float = 1.0
    draws: int = 1  # independent noise draws whose edits are averaged (1: the paper)

    def __post_init__(self):
        if not 1 <= int(self.draws) <= 64:
            raise ValueError("draws must be between 1 and 64")


@dataclass(frozen=True)
class FlowTrainingConfig(_Part):
    cond_dropout: float = 0.1  # instruction dropout (classifier-free guidance)
    changed_weight: float = 0.0  # extra loss weight on bins where target != original
    changed_threshold: float = 0.5  # |x_tar - x_orig| above this counts as changed
    loss: str = "mse"  # "mse" (paper eq. 3) | "l1": absolute error (the median, not the mean, of the edits)
    t_low_fraction: float = 0.0  # share of training times drawn from [0, t_low_max] (few-step sampling)
    t_low_max: float = 0.05

    def __post_init__(self):
        if self.loss not in ("mse", "l1"):
            raise ValueError(f"unknown loss {self.loss!r}")


_PARTS = {"path": PathConfig, "sampler": SamplerConfig, "training": FlowTrainingConfig}
_PART_OF = {f.name: part for part, kind in _PARTS.items() for f in fields(kind)}
_LEGACY_ORDER = ("sigma_min", "source", "source_noise", "prediction", "t_start", "steps", "guidance", "draws",
                 "cond_dropout", "changed_weight", "changed_threshold", "loss", "timestep_scale", "timestep_convention",
                 "t_low_fraction", "t_low_max")
_FLAT_KEYS = _LEGACY_ORDER + tuple(k for k in _PART_OF if k not in _LEGACY_ORDER)


@dataclass(frozen=True, init=False)
class FlowConfig:
    """The path, sampler defaults and training knobs of a model's flow (see the module).

    ``FlowConfig(path, sampler, training)`` composes the parts; flat keyword settings
    (``FlowConfig(steps=3)``, ``dataclasses.replace(flow, cond_dropout=0.5)``) go to their
    part, as in the JSON object. Values are read from the parts only (``flow.sampler.steps``)."""

    path: PathConfig
    sampler: SamplerConfig
    training: FlowTrainingConfig

    # the flat on-disk keys: every field of the three parts, in the order they have always been written
    KEYS: ClassVar[tuple] = _FLAT_KEYS

    def __init__(self, path: PathConfig | None = None, sampler: SamplerConfig | None = None,
                 training: FlowTrainingConfig | None = None, **flat):
        given = {"path": path, "sampler": sampler, "training": training}
        unknown = sorted(k for k in flat if k not in _PART_OF)
        if unknown:
            raise TypeError(f"FlowConfig has no setting {unknown[0]!r}")
        for name, kind in _PARTS.items():
            part = given[name] if given[name] is not None else kind()
            if not isinstance(part, kind):
                raise TypeError(f"FlowConfig.{name} must be a {kind.__name__}")
            mine = {k: v for k, v in flat.items() if _PART_OF[k] == name}
            if mine:
                part = replace(part, **mine)
            object.__setattr__(self, name, part)

    def to_dict(self) -> dict:
        """The flat JSON object (every key of the three parts)."""
        flat = {**self.path.to_dict(), **self.sampler.to_dict(), **self.training.to_dict()}
        return {k: flat[k] for k in self.KEYS}

    @classmethod
    def from_dict(cls, d: dict) -> "FlowConfig":
        """From the flat JSON object; a missing key takes its default, an unknown key is ignored."""
        return cls(**{k: v for k, v in d.items() if k in _PART_OF})

    def replace(self, **flat) -> "FlowConfig":
        """A copy with some flat settings changed (``replace(steps=4, loss="l1")``)."""
        return FlowConfig(self.path, self.sampler, self.training, **flat)
