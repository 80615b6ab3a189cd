"""rfm-studio finder: where a named sound plays in a file (find), and training the sound finder."""

from __future__ import annotations

from pathlib import Path

from ..core.errors import OptionError


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
    t.add_argument("--bank", required=True, help="event bank folder (rfm-studio data bank)")
    t.add_argument("--out", required=True, help="run folder (checkpoints); an existing run resumes")
    t.add_argument("--steps", type=int, default=3000)
    t.add_argument("--batch-size", type=int, default=16)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--val-every", type=int, default=250)
    t.add_argument("--warmup", type=int, default=100)
    t.add_argument("--two-prob", type=float, default=0.0,
                   help="share of rows where a second event joins the clip and one of the two is asked for")
    t.add_argument("--absent-prob", type=float, default=0.2, help="share of rows asking for a sound not in the clip")
    t.add_argument("--absent-any", type=float, default=0.0,
                   help="share of those asking for any train class of a family the clip lacks (else the triplet's other event)")
    t.add_argument("--removed-prob", type=float, default=0.15, help="share of rows: the clip with the sound removed")
    t.add_argument("--init", default=None, help="a finder folder a new run starts from")
    t.add_argument("--export", default=None, help="after training, write the best checkpoint here as a finder folder")
    t.set_defaults(func=cmd_train)


def cmd_find(args) -> int:
    from ..core.audio.io import load_audio
    from ..core.detection.find import APP_FIND, FindConfig, load_finder, query_text, shipped_finder_dir, sound_probs, sound_spans

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
    x, sr = load_audio(args.file, mono=True, target_sr=16000)
    text = query_text(args.sound)
    probs = sound_probs(finder, x, text)
    spans = sound_spans(probs, FindConfig(threshold=args.threshold, low=min(APP_FIND.low, args.threshold)))
    if not spans:
        print(f"'{text}' not found in {Path(args.file).name} (highest probability {probs.max():.2f}).")
        return 0
    for a, b in spans:
        p = probs[int(round(a * 100)): int(round(b * 100))]
        print(f"{a:7.2f}-{b:7.2f} s  probability {p.mean():.2f} (peak {p.max():.2f})")
    return 0


def cmd_train(args) -> int:
    from ..core.detection.train import DetectorTrainConfig, export, train_detector

    if args.steps < 1 or args.batch_size < 1 or args.val_every < 1 or args.warmup < 0 or not args.lr > 0:
        raise OptionError("--steps, --batch-size and --val-every must be at least 1, --warmup at least 0 and "
                          "--lr positive.")
    shares = (args.two_prob, args.absent_prob, args.removed_prob)
    if any(not 0.0 <= v <= 1.0 for v in shares) or sum(shares) > 1.0:
        raise OptionError("--two-prob, --absent-prob and --removed-prob must be between 0 and 1, together at most 1.")
    if not 0.0 <= args.absent_any <= 1.0:
        raise OptionError("--absent-any must be between 0 and 1.")
    if args.init is not None and not (Path(args.init) / "model.safetensors").is_file():
        raise OptionError(f"No sound finder in {args.init} (model.safetensors) to start from.")
    if not (Path(args.bank) / "bank.jsonl").is_file():
        raise OptionError(f"No event bank in {args.bank} (bank.jsonl); build one with rfm-studio data bank.")
    cfg = DetectorTrainConfig(bank=args.bank, out=args.out, steps=args.steps, batch_size=args.batch_size,
                              lr=args.lr, seed=args.seed, val_every=args.val_every, warmup=args.warmup,
                              two_prob=args.two_prob, absent_prob=args.absent_prob, removed_prob=args.removed_prob,
                              absent_any=args.absent_any, init=args.init)
    for ev in train_detector(cfg):
        if ev.message or ev.step % 50 == 0:
            print(f"step {ev.step}/{ev.total}  loss {ev.loss:.4f}  {ev.message}", flush=True)
    if args.export:
        print(export(args.out, args.export))
    return 0
