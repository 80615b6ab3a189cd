"""Turning resource faults into advice (one sentence) instead of tracebacks."""

from __future__ import annotations

OOM_ADVICE = ("The device ran out of memory; try fewer steps, a shorter clip or region, guidance 1 "
              "(no batched unconditional pass), or the CPU (--device cpu).")


def is_out_of_memory(exc: BaseException) -> bool:
    name = type(exc).__name__
    if name in ("OutOfMemoryError", "MemoryError"):
        return True
    msg = str(exc).lower()
    return isinstance(exc, RuntimeError) and ("out of memory" in msg or "can't allocate memory" in msg
                                              or "not enough memory" in msg)


def advice_for(exc: BaseException) -> str | None:
    """A one-sentence message for faults the user can act on, else None."""
    if is_out_of_memory(exc):
        return OOM_ADVICE
    return None
