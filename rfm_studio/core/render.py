"""Turning an edited log-mel back into audio at the input's own rate and channels.

- ``render_vocoder``: the paper's path. The vocoder resynthesises the whole edited mel at
  16 kHz; the result is resampled to the input rate and copied to every channel.
- ``render_mask``: the edit as a change to the source. Where the model lowered a mel bin,
  that gain is applied to the source's own STFT (every channel, at the input rate, bands
  above 8 kHz follow the top mel band), so untouched sound keeps its phase, stereo image
  and full bandwidth; where it raised a bin, only the added energy is synthesised by the
  vocoder and mixed in. Differences below ``threshold`` (natural-log units) count as none.
"""

from __future__ import annotations

import numpy as np
import torch

from .audio.io import resample
from .features.mel import MelConfig, hz_to_mel_slaney, mel_to_hz_slaney


def _band_centres(cfg: MelConfig) -> np.ndarray:
    pts = np.linspace(hz_to_mel_slaney(cfg.f_min), hz_to_mel_slaney(cfg.f_max), cfg.n_mels + 2)
    return mel_to_hz_slaney(pts[1:-1])


def soft_threshold(delta: np.ndarray, threshold: float) -> np.ndarray:
    return np.sign(delta) * np.maximum(np.abs(delta) - threshold, 0.0)


def gains_to_stft_grid(gain_mel: np.ndarray, cfg: MelConfig, sr: int, n_fft: int, hop: int, n_frames: int):
    """[n_mels, F100] gains at 100 fps -> [n_fft//2+1, n_frames] gains on an STFT grid."""
    centres = _band_centres(cfg)
    freqs = np.linspace(0, sr / 2, n_fft // 2 + 1)
    m_c = hz_to_mel_slaney(centres)
    m_f = hz_to_mel_slaney(np.minimum(freqs, cfg.f_max))
    # frequency: interpolate between band centres (edges hold the end bands)
    g_f = np.stack([np.interp(m_f, m_c, gain_mel[:, j]) for j in range(gain_mel.shape[1])], axis=1)
    # time: frame j of the STFT grid sits at j * hop / sr seconds; mel frames at k / 100
    t_grid = np.arange(n_frames) * hop / sr
    t_mel = np.arange(gain_mel.shape[1]) * cfg.hop_length / cfg.sample_rate
    return np.stack([np.interp(t_grid, t_mel, row) for row in g_f]).astype(np.float32)


def render_mask(audio: np.ndarray, sr: int, mel_in: np.ndarray, mel_out: np.ndarray, vocoder, cfg: MelConfig,
                threshold: float = 0.1) -> np.ndarray:
    """audio: [samples] or [samples, ch] at sr; mel_in/mel_out: [n_mels, F] of its 16 kHz mono."""
    delta = soft_threshold(mel_out - mel_in, threshold)
    gain = np.exp(np.minimum(delta, 0.0))
    two_d = audio.ndim == 2
    x = audio if two_d else audio[:, None]
    n = x.shape[0]
    n_fft = int(2 ** np.round(np.log2(cfg.n_fft * sr / cfg.sample_rate)))
    hop = n_fft // 4
    win = torch.hann_window(n_fft, dtype=torch.float64)
    xt = torch.from_numpy(np.ascontiguousarray(x.T, dtype=np.float64))
    spec = torch.stft(xt, n_fft, hop, n_fft, win, center=True, pad_mode="reflect", return_complex=True)
    g = torch.from_numpy(gains_to_stft_grid(gain, cfg, sr, n_fft, hop, spec.shape[-1])).to(torch.float64)
    out = torch.istft(spec * g, n_fft, hop, n_fft, win, center=True, length=n).numpy().T
    # energy the model added: synthesise it and mix it in
    add = np.maximum(np.exp(mel_in + np.maximum(delta, 0.0)) - np.exp(mel_in), 0.0)
    if add.max() > 1e-4:
        with torch.no_grad():
            mag = vocoder.mel_to_magnitude(torch.from_numpy(np.log(np.maximum(add, 1e-12)).astype(np.float32))[None]) \
                if hasattr(vocoder, "mel_to_magnitude") else None
            n16 = int(round(n * cfg.sample_rate / sr))
            if mag is not None:
                extra = vocoder(None, length=n16, magnitude=mag)[0].numpy()
            else:  # neural vocoders: synthesise out and in, keep the difference's added part
                extra = (vocoder(torch.from_numpy(np.log(np.exp(mel_in) + add).astype(np.float32))[None], length=n16)
                         - vocoder(torch.from_numpy(mel_in.astype(np.float32))[None], length=n16))[0].numpy()
        extra = resample(extra.astype(np.float32), cfg.sample_rate, sr)
        extra = np.pad(extra, (0, max(0, n - len(extra))))[:n]
        out = out + extra[:, None]
    out = out.astype(np.float32)
    return out if two_d else out[:, 0]


def render_vocoder(audio: np.ndarray, sr: int, wav16: np.ndarray, cfg: MelConfig) -> np.ndarray:
    """The vocoder's 16 kHz mono output at the input's rate, on every channel."""
    y = resample(wav16.astype(np.float32), cfg.sample_rate, sr)
    n = audio.shape[0]
    y = np.pad(y, (0, max(0, n - len(y))))[:n]
    return np.repeat(y[:, None], audio.shape[1], axis=1) if audio.ndim == 2 else y
