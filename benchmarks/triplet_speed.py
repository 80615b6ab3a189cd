"""Time to generate one on-the-fly training triplet from the event bank (per length).

    python benchmarks/triplet_speed.py [--bank data/bank]
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--bank", default=str(Path(__file__).resolve().parent.parent / "data" / "bank"))
    ap.add_argument("--n", type=int, default=200)
    args = ap.parse_args(argv)
    from rfm_studio.core.data.triplets import TripletGenerator

    for seconds in (5.12, 10.24):
        t0 = time.perf_counter()
        gen = TripletGenerator(args.bank, seconds=seconds)
        load = time.perf_counter() - t0
        rng = np.random.default_rng(0)
        gen.sample(rng)
        t0 = time.perf_counter()
        for _ in range(args.n):
            gen.sample(rng)
        per = (time.perf_counter() - t0) / args.n
        print(f"{seconds:5.2f} s triplets: {per * 1000:.1f} ms each ({args.n} samples), bank load {load:.2f} s")


if __name__ == "__main__":
    main()
