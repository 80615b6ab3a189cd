"""What a killed process left behind, and a termination that cleans up.

``startup_sweep`` runs when the CLI (or the app) starts: in the folders the app writes to it
rolls back unfinished file sets, recovers folder swaps cut short and deletes the app's own
stale temporary files (``atomic.sweep``: only names the app makes, only older than this
process and whose writer is gone). ``terminate_like_interrupt`` makes SIGTERM unwind the
stack as Ctrl-C does, so every ``except BaseException``/``finally`` that removes a partial
temporary file runs.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from pathlib import Path

log = logging.getLogger("rfm_studio.cleanup")


class Terminated(KeyboardInterrupt):
    """Raised in the main thread by SIGTERM (a KeyboardInterrupt, so cleanups run alike)."""


def _raise_terminated(signum, frame):
    signal.signal(signal.SIGTERM, signal.SIG_DFL)  # a second SIGTERM ends the process at once
    raise Terminated()


def terminate_like_interrupt():
    """Install the SIGTERM handler (main thread only). Returns a function that puts the
    previous handler back."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    try:
        previous = signal.signal(signal.SIGTERM, _raise_terminated)
    except (ValueError, OSError, AttributeError):
        return lambda: None

    def restore():
        try:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)
        except (ValueError, OSError):
            pass

    return restore


def app_folders() -> list[Path]:
    from .paths import shipped_models_dir, user_adapters_dir, user_data_dir, user_models_dir

    return [user_models_dir(), user_adapters_dir(), user_data_dir(), shipped_models_dir()]


def startup_sweep(extra=(), before: float | None = None) -> list[str]:
    """Sweep the app's folders and ``extra`` ones (a command's output folders); never raises."""
    from .atomic import sweep

    before = time.time() if before is None else before
    done: list[str] = []
    seen = set()
    for folder in [*app_folders(), *extra]:
        try:
            key = Path(folder).resolve()
        except (OSError, RuntimeError):
            continue
        if key in seen:
            continue
        seen.add(key)
        try:
            done += sweep(folder, before)
        except Exception as exc:  # noqa: BLE001 - a sweep never stops a command
            log.info("sweep of %s stopped: %s", folder, exc)
    if done:
        log.info("removed or recovered what a killed run left: %s", ", ".join(done[:20]))
    return done


def command_folders(args) -> list[Path]:
    """The folders a CLI command writes its outputs to (and their parents, where staging
    folders and temporary files live)."""
    out = []
    for attr in ("output", "out", "out_dir"):
        v = getattr(args, attr, None)
        if isinstance(v, str) and v:
            p = Path(v).expanduser()
            out += [p, p.parent] if attr != "output" else [p.parent]
    return out
