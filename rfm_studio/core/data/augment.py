"""Training-time variation of the bank's events and of the recording chain.

The bank holds a few hundred clips; real recordings differ from them in pitch, speed, room
and microphone. Each function takes and returns float32 mono at 16 kHz and draws from the
given generator, so a triplet stays reproducible from its seed.

- ``vary_event``: what differs between two recordings of the same kind of sound: playback
  speed (pitch and duration together, 0.85-1.18x), timbre (a smooth random EQ of up to
  +-6 dB over log-frequency) and a room (exponentially decaying noise, RT60 0.1-0.7 s).
- ``channel_eq``: one recording chain for the whole clip: the same smooth EQ and, sometimes,
  a band limit, applied to input and target alike so the edit itself is unchanged.
"""

from __future__ import annotations

import numpy as np

SR = 16000


def varispeed(x: np.ndarray, factor: float) -> np.ndarray:
    """Play ``x`` ``factor`` times faster (higher and shorter above 1): the project's
    band-limited resampler, with the factor rounded to 1/1000."""
    from ..audio.io import resample

    if abs(factor - 1.0) < 1e-3 or len(x) < 16:
        return x.astype(np.float32)
    return resample(x.astype(np.float32), 1000, int(round(1000 / factor)))


def eq_curve(n_fft: int, rng: np.random.Generator, max_db: float, sr: int = SR, points: int = 6) -> np.ndarray:
    """[n_fft // 2 + 1] linear gains: random dB values at log-spaced frequencies, interpolated."""
    f = np.fft.rfftfreq(n_fft, 1 / sr)
    knots = np.geomspace(60.0, sr / 2, points)
    db = rng.uniform(-max_db, max_db, points)
    curve = np.interp(np.log(np.maximum(f, 30.0)), np.log(knots), db)
    return (10 ** (curve / 20)).astype(np.float64)


# zero padding on each side of a clip before its EQ: the (zero-phase) filter's response lies
# within +-10 ms up to 1e-5 of its energy, so 0.1 s keeps the FFT's circular wrap from carrying
# the end of a clip into its start and back (-80 dB)
EQ_PAD = 1600


def eq_size(n: int) -> int:
    """The FFT size for an EQ of an ``n``-sample clip (room for EQ_PAD on each side)."""
    return _fft_size(int(n) + 2 * EQ_PAD)


def apply_eq(x: np.ndarray, gains: np.ndarray, n_fft: int) -> np.ndarray:
    """``x`` through the filter ``gains`` ([n_fft // 2 + 1]), as a linear (not circular)
    convolution: ``n_fft`` must be at least ``eq_size(len(x))``."""
    from scipy.fft import irfft, rfft

    if n_fft < len(x) + 2 * EQ_PAD:
        raise ValueError(f"n_fft {n_fft} is too small for {len(x)} samples; use eq_size()")
    xp = np.pad(x.astype(np.float32), (EQ_PAD, 0))
    y = irfft(rfft(xp, n_fft) * gains.astype(np.float32), n_fft)[EQ_PAD: EQ_PAD + len(x)]
    return y.astype(np.float32)


def room(x: np.ndarray, rng: np.random.Generator, sr: int = SR) -> np.ndarray:
    """``x`` in a small random room; the tail makes it longer (up to the RT60)."""
    from scipy.signal import fftconvolve

    rt60 = float(rng.uniform(0.1, 0.7))
    n = int(rt60 * sr)
    t = np.arange(n) / sr
    ir = rng.standard_normal(n) * np.exp(-6.9 * t / rt60)
    ir[0] = 0.0
    ir /= np.sqrt(np.sum(ir ** 2)) + 1e-9
    wet = float(rng.uniform(0.1, 0.45))
    y = np.pad(x, (0, n - 1)).astype(np.float64)
    y = (1 - wet) * y + wet * fftconvolve(x, ir)[: len(y)]
    # the tail ends quietly: trim below -60 dB of the peak
    env = np.abs(y)
    keep = np.flatnonzero(env > 1e-3 * env.max()) if env.max() > 0 else [len(x) - 1]
    return y[: max(len(x), int(keep[-1]) + 1)].astype(np.float32)


def _fft_size(n: int) -> int:
    from scipy.fft import next_fast_len

    return next_fast_len(max(int(n), 2), real=True)


def vary_event(x: np.ndarray, rng: np.random.Generator, p: float, sr: int = SR) -> np.ndarray:
    """Speed and EQ each with probability ``p``, a room with ``p / 2``; the level is restored
    to the input's RMS (the mixer sets event levels)."""
    if p <= 0 or len(x) == 0:
        return x
    rms = float(np.sqrt(np.mean(x.astype(np.float64) ** 2))) + 1e-12
    y = x
    if rng.random() < p:
        y = varispeed(y, float(np.exp(rng.uniform(np.log(0.85), np.log(1.18)))))
    if rng.random() < p:
        n = eq_size(len(y))
        y = apply_eq(y, eq_curve(n, rng, 6.0, sr), n)
    if rng.random() < p * 0.5:
        y = room(y, rng, sr)
    out = y * (rms / (float(np.sqrt(np.mean(y.astype(np.float64) ** 2))) + 1e-12))
    return out.astype(np.float32)


def channel_eq(inp: np.ndarray, tgt: np.ndarray | None, rng: np.random.Generator, p: float, sr: int = SR):
    """The same recording chain on input and target (with probability ``p``); ``tgt`` None: on
    the input alone (its target is returned None)."""
    if p <= 0 or rng.random() >= p:
        return inp, tgt
    n = eq_size(len(inp))
    gains = eq_curve(n, rng, 6.0, sr)
    if rng.random() < 0.25:  # a band-limited recorder or a phone-like chain
        f = np.fft.rfftfreq(n, 1 / sr)
        cut = float(rng.uniform(3000, 7000))
        gains = gains / np.sqrt(1 + (f / cut) ** 8)
    return apply_eq(inp, gains, n), None if tgt is None else apply_eq(tgt, gains, n)


def vary_prompt(x: np.ndarray, rng: np.random.Generator, sr: int = SR) -> np.ndarray:
    """An example or reference sound as it might differ from the occurrences it stands for:
    gain (+-10 dB), a smooth EQ (+-6 dB, 3 in 4), a small speed change (0.94-1.06x, pitch and
    duration together, 1 in 2) and a little noise (20-40 dB below it, 1 in 2)."""
    y = x.astype(np.float32)
    if len(y) < 16:
        return y
    if rng.random() < 0.5:
        y = varispeed(y, float(np.exp(rng.uniform(np.log(0.94), np.log(1.06)))))
    if rng.random() < 0.75:
        n = eq_size(len(y))
        y = apply_eq(y, eq_curve(n, rng, 6.0, sr), n)
    if rng.random() < 0.5:
        rms = float(np.sqrt(np.mean(y.astype(np.float64) ** 2))) + 1e-9
        y = y + rng.standard_normal(len(y)).astype(np.float32) * rms * 10 ** (-rng.uniform(20, 40) / 20)
    return (y * 10 ** (rng.uniform(-10, 10) / 20)).astype(np.float32)
