"""Training the sound finder (model.py) on event-bank mixtures: a core generator of TrainEvents.

Each batch holds "Remove X" triplets of the bank's train split (triplets.py, with its event and
recording-chain variation): the input clip with X's frames as the answer; the same clip asked
for a sound that is not in it (the triplet's other event), and the clip with X removed, both
answered "nowhere"; with ``two_prob``, the clip with a second event (another triplet's removed
one, of another family) asked for one of the two; with ``similar_prob``, a look-alike of X (a
class whose caption lies nearest X's, ``near_classes``) asked for where it does not play, or
joining the clip with one of the two asked for: the finder learns the cow from the sheep, not
only an animal from a drum. The text is X's caption, or (a third of the time) the whole
instruction. ``init``: a finder folder to start from.
Loss: binary cross-entropy per frame. Validation: the same on fixed triplets of the val split.
Checkpoints (core/training/checkpoint.py) every ``checkpoint_seconds``; a run folder resumes.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np



@dataclass
class DetectorTrainConfig:
    bank: str
    out: str
    steps: int = 3000
    batch_size: int = 16
    seconds: float = 5.12
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: int = 100
    absent_prob: float = 0.2  # share of rows asking for a sound the clip does not hold
    absent_any: float = 0.0  # share of those asking for any train class of a family the clip lacks
    removed_prob: float = 0.15  # share of rows: the clip with X removed, asked for X
    two_prob: float = 0.0  # share of rows: a second event joins the clip, and one of the two is asked for
    similar_prob: float = 0.0  # share of rows: a look-alike of X is asked for, or joins and one of the two is
    similar_k: int = 6  # look-alikes: the classes (of other families) whose captions lie nearest X's
    instruction_prob: float = 0.33  # the text is the whole instruction, not X's caption
    event_augment: float = 0.5
    channel_augment: float = 0.5
    val_rows: int = 96
    val_every: int = 250
    checkpoint_seconds: float = 300.0
    seed: int = 0
    model: dict = field(default_factory=dict)  # DetectorConfig overrides
    init: str | None = None  # a finder folder (model.save) whose weights a new run starts from

    def to_dict(self):
        return asdict(self)


@lru_cache(maxsize=8)
def near_classes(classes: tuple, k: int) -> dict:
    """{class: the k classes of other families whose plain captions' sentence embeddings lie
    nearest its own} (the sounds a listener, and the finder, could take for it)."""
    from ..data.captions import caption_for
    from ..data.triplets import family
    from ..library.embed import embed

    E = np.asarray(embed([caption_for(c, None) for c in classes]), np.float64)  # unit length
    S = E @ E.T
    return {c: [classes[j] for j in np.argsort(-S[i]) if family(classes[j]) != family(c)][:k]
            for i, c in enumerate(classes)}


def _similar_row(gen, t, first, other, rng, cfg):
    """A row with a look-alike of X (see the module), or None when every look-alike's family
    is in the clip already."""
    from ..data import mixing as M
    from ..data.captions import caption_for
    from ..data.triplets import family

    x_cls = t.meta[first]["class"]
    here = {family(c) for c in t.meta["classes"]["x"]} | {family(x_cls), family(t.meta[other]["class"])}
    pool = [c for c in near_classes(tuple(gen.classes), cfg.similar_k)[x_cls] if family(c) not in here]
    if not pool:
        return None
    s = pool[int(rng.integers(len(pool)))]
    text = caption_for(s, rng)
    r = rng.random()
    if r < 1 / 3:  # asked for the look-alike, which does not play
        return t.input, text, np.zeros(len(t.edit_mask), np.float32), t.input
    from ..data.augment import channel_eq

    e = gen.render_event(s, rng)
    e = channel_eq(e, None, rng, gen.channel_augment, gen.sr)[0]  # a recording chain of its own, as the clip has
    x_ev = t.input - t.target
    e *= 10 ** ((M.active_level_db(x_ev) + float(rng.uniform(-6, 3)) - M.active_level_db(e)) / 20)
    mix = t.input + e
    g = min(1.0, M.PEAK_MAX / max(float(np.abs(mix).max()), 1e-9))
    mix = (mix * g).astype(np.float32)
    if r < 2 / 3:  # both play; X asked for
        return mix, t.meta[first]["caption"], t.edit_mask.astype(np.float32), (mix - x_ev * g).astype(np.float32)
    lab = M.activity(e)[: len(t.edit_mask)]
    lab = np.pad(lab, (0, len(t.edit_mask) - len(lab))).astype(np.float32)
    return mix, text, lab, (t.input * g).astype(np.float32)


def _rows(gen, rng, n, cfg):
    """n (audio, text, frame labels, target) rows from a TripletGenerator (see the module); the
    target is the audio with the named sound removed (the audio itself where it is absent)."""
    from ..data.captions import caption_for
    from ..data.triplets import family

    out = []
    while len(out) < n:
        t = gen.sample(rng, task="remove")
        first = t.meta["type"].split("_")[1]
        other = "B" if first == "A" else "A"
        named = t.meta[first]["caption"]
        r = rng.random()
        if r < cfg.absent_prob:
            text = t.meta[other]["caption"]
            if cfg.absent_any > 0 and rng.random() < cfg.absent_any:  # (no draw at 0: older runs replay)
                here = {family(c) for c in t.meta["classes"]["x"]} | {family(t.meta[first]["class"])}
                pool = [c for c in gen.classes if family(c) not in here]
                if pool:
                    text = caption_for(pool[int(rng.integers(len(pool)))], rng)
            out.append((t.input, text, np.zeros(len(t.edit_mask), np.float32), t.input))
            continue
        if r < cfg.absent_prob + cfg.removed_prob:
            out.append((t.target, named, np.zeros(len(t.edit_mask), np.float32), t.target))
            continue
        if r < cfg.absent_prob + cfg.removed_prob + cfg.two_prob:
            # a second event (another triplet's removed one) joins the clip; one of the two is asked for
            u = gen.sample(rng, task="remove")
            u_first = u.meta["type"].split("_")[1]
            here = {family(c) for c in t.meta["classes"]["x"]} | {family(t.meta[first]["class"])}
            if family(u.meta[u_first]["class"]) not in here:
                mix = t.input + (u.input - u.target)
                if rng.random() < 0.5:
                    out.append((mix, named, t.edit_mask.astype(np.float32), mix - (t.input - t.target)))
                else:
                    out.append((mix, u.meta[u_first]["caption"], u.edit_mask.astype(np.float32), t.input))
                continue
        if cfg.similar_prob > 0 and (cfg.absent_prob + cfg.removed_prob + cfg.two_prob
                                     <= r < cfg.absent_prob + cfg.removed_prob + cfg.two_prob + cfg.similar_prob):
            row = _similar_row(gen, t, first, other, rng, cfg)
            if row is not None:
                out.append(row)
                continue
        text = t.instruction if rng.random() < cfg.instruction_prob else named
        out.append((t.input, text, t.edit_mask.astype(np.float32), t.target))
    return out


class _Texts:
    """Sentence embeddings, each text embedded once."""

    def __init__(self):
        self.cache = {}

    def __call__(self, texts):
        from ..library.embed import embed

        new = sorted({t for t in texts if t not in self.cache})
        if new:
            for t, v in zip(new, embed(new)):
                self.cache[t] = v
        return np.stack([self.cache[t] for t in texts])


def _batch(rows, texts, front):
    import torch

    wav = torch.from_numpy(np.stack([r[0] for r in rows]).astype(np.float32))
    mel = front(wav)
    T = mel.shape[-1]
    lab = np.zeros((len(rows), T), np.float32)
    for i, r in enumerate(rows):
        m = r[2][:T]
        lab[i, : len(m)] = m
    return mel, torch.from_numpy(texts([r[1] for r in rows])), torch.from_numpy(lab)


def run_model_config(out) -> dict:
    """The network settings a training run in ``out`` was started with (its config.json's
    "model"); OptionError when the folder holds something else (an exported finder or remover)."""
    from ..errors import OptionError

    try:
        d = json.loads((Path(out) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        d = None
    if not isinstance(d, dict) or not isinstance(d.get("model"), dict):
        kind = d.get("kind") if isinstance(d, dict) else None
        raise OptionError(f"{out} holds {'a ' + kind if kind else 'something else'}, not a training run; "
                          "name a new or existing run folder.")
    return d["model"]


def frame_scores(logits, labels) -> dict:
    """Frame F1 at probability 0.5 and the mean BCE; numpy inputs."""
    from .find import sigmoid

    p = sigmoid(logits)
    on = p >= 0.5
    y = labels >= 0.5
    tp = float((on & y).sum())
    prec = tp / max(1.0, float(on.sum()))
    rec = tp / max(1.0, float(y.sum()))
    f1 = 2 * prec * rec / max(1e-9, prec + rec)
    eps = 1e-7
    bce = float(-(y * np.log(p + eps) + (~y) * np.log(1 - p + eps)).mean())
    return {"f1": f1, "precision": prec, "recall": rec, "bce": bce}


def train_detector(cfg: DetectorTrainConfig, cancel=None):
    """Train (or resume) the sound finder in ``cfg.out``; yields TrainEvents; returns the best
    checkpoint's folder. ``cancel``: a CancelToken checked between steps."""
    import torch

    from ..data.triplets import TripletGenerator
    from ..features.mel import MelFrontEnd
    from ..training.checkpoint import latest_checkpoint
    from .loop import resume, train_loop
    from .model import DetectorConfig, build

    from ..atomic import atomic_write_text
    from ..errors import OptionError

    out = Path(cfg.out)
    mcfg = DetectorConfig.from_dict(cfg.model)
    saved = out / "config.json"
    if saved.is_file():  # a run resumes with the network it was started with
        if DetectorConfig.from_dict(run_model_config(out)) != mcfg:
            raise OptionError(f"The run {out} was started with another finder network; resume it with the same one.")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(saved, json.dumps({"train": cfg.to_dict(), "model": mcfg.to_dict()}, indent=1))
    torch.manual_seed(cfg.seed)
    net = build(mcfg)
    ema = build(mcfg)
    ema.load_state_dict(net.state_dict())
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    step, best = resume(out, net, ema, opt)
    if step == 0 and latest_checkpoint(out) is None and cfg.init:
        from .model import load

        _, start = load(cfg.init)
        if DetectorConfig.from_dict(json.loads((Path(cfg.init) / "config.json").read_text())) != mcfg:
            raise OptionError(f"The finder in {cfg.init} has another network than this run's.")
        net.load_state_dict(start.state_dict())
        ema.load_state_dict(start.state_dict())
    front = MelFrontEnd()
    texts = _Texts()
    train = TripletGenerator(cfg.bank, split="train", seconds=cfg.seconds, seed=cfg.seed,
                             event_augment=cfg.event_augment, channel_augment=cfg.channel_augment)
    val = TripletGenerator(cfg.bank, split="val", seconds=cfg.seconds, seed=1234)
    val_rows = _rows(val, np.random.default_rng(1234), cfg.val_rows, cfg)
    rng = np.random.default_rng(cfg.seed * 7919 + step)

    def train_loss():
        mel, tv, lab = _batch(_rows(train, rng, cfg.batch_size, cfg), texts, front)
        return torch.nn.functional.binary_cross_entropy_with_logits(net(mel, tv), lab)

    def validate():
        ls, ys = [], []
        for i in range(0, len(val_rows), 32):
            mel, tv, lab = _batch(val_rows[i:i + 32], texts, front)
            ls.append(ema(mel, tv).numpy())
            ys.append(lab.numpy())
        sc = frame_scores(np.concatenate(ls), np.concatenate(ys))
        return sc["bce"], (f"val f1 {sc['f1']:.3f} precision {sc['precision']:.3f} recall {sc['recall']:.3f} "
                           f"bce {sc['bce']:.4f}")

    return (yield from train_loop(cfg, net, ema, opt, step, best, train_loss, validate, best_key="val_bce",
                                  cancel=cancel))


def export(run, dest, half: bool = True) -> Path:
    """The best checkpoint's EMA weights of ``run`` as a sound-finder folder (model.save)."""
    from ..training.checkpoint import best_checkpoint, load_checkpoint
    from .model import DetectorConfig, build, save

    run = Path(run)
    d = json.loads((run / "config.json").read_text(encoding="utf-8"))
    mcfg = DetectorConfig.from_dict(d["model"])
    ck = best_checkpoint(run)
    w, state = load_checkpoint(ck)
    net = build(mcfg)
    net.load_state_dict({k[4:]: v for k, v in w.items() if k.startswith("ema.")})
    return save(dest, mcfg, net, extra={"trained": {"steps": state["step"], "val_bce": state.get("best")}}, half=half)
