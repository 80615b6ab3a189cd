"""The starter library shipped with the app (resources/library/: short mono clips curated
from the event bank's training packages, licence and source of each in licences.tsv)."""

from __future__ import annotations

import csv
from pathlib import Path


def starter_dir() -> Path | None:
    from ..paths import resources_dir

    d = resources_dir() / "library"
    return d if (d / "licences.tsv").is_file() else None


def licences() -> dict[str, dict]:
    """file name -> its row of licences.tsv (file, class, description, licence, source, package)."""
    d = starter_dir()
    if d is None:
        return {}
    with (d / "licences.tsv").open(newline="", encoding="utf-8") as f:
        return {r["file"]: r for r in csv.DictReader(f, delimiter="\t")}
