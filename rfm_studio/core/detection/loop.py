"""The training loop the sound finder (train.py) and the sound remover (remover_train.py) share:
resuming a run folder, a warmed-up cosine learning rate, gradient clipping, an EMA of the
weights (what validation, the best checkpoint and export use), validation every ``val_every``
steps (the best by its metric, lower is better), checkpoints every ``checkpoint_seconds``, a
TrainEvent per step and the cancel token checked before each."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..events import TrainEvent


def resume(out, net, ema, opt) -> tuple[int, float | None]:
    """Load the run's latest checkpoint (net, EMA and optimiser) when it has one; (step, best)."""
    from ..training.checkpoint import latest_checkpoint, load_checkpoint, optimizer_from_files

    ck = latest_checkpoint(Path(out))
    if ck is None:
        return 0, None
    w, state = load_checkpoint(ck)
    net.load_state_dict({k[4:]: v for k, v in w.items() if k.startswith("net.")})
    ema.load_state_dict({k[4:]: v for k, v in w.items() if k.startswith("ema.")})
    optimizer_from_files(opt, ck)
    return int(state["step"]), state.get("best")


def lr_at(cfg, s: int) -> float:
    """``cfg.lr`` warmed up over ``cfg.warmup`` steps, then a cosine to 0 at ``cfg.steps``."""
    w = min(1.0, (s + 1) / max(1, cfg.warmup))
    return cfg.lr * w * 0.5 * (1 + np.cos(np.pi * min(1.0, s / max(1, cfg.steps))))


def train_loop(cfg, net, ema, opt, step: int, best, train_loss, validate, *, best_key: str, cancel=None):
    """Train ``net`` from ``step`` to ``cfg.steps`` in the run folder ``cfg.out``; yields
    TrainEvents; returns the best checkpoint's folder. ``train_loss()``: the loss tensor of a new
    training batch (``net`` in train mode); ``validate()``: (metric, message) of the EMA weights."""
    import torch

    from ..training.checkpoint import best_checkpoint, mark_best, save_checkpoint

    out = Path(cfg.out)
    last_ck = t0 = time.time()

    def checkpoint():
        w = {**{f"net.{k}": v for k, v in net.state_dict().items()},
             **{f"ema.{k}": v for k, v in ema.state_dict().items()}}
        save_checkpoint(out, step, w, opt, {"best": best, "config": cfg.to_dict()})

    while step < cfg.steps:
        if cancel is not None and cancel.cancelled:
            checkpoint()
            return best_checkpoint(out)
        for g in opt.param_groups:
            g["lr"] = lr_at(cfg, step)
        net.train()
        loss = train_loss()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        with torch.no_grad():
            d = min(0.999, (1 + step) / (10 + step))
            for pe, pn in zip(ema.parameters(), net.parameters()):
                pe.mul_(d).add_(pn.detach(), alpha=1 - d)
            for be, bn in zip(ema.buffers(), net.buffers()):
                be.copy_(bn)
        step += 1
        val, msg = None, ""
        if step % cfg.val_every == 0 or step == cfg.steps:
            ema.eval()
            with torch.no_grad():
                val, msg = validate()
            if best is None or val < best:
                best = val
                checkpoint()
                mark_best(out, step, best, key=best_key)
                last_ck = time.time()
        if time.time() - last_ck > cfg.checkpoint_seconds or step == cfg.steps:
            checkpoint()
            last_ck = time.time()
        yield TrainEvent(step=step, total=cfg.steps, loss=float(loss.detach()), lr=lr_at(cfg, step - 1),
                         val_loss=val, seconds=time.time() - t0, message=msg)
    return best_checkpoint(out)
