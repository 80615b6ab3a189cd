"""The training options and run the sound finder's and the sound remover's ``train`` commands
share (rfm-studio finder train, rfm-studio remover train): their settings are the fields of
core.detection.train.DetectorTrainConfig, with each network's own defaults."""

from __future__ import annotations

from pathlib import Path

from ..core.errors import OptionError


def add_train_arguments(t, defaults, what: str, init_help: str) -> None:
    """The options of a ``train`` subcommand; ``defaults``: a DetectorTrainConfig (or subclass)
    whose values are the defaults; ``what``: "finder" or "remover"."""
    t.add_argument("--bank", required=True, help="event bank folder (rfm-studio data bank)")
    t.add_argument("--out", required=True, help="run folder (checkpoints); an existing run resumes")
    t.add_argument("--init", default=None, help=init_help)
    t.add_argument("--steps", type=int, default=defaults.steps)
    t.add_argument("--batch-size", type=int, default=defaults.batch_size)
    t.add_argument("--lr", type=float, default=defaults.lr)
    t.add_argument("--seed", type=int, default=defaults.seed)
    t.add_argument("--val-every", type=int, default=defaults.val_every)
    t.add_argument("--warmup", type=int, default=defaults.warmup)
    t.add_argument("--two-prob", type=float, default=defaults.two_prob,
                   help="share of rows where a second event joins the clip and one of the two is asked for")
    t.add_argument("--similar-prob", type=float, default=defaults.similar_prob,
                   help="share of rows with a look-alike of the named sound (the classes whose captions lie "
                        "nearest): asked for where it does not play, or joining the clip with one of the two asked for")
    t.add_argument("--absent-prob", type=float, default=defaults.absent_prob,
                   help="share of rows asking for a sound the clip does not hold")
    t.add_argument("--absent-any", type=float, default=defaults.absent_any,
                   help="share of those asking for any train class of a family the clip lacks (else the "
                        "triplet's other event)")
    t.add_argument("--removed-prob", type=float, default=defaults.removed_prob,
                   help="share of rows: the clip with the sound already removed")
    t.add_argument("--export", default=None, help=f"after training, write the best checkpoint here as a {what} folder")


def train_config(args, cls, init_what: str, network):
    """``cls`` (DetectorTrainConfig or a subclass) from the parsed options, checked first: bad
    values are refused in one sentence before anything is written. ``network``: the config class
    of the network trained (DetectorConfig or RemoverConfig), whose export ``--export`` is."""
    if args.steps < 1 or args.batch_size < 1 or args.val_every < 1 or args.warmup < 0 or not args.lr > 0:
        raise OptionError("--steps, --batch-size and --val-every must be at least 1, --warmup at least 0 and "
                          "--lr positive.")
    shares = (args.two_prob, args.absent_prob, args.removed_prob, args.similar_prob)
    if any(not 0.0 <= v <= 1.0 for v in shares) or sum(shares) > 1.0:
        raise OptionError("--two-prob, --absent-prob, --removed-prob and --similar-prob must be between 0 and 1, "
                          "together at most 1.")
    if not 0.0 <= args.absent_any <= 1.0:
        raise OptionError("--absent-any must be between 0 and 1.")
    if args.init is not None and not (Path(args.init) / "model.safetensors").is_file():
        raise OptionError(f"No {init_what} in {args.init} (model.safetensors) to start from.")
    if not (Path(args.bank) / "bank.jsonl").is_file():
        raise OptionError(f"No event bank in {args.bank} (bank.jsonl); build one with rfm-studio data bank.")
    if args.export is not None:  # a folder that is no export of the network: refused now, not after training
        from ..core.atomic import check_export
        from ..core.detection.model import export_target

        check_export(args.export, *export_target(network))
    return cls(bank=args.bank, out=args.out, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
               seed=args.seed, val_every=args.val_every, warmup=args.warmup, two_prob=args.two_prob,
               absent_prob=args.absent_prob, removed_prob=args.removed_prob, absent_any=args.absent_any,
               similar_prob=args.similar_prob,
               init=args.init)


def run_training(events, export, args) -> int:
    """Print the run's progress (every 50 steps and each validation), then export its best
    checkpoint to ``--export`` when given."""
    for ev in events:
        if ev.message or ev.step % 50 == 0:
            print(f"step {ev.step}/{ev.total}  loss {ev.loss:.4f}  {ev.message}", flush=True)
    if args.export:
        print(export(args.out, args.export))
    return 0
