"""The sound remover: per log-mel bin of a clip, the share that is the sound a text names, and the
clip with that share taken out.

Network: the sound finder's trunk (model.py: 2-D blocks, projection, the text's FiLM, the
temporal blocks, its frame head and query; parameters ``f.*``) and a mask head on the same
features: ``coarse`` (1x1 convolution, width -> 2 x 64: 64 mel bands at each of the two 100 fps
frames of a 50 fps feature frame) refined by ``refine`` (three 3x3 convolutions over the
normalised mel, its difference from the per-band median, the coarse logits and the frame logit),
added to the coarse logits. Output: mask logits [B, 64, T] (sigmoid: the share of each log-mel
bin that is the sound) and the finder's frame logits [B, T].

Applying it: keep = (1 - sigmoid(mask)) ** strength, as gains of the log-mel rendered on the
clip's own STFT (render.render_mask), so any sample rate and channel count keeps its own.
Saved as ``config.json`` (RemoverConfig) and ``model.safetensors`` in one folder; none ships
yet (``models/sound-remover``; ``load_remover`` gives None where it is missing).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from .model import DetectorConfig, FPS

N_MELS = 64
FOLDER_NAME = "sound-remover"
WINDOW_S = 30.0  # the clip is heard in windows of this ...
CONTEXT_S = 3.0  # ... each with this much more on both sides (as find.sound_probs)
FLOOR = 1e-5  # the mel energy a removal leaves at least (the log-mel's own floor)



@dataclass(frozen=True)
class RemoverConfig(DetectorConfig):
    """The finder's trunk (DetectorConfig's fields) and the mask head's refining width."""
    refine: int = 24  # channels of the refining 2-D convolutions
    kind: str = "rfm-studio-sound-remover"
    what: ClassVar[str] = "sound remover"


def build(cfg: RemoverConfig):
    """The network (torch.nn.Module) for ``cfg``, randomly initialised (the mask starts near
    "keep everything": coarse logits about -4, no refinement)."""
    import torch
    from torch import nn

    from .model import build as build_finder

    class SoundRemover(nn.Module):
        def __init__(self):
            super().__init__()
            self.f = build_finder(cfg)
            self.coarse = nn.Conv1d(cfg.width, N_MELS * 2, 1)
            r = cfg.refine
            self.refine = nn.Sequential(nn.Conv2d(4, r, 3, padding=1), nn.SiLU(), nn.Conv2d(r, r, 3, padding=1),
                                        nn.SiLU(), nn.Conv2d(r, 1, 3, padding=1))
            nn.init.zeros_(self.refine[-1].weight)
            nn.init.zeros_(self.refine[-1].bias)
            nn.init.normal_(self.coarse.weight, std=1e-3)
            nn.init.constant_(self.coarse.bias, -4.0)

        def forward(self, mel, text):
            """mel [B, 64, T] (log-mel, nats), text [B, 384] -> (mask logits [B, 64, T], frame
            logits [B, T])."""
            x0, h, frame = self.f.trunk(mel, text)
            t = mel.shape[-1]
            c = self.coarse(h)  # [B, 128, T/2]: two frames' bands per feature frame
            n = c.shape[0]
            c = c.view(n, N_MELS, 2, -1).permute(0, 1, 3, 2).reshape(n, N_MELS, -1)[:, :, :t]
            inp = torch.cat([x0, c[:, None], frame[:, None, None, :].expand(-1, 1, N_MELS, -1)], 1)
            return self.refine(inp)[:, 0] + c, frame

    return SoundRemover()


def save(folder, cfg: RemoverConfig, net, extra: dict | None = None, half: bool = False) -> Path:
    """``config.json`` and ``model.safetensors`` into ``folder`` (model.save: one folder swap)."""
    from .model import save as save_folder

    return save_folder(folder, cfg, net, extra, half)


def load(folder):
    """(RemoverConfig, network in eval mode, float32) from a folder ``save`` wrote; RFMError in
    one sentence for another kind (a sound finder), another text model or weights that do not fit."""
    from .model import load_folder

    return load_folder(folder, RemoverConfig, build, "sound remover")


def shipped_remover_dir() -> Path:
    from ..paths import shipped_models_dir

    return shipped_models_dir() / FOLDER_NAME


def remover_installed(folder=None) -> bool:
    """Whether ``folder`` (default: ``models/sound-remover``) holds a remover's files (nothing is loaded)."""
    from .model import has_network

    return has_network(folder if folder is not None else shipped_remover_dir())


def load_remover(path=None):
    """The remover network of ``path`` (default: ``models/sound-remover``), loaded once per
    process; None when the folder holds no remover."""
    from .model import cached_network

    return cached_network(path if path is not None else shipped_remover_dir(), load)


def remove_probs(remover, x16: np.ndarray, text: str, cancel=None) -> np.ndarray:
    """[64, frames] (100 frames a second, ``len(x16) // 160 + 1``): the share of each log-mel bin
    of the 16 kHz mono ``x16`` that is ``text``'s sound, heard in windows of WINDOW_S with
    CONTEXT_S of context (find.mel_windows); ``cancel`` is checked between windows
    (errors.Cancelled). library.embed.EncoderUnavailable when the text encoder cannot load."""
    from .find import windowed_probs

    return windowed_probs(lambda mel, q: remover(mel, q)[0][0], x16, text, cancel, rows=N_MELS,
                          window_s=WINDOW_S, context_s=CONTEXT_S)


def keep_gains(remover, x16: np.ndarray, text: str, cancel=None) -> np.ndarray:
    """[64, frames] in [0, 1]: the share of each log-mel bin to keep (1 - ``remove_probs``)."""
    return 1.0 - remove_probs(remover, x16, text, cancel)


def removal_mels(x16: np.ndarray, keep_mel: np.ndarray, strength: float = 1.0):
    """(mel_in, mel_out) [64, frames]: the log-mel of the 16 kHz mono ``x16`` and the same with
    ``keep_mel ** strength`` of each bin's energy kept (never below FLOOR, never above the input)."""
    import torch

    from ..features.mel import MelFrontEnd
    from .find import MIN_SAMPLES

    x = np.asarray(x16, np.float32)
    n = len(x) // 160 + 1
    seg = np.pad(x, (0, max(0, MIN_SAMPLES + 1 - len(x))))
    with torch.inference_mode():
        mel_in = MelFrontEnd()(torch.from_numpy(seg)).numpy().astype(np.float64)[:, :n]
    keep = np.clip(np.asarray(keep_mel, np.float64)[:, :n], 0.0, 1.0) ** float(strength)
    mel_out = np.log(np.maximum(np.exp(mel_in) * keep, FLOOR))
    return mel_in, np.minimum(mel_out, mel_in)


def apply_removal(audio: np.ndarray, sr: int, keep_mel: np.ndarray, strength: float = 1.0,
                  x16: np.ndarray | None = None) -> np.ndarray:
    """``audio`` ([samples] or [samples, channels] at ``sr``) with ``keep_mel`` ([64, frames] of
    its 16 kHz mono mix, from ``keep_gains``) raised to ``strength`` applied as gains on its own
    STFT (render.render_mask); same shape, rate and length. Strength 0: the input itself.
    ``x16``: that mix when the caller already made it."""
    from ..audio.io import resample, to_mono
    from ..features.mel import MelConfig
    from ..render import render_mask

    audio = np.asarray(audio, np.float32)
    n_fft = int(2 ** np.round(np.log2(MelConfig().n_fft * int(sr) / 16000)))
    if float(strength) == 0.0 or audio.shape[0] <= n_fft // 2:  # too short for its STFT: unchanged
        return audio.copy()
    x16 = resample(to_mono(audio), int(sr), 16000) if x16 is None else x16
    mel_in, mel_out = removal_mels(x16, keep_mel, strength)
    return render_mask(audio, int(sr), mel_in, mel_out, None, MelConfig(), threshold=0.0)


__all__ = ["FPS", "RemoverConfig", "build", "save", "load", "load_remover", "remove_probs", "keep_gains",
           "apply_removal", "removal_mels", "shipped_remover_dir", "remover_installed"]
