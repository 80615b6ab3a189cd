"""``rfm-studio finetune``: train a personal LoRA adapter from your own triplets."""

from __future__ import annotations

from pathlib import Path

from ..core.errors import OptionError


def register(sub):
    p = sub.add_parser("finetune", help="train a personal LoRA adapter from your triplets")
    p.add_argument("--triplets", required=True, help="JSONL or CSV with input, target, instruction")
    p.add_argument("--name", required=True,
                   help="the adapter's name (1-64 letters, digits, spaces, '.', '_' or '-'); an existing "
                        "adapter of this name is refused unless --replace is given")
    p.add_argument("--model", default=None)
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--rank", type=int, default=8)
    p.add_argument("--alpha", type=float, default=16.0, help="LoRA alpha, a positive number (scale alpha/rank)")
    p.add_argument("--parts", default="unet", help="comma list of unet,text_encoder")
    p.add_argument("--no-augment", action="store_true")
    p.add_argument("--out-dir", default=None, help="adapters folder (default: your user data folder)")
    p.add_argument("--replace", action="store_true",
                   help="replace an existing adapter of the same name; the old one is kept until the new "
                        "one is completely saved")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=run)


def run(args) -> int:
    from tqdm import tqdm

    from ..core.model.loaders import load_editor
    from ..core.training.finetune import adapter_exists, check_settings, finetune
    from ..core.training.finetune_config import FinetuneConfig
    from ..core.training.triplet_files import load_triplet_table, validate_triplets
    from ..core.paths import resolve_model

    parts = tuple(x.strip() for x in args.parts.split(",") if x.strip())
    if not parts or set(parts) - {"unet", "text_encoder"}:
        raise OptionError("--parts must list unet and/or text_encoder.")
    cfg = FinetuneConfig(triplets=args.triplets, name=args.name, out_dir=args.out_dir, steps=args.steps,
                         batch_size=args.batch_size, lr=args.lr, rank=args.rank, alpha=args.alpha, parts=parts,
                         augment=not args.no_augment, replace=args.replace)
    check_settings(cfg)  # before the model loads
    if not args.replace and adapter_exists(args.out_dir, args.name):
        raise OptionError(f"An adapter named '{args.name}' already exists; choose another --name or add "
                          "--replace to replace it.")
    table = load_triplet_table(args.triplets)
    problems = validate_triplets(table.rows, table.base)
    if problems:
        raise OptionError(problems[0] + (f" ({len(problems) - 1} more problems.)" if len(problems) > 1 else ""))
    folder = resolve_model(args.model)
    model = load_editor(folder, device=args.device)
    bar = tqdm(total=args.steps, unit="step", desc=f"fine-tuning {args.name}")
    last = 0
    for ev in finetune(model, cfg, base_name=str(folder)):
        bar.update(ev.step - last)
        last = ev.step
        bar.set_postfix(loss=f"{ev.loss:.4f}", val="-" if ev.val_loss is None else f"{ev.val_loss:.4f}")
        if ev.message.startswith("resumed"):
            bar.write(f"fine-tuning '{args.name}' {ev.message} (a run cut short earlier)")
        if ev.checkpoint:
            bar.close()
            print(f"adapter '{args.name}' saved to {ev.checkpoint}; {_how_to_use(args)}")
    return 0


def _how_to_use(args) -> str:
    """--adapter takes a name from the user adapters folder only: say so when it was saved elsewhere."""
    from ..core.paths import user_adapters_dir

    if args.out_dir is None or Path(args.out_dir).resolve() == user_adapters_dir().resolve():
        return f"use it with --adapter {args.name!r}"
    return (f"--adapter loads adapters by name from {user_adapters_dir()}: copy the folder there "
            f"to use it with --adapter {args.name!r}")
