"""How an edit was made, in words (from its EditResult params): the engine that ran and what
it did. The CLI prints it after an edit ("Edited in 0.71 s (...)") and the app's History shows
it for each version."""

from __future__ import annotations


def steps_text(params: dict) -> str:
    n = int(params.get("steps", 0))
    return f"{n} step{'' if n == 1 else 's'}, t_start {float(params.get('t_start', 0)):g}"


SPANS_SHOWN = 6  # the report lists at most this many of the spans the model marked


def spans_text(spans) -> str:
    shown = ", ".join(f"{a:.2f}-{b:.2f} s" for a, b in list(spans)[:SPANS_SHOWN])
    more = len(spans) - SPANS_SHOWN
    return shown + (f" and {more} more" if more > 0 else "")


def finder_peak(params: dict) -> float | None:
    """The sound finder's highest probability over the examples it marked for a self-prompted
    dictionary removal; None where it marked none (the model did, or another engine ran)."""
    p = params
    if (p.get("engine") != "self-prompt" or p.get("removal") != "dictionary" or p.get("finder_peak") is None
            or p.get("spans_from") not in ("finder", "finder and model")):
        return None
    return float(p["finder_peak"])


def how_text(params: dict) -> str:
    """How the edit was made, as the report says it: the dictionary engine's removal and its
    templates; the self-prompted removal's, with the spans the sound finder found or the model
    marked, or the model's own
    edit where it stood (and its steps); else the model's steps (none for a placed library
    sound). For a long file, also its chunks (self-prompted: in how many the model's own removal
    stood). The parts are joined by "; "."""
    p, chunks = params, params.get("chunks")
    parts = []
    if p.get("engine") == "dictionary":
        parts.append(f"dictionary removal, templates from the {p.get('templates', 'examples')}"
                     + (f" and where the sound finder heard it too: {spans_text(p['found'])}" if p.get("found") else ""))
    elif p.get("engine") == "self-prompt" and p.get("removal") == "dictionary":
        who = {"finder": "the sound finder found", "finder and model": "the sound finder or the model marked"}.get(
            p.get("spans_from"), "the model marked")
        if finder_peak(p) is not None:
            who += f" at peak probability {finder_peak(p):.2f}"  # a doubtful find shows as one
        parts.append(f"dictionary removal, examples {who}: {spans_text(p.get('spans', []))}")
        if p.get("model_chunks"):
            k = int(p["model_chunks"])
            parts.append(f"the model's own removal stood in {k} chunk{'' if k == 1 else 's'}")
            parts += [steps_text(p)] if p.get("steps") else []
    elif p.get("engine") == "remover":
        parts.append(f"the sound remover's mask for '{p.get('sound', '')}'")
    elif p.get("engine") == "self-prompt":  # the model's own output stands
        k = p.get("model_chunks")
        if chunks and k is not None and int(k) < int(chunks):
            where = f" in the {int(k)} edited chunk{'' if int(k) == 1 else 's'} (of {chunks})"
        elif chunks:
            where = " in every chunk"
        elif p.get("spans"):
            where = f", it marked {spans_text(p['spans'])}"
        else:
            where = ", it marked no span"
        parts.append(f"self-prompted: the model's own removal stood{where}")
        parts += [steps_text(p)] if p.get("steps") else []
    elif p.get("steps"):
        parts.append(steps_text(p))
    if chunks:
        parts.append(f"{chunks} chunks from disk")
    return "; ".join(parts)


def engine_how_text(params: dict) -> str:
    """how_text naming the engine in every case, for a line with no other context (edit-batch's
    rows): the model's own edit says so ("model edit, 1 step, t_start 0.01"); the removal engines'
    texts already name theirs; a placed library sound has none (its placement line names the file)."""
    how = how_text(params)
    if how and params.get("engine", "model") == "model" and params.get("steps"):
        return f"model edit, {how}"
    return how


DOUBT_PEAK = 0.6  # a finder peak under this: the sound may not be in the clip (bank v2 validation, 130
# removes: the peaks of 69 % of 126 sounds asked for that a clip does not hold are under it, of 32 % of
# those it holds)


def doubt_text(params: dict, instruction: str, *, cli: bool) -> str:
    """One sentence when the sound finder was unsure of a text-only removal's sound: it marked the
    examples at a peak probability under DOUBT_PEAK (it marks its likeliest stretch even for a
    sound the clip does not hold), or it heard the sound nowhere (in the region, where one is given)
    and the model chose what to remove; with how to check and what to do. A Replace's removal of A
    ("removed") is told of A, and only to mark it (its removed sound holds B too). Else ""."""
    p = params
    if p.get("engine") != "self-prompt":
        return ""
    from .change_report import mark_hint
    from .detection.find import query_text

    sound = query_text(p.get("removed") or instruction)
    where = ("the region" if cli else "the selection") if p.get("region") else "the clip"
    mark = f"mark where the sound plays ({mark_hint(cli)})."
    listen = "--residual FILE" if cli else "R, or File ▸ Export Removed Sound (A − B)"
    check = mark if p.get("task") == "replace" else f"listen to what was removed ({listen}), or {mark}"
    if p.get("finder_missed"):
        return f"The sound finder did not hear '{sound}' in {where}, so the model chose what to remove: {check}"
    peak = finder_peak(p)
    if peak is None or peak >= DOUBT_PEAK:
        return ""
    return (f"The sound finder is unsure {where} holds '{sound}' (peak probability {peak:.2f}, under "
            f"{DOUBT_PEAK:g}): {check}")
