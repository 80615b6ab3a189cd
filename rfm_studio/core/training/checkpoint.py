"""Checkpoints without pickle: tensors in safetensors, structure in JSON; written atomically.

  DIR/checkpoints/step-000123/   model.safetensors (trainable + EMA weights),
                                 optimizer.safetensors + optimizer.json, state.json
  DIR/checkpoints/latest.json    {"path": "step-000123"}   (written last, atomically)
A checkpoint folder is written under a staging name and swapped in when complete
(``core.swap``: a folder saved again under the same step, as when validation improves on a
periodic or the final step, is replaced by renames, never deleted first), so a kill at any
moment leaves a complete checkpoint to resume from: the one saved, or the one before it.
Resuming recovers a swap cut short and takes the newest *complete* checkpoint.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import torch

from ..errors import RFMError
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
    meta = json.loads((folder / "optimizer.json").read_text(encoding="utf-8"))
    tensors = load_safetensors(folder / "optimizer.safetensors")
    state = {}
    for pid, st in meta["state"].items():
        state[int(pid)] = {k: (tensors[v["tensor"]] if "tensor" in v else v["value"]) for k, v in st.items()}
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})


FILES = ("model.safetensors", "optimizer.safetensors", "optimizer.json", "state.json")


def is_complete(folder: Path) -> bool:
    return all((Path(folder) / f).is_file() for f in FILES)


def save_checkpoint(root, step: int, weights: dict, opt, state: dict, keep: int = 3) -> Path:
    from ..atomic import sweep
    from ..swap import discard_tree, replacing

    ck = Path(root) / "checkpoints"
    ck.mkdir(parents=True, exist_ok=True)
    sweep(ck)  # what killed saves left: swaps cut short, staging folders, temporary files (latest.json's)
    name = f"step-{step:07d}"
    final = ck / name
    with replacing(final, replace=True) as tmp:
        save_safetensors(weights, tmp / "model.safetensors")
        optimizer_to_files(opt, tmp)
        write_json(tmp / "state.json", {**state, "step": step, "time": time.time()})
    write_json(ck / "latest.json", {"path": name, "step": step})
    # prune old ones (never the latest or the best)
    protected = {name, _read_name(ck / "best.json")}
    olds = sorted(p for p in ck.glob("step-*") if p.is_dir() and p.name not in protected)
    for p in olds[:-keep] if keep > 0 else []:
        discard_tree(p)
    for p in ck.glob(".tmp-*"):  # older versions' temporary folders
        shutil.rmtree(p, ignore_errors=True)
    return final


def mark_best(root, step: int, metric: float, key: str = "val_loss"):
    """``key``: what chose it, "val_loss" (lowest) or "clap" (highest CLAP score, the paper's rule)."""
    ck = Path(root) / "checkpoints"
    write_json(ck / "best.json", {"path": f"step-{step:07d}", "step": step, key: metric})


def _read_name(p: Path):
    try:
        return json.loads(p.read_text(encoding="utf-8"))["path"]
    except Exception:
        return None


def latest_checkpoint(root) -> Path | None:
    """The checkpoint to resume from: the one latest.json names when it is complete, else the
    newest complete one. A run whose latest.json names a checkpoint but holds none complete
    is an error (RFMError), never silently a new run from step 0."""
    from ..swap import recover_all

    ck = Path(root) / "checkpoints"
    if not ck.is_dir():
        return None
    recover_all(ck)
    name = _read_name(ck / "latest.json")
    if name and is_complete(ck / name):
        return ck / name
    # fall back to the newest complete folder
    done = sorted(p for p in ck.glob("step-*") if p.is_dir() and is_complete(p))
    if done:
        return done[-1]
    if name:
        raise RFMError(f"The run {Path(root)} has no complete checkpoint left (latest.json names {name}); "
                       "resuming would start again from step 0, so nothing was done.")
    return None


def best_checkpoint(root) -> Path | None:
    ck = Path(root) / "checkpoints"
    latest = latest_checkpoint(root)  # recovers a swap cut short first
    name = _read_name(ck / "best.json")
    return ck / name if name and is_complete(ck / name) else latest


def load_checkpoint(folder: Path):
    weights = load_safetensors(folder / "model.safetensors")
    state = json.loads((folder / "state.json").read_text(encoding="utf-8"))
    return weights, state
