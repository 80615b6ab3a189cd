"""Export a training run's best checkpoint and ship it as the embedded model only if it
beats the shipped one on the edit-quality benchmark (same triplets, same run).

    python benchmarks/ship_candidate.py --run runs/small [--limit N] [--force]
    python benchmarks/ship_candidate.py --bundle models/rfm-studio-small --draws 8   # new defaults only

With ``--region`` the figures with each event's span given as the edit region are recorded
too (they do not enter the score: a change of ``--region-strength`` alone scores the same as the
shipped model, so judge it on those figures and the outside set, and ship it with ``--force``).

Score: mean over tasks (add, remove, replace) of the mean gain, minus the keep error
over the target 0.12 (a model that damages untouched audio does not win by editing more).
A candidate over the keep-error target never replaces a shipped model within it, whatever
its score (ship it at a higher --mask-threshold instead).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

SHIPPED = ROOT / "models" / "rfm-studio-small"
KEEP_TARGET = 0.12  # issue 4: keep error <= 0.12


def score(fig: dict) -> float:
    """A figure that could not be measured counts against the model (never as perfect)."""
    gains = [fig.get(f"{t}/all", {}).get("gain") for t in ("add", "remove", "replace")]
    keep = fig.get("all/all", {}).get("keep_error")
    if keep is None or any(g is None for g in gains):
        return float("-inf")
    return sum(gains) / 3 - max(0.0, keep - KEEP_TARGET)


def within_keep_target(fig: dict) -> bool:
    keep = fig.get("all/all", {}).get("keep_error")
    return keep is not None and keep <= KEEP_TARGET


def install(cand: Path, figs_out: dict) -> None:
    """Put ``cand`` in place of the shipped bundle: copied beside it first, then swapped in by
    renames (``core.swap``: a swap cut short is recovered before the next one), so an
    interrupted copy never leaves the app without a model or with half of one; the figures
    are written atomically after the swap."""
    from rfm_studio.core.atomic import atomic_write_bytes
    from rfm_studio.core.swap import replacing

    with replacing(SHIPPED, replace=True) as new:
        shutil.copytree(cand, new, dirs_exist_ok=True)
    atomic_write_bytes(ROOT / "models" / "rfm-studio-small.benchmark.json",
                       (json.dumps(figs_out, indent=2) + "\n").encode("utf-8"))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default=str(ROOT / "runs" / "small"))
    ap.add_argument("--bundle", default=None,
                    help="a bundle folder as the candidate instead of a run (e.g. the shipped weights with other defaults)")
    ap.add_argument("--which", default="best", choices=["best", "latest"])
    ap.add_argument("--limit", type=int, default=None, help="triplets per task (a quick look: never ships without --force)")
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--steps", type=int, default=None, help="default Euler steps to ship the candidate with")
    ap.add_argument("--draws", type=int, default=None, help="default noise draws averaged per edit to ship with")
    ap.add_argument("--mask-threshold", type=float, default=None, help="default mask-render threshold to ship with")
    ap.add_argument("--strength", type=float, default=None, help="default scale of the model's change to ship with")
    ap.add_argument("--region-strength", type=float, default=None,
                    help="default scale of the model's change within a region to ship with")
    ap.add_argument("--region", action="store_true", help="also record the figures with the event span as region")
    ap.add_argument("--manifest", default=None, help="the triplets to judge on (default: edit_quality.py's validation set), "
                                                      "e.g. the outside set's data/outside/fixed/manifest.jsonl")
    ap.add_argument("--prompt", choices=["none", "example"], default="none",
                    help="example: also record the figures with an audio prompt (edit_quality.py --prompt example)")
    args = ap.parse_args(argv)
    import edit_quality

    from rfm_studio.core.training.loop import export_bundle

    tmp = Path(tempfile.mkdtemp(prefix="rfm-candidate-"))
    try:
        evaluate_and_ship(args, tmp, edit_quality, export_bundle)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def evaluate_and_ship(args, tmp: Path, edit_quality, export_bundle):
    if args.bundle:
        from rfm_studio.core.model.files import read_json

        cand = tmp / "rfm-studio-small"
        shutil.copytree(args.bundle, cand)
        info = read_json(cand / "model_index.json").get("info", {})
        state = {"step": info.get("train_steps"), "val_loss": info.get("val_loss"), "bundle": str(args.bundle)}
    else:
        cand, state = export_bundle(args.run, tmp / "rfm-studio-small", which=args.which)
    print(f"candidate: step {state['step']}, val loss {state.get('val_loss')}")
    if any(v is not None for v in (args.steps, args.mask_threshold, args.draws, args.strength, args.region_strength)):
        from rfm_studio.core.model.files import read_json, write_json
        from rfm_studio.core.model.manifest import write_manifest

        idx = read_json(cand / "model_index.json")
        if args.steps is not None:
            idx["flow"]["steps"] = args.steps
        if args.draws is not None:
            idx["flow"]["draws"] = args.draws
        if args.mask_threshold is not None:
            idx["info"]["mask_threshold"] = args.mask_threshold
        if args.strength is not None:
            idx["info"]["strength"] = args.strength
        if args.region_strength is not None:
            idx["info"]["region_strength"] = args.region_strength
        write_json(cand / "model_index.json", idx)
        write_manifest(cand)
    models = [str(cand)] + ([str(SHIPPED)] if (SHIPPED / "model_index.json").exists() else [])
    out_json = tmp / "figures.json"
    edit_quality.main(sum([["--model", m] for m in models], []) + ["--json", str(out_json)]
                      + (["--limit", str(args.limit)] if args.limit else []) + (["--region"] if args.region else [])
                      + (["--manifest", args.manifest] if getattr(args, "manifest", None) else [])
                      + (["--prompt", args.prompt] if getattr(args, "prompt", "none") != "none" else []))
    figs = json.loads(out_json.read_text(encoding="utf-8"))
    s_new = score(figs[str(cand)])
    s_old = score(figs[str(SHIPPED)]) if str(SHIPPED) in figs else float("-inf")
    print(f"\nscore candidate {s_new:.4f} vs shipped {s_old:.4f}")
    better = s_new > s_old
    if better and str(SHIPPED) in figs and within_keep_target(figs[str(SHIPPED)]) \
            and not within_keep_target(figs[str(cand)]):
        print(f"the candidate's keep error {figs[str(cand)]['all/all']['keep_error']:.3f} misses the target "
              f"{KEEP_TARGET} that the shipped model meets")
        better = False
    if args.limit and not args.force:
        print("a run on part of the triplets (--limit) never ships without --force")
        better = False
    if better or args.force:
        figs_out = {"model": figs[str(cand)], "identity": figs["identity"],
                    "griffin_lim_target": figs["griffin_lim_target"],
                    "add_event_random_time": figs.get("add_event_random_time"), "train_state": state}
        if str(cand) + " region" in figs:
            figs_out["model_with_region"] = figs[str(cand) + " region"]
        if str(cand) + " prompt" in figs:
            figs_out["model_with_prompt"] = figs[str(cand) + " prompt"]
        install(cand, figs_out)
        print(f"shipped to {SHIPPED}")
    else:
        print("kept the shipped model")


if __name__ == "__main__":
    main()
