"""Reading an edit instruction: which task it asks for and the sounds it names.

The forms are the training data's templates and paraphrases (data/captions.py) plus a few
common phrasings, each matched as a whole instruction (an optional leading "please" and a
trailing "." or "!" allowed, case ignored). Among the forms of the tasks asked about, the most
specific (the longest fixed text) is tried first.
"""

from __future__ import annotations

import re
from functools import lru_cache

# words that name no sound: articles and quantifiers ("the", "all the": the same sound) ...
ARTICLES = frozenset({"a", "an", "the", "all", "some", "any", "every", "each"})
# ... and the words of an instruction that points at a sound instead of naming it ("Remove this",
# "Remove sounds like this", "Remove the marked one"): detection.find.names_sound, the library's
# keyword search (library/index.py)
VAGUE_WORDS = frozenset({"this", "that", "it", "these", "those", "sound", "sounds", "like", "marked", "selected",
                         "here", "one", "ones", "thing", "things", "same", "of", "my", "i", "part", "parts", "bit",
                         "bits", "everything", "instance", "instances", "example", "examples", "other"})
NO_SOUND_WORDS = ARTICLES | VAGUE_WORDS

# phrasings users write that are not among the training data's forms
EXTRA_FORMS = {
    "add": ("Add {a} to the scene", "Add {a} in the background", "Put {a} in", "Add in {a}"),
    "remove": ("Take out the sound of {a}", "Get rid of the sound of {a}"),
    "replace": ("Replace {a} by {b}", "Swap {a} with {b}"),
}


@lru_cache(maxsize=None)
def _forms(tasks: tuple[str, ...]) -> tuple:
    """(task, compiled pattern) for every form of ``tasks``, the most specific first."""
    from .data.captions import PARAPHRASES, TEMPLATES

    pats = []
    for task in tasks:
        for tpl in TEMPLATES[task] + PARAPHRASES[task] + EXTRA_FORMS[task]:
            lit = re.escape(tpl).replace(r"\{a\}", "(?P<a>.+?)").replace(r"\{b\}", "(?P<b>.+?)")
            pats.append((len(tpl.replace("{a}", "").replace("{b}", "")), task,
                         re.compile(r"^\s*(?:please\s+)?" + lit + r"\s*[.!]?\s*$", re.I)))
    pats.sort(key=lambda t: -t[0])  # stable: equal lengths keep the order above
    return tuple((task, pat) for _, task, pat in pats)


def match_instruction(text: str, tasks: tuple[str, ...] = ("add", "remove", "replace")):
    """(task, {"a": ..., "b": ...}) for the first form of ``tasks`` the whole instruction
    matches (the names stripped of surrounding space; "b" only for replace), else (None, {})."""
    for task, pat in _forms(tuple(tasks)):
        m = pat.match(text or "")
        if m:
            return task, {k: v.strip() for k, v in m.groupdict().items() if v is not None}
    return None, {}


def removed_sound(instruction: str) -> str | None:
    """The sound a "Remove X" instruction (or a paraphrase) names, without a leading article,
    else None. All tasks' forms are tried, so that "Remove A and add B" (a replace) is not read as
    removing "A and add B"."""
    task, names = match_instruction(instruction, ("add", "remove", "replace"))
    if task != "remove":
        return None
    return re.sub(r"^(the|a|an|some)\s+", "", names["a"], flags=re.I) or None


def placed_sounds(text: str) -> tuple[str | None, str | None, str | None]:
    """("add", None, X) for "Add X", ("replace", A, B) for "Replace A with B" (and their
    paraphrases), else (None, None, None)."""
    task, names = match_instruction(text, ("add", "replace"))
    if task == "add":
        return "add", None, names["a"]
    if task == "replace":
        return "replace", names["a"], names["b"]
    return None, None, None
