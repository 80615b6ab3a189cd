"""Adapter folders on disk: names, listing, lookup, rename, delete. Imports no torch, so the
GUI can list adapters before the model (and torch) is loaded."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

from ..errors import ModelLoadError, OptionError

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")
CARD = "adapter_card.json"


def _write_json(path: Path, data: dict):
    tmp = path.with_name(f".tmp-{path.name}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    tmp.replace(path)


def check_name(name: str) -> str:
    if not NAME_RE.match(name or ""):
        raise OptionError(f"Adapter name '{name}' must be 1-64 letters, digits, spaces, '.', '_' or '-'.")
    return name


def resolve_adapter(name_or_path) -> Path:
    from ...paths import user_adapters_dir

    p = Path(name_or_path).expanduser()
    if (p / "adapter_card.json").exists():
        return p
    q = user_adapters_dir() / str(name_or_path)
    if (q / "adapter_card.json").exists():
        return q
    raise ModelLoadError(f"Adapter '{name_or_path}' not found (looked in {user_adapters_dir()}).")


def list_adapters(folder=None) -> list[tuple[str, Path, dict]]:
    from ...paths import user_adapters_dir

    base = Path(folder) if folder else user_adapters_dir()
    out = []
    if base.exists():
        for d in sorted(base.iterdir()):
            card = d / CARD
            if card.exists() and not d.name.startswith("."):
                try:
                    out.append((d.name, d, json.loads(card.read_text())))
                except ValueError:
                    continue
    return out


def delete_adapter(name: str, folder=None):
    from ...paths import user_adapters_dir

    d = (Path(folder) if folder else user_adapters_dir()) / name
    if not (d / "adapter_card.json").exists():
        raise OptionError(f"Adapter '{name}' not found.")
    shutil.rmtree(d)


def rename_adapter(old: str, new: str, folder=None) -> Path:
    from ...paths import user_adapters_dir

    base = Path(folder) if folder else user_adapters_dir()
    check_name(new)
    src, dst = base / old, base / new
    if not (src / "adapter_card.json").exists():
        raise OptionError(f"Adapter '{old}' not found.")
    if dst.exists():
        raise OptionError(f"An adapter named '{new}' already exists.")
    src.rename(dst)
    card = json.loads((dst / "adapter_card.json").read_text())
    card["name"] = new
    _write_json(dst / CARD, card)
    return dst
