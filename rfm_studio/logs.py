"""A rotating log file in the user's log folder (set up by the CLI and the app)."""

from __future__ import annotations

import logging
import logging.handlers


def setup_logging(level=logging.INFO) -> str | None:
    from .core.paths import user_log_dir

    root = logging.getLogger("rfm_studio")
    if any(isinstance(h, logging.handlers.RotatingFileHandler) for h in root.handlers):
        return None
    try:
        d = user_log_dir()
        d.mkdir(parents=True, exist_ok=True)
        h = logging.handlers.RotatingFileHandler(d / "rfm-studio.log", maxBytes=2_000_000, backupCount=3,
                                                 encoding="utf-8")
    except OSError:
        return None  # a read-only home must not stop the tool
    h.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(h)
    root.setLevel(level)
    return str(d / "rfm-studio.log")
