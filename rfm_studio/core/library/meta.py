"""What a sound file says about itself, read from its own headers (no decoding of audio).

``read_meta(path)`` returns a :class:`FileMeta` with the length and format and every text tag
that describes the sound:
- WAV / RF64 / BWF: the RIFF chunks ``bext`` (description), ``iXML`` (NOTE, DESCRIPTION,
  FXNAME, KEYWORDS, CATEGORY..., USER lines ``KEY=value``), ``LIST/INFO`` (INAM, ICMT,
  IKEY, ISBJ, IGNR) and an embedded ``id3 `` chunk;
- AIFF / AIFC: NAME, ANNO, COMT and an embedded ``ID3 `` chunk;
- MP3: ID3v2 (2.2-2.4: TIT2, TIT1, TIT3, COMM, TXXX, TCON, TALB) and ID3v1;
- FLAC and Ogg (Vorbis, Opus): Vorbis comments (TITLE, DESCRIPTION, COMMENT, KEYWORDS, GENRE...).
Every reader stops at the first malformed structure and keeps what it found; a file whose
length cannot be read raises ``AudioReadError``.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import AudioReadError

AUDIO_EXTS = (".wav", ".wave", ".bwf", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".aifc")
MAX_TEXT = 2000  # characters kept of any one tag
# tag names (upper case, any format) that describe the sound; the rest (artist, encoder...) do not
DESCRIPTIVE = {
    "TITLE", "DESCRIPTION", "COMMENT", "KEYWORDS", "SUBJECT", "GENRE", "NOTE", "NOTES", "FXNAME",
    "CATEGORY", "SUBCATEGORY", "CATEGORYFULL", "CATID", "TRACKTITLE", "TRACK_TITLE", "USERCATEGORY",
    "VENDORCATEGORY", "ALBUM", "GROUPING", "SUBTITLE", "DESC",
}
GENERIC_GENRES = {"sound effects", "sound effect", "sfx", "other", "soundtrack", "effects", "(12)", "12"}


@dataclass
class FileMeta:
    duration: float = 0.0
    sample_rate: int = 0
    channels: int = 0
    tags: dict = field(default_factory=dict)  # upper-case tag name -> text (descriptive tags only)


def _text(b: bytes) -> str:
    b = b.split(b"\x00", 1)[0]
    for enc in ("utf-8", "cp1252", "latin-1"):
        try:
            s = b.decode(enc)
            break
        except UnicodeDecodeError:
            continue
    s = s.replace("\x00", " ").strip()
    return s[:MAX_TEXT]


def _put(tags: dict, key: str, value: str) -> None:
    key = key.strip().upper().replace(" ", "")
    value = (value or "").strip()
    if not value or key not in DESCRIPTIVE:
        return
    if key == "GENRE" and value.lower() in GENERIC_GENRES:
        return
    old = tags.get(key)
    if old and value.lower() not in old.lower():
        tags[key] = (old + "; " + value)[:MAX_TEXT]
    elif not old:
        tags[key] = value[:MAX_TEXT]


# ---------------------------------------------------------------- ID3

def _id3_str(enc: int, b: bytes) -> list[str]:
    """The strings of an ID3 text field (several when NUL-separated)."""
    if enc == 1 or enc == 2:
        codec = "utf-16" if enc == 1 else "utf-16-be"
        parts = re.split(b"(?:\x00\x00)(?=(?:..)*$)", b, flags=re.S) if len(b) % 2 == 0 else [b]
        out = []
        for p in parts:
            try:
                out.append(p.decode(codec, errors="replace").strip("\ufeff\x00 "))
            except Exception:
                continue
        return [s for s in out if s]
    codec = "utf-8" if enc == 3 else "latin-1"
    return [s.strip() for s in b.decode(codec, errors="replace").split("\x00") if s.strip()]


ID3_FRAMES = {
    "TIT2": "TITLE", "TT2": "TITLE", "TIT1": "GROUPING", "TT1": "GROUPING", "TIT3": "SUBTITLE", "TT3": "SUBTITLE",
    "TCON": "GENRE", "TCO": "GENRE", "TALB": "ALBUM", "TAL": "ALBUM",
}


def parse_id3v2(data: bytes, tags: dict) -> int:
    """Tags of an ID3v2 block at the start of ``data``; returns the block's length (0: none)."""
    if len(data) < 10 or data[:3] != b"ID3":
        return 0
    major, flags = data[3], data[5]
    size = (data[6] << 21) | (data[7] << 14) | (data[8] << 7) | data[9]
    body = data[10:10 + size]
    total = 10 + size + (10 if flags & 0x10 else 0)
    if flags & 0x80 and major < 4:
        body = body.replace(b"\xff\x00", b"\xff")
    pos = 0
    if flags & 0x40 and len(body) >= 4:  # extended header
        ext = struct.unpack(">I", body[:4])[0]
        if major >= 4:
            ext = (body[0] << 21) | (body[1] << 14) | (body[2] << 7) | body[3]
            pos = ext
        else:
            pos = ext + 4
    idlen, hlen = (3, 6) if major == 2 else (4, 10)
    while pos + hlen <= len(body):
        fid = body[pos:pos + idlen]
        if not fid.strip(b"\x00") or not re.fullmatch(rb"[A-Z0-9]+", fid):
            break
        if major == 2:
            fsize = int.from_bytes(body[pos + 3:pos + 6], "big")
        elif major >= 4:
            b4 = body[pos + 4:pos + 8]
            fsize = (b4[0] << 21) | (b4[1] << 14) | (b4[2] << 7) | b4[3]
        else:
            fsize = struct.unpack(">I", body[pos + 4:pos + 8])[0]
        frame = body[pos + hlen:pos + hlen + fsize]
        pos += hlen + fsize
        if not frame:
            continue
        name = fid.decode("ascii")
        enc, rest = frame[0], frame[1:]
        if name in ID3_FRAMES:
            for s in _id3_str(enc, rest):
                _put(tags, ID3_FRAMES[name], re.sub(r"^\((\d+)\)$", "", s))
        elif name in ("COMM", "COM"):
            strs = _id3_str(enc, rest[3:])
            # [short description, text] or only [text]; iTunes' technical comments are skipped
            if strs and not strs[0].lower().startswith("itun"):
                _put(tags, "COMMENT", strs[-1])
        elif name in ("TXXX", "TXX"):
            strs = _id3_str(enc, rest)
            if len(strs) >= 2:
                _put(tags, strs[0], strs[1])
    return total


def parse_id3v1(tail: bytes, tags: dict) -> None:
    if len(tail) == 128 and tail[:3] == b"TAG":
        _put(tags, "TITLE", tail[3:33].split(b"\x00")[0].decode("latin-1").strip())
        _put(tags, "COMMENT", tail[97:127].split(b"\x00")[0].decode("latin-1").strip())


# ---------------------------------------------------------------- Vorbis comments

def parse_vorbis_comment(b: bytes, tags: dict) -> None:
    try:
        n = struct.unpack("<I", b[:4])[0]
        pos = 4 + n
        count = struct.unpack("<I", b[pos:pos + 4])[0]
        pos += 4
        for _ in range(min(count, 10000)):
            ln = struct.unpack("<I", b[pos:pos + 4])[0]
            s = b[pos + 4:pos + 4 + ln].decode("utf-8", errors="replace")
            pos += 4 + ln
            if "=" in s:
                k, v = s.split("=", 1)
                _put(tags, k, v)
    except struct.error:
        return


def read_flac(f, tags: dict, meta: FileMeta) -> None:
    head = f.read(10)
    f.seek(0)
    skip = 0
    if head[:3] == b"ID3" and len(head) == 10:
        skip = parse_id3v2(f.read(10 + ((head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9])), tags)
    f.seek(skip)
    if f.read(4) != b"fLaC":
        return
    while True:
        h = f.read(4)
        if len(h) < 4:
            return
        last, kind, ln = h[0] & 0x80, h[0] & 0x7F, int.from_bytes(h[1:4], "big")
        block = f.read(ln)
        if kind == 0 and len(block) >= 18:  # STREAMINFO
            v = int.from_bytes(block[10:18], "big")
            sr = v >> 44
            ch = ((v >> 41) & 0x7) + 1
            total = v & ((1 << 36) - 1)
            meta.sample_rate, meta.channels = sr, ch
            if sr and total:
                meta.duration = total / sr
        elif kind == 4:
            parse_vorbis_comment(block, tags)
        if last:
            return


def read_ogg(f, tags: dict, meta: FileMeta) -> None:
    """Vorbis comments or OpusTags of the first logical stream (second packet)."""
    packets, cur, serial = [], b"", None
    while len(packets) < 2:
        h = f.read(27)
        if len(h) < 27 or h[:4] != b"OggS":
            break
        ser = struct.unpack("<I", h[14:18])[0]
        nseg = h[26]
        lacing = f.read(nseg)
        body = f.read(sum(lacing))
        if serial is None:
            serial = ser
        if ser != serial:
            continue
        pos = 0
        for lv in lacing:
            cur += body[pos:pos + lv]
            pos += lv
            if lv < 255:
                packets.append(cur)
                cur = b""
        if len(cur) > 4_000_000:
            break
    if packets and packets[0][:7] == b"\x01vorbis" and len(packets[0]) >= 16:
        meta.channels = packets[0][11]
        meta.sample_rate = struct.unpack("<I", packets[0][12:16])[0]
    elif packets and packets[0][:8] == b"OpusHead":
        meta.channels, meta.sample_rate = packets[0][9], 48000
    if len(packets) >= 2:
        p = packets[1]
        if p[:7] == b"\x03vorbis":
            parse_vorbis_comment(p[7:], tags)
        elif p[:8] == b"OpusTags":
            parse_vorbis_comment(p[8:], tags)


# ---------------------------------------------------------------- RIFF / AIFF

IXML_USER = re.compile(r"^\s*([A-Za-z_ ]+?)\s*[=:]\s*(.+?)\s*$", re.M)


def parse_ixml(b: bytes, tags: dict) -> None:
    import xml.etree.ElementTree as ET

    try:
        root = ET.fromstring(b.rstrip(b"\x00 \r\n\t"))
    except ET.ParseError:
        return
    for el in root.iter():
        name = el.tag.split("}")[-1].upper() if isinstance(el.tag, str) else ""
        text = (el.text or "").strip()
        if not text:
            continue
        if name == "USER":  # free text, often "DESCRIPTION=...\nKEYWORDS=..." (Soundminer, UCS tools)
            for k, v in IXML_USER.findall(text):
                _put(tags, k, v)
        else:
            _put(tags, name, text)


def parse_info(b: bytes, tags: dict) -> None:
    names = {"INAM": "TITLE", "ICMT": "COMMENT", "IKEY": "KEYWORDS", "ISBJ": "SUBJECT", "IGNR": "GENRE"}
    pos = 4
    while pos + 8 <= len(b):
        cid, ln = b[pos:pos + 4], struct.unpack("<I", b[pos + 4:pos + 8])[0]
        val = b[pos + 8:pos + 8 + ln]
        pos += 8 + ln + (ln & 1)
        key = names.get(cid.decode("latin-1"))
        if key:
            _put(tags, key, _text(val))


def _chunks(f, size: int, end: str):
    """(position, id, length) of each chunk of a RIFF/RIFX/AIFF file after its 12-byte header,
    with the file positioned at the chunk's data; ``end`` is the struct byte order."""
    pos = 12
    while pos + 8 <= size:
        f.seek(pos)
        h = f.read(8)
        if len(h) < 8:
            return
        ln = struct.unpack(end + "I", h[4:8])[0]
        yield pos, h[:4], ln
        pos += 8 + ln + (ln & 1)


def read_riff(f, tags: dict, meta: FileMeta, size: int) -> None:
    head = f.read(12)
    big = head[:4] == b"RIFX"
    end = "<" if not big else ">"
    ds64_data = None
    data_len = None
    for pos, cid, ln in _chunks(f, size, end):
        if cid == b"data":
            if ln == 0xFFFFFFFF and ds64_data is not None:
                ln = ds64_data
            data_len = min(ln, size - pos - 8)
        elif cid == b"ds64":
            d = f.read(min(ln, 64))
            if len(d) >= 16:
                ds64_data = struct.unpack("<Q", d[8:16])[0]
        elif cid == b"fmt ":
            d = f.read(min(ln, 64))
            if len(d) >= 16:
                fmt, ch, sr, _, align = struct.unpack(end + "HHIIH", d[:14])
                meta.channels, meta.sample_rate = ch, sr
                meta._align = align  # type: ignore[attr-defined]
        elif cid == b"bext":
            d = f.read(min(ln, 602))
            _put(tags, "DESCRIPTION", _text(d[:256]))
        elif cid == b"iXML" and ln < 4_000_000:
            parse_ixml(f.read(ln), tags)
        elif cid == b"LIST" and ln < 4_000_000:
            d = f.read(ln)
            if d[:4] == b"INFO":
                parse_info(d, tags)
        elif cid in (b"id3 ", b"ID3 ") and ln < 4_000_000:
            parse_id3v2(f.read(ln), tags)
    align = getattr(meta, "_align", 0)
    if data_len is not None and align and meta.sample_rate:
        meta.duration = data_len / align / meta.sample_rate


def _ieee_extended(b: bytes) -> float:
    exp = ((b[0] & 0x7F) << 8) | b[1]
    mant = int.from_bytes(b[2:10], "big")
    if exp == 0 and mant == 0:
        return 0.0
    return mant * 2.0 ** (exp - 16383 - 63)


def read_aiff(f, tags: dict, meta: FileMeta, size: int) -> None:
    for _pos, cid, ln in _chunks(f, size, ">"):
        if cid == b"COMM":
            d = f.read(18)
            if len(d) >= 18:
                ch, frames = struct.unpack(">hI", d[:6])
                sr = _ieee_extended(d[8:18])
                meta.channels, meta.sample_rate = ch, int(round(sr))
                meta.duration = frames / sr if sr else 0.0
        elif cid in (b"NAME", b"ANNO"):
            _put(tags, "TITLE" if cid == b"NAME" else "COMMENT", _text(f.read(min(ln, 8192))))
        elif cid == b"COMT":
            d = f.read(min(ln, 65536))
            n = struct.unpack(">H", d[:2])[0] if len(d) >= 2 else 0
            p = 2
            for _ in range(n):
                if p + 8 > len(d):
                    break
                cl = struct.unpack(">H", d[p + 6:p + 8])[0]
                _put(tags, "COMMENT", _text(d[p + 8:p + 8 + cl]))
                p += 8 + cl + (cl & 1)
        elif cid == b"ID3 " and ln < 4_000_000:
            parse_id3v2(f.read(ln), tags)


def read_meta(path) -> FileMeta:
    """Length, format and descriptive tags of one audio file."""
    p = Path(path)
    meta = FileMeta()
    tags: dict = {}
    try:
        size = p.stat().st_size
        with open(p, "rb") as f:
            head = f.read(12)
            f.seek(0)
            if head[:4] in (b"RIFF", b"RF64", b"RIFX") and head[8:12] == b"WAVE":
                read_riff(f, tags, meta, size)
            elif head[:4] == b"FORM" and head[8:12] in (b"AIFF", b"AIFC"):
                read_aiff(f, tags, meta, size)
            elif head[:4] == b"fLaC" or (head[:3] == b"ID3" and p.suffix.lower() == ".flac"):
                read_flac(f, tags, meta)
            elif head[:4] == b"OggS":
                read_ogg(f, tags, meta)
            elif head[:3] == b"ID3" or p.suffix.lower() == ".mp3":
                if head[:3] == b"ID3":
                    n = (head[6] << 21) | (head[7] << 14) | (head[8] << 7) | head[9]
                    parse_id3v2(f.read(10 + n), tags)
                if size >= 128:
                    f.seek(size - 128)
                    parse_id3v1(f.read(128), tags)
    except OSError as exc:
        raise AudioReadError(f"Cannot read {p.name}: {exc.strerror or exc}.") from None
    except (struct.error, IndexError, ValueError):
        pass  # a malformed header: keep what was read
    if meta.duration <= 0 or not meta.sample_rate:
        # formats without a cheap length in their headers (MP3, Ogg), or headers we could not read
        import soundfile as sf

        try:
            info = sf.info(str(p))
        except Exception:
            raise AudioReadError(f"{p.name} is not a readable audio file.") from None
        meta.duration, meta.sample_rate, meta.channels = float(info.duration), int(info.samplerate), int(info.channels)
    if hasattr(meta, "_align"):
        del meta._align
    meta.tags = tags
    return meta
