"""Reading a user's triplet table: JSONL (input, target, instruction) or CSV with those
columns; paths relative to the file's folder and never outside it. Also validation of the
audio itself, with one message per problem (for the CLI and the Fine-tuning tab)."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import OptionError
from .finetune_config import MIN_TRIPLETS
from .sources import read_manifest, resolve_inside


@dataclass
class TripletTable:
    path: Path  # the JSONL or CSV file
    rows: list  # dicts with input, target, instruction (paths relative to ``base``)

    @property
    def base(self) -> Path:
        return self.path.parent


def read_triplet_rows(path) -> list[dict]:
    """Rows of a JSONL manifest or a CSV with input, target and instruction columns."""
    p = Path(path)
    if not p.exists():
        raise OptionError(f"Triplet file not found: {p}")
    from .sources import check_regular_file

    check_regular_file(p, "The triplet file")
    if p.suffix.lower() != ".csv":
        try:
            return read_manifest(p)
        except UnicodeDecodeError:
            raise OptionError(f"{p.name} is not a text file.") from None
    try:
        with open(p, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            missing = {"input", "target", "instruction"} - set(reader.fieldnames or [])
            if missing:
                raise OptionError(f"{p.name} lacks the column(s): {', '.join(sorted(missing))}.")
            rows = [{k: r[k] for k in ("input", "target", "instruction")} for r in reader]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise OptionError(f"{p.name} could not be read ({type(exc).__name__}).") from None
    if not rows:
        raise OptionError(f"{p.name} has no triplets.")
    return rows


def load_triplet_table(path) -> TripletTable:
    return TripletTable(Path(path), read_triplet_rows(path))


def validate_triplets(rows: list[dict], base: Path, min_count: int = MIN_TRIPLETS) -> list[str]:
    """Problems with a user's triplets, one sentence each (empty: ready to train)."""
    from ..audio.io import load_audio
    from ..errors import AudioReadError

    problems = []
    if len(rows) < min_count:
        problems.append(f"At least {min_count} triplets are needed; there are {len(rows)}.")
    seen = set()
    for i, r in enumerate(rows, 1):
        key = (r.get("input"), r.get("target"), (r.get("instruction") or "").strip().lower())
        if key in seen:
            problems.append(f"Triplet {i} duplicates an earlier one.")
        seen.add(key)
        if not (r.get("instruction") or "").strip():
            problems.append(f"Triplet {i} has no instruction.")
        lens = []
        for side in ("input", "target"):
            try:
                a, sr = load_audio(resolve_inside(base, r.get(side) or ""), mono=True)
            except (AudioReadError, OptionError) as exc:
                problems.append(f"Triplet {i} {side}: {exc}")
                continue
            if float(np.sqrt(np.mean(a.astype(np.float64) ** 2))) < 1e-4:
                problems.append(f"Triplet {i} {side} is silent.")
            lens.append(len(a) / sr)
        if len(lens) == 2 and max(lens) > 1.5 * min(lens) + 0.5:
            problems.append(f"Triplet {i}: input and target lengths differ a lot ({lens[0]:.1f} s vs {lens[1]:.1f} s).")
    return problems
