"""The log-mel statistics classifier of the event judge (benchmarks/event_judge.py averages
its probabilities with the CNN's).

Features (one vector per clip or segment, 16 kHz mono): 64-band log-mel power (1024-point FFT,
20 ms hop, 0-8 kHz) over the segment's active frames (within 30 dB of its loudest), with the
segment's level removed: per band the mean, spread and 10th/50th/90th percentiles, the mean and
spread of the frame-to-frame change per band, and six global figures (active share, log active
length, onset rate, spectral centroid mean and spread, flatness). Classifier: a small torch MLP
(one hidden layer of 384, dropout, label smoothing, AdamW) on the standardised features.

Training set: the bank's train split without the starter library's recordings, plus three
copies of each clip mixed with 1-2 other bank clips at SNR -5..+10 dB (on mel power: the
spectra add), half of them cropped, with a random spectral tilt (+-6 dB) and a shift of up to
two mel bands (another recording of the same kind of sound).
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SR, NFFT, HOP, NMELS = 16000, 1024, 320, 64
ACTIVE_DB = 30.0
MAX_S = 8.0  # a longer clip is represented by its loudest MAX_S seconds
VERSION = 4  # bump when features or training change (part of the cache key)


# ---------------------------------------------------------------- features
_FB = None


def loudest(x: np.ndarray, seconds: float, rate: float) -> np.ndarray:
    """The loudest ``seconds`` of ``x``: samples (1-D, by energy) or frames of power ([frames, bands],
    by summed power), at ``rate`` per second."""
    n = int(seconds * rate)
    if len(x) <= n:
        return x
    e = x if x.ndim == 1 else x.sum(1)
    c = np.concatenate([[0.0], np.cumsum(e.astype(np.float64) ** (2 if x.ndim == 1 else 1))])
    a = int(np.argmax(c[n:] - c[:-n]))
    return x[a:a + n]


def mel_power(x: np.ndarray, max_s: float = MAX_S) -> np.ndarray:
    """[frames, 64] mel power of mono 16 kHz ``x`` (its loudest ``max_s`` seconds)."""
    global _FB
    if _FB is None:
        from rfm_studio.core.features.mel import mel_filterbank

        _FB = mel_filterbank(SR, NFFT, NMELS, 0.0, 8000.0).astype(np.float32).T
    x = loudest(np.asarray(x, np.float32), max_s, SR)
    if len(x) < NFFT:
        x = np.pad(x, (0, NFFT - len(x)))
    frames = 1 + (len(x) - NFFT) // HOP
    idx = np.arange(NFFT)[None, :] + HOP * np.arange(frames)[:, None]
    spec = np.abs(np.fft.rfft(x[idx] * np.hanning(NFFT).astype(np.float32), axis=1)) ** 2
    return (spec @ _FB).astype(np.float32)


def features_from_power(p: np.ndarray) -> np.ndarray:
    m = np.log(p + 1e-10)  # [frames, bands]
    e = np.log(p.sum(1) + 1e-10)
    act = e >= e.max() - ACTIVE_DB / 10 * np.log(10)
    if act.sum() < 3:
        act = np.argsort(-e)[: min(3, len(e))]
        a = m[np.sort(act)]
        share = len(act) / max(1, len(e))
    else:
        a = m[act]
        share = float(act.mean())
    level = float(a.mean())
    a = a - level  # the segment's level removed: the sound, not how loud it is
    d = np.diff(a, axis=0) if len(a) > 1 else np.zeros((1, a.shape[1]))
    pct = np.percentile(a, [10, 50, 90], axis=0)
    pa = np.exp(a)
    freqs = np.arange(NMELS, dtype=np.float64)
    cen = (pa * freqs).sum(1) / (pa.sum(1) + 1e-10)
    flat = np.exp(np.log(pa + 1e-10).mean(1)) / (pa.mean(1) + 1e-10)
    flux = np.maximum(np.diff(m, axis=0), 0).sum(1) if len(m) > 2 else np.zeros(2)
    onsets = int(np.sum((flux[1:-1] > flux[:-2]) & (flux[1:-1] >= flux[2:]) & (flux[1:-1] > flux.mean() + flux.std())))
    secs = len(e) * HOP / SR
    glob = [share, np.log(act.sum() * HOP / SR + 1e-3) if act.dtype == bool else np.log(0.06),
            onsets / max(secs, 0.1), cen.mean() / NMELS, cen.std() / NMELS, flat.mean()]
    return np.concatenate([a.mean(0), a.std(0), *pct, np.abs(d).mean(0), d.std(0), glob]).astype(np.float32)


def features(x16: np.ndarray) -> np.ndarray:
    return features_from_power(mel_power(x16))


# ---------------------------------------------------------------- data
class StatsModel:
    def __init__(self, net, mean, std, classes, info):
        self.net, self.mean, self.std, self.classes, self.info = net, mean, std, list(classes), info
        self.index = {c: i for i, c in enumerate(self.classes)}

    def proba(self, feats: np.ndarray) -> np.ndarray:
        import torch

        f = (np.atleast_2d(feats) - self.mean) / self.std
        with torch.no_grad():
            return torch.softmax(self.net(torch.from_numpy(f.astype(np.float32))), -1).numpy()

    def probs(self, x16: np.ndarray) -> dict:
        return dict(zip(self.classes, self.proba(features(x16))[0]))

    def ranks(self, x16: np.ndarray) -> tuple[list[str], dict]:
        p = self.probs(x16)
        return sorted(p, key=lambda c: -p[c]), p


def _net(n_in: int, n_out: int, hidden: int = 384):
    import torch.nn as nn

    return nn.Sequential(nn.Dropout(0.1), nn.Linear(n_in, hidden), nn.GELU(), nn.Dropout(0.4), nn.Linear(hidden, n_out))


def train(bank: Path, *, seed: int = 0, epochs: int = 40, log=print) -> "StatsModel":
    import torch
    import torch.nn.functional as F

    from event_judge import bank_rows, load16, starter_groups

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    held = starter_groups()
    rows = [r for r in bank_rows(bank) if r.get("split", "train") == "train" and r.get("group") not in held]
    t0 = time.perf_counter()
    powers = [mel_power(load16(bank / r["path"])) for r in rows]
    t_feat = time.perf_counter() - t0
    classes = sorted({r["class"] for r in rows})
    ci = {c: i for i, c in enumerate(classes)}
    X, y = [], []
    for i, (r, p) in enumerate(zip(rows, powers)):
        X.append(features_from_power(p))
        y.append(ci[r["class"]])
        for _ in range(3):  # heard in a scene: over 1-2 other sounds at -5..+10 dB SNR
            q = p.copy()
            for _ in range(int(rng.integers(1, 3))):
                j = int(rng.integers(len(powers)))
                while rows[j]["class"] == r["class"]:
                    j = int(rng.integers(len(powers)))
                b = powers[j]
                b = np.resize(b, p.shape) if len(b) >= len(p) else np.concatenate([b] * (len(p) // len(b) + 1))[: len(p)]
                snr = float(rng.uniform(-5, 10))
                g = p.sum() / (b.sum() + 1e-10) * 10 ** (-snr / 10)
                q = q + g * b
            if len(q) > 20 and rng.random() < 0.5:  # a crop, as a region cuts the event
                a = int(rng.integers(0, len(q) // 3))
                q = q[a: a + max(10, int(len(q) * rng.uniform(0.6, 1.0)))]
            q = q * (10 ** (rng.uniform(-0.6, 0.6) * np.linspace(-1, 1, NMELS)))[None, :]  # tilt +-6 dB
            k = int(rng.integers(-2, 3))  # another recording of the class: its spectrum a band or two off
            if k > 0:
                q = np.roll(q, k, axis=1)
                q[:, :k] = q[:, k:k + 1]
            elif k < 0:
                q = np.roll(q, k, axis=1)
                q[:, k:] = q[:, k - 1:k]
            X.append(features_from_power(q * float(10 ** rng.uniform(-1, 1))))
            y.append(ci[r["class"]])
    X, y = np.stack(X), np.array(y)
    mean, std = X.mean(0), X.std(0) + 1e-4
    Xt = torch.from_numpy(((X - mean) / std).astype(np.float32))
    yt = torch.from_numpy(y)
    net = _net(X.shape[1], len(classes))
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=epochs * ((len(y) + 127) // 128))
    # class-balanced: each class's examples weigh as much in total
    w = torch.from_numpy((len(y) / (len(classes) * np.bincount(y, minlength=len(classes)).clip(1))).astype(np.float32))
    for _ in range(epochs):
        net.train()
        perm = torch.randperm(len(y))
        for k in range(0, len(y), 128):
            b = perm[k:k + 128]
            loss = F.cross_entropy(net(Xt[b] + 0.05 * torch.randn_like(Xt[b])), yt[b], weight=w, label_smoothing=0.1)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    net.eval()
    info = {"clips": len(rows), "examples": int(len(y)), "classes": len(classes), "features_s": round(t_feat, 1),
            "train_s": round(time.perf_counter() - t0, 1), "bank": str(bank), "version": VERSION}
    log(f"judge, statistics MLP: {len(rows)} train clips ({len(classes)} classes, starter-library recordings left out), "
        f"{len(y)} examples with mixes; trained in {info['train_s']:.0f} s (features {t_feat:.0f} s)")
    return StatsModel(net, mean, std, classes, info)


def save(j: StatsModel, folder: Path) -> None:
    from safetensors.torch import save_file
    import torch

    from rfm_studio.core.atomic import atomic_write_bytes

    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"net.{k}": v.contiguous() for k, v in j.net.state_dict().items()}
    tensors["mean"], tensors["std"] = torch.from_numpy(j.mean), torch.from_numpy(j.std)
    tmp = folder / "judge.safetensors.tmp"
    save_file(tensors, str(tmp))
    os.replace(tmp, folder / "judge.safetensors")
    atomic_write_bytes(folder / "judge.json",
                       json.dumps({"class_names": j.classes, "n_in": int(j.mean.shape[0]), "info": j.info}, indent=1).encode())


def load(folder: Path) -> "StatsModel | None":
    from safetensors.torch import load_file

    if not (folder / "judge.json").is_file() or not (folder / "judge.safetensors").is_file():
        return None
    cfg = json.loads((folder / "judge.json").read_text(encoding="utf-8"))
    t = load_file(str(folder / "judge.safetensors"))
    net = _net(cfg["n_in"], len(cfg["class_names"]))
    net.load_state_dict({k[4:]: v for k, v in t.items() if k.startswith("net.")})
    net.eval()
    return StatsModel(net, t["mean"].numpy(), t["std"].numpy(), cfg["class_names"], cfg["info"])
