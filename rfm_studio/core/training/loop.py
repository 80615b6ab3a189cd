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
from .prompt_batch import prompt_batch
from .sources import make_source, region_masks


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
    dtype: str = "float32"  # mixed precision: the networks compute in it (autocast); trainable weights stay float32
    epochs: int = 0  # > 0 with a manifest: steps = epochs x clips / (batch x processes) (a bank has no size)
    grad_checkpointing: bool = False  # diffusers U-Net: recompute activations in backward (less memory)
    cache_latents: bool = False  # manifest data: each (clip, crop)'s VAE latents computed once, not every step
    clap_ckpt: str | None = None  # a CLAP checkpoint: the best checkpoint is the one with the highest CLAP score
    clap_kind: str = "laion"
    val_clips: int = 16  # clips edited for the CLAP validation (paper: 1,000)
    val_steps: int | None = None  # Euler steps of those edits (default: the model's)
    preset: str | None = None  # "paper": the settings PAPER_PRESET lists (recorded here)
    prompt_prob: float = 0.0  # > 0: train the audio-prompt input; share of bank triplets given an example/reference
    prompt_tokens: int = 4  # tokens per prompt when the prompt input is added to a network without one
    prompt_width: int = 128  # channels of that prompt encoder
    data_workers: int = 0  # > 0 with a bank: triplets made by this many worker processes (a GPU outruns one CPU)

    def to_dict(self):
        return asdict(self)

    def check(self) -> None:
        """One sentence (OptionError) for the first setting out of range."""
        self.check_kinds()
        whole = {"steps": 1, "batch_size": 1, "data_workers": 0, "val_every": 1, "val_batches": 1, "lora_rank": 1, "log_every": 1,
                 "warmup": 0, "decay_steps": 0, "epochs": 0, "val_clips": 1, "seed": 0,
                 "prompt_tokens": 1, "prompt_width": 8}
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
                  "channel_augment": (0.0, 1.0), "prompt_prob": (0.0, 1.0)}
        if self.data_workers and not self.data.startswith("bank:"):
            raise OptionError("Training setting data_workers needs bank data (bank:DIR): they make bank triplets.")
        from ..devices import DTYPES

        if self.dtype not in DTYPES:
            raise OptionError(f"Training setting dtype must be one of {', '.join(DTYPES)}, got {self.dtype}.")
        if self.val_steps is not None and (not isinstance(self.val_steps, int) or not 1 <= self.val_steps <= 2000):
            raise OptionError(f"Training setting val_steps must be between 1 and 2000, got {self.val_steps}.")
        for key, (lo, hi) in ranges.items():
            v = getattr(self, key)
            if not isinstance(v, (int, float)) or math.isnan(v) or not lo <= v <= hi or (key == "ema" and v >= 1.0):
                upper = "below 1" if key == "ema" else ("at most 1" if hi == 1.0 else "")
                raise OptionError(f"Training setting {key} must be at least {lo:g}{' and ' + upper if upper else ''}, "
                                  f"got {v}.")

    def check_kinds(self) -> None:
        """One sentence (OptionError) for a setting of the wrong kind, or a section ("unet", "flow")
        that is not a JSON object of that section's own settings (an unknown key is refused, not ignored)."""
        from ..flow.config import FlowConfig
        from ..model.mel_unet import MelUNetConfig

        texts = {"data": False, "out": False, "init": False, "device": False, "val_data": True, "dtype": False,
                 "clap_ckpt": True, "clap_kind": False, "preset": True}
        for key, optional in texts.items():
            v = getattr(self, key)
            if not (isinstance(v, str) and v.strip() and "\0" not in v) and not (optional and v is None):
                raise OptionError(f"Training setting {key} must be a non-empty text"
                                  f"{' or null' if optional else ''}, got {v!r}.")
        for key in ("text_lora", "grad_checkpointing", "cache_latents"):
            if not isinstance(getattr(self, key), bool):
                raise OptionError(f"Training setting {key} must be true or false, got {getattr(self, key)!r}.")
        if isinstance(self.val_steps, bool):
            raise OptionError(f"Training setting val_steps must be a whole number, got {self.val_steps!r}.")
        if self.lora_layers is not None and (
                not isinstance(self.lora_layers, list) or not self.lora_layers
                or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in self.lora_layers)):
            raise OptionError(f"Training setting lora_layers must be a list of layer numbers (whole numbers of "
                              f"at least 0) or null, got {self.lora_layers!r}.")
        for key, kind in (("unet", MelUNetConfig), ("flow", FlowConfig)):
            section = getattr(self, key)
            if section is None:
                continue
            if not isinstance(section, dict):
                raise OptionError(f"Training setting {key} must be a JSON object of {kind.__name__} settings, "
                                  f"got {section!r}.")
            known = FlowConfig.KEYS if kind is FlowConfig else kind.__dataclass_fields__  # flow: flat keys
            unknown = sorted(str(k) for k in section if k not in known)
            if unknown:
                raise OptionError(f"Training setting {key} has an unknown key {unknown[0]!r} (known: "
                                  f"{', '.join(sorted(known))}).")
            try:
                kind.from_dict({**kind().to_dict(), **section})
            except (TypeError, ValueError, AttributeError) as exc:
                raise OptionError(f"Training setting {key} has a value out of range ({' '.join(str(exc).split())[:160]}).") from None


# the paper's training settings (sec. 3.2): lr 5e-5, 1024-frame clips (10.24 s), 100 epochs, the best
# checkpoint by CLAP score on 1,000 validation clips (when a CLAP checkpoint is given); bf16 autocast on CUDA
PAPER_PRESET = {"lr": 5e-5, "crop_seconds": 10.24, "epochs": 100, "val_clips": 1000}


def preset_settings(name: str, device: str) -> dict:
    """TrainConfig fields of a named preset on a resolved ``device``."""
    if name != "paper":
        raise OptionError(f"Unknown training preset '{name}': use paper.")
    return {**PAPER_PRESET, "dtype": "bfloat16" if device.startswith("cuda") else "float32", "preset": name}


def build_model(cfg: TrainConfig):
    from ..flow.config import FlowConfig
    from ..model.loaders import load_editor
    from ..model.factory import SMALL_FLOW, build_small, build_tiny
    from ..model.mel_unet import MelUNetConfig

    if cfg.init == "small":
        flow = FlowConfig.from_dict({**SMALL_FLOW.to_dict(), **(cfg.flow or {})})
        ucfg = MelUNetConfig.from_dict({**MelUNetConfig().to_dict(), **(cfg.unet or {})}) if cfg.unet else None
        model = build_small(ucfg, flow, seed=cfg.seed)
    elif cfg.init == "tiny":
        model = build_tiny(seed=cfg.seed, flow=FlowConfig.from_dict(cfg.flow or {}) if cfg.flow else None)
    else:
        model = load_editor(cfg.init, device="cpu")  # prepare_model moves it
        if cfg.flow:
            model.flow = FlowConfig.from_dict({**model.flow.to_dict(), **cfg.flow})
    return prepare_model(model, cfg)


def prepare_model(model, cfg: TrainConfig):
    """What a run adds to its start model: the region channel, the text encoder's LoRA, gradient
    checkpointing."""
    if cfg.region_prob > 0:
        from ..model.mel_unet import MelUNet1D, add_region_channel

        if not isinstance(model.denoiser.net, MelUNet1D):
            raise OptionError("Region training needs the 1-D mel U-Net (init 'small', 'tiny' or such a bundle).")
        add_region_channel(model.denoiser.net)
    if cfg.prompt_prob > 0:
        from ..model.mel_unet import MelUNet1D, add_prompt_input

        if not isinstance(model.denoiser.net, MelUNet1D):
            raise OptionError("Audio-prompt training needs the 1-D mel U-Net (init 'small', 'tiny' or such a bundle).")
        add_prompt_input(model.denoiser.net, cfg.prompt_tokens, cfg.prompt_width)
    if cfg.text_lora and not model.text_encoder._lora:
        model.text_encoder.add_lora(rank=cfg.lora_rank, layers=cfg.lora_layers)
    if cfg.grad_checkpointing:
        if not model.denoiser.is_diffusers:
            raise OptionError("Gradient checkpointing needs a diffusers U-Net (a paper-scale bundle as --init).")
        model.denoiser.net.enable_gradient_checkpointing()
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


class LatentCache:
    """VAE latents of (input, target) crops of a manifest, each computed once: with clips as long
    as the crop (the paper's 10.24 s clips) every epoch after the first skips the VAE. Crops are
    not gain-augmented (a cached latent must be the same crop every time)."""

    def __init__(self, source, device):
        self.source, self.device, self.store = source, device, {}

    def batch(self, model, n: int, rng: np.random.Generator):
        src = self.source
        xs, ys, texts = [], [], []
        for _ in range(n):
            i = int(rng.integers(len(src)))
            a, b = src._pair(i)
            s = int(rng.integers(0, len(a) - src.crop + 1))
            if (i, s) not in self.store:
                x, y = paired_latents(model, a[None, s: s + src.crop], b[None, s: s + src.crop], self.device)
                self.store[(i, s)] = (x[0].cpu(), y[0].cpu())
            x, y = self.store[(i, s)]
            xs.append(x)
            ys.append(y)
            texts.append(src.rows[i]["instruction"])
        return torch.stack(xs).to(self.device), torch.stack(ys).to(self.device), texts


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


def start_accelerator(device_spec: str, dtype_name: str):
    """(Accelerator, torch dtype) for a requested device and precision: a device that is not
    usable is an OptionError (never a silent CPU run); ``cuda:N`` is the device of a
    single-process run (several processes take one GPU each, by local rank)."""
    import os

    from accelerate import Accelerator

    from ..devices import resolve_device, resolve_dtype

    device = resolve_device(device_spec)
    dtype = resolve_dtype(dtype_name, device)
    world = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if device.startswith("cuda:") and world == 1:
        torch.cuda.set_device(torch.device(device))
    if dtype == torch.float16 and not device.startswith("cuda"):
        raise OptionError(f"Training in float16 needs a CUDA GPU (for its loss scaling); on {device} use bfloat16 "
                          f"or float32.")
    mp = {torch.float32: "no", torch.bfloat16: "bf16", torch.float16: "fp16"}[dtype]
    if world == 1:  # one process: a new run may use another device or precision than the last in this process
        from accelerate.state import AcceleratorState

        AcceleratorState._reset_state(True)
    return Accelerator(cpu=device == "cpu", mixed_precision=mp), dtype


def train(cfg: TrainConfig, cancel: CancelToken | None = None, model=None):
    """``model``: an in-memory start model (scripts, benchmarks) instead of ``cfg.init``'s."""
    cfg.check()
    acc, dtype = start_accelerator(cfg.device, cfg.dtype)
    device = acc.device
    out = Path(cfg.out)
    torch.manual_seed(cfg.seed + acc.process_index)
    model = (build_model(cfg) if model is None else prepare_model(model, cfg)).to(device)
    if dtype != torch.float32:  # the frozen VAE in the training precision (trainable weights stay float32)
        model.codec.to(dtype)
    model.train()
    crop = int(round(cfg.crop_seconds * model.mel_config.sample_rate))
    # the data are checked before the run folder exists: bad input leaves nothing behind
    source = make_source(cfg.data, crop, split="train", seed=cfg.seed + acc.process_index,
                         event_augment=cfg.event_augment, channel_augment=cfg.channel_augment,
                         **({"prompt_prob": cfg.prompt_prob} if cfg.prompt_prob > 0 else {}))
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
    with_regions = cfg.region_prob > 0 and source.gives_spans  # spans come from the bank
    if cfg.epochs:
        if source.size is None:
            yield TrainEvent(0, cfg.steps, float("nan"), 0.0, message=f"epochs: the bank has no fixed size; "
                                                                      f"training {cfg.steps} steps")
        else:
            cfg.steps = max(1, math.ceil(cfg.epochs * source.size / (cfg.batch_size * acc.num_processes)))
    cache = None
    if cfg.cache_latents:
        if source.size is None or with_regions:
            raise OptionError("Cached latents need a manifest of clips (a bank makes new triplets every step).")
        cache = LatentCache(source, device)
    scorer, clap_clips = None, []
    if cfg.clap_ckpt:
        from ..evaluation.clap import load_clap
        from .clap_val import clap_val_clips

        try:
            scorer = load_clap(cfg.clap_ckpt, cfg.clap_kind, str(device))
        except Exception as exc:
            raise OptionError(f"Cannot use the CLAP checkpoint {cfg.clap_ckpt} ({str(exc).rstrip('.')}).") from None
        clap_clips = clap_val_clips(val_source, cfg.val_clips, cfg.seed)
    with_prompts = cfg.prompt_prob > 0 and source.gives_prompts  # so do examples and references

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
    # everything trainable goes through accelerate: with several processes the U-Net's and the
    # text encoder's LoRA gradients are both averaged across them
    if text_params:
        dnet, text_net, opt = acc.prepare(model.denoiser, model.text_encoder, opt)
    else:
        dnet, opt = acc.prepare(model.denoiser, opt)
        text_net = model.text_encoder
    model.denoiser = dnet  # model.text_encoder stays the module itself (its tokenizer, LoRA state...)

    rng = np.random.default_rng(cfg.seed * 1000 + step + 7919 * acc.process_index)
    gen = torch.Generator().manual_seed(cfg.seed * 1000 + step)
    stream = None
    if cfg.data_workers > 0:
        from .batch_workers import BatchStream

        src_args = dict(event_augment=cfg.event_augment, channel_augment=cfg.channel_augment,
                        **({"prompt_prob": cfg.prompt_prob} if cfg.prompt_prob > 0 else {}))
        stream = BatchStream(cfg.data, crop, cfg.data_workers, seed=cfg.seed + acc.process_index * 104729,
                             batch_size=cfg.batch_size, spans=with_regions, prompts=with_prompts, start=step,
                             **src_args)
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
            if stream is not None:
                stream.close()
            yield TrainEvent(step, cfg.steps, float("nan"), 0.0, checkpoint=str(p) if p else None, message="cancelled")
            return
        region = prompt = items = None
        if cache is not None:
            x_orig, x_tar, texts = cache.batch(model, cfg.batch_size, rng)
        else:
            got = next(stream) if stream is not None else \
                source.batch(cfg.batch_size, rng, augment=True, spans=with_regions, prompts=with_prompts)
            inp, tgt, texts = got[:3]
            spans = got[3] if with_regions else None
            items = got[-1] if with_prompts else None
            x_orig, x_tar = paired_latents(model, inp, tgt, device)
        if with_regions:
            region = torch.from_numpy(region_masks(spans, x_orig.shape[-1], rng, cfg.region_prob)).to(device)
        texts = drop_instructions(texts, model.flow.training.cond_dropout, rng)
        ctx, mask = text_net(texts)
        if items is not None:
            prompt = prompt_batch(model, items, model.mel_config.sample_rate)
        loss = rfm_loss(model, x_tar, x_orig, ctx, mask, generator=gen, region=region, prompt=prompt)
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
        val, ck_path = None, None
        if step % cfg.val_every == 0 or step == cfg.steps:
            live = {k: v.detach().clone() for k, v in trainable_state(model).items()}
            load_trainable(model, {k: v for k, v in ema.shadow.items()})
            model.eval()
            val = validate(model, val_batches, device)
            clap = None
            if scorer is not None and acc.is_main_process:
                from .clap_val import clap_validate

                wrapped, model.denoiser = model.denoiser, _unwrap(model.denoiser)  # no collectives on one rank
                try:
                    clap = clap_validate(model, clap_clips, scorer, cfg.val_steps, seed=cfg.seed)
                finally:
                    model.denoiser = wrapped
            model.train()
            load_trainable(model, live)
            # lower is better: the validation loss, or (paper) minus the CLAP score
            metric = val if scorer is None else -acc_broadcast(acc, clap)
            if metric < best:
                best = metric
                ck_path = checkpoint(val)
                if acc.is_main_process:
                    mark_best(out, step, val if scorer is None else clap, "val_loss" if scorer is None else "clap")
        if ck_path is None and (time.time() - last_ck > cfg.checkpoint_seconds or step == cfg.steps):
            ck_path = checkpoint(val)  # (a step just saved as the best is not saved again)
        if step % cfg.log_every == 0 or val is not None or ck_path:
            yield TrainEvent(step, cfg.steps, float(np.mean(losses[-cfg.log_every:])), opt.param_groups[0]["lr"],
                             val_loss=val, seconds=elapsed_before + time.time() - t_start,
                             checkpoint=str(ck_path) if ck_path else None,
                             message=f"val CLAP {-metric:.4f}" if scorer is not None and val is not None else "")
    if stream is not None:
        stream.close()


def acc_broadcast(acc, value):
    """The main process's ``value`` (a float; None elsewhere) on every process."""
    if acc.num_processes == 1:
        return float(value)
    from accelerate.utils import broadcast_object_list

    box = [value if acc.is_main_process else None]
    broadcast_object_list(box, from_process=0)
    return float(box[0])


BASE_INFO = "base_info.json"


def base_totals(info: dict) -> dict:
    return {"train_steps_total": int(info.get("train_steps_total", info.get("train_steps", 0)) or 0),
            "train_seconds_total": float(info.get("train_seconds_total", info.get("train_seconds", 0.0)) or 0.0)}


def export_bundle(run_dir, out_dir, which: str = "best", dtype=torch.float16, info: dict | None = None):
    """Write a bundle from a run's checkpoint (EMA weights) to ``out_dir``, put in place whole
    (atomic.exporting: new, empty, or a bundle it replaces; anything else refused)."""
    import json

    run_dir = Path(run_dir)
    cfg = TrainConfig(**json.loads((run_dir / "train_config.json").read_text(encoding="utf-8")))
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
        base = json.loads((run_dir / BASE_INFO).read_text(encoding="utf-8"))
    else:  # runs from before the record: the start bundle as it is now
        base = base_totals(model.info if cfg.init not in ("small", "tiny") else {})
    steps0, secs0 = int(base["train_steps_total"]), float(base["train_seconds_total"])
    model.info.update({"train_steps": state["step"], "train_seconds": state.get("elapsed"),
                       "train_steps_total": steps0 + int(state["step"]),
                       "train_seconds_total": secs0 + float(state.get("elapsed") or 0.0),
                       "val_loss": state.get("val_loss"), **(info or {})})
    from ..atomic import exporting
    from ..model.bundle import BUNDLE_EXPORT

    with exporting(out_dir, *BUNDLE_EXPORT) as tmp:
        model.save_pretrained(tmp, dtype=dtype)  # put in place whole, in one folder swap
    return Path(out_dir), state
