"""Reading and writing audio files. Sources are only ever read."""

from __future__ import annotations

import os
from math import gcd
from pathlib import Path

import numpy as np

from ..atomic import discard, temp_beside
from ..errors import AudioReadError, OptionError

READ_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".au", ".opus")
WRITE_FORMATS = {".wav": ("WAV", "FLOAT"), ".flac": ("FLAC", "PCM_24"), ".ogg": ("OGG", "VORBIS")}
MIN_RATE, MAX_RATE = 1000, 768000


def load_audio(path, *, mono: bool = False, target_sr: int | None = None):
    """Read ``path`` -> (float32 array [samples] or [samples, channels], sample_rate).

    Raises AudioReadError with one sentence on anything unusable: missing, not audio,
    empty, or non-finite samples (NaN/Inf are rejected, not silently patched).
    """
    import soundfile as sf

    p = Path(path)
    if not p.exists():
        raise AudioReadError(f"Audio file not found: {p}")
    if p.is_dir():
        raise AudioReadError(f"Expected an audio file but got a folder: {p}")
    try:
        data, sr = sf.read(str(p), dtype="float32", always_2d=True)
    except Exception as exc:  # soundfile raises several types for bad files
        raise AudioReadError(f"Cannot read {p.name} as audio ({_short(exc)}).") from None
    if data.shape[0] == 0:
        raise AudioReadError(f"{p.name} contains no audio samples.")
    if not np.isfinite(data).all():
        raise AudioReadError(f"{p.name} contains invalid (NaN or infinite) samples.")
    if not MIN_RATE <= sr <= MAX_RATE:
        raise AudioReadError(f"{p.name} has an unsupported sample rate of {sr} Hz.")
    if mono:
        data = to_mono(data)
    elif data.shape[1] == 1:
        data = data[:, 0]
    if target_sr is not None and target_sr != sr:
        data = resample(data, sr, target_sr)
        sr = target_sr
    return np.ascontiguousarray(data, dtype=np.float32), int(sr)


def audio_info(path):
    """(frames, sample_rate, channels) without reading the samples."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception as exc:
        raise AudioReadError(f"Cannot read {Path(path).name} as audio ({_short(exc)}).") from None
    return int(info.frames), int(info.samplerate), int(info.channels)


def to_mono(data: np.ndarray) -> np.ndarray:
    if data.ndim == 1:
        return data.astype(np.float32, copy=False)
    return data.mean(axis=1).astype(np.float32)


def resample(data: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling along axis 0 (band-limited, Kaiser window)."""
    if sr_in == sr_out:
        return data.astype(np.float32, copy=False)
    from scipy.signal import resample_poly

    g = gcd(int(sr_in), int(sr_out))
    up, down = sr_out // g, sr_in // g
    out = resample_poly(data, up, down, axis=0, window=("kaiser", 8.0))
    n = int(round(data.shape[0] * sr_out / sr_in))
    if out.shape[0] > n:
        out = out[:n]
    elif out.shape[0] < n:
        pad = [(0, n - out.shape[0])] + [(0, 0)] * (out.ndim - 1)
        out = np.pad(out, pad)
    return out.astype(np.float32)


def save_audio(path, data: np.ndarray, sample_rate: int, *, protect=()) -> Path:
    """Write atomically (temp file in the same folder, then rename).

    ``protect``: paths that must never be overwritten (e.g. the source file).
    """
    import soundfile as sf

    p = Path(path)
    ext = p.suffix.lower()
    if ext not in WRITE_FORMATS:
        raise OptionError(f"Unsupported output format '{ext or p.name}': use .wav, .flac or .ogg.")
    for q in protect:
        if q is not None and _same_file(p, Path(q)):
            raise OptionError(f"Refusing to overwrite the source file {p.name}; choose another output path.")
    if not p.parent.exists():
        raise OptionError(f"Output folder does not exist: {p.parent}")
    data = np.asarray(data, dtype=np.float32)
    if not np.isfinite(data).all():
        raise OptionError("Refusing to write audio with NaN or infinite samples.")
    fmt, subtype = WRITE_FORMATS[ext]
    if subtype != "FLOAT":
        data = np.clip(data, -1.0, 1.0)
    tmp = temp_beside(p, ext)
    try:
        sf.write(tmp, data, int(sample_rate), format=fmt, subtype=subtype)
        os.replace(tmp, p)
    except BaseException:
        discard(tmp)
        raise
    return p


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    except OSError:
        pass
    return a.resolve() == b.resolve()


def _short(exc: Exception) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    msg = msg.replace("Error opening ", "").strip()
    return msg[:160].rstrip(".")
