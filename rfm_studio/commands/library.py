"""``rfm-studio library add|list|remove|search`` and the reference options of ``edit``."""

from __future__ import annotations

from pathlib import Path

from ..core.errors import OptionError


def register(sub):
    p = sub.add_parser("library", help="index folders of sound files and search them (for Add and Replace)")
    s = p.add_subparsers(dest="library_command", required=True)
    a = s.add_parser("add", help="index (or re-index) every WAV, FLAC, OGG, MP3 and AIFF file under a folder")
    a.add_argument("folder")
    a.set_defaults(func=cmd_add)
    ls = s.add_parser("list", help="the indexed folders")
    ls.set_defaults(func=cmd_list)
    r = s.add_parser("remove", help="forget a folder (its files are not touched); 'starter' for the starter library")
    r.add_argument("folder")
    r.set_defaults(func=cmd_remove)
    q = s.add_parser("search", help="the sounds best matching a description")
    q.add_argument("query")
    q.add_argument("-n", "--limit", type=int, default=10)
    q.set_defaults(func=cmd_search)
    u = s.add_parser("refresh", help="re-index every folder (only changed files are read)")
    u.set_defaults(func=cmd_refresh)
    p.set_defaults(func=lambda args: p.print_help() or 2)


def _open():
    from ..core.library import Library

    return Library()


def _report(r) -> str:
    return (f"{r.folder}: {r.added} added, {r.updated} updated, {r.removed} removed, {r.unchanged} unchanged"
            + (f", {r.failed} unreadable" if r.failed else "") + f" ({r.seconds:.1f} s)")


def cmd_add(args) -> int:
    d = Path(args.folder).expanduser()
    if not d.is_dir():
        raise OptionError(f"{args.folder} is not a folder." if d.exists() else f"Folder not found: {args.folder}")
    with _open() as lib:
        print(_report(lib.add_folder(d)))
        _embed(lib)
    return 0


def _embed(lib) -> None:
    """Embed the new descriptions now, so the next search is a text-encoder search at once."""
    import time

    from ..core.library.embed import EncoderUnavailable

    t0 = time.perf_counter()
    try:
        n = lib.embed_pending()
    except EncoderUnavailable:
        print("The text encoder is not available: searches use keywords.")
        return
    if n:
        print(f"{n} new descriptions embedded for search ({time.perf_counter() - t0:.1f} s)")


def cmd_list(args) -> int:
    with _open() as lib:
        rows = lib.folders()
        if not rows:
            print("The library is empty; add a folder with 'rfm-studio library add FOLDER'.")
        for path, n, starter in rows:
            print(f"{n:7d} files  {path}" + ("  (starter library)" if starter else ""))
    return 0


def cmd_remove(args) -> int:
    with _open() as lib:
        n = lib.remove_folder(args.folder)
    print(f"Removed {args.folder} from the library ({n} files; the files themselves are unchanged).")
    return 0


def cmd_refresh(args) -> int:
    with _open() as lib:
        for r in lib.refresh():
            print(_report(r))
        _embed(lib)
    return 0


def _fmt_hit(h) -> str:
    return f"{h.path}\n    {h.description}  ({h.duration:.2f} s)"


def cmd_search(args) -> int:
    if not 1 <= args.limit <= 1000:
        raise OptionError(f"--limit must be between 1 and 1000, got {args.limit}.")
    if not args.query.strip():
        raise OptionError("The search text is empty.")
    with _open() as lib:
        hits = lib.search(args.query, args.limit)
        if lib.mode == "keywords":
            print("(the text encoder did not load: keyword search)")
    if not hits:
        print(f"Nothing in the library matches '{args.query}'.")
    for h in hits:
        print(_fmt_hit(h))
    return 0


# ---------------------------------------------------------------- edit --reference / --library

def add_edit_options(p) -> None:
    p.add_argument("--reference", default=None, metavar="FILE",
                   help="a sound file to add (\"Add ...\") or to put in place of the removed sound (\"Replace A with B\")")
    p.add_argument("--library", default=None, metavar="NAME_OR_QUERY",
                   help="the library sound to use: a file's path or name, or a description to search for")


def check_reference(args):
    """The --reference prompt, read before the model loads (None without the option)."""
    from ..core.library.prompted import load_reference

    if getattr(args, "reference", None) and getattr(args, "library", None):
        raise OptionError("Give either --reference or --library, not both.")
    if not getattr(args, "reference", None):
        return None
    p = Path(args.reference)
    if not p.is_file():
        raise OptionError(f"Reference file not found: {args.reference}")
    return load_reference(p, source=str(p))


def library_reference(args, instruction: str):
    """(prompt, note) for --library, or the best library match for an "Add X" / "Replace A with B"
    instruction; (None, None) when neither applies."""
    from ..core.library.prompted import load_reference, parse_instruction, pick_reference

    task, _, what = parse_instruction(instruction)
    name = getattr(args, "library", None)
    if name:
        if task is None:
            raise OptionError("--library needs an 'Add ...' or 'Replace ... with ...' instruction.")
        p = Path(name).expanduser()
        if p.is_file():
            return load_reference(p, source=str(p)), f"library file {p}"
        with _open() as lib:
            esc = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            row = lib.db.execute("SELECT path FROM files WHERE path LIKE ? ESCAPE '\\' ORDER BY length(path) LIMIT 1",
                                 ("%/" + esc,)).fetchone() if "/" not in name else None
            if row:
                return load_reference(row[0], source=row[0]), f"library file {row[0]}"
            prompt, hit = pick_reference(name, lib)
        return prompt, f"library match for '{name}': {hit.path} ({hit.description})"
    if task is None:
        return None, None
    prompt, hit = pick_reference(what)
    return prompt, f"library match for '{what}': {hit.path} ({hit.description})"
