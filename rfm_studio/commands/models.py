"""``rfm-studio models``: list, import, verify, remove, download (the only network path),
convert (build a paper-scale bundle from public components in their own formats)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..core.errors import ModelLoadError, OptionError


def register(sub):
    p = sub.add_parser("models", help="manage model bundles")
    s = p.add_subparsers(dest="models_cmd", required=True)
    s.add_parser("list", help="installed and shipped models").set_defaults(func=cmd_list)
    i = s.add_parser("import", help="copy a bundle folder into your models folder")
    i.add_argument("folder")
    i.add_argument("--name", default=None)
    i.set_defaults(func=cmd_import)
    v = s.add_parser("verify", help="check every file against the bundle's sha256 manifest")
    v.add_argument("model", nargs="?", default=None)
    v.set_defaults(func=cmd_verify)
    r = s.add_parser("remove", help="delete a model from your models folder")
    r.add_argument("name")
    r.set_defaults(func=cmd_remove)
    d = s.add_parser("download", help="download a bundle from the Hugging Face Hub (explicit, resumable)")
    d.add_argument("repo")
    d.add_argument("--revision", default=None)
    d.add_argument("--name", default=None)
    d.set_defaults(func=cmd_download)
    c = s.add_parser("convert", help="build an RFM bundle from public components (local folders)")
    c.add_argument("--vae", required=True, help="diffusers AutoencoderKL folder (AudioLDM VAE)")
    c.add_argument("--unet", required=True, help="diffusers UNet2DConditionModel folder (text-to-audio)")
    c.add_argument("--text-encoder", required=True, help="transformers folder (Flan-T5)")
    c.add_argument("--tokenizer", default=None)
    c.add_argument("--vocoder", default=None, help="SpeechT5HifiGan or BigVGAN folder (default: Griffin-Lim)")
    c.add_argument("--out", required=True)
    c.set_defaults(func=cmd_convert)


def _user_models() -> Path:
    from ..paths import user_models_dir

    return user_models_dir()


def cmd_list(args) -> int:
    from ..paths import model_search_path

    found = 0
    for base in model_search_path():
        if not base.exists():
            continue
        for d in sorted(base.iterdir()):
            idx = d / "model_index.json"
            if idx.exists():
                try:
                    info = json.loads(idx.read_text()).get("info", {})
                except ValueError:
                    info = {}
                size = sum(f.stat().st_size for f in d.rglob("*") if f.is_file()) / 1e6
                steps = info.get("train_steps")
                print(f"{d.name:28s} {size:8.1f} MB  {'steps ' + str(steps) if steps else '':12s} {d}")
                found += 1
    if not found:
        print("no models found")
    return 0


def _check_bundle(folder: Path):
    if not (folder / "model_index.json").exists():
        raise OptionError(f"{folder} is not a model bundle (no model_index.json).")


def cmd_import(args) -> int:
    src = Path(args.folder)
    _check_bundle(src)
    from ..core.model.manifest import MANIFEST, verify_manifest, write_manifest

    if (src / MANIFEST).exists():
        problems = verify_manifest(src)
        if problems:
            raise ModelLoadError(f"{src} fails verification: {problems[0]}.")
    name = args.name or src.name
    dst = _user_models() / name
    if dst.exists():
        raise OptionError(f"A model named '{name}' is already installed.")
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.parent / f".tmp-{name}"
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(src, tmp)
    if not (tmp / MANIFEST).exists():
        write_manifest(tmp)
    tmp.rename(dst)
    print(f"imported {name} -> {dst}")
    return 0


def cmd_verify(args) -> int:
    from ..core.model.manifest import MANIFEST, verify_manifest
    from ..paths import resolve_model

    folder = resolve_model(args.model)
    if not (folder / MANIFEST).exists():
        raise ModelLoadError(f"{folder} has no {MANIFEST} to verify against.")
    problems = verify_manifest(folder)
    if problems:
        for p in problems:
            print(f"FAIL {p}")
        return 1
    n = len(json.loads((folder / MANIFEST).read_text())["files"])
    print(f"OK {folder}: {n} files match their sha256")
    return 0


def cmd_remove(args) -> int:
    d = _user_models() / args.name
    if not (d / "model_index.json").exists():
        raise OptionError(f"No installed model named '{args.name}' (shipped models cannot be removed).")
    shutil.rmtree(d)
    print(f"removed {args.name}")
    return 0


def cmd_download(args) -> int:
    import os

    if os.environ.get("HF_HUB_OFFLINE") == "1" and os.environ.get("RFM_STUDIO_ALLOW_DOWNLOAD") != "1":
        # the CLI sets HF_HUB_OFFLINE by default; this explicit command lifts it for itself only
        os.environ["HF_HUB_OFFLINE"] = "0"
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise OptionError("Downloading needs huggingface_hub: pip install huggingface_hub") from None
    name = args.name or args.repo.split("/")[-1]
    dst = _user_models() / name
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        path = snapshot_download(repo_id=args.repo, revision=args.revision, local_dir=str(dst))
    except Exception as exc:
        raise ModelLoadError(f"Download of {args.repo} failed ({str(exc).splitlines()[0][:160]}); "
                             "run the command again to resume.") from None
    print(f"downloaded {args.repo} -> {path}")
    return 0


def cmd_convert(args) -> int:
    from ..core.model.convert import build_paper_bundle

    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        raise OptionError(f"Output folder {out} is not empty.")
    model = build_paper_bundle(args.vae, args.unet, args.text_encoder, args.vocoder, args.tokenizer)
    model.save_pretrained(out)
    n = sum(p.numel() for p in model.denoiser.parameters()) / 1e6
    print(f"wrote {out} (U-Net {n:.1f} M parameters, in_channels {model.denoiser.net.config.in_channels})")
    return 0
