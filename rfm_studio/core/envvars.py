"""Environment variables set for the length of a ``with`` block and put back afterwards."""

from __future__ import annotations

import os
from contextlib import contextmanager


@contextmanager
def temporary_env(values: dict[str, str]):
    """Set ``values`` in ``os.environ``; on leaving, restore each variable (or remove it when it
    was not set before), also when the block raises."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
