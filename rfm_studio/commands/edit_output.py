"""What ``edit`` and ``edit-batch`` write and say: output formats (planned before the model
loads), outputs put in place together, and the change report printed after an edit."""

from __future__ import annotations

import os
from pathlib import Path

from ..core.audio.formats import CONTAINERS, OutputFormat, check_encoder, choose_format, source_format
from ..core.edit_summary import doubt_text, engine_how_text, how_text
from ..core.errors import OptionError


def plan_outputs(src, out: Path, residual: Path | None, sr: int, channels: int, fmt: str | None,
                 subtype: str | None) -> tuple[OutputFormat, OutputFormat | None]:
    """The formats of an edit's output and residual, checked against the clip's rate and channels
    (one sentence, before the model loads). The residual follows its own extension (without one,
    the output's container) and the same sample format rule."""
    source = source_format(src)
    of = choose_format(out, source, fmt, subtype)
    check_encoder(of, sr, channels, out.name)
    rf = None
    if residual is not None:
        if residual.resolve() == out.resolve():
            raise OptionError("The residual and the output are the same file; give them different names.")
        name = next(n for n, (f, _, _) in CONTAINERS.items() if f == of.format)
        rf = choose_format(residual, source, None if residual.suffix else name, subtype)
        check_encoder(rf, sr, channels, residual.name)
    return of, rf


def write_outputs(items, sample_rate: int, protect=()) -> None:
    """Write [(path, audio, OutputFormat)] atomically and together: every file is staged beside
    its destination first and renamed into place only when all were written."""
    from ..core.atomic import discard
    from ..core.audio.io import stage_audio

    staged = []
    try:
        for path, audio, fmt in items:
            staged.append((stage_audio(path, audio, sample_rate, protect=protect, fmt=fmt), Path(path)))
        for tmp, dst in staged:
            os.replace(tmp, dst)
    except BaseException:
        for tmp, _ in staged:
            discard(tmp)
        raise


def report_lines(before, res, args, report=None) -> list[str]:
    """The lines printed after an edit: the time it took and what it changed (or that it changed
    nothing audible, with what to try), then whether the sound finder was unsure of the sound it
    marked (``doubt_text``). ``report``: already computed (long files, from disk)."""
    from ..core.change_report import advice, compare

    rep = report if report is not None else compare(before, res.audio, res.sample_rate)
    how = how_text(res.params)
    lines = [f"Edited in {res.seconds:.2f} s{f' ({how})' if how else ''}"]
    if rep.unchanged:
        tip = advice(res.instruction, region=res.params.get("region") is not None,
                     strength=res.params.get("strength"), cli=True, engine=res.params.get("engine"),
                     templates=res.params.get("templates"),
                     library=hasattr(args, "library") or hasattr(args, "reference"))
        lines.append(f"No audible change: {rep.detail}. {tip}")
        return lines
    lines.append(f"Changed: {rep.text}")
    doubt = doubt_text(res.params, res.instruction, cli=True)  # the finder unsure of what it marked
    return lines + ([doubt] if doubt else [])


def finish_streamed(args, summary: dict, region, output, residual, seconds: float) -> None:
    """After a long file was edited from disk: its residual (streamed too) and what is printed,
    the change report read from the two files. ``output``, ``residual``: (path, OutputFormat)."""
    from types import SimpleNamespace

    from ..core.change_report import compare_files

    (out, fmt), (res_path, res_fmt) = output, residual
    if res_path is not None:
        from ..core.residual import residual_file

        residual_file(args.input, out, res_path, res_fmt)
    print(f"Wrote {out} ({fmt.describe()}, {seconds:.2f} s of audio)")
    if res_path is not None:
        print(f"Wrote {res_path} (what was removed: input minus output, {res_fmt.describe()})")
    # the chunks' own (streaming.edit_file's summary): the steps where the model ran, the removal,
    # who marked its examples and how sure the finder was
    done = SimpleNamespace(seconds=summary["seconds"], instruction=args.instruction,
                           params={"region": region, "strength": args.strength,
                                   **{k: v for k, v in summary.items() if k not in ("seconds", "samples", "sample_rate")}})
    for line in report_lines(None, done, args, compare_files(args.input, out)):
        safe_print(line)


def safe_print(line: str) -> None:
    """print() that cannot fail on a console whose encoding lacks '−' or '–'."""
    import sys

    try:
        print(line)
    except UnicodeEncodeError:
        enc = sys.stdout.encoding or "ascii"
        print(line.replace("−", "-").replace("–", "-").encode(enc, "replace").decode(enc))


def batch_extension(src, fmt: str | None) -> str:
    """The extension of an edit-batch output: ``fmt``'s, else the input's container's (.wav for
    formats that cannot be written, such as MP3)."""
    from ..core.audio.formats import container_of

    if fmt is not None:
        return CONTAINERS[str(fmt).lower()][1][0]
    name = container_of(src)
    if name is None:
        f = (source_format(src) or ("", ""))[0]
        name = next((n for n, (major, _, _) in CONTAINERS.items() if major == f), "wav")
    return CONTAINERS[name][1][0]


def plan_batch(jobs, fmt: str | None, subtype: str | None, residuals: bool):
    """Per edit-batch row (OutputFormat, residual path or None, its OutputFormat or None), every
    encoder checked against the row's rate and channels and every name checked to be unique."""
    from ..core.audio.io import audio_info

    plans, names = [], {}
    inputs = {os.path.realpath(j[1]) for j in jobs}
    for row, src, dst, _ in jobs:
        _, sr, ch = audio_info(src)
        source = source_format(src)
        of = choose_format(dst, source, fmt, subtype)
        check_encoder(of, sr, ch, f"{dst.name} (id '{row['id']}')")
        res_dst = dst.with_name(f"{row['id']}.residual{dst.suffix}") if residuals else None
        if res_dst is not None and os.path.realpath(res_dst) in inputs:
            raise OptionError(f"The residual {res_dst} of id '{row['id']}' is an input of this manifest; "
                              f"choose another --out-dir.")
        for p in (dst, res_dst):
            if p is None:
                continue
            key = p.name.lower()
            if key in names:
                raise OptionError(f"Two outputs would be named {p.name} (ids '{names[key]}' and '{row['id']}'); "
                                  f"rename one id.")
            names[key] = row["id"]
        plans.append((of, res_dst, of if residuals else None))
    return plans


def batch_report(before, res) -> str:
    """One row's report for edit-batch: how the edit was made (the engine and what it did, as
    ``edit`` says it), then what changed (or that nothing audible did, why, and what to try), and
    whether the sound finder was unsure of the sound it marked (``doubt_text``)."""
    from ..core.change_report import advice, compare

    rep = compare(before, res.audio, res.sample_rate)
    how = engine_how_text(res.params)
    head = f"{how}. " if how else ""
    if not rep.unchanged:
        doubt = doubt_text(res.params, res.instruction, cli=True)
        return f"{head}Changed: {rep.text}" + (f". {doubt}" if doubt else "")
    return f"{head}No audible change: {rep.detail}. " + advice(
        res.instruction, region=res.params.get("region") is not None, strength=res.params.get("strength"), cli=True,
        engine=res.params.get("engine"), templates=res.params.get("templates"))
