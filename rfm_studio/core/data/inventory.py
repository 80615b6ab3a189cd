"""Audio files inside unpacked Debian packages, including members of zip archives.

Games often pack their sounds in zip files (Quake-style ``.pk3``, Warzone's ``.wz``,
plain ``data.zip``). A member is addressed as ``<path of the archive>#<member>``,
e.g. ``usr/share/games/openarena/baseoa/pak0.pk3#sound/world/fire1.wav``.
"""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

from ..errors import AudioReadError

AUDIO_EXT = (".wav", ".ogg", ".flac", ".mp3", ".oga", ".opus", ".aif", ".aiff")
ARCHIVE_EXT = (".zip", ".pk3", ".wz", ".pk4")
MEMBER_SEP = "#"


def audio_paths(root) -> list[str]:
    """Paths (relative to ``root``) of the audio files and archive members of a package."""
    root = Path(root)
    out = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            p = Path(dirpath) / name
            rel = str(p.relative_to(root))
            low = name.lower()
            if low.endswith(AUDIO_EXT):
                out.append(rel)
            elif low.endswith(ARCHIVE_EXT) and zipfile.is_zipfile(p):
                try:
                    with zipfile.ZipFile(p) as z:
                        out += [f"{rel}{MEMBER_SEP}{m}" for m in z.namelist() if m.lower().endswith(AUDIO_EXT)]
                except (zipfile.BadZipFile, OSError):
                    continue
    return sorted(out)


def read_bytes(root, inner: str) -> bytes:
    """Bytes of ``inner`` (a plain path or ``archive#member``) inside ``root``."""
    root = Path(root)
    if MEMBER_SEP in inner:
        arc, member = inner.split(MEMBER_SEP, 1)
        try:
            with zipfile.ZipFile(root / arc) as z:
                return z.read(member)
        except (KeyError, zipfile.BadZipFile, OSError) as exc:
            raise AudioReadError(f"Cannot read {member} from {Path(arc).name} ({exc}).") from None
    return (root / inner).read_bytes()


def exists(root, inner: str) -> bool:
    root = Path(root)
    if MEMBER_SEP in inner:
        arc, member = inner.split(MEMBER_SEP, 1)
        if not (root / arc).is_file():
            return False
        try:
            with zipfile.ZipFile(root / arc) as z:
                z.getinfo(member)
            return True
        except (KeyError, zipfile.BadZipFile, OSError):
            return False
    return (root / inner).is_file()


def decode(data: bytes, name: str):
    """(float32 samples [n, ch], sample rate) of an encoded file's bytes."""
    import soundfile as sf

    try:
        return sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as exc:
        raise AudioReadError(f"Cannot decode {name} ({str(exc)[:120]}).") from None
