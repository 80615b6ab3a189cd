"""Adapter folders on disk: names, listing, lookup, rename, delete. Imports no torch, so the
GUI can list adapters before the model (and torch) is loaded."""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..errors import ModelLoadError, OptionError
from ..names import portable
from .files import write_json

NAME_RE = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9 _.-]{0,62}[A-Za-z0-9_-])?$")
CARD = "adapter_card.json"


def check_name(name: str) -> str:
    """A new adapter's name: a plain folder name that is valid on every system."""
    if not isinstance(name, str) or not NAME_RE.match(name) or not portable(name):
        raise OptionError(f"Adapter name '{name}' must be 1-64 letters, digits, spaces, '.', '_' or '-', "
                          "start with a letter or digit, not end with a space or '.', and not be a "
                          "device name such as 'con' or 'nul'.")
    return name


def _existing(base: Path, name: str) -> Path:
    """The folder of an existing adapter ``name`` directly inside ``base``. Besides valid names,
    any plain entry of the folder is accepted (an adapter saved under an older, looser rule can
    still be renamed or deleted); separators, hidden names ('.', '..', the
    temporary '.tmp-' folders) and absolute paths never are."""
    if (not isinstance(name, str) or not name or name.startswith(".") or "/" in name or "\\" in name
            or "\0" in name or Path(name).is_absolute() or Path(name).name != name):
        raise OptionError(f"Adapter name '{name}' is not a plain adapter name.")
    d = base / name
    if not (d / CARD).is_file() or d.is_symlink() or name not in _entries(base):
        raise OptionError(f"Adapter '{name}' not found.")
    return d


def _entries(base: Path) -> set:
    try:
        return {e.name for e in base.iterdir()}
    except OSError:
        return set()


def resolve_adapter(name) -> Path:
    """The folder of the adapter ``name``, directly inside the user adapters folder: never a path
    (``../evil``, an absolute path), a link, or a folder holding links or anything but folders
    and regular files. One sentence (OptionError / ModelLoadError) otherwise."""
    from ..paths import user_adapters_dir

    base = user_adapters_dir()
    if not isinstance(name, str) or not name or name.startswith(".") or "/" in name or "\\" in name \
            or "\0" in name or Path(name).is_absolute() or Path(name).name != name:
        raise OptionError(f"Adapter '{name}' is not an adapter name: adapters are loaded by name from {base} "
                          "(save or copy one there with 'rfm-studio finetune').")
    d = base / name
    if d.is_symlink():
        raise OptionError(f"Adapter '{name}' is a link; adapters are loaded only from folders inside {base}.")
    if not (d / CARD).is_file() or name not in _entries(base):
        raise ModelLoadError(f"Adapter '{name}' not found (looked in {base}).")
    from .integrity import scan_tree

    _files, problems = scan_tree(d)
    problems += [f"{rel} is a link" for rel, p in _files.items() if p.is_symlink()]
    if problems:
        raise ModelLoadError(f"Adapter '{name}' was not loaded: {problems[0]}.")
    return d


def list_adapters(folder=None) -> list[tuple[str, Path, dict]]:
    from ..paths import user_adapters_dir

    base = Path(folder) if folder else user_adapters_dir()
    out = []
    if base.exists():
        for d in sorted(base.iterdir()):
            card = d / CARD
            if card.exists() and not d.name.startswith("."):
                try:
                    out.append((d.name, d, json.loads(card.read_text(encoding="utf-8"))))
                except ValueError:
                    continue
    return out


def delete_adapter(name: str, folder=None):
    from ..paths import user_adapters_dir

    from ..swap import discard_tree

    d = _existing(Path(folder) if folder else user_adapters_dir(), name)
    left = discard_tree(d)  # out of the list in one rename, then deleted
    if left is not None:
        raise OSError(f"some of the adapter's files could not be deleted; they are left in {left}")


def rename_adapter(old: str, new: str, folder=None) -> Path:
    from ..paths import user_adapters_dir

    base = Path(folder) if folder else user_adapters_dir()
    check_name(new)
    src = _existing(base, old)
    dst = base / new
    if dst.exists() or dst.is_symlink():
        raise OptionError(f"An adapter named '{new}' already exists.")
    src.rename(dst)
    card = json.loads((dst / "adapter_card.json").read_text(encoding="utf-8"))
    card["name"] = new
    write_json(dst / CARD, card)
    return dst
