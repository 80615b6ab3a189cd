"""A sound's description from its file name, UCS name and tags.

UCS names (``CatID_FXName_CreatorID_SourceID``, Universal Category System) are read with the
UCS 8.2.1 CatID list (ucs_catids.tsv, CC0): ``DOGBark``-style CatIDs become their category
and subcategory words, e.g. ``ANMLDog_Small Dog Barking_JD_Farm.wav`` ->
"animals, dog: Small Dog Barking".
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from .meta import FileMeta

_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEP = re.compile(r"[_\-.+,;()\[\]{}]+|\s+")
NOISE_WORDS = {"wav", "flac", "ogg", "mp3", "aif", "aiff", "sfx", "fx", "mono", "stereo", "st", "ms", "mix",
               "final", "take", "copy", "new", "edit", "v", "ver"}


@functools.lru_cache(maxsize=1)
def ucs_table() -> dict[str, tuple[str, str]]:
    out = {}
    path = Path(__file__).with_name("ucs_catids.tsv")
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        cat_id, cat, sub = line.split("\t")
        out[cat_id] = (cat, sub)
    return out


def ucs_words(cat_id: str) -> str | None:
    """'animals, dog' for 'ANMLDog'; None when ``cat_id`` is not a UCS CatID."""
    hit = ucs_table().get(cat_id)
    if hit is None:
        return None
    cat, sub = hit
    cat, sub = cat.lower(), sub.lower()
    if sub in ("misc", "general") or sub == cat:
        return cat
    return f"{cat}, {sub}"


def name_words(stem: str) -> str:
    """Words of a file or folder name: separators and camelCase split, numbers and take
    markers dropped ('DogBark_03-close' -> 'Dog Bark close')."""
    parts = []
    for tok in _SEP.split(stem):
        for w in _CAMEL.split(tok):
            if not w or w.isdigit() or w.lower() in NOISE_WORDS or re.fullmatch(r"[0-9]+[a-z]?|[a-z]?[0-9]+", w, re.I):
                continue
            parts.append(w)
    return " ".join(parts)


def parse_ucs(stem: str) -> tuple[str, str] | None:
    """(category words, FXName) of a UCS file name, else None."""
    blocks = stem.split("_")
    if len(blocks) < 2:
        return None
    cat_id = blocks[0].split("-")[0]  # 'DOORWood-Ext' (UserCategory suffix)
    words = ucs_words(cat_id)
    if words is None:
        return None
    return words, blocks[1].strip()


def describe(path: Path, meta: FileMeta, root: Path | None = None) -> tuple[str, str]:
    """(description shown to the user, text searched): the tags that describe the sound,
    the UCS category, the file name's words and the folder names below ``root``."""
    tags = meta.tags
    stem = path.stem
    ucs = parse_ucs(stem)
    pieces = []
    if ucs:
        pieces.append(f"{ucs[0]}: {name_words(ucs[1]) or ucs[1]}")
    for key in ("DESCRIPTION", "TITLE", "FXNAME", "TRACKTITLE", "TRACK_TITLE", "NOTE", "NOTES", "COMMENT",
                "SUBJECT", "SUBTITLE", "DESC"):
        v = tags.get(key)
        if v and all(v.lower() not in p.lower() for p in pieces):
            pieces.append(v)
    if tags.get("CATID"):
        w = ucs_words(tags["CATID"].strip())
        if w and all(w not in p.lower() for p in pieces):
            pieces.insert(0, w)
    for key in ("CATEGORY", "SUBCATEGORY", "CATEGORYFULL", "USERCATEGORY", "KEYWORDS", "GENRE", "GROUPING"):
        v = tags.get(key)
        if v and all(v.lower() not in p.lower() for p in pieces):
            pieces.append(v)
    fname = name_words(stem)
    if not ucs and fname and all(fname.lower() not in p.lower() for p in pieces):
        pieces.insert(0 if not pieces else 1, fname)
    description = "; ".join(p for p in pieces if p)[:400] or stem
    folders = []
    if root is not None:
        try:
            rel = path.parent.relative_to(root)
            folders = [name_words(x) for x in rel.parts]
        except ValueError:
            pass
    search = " ".join([description] + [f for f in folders if f]).strip()
    return description, search
