"""Which rectified-flow parameterisation learns "edit only what the instruction names"
fastest: each variant trains the embedded model's network from scratch for the same
number of steps (same data stream, seed and batch), then is scored with
``edit_quality.py`` on the same fixed validation triplets.

Variants (all are options of ``rfm_studio.core.flow.config``: PathConfig and FlowTrainingConfig):
  paper            flow from noise, velocity prediction, uniform t (paper eq. 1-5)
  paper+weight     the same, loss weighted x5 on the bins the edit changes
  anchored-v       flow from the original (+0.5 noise), velocity prediction, weighted
  anchored-x       flow from the original (+0.5 noise), predicts x_orig + delta
                   (velocity in closed form), weighted, half the times near t = 0
                   (stage 1 of the shipped model)
  anchored-x-l1    the same with the absolute error instead of the squared error and
                   weight x2 (stage 2 of the shipped model)

    python benchmarks/parameterisations.py [--steps 1000] [--limit 20] [--work runs/param]

Training resumes from each variant's last checkpoint, so an interrupted comparison
continues where it stopped. Validation losses of different parameterisations are not
comparable; the printed benchmark figures are.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

NOISE = {"source": "noise", "source_noise": 1.0}
ANCHOR = {"source": "original", "source_noise": 0.5}
VARIANTS = {
    # name: (flow overrides, sampling steps used in the benchmark)
    "paper": ({**NOISE, "prediction": "velocity", "changed_weight": 0.0, "t_low_fraction": 0.0}, 25),
    "paper+weight": ({**NOISE, "prediction": "velocity", "changed_weight": 4.0, "t_low_fraction": 0.0}, 25),
    "anchored-v": ({**ANCHOR, "prediction": "velocity", "changed_weight": 4.0, "t_low_fraction": 0.0}, 8),
    "anchored-x": ({**ANCHOR, "prediction": "sample", "changed_weight": 4.0, "t_low_fraction": 0.5,
                    "t_low_max": 0.05}, 1),
    "anchored-x-l1": ({**ANCHOR, "prediction": "sample", "changed_weight": 1.0, "t_low_fraction": 0.5,
                       "t_low_max": 0.05, "loss": "l1"}, 1),
}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=1000, help="training steps per variant")
    ap.add_argument("--limit", type=int, default=20, help="validation triplets per task")
    ap.add_argument("--work", default=str(ROOT / "runs" / "param"))
    ap.add_argument("--bank", default=str(ROOT / "data" / "bank"))
    ap.add_argument("--config", default=str(ROOT / "models" / "rfm-studio-small.train.json"),
                    help="network and optimiser settings shared by all variants")
    ap.add_argument("--only", action="append", default=None, choices=sorted(VARIANTS))
    ap.add_argument("--mask-threshold", type=float, default=1.0, help="mask render threshold for every variant")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import edit_quality

    from rfm_studio.core.training.loop import TrainConfig, export_bundle, train

    base = json.loads(Path(args.config).read_text(encoding="utf-8"))
    work = Path(args.work)
    summary = {}
    for name in args.only or list(VARIANTS):
        flow, steps = VARIANTS[name]
        run = work / name
        cfg = TrainConfig(data=f"bank:{args.bank}", out=str(run), steps=args.steps, seed=0,
                          val_every=max(1, args.steps // 2), checkpoint_seconds=300.0,
                          **{k: v for k, v in base.items() if k in ("unet", "lora_layers", "lr", "lr_text", "val_batches")},
                          flow={**base.get("flow", {}), **flow})
        for ev in train(cfg):
            if ev.message or ev.step % 100 == 0:
                print(f"[{name}] step {ev.step}/{ev.total} loss {ev.loss:.4f} {ev.message or ''}", flush=True)
        bundle, state = export_bundle(run, work / f"{name}.bundle", which="latest")
        out = work / f"{name}.figures.json"
        edit_quality.main(["--model", str(bundle), "--steps", str(steps), "--limit", str(args.limit),
                           "--mask-threshold", str(args.mask_threshold), "--json", str(out)])
        fig = json.loads(out.read_text(encoding="utf-8"))[str(bundle)]
        summary[name] = {"steps_trained": state["step"], "sampling_steps": steps,
                         **{t: fig[f"{t}/all"]["gain"] for t in ("add", "remove", "replace")},
                         "keep_error": fig["all/all"]["keep_error"], "success": fig["all/all"]["success_rate"]}
    print(f"\n== parameterisations after {args.steps} training steps each ==")
    print(f"{'variant':14s} {'sampling':>8s} {'add':>7s} {'remove':>7s} {'replace':>7s} {'keep':>7s} {'success':>8s}")
    for name, s in summary.items():
        print(f"{name:14s} {s['sampling_steps']:8d} {s['add']:7.3f} {s['remove']:7.3f} {s['replace']:7.3f} "
              f"{s['keep_error']:7.3f} {s['success']:8.3f}")
    (work / "summary.json").write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
