"""Build the starter sound library (resources/library/) from the event bank.

    python packaging/make_starter_library.py [--bank /work/data/bank2] [--per-class 4]

Uses /work/data/bank2 once built (its bank.jsonl exists), else /work/data/bank1 (``rfm-studio data bank``).
Per class, about half of the source groups (whole upstream recordings, at least one, at most
--per-class clips) become starter clips: silence trimmed, the loudest stretch of at most
--max-seconds kept with short fades, mono, 16 kHz, Ogg Vorbis, named ``<class>_<nn>.ogg`` and
tagged with the class's captions (TITLE, COMMENT). The other groups stay out of the starter
library, so benchmarks/add_replace.py can train its classifier on recordings the library
does not hold. licences.tsv records the licence, package and source path of every file and
starter_groups.txt the bank groups used. Reserved evaluation packages are refused.
A class the library already holds keeps its recordings (unless --fresh): a rebuild from a larger
bank adds classes.
Re-running replaces the folder (written beside it, then swapped in).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import shutil
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

OUT = ROOT / "resources" / "library"
from rfm_studio.core.data.reserved import RESERVED_PACKAGES as RESERVED  # noqa: E402
MAX_BYTES = 20 * 1024 * 1024


def default_bank() -> Path:
    b2 = Path("/work/data/bank2")
    return b2 if (b2 / "bank.jsonl").is_file() else Path("/work/data/bank1")


def kept_ids() -> dict:
    """{class: [bank ids]} of the starter library as it is (core.library.starter.licences)."""
    from rfm_studio.core.library.starter import licences

    out = defaultdict(list)
    for r in licences().values():
        out[r["class"]].append(r["bank_id"])
    return dict(out)


def pick(rows: list[dict], per_class: int, keep: dict | None = None) -> list[dict]:
    """About half the groups of each class (seeded by the group name), at most per_class clips;
    real recordings before General MIDI / speech-synthesis renders. A class in ``keep`` ({class:
    [bank ids]}, the library as it is) keeps those of its recordings the bank still holds, so a
    rebuild from a larger bank adds classes without swapping recordings already shipped for ones
    whose labels the bank's automatic labelling may have got wrong (bank v2's fire_crackle class
    holds game weapons' "fire" sounds)."""
    by_class = defaultdict(lambda: defaultdict(list))
    by_id = {r["id"]: r for r in rows}
    for r in rows:
        by_class[r["class"]][r.get("group") or r["id"]].append(r)
    out = []
    for cls in sorted(by_class):
        kept = [by_id[i] for i in (keep or {}).get(cls, []) if i in by_id and by_id[i]["class"] == cls]
        if kept:
            out += kept[:per_class]
            continue
        groups = by_class[cls]
        rendered = {"fluid-soundfont-gm", "espeak-ng-data"}
        order = sorted(groups, key=lambda g: (all(x["package"] in rendered for x in groups[g]),
                                              hashlib.sha1(g.encode()).hexdigest()))
        take = max(1, min(per_class, (len(order) + 1) // 2))
        chosen = []
        for g in order:
            if len(chosen) >= take:
                break
            best = max(groups[g], key=lambda x: x.get("stats", {}).get("active_fraction", 0))
            chosen.append(best)
        out += chosen
    return out


def condition(x: np.ndarray, sr: int, max_s: float) -> np.ndarray:
    from rfm_studio.core.library.place import loudest_stretch, trim_silence

    x = trim_silence(x.astype(np.float32), sr, below_db=40.0)
    n = int(max_s * sr)
    if len(x) > n:
        a = loudest_stretch(x, n)
        x = x[a:a + n].copy()
        fo = int(0.25 * sr)
        x[-fo:] *= np.linspace(1, 0, fo, dtype=np.float32)
    fi = min(len(x) // 4, int(0.005 * sr))
    if fi:
        x[:fi] *= np.linspace(0, 1, fi, dtype=np.float32)
    peak = float(np.abs(x).max()) or 1.0
    return (x * min(1.0, 0.89 / peak)).astype(np.float32)


def main(argv=None) -> int:
    import soundfile as sf

    from rfm_studio.core.audio.io import load_audio, resample, to_mono
    from rfm_studio.core.data.captions import CAPTIONS

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bank", type=Path, default=None)
    ap.add_argument("--per-class", type=int, default=4)
    ap.add_argument("--max-seconds", type=float, default=6.0)
    ap.add_argument("--sample-rate", type=int, default=16000)
    ap.add_argument("--fresh", action="store_true",
                    help="pick every class's recordings anew (default: keep those the library already holds)")
    args = ap.parse_args(argv)
    bank = args.bank or default_bank()
    rows = [json.loads(l) for l in (bank / "bank.jsonl").read_text().splitlines() if l.strip()]
    bad = sorted({r["package"] for r in rows} & RESERVED)
    if bad:
        raise SystemExit(f"{bank} uses reserved packages: {', '.join(bad)}")
    chosen = pick(rows, args.per_class, {} if args.fresh else kept_ids())
    tmp = OUT.with_name(".library-tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    table, count = [], defaultdict(int)
    for r in chosen:
        x, sr = load_audio(str(bank / r["path"]))
        x = resample(to_mono(x), sr, args.sample_rate)
        x = condition(x, args.sample_rate, args.max_seconds)
        cls = r["class"]
        count[cls] += 1
        name = f"{cls}_{count[cls]:02d}.ogg"
        caps = CAPTIONS.get(cls, (cls.replace("_", " "),))
        with sf.SoundFile(str(tmp / name), "w", args.sample_rate, 1, format="OGG", subtype="VORBIS") as f:
            f.title = caps[0]
            f.comment = "; ".join(caps[1:])
            f.write(x)
        lic = r["licence"]
        table.append({"file": name, "class": cls, "description": caps[0], "seconds": f"{len(x) / args.sample_rate:.2f}",
                      "licence": lic["name"] if isinstance(lic, dict) else str(lic),
                      "package": r["package"], "source": r.get("source_path", ""),
                      "copyright": lic.get("file", "") if isinstance(lic, dict) else "",
                      "bank_id": r["id"], "group": r.get("group") or r["id"]})
    with (tmp / "licences.tsv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(table[0]), delimiter="\t", lineterminator="\n")
        w.writeheader()
        w.writerows(table)
    (tmp / "README.md").write_text(
        "# Starter sound library\n\nShort mono clips (16 kHz Ogg Vorbis) that RFM Studio indexes on first use, so that\n"
        "\"Add a dog barking\" and \"Replace A with B\" find a real recording without a library of your own.\n"
        "They come from Debian 12 game and sample packages (through the training event bank);\n"
        "`licences.tsv` gives each file's licence, package, path inside the package and the package's\n"
        "copyright file. Built by `packaging/make_starter_library.py`.\n", encoding="utf-8")
    total = sum(p.stat().st_size for p in tmp.iterdir())
    if total > MAX_BYTES:
        shutil.rmtree(tmp)
        raise SystemExit(f"starter library would be {total / 1e6:.1f} MB (> 20 MB); lower --per-class or --max-seconds")
    if OUT.exists():
        shutil.rmtree(OUT)
    tmp.rename(OUT)
    print(f"{OUT}: {len(table)} clips, {len(count)} classes, {total / 1e6:.2f} MB from {bank}")
    print("licences: " + ", ".join(f"{k} {v}" for k, v in sorted(
        {l: sum(1 for t in table if t["licence"] == l) for l in {t['licence'] for t in table}}.items())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
