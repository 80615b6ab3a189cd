"""rfm-studio remover: training the sound remover (``--engine remover``), exporting a run, and
importing a bare state dict of its names."""

from __future__ import annotations

from pathlib import Path

from ..core.errors import OptionError


def register(subparsers) -> None:
    p = subparsers.add_parser("remover", help="the sound remover (--engine remover): training and exporting it")
    sub = p.add_subparsers(dest="remover_command", required=True)
    t = sub.add_parser("train", help="train (or resume) a sound remover on an event bank's 'Remove X' triplets")
    t.add_argument("--bank", required=True, help="event bank folder (rfm-studio data bank)")
    t.add_argument("--out", required=True, help="run folder (checkpoints); an existing run resumes")
    t.add_argument("--init", default=None, help="a sound-remover folder the run starts from, or a sound-finder folder for its trunk")
    t.add_argument("--steps", type=int, default=3000)
    t.add_argument("--batch-size", type=int, default=12)
    t.add_argument("--lr", type=float, default=5e-4)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--val-every", type=int, default=250)
    t.add_argument("--absent-prob", type=float, default=0.25,
                   help="share of rows asking for a sound the clip does not hold (target: the clip)")
    t.add_argument("--removed-prob", type=float, default=0.1,
                   help="share of rows: the clip with the sound already removed (target: the same)")
    t.add_argument("--two-prob", type=float, default=0.3,
                   help="share of rows where a second event joins the clip and one of the two is asked for")
    t.add_argument("--export", default=None, help="after training, write the best checkpoint here as a remover folder")
    t.set_defaults(func=cmd_train)
    e = sub.add_parser("export", help="write a run's best checkpoint (EMA weights) as a sound-remover folder")
    e.add_argument("run")
    e.add_argument("dest")
    e.set_defaults(func=cmd_export)
    i = sub.add_parser("import", help="write a safetensors state dict of the remover's own names (f.*, coarse.*, "
                                      "refine.*) as a sound-remover folder")
    i.add_argument("checkpoint")
    i.add_argument("dest")
    i.set_defaults(func=cmd_import)


def cmd_train(args) -> int:
    from ..core.detection.remover_train import RemoverTrainConfig, export, train_remover

    if args.steps < 1 or args.batch_size < 1 or args.val_every < 1 or not args.lr > 0:
        raise OptionError("--steps, --batch-size and --val-every must be at least 1 and --lr positive.")
    shares = (args.two_prob, args.absent_prob, args.removed_prob)
    if any(not 0.0 <= v <= 1.0 for v in shares) or sum(shares) > 1.0:
        raise OptionError("--two-prob, --absent-prob and --removed-prob must be between 0 and 1, together at most 1.")
    if args.init is not None and not (Path(args.init) / "model.safetensors").is_file():
        raise OptionError(f"No sound remover or finder in {args.init} (model.safetensors) to start from.")
    if not (Path(args.bank) / "bank.jsonl").is_file():
        raise OptionError(f"No event bank in {args.bank} (bank.jsonl); build one with rfm-studio data bank.")
    if args.export is not None and Path(args.export).exists() and not Path(args.export).is_dir():
        raise OptionError(f"--export {args.export} is a file; name a folder.")
    cfg = RemoverTrainConfig(bank=args.bank, out=args.out, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                             seed=args.seed, val_every=args.val_every, absent_prob=args.absent_prob,
                             removed_prob=args.removed_prob, two_prob=args.two_prob, init=args.init)
    for ev in train_remover(cfg):
        if ev.message or ev.step % 50 == 0:
            print(f"step {ev.step}/{ev.total}  loss {ev.loss:.4f}  {ev.message}", flush=True)
    if args.export:
        print(export(args.out, args.export))
    return 0


def cmd_export(args) -> int:
    from ..core.detection.remover_train import export

    if not (Path(args.run) / "config.json").is_file():
        raise OptionError(f"No sound-remover run in {args.run} (config.json).")
    if Path(args.dest).exists() and not Path(args.dest).is_dir():
        raise OptionError(f"{args.dest} is a file; name a folder.")
    print(export(args.run, args.dest))
    return 0


def cmd_import(args) -> int:
    from ..core.detection.remover_train import from_experiment

    if not Path(args.checkpoint).is_file():
        raise OptionError(f"No state dict file at {args.checkpoint}.")
    if Path(args.dest).exists() and not Path(args.dest).is_dir():
        raise OptionError(f"{args.dest} is a file; name a folder.")
    print(from_experiment(args.checkpoint, args.dest))
    return 0
