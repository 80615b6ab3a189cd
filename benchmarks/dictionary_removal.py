"""Dictionary-guided removal (core/separation/dictionary.py) against the model, on the
remove triplets of a fixed set, with edit_quality.py's own figures (gain, keep error,
success; its ``table``) and its ``--prompt example`` span:

  model          the model, text only (as edit_quality.py runs it)
  dict-example   dictionary removal, templates from the example cut from the target event
  dict-library   dictionary removal, templates from the library's matches for the
                 instruction's sound (text only); no match: the input, unchanged
  combined       the model's removal, then dictionary removal with library templates and
                 templates of the model's residual (text only)
  self-prompt    the sound finder's strongest span of the named sound (``--finder DIR``), or where
                 it finds nothing (or --sp spans_from=model) the model's text-only removal's
                 strongest spans, cut from the input, go to the dictionary engine
                 (core/separation/self_prompt.py;
                 ``--sp KEY=VALUE`` sets SelfPromptConfig fields, e.g. library=1, combine=product,
                 inside_only=1, examples=0 for library templates only inside the model's spans)
  engine-auto    what ``rfm-studio edit`` does at its defaults for a text-only remove
  engine-self-prompt  ``rfm-studio edit --engine self-prompt``, end to end (the model's edit timed too)
  remover        ``rfm-studio edit --engine remover``: the sound remover's mel mask (``--remover DIR``,
                 default the installed models/sound-remover; core/separation/remover_edit.py)

``--cache DIR`` keeps the model's text-only edit of each triplet (npz) for later runs.
``--leak`` prints, per triplet, whether the library returns the triplet's own recording.

    python benchmarks/dictionary_removal.py --manifest data/outside/fixed/manifest.jsonl \
        [--modes model,dict-example,dict-library,combined] [--set key=value ...]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

MODES = ("model", "dict-example", "dict-library", "combined", "self-prompt", "engine-auto", "engine-self-prompt",
         "remover")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--model", default=None)
    ap.add_argument("--modes", default="model,dict-example,dict-library,combined")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="DictionaryConfig field")
    ap.add_argument("--sp", action="append", default=[], metavar="KEY=VALUE", help="SelfPromptConfig field")
    ap.add_argument("--cache", default=None, help="folder keeping the model's text-only edits")
    ap.add_argument("--leak", action="store_true", help="flag library matches from the triplet's own recording")
    ap.add_argument("--json", default=None)
    ap.add_argument("--finder", default=None, help="sound-finder folder (default: the shipped one)")
    ap.add_argument("--remover", default=None,
                    help="sound-remover folder for mode remover (default: the installed one)")
    ap.add_argument("--strength", type=float, default=None, help="mode remover's strength (default 1)")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from edit_quality import example_prompt, rows_of, table

    from rfm_studio.core.audio.io import load_audio
    from rfm_studio.core.editing import edit
    from rfm_studio.core.evaluation.spectral import edit_figures, event_frames, log_mel
    from rfm_studio.core.model.loaders import load_editor
    from rfm_studio.core.instructions import removed_sound
    from rfm_studio.core.separation.dictionary import DictionaryConfig, apply_keep_mask, remove_with_dictionary
    from rfm_studio.core.separation.engine import library_templates
    from rfm_studio.core.separation.self_prompt import SelfPromptConfig, dictionary_config, self_prompt_keep

    cfg = DictionaryConfig.from_dict({**DictionaryConfig().to_dict(), **settings(args.set)})
    sp = SelfPromptConfig.from_dict({**SelfPromptConfig().to_dict(), **settings(args.sp)})
    sp_cfg = DictionaryConfig.from_dict({**dictionary_config().to_dict(), **settings(args.set)})  # self-prompt's
    modes = [m for m in args.modes.split(",") if m]
    manifest = Path(args.manifest)
    rows = [r for r in rows_of(manifest, None) if r["task"] == "remove"][: args.limit or None]
    print(f"{len(rows)} remove triplets from {manifest}; {cfg}; {sp}")
    cache = Path(args.cache) if args.cache else None
    model = None
    remover = None
    if "remover" in modes:
        from rfm_studio.core.detection.remover import load_remover, shipped_remover_dir

        remover = load_remover(args.remover)
        if remover is None:
            raise SystemExit(f"No sound remover in {args.remover or shipped_remover_dir()}.")

    def model_edit(rid, x, instruction):  # the model's text-only edit: (audio, mel_in, mel_out)
        nonlocal model
        f = cache / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', rid)}.npz" if cache else None
        if f is not None and f.exists():
            z = np.load(f)
            return z["audio"], z["mel_in"], z["mel_out"]
        model = model or load_editor(args.model, device="cpu")
        res = edit(model, x, 16000, instruction, seed=0, engine="model")
        if f is not None:
            f.parent.mkdir(parents=True, exist_ok=True)
            np.savez(f, audio=res.audio, mel_in=res.mel_in, mel_out=res.mel_out)
        return res.audio, res.mel_in, res.mel_out

    if args.leak:
        leak_report(rows)
    results = {m: [] for m in modes}
    secs = {m: [] for m in modes}
    cpu = {m: [] for m in modes}  # process time: the edit's own CPU seconds, whatever else runs
    for r in rows:
        x, _ = load_audio(manifest.parent / r["input"], mono=True, target_sr=16000)
        y, _ = load_audio(manifest.parent / r["target"], mono=True, target_sr=16000)
        mi, mt = log_mel(x), log_mel(y)
        spans = r.get("edit_spans") or [[r["edit_start_s"], r["edit_end_s"]]]
        m = event_frames(mi, mt, spans)
        lib_cache = None
        line = [r["id"]]
        for mode in modes:
            t0, c0 = time.perf_counter(), time.process_time()
            if mode == "model":
                out = model_edit(r["id"], x, r["instruction"])[0]
            elif mode == "dict-example":
                ex = example_prompt(r, x, y)
                keep = remove_with_dictionary(x, cfg, examples=[ex.audio], seed=0)
                out = apply_keep_mask(x, 16000, keep, cfg)
            elif mode == "dict-library":
                lib_cache = lib_cache or library_templates(removed_sound(r["instruction"]), cfg.library_clips)
                if lib_cache[0]:
                    keep = remove_with_dictionary(x, cfg, library=lib_cache[0], seed=0)
                    out = apply_keep_mask(x, 16000, keep, cfg)
                else:  # no library match: nothing removed (counted as the input)
                    out = x
                    line.append("(no library match)")
            elif mode == "combined":
                lib_cache = lib_cache or library_templates(removed_sound(r["instruction"]), cfg.library_clips)
                y_m = model_edit(r["id"], x, r["instruction"])[0]
                keep = remove_with_dictionary(x, cfg, examples=[x - y_m], library=lib_cache[0], seed=0)
                out = apply_keep_mask(x, 16000, keep, cfg)
            elif mode == "self-prompt":
                lib_cache = lib_cache or library_templates(removed_sound(r["instruction"]), cfg.library_clips)
                y_m, mel_in, mel_out = model_edit(r["id"], x, r["instruction"])
                t0, c0 = time.perf_counter(), time.process_time()  # the model's edit is timed in its own mode
                found = []
                if sp.spans_from == "finder":  # the sound finder's span of the named sound first, as the engine
                    from rfm_studio.core.detection.find import load_finder
                    from rfm_studio.core.separation.self_prompt import find_example, finder_keep

                    finder = load_finder(args.finder)
                    found = find_example(finder, x, r["instruction"], sp) if finder is not None else []
                if found:
                    keep, spans = finder_keep(x, found, sp, sp_cfg, library=lib_cache[0], seed=0), found
                    line.append("finder")
                else:
                    keep, spans = self_prompt_keep(x, mel_in, mel_out, sp, sp_cfg, library=lib_cache[0], seed=0)
                hit = any(a < e1 and b > e0 for a, b in spans for e0, e1 in
                          (r.get("edit_spans") or [[r["edit_start_s"], r["edit_end_s"]]]))
                line.append("HIT" if hit else "miss" if spans else "none")
                out = y_m if keep is None else apply_keep_mask(x, 16000, keep, sp_cfg)
                line.append("spans " + ",".join(f"{a:.2f}-{b:.2f}" for a, b in spans))
            elif mode in ("engine-auto", "engine-self-prompt"):
                model = model or load_editor(args.model, device="cpu")
                out = edit(model, x, 16000, r["instruction"], seed=0, engine=mode[len("engine-"):]).audio
            elif mode == "remover":  # the engine end to end, on the remover given
                from rfm_studio.core.editing import drive
                from rfm_studio.core.events import EditRequest
                from rfm_studio.core.separation.remover_edit import run_remover_edit

                out = drive(run_remover_edit(EditRequest(x, 16000, r["instruction"], strength=args.strength),
                                             remover=remover)).audio
            secs[mode].append(time.perf_counter() - t0)
            cpu[mode].append(time.process_time() - c0)
            f = edit_figures(mi, mt, log_mel(out), m)
            results[mode].append(dict(task="remove", templated=r["templated"], **f))
            line.append(f"{mode} {f['gain'] if f['gain'] is None else round(f['gain'], 3)}/{f['keep_error']:.3f}")
        print("  ".join(str(v) for v in line), flush=True)
    report = {}
    for mode in modes:
        report[mode] = table(f"{mode} (median {np.median(secs[mode]):.2f} s per clip, "
                             f"{np.median(cpu[mode]):.2f} s CPU)", results[mode])
    report["config"] = cfg.to_dict()
    report["manifest"] = str(manifest)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


def settings(pairs) -> dict:
    out = {}
    for kv in pairs:
        k, v = kv.split("=", 1)
        try:
            out[k] = float(v) if "." in v or "e" in v else int(v)
        except ValueError:
            out[k] = v
    return out


def leak_report(rows) -> None:
    """Per triplet: the library's matches for its sound, and whether one is the triplet's own
    recording (the starter library comes from the training bank's packages)."""
    import csv

    from rfm_studio.core.instructions import removed_sound
    from rfm_studio.core.separation.engine import library_templates

    lib_dir = ROOT / "resources" / "library"
    with open(lib_dir / "licences.tsv", newline="", encoding="utf-8") as f:
        info = {r["file"]: r for r in csv.DictReader(f, delimiter="\t")}
    n_leak = 0
    for r in rows:
        _, paths = library_templates(removed_sound(r["instruction"]), 3)
        own = json.dumps((r.get("meta") or {}).get("A", r.get("meta", {})))  # the removed event's recording
        hits = []
        for p in paths:
            i = info.get(Path(p).name, {})
            same = bool(i) and (i.get("bank_id", "?") in own or i.get("source", "?").rsplit("/", 1)[-1] in own
                                or i.get("group", "?") in own)
            hits.append(f"{Path(p).name}{' OWN' if same else ''}")
            n_leak += same
        print(f"leak? {r['id']} '{r['instruction']}': {', '.join(hits) or '(no match)'}")
    print(f"library matches from the triplet's own recording: {n_leak}")


if __name__ == "__main__":
    main()
