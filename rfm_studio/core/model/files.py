"""Small file helpers shared by the model components: JSON configs, safetensors, atomic writes."""

from __future__ import annotations

import json
from pathlib import Path

from ..atomic import atomic_write_bytes
from ..errors import ModelLoadError


def read_json(path) -> dict:
    p = Path(path)
    if not p.exists():
        raise ModelLoadError(f"Missing model file: {p}")
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except RecursionError:
        raise ModelLoadError(f"Model file {p} is nested too deeply to be a config.") from None
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"Model file {p} is not valid JSON ({exc}).") from None


def read_config(path) -> dict:
    """A component's JSON config: read_json, and one sentence unless it is a JSON object."""
    d = read_json(path)
    if not isinstance(d, dict):
        raise ModelLoadError(f"Model file {path} is not a JSON object.")
    return d


def write_json(path, data: dict) -> None:
    atomic_write_bytes(path, (json.dumps(data, indent=2, sort_keys=True) + "\n").encode("utf-8"))


def save_safetensors(module_or_state, path, dtype=None) -> None:
    """Write a state dict (or a module's) as safetensors, atomically."""
    from safetensors.torch import save as st_save

    state = module_or_state.state_dict() if hasattr(module_or_state, "state_dict") else module_or_state
    out = {}
    for k, v in state.items():
        v = v.detach().cpu()
        if dtype is not None and v.is_floating_point():
            v = v.to(dtype)
        out[k] = v.contiguous()
    atomic_write_bytes(path, st_save(out))


def load_safetensors(path) -> dict:
    from safetensors.torch import load_file

    p = Path(path)
    if not p.exists():
        raise ModelLoadError(f"Missing model file: {p}")
    try:
        return load_file(str(p))
    except Exception as exc:
        raise ModelLoadError(f"Model file {p} is corrupted or not safetensors ({str(exc)[:120]}).") from None


def load_safetensors_into(module, path, strict: bool = True) -> None:
    state = load_safetensors(path)
    own = module.state_dict()
    for k, v in state.items():
        if k in own and own[k].shape != v.shape:
            raise ModelLoadError(
                f"Model file {path} does not match its config: {k} has shape {tuple(v.shape)}, expected {tuple(own[k].shape)}."
            )
    missing, unexpected = module.load_state_dict({k: v.to(own[k].dtype) if k in own else v for k, v in state.items()},
                                                 strict=False)
    if strict and (missing or unexpected):
        what = f"missing {missing[:3]}" if missing else f"unexpected {unexpected[:3]}"
        raise ModelLoadError(f"Model file {path} does not match its config ({what}).")


def _same_kind(value, default) -> bool:
    """Whether a config value has the kind of its field's default: a whole number for an int, a
    finite number for a float, a JSON object (or null) for a field that defaults to null."""
    import math

    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, int):
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if default is None:
        return value is None or isinstance(value, dict)
    return True


class ConfigOnlyFiles:
    """Save/load for components that have no weights: only ``config.json`` in their folder.
    Subclasses set ``config_class`` (a dataclass with ``to_dict``)."""

    config_class = None

    def save_pretrained(self, folder):
        Path(folder).mkdir(parents=True, exist_ok=True)
        write_json(Path(folder) / "config.json", self.config.to_dict())

    @classmethod
    def from_pretrained(cls, folder):
        path = Path(folder) / "config.json"
        d = read_json(path)
        if not isinstance(d, dict):
            raise ModelLoadError(f"Model file {path} is not a JSON object.")
        fields = getattr(cls.config_class, "__dataclass_fields__", {})
        unknown = sorted(k for k in d if not k.startswith("_") and k not in fields)
        if unknown:
            raise ModelLoadError(f"Model file {path} has an unknown setting {unknown[0]!r}.")
        for k, v in d.items():
            if k in fields and not _same_kind(v, fields[k].default):
                raise ModelLoadError(f"Model file {path} has a setting of the wrong kind: {k} = {str(v)[:40]!r}.")
        try:
            return cls(cls.config_class(**{k: v for k, v in d.items() if not k.startswith("_")}))
        except (TypeError, ValueError, AttributeError) as exc:
            raise ModelLoadError(f"Model file {path} has a setting out of range ({str(exc)[:120]}).") from None
