"""Per-clip conditioning for the event bank: trimming, level normalisation, stats.

Level rule: every kept clip is scaled so that its *active* RMS (RMS over the 20 ms
frames within 30 dB of the loudest frame) is TARGET_ACTIVE_DBFS, then scaled down
if needed so the peak stays <= PEAK_LIMIT. Events therefore have comparable
loudness and the triplet mixer's SNR is defined against this reference.
"""

from __future__ import annotations

import numpy as np

SR = 16000
TARGET_ACTIVE_DBFS = -20.0
PEAK_LIMIT = 0.89            # about -1 dBFS
MIN_SECONDS = 0.3
MAX_SECONDS = 12.0
SILENT_PEAK = 10 ** (-50 / 20)   # raw peak below -50 dBFS: near-silent
TRIM_DB = 45.0                   # trim edges quieter than (loudest frame - 45 dB)
FRAME = 320                      # 20 ms at 16 kHz


def frame_db(x: np.ndarray, frame: int = FRAME) -> np.ndarray:
    n = max(1, len(x) // frame)
    fr = x[: n * frame].reshape(n, frame) if len(x) >= frame else x[None, :]
    return 10 * np.log10(np.mean(fr.astype(np.float64) ** 2, axis=1) + 1e-12)


def trim_silence(x: np.ndarray, *, rel_db: float = TRIM_DB, abs_db: float = -65.0,
                 margin_s: float = 0.03, sr: int = SR) -> np.ndarray:
    """Cut leading/trailing frames quieter than max(loudest - rel_db, abs_db)."""
    db = frame_db(x)
    thr = max(db.max() - rel_db, abs_db)
    idx = np.nonzero(db > thr)[0]
    if idx.size == 0:
        return x[:0]
    m = int(margin_s * sr)
    a = max(0, idx[0] * FRAME - m)
    b = min(len(x), (idx[-1] + 1) * FRAME + m)
    y = x[a:b].copy()
    fade = min(len(y) // 4, int(0.005 * sr))
    if fade > 1:
        ramp = np.linspace(0.0, 1.0, fade, dtype=np.float32)
        y[:fade] *= ramp
        y[-fade:] *= ramp[::-1]
    return y


def active_rms_db(x: np.ndarray, rel_db: float = 30.0) -> float:
    db = frame_db(x)
    act = db[db > db.max() - rel_db]
    return float(10 * np.log10(np.mean(10 ** (act / 10)) + 1e-12))


def normalise(x: np.ndarray, target_db: float = TARGET_ACTIVE_DBFS, peak: float = PEAK_LIMIT) -> np.ndarray:
    g = 10 ** ((target_db - active_rms_db(x)) / 20)
    y = x * g
    p = float(np.max(np.abs(y))) if len(y) else 0.0
    if p > peak:
        y *= peak / p
    return y.astype(np.float32)


def stats(x: np.ndarray, sr: int = SR) -> dict:
    """Duration, level and spectral summary used for curation (of the trimmed clip, before
    level normalisation; ``raw_peak_dbfs`` in the manifest is the untrimmed source peak)."""
    db = frame_db(x)
    spec = np.abs(np.fft.rfft(_frames(x, 512, 256) * np.hanning(512), axis=1)) ** 2
    freqs = np.fft.rfftfreq(512, 1 / sr)
    power = spec.sum(axis=1) + 1e-12
    centroid = (spec * freqs).sum(axis=1) / power
    flat = np.exp(np.mean(np.log(spec + 1e-12), axis=1)) / (np.mean(spec, axis=1) + 1e-12)
    loud = power > power.max() * 1e-3
    out = {
        "duration_s": round(len(x) / sr, 3),
        "peak_dbfs": round(20 * np.log10(np.max(np.abs(x)) + 1e-12), 1),
        "active_rms_dbfs": round(active_rms_db(x), 1),
        "active_fraction": round(float(np.mean(db > db.max() - 30)), 2),
        "centroid_hz": round(float(np.median(centroid[loud])), 0),
        "flatness": round(float(np.median(flat[loud])), 3),
        "clipped_fraction": round(float(np.mean(np.abs(x) > 0.999)), 4),
    }
    return {k: float(v) for k, v in out.items()}


def _frames(x: np.ndarray, n: int, hop: int) -> np.ndarray:
    if len(x) < n:
        x = np.pad(x, (0, n - len(x)))
    k = 1 + (len(x) - n) // hop
    idx = np.arange(n)[None, :] + hop * np.arange(k)[:, None]
    return x[idx]


def repeat_as_sequence(x: np.ndarray, rng: np.random.Generator, *, count: int | None = None,
                       sr: int = SR) -> np.ndarray:
    """Turn one very short hit (a single bark, step, quack) into a natural run of 2-4."""
    count = count or int(rng.integers(2, 5))
    parts = []
    for i in range(count):
        parts.append(x * float(10 ** (rng.uniform(-3, 0) / 20)))
        if i < count - 1:
            parts.append(np.zeros(int(sr * rng.uniform(0.12, 0.35)), np.float32))
    return np.concatenate(parts).astype(np.float32)
