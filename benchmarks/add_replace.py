"""Add and Replace with library sounds on outside recordings, judged by a sound-event classifier.

    python benchmarks/add_replace.py [--manifest M] [--bank BANK] [--model MODEL] [--retrain] [--judge-steps N]

1. Outside set: --manifest (default data/outside/fixed/manifest.jsonl, built by
   benchmarks/outside_set.py; its clips in data/outside/bank). Without one, a set is built here
   from benchmarks/outside/event-bank-outside.tsv (training and reserved packages dropped) into
   /work/data/outside_lib.
2. Judge: benchmarks/event_judge.py (a small CNN on log-mel patches averaged with a log-mel statistics
   MLP, benchmarks/judge_stats.py) trained on the bank's
   train split (/work/data/bank2 once built, else /work/data/bank1) without the starter library's recordings; cached outside git.
   Its top-1 / top-5 on the bank's validation split and on the outside bank (recordings never
   trained on) are printed.
3. Each add row: "Add <X>" with the event's span as region and no reference, so the best
   starter-library match for the caption is used (as in the app). Each replace row: "Replace A
   with B" with the span as region: the shipped model removes A, the library's B goes wherever A
   was. Judged on the region, relative to the input: the new sound is present when the judge's
   probability for its class at least doubles (RISE) and reaches FLOOR, and the chance of that is
   printed as the share of the other classes that rise as much; A gone when its probability at
   least halves. Classes whose every training clip went into the starter library are unknown to
   the judge; the rows of known classes are also counted apart.
   Also: the largest change outside the region (must be 0), rows returned unchanged (must be
   none), edit time per clip on one CPU thread (without the one-off model load).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DATA = Path("/work/data/outside_lib")
from rfm_studio.core.data.reserved import RESERVED_PACKAGES as RESERVED  # noqa: E402
TOP = 3


# ---------------------------------------------------------------- outside set
def outside_set(n_per_task: int) -> Path:
    from rfm_studio.core.data.bank import build_bank
    from rfm_studio.core.data.triplets import make_fixed_set

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from outside_set import TRAINING_PACKAGES, TSV

    fixed = DATA / "fixed" / "manifest.jsonl"
    if fixed.is_file():
        return fixed
    DATA.mkdir(parents=True, exist_ok=True)
    with TSV.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    keep = [r for r in rows if r["package"] not in RESERVED | TRAINING_PACKAGES]
    tsv = DATA / "outside.tsv"
    with tsv.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]), delimiter="\t")
        w.writeheader()
        w.writerows(keep)
    print(f"outside TSV: {len(keep)} of {len(rows)} rows (reserved and training packages dropped)")
    bank = DATA / "bank"
    if not (bank / "bank.jsonl").is_file():
        build_bank(tsv, bank, work_dir=DATA / "work", renders=False, asterisk=0)
    man = bank / "bank.jsonl"
    lines = [json.loads(l) for l in man.read_text(encoding="utf-8").splitlines() if l.strip()]
    for d in lines:
        d["split"] = "val"
    man.write_text("".join(json.dumps(d) + "\n" for d in lines))
    return make_fixed_set(bank, DATA / "fixed", split="val", n_per_task=n_per_task, seconds=10.24, seed=4321)


# ---------------------------------------------------------------- main
RISE = 2.0  # presence: the class's probability at least doubles in the region (output vs input) ...
FLOOR = 0.02  # ... and reaches at least this (about 3x the uniform 1/142): a rise from nothing to nothing is no sound


def default_manifest() -> Path | None:
    for m in (ROOT / "data" / "outside" / "fixed" / "manifest.jsonl", Path("/work/data/outside_noflare/fixed/manifest.jsonl")):
        if m.is_file():
            return m
    return None


def main(argv=None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import torch

    torch.set_num_threads(1)
    from rfm_studio.core.audio.io import load_audio, resample, to_mono
    from rfm_studio.core.editing import edit
    from rfm_studio.core.library import Library
    from rfm_studio.core.library.prompted import parse_instruction, pick_reference

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from event_judge import accuracy, bank_rows, describe, get_judge, group, group_probs

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    b2 = Path("/work/data/bank2")
    ap.add_argument("--bank", type=Path, default=b2 if (b2 / "bank.jsonl").is_file() else Path("/work/data/bank1"))
    ap.add_argument("--manifest", type=Path, default=default_manifest(),
                    help="outside fixed set (default: data/outside/fixed/manifest.jsonl; its bank beside it)")
    ap.add_argument("--model", default=None, help="model for the removal in replace (default: the shipped one)")
    ap.add_argument("--rows", type=int, default=20, help="fixed triplets per task when the set is built here")
    ap.add_argument("--retrain", action="store_true", help="train the judge again (else its cached weights)")
    ap.add_argument("--judge-steps", type=int, default=None, help="the judge CNN's training batches (default: event_judge.STEPS)")
    args = ap.parse_args(argv)
    if not (args.bank / "bank.jsonl").is_file():
        print(f"No event bank at {args.bank} (no bank.jsonl): build one with `rfm-studio data bank --out DIR` "
              "and pass --bank DIR.", file=sys.stderr)
        return 2
    rng = np.random.default_rng(0)

    manifest = args.manifest if args.manifest and args.manifest.is_file() else outside_set(args.rows)
    rows = [json.loads(l) for l in manifest.read_text(encoding="utf-8").splitlines() if l.strip()]
    print(f"outside set: {manifest} ({len(rows)} rows)")
    judge = get_judge(args.bank, args.retrain, **({"steps": args.judge_steps} if args.judge_steps else {}))
    a = accuracy(judge, args.bank, [r for r in bank_rows(args.bank) if r.get("split") == "val"])
    print(f"judge on the bank's validation split: {describe(a)} (chance top-1 {1 / len(judge.classes):.1%})")
    ob = manifest.parent.parent / "bank"
    if (ob / "bank.jsonl").is_file():
        print(f"judge on the outside bank (recordings never trained on): {describe(accuracy(judge, ob, bank_rows(ob)))}")

    from rfm_studio.core.model.loaders import load_editor

    model = load_editor(args.model, device="cpu")
    lib = Library(Path(tempfile.mkdtemp()) / "starter.sqlite")  # the starter library only
    results = {"add": [], "replace": []}
    for r in rows:
        task = r["task"]
        if task not in results:
            continue
        x, sr = load_audio(str(manifest.parent / r["input"]))
        spans = r.get("edit_spans") or [[r["edit_start_s"], r["edit_end_s"]]]
        region = (min(a for a, _ in spans), min(len(x) / sr, max(b for _, b in spans)))
        if region[1] - region[0] < 0.1:
            continue
        kind, a_text, b_text = parse_instruction(r["instruction"])
        if kind != task:  # a paraphrase the parser does not read is a failure of the feature
            results[task].append({"id": r["id"], "parsed": False})
            continue
        ref, hit = pick_reference(b_text, lib)
        t, c = time.perf_counter(), time.process_time()
        res = edit(model, x, sr, r["instruction"], region=region, prompts=(ref,))
        secs, cpu = time.perf_counter() - t, time.process_time() - c
        y = res.audio
        s0, s1 = int(round(region[0] * sr)), int(round(region[1] * sr))
        outside = np.concatenate([np.abs(y[:s0] - x[:s0]).ravel(), np.abs(y[s1:] - x[s1:]).ravel()])
        o_in, p_in = judge.ranks(resample(to_mono(x[s0:s1]), sr, 16000))
        o_out, p_out = judge.ranks(resample(to_mono(y[s0:s1]), sr, 16000))
        o_ref, p_ref = judge.ranks(resample(ref.audio, ref.sample_rate, 16000))
        # meta type "add_B": B is added; "replace_AB": A removed, B added (classes of the letters)
        letters = r["meta"]["type"].split("_", 1)[1]
        by = {"A": r["classes"]["a"], "B": r["classes"]["b"]}
        cls_a, new = (by[letters[0]], by[letters[-1]]) if task == "replace" else (None, by[letters[0]])
        lib_cls = Path(hit.path).name.rsplit("_", 1)[0]
        row = {"id": r["id"], "parsed": True, "secs": secs, "cpu": cpu,
               "keep": float(outside.max()) if outside.size else 0.0, "unchanged": bool(np.array_equal(y, x)),
               "ref": Path(hit.path).name, "places": len(res.params.get("placements") or [1]),
               "gain_db": (res.params.get("placement") or {}).get("gain_db")}
        # the judgement on the fine classes ("") and on the judge's groups ("g_")
        for pre, lab, pi, po, pr in (("", lambda c: c, p_in, p_out, p_ref),
                                     ("g_", group, group_probs(p_in), group_probs(p_out), group_probs(p_ref))):
            labels = sorted(pi)
            oi, oo, orf = (sorted(d, key=lambda c: -d[c]) for d in (pi, po, pr))
            nb, na = lab(new), (lab(cls_a) if cls_a else None)
            known = nb in pi
            rise = po.get(nb, 0.0) / max(pi.get(nb, 0.0), 1e-9)
            # chance: the share of the other labels (not the new one, not A, not in the input) that rise as much
            others = [c for c in labels if c not in {nb, na, *map(lab, r["classes"]["x"])}]
            row.update({pre + "known": known, pre + "present": known and rise >= RISE and po[nb] >= FLOOR,
                        pre + "rise": rise, pre + "chance": float(np.mean([po[c] >= max(RISE * pi[c], FLOOR) for c in others])),
                        pre + "top3": nb in oo[:TOP], pre + "top3_in": nb in oi[:TOP], pre + "ref_alone": nb in orf[:TOP],
                        pre + "ref_ok": lab(lib_cls) == nb, pre + "p": (pi.get(nb, 0.0), po.get(nb, 0.0))})
            if task == "replace":
                fall = po.get(na, 0.0) / max(pi.get(na, 0.0), 1e-9)
                row.update({pre + "a_gone": na in pi and na != nb and fall <= 1 / RISE, pre + "fall": fall,
                            pre + "a_out_top3": na not in oo[:TOP], pre + "a_in": na in oi[:TOP]})
        results[task].append(row)
        print(f"  {r['id']}: {r['instruction'][:60]!r} -> {row['ref']} ({row['places']} place(s), gain "
              f"{row['gain_db']} dB) {secs:.2f} s; p({new}) {row['p'][0]:.3f} -> {row['p'][1]:.3f}, group "
              f"{row['g_p'][0]:.3f} -> {row['g_p'][1]:.3f} {'present' if row['present'] else 'not found'}"
              f"{' (group present)' if row['g_present'] else ''}; library sound alone: {o_ref[:3]}"
              + (f"; p({cls_a}) x{row['fall']:.2f} {'gone' if row['a_gone'] else 'still there'}" if task == "replace" else ""))
    print()
    for task, rs in results.items():
        ok = [r for r in rs if r["parsed"]]
        if not rs:
            continue
        pct = lambda k: sum(r[k] for r in ok) / len(rs)  # noqa: E731
        print(f"{task}: {len(rs)} rows ({len(rs) - len(ok)} instructions not read)")
        for pre, what in (("", "classes"), ("g_", "groups (event_judge.GROUPS)")):
            kn = [r for r in ok if r[pre + "known"]]
            line = (f"  on the judge's {what}: {sum(not r[pre + 'known'] for r in ok)} rows of a label it does not know; "
                    f"{'B' if task == 'replace' else 'the added sound'} present (its probability at least x{RISE:g} "
                    f"in the region and at least {FLOOR:.0%}) {pct(pre + 'present'):.0%}, "
                    f"{sum(r[pre + 'present'] for r in kn) / max(1, len(kn)):.0%} of the {len(kn)} rows of a label it knows "
                    f"(chance: another label rising as much {statistics.mean([r[pre + 'chance'] for r in ok] or [0]):.1%}); "
                    f"in the top {TOP} after {pct(pre + 'top3'):.0%}, before {pct(pre + 'top3_in'):.0%}, the library sound "
                    f"alone (the ceiling) {pct(pre + 'ref_alone'):.0%}; library picked the right label {pct(pre + 'ref_ok'):.0%}")
            if task == "replace":
                both = sum(r[pre + "present"] and r[pre + "a_gone"] for r in ok)
                line += (f"; A gone (its probability at most halved) {pct(pre + 'a_gone'):.0%}, A out of the top {TOP} "
                         f"{pct(pre + 'a_out_top3'):.0%} (in the top {TOP} before {pct(pre + 'a_in'):.0%}); B present and "
                         f"A gone {both / len(rs):.0%}")
            print(line)
        line = "  "
        if task == "replace":
            line += f"B placed at {statistics.mean([r['places'] for r in ok] or [0]):.1f} places per row on average; "
        line += (f"largest change outside the region {max([r['keep'] for r in ok] or [0]):.1e}; "
                 f"unchanged rows {sum(r['unchanged'] for r in ok)}; edit time median "
                 f"{statistics.median([r['secs'] for r in ok] or [0]):.2f} s wall, "
                 f"{statistics.median([r['cpu'] for r in ok] or [0]):.2f} s CPU, max {max([r['secs'] for r in ok] or [0]):.2f} s "
                 f"per 10.24 s clip (one thread; load average {os.getloadavg()[0]:.1f})")
        print(line)
    lib.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
