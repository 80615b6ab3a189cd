"""Training batches made by worker processes: a bank makes every triplet on the CPU (mixing,
augmentation), which on a GPU takes longer than the step itself. ``BatchStream`` runs
``data_workers`` processes, each with its own source and random stream, and hands their
batches to the loop in arrival order.

    stream = BatchStream("bank:data/bank", crop, workers=8, seed=0, batch_size=64, spans=True)
    inputs, targets, texts, spans = next(stream)
"""

from __future__ import annotations

import numpy as np
import torch


def _as_is(batch):  # a module-level function: worker batches pass through untouched (no tensor conversion)
    return batch


class _Batches(torch.utils.data.IterableDataset):
    def __init__(self, spec: str, crop: int, seed: int, start: int, batch_size: int, spans: bool, prompts: bool,
                 source_args: dict):
        super().__init__()
        self.spec, self.crop, self.seed, self.start = spec, crop, seed, start
        self.batch_size, self.spans, self.prompts, self.source_args = batch_size, spans, prompts, source_args

    def __iter__(self):
        from .sources import make_source

        info = torch.utils.data.get_worker_info()
        wid = info.id if info is not None else 0
        torch.set_num_threads(1)
        # each worker its own triplets: seeded by the run's seed, the worker and the step the stream began at
        src = make_source(self.spec, self.crop, split="train", seed=self.seed + 7919 * (wid + 1), **self.source_args)
        rng = np.random.default_rng([self.seed, wid + 1, self.start])
        while True:
            yield src.batch(self.batch_size, rng, augment=True, spans=self.spans, prompts=self.prompts)


class BatchStream:
    """An endless iterator of ``source.batch(...)`` results made by ``workers`` processes."""

    def __init__(self, spec: str, crop: int, workers: int, seed: int, batch_size: int, spans: bool = False,
                 prompts: bool = False, start: int = 0, **source_args):
        ds = _Batches(spec, crop, seed, start, batch_size, spans, prompts, source_args)
        self.loader = torch.utils.data.DataLoader(ds, batch_size=None, num_workers=workers, collate_fn=_as_is,
                                                  prefetch_factor=4, persistent_workers=True)
        self._it = iter(self.loader)

    def __iter__(self):
        return self

    def __next__(self):
        return next(self._it)

    def close(self):
        """Ends the worker processes."""
        self._it = None
        self.loader = None
