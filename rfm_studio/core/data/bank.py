"""The sound-event bank: fetch, condition, curate, split and index labelled clips.

``build_bank(tsv, out_dir)`` writes ``<out>/clips/<class>/<id>.wav`` (16 kHz mono
float WAV, levels normalised, see clips.py), ``<out>/bank.jsonl`` (one clip per
line) and ``<out>/curation.jsonl`` (every dropped candidate with its reason).

Split rule: whole source groups go to 'train' or 'val'. A group is one source
file, or several bank entries that share an upstream recording (identical audio,
or opensfx entries edited from the same original). Per class, about 15 % of the
groups (at least one when the class has >= 3 groups) go to val, chosen by a
seeded hash, so the split is deterministic and a val file never reaches training.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_text
from ..audio.io import resample, save_audio, to_mono
from ..errors import AudioReadError, OptionError
from . import clips as C
from . import curation as K
from . import inventory as INV
from .fetch import fetch
from .licences import copyright_path, licence_for, read_copyright
from .opensfx import read_cat

OPENSFX_CAT = "usr/share/games/openttd/baseset/opensfx/opensfx.cat"
ASTERISK_PKG = "asterisk-core-sounds-en-wav"
ASTERISK_DIR = "usr/share/asterisk/sounds/en_US_f_Allison"
VAL_FRACTION = 0.15
MAX_CLIPPED = 0.01   # share of source samples in flat runs at the peak above which a clip is dropped
# classes where one very short hit is turned into a natural run of hits
SEQUENCE_CLASSES = {"dog_bark", "footsteps", "duck_quack", "goose_honk", "crickets_insects", "door", "hammering",
                    # event bank v2: single short hits of percussion and impacts
                    "kick_drum", "snare_drum", "hihat", "hand_clap", "cowbell", "shaker", "tom_drum", "tabla",
                    "woodblock", "triangle", "clock_tick", "pickaxe_rock", "wood_chop", "punch", "bow_arrow",
                    "sword_clash", "laser_zap", "water_drip", "coins", "typing", "metal_clang", "digging"}
SEQUENCE_BELOW_S = 0.6
# manual curation, decided from per-clip stats and spectrogram sheets of every kept clip;
# each drop is logged with its reason in <out>/curation.jsonl
MANUAL_DROPS = {
    "openttd-opensfx/26_Truck_old_bus_start_pull_away_with_horn.wav":
        "mostly a truck pulling away (same recording as 25_Truck_old_bus...), the horn is a short part: ambiguous for car_horn",
    "lincity-ng-data/usr/share/games/lincity-ng/sounds/Water1.wav":
        "spectrogram shows steady harmonic tones over the noise (a machine or fountain, not a plain stream)",
    "lincity-ng-data/usr/share/games/lincity-ng/sounds/Water2.wav":
        "spectrogram shows chirp-like frequency sweeps (birds?) over the water: would blur bird_chirp",
    "lincity-ng-data/usr/share/games/lincity-ng/sounds/Water3.wav":
        "periodic tonal pulses (pump-like), not a water stream",
    "lincity-ng-data/usr/share/games/lincity-ng/sounds/RailTrain1.wav":
        "regular tonal grid that looks like a crossing bell or horn pattern, ambiguous between train and train_horn_or_crossing",
    "sonic-pi-samples/usr/share/sonic-pi/samples/ambi_piano.flac":
        "ambient pad with almost all energy below 200 Hz (spectral centroid 62 Hz): does not read as a piano",
}


@dataclass
class Candidate:
    cls: str
    package: str
    source_path: str          # path inside the unpacked package (or render description)
    licence: str
    copyright: str            # copyright file path inside the package
    group: str                # split unit
    load: object              # () -> (audio float32 [n] or [n, ch], sr)
    stem: str
    notes: list = field(default_factory=list)


@dataclass
class BankClip:
    id: str
    cls: str
    path: str
    duration_s: float
    package: str
    source_path: str
    licence: str
    copyright: str
    split: str
    group: str
    curation: str
    stats: dict

    def to_json(self) -> dict:
        return {"id": self.id, "class": self.cls, "path": self.path, "duration_s": self.duration_s,
                "package": self.package, "source_path": self.source_path,
                "licence": {"name": self.licence, "file": self.copyright},
                "split": self.split, "group": self.group, "curation": self.curation, "stats": self.stats}


# ------------------------------------------------------------------ reading
def read_tsv(tsv) -> list[dict]:
    p = Path(tsv)
    if not p.is_file():
        raise OptionError(f"Event-bank list not found: {p}")
    with p.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    need = {"class", "package", "path"}
    if not rows or not need <= set(rows[0]):
        raise OptionError(f"{p.name} must be a TSV with columns class, package and path.")
    return rows


def load_manifest(bank_dir) -> list[BankClip]:
    p = Path(bank_dir) / "bank.jsonl"
    if not p.is_file():
        raise OptionError(f"No bank manifest at {p}; build one with 'rfm-studio data bank --out DIR'.")
    out = []
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            d = json.loads(line)
            lic = d.get("licence") or {}
            out.append(BankClip(d["id"], d["class"], d["path"], float(d["duration_s"]), d.get("package", ""),
                                d.get("source_path", ""), lic.get("name", "unknown"), lic.get("file", ""),
                                d["split"], d.get("group", d["id"]), d.get("curation", ""), d.get("stats", {})))
        except (ValueError, KeyError, TypeError) as exc:
            raise OptionError(f"Line {n} of {p.name} is not a valid bank entry ({exc}).") from None
    return out


# ------------------------------------------------------------------ candidates
def _file_loader(path: Path):
    def load():
        import soundfile as sf
        try:
            return sf.read(str(path), dtype="float32", always_2d=True)
        except Exception as exc:
            raise AudioReadError(f"Cannot decode {path.name} ({str(exc)[:120]}).") from None
    return load


def _bytes_loader(data: bytes, name: str):
    def load():
        import soundfile as sf
        try:
            return sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
        except Exception as exc:
            raise AudioReadError(f"Cannot decode {name} ({str(exc)[:120]}).") from None
    return load


def _member_loader(root: Path, inner: str):
    def load():
        return INV.decode(INV.read_bytes(root, inner), inner.rsplit("/", 1)[-1])
    return load


def _stem(package: str, inner: str) -> str:
    parts = Path(inner).with_suffix("").parts[-2:]
    short = re.sub(r"[^a-z0-9]+", "", package.split("-")[0].lower())[:10]
    return re.sub(r"[^A-Za-z0-9]+", "_", f"{short}_{'_'.join(parts)}").strip("_").lower()


def tsv_candidates(rows, work: Path, log) -> list[Candidate]:
    out, roots, cats = [], {}, {}
    for r in rows:
        pkg = r["package"]
        if pkg not in roots:
            log(f"fetching {pkg}")
            roots[pkg] = fetch(pkg, work)
        root = roots[pkg]
        cr = read_copyright(root)
        inner = r["path"].split("/", 1)[1] if r["path"].startswith(pkg + "/") else r["path"]
        if pkg == "openttd-opensfx" and not inner.startswith("usr/"):
            if pkg not in cats:
                cats[pkg] = {e.name: e for e in read_cat(root / OPENSFX_CAT)}
            e = cats[pkg].get(inner)
            if e is None:
                log(f"skip {r['path']}: no such entry in opensfx.cat")
                continue
            group = "opensfx:" + (e.originals[0] if e.originals else e.name)
            out.append(Candidate(r["class"], pkg, f"{OPENSFX_CAT}#{e.index}:{e.name}",
                                 e.licence or licence_for(pkg, "opensfx/" + inner, cr), copyright_path(pkg),
                                 group, _bytes_loader(e.wav, e.name), _stem(pkg, inner), [f"credit: {e.credit}"]))
            continue
        if INV.MEMBER_SEP in inner:   # a member of a zip archive (pk3, wz, zip)
            if not INV.exists(root, inner):
                log(f"skip {r['path']}: not in the package")
                continue
            arc, member = inner.split(INV.MEMBER_SEP, 1)
            out.append(Candidate(r["class"], pkg, inner, licence_for(pkg, arc, cr), copyright_path(pkg),
                                 f"{pkg}/{inner}", _member_loader(root, inner), _stem(pkg, member)))
            continue
        f = root / inner
        if not f.is_file():
            log(f"skip {r['path']}: not in the package")
            continue
        out.append(Candidate(r["class"], pkg, inner, licence_for(pkg, inner, cr), copyright_path(pkg),
                             f"{pkg}/{inner}", _file_loader(f), _stem(pkg, inner)))
    return out


def asterisk_candidates(work: Path, n: int, log, seed: int = 0) -> list[Candidate]:
    import soundfile as sf
    log(f"fetching {ASTERISK_PKG}")
    root = fetch(ASTERISK_PKG, work)
    cr = read_copyright(root)
    files = sorted((root / ASTERISK_DIR).glob("*.wav"))
    # prompts of 1.5-5 s, picked by a seeded hash so the choice is stable
    usable = [f for f in files if 1.5 <= sf.info(str(f)).duration <= 5.0]
    usable.sort(key=lambda f: hashlib.sha1(f"{seed}:{f.name}".encode()).hexdigest())
    out = []
    for f in usable[:n]:
        inner = str(f.relative_to(root))
        out.append(Candidate("speech", ASTERISK_PKG, inner, licence_for(ASTERISK_PKG, inner, cr),
                             copyright_path(ASTERISK_PKG), f"{ASTERISK_PKG}/{inner}", _file_loader(f),
                             _stem("asterisk", inner)))
    return out


def render_candidates(work: Path, log, seed: int = 0) -> list[Candidate]:
    from .renders import espeak_renders, gm_renders
    log("rendering General MIDI and espeak-ng sources")
    out = []
    for r in gm_renders(work / "renders" / "gm", seed) + espeak_renders(work / "renders" / "speech", seed):
        out.append(Candidate(r.cls, r.package, r.source_path, r.licence, r.copyright, f"render:{r.name}",
                             _file_loader(r.wav), r.name))
    return out


# ------------------------------------------------------------------ conditioning
def condition(c: Candidate, rng: np.random.Generator):
    """(audio at 16 kHz, stats, curation note) or (None, None, reason to drop)."""
    data, sr = c.load()
    x = to_mono(data)
    if sr != C.SR:
        x = resample(x, sr, C.SR)
    x = x - float(np.mean(x))
    if not np.isfinite(x).all() or x.size == 0:
        return None, None, "empty or invalid samples"
    raw_peak = float(np.max(np.abs(x)))
    src_clip = K.clipping(to_mono(data))
    if raw_peak < C.SILENT_PEAK:
        return None, None, f"near-silent (peak {20 * np.log10(raw_peak + 1e-12):.0f} dBFS)"
    y = C.trim_silence(x)
    notes = []
    if c.cls in SEQUENCE_CLASSES and 0.05 <= len(y) / C.SR < SEQUENCE_BELOW_S:
        y = C.repeat_as_sequence(y, rng)
        notes.append(f"single short hit ({len(C.trim_silence(x)) / C.SR:.2f} s) repeated into a run")
    if len(y) < C.MIN_SECONDS * C.SR:
        return None, None, f"too short after trimming ({len(y) / C.SR:.2f} s < {C.MIN_SECONDS} s)"
    if len(y) > C.MAX_SECONDS * C.SR:
        notes.append(f"cut to the first {C.MAX_SECONDS:.0f} s of {len(y) / C.SR:.1f} s")
        y = y[: int(C.MAX_SECONDS * C.SR)]
        y = C.trim_silence(y)
    st = C.stats(y)
    if st["active_fraction"] < 0.05:
        return None, None, "almost no active frames (clicks only)"
    raw_stats = {"raw_peak_dbfs": round(float(20 * np.log10(raw_peak)), 1), "source_clipped": round(src_clip, 4)}
    y = C.normalise(y)
    return y, {**st, **raw_stats}, "; ".join(notes) or "kept"


_LEN_BUCKET = int(0.02 * C.SR)


def _same_waveform(y: np.ndarray, kept, by_len) -> "int | None":
    """Index of a kept clip whose audio matches ``y`` up to gain (first 2 s, same length +-20 ms).

    Complements the landmark fingerprints for steady sounds (a held tone has no
    distinct spectral peaks to pair)."""
    n = min(len(y), 2 * C.SR)
    a = y[:n] / (np.linalg.norm(y[:n]) + 1e-9)
    k = len(y) // _LEN_BUCKET
    for j in by_len.get(k - 1, []) + by_len.get(k, []) + by_len.get(k + 1, []):
        z = kept[j][1]
        if abs(len(z) - len(y)) > _LEN_BUCKET or len(z) < n:
            continue
        b = z[:n] / (np.linalg.norm(z[:n]) + 1e-9)
        if float(np.dot(a, b)) > 0.98:
            return j
    return None


def _hash01(*parts) -> float:
    h = hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()
    return int(h[:12], 16) / float(16 ** 12)


def assign_splits(items: list[tuple[str, str]], seed: int = 0, val_fraction: float = VAL_FRACTION) -> dict:
    """``items``: (class, group) pairs -> {group: 'train'|'val'}.

    Classes are processed in sorted order; a group already placed by another class
    keeps its split, so no group is ever in both.
    """
    by_class: dict[str, list[str]] = {}
    for cls, g in items:
        by_class.setdefault(cls, [])
        if g not in by_class[cls]:
            by_class[cls].append(g)
    split: dict[str, str] = {}
    for cls in sorted(by_class):
        groups = sorted(by_class[cls], key=lambda g: _hash01(seed, cls, g))
        n = len(groups)
        n_val = 0 if n < 3 else max(1, int(round(val_fraction * n)))
        have_val = sum(1 for g in groups if split.get(g) == "val")
        for g in groups:
            if g in split:
                continue
            if have_val < n_val:
                split[g] = "val"
                have_val += 1
            else:
                split[g] = "train"
    return split


# ------------------------------------------------------------------ build
def build_bank(tsv, out_dir, *, work_dir=None, seed: int = 0, renders: bool = True, asterisk: int = 24,
               label_check: bool = True, log=print) -> Path:
    """Build the bank; returns the path of ``bank.jsonl``.

    Curation, in order: manual drops, decoding errors, near-silence, hard clipping
    (``curation.clipping`` > MAX_CLIPPED of the source's samples), too short / clicks
    only, the same recording as an earlier clip (landmark fingerprints: another name,
    gain, sample rate or a cut of it), then the cross-validated label check over all
    kept clips (flagged clips are quarantined). Every drop is logged in
    ``curation.jsonl``; ``label_check.json`` holds the check's accuracy and flags.
    """
    from tqdm import tqdm

    out = Path(out_dir)
    work = Path(work_dir) if work_dir else out.parent / "bank_work"
    rows = read_tsv(tsv)
    cands = tsv_candidates(rows, work, log)
    if asterisk:
        cands += asterisk_candidates(work, asterisk, log, seed)
    if renders:
        cands += render_candidates(work, log, seed)

    kept, dropped = [], []
    rng = np.random.default_rng(seed)
    fps = K.Fingerprints()
    fp_owner: list[int] = []          # fingerprint index -> index in kept (or -1 when dropped)
    by_len: dict[int, list[int]] = {}  # length bucket -> indices in kept
    for c in tqdm(cands, desc="conditioning clips", unit="clip"):
        src = f"{c.package}/{c.source_path}"
        key = src if src in MANUAL_DROPS else f"{c.package}/{c.source_path.rsplit(':', 1)[-1]}"
        if key in MANUAL_DROPS:
            dropped.append({"class": c.cls, "source": src, "reason": MANUAL_DROPS[key]})
            continue
        try:
            y, st, note = condition(c, rng)
        except AudioReadError as exc:
            dropped.append({"class": c.cls, "source": src, "reason": str(exc)})
            continue
        if y is None:
            dropped.append({"class": c.cls, "source": src, "reason": note})
            continue
        if st.get("source_clipped", 0.0) > MAX_CLIPPED:
            dropped.append({"class": c.cls, "source": src,
                            "reason": f"clipped ({100 * st['source_clipped']:.1f} % of samples in flat runs at the peak)"})
            continue
        i, m = fps.add(y, C.SR)
        twin = _same_waveform(y, kept, by_len)
        if m is not None and (fp_owner[m.other] < 0 or (c.group.startswith("render:")
                                                        and kept[fp_owner[m.other]][0].group.startswith("render:"))):
            m = None  # two renders share soundfont samples by construction: not one recording
        if twin is not None or m is not None:
            other = kept[twin if twin is not None else fp_owner[m.other]][0]
            how = ("waveform correlation > 0.98" if twin is not None else
                   f"fingerprint: {m.matches} aligned landmarks, {100 * m.share:.0f} % of the shorter clip")
            what = "same class" if other.cls == c.cls else f"labelled {other.cls}"
            dropped.append({"class": c.cls, "source": src,
                            "reason": f"same recording as {other.package}/{other.source_path} ({what}; {how})"})
            fp_owner.append(-1)
            continue
        fp_owner.append(len(kept))
        by_len.setdefault(len(y) // _LEN_BUCKET, []).append(len(kept))
        kept.append((c, y, st, note))

    report = {"checked": 0, "accuracy": None, "flags": []}
    if label_check and len(kept) >= 20:
        feats = np.stack([K.clip_features(y, C.SR) for _, y, *_ in kept])
        flags, acc = K.label_check(feats, [c.cls for c, *_ in kept], [c.group for c, *_ in kept], seed=seed)
        report = {"checked": len(kept), "accuracy": round(acc, 3), "flags": []}
        bad = set()
        for f in flags:
            c = kept[f.index][0]
            bad.add(f.index)
            reason = (f"label check: quarantined, held-out classifier says {f.predicted} (p={f.p_predicted:.2f}), "
                      f"p({f.label})={f.p_label:.2f}")
            dropped.append({"class": c.cls, "source": f"{c.package}/{c.source_path}", "reason": reason})
            report["flags"].append({"class": c.cls, "source": f"{c.package}/{c.source_path}", "predicted": f.predicted,
                                    "p_predicted": f.p_predicted, "p_label": f.p_label})
        kept = [k for i, k in enumerate(kept) if i not in bad]
        log(f"label check: held-out accuracy {acc:.2f} over {report['checked']} clips, {len(bad)} quarantined")

    split = assign_splits([(c.cls, c.group) for c, *_ in kept], seed)
    (out / "clips").mkdir(parents=True, exist_ok=True)
    entries, used_ids = [], set()
    for c, y, st, note in kept:
        cid = c.stem
        k = 2
        while f"{c.cls}/{cid}" in used_ids:
            cid, k = f"{c.stem}_{k}", k + 1
        used_ids.add(f"{c.cls}/{cid}")
        rel = f"clips/{c.cls}/{cid}.wav"
        (out / rel).parent.mkdir(parents=True, exist_ok=True)
        save_audio(out / rel, y, C.SR)
        curation = "; ".join([note] + c.notes) if c.notes else note
        entries.append(BankClip(cid, c.cls, rel, round(len(y) / C.SR, 3), c.package, c.source_path, c.licence,
                                c.copyright, split[c.group], c.group, curation, st))
    manifest = out / "bank.jsonl"
    _write_jsonl(manifest, [e.to_json() for e in entries])
    _write_jsonl(out / "curation.jsonl", dropped)
    atomic_write_text(out / "label_check.json", json.dumps(report, indent=1))
    log(f"bank: {len(entries)} clips in {len({e.cls for e in entries})} classes, {len(dropped)} dropped -> {manifest}")
    return manifest


def _write_jsonl(path: Path, rows) -> None:
    atomic_write_text(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def class_counts(clips: list[BankClip]) -> dict:
    out: dict[str, dict] = {}
    for c in clips:
        out.setdefault(c.cls, {"train": 0, "val": 0})[c.split] += 1
    return dict(sorted(out.items()))
