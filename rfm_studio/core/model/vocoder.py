"""Vocoders: log-mel [B, n_mels, T] -> waveform [B, samples] at 16 kHz.

- ``GriffinLimVocoder``: needs no weights. Mel -> linear magnitude by non-negative least
  squares (multiplicative updates), then fast Griffin-Lim. When the caller passes the
  source audio, its phase initialises the iterations, so unedited parts come back close
  to the original.
- ``HifiGanVocoder``: AudioLDM's HiFi-GAN through transformers ``SpeechT5HifiGan``.
- ``BigVGANVocoder``: NVIDIA BigVGAN through the ``bigvgan`` package (optional extra).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from ..features.mel import MelConfig, mel_filterbank
from .files import ConfigOnlyFiles, read_config, read_json, write_json


@dataclass
class GriffinLimConfig:
    n_iter: int = 32
    momentum: float = 0.99
    nnls_iter: int = 30
    mel: dict | None = None

    def to_dict(self):
        return {"_class_name": "GriffinLim", **asdict(self)}


class GriffinLimVocoder(ConfigOnlyFiles, nn.Module):
    config_class = GriffinLimConfig

    def __init__(self, config: GriffinLimConfig | None = None):
        super().__init__()
        self.config = config or GriffinLimConfig()
        self.mel = MelConfig.from_dict(self.config.mel or {})

    def mel_to_magnitude(self, log_mel):
        m = self.mel
        fb = torch.tensor(mel_filterbank(m.sample_rate, m.n_fft, m.n_mels, m.f_min, m.f_max)).to(log_mel)
        mel = torch.exp(log_mel)
        fbt = fb.t()
        mag = fbt @ mel / (fbt @ fb.sum(dim=1, keepdim=True)).clamp_min(1e-8)
        for _ in range(self.config.nnls_iter):
            mag = mag * (fbt @ mel) / (fbt @ (fb @ mag)).clamp_min(1e-10)
        return mag

    def forward(self, log_mel, length: int | None = None, init_audio=None, magnitude=None):
        m = self.mel
        mag = self.mel_to_magnitude(log_mel) if magnitude is None else magnitude
        win = torch.hann_window(m.win_length, device=mag.device, dtype=mag.dtype)
        n = length or (mag.shape[-1] - 1) * m.hop_length
        stft = lambda x: torch.stft(x, m.n_fft, m.hop_length, m.win_length, win, center=True,
                                    pad_mode="reflect", return_complex=True)
        istft = lambda s: torch.istft(s, m.n_fft, m.hop_length, m.win_length, win, center=True, length=n)
        if init_audio is not None:
            ref = stft(init_audio.to(mag)).to(torch.complex64)
            ref = ref[..., : mag.shape[-1]]
            angles = ref / ref.abs().clamp_min(1e-8)
        else:
            g = torch.Generator(device="cpu").manual_seed(0)
            angles = torch.exp(2j * torch.pi * torch.rand(mag.shape, generator=g)).to(mag.device)
        prev = torch.zeros_like(angles)
        for _ in range(self.config.n_iter):
            inv = istft(mag * angles)
            rebuilt = stft(inv)[..., : mag.shape[-1]]
            angles = rebuilt - (self.config.momentum / (1 + self.config.momentum)) * prev
            angles = angles / angles.abs().clamp_min(1e-8)
            prev = rebuilt
        return istft(mag * angles)


AUDIOLDM_HIFIGAN = dict(
    model_in_dim=64, sampling_rate=16000, upsample_initial_channel=1024, upsample_rates=[5, 4, 2, 2, 2],
    upsample_kernel_sizes=[16, 16, 8, 4, 4], resblock_kernel_sizes=[3, 7, 11],
    resblock_dilation_sizes=[[1, 3, 5], [1, 3, 5], [1, 3, 5]], normalize_before=False,
)


class HifiGanVocoder(nn.Module):
    """AudioLDM's HiFi-GAN (transformers SpeechT5HifiGan; input [B, T, 64] log-mel)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, log_mel, length: int | None = None, init_audio=None):
        dt = next(self.model.parameters()).dtype  # the bundle's precision; float32 out
        wav = self.model(log_mel.transpose(1, 2).to(dt)).float()
        if wav.dim() == 1:
            wav = wav[None]
        if length is not None:
            wav = wav[..., :length]
            if wav.shape[-1] < length:
                wav = torch.nn.functional.pad(wav, (0, length - wav.shape[-1]))
        return wav

    def save_pretrained(self, folder):
        self.model.save_pretrained(str(folder), safe_serialization=True)

    @classmethod
    def from_pretrained(cls, folder):
        from transformers import SpeechT5HifiGan

        return cls(SpeechT5HifiGan.from_pretrained(str(folder), local_files_only=True, use_safetensors=True))

    @classmethod
    def from_config(cls, **overrides):
        from transformers import SpeechT5HifiGan, SpeechT5HifiGanConfig

        return cls(SpeechT5HifiGan(SpeechT5HifiGanConfig(**{**AUDIOLDM_HIFIGAN, **overrides})))


class BigVGANVocoder(nn.Module):
    """NVIDIA BigVGAN from a local folder in its own format (config.json +
    bigvgan_generator.pt holding {"generator": state_dict}), built with the ``bigvgan``
    package (optional extra). Weights are read with ``torch.load(weights_only=True)``."""

    def __init__(self, model, h=None):
        super().__init__()
        self.model = model
        self.h = h

    def forward(self, log_mel, length: int | None = None, init_audio=None):
        dt = next(self.model.parameters()).dtype  # the bundle's precision; float32 out
        wav = self.model(log_mel.to(dt)).squeeze(1).float()
        if length is not None:
            wav = wav[..., :length]
            if wav.shape[-1] < length:
                wav = torch.nn.functional.pad(wav, (0, length - wav.shape[-1]))
        return wav

    @classmethod
    def from_pretrained(cls, folder):
        from ..errors import ModelLoadError

        try:
            import bigvgan
            from bigvgan.env import AttrDict
        except ImportError:
            raise ModelLoadError("This model uses BigVGAN: pip install 'rfm-studio[bigvgan]'") from None
        folder = Path(folder)
        h = AttrDict(read_json(folder / "config.json"))
        model = bigvgan.BigVGAN(h, use_cuda_kernel=False)
        ck = folder / "bigvgan_generator.pt"
        if not ck.exists():
            raise ModelLoadError(f"Missing model file: {ck}")
        try:
            state = torch.load(str(ck), map_location="cpu", weights_only=True)["generator"]
        except Exception as exc:
            raise ModelLoadError(f"Model file {ck} is not a BigVGAN checkpoint ({str(exc)[:120]}).") from None
        try:
            model.load_state_dict(state)
        except RuntimeError:  # checkpoints saved without weight norm
            model.remove_weight_norm()
            model.load_state_dict(state)
        else:
            model.remove_weight_norm()
        return cls(model.eval(), dict(h))

    def save_pretrained(self, folder):
        Path(folder).mkdir(parents=True, exist_ok=True)
        write_json(Path(folder) / "config.json", self.h)
        torch.save({"generator": self.model.state_dict()}, str(Path(folder) / "bigvgan_generator.pt"))


def load_vocoder(folder):
    folder = Path(folder)
    from .kinds import vocoder_kind

    cfg = read_config(folder / "config.json")
    kind = vocoder_kind(cfg, bigvgan_weights=(folder / "bigvgan_generator.pt").exists())
    if kind == "griffinlim":
        return GriffinLimVocoder.from_pretrained(folder)
    if kind == "hifigan":
        return HifiGanVocoder.from_pretrained(folder)
    if kind == "bigvgan":
        return BigVGANVocoder.from_pretrained(folder)
    from ..errors import ModelLoadError

    raise ModelLoadError(f"Unknown vocoder in {folder}")
