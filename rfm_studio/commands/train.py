"""``rfm-studio train``: train or continue training a model (resumes from DIR's checkpoints)."""

from __future__ import annotations

import argparse
import contextlib
import json
import signal
import sys

from ..core.errors import OptionError


def register(sub):
    p = sub.add_parser("train", help="train a model on triplets (resumable)")
    p.add_argument("--data", required=True, help="JSONL manifest (input, target, instruction) or bank:DIR")
    p.add_argument("--val-data", default=None)
    p.add_argument("--out", required=True, help="run folder (checkpoints, logs); resumes if it has checkpoints")
    p.add_argument("--init", default=None, help="small | tiny | a bundle folder to start from (default small)")
    p.add_argument("--preset", default=None, choices=["paper"],
                   help="paper: lr 5e-5, 10.24 s (1024-frame) clips, 100 epochs, best checkpoint by CLAP on 1,000 "
                        "validation clips (with --clap-ckpt), bf16 autocast on CUDA; other options override it")
    p.add_argument("--steps", type=int, default=None, help="default 100,000")
    p.add_argument("--epochs", type=int, default=None, help="with a manifest: train this many passes over it")
    p.add_argument("--batch-size", type=int, default=None, help="default 16")
    p.add_argument("--crop-seconds", type=float, default=None, help="clip length (default 5.12; paper: 10.24)")
    p.add_argument("--lr", type=float, default=None, help="U-Net learning rate (paper: 5e-5)")
    p.add_argument("--data-workers", type=int, default=None,
                   help="bank data: make triplets in this many worker processes (default 0: in the training "
                        "process; on a GPU use about as many as CPU cores)")
    p.add_argument("--checkpoint-seconds", type=float, default=None, help="default 300")
    p.add_argument("--val-every", type=int, default=None, help="default 500")
    p.add_argument("--decay-steps", type=int, default=None,
                   help="let the lr fall linearly to 0 over the last N steps (anneal a run: resume it with a "
                        "larger --steps and this)")
    from ..core.devices import add_device_arguments

    add_device_arguments(p, dtype_help="mixed precision of the forward passes (autocast); trainable weights stay "
                                       "float32 (default float32; --preset paper: bfloat16 on CUDA)")
    p.set_defaults(dtype=None, device=None)  # None: not given here (the --config file's value, else auto)
    p.add_argument("--grad-checkpointing", action="store_true",
                   help="recompute U-Net activations (less GPU memory); --no-grad-checkpointing turns off a "
                        "--config file's true")
    p.add_argument("--no-grad-checkpointing", dest="grad_checkpointing", action="store_false", help=argparse.SUPPRESS)
    p.add_argument("--cache-latents", action="store_true",
                   help="manifest data: encode each clip with the VAE once, not at every step; --no-cache-latents "
                        "turns off a --config file's true")
    p.add_argument("--no-cache-latents", dest="cache_latents", action="store_false", help=argparse.SUPPRESS)
    p.add_argument("--clap-ckpt", default=None, help="CLAP checkpoint: keep the checkpoint with the best CLAP score")
    p.add_argument("--clap-kind", default=None, choices=("laion", "ms"), help="default laion")
    p.add_argument("--val-clips", type=int, default=None, help="clips edited for the CLAP validation (paper: 1000)")
    p.add_argument("--val-steps", type=int, default=None, help="Euler steps of the validation edits")
    p.add_argument("--no-text-lora", dest="text_lora", action="store_false",
                   help="train the U-Net only, no LoRA on the text encoder (--text-lora: with it, also over a "
                        "--config file's false)")
    p.add_argument("--text-lora", dest="text_lora", action="store_true", help=argparse.SUPPRESS)
    p.set_defaults(grad_checkpointing=None, cache_latents=None, text_lora=None)  # None: not given here
    p.add_argument("--lora-layers", default=None, help="comma-separated encoder layers to adapt")
    p.add_argument("--config", default=None, help="JSON with extra TrainConfig fields (unet, flow, ...); options given on "
                                                 "the command line override its values")
    p.add_argument("--export", default=None, help="after training, write the best checkpoint as a bundle here")
    p.set_defaults(func=run)


def config_from_args(args):
    """The run's TrainConfig: its defaults, then --preset, then --config, then the options given on
    the command line (so `--steps` extends a run whose config file names fewer steps)."""
    from ..core.training.loop import TrainConfig

    extra = {}
    if args.config:
        try:
            extra = json.loads(open(args.config, encoding="utf-8").read()) if not args.config.strip().startswith("{") else json.loads(args.config)
        except (OSError, ValueError) as exc:
            raise OptionError(f"Cannot read the training config {args.config} ({exc}).") from None
    from ..core.devices import resolve_device
    from ..core.training.loop import preset_settings

    where = "the --config JSON" if args.config and args.config.strip().startswith("{") else args.config
    if not isinstance(extra, dict):
        raise OptionError(f"The training config {where} must be a JSON object of TrainConfig fields.")
    file_device = extra.get("device") if isinstance(extra.get("device"), str) else None
    # a device asked for and not usable: one sentence, exit 2
    try:
        device = resolve_device(args.device if args.device is not None else file_device)
    except OptionError as exc:
        raise OptionError(f"In {where}: {exc}" if args.device is None else str(exc)) from None
    # precedence: TrainConfig defaults < --preset < --config < options given on the command line
    kw = dict(data=args.data, out=args.out, device="auto")
    if args.preset:
        kw.update(preset_settings(args.preset, device))
    kw.update(extra)
    try:  # the file's own values are checked even where an option overrides them
        TrainConfig(**kw).check()
    except TypeError as exc:
        raise OptionError(f"In {where}: unknown training setting ({exc}).") from None
    except OptionError as exc:
        raise OptionError(f"In {where}: {exc}") from None
    given = dict(data=args.data, out=args.out, device=args.device,
                 init=args.init, val_data=args.val_data, steps=args.steps, batch_size=args.batch_size,
                 checkpoint_seconds=args.checkpoint_seconds, val_every=args.val_every, crop_seconds=args.crop_seconds,
                 epochs=args.epochs, val_clips=args.val_clips, dtype=args.dtype, lr=args.lr,
                 decay_steps=args.decay_steps, clap_ckpt=args.clap_ckpt, val_steps=args.val_steps,
                 lora_layers=parse_layers(args.lora_layers) if args.lora_layers else None,
                 grad_checkpointing=args.grad_checkpointing, cache_latents=args.cache_latents,
                 clap_kind=args.clap_kind, text_lora=args.text_lora, data_workers=args.data_workers)
    kw.update({k: v for k, v in given.items() if v is not None})
    try:
        return TrainConfig(**kw)
    except TypeError as exc:
        raise OptionError(f"Unknown training setting ({exc}).") from None


def run(args) -> int:
    from ..core.training.loop import export_bundle, train

    cfg = config_from_args(args)
    if args.export:  # refused before training, not after it
        from ..core.atomic import check_export
        from ..core.model.bundle import BUNDLE_EXPORT

        check_export(args.export, *BUNDLE_EXPORT)
    with stop_on_signals() as cancel:
        for ev in train(cfg, cancel):
            if ev.message == "cancelled":  # no step ran: say where the run stopped, not a loss of nan
                print(f"stopped at step {ev.step}/{ev.total}" + (f"; checkpoint {ev.checkpoint}" if ev.checkpoint else ""),
                      flush=True)
                continue
            val = f" val {ev.val_loss:.4f}" if ev.val_loss is not None else ""
            ck = f" -> {ev.checkpoint}" if ev.checkpoint else ""
            msg = f" {ev.message}" if ev.message else ""
            print(f"step {ev.step}/{ev.total} loss {ev.loss:.4f} lr {ev.lr:.2e}{val} {ev.seconds:.0f}s{ck}{msg}",
                  flush=True)
        if cancel.cancelled:
            print(f"stopped; resume with the same command (the run folder {cfg.out} has the checkpoint)", flush=True)
            return 0
    if args.export:
        out, state = export_bundle(cfg.out, args.export)
        print(f"exported step {state['step']} to {out}")
    return 0


def parse_layers(text: str) -> list[int]:
    """``--lora-layers 3,4,5``: whole numbers of at least 0, separated by commas."""
    parts = [x.strip() for x in str(text).split(",")]
    if not parts or not all(x.isdigit() for x in parts):
        raise OptionError(f"--lora-layers must be whole numbers separated by commas (e.g. 3,4,5), got '{text}'.")
    return [int(x) for x in parts]


@contextlib.contextmanager
def stop_on_signals():
    """Ctrl-C or SIGTERM (``kill``) ends training after the current step with a checkpoint,
    so no step is lost; a second Ctrl-C quits at once."""
    from ..core.events import CancelToken

    cancel = CancelToken()

    def handler(signum, frame):
        if cancel.cancelled and signum == signal.SIGINT:
            raise KeyboardInterrupt
        cancel.cancel()
        sys.stderr.write("rfm-studio: stopping after this step and saving a checkpoint "
                         "(Ctrl-C again quits without it).\n")

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield cancel
    finally:
        for s, h in old.items():
            signal.signal(s, h)
