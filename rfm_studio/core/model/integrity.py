"""What a bundle folder may hold, copying it without following links, and checking it before
it loads (its sha256 manifest, cached by each file's size and times so repeat loads stay fast).

A bundle holds only folders and regular files. A symbolic link is accepted only when it names
a regular file inside the same bundle (it is then read, hashed and copied as that file); links
to folders, links that leave the bundle, dangling links, link loops and anything else (fifos,
sockets, devices) are refused. Every file the bundle holds must be listed in its manifest, and
every path a config names must stay inside the bundle. Imports no torch.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path, PurePosixPath

from ..errors import ModelLoadError

# names the atomic writers use for their temporary files (never read by a loader)
TEMP_PREFIXES = (".tmp-", ".rfm-")
MAX_DEPTH = 32
CACHE_NAME = "verified-bundles.json"
CACHE_LIMIT = 64  # bundles remembered


def _is_temp(name: str) -> bool:
    return name.startswith(TEMP_PREFIXES)


def scan_tree(folder) -> tuple[dict[str, Path], list[str]]:
    """The bundle's files, without following links out of it: ({relative path: path to read},
    problems). Each problem is a short phrase naming the entry."""
    folder = Path(folder)
    try:
        root = folder.resolve(strict=True)
    except (OSError, RuntimeError):
        return {}, [f"{folder} cannot be read"]
    files: dict[str, Path] = {}
    problems: list[str] = []

    def walk(d: Path, rel: str, depth: int):
        if depth > MAX_DEPTH:
            problems.append(f"{rel} is nested more than {MAX_DEPTH} folders deep")
            return
        try:
            entries = sorted(os.scandir(d), key=lambda e: e.name)
        except OSError as exc:
            problems.append(f"{rel or '.'} cannot be read ({(exc.strerror or 'error').lower()})")
            return
        for e in entries:
            r = f"{rel}/{e.name}" if rel else e.name
            try:
                st = os.lstat(e.path)
            except OSError as exc:
                problems.append(f"{r} cannot be read ({(exc.strerror or 'error').lower()})")
                continue
            if stat.S_ISDIR(st.st_mode):
                walk(Path(e.path), r, depth + 1)
            elif stat.S_ISREG(st.st_mode):
                if not _is_temp(e.name):
                    files[r] = Path(e.path)
            elif stat.S_ISLNK(st.st_mode):
                problem = _link_problem(Path(e.path), root)
                if problem:
                    problems.append(f"{r} is {problem}")
                else:
                    files[r] = Path(e.path)
            else:
                problems.append(f"{r} is not a regular file or folder")

    walk(root, "", 0)
    return files, problems


def _link_problem(p: Path, root: Path) -> str | None:
    """None when the link ``p`` names a regular file inside ``root``; else what is wrong."""
    try:
        st = os.stat(p)  # follows the whole chain: ELOOP for a loop, ENOENT when dangling
    except OSError as exc:
        import errno

        if exc.errno == errno.ELOOP:
            return "a link loop"
        return "a link to nothing"
    try:
        target = Path(os.path.realpath(p))
        target.relative_to(root)
    except ValueError:
        return f"a link that leaves the bundle (to {target})"
    if stat.S_ISDIR(st.st_mode):
        return "a link to a folder"
    if not stat.S_ISREG(st.st_mode):
        return "a link to something that is not a regular file"
    return None


def tree_problems(folder) -> list[str]:
    return scan_tree(folder)[1]


def copy_bundle(src, dst) -> int:
    """Copy the bundle ``src`` into the new or empty folder ``dst`` without following links out of
    it (an in-bundle link to a file is copied as that file). Nothing is written when ``src``
    holds a forbidden entry: ModelLoadError (one sentence). Returns the number of files copied."""
    src, dst = Path(src), Path(dst)
    files, problems = scan_tree(src)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ModelLoadError(f"{src} cannot be imported: {problems[0]}{more}; a bundle may only hold "
                             "folders and regular files.")
    import shutil

    man = src / "manifest.json"
    if man.is_file() and not man.is_symlink() and "manifest.json" not in files:
        files["manifest.json"] = man
    for rel, path in files.items():
        out = dst / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0)
        real = Path(os.path.realpath(path)) if path.is_symlink() else path
        fd = os.open(real, flags)  # the in-bundle target itself; O_NOFOLLOW: never a link swapped in since
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise ModelLoadError(f"{src} cannot be imported: {rel} is not a regular file.")
            with open(out, "xb") as g:
                shutil.copyfileobj(f, g, 1 << 20)
    return len(files)


# ---- paths inside configs ------------------------------------------------------------------

# keys whose values are informational (where a model came from), never opened by a loader
_INFO_KEYS = {"_name_or_path", "base_model_name_or_path", "name_or_path", "_commit_hash"}
_PATH_KEY_SUFFIXES = ("_file", "_path", "_dir", "_folder", "_files")


def _looks_like_path_key(key: str) -> bool:
    k = key.lower()
    return k in ("base", "adapter", "path", "file", "folder", "dir") or k.endswith(_PATH_KEY_SUFFIXES)


def path_inside(root: Path, rel_to: Path, value) -> bool:
    """Whether the config value ``value`` (a path relative to ``rel_to``) stays inside ``root``."""
    if not isinstance(value, str) or not value or "\0" in value or "\\" in value:
        return False
    pp = PurePosixPath(value)
    if pp.is_absolute() or (pp.parts and ":" in pp.parts[0]) or value.startswith("~"):
        return False
    try:
        (rel_to / value).resolve().relative_to(root.resolve())
    except (ValueError, OSError, RuntimeError):
        return False
    return True


def config_path_problems(folder, files: dict[str, Path] | None = None) -> list[str]:
    """Paths named in the bundle's JSON files that leave the bundle: every key that names a
    file, folder or path (``base``, ``adapter``, ``*_file``, ``*_path``...) and a sharded
    checkpoint's ``weight_map``. Special values (``package:...``, ``folder``) are allowed."""
    folder = Path(folder)
    if files is None:
        files = scan_tree(folder)[0]
    problems = []
    for rel, path in files.items():
        if not rel.endswith(".json"):
            continue
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # unreadable JSON is reported by whoever loads it
        here = (folder / rel).parent

        def visit(node, key_path):
            if isinstance(node, dict):
                for k, v in node.items():
                    if not isinstance(k, str):
                        continue
                    if k == "weight_map" and isinstance(v, dict):
                        for shard in v.values():
                            if isinstance(shard, str) and not path_inside(folder, here, shard):
                                problems.append(f"{rel} names a weight file outside the bundle ({shard[:80]!r})")
                        continue
                    if k in _INFO_KEYS:
                        continue
                    if isinstance(v, str) and _looks_like_path_key(k) and v:
                        if v.startswith("package:") or v in ("folder", "lora"):
                            if k == "base" and v.startswith("package:") and not _known_package(v):
                                problems.append(f"{rel} names an unknown text encoder package ({v[:80]!r})")
                            continue
                        if not path_inside(folder, here, v):
                            problems.append(f"{rel} has a path outside the bundle in \"{k}\" ({v[:80]!r})")
                    else:
                        visit(v, key_path + (k,))
            elif isinstance(node, list):
                for v in node:
                    visit(v, key_path)

        visit(data, ())
    return problems


def _known_package(value: str) -> bool:
    from .kinds import MINILM_PACKAGE

    return value == MINILM_PACKAGE


# ---- checked before a bundle loads ------------------------------------------------------------

def _stamp(path: Path) -> list[int]:
    st = os.stat(path)
    return [st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_dev]


def _cache_path() -> Path:
    from ..paths import user_cache_dir

    return user_cache_dir() / CACHE_NAME


def _read_cache() -> dict:
    try:
        data = json.loads(_cache_path().read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def _write_cache(key: str, stamps: dict) -> None:
    from ..atomic import atomic_write_text

    data = _read_cache()
    data.pop(key, None)
    data[key] = stamps
    while len(data) > CACHE_LIMIT:
        data.pop(next(iter(data)))
    try:
        _cache_path().parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(_cache_path(), json.dumps(data))
    except OSError:
        pass  # a read-only cache folder: the next load hashes again


def check_bundle_before_load(folder, use_cache: bool = True) -> str:
    """One sentence (ModelLoadError) unless ``folder`` holds only folders and regular files, every
    file is listed in its manifest and matches its sha256, the manifest lists every file the
    model needs, and no config names a path outside the bundle. The result is cached in the user
    cache folder by each file's (path, size, mtime_ns, ctime_ns, inode), so a bundle that has not
    changed is not hashed again. Returns "cached" or "hashed"."""
    from .manifest import MANIFEST, verify_manifest

    folder = Path(folder)
    try:
        key = str(folder.resolve(strict=True))
    except (OSError, RuntimeError):
        raise ModelLoadError(f"Model folder {folder} cannot be read.") from None
    files, problems = scan_tree(folder)
    if problems:
        raise ModelLoadError(f"The model in {folder} was not loaded: {problems[0]}.")
    man = folder / MANIFEST
    if not man.is_file() or man.is_symlink():
        raise ModelLoadError(f"The model in {folder} has no {MANIFEST}, so its files cannot be verified; "
                             f"import it with 'rfm-studio models import {folder}'.")
    try:
        stamps = {rel: _stamp(p) for rel, p in files.items()}
        stamps[MANIFEST] = _stamp(man)
    except OSError as exc:
        raise ModelLoadError(f"The model in {folder} cannot be read ({exc.strerror}).") from None
    if use_cache and _read_cache().get(key) == stamps:
        return "cached"
    problems = verify_manifest(folder, tree=(files, problems))  # the tree scanned above: once per load
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ModelLoadError(f"The model in {folder} does not match its {MANIFEST}: {problems[0]}{more}; "
                             "it was not loaded.")
    _write_cache(key, stamps)
    return "hashed"
