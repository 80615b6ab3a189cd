"""The AudioLDM log-mel front end (so public AudioLDM VAE / HiFi-GAN weights apply).

16 kHz, n_fft 1024, Hann window 1024, hop 160, centred reflect padding, magnitude
spectrum (power 1), 64 Slaney-scale mel bands 0-8000 Hz with Slaney area norm,
natural log of clamp(x, 1e-5). 10.24 s -> 1024 frames (100 frames per second).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np


@dataclass(frozen=True)
class MelConfig:
    sample_rate: int = 16000
    n_fft: int = 1024
    win_length: int = 1024
    hop_length: int = 160
    n_mels: int = 64
    f_min: float = 0.0
    f_max: float = 8000.0
    clamp_min: float = 1e-5

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "MelConfig":
        return cls(**{k: v for k, v in d.items() if k in cls.__dataclass_fields__})

    @property
    def fps(self) -> float:
        """Frames per second (100 at the defaults): the time axis of every mel-rate view."""
        return self.sample_rate / self.hop_length

    def frames(self, n_samples: int) -> int:
        """Frames produced by centred framing of n_samples."""
        return n_samples // self.hop_length + 1


def hz_to_mel_slaney(f):
    f = np.asarray(f, dtype=np.float64)
    f_sp = 200.0 / 3
    mels = f / f_sp
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(f >= min_log_hz, min_log_mel + np.log(np.maximum(f, 1e-10) / min_log_hz) / logstep, mels)


def mel_to_hz_slaney(m):
    m = np.asarray(m, dtype=np.float64)
    f_sp = 200.0 / 3
    freqs = f_sp * m
    min_log_hz = 1000.0
    min_log_mel = min_log_hz / f_sp
    logstep = np.log(6.4) / 27.0
    return np.where(m >= min_log_mel, min_log_hz * np.exp(logstep * (m - min_log_mel)), freqs)


def hz_to_mel_htk(f):
    return 2595 * np.log10(1 + np.asarray(f, dtype=np.float64) / 700)


def mel_to_hz_htk(m):
    return 700 * (10 ** (np.asarray(m, dtype=np.float64) / 2595) - 1)


@lru_cache(maxsize=8)
def mel_filterbank(sample_rate=16000, n_fft=1024, n_mels=64, f_min=0.0, f_max=8000.0) -> np.ndarray:
    """Slaney mel filterbank with area normalisation, [n_mels, n_fft // 2 + 1] float32 (librosa's
    default). Read-only: the one cached copy is every caller's (copy it to change it)."""
    fb = mel_weights(sample_rate, n_fft, n_mels, f_min, f_max).astype(np.float32)
    fb.setflags(write=False)
    return fb


@lru_cache(maxsize=8)
def mel_weights(sample_rate=16000, n_fft=1024, n_mels=64, f_min=0.0, f_max=8000.0, htk: bool = False,
                norm: str | None = "slaney", width_pad: float = 0.0) -> np.ndarray:
    """Triangular mel filters, [n_mels, n_fft // 2 + 1] float64 (read-only): on the Slaney mel
    scale, or the HTK one (2595 log10(1 + f / 700)) with ``htk``; ``norm="slaney"`` scales each
    filter to unit area, None leaves their peaks at 1 (librosa's ``htk`` and ``norm``).
    ``width_pad``: Hz added to each half-width of a triangle's slopes (a guard against zero-width
    filters; the bank's label check uses 1e-9, and its results depend on those exact weights)."""
    to_mel, to_hz = (hz_to_mel_htk, mel_to_hz_htk) if htk else (hz_to_mel_slaney, mel_to_hz_slaney)
    n_freqs = n_fft // 2 + 1
    fft_freqs = np.linspace(0, sample_rate / 2, n_freqs)
    mel_pts = np.linspace(to_mel(f_min), to_mel(f_max), n_mels + 2)
    hz_pts = to_hz(mel_pts)
    fdiff = np.diff(hz_pts) + width_pad
    ramps = hz_pts[:, None] - fft_freqs[None, :]
    weights = np.zeros((n_mels, n_freqs))
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    if norm == "slaney":
        weights *= (2.0 / (hz_pts[2 : n_mels + 2] - hz_pts[:n_mels]))[:, None]
    weights.setflags(write=False)
    return weights


class MelFrontEnd:
    """waveform (torch, [..., samples]) -> log-mel [..., n_mels, frames]."""

    def __init__(self, config: MelConfig | None = None):
        self.config = config or MelConfig()
        self._cache = {}

    def _buffers(self, device, dtype):
        import torch

        key = (str(device), dtype)
        if key not in self._cache:
            c = self.config
            fb = torch.tensor(mel_filterbank(c.sample_rate, c.n_fft, c.n_mels, c.f_min, c.f_max))  # a copy
            win = torch.hann_window(c.win_length, periodic=True)
            self._cache[key] = (fb.to(device, dtype), win.to(device, dtype))
        return self._cache[key]

    def magnitude(self, wav):
        import torch

        c = self.config
        fb, win = self._buffers(wav.device, wav.dtype)
        shape = wav.shape[:-1]
        x = wav.reshape(-1, wav.shape[-1])
        spec = torch.stft(x, c.n_fft, hop_length=c.hop_length, win_length=c.win_length, window=win,
                          center=True, pad_mode="reflect", return_complex=True)
        return spec.abs().reshape(*shape, spec.shape[-2], spec.shape[-1])

    def __call__(self, wav):
        import torch

        mag = self.magnitude(wav)
        fb, _ = self._buffers(wav.device, wav.dtype)
        mel = torch.matmul(fb, mag)
        return torch.log(torch.clamp(mel, min=self.config.clamp_min))

    def numpy(self, wav: np.ndarray) -> np.ndarray:
        import torch

        with torch.no_grad():
            return self(torch.from_numpy(np.ascontiguousarray(wav, dtype=np.float32))).numpy()
