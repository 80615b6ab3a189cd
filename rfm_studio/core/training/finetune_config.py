"""The settings of a personal fine-tuning run, and its rules on the number of triplets.

Plain Python (no torch), so that the Fine-tuning tab builds the same ``FinetuneConfig``
the CLI does, on the UI thread, and hands it (frozen) to the worker."""

from __future__ import annotations

from dataclasses import asdict, dataclass

MIN_TRIPLETS = 3  # fewer triplets are refused
HOLD_OUT_MIN = 5  # from this many triplets on, the last one is held out for a validation loss


@dataclass(frozen=True)
class FinetuneConfig:
    triplets: str  # JSONL or CSV (input, target, instruction)
    name: str
    out_dir: str | None = None  # default: the user's adapters folder
    steps: int = 300
    batch_size: int = 4
    lr: float = 1e-3
    rank: int = 8
    alpha: float = 16.0
    parts: tuple = ("unet",)  # "unet", "text_encoder"
    crop_seconds: float = 2.56
    augment: bool = True
    seed: int = 0
    log_every: int = 10
    val_every: int = 50
    card_triplets: list | None = None  # what the card records (e.g. the user's own paths); default: the table
    replace: bool = False  # replace an adapter of this name (else it is refused before training)
    keep_replaced: bool = False  # keep the replaced adapter as a backup (adapters.restore_backup/drop_backup)
    checkpoint_seconds: float = 60.0  # resume checkpoints this often (a killed run continues from the latest)
    checkpoint_every: int = 0  # > 0: also every this many steps

    def to_dict(self):
        d = asdict(self)
        d["parts"] = list(self.parts)
        return d
