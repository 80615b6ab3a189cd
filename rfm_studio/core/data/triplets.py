"""On-the-fly instruction-editing triplets from the event bank (paper §3.1 recipe).

Each sample draws a background X (0-2 bank events, an optional looped ambience bed,
optional low-level coloured noise; never empty) and two events A, B of two
different classes that are also absent from X (and from X's families, e.g. no
"seagulls" background under a "birds chirping" edit). One of the six triplet types

    <X, X+A, add A>  <X, X+B, add B>  <X+A, X, remove A>  <X+B, X, remove B>
    <X+A, X+B, replace A with B>  <X+B, X+A, replace B with A>

is picked uniformly. Levels follow ``mixing.py`` (SNR of each event against X over
its own span ~ U(-5, +10) dB, common random gain, no clipping). All clips of the
split are loaded once, a sample costs a few milliseconds.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..atomic import atomic_write_text
from ..errors import OptionError
from . import mixing as M
from .bank import load_manifest
from .augment import channel_eq, vary_event, vary_prompt
from .vocab import FAMILIES as _V2_FAMILIES
from .captions import NOISE_CAPTIONS, caption_for, compose_caption, make_instruction

TRIPLET_TYPES = M.SIX_TYPES
BED_CLASSES = ("rain", "wind", "water_stream", "ocean_waves", "crickets_insects", "fire_crackle", "car_passing",
               "crowd_cheer")
# classes that a listener could confuse; X, A and B never share a family
FAMILIES = {
    "bird_chirp": "bird", "seagull": "bird", "crow_caw": "bird", "owl_hoot": "bird",
    "car_passing": "road", "bus_truck_engine": "road", "car_horn": "road",
    "rain": "water", "water_stream": "water", "ocean_waves": "water", "toilet_flush": "water",
    "crowd_cheer": "crowd", "applause": "crowd", "laughter": "crowd",
    "train": "rail", "train_horn_or_crossing": "rail",
    "explosion": "blast", "fireworks": "blast", "gunshot": "blast", "thunder": "blast",
    "aircraft_jet_or_prop": "air", "helicopter": "air",
    "chainsaw_saw": "tool", "jackhammer": "tool",
    "horse_gallop": "horse", "horse_neigh": "horse",
    "chicken_cluck": "fowl", "rooster_crow": "fowl", "duck_quack": "fowl", "goose_honk": "fowl",
    "scream": "voice", "speech": "voice", "baby_cry": "voice", "cough": "voice", "sneeze": "voice",
    "violin_cello": "music", "trumpet_brass": "music", "flute_woodwind": "music", "organ": "music",
    "piano": "music", "guitar": "music", "drums": "music", "bell_gong": "music",
}

for _k, _v in _V2_FAMILIES.items():  # classes of event bank v2
    FAMILIES.setdefault(_k, _v)


def family(cls: str) -> str:
    return FAMILIES.get(cls, cls)


@dataclass(frozen=True)
class Triplet:
    input: np.ndarray       # float32, 16 kHz mono, length n
    target: np.ndarray      # float32, same length
    instruction: str
    task: str               # "add" | "remove" | "replace"
    templated: bool         # True: canonical template; False: paraphrase
    edit_mask: np.ndarray   # bool [n // 160 + 1]: frames where the edited event(s) sound
    target_caption: str
    meta: dict              # classes, files, onsets, snr, etc.
    prompt: np.ndarray | None = None  # an example (remove) or reference (add, replace) sound, 16 kHz
    prompt_kind: str = ""   # "example" | "reference" when ``prompt`` is given


class TripletGenerator:
    def __init__(self, bank_dir, *, split="train", seconds=5.12, sample_rate=16000, seed=0, paraphrase_prob=0.5,
                 snr_db=(-5.0, 10.0), level_db=(-30.0, -16.0), n_background_events=(0.3, 0.45, 0.25),
                 bed_prob=0.5, noise_prob=0.6, event_augment=0.0, channel_augment=0.0, prompt_prob=0.0):
        if sample_rate != 16000:
            raise OptionError("The event bank is stored at 16 kHz; use sample_rate=16000.")
        self.bank_dir = Path(bank_dir)
        self.split, self.sr, self.seed = split, sample_rate, seed
        self.n = int(round(seconds * sample_rate))
        self.paraphrase_prob, self.snr_db, self.level_db = paraphrase_prob, snr_db, level_db
        self.n_bg_p = np.asarray(n_background_events, float) / np.sum(n_background_events)
        self.bed_prob, self.noise_prob = bed_prob, noise_prob
        # training only: vary each event (speed, EQ, room) and the clip's recording chain (augment.py)
        self.event_augment, self.channel_augment = float(event_augment), float(channel_augment)
        # training with audio prompts: the chance that a triplet carries an example or reference
        self.prompt_prob = float(prompt_prob)
        import soundfile as sf

        self.clips: dict[str, list[tuple[str, np.ndarray]]] = {}
        for c in load_manifest(self.bank_dir):
            if c.split != split:
                continue
            x, sr = sf.read(str(self.bank_dir / c.path), dtype="float32")
            if sr != sample_rate or x.ndim != 1:
                raise OptionError(f"Bank clip {c.path} is not 16 kHz mono; rebuild the bank.")
            self.clips.setdefault(c.cls, []).append((c.path, x))
        self.classes = sorted(self.clips)
        if len({family(c) for c in self.classes}) < 3:
            raise OptionError(f"The '{split}' split of {self.bank_dir} has too few classes to build triplets.")
        self.beds = [c for c in BED_CLASSES if c in self.clips]
        rng = np.random.default_rng(seed + 99991)
        bed_len = max(self.n, 12 * sample_rate)
        self.noise = {k: [M.coloured_noise(k, bed_len, rng, sample_rate) for _ in range(3)] for k in M.NOISE_COLOURS}

    # ------------------------------------------------------------------ sampling
    def _pick(self, cls: str, rng) -> tuple[str, np.ndarray]:
        items = self.clips[cls]
        return items[int(rng.integers(len(items)))]

    def _classes(self, rng, k: int, exclude_families: set) -> list[str]:
        out = []
        for c in rng.permutation(self.classes):
            if len(out) == k:
                break
            if family(c) not in exclude_families:
                out.append(str(c))
                exclude_families = exclude_families | {family(c)}
        return out

    def _event(self, cls, rng, max_frac=0.8):
        path, x = self._pick(cls, rng)
        x = M.crop_event(x, int(max_frac * self.n), rng)
        if self.event_augment > 0:
            x = M.crop_event(vary_event(x, rng, self.event_augment, self.sr), int(max_frac * self.n), rng)
        onset = int(rng.integers(0, max(1, self.n - len(x) + 1)))
        return path, onset, M.place(x, self.n, onset)

    def render_event(self, cls: str, rng) -> np.ndarray:
        """A recording of ``cls`` (varied as the triplets' events are) at a random onset in a
        clip of this generator's length."""
        return self._event(cls, rng)[2]

    def _background(self, rng, exclude: set, paraphrase: bool):
        n = self.n
        x = np.zeros(n, np.float32)
        parts, meta = [], {"events": [], "bed": None, "noise": None}
        k = int(rng.choice(len(self.n_bg_p), p=self.n_bg_p))
        fams = set(exclude)
        for cls in self._classes(rng, k, fams):
            fams.add(family(cls))
            path, onset, ev = self._event(cls, rng, max_frac=1.0)
            g_db = float(rng.uniform(-10, 0))
            ev *= 10 ** ((-20 + g_db - M.active_level_db(ev)) / 20)
            x += ev
            cap = caption_for(cls, rng if paraphrase else None)
            parts.append(cap)
            meta["events"].append({"class": cls, "file": path, "onset_s": round(onset / self.sr, 3),
                                   "level_dbfs": round(-20 + g_db, 1), "caption": cap})
        beds = [b for b in self.beds if family(b) not in fams]
        if beds and k < 2 and rng.random() < self.bed_prob:  # X names at most 2 events
            cls = str(rng.choice(beds))
            path, clip = self._pick(cls, rng)
            bed = M.loop_to(clip, n, rng)
            lvl = float(rng.uniform(-36, -24))
            x += bed * 10 ** ((lvl - M.active_level_db(bed)) / 20)
            cap = caption_for(cls, rng if paraphrase else None)
            parts.append(cap)
            meta["bed"] = {"class": cls, "file": path, "level_dbfs": round(lvl, 1), "caption": cap}
        if not parts or rng.random() < self.noise_prob:
            kind = str(rng.choice(M.NOISE_COLOURS))
            noise = self.noise[kind][int(rng.integers(3))]
            s = int(rng.integers(0, len(noise) - n + 1))
            lvl = float(rng.uniform(-55, -38))
            x += noise[s: s + n] * 10 ** (lvl / 20)
            meta["noise"] = {"kind": kind, "rms_dbfs": round(lvl, 1)}
            if not parts:  # only name the noise when it is all there is
                caps = NOISE_CAPTIONS[kind]
                parts.append(caps[int(rng.integers(len(caps)))] if paraphrase else caps[0])
        return x, parts, meta, fams

    def sample(self, rng: np.random.Generator, task: str | None = None, templated: bool | None = None) -> Triplet:
        if task is None:
            task, which = TRIPLET_TYPES[int(rng.integers(len(TRIPLET_TYPES)))]
        else:
            opts = [t for t in TRIPLET_TYPES if t[0] == task]
            if not opts:
                raise OptionError(f"Unknown task '{task}': use add, remove or replace.")
            which = opts[int(rng.integers(len(opts)))][1]
        if templated is None:
            templated = bool(rng.random() >= self.paraphrase_prob)
        paraphrase = not templated
        cls_a, cls_b = self._classes(rng, 2, set())
        x, x_parts, meta_x, _ = self._background(rng, {family(cls_a), family(cls_b)}, paraphrase)

        ev, info = {}, {}
        for key, cls in (("A", cls_a), ("B", cls_b)):
            path, onset, e = self._event(cls, rng)
            snr = float(rng.uniform(*self.snr_db))
            g, lvl = M.event_gain(e, x, snr)
            ev[key] = e * g
            cap = caption_for(cls, rng if paraphrase else None)
            info[key] = {"class": cls, "file": path, "onset_s": round(onset / self.sr, 3),
                         "duration_s": round(float(np.count_nonzero(M.activity(e))) * M.HOP / self.sr, 2),
                         "snr_db": round(snr, 1), "level_dbfs": round(lvl, 1), "caption": cap}
        first, second = which[0], which[-1]
        _, _, inp, tgt = M.six_triplets(x, ev["A"], ev["B"])[TRIPLET_TYPES.index((task, which))]
        if task == "replace":
            mask = M.activity(ev[first]) | M.activity(ev[second])
            instr = make_instruction("replace", info[first]["caption"], info[second]["caption"], rng, paraphrase)
            tcap = compose_caption(x_parts + [info[second]["caption"]])
        else:
            mask = M.activity(ev[first])
            instr = make_instruction(task, info[first]["caption"], None, rng, paraphrase)
            tcap = compose_caption(x_parts + ([info[first]["caption"]] if task == "add" else []))
        inp, tgt = channel_eq(inp, tgt, rng, self.channel_augment, self.sr)
        # common gain: the louder of input/target gets an active level of U(level_db)
        loud = max(M.active_level_db(inp), M.active_level_db(tgt))
        g = 10 ** ((float(rng.uniform(*self.level_db)) - loud) / 20)
        peak = max(float(np.abs(inp).max()), float(np.abs(tgt).max())) * g
        if peak > M.PEAK_MAX:
            g *= M.PEAK_MAX / peak
        inp = (inp * g).astype(np.float32)
        tgt = (tgt * g).astype(np.float32)
        meta = {"type": f"{task}_{which}", "A": info["A"], "B": info["B"], "background": meta_x,
                "input_caption": compose_caption(x_parts + ([info[first]["caption"]] if task != "add" else [])),
                "x_caption": compose_caption(x_parts), "gain_db": round(20 * np.log10(g), 2),
                "classes": {"x": [e["class"] for e in meta_x["events"]] + ([meta_x["bed"]["class"]] if meta_x["bed"] else []),
                            "a": cls_a, "b": cls_b}}
        prompt, kind = None, ""
        if self.prompt_prob > 0 and rng.random() < self.prompt_prob:
            prompt, kind = self._prompt(task, first, second, ev, info, inp, rng)
            meta["prompt"] = kind
        return Triplet(inp, tgt, instr, task, templated, mask, tcap, meta, prompt, kind)

    def _prompt(self, task, first, second, ev, info, inp, rng):
        """An audio prompt for a triplet. Remove: an example cut from the removed event, a random
        stretch of 0.3-3 s within where it sounds, from the input clip (as a user marks it) or,
        one time in four, from the event alone. Add and replace: a reference for the added event,
        another recording of its class when the split has one, else a copy of the event. Both
        varied (vary_prompt): the prompt is like the target sound, never the same samples."""
        if task == "remove":
            act = np.flatnonzero(M.activity(ev[first]))
            a, b = int(act[0]) * M.HOP, min(len(inp), (int(act[-1]) + 1) * M.HOP)
            src = inp if rng.random() < 0.75 else ev[first]
            n = min(b - a, int(rng.uniform(0.3, 3.0) * self.sr))
            s0 = a + int(rng.integers(0, max(1, b - a - n + 1)))
            x, kind = src[s0: s0 + max(n, int(0.1 * self.sr))], "example"
        else:
            cls, used = info[second]["class"], info[second]["file"]
            others = [c for c in self.clips[cls] if c[0] != used]
            x = others[int(rng.integers(len(others)))][1] if others else \
                dict(self.clips[cls]).get(used, ev[second])
            x = M.crop_event(x, int(rng.uniform(0.5, 4.0) * self.sr), rng)
            kind = "reference"
        if len(x) < int(0.1 * self.sr):
            x = np.pad(x, (0, int(0.1 * self.sr) - len(x)))
        return vary_prompt(x, rng, self.sr), kind

    def __iter__(self):
        seed = self.seed
        if "torch" in sys.modules:  # give each DataLoader worker its own stream
            info = sys.modules["torch"].utils.data.get_worker_info()
            if info is not None:
                seed = seed * 1000003 + info.id
        rng = np.random.default_rng(seed)
        while True:
            yield self.sample(rng)


def make_fixed_set(bank_dir, out_dir, *, split="val", n_per_task=30, seconds=10.24, seed=1234) -> Path:
    """A fixed evaluation set from one split: n_per_task triplets per task, half canonical
    instructions and half paraphrases. Returns the path of ``manifest.jsonl``."""
    from ..audio.io import save_audio

    gen = TripletGenerator(bank_dir, split=split, seconds=seconds, seed=seed)
    out = Path(out_dir)
    (out / "audio").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = []
    for task in ("add", "remove", "replace"):
        for i in range(n_per_task):
            t = gen.sample(rng, task=task, templated=(i % 2 == 0))
            tid = f"{split}_{task}_{i:03d}"
            save_audio(out / "audio" / f"{tid}_input.wav", t.input, gen.sr)
            save_audio(out / "audio" / f"{tid}_target.wav", t.target, gen.sr)
            sp = M.spans(t.edit_mask)
            rows.append({"id": tid, "input": f"audio/{tid}_input.wav", "target": f"audio/{tid}_target.wav",
                         "instruction": t.instruction, "task": task, "templated": t.templated,
                         "target_caption": t.target_caption, "input_caption": t.meta["input_caption"],
                         "edit_start_s": sp[0][0] if sp else None, "edit_end_s": sp[-1][1] if sp else None,
                         "edit_spans": sp, "classes": t.meta["classes"], "meta": t.meta,
                         "split": split, "seed": seed, "seconds": seconds})
    manifest = out / "manifest.jsonl"
    atomic_write_text(manifest, "".join(json.dumps(r) + "\n" for r in rows))
    return manifest
