"""Reading and writing audio files. Sources are only ever read."""

from __future__ import annotations

import os
from math import gcd
from pathlib import Path

import numpy as np

from ..atomic import discard, same_file, temp_beside
from ..errors import AudioReadError, OptionError
from .formats import CONTAINERS, PLAIN, OutputFormat, check_encoder, container_of, extensions_text

READ_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".mp3", ".aif", ".aiff", ".au", ".opus")
# extension -> the plain (format, subtype) written when none is chosen (see formats.py)
WRITE_FORMATS = {e: (f, PLAIN[f]) for f, exts, _ in CONTAINERS.values() for e in exts}
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


def plain_format(path) -> OutputFormat:
    """The format a file name gives when the caller names none: WAV 32-bit float, FLAC 24-bit,
    Ogg Vorbis, AIFF float (training data, evaluations); user-facing outputs use choose_format."""
    p = Path(path)
    name = container_of(p)
    if name is None:
        raise OptionError(f"Unsupported output format '{p.suffix or p.name}': use {extensions_text()}.")
    major = CONTAINERS[name][0]
    return OutputFormat(major, PLAIN[major])


def stage_audio(path, data: np.ndarray, sample_rate: int, *, protect=(), fmt: OutputFormat | None = None) -> str:
    """Write ``data`` to a new temporary file beside ``path`` (checked as save_audio checks it)
    and return the temporary file's path; the caller renames it over ``path`` (os.replace) or
    discards it. Several outputs can so be staged and put in place together."""
    import soundfile as sf

    p = Path(path)
    fmt = fmt or plain_format(p)
    for q in protect:
        if q is not None and same_file(p, q):
            raise OptionError(f"Refusing to overwrite the source file {p.name}; choose another output path.")
    if not p.parent.exists():
        raise OptionError(f"Output folder does not exist: {p.parent}")
    data = np.asarray(data, dtype=np.float32)
    if not np.isfinite(data).all():
        raise OptionError("Refusing to write audio with NaN or infinite samples.")
    check_encoder(fmt, sample_rate, 1 if data.ndim == 1 else data.shape[1], p.name)
    if fmt.subtype not in ("FLOAT", "DOUBLE"):
        data = np.clip(data, -1.0, 1.0)
    tmp = temp_beside(p, p.suffix.lower())
    try:
        sf.write(tmp, data, int(sample_rate), format=fmt.format, subtype=fmt.subtype)
    except BaseException:
        discard(tmp)
        raise
    return tmp


def save_audio(path, data: np.ndarray, sample_rate: int, *, protect=(), fmt: OutputFormat | None = None) -> Path:
    """Write atomically (temp file in the same folder, then rename).

    ``protect``: paths that must never be overwritten (e.g. the source file); ``fmt``: the
    container and sample format (None: the plain format of the extension, see plain_format).
    """
    p = Path(path)
    tmp = stage_audio(p, data, sample_rate, protect=protect, fmt=fmt)
    try:
        os.replace(tmp, p)
    except BaseException:
        discard(tmp)
        raise
    return p


def _short(exc: Exception) -> str:
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    msg = msg.replace("Error opening ", "").strip()
    return msg[:160].rstrip(".")
