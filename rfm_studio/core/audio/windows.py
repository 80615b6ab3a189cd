"""Window plans for long clips, crossfade ramps, and region splicing."""

from __future__ import annotations

import numpy as np

from ..errors import OptionError


def plan_windows(start: int, end: int, window: int, overlap: int) -> list[tuple[int, int]]:
    """Cover [start, end) with windows of at most ``window`` units overlapping by ``overlap``.

    The last window is shifted back to end exactly at ``end`` (it never runs past it)."""
    if end <= start:
        return []
    if end - start <= window:
        return [(start, end)]
    hop = window - overlap
    if hop <= 0:
        raise ValueError("overlap must be smaller than the window")
    out = []
    a = start
    while True:
        b = a + window
        if b >= end:
            out.append((max(start, end - window), end))
            break
        out.append((a, b))
        a += hop
    return out


def fade_weights(n: int, left: int, right: int) -> np.ndarray:
    """Raised-cosine ramps (``left`` units in, ``right`` out) on a window of n units."""
    w = np.ones(n, dtype=np.float64)
    if left > 0:
        w[:left] = 0.5 - 0.5 * np.cos(np.pi * (np.arange(left) + 0.5) / left)
    if right > 0:
        w[n - right :] = np.minimum(w[n - right :], 0.5 + 0.5 * np.cos(np.pi * (np.arange(right) + 0.5) / right))
    return w


def edge_fades(n: int, fade_in: int, fade_out: int) -> np.ndarray:
    """An envelope on n units rising from exactly 0 over ``fade_in`` (sin^2) and falling to exactly
    0 over ``fade_out`` (cos^2): a sound's own fades, where ``fade_weights`` crossfades two."""
    w = np.ones(n, dtype=np.float64)
    if fade_in > 0:
        w[:fade_in] = np.sin(0.5 * np.pi * np.arange(fade_in) / fade_in) ** 2
    if fade_out > 0:
        w[n - fade_out:] = np.cos(0.5 * np.pi * (np.arange(fade_out) + 1) / fade_out) ** 2
    return w


def overlap_add(chunks, total: int, axis_len_fn=None):
    """Crossfade ``[(start, array[..., n])]`` chunks (overlaps blended with raised cosines)."""
    acc = None
    wsum = np.zeros(total, dtype=np.float64)
    for i, (a, arr) in enumerate(chunks):
        n = arr.shape[-1]
        prev_end = chunks[i - 1][0] + chunks[i - 1][1].shape[-1] if i > 0 else a
        next_start = chunks[i + 1][0] if i + 1 < len(chunks) else a + n
        left = max(0, prev_end - a) if i > 0 else 0
        right = max(0, a + n - next_start) if i + 1 < len(chunks) else 0
        w = fade_weights(n, left, right)
        if acc is None:
            acc = np.zeros(arr.shape[:-1] + (total,), dtype=np.float64)
        acc[..., a : a + n] += arr * w
        wsum[a : a + n] += w
    return (acc / np.maximum(wsum, 1e-12)).astype(np.float32)


def parse_region(text: str) -> tuple[float, float]:
    """'START:END' in seconds -> (start, end)."""
    try:
        a, b = text.split(":")
        start, end = float(a), float(b)
    except ValueError:
        raise OptionError(f"Region '{text}' is not START:END in seconds (for example 2.5:6).") from None
    return start, end


def check_region(region, duration: float) -> tuple[float, float]:
    start, end = float(region[0]), float(region[1])
    if not (np.isfinite(start) and np.isfinite(end)) or start < 0 or end <= start:
        raise OptionError(f"Region {start:g}:{end:g} is empty or negative; END must be after START.")
    if start >= duration:
        raise OptionError(f"Region starts at {start:g} s but the clip is only {duration:.2f} s long.")
    return start, min(end, duration)


def splice(original: np.ndarray, edited: np.ndarray, start: int, end: int, fade: int) -> np.ndarray:
    """Take ``edited`` inside [start, end) and ``original`` elsewhere, with raised-cosine
    crossfades of ``fade`` samples just inside the region. Outside it the result equals
    ``original`` sample for sample. Arrays are [samples] or [samples, channels]."""
    out = original.copy()
    n = end - start
    fade = max(0, min(fade, n // 2))
    w = fade_weights(n, fade if start > 0 else 0, fade if end < original.shape[0] else 0)
    if original.ndim == 2:
        w = w[:, None]
    out[start:end] = (w * edited[start:end] + (1 - w) * original[start:end]).astype(original.dtype)
    return out


def context_bounds(region, n: int, sr: int, context_s: float) -> tuple[int, int]:
    """Samples [c0, c1) of ``region`` (seconds) and ``context_s`` each side, within the clip's
    ``n`` samples; the whole clip without a region."""
    if region is None:
        return 0, n
    return max(0, int(round((region[0] - context_s) * sr))), min(n, int(round((region[1] + context_s) * sr)))


def splice_region(original: np.ndarray, edited: np.ndarray, region, sr: int, fade_s: float) -> np.ndarray:
    """``edited`` inside ``region`` (seconds) and ``original`` outside it, crossfaded over
    ``fade_s`` just inside (``splice``); ``edited`` itself without a region."""
    if region is None:
        return edited
    n = original.shape[0]
    return splice(original, edited, int(round(region[0] * sr)), min(n, int(round(region[1] * sr))),
                  int(fade_s * sr))
