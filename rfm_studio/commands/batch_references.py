"""Library sounds for ``rfm-studio edit-batch`` rows, chosen as ``edit`` chooses them.

A manifest row may carry ``"reference": FILE`` (relative to the manifest, like ``input``) or
``"library": NAME_OR_QUERY`` (a file's path, relative to the manifest, a library file's name, or
a description to search for),
as ``edit --reference`` / ``--library``. The batch's ``--reference`` / ``--library`` serve every
"Add ..." / "Replace ... with ..." row that names neither; such a row with none of them gets
the best library match for its sound, as ``edit`` does. Reference files are read before the
model loads; library searches run after it, before any row is edited.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

from ..core.errors import OptionError, RFMError


def _on_row(where: str, fn, *a):
    try:
        return fn(*a)
    except RFMError as exc:
        raise type(exc)(f"{where}: {exc}") from None


def row_reference_specs(man: Path, jobs, args) -> list[tuple]:
    """Per row of ``check_batch``'s jobs, before the model loads: (reference prompt or None,
    library name or query or None)."""
    from ..core.library.prompted import parse_instruction
    from .library import check_reference

    batch_prompt = check_reference(args)  # --reference read now; not both --reference and --library
    specs = []
    for i, (row, _src, _dst, _region) in enumerate(jobs, 1):
        where = f"Line {i} of {man.name}"
        ref, lib = row.get("reference"), row.get("library")
        for key, v in (("reference", ref), ("library", lib)):
            if v is not None and (not isinstance(v, str) or not v.strip()):
                raise OptionError(f"{where}: {key} must be a file name or a description.")
        if ref and lib:
            raise OptionError(f"{where}: give either reference or library, not both.")
        placed = parse_instruction(row["instruction"])[0] is not None
        if ref:
            p = Path(ref).expanduser()
            p = p if p.is_absolute() else man.parent / p
            specs.append((_on_row(where, check_reference, SimpleNamespace(reference=str(p), library=None)), None))
        elif lib:
            if not placed:
                raise OptionError(f"{where}: library needs an 'Add ...' or 'Replace ... with ...' instruction.")
            q = Path(lib).expanduser()
            q = q if q.is_absolute() else man.parent / q
            specs.append((None, str(q) if q.is_file() else lib))  # a file beside the manifest, else as edit's
        elif placed:
            specs.append((batch_prompt, None if batch_prompt is not None else getattr(args, "library", None)))
        else:
            specs.append((None, None))
    return specs


def row_references(man: Path, jobs, specs) -> list[tuple]:
    """Per row, once the model is loaded: (prompts for its edit, note naming the sound or None)."""
    from .library import library_reference

    out = []
    for i, ((row, _src, _dst, _region), (prompt, lib)) in enumerate(zip(jobs, specs), 1):
        if prompt is not None:
            out.append(((prompt,), f"reference {prompt.source}"))
            continue
        prompt, note = _on_row(f"Line {i} of {man.name}", library_reference, SimpleNamespace(library=lib),
                               row["instruction"])
        out.append(((prompt,) if prompt is not None else (), note))
    return out
