"""Turning resource faults into advice (one sentence) instead of tracebacks."""

from __future__ import annotations

OOM_ADVICE = ("The device ran out of memory; try fewer steps, a shorter clip or region, guidance 1 "
              "(no batched unconditional pass), or the CPU (--device cpu).")


def is_out_of_memory(exc: BaseException) -> bool:
    """The one rule for "the device or the host ran out of memory" (CLI and GUI alike)."""
    if type(exc).__name__ in ("OutOfMemoryError", "MemoryError") or isinstance(exc, MemoryError):
        return True
    msg = str(exc).lower()
    if "out of memory" in msg:  # CUDA, MPS and allocator messages, whatever the exception's class
        return True
    return isinstance(exc, RuntimeError) and ("can't allocate memory" in msg or "not enough memory" in msg)


def advice_for(exc: BaseException) -> str | None:
    """A one-sentence message for faults the user can act on, else None."""
    if is_out_of_memory(exc):
        return OOM_ADVICE
    return None
