"""A sound-event classifier that judges add / replace edits (benchmarks only, not the product).

    python benchmarks/event_judge.py [--bank /work/data/bank2] [--outside-bank data/outside/bank] [--retrain]

The judge averages the class probabilities of two models trained on the same clips: a small CNN
on log-mel patches (below) and the log-mel statistics MLP of ``judge_stats.py`` (equal weights;
on bank v2 validation the average beats either alone, and weighting the CNN 0.3 instead of 0.5
changes top-1 by 2 points).

CNN input: a segment's 64-band log-mel power (16 kHz mono, 1024-point FFT, 20 ms hop, 0-8 kHz;
a longer segment is represented by its loudest MAX_S seconds), in dB relative to its own 99th
percentile and floored 80 dB under it (the level removed: the sound, not how loud it is).
Classifier: a small CNN (four 3x3 conv blocks, 16-32-64-128 channels, batch norm, 2x2 max
pooling after the first three), mean over frequency, then the mean and max over time (any
length), dropout and a linear layer over the bank's classes.

Training set: the bank's train split without the clips the starter library was cut from (so
the library sound itself is never a training clip). Classes are sampled uniformly (class-
balanced), then a clip of the class. Every example is built on the mel power (where sounds
add) from one clip at a random crop / offset in a 0.6-3 s patch: speed change (time stretch
with the matching shift of the mel bands), a random smooth EQ (+-8 dB), sometimes a band
limit or a reverberant tail, then 0-3 clips of other classes under or over it at -5..+15 dB
SNR as a scene, a noise bed, and sometimes an EQ or band limit of the whole mix (another
microphone and channel). AdamW, one-cycle schedule, label smoothing; STEPS batches of 64 on one
CPU thread (about 20 minutes; the MLP about 2).

Held-out figures: the bank's validation split and the outside bank (other packages,
recordings never trained on), top-1 and top-3 on the fine classes and on GROUPS (classes a
listener would not tell apart from a few seconds of audio: e.g. a gunshot and a machine gun).
The weights are cached outside git (``~/.cache/rfm-studio/event_judge/``, safetensors + JSON).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import judge_stats  # noqa: E402
from judge_stats import HOP, MAX_S, NFFT, NMELS, SR, loudest, mel_power  # noqa: E402,F401

FPS = SR / HOP  # 50 frames per second
STORE_S = 10.0  # training clips kept as their loudest STORE_S seconds
FLOOR_DB = 80.0
MIN_FRAMES = 16
CHANNELS = (16, 32, 64, 128)
STEPS, BATCH = 1800, 64
PATCH_FRAMES = (30, 50, 75, 100, 150)
CACHE = Path(os.environ.get("RFM_JUDGE_CACHE", Path.home() / ".cache" / "rfm-studio" / "event_judge"))
VERSION = 5  # bump when the CNN's input, network or training change (part of its cache key)

# Classes one cannot tell apart from a short excerpt (or that a caption uses interchangeably):
# a prediction of any member counts for the group. Classes not listed are their own group.
GROUPS = {
    "gun": ("gunshot", "machine_gun", "cannon_fire", "ricochet"),
    "explosion": ("explosion", "fireworks", "rocket_launch"),
    "drum": ("drums", "kick_drum", "snare_drum", "tom_drum", "tabla", "taiko_drum", "timpani", "bongo_conga"),
    "cymbal": ("cymbal", "hihat", "shaker", "tambourine"),
    "engine": ("car_engine", "bus_truck_engine", "machinery", "tank_treads"),
    "aircraft": ("aircraft_jet_or_prop", "helicopter"),
    "horn": ("car_horn", "train_horn_or_crossing", "ship_horn"),
    "water": ("water_stream", "ocean_waves", "rain", "splash", "water_drip", "bubbles", "toilet_flush"),
    "bird": ("bird_chirp", "seagull", "eagle_screech", "crow_caw", "owl_hoot"),
    "fowl": ("chicken_cluck", "rooster_crow", "duck_quack", "goose_honk"),
    "bleat": ("sheep_bleat", "goat_bleat"),
    "roar": ("growl", "lion_roar"),
    "scream": ("scream", "pain_cry", "baby_cry"),
    "crowd": ("crowd_cheer", "applause", "laughter"),
    "hit": ("punch", "hammering", "metal_clang", "wood_chop", "pickaxe_rock"),
    "wind": ("wind", "whoosh"),
    "brass": ("trumpet_brass", "french_horn", "tuba", "saxophone"),
    "woodwind": ("flute_woodwind", "clarinet_oboe", "recorder", "pan_flute", "ocarina", "whistling"),
    "keys": ("piano", "electric_piano", "harpsichord", "organ", "accordion", "harmonica"),
    "mallets": ("glockenspiel_celesta", "vibraphone", "xylophone_marimba", "tubular_bells", "music_box", "kalimba",
                "steel_drums", "bell_gong"),
    "strings": ("violin_cello", "string_ensemble", "pizzicato_strings"),
    "plucked": ("guitar", "electric_guitar", "bass_guitar", "banjo", "koto", "sitar", "harp"),
}
GROUP_OF = {c: g for g, cs in GROUPS.items() for c in cs}


def group(c: str) -> str:
    return GROUP_OF.get(c, c)


# ---------------------------------------------------------------- input
# loudest, mel_power: judge_stats.py (the two models of the judge share their input)


def normalise(p: np.ndarray) -> np.ndarray:
    """Network input [frames, 64] from mel power: dB under the segment's 99th percentile, floored."""
    db = 10 * np.log10(np.asarray(p, np.float64) + 1e-12)
    db = np.clip(db - np.percentile(db, 99), -FLOOR_DB, 0.0)
    if len(db) < MIN_FRAMES:  # too short for the pooling: pad with the floor
        db = np.concatenate([db, np.full((MIN_FRAMES - len(db), NMELS), -FLOOR_DB)])
    return ((db + FLOOR_DB / 2) / (FLOOR_DB / 4)).astype(np.float32)


# ---------------------------------------------------------------- data
def bank_rows(bank: Path) -> list[dict]:
    from rfm_studio.core.data.reserved import RESERVED_PACKAGES

    rows = [json.loads(l) for l in (bank / "bank.jsonl").read_text(encoding="utf-8").splitlines() if l.strip()]
    return [r for r in rows if r.get("package") not in RESERVED_PACKAGES]


def load16(path) -> np.ndarray:
    from rfm_studio.core.audio.io import load_audio, resample, to_mono

    x, sr = load_audio(str(path))
    return resample(to_mono(x), sr, SR)


def starter_groups() -> set:
    from rfm_studio.core.library.starter import licences

    return {r.get("group") for r in licences().values() if r.get("group")}


# ---------------------------------------------------------------- augmentation (on mel power)
def _fit(p: np.ndarray, T: int, rng, active_bias: bool = True) -> np.ndarray:
    """``p`` as T frames: a random crop (the louder of two) when longer, else at a random offset in silence."""
    if len(p) >= T:
        starts = rng.integers(0, len(p) - T + 1, size=2 if active_bias else 1)
        a = max(starts, key=lambda s: float(p[s:s + T].sum()))
        return p[a:a + T].copy()
    out = np.zeros((T, NMELS), np.float32)
    a = int(rng.integers(0, T - len(p) + 1))
    out[a:a + len(p)] = p
    return out


def _shift_bands(p: np.ndarray, k: int) -> np.ndarray:
    if k == 0:
        return p
    q = np.roll(p, k, axis=1)
    if k > 0:
        q[:, :k] = q[:, k:k + 1]
    else:
        q[:, k:] = q[:, k - 1:k]
    return q


def _speed(p: np.ndarray, f: float) -> np.ndarray:
    """Played ``f`` times faster: the time axis shrunk, the spectrum up by log2(f) octaves (~12 bands per octave)."""
    n = max(2, int(round(len(p) / f)))
    t = np.linspace(0, len(p) - 1, n)
    i = np.floor(t).astype(int)
    w = (t - i)[:, None]
    j = np.minimum(i + 1, len(p) - 1)
    q = (p[i] * (1 - w) + p[j] * w).astype(np.float32)
    return _shift_bands(q, int(round(12 * np.log2(f))))


def _eq(rng, amount_db: float) -> np.ndarray:
    b = np.linspace(0, np.pi, NMELS)
    curve = sum(rng.uniform(-1, 1) * np.cos(k * b + rng.uniform(0, np.pi)) for k in (1, 2, 3))
    curve = curve / (np.abs(curve).max() + 1e-9) * rng.uniform(0, amount_db)
    return (10 ** (curve / 10)).astype(np.float32)[None, :]


def _band_limit(p: np.ndarray, rng) -> np.ndarray:
    q = p.copy()
    if rng.random() < 0.7:  # low-pass: a lower sample rate or a dull microphone
        b = int(rng.integers(30, 60))
        q[:, b:] *= 10 ** (-rng.uniform(25, 60) / 10)
    else:  # high-pass: a small speaker
        b = int(rng.integers(2, 10))
        q[:, :b] *= 10 ** (-rng.uniform(15, 40) / 10)
    return q


def _reverb(p: np.ndarray, rng) -> np.ndarray:
    from scipy.signal import lfilter

    t60 = rng.uniform(0.2, 1.5)
    a = float(np.exp(-6.9078 / (t60 * FPS)))
    tail = lfilter([1 - a], [1, -a], p, axis=0)
    return (p + rng.uniform(0.2, 1.0) * tail).astype(np.float32)


def _active_power(p: np.ndarray) -> float:
    e = p.sum(1)
    act = e >= e.max() * 10 ** (-3)  # within 30 dB of the loudest frame
    return float(e[act].mean()) if act.any() else float(e.mean()) + 1e-12


def example(powers, by_class, cls: int, T: int, rng) -> np.ndarray:
    """One training example (mel power, [T, 64]) of class ``cls``."""
    idx = by_class[cls]
    p = powers[idx[int(rng.integers(len(idx)))]]
    if rng.random() < 0.8:
        p = _speed(p, float(np.exp(rng.uniform(-0.2, 0.2))))
    p = _fit(p, T, rng)
    p = p * _eq(rng, 8.0)
    if rng.random() < 0.2:
        p = _band_limit(p, rng)
    if rng.random() < 0.3:
        p = _reverb(p, rng)
    lv = _active_power(p)
    mix = p
    for _ in range(int(rng.choice(4, p=[0.25, 0.4, 0.25, 0.1]))):
        c = int(rng.integers(len(by_class)))
        if c == cls or not by_class[c]:
            continue
        idb = by_class[c]
        b = _fit(powers[idb[int(rng.integers(len(idb)))]], T, rng, active_bias=False) * _eq(rng, 8.0)
        snr = rng.uniform(-5, 15)
        mix = mix + b * (lv / _active_power(b) * 10 ** (-snr / 10))
    # a noise bed (tilted: more energy low) 25-70 dB under the sound
    tilt = 10 ** (-rng.uniform(0, 3) * np.linspace(0, 1, NMELS))[None, :]
    bed = tilt * rng.uniform(0.5, 1.5, size=(T, NMELS))
    mix = mix + bed * (lv / bed.sum(1).mean() * 10 ** (-rng.uniform(25, 70) / 10))
    if rng.random() < 0.3:
        mix = mix * _eq(rng, 6.0)
    if rng.random() < 0.15:
        mix = _band_limit(mix, rng)
    return mix.astype(np.float32)


# ---------------------------------------------------------------- model
def _net(n_out: int, ch=CHANNELS):
    import torch
    import torch.nn as nn

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            layers, c_in = [], 1
            for i, c in enumerate(ch):
                layers += [nn.Conv2d(c_in, c, 3, padding=1, bias=False), nn.BatchNorm2d(c), nn.ReLU()]
                if i < len(ch) - 1:
                    layers.append(nn.MaxPool2d(2))
                c_in = c
            self.conv = nn.Sequential(*layers)
            self.drop = nn.Dropout(0.3)
            self.head = nn.Linear(2 * ch[-1], n_out)

        def forward(self, x):  # x: [batch, frames, 64]
            h = self.conv(x.transpose(1, 2).unsqueeze(1)).mean(2)  # [batch, ch, frames / 8]
            return self.head(self.drop(torch.cat([h.mean(-1), h.amax(-1)], 1)))

    return Net()


class Judge:
    """The CNN and the statistics MLP; probabilities averaged."""

    def __init__(self, net, stats, classes, info):
        self.net, self.stats, self.classes, self.info = net, stats, list(classes), info
        self.index = {c: i for i, c in enumerate(self.classes)}
        assert stats is None or list(stats.classes) == self.classes

    def proba_power(self, p: np.ndarray) -> np.ndarray:
        """The CNN's class probabilities for mel power ``p`` (alone, without the MLP)."""
        import torch

        with torch.no_grad():
            x = torch.from_numpy(normalise(p))[None]
            return torch.softmax(self.net(x), -1)[0].numpy()

    def proba(self, x16: np.ndarray) -> np.ndarray:
        p = mel_power(x16)
        q = self.proba_power(p)
        if self.stats is None:
            return q
        return 0.5 * q + 0.5 * self.stats.proba(judge_stats.features_from_power(p))[0]

    def probs(self, x16: np.ndarray) -> dict:
        return dict(zip(self.classes, self.proba(x16).tolist()))

    def ranks(self, x16: np.ndarray) -> tuple[list[str], dict]:
        p = self.probs(x16)
        return sorted(p, key=lambda c: -p[c]), p


def group_probs(p: dict) -> dict:
    out: dict = {}
    for c, v in p.items():
        out[group(c)] = out.get(group(c), 0.0) + v
    return out


def _key(bank: Path, rows, model: str, steps: int = STEPS) -> str:
    h = hashlib.sha256(f"{model} {CHANNELS} {steps}x{BATCH} {PATCH_FRAMES}".encode())
    for r in rows:
        h.update(f"{r['id']}|{r['class']}|{r['split']}".encode())
    for g in sorted(starter_groups()):  # the recordings held out: a new starter library, a new judge
        h.update(f"held|{g}".encode())
    return h.hexdigest()[:16]


def train(bank: Path, *, seed: int = 0, steps: int = STEPS, log=print) -> tuple:
    """(CNN, classes, info) trained on ``bank``."""
    import torch
    import torch.nn.functional as F

    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    held = starter_groups()
    rows = [r for r in bank_rows(bank) if r.get("split", "train") == "train" and r.get("group") not in held]
    t0 = time.perf_counter()
    powers = [mel_power(load16(bank / r["path"]), STORE_S) for r in rows]
    t_feat = time.perf_counter() - t0
    classes = sorted({r["class"] for r in rows})
    ci = {c: i for i, c in enumerate(classes)}
    by_class = [[] for _ in classes]
    for i, r in enumerate(rows):
        by_class[ci[r["class"]]].append(i)
    net = _net(len(classes))
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=0.02)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.15)
    net.train()
    run = []
    for step in range(steps):
        T = int(rng.choice(PATCH_FRAMES))
        y = rng.integers(len(classes), size=BATCH)  # class-balanced
        x = np.stack([normalise(example(powers, by_class, int(c), T, rng)) for c in y])
        if rng.random() < 0.5:  # time masking: a stretch of frames at the floor
            w = int(rng.integers(1, max(2, T // 6)))
            a = int(rng.integers(0, T - w))
            x[:, a:a + w] = -2.0
        loss = F.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y), label_smoothing=0.1)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        run.append(loss.item())
        if (step + 1) % 200 == 0:
            log(f"  step {step + 1}/{steps}: loss {np.mean(run[-200:]):.3f} ({time.perf_counter() - t0:.0f} s)")
    net.eval()
    info = {"clips": len(rows), "classes": len(classes), "steps": steps, "batch": BATCH, "features_s": round(t_feat, 1),
            "train_s": round(time.perf_counter() - t0, 1), "bank": str(bank), "version": VERSION}
    log(f"judge, CNN: {len(rows)} train clips ({len(classes)} classes, starter-library recordings left out), "
        f"{steps} batches of {BATCH}; trained in {info['train_s']:.0f} s (features {t_feat:.0f} s)")
    return net, classes, info


def save(j: Judge, folder: Path) -> None:
    """The CNN of ``j`` (safetensors + JSON)."""
    from safetensors.torch import save_file

    from rfm_studio.core.atomic import atomic_write_bytes

    folder.mkdir(parents=True, exist_ok=True)
    tensors = {f"net.{k}": v.contiguous() for k, v in j.net.state_dict().items()}
    tmp = folder / "judge.safetensors.tmp"
    save_file(tensors, str(tmp))
    os.replace(tmp, folder / "judge.safetensors")
    atomic_write_bytes(folder / "judge.json", json.dumps(
        {"class_names": j.classes, "channels": list(CHANNELS), "info": j.info}, indent=1).encode())


def load(folder: Path) -> Judge | None:
    from safetensors.torch import load_file

    if not (folder / "judge.json").is_file() or not (folder / "judge.safetensors").is_file():
        return None
    cfg = json.loads((folder / "judge.json").read_text(encoding="utf-8"))
    t = load_file(str(folder / "judge.safetensors"))
    net = _net(len(cfg["class_names"]), tuple(cfg["channels"]))
    net.load_state_dict({k[4:]: v for k, v in t.items() if k.startswith("net.")})
    net.eval()
    return Judge(net, None, cfg["class_names"], cfg["info"])


def get_judge(bank: Path, retrain: bool = False, log=print, steps: int = STEPS) -> Judge:
    """The cached judge for ``bank`` (each model trained and cached on first use; the CNN for
    ``steps`` batches)."""
    import torch

    torch.set_num_threads(1)
    rows = bank_rows(bank)
    folder = CACHE / _key(bank, rows, f"cnn v{VERSION}", steps)
    j = None if retrain else load(folder)
    if j is None:
        net, classes, info = train(bank, log=log, steps=steps)
        j = Judge(net, None, classes, info)
        save(j, folder)
    else:
        log(f"judge, CNN: cached weights {folder} ({j.info['clips']} train clips, {j.info['classes']} classes, "
            f"trained in {j.info['train_s']:.0f} s)")
    sfolder = CACHE / _key(bank, rows, f"stats v{judge_stats.VERSION}")
    stats = None if retrain else judge_stats.load(sfolder)
    if stats is None:
        stats = judge_stats.train(bank, log=log)
        judge_stats.save(stats, sfolder)
    else:
        log(f"judge, statistics MLP: cached weights {sfolder} (trained in {stats.info['train_s']:.0f} s)")
    return Judge(j.net, stats, j.classes, {"cnn": j.info, "stats": stats.info})


def accuracy(j: Judge, bank: Path, rows, k: int = 3) -> dict:
    """Top-1 / top-``k`` of the judge on ``rows`` of ``bank`` whose class it knows, on the fine
    classes and on GROUPS; ``unknown``: rows of a class it was not trained on."""
    n = h1 = hk = g1 = gk = unknown = 0
    for r in rows:
        if r["class"] not in j.index:
            unknown += 1
            continue
        order, p = j.ranks(load16(bank / r["path"]))
        gp = group_probs(p)
        gorder = sorted(gp, key=lambda c: -gp[c])
        n += 1
        h1 += order[0] == r["class"]
        hk += r["class"] in order[:k]
        g1 += gorder[0] == group(r["class"])
        gk += group(r["class"]) in gorder[:k]
    d = max(n, 1)
    return {"n": n, "top1": h1 / d, f"top{k}": hk / d, "group_top1": g1 / d, f"group_top{k}": gk / d,
            "unknown": unknown}


def describe(a: dict, k: int = 3) -> str:
    return (f"{a['n']} clips, top-1 {a['top1']:.0%}, top-{k} {a[f'top{k}']:.0%}; groups top-1 "
            f"{a['group_top1']:.0%}, top-{k} {a[f'group_top{k}']:.0%}"
            + (f" ({a['unknown']} clips of classes it was not trained on left out)" if a["unknown"] else ""))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bank", type=Path, default=Path("/work/data/bank2"))
    ap.add_argument("--outside-bank", type=Path, default=ROOT / "data" / "outside" / "bank")
    ap.add_argument("--retrain", action="store_true")
    ap.add_argument("--steps", type=int, default=STEPS, help=f"the CNN's training batches (default {STEPS})")
    args = ap.parse_args(argv)
    j = get_judge(args.bank, args.retrain, steps=args.steps)
    val = [r for r in bank_rows(args.bank) if r.get("split") == "val"]
    print(f"bank validation split: {describe(accuracy(j, args.bank, val))} (chance top-1 {1 / len(j.classes):.1%})")
    if (args.outside_bank / "bank.jsonl").is_file():
        a = accuracy(j, args.outside_bank, bank_rows(args.outside_bank))
        print(f"outside bank ({args.outside_bank}), recordings never trained on: {describe(a)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
