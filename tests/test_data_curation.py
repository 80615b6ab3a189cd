"""Automatic curation of the event bank: silence, clipping, fingerprint duplicates, label check."""

import json

import numpy as np
import pytest
import soundfile as sf

from rfm_studio.core.audio.io import resample
from rfm_studio.core.data import bank as B
from rfm_studio.core.data import curation as K

SR = 16000


def event(seed, seconds=2.0, sr=SR, lo=200.0):
    """A non-stationary synthetic event: a few chirps and clicks over faint noise."""
    r = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n) / sr
    x = np.zeros(n)
    for _ in range(6):
        f0, on, d = r.uniform(lo, 3000), r.uniform(0, seconds - 0.4), r.uniform(0.1, 0.4)
        m = (t >= on) & (t < on + d)
        x[m] += np.sin(2 * np.pi * (f0 * t[m] + r.uniform(-500, 500) * t[m] ** 2)) * r.uniform(0.2, 1)
    x += 0.02 * r.standard_normal(n)
    return (0.3 * x / np.abs(x).max()).astype(np.float32)


def test_clipping_measures_flat_runs_at_the_peak():
    x = event(1)
    assert K.clipping(x) == 0.0
    hard = np.clip(4 * x, -0.5, 0.5)            # clipped, then stored at a lower level
    assert K.clipping(hard) > 0.05
    assert K.clipping(0.3 * hard) == pytest.approx(K.clipping(hard))
    assert K.clipping(np.zeros(100, np.float32)) == 0.0


def test_fingerprint_finds_the_same_recording_under_gain_resampling_and_a_cut():
    fp = K.Fingerprints()
    for s in range(40):
        _, m = fp.add(event(s), SR)
        assert m is None, f"false match for event {s}: {m}"
    x = event(7)
    for y, sr in ((0.1 * x, SR), (resample(x, SR, 22050), 22050), (resample(x, SR, 11025), 11025),
                  (x[int(0.5 * SR):int(1.7 * SR)], SR)):
        m = fp.query(y, sr)
        assert m is not None and m.other == 7
    assert fp.query(event(999), SR) is None


def test_label_check_flags_a_planted_mislabel():
    rng = np.random.default_rng(0)
    feats, labels, groups = [], [], []
    n = int(1.0 * SR)
    t = np.arange(n) / SR
    kinds = {
        "low_hum": lambda: np.sin(2 * np.pi * rng.uniform(80, 160) * t) + 0.01 * rng.standard_normal(n),
        "whistle": lambda: np.sin(2 * np.pi * rng.uniform(2500, 3500) * t) + 0.01 * rng.standard_normal(n),
        "hiss": lambda: rng.standard_normal(n) * np.hanning(n),
    }
    for cls, make in kinds.items():
        for i in range(10):
            feats.append(K.clip_features(make().astype(np.float32)))
            labels.append(cls)
            groups.append(f"{cls}{i}")
    feats.append(K.clip_features(kinds["whistle"]().astype(np.float32)))   # a whistle labelled as hum
    labels.append("low_hum")
    groups.append("planted")
    flags, acc = K.label_check(np.stack(feats), labels, groups)
    assert [(f.index, f.predicted) for f in flags] == [(len(labels) - 1, "whistle")]
    assert acc > 0.9


def _write(path, x, sr=SR):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), x, sr)


def test_build_bank_drops_clipped_duplicates_and_mislabels(tmp_path):
    work = tmp_path / "work"
    pkg = work / "unpacked" / "fakepkg"
    (pkg / "usr/share/doc/fakepkg").mkdir(parents=True)
    (pkg / "usr/share/doc/fakepkg/copyright").write_text(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\nFiles: *\nLicense: GPL-2+\n")
    rows = ["class\tpackage\tpath"]
    rng = np.random.default_rng(3)
    n = SR
    t = np.arange(n) / SR
    env = np.hanning(n)
    for i in range(8):
        _write(pkg / f"snd/hum{i}.wav", (0.3 * np.sin(2 * np.pi * rng.uniform(80, 160) * t) * env).astype(np.float32))
        _write(pkg / f"snd/hiss{i}.wav", (0.2 * rng.standard_normal(n) * env).astype(np.float32))
        rows += [f"hum\tfakepkg\tfakepkg/snd/hum{i}.wav", f"hiss\tfakepkg\tfakepkg/snd/hiss{i}.wav"]
    for i in range(8):
        _write(pkg / f"snd/ev{i}.wav", event(100 + i, lo=1000))
        rows.append(f"chirps\tfakepkg\tfakepkg/snd/ev{i}.wav")
    # the same recording under another name, cut, quieter and at another sample rate
    _write(pkg / "other/copy_of_ev3.wav", resample(0.4 * event(103, lo=1000)[int(0.3 * SR):], SR, 22050), sr=22050)
    rows.append("chirps\tfakepkg\tfakepkg/other/copy_of_ev3.wav")
    _write(pkg / "snd/clipped.wav", np.clip(10 * event(50), -0.99, 0.99))
    rows.append("chirps\tfakepkg\tfakepkg/snd/clipped.wav")
    _write(pkg / "snd/quiet.wav", 1e-4 * event(51))
    rows.append("chirps\tfakepkg\tfakepkg/snd/quiet.wav")
    _write(pkg / "snd/not_a_hum.wav", (0.2 * rng.standard_normal(n) * env).astype(np.float32))  # hiss labelled hum
    rows.append("hum\tfakepkg\tfakepkg/snd/not_a_hum.wav")
    tsv = tmp_path / "list.tsv"
    tsv.write_text("\n".join(rows) + "\n")
    out = tmp_path / "bank"
    B.build_bank(tsv, out, work_dir=work, renders=False, asterisk=0, log=lambda *a: None)
    reasons = {json.loads(l)["source"].rsplit("/", 1)[-1]: json.loads(l)["reason"]
               for l in (out / "curation.jsonl").read_text().splitlines()}
    assert "same recording as fakepkg/snd/ev3.wav" in reasons["copy_of_ev3.wav"]
    assert "fingerprint" in reasons["copy_of_ev3.wav"]
    assert "clipped" in reasons["clipped.wav"]
    assert "near-silent" in reasons["quiet.wav"]
    assert "label check" in reasons["not_a_hum.wav"] and "hiss" in reasons["not_a_hum.wav"]
    assert len(reasons) == 4, "\n".join(f"{k}: {v}" for k, v in reasons.items())
    kept = B.load_manifest(out)
    assert len(kept) == 24 and all(c.licence == "GPL-2+" and c.package == "fakepkg" for c in kept)
    report = json.loads((out / "label_check.json").read_text())
    assert report["checked"] == 25 and len(report["flags"]) == 1
