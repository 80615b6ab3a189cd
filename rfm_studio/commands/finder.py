"""rfm-studio finder: where a named sound plays in a file (find), and training the sound finder."""

from __future__ import annotations

from pathlib import Path

from ..core.errors import OptionError
from .detector_training import add_train_arguments, run_training, train_config


def register(subparsers) -> None:
    p = subparsers.add_parser("finder", help="the sound finder: where a named sound plays; training it")
    sub = p.add_subparsers(dest="finder_command", required=True)
    f = sub.add_parser("find", help="print the spans where SOUND plays in FILE")
    f.add_argument("file")
    f.add_argument("sound", help='what to find, e.g. "a dog barking" (or a "Remove ..." instruction)')
    f.add_argument("--threshold", type=float, default=0.5, help="probability a frame must reach (default 0.5)")
    f.add_argument("--finder", default=None, help="a sound-finder folder (default: the shipped models/sound-finder)")
    f.set_defaults(func=cmd_find)
    t = sub.add_parser("train", help="train (or resume) a sound finder on an event bank's mixtures")
    from ..core.detection.train import DetectorTrainConfig

    add_train_arguments(t, DetectorTrainConfig(bank="", out=""), "finder", "a finder folder a new run starts from")
    t.set_defaults(func=cmd_train)


def cmd_find(args) -> int:
    from ..core.audio.io import load_audio
    from ..core.detection.find import APP_FIND, FindConfig, find_sound, load_finder, shipped_finder_dir, span_probs

    if not 0.0 < args.threshold < 1.0:
        raise OptionError("--threshold must be between 0 and 1.")
    if args.finder is not None and not Path(args.finder).is_dir():
        raise OptionError(f"Sound-finder folder not found: {args.finder}")
    if not args.sound.strip():
        raise OptionError("Name the sound to find, e.g. \"a dog barking\".")
    finder = load_finder(args.finder)
    if finder is None:
        raise OptionError(f"No sound finder in {args.finder or shipped_finder_dir()} (config.json and "
                          "model.safetensors).")
    x, sr = load_audio(args.file)
    found = find_sound(x, sr, args.sound, finder=finder,
                       cfg=FindConfig(threshold=args.threshold, low=min(APP_FIND.low, args.threshold)))
    if not found.spans:
        print(f"'{found.text}' not found in {Path(args.file).name} (highest probability {found.peak:.2f}).")
        return 0
    for a, b in found.spans:
        p = span_probs(found.probs, (a, b))
        print(f"{a:7.2f}-{b:7.2f} s  probability {p.mean():.2f} (peak {p.max():.2f})")
    return 0


def cmd_train(args) -> int:
    from ..core.detection.model import DetectorConfig
    from ..core.detection.train import DetectorTrainConfig, export, train_detector

    return run_training(train_detector(train_config(args, DetectorTrainConfig, "sound finder", DetectorConfig)),
                        export, args)
