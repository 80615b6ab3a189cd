"""Place a reference recording into a scene so that it sits there: where, how loud, and how
it sounds in the room. The added sound is the reference's own waveform with gains on its
spectrum (a coarse EQ towards the scene's spectral balance) and, when the scene is audibly
reverberant, a short decay tail of the scene's estimated length; it is never resynthesised.

Outside the placed span ``[start, end)`` the output equals the input sample for sample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..audio.io import resample, to_mono
from ..audio.windows import edge_fades

BANDS = (0, 125, 250, 500, 1000, 2000, 4000, 8000)  # lower edges (Hz) of the coarse EQ bands
EQ_AMOUNT = 0.5  # share of the scene / reference band difference applied
EQ_LIMIT_DB = (-12.0, 6.0)
FADE_IN_S, FADE_OUT_S = 0.01, 0.03
TEXTURE_FADE_S = 0.3  # a steady texture (is_steady) fades in and out over this (at most an eighth of it)
CONTEXT_S = 3.0  # seconds each side of the placed span used to measure the scene
SILENT_SCENE_DB = -60.0
QUIET_TARGET_DB = -26.0  # level of an added sound in a (near) silent scene
STEADY_DB = 8.0  # a sound whose block levels (10th-90th percentile) span less than this ...
STEADY_MIN_S = 2.0  # ... and that lasts at least this long is a steady texture (wind, rain, an engine)
DEFAULT_BELOW_DB = 0.0  # an added sound sits this far under the scene's foreground (0: as loud as it)


@dataclass(frozen=True)
class Placement:
    start: float  # seconds in the scene
    end: float
    gain_db: float  # gain applied to the reference
    level_db: float  # its loudness in the scene (K-weighted dB, 90th percentile of 400 ms blocks)
    scene_db: float  # the scene's foreground loudness around the span
    t60: float  # decay added (s); 0: none
    eq_db: tuple  # per band of BANDS


def _kweight(x: np.ndarray, sr: int) -> np.ndarray:
    """A BS.1770-like weighting: 2nd-order high-pass at 60 Hz and a +4 dB shelf above 1.5 kHz."""
    from scipy.signal import butter, sosfilt

    hp = sosfilt(butter(2, 60.0, "highpass", fs=sr, output="sos"), x)
    hi = sosfilt(butter(1, min(1500.0, 0.45 * sr), "highpass", fs=sr, output="sos"), hp)
    return (hp + (10 ** (4 / 20) - 1) * hi).astype(np.float32)


def block_levels(x: np.ndarray, sr: int, block_s: float = 0.4, hop_s: float = 0.1) -> np.ndarray:
    """K-weighted mean-square levels (dB) of 400 ms blocks every 100 ms (one block when shorter)."""
    y = _kweight(np.asarray(x, np.float64), sr) if len(x) > 16 else np.asarray(x, np.float64)
    b, h = max(1, int(block_s * sr)), max(1, int(hop_s * sr))
    if len(y) <= b:
        return np.array([10 * math.log10(float(np.mean(y ** 2)) + 1e-12)])
    c = np.concatenate([[0.0], np.cumsum(y ** 2)])
    starts = np.arange(0, len(y) - b + 1, h)
    ms = (c[starts + b] - c[starts]) / b
    return 10 * np.log10(ms + 1e-12)


def foreground_db(x: np.ndarray, sr: int) -> float:
    """Loudness of the foreground: the 90th percentile of the block levels."""
    lv = block_levels(x, sr)
    return float(np.percentile(lv, 90))


def target_level(scene: np.ndarray, sr: int, below_db: float = DEFAULT_BELOW_DB) -> tuple[float, float]:
    """(level for an added sound, the scene's foreground level) in block dB: ``below_db`` under the
    scene's foreground (90th percentile of its block levels), but at least 6 dB over its bed (20th
    percentile) as long as that stays within 3 dB over the foreground, so a sound added to a steady
    ambience is heard over it and one added among loud events is as loud as they are (with the
    default ``below_db`` of 0). A (near) silent scene gets QUIET_TARGET_DB."""
    lv = block_levels(scene, sr)
    fg, bed = float(np.percentile(lv, 90)), float(np.percentile(lv, 20))
    if fg <= SILENT_SCENE_DB:
        return QUIET_TARGET_DB, fg
    return max(fg - below_db, min(bed + 6.0, fg + 3.0)), fg


def _band_db(x: np.ndarray, sr: int) -> np.ndarray:
    from scipy.signal import welch

    f, p = welch(x, fs=sr, nperseg=min(2048, max(256, len(x) // 2 * 2)))
    out = []
    edges = list(BANDS) + [sr / 2]
    for lo, hi in zip(edges[:-1], edges[1:]):
        m = (f >= lo) & (f < hi)
        out.append(10 * math.log10(float(p[m].sum()) + 1e-20) if m.any() and lo < sr / 2 else -200.0)
    return np.array(out)


def match_eq(ref: np.ndarray, scene: np.ndarray, sr: int) -> np.ndarray:
    """Per-band gains (dB) moving the reference's spectral balance part of the way to the scene's;
    the gains' mean over the reference's energy is 0 (level is set separately)."""
    r, s = _band_db(ref, sr), _band_db(scene, sr)
    valid = (r > -150) & (s > -150)
    d = np.where(valid, s - r, 0.0)
    w = np.where(valid, 10 ** (r / 10), 0.0)
    d = d - (np.sum(w * d) / np.sum(w) if w.sum() > 0 else 0.0)
    return np.clip(EQ_AMOUNT * d, *EQ_LIMIT_DB)


def apply_eq(x: np.ndarray, sr: int, gains_db: np.ndarray) -> np.ndarray:
    """Band gains applied as a linear-phase FIR (gains on the signal's own spectrum)."""
    from scipy.signal import fftconvolve, firwin2

    if np.allclose(gains_db, 0.0, atol=0.05) or len(x) < 64:
        return x
    centres = [max(30.0, math.sqrt(max(lo, 30) * hi)) for lo, hi in zip(BANDS, list(BANDS[1:]) + [sr / 2])]
    f = [0.0] + [c for c in centres if c < sr / 2] + [sr / 2]
    g = [gains_db[0]] + [gains_db[i] for i, c in enumerate(centres) if c < sr / 2] + [gains_db[-1]]
    taps = firwin2(511, f, 10 ** (np.array(g) / 20), fs=sr)
    return fftconvolve(x, taps, mode="same").astype(np.float32)


def estimate_t60(scene: np.ndarray, sr: int) -> float:
    """The scene's decay time (s), coarsely: the steep end of the falls of its 10 ms energy
    envelope (a free reverberant decay is the steepest the envelope falls for long)."""
    hop = max(1, int(0.01 * sr))
    n = len(scene) // hop
    if n < 50:
        return 0.0
    e = (scene[: n * hop].astype(np.float64) ** 2).reshape(n, hop).mean(1)
    db = 10 * np.log10(e + 1e-12)
    k = 5
    sm = np.convolve(db, np.ones(k) / k, mode="same")
    slope = (sm[k:] - sm[:-k]) / (k * 0.01)  # dB/s over 50 ms
    floor = np.percentile(db, 10)
    falls = slope[(slope < -20) & (sm[:-k] > floor + 15)]
    if len(falls) < 5:
        return 0.0
    # a free decay is among the steepest falls; slow fades (a gust of wind dying down) are not
    rate = -float(np.percentile(falls, 25))
    return float(np.clip(60.0 / rate, 0.0, 1.5)) if rate > 0 else 0.0


def add_decay(x: np.ndarray, sr: int, t60: float, room: int, seed: int = 0) -> np.ndarray:
    """``x`` plus a diffuse exponential tail (T60 ``t60``) lasting at most ``room`` extra samples."""
    from scipy.signal import fftconvolve

    n_ir = int(min(t60, 1.5) * sr)
    if t60 < 0.3 or n_ir < 16:
        return x
    rng = np.random.default_rng(seed)
    t = np.arange(n_ir) / sr
    ir = rng.standard_normal(n_ir) * np.exp(-6.9078 * t / t60)
    ir[: int(0.005 * sr)] = 0.0  # the direct sound stays x itself
    ir /= np.sqrt(np.sum(ir ** 2)) + 1e-12
    wet = min(0.3, t60 / 4.0)
    y = np.concatenate([x, np.zeros(max(0, room), np.float32)])
    tail = fftconvolve(x, ir)[: len(y)]
    y[: len(tail)] += wet * tail
    return y.astype(np.float32)


def trim_silence(x: np.ndarray, sr: int, below_db: float = 45.0) -> np.ndarray:
    if len(x) == 0:
        return x
    peak = float(np.abs(x).max())
    if peak <= 0:
        return x
    idx = np.nonzero(np.abs(x) > peak * 10 ** (-below_db / 20))[0]
    pad = int(0.01 * sr)
    return x[max(0, idx[0] - pad): idx[-1] + pad + 1]


def is_steady(x: np.ndarray, sr: int) -> bool:
    """A steady texture (wind, rain, fire, an engine, a crowd): long enough and even in level."""
    if len(x) < STEADY_MIN_S * sr:
        return False
    lv = block_levels(x, sr)
    return float(np.percentile(lv, 90) - np.percentile(lv, 10)) < STEADY_DB


def loudest_stretch(x: np.ndarray, n: int) -> int:
    """Start of the ``n``-sample stretch of ``x`` holding the most energy."""
    if n >= len(x):
        return 0
    c = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
    return int(np.argmax(c[n:] - c[:-n]))


def quietest_stretch(x: np.ndarray, n: int, lo: int, hi: int, sr: int) -> int:
    """Start in [lo, hi - n] of the ``n``-sample stretch of ``x`` with the least energy (the
    scene's least busy moment), searched on a 10 ms grid."""
    if hi - lo <= n:
        return lo
    c = np.concatenate([[0.0], np.cumsum(x.astype(np.float64) ** 2)])
    step = max(1, int(0.01 * sr))
    starts = np.arange(lo, hi - n + 1, step)
    e = c[starts + n] - c[starts]
    # ties (silence) go to the middle of the range rather than the very start of the clip
    mid = (lo + hi - n) / 2
    best = np.nonzero(e <= e.min() * 1.05 + 1e-12)[0]
    return int(starts[best[np.argmin(np.abs(starts[best] - mid))]])


def place(scene: np.ndarray, sr: int, ref: np.ndarray, ref_sr: int, *, region=None, start: float | None = None,
          length: float | None = None, level_db: float | None = None, below_db: float = DEFAULT_BELOW_DB,
          room: bool = True, fill: bool = True, seed: int = 0):
    """(scene with the reference added, Placement).

    region: (start, end) seconds the sound must stay inside (else the whole clip); with ``fill``,
    a steady texture (``is_steady``) shorter than the region is repeated over all of it;
    start / length: a fixed position and longest length (seconds; replace uses A's);
    level_db: the added sound's loudness (block dB as in ``foreground_db``); None: ``target_level``
    of the scene around the span (``below_db`` under its foreground, audible over its bed).
    """
    audio = np.asarray(scene, np.float32)
    n = audio.shape[0]
    mono = to_mono(audio)
    r = resample(to_mono(np.asarray(ref, np.float32)), int(ref_sr), int(sr))
    r = trim_silence(r, sr)
    lo, hi = (0, n) if region is None else (max(0, int(round(region[0] * sr))), min(n, int(round(region[1] * sr))))
    if start is not None:
        lo = max(lo, min(hi - 1, int(round(start * sr))))
        if length is not None:
            hi = min(hi, lo + max(1, int(round(length * sr))))
    avail = hi - lo
    if avail < int(0.05 * sr) or len(r) < 16:
        return audio.copy(), None
    steady = is_steady(r, sr)
    if len(r) > avail:  # the reference's most energetic stretch that fits
        a = loudest_stretch(r, avail)
        r = r[a:a + avail]
    elif fill and region is not None and start is None and len(r) < avail and steady:
        r = fit_length(r, avail, sr, fade=False)  # the marked region filled with the texture (faded below)
    L = len(r)
    s = lo if start is not None else quietest_stretch(mono, L, lo, hi, sr)
    ctx = mono[max(0, s - int(CONTEXT_S * sr)): min(n, s + L + int(CONTEXT_S * sr))]
    eq = match_eq(r, ctx, sr) if room and len(ctx) > sr // 4 else np.zeros(len(BANDS))
    r = apply_eq(r, sr, eq)
    t60 = estimate_t60(mono, sr) if room else 0.0
    tail_room = max(0, hi - (s + L))
    if t60 >= 0.3 and tail_room > 0:
        r = add_decay(r, sr, t60, min(tail_room, int(min(t60, 1.5) * sr)), seed)
    else:
        t60 = 0.0
    L = len(r)
    if steady:  # an ambience eases in and out rather than switching on and off
        fi = fo = min(int(TEXTURE_FADE_S * sr), L // 8)
    else:
        fi, fo = min(int(FADE_IN_S * sr), L // 4), min(int(FADE_OUT_S * sr), L // 4)
    r = r * edge_fades(L, fi, fo).astype(np.float32)
    auto_level, scene_db = target_level(ctx, sr, below_db)
    ref_db = foreground_db(r, sr)
    if level_db is None:
        level_db = auto_level
    gain_db = float(np.clip(level_db - ref_db, -60.0, 40.0))
    add = (r * 10 ** (gain_db / 20)).astype(np.float32)
    out = audio.copy()
    seg = out[s:s + L]
    orig_peak = float(np.abs(seg).max()) if seg.size else 0.0
    mix = seg + (add[:, None] if seg.ndim == 2 else add)
    peak = float(np.abs(mix).max())
    if peak > 0.99 and orig_peak < 0.99:  # never clip: the added sound gives way, not the scene
        g_lo, g_hi = 0.0, 1.0
        for _ in range(20):
            g = 0.5 * (g_lo + g_hi)
            if float(np.abs(seg + g * (add[:, None] if seg.ndim == 2 else add)).max()) <= 0.99:
                g_lo = g
            else:
                g_hi = g
        add = add * g_lo
        gain_db += 20 * math.log10(max(g_lo, 1e-6))
        mix = seg + (add[:, None] if seg.ndim == 2 else add)
    out[s:s + L] = mix
    return out, Placement(s / sr, (s + L) / sr, gain_db, foreground_db(add, sr), scene_db, t60, tuple(map(float, eq)))


XFADE_S = 0.05  # crossfade between repeats of a reference shorter than the span it fills


def fit_length(r: np.ndarray, n: int, sr: int, fade: bool = True) -> np.ndarray:
    """``r`` made ``n`` samples long: its loudest stretch when longer, repeated with equal-power
    crossfades (XFADE_S, at most a quarter of it) when shorter; faded in and out (``fade``)."""
    r = np.asarray(r, np.float32)
    if n <= 0 or len(r) == 0:
        return np.zeros(max(0, n), np.float32)
    if len(r) >= n:
        a = loudest_stretch(r, n)
        y = r[a:a + n].copy()
    else:
        xf = max(1, min(int(XFADE_S * sr), len(r) // 4))
        t = (np.arange(xf) + 0.5) / xf
        fin, fout = np.sin(0.5 * np.pi * t).astype(np.float32), np.cos(0.5 * np.pi * t).astype(np.float32)
        y = r.copy()
        while len(y) < n:
            nxt = r.copy()
            head = y[-xf:] * fout + nxt[:xf] * fin
            y = np.concatenate([y[:-xf], head, nxt[xf:]])
        y = y[:n]
    if fade:
        fi, fo = min(int(FADE_IN_S * sr), n // 4), min(int(FADE_OUT_S * sr), n // 4)
        y *= edge_fades(n, fi, fo)
    return y.astype(np.float32)


def place_each(scene: np.ndarray, sr: int, ref: np.ndarray, ref_sr: int, spans, levels_db, *,
               room: bool = True, seed: int = 0):
    """(scene with the reference in every span, [Placement, ...]): in span i the reference is
    trimmed to (or repeated over) the span's length, at loudness ``levels_db[i]`` (block dB as in
    ``foreground_db``), EQ'd towards the scene and, in a reverberant scene, given its decay (cut
    at the span's end). Outside the spans the scene is unchanged."""
    audio = np.asarray(scene, np.float32)
    n = audio.shape[0]
    mono = to_mono(audio)
    r = trim_silence(resample(to_mono(np.asarray(ref, np.float32)), int(ref_sr), int(sr)), sr)
    out, placements = audio.copy(), []
    if len(r) < 16:
        return out, placements
    eq = match_eq(r, mono, sr) if room and n > sr // 4 else np.zeros(len(BANDS))
    r = apply_eq(r, sr, eq)
    t60 = estimate_t60(mono, sr) if room else 0.0
    t60 = t60 if t60 >= 0.3 else 0.0
    scene_db = foreground_db(mono, sr)
    for i, ((a, b), level) in enumerate(zip(spans, levels_db)):
        s, e = max(0, int(round(a * sr))), min(n, int(round(b * sr)))
        if e - s < int(0.02 * sr):
            continue
        piece = fit_length(r, e - s, sr)
        if t60:
            piece = add_decay(piece, sr, t60, 0, seed + i)
            fo = min(int(FADE_OUT_S * sr), len(piece) // 4)
            piece *= edge_fades(len(piece), 0, fo)
        gain_db = float(np.clip(level - foreground_db(piece, sr), -60.0, 40.0))
        add = (piece * 10 ** (gain_db / 20)).astype(np.float32)
        seg = out[s:e]
        addc = add[:, None] if seg.ndim == 2 else add
        orig_peak = float(np.abs(seg).max())
        if float(np.abs(seg + addc).max()) > 0.99 and orig_peak < 0.99:  # never clip: B gives way
            g_lo, g_hi = 0.0, 1.0
            for _ in range(20):
                g = 0.5 * (g_lo + g_hi)
                g_lo, g_hi = (g, g_hi) if float(np.abs(seg + g * addc).max()) <= 0.99 else (g_lo, g)
            add, addc = add * g_lo, addc * g_lo
            gain_db += 20 * math.log10(max(g_lo, 1e-6))
        out[s:e] = seg + addc
        placements.append(Placement(s / sr, e / sr, gain_db, foreground_db(add, sr), scene_db, t60,
                                    tuple(map(float, eq))))
    return out, placements
