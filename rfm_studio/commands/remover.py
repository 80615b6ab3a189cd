"""rfm-studio remover: training the sound remover (``--engine remover``), exporting a run, and
importing a bare state dict of its names."""

from __future__ import annotations

from pathlib import Path

from ..core.errors import OptionError
from .detector_training import add_train_arguments, run_training, train_config


def register(subparsers) -> None:
    p = subparsers.add_parser("remover", help="the sound remover (--engine remover): training and exporting it")
    sub = p.add_subparsers(dest="remover_command", required=True)
    t = sub.add_parser("train", help="train (or resume) a sound remover on an event bank's 'Remove X' triplets")
    from ..core.detection.remover_train import RemoverTrainConfig

    add_train_arguments(t, RemoverTrainConfig(bank="", out=""), "remover",
                        "a sound-remover folder the run starts from, or a sound-finder folder for its trunk")
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
    from ..core.detection.remover import RemoverConfig
    from ..core.detection.remover_train import RemoverTrainConfig, export, train_remover

    return run_training(train_remover(train_config(args, RemoverTrainConfig, "sound remover or finder", RemoverConfig)),
                        export, args)


def cmd_export(args) -> int:
    from ..core.detection.remover_train import export

    if not (Path(args.run) / "config.json").is_file():
        raise OptionError(f"No sound-remover run in {args.run} (config.json).")
    _check_dest(args.dest)
    print(export(args.run, args.dest))
    return 0


def cmd_import(args) -> int:
    from ..core.detection.remover_train import from_experiment

    if not Path(args.checkpoint).is_file():
        raise OptionError(f"No state dict file at {args.checkpoint}.")
    _check_dest(args.dest)
    print(from_experiment(args.checkpoint, args.dest))
    return 0


def _check_dest(dest) -> None:
    """A destination that is a file, or a folder that is no sound remover's export, refused before
    anything is read."""
    from ..core.atomic import check_export
    from ..core.detection.model import export_target
    from ..core.detection.remover import RemoverConfig

    check_export(dest, *export_target(RemoverConfig))
