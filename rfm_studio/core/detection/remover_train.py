"""Training the sound remover (remover.py) on event-bank "Remove X" triplets: a core generator of
TrainEvents, like the sound finder's (train.py), whose rows it shares (train._rows): the clip
asked for X with X removed as the target; asked for a sound it does not hold, and the clip with X
already removed asked for X, both with the clip itself as the target; a second event joining the
clip and one of the two asked for (``two_prob``); a look-alike of X asked for or joining the clip
(``similar_prob``).
Loss: the L1 distance between the log-mel the mask leaves, log(max(exp(mel) (1 - sigmoid(mask)),
1e-5)), and the target's log-mel, weighted x5 on the bins the target changes by more than 0.5
nats; plus 0.2 x the frame logits' binary cross-entropy against X's frames. ``init``: a sound
finder folder the trunk (``f.*``) starts from. Checkpoints (core/training/checkpoint.py) every
``checkpoint_seconds`` and at each better validation loss; a run folder resumes.
``from_experiment`` saves a bare state dict of the same names (an experiment's last.safetensors)
as a remover folder.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .train import DetectorTrainConfig


CHANGED_NATS = 0.5  # a target bin that moved more than this ...
CHANGED_WEIGHT = 5.0  # ... weighs this much in the L1
FRAME_WEIGHT = 0.2  # the frame BCE's share of the loss


@dataclass
class RemoverTrainConfig(DetectorTrainConfig):
    """The finder's training settings (train.py), with the remover's defaults."""

    batch_size: int = 12
    lr: float = 5e-4
    absent_prob: float = 0.25  # (target: the clip itself)
    absent_any: float = 0.7
    removed_prob: float = 0.1  # (target: the same)
    two_prob: float = 0.3
    model: dict = field(default_factory=dict)  # RemoverConfig overrides
    init: str | None = None  # a sound-remover folder the run starts from, or a sound-finder folder for its trunk


def removal_loss(net, mel, target, text, labels):
    """(loss tensor, L1, frame BCE) of ``net`` on a batch: ``mel``/``target`` [B, 64, T] log-mels
    of the inputs and targets, ``text`` [B, 384], ``labels`` [B, T] (see the module)."""
    import torch

    logits, frame = net(mel, text)
    left = torch.log(torch.clamp(torch.exp(mel) * (1 - torch.sigmoid(logits)), min=1e-5))
    w = 1 + (CHANGED_WEIGHT - 1) * ((mel - target).abs() > CHANGED_NATS).float()
    l1 = ((left - target).abs() * w).sum() / w.sum()
    bce = torch.nn.functional.binary_cross_entropy_with_logits(frame, labels)
    return l1 + FRAME_WEIGHT * bce, float(l1.detach()), float(bce.detach())


def _batch(rows, texts, front):
    """(input mel, target mel, text vectors, frame labels) of rows of train._rows."""
    import torch

    from .train import _batch as finder_batch

    mel, tv, lab = finder_batch(rows, texts, front)
    target = front(torch.from_numpy(np.stack([r[3] for r in rows]).astype(np.float32)))
    return mel, target, tv, lab


def _model_config(cfg: RemoverTrainConfig):
    from .remover import RemoverConfig

    return RemoverConfig.from_dict(cfg.model)


def train_remover(cfg: RemoverTrainConfig, cancel=None):
    """Train (or resume) the sound remover in ``cfg.out``; yields TrainEvents; returns the best
    checkpoint's folder. ``cancel``: a CancelToken checked between steps (a checkpoint is saved)."""
    import torch

    from ..atomic import atomic_write_text
    from ..data.triplets import TripletGenerator
    from ..errors import OptionError
    from ..features.mel import MelFrontEnd
    from ..training.checkpoint import latest_checkpoint
    from .loop import resume, train_loop
    from .remover import build
    from .train import _rows, _Texts, run_model_config

    out = Path(cfg.out)
    mcfg = _model_config(cfg)
    saved = out / "config.json"
    if saved.is_file():  # a run resumes with the network it was started with
        if type(mcfg).from_dict(run_model_config(out)) != mcfg:
            raise OptionError(f"The run {out} was started with another remover network; resume it with the same one.")
    start = _init_trunk(cfg.init, mcfg) if cfg.init and latest_checkpoint(out) is None else None
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(saved, json.dumps({"train": cfg.to_dict(), "model": mcfg.to_dict()}, indent=1))
    torch.manual_seed(cfg.seed)
    net, ema = build(mcfg), build(mcfg)
    if start is not None:  # a sound remover's whole network, or a finder's for the trunk
        (net if any(k.startswith("coarse.") for k in start) else net.f).load_state_dict(start)
    ema.load_state_dict(net.state_dict())
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step, best = resume(out, net, ema, opt)
    front, texts = MelFrontEnd(), _Texts()
    train = TripletGenerator(cfg.bank, split="train", seconds=cfg.seconds, seed=cfg.seed + step,
                             event_augment=cfg.event_augment, channel_augment=cfg.channel_augment)
    val = TripletGenerator(cfg.bank, split="val", seconds=cfg.seconds, seed=1234)
    val_rows = _rows(val, np.random.default_rng(1234), cfg.val_rows, cfg)
    rng = np.random.default_rng(cfg.seed * 7919 + step)

    def train_loss():
        return removal_loss(net, *_batch(_rows(train, rng, cfg.batch_size, cfg), texts, front))[0]

    def validate():
        tot, l1s, bces = [], [], []
        for i in range(0, len(val_rows), 32):
            part = val_rows[i:i + 32]
            loss, l1, bce = removal_loss(ema, *_batch(part, texts, front))
            for v, acc in ((float(loss), tot), (l1, l1s), (bce, bces)):
                acc.append(v * len(part))
        n = max(1, len(val_rows))
        val, l1, bce = sum(tot) / n, sum(l1s) / n, sum(bces) / n
        return val, f"val loss {val:.4f} (L1 {l1:.4f} nats, frame BCE {bce:.4f})"

    return (yield from train_loop(cfg, net, ema, opt, step, best, train_loss, validate, best_key="val_loss",
                                  cancel=cancel))


def _init_trunk(folder, mcfg) -> dict:
    """The state dict a new run starts from: a sound remover's in ``folder`` (the whole network),
    or a sound finder's (the trunk of ``mcfg``'s network); OptionError when its network differs."""
    from ..errors import OptionError
    from .model import DetectorConfig, load
    from .remover import RemoverConfig, load as load_remover_folder

    try:
        kind = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8")).get("kind")
    except (OSError, ValueError, AttributeError):
        kind = None
    if kind == RemoverConfig.kind:
        rcfg, remover = load_remover_folder(folder)
        if rcfg != mcfg:
            raise OptionError(f"The sound remover in {folder} has another network than this run's.")
        return remover.state_dict()
    fcfg, finder = load(folder)
    trunk = {k: v for k, v in mcfg.to_dict().items() if k in DetectorConfig().to_dict() and k != "kind"}
    if any(fcfg.to_dict()[k] != v for k, v in trunk.items()):
        raise OptionError(f"The sound finder in {folder} has another network than this run's trunk.")
    return finder.state_dict()


def export(run, dest, half: bool = True) -> Path:
    """The best checkpoint's EMA weights of ``run`` as a sound-remover folder (remover.save)."""
    from ..errors import OptionError
    from ..training.checkpoint import best_checkpoint, load_checkpoint
    from .remover import RemoverConfig, build, save

    run = Path(run)
    try:
        d = json.loads((run / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        raise OptionError(f"No sound-remover run in {run} (config.json).") from None
    if not isinstance(d, dict) or d.get("model", {}).get("kind") != RemoverConfig.kind:
        raise OptionError(f"The run in {run} is not a sound remover's.")
    ck = best_checkpoint(run)
    if ck is None:
        raise OptionError(f"The run {run} has no checkpoint yet.")
    mcfg = RemoverConfig.from_dict(d["model"])
    w, state = load_checkpoint(ck)
    net = build(mcfg)
    net.load_state_dict({k[4:]: v for k, v in w.items() if k.startswith("ema.")})
    return save(dest, mcfg, net, extra={"trained": {"steps": state["step"], "val_loss": state.get("best")}},
                half=half)


def experiment_config(sd: dict):
    """The RemoverConfig a bare state dict's shapes give (channels, width, kernel, refine; the
    dilations are the default's, which only their number can be checked against)."""
    from .remover import RemoverConfig

    n = len({k.split(".")[2] for k in sd if k.startswith("f.blocks.")})
    channels = tuple(int(sd[f"f.blocks.{i}.conv.weight"].shape[0]) for i in range(n))
    return RemoverConfig(channels=channels, width=int(sd["f.proj.weight"].shape[0]),
                         kernel=int(sd["f.temporal.0.conv.weight"].shape[-1]),
                         refine=int(sd["refine.0.weight"].shape[0]))


def from_experiment(checkpoint_file, dest, half: bool = False) -> Path:
    """A remover folder in ``dest`` from ``checkpoint_file``, a safetensors state dict with the
    remover's own names (``f.*``, ``coarse.*``, ``refine.*``: the mask experiment's
    last.safetensors). RFMError in one sentence when it cannot be read or does not fit."""
    from ..errors import RFMError
    from ..model.files import load_safetensors
    from .remover import build, save

    src = Path(checkpoint_file)
    try:
        sd = {k: v.float() for k, v in load_safetensors(src).items()}
        cfg = experiment_config(sd)
    except Exception as exc:  # unreadable, or not this network's names
        raise RFMError(f"{src} is not a readable sound-remover state dict ({type(exc).__name__}: {exc}).") from None
    net = build(cfg)
    try:
        missing, unexpected = net.load_state_dict(sd, strict=False)
    except RuntimeError:
        missing, unexpected = ["(shapes)"], []
    if missing or unexpected:
        raise RFMError(f"The weights in {src} do not fit the sound remover ({len(missing)} missing, "
                       f"{len(unexpected)} unexpected tensors or other shapes).")
    trained = {"from": str(src)}
    try:
        trained["steps"] = int(json.loads((src.parent / "state.json").read_text(encoding="utf-8"))["step"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return save(dest, cfg, net, extra={"trained": trained}, half=half)
