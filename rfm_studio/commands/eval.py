"""``rfm-studio eval``: the paper's Tables 1-3 for a model on a test manifest.

    rfm-studio eval --manifest TEST.jsonl --out DIR [--model DIR] [--t-start 0,0.001,0.01,0.1]
                    [--steps 8,25] [--guidance G] [--clap-ckpt PATH --clap-kind laion|ms]
                    [--panns-ckpt PATH] [--vggish-ckpt PATH] [--device auto] [--limit N]

Writes DIR/report.json, DIR/report.md and DIR/*.png. Checkpoints: docs/evaluation.md.
"""

from __future__ import annotations

import sys

from ..core.errors import OptionError


def _floats(text: str, what: str) -> list[float]:
    try:
        vals = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise OptionError(f"{what} must be a comma-separated list of numbers, got '{text}'.") from None
    if not vals:
        raise OptionError(f"{what} is empty.")
    return vals


def _ints(text: str, what: str) -> list[int]:
    try:
        vals = [int(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise OptionError(f"{what} must be a comma-separated list of whole numbers, got '{text}'.") from None
    if not vals:
        raise OptionError(f"{what} is empty.")
    return vals


def _short(entry) -> str:
    if isinstance(entry, dict):
        if not entry.get("available", True):
            return "n/a"
        entry = entry.get("value")
    return "–" if entry is None else f"{entry:.3g}"


def register(sub):
    from ..core.devices import add_device_arguments

    p = sub.add_parser("eval", help="evaluate a model on a test manifest (CLAP, FD, FAD, KL, IS, gain, time)")
    p.add_argument("--manifest", required=True,
                   help="JSONL: id, input, target, instruction, target_caption [, edit_spans, task]")
    p.add_argument("--out", required=True, help="report folder (report.json, report.md, plots)")
    p.add_argument("--model", default=None, help="model folder or name (default: the embedded model)")
    p.add_argument("--t-start", default=None, help="comma-separated t_start values to sweep (default: the model's)")
    p.add_argument("--steps", default=None, help="comma-separated step counts to sweep (default: the model's)")
    p.add_argument("--guidance", type=float, default=None, help="classifier-free guidance (default: the model's)")
    p.add_argument("--draws", type=int, default=None, help="noise draws averaged per edit (default: the model's)")
    p.add_argument("--strength", type=float, default=None,
                   help="scale of the model's change (default: the model's; 0: no change)")
    p.add_argument("--seed", type=int, default=0, help="seed of clip i is SEED + i")
    p.add_argument("--clap-ckpt", default=None, help="LAION-CLAP .pt or Hugging Face CLAP folder, or MS-CLAP .pth")
    p.add_argument("--clap-kind", default="laion", choices=("laion", "ms"))
    p.add_argument("--panns-ckpt", default=None, help="Cnn14_16k_mAP=0.438.pth (FD, KL, IS)")
    p.add_argument("--vggish-ckpt", default=None, help="vggish-10086976.pth (FAD)")
    p.add_argument("--vggish-pca", default=None, help="vggish_pca_params-970ea276.pth (adds a PCA-FAD figure)")
    add_device_arguments(p)
    p.add_argument("--limit", type=int, default=None, help="only the first N manifest entries")
    p.add_argument("--save-audio", action="store_true", help="also write every edited clip under OUT/audio/")
    p.add_argument("--no-baseline", action="store_true", help="skip the 'input (no edit)' row")
    p.add_argument("--no-plots", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..core.evaluation.runner import EvalConfig, run_eval

    cfg = EvalConfig(
        manifest=args.manifest, out=args.out, model=args.model,
        t_starts=_floats(args.t_start, "--t-start") if args.t_start else None,
        steps=_ints(args.steps, "--steps") if args.steps else None,
        guidance=args.guidance, draws=args.draws, strength=args.strength, seed=args.seed, device=args.device, dtype=args.dtype,
        clap_ckpt=args.clap_ckpt, clap_kind=args.clap_kind, panns_ckpt=args.panns_ckpt,
        vggish_ckpt=args.vggish_ckpt, vggish_pca=args.vggish_pca, limit=args.limit,
        baseline=not args.no_baseline, save_audio=args.save_audio, plots=not args.no_plots,
    )
    from tqdm import tqdm

    bar = None
    gen = run_eval(cfg)
    try:
        while True:
            try:
                ev = next(gen)
            except StopIteration as stop:
                report = stop.value
                break
            if ev.stage in ("reference", "baseline", "edit"):
                if bar is None or bar.desc != ev.stage:
                    if bar is not None:
                        bar.close()
                    bar = tqdm(total=ev.total, desc=ev.stage, unit="clip", file=sys.stderr, dynamic_ncols=True)
                bar.update(ev.done - bar.n)
                bar.set_postfix_str(ev.message[-40:])
            elif ev.stage == "row" and bar is not None:
                m = ev.row["metrics"]
                bar.write(f"[row] {ev.message}: gain {_short(m.get('gain'))}, CLAP {_short(m.get('clap'))}, "
                          f"FD {_short(m.get('fd'))}, time {_short(ev.row['time'].get('mean_s'))} s", file=sys.stderr)
            else:
                if bar is not None:
                    bar.close()
                    bar = None
                print(f"[{ev.stage}] {ev.message}", file=sys.stderr, flush=True)
    finally:
        if bar is not None:
            bar.close()
    from ..core.evaluation.report import markdown

    # the tables and the unavailable metrics, not the header, plots or definitions
    text = markdown(report)
    start = text.index("## Quality")
    end = min(i for i in (text.find("## Plots"), text.find("## Definitions"), len(text)) if i >= 0)
    print(text[start:end].strip())
    print(f"\nreport: {report['files']['markdown']}")
    return 0
