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


def test_one_filterbank_serves_the_model_and_the_label_check():
    """mel_weights builds both the model's Slaney filters and the label check's HTK ones."""
    import pytest

    from rfm_studio.core.features.mel import hz_to_mel_htk, mel_filterbank, mel_to_hz_htk, mel_weights

    assert np.array_equal(mel_filterbank(), mel_weights().astype(np.float32))
    assert not mel_filterbank().flags.writeable  # the cached copy is shared: no caller can change it
    htk = mel_weights(16000, 1024, 48, 50.0, 8000.0, htk=True, norm=None)
    assert htk.shape == (48, 513) and not htk.flags.writeable
    assert np.allclose(mel_to_hz_htk(hz_to_mel_htk([50.0, 1000.0, 8000.0])), [50.0, 1000.0, 8000.0])
    assert hz_to_mel_htk(1000.0) == pytest.approx(1000.0, abs=0.1)  # the HTK scale's anchor
    freqs = np.linspace(0, 8000, 513)
    centres = mel_to_hz_htk(np.linspace(hz_to_mel_htk(50.0), hz_to_mel_htk(8000.0), 50))[1:-1]
    for row, c in zip(htk, centres):  # each triangle peaks (at most 1) next to its centre
        assert row.max() <= 1.0 and abs(freqs[row.argmax()] - c) <= 15.625
