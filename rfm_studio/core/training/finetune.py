"""Personal fine-tuning: a LoRA adapter from a user's own triplets (a TrainEvent generator).

Base weights stay frozen; LoRA factors on the U-Net's attention projections (and
optionally the instruction encoder's) are trained with the same RFM objective. With
enough triplets one is held out for a validation loss. Tiny sets are augmented (random
gain, time shift through random crops). Cancelling writes nothing; the adapter folder
appears (atomically) only when training finishes, and only when its loss and weights are
finite numbers. An adapter of the same name is refused unless ``replace`` is set; then it is
swapped out safely (``save_adapter``).
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import OptionError, RFMError
from ..events import CancelToken, TrainEvent
from ..flow.loss import rfm_loss
from ..model.adapters import UNET_TARGETS, TEXT_TARGETS, AdapterCard, LoRASet, check_name, save_adapter
from .loop import drop_instructions, paired_latents, validate
from .sources import ManifestSource


@dataclass
class FinetuneConfig:
    triplets: str  # JSONL or CSV (input, target, instruction)
    name: str
    out_dir: str | None = None  # default: the user's adapters folder
    steps: int = 300
    batch_size: int = 4
    lr: float = 1e-3
    rank: int = 8
    alpha: float = 16.0
    parts: tuple = ("unet",)  # "unet", "text_encoder"
    crop_seconds: float = 2.56
    augment: bool = True
    seed: int = 0
    log_every: int = 10
    val_every: int = 50
    card_triplets: list | None = None  # what the card records (e.g. the user's own paths); default: the table
    replace: bool = False  # replace an adapter of this name (else it is refused before training)
    keep_replaced: bool = False  # keep the replaced adapter as a backup (adapters.restore_backup/drop_backup)

    def to_dict(self):
        d = asdict(self)
        d["parts"] = list(self.parts)
        return d


def check_settings(cfg: FinetuneConfig) -> None:
    """Refuse settings out of range, one sentence each (before anything loads or trains)."""
    check_name(cfg.name)
    whole = lambda v: isinstance(v, numbers.Integral) and not isinstance(v, bool) and v >= 1
    if not (whole(cfg.rank) and whole(cfg.steps)):
        raise OptionError("The rank and the number of steps must be whole numbers of at least 1.")
    if not whole(cfg.batch_size):
        raise OptionError("The batch size must be a whole number of at least 1.")
    if not (math.isfinite(cfg.lr) and cfg.lr > 0):
        raise OptionError(f"The learning rate must be a positive number, not {cfg.lr}.")
    if not (math.isfinite(cfg.alpha) and cfg.alpha > 0):
        raise OptionError(f"The LoRA alpha must be a positive number, not {cfg.alpha}.")


def adapter_exists(out_dir, name: str) -> bool:
    """Whether ``name`` is taken in the adapters folder ``out_dir`` (None: the user's)."""
    from ...paths import user_adapters_dir

    d = (Path(out_dir) if out_dir else user_adapters_dir()) / name
    return d.exists() or d.is_symlink()


def _refuse_existing(cfg: FinetuneConfig) -> None:
    if not cfg.replace and adapter_exists(cfg.out_dir, cfg.name):
        raise OptionError(f"An adapter named '{cfg.name}' already exists; choose another name or replace it.")


def finetune(model, cfg: FinetuneConfig, cancel: CancelToken | None = None, base_name: str = ""):
    from ...paths import user_adapters_dir

    check_settings(cfg)
    _refuse_existing(cfg)
    from .triplet_files import load_triplet_table

    manifest = load_triplet_table(cfg.triplets)
    rows = manifest.rows
    sr = model.mel_config.sample_rate
    crop = int(cfg.crop_seconds * sr)
    src = ManifestSource(None, crop, rows=rows, base=manifest.base)
    val_rows = None
    if len(rows) >= 5:  # hold one triplet out
        src.rows = rows[:-1]
        val = ManifestSource(None, crop, rows=rows[-1:], base=manifest.base)
        val_rows = [val.batch(min(4, cfg.batch_size), np.random.default_rng(99))]
    torch.manual_seed(cfg.seed)
    model.eval()
    for p in model.parameters():
        p.requires_grad_(False)
    sets = {}
    if "unet" in cfg.parts:
        sets["unet"] = LoRASet(model.denoiser.net, UNET_TARGETS, cfg.rank, cfg.alpha).attach()
    if "text_encoder" in cfg.parts:
        sets["text_encoder"] = LoRASet(model.text_encoder.model, TEXT_TARGETS, cfg.rank, cfg.alpha).attach()
    params = [p for s in sets.values() for p in s.parameters()]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.0)
    rng = np.random.default_rng(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    t0 = time.time()
    losses, val_loss = [], None
    try:
        for step in range(1, cfg.steps + 1):
            if cancel is not None and cancel.cancelled:
                yield TrainEvent(step - 1, cfg.steps, float("nan"), 0.0, message="cancelled")
                return None
            inp, tgt, texts = src.batch(cfg.batch_size, rng, augment=cfg.augment)
            x_orig, x_tar = paired_latents(model, inp, tgt, model.device)
            # instruction dropout as in training: the adapter also learns the unconditional branch
            # that guidance other than 1 mixes in
            texts = drop_instructions(texts, model.flow.cond_dropout, rng)
            ctx, mask = model.encode_instruction(texts)
            loss = rfm_loss(model, x_tar, x_orig, ctx, mask, generator=gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            losses.append(loss.item())
            if val_rows is not None and (step % cfg.val_every == 0 or step == cfg.steps):
                val_loss = validate(model, val_rows, model.device)
            if step % cfg.log_every == 0 or step == cfg.steps:
                yield TrainEvent(step, cfg.steps, float(np.mean(losses[-cfg.log_every:])), cfg.lr,
                                 val_loss=val_loss, seconds=time.time() - t0)
        if cancel is not None and cancel.cancelled:
            yield TrainEvent(cfg.steps, cfg.steps, float("nan"), 0.0, message="cancelled")
            return None
        final = float(np.mean(losses[-cfg.log_every:]))
        if not math.isfinite(final) or (val_loss is not None and not math.isfinite(val_loss)) \
                or not all(s.all_finite() for s in sets.values()):
            raise RFMError("Training diverged (the loss or the adapter's weights are not finite numbers), so "
                           f"'{cfg.name}' was not saved; try a lower learning rate or alpha.")
        _refuse_existing(cfg)  # taken while training
        out = Path(cfg.out_dir) if cfg.out_dir else user_adapters_dir()
        card = AdapterCard(name=cfg.name, base_model=base_name or str(getattr(model, "source_folder", "")),
                           rank=cfg.rank, alpha=cfg.alpha, parts=list(sets), steps=cfg.steps,
                           triplets=cfg.card_triplets or [{k: r[k] for k in ("input", "target", "instruction")}
                                                          for r in rows],
                           settings={k: v for k, v in cfg.to_dict().items() if k not in ("replace", "keep_replaced")},
                           final_loss=final,
                           final_val_loss=val_loss)
        folder = save_adapter(out / cfg.name, sets, card, keep_backup=cfg.keep_replaced)
        yield TrainEvent(cfg.steps, cfg.steps, card.final_loss, cfg.lr, val_loss=val_loss,
                         seconds=time.time() - t0, checkpoint=str(folder), message="saved")
        return folder
    finally:
        for s in sets.values():
            s.detach()
        model._uncond_cache = None
