"""Signal helpers for triplet mixing: noise beds, looping, placement, levels, masks.

Mixing rule (shared by the bank generator and the AudioCaps builder):
- levels are active RMS in dBFS (RMS over 10 ms frames within 30 dB of the
  loudest frame), the bank's clips sit at -20 dBFS;
- an edited event E is scaled so that level(E) - rms(X over E's active span) = SNR,
  SNR ~ U(snr_db) (default -5..+10 dB), and level(E) is clamped to [-32, -10] dBFS
  so that events over near-silent backgrounds stay audible but not blaring;
- background parts: events at -30..-20 dBFS, a looped ambience bed at -36..-24 dBFS,
  coloured noise at -55..-38 dBFS RMS;
- after mixing, input and target get one common gain that puts the louder of the
  two at an active level ~ U(-30, -16) dBFS, and are scaled down together if
  either peak exceeds 0.95: no clipping, relative levels untouched.
"""

from __future__ import annotations

import numpy as np

HOP = 160                  # 100 frames/s at 16 kHz
EVENT_LEVEL_CLAMP = (-32.0, -10.0)
PEAK_MAX = 0.95
NOISE_COLOURS = ("white", "pink", "brown", "hum")


def n_frames(n: int) -> int:
    return n // HOP + 1


def coloured_noise(kind: str, n: int, rng: np.random.Generator, sr: int = 16000) -> np.ndarray:
    """Unit-RMS noise: white, pink (1/f), brown (1/f^2) or a mains-like hum with hiss."""
    if kind == "hum":
        t = np.arange(n) / sr
        f0 = float(rng.choice([50.0, 60.0]))
        x = sum(a * np.sin(2 * np.pi * f0 * k * t + rng.uniform(0, 6.28)) for k, a in ((1, 1.0), (2, 0.5), (3, 0.3)))
        x = x + 0.05 * rng.standard_normal(n)
    else:
        spec = np.fft.rfft(rng.standard_normal(n))
        f = np.fft.rfftfreq(n, 1 / sr)
        f[0] = f[1]
        spec *= {"white": 1.0, "pink": f ** -0.5, "brown": f ** -1.0}[kind]
        x = np.fft.irfft(spec, n)
    x = x - x.mean()
    return (x / (np.sqrt(np.mean(x ** 2)) + 1e-12)).astype(np.float32)


def loop_to(x: np.ndarray, n: int, rng: np.random.Generator, xfade: int = 800) -> np.ndarray:
    """``x`` looped (with crossfades) or cropped at a random offset to exactly ``n`` samples."""
    if len(x) >= n:
        s = int(rng.integers(0, len(x) - n + 1))
        return x[s: s + n].copy()
    xfade = min(xfade, len(x) // 4)
    out = x[int(rng.integers(0, len(x) - xfade)):].copy()
    ramp = np.linspace(0, 1, xfade, dtype=np.float32) if xfade > 0 else None
    while len(out) < n:
        if xfade > 0:
            head = x[:xfade] * ramp
            out[-xfade:] = out[-xfade:] * ramp[::-1] + head
            out = np.concatenate([out, x[xfade:]])
        else:
            out = np.concatenate([out, x])
    return out[:n]


def crop_event(x: np.ndarray, max_len: int, rng: np.random.Generator, fade: int = 160) -> np.ndarray:
    """An event no longer than ``max_len``: long clips give a random excerpt with fades."""
    if len(x) <= max_len:
        return x
    ln = int(rng.integers(max(max_len // 2, 1), max_len + 1))
    s = int(rng.integers(0, len(x) - ln + 1))
    y = x[s: s + ln].copy()
    r = np.linspace(0, 1, fade, dtype=np.float32)
    y[:fade] *= r
    y[-fade:] *= r[::-1]
    return y


def place(x: np.ndarray, n: int, onset: int) -> np.ndarray:
    out = np.zeros(n, np.float32)
    seg = x[: max(0, n - onset)]
    out[onset: onset + len(seg)] = seg
    return out


def frame_energy(x: np.ndarray, hop: int = HOP) -> np.ndarray:
    """Mean square in 2-hop windows centred on frame t*hop, t = 0..n//hop (n_frames values)."""
    n = len(x)
    p = np.concatenate([np.zeros(hop, np.float64), x.astype(np.float64) ** 2, np.zeros(2 * hop, np.float64)])
    cs = np.concatenate([[0.0], np.cumsum(p)])
    t = np.arange(n_frames(n)) * hop
    return (cs[t + 2 * hop] - cs[t]) / (2 * hop)


def activity(x: np.ndarray, rel_db: float = 40.0, abs_floor: float = 1e-8) -> np.ndarray:
    """Bool per frame: where ``x`` (a placed event) sounds, within rel_db of its loudest frame."""
    e = frame_energy(x)
    if e.max() <= abs_floor:
        return np.zeros(len(e), bool)
    return e > max(e.max() * 10 ** (-rel_db / 10), abs_floor)


def active_level_db(x: np.ndarray, rel_db: float = 30.0) -> float:
    e = frame_energy(x)
    if e.max() <= 0:
        return -120.0
    act = e[e > e.max() * 10 ** (-rel_db / 10)]
    return float(10 * np.log10(act.mean() + 1e-12))


def rms_db(x: np.ndarray) -> float:
    return float(10 * np.log10(np.mean(x.astype(np.float64) ** 2) + 1e-12))


def event_gain(event_placed: np.ndarray, background: np.ndarray, snr_db: float,
               clamp=EVENT_LEVEL_CLAMP) -> tuple[float, float]:
    """(linear gain, resulting level dBFS) that puts the event ``snr_db`` over the background
    measured where the event sounds; the level is clamped to ``clamp``."""
    mask = activity(event_placed)
    e_bg = frame_energy(background)[mask]
    bg_db = float(10 * np.log10(e_bg.mean() + 1e-12)) if e_bg.size else -120.0
    target = float(np.clip(bg_db + snr_db, *clamp))
    return 10 ** ((target - active_level_db(event_placed)) / 20), target


def spans(mask: np.ndarray, hop_s: float = HOP / 16000, min_gap_frames: int = 10) -> list[list[float]]:
    """[[start_s, end_s], ...] of the True runs of ``mask`` (gaps shorter than min_gap merged)."""
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return []
    out, s, prev = [], idx[0], idx[0]
    for i in idx[1:]:
        if i - prev > min_gap_frames:
            out.append([round(s * hop_s, 2), round((prev + 1) * hop_s, 2)])
            s = i
        prev = i
    out.append([round(s * hop_s, 2), round((prev + 1) * hop_s, 2)])
    return out


SIX_TYPES = (("add", "A"), ("add", "B"), ("remove", "A"), ("remove", "B"), ("replace", "AB"), ("replace", "BA"))


def six_triplets(x: np.ndarray, a: np.ndarray, b: np.ndarray) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """The paper's six triplets of background ``x`` and placed, scaled events ``a``, ``b``:
    (task, which, input, target) for <X, X+A>, <X, X+B>, <X+A, X>, <X+B, X>, <X+A, X+B>, <X+B, X+A>."""
    xa, xb = x + a, x + b
    return [("add", "A", x, xa), ("add", "B", x, xb), ("remove", "A", xa, x), ("remove", "B", xb, x),
            ("replace", "AB", xa, xb), ("replace", "BA", xb, xa)]
