"""What an edit removed: the input minus the output, sample for sample (same rate, channels
and length), written like any output (atomically, in the chosen format)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .atomic import replacing_file
from .audio.formats import OutputFormat, check_encoder
from .errors import OptionError

CHUNK_S = 60.0


def residual(before: np.ndarray, after: np.ndarray) -> np.ndarray:
    """``before - after`` (float32, same shape); what a removal took out, or minus what was added."""
    a = np.asarray(before, dtype=np.float32)
    b = np.asarray(after, dtype=np.float32)
    if a.shape != b.shape:
        raise OptionError(f"The edit's output has another shape ({b.shape}) than its input ({a.shape}).")
    return a - b


def residual_file(src, out, dst, fmt: OutputFormat) -> Path:
    """Write ``src - out`` (two audio files of the same rate, channels and length) to ``dst``
    chunk by chunk, so long files need memory for one chunk only."""
    import soundfile as sf

    dst = Path(dst)
    with sf.SoundFile(str(src)) as fa, sf.SoundFile(str(out)) as fb:
        if (fa.samplerate, fa.channels, fa.frames) != (fb.samplerate, fb.channels, fb.frames):
            raise OptionError(f"{Path(out).name} does not match {Path(src).name} in rate, channels or length.")
        check_encoder(fmt, fa.samplerate, fa.channels, dst.name)
        with replacing_file(dst, dst.suffix.lower()) as tmp:
            with sf.SoundFile(tmp, "w", samplerate=fa.samplerate, channels=fa.channels, format=fmt.format,
                              subtype=fmt.subtype) as w:
                step = max(1, int(CHUNK_S * fa.samplerate))
                while True:
                    a = fa.read(step, dtype="float32", always_2d=True)
                    if not len(a):
                        break
                    d = a - fb.read(len(a), dtype="float32", always_2d=True)
                    w.write(d if fmt.subtype in ("FLOAT", "DOUBLE") else np.clip(d, -1.0, 1.0))
    return dst
