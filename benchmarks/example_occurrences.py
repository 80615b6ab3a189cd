"""Where a span-prompt removal falls short on the README's example clips: what is left of each
removed recording (dB, as benchmarks/examples.py's "left dB"), the one holding the marked span
and the others, with the dictionary engine as it runs and with the removed sound's own spans
given as ``sound_spans`` (kept out of the background: what knowing every occurrence would give;
it helps where a second recording of the sound plays, and costs depth where one recording covers
most of the clip and little background is left).

    python benchmarks/example_occurrences.py [--bank data/bank]

Needs the event bank v1 (as examples.py). One occurrence marked per removal (examples.py's
``marked_span`` of all removed stems together).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT / "packaging"))


def spans_of(on: np.ndarray, hop_s: float) -> list[tuple[float, float]]:
    """[(start_s, end_s)] of the runs of True in ``on`` (frames of ``hop_s``)."""
    d = np.diff(np.concatenate([[0], on.astype(int), [0]]))
    return [(a * hop_s, b * hop_s) for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1))]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bank", default=str(ROOT / "data" / "bank"))
    args = ap.parse_args(argv)
    import soundfile as sf

    from examples import CASES, active_frames, left_db, level_db, marked_span, scenes_from_bank
    from rfm_studio.core.evaluation.spectral import event_frames, log_mel
    from rfm_studio.core.paths import examples_dir
    from rfm_studio.core.separation.dictionary import DictionaryConfig, apply_keep_mask, remove_with_dictionary

    scenes = scenes_from_bank(args.bank)
    cfg = DictionaryConfig()
    print(f"{'instruction':28s} {'recording':28s} {'marked':>6s} {'left dB':>8s} {'with its spans':>15s}"
          "   (all: others dB, plain / with its spans)")
    for scene, instruction, removed in CASES:
        if scene not in scenes:
            continue
        stems, gain = scenes[scene]
        x, sr = sf.read(str(examples_dir() / f"{scene}.wav"), dtype="float32")
        mix = np.sum([s for _, s in stems], axis=0) * gain
        if sr != 16000 or x.shape != mix.shape or float(np.abs(x - mix).max()) > 4.0 / 32768:
            print(f"skipped {scene} / {instruction}: the rebuilt mix differs from the shipped clip")
            continue
        target = np.sum([s for cid, s in stems if cid not in removed], axis=0) * gain
        event = np.sum([s for cid, s in stems if cid in removed], axis=0) * gain
        mi = log_mel(x)
        frames = active_frames(event, mi.shape[-1]) | event_frames(mi, log_mel(target))
        a, b = marked_span(event)
        ex = [x[int(a * 16000): int(b * 16000)]]
        own = spans_of(active_frames(event, len(event) // 160, floor_db=-40.0), 0.01)
        outs = {}
        for key, spans in (("plain", ()), ("spans", own)):
            keep = remove_with_dictionary(x, cfg, examples=ex, seed=0, sound_spans=spans)
            outs[key] = apply_keep_mask(x, 16000, keep, cfg)
        for cid, s in stems:
            if cid not in removed:
                continue
            stem = s * gain
            on = active_frames(stem, mi.shape[-1]) & frames
            rest = x - stem  # the exact target for this recording alone
            marked = bool(np.abs(stem[int(a * 16000): int(b * 16000)]).max() > 0.1 * np.abs(stem).max())
            print(f"{instruction:28s} {cid:28s} {'yes' if marked else 'no':>6s} "
                  f"{left_db(outs['plain'] - (event - stem), rest, stem, on):8.2f} "
                  f"{left_db(outs['spans'] - (event - stem), rest, stem, on):15.2f}")
        others = active_frames(target, mi.shape[-1]) & ~frames
        od = [level_db(mi, log_mel(outs[k]), others) if others.any() else float("nan") for k in ("plain", "spans")]
        print(f"{instruction:28s} {'(all)':28s} {'':6s} {left_db(outs['plain'], target, event, frames):8.2f} "
              f"{left_db(outs['spans'], target, event, frames):15.2f}   {od[0]:.2f} / {od[1]:.2f}")


if __name__ == "__main__":
    main()
