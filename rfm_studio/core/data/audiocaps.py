"""The paper's triplet builder for users who have AudioCaps (§3.1).

1. Count the sound events of each clip's caption (offline counter, or an
   OpenAI-compatible LLM with ``llm_url``); drop clips with more than 3 events;
   single-event clips form the pool of events A and B.
2. Split the clips (train/val/test, seeded hash of the clip id, 80/10/10); A and B
   are drawn only from singles of the same split, so no audio crosses splits.
3. Mix each clip X with two random singles A, B (other clips, different captions)
   following ``mixing.py`` (SNR of each event against X over its span ~ U(-5, +10) dB,
   event level clamped to [-32, -10] dBFS, X / X+A / X+B scaled together so that no
   peak exceeds 0.95) and write the six triplets.
4. Optional CLAP filter: a callable ``(audio_16k, caption) -> float``; a triplet is kept
   when both its input and target score >= 0.35 against their captions. Without one
   the manifests record ``"clap_filter": "skipped"``.
5. Each split is balanced across task types (truncated to the smallest task count).

Outputs ``<out>/audio/<split>/<clip>/{x,xa,xb}.wav``, ``<out>/{train,val,test}.jsonl``
(input, target, instruction, task, target_caption, captions, ... ; paths relative to
``out``) and ``<out>/meta.json``. Re-running skips clips whose audio already exists.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..atomic import atomic_write_text
from ..errors import OptionError
from . import mixing as M
from .captions import compose_caption, make_instruction
from .events import count_events, count_events_llm, event_phrases

SR = 16000
SPLITS = (("train", 0.8), ("val", 0.1), ("test", 0.1))
MAX_EVENTS = 3
CLAP_THRESHOLD = 0.35
AUDIO_EXTS = (".wav", ".flac", ".ogg", ".mp3")


@dataclass
class Clip:
    id: str
    path: Path
    captions: list
    n_events: int = 0
    split: str = "train"


# ------------------------------------------------------------------ inputs
def read_audiocaps_csv(csv_path, audio_dir) -> tuple[list[Clip], int]:
    """Clips of an AudioCaps CSV (audiocap_id, youtube_id, start_time, caption) whose
    audio is found in ``audio_dir``; returns (clips, number of rows without audio)."""
    p, adir = Path(csv_path), Path(audio_dir)
    if not p.is_file():
        raise OptionError(f"Caption CSV not found: {p}")
    if not adir.is_dir():
        raise OptionError(f"Audio folder not found: {adir}")
    try:
        with p.open(newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except UnicodeDecodeError:
        raise OptionError(f"{p.name} is not a UTF-8 text file; save the CSV as UTF-8.") from None
    except csv.Error as exc:
        raise OptionError(f"{p.name} is not a readable CSV ({exc}).") from None
    if not rows or "caption" not in rows[0] or not ({"youtube_id", "audiocap_id"} & set(rows[0])):
        raise OptionError(f"{p.name} needs a 'caption' column and a 'youtube_id' or 'audiocap_id' column.")
    index = {}
    for f in adir.rglob("*"):
        if f.suffix.lower() in AUDIO_EXTS:
            index.setdefault(f.stem, f)
    clips: dict[str, Clip] = {}
    missing = 0
    for r in rows:
        yid, aid, start = r.get("youtube_id", ""), r.get("audiocap_id", ""), r.get("start_time", "")
        keys = [yid, f"Y{yid}", f"{yid}_{start}", f"Y{yid}_{start}", aid]
        try:
            st = float(start)
            keys += [f"{yid}_{int(st)}", f"Y{yid}_{st:.3f}_{st + 10:.3f}", f"{yid}_{st:.3f}_{st + 10:.3f}"]
        except ValueError:
            pass
        path = next((index[k] for k in keys if k and k in index), None)
        if path is None:
            missing += 1
            continue
        cid = yid or aid
        clips.setdefault(cid, Clip(cid, path, []))
        clips[cid].captions.append(r["caption"].strip())
    return sorted(clips.values(), key=lambda c: c.id), missing


def _h(*parts) -> int:
    return int(hashlib.sha1(":".join(map(str, parts)).encode()).hexdigest()[:15], 16)


def assign_split(clip_id: str, seed: int) -> str:
    u = _h("split", seed, clip_id) / float(16 ** 15)
    acc = 0.0
    for name, frac in SPLITS:
        acc += frac
        if u < acc:
            return name
    return SPLITS[-1][0]


def _clean(caption: str) -> str:
    c = caption.strip().rstrip(".").strip()
    return c[:1].lower() + c[1:] if c else c


def _sources(caption: str) -> set:
    from .events import SOURCES
    return {w for ph in event_phrases(caption) for w in ph.split() if w in SOURCES}


# ------------------------------------------------------------------ counting
def count_all(clips: list[Clip], out: Path, *, llm_url=None, llm_model="deepseek-chat", log=print) -> None:
    """Set ``n_events`` (first caption) for every clip; LLM answers are cached in
    ``out/event_counts.jsonl`` so a resumed run does not ask again."""
    cache_path = out / "event_counts.jsonl"
    cache = {}
    if cache_path.exists():
        for line in cache_path.read_text(encoding="utf-8").splitlines():
            d = json.loads(line)
            cache[(d["caption"], d["method"])] = d["n_events"]
    method = f"llm:{llm_model}" if llm_url else "offline"
    api_key = os.environ.get("OPENAI_API_KEY") if llm_url else None
    new = []
    failures = 0
    for c in clips:
        cap = c.captions[0]
        if (cap, method) in cache:
            c.n_events = cache[(cap, method)]
            continue
        n = None
        if llm_url:
            try:
                n = count_events_llm(cap, llm_url, model=llm_model, api_key=api_key)
            except Exception:  # network or answer problems: fall back, keep going
                failures += 1
        if n is None:
            n = count_events(cap)
        c.n_events = n
        cache[(cap, method)] = n
        new.append({"caption": cap, "method": method, "n_events": n})
    if new:
        with cache_path.open("a", encoding="utf-8") as f:
            f.writelines(json.dumps(d) + "\n" for d in new)
    if failures:
        log(f"LLM counting failed for {failures} captions; the offline counter was used for them.")


# ------------------------------------------------------------------ mixing
def _load(path: Path) -> np.ndarray:
    from ..audio.io import load_audio
    x, _ = load_audio(path, mono=True, target_sr=SR)
    return x


def mix_group(x: np.ndarray, a: np.ndarray, b: np.ndarray, rng: np.random.Generator, snr_db=(-5.0, 10.0)):
    """(x, xa, xb, info) with A and B placed at random onsets and SNRs; all three share one gain."""
    n = len(x)
    placed, info = {}, {}
    for key, e in (("A", a), ("B", b)):
        e = M.crop_event(e, n, rng)
        onset = int(rng.integers(0, max(1, n - len(e) + 1)))
        ep = M.place(e, n, onset)
        snr = float(rng.uniform(*snr_db))
        g, lvl = M.event_gain(ep, x, snr)
        placed[key] = ep * g
        info[key] = {"onset_s": round(onset / SR, 3), "snr_db": round(snr, 1), "level_dbfs": round(lvl, 1)}
    xa, xb = x + placed["A"], x + placed["B"]
    peak = max(float(np.abs(v).max()) for v in (x, xa, xb))
    g = min(1.0, M.PEAK_MAX / peak) if peak > 0 else 1.0
    info["gain_db"] = round(20 * np.log10(g), 2)
    masks = {k: M.activity(v) for k, v in placed.items()}
    return (x * g).astype(np.float32), (xa * g).astype(np.float32), (xb * g).astype(np.float32), info, masks


def _reusable_mix(gdir: Path, files: dict, drawn: dict) -> dict | None:
    """A group's earlier mix, if it was made from the same clip, events A and B and seed (a
    build with another --limit or CSV draws other events for the same clip)."""
    if not (all(f.exists() for f in files.values()) and (gdir / "mix.json").exists()):
        return None
    try:
        info = json.loads((gdir / "mix.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) and info.get("drawn") == drawn else None


def build_audiocaps(csv_path, audio_dir, out_dir, *, seed: int = 0, llm_url: str | None = None,
                    llm_model: str = "deepseek-chat", clap: Callable | None = None, paraphrase_prob: float = 0.0,
                    limit: int | None = None, log=print) -> dict:
    """Build the six-triplet dataset; returns {split: manifest path}."""
    from tqdm import tqdm

    from ..audio.io import save_audio

    out = Path(out_dir)
    clips, missing = read_audiocaps_csv(csv_path, audio_dir)
    if not clips:
        raise OptionError(f"No audio of {Path(csv_path).name} was found in {audio_dir}.")
    out.mkdir(parents=True, exist_ok=True)  # only once the input is known to be usable
    if limit:
        clips = clips[:limit]
    count_all(clips, out, llm_url=llm_url, llm_model=llm_model, log=log)
    kept = [c for c in clips if 1 <= c.n_events <= MAX_EVENTS]
    for c in kept:
        c.split = assign_split(c.id, seed)
    singles = {s: [c for c in kept if c.split == s and c.n_events == 1] for s, _ in SPLITS}
    rows: dict[str, list] = {s: [] for s, _ in SPLITS}
    skipped_no_pool = 0
    for c in tqdm(kept, desc="mixing triplets", unit="clip"):
        rng = np.random.default_rng([seed, _h("clip", c.id) % (2 ** 32)])
        pool = [s for s in singles[c.split] if s.id != c.id and not (_sources(s.captions[0]) & _sources(c.captions[0]))]
        a = _draw(pool, rng, set())
        b = _draw(pool, rng, {a.id} | (_sources(a.captions[0]) if a else set())) if a else None
        if a is None or b is None:
            skipped_no_pool += 1
            continue
        gdir = out / "audio" / c.split / c.id
        files = {k: gdir / f"{k}.wav" for k in ("x", "xa", "xb")}
        mix_rng = np.random.default_rng([seed, _h("mix", c.id) % (2 ** 32)])
        drawn = {"seed": seed, "clip": c.id, "a": a.id, "b": b.id}
        info = _reusable_mix(gdir, files, drawn)
        if info is not None:  # a resumed build: the same clips were mixed before
            audio = None
        else:
            x, xa, xb, info, masks = mix_group(_load(c.path), _load(a.path), _load(b.path), mix_rng)
            info["edit_spans"] = {k: M.spans(m) for k, m in masks.items()}
            info["drawn"] = drawn
            gdir.mkdir(parents=True, exist_ok=True)
            for k, v in zip(("x", "xa", "xb"), (x, xa, xb)):
                save_audio(files[k], v, SR)
            atomic_write_text(gdir / "mix.json", json.dumps(info))  # last: marks the group done
            audio = {"x": x, "xa": xa, "xb": xb}
        rows[c.split] += _six_rows(c, a, b, info, files, out, rng, paraphrase_prob, clap, audio)
    balanced = {s: _balance(r) for s, r in rows.items()}
    paths = {}
    for s, r in balanced.items():
        paths[s] = out / f"{s}.jsonl"
        atomic_write_text(paths[s], "".join(json.dumps(x, ensure_ascii=False) + "\n" for x in r))
    meta = {"seed": seed, "clips_in_csv_with_audio": len(clips), "rows_without_audio": missing,
            "dropped_more_than_3_events": sum(c.n_events > MAX_EVENTS for c in clips),
            "single_event_clips": sum(len(v) for v in singles.values()),
            "skipped_no_single_pool": skipped_no_pool,
            "event_counter": f"llm:{llm_model}" if llm_url else "offline",
            "clap_filter": "applied" if clap else "skipped", "clap_threshold": CLAP_THRESHOLD if clap else None,
            "mixing_rule": M.__doc__.strip(), "splits": {s: len(r) for s, r in balanced.items()},
            "per_task": {s: {t: sum(x["task"] == t for x in r) for t in ("add", "remove", "replace")}
                         for s, r in balanced.items()}}
    atomic_write_text(out / "meta.json", json.dumps(meta, indent=2))
    log(f"audiocaps: {meta['splits']} triplets written to {out}")
    return paths


def _draw(pool, rng, exclude_ids_and_sources: set):
    cands = [s for s in pool if s.id not in exclude_ids_and_sources
             and not (_sources(s.captions[0]) & exclude_ids_and_sources)]
    return cands[int(rng.integers(len(cands)))] if cands else None


def _six_rows(c, a, b, info, files, out, rng, paraphrase_prob, clap, audio):
    cap = {"x": _clean(c.captions[0]), "A": _clean(a.captions[0]), "B": _clean(b.captions[0])}
    sig = {"x": "x", "A": "xa", "B": "xb"}
    rows = []
    for task, which in M.SIX_TYPES:
        first, second = which[0], which[-1]
        para = bool(rng.random() < paraphrase_prob)
        if task == "add":
            inp, tgt, icap, tcap = "x", sig[first], cap["x"], compose_caption([cap["x"], cap[first]])
            instr = make_instruction("add", cap[first], None, rng, para)
            spans = info["edit_spans"][first] if "edit_spans" in info else []
        elif task == "remove":
            inp, tgt, icap, tcap = sig[first], "x", compose_caption([cap["x"], cap[first]]), cap["x"]
            instr = make_instruction("remove", cap[first], None, rng, para)
            spans = info["edit_spans"][first] if "edit_spans" in info else []
        else:
            inp, tgt = sig[first], sig[second]
            icap, tcap = compose_caption([cap["x"], cap[first]]), compose_caption([cap["x"], cap[second]])
            instr = make_instruction("replace", cap[first], cap[second], rng, para)
            spans = sorted((info.get("edit_spans") or {}).get("A", []) + (info.get("edit_spans") or {}).get("B", []))
        row = {"id": f"{c.id}_{task}_{which}", "input": str(files[inp].relative_to(out)),
               "target": str(files[tgt].relative_to(out)), "instruction": instr, "task": task,
               "templated": not para, "target_caption": tcap, "input_caption": icap,
               "captions": {"x": c.captions, "a": a.captions, "b": b.captions},
               "sources": {"x": c.id, "a": a.id, "b": b.id}, "edit_spans": spans,
               "mix": {k: info[k] for k in ("A", "B", "gain_db")}, "split": c.split}
        if clap is None:
            row["clap_filter"] = "skipped"
        else:
            ok, scores = _clap_ok(clap, files, inp, tgt, icap, tcap, audio)
            row["clap"] = scores
            if not ok:
                continue
        rows.append(row)
    return rows


def _clap_ok(clap, files, inp, tgt, icap, tcap, audio):
    get = (lambda k: audio[k]) if audio else (lambda k: _load(files[k]))
    s_in, s_tg = float(clap(get(inp), icap)), float(clap(get(tgt), tcap))
    return s_in >= CLAP_THRESHOLD and s_tg >= CLAP_THRESHOLD, {"input": round(s_in, 4), "target": round(s_tg, 4)}


def _balance(rows: list) -> list:
    by = {t: [r for r in rows if r["task"] == t] for t in ("add", "remove", "replace")}
    n = min(len(v) for v in by.values())
    keep = {id(r) for v in by.values() for r in v[:n]}
    return [r for r in rows if id(r) in keep]


def load_clap_scorer(checkpoint) -> Callable:
    """A (audio_16k, caption) -> cosine similarity scorer from a local Hugging Face CLAP
    checkpoint folder (transformers ClapModel). Imports torch lazily."""
    p = Path(checkpoint)
    if not p.is_dir():
        raise OptionError(f"CLAP checkpoint folder not found: {p}")
    import torch
    from transformers import ClapModel, ClapProcessor

    from ..audio.io import resample

    model, proc = ClapModel.from_pretrained(str(p)).eval(), ClapProcessor.from_pretrained(str(p))
    sr = proc.feature_extractor.sampling_rate

    @torch.no_grad()
    def score(audio: np.ndarray, caption: str) -> float:
        inputs = proc(text=[caption], audios=[resample(audio, SR, sr)], sampling_rate=sr, return_tensors="pt",
                      padding=True)
        a = model.get_audio_features(input_features=inputs["input_features"])
        t = model.get_text_features(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
        return float(torch.nn.functional.cosine_similarity(a, t).item())

    return score
