"""sha256 manifest of a bundle's files (written on save, checked by `models verify` and on import).

A bundle verifies when its manifest is well formed (``{"files": {relative path: {"sha256": hex,
"size": bytes}}}`` with every path inside the folder), every file it lists matches, and every
file the bundle needs to load (from ``model_index.json`` and the component configs) is listed.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path, PurePosixPath

from ..errors import ModelLoadError
from .files import read_json, write_json
from .kinds import MINILM_PACKAGE, vocoder_kind

MANIFEST = "manifest.json"
_SHA256 = re.compile(r"[0-9a-f]{64}")


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


def _inside(folder: Path, rel) -> bool:
    """Whether ``rel`` names a path inside ``folder`` (relative, no '..', no links leading out)."""
    if not isinstance(rel, str) or not rel or "\\" in rel or "\0" in rel:
        return False
    pp = PurePosixPath(rel)
    if pp.is_absolute() or ".." in pp.parts or (pp.parts and ":" in pp.parts[0]):
        return False
    try:
        (folder / rel).resolve().relative_to(folder.resolve())
    except (ValueError, OSError):
        return False
    return True


def _config(folder: Path, rel: str) -> dict:
    """A component's JSON config ({} when it is missing: the missing file is reported elsewhere)."""
    p = folder / rel
    if not p.is_file():
        return {}
    d = read_json(p)
    if not isinstance(d, dict):
        raise ModelLoadError(f"Model file {p} is not a JSON object.")
    return d


def _weights(folder: Path, sub: str, stem: str) -> list[str]:
    """``sub/stem.safetensors``, or a sharded checkpoint's index and every shard it names."""
    index = f"{sub}/{stem}.safetensors.index.json"
    if not (folder / index).is_file():
        return [f"{sub}/{stem}.safetensors"]
    weight_map = _config(folder, index).get("weight_map")
    if not isinstance(weight_map, dict):
        raise ModelLoadError(f"Model file {folder / index} has no weight_map.")
    shards = sorted({f"{sub}/{v}" for v in weight_map.values() if isinstance(v, str)})
    for s in shards:
        if not _inside(folder, s):
            raise ModelLoadError(f"Model file {folder / index} names a shard outside the bundle ({s}).")
    return [index] + shards


def required_files(folder) -> list[str]:
    """The files (relative, '/'-separated) the bundle in ``folder`` needs to load, read from its
    model_index.json and component configs. One sentence (ModelLoadError) when model_index.json
    is missing or does not describe an RFM Studio model."""
    folder = Path(folder)
    idx = read_json(folder / "model_index.json")
    if not isinstance(idx, dict) or idx.get("_class_name") != "RFMEditor":
        raise ModelLoadError(f"{folder / 'model_index.json'} does not describe an RFM Studio model.")
    need = ["model_index.json"]

    need.append("unet/config.json")
    unet = _config(folder, "unet/config.json")
    if unet.get("_class_name") == "MelUNet1D":
        need.append("unet/model.safetensors")
    elif unet:
        need += _weights(folder, "unet", "diffusion_pytorch_model")

    need.append("vae/config.json")
    if _config(folder, "vae/config.json").get("_class_name") == "AutoencoderKL":
        need += _weights(folder, "vae", "diffusion_pytorch_model")

    meta = _config(folder, "text_encoder/rfm_text_encoder.json")
    if (folder / "text_encoder/rfm_text_encoder.json").is_file():
        need.append("text_encoder/rfm_text_encoder.json")
    base = meta.get("base", "folder")
    if base not in ("folder", MINILM_PACKAGE):  # a transformers folder inside the bundle
        from .integrity import path_inside

        if not path_inside(folder, folder / "text_encoder", base):
            raise ModelLoadError(f"{folder / 'text_encoder/rfm_text_encoder.json'} names a text encoder "
                                 f"outside the bundle ({str(base)[:80]!r}).")
        sub = (PurePosixPath("text_encoder") / base).as_posix()
        need += [f"{sub}/config.json"] + _weights(folder, sub, "model")
    if base == "folder":
        need += ["text_encoder/config.json"] + _weights(folder, "text_encoder", "model")
        tok = "tokenizer" if (folder / "tokenizer").is_dir() else "text_encoder"
        need.append(f"{tok}/tokenizer_config.json")
        if tok == "tokenizer":  # every file of the tokenizer may be read: all of them are needed
            need += [p.relative_to(folder).as_posix() for p in sorted((folder / tok).rglob("*")) if p.is_file()]
    adapter = meta.get("adapter")
    if adapter:
        rel = f"text_encoder/{adapter}"
        if not isinstance(adapter, str) or not _inside(folder, rel):
            raise ModelLoadError(f"{folder / 'text_encoder/rfm_text_encoder.json'} names an adapter outside "
                                 "the bundle.")
        need += [f"{rel}/adapter_config.json", f"{rel}/adapter_model.safetensors"]

    need.append("vocoder/config.json")
    kind = vocoder_kind(_config(folder, "vocoder/config.json"))
    if kind == "hifigan":
        need += _weights(folder, "vocoder", "model")
    elif kind == "bigvgan":
        need.append("vocoder/bigvgan_generator.pt")
    return list(dict.fromkeys(need))


def missing_files(folder) -> list[str]:
    """Problems with the files the bundle needs (empty: they are all there), with entries a bundle
    may not hold (links leaving it, link loops, fifos...) and config paths that leave it."""
    from .integrity import config_path_problems, scan_tree

    folder = Path(folder)
    files, problems = scan_tree(folder)
    problems += [f"missing file {rel}" for rel in required_files(folder) if rel not in files]
    return problems + config_path_problems(folder, files)


def read_manifest(folder) -> dict:
    """The manifest's ``files`` mapping, checked for shape; one sentence when it is malformed."""
    folder = Path(folder)
    path = folder / MANIFEST
    man = read_json(path)
    files = man.get("files") if isinstance(man, dict) else None
    if not isinstance(files, dict):
        raise ModelLoadError(f"{path} is malformed: it needs \"files\" mapping each file to its sha256 and size.")
    for rel, meta in files.items():
        if not _inside(folder, rel):
            raise ModelLoadError(f"{path} is malformed: the entry {rel!r} points outside the model folder.")
        if not isinstance(meta, dict) or not isinstance(meta.get("sha256"), str) \
                or not _SHA256.fullmatch(meta["sha256"]) or not isinstance(meta.get("size"), int) \
                or isinstance(meta.get("size"), bool) or meta["size"] < 0:
            raise ModelLoadError(f"{path} is malformed: the entry {rel!r} needs a sha256 (64 hex digits) "
                                 "and a size in bytes.")
    return files


def verify_manifest(folder, hashes: bool = True, tree=None) -> list[str]:
    """Problems found (empty list: the bundle matches its manifest, the manifest lists every
    file the bundle needs and every file it holds, the bundle holds only folders, regular files
    and links to files inside it, and no config names a path outside it). A malformed manifest or
    model_index.json is one sentence (ModelLoadError). ``hashes=False`` checks presence and sizes only.
    ``tree``: the folder's ``integrity.scan_tree`` when the caller has just made it (None: scanned here)."""
    from .integrity import config_path_problems, scan_tree

    folder = Path(folder)
    man = read_manifest(folder)
    files, problems = tree if tree is not None else scan_tree(folder)
    problems = list(problems)
    for rel in required_files(folder):
        if rel not in man:
            problems.append(f"{rel} is needed by the model but not listed in {MANIFEST}"
                            if rel in files else f"missing file {rel} (not listed in {MANIFEST} either)")
    for rel in files:
        if rel != MANIFEST and rel not in man:
            problems.append(f"{rel} is not listed in {MANIFEST} (a bundle may hold only the files it lists)")
    for rel, meta in man.items():
        p = files.get(rel)
        if p is None:
            if (folder / rel).is_file() or (folder / rel).is_symlink():
                continue  # a refused link or a temporary name: reported above
            problems.append(f"missing file {rel}")
        elif p.stat().st_size != meta["size"]:
            problems.append(f"{rel} has size {p.stat().st_size}, expected {meta['size']}")
        elif hashes and file_sha256(p) != meta["sha256"]:
            problems.append(f"{rel} does not match its sha256")
    return problems + config_path_problems(folder, files)
