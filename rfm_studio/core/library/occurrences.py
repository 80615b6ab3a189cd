"""Where the old sound A plays: every occurrence, for "Replace A with B".

A's occurrences come from what the model removed (the residual, input minus the removal output)
and, when the user marked one, from an example span of A. Both are read as the energy per 20 ms
frame in A's frequency band (the band holding most of the residual's, or of the example's
excess, energy), median-filtered over three frames, and cut into spans with hysteresis thresholds set
relative to that envelope's own level (its peak and its floor), so a weak removal (a residual
only a few dB over its floor) still marks every place A was. Spans closer than MERGE_GAP_S are
merged, shorter than MIN_SPAN_S dropped, and each is widened by PAD_S.
"""

from __future__ import annotations

import math

import numpy as np

FRAME_S = 0.02  # hop of the band-energy envelope
NFFT_S = 0.03  # analysis window (the next power of two: 32 ms at 16 kHz)
MERGE_GAP_S = 0.1  # occurrences closer than this are one
MIN_SPAN_S = 0.06  # shorter blips are dropped
PAD_S = 0.01  # each occurrence widened by this on both sides (onset / release)
NO_RESIDUAL_DB = -60.0  # a residual envelope peaking under this: nothing was removed
ON_BELOW_PEAK_DB = 15.0  # onset threshold at most this far under the envelope's peak ...
OFF_BELOW_PEAK_DB = 25.0  # ... release threshold at most this far
ON_SHARE, OFF_SHARE = 0.5, 0.3  # ... and at these shares of the peak-over-floor range above the floor
MIN_RANGE_DB = 6.0  # an envelope with less dynamics than this is one steady sound: one span


def _sizes(sr: int) -> tuple[int, int]:
    """(hop, nfft) of the analysis frames at ``sr``."""
    return max(1, int(round(FRAME_S * sr))), 1 << max(6, int(math.ceil(math.log2(NFFT_S * sr))))


def _frames(x: np.ndarray, sr: int):
    hop, nfft = _sizes(sr)
    n = max(0, (len(x) - nfft) // hop + 1)
    if n < 1:
        x = np.pad(x, (0, nfft - len(x)))
        n = 1
    idx = np.arange(nfft)[None, :] + hop * np.arange(n)[:, None]
    spec = np.abs(np.fft.rfft(x[idx] * np.hanning(nfft)[None, :], axis=1)) ** 2
    freqs = np.fft.rfftfreq(nfft, 1.0 / sr)
    return spec, freqs, hop, nfft


def band_of(power: np.ndarray, freqs: np.ndarray, share: float = 0.9) -> tuple[float, float]:
    """(low, high) Hz holding the central ``share`` of a power spectrum's energy."""
    c = np.cumsum(power)
    if c[-1] <= 0:
        return float(freqs[0]), float(freqs[-1])
    c = c / c[-1]
    lo = int(np.searchsorted(c, (1 - share) / 2))
    hi = int(np.searchsorted(c, 1 - (1 - share) / 2))
    return float(freqs[min(lo, len(freqs) - 1)]), float(freqs[min(hi, len(freqs) - 1)])


def band_envelope(x: np.ndarray, sr: int, band: tuple[float, float]) -> np.ndarray:
    """Energy (dB) per FRAME_S frame of ``x`` in ``band`` (Hz), median-filtered over three frames; frame
    i covers [i * hop, i * hop + nfft)."""
    spec, freqs, _, nfft = _frames(np.asarray(x, np.float64), sr)
    return _band_db(spec, freqs, nfft, band)


def _band_db(spec: np.ndarray, freqs: np.ndarray, nfft: int, band: tuple[float, float]) -> np.ndarray:
    """``band_envelope`` from the frames' power spectra."""
    m = (freqs >= band[0]) & (freqs <= band[1])
    if not m.any():
        m[:] = True
    e = spec[:, m].sum(1) / (nfft * nfft / 4)
    db = 10 * np.log10(e + 1e-12)
    if len(db) >= 3:  # a 3-frame median: single-frame spikes and dips go, edges stay put
        db = np.median(np.stack([np.r_[db[:1], db[:-1]], db, np.r_[db[1:], db[-1:]]]), axis=0)
    return db


def hysteresis(db: np.ndarray, on: float, off: float) -> list[tuple[int, int]]:
    """Runs [i, j) of frames: start where ``db`` reaches ``on``, end where it falls under ``off``."""
    runs, start = [], None
    for i, v in enumerate(db):
        if start is None and v >= on:
            start = i
            while start > 0 and db[start - 1] >= off:  # back to where it rose over the release level
                start -= 1
        elif start is not None and v < off:
            runs.append((start, i))
            start = None
    if start is not None:
        runs.append((start, len(db)))
    return runs


def thresholds(db: np.ndarray) -> tuple[float, float] | None:
    """(onset, release) thresholds relative to the envelope's own level, None when it holds
    nothing (peak under NO_RESIDUAL_DB)."""
    peak = float(np.percentile(db, 99.5))
    floor = float(np.percentile(db, 20))
    if peak < NO_RESIDUAL_DB:
        return None
    rng = peak - floor
    if rng < MIN_RANGE_DB:  # steady: everything over the floor is A
        return floor - 1.0, floor - 3.0
    on = max(peak - ON_BELOW_PEAK_DB, floor + ON_SHARE * rng)
    off = max(peak - OFF_BELOW_PEAK_DB, floor + OFF_SHARE * rng)
    return on, min(off, on)


def merge(spans, gap: float, min_len: float = 0.0) -> list[tuple[float, float]]:
    out: list[list[float]] = []
    for a, b in sorted(spans):
        if out and a - out[-1][1] < gap:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out if b - a >= min_len]


def spans_in(db: np.ndarray, sr: int, hop: int, nfft: int, lo: int = 0) -> list[tuple[float, float]]:
    th = thresholds(db)
    if th is None:
        return []
    centre = (nfft / 2) / sr
    out = []
    for i, j in hysteresis(db, *th):
        a = lo / sr + i * hop / sr + centre - hop / (2 * sr)
        b = lo / sr + (j - 1) * hop / sr + centre + hop / (2 * sr)
        out.append((a, b))
    return out


def pad(spans, by: float, lo: float, hi: float) -> list[tuple[float, float]]:
    """Each span widened by ``by`` on both sides, within [lo, hi] and at most to the middle of
    the gap to its neighbour (spans never overlap)."""
    out = []
    for i, (a, b) in enumerate(spans):
        left = lo if i == 0 else (spans[i - 1][1] + a) / 2
        right = hi if i == len(spans) - 1 else (b + spans[i + 1][0]) / 2
        out.append((max(left, a - by), min(right, b + by)))
    return out


def example_span(prompt, mono: np.ndarray, sr: int) -> tuple[float, float] | None:
    """Where an "example" prompt (a span of this clip) sits in the clip, in seconds: from its
    ``span`` (prompts.AudioPrompt; in a long file's chunk, the chunk's time) when the samples
    there match, else None."""
    span = getattr(prompt, "span", None)
    if span is None or int(getattr(prompt, "sample_rate", 0)) != sr:
        return None
    a = float(span[0])
    s = int(round(a * sr))
    ex = np.asarray(prompt.audio, np.float32)
    seg = mono[s: s + len(ex)]
    if s < 0 or len(seg) != len(ex) or not np.allclose(seg, ex, atol=1e-4):
        return None
    return a, a + len(ex) / sr


def find_occurrences(audio: np.ndarray, removed: np.ndarray | None, sr: int, region=None,
                     examples=()) -> dict:
    """A's occurrences in ``audio`` (mono or [frames, channels]).

    ``removed``: the model's "Remove A" output (None: no removal); ``examples``: "example"
    AudioPrompts of A. Returns {"spans": [(start, end) s, ...], "band": (lo, hi) Hz,
    "source": "residual" | "example" | "input" | None}.
    """
    mono = np.asarray(audio, np.float32)
    mono = mono if mono.ndim == 1 else mono.mean(axis=1)
    n = len(mono)
    lo = 0 if region is None else max(0, int(round(region[0] * sr)))
    hi = n if region is None else min(n, int(round(region[1] * sr)))
    if hi - lo < int(2 * NFFT_S * sr):
        return {"spans": [], "band": None, "source": None}
    residual = None
    if removed is not None:
        r = np.asarray(removed, np.float32)
        residual = mono - (r if r.ndim == 1 else r.mean(axis=1))
    ex_spans = [s for s in (example_span(p, mono, sr) for p in examples) if s is not None]
    ex_audio = [np.asarray(p.audio, np.float64) for p in examples if int(p.sample_rate) == sr]
    band, source, env_db, input_frames = None, None, None, None
    if ex_audio:  # A's band: where the examples hold more energy than the clip's quieter frames
        input_frames = _frames(mono[lo:hi].astype(np.float64), sr)
        spec, freqs, _, _ = input_frames
        bg = np.percentile(spec, 30, axis=0)
        ex = np.mean([_frames(e, sr)[0].mean(0) for e in ex_audio], axis=0)
        band = band_of(np.maximum(ex - bg, 0.0), freqs)
    if residual is not None and float(np.abs(residual[lo:hi]).max(initial=0.0)) > 0:
        spec, freqs, _, nfft = _frames(residual[lo:hi].astype(np.float64), sr)
        if band is None:
            band = band_of(spec.sum(0), freqs)
        db = _band_db(spec, freqs, nfft, band)
        if thresholds(db) is not None:
            env_db, source = db, "residual"
    if env_db is None and band is not None:  # no removal to read: A's band in the input itself
        spec, freqs, _, nfft = input_frames or _frames(mono[lo:hi].astype(np.float64), sr)
        env_db, source = _band_db(spec, freqs, nfft, band), "input" if not ex_audio else "example"
    spans = list(ex_spans)
    if env_db is not None:
        spans += spans_in(env_db, sr, *_sizes(sr), lo)
    spans = pad(merge(spans, MERGE_GAP_S, MIN_SPAN_S), PAD_S, lo / sr, hi / sr)
    return {"spans": spans, "band": None if band is None else (round(band[0], 1), round(band[1], 1)),
            "source": source if spans else None}
