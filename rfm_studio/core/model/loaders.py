"""The one way to load an editing model: by name or folder, on a device, in a precision, with
an optional LoRA adapter. The CLI, the GUI's worker, evaluation, training and the benchmarks
all load through it (``factory.py`` builds fresh models from configs instead).

    model = load_editor()                                    # the embedded model, best device
    model = load_editor("rfm-studio-small", device="cpu", dtype="bfloat16", adapter="my-voice")
"""

from __future__ import annotations

import os
from pathlib import Path


def resolve_adapter_folder(adapter) -> Path | None:
    """None or "" -> None; a name -> its folder in the user adapters folder (checked, see
    ``adapter_store.resolve_adapter``); a ``Path`` -> that folder, as the caller chose it."""
    if adapter is None or adapter == "":
        return None
    if isinstance(adapter, os.PathLike):
        return Path(adapter)
    from .adapter_store import resolve_adapter

    return resolve_adapter(adapter)


def load_editor(name_or_path=None, device=None, dtype=None, adapter=None, *, verify: bool = True):
    """An RFMEditor in eval mode; one sentence (OptionError / ModelLoadError) when anything is wrong,
    found in this order: the device, the precision, the model, the adapter, the bundle's files.

    ``name_or_path``: a model folder, or a name looked up in the user's then the shipped models
    (``paths.resolve_model``; None: $RFM_STUDIO_MODEL, else the embedded model).
    ``device``: auto | cpu | cuda | cuda:N | mps (None: auto), through ``devices.resolve_device``.
    ``dtype``: float32 | float16 | bfloat16 or a torch dtype (None: float32), usable on the device.
    ``adapter``: an adapter name, or the ``Path`` of an adapter folder (``resolve_adapter_folder``).
    ``verify``: check the bundle's files against its sha256 manifest first (``from_pretrained``)."""
    from ..devices import resolve_device, resolve_dtype
    from ..paths import resolve_model
    from .bundle import RFMEditor

    device = resolve_device(None if device is None else str(device))
    dtype = resolve_dtype(dtype, device)
    folder = resolve_model(None if name_or_path is None else str(name_or_path))
    return RFMEditor.from_pretrained(folder, device=device, dtype=dtype, adapter=resolve_adapter_folder(adapter),
                                     verify=verify)
