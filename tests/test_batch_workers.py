"""Bank batches made by worker processes (TrainConfig.data_workers)."""

import numpy as np
import pytest

from rfm_studio.core.errors import OptionError
from rfm_studio.core.training.batch_workers import BatchStream
from rfm_studio.core.training.loop import TrainConfig, train

from test_data_triplets import bank  # noqa: F401  (the synthetic bank fixture)


def test_workers_make_distinct_bank_batches_with_spans_and_prompts(bank):  # noqa: F811
    stream = BatchStream(f"bank:{bank}", 16000, workers=2, seed=3, batch_size=3, spans=True, prompts=True,
                         prompt_prob=1.0)
    got = [next(stream) for _ in range(4)]
    stream.close()
    for inp, tgt, texts, spans, prompts in got:
        assert inp.shape == tgt.shape == (3, 16000) and inp.dtype == np.float32  # numpy, not tensors
        assert len(texts) == len(spans) == len(prompts) == 3 and all(isinstance(t, str) for t in texts)
        assert all(p is None or (isinstance(p[0], np.ndarray) and isinstance(p[1], str)) for p in prompts)
    # two workers with their own random streams: no two batches are the same triplets
    firsts = [g[0][0].tobytes() for g in got]
    assert len(set(firsts)) == len(firsts)


def test_training_with_data_workers_runs_and_resumes(bank, tmp_path):  # noqa: F811
    cfg = TrainConfig(data=f"bank:{bank}", out=str(tmp_path / "run"), init="tiny", steps=3, batch_size=2,
                      crop_seconds=1.28, val_every=3, log_every=1, warmup=1, val_batches=1, lora_layers=[5],
                      checkpoint_seconds=1e9, region_prob=0.5, data_workers=2)
    events = list(train(cfg))
    assert events[-1].step == 3 and np.isfinite(events[-1].loss)
    assert list(train(TrainConfig(**{**cfg.to_dict(), "steps": 5})))[-1].step == 5


def test_data_workers_need_a_bank(tmp_path):
    with pytest.raises(OptionError, match="data_workers needs bank data"):
        TrainConfig(data=str(tmp_path / "m.jsonl"), out=str(tmp_path / "r"), data_workers=2).check()
    with pytest.raises(OptionError, match="data_workers must be a whole number"):
        TrainConfig(data="bank:x", out=str(tmp_path / "r"), data_workers=-1).check()
