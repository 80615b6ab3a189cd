"""Dictionary-guided removal (core/separation/dictionary.py) against the model, on the
remove triplets of a fixed set, with edit_quality.py's own figures (gain, keep error,
success; its ``table``) and its ``--prompt example`` span:

  model          the model, text only (as edit_quality.py runs it)
  dict-example   dictionary removal, templates from the example cut from the target event
  dict-library   dictionary removal, templates from the library's matches for the
                 instruction's sound (text only); no match: the input, unchanged
  combined       the model's removal, then dictionary removal with library templates and
                 templates of the model's residual (text only)
  engine-auto    what ``rfm-studio edit`` does at its defaults for a text-only remove

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

MODES = ("model", "dict-example", "dict-library", "combined", "engine-auto")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", required=True)
    ap.add_argument("--model", default=None)
    ap.add_argument("--modes", default="model,dict-example,dict-library,combined")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="DictionaryConfig field")
    ap.add_argument("--json", default=None)
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

    over = {}
    for kv in args.set:
        k, v = kv.split("=", 1)
        over[k] = float(v) if "." in v or "e" in v else int(v)
    cfg = DictionaryConfig.from_dict({**DictionaryConfig().to_dict(), **over})
    modes = [m for m in args.modes.split(",") if m]
    manifest = Path(args.manifest)
    rows = [r for r in rows_of(manifest, None) if r["task"] == "remove"][: args.limit or None]
    print(f"{len(rows)} remove triplets from {manifest}; {cfg}")
    model = load_editor(args.model, device="cpu") if {"model", "combined", "engine-auto"} & set(modes) else None
    results = {m: [] for m in modes}
    secs = {m: [] for m in modes}
    for r in rows:
        x, _ = load_audio(manifest.parent / r["input"], mono=True, target_sr=16000)
        y, _ = load_audio(manifest.parent / r["target"], mono=True, target_sr=16000)
        mi, mt = log_mel(x), log_mel(y)
        spans = r.get("edit_spans") or [[r["edit_start_s"], r["edit_end_s"]]]
        m = event_frames(mi, mt, spans)
        lib_cache = None
        line = [r["id"]]
        for mode in modes:
            t0 = time.perf_counter()
            if mode == "model":
                out = edit(model, x, 16000, r["instruction"], seed=0).audio
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
                y_m = edit(model, x, 16000, r["instruction"], seed=0).audio
                keep = remove_with_dictionary(x, cfg, examples=[x - y_m], library=lib_cache[0], seed=0)
                out = apply_keep_mask(x, 16000, keep, cfg)
            elif mode == "engine-auto":
                out = edit(model, x, 16000, r["instruction"], seed=0, engine="auto").audio
            secs[mode].append(time.perf_counter() - t0)
            f = edit_figures(mi, mt, log_mel(out), m)
            results[mode].append(dict(task="remove", templated=r["templated"], **f))
            line.append(f"{mode} {f['gain'] if f['gain'] is None else round(f['gain'], 3)}/{f['keep_error']:.3f}")
        print("  ".join(str(v) for v in line), flush=True)
    report = {}
    for mode in modes:
        report[mode] = table(f"{mode} (median {np.median(secs[mode]):.2f} s per clip)", results[mode])
    report["config"] = cfg.to_dict()
    report["manifest"] = str(manifest)
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
