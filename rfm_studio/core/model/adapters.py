"""Personal LoRA adapters: train, save (peft format), apply and remove without reloading.

An adapter is a folder:
  adapter_card.json                      base model, triplets used, settings, final losses
  unet/adapter_config.json               peft LoraConfig (r, lora_alpha, target_modules)
  unet/adapter_model.safetensors         base_model.model.<module>.lora_A/B.weight
                                         (<module>: the layer's name in the plain model, also
                                         when the model's text encoder is itself peft-wrapped)
  text_encoder/...                       the same for the instruction encoder (optional)

LoRA is attached with forward hooks on the target ``nn.Linear`` layers: y += s * B(A(x)),
s = alpha / r. Hooks leave the base weights untouched, so removing an adapter restores
the model exactly, and they work the same on MelUNet1D, diffusers U-Nets and (peft-wrapped
or plain) transformers encoders. Attached sets are kept in ``model._adapter_sets`` and
follow the model's ``.to()`` (see ``RFMEditor._apply``). Replacing an adapter of the same
name swaps folders with a backup (``save_adapter``), never deleting the old one first.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..errors import ModelLoadError
from .adapter_store import CARD, check_name, delete_adapter, list_adapters, rename_adapter, resolve_adapter  # noqa: F401
from .files import load_safetensors, save_safetensors, write_json

UNET_TARGETS = ["to_q", "to_k", "to_v", "to_out", "to_out.0"]
TEXT_TARGETS = ["query", "value", "q", "v"]


PEFT_PREFIX = "base_model.model."  # peft's key prefix, and a PeftModel's own module prefix
_KEY_RE = re.compile(r"^base_model\.model\.(.+)\.lora_([AB])\.weight$")


def _is_peft(module: nn.Module) -> bool:
    return hasattr(module, "peft_config") and hasattr(module, "get_base_model")


def _targets(module: nn.Module, suffixes=None) -> dict[str, nn.Linear]:
    """The Linear layers of ``module`` whose names end with one of ``suffixes`` (all when None),
    keyed by their name in the plain model: peft's own wrapping ("base_model.model." in front,
    ".base_layer" inside) is left out, so an adapter's keys are those of a standard peft file
    whether or not the module is already peft-wrapped."""
    strip = PEFT_PREFIX if _is_peft(module) else ""
    out = {}
    for name, m in module.named_modules():
        if not isinstance(m, nn.Linear) or "lora_" in name:
            continue
        clean = name.replace(".base_layer", "")
        if strip and clean.startswith(strip):
            clean = clean[len(strip):]
        if suffixes is None or any(clean == s or clean.endswith("." + s) for s in suffixes):
            out[clean] = m
    return out


class LoRASet(nn.Module):
    """LoRA factors for a set of Linear layers of one module, attached by hooks.

    The factors are this module's parameters; a model that carries attached sets
    (``RFMEditor._adapter_sets``) moves them with itself (``RFMEditor._apply``)."""

    def __init__(self, module: nn.Module, suffixes, rank: int = 8, alpha: float = 16.0, init: bool = True,
                 layers: dict | None = None):
        super().__init__()
        self.rank, self.alpha = rank, alpha
        self.layers = dict(layers) if layers is not None else _targets(module, suffixes)
        if not self.layers:
            raise ModelLoadError("This model has no layers that a LoRA adapter can adapt.")
        self.A = nn.ParameterDict()
        self.B = nn.ParameterDict()
        for name, lin in self.layers.items():
            key = name.replace(".", "__")
            a = torch.zeros(rank, lin.in_features, dtype=lin.weight.dtype, device=lin.weight.device)
            if init:
                nn.init.kaiming_uniform_(a, a=5 ** 0.5)
            self.A[key] = nn.Parameter(a)
            self.B[key] = nn.Parameter(torch.zeros(lin.out_features, rank, dtype=lin.weight.dtype,
                                                   device=lin.weight.device))
        self._handles = []

    @property
    def scale(self) -> float:
        return self.alpha / self.rank

    def attach(self):
        self.detach()
        for name, lin in self.layers.items():
            key = name.replace(".", "__")

            def hook(mod, inp, out, key=key):
                A, B = self.A[key], self.B[key]  # looked up per call: they follow .to()
                return out + (inp[0].to(A.dtype) @ A.t() @ B.t()).to(out.dtype) * self.scale

            self._handles.append(lin.register_forward_hook(hook))
        return self

    def detach(self):
        for h in self._handles:
            h.remove()
        self._handles = []

    def all_finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for p in self.parameters())

    # peft format ------------------------------------------------------------------------
    def save(self, folder, base_name: str = ""):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {}
        for name in self.layers:
            key = name.replace(".", "__")
            state[f"{PEFT_PREFIX}{name}.lora_A.weight"] = self.A[key].detach()
            state[f"{PEFT_PREFIX}{name}.lora_B.weight"] = self.B[key].detach()
        save_safetensors(state, folder / "adapter_model.safetensors")
        write_json(folder / "adapter_config.json", {
            "peft_type": "LORA", "r": self.rank, "lora_alpha": self.alpha, "lora_dropout": 0.0,
            "target_modules": sorted({n.split(".")[-1] if not n.endswith("to_out.0") else "to_out.0"
                                      for n in self.layers}),
            "bias": "none", "base_model_name_or_path": base_name, "task_type": None,
            "fan_in_fan_out": False, "inference_mode": True})

    @classmethod
    def load(cls, module: nn.Module, folder, label: str | None = None) -> "LoRASet":
        """Read a peft LoRA folder for ``module`` (not attached). Every problem is one sentence
        (ModelLoadError) naming the adapter: ``label``, default "Adapter '<name>' (<part>)"."""
        folder = Path(folder)
        what = label or f"Adapter '{folder.parent.name}' ({folder.name})"
        cfg_p, w_p = folder / "adapter_config.json", folder / "adapter_model.safetensors"
        for p in (cfg_p, w_p):
            if not p.is_file():
                raise ModelLoadError(f"{what} is missing its file {p.name}.")
        try:
            cfg = json.loads(cfg_p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise ModelLoadError(f"{what}: adapter_config.json is not valid JSON.") from None
        if not isinstance(cfg, dict):
            raise ModelLoadError(f"{what}: adapter_config.json is not a JSON object.")
        rank, alpha = cfg.get("r"), cfg.get("lora_alpha")
        if isinstance(rank, bool) or not isinstance(rank, (int, float)) or rank != int(rank) or rank < 1:
            raise ModelLoadError(f"{what}: adapter_config.json has no valid 'r' (the LoRA rank, a whole "
                                 "number of at least 1).")
        if (isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not math.isfinite(alpha)
                or alpha <= 0):
            raise ModelLoadError(f"{what}: adapter_config.json has no valid 'lora_alpha' (a positive number).")
        try:
            state = load_safetensors(w_p)
        except ModelLoadError:
            raise ModelLoadError(f"{what}: adapter_model.safetensors is corrupted or not safetensors.") from None
        pairs: dict[str, dict] = {}
        for k, v in state.items():
            m = _KEY_RE.match(k)
            if m is None:
                raise ModelLoadError(f"{what}: adapter_model.safetensors holds '{k[:120]}', which is not a peft "
                                     "LoRA weight.")
            pairs.setdefault(m.group(1), {})[m.group(2)] = v
        if not pairs:
            raise ModelLoadError(f"{what}: adapter_model.safetensors holds no LoRA weights.")
        avail = _targets(module)
        layers = {}
        for name, ab in pairs.items():
            if len(ab) != 2:
                raise ModelLoadError(f"{what}: adapter_model.safetensors has lora_{'A' if 'A' in ab else 'B'} "
                                     f"but not lora_{'B' if 'A' in ab else 'A'} for '{name[:120]}'.")
            # older files from a peft-wrapped text encoder named its layers with peft's prefix twice
            own = name if name in avail else name[len(PEFT_PREFIX):] if name.startswith(PEFT_PREFIX) else None
            if own not in avail:
                raise ModelLoadError(f"{what} does not fit this model: it adapts the layer '{name[:120]}', "
                                     "which this part of the model does not have.")
            if own in layers:
                raise ModelLoadError(f"{what}: adapter_model.safetensors holds the layer '{own[:120]}' twice.")
            layers[own] = (avail[own], ab)
        lora = cls(module, None, rank=int(rank), alpha=float(alpha), init=False,
                   layers={n: lin for n, (lin, _ab) in layers.items()})
        with torch.no_grad():
            for name, (_lin, ab) in layers.items():
                key = name.replace(".", "__")
                a, b = ab["A"], ab["B"]
                if a.shape != lora.A[key].shape or b.shape != lora.B[key].shape:
                    raise ModelLoadError(
                        f"{what} does not fit this model or its rank r={int(rank)}: '{name[:120]}' has "
                        f"lora_A {tuple(a.shape)} and lora_B {tuple(b.shape)}, expected "
                        f"{tuple(lora.A[key].shape)} and {tuple(lora.B[key].shape)}.")
                if not (a.is_floating_point() and b.is_floating_point()):
                    raise ModelLoadError(f"{what}: the weights of '{name[:120]}' are not floating-point numbers.")
                if not (torch.isfinite(a).all() and torch.isfinite(b).all()):
                    raise ModelLoadError(f"{what} holds weights that are not finite numbers (NaN or infinity) "
                                         f"in '{name[:120]}'; train it again.")
                lora.A[key].copy_(a)
                lora.B[key].copy_(b)
        return lora


@dataclass
class AdapterCard:
    name: str
    base_model: str
    rank: int = 8
    alpha: float = 16.0
    parts: list = field(default_factory=lambda: ["unet"])
    triplets: list = field(default_factory=list)
    settings: dict = field(default_factory=dict)
    final_loss: float | None = None
    final_val_loss: float | None = None
    steps: int = 0

    def to_dict(self):
        return asdict(self)


def apply_adapter(model, folder) -> list[LoRASet]:
    """Attach an adapter's LoRA to a loaded model (replacing any attached one). Every part is
    read and checked first: an adapter that cannot be loaded leaves the model as it was."""
    folder = Path(folder)
    label = f"Adapter '{folder.name}'"
    if not folder.is_dir():
        raise ModelLoadError(f"{label} not found: {folder} is not a folder.")
    sets = []
    if (folder / "unet").is_dir():
        sets.append(LoRASet.load(model.denoiser.net, folder / "unet", label=f"{label} (unet)"))
    if (folder / "text_encoder").is_dir():
        sets.append(LoRASet.load(model.text_encoder.model, folder / "text_encoder", label=f"{label} (text_encoder)"))
    if not sets:
        raise ModelLoadError(f"{label} holds no LoRA weights (no unet or text_encoder folder in {folder}).")
    remove_adapter(model)
    for s in sets:
        s.attach()
    model._adapter_sets = sets
    model._adapter_path = str(folder)
    model._uncond_cache = None
    return sets


def remove_adapter(model):
    for s in getattr(model, "_adapter_sets", []) or []:
        s.detach()
    model._adapter_sets = []
    model._adapter_path = None
    model._uncond_cache = None


def backup_path(folder) -> Path:
    """Where ``save_adapter`` keeps the adapter it replaces (hidden: not listed)."""
    from ..swap import backup_path as swap_backup

    return swap_backup(folder)


def save_adapter(folder, sets: dict[str, LoRASet], card: AdapterCard, keep_backup: bool = False,
                 replace: bool = True):
    """Write the adapter into a staging folder, then swap it in (``core.swap``): an adapter of
    the same name is renamed to a backup, the new one renamed into place, and the backup
    deleted, so at every moment one complete adapter holds the name (or is put back by the
    recovery that runs before the next operation on it). Without ``replace`` an existing
    adapter of this name (one a crash had left as a backup included) is refused
    (FileExistsError) and kept. With ``keep_backup`` the replaced adapter stays at
    ``backup_path(folder)`` until ``drop_backup`` or ``restore_backup`` (a caller that may
    still undo the save)."""
    from ..swap import replacing

    folder = Path(folder)
    with replacing(folder, replace=replace, keep_old=keep_backup) as tmp:
        for part, s in sets.items():
            s.save(tmp / part, card.base_model)
        write_json(tmp / CARD, card.to_dict())
    return folder


def drop_backup(folder) -> None:
    """Keep the saved adapter: delete the one it replaced (if any)."""
    from ..swap import drop_old

    drop_old(folder)


def restore_backup(folder) -> None:
    """Undo a ``save_adapter(..., keep_backup=True)``: the new adapter goes, the one it replaced
    (if any) comes back under its name."""
    from ..swap import undo

    undo(folder)
