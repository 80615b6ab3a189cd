"""Model-free figures: need no network weights, only the input, target and edited clips.

All on 16 kHz mono mixes, clipped to the shorter of the two signals compared.

- d(a, b | frames): mean absolute difference of the 64-bin AudioLDM log-mels
  (``features.mel.MelFrontEnd``, natural log, 100 frames/s) over the given frames.
- gain = 1 - d(out, target | E) / d(in, target | E) over the frames E of the edited
  event(s): 1 is a perfect edit, 0 is "returned the input unchanged", < 0 is worse than
  that. Undefined (None) when the input already equals the target on E.
- keep error = d(out, in | not E): what the edit changed where nothing should change.
- success: gain >= 0.25 (the success rate is the share of clips with a defined gain that
  pass it). These three are the embedded model's benchmark (issue 4).
- E is every frame where any mel bin of target and input differs by more than 0.5 nats,
  together with the manifest's ``edit_spans`` [[start_s, end_s], ...] (or
  ``edit_start_s``/``edit_end_s``) where it has them (``event_frames``). A span marks where
  the event is within 40 dB of its peak; its quieter parts can still change the mel over a
  quiet background, and those frames belong to the edit, not to what should be kept.
  Gain is undefined (None) where d(in, target | E) is below 0.01 nats: there is next to
  nothing to edit, and the ratio would be noise.
- LSD, log-spectral distance against the target (ssr_eval's definition, as used by
  audioldm_eval): STFT n_fft 2048, hop 512, Hann; P = |S|^2;
  LSD = mean_t sqrt(mean_f (log10((P_tgt + eps) / (P_out + eps)))^2), eps = 1e-8.
- SI-SDR against the target (Le Roux et al., 2019), zero-mean signals, in dB:
  s = (<out, tgt> / |tgt|^2) tgt, e = out - s, SI-SDR = 10 log10(|s|^2 / |e|^2).
"""

from __future__ import annotations

import math

import numpy as np

SUCCESS_GAIN = 0.25
CHANGE_THRESHOLD = 0.5  # nats
MIN_D_IN = 0.01  # nats: below this the input already equals the target on E (gain undefined)
FPS = 100

_FRONT = None


def log_mel(wav16k: np.ndarray) -> np.ndarray:
    """[64, frames] AudioLDM log-mel of a 16 kHz mono signal."""
    global _FRONT
    if _FRONT is None:
        from ..features.mel import MelFrontEnd

        _FRONT = MelFrontEnd()
    return _FRONT.numpy(np.asarray(wav16k, np.float32))


def mask_from_spans(spans, n_frames: int, fps: int = FPS) -> np.ndarray:
    """Frames (at ``fps``) covered by [[start_s, end_s], ...]."""
    m = np.zeros(n_frames, dtype=bool)
    for s, e in spans:  # spans written from frame boundaries (0.29 s is frame 29, not 28)
        a = max(0, int(math.floor(float(s) * fps + 1e-6)))
        b = min(n_frames, int(math.ceil(float(e) * fps - 1e-6)))
        if b > a:
            m[a:b] = True
    return m


def mask_from_mels(mel_in: np.ndarray, mel_tgt: np.ndarray, threshold: float = CHANGE_THRESHOLD) -> np.ndarray:
    n = min(mel_in.shape[-1], mel_tgt.shape[-1])
    return (np.abs(mel_tgt[:, :n] - mel_in[:, :n]) > threshold).any(axis=0)


def event_frames(mel_in: np.ndarray, mel_tgt: np.ndarray, spans=None) -> np.ndarray:
    """E: the frames where target and input differ (``mask_from_mels``), and those of
    ``spans`` when given; [frames of mel_in]."""
    n = mel_in.shape[-1]
    m = mask_from_spans(spans, n) if spans else np.zeros(n, dtype=bool)
    d = mask_from_mels(mel_in, mel_tgt)
    m[: len(d)] |= d
    return m


def mel_distance(a: np.ndarray, b: np.ndarray, frames: np.ndarray) -> float | None:
    n = min(a.shape[-1], b.shape[-1], len(frames))
    sel = frames[:n]
    if not sel.any():
        return None
    return float(np.abs(a[:, :n][:, sel] - b[:, :n][:, sel]).mean())


def edit_figures(mel_in: np.ndarray, mel_tgt: np.ndarray, mel_out: np.ndarray, edited: np.ndarray) -> dict:
    """gain, keep error and the distances behind them for one clip."""
    d_in = mel_distance(mel_in, mel_tgt, edited)
    d_out = mel_distance(mel_out, mel_tgt, edited)
    gain = None
    if d_in is not None and d_out is not None and d_in >= MIN_D_IN:
        gain = 1.0 - d_out / d_in
    keep = mel_distance(mel_out, mel_in, ~edited)
    return {"gain": gain, "keep_error": keep, "d_in_target": d_in, "d_out_target": d_out,
            "edited_frames": int(edited.sum()), "success": None if gain is None else bool(gain >= SUCCESS_GAIN)}


def _stft_power(x: np.ndarray, n_fft: int = 2048, hop: int = 512) -> np.ndarray:
    import torch

    t = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
    if len(t) <= n_fft // 2:
        t = torch.nn.functional.pad(t, (0, n_fft // 2 + 1 - len(t)))
    s = torch.stft(t, n_fft, hop_length=hop, window=torch.hann_window(n_fft), center=True,
                   pad_mode="reflect", return_complex=True)
    return (s.abs() ** 2).double().numpy()  # [freq, frames]


def lsd(out: np.ndarray, target: np.ndarray, n_fft: int = 2048, hop: int = 512, eps: float = 1e-8) -> float:
    n = min(len(out), len(target))
    po, pt = _stft_power(out[:n], n_fft, hop), _stft_power(target[:n], n_fft, hop)
    d = np.log10((pt + eps) / (po + eps)) ** 2
    return float(np.mean(np.sqrt(np.mean(d, axis=0))))


def si_sdr(out: np.ndarray, target: np.ndarray, eps: float = 1e-12) -> float | None:
    n = min(len(out), len(target))
    est = np.asarray(out[:n], np.float64)
    ref = np.asarray(target[:n], np.float64)
    est = est - est.mean()
    ref = ref - ref.mean()
    rr = float(ref @ ref)
    if rr <= eps:
        return None  # silent target: undefined
    s = (est @ ref) / rr * ref
    e = est - s
    return float(10.0 * np.log10((s @ s + eps) / (e @ e + eps)))


def summarize(values) -> dict:
    """mean / median / n of the defined (non-None, finite) values."""
    v = np.array([x for x in values if x is not None and np.isfinite(x)], dtype=np.float64)
    if v.size == 0:
        return {"mean": None, "median": None, "n": 0}
    return {"mean": float(v.mean()), "median": float(np.median(v)), "n": int(v.size)}


def success_rate(gains) -> float | None:
    g = [x for x in gains if x is not None and np.isfinite(x)]
    return float(np.mean([x >= SUCCESS_GAIN for x in g])) if g else None
