"""Personal fine-tuning: a LoRA adapter from a user's own triplets (a TrainEvent generator).

Base weights stay frozen; LoRA factors on the U-Net's attention projections (and
optionally the instruction encoder's) are trained with the same RFM objective. With
enough triplets one is held out for a validation loss. Tiny sets are augmented (random
gain, time shift through random crops). Cancelling writes nothing; the adapter folder
appears (atomically) only when training finishes, and only when its loss and weights are
finite numbers. An adapter of the same name is refused unless ``replace`` is set; then it is
swapped out safely (``save_adapter``).

A run killed part-way resumes: every ``checkpoint_seconds`` (or ``checkpoint_every`` steps)
the LoRA factors, the optimizer's state and the random generators are checkpointed
(``training.checkpoint``) in the user's data folder, keyed by the adapters folder and name;
the same fine-tuning started again (same triplets, settings and base model) continues from
the latest complete checkpoint. The checkpoints go when the adapter is saved, cancelled or
diverged.
"""

from __future__ import annotations

import hashlib
import json
import math
import numbers
import time
from pathlib import Path

import numpy as np
import torch

from ..errors import OptionError, RFMError
from ..events import CancelToken, TrainEvent
from ..flow.loss import rfm_loss
from ..model.adapters import UNET_TARGETS, TEXT_TARGETS, AdapterCard, LoRASet, check_name, save_adapter
from .finetune_config import HOLD_OUT_MIN, FinetuneConfig
from .loop import drop_instructions, paired_latents, validate
from .sources import ManifestSource


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
    """Whether ``name`` is taken in the adapters folder ``out_dir`` (None: the user's), once a
    replacement a crash cut short is recovered (the adapter it left as a backup counts)."""
    from ..paths import user_adapters_dir
    from ..swap import exists

    return exists((Path(out_dir) if out_dir else user_adapters_dir()) / name)


# settings that do not change what is trained (a run with another value still resumes)
_NOT_FINGERPRINTED = ("replace", "keep_replaced", "card_triplets", "checkpoint_seconds", "checkpoint_every",
                      "steps", "log_every", "val_every")


def resume_dir(out_dir, name: str) -> Path:
    """Where the resume checkpoints of fine-tuning ``name`` into ``out_dir`` live."""
    from ..paths import user_adapters_dir, user_data_dir

    base = Path(out_dir) if out_dir else user_adapters_dir()
    key = hashlib.sha256(str(base.resolve()).encode("utf-8", "surrogatepass")).hexdigest()[:12]
    return user_data_dir() / "finetune-resume" / f"{key}-{name}"


def _fingerprint(cfg: FinetuneConfig, base_name: str) -> str:
    settings = {k: v for k, v in cfg.to_dict().items() if k not in _NOT_FINGERPRINTED}
    h = hashlib.sha256(json.dumps([settings, base_name], sort_keys=True, default=str).encode("utf-8"))
    try:
        h.update(Path(cfg.triplets).read_bytes())
    except OSError:
        pass
    return h.hexdigest()


def _forget(run: Path) -> None:
    from ..swap import discard_tree

    try:
        discard_tree(run)
    except OSError:
        pass


def _refuse_existing(cfg: FinetuneConfig) -> None:
    if not cfg.replace and adapter_exists(cfg.out_dir, cfg.name):
        raise OptionError(f"An adapter named '{cfg.name}' already exists; choose another name or replace it.")


def finetune(model, cfg: FinetuneConfig, cancel: CancelToken | None = None, base_name: str = ""):
    from ..paths import user_adapters_dir

    check_settings(cfg)
    _refuse_existing(cfg)
    from .triplet_files import load_triplet_table

    manifest = load_triplet_table(cfg.triplets)
    rows = manifest.rows
    sr = model.mel_config.sample_rate
    crop = int(cfg.crop_seconds * sr)
    src = ManifestSource(None, crop, rows=rows, base=manifest.base)
    val_rows = None
    if len(rows) >= HOLD_OUT_MIN:  # hold the last triplet out
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
    run, fingerprint = resume_dir(cfg.out_dir, cfg.name), _fingerprint(cfg, base_name)
    first, val_loss = _resume(run, fingerprint, sets, opt, rng, gen, losses)
    if first > cfg.steps:
        first = cfg.steps + 1
    last_ck = time.time()
    try:
        if first > 1:
            yield TrainEvent(first - 1, cfg.steps, float("nan"), 0.0, message=f"resumed from step {first - 1}")
        for step in range(first, cfg.steps + 1):
            if cancel is not None and cancel.cancelled:
                _forget(run)
                yield TrainEvent(step - 1, cfg.steps, float("nan"), 0.0, message="cancelled")
                return None
            inp, tgt, texts = src.batch(cfg.batch_size, rng, augment=cfg.augment)
            x_orig, x_tar = paired_latents(model, inp, tgt, model.device)
            # instruction dropout as in training: the adapter also learns the unconditional branch
            # that guidance other than 1 mixes in
            texts = drop_instructions(texts, model.flow.training.cond_dropout, rng)
            ctx, mask = model.encode_instruction(texts)
            loss = rfm_loss(model, x_tar, x_orig, ctx, mask, generator=gen)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            losses.append(loss.item())
            if val_rows is not None and (step % cfg.val_every == 0 or step == cfg.steps):
                val_loss = validate(model, val_rows, model.device)
            if step < cfg.steps and ((cfg.checkpoint_every and step % cfg.checkpoint_every == 0)
                                     or time.time() - last_ck > cfg.checkpoint_seconds):
                _checkpoint(run, step, fingerprint, sets, opt, rng, gen, losses[-cfg.log_every:], val_loss)
                last_ck = time.time()
            if step % cfg.log_every == 0 or step == cfg.steps:
                yield TrainEvent(step, cfg.steps, float(np.mean(losses[-cfg.log_every:])), cfg.lr,
                                 val_loss=val_loss, seconds=time.time() - t0)
        if cancel is not None and cancel.cancelled:
            _forget(run)
            yield TrainEvent(cfg.steps, cfg.steps, float("nan"), 0.0, message="cancelled")
            return None
        final = float(np.mean(losses[-cfg.log_every:])) if losses else float("nan")
        if not math.isfinite(final) or (val_loss is not None and not math.isfinite(val_loss)) \
                or not all(s.all_finite() for s in sets.values()):
            _forget(run)
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
        try:
            folder = save_adapter(out / cfg.name, sets, card, keep_backup=cfg.keep_replaced, replace=cfg.replace)
        except FileExistsError:  # taken while training (a crash's backup, recovered, counts)
            raise OptionError(f"An adapter named '{cfg.name}' already exists; choose another name or replace "
                              "it.") from None
        _forget(run)
        yield TrainEvent(cfg.steps, cfg.steps, card.final_loss, cfg.lr, val_loss=val_loss,
                         seconds=time.time() - t0, checkpoint=str(folder), message="saved")
        return folder
    finally:
        for s in sets.values():
            s.detach()
        model._uncond_cache = None


def _checkpoint(run: Path, step: int, fingerprint: str, sets: dict, opt, rng, gen, losses, val_loss) -> None:
    from .checkpoint import save_checkpoint

    weights = {f"{part}.{k}": v.detach() for part, s in sets.items() for k, v in s.named_parameters()}
    weights["rng.torch"] = gen.get_state()
    save_checkpoint(run, step, weights, opt, {"fingerprint": fingerprint, "rng": rng.bit_generator.state,
                                              "losses": [float(x) for x in losses], "val_loss": val_loss}, keep=1)


def _resume(run: Path, fingerprint: str, sets: dict, opt, rng, gen, losses) -> tuple[int, float | None]:
    """Load the latest complete checkpoint of this same fine-tuning: (the first step to run,
    the last validation loss)."""
    from .checkpoint import latest_checkpoint, load_checkpoint, optimizer_from_files

    if not run.is_dir():
        return 1, None
    try:
        ck = latest_checkpoint(run)
        if ck is None:
            raise RFMError("no checkpoint")
        weights, state = load_checkpoint(ck)
        if state.get("fingerprint") != fingerprint:
            raise RFMError("another fine-tuning")
        own = {f"{part}.{k}": v for part, s in sets.items() for k, v in s.named_parameters()}
        if set(own) - set(weights):
            raise RFMError("other layers")
        with torch.no_grad():
            for k, v in own.items():
                v.copy_(weights[k])
        optimizer_from_files(opt, ck)
        gen.set_state(weights["rng.torch"])
        rng.bit_generator.state = state["rng"]
        losses.extend(state.get("losses") or [])
        val = state.get("val_loss")
        return int(state["step"]) + 1, (float(val) if val is not None else None)
    except (RFMError, OSError, ValueError, KeyError, RuntimeError, TypeError):
        _forget(run)  # not this run's, or unreadable: start afresh
        return 1, None
