"""Build the "outside recordings" generalisation set: sound events from Debian 12 packages
that the training bank never used (benchmarks/outside/README.md lists them).

Steps (each is skipped when its output already exists; --force redoes them):

  1. bank:  build_bank(benchmarks/outside/event-bank-outside.tsv) -> data/outside/bank
            (packages fetched into data/outside/work, no renders, no asterisk prompts)
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

# sources of the training bank (data/bank): none of them may appear here
TRAINING_PACKAGES = {
    "megaglest-data", "minetest-data", "tuxpaint-stamps-default", "openttd-opensfx", "lincity-ng-data",
    "wesnoth-1.16-data", "lmms-common", "simutrans-pak64", "sonic-pi-samples", "scratch",
    "fluid-soundfont-gm", "espeak-ng-data", "asterisk-core-sounds-en-wav",
}
def read_rows() -> list[dict]:
    with TSV.open(newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def check_rows(rows: list[dict]) -> None:
    from rfm_studio.core.data.captions import CAPTIONS

    bad_pkg = sorted({r["package"] for r in rows} & TRAINING_PACKAGES)
    if bad_pkg:
        raise SystemExit(f"{TSV.name} uses training packages: {', '.join(bad_pkg)}")
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
    lines = [json.loads(l) for l in manifest.read_text().splitlines() if l.strip()]
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


def fixed(force: bool, bank_changed: bool) -> Path:
    """The fixed set; remade when forced, when the bank changed, or when incomplete."""
    from rfm_studio.core.data.triplets import make_fixed_set

    manifest = FIXED / "manifest.jsonl"
    want = 3 * FIXED_ARGS["n_per_task"]
    if manifest.is_file() and not force and not bank_changed:
        n = sum(1 for l in manifest.read_text().splitlines() if l.strip())
        if n == want:
            print(f"fixed: exists, skipped ({manifest}, {n} triplets)")
            return manifest
    if FIXED.exists():
        shutil.rmtree(FIXED)
    return make_fixed_set(BANK, FIXED, **FIXED_ARGS)


def report(bank_manifest: Path, fixed_manifest: Path) -> None:
    from rfm_studio.core.data.bank import load_manifest

    clips = load_manifest(BANK)
    rows = [json.loads(l) for l in fixed_manifest.read_text().splitlines() if l.strip()]
    print(f"\nbank {bank_manifest}: {len(clips)} clips, {len({c.cls for c in clips})} classes, "
          f"splits {dict(Counter(c.split for c in clips))}")
    print("  per package: " + ", ".join(f"{p} {n}" for p, n in Counter(c.package for c in clips).most_common()))
    print("  per licence: " + ", ".join(f"{p} {n}" for p, n in Counter(c.licence for c in clips).most_common()))
    print("  per class:   " + ", ".join(f"{k} {n}" for k, n in sorted(Counter(c.cls for c in clips).items())))
    cur = BANK / "curation.jsonl"
    dropped = [json.loads(l) for l in cur.read_text().splitlines() if l.strip()] if cur.is_file() else []
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
    args = ap.parse_args(argv)
    rows = read_rows()
    check_rows(rows)
    print(f"{TSV.relative_to(ROOT)}: {len(rows)} clips, {len({r['class'] for r in rows})} classes, "
          f"{len({r['package'] for r in rows})} packages")
    bank_manifest, built = build(args.force)
    changed = all_val(bank_manifest)
    fixed_manifest = fixed(args.force, built or bool(changed))
    report(bank_manifest, fixed_manifest)


if __name__ == "__main__":
    main()
