"""Where training triplets come from: a JSONL manifest of files, or the event bank's
on-the-fly generator. Both hand out batches of equal-length 16 kHz mono crops."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..audio.io import load_audio
from ..errors import OptionError


def read_manifest(path, required=("input", "target", "instruction")) -> list[dict]:
    """JSONL lines with the ``required`` fields (paths relative to the manifest's folder)."""
    p = Path(path)
    if not p.exists():
        raise OptionError(f"Manifest not found: {p}")
    check_regular_file(p, "The manifest")
    rows = []
    for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise OptionError(f"Line {i} of {p.name} is not valid JSON.") from None
        if not isinstance(row, dict):
            raise OptionError(f"Line {i} of {p.name} is not a JSON object ({{\"key\": value, ...}}).")
        for key in required:
            if key not in row:
                raise OptionError(f"Line {i} of {p.name} has no '{key}' field.")
        rows.append(row)
    if not rows:
        raise OptionError(f"Manifest {p.name} has no {'triplets' if 'target' in required else 'lines'}.")
    return rows


def manifest_audio(base: Path, rel: str, where: str) -> tuple[Path, int, int]:
    """A manifest row's audio file, checked before anything loads: inside the manifest's
    folder, present, readable as audio (header only) and not empty. (path, frames, rate)."""
    from ..audio.io import audio_info
    from ..errors import AudioReadError

    q = resolve_inside(base, rel)
    if not q.is_file():
        raise AudioReadError(f"{where}: audio file not found: {q}")
    try:
        frames, sr, _ = audio_info(q)
    except AudioReadError as exc:
        raise AudioReadError(f"{where}: {exc}") from None
    if frames == 0:
        raise AudioReadError(f"{where}: {q.name} contains no audio samples.")
    return q, frames, sr


def check_regular_file(p: Path, what: str) -> None:
    """OptionError unless ``p`` is a regular file (a fifo or device could block its reader forever,
    past Ctrl-C and SIGTERM; a folder is not a manifest)."""
    import os
    import stat

    try:
        st = os.stat(p)
    except OSError:
        return  # the reader says what is wrong
    if not stat.S_ISREG(st.st_mode):
        raise OptionError(f"{what} {p} is not a regular file.")


def resolve_inside(base: Path, rel: str) -> Path:
    """A manifest path, which must stay inside the manifest's folder."""
    try:
        q = (base / rel).resolve()
    except (RuntimeError, OSError, ValueError):  # a link loop (RuntimeError before Python 3.13), a NUL byte
        raise OptionError(f"Manifest path '{rel}' cannot be resolved (a symbolic link loop or an invalid name).") from None
    if base.resolve() not in q.parents and q != base.resolve():
        raise OptionError(f"Manifest path '{rel}' points outside the manifest's folder.")
    return q


class ManifestSource:
    """Triplets from a JSONL manifest, or from ``rows`` whose paths are relative to ``base``.

    A training source (this or BankSource) gives ``batch``es and validation ``clips``, says its
    ``size`` (None: new triplets every step) and whether its batches can carry each edit's frames
    (``gives_spans``) and audio prompts (``gives_prompts``)."""

    gives_spans = False
    gives_prompts = False

    def __init__(self, manifest, crop_samples: int, sample_rate: int = 16000, rows=None, base=None):
        self.path = Path(manifest) if manifest is not None else None
        self.base = Path(base) if base is not None else self.path.parent
        self.rows = list(rows) if rows is not None else read_manifest(self.path)
        self.crop = crop_samples
        self.sr = sample_rate
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}

    def _pair(self, i):
        if i not in self._cache:
            base = self.base
            a, _ = load_audio(resolve_inside(base, self.rows[i]["input"]), mono=True, target_sr=self.sr)
            b, _ = load_audio(resolve_inside(base, self.rows[i]["target"]), mono=True, target_sr=self.sr)
            n = max(len(a), len(b), self.crop)
            self._cache[i] = (np.pad(a, (0, n - len(a))), np.pad(b, (0, n - len(b))))
        return self._cache[i]

    def __len__(self):
        return len(self.rows)

    @property
    def size(self) -> int:
        return len(self.rows)

    def batch(self, n: int, rng: np.random.Generator, augment: bool = False, spans: bool = False,
              prompts: bool = False):
        """inputs, targets, instructions of ``n`` random crops (``augment``: a random gain each)."""
        if spans or prompts:
            raise ValueError("a manifest's triplets carry no edit spans or audio prompts")
        ins, tgs, texts = [], [], []
        for _ in range(n):
            i = int(rng.integers(len(self.rows)))
            a, b = self._pair(i)
            s = int(rng.integers(0, len(a) - self.crop + 1))
            x, y = a[s : s + self.crop], b[s : s + self.crop]
            if augment:
                g = float(10 ** (rng.uniform(-6, 6) / 20))
                peak = max(np.abs(x).max(), np.abs(y).max(), 1e-6)
                g = min(g, 0.99 / peak)
                x, y = x * g, y * g
            ins.append(x)
            tgs.append(y)
            texts.append(self.rows[i]["instruction"])
        return np.stack(ins), np.stack(tgs), texts

    def clips(self, n: int, rng: np.random.Generator) -> list:
        """``n`` validation clips (input, target, instruction, target caption or None): rows in a
        random order, each from its start."""
        out = []
        for i in rng.permutation(len(self))[:n]:
            a, b = self._pair(int(i))
            row = self.rows[int(i)]
            cap = row.get("target_caption")
            out.append((a[: self.crop], b[: self.crop], row["instruction"],
                        cap if isinstance(cap, str) and cap.strip() else None))
        return out


class BankSource:
    """On-the-fly triplets from the event bank (never the same triplet twice)."""

    gives_spans = True
    gives_prompts = True
    size = None  # new triplets every step: no fixed size

    def __init__(self, bank_dir, crop_samples: int, sample_rate: int = 16000, split: str = "train", seed: int = 0,
                 event_augment: float = 0.0, channel_augment: float = 0.0, prompt_prob: float = 0.0):
        from ..data.triplets import TripletGenerator

        self.gen = TripletGenerator(bank_dir, split=split, seconds=crop_samples / sample_rate,
                                    sample_rate=sample_rate, seed=seed, event_augment=event_augment,
                                    channel_augment=channel_augment, prompt_prob=prompt_prob)
        self.crop = crop_samples

    def batch(self, n: int, rng: np.random.Generator, augment: bool = False, spans: bool = False,
              prompts: bool = False):
        """inputs, targets, instructions (and, with ``spans``, each edit's [first, last) frame
        at 100 frames/s: where the edited events sound; with ``prompts``, then each triplet's
        (audio, kind) prompt or None)."""
        ins, tgs, texts, sp, pr = [], [], [], [], []
        for _ in range(n):
            tr = self.gen.sample(rng)
            ins.append(_fit(tr.input, self.crop))
            tgs.append(_fit(tr.target, self.crop))
            texts.append(tr.instruction)
            on = np.flatnonzero(tr.edit_mask)
            sp.append((int(on[0]), int(on[-1]) + 1) if len(on) else (0, len(tr.edit_mask)))
            pr.append((tr.prompt, tr.prompt_kind) if tr.prompt is not None else None)
        out = (np.stack(ins), np.stack(tgs), texts) + ((sp,) if spans else ()) + ((pr,) if prompts else ())
        return out

    def clips(self, n: int, rng: np.random.Generator) -> list:
        """``n`` validation clips (input, target, instruction, target caption or None)."""
        out = []
        for _ in range(n):
            tr = self.gen.sample(rng)
            out.append((_fit(tr.input, self.crop), _fit(tr.target, self.crop), tr.instruction,
                        getattr(tr, "target_caption", None) or None))
        return out


def region_masks(spans, frames: int, rng: np.random.Generator, prob: float, max_pad: int = 50) -> np.ndarray:
    """[B, frames] training regions: with probability ``prob`` the edit's span widened by
    0..max_pad frames on each side (as a user would select it), otherwise the whole clip."""
    out = np.ones((len(spans), frames), np.float32)
    for i, (a, b) in enumerate(spans):
        if rng.random() < prob:
            a = max(0, a - int(rng.integers(0, max_pad + 1)))
            b = min(frames, b + int(rng.integers(0, max_pad + 1)))
            out[i] = 0.0
            out[i, a:b] = 1.0
    return out


def _fit(x: np.ndarray, n: int) -> np.ndarray:
    return x[:n] if len(x) >= n else np.pad(x, (0, n - len(x)))


def make_source(spec: str, crop_samples: int, split: str = "train", seed: int = 0, **augment):
    """'bank:DIR' or a manifest path; ``augment`` (event_augment, channel_augment) applies to banks."""
    if spec.startswith("bank:"):
        return BankSource(spec[5:], crop_samples, split=split, seed=seed, **augment)
    return ManifestSource(spec, crop_samples)
