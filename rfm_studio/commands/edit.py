"""``rfm-studio edit`` and ``rfm-studio edit-batch``."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

from ..core.audio.formats import CONTAINERS, SUBTYPES
from ..core.errors import OptionError


def _common(p):
    p.add_argument("--model", default=None, help="model folder or name (default: the embedded model)")
    p.add_argument("--adapter", default=None, help="LoRA adapter name (a folder of your adapters folder)")
    p.add_argument("--t-start", type=float, default=None, help="start time of the flow (paper: 0.01)")
    p.add_argument("--steps", type=int, default=None, help="Euler steps (paper: 200)")
    p.add_argument("--guidance", type=float, default=None, help="classifier-free guidance scale")
    p.add_argument("--draws", type=int, default=None,
                   help="noise draws averaged per edit (default: the model's; 1 is the paper's sampler)")
    p.add_argument("--strength", type=float, default=None,
                   help="scale the model's change of the spectrum: 0 changes nothing, 1 is the edit as predicted, above 1 "
                        "cuts deeper and adds louder (default: the model's, which may be higher within a --region); with the "
                        "dictionary or self-prompt engine it scales the dictionary's cut in dB, or the model's own removal where "
                        "that stands (the model marks the spans at its own default); with the remover engine it is the power of "
                        "the share kept (default 1)")
    p.add_argument("--seed", type=int, default=0)
    from ..core.separation.engine import ENGINES

    p.add_argument("--engine", choices=ENGINES, default="auto",
                   help="removal engine: model (the flow model), dictionary (separation with templates of the "
                        "--example spans, else of the library's recordings of the sound), self-prompt (the sound finder, "
                        "or where it finds nothing the model's text-only removal, marks the example for the "
                        "dictionary), auto (dictionary when an --example is marked, else self-prompt for a "
                        "'Remove X', on the whole clip or within a --region; the model with --render vocoder and "
                        "for other edits; default), remover (the sound remover's mel mask for "
                        "the named sound, text only; needs a remover in models/sound-remover, none ships)")
    p.add_argument("--render", choices=["mask", "vocoder"], default=None,
                   help="mask: change the source's own spectrum; vocoder: resynthesise (paper)")
    from ..core.devices import add_device_arguments

    add_device_arguments(p)
    p.add_argument("--format", choices=list(CONTAINERS), default=None,
                   help="output container (default: the output name's extension; edit-batch: the input's, WAV "
                        "for MP3 and other formats that cannot be written)")
    p.add_argument("--subtype", type=str.upper, choices=SUBTYPES, default=None, metavar="SUBTYPE",
                   help="sample format: " + ", ".join(SUBTYPES) + " (default: the input's, e.g. 16-bit PCM stays "
                        "16-bit PCM; 16-bit PCM for MP3, Vorbis and Opus inputs; the nearest the container holds)")


def register(sub):
    p = sub.add_parser("edit", help="edit one clip with an instruction")
    p.add_argument("input")
    p.add_argument("instruction")
    p.add_argument("-o", "--output", required=True)
    p.add_argument("--region", default=None, help="START:END in seconds; only that span changes")
    p.add_argument("--residual", default=None, metavar="FILE",
                   help="also write what the edit removed (input minus output), like the output")
    p.add_argument("--example", action="append", default=[], metavar="START:END",
                   help="a span of the input (seconds) where the sound to edit plays: 'remove sounds like this' "
                        "(repeatable). A Remove runs on the dictionary engine: what sounds like the marked audio "
                        "goes wherever it plays; another recording of the sound mostly stays, so mark one of "
                        "each. --engine model gives the span to models with an audio-prompt input")
    _common(p)
    from .library import add_edit_options

    add_edit_options(p)
    p.set_defaults(func=run_edit_cmd)
    b = sub.add_parser("edit-batch", help="edit every clip of a JSONL manifest (model loaded once)")
    b.add_argument("manifest")
    b.add_argument("--out-dir", required=True)
    b.add_argument("--residuals", action="store_true",
                   help="also write each row's residual (input minus output) as <id>.residual.<ext>")
    _common(b)
    add_edit_options(b)  # defaults for the "Add"/"Replace" rows that name no reference or library
    b.set_defaults(func=run_batch_cmd)


def load_model(args):
    """The editing model; None for a "Remove X" on the sound remover, which needs none (and
    says at once when no remover is installed)."""
    from ..core.model.loaders import load_editor

    if getattr(args, "engine", None) == "remover" and not (getattr(args, "reference", None) or
                                                           getattr(args, "library", None)):
        from ..core.instructions import removed_sound
        from ..core.separation.remover_edit import check_remover

        if removed_sound(getattr(args, "instruction", "") or ""):
            check_remover()
            return None
    return load_editor(args.model, device=args.device, dtype=args.dtype, adapter=args.adapter or None)


def _params(args):
    from ..core.editing import check_options

    check_options(args.steps, args.t_start, args.guidance, args.draws, args.strength, args.seed)  # before the model loads
    return dict(t_start=args.t_start, steps=args.steps, guidance=args.guidance, draws=args.draws,
                strength=args.strength, seed=args.seed, render=args.render, engine=getattr(args, "engine", None))


def _check_output(path: Path, inputs=()):
    from .preflight import check_no_loop, check_not_an_input, check_not_special, check_writable_folder

    for q in inputs:
        check_no_loop(q, "The input")
        check_not_special(q, "The input")
    check_no_loop(path, "The output")
    check_not_special(path, "The output")
    if not path.parent.exists():
        raise OptionError(f"Output folder does not exist: {path.parent}")
    if path.is_dir():
        raise OptionError(f"The output {path} is a folder; give a file name ending in .wav, .flac or .ogg.")
    for q in inputs:
        if path.resolve() == Path(q).resolve():
            raise OptionError(f"Refusing to overwrite the input file {path.name}; choose another output path.")
    check_not_an_input(path, inputs)
    check_writable_folder(path.parent)


STREAM_SECONDS = 120.0  # longer files are edited chunk by chunk from disk


def example_spans(args, frames: int, sr: int) -> list:
    """``--example START:END`` spans, checked against the clip's length before the model loads."""
    from ..core.prompts import MAX_PROMPTS, check_span, parse_span

    given = getattr(args, "example", None) or []
    if len(given) > MAX_PROMPTS:
        raise OptionError(f"At most {MAX_PROMPTS} examples can be given, got {len(given)}.")
    return [check_span(*parse_span(s), frames / float(sr)) for s in given]


def example_prompts(spans, audio=None, sr=None, path=None) -> dict:
    """The spans cut from the input's mono mix (``audio``, or read from ``path``) as audio
    prompts: {"prompts": (...)}, or {} without spans."""
    from ..core.prompts import example_from_clip

    if not spans:
        return {}
    out = []
    for a, b in spans:
        if audio is None:
            import soundfile as sf

            with sf.SoundFile(str(path)) as f:
                sr = f.samplerate
                f.seek(int(round(a * sr)))
                seg = f.read(int(round(b * sr)) - int(round(a * sr)), dtype="float32", always_2d=True)
            p = example_from_clip(seg, sr, 0.0, len(seg) / sr)
            out.append(dataclasses.replace(p, source=f"clip {a:.2f}-{b:.2f} s", span=(a, b)))
        else:
            out.append(example_from_clip(audio, sr, a, b))
    return {"prompts": tuple(out)}


def warn_unused_prompts(model, params, instruction: str = "") -> None:
    from ..core.separation.engine import uses_dictionary

    if uses_dictionary(instruction, params.get("engine"), params.get("prompts", ())):
        return  # the dictionary engine uses the examples
    if params.get("prompts") and (model is None or not model.accepts_prompts):
        import sys

        from ..core.library.prompted import parse_instruction

        used = ("the examples only mark where the old sound plays (Replace puts the new one there)"
                if parse_instruction(instruction)[0] == "replace" else "the examples are not used (text only)")
        print(f"Note: this model has no audio-prompt input; {used}.", file=sys.stderr)


def run_edit_cmd(args) -> int:
    from dataclasses import replace

    from ..core.audio.formats import as_written
    from ..core.audio.io import audio_info, load_audio
    from ..core.audio.windows import parse_region
    from ..core.editing import drive, edit
    from .edit_output import finish_streamed, plan_outputs, report_lines, safe_print, write_outputs
    from ..core.residual import residual as removed

    out = Path(args.output)
    _check_output(out, [args.input])
    residual = Path(args.residual) if args.residual else None
    if residual is not None:
        _check_output(residual, [args.input])
    region = parse_region(args.region) if args.region else None
    params = _params(args)
    if not Path(args.input).exists():
        load_audio(args.input)  # raises the one-sentence error
    n, sr, ch = audio_info(args.input)
    spans = example_spans(args, n, sr)
    if region is not None:
        from ..core.audio.windows import check_region

        check_region(region, n / max(sr, 1))  # before the model loads
    fmt, res_fmt = plan_outputs(args.input, out, residual, sr, ch, args.format, args.subtype)
    from ..core.library.prompted import parse_instruction

    # a library sound is placed in memory (the model, for Replace, works on the region's windows)
    placed = bool(args.reference or args.library or parse_instruction(args.instruction)[0])
    if n / max(sr, 1) > STREAM_SECONDS and not placed:
        from ..core.streaming import edit_file

        params.update(example_prompts(spans, path=args.input))  # every chunk hears every example
        model = load_model(args)
        warn_unused_prompts(model, params, args.instruction)
        summary = drive(edit_file(model, args.input, out, args.instruction, region=region, fmt=fmt, **params))
        finish_streamed(args, summary, region, (out, fmt), (residual, res_fmt), n / sr)
        return 0
    from .library import check_reference, library_reference

    reference = check_reference(args)
    audio, sr = load_audio(args.input)
    params.update(example_prompts(spans, audio, sr))
    model = load_model(args)
    warn_unused_prompts(model, params, args.instruction)
    note = f"reference {reference.source}" if reference else None
    if reference is None:
        reference, note = library_reference(args, args.instruction)
    prompts = tuple(params.pop("prompts", ())) + ((reference,) if reference is not None else ())
    res = edit(model, audio, sr, args.instruction, region=region, prompts=prompts, **params)
    res = replace(res, audio=as_written(res.audio, fmt))  # what the file holds (PCM: clipped)
    write_outputs([(out, res.audio, fmt)] + ([(residual, removed(audio, res.audio), res_fmt)] if residual else []),
                  res.sample_rate, protect=[args.input])
    print(f"Wrote {out} ({fmt.describe()}, {len(res.audio) / res.sample_rate:.2f} s of audio)")
    if residual is not None:
        print(f"Wrote {residual} (what was removed: input minus output, {res_fmt.describe()})")
    if "placement" in res.params:
        from ..core.library.report import placement_line

        print(f"Used {note}; {placement_line(res.params)}")
    for line in report_lines(audio, res, args):
        safe_print(line)
    return 0


def _row_region(row, where: str):
    """A manifest row's optional "region": "START:END" or [START, END] in seconds."""
    from ..core.audio.windows import parse_region

    r = row.get("region")
    if r is None:
        return None
    if isinstance(r, str):
        return parse_region(r)
    if isinstance(r, (list, tuple)) and len(r) == 2 and all(isinstance(v, (int, float)) for v in r):
        return float(r[0]), float(r[1])
    raise OptionError(f"{where}: region must be \"START:END\" or [START, END] in seconds.")


def check_batch(man: Path, out_dir: Path, fmt: str | None = None):
    """Every row of an edit-batch manifest checked before the model loads: [(row, input, output, region)].
    An output is named <id> plus the extension of ``fmt``, else of the input's container."""
    from ..core.audio.windows import check_region
    from ..core.training.sources import manifest_audio, read_manifest
    from .edit_output import batch_extension
    from .preflight import check_no_loop, check_not_special

    check_no_loop(man, "The manifest")
    check_not_special(man, "The manifest")
    check_no_loop(out_dir, "The output folder")
    rows = read_manifest(man, required=("id", "input", "instruction"))
    if out_dir.exists() and not out_dir.is_dir():
        raise OptionError(f"The output folder {out_dir} is a file; give a folder.")
    seen, jobs = {}, []
    for i, row in enumerate(rows, 1):
        where = f"Line {i} of {man.name}"
        rid = str(row["id"])
        if not rid or not rid.replace("-", "").replace("_", "").replace(".", "").isalnum() or rid.strip(".") == "":
            raise OptionError(f"{where}: id '{rid}' must be letters, digits, '-', '_' or '.'.")
        if rid in seen:
            raise OptionError(f"{where}: id '{rid}' is also on line {seen[rid]}; each clip needs its own id.")
        seen[rid] = i
        if not isinstance(row["instruction"], str) or not row["instruction"].strip():
            raise OptionError(f"{where}: the instruction is empty.")
        src, n, sr = manifest_audio(man.parent, str(row["input"]), where)
        _decodes(src, where)
        region = _row_region(row, where)
        if region is not None:
            check_region(region, n / sr)
        dst = out_dir / f"{rid}{batch_extension(src, fmt)}"
        _check_batch_output(dst, where, rid)
        jobs.append((row, src, dst, region))
    from ..core.atomic import file_ids, is_one_of
    from .preflight import check_writable_folder

    check_writable_folder(out_dir)
    inputs = file_ids(j[1] for j in jobs)  # (device, inode): also links to an input
    for row, src, dst, _ in jobs:
        if is_one_of(dst, inputs):
            raise OptionError(f"The output {dst} of id '{row['id']}' is an input of this manifest; "
                              f"choose another --out-dir.")
    return jobs


def _decodes(src: Path, where: str) -> None:
    """Every sample of a row's audio decodes and is finite (not just its header), before the model loads."""
    from ..core.audio.io import load_audio
    from ..core.errors import AudioReadError

    try:
        load_audio(src)
    except AudioReadError as exc:
        raise AudioReadError(f"{where}: {exc}") from None


def _check_batch_output(dst: Path, where: str, rid: str) -> None:
    """What would stop a row's output being put in place, found before the model loads."""
    import os

    if len(os.fsencode(dst.name)) > 255 - len(".residual"):
        raise OptionError(f"{where}: id '{rid[:40]}...' is too long for a file name ({len(rid)} characters); "
                          "use at most 240.")
    if dst.is_symlink() or (dst.exists() and not dst.is_file()):
        raise OptionError(f"{where}: the output {dst} of id '{rid}' is "
                          f"{'a link' if dst.is_symlink() else 'a folder or other non-file'}; "
                          "remove it or choose another --out-dir.")


def run_batch_cmd(args) -> int:
    """Every row checked, then edited by ``core.batch.run_batch`` with the outputs moved into place
    only when every row has been edited, all or none, so a failure or a kill part-way leaves the
    output folder unchanged. Rows may name library sounds (commands/batch_references.py)."""
    from tqdm import tqdm

    from ..core.atomic import recover_commits
    from ..core.batch import BatchItem, run_batch
    from .batch_references import row_reference_specs, row_references
    from .edit_output import batch_report, plan_batch, safe_print

    man = Path(args.manifest)
    out_dir = Path(args.out_dir)
    if out_dir.is_dir():
        recover_commits(out_dir)  # an earlier batch killed while its outputs were put in place
    jobs = check_batch(man, out_dir, args.format)
    plans = plan_batch(jobs, args.format, args.subtype, args.residuals)
    params = _params(args)
    specs = row_reference_specs(man, jobs, args)
    model = load_model(args)
    refs = row_references(man, jobs, specs)
    items = [BatchItem(src, dst, row["instruction"], region, prompts, fmt, res_dst, res_fmt)
             for (row, src, dst, region), (fmt, res_dst, res_fmt), (prompts, _) in zip(jobs, plans, refs)]
    notes = {item.output: note for item, (_, note) in zip(items, refs)}

    def describe(item, audio, res):
        text = batch_report(audio, res)
        if "placement" in res.params:
            from ..core.library.report import placement_line

            text = f"used {notes[item.output]}; {placement_line(res.params)}. {text}"
        return text

    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)  # only once the rows, options and model are good
    t0 = time.time()
    gen = run_batch(model, items, params=params, commit_to=out_dir, describe=describe)
    try:
        with tqdm(total=len(items), desc="editing", unit="clip") as bar:
            while True:
                try:
                    ev = next(gen)
                except StopIteration as stop:
                    summary = stop.value
                    break
                if ev.status == "done":
                    bar.update(1)
    except BaseException:
        gen.close()  # its staged outputs are discarded
        if created:
            try:
                out_dir.rmdir()
            except OSError:
                pass
        raise
    print(f"{len(jobs)} clips -> {out_dir} (edited in {time.time() - t0:.1f} s)")
    for index, text in summary["reports"]:
        safe_print(f"{jobs[index][0]['id']}: {text}")
    return 0
