"""Sound library tag readers: real bext / iXML / INFO, ID3, Vorbis comment and AIFF chunks
written into temp files with odd and unicode names; UCS names; descriptions."""

import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rfm_studio.core.library.describe import describe, name_words, parse_ucs
from rfm_studio.core.library.meta import read_meta

SR = 16000


def noise(sec=0.5, seed=0):
    return (0.1 * np.random.default_rng(seed).standard_normal(int(sec * SR))).astype(np.float32)


def chunk(cid: bytes, data: bytes) -> bytes:
    return cid + struct.pack("<I", len(data)) + data + (b"\x00" if len(data) & 1 else b"")


def bwf(path: Path, description: str, ixml: str | None = None, info: dict | None = None, sec=0.5):
    """A BWF file written byte by byte: fmt, bext, iXML, LIST/INFO, data."""
    x = (noise(sec) * 32767).astype("<i2").tobytes()
    fmt = struct.pack("<HHIIHH", 1, 1, SR, SR * 2, 2, 16)
    bext = description.encode("utf-8")[:256].ljust(256, b"\x00") + b"\x00" * (602 - 256)
    body = b"WAVE" + chunk(b"fmt ", fmt) + chunk(b"bext", bext)
    if ixml:
        body += chunk(b"iXML", ixml.encode("utf-8"))
    if info:
        sub = b"INFO" + b"".join(chunk(k.encode(), v.encode("utf-8") + b"\x00") for k, v in info.items())
        body += chunk(b"LIST", sub)
    body += chunk(b"data", x)
    path.write_bytes(b"RIFF" + struct.pack("<I", len(body)) + body)


def id3v23(frames: dict) -> bytes:
    out = b""
    for fid, payload in frames:
        out += fid.encode() + struct.pack(">I", len(payload)) + b"\x00\x00" + payload
    n = len(out)
    size = bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])
    return b"ID3\x03\x00\x00" + size + out


def test_bwf_bext_ixml_and_info_with_a_unicode_name(tmp_path):
    p = tmp_path / "Hund bellt – Ä 🐕 (take 3).wav"
    ixml = ("<?xml version='1.0' encoding='UTF-8'?><BWFXML><NOTE>close mic, gravel yard</NOTE>"
            "<USER>DESCRIPTION=Large dog barking twice\nKEYWORDS=dog, bark, canine\nCATEGORY=ANIMALS</USER></BWFXML>")
    bwf(p, "Dog barks twice, distant traffic", ixml, {"INAM": "Guard dog", "ICMT": "recorded in Lyon"}, sec=0.75)
    m = read_meta(p)
    assert m.sample_rate == SR and m.channels == 1 and abs(m.duration - 0.75) < 1e-3
    assert m.tags["DESCRIPTION"].startswith("Dog barks twice, distant traffic")
    assert "Large dog barking twice" in m.tags["DESCRIPTION"]
    assert m.tags["NOTE"] == "close mic, gravel yard" and m.tags["KEYWORDS"] == "dog, bark, canine"
    assert m.tags["TITLE"] == "Guard dog" and m.tags["COMMENT"] == "recorded in Lyon"
    desc, search = describe(p, m, tmp_path)
    assert "Dog barks twice" in desc and "canine" in search and "Hund bellt" in search


def test_mp3_id3v2_utf16_comment_txxx_and_id3v1(tmp_path):
    p = tmp_path / "ÉCHO_été.mp3"
    sf.write(p, noise(1.0), SR, format="MP3")
    title = b"\x01" + "Thunder rumble – far".encode("utf-16")
    comm = b"\x03eng" + b"\x00" + "Rolling thunder over hills".encode("utf-8")
    txxx = b"\x03" + b"KEYWORDS\x00storm, weather"
    audio = p.read_bytes()
    v1 = b"TAG" + b"Old title".ljust(30, b"\x00") + b"\x00" * 64 + b"v1 comment".ljust(30, b"\x00") + b"\x00"
    p.write_bytes(id3v23([("TIT2", title), ("COMM", comm), ("TXXX", txxx)]) + audio + v1)
    m = read_meta(p)
    assert m.tags["TITLE"].startswith("Thunder rumble – far") and "Old title" in m.tags["TITLE"]
    assert "Rolling thunder over hills" in m.tags["COMMENT"] and m.tags["KEYWORDS"] == "storm, weather"
    assert 0.9 < m.duration < 1.2 and m.sample_rate == SR


@pytest.mark.parametrize("fmt,ext", [("FLAC", ".flac"), ("OGG", ".ogg")])
def test_vorbis_comments_in_flac_and_ogg(tmp_path, fmt, ext):
    p = tmp_path / f"rain;  on a tin roof [v2]{ext}"
    with sf.SoundFile(str(p), "w", SR, 1, format=fmt) as f:
        f.title = "Rain on tin roof"
        f.comment = "steady rain, no thunder — ünïcödé"
        f.genre = "Sound Effects"  # generic: not part of the description
        f.write(noise(0.6))
    m = read_meta(p)
    assert m.tags["TITLE"] == "Rain on tin roof" and "ünïcödé" in m.tags["COMMENT"]
    assert "GENRE" not in m.tags
    assert m.sample_rate == SR and abs(m.duration - 0.6) < 0.01


def test_aiff_name_and_annotation_chunks(tmp_path):
    p = tmp_path / "bell.aiff"
    sf.write(p, noise(0.4), SR, format="AIFF", subtype="PCM_16")
    raw = bytearray(p.read_bytes())
    extra = b"NAME" + struct.pack(">I", 12) + b"Church bell\x00" + b"ANNO" + struct.pack(">I", 7) + b"tolling\x00"
    raw += extra
    raw[4:8] = struct.pack(">I", len(raw) - 8)
    p.write_bytes(bytes(raw))
    m = read_meta(p)
    assert m.tags["TITLE"] == "Church bell" and m.tags["COMMENT"] == "tolling"
    assert abs(m.duration - 0.4) < 0.01


def test_ucs_names_map_catids_to_words(tmp_path):
    assert parse_ucs("ANMLDog_Small Dog Barking_JD_Farm") == ("animals, dog", "Small Dog Barking")
    assert parse_ucs("RAINMetl_Rain On Car Roof_TN_UCS")[0] == "rain, metal"
    assert parse_ucs("DOORWood-Ext_Slam_TN_Lib")[0] == "doors, wood"
    assert parse_ucs("dog_bark_01") is None
    p = tmp_path / "BIRDSong_Robin Dawn Chorus_AB_Garden.wav"
    sf.write(p, noise(0.3), SR)
    desc, _ = describe(p, read_meta(p))
    assert desc.startswith("birds, songbird: Robin Dawn Chorus")
    assert name_words("DogBark_03-close") == "Dog Bark close"


def test_unreadable_and_truncated_files(tmp_path):
    from rfm_studio.core.errors import AudioReadError

    bad = tmp_path / "not audio.wav"
    bad.write_bytes(b"hello world, not a RIFF file")
    with pytest.raises(AudioReadError):
        read_meta(bad)
    p = tmp_path / "cut.wav"
    bwf(p, "Glass breaking")
    p.write_bytes(p.read_bytes()[:700])  # cut inside the data chunk: length from what is there
    m = read_meta(p)
    assert m.tags["DESCRIPTION"] == "Glass breaking" and m.duration >= 0
