"""The one seed rule of an edit: a seed is a whole number from 0 to MAX_SEED (the largest a
32-bit signed integer holds, so the GUI's seed box holds every seed the CLI accepts and every
seed drawn at random); window or clip ``i`` of an edit draws its noise from ``nth_seed(seed, i)``
(``seed + i``, wrapping past MAX_SEED so a seed near the top still works on a long file).

    seed = check_seed(args.seed)                    # int, or OptionError: one sentence
    gen = make_generator(nth_seed(seed, window))    # torch.Generator for the sampler's noise
"""

from __future__ import annotations

from .errors import OptionError

MAX_SEED = 2**31 - 1


def check_seed(seed) -> int:
    """``seed`` as an int when it is a whole number in [0, MAX_SEED]; else OptionError."""
    try:
        ok = float(seed) == int(seed) and 0 <= int(seed) <= MAX_SEED
    except (TypeError, ValueError, OverflowError):
        ok = False
    if not ok:
        raise OptionError(f"Seed must be a whole number between 0 and {MAX_SEED}, got {seed}.")
    return int(seed)


def nth_seed(seed: int, i: int) -> int:
    """The seed of window, chunk or clip ``i`` of a job seeded ``seed``: ``seed + i`` within [0, MAX_SEED]."""
    return (int(seed) + int(i)) % (MAX_SEED + 1)


def random_seed() -> int:
    """A fresh seed in [0, MAX_SEED] from the operating system's entropy."""
    import numpy as np

    return int(np.random.SeedSequence().entropy % (MAX_SEED + 1))


def make_generator(seed: int):
    """A CPU torch.Generator seeded with ``seed`` (the sampler draws its noise there, so a seed
    gives the same noise on every device)."""
    import torch

    return torch.Generator().manual_seed(int(seed))
