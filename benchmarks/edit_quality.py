"""Edit quality of a model on fixed validation triplets whose source files were never
seen in training (the bank's val split): per task and per instruction style

  gain       = 1 - d(out, target) / d(in, target) on the frames of the edited event
               (its span, and every frame where target and input differ by > 0.5 nats)
  keep error = d(out, in) on the other frames
  success    = share of triplets with gain >= 0.25

(d: mean absolute difference of 64-bin log-mels; rfm_studio.core.evaluation.spectral),
with the identity (return the input: gain 0) and Griffin-Lim resynthesis of the target
(this vocoder's ceiling) measured in the same run, and, for "add", the target's own event
placed at a random time: an instruction does not say when to add, so this is what a
perfect but timing-blind edit scores. ``--region`` also runs each model with the event's
span as the edit region, as a user who selects it in the app would. ``--prompt example``
also runs each model with an audio prompt (``example_prompt``): for remove, an example cut
from the input clip over the event's longest span (as a user marks one occurrence); for add,
the added event itself (target minus input over its span); for replace, the target clip over
the new event's span; these are references, so add and replace rows show what a perfectly
matching reference buys.

    python benchmarks/edit_quality.py [--model DIR ...] [--manifest data/fixed_val/manifest.jsonl]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def ensure_manifest(path: Path, bank: Path) -> Path:
    if path.exists():
        return path
    from rfm_studio.core.data.triplets import make_fixed_set

    print(f"building the fixed validation set from {bank} ...", flush=True)
    return Path(make_fixed_set(bank, path.parent, split="val", n_per_task=30, seconds=10.24, seed=1234))


def rows_of(manifest: Path, limit: int | None):
    rows = [json.loads(l) for l in manifest.read_text(encoding="utf-8").splitlines() if l.strip()]
    if limit:
        by = defaultdict(list)
        for r in rows:
            by[r["task"]].append(r)
        rows = [r for t in sorted(by) for r in by[t][:limit]]
    return rows


def example_prompt(r: dict, x: np.ndarray, y: np.ndarray):
    """The audio prompt of ``--prompt example`` for a triplet row (16 kHz input ``x``, target ``y``)."""
    from rfm_studio.core.prompts import AudioPrompt

    spans = r.get("edit_spans") or [[r["edit_start_s"], r["edit_end_s"]]]
    if r["task"] == "replace" and isinstance(r.get("meta"), dict):  # the new event's own span
        new = r["meta"]["B" if r["meta"].get("type", "").endswith("AB") else "A"]
        spans = [[new["onset_s"], new["onset_s"] + max(new.get("duration_s") or 0.0, 0.1)]]
    a, b = max(spans, key=lambda s: s[1] - s[0])
    a, b = max(0.0, float(a)), min(len(x) / 16000, max(float(b), float(a) + 0.1))
    i, j = int(a * 16000), int(b * 16000)
    src = {"remove": x, "add": y - x, "replace": y}[r["task"]]
    seg = src[i:j].astype(np.float32)
    if float(np.abs(seg).max()) < 1e-5:  # a silent cut (an event quieter than its span): take the whole clip
        seg = src.astype(np.float32)
    return AudioPrompt(seg, 16000, "example" if r["task"] == "remove" else "reference",
                       f"{r.get('id', '?')} {a:.2f}-{b:.2f} s", span=(a, b) if r["task"] == "remove" else None)


def table(name: str, results: list[dict]):
    from rfm_studio.core.evaluation.spectral import summarize, success_rate

    groups = defaultdict(list)
    for r in results:
        groups[(r["task"], "all")].append(r)
        groups[(r["task"], "templated" if r["templated"] else "paraphrased")].append(r)
        groups[("all", "all")].append(r)
    print(f"\n== {name} ==")
    print(f"{'task':8s} {'style':12s} {'n':>3s} {'gain':>7s} {'keep err':>9s} {'success':>8s}")
    out = {}
    for key in sorted(groups, key=lambda k: (k[0] == "all", k[0], k[1] != "all", k[1])):
        g = groups[key]
        gain = summarize([r["gain"] for r in g])["mean"]
        keep = summarize([r["keep_error"] for r in g])["mean"]
        succ = success_rate([r["gain"] for r in g])
        fmt = lambda v: "   -   " if v is None else f"{v:7.3f}"
        print(f"{key[0]:8s} {key[1]:12s} {len(g):3d} {fmt(gain)} {fmt(keep):>9s} {fmt(succ):>8s}")
        out[f"{key[0]}/{key[1]}"] = {"n": len(g), "gain": gain, "keep_error": keep, "success_rate": succ}
    return out


def _example_goes(engine: str) -> str:
    """Where a remove row's example goes, for a model with no prompt input, by ``--engine``."""
    if engine in ("auto", "dictionary"):
        return "run on the dictionary engine, which learns the example"
    return f"ignore the example (engine {engine})"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", action="append", default=None, help="model folder (repeat to compare)")
    ap.add_argument("--manifest", default=str(ROOT / "data" / "fixed_val" / "manifest.jsonl"))
    ap.add_argument("--bank", default=str(ROOT / "data" / "bank"))
    ap.add_argument("--limit", type=int, default=None, help="triplets per task")
    ap.add_argument("--steps", type=int, default=None)
    ap.add_argument("--t-start", type=float, default=None)
    ap.add_argument("--guidance", type=float, default=None)
    ap.add_argument("--draws", type=int, default=None, help="noise draws averaged per edit (default: the model's)")
    ap.add_argument("--strength", type=float, default=None,
                    help="scale of the model's change, with and without a region (default: the model's defaults)")
    ap.add_argument("--render", default=None, choices=["mask", "vocoder"])
    ap.add_argument("--mask-threshold", type=float, default=None, help="override the model's mask threshold")
    ap.add_argument("--region", action="store_true",
                    help="also give the model each triplet's event span as the edit region (as a user selecting "
                         "it in the app would), and report those figures too")
    ap.add_argument("--prompt", choices=["none", "example"], default="none",
                    help="example: also run each model with an audio prompt cut from the triplet (see above)")
    ap.add_argument("--no-text-only", action="store_true", help="with --prompt: skip the runs without a prompt")
    ap.add_argument("--json", default=None, help="also write the figures here")
    ap.add_argument("--engine", default="auto", choices=["auto", "model", "dictionary", "self-prompt"],
                    help="the removal engine (rfm-studio edit --engine)")
    ap.add_argument("--tasks", default="add,remove,replace", help="comma-separated tasks to run")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch

    from rfm_studio.core.audio.io import load_audio
    from rfm_studio.core.editing import edit
    from rfm_studio.core.evaluation.spectral import edit_figures, event_frames, log_mel
    from rfm_studio.core.model.loaders import load_editor
    from rfm_studio.core.model.vocoder import GriffinLimVocoder
    from rfm_studio.core.paths import resolve_model

    manifest = ensure_manifest(Path(args.manifest), Path(args.bank))
    tasks = {t for t in args.tasks.split(",") if t}
    rows = [r for r in rows_of(manifest, args.limit) if r["task"] in tasks]
    base = manifest.parent
    clips = []
    for r in rows:
        x, _ = load_audio(base / r["input"], mono=True, target_sr=16000)
        y, _ = load_audio(base / r["target"], mono=True, target_sr=16000)
        mi, mt = log_mel(x), log_mel(y)
        spans = r.get("edit_spans") or [[r["edit_start_s"], r["edit_end_s"]]]
        clips.append((r, x, y, mi, mt, event_frames(mi, mt, spans)))
    counts = ", ".join(f"{t}: {sum(c[0]['task'] == t for c in clips)}" for t in ("add", "remove", "replace"))
    print(f"{len(clips)} triplets from {manifest} ({counts})")

    report = {}
    ident = [dict(task=r["task"], templated=r["templated"], **edit_figures(mi, mt, mi, m)) for r, x, y, mi, mt, m in clips]
    report["identity"] = table("identity (returns the input)", ident)
    gl = GriffinLimVocoder()
    ceil = []
    with torch.no_grad():
        for r, x, y, mi, mt, m in clips:
            wav = gl(torch.from_numpy(mt)[None], length=len(y))[0].numpy()
            ceil.append(dict(task=r["task"], templated=r["templated"], **edit_figures(mi, mt, log_mel(wav), m)))
    report["griffin_lim_target"] = table("Griffin-Lim resynthesis of the target (vocoder ceiling)", ceil)
    # an added event's timing is not in its instruction: the target's own event at a random time
    rng = np.random.default_rng(0)
    blind = []
    for r, x, y, mi, mt, m in clips:
        if r["task"] == "add":
            for _ in range(5):
                out = x + np.roll(y - x, int(rng.integers(len(x))))
                blind.append(dict(task=r["task"], templated=r["templated"], **edit_figures(mi, mt, log_mel(out), m)))
    if blind:
        report["add_event_random_time"] = table("add only: the target's own event at a random time "
                                                "(5 shifts per triplet; what perfect timing-blind adding scores)", blind)

    for folder in args.model or [None]:
        path = resolve_model(folder)
        model = load_editor(path, device="cpu")
        if args.mask_threshold is not None:
            model.info["mask_threshold"] = args.mask_threshold
        prompt_modes = ([] if args.no_text_only and args.prompt != "none" else [False]) + \
            ([True] if args.prompt == "example" else [])
        for with_region, with_prompt in [(g, q) for g in ([False, True] if args.region else [False])
                                         for q in prompt_modes]:
            res, secs = [], []
            for r, x, y, mi, mt, m in clips:
                spans = r.get("edit_spans") or [[r["edit_start_s"], r["edit_end_s"]]]
                region = (min(a for a, _ in spans), min(len(x) / 16000, max(b for _, b in spans))) if with_region else None
                prompts = (example_prompt(r, x, y),) if with_prompt else ()
                e = edit(model, x, 16000, r["instruction"], steps=args.steps, t_start=args.t_start,
                         guidance=args.guidance, draws=args.draws, strength=args.strength, render=args.render, seed=0,
                         region=region, prompts=prompts, engine=args.engine)
                secs.append(e.seconds)
                res.append(dict(task=r["task"], templated=r["templated"], **edit_figures(mi, mt, log_mel(e.audio), m)))
            p = e.params
            name = f"model {path} (engine {args.engine}, steps {p.get('steps')}, t_start {p.get('t_start')}, " \
                   f"guidance {p.get('guidance')}, draws {p.get('draws')}, strength {p.get('strength')}, " \
                   f"render {p.get('render')}, mask threshold {model.info.get('mask_threshold', 0.1)}; " \
                   f"median {np.median(secs):.2f} s per clip)" + (" WITH THE EVENT SPAN AS REGION" if with_region else "") \
                + ((" WITH AN EXAMPLE/REFERENCE PROMPT" + ("" if model.accepts_prompts else
                                                           f" (the model has no prompt input: remove rows {_example_goes(args.engine)}; "
                                                           "add/replace rows place the reference by the library's signal processing)"))
                   if with_prompt else "")
            key = str(path) + (" region" if with_region else "") + (" prompt" if with_prompt else "")
            report[key] = table(name, res)
            report[key]["settings"] = {k: p.get(k) for k in ("steps", "t_start", "guidance", "draws", "strength", "render")}
            report[key]["settings"]["engine"] = args.engine
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
