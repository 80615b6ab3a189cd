"""Where things live: the shipped resources and models, and the user's folders (platformdirs).

Works from a source checkout, an installed wheel and a frozen (PyInstaller) app.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

APP = "rfm-studio"
DEFAULT_MODEL = "rfm-studio-small"


def install_root() -> Path:
    """The folder holding ``resources/`` and ``models/`` (repo root or the frozen bundle)."""
    if getattr(sys, "frozen", False) and hasattr(sys, "_MEIPASS"):
        return Path(sys._MEIPASS)
    return Path(__file__).resolve().parent.parent.parent


def resources_dir() -> Path:
    return install_root() / "resources"


def examples_dir() -> Path:
    return resources_dir() / "examples"


def shipped_models_dir() -> Path:
    return install_root() / "models"


def _dirs():
    import platformdirs

    return platformdirs.PlatformDirs(APP, appauthor=False)


def user_config_dir() -> Path:
    return Path(os.environ.get("RFM_STUDIO_CONFIG_DIR") or _dirs().user_config_dir)


def user_data_dir() -> Path:
    return Path(os.environ.get("RFM_STUDIO_DATA_DIR") or _dirs().user_data_dir)


def user_models_dir() -> Path:
    return user_data_dir() / "models"


def user_adapters_dir() -> Path:
    return user_data_dir() / "adapters"


def user_cache_dir() -> Path:
    return Path(os.environ.get("RFM_STUDIO_CACHE_DIR") or _dirs().user_cache_dir)


def user_log_dir() -> Path:
    return Path(os.environ.get("RFM_STUDIO_LOG_DIR") or _dirs().user_log_dir)


_MODEL_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}")


def check_model_name(name: str) -> str:
    """``name`` if it is a plain folder name for the user models folder (letters, digits, '-',
    '_' and '.', not starting with '.', no path separators); otherwise an OptionError."""
    from .errors import OptionError

    from .names import portable

    if not isinstance(name, str) or not _MODEL_NAME.fullmatch(name) or not portable(name):
        raise OptionError(f"Model name {name!r} is not allowed: use up to 100 letters, digits, '-', '_' and '.', "
                          "not starting or ending with '.', and not a device name such as 'con'.")
    return name


def model_search_path() -> list[Path]:
    return [user_models_dir(), shipped_models_dir()]


def resolve_model(name_or_path: str | None) -> Path:
    """A model folder from a path or a name (user models first, then shipped ones)."""
    from .errors import ModelLoadError

    name = name_or_path or os.environ.get("RFM_STUDIO_MODEL") or DEFAULT_MODEL
    p = Path(name).expanduser()
    if p.is_dir():
        return p
    if p.exists():
        raise ModelLoadError(f"Model path {p} is a file; give the model's folder.")
    # a name, not a path: never a '.tmp-*' folder or one outside a models folder
    if not name.startswith(".") and "/" not in name and "\\" not in name:
        for base in model_search_path():
            q = base / name
            if (q / "model_index.json").exists():
                return q
    raise ModelLoadError(f"Model '{name}' not found (looked in {', '.join(str(b) for b in model_search_path())}).")
