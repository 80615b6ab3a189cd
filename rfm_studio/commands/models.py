"""``rfm-studio models``: list, import, verify, remove, download (this command's only network
use; a repository must hold a bundle with a verifying manifest.json), convert (build a
paper-scale bundle from public components in their own formats)."""

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
    d = s.add_parser("download", help="download a bundle from the Hugging Face Hub (explicit, resumable; the "
                                      "repository must hold an RFM bundle whose manifest.json verifies)")
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
    from ..core.paths import user_models_dir

    return user_models_dir()


def cmd_list(args) -> int:
    from ..core.paths import model_search_path

    found = 0
    for base in model_search_path():
        if not base.is_dir():
            continue
        for d in sorted(base.iterdir()):
            if d.name.startswith("."):  # '.tmp-*': an import, download or removal in progress or cut short
                continue
            idx = d / "model_index.json"
            if idx.is_file():
                try:
                    info = json.loads(idx.read_text(encoding="utf-8")).get("info", {})
                except (ValueError, AttributeError, OSError):
                    info = {}
                info = info if isinstance(info, dict) else {}
                size = sum(f.stat().st_size for f in d.rglob("*") if f.is_file()) / 1e6
                steps = info.get("train_steps_total") or info.get("train_steps")  # all stages, when trained in several
                print(f"{d.name:28s} {size:8.1f} MB  {'steps ' + str(steps) if steps else '':12s} {d}")
                found += 1
    if not found:
        print("no models found")
    return 0


def _check_bundle(folder: Path, hashes: bool = True):
    """One sentence unless ``folder`` is a complete bundle: model_index.json describes an RFM
    model, every file it needs is there, and its manifest (when it has one) is well formed,
    lists every needed file and matches them."""
    from ..core.model.manifest import MANIFEST, missing_files, verify_manifest

    if not folder.is_dir():
        raise OptionError(f"{folder} is not a folder.")
    if not (folder / "model_index.json").is_file():
        raise OptionError(f"{folder} is not a model bundle (no model_index.json).")
    problems = verify_manifest(folder, hashes=hashes) if (folder / MANIFEST).exists() else missing_files(folder)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ModelLoadError(f"{folder} is not a complete model bundle: {problems[0]}{more}.")


def _new_model_folder(name: str) -> Path:
    """The user models folder's entry for a new model ``name`` (checked, and not taken)."""
    from ..core.swap import exists
    from ..core.paths import check_model_name

    dst = _user_models() / check_model_name(name)
    if exists(dst):  # after recovering an import or removal a crash cut short
        raise OptionError(f"A model named '{name}' is already installed; remove it first or choose another --name.")
    return dst


def cmd_import(args) -> int:
    from ..core.model.manifest import MANIFEST, write_manifest

    from ..core.swap import replacing

    src = Path(args.folder)
    dst = _new_model_folder(args.name or src.resolve().name)
    _check_bundle(src, hashes=False)  # cheap checks first; the copy is hashed
    try:
        with replacing(dst) as tmp:  # staged beside dst, renamed in when complete
            from ..core.model.integrity import copy_bundle

            copy_bundle(src, tmp)  # never follows a link out of the bundle
            try:
                _check_bundle(tmp)  # the copy is what gets hashed: what was checked is what is kept
            except ModelLoadError as exc:
                raise ModelLoadError(str(exc).replace(str(tmp), str(src))) from None
            if not (tmp / MANIFEST).exists():
                write_manifest(tmp)
    except FileExistsError:
        raise OptionError(f"A model named '{dst.name}' was installed meanwhile.") from None
    print(f"imported {dst.name} -> {dst}")
    return 0


def cmd_verify(args) -> int:
    from ..core.model.manifest import MANIFEST, read_manifest, verify_manifest
    from ..core.paths import resolve_model

    folder = resolve_model(args.model)
    if not (folder / MANIFEST).exists():
        raise ModelLoadError(f"{folder} has no {MANIFEST} to verify against.")
    problems = verify_manifest(folder)
    if problems:
        for p in problems:
            print(f"FAIL {p}")
        return 1
    print(f"OK {folder}: {len(read_manifest(folder))} files match their sha256")
    return 0


def cmd_remove(args) -> int:
    from ..core.paths import check_model_name, shipped_models_dir

    name = args.name
    if not name or name.startswith(".") or "/" in name or "\\" in name:  # only a folder directly inside
        check_model_name(name)  # the sentence (a name made before names were checked may hold e.g. a space)
    base = _user_models()
    d = base / name
    shipped = shipped_models_dir()
    if not (d / "model_index.json").is_file():
        if (shipped / name / "model_index.json").is_file():
            raise OptionError(f"'{name}' is a model shipped with RFM Studio; it cannot be removed.")
        raise OptionError(f"No installed model named '{name}' in {base}.")
    if d.is_symlink():  # a link the user made: remove the link, never what it points to
        d.unlink()
        print(f"removed {name} (a link; its target was kept)")
        return 0
    try:
        d.resolve().relative_to(shipped.resolve())
        inside_shipped = True
    except ValueError:
        inside_shipped = False
    if inside_shipped:
        raise OptionError(f"'{name}' is a model shipped with RFM Studio; it cannot be removed.")
    if d.resolve().parent != base.resolve():
        raise OptionError(f"'{name}' is not a folder directly inside your models folder {base}; nothing was removed.")
    import sys

    from ..core.swap import discard_tree

    # out of the list in one step, then deleted: a removal cut short leaves no half model
    trash = discard_tree(d)
    if trash is not None:
        sys.stderr.write(f"rfm-studio: some of {name}'s files could not be deleted; they are left in {trash}.\n")
    print(f"removed {name}")
    return 0


def _truthy(value) -> bool:
    return str(value or "").strip().upper() in {"1", "ON", "YES", "TRUE"}


def cmd_download(args) -> int:
    import os

    from ..core.envvars import temporary_env

    # The CLI turns HF_HUB_OFFLINE on by default and notes that it did (RFM_STUDIO_OFFLINE_DEFAULT);
    # this explicit command lifts that default for itself, but never an offline mode the user asked for.
    # (huggingface_hub reads HF_HUB_OFFLINE, or TRANSFORMERS_OFFLINE when that is unset or empty)
    if os.environ.get("RFM_STUDIO_OFFLINE_DEFAULT") != "1" and \
            _truthy(os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE")):
        raise OptionError("HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is set, so nothing is downloaded; "
                          "unset it to run 'models download'.")
    name = args.name or args.repo.rstrip("/").split("/")[-1]
    dst = _new_model_folder(name)
    try:
        from huggingface_hub import constants, snapshot_download
    except ImportError:
        raise OptionError("Downloading needs huggingface_hub: pip install huggingface_hub") from None
    # one fixed partial folder per name, so that running the command again resumes
    part = dst.parent / f".tmp-download-{dst.name}"
    source = f"{args.repo}@{args.revision or ''}"
    mark = part / ".tmp-source"
    if part.exists() and not (mark.is_file() and mark.read_text(encoding="utf-8") == source):
        shutil.rmtree(part)  # a partial download of another repository or revision: start again
    part.mkdir(parents=True, exist_ok=True)
    mark.write_text(source, encoding="utf-8")
    saved_const = getattr(constants, "HF_HUB_OFFLINE", None)
    constants.HF_HUB_OFFLINE = False  # read once when huggingface_hub was imported
    try:
        with temporary_env({"HF_HUB_OFFLINE": "0", "TRANSFORMERS_OFFLINE": "0"}):
            snapshot_download(repo_id=args.repo, revision=args.revision, local_dir=str(part))
    except Exception as exc:
        why = str(exc).splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(f"Download of {args.repo} failed ({why}); run the command again to resume.") from None
    finally:
        constants.HF_HUB_OFFLINE = saved_const
    shutil.rmtree(part / ".cache", ignore_errors=True)  # huggingface_hub's resume bookkeeping
    mark.unlink(missing_ok=True)
    from ..core.model.manifest import MANIFEST

    try:
        if not (part / MANIFEST).is_file():
            raise ModelLoadError(f"{args.repo} has no {MANIFEST}, so the download cannot be verified.")
        _check_bundle(part)
    except (ModelLoadError, OptionError) as exc:
        shutil.rmtree(part, ignore_errors=True)
        raise ModelLoadError(f"The download of {args.repo} was discarded: {exc}") from None
    from ..core.swap import commit

    try:
        commit(part, dst)
    except FileExistsError:
        raise OptionError(f"A model named '{dst.name}' was installed meanwhile; the download is kept in {part}.") \
            from None
    print(f"downloaded {args.repo} -> {dst}")
    return 0


def cmd_convert(args) -> int:
    from ..core.model.convert import build_paper_bundle

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise OptionError(f"Output {out} is a file; give a new folder.")
    if out.exists() and any(out.iterdir()):
        raise OptionError(f"Output folder {out} is not empty.")
    model = build_paper_bundle(args.vae, args.unet, args.text_encoder, args.vocoder, args.tokenizer)
    out.parent.mkdir(parents=True, exist_ok=True)
    from ..core.swap import replacing

    # written beside the output and renamed into place when complete: never a half bundle at --out
    with replacing(out, replace=True) as tmp:  # replaces at most the empty folder checked above
        model.save_pretrained(tmp)
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise OptionError(f"Output folder {out} is not empty any more; nothing was written there.")
    n = sum(p.numel() for p in model.denoiser.parameters()) / 1e6
    conv = dict(model.denoiser.net.config.get("conversion") or {})
    print(f"wrote {out} (U-Net {n:.1f} M parameters, in_channels {model.denoiser.net.config.in_channels}, "
          f"{conv.get('block_order', 'unknown')} block order, {conv.get('new_parameters', 0) / 1e6:.2f} M new "
          f"parameters besides the zero input channels)")
    return 0
