"""Peak memory of editing a long file chunk by chunk (issue 8): writes a long test file,
edits a region near its end and (optionally) the whole file, prints max RSS against the
file's size. The tiny random model is the default so the figure is the pipeline's.

    python benchmarks/long_file_memory.py [--minutes 60] [--full-minutes 5] [--model DIR]
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--full-minutes", type=float, default=5)
    ap.add_argument("--sr", type=int, default=48000)
    ap.add_argument("--channels", type=int, default=2)
    ap.add_argument("--model", default=None)
    args = ap.parse_args(argv)
    import soundfile as sf

    from rfm_studio.core.editing import drive
    from rfm_studio.core.streaming import edit_file

    if args.model:
        from rfm_studio.core.model.loaders import load_editor

        model = load_editor(args.model, device="cpu")
    else:
        from rfm_studio.core.model.factory import build_tiny

        model = build_tiny()
    base = rss_mb()
    with tempfile.TemporaryDirectory() as d:
        for minutes, region in ((args.minutes, True), (args.full_minutes, False)):
            if minutes <= 0:
                continue
            src = Path(d) / f"long_{minutes:g}.flac"
            rng = np.random.default_rng(0)
            with sf.SoundFile(src, "w", args.sr, args.channels, format="FLAC", subtype="PCM_16") as f:
                for _ in range(int(minutes * 60 / 10)):
                    f.write((0.1 * rng.standard_normal((10 * args.sr, args.channels))).astype(np.float32))
            raw_mb = minutes * 60 * args.sr * args.channels * 4 / 1e6
            t0 = time.time()
            reg = (minutes * 60 - 30, minutes * 60 - 20) if region else None
            drive(edit_file(model, src, Path(d) / "out.flac", "Remove the noise", region=reg, steps=1))
            what = "10 s region near the end" if region else "whole file"
            print(f"{minutes:g} min, {args.sr} Hz x {args.channels} ch ({raw_mb:.0f} MB as float32), {what}: "
                  f"{time.time() - t0:.1f} s, peak RSS {rss_mb():.0f} MB (model loaded: {base:.0f} MB)")


if __name__ == "__main__":
    main()
