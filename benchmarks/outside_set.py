"""Build the "outside recordings" generalisation set: sound events from Debian 12 packages
that the training bank never used (benchmarks/outside/README.md lists them).

Steps (each is skipped when its output already exists; --force redoes them):

  1. bank:  build_bank(benchmarks/outside/event-bank-outside.tsv) -> data/outside/bank
            (packages fetched into data/outside/work, no renders, no asterisk prompts; the
            bank's curation: silence, clipping, fingerprint duplicates, label check)
     leak:  clips whose landmark fingerprint matches a clip of the training bank
            (/work/data/bank2, --bank) are dropped: the same recording in two packages
  2. split: every clip of this bank becomes 'val' (build_bank's seeded split would put most
            in 'train'; none of these sources is in the training bank, so all are held out)
  3. fixed: make_fixed_set(split="val", n_per_task=20, seconds=10.24, seed=4321)
            -> data/outside/fixed/manifest.jsonl (60 triplets)

    python benchmarks/outside_set.py [--force]
    python benchmarks/edit_quality.py --model models/rfm-studio-small \\
        --manifest data/outside/fixed/manifest.jsonl
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TSV = ROOT / "benchmarks" / "outside" / "event-bank-outside.tsv"
OUT = ROOT / "data" / "outside"
BANK, WORK, FIXED = OUT / "bank", OUT / "work", OUT / "fixed"
FIXED_ARGS = dict(split="val", n_per_task=20, seconds=10.24, seed=4321)

BANK2 = Path("/work/data/bank2")   # the training bank whose recordings must not reappear here (--bank)


def training_packages() -> set:
    """Every package the training banks draw from (v1 list, v2 list, renders): none may appear here."""
    from rfm_studio.core.data.labelling import BANK_PACKAGES
    from rfm_studio.core.data.renders import ESPEAK_LICENCE, GM_LICENCE

    v2 = ROOT / "resources" / "bank" / "event-bank-v2.tsv"
    with v2.open(newline="", encoding="utf-8") as f:
        listed = {r["package"] for r in csv.DictReader(f, delimiter="\t")}
    return set(BANK_PACKAGES) | listed | {GM_LICENCE[0], ESPEAK_LICENCE[0]} | {
        "megaglest-data", "minetest-data", "tuxpaint-stamps-default", "openttd-opensfx", "lincity-ng-data",
        "wesnoth-1.16-data", "lmms-common", "simutrans-pak64", "sonic-pi-samples", "scratch",
        "asterisk-core-sounds-en-wav"}


from rfm_studio.core.data.reserved import RESERVED_PACKAGES  # noqa: E402


def read_rows() -> list[dict]:
    with TSV.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def check_rows(rows: list[dict]) -> None:
    from rfm_studio.core.data.captions import CAPTIONS

    bad_pkg = sorted({r["package"] for r in rows} & training_packages())
    if bad_pkg:
        raise SystemExit(f"{TSV.name} uses training packages: {', '.join(bad_pkg)}")
    reserved = sorted({r["package"] for r in rows} & RESERVED_PACKAGES)
    if reserved:
        raise SystemExit(f"{TSV.name} uses reserved packages: {', '.join(reserved)}")
    bad_cls = sorted({r["class"] for r in rows} - set(CAPTIONS))
    if bad_cls:
        raise SystemExit(f"{TSV.name} has classes without captions: {', '.join(bad_cls)}")
    for r in rows:
        if not r["path"].startswith(r["package"] + "/"):
            raise SystemExit(f"path {r['path']} does not start with its package {r['package']}/")


def build(force: bool) -> tuple[Path, bool]:
    """(bank manifest, whether it was built now)."""
    from rfm_studio.core.data.bank import build_bank

    manifest = BANK / "bank.jsonl"
    if manifest.is_file() and not force:
        print(f"bank: exists, skipped ({manifest})")
        return manifest, False
    if BANK.exists():
        shutil.rmtree(BANK)
    return build_bank(TSV, BANK, work_dir=WORK, renders=False, asterisk=0), True


def all_val(manifest: Path) -> int:
    """Set split='val' on every entry; returns how many entries changed."""
    lines = [json.loads(l) for l in manifest.read_text(encoding="utf-8").splitlines() if l.strip()]
    changed = sum(1 for d in lines if d["split"] != "val")
    if changed:
        for d in lines:
            d["split"] = "val"
        tmp = manifest.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in lines))
        tmp.replace(manifest)
    print(f"split: {changed} of {len(lines)} clips moved to 'val'" if changed
          else f"split: all {len(lines)} clips already 'val'")
    return changed


def leak_check(manifest: Path, bank_dir: Path) -> int:
    """Drop every clip whose landmark fingerprint matches a clip of the training bank (the same
    recording shipped by two packages); returns how many were dropped (logged in curation.jsonl)."""
    import soundfile as sf

    from rfm_studio.core.data.bank import load_manifest
    from rfm_studio.core.data.curation import Fingerprints

    if not (bank_dir / "bank.jsonl").is_file():
        print(f"leak check: no training bank at {bank_dir}, skipped")
        return 0
    train = load_manifest(bank_dir)
    fp = Fingerprints()
    for c in train:
        x, sr = sf.read(str(bank_dir / c.path), dtype="float32")
        fp.add(x, sr)
    lines = [json.loads(l) for l in manifest.read_text(encoding="utf-8").splitlines() if l.strip()]
    keep, dropped = [], []
    for d in lines:
        x, sr = sf.read(str(manifest.parent / d["path"]), dtype="float32")
        m = fp.query(x, sr)
        if m is None:
            keep.append(d)
        else:
            t = train[m.other]
            dropped.append({"class": d["class"], "source": f"{d['package']}/{d['source_path']}",
                            "reason": f"same recording as training clip {t.package}/{t.source_path} "
                                      f"(fingerprint: {m.matches} aligned landmarks, {100 * m.share:.0f} %)"})
    if dropped:
        tmp = manifest.with_suffix(".tmp")
        tmp.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in keep))
        tmp.replace(manifest)
        with (manifest.parent / "curation.jsonl").open("a", encoding="utf-8") as f:
            f.write("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in dropped))
    print(f"leak check against {bank_dir} ({len(train)} clips): {len(dropped)} of {len(lines)} dropped")
    return len(dropped)


def fixed(force: bool, bank_changed: bool) -> Path:
    """The fixed set; remade when forced, when the bank changed, or when incomplete."""
    from rfm_studio.core.data.triplets import make_fixed_set

    manifest = FIXED / "manifest.jsonl"
    want = 3 * FIXED_ARGS["n_per_task"]
    if manifest.is_file() and not force and not bank_changed:
        n = sum(1 for l in manifest.read_text(encoding="utf-8").splitlines() if l.strip())
        if n == want:
            print(f"fixed: exists, skipped ({manifest}, {n} triplets)")
            return manifest
    if FIXED.exists():
        shutil.rmtree(FIXED)
    return make_fixed_set(BANK, FIXED, **FIXED_ARGS)


def report(bank_manifest: Path, fixed_manifest: Path) -> None:
    from rfm_studio.core.data.bank import load_manifest

    clips = load_manifest(BANK)
    rows = [json.loads(l) for l in fixed_manifest.read_text(encoding="utf-8").splitlines() if l.strip()]
    print(f"\nbank {bank_manifest}: {len(clips)} clips, {len({c.cls for c in clips})} classes, "
          f"splits {dict(Counter(c.split for c in clips))}")
    print("  per package: " + ", ".join(f"{p} {n}" for p, n in Counter(c.package for c in clips).most_common()))
    print("  per licence: " + ", ".join(f"{p} {n}" for p, n in Counter(c.licence for c in clips).most_common()))
    print("  per class:   " + ", ".join(f"{k} {n}" for k, n in sorted(Counter(c.cls for c in clips).items())))
    cur = BANK / "curation.jsonl"
    dropped = [json.loads(l) for l in cur.read_text(encoding="utf-8").splitlines() if l.strip()] if cur.is_file() else []
    for d in dropped:
        print(f"  dropped {d['source']}: {d['reason']}")
    used = Counter()
    for r in rows:
        for k in ("a", "b"):
            used[r["classes"][k]] += 1
        for c in r["classes"]["x"]:
            used[c] += 1
    print(f"\nfixed {fixed_manifest}: {len(rows)} triplets "
          f"({', '.join(f'{t} {n}' for t, n in sorted(Counter(r['task'] for r in rows).items()))}; "
          f"templated {sum(r['templated'] for r in rows)}, paraphrased {sum(not r['templated'] for r in rows)})")
    print(f"  classes in use: {len(used)} of {len({c.cls for c in clips})}; "
          f"edited events (A/B) from {len({r['classes'][k] for r in rows for k in ('a', 'b')})} classes")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--force", action="store_true", help="rebuild the bank and the fixed set")
    ap.add_argument("--bank", default=str(BANK2), help="training bank for the leak check (default: %(default)s)")
    args = ap.parse_args(argv)
    rows = read_rows()
    check_rows(rows)
    print(f"{TSV.relative_to(ROOT)}: {len(rows)} clips, {len({r['class'] for r in rows})} classes, "
          f"{len({r['package'] for r in rows})} packages")
    bank_manifest, built = build(args.force)
    leaked = leak_check(bank_manifest, Path(args.bank)) if built else 0
    changed = all_val(bank_manifest) + leaked
    fixed_manifest = fixed(args.force, built or bool(changed))
    report(bank_manifest, fixed_manifest)


if __name__ == "__main__":
    main()
