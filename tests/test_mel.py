"""The AudioLDM mel front end against an independent computation."""

import numpy as np
import torch

from rfm_studio.core.features.mel import MelConfig, MelFrontEnd, mel_filterbank


def test_filterbank_matches_torchaudio_slaney():
    import torchaudio.functional as AF

    ours = mel_filterbank(16000, 1024, 64, 0.0, 8000.0)
    ref = AF.melscale_fbanks(513, 0.0, 8000.0, 64, 16000, norm="slaney", mel_scale="slaney").T.numpy()
    assert ours.shape == (64, 513)
    assert np.allclose(ours, ref, atol=1e-6)


def test_log_mel_matches_numpy_reference():
    rng = np.random.default_rng(0)
    x = (0.3 * rng.standard_normal(16000)).astype(np.float32)
    ours = MelFrontEnd().numpy(x)
    # independent: numpy framing with centred reflect padding, periodic Hann, rfft magnitude
    n_fft, hop = 1024, 160
    xp = np.pad(x.astype(np.float64), (n_fft // 2, n_fft // 2), mode="reflect")
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    frames = np.stack([xp[i * hop : i * hop + n_fft] * win for i in range(1 + len(x) // hop)])
    mag = np.abs(np.fft.rfft(frames, axis=1)).T
    import torchaudio.functional as AF

    fb = AF.melscale_fbanks(513, 0.0, 8000.0, 64, 16000, norm="slaney", mel_scale="slaney").T.numpy()
    ref = np.log(np.maximum(fb @ mag, 1e-5))
    assert ours.shape == (64, 101)
    assert np.abs(ours - ref).max() < 1e-3


def test_frames_for_10_24_seconds():
    cfg = MelConfig()
    assert cfg.frames(163840) == 1025  # centred framing; AudioLDM keeps the first 1024
    mel = MelFrontEnd()(torch.zeros(2, 163840))
    assert mel.shape == (2, 64, 1025)
    assert torch.allclose(mel, torch.full_like(mel, np.log(1e-5)))
