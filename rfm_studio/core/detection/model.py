"""The sound finder: per frame of a clip, the probability that the sound a text names plays.

Input: the clip's AudioLDM log-mel (64 bands, 100 frames a second, features/mel.py), normalised
as (mel + 5) / 2.5, beside the same minus its per-band median over the clip (what stands out
of the scene); the text's all-MiniLM-L6-v2 sentence embedding (library/embed.py, 384 values).
Network: four 2-D convolution blocks (3x3, group norm, SiLU, max pooling) over (band, frame), pooled to 4 bands and 50 frames a
second, flattened to ``width`` channels per frame; the text sets a scale and shift of those
channels (FiLM); dilated 1-D convolutions over time (residual, about 2.5 s of context) and a
1x1 head give a logit per frame, repeated to 100 frames a second.

Saved as ``config.json`` (DetectorConfig) and ``model.safetensors`` in one folder.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import ClassVar

FPS = 100  # output frames per second (the log-mel's)
TEXT_DIM = 384


@dataclass(frozen=True)
class DetectorConfig:
    channels: tuple = (16, 32, 48, 64)  # the 2-D blocks (one 3x3 convolution each)
    width: int = 128  # channels per frame after the 2-D blocks
    dilations: tuple = (1, 2, 4, 8, 1)  # the 1-D residual blocks over time
    kernel: int = 5
    text_model: str = "all-MiniLM-L6-v2"
    kind: str = "rfm-studio-sound-finder"
    what: ClassVar[str] = "sound finder"  # its name in messages

    def to_dict(self) -> dict:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict) -> "DetectorConfig":
        names = {f.name for f in fields(cls)}
        kw = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in names}
        return cls(**kw)


def build(cfg: DetectorConfig):
    """The network (torch.nn.Module) for ``cfg``, randomly initialised."""
    import torch
    from torch import nn

    class Block2d(nn.Module):
        def __init__(self, cin, cout, pool):
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, 3, padding=1)
            self.norm = nn.GroupNorm(min(8, cout), cout)
            self.pool = nn.MaxPool2d(pool)

        def forward(self, x):
            return self.pool(nn.functional.silu(self.norm(self.conv(x))))

    class Block1d(nn.Module):
        def __init__(self, width, kernel, dilation):
            super().__init__()
            pad = dilation * (kernel - 1) // 2
            self.conv = nn.Conv1d(width, width, kernel, padding=pad, dilation=dilation)
            self.norm = nn.GroupNorm(8, width)
            self.out = nn.Conv1d(width, width, 1)

        def forward(self, x):
            return x + self.out(nn.functional.silu(self.norm(self.conv(x))))

    class SoundFinder(nn.Module):
        def __init__(self):
            super().__init__()
            ch = (2,) + tuple(cfg.channels)
            pools = [(2, 2)] + [(2, 1)] * (len(cfg.channels) - 1)
            self.blocks = nn.ModuleList(Block2d(ch[i], ch[i + 1], pools[i]) for i in range(len(cfg.channels)))
            bands = 64 // (2 ** len(cfg.channels))
            self.proj = nn.Conv1d(ch[-1] * bands, cfg.width, 1)
            self.text = nn.Sequential(nn.Linear(TEXT_DIM, cfg.width), nn.SiLU(), nn.Linear(cfg.width, 2 * cfg.width))
            self.query = nn.Linear(TEXT_DIM, cfg.width)
            self.temporal = nn.ModuleList(Block1d(cfg.width, cfg.kernel, d) for d in cfg.dilations)
            self.head = nn.Conv1d(cfg.width, 1, 1)

        def forward(self, mel, text):
            """mel [B, 64, T] (log-mel, nats), text [B, 384] -> logits [B, T]."""
            return self.trunk(mel, text)[2]

        def trunk(self, mel, text):
            """(the normalised input [B, 2, 64, T]: the mel beside its per-band median's
            difference; the frame features [B, width, ceil(T / 2)] after the temporal blocks;
            the frame logits [B, T]), for ``forward`` and heads on the same features
            (remover.py)."""
            t = mel.shape[-1]
            x = (mel + 5.0) / 2.5
            rel = x - x.median(dim=-1, keepdim=True).values
            x0 = torch.stack([x, rel], 1)
            pad = (-t) % 2
            x = nn.functional.pad(x0, (0, pad, 0, 0), mode="replicate") if pad else x0
            for b in self.blocks:
                x = b(x)
            h = self.proj(x.flatten(1, 2))  # [B, width, T/2]
            gamma, beta = self.text(text).chunk(2, dim=-1)
            h = h * (1 + gamma[..., None]) + beta[..., None]
            for b in self.temporal:
                h = b(h)
            q = self.query(text)
            logits = self.head(h)[:, 0] + (h * q[..., None]).sum(1) / h.shape[1] ** 0.5
            return x0, h, logits.repeat_interleave(2, dim=-1)[:, :t]

    return SoundFinder()


def export_target(config_class) -> tuple[str, tuple[str, str, str], tuple[str, ...]]:
    """(its name, the marker of its exports, what an export holds) of a network's config class,
    for atomic.exporting and atomic.check_export: a config.json of its kind and the weights."""
    return config_class.what, ("config.json", "kind", config_class.kind), ("config.json", "model.safetensors")


def save(folder, cfg: DetectorConfig, net, extra: dict | None = None, half: bool = False) -> Path:
    """``config.json`` and ``model.safetensors`` into ``folder``, put in place together
    (atomic.exporting: one folder swap; a folder that is not empty and holds no network of
    ``cfg``'s kind is refused in one sentence)."""
    from ..atomic import exporting
    from ..model.files import save_safetensors

    folder = Path(folder)
    sd = {k: (v.half() if half else v).detach().contiguous() for k, v in net.state_dict().items()}
    with exporting(folder, *export_target(type(cfg))) as tmp:
        (tmp / "config.json").write_text(json.dumps({**cfg.to_dict(), **(extra or {})}, indent=1) + "\n",
                                         encoding="utf-8")
        save_safetensors(sd, tmp / "model.safetensors")
    return folder


def load(folder):
    """(DetectorConfig, network in eval mode, float32) from a folder ``save`` wrote."""
    return load_folder(folder, DetectorConfig, build, "sound finder")


def load_folder(folder, config_class, build_net, what: str):
    """(config, network in eval mode, float32) from a folder ``save`` wrote, of ``config_class``'s
    kind and text model (RFMError in one sentence otherwise, or when the weights do not fit);
    ``build_net(cfg)`` builds the network, ``what`` names it in the errors."""
    from ..errors import RFMError
    from ..model.files import load_safetensors

    folder = Path(folder)
    try:
        d = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RFMError(f"The {what} in {folder} has no readable config.json ({exc}).") from None
    cfg = config_class.from_dict(d)
    if cfg.kind != config_class.kind or cfg.text_model != config_class.text_model:
        raise RFMError(f"{folder} holds a {cfg.kind} for the text encoder {cfg.text_model}; this app reads a "
                       f"{config_class.kind} for {config_class.text_model}.")
    net = build_net(cfg)
    sd = {k: v.float() for k, v in load_safetensors(folder / "model.safetensors").items()}
    try:
        missing, unexpected = net.load_state_dict(sd, strict=False)
    except RuntimeError:  # a tensor of another shape
        missing, unexpected = ["(shapes)"], []
    if missing or unexpected:
        raise RFMError(f"The {what} weights in {folder} do not fit its config "
                       f"({len(missing)} missing, {len(unexpected)} unexpected tensors or other shapes).")
    net.eval()
    return cfg, net


_cache_lock = threading.Lock()
_cache: dict = {}


def has_network(folder) -> bool:
    """Whether ``folder`` holds a network's files, config.json and model.safetensors (nothing is loaded)."""
    folder = Path(folder)
    return (folder / "config.json").is_file() and (folder / "model.safetensors").is_file()


def cached_network(folder, load_net):
    """The network ``load_net(folder)[1]`` gives, loaded once per process and folder; None (and
    nothing cached, so one installed later is found) when ``folder`` holds no network."""
    folder = Path(folder)
    if not has_network(folder):
        return None
    key = str(folder.resolve())
    with _cache_lock:
        if key not in _cache:
            _cache[key] = load_net(folder)[1]
        return _cache[key]
