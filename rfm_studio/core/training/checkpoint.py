"""Checkpoints without pickle: tensors in safetensors, structure in JSON; written atomically.

  DIR/checkpoints/step-000123/   model.safetensors (trainable + EMA weights),
                                 optimizer.safetensors + optimizer.json, state.json
  DIR/checkpoints/latest.json    {"path": "step-000123"}   (written last, atomically)
A checkpoint folder is written under a temporary name and renamed when complete, so a
kill at any moment leaves the previous checkpoint as the latest complete one.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import torch

from ..model.files import load_safetensors, save_safetensors, write_json


def optimizer_to_files(opt, folder: Path):
    sd = opt.state_dict()
    tensors, meta = {}, {"state": {}, "param_groups": sd["param_groups"]}
    for pid, st in sd["state"].items():
        meta["state"][str(pid)] = {}
        for k, v in st.items():
            if torch.is_tensor(v):
                tensors[f"{pid}.{k}"] = v
                meta["state"][str(pid)][k] = {"tensor": f"{pid}.{k}"}
            else:
                meta["state"][str(pid)][k] = {"value": v}
    save_safetensors(tensors, folder / "optimizer.safetensors")
    write_json(folder / "optimizer.json", meta)


def optimizer_from_files(opt, folder: Path):
    meta = json.loads((folder / "optimizer.json").read_text())
    tensors = load_safetensors(folder / "optimizer.safetensors")
    state = {}
    for pid, st in meta["state"].items():
        state[int(pid)] = {k: (tensors[v["tensor"]] if "tensor" in v else v["value"]) for k, v in st.items()}
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


def save_checkpoint(root, step: int, weights: dict, opt, state: dict, keep: int = 3) -> Path:
    ck = Path(root) / "checkpoints"
    ck.mkdir(parents=True, exist_ok=True)
    name = f"step-{step:07d}"
    tmp = ck / f".tmp-{name}-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir()
    save_safetensors(weights, tmp / "model.safetensors")
    optimizer_to_files(opt, tmp)
    write_json(tmp / "state.json", {**state, "step": step, "time": time.time()})
    final = ck / name
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    write_json(ck / "latest.json", {"path": name, "step": step})
    # prune old ones (never the latest or the best)
    protected = {name, _read_name(ck / "best.json")}
    olds = sorted(p for p in ck.glob("step-*") if p.is_dir() and p.name not in protected)
    for p in olds[:-keep] if keep > 0 else []:
        shutil.rmtree(p, ignore_errors=True)
    for p in ck.glob(".tmp-*"):
        if p != tmp:
            shutil.rmtree(p, ignore_errors=True)
    return final


def mark_best(root, step: int, metric: float, key: str = "val_loss"):
    """``key``: what chose it, "val_loss" (lowest) or "clap" (highest CLAP score, the paper's rule)."""
    ck = Path(root) / "checkpoints"
    write_json(ck / "best.json", {"path": f"step-{step:07d}", "step": step, key: metric})


def _read_name(p: Path):
    try:
        return json.loads(p.read_text())["path"]
    except Exception:
        return None


def latest_checkpoint(root) -> Path | None:
    ck = Path(root) / "checkpoints"
    name = _read_name(ck / "latest.json")
    if name and (ck / name / "state.json").exists():
        return ck / name
    # fall back to the newest complete folder
    done = sorted(p for p in ck.glob("step-*") if (p / "state.json").exists()) if ck.exists() else []
    return done[-1] if done else None


def best_checkpoint(root) -> Path | None:
    ck = Path(root) / "checkpoints"
    name = _read_name(ck / "best.json")
    return ck / name if name and (ck / name / "state.json").exists() else latest_checkpoint(root)


def load_checkpoint(folder: Path):
    weights = load_safetensors(folder / "model.safetensors")
    state = json.loads((folder / "state.json").read_text())
    return weights, state
