"""sha256 manifest of a bundle's files (written on save, checked by `models verify`)."""

from __future__ import annotations

import hashlib
from pathlib import Path

from .files import read_json, write_json

MANIFEST = "manifest.json"


def file_sha256(path, chunk=1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            b = f.read(chunk)
            if not b:
                break
            h.update(b)
    return h.hexdigest()


def bundle_files(folder: Path):
    for p in sorted(folder.rglob("*")):
        if p.is_file() and p.name != MANIFEST and not p.name.startswith(".tmp-"):
            yield p


def write_manifest(folder) -> dict:
    folder = Path(folder)
    files = {p.relative_to(folder).as_posix(): {"sha256": file_sha256(p), "size": p.stat().st_size}
             for p in bundle_files(folder)}
    write_json(folder / MANIFEST, {"files": files})
    return files


def verify_manifest(folder) -> list[str]:
    """Problems found (empty list: the bundle matches its manifest)."""
    folder = Path(folder)
    man = read_json(folder / MANIFEST).get("files", {})
    problems = []
    for rel, meta in man.items():
        p = folder / rel
        if not p.exists():
            problems.append(f"missing file {rel}")
        elif p.stat().st_size != meta.get("size"):
            problems.append(f"{rel} has size {p.stat().st_size}, expected {meta.get('size')}")
        elif file_sha256(p) != meta.get("sha256"):
            problems.append(f"{rel} does not match its sha256")
    return problems
