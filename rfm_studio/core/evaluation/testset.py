"""The evaluation manifest: JSONL lines of id, input, target, instruction, target_caption.

Paths are relative to the manifest's folder and must stay inside it. Optional per line:
``edit_spans`` [[start_s, end_s], ...] or ``edit_start_s`` / ``edit_end_s`` (the frames of
the edited event, for the gain and keep-error figures), ``task`` (add/remove/replace, for
per-task figures). Everything is checked before any model or network is loaded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import OptionError


@dataclass(frozen=True)
class EvalItem:
    id: str
    input: Path
    target: Path
    instruction: str
    target_caption: str | None = None
    spans: tuple | None = None  # ((start_s, end_s), ...) or None: derive from the mels
    task: str | None = None
    extra: dict = field(default_factory=dict)


def _num(x) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _spans(row: dict, where: str):
    if row.get("edit_spans") is not None:
        sp = row["edit_spans"]
        if not isinstance(sp, list):
            raise OptionError(f"{where} has 'edit_spans' that is not a list of [start_s, end_s] pairs.")
        out = []
        for pair in sp:
            if not isinstance(pair, (list, tuple)) or len(pair) != 2:
                raise OptionError(f"{where} has 'edit_spans' that is not a list of [start_s, end_s] pairs.")
            s, e = _num(pair[0]), _num(pair[1])
            if s is None or e is None or s < 0 or e <= s:
                raise OptionError(f"{where} has an invalid edit span {pair!r} (need 0 <= start < end, in seconds).")
            out.append((s, e))
        return tuple(out) if out else None
    s, e = row.get("edit_start_s"), row.get("edit_end_s")
    if s is None and e is None:
        return None
    s, e = _num(s), _num(e)
    if s is None or e is None or s < 0 or e <= s:
        raise OptionError(f"{where} has invalid edit_start_s/edit_end_s (need 0 <= start < end, in seconds).")
    return ((s, e),)


def load_testset(manifest, limit: int | None = None) -> list[EvalItem]:
    """Parse and check the manifest (files exist, ids unique). Raises one-sentence errors."""
    from ..training.sources import manifest_audio, read_manifest

    p = Path(manifest)
    if p.is_dir():
        raise OptionError(f"Expected a JSONL manifest file but got a folder: {p}")
    rows = read_manifest(p)
    if limit is not None:
        if limit < 1:
            raise OptionError(f"--limit must be at least 1, got {limit}.")
        rows = rows[:limit]
    base = p.parent
    items, seen = [], set()
    for i, row in enumerate(rows, 1):
        if not isinstance(row, dict):
            raise OptionError(f"Entry {i} of {p.name} is not a JSON object.")
        rid = str(row.get("id", f"row{i:04d}"))
        where = f"Entry {i} ('{rid}') of {p.name}"
        if rid in seen:
            raise OptionError(f"{where} repeats the id '{rid}'; ids must be unique.")
        seen.add(rid)
        for key in ("input", "target", "instruction"):
            if not isinstance(row[key], str) or not row[key].strip():
                raise OptionError(f"{where} has an empty or non-text '{key}'.")
        cap = row.get("target_caption")
        if cap is not None and (not isinstance(cap, str) or not cap.strip()):
            raise OptionError(f"{where} has an empty or non-text 'target_caption'.")
        inp = manifest_audio(base, row["input"], where)[0]
        tgt = manifest_audio(base, row["target"], where)[0]
        task = row.get("task")
        items.append(EvalItem(rid, inp, tgt, row["instruction"].strip(), cap.strip() if cap else None,
                              _spans(row, where), str(task) if task is not None else None,
                              {k: row[k] for k in ("templated",) if k in row}))
    return items
