"""A tiny synthetic event bank (tones and noise, 8 classes, 3 clips each, the third in val)
for tests that build triplets from a bank."""

import json

import numpy as np
import soundfile as sf

SR = 16000
CLASSES = {"dog_bark": 600, "cat_meow": 900, "bell_gong": 1500, "cow_moo": 200, "siren_firetruck": 1200,
           "piano": 440, "rain": None, "wind": None}


def _clip(cls, i):
    rng = np.random.default_rng(i)
    if CLASSES[cls] is None:  # ambience: noise
        x = 0.1 * rng.standard_normal(int(3 * SR))
    else:
        n = int((0.5 + 0.4 * i) * SR)
        t = np.arange(n) / SR
        x = 0.3 * np.sin(2 * np.pi * CLASSES[cls] * (1 + 0.05 * i) * t) * np.hanning(n)
    return x.astype(np.float32)


def make_tiny_bank(root):
    """Write the bank into ``root`` (bank.jsonl and clips/); returns ``root``."""
    lines = []
    for cls in CLASSES:
        for i in range(3):
            rel = f"clips/{cls}/{cls}_{i}.wav"
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            x = _clip(cls, i)
            sf.write(str(root / rel), x, SR, subtype="FLOAT")
            lines.append({"id": f"{cls}_{i}", "class": cls, "path": rel, "duration_s": len(x) / SR,
                          "package": "synthetic", "source_path": rel,
                          "licence": {"name": "CC0-1.0", "file": ""}, "split": "val" if i == 2 else "train"})
    (root / "bank.jsonl").write_text("".join(json.dumps(l) + "\n" for l in lines))
    return root


def interrupted_run(train, cfg, stop_after: int = 3):
    """Run ``train(cfg, token)`` (a finder's or a remover's training generator), cancel it after
    step ``stop_after``, then resume it to the end: (events before, events after)."""
    from rfm_studio.core.events import CancelToken

    token = CancelToken()
    first = []
    for ev in train(cfg, token):
        first.append(ev)
        if ev.step == stop_after:
            token.cancel()
    return first, list(train(cfg))


def tiny_run(train, config_cls, bank, run, model: dict, stop_after: int = 3):
    """A 6-step training run of ``config_cls`` (a finder's or a remover's train config) on the tiny
    ``bank`` into ``run`` with the network ``model``, cancelled after ``stop_after`` steps and
    resumed: (run, config, events before, events after)."""
    cfg = config_cls(bank=str(bank), out=str(run), steps=6, batch_size=4, seconds=2.0, val_rows=8,
                     val_every=2, warmup=1, model=dict(model))
    return (run, cfg) + interrupted_run(train, cfg, stop_after)
