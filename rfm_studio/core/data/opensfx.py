"""Reader for OpenTTD's packed ``opensfx.cat`` sound archive.

Layout (see ../shared/data/README.md): the file starts with a table of
(uint32 LE offset | 0x80000000, uint32 LE size) pairs, one per entry; the first
offset also tells where the table ends. Each entry is a 1-byte name length, the
name (a NUL-terminated credit line such as ``"Cow". Original ... License: ...``),
then a RIFF WAV of the remaining bytes.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

from ..errors import AudioReadError

_LICENCE_NAMES = (
    ("creative commons zero", "CC0-1.0"),
    ("creative commons attribution-sharealike 3.0", "CC-BY-SA-3.0"),
    ("creative commons attribution share-alike 3.0", "CC-BY-SA-3.0"),
    ("creative commons attribution 3.0", "CC-BY-3.0"),
)


@dataclass(frozen=True)
class CatEntry:
    index: int
    title: str       # e.g. "Tropical: Bird (1)"
    credit: str      # the full name text (credits and licence)
    licence: str     # short name, e.g. "CC0-1.0", "" when not stated
    originals: tuple  # upstream source file names named in the credit
    wav: bytes       # a complete RIFF WAV file

    @property
    def name(self) -> str:
        """File-style name used in the event-bank TSV, e.g. ``66_Tropical_Bird_1_.wav``."""
        return f"{self.index:02d}_{re.sub(r'[^A-Za-z0-9]+', '_', self.title)}.wav"


def read_cat(path) -> list[CatEntry]:
    data = Path(path).read_bytes()
    return parse_cat(data, source=str(path))


def parse_cat(data: bytes, source: str = "opensfx.cat") -> list[CatEntry]:
    if len(data) < 8:
        raise AudioReadError(f"{Path(source).name} is too short to be a sound catalogue.")
    first, _ = struct.unpack_from("<II", data, 0)
    table_end = first & 0x7FFFFFFF
    if not first & 0x80000000 or table_end % 8 or table_end > len(data):
        raise AudioReadError(f"{Path(source).name} does not start with a valid sound table.")
    entries = []
    for i in range(table_end // 8):
        off, size = struct.unpack_from("<II", data, 8 * i)
        off &= 0x7FFFFFFF
        if off + size > len(data) or size < 1:
            raise AudioReadError(f"Entry {i} of {Path(source).name} points outside the file.")
        n = data[off]
        credit = data[off + 1: off + 1 + n].split(b"\0", 1)[0].decode("utf-8", "replace")
        wav = data[off + 1 + n: off + size]
        entries.append(CatEntry(i, _title(credit), credit, _licence(credit), _originals(credit), wav))
    return entries


def _title(credit: str) -> str:
    m = re.match(r'\s*"([^"]*)"', credit)
    return m.group(1) if m else credit.split(".")[0]


def _licence(credit: str) -> str:
    m = re.search(r"License:\s*(.*)", credit, flags=re.I)
    if not m:
        return ""
    text = m.group(1).lower()
    for key, short in _LICENCE_NAMES:
        if key in text:
            return short
    return m.group(1).strip().rstrip(".")


def _originals(credit: str) -> tuple:
    head = credit.split("License:")[0]
    m = re.search(r"Original\s+(.*?)(?:Edited|Cut|Mixed|$)", head)
    if not m:
        return ()
    return tuple(re.findall(r'"([^"]+\.\w{2,4})"', m.group(1)))
