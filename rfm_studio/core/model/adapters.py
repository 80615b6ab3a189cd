"""Personal LoRA adapters: train, save (peft format), apply and remove without reloading.

An adapter is a folder:
  adapter_card.json                      base model, triplets used, settings, final losses
  unet/adapter_config.json               peft LoraConfig (r, lora_alpha, target_modules)
  unet/adapter_model.safetensors         base_model.model.<module>.lora_A/B.weight
  text_encoder/...                       the same for the instruction encoder (optional)

LoRA is attached with forward hooks on the target ``nn.Linear`` layers: y += s * B(A(x)),
s = alpha / r. Hooks leave the base weights untouched, so removing an adapter restores
the model exactly, and they work the same on MelUNet1D, diffusers U-Nets and (peft-wrapped
or plain) transformers encoders.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..errors import ModelLoadError
from .adapter_store import check_name, delete_adapter, list_adapters, rename_adapter, resolve_adapter  # noqa: F401
from .files import load_safetensors, save_safetensors, write_json

UNET_TARGETS = ["to_q", "to_k", "to_v", "to_out", "to_out.0"]
TEXT_TARGETS = ["query", "value", "q", "v"]


def _targets(module: nn.Module, suffixes) -> dict[str, nn.Linear]:
    out = {}
    for name, m in module.named_modules():
        if not isinstance(m, nn.Linear) or "lora_" in name:
            continue
        clean = name.replace(".base_layer", "")
        if any(clean == s or clean.endswith("." + s) for s in suffixes):
            out[clean] = m
    return out


class LoRASet(nn.Module):
    """LoRA factors for a set of Linear layers of one module, attached by hooks."""

    def __init__(self, module: nn.Module, suffixes, rank: int = 8, alpha: float = 16.0, init: bool = True):
        super().__init__()
        self.rank, self.alpha = rank, alpha
        self.layers = _targets(module, suffixes)
        if not self.layers:
            raise ValueError("no target layers for LoRA")
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
            A, B = self.A[key], self.B[key]

            def hook(mod, inp, out, A=A, B=B):
                return out + (inp[0].to(A.dtype) @ A.t() @ B.t()).to(out.dtype) * self.scale

            self._handles.append(lin.register_forward_hook(hook))
        return self

    def detach(self):
        for h in self._handles:
            h.remove()
        self._handles = []

    # peft format ------------------------------------------------------------------------
    def save(self, folder, base_name: str = ""):
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = {}
        for name in self.layers:
            key = name.replace(".", "__")
            state[f"base_model.model.{name}.lora_A.weight"] = self.A[key].detach()
            state[f"base_model.model.{name}.lora_B.weight"] = self.B[key].detach()
        save_safetensors(state, folder / "adapter_model.safetensors")
        write_json(folder / "adapter_config.json", {
            "peft_type": "LORA", "r": self.rank, "lora_alpha": self.alpha, "lora_dropout": 0.0,
            "target_modules": sorted({n.split(".")[-1] if not n.endswith("to_out.0") else "to_out.0"
                                      for n in self.layers}),
            "bias": "none", "base_model_name_or_path": base_name, "task_type": None,
            "fan_in_fan_out": False, "inference_mode": True})

    @classmethod
    def load(cls, module: nn.Module, folder) -> "LoRASet":
        folder = Path(folder)
        cfg_p = folder / "adapter_config.json"
        if not cfg_p.exists():
            raise ModelLoadError(f"Missing adapter file: {cfg_p}")
        cfg = json.loads(cfg_p.read_text())
        state = load_safetensors(folder / "adapter_model.safetensors")
        names = sorted({k[len("base_model.model."):].rsplit(".lora_", 1)[0] for k in state})
        lora = cls(module, names, rank=int(cfg["r"]), alpha=float(cfg["lora_alpha"]), init=False)
        if set(lora.layers) != set(names):
            raise ModelLoadError(f"Adapter {folder} does not fit this model (layers differ).")
        with torch.no_grad():
            for name in names:
                key = name.replace(".", "__")
                a, b = state[f"base_model.model.{name}.lora_A.weight"], state[f"base_model.model.{name}.lora_B.weight"]
                if a.shape != lora.A[key].shape or b.shape != lora.B[key].shape:
                    raise ModelLoadError(f"Adapter {folder} does not fit this model ({name} has other shapes).")
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
    """Attach an adapter's LoRA to a loaded model (replacing any attached one)."""
    remove_adapter(model)
    folder = Path(folder)
    sets = []
    if (folder / "unet").is_dir():
        sets.append(LoRASet.load(model.denoiser.net, folder / "unet").attach())
    if (folder / "text_encoder").is_dir():
        sets.append(LoRASet.load(model.text_encoder.model, folder / "text_encoder").attach())
    if not sets:
        raise ModelLoadError(f"Adapter folder {folder} holds no LoRA weights.")
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


def save_adapter(folder, sets: dict[str, LoRASet], card: AdapterCard):
    """Write atomically: into a temporary folder, renamed when complete."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.parent / f".tmp-{folder.name}"
    if tmp.exists():
        shutil.rmtree(tmp)
    for part, s in sets.items():
        s.save(tmp / part, card.base_model)
    write_json(tmp / "adapter_card.json", card.to_dict())
    if folder.exists():
        shutil.rmtree(folder)
    tmp.rename(folder)
    return folder
