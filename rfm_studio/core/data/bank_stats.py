"""Figures of a built event bank: clips, classes, recordings per class, packages, licences."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from .bank import load_manifest


def bank_stats(bank_dir) -> dict:
    clips = load_manifest(bank_dir)
    per_class = Counter(c.cls for c in clips)
    per_pkg = Counter(c.package for c in clips)
    per_lic = Counter(c.licence for c in clips)
    cur = Path(bank_dir) / "curation.jsonl"
    dropped = [json.loads(l) for l in cur.read_text(encoding="utf-8").splitlines() if l.strip()] if cur.is_file() else []
    reasons = Counter(_reason_kind(d.get("reason", "")) for d in dropped)
    lc = Path(bank_dir) / "label_check.json"
    label = json.loads(lc.read_text(encoding="utf-8")) if lc.is_file() else {}
    counts = sorted(per_class.values())
    return {
        "clips": len(clips),
        "classes": len(per_class),
        "classes_with_10": sum(1 for n in counts if n >= 10),
        "median_per_class": counts[len(counts) // 2] if counts else 0,
        "min_per_class": counts[0] if counts else 0,
        "packages": len(per_pkg),
        "hours": round(sum(c.duration_s for c in clips) / 3600, 2),
        "splits": dict(Counter(c.split for c in clips)),
        "per_class": dict(sorted(per_class.items())),
        "per_package": dict(per_pkg.most_common()),
        "per_licence": dict(per_lic.most_common()),
        "dropped": dict(reasons.most_common()),
        "label_check_accuracy": label.get("accuracy"),
    }


def _reason_kind(reason: str) -> str:
    r = reason.lower()
    for key, name in (("label check", "label check"), ("same recording", "duplicate"), ("clipped", "clipping"),
                      ("near-silent", "silence"), ("no active", "silence"), ("too short", "too short"),
                      ("cannot", "undecodable")):
        if key in r:
            return name
    return "manual"


def format_stats(s: dict) -> str:
    lines = [
        f"clips {s['clips']}, classes {s['classes']} ({s['classes_with_10']} with >= 10 recordings; "
        f"median {s['median_per_class']}, min {s['min_per_class']} per class), packages {s['packages']}, "
        f"{s['hours']} h, splits {s['splits']}",
        "dropped by curation: " + (", ".join(f"{k} {v}" for k, v in s["dropped"].items()) or "none")
        + (f"; label check held-out accuracy {s['label_check_accuracy']}" if s.get("label_check_accuracy") is not None else ""),
        "licences: " + ", ".join(f"{k} {v}" for k, v in s["per_licence"].items()),
        "packages: " + ", ".join(f"{k} {v}" for k, v in s["per_package"].items()),
        "classes: " + ", ".join(f"{k} {v}" for k, v in s["per_class"].items()),
    ]
    return "\n".join(lines)
