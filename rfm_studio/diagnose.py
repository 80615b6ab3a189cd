"""``rfm-studio --diagnose``: versions, devices, audio devices and model folders."""

from __future__ import annotations

import platform
import sys


def _version(mod: str) -> str:
    try:
        from importlib.metadata import version

        return version(mod)
    except Exception:
        return "not installed"


def diagnose() -> str:
    from . import __version__
    from .core.paths import model_search_path, user_adapters_dir, user_config_dir, user_log_dir

    lines = [f"rfm-studio {__version__}", f"python {sys.version.split()[0]} on {platform.platform()}"]
    for pkg in ("torch", "diffusers", "transformers", "peft", "accelerate", "PySide6",
                "pyqtgraph", "sounddevice", "soundfile", "numpy"):
        v = _version(pkg)
        if pkg == "PySide6" and v == "not installed":
            v = _version("PySide6-Essentials")
        lines.append(f"  {pkg:13s} {v}")
    try:
        import torch

        cuda = torch.cuda.is_available()
        lines.append(f"CUDA: {'yes, ' + torch.cuda.get_device_name(0) if cuda else 'no'}; CPU threads {torch.get_num_threads()}")
        from .core.devices import mps_available

        lines.append(f"MPS: {'yes' if mps_available() else 'no'}")
    except Exception as exc:
        lines.append(f"torch unavailable: {exc}")
    try:
        import sounddevice as sd

        devs = [d["name"] for d in sd.query_devices() if d["max_output_channels"] > 0]
        lines.append(f"audio outputs: {', '.join(devs) if devs else 'none'}")
    except Exception as exc:
        lines.append(f"audio: unavailable ({str(exc).splitlines()[0]})")
    from .xcb_check import report

    lines.append(report())
    for base in model_search_path():
        models = sorted(p.parent.name for p in base.glob("*/model_index.json")) if base.exists() else []
        lines.append(f"models in {base}: {', '.join(models) if models else '(none)'}")
    lines.append(f"adapters: {user_adapters_dir()}")
    lines.append(f"config: {user_config_dir()}  logs: {user_log_dir()}")
    return "\n".join(lines)
