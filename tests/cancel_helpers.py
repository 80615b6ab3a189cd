"""Cancelling a core generator (an edit) while its n-th event is shown."""

from __future__ import annotations

import pytest


def work_done_when_cancelled(make_gen, after: int, calls: list) -> list:
    """Run ``make_gen(token)`` for ``after`` events, cancel, check the next step raises
    Cancelled, and return what was recorded in ``calls`` (cleared first) by then."""
    from rfm_studio.core.errors import Cancelled
    from rfm_studio.core.events import CancelToken

    calls.clear()
    tok = CancelToken()
    gen = make_gen(tok)
    for _ in range(after):
        next(gen)
    tok.cancel()
    with pytest.raises(Cancelled):
        next(gen)
    return list(calls)
