"""Event bank: opensfx.cat parsing, licences, conditioning, curation, splits, manifest."""

import io
import json
import os
import struct

import numpy as np
import pytest
import soundfile as sf

from rfm_studio.core.data import bank as B
from rfm_studio.core.data import clips as C
from rfm_studio.core.data.licences import licence_for, parse_dep5
from rfm_studio.core.data.opensfx import parse_cat
from rfm_studio.core.errors import AudioReadError, OptionError

SR = 16000


def tone(freq, seconds, sr=SR, amp=0.3):
    t = np.arange(int(seconds * sr)) / sr
    env = np.minimum(1, np.minimum(t, t[-1] - t) / 0.02)
    return (amp * np.sin(2 * np.pi * freq * t) * env).astype(np.float32)


def burst(seconds, seed, sr=SR, amp=0.2):
    rng = np.random.default_rng(seed)
    x = amp * rng.standard_normal(int(seconds * sr))
    return (x * np.hanning(len(x))).astype(np.float32)


def wav_bytes(x, sr=22050):
    b = io.BytesIO()
    sf.write(b, x, sr, format="WAV", subtype="PCM_16")
    return b.getvalue()


def make_cat(entries):
    """entries: [(credit, wav bytes)] -> opensfx.cat bytes."""
    table = 8 * len(entries)
    body, offs = b"", []
    for credit, wav in entries:
        name = credit.encode() + b"\0"
        rec = bytes([len(name)]) + name + wav
        offs.append((table + len(body), len(rec)))
        body += rec
    head = b"".join(struct.pack("<II", o | 0x80000000, s) for o, s in offs)
    return head + body


def test_parse_synthetic_cat():
    cat = make_cat([
        ('"Cow". Original "moo.wav" by "x". License: Creative Commons Zero 1.0.', wav_bytes(tone(300, 1.0))),
        ('"Tropical: Bird (1)". By Someone. License: Creative Commons Attribution 3.0 Unported.', wav_bytes(tone(3000, 0.5))),
    ])
    entries = parse_cat(cat)
    assert [e.name for e in entries] == ["00_Cow.wav", "01_Tropical_Bird_1_.wav"]
    assert [e.licence for e in entries] == ["CC0-1.0", "CC-BY-3.0"]
    assert entries[0].originals == ("moo.wav",)
    x, sr = sf.read(io.BytesIO(entries[1].wav))
    assert sr == 22050 and len(x) == int(0.5 * SR)


def test_parse_cat_rejects_garbage():
    with pytest.raises(AudioReadError):
        parse_cat(b"\x00\x01\x02\x03\x04\x05\x06\x07\x08")
    with pytest.raises(AudioReadError):
        parse_cat(b"ab")


COPYRIGHT = """Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: fake

Files: *
Copyright: someone
License: GPL-2+

Files: Media/Sounds/Animal/*
       Media/Other/x.wav
Copyright: someone else
License: CC-BY-SA-3.0
 long text here

License: GPL-2+
 text
"""


def test_dep5_licence_lookup():
    assert len(parse_dep5(COPYRIGHT)) == 2
    # scratch maps usr/share/scratch/ -> upstream root
    assert licence_for("scratch", "usr/share/scratch/Media/Sounds/Animal/Dog1.wav", COPYRIGHT) == "CC-BY-SA-3.0"
    assert licence_for("scratch", "usr/share/scratch/Help/a.wav", COPYRIGHT) == "GPL-2+"
    assert licence_for("fakepkg", "usr/share/x.wav", "free text, not DEP-5") == "unknown"
    assert licence_for("wesnoth-1.16-data", "usr/share/x.ogg", None) == "GPL-2+"


def test_trim_and_normalise():
    x = np.concatenate([np.zeros(SR), tone(440, 1.0), np.zeros(SR)])
    y = C.trim_silence(x)
    assert 0.95 * SR < len(y) < 1.2 * SR
    z = C.normalise(y)
    assert abs(C.active_rms_db(z) - C.TARGET_ACTIVE_DBFS) < 0.5
    assert np.abs(z).max() <= C.PEAK_LIMIT + 1e-6


def _write(path, x, sr=SR):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x, sr)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("bankbuild")
    work = root / "work"
    pkg = work / "unpacked" / "fakepkg"
    (pkg / "usr/share/doc/fakepkg").mkdir(parents=True)
    (pkg / "usr/share/doc/fakepkg/copyright").write_text(COPYRIGHT.replace("Media/Sounds/Animal/*", "usr/share/fake/snd/beep*"))
    rows = ["class\tpackage\tduration_s\tpath"]
    for i in range(5):
        _write(pkg / f"usr/share/fake/snd/beep{i}.wav", tone(500 + 100 * i, 1.0), sr=22050)
        rows.append(f"beep\tfakepkg\t1.0\tfakepkg/usr/share/fake/snd/beep{i}.wav")
    for i in range(3):
        _write(pkg / f"usr/share/fake/hiss{i}.ogg", burst(1.5, i))
        rows.append(f"hiss\tfakepkg\t1.5\tfakepkg/usr/share/fake/hiss{i}.ogg")
    _write(pkg / "usr/share/fake/dup.wav", 0.5 * tone(500, 1.0), sr=22050)  # beep0 at another gain
    rows.append("beep\tfakepkg\t1.0\tfakepkg/usr/share/fake/dup.wav")
    _write(pkg / "usr/share/fake/silent.wav", np.zeros(SR, np.float32) + 1e-6)
    rows.append("hiss\tfakepkg\t1.0\tfakepkg/usr/share/fake/silent.wav")
    _write(pkg / "usr/share/fake/click.wav", tone(900, 0.1))
    rows.append("hiss\tfakepkg\t0.1\tfakepkg/usr/share/fake/click.wav")
    rows.append("hiss\tfakepkg\t0.1\tfakepkg/usr/share/fake/not_there.wav")
    _write(pkg / "usr/share/fake/bark.wav", tone(700, 0.15))             # sequence class: repeated
    rows.append("dog_bark\tfakepkg\t0.15\tfakepkg/usr/share/fake/bark.wav")
    sfx = work / "unpacked" / "openttd-opensfx"
    (sfx / "usr/share/doc/openttd-opensfx").mkdir(parents=True)
    (sfx / "usr/share/doc/openttd-opensfx/copyright").write_text(COPYRIGHT)
    cat = make_cat([
        ('"Wind". Original "wind1.wav" by "A". License: Creative Commons Attribution 3.0 Unported.', wav_bytes(burst(2, 7))),
        ('"Heavy wind". Original "wind1.wav" by "A". License: Creative Commons Attribution 3.0 Unported.', wav_bytes(burst(2, 8))),
    ])
    (sfx / B.OPENSFX_CAT).parent.mkdir(parents=True)
    (sfx / B.OPENSFX_CAT).write_bytes(cat)
    rows += ["wind\topenttd-opensfx\t2\topenttd-opensfx/00_Wind.wav", "hiss\topenttd-opensfx\t2\topenttd-opensfx/01_Heavy_wind.wav"]
    tsv = root / "list.tsv"
    tsv.write_text("\n".join(rows) + "\n")
    out = root / "bank"
    B.build_bank(tsv, out, work_dir=work, renders=False, asterisk=0, log=lambda *a: None)
    return tsv, work, out


def test_build_bank_manifest(built):
    _, _, out = built
    clips = B.load_manifest(out)
    by = {}
    for c in clips:
        by.setdefault(c.cls, []).append(c)
        x, sr = sf.read(str(out / c.path))
        assert sr == SR and x.ndim == 1 and abs(len(x) / SR - c.duration_s) < 1e-3
        assert np.abs(x).max() <= C.PEAK_LIMIT + 1e-4
        assert c.path == f"clips/{c.cls}/{c.id}.wav"
    assert len(by["beep"]) == 5 and len(by["hiss"]) == 4 and len(by["wind"]) == 1
    assert {c.licence for c in by["beep"]} == {"CC-BY-SA-3.0"}
    assert {c.licence for c in by["hiss"] if c.package == "fakepkg"} == {"GPL-2+"}
    assert by["wind"][0].licence == "CC-BY-3.0"
    assert "repeated" in by["dog_bark"][0].curation and by["dog_bark"][0].duration_s >= 0.3
    line = json.loads((out / "bank.jsonl").read_text().splitlines()[0])
    assert {"id", "class", "path", "duration_s", "package", "source_path", "licence", "split"} <= set(line)
    assert set(line["licence"]) == {"name", "file"}


def test_curation_log(built):
    _, _, out = built
    reasons = {json.loads(l)["source"].rsplit("/", 1)[-1]: json.loads(l)["reason"]
               for l in (out / "curation.jsonl").read_text().splitlines()}
    assert "near-silent" in reasons["silent.wav"]
    assert "too short" in reasons["click.wav"]
    assert "same recording" in reasons["dup.wav"]


def test_no_source_in_both_splits(built):
    _, _, out = built
    clips = B.load_manifest(out)
    split_of = {}
    for c in clips:
        assert split_of.setdefault(c.group, c.split) == c.split
        assert split_of.setdefault(c.source_path, c.split) == c.split
    # the two opensfx entries edited from the same original share one group
    winds = [c for c in clips if c.package == "openttd-opensfx"]
    assert len({c.group for c in winds}) == 1
    for cls in ("beep", "hiss"):
        assert any(c.split == "val" for c in clips if c.cls == cls)
        assert any(c.split == "train" for c in clips if c.cls == cls)


def test_split_is_deterministic(built, tmp_path):
    tsv, work, out = built
    B.build_bank(tsv, tmp_path / "again", work_dir=work, renders=False, asterisk=0, log=lambda *a: None)
    a = {(c.cls, c.id): c.split for c in B.load_manifest(out)}
    b = {(c.cls, c.id): c.split for c in B.load_manifest(tmp_path / "again")}
    assert a == b


def test_assign_splits_properties():
    items = [(f"c{k}", f"g{k}_{i}") for k in range(6) for i in range(k + 1)] + [("c5", "g4_0")]
    s1 = B.assign_splits(items, seed=3)
    assert s1 == B.assign_splits(list(reversed(items)), seed=3)
    for k in range(6):
        groups = {g for c, g in items if c == f"c{k}"}
        n_val = sum(s1[g] == "val" for g in groups)
        if len(groups) >= 3:
            assert 1 <= n_val <= max(1, round(0.15 * len(groups))) + 1
        assert n_val < len(groups) or len(groups) == 0
    big = [("c", f"g{i}") for i in range(200)]
    frac = sum(v == "val" for v in B.assign_splits(big).values()) / 200
    assert 0.13 <= frac <= 0.17


def test_manifest_errors(tmp_path):
    with pytest.raises(OptionError):
        B.load_manifest(tmp_path)
    (tmp_path / "bank.jsonl").write_text('{"id": "x"}\n')
    with pytest.raises(OptionError):
        B.load_manifest(tmp_path)
    with pytest.raises(OptionError):
        B.read_tsv(tmp_path / "missing.tsv")


def test_bank_files_read_as_utf8_whatever_the_locale(tmp_path):
    """bank.jsonl and curation.jsonl are written UTF-8 (atomic_write_text); they read back the same
    under an ASCII locale (a class or reason with an accent does not fail to decode)."""
    import subprocess
    import sys

    from rfm_studio.core.atomic import atomic_write_text

    row = {"id": "a", "class": "Café crowd", "path": "clips/a.flac", "duration_s": 1.0, "split": "train",
           "licence": {"name": "CC0 – public domain"}}
    atomic_write_text(tmp_path / "bank.jsonl", json.dumps(row, ensure_ascii=False) + "\n")
    atomic_write_text(tmp_path / "curation.jsonl", json.dumps({"id": "b", "reason": "trop forte é"},
                                                              ensure_ascii=False) + "\n")
    code = ("import sys; from rfm_studio.core.data.bank import load_manifest; "
            "from rfm_studio.core.data.bank_stats import bank_stats; "
            "assert sys.flags.utf8_mode == 0; "
            "c = load_manifest(sys.argv[1])[0]; s = bank_stats(sys.argv[1]); "
            "print(c.cls.encode('unicode_escape').decode(), s['clips'])")
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    r = subprocess.run([sys.executable, "-c", code, str(tmp_path)], env=env, capture_output=True, text=True,
                       encoding="utf-8")
    assert r.returncode == 0, r.stderr[-800:]
    assert r.stdout.split() == ["Caf\\xe9", "crowd", "1"]
