"""How well the sound finder (core/detection) finds the named sound of a fixed set's remove rows.

Per remove row: the finder's probabilities for the sound the instruction names, against the
removed event's true spans (the row's edit_spans): frame precision / recall / F1 at the
threshold, ROC AUC over frames, and whether its strongest span lies on the sound ("top span
hit"). Asked for a sound that is not in the clip (the next row's sound, when its class differs
from every class of this clip): how often it still finds something (false alarms); the same for
a look-alike of the named sound (the nearest class by caption, of a family the clip does not
hold, detection/train.near_classes over every captioned class: a cow where a sheep bleats). How
many of the named and of the absent sounds' peaks are under edit_summary.DOUBT_PEAK (where the
edit's report says the finder is unsure).
With ``--cache DIR`` (dictionary_removal.py's cache of the model's text-only edits), the same
figures for the spans the model's removal flags (self_prompt.flagged_spans), for comparison.

    python benchmarks/sound_finder.py --manifest data/fixed_val2/manifest.jsonl [--finder DIR]
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))


def auc(scores, labels) -> float | None:
    s, y = np.asarray(scores, float), np.asarray(labels, bool)
    if y.all() or not y.any():
        return None
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s))
    ranks[order] = np.arange(1, len(s) + 1)
    return float((ranks[y].sum() - y.sum() * (y.sum() + 1) / 2) / (y.sum() * (~y).sum()))


def removed_class(row: dict) -> str | None:
    """The class of a remove row's removed event (its meta type's last letter: A or B)."""
    meta = row.get("meta") or {}
    return meta.get(meta.get("type", "_A")[-1], {}).get("class")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--finder", default=None, help="sound-finder folder (default: the shipped one)")
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--cache", default=None, help="dictionary_removal.py --cache folder: the model's spans too")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from edit_quality import rows_of

    from rfm_studio.core.audio.io import load_audio
    from rfm_studio.core.detection.find import FindConfig, load_finder, query_text, sound_probs, strongest_spans
    from rfm_studio.core.evaluation.spectral import mask_from_spans
    from rfm_studio.core.separation.self_prompt import SelfPromptConfig, flagged_spans, removal_profile

    manifest = Path(args.manifest)
    rows = [r for r in rows_of(manifest, None) if r["task"] == "remove"]
    finder = load_finder(args.finder)
    if finder is None:
        sys.exit(f"no sound finder in {args.finder or 'models/sound-finder'}")
    fc = FindConfig(threshold=args.threshold)
    figs = {"finder": [], "model": []}
    alarms, asked = 0, 0
    look_alarms, look_asked = 0, 0
    peaks = {"present": [], "absent": []}  # the finder's peak for the named sound / a sound not in the clip
    from rfm_studio.core.data.captions import CAPTIONS, caption_for
    from rfm_studio.core.data.triplets import family
    from rfm_studio.core.detection.train import near_classes

    near = near_classes(tuple(sorted(CAPTIONS)), 6)
    for i, r in enumerate(rows):
        x, _ = load_audio(manifest.parent / r["input"], mono=True, target_sr=16000)
        true = r.get("edit_spans") or [[r["edit_start_s"], r["edit_end_s"]]]
        p = sound_probs(finder, x, query_text(r["instruction"]))
        peaks["present"].append(float(p.max()))
        y = mask_from_spans(true, len(p))[: len(p)]
        cands = {"finder": (p, strongest_spans(p, fc, 3) if p.max() >= args.threshold else [])}
        f = Path(args.cache or "") / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', r['id'])}.npz"
        if args.cache and f.exists():
            z = np.load(f)
            prof = removal_profile(z["mel_in"], z["mel_out"])
            n = min(len(prof), len(p))
            prof = np.pad(prof[:n], (0, len(p) - n))
            cands["model"] = (prof, flagged_spans(prof, SelfPromptConfig()))
        line = [r["id"], f"'{query_text(r['instruction'])}'"]
        for name, (score, spans) in cands.items():
            on = mask_from_spans(spans, len(p))[: len(p)] if spans else np.zeros(len(p), bool)
            tp = float((on & y).sum())
            prec = tp / on.sum() if on.any() else None
            rec = tp / max(1.0, float(y.sum()))
            top = max(spans, key=lambda s: score[int(s[0] * 100): int(s[1] * 100)].sum()) if spans else None
            hit = top is not None and any(top[0] < b and top[1] > a for a, b in true)
            figs[name].append({"precision": prec, "recall": rec, "auc": auc(score, y), "hit": hit,
                               "found": bool(spans)})
            line.append(f"{name} {'HIT' if hit else 'miss' if spans else 'none'} rec {rec:.2f}")
        # a sound this clip does not hold: the next row's, when its class is not among this clip's
        other = rows[(i + 1) % len(rows)]
        here = {(r.get("meta") or {}).get(k, {}).get("class") for k in ("A", "B")} | set(
            (r.get("classes") or {}).get("x", []))
        ocls = removed_class(other)
        if ocls and ocls not in here:
            asked += 1
            q = sound_probs(finder, x, query_text(other["instruction"]))
            alarms += bool(q.max() >= args.threshold)
            peaks["absent"].append(float(q.max()))
            line.append(f"absent '{query_text(other['instruction'])}' peak {q.max():.2f}")
        # a look-alike of X (the nearest class by caption) that this clip does not hold
        xc = removed_class(r)
        held = {family(h) for h in here if h}
        look = [c for c in near.get(xc, []) if family(c) not in held]  # no family the clip holds
        if look:
            look_asked += 1
            q = sound_probs(finder, x, caption_for(look[0]))
            look_alarms += bool(q.max() >= args.threshold)
            line.append(f"look-alike '{caption_for(look[0])}' peak {q.max():.2f}")
        print("  ".join(line), flush=True)
    print(f"\n{len(rows)} remove rows of {manifest}; threshold {args.threshold}")
    for name, fs in figs.items():
        if not fs:
            continue
        prec = [f["precision"] for f in fs if f["precision"] is not None]
        aucs = [f["auc"] for f in fs if f["auc"] is not None]
        print(f"{name:7s} found {np.mean([f['found'] for f in fs]):.0%}  top span hit {np.mean([f['hit'] for f in fs]):.0%}"
              f"  frame precision {np.mean(prec) if prec else float('nan'):.2f}  recall {np.mean([f['recall'] for f in fs]):.2f}"
              f"  AUC {np.mean(aucs):.3f}")
    if asked:
        print(f"absent sounds: found in {alarms} of {asked} clips ({alarms / asked:.0%})")
    from rfm_studio.core.edit_summary import DOUBT_PEAK

    if peaks["present"]:  # the report's "unsure" sentence (edit_summary.doubt_text) for each kind of query
        print(f"peaks under {DOUBT_PEAK:g} (the report says the finder is unsure): "
              + ", ".join(f"{k} {np.mean(np.array(v) < DOUBT_PEAK):.0%} of {len(v)} (median peak {np.median(v):.2f})"
                          for k, v in peaks.items() if v))
    if look_asked:
        print(f"absent look-alikes (the nearest class by caption): found in {look_alarms} of {look_asked} clips "
              f"({look_alarms / look_asked:.0%})")


if __name__ == "__main__":
    main()
