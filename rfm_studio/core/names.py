"""What every user-chosen folder name (models, adapters) must also be: valid on every system."""

from __future__ import annotations

import re

# names Windows reserves for devices, with or without an extension ("con", "nul.txt")
RESERVED_RE = re.compile(r"^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$", re.IGNORECASE)


def portable(name: str) -> bool:
    """Not a device name, and not ending with a space or '.' (Windows drops those)."""
    return not RESERVED_RE.match(name.strip()) and not name.endswith((" ", "."))
