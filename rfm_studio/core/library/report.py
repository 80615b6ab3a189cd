"""One line saying where and how a library sound went into the clip."""

from __future__ import annotations


def placement_line(params: dict) -> str:
    pl = params.get("placement") or {}
    if not pl:
        return "nothing placed"
    what = "replaced" if params.get("task") == "replace" else "added"
    rel = pl["level_db"] - pl["scene_db"]
    extra = f", decay {pl['t60']:.2f} s" if pl.get("t60") else ""
    many = params.get("placements") or []
    if len(many) > 1:  # replace: B at every place A was, each at A's level there
        spans = ", ".join(f"{q['start']:.2f}–{q['end']:.2f}" for q in many[:6]) + (", ..." if len(many) > 6 else "")
        return (f"{what} at {len(many)} places where the removed sound was ({spans} s), "
                f"{min(q['level_db'] for q in many):.1f} to {max(q['level_db'] for q in many):.1f} dB, each as loud as the "
                f"removed sound there{extra}")
    a = params.get("a_span")
    where_a = f" (the removed sound was at {a[0]:.2f}–{a[1]:.2f} s)" if a else ""
    return (f"{what} at {pl['start']:.2f}–{pl['end']:.2f} s{where_a}, {rel:+.1f} dB against the scene{extra}")
