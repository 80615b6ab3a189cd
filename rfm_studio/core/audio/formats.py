"""Output formats: which container and sample format a written file gets, and whether the
encoder can take the clip's rate and channel count (checked before any model loads).

By default an output keeps its input's sample format (16-bit PCM stays 16-bit PCM, float stays
float) in the container its file name names; formats that cannot be written back (MP3, AU,
Opus files) give WAV, and lossy or compressed samples (MP3, Vorbis, Opus, ADPCM) give 16-bit PCM.
The limits below were measured on libsndfile 1.2: past them it raises, or (Vorbis) crashes the
process, so they are refused with one sentence instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import OptionError

# container name -> (libsndfile format, extensions, the default subtype when nothing is kept)
CONTAINERS = {
    "wav": ("WAV", (".wav",), "PCM_16"),
    "flac": ("FLAC", (".flac",), "PCM_16"),
    "ogg": ("OGG", (".ogg", ".oga"), "VORBIS"),
    "aiff": ("AIFF", (".aif", ".aiff"), "PCM_16"),
}
SUBTYPES = ("PCM_U8", "PCM_S8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW", "VORBIS", "OPUS")
# what each container can hold (of SUBTYPES)
_HOLDS = {
    "WAV": ("PCM_U8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW"),
    "AIFF": ("PCM_U8", "PCM_S8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE", "ULAW", "ALAW"),
    "FLAC": ("PCM_S8", "PCM_16", "PCM_24"),
    "OGG": ("VORBIS", "OPUS"),
}
_DEPTH = {"PCM_U8": 8, "PCM_S8": 8, "ULAW": 16, "ALAW": 16, "PCM_16": 16, "PCM_24": 24, "PCM_32": 32,
          "FLOAT": 32, "DOUBLE": 64}
OPUS_RATES = (8000, 12000, 16000, 24000, 48000)
LABELS = {"PCM_U8": "8-bit PCM", "PCM_S8": "8-bit PCM", "PCM_16": "16-bit PCM", "PCM_24": "24-bit PCM",
          "PCM_32": "32-bit PCM", "FLOAT": "32-bit float", "DOUBLE": "64-bit float", "ULAW": "µ-law",
          "ALAW": "A-law", "VORBIS": "Vorbis", "OPUS": "Opus"}
# the writers' defaults when a caller names no format (internal files: training data, evaluations)
PLAIN = {"WAV": "FLOAT", "FLAC": "PCM_24", "OGG": "VORBIS", "AIFF": "FLOAT"}


@dataclass(frozen=True)
class OutputFormat:
    format: str  # libsndfile major format: WAV, FLAC, OGG, AIFF
    subtype: str  # PCM_16, PCM_24, FLOAT, VORBIS, ...

    def describe(self) -> str:
        return f"{self.format} {LABELS.get(self.subtype, self.subtype)}"


def as_written(audio, of: OutputFormat):
    """The samples as a file of ``of`` holds them: clipped to [-1, 1] unless it stores floats."""
    import numpy as np

    a = np.asarray(audio, dtype=np.float32)
    return a if of.subtype in ("FLOAT", "DOUBLE") else np.clip(a, -1.0, 1.0)


def container_of(path) -> str | None:
    """The container a file name names by its extension (None: none we write)."""
    ext = Path(path).suffix.lower()
    for name, (_, exts, _) in CONTAINERS.items():
        if ext in exts:
            return name
    return None


def extensions_text() -> str:
    exts = [e for _, es, _ in CONTAINERS.values() for e in es]
    return ", ".join(exts[:-1]) + " or " + exts[-1]


def source_format(path) -> tuple[str, str] | None:
    """(format, subtype) of an existing audio file as libsndfile reads it, e.g. ("WAV", "PCM_16"),
    ("MP3", "MPEG_LAYER_III"); None when it cannot be told."""
    import soundfile as sf

    try:
        info = sf.info(str(path))
    except Exception:  # noqa: BLE001 - the reader reports unreadable files
        return None
    return str(info.format), str(info.subtype)


def kept_subtype(fmt: str, source_subtype: str | None) -> str:
    """The sample format a ``fmt`` file gets for a source of ``source_subtype``: the same one
    when the container can hold it, else the nearest it can (float 32 -> FLAC 24-bit), else the
    container's default (16-bit PCM; Vorbis in OGG)."""
    holds = _HOLDS[fmt]
    st = (source_subtype or "").upper()
    if st in holds:
        return st
    depth = _DEPTH.get(st)
    default = next(d for f, _, d in CONTAINERS.values() if f == fmt)
    if depth is None:
        return default
    pcm = [s for s in holds if s.startswith("PCM") and s != "PCM_U8"]
    if not pcm:
        return default
    at_least = [s for s in pcm if _DEPTH[s] >= depth]
    return at_least[0] if at_least else pcm[-1]


def choose_format(path, source: tuple[str, str] | None = None, fmt: str | None = None,
                  subtype: str | None = None) -> OutputFormat:
    """The format an output at ``path`` is written in.

    ``fmt``: a container name ("wav", "flac", "ogg", "aiff") or None (the extension's; with no
    extension of ours, the source's container when it can be written, else WAV); ``subtype``:
    None keeps the source's sample format. One sentence (OptionError) for a conflict.
    """
    p = Path(path)
    by_ext = container_of(p)
    if fmt is not None:
        name = str(fmt).lower()
        if name not in CONTAINERS:
            raise OptionError(f"Unknown format '{fmt}': choose {', '.join(CONTAINERS)}.")
        if by_ext is not None and by_ext != name:
            raise OptionError(f"The output name {p.name} ends in {p.suffix} but --format is {name}; "
                              f"make them agree (or leave one out).")
    elif by_ext is not None:
        name = by_ext
    elif p.suffix:
        raise OptionError(f"Unsupported output format '{p.suffix}': use {extensions_text()}.")
    else:
        src = (source or ("", ""))[0]
        name = next((n for n, (f, _, _) in CONTAINERS.items() if f == src), "wav")
    major = CONTAINERS[name][0]
    if subtype is None:
        st = kept_subtype(major, source[1] if source else None)
    else:
        st = str(subtype).upper()
        if st not in SUBTYPES:
            raise OptionError(f"Unknown subtype '{subtype}': choose {', '.join(SUBTYPES)}.")
        if st not in _HOLDS[major]:
            raise OptionError(f"{major} files cannot hold {LABELS[st]} samples ({st}); "
                              f"choose one of {', '.join(_HOLDS[major])}.")
    return OutputFormat(major, st)


def check_encoder(of: OutputFormat, sample_rate: int, channels: int, name: str = "the output") -> None:
    """One sentence (OptionError) when libsndfile cannot write ``of`` at this rate and channel
    count; call it before any work whose result would then be lost."""
    sr, ch = int(sample_rate), int(channels)
    f, st = of.format, of.subtype
    if st not in _HOLDS.get(f, ()):
        raise OptionError(f"{name}: {f} files cannot hold {LABELS.get(st, st)} samples ({st}).")
    alt = "a .wav or .flac file" if sr <= 655350 and ch <= 8 else "a .wav file"
    problem, pre = None, ""
    if f == "FLAC":
        if ch > 8:
            problem = f"FLAC holds at most 8 channels and the clip has {ch}"
        elif sr > 655350:
            problem = f"FLAC holds at most 655,350 Hz and the clip is at {sr:,} Hz"
        alt = "a .wav file"
    elif f == "OGG" and st == "VORBIS":
        if sr > 200000:
            problem = f"Ogg Vorbis holds at most 200,000 Hz and the clip is at {sr:,} Hz"
        elif ch > 255:
            problem = f"Ogg Vorbis holds at most 255 channels and the clip has {ch}"
    elif f == "OGG" and st == "OPUS":
        if sr not in OPUS_RATES:
            problem = f"Opus holds only {', '.join(f'{r:,}' for r in OPUS_RATES)} Hz and the clip is at {sr:,} Hz"
            pre = "choose --subtype vorbis or " if sr <= 200000 else ""
        elif ch > 255:
            problem = f"Opus holds at most 255 channels and the clip has {ch}"
    elif f in ("WAV", "AIFF") and ch > 1024:
        raise OptionError(f"{name}: {f} holds at most 1,024 channels and the clip has {ch}; no format written here can.")
    if problem:
        raise OptionError(f"{name}: {problem}; {pre}write {alt} instead.")
