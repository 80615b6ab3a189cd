"""The training loop: a generator of TrainEvent, resumable, checkpointed, accelerate-ready.

    for ev in train(TrainConfig(data="bank:data/bank", out="runs/small")): ...

Trainable: the U-Net and (when ``text_lora``) a LoRA adapter on the instruction encoder.
An exponential moving average (EMA) of the trainable weights is what validation and
export use. Checkpoints every ``checkpoint_seconds`` (and at the end or on cancel).
Run under ``accelerate launch`` for several GPUs: gradients are synchronised by
accelerate; only the main process writes files.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ..errors import OptionError
from ..events import CancelToken, TrainEvent
from ..flow.loss import rfm_loss
from ..model.files import write_json
from .checkpoint import best_checkpoint, latest_checkpoint, load_checkpoint, mark_best, optimizer_from_files, \
    save_checkpoint
from .sources import BankSource, make_source, region_masks


@dataclass
class TrainConfig:
    data: str  # manifest path or "bank:DIR"
    out: str
    init: str = "small"  # "small" | "tiny" | path of a bundle to start from
    val_data: str | None = None  # default: the bank's val split, or 5% of the manifest
    steps: int = 100_000
    batch_size: int = 16
    crop_seconds: float = 5.12
    lr: float = 3e-4
    lr_text: float = 1e-4
    weight_decay: float = 0.01
    warmup: int = 500
    decay_steps: int = 0  # > 0: the lr falls linearly to 0 over the last decay_steps steps
    grad_clip: float = 1.0
    ema: float = 0.999
    text_lora: bool = True
    lora_rank: int = 8
    lora_layers: list | None = None  # e.g. [3, 4, 5]; None: all
    checkpoint_seconds: float = 300.0
    val_every: int = 500
    val_batches: int = 8
    seed: int = 0
    device: str = "auto"
    log_every: int = 10
    unet: dict | None = None  # MelUNetConfig overrides for init="small"
    flow: dict | None = None  # FlowConfig overrides
    region_prob: float = 0.0  # > 0: train the region channel; share of bank batches given the edit's span
    event_augment: float = 0.0  # bank training triplets: chance of each event change (speed, EQ, room)
    channel_augment: float = 0.0  # bank training triplets: chance of one EQ / band limit on input and target

    def to_dict(self):
        return asdict(self)

    def check(self) -> None:
        """One sentence (OptionError) for the first setting out of range."""
        whole = {"steps": 1, "batch_size": 1, "val_every": 1, "val_batches": 1, "lora_rank": 1, "log_every": 1,
                 "warmup": 0, "decay_steps": 0}
        for key, low in whole.items():
            v = getattr(self, key)
            if not isinstance(v, int) or isinstance(v, bool) or v < low:
                raise OptionError(f"Training setting {key} must be a whole number of at least {low}, got {v}.")
        positive = ("crop_seconds", "lr", "checkpoint_seconds")
        for key in positive:
            v = getattr(self, key)
            if not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
                raise OptionError(f"Training setting {key} must be a positive number, got {v}.")
        ranges = {"lr_text": (0.0, math.inf), "weight_decay": (0.0, math.inf), "grad_clip": (0.0, math.inf),
                  "ema": (0.0, 1.0), "region_prob": (0.0, 1.0), "event_augment": (0.0, 1.0),
                  "channel_augment": (0.0, 1.0)}
        for key, (lo, hi) in ranges.items():
            v = getattr(self, key)
            if not isinstance(v, (int, float)) or math.isnan(v) or not lo <= v <= hi or (key == "ema" and v >= 1.0):
                upper = "below 1" if key == "ema" else ("at most 1" if hi == 1.0 else "")
                raise OptionError(f"Training setting {key} must be at least {lo:g}{' and ' + upper if upper else ''}, "
                                  f"got {v}.")


def pick_device(name: str) -> str:
    if name == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    return name


def build_model(cfg: TrainConfig):
    from ..flow.rectified import FlowConfig
    from ..model.bundle import RFMEditor
    from ..model.factory import SMALL_FLOW, build_small, build_tiny
    from ..model.mel_unet import MelUNetConfig

    if cfg.init == "small":
        flow = FlowConfig.from_dict({**SMALL_FLOW.to_dict(), **(cfg.flow or {})})
        ucfg = MelUNetConfig.from_dict({**MelUNetConfig().to_dict(), **(cfg.unet or {})}) if cfg.unet else None
        model = build_small(ucfg, flow, seed=cfg.seed)
    elif cfg.init == "tiny":
        model = build_tiny(seed=cfg.seed, flow=FlowConfig.from_dict(cfg.flow or {}) if cfg.flow else None)
    else:
        model = RFMEditor.from_pretrained(cfg.init)
        if cfg.flow:
            model.flow = FlowConfig.from_dict({**model.flow.to_dict(), **cfg.flow})
    if cfg.region_prob > 0:
        from ..model.mel_unet import MelUNet1D, add_region_channel

        if not isinstance(model.denoiser.net, MelUNet1D):
            raise OptionError("Region training needs the 1-D mel U-Net (init 'small', 'tiny' or such a bundle).")
        add_region_channel(model.denoiser.net)
    if cfg.text_lora and not model.text_encoder._lora:
        model.text_encoder.add_lora(rank=cfg.lora_rank, layers=cfg.lora_layers)
    return model


def lr_factor(step: int, cfg: TrainConfig) -> float:
    """Warmup-stable-decay: linear warmup over ``warmup`` steps, flat, then (with
    ``decay_steps``) linear decay to 0 at ``steps``. A constant-lr run can be continued
    later and annealed from any checkpoint by resuming it with a larger ``steps`` and
    ``decay_steps``."""
    factor = min(1.0, (step + 1) / max(1, cfg.warmup))
    if cfg.decay_steps > 0:
        factor = min(factor, max(0.0, (cfg.steps - step) / cfg.decay_steps))
    return factor


def _unwrap(m):
    return getattr(m, "module", m)


def trainable_state(model) -> dict[str, torch.Tensor]:
    out = {f"unet.{k}": v for k, v in _unwrap(model.denoiser).state_dict().items()}
    if model.text_encoder._lora:
        out.update({f"text.{k}": v for k, v in model.text_encoder.named_parameters() if "lora_" in k})
    return out


def load_trainable(model, weights: dict, prefix: str = ""):
    unet = {k[len(prefix) + 5:]: v for k, v in weights.items() if k.startswith(prefix + "unet.")}
    if unet:
        _unwrap(model.denoiser).load_state_dict(unet)
    text = {k[len(prefix) + 5:]: v for k, v in weights.items() if k.startswith(prefix + "text.")}
    if text:
        params = dict(model.text_encoder.named_parameters())
        with torch.no_grad():
            for k, v in text.items():
                params[k].copy_(v)


class EMA:
    def __init__(self, params: dict[str, torch.Tensor], decay: float):
        self.decay = decay
        self.shadow = {k: v.detach().clone().float() for k, v in params.items()}

    @torch.no_grad()
    def update(self, params: dict[str, torch.Tensor], step: int):
        d = min(self.decay, (1 + step) / (10 + step))
        for k, v in params.items():
            if v.dtype.is_floating_point:
                self.shadow[k].mul_(d).add_(v.detach().float(), alpha=1 - d)
            else:
                self.shadow[k].copy_(v)


def encode_batch(model, wav_np: np.ndarray, device, peak_of: np.ndarray | None = None):
    """[B, samples] numpy -> latent [B, ...] (no grad). With ``model.peak_normalize`` each row
    is scaled to that peak; ``peak_of`` ([B, samples]) gives the rows whose peaks set the gains."""
    with torch.no_grad():
        wav = torch.from_numpy(wav_np).to(device)
        if model.peak_normalize:
            ref = wav if peak_of is None else torch.from_numpy(peak_of).to(device)
            peak = ref.abs().amax(dim=1, keepdim=True).clamp_min(1e-6)
            wav = wav * (model.peak_normalize / peak)
        mel = model.mel(wav)
        f = (mel.shape[-1] // model.frame_multiple) * model.frame_multiple
        return model.codec.encode(mel[..., :f])


def drop_instructions(texts: list, p: float, rng: np.random.Generator) -> list:
    """Each instruction replaced by "" with probability ``p`` (classifier-free guidance's
    unconditional branch learns from those)."""
    drop = rng.random(len(texts)) < p
    return ["" if d else t for d, t in zip(drop, texts)]


def paired_latents(model, inp, tgt, device):
    """Input and target latents; a peak-normalising model scales both by the *input's* gain, as
    an edit does (it only knows the input): normalising the target by its own peak would teach
    the model to change the level of what it should keep."""
    both = encode_batch(model, np.concatenate([inp, tgt]), device, peak_of=np.concatenate([inp, inp]))
    return both[: len(inp)], both[len(inp):]


def fixed_val_batches(source, cfg: TrainConfig):
    rng = np.random.default_rng(10_000 + cfg.seed)
    return [source.batch(cfg.batch_size, rng) for _ in range(cfg.val_batches)]


@torch.no_grad()
def validate(model, batches, device) -> float:
    total, n = 0.0, 0
    g = torch.Generator().manual_seed(1234)
    for inp, tgt, texts in batches:
        x_orig, x_tar = paired_latents(model, inp, tgt, device)
        ctx, mask = model.encode_instruction(texts)
        t = torch.linspace(0.05, 0.95, x_tar.shape[0])
        noise = torch.randn(x_tar.shape, generator=g)
        total += float(rfm_loss(model, x_tar, x_orig, ctx, mask, t=t.to(device), noise=noise.to(device)))
        n += 1
    return total / max(n, 1)


def train(cfg: TrainConfig, cancel: CancelToken | None = None):
    from accelerate import Accelerator

    cfg.check()
    device = pick_device(cfg.device)
    acc = Accelerator(cpu=device == "cpu")
    device = acc.device
    out = Path(cfg.out)
    torch.manual_seed(cfg.seed + acc.process_index)
    model = build_model(cfg).to(device)
    model.train()
    crop = int(round(cfg.crop_seconds * model.mel_config.sample_rate))
    # the data are checked before the run folder exists: bad input leaves nothing behind
    source = make_source(cfg.data, crop, split="train", seed=cfg.seed + acc.process_index,
                         event_augment=cfg.event_augment, channel_augment=cfg.channel_augment)
    if cfg.val_data:
        val_source = make_source(cfg.val_data, crop, split="val", seed=cfg.seed)
    elif cfg.data.startswith("bank:"):
        val_source = make_source(cfg.data, crop, split="val", seed=cfg.seed)
    else:
        val_source = source
    if acc.is_main_process:
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "train_config.json", cfg.to_dict())
        if latest_checkpoint(out) is None and not (out / BASE_INFO).exists():  # a new run: what its start had trained
            write_json(out / BASE_INFO, base_totals(model.info if cfg.init not in ("small", "tiny") else {}))
    val_batches = fixed_val_batches(val_source, cfg)
    with_regions = cfg.region_prob > 0 and isinstance(source, BankSource)  # spans come from the bank

    unet_params = [p for p in model.denoiser.parameters() if p.requires_grad]
    text_params = [p for n, p in model.text_encoder.named_parameters() if "lora_" in n]
    for n, p in model.text_encoder.named_parameters():
        p.requires_grad = "lora_" in n
    groups = [{"params": unet_params, "lr": cfg.lr}]
    if text_params:
        groups.append({"params": text_params, "lr": cfg.lr_text})
    opt = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    base_lrs = [g["lr"] for g in groups]

    step, best, elapsed_before = 0, math.inf, 0.0
    ema = EMA(trainable_state(model), cfg.ema)
    ck = latest_checkpoint(out)
    if ck is not None:
        weights, state = load_checkpoint(ck)
        load_trainable(model, weights)
        ema.shadow.update({k[4:]: v.float() for k, v in weights.items() if k.startswith("ema.")})
        optimizer_from_files(opt, ck)
        step, best = int(state["step"]), float(state.get("best", math.inf))
        elapsed_before = float(state.get("elapsed", 0.0))
        yield TrainEvent(step, cfg.steps, float("nan"), 0.0, message=f"resumed from {ck.name}")
    dnet, opt = acc.prepare(model.denoiser, opt)
    model.denoiser = dnet

    rng = np.random.default_rng(cfg.seed * 1000 + step + 7919 * acc.process_index)
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + step)
    t_start, last_ck = time.time(), time.time()
    losses = []

    def checkpoint(val=None):
        nonlocal last_ck
        if not acc.is_main_process:
            return None
        weights = {**trainable_state(model), **{f"ema.{k}": v for k, v in ema.shadow.items()}}
        p = save_checkpoint(out, step, weights, opt, {"best": best, "elapsed": elapsed_before + time.time() - t_start,
                                                       "val_loss": val})
        last_ck = time.time()
        return p

    while step < cfg.steps:
        if cancel is not None and cancel.cancelled:
            p = checkpoint()
            yield TrainEvent(step, cfg.steps, float("nan"), 0.0, checkpoint=str(p) if p else None, message="cancelled")
            return
        region = None
        if with_regions:
            inp, tgt, texts, spans = source.batch(cfg.batch_size, rng, augment=True, spans=True)
        else:
            inp, tgt, texts = source.batch(cfg.batch_size, rng, augment=True)
        x_orig, x_tar = paired_latents(model, inp, tgt, device)
        if with_regions:
            region = torch.from_numpy(region_masks(spans, x_orig.shape[-1], rng, cfg.region_prob)).to(device)
        texts = drop_instructions(texts, model.flow.cond_dropout, rng)
        ctx, mask = model.encode_instruction(texts)
        loss = rfm_loss(model, x_tar, x_orig, ctx, mask, generator=gen, region=region)
        opt.zero_grad(set_to_none=True)
        acc.backward(loss)
        if cfg.grad_clip:
            acc.clip_grad_norm_(unet_params + text_params, cfg.grad_clip)
        factor = lr_factor(step, cfg)
        for g, lr in zip(opt.param_groups, base_lrs):
            g["lr"] = lr * factor
        opt.step()
        step += 1
        ema.update(trainable_state(model), step)
        losses.append(loss.item())
        val = None
        if step % cfg.val_every == 0 or step == cfg.steps:
            live = {k: v.detach().clone() for k, v in trainable_state(model).items()}
            load_trainable(model, {k: v for k, v in ema.shadow.items()})
            model.eval()
            val = validate(model, val_batches, device)
            model.train()
            load_trainable(model, live)
            if val < best:
                best = val
                p = checkpoint(val)
                if acc.is_main_process:
                    mark_best(out, step, val)
        ck_path = None
        if time.time() - last_ck > cfg.checkpoint_seconds or step == cfg.steps:
            ck_path = checkpoint(val)
        if step % cfg.log_every == 0 or val is not None or ck_path:
            yield TrainEvent(step, cfg.steps, float(np.mean(losses[-cfg.log_every:])), opt.param_groups[0]["lr"],
                             val_loss=val, seconds=elapsed_before + time.time() - t_start,
                             checkpoint=str(ck_path) if ck_path else None)


BASE_INFO = "base_info.json"


def base_totals(info: dict) -> dict:
    return {"train_steps_total": int(info.get("train_steps_total", info.get("train_steps", 0)) or 0),
            "train_seconds_total": float(info.get("train_seconds_total", info.get("train_seconds", 0.0)) or 0.0)}


def export_bundle(run_dir, out_dir, which: str = "best", dtype=torch.float16, info: dict | None = None):
    """Write a bundle from a run's checkpoint (EMA weights)."""
    import json

    run_dir = Path(run_dir)
    cfg = TrainConfig(**json.loads((run_dir / "train_config.json").read_text()))
    ck = best_checkpoint(run_dir) if which == "best" else latest_checkpoint(run_dir)
    if ck is None:
        raise FileNotFoundError(f"no checkpoint in {run_dir}")
    weights, state = load_checkpoint(ck)
    cfg.device = "cpu"
    model = build_model(cfg)
    load_trainable(model, {k: v for k, v in weights.items() if k.startswith("ema.")}, prefix="ema.")
    # a run started from a bundle adds its steps to those the bundle had trained when the run
    # began (recorded then: the bundle may since have been replaced, e.g. by this run's export)
    if (run_dir / BASE_INFO).exists():
        base = json.loads((run_dir / BASE_INFO).read_text())
    else:  # runs from before the record: the start bundle as it is now
        base = base_totals(model.info if cfg.init not in ("small", "tiny") else {})
    steps0, secs0 = int(base["train_steps_total"]), float(base["train_seconds_total"])
    model.info.update({"train_steps": state["step"], "train_seconds": state.get("elapsed"),
                       "train_steps_total": steps0 + int(state["step"]),
                       "train_seconds_total": secs0 + float(state.get("elapsed") or 0.0),
                       "val_loss": state.get("val_loss"), **(info or {})})
    model.save_pretrained(out_dir, dtype=dtype)
    return Path(out_dir), state
