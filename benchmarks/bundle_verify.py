"""How long the check before a bundle loads takes: the first time (every file hashed against
manifest.json) and cached (unchanged files: only the folder walk and each file's stat).

    python benchmarks/bundle_verify.py [MODEL]      # default: the shipped model
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    with tempfile.TemporaryDirectory(prefix="rfm-verify-cache-") as cache:
        os.environ["RFM_STUDIO_CACHE_DIR"] = cache
        from rfm_studio.core.model.integrity import CACHE_NAME, check_bundle_before_load
        from rfm_studio.core.paths import resolve_model

        folder = resolve_model(argv[0] if argv else None)
        size = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 1e6
        first, cached = [], []
        for _ in range(5):
            (Path(cache) / CACHE_NAME).unlink(missing_ok=True)
            t = time.perf_counter()
            assert check_bundle_before_load(folder) == "hashed"
            first.append(time.perf_counter() - t)
            for _ in range(20):
                t = time.perf_counter()
                assert check_bundle_before_load(folder) == "cached"
                cached.append(time.perf_counter() - t)
    print(f"bundle {folder} ({size:.1f} MB)")
    print(f"first load check (hash every file): median {statistics.median(first) * 1000:.1f} ms over {len(first)}")
    print(f"cached check (walk + stat):         median {statistics.median(cached) * 1000:.2f} ms over {len(cached)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
