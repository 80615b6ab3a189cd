"""Runs of True in a frame mask, and joining runs separated by short gaps (the change report's
changed stretches, the self-prompted removal's flagged spans)."""

from __future__ import annotations

import numpy as np


def runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[(start, end)] frame indices of each run of True in ``mask`` (end exclusive)."""
    d = np.diff(np.concatenate([[0], np.asarray(mask).astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def merge_runs(spans, gap: float) -> list[list]:
    """``spans`` sorted, those overlapping or at most ``gap`` apart (frames, or seconds: the
    streamed removal's spans from overlapping chunks) joined into one."""
    merged: list[list] = []
    for a, b in sorted((a, b) for a, b in spans):
        if merged and a - merged[-1][1] <= gap:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return merged
