"""Feature codecs between log-mel and the flow's latent space.

- ``MelNormalizer``: no weights; latent = (mel - mean) / std, shape [B, n_mels, T]
  (the embedded model works directly on the normalised mel).
- ``KLCodec``: diffusers ``AutoencoderKL`` as in AudioLDM: mel image [B, 1, T, 64] ->
  latent [B, 8, T/4, 16] times the learnt ``scaling_factor``.
Both expose ``encode(mel [B, n_mels, T])``, ``decode(latent) -> mel`` and
``frame_multiple`` (frame counts must be a multiple of it).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from torch import nn

from .files import ConfigOnlyFiles, read_config


@dataclass
class MelNormalizerConfig:
    mean: float = -5.0
    std: float = 2.5
    n_mels: int = 64

    def to_dict(self):
        return {"_class_name": "MelNormalizer", **asdict(self)}


class MelNormalizer(ConfigOnlyFiles, nn.Module):
    config_class = MelNormalizerConfig
    latent_dims = 3  # [B, C, T]

    def __init__(self, config: MelNormalizerConfig | None = None):
        super().__init__()
        self.config = config or MelNormalizerConfig()

    @property
    def latent_channels(self) -> int:
        return self.config.n_mels

    frame_multiple = 1

    def encode(self, mel):
        return (mel - self.config.mean) / self.config.std

    def decode(self, latent):
        return latent * self.config.std + self.config.mean


class KLCodec(nn.Module):
    """AudioLDM-style VAE (diffusers AutoencoderKL) on [B, 1, T, n_mels] mel images."""

    latent_dims = 4  # [B, C, T/4, F/4]

    def __init__(self, vae):
        super().__init__()
        self.vae = vae

    @property
    def latent_channels(self) -> int:
        return self.vae.config.latent_channels

    @property
    def frame_multiple(self) -> int:
        return 2 ** (len(self.vae.config.block_out_channels) - 1)

    @property
    def scaling_factor(self) -> float:
        return float(self.vae.config.scaling_factor)

    def encode(self, mel, sample: bool = False, generator=None):
        """float32 latent; the VAE runs in its own dtype (the bundle's precision)."""
        img = mel.transpose(1, 2).unsqueeze(1).to(self.vae.dtype)  # [B, 1, T, F]
        dist = self.vae.encode(img).latent_dist
        z = dist.sample(generator) if sample else dist.mode()
        return z.float() * self.scaling_factor

    def decode(self, latent):
        img = self.vae.decode((latent / self.scaling_factor).to(self.vae.dtype)).sample
        return img.squeeze(1).transpose(1, 2).float()

    def save_pretrained(self, folder):
        self.vae.save_pretrained(folder, safe_serialization=True)

    @classmethod
    def from_pretrained(cls, folder, safetensors_only: bool = True):
        from diffusers import AutoencoderKL

        return cls(AutoencoderKL.from_pretrained(str(folder), local_files_only=True,
                                                 use_safetensors=True if safetensors_only else None))


def load_codec(folder):
    cfg = read_config(Path(folder) / "config.json")
    name = cfg.get("_class_name", "")
    if name == "MelNormalizer":
        return MelNormalizer.from_pretrained(folder)
    if name == "AutoencoderKL":
        return KLCodec.from_pretrained(folder)
    raise ValueError(f"unknown codec class {name!r}")
