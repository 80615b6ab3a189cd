"""Triplets from files: pairing originals with targets by name, CSV/JSONL tables, drops.

The pairing rule (the tab's Folder… button says it too):

* Two sub-folders: the folder holds ``in/`` (or ``input``, ``inputs``, ``original``,
  ``originals``, ``before``) and ``out/`` (or ``output``, ``outputs``, ``target``,
  ``targets``, ``after``); files with the same name (ignoring the extension) in both
  make a triplet.
* One folder: ``NAME.wav`` (or ``NAME_in``, ``NAME_input``, ``NAME_original``,
  ``NAME_before``) pairs with ``NAME_target.wav`` (or ``NAME_out``, ``NAME_output``,
  ``NAME_after``); the separator may be ``_``, ``-``, ``.`` or a space, any case, any
  audio extension.
* An optional ``instructions.txt`` (or ``instruction.txt``) in the folder gives the
  instruction of every imported triplet.

Pure Python (no Qt, no torch), so it is easy to test.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ...core.atomic import atomic_write_text
from ...core.audio.io import READ_EXTENSIONS

IN_DIRS = ("in", "input", "inputs", "original", "originals", "before")
OUT_DIRS = ("out", "output", "outputs", "target", "targets", "after")
IN_TAGS = ("in", "input", "orig", "original", "before")
OUT_TAGS = ("target", "out", "output", "after")
INSTRUCTION_FILES = ("instructions.txt", "instruction.txt")
_SUFFIX = re.compile(r"^(?P<key>.+?)[ _.\-](?P<tag>[A-Za-z]+)$")


@dataclass
class Triplet:
    input: str  # absolute paths ("" when missing)
    target: str
    instruction: str = ""


@dataclass
class Found:
    triplets: list = field(default_factory=list)
    unpaired: list = field(default_factory=list)  # files without a partner (names)
    notes: list = field(default_factory=list)  # one sentence each, for the tab


def is_audio(p: Path) -> bool:
    return p.is_file() and p.suffix.lower() in READ_EXTENSIONS and not p.name.startswith(".")


def split_name(p: Path) -> tuple[str, str]:
    """(key, role) of a file: role 'target' for NAME_target, 'input' otherwise."""
    stem = p.stem
    m = _SUFFIX.match(stem)
    if m:
        tag = m.group("tag").lower()
        if tag in OUT_TAGS:
            return m.group("key").lower(), "target"
        if tag in IN_TAGS:
            return m.group("key").lower(), "input"
    return stem.lower(), "input"


def pair_files(files, instruction: str = "") -> Found:
    """Pair a flat list of audio files by the NAME / NAME_target rule."""
    found = Found()
    inputs: list[Path] = []
    targets: dict[str, Path] = {}
    for f in sorted((Path(x) for x in files), key=lambda q: q.name.lower()):
        key, role = split_name(f)
        if role == "input":
            inputs.append(f)
        elif key in targets:
            found.notes.append(f"{f.name} and {targets[key].name} both look like the target of '{key}'; "
                               f"{f.name} was left out.")
        else:
            targets[key] = f
    by_stem = {f.stem.lower(): f for f in inputs}  # 'rain_in' pairs with 'rain_in_target' ...
    by_key = {}
    for f in inputs:  # ... and 'door_in' with 'door_target'
        by_key.setdefault(split_name(f)[0], f)
    used = set()
    for key in sorted(targets):
        a = by_stem.get(key)
        if a is None or a in used:
            a = by_key.get(key)
        if a is None or a in used:
            found.unpaired.append(targets[key].name)
            continue
        used.add(a)
        found.triplets.append(Triplet(str(a.resolve()), str(targets[key].resolve()), instruction))
    found.unpaired += [f.name for f in inputs if f not in used]
    found.triplets.sort(key=lambda t: Path(t.input).name.lower())
    return found


def _find_dir(folder: Path, names) -> Path | None:
    for d in sorted(folder.iterdir()):
        if d.is_dir() and d.name.lower() in names:
            return d
    return None


def read_instruction_file(folder: Path) -> str:
    for name in INSTRUCTION_FILES:
        p = folder / name
        if p.is_file():
            lines = [ln.strip() for ln in p.read_text(encoding="utf-8", errors="replace").splitlines()]
            return next((ln for ln in lines if ln), "")
    return ""


def pair_folder(folder) -> Found:
    """Triplets of a folder by the rule in the module docstring."""
    folder = Path(folder)
    instruction = read_instruction_file(folder)
    din, dout = _find_dir(folder, IN_DIRS), _find_dir(folder, OUT_DIRS)
    if din is not None and dout is not None:
        found = Found()
        ins = {f.stem.lower(): f for f in sorted(din.iterdir()) if is_audio(f)}
        outs = {f.stem.lower(): f for f in sorted(dout.iterdir()) if is_audio(f)}
        for key in sorted(set(ins) | set(outs)):
            a, b = ins.get(key), outs.get(key)
            if a is not None and b is not None:
                found.triplets.append(Triplet(str(a.resolve()), str(b.resolve()), instruction))
            else:
                found.unpaired.append(f"{(a or b).parent.name}/{(a or b).name}")
        return found
    return pair_files([f for f in folder.iterdir() if is_audio(f)], instruction)


def read_table(path) -> list[Triplet]:
    """A CSV or JSONL with input, target, instruction (paths relative to the file's folder).
    Paths become absolute; the tab stages the files for training (see work.stage_triplets)."""
    from ...core.training.triplet_files import read_triplet_rows

    p = Path(path)
    base = p.parent
    rows = read_triplet_rows(p)
    out = []
    for r in rows:
        a, b = (r.get("input") or "").strip(), (r.get("target") or "").strip()
        out.append(Triplet(str((base / a).resolve()) if a else "", str((base / b).resolve()) if b else "",
                           str(r.get("instruction") or "").strip()))
    return out


def from_drop(paths, instruction: str = "") -> Found:
    """What a drop of files and folders on the table adds: folders and tables are imported,
    loose audio files are paired by name (two files that do not pair make one triplet, in
    the order original, target when one of them is named like a target, else by name)."""
    found = Found()
    loose = []
    for p in (Path(x) for x in paths):
        if p.is_dir():
            sub = pair_folder(p)
        elif p.suffix.lower() in (".csv", ".jsonl"):
            sub = Found(read_table(p))
        elif is_audio(p):
            loose.append(p)
            continue
        else:
            found.notes.append(f"{p.name} is neither audio, a folder nor a CSV/JSONL table; it was left out.")
            continue
        found.triplets += sub.triplets
        found.unpaired += sub.unpaired
        found.notes += sub.notes
    if loose:
        sub = pair_files(loose, instruction)
        if not sub.triplets and len(loose) == 2:
            a, b = sorted(loose, key=lambda q: (split_name(q)[1] == "target", q.name.lower()))
            sub = Found([Triplet(str(a.resolve()), str(b.resolve()), instruction)])
        found.triplets += sub.triplets
        found.unpaired += sub.unpaired
        found.notes += sub.notes
    return found


def write_table(path, triplets) -> None:
    """Save the tab's table as JSONL with absolute paths (re-importable with read_table)."""
    lines = [json.dumps({"input": t.input, "target": t.target, "instruction": t.instruction}) for t in triplets]
    atomic_write_text(path, "\n".join(lines) + "\n")
