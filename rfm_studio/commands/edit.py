"""``rfm-studio edit`` and ``rfm-studio edit-batch``."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ..core.errors import OptionError


def _common(p):
    p.add_argument("--model", default=None, help="model folder or name (default: the embedded model)")
    p.add_argument("--adapter", default=None, help="LoRA adapter name or folder")
    p.add_argument("--t-start", type=float, default=None, help="start time of the flow (paper: 0.01)")
    p.add_argument("--steps", type=int, default=None, help="Euler steps (paper: 200)")
    p.add_argument("--guidance", type=float, default=None, help="classifier-free guidance scale")
    p.add_argument("--draws", type=int, default=None,
                   help="noise draws averaged per edit (default: the model's; 1 is the paper's sampler)")
    p.add_argument("--strength", type=float, default=None,
                   help="scale the model's change of the spectrum: 0 changes nothing, 1 is the edit as predicted, above 1 "
                        "cuts deeper and adds louder (default: the model's, which may be higher within a --region)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--render", choices=["mask", "vocoder"], default=None,
                   help="mask: change the source's own spectrum; vocoder: resynthesise (paper)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda", "mps"])


def register(sub):
    p = sub.add_parser("edit", help="edit one clip with an instruction")
    p.add_argument("input")
    p.add_argument("instruction")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--region", default=None, help="START:END in seconds; only that span changes")
    _common(p)
    p.set_defaults(func=run_edit_cmd)
    b = sub.add_parser("edit-batch", help="edit every clip of a JSONL manifest (model loaded once)")
    b.add_argument("manifest")
    b.add_argument("--out-dir", required=True)
    _common(b)
    b.set_defaults(func=run_batch_cmd)


def load_model(args):
    from ..core.training.loop import pick_device
    from ..core.model.bundle import RFMEditor
    from ..paths import resolve_model

    folder = resolve_model(args.model)
    adapter = None
    if args.adapter:
        from ..core.model.adapters import resolve_adapter

        adapter = resolve_adapter(args.adapter)
    return RFMEditor.from_pretrained(folder, device=pick_device(args.device), adapter=adapter)


def _params(args):
    from ..core.editing import check_options

    check_options(args.steps, args.t_start, args.guidance, args.draws, args.strength)  # before the model loads
    return dict(t_start=args.t_start, steps=args.steps, guidance=args.guidance, draws=args.draws,
                strength=args.strength, seed=args.seed, render=args.render)


def _check_output(path: Path, inputs=()):
    if path.suffix.lower() not in (".wav", ".flac", ".ogg"):
        raise OptionError(f"Unsupported output format '{path.suffix or path.name}': use .wav, .flac or .ogg.")
    if not path.parent.exists():
        raise OptionError(f"Output folder does not exist: {path.parent}")
    for q in inputs:
        if path.resolve() == Path(q).resolve():
            raise OptionError(f"Refusing to overwrite the input file {path.name}; choose another output path.")


STREAM_SECONDS = 120.0  # longer files are edited chunk by chunk from disk


def run_edit_cmd(args) -> int:
    from ..core.audio.io import audio_info, load_audio, save_audio
    from ..core.audio.windows import parse_region
    from ..core.editing import drive, edit

    out = Path(args.output)
    _check_output(out, [args.input])
    region = parse_region(args.region) if args.region else None
    params = _params(args)
    if not Path(args.input).exists():
        load_audio(args.input)  # raises the one-sentence error
    n, sr, _ = audio_info(args.input)
    if n / max(sr, 1) > STREAM_SECONDS:
        from ..core.streaming import edit_file

        model = load_model(args)
        summary = drive(edit_file(model, args.input, out, args.instruction, region=region, **params))
        print(f"{out}  ({summary['seconds']:.1f} s, {summary['chunks']} chunks)")
        return 0
    audio, sr = load_audio(args.input)
    model = load_model(args)
    res = edit(model, audio, sr, args.instruction, region=region, **params)
    save_audio(out, res.audio, res.sample_rate, protect=[args.input])
    print(f"{out}  ({res.seconds:.2f} s, {res.params['steps']} steps, t_start {res.params['t_start']:g})")
    return 0


def run_batch_cmd(args) -> int:
    from tqdm import tqdm

    from ..core.audio.io import load_audio, save_audio
    from ..core.editing import edit
    from ..core.training.sources import read_manifest, resolve_inside

    man = Path(args.manifest)
    rows = read_manifest(man, required=("id", "input", "instruction"))
    for i, row in enumerate(rows, 1):
        if not str(row["id"]).replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise OptionError(f"Line {i} of {man.name}: id '{row['id']}' must be letters, digits, '-', '_' or '.'.")
    out_dir = Path(args.out_dir)
    base = man.parent
    inputs = [resolve_inside(base, r["input"]) for r in rows]
    for p in inputs:
        if not p.exists():
            raise OptionError(f"Input file not found: {p}")
    params = _params(args)
    model = load_model(args)
    out_dir.mkdir(parents=True, exist_ok=True)  # only once the inputs, options and model are good
    t0 = time.time()
    for row, src in tqdm(list(zip(rows, inputs)), desc="editing", unit="clip"):
        audio, sr = load_audio(src)
        res = edit(model, audio, sr, row["instruction"], **params)
        save_audio(out_dir / f"{row['id']}.wav", res.audio, res.sample_rate, protect=[src])
    print(f"{len(rows)} clips -> {out_dir} ({time.time() - t0:.1f} s)")
    return 0
